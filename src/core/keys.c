#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "core/keys.h"
#include "core/pubcache.h"
#include "core/pubkey.h"
#include "pkcs11/objuri.h"

#define KEY_ID_LEN  16
#define APPLICATION "p11vault"

struct pv_keystore {
	p11_token *tok;
	pthread_mutex_t mu; /* guards the caches only; never held across a token call */
	struct pv_key **meta;
	time_t *meta_at; /* when each cached copy was read (CLOCK_MONOTONIC s) */
	size_t nmeta;
	unsigned meta_ttl;            /* seconds a cached copy is trusted; 0 = until flushed */
	struct handle_entry *handles; /* the handle cache, per (name, version) */
	size_t nhandles;
	struct pv_pubcache *pub; /* public keys per (name, version, id); own lock */
};

struct handle_entry {
	char name[PV_KEY_NAME_MAX + 1];
	unsigned version;
	p11_obj obj; /* handle + token generation it belongs to */
};

static CK_BBOOL ck_true = CK_TRUE;
static CK_BBOOL ck_false = CK_FALSE;

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
	pthread_mutex_lock(&ks->mu);
	cache_clear(ks);
	pthread_mutex_unlock(&ks->mu);
	pv_pubcache_clear(ks->pub);
}

/* Replace or add the cached copy of a key (NULL key data = drop name). */
static void
cache_put(pv_keystore *ks, const char *name, const struct pv_key *key)
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

static pv_err
cache_get(pv_keystore *ks, const char *name, struct pv_key **out)
{
	pv_err r = PV_ERR_NOT_FOUND;
	size_t i;

	*out = NULL;
	pthread_mutex_lock(&ks->mu);
	for (i = 0; i < ks->nmeta; i++) {
		if (strcmp(ks->meta[i]->name, name) == 0) {
			/* too old: read the token again (a rotation by another host) */
			if (ks->meta_ttl != 0 && mono_now() - ks->meta_at[i] >= (time_t)ks->meta_ttl)
				break;
			r = pv_key_dup(ks->meta[i], out);
			break;
		}
	}
	pthread_mutex_unlock(&ks->mu);
	return r;
}

/* Cached reference for (name, version) with the same CKA_ID, if any. */
static int
handle_get(pv_keystore *ks, const char *name, unsigned version, p11_obj *obj)
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

/* ---- metadata object on the token ---- */

/*
 * Where a key's metadata lives. Tokens (SoftHSM among them) may refuse to
 * modify CKA_VALUE of a data object, so an update writes a new object with
 * a higher serial and then destroys the old one; a reader takes the highest
 * serial, so a crash between the two steps loses nothing.
 */
#define META_OLD_MAX 4
struct meta_loc {
	CK_OBJECT_HANDLE cur;
	CK_OBJECT_HANDLE old[META_OLD_MAX];
	size_t nold;
};

static pv_err
meta_load(pv_keystore *ks, const char *name, struct pv_key **out, struct meta_loc *loc)
{
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_ATTRIBUTE t[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_APPLICATION, (void *)(uintptr_t)APPLICATION, strlen(APPLICATION)},
	    {CKA_LABEL, (void *)(uintptr_t)name, strlen(name)},
	};
	CK_OBJECT_HANDLE *hs = NULL;
	struct pv_key *best = NULL, *k = NULL;
	uint8_t *val = NULL;
	size_t n = 0, i, len = 0;
	int tie = 0;
	pv_err r;

	*out = NULL;
	memset(loc, 0, sizeof(*loc));
	loc->cur = CK_INVALID_HANDLE;
	if ((r = p11_find_all(ks->tok, t, PV_NELEM(t), &hs, &n)) != PV_OK)
		goto out;
	if (n == 0) {
		pv_err_set_detail("no key named '%s'", name);
		r = PV_ERR_NOT_FOUND;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((r = p11_handle_get_attr(ks->tok, hs[i], CKA_VALUE, &val, &len)) != PV_OK)
			goto out;
		r = pv_keymeta_parse(val, len, &k);
		free(val);
		val = NULL;
		if (r != PV_OK)
			goto out;
		if (strcmp(k->name, name) != 0) {
			pv_err_set_detail("key metadata for '%s' names another key", name);
			r = PV_ERR_INTEGRITY;
			goto out;
		}
		if (best == NULL || k->serial > best->serial) {
			if (best != NULL && loc->nold < META_OLD_MAX)
				loc->old[loc->nold++] = loc->cur;
			pv_key_free(best);
			best = k;
			loc->cur = hs[i];
			tie = 0;
		} else {
			tie |= k->serial == best->serial;
			if (loc->nold < META_OLD_MAX)
				loc->old[loc->nold++] = hs[i];
			pv_key_free(k);
		}
		k = NULL;
	}
	if (tie) {
		pv_err_set_detail("two copies of the metadata of '%s' claim the same serial", name);
		r = PV_ERR_INTEGRITY;
		goto out;
	}
	*out = best;
	best = NULL;
	r = PV_OK;
out:
	free(hs);
	pv_key_free(k);
	pv_key_free(best);
	return r;
}

