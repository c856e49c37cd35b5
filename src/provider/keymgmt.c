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
 *
 * EC only: gen() makes an ephemeral key, in software in the private library
 * context, for the ECDHE key of a TLS handshake (libssl fetches its
 * ephemeral key's KEYMGMT with the server's property query, so under
 * "?provider=p11vault" it is ours); and set_params() takes the encoded
 * public key libssl gives the peer's share (a key made with
 * EVP_PKEY_copy_parameters, then EVP_PKEY_set1_encoded_public_key). An
 * ephemeral key is never on the token and never stored: it can derive
 * (keyexch.c), not sign or decrypt (it has no token reference), and only
 * its public half is exported.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* The EC domain parameters of pub (a public key or parameters), as a new
 * EVP_PKEY in the private library context; NULL with an error raised. */
static EVP_PKEY *
ec_params_of(p11v_prov *p, EVP_PKEY *pub)
{
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *c = NULL;
	EVP_PKEY *pk = NULL;

	if (EVP_PKEY_todata(pub, EVP_PKEY_KEY_PARAMETERS, &params) != 1 ||
	    (c = EVP_PKEY_CTX_new_from_name(p11v_libctx(p), "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(c) != 1 ||
	    EVP_PKEY_fromdata(c, &pk, EVP_PKEY_KEY_PARAMETERS, params) != 1) {
		p11v_raise(p, P11V_R_INTERNAL, "cannot copy the EC domain parameters");
		pk = NULL;
	}
	EVP_PKEY_CTX_free(c);
	OSSL_PARAM_free(params);
	return pk;
}

/*
 * What the selection asks for: everything (the same key, shared); the
 * public key without the private one (a public-only key); EC domain
 * parameters only (EVP_PKEY_copy_parameters, which libssl uses to make the
 * key that receives the peer's ECDHE share: parameters only, not our key).
 */
static void *
km_dup(const void *keydata, int selection)
{
	const struct p11v_kd *src = keydata;
	struct p11v_kd *kd;
	EVP_PKEY *pk;

	if (src == NULL)
		return NULL;
	kd = kd_alloc(src->p, src->t);
	if (kd == NULL)
		return NULL;
	if (src->k == NULL)
		return kd;
	if (src->t == P11V_KT_EC && (selection & OSSL_KEYMGMT_SELECT_KEYPAIR) == 0) {
		if ((pk = ec_params_of(src->p, p11v_key_pub(src->k))) == NULL ||
		    (kd->k = p11v_key_new(src->p, src->t, pk, NULL)) == NULL) {
			km_free(kd);
			return NULL;
		}
		return kd;
	}
	if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) == 0 &&
	    (selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) != 0 && src->has_pub &&
	    (p11v_key_ref(src->k) != NULL || p11v_key_ephemeral(src->k) != NULL)) {
		pk = p11v_key_pub(src->k);
		if (EVP_PKEY_up_ref(pk) != 1 || (kd->k = p11v_key_new(src->p, src->t, pk, NULL)) == NULL) {
			km_free(kd);
			return NULL;
		}
		kd->has_pub = 1;
		return kd;
	}
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
		ok = ok && kd->k != NULL && kd->has_pub &&
		     (p11v_key_ref(kd->k) != NULL || p11v_key_ephemeral(kd->k) != NULL);
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

/* ---- set_params (EC): the peer's ECDHE share ---- */

/*
 * OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY: an encoded point (what TLS carries)
 * on the curve the key already has, making it a public key. Only for keys
 * that are neither on the token nor generated here: those keep their own
 * public key.
 */
static int
km_set_params_ec(void *keydata, const OSSL_PARAM params[])
{
	struct p11v_kd *kd = keydata;
	const OSSL_PARAM *q;
	const void *pt = NULL;
	size_t ptlen = 0;
	char group[64];
	OSSL_PARAM in[3];
	EVP_PKEY_CTX *c = NULL;
	EVP_PKEY *pk = NULL;
	p11v_key *k;
	int ok = 0;

	if (kd == NULL)
		return 0;
	if (params == NULL ||
	    (q = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY)) == NULL)
		return 1;
	if (kd->k == NULL) {
		p11v_raise(kd->p, P11V_R_UNSUPPORTED, "an encoded public key needs the curve first");
		return 0;
	}
	if (p11v_key_ref(kd->k) != NULL || p11v_key_ephemeral(kd->k) != NULL) {
		p11v_raise(kd->p, P11V_R_UNSUPPORTED,
			   "the public key of a token or generated key cannot be replaced");
		return 0;
	}
	if (!OSSL_PARAM_get_octet_string_ptr(q, &pt, &ptlen) ||
	    EVP_PKEY_get_utf8_string_param(p11v_key_pub(kd->k), OSSL_PKEY_PARAM_GROUP_NAME, group,
					   sizeof(group), NULL) != 1) {
		p11v_raise(kd->p, P11V_R_UNSUPPORTED, "cannot set the encoded public key");
		return 0;
	}
	in[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
	in[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)(uintptr_t)pt, ptlen);
	in[2] = OSSL_PARAM_construct_end();
	/* fromdata checks that the point is on the curve */
	if ((c = EVP_PKEY_CTX_new_from_name(p11v_libctx(kd->p), "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(c) != 1 || EVP_PKEY_fromdata(c, &pk, EVP_PKEY_PUBLIC_KEY, in) != 1) {
		p11v_raise(kd->p, P11V_R_UNSUPPORTED, "the encoded public key is not a point on %s", group);
		goto out;
	}
	k = p11v_key_new(kd->p, kd->t, pk, NULL);
	pk = NULL; /* taken by p11v_key_new */
	if (k == NULL)
		goto out;
	p11v_key_free(kd->k);
	kd->k = k;
	kd->has_pub = 1;
	ok = 1;
out:
	EVP_PKEY_free(pk);
	EVP_PKEY_CTX_free(c);
	return ok;
}

static const OSSL_PARAM *
km_settable_ec(void *provctx)
{
	static const OSSL_PARAM settable[] = {
	    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, NULL, 0),
	    OSSL_PARAM_END,
	};

	(void)provctx;
	return settable;
}

/* ---- gen (EC): ephemeral keys for key exchange ---- */

/*
 * A key pair (or, for EVP_PKEY_paramgen, domain parameters) on P-256 or
 * P-384, generated in software by the default provider in the private
 * library context: the ECDHE key of one TLS handshake. Never a token key:
 * persistent keys are made with `vaultctl key create` only.
 */
struct p11v_gen {
	p11v_prov *p;
	int selection;
	const char *group; /* "P-256" or "P-384"; NULL until set */
};

static const char *
ec_gen_group(const char *name)
{
	static const struct {
		const char *name, *group;
	} groups[] = {
	    {"P-256", "P-256"}, {"prime256v1", "P-256"}, {"secp256r1", "P-256"},
	    {"P-384", "P-384"}, {"secp384r1", "P-384"},
	};
	size_t i;

	for (i = 0; i < PV_NELEM(groups); i++)
		if (strcasecmp(name, groups[i].name) == 0)
			return groups[i].group;
	return NULL;
}

static int
gen_set_params(void *genctx, const OSSL_PARAM params[])
{
	struct p11v_gen *g = genctx;
	const OSSL_PARAM *q;
	const char *s = NULL, *group;

	if (g == NULL)
		return 0;
	if (params == NULL)
		return 1;
	if ((q = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_GROUP_NAME)) != NULL) {
		if (!OSSL_PARAM_get_utf8_string_ptr(q, &s))
			return 0;
		if ((group = ec_gen_group(s)) == NULL) {
			p11v_raise(g->p, P11V_R_UNSUPPORTED, "EC key generation: %.64s is not P-256 or P-384",
				   s);
			return 0;
		}
		g->group = group;
	}
	if ((q = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_EC_ENCODING)) != NULL) {
		if (!OSSL_PARAM_get_utf8_string_ptr(q, &s))
			return 0;
		if (strcasecmp(s, OSSL_PKEY_EC_ENCODING_GROUP) != 0) {
			p11v_raise(g->p, P11V_R_UNSUPPORTED, "EC key generation: named curves only");
			return 0;
		}
	}
	if ((q = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT)) != NULL) {
		if (!OSSL_PARAM_get_utf8_string_ptr(q, &s))
			return 0;
		if (strcasecmp(s, OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED) != 0) {
			p11v_raise(g->p, P11V_R_UNSUPPORTED, "EC key generation: uncompressed points only");
			return 0;
		}
	}
	return 1;
}

