/*
 * KEYMGMT for EC (P-256, P-384), RSA, RSA-PSS and ED25519 (issue 16).
 *
 * A keydata is a small wrapper around a p11v_key: empty after new(), filled
 * by load() (a key the store or the decoder found: the reference is the
 * p11v_key pointer, of which load takes a reference of its own) or by
 * import() (a public key only, e.g. a certificate's, which EVP_PKEY_eq and
 * the X.509 code import to compare with ours). Everything public is answered
 * from the key's public half, an EVP_PKEY of the default provider in the
 * provider's private library context; nothing private is ever exported or
 * imported.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "base/defs.h"
#include "provider/provider.h"

struct p11v_kd {
	p11v_prov *p;
	enum p11v_ktype t;
	p11v_key *k; /* NULL while empty */
	int has_pub; /* 0 after an import of domain parameters only */
};

p11v_key *
p11v_keydata_key(void *keydata)
{
	struct p11v_kd *kd = keydata;

	return kd != NULL && kd->has_pub ? kd->k : NULL;
}

const char *
p11v_ktype_name(enum p11v_ktype t)
{
	switch (t) {
	case P11V_KT_EC:
		return "EC";
	case P11V_KT_RSA:
		return "RSA";
	case P11V_KT_RSA_PSS:
		return "RSA-PSS";
	case P11V_KT_ED25519:
		return "ED25519";
	}
	return "?";
}

static struct p11v_kd *
kd_alloc(p11v_prov *p, enum p11v_ktype t)
{
	struct p11v_kd *kd = calloc(1, sizeof(*kd));

	if (kd == NULL) {
		p11v_raise(p, P11V_R_INTERNAL, "out of memory");
		return NULL;
	}
	kd->p = p;
	kd->t = t;
	return kd;
}

static void
km_free(void *keydata)
{
	struct p11v_kd *kd = keydata;

	if (kd == NULL)
		return;
	p11v_key_free(kd->k);
	free(kd);
}

/* ---- new, load, dup ---- */

#define P11V_KM_NEW(suffix, type)                                                                            \
	static void *km_new_##suffix(void *provctx)                                                          \
	{                                                                                                    \
		return kd_alloc(provctx, type);                                                              \
	}

P11V_KM_NEW(ec, P11V_KT_EC)
P11V_KM_NEW(rsa, P11V_KT_RSA)
P11V_KM_NEW(rsapss, P11V_KT_RSA_PSS)
P11V_KM_NEW(ed25519, P11V_KT_ED25519)

/*
 * The reference is what the store (or the decoder) passed as
 * OSSL_OBJECT_PARAM_REFERENCE: the bytes of a p11v_key pointer. The caller
 * keeps its own reference (and frees it after its object callback); the
 * keydata made here holds another one.
 */
static void *
kd_load(enum p11v_ktype t, const void *reference, size_t reference_sz)
{
	p11v_key *k = NULL;
	struct p11v_kd *kd;

	if (reference == NULL || reference_sz != sizeof(k))
		return NULL;
	memcpy(&k, reference, sizeof(k));
	if (k == NULL)
		return NULL;
	if (p11v_key_type(k) != t) {
		p11v_raise(p11v_key_prov(k), P11V_R_UNSUPPORTED, "the key is not of type %s",
			   p11v_ktype_name(t));
		return NULL;
	}
	kd = kd_alloc(p11v_key_prov(k), t);
	if (kd == NULL)
		return NULL;
	p11v_key_up_ref(k);
	kd->k = k;
	kd->has_pub = 1;
	return kd;
}

#define P11V_KM_LOAD(suffix, type)                                                                           \
	static void *km_load_##suffix(const void *reference, size_t reference_sz)                            \
	{                                                                                                    \
		return kd_load(type, reference, reference_sz);                                               \
	}

P11V_KM_LOAD(ec, P11V_KT_EC)
P11V_KM_LOAD(rsa, P11V_KT_RSA)
P11V_KM_LOAD(rsapss, P11V_KT_RSA_PSS)
P11V_KM_LOAD(ed25519, P11V_KT_ED25519)

