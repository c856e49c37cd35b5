#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/crypto.h>

#include "wallet/rlp.h"

static const char lorem[] = "Lorem ipsum dolor sit amet, consectetur adipisicing elit";

/* Hex string -> bytes with OpenSSL (independent of the code under test). */
static uint8_t *
unhex(const char *hex, size_t *len)
{
	long n = 0;
	uint8_t *p;

	if (*hex == '\0') {
		*len = 0;
		return OPENSSL_zalloc(1);
	}
	p = OPENSSL_hexstr2buf(hex, &n);
	assert_non_null(p);
	*len = (size_t)n;
	return p;
}

static pv_buf *
new_out(void)
{
	pv_buf *b = NULL;

	assert_int_equal(pv_buf_new(4096, &b), PV_OK);
	return b;
}

static void
assert_buf_hex(const pv_buf *b, const char *hex)
{
	size_t n;
	uint8_t *want = unhex(hex, &n);

	assert_int_equal(pv_buf_len(b), n);
	assert_memory_equal(pv_buf_ptr(b), want, n);
	OPENSSL_free(want);
}

/* Decode hex that must be refused with the given error. */
static void
check_invalid(const char *hex, pv_err want)
{
	pv_rlp_item it;
	size_t n;
	uint8_t *in = unhex(hex, &n);

	assert_int_equal(pv_rlp_decode_all(in, n, &it), want);
	assert_null(it.raw);
	OPENSSL_free(in);
}

/* Decode hex that must be accepted: one string with the given payload. */
static void
check_string(const char *hex, const void *payload, size_t len)
{
	pv_rlp_item it;
	size_t n;
	uint8_t *in = unhex(hex, &n);

	assert_int_equal(pv_rlp_decode_all(in, n, &it), PV_OK);
	assert_int_equal(it.kind, PV_RLP_STRING);
	assert_int_equal(it.len, len);
	if (len > 0)
		assert_memory_equal(it.payload, payload, len);
	assert_ptr_equal(it.raw, in);
	assert_int_equal(it.raw_len, n);
	OPENSSL_free(in);
}

/* ethereum/tests RLPTests/rlptest.json: strings. */
static void
test_kat_strings(void **state)
{
	pv_buf *b = new_out();
	char lorem_hex[2 * 58 + 1];
	size_t i;

	(void)state;
	assert_int_equal(pv_rlp_put_string(b, "", 0), PV_OK); /* emptystring */
	assert_buf_hex(b, "80");
	pv_buf_reset(b);
	assert_int_equal(pv_rlp_put_string(b, "dog", 3), PV_OK); /* shortstring */
	assert_buf_hex(b, "83646f67");
	pv_buf_reset(b);
	assert_int_equal(pv_rlp_put_string(b, lorem, 56), PV_OK); /* longstring */
	snprintf(lorem_hex, sizeof(lorem_hex), "b838");
	for (i = 0; i < 56; i++)
		snprintf(lorem_hex + 4 + 2 * i, 3, "%02x", (unsigned char)lorem[i]);
	assert_buf_hex(b, lorem_hex);
	pv_buf_free(b);

	check_string("80", "", 0);
	check_string("83646f67", "dog", 3);
	check_string(lorem_hex, lorem, 56);
	check_string("0f", "\x0f", 1);
	check_string("00", "\x00", 1);
	check_string("8180", "\x80", 1);
	/* 55 bytes: the last short form */
	{
		char hex[2 * 56 + 1];

		snprintf(hex, sizeof(hex), "b7");
		for (i = 0; i < 55; i++)
			snprintf(hex + 2 + 2 * i, 3, "%02x", (unsigned char)lorem[i]);
		check_string(hex, lorem, 55);
	}
}

