#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/sigfmt.h"

/* secp256k1 group order n. */
static const char k1_order_hex[] = "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141";

static void
test_format_names(void **state)
{
	pv_sigfmt f = PV_SIGFMT_RAW;

	assert_int_equal(pv_sigfmt_from_name("der", &f), PV_OK);
	assert_int_equal(f, PV_SIGFMT_DER);
	assert_int_equal(pv_sigfmt_from_name("jose", &f), PV_OK);
	assert_int_equal(f, PV_SIGFMT_JOSE);
	assert_int_equal(pv_sigfmt_from_name("raw", &f), PV_OK);
	assert_int_equal(f, PV_SIGFMT_RAW);
	assert_string_equal(pv_sigfmt_name(PV_SIGFMT_DER), "der");
	assert_int_equal(pv_sigfmt_from_name("pem", &f), PV_ERR_USAGE);
	assert_int_equal(pv_sigfmt_from_name(NULL, &f), PV_ERR_USAGE);
	assert_int_equal(pv_sig_raw_len(PV_ALG_P384), 96);
	assert_int_equal(pv_sig_raw_len(PV_ALG_ED25519), 64);
	assert_int_equal(pv_sig_raw_len(PV_ALG_RSA4096), 512);
	assert_int_equal(pv_sig_raw_len(PV_ALG_AES256), 0);
}

/* r = 1, s = 0x80: the DER integer for s needs a leading zero byte. */
static void
test_der_known_encoding(void **state)
{
	static const uint8_t want[] = {0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x02, 0x00, 0x80};
	uint8_t raw[64] = {0}, back[64];
	uint8_t *der = NULL;
	size_t derlen = 0, n = 0;

	raw[31] = 0x01;
	raw[63] = 0x80;
	assert_int_equal(pv_ecdsa_raw_to_der(raw, 64, 32, &der, &derlen), PV_OK);
	assert_int_equal(derlen, sizeof(want));
	assert_memory_equal(der, want, sizeof(want));
	assert_int_equal(pv_ecdsa_der_to_raw(der, derlen, 32, back, &n), PV_OK);
	assert_int_equal(n, 64);
	assert_memory_equal(back, raw, 64);
	free(der);
}

static void
test_der_round_trip(void **state)
{
	static const size_t fields[] = {32, 48};
	uint8_t raw[96], back[96];
	uint8_t *der = NULL;
	size_t derlen, n, i, f, fl;

	for (f = 0; f < 2; f++) {
		fl = fields[f];
		for (i = 0; i < 200; i++) {
			assert_int_equal(RAND_bytes(raw, (int)(2 * fl)), 1);
			/* vary the top bytes: high bit set, leading zeros */
			raw[0] = (uint8_t)(i % 3 == 0 ? 0x00 : i % 3 == 1 ? 0xff : 0x7f);
			raw[fl] = (uint8_t)(i % 5 == 0 ? 0x00 : raw[fl]);
			raw[fl - 1] |= 1; /* keep r and s non-zero */
			raw[2 * fl - 1] |= 1;
			assert_int_equal(pv_ecdsa_raw_to_der(raw, 2 * fl, fl, &der, &derlen), PV_OK);
			assert_int_equal(pv_ecdsa_der_to_raw(der, derlen, fl, back, &n), PV_OK);
			assert_int_equal(n, 2 * fl);
			assert_memory_equal(raw, back, n);
			free(der);
		}
	}
}

static void
test_der_malformed(void **state)
{
	static const struct {
		const char *why;
		uint8_t der[48];
		size_t len;
	} bad[] = {
	    {"empty", {0}, 0},
	    {"trailing byte", {0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00}, 9},
	    {"truncated", {0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01}, 7},
	    {"wrong outer tag", {0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01}, 8},
	    {"long-form length", {0x30, 0x81, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01}, 9},
	    {"indefinite length", {0x30, 0x80, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00, 0x00}, 10},
	    {"padded integer", {0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01}, 9},
	    {"negative r", {0x30, 0x06, 0x02, 0x01, 0x81, 0x02, 0x01, 0x01}, 8},
	    {"r zero", {0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x01}, 8},
	    {"s zero", {0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x00}, 8},
	    {"one integer", {0x30, 0x03, 0x02, 0x01, 0x01}, 5},
	    {"three integers", {0x30, 0x09, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01}, 11},
	};
	uint8_t raw[64];
	size_t i, n = 5;

	for (i = 0; i < PV_NELEM(bad); i++) {
		print_message("case: %s\n", bad[i].why);
		assert_int_equal(pv_ecdsa_der_to_raw(bad[i].der, bad[i].len, 32, raw, &n), PV_ERR_BAD_INPUT);
		assert_int_equal(n, 0);
	}
}

