/*
 * Signing and verification with named, versioned keys. The digest is
 * computed in software (or supplied: --digest none) and the token signs
 * it; Ed25519 and HMAC sign the message itself. Verification of asymmetric
 * signatures runs in software (OpenSSL) against the public key read from
 * the token; HMAC verification runs on the token.
 */
#ifndef PV_SIGN_H
#define PV_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "core/digest.h"
#include "core/keys.h"

#define PV_SIGN_INPUT_MAX (1024 * 1024)
#define PV_SIG_MAX        512 /* RSA-4096 */

struct pv_sign_opts {
	pv_key_purpose purpose; /* required: the key must have this purpose */
	unsigned version;       /* 0 = the active version */
	pv_digest digest;       /* PV_DIGEST_DEFAULT = the algorithm's default */
	int pss;                /* RSA: RSASSA-PSS instead of PKCS#1 v1.5 */
	/*
	 * The caller decided this request with o->version (not 0) as the
	 * active version, and a rotation may have overtaken it since: sign
	 * with it also when it is verify-only now (the state a rotation or an
	 * activation leaves the previous active version in). Never a retired
	 * or a next version. Set only where the caller itself resolved the
	 * version as active (the wallet signers; vaultd's keeper decides it).
	 */
	int overtaken_ok;
};

/* A signature in raw form (r||s for ECDSA) and what produced it. */
struct pv_sig {
	uint8_t bytes[PV_SIG_MAX];
	size_t len;
	pv_alg alg;
	unsigned version;
	pv_digest digest; /* the digest actually applied (NONE: message) */
};

/*
 * Sign with the active version (opts->version 0) or with the version named,
 * which must be active (PV_ERR_STATE otherwise; see overtaken_ok above).
 * out->version says which version signed.
 */
pv_err pv_sign(pv_keystore *ks, const char *name, const struct pv_sign_opts *opts, const uint8_t *msg,
	       size_t msglen, struct pv_sig *out) PV_WUR;

/* PV_OK, or PV_ERR_BAD_SIGNATURE. sig is raw (r||s for ECDSA). */
pv_err pv_verify(pv_keystore *ks, const char *name, const struct pv_sign_opts *opts, const uint8_t *msg,
		 size_t msglen, const uint8_t *sig, size_t siglen) PV_WUR;

/*
 * The same two operations for a key that is not a named keystore key (e.g.
 * a bundle's private key unwrapped into the token as a session object):
 * pv_sign_obj signs with obj as a key of algorithm alg (o->version and
 * o->purpose are ignored: the caller checks the object's purpose; out->version is 0); pv_verify_pub verifies in software against
 * pk, which must be a key of alg. Same input rules and errors as above.
 */
pv_err pv_sign_obj(p11_token *tok, p11_obj *obj, pv_alg alg, const struct pv_sign_opts *opts,
		   const uint8_t *msg, size_t msglen, struct pv_sig *out) PV_WUR;
pv_err pv_verify_pub(EVP_PKEY *pk, pv_alg alg, const struct pv_sign_opts *opts, const uint8_t *msg,
		     size_t msglen, const uint8_t *sig, size_t siglen) PV_WUR;

#endif
