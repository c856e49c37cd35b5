/*
 * The keeper API: the only way vaultd's handlers reach the token, and the
 * one place that decides what a key may do (docs/architecture.md, "The
 * keeper decides" and "Why this is the seam for privilege separation").
 * Narrow on purpose — key metadata, public keys, sign, verify, JWT issue,
 * JWKS, derive, ECDH, the audit checkpoint MAC, secret lookup — so that
 * vaultd can later be split into an unprivileged HTTP front and a
 * token-holding keeper process without touching the handlers. Nothing here
 * knows about HTTP.
 *
 * Every call that uses a key takes a typed request (struct vd_kreq): who
 * asks (the authenticated client and the generation whose policy applies),
 * the operation, the key name, what the key is to be used for (enum vd_use)
 * and, for signatures, the parsed intent (the EVM transaction, the typed
 * data's domain, the message). The keeper then decides, in this order and
 * on every call: the policy (the client's rules for that operation on that
 * name: 403 forbidden), the key (404), the key's purpose (each use accepts
 * one purpose; an audit key accepts none: 403 wrong_purpose), and for
 * signatures the rule's caps against the intent, and that the bytes to sign
 * are the ones the intent describes. Bytes the caller chose are signed as
 * they are by VD_USE_SIGN, with keys of purpose sign only; with a wallet
 * key only inside its chain's bounds: a Solana off-chain message that is no
 * transaction, an EVM digest only under a rule without caps.
 *
 * Keys are looked up by name among the private-key entries of the boot
 * bundle (the request's generation's secrets, may be NULL), then among the
 * token's p11vault keys. A bundle whose key has the name of a token key is
 * refused at load, so the order only matters for a token key created later
 * under that name: it stays hidden until the next reload (which then
 * refuses the bundle), and signing with bundle keys never searches the
 * token. Bundle keys were unwrapped into the token as non-extractable
 * session objects at load, appear as version 1, state active, origin
 * "bundle", carry the purpose of their bundle entry, and are unwrapped
 * again after the token layer recovered (session objects do not survive a
 * re-login).
 *
 * All calls are thread-safe; none holds a lock across a token call.
 */
#ifndef PV_VAULTD_KEEPER_H
#define PV_VAULTD_KEEPER_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "audit/audit.h"
#include "base/err.h"
#include "base/secmem.h"
#include "config/vaultd_config.h"
#include "core/keys.h"
#include "core/sign.h"
#include "jose/jwt.h"
#include "pkcs11/token.h"
#include "policy/policy.h"
#include "wallet/eip712.h"
#include "wallet/evm_tx.h"
#include "wallet/solana_tx.h"

struct vd_keeper;
struct vd_secrets;
struct vd_gen;

/* Log in to the token named by cfg->token (pin source from the config). */
pv_err vd_keeper_open(const struct pv_config *cfg, struct vd_keeper **out) PV_WUR;
void vd_keeper_close(struct vd_keeper *k);
/* Cached key metadata is trusted this long (seconds; rotation by another
 * host or by vaultctl is seen within it). Default 5. */
void vd_keeper_set_meta_ttl(struct vd_keeper *k, unsigned seconds);
/* Forget cached metadata and the JWKS (reload). */
void vd_keeper_flush(struct vd_keeper *k);
/* Label of the token (for /v1/ready). */
const char *vd_keeper_token_label(const struct vd_keeper *k);
/* Pool and recovery counters (for /metrics). */
void vd_keeper_stats(struct vd_keeper *k, struct p11_token_stats *st);
/* Where the one line at the start and the end of a token outage goes (NULL: nowhere). */
void vd_keeper_set_outage_log(void (*log)(const char *msg));

/* ---- requests (keeper_policy.c: the request table and the decisions) ---- */

