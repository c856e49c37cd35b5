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
 * Searches (OSSL_STORE_find): by alias, the alias is the key's name
 * ("p11vault:" + alias) or the object's label ("pkcs11:...;object=" + alias);
 * a URI that names an object already must name the same one, or nothing is
 * found. By subject (direct backend), the token's certificates with that
 * subject, one per load. A URI that names no object ("p11vault:",
 * "pkcs11:token=T") is taken only with a search: the store lists nothing.
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

#include "core/keymeta.h"
#include "provider/provider.h"

struct store_ctx {
	p11v_prov *prov;
	char *uri;
	int expect;             /* OSSL_STORE_INFO_*, 0 = anything */
	char *alias;            /* OSSL_STORE_PARAM_ALIAS, or NULL */
	unsigned char *subject; /* OSSL_STORE_PARAM_SUBJECT (DER), or NULL */
	size_t subject_len;
	struct p11v_uri u;       /* the URI, parsed at the first load */
	struct p11v_certs found; /* a subject search's certificates */
	size_t next;             /* the next of them to hand over */
	int started, done;
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
    OSSL_PARAM_utf8_string(OSSL_STORE_PARAM_ALIAS, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_STORE_PARAM_SUBJECT, NULL, 0),
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
	if ((q = OSSL_PARAM_locate_const(params, OSSL_STORE_PARAM_ALIAS)) != NULL) {
		OPENSSL_free(c->alias);
		c->alias = NULL;
		if (!OSSL_PARAM_get_utf8_string(q, &c->alias, 0))
			return 0;
	}
	if ((q = OSSL_PARAM_locate_const(params, OSSL_STORE_PARAM_SUBJECT)) != NULL) {
		OPENSSL_free(c->subject);
		c->subject = NULL;
		if (!OSSL_PARAM_get_octet_string(q, (void **)&c->subject, 0, &c->subject_len))
			return 0;
	}
	/* issuer and serial, fingerprint: not offered (OSSL_STORE_supports_search
	 * says so from the settable list) */
	return 1;
}

/* The URI parsed, the alias applied: 1 = something to load, 0 = nothing
 * matches (not an error), -1 = error raised. */
static int
prepare(struct store_ctx *c)
{
	const char *why = NULL;

	if (!p11v_uri_parse_store(c->uri, &c->u, &why)) {
		p11v_raise(c->prov, P11V_R_BAD_URI, "%s", why != NULL ? why : "no key reference");
		return -1;
	}
	if (c->alias != NULL) {
		if (c->alias[0] == '\0' || strlen(c->alias) >= sizeof(c->u.name)) {
			p11v_raise(c->prov, P11V_R_BAD_URI, "an alias is a name of 1 to 64 bytes");
			return -1;
		}
		if (!c->u.is_pkcs11 && !pv_key_name_valid(c->alias))
			return 0; /* no p11vault key has that name */
		if (c->u.name[0] != '\0' && strcmp(c->u.name, c->alias) != 0)
			return 0;
		(void)snprintf(c->u.name, sizeof(c->u.name), "%s", c->alias);
		c->u.collection = 0;
	}
	if (c->subject != NULL) {
		/* certificates only; the URI may name none */
		if (c->expect != 0 && c->expect != OSSL_STORE_INFO_CERT)
			return 0;
		if (!p11v_backend_certs_by_subject(c->prov, &c->u, c->subject, c->subject_len, &c->found))
			return -1;
		return c->found.n > 0;
	}
	if (c->u.collection) {
		p11v_raise(
		    c->prov, P11V_R_BAD_URI,
		    "the URI names no object: add a name, object= or id=, or search by alias or subject");
		return -1;
	}
	return 1;
}

/* Whether the caller wants the certificate rather than the key. */
static int
wants_cert(const struct store_ctx *c)
{
	return c->expect == OSSL_STORE_INFO_CERT || c->u.want_cert;
}

static int
give_cert(OSSL_CALLBACK *cb, void *cbarg, unsigned char *der, size_t derlen)
{
	OSSL_PARAM params[3];
	int type = OSSL_OBJECT_CERT;

	params[0] = OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &type);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_DATA, der, derlen);
	params[2] = OSSL_PARAM_construct_end();
	return cb(params, cbarg);
}

static int
load_cert(struct store_ctx *c, OSSL_CALLBACK *cb, void *cbarg)
{
	unsigned char *der = NULL;
	size_t derlen = 0;
	int ok;

	if (!p11v_backend_cert_ref(c->prov, &c->u, &der, &derlen))
		return 0;
	ok = give_cert(cb, cbarg, der, derlen);
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
	if (c->expect == OSSL_STORE_INFO_PUBKEY)
		return 1;
	return c->u.is_pkcs11 && !c->u.want_private && !c->u.want_cert;
}

static int
load_key(struct store_ctx *c, OSSL_CALLBACK *cb, void *cbarg)
{
	OSSL_PARAM params[4];
	int type = OSSL_OBJECT_PKEY;
	char dtype[16];
	p11v_key *k = NULL;
	EVP_PKEY *pub = NULL;

	if (c->key == NULL && (k = p11v_backend_load_ref(c->prov, &c->u)) == NULL)
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
	int ready;

	if (c->done)
		return 0;
	if (!c->started) {
		c->started = 1;
		if ((ready = prepare(c)) <= 0) {
			c->done = 1;
			return ready == 0; /* nothing found is no error */
		}
	}
	if (c->subject != NULL) {
		/* one certificate per load, until they are all handed over */
		size_t i = c->next++;

		c->done = c->next >= c->found.n;
		return give_cert(object_cb, object_cbarg, c->found.ders[i], c->found.lens[i]);
	}
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
	p11v_certs_free(&c->found);
	OPENSSL_free(c->subject);
	OPENSSL_free(c->alias);
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
