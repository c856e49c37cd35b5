/*
 * Legacy wallet key formats: RFC 8032 test vector 1 as a Solana keypair
 * (JSON and base58) and the web3.js documentation account as an EVM hex
 * key, each giving the published public key / address; and the refusals
 * (a keypair whose halves disagree, wrong counts and ranges, 0 and n).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "base/secmem.h"
#include "wallet/legacykey.h"
#include "core/alg.h"
#include "core/pubkey.h"

/* RFC 8032 §7.1 TEST 1: secret key and public key */
static const uint8_t rfc8032_seed[32] = {0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a,
					 0xf4, 0x92, 0xec, 0x2c, 0xc4, 0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32,
					 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60};
static const uint8_t rfc8032_pub[32] = {0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe,
					0xd3, 0xc9, 0x64, 0x07, 0x3a, 0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6,
					0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a};
/* base58 of the public key and of seed||public key */
static const char rfc8032_address[] = "FVen3X669xLzsi6N2V91DoiyzHzg1uAgqiT8jZ9nS96Z";
static const char rfc8032_b58[] =
    "49W385L4rePHy6PAaQUovbD2aacgN4HsKXSMeUzRg4fmwXszN91JuMFrQRj3vMDpZuRF3ZknQBuRBoWQJEfXstMw";

/* web3.js docs, web3.eth.accounts.privateKeyToAccount of
 * 0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318 */
static const char web3_address[] = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23";

static pv_err
decode(enum pv_legacy_format f, const char *text, EVP_PKEY **pk)
{
	pv_secret *s = NULL;
	pv_err r;

	*pk = NULL;
	assert_int_equal(pv_secret_from(text, strlen(text), &s), PV_OK);
	r = pv_legacy_key_decode(f, s, pk);
	pv_secret_free(s);
	if (r != PV_OK)
		assert_null(*pk);
	return r;
}

/* id.json text for 64 bytes, as the Solana CLI writes it. */
static void
keypair_json(const uint8_t kp[64], char *out, size_t cap)
{
	size_t i, n = 0;

	n += (size_t)snprintf(out + n, cap - n, "[");
	for (i = 0; i < 64; i++)
		n += (size_t)snprintf(out + n, cap - n, "%u%s", kp[i], i < 63 ? "," : "]");
	assert_true(n < cap);
}

static void
check_solana(EVP_PKEY *pk)
{
	uint8_t raw[32];
	size_t len = sizeof(raw);
	char addr[PV_LEGACY_ADDRESS_SIZE];
	const char *chain = NULL;

	assert_non_null(pk);
	assert_int_equal(pv_pubkey_alg(pk), PV_ALG_ED25519);
	assert_int_equal(EVP_PKEY_get_raw_public_key(pk, raw, &len), 1);
	assert_memory_equal(raw, rfc8032_pub, 32);
	len = sizeof(raw);
	assert_int_equal(EVP_PKEY_get_raw_private_key(pk, raw, &len), 1);
	assert_memory_equal(raw, rfc8032_seed, 32);
	assert_int_equal(pv_legacy_key_address(pk, addr, &chain), PV_OK);
	assert_string_equal(chain, "solana");
	assert_string_equal(addr, rfc8032_address);
}

static void
test_solana_keypair_json(void **state)
{
	uint8_t kp[64];
	char text[512], spaced[600];
	EVP_PKEY *pk = NULL;
	size_t i, n = 0;

	(void)state;
	memcpy(kp, rfc8032_seed, 32);
	memcpy(kp + 32, rfc8032_pub, 32);
	keypair_json(kp, text, sizeof(text));
	assert_int_equal(decode(PV_LEGACY_SOLANA_KEYPAIR, text, &pk), PV_OK);
	check_solana(pk);
	EVP_PKEY_free(pk);

	/* whitespace around and inside, as pretty-printers write it */
	n += (size_t)snprintf(spaced + n, sizeof(spaced) - n, "\n [");
	for (i = 0; i < 64; i++)
		n += (size_t)snprintf(spaced + n, sizeof(spaced) - n, "\n\t%u%s", kp[i],
				      i < 63 ? " ," : "\n]\n");
	assert_int_equal(decode(PV_LEGACY_SOLANA_KEYPAIR, spaced, &pk), PV_OK);
	check_solana(pk);
	EVP_PKEY_free(pk);
}

static void
test_solana_base58(void **state)
{
	EVP_PKEY *pk = NULL;
	char text[160];

	(void)state;
	assert_int_equal(decode(PV_LEGACY_SOLANA_BASE58, rfc8032_b58, &pk), PV_OK);
	check_solana(pk);
	EVP_PKEY_free(pk);
	snprintf(text, sizeof(text), "  %s\r\n", rfc8032_b58);
	assert_int_equal(decode(PV_LEGACY_SOLANA_BASE58, text, &pk), PV_OK);
	check_solana(pk);
	EVP_PKEY_free(pk);
}