/* Destroy the metadata objects of a key (current and leftovers). */
static pv_err
meta_remove(pv_keystore *ks, const struct meta_loc *loc)
{
	pv_err r = PV_OK;
	size_t i;

	/* leftovers from an interrupted update: best effort, the reader
	 * ignores lower serials anyway */
	for (i = 0; i < loc->nold; i++) {
		if (p11_handle_destroy(ks->tok, loc->old[i]) != PV_OK)
			continue;
	}
	if (loc->cur != CK_INVALID_HANDLE)
		r = p11_handle_destroy(ks->tok, loc->cur);
	return r;
}

/*
 * Write changed metadata. Re-reads the stored serial first so that two
 * operators (or replicas) changing the same key do not silently overwrite
 * each other: the loser gets PV_ERR_STATE and retries.
 */
static pv_err
meta_store(pv_keystore *ks, struct pv_key *key, struct meta_loc *loc, int create)
{
	struct pv_key *cur = NULL;
	struct meta_loc again;
	char *json = NULL;
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	uint64_t serial = key->serial;
	pv_err r;

	if (!create) {
		if ((r = meta_load(ks, key->name, &cur, &again)) != PV_OK)
			goto out;
		if (cur->serial != key->serial || again.cur != loc->cur) {
			pv_err_set_detail("key '%s' was changed concurrently; try again", key->name);
			r = PV_ERR_STATE;
			goto out;
		}
	}
	key->serial = serial + 1;
	if ((r = pv_keymeta_serialize(key, &json)) != PV_OK)
		goto out;
	CK_ATTRIBUTE t[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_TOKEN, &ck_true, sizeof(ck_true)},
	    {CKA_PRIVATE, &ck_true, sizeof(ck_true)},
	    {CKA_LABEL, key->name, strlen(key->name)},
	    {CKA_APPLICATION, (void *)(uintptr_t)APPLICATION, strlen(APPLICATION)},
	    {CKA_VALUE, json, strlen(json)},
	};
	if ((r = p11_create_object(ks->tok, t, PV_NELEM(t), &h)) != PV_OK)
		goto out;
	/* the new copy is authoritative now (higher serial); drop the old */
	if (!create && meta_remove(ks, loc) != PV_OK) {
		/* harmless: readers take the highest serial; the next change
		 * removes it */
	}
	cache_put(ks, key->name, key);
out:
	if (r != PV_OK)
		key->serial = serial;
	free(json);
	pv_key_free(cur);
	return r;
}

/* ---- key objects ---- */

void
pv_keys_label(const struct pv_key *key, const struct pv_key_version *ver, char *buf, size_t len)
{
	snprintf(buf, len, "%s.v%u", key->name, ver->version);
}

static void
obj_ref(const struct pv_key_version *ver, CK_OBJECT_CLASS cls, p11_obj *obj)
{
	memset(obj, 0, sizeof(*obj));
	obj->cls = cls;
	memcpy(obj->id, ver->id, ver->id_len);
	obj->id_len = ver->id_len;
	obj->handle = CK_INVALID_HANDLE;
}

static CK_OBJECT_CLASS
secret_class(pv_alg alg)
{
	return pv_alg_is_asymmetric(alg) ? CKO_PRIVATE_KEY : CKO_SECRET_KEY;
}

/* What each object of a new version may do, from its algorithm and purpose
 * (the token's own enforcement of invariant 6 where it can express it). */
struct usage_attrs {
	CK_BBOOL sign, verify, encrypt, decrypt, wrap, unwrap, derive;
};

static void
usage_attrs(pv_alg alg, pv_key_purpose purpose, struct usage_attrs *u)
{
	memset(u, 0, sizeof(*u)); /* CK_FALSE */
	if (purpose == PV_PURPOSE_DERIVE && pv_alg_info(alg)->family == PV_FAMILY_EC) {
		/* an ECDH key derives and never signs */
		u->derive = CK_TRUE;
		return;
	}
	switch (pv_alg_info(alg)->family) {
	case PV_FAMILY_AES:
		/* a key-encryption key: it wraps and unwraps data keys and never
		 * encrypts data itself (the unwrapped data key does that) */
		u->wrap = u->unwrap = CK_TRUE;
		break;
	case PV_FAMILY_HMAC:
		u->sign = u->verify = CK_TRUE;
		break;
	case PV_FAMILY_RSA:
	case PV_FAMILY_EC:
	case PV_FAMILY_EDDSA:
		if (purpose == PV_PURPOSE_DECRYPT)
			u->encrypt = u->decrypt = u->wrap = u->unwrap = CK_TRUE;
		else
			u->sign = u->verify = CK_TRUE;
		break;
	}
}

struct want_bool {
	CK_ATTRIBUTE_TYPE type;
	CK_BBOOL want;
	const char *name;
};

static pv_err
check_bools(p11_token *tok, CK_OBJECT_HANDLE h, const struct want_bool *w, size_t n, const char *what)
{
	CK_BBOOL v = CK_FALSE;
	size_t i;
	pv_err r;

	for (i = 0; i < n; i++) {
		if ((r = p11_handle_get_bool(tok, h, w[i].type, &v)) != PV_OK)
			return r;
		if (v != w[i].want) {
			pv_err_set_detail("token reports %s=%s on the new %s (asked for %s)", w[i].name,
					  v ? "TRUE" : "FALSE", what, w[i].want ? "TRUE" : "FALSE");
			return PV_ERR_NOT_HONOURED;
		}
	}
	return PV_OK;
}

/*
 * The token must have kept the key sensitive, non-extractable, private and
 * persistent, and limited to the usage asked for (a decryption key that can
 * also sign would be a signing key nobody rotates as one); a token that
 * silently drops any of these is not trusted. hpub is CK_INVALID_HANDLE
 * for a secret key: then hpriv carries all the usage attributes.
 */
