/*
 * The boot bundle and the environment secrets of one configuration
 * generation. env/file values live in guarded memory; private-key entries
 * are unwrapped into the token as non-extractable session objects and found
 * again (or unwrapped again, the bundle stays parsed in memory) after the
 * token layer recovered. The bundle's data key is on the token only while
 * loading or re-unwrapping.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>
#include <sodium.h>

#include "bundle/envname.h"
#include "core/pubkey.h"
#include "vaultd/keeper_int.h"

#define BUNDLE_KEY_LABEL "p11vault-bundle-key"

/* Set once at start, before any thread loads a bundle. */
static void (*fallback_warn)(const char *msg);

void
vd_secrets_set_warn(void (*warn)(const char *msg))
{
	fallback_warn = warn;
}

/* Best effort: the object may be gone already (recovery, logout). */
static void
destroy_obj(p11_token *tok, p11_obj *obj)
{
	if (p11_obj_destroy(tok, obj) != PV_OK)
		pv_err_clear_detail();
	obj->handle = CK_INVALID_HANDLE;
}

static void
free_expect(char **e, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(e[i]);
	free(e);
}

static pv_err
sync_new(struct vd_secrets_sync **out)
{
	struct vd_secrets_sync *sy = calloc(1, sizeof(*sy));

	if (sy == NULL)
		return PV_ERR_NOMEM;
	if (pthread_mutex_init(&sy->mu, NULL) != 0) {
		free(sy);
		return PV_ERR_NOMEM;
	}
	if (pthread_cond_init(&sy->cv, NULL) != 0) {
		pthread_mutex_destroy(&sy->mu);
		free(sy);
		return PV_ERR_NOMEM;
	}
	if (pthread_mutex_init(&sy->val_mu, NULL) != 0) {
		pthread_cond_destroy(&sy->cv);
		pthread_mutex_destroy(&sy->mu);
		free(sy);
		return PV_ERR_NOMEM;
	}
	*out = sy;
	return PV_OK;
}

void
vd_secrets_free(struct vd_secrets *s)
{
	char detail[512];
	size_t i;

	if (s == NULL)
		return;
	/* freeing on an error path must not replace the caller's detail */
	snprintf(detail, sizeof(detail), "%s", pv_err_detail());
	for (i = 0; i < s->nkeys; i++) {
		EVP_PKEY_free(s->keys[i].pub);
		/* gone already after a recovery: nothing to do then */
		if (s->sync != NULL && s->sync->objs != NULL && s->sync->objs[i].handle != CK_INVALID_HANDLE)
			destroy_obj(s->tok, &s->sync->objs[i]);
	}
	free(s->keys);
	for (i = 0; i < s->nvals; i++)
		pv_secret_free(s->vals[i].value);
	free(s->vals);
	free(s->rows);
	if (s->sync != NULL) {
		free(s->sync->objs);
		pthread_mutex_destroy(&s->sync->val_mu);
		pthread_cond_destroy(&s->sync->cv);
		pthread_mutex_destroy(&s->sync->mu);
		free(s->sync);
	}
	free_expect(s->expect, s->nexpect);
	pv_sealer_trust_free(s->trust);
	pv_bundle_free(s->bundle);
	free(s);
	if (detail[0] != '\0')
		pv_err_set_detail("%s", detail);
}

/* The read options of cfg->bundle (expect_context as "name=value"). */
static pv_err
read_opts(struct vd_secrets *s, const struct pv_config *cfg)
{
	size_t i, n = cfg->bundle.n_expect_context, len;

	memset(&s->ropts, 0, sizeof(s->ropts));
	s->ropts.min_version = cfg->bundle.min_version;
	if (n == 0)
		return PV_OK;
	if ((s->expect = calloc(n, sizeof(*s->expect))) == NULL)
		return PV_ERR_NOMEM;
	for (i = 0; i < n; i++) {
		const struct pv_config_kv *kv = &cfg->bundle.expect_context[i];

		len = strlen(kv->name) + strlen(kv->value) + 2;
		if ((s->expect[i] = malloc(len)) == NULL)
			return PV_ERR_NOMEM;
		snprintf(s->expect[i], len, "%s=%s", kv->name, kv->value);
		s->nexpect = i + 1;
	}
	s->ropts.expect_ctx = (const char *const *)s->expect;
	s->ropts.nexpect = n;
	return PV_OK;
}

