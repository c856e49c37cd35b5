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
 * Every key has one purpose ("purpose":"jwt", ...), fixed at creation and
 * kept across rotation (docs/cli.md, "Key purposes"). Metadata written before
 * purposes existed has none: such a key is refused for every use until
 * `vaultctl key set-purpose` gives it one. A decrypt key also carries
 * "usage":"decrypt" (what older readers understood); the default usage
 * ("sign") is not written.
 *
 * A key taken out of service carries "disabled" (when, ISO 8601 UTC); one
 * scheduled for destruction also "delete_at" (when it becomes due). Both
 * are left out when unset, so other metadata stays byte-identical; a reader
 * older than them refuses such metadata as malformed (the key stays
 * unusable: fail closed).
 *
 * A key rotated on a schedule (docs/cli.md "key schedule") carries
 * "schedule":{"every":N,"publish_ahead":N,"retire_after":N} (seconds), and
 * its versions "activated" (when the version became active) and "demoted"
 * (when it became verify-only), ISO 8601 UTC; all left out when unset
 * (older metadata: unknown), so other metadata stays byte-identical.
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
/*
 * What a key is for (docs/cli.md "Key purposes"). Decided where the key is
 * used (pv_key_check_purpose), never by which endpoint or command called:
 * no grant on a key of one purpose yields a signature or MAC that another
 * purpose gates.
 */
typedef enum pv_key_purpose {
	PV_PURPOSE_NONE = 0, /* made by an earlier version: refused until set */
	PV_PURPOSE_JWT,      /* JWT issuance; the only keys in the JWKS */
	PV_PURPOSE_SIGN,     /* raw signatures (or MACs) over caller input */
	PV_PURPOSE_SOLANA,   /* Solana wallet endpoints only */
	PV_PURPOSE_EVM,      /* EVM wallet endpoints only */
	PV_PURPOSE_AUDIT,    /* audit checkpoint MACs: the audit writer only */
	PV_PURPOSE_WRAP,     /* bundle key-encryption keys (aes-kwp) */
	PV_PURPOSE_DECRYPT,  /* rsa-oaep bundle recipients */
	PV_PURPOSE_DERIVE,   /* HMAC derivation, ECDH */
	PV_PURPOSE_COUNT
} pv_key_purpose;

typedef enum pv_key_usage {
	PV_USAGE_SIGN = 0, /* default: sign (private) and verify (public) */
	PV_USAGE_DECRYPT,  /* RSA only: decrypt/unwrap (private), encrypt/wrap (public) */
} pv_key_usage;

struct pv_key_version {
	unsigned version;
	pv_key_state state;
	uint8_t id[PV_KEY_ID_MAX];
	size_t id_len;
	int64_t created;   /* unix seconds */
	int adopted;       /* made elsewhere, taken over with `key adopt` */
	int64_t activated; /* unix s it became active; 0: unknown */
	int64_t demoted;   /* unix s it became verify-only; 0: unknown */
};

/* Bounds of a schedule's durations (seconds): every 60 s .. 10 years. */
#define PV_SCHEDULE_MIN 60
#define PV_SCHEDULE_MAX INT64_C(315360000)

struct pv_key_schedule {
	int64_t every;         /* seconds between activations; 0: no schedule */
	int64_t publish_ahead; /* a `next` version is created this long before it activates */
	int64_t retire_after;  /* a version is retired this long after it stopped being active */
};

