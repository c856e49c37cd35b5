/*
 * The keeper: vaultd's only way to the token, and where every use of a key
 * is decided (keeper.h; the decisions themselves are in keeper_policy.c).
 * Token keys go through the keystore (core/keys.h, core/sign.h,
 * jose/jwt.h); bundle keys are session objects owned by a generation's
 * secrets (secrets.c). No lock is held across a token call: the JWK Set
 * cache lock is taken only to copy or swap.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "core/b64.h"
#include "core/digest.h"
#include "core/pubkey.h"
#include "pkcs11/crypt.h"
#include "vaultd/keeper_int.h"
#include "vaultd/vaultd.h"

#define DEFAULT_META_TTL 5
#define JWT_LEEWAY       60
#define P256_FIELD       32
/* How many (key, version) pairs the keeper remembers seeing active, and
 * for how long a request decided with one may still sign with it after a
 * rotation overtook it (see seen_active below). */
#define SEEN_MAX         64
#define SEEN_GRACE       5

/* A wallet key version this keeper decided a request with while it was
 * the active one, and when (CLOCK_MONOTONIC). */
struct seen_active {
	char name[PV_KEY_NAME_MAX + 1];
	unsigned version;
	struct timespec at;
};

struct vd_keeper {
	p11_token *tok;
	pv_keystore *ks;
	char label[33];
	pthread_mutex_t mu; /* guards the fields below */
	unsigned ttl;
	char *jwks; /* cached serialized JWK Set, NULL: none */
	size_t jwks_len;
	char etag[48];
	struct timespec jwks_at; /* CLOCK_MONOTONIC of the build */
	cJSON *jwks_names;       /* kid -> key name, built with jwks */
	/* the audit checkpoint key (vd_keeper_audit_mac), set once at boot */
	char audit_key[PV_KEY_NAME_MAX + 1];
	/* wallet key versions seen active by decide() (seen_recently) */
	struct seen_active seen[SEEN_MAX];
	size_t nseen;
};

static void
trim_label(const char *in, char out[33])
{
	size_t n = strnlen(in, 32);

	memcpy(out, in, n);
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
}

static void (*outage_log)(const char *msg);

void
vd_keeper_set_outage_log(void (*log)(const char *msg))
{
	outage_log = log;
}

/* One line when a token outage starts and one when it ends (the token layer's callback). */
static void
on_outage(void *arg, int down, double seconds)
{
	char msg[160];

	(void)arg;
	if (outage_log == NULL)
		return;
	if (down)
		snprintf(msg, sizeof(msg),
			 "token outage: the token is unavailable; requests answer 503 token_unavailable "
			 "while it is re-found by its URI");
	else
		snprintf(msg, sizeof(msg), "token outage ended after %.3f s: the token is back", seconds);
	outage_log(msg);
}

pv_err
vd_keeper_open(const struct pv_config *cfg, struct vd_keeper **out)
{
	struct p11_token_opts o;
	struct p11_token_info info;
	struct vd_keeper *k = NULL;
	pv_err r;

	*out = NULL;
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return PV_ERR_NOMEM;
	if (pthread_mutex_init(&k->mu, NULL) != 0) {
		free(k);
		return PV_ERR_NOMEM;
	}
	k->ttl = DEFAULT_META_TTL;
	memset(&o, 0, sizeof(o));
	o.token_uri = cfg->token.uri;
	o.module = cfg->token.module;
	o.pin_source = cfg->token.pin_source;
	o.max_sessions = cfg->token.max_sessions;
	o.finalize_on_close = 0; /* SoftHSM + OpenSSL 3 crash at exit otherwise */
	o.on_outage = on_outage;
	if ((r = p11_token_open(&o, &k->tok)) != PV_OK || (r = p11_token_login(k->tok)) != PV_OK ||
	    (r = pv_keystore_new(k->tok, &k->ks)) != PV_OK)
		goto out;
	pv_keystore_set_meta_ttl(k->ks, k->ttl);
	if ((r = p11_token_get_info(k->tok, &info)) != PV_OK)
		goto out;
	trim_label(info.label, k->label);
	*out = k;
	k = NULL;
out:
	vd_keeper_close(k);
	return r;
}

void
vd_keeper_close(struct vd_keeper *k)
{
	if (k == NULL)
		return;
	pv_keystore_free(k->ks);
	p11_token_close(k->tok);
	free(k->jwks);
	cJSON_Delete(k->jwks_names);
	pthread_mutex_destroy(&k->mu);
	free(k);
}

void
vd_keeper_set_meta_ttl(struct vd_keeper *k, unsigned seconds)
{
	pthread_mutex_lock(&k->mu);
	k->ttl = seconds;
	pthread_mutex_unlock(&k->mu);
	/* the keystore's 0 means "until flushed"; the keeper's 0 means "do not
	 * cache": the nearest the keystore has is one second */
	pv_keystore_set_meta_ttl(k->ks, seconds ? seconds : 1);
}

