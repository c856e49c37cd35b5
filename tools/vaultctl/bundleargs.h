/*
 * Shared pieces of the bundle commands: reading options, recipient
 * arguments, loading a bundle (file or stdin) and writing it back.
 */
#ifndef VAULTCTL_BUNDLEARGS_H
#define VAULTCTL_BUNDLEARGS_H

#include <getopt.h>

#include "bundle/bundle.h"
#include "bundle/kv.h"
#include "vaultctl.h"

#define BUNDLEARGS_MAX_EXPECT 32

/* getopt_long values of the reading options (above any short option). */
enum {
	OPT_MIN_VERSION = 0x100,
	OPT_EXPECT_CONTEXT,
	OPT_KEY,
	OPT_REQUIRE_TOKEN_UNWRAP,
	OPT_ALLOW_ENV,
	OPT_TRUSTED_SEALER,
	OPT_SIGN_WITH,
	OPT_SIGN_WITH_PEM,
	OPT_UNSIGNED,
	OPT_BUNDLE_FIRST_FREE,
};
#define BUNDLEARGS_READ_OPTIONS                                                                              \
	{"min-version", required_argument, NULL, OPT_MIN_VERSION},                                           \
	    {"expect-context", required_argument, NULL, OPT_EXPECT_CONTEXT},                                 \
	    {"key", required_argument, NULL, OPT_KEY},                                                       \
	    {"trusted-sealer", required_argument, NULL, OPT_TRUSTED_SEALER},                                 \
	{                                                                                                    \
		"require-token-unwrap", no_argument, NULL, OPT_REQUIRE_TOKEN_UNWRAP                          \
	}

#define BUNDLEARGS_MAX_TRUSTED 16

struct bundle_read_args {
	struct pv_bundle_read_opts ro;
	const char *expect[BUNDLEARGS_MAX_EXPECT];
	const char *key; /* --key R, resolved to ro.kid by bundleargs_open */
	char kid[129];
	/* --trusted-sealer PEM-FILE|KEY (repeatable), loaded into trust (and
	 * ro.trust) by bundleargs_open; free with bundleargs_read_end */
	const char *trusted[BUNDLEARGS_MAX_TRUSTED];
	size_t ntrusted;
	pv_sealer_trust *trust;
};
void bundleargs_read_end(struct bundle_read_args *a);

/*
 * Writing: --sign-with KEY (a token key of purpose sign), --sign-with-pem
 * FILE (a PEM private key), --unsigned (drop the signature of a signed
 * bundle being edited). docs/bundle-format.md §8.
 */
#define BUNDLEARGS_SIGN_OPTIONS                                                                              \
	{"sign-with", required_argument, NULL, OPT_SIGN_WITH},                                               \
	    {"sign-with-pem", required_argument, NULL, OPT_SIGN_WITH_PEM},                                   \
	{                                                                                                    \
		"unsigned", no_argument, NULL, OPT_UNSIGNED                                                  \
	}
struct bundle_sign_args {
	const char *key; /* --sign-with */
	const char *pem; /* --sign-with-pem */
	int unsigned_;   /* --unsigned */
	EVP_PKEY *pkey;  /* the --sign-with-pem key, once loaded */
};
/* Take one signing option; -1 if ch is not one, else 0 or an exit code. */
int bundleargs_sign_option(struct vctl *c, const char *usage, int ch, const char *arg,
			   struct bundle_sign_args *s);
/* Before anything is written: load the PEM key (a usage error when it is
 * unreadable or no sealer key) or check the token key (PV_ERR_PURPOSE for
 * a key of another purpose, PV_ERR_KEY_TYPE for another algorithm). */
pv_err bundleargs_sign_prepare(struct vctl *c, struct bundle_sign_args *s) PV_WUR;
/* After the check is sealed: sign b as s says (nothing without a key). */
pv_err bundleargs_sign(struct vctl *c, struct bundle_sign_args *s, struct pv_bundle *b) PV_WUR;
void bundleargs_sign_end(struct bundle_sign_args *s);

/*
 * --allow-env NAME (repeatable): deliver or seal a variable whose name is on
 * the deny-list of names that change how programs run (bundle/envname.h,
 * docs/bundle-format.md §10). Exact names only; taken by bundle seal, bundle
 * set, exec and unwrap.
 */
#define BUNDLEARGS_MAX_ALLOW_ENV 64
#define BUNDLEARGS_ALLOW_ENV_OPTION                                                                          \
	{                                                                                                    \
		"allow-env", required_argument, NULL, OPT_ALLOW_ENV                                          \
	}
