/* Unit tests: bundle formats 1 and 2: parser, writer, AAD and check digest
 * bytes, and the purpose of private-key entries (format 2). */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "bundle/format.h"
#include "core/b64.h"

/* A valid document (check bytes are arbitrary: the parser does not verify
 * them, that needs the DEK). */
static const char good[] =
    "{\"format\":1,\"id\":\"AAECAwQFBgcICQoLDA0ODw\",\"created\":\"2026-11-23T12:00:00Z\","
    "\"not_after\":\"2030-01-01T00:00:00Z\",\"version\":7,\"context\":{\"svc\":\"api\",\"env\":\"prod\"},"
    "\"recipients\":[{\"type\":\"aes-kwp\",\"kid\":\"0a0b\",\"label\":\"kek.v1\",\"wrapped_dek\":"
    "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}],"
    "\"entries\":[{\"name\":\"API_KEY\",\"kind\":\"env\",\"nonce\":\"AAAAAAAAAAAAAAAA\",\"ct\":"
    "\"AQIDBAUGBwgJCgsMDQ4PEBES\"},"
    "{\"name\":\"tls.key\",\"kind\":\"file\",\"nonce\":\"AQEBAQEBAQEBAQEB\",\"ct\":\"AAAAAAAAAAAAAAAAAAAAAA\"}],"
    "\"check\":\"Q0hFQ0tDSEVDS0NIRUNLQ0hFQ0tDSEVDS0NIRQ\"}";

/* Format 2: good plus a secp256k1 private-key entry of purpose evm. */
static const char good2[] =
    "{\"format\":2,\"id\":\"AAECAwQFBgcICQoLDA0ODw\",\"created\":\"2026-11-23T12:00:00Z\","
    "\"version\":3,\"context\":{},"
    "\"recipients\":[{\"type\":\"aes-kwp\",\"kid\":\"0a0b\",\"wrapped_dek\":"
    "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}],"
    "\"entries\":[{\"name\":\"API_KEY\",\"kind\":\"env\",\"nonce\":\"AAAAAAAAAAAAAAAA\",\"ct\":"
    "\"AQIDBAUGBwgJCgsMDQ4PEBES\"},"
    "{\"name\":\"wallet\",\"kind\":\"private-key\",\"alg\":\"secp256k1\",\"purpose\":\"evm\","
    "\"public_key\":\"AQID\",\"wrapped\":\"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcH\"}],"
    "\"check\":\"Q0hFQ0tDSEVDS0NIRUNLQ0hFQ0tDSEVDS0NIRQ\"}";

static pv_err
parse_str(const char *s, struct pv_bundle **b)
{
	return pv_bundle_parse((const uint8_t *)s, strlen(s), b);
}

/* Replace the first occurrence of from by to in doc. */
static char *
mutate_doc(const char *doc, const char *from, const char *to)
{
	const char *at = strstr(doc, from);
	char *s;

	assert_non_null(at);
	size_t len = strlen(doc) + strlen(to) + 1;

	s = malloc(len);
	assert_non_null(s);
	snprintf(s, len, "%.*s%s%s", (int)(at - doc), doc, to, at + strlen(from));
	return s;
}

static void
expect_bad_doc(const char *doc, const char *from, const char *to, const char *detail_part)
{
	struct pv_bundle *b = NULL;
	char *s = mutate_doc(doc, from, to);

	assert_int_equal(parse_str(s, &b), PV_ERR_INTEGRITY);
	assert_null(b);
	if (strstr(pv_err_detail(), detail_part) == NULL)
		fail_msg("detail \"%s\" lacks \"%s\"", pv_err_detail(), detail_part);
	free(s);
}

static void
expect_bad(const char *from, const char *to, const char *detail_part)
{
	expect_bad_doc(good, from, to, detail_part);
}

