/*
 * JWTs on a throwaway SoftHSM token: issue and verify for every algorithm,
 * the claim policy (reserved claims, TTL cap, audiences), tampering and
 * algorithm confusion, time claims, and the JWK Set across rotation. And
 * what an attacker would try: tokens signed by a key of another purpose,
 * high-S twins of ECDSA signatures, NumericDates other parsers read
 * differently, lifetimes longer than the policy allows.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>

#include "base/secmem.h"
#include "core/b64.h"
#include "core/pubkey.h"
#include "core/sigfmt.h"
#include "core/sign.h"
#include "jose/jwt.h"
#include "jose/jwt_int.h"
#include "pkcs11/testutil.h"

static struct tu_token T;

struct fixture {
	p11_token *tok;
	pv_keystore *ks;
};

#define T0 1800000000L

static const struct {
	const char *name;
	pv_alg alg;
	pv_key_purpose purpose;
} test_keys[] = {
    {"es256", PV_ALG_P256, PV_PURPOSE_JWT},
    {"es384", PV_ALG_P384, PV_PURPOSE_JWT},
    {"es256k", PV_ALG_SECP256K1, PV_PURPOSE_JWT},
    {"eddsa", PV_ALG_ED25519, PV_PURPOSE_JWT},
    {"rsa", PV_ALG_RSA2048, PV_PURPOSE_JWT},
    {"hm", PV_ALG_HMAC_SHA256, PV_PURPOSE_DERIVE},
    {"kek", PV_ALG_AES256, PV_PURPOSE_WRAP},
    {"rsadec", PV_ALG_RSA2048, PV_PURPOSE_DECRYPT},
    /* the same algorithm as es256, for raw signatures over caller input */
    {"signer", PV_ALG_P256, PV_PURPOSE_SIGN},
    {"sol", PV_ALG_ED25519, PV_PURPOSE_SOLANA},
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct p11_token_opts o;
	size_t i;

	if (f == NULL)
		return -1;
	tu_opts(&T, &o);
	if (p11_token_open(&o, &f->tok) != PV_OK || p11_token_login(f->tok) != PV_OK ||
	    pv_keystore_new(f->tok, &f->ks) != PV_OK)
		return -1;
	for (i = 0; i < PV_NELEM(test_keys); i++)
		if (pv_keys_create(f->ks, test_keys[i].name, test_keys[i].alg, test_keys[i].purpose, NULL) !=
		    PV_OK)
			return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	pv_keystore_free(f->ks);
	p11_token_close(f->tok);
	free(f);
	return 0;
}

static cJSON *
claims_of(const char *json)
{
	cJSON *c = cJSON_Parse(json);

	assert_non_null(c);
	return c;
}

static char *
issue(pv_keystore *ks, const char *name, const struct pv_jwt_opts *o, const char *claims_json, pv_err want)
{
	cJSON *c = claims_of(claims_json);
	char *tok = NULL;

	assert_int_equal(pv_jwt_issue(ks, name, o, c, &tok), want);
	cJSON_Delete(c);
	if (want == PV_OK)
		assert_non_null(tok);
	else
		assert_null(tok);
	return tok;
}

static cJSON *
jwks_of(pv_keystore *ks)
{
	cJSON *j = NULL;

	assert_int_equal(pv_jwks_build(ks, &j), PV_OK);
	return j;
}

/* Part idx (0 header, 1 payload) of a token, decoded and parsed. */
static cJSON *
part_json(const char *tok, int idx)
{
	const char *p = tok, *e;
	uint8_t buf[PV_JWT_TOKEN_MAX];
	size_t n = 0;
	cJSON *j;

	if (idx == 1)
		p = strchr(tok, '.') + 1;
	e = strchr(p, '.');
	assert_int_equal(pv_b64url_decode(p, (size_t)(e - p), buf, sizeof(buf) - 1, &n), PV_OK);
	buf[n] = '\0';
	j = cJSON_Parse((const char *)buf);
	assert_non_null(j);
	return j;
}

static char *
b64(const char *s)
{
	char *out = NULL;

	assert_int_equal(pv_b64url_encode((const uint8_t *)s, strlen(s), &out), PV_OK);
	return out;
}

/* A token from a header (JSON text) and the payload and signature parts of
 * another token. */
static char *
with_header(const char *tok, const char *header_json)
{
	size_t len = 0;
	char *h = b64(header_json), *out = malloc(len = strlen(h) + strlen(tok) + 2);

	assert_non_null(out);
	snprintf(out, len, "%s%s", h, strchr(tok, '.'));
	free(h);
	return out;
}

static char *
with_payload(const char *tok, const char *payload_json)
{
	size_t len = 0;
	char *p = b64(payload_json), *out = malloc(len = strlen(p) + strlen(tok) + 2);
	const char *d1 = strchr(tok, '.'), *d2 = strchr(d1 + 1, '.');

	assert_non_null(out);
	snprintf(out, len, "%.*s.%s%s", (int)(d1 - tok), tok, p, d2);
	free(p);
	return out;
}

static const char *
str_member(const cJSON *o, const char *name)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, name);

	assert_true(cJSON_IsString(c));
	return c->valuestring;
}

static double
num_member(const cJSON *o, const char *name)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, name);

	assert_true(cJSON_IsNumber(c));
	return c->valuedouble;
}

static size_t
count_kid(const cJSON *jwks, const char *kid)
{
	const cJSON *k;
	size_t n = 0;

	cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(jwks, "keys"))
	{
		if (strcmp(str_member(k, "kid"), kid) == 0)
			n++;
	}
	return n;
}

/* kid of version v of key name (0: active), from its JWKS entry. */
static char *
kid_of(pv_keystore *ks, const char *name, unsigned v)
{
	struct pv_key *key = NULL;
	struct pv_key_version *ver;
	cJSON *e = NULL;
	char *kid;

	assert_int_equal(pv_keys_get(ks, name, &key), PV_OK);
	ver = v == 0 ? pv_key_active(key) : pv_key_find_version(key, v);
	assert_non_null(ver);
	assert_int_equal(pv_jwks_entry(ks, key, ver, 0, &e), PV_OK);
	kid = strdup(str_member(e, "kid"));
	cJSON_Delete(e);
	pv_key_free(key);
	return kid;
}

