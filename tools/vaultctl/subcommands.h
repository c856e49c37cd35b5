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
