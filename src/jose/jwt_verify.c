/* JWT verification in software against a JWK Set: a strict compact-JWS
 * parser (fuzzed), the key rebuilt from its JWK, OpenSSL verifying. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>

#include "base/json.h"
#include "core/b64.h"
#include "core/pubkey.h"
#include "core/sigfmt.h"
#include "jose/jwt.h"
#include "jose/jwt_int.h"

#define JWK_PART_MAX 1024 /* a decoded n (RSA-8192), x or y */

struct jws_alg {
	const char *name;
	enum pv_alg_family family;
	pv_alg alg; /* the curve; PV_ALG_NONE for RSA (any size) */
	int pss;
};

static const struct jws_alg jws_algs[] = {
    {"ES256", PV_FAMILY_EC, PV_ALG_P256, 0},       {"ES384", PV_FAMILY_EC, PV_ALG_P384, 0},
    {"ES256K", PV_FAMILY_EC, PV_ALG_SECP256K1, 0}, {"EdDSA", PV_FAMILY_EDDSA, PV_ALG_ED25519, 0},
    {"RS256", PV_FAMILY_RSA, PV_ALG_NONE, 0},      {"PS256", PV_FAMILY_RSA, PV_ALG_NONE, 1},
};

pv_digest
pv_jwt_digest(pv_alg alg)
{
	switch (alg) {
	case PV_ALG_P384:
		return PV_DIGEST_SHA384;
	case PV_ALG_ED25519:
		return PV_DIGEST_DEFAULT; /* pure EdDSA over the signing input */
	default:
		return PV_DIGEST_SHA256; /* ES256, ES256K, RS256, PS256 */
	}
}

int
pv_jwt_has_duplicates(const cJSON *obj)
{
	const cJSON *a, *b;

	for (a = obj->child; a != NULL; a = a->next)
		for (b = a->next; b != NULL; b = b->next)
			if (a->string != NULL && b->string != NULL && strcmp(a->string, b->string) == 0)
				return 1;
	return 0;
}

pv_err
pv_jwt_parse_object(const uint8_t *text, size_t len, cJSON **out)
{
	cJSON *obj = NULL;
	pv_err r;

	*out = NULL;
	/* the strict reader: no NUL or \u0000, UTF-8, no member named twice
	 * at any depth, nothing after the value */
	if ((r = pv_json_parse(text, len, "the token part", PV_JSON_DEPTH_MAX, &obj)) != PV_OK)
		return r == PV_ERR_NOMEM ? r : PV_ERR_BAD_INPUT;
	if (!cJSON_IsObject(obj)) {
		cJSON_Delete(obj);
		pv_err_set_detail("not a JSON object");
		return PV_ERR_BAD_INPUT;
	}
	*out = obj;
	return PV_OK;
}

/* The NumericDates of a payload (RFC 7519 §2): integers only, 0..2^53-1,
 * so that every relying party reads the same second (1e300 or 1.5 would be
 * read differently, or not at all, by other parsers). */
struct dates {
	double exp, nbf, iat;
	int has_exp, has_nbf, has_iat;
};

int
pv_jwt_is_numericdate(const cJSON *c)
{
	pv_jv v = pv_json_root(c, "claim");
	int64_t t = 0;

	return c != NULL && pv_json_as_int(&v, 0, 0, PV_JSON_INT_MAX, &t) == PV_OK;
}

static pv_err
date_claim(const cJSON *claims, const char *name, double *v, int *present)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(claims, name);

	*present = c != NULL;
	if (c == NULL)
		return PV_OK;
	if (!pv_jwt_is_numericdate(c)) {
		pv_err_set_detail("claim '%s' is not an integer NumericDate in 0..2^53-1", name);
		return PV_ERR_BAD_INPUT;
	}
	*v = c->valuedouble;
	return PV_OK;
}

static pv_err
read_dates(const cJSON *claims, struct dates *d)
{
	pv_err r;

	memset(d, 0, sizeof(*d));
	if ((r = date_claim(claims, "exp", &d->exp, &d->has_exp)) != PV_OK ||
	    (r = date_claim(claims, "nbf", &d->nbf, &d->has_nbf)) != PV_OK ||
	    (r = date_claim(claims, "iat", &d->iat, &d->has_iat)) != PV_OK)
		return r;
	if (!d->has_exp) {
		pv_err_set_detail("claim 'exp' is missing");
		return PV_ERR_BAD_INPUT;
	}
	return PV_OK;
}