static void
test_round_trip_all_algs(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *key, *alg;
		int pss;
	} cases[] = {
	    {"es256", "ES256", 0}, {"es384", "ES384", 0}, {"es256k", "ES256K", 0},
	    {"eddsa", "EdDSA", 0}, {"rsa", "RS256", 0},   {"rsa", "PS256", 1},
	};
	cJSON *jwks = jwks_of(f->ks);
	size_t i;

	for (i = 0; i < PV_NELEM(cases); i++) {
		struct pv_jwt_opts o = {.pss = cases[i].pss, .iss = "https://vault.test", .ttl = 120};
		cJSON *claims = NULL, *h;
		char *tok = issue(f->ks, cases[i].key, &o, "{\"sub\":\"alice\",\"n\":[1,2]}", PV_OK);
		char *kid = kid_of(f->ks, cases[i].key, 0);

		h = part_json(tok, 0);
		assert_string_equal(str_member(h, "alg"), cases[i].alg);
		assert_string_equal(str_member(h, "typ"), "JWT");
		assert_string_equal(str_member(h, "kid"), kid);
		assert_int_equal(cJSON_GetArraySize(h), 3);
		assert_int_equal(pv_jwt_verify(jwks, tok, time(NULL), 0, &claims), PV_OK);
		assert_string_equal(str_member(claims, "sub"), "alice");
		assert_string_equal(str_member(claims, "iss"), "https://vault.test");
		assert_true(num_member(claims, "nbf") == num_member(claims, "iat"));
		assert_true(num_member(claims, "exp") == num_member(claims, "iat") + 120);
		/* 128 random bits: 22 base64url characters */
		assert_int_equal(strlen(str_member(claims, "jti")), 22);
		assert_null(strchr(tok, '='));
		cJSON_Delete(claims);
		cJSON_Delete(h);
		free(kid);
		free(tok);
	}
	cJSON_Delete(jwks);
}

static void
test_jti_unique(void **state)
{
	struct fixture *f = *state;
	struct pv_jwt_opts o = {0};
	char *a = issue(f->ks, "eddsa", &o, "{}", PV_OK), *b = issue(f->ks, "eddsa", &o, "{}", PV_OK);
	cJSON *pa = part_json(a, 1), *pb = part_json(b, 1);

	assert_string_not_equal(str_member(pa, "jti"), str_member(pb, "jti"));
	/* PV_JWT_DEFAULT_TTL */
	assert_true(num_member(pa, "exp") - num_member(pa, "iat") == PV_JWT_DEFAULT_TTL);
	assert_null(cJSON_GetObjectItemCaseSensitive(pa, "iss"));
	cJSON_Delete(pa);
	cJSON_Delete(pb);
	free(a);
	free(b);
}

static void
test_reserved_claims(void **state)
{
	struct fixture *f = *state;
	static const char *const cl[] = {"{\"iat\":1}", "{\"nbf\":1}", "{\"exp\":1}", "{\"jti\":\"x\"}",
					 "{\"iss\":\"evil\"}"};
	static const char *const names[] = {"'iat'", "'nbf'", "'exp'", "'jti'", "'iss'"};
	struct pv_jwt_opts o = {.iss = "good", .now = T0, .max_ttl = 600};
	cJSON *p;
	char *tok;
	size_t i;

	for (i = 0; i < PV_NELEM(cl); i++) {
		issue(f->ks, "es256", &o, cl[i], PV_ERR_FORBIDDEN);
		assert_non_null(strstr(pv_err_detail(), names[i]));
	}
	o.allow_override = 1;
	tok = issue(f->ks, "es256", &o, "{\"iss\":\"other\",\"exp\":1800000100,\"jti\":\"mine\"}", PV_OK);
	p = part_json(tok, 1);
	assert_string_equal(str_member(p, "iss"), "other");
	assert_string_equal(str_member(p, "jti"), "mine");
	assert_true(num_member(p, "exp") == 1800000100.0);
	assert_true(num_member(p, "iat") == (double)T0);
	cJSON_Delete(p);
	free(tok);
	/* an override still may not go past the cap, nor change a type */
	issue(f->ks, "es256", &o, "{\"exp\":1800000601}", PV_ERR_FORBIDDEN);
	issue(f->ks, "es256", &o, "{\"exp\":\"soon\"}", PV_ERR_BAD_INPUT);
	/* nor span more than the cap from an earlier iat (verify would refuse) */
	issue(f->ks, "es256", &o, "{\"iat\":1799999000,\"exp\":1800000100}", PV_ERR_FORBIDDEN);
	assert_non_null(strstr(pv_err_detail(), "span more than the TTL cap"));
	free(issue(f->ks, "es256", &o, "{\"iat\":1799999500,\"exp\":1800000100}", PV_OK));
	/* overriding NumericDates are integers in 0..2^53-1, as verify wants */
	issue(f->ks, "es256", &o, "{\"exp\":1800000000.5}", PV_ERR_BAD_INPUT);
	issue(f->ks, "es256", &o, "{\"nbf\":-1}", PV_ERR_BAD_INPUT);
	issue(f->ks, "es256", &o, "{\"nbf\":1e300}", PV_ERR_BAD_INPUT);
	issue(f->ks, "es256", &o, "{\"iat\":9007199254740992}", PV_ERR_BAD_INPUT);
}

static void
test_ttl_cap(void **state)
{
	struct fixture *f = *state;
	struct pv_jwt_opts o = {.now = T0, .ttl = 3600, .max_ttl = 60};
	char *tok = issue(f->ks, "es256", &o, "{}", PV_OK);
	cJSON *p = part_json(tok, 1);

	assert_true(num_member(p, "exp") == (double)(T0 + 60));
	cJSON_Delete(p);
	free(tok);
	o.max_ttl = 0;
	tok = issue(f->ks, "es256", &o, "{}", PV_OK);
	p = part_json(tok, 1);
	assert_true(num_member(p, "exp") == (double)(T0 + 3600));
	cJSON_Delete(p);
	free(tok);
	o.ttl = -5;
	issue(f->ks, "es256", &o, "{}", PV_ERR_USAGE);
}