/* Unwrap entry e into a session object with a fresh random CKA_ID. */
static pv_err
unwrap_one(p11_token *tok, const struct pv_bundle_entry *e, pv_dek *dek, int allow_fallback, p11_obj *obj)
{
	unsigned long gen;
	struct pv_key_import ki;
	uint8_t id[VD_BUNDLE_KEY_ID_LEN];
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	char msg[400];
	int used = 0;
	pv_err r;

	randombytes_buf(id, sizeof(id));
	memset(&ki, 0, sizeof(ki));
	ki.alg = e->alg;
	ki.label = BUNDLE_KEY_LABEL;
	ki.id = id;
	ki.id_len = sizeof(id);
	ki.persistent = 0;
	ki.allow_fallback = allow_fallback;
	ki.fallback_used = &used;
	/* the generation before the object exists: a recovery meanwhile makes
	 * the handle look stale, and the next use searches for it by CKA_ID */
	gen = p11_token_generation(tok);
	if ((r = pv_bundle_unwrap_key(tok, e, dek, &ki, &h)) != PV_OK) {
		char detail[400];

		snprintf(detail, sizeof(detail), "%s", pv_err_detail());
		pv_err_set_detail("bundle entry %s: %s", e->name,
				  detail[0] != '\0' ? detail : pv_strerror(r));
		return r;
	}
	if (used && fallback_warn != NULL) {
		snprintf(
		    msg, sizeof(msg),
		    "bundle entry %s: the token cannot unwrap Ed25519 keys; imported through the key-import "
		    "fallback (bundle.key_import_fallback: the seed was briefly in guarded memory)",
		    e->name);
		fallback_warn(msg);
	}
	p11_obj_from_handle(obj, CKO_PRIVATE_KEY, h, gen, id, sizeof(id), BUNDLE_KEY_LABEL);
	return PV_OK;
}

/* Open the bundle's DEK on the token, unwrap the keys marked in need[]
 * (all when need is NULL) into objs[], close the DEK. */
static pv_err
unwrap_keys(const struct vd_secrets *s, const int *need, p11_obj *objs)
{
	struct pv_bundle_opened op = {0};
	size_t i, done = 0;
	pv_err r;

	if ((r = pv_bundle_open(s->tok, s->bundle, &s->ropts, PV_DEK_ON_TOKEN, &op)) != PV_OK)
		goto out;
	for (i = 0; i < s->nkeys; i++) {
		if (need != NULL && !need[i])
			continue;
		if ((r = unwrap_one(s->tok, &s->bundle->entries[s->keys[i].entry], op.dek,
				    s->key_import_fallback, &objs[i])) != PV_OK)
			goto out;
		done = i + 1;
	}
out:
	/* a partial failure: destroy what was made in this call */
	if (r != PV_OK) {
		for (i = 0; i < done; i++) {
			if ((need == NULL || need[i]) && objs[i].handle != CK_INVALID_HANDLE) {
				destroy_obj(s->tok, &objs[i]);
			}
		}
	}
	pv_bundle_opened_clear(&op);
	return r;
}

static pv_err
take_values(struct vd_secrets *s, struct pv_kvlist *kv)
{
	size_t i;

	if (kv->n == 0)
		return PV_OK;
	if ((s->vals = calloc(kv->n, sizeof(*s->vals))) == NULL)
		return PV_ERR_NOMEM;
	for (i = 0; i < kv->n; i++) {
		struct vd_secret_val *v = &s->vals[s->nvals++];

		snprintf(v->name, sizeof(v->name), "%s", kv->items[i].name);
		v->kind = kv->items[i].kind;
		v->value = kv->items[i].value;
		kv->items[i].value = NULL;
	}
	return PV_OK;
}

