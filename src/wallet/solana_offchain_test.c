/*
 * Solana off-chain message (version 0) builder tests. Known answers made
 * by @solana/offchain-messages 8.4.0 (compileOffchainMessageV0Envelope;
 * application domain 32 bytes of 0x22, one signer of 32 bytes of 0x01),
 * which also set the format limits checked here: 1147 printable ASCII
 * bytes fit format 0 with one signer (1232 in all), 1148 do not.
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

#include "base/buf.h"
#include "wallet/solana_offchain.h"
#include "wallet/solana_tx.h"

/* clang-format off */
static const char kit_ascii_hex[] =
	"ff736f6c616e61206f6666636861696e" "00"
	"2222222222222222222222222222222222222222222222222222222222222222" "00" "01"
	"0101010101010101010101010101010101010101010101010101010101010101" "1600"
	"5369676e20696e20746f206578616d706c652e636f6d";
static const char kit_utf8_hex[] =
	"ff736f6c616e61206f6666636861696e" "00"
	"2222222222222222222222222222222222222222222222222222222222222222" "01" "01"
	"0101010101010101010101010101010101010101010101010101010101010101" "0a00"
	"68c3a96c6c6f20e29c93";
/* the first 100 bytes of 1148 'x' (format 2, length 0x047c) */
static const char kit_long_head_hex[] =
	"ff736f6c616e61206f6666636861696e" "00"
	"2222222222222222222222222222222222222222222222222222222222222222" "02" "01"
	"0101010101010101010101010101010101010101010101010101010101010101" "7c04"
	"787878787878787878787878787878";
/* clang-format on */

static uint8_t app_domain[32], signer[32];