static void
test_aud_allow_list(void **state)
{
	struct fixture *f = *state;
	static const char *const allowed[] = {"api", "web"};
	struct pv_jwt_opts o = {.allowed_aud = allowed, .naud = 2};

	free(issue(f->ks, "eddsa", &o, "{\"aud\":\"api\"}", PV_OK));
	free(issue(f->ks, "eddsa", &o, "{\"aud\":[\"api\",\"web\"]}", PV_OK));
	/* no "aud" would be a token for every audience: refused, naming it */
	issue(f->ks, "eddsa", &o, "{\"sub\":\"no aud\"}", PV_ERR_FORBIDDEN);
	assert_non_null(strstr(pv_err_detail(), "'aud' is required"));
	issue(f->ks, "eddsa", &o, "{}", PV_ERR_FORBIDDEN);
	assert_non_null(strstr(pv_err_detail(), "'aud'"));
	issue(f->ks, "eddsa", &o, "{\"aud\":\"admin\"}", PV_ERR_FORBIDDEN);
	issue(f->ks, "eddsa", &o, "{\"aud\":[\"api\",\"admin\"]}", PV_ERR_FORBIDDEN);
	issue(f->ks, "eddsa", &o, "{\"aud\":7}", PV_ERR_BAD_INPUT);
	issue(f->ks, "eddsa", &o, "{\"aud\":[]}", PV_ERR_BAD_INPUT);
	o.naud = 0;
	free(issue(f->ks, "eddsa", &o, "{\"aud\":\"admin\"}", PV_OK));
	free(issue(f->ks, "eddsa", &o, "{\"sub\":\"no list, no aud\"}", PV_OK));
}

static void
test_bad_claims_and_keys(void **state)
{
	struct fixture *f = *state;
	struct pv_jwt_opts o = {0};
	char *big = malloc(PV_JWT_CLAIMS_MAX + 32);

	issue(f->ks, "es256", &o, "[1,2]", PV_ERR_BAD_INPUT);
	issue(f->ks, "es256", &o, "\"sub\"", PV_ERR_BAD_INPUT);
	issue(f->ks, "es256", &o, "{\"a\":1,\"a\":2}", PV_ERR_BAD_INPUT);
	assert_non_null(big);
	memset(big, 'x', PV_JWT_CLAIMS_MAX + 31);
	memcpy(big, "{\"x\":\"", 6);
	memcpy(big + PV_JWT_CLAIMS_MAX + 29, "\"}", 3);
	issue(f->ks, "es256", &o, big, PV_ERR_TOO_LARGE);
	free(big);
	/* keys of other purposes, whatever their algorithm */
	issue(f->ks, "hm", &o, "{}", PV_ERR_PURPOSE);
	issue(f->ks, "kek", &o, "{}", PV_ERR_PURPOSE);
	issue(f->ks, "rsadec", &o, "{}", PV_ERR_PURPOSE);
	issue(f->ks, "signer", &o, "{}", PV_ERR_PURPOSE);
	issue(f->ks, "sol", &o, "{}", PV_ERR_PURPOSE);
	issue(f->ks, "nosuchkey", &o, "{}", PV_ERR_NOT_FOUND);
	o.pss = 1;
	issue(f->ks, "es256", &o, "{}", PV_ERR_KEY_TYPE);
}

static void
test_tampering(void **state)
{
	struct fixture *f = *state;
	static const char *const keys[] = {"es256", "es256k", "eddsa", "rsa"};
	cJSON *jwks = jwks_of(f->ks);
	size_t i;

	for (i = 0; i < PV_NELEM(keys); i++) {
		struct pv_jwt_opts o = {0};
		char *tok = issue(f->ks, keys[i], &o, "{\"sub\":\"alice\"}", PV_OK);
		char *kid = kid_of(f->ks, keys[i], 0), hdr[256], *t2;
		cJSON *h = part_json(tok, 0), *p = part_json(tok, 1);
		char *last = strrchr(tok, '.') + 1;
		size_t n;

		/* payload */
		cJSON_ReplaceItemInObject(p, "sub", cJSON_CreateString("mallory"));
		{
			char *ptext = cJSON_PrintUnformatted(p);

			t2 = with_payload(tok, ptext);
			free(ptext);
		}
		assert_int_equal(pv_jwt_verify(jwks, t2, time(NULL), 0, NULL), PV_ERR_BAD_SIGNATURE);
		free(t2);
		/* header: still well-formed, same alg and kid, one more member */
		snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\",\"x\":1}",
			 str_member(h, "alg"), kid);
		t2 = with_header(tok, hdr);
		assert_int_equal(pv_jwt_verify(jwks, t2, time(NULL), 0, NULL), PV_ERR_BAD_SIGNATURE);
		free(t2);
		/* signature: change one character in the middle (still base64url
		 * of the right length) */
		n = strlen(last);
		last[n / 2] = last[n / 2] == 'A' ? 'B' : 'A';
		assert_int_equal(pv_jwt_verify(jwks, tok, time(NULL), 0, NULL), PV_ERR_BAD_SIGNATURE);
		/* truncated signature */
		last[n / 2] = '\0';
		assert_int_equal(pv_jwt_verify(jwks, tok, time(NULL), 0, NULL), PV_ERR_BAD_SIGNATURE);
		cJSON_Delete(h);
		cJSON_Delete(p);
		free(kid);
		free(tok);
	}
	cJSON_Delete(jwks);
}

