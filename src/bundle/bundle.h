/*
 * Bundle operations on top of the format: the reading pipeline of
 * docs/bundle-format.md §7 (used by vaultctl unwrap/exec/verify and vaultd)
 * and the writing steps of §8 (seal, set, rm, import-key, rewrap, rotate).
 */
#ifndef PV_BUNDLE_H
#define PV_BUNDLE_H

#include <openssl/evp.h>

#include "bundle/dek.h"
#include "bundle/format.h"
#include "bundle/kv.h"
#include "bundle/recipient.h"
#include "bundle/sealer.h"
#include "pkcs11/token.h"

/* ---- reading ---- */

struct pv_bundle_read_opts {
	time_t now;                    /* 0 = time(NULL) */
	uint64_t min_version;          /* 0 = any */
	const char *const *expect_ctx; /* "name=value" pairs the context must hold */
	size_t nexpect;
	const char *kid;          /* only this recipient (its kid), NULL = any */
	int require_token_unwrap; /* refuse the rsa-oaep fallbacks */
	/* trusted sealers (§7 step 2a): when it holds a key, a bundle must be
	 * signed by one of them before its DEK is unwrapped; NULL or empty =
	 * a sealer member is not verified */
	const pv_sealer_trust *trust;
};

/* Read at most PV_BUNDLE_MAX bytes and parse (size/JSON/§3 failures are
 * PV_ERR_INTEGRITY; an unreadable file is PV_ERR_IO / NOT_FOUND). */
pv_err pv_bundle_load_fd(int fd, struct pv_bundle **out) PV_WUR;
pv_err pv_bundle_load_file(const char *path, struct pv_bundle **out) PV_WUR;

/* §7 step 2: format, not_after, min-version, expected context. */
pv_err pv_bundle_precheck(const struct pv_bundle *b, const struct pv_bundle_read_opts *o) PV_WUR;

struct pv_bundle_opened {
	pv_dek *dek; /* on the token (reading) or in memory (editing) */
	size_t rcpt; /* index of the recipient used */
	struct pv_open_info info;
};
/* §7 steps 2a-4: with o->trust, the sealer signature (pv_sealer_verify,
 * PV_ERR_INTEGRITY before any key is touched); find a recipient whose key is on the token, get the DEK
 * (mode: PV_DEK_ON_TOKEN for readers, PV_DEK_IN_MEMORY for editors) and
 * verify the check. A recipient key on the token must have purpose wrap or
 * decrypt (pv_recipient_check_purpose); when the only ones present do not,
 * PV_ERR_PURPOSE. */
pv_err pv_bundle_open(p11_token *tok, const struct pv_bundle *b, const struct pv_bundle_read_opts *o,
		      enum pv_dek_mode mode, struct pv_bundle_opened *out) PV_WUR;
void pv_bundle_opened_clear(struct pv_bundle_opened *op);

/* Verify the check with an opened DEK (done by pv_bundle_open). */
pv_err pv_bundle_verify_check(const struct pv_bundle *b, pv_dek *dek) PV_WUR;

/* §7 step 5: decrypt env/file entries into *out (values in guarded memory).
 * only = NULL: all env/file entries; otherwise those names (missing ones are
 * reported through *missing, a malloc'd comma list, or PV_ERR_NOT_FOUND with
 * strict). private-key entries are never decrypted here. */
pv_err pv_bundle_decrypt(const struct pv_bundle *b, pv_dek *dek, const char *const *only, size_t nonly,
			 int strict, struct pv_kvlist *out, char **missing) PV_WUR;
pv_err pv_bundle_decrypt_entry(const struct pv_bundle *b, const struct pv_bundle_entry *e, pv_dek *dek,
			       pv_secret **value) PV_WUR;

/* Unwrap a private-key entry into the token (token DEK) and prove it is the
 * key the entry's public_key says: sign a random challenge on the token and
 * verify it in software. PV_ERR_INTEGRITY when it is not. */
pv_err pv_bundle_unwrap_key(p11_token *tok, const struct pv_bundle_entry *e, pv_dek *dek,
			    const struct pv_key_import *ki, CK_OBJECT_HANDLE *out) PV_WUR;

/* ---- writing ---- */

/* A recipient to seal for: rsa (pub set) or aes-kwp (tok + kek set). */
struct pv_rcpt_spec {
	enum pv_rcpt_type type;
	EVP_PKEY *pub;        /* rsa-oaep-sha256 */
	p11_token *tok;       /* aes-kwp */
	CK_OBJECT_HANDLE kek; /* aes-kwp */
	char label[129];      /* "" = none */
	char kid[129];        /* filled by pv_bundle_rcpt_spec_kid */
};
pv_err pv_bundle_rcpt_spec_kid(struct pv_rcpt_spec *s) PV_WUR;
/* Wrap the DEK (in memory) for s and append the recipient. PV_ERR_EXISTS if
 * a recipient with the same kid is already there. */
pv_err pv_bundle_add_rcpt(struct pv_bundle *b, pv_dek *dek, struct pv_rcpt_spec *s) PV_WUR;
/* Index of the recipient with this kid, or -1. */
long pv_bundle_find_rcpt(const struct pv_bundle *b, const char *kid);

/* Encrypt value as entry NAME of KIND (replacing an existing one of the
 * same name). Fresh nonce. */
pv_err pv_bundle_put_value(struct pv_bundle *b, pv_dek *dek, const char *name, int kind, const uint8_t *value,
			   size_t len) PV_WUR;
/* Wrap a private key (PKCS#8 in guarded memory, from pkey) as a private-key
 * entry of purpose (required: one pv_entry_purpose_valid allows for the
 * key, else PV_ERR_USAGE naming those that fit). The key's algorithm must be
 * one p11vault knows. */
pv_err pv_bundle_put_key(struct pv_bundle *b, pv_dek *dek, const char *name, EVP_PKEY *pkey,
			 pv_key_purpose purpose) PV_WUR;
/* Fresh check nonce and tag with the DEK (after any change). It drops the
 * sealer signature, which covered the old check: sign again after it
 * (pv_sealer_sign_*) or the bundle is written unsigned. */
pv_err pv_bundle_seal_check(struct pv_bundle *b, pv_dek *dek) PV_WUR;
/* rotate: re-encrypt every entry under new_dek (both DEKs in memory; the
 * token is needed for private-key entries, which are re-wrapped inside it). */
pv_err pv_bundle_reencrypt(p11_token *tok, struct pv_bundle *b, pv_dek *old_dek, pv_dek *new_dek) PV_WUR;

#endif
