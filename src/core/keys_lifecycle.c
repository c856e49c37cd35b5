/*
 * Key lifecycle: create, rotate, activate, retire, destroy, set purpose;
 * disable, enable, scheduled deletion and its purge.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/keys_internal.h"

/* attempts of a change overtaken by another writer before exit 7 */
#define KS_CHANGE_TRIES 4

/* One change of a key, made under its lock; the arguments are the change's. */
struct ks_change {
	pv_err (*once)(pv_keystore *ks, const char *name, const struct ks_change *c);
	int as_next;
	unsigned version;
	pv_key_purpose purpose;
	unsigned *new_version;
	int64_t at;   /* schedule_delete: when; purge: now */
	int *changed; /* disable, enable, purge: whether anything was done */
};

/*
 * A change that another writer overtook (the serial check in ks_meta_store
 * answers PV_ERR_CHANGED, having left nothing of ours) starts over; any other
 * error, a token's PV_ERR_BUSY included, is the answer.
 */
static pv_err
ks_change(pv_keystore *ks, const char *name, const struct ks_change *c)
{
	pv_err r = PV_ERR_CHANGED;

	for (unsigned i = 0; i < KS_CHANGE_TRIES && r == PV_ERR_CHANGED; i++)
		r = c->once(ks, name, c);
	if (r == PV_ERR_CHANGED)
		pv_err_set_detail("key '%s' was changed concurrently %d times; try again", name,
				  KS_CHANGE_TRIES);
	return r;
}

pv_err
pv_keys_create(pv_keystore *ks, const char *name, pv_alg alg, pv_key_purpose purpose, struct pv_key **out)
{
	struct pv_key *k = NULL, *existing = NULL;
	struct pv_key_version *v = NULL;
	uint8_t id[KEY_ID_LEN];
	struct meta_loc mobj;
	struct ks_lock lk = {.handle = CK_INVALID_HANDLE};
	pv_err r;

	if (out != NULL)
		*out = NULL;
	if (!pv_key_name_valid(name)) {
		pv_err_set_detail("invalid key name (1-64 of A-Z a-z 0-9 _ -)");
		return PV_ERR_USAGE;
	}
	if (alg == PV_ALG_NONE || pv_alg_info(alg) == NULL)
		return PV_ERR_USAGE;
	if ((r = ks_purpose_fits(alg, purpose)) != PV_OK)
		return r;
	if ((r = ks_lock(ks, name, &lk)) != PV_OK)
		goto out;
	r = ks_meta_load_settled(ks, name, &existing, &mobj);
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
	if ((r = ks_generate_version(ks, name, alg, purpose, 1, id, sizeof(id))) != PV_OK)
		goto out;
	if ((r = pv_key_add_version(k, PV_STATE_ACTIVE, id, sizeof(id), 0, &v)) != PV_OK ||
	    (r = ks_meta_store(ks, k, &mobj, 1)) != PV_OK) {
		ks_undo_version(ks, alg, id, sizeof(id), r);
		goto out;
	}
	if (out != NULL) {
		*out = k;
		k = NULL;
	}
out:
	ks_unlock(ks, &lk);
	pv_key_free(existing);
	pv_key_free(k);
	return r;
}

static pv_err
rotate_once(pv_keystore *ks, const char *name, const struct ks_change *c)
{
	int as_next = c->as_next;
	struct pv_key *k = NULL;
	struct pv_key_version *v = NULL, *prev;
	uint8_t id[KEY_ID_LEN];
	unsigned next;
	struct meta_loc mobj;
	size_t i;
	struct ks_lock lk = {.handle = CK_INVALID_HANDLE};
	pv_err r;

	if ((r = ks_lock(ks, name, &lk)) != PV_OK || (r = ks_load_for_change(ks, name, &k, &mobj)) != PV_OK)
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
	if ((r = ks_generate_version(ks, name, k->alg, k->purpose, next, id, sizeof(id))) != PV_OK)
		goto out;
	prev = pv_key_active(k);
	if (!as_next && prev != NULL) {
		prev->state = PV_STATE_VERIFY_ONLY;
		prev->demoted = pv_key_clock_now();
	}
	if ((r = pv_key_add_version(k, as_next ? PV_STATE_NEXT : PV_STATE_ACTIVE, id, sizeof(id), 0, &v)) !=
		PV_OK ||
	    (r = ks_meta_store(ks, k, &mobj, 0)) != PV_OK) {
		ks_undo_version(ks, k->alg, id, sizeof(id), r);
		goto out;
	}
	if (c->new_version != NULL)
		*c->new_version = v->version;
out:
	ks_unlock(ks, &lk);
	pv_key_free(k);
	return r;
}

