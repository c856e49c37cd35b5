/* Unit tests for key metadata: names, states, JSON round trip, and the
 * parser's refusal of malformed or hostile metadata. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/keymeta.h"

static void
test_names(void **state)
{
	(void)state;
	assert_true(pv_key_name_valid("jwt-issuer"));
	assert_true(pv_key_name_valid("treasury_2"));
	assert_true(pv_key_name_valid("A"));
	assert_false(pv_key_name_valid(""));
	assert_false(pv_key_name_valid("-lead"));
	assert_false(pv_key_name_valid("has.dot"));
	assert_false(pv_key_name_valid("has/slash"));
	assert_false(pv_key_name_valid("sp ace"));
	assert_false(pv_key_name_valid("\xc3\xa9t\xc3\xa9"));
	assert_true(pv_key_name_valid("a234567890123456789012345678901234567890123456789012345678901234"));
	assert_false(pv_key_name_valid("a2345678901234567890123456789012345678901234567890123456789012345"));
}

static void
test_round_trip(void **state)
{
	struct pv_key k, *back = NULL;
	struct pv_key_version *v = NULL;
	uint8_t id1[16], id2[4] = {1, 2, 3, 4};
	char *json = NULL;

	(void)state;
	memset(&k, 0, sizeof(k));
	memset(id1, 0xab, sizeof(id1));
	snprintf(k.name, sizeof(k.name), "%s", "treasury");
	k.alg = PV_ALG_SECP256K1;
	k.serial = 7;
	assert_int_equal(pv_key_add_version(&k, PV_STATE_VERIFY_ONLY, id1, sizeof(id1), 0, &v), PV_OK);
	assert_int_equal(v->version, 1);
	assert_int_equal(pv_key_add_version(&k, PV_STATE_ACTIVE, id2, sizeof(id2), 1, &v), PV_OK);
	assert_int_equal(v->version, 2);
	assert_int_equal(pv_keymeta_serialize(&k, &json), PV_OK);
	assert_non_null(strstr(json, "\"state\":\"verify-only\""));
	assert_int_equal(pv_keymeta_parse((const uint8_t *)json, strlen(json), &back), PV_OK);
	assert_string_equal(back->name, "treasury");
	assert_int_equal(back->alg, PV_ALG_SECP256K1);
	assert_int_equal(back->serial, 7);
	assert_int_equal(back->nversions, 2);
	assert_int_equal(back->versions[1].id_len, 4);
	assert_memory_equal(back->versions[1].id, id2, 4);
	assert_true(back->versions[1].adopted);
	assert_int_equal(back->versions[0].created, k.versions[0].created);
	assert_ptr_equal(pv_key_active(back), &back->versions[1]);
	assert_null(pv_key_find_version(back, 3));
	free(json);
	free(k.versions);
	pv_key_free(back);
}

/* Metadata of a signing key is byte-identical to what was written before
 * usages existed: the default usage is not serialized. */
static void
test_default_usage_omitted(void **state)
{
	const char *doc = "{\"format\":1,\"name\":\"jwt\",\"alg\":\"rsa2048\",\"serial\":3,\"versions\":[{"
			  "\"version\":1,\"state\":\"active\",\"id\":\"0a0b\",\"created\":\"2026-01-01T00:"
			  "00:00Z\",\"origin\":\"generated\"}]}";
	struct pv_key *k = NULL;
	char *json = NULL;

	(void)state;
	assert_int_equal(pv_keymeta_parse((const uint8_t *)doc, strlen(doc), &k), PV_OK);
	assert_int_equal(k->usage, PV_USAGE_SIGN);
	assert_int_equal(pv_keymeta_serialize(k, &json), PV_OK);
	assert_string_equal(json, doc);
	free(json);
	pv_key_free(k);
}

static void
test_decrypt_usage_round_trip(void **state)
{
	const char *doc = "{\"format\":1,\"name\":\"recipient\",\"alg\":\"rsa3072\",\"usage\":\"decrypt\","
			  "\"serial\":1,\"versions\":[{\"version\":1,\"state\":\"active\",\"id\":\"00ff\","
			  "\"created\":\"2026-01-01T00:00:00Z\",\"origin\":\"generated\"}]}";
	struct pv_key *k = NULL, *back = NULL;
	char *json = NULL;

	(void)state;
	assert_int_equal(pv_keymeta_parse((const uint8_t *)doc, strlen(doc), &k), PV_OK);
	assert_int_equal(k->usage, PV_USAGE_DECRYPT);
	assert_int_equal(pv_keymeta_serialize(k, &json), PV_OK);
	assert_string_equal(json, doc);
	assert_int_equal(pv_keymeta_parse((const uint8_t *)json, strlen(json), &back), PV_OK);
	assert_int_equal(back->usage, PV_USAGE_DECRYPT);
	/* a copy keeps it (rotation works on copies) */
	pv_key_free(k);
	assert_int_equal(pv_key_dup(back, &k), PV_OK);
	assert_int_equal(k->usage, PV_USAGE_DECRYPT);
	free(json);
	pv_key_free(k);
	pv_key_free(back);
}

