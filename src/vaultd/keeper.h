/*
 * The keeper API: the only way vaultd's handlers reach the token (design.md,
 * "keeper API"). Narrow on purpose — sign, verify, JWT issue, JWKS, derive,
 * ECDH, key metadata, secret lookup — so that vaultd can later be split into
 * an unprivileged HTTP front and a token-holding keeper process without
 * touching the handlers. Nothing here knows about HTTP.
 *
 * Keys are looked up by name among the private-key entries of the boot
 * bundle (struct vd_secrets, may be NULL), then among the token's p11vault
 * keys. A bundle whose key has the name of a token key is refused at load,
 * so the order only matters for a token key created later under that name:
 * it stays hidden until the next reload (which then refuses the bundle), and
 * signing with bundle keys never searches the token. Bundle keys were
 * unwrapped into the token as non-extractable session objects at load,
 * appear as version 1, state active, origin "bundle", and are unwrapped
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

#include "base/err.h"
#include "base/secmem.h"
#include "config/vaultd_config.h"
#include "core/keys.h"
#include "core/sign.h"
#include "jose/jwt.h"
#include "pkcs11/token.h"

struct vd_keeper;
struct vd_secrets;

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
/* The keystore, for the audit log's checkpoint MACs only. */
pv_keystore *vd_keeper_keystore(struct vd_keeper *k);

/* ---- keys ---- */

enum vd_key_origin { VD_ORIGIN_TOKEN = 0, VD_ORIGIN_BUNDLE };

/* All keys (token keys by name, then bundle keys), each with its origin.
 * Free with pv_keys_list_free(*keys, *n) and free(*origins). */
pv_err vd_keeper_keys(struct vd_keeper *k, const struct vd_secrets *s, struct pv_key ***keys,
		      enum vd_key_origin **origins, size_t *n) PV_WUR;
pv_err vd_keeper_key(struct vd_keeper *k, const struct vd_secrets *s, const char *name, struct pv_key **out,
		     enum vd_key_origin *origin) PV_WUR;
/* Public key of one version (0 = active); PV_ERR_KEY_TYPE for secret keys. */
pv_err vd_keeper_public(struct vd_keeper *k, const struct vd_secrets *s, const char *name, unsigned version,
			EVP_PKEY **out) PV_WUR;

/* pv_sign / pv_verify semantics (core/sign.h), for token and bundle keys. */
pv_err vd_keeper_sign(struct vd_keeper *k, const struct vd_secrets *s, const char *name,
		      const struct pv_sign_opts *o, const uint8_t *msg, size_t len,
		      struct pv_sig *out) PV_WUR;
pv_err vd_keeper_verify(struct vd_keeper *k, const struct vd_secrets *s, const char *name,
			const struct pv_sign_opts *o, const uint8_t *msg, size_t len, const uint8_t *sig,
			size_t siglen) PV_WUR;

/* ---- JWT (token keys only: JWT keys rotate, bundle keys do not) ---- */

pv_err vd_keeper_jwt_issue(struct vd_keeper *k, const char *name, const struct pv_jwt_opts *o,
			   const cJSON *claims, char **token) PV_WUR;
/* The JWK Set (jose/jwt.h pv_jwks_build), serialized, cached for the
 * metadata TTL; *etag receives a quoted strong ETag of the bytes. Both
 * malloc'd. */
pv_err vd_keeper_jwks(struct vd_keeper *k, char **json, size_t *len, char **etag) PV_WUR;
/* pv_jwt_verify against the current JWK Set; *kid (malloc'd, may be NULL
 * on return) is the token's kid when the header could be read. */
pv_err vd_keeper_jwt_verify(struct vd_keeper *k, const char *token, time_t now, cJSON **claims,
			    char **kid) PV_WUR;

/* ---- derivation ---- */

/* HMAC-SHA256 on the token with an hmac-sha256 key (active version). */
pv_err vd_keeper_derive(struct vd_keeper *k, const char *name, const uint8_t *ctx, size_t len,
			uint8_t mac[32], unsigned *version) PV_WUR;
/* ECDH (CKM_ECDH1_DERIVE, P-256) with the active version of a p256 key;
 * the shared secret (x coordinate, 32 bytes) in guarded memory. */
pv_err vd_keeper_ecdh(struct vd_keeper *k, const char *name, EVP_PKEY *peer, pv_secret **shared,
		      unsigned *version) PV_WUR;

/* ---- boot bundle and secrets ---- */

/*
 * Load what cfg->bundle and cfg->secrets name: open the bundle on the token
 * (design.md: DEK unwrapped into the token), decrypt env/file entries into
 * guarded memory, unwrap private-key entries into the token as session
 * objects, and read the configured environment variables. cfg->bundle
 * absent: only the environment. Bundle errors are those of src/bundle.
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
