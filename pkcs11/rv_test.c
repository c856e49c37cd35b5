/* CKR_ mapping and names, mechanism names. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pkcs11/token.h"

#ifndef CKR_AEAD_DECRYPT_FAILED
#define CKR_AEAD_DECRYPT_FAILED 0x35UL
#endif
#ifndef CKR_TOKEN_RESOURCE_EXCEEDED
#define CKR_TOKEN_RESOURCE_EXCEEDED 0x201UL
#endif
#ifndef CKR_OPERATION_CANCEL_FAILED
#define CKR_OPERATION_CANCEL_FAILED 0x202UL
#endif
#ifndef CKR_KEY_EXHAUSTED
#define CKR_KEY_EXHAUSTED 0x203UL
#endif

#define C(x)                                                                                                 \
	{                                                                                                    \
		x, #x                                                                                        \
	}
static const struct {
	CK_RV rv;
	const char *name;
} all_codes[] = {
    C(CKR_OK),
    C(CKR_CANCEL),
    C(CKR_HOST_MEMORY),
    C(CKR_SLOT_ID_INVALID),
    C(CKR_GENERAL_ERROR),
    C(CKR_FUNCTION_FAILED),
    C(CKR_ARGUMENTS_BAD),
    C(CKR_NO_EVENT),
    C(CKR_NEED_TO_CREATE_THREADS),
    C(CKR_CANT_LOCK),
    C(CKR_ATTRIBUTE_READ_ONLY),
    C(CKR_ATTRIBUTE_SENSITIVE),
    C(CKR_ATTRIBUTE_TYPE_INVALID),
    C(CKR_ATTRIBUTE_VALUE_INVALID),
    C(CKR_ACTION_PROHIBITED),
    C(CKR_DATA_INVALID),
    C(CKR_DATA_LEN_RANGE),
    C(CKR_DEVICE_ERROR),
    C(CKR_DEVICE_MEMORY),
    C(CKR_DEVICE_REMOVED),
    C(CKR_AEAD_DECRYPT_FAILED),
    C(CKR_ENCRYPTED_DATA_INVALID),
    C(CKR_ENCRYPTED_DATA_LEN_RANGE),
    C(CKR_FUNCTION_CANCELED),
    C(CKR_FUNCTION_NOT_PARALLEL),
    C(CKR_FUNCTION_NOT_SUPPORTED),
    C(CKR_KEY_HANDLE_INVALID),
    C(CKR_KEY_SIZE_RANGE),
    C(CKR_KEY_TYPE_INCONSISTENT),
    C(CKR_KEY_NOT_NEEDED),
    C(CKR_KEY_CHANGED),
    C(CKR_KEY_NEEDED),
    C(CKR_KEY_INDIGESTIBLE),
    C(CKR_KEY_FUNCTION_NOT_PERMITTED),
    C(CKR_KEY_NOT_WRAPPABLE),
    C(CKR_KEY_UNEXTRACTABLE),
    C(CKR_MECHANISM_INVALID),
    C(CKR_MECHANISM_PARAM_INVALID),
    C(CKR_OBJECT_HANDLE_INVALID),
    C(CKR_OPERATION_ACTIVE),
    C(CKR_OPERATION_NOT_INITIALIZED),
    C(CKR_PIN_INCORRECT),
    C(CKR_PIN_INVALID),
    C(CKR_PIN_LEN_RANGE),
    C(CKR_PIN_EXPIRED),
    C(CKR_PIN_LOCKED),
    C(CKR_SESSION_CLOSED),
    C(CKR_SESSION_COUNT),
    C(CKR_SESSION_HANDLE_INVALID),
    C(CKR_SESSION_PARALLEL_NOT_SUPPORTED),
    C(CKR_SESSION_READ_ONLY),
    C(CKR_SESSION_EXISTS),
    C(CKR_SESSION_READ_ONLY_EXISTS),
    C(CKR_SESSION_READ_WRITE_SO_EXISTS),
    C(CKR_SIGNATURE_INVALID),
    C(CKR_SIGNATURE_LEN_RANGE),
    C(CKR_TEMPLATE_INCOMPLETE),
    C(CKR_TEMPLATE_INCONSISTENT),
    C(CKR_TOKEN_NOT_PRESENT),
    C(CKR_TOKEN_NOT_RECOGNIZED),
    C(CKR_TOKEN_WRITE_PROTECTED),
    C(CKR_UNWRAPPING_KEY_HANDLE_INVALID),
    C(CKR_UNWRAPPING_KEY_SIZE_RANGE),
    C(CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT),
    C(CKR_USER_ALREADY_LOGGED_IN),
    C(CKR_USER_NOT_LOGGED_IN),
    C(CKR_USER_PIN_NOT_INITIALIZED),
    C(CKR_USER_TYPE_INVALID),
    C(CKR_USER_ANOTHER_ALREADY_LOGGED_IN),
    C(CKR_USER_TOO_MANY_TYPES),
    C(CKR_WRAPPED_KEY_INVALID),
    C(CKR_WRAPPED_KEY_LEN_RANGE),
    C(CKR_WRAPPING_KEY_HANDLE_INVALID),
    C(CKR_WRAPPING_KEY_SIZE_RANGE),
    C(CKR_WRAPPING_KEY_TYPE_INCONSISTENT),
    C(CKR_RANDOM_SEED_NOT_SUPPORTED),
    C(CKR_RANDOM_NO_RNG),
    C(CKR_DOMAIN_PARAMS_INVALID),
    C(CKR_CURVE_NOT_SUPPORTED),
    C(CKR_BUFFER_TOO_SMALL),
    C(CKR_SAVED_STATE_INVALID),
    C(CKR_INFORMATION_SENSITIVE),
    C(CKR_STATE_UNSAVEABLE),
    C(CKR_CRYPTOKI_NOT_INITIALIZED),
    C(CKR_CRYPTOKI_ALREADY_INITIALIZED),
    C(CKR_MUTEX_BAD),
    C(CKR_MUTEX_NOT_LOCKED),
    C(CKR_NEW_PIN_MODE),
    C(CKR_NEXT_OTP),
    C(CKR_EXCEEDED_MAX_ITERATIONS),
    C(CKR_FIPS_SELF_TEST_FAILED),
    C(CKR_LIBRARY_LOAD_FAILED),
    C(CKR_PIN_TOO_WEAK),
    C(CKR_PUBLIC_KEY_INVALID),
    C(CKR_FUNCTION_REJECTED),
    C(CKR_TOKEN_RESOURCE_EXCEEDED),
    C(CKR_OPERATION_CANCEL_FAILED),
    C(CKR_KEY_EXHAUSTED),
};

/* Every code has its own name and a real error (only CKR_OK is success). */
static void
test_every_code_named_and_mapped(void **state)
{
	(void)state;
	for (size_t i = 0; i < PV_NELEM(all_codes); i++) {
		pv_err e = p11_rv_to_err(all_codes[i].rv);

		assert_string_equal(p11_rv_name(all_codes[i].rv), all_codes[i].name);
		if (all_codes[i].rv == CKR_OK)
			assert_int_equal(e, PV_OK);
		else
			assert_true(e < 0 && e >= PV_ERR_MIN);
	}
}