static void *
km_dup(const void *keydata, int selection)
{
	const struct p11v_kd *src = keydata;
	struct p11v_kd *kd;

	(void)selection;
	if (src == NULL)
		return NULL;
	kd = kd_alloc(src->p, src->t);
	if (kd == NULL)
		return NULL;
	if (src->k != NULL)
		p11v_key_up_ref(src->k);
	kd->k = src->k;
	kd->has_pub = src->has_pub;
	return kd;
}

/* ---- has, match, validate ---- */

static int
km_has(const void *keydata, int selection)
{
	const struct p11v_kd *kd = keydata;
	int ok = 1;

	if (kd == NULL)
		return 0;
	if ((selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) != 0)
		ok = ok && kd->k != NULL && kd->has_pub;
	if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0)
		ok = ok && kd->k != NULL && kd->has_pub && p11v_key_ref(kd->k) != NULL;
	if ((selection & OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS) != 0 && kd->t == P11V_KT_EC)
		ok = ok && kd->k != NULL;
	return ok;
}

static int
km_validate(const void *keydata, int selection, int checktype)
{
	const struct p11v_kd *kd = keydata;
	EVP_PKEY_CTX *c;
	int ok;

	(void)checktype;
	if (!km_has(keydata, selection))
		return 0;
	if ((selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) == 0)
		return 1;
	/* The public half, in software; the private half stays on the token. */
	c = EVP_PKEY_CTX_new_from_pkey(p11v_libctx(kd->p), p11v_key_pub(kd->k), NULL);
	if (c == NULL)
		return 0;
	ok = EVP_PKEY_public_check(c) == 1;
	EVP_PKEY_CTX_free(c);
	return ok;
}

static int
km_match(const void *keydata1, const void *keydata2, int selection)
{
	const struct p11v_kd *a = keydata1, *b = keydata2;

	if (a == NULL || b == NULL || a->k == NULL || b->k == NULL || a->t != b->t)
		return 0;
	if ((selection & OSSL_KEYMGMT_SELECT_KEYPAIR) != 0) {
		/* Private halves cannot be compared: ours stay on the token, and
		 * a key pair is the same when its public halves are. */
		if (!a->has_pub || !b->has_pub)
			return 0;
		return EVP_PKEY_eq(p11v_key_pub(a->k), p11v_key_pub(b->k)) == 1;
	}
	if ((selection & OSSL_KEYMGMT_SELECT_ALL_PARAMETERS) != 0)
		return EVP_PKEY_parameters_eq(p11v_key_pub(a->k), p11v_key_pub(b->k)) == 1;
	return 1;
}

/* ---- import, export ---- */

static int
has_private_params(const OSSL_PARAM params[])
{
	static const char *const priv[] = {
	    OSSL_PKEY_PARAM_PRIV_KEY,         OSSL_PKEY_PARAM_RSA_D,
	    OSSL_PKEY_PARAM_RSA_FACTOR1,      OSSL_PKEY_PARAM_RSA_EXPONENT1,
	    OSSL_PKEY_PARAM_RSA_COEFFICIENT1,
	};
	size_t i;

	for (i = 0; i < PV_NELEM(priv); i++)
		if (OSSL_PARAM_locate_const(params, priv[i]) != NULL)
			return 1;
	return 0;
}