static pv_err
activate_once(pv_keystore *ks, const char *name, const struct ks_change *c)
{
	unsigned version = c->version;
	struct pv_key *k = NULL;
	struct pv_key_version *v = NULL, *prev;
	struct meta_loc mobj;
	struct ks_lock lk = {.handle = CK_INVALID_HANDLE};
	int64_t now;
	pv_err r;

	if ((r = ks_lock(ks, name, &lk)) != PV_OK ||
	    (r = ks_load_version_for_change(ks, name, version, &k, &v, &mobj)) != PV_OK)
		goto out;
	if (v->state == PV_STATE_ACTIVE)
		goto out; /* already: nothing to do */
	if (v->state == PV_STATE_RETIRED) {
		pv_err_set_detail("version %u of '%s' is retired and cannot be activated", version, name);
		r = PV_ERR_STATE;
		goto out;
	}
	now = pv_key_clock_now();
	if ((prev = pv_key_active(k)) != NULL) {
		prev->state = PV_STATE_VERIFY_ONLY;
		prev->demoted = now;
	}
	v->state = PV_STATE_ACTIVE;
	v->activated = now;
	v->demoted = 0; /* a verify-only version made active again */
	r = ks_meta_store(ks, k, &mobj, 0);
out:
	ks_unlock(ks, &lk);
	pv_key_free(k);
	return r;
}

static pv_err
retire_once(pv_keystore *ks, const char *name, const struct ks_change *c)
{
	unsigned version = c->version;
	struct pv_key *k = NULL;
	struct pv_key_version *v = NULL;
	struct meta_loc mobj;
	struct ks_lock lk = {.handle = CK_INVALID_HANDLE};
	pv_err r;

	if ((r = ks_lock(ks, name, &lk)) != PV_OK ||
	    (r = ks_load_version_for_change(ks, name, version, &k, &v, &mobj)) != PV_OK)
		goto out;
	if (v->state == PV_STATE_ACTIVE) {
		pv_err_set_detail("version %u is the active version of '%s'; rotate first", version, name);
		r = PV_ERR_STATE;
		goto out;
	}
	if (v->state == PV_STATE_RETIRED)
		goto out;
	v->state = PV_STATE_RETIRED;
	r = ks_meta_store(ks, k, &mobj, 0);
out:
	ks_unlock(ks, &lk);
	pv_key_free(k);
	return r;
}

static pv_err
destroy_once(pv_keystore *ks, const char *name, const struct ks_change *c)
{
	unsigned version = c->version;
	struct pv_key *k = NULL;
	struct pv_key_version *v = NULL;
	struct meta_loc mobj;
	size_t idx;
	struct ks_lock lk = {.handle = CK_INVALID_HANDLE};
	pv_err r;

	if ((r = ks_lock(ks, name, &lk)) != PV_OK ||
	    (r = ks_load_version_for_change(ks, name, version, &k, &v, &mobj)) != PV_OK)
		goto out;
	if (v->state != PV_STATE_RETIRED) {
		pv_err_set_detail("version %u of '%s' is %s; only retired versions can be destroyed", version,
				  name, pv_key_state_name(v->state));
		r = PV_ERR_STATE;
		goto out;
	}
	/* Token objects first: metadata pointing at a missing key is visible
	 * and repairable; a key no metadata names would be an orphan. */
	if ((r = ks_destroy_version(ks, k, v)) != PV_OK)
		goto out;
	idx = (size_t)(v - k->versions);
	memmove(&k->versions[idx], &k->versions[idx + 1], (k->nversions - idx - 1) * sizeof(*v));
	k->nversions--;
	if (k->nversions == 0) {
		if ((r = ks_meta_remove(ks, &mobj)) == PV_OK)
			ks_cache_put(ks, name, NULL);
	} else {
		r = ks_meta_store(ks, k, &mobj, 0);
	}
out:
	ks_unlock(ks, &lk);
	pv_key_free(k);
	return r;
}