static void
test_usage_names(void **state)
{
	pv_key_usage u = PV_USAGE_DECRYPT;

	(void)state;
	assert_int_equal(pv_key_usage_from_name("sign", &u), PV_OK);
	assert_int_equal(u, PV_USAGE_SIGN);
	assert_int_equal(pv_key_usage_from_name("decrypt", &u), PV_OK);
	assert_int_equal(u, PV_USAGE_DECRYPT);
	assert_int_equal(pv_key_usage_from_name("Decrypt", &u), PV_ERR_BAD_INPUT);
	assert_int_equal(pv_key_usage_from_name("encrypt", &u), PV_ERR_BAD_INPUT);
	assert_int_equal(pv_key_usage_from_name("", &u), PV_ERR_BAD_INPUT);
	assert_string_equal(pv_key_usage_name(PV_USAGE_SIGN), "sign");
	assert_string_equal(pv_key_usage_name(PV_USAGE_DECRYPT), "decrypt");
	/* decrypt is for RSA only */
	assert_true(pv_key_usage_valid(PV_ALG_RSA2048, PV_USAGE_DECRYPT));
	assert_true(pv_key_usage_valid(PV_ALG_RSA4096, PV_USAGE_DECRYPT));
	assert_false(pv_key_usage_valid(PV_ALG_P256, PV_USAGE_DECRYPT));
	assert_false(pv_key_usage_valid(PV_ALG_ED25519, PV_USAGE_DECRYPT));
	assert_false(pv_key_usage_valid(PV_ALG_AES256, PV_USAGE_DECRYPT));
	assert_false(pv_key_usage_valid(PV_ALG_HMAC_SHA256, PV_USAGE_DECRYPT));
	assert_true(pv_key_usage_valid(PV_ALG_SECP256K1, PV_USAGE_SIGN));
	assert_false(pv_key_usage_valid(PV_ALG_NONE, PV_USAGE_SIGN));
	assert_string_equal(pv_key_usage_label(PV_ALG_AES256, PV_USAGE_SIGN), "wrap");
	assert_string_equal(pv_key_usage_label(PV_ALG_RSA2048, PV_USAGE_DECRYPT), "decrypt");
	assert_string_equal(pv_key_usage_label(PV_ALG_P256, PV_USAGE_SIGN), "sign");
}

