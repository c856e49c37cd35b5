/*
 * The keystore and its caches: metadata copies per name (with a TTL), the
 * handle cache per (name, version), and resolving a version to its token
 * objects and public key through them.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
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

/*
 * A session-object copy of one version's key (pv_keys_copy_acquire).
 * MAKING: one thread is copying it (the others sign with the token object
 * meanwhile); CANCELLED: dropped while being made (its maker destroys what
 * it made); READY: obj is the checked copy; REFUSED: the token would not
 * copy it or the copy failed its check, not tried again in generation gen;
 * DOOMED: dropped, destroyed when the last signer gives it back.
 */
enum { KC_MAKING, KC_CANCELLED, KC_READY, KC_REFUSED, KC_DOOMED };
struct ks_copy {
	char name[PV_KEY_NAME_MAX + 1];
	unsigned version;
	uint8_t id[P11_ID_MAX];
	size_t id_len;
	int state;
	unsigned long ticket; /* which making this entry came from */
	p11_obj obj;          /* READY, DOOMED: the copy (by handle only) */
	unsigned users;       /* signers holding obj */
	unsigned long gen;    /* REFUSED: the generation it was refused in */
};

static int
copy_is(const struct ks_copy *e, const char *name, unsigned version, const uint8_t *id, size_t id_len)
{
	return e->version == version && e->id_len == id_len && memcmp(e->id, id, id_len) == 0 &&
	       strcmp(e->name, name) == 0;
}

static void
copy_remove_locked(pv_keystore *ks, size_t i)
{
	ks->copies[i] = ks->copies[--ks->ncopies];
}

/* Drop entry i (mu held). */
static void
copy_doom_locked(pv_keystore *ks, size_t i)
{
	struct ks_copy *e = &ks->copies[i];

	switch (e->state) {
	case KC_REFUSED:
		copy_remove_locked(ks, i);
		break;
	case KC_MAKING:
		e->state = KC_CANCELLED;
		break;
	case KC_READY:
		e->state = KC_DOOMED;
		break;
	default:
		break;
	}
}

/*
 * Destroy the doomed copies nobody holds, one token call at a time with mu
 * released. A copy from an older generation is forgotten instead: its
 * handle may name another object by now (the copy died with its session,
 * or stays in it until that session closes).
 */
static void
copies_reap(pv_keystore *ks)
{
	p11_obj dead;
	int found;
	size_t i;

	do {
		found = 0;
		pthread_mutex_lock(&ks->mu);
		for (i = 0; i < ks->ncopies; i++) {
			if (ks->copies[i].state == KC_DOOMED && ks->copies[i].users == 0) {
				dead = ks->copies[i].obj;
				copy_remove_locked(ks, i);
				found = 1;
				break;
			}
		}
		pthread_mutex_unlock(&ks->mu);
		if (found && dead.handle != CK_INVALID_HANDLE && dead.gen == p11_token_generation(ks->tok))
			p11_obj_destroy_quietly(ks->tok, &dead); /* best effort: it dies with its session */
	} while (found);
}

/* Drop every copy (name NULL) or those of name other than keep's (NULL:
 * all of name's). */
static void
copies_drop(pv_keystore *ks, const char *name, const struct pv_key_version *keep)
{
	size_t i;

	pthread_mutex_lock(&ks->mu);
	for (i = ks->ncopies; i-- > 0;) {
		if (name != NULL &&
		    (strcmp(ks->copies[i].name, name) != 0 ||
		     (keep != NULL && copy_is(&ks->copies[i], name, keep->version, keep->id, keep->id_len))))
			continue;
		copy_doom_locked(ks, i);
	}
	pthread_mutex_unlock(&ks->mu);
	copies_reap(ks);
}

/* pv_keystore_epoch: unique in the process */
static atomic_ulong epochs;

unsigned long
pv_keystore_epoch(pv_keystore *ks)
{
	return atomic_load(&ks->epoch);
}

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
	atomic_store(&ks->epoch, atomic_fetch_add(&epochs, 1) + 1);
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
	copies_drop(ks, NULL, NULL);
	free(ks->copies);
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
	atomic_store(&ks->epoch, atomic_fetch_add(&epochs, 1) + 1);
	copies_drop(ks, NULL, NULL); /* made again at the next signature */
}