void
vd_keeper_flush(struct vd_keeper *k)
{
	pv_keystore_flush(k->ks);
	pthread_mutex_lock(&k->mu);
	free(k->jwks);
	k->jwks = NULL;
	k->jwks_len = 0;
	k->etag[0] = '\0';
	cJSON_Delete(k->jwks_names);
	k->jwks_names = NULL;
	pthread_mutex_unlock(&k->mu);
}

const char *
vd_keeper_token_label(const struct vd_keeper *k)
{
	return k->label;
}

void
vd_keeper_stats(struct vd_keeper *k, struct p11_token_stats *st)
{
	p11_token_get_stats(k->tok, st);
}

pv_keystore *
vd_keeper_ks(struct vd_keeper *k)
{
	return k->ks;
}

unsigned
vd_keeper_meta_ttl(struct vd_keeper *k)
{
	unsigned t;

	pthread_mutex_lock(&k->mu);
	t = k->ttl;
	pthread_mutex_unlock(&k->mu);
	return t ? t : 1;
}

p11_token *
vd_keeper_token(struct vd_keeper *k)
{
	return k->tok;
}

/* ---- keys ---- */

/* A bundle key as key metadata: version 1, active, usage sign. */
static pv_err
bundle_key_meta(const struct vd_bundle_key *bk, struct pv_key **out)
{
	struct pv_key *key = NULL;

	*out = NULL;
	if ((key = calloc(1, sizeof(*key))) == NULL ||
	    (key->versions = calloc(1, sizeof(*key->versions))) == NULL) {
		free(key);
		return PV_ERR_NOMEM;
	}
	snprintf(key->name, sizeof(key->name), "%s", bk->name);
	key->alg = bk->alg;
	key->purpose = bk->purpose;
	key->usage = PV_USAGE_SIGN;
	key->nversions = 1;
	key->versions[0].version = 1;
	key->versions[0].state = PV_STATE_ACTIVE;
	*out = key;
	return PV_OK;
}

static pv_err
not_found(const char *name)
{
	pv_err_set_detail("no key named %.64s", name);
	return PV_ERR_NOT_FOUND;
}

/* The request's boot-bundle scope (NULL: none). */
static const struct vd_secrets *
secrets_of(const struct vd_kreq *q)
{
	return q->gen != NULL ? q->gen->secrets : NULL;
}

/* Bundle keys take their names: a clash with a token key is refused when
 * the bundle is loaded, and this keeps the hot path off C_FindObjects. */
static const struct vd_bundle_key *
bundle_key(const struct vd_secrets *s, const char *name)
{
	return s != NULL ? vd_secrets_key(s, name) : NULL;
}

/* Bundle keys have only version 1. */
static pv_err
bundle_version(const struct vd_bundle_key *bk, unsigned version)
{
	if (version == 0 || version == 1)
		return PV_OK;
	pv_err_set_detail("key %s has no version %u (bundle keys have version 1 only)", bk->name, version);
	return PV_ERR_NOT_FOUND;
}

/*
 * Rotation mid-request (docs/wallet.md, "Rotation"). A wallet request is
 * decided with the version active at that moment: its public key and
 * address are read, the Solana signer slot is found, and the signer pins
 * that version. Another process may activate a new version before the
 * signature is made; the pinned version is then verify-only and pv_sign
 * would refuse it (409) although nothing was wrong with the request. So
 * decide() remembers which wallet key versions it saw active, and a
 * signature with a pinned version this keeper saw active in the last
 * SEEN_GRACE seconds may be made while that version is verify-only
 * (pv_sign_opts.overtaken_ok; never retired). The keeper decides this
 * itself, not from anything the handler says, and the bound is the one
 * rotation already has: a replica keeps signing with the version its
 * cached metadata says is active for up to the metadata TTL (5 s).
 */
static int
wallet_use(enum vd_use use)
{
	pv_key_purpose p = vd_use_purpose(use);

	return p == PV_PURPOSE_SOLANA || p == PV_PURPOSE_EVM;
}

static void
seen_record(struct vd_keeper *k, const struct pv_key *key)
{
	const struct pv_key_version *v = pv_key_active(key);
	struct timespec now;
	size_t i, slot = 0;

	if (v == NULL)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&k->mu);
	for (i = 0; i < k->nseen; i++) {
		if (k->seen[i].version == v->version && strcmp(k->seen[i].name, key->name) == 0)
			break;
		/* full: the one seen longest ago makes room */
		if (k->seen[i].at.tv_sec < k->seen[slot].at.tv_sec)
			slot = i;
	}
	if (i < k->nseen)
		slot = i;
	else if (k->nseen < SEEN_MAX)
		slot = k->nseen++;
	snprintf(k->seen[slot].name, sizeof(k->seen[slot].name), "%s", key->name);
	k->seen[slot].version = v->version;
	k->seen[slot].at = now;
	pthread_mutex_unlock(&k->mu);
}