/* ethereum/tests RLPTests/rlptest.json: integers (smallint, mediumint*). */
static void
test_kat_uint(void **state)
{
	static const struct {
		uint64_t v;
		const char *hex;
	} kat[] = {
	    {0, "80"},
	    {1, "01"},
	    {16, "10"},
	    {79, "4f"},
	    {127, "7f"},
	    {128, "8180"},
	    {1000, "8203e8"},
	    {1024, "820400"},
	    {100000, "830186a0"},
	    {UINT64_C(0xffffffffffffffff), "88ffffffffffffffff"},
	};
	pv_rlp_item it;
	uint64_t v;
	uint8_t *in;
	size_t i, n;
	pv_buf *b = new_out();

	(void)state;
	for (i = 0; i < PV_NELEM(kat); i++) {
		pv_buf_reset(b);
		assert_int_equal(pv_rlp_put_uint64(b, kat[i].v), PV_OK);
		assert_buf_hex(b, kat[i].hex);
		in = unhex(kat[i].hex, &n);
		assert_int_equal(pv_rlp_decode_all(in, n, &it), PV_OK);
		v = 12345;
		assert_int_equal(pv_rlp_get_uint64(&it, &v), PV_OK);
		assert_true(v == kat[i].v);
		OPENSSL_free(in);
	}
	pv_buf_free(b);
}

/* rlptest.json bigint (2^248) and the uint256 extremes. */
static void
test_kat_uint256(void **state)
{
	uint8_t be[32], got[32];
	char hex[2 + 64 + 1];
	pv_rlp_item it;
	uint8_t *in;
	size_t n;
	pv_buf *b = new_out();

	(void)state;
	memset(be, 0, sizeof(be));
	be[0] = 0x01; /* 0x0100..00 as 32 bytes: 2^248 */
	assert_int_equal(pv_rlp_put_uint256(b, be), PV_OK);
	snprintf(hex, sizeof(hex), "a001%062d", 0);
	assert_buf_hex(b, hex);
	in = unhex(hex, &n);
	assert_int_equal(pv_rlp_decode_all(in, n, &it), PV_OK);
	assert_int_equal(pv_rlp_get_uint256(&it, got), PV_OK);
	assert_memory_equal(got, be, 32);
	assert_int_equal(pv_rlp_get_uint64(&it, &(uint64_t){0}), PV_ERR_TOO_LARGE);
	OPENSSL_free(in);

	memset(be, 0xff, sizeof(be)); /* 2^256 - 1 */
	pv_buf_reset(b);
	assert_int_equal(pv_rlp_put_uint256(b, be), PV_OK);
	assert_int_equal(pv_buf_len(b), 33);
	assert_int_equal(pv_rlp_decode_buf(b, &it), PV_OK);
	assert_int_equal(pv_rlp_get_uint256(&it, got), PV_OK);
	assert_memory_equal(got, be, 32);

	memset(be, 0, sizeof(be)); /* zero is the empty string */
	pv_buf_reset(b);
	assert_int_equal(pv_rlp_put_uint256(b, be), PV_OK);
	assert_buf_hex(b, "80");
	memset(got, 0xaa, sizeof(got));
	assert_int_equal(pv_rlp_decode_buf(b, &it), PV_OK);
	assert_int_equal(pv_rlp_get_uint256(&it, got), PV_OK);
	assert_memory_equal(got, be, 32);

	/* 0x01 followed by 32 zero bytes: 2^256, one byte too long */
	in = unhex("a10100000000000000000000000000000000000000000000000000000000000000"
		   "00",
		   &n);
	assert_int_equal(n, 34);
	assert_int_equal(pv_rlp_decode_all(in, n, &it), PV_OK);
	assert_int_equal(pv_rlp_get_uint256(&it, got), PV_ERR_TOO_LARGE);
	OPENSSL_free(in);
	pv_buf_free(b);
}

