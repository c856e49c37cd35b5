/*
 * OSSL_STORE for "p11vault:NAME[;version=N]" and RFC 7512 "pkcs11:" URIs.
 *
 * A reference yields one object: the key (OSSL_OBJECT_PKEY, passed by
 * reference: the p11v_key pointer as an octet string of sizeof(p11v_key *);
 * the keymgmt's load takes its own reference with p11v_key_up_ref, the
 * store keeps its own until close), or, for a pkcs11: URI with type=cert or
 * when the caller expects a certificate, the certificate on the token
 * (OSSL_OBJECT_CERT, the DER).
 *
 * The URI is resolved at the first load, not at open: opening a store
 * touches nothing on the token.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <openssl/store.h>

#include "provider/provider.h"

struct store_ctx {
	p11v_prov *prov;
	char *uri;
	int expect; /* OSSL_STORE_INFO_*, 0 = anything */
	int done;
	p11v_key *key; /* the loaded key, kept until close */
};

static void *
store_open(void *provctx, const char *uri)
{
	struct store_ctx *c;

	if (uri == NULL)
		return NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL || (c->uri = strdup(uri)) == NULL) {
		free(c);
		p11v_raise(provctx, P11V_R_INTERNAL, "out of memory");
		return NULL;
	}
	c->prov = provctx;
	return c;
}

static const OSSL_PARAM settable[] = {
    OSSL_PARAM_int(OSSL_STORE_PARAM_EXPECT, NULL),
    OSSL_PARAM_END,
};

static const OSSL_PARAM *
store_settable(void *provctx)
{
	(void)provctx;
	return settable;
}

static int
store_set_params(void *ctx, const OSSL_PARAM params[])
{
	struct store_ctx *c = ctx;
	const OSSL_PARAM *q;

	if (params == NULL)
		return 1;
	if ((q = OSSL_PARAM_locate_const(params, OSSL_STORE_PARAM_EXPECT)) != NULL &&
	    !OSSL_PARAM_get_int(q, &c->expect))
		return 0;
	/* subject, issuer, serial, fingerprint, alias: a reference names one
	 * object already; a search by them is not offered */
	return 1;
}

/* Whether the caller wants the certificate rather than the key. */
static int
wants_cert(const struct store_ctx *c)
{
	struct p11v_uri u;

	if (c->expect == OSSL_STORE_INFO_CERT)
		return 1;
	return p11v_uri_parse(c->uri, &u, NULL) && u.want_cert;
}

static int
load_cert(struct store_ctx *c, OSSL_CALLBACK *cb, void *cbarg)
{
	OSSL_PARAM params[3];
	unsigned char *der = NULL;
	size_t derlen = 0;
	int type = OSSL_OBJECT_CERT, ok;

	if (!p11v_backend_cert(c->prov, c->uri, &der, &derlen))
		return 0;
	params[0] = OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &type);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_DATA, der, derlen);
	params[2] = OSSL_PARAM_construct_end();
	ok = cb(params, cbarg);
	OPENSSL_free(der);
	return ok;
}

/* Whether the caller wants only the public key: OSSL_STORE_expect(PUBKEY)
 * (openssl pkey -pubin, pkeyutl -verify -pubin) or a pkcs11: URI with
 * type=public. OpenSSL drops a private key object when it expects a public
 * one, so the store hands over a key without the token reference. */
static int
wants_public(const struct store_ctx *c)
{
	struct p11v_uri u;

	if (c->expect == OSSL_STORE_INFO_PUBKEY)
		return 1;
	return p11v_uri_parse(c->uri, &u, NULL) && u.is_pkcs11 && !u.want_private && !u.want_cert;
}

static int
load_key(struct store_ctx *c, OSSL_CALLBACK *cb, void *cbarg)
{
	OSSL_PARAM params[4];
	int type = OSSL_OBJECT_PKEY;
	char dtype[16];
	p11v_key *k = NULL;
	EVP_PKEY *pub = NULL;

	if (c->key == NULL && (k = p11v_backend_load(c->prov, c->uri)) == NULL)
		return 0;
	if (k != NULL && wants_public(c)) {
		/* the public half alone, so that it is one of what was asked for */
		if ((pub = EVP_PKEY_dup(p11v_key_pub(k))) == NULL) {
			p11v_key_free(k);
			p11v_raise(c->prov, P11V_R_INTERNAL, "cannot copy the public key");
			return 0;
		}
		c->key = p11v_key_new(c->prov, p11v_key_type(k), pub, NULL);
		p11v_key_free(k);
		if (c->key == NULL)
			return 0;
	} else if (k != NULL) {
		c->key = k;
	}
	(void)snprintf(dtype, sizeof(dtype), "%s", p11v_ktype_name(p11v_key_type(c->key)));
	params[0] = OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &type);
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA_TYPE, dtype, 0);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_REFERENCE, &c->key, sizeof(c->key));
	params[3] = OSSL_PARAM_construct_end();
	return cb(params, cbarg);
}

static int
store_load(void *ctx, OSSL_CALLBACK *object_cb, void *object_cbarg, OSSL_PASSPHRASE_CALLBACK *pw_cb,
	   void *pw_cbarg)
{
	struct store_ctx *c = ctx;

	/* the PIN comes from the provider's configuration, never a prompt */
	(void)pw_cb;
	(void)pw_cbarg;
	if (c->done)
		return 0;
	c->done = 1;
	if (wants_cert(c))
		return load_cert(c, object_cb, object_cbarg);
	return load_key(c, object_cb, object_cbarg);
}

static int
store_eof(void *ctx)
{
	return ((struct store_ctx *)ctx)->done;
}

static int
store_close(void *ctx)
{
	struct store_ctx *c = ctx;

	if (c == NULL)
		return 1;
	p11v_key_free(c->key);
	free(c->uri);
	free(c);
	return 1;
}

const OSSL_DISPATCH p11v_store_functions[] = {
    {OSSL_FUNC_STORE_OPEN, (void (*)(void))store_open},
    {OSSL_FUNC_STORE_SETTABLE_CTX_PARAMS, (void (*)(void))store_settable},
    {OSSL_FUNC_STORE_SET_CTX_PARAMS, (void (*)(void))store_set_params},
    {OSSL_FUNC_STORE_LOAD, (void (*)(void))store_load},
    {OSSL_FUNC_STORE_EOF, (void (*)(void))store_eof},
    {OSSL_FUNC_STORE_CLOSE, (void (*)(void))store_close},
    {0, NULL},
};
