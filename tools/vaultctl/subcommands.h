/* The vaultctl subcommand table: one file and one <name>_main per command. */
#ifndef VAULTCTL_SUBCOMMANDS_H
#define VAULTCTL_SUBCOMMANDS_H

#include "vaultctl.h"

struct subcommand {
	const char *name;
	int (*main)(struct vctl *c, int argc, char *argv[]);
	const char *summary;
};

int token_main(struct vctl *c, int argc, char *argv[]);
int doctor_main(struct vctl *c, int argc, char *argv[]);
int key_main(struct vctl *c, int argc, char *argv[]);
int sign_main(struct vctl *c, int argc, char *argv[]);
int verify_main(struct vctl *c, int argc, char *argv[]);
int client_main(struct vctl *c, int argc, char *argv[]);
int bundle_main(struct vctl *c, int argc, char *argv[]);
int unwrap_main(struct vctl *c, int argc, char *argv[]);
int exec_main(struct vctl *c, int argc, char *argv[]);
int jwt_main(struct vctl *c, int argc, char *argv[]);
int jwks_main(struct vctl *c, int argc, char *argv[]);
int audit_main(struct vctl *c, int argc, char *argv[]);
int audit_verify_main(struct vctl *c, int argc, char *argv[]);
int wallet_main(struct vctl *c, int argc, char *argv[]);

/* bundle subcommands (tools/vaultctl/bundle_*.c) */
int bundle_seal_main(struct vctl *c, int argc, char *argv[]);
int bundle_set_main(struct vctl *c, int argc, char *argv[]);
int bundle_rm_main(struct vctl *c, int argc, char *argv[]);
int bundle_import_key_main(struct vctl *c, int argc, char *argv[]);
int bundle_install_key_main(struct vctl *c, int argc, char *argv[]);
int bundle_set_purpose_main(struct vctl *c, int argc, char *argv[]);
int bundle_list_main(struct vctl *c, int argc, char *argv[]);
int bundle_verify_main(struct vctl *c, int argc, char *argv[]);
int bundle_rewrap_main(struct vctl *c, int argc, char *argv[]);
int bundle_rotate_main(struct vctl *c, int argc, char *argv[]);

/* key subcommands (tools/vaultctl/key_*.c) */
int key_create_main(struct vctl *c, int argc, char *argv[]);
int key_list_main(struct vctl *c, int argc, char *argv[]);
int key_show_main(struct vctl *c, int argc, char *argv[]);
int key_rotate_main(struct vctl *c, int argc, char *argv[]);
int key_activate_main(struct vctl *c, int argc, char *argv[]);
int key_retire_main(struct vctl *c, int argc, char *argv[]);
int key_destroy_main(struct vctl *c, int argc, char *argv[]);
int key_repair_main(struct vctl *c, int argc, char *argv[]);
int key_adopt_main(struct vctl *c, int argc, char *argv[]);
int key_set_purpose_main(struct vctl *c, int argc, char *argv[]);
int key_disable_main(struct vctl *c, int argc, char *argv[]);
int key_enable_main(struct vctl *c, int argc, char *argv[]);
int key_delete_main(struct vctl *c, int argc, char *argv[]);
int key_cancel_delete_main(struct vctl *c, int argc, char *argv[]);
int key_purge_main(struct vctl *c, int argc, char *argv[]);
int key_schedule_main(struct vctl *c, int argc, char *argv[]);
/* Shared by key disable/enable/delete/cancel-delete (key_disable.c): NAME
 * and --vaultd-config (cfg_path NULL: not accepted); -1 = go on, else the
 * exit code. The guard refuses vaultd's audit key (-1 = go on). */
int key_service_parse(struct vctl *c, int argc, char *argv[], const char *usage, const char **cfg_path,
		      const char **name);
int key_audit_guard(struct vctl *c, pv_keystore *ks, const char *name, const char *cfg_path);
int key_service_result(struct vctl *c, const char *name, const char *state, const char *text);

/* token subcommands (tools/vaultctl/token_*.c) */
int token_info_main(struct vctl *c, int argc, char *argv[]);
int token_init_main(struct vctl *c, int argc, char *argv[]);

/* wallet subcommands (tools/vaultctl/wallet_*.c) */
int wallet_address_main(struct vctl *c, int argc, char *argv[]);
int wallet_sign_tx_main(struct vctl *c, int argc, char *argv[]);
int wallet_sign_message_main(struct vctl *c, int argc, char *argv[]);
int wallet_sign_digest_main(struct vctl *c, int argc, char *argv[]);
int wallet_sign_typed_data_main(struct vctl *c, int argc, char *argv[]);

/* Find and run a subcommand from a table; prints the table on no match. */
int subcommand_dispatch(struct vctl *c, const struct subcommand *table, size_t n, const char *group, int argc,
			char *argv[]);

#endif
