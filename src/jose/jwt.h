/*
 * JSON Web Tokens (RFC 7519) signed on the token, and the JWK Set that
 * publishes their public keys. The JWS compact serialization (RFC 7515) is
 * assembled here by hand: two base64url-encoded JSON documents and the
 * signature, joined by dots; the cryptography is pv_sign (on the token) and
 * pv_pubkey_verify (OpenSSL).
 *
 * JWS algorithm per key algorithm: p256 ES256, p384 ES384, secp256k1 ES256K
 * (ECDSA always low-S), ed25519 EdDSA, rsa* RS256 (PS256 on request). "kid" is the
 * RFC 7638 thumbprint of the signing version's public JWK.
 */
#ifndef PV_JWT_H
#define PV_JWT_H

#include <stddef.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "base/err.h"
#include "core/alg.h"
#include "core/keys.h"

#define PV_JWT_CLAIMS_MAX  16384 /* caller claims, serialized */
#define PV_JWT_TOKEN_MAX   32768 /* a whole compact token, in characters */
#define PV_JWT_HEADER_MAX  1024  /* decoded protected header */
#define PV_JWT_DEFAULT_TTL 300
#define PV_JWT_TTL_MAX     (366L * 24 * 3600) /* hard cap whatever the policy */

struct pv_jwt_opts {
	long ttl;                       /* seconds; 0 = PV_JWT_DEFAULT_TTL */
	long max_ttl;                   /* policy cap (ttl is lowered to it); 0 = PV_JWT_TTL_MAX */
	const char *iss;                /* NULL: no "iss" claim */
	int pss;                        /* RSA keys: PS256 instead of RS256 */
	int allow_override;             /* caller claims may set iat/nbf/exp/jti/iss */
	const char *const *allowed_aud; /* "aud" values allowed; none = any */
	size_t naud;
	time_t now; /* issue time; 0 = time(NULL) */
};

/* The JWS "alg" for a key algorithm ("ES256", ...), NULL if it cannot
 * sign JWTs (aes256, hmac-sha256). pss selects PS256 for RSA keys. */
const char *pv_jwt_alg_name(pv_alg alg, int pss);

/*
 * Issue a JWT signed by the active version of key NAME. claims must be a
 * JSON object (at most PV_JWT_CLAIMS_MAX bytes serialized). The service sets
 * iat, nbf (= iat), exp (= iat + ttl), jti (128 random bits, base64url) and
 * iss (o->iss). A caller claim named like one of those is PV_ERR_FORBIDDEN
 * (the detail names it) unless o->allow_override; an overriding iat, nbf
 * or exp must be an integer in 0..2^53-1 (PV_ERR_BAD_INPUT), and exp may
 * exceed neither now nor iat by more than the TTL cap (PV_ERR_FORBIDDEN),
 * so pv_jwt_verify accepts what is issued. When o->allowed_aud is
 * non-empty, "aud" is required (PV_ERR_FORBIDDEN, the detail names the
 * claim) and it (a string or an array of strings) must be in the list
 * (PV_ERR_FORBIDDEN). ECDSA signatures are issued low-S.
 * *token is malloc'd and NUL-terminated (free()).
 */
pv_err pv_jwt_issue(pv_keystore *ks, const char *name, const struct pv_jwt_opts *o, const cJSON *claims,
		    char **token) PV_WUR;

struct pv_jwt_verify_opts {
	time_t now;  /* the time the claims are checked against */
	long leeway; /* seconds of clock skew allowed for exp, nbf and iat (>= 0) */
	/*
	 * The longest lifetime (exp - iat, seconds) accepted for a token whose
	 * signature the key with this kid verified: *max receives it, 0 or
	 * anything above PV_JWT_TTL_MAX meaning PV_JWT_TTL_MAX. Another return
	 * than PV_OK is returned as is. NULL: PV_JWT_TTL_MAX for every key.
	 */
	pv_err (*max_lifetime)(void *arg, const char *kid, long *max);
	void *arg;
};

/*
 * Verify a compact JWS token against a JWK Set ({"keys":[...]}) in
 * software, then its claims. Strict: exactly three non-empty base64url
 * parts, no padding or whitespace; the header is a JSON object without
 * duplicate members, with "alg" and "kid" (both strings), without "crit",
 * "typ" absent or "JWT"; "none" and HMAC algorithms are refused. The key is
 * the JWK with that kid whose "alg" (if present) equals the header's and
 * whose kty/crv fit it. ECDSA signatures (ES256, ES384, ES256K) must be
 * low-S (s <= n/2, the curve order's half): the high-S twin of a valid
 * signature is refused, so a token has one signature.
 *
 * The payload must be a JSON object without duplicate members. "exp" and
 * "iat" are required, "nbf" optional; each must be an integer NumericDate
 * in 0..2^53-1 (not 1.5, -1, 1e300 or a string). The lifetime exp - iat
 * may not exceed o->max_lifetime for the kid (no issuer of ours makes a
 * longer one, so such a token was not issued under the policy); a token
 * without "iat" has no lifetime to bound and is refused. Then now must be
 * before exp + leeway, not before nbf - leeway, and iat not after
 * now + leeway.
 *
 * Errors: PV_ERR_BAD_INPUT (malformed token, header or payload, a
 * NumericDate out of range or not an integer), PV_ERR_KEY_TYPE (algorithm
 * refused or not matching the key), PV_ERR_NOT_FOUND (no key with that
 * kid), PV_ERR_BAD_SIGNATURE (including high-S), PV_ERR_FORBIDDEN (no
 * "iat", or a lifetime over the bound), PV_ERR_STATE (expired, not yet
 * valid, issued in the future). The detail says which. On success
 * *claims_out (may be NULL) receives the payload.
 */
pv_err pv_jwt_verify_ex(const cJSON *jwks, const char *token, const struct pv_jwt_verify_opts *o,
			cJSON **claims_out) PV_WUR;
/* pv_jwt_verify_ex with PV_JWT_TTL_MAX as the lifetime bound of every key. */
pv_err pv_jwt_verify(const cJSON *jwks, const char *token, time_t now, long leeway,
		     cJSON **claims_out) PV_WUR;

/*
 * The JWK Set of every JWT-capable key on the token (asymmetric, usage
 * sign): versions in state next, active and verify-only, ordered by name
 * and version, each {kty, crv|n/e, x/y, kid, alg, use:"sig"}. RSA versions
 * appear twice, as RS256 and as PS256, with the same kid (the same key).
 */
pv_err pv_jwks_build(pv_keystore *ks, cJSON **out) PV_WUR;
/* The same, and *names (may be NULL) an object mapping each kid in the set
 * to the name of its key ({"<kid>":"jwt-issuer",...}). */
pv_err pv_jwks_build_names(pv_keystore *ks, cJSON **out, cJSON **names) PV_WUR;
/* The same for one key (PV_ERR_KEY_TYPE if it cannot sign JWTs). */
pv_err pv_jwks_build_key(pv_keystore *ks, const char *name, cJSON **out) PV_WUR;

/* One version's public JWK with kid, alg and use (the JWKS entry). */
pv_err pv_jwks_entry(pv_keystore *ks, const struct pv_key *key, const struct pv_key_version *ver, int pss,
		     cJSON **out) PV_WUR;

#endif
