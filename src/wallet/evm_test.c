#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>

#include "core/pubkey.h"
#include "wallet/evm.h"

/* CKA_EC_PARAMS of secp256k1: OID 1.3.132.0.10. */
static const uint8_t secp256k1_params[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a};

/* web3.js documentation, web3.eth.accounts.sign('Some data', KEY): this key
 * has address 0x2c7536E3605D9C16a7a3D7b1898e529396a65c23, the message hash
 * is 0x1da44b58..., and the signature is r, s with v = 0x1c (recovery id 1). */
#define DOC_KEY  "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
#define DOC_ADDR "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23"
#define DOC_HASH "1da44b586eb0729ff70a73c326926f6ed5a25f5b056e7f47fbc6e58d86871655"
#define DOC_R    "b91467e570a6466aa9e9876cbcd013baba02900b8979d43fe208a4a4f339f5fd"
#define DOC_S    "6007e74cd82e037b800186422fc2da167c747ef045e5d18a5f5d4300f8e1a029"
#define DOC_V    1

/* Hex -> bytes with OpenSSL (independent of the code under test). */
static void
unhex(const char *hex, uint8_t *out, size_t want)
{
	long n = 0;
	uint8_t *p = OPENSSL_hexstr2buf(hex, &n);

	assert_non_null(p);
	assert_int_equal((size_t)n, want);
	memcpy(out, p, want);
	OPENSSL_free(p);
}

static secp256k1_context *
k1(void)
{
	secp256k1_context *ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);

	assert_non_null(ctx);
	return ctx;
}

/* The uncompressed SEC1 point of a private key, computed by libsecp256k1. */
static void
point_of(const secp256k1_context *ctx, const uint8_t seckey[32], uint8_t sec1[65])
{
	secp256k1_pubkey pub;
	size_t len = 65;

	assert_true(secp256k1_ec_pubkey_create(ctx, &pub, seckey));
	assert_true(secp256k1_ec_pubkey_serialize(ctx, sec1, &len, &pub, SECP256K1_EC_UNCOMPRESSED));
	assert_int_equal(len, 65);
}

/* EIP-55, "Test Cases": all caps, all lower, and normal mixed case. */
static const char *const eip55_vectors[] = {
    "0x52908400098527886E0F7030069857D2E4169EE7", "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
    "0xde709f2102306220921060314715629080e2fb77", "0x27b1fdb04752bbc536007a920d24acb045561c26",
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
};

static void
test_eip55_vectors(void **state)
{
	uint8_t addr[PV_EVM_ADDR_LEN], want[PV_EVM_ADDR_LEN];
	char text[PV_EVM_ADDR_STR_LEN + 1];
	size_t i;

	for (i = 0; i < PV_NELEM(eip55_vectors); i++) {
		unhex(eip55_vectors[i] + 2, want, sizeof(want));
		assert_int_equal(pv_evm_address_parse(eip55_vectors[i], addr), PV_OK);
		assert_memory_equal(addr, want, sizeof(want));
		pv_evm_checksum(addr, text);
		assert_string_equal(text, eip55_vectors[i]);
	}
}

/* Without mixed case there is no checksum to check. */
static void
test_single_case_accepted(void **state)
{
	uint8_t addr[PV_EVM_ADDR_LEN], want[PV_EVM_ADDR_LEN];
	char text[PV_EVM_ADDR_STR_LEN + 1];
	size_t i, j;

	for (i = 0; i < PV_NELEM(eip55_vectors); i++) {
		unhex(eip55_vectors[i] + 2, want, sizeof(want));
		snprintf(text, sizeof(text), "%s", eip55_vectors[i]);
		for (j = 2; j < PV_EVM_ADDR_STR_LEN; j++)
			if (text[j] >= 'A' && text[j] <= 'F')
				text[j] = (char)(text[j] - 'A' + 'a');
		assert_int_equal(pv_evm_address_parse(text, addr), PV_OK);
		assert_memory_equal(addr, want, sizeof(want));
		for (j = 2; j < PV_EVM_ADDR_STR_LEN; j++)
			if (text[j] >= 'a' && text[j] <= 'f')
				text[j] = (char)(text[j] - 'a' + 'A');
		assert_int_equal(pv_evm_address_parse(text, addr), PV_OK);
		assert_memory_equal(addr, want, sizeof(want));
	}
}

