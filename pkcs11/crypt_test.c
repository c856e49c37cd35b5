/*
 * Encryption and key wrapping through the token layer against a throwaway
 * SoftHSM token: AES-GCM round trip, AES-KWP wrap/unwrap, error mapping,
 * and session objects surviving a session the pool would have closed.
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

#include "base/secmem.h"
#include "pkcs11/crypt.h"
#include "pkcs11/testutil.h"
#include "pkcs11/token.h"

static struct tu_token T;

static p11_token *
open_logged_in(void)
{
	struct p11_token_opts o;
	p11_token *tok = NULL;

	tu_opts(&T, &o);
	assert_int_equal(p11_token_open(&o, &tok), PV_OK);
	assert_int_equal(p11_token_login(tok), PV_OK);
	return tok;
}

/* A session AES-256 key; extractable as asked. */
static CK_OBJECT_HANDLE
gen_aes(p11_token *tok, CK_BBOOL extractable)
{
	CK_MECHANISM mech = {CKM_AES_KEY_GEN, NULL, 0};
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ULONG len = 32;
	CK_ATTRIBUTE t[] = {
	    {CKA_TOKEN, &no, 1},      {CKA_VALUE_LEN, &len, sizeof(len)},
	    {CKA_ENCRYPT, &yes, 1},   {CKA_DECRYPT, &yes, 1},
	    {CKA_WRAP, &yes, 1},      {CKA_UNWRAP, &yes, 1},
	    {CKA_SENSITIVE, &yes, 1}, {CKA_EXTRACTABLE, &extractable, 1},
	};
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;

	assert_int_equal(p11_generate_key(tok, &mech, t, PV_NELEM(t), &h), PV_OK);
	return h;
}

static void
gcm_params(CK_GCM_PARAMS *p, uint8_t *iv, uint8_t *aad, size_t aadlen)
{
	memset(p, 0, sizeof(*p));
	p->iv_ptr = iv;
	p->iv_len = 12;
	p->iv_bits = 96;
	p->aad_ptr = aad;
	p->aad_len = aadlen;
	p->tag_bits = 128;
}

static void
test_gcm_round_trip(void **state)
{
	p11_token *tok = open_logged_in();
	CK_OBJECT_HANDLE key = gen_aes(tok, CK_FALSE);
	uint8_t iv[12], aad[] = "header", pt[] = "attack at dawn", ct[64], back[64];
	CK_GCM_PARAMS p;
	CK_MECHANISM mech = {CKM_AES_GCM, &p, sizeof(p)};
	size_t ctlen = sizeof(ct), backlen = sizeof(back), small;

	(void)state;
	memset(iv, 0x42, sizeof(iv));
	gcm_params(&p, iv, aad, sizeof(aad));
	assert_int_equal(p11_encrypt(tok, &mech, key, pt, sizeof(pt), ct, &ctlen), PV_OK);
	assert_int_equal(ctlen, sizeof(pt) + 16);
	assert_memory_not_equal(ct, pt, sizeof(pt));
	assert_int_equal(p11_decrypt(tok, &mech, key, ct, ctlen, back, &backlen), PV_OK);
	assert_int_equal(backlen, sizeof(pt));
	assert_memory_equal(back, pt, sizeof(pt));

	/* Tag, ciphertext and AAD are all authenticated. */
	ct[ctlen - 1] ^= 1;
	backlen = sizeof(back);
	assert_int_equal(p11_decrypt(tok, &mech, key, ct, ctlen, back, &backlen), PV_ERR_INTEGRITY);
	assert_non_null(strstr(pv_err_detail(), "does not authenticate"));
	ct[ctlen - 1] ^= 1;
	ct[0] ^= 0x80;
	backlen = sizeof(back);
	assert_int_equal(p11_decrypt(tok, &mech, key, ct, ctlen, back, &backlen), PV_ERR_INTEGRITY);
	ct[0] ^= 0x80;
	p.aad_len--;
	backlen = sizeof(back);
	assert_int_equal(p11_decrypt(tok, &mech, key, ct, ctlen, back, &backlen), PV_ERR_INTEGRITY);
	p.aad_len++;
	/* The session was not left with an active operation. */
	backlen = sizeof(back);
	assert_int_equal(p11_decrypt(tok, &mech, key, ct, ctlen, back, &backlen), PV_OK);

	/* Empty plaintext: only the tag; decrypting it yields zero bytes. */
	ctlen = sizeof(ct);
	assert_int_equal(p11_encrypt(tok, &mech, key, pt, 0, ct, &ctlen), PV_OK);
	assert_int_equal(ctlen, 16);
	backlen = sizeof(back);
	assert_int_equal(p11_decrypt(tok, &mech, key, ct, ctlen, back, &backlen), PV_OK);
	assert_int_equal(backlen, 0);

	/* Too small an output buffer, then the pool still works. */
	small = 4;
	assert_int_equal(p11_encrypt(tok, &mech, key, pt, sizeof(pt), ct, &small), PV_ERR_TOO_LARGE);
	ctlen = sizeof(ct);
	assert_int_equal(p11_encrypt(tok, &mech, key, pt, sizeof(pt), ct, &ctlen), PV_OK);
	assert_int_equal(p11_handle_destroy(tok, key), PV_OK);
	p11_token_close(tok);
}