static pv_err
collect_keys(struct vd_secrets *s, struct vd_keeper *k)
{
	const struct pv_bundle *b = s->bundle;
	struct pv_key *clash = NULL;
	size_t i, n = 0;
	pv_err r;

	for (i = 0; i < b->nentries; i++)
		n += b->entries[i].kind == PV_ENTRY_PRIVATE_KEY;
	if (n == 0)
		return PV_OK;
	if ((s->keys = calloc(n, sizeof(*s->keys))) == NULL ||
	    (s->sync->objs = calloc(n, sizeof(*s->sync->objs))) == NULL)
		return PV_ERR_NOMEM;
	for (i = 0; i < b->nentries; i++) {
		const struct pv_bundle_entry *e = &b->entries[i];
		struct vd_bundle_key *bk;
		const unsigned char *p = e->public_key;

		if (e->kind != PV_ENTRY_PRIVATE_KEY)
			continue;
		bk = &s->keys[s->nkeys++];
		s->sync->objs[s->nkeys - 1].handle = CK_INVALID_HANDLE;
		if (strlen(e->name) >= sizeof(bk->name)) {
			pv_err_set_detail("bundle entry %.64s...: a key name is at most %d characters",
					  e->name, PV_KEY_NAME_MAX);
			return PV_ERR_INTEGRITY;
		}
		memcpy(bk->name, e->name, strlen(e->name) + 1);
		bk->alg = e->alg;
		bk->purpose = e->purpose;
		bk->entry = i;
		if ((bk->pub = d2i_PUBKEY(NULL, &p, (long)e->public_key_len)) == NULL ||
		    p != e->public_key + e->public_key_len || pv_pubkey_alg(bk->pub) != e->alg) {
			pv_err_set_detail("bundle entry %s: public_key is not a %s key", e->name,
					  pv_alg_info(e->alg) ? pv_alg_info(e->alg)->name : "known");
			return PV_ERR_INTEGRITY;
		}
		/* one name, one key: a token key would silently shadow it */
		r = pv_keys_get(vd_keeper_ks(k), bk->name, &clash);
		pv_key_free(clash);
		clash = NULL;
		if (r == PV_OK) {
			pv_err_set_detail(
			    "bundle key %s has the name of a key on the token; rename one of them", bk->name);
			return PV_ERR_EXISTS;
		}
		if (r != PV_ERR_NOT_FOUND)
			return r;
	}
	return PV_OK;
}

/* The bundle's env entries named like a variable that changes how programs
 * run (bundle/envname.h) are refused, before the bundle is opened, unless
 * secrets.allow_env names them: a configuration error naming the entry.
 * File entries are delivered as files and are not checked. */
static pv_err
check_env_names(const struct pv_bundle *b, const struct pv_config *cfg)
{
	const char *rule = NULL;
	char why[32] = "";
	size_t i;

	for (i = 0; i < b->nentries; i++) {
		const char *name = b->entries[i].name;

		if (b->entries[i].kind != PV_ENTRY_ENV ||
		    pv_env_name_check(name, (const char *const *)cfg->secrets.allow_env,
				      cfg->secrets.n_allow_env, &rule) == PV_OK)
			continue;
		if (strcmp(rule, name) != 0)
			snprintf(why, sizeof(why), " (%s)", rule);
		pv_err_set_detail(
		    "entry %s changes how programs run%s; refused (list it in secrets.allow_env "
		    "to serve it anyway)",
		    name, why);
		return PV_ERR_BAD_INPUT;
	}
	return PV_OK;
}

/* bundle.trusted_sealers: PEM public keys, read at every start and reload. */
static pv_err
load_trust(struct vd_secrets *s, const struct pv_config *cfg)
{
	char why[256];
	size_t i;
	pv_err r;

	if (cfg->bundle.n_trusted_sealers == 0)
		return PV_OK;
	if ((r = pv_sealer_trust_new(&s->trust)) != PV_OK)
		return r;
	for (i = 0; i < cfg->bundle.n_trusted_sealers; i++) {
		const char *path = cfg->bundle.trusted_sealers[i];

		if ((r = pv_sealer_trust_add_pem_file(s->trust, path)) != PV_OK) {
			snprintf(why, sizeof(why), "%s",
				 pv_err_detail()[0] ? pv_err_detail() : pv_strerror(r));
			pv_err_set_detail("bundle.trusted_sealers[%zu] %s: %s", i, path, why);
			return r == PV_ERR_NOMEM ? r : PV_ERR_USAGE;
		}
	}
	s->ropts.trust = s->trust;
	return PV_OK;
}

