/*
 * KEYEXCH: ECDH with a token EC key of purpose derive (issue 16), through
 * p11v_backend_derive (the keeper checks the purpose); or with an
 * ephemeral key (keymgmt.c's gen: the ECDHE key of a TLS handshake), by the
 * default provider's ECDH in the private library context. The result is
 * what OpenSSL's own ECDH returns with no KDF: the x coordinate of the
 * shared point, as long as the field. A KDF (X9.63) is not offered; a size
 * query never reaches the token.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "provider/provider.h"

struct kxctx {
	p11v_prov *p;
	p11v_key *k;
	p11v_key *peer;
};

static void *
kx_newctx(void *provctx)
{
	struct kxctx *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		p11v_raise(provctx, P11V_R_INTERNAL, "out of memory");
		return NULL;
	}
	c->p = provctx;
	return c;
}

static void
kx_freectx(void *ctx)
{
	struct kxctx *c = ctx;

	if (c == NULL)
		return;
	p11v_key_free(c->k);
	p11v_key_free(c->peer);
	free(c);
}

static void *
kx_dupctx(void *ctx)
{
	struct kxctx *src = ctx, *c;

	c = kx_newctx(src->p);
	if (c == NULL)
		return NULL;
	if (src->k != NULL)
		p11v_key_up_ref(src->k);
	if (src->peer != NULL)
		p11v_key_up_ref(src->peer);
	c->k = src->k;
	c->peer = src->peer;
	return c;
}

static int
kx_set_ctx_params(void *ctx, const OSSL_PARAM params[])
{
	struct kxctx *c = ctx;
	const OSSL_PARAM *p;
	const char *s = NULL;
	int mode;

	if (params == NULL)
		return 1;
	/* The token's ECDH is plain (cofactor 1 for the NIST curves) and has no KDF. */
	if ((p = OSSL_PARAM_locate_const(params, OSSL_EXCHANGE_PARAM_EC_ECDH_COFACTOR_MODE)) != NULL) {
		if (!OSSL_PARAM_get_int(p, &mode))
			return 0;
		if (mode != -1 && mode != 0 && mode != 1)
			return 0;
	}
	if ((p = OSSL_PARAM_locate_const(params, OSSL_EXCHANGE_PARAM_KDF_TYPE)) != NULL) {
		if (!OSSL_PARAM_get_utf8_string_ptr(p, &s))
			return 0;
		if (s[0] != '\0') {
			p11v_raise(c->p, P11V_R_UNSUPPORTED, "ECDH with a token key offers no KDF (%s)", s);
			return 0;
		}
	}
	return 1;
}

static const OSSL_PARAM *
kx_settable_ctx_params(void *ctx, void *provctx)
{
	static const OSSL_PARAM settable[] = {
	    OSSL_PARAM_int(OSSL_EXCHANGE_PARAM_EC_ECDH_COFACTOR_MODE, NULL),
	    OSSL_PARAM_utf8_string(OSSL_EXCHANGE_PARAM_KDF_TYPE, NULL, 0),
	    OSSL_PARAM_END,
	};

	(void)ctx;
	(void)provctx;
	return settable;
}

static int
kx_get_ctx_params(void *ctx, OSSL_PARAM params[])
{
	OSSL_PARAM *p;

	(void)ctx;
	if ((p = OSSL_PARAM_locate(params, OSSL_EXCHANGE_PARAM_KDF_TYPE)) != NULL &&
	    !OSSL_PARAM_set_utf8_string(p, ""))
		return 0;
	return 1;
}

static const OSSL_PARAM *
kx_gettable_ctx_params(void *ctx, void *provctx)
{
	static const OSSL_PARAM gettable[] = {
	    OSSL_PARAM_utf8_string(OSSL_EXCHANGE_PARAM_KDF_TYPE, NULL, 0),
	    OSSL_PARAM_END,
	};

	(void)ctx;
	(void)provctx;
	return gettable;
}

static int
kx_init(void *ctx, void *provkey, const OSSL_PARAM params[])
{
	struct kxctx *c = ctx;
	p11v_key *k = p11v_keydata_key(provkey);

	if (k == NULL || p11v_key_type(k) != P11V_KT_EC) {
		p11v_raise(c->p, P11V_R_UNSUPPORTED, "ECDH needs an EC key");
		return 0;
	}
	if (p11v_key_ref(k) == NULL && p11v_key_ephemeral(k) == NULL) {
		p11v_raise(c->p, P11V_R_UNSUPPORTED,
			   "a public key cannot derive (load the key from the token)");
		return 0;
	}
	p11v_key_up_ref(k);
	p11v_key_free(c->k);
	c->k = k;
	return kx_set_ctx_params(c, params);
}