static pv_err
check_lifetime(const struct dates *d, long max)
{
	if (!d->has_iat) {
		pv_err_set_detail("claim 'iat' is missing: the token's lifetime cannot be bounded");
		return PV_ERR_FORBIDDEN;
	}
	/* both are integers below 2^53: the difference is exact */
	if (d->exp - d->iat > (double)max) {
		pv_err_set_detail(
		    "the token's lifetime (exp - iat = %.0f s) exceeds the %ld s allowed for its key",
		    d->exp - d->iat, max);
		return PV_ERR_FORBIDDEN;
	}
	return PV_OK;
}

static pv_err
check_window(const struct dates *d, time_t now, long leeway)
{
	double t = (double)now, lw = (double)leeway;

	if (!(t < d->exp + lw)) {
		pv_err_set_detail("the token expired");
		return PV_ERR_STATE;
	}
	if (d->has_nbf && t + lw < d->nbf) {
		pv_err_set_detail("the token is not valid yet (nbf)");
		return PV_ERR_STATE;
	}
	if (d->has_iat && d->iat > t + lw) {
		pv_err_set_detail("the token was issued in the future (iat)");
		return PV_ERR_STATE;
	}
	return PV_OK;
}

pv_err
pv_jwt_check_times(const cJSON *claims, time_t now, long leeway)
{
	struct dates d;
	pv_err r;

	if (leeway < 0)
		return PV_ERR_USAGE;
	if ((r = read_dates(claims, &d)) != PV_OK)
		return r;
	return check_window(&d, now, leeway);
}

pv_err
pv_jwt_check_lifetime(const cJSON *claims, long max)
{
	struct dates d;
	pv_err r;

	if ((r = read_dates(claims, &d)) != PV_OK)
		return r;
	return check_lifetime(&d, max);
}

static int
curve_nid(pv_alg alg)
{
	switch (alg) {
	case PV_ALG_P256:
		return NID_X9_62_prime256v1;
	case PV_ALG_P384:
		return NID_secp384r1;
	case PV_ALG_SECP256K1:
		return NID_secp256k1;
	default:
		return NID_undef;
	}
}

pv_err
pv_jwt_ecdsa_low_s(pv_alg alg, uint8_t *rs, size_t len, int fix, int *high)
{
	const struct pv_alg_info *ai = pv_alg_info(alg);
	int nid = curve_nid(alg);
	EC_GROUP *g = NULL;
	const BIGNUM *order;
	BIGNUM *s = NULL, *half = NULL;
	pv_err r = PV_ERR_CRYPTO;

	*high = 0;
	if (nid == NID_undef || ai == NULL || len != 2 * ai->field_len)
		return PV_ERR_USAGE;
	if ((g = EC_GROUP_new_by_curve_name_ex(NULL, NULL, nid)) == NULL ||
	    (order = EC_GROUP_get0_order(g)) == NULL ||
	    (s = BN_bin2bn(rs + ai->field_len, (int)ai->field_len, NULL)) == NULL ||
	    (half = BN_new()) == NULL || !BN_rshift1(half, order))
		goto out;
	if (BN_cmp(s, half) > 0) {
		*high = 1;
		if (fix && (!BN_sub(s, order, s) ||
			    BN_bn2binpad(s, rs + ai->field_len, (int)ai->field_len) != (int)ai->field_len))
			goto out;
	}
	r = PV_OK;
out:
	BN_free(half);
	BN_free(s);
	EC_GROUP_free(g);
	return r;
}

static pv_err
jwk_bytes(const cJSON *jwk, const char *member, uint8_t *out, size_t max, size_t *len)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(jwk, member);

	if (!cJSON_IsString(c) ||
	    pv_b64url_decode(c->valuestring, strlen(c->valuestring), out, max, len) != PV_OK) {
		pv_err_set_detail("JWK member '%s' is missing or not base64url", member);
		return PV_ERR_BAD_INPUT;
	}
	return PV_OK;
}