static void
test_bad_checksum_refused(void **state)
{
	char text[] = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
	uint8_t addr[PV_EVM_ADDR_LEN];
	size_t j;

	/* flip the case of each letter in turn: every one must be caught */
	for (j = 2; j < sizeof(text) - 1; j++) {
		if (text[j] >= '0' && text[j] <= '9')
			continue;
		text[j] ^= 0x20;
		assert_int_equal(pv_evm_address_parse(text, addr), PV_ERR_BAD_INPUT);
		assert_string_equal(pv_err_detail(), "bad EIP-55 checksum");
		text[j] ^= 0x20;
	}
	assert_int_equal(pv_evm_address_parse(text, addr), PV_OK);
}

static void
test_malformed_refused(void **state)
{
	static const char *const bad[] = {
	    "",
	    "0x",
	    "5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
	    "0X5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
	    "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beae",
	    "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed0",
	    "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaeg",
	    " 0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
	    "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed ",
	    "0x5aaeb6053f3e94c9b9a09f33669435e7ef1bea d",
	    "0x0x5aaeb6053f3e94c9b9a09f33669435e7ef1bea",
	};
	uint8_t addr[PV_EVM_ADDR_LEN];
	size_t i;

	for (i = 0; i < PV_NELEM(bad); i++) {
		assert_int_equal(pv_evm_address_parse(bad[i], addr), PV_ERR_BAD_INPUT);
		assert_string_equal(pv_err_detail(), "an EVM address is 0x and 40 hex digits");
	}
	assert_int_equal(pv_evm_address_parse(NULL, addr), PV_ERR_USAGE);
}

static void
test_address_of_known_key(void **state)
{
	secp256k1_context *ctx = k1();
	uint8_t seckey[32], sec1[65], addr[PV_EVM_ADDR_LEN], xy[PV_EVM_POINT_LEN];
	char text[PV_EVM_ADDR_STR_LEN + 1];
	EVP_PKEY *pk = NULL;

	unhex(DOC_KEY, seckey, sizeof(seckey));
	point_of(ctx, seckey, sec1);

	assert_int_equal(pv_evm_address_from_point(sec1 + 1, addr), PV_OK);
	pv_evm_checksum(addr, text);
	assert_string_equal(text, DOC_ADDR);

	/* the same through an OpenSSL key, as the token layer hands them out */
	assert_int_equal(
	    pv_pubkey_from_ec(secp256k1_params, sizeof(secp256k1_params), sec1, sizeof(sec1), NULL, &pk),
	    PV_OK);
	memset(addr, 0, sizeof(addr));
	assert_int_equal(pv_evm_address(pk, addr), PV_OK);
	pv_evm_checksum(addr, text);
	assert_string_equal(text, DOC_ADDR);
	assert_int_equal(pv_evm_pubkey_point(pk, xy), PV_OK);
	assert_memory_equal(xy, sec1 + 1, sizeof(xy));

	/* and when the key is set to export compressed points */
	assert_int_equal(
	    EVP_PKEY_set_utf8_string_param(pk, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "compressed"), 1);
	memset(addr, 0, sizeof(addr));
	assert_int_equal(pv_evm_address(pk, addr), PV_OK);
	pv_evm_checksum(addr, text);
	assert_string_equal(text, DOC_ADDR);

	EVP_PKEY_free(pk);
	secp256k1_context_destroy(ctx);
}

static void
test_other_key_types_refused(void **state)
{
	uint8_t addr[PV_EVM_ADDR_LEN];
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	EVP_PKEY *p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

	assert_non_null(ed);
	assert_non_null(p256);
	assert_int_equal(pv_evm_address(ed, addr), PV_ERR_KEY_TYPE);
	assert_int_equal(pv_evm_address(p256, addr), PV_ERR_KEY_TYPE);
	assert_int_equal(pv_evm_address(NULL, addr), PV_ERR_KEY_TYPE);
	EVP_PKEY_free(ed);
	EVP_PKEY_free(p256);
}

static void
test_off_curve_point_refused(void **state)
{
	uint8_t xy[PV_EVM_POINT_LEN] = {0}, addr[PV_EVM_ADDR_LEN];

	assert_int_equal(pv_evm_address_from_point(xy, addr), PV_ERR_BAD_INPUT);
	xy[31] = 1;
	xy[63] = 1;
	assert_int_equal(pv_evm_address_from_point(xy, addr), PV_ERR_BAD_INPUT);
}

