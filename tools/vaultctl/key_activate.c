/* vaultctl key activate NAME --version N */
#include "config.h"

#include "keyargs.h"
#include "subcommands.h"

int
key_activate_main(struct vctl *c, int argc, char *argv[])
{
	return keyargs_version_command(c, argc, argv, "key activate NAME --version N", 0, pv_keys_activate,
				       "active");
}