static int
jwk_str_is(const cJSON *jwk, const char *member, const char *want)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(jwk, member);

	return cJSON_IsString(c) && strcmp(c->valuestring, want) == 0;
}

/* Whether jwk is a key of the kind a (kty and curve); alg and use agree. */
static int
jwk_fits(const cJSON *jwk, const struct jws_alg *a)
{
	const cJSON *c;

	if ((c = cJSON_GetObjectItemCaseSensitive(jwk, "alg")) != NULL && !jwk_str_is(jwk, "alg", a->name))
		return 0;
	if ((c = cJSON_GetObjectItemCaseSensitive(jwk, "use")) != NULL && !jwk_str_is(jwk, "use", "sig"))
		return 0;
	switch (a->family) {
	case PV_FAMILY_EC:
		return jwk_str_is(jwk, "kty", "EC") && jwk_str_is(jwk, "crv", pv_alg_info(a->alg)->jwk_crv);
	case PV_FAMILY_EDDSA:
		return jwk_str_is(jwk, "kty", "OKP") && jwk_str_is(jwk, "crv", "Ed25519");
	case PV_FAMILY_RSA:
		return jwk_str_is(jwk, "kty", "RSA");
	default:
		return 0;
	}
}

/* The public key of a JWK that fits a (OpenSSL builds and checks it). */
static pv_err
jwk_key(const cJSON *jwk, const struct jws_alg *a, pv_alg *alg, EVP_PKEY **out)
{
	const struct pv_alg_info *ai = a->alg != PV_ALG_NONE ? pv_alg_info(a->alg) : NULL;
	uint8_t point[1 + 2 * 66], n[JWK_PART_MAX], e[16];
	size_t xl = 0, yl = 0, nl = 0, el = 0;
	pv_alg got = PV_ALG_NONE;
	pv_err r;

	*out = NULL;
	switch (a->family) {
	case PV_FAMILY_EC:
		point[0] = 0x04;
		if ((r = jwk_bytes(jwk, "x", point + 1, ai->field_len, &xl)) != PV_OK ||
		    (r = jwk_bytes(jwk, "y", point + 1 + ai->field_len, ai->field_len, &yl)) != PV_OK)
			return r;
		if (xl != ai->field_len || yl != ai->field_len) {
			pv_err_set_detail("JWK x/y are not %zu bytes", ai->field_len);
			return PV_ERR_BAD_INPUT;
		}
		r = pv_pubkey_from_ec(ai->ec_params, ai->ec_params_len, point, 1 + 2 * xl, &got, out);
		break;
	case PV_FAMILY_EDDSA:
		if ((r = jwk_bytes(jwk, "x", point, 32, &xl)) != PV_OK)
			return r;
		if (xl != 32) {
			pv_err_set_detail("JWK x is not 32 bytes");
			return PV_ERR_BAD_INPUT;
		}
		r = pv_pubkey_from_ec(ai->ec_params, ai->ec_params_len, point, xl, &got, out);
		break;
	default:
		if ((r = jwk_bytes(jwk, "n", n, sizeof(n), &nl)) != PV_OK ||
		    (r = jwk_bytes(jwk, "e", e, sizeof(e), &el)) != PV_OK ||
		    (r = pv_pubkey_from_rsa(n, nl, e, el, out)) != PV_OK)
			return r;
		got = pv_pubkey_alg(*out);
		break;
	}
	if (r != PV_OK)
		return r;
	if (got == PV_ALG_NONE || (a->alg != PV_ALG_NONE && got != a->alg)) {
		EVP_PKEY_free(*out);
		*out = NULL;
		pv_err_set_detail("the JWK is not a supported %s key", a->name);
		return PV_ERR_KEY_TYPE;
	}
	*alg = got;
	return PV_OK;
}