struct bundle_allow_env {
	const char *names[BUNDLEARGS_MAX_ALLOW_ENV];
	size_t n;
};
/* Take one --allow-env NAME; 0, or an exit code (usage: not a valid
 * variable name, a pattern, too many). */
int bundleargs_allow_env(struct vctl *c, const char *usage, const char *arg, struct bundle_allow_env *a);
/*
 * Refuse every PV_ENTRY_ENV entry of kv whose name is on the deny-list and
 * not in a: one line on stderr naming the variable and the --allow-env that
 * would allow it ("to <verb> it anyway"), the --json error object
 * refused_name, and the exit code 9 returned; 0 when nothing is refused (an
 * allowed name gets a warning on stderr).
 */
int bundleargs_check_env(struct vctl *c, const struct pv_kvlist *kv, const struct bundle_allow_env *a,
			 const char *verb);
/* The same for one env variable name. */
int bundleargs_check_env_name(struct vctl *c, const char *name, const struct bundle_allow_env *a,
			      const char *verb);

/* Take one reading option; returns -1 if ch is not one, else 0 or an exit
 * code (usage) that the caller returns when > 0. */
int bundleargs_read_option(struct vctl *c, const char *usage, int ch, const char *arg,
			   struct bundle_read_args *a);

/* Read a secret input ("-" = stdin) into guarded memory; an unreadable
 * file, or one that is not a regular file (a FIFO: refused at once), is a
 * usage error. */
pv_err bundleargs_read_secret(const char *path, size_t max, pv_secret **out) PV_WUR;
/* Load BUNDLE ("-" = stdin; else a regular file, as for secrets). */
pv_err bundleargs_load(const char *path, struct pv_bundle **b) PV_WUR;
/* Write the bundle to out (or back to path when out is NULL; stdout for "-"). */
pv_err bundleargs_save(const char *path, const char *out, const struct pv_bundle *b) PV_WUR;

/* Resolve a recipient argument (URI, key name or PEM file) to wrap the DEK
 * for. Opens and logs in to the token only when R is on the token; a token
 * key must be a p11vault key of purpose wrap (aes256) or decrypt (RSA):
 * PV_ERR_PURPOSE otherwise. A PEM file has no purpose to check (its
 * private half is checked where it opens the bundle). The caller frees
 * s->pub. */
pv_err bundleargs_recipient(struct vctl *c, const char *arg, struct pv_rcpt_spec *s) PV_WUR;
/* A recipient argument, or a kid as it appears in the bundle, to a kid (no
 * purpose check: the key is only named, e.g. to remove it). */
pv_err bundleargs_kid(struct vctl *c, const struct pv_bundle *b, const char *arg, char kid[129]) PV_WUR;

/* Precheck, resolve --key, log in and open the DEK (reading: on the token;
 * editing: in guarded memory). Says on stderr (-v) which recipient opened it
 * and warns when an rsa-oaep fallback held the DEK in memory. */
pv_err bundleargs_open(struct vctl *c, const struct pv_bundle *b, struct bundle_read_args *a,
		       enum pv_dek_mode mode, struct pv_bundle_opened *op) PV_WUR;

/* The warning printed each time the explicit Ed25519 key-import fallback
 * (--allow-key-import-fallback) imported private-key entry NAME. */
void bundleargs_warn_fallback(const char *name);

/* Split "A,B,C" into names (in place); returns the count or -1 if > max. */
int bundleargs_split_names(char *list, const char **names, size_t max);

/* A recipient's display name: its label, else its kid. */
const char *bundleargs_rcpt_name(const struct pv_bundle_recipient *rc);

/* Editing (set, rm, import-key, rewrap, rotate): load, open the DEK in
 * guarded memory; then version + 1, a new check, the sealer signature as
 * sign says, and write back. A signed bundle is not edited without
 * --sign-with, --sign-with-pem or --unsigned (PV_ERR_USAGE naming its
 * sealer), checked before the DEK is opened. */
struct bundle_edit {
	const char *path, *out;
	struct pv_bundle *b;
	struct pv_bundle_opened op;
	struct bundle_read_args ra;
	struct bundle_sign_args sign;
};
pv_err bundle_edit_begin(struct vctl *c, const char *path, const char *out,
			 const struct bundle_sign_args *sign, struct bundle_edit *e) PV_WUR;
pv_err bundle_edit_commit(struct vctl *c, struct bundle_edit *e) PV_WUR;
void bundle_edit_end(struct bundle_edit *e);

#endif