static int
km_import(void *keydata, int selection, const OSSL_PARAM params[])
{
	struct p11v_kd *kd = keydata;
	EVP_PKEY_CTX *c = NULL;
	EVP_PKEY *pk = NULL;
	int which, ok = 0;

	if (kd == NULL || params == NULL)
		return 0;
	if (kd->k != NULL) {
		p11v_raise(kd->p, P11V_R_UNSUPPORTED, "import into a key that is not empty");
		return 0;
	}
	/* A private key in software is not ours to use: refuse it, so that
	 * OpenSSL keeps such keys with the provider they came from (#509). */
	if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0 && has_private_params(params)) {
		p11v_raise(kd->p, P11V_R_UNSUPPORTED, "p11vault does not import private keys");
		return 0;
	}
	if ((selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) != 0) {
		which = EVP_PKEY_PUBLIC_KEY;
	} else if ((selection & OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS) != 0 && kd->t == P11V_KT_EC) {
		which = EVP_PKEY_KEY_PARAMETERS;
	} else {
		p11v_raise(kd->p, P11V_R_UNSUPPORTED, "nothing to import (a public key is needed)");
		return 0;
	}
	c = EVP_PKEY_CTX_new_from_name(p11v_libctx(kd->p), p11v_ktype_name(kd->t), NULL);
	if (c == NULL || EVP_PKEY_fromdata_init(c) != 1 ||
	    EVP_PKEY_fromdata(c, &pk, which, (OSSL_PARAM *)(uintptr_t)params) != 1) {
		p11v_raise(kd->p, P11V_R_UNSUPPORTED, "cannot import the %s public key",
			   p11v_ktype_name(kd->t));
		goto out;
	}
	kd->k = p11v_key_new(kd->p, kd->t, pk, NULL);
	pk = NULL; /* taken by p11v_key_new */
	if (kd->k == NULL)
		goto out;
	kd->has_pub = which == EVP_PKEY_PUBLIC_KEY;
	ok = 1;
out:
	EVP_PKEY_free(pk);
	EVP_PKEY_CTX_free(c);
	return ok;
}

static int
km_export(void *keydata, int selection, OSSL_CALLBACK *cb, void *cbarg)
{
	struct p11v_kd *kd = keydata;

	if (kd == NULL || kd->k == NULL)
		return 0;
	/* Strict: a request that includes the private key fails as a whole,
	 * so that OpenSSL never mistakes a public copy for the key pair. */
	if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0)
		return 0;
	if ((selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) != 0 && !kd->has_pub)
		return 0;
	return EVP_PKEY_export(p11v_key_pub(kd->k), selection, cb, cbarg);
}

/* What import and export handle, by type. */
static const OSSL_PARAM ec_types[] = {
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_ENCODING, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_FIELD_TYPE, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_EC_P, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_EC_A, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_EC_B, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_EC_GENERATOR, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_EC_ORDER, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_EC_COFACTOR, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_EC_SEED, NULL, 0),
    OSSL_PARAM_int(OSSL_PKEY_PARAM_USE_COFACTOR_ECDH, NULL),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
    OSSL_PARAM_END,
};
static const OSSL_PARAM rsa_types[] = {
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
    OSSL_PARAM_END,
};
static const OSSL_PARAM rsapss_types[] = {
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_RSA_DIGEST, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_RSA_MASKGENFUNC, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_RSA_MGF1_DIGEST, NULL, 0),
    OSSL_PARAM_int(OSSL_PKEY_PARAM_RSA_PSS_SALTLEN, NULL),
    OSSL_PARAM_END,
};
static const OSSL_PARAM ed25519_types[] = {
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
    OSSL_PARAM_END,
};

#define P11V_KM_TYPES(suffix, list)                                                                          \
	static const OSSL_PARAM *km_types_##suffix(int selection)                                            \
	{                                                                                                    \
		(void)selection;                                                                             \
		return list;                                                                                 \
	}

P11V_KM_TYPES(ec, ec_types)
P11V_KM_TYPES(rsa, rsa_types)
P11V_KM_TYPES(rsapss, rsapss_types)
P11V_KM_TYPES(ed25519, ed25519_types)

/* ---- get_params ---- */

/*
 * Answered by the public half (the default provider's implementation of
 * the same type): bits, security-bits, max-size (the largest signature),
 * default-digest / mandatory-digest, EC group, encoded point and point
 * format, RSA n and e, RSA-PSS restrictions.
 */
static int
km_get_params(void *keydata, OSSL_PARAM params[])
{
	struct p11v_kd *kd = keydata;

	if (kd == NULL || kd->k == NULL)
		return 0;
	return EVP_PKEY_get_params(p11v_key_pub(kd->k), params);
}