static pv_err
check_honoured(p11_token *tok, CK_OBJECT_HANDLE hpriv, CK_OBJECT_HANDLE hpub, const struct usage_attrs *u)
{
	static const struct want_bool protection[] = {
	    {CKA_TOKEN, CK_TRUE, "CKA_TOKEN"},
	    {CKA_PRIVATE, CK_TRUE, "CKA_PRIVATE"},
	    {CKA_SENSITIVE, CK_TRUE, "CKA_SENSITIVE"},
	    {CKA_EXTRACTABLE, CK_FALSE, "CKA_EXTRACTABLE"},
	    {CKA_ALWAYS_SENSITIVE, CK_TRUE, "CKA_ALWAYS_SENSITIVE"},
	    {CKA_NEVER_EXTRACTABLE, CK_TRUE, "CKA_NEVER_EXTRACTABLE"},
	};
	const struct want_bool priv[] = {
	    {CKA_SIGN, u->sign, "CKA_SIGN"},
	    {CKA_DECRYPT, u->decrypt, "CKA_DECRYPT"},
	    {CKA_UNWRAP, u->unwrap, "CKA_UNWRAP"},
	    {CKA_DERIVE, u->derive, "CKA_DERIVE"},
	};
	const struct want_bool pub[] = {
	    {CKA_VERIFY, u->verify, "CKA_VERIFY"},
	    {CKA_ENCRYPT, u->encrypt, "CKA_ENCRYPT"},
	    {CKA_WRAP, u->wrap, "CKA_WRAP"},
	};
	int secret = hpub == CK_INVALID_HANDLE;
	pv_err r;

	if ((r = check_bools(tok, hpriv, protection, PV_NELEM(protection), "key")) != PV_OK ||
	    (r = check_bools(tok, hpriv, priv, PV_NELEM(priv), "key")) != PV_OK)
		return r;
	return check_bools(tok, secret ? hpriv : hpub, pub, PV_NELEM(pub), secret ? "key" : "public key");
}

/* Generate one version's objects; on any failure nothing is left behind. */
static pv_err
generate_version(pv_keystore *ks, const char *name, pv_alg alg, pv_key_purpose purpose, unsigned version,
		 uint8_t *id, size_t id_len)
{
	const struct pv_alg_info *ai = pv_alg_info(alg);
	CK_OBJECT_HANDLE hpub = CK_INVALID_HANDLE, hpriv = CK_INVALID_HANDLE;
	CK_MECHANISM mech = {ai->keygen, NULL, 0};
	CK_OBJECT_CLASS pubcls = CKO_PUBLIC_KEY, privcls = CKO_PRIVATE_KEY, seccls = CKO_SECRET_KEY;
	CK_KEY_TYPE ckk = ai->ckk;
	CK_ULONG bits = ai->bits, vlen = ai->bits / 8;
	CK_BYTE exp[] = {0x01, 0x00, 0x01};
	struct usage_attrs u;
	char label[P11_LABEL_MAX];
	CK_ULONG npub = 0;
	pv_err r, r2;

	snprintf(label, sizeof(label), "%s.v%u", name, version);
	randombytes_buf(id, id_len);
	usage_attrs(alg, purpose, &u);

	if (!pv_alg_is_asymmetric(alg)) {
		CK_ATTRIBUTE sec[] = {
		    {CKA_CLASS, &seccls, sizeof(seccls)},
		    {CKA_KEY_TYPE, &ckk, sizeof(ckk)},
		    {CKA_TOKEN, &ck_true, sizeof(ck_true)},
		    {CKA_PRIVATE, &ck_true, sizeof(ck_true)},
		    {CKA_SENSITIVE, &ck_true, sizeof(ck_true)},
		    {CKA_EXTRACTABLE, &ck_false, sizeof(ck_false)},
		    {CKA_LABEL, label, strlen(label)},
		    {CKA_ID, id, id_len},
		    {CKA_VALUE_LEN, &vlen, sizeof(vlen)},
		    {CKA_ENCRYPT, &u.encrypt, sizeof(u.encrypt)},
		    {CKA_DECRYPT, &u.decrypt, sizeof(u.decrypt)},
		    {CKA_WRAP, &u.wrap, sizeof(u.wrap)},
		    {CKA_UNWRAP, &u.unwrap, sizeof(u.unwrap)},
		    {CKA_SIGN, &u.sign, sizeof(u.sign)},
		    {CKA_VERIFY, &u.verify, sizeof(u.verify)},
		    {CKA_DERIVE, &u.derive, sizeof(u.derive)},
		};
		if ((r = p11_generate_key(ks->tok, &mech, sec, PV_NELEM(sec), &hpriv)) != PV_OK)
			goto out;
	} else {
		CK_ATTRIBUTE pub[] = {
		    {CKA_CLASS, &pubcls, sizeof(pubcls)},
		    {CKA_KEY_TYPE, &ckk, sizeof(ckk)},
		    {CKA_TOKEN, &ck_true, sizeof(ck_true)},
		    {CKA_PRIVATE, &ck_false, sizeof(ck_false)},
		    /* a key pair either signs or decrypts, never both */
		    {CKA_VERIFY, &u.verify, sizeof(u.verify)},
		    {CKA_ENCRYPT, &u.encrypt, sizeof(u.encrypt)},
		    {CKA_WRAP, &u.wrap, sizeof(u.wrap)},
		    {CKA_LABEL, label, strlen(label)},
		    {CKA_ID, id, id_len},
		    {0, NULL, 0}, /* curve or modulus size */
		    {0, NULL, 0}, /* RSA public exponent */
		};
		CK_ATTRIBUTE priv[] = {
		    {CKA_CLASS, &privcls, sizeof(privcls)},
		    {CKA_KEY_TYPE, &ckk, sizeof(ckk)},
		    {CKA_TOKEN, &ck_true, sizeof(ck_true)},
		    {CKA_PRIVATE, &ck_true, sizeof(ck_true)},
		    {CKA_SENSITIVE, &ck_true, sizeof(ck_true)},
		    {CKA_EXTRACTABLE, &ck_false, sizeof(ck_false)},
		    {CKA_SIGN, &u.sign, sizeof(u.sign)},
		    {CKA_DECRYPT, &u.decrypt, sizeof(u.decrypt)},
		    {CKA_UNWRAP, &u.unwrap, sizeof(u.unwrap)},
		    {CKA_DERIVE, &u.derive, sizeof(u.derive)},
		    {CKA_LABEL, label, strlen(label)},
		    {CKA_ID, id, id_len},
		};
		npub = 9;
		if (ai->family == PV_FAMILY_RSA) {
			pub[npub++] = (CK_ATTRIBUTE){CKA_MODULUS_BITS, &bits, sizeof(bits)};
			pub[npub++] = (CK_ATTRIBUTE){CKA_PUBLIC_EXPONENT, exp, sizeof(exp)};
		} else {
			pub[npub++] = (CK_ATTRIBUTE){CKA_EC_PARAMS, (void *)(uintptr_t)ai->ec_params,
						     ai->ec_params_len};
		}
		if ((r = p11_generate_key_pair(ks->tok, &mech, pub, npub, priv, PV_NELEM(priv), &hpub,
					       &hpriv)) != PV_OK)
			goto out;
	}
	r = check_honoured(ks->tok, hpriv, hpub, &u);
out:
	if (r != PV_OK) {
		/* keep the first error; a failed clean-up is reported in the detail */
		if (hpriv != CK_INVALID_HANDLE && (r2 = p11_handle_destroy(ks->tok, hpriv)) != PV_OK)
			pv_err_set_detail("%s; and removing the half-made key failed", pv_strerror(r));
		if (hpub != CK_INVALID_HANDLE && (r2 = p11_handle_destroy(ks->tok, hpub)) != PV_OK)
			pv_err_set_detail("%s; and removing the half-made key failed", pv_strerror(r));
	}
	return r;
}