static const char *const bad_docs[] = {
    "",
    "[]",
    "{}",
    "not json",
    /* a member this format does not have, a member twice, a serial past 2^53-1, not UTF-8 */
    "{\"format\":1,\"name\":\"a\",\"alg\":\"p256\",\"owner\":\"x\",\"serial\":1,\"versions\":[{\"version\":1,"
    "\"state\":\"active\",\"id\":\"00\",\"created\":\"2026-01-01T00:00:00Z\",\"origin\":\"generated\"}]}",
    "{\"format\":1,\"name\":\"a\",\"alg\":\"p256\",\"serial\":1,\"versions\":[{\"version\":1,\"state\":"
    "\"active\",\"state\":\"next\",\"id\":\"00\",\"created\":\"2026-01-01T00:00:00Z\",\"origin\":\"generated\"}]}",
    "{\"format\":1,\"name\":\"a\",\"alg\":\"p256\",\"serial\":9007199254740992,\"versions\":[{\"version\":1,"
    "\"state\":\"active\",\"id\":\"00\",\"created\":\"2026-01-01T00:00:00Z\",\"origin\":\"generated\"}]}",
    "{\"format\":1,\"name\":\"a\",\"alg\":\"p256\",\"serial\":1,\"versions\":[{\"version\":1,\"state\":"
    "\"active\",\"id\":\"00\",\"created\":\"2026-01-01T00:00:00Z\",\"origin\":\"gener\xc0\xaf"
    "ated\"}]}",
    /* a creation time before 1970 (it would not be written back as it was read) */
    "{\"format\":1,\"name\":\"a\",\"alg\":\"p256\",\"serial\":1,\"versions\":[{\"version\":1,\"state\":"
    "\"active\",\"id\":\"00\",\"created\":\"0262-11-23T10:00:00Z\",\"origin\":\"generated\"}]}",
    /* wrong format version */
    "{\"format\":2,\"name\":\"a\",\"alg\":\"p256\",\"serial\":1,\"versions\":[{\"version\":1,\"state\":"
    "\"active\",\"id\":\"00\",\"created\":\"2026-01-01T00:00:00Z\",\"origin\":\"generated\"}]}",
    /* invalid name */
    "{\"format\":1,\"name\":\"a.b\",\"alg\":\"p256\",\"serial\":1,\"versions\":[{\"version\":1,\"state\":"
    "\"active\",\"id\":\"00\",\"created\":\"2026-01-01T00:00:00Z\",\"origin\":\"generated\"}]}",
    /* unknown algorithm */
    "{\"format\":1,\"name\":\"a\",\"alg\":\"dsa\",\"serial\":1,\"versions\":[{\"version\":1,\"state\":"
    "\"active\",\"id\":\"00\",\"created\":\"2026-01-01T00:00:00Z\",\"origin\":\"generated\"}]}",
    /* two active versions */
    "{\"format\":1,\"name\":\"a\",\"alg\":\"p256\",\"serial\":1,\"versions\":[{\"version\":1,\"state\":"
    "\"active\",\"id\":\"00\",\"created\":\"2026-01-01T00:00:00Z\",\"origin\":\"generated\"},{\"version\":2,"
    "\"state\":\"active\",\"id\":\"01\",\"created\":\"2026-01-01T00:00:00Z\",\"origin\":\"generated\"}]}",
    /* versions not ascending */
    "{\"format\":1,\"name\":\"a\",\"alg\":\"p256\",\"serial\":1,\"versions\":[{\"version\":2,\"state\":"
    "\"active\",\"id\":\"00\",\"created\":\"2026-01-01T00:00:00Z\",\"origin\":\"generated\"},{\"version\":2,"
    "\"state\":\"next\",\"id\":\"01\",\"created\":\"2026-01-01T00:00:00Z\",\"origin\":\"generated\"}]}",
    /* odd-length hex id */
    "{\"format\":1,\"name\":\"a\",\"alg\":\"p256\",\"serial\":1,\"versions\":[{\"version\":1,\"state\":"
    "\"active\",\"id\":\"abc\",\"created\":\"2026-01-01T00:00:00Z\",\"origin\":\"generated\"}]}",
    /* negative / fractional numbers */
    "{\"format\":1,\"name\":\"a\",\"alg\":\"p256\",\"serial\":-1,\"versions\":[{\"version\":1,\"state\":"
    "\"active\",\"id\":\"00\",\"created\":\"2026-01-01T00:00:00Z\",\"origin\":\"generated\"}]}",
    "{\"format\":1,\"name\":\"a\",\"alg\":\"p256\",\"serial\":1,\"versions\":[{\"version\":1.5,\"state\":"
    "\"active\",\"id\":\"00\",\"created\":\"2026-01-01T00:00:00Z\",\"origin\":\"generated\"}]}",
    /* unknown state, bad time, bad origin, empty versions */
    "{\"format\":1,\"name\":\"a\",\"alg\":\"p256\",\"serial\":1,\"versions\":[{\"version\":1,\"state\":"
    "\"dormant\",\"id\":\"00\",\"created\":\"2026-01-01T00:00:00Z\",\"origin\":\"generated\"}]}",
    "{\"format\":1,\"name\":\"a\",\"alg\":\"p256\",\"serial\":1,\"versions\":[{\"version\":1,\"state\":"
    "\"active\",\"id\":\"00\",\"created\":\"yesterday\",\"origin\":\"generated\"}]}",
    "{\"format\":1,\"name\":\"a\",\"alg\":\"p256\",\"serial\":1,\"versions\":[{\"version\":1,\"state\":"
    "\"active\",\"id\":\"00\",\"created\":\"2026-01-01T00:00:00Z\",\"origin\":\"magic\"}]}",
    "{\"format\":1,\"name\":\"a\",\"alg\":\"p256\",\"serial\":1,\"versions\":[]}",
    /* unknown usage, usage of the wrong type, decrypt on a non-RSA key */
    "{\"format\":1,\"name\":\"a\",\"alg\":\"rsa2048\",\"usage\":\"encrypt\",\"serial\":1,\"versions\":[{"
    "\"version\":1,\"state\":\"active\",\"id\":\"00\",\"created\":\"2026-01-01T00:00:00Z\",\"origin\":"
    "\"generated\"}]}",
    "{\"format\":1,\"name\":\"a\",\"alg\":\"rsa2048\",\"usage\":\"\",\"serial\":1,\"versions\":[{"
    "\"version\":1,\"state\":\"active\",\"id\":\"00\",\"created\":\"2026-01-01T00:00:00Z\",\"origin\":"
    "\"generated\"}]}",
    "{\"format\":1,\"name\":\"a\",\"alg\":\"rsa2048\",\"usage\":1,\"serial\":1,\"versions\":[{"
    "\"version\":1,\"state\":\"active\",\"id\":\"00\",\"created\":\"2026-01-01T00:00:00Z\",\"origin\":"
    "\"generated\"}]}",
    "{\"format\":1,\"name\":\"a\",\"alg\":\"rsa2048\",\"usage\":null,\"serial\":1,\"versions\":[{"
    "\"version\":1,\"state\":\"active\",\"id\":\"00\",\"created\":\"2026-01-01T00:00:00Z\",\"origin\":"
    "\"generated\"}]}",
    "{\"format\":1,\"name\":\"a\",\"alg\":\"p256\",\"usage\":\"decrypt\",\"serial\":1,\"versions\":[{"
    "\"version\":1,\"state\":\"active\",\"id\":\"00\",\"created\":\"2026-01-01T00:00:00Z\",\"origin\":"
    "\"generated\"}]}",
    "{\"format\":1,\"name\":\"a\",\"alg\":\"aes256\",\"usage\":\"decrypt\",\"serial\":1,\"versions\":[{"
    "\"version\":1,\"state\":\"active\",\"id\":\"00\",\"created\":\"2026-01-01T00:00:00Z\",\"origin\":"
    "\"generated\"}]}", /* unknown purpose, "none" written out, wrong type, a purpose the
     * algorithm cannot have, a purpose that disagrees with the usage */
    "{\"format\":1,\"name\":\"a\",\"alg\":\"p256\",\"purpose\":\"sgin\",\"serial\":1,\"versions\":[{"
    "\"version\":1,\"state\":\"active\",\"id\":\"00\",\"created\":\"2026-01-01T00:00:00Z\",\"origin\":"
    "\"generated\"}]}",
    "{\"format\":1,\"name\":\"a\",\"alg\":\"p256\",\"purpose\":\"none\",\"serial\":1,\"versions\":[{"
    "\"version\":1,\"state\":\"active\",\"id\":\"00\",\"created\":\"2026-01-01T00:00:00Z\",\"origin\":"
    "\"generated\"}]}",
    "{\"format\":1,\"name\":\"a\",\"alg\":\"p256\",\"purpose\":\"\",\"serial\":1,\"versions\":[{"
    "\"version\":1,\"state\":\"active\",\"id\":\"00\",\"created\":\"2026-01-01T00:00:00Z\",\"origin\":"
    "\"generated\"}]}",
    "{\"format\":1,\"name\":\"a\",\"alg\":\"p256\",\"purpose\":3,\"serial\":1,\"versions\":[{"
    "\"version\":1,\"state\":\"active\",\"id\":\"00\",\"created\":\"2026-01-01T00:00:00Z\",\"origin\":"
    "\"generated\"}]}",
    "{\"format\":1,\"name\":\"a\",\"alg\":\"p256\",\"purpose\":null,\"serial\":1,\"versions\":[{"
    "\"version\":1,\"state\":\"active\",\"id\":\"00\",\"created\":\"2026-01-01T00:00:00Z\",\"origin\":"
    "\"generated\"}]}",
    "{\"format\":1,\"name\":\"a\",\"alg\":\"p256\",\"purpose\":\"solana\",\"serial\":1,\"versions\":[{"
    "\"version\":1,\"state\":\"active\",\"id\":\"00\",\"created\":\"2026-01-01T00:00:00Z\",\"origin\":"
    "\"generated\"}]}",
    "{\"format\":1,\"name\":\"a\",\"alg\":\"ed25519\",\"purpose\":\"evm\",\"serial\":1,\"versions\":[{"
    "\"version\":1,\"state\":\"active\",\"id\":\"00\",\"created\":\"2026-01-01T00:00:00Z\",\"origin\":"
    "\"generated\"}]}",
    "{\"format\":1,\"name\":\"a\",\"alg\":\"aes256\",\"purpose\":\"sign\",\"serial\":1,\"versions\":[{"
    "\"version\":1,\"state\":\"active\",\"id\":\"00\",\"created\":\"2026-01-01T00:00:00Z\",\"origin\":"
    "\"generated\"}]}",
    "{\"format\":1,\"name\":\"a\",\"alg\":\"hmac-sha256\",\"purpose\":\"jwt\",\"serial\":1,\"versions\":[{"
    "\"version\":1,\"state\":\"active\",\"id\":\"00\",\"created\":\"2026-01-01T00:00:00Z\",\"origin\":"
    "\"generated\"}]}",
    "{\"format\":1,\"name\":\"a\",\"alg\":\"rsa2048\",\"usage\":\"decrypt\",\"purpose\":\"sign\",\"serial\":1,\"versions\":[{"
    "\"version\":1,\"state\":\"active\",\"id\":\"00\",\"created\":\"2026-01-01T00:00:00Z\",\"origin\":"
    "\"generated\"}]}",
    "{\"format\":1,\"name\":\"a\",\"alg\":\"rsa2048\",\"purpose\":\"decrypt\",\"serial\":1,\"versions\":[{"
    "\"version\":1,\"state\":\"active\",\"id\":\"00\",\"created\":\"2026-01-01T00:00:00Z\",\"origin\":"
    "\"generated\"}]}",
};

