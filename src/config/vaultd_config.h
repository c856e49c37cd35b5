/*
 * vaultd's configuration file (vaultd.json, docs/config.md): parsed with
 * cJSON from a bounded buffer and validated completely at load, so that a
 * running daemon never meets a half-valid setting. Every refusal is
 * PV_ERR_BAD_INPUT (PV_ERR_TOO_LARGE over the size limit) with a detail
 * that starts with the path of the offending field, e.g.
 * `clients[2].rules[0].ops[1]: unknown operation "sgin"`.
 *
 * The config holds no secrets: bearer tokens appear only as SHA-256 hashes,
 * the PIN only as a pin source, the audit HMAC key only by its name.
 */
#ifndef PV_VAULTD_CONFIG_H
#define PV_VAULTD_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

/* Largest vaultd.json accepted. */
#define PV_CONFIG_MAX_BYTES ((size_t)1 << 20)

/* Operations a policy rule can grant (bit positions of a rule's ops). */
typedef enum pv_op {
	PV_OP_SIGN = 0,
	PV_OP_VERIFY,
	PV_OP_JWT_ISSUE,
	PV_OP_JWKS,
	PV_OP_DERIVE,
	PV_OP_ECDH,
	PV_OP_KEYS_READ,
	PV_OP_WALLET_SIGN,
	PV_OP_WALLET_READ,
	PV_OP_SECRETS_LIST,
	PV_OP_SECRETS_READ,
	PV_OP_RELOAD, /* implied by role admin; never granted by a rule */
	PV_OP_COUNT
} pv_op;

/* "sign" -> PV_OP_SIGN; PV_ERR_NOT_FOUND for unknown names. */
pv_err pv_op_from_name(const char *name, pv_op *out) PV_WUR;
const char *pv_op_name(pv_op op);
/* Ops that may be asked about without a key name (listings, reload). */
int pv_op_keyless(pv_op op);

typedef enum pv_role { PV_ROLE_CLIENT = 0, PV_ROLE_ADMIN } pv_role;

typedef enum pv_auth_kind { PV_AUTH_TOKEN = 0, PV_AUTH_UID, PV_AUTH_CERT } pv_auth_kind;

struct pv_config_rule {
	uint32_t ops; /* bit (1u << pv_op) per granted op */
	char **keys;  /* fnmatch(3) patterns over key names */
	size_t n_keys;
	uint32_t max_ttl; /* JWT TTL cap in seconds; 0 = no cap of its own */
	char **audiences; /* allowed JWT audiences; none = any */
	size_t n_audiences;
	uint64_t *chain_ids; /* allowed EVM chain ids; none = any */
	size_t n_chain_ids;
	char *max_value_wei; /* decimal, at most 2^256-1; NULL = no cap */
};

struct pv_config_client {
	char *name;
	pv_auth_kind auth;
	uint8_t token_sha256[32]; /* PV_AUTH_TOKEN */
	uint32_t uid;             /* PV_AUTH_UID */
	uint8_t cert_sha256[32];  /* PV_AUTH_CERT */
	pv_role role;
	struct pv_config_rule *rules;
	size_t n_rules;
	double rate_per_second;
	uint32_t rate_burst;
};

struct pv_config_kv {
	char *name;
	char *value;
};

