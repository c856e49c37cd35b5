/* vaultctl bundle: envelope-encrypted secrets bundles (docs/bundle-format.md). */
#include "config.h"

#include "subcommands.h"

static const struct subcommand bundle_commands[] = {
    {"seal", bundle_seal_main, "a new bundle from a dotenv file, JSON object or directory"},
    {"set", bundle_set_main, "add or replace one value (from stdin or a file)"},
    {"rm", bundle_rm_main, "remove entries"},
    {"import-key", bundle_import_key_main,
     "add an existing private key as a private-key entry, with its purpose"},
    {"install-key", bundle_install_key_main, "unwrap a private-key entry into the token as a p11vault key"},
    {"set-purpose", bundle_set_purpose_main, "give a private-key entry sealed before purposes its purpose"},
    {"list", bundle_list_main, "header, recipients, names, kinds and sizes (never values)"},
    {"verify", bundle_verify_main, "full integrity check on the token; releases nothing"},
    {"rewrap", bundle_rewrap_main, "add/remove recipients or move to a new KEK (same data key)"},
    {"rotate", bundle_rotate_main, "new data key, every entry re-encrypted"},
};

int
bundle_main(struct vctl *c, int argc, char *argv[])
{
	return subcommand_dispatch(c, bundle_commands, PV_NELEM(bundle_commands), "bundle", argc - 1,
				   argv + 1);
}