static void
test_alg_confusion_and_form(void **state)
{
	struct fixture *f = *state;
	struct pv_jwt_opts o = {0};
	cJSON *jwks = jwks_of(f->ks);
	char *tok = issue(f->ks, "es256", &o, "{}", PV_OK), *kid = kid_of(f->ks, "es256", 0);
	char *rsakid = kid_of(f->ks, "rsa", 0);
	char hdr[256], *t2, *bad;
	size_t badlen;
	time_t now = time(NULL);
	static const struct {
		const char *fmt;
		pv_err want;
	} headers[] = {
	    {"{\"alg\":\"HS256\",\"kid\":\"%s\"}", PV_ERR_KEY_TYPE},
	    {"{\"alg\":\"none\",\"kid\":\"%s\"}", PV_ERR_KEY_TYPE},
	    {"{\"alg\":\"RS256\",\"kid\":\"%s\"}", PV_ERR_KEY_TYPE},
	    {"{\"alg\":\"ES384\",\"kid\":\"%s\"}", PV_ERR_KEY_TYPE},
	    {"{\"alg\":\"EdDSA\",\"kid\":\"%s\"}", PV_ERR_KEY_TYPE},
	    {"{\"alg\":\"es256\",\"kid\":\"%s\"}", PV_ERR_KEY_TYPE},
	    {"{\"alg\":\"ES256\",\"kid\":\"%s\",\"crit\":[\"exp\"]}", PV_ERR_BAD_INPUT},
	    {"{\"alg\":\"ES256\",\"kid\":\"%s\",\"typ\":\"JOSE+JSON\"}", PV_ERR_BAD_INPUT},
	    {"{\"alg\":\"ES256\",\"alg\":\"ES256\",\"kid\":\"%s\"}", PV_ERR_BAD_INPUT},
	    {"{\"alg\":\"ES256\",\"kid\":\"x%s\"}", PV_ERR_NOT_FOUND},
	    {"{\"alg\":\"ES256\",\"kid\":[\"%s\"]}", PV_ERR_BAD_INPUT},
	    {"[\"ES256\",\"%s\"]", PV_ERR_BAD_INPUT},
	};
	size_t i;

	assert_int_equal(pv_jwt_verify(jwks, tok, now, 0, NULL), PV_OK);
	for (i = 0; i < PV_NELEM(headers); i++) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		snprintf(hdr, sizeof(hdr), headers[i].fmt, kid);
#pragma GCC diagnostic pop
		t2 = with_header(tok, hdr);
		assert_int_equal(pv_jwt_verify(jwks, t2, now, 0, NULL), headers[i].want);
		free(t2);
	}
	/* the EC signature under an RSA kid with RS256 is refused by the key,
	 * not by a mismatch the attacker could choose */
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"RS256\",\"kid\":\"%s\"}", rsakid);
	t2 = with_header(tok, hdr);
	assert_int_equal(pv_jwt_verify(jwks, t2, now, 0, NULL), PV_ERR_BAD_SIGNATURE);
	free(t2);
	/* alg none with an empty signature */
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"none\",\"kid\":\"%s\"}", kid);
	t2 = with_header(tok, hdr);
	*(strrchr(t2, '.') + 1) = '\0';
	assert_int_equal(pv_jwt_verify(jwks, t2, now, 0, NULL), PV_ERR_BAD_INPUT);
	free(t2);
	/* compact form: parts, padding, whitespace */
	badlen = strlen(tok) + 8;
	bad = malloc(badlen);
	assert_non_null(bad);
	snprintf(bad, badlen, "%s.", tok);
	assert_int_equal(pv_jwt_verify(jwks, bad, now, 0, NULL), PV_ERR_BAD_INPUT);
	snprintf(bad, badlen, "%s=", tok);
	assert_int_equal(pv_jwt_verify(jwks, bad, now, 0, NULL), PV_ERR_BAD_INPUT);
	snprintf(bad, badlen, "%s\n", tok);
	assert_int_equal(pv_jwt_verify(jwks, bad, now, 0, NULL), PV_ERR_BAD_INPUT);
	snprintf(bad, badlen, " %s", tok);
	assert_int_equal(pv_jwt_verify(jwks, bad, now, 0, NULL), PV_ERR_BAD_INPUT);
	snprintf(bad, badlen, "%s", tok);
	*strrchr(bad, '.') = '\0';
	assert_int_equal(pv_jwt_verify(jwks, bad, now, 0, NULL), PV_ERR_BAD_INPUT);
	snprintf(bad, badlen, "%s", tok);
	*strchr(bad, '.') = '\0';
	assert_int_equal(pv_jwt_verify(jwks, bad, now, 0, NULL), PV_ERR_BAD_INPUT);
	assert_int_equal(pv_jwt_verify(jwks, "", now, 0, NULL), PV_ERR_BAD_INPUT);
	assert_int_equal(pv_jwt_verify(jwks, "..", now, 0, NULL), PV_ERR_BAD_INPUT);
	free(bad);
	free(rsakid);
	free(kid);
	free(tok);
	cJSON_Delete(jwks);
}

static void
test_time_claims(void **state)
{
	struct fixture *f = *state;
	struct pv_jwt_opts o = {.now = T0, .ttl = 60};
	cJSON *jwks = jwks_of(f->ks);
	char *tok = issue(f->ks, "es256k", &o, "{}", PV_OK);

	assert_int_equal(pv_jwt_verify(jwks, tok, T0, 0, NULL), PV_OK);
	assert_int_equal(pv_jwt_verify(jwks, tok, T0 + 59, 0, NULL), PV_OK);
	assert_int_equal(pv_jwt_verify(jwks, tok, T0 + 60, 0, NULL), PV_ERR_STATE);
	assert_int_equal(pv_jwt_verify(jwks, tok, T0 + 65, 10, NULL), PV_OK);
	assert_int_equal(pv_jwt_verify(jwks, tok, T0 + 70, 10, NULL), PV_ERR_STATE);
	/* nbf = iat = T0 */
	assert_int_equal(pv_jwt_verify(jwks, tok, T0 - 1, 0, NULL), PV_ERR_STATE);
	assert_int_equal(pv_jwt_verify(jwks, tok, T0 - 5, 5, NULL), PV_OK);
	assert_int_equal(pv_jwt_verify(jwks, tok, T0 - 6, 5, NULL), PV_ERR_STATE);
	assert_int_equal(pv_jwt_verify(jwks, tok, T0, -1, NULL), PV_ERR_USAGE);
	free(tok);
	/* iat in the future with a valid nbf: refused too */
	o.allow_override = 1;
	tok = issue(f->ks, "es256k", &o, "{\"nbf\":1799999000,\"iat\":1800000030}", PV_OK);
	assert_int_equal(pv_jwt_verify(jwks, tok, T0, 0, NULL), PV_ERR_STATE);
	assert_int_equal(pv_jwt_verify(jwks, tok, T0 + 30, 0, NULL), PV_OK);
	free(tok);
	cJSON_Delete(jwks);
}

