/*
 * Public keys: built from the attributes a token returns, exported as SPKI
 * DER/PEM and JWK (with the RFC 7638 thumbprint used as JWT "kid"), and
 * used to verify signatures in software. OpenSSL 3 EVP_PKEY throughout.
 */
#ifndef PV_PUBKEY_H
#define PV_PUBKEY_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "base/err.h"
#include "core/alg.h"
#include "core/digest.h"

/*
 * EC or Ed25519 public key from CKA_EC_PARAMS (the curve; see
 * pv_alg_from_ec_params) and CKA_EC_POINT: a DER OCTET STRING around the
 * point (SoftHSM, PKCS#11 2.40) or the bare point. EC points must be
 * uncompressed (04||X||Y) and on the curve; Ed25519 points are 32 bytes.
 * *alg (may be NULL) receives the algorithm. Unknown curves are
 * PV_ERR_KEY_TYPE, malformed bytes PV_ERR_BAD_INPUT.
 */
pv_err pv_pubkey_from_ec(const uint8_t *params, size_t paramslen, const uint8_t *point, size_t pointlen,
			 pv_alg *alg, EVP_PKEY **out) PV_WUR;

/*
 * RSA public key from CKA_MODULUS and CKA_PUBLIC_EXPONENT (unsigned
 * big-endian, leading zeros allowed). The modulus must be 2048..8192 bits (the cap bounds verification cost).
 */
pv_err pv_pubkey_from_rsa(const uint8_t *mod, size_t modlen, const uint8_t *exp, size_t explen,
			  EVP_PKEY **out) PV_WUR;

/* The p11vault algorithm of a public key, PV_ALG_NONE if it is not one we
 * support (another curve, an RSA size outside 2048/3072/4096). */
pv_alg pv_pubkey_alg(const EVP_PKEY *pk);

/* SubjectPublicKeyInfo DER; *der is malloc'd (free()). */
pv_err pv_pubkey_spki_der(const EVP_PKEY *pk, uint8_t **der, size_t *derlen) PV_WUR;
/* "-----BEGIN PUBLIC KEY-----" PEM; malloc'd NUL-terminated (free()). */
pv_err pv_pubkey_pem(const EVP_PKEY *pk, char **pem) PV_WUR;

/*
 * The public JWK members only (RFC 7517/7518/8037/8812): EC {kty, crv, x, y}
 * with x and y field-length; OKP {kty, crv "Ed25519", x}; RSA {kty, n, e}.
 * The caller adds kid/alg/use. Free with cJSON_Delete.
 */
pv_err pv_pubkey_jwk(const EVP_PKEY *pk, cJSON **out) PV_WUR;

/*
 * RFC 7638 thumbprint: base64url(SHA-256(the required members of jwk in
 * lexicographic order, no whitespace)). Works on any JWK object with kty EC,
 * OKP or RSA; other members are ignored. *out is malloc'd (free()).
 */
pv_err pv_jwk_thumbprint(const cJSON *jwk, char **out) PV_WUR;
/* Thumbprint of a key's JWK. */
pv_err pv_pubkey_thumbprint(const EVP_PKEY *pk, char **out) PV_WUR;

/*
 * Verify a raw signature (pv_sig_parse output) in software.
 *   ECDSA:   over digest(msg), or over msg itself if msg_is_digest or
 *            digest is PV_DIGEST_NONE (then msg must be 32, 48 or 64 bytes).
 *   Ed25519: over msg (pure EdDSA); digest must be NONE/DEFAULT.
 *   RSA:     PKCS#1 v1.5, or PSS (salt = digest length, MGF1 with the same
 *            hash) if pss. The hash must be sha256/384/512 (NONE: guessed
 *            from the length of a prehashed msg).
 * PV_DIGEST_DEFAULT means the algorithm's default. alg must match the key
 * (PV_ERR_KEY_TYPE otherwise). Returns PV_OK or PV_ERR_BAD_SIGNATURE;
 * PV_ERR_USAGE for meaningless combinations.
 */
pv_err pv_pubkey_verify(EVP_PKEY *pk, pv_alg alg, int pss, pv_digest digest, const uint8_t *msg,
			size_t msglen, int msg_is_digest, const uint8_t *raw_sig, size_t siglen) PV_WUR;

#endif