static void
test_purpose_names(void **state)
{
	pv_key_purpose p = PV_PURPOSE_NONE;
	char buf[128];
	int i;

	(void)state;
	for (i = PV_PURPOSE_JWT; i < PV_PURPOSE_COUNT; i++) {
		assert_int_equal(pv_key_purpose_from_name(pv_key_purpose_name((pv_key_purpose)i), &p), PV_OK);
		assert_int_equal(p, i);
	}
	assert_string_equal(pv_key_purpose_name(PV_PURPOSE_NONE), "none");
	assert_string_equal(pv_key_purpose_name(PV_PURPOSE_COUNT), "unknown");
	assert_int_equal(pv_key_purpose_from_name("none", &p), PV_ERR_NOT_FOUND);
	assert_int_equal(pv_key_purpose_from_name("Sign", &p), PV_ERR_NOT_FOUND);
	assert_int_equal(pv_key_purpose_from_name("", &p), PV_ERR_NOT_FOUND);
	assert_int_equal(pv_key_purpose_from_name(NULL, &p), PV_ERR_NOT_FOUND);
	/* what fits which algorithm (docs/cli.md "Key purposes") */
	pv_key_purposes_for(PV_ALG_ED25519, buf, sizeof(buf));
	assert_string_equal(buf, "jwt, sign, solana");
	pv_key_purposes_for(PV_ALG_SECP256K1, buf, sizeof(buf));
	assert_string_equal(buf, "jwt, sign, evm");
	pv_key_purposes_for(PV_ALG_P256, buf, sizeof(buf));
	assert_string_equal(buf, "jwt, sign, derive");
	pv_key_purposes_for(PV_ALG_P384, buf, sizeof(buf));
	assert_string_equal(buf, "jwt, sign");
	pv_key_purposes_for(PV_ALG_RSA3072, buf, sizeof(buf));
	assert_string_equal(buf, "jwt, sign, decrypt");
	pv_key_purposes_for(PV_ALG_AES256, buf, sizeof(buf));
	assert_string_equal(buf, "wrap");
	pv_key_purposes_for(PV_ALG_HMAC_SHA256, buf, sizeof(buf));
	assert_string_equal(buf, "sign, audit, derive");
	pv_key_purposes_for(PV_ALG_NONE, buf, sizeof(buf));
	assert_string_equal(buf, "");
	/* a short buffer is cut, still terminated */
	pv_key_purposes_for(PV_ALG_P256, buf, 6);
	assert_string_equal(buf, "jwt");
	assert_false(pv_key_purpose_fits(PV_ALG_P256, PV_PURPOSE_NONE));
	assert_int_equal(pv_key_purpose_usage(PV_PURPOSE_DECRYPT), PV_USAGE_DECRYPT);
	assert_int_equal(pv_key_purpose_usage(PV_PURPOSE_WRAP), PV_USAGE_SIGN);
}