struct pv_config {
	struct {
		char *uri;
		char *module;     /* NULL: the URI or p11-kit decides */
		char *pin_source; /* file:, env:, fd:, cred: (never the PIN) */
		uint32_t max_sessions;
		int session_key_copies; /* sign with session-object copies (default on) */
	} token;
	struct {
		int has_unix;
		char *unix_path;
		uint32_t unix_mode;
		char *unix_group; /* NULL: the daemon's own group */
		int has_tcp;
		char *tcp_address; /* "127.0.0.1:8443", "[::1]:8443" */
		char *tls_cert;
		char *tls_key;
		char *client_ca; /* NULL: no client certificates asked for */
	} listen;
	uint32_t workers;
	struct {
		uint32_t max_body_bytes;
		uint32_t request_timeout_ms;       /* keep-alive idle timeout */
		uint32_t header_timeout_ms;        /* accept (or last answer) to a complete head */
		uint32_t body_timeout_ms;          /* complete head to complete body */
		uint32_t max_connections;          /* per listener */
		uint32_t max_connections_per_peer; /* per uid (Unix) or address (TCP), per listener */
	} limits;
	struct {
		int present;
		char *path;
		uint64_t min_version;
		struct pv_config_kv *expect_context;
		size_t n_expect_context;
		int required;
		/* the explicit Ed25519 key-import fallback (bundle/dek.h) */
		int key_import_fallback;
		/* PEM public key files of the sealers whose signature the bundle
		 * must carry (bundle-format.md §7 step 2a); NULL: none */
		char **trusted_sealers;
		size_t n_trusted_sealers;
		/* outside --dev, a bundle without trusted_sealers is refused
		 * unless this is set (then a warning at start and reload) */
		int allow_unsigned;
	} bundle;
	struct {
		char **environment; /* vaultd's own environment variables served as
				       secrets (origin "environment"); names only */
		size_t n_environment;
		/* names on the deny-list of names that change how programs run
		 * (bundle/envname.h) allowed in secrets.environment and as the
		 * bundle's env entries; exact names */
		char **allow_env;
		size_t n_allow_env;
	} secrets;
	struct {
		char *file; /* NULL: no file */
		int syslog;
		char *hmac_key; /* key name on the token (required: checkpoint MACs) */
		uint32_t checkpoint_every;
		uint32_t checkpoint_seconds;
	} audit;
	struct {
		int present;
		char *issuer;
		uint32_t default_ttl;
	} jwt;
	struct pv_config_client *clients;
	size_t n_clients;
};

/*
 * Checks across fields (docs/config.md, "What the checks refuse"), part of
 * pv_config_parse: no rule whose operations name keys (all but secrets.*)
 * has a key pattern that fnmatch(3)-matches audit.hmac_key. The detail
 * names the pattern's path, e.g. `clients[1].rules[0].keys[0]: pattern "*"
 * matches the audit key "audit-hmac" ...`.
 */
pv_err pv_config_check_rules(const struct pv_config *cfg) PV_WUR;
/* Whether a rule grants an operation on keys (not only secrets.*). */
int pv_config_rule_names_keys(const struct pv_config_rule *ru);
/* Whether a key pattern has fnmatch(3) special characters (else it is
 * one exact name). */
int pv_config_pattern_is_glob(const char *pattern);

/*
 * The key purposes an operation applies to, as a mask of (1u << purpose)
 * (core/keymeta.h): sign/verify sign; jwt.issue/jwks jwt; derive/ecdh
 * derive; wallet.* solana or evm; keys.read any; 0 for secrets.* and reload
 * (no key).
 */
uint32_t pv_op_purposes(pv_op op);

struct pv_key;
/*
 * The rules against the keys on the token (keys[0..n), e.g. from
 * pv_keys_list): a rule naming an existing key exactly (no glob
 * characters) may grant only operations that apply to its purpose (keys
 * without a purpose, and names not on the token, are not judged).
 * PV_ERR_BAD_INPUT with the path of the first refusal in the detail. With
 * warn_on_patterns, *warnings (malloc'd, "; "-separated; NULL when none)
 * names each rule operation that applies to none of the keys the rule's
 * patterns match now.
 */
pv_err pv_config_check_keys(const struct pv_config *cfg, struct pv_key *const *keys, size_t n,
			    int warn_on_patterns, char **warnings) PV_WUR;
/* audit.hmac_key is among keys[0..n) with purpose audit (PV_ERR_BAD_INPUT,
 * the detail naming the fix, otherwise). */
pv_err pv_config_check_audit_key(const struct pv_config *cfg, struct pv_key *const *keys, size_t n) PV_WUR;

/* Parse and validate the unread bytes of in (not consumed). */
pv_err pv_config_parse(const pv_buf *in, struct pv_config **out) PV_WUR;
/* Read path (at most PV_CONFIG_MAX_BYTES) and parse it. */
pv_err pv_config_load(const char *path, struct pv_config **out) PV_WUR;
void pv_config_free(struct pv_config *cfg);

#endif