static void
test_kwp_wrap_unwrap(void **state)
{
	p11_token *tok = open_logged_in();
	CK_OBJECT_HANDLE kek = gen_aes(tok, CK_FALSE), key = gen_aes(tok, CK_TRUE), copy, other;
	CK_MECHANISM kwp = {CKM_AES_KEY_WRAP_PAD, NULL, 0};
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_AES;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE t[] = {
	    {CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &kt, sizeof(kt)}, {CKA_TOKEN, &no, 1},
	    {CKA_ENCRYPT, &yes, 1},         {CKA_DECRYPT, &yes, 1},          {CKA_SENSITIVE, &yes, 1},
	    {CKA_EXTRACTABLE, &no, 1},
	};
	uint8_t *wrapped = NULL, iv[12] = {1}, pt[] = "same key?", c1[64], c2[64];
	size_t wlen = 0, l1 = sizeof(c1), l2 = sizeof(c2);
	CK_GCM_PARAMS p;
	CK_MECHANISM gcm = {CKM_AES_GCM, &p, sizeof(p)};
	CK_ULONG vlen = 0;

	(void)state;
	assert_int_equal(p11_wrap_key(tok, &kwp, kek, key, &wrapped, &wlen), PV_OK);
	assert_int_equal(wlen, 40); /* RFC 5649: 32 bytes + 8 */
	assert_int_equal(p11_unwrap_key(tok, &kwp, kek, wrapped, wlen, t, PV_NELEM(t), &copy), PV_OK);
	/* SoftHSM 2.6 leaves CKA_VALUE_LEN of an unwrapped key at 0. */
	assert_int_equal(p11_handle_get_ulong(tok, copy, CKA_VALUE_LEN, &vlen), PV_OK);
	assert_true(vlen == 0 || vlen == 32);
	/* Same key: same GCM output under the same IV. */
	gcm_params(&p, iv, NULL, 0);
	assert_int_equal(p11_encrypt(tok, &gcm, key, pt, sizeof(pt), c1, &l1), PV_OK);
	assert_int_equal(p11_encrypt(tok, &gcm, copy, pt, sizeof(pt), c2, &l2), PV_OK);
	assert_int_equal(l1, l2);
	assert_memory_equal(c1, c2, l1);

	/* Altered bytes or another KEK: the integrity check of KWP fails. */
	wrapped[5] ^= 1;
	assert_int_equal(p11_unwrap_key(tok, &kwp, kek, wrapped, wlen, t, PV_NELEM(t), &other),
			 PV_ERR_INTEGRITY);
	assert_int_equal(other, CK_INVALID_HANDLE);
	wrapped[5] ^= 1;
	other = gen_aes(tok, CK_FALSE);
	assert_int_equal(p11_unwrap_key(tok, &kwp, other, wrapped, wlen, t, PV_NELEM(t), &copy),
			 PV_ERR_INTEGRITY);
	assert_int_equal(p11_unwrap_key(tok, &kwp, kek, wrapped, 12, t, PV_NELEM(t), &copy),
			 PV_ERR_INTEGRITY);

	/* A non-extractable key cannot be wrapped. */
	free(wrapped);
	wrapped = NULL;
	assert_int_not_equal(p11_wrap_key(tok, &kwp, kek, other, &wrapped, &wlen), PV_OK);
	assert_null(wrapped);
	free(wrapped);
	p11_token_close(tok);
}