/* The purpose is stored, read back and copied; metadata without one (an
 * earlier version's) still reads, as a key that no use accepts. */
static void
test_purpose_round_trip(void **state)
{
	const char *legacy = "{\"format\":1,\"name\":\"jwt\",\"alg\":\"p256\",\"serial\":3,\"versions\":[{"
			     "\"version\":1,\"state\":\"active\",\"id\":\"0a0b\",\"created\":\"2026-01-01T00:"
			     "00:00Z\",\"origin\":\"generated\"}]}";
	const char *dec =
	    "{\"format\":1,\"name\":\"r\",\"alg\":\"rsa2048\",\"usage\":\"decrypt\",\"purpose\":"
	    "\"decrypt\",\"serial\":1,\"versions\":[{\"version\":1,\"state\":\"active\",\"id\":"
	    "\"00ff\",\"created\":\"2026-01-01T00:00:00Z\",\"origin\":\"generated\"}]}";
	struct pv_key *k = NULL, *back = NULL;
	char *json = NULL;

	(void)state;
	assert_int_equal(pv_keymeta_parse((const uint8_t *)legacy, strlen(legacy), &k), PV_OK);
	assert_int_equal(k->purpose, PV_PURPOSE_NONE);
	assert_int_equal(pv_key_check_purpose(k, PV_PURPOSE_JWT), PV_ERR_PURPOSE);
	assert_non_null(strstr(pv_err_detail(), "vaultctl key set-purpose jwt PURPOSE"));
	k->purpose = PV_PURPOSE_JWT;
	assert_int_equal(pv_keymeta_serialize(k, &json), PV_OK);
	assert_non_null(strstr(json, "\"purpose\":\"jwt\""));
	assert_int_equal(pv_keymeta_parse((const uint8_t *)json, strlen(json), &back), PV_OK);
	assert_int_equal(back->purpose, PV_PURPOSE_JWT);
	assert_int_equal(pv_key_check_purpose(back, PV_PURPOSE_JWT), PV_OK);
	assert_int_equal(pv_key_check_purpose(back, PV_PURPOSE_SIGN), PV_ERR_PURPOSE);
	assert_non_null(
	    strstr(pv_err_detail(), "key 'jwt' has purpose jwt; this needs a key of purpose sign"));
	pv_key_free(k);
	k = NULL;
	assert_int_equal(pv_key_dup(back, &k), PV_OK);
	assert_int_equal(k->purpose, PV_PURPOSE_JWT);
	pv_key_free(k);
	pv_key_free(back);
	free(json);
	json = NULL;
	k = NULL;
	/* a decrypt key writes usage and purpose, and reads back the same */
	assert_int_equal(pv_keymeta_parse((const uint8_t *)dec, strlen(dec), &k), PV_OK);
	assert_int_equal(k->purpose, PV_PURPOSE_DECRYPT);
	assert_int_equal(k->usage, PV_USAGE_DECRYPT);
	assert_int_equal(pv_keymeta_serialize(k, &json), PV_OK);
	assert_string_equal(json, dec);
	free(json);
	pv_key_free(k);
}

static void
test_rejects_malformed(void **state)
{
	struct pv_key *k = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < PV_NELEM(bad_docs); i++) {
		assert_int_equal(pv_keymeta_parse((const uint8_t *)bad_docs[i], strlen(bad_docs[i]), &k),
				 PV_ERR_INTEGRITY);
		assert_null(k);
	}
}

/* The detail names where the metadata is wrong (never a value). */
static void
test_malformed_detail(void **state)
{
	const char *doc =
	    "{\"format\":1,\"name\":\"a\",\"alg\":\"p256\",\"serial\":1,\"versions\":[{\"version\":1,"
	    "\"state\":\"active\",\"id\":\"00\",\"created\":\"2026-01-01T00:00:00Z\",\"origin\":"
	    "\"generated\"},{\"version\":2,\"state\":\"dormant\",\"id\":\"01\",\"created\":"
	    "\"2026-01-01T00:00:00Z\",\"origin\":\"generated\"}]}";
	struct pv_key *k = NULL;

	(void)state;
	assert_int_equal(pv_keymeta_parse((const uint8_t *)doc, strlen(doc), &k), PV_ERR_INTEGRITY);
	assert_string_equal(pv_err_detail(),
			    "key metadata on the token is malformed (versions[1].state: not a key state)");
	assert_null(k);
}