static void
test_jwks_contents(void **state)
{
	struct fixture *f = *state;
	cJSON *jwks = jwks_of(f->ks), *k;
	const char *prev = "";
	char *kid;
	size_t n = 0;

	/* es256 es256k es384 eddsa: one entry each; rsa: RS256 and PS256 */
	cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(jwks, "keys"))
	{
		assert_string_equal(str_member(k, "use"), "sig");
		assert_non_null(cJSON_GetObjectItemCaseSensitive(k, "alg"));
		assert_null(cJSON_GetObjectItemCaseSensitive(k, "d"));
		n++;
	}
	assert_int_equal(n, 6);
	kid = kid_of(f->ks, "rsa", 0);
	assert_int_equal(count_kid(jwks, kid), 2);
	free(kid);
	(void)prev;
	cJSON_Delete(jwks);
}

static void
test_rotation(void **state)
{
	struct fixture *f = *state;
	struct pv_jwt_opts o = {0};
	char *t1, *t2, *k1, *k2, *k3;
	cJSON *jwks, *hdr;
	unsigned nv = 0;
	/* tokens are issued after this; the leeway covers the seconds the test takes */
	time_t now = time(NULL);

	assert_int_equal(pv_keys_create(f->ks, "rot", PV_ALG_P256, PV_PURPOSE_JWT, NULL), PV_OK);
	t1 = issue(f->ks, "rot", &o, "{\"n\":1}", PV_OK);
	k1 = kid_of(f->ks, "rot", 1);
	assert_int_equal(pv_keys_rotate(f->ks, "rot", 0, &nv), PV_OK);
	assert_int_equal(nv, 2);
	assert_int_equal(pv_keys_rotate(f->ks, "rot", 1, &nv), PV_OK);
	assert_int_equal(nv, 3);
	k2 = kid_of(f->ks, "rot", 2);
	k3 = kid_of(f->ks, "rot", 3);
	t2 = issue(f->ks, "rot", &o, "{\"n\":2}", PV_OK);
	hdr = part_json(t2, 0);
	assert_string_equal(str_member(hdr, "kid"), k2);
	cJSON_Delete(hdr);

	/* v1 verify-only, v2 active, v3 next: all published, in version order */
	jwks = jwks_of(f->ks);
	assert_int_equal(count_kid(jwks, k1), 1);
	assert_int_equal(count_kid(jwks, k2), 1);
	assert_int_equal(count_kid(jwks, k3), 1);
	{
		const cJSON *k;
		int pos = 0, p1 = -1, p2 = -1, p3 = -1;

		cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(jwks, "keys"))
		{
			const char *kid = str_member(k, "kid");

			p1 = strcmp(kid, k1) == 0 ? pos : p1;
			p2 = strcmp(kid, k2) == 0 ? pos : p2;
			p3 = strcmp(kid, k3) == 0 ? pos : p3;
			pos++;
		}
		assert_true(p1 < p2 && p2 < p3 && p3 == p1 + 2);
	}
	assert_int_equal(pv_jwt_verify(jwks, t1, now, 60, NULL), PV_OK);
	assert_int_equal(pv_jwt_verify(jwks, t2, now, 60, NULL), PV_OK);
	cJSON_Delete(jwks);

	/* retired: gone from the set, and its tokens no longer verify */
	assert_int_equal(pv_keys_retire(f->ks, "rot", 1), PV_OK);
	jwks = jwks_of(f->ks);
	assert_int_equal(count_kid(jwks, k1), 0);
	assert_int_equal(count_kid(jwks, k2), 1);
	assert_int_equal(count_kid(jwks, k3), 1);
	assert_int_equal(pv_jwt_verify(jwks, t1, now, 60, NULL), PV_ERR_NOT_FOUND);
	assert_int_equal(pv_jwt_verify(jwks, t2, now, 60, NULL), PV_OK);
	cJSON_Delete(jwks);
	free(k1);
	free(k2);
	free(k3);
	free(t1);
	free(t2);
}

/* kid (RFC 7638 thumbprint) of the active version of any asymmetric key,
 * also of a key the JWK Set does not publish. */
static char *
thumbprint_of(pv_keystore *ks, const char *name)
{
	struct pv_key *key = NULL;
	EVP_PKEY *pk = NULL;
	char *kid = NULL;

	assert_int_equal(pv_keys_get(ks, name, &key), PV_OK);
	assert_int_equal(pv_keys_public(ks, key, pv_key_active(key), &pk), PV_OK);
	assert_int_equal(pv_pubkey_thumbprint(pk, &kid), PV_OK);
	EVP_PKEY_free(pk);
	pv_key_free(key);
	return kid;
}

/*
 * A token made the way an attacker with a plain signing grant would: the
 * header and payload chosen freely, signed on the token by key name with
 * the given purpose (pv_sign refuses any other), ECDSA normalised low-S.
 */
static char *
forge(pv_keystore *ks, const char *name, pv_key_purpose purpose, const char *header, const char *payload)
{
	struct pv_key *key = NULL;
	struct pv_sign_opts so = {0};
	struct pv_sig sig;
	char *h = b64(header), *p = b64(payload), *out;
	uint8_t *s64 = NULL;
	size_t s64len = 0, len;
	int high = 0;

	assert_int_equal(pv_keys_get(ks, name, &key), PV_OK);
	len = strlen(h) + strlen(p) + 2 + 2 * PV_SIG_MAX;
	out = malloc(len);
	assert_non_null(out);
	snprintf(out, len, "%s.%s", h, p);
	so.purpose = purpose;
	so.digest = pv_jwt_digest(key->alg);
	assert_int_equal(pv_sign(ks, name, &so, (const uint8_t *)out, strlen(out), &sig), PV_OK);
	if (pv_alg_info(key->alg)->family == PV_FAMILY_EC)
		assert_int_equal(pv_jwt_ecdsa_low_s(key->alg, sig.bytes, sig.len, 1, &high), PV_OK);
	assert_int_equal(pv_sig_encode(PV_SIGFMT_JOSE, key->alg, sig.bytes, sig.len, &s64, &s64len), PV_OK);
	snprintf(out + strlen(out), len - strlen(out), ".%.*s", (int)s64len, (const char *)s64);
	free(s64);
	free(h);
	free(p);
	pv_key_free(key);
	return out;
}