/* Destroy both halves of a version (private/secret and, if any, public). */
static pv_err
destroy_version(pv_keystore *ks, const struct pv_key *key, const struct pv_key_version *ver)
{
	p11_obj o;
	pv_err r;

	obj_ref(ver, secret_class(key->alg), &o);
	if ((r = p11_obj_destroy(ks->tok, &o)) != PV_OK && r != PV_ERR_NOT_FOUND)
		return r;
	if (pv_alg_is_asymmetric(key->alg)) {
		obj_ref(ver, CKO_PUBLIC_KEY, &o);
		if ((r = p11_obj_destroy(ks->tok, &o)) != PV_OK && r != PV_ERR_NOT_FOUND)
			return r;
	}
	return PV_OK;
}

/* Remove a version whose metadata could not be written (keeps error r). */
static void
undo_version(pv_keystore *ks, pv_alg alg, const uint8_t *id, size_t id_len, pv_err r)
{
	struct pv_key tmpk = {.alg = alg};
	struct pv_key_version tmpv = {.id_len = id_len};

	memcpy(tmpv.id, id, id_len);
	if (destroy_version(ks, &tmpk, &tmpv) != PV_OK)
		pv_err_set_detail("%s; and removing the half-made key failed", pv_strerror(r));
}

/* PV_OK when a key of alg may have purpose p; else a detail listing the
 * purposes that fit. */
static pv_err
purpose_fits(pv_alg alg, pv_key_purpose p)
{
	char fit[128];

	if (pv_key_purpose_fits(alg, p))
		return PV_OK;
	pv_key_purposes_for(alg, fit, sizeof(fit));
	if (p == PV_PURPOSE_NONE)
		pv_err_set_detail("a purpose is required; a %s key can have: %s", pv_alg_info(alg)->name,
				  fit);
	else
		pv_err_set_detail("purpose %s does not fit a %s key; it can have: %s", pv_key_purpose_name(p),
				  pv_alg_info(alg)->name, fit);
	return PV_ERR_USAGE;
}