/* Whether version of name was seen active by decide() within SEEN_GRACE. */
static int
seen_recently(struct vd_keeper *k, const char *name, unsigned version)
{
	struct timespec now;
	int found = 0;
	size_t i;

	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&k->mu);
	for (i = 0; i < k->nseen && !found; i++)
		found = k->seen[i].version == version && strcmp(k->seen[i].name, name) == 0 &&
			now.tv_sec - k->seen[i].at.tv_sec <= SEEN_GRACE;
	pthread_mutex_unlock(&k->mu);
	return found;
}

/*
 * Decide q up to the key, in this order so that a client learns nothing
 * about keys it may not use: the policy (403), the key (404), its purpose
 * (403 wrong_purpose). A bundle key sets *bk, a token key *key (the
 * caller frees it).
 */
static pv_err
decide(struct vd_keeper *k, struct vd_kreq *q, struct pv_key **key, const struct vd_bundle_key **bk)
{
	pv_err r;

	*key = NULL;
	*bk = NULL;
	if ((r = vd_decide_policy(k, q)) != PV_OK)
		return r;
	if ((*bk = bundle_key(secrets_of(q), q->key)) != NULL)
		return vd_decide_purpose(q, (*bk)->purpose, 1);
	if ((r = pv_keys_get(k->ks, q->key, key)) != PV_OK)
		return r == PV_ERR_NOT_FOUND ? not_found(q->key) : r;
	if ((r = vd_decide_purpose(q, (*key)->purpose, 0)) != PV_OK) {
		pv_key_free(*key);
		*key = NULL;
		return r;
	}
	if (wallet_use(q->use))
		seen_record(k, *key);
	return PV_OK;
}

/* Refuse a use the call does not serve (a handler bug, never signed). */
static pv_err
want_use(const struct vd_kreq *q, enum vd_use use)
{
	if (q->use == use)
		return PV_OK;
	pv_err_set_detail("keeper request for %s used for another call", pv_op_name(vd_use_op(q->use)));
	return PV_ERR_INTERNAL;
}

