#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/objects.h>

#include "core/alg.h"

static void
test_names_round_trip(void **state)
{
	const struct pv_alg_info *ai;
	size_t i, n = 0;

	for (i = 0; pv_alg_all[i] != PV_ALG_NONE; i++, n++) {
		ai = pv_alg_info(pv_alg_all[i]);
		assert_non_null(ai);
		assert_int_equal(ai->alg, pv_alg_all[i]);
		assert_int_equal(pv_alg_from_name(ai->name), pv_alg_all[i]);
	}
	assert_int_equal(n, 9);
	assert_int_equal(pv_alg_from_name("P-256"), PV_ALG_NONE);
	assert_int_equal(pv_alg_from_name(""), PV_ALG_NONE);
	assert_int_equal(pv_alg_from_name(NULL), PV_ALG_NONE);
	assert_null(pv_alg_info(PV_ALG_NONE));
}

/* The table's DER OIDs must be what OpenSSL encodes for those curves. */
static void
check_oid(pv_alg alg, int nid)
{
	const struct pv_alg_info *ai = pv_alg_info(alg);
	ASN1_OBJECT *obj = OBJ_nid2obj(nid);
	unsigned char *der = NULL;
	int len;

	assert_non_null(ai);
	assert_non_null(obj);
	len = i2d_ASN1_OBJECT(obj, &der);
	assert_true(len > 0);
	assert_int_equal((size_t)len, ai->ec_params_len);
	assert_memory_equal(der, ai->ec_params, ai->ec_params_len);
	assert_int_equal(pv_alg_from_ec_params(der, (size_t)len), alg);
	OPENSSL_free(der);
}

static void
test_curve_oids(void **state)
{
	check_oid(PV_ALG_ED25519, NID_ED25519);
	check_oid(PV_ALG_SECP256K1, NID_secp256k1);
	check_oid(PV_ALG_P256, NID_X9_62_prime256v1);
	check_oid(PV_ALG_P384, NID_secp384r1);
}

static void
test_ed25519_alternative_params(void **state)
{
	static const uint8_t printable[] = {0x13, 0x0c, 'e', 'd', 'w', 'a', 'r',
					    'd',  's',  '2', '5', '5', '1', '9'};
	static const uint8_t gnu_oid[] = {0x06, 0x09, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xda, 0x47, 0x0f, 0x01};
	ASN1_OBJECT *obj = OBJ_txt2obj("1.3.6.1.4.1.11591.15.1", 1);
	unsigned char *der = NULL;
	int len;

	assert_int_equal(pv_alg_from_ec_params(printable, sizeof(printable)), PV_ALG_ED25519);
	assert_int_equal(pv_alg_from_ec_params(gnu_oid, sizeof(gnu_oid)), PV_ALG_ED25519);
	/* and the GnuPG OID bytes are what OpenSSL encodes for that dotted form */
	assert_non_null(obj);
	len = i2d_ASN1_OBJECT(obj, &der);
	assert_int_equal((size_t)len, sizeof(gnu_oid));
	assert_memory_equal(der, gnu_oid, sizeof(gnu_oid));
	OPENSSL_free(der);
	ASN1_OBJECT_free(obj);
}

static void
test_unknown_params(void **state)
{
	static const uint8_t p521[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23};
	static const uint8_t p256_trailing[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
						0x3d, 0x03, 0x01, 0x07, 0x00};
	const struct pv_alg_info *ai = pv_alg_info(PV_ALG_P256);

	assert_int_equal(pv_alg_from_ec_params(p521, sizeof(p521)), PV_ALG_NONE);
	assert_int_equal(pv_alg_from_ec_params(p256_trailing, sizeof(p256_trailing)), PV_ALG_NONE);
	assert_int_equal(pv_alg_from_ec_params(ai->ec_params, ai->ec_params_len - 1), PV_ALG_NONE);
	assert_int_equal(pv_alg_from_ec_params(NULL, 0), PV_ALG_NONE);
}

static void
test_table_values(void **state)
{
	const struct pv_alg_info *ai;

	ai = pv_alg_info(PV_ALG_ED25519);
	assert_int_equal(ai->ckk, CKK_EC_EDWARDS);
	assert_int_equal(ai->keygen, CKM_EC_EDWARDS_KEY_PAIR_GEN);
	assert_int_equal(ai->sign, CKM_EDDSA);
	assert_int_equal(ai->default_digest, PV_DIGEST_NONE);
	assert_string_equal(ai->jwk_crv, "Ed25519");

	ai = pv_alg_info(PV_ALG_SECP256K1);
	assert_int_equal(ai->ckk, CKK_EC);
	assert_int_equal(ai->sign, CKM_ECDSA);
	assert_int_equal(ai->field_len, 32);
	assert_int_equal(ai->default_digest, PV_DIGEST_SHA256);
	assert_string_equal(ai->jwk_crv, "secp256k1");

	ai = pv_alg_info(PV_ALG_P384);
	assert_int_equal(ai->field_len, 48);
	assert_int_equal(ai->default_digest, PV_DIGEST_SHA384);
	assert_string_equal(ai->jwk_crv, "P-384");

	ai = pv_alg_info(PV_ALG_RSA3072);
	assert_int_equal(ai->ckk, CKK_RSA);
	assert_int_equal(ai->keygen, CKM_RSA_PKCS_KEY_PAIR_GEN);
	assert_int_equal(ai->sign, CKM_RSA_PKCS);
	assert_int_equal(ai->bits, 3072);
	assert_null(ai->ec_params);

	ai = pv_alg_info(PV_ALG_AES256);
	assert_int_equal(ai->ckk, CKK_AES);
	assert_int_equal(ai->sign, 0);
	assert_int_equal(ai->bits, 256);

	ai = pv_alg_info(PV_ALG_HMAC_SHA256);
	assert_int_equal(ai->ckk, CKK_GENERIC_SECRET);
	assert_int_equal(ai->keygen, CKM_GENERIC_SECRET_KEY_GEN);
	assert_int_equal(ai->sign, CKM_SHA256_HMAC);
	assert_int_equal(ai->default_digest, PV_DIGEST_NONE);

	assert_true(pv_alg_is_asymmetric(PV_ALG_ED25519));
	assert_true(pv_alg_is_asymmetric(PV_ALG_RSA4096));
	assert_false(pv_alg_is_asymmetric(PV_ALG_AES256));
	assert_false(pv_alg_is_asymmetric(PV_ALG_HMAC_SHA256));
	assert_false(pv_alg_is_asymmetric(PV_ALG_NONE));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names_round_trip),
	    cmocka_unit_test(test_curve_oids),
	    cmocka_unit_test(test_ed25519_alternative_params),
	    cmocka_unit_test(test_unknown_params),
	    cmocka_unit_test(test_table_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