pv_err
pv_keys_create(pv_keystore *ks, const char *name, pv_alg alg, pv_key_purpose purpose, struct pv_key **out)
{
	struct pv_key *k = NULL, *existing = NULL;
	struct pv_key_version *v = NULL;
	uint8_t id[KEY_ID_LEN];
	struct meta_loc mobj;
	pv_err r;

	if (out != NULL)
		*out = NULL;
	if (!pv_key_name_valid(name)) {
		pv_err_set_detail("invalid key name (1-64 of A-Z a-z 0-9 _ -)");
		return PV_ERR_USAGE;
	}
	if (alg == PV_ALG_NONE || pv_alg_info(alg) == NULL)
		return PV_ERR_USAGE;
	if ((r = purpose_fits(alg, purpose)) != PV_OK)
		return r;
	r = meta_load(ks, name, &existing, &mobj);
	if (r == PV_OK) {
		pv_err_set_detail("key '%s' already exists", name);
		r = PV_ERR_EXISTS;
		goto out;
	}
	if (r != PV_ERR_NOT_FOUND)
		goto out;
	pv_err_clear_detail();
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	snprintf(k->name, sizeof(k->name), "%s", name);
	k->alg = alg;
	k->purpose = purpose;
	k->usage = pv_key_purpose_usage(purpose);
	if ((r = generate_version(ks, name, alg, purpose, 1, id, sizeof(id))) != PV_OK)
		goto out;
	if ((r = pv_key_add_version(k, PV_STATE_ACTIVE, id, sizeof(id), 0, &v)) != PV_OK ||
	    (r = meta_store(ks, k, &mobj, 1)) != PV_OK) {
		undo_version(ks, alg, id, sizeof(id), r);
		goto out;
	}
	if (out != NULL) {
		*out = k;
		k = NULL;
	}
out:
	pv_key_free(existing);
	pv_key_free(k);
	return r;
}

pv_err
pv_keys_get(pv_keystore *ks, const char *name, struct pv_key **out)
{
	struct meta_loc mobj;
	pv_err r;

	*out = NULL;
	if (!pv_key_name_valid(name)) {
		pv_err_set_detail("invalid key name '%.80s'", name);
		return PV_ERR_NOT_FOUND;
	}
	if (cache_get(ks, name, out) == PV_OK)
		return PV_OK;
	if ((r = meta_load(ks, name, out, &mobj)) == PV_OK)
		cache_put(ks, name, *out);
	return r;
}

static int
cmp_key_name(const void *a, const void *b)
{
	const struct pv_key *const *ka = a, *const *kb = b;

	return strcmp((*ka)->name, (*kb)->name);
}

void
pv_keys_list_free(struct pv_key **keys, size_t count)
{
	size_t i;

	if (keys == NULL)
		return;
	for (i = 0; i < count; i++)
		pv_key_free(keys[i]);
	free(keys);
}

pv_err
pv_keys_list(pv_keystore *ks, struct pv_key ***out, size_t *count)
{
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_ATTRIBUTE t[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_APPLICATION, (void *)(uintptr_t)APPLICATION, strlen(APPLICATION)},
	};
	CK_OBJECT_HANDLE *hs = NULL;
	struct pv_key **keys = NULL;
	uint8_t *val = NULL;
	size_t n = 0, i, nkeys = 0, len = 0;
	pv_err r;

	*out = NULL;
	*count = 0;
	if ((r = p11_find_all(ks->tok, t, PV_NELEM(t), &hs, &n)) != PV_OK)
		goto out;
	if (n > 0 && (keys = calloc(n, sizeof(*keys))) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((r = p11_handle_get_attr(ks->tok, hs[i], CKA_VALUE, &val, &len)) != PV_OK)
			goto out;
		r = pv_keymeta_parse(val, len, &keys[nkeys]);
		free(val);
		val = NULL;
		if (r != PV_OK)
			goto out;
		nkeys++;
	}
	if (nkeys > 1)
		qsort(keys, nkeys, sizeof(*keys), cmp_key_name);
	*out = keys;
	*count = nkeys;
	keys = NULL;
out:
	pv_keys_list_free(keys, nkeys);
	free(hs);
	return r;
}

/* Load fresh metadata (not the cache) for a change. */
static pv_err
load_for_change(pv_keystore *ks, const char *name, struct pv_key **key, struct meta_loc *mobj)
{
	if (!pv_key_name_valid(name)) {
		pv_err_set_detail("invalid key name '%.80s'", name);
		return PV_ERR_NOT_FOUND;
	}
	return meta_load(ks, name, key, mobj);
}

static pv_err
find_version(struct pv_key *key, unsigned version, struct pv_key_version **v)
{
	if ((*v = pv_key_find_version(key, version)) == NULL) {
		pv_err_set_detail("key '%s' has no version %u", key->name, version);
		return PV_ERR_NOT_FOUND;
	}
	return PV_OK;
}

/* Fresh metadata plus one of its versions, for a state change. */
static pv_err
load_version_for_change(pv_keystore *ks, const char *name, unsigned version, struct pv_key **key,
			struct pv_key_version **ver, struct meta_loc *mobj)
{
	pv_err r;

	*ver = NULL;
	if ((r = load_for_change(ks, name, key, mobj)) != PV_OK)
		return r;
	return find_version(*key, version, ver);
}