/* An integer one byte longer than the field is refused, not truncated. */
static void
test_der_integer_too_long(void **state)
{
	uint8_t raw[96] = {0}, out[96];
	uint8_t *der = NULL;
	size_t derlen = 0, n = 0;

	raw[15] = 0x01; /* r = 2^256 as a 48-byte field element */
	raw[95] = 0x01;
	assert_int_equal(pv_ecdsa_raw_to_der(raw, 96, 48, &der, &derlen), PV_OK);
	assert_int_equal(pv_ecdsa_der_to_raw(der, derlen, 32, out, &n), PV_ERR_BAD_INPUT);
	assert_int_equal(pv_ecdsa_der_to_raw(der, derlen, 48, out, &n), PV_OK);
	assert_memory_equal(out, raw, 96);
	free(der);
}

static void
test_raw_to_der_rejects(void **state)
{
	uint8_t raw[64] = {0};
	uint8_t *der = NULL;
	size_t derlen = 0;

	raw[63] = 1; /* r = 0 */
	assert_int_equal(pv_ecdsa_raw_to_der(raw, 64, 32, &der, &derlen), PV_ERR_BAD_INPUT);
	assert_null(der);
	raw[31] = 1;
	assert_int_equal(pv_ecdsa_raw_to_der(raw, 63, 32, &der, &derlen), PV_ERR_BAD_INPUT);
	assert_int_equal(pv_ecdsa_raw_to_der(raw, 64, 0, &der, &derlen), PV_ERR_USAGE);
}

/* The buffer form: the same bytes as the allocating one, the largest
 * (P-521, both halves with the top bit set: 141 bytes) fits
 * PV_ECDSA_DER_MAX, and a buffer one byte short is refused. */
static void
test_raw_to_der_buf(void **state)
{
	uint8_t raw[132], buf[PV_ECDSA_DER_MAX], *der = NULL;
	size_t len = 0, dlen = 0;
	size_t fields[] = {32, 48, 66};

	(void)state;
	for (size_t i = 0; i < PV_NELEM(fields); i++) {
		size_t f = fields[i];

		memset(raw, 0xA5, 2 * f);
		assert_int_equal(pv_ecdsa_raw_to_der_buf(raw, 2 * f, f, buf, sizeof(buf), &len), PV_OK);
		assert_int_equal(pv_ecdsa_raw_to_der(raw, 2 * f, f, &der, &dlen), PV_OK);
		assert_int_equal(len, dlen);
		assert_memory_equal(buf, der, len);
		free(der);
		der = NULL;
		if (f == 66)
			assert_int_equal(len, 141);
		assert_int_equal(pv_ecdsa_raw_to_der_buf(raw, 2 * f, f, buf, len - 1, &dlen), PV_ERR_USAGE);
		assert_int_equal(dlen, 0);
	}
	memset(raw, 0, 64);
	assert_int_equal(pv_ecdsa_raw_to_der_buf(raw, 64, 32, buf, sizeof(buf), &len), PV_ERR_BAD_INPUT);
	assert_int_equal(pv_ecdsa_raw_to_der_buf(raw, 63, 32, buf, sizeof(buf), &len), PV_ERR_BAD_INPUT);
}

