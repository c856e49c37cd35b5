/* POST /v1/jwt/{name}/issue, POST /v1/jwt/verify, GET /.well-known/jwks.json. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/b64.h"
#include "jose/jwt.h"
#include "vaultd/handlers.h"

/* Part idx (0 header, 1 payload) of a token we just issued, parsed. */
static cJSON *
token_part(const char *token, int idx)
{
	const char *p = token, *dot;
	uint8_t *bin = NULL;
	size_t binlen = 0;
	cJSON *j = NULL;

	for (; idx > 0; idx--) {
		if ((p = strchr(p, '.')) == NULL)
			return NULL;
		p++;
	}
	if ((dot = strchr(p, '.')) == NULL ||
	    pv_b64url_decode_alloc(p, (size_t)(dot - p), PV_JWT_TOKEN_MAX, &bin, &binlen) != PV_OK)
		return NULL;
	j = cJSON_ParseWithLength((const char *)bin, binlen);
	free(bin);
	return j;
}

/* The JWS algorithms a caller may name in "alg" (only to choose PS256 over
 * RS256; any other must be the key's own). */
static const char *const jwt_algs[] = {"RS256", "PS256", "ES256", "ES384", "ES256K", "EdDSA", NULL};
/* Longest "alg" value read; a longer string is malformed, a shorter one
 * that is not the key's algorithm is wrong_algorithm. */
#define JWT_ALG_MAX 256

/*
 * The "alg" member against the key: absent is the key's own; PS256 asks
 * for PSS with an RSA key; any other value (none, HS256, another key's
 * algorithm) is 400 wrong_algorithm, the reply made.
 */
static pv_err
jwt_alg(struct vd_ctx *c, const char *alg, const struct pv_key *key, int *pss)
{
	const char *own = pv_jwt_alg_name(key->alg, 0);
	size_t i;

	*pss = 0;
	if (alg == NULL)
		return PV_OK;
	for (i = 0; jwt_algs[i] != NULL && strcmp(jwt_algs[i], alg) != 0; i++)
		;
	if (jwt_algs[i] != NULL) {
		*pss = strcmp(alg, "PS256") == 0;
		if (strcmp(alg, pv_jwt_alg_name(key->alg, *pss)) == 0)
			return PV_OK;
	}
	*pss = 0;
	/* the value is named only when it is one we know: never echo input */
	if (jwt_algs[i] != NULL)
		vd_reply_errorf(c->resp, 400, "wrong_algorithm", "alg %s does not fit key '%s' (%s)", alg,
				c->name, own);
	else
		vd_reply_errorf(c->resp, 400, "wrong_algorithm",
				"alg is not a JWS algorithm vaultd signs with; key '%s' signs %s", c->name,
				own);
	return PV_ERR_KEY_TYPE;
}