/* The mappings callers branch on. */
static void
test_mapping(void **state)
{
	static const struct {
		CK_RV rv;
		pv_err err;
	} want[] = {
	    {CKR_SESSION_HANDLE_INVALID, PV_ERR_SESSION},
	    {CKR_SESSION_CLOSED, PV_ERR_SESSION},
	    {CKR_OBJECT_HANDLE_INVALID, PV_ERR_SESSION},
	    {CKR_KEY_HANDLE_INVALID, PV_ERR_SESSION},
	    {CKR_USER_NOT_LOGGED_IN, PV_ERR_NOT_LOGGED_IN},
	    {CKR_DEVICE_REMOVED, PV_ERR_TOKEN_UNAVAILABLE},
	    {CKR_TOKEN_NOT_PRESENT, PV_ERR_TOKEN_UNAVAILABLE},
	    {CKR_DEVICE_ERROR, PV_ERR_TOKEN_UNAVAILABLE},
	    {CKR_CRYPTOKI_NOT_INITIALIZED, PV_ERR_TOKEN_UNAVAILABLE},
	    {CKR_PIN_INCORRECT, PV_ERR_PIN_INCORRECT},
	    {CKR_PIN_LOCKED, PV_ERR_PIN_LOCKED},
	    {CKR_SIGNATURE_INVALID, PV_ERR_BAD_SIGNATURE},
	    {CKR_SIGNATURE_LEN_RANGE, PV_ERR_BAD_SIGNATURE},
	    {CKR_MECHANISM_INVALID, PV_ERR_MECHANISM},
	    {CKR_BUFFER_TOO_SMALL, PV_ERR_TOO_LARGE},
	    {CKR_HOST_MEMORY, PV_ERR_NOMEM},
	    {CKR_SLOT_ID_INVALID, PV_ERR_TOKEN_NOT_FOUND},
	    {CKR_WRAPPED_KEY_INVALID, PV_ERR_INTEGRITY},
	    {CKR_AEAD_DECRYPT_FAILED, PV_ERR_INTEGRITY},
	    {CKR_KEY_TYPE_INCONSISTENT, PV_ERR_KEY_TYPE},
	    {CKR_SESSION_COUNT, PV_ERR_BUSY},
	    {CKR_LIBRARY_LOAD_FAILED, PV_ERR_MODULE_LOAD},
	    {CKR_GENERAL_ERROR, PV_ERR_PKCS11},
	};

	(void)state;
	for (size_t i = 0; i < PV_NELEM(want); i++)
		assert_int_equal(p11_rv_to_err(want[i].rv), want[i].err);
}