static pv_err
set_purpose_once(pv_keystore *ks, const char *name, const struct ks_change *c)
{
	pv_key_purpose purpose = c->purpose;
	struct pv_key *k = NULL;
	struct meta_loc mobj;
	struct ks_lock lk = {.handle = CK_INVALID_HANDLE};
	pv_err r;

	if ((r = ks_lock(ks, name, &lk)) != PV_OK || (r = ks_load_for_change(ks, name, &k, &mobj)) != PV_OK)
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
	if ((r = ks_purpose_fits(k->alg, purpose)) != PV_OK)
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
	r = ks_meta_store(ks, k, &mobj, 0);
out:
	ks_unlock(ks, &lk);
	pv_key_free(k);
	return r;
}

/* What disable, enable, schedule and cancel do to the metadata. */
enum service_op { SVC_DISABLE, SVC_ENABLE, SVC_SCHEDULE, SVC_CANCEL };

static pv_err
service_once(pv_keystore *ks, const char *name, const struct ks_change *c, enum service_op op)
{
	struct pv_key *k = NULL;
	struct meta_loc mobj;
	struct ks_lock lk = {.handle = CK_INVALID_HANDLE};
	char when[32] = "";
	pv_err r;

	if (c->changed != NULL)
		*c->changed = 0;
	if ((r = ks_lock(ks, name, &lk)) != PV_OK || (r = ks_load_for_change(ks, name, &k, &mobj)) != PV_OK)
		goto out;
	switch (op) {
	case SVC_DISABLE:
		if (k->disabled != 0)
			goto out; /* already: nothing to do */
		k->disabled = (int64_t)time(NULL);
		break;
	case SVC_ENABLE:
		if (k->delete_at != 0) {
			if (pv_key_time_text(k->delete_at, when, sizeof(when)) != PV_OK)
				snprintf(when, sizeof(when), "?");
			pv_err_set_detail("key '%s' is scheduled for deletion at %s; cancel that first "
					  "(vaultctl key cancel-delete %s)",
					  name, when, name);
			r = PV_ERR_STATE;
			goto out;
		}
		if (k->disabled == 0)
			goto out;
		k->disabled = 0;
		break;
	case SVC_SCHEDULE:
		if (k->disabled == 0)
			k->disabled = (int64_t)time(NULL);
		k->delete_at = c->at;
		break;
	case SVC_CANCEL:
		if (k->delete_at == 0) {
			pv_err_set_detail("key '%s' is not scheduled for deletion", name);
			r = PV_ERR_STATE;
			goto out;
		}
		k->delete_at = 0; /* it stays disabled until `key enable` */
		break;
	}
	if ((r = ks_meta_store(ks, k, &mobj, 0)) == PV_OK && c->changed != NULL)
		*c->changed = 1;
out:
	ks_unlock(ks, &lk);
	pv_key_free(k);
	return r;
}

static pv_err
disable_once(pv_keystore *ks, const char *name, const struct ks_change *c)
{
	return service_once(ks, name, c, SVC_DISABLE);
}

static pv_err
enable_once(pv_keystore *ks, const char *name, const struct ks_change *c)
{
	return service_once(ks, name, c, SVC_ENABLE);
}

static pv_err
schedule_once(pv_keystore *ks, const char *name, const struct ks_change *c)
{
	return service_once(ks, name, c, SVC_SCHEDULE);
}

