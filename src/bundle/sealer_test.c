/* Unit tests: the bundle sealer member (format.c) and sealer.c: the exact
 * bytes of the signed message, signing and verification with P-256,
 * Ed25519 and RSA-PSS keys, and every way a signature must be refused. */
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
#include <openssl/x509.h>

#include "bundle/format.h"
#include "bundle/recipient.h"
#include "bundle/sealer.h"
#include "core/b64.h"

static const char doc[] =
    "{\"format\":1,\"id\":\"AAECAwQFBgcICQoLDA0ODw\",\"created\":\"2026-11-23T12:00:00Z\","
    "\"version\":7,\"context\":{\"env\":\"prod\"},"
    "\"recipients\":[{\"type\":\"aes-kwp\",\"kid\":\"0a0b\",\"wrapped_dek\":"
    "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}],"
    "\"entries\":[{\"name\":\"API_KEY\",\"kind\":\"env\",\"nonce\":\"AAAAAAAAAAAAAAAA\",\"ct\":"
    "\"AQIDBAUGBwgJCgsMDQ4PEBES\"}],"
    "\"check\":\"Q0hFQ0tDSEVDS0NIRUNLQ0hFQ0tDSEVDS0NIRQ\"}";

static struct pv_bundle *
parse(const char *s)
{
	struct pv_bundle *b = NULL;

	assert_int_equal(pv_bundle_parse((const uint8_t *)s, strlen(s), &b), PV_OK);
	return b;
}

