/* JWT issuance: claims checked against the policy, JWS assembled by hand,
 * signed on the token by the key's active version. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/b64.h"
#include "core/pubkey.h"
#include "core/sigfmt.h"
#include "core/sign.h"
#include "jose/jwt.h"
#include "jose/jwt_int.h"

/* The claims only the service sets (unless the policy allows overrides). */
static const char *const reserved_claims[] = {"iat", "nbf", "exp", "jti", "iss"};

static int
aud_allowed(const char *aud, const struct pv_jwt_opts *o)
{
	size_t i;

	if (o->naud == 0)
		return 1;
	for (i = 0; i < o->naud; i++)
		if (strcmp(aud, o->allowed_aud[i]) == 0)
			return 1;
	return 0;
}

static pv_err
check_aud(const cJSON *aud, const struct pv_jwt_opts *o)
{
	const cJSON *it;

	if (cJSON_IsString(aud)) {
		if (!aud_allowed(aud->valuestring, o))
			goto forbidden;
		return PV_OK;
	}
	if (!cJSON_IsArray(aud) || aud->child == NULL) {
		pv_err_set_detail("claim 'aud' must be a string or a non-empty array of strings");
		return PV_ERR_BAD_INPUT;
	}
	cJSON_ArrayForEach(it, aud)
	{
		if (!cJSON_IsString(it)) {
			pv_err_set_detail("claim 'aud' must be a string or a non-empty array of strings");
			return PV_ERR_BAD_INPUT;
		}
		if (!aud_allowed(it->valuestring, o))
			goto forbidden;
	}
	return PV_OK;
forbidden:
	pv_err_set_detail("claim 'aud': audience not allowed by the policy");
	return PV_ERR_FORBIDDEN;
}

/* iat and exp as they will be issued: neither may be further than the cap
 * from now, nor from each other (the lifetime pv_jwt_verify bounds). */
static pv_err
check_lifetime(const cJSON *claims, time_t now, long ttl, long cap)
{
	const cJSON *c;
	double iat = (double)now, exp = (double)now + (double)ttl;

	if ((c = cJSON_GetObjectItemCaseSensitive(claims, "iat")) != NULL)
		iat = c->valuedouble;
	if ((c = cJSON_GetObjectItemCaseSensitive(claims, "exp")) != NULL)
		exp = c->valuedouble;
	if (exp > (double)now + (double)cap) {
		pv_err_set_detail("claim 'exp' is beyond the TTL cap of %ld seconds", cap);
		return PV_ERR_FORBIDDEN;
	}
	if (exp - iat > (double)cap) {
		pv_err_set_detail("claims 'iat' to 'exp' span more than the TTL cap of %ld seconds", cap);
		return PV_ERR_FORBIDDEN;
	}
	return PV_OK;
}

