#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/b64.h"
#include "wallet/base58.h"

/* Bitcoin Core, src/test/data/base58_encode_decode.json: [hex, base58]. */
static const char *const core_vectors[][2] = {
    {"", ""},
    {"61", "2g"},
    {"626262", "a3gV"},
    {"636363", "aPEr"},
    {"73696d706c792061206c6f6e6720737472696e67", "2cFupjhnEsSn59qHXstmK2ffpLv2"},
    {"00eb15231dfceb60925886b67d065299925915aeb172c06647", "1NS17iag9jJgTHD1VXjvLCEnZuQ3rJDE9L"},
    {"516b6fcd0f", "ABnLTmg"},
    {"bf4f89001e670274dd", "3SEo3LWLoPntC"},
    {"572e4794", "3EFU7m"},
    {"ecac89cad93923c02321", "EJDM8drfXA6uyA"},
    {"10c8511e", "Rt5zm"},
    {"00000000000000000000", "1111111111"},
    {"00000000000000000000000000000000000000000000000000000000000000000000000000000000",
     "1111111111111111111111111111111111111111"},
    {"00000000000000000000000000000000000000000000000000000000000000000000000000000001",
     "1111111111111111111111111111111111111112"},
    {"0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
     "000000000000000000000000000000000000000000000000000000000000000000ec39d04c37e71e5d591881f6",
     "111111111111111111111111111111111111111111111111111111111111111111111111111111111111115TYzLYH1udmLdzCLM"},
    {"000111d38e5fc9071ffcd20b4a763cc9ae4f252bb4e48fd66a835e252ada93ff480d6dd43dc62a641155a5",
     "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"},
    {"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132"
     "333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f60616263646566"
     "6768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f909192939495969798999a"
     "9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdce"
     "cfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
     "1cWB5HCBdLjAuqGGReWE3R3CguuwSjw6RHn39s2yuDRTS5NsBgNiFpWgAnEx6VQi8csexkgYw3mdYrMHr8x9i7aEwP8kZ7vccXWqKDvGv3u1G"
     "xFKPuAkn8JCPPGDMf3vMMnbzm6Nh9zh1gcNsMvH3ZNLmP5fSG6DGbbi2tuwMWPthr4boWwCxf7ewSgNQeacyozhKDDQQ1qL5fQFUW52QKUZDZ"
     "5fw3KXNQJMcNTcaB723LchjeKun7MuGW5qyCBZYzA1KjofN1gYBV3NqyhQJ3Ns746GNuf9N2pQPmHz4xpnSrrfCvy6TVVz5d4PdrjeshsWQwp"
     "ZsZGzvbdAdN8MKV5QsBDY"},
    {"271F359E", "zzzzy"},
    {"271F359F", "zzzzz"},
    {"271F35A0", "211111"},
    {"271F35A1", "211112"},
};

/* The SPL Token program id, TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA
 * (declare_id! in solana-program-library token/program/src/lib.rs). */
static const uint8_t spl_token_id[32] = {6,  221, 246, 225, 215, 101, 161, 147, 217, 203, 225,
					 70, 206, 235, 121, 172, 28,  180, 133, 237, 95,  91,
					 55, 145, 58,  140, 245, 133, 126, 255, 0,   169};

static void
test_core_vectors(void **state)
{
	uint8_t bin[256], dec[256];
	char text[512];
	size_t i, binlen, n;
	const char *hex, *b58;

	for (i = 0; i < PV_NELEM(core_vectors); i++) {
		hex = core_vectors[i][0];
		b58 = core_vectors[i][1];
		assert_int_equal(pv_hex_decode(hex, strlen(hex), bin, sizeof(bin), &binlen), PV_OK);

		memset(text, 'x', sizeof(text));
		assert_int_equal(pv_base58_encode(bin, binlen, text, sizeof(text), &n), PV_OK);
		assert_int_equal(n, strlen(b58));
		assert_string_equal(text, b58);

		memset(dec, 0xaa, sizeof(dec));
		assert_int_equal(pv_base58_decode(b58, strlen(b58), dec, sizeof(dec), &n), PV_OK);
		assert_int_equal(n, binlen);
		assert_memory_equal(dec, bin, n);
	}
}