static EVP_PKEY *
keygen(const char *type)
{
	EVP_PKEY *k = NULL;

	if (strcmp(type, "EC") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	else if (strcmp(type, "RSA") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	else
		k = EVP_PKEY_Q_keygen(NULL, NULL, type);
	assert_non_null(k);
	return k;
}

/* The public half only, as a reader has it. */
static EVP_PKEY *
public_of(EVP_PKEY *k)
{
	unsigned char *der = NULL, *p;
	const unsigned char *q;
	EVP_PKEY *pub;
	int n = i2d_PUBKEY(k, &der);

	assert_true(n > 0);
	q = p = der;
	pub = d2i_PUBKEY(NULL, &q, n);
	assert_non_null(pub);
	OPENSSL_free(p);
	return pub;
}

/* Serialize and parse again: what a reader gets. */
static struct pv_bundle *
roundtrip(const struct pv_bundle *b)
{
	struct pv_bundle *c;
	char *text = NULL;
	size_t len = 0;

	assert_int_equal(pv_bundle_serialize(b, &text, &len), PV_OK);
	assert_non_null(strstr(text, "\"sealer\""));
	c = parse(text);
	free(text);
	return c;
}

static void
test_message_bytes(void **state)
{
	struct pv_bundle *b = parse(doc);
	static const char kid[] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
	uint8_t h[32], want[256], *p = want;
	pv_buf *m = NULL;

	(void)state;
	assert_int_equal(pv_bundle_check_digest(b, h), PV_OK);
	memcpy(p, "p11vault-bundle-v1 sealer", 25);
	p += 25;
	*p++ = 0;
	memcpy(p, h, 32);
	p += 32;
	memcpy(p, b->check, 28);
	p += 28;
	memcpy(p,
	       "\0\0\0\x07"
	       "ed25519",
	       11);
	p += 11;
	memcpy(p, "\0\0\0\x2b", 4);
	p += 4;
	memcpy(p, kid, 43);
	p += 43;
	assert_int_equal(pv_sealer_message(b, PV_SEALER_ED25519, kid, &m), PV_OK);
	assert_int_equal(pv_buf_len(m), (size_t)(p - want));
	assert_memory_equal(pv_buf_ptr(m), want, (size_t)(p - want));
	pv_buf_free(m);
	pv_bundle_free(b);
}

/* Sign with type, verify through a trust set after a round trip through
 * the JSON, then every alteration is refused. */
static void
sign_verify(const char *type, enum pv_sealer_alg want_alg, size_t siglen)
{
	EVP_PKEY *k = keygen(type), *pub = public_of(k), *other = keygen(type), *opub = public_of(other);
	struct pv_bundle *b = parse(doc), *r, *r2;
	pv_sealer_trust *t = NULL, *t2 = NULL;
	char kid[PV_SEALER_KID_LEN + 1], *rkid = NULL;

	assert_int_equal(pv_sealer_sign_pkey(b, k), PV_OK);
	assert_true(b->has_sealer);
	assert_int_equal(b->sealer.alg, want_alg);
	assert_int_equal(b->sealer.sig_len, siglen);
	assert_int_equal(pv_sealer_kid(pub, kid), PV_OK);
	assert_string_equal(b->sealer.kid, kid);
	if (strcmp(type, "RSA") == 0) { /* the same kid as an rsa-oaep recipient of this key */
		assert_int_equal(pv_recipient_rsa_kid(pub, &rkid), PV_OK);
		assert_string_equal(rkid, kid);
		free(rkid);
	}
	r = roundtrip(b);
	assert_int_equal(pv_sealer_trust_new(&t), PV_OK);
	assert_int_equal(pv_sealer_trust_add(t, pub), PV_OK);
	assert_int_equal(pv_sealer_trust_add(t, pub), PV_OK); /* once */
	assert_int_equal(pv_sealer_trust_count(t), 1);
	assert_int_equal(pv_sealer_verify(r, t), PV_OK);

	/* a flipped signature byte */
	r->sealer.sig[siglen / 2] ^= 1;
	assert_int_equal(pv_sealer_verify(r, t), PV_ERR_INTEGRITY);
	r->sealer.sig[siglen / 2] ^= 1;
	/* any authenticated field changed (here: the version) */
	r->version++;
	assert_int_equal(pv_sealer_verify(r, t), PV_ERR_INTEGRITY);
	r->version--;
	/* a changed check */
	r->check[0] ^= 1;
	assert_int_equal(pv_sealer_verify(r, t), PV_ERR_INTEGRITY);
	r->check[0] ^= 1;
	/* another alg name */
	r->sealer.alg = want_alg == PV_SEALER_ED25519 ? PV_SEALER_ECDSA_P256_SHA256 : PV_SEALER_ED25519;
	assert_int_equal(pv_sealer_verify(r, t), PV_ERR_INTEGRITY);
	r->sealer.alg = want_alg;
	assert_int_equal(pv_sealer_verify(r, t), PV_OK);

	/* signed by another key: not trusted; trusted too: the kid is swapped */
	assert_int_equal(pv_sealer_sign_pkey(b, other), PV_OK);
	r2 = roundtrip(b);
	assert_int_equal(pv_sealer_verify(r2, t), PV_ERR_INTEGRITY);
	assert_non_null(strstr(pv_err_detail(), "not a trusted sealer"));
	memcpy(r2->sealer.kid, kid, sizeof(kid)); /* claims the trusted key */
	assert_int_equal(pv_sealer_verify(r2, t), PV_ERR_INTEGRITY);
	assert_int_equal(pv_sealer_trust_new(&t2), PV_OK);
	assert_int_equal(pv_sealer_trust_add(t2, opub), PV_OK);
	assert_int_equal(pv_sealer_check(r2, opub), PV_ERR_INTEGRITY); /* kid is not opub's */

	/* the trusted sealer's member moved onto another bundle (other id) */
	pv_bundle_free(r2);
	r2 = parse(doc);
	r2->id[0] ^= 1;
	r2->has_sealer = 1;
	r2->sealer = r->sealer;
	assert_int_equal(pv_sealer_verify(r2, t), PV_ERR_INTEGRITY);
	assert_non_null(strstr(pv_err_detail(), "does not verify"));

	/* unsigned */
	pv_sealer_clear(r2);
	assert_int_equal(pv_sealer_verify(r2, t), PV_ERR_INTEGRITY);
	assert_non_null(strstr(pv_err_detail(), "no sealer signature"));

	pv_sealer_trust_free(t);
	pv_sealer_trust_free(t2);
	pv_bundle_free(r2);
	pv_bundle_free(r);
	pv_bundle_free(b);
	EVP_PKEY_free(k);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(other);
	EVP_PKEY_free(opub);
}

static void
test_p256(void **state)
{
	(void)state;
	sign_verify("EC", PV_SEALER_ECDSA_P256_SHA256, 64);
}

static void
test_ed25519(void **state)
{
	(void)state;
	sign_verify("ED25519", PV_SEALER_ED25519, 64);
}

static void
test_rsa_pss(void **state)
{
	(void)state;
	sign_verify("RSA", PV_SEALER_RSA_PSS_SHA256, 256);
}

static void
test_key_types(void **state)
{
	EVP_PKEY *k1 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
	EVP_PKEY *k2 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	EVP_PKEY *k3 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	struct pv_bundle *b = parse(doc);
	pv_sealer_trust *t = NULL;
	enum pv_sealer_alg a;

	(void)state;
	assert_int_equal(pv_sealer_alg_for(k1, &a), PV_ERR_KEY_TYPE);
	assert_int_equal(pv_sealer_alg_for(k2, &a), PV_ERR_KEY_TYPE);
	assert_int_equal(pv_sealer_alg_for(k3, &a), PV_ERR_KEY_TYPE);
	assert_int_equal(pv_sealer_sign_pkey(b, k2), PV_ERR_KEY_TYPE);
	assert_false(b->has_sealer);
	assert_int_equal(pv_sealer_trust_new(&t), PV_OK);
	assert_int_equal(pv_sealer_trust_add(t, k1), PV_ERR_KEY_TYPE);
	assert_int_equal(pv_sealer_trust_count(t), 0);
	pv_sealer_trust_free(t);
	pv_bundle_free(b);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
	EVP_PKEY_free(k3);
}

/* The member is parsed strictly, like every other. */
static void
expect_bad_sealer(const char *sealer, const char *detail_part)
{
	char s[sizeof(doc) + 1024];
	struct pv_bundle *b = NULL;

	snprintf(s, sizeof(s), "%.*s,\"sealer\":%s}", (int)(sizeof(doc) - 2), doc, sealer);
	assert_int_equal(pv_bundle_parse((const uint8_t *)s, strlen(s), &b), PV_ERR_INTEGRITY);
	assert_null(b);
	if (strstr(pv_err_detail(), detail_part) == NULL)
		fail_msg("detail \"%s\" lacks \"%s\"", pv_err_detail(), detail_part);
}

#define KID43 "\"kid\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\""
#define SIG64                                                                                                \
	"\"sig\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\""

static void
test_parse(void **state)
{
	char s[sizeof(doc) + 1024];
	struct pv_bundle *b;

	(void)state;
	snprintf(s, sizeof(s), "%.*s,\"sealer\":{\"alg\":\"ed25519\"," KID43 "," SIG64 "}}",
		 (int)(sizeof(doc) - 2), doc);
	b = parse(s);
	assert_true(b->has_sealer);
	assert_int_equal(b->sealer.alg, PV_SEALER_ED25519);
	assert_int_equal(b->sealer.sig_len, 64);
	pv_bundle_free(b);
	b = parse(doc);
	assert_false(b->has_sealer);
	pv_bundle_free(b);

	expect_bad_sealer("{\"alg\":\"ed25519\"," KID43 "," SIG64 ",\"x\":1}", "x");
	expect_bad_sealer("{\"alg\":\"ed448\"," KID43 "," SIG64 "}", "alg");
	expect_bad_sealer("{" KID43 "," SIG64 "}", "alg");
	expect_bad_sealer("{\"alg\":\"ed25519\"," SIG64 "}", "kid");
	expect_bad_sealer("{\"alg\":\"ed25519\"," KID43 "}", "sig");
	expect_bad_sealer("{\"alg\":\"ed25519\",\"kid\":\"AAAA\"," SIG64 "}", "kid");
	expect_bad_sealer(
	    "{\"alg\":\"ed25519\",\"kid\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"," SIG64 "}", "kid");
	expect_bad_sealer("{\"alg\":\"ed25519\"," KID43 ",\"sig\":\"AAAA\"}", "sig");
	expect_bad_sealer("{\"alg\":\"rsa-pss-sha256\"," KID43 "," SIG64 "}", "sig");
	expect_bad_sealer("[]", "sealer");
	expect_bad_sealer("null", "sealer");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_message_bytes), cmocka_unit_test(test_p256),
	    cmocka_unit_test(test_ed25519),       cmocka_unit_test(test_rsa_pss),
	    cmocka_unit_test(test_key_types),     cmocka_unit_test(test_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