static void
test_parse_formats(void **state)
{
	uint8_t raw[64], out[PV_SIG_MAX_RAW], jose[100];
	uint8_t *der = NULL, *enc = NULL;
	size_t derlen, n, elen;

	assert_int_equal(RAND_bytes(raw, sizeof(raw)), 1);
	raw[0] = 0x01;
	raw[32] = 0x01;
	/* raw */
	assert_int_equal(pv_sig_parse(PV_SIGFMT_RAW, raw, 64, PV_ALG_P256, out, sizeof(out), &n), PV_OK);
	assert_int_equal(n, 64);
	assert_memory_equal(out, raw, 64);
	assert_int_equal(pv_sig_parse(PV_SIGFMT_RAW, raw, 63, PV_ALG_P256, out, sizeof(out), &n),
			 PV_ERR_BAD_INPUT);
	assert_int_equal(pv_sig_parse(PV_SIGFMT_RAW, raw, 64, PV_ALG_P384, out, sizeof(out), &n),
			 PV_ERR_BAD_INPUT);
	/* der */
	assert_int_equal(pv_ecdsa_raw_to_der(raw, 64, 32, &der, &derlen), PV_OK);
	assert_int_equal(pv_sig_parse(PV_SIGFMT_DER, der, derlen, PV_ALG_P256, out, sizeof(out), &n), PV_OK);
	assert_memory_equal(out, raw, 64);
	assert_int_equal(pv_sig_parse(PV_SIGFMT_DER, der, derlen, PV_ALG_ED25519, out, sizeof(out), &n),
			 PV_ERR_USAGE);
	assert_int_equal(pv_sig_parse(PV_SIGFMT_DER, der, derlen, PV_ALG_RSA2048, out, sizeof(out), &n),
			 PV_ERR_USAGE);
	free(der);
	/* jose, with a trailing newline as from a file */
	assert_int_equal(pv_sig_encode(PV_SIGFMT_JOSE, PV_ALG_ED25519, raw, 64, &enc, &elen), PV_OK);
	assert_int_equal(elen, 86);
	assert_int_equal(enc[elen], '\0');
	memcpy(jose, enc, elen);
	jose[elen] = '\n';
	jose[elen + 1] = '\r';
	assert_int_equal(pv_sig_parse(PV_SIGFMT_JOSE, jose, elen + 2, PV_ALG_ED25519, out, sizeof(out), &n),
			 PV_OK);
	assert_int_equal(n, 64);
	assert_memory_equal(out, raw, 64);
	assert_int_equal(pv_sig_parse(PV_SIGFMT_JOSE, jose, elen - 1, PV_ALG_ED25519, out, sizeof(out), &n),
			 PV_ERR_BAD_INPUT);
	assert_int_equal(pv_sig_parse(PV_SIGFMT_JOSE, jose, elen, PV_ALG_P384, out, sizeof(out), &n),
			 PV_ERR_BAD_INPUT);
	jose[elen] = '=';
	assert_int_equal(pv_sig_parse(PV_SIGFMT_JOSE, jose, elen + 1, PV_ALG_ED25519, out, sizeof(out), &n),
			 PV_ERR_BAD_INPUT);
	jose[0] = ' ';
	assert_int_equal(pv_sig_parse(PV_SIGFMT_JOSE, jose, elen, PV_ALG_ED25519, out, sizeof(out), &n),
			 PV_ERR_BAD_INPUT);
	free(enc);
	/* no signatures for AES; too small an output buffer */
	assert_int_equal(pv_sig_parse(PV_SIGFMT_RAW, raw, 32, PV_ALG_AES256, out, sizeof(out), &n),
			 PV_ERR_KEY_TYPE);
	assert_int_equal(pv_sig_parse(PV_SIGFMT_RAW, raw, 64, PV_ALG_P256, out, 63, &n), PV_ERR_USAGE);
	assert_int_equal(pv_sig_parse(PV_SIGFMT_RAW, raw, 32, PV_ALG_HMAC_SHA256, out, sizeof(out), &n),
			 PV_OK);
}

static void
test_encode_formats(void **state)
{
	uint8_t raw[96], back[96];
	uint8_t *enc = NULL;
	size_t elen, n;

	assert_int_equal(RAND_bytes(raw, sizeof(raw)), 1);
	raw[0] |= 1;
	raw[48] |= 1;
	assert_int_equal(pv_sig_encode(PV_SIGFMT_RAW, PV_ALG_P384, raw, 96, &enc, &elen), PV_OK);
	assert_int_equal(elen, 96);
	assert_memory_equal(enc, raw, 96);
	free(enc);
	assert_int_equal(pv_sig_encode(PV_SIGFMT_DER, PV_ALG_P384, raw, 96, &enc, &elen), PV_OK);
	assert_int_equal(pv_ecdsa_der_to_raw(enc, elen, 48, back, &n), PV_OK);
	assert_memory_equal(back, raw, 96);
	free(enc);
	assert_int_equal(pv_sig_encode(PV_SIGFMT_DER, PV_ALG_ED25519, raw, 64, &enc, &elen), PV_ERR_USAGE);
	assert_null(enc);
	assert_int_equal(pv_sig_encode(PV_SIGFMT_RAW, PV_ALG_P384, raw, 64, &enc, &elen), PV_ERR_BAD_INPUT);
	assert_int_equal(pv_sig_encode(PV_SIGFMT_RAW, PV_ALG_AES256, raw, 64, &enc, &elen), PV_ERR_KEY_TYPE);
}

