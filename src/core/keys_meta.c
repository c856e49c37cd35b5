/*
 * The metadata store: one CKO_DATA object per key name on the token, read
 * (highest serial wins), written, listed and removed.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/keys_internal.h"

static CK_BBOOL ck_true = CK_TRUE;

/* One read: *gone set when a found copy vanished before it was read. */
static pv_err
meta_load_once(pv_keystore *ks, const char *name, struct pv_key **out, struct meta_loc *loc, int *gone)
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
		if ((r = p11_handle_get_attr(ks->tok, hs[i], CKA_VALUE, &val, &len)) != PV_OK) {
			*gone = r == PV_ERR_SESSION || r == PV_ERR_NOT_FOUND;
			goto out;
		}
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

/*
 * A writer replaces a key's metadata object by writing the new copy and then
 * destroying the old one: a copy found by the search can be gone when it is
 * read. Read again then (a few times; each read sees at least one copy).
 */
pv_err
ks_meta_load(pv_keystore *ks, const char *name, struct pv_key **out, struct meta_loc *loc)
{
	pv_err r;
	int gone;

	for (unsigned tries = 0;; tries++) {
		gone = 0;
		r = meta_load_once(ks, name, out, loc, &gone);
		if (!gone || tries >= 3)
			return r;
		pv_err_clear_detail();
	}
}

/* Destroy the metadata objects of a key (current and leftovers). */
pv_err
ks_meta_remove(pv_keystore *ks, const struct meta_loc *loc)
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
 * each other even if a change slipped past the change lock: the loser gets
 * PV_ERR_CHANGED, having written nothing, and starts over.
 */
pv_err
ks_meta_store(pv_keystore *ks, struct pv_key *key, struct meta_loc *loc, int create)
{
	struct pv_key *cur = NULL;
	struct meta_loc again;
	char *json = NULL;
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	uint64_t serial = key->serial;
	pv_err r;

	if (!create) {
		if ((r = ks_meta_load_settled(ks, key->name, &cur, &again)) != PV_OK)
			goto out;
		if (cur->serial != key->serial || again.cur != loc->cur) {
			pv_err_set_detail("key '%s' was changed concurrently", key->name);
			r = PV_ERR_CHANGED; /* the caller starts over (ks_change) */
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
	if (!create && ks_meta_remove(ks, loc) != PV_OK) {
		/* harmless: readers take the highest serial; the next change
		 * removes it */
	}
	ks_cache_put(ks, key->name, key);
out:
	if (r != PV_OK)
		key->serial = serial;
	free(json);
	pv_key_free(cur);
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
	if (ks_cache_get(ks, name, out) == PV_OK)
		return PV_OK;
	r = ks_meta_load(ks, name, out, &mobj);
	/* A key read before that a search now misses is more likely being
	 * rewritten by another process (SoftHSM's search can miss the file
	 * meanwhile) than gone: ask again before answering "no such key",
	 * then forget the name so that a key really destroyed costs this once. */
	if (r == PV_ERR_NOT_FOUND && ks_cache_knows(ks, name)) {
		if ((r = ks_meta_load_settled(ks, name, out, &mobj)) == PV_ERR_NOT_FOUND)
			ks_cache_put(ks, name, NULL);
	}
	if (r == PV_OK)
		ks_cache_put(ks, name, *out);
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

/* One listing; *gone set when a found copy vanished before it was read (a
 * writer replacing it: ks_meta_load). While a key is rewritten its old and
 * new copies can both be found: the one with the higher serial stays. */
static pv_err
list_once(pv_keystore *ks, struct pv_key ***out, size_t *count, int *gone)
{
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_ATTRIBUTE t[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_APPLICATION, (void *)(uintptr_t)APPLICATION, strlen(APPLICATION)},
	};
	CK_OBJECT_HANDLE *hs = NULL;
	struct pv_key **keys = NULL, *k = NULL;
	uint8_t *val = NULL;
	size_t n = 0, i, j, nkeys = 0, len = 0;
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
		if ((r = p11_handle_get_attr(ks->tok, hs[i], CKA_VALUE, &val, &len)) != PV_OK) {
			*gone = r == PV_ERR_SESSION || r == PV_ERR_NOT_FOUND;
			goto out;
		}
		r = pv_keymeta_parse(val, len, &k);
		free(val);
		val = NULL;
		if (r != PV_OK)
			goto out;
		for (j = 0; j < nkeys && strcmp(keys[j]->name, k->name) != 0; j++)
			;
		if (j == nkeys) {
			keys[nkeys++] = k;
		} else if (k->serial > keys[j]->serial) {
			pv_key_free(keys[j]);
			keys[j] = k;
		} else {
			pv_key_free(k);
		}
		k = NULL;
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

pv_err
pv_keys_list(pv_keystore *ks, struct pv_key ***out, size_t *count)
{
	pv_err r;
	int gone;

	for (unsigned tries = 0;; tries++) {
		gone = 0;
		r = list_once(ks, out, count, &gone);
		if (!gone || tries >= 3)
			return r;
		pv_err_clear_detail();
	}
}

/*
 * For a writer, "no such key" decides what it writes (create, or refuse a
 * change), so it is asked again before it is believed: SoftHSM re-reads its
 * object files on each search, and while another process rewrites one a
 * search can miss an object that exists. About 0.3 s in all, on the not-found
 * path of changes only (never a signing request's).
 */
pv_err
ks_meta_load_settled(pv_keystore *ks, const char *name, struct pv_key **out, struct meta_loc *loc)
{
	static const long pause_ms[] = {20, 60, 200};
	pv_err r;

	for (size_t i = 0;; i++) {
		r = ks_meta_load(ks, name, out, loc);
		if (r != PV_ERR_NOT_FOUND || i >= PV_NELEM(pause_ms))
			return r;
		struct timespec t = {.tv_sec = 0, .tv_nsec = pause_ms[i] * 1000000L};
		while (nanosleep(&t, &t) != 0 && errno == EINTR)
			;
	}
}

/* Load fresh metadata (not the cache) for a change. */
pv_err
ks_load_for_change(pv_keystore *ks, const char *name, struct pv_key **key, struct meta_loc *mobj)
{
	if (!pv_key_name_valid(name)) {
		pv_err_set_detail("invalid key name '%.80s'", name);
		return PV_ERR_NOT_FOUND;
	}
	return ks_meta_load_settled(ks, name, key, mobj);
}

pv_err
ks_find_version(struct pv_key *key, unsigned version, struct pv_key_version **v)
{
	if ((*v = pv_key_find_version(key, version)) == NULL) {
		pv_err_set_detail("key '%s' has no version %u", key->name, version);
		return PV_ERR_NOT_FOUND;
	}
	return PV_OK;
}

/* Fresh metadata plus one of its versions, for a state change. */
pv_err
ks_load_version_for_change(pv_keystore *ks, const char *name, unsigned version, struct pv_key **key,
			   struct pv_key_version **ver, struct meta_loc *mobj)
{
	pv_err r;

	*ver = NULL;
	if ((r = ks_load_for_change(ks, name, key, mobj)) != PV_OK)
		return r;
	return ks_find_version(*key, version, ver);
}