/*
 * What a key is asked to do. Each use has one policy operation and one key
 * purpose (VD_USE_READ: any purpose but audit):
 *
 *   use                    operation     purpose  signs
 *   VD_USE_READ            keys.read     any      no   metadata, public keys
 *   VD_USE_SIGN            sign          sign     the caller's bytes
 *   VD_USE_VERIFY          verify        sign     no
 *   VD_USE_JWT_ISSUE       jwt.issue     jwt      a JWT the keeper assembles
 *   VD_USE_DERIVE          derive        derive   no   (HMAC-SHA256)
 *   VD_USE_ECDH            ecdh          derive   no   (P-256)
 *   VD_USE_SOLANA_READ     wallet.read   solana   no
 *   VD_USE_SOLANA_TX       wallet.sign   solana   the parsed transaction's message
 *   VD_USE_SOLANA_MESSAGE  wallet.sign   solana   bytes that are no transaction
 *   VD_USE_EVM_READ        wallet.read   evm      no
 *   VD_USE_EVM_TX          wallet.sign   evm      the parsed transaction's hash (caps)
 *   VD_USE_EVM_MESSAGE     wallet.sign   evm      the EIP-191 hash of the message
 *   VD_USE_EVM_DIGEST      wallet.sign   evm      a digest (refused under any cap)
 *   VD_USE_EVM_TYPED       wallet.sign   evm      the EIP-712 digest (chain id caps)
 */
enum vd_use {
	VD_USE_READ = 0,
	VD_USE_SIGN,
	VD_USE_VERIFY,
	VD_USE_JWT_ISSUE,
	VD_USE_DERIVE,
	VD_USE_ECDH,
	VD_USE_SOLANA_READ,
	VD_USE_SOLANA_TX,
	VD_USE_SOLANA_MESSAGE,
	VD_USE_EVM_READ,
	VD_USE_EVM_TX,
	VD_USE_EVM_MESSAGE,
	VD_USE_EVM_DIGEST,
	VD_USE_EVM_TYPED,
	VD_USE_COUNT
};

/* The policy operation and the key purpose of a use (PV_PURPOSE_NONE for
 * VD_USE_READ: any purpose but audit). */
pv_op vd_use_op(enum vd_use use);
pv_key_purpose vd_use_purpose(enum vd_use use);

/* A typed request for the keeper. The caller fills the first part; the
 * keeper fills `decision` (the rule that allowed it) on every call. */
struct vd_kreq {
	const struct vd_gen *gen; /* policy, secrets and config of the request */
	const pv_client *client;  /* authenticated by the caller */
	pv_op op;                 /* must be vd_use_op(use), else PV_ERR_INTERNAL */
	enum vd_use use;
	const char *key; /* the key's name */
	/* The parsed intent, for the uses that sign; the keeper checks the
	 * bytes it is asked to sign against it. */
	union {
		const struct pv_evm_tx *evm_tx;       /* VD_USE_EVM_TX */
		const struct pv_eip712_hashes *typed; /* VD_USE_EVM_TYPED */
		const struct pv_solana_tx *solana_tx; /* VD_USE_SOLANA_TX */
		struct {
			const uint8_t *bytes;
			size_t len;
		} message; /* VD_USE_EVM_MESSAGE: the message before EIP-191 hashing */
	} intent;
	pv_policy_decision decision;
};

/* A request with the given who/what; the intent empty. */
void vd_kreq_init(struct vd_kreq *q, const struct vd_gen *g, const pv_client *client, enum vd_use use,
		  const char *key);

/*
 * Policy only, for what uses no key or comes before a key is looked up:
 * may client do op on key (NULL: a listing, or an operation without a key
 * such as reload)? admin_ok: the admin role allows it too (GET /metrics).
 * PV_OK fills d; PV_ERR_FORBIDDEN with a detail naming the operation.
 */
pv_err vd_keeper_allow(struct vd_keeper *k, const struct vd_gen *g, const pv_client *client, pv_op op,
		       const char *key, int admin_ok, pv_policy_decision *d) PV_WUR;

/* ---- keys ---- */

enum vd_key_origin { VD_ORIGIN_TOKEN = 0, VD_ORIGIN_BUNDLE };

/* The keys q->client may read (q: VD_USE_READ, key ignored): token keys by
 * name, then bundle keys, each with its origin; audit keys never. Free
 * with pv_keys_list_free(*keys, *n) and free(*origins). */
