/*
 * The keystore and its caches: metadata copies per name (with a TTL), the
 * handle cache per (name, version), and resolving a version to its token
 * objects and public key through them.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/keys_internal.h"
#include "core/pubcache.h"
#include "core/pubkey.h"
#include "pkcs11/objuri.h"

struct handle_entry {
	char name[PV_KEY_NAME_MAX + 1];
	unsigned version;
	p11_obj obj; /* handle + token generation it belongs to */
};

pv_err
pv_keystore_new(p11_token *tok, pv_keystore **out)
{
	pv_keystore *ks = NULL;

	*out = NULL;
	if ((ks = calloc(1, sizeof(*ks))) == NULL)
		return PV_ERR_NOMEM;
	if (pv_pubcache_new(&ks->pub) != PV_OK) {
		free(ks);
		return PV_ERR_NOMEM;
	}
	if (pthread_mutex_init(&ks->mu, NULL) != 0) {
		pv_pubcache_free(ks->pub);
		free(ks);
		return PV_ERR_INTERNAL;
	}
	ks->tok = tok;
	*out = ks;
	return PV_OK;
}

/* meta_at of a copy that must be read again before use (pv_keystore_flush) */
#define KS_CACHE_STALE ((time_t)-1)

static void
cache_clear(pv_keystore *ks)
{
	size_t i;

	for (i = 0; i < ks->nmeta; i++)
		pv_key_free(ks->meta[i]);
	free(ks->meta);
	free(ks->meta_at);
	ks->meta = NULL;
	ks->meta_at = NULL;
	ks->nmeta = 0;
	free(ks->handles);
	ks->handles = NULL;
	ks->nhandles = 0;
}

void
pv_keystore_free(pv_keystore *ks)
{
	if (ks == NULL)
		return;
	cache_clear(ks);
	pv_pubcache_free(ks->pub);
	pthread_mutex_destroy(&ks->mu);
	free(ks);
}

p11_token *
pv_keystore_token(pv_keystore *ks)
{
	return ks->tok;
}

static time_t
mono_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec;
}

void
pv_keystore_set_meta_ttl(pv_keystore *ks, unsigned seconds)
{
	pthread_mutex_lock(&ks->mu);
	ks->meta_ttl = seconds;
	pthread_mutex_unlock(&ks->mu);
}

void
pv_keystore_flush(pv_keystore *ks)
{
	size_t i;

	/* every copy is read again; the names are kept (ks_cache_knows) */
	pthread_mutex_lock(&ks->mu);
	for (i = 0; i < ks->nmeta; i++)
		ks->meta_at[i] = KS_CACHE_STALE;
	free(ks->handles);
	ks->handles = NULL;
	ks->nhandles = 0;
	pthread_mutex_unlock(&ks->mu);
	pv_pubcache_clear(ks->pub);
}

/* Replace or add the cached copy of a key (NULL key data = drop name). */
void
ks_cache_put(pv_keystore *ks, const char *name, const struct pv_key *key)
{
	struct pv_key *copy = NULL, **grown;
	time_t *grown_at;
	size_t i;

	if (key != NULL && pv_key_dup(key, &copy) != PV_OK)
		copy = NULL; /* caching is an optimisation: fall through to drop */
	pthread_mutex_lock(&ks->mu);
	for (i = 0; i < ks->nmeta; i++) {
		if (strcmp(ks->meta[i]->name, name) == 0) {
			pv_key_free(ks->meta[i]);
			--ks->nmeta;
			ks->meta[i] = ks->meta[ks->nmeta];
			ks->meta_at[i] = ks->meta_at[ks->nmeta];
			break;
		}
	}
	if (copy != NULL &&
	    (grown_at = reallocarray(ks->meta_at, ks->nmeta + 1, sizeof(*grown_at))) != NULL) {
		ks->meta_at = grown_at;
		if ((grown = reallocarray(ks->meta, ks->nmeta + 1, sizeof(*grown))) != NULL) {
			ks->meta = grown;
			ks->meta_at[ks->nmeta] = mono_now();
			ks->meta[ks->nmeta++] = copy;
			copy = NULL;
		}
	}
	pthread_mutex_unlock(&ks->mu);
	pv_key_free(copy);
}

pv_err
ks_cache_get(pv_keystore *ks, const char *name, struct pv_key **out)
{
	pv_err r = PV_ERR_NOT_FOUND;
	size_t i;

	*out = NULL;
	pthread_mutex_lock(&ks->mu);
	for (i = 0; i < ks->nmeta; i++) {
		if (strcmp(ks->meta[i]->name, name) == 0) {
			/* too old: read the token again (a rotation by another host) */
			if (ks->meta_at[i] == KS_CACHE_STALE ||
			    (ks->meta_ttl != 0 && mono_now() - ks->meta_at[i] >= (time_t)ks->meta_ttl))
				break;
			r = pv_key_dup(ks->meta[i], out);
			break;
		}
	}
	pthread_mutex_unlock(&ks->mu);
	return r;
}

/* Whether a key of this name was read before (its copy may be too old). */
int
ks_cache_knows(pv_keystore *ks, const char *name)
{
	int known = 0;
	size_t i;

	pthread_mutex_lock(&ks->mu);
	for (i = 0; i < ks->nmeta && !known; i++)
		known = strcmp(ks->meta[i]->name, name) == 0;
	pthread_mutex_unlock(&ks->mu);
	return known;
}

