/* vaultctl key destroy NAME --version N --yes */
#include "config.h"

#include "keyargs.h"
#include "subcommands.h"

int
key_destroy_main(struct vctl *c, int argc, char *argv[])
{
	return keyargs_version_command(c, argc, argv, "key destroy NAME --version N --yes", KEYARGS_YES,
				       pv_keys_destroy, "destroyed");
}