static void
check_personal(const char *msg, size_t len, const char *hash_hex)
{
	uint8_t got[32], want[32];

	unhex(hash_hex, want, sizeof(want));
	assert_int_equal(pv_evm_personal_hash((const uint8_t *)msg, len, got), PV_OK);
	assert_memory_equal(got, want, sizeof(want));
}

static void
test_personal_hash(void **state)
{
	char xs[257];

	/* EIP-191 personal_sign hash of "hello", the value web3 libraries'
	 * hashMessage tests use */
	check_personal("hello", 5, "50b2c43fd39106bafbba0da34fc430e1f91e3c96ea2acee2bc34119f92b37750");
	/* web3.js documentation, web3.eth.accounts.sign('Some data', ...) */
	check_personal("Some data", 9, DOC_HASH);
	/* ethers hashMessage("") and hashMessage("x" * 257): a zero length and
	 * a three-digit length in the prefix */
	check_personal(NULL, 0, "5f35dce98ba4fba25530a026ed80b2cecdaa31091ba4958b99b52ea1d068adad");
	memset(xs, 'x', sizeof(xs));
	check_personal(xs, sizeof(xs), "dfc7e3b24dc44f6913925edd512a923e1a2577f38a28d18497de001f60516da7");
	assert_int_equal(pv_evm_personal_hash(NULL, 1, (uint8_t[32]){0}), PV_ERR_USAGE);
}

/* The published signature recovers to the published key with id 1. */
static void
test_recovery_id_published(void **state)
{
	secp256k1_context *ctx = k1();
	secp256k1_ecdsa_recoverable_signature rsig;
	uint8_t seckey[32], sec1[65], hash[32], rs[64], ours[64];
	int v = -1, recid = -1;

	unhex(DOC_KEY, seckey, sizeof(seckey));
	unhex(DOC_HASH, hash, sizeof(hash));
	unhex(DOC_R, rs, 32);
	unhex(DOC_S, rs + 32, 32);
	point_of(ctx, seckey, sec1);
	assert_int_equal(pv_evm_recovery_id(hash, rs, sec1 + 1, &v), PV_OK);
	assert_int_equal(v, DOC_V);

	/* libsecp256k1's RFC 6979 nonce gives the very same signature */
	assert_true(secp256k1_ecdsa_sign_recoverable(ctx, &rsig, hash, seckey, NULL, NULL));
	assert_true(secp256k1_ecdsa_recoverable_signature_serialize_compact(ctx, ours, &recid, &rsig));
	assert_memory_equal(ours, rs, sizeof(rs));
	assert_int_equal(recid, DOC_V);
	secp256k1_context_destroy(ctx);
}

/* Sign random hashes with libsecp256k1 and compare the id it reports. */
static void
test_recovery_id_matches_libsecp256k1(void **state)
{
	secp256k1_context *ctx = k1();
	secp256k1_ecdsa_recoverable_signature rsig;
	secp256k1_ecdsa_signature sig, norm;
	uint8_t seckey[32], sec1[65], hash[32], rs[64];
	int v, recid, seen[2] = {0, 0}, i;

	unhex(DOC_KEY, seckey, sizeof(seckey));
	point_of(ctx, seckey, sec1);
	for (i = 0; i < 64; i++) {
		assert_int_equal(RAND_bytes(hash, sizeof(hash)), 1);
		assert_true(secp256k1_ecdsa_sign_recoverable(ctx, &rsig, hash, seckey, NULL, NULL));
		assert_true(secp256k1_ecdsa_recoverable_signature_serialize_compact(ctx, rs, &recid, &rsig));
		/* what a token returns may be high-S: normalising flips the id */
		assert_true(secp256k1_ecdsa_signature_parse_compact(ctx, &sig, rs));
		if (secp256k1_ecdsa_signature_normalize(ctx, &norm, &sig)) {
			assert_true(secp256k1_ecdsa_signature_serialize_compact(ctx, rs, &norm));
			recid ^= 1;
		}
		assert_in_range(recid, 0, 1);
		v = -1;
		assert_int_equal(pv_evm_recovery_id(hash, rs, sec1 + 1, &v), PV_OK);
		assert_int_equal(v, recid);
		seen[v] = 1;
	}
	/* 64 tries without seeing both ids: about 2^-63 */
	assert_true(seen[0] && seen[1]);
	secp256k1_context_destroy(ctx);
}

