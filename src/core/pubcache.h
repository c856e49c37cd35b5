/*
 * Public keys read from the token, cached per key version. A version's
 * public key never changes, and reading it costs a C_FindObjects and two
 * attribute reads (plus OpenSSL's RSA public check) — for every JWT, whose
 * header carries the version's thumbprint. Entries are keyed by key name,
 * version and the version's CKA_ID (random per version), so a key destroyed
 * and made again under the same name and version never meets a stale
 * entry. Thread-safe; no lock is held outside these calls.
 */
#ifndef PV_PUBCACHE_H
#define PV_PUBCACHE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "base/err.h"

/* Entries kept; when full the cache starts over (keys are few). */
#define PV_PUBCACHE_MAX 256

struct pv_pubcache;

pv_err pv_pubcache_new(struct pv_pubcache **out) PV_WUR;
void pv_pubcache_free(struct pv_pubcache *c);
void pv_pubcache_clear(struct pv_pubcache *c);
/* A new reference to the cached key (EVP_PKEY_free it), or NULL. */
EVP_PKEY *pv_pubcache_get(struct pv_pubcache *c, const char *name, unsigned version, const uint8_t *id,
			  size_t id_len);
/* Remember pk (takes a reference of its own; pk stays the caller's).
 * Caching is an optimisation: a failure only means no entry. */
void pv_pubcache_put(struct pv_pubcache *c, const char *name, unsigned version, const uint8_t *id,
		     size_t id_len, EVP_PKEY *pk);

#endif
