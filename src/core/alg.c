#include "config.h"

#include <string.h>

#include "core/alg.h"

/* DER encodings of the curve identifiers (CKA_EC_PARAMS). */
static const uint8_t oid_ed25519[] = {0x06, 0x03, 0x2b, 0x65, 0x70};               /* 1.3.101.112 */
static const uint8_t oid_secp256k1[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a}; /* 1.3.132.0.10 */
static const uint8_t oid_p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const uint8_t oid_p384[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22}; /* 1.3.132.0.34 */

/* Other spellings of Ed25519 seen on real tokens: the PKCS#11 3.0
 * PrintableString "edwards25519" and GnuPG's OID 1.3.6.1.4.1.11591.15.1. */
static const uint8_t str_edwards25519[] = {0x13, 0x0c, 'e', 'd', 'w', 'a', 'r',
					   'd',  's',  '2', '5', '5', '1', '9'};
static const uint8_t oid_ed25519_gnu[] = {0x06, 0x09, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xda, 0x47, 0x0f, 0x01};

/* bits: RSA modulus / symmetric key size, and for curves the key size tokens
 * report in CK_MECHANISM_INFO (SoftHSM says 256 for Ed25519). */
static const struct pv_alg_info algs[] = {
    {PV_ALG_ED25519, "ed25519", PV_FAMILY_EDDSA, CKK_EC_EDWARDS, CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EDDSA,
     oid_ed25519, sizeof(oid_ed25519), 256, 32, PV_DIGEST_NONE, "Ed25519"},
    {PV_ALG_SECP256K1, "secp256k1", PV_FAMILY_EC, CKK_EC, CKM_EC_KEY_PAIR_GEN, CKM_ECDSA, oid_secp256k1,
     sizeof(oid_secp256k1), 256, 32, PV_DIGEST_SHA256, "secp256k1"},
    {PV_ALG_P256, "p256", PV_FAMILY_EC, CKK_EC, CKM_EC_KEY_PAIR_GEN, CKM_ECDSA, oid_p256, sizeof(oid_p256),
     256, 32, PV_DIGEST_SHA256, "P-256"},
    {PV_ALG_P384, "p384", PV_FAMILY_EC, CKK_EC, CKM_EC_KEY_PAIR_GEN, CKM_ECDSA, oid_p384, sizeof(oid_p384),
     384, 48, PV_DIGEST_SHA384, "P-384"},
    {PV_ALG_RSA2048, "rsa2048", PV_FAMILY_RSA, CKK_RSA, CKM_RSA_PKCS_KEY_PAIR_GEN, CKM_RSA_PKCS, NULL, 0,
     2048, 0, PV_DIGEST_SHA256, NULL},
    {PV_ALG_RSA3072, "rsa3072", PV_FAMILY_RSA, CKK_RSA, CKM_RSA_PKCS_KEY_PAIR_GEN, CKM_RSA_PKCS, NULL, 0,
     3072, 0, PV_DIGEST_SHA256, NULL},
    {PV_ALG_RSA4096, "rsa4096", PV_FAMILY_RSA, CKK_RSA, CKM_RSA_PKCS_KEY_PAIR_GEN, CKM_RSA_PKCS, NULL, 0,
     4096, 0, PV_DIGEST_SHA256, NULL},
    {PV_ALG_AES256, "aes256", PV_FAMILY_AES, CKK_AES, CKM_AES_KEY_GEN, 0, NULL, 0, 256, 0, PV_DIGEST_NONE,
     NULL},
    {PV_ALG_HMAC_SHA256, "hmac-sha256", PV_FAMILY_HMAC, CKK_GENERIC_SECRET, CKM_GENERIC_SECRET_KEY_GEN,
     CKM_SHA256_HMAC, NULL, 0, 256, 0, PV_DIGEST_NONE, NULL},
};

const pv_alg pv_alg_all[] = {
    PV_ALG_ED25519, PV_ALG_SECP256K1, PV_ALG_P256,   PV_ALG_P384,        PV_ALG_RSA2048,
    PV_ALG_RSA3072, PV_ALG_RSA4096,   PV_ALG_AES256, PV_ALG_HMAC_SHA256, PV_ALG_NONE,
};

const struct pv_alg_info *
pv_alg_info(pv_alg alg)
{
	size_t i;

	for (i = 0; i < PV_NELEM(algs); i++)
		if (algs[i].alg == alg)
			return &algs[i];
	return NULL;
}

pv_alg
pv_alg_from_name(const char *name)
{
	size_t i;

	if (name == NULL)
		return PV_ALG_NONE;
	for (i = 0; i < PV_NELEM(algs); i++)
		if (strcmp(algs[i].name, name) == 0)
			return algs[i].alg;
	return PV_ALG_NONE;
}

static int
der_equal(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	return alen == blen && memcmp(a, b, alen) == 0;
}

pv_alg
pv_alg_from_ec_params(const uint8_t *der, size_t len)
{
	size_t i;

	if (der == NULL || len == 0)
		return PV_ALG_NONE;
	for (i = 0; i < PV_NELEM(algs); i++)
		if (algs[i].ec_params != NULL &&
		    der_equal(der, len, algs[i].ec_params, algs[i].ec_params_len))
			return algs[i].alg;
	if (der_equal(der, len, str_edwards25519, sizeof(str_edwards25519)) ||
	    der_equal(der, len, oid_ed25519_gnu, sizeof(oid_ed25519_gnu)))
		return PV_ALG_ED25519;
	return PV_ALG_NONE;
}

int
pv_alg_is_asymmetric(pv_alg alg)
{
	const struct pv_alg_info *ai = pv_alg_info(alg);

	return ai != NULL &&
	       (ai->family == PV_FAMILY_EC || ai->family == PV_FAMILY_EDDSA || ai->family == PV_FAMILY_RSA);
}