pv_err vd_keeper_keys(struct vd_keeper *k, struct vd_kreq *q, struct pv_key ***keys,
		      enum vd_key_origin **origins, size_t *n) PV_WUR;
/* The metadata of q->key, once the request is decided (policy, existence,
 * purpose for q->use). */
pv_err vd_keeper_key(struct vd_keeper *k, struct vd_kreq *q, struct pv_key **out,
		     enum vd_key_origin *origin) PV_WUR;
/* Public key of one version (0 = active) of q->key, decided as for
 * vd_keeper_key; PV_ERR_KEY_TYPE for secret keys. */
pv_err vd_keeper_public(struct vd_keeper *k, struct vd_kreq *q, unsigned version, EVP_PKEY **out) PV_WUR;

/*
 * Sign msg with q->key for q->use (one of the uses that sign, except JWT
 * issue), pv_sign semantics (core/sign.h) for token and bundle keys; the
 * key purpose is the use's (o->purpose is ignored). Decided first, then
 * the intent: PV_ERR_FORBIDDEN (detail naming the cap) when the rule's caps
 * refuse it, PV_ERR_INTERNAL when msg is not what the intent says.
 */
pv_err vd_keeper_sign(struct vd_keeper *k, struct vd_kreq *q, const struct pv_sign_opts *o,
		      const uint8_t *msg, size_t len, struct pv_sig *out) PV_WUR;
/*
 * Batches (docs/api.md "Keys" sign-batch, "Wallet" sign-transactions): at
 * most this many items, decided by the keeper whatever the handler
 * checked. VD_USE_SIGN: VD_BATCH_SIGN_MAX; VD_USE_SOLANA_TX:
 * VD_BATCH_SOLANA_MAX; no other use signs in batches.
 */
#define VD_BATCH_SIGN_MAX   64
#define VD_BATCH_SOLANA_MAX 16
#define VD_BATCH_MAX        VD_BATCH_SIGN_MAX /* the larger of the two */

/* One item of a batch: the bytes to sign and, for VD_USE_SOLANA_TX, the
 * parsed transaction they must be the message of. */
struct vd_batch_item {
	const uint8_t *msg;
	size_t len;
	const struct pv_solana_tx *solana_tx;
};

/*
 * Sign n items with q->key as one request: one decision (policy, key,
 * purpose) for the batch, then every item checked against its intent
 * (vd_decide_batch) before any is signed, then all signed by the same
 * version: the one o->version names, else the active one, pinned by the
 * first signature (a rotation by another process meanwhile does not split
 * the batch; the pinned version signs on while it is verify-only, as for
 * wallet requests). All or nothing: on any failure out[0..n) is wiped and
 * nothing is released. out holds n signatures.
 */
pv_err vd_keeper_sign_batch(struct vd_keeper *k, struct vd_kreq *q, const struct pv_sign_opts *o,
			    const struct vd_batch_item *items, size_t n, struct pv_sig *out) PV_WUR;
/* pv_verify semantics; q->use VD_USE_VERIFY. */
pv_err vd_keeper_verify(struct vd_keeper *k, struct vd_kreq *q, const struct pv_sign_opts *o,
			const uint8_t *msg, size_t len, const uint8_t *sig, size_t siglen) PV_WUR;

/* ---- JWT (token keys only: JWT keys rotate, bundle keys do not) ---- */

/* q->use VD_USE_JWT_ISSUE. The caps come from the keeper's decision (the
 * rule's max_ttl and audiences), never from o. */
pv_err vd_keeper_jwt_issue(struct vd_keeper *k, struct vd_kreq *q, const struct pv_jwt_opts *o,
			   const cJSON *claims, char **token) PV_WUR;
/* The JWK Set (jose/jwt.h pv_jwks_build), serialized, cached for the
 * metadata TTL; *etag receives a quoted strong ETag of the bytes. Both
 * malloc'd. */
