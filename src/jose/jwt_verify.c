/* JWT verification in software against a JWK Set: a strict compact-JWS
 * parser (fuzzed), the key rebuilt from its JWK, OpenSSL verifying. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

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
	const char *end = NULL;
	char *copy = NULL;
	cJSON *obj = NULL;
	pv_err r = PV_ERR_BAD_INPUT;

	*out = NULL;
	if (memchr(text, '\0', len) != NULL) {
		pv_err_set_detail("NUL byte in JSON");
		goto out;
	}
	if ((copy = malloc(len + 1)) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	memcpy(copy, text, len);
	copy[len] = '\0';
	obj = cJSON_ParseWithLengthOpts(copy, len + 1, &end, 1);
	if (obj == NULL || end != copy + len || !cJSON_IsObject(obj)) {
		pv_err_set_detail("not a JSON object");
		goto out;
	}
	if (pv_jwt_has_duplicates(obj)) {
		pv_err_set_detail("a JSON member is named twice");
		goto out;
	}
	*out = obj;
	obj = NULL;
	r = PV_OK;
out:
	cJSON_Delete(obj);
	free(copy);
	return r;
}

static pv_err
time_claim(const cJSON *claims, const char *name, int required, double *v, int *present)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(claims, name);

	*present = c != NULL;
	if (c == NULL && !required)
		return PV_OK;
	if (!cJSON_IsNumber(c)) {
		pv_err_set_detail("claim '%s' %s", name, c == NULL ? "is missing" : "is not a number");
		return PV_ERR_BAD_INPUT;
	}
	*v = c->valuedouble;
	return PV_OK;
}

pv_err
pv_jwt_check_times(const cJSON *claims, time_t now, long leeway)
{
	double exp = 0, nbf = 0, iat = 0, t = (double)now, lw = (double)leeway;
	int has_nbf, has_iat, has_exp;
	pv_err r;

	if (leeway < 0)
		return PV_ERR_USAGE;
	if ((r = time_claim(claims, "exp", 1, &exp, &has_exp)) != PV_OK ||
	    (r = time_claim(claims, "nbf", 0, &nbf, &has_nbf)) != PV_OK ||
	    (r = time_claim(claims, "iat", 0, &iat, &has_iat)) != PV_OK)
		return r;
	if (!(t < exp + lw)) {
		pv_err_set_detail("the token expired");
		return PV_ERR_STATE;
	}
	if (has_nbf && t + lw < nbf) {
		pv_err_set_detail("the token is not valid yet (nbf)");
		return PV_ERR_STATE;
	}
	if (has_iat && iat > t + lw) {
		pv_err_set_detail("the token was issued in the future (iat)");
		return PV_ERR_STATE;
	}
	return PV_OK;
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
	uint8_t raw[PV_SIG_MAX_RAW], low[64];
	size_t rawlen = 0;
	const char *s = token + d2 + 1;
	int flipped = 0;
	pv_err r;

	if (pv_sig_parse(PV_SIGFMT_JOSE, (const uint8_t *)s, strlen(s), alg, raw, sizeof(raw), &rawlen) !=
	    PV_OK) {
		pv_err_set_detail("the signature has the wrong form for %s", a->name);
		return PV_ERR_BAD_SIGNATURE;
	}
	if (alg == PV_ALG_SECP256K1) {
		memcpy(low, raw, sizeof(low));
		if (pv_secp256k1_low_s(low, &flipped) != PV_OK || flipped) {
			pv_err_set_detail("ES256K signature is not low-S");
			return PV_ERR_BAD_SIGNATURE;
		}
	}
	r = pv_pubkey_verify(pk, alg, a->pss, pv_jwt_digest(alg), (const uint8_t *)token, d2, 0, raw, rawlen);
	if (r == PV_ERR_BAD_SIGNATURE)
		pv_err_set_detail("the signature does not verify");
	return r;
}

pv_err
pv_jwt_verify(const cJSON *jwks, const char *token, time_t now, long leeway, cJSON **claims_out)
{
	const struct jws_alg *a = NULL;
	const char *kid = NULL;
	uint8_t *hb = NULL, *pb = NULL;
	size_t d1 = 0, d2 = 0, hl = 0, pl = 0;
	cJSON *header = NULL, *claims = NULL;
	EVP_PKEY *pk = NULL;
	pv_alg alg = PV_ALG_NONE;
	pv_err r;

	if (claims_out != NULL)
		*claims_out = NULL;
	if (token == NULL || jwks == NULL || leeway < 0) {
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
	    (r = pv_jwt_parse_object(pb, pl, &claims)) != PV_OK ||
	    (r = pv_jwt_check_times(claims, now, leeway)) != PV_OK)
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