pv_err
pv_keys_rotate(pv_keystore *ks, const char *name, int as_next, unsigned *new_version)
{
	struct pv_key *k = NULL;
	struct pv_key_version *v = NULL, *prev;
	uint8_t id[KEY_ID_LEN];
	unsigned next;
	struct meta_loc mobj;
	size_t i;
	pv_err r;

	if ((r = load_for_change(ks, name, &k, &mobj)) != PV_OK)
		goto out;
	/* a new version gets the purpose's usage attributes: there must be one */
	if (k->purpose == PV_PURPOSE_NONE && (r = pv_key_check_purpose(k, PV_PURPOSE_NONE)) != PV_OK)
		goto out;
	if (as_next) {
		for (i = 0; i < k->nversions; i++) {
			if (k->versions[i].state == PV_STATE_NEXT) {
				pv_err_set_detail(
				    "key '%s' already has a next version (%u); activate it first", name,
				    k->versions[i].version);
				r = PV_ERR_STATE;
				goto out;
			}
		}
	}
	next = k->versions[k->nversions - 1].version + 1;
	/* The new key exists on the token before the metadata points at it;
	 * if anything fails after that it is removed and the old one stays.
	 * It keeps the key's purpose: a bundle recipient stays one. */
	if ((r = generate_version(ks, name, k->alg, k->purpose, next, id, sizeof(id))) != PV_OK)
		goto out;
	prev = pv_key_active(k);
	if (!as_next && prev != NULL)
		prev->state = PV_STATE_VERIFY_ONLY;
	if ((r = pv_key_add_version(k, as_next ? PV_STATE_NEXT : PV_STATE_ACTIVE, id, sizeof(id), 0, &v)) !=
		PV_OK ||
	    (r = meta_store(ks, k, &mobj, 0)) != PV_OK) {
		undo_version(ks, k->alg, id, sizeof(id), r);
		goto out;
	}
	if (new_version != NULL)
		*new_version = v->version;
out:
	pv_key_free(k);
	return r;
}

pv_err
pv_keys_activate(pv_keystore *ks, const char *name, unsigned version)
{
	struct pv_key *k = NULL;
	struct pv_key_version *v = NULL, *prev;
	struct meta_loc mobj;
	pv_err r;

	if ((r = load_version_for_change(ks, name, version, &k, &v, &mobj)) != PV_OK)
		goto out;
	if (v->state == PV_STATE_ACTIVE)
		goto out; /* already: nothing to do */
	if (v->state == PV_STATE_RETIRED) {
		pv_err_set_detail("version %u of '%s' is retired and cannot be activated", version, name);
		r = PV_ERR_STATE;
		goto out;
	}
	if ((prev = pv_key_active(k)) != NULL)
		prev->state = PV_STATE_VERIFY_ONLY;
	v->state = PV_STATE_ACTIVE;
	r = meta_store(ks, k, &mobj, 0);
out:
	pv_key_free(k);
	return r;
}

pv_err
pv_keys_retire(pv_keystore *ks, const char *name, unsigned version)
{
	struct pv_key *k = NULL;
	struct pv_key_version *v = NULL;
	struct meta_loc mobj;
	pv_err r;

	if ((r = load_version_for_change(ks, name, version, &k, &v, &mobj)) != PV_OK)
		goto out;
	if (v->state == PV_STATE_ACTIVE) {
		pv_err_set_detail("version %u is the active version of '%s'; rotate first", version, name);
		r = PV_ERR_STATE;
		goto out;
	}
	if (v->state == PV_STATE_RETIRED)
		goto out;
	v->state = PV_STATE_RETIRED;
	r = meta_store(ks, k, &mobj, 0);
out:
	pv_key_free(k);
	return r;
}