/* Integers must be minimal: leading zeros and lists are not integers. */
static void
test_uint_noncanonical(void **state)
{
	static const char *bad[] = {"00", "820001", "8800ffffffffffffff", "c0", "c101"};
	pv_rlp_item it;
	uint8_t be[32], *in;
	uint64_t v;
	size_t i, n;

	(void)state;
	for (i = 0; i < PV_NELEM(bad); i++) {
		in = unhex(bad[i], &n);
		assert_int_equal(pv_rlp_decode_all(in, n, &it), PV_OK);
		assert_int_equal(pv_rlp_get_uint64(&it, &v), PV_ERR_BAD_INPUT);
		assert_int_equal(pv_rlp_get_uint256(&it, be), PV_ERR_BAD_INPUT);
		OPENSSL_free(in);
	}
	in = unhex("89010000000000000000", &n); /* 2^64 */
	assert_int_equal(pv_rlp_decode_all(in, n, &it), PV_OK);
	assert_int_equal(pv_rlp_get_uint64(&it, &v), PV_ERR_TOO_LARGE);
	assert_int_equal(pv_rlp_get_uint256(&it, be), PV_OK);
	assert_int_equal(be[23], 1);
	OPENSSL_free(in);
}

/* rlptest.json: emptylist, stringlist, listsoflists2, longList1. */
static void
test_kat_lists(void **state)
{
	pv_rlp_reader rd, rd2;
	pv_rlp_item it, a, c;
	uint8_t *in;
	size_t n, i;
	pv_buf *b = new_out();

	(void)state;
	assert_int_equal(pv_rlp_put_list_header(b, 0), PV_OK);
	assert_buf_hex(b, "c0");
	pv_buf_reset(b);
	assert_int_equal(
	    pv_rlp_put_list_header(b, pv_rlp_string_size("cat", 3) + pv_rlp_string_size("dog", 3)), PV_OK);
	assert_int_equal(pv_rlp_put_string(b, "cat", 3), PV_OK);
	assert_int_equal(pv_rlp_put_string(b, "dog", 3), PV_OK);
	assert_buf_hex(b, "c88363617483646f67");

	/* walk ["cat", "dog"] */
	assert_int_equal(pv_rlp_decode_buf(b, &it), PV_OK);
	assert_int_equal(it.kind, PV_RLP_LIST);
	assert_int_equal(it.len, 8);
	assert_int_equal(pv_rlp_enter(&it, &rd), PV_OK);
	assert_int_equal(pv_rlp_next(&rd, &a), PV_OK);
	assert_int_equal(a.kind, PV_RLP_STRING);
	assert_int_equal(a.depth, 1);
	assert_memory_equal(a.payload, "cat", 3);
	assert_int_equal(pv_rlp_next(&rd, &a), PV_OK);
	assert_memory_equal(a.payload, "dog", 3);
	assert_true(pv_rlp_at_end(&rd));
	assert_int_equal(pv_rlp_next(&rd, &a), PV_ERR_BAD_INPUT);
	assert_int_equal(pv_rlp_enter(&a, &rd2), PV_ERR_BAD_INPUT); /* a string */

	/* [ [], [[]], [ [], [[]] ] ] */
	pv_buf_reset(b);
	assert_int_equal(pv_rlp_put_list_header(b, 7), PV_OK);
	assert_int_equal(pv_rlp_put_list_header(b, 0), PV_OK);
	assert_int_equal(pv_rlp_put_list_header(b, 1), PV_OK);
	assert_int_equal(pv_rlp_put_list_header(b, 0), PV_OK);
	assert_int_equal(pv_rlp_put_list_header(b, 3), PV_OK);
	assert_int_equal(pv_rlp_put_list_header(b, 0), PV_OK);
	assert_int_equal(pv_rlp_put_list_header(b, 1), PV_OK);
	assert_int_equal(pv_rlp_put_list_header(b, 0), PV_OK);
	assert_buf_hex(b, "c7c0c1c0c3c0c1c0");
	assert_int_equal(pv_rlp_decode_buf(b, &it), PV_OK);
	assert_int_equal(pv_rlp_enter(&it, &rd), PV_OK);
	for (i = 0; i < 3; i++) {
		assert_int_equal(pv_rlp_next(&rd, &c), PV_OK);
		assert_int_equal(c.kind, PV_RLP_LIST);
	}
	assert_int_equal(c.len, 3);
	assert_true(pv_rlp_at_end(&rd));

	/* longList1: [["asdf","qwer","zxcv"] x 4], a 64-byte payload (f840) */
	in = unhex("f840cf84617364668471776572847a786376cf84617364668471776572847a786376"
		   "cf84617364668471776572847a786376cf84617364668471776572847a786376",
		   &n);
	assert_int_equal(pv_rlp_decode_all(in, n, &it), PV_OK);
	assert_int_equal(it.len, 64);
	assert_int_equal(pv_rlp_enter(&it, &rd), PV_OK);
	for (i = 0; i < 4; i++) {
		assert_int_equal(pv_rlp_next(&rd, &a), PV_OK);
		assert_int_equal(a.len, 15);
	}
	assert_true(pv_rlp_at_end(&rd));
	pv_buf_reset(b);
	assert_int_equal(pv_rlp_put_list_header(b, 64), PV_OK);
	assert_buf_hex(b, "f840");
	OPENSSL_free(in);
	pv_buf_free(b);
}