/* Solana's System Program id is 32 zero bytes. */
static void
test_solana_addresses(void **state)
{
	static const char system_program[] = "11111111111111111111111111111111";
	static const char spl_token[] = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA";
	uint8_t zeros[32] = {0}, key[32];
	char addr[PV_SOLANA_ADDRESS_SIZE];

	assert_int_equal(pv_solana_address(zeros, addr), PV_OK);
	assert_string_equal(addr, system_program);
	memset(key, 0xaa, sizeof(key));
	assert_int_equal(pv_solana_address_parse(system_program, key), PV_OK);
	assert_memory_equal(key, zeros, sizeof(key));

	assert_int_equal(pv_solana_address(spl_token_id, addr), PV_OK);
	assert_string_equal(addr, spl_token);
	assert_int_equal(pv_solana_address_parse(spl_token, key), PV_OK);
	assert_memory_equal(key, spl_token_id, sizeof(key));
}

/* The longest address (44 characters) fits the 45-byte buffer. */
static void
test_solana_address_longest(void **state)
{
	uint8_t ff[32], key[32];
	char addr[PV_SOLANA_ADDRESS_SIZE];

	memset(ff, 0xff, sizeof(ff));
	assert_int_equal(pv_solana_address(ff, addr), PV_OK);
	assert_int_equal(strlen(addr), PV_SOLANA_ADDRESS_MAX);
	assert_int_equal(pv_solana_address_parse(addr, key), PV_OK);
	assert_memory_equal(key, ff, sizeof(key));
}

static void
test_solana_address_parse_rejects(void **state)
{
	static const char *const bad[] = {
	    "",
	    "1111111111111111111111111111111",               /* 31 chars */
	    "111111111111111111111111111111111",             /* 33 zero bytes */
	    "21111111111111111111111111111111",              /* 58^31: 23 bytes */
	    "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",  /* 44 chars, 33 bytes */
	    "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DAx",  /* 44 chars, 33 bytes */
	    "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA1x", /* 45 chars */
	    "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5Dl",   /* 'l' */
	    "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5D0",   /* '0' */
	    " TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA",  /* whitespace */
	    "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA\n",
	};
	uint8_t key[32], untouched[32];
	size_t i;

	memset(untouched, 0x5a, sizeof(untouched));
	for (i = 0; i < PV_NELEM(bad); i++) {
		memcpy(key, untouched, sizeof(key));
		pv_err_clear_detail();
		assert_int_equal(pv_solana_address_parse(bad[i], key), PV_ERR_BAD_INPUT);
		assert_memory_equal(key, untouched, sizeof(key));
		assert_true(strlen(pv_err_detail()) > 0);
	}
	assert_int_equal(pv_solana_address_parse(NULL, key), PV_ERR_USAGE);
	assert_int_equal(pv_solana_address(NULL, (char[PV_SOLANA_ADDRESS_SIZE]){0}), PV_ERR_USAGE);
}

/* Encoding each value 1..57 as one byte gives the alphabet in order; the
 * decoder's character ranges must agree. */
