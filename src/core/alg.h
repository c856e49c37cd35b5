/*
 * The algorithms p11vault keys can have, and what each needs from a token.
 * One table (alg.c) so that key creation, signing, export and `doctor` agree.
 */
#ifndef PV_ALG_H
#define PV_ALG_H

#include <stddef.h>
#include <stdint.h>

#include <p11-kit/pkcs11.h>

#include "base/err.h"
#include "core/digest.h"

typedef enum pv_alg {
	PV_ALG_NONE = 0,
	PV_ALG_ED25519,
	PV_ALG_SECP256K1,
	PV_ALG_P256,
	PV_ALG_P384,
	PV_ALG_RSA2048,
	PV_ALG_RSA3072,
	PV_ALG_RSA4096,
	PV_ALG_AES256,
	PV_ALG_HMAC_SHA256,
} pv_alg;

enum pv_alg_family {
	PV_FAMILY_EC,    /* ECDSA over a named Weierstrass curve */
	PV_FAMILY_EDDSA, /* Ed25519 */
	PV_FAMILY_RSA,
	PV_FAMILY_AES,  /* key-encryption keys */
	PV_FAMILY_HMAC, /* derivation keys */
};

struct pv_alg_info {
	pv_alg alg;
	const char *name; /* "p256" */
	enum pv_alg_family family;
	CK_KEY_TYPE ckk;
	CK_MECHANISM_TYPE keygen; /* CKM_EC_KEY_PAIR_GEN, ... */
	CK_MECHANISM_TYPE sign;   /* raw signing mechanism (over a digest) */
	const uint8_t *ec_params; /* DER OID of the curve (EC/EdDSA), else NULL */
	size_t ec_params_len;
	CK_ULONG bits;            /* RSA modulus bits / symmetric key bits */
	size_t field_len;         /* EC scalar length (r and s each), 0 otherwise */
	pv_digest default_digest; /* for `sign` without --digest */
	const char *jwk_crv;      /* "P-256", "secp256k1", "Ed25519" or NULL */
};

const struct pv_alg_info *pv_alg_info(pv_alg alg);
/* PV_ALG_NONE if unknown. */
pv_alg pv_alg_from_name(const char *name);
/* Identify an EC/EdDSA curve by its DER-encoded CKA_EC_PARAMS (OID, or the
 * printable-string form "edwards25519" some tokens use). */
pv_alg pv_alg_from_ec_params(const uint8_t *der, size_t len);
int pv_alg_is_asymmetric(pv_alg alg);
/* All algorithms, for help text and doctor: iterate until PV_ALG_NONE. */
extern const pv_alg pv_alg_all[];

#endif