static void
test_unknown_codes(void **state)
{
	(void)state;
	assert_int_equal(p11_rv_to_err(0x7777), PV_ERR_PKCS11);
	assert_string_equal(p11_rv_name(0x7777), "CKR_0x7777");
	assert_int_equal(p11_rv_to_err(CKR_VENDOR_DEFINED + 5), PV_ERR_PKCS11);
	assert_string_equal(p11_rv_name(CKR_VENDOR_DEFINED + 5), "CKR_VENDOR_DEFINED+0x5");
}

static void
test_mech_names(void **state)
{
	char buf[32];

	(void)state;
	assert_string_equal(p11_mech_name(CKM_ECDSA, buf, sizeof(buf)), "CKM_ECDSA");
	assert_string_equal(p11_mech_name(CKM_EDDSA, buf, sizeof(buf)), "CKM_EDDSA");
	assert_string_equal(p11_mech_name(CKM_EC_KEY_PAIR_GEN, buf, sizeof(buf)), "CKM_EC_KEY_PAIR_GEN");
	assert_string_equal(p11_mech_name(CKM_EC_EDWARDS_KEY_PAIR_GEN, buf, sizeof(buf)),
			    "CKM_EC_EDWARDS_KEY_PAIR_GEN");
	assert_string_equal(p11_mech_name(CKM_SHA256_RSA_PKCS_PSS, buf, sizeof(buf)),
			    "CKM_SHA256_RSA_PKCS_PSS");
	assert_string_equal(p11_mech_name(CKM_RSA_PKCS_OAEP, buf, sizeof(buf)), "CKM_RSA_PKCS_OAEP");
	assert_string_equal(p11_mech_name(CKM_AES_KEY_WRAP_PAD, buf, sizeof(buf)), "CKM_AES_KEY_WRAP_PAD");
	assert_string_equal(p11_mech_name(CKM_AES_GCM, buf, sizeof(buf)), "CKM_AES_GCM");
	assert_string_equal(p11_mech_name(CKM_SHA256_HMAC, buf, sizeof(buf)), "CKM_SHA256_HMAC");
	assert_string_equal(p11_mech_name(CKM_ECDH1_DERIVE, buf, sizeof(buf)), "CKM_ECDH1_DERIVE");
	assert_string_equal(p11_mech_name(0x8000abcdUL, buf, sizeof(buf)), "CKM_0x8000abcd");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_code_named_and_mapped),
	    cmocka_unit_test(test_mapping),
	    cmocka_unit_test(test_unknown_codes),
	    cmocka_unit_test(test_mech_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