struct pv_key {
	char name[PV_KEY_NAME_MAX + 1];
	pv_alg alg;
	pv_key_usage usage;              /* token usage: follows the purpose (decrypt) */
	pv_key_purpose purpose;          /* PV_PURPOSE_NONE: legacy, unusable until set */
	uint64_t serial;                 /* bumped on every change (lost-update detection) */
	int64_t disabled;                /* unix seconds it was disabled; 0: in service */
	int64_t delete_at;               /* unix seconds its destruction is due; 0: none */
	struct pv_key_schedule schedule; /* rotation schedule; every 0: none */
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

/* "jwt", "sign", ...; "none" for PV_PURPOSE_NONE. */
const char *pv_key_purpose_name(pv_key_purpose p);
/* PV_ERR_NOT_FOUND for an unknown name (and for "none"). */
pv_err pv_key_purpose_from_name(const char *s, pv_key_purpose *out) PV_WUR;
/* Whether a key of alg can have purpose p (e.g. solana: ed25519 only). */
int pv_key_purpose_fits(pv_alg alg, pv_key_purpose p);
/* The purposes alg can have, comma-separated ("jwt, sign, solana"). */
void pv_key_purposes_for(pv_alg alg, char *buf, size_t len);
/* The same for the purposes fits() accepts (e.g. those a bundle entry may have). */
void pv_purposes_text(pv_alg alg, int (*fits)(pv_alg, pv_key_purpose), char *buf, size_t len);
/* The token usage a purpose implies (decrypt for PV_PURPOSE_DECRYPT). */
pv_key_usage pv_key_purpose_usage(pv_key_purpose p);
/*
 * PV_OK when key may be used for want. Otherwise PV_ERR_PURPOSE with a
 * detail naming the key, its purpose and what was asked (or, for a key
 * without a purpose, the command that gives it one).
 */
pv_err pv_key_check_purpose(const struct pv_key *key, pv_key_purpose want) PV_WUR;
/* The same for a key known only by name, algorithm and purpose (bundle keys). */
pv_err pv_purpose_check(const char *name, pv_key_purpose have, pv_key_purpose want) PV_WUR;

/*
 * PV_OK when key is in service. A disabled key (or one scheduled for
 * deletion) is PV_ERR_STATE with a one-line detail saying so and the
 * command that undoes it. Checked where a version is resolved for use
 * (pv_keys_resolve), so every caller gets it.
 */
pv_err pv_key_check_enabled(const struct pv_key *key) PV_WUR;

/*
 * The clock that decides whether a scheduled deletion or a scheduled
 * rotation step is due, and that stamps versions' created, activated and
 * demoted times: time(NULL) plus an offset in seconds, a test aid
 * (docs/cli.md "The test clock"). The offset is the integer in the file
 * named by P11VAULT_TEST_CLOCK_FILE, read at every call (so a test moves
 * the clock of running processes), else P11VAULT_TEST_CLOCK_OFFSET;
 * anything that is not an integer within +-100 years is ignored.
 */
int64_t pv_key_clock_now(void);
/* Whether key's scheduled deletion is due at now. */
int pv_key_delete_due(const struct pv_key *key, int64_t now);
/* "YYYY-MM-DDTHH:MM:SSZ" (PV_ERR_INTERNAL if it does not fit). */
pv_err pv_key_time_text(int64_t t, char *buf, size_t len) PV_WUR;
/*
 * Whether s is a schedule a key may carry: every in [PV_SCHEDULE_MIN,
 * PV_SCHEDULE_MAX], 0 <= publish_ahead < every, 0 <= retire_after <=
 * PV_SCHEDULE_MAX. On failure a detail says which.
 */
pv_err pv_key_schedule_check(const struct pv_key_schedule *s) PV_WUR;

pv_err pv_keymeta_parse(const uint8_t *json, size_t len, struct pv_key **out) PV_WUR;
/* Compact JSON, malloc'd NUL-terminated. */
pv_err pv_keymeta_serialize(const struct pv_key *key, char **out) PV_WUR;
void pv_key_free(struct pv_key *key);
pv_err pv_key_dup(const struct pv_key *key, struct pv_key **out) PV_WUR;

/* Lookups within one key. NULL if absent. */
struct pv_key_version *pv_key_find_version(const struct pv_key *key, unsigned version);
struct pv_key_version *pv_key_active(const struct pv_key *key);
/* Append a version (takes the next number; created = pv_key_clock_now(),
 * and activated too when st is active); returns it via *out. */
pv_err pv_key_add_version(struct pv_key *key, pv_key_state st, const uint8_t *id, size_t id_len, int adopted,
			  struct pv_key_version **out) PV_WUR;

#endif