static pv_err
load_bundle(struct vd_secrets *s, struct vd_keeper *k, const struct pv_config *cfg)
{
	struct pv_bundle_opened op = {0};
	struct pv_kvlist kv;
	char *missing = NULL;
	pv_err r;

	pv_kvlist_init(&kv);
	s->key_import_fallback = cfg->bundle.key_import_fallback;
	if ((r = read_opts(s, cfg)) != PV_OK || (r = load_trust(s, cfg)) != PV_OK)
		goto out;
	/* with trusted sealers, nothing of the bundle is used before its
	 * signature verifies (bundle-format.md §7 step 2a); pv_bundle_open
	 * checks it again every time the DEK is unwrapped */
	if ((r = pv_bundle_load_file(cfg->bundle.path, &s->bundle)) != PV_OK ||
	    (r = pv_bundle_precheck(s->bundle, &s->ropts)) != PV_OK ||
	    (s->trust != NULL && (r = pv_sealer_verify(s->bundle, s->trust)) != PV_OK) ||
	    (r = check_env_names(s->bundle, cfg)) != PV_OK)
		goto out;
	if ((r = collect_keys(s, k)) != PV_OK)
		goto out;
	if ((r = pv_bundle_open(s->tok, s->bundle, &s->ropts, PV_DEK_ON_TOKEN, &op)) != PV_OK ||
	    (r = pv_bundle_decrypt(s->bundle, op.dek, NULL, 0, 1, &kv, &missing)) != PV_OK ||
	    (r = take_values(s, &kv)) != PV_OK)
		goto out;
	pv_bundle_opened_clear(&op);
	if (s->nkeys > 0) {
		unsigned long gen = p11_token_generation(s->tok);

		if ((r = unwrap_keys(s, NULL, s->sync->objs)) != PV_OK)
			goto out;
		s->sync->gen = gen;
	}
out:
	free(missing);
	pv_bundle_opened_clear(&op);
	pv_kvlist_free(&kv);
	return r;
}

static pv_err
load_environment(struct vd_secrets *s, const struct pv_config *cfg)
{
	size_t i, j, n = cfg->secrets.n_environment;
	struct vd_secret_val *grown;
	pv_secret *v = NULL;
	const char *val;

	if (n == 0)
		return PV_OK;
	if ((grown = realloc(s->vals, (s->nvals + n) * sizeof(*grown))) == NULL)
		return PV_ERR_NOMEM;
	s->vals = grown;
	for (i = 0; i < n; i++) {
		const char *name = cfg->secrets.environment[i];

		for (j = 0; j < s->nvals; j++) {
			if (strcmp(s->vals[j].name, name) == 0) {
				pv_err_set_detail(
				    "secret %s is both in the bundle and in secrets.environment", name);
				return PV_ERR_EXISTS;
			}
		}
		for (j = 0; j < s->nkeys; j++) {
			if (strcmp(s->keys[j].name, name) == 0) {
				pv_err_set_detail("secret %s is both a bundle key and in secrets.environment",
						  name);
				return PV_ERR_EXISTS;
			}
		}
		if ((val = getenv(name)) == NULL) {
			pv_err_set_detail(
			    "secrets.environment names %s, which is not in vaultd's environment", name);
			return PV_ERR_NOT_FOUND;
		}
		if (strlen(val) > PV_KV_VALUE_MAX) {
			pv_err_set_detail("environment variable %s is larger than %zu bytes", name,
					  PV_KV_VALUE_MAX);
			return PV_ERR_TOO_LARGE;
		}
		/* a secret of 0 bytes still needs a capacity of 1 */
		if (val[0] == '\0' ? pv_secret_new(1, &v) != PV_OK
				   : pv_secret_from(val, strlen(val), &v) != PV_OK)
			return PV_ERR_NOMEM;
		pv_secret_lock(v);
		memset(&s->vals[s->nvals], 0, sizeof(s->vals[0]));
		snprintf(s->vals[s->nvals].name, sizeof(s->vals[0].name), "%s", name);
		s->vals[s->nvals].kind = PV_ENTRY_ENV;
		s->vals[s->nvals].environment = 1;
		s->vals[s->nvals].value = v;
		s->nvals++;
	}
	return PV_OK;
}