pv_err
vd_keeper_keys(struct vd_keeper *k, struct vd_kreq *q, struct pv_key ***keys, enum vd_key_origin **origins,
	       size_t *n)
{
	const struct vd_secrets *s = secrets_of(q);
	struct pv_key **list = NULL, **all = NULL;
	enum vd_key_origin *orig = NULL;
	size_t nlist = 0, nall = 0, nb = s != NULL ? s->nkeys : 0, i;
	pv_policy_decision d;
	struct vd_kreq one;
	pv_err r;

	*keys = NULL;
	*origins = NULL;
	*n = 0;
	if ((r = want_use(q, VD_USE_READ)) != PV_OK ||
	    (r = vd_keeper_allow(k, q->gen, q->client, PV_OP_KEYS_READ, NULL, 0, &d)) != PV_OK)
		return r;
	if ((r = pv_keys_list(k->ks, &list, &nlist)) != PV_OK)
		goto out;
	if ((all = calloc(nlist + nb + 1, sizeof(*all))) == NULL ||
	    (orig = calloc(nlist + nb + 1, sizeof(*orig))) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	/* only the keys this client may read, one decision per key */
	one = *q;
	for (i = 0; i < nlist; i++) {
		if (bundle_key(s, list[i]->name) != NULL)
			continue; /* shadowed, see bundle_key() */
		one.key = list[i]->name;
		if (vd_decide_policy(k, &one) != PV_OK ||
		    vd_decide_purpose(&one, list[i]->purpose, 0) != PV_OK)
			continue;
		orig[nall] = VD_ORIGIN_TOKEN;
		all[nall++] = list[i];
		list[i] = NULL;
	}
	for (i = 0; i < nb; i++) {
		one.key = s->keys[i].name;
		if (vd_decide_policy(k, &one) != PV_OK ||
		    vd_decide_purpose(&one, s->keys[i].purpose, 1) != PV_OK)
			continue;
		if ((r = bundle_key_meta(&s->keys[i], &all[nall])) != PV_OK)
			goto out;
		orig[nall++] = VD_ORIGIN_BUNDLE;
	}
	pv_err_clear_detail();
	*keys = all;
	*origins = orig;
	*n = nall;
	all = NULL;
	orig = NULL;
	r = PV_OK;
out:
	pv_keys_list_free(list, nlist);
	pv_keys_list_free(all, nall);
	free(orig);
	return r;
}

pv_err
vd_keeper_key(struct vd_keeper *k, struct vd_kreq *q, struct pv_key **out, enum vd_key_origin *origin)
{
	const struct vd_bundle_key *bk = NULL;
	struct pv_key *key = NULL;
	pv_err r;

	*out = NULL;
	if ((r = decide(k, q, &key, &bk)) != PV_OK)
		return r;
	if (origin != NULL)
		*origin = bk != NULL ? VD_ORIGIN_BUNDLE : VD_ORIGIN_TOKEN;
	if (bk != NULL)
		return bundle_key_meta(bk, out);
	*out = key;
	return PV_OK;
}

pv_err
vd_keeper_public(struct vd_keeper *k, struct vd_kreq *q, unsigned version, EVP_PKEY **out)
{
	const struct vd_bundle_key *bk = NULL;
	struct pv_key *key = NULL;
	struct pv_key_version *ver;
	pv_err r;

	*out = NULL;
	if ((r = decide(k, q, &key, &bk)) != PV_OK)
		return r;
	if (bk != NULL) {
		if ((r = bundle_version(bk, version)) != PV_OK)
			return r;
		if (EVP_PKEY_up_ref(bk->pub) != 1)
			return PV_ERR_CRYPTO;
		*out = bk->pub;
		return PV_OK;
	}
	if (!pv_alg_is_asymmetric(key->alg)) {
		pv_err_set_detail("key %s is a %s key; it has no public key", q->key,
				  pv_alg_info(key->alg)->name);
		r = PV_ERR_KEY_TYPE;
		goto out;
	}
	ver = version == 0 ? pv_key_active(key) : pv_key_find_version(key, version);
	if (ver == NULL) {
		if (version == 0)
			pv_err_set_detail("key %s has no active version", q->key);
		else
			pv_err_set_detail("key %s has no version %u", q->key, version);
		r = PV_ERR_NOT_FOUND;
		goto out;
	}
	r = pv_keys_public(k->ks, key, ver, out);
out:
	pv_key_free(key);
	return r;
}

static pv_err
bundle_sign(const struct vd_keeper *k, const struct vd_secrets *s, const struct vd_bundle_key *bk,
	    const struct pv_sign_opts *o, const uint8_t *msg, size_t len, struct pv_sig *out)
{
	p11_obj obj;
	pv_err r;
	int attempt;

	if ((r = bundle_version(bk, o->version)) != PV_OK ||
	    (r = pv_entry_check_purpose(bk->name, bk->purpose, o->purpose)) != PV_OK)
		return r;
	for (attempt = 0; attempt < 2; attempt++) {
		/* the object went away under us (a recovery): unwrap again, once */
		if ((r = vd_secrets_key_obj(s, bk->name, attempt > 0, &obj)) != PV_OK)
			return r;
		r = pv_sign_obj(k->tok, &obj, bk->alg, o, msg, len, out);
		if (r != PV_ERR_NOT_FOUND)
			break;
	}
	if (r == PV_OK)
		out->version = 1;
	return r;
}

pv_err
vd_keeper_sign(struct vd_keeper *k, struct vd_kreq *q, const struct pv_sign_opts *o, const uint8_t *msg,
	       size_t len, struct pv_sig *out)
{
	const struct vd_bundle_key *bk = NULL;
	struct pv_key *key = NULL;
	struct pv_sign_opts so = *o;
	pv_err r;

	memset(out, 0, sizeof(*out));
	if ((r = decide(k, q, &key, &bk)) != PV_OK || (r = vd_decide_intent(q, msg, len)) != PV_OK)
		goto out;
	/* the purpose is the use's, whatever the caller put in o */
	so.purpose = vd_use_purpose(q->use);
	/* a version overtaken mid-request signs only if the keeper itself saw
	 * it active just now (seen_record); never on the caller's word */
	so.overtaken_ok =
	    bk == NULL && wallet_use(q->use) && so.version != 0 && seen_recently(k, q->key, so.version);
	if (bk != NULL)
		r = bundle_sign(k, secrets_of(q), bk, &so, msg, len, out);
	else
		r = pv_sign(k->ks, q->key, &so, msg, len, out);
out:
	pv_key_free(key);
	return r;
}

/* Batches (keeper.h): one decision, every intent checked first, one version. */
pv_err
vd_keeper_sign_batch(struct vd_keeper *k, struct vd_kreq *q, const struct pv_sign_opts *o,
		     const struct vd_batch_item *items, size_t n, struct pv_sig *out)
{
	const struct vd_bundle_key *bk = NULL;
	struct pv_key *key = NULL;
	struct pv_sign_opts so = *o;
	size_t i, done = 0;
	pv_err r;

	if ((r = decide(k, q, &key, &bk)) != PV_OK || (r = vd_decide_batch(q, items, n)) != PV_OK)
		goto out;
	so.purpose = vd_use_purpose(q->use);
	so.overtaken_ok =
	    bk == NULL && wallet_use(q->use) && so.version != 0 && seen_recently(k, q->key, so.version);
	for (i = 0; i < n; i++) {
		if (bk != NULL)
			r = bundle_sign(k, secrets_of(q), bk, &so, items[i].msg, items[i].len, &out[i]);
		else
			r = pv_sign(k->ks, q->key, &so, items[i].msg, items[i].len, &out[i]);
		if (r != PV_OK)
			goto out;
		done = i + 1;
		/* the version that signed the first item signs the rest: this
		 * keeper saw it active just now, so a rotation meanwhile (verify-only,
		 * never retired) does not split the batch */
		so.version = out[0].version;
		so.overtaken_ok = bk == NULL;
	}
out:
	if (r != PV_OK && done > 0)
		memset(out, 0, done * sizeof(*out)); /* nothing is released */
	pv_key_free(key);
	return r;
}

pv_err
vd_keeper_verify(struct vd_keeper *k, struct vd_kreq *q, const struct pv_sign_opts *o, const uint8_t *msg,
		 size_t len, const uint8_t *sig, size_t siglen)
{
	const struct vd_bundle_key *bk = NULL;
	struct pv_key *key = NULL;
	struct pv_sign_opts so = *o;
	pv_err r;

	if ((r = want_use(q, VD_USE_VERIFY)) != PV_OK || (r = decide(k, q, &key, &bk)) != PV_OK)
		goto out;
	so.purpose = vd_use_purpose(q->use);
	so.overtaken_ok = 0;
	if (bk != NULL) {
		if ((r = bundle_version(bk, so.version)) == PV_OK &&
		    (r = pv_entry_check_purpose(bk->name, bk->purpose, so.purpose)) == PV_OK)
			r = pv_verify_pub(bk->pub, bk->alg, &so, msg, len, sig, siglen);
	} else {
		r = pv_verify(k->ks, q->key, &so, msg, len, sig, siglen);
	}
out:
	pv_key_free(key);
	return r;
}

/* ---- JWT ---- */

static char *header_kid(const char *token);

/* A token leaves vaultd only with a kid its JWK Set serves: the signing
 * path reads key metadata on its own TTL, so right after a rotation it can
 * sign with a version the cached set was built before. Then the set is
 * built again now, not when its TTL runs out (a verifier fetching it at
 * once would refuse the token: ERR_JWKS_NO_MATCHING_KEY). */
static void
jwks_cover(struct vd_keeper *k, const char *token)
{
	char *kid = header_kid(token), *json = NULL, *etag = NULL;
	size_t len = 0;
	int stale;

	if (kid == NULL)
		return;
	pthread_mutex_lock(&k->mu);
	stale = k->jwks != NULL &&
		(k->jwks_names == NULL || cJSON_GetObjectItemCaseSensitive(k->jwks_names, kid) == NULL);
	if (stale) {
		free(k->jwks);
		k->jwks = NULL;
		k->jwks_len = 0;
		k->etag[0] = '\0';
	}
	pthread_mutex_unlock(&k->mu);
	/* best effort: a failed build leaves no cached set, so the next GET builds it */
	if (stale && vd_keeper_jwks(k, &json, &len, &etag) == PV_OK) {
		free(json);
		free(etag);
	}
	free(kid);
}

pv_err
vd_keeper_jwt_issue(struct vd_keeper *k, struct vd_kreq *q, const struct pv_jwt_opts *o, const cJSON *claims,
		    char **token)
{
	const struct vd_bundle_key *bk = NULL;
	struct pv_key *key = NULL;
	struct pv_jwt_opts jo = *o;
	pv_err r;

	*token = NULL;
	if ((r = want_use(q, VD_USE_JWT_ISSUE)) != PV_OK || (r = decide(k, q, &key, &bk)) != PV_OK)
		goto out;
	if (bk != NULL) {
		pv_err_set_detail(
		    "key '%s' is a boot-bundle key; JWTs are issued with token keys (they rotate)", q->key);
		r = PV_ERR_KEY_TYPE;
		goto out;
	}
	/* the caps are the rule's that allowed it, decided here */
	jo.max_ttl = (long)q->decision.max_ttl;
	jo.allowed_aud = q->decision.audiences;
	jo.naud = q->decision.n_audiences;
	jo.allow_override = 0;
	if ((r = pv_jwt_issue(k->ks, q->key, &jo, claims, token)) == PV_OK)
		jwks_cover(k, *token);
out:
	pv_key_free(key);
	return r;
}

static double
mono_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

static pv_err
copy_jwks(const char *json, size_t len, const char *etag, char **jout, size_t *lout, char **eout)
{
	char *j = NULL, *e = NULL;

	if ((j = malloc(len + 1)) == NULL || (e = strdup(etag)) == NULL) {
		free(j);
		return PV_ERR_NOMEM;
	}
	memcpy(j, json, len);
	j[len] = '\0';
	*jout = j;
	*lout = len;
	*eout = e;
	return PV_OK;
}

/* "\"" base64url(SHA-256(json)) "\"" */
static pv_err
make_etag(const char *json, size_t len, char etag[48])
{
	uint8_t h[32];
	size_t hl = 0;
	char *b = NULL;
	pv_err r;

	if ((r = pv_digest_compute(PV_DIGEST_SHA256, (const uint8_t *)json, len, h, &hl)) != PV_OK ||
	    (r = pv_b64url_encode(h, hl, &b)) != PV_OK)
		return r;
	snprintf(etag, 48, "\"%s\"", b);
	free(b);
	return PV_OK;
}

pv_err
vd_keeper_jwks(struct vd_keeper *k, char **json, size_t *len, char **etag)
{
	cJSON *set = NULL, *names = NULL, *old_names;
	char *text = NULL, tag[48];
	size_t tlen;
	unsigned ttl;
	pv_err r;

	*json = NULL;
	*etag = NULL;
	*len = 0;
	pthread_mutex_lock(&k->mu);
	ttl = k->ttl;
	if (k->jwks != NULL && ttl > 0 && mono_since(&k->jwks_at) < (double)ttl) {
		r = copy_jwks(k->jwks, k->jwks_len, k->etag, json, len, etag);
		pthread_mutex_unlock(&k->mu);
		return r;
	}
	pthread_mutex_unlock(&k->mu);

	if (ttl == 0)
		pv_keystore_flush(k->ks);
	if ((r = pv_jwks_build_names(k->ks, &set, &names)) != PV_OK)
		goto out;
	if ((text = cJSON_PrintUnformatted(set)) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	tlen = strlen(text);
	if ((r = make_etag(text, tlen, tag)) != PV_OK ||
	    (r = copy_jwks(text, tlen, tag, json, len, etag)) != PV_OK)
		goto out;
	pthread_mutex_lock(&k->mu);
	free(k->jwks);
	k->jwks = text;
	k->jwks_len = tlen;
	memcpy(k->etag, tag, sizeof(tag));
	clock_gettime(CLOCK_MONOTONIC, &k->jwks_at);
	old_names = k->jwks_names;
	k->jwks_names = names;
	pthread_mutex_unlock(&k->mu);
	text = NULL;
	names = old_names;
out:
	cJSON_free(text);
	cJSON_Delete(set);
	cJSON_Delete(names);
	return r;
}

/* The kid of a compact JWS header, if the header decodes (else NULL). */
static char *
header_kid(const char *token)
{
	const char *dot = strchr(token, '.');
	const cJSON *kid;
	uint8_t *hdr = NULL;
	size_t hlen = 0;
	cJSON *h = NULL;
	char *out = NULL;

	if (dot == NULL ||
	    pv_b64url_decode_alloc(token, (size_t)(dot - token), PV_JWT_HEADER_MAX, &hdr, &hlen) != PV_OK)
		return NULL;
	if ((h = cJSON_ParseWithLength((const char *)hdr, hlen)) != NULL && cJSON_IsObject(h) &&
	    cJSON_IsString(kid = cJSON_GetObjectItemCaseSensitive(h, "kid")) && kid->valuestring != NULL &&
	    strlen(kid->valuestring) <= 128)
		out = strdup(kid->valuestring);
	cJSON_Delete(h);
	free(hdr);
	return out;
}

/* The name of the key whose published version has this kid, from the
 * set's map (built again when a reload flushed it meanwhile); "" if none. */
static void
kid_name(struct vd_keeper *k, const char *kid, char name[PV_KEY_NAME_MAX + 1])
{
	const cJSON *n;
	char *json = NULL, *etag = NULL;
	size_t len = 0;
	int tries;

	name[0] = '\0';
	for (tries = 0; tries < 2 && name[0] == '\0'; tries++) {
		if (tries > 0 && vd_keeper_jwks(k, &json, &len, &etag) != PV_OK)
			break;
		pthread_mutex_lock(&k->mu);
		n = k->jwks_names != NULL ? cJSON_GetObjectItemCaseSensitive(k->jwks_names, kid) : NULL;
		if (cJSON_IsString(n) && strlen(n->valuestring) <= PV_KEY_NAME_MAX)
			memcpy(name, n->valuestring, strlen(n->valuestring) + 1);
		pthread_mutex_unlock(&k->mu);
	}
	free(json);
	free(etag);
}

struct lifetime_arg {
	struct vd_keeper *k;
	const pv_policy *pol;
};

/* The lifetime bound of a verified kid: the longest max_ttl a rule gives
 * jwt.issue on its key; no cap (or no rule) is the service maximum. */
static pv_err
jwt_lifetime(void *arg, const char *kid, long *max)
{
	const struct lifetime_arg *la = arg;
	char name[PV_KEY_NAME_MAX + 1];
	uint32_t ttl = 0;
	pv_err r;

	*max = 0;
	kid_name(la->k, kid, name);
	if (name[0] == '\0') {
		pv_err_set_detail("no key with kid '%s'", kid);
		return PV_ERR_NOT_FOUND;
	}
	if (la->pol == NULL)
		return PV_OK;
	r = pv_policy_jwt_max_ttl(la->pol, name, &ttl);
	if (r != PV_OK && r != PV_ERR_NOT_FOUND)
		return r;
	*max = (long)ttl;
	return PV_OK;
}

pv_err
vd_keeper_jwt_verify(struct vd_keeper *k, const pv_policy *pol, const char *token, time_t now, cJSON **claims,
		     char **kid)
{
	struct lifetime_arg la = {.k = k, .pol = pol};
	struct pv_jwt_verify_opts o = {
	    .now = now, .leeway = JWT_LEEWAY, .max_lifetime = jwt_lifetime, .arg = &la};
	char *json = NULL, *etag = NULL;
	cJSON *set = NULL;
	size_t len = 0;
	pv_err r;

	if (claims != NULL)
		*claims = NULL;
	if (kid != NULL)
		*kid = NULL;
	if (strlen(token) > PV_JWT_TOKEN_MAX) {
		pv_err_set_detail("token is longer than %d characters", PV_JWT_TOKEN_MAX);
		return PV_ERR_BAD_INPUT;
	}
	if (kid != NULL)
		*kid = header_kid(token);
	if ((r = vd_keeper_jwks(k, &json, &len, &etag)) != PV_OK)
		goto out;
	if ((set = cJSON_ParseWithLength(json, len)) == NULL) {
		r = PV_ERR_INTERNAL;
		goto out;
	}
	r = pv_jwt_verify_ex(set, token, &o, claims);
out:
	cJSON_Delete(set);
	free(json);
	free(etag);
	return r;
}

/* ---- derivation ---- */

/* Derivation uses token keys only (boot-bundle keys sign). */
static pv_err
token_only(const struct vd_bundle_key *bk, const char *what)
{
	if (bk == NULL)
		return PV_OK;
	pv_err_set_detail("key '%s' is a boot-bundle key; %s uses token keys", bk->name, what);
	return PV_ERR_KEY_TYPE;
}

pv_err
vd_keeper_derive(struct vd_keeper *k, struct vd_kreq *q, const uint8_t *ctx, size_t len, uint8_t mac[32],
		 unsigned *version)
{
	const struct vd_bundle_key *bk = NULL;
	struct pv_sign_opts o = {0};
	struct pv_key *key = NULL;
	struct pv_sig sig;
	pv_err r;

	memset(mac, 0, 32);
	memset(&sig, 0, sizeof(sig));
	if ((r = want_use(q, VD_USE_DERIVE)) != PV_OK || (r = decide(k, q, &key, &bk)) != PV_OK ||
	    (r = token_only(bk, "derive")) != PV_OK)
		goto out;
	if (key->alg != PV_ALG_HMAC_SHA256) {
		pv_err_set_detail("key %s is a %s key; derive needs an hmac-sha256 key", q->key,
				  pv_alg_info(key->alg)->name);
		r = PV_ERR_KEY_TYPE;
		goto out;
	}
	o.purpose = PV_PURPOSE_DERIVE;
	o.digest = PV_DIGEST_NONE; /* HMAC runs over the context itself */
	if ((r = pv_sign(k->ks, q->key, &o, ctx, len, &sig)) != PV_OK)
		goto out;
	if (sig.len != 32) {
		pv_err_set_detail("the token returned a %zu-byte HMAC-SHA256", sig.len);
		r = PV_ERR_INTEGRITY;
		goto out;
	}
	memcpy(mac, sig.bytes, 32);
	if (version != NULL)
		*version = sig.version;
out:
	pv_wipe(&sig, sizeof(sig));
	pv_key_free(key);
	return r;
}

/* 04 || X || Y of a P-256 public key, whatever its preferred encoding. */
static pv_err
p256_point(const EVP_PKEY *peer, uint8_t point[1 + 2 * P256_FIELD])
{
	BIGNUM *x = NULL, *y = NULL;
	pv_err r = PV_ERR_KEY_TYPE;

	if (peer == NULL || pv_pubkey_alg(peer) != PV_ALG_P256) {
		pv_err_set_detail("the peer key must be a P-256 public key");
		goto out;
	}
	if (EVP_PKEY_get_bn_param(peer, OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1 ||
	    EVP_PKEY_get_bn_param(peer, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1 ||
	    BN_bn2binpad(x, point + 1, P256_FIELD) != P256_FIELD ||
	    BN_bn2binpad(y, point + 1 + P256_FIELD, P256_FIELD) != P256_FIELD) {
		pv_err_set_detail("the peer key's point cannot be read");
		r = PV_ERR_CRYPTO;
		goto out;
	}
	point[0] = 0x04;
	r = PV_OK;
out:
	BN_free(x);
	BN_free(y);
	return r;
}

pv_err
vd_keeper_ecdh(struct vd_keeper *k, struct vd_kreq *q, EVP_PKEY *peer, pv_secret **shared, unsigned *version)
{
	uint8_t point[1 + 2 * P256_FIELD];
	const struct vd_bundle_key *bk = NULL;
	const char *name = q->key;
	struct pv_key *meta = NULL, *key = NULL;
	struct pv_key_version ver;
	pv_secret *sec = NULL;
	p11_obj obj;
	pv_err r;

	*shared = NULL;
	if ((r = want_use(q, VD_USE_ECDH)) != PV_OK || (r = decide(k, q, &meta, &bk)) != PV_OK ||
	    (r = token_only(bk, "ECDH")) != PV_OK)
		goto out;
	if ((r = pv_keys_resolve(k->ks, name, 0, &key, &ver, &obj)) != PV_OK ||
	    (r = pv_key_check_purpose(key, PV_PURPOSE_DERIVE)) != PV_OK)
		goto out;
	if (key->alg != PV_ALG_P256) {
		pv_err_set_detail("key %s is a %s key; ECDH needs a p256 key", name,
				  pv_alg_info(key->alg)->name);
		r = PV_ERR_KEY_TYPE;
		goto out;
	}
	if (ver.state != PV_STATE_ACTIVE) {
		pv_err_set_detail("version %u of %s is %s; only the active version derives", ver.version,
				  name, pv_key_state_name(ver.state));
		r = PV_ERR_STATE;
		goto out;
	}
	if ((r = p256_point(peer, point)) != PV_OK)
		goto out;
	if ((r = pv_secret_new(P256_FIELD, &sec)) != PV_OK)
		goto out;
	if ((r = p11_ecdh_derive(k->tok, &obj, point, sizeof(point), pv_secret_rw(sec), P256_FIELD)) != PV_OK)
		goto out;
	pv_keys_remember(k->ks, name, ver.version, &obj);
	if ((r = pv_secret_set_len(sec, P256_FIELD)) != PV_OK)
		goto out;
	pv_secret_lock(sec);
	if (version != NULL)
		*version = ver.version;
	*shared = sec;
	sec = NULL;
out:
	pv_secret_free(sec);
	pv_key_free(key);
	pv_key_free(meta);
	return r;
}

/* ---- the audit log ---- */

/* pv_audit_mac.mac: the audit key, through the audit purpose, only. */
static pv_err
audit_mac(void *ctx, const uint8_t *msg, size_t len, uint8_t out[PV_AUDIT_HASH_LEN], unsigned *version)
{
	struct vd_keeper *k = ctx;
	struct pv_sign_opts o = {0};
	struct pv_sig sig;
	pv_err r;

	memset(&sig, 0, sizeof(sig));
	o.purpose = PV_PURPOSE_AUDIT;
	o.digest = PV_DIGEST_NONE;
	if ((r = pv_sign(k->ks, k->audit_key, &o, msg, len, &sig)) != PV_OK)
		goto out;
	if (sig.len != PV_AUDIT_HASH_LEN) {
		pv_err_set_detail("audit key '%s' is not an hmac-sha256 key", k->audit_key);
		r = PV_ERR_KEY_TYPE;
		goto out;
	}
	memcpy(out, sig.bytes, PV_AUDIT_HASH_LEN);
	*version = sig.version;
out:
	pv_wipe(&sig, sizeof(sig));
	return r;
}

pv_err
vd_keeper_audit_mac(struct vd_keeper *k, const char *name, struct pv_audit_mac *out)
{
	struct pv_key *key = NULL;
	pv_err r;

	memset(out, 0, sizeof(*out));
	if (name == NULL || strlen(name) >= sizeof(k->audit_key))
		return PV_ERR_USAGE;
	if ((r = pv_keys_get(k->ks, name, &key)) != PV_OK)
		goto out;
	if (key->alg != PV_ALG_HMAC_SHA256) {
		pv_err_set_detail("audit key '%s' is not an hmac-sha256 key", name);
		r = PV_ERR_KEY_TYPE;
		goto out;
	}
	if ((r = pv_key_check_purpose(key, PV_PURPOSE_AUDIT)) != PV_OK)
		goto out;
	memcpy(k->audit_key, name, strlen(name) + 1);
	out->mac = audit_mac;
	out->ctx = k;
out:
	pv_key_free(key);
	return r;
}

pv_err
vd_keeper_make_audit_key(struct vd_keeper *k, const char *name, int *created)
{
	struct pv_key *key = NULL;
	pv_err r = pv_keys_get(k->ks, name, &key);

	*created = 0;
	if (r == PV_ERR_NOT_FOUND) {
		pv_err_clear_detail();
		r = pv_keys_create(k->ks, name, PV_ALG_HMAC_SHA256, PV_PURPOSE_AUDIT, &key);
		*created = r == PV_OK;
		/* another replica starting at the same moment made it first (the
		 * keystore creates under the key's change lock): use that one */
		if (r == PV_ERR_EXISTS) {
			pv_err_clear_detail();
			r = pv_keys_get(k->ks, name, &key);
		}
	}
	pv_key_free(key);
	return r;
}
