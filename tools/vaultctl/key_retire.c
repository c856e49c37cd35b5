/* vaultctl key retire NAME --version N */
#include "config.h"

#include "keyargs.h"
#include "subcommands.h"

int
key_retire_main(struct vctl *c, int argc, char *argv[])
{
	return keyargs_version_command(c, argc, argv, "key retire NAME --version N", 0, pv_keys_retire,
				       "retired");
}