void
vd_h_jwt_issue(struct vd_ctx *c)
{
	static const char *const members[] = {"claims", "ttl", "alg", NULL};
	const struct pv_config *cfg = c->gen->cfg;
	const struct pv_key_version *active;
	struct pv_jwt_opts o;
	struct pv_key *key = NULL;
	struct vd_kreq q;
	const cJSON *claims = NULL, *kid, *exp;
	cJSON *empty = NULL, *hdr = NULL, *payload = NULL, *reply = NULL;
	vd_rj *rj = NULL;
	const char *alg = NULL;
	char *token = NULL;
	int64_t ttl = 0;
	int present = 0, pss = 0;
	pv_err r;

	if (vd_body(c, members, 0, &rj) != PV_OK)
		goto out;
	if ((r = vd_rj_object(rj, "claims", 0, &claims)) != PV_OK ||
	    (r = vd_rj_int(rj, "ttl", 0, 1, PV_JWT_TTL_MAX, &ttl, &present)) != PV_OK ||
	    (r = vd_rj_string(rj, "alg", 0, JWT_ALG_MAX, &alg)) != PV_OK) {
		vd_fail(c, r);
		goto out;
	}
	if (!cfg->jwt.present) {
		vd_reply_error(c->resp, 403, "forbidden", "JWT issuing is not configured");
		goto out;
	}
	/* the keeper decides: policy, the key, purpose jwt */
	if (vd_key(c, VD_USE_JWT_ISSUE, &q, &key) != PV_OK)
		goto out;
	if (pv_jwt_alg_name(key->alg, 0) == NULL) {
		vd_reply_errorf(c->resp, 400, "wrong_algorithm", "key '%s' cannot issue JWTs", c->name);
		goto out;
	}
	if (jwt_alg(c, alg, key, &pss) != PV_OK)
		goto out;
	if ((active = pv_key_active(key)) != NULL)
		c->version = active->version;
	memset(&o, 0, sizeof(o));
	o.pss = pss;
	o.ttl = present ? (long)ttl
			: (cfg->jwt.default_ttl != 0 ? (long)cfg->jwt.default_ttl : PV_JWT_DEFAULT_TTL);
	o.iss = cfg->jwt.issuer;
	/* max_ttl and audiences: the keeper's decision, not ours */
	if (claims == NULL && (claims = empty = cJSON_CreateObject()) == NULL) {
		vd_fail(c, PV_ERR_NOMEM);
		goto out;
	}
	pv_err_clear_detail();
	if ((r = vd_keeper_jwt_issue(c->d->keeper, &q, &o, claims, &token)) != PV_OK) {
		vd_fail_key(c, r);
		goto out;
	}
	if ((hdr = token_part(token, 0)) == NULL || (payload = token_part(token, 1)) == NULL ||
	    !cJSON_IsString(kid = cJSON_GetObjectItemCaseSensitive(hdr, "kid")) ||
	    !cJSON_IsNumber(exp = cJSON_GetObjectItemCaseSensitive(payload, "exp"))) {
		vd_fail(c, PV_ERR_INTERNAL);
		goto out;
	}
	if ((reply = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(reply, "token", token) == NULL ||
	    cJSON_AddStringToObject(reply, "kid", kid->valuestring) == NULL ||
	    cJSON_AddNumberToObject(reply, "exp", exp->valuedouble) == NULL) {
		vd_fail(c, PV_ERR_NOMEM);
		goto out;
	}
	vd_ok(c, reply);
out:
	cJSON_Delete(reply);
	cJSON_Delete(hdr);
	cJSON_Delete(payload);
	cJSON_Delete(empty);
	free(token);
	pv_key_free(key);
	vd_rj_free(rj);
}

/*
 * Any authenticated client may verify: the JWK Set is public, so this
 * tells nothing a client could not find out itself. Failures of the token
 * are 200 with valid:false and a reason; only our own failures are errors.
 */
void
vd_h_jwt_verify(struct vd_ctx *c)
{
	static const char *const members[] = {"token", NULL};
	const char *token = NULL, *reason = NULL;
	cJSON *claims = NULL, *o = NULL;
	char *kid = NULL;
	vd_rj *rj = NULL;
	pv_err r;

	if (vd_body(c, members, 0, &rj) != PV_OK)
		goto out;
	if ((r = vd_rj_string(rj, "token", 1, PV_JWT_TOKEN_MAX, &token)) != PV_OK) {
		vd_fail(c, r);
		goto out;
	}
	pv_err_clear_detail();
	r = vd_keeper_jwt_verify(c->d->keeper, c->gen->policy, token, time(NULL), &claims, &kid);
	switch (r) {
	case PV_OK:
		break;
	case PV_ERR_BAD_INPUT:
	case PV_ERR_KEY_TYPE: /* an algorithm refused or not the key's */
		reason = "malformed";
		break;
	case PV_ERR_NOT_FOUND:
		reason = "unknown_kid";
		break;
	case PV_ERR_BAD_SIGNATURE:
		reason = "bad_signature";
		break;
	case PV_ERR_STATE: /* expired, not yet valid or issued in the future */
		reason = "expired";
		break;
	case PV_ERR_FORBIDDEN: /* exp - iat over what the policy lets any client issue, or no iat */
		reason = "lifetime";
		break;
	default:
		vd_fail(c, r);
		goto out;
	}
	if ((o = cJSON_CreateObject()) == NULL || cJSON_AddBoolToObject(o, "valid", r == PV_OK) == NULL) {
		vd_fail(c, PV_ERR_NOMEM);
		goto out;
	}
	if (r == PV_OK) {
		if (!cJSON_AddItemToObject(o, "claims", claims) ||
		    ((claims = NULL), cJSON_AddStringToObject(o, "kid", kid != NULL ? kid : "") == NULL)) {
			vd_fail(c, PV_ERR_NOMEM);
			goto out;
		}
	} else if (cJSON_AddStringToObject(o, "reason", reason) == NULL) {
		vd_fail(c, PV_ERR_NOMEM);
		goto out;
	}
	vd_ok(c, o);
out:
	cJSON_Delete(o);
	cJSON_Delete(claims);
	free(kid);
	vd_rj_free(rj);
}

/* Does an If-None-Match list name etag (or "*")? Weak tags compare by
 * their opaque part (RFC 9110 weak comparison, as for GET). */
static int
etag_matches(const char *inm, const char *etag)
{
	size_t elen = strlen(etag);
	const char *p = inm;

	while (*p != '\0') {
		const char *end;
		size_t n;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		if ((end = strchr(p, ',')) == NULL)
			end = p + strlen(p);
		n = (size_t)(end - p);
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == 1 && p[0] == '*')
			return 1;
		if (n > 2 && p[0] == 'W' && p[1] == '/') {
			p += 2;
			n -= 2;
		}
		if (n == elen && memcmp(p, etag, n) == 0)
			return 1;
		p = end;
	}
	return 0;
}

void
vd_h_jwks(struct vd_ctx *c)
{
	char *json = NULL, *etag = NULL;
	size_t len = 0;
	pv_err r;

	if ((r = vd_keeper_jwks(c->d->keeper, &json, &len, &etag)) != PV_OK) {
		vd_fail(c, r);
		goto out;
	}
	vd_resp_wipe(c->resp);
	if (c->req->if_none_match != NULL && etag_matches(c->req->if_none_match, etag)) {
		c->resp->status = 304;
	} else {
		c->resp->status = 200;
		c->resp->body = json;
		c->resp->body_len = len;
		json = NULL;
	}
	c->resp->cache_control = "public, max-age=60";
	if (strlen(etag) < sizeof(c->resp->etag))
		memcpy(c->resp->etag, etag, strlen(etag) + 1);
out:
	free(json);
	free(etag);
}