/* forge() with a JWT header for key name (its alg and kid). */
static char *
forge_jwt(pv_keystore *ks, const char *name, const char *alg, const char *payload)
{
	char hdr[256], *kid = thumbprint_of(ks, name), *tok;

	snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}", alg, kid);
	tok = forge(ks, name, PV_PURPOSE_JWT, hdr, payload);
	free(kid);
	return tok;
}

/*
 * A client granted `sign` on a P-256 key (or `wallet.sign` on an Ed25519
 * Solana key) signs a JWT of its own making: the key's kid is not in the
 * JWK Set, and naming a JWT key's kid does not make its signature verify.
 */
static void
test_other_purpose_forgery(void **state)
{
	struct fixture *f = *state;
	cJSON *jwks = jwks_of(f->ks);
	char *signer_kid = thumbprint_of(f->ks, "signer"), *jwt_kid = kid_of(f->ks, "es256", 0);
	char *sol_kid = thumbprint_of(f->ks, "sol");
	char hdr[256], payload[128], *tok;
	time_t now = time(NULL);

	snprintf(payload, sizeof(payload), "{\"sub\":\"mallory\",\"iat\":%ld,\"exp\":%ld}", (long)now,
		 (long)now + 60);
	assert_int_equal(count_kid(jwks, signer_kid), 0);
	assert_int_equal(count_kid(jwks, sol_kid), 0);
	/* the forger's own kid: unknown */
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", signer_kid);
	tok = forge(f->ks, "signer", PV_PURPOSE_SIGN, hdr, payload);
	assert_int_equal(pv_jwt_verify(jwks, tok, now, 0, NULL), PV_ERR_NOT_FOUND);
	free(tok);
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"EdDSA\",\"typ\":\"JWT\",\"kid\":\"%s\"}", sol_kid);
	tok = forge(f->ks, "sol", PV_PURPOSE_SOLANA, hdr, payload);
	assert_int_equal(pv_jwt_verify(jwks, tok, now, 0, NULL), PV_ERR_NOT_FOUND);
	free(tok);
	/* a JWT key's kid over the forger's signature: does not verify */
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", jwt_kid);
	tok = forge(f->ks, "signer", PV_PURPOSE_SIGN, hdr, payload);
	assert_int_equal(pv_jwt_verify(jwks, tok, now, 0, NULL), PV_ERR_BAD_SIGNATURE);
	free(tok);
	/* the same header and payload signed by the JWT key itself verify:
	 * the refusals above are about the key, not the token's shape */
	tok = forge(f->ks, "es256", PV_PURPOSE_JWT, hdr, payload);
	assert_int_equal(pv_jwt_verify(jwks, tok, now, 0, NULL), PV_OK);
	free(tok);
	free(sol_kid);
	free(signer_kid);
	free(jwt_kid);
	cJSON_Delete(jwks);
}

/* The curve order of an EC key algorithm, from OpenSSL. */
static BIGNUM *
order_of(pv_alg alg)
{
	int nid = alg == PV_ALG_P256   ? NID_X9_62_prime256v1
		  : alg == PV_ALG_P384 ? NID_secp384r1
				       : NID_secp256k1;
	EC_GROUP *g = EC_GROUP_new_by_curve_name(nid);
	BIGNUM *n;

	assert_non_null(g);
	n = BN_dup(EC_GROUP_get0_order(g));
	assert_non_null(n);
	EC_GROUP_free(g);
	return n;
}

/*
 * The token with its ECDSA signature (r, s) replaced by (r, n - s), the
 * other signature of the same input under the same key, computed here with
 * OpenSSL; *s_was_low says whether the original s was <= n/2. The twin is
 * checked to verify with OpenSSL, so a refusal is about its form only.
 */
static char *
ecdsa_twin(pv_keystore *ks, const char *name, const char *tok, int *s_was_low)
{
	struct pv_key *key = NULL;
	EVP_PKEY *pk = NULL;
	const char *sig = strrchr(tok, '.') + 1;
	uint8_t raw[PV_SIG_MAX_RAW];
	size_t rawlen = 0, half, len = strlen(tok) + 8;
	BIGNUM *n, *sv, *h;
	char *s64 = NULL, *out = malloc(len);

	assert_non_null(out);
	assert_int_equal(pv_keys_get(ks, name, &key), PV_OK);
	assert_int_equal(pv_sig_parse(PV_SIGFMT_JOSE, (const uint8_t *)sig, strlen(sig), key->alg, raw,
				      sizeof(raw), &rawlen),
			 PV_OK);
	half = rawlen / 2;
	n = order_of(key->alg);
	sv = BN_bin2bn(raw + half, (int)half, NULL);
	h = BN_new();
	assert_true(sv != NULL && h != NULL && BN_rshift1(h, n));
	*s_was_low = BN_cmp(sv, h) <= 0;
	assert_true(BN_sub(sv, n, sv));
	assert_int_equal(BN_bn2binpad(sv, raw + half, (int)half), (int)half);
	assert_int_equal(pv_keys_public(ks, key, pv_key_active(key), &pk), PV_OK);
	assert_int_equal(pv_pubkey_verify(pk, key->alg, 0, pv_jwt_digest(key->alg), (const uint8_t *)tok,
					  (size_t)(sig - 1 - tok), 0, raw, rawlen),
			 PV_OK);
	/* by hand: pv_sig_encode would normalise a secp256k1 signature */
	assert_int_equal(pv_b64url_encode(raw, rawlen, &s64), PV_OK);
	snprintf(out, len, "%.*s%s", (int)(sig - tok), tok, s64);
	free(s64);
	BN_free(h);
	BN_free(sv);
	BN_free(n);
	EVP_PKEY_free(pk);
	pv_key_free(key);
	return out;
}