#define P11V_KM_COMMON_GETTABLE                                                                              \
	OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL), OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),     \
	    OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL)

static const OSSL_PARAM ec_gettable[] = {
    P11V_KM_COMMON_GETTABLE,
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_ENCODING, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_EC_PUB_X, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_EC_PUB_Y, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_EC_ORDER, NULL, 0),
    OSSL_PARAM_END,
};
static const OSSL_PARAM rsa_gettable[] = {
    P11V_KM_COMMON_GETTABLE,
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
    OSSL_PARAM_END,
};
static const OSSL_PARAM rsapss_gettable[] = {
    P11V_KM_COMMON_GETTABLE,
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_RSA_DIGEST, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_RSA_MASKGENFUNC, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_RSA_MGF1_DIGEST, NULL, 0),
    OSSL_PARAM_int(OSSL_PKEY_PARAM_RSA_PSS_SALTLEN, NULL),
    OSSL_PARAM_END,
};
static const OSSL_PARAM ed25519_gettable[] = {
    P11V_KM_COMMON_GETTABLE,
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_MANDATORY_DIGEST, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
    OSSL_PARAM_END,
};

#define P11V_KM_GETTABLE(suffix, list)                                                                       \
	static const OSSL_PARAM *km_gettable_##suffix(void *provctx)                                         \
	{                                                                                                    \
		(void)provctx;                                                                               \
		return list;                                                                                 \
	}

P11V_KM_GETTABLE(ec, ec_gettable)
P11V_KM_GETTABLE(rsa, rsa_gettable)
P11V_KM_GETTABLE(rsapss, rsapss_gettable)
P11V_KM_GETTABLE(ed25519, ed25519_gettable)

/* ---- query_operation_name: the algorithm of each operation ---- */

static const char *
km_opname_ec(int operation_id)
{
	switch (operation_id) {
	case OSSL_OP_SIGNATURE:
		return "ECDSA";
	case OSSL_OP_KEYEXCH:
		return "ECDH";
	}
	return NULL;
}

static const char *
km_opname_rsa(int operation_id)
{
	(void)operation_id;
	return "RSA";
}

static const char *
km_opname_ed25519(int operation_id)
{
	return operation_id == OSSL_OP_SIGNATURE ? "ED25519" : NULL;
}

/* ---- the dispatch tables ---- */

#define P11V_KM_TABLE(suffix, opname)                                                                        \
	const OSSL_DISPATCH p11v_##suffix##_keymgmt_functions[] = {                                          \
	    {OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))km_new_##suffix},                                        \
	    {OSSL_FUNC_KEYMGMT_LOAD, (void (*)(void))km_load_##suffix},                                      \
	    {OSSL_FUNC_KEYMGMT_FREE, (void (*)(void))km_free},                                               \
	    {OSSL_FUNC_KEYMGMT_DUP, (void (*)(void))km_dup},                                                 \
	    {OSSL_FUNC_KEYMGMT_HAS, (void (*)(void))km_has},                                                 \
	    {OSSL_FUNC_KEYMGMT_VALIDATE, (void (*)(void))km_validate},                                       \
	    {OSSL_FUNC_KEYMGMT_MATCH, (void (*)(void))km_match},                                             \
	    {OSSL_FUNC_KEYMGMT_IMPORT, (void (*)(void))km_import},                                           \
	    {OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))km_types_##suffix},                             \
	    {OSSL_FUNC_KEYMGMT_EXPORT, (void (*)(void))km_export},                                           \
	    {OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))km_types_##suffix},                             \
	    {OSSL_FUNC_KEYMGMT_GET_PARAMS, (void (*)(void))km_get_params},                                   \
	    {OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS, (void (*)(void))km_gettable_##suffix},                       \
	    {OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME, (void (*)(void))opname},                                \
	    {0, NULL},                                                                                       \
	}

P11V_KM_TABLE(ec, km_opname_ec);
P11V_KM_TABLE(rsa, km_opname_rsa);
P11V_KM_TABLE(rsapss, km_opname_rsa);
P11V_KM_TABLE(ed25519, km_opname_ed25519);
