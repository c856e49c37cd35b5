/*
 * Sealer authentication (docs/bundle-format.md §6a, §7, §8): the optional
 * `sealer` member is a signature over the bundle's check by the key that
 * sealed it, so that a reader who trusts only some sealers refuses a bundle
 * made by anyone else — e.g. by someone who holds only an rsa-oaep
 * recipient's public key. format.c parses and writes the member; this file
 * makes the signed message, signs (a token key of purpose sign, or a
 * private key in memory) and verifies against a set of trusted public keys.
 */
#ifndef PV_BUNDLE_SEALER_H
#define PV_BUNDLE_SEALER_H

#include <openssl/evp.h>

#include "base/buf.h"
#include "base/err.h"
#include "bundle/format.h"
#include "core/keys.h"

#define PV_SEALER_MSG_MAX 512

/*
 * M = "p11vault-bundle-v1 sealer" ‖ 0x00 ‖ H ‖ check(28) ‖ lp(alg) ‖ lp(kid),
 * H being the §6 check digest of b. *out is a new buffer (pv_buf_free).
 */
pv_err pv_sealer_message(const struct pv_bundle *b, enum pv_sealer_alg alg, const char *kid,
			 pv_buf **out) PV_WUR;

/* b64u(SHA-256(DER SubjectPublicKeyInfo)) of pk (public or private key). */
pv_err pv_sealer_kid(const EVP_PKEY *pk, char kid[PV_SEALER_KID_LEN + 1]) PV_WUR;

/* The sealer algorithm of a key: P-256, Ed25519, RSA of 2048-4096 bits;
 * anything else is PV_ERR_KEY_TYPE with a detail saying what is accepted. */
pv_err pv_sealer_alg_for(const EVP_PKEY *pk, enum pv_sealer_alg *alg) PV_WUR;

/*
 * Verify b's sealer signature with pub (whose kid and type must match the
 * member): PV_OK, or PV_ERR_INTEGRITY with a detail.
 */
pv_err pv_sealer_check(const struct pv_bundle *b, EVP_PKEY *pub) PV_WUR;

/* ---- trusted sealers ---- */

typedef struct pv_sealer_trust pv_sealer_trust;

pv_err pv_sealer_trust_new(pv_sealer_trust **out) PV_WUR;
void pv_sealer_trust_free(pv_sealer_trust *t);
size_t pv_sealer_trust_count(const pv_sealer_trust *t);
/* Trust pub (a reference is taken; a key already trusted is not added
 * twice). PV_ERR_KEY_TYPE for a key that cannot be a sealer. */
pv_err pv_sealer_trust_add(pv_sealer_trust *t, EVP_PKEY *pub) PV_WUR;
/* A PEM SubjectPublicKeyInfo file ("-----BEGIN PUBLIC KEY-----"):
 * PV_ERR_NOT_FOUND / PV_ERR_IO when unreadable, PV_ERR_BAD_INPUT when it
 * holds no public key, PV_ERR_KEY_TYPE as above. */
pv_err pv_sealer_trust_add_pem_file(pv_sealer_trust *t, const char *path) PV_WUR;
/* Every version's public key of the token key name (versions whose public
 * key cannot be read are skipped; none at all is PV_ERR_NOT_FOUND). */
pv_err pv_sealer_trust_add_key(pv_sealer_trust *t, pv_keystore *ks, const char *name) PV_WUR;

/*
 * §7 step 2a, for a reader with trusted sealers: b must carry a sealer
 * whose kid is one of t's keys, whose alg fits that key and whose signature
 * verifies. Anything else is PV_ERR_INTEGRITY naming what failed.
 */
pv_err pv_sealer_verify(const struct pv_bundle *b, const pv_sealer_trust *t) PV_WUR;

/* ---- signing (after pv_bundle_seal_check: the signature covers the check) ---- */

/* With a private key in memory (OpenSSL EVP). */
pv_err pv_sealer_sign_pkey(struct pv_bundle *b, EVP_PKEY *priv) PV_WUR;
/*
 * With the active version of token key name, on the token (core/sign.h):
 * the key must have purpose sign (PV_ERR_PURPOSE) and be P-256, Ed25519 or
 * RSA-2048..4096 (PV_ERR_KEY_TYPE). The signature is verified in software
 * before it is stored.
 */
pv_err pv_sealer_sign_key(struct pv_bundle *b, pv_keystore *ks, const char *name) PV_WUR;
/* Drop the signature (an edit that is not signed again). */
void pv_sealer_clear(struct pv_bundle *b);

/*
 * An unencrypted PEM private key file, read into guarded memory, decoded
 * from there and wiped (PV_ERR_BAD_INPUT when it holds none; file errors
 * as pv_secret_read_file). The key must be one pv_sealer_alg_for accepts.
 */
pv_err pv_sealer_load_private_pem(const char *path, EVP_PKEY **out) PV_WUR;

#endif