static int
row_cmp(const void *a, const void *b)
{
	return strcmp(((const struct vd_secret_row *)a)->name, ((const struct vd_secret_row *)b)->name);
}

static int
val_cmp(const void *a, const void *b)
{
	return strcmp(((const struct vd_secret_val *)a)->name, ((const struct vd_secret_val *)b)->name);
}

static pv_err
build_rows(struct vd_secrets *s)
{
	size_t i, n = s->nvals + s->nkeys;

	if (n == 0)
		return PV_OK;
	if (s->nvals > 0)
		qsort(s->vals, s->nvals, sizeof(*s->vals), val_cmp);
	if ((s->rows = calloc(n, sizeof(*s->rows))) == NULL)
		return PV_ERR_NOMEM;
	for (i = 0; i < s->nvals; i++)
		s->rows[s->nrows++] =
		    (struct vd_secret_row){s->vals[i].name, s->vals[i].kind, s->vals[i].environment,
					   pv_secret_len(s->vals[i].value)};
	for (i = 0; i < s->nkeys; i++)
		s->rows[s->nrows++] = (struct vd_secret_row){s->keys[i].name, PV_ENTRY_PRIVATE_KEY, 0, 0};
	qsort(s->rows, s->nrows, sizeof(*s->rows), row_cmp);
	return PV_OK;
}

pv_err
vd_secrets_load_ex(struct vd_keeper *k, const struct pv_config *cfg, int with_bundle, struct vd_secrets **out,
		   int *bundle_failed)
{
	struct vd_secrets *s = NULL;
	char detail[512];
	pv_err r;

	*out = NULL;
	if (bundle_failed != NULL)
		*bundle_failed = 0;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	s->tok = vd_keeper_token(k);
	if ((r = sync_new(&s->sync)) != PV_OK)
		goto out;
	if (with_bundle && cfg->bundle.present && (r = load_bundle(s, k, cfg)) != PV_OK) {
		if (bundle_failed != NULL)
			*bundle_failed = 1;
		/* a copy: the detail cannot be formatted into itself */
		snprintf(detail, sizeof(detail), "%s", pv_err_detail()[0] ? pv_err_detail() : pv_strerror(r));
		pv_err_set_detail("bundle %s: %s", cfg->bundle.path, detail);
		goto out;
	}
	if ((r = load_environment(s, cfg)) != PV_OK || (r = build_rows(s)) != PV_OK)
		goto out;
	*out = s;
	s = NULL;
out:
	vd_secrets_free(s);
	return r;
}

pv_err
vd_secrets_load(struct vd_keeper *k, const struct pv_config *cfg, struct vd_secrets **out)
{
	return vd_secrets_load_ex(k, cfg, 1, out, NULL);
}

uint64_t
vd_secrets_bundle_version(const struct vd_secrets *s)
{
	return s != NULL && s->bundle != NULL ? s->bundle->version : 0;
}

size_t
vd_secrets_count(const struct vd_secrets *s)
{
	return s != NULL ? s->nrows : 0;
}

void
vd_secrets_info(const struct vd_secrets *s, size_t i, struct vd_secret_info *out)
{
	const struct vd_secret_row *row;

	memset(out, 0, sizeof(*out));
	if (s == NULL || i >= s->nrows)
		return;
	row = &s->rows[i];
	out->name = row->name;
	out->kind = pv_entry_kind_name(row->kind);
	out->origin = row->environment ? "environment" : "bundle";
	out->size = row->size;
}

