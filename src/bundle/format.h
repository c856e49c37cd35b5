/*
 * Bundle formats 1 and 2 (docs/bundle-format.md): the in-memory model, the
 * strict parser and the writer, and the exact bytes of the entry AAD (§5)
 * and of the check digest (§6). No cryptography with the data key happens
 * here. Format 2 is format 1 plus a `purpose` on private-key entries, which
 * the check covers; a document is format 2 exactly when some entry has one
 * (pv_bundle_format), so bundles without purposes stay readable by older
 * readers.
 */
#ifndef PV_BUNDLE_FORMAT_H
#define PV_BUNDLE_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "base/buf.h"
#include "base/err.h"
#include "bundle/kv.h"
#include "core/alg.h"
#include "core/keymeta.h"

#define PV_BUNDLE_FORMAT_V1      1 /* no entry has a purpose */
#define PV_BUNDLE_FORMAT_V2      2 /* some private-key entry has a purpose */
#define PV_BUNDLE_MAX            (16u << 20)
#define PV_BUNDLE_MAX_ENTRIES    10000
#define PV_BUNDLE_MAX_RECIPIENTS 16
#define PV_BUNDLE_MAX_CONTEXT    32
#define PV_BUNDLE_ID_LEN         16
#define PV_BUNDLE_NONCE_LEN      12
#define PV_BUNDLE_TAG_LEN        16
#define PV_BUNDLE_CHECK_LEN      (PV_BUNDLE_NONCE_LEN + PV_BUNDLE_TAG_LEN)
#define PV_BUNDLE_VALUE_MAX      (1u << 20)
#define PV_BUNDLE_WRAPPED_MAX    (16u << 10)
#define PV_BUNDLE_TIME_LEN       20 /* YYYY-MM-DDTHH:MM:SSZ */

enum pv_rcpt_type {
	PV_RCPT_AES_KWP = 1,
	PV_RCPT_RSA_OAEP_SHA256 = 2,
};

struct pv_bundle_recipient {
	enum pv_rcpt_type type;
	char *kid;
	char *label; /* NULL when absent */
	uint8_t *wrapped_dek;
	size_t wrapped_len;
};

struct pv_bundle_entry {
	char name[129];
	int kind; /* PV_ENTRY_ENV, PV_ENTRY_FILE, PV_ENTRY_PRIVATE_KEY */
	/* env/file: nonce + ct (ciphertext || tag); private-key: data = wrapped */
	uint8_t nonce[PV_BUNDLE_NONCE_LEN];
	uint8_t *data;
	size_t data_len;
	/* private-key only */
	pv_alg alg;
	pv_key_purpose purpose; /* PV_PURPOSE_NONE: sealed before purposes (format 1) */
	uint8_t *public_key;    /* DER SubjectPublicKeyInfo */
	size_t public_key_len;
};

/*
 * The optional `sealer` member (§3.4): who sealed the document, as a
 * signature over the check (bundle/sealer.h makes and verifies it; here it
 * is only parsed and written). kid: b64u(SHA-256(SPKI DER)), 43 characters.
 */
enum pv_sealer_alg {
	PV_SEALER_ECDSA_P256_SHA256 = 1,
	PV_SEALER_ED25519 = 2,
	PV_SEALER_RSA_PSS_SHA256 = 3,
};
#define PV_SEALER_KID_LEN 43
#define PV_SEALER_SIG_MAX 512 /* RSA-4096 */

struct pv_bundle_sealer {
	enum pv_sealer_alg alg;
	char kid[PV_SEALER_KID_LEN + 1];
	uint8_t sig[PV_SEALER_SIG_MAX];
	size_t sig_len;
};

struct pv_bundle_ctx {
	char *name;
	char *value;
};

struct pv_bundle {
	uint8_t id[PV_BUNDLE_ID_LEN];
	char created[PV_BUNDLE_TIME_LEN + 1];
	char not_after[PV_BUNDLE_TIME_LEN + 1]; /* "" when absent */
	uint64_t version;
	struct pv_bundle_ctx *ctx; /* sorted by name */
	size_t nctx;
	struct pv_bundle_recipient *rcpt;
	size_t nrcpt;
	struct pv_bundle_entry *entries; /* sorted by name */
	size_t nentries;
	uint8_t check[PV_BUNDLE_CHECK_LEN];
	int has_sealer; /* sealer is meaningful only when set */
	struct pv_bundle_sealer sealer;
};

/* Strict parse of format 1 or 2 (§2, §3). Every failure is PV_ERR_INTEGRITY
 * (or NOMEM) with a detail naming the member, e.g. "entries[3].name: ...". */
