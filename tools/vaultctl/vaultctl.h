/*
 * vaultctl internals: the shared context every subcommand receives, and the
 * helpers for opening the token, printing errors and writing output.
 */
#ifndef VAULTCTL_H
#define VAULTCTL_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "base/buf.h"
#include "base/err.h"
#include "core/keys.h"
#include "pkcs11/token.h"

struct vctl {
	struct p11_token_opts topts;
	int json;
	int verbose;
	p11_token *tok;
	pv_keystore *ks;
	const char *cmd; /* "key create", for messages */
};

/* Open the token (once); with login, also log in. */
pv_err vctl_token(struct vctl *c, int login, p11_token **tok) PV_WUR;
/* Logged-in keystore over the token. */
pv_err vctl_keystore(struct vctl *c, pv_keystore **ks) PV_WUR;
void vctl_close(struct vctl *c);

/*
 * Report a failure as one line on stderr ("vaultctl: WHAT: why: detail"),
 * plus a JSON error object on stdout with --json. Returns the exit code.
 */
int vctl_fail(struct vctl *c, pv_err err, const char *fmt, ...) PV_PRINTF(3, 4);
/* Usage error: message plus the command's usage line; exit code 2. */
int vctl_usage(struct vctl *c, const char *usage, const char *fmt, ...) PV_PRINTF(3, 4);
/* Usage error for the option getopt just rejected (unknown, or no value). */
int vctl_bad_option(struct vctl *c, const char *usage, char *argv[]);
/* Print JSON to stdout (pretty) and free it. Returns 0 or 1 on failure. */
int vctl_print_json(cJSON *doc);
/* Say something on stderr with --verbose only. */
void vctl_info(struct vctl *c, const char *fmt, ...) PV_PRINTF(2, 3);

/* Parse a positive version number ("3"); 0 on error. */
unsigned vctl_parse_version(const char *s);
/* Write bytes to FILE (atomically, mode 0600, via a temp file and rename)
 * or to stdout when path is NULL or "-". */
pv_err vctl_write_output(const char *path, const void *data, size_t len) PV_WUR;

/*
 * Read an input file ("-" = stdin) of at most max bytes. A file that cannot
 * be opened is a bad argument (exit 2), like an oversized one.
 */
pv_err vctl_read_input(const char *path, size_t max, pv_buf **out) PV_WUR;

/* Help text for global options (for usage output). */
extern const char vctl_global_help[];

#endif