/* EIP-155's example signed transaction (chain id 1): nine fields. */
static void
test_eip155_tx(void **state)
{
	static const char tx[] =
	    "f86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a7640000"
	    "8025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f"
	    "761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83";
	static const uint64_t want[] = {9, 20000000000, 21000};
	pv_rlp_reader rd;
	pv_rlp_item it, f;
	uint64_t v;
	uint8_t be[32], *in;
	size_t n, i;

	(void)state;
	in = unhex(tx, &n);
	assert_int_equal(pv_rlp_decode_all(in, n, &it), PV_OK);
	assert_int_equal(pv_rlp_enter(&it, &rd), PV_OK);
	for (i = 0; i < 3; i++) {
		assert_int_equal(pv_rlp_next(&rd, &f), PV_OK);
		assert_int_equal(pv_rlp_get_uint64(&f, &v), PV_OK);
		assert_true(v == want[i]);
	}
	assert_int_equal(pv_rlp_next(&rd, &f), PV_OK); /* to */
	assert_int_equal(f.len, 20);
	assert_int_equal(pv_rlp_next(&rd, &f), PV_OK); /* value: 10^18 wei */
	assert_int_equal(pv_rlp_get_uint256(&f, be), PV_OK);
	assert_int_equal(pv_rlp_get_uint64(&f, &v), PV_OK);
	assert_true(v == UINT64_C(1000000000000000000));
	assert_int_equal(be[24], 0x0d);
	assert_int_equal(pv_rlp_next(&rd, &f), PV_OK); /* data */
	assert_int_equal(f.len, 0);
	assert_int_equal(pv_rlp_next(&rd, &f), PV_OK); /* v */
	assert_int_equal(pv_rlp_get_uint64(&f, &v), PV_OK);
	assert_int_equal(v, 37);
	for (i = 0; i < 2; i++) {
		assert_int_equal(pv_rlp_next(&rd, &f), PV_OK); /* r, s */
		assert_int_equal(f.len, 32);
	}
	assert_true(pv_rlp_at_end(&rd));
	OPENSSL_free(in);
}

