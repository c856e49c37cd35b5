#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/b64.h"

/* RFC 4648 section 10 test vectors: "", "f", "fo", ... "foobar". */
static const char *const rfc4648_in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
static const char *const rfc4648_b64[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
static const char *const rfc4648_b64url[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
static const char *const rfc4648_hex[] = {"",         "66",         "666f",        "666f6f",
					  "666f6f62", "666f6f6261", "666f6f626172"};

static void
test_rfc4648_vectors(void **state)
{
	uint8_t buf[16];
	size_t i, n, len;
	char *s;

	for (i = 0; i < PV_NELEM(rfc4648_in); i++) {
		len = strlen(rfc4648_in[i]);
		assert_int_equal(pv_b64_encode((const uint8_t *)rfc4648_in[i], len, &s), PV_OK);
		assert_string_equal(s, rfc4648_b64[i]);
		free(s);
		assert_int_equal(pv_b64url_encode((const uint8_t *)rfc4648_in[i], len, &s), PV_OK);
		assert_string_equal(s, rfc4648_b64url[i]);
		free(s);
		assert_int_equal(pv_hex_encode((const uint8_t *)rfc4648_in[i], len, &s), PV_OK);
		assert_string_equal(s, rfc4648_hex[i]);
		free(s);

		assert_int_equal(pv_b64_decode(rfc4648_b64[i], strlen(rfc4648_b64[i]), buf, sizeof(buf), &n),
				 PV_OK);
		assert_int_equal(n, len);
		assert_memory_equal(buf, rfc4648_in[i], n);
		assert_int_equal(
		    pv_b64url_decode(rfc4648_b64url[i], strlen(rfc4648_b64url[i]), buf, sizeof(buf), &n),
		    PV_OK);
		assert_int_equal(n, len);
		assert_memory_equal(buf, rfc4648_in[i], n);
		assert_int_equal(pv_hex_decode(rfc4648_hex[i], strlen(rfc4648_hex[i]), buf, sizeof(buf), &n),
				 PV_OK);
		assert_int_equal(n, len);
		assert_memory_equal(buf, rfc4648_in[i], n);
	}
}

/* The URL-safe alphabet uses '-' and '_' where standard base64 has '+' '/'. */
static void
test_url_alphabet(void **state)
{
	static const uint8_t bytes[] = {0xfb, 0xff, 0xbf};
	uint8_t buf[8];
	size_t n;
	char *s;

	assert_int_equal(pv_b64url_encode(bytes, sizeof(bytes), &s), PV_OK);
	assert_string_equal(s, "-_-_");
	free(s);
	assert_int_equal(pv_b64_encode(bytes, sizeof(bytes), &s), PV_OK);
	assert_string_equal(s, "+/+/");
	free(s);
	assert_int_equal(pv_b64url_decode("+/+/", 4, buf, sizeof(buf), &n), PV_ERR_BAD_INPUT);
	assert_int_equal(pv_b64_decode("-_-_", 4, buf, sizeof(buf), &n), PV_ERR_BAD_INPUT);
}

static void
test_strict_rejections(void **state)
{
	static const char *const bad_url[] = {
	    "Zg==",    /* padding in the unpadded variant */
	    "Zh",      /* non-zero leftover bits */
	    "Z",       /* a lone character carries no whole byte */
	    "Zm9v\n",  /* whitespace */
	    " Zm9v",   /* leading space */
	    "Zm9v!",   /* foreign character */
	    "Zm\0v",   /* embedded NUL */
	    "Zm9\x81", /* a byte libsodium 1.0.18 alone would take for a letter */
	    "\xffZm9",
	};
	static const size_t bad_url_len[] = {4, 2, 1, 5, 5, 5, 4, 4, 4};
	static const char *const bad_std[] = {
	    "Zg", "Zg=", "Zg===", "Zh==", "Zm9v Zm9v", "Zm9\x81", "Zm\xc3\xa9"};
	static const char *const bad_hex[] = {"6", "6g", "0x66", "66 ", " 66"};
	uint8_t buf[16];
	size_t i, n = 7;

	for (i = 0; i < PV_NELEM(bad_url); i++) {
		assert_int_equal(pv_b64url_decode(bad_url[i], bad_url_len[i], buf, sizeof(buf), &n),
				 PV_ERR_BAD_INPUT);
		assert_int_equal(n, 0);
	}
	for (i = 0; i < PV_NELEM(bad_std); i++)
		assert_int_equal(pv_b64_decode(bad_std[i], strlen(bad_std[i]), buf, sizeof(buf), &n),
				 PV_ERR_BAD_INPUT);
	for (i = 0; i < PV_NELEM(bad_hex); i++)
		assert_int_equal(pv_hex_decode(bad_hex[i], strlen(bad_hex[i]), buf, sizeof(buf), &n),
				 PV_ERR_BAD_INPUT);
}

static void
test_output_limit(void **state)
{
	uint8_t buf[6];
	uint8_t *p = NULL;
	size_t n = 9;

	assert_int_equal(pv_b64url_decode("Zm9vYmFy", 8, buf, 5, &n), PV_ERR_TOO_LARGE);
	assert_int_equal(n, 0);
	assert_int_equal(pv_b64url_decode("Zm9vYmFy", 8, buf, 6, &n), PV_OK);
	assert_int_equal(n, 6);
	assert_int_equal(pv_b64_decode("Zm9vYmFy", 8, buf, 5, &n), PV_ERR_TOO_LARGE);
	assert_int_equal(pv_hex_decode("666f6f626172", 12, buf, 5, &n), PV_ERR_TOO_LARGE);

	assert_int_equal(pv_b64url_decode_alloc("Zm9vYmFy", 8, 5, &p, &n), PV_ERR_TOO_LARGE);
	assert_null(p);
	assert_int_equal(pv_b64url_decode_alloc("Zm9vYmFy", 8, 1024, &p, &n), PV_OK);
	assert_int_equal(n, 6);
	assert_memory_equal(p, "foobar", 6);
	free(p);
	assert_int_equal(pv_b64url_decode_alloc("", 0, 1024, &p, &n), PV_OK);
	assert_non_null(p);
	assert_int_equal(n, 0);
	free(p);
}

/* Every byte value and many lengths survive a round trip. */
static void
test_round_trip(void **state)
{
	uint8_t in[300], buf[300];
	size_t i, len, n;
	char *s;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 7 + 3);
	for (len = 0; len <= sizeof(in); len += 13) {
		assert_int_equal(pv_b64url_encode(in, len, &s), PV_OK);
		assert_null(strchr(s, '='));
		assert_int_equal(pv_b64url_decode(s, strlen(s), buf, sizeof(buf), &n), PV_OK);
		assert_int_equal(n, len);
		assert_memory_equal(buf, in, len);
		free(s);
		assert_int_equal(pv_hex_encode(in, len, &s), PV_OK);
		assert_int_equal(pv_hex_decode(s, strlen(s), buf, sizeof(buf), &n), PV_OK);
		assert_int_equal(n, len);
		assert_memory_equal(buf, in, len);
		free(s);
	}
	assert_int_equal(pv_hex_decode("ABcd", 4, buf, sizeof(buf), &n), PV_OK);
	assert_int_equal(buf[0], 0xab);
	assert_int_equal(buf[1], 0xcd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc4648_vectors),   cmocka_unit_test(test_url_alphabet),
	    cmocka_unit_test(test_strict_rejections), cmocka_unit_test(test_output_limit),
	    cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