static void
test_error_mapping(void **state)
{
	p11_token *tok = open_logged_in();
	CK_OBJECT_HANDLE key = gen_aes(tok, CK_TRUE), plain;
	CK_MECHANISM kwp = {CKM_AES_KEY_WRAP_PAD, NULL, 0};
	CK_MECHANISM bogus = {0x7fffff01UL, NULL, 0};
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	uint8_t value[20], buf[64], small[4];
	CK_ATTRIBUTE t[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_KEY_TYPE, &kt, sizeof(kt)},
	    {CKA_TOKEN, &no, 1},
	    {CKA_SENSITIVE, &no, 1},
	    {CKA_EXTRACTABLE, &yes, 1},
	    {CKA_VALUE, value, sizeof(value)},
	};
	size_t len = sizeof(buf);

	(void)state;
	/* SoftHSM encrypts with KWP only through C_WrapKey. */
	assert_int_equal(p11_encrypt(tok, &kwp, key, value, 16, buf, &len), PV_ERR_MECHANISM);
	assert_non_null(strstr(pv_err_detail(), "CKR_MECHANISM_INVALID"));
	len = sizeof(buf);
	assert_int_equal(p11_decrypt(tok, &bogus, key, buf, 16, buf, &len), PV_ERR_MECHANISM);
	/* A handle that does not exist is not re-found. */
	len = sizeof(buf);
	assert_int_equal(p11_encrypt(tok, &kwp, 0x7ffffff0UL, value, 16, buf, &len), PV_ERR_SESSION);
	assert_int_equal(p11_decrypt(tok, &kwp, key, NULL, 4, buf, &len), PV_ERR_USAGE);

	/* Attribute reads into a caller buffer. */
	assert_int_equal(p11_handle_read_attr(tok, key, CKA_VALUE, buf, sizeof(buf), &len), PV_ERR_NOT_FOUND);
	memset(value, 0x33, sizeof(value));
	assert_int_equal(p11_create_object(tok, t, PV_NELEM(t), &plain), PV_OK);
	assert_int_equal(p11_handle_read_attr(tok, plain, CKA_VALUE, buf, sizeof(buf), &len), PV_OK);
	assert_int_equal(len, sizeof(value));
	assert_memory_equal(buf, value, sizeof(value));
	assert_int_equal(p11_handle_read_attr(tok, plain, CKA_VALUE, small, sizeof(small), &len),
			 PV_ERR_TOO_LARGE);
	p11_token_close(tok);
}

/*
 * A session object outlives an operation that leaves its creating session
 * unusable (the pool parks a pinned session instead of closing it).
 */
static void
test_session_object_survives(void **state)
{
	p11_token *tok = open_logged_in();
	CK_MECHANISM ecdsa = {CKM_ECDSA, NULL, 0};
	uint8_t digest[32] = {0}, sig[4], iv[12] = {9}, pt[8] = {0}, ct[32];
	size_t siglen = sizeof(sig), ctlen = sizeof(ct);
	struct p11_token_stats st;
	CK_GCM_PARAMS p;
	CK_MECHANISM gcm = {CKM_AES_GCM, &p, sizeof(p)};
	CK_OBJECT_HANDLE key;
	p11_obj priv, pub;

	(void)state;
	assert_int_equal(tu_gen_ec(tok, "survive", 0x51, &priv, &pub), PV_OK);
	key = gen_aes(tok, CK_FALSE);
	p11_token_get_stats(tok, &st);
	assert_int_equal(st.pool_in_use, 0);
	/* One session only in use so far: the failing sign runs on the creator. */
	assert_int_equal(p11_sign(tok, &ecdsa, &priv, digest, sizeof(digest), sig, &siglen),
			 PV_ERR_TOO_LARGE);
	gcm_params(&p, iv, NULL, 0);
	assert_int_equal(p11_encrypt(tok, &gcm, key, pt, sizeof(pt), ct, &ctlen), PV_OK);
	assert_int_equal(p11_handle_destroy(tok, key), PV_OK);
	assert_int_equal(p11_obj_destroy(tok, &priv), PV_OK);
	assert_int_equal(p11_obj_destroy(tok, &pub), PV_OK);
	p11_token_close(tok);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_gcm_round_trip),
	    cmocka_unit_test(test_kwp_wrap_unwrap),
	    cmocka_unit_test(test_error_mapping),
	    cmocka_unit_test(test_session_object_survives),
	};
	int r;

	if (pv_secmem_init() != PV_OK)
		return 1;
	if ((r = tu_make_token(&T, "pvcrypt")) != 0)
		return r == TU_SKIP ? TU_SKIP : 1;
	r = cmocka_run_group_tests(tests, NULL, NULL);
	tu_remove_token(&T);
	return r;
}