/* The key with the header's kid that fits its alg. */
static pv_err
find_key(const cJSON *jwks, const char *kid, const struct jws_alg *a, pv_alg *alg, EVP_PKEY **out)
{
	const cJSON *keys = cJSON_IsObject(jwks) ? cJSON_GetObjectItemCaseSensitive(jwks, "keys") : NULL;
	const cJSON *jwk;
	int seen = 0;

	if (!cJSON_IsArray(keys)) {
		pv_err_set_detail("the JWK Set has no \"keys\" array");
		return PV_ERR_USAGE;
	}
	cJSON_ArrayForEach(jwk, keys)
	{
		if (!jwk_str_is(jwk, "kid", kid))
			continue;
		seen = 1;
		if (jwk_fits(jwk, a))
			return jwk_key(jwk, a, alg, out);
	}
	if (seen) {
		pv_err_set_detail("key '%s' is not an %s key", kid, a->name);
		return PV_ERR_KEY_TYPE;
	}
	pv_err_set_detail("no key with kid '%s'", kid);
	return PV_ERR_NOT_FOUND;
}

static pv_err
check_header(const cJSON *h, const struct jws_alg **alg, const char **kid)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(h, "alg");
	const cJSON *k = cJSON_GetObjectItemCaseSensitive(h, "kid");
	const cJSON *typ = cJSON_GetObjectItemCaseSensitive(h, "typ");
	size_t i;

	if (!cJSON_IsString(a) || !cJSON_IsString(k)) {
		pv_err_set_detail("the header needs \"alg\" and \"kid\" strings");
		return PV_ERR_BAD_INPUT;
	}
	if (cJSON_GetObjectItemCaseSensitive(h, "crit") != NULL) {
		pv_err_set_detail("the header has \"crit\": no extensions are understood");
		return PV_ERR_BAD_INPUT;
	}
	if (typ != NULL && !jwk_str_is(h, "typ", "JWT")) {
		pv_err_set_detail("the header \"typ\" is not \"JWT\"");
		return PV_ERR_BAD_INPUT;
	}
	for (i = 0; i < PV_NELEM(jws_algs); i++) {
		if (strcmp(a->valuestring, jws_algs[i].name) == 0) {
			*alg = &jws_algs[i];
			*kid = k->valuestring;
			return PV_OK;
		}
	}
	/* "none", HMAC (a public key is no MAC secret) and anything unknown */
	pv_err_set_detail("algorithm refused");
	return PV_ERR_KEY_TYPE;
}

static int
b64url_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '_';
}

/* A part's decoded bytes, into a malloc'd buffer of at most max bytes. */
static pv_err
decode_part(const char *p, size_t len, size_t max, uint8_t **out, size_t *outlen)
{
	if (pv_b64url_decode_alloc(p, len, max, out, outlen) != PV_OK) {
		pv_err_set_detail("a token part is not base64url");
		return PV_ERR_BAD_INPUT;
	}
	return PV_OK;
}

static pv_err
split(const char *token, size_t *d1, size_t *d2)
{
	size_t len, i, dots = 0;

	len = strnlen(token, PV_JWT_TOKEN_MAX + 1);
	if (len > PV_JWT_TOKEN_MAX) {
		pv_err_set_detail("the token exceeds %d characters", PV_JWT_TOKEN_MAX);
		return PV_ERR_TOO_LARGE;
	}
	for (i = 0; i < len; i++) {
		if (token[i] == '.') {
			if (dots == 0)
				*d1 = i;
			else if (dots == 1)
				*d2 = i;
			dots++;
		} else if (!b64url_char(token[i])) {
			pv_err_set_detail("the token has a character outside base64url");
			return PV_ERR_BAD_INPUT;
		}
	}
	if (dots != 2 || *d1 == 0 || *d2 == *d1 + 1 || *d2 + 1 == len) {
		pv_err_set_detail("the token is not three non-empty parts");
		return PV_ERR_BAD_INPUT;
	}
	return PV_OK;
}