/* ES256, ES384, ES256K: issued low-S; the high-S twin is refused. */
static void
test_high_s_refused(void **state)
{
	struct fixture *f = *state;
	static const char *const keys[] = {"es256", "es384", "es256k"};
	cJSON *jwks = jwks_of(f->ks);
	time_t now = time(NULL);
	size_t i, j;

	for (i = 0; i < PV_NELEM(keys); i++) {
		/* a token has a high s half the time unless the issuer
		 * normalises: 16 in a row low is chance 2^-16 */
		for (j = 0; j < 16; j++) {
			struct pv_jwt_opts o = {0};
			char *tok = issue(f->ks, keys[i], &o, "{\"sub\":\"alice\"}", PV_OK), *twin;
			int low = 0;

			twin = ecdsa_twin(f->ks, keys[i], tok, &low);
			assert_true(low);
			assert_int_equal(pv_jwt_verify(jwks, tok, now, 60, NULL), PV_OK);
			assert_int_equal(pv_jwt_verify(jwks, twin, now, 60, NULL), PV_ERR_BAD_SIGNATURE);
			assert_non_null(strstr(pv_err_detail(), "low-S"));
			free(twin);
			free(tok);
		}
	}
	cJSON_Delete(jwks);
}

/* NumericDates: integers in 0..2^53-1 only (others read them otherwise). */
static void
test_numericdates(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *payload;
		pv_err want;
	} cases[] = {
	    {"{\"iat\":1800000000,\"exp\":1800000060}", PV_OK},
	    {"{\"iat\":1800000000,\"exp\":1.8000000605e9}", PV_ERR_BAD_INPUT},
	    {"{\"iat\":1800000000,\"exp\":1e300}", PV_ERR_BAD_INPUT},
	    {"{\"iat\":1800000000,\"exp\":1e400}", PV_ERR_BAD_INPUT},
	    {"{\"iat\":1800000000,\"exp\":\"1800000060\"}", PV_ERR_BAD_INPUT},
	    {"{\"iat\":1800000000,\"exp\":null}", PV_ERR_BAD_INPUT},
	    {"{\"iat\":1800000000,\"exp\":true}", PV_ERR_BAD_INPUT},
	    {"{\"iat\":1800000000,\"exp\":[1800000060]}", PV_ERR_BAD_INPUT},
	    {"{\"iat\":-1,\"exp\":1800000060}", PV_ERR_BAD_INPUT},
	    {"{\"iat\":1.5,\"exp\":1800000060}", PV_ERR_BAD_INPUT},
	    {"{\"iat\":1800000000,\"nbf\":-1,\"exp\":1800000060}", PV_ERR_BAD_INPUT},
	    {"{\"iat\":1800000000,\"nbf\":9007199254740992,\"exp\":1800000060}", PV_ERR_BAD_INPUT},
	    /* 2^53-1 is a NumericDate (not yet valid, but well-formed) */
	    {"{\"iat\":1800000000,\"nbf\":9007199254740991,\"exp\":1800000060}", PV_ERR_STATE},
	    /* 0 is one too (long expired) */
	    {"{\"iat\":0,\"exp\":60}", PV_ERR_STATE},
	    /* 1e9 is the integer 1000000000 */
	    {"{\"iat\":1e9,\"exp\":1000000060}", PV_ERR_STATE},
	    {"{\"iat\":1800000000}", PV_ERR_BAD_INPUT},
	};
	cJSON *jwks = jwks_of(f->ks);
	size_t i;

	for (i = 0; i < PV_NELEM(cases); i++) {
		char *tok = forge_jwt(f->ks, "eddsa", "EdDSA", cases[i].payload);

		pv_err_clear_detail();
		if (pv_jwt_verify(jwks, tok, T0 + 10, 0, NULL) != cases[i].want)
			fail_msg("%s: %s", cases[i].payload, pv_err_detail());
		free(tok);
	}
	cJSON_Delete(jwks);
}

struct bound {
	long max;
	char kid[128];
	int calls;
	pv_err r;
};

static pv_err
bound_cb(void *arg, const char *kid, long *max)
{
	struct bound *b = arg;

	b->calls++;
	snprintf(b->kid, sizeof(b->kid), "%s", kid);
	*max = b->max;
	return b->r;
}

/* exp - iat at most the bound for the signing key; no iat, no token. */
static void
test_lifetime_bound(void **state)
{
	struct fixture *f = *state;
	struct bound b = {.max = 900};
	struct pv_jwt_verify_opts o = {.now = T0 + 10, .max_lifetime = bound_cb, .arg = &b};
	cJSON *jwks = jwks_of(f->ks);
	char *kid = kid_of(f->ks, "es256", 0), *at, *over, *noiat, *year, *longer;

	at = forge_jwt(f->ks, "es256", "ES256", "{\"iat\":1800000000,\"exp\":1800000900}");
	over = forge_jwt(f->ks, "es256", "ES256", "{\"iat\":1800000000,\"exp\":1800000901}");
	noiat = forge_jwt(f->ks, "es256", "ES256", "{\"nbf\":1800000000,\"exp\":1800000060}");
	year = forge_jwt(f->ks, "es256", "ES256", "{\"iat\":1800000000,\"exp\":1831622400}");
	longer = forge_jwt(f->ks, "es256", "ES256", "{\"iat\":1800000000,\"exp\":1831622401}");
	assert_int_equal(pv_jwt_verify_ex(jwks, at, &o, NULL), PV_OK);
	assert_int_equal(b.calls, 1);
	assert_string_equal(b.kid, kid);
	assert_int_equal(pv_jwt_verify_ex(jwks, over, &o, NULL), PV_ERR_FORBIDDEN);
	assert_non_null(strstr(pv_err_detail(), "lifetime"));
	assert_int_equal(pv_jwt_verify_ex(jwks, noiat, &o, NULL), PV_ERR_FORBIDDEN);
	assert_non_null(strstr(pv_err_detail(), "'iat' is missing"));
	/* refused as over-long even once expired */
	o.now = T0 + 100000;
	assert_int_equal(pv_jwt_verify_ex(jwks, over, &o, NULL), PV_ERR_FORBIDDEN);
	assert_int_equal(pv_jwt_verify_ex(jwks, at, &o, NULL), PV_ERR_STATE);
	/* the callback's error is the answer */
	o.now = T0 + 10;
	b.r = PV_ERR_NOT_FOUND;
	assert_int_equal(pv_jwt_verify_ex(jwks, at, &o, NULL), PV_ERR_NOT_FOUND);
	b.r = PV_OK;
	/* 0 (no cap of the policy's own) is the service maximum, 366 days */
	b.max = 0;
	assert_int_equal(pv_jwt_verify_ex(jwks, year, &o, NULL), PV_OK);
	assert_int_equal(pv_jwt_verify_ex(jwks, longer, &o, NULL), PV_ERR_FORBIDDEN);
	/* pv_jwt_verify: the service maximum for every key; iat required */
	assert_int_equal(pv_jwt_verify(jwks, year, T0 + 10, 0, NULL), PV_OK);
	assert_int_equal(pv_jwt_verify(jwks, longer, T0 + 10, 0, NULL), PV_ERR_FORBIDDEN);
	assert_int_equal(pv_jwt_verify(jwks, noiat, T0 + 10, 0, NULL), PV_ERR_FORBIDDEN);
	/* no callback call before the signature verified */
	b.calls = 0;
	over[strlen(over) - 2] = over[strlen(over) - 2] == 'A' ? 'B' : 'A';
	assert_int_equal(pv_jwt_verify_ex(jwks, over, &o, NULL), PV_ERR_BAD_SIGNATURE);
	assert_int_equal(b.calls, 0);
	free(at);
	free(over);
	free(noiat);
	free(year);
	free(longer);
	free(kid);
	cJSON_Delete(jwks);
}