/* ethereum/tests RLPTests/invalidRLPTest.json, every vector. */
static void
test_kat_invalid(void **state)
{
	(void)state;
	check_invalid("bf0f000000000000021111", PV_ERR_BAD_INPUT); /* int32Overflow */
	check_invalid("ff0f000000000000021111", PV_ERR_BAD_INPUT); /* int32Overflow2 */
	check_invalid("f80180", PV_ERR_BAD_INPUT);                 /* wrongSizeList */
	check_invalid("f80100", PV_ERR_BAD_INPUT);                 /* wrongSizeList2 */
	check_invalid("b9002100dc2b275d0f74e8a53e6f4ec61b27f24278820be3f82ea2110e582081b0565df0",
		      PV_ERR_BAD_INPUT); /* incorrectLengthInArray */
	check_invalid("f861f83eb9002100dc2b275d0f74e8a53e6f4ec61b27f24278820be3f82ea2110e582081b056"
		      "5df027b90015002d5ef8325ae4d034df55d4b58d0dfba64d61ddd17be00000b9001a00dae309"
		      "07045a2f66fa36f2bb8aa9029cbb0b8a7b3b5c435ab331",
		      PV_ERR_BAD_INPUT);         /* randomRLP */
	check_invalid("8100", PV_ERR_BAD_INPUT); /* bytesShouldBeSingleByte00 */
	check_invalid("8101", PV_ERR_BAD_INPUT); /* bytesShouldBeSingleByte01 */
	check_invalid("817F", PV_ERR_BAD_INPUT); /* bytesShouldBeSingleByte7F */
	check_invalid("b90040000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f2021"
		      "22232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f",
		      PV_ERR_BAD_INPUT);         /* leadingZerosInLongLengthArray1 */
	check_invalid("b800", PV_ERR_BAD_INPUT); /* leadingZerosInLongLengthArray2 */
	check_invalid("fb00000040000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
		      "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f",
		      PV_ERR_BAD_INPUT);         /* leadingZerosInLongLengthList1 */
	check_invalid("f800", PV_ERR_BAD_INPUT); /* leadingZerosInLongLengthList2 */
	check_invalid("b81000112233445566778899aabbccddeeff",
		      PV_ERR_BAD_INPUT);           /* nonOptimalLongLengthArray1 */
	check_invalid("b801ff", PV_ERR_BAD_INPUT); /* nonOptimalLongLengthArray2 */
	check_invalid("f810000102030405060708090a0b0c0d0e0f",
		      PV_ERR_BAD_INPUT);               /* nonOptimalLongLengthList1 */
	check_invalid("f803112233", PV_ERR_BAD_INPUT); /* nonOptimalLongLengthList2 */
	check_invalid("", PV_ERR_BAD_INPUT);           /* emptyEncoding */
	check_invalid("81", PV_ERR_BAD_INPUT);         /* lessThanShortLengthArray1 */
	check_invalid("a0000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e",
		      PV_ERR_BAD_INPUT);                         /* lessThanShortLengthArray2 */
	check_invalid("c5010203", PV_ERR_BAD_INPUT);             /* lessThanShortLengthList1 */
	check_invalid("e201020304050607", PV_ERR_BAD_INPUT);     /* lessThanShortLengthList2 */
	check_invalid("ba010000aabbccddeeff", PV_ERR_BAD_INPUT); /* lessThanLongLengthArray1 */
	check_invalid("b840ffeeddccbbaa99887766554433221100",
		      PV_ERR_BAD_INPUT);                                       /* lessThanLongLengthArray2 */
	check_invalid("f90180", PV_ERR_BAD_INPUT);                             /* lessThanLongLengthList1 */
	check_invalid("ffffffffffffffffff0001020304050607", PV_ERR_BAD_INPUT); /* lessThanLongLengthList2 */
}