static const OSSL_PARAM *
gen_settable_params(void *genctx, void *provctx)
{
	static const OSSL_PARAM settable[] = {
	    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
	    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_ENCODING, NULL, 0),
	    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, NULL, 0),
	    OSSL_PARAM_END,
	};

	(void)genctx;
	(void)provctx;
	return settable;
}

static void
gen_cleanup(void *genctx)
{
	free(genctx);
}

static void *
gen_init(void *provctx, int selection, const OSSL_PARAM params[])
{
	struct p11v_gen *g;

	if ((selection & (OSSL_KEYMGMT_SELECT_KEYPAIR | OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS)) == 0) {
		p11v_raise(provctx, P11V_R_UNSUPPORTED, "EC key generation: nothing to generate");
		return NULL;
	}
	if ((g = calloc(1, sizeof(*g))) == NULL) {
		p11v_raise(provctx, P11V_R_INTERNAL, "out of memory");
		return NULL;
	}
	g->p = provctx;
	g->selection = selection;
	if (!gen_set_params(g, params)) {
		gen_cleanup(g);
		return NULL;
	}
	return g;
}

/* The curve of a template key (libssl: the peer's share, whose curve the
 * server's own share must be on). */
static int
gen_set_template(void *genctx, void *templ)
{
	struct p11v_gen *g = genctx;
	struct p11v_kd *kd = templ;
	char name[64];
	const char *group;

	if (g == NULL || kd == NULL || kd->t != P11V_KT_EC || kd->k == NULL)
		return 0;
	if (EVP_PKEY_get_utf8_string_param(p11v_key_pub(kd->k), OSSL_PKEY_PARAM_GROUP_NAME, name,
					   sizeof(name), NULL) != 1 ||
	    (group = ec_gen_group(name)) == NULL) {
		p11v_raise(g->p, P11V_R_UNSUPPORTED,
			   "EC key generation: the template is not on P-256 or P-384");
		return 0;
	}
	g->group = group;
	return 1;
}