/* Replace or add the cached copy of a key (NULL key data = drop name). */
void
ks_cache_put(pv_keystore *ks, const char *name, const struct pv_key *key)
{
	const struct pv_key_version *active;
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
	/* a rotation (seen here, in the metadata read) ends the old active
	 * version's copy; the new one is copied when it first signs */
	active = key != NULL ? pv_key_active(key) : NULL;
	copies_drop(ks, name, active);
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
		if (ks->handles[i].version == version && ks->handles[i].obj.cls == obj->cls &&
		    strcmp(ks->handles[i].name, name) == 0)
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

/* The version's key object, and for a key pair its public key object in
 * the same search (both remembered in the handle cache): a search costs a
 * walk over every object on SoftHSM, and a key load needs both. */
static pv_err
find_version_objects(pv_keystore *ks, const struct pv_key *k, const struct pv_key_version *v, p11_obj *obj)
{
	p11_obj objs[2];
	size_t n = 1;
	pv_err r;

	objs[0] = *obj;
	if (pv_alg_is_asymmetric(k->alg))
		ks_obj_ref(v, CKO_PUBLIC_KEY, &objs[n++]);
	if ((r = p11_obj_find_group(ks->tok, objs, n)) != PV_OK)
		return r;
	if (objs[0].handle == CK_INVALID_HANDLE) {
		pv_err_set_detail("the token has no key object for '%s' version %u", k->name, v->version);
		return PV_ERR_NOT_FOUND;
	}
	*obj = objs[0];
	pv_keys_remember(ks, k->name, v->version, obj);
	if (n > 1 && objs[1].handle != CK_INVALID_HANDLE)
		pv_keys_remember(ks, k->name, v->version, &objs[1]);
	return PV_OK;
}

static pv_err
resolve(pv_keystore *ks, const char *name, unsigned version, int any, struct pv_key **key,
	struct pv_key_version *ver, p11_obj *obj)
{
	struct pv_key *k = NULL;
	struct pv_key_version *v = NULL;
	pv_err r;

	*key = NULL;
	if ((r = pv_keys_get(ks, name, &k)) != PV_OK)
		goto out;
	/* disabled or scheduled for deletion: no version is used (any: a
	 * public half is read) */
	if (!any && (r = pv_key_check_enabled(k)) != PV_OK)
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
	if (!ks_handle_get(ks, name, v->version, obj) && (r = find_version_objects(ks, k, v, obj)) != PV_OK)
		goto out;
	*key = k;
	k = NULL;
out:
	pv_key_free(k);
	return r;
}

pv_err
pv_keys_resolve(pv_keystore *ks, const char *name, unsigned version, struct pv_key **key,
		struct pv_key_version *ver, p11_obj *obj)
{
	return resolve(ks, name, version, 0, key, ver, obj);
}

pv_err
pv_keys_resolve_any(pv_keystore *ks, const char *name, unsigned version, struct pv_key **key,
		    struct pv_key_version *ver, p11_obj *obj)
{
	return resolve(ks, name, version, 1, key, ver, obj);
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
	(void)ks_handle_get(ks, key->name, ver->version, &pub); /* found with the private key */
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

void
pv_keystore_set_session_copies(pv_keystore *ks, int on)
{
	pthread_mutex_lock(&ks->mu);
	ks->session_copies = on != 0;
	pthread_mutex_unlock(&ks->mu);
	if (!on)
		copies_drop(ks, NULL, NULL);
}

/*
 * A copy is no weaker than its original: sensitive, never extractable,
 * private, a session object; the same CKA_ID, usage attributes and history
 * flags (a copy of a key that was always sensitive may not claim less, nor
 * sign where the original may only decrypt).
 */
static pv_err
copy_check(p11_token *tok, p11_obj *orig, p11_obj *copy)
{
	static const CK_ATTRIBUTE_TYPE types[] = {
	    CKA_TOKEN,
	    CKA_PRIVATE,
	    CKA_SENSITIVE,
	    CKA_EXTRACTABLE,
	    CKA_ALWAYS_SENSITIVE,
	    CKA_NEVER_EXTRACTABLE,
	    CKA_SIGN,
	    CKA_SIGN_RECOVER,
	    CKA_DECRYPT,
	    CKA_UNWRAP,
	    CKA_DERIVE,
	    CKA_ENCRYPT,
	    CKA_VERIFY,
	    CKA_WRAP,
	    CKA_WRAP_WITH_TRUSTED,
	    CKA_ALWAYS_AUTHENTICATE,
	};
	static const char *const names[] = {
	    "CKA_TOKEN",
	    "CKA_PRIVATE",
	    "CKA_SENSITIVE",
	    "CKA_EXTRACTABLE",
	    "CKA_ALWAYS_SENSITIVE",
	    "CKA_NEVER_EXTRACTABLE",
	    "CKA_SIGN",
	    "CKA_SIGN_RECOVER",
	    "CKA_DECRYPT",
	    "CKA_UNWRAP",
	    "CKA_DERIVE",
	    "CKA_ENCRYPT",
	    "CKA_VERIFY",
	    "CKA_WRAP",
	    "CKA_WRAP_WITH_TRUSTED",
	    "CKA_ALWAYS_AUTHENTICATE",
	};
	/* what the copy must say, whatever the original says */
	static const CK_BBOOL must[] = {CK_FALSE, CK_TRUE, CK_TRUE, CK_FALSE};
	CK_BBOOL ov[PV_NELEM(types)], cv[PV_NELEM(types)];
	int op[PV_NELEM(types)], cp[PV_NELEM(types)];
	uint8_t *oid = NULL, *cid = NULL;
	size_t olen = 0, clen = 0, i;
	pv_err r;

	if ((r = p11_obj_get_bools(tok, orig, types, PV_NELEM(types), ov, op)) != PV_OK ||
	    (r = p11_obj_get_bools(tok, copy, types, PV_NELEM(types), cv, cp)) != PV_OK)
		goto out;
	for (i = 0; i < PV_NELEM(types); i++) {
		if (i < PV_NELEM(must) ? (!cp[i] || cv[i] != must[i]) : (cp[i] != op[i] || cv[i] != ov[i])) {
			pv_err_set_detail("the session copy reports %s=%s", names[i],
					  !cp[i]  ? "(none)"
					  : cv[i] ? "TRUE"
						  : "FALSE");
			r = PV_ERR_NOT_HONOURED;
			goto out;
		}
	}
	if ((r = p11_obj_get_attr(tok, orig, CKA_ID, &oid, &olen)) != PV_OK ||
	    (r = p11_obj_get_attr(tok, copy, CKA_ID, &cid, &clen)) != PV_OK)
		goto out;
	if (olen != clen || memcmp(oid, cid, olen) != 0) {
		pv_err_set_detail("the session copy has another CKA_ID");
		r = PV_ERR_NOT_HONOURED;
	}
out:
	free(oid);
	free(cid);
	return r;
}

/* Copy obj into a session object and check it; nothing is left on failure. */
static pv_err
copy_make(p11_token *tok, p11_obj *obj, p11_obj *copy)
{
	pv_err r;

	if ((r = p11_obj_copy_session(tok, obj, copy)) != PV_OK)
		return r;
	if ((r = copy_check(tok, obj, copy)) != PV_OK) {
		p11_obj_destroy_quietly(tok, copy); /* a stale one died with its session */
		copy->handle = CK_INVALID_HANDLE;
	}
	return r;
}

int
pv_keys_copy_acquire(pv_keystore *ks, const char *name, const struct pv_key_version *ver, p11_obj *obj,
		     p11_obj *copy)
{
	unsigned long gen = p11_token_generation(ks->tok), ticket;
	struct ks_copy *e = NULL, *grown;
	p11_obj made;
	int got = 0;
	size_t i;
	pv_err r;

	if (ver->state != PV_STATE_ACTIVE || strlen(name) > PV_KEY_NAME_MAX || ver->id_len > P11_ID_MAX)
		return 0;
	pthread_mutex_lock(&ks->mu);
	if (!ks->session_copies)
		goto unlock;
	for (i = 0; i < ks->ncopies; i++) {
		e = &ks->copies[i];
		if (e->state == KC_DOOMED || e->state == KC_CANCELLED ||
		    !copy_is(e, name, ver->version, ver->id, ver->id_len))
			continue;
		if (e->state == KC_READY && e->obj.gen == gen) {
			e->users++;
			*copy = e->obj;
			got = 1;
			goto unlock;
		}
		if (e->state == KC_MAKING || (e->state == KC_REFUSED && e->gen == gen))
			goto unlock;
		/* READY from an older generation (a recovery since): forgotten,
		 * never destroyed by that handle; a REFUSED one is tried again */
		if (e->state == KC_READY)
			e->state = KC_DOOMED; /* reaped by generation: forgotten */
		else
			copy_remove_locked(ks, i);
		break;
	}
	if ((grown = reallocarray(ks->copies, ks->ncopies + 1, sizeof(*grown))) == NULL)
		goto unlock; /* an optimisation: sign with the token object */
	ks->copies = grown;
	e = &ks->copies[ks->ncopies++];
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->version = ver->version;
	memcpy(e->id, ver->id, ver->id_len);
	e->id_len = ver->id_len;
	e->state = KC_MAKING;
	e->ticket = ticket = ++ks->copy_ticket;
	pthread_mutex_unlock(&ks->mu);

	r = copy_make(ks->tok, obj, &made);

	pthread_mutex_lock(&ks->mu);
	for (i = 0; i < ks->ncopies && ks->copies[i].ticket != ticket; i++) {
	}
	if (i < ks->ncopies) {
		e = &ks->copies[i];
		if (e->state == KC_MAKING && r == PV_OK && ks->session_copies) {
			e->state = KC_READY;
			e->obj = made;
			e->users = 1;
			*copy = made;
			got = 1;
		} else if (e->state == KC_MAKING && r != PV_OK) {
			e->state = KC_REFUSED;
			e->gen = gen;
		} else {
			copy_remove_locked(ks, i); /* dropped meanwhile */
		}
	}
	pthread_mutex_unlock(&ks->mu);
	if (r == PV_OK && !got)
		p11_obj_destroy_quietly(ks->tok, &made);
	pv_err_clear_detail();
	copies_reap(ks);
	return got;
unlock:
	pthread_mutex_unlock(&ks->mu);
	return got;
}

void
pv_keys_copy_release(pv_keystore *ks, const p11_obj *copy, int failed)
{
	unsigned long gen = p11_token_generation(ks->tok);
	struct ks_copy refused, *grown;
	int reap = 0, refuse = 0;
	size_t i;

	pthread_mutex_lock(&ks->mu);
	for (i = 0; i < ks->ncopies; i++) {
		struct ks_copy *e = &ks->copies[i];

		if ((e->state != KC_READY && e->state != KC_DOOMED) || e->users == 0 ||
		    e->obj.handle != copy->handle || e->obj.gen != copy->gen)
			continue;
		e->users--;
		if (failed && e->state == KC_READY) {
			/* the token object signs; no new copy in this generation */
			e->state = KC_DOOMED;
			refused = *e;
			refuse = copy->gen == gen;
		}
		reap = e->state == KC_DOOMED && e->users == 0;
		break;
	}
	if (refuse && (grown = reallocarray(ks->copies, ks->ncopies + 1, sizeof(*grown))) != NULL) {
		ks->copies = grown;
		refused.state = KC_REFUSED;
		refused.gen = gen;
		refused.users = 0;
		refused.ticket = 0;
		refused.obj.handle = CK_INVALID_HANDLE;
		ks->copies[ks->ncopies++] = refused;
	}
	pthread_mutex_unlock(&ks->mu);
	if (reap)
		copies_reap(ks);
}

int
ks_copy_peek(pv_keystore *ks, const char *name, unsigned version, p11_obj *copy)
{
	int found = 0;
	size_t i;

	pthread_mutex_lock(&ks->mu);
	for (i = 0; i < ks->ncopies && !found; i++) {
		if (ks->copies[i].state == KC_READY && ks->copies[i].version == version &&
		    strcmp(ks->copies[i].name, name) == 0) {
			*copy = ks->copies[i].obj;
			found = 1;
		}
	}
	pthread_mutex_unlock(&ks->mu);
	return found;
}