pv_err
vd_secrets_get(const struct vd_secrets *s, const char *name, pv_secret **value)
{
	const struct vd_secret_val *v = NULL;
	const uint8_t *p;
	size_t i;
	pv_err r;

	*value = NULL;
	for (i = 0; s != NULL && i < s->nvals && v == NULL; i++) {
		if (strcmp(s->vals[i].name, name) == 0)
			v = &s->vals[i];
	}
	if (v == NULL) {
		if (vd_secrets_key(s, name) != NULL) {
			pv_err_set_detail("secret %s is a private key; its value is never released", name);
			return PV_ERR_KEY_TYPE;
		}
		pv_err_set_detail("no secret named %s", name);
		return PV_ERR_NOT_FOUND;
	}
	pthread_mutex_lock(&s->sync->val_mu);
	if (pv_secret_len(v->value) == 0) {
		r = pv_secret_new(1, value);
	} else {
		p = pv_secret_ro(v->value);
		r = pv_secret_from(p, pv_secret_len(v->value), value);
		pv_secret_lock(v->value);
	}
	pthread_mutex_unlock(&s->sync->val_mu);
	return r;
}

const struct vd_bundle_key *
vd_secrets_key(const struct vd_secrets *s, const char *name)
{
	size_t i;

	for (i = 0; s != NULL && i < s->nkeys; i++) {
		if (strcmp(s->keys[i].name, name) == 0)
			return &s->keys[i];
	}
	return NULL;
}

/* Which key objects are still there (found again by CKA_ID), and unwrap
 * the missing ones again into objs. No lock held. */
static pv_err
refresh(const struct vd_secrets *s, p11_obj *objs)
{
	int *need = NULL, any = 0;
	size_t i;
	pv_err r = PV_OK;

	if ((need = calloc(s->nkeys, sizeof(*need))) == NULL)
		return PV_ERR_NOMEM;
	for (i = 0; i < s->nkeys; i++) {
		r = objs[i].handle == CK_INVALID_HANDLE ? PV_ERR_NOT_FOUND : p11_obj_find(s->tok, &objs[i]);
		if (r == PV_ERR_NOT_FOUND) {
			need[i] = any = 1;
			objs[i].handle = CK_INVALID_HANDLE;
			r = PV_OK;
		} else if (r != PV_OK) {
			goto out;
		}
	}
	if (any)
		r = unwrap_keys(s, need, objs);
out:
	free(need);
	return r;
}

pv_err
vd_secrets_key_obj(const struct vd_secrets *s, const char *name, int force, p11_obj *obj)
{
	struct vd_secrets_sync *sy;
	unsigned long gen;
	p11_obj *objs = NULL;
	size_t i;
	pv_err r;

	for (i = 0; s != NULL && i < s->nkeys; i++) {
		if (strcmp(s->keys[i].name, name) == 0)
			break;
	}
	if (s == NULL || i == s->nkeys) {
		pv_err_set_detail("no key named %s", name);
		return PV_ERR_NOT_FOUND;
	}
	sy = s->sync;
	gen = p11_token_generation(s->tok);
	pthread_mutex_lock(&sy->mu);
	while (sy->unwrapping) {
		/* someone else is on it: take their result */
		pthread_cond_wait(&sy->cv, &sy->mu);
		force = 0;
	}
	if (!force && sy->gen == gen && sy->objs[i].handle != CK_INVALID_HANDLE) {
		*obj = sy->objs[i];
		pthread_mutex_unlock(&sy->mu);
		return PV_OK;
	}
	if ((objs = malloc(s->nkeys * sizeof(*objs))) == NULL) {
		pthread_mutex_unlock(&sy->mu);
		return PV_ERR_NOMEM;
	}
	memcpy(objs, sy->objs, s->nkeys * sizeof(*objs));
	sy->unwrapping = 1;
	pthread_mutex_unlock(&sy->mu);

	r = refresh(s, objs);

	pthread_mutex_lock(&sy->mu);
	if (r == PV_OK) {
		memcpy(sy->objs, objs, s->nkeys * sizeof(*objs));
		sy->gen = gen;
		*obj = sy->objs[i];
	}
	sy->unwrapping = 0;
	pthread_cond_broadcast(&sy->cv);
	pthread_mutex_unlock(&sy->mu);
	free(objs);
	return r;
}