static void
test_accepts_minimal(void **state)
{
	const char *doc =
	    "{\"format\":1,\"name\":\"a\",\"alg\":\"ed25519\",\"serial\":0,\"versions\":[{\"version\":"
	    "1,\"state\":\"next\",\"id\":\"00ff\",\"created\":\"2026-01-01T00:00:00Z\",\"origin\":"
	    "\"generated\"}]}";
	struct pv_key *k = NULL;

	(void)state;
	/* not NUL-terminated input must work: pass the length only */
	assert_int_equal(pv_keymeta_parse((const uint8_t *)doc, strlen(doc), &k), PV_OK);
	assert_null(pv_key_active(k));
	assert_int_equal(k->versions[0].created, 1767225600);
	pv_key_free(k);
}

static void
test_too_large(void **state)
{
	uint8_t *big = calloc(1, PV_KEYMETA_MAX_BYTES + 1);
	struct pv_key *k = NULL;

	(void)state;
	assert_non_null(big);
	memset(big, ' ', PV_KEYMETA_MAX_BYTES + 1);
	assert_int_equal(pv_keymeta_parse(big, PV_KEYMETA_MAX_BYTES + 1, &k), PV_ERR_INTEGRITY);
	free(big);
}

/* "disabled" and "delete_at": round trip, in that place; absent (older
 * metadata) = in service; a scheduled key must be disabled. */
static void
test_service_round_trip(void **state)
{
	const char *doc = "{\"format\":1,\"name\":\"old-kek\",\"alg\":\"aes256\",\"purpose\":\"wrap\","
			  "\"serial\":4,\"disabled\":\"2026-12-01T10:00:00Z\",\"delete_at\":\"2026-12-08T10:"
			  "00:00Z\",\"versions\":[{\"version\":1,\"state\":\"active\",\"id\":\"0a0b\","
			  "\"created\":\"2026-01-01T00:00:00Z\",\"origin\":\"generated\"}]}";
	const char *old = "{\"format\":1,\"name\":\"jwt\",\"alg\":\"p256\",\"purpose\":\"jwt\",\"serial\":3,"
			  "\"versions\":[{\"version\":1,\"state\":\"active\",\"id\":\"0a0b\",\"created\":"
			  "\"2026-01-01T00:00:00Z\",\"origin\":\"generated\"}]}";
	const char *bad[] = {
	    /* scheduled but not disabled */
	    "{\"format\":1,\"name\":\"a\",\"alg\":\"p256\",\"serial\":1,\"delete_at\":\"2026-12-08T10:00:"
	    "00Z\",\"versions\":[{\"version\":1,\"state\":\"active\",\"id\":\"00\",\"created\":\"2026-01-"
	    "01T00:00:00Z\",\"origin\":\"generated\"}]}",
	    /* not a time */
	    "{\"format\":1,\"name\":\"a\",\"alg\":\"p256\",\"serial\":1,\"disabled\":\"yes\",\"versions\":"
	    "[{\"version\":1,\"state\":\"active\",\"id\":\"00\",\"created\":\"2026-01-01T00:00:00Z\","
	    "\"origin\":\"generated\"}]}",
	    /* not a string */
	    "{\"format\":1,\"name\":\"a\",\"alg\":\"p256\",\"serial\":1,\"disabled\":true,\"versions\":"
	    "[{\"version\":1,\"state\":\"active\",\"id\":\"00\",\"created\":\"2026-01-01T00:00:00Z\","
	    "\"origin\":\"generated\"}]}",
	};
	struct pv_key *k = NULL, *back = NULL;
	char *json = NULL;
	size_t i;

	(void)state;
	assert_int_equal(pv_keymeta_parse((const uint8_t *)doc, strlen(doc), &k), PV_OK);
	assert_int_equal(k->disabled, 1796119200);
	assert_int_equal(k->delete_at, 1796119200 + 7 * 86400);
	assert_int_equal(pv_keymeta_serialize(k, &json), PV_OK);
	assert_string_equal(json, doc);
	assert_int_equal(pv_key_check_enabled(k), PV_ERR_STATE);
	assert_string_equal(pv_err_detail(), "key 'old-kek' is disabled and scheduled for deletion at "
					     "2026-12-08T10:00:00Z (vaultctl key cancel-delete old-kek)");
	assert_false(pv_key_delete_due(k, k->delete_at - 1));
	assert_true(pv_key_delete_due(k, k->delete_at));
	/* a copy keeps them (changes work on copies) */
	assert_int_equal(pv_key_dup(k, &back), PV_OK);
	assert_int_equal(back->delete_at, k->delete_at);
	back->delete_at = 0;
	assert_int_equal(pv_key_check_enabled(back), PV_ERR_STATE);
	assert_string_equal(pv_err_detail(), "key 'old-kek' is disabled (vaultctl key enable old-kek)");
	assert_false(pv_key_delete_due(back, INT64_MAX));
	free(json);
	assert_int_equal(pv_keymeta_serialize(back, &json), PV_OK);
	assert_null(strstr(json, "delete_at"));
	assert_non_null(strstr(json, "\"serial\":4,\"disabled\":\"2026-12-01T10:00:00Z\",\"versions\""));
	free(json);
	pv_key_free(back);
	pv_key_free(k);
	/* metadata written before these members: in service, byte-identical */
	assert_int_equal(pv_keymeta_parse((const uint8_t *)old, strlen(old), &k), PV_OK);
	assert_int_equal(k->disabled, 0);
	assert_int_equal(k->delete_at, 0);
	assert_int_equal(pv_key_check_enabled(k), PV_OK);
	assert_int_equal(pv_keymeta_serialize(k, &json), PV_OK);
	assert_string_equal(json, old);
	free(json);
	pv_key_free(k);
	for (i = 0; i < PV_NELEM(bad); i++) {
		assert_int_equal(pv_keymeta_parse((const uint8_t *)bad[i], strlen(bad[i]), &k),
				 PV_ERR_INTEGRITY);
		assert_null(k);
	}
}

