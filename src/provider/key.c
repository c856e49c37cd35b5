/*
 * The key object: its public half (in the provider's library context) and,
 * for a token key, the reference the backend signs with; for an ephemeral
 * key (ECDHE), the software key pair instead of a reference. Shared by the
 * store, key management and signature contexts, so counted (atomically:
 * several threads sign with one key).
 */
#include "config.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/params.h>

#include "provider/provider.h"

struct p11v_key {
	atomic_int refs;
	p11v_prov *prov;
	enum p11v_ktype type;
	EVP_PKEY *pub;
	int has_ref;
	struct p11v_keyref ref;
	EVP_PKEY *eph; /* an ephemeral software key pair (ECDHE), or NULL */
};

p11v_key *
p11v_key_new(p11v_prov *p, enum p11v_ktype t, EVP_PKEY *pub, const struct p11v_keyref *ref)
{
	p11v_key *k;

	if (pub == NULL)
		return NULL;
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		EVP_PKEY_free(pub);
		p11v_raise(p, P11V_R_INTERNAL, "out of memory");
		return NULL;
	}
	atomic_init(&k->refs, 1);
	k->prov = p;
	k->type = t;
	k->pub = pub;
	if (ref != NULL) {
		k->ref = *ref;
		k->has_ref = 1;
	}
	return k;
}

void
p11v_key_up_ref(p11v_key *k)
{
	if (k != NULL)
		atomic_fetch_add(&k->refs, 1);
}

void
p11v_key_free(p11v_key *k)
{
	if (k == NULL || atomic_fetch_sub(&k->refs, 1) != 1)
		return;
	EVP_PKEY_free(k->pub);
	EVP_PKEY_free(k->eph);
	free(k);
}

p11v_prov *
p11v_key_prov(const p11v_key *k)
{
	return k->prov;
}

enum p11v_ktype
p11v_key_type(const p11v_key *k)
{
	return k->type;
}

EVP_PKEY *
p11v_key_pub(const p11v_key *k)
{
	return k->pub;
}

const struct p11v_keyref *
p11v_key_ref(const p11v_key *k)
{
	return k->has_ref ? &k->ref : NULL;
}

p11v_key *
p11v_key_new_ephemeral(p11v_prov *p, EVP_PKEY *pair)
{
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *c = NULL;
	EVP_PKEY *pub = NULL;
	p11v_key *k = NULL;

	if (pair == NULL)
		return NULL;
	/* The public half: the group and the point only, so that nothing that
	 * reads the public half (export, get_params) can reach the private key. */
	if (EVP_PKEY_todata(pair, EVP_PKEY_PUBLIC_KEY, &params) != 1 ||
	    (c = EVP_PKEY_CTX_new_from_name(p11v_libctx(p), "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(c) != 1 || EVP_PKEY_fromdata(c, &pub, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		p11v_raise(p, P11V_R_INTERNAL, "cannot copy the public half of an ephemeral key");
		goto out;
	}
	k = p11v_key_new(p, P11V_KT_EC, pub, NULL);
	pub = NULL; /* taken by p11v_key_new */
	if (k == NULL)
		goto out;
	k->eph = pair;
	pair = NULL;
out:
	EVP_PKEY_free(pair);
	EVP_PKEY_free(pub);
	EVP_PKEY_CTX_free(c);
	OSSL_PARAM_free(params);
	return k;
}

EVP_PKEY *
p11v_key_ephemeral(const p11v_key *k)
{
	return k->eph;
}
