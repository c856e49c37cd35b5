/* vaultctl key: the key lifecycle commands. */
#include "config.h"

#include "subcommands.h"

static const struct subcommand key_commands[] = {
    {"create", key_create_main, "generate version 1 of a new key on the token, for one purpose"},
    {"list", key_list_main, "keys, versions and states"},
    {"show", key_show_main, "public key (pem, der, jwk), URI or summary"},
    {"rotate", key_rotate_main, "new version: active (default) or --next"},
    {"activate", key_activate_main, "make a version the active one"},
    {"retire", key_retire_main, "stop a version from verifying"},
    {"destroy", key_destroy_main, "destroy a retired version's token objects"},
    {"adopt", key_adopt_main, "take over an existing token key by URI, with its purpose"},
    {"set-purpose", key_set_purpose_main, "give a key made before purposes its purpose (once)"},
    {"disable", key_disable_main, "take a key out of service: no version signs, decrypts or unwraps"},
    {"enable", key_enable_main, "put a disabled key back in service"},
    {"delete", key_delete_main, "disable a key and destroy every version after a wait (--after, --now)"},
    {"cancel-delete", key_cancel_delete_main, "cancel a scheduled deletion (the key stays disabled)"},
    {"purge", key_purge_main, "destroy the keys whose scheduled deletion is due"},
    {"schedule", key_schedule_main, "rotate a key on a schedule vaultd follows (--every, --off)"},
    {"repair", key_repair_main,
     "find (and with --yes fix) ties, orphaned key objects, stale copies and locks"},
};

int
key_main(struct vctl *c, int argc, char *argv[])
{
	return subcommand_dispatch(c, key_commands, PV_NELEM(key_commands), "key", argc - 1, argv + 1);
}