static void
test_parse_good(void **state)
{
	struct pv_bundle *b = NULL;

	(void)state;
	assert_int_equal(parse_str(good, &b), PV_OK);
	assert_int_equal(b->version, 7);
	assert_int_equal(b->nctx, 2);
	assert_string_equal(b->ctx[0].name, "env"); /* sorted */
	assert_int_equal(b->nrcpt, 1);
	assert_int_equal(b->rcpt[0].type, PV_RCPT_AES_KWP);
	assert_int_equal(b->rcpt[0].wrapped_len, 40);
	assert_int_equal(b->nentries, 2);
	assert_int_equal(b->entries[0].kind, PV_ENTRY_ENV);
	assert_int_equal(b->entries[0].data_len, 18);
	assert_string_equal(b->not_after, "2030-01-01T00:00:00Z");
	assert_non_null(pv_bundle_find(b, "tls.key"));
	assert_null(pv_bundle_find(b, "nope"));
	pv_bundle_free(b);
}

static void
test_parse_bad(void **state)
{
	(void)state;
	expect_bad("\"format\":1", "\"format\":3", "unknown format version");
	expect_bad("\"format\":1", "\"format\":2", "no entry has a purpose");
	expect_bad("\"format\":1", "\"format\":\"1\"", "format");
	expect_bad("\"version\":7", "\"version\":0", "version");
	expect_bad("\"version\":7", "\"version\":7.5", "version");
	expect_bad("\"version\":7", "\"version\":7,\"version\":8", "appears twice");
	expect_bad("\"version\":7", "\"version\":7,\"extra\":1", "unknown member");
	expect_bad("\"created\":\"2026-11-23T12:00:00Z\"", "\"created\":\"2026-11-23 12:00:00\"", "created");
	expect_bad("\"created\":\"2026-11-23T12:00:00Z\"", "\"created\":\"2026-02-30T12:00:00Z\"", "created");
	expect_bad("AAECAwQFBgcICQoLDA0ODw", "AAECAwQFBgcICQoLDA0O", "id");
	expect_bad("AAECAwQFBgcICQoLDA0ODw", "AAECAwQFBgcICQoLDA0OD=", "id");
	expect_bad("\"env\":\"prod\"", "\"env\":\"prod\",\"env\":\"dev\"", "appears twice");
	expect_bad("\"env\":\"prod\"", "\"env\":3", "context.env");
	expect_bad("\"aes-kwp\"", "\"aes-gcm\"", "recipients[0].type");
	expect_bad("\"kid\":\"0a0b\",", "", "recipients[0].kid");
	expect_bad("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "AAAA", "wrapped_dek");
	expect_bad("\"name\":\"API_KEY\"", "\"name\":\"API-KEY\"", "entries[0].name");
	expect_bad("\"name\":\"tls.key\"", "\"name\":\"API_KEY\"", "duplicate name");
	expect_bad("\"name\":\"API_KEY\"", "\"name\":\"zzz\"", "not sorted");
	expect_bad("\"kind\":\"env\"", "\"kind\":\"secret\"", "entries[0].kind");
	expect_bad("\"nonce\":\"AAAAAAAAAAAAAAAA\"", "\"nonce\":\"AAAAAAAAAAAA\"", "entries[0].nonce");
	expect_bad("\"ct\":\"AQIDBAUGBwgJCgsMDQ4PEBES\"", "\"ct\":\"AQID\"", "entries[0].ct");
	expect_bad("\"ct\":\"AQIDBAUGBwgJCgsMDQ4PEBES\"",
		   "\"ct\":\"AQIDBAUGBwgJCgsMDQ4PEBES\",\"alg\":\"p256\"", "private-key");
	expect_bad("\"name\":\"API_KEY\"", "\"name\":\"API\\u0000KEY\"", "NUL");
	expect_bad("\"recipients\":[{", "\"recipients\":[],\"x\":[{", "unknown member");
	expect_bad("Q0hFQ0tDSEVDS0NIRUNLQ0hFQ0tDSEVDS0NIRQ\"}", "Q0hFQ0tD\"}", "check");
	expect_bad("Q0hFQ0tDSEVDS0NIRUNLQ0hFQ0tDSEVDS0NIRQ\"}", "Q0hFQ0tDSEVDS0NIRUNLQ0hFQ0tDSEVDS0NIRQ\"}x",
		   "after the JSON");
}

/*
 * Format 2: a purpose on a private-key entry, only in format 2 (which
 * authenticates it), only one a private key of its algorithm can have, and
 * format 2 only when an entry has one.
 */
static void
test_format2(void **state)
{
	struct pv_bundle *b = NULL, *c = NULL;
	char *t = NULL;
	size_t l;

	(void)state;
	assert_int_equal(parse_str(good2, &b), PV_OK);
	assert_int_equal(pv_bundle_format(b), 2);
	assert_int_equal(b->entries[1].kind, PV_ENTRY_PRIVATE_KEY);
	assert_int_equal(b->entries[1].alg, PV_ALG_SECP256K1);
	assert_int_equal(b->entries[1].purpose, PV_PURPOSE_EVM);
	assert_int_equal(b->entries[0].purpose, PV_PURPOSE_NONE);
	/* written back: format 2, the purpose after alg, the same bytes again */
	assert_int_equal(pv_bundle_serialize(b, &t, &l), PV_OK);
	assert_non_null(strstr(t, "\"format\": 2,"));
	assert_non_null(strstr(t, "\"alg\":\"secp256k1\",\"purpose\":\"evm\",\"public_key\""));
	assert_int_equal(pv_bundle_parse((const uint8_t *)t, l, &c), PV_OK);
	assert_int_equal(c->entries[1].purpose, PV_PURPOSE_EVM);
	free(t);
	pv_bundle_free(c);
	/* without the purpose it is a format-1 document again */
	b->entries[1].purpose = PV_PURPOSE_NONE;
	assert_int_equal(pv_bundle_format(b), 1);
	assert_int_equal(pv_bundle_serialize(b, &t, &l), PV_OK);
	assert_non_null(strstr(t, "\"format\": 1,"));
	assert_null(strstr(t, "purpose"));
	free(t);
	pv_bundle_free(b);

	expect_bad_doc(good2, "\"purpose\":\"evm\"", "\"purpose\":\"solana\"", "entries[1].purpose");
	expect_bad_doc(good2, "\"purpose\":\"evm\"", "\"purpose\":\"wrap\"", "entries[1].purpose");
	expect_bad_doc(good2, "\"purpose\":\"evm\"", "\"purpose\":\"none\"", "entries[1].purpose");
	expect_bad_doc(good2, "\"purpose\":\"evm\"", "\"purpose\":7", "entries[1].purpose");
	expect_bad_doc(good2, "\"purpose\":\"evm\"", "\"purpose\":\"evm\",\"purpose\":\"evm\"",
		       "appears twice");
	/* format 2 without a purpose, format 1 with one */
	expect_bad_doc(good2, "\"purpose\":\"evm\",", "", "no entry has a purpose");
	expect_bad_doc(good2, "\"format\":2", "\"format\":1", "format 1 has no purpose");
	/* a purpose belongs to private-key entries only */
	expect_bad_doc(good2, "\"nonce\":\"AAAAAAAAAAAAAAAA\"",
		       "\"purpose\":\"sign\",\"nonce\":\"AAAAAAAAAAAAAAAA\"",
		       "belong to private-key entries");
}

/* Giving a format-1 entry its purpose: once, fitting, private keys only. */
static void
test_set_entry_purpose(void **state)
{
	struct pv_bundle *b = NULL;
	char *legacy = mutate_doc(good2, "\"purpose\":\"evm\",", "");
	char *one = mutate_doc(legacy, "\"format\":2", "\"format\":1");
	int changed = -1;

	(void)state;
	assert_int_equal(parse_str(one, &b), PV_OK);
	assert_int_equal(pv_bundle_format(b), 1);
	assert_int_equal(b->entries[1].purpose, PV_PURPOSE_NONE);
	assert_int_equal(pv_bundle_set_entry_purpose(b, "nope", PV_PURPOSE_EVM, &changed), PV_ERR_NOT_FOUND);
	assert_int_equal(pv_bundle_set_entry_purpose(b, "API_KEY", PV_PURPOSE_SIGN, &changed),
			 PV_ERR_KEY_TYPE);
	assert_int_equal(pv_bundle_set_entry_purpose(b, "wallet", PV_PURPOSE_SOLANA, &changed), PV_ERR_USAGE);
	assert_non_null(strstr(pv_err_detail(), "jwt, sign, evm"));
	assert_int_equal(pv_bundle_set_entry_purpose(b, "wallet", PV_PURPOSE_DERIVE, &changed), PV_ERR_USAGE);
	assert_int_equal(changed, 0);
	assert_int_equal(pv_bundle_format(b), 1);
	assert_int_equal(pv_bundle_set_entry_purpose(b, "wallet", PV_PURPOSE_EVM, &changed), PV_OK);
	assert_int_equal(changed, 1);
	assert_int_equal(pv_bundle_format(b), 2);
	assert_int_equal(pv_bundle_set_entry_purpose(b, "wallet", PV_PURPOSE_EVM, &changed), PV_OK);
	assert_int_equal(changed, 0);
	assert_int_equal(pv_bundle_set_entry_purpose(b, "wallet", PV_PURPOSE_SIGN, &changed), PV_ERR_STATE);
	assert_int_equal(b->entries[1].purpose, PV_PURPOSE_EVM);
	/* the bundle-key refusal names the bundle fix */
	assert_int_equal(pv_entry_check_purpose("wallet", PV_PURPOSE_NONE, PV_PURPOSE_EVM), PV_ERR_PURPOSE);
	assert_non_null(strstr(pv_err_detail(), "vaultctl bundle set-purpose BUNDLE wallet"));
	assert_int_equal(pv_entry_check_purpose("wallet", PV_PURPOSE_EVM, PV_PURPOSE_SIGN), PV_ERR_PURPOSE);
	assert_int_equal(pv_entry_check_purpose("wallet", PV_PURPOSE_EVM, PV_PURPOSE_EVM), PV_OK);
	pv_bundle_free(b);
	free(legacy);
	free(one);
}

static void
test_parse_not_json(void **state)
{
	struct pv_bundle *b = NULL;
	char *big;

	(void)state;
	assert_int_equal(parse_str("", &b), PV_ERR_INTEGRITY);
	assert_int_equal(parse_str("hello", &b), PV_ERR_INTEGRITY);
	assert_int_equal(parse_str("[1,2]", &b), PV_ERR_INTEGRITY);
	assert_int_equal(parse_str("{\"format\":1", &b), PV_ERR_INTEGRITY);
	/* truncated anywhere: never accepted */
	for (size_t n = 0; n < strlen(good); n += 7) {
		assert_int_equal(pv_bundle_parse((const uint8_t *)good, n, &b), PV_ERR_INTEGRITY);
		assert_null(b);
	}
	big = malloc(PV_BUNDLE_MAX + 2);
	assert_non_null(big);
	memset(big, ' ', PV_BUNDLE_MAX + 1);
	big[0] = '{';
	big[PV_BUNDLE_MAX] = '}';
	assert_int_equal(pv_bundle_parse((const uint8_t *)big, PV_BUNDLE_MAX + 1, &b), PV_ERR_INTEGRITY);
	assert_non_null(strstr(pv_err_detail(), "limit"));
	free(big);
}

static void
test_roundtrip(void **state)
{
	struct pv_bundle *b = NULL, *c = NULL;
	char *t1 = NULL, *t2 = NULL;
	size_t l1, l2;
	uint8_t h1[32], h2[32];

	(void)state;
	assert_int_equal(parse_str(good, &b), PV_OK);
	assert_int_equal(pv_bundle_serialize(b, &t1, &l1), PV_OK);
	assert_int_equal(pv_bundle_parse((const uint8_t *)t1, l1, &c), PV_OK);
	assert_int_equal(pv_bundle_serialize(c, &t2, &l2), PV_OK);
	assert_int_equal(l1, l2);
	assert_memory_equal(t1, t2, l1);
	/* one entry per line, so review diffs are line-sized */
	assert_non_null(strstr(t1, "\n    {\"name\":\"API_KEY\""));
	assert_int_equal(pv_bundle_check_digest(b, h1), PV_OK);
	assert_int_equal(pv_bundle_check_digest(c, h2), PV_OK);
	assert_memory_equal(h1, h2, 32);
	free(t1);
	free(t2);
	pv_bundle_free(b);
	pv_bundle_free(c);
}

/* Independent construction of the §5/§6 bytes, straight from the spec. */
static size_t
lp(uint8_t *p, const void *s, size_t n)
{
	p[0] = (uint8_t)(n >> 24);
	p[1] = (uint8_t)(n >> 16);
	p[2] = (uint8_t)(n >> 8);
	p[3] = (uint8_t)n;
	memcpy(p + 4, s, n);
	return 4 + n;
}

static size_t
spec_ctx(uint8_t *p)
{
	size_t o = 0;

	memcpy(p, "\0\0\0\2", 4);
	o = 4;
	o += lp(p + o, "env", 3);
	o += lp(p + o, "prod", 4);
	o += lp(p + o, "svc", 3);
	o += lp(p + o, "api", 3);
	return o;
}

static void
test_aad_bytes(void **state)
{
	struct pv_bundle *b = NULL;
	pv_buf *aad = NULL;
	uint8_t want[256];
	size_t o = 0, i;

	(void)state;
	assert_int_equal(parse_str(good, &b), PV_OK);
	memcpy(want, "p11vault-bundle-v1 entry", 25); /* with the NUL */
	o = 25;
	for (i = 0; i < 16; i++)
		want[o++] = (uint8_t)i;
	o += spec_ctx(want + o);
	o += lp(want + o, "env", 3);
	o += lp(want + o, "API_KEY", 7);
	assert_int_equal(pv_bundle_entry_aad(b, &b->entries[0], &aad), PV_OK);
	assert_int_equal(pv_buf_len(aad), o);
	assert_memory_equal(pv_buf_ptr(aad), want, o);
	pv_buf_free(aad);
	pv_bundle_free(b);
}

static void
test_check_bytes(void **state)
{
	struct pv_bundle *b = NULL;
	uint8_t want[1024], h[32], got[32], inner[32];
	size_t o = 0, i;
	const struct pv_bundle_entry *e;

	(void)state;
	assert_int_equal(parse_str(good, &b), PV_OK);
	memcpy(want, "p11vault-bundle-v1 check", 25);
	o = 25;
	memcpy(want + o, "\0\0\0\1", 4);
	o += 4;
	for (i = 0; i < 16; i++)
		want[o++] = (uint8_t)i;
	o += lp(want + o, "2026-11-23T12:00:00Z", 20);
	want[o++] = 1;
	o += lp(want + o, "2030-01-01T00:00:00Z", 20);
	memcpy(want + o, "\0\0\0\0\0\0\0\7", 8);
	o += 8;
	o += spec_ctx(want + o);
	memcpy(want + o, "\0\0\0\1", 4);
	o += 4;
	o += lp(want + o, "aes-kwp", 7);
	o += lp(want + o, "0a0b", 4);
	want[o++] = 1;
	o += lp(want + o, "kek.v1", 6);
	o += lp(want + o, b->rcpt[0].wrapped_dek, 40);
	memcpy(want + o, "\0\0\0\2", 4);
	o += 4;
	for (i = 0; i < 2; i++) {
		e = &b->entries[i];
		o += lp(want + o, e->name, strlen(e->name));
		o += lp(want + o, i == 0 ? "env" : "file", i == 0 ? 3 : 4);
		want[o++] = 0; /* no alg */
		want[o++] = 0; /* no public_key */
		want[o++] = 1;
		o += lp(want + o, e->nonce, 12);
		assert_int_equal(EVP_Digest(e->data, e->data_len, inner, NULL, EVP_sha256(), NULL), 1);
		memcpy(want + o, inner, 32);
		o += 32;
	}
	assert_int_equal(EVP_Digest(want, o, h, NULL, EVP_sha256(), NULL), 1);
	assert_int_equal(pv_bundle_check_digest(b, got), PV_OK);
	assert_memory_equal(got, h, 32);
	/* and every authenticated field moves it */
	b->version++;
	assert_int_equal(pv_bundle_check_digest(b, got), PV_OK);
	assert_memory_not_equal(got, h, 32);
	pv_bundle_free(b);
}

/* §6 for format 2: u32(2), and opt(purpose) after opt(alg) in every entry
 * line; the purpose is authenticated (changing or dropping it moves H). */
static void
test_check_bytes_format2(void **state)
{
	struct pv_bundle *b = NULL;
	uint8_t want[1024], h[32], got[32], inner[32];
	size_t o = 0, i;
	const struct pv_bundle_entry *e;

	(void)state;
	assert_int_equal(parse_str(good2, &b), PV_OK);
	memcpy(want, "p11vault-bundle-v1 check", 25);
	o = 25;
	memcpy(want + o, "\0\0\0\2", 4);
	o += 4;
	for (i = 0; i < 16; i++)
		want[o++] = (uint8_t)i;
	o += lp(want + o, "2026-11-23T12:00:00Z", 20);
	want[o++] = 0; /* no not_after */
	memcpy(want + o, "\0\0\0\0\0\0\0\3", 8);
	o += 8;
	memcpy(want + o, "\0\0\0\0", 4); /* empty context */
	o += 4;
	memcpy(want + o, "\0\0\0\1", 4);
	o += 4;
	o += lp(want + o, "aes-kwp", 7);
	o += lp(want + o, "0a0b", 4);
	want[o++] = 0; /* no label */
	o += lp(want + o, b->rcpt[0].wrapped_dek, 40);
	memcpy(want + o, "\0\0\0\2", 4);
	o += 4;
	e = &b->entries[0];
	o += lp(want + o, "API_KEY", 7);
	o += lp(want + o, "env", 3);
	want[o++] = 0; /* no alg */
	want[o++] = 0; /* no purpose */
	want[o++] = 0; /* no public_key */
	want[o++] = 1;
	o += lp(want + o, e->nonce, 12);
	assert_int_equal(EVP_Digest(e->data, e->data_len, inner, NULL, EVP_sha256(), NULL), 1);
	memcpy(want + o, inner, 32);
	o += 32;
	e = &b->entries[1];
	o += lp(want + o, "wallet", 6);
	o += lp(want + o, "private-key", 11);
	want[o++] = 1;
	o += lp(want + o, "secp256k1", 9);
	want[o++] = 1;
	o += lp(want + o, "evm", 3);
	want[o++] = 1;
	o += lp(want + o, "\1\2\3", 3);
	want[o++] = 0; /* no nonce */
	assert_int_equal(EVP_Digest(e->data, e->data_len, inner, NULL, EVP_sha256(), NULL), 1);
	memcpy(want + o, inner, 32);
	o += 32;
	assert_int_equal(EVP_Digest(want, o, h, NULL, EVP_sha256(), NULL), 1);
	assert_int_equal(pv_bundle_check_digest(b, got), PV_OK);
	assert_memory_equal(got, h, 32);
	/* another purpose, or none (a format-1 document), is another H */
	b->entries[1].purpose = PV_PURPOSE_SIGN;
	assert_int_equal(pv_bundle_check_digest(b, got), PV_OK);
	assert_memory_not_equal(got, h, 32);
	b->entries[1].purpose = PV_PURPOSE_NONE;
	assert_int_equal(pv_bundle_check_digest(b, got), PV_OK);
	assert_memory_not_equal(got, h, 32);
	pv_bundle_free(b);
}

static void
test_model_edits(void **state)
{
	struct pv_bundle *b = NULL;
	struct pv_bundle_entry e = {0};
	char *t = NULL;
	size_t l;

	(void)state;
	assert_int_equal(pv_bundle_new(&b), PV_OK);
	assert_int_equal(pv_bundle_set_context(b, "env", "prod"), PV_OK);
	assert_int_equal(pv_bundle_set_context(b, "app", "x"), PV_OK);
	assert_int_equal(pv_bundle_set_context(b, "env", "dev"), PV_OK);
	assert_string_equal(pv_bundle_get_context(b, "env"), "dev");
	assert_string_equal(b->ctx[0].name, "app");
	assert_int_equal(pv_bundle_set_context(b, "bad name", "x"), PV_ERR_BAD_INPUT);
	assert_int_equal(pv_bundle_set_context(b, "k", "line\nbreak"), PV_ERR_BAD_INPUT);
	snprintf(e.name, sizeof(e.name), "B");
	e.kind = PV_ENTRY_ENV;
	assert_int_equal(pv_bundle_insert(b, &e), PV_OK);
	snprintf(e.name, sizeof(e.name), "A");
	e.kind = PV_ENTRY_ENV;
	assert_int_equal(pv_bundle_insert(b, &e), PV_OK);
	snprintf(e.name, sizeof(e.name), "A");
	assert_int_equal(pv_bundle_insert(b, &e), PV_ERR_EXISTS);
	assert_string_equal(b->entries[0].name, "A");
	assert_int_equal(pv_bundle_remove(b, "A"), PV_OK);
	assert_int_equal(pv_bundle_remove(b, "A"), PV_ERR_NOT_FOUND);
	assert_int_equal(b->nentries, 1);
	/* no recipients yet: it writes, but does not parse back */
	assert_int_equal(pv_bundle_serialize(b, &t, &l), PV_OK);
	free(t);
	pv_bundle_free(b);
}

static void
test_time(void **state)
{
	time_t t;
	char buf[PV_BUNDLE_TIME_LEN + 1];

	(void)state;
	assert_int_equal(pv_time_parse("1970-01-01T00:00:00Z", &t), PV_OK);
	assert_int_equal(t, 0);
	assert_int_equal(pv_time_parse("2024-02-29T23:59:59Z", &t), PV_OK);
	pv_time_format(t, buf);
	assert_string_equal(buf, "2024-02-29T23:59:59Z");
	assert_int_equal(pv_time_parse("2023-02-29T00:00:00Z", &t), PV_ERR_BAD_INPUT);
	assert_int_equal(pv_time_parse("2024-01-01T00:00:00+00:00", &t), PV_ERR_BAD_INPUT);
	assert_int_equal(pv_time_parse("2024-01-01T24:00:00Z", &t), PV_ERR_BAD_INPUT);
	assert_int_equal(pv_time_parse("2024-1-01T00:00:00Z", &t), PV_ERR_BAD_INPUT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_good),
	    cmocka_unit_test(test_parse_bad),
	    cmocka_unit_test(test_parse_not_json),
	    cmocka_unit_test(test_roundtrip),
	    cmocka_unit_test(test_aad_bytes),
	    cmocka_unit_test(test_check_bytes),
	    cmocka_unit_test(test_model_edits),
	    cmocka_unit_test(test_time),
	    cmocka_unit_test(test_format2),
	    cmocka_unit_test(test_set_entry_purpose),
	    cmocka_unit_test(test_check_bytes_format2),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