/* The kid -> key name map built with the set (vaultd's lifetime bound). */
static void
test_jwks_names(void **state)
{
	struct fixture *f = *state;
	cJSON *jwks = NULL, *names = NULL;
	const cJSON *k;
	size_t n = 0;

	assert_int_equal(pv_jwks_build_names(f->ks, &jwks, &names), PV_OK);
	cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(jwks, "keys"))
	{
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(names, str_member(k, "kid"));
		char *kid;

		assert_true(cJSON_IsString(name));
		kid = kid_of(f->ks, name->valuestring, 0);
		assert_string_equal(kid, str_member(k, "kid"));
		free(kid);
	}
	cJSON_ArrayForEach(k, names) n++;
	/* es256 es256k es384 eddsa rsa (its two entries share a kid) */
	assert_int_equal(n, 5);
	cJSON_Delete(names);
	cJSON_Delete(jwks);
}

/* The header cached per key version: the same bytes for every token of a
 * version, the new version's kid right after a rotation (and a flush), and
 * an RS256 and a PS256 header of one version kept apart. */
static void
test_header_cache(void **state)
{
	struct fixture *f = *state;
	struct pv_jwt_opts o = {0};
	char *t[5], *k1, *k2;
	cJSON *h;
	unsigned nv = 0;
	size_t i;

	assert_int_equal(pv_keys_create(f->ks, "hdr", PV_ALG_RSA2048, PV_PURPOSE_JWT, NULL), PV_OK);
	t[0] = issue(f->ks, "hdr", &o, "{\"n\":1}", PV_OK);
	t[1] = issue(f->ks, "hdr", &o, "{\"n\":2}", PV_OK);
	o.pss = 1;
	t[2] = issue(f->ks, "hdr", &o, "{\"n\":3}", PV_OK);
	o.pss = 0;
	k1 = kid_of(f->ks, "hdr", 1);
	assert_int_equal(strchr(t[0], '.') - t[0], strchr(t[1], '.') - t[1]);
	assert_memory_equal(t[0], t[1], (size_t)(strchr(t[0], '.') - t[0]));
	h = part_json(t[2], 0);
	assert_string_equal(str_member(h, "alg"), "PS256");
	assert_string_equal(str_member(h, "kid"), k1);
	cJSON_Delete(h);
	h = part_json(t[1], 0);
	assert_string_equal(str_member(h, "alg"), "RS256");
	assert_string_equal(str_member(h, "kid"), k1);
	cJSON_Delete(h);
	assert_int_equal(pv_keys_rotate(f->ks, "hdr", 0, &nv), PV_OK);
	k2 = kid_of(f->ks, "hdr", 2);
	assert_string_not_equal(k1, k2);
	t[3] = issue(f->ks, "hdr", &o, "{\"n\":4}", PV_OK);
	pv_keystore_flush(f->ks);
	t[4] = issue(f->ks, "hdr", &o, "{\"n\":5}", PV_OK);
	for (i = 3; i < 5; i++) {
		h = part_json(t[i], 0);
		assert_string_equal(str_member(h, "kid"), k2);
		cJSON_Delete(h);
	}
	for (i = 0; i < 5; i++)
		free(t[i]);
	free(k1);
	free(k2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip_all_algs), cmocka_unit_test(test_jti_unique),
	    cmocka_unit_test(test_reserved_claims),     cmocka_unit_test(test_ttl_cap),
	    cmocka_unit_test(test_aud_allow_list),      cmocka_unit_test(test_bad_claims_and_keys),
	    cmocka_unit_test(test_tampering),           cmocka_unit_test(test_alg_confusion_and_form),
	    cmocka_unit_test(test_time_claims),         cmocka_unit_test(test_jwks_contents),
	    cmocka_unit_test(test_jwks_names),          cmocka_unit_test(test_other_purpose_forgery),
	    cmocka_unit_test(test_high_s_refused),      cmocka_unit_test(test_numericdates),
	    cmocka_unit_test(test_lifetime_bound),      cmocka_unit_test(test_rotation),
	    cmocka_unit_test(test_header_cache),
	};
	int r;

	if (pv_secmem_init() != PV_OK)
		return 1;
	if ((r = tu_make_token(&T, "pvjwt")) != 0)
		return r == TU_SKIP ? TU_SKIP : 1;
	r = cmocka_run_group_tests(tests, setup, teardown);
	tu_remove_token(&T);
	return r;
}