pv_err pv_bundle_parse(const uint8_t *json, size_t len, struct pv_bundle **out) PV_WUR;
/* The document, one entry per line, with a final newline (malloc'd). */
pv_err pv_bundle_serialize(const struct pv_bundle *b, char **out, size_t *len) PV_WUR;
void pv_bundle_free(struct pv_bundle *b);

/* An empty bundle: random id, created = now, version 1, no members. */
pv_err pv_bundle_new(struct pv_bundle **out) PV_WUR;
/* Context pairs: add/replace keeps the list sorted; names/values validated. */
pv_err pv_bundle_set_context(struct pv_bundle *b, const char *name, const char *value) PV_WUR;
const char *pv_bundle_get_context(const struct pv_bundle *b, const char *name);
/* Entries: find by name; insert keeps order (takes ownership of e's buffers
 * on success; PV_ERR_EXISTS if the name is taken); remove frees the entry. */
struct pv_bundle_entry *pv_bundle_find(const struct pv_bundle *b, const char *name);
pv_err pv_bundle_insert(struct pv_bundle *b, struct pv_bundle_entry *e) PV_WUR;
pv_err pv_bundle_remove(struct pv_bundle *b, const char *name) PV_WUR;
void pv_bundle_entry_clear(struct pv_bundle_entry *e);
/* Recipients: append (takes ownership of r's buffers), remove by index. */
pv_err pv_bundle_add_recipient(struct pv_bundle *b, struct pv_bundle_recipient *r) PV_WUR;
void pv_bundle_remove_recipient(struct pv_bundle *b, size_t i);
void pv_bundle_recipient_clear(struct pv_bundle_recipient *r);

/* The format a bundle is written in: 2 when some entry has a purpose, else 1. */
unsigned pv_bundle_format(const struct pv_bundle *b);
/*
 * Whether a private-key entry of alg may carry purpose p: the signing
 * purposes that fit alg (jwt, sign, solana, evm), since an entry is unwrapped
 * into the token as a signing key.
 */
int pv_entry_purpose_valid(pv_alg alg, pv_key_purpose p);
/* Those purposes for alg, comma-separated ("jwt, sign, solana"). */
void pv_entry_purposes_for(pv_alg alg, char *buf, size_t len);
/*
 * PV_OK when a bundle key (entry) of purpose have may be used for want;
 * else PV_ERR_PURPOSE with a detail naming the entry, its purpose and what
 * was asked, or for an entry without one (format 1) the command that gives
 * it one (`vaultctl bundle set-purpose BUNDLE NAME PURPOSE`).
 */
pv_err pv_entry_check_purpose(const char *name, pv_key_purpose have, pv_key_purpose want) PV_WUR;
/*
 * Give private-key entry name its purpose (an entry from before purposes):
 * PV_ERR_NOT_FOUND, PV_ERR_KEY_TYPE (not a private key), PV_ERR_USAGE (p
 * does not fit), PV_ERR_STATE (it has another purpose already; the same
 * one is a no-op, *changed = 0). The caller re-seals the check.
 */
pv_err pv_bundle_set_entry_purpose(struct pv_bundle *b, const char *name, pv_key_purpose p,
				   int *changed) PV_WUR;

/* §5: the AAD of an env/file entry. */
#define PV_BUNDLE_AAD_MAX (64 * 1024)
pv_err pv_bundle_entry_aad(const struct pv_bundle *b, const struct pv_bundle_entry *e, pv_buf **aad) PV_WUR;
/* The same into aad (reset first; made with pv_buf_new(PV_BUNDLE_AAD_MAX)),
 * so that one buffer serves every entry of a bundle. */
pv_err pv_bundle_entry_aad_into(const struct pv_bundle *b, const struct pv_bundle_entry *e,
				pv_buf *aad) PV_WUR;
/* §6: H, the SHA-256 that the check authenticates. */
pv_err pv_bundle_check_digest(const struct pv_bundle *b, uint8_t h[32]) PV_WUR;

const char *pv_rcpt_type_name(enum pv_rcpt_type t);
/* "ecdsa-p256-sha256", "ed25519", "rsa-pss-sha256" ("?" otherwise). */
const char *pv_sealer_alg_name(enum pv_sealer_alg a);
const char *pv_entry_kind_name(int kind);

/* RFC 3339 UTC with whole seconds and 'Z' only (20 bytes). */
pv_err pv_time_parse(const char *s, time_t *t) PV_WUR;
void pv_time_format(time_t t, char buf[PV_BUNDLE_TIME_LEN + 1]);

#endif