static void *
gen_ec(void *genctx, OSSL_CALLBACK *cb, void *cbarg)
{
	struct p11v_gen *g = genctx;
	int pair;
	EVP_PKEY_CTX *c = NULL;
	EVP_PKEY *pk = NULL;
	struct p11v_kd *kd = NULL;

	(void)cb;
	(void)cbarg;
	if (g == NULL)
		return NULL;
	if (g->group == NULL) {
		p11v_raise(g->p, P11V_R_UNSUPPORTED, "EC key generation needs a group (P-256 or P-384)");
		return NULL;
	}
	pair = (g->selection & OSSL_KEYMGMT_SELECT_KEYPAIR) != 0;
	if ((c = EVP_PKEY_CTX_new_from_name(p11v_libctx(g->p), "EC", NULL)) == NULL ||
	    (pair ? EVP_PKEY_keygen_init(c) : EVP_PKEY_paramgen_init(c)) != 1 ||
	    EVP_PKEY_CTX_set_group_name(c, g->group) != 1 || EVP_PKEY_generate(c, &pk) != 1) {
		p11v_raise(g->p, P11V_R_INTERNAL, "EC key generation on %s failed", g->group);
		goto out;
	}
	if ((kd = kd_alloc(g->p, P11V_KT_EC)) == NULL)
		goto out;
	kd->k = pair ? p11v_key_new_ephemeral(g->p, pk) : p11v_key_new(g->p, P11V_KT_EC, pk, NULL);
	pk = NULL; /* taken by either */
	if (kd->k == NULL) {
		km_free(kd);
		kd = NULL;
		goto out;
	}
	kd->has_pub = pair;
out:
	EVP_PKEY_free(pk);
	EVP_PKEY_CTX_free(c);
	return kd;
}

/*
 * The TLS groups whose keys gen makes (the provider's "TLS-GROUP"
 * capability). libssl registers a group only if the KEYMGMT it fetches for
 * the group's algorithm, with the SSL_CTX's property query, comes from the
 * provider that announced the group: under "?provider=p11vault" that
 * KEYMGMT is ours for "EC", so without this the default provider's NIST
 * groups are dropped (TLS 1.2 with an ECDSA certificate: "no shared
 * cipher"; TLS 1.3 with them alone: "no suitable key share"). Without such
 * a query, EC is the default provider's and these entries are not used.
 * Names, identifiers (RFC 8446) and strengths as the default provider's.
 */