/* Sign a 32-byte digest with OpenSSL and return the raw r||s. */
static void
k1_sign(EVP_PKEY *pk, const uint8_t dgst[32], uint8_t rs[64])
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
	uint8_t der[80];
	size_t derlen = sizeof(der), n = 0;

	assert_non_null(ctx);
	assert_int_equal(EVP_PKEY_sign_init(ctx), 1);
	assert_int_equal(EVP_PKEY_sign(ctx, der, &derlen, dgst, 32), 1);
	assert_int_equal(pv_ecdsa_der_to_raw(der, derlen, 32, rs, &n), PV_OK);
	EVP_PKEY_CTX_free(ctx);
}

/* OpenSSL's verdict on r||s (it accepts high and low S alike). */
static int
k1_verify(EVP_PKEY *pk, const uint8_t dgst[32], const uint8_t rs[64])
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
	uint8_t *der = NULL;
	size_t derlen = 0;
	int ok;

	assert_non_null(ctx);
	assert_int_equal(pv_ecdsa_raw_to_der(rs, 64, 32, &der, &derlen), PV_OK);
	assert_int_equal(EVP_PKEY_verify_init(ctx), 1);
	ok = EVP_PKEY_verify(ctx, der, derlen, dgst, 32) == 1;
	EVP_PKEY_CTX_free(ctx);
	free(der);
	return ok;
}

/*
 * For a valid (r, s), (r, n - s) is valid too. Exactly one of them is
 * high-S; normalising either gives the low one, which still verifies.
 */
static void
test_low_s(void **state)
{
	EVP_PKEY *pk = EVP_EC_gen("secp256k1");
	BIGNUM *n = NULL, *s = NULL, *half = NULL;
	uint8_t dgst[32], sig[64], other[64], high[64], low[64], tmp[64], *enc = NULL;
	size_t elen = 0;
	int flipped = -1, round;

	assert_non_null(pk);
	assert_non_null(BN_hex2bn(&n, k1_order_hex));
	half = BN_dup(n);
	assert_non_null(half);
	assert_int_equal(BN_rshift1(half, half), 1);
	for (round = 0; round < 8; round++) {
		assert_int_equal(RAND_bytes(dgst, sizeof(dgst)), 1);
		k1_sign(pk, dgst, sig);
		/* other = r || n - s */
		s = BN_bin2bn(sig + 32, 32, NULL);
		assert_non_null(s);
		assert_int_equal(BN_sub(s, n, s), 1);
		memcpy(other, sig, 32);
		assert_int_equal(BN_bn2binpad(s, other + 32, 32), 32);
		BN_free(s);
		assert_true(k1_verify(pk, dgst, sig));
		assert_true(k1_verify(pk, dgst, other));

		s = BN_bin2bn(sig + 32, 32, NULL);
		memcpy(high, BN_cmp(s, half) > 0 ? sig : other, 64);
		memcpy(low, BN_cmp(s, half) > 0 ? other : sig, 64);
		BN_free(s);

		memcpy(tmp, high, 64);
		assert_int_equal(pv_secp256k1_low_s(tmp, &flipped), PV_OK);
		assert_int_equal(flipped, 1);
		assert_memory_equal(tmp, low, 64);
		assert_true(k1_verify(pk, dgst, tmp));
		s = BN_bin2bn(tmp + 32, 32, NULL);
		assert_true(BN_cmp(s, half) <= 0);
		BN_free(s);

		memcpy(tmp, low, 64);
		assert_int_equal(pv_secp256k1_low_s(tmp, &flipped), PV_OK);
		assert_int_equal(flipped, 0);
		assert_memory_equal(tmp, low, 64);

		/* every output path emits low-S */
		assert_int_equal(pv_sig_encode(PV_SIGFMT_RAW, PV_ALG_SECP256K1, high, 64, &enc, &elen),
				 PV_OK);
		assert_memory_equal(enc, low, 64);
		free(enc);
	}
	/* r = n is not a scalar */
	memset(tmp, 0x11, sizeof(tmp));
	assert_int_equal(BN_bn2binpad(n, tmp, 32), 32);
	assert_int_equal(pv_secp256k1_low_s(tmp, &flipped), PV_ERR_BAD_INPUT);
	BN_free(n);
	BN_free(half);
	EVP_PKEY_free(pk);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_format_names),         cmocka_unit_test(test_der_known_encoding),
	    cmocka_unit_test(test_der_round_trip),       cmocka_unit_test(test_der_malformed),
	    cmocka_unit_test(test_raw_to_der_rejects),   cmocka_unit_test(test_raw_to_der_buf),
	    cmocka_unit_test(test_der_integer_too_long), cmocka_unit_test(test_parse_formats),
	    cmocka_unit_test(test_encode_formats),       cmocka_unit_test(test_low_s),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
