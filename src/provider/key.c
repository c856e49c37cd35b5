/*
 * The key object: its public half (in the provider's library context) and,
 * for a token key, the reference the backend signs with. Shared by the
 * store, key management and signature contexts, so counted (atomically:
 * several threads sign with one key).
 */
#include "config.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "provider/provider.h"

struct p11v_key {
	atomic_int refs;
	p11v_prov *prov;
	enum p11v_ktype type;
	EVP_PKEY *pub;
	int has_ref;
	struct p11v_keyref ref;
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