/* Cached reference for (name, version) with the same CKA_ID, if any. */
int
ks_handle_get(pv_keystore *ks, const char *name, unsigned version, p11_obj *obj)
{
	int found = 0;
	size_t i;

	pthread_mutex_lock(&ks->mu);
	for (i = 0; i < ks->nhandles; i++) {
		const struct handle_entry *e = &ks->handles[i];

		if (e->version == version && strcmp(e->name, name) == 0 && e->obj.cls == obj->cls &&
		    e->obj.id_len == obj->id_len && memcmp(e->obj.id, obj->id, obj->id_len) == 0) {
			*obj = e->obj;
			found = 1;
			break;
		}
	}
	pthread_mutex_unlock(&ks->mu);
	return found;
}

void
pv_keys_remember(pv_keystore *ks, const char *name, unsigned version, const p11_obj *obj)
{
	struct handle_entry *grown;
	size_t i;

	pthread_mutex_lock(&ks->mu);
	for (i = 0; i < ks->nhandles; i++) {
		if (ks->handles[i].version == version && strcmp(ks->handles[i].name, name) == 0)
			break;
	}
	if (i == ks->nhandles) {
		if ((grown = reallocarray(ks->handles, ks->nhandles + 1, sizeof(*grown))) == NULL)
			goto out; /* a cache: forgetting is allowed */
		ks->handles = grown;
		ks->nhandles++;
		snprintf(ks->handles[i].name, sizeof(ks->handles[i].name), "%s", name);
		ks->handles[i].version = version;
	}
	ks->handles[i].obj = *obj;
out:
	pthread_mutex_unlock(&ks->mu);
}

pv_err
pv_keys_resolve(pv_keystore *ks, const char *name, unsigned version, struct pv_key **key,
		struct pv_key_version *ver, p11_obj *obj)
{
	struct pv_key *k = NULL;
	struct pv_key_version *v = NULL;
	pv_err r;

	*key = NULL;
	if ((r = pv_keys_get(ks, name, &k)) != PV_OK)
		goto out;
	if (version == 0) {
		if ((v = pv_key_active(k)) == NULL) {
			pv_err_set_detail("key '%s' has no active version", name);
			r = PV_ERR_STATE;
			goto out;
		}
	} else if ((r = ks_find_version(k, version, &v)) != PV_OK) {
		goto out;
	}
	*ver = *v;
	ks_obj_ref(v, ks_secret_class(k->alg), obj);
	/* the handle cache: no C_FindObjects once a version has been used */
	if (!ks_handle_get(ks, name, v->version, obj)) {
		if ((r = p11_obj_find(ks->tok, obj)) != PV_OK) {
			if (r == PV_ERR_NOT_FOUND)
				pv_err_set_detail("the token has no key object for '%s' version %u", name,
						  v->version);
			goto out;
		}
		pv_keys_remember(ks, name, v->version, obj);
	}
	*key = k;
	k = NULL;
out:
	pv_key_free(k);
	return r;
}

pv_err
pv_keys_public(pv_keystore *ks, const struct pv_key *key, const struct pv_key_version *ver, EVP_PKEY **out)
{
	const struct pv_alg_info *ai = pv_alg_info(key->alg);
	uint8_t *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	pv_alg got = PV_ALG_NONE;
	p11_obj pub;
	pv_err r;

	*out = NULL;
	if (!pv_alg_is_asymmetric(key->alg)) {
		pv_err_set_detail("%s keys have no public half", ai->name);
		return PV_ERR_KEY_TYPE;
	}
	if ((*out = pv_pubcache_get(ks->pub, key->name, ver->version, ver->id, ver->id_len)) != NULL)
		return PV_OK;
	ks_obj_ref(ver, CKO_PUBLIC_KEY, &pub);
	if (ai->family == PV_FAMILY_RSA) {
		if ((r = p11_obj_get_attr(ks->tok, &pub, CKA_MODULUS, &a, &alen)) != PV_OK ||
		    (r = p11_obj_get_attr(ks->tok, &pub, CKA_PUBLIC_EXPONENT, &b, &blen)) != PV_OK)
			goto out;
		r = pv_pubkey_from_rsa(a, alen, b, blen, out);
	} else {
		if ((r = p11_obj_get_attr(ks->tok, &pub, CKA_EC_PARAMS, &a, &alen)) != PV_OK ||
		    (r = p11_obj_get_attr(ks->tok, &pub, CKA_EC_POINT, &b, &blen)) != PV_OK)
			goto out;
		r = pv_pubkey_from_ec(a, alen, b, blen, &got, out);
	}
	if (r == PV_OK && pv_pubkey_alg(*out) != key->alg) {
		EVP_PKEY_free(*out);
		*out = NULL;
		pv_err_set_detail("public key of '%s' v%u is not %s", key->name, ver->version, ai->name);
		r = PV_ERR_INTEGRITY;
	}
	if (r == PV_OK)
		pv_pubcache_put(ks->pub, key->name, ver->version, ver->id, ver->id_len, *out);
out:
	free(a);
	free(b);
	return r;
}

pv_err
pv_keys_uri(pv_keystore *ks, const struct pv_key *key, const struct pv_key_version *ver, char **out)
{
	uint8_t *label = NULL;
	char lbl[P11_LABEL_MAX];
	size_t len = 0;
	p11_obj o;
	pv_err r;

	*out = NULL;
	ks_obj_ref(ver, ks_secret_class(key->alg), &o);
	/* the label actually on the token (adopted keys keep their own) */
	if ((r = p11_obj_get_attr(ks->tok, &o, CKA_LABEL, &label, &len)) != PV_OK)
		goto out;
	if (len >= sizeof(lbl))
		len = sizeof(lbl) - 1;
	memcpy(lbl, label, len);
	lbl[len] = '\0';
	r = p11_object_uri(ks->tok, o.cls, lbl, ver->id, ver->id_len, out);
out:
	free(label);
	return r;
}