/* The test clock: an integer offset moves it; anything else is ignored. */
static void
test_clock_offset(void **state)
{
	int64_t t0;

	(void)state;
	unsetenv("P11VAULT_TEST_CLOCK_OFFSET");
	t0 = (int64_t)time(NULL);
	assert_true(pv_key_clock_now() - t0 <= 1);
	setenv("P11VAULT_TEST_CLOCK_OFFSET", "604800", 1);
	assert_true(pv_key_clock_now() - t0 >= 604800 && pv_key_clock_now() - t0 <= 604801);
	setenv("P11VAULT_TEST_CLOCK_OFFSET", "-60", 1);
	assert_true(t0 - pv_key_clock_now() >= 59);
	setenv("P11VAULT_TEST_CLOCK_OFFSET", "7d", 1);
	assert_true(pv_key_clock_now() - t0 <= 1);
	setenv("P11VAULT_TEST_CLOCK_OFFSET", "99999999999999", 1);
	assert_true(pv_key_clock_now() - t0 <= 1);
	unsetenv("P11VAULT_TEST_CLOCK_OFFSET");
}

/* The rotation schedule and the versions' activated/demoted times. */
static void
test_schedule_round_trip(void **state)
{
	const char *doc =
	    "{\"format\":1,\"name\":\"jwt\",\"alg\":\"p256\",\"purpose\":\"jwt\",\"serial\":9,"
	    "\"schedule\":{\"every\":86400,\"publish_ahead\":7200,\"retire_after\":21600},"
	    "\"versions\":[{\"version\":1,\"state\":\"verify-only\",\"id\":\"0a\",\"created\":"
	    "\"2026-01-01T00:00:00Z\",\"origin\":\"generated\",\"activated\":\"2026-01-01T00:00:"
	    "00Z\",\"demoted\":\"2026-01-02T00:00:00Z\"},{\"version\":2,\"state\":\"active\","
	    "\"id\":\"0b\",\"created\":\"2026-01-01T22:00:00Z\",\"origin\":\"generated\","
	    "\"activated\":\"2026-01-02T00:00:00Z\"}]}";
	const char *pre = "{\"format\":1,\"name\":\"k\",\"alg\":\"p256\",\"purpose\":\"sign\",\"serial\":1,";
	const char *ver =
	    "\"versions\":[{\"version\":1,\"state\":\"active\",\"id\":\"00\",\"created\":\"2026-"
	    "01-01T00:00:00Z\",\"origin\":\"generated\"%s}]}";
	const char *bad[] = {
	    /* publish_ahead not shorter than every */
	    "\"schedule\":{\"every\":3600,\"publish_ahead\":3600,\"retire_after\":0},",
	    /* a member missing */
	    "\"schedule\":{\"every\":3600,\"publish_ahead\":60},",
	    /* an unknown member */
	    "\"schedule\":{\"every\":3600,\"publish_ahead\":60,\"retire_after\":0,\"x\":1},",
	    /* every below the minimum, negative, not a number, too long */
	    "\"schedule\":{\"every\":59,\"publish_ahead\":0,\"retire_after\":0},",
	    "\"schedule\":{\"every\":3600,\"publish_ahead\":-1,\"retire_after\":0},",
	    "\"schedule\":{\"every\":\"1d\",\"publish_ahead\":0,\"retire_after\":0},",
	    "\"schedule\":{\"every\":3600,\"publish_ahead\":0,\"retire_after\":315360001},",
	    "\"schedule\":{\"every\":0,\"publish_ahead\":0,\"retire_after\":0},",
	    "\"schedule\":[],",
	};
	const char *badver[] = {",\"activated\":\"yesterday\"", ",\"demoted\":\"1970-01-01T00:00:00Z\"",
				",\"activated\":1"};
	struct pv_key *k = NULL, *back = NULL;
	char *json = NULL, buf[1024];
	size_t i;

	(void)state;
	assert_int_equal(pv_keymeta_parse((const uint8_t *)doc, strlen(doc), &k), PV_OK);
	assert_int_equal(k->schedule.every, 86400);
	assert_int_equal(k->schedule.publish_ahead, 7200);
	assert_int_equal(k->schedule.retire_after, 21600);
	assert_int_equal(k->versions[0].activated, 1767225600);
	assert_int_equal(k->versions[0].demoted, 1767225600 + 86400);
	assert_int_equal(k->versions[1].activated, 1767225600 + 86400);
	assert_int_equal(k->versions[1].demoted, 0);
	assert_int_equal(pv_keymeta_serialize(k, &json), PV_OK);
	assert_string_equal(json, doc);
	free(json);
	/* a copy keeps them; turned off, the member is left out */
	assert_int_equal(pv_key_dup(k, &back), PV_OK);
	assert_int_equal(back->schedule.every, 86400);
	memset(&back->schedule, 0, sizeof(back->schedule));
	assert_int_equal(pv_keymeta_serialize(back, &json), PV_OK);
	assert_null(strstr(json, "schedule"));
	free(json);
	pv_key_free(back);
	pv_key_free(k);
	for (i = 0; i < PV_NELEM(bad); i++) {
		snprintf(buf, sizeof(buf), "%s%s", pre, bad[i]);
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), ver, "");
		if (pv_keymeta_parse((const uint8_t *)buf, strlen(buf), &k) != PV_ERR_INTEGRITY)
			fail_msg("accepted: %s", buf);
		assert_null(k);
	}
	for (i = 0; i < PV_NELEM(badver); i++) {
		snprintf(buf, sizeof(buf), "%s", pre);
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), ver, badver[i]);
		if (pv_keymeta_parse((const uint8_t *)buf, strlen(buf), &k) != PV_ERR_INTEGRITY)
			fail_msg("accepted: %s", buf);
		assert_null(k);
	}
	/* the check the CLI and the parser share */
	{
		struct pv_key_schedule ok = {86400, 7200, 0}, late = {3600, 3600, 0};

		assert_int_equal(pv_key_schedule_check(&ok), PV_OK);
		assert_int_equal(pv_key_schedule_check(&late), PV_ERR_USAGE);
		assert_string_equal(pv_err_detail(), "publish-ahead must be shorter than the period (every)");
	}
}