static void
test_recovery_id_refusals(void **state)
{
	secp256k1_context *ctx = k1();
	uint8_t seckey[32], sec1[65], other[65], hash[32], rs[64], high[64];
	BIGNUM *n = NULL, *s = NULL;
	int v = 7;

	unhex(DOC_KEY, seckey, sizeof(seckey));
	unhex(DOC_HASH, hash, sizeof(hash));
	unhex(DOC_R, rs, 32);
	unhex(DOC_S, rs + 32, 32);
	point_of(ctx, seckey, sec1);

	/* another key: neither id recovers to it */
	seckey[31] ^= 1;
	point_of(ctx, seckey, other);
	assert_int_equal(pv_evm_recovery_id(hash, rs, other + 1, &v), PV_ERR_INTEGRITY);
	assert_int_equal(v, -1);

	/* another hash */
	hash[0] ^= 1;
	assert_int_equal(pv_evm_recovery_id(hash, rs, sec1 + 1, &v), PV_ERR_INTEGRITY);
	hash[0] ^= 1;

	/* the high-S twin (n - s) of a valid signature is refused */
	assert_true(BN_hex2bn(&n, "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141") > 0);
	assert_non_null(s = BN_bin2bn(rs + 32, 32, NULL));
	assert_int_equal(BN_sub(s, n, s), 1);
	memcpy(high, rs, 32);
	assert_int_equal(BN_bn2binpad(s, high + 32, 32), 32);
	assert_int_equal(pv_evm_recovery_id(hash, high, sec1 + 1, &v), PV_ERR_BAD_INPUT);

	/* s out of range */
	memset(high + 32, 0xff, 32);
	assert_int_equal(pv_evm_recovery_id(hash, high, sec1 + 1, &v), PV_ERR_BAD_INPUT);

	BN_free(n);
	BN_free(s);
	secp256k1_context_destroy(ctx);
}

/* "0x" hex, the one form vaultctl and vaultd read and write. */
static void
test_hex0x(void **state)
{
	static const uint8_t bytes[] = {0x00, 0xab, 0xCD, 0x7f};
	uint8_t out[8];
	size_t n = 99;
	char *s = NULL;
	static const char *const bad[] = {"", "0", "0x0", "0X00", "00", "0x0g", "0x 00", "x00", "0x00 "};
	size_t i;

	(void)state;
	assert_int_equal(pv_hex0x_encode(bytes, sizeof(bytes), &s), PV_OK);
	assert_string_equal(s, "0x00abcd7f");
	free(s);
	assert_int_equal(pv_hex0x_encode(NULL, 0, &s), PV_OK);
	assert_string_equal(s, "0x");
	free(s);

	assert_int_equal(pv_hex0x_decode("0x00ABcd7f", 10, out, sizeof(out), &n), PV_OK);
	assert_int_equal(n, 4);
	assert_memory_equal(out, bytes, 4);
	assert_int_equal(pv_hex0x_decode("0x", 2, out, sizeof(out), &n), PV_OK);
	assert_int_equal(n, 0);
	/* len, not the NUL, ends the text */
	assert_int_equal(pv_hex0x_decode("0x00ffjunk", 6, out, sizeof(out), &n), PV_OK);
	assert_int_equal(n, 2);
	for (i = 0; i < PV_NELEM(bad); i++) {
		assert_int_equal(pv_hex0x_decode(bad[i], strlen(bad[i]), out, sizeof(out), &n),
				 PV_ERR_BAD_INPUT);
		assert_int_equal(n, 0);
	}
	/* max bytes and one more */
	assert_int_equal(pv_hex0x_decode("0x0001020304050607", 18, out, 8, &n), PV_OK);
	assert_int_equal(n, 8);
	assert_int_equal(pv_hex0x_decode("0x000102030405060708", 20, out, 8, &n), PV_ERR_TOO_LARGE);
	assert_int_equal(n, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_eip55_vectors),
	    cmocka_unit_test(test_single_case_accepted),
	    cmocka_unit_test(test_bad_checksum_refused),
	    cmocka_unit_test(test_malformed_refused),
	    cmocka_unit_test(test_address_of_known_key),
	    cmocka_unit_test(test_other_key_types_refused),
	    cmocka_unit_test(test_off_curve_point_refused),
	    cmocka_unit_test(test_personal_hash),
	    cmocka_unit_test(test_recovery_id_published),
	    cmocka_unit_test(test_recovery_id_matches_libsecp256k1),
	    cmocka_unit_test(test_recovery_id_refusals),
	    cmocka_unit_test(test_hex0x),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