static size_t
unhex(const char *hex, uint8_t *out, size_t max)
{
	size_t n = strlen(hex) / 2, i;
	unsigned v;

	assert_true(n <= max);
	for (i = 0; i < n; i++) {
		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
	return n;
}

/* Build with one signer into a fresh buffer of max bytes. */
static pv_err
build(const void *body, size_t len, size_t max, pv_buf **out, pv_solana_offchain_format *f)
{
	assert_int_equal(pv_buf_new(max, out), PV_OK);
	return pv_solana_offchain_build(app_domain, signer, 1, body, len, *out, f);
}

static void
expect_kit(const char *hex, const char *body, pv_solana_offchain_format want)
{
	uint8_t exp[2048];
	pv_solana_offchain_format f = 99;
	pv_buf *b = NULL;
	size_t n, used = 7;

	n = unhex(hex, exp, sizeof(exp));
	assert_int_equal(build(body, strlen(body), 70000, &b, &f), PV_OK);
	assert_int_equal(f, want);
	assert_int_equal(pv_buf_len(b), n);
	assert_memory_equal(pv_buf_ptr(b), exp, n);
	assert_true(pv_solana_offchain_has_domain(pv_buf_ptr(b), pv_buf_len(b)));
	assert_int_equal(pv_solana_tx_prefix(pv_buf_ptr(b), pv_buf_len(b), &used), PV_SOLANA_PREFIX_NONE);
	pv_buf_free(b);
}

static void
test_known_answers(void **state)
{
	uint8_t head[100], *x = NULL;
	pv_solana_offchain_format f = 99;
	pv_buf *b = NULL;

	(void)state;
	expect_kit(kit_ascii_hex, "Sign in to example.com", PV_SOLANA_OFFCHAIN_ASCII);
	expect_kit(kit_utf8_hex, "h\xc3\xa9llo \xe2\x9c\x93", PV_SOLANA_OFFCHAIN_UTF8);

	assert_non_null(x = malloc(1148));
	memset(x, 'x', 1148);
	assert_int_equal(build(x, 1148, 70000, &b, &f), PV_OK);
	assert_int_equal(f, PV_SOLANA_OFFCHAIN_UTF8_LONG);
	assert_int_equal(pv_buf_len(b), 85 + 1148);
	assert_int_equal(unhex(kit_long_head_hex, head, sizeof(head)), 100);
	assert_memory_equal(pv_buf_ptr(b), head, 100);
	assert_memory_equal(pv_buf_ptr(b) + 85, x, 1148);
	pv_buf_free(b);
	free(x);

	assert_string_equal(pv_solana_offchain_format_name(PV_SOLANA_OFFCHAIN_ASCII), "ascii");
	assert_string_equal(pv_solana_offchain_format_name(PV_SOLANA_OFFCHAIN_UTF8), "utf8");
	assert_string_equal(pv_solana_offchain_format_name(PV_SOLANA_OFFCHAIN_UTF8_LONG), "utf8-long");
}

/* The first format that fits: 1232 bytes in all for formats 0 and 1
 * (85-byte preamble with one signer, 32 more per signer). */
static void
test_format_limits(void **state)
{
	uint8_t *body = malloc(PV_SOLANA_OFFCHAIN_BODY_MAX + 1), signers[64];
	pv_solana_offchain_format f = 99;
	pv_buf *b = NULL;

	(void)state;
	assert_non_null(body);
	memset(body, 'a', PV_SOLANA_OFFCHAIN_BODY_MAX + 1);
	assert_int_equal(build(body, 1147, 70000, &b, &f), PV_OK);
	assert_int_equal(f, PV_SOLANA_OFFCHAIN_ASCII);
	assert_int_equal(pv_buf_len(b), 1232);
	pv_buf_free(b);
	assert_int_equal(build(body, 1148, 70000, &b, &f), PV_OK);
	assert_int_equal(f, PV_SOLANA_OFFCHAIN_UTF8_LONG);
	pv_buf_free(b);

	/* a newline is not printable ASCII: UTF-8 */
	body[0] = '\n';
	assert_int_equal(build(body, 1147, 70000, &b, &f), PV_OK);
	assert_int_equal(f, PV_SOLANA_OFFCHAIN_UTF8);
	pv_buf_free(b);
	assert_int_equal(build(body, 1148, 70000, &b, &f), PV_OK);
	assert_int_equal(f, PV_SOLANA_OFFCHAIN_UTF8_LONG);
	pv_buf_free(b);
	body[0] = 'a';

	/* two signers: 32 bytes less for the body */
	memset(signers, 0x01, 32);
	memset(signers + 32, 0x02, 32);
	assert_int_equal(pv_buf_new(70000, &b), PV_OK);
	assert_int_equal(pv_solana_offchain_build(app_domain, signers, 2, body, 1115, b, &f), PV_OK);
	assert_int_equal(f, PV_SOLANA_OFFCHAIN_ASCII);
	assert_int_equal(pv_buf_len(b), 1232);
	assert_int_equal(pv_buf_ptr(b)[0x32], 2);
	assert_memory_equal(pv_buf_ptr(b) + 0x33, signers, 64);
	pv_buf_reset(b);
	assert_int_equal(pv_solana_offchain_build(app_domain, signers, 2, body, 1116, b, &f), PV_OK);
	assert_int_equal(f, PV_SOLANA_OFFCHAIN_UTF8_LONG);
	pv_buf_free(b);

	/* the largest body, and one byte more */
	assert_int_equal(build(body, PV_SOLANA_OFFCHAIN_BODY_MAX, 70000, &b, &f), PV_OK);
	assert_int_equal(pv_buf_len(b), 85 + 65535);
	assert_int_equal(pv_buf_ptr(b)[83], 0xff);
	assert_int_equal(pv_buf_ptr(b)[84], 0xff);
	pv_buf_free(b);
	assert_int_equal(build(body, PV_SOLANA_OFFCHAIN_BODY_MAX + 1, 70000, &b, &f), PV_ERR_TOO_LARGE);
	assert_int_equal(pv_buf_len(b), 0);
	pv_buf_free(b);
	free(body);
}

/* Refused, appending nothing. */
static void
expect_refused(const void *body, size_t len, size_t nsigners, pv_err want)
{
	uint8_t signers[256 * 32];
	pv_solana_offchain_format f = 99;
	pv_buf *b = NULL;

	memset(signers, 0x01, sizeof(signers));
	assert_int_equal(pv_buf_new(70000, &b), PV_OK);
	assert_int_equal(pv_buf_put(b, "x", 1), PV_OK);
	assert_int_equal(pv_solana_offchain_build(app_domain, signers, nsigners, body, len, b, &f), want);
	assert_int_equal(pv_buf_len(b), 1);
	assert_int_equal(f, 99);
	pv_buf_free(b);
}

static void
test_refusals(void **state)
{
	pv_solana_offchain_format f = 99;
	pv_buf *b = NULL;

	(void)state;
	expect_refused("", 0, 1, PV_ERR_BAD_INPUT);
	expect_refused(NULL, 0, 1, PV_ERR_BAD_INPUT);
	/* not UTF-8: a lone 0xff, an overlong NUL, a surrogate, a cut sequence */
	expect_refused("\xff", 1, 1, PV_ERR_BAD_INPUT);
	expect_refused("a\xc0\x80", 3, 1, PV_ERR_BAD_INPUT);
	expect_refused("\xed\xa0\x80", 3, 1, PV_ERR_BAD_INPUT);
	expect_refused("\xe2\x9c", 2, 1, PV_ERR_BAD_INPUT);
	/* signer counts */
	expect_refused("hi", 2, 0, PV_ERR_BAD_INPUT);
	expect_refused("hi", 2, 256, PV_ERR_BAD_INPUT);
	/* 255 signers: a long-format message still */
	{
		uint8_t signers[255 * 32];

		memset(signers, 0x03, sizeof(signers));
		assert_int_equal(pv_buf_new(70000, &b), PV_OK);
		assert_int_equal(
		    pv_solana_offchain_build(app_domain, signers, 255, (const uint8_t *)"hi", 2, b, &f),
		    PV_OK);
		assert_int_equal(f, PV_SOLANA_OFFCHAIN_UTF8_LONG);
		assert_int_equal(pv_buf_len(b), 53 + 255 * 32 + 2);
		pv_buf_free(b);
	}
	/* an output buffer too small: nothing written */
	assert_int_equal(build("Sign in", 7, 90, &b, &f), PV_ERR_TOO_LARGE);
	assert_int_equal(pv_buf_len(b), 0);
	pv_buf_free(b);
	assert_int_equal(build("Sign in", 7, 92, &b, &f), PV_OK);
	pv_buf_free(b);
}

/* Whatever is built, no transaction parser takes it. */
static void
test_never_a_transaction(void **state)
{
	static const char *const bodies[] = {"a", "\x01", "\xc2\x80", "\x7f\x7f\x7f", "Sign in"};
	pv_solana_offchain_format f;
	pv_buf *b = NULL;
	size_t i, used = 0;
	unsigned d;

	(void)state;
	for (d = 0; d < 256; d += 17) {
		memset(app_domain, (int)d, sizeof(app_domain));
		for (i = 0; i < PV_NELEM(bodies); i++) {
			assert_int_equal(build(bodies[i], strlen(bodies[i]), 70000, &b, &f), PV_OK);
			assert_int_equal(pv_solana_tx_prefix(pv_buf_ptr(b), pv_buf_len(b), &used),
					 PV_SOLANA_PREFIX_NONE);
			pv_buf_free(b);
		}
	}
	memset(app_domain, 0x22, sizeof(app_domain));
	assert_false(pv_solana_offchain_has_domain((const uint8_t *)"\xffsolana offchai", 15));
	assert_false(pv_solana_offchain_has_domain((const uint8_t *)"\xfesolana offchain", 16));
	assert_true(pv_solana_offchain_has_domain((const uint8_t *)"\xffsolana offchain", 16));
	assert_false(pv_solana_offchain_has_domain(NULL, 0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_known_answers),
	    cmocka_unit_test(test_format_limits),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_never_a_transaction),
	};

	memset(app_domain, 0x22, sizeof(app_domain));
	memset(signer, 0x01, sizeof(signer));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
