#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/crypto.h>

#include "core/digest.h"

static void
check(pv_digest d, const char *msg, const char *hex)
{
	uint8_t out[PV_DIGEST_MAX_LEN];
	size_t outlen = 0;
	long n = 0;
	uint8_t *want = OPENSSL_hexstr2buf(hex, &n);

	assert_non_null(want);
	assert_int_equal(pv_digest_compute(d, (const uint8_t *)msg, strlen(msg), out, &outlen), PV_OK);
	assert_int_equal(outlen, (size_t)n);
	assert_int_equal(outlen, pv_digest_len(d));
	assert_memory_equal(out, want, outlen);
	OPENSSL_free(want);
}

/* FIPS 180-4 examples ("abc") and the Keccak-256 of "abc". */
static void
test_known_answers(void **state)
{
	check(PV_DIGEST_SHA256, "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	check(
	    PV_DIGEST_SHA384, "abc",
	    "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7");
	check(
	    PV_DIGEST_SHA512, "abc",
	    "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd"
	    "454d4423643ce80e2a9ac94fa54ca49f");
	check(PV_DIGEST_KECCAK256, "", "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
}

static void
test_names(void **state)
{
	static const char *names[] = {"none", "sha256", "sha384", "sha512", "keccak256"};
	pv_digest d = PV_DIGEST_DEFAULT;
	size_t i;

	for (i = 0; i < PV_NELEM(names); i++) {
		assert_int_equal(pv_digest_from_name(names[i], &d), PV_OK);
		assert_string_equal(pv_digest_name(d), names[i]);
	}
	assert_int_equal(pv_digest_from_name("md5", &d), PV_ERR_USAGE);
	assert_int_equal(pv_digest_from_name("SHA256", &d), PV_ERR_USAGE);
	assert_int_equal(pv_digest_from_name(NULL, &d), PV_ERR_USAGE);
	assert_int_equal(pv_digest_len(PV_DIGEST_NONE), 0);
	assert_int_equal(pv_digest_len(PV_DIGEST_DEFAULT), 0);
	assert_int_equal(pv_digest_len(PV_DIGEST_SHA384), 48);
}

static void
test_cannot_compute_none(void **state)
{
	uint8_t out[PV_DIGEST_MAX_LEN];
	size_t outlen = 99;

	assert_int_equal(pv_digest_compute(PV_DIGEST_NONE, (const uint8_t *)"x", 1, out, &outlen),
			 PV_ERR_USAGE);
	assert_int_equal(outlen, 0);
	assert_int_equal(pv_digest_compute(PV_DIGEST_DEFAULT, (const uint8_t *)"x", 1, out, &outlen),
			 PV_ERR_USAGE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_known_answers),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_cannot_compute_none),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