/* Check the caller's claims; *ttl receives the effective TTL. */
static pv_err
check_claims(const cJSON *claims, const struct pv_jwt_opts *o, time_t now, long *ttl)
{
	char *text = NULL;
	const cJSON *c;
	long cap;
	size_t i;
	pv_err r = PV_ERR_BAD_INPUT;

	if (!cJSON_IsObject(claims)) {
		pv_err_set_detail("the claims must be a JSON object");
		goto out;
	}
	if (pv_jwt_has_duplicates(claims)) {
		pv_err_set_detail("the claims name a member twice");
		goto out;
	}
	if ((text = cJSON_PrintUnformatted(claims)) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	if (strlen(text) > PV_JWT_CLAIMS_MAX) {
		pv_err_set_detail("the claims exceed %d bytes", PV_JWT_CLAIMS_MAX);
		r = PV_ERR_TOO_LARGE;
		goto out;
	}
	cap = o->max_ttl > 0 && o->max_ttl < PV_JWT_TTL_MAX ? o->max_ttl : PV_JWT_TTL_MAX;
	*ttl = o->ttl != 0 ? o->ttl : PV_JWT_DEFAULT_TTL;
	if (*ttl < 0) {
		pv_err_set_detail("the TTL must be positive");
		r = PV_ERR_USAGE;
		goto out;
	}
	if (*ttl > cap)
		*ttl = cap;
	for (i = 0; i < PV_NELEM(reserved_claims); i++) {
		const char *n = reserved_claims[i];
		int is_str = strcmp(n, "jti") == 0 || strcmp(n, "iss") == 0;

		if ((c = cJSON_GetObjectItemCaseSensitive(claims, n)) == NULL)
			continue;
		if (!o->allow_override) {
			pv_err_set_detail("claim '%s' is set by the service", n);
			r = PV_ERR_FORBIDDEN;
			goto out;
		}
		if (is_str && !cJSON_IsString(c)) {
			pv_err_set_detail("claim '%s' must be a string", n);
			goto out;
		}
		/* an overriding iat, nbf or exp: what pv_jwt_verify accepts */
		if (!is_str && !pv_jwt_is_numericdate(c)) {
			pv_err_set_detail("claim '%s' must be an integer NumericDate in 0..2^53-1", n);
			goto out;
		}
	}
	if ((r = check_lifetime(claims, now, *ttl, cap)) != PV_OK)
		goto out;
	c = cJSON_GetObjectItemCaseSensitive(claims, "aud");
	/* a token without an audience is good for every audience: under a
	 * list, leaving "aud" out would lift the restriction */
	if (c == NULL && o->naud > 0) {
		pv_err_set_detail("claim 'aud' is required by the policy (one of the allowed audiences)");
		r = PV_ERR_FORBIDDEN;
		goto out;
	}
	if (c != NULL && (r = check_aud(c, o)) != PV_OK)
		goto out;
	r = PV_OK;
out:
	free(text);
	return r;
}

static pv_err
add_number(cJSON *obj, const char *name, double v)
{
	if (cJSON_GetObjectItemCaseSensitive(obj, name) != NULL)
		return PV_OK; /* an allowed override */
	return cJSON_AddNumberToObject(obj, name, v) != NULL ? PV_OK : PV_ERR_NOMEM;
}

static pv_err
add_string(cJSON *obj, const char *name, const char *v)
{
	if (v == NULL || cJSON_GetObjectItemCaseSensitive(obj, name) != NULL)
		return PV_OK;
	return cJSON_AddStringToObject(obj, name, v) != NULL ? PV_OK : PV_ERR_NOMEM;
}

static pv_err
make_payload(const cJSON *claims, const struct pv_jwt_opts *o, time_t now, long ttl, cJSON **out)
{
	uint8_t rnd[16];
	char *jti = NULL;
	cJSON *p = NULL;
	pv_err r;

	*out = NULL;
	if (sodium_init() < 0) {
		r = PV_ERR_CRYPTO;
		goto out;
	}
	randombytes_buf(rnd, sizeof(rnd));
	if ((r = pv_b64url_encode(rnd, sizeof(rnd), &jti)) != PV_OK)
		goto out;
	if ((p = cJSON_Duplicate(claims, 1)) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	if ((r = add_string(p, "iss", o->iss)) != PV_OK || (r = add_number(p, "iat", (double)now)) != PV_OK ||
	    (r = add_number(p, "nbf", (double)now)) != PV_OK ||
	    (r = add_number(p, "exp", (double)now + (double)ttl)) != PV_OK ||
	    (r = add_string(p, "jti", jti)) != PV_OK)
		goto out;
	*out = p;
	p = NULL;
out:
	cJSON_Delete(p);
	free(jti);
	return r;
}

/* base64url(compact JSON of obj), malloc'd. */
static pv_err
encode_part(const cJSON *obj, char **out)
{
	char *text = NULL;
	pv_err r;

	*out = NULL;
	if ((text = cJSON_PrintUnformatted(obj)) == NULL)
		return PV_ERR_NOMEM;
	r = pv_b64url_encode((const uint8_t *)text, strlen(text), out);
	free(text);
	return r;
}

/*
 * The protected header, base64url, per key version: its kid (the RFC 7638
 * thumbprint of the version's public key) cost about 15 us per token. A
 * version's public key never changes and a rotation is another version (and
 * CKA_ID), so an entry is keyed by the keystore and its epoch (which a
 * flush, on SIGHUP, moves on), the key name, version, CKA_ID and alg.
 */
#define HDR_CACHE_MAX 32
struct hdr_entry {
	unsigned long epoch; /* pv_keystore_epoch; 0 = empty */
	char name[PV_KEY_NAME_MAX + 1];
	unsigned version;
	uint8_t id[P11_ID_MAX];
	size_t id_len;
	char alg[8];
	char *h64;
};
static struct hdr_entry hdr_cache[HDR_CACHE_MAX];
static size_t hdr_next; /* round-robin replacement */
static pthread_mutex_t hdr_mu = PTHREAD_MUTEX_INITIALIZER;

static int
hdr_is(const struct hdr_entry *e, unsigned long epoch, const char *name, const struct pv_key_version *ver,
       const char *alg)
{
	return e->epoch == epoch && e->version == ver->version && e->id_len == ver->id_len &&
	       memcmp(e->id, ver->id, ver->id_len) == 0 && strcmp(e->alg, alg) == 0 &&
	       strcmp(e->name, name) == 0;
}

/* A copy of the cached header (malloc'd), or NULL. */
static char *
hdr_get(unsigned long epoch, const char *name, const struct pv_key_version *ver, const char *alg)
{
	char *h64 = NULL;
	size_t i;

	pthread_mutex_lock(&hdr_mu);
	for (i = 0; i < HDR_CACHE_MAX; i++) {
		if (hdr_cache[i].h64 != NULL && hdr_is(&hdr_cache[i], epoch, name, ver, alg)) {
			h64 = strdup(hdr_cache[i].h64);
			break;
		}
	}
	pthread_mutex_unlock(&hdr_mu);
	return h64;
}

static void
hdr_put(unsigned long epoch, const char *name, const struct pv_key_version *ver, const char *alg,
	const char *h64)
{
	struct hdr_entry *e;
	char *copy;
	size_t i;

	if (strlen(name) > PV_KEY_NAME_MAX || ver->id_len > P11_ID_MAX || strlen(alg) >= sizeof(e->alg) ||
	    (copy = strdup(h64)) == NULL)
		return; /* a cache: not keeping it is allowed */
	pthread_mutex_lock(&hdr_mu);
	/* an entry of an older epoch of a keystore is never asked for again:
	 * the first such, or an empty one, else the next in turn */
	for (i = 0;
	     i < HDR_CACHE_MAX && hdr_cache[i].h64 != NULL && !hdr_is(&hdr_cache[i], epoch, name, ver, alg);
	     i++) {
	}
	if (i == HDR_CACHE_MAX) {
		i = hdr_next;
		hdr_next = (hdr_next + 1) % HDR_CACHE_MAX;
	}
	e = &hdr_cache[i];
	free(e->h64);
	e->epoch = epoch;
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->version = ver->version;
	memcpy(e->id, ver->id, ver->id_len);
	e->id_len = ver->id_len;
	snprintf(e->alg, sizeof(e->alg), "%s", alg);
	e->h64 = copy;
	pthread_mutex_unlock(&hdr_mu);
}

static pv_err
make_header(pv_keystore *ks, const struct pv_key *key, const struct pv_key_version *ver, const char *alg,
	    char **out)
{
	unsigned long epoch = pv_keystore_epoch(ks);
	EVP_PKEY *pk = NULL;
	char *kid = NULL;
	cJSON *h = NULL;
	pv_err r;

	if ((*out = hdr_get(epoch, key->name, ver, alg)) != NULL)
		return PV_OK;
	if ((r = pv_keys_public(ks, key, ver, &pk)) != PV_OK || (r = pv_pubkey_thumbprint(pk, &kid)) != PV_OK)
		goto out;
	if ((h = cJSON_CreateObject()) == NULL || cJSON_AddStringToObject(h, "alg", alg) == NULL ||
	    cJSON_AddStringToObject(h, "typ", "JWT") == NULL ||
	    cJSON_AddStringToObject(h, "kid", kid) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	if ((r = encode_part(h, out)) == PV_OK)
		hdr_put(epoch, key->name, ver, alg, *out);
out:
	cJSON_Delete(h);
	free(kid);
	EVP_PKEY_free(pk);
	return r;
}

/* One attempt; *overtaken when the version resolved as active was no
 * longer active when it came to sign (another host activated a new one). */
static pv_err
jwt_issue_once(pv_keystore *ks, const char *name, const struct pv_jwt_opts *o, const cJSON *claims,
	       char **token, int *overtaken)
{
	struct pv_key *key = NULL;
	struct pv_key_version ver;
	struct pv_sign_opts so = {0};
	struct pv_sig *sig = NULL;
	p11_obj obj;
	cJSON *payload = NULL;
	char *h64 = NULL, *p64 = NULL, *input = NULL;
	uint8_t *s64 = NULL;
	size_t s64len = 0, hlen, plen;
	const char *alg;
	time_t now;
	long ttl = 0;
	int high = 0;
	pv_err r;

	*token = NULL;
	now = o->now != 0 ? o->now : time(NULL);
	if ((r = check_claims(claims, o, now, &ttl)) != PV_OK)
		goto out;
	if ((r = pv_keys_resolve(ks, name, 0, &key, &ver, &obj)) != PV_OK)
		goto out;
	if ((r = pv_key_check_purpose(key, PV_PURPOSE_JWT)) != PV_OK)
		goto out;
	if ((alg = pv_jwt_alg_name(key->alg, o->pss)) == NULL) {
		pv_err_set_detail("key '%s' (%s) cannot sign JWTs", name, pv_alg_info(key->alg)->name);
		r = PV_ERR_KEY_TYPE;
		goto out;
	}
	if (o->pss && pv_alg_info(key->alg)->family != PV_FAMILY_RSA) {
		pv_err_set_detail("PS256 needs an RSA key; '%s' is %s", name, pv_alg_info(key->alg)->name);
		r = PV_ERR_KEY_TYPE;
		goto out;
	}
	if ((r = make_header(ks, key, &ver, alg, &h64)) != PV_OK ||
	    (r = make_payload(claims, o, now, ttl, &payload)) != PV_OK ||
	    (r = encode_part(payload, &p64)) != PV_OK)
		goto out;
	hlen = strlen(h64);
	plen = strlen(p64);
	if ((input = malloc(hlen + 1 + plen + 1 + PV_SIG_MAX_RAW * 2)) == NULL ||
	    (sig = calloc(1, sizeof(*sig))) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	memcpy(input, h64, hlen);
	input[hlen] = '.';
	memcpy(input + hlen + 1, p64, plen);
	/* the version whose thumbprint is the kid signs (not whichever is
	 * active by the time the token gets the request) */
	so.purpose = PV_PURPOSE_JWT;
	so.version = ver.version;
	so.digest = pv_jwt_digest(key->alg);
	so.pss = o->pss;
	if ((r = pv_sign(ks, name, &so, (const uint8_t *)input, hlen + 1 + plen, sig)) != PV_OK) {
		*overtaken = r == PV_ERR_STATE;
		goto out;
	}
	/* verifiers (ours included) refuse the high-S twin of an ECDSA signature */
	if (pv_alg_info(key->alg)->family == PV_FAMILY_EC &&
	    (r = pv_jwt_ecdsa_low_s(key->alg, sig->bytes, sig->len, 1, &high)) != PV_OK)
		goto out;
	if ((r = pv_sig_encode(PV_SIGFMT_JOSE, key->alg, sig->bytes, sig->len, &s64, &s64len)) != PV_OK)
		goto out;
	input[hlen + 1 + plen] = '.';
	memcpy(input + hlen + 1 + plen + 1, s64, s64len);
	input[hlen + 1 + plen + 1 + s64len] = '\0';
	*token = input;
	input = NULL;
out:
	free(input);
	free(sig);
	free(s64);
	free(h64);
	free(p64);
	cJSON_Delete(payload);
	pv_key_free(key);
	return r;
}

pv_err
pv_jwt_issue(pv_keystore *ks, const char *name, const struct pv_jwt_opts *o, const cJSON *claims,
	     char **token)
{
	int overtaken = 0;
	pv_err r;

	r = jwt_issue_once(ks, name, o, claims, token, &overtaken);
	/* A rotation by another host between resolving and signing: the
	 * signing step read the new metadata, so once more from the start
	 * (header, kid and signature from the version active now). Never
	 * signed with a version the token's kid does not name. */
	if (r == PV_ERR_STATE && overtaken) {
		pv_err_clear_detail();
		overtaken = 0;
		r = jwt_issue_once(ks, name, o, claims, token, &overtaken);
	}
	return r;
}
