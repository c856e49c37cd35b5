/*
 * Key metadata: a key is a name with versions 1..N, each one token key
 * (pair) found by its CKA_ID, each in a state. Stored on the token as one
 * CKO_DATA object per name (CKA_APPLICATION "p11vault", CKA_LABEL = name,
 * CKA_VALUE = the JSON below) so every replica sharing the token agrees.
 *
 *   {"format":1,"name":"treasury","alg":"secp256k1","serial":3,
 *    "versions":[{"version":1,"state":"active","id":"<hex CKA_ID>",
 *                 "created":"2026-11-23T10:00:00Z","origin":"generated"}]}
 *
 * An RSA key made to receive bundle data keys also carries "usage":"decrypt";
 * the default usage ("sign") is not written, so older metadata reads the same.
 *
 * The JSON comes back from a token other programs can write to, so it is
 * parsed as untrusted input (bounded, every field checked; fuzzed).
 */
#ifndef PV_KEYMETA_H
#define PV_KEYMETA_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "base/err.h"
#include "core/alg.h"

#define PV_KEY_NAME_MAX      64
#define PV_KEY_VERSIONS_MAX  1000
#define PV_KEY_ID_MAX        64
#define PV_KEYMETA_MAX_BYTES 65536
#define PV_KEYMETA_FORMAT    1

typedef enum pv_key_state {
	PV_STATE_NEXT = 1,
	PV_STATE_ACTIVE,
	PV_STATE_VERIFY_ONLY,
	PV_STATE_RETIRED,
} pv_key_state;

/*
 * What a key pair is for. The token enforces it (CKA_SIGN, CKA_DECRYPT, ...);
 * the metadata records it so that rotation keeps it and signing can refuse
 * early. Symmetric keys have one use fixed by their algorithm (aes256 wraps,
 * hmac-sha256 signs) and always carry PV_USAGE_SIGN here.
 */
typedef enum pv_key_usage {
	PV_USAGE_SIGN = 0, /* default: sign (private) and verify (public) */
	PV_USAGE_DECRYPT,  /* RSA only: decrypt/unwrap (private), encrypt/wrap (public) */
} pv_key_usage;

struct pv_key_version {
	unsigned version;
	pv_key_state state;
	uint8_t id[PV_KEY_ID_MAX];
	size_t id_len;
	int64_t created; /* unix seconds */
	int adopted;     /* made elsewhere, taken over with `key adopt` */
};

struct pv_key {
	char name[PV_KEY_NAME_MAX + 1];
	pv_alg alg;
	pv_key_usage usage;
	uint64_t serial; /* bumped on every change (lost-update detection) */
	size_t nversions;
	struct pv_key_version *versions; /* ascending by version */
};

/* 1..64 chars of [A-Za-z0-9_-], first one alphanumeric. */
int pv_key_name_valid(const char *name);
const char *pv_key_state_name(pv_key_state st);
pv_err pv_key_state_from_name(const char *s, pv_key_state *out) PV_WUR;
/* "sign" / "decrypt" (the metadata and --usage spelling). */
const char *pv_key_usage_name(pv_key_usage u);
pv_err pv_key_usage_from_name(const char *s, pv_key_usage *out) PV_WUR;
/* Whether alg can have usage u (decrypt: RSA only). */
int pv_key_usage_valid(pv_alg alg, pv_key_usage u);
/* What the key does, for people: "sign", "decrypt", or "wrap" for aes256. */
const char *pv_key_usage_label(pv_alg alg, pv_key_usage u);

pv_err pv_keymeta_parse(const uint8_t *json, size_t len, struct pv_key **out) PV_WUR;
/* Compact JSON, malloc'd NUL-terminated. */
pv_err pv_keymeta_serialize(const struct pv_key *key, char **out) PV_WUR;
void pv_key_free(struct pv_key *key);
pv_err pv_key_dup(const struct pv_key *key, struct pv_key **out) PV_WUR;

/* Lookups within one key. NULL if absent. */
struct pv_key_version *pv_key_find_version(const struct pv_key *key, unsigned version);
struct pv_key_version *pv_key_active(const struct pv_key *key);
/* Append a version (takes the next number); returns it via *out. */
pv_err pv_key_add_version(struct pv_key *key, pv_key_state st, const uint8_t *id, size_t id_len, int adopted,
			  struct pv_key_version **out) PV_WUR;

#endif