static pv_err
cancel_once(pv_keystore *ks, const char *name, const struct ks_change *c)
{
	return service_once(ks, name, c, SVC_CANCEL);
}

/*
 * Under the lock, so two replicas (or a replica and `vaultctl key purge`)
 * destroy it once. Every version's token objects first, then the metadata:
 * a failure midway leaves the metadata (still scheduled, still disabled)
 * and the next purge ends it (an object already gone counts as destroyed).
 */
static pv_err
purge_once(pv_keystore *ks, const char *name, const struct ks_change *c)
{
	struct pv_key *k = NULL;
	struct meta_loc mobj;
	struct ks_lock lk = {.handle = CK_INVALID_HANDLE};
	pv_err r;

	*c->changed = 0;
	if ((r = ks_lock(ks, name, &lk)) != PV_OK)
		goto out;
	if ((r = ks_load_for_change(ks, name, &k, &mobj)) != PV_OK) {
		if (r == PV_ERR_NOT_FOUND) { /* gone already: another replica */
			pv_err_clear_detail();
			ks_cache_put(ks, name, NULL);
			r = PV_OK;
		}
		goto out;
	}
	if (!pv_key_delete_due(k, c->at))
		goto out;
	for (size_t i = 0; i < k->nversions; i++)
		if ((r = ks_destroy_version(ks, k, &k->versions[i])) != PV_OK)
			goto out;
	if ((r = ks_meta_remove(ks, &mobj)) != PV_OK)
		goto out;
	ks_cache_put(ks, name, NULL);
	*c->changed = 1;
out:
	ks_unlock(ks, &lk);
	pv_key_free(k);
	return r;
}

pv_err
pv_keys_disable(pv_keystore *ks, const char *name, int *changed)
{
	struct ks_change c = {.once = disable_once, .changed = changed};

	return ks_change(ks, name, &c);
}

pv_err
pv_keys_enable(pv_keystore *ks, const char *name, int *changed)
{
	struct ks_change c = {.once = enable_once, .changed = changed};

	return ks_change(ks, name, &c);
}

pv_err
pv_keys_schedule_delete(pv_keystore *ks, const char *name, int64_t at)
{
	struct ks_change c = {.once = schedule_once, .at = at};

	if (at <= 0) {
		pv_err_set_detail("a deletion time must be after 1970");
		return PV_ERR_USAGE;
	}
	return ks_change(ks, name, &c);
}

pv_err
pv_keys_cancel_delete(pv_keystore *ks, const char *name)
{
	struct ks_change c = {.once = cancel_once};

	return ks_change(ks, name, &c);
}

pv_err
pv_keys_purge(pv_keystore *ks, const char *name, int64_t now, int *destroyed)
{
	struct ks_change c = {.once = purge_once, .at = now, .changed = destroyed};

	return ks_change(ks, name, &c);
}

pv_err
pv_keys_rotate(pv_keystore *ks, const char *name, int as_next, unsigned *new_version)
{
	struct ks_change c = {.once = rotate_once, .as_next = as_next, .new_version = new_version};

	return ks_change(ks, name, &c);
}

pv_err
pv_keys_activate(pv_keystore *ks, const char *name, unsigned version)
{
	struct ks_change c = {.once = activate_once, .version = version};

	return ks_change(ks, name, &c);
}

pv_err
pv_keys_retire(pv_keystore *ks, const char *name, unsigned version)
{
	struct ks_change c = {.once = retire_once, .version = version};

	return ks_change(ks, name, &c);
}

pv_err
pv_keys_destroy(pv_keystore *ks, const char *name, unsigned version)
{
	struct ks_change c = {.once = destroy_once, .version = version};

	return ks_change(ks, name, &c);
}

pv_err
pv_keys_set_purpose(pv_keystore *ks, const char *name, pv_key_purpose purpose)
{
	struct ks_change c = {.once = set_purpose_once, .purpose = purpose};

	return ks_change(ks, name, &c);
}