static int
kx_set_peer(void *ctx, void *provkey)
{
	struct kxctx *c = ctx;
	p11v_key *peer = p11v_keydata_key(provkey);

	if (c->k == NULL || peer == NULL || p11v_key_type(peer) != P11V_KT_EC) {
		p11v_raise(c->p, P11V_R_UNSUPPORTED, "the ECDH peer must be an EC public key");
		return 0;
	}
	if (EVP_PKEY_parameters_eq(p11v_key_pub(c->k), p11v_key_pub(peer)) != 1) {
		p11v_raise(c->p, P11V_R_UNSUPPORTED, "the ECDH peer key is on another curve");
		return 0;
	}
	p11v_key_up_ref(peer);
	p11v_key_free(c->peer);
	c->peer = peer;
	return 1;
}

/* ECDH with an ephemeral key pair, in software (the private library
 * context's default provider). */
static int
kx_derive_ephemeral(struct kxctx *c, unsigned char *secret, size_t *secretlen, size_t outlen)
{
	EVP_PKEY_CTX *d;
	size_t len = outlen;
	int ok;

	d = EVP_PKEY_CTX_new_from_pkey(p11v_libctx(c->p), p11v_key_ephemeral(c->k), NULL);
	ok = d != NULL && EVP_PKEY_derive_init(d) == 1 &&
	     EVP_PKEY_derive_set_peer(d, p11v_key_pub(c->peer)) == 1 && EVP_PKEY_derive(d, secret, &len) == 1;
	EVP_PKEY_CTX_free(d);
	if (!ok) {
		p11v_raise(c->p, P11V_R_INTERNAL, "ECDH with an ephemeral key failed");
		return 0;
	}
	*secretlen = len;
	return 1;
}

static int
kx_derive(void *ctx, unsigned char *secret, size_t *secretlen, size_t outlen)
{
	struct kxctx *c = ctx;
	unsigned char point[200];
	size_t pointlen = 0, field;
	int bits;

	if (c->k == NULL || c->peer == NULL) {
		p11v_raise(c->p, P11V_R_INTERNAL, "ECDH without a key and a peer");
		return 0;
	}
	bits = EVP_PKEY_get_bits(p11v_key_pub(c->k));
	if (bits <= 0)
		return 0;
	field = ((size_t)bits + 7) / 8;
	if (secret == NULL) {
		*secretlen = field; /* a size query: the token is not asked */
		return 1;
	}
	if (outlen < field) {
		p11v_raise(c->p, P11V_R_INTERNAL, "output buffer too small (%zu bytes, %zu needed)", outlen,
			   field);
		return 0;
	}
	if (p11v_key_ephemeral(c->k) != NULL)
		return kx_derive_ephemeral(c, secret, secretlen, outlen);
	/* The peer's point, uncompressed (the default provider's encoding). */
	if (EVP_PKEY_get_octet_string_param(p11v_key_pub(c->peer), OSSL_PKEY_PARAM_PUB_KEY, point,
					    sizeof(point), &pointlen) != 1 ||
	    pointlen != 2 * field + 1 || point[0] != 0x04) {
		p11v_raise(c->p, P11V_R_UNSUPPORTED, "cannot read the ECDH peer's point");
		return 0;
	}
	return p11v_backend_derive(c->k, point, pointlen, secret, secretlen, outlen);
}

const OSSL_DISPATCH p11v_ecdh_keyexch_functions[] = {
    {OSSL_FUNC_KEYEXCH_NEWCTX, (void (*)(void))kx_newctx},
    {OSSL_FUNC_KEYEXCH_FREECTX, (void (*)(void))kx_freectx},
    {OSSL_FUNC_KEYEXCH_DUPCTX, (void (*)(void))kx_dupctx},
    {OSSL_FUNC_KEYEXCH_INIT, (void (*)(void))kx_init},
    {OSSL_FUNC_KEYEXCH_SET_PEER, (void (*)(void))kx_set_peer},
    {OSSL_FUNC_KEYEXCH_DERIVE, (void (*)(void))kx_derive},
    {OSSL_FUNC_KEYEXCH_SET_CTX_PARAMS, (void (*)(void))kx_set_ctx_params},
    {OSSL_FUNC_KEYEXCH_SETTABLE_CTX_PARAMS, (void (*)(void))kx_settable_ctx_params},
    {OSSL_FUNC_KEYEXCH_GET_CTX_PARAMS, (void (*)(void))kx_get_ctx_params},
    {OSSL_FUNC_KEYEXCH_GETTABLE_CTX_PARAMS, (void (*)(void))kx_gettable_ctx_params},
    {0, NULL},
};