static void
test_alphabet_order(void **state)
{
	static const char alphabet[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
	uint8_t v, out[4];
	char text[4];
	size_t i, n;

	for (i = 1; i < 58; i++) {
		v = (uint8_t)i;
		assert_int_equal(pv_base58_encode(&v, 1, text, sizeof(text), &n), PV_OK);
		assert_int_equal(n, 1);
		assert_int_equal(text[0], alphabet[i]);
		assert_int_equal(pv_base58_decode(&alphabet[i], 1, out, sizeof(out), &n), PV_OK);
		assert_int_equal(n, 1);
		assert_int_equal(out[0], i);
	}
}

/* Every byte that is not an alphabet character is refused, wherever it is. */
static void
test_decode_rejects_characters(void **state)
{
	static const char alphabet[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
	char text[4] = {'2', 'g', '2', 'g'};
	uint8_t out[8];
	size_t n, pos;
	unsigned c;

	for (c = 0; c < 256; c++) {
		if (c != 0 && strchr(alphabet, (int)c) != NULL)
			continue;
		for (pos = 0; pos < sizeof(text); pos++) {
			text[pos] = (char)c;
			memset(out, 0xaa, sizeof(out));
			n = 99;
			pv_err_clear_detail();
			assert_int_equal(pv_base58_decode(text, sizeof(text), out, sizeof(out), &n),
					 PV_ERR_BAD_INPUT);
			assert_int_equal(n, 0);
			assert_int_equal(out[0], 0xaa);
			assert_non_null(strstr(pv_err_detail(), "offset"));
			text[pos] = pos % 2 ? 'g' : '2';
		}
	}
}

static void
test_decode_limits(void **state)
{
	char text[PV_BASE58_MAX_TEXT + 1];
	uint8_t out[PV_BASE58_MAX_TEXT + 1], zeros[PV_BASE58_MAX_TEXT] = {0};
	size_t n;

	/* 1 KiB of '1's is the most text accepted: 1 KiB of zero bytes */
	memset(text, '1', sizeof(text));
	assert_int_equal(pv_base58_decode(text, PV_BASE58_MAX_TEXT, out, sizeof(out), &n), PV_OK);
	assert_int_equal(n, PV_BASE58_MAX_TEXT);
	assert_memory_equal(out, zeros, n);
	n = 99;
	assert_int_equal(pv_base58_decode(text, PV_BASE58_MAX_TEXT + 1, out, sizeof(out), &n),
			 PV_ERR_TOO_LARGE);
	assert_int_equal(n, 0);

	/* the largest value of 1 KiB of text still has room in the work space */
	memset(text, 'z', sizeof(text));
	assert_int_equal(pv_base58_decode(text, PV_BASE58_MAX_TEXT, out, sizeof(out), &n), PV_OK);
	assert_int_equal(n, 750); /* ceil(1024 * log(58) / log(256)) */

	/* output room: exact fit works, one byte short does not */
	assert_int_equal(pv_base58_decode("a3gV", 4, out, 3, &n), PV_OK);
	assert_int_equal(n, 3);
	memset(out, 0xaa, sizeof(out));
	n = 99;
	assert_int_equal(pv_base58_decode("a3gV", 4, out, 2, &n), PV_ERR_TOO_LARGE);
	assert_int_equal(n, 0);
	assert_int_equal(out[0], 0xaa);
	assert_int_equal(pv_base58_decode("1111", 4, out, 3, &n), PV_ERR_TOO_LARGE);
	assert_int_equal(pv_base58_decode("2g", 2, NULL, 0, &n), PV_ERR_TOO_LARGE);
	assert_int_equal(pv_base58_decode("", 0, NULL, 0, &n), PV_OK);
	assert_int_equal(n, 0);
}

static void
test_encode_limits(void **state)
{
	uint8_t bin[PV_BASE58_MAX_TEXT + 1];
	char text[2 * PV_BASE58_MAX_TEXT];
	size_t n;

	/* zero bytes encode one character each, up to the text limit */
	memset(bin, 0, sizeof(bin));
	assert_int_equal(pv_base58_encode(bin, PV_BASE58_MAX_TEXT, text, sizeof(text), &n), PV_OK);
	assert_int_equal(n, PV_BASE58_MAX_TEXT);
	assert_int_equal(strspn(text, "1"), PV_BASE58_MAX_TEXT);
	assert_int_equal(text[n], '\0');
	n = 99;
	assert_int_equal(pv_base58_encode(bin, PV_BASE58_MAX_TEXT + 1, text, sizeof(text), &n),
			 PV_ERR_TOO_LARGE);
	assert_int_equal(n, 0);
	assert_string_equal(text, "");

	/* 749 bytes of 0xff encode to 1023 characters, 750 to 1025 */
	memset(bin, 0xff, sizeof(bin));
	assert_int_equal(pv_base58_encode(bin, 749, text, sizeof(text), &n), PV_OK);
	assert_int_equal(n, 1023);
	n = 99;
	assert_int_equal(pv_base58_encode(bin, 750, text, sizeof(text), &n), PV_ERR_TOO_LARGE);
	assert_int_equal(n, 0);
	assert_int_equal(pv_base58_encode(bin, PV_BASE58_MAX_TEXT, text, sizeof(text), &n), PV_ERR_TOO_LARGE);

	/* the NUL needs room too */
	assert_int_equal(pv_base58_encode((const uint8_t *)"a", 1, text, 3, &n), PV_OK);
	assert_string_equal(text, "2g");
	assert_int_equal(pv_base58_encode((const uint8_t *)"a", 1, text, 2, &n), PV_ERR_TOO_LARGE);
	assert_int_equal(n, 0);
	assert_string_equal(text, "");
	assert_int_equal(pv_base58_encode(NULL, 0, text, 1, &n), PV_OK);
	assert_string_equal(text, "");
	assert_int_equal(pv_base58_encode(NULL, 0, NULL, 0, &n), PV_ERR_TOO_LARGE);
}

static void
test_usage_errors(void **state)
{
	uint8_t out[4];
	char text[4];
	size_t n;

	assert_int_equal(pv_base58_encode(NULL, 1, text, sizeof(text), &n), PV_ERR_USAGE);
	assert_int_equal(pv_base58_encode((const uint8_t *)"a", 1, NULL, 4, &n), PV_ERR_USAGE);
	assert_int_equal(pv_base58_encode((const uint8_t *)"a", 1, text, sizeof(text), NULL), PV_ERR_USAGE);
	assert_int_equal(pv_base58_decode(NULL, 1, out, sizeof(out), &n), PV_ERR_USAGE);
	assert_int_equal(pv_base58_decode("2g", 2, NULL, 4, &n), PV_ERR_USAGE);
	assert_int_equal(pv_base58_decode("2g", 2, out, sizeof(out), NULL), PV_ERR_USAGE);
}

/* Deterministic pseudo-random bytes (xorshift32), with runs of leading
 * zeros, survive encode then decode, and the text re-encodes unchanged. */
static void
test_round_trip(void **state)
{
	uint8_t bin[300], dec[300];
	char text[512];
	uint32_t x = 0x2545f491;
	size_t len, lead, i, n, tn;

	for (len = 0; len <= sizeof(bin); len += 7) {
		for (lead = 0; lead <= 3 && lead <= len; lead++) {
			for (i = 0; i < len; i++) {
				x ^= x << 13;
				x ^= x >> 17;
				x ^= x << 5;
				bin[i] = i < lead ? 0 : (uint8_t)x;
			}
			assert_int_equal(pv_base58_encode(bin, len, text, sizeof(text), &tn), PV_OK);
			assert_int_equal(strspn(text, "1") >= lead, 1);
			assert_int_equal(pv_base58_decode(text, tn, dec, sizeof(dec), &n), PV_OK);
			assert_int_equal(n, len);
			assert_memory_equal(dec, bin, len);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_core_vectors),
	    cmocka_unit_test(test_solana_addresses),
	    cmocka_unit_test(test_solana_address_longest),
	    cmocka_unit_test(test_solana_address_parse_rejects),
	    cmocka_unit_test(test_alphabet_order),
	    cmocka_unit_test(test_decode_rejects_characters),
	    cmocka_unit_test(test_decode_limits),
	    cmocka_unit_test(test_encode_limits),
	    cmocka_unit_test(test_usage_errors),
	    cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