pv_err vd_keeper_jwks(struct vd_keeper *k, char **json, size_t *len, char **etag) PV_WUR;
/*
 * pv_jwt_verify_ex against the current JWK Set, the lifetime (exp - iat)
 * bounded by pol for the key the kid names (pv_policy_jwt_max_ttl: no cap
 * or no rule is PV_JWT_TTL_MAX; pol NULL: PV_JWT_TTL_MAX); *kid (malloc'd,
 * may be NULL on return) is the token's kid when the header could be read.
 */
pv_err vd_keeper_jwt_verify(struct vd_keeper *k, const pv_policy *pol, const char *token, time_t now,
			    cJSON **claims, char **kid) PV_WUR;

/* ---- derivation ---- */

/* HMAC-SHA256 on the token with an hmac-sha256 key of purpose derive
 * (active version); q->use VD_USE_DERIVE. */
pv_err vd_keeper_derive(struct vd_keeper *k, struct vd_kreq *q, const uint8_t *ctx, size_t len,
			uint8_t mac[32], unsigned *version) PV_WUR;
/* ECDH (CKM_ECDH1_DERIVE, P-256) with the active version of a p256 key of
 * purpose derive; the shared secret (x coordinate, 32 bytes) in guarded
 * memory. q->use VD_USE_ECDH. */
pv_err vd_keeper_ecdh(struct vd_keeper *k, struct vd_kreq *q, EVP_PKEY *peer, pv_secret **shared,
		      unsigned *version) PV_WUR;

/* ---- the audit log ---- */

/*
 * The audit writer's checkpoint MAC (audit.h struct pv_audit_mac): a
 * callback that MACs with the token key `name` and nothing else, through
 * the audit purpose. The key must exist, be hmac-sha256 and have purpose
 * audit (checked now). The keeper keeps the name; call once, at boot.
 */
pv_err vd_keeper_audit_mac(struct vd_keeper *k, const char *name, struct pv_audit_mac *out) PV_WUR;
/* Make the audit key `name` (hmac-sha256, purpose audit) unless the token
 * has it; *created says whether it was made (vaultd --dev). */
pv_err vd_keeper_make_audit_key(struct vd_keeper *k, const char *name, int *created) PV_WUR;

/* ---- boot bundle and secrets ---- */

/*
 * Load what cfg->bundle and cfg->secrets name: open the bundle on the token
 * (the DEK unwrapped into the token: docs/architecture.md, "Bundle keys"),
 * decrypt env/file entries into guarded memory, unwrap private-key entries
 * into the token as session objects, and read the configured environment
 * variables. cfg->bundle absent: only the environment. Bundle errors are
 * those of src/bundle.
 */
pv_err vd_secrets_load(struct vd_keeper *k, const struct pv_config *cfg, struct vd_secrets **out) PV_WUR;
/* Destroys the bundle's session key objects and wipes every value. */
void vd_secrets_free(struct vd_secrets *s);
/*
 * Where the warning goes each time a private-key entry is unwrapped through
 * the explicit Ed25519 key-import fallback (bundle.key_import_fallback): at
 * load, on reload and when keys are unwrapped again after a recovery. The
 * message names the entry, never key bytes. NULL (the default): nowhere.
 */
void vd_secrets_set_warn(void (*warn)(const char *msg));

struct vd_secret_info {
	const char *name;
	const char *kind;   /* "env", "file" or "private-key" */
	const char *origin; /* "bundle" or "environment" */
	size_t size;        /* value bytes (0 for private keys) */
};
/* Bundle version (0: none loaded) and entries, in name order. */
uint64_t vd_secrets_bundle_version(const struct vd_secrets *s);
size_t vd_secrets_count(const struct vd_secrets *s);
void vd_secrets_info(const struct vd_secrets *s, size_t i, struct vd_secret_info *out);
/* A copy of one env/file value (PV_ERR_NOT_FOUND; PV_ERR_KEY_TYPE for a
 * private key, which is never released). */
pv_err vd_secrets_get(const struct vd_secrets *s, const char *name, pv_secret **value) PV_WUR;

#endif