static void
test_solana_refusals(void **state)
{
	uint8_t kp[64];
	char text[600], b58[160];
	EVP_PKEY *pk = NULL;

	(void)state;
	memcpy(kp, rfc8032_seed, 32);
	memcpy(kp + 32, rfc8032_pub, 32);
	/* the public half of another key */
	kp[40] ^= 1;
	keypair_json(kp, text, sizeof(text));
	assert_int_equal(decode(PV_LEGACY_SOLANA_KEYPAIR, text, &pk), PV_ERR_BAD_INPUT);
	assert_non_null(strstr(pv_err_detail(), "public half"));
	kp[40] ^= 1;

	/* 63 and 65 numbers, 256, -1, a leading zero, a float, a string, junk */
	assert_int_equal(decode(PV_LEGACY_SOLANA_KEYPAIR, "[1,2,3]", &pk), PV_ERR_BAD_INPUT);
	keypair_json(kp, text, sizeof(text));
	snprintf(text + strlen(text) - 1, sizeof(text) - strlen(text) + 1, ",7]");
	assert_int_equal(decode(PV_LEGACY_SOLANA_KEYPAIR, text, &pk), PV_ERR_BAD_INPUT);
	keypair_json(kp, text, sizeof(text));
	*strrchr(text, ',') = ']';
	assert_int_equal(decode(PV_LEGACY_SOLANA_KEYPAIR, text, &pk), PV_ERR_BAD_INPUT);
	keypair_json(kp, text, sizeof(text));
	memcpy(text, "[256,", 5); /* the first element was "157," */
	assert_int_equal(decode(PV_LEGACY_SOLANA_KEYPAIR, text, &pk), PV_ERR_BAD_INPUT);
	memcpy(text, "[-57,", 5);
	assert_int_equal(decode(PV_LEGACY_SOLANA_KEYPAIR, text, &pk), PV_ERR_BAD_INPUT);
	memcpy(text, "[057,", 5);
	assert_int_equal(decode(PV_LEGACY_SOLANA_KEYPAIR, text, &pk), PV_ERR_BAD_INPUT);
	memcpy(text, "[1.5,", 5);
	assert_int_equal(decode(PV_LEGACY_SOLANA_KEYPAIR, text, &pk), PV_ERR_BAD_INPUT);
	memcpy(text, "[\"1\",", 5);
	assert_int_equal(decode(PV_LEGACY_SOLANA_KEYPAIR, text, &pk), PV_ERR_BAD_INPUT);
	keypair_json(kp, text, sizeof(text));
	snprintf(text + strlen(text), sizeof(text) - strlen(text), "x");
	assert_int_equal(decode(PV_LEGACY_SOLANA_KEYPAIR, text, &pk), PV_ERR_BAD_INPUT);
	assert_int_equal(decode(PV_LEGACY_SOLANA_KEYPAIR, "", &pk), PV_ERR_BAD_INPUT);
	/* the base58 text is not JSON, and the JSON is not base58 */
	assert_int_equal(decode(PV_LEGACY_SOLANA_KEYPAIR, rfc8032_b58, &pk), PV_ERR_BAD_INPUT);
	keypair_json(kp, text, sizeof(text));
	assert_int_equal(decode(PV_LEGACY_SOLANA_BASE58, text, &pk), PV_ERR_BAD_INPUT);
	/* base58 of 32 bytes (an address), a character outside the alphabet */
	assert_int_equal(decode(PV_LEGACY_SOLANA_BASE58, rfc8032_address, &pk), PV_ERR_BAD_INPUT);
	snprintf(b58, sizeof(b58), "%s", rfc8032_b58);
	b58[10] = '0';
	assert_int_equal(decode(PV_LEGACY_SOLANA_BASE58, b58, &pk), PV_ERR_BAD_INPUT);
	/* the detail never quotes the key text */
	assert_null(strstr(pv_err_detail(), "'"));
}

static void
test_evm_hex(void **state)
{
	static const char *const forms[] = {
	    "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318",
	    "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318\n",
	    "  0X4C0883A69102937D6231471B5DBB6204FE5129617082792AE468D01A3F362318  \n",
	};
	char addr[PV_LEGACY_ADDRESS_SIZE];
	const char *chain = NULL;
	EVP_PKEY *pk = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < PV_NELEM(forms); i++) {
		assert_int_equal(decode(PV_LEGACY_EVM_HEX, forms[i], &pk), PV_OK);
		assert_int_equal(pv_pubkey_alg(pk), PV_ALG_SECP256K1);
		assert_int_equal(pv_legacy_key_address(pk, addr, &chain), PV_OK);
		assert_string_equal(chain, "evm");
		assert_string_equal(addr, web3_address);
		EVP_PKEY_free(pk);
	}
}

static void
test_evm_refusals(void **state)
{
	static const char *const bad[] = {
	    "0x0000000000000000000000000000000000000000000000000000000000000000",
	    /* n, and n + 1 */
	    "0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
	    "0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364142",
	    "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f36231",
	    "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f3623180",
	    "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f36231g",
	    "0x4c0883a69102937d6231471b5dbb6204 fe5129617082792ae468d01a3f362318",
	    "0x",
	    "",
	};
	EVP_PKEY *pk = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < PV_NELEM(bad); i++) {
		if (decode(PV_LEGACY_EVM_HEX, bad[i], &pk) != PV_ERR_BAD_INPUT)
			fail_msg("case %zu accepted", i);
	}
	/* n - 1 is the largest key there is */
	assert_int_equal(decode(PV_LEGACY_EVM_HEX,
				"fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140", &pk),
			 PV_OK);
	EVP_PKEY_free(pk);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_solana_keypair_json), cmocka_unit_test(test_solana_base58),
	    cmocka_unit_test(test_solana_refusals),     cmocka_unit_test(test_evm_hex),
	    cmocka_unit_test(test_evm_refusals),
	};

	if (pv_secmem_init() != PV_OK)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