pv_err
pv_keys_destroy(pv_keystore *ks, const char *name, unsigned version)
{
	struct pv_key *k = NULL;
	struct pv_key_version *v = NULL;
	struct meta_loc mobj;
	size_t idx;
	pv_err r;

	if ((r = load_version_for_change(ks, name, version, &k, &v, &mobj)) != PV_OK)
		goto out;
	if (v->state != PV_STATE_RETIRED) {
		pv_err_set_detail("version %u of '%s' is %s; only retired versions can be destroyed", version,
				  name, pv_key_state_name(v->state));
		r = PV_ERR_STATE;
		goto out;
	}
	/* Token objects first: metadata pointing at a missing key is visible
	 * and repairable; a key no metadata names would be an orphan. */
	if ((r = destroy_version(ks, k, v)) != PV_OK)
		goto out;
	idx = (size_t)(v - k->versions);
	memmove(&k->versions[idx], &k->versions[idx + 1], (k->nversions - idx - 1) * sizeof(*v));
	k->nversions--;
	if (k->nversions == 0) {
		if ((r = meta_remove(ks, &mobj)) == PV_OK)
			cache_put(ks, name, NULL);
	} else {
		r = meta_store(ks, k, &mobj, 0);
	}
out:
	pv_key_free(k);
	return r;
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
	} else if ((r = find_version(k, version, &v)) != PV_OK) {
		goto out;
	}
	*ver = *v;
	obj_ref(v, secret_class(k->alg), obj);
	/* the handle cache: no C_FindObjects once a version has been used */
	if (!handle_get(ks, name, v->version, obj)) {
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
	obj_ref(ver, CKO_PUBLIC_KEY, &pub);
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
	obj_ref(ver, secret_class(key->alg), &o);
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

/* Which p11vault algorithm an existing token key is, from its attributes. */
static pv_err
adopted_alg(p11_token *tok, CK_OBJECT_HANDLE h, CK_OBJECT_CLASS cls, pv_alg *alg)
{
	CK_ULONG ckk = 0, vlen = 0;
	uint8_t *val = NULL;
	size_t len = 0;
	pv_err r;

	*alg = PV_ALG_NONE;
	if ((r = p11_handle_get_ulong(tok, h, CKA_KEY_TYPE, &ckk)) != PV_OK)
		goto out;
	if (cls == CKO_PRIVATE_KEY && ckk == CKK_RSA) {
		if ((r = p11_handle_get_attr(tok, h, CKA_MODULUS, &val, &len)) != PV_OK)
			goto out;
		*alg = len == 256   ? PV_ALG_RSA2048
		       : len == 384 ? PV_ALG_RSA3072
		       : len == 512 ? PV_ALG_RSA4096
				    : PV_ALG_NONE;
	} else if (cls == CKO_PRIVATE_KEY && (ckk == CKK_EC || ckk == CKK_EC_EDWARDS)) {
		if ((r = p11_handle_get_attr(tok, h, CKA_EC_PARAMS, &val, &len)) != PV_OK)
			goto out;
		*alg = pv_alg_from_ec_params(val, len);
	} else if (cls == CKO_SECRET_KEY && (ckk == CKK_AES || ckk == CKK_GENERIC_SECRET)) {
		if ((r = p11_handle_get_ulong(tok, h, CKA_VALUE_LEN, &vlen)) != PV_OK)
			goto out;
		if (ckk == CKK_AES && vlen == 32)
			*alg = PV_ALG_AES256;
		else if (ckk == CKK_GENERIC_SECRET && vlen >= 32)
			*alg = PV_ALG_HMAC_SHA256;
	}
	r = PV_OK;
	if (*alg == PV_ALG_NONE) {
		pv_err_set_detail("the key's type or size is not one p11vault supports");
		r = PV_ERR_KEY_TYPE;
	}
out:
	free(val);
	return r;
}

/*
 * Can the adopted token object do what purpose needs? The token's usage
 * attributes are read back: a signing purpose needs CKA_SIGN, decrypt
 * CKA_DECRYPT or CKA_UNWRAP, wrap CKA_UNWRAP, ECDH CKA_DERIVE. (The object
 * may allow more than its purpose; p11vault uses it for its purpose only.)
 */
static pv_err
adopted_fits(p11_token *tok, CK_OBJECT_HANDLE h, pv_alg alg, pv_key_purpose purpose)
{
	CK_BBOOL sign = CK_FALSE, decrypt = CK_FALSE, unwrap = CK_FALSE, derive = CK_FALSE;
	int ok;
	pv_err r;

	if ((r = purpose_fits(alg, purpose)) != PV_OK)
		return r;
	if ((r = p11_handle_get_bool(tok, h, CKA_SIGN, &sign)) != PV_OK ||
	    (r = p11_handle_get_bool(tok, h, CKA_DECRYPT, &decrypt)) != PV_OK ||
	    (r = p11_handle_get_bool(tok, h, CKA_UNWRAP, &unwrap)) != PV_OK ||
	    (r = p11_handle_get_bool(tok, h, CKA_DERIVE, &derive)) != PV_OK)
		return r;
	switch (purpose) {
	case PV_PURPOSE_DECRYPT:
		/* a key imported by another tool may also be allowed to sign (SoftHSM
		 * sets CKA_SIGN on imported RSA keys whatever the import asks):
		 * p11vault still only decrypts with it, the metadata decides */
		ok = decrypt || unwrap;
		break;
	case PV_PURPOSE_WRAP:
		ok = unwrap;
		break;
	case PV_PURPOSE_DERIVE:
		ok = alg == PV_ALG_P256 ? derive : sign;
		break;
	default:
		ok = sign;
		break;
	}
	if (!ok) {
		pv_err_set_detail("the token key cannot do what purpose %s needs (its CKA_SIGN, CKA_DECRYPT, "
				  "CKA_UNWRAP or CKA_DERIVE is FALSE)",
				  pv_key_purpose_name(purpose));
		return PV_ERR_KEY_TYPE;
	}
	return PV_OK;
}

/*
 * Is the token object with this CKA_ID already a version of some p11vault
 * key? Adopting it again under another name would give one key two
 * purposes (invariant 6): PV_ERR_EXISTS naming the key that has it.
 */
static pv_err
id_unclaimed(pv_keystore *ks, const uint8_t *id, size_t idlen)
{
	struct pv_key **keys = NULL;
	size_t n = 0, i, j;
	pv_err r;

	if ((r = pv_keys_list(ks, &keys, &n)) != PV_OK)
		return r;
	for (i = 0; i < n && r == PV_OK; i++) {
		for (j = 0; j < keys[i]->nversions; j++) {
			const struct pv_key_version *v = &keys[i]->versions[j];

			if (v->id_len == idlen && memcmp(v->id, id, idlen) == 0) {
				pv_err_set_detail(
				    "the token key is already version %u of key '%s' (purpose %s); "
				    "a key has one purpose",
				    v->version, keys[i]->name, pv_key_purpose_name(keys[i]->purpose));
				r = PV_ERR_EXISTS;
				break;
			}
		}
	}
	pv_keys_list_free(keys, n);
	return r;
}

pv_err
pv_keys_adopt(pv_keystore *ks, const char *uri, const char *name, pv_key_purpose purpose, struct pv_key **out)
{
	CK_OBJECT_HANDLE *hs = NULL, h = CK_INVALID_HANDLE;
	CK_OBJECT_CLASS cls = 0, c = 0, found_cls = 0;
	CK_BBOOL sens = CK_FALSE, extr = CK_TRUE;
	struct pv_key *k = NULL, *existing = NULL;
	struct pv_key_version *v = NULL;
	uint8_t *id = NULL;
	size_t n = 0, i, nfound = 0, idlen = 0;
	pv_alg alg = PV_ALG_NONE;
	struct meta_loc mobj;
	p11_obj pub;
	pv_err r;

	if (out != NULL)
		*out = NULL;
	if (!pv_key_name_valid(name)) {
		pv_err_set_detail("invalid key name (1-64 of A-Z a-z 0-9 _ -)");
		return PV_ERR_USAGE;
	}
	if ((r = meta_load(ks, name, &existing, &mobj)) == PV_OK) {
		pv_err_set_detail("key '%s' already exists", name);
		r = PV_ERR_EXISTS;
		goto out;
	}
	if (r != PV_ERR_NOT_FOUND)
		goto out;
	pv_err_clear_detail();
	if ((r = p11_find_by_uri(ks->tok, uri, &hs, &n)) != PV_OK)
		goto out;
	for (i = 0; i < n; i++) {
		if ((r = p11_handle_get_ulong(ks->tok, hs[i], CKA_CLASS, &c)) != PV_OK)
			goto out;
		if (c == CKO_PRIVATE_KEY || c == CKO_SECRET_KEY) {
			h = hs[i];
			found_cls = c;
			nfound++;
		}
	}
	cls = found_cls;
	if (nfound != 1) {
		pv_err_set_detail(nfound == 0 ? "no private or secret key matches the URI"
					      : "the URI matches several keys; add id= or object=");
		r = nfound == 0 ? PV_ERR_NOT_FOUND : PV_ERR_USAGE;
		goto out;
	}
	if ((r = adopted_alg(ks->tok, h, cls, &alg)) != PV_OK ||
	    (r = adopted_fits(ks->tok, h, alg, purpose)) != PV_OK)
		goto out;
	if ((r = p11_handle_get_bool(ks->tok, h, CKA_SENSITIVE, &sens)) != PV_OK ||
	    (r = p11_handle_get_bool(ks->tok, h, CKA_EXTRACTABLE, &extr)) != PV_OK)
		goto out;
	if (sens != CK_TRUE || extr != CK_FALSE) {
		pv_err_set_detail("the key is %s; p11vault only adopts sensitive, non-extractable keys",
				  sens != CK_TRUE ? "not sensitive" : "extractable");
		r = PV_ERR_NOT_HONOURED;
		goto out;
	}
	if ((r = p11_handle_get_attr(ks->tok, h, CKA_ID, &id, &idlen)) != PV_OK || idlen == 0 ||
	    idlen > PV_KEY_ID_MAX) {
		pv_err_set_detail("the key needs a CKA_ID of 1-%d bytes to be adopted", PV_KEY_ID_MAX);
		r = r != PV_OK ? r : PV_ERR_USAGE;
		goto out;
	}
	if ((r = id_unclaimed(ks, id, idlen)) != PV_OK)
		goto out;
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	snprintf(k->name, sizeof(k->name), "%s", name);
	k->alg = alg;
	k->purpose = purpose;
	k->usage = pv_key_purpose_usage(purpose);
	if ((r = pv_key_add_version(k, PV_STATE_ACTIVE, id, idlen, 1, &v)) != PV_OK)
		goto out;
	/* exactly one private and (for key pairs) one public object with this id */
	obj_ref(v, cls, &pub);
	if ((r = p11_obj_find(ks->tok, &pub)) != PV_OK) {
		pv_err_set_detail("the key's CKA_ID is not unique on the token");
		goto out;
	}
	if (cls == CKO_PRIVATE_KEY) {
		obj_ref(v, CKO_PUBLIC_KEY, &pub);
		if ((r = p11_obj_find(ks->tok, &pub)) != PV_OK) {
			pv_err_set_detail("no unique public key object with the same CKA_ID");
			goto out;
		}
	}
	if ((r = meta_store(ks, k, &mobj, 1)) != PV_OK)
		goto out;
	if (out != NULL) {
		*out = k;
		k = NULL;
	}
out:
	free(hs);
	free(id);
	pv_key_free(existing);
	pv_key_free(k);
	return r;
}

pv_err
pv_keys_set_purpose(pv_keystore *ks, const char *name, pv_key_purpose purpose)
{
	struct pv_key *k = NULL;
	struct meta_loc mobj;
	pv_err r;

	if ((r = load_for_change(ks, name, &k, &mobj)) != PV_OK)
		goto out;
	if (k->purpose != PV_PURPOSE_NONE) {
		if (k->purpose == purpose)
			goto out; /* already: nothing to do */
		pv_err_set_detail("key '%s' already has purpose %s; a purpose is never changed (make a new "
				  "key)",
				  name, pv_key_purpose_name(k->purpose));
		r = PV_ERR_STATE;
		goto out;
	}
	if ((r = purpose_fits(k->alg, purpose)) != PV_OK)
		goto out;
	/* the versions' token objects were made for the old usage: a decrypt
	 * key stays a decrypt key and a signing key cannot become one */
	if (pv_key_purpose_usage(purpose) != k->usage) {
		pv_err_set_detail("key '%s' was made as a %s key; purpose %s needs a %s key", name,
				  pv_key_usage_name(k->usage), pv_key_purpose_name(purpose),
				  pv_key_usage_name(pv_key_purpose_usage(purpose)));
		r = PV_ERR_USAGE;
		goto out;
	}
	k->purpose = purpose;
	r = meta_store(ks, k, &mobj, 0);
out:
	pv_key_free(k);
	return r;
}