/* Beyond the published file: trailing bytes, nested faults, truncations. */
static void
test_invalid_more(void **state)
{
	static const char valid[] = "f84483646f67f8388363617483646f67af"
				    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
				    "202122232425262728292a2b2c2d2ec0c180820400";
	pv_rlp_item it;
	uint8_t *in;
	size_t n, cut;

	(void)state;
	check_invalid("83646f6700", PV_ERR_BAD_INPUT); /* trailing byte */
	check_invalid("c0c0", PV_ERR_BAD_INPUT);       /* two top-level items */
	check_invalid("b8", PV_ERR_BAD_INPUT);         /* no length bytes */
	check_invalid("c3c18100", PV_ERR_BAD_INPUT);   /* non-canonical deep inside */
	check_invalid("c3c28100", PV_ERR_BAD_INPUT);   /* inner list overruns outer */
	check_invalid("c283646f67", PV_ERR_BAD_INPUT); /* item overruns its list */

	/* the control decodes; every proper prefix of it does not */
	in = unhex(valid, &n);
	assert_int_equal(pv_rlp_decode_all(in, n, &it), PV_OK);
	for (cut = 0; cut < n; cut++)
		assert_int_equal(pv_rlp_decode_all(in, cut, &it), PV_ERR_BAD_INPUT);
	OPENSSL_free(in);
}

/* Lists nest at most PV_RLP_MAX_DEPTH deep. */
static void
test_depth(void **state)
{
	uint8_t deep[PV_RLP_MAX_DEPTH + 1];
	pv_rlp_item it;
	size_t i, n;

	(void)state;
	for (n = PV_RLP_MAX_DEPTH; n <= PV_RLP_MAX_DEPTH + 1; n++) {
		for (i = 0; i < n; i++)
			deep[i] = (uint8_t)(0xc0 + (n - 1 - i));
		assert_int_equal(pv_rlp_decode_all(deep, n, &it),
				 n <= PV_RLP_MAX_DEPTH ? PV_OK : PV_ERR_TOO_LARGE);
	}
}

/* Long forms at their boundaries, and encoding within a buffer's capacity. */
static void
test_long_forms_and_capacity(void **state)
{
	static uint8_t big[70000];
	pv_buf *b = NULL;
	pv_rlp_item it;
	const uint8_t *p;

	(void)state;
	memset(big, 'a', sizeof(big));
	assert_int_equal(pv_buf_new(sizeof(big) + 16, &b), PV_OK);
	assert_int_equal(pv_rlp_put_string(b, big, 255), PV_OK);
	p = pv_buf_ptr(b);
	assert_int_equal(p[0], 0xb8);
	assert_int_equal(p[1], 0xff);
	assert_int_equal(pv_rlp_decode_buf(b, &it), PV_OK);
	assert_int_equal(it.len, 255);
	pv_buf_reset(b);
	assert_int_equal(pv_rlp_put_string(b, big, 256), PV_OK);
	p = pv_buf_ptr(b);
	assert_memory_equal(p, "\xb9\x01\x00", 3);
	pv_buf_reset(b);
	assert_int_equal(pv_rlp_put_string(b, big, 65536), PV_OK);
	p = pv_buf_ptr(b);
	assert_memory_equal(p, "\xba\x01\x00\x00", 4);
	assert_int_equal(pv_rlp_decode_buf(b, &it), PV_OK);
	assert_int_equal(it.len, 65536);
	assert_int_equal(pv_rlp_header_size(65536), 4);
	assert_int_equal(pv_rlp_header_size(55), 1);
	assert_int_equal(pv_rlp_header_size(56), 2);
	pv_buf_free(b);

	/* too small: nothing is written, not even the header */
	assert_int_equal(pv_buf_new(10, &b), PV_OK);
	assert_int_equal(pv_rlp_put_string(b, big, 10), PV_ERR_TOO_LARGE);
	assert_int_equal(pv_buf_len(b), 0);
	assert_int_equal(pv_rlp_put_string(b, big, 9), PV_OK);
	assert_int_equal(pv_buf_len(b), 10);
	pv_buf_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kat_strings), cmocka_unit_test(test_kat_uint),
	    cmocka_unit_test(test_kat_uint256), cmocka_unit_test(test_uint_noncanonical),
	    cmocka_unit_test(test_kat_lists),   cmocka_unit_test(test_eip155_tx),
	    cmocka_unit_test(test_kat_invalid), cmocka_unit_test(test_invalid_more),
	    cmocka_unit_test(test_depth),       cmocka_unit_test(test_long_forms_and_capacity),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