static pv_err
check_signature(EVP_PKEY *pk, pv_alg alg, const struct jws_alg *a, const char *token, size_t d2)
{
	uint8_t raw[PV_SIG_MAX_RAW];
	size_t rawlen = 0;
	const char *s = token + d2 + 1;
	int high = 0;
	pv_err r;

	if (pv_sig_parse(PV_SIGFMT_JOSE, (const uint8_t *)s, strlen(s), alg, raw, sizeof(raw), &rawlen) !=
	    PV_OK) {
		pv_err_set_detail("the signature has the wrong form for %s", a->name);
		return PV_ERR_BAD_SIGNATURE;
	}
	/* (r, s) and (r, n - s) both verify: only the low one is a token of
	 * ours, so the same claims never have two valid encodings */
	if (a->family == PV_FAMILY_EC) {
		if ((r = pv_jwt_ecdsa_low_s(alg, raw, rawlen, 0, &high)) != PV_OK)
			return r;
		if (high) {
			pv_err_set_detail("%s signature is not low-S (s > n/2)", a->name);
			return PV_ERR_BAD_SIGNATURE;
		}
	}
	r = pv_pubkey_verify(pk, alg, a->pss, pv_jwt_digest(alg), (const uint8_t *)token, d2, 0, raw, rawlen);
	if (r == PV_ERR_BAD_SIGNATURE)
		pv_err_set_detail("the signature does not verify");
	return r;
}

/* The lifetime bound for the key that verified the signature. */
static pv_err
lifetime_bound(const struct pv_jwt_verify_opts *o, const char *kid, long *max)
{
	pv_err r;

	*max = PV_JWT_TTL_MAX;
	if (o->max_lifetime == NULL)
		return PV_OK;
	if ((r = o->max_lifetime(o->arg, kid, max)) != PV_OK)
		return r;
	if (*max <= 0 || *max > PV_JWT_TTL_MAX)
		*max = PV_JWT_TTL_MAX;
	return PV_OK;
}

pv_err
pv_jwt_verify_ex(const cJSON *jwks, const char *token, const struct pv_jwt_verify_opts *o, cJSON **claims_out)
{
	const struct jws_alg *a = NULL;
	const char *kid = NULL;
	uint8_t *hb = NULL, *pb = NULL;
	size_t d1 = 0, d2 = 0, hl = 0, pl = 0;
	cJSON *header = NULL, *claims = NULL;
	EVP_PKEY *pk = NULL;
	pv_alg alg = PV_ALG_NONE;
	struct dates dates;
	long max = 0;
	pv_err r;

	if (claims_out != NULL)
		*claims_out = NULL;
	if (token == NULL || jwks == NULL || o == NULL || o->leeway < 0) {
		r = PV_ERR_USAGE;
		goto out;
	}
	if ((r = split(token, &d1, &d2)) != PV_OK ||
	    (r = decode_part(token, d1, PV_JWT_HEADER_MAX, &hb, &hl)) != PV_OK)
		goto out;
	if ((r = pv_jwt_parse_object(hb, hl, &header)) != PV_OK ||
	    (r = check_header(header, &a, &kid)) != PV_OK ||
	    (r = find_key(jwks, kid, a, &alg, &pk)) != PV_OK ||
	    (r = check_signature(pk, alg, a, token, d2)) != PV_OK)
		goto out;
	if ((r = decode_part(token + d1 + 1, d2 - d1 - 1, PV_JWT_TOKEN_MAX, &pb, &pl)) != PV_OK ||
	    (r = pv_jwt_parse_object(pb, pl, &claims)) != PV_OK || (r = read_dates(claims, &dates)) != PV_OK)
		goto out;
	/* the lifetime first: a token longer-lived than any issuer of ours
	 * makes is refused as such, also once it has expired */
	if ((r = lifetime_bound(o, kid, &max)) != PV_OK || (r = check_lifetime(&dates, max)) != PV_OK ||
	    (r = check_window(&dates, o->now, o->leeway)) != PV_OK)
		goto out;
	if (claims_out != NULL) {
		*claims_out = claims;
		claims = NULL;
	}
out:
	EVP_PKEY_free(pk);
	cJSON_Delete(header);
	cJSON_Delete(claims);
	free(hb);
	free(pb);
	return r;
}

pv_err
pv_jwt_verify(const cJSON *jwks, const char *token, time_t now, long leeway, cJSON **claims_out)
{
	struct pv_jwt_verify_opts o = {.now = now, .leeway = leeway};

	return pv_jwt_verify_ex(jwks, token, &o, claims_out);
}
