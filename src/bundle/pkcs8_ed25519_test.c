/*
 * The Ed25519 PKCS#8 layout check of the key-import fallback: the RFC 8410
 * §10.3 example key, keys OpenSSL writes, and every way out of the layout.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "bundle/pkcs8_ed25519.h"
#include "core/b64.h"

/* RFC 8410 §10.3: "MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC" */
static const char rfc8410_hex[] = "302e020100300506032b657004220420"
				  "d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842";
static const char rfc8410_seed_hex[] = "d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842";

static size_t
unhex(const char *hex, uint8_t *out, size_t max)
{
	size_t n = 0;

	assert_int_equal(pv_hex_decode(hex, strlen(hex), out, max, &n), PV_OK);
	return n;
}

static void
test_rfc8410_example(void **state)
{
	uint8_t der[64], seed[32];
	const uint8_t *got = NULL;
	size_t n;

	(void)state;
	n = unhex(rfc8410_hex, der, sizeof(der));
	assert_int_equal(n, PV_ED25519_PKCS8_LEN);
	assert_int_equal(unhex(rfc8410_seed_hex, seed, sizeof(seed)), 32);
	assert_int_equal(pv_pkcs8_ed25519_seed(der, n, &got), PV_OK);
	assert_ptr_equal(got, der + 16);
	assert_memory_equal(got, seed, 32);
}

/* What OpenSSL writes (the path import-key takes) passes, and the seed is
 * OpenSSL's raw private key. */
static void
test_openssl_keys(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < 8; i++) {
		EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		PKCS8_PRIV_KEY_INFO *p8 = NULL;
		unsigned char *der = NULL;
		uint8_t raw[32];
		size_t rawlen = sizeof(raw);
		const uint8_t *seed = NULL;
		int len;

		assert_non_null(pk);
		assert_non_null(p8 = EVP_PKEY2PKCS8(pk));
		assert_int_equal(len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der), PV_ED25519_PKCS8_LEN);
		assert_int_equal(pv_pkcs8_ed25519_seed(der, (size_t)len, &seed), PV_OK);
		assert_int_equal(EVP_PKEY_get_raw_private_key(pk, raw, &rawlen), 1);
		assert_int_equal(rawlen, 32);
		assert_memory_equal(seed, raw, 32);
		OPENSSL_clear_free(der, (size_t)len);
		PKCS8_PRIV_KEY_INFO_free(p8);
		EVP_PKEY_free(pk);
	}
}

/* Every header byte changed, every length, other keys and extras: refused,
 * and the seed pointer stays NULL. */
static void
test_refusals(void **state)
{
	static const char *const other[] = {
	    /* X25519 (1.3.101.110) in the same layout */
	    "302e020100300506032b656e04220420d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842",
	    /* Ed448's OID (1.3.101.113) */
	    "302e020100300506032b657104220420d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842",
	    /* version 1 */
	    "302e020101300506032b657004220420d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842",
	    /* a NULL parameter squeezed in, outer length kept */
	    "302e020100300706032b657005000420041ed4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f4475",
	    /* a long-form length (non-minimal) for the seed */
	    "302e020100300506032b65700422048120d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f447558",
	};
	uint8_t good[64], der[160];
	const uint8_t *seed = NULL;
	size_t n, i, len;
	int bit;

	(void)state;
	n = unhex(rfc8410_hex, good, sizeof(good));
	/* each of the 16 header bytes, each bit */
	for (i = 0; i < 16; i++) {
		for (bit = 0; bit < 8; bit++) {
			memcpy(der, good, n);
			der[i] ^= (uint8_t)(1u << bit);
			seed = NULL;
			assert_int_equal(pv_pkcs8_ed25519_seed(der, n, &seed), PV_ERR_BAD_INPUT);
			assert_null(seed);
		}
	}
	/* any other length: short, one byte more, an appended public key */
	for (len = 0; len < n; len++)
		assert_int_equal(pv_pkcs8_ed25519_seed(good, len, &seed), PV_ERR_BAD_INPUT);
	memcpy(der, good, n);
	der[n] = 0;
	assert_int_equal(pv_pkcs8_ed25519_seed(der, n + 1, &seed), PV_ERR_BAD_INPUT);
	/* OneAsymmetricKey v2 with [1] publicKey (RFC 8410 §10.3, second example
	 * shape): 30 51 02 01 01 ... 81 21 00 <32> */
	len = unhex(
	    "3051020101300506032b657004220420d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842"
	    "81210019bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1",
	    der, sizeof(der));
	assert_int_equal(pv_pkcs8_ed25519_seed(der, len, &seed), PV_ERR_BAD_INPUT);
	for (i = 0; i < PV_NELEM(other); i++) {
		len = unhex(other[i], der, sizeof(der));
		assert_int_equal(len, PV_ED25519_PKCS8_LEN);
		seed = NULL;
		assert_int_equal(pv_pkcs8_ed25519_seed(der, len, &seed), PV_ERR_BAD_INPUT);
		assert_null(seed);
	}
	assert_int_equal(pv_pkcs8_ed25519_seed(NULL, 48, &seed), PV_ERR_BAD_INPUT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc8410_example),
	    cmocka_unit_test(test_openssl_keys),
	    cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