int
p11v_keymgmt_capabilities(void *provctx, const char *capability, OSSL_CALLBACK *cb, void *arg)
{
	static const struct {
		const char *name, *internal;
		unsigned id, secbits;
	} groups[] = {
	    {"secp256r1", "prime256v1", 23, 128},
	    {"P-256", "prime256v1", 23, 128},
	    {"secp384r1", "secp384r1", 24, 192},
	    {"P-384", "secp384r1", 24, 192},
	};
	unsigned id, secbits, is_kem = 0;
	int min_tls = 0x0301 /* TLS 1.0 */, max_tls = 0, min_dtls = 0xFEFF /* DTLS 1.0 */, max_dtls = 0;
	OSSL_PARAM params[11];
	size_t i;

	(void)provctx;
	if (strcasecmp(capability, "TLS-GROUP") != 0)
		return 0;
	for (i = 0; i < PV_NELEM(groups); i++) {
		id = groups[i].id;
		secbits = groups[i].secbits;
		params[0] = OSSL_PARAM_construct_utf8_string(OSSL_CAPABILITY_TLS_GROUP_NAME,
							     (char *)(uintptr_t)groups[i].name, 0);
		params[1] = OSSL_PARAM_construct_utf8_string(OSSL_CAPABILITY_TLS_GROUP_NAME_INTERNAL,
							     (char *)(uintptr_t)groups[i].internal, 0);
		params[2] = OSSL_PARAM_construct_uint(OSSL_CAPABILITY_TLS_GROUP_ID, &id);
		params[3] = OSSL_PARAM_construct_utf8_string(OSSL_CAPABILITY_TLS_GROUP_ALG,
							     (char *)(uintptr_t) "EC", 0);
		params[4] = OSSL_PARAM_construct_uint(OSSL_CAPABILITY_TLS_GROUP_SECURITY_BITS, &secbits);
		params[5] = OSSL_PARAM_construct_uint(OSSL_CAPABILITY_TLS_GROUP_IS_KEM, &is_kem);
		params[6] = OSSL_PARAM_construct_int(OSSL_CAPABILITY_TLS_GROUP_MIN_TLS, &min_tls);
		params[7] = OSSL_PARAM_construct_int(OSSL_CAPABILITY_TLS_GROUP_MAX_TLS, &max_tls);
		params[8] = OSSL_PARAM_construct_int(OSSL_CAPABILITY_TLS_GROUP_MIN_DTLS, &min_dtls);
		params[9] = OSSL_PARAM_construct_int(OSSL_CAPABILITY_TLS_GROUP_MAX_DTLS, &max_dtls);
		params[10] = OSSL_PARAM_construct_end();
		if (!cb(params, arg))
			return 0;
	}
	return 1;
}

/* ---- query_operation_name: the algorithm of each operation ----
 *
 * Signatures are named by names only this provider offers (P11V_SIG_*,
 * provider.c registers our signature implementations under them too).
 * OpenSSL 3.0's EVP_DigestSignInit first fetches the signature algorithm
 * the keymgmt names from any provider: with "ECDSA" that is the default
 * provider's, and our key is offered to it by export, which fails (the
 * private key stays on the token); only then is ours fetched. That first
 * round cost about 5k instructions per EVP_DigestSignInit_ex. */

static const char *
km_opname_ec(int operation_id)
{
	switch (operation_id) {
	case OSSL_OP_SIGNATURE:
		return P11V_SIG_ECDSA_NAME;
	case OSSL_OP_KEYEXCH:
		return "ECDH";
	}
	return NULL;
}

static const char *
km_opname_rsa(int operation_id)
{
	return operation_id == OSSL_OP_SIGNATURE ? P11V_SIG_RSA_NAME : "RSA";
}

static const char *
km_opname_ed25519(int operation_id)
{
	return operation_id == OSSL_OP_SIGNATURE ? P11V_SIG_ED25519_NAME : NULL;
}

/* ---- the dispatch tables ---- */

#define P11V_KM_ENTRIES(suffix, opname)                                                                      \
	{OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))km_new_##suffix},                                            \
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
	{                                                                                                    \
		OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME, (void (*)(void))opname                               \
	}

#define P11V_KM_TABLE(suffix, opname)                                                                        \
	const OSSL_DISPATCH p11v_##suffix##_keymgmt_functions[] = {                                          \
	    P11V_KM_ENTRIES(suffix, opname),                                                                 \
	    {0, NULL},                                                                                       \
	}

/* EC: also the ephemeral keys of ECDHE (gen) and the peer's share (set_params). */
const OSSL_DISPATCH p11v_ec_keymgmt_functions[] = {
    P11V_KM_ENTRIES(ec, km_opname_ec),
    {OSSL_FUNC_KEYMGMT_SET_PARAMS, (void (*)(void))km_set_params_ec},
    {OSSL_FUNC_KEYMGMT_SETTABLE_PARAMS, (void (*)(void))km_settable_ec},
    {OSSL_FUNC_KEYMGMT_GEN_INIT, (void (*)(void))gen_init},
    {OSSL_FUNC_KEYMGMT_GEN_SET_TEMPLATE, (void (*)(void))gen_set_template},
    {OSSL_FUNC_KEYMGMT_GEN_SET_PARAMS, (void (*)(void))gen_set_params},
    {OSSL_FUNC_KEYMGMT_GEN_SETTABLE_PARAMS, (void (*)(void))gen_settable_params},
    {OSSL_FUNC_KEYMGMT_GEN, (void (*)(void))gen_ec},
    {OSSL_FUNC_KEYMGMT_GEN_CLEANUP, (void (*)(void))gen_cleanup},
    {0, NULL},
};
P11V_KM_TABLE(rsa, km_opname_rsa);
P11V_KM_TABLE(rsapss, km_opname_rsa);
P11V_KM_TABLE(ed25519, km_opname_ed25519);