/* A new version is stamped by the test clock; an active one is activated. */
static void
test_add_version_times(void **state)
{
	struct pv_key k;
	struct pv_key_version *v = NULL;
	uint8_t id[1] = {1};
	int64_t t0 = (int64_t)time(NULL);

	(void)state;
	memset(&k, 0, sizeof(k));
	snprintf(k.name, sizeof(k.name), "%s", "t");
	k.alg = PV_ALG_P256;
	setenv("P11VAULT_TEST_CLOCK_OFFSET", "86400", 1);
	assert_int_equal(pv_key_add_version(&k, PV_STATE_ACTIVE, id, 1, 0, &v), PV_OK);
	assert_true(v->created >= t0 + 86400 && v->created <= t0 + 86401);
	assert_int_equal(v->activated, v->created);
	assert_int_equal(pv_key_add_version(&k, PV_STATE_NEXT, id, 1, 0, &v), PV_OK);
	assert_int_equal(v->activated, 0);
	assert_int_equal(v->demoted, 0);
	unsetenv("P11VAULT_TEST_CLOCK_OFFSET");
	free(k.versions);
}

/* P11VAULT_TEST_CLOCK_FILE: read at every call, before the offset variable. */
static void
test_clock_file(void **state)
{
	char path[] = "/tmp/pv-clock-XXXXXX";
	int64_t t0;
	FILE *f;
	int fd;

	(void)state;
	assert_true((fd = mkstemp(path)) >= 0);
	close(fd);
	t0 = (int64_t)time(NULL);
	setenv("P11VAULT_TEST_CLOCK_FILE", path, 1);
	setenv("P11VAULT_TEST_CLOCK_OFFSET", "60", 1);
	/* empty: the offset variable */
	assert_true(pv_key_clock_now() - t0 >= 60 && pv_key_clock_now() - t0 <= 61);
	assert_non_null(f = fopen(path, "w"));
	fprintf(f, "172800\n");
	fclose(f);
	assert_true(pv_key_clock_now() - t0 >= 172800 && pv_key_clock_now() - t0 <= 172801);
	assert_non_null(f = fopen(path, "w"));
	fprintf(f, "-3600");
	fclose(f);
	assert_true(t0 - pv_key_clock_now() >= 3599 && t0 - pv_key_clock_now() <= 3600);
	assert_non_null(f = fopen(path, "w"));
	fprintf(f, "2 days");
	fclose(f);
	assert_true(pv_key_clock_now() - t0 >= 60 && pv_key_clock_now() - t0 <= 61);
	unsetenv("P11VAULT_TEST_CLOCK_OFFSET");
	assert_true(pv_key_clock_now() - t0 <= 1);
	unlink(path);
	/* missing file: the real clock */
	assert_true(pv_key_clock_now() - t0 <= 1);
	unsetenv("P11VAULT_TEST_CLOCK_FILE");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_default_usage_omitted),
	    cmocka_unit_test(test_decrypt_usage_round_trip),
	    cmocka_unit_test(test_usage_names),
	    cmocka_unit_test(test_purpose_names),
	    cmocka_unit_test(test_purpose_round_trip),
	    cmocka_unit_test(test_rejects_malformed),
	    cmocka_unit_test(test_malformed_detail),
	    cmocka_unit_test(test_accepts_minimal),
	    cmocka_unit_test(test_too_large),
	    cmocka_unit_test(test_service_round_trip),
	    cmocka_unit_test(test_clock_offset),
	    cmocka_unit_test(test_schedule_round_trip),
	    cmocka_unit_test(test_add_version_times),
	    cmocka_unit_test(test_clock_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
