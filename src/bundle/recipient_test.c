/*
 * Recipients against a throwaway SoftHSM token: aes-kwp seal/open in both
 * DEK modes, wrong KEK and altered bytes, rsa-oaep-sha256 with a token key
 * pair (SoftHSM takes the raw-RSA fallback), finding keys by kid, and OAEP
 * output that plain OpenSSL decrypts; a recipient key opens bundles only
 * as a p11vault key of purpose wrap or decrypt.
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
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "base/secmem.h"
#include "bundle/dek.h"
#include "bundle/recipient.h"
#include "core/b64.h"
#include "core/digest.h"
#include "core/keys.h"
#include "core/pubkey.h"
#include "pkcs11/testutil.h"
#include "pkcs11/token.h"

static struct tu_token T;
static p11_token *TOK;

static int
setup(void **state)
{
	struct p11_token_opts o;

	(void)state;
	tu_opts(&T, &o);
	if (p11_token_open(&o, &TOK) != PV_OK || p11_token_login(TOK) != PV_OK)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	p11_token_close(TOK);
	TOK = NULL;
	return 0;
}

static CK_OBJECT_HANDLE
gen_kek(const uint8_t *id, size_t idlen)
{
	CK_MECHANISM mech = {CKM_AES_KEY_GEN, NULL, 0};
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ULONG len = 32;
	CK_ATTRIBUTE t[] = {
	    {CKA_TOKEN, &yes, 1},     {CKA_VALUE_LEN, &len, sizeof(len)},
	    {CKA_WRAP, &yes, 1},      {CKA_UNWRAP, &yes, 1},
	    {CKA_SENSITIVE, &yes, 1}, {CKA_EXTRACTABLE, &no, 1},
	    {CKA_PRIVATE, &yes, 1},   {CKA_ID, (void *)(uintptr_t)id, idlen},
	};
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;

	assert_int_equal(p11_generate_key(TOK, &mech, t, PV_NELEM(t), &h), PV_OK);
	return h;
}

/* The two DEKs are the same key: what one seals the other opens. A
 * reader's DEK on the token may not encrypt, so the other one seals. */
static void
assert_same_dek(pv_dek *a, pv_dek *b)
{
	uint8_t nonce[PV_GCM_NONCE_LEN] = {7}, *ct = NULL;
	static const uint8_t pt[] = "API_TOKEN=xyz";
	size_t ctlen = 0;
	pv_secret *back = NULL;
	pv_dek *t;

	if (pv_dek_on_token(a)) {
		assert_int_not_equal(pv_dek_gcm_seal(a, nonce, pt, 3, pt, sizeof(pt), &ct, &ctlen), PV_OK);
		t = a;
		a = b;
		b = t;
	}

	assert_int_equal(pv_dek_gcm_seal(a, nonce, pt, 3, pt, sizeof(pt), &ct, &ctlen), PV_OK);
	assert_int_equal(pv_dek_gcm_open(b, nonce, pt, 3, ct, ctlen, &back), PV_OK);
	assert_int_equal(pv_secret_len(back), sizeof(pt));
	assert_memory_equal(pv_secret_ro(back), pt, sizeof(pt));
	pv_secret_free(back);
	free(ct);
}

static void
assert_same_bytes(pv_dek *a, pv_dek *b)
{
	pv_secret *x = NULL, *y = NULL;

	assert_int_equal(pv_dek_export(a, &x), PV_OK);
	assert_int_equal(pv_dek_export(b, &y), PV_OK);
	assert_int_equal(pv_secret_len(x), PV_DEK_LEN);
	assert_int_equal(pv_secret_len(y), PV_DEK_LEN);
	assert_memory_equal(pv_secret_ro(x), pv_secret_ro(y), PV_DEK_LEN);
	pv_secret_free(x);
	pv_secret_free(y);
}

static void
test_kwp(void **state)
{
	static const uint8_t id[] = {0xab, 0xcd, 0x01};
	CK_OBJECT_HANDLE kek = gen_kek(id, sizeof(id)), other = gen_kek((const uint8_t *)"\x02", 1), found;
	pv_dek *soft = NULL, *tokdek = NULL, *mem = NULL, *x = NULL;
	uint8_t *w = NULL, *w2 = NULL;
	size_t wlen = 0, w2len = 0;
	char *kid = NULL;

	(void)state;
	assert_int_equal(pv_recipient_kek_kid(TOK, kek, &kid), PV_OK);
	assert_string_equal(kid, "abcd01");
	assert_int_equal(pv_recipient_find_kek(TOK, kid, &found), PV_OK);
	assert_int_equal(found, kek);
	assert_int_equal(pv_recipient_find_kek(TOK, "abcd02", &found), PV_ERR_NOT_FOUND);
	assert_int_equal(pv_recipient_find_kek(TOK, "xyz", &found), PV_ERR_BAD_INPUT);
	assert_int_equal(pv_recipient_find_kek(TOK, "", &found), PV_ERR_BAD_INPUT);

	assert_int_equal(pv_dek_generate(&soft), PV_OK);
	assert_int_equal(pv_recipient_wrap_kwp(TOK, kek, soft, &w, &wlen), PV_OK);
	assert_int_equal(wlen, 40);

	/* Reading: the DEK becomes a non-extractable session key. */
	assert_int_equal(pv_recipient_open_kwp(TOK, kek, w, wlen, PV_DEK_ON_TOKEN, &tokdek), PV_OK);
	assert_true(pv_dek_on_token(tokdek));
	{
		CK_BBOOL b = CK_TRUE;

		assert_int_equal(p11_handle_get_bool(TOK, pv_dek_handle(tokdek), CKA_EXTRACTABLE, &b), PV_OK);
		assert_int_equal(b, CK_FALSE);
		assert_int_equal(p11_handle_get_bool(TOK, pv_dek_handle(tokdek), CKA_SENSITIVE, &b), PV_OK);
		assert_int_equal(b, CK_TRUE);
	}
	assert_same_dek(soft, tokdek);
	assert_same_dek(tokdek, soft);
	/* ... and it cannot be wrapped again. */
	assert_int_equal(pv_recipient_wrap_kwp(TOK, kek, tokdek, &w2, &w2len), PV_ERR_KEY_TYPE);

	/* Editing: the same bytes in guarded memory. */
	assert_int_equal(pv_recipient_open_kwp(TOK, kek, w, wlen, PV_DEK_IN_MEMORY, &mem), PV_OK);
	assert_false(pv_dek_on_token(mem));
	assert_same_bytes(soft, mem);

	/* Wrong KEK, altered bytes, wrong length. */
	assert_int_equal(pv_recipient_open_kwp(TOK, other, w, wlen, PV_DEK_ON_TOKEN, &x), PV_ERR_INTEGRITY);
	assert_non_null(strstr(pv_err_detail(), "wrong KEK"));
	assert_int_equal(pv_recipient_open_kwp(TOK, other, w, wlen, PV_DEK_IN_MEMORY, &x), PV_ERR_INTEGRITY);
	w[20] ^= 4;
	assert_int_equal(pv_recipient_open_kwp(TOK, kek, w, wlen, PV_DEK_ON_TOKEN, &x), PV_ERR_INTEGRITY);
	w[20] ^= 4;
	assert_int_equal(pv_recipient_open_kwp(TOK, kek, w, wlen - 8, PV_DEK_ON_TOKEN, &x), PV_ERR_INTEGRITY);
	assert_null(x);

	free(kid);
	free(w);
	pv_dek_free(mem);
	pv_dek_free(tokdek);
	pv_dek_free(soft);
}

/* An RSA-2048 key pair on the token that can decrypt and unwrap. */
static void
gen_rsa(uint8_t idbyte, CK_OBJECT_HANDLE *hpub, CK_OBJECT_HANDLE *hpriv, EVP_PKEY **pub)
{
	CK_MECHANISM mech = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
	CK_BBOOL yes = CK_TRUE;
	CK_ULONG bits = 2048;
	CK_BYTE e[] = {1, 0, 1}, id[1] = {idbyte};
	CK_ATTRIBUTE pt[] = {
	    {CKA_TOKEN, &yes, 1},
	    {CKA_MODULUS_BITS, &bits, sizeof(bits)},
	    {CKA_PUBLIC_EXPONENT, e, sizeof(e)},
	    {CKA_ENCRYPT, &yes, 1},
	    {CKA_WRAP, &yes, 1},
	    {CKA_ID, id, 1},
	};
	CK_ATTRIBUTE st[] = {
	    {CKA_TOKEN, &yes, 1},   {CKA_PRIVATE, &yes, 1}, {CKA_SENSITIVE, &yes, 1},
	    {CKA_DECRYPT, &yes, 1}, {CKA_UNWRAP, &yes, 1},  {CKA_ID, id, 1},
	};
	uint8_t *mod = NULL, *exp = NULL;
	size_t modlen = 0, explen = 0;

	assert_int_equal(p11_generate_key_pair(TOK, &mech, pt, PV_NELEM(pt), st, PV_NELEM(st), hpub, hpriv),
			 PV_OK);
	assert_int_equal(p11_handle_get_attr(TOK, *hpub, CKA_MODULUS, &mod, &modlen), PV_OK);
	assert_int_equal(p11_handle_get_attr(TOK, *hpub, CKA_PUBLIC_EXPONENT, &exp, &explen), PV_OK);
	assert_int_equal(pv_pubkey_from_rsa(mod, modlen, exp, explen, pub), PV_OK);
	free(mod);
	free(exp);
}

static void
test_rsa_token(void **state)
{
	CK_OBJECT_HANDLE hpub, hpriv, found, hpub2, hpriv2;
	EVP_PKEY *pub = NULL, *pub2 = NULL;
	struct pv_open_info info = {-5};
	pv_dek *soft = NULL, *tokdek = NULL, *mem = NULL, *x = NULL;
	uint8_t *w = NULL;
	size_t wlen = 0;
	char *kid = NULL, *kid2 = NULL;

	(void)state;
	gen_rsa(0x77, &hpub, &hpriv, &pub);
	gen_rsa(0x78, &hpub2, &hpriv2, &pub2);
	assert_int_equal(pv_recipient_rsa_kid(pub, &kid), PV_OK);
	assert_int_equal(strlen(kid), 43);
	assert_int_equal(pv_recipient_rsa_kid(pub2, &kid2), PV_OK);
	assert_string_not_equal(kid, kid2);
	assert_int_equal(pv_recipient_find_rsa(TOK, kid, &found), PV_OK);
	assert_int_equal(found, hpriv);
	assert_int_equal(pv_recipient_find_rsa(TOK, kid2, &found), PV_OK);
	assert_int_equal(found, hpriv2);
	assert_int_equal(pv_recipient_find_rsa(TOK, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &found),
			 PV_ERR_NOT_FOUND);

	assert_int_equal(pv_dek_generate(&soft), PV_OK);
	assert_int_equal(pv_recipient_wrap_rsa(pub, soft, &w, &wlen), PV_OK);
	assert_int_equal(wlen, 256);

	/* SoftHSM 2.6 has OAEP with SHA-1 only: the raw-RSA path. */
	assert_int_equal(pv_recipient_open_rsa(TOK, hpriv, w, wlen, PV_DEK_ON_TOKEN, 1, &info, &tokdek),
			 PV_OK);
	assert_int_equal(info.fallback, 2);
	assert_true(pv_dek_on_token(tokdek));
	assert_same_dek(soft, tokdek);
	assert_same_dek(tokdek, soft);
	assert_int_equal(pv_recipient_open_rsa(TOK, hpriv, w, wlen, PV_DEK_IN_MEMORY, 0, &info, &mem), PV_OK);
	assert_same_bytes(soft, mem);

	/* --require-token-unwrap */
	assert_int_equal(pv_recipient_open_rsa(TOK, hpriv, w, wlen, PV_DEK_ON_TOKEN, 0, &info, &x),
			 PV_ERR_MECHANISM);
	assert_non_null(strstr(pv_err_detail(), "fallbacks are refused"));
	assert_int_equal(info.fallback, -1);

	/* The other key, altered bytes, wrong length. */
	assert_int_equal(pv_recipient_open_rsa(TOK, hpriv2, w, wlen, PV_DEK_ON_TOKEN, 1, NULL, &x),
			 PV_ERR_INTEGRITY);
	w[100] ^= 1;
	assert_int_equal(pv_recipient_open_rsa(TOK, hpriv, w, wlen, PV_DEK_ON_TOKEN, 1, &info, &x),
			 PV_ERR_INTEGRITY);
	assert_int_equal(pv_recipient_open_rsa(TOK, hpriv, w, wlen, PV_DEK_IN_MEMORY, 1, &info, &x),
			 PV_ERR_INTEGRITY);
	w[100] ^= 1;
	assert_int_equal(pv_recipient_open_rsa(TOK, hpriv, w, wlen - 1, PV_DEK_ON_TOKEN, 1, &info, &x),
			 PV_ERR_INTEGRITY);
	assert_null(x);

	free(w);
	free(kid);
	free(kid2);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(pub2);
	pv_dek_free(mem);
	pv_dek_free(tokdek);
	pv_dek_free(soft);
}

/* Our OAEP is the standard one: plain OpenSSL decrypts it (SHA-256 and
 * MGF1-SHA-256; SHA-1 OAEP does not), and the kid is SHA-256 of the SPKI. */
static void
test_rsa_openssl_interop(void **state)
{
	EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
	EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY_CTX *ctx = NULL;
	pv_dek *soft = NULL;
	pv_secret *key = NULL;
	uint8_t *w = NULL, out[512], md[PV_DIGEST_MAX_LEN], *spki = NULL;
	size_t wlen = 0, outlen = sizeof(out), mdlen = 0;
	char *kid = NULL, *want = NULL;
	int spkilen;

	(void)state;
	assert_non_null(pk);
	assert_int_equal(pv_dek_generate(&soft), PV_OK);
	assert_int_equal(pv_recipient_wrap_rsa(pk, soft, &w, &wlen), PV_OK);
	assert_int_equal(wlen, 384);
	assert_non_null(ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL));
	assert_int_equal(EVP_PKEY_decrypt_init(ctx), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()), 1);
	assert_int_equal(EVP_PKEY_decrypt(ctx, out, &outlen, w, wlen), 1);
	assert_int_equal(outlen, PV_DEK_LEN);
	assert_int_equal(pv_dek_export(soft, &key), PV_OK);
	assert_memory_equal(out, pv_secret_ro(key), PV_DEK_LEN);
	EVP_PKEY_CTX_free(ctx);
	assert_non_null(ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL));
	assert_int_equal(EVP_PKEY_decrypt_init(ctx), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING), 1);
	outlen = sizeof(out);
	assert_int_not_equal(EVP_PKEY_decrypt(ctx, out, &outlen, w, wlen), 1);

	/* kid = b64u(SHA-256(DER SPKI)) */
	spki = NULL;
	spkilen = i2d_PUBKEY(pk, &spki);
	assert_true(spkilen > 0);
	assert_int_equal(pv_digest_compute(PV_DIGEST_SHA256, spki, (size_t)spkilen, md, &mdlen), PV_OK);
	assert_int_equal(pv_b64url_encode(md, mdlen, &want), PV_OK);
	assert_int_equal(pv_recipient_rsa_kid(pk, &kid), PV_OK);
	assert_string_equal(kid, want);

	/* Not RSA, or too small. */
	free(w);
	w = NULL;
	assert_int_equal(pv_recipient_wrap_rsa(small, soft, &w, &wlen), PV_ERR_KEY_TYPE);
	assert_int_equal(pv_recipient_wrap_rsa(ec, soft, &w, &wlen), PV_ERR_KEY_TYPE);
	assert_null(w);

	OPENSSL_free(spki);
	free(kid);
	free(want);
	pv_secret_free(key);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pk);
	EVP_PKEY_free(small);
	EVP_PKEY_free(ec);
	pv_dek_free(soft);
}

/* The handle of a key's version-1 object of class cls. */
static CK_OBJECT_HANDLE
key_object(pv_keystore *ks, const char *name)
{
	struct pv_key *k = NULL;
	struct pv_key_version ver;
	p11_obj obj;

	assert_int_equal(pv_keys_resolve(ks, name, 0, &k, &ver, &obj), PV_OK);
	assert_int_equal(p11_obj_find(TOK, &obj), PV_OK);
	pv_key_free(k);
	return obj.handle;
}

/* Rewrite a key's metadata as an earlier version wrote it: no purpose (a
 * higher serial wins over the current copy). */
static void
make_legacy(pv_keystore *ks, const char *name)
{
	static const char app[] = "p11vault";
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_BBOOL yes = CK_TRUE;
	struct pv_key *k = NULL;
	CK_OBJECT_HANDLE h;
	char *json = NULL;

	assert_int_equal(pv_keys_get(ks, name, &k), PV_OK);
	k->purpose = PV_PURPOSE_NONE;
	k->serial += 10;
	assert_int_equal(pv_keymeta_serialize(k, &json), PV_OK);
	assert_null(strstr(json, "purpose"));
	CK_ATTRIBUTE t[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_TOKEN, &yes, 1},
	    {CKA_PRIVATE, &yes, 1},
	    {CKA_LABEL, (void *)(uintptr_t)name, strlen(name)},
	    {CKA_APPLICATION, (void *)(uintptr_t)app, strlen(app)},
	    {CKA_VALUE, json, strlen(json)},
	};
	assert_int_equal(p11_create_object(TOK, t, PV_NELEM(t), &h), PV_OK);
	pv_keystore_flush(ks);
	free(json);
	pv_key_free(k);
}

/*
 * pv_recipient_check_purpose: a wrap aes256 key and a decrypt RSA key may be
 * recipients; a key of another purpose, a key made before purposes and a
 * token key that is no p11vault key may not (wrong_purpose, naming the fix).
 */
static void
test_recipient_purpose(void **state)
{
	static const uint8_t raw_id[] = {0x52, 0x41, 0x57};
	pv_keystore *ks = NULL;
	CK_OBJECT_HANDLE raw;

	(void)state;
	assert_int_equal(pv_keystore_new(TOK, &ks), PV_OK);
	assert_int_equal(pv_keys_create(ks, "rp-kek", PV_ALG_AES256, PV_PURPOSE_WRAP, NULL), PV_OK);
	assert_int_equal(pv_keys_create(ks, "rp-dec", PV_ALG_RSA2048, PV_PURPOSE_DECRYPT, NULL), PV_OK);
	assert_int_equal(pv_keys_create(ks, "rp-sign", PV_ALG_RSA2048, PV_PURPOSE_SIGN, NULL), PV_OK);
	assert_int_equal(pv_keys_create(ks, "rp-old", PV_ALG_AES256, PV_PURPOSE_WRAP, NULL), PV_OK);

	assert_int_equal(pv_recipient_check_purpose(TOK, PV_RCPT_AES_KWP, key_object(ks, "rp-kek")), PV_OK);
	assert_int_equal(pv_recipient_check_purpose(TOK, PV_RCPT_RSA_OAEP_SHA256, key_object(ks, "rp-dec")),
			 PV_OK);
	assert_int_equal(pv_recipient_check_purpose(TOK, PV_RCPT_RSA_OAEP_SHA256, key_object(ks, "rp-sign")),
			 PV_ERR_PURPOSE);
	assert_non_null(strstr(pv_err_detail(), "rp-sign"));
	assert_non_null(strstr(pv_err_detail(), "purpose decrypt"));

	make_legacy(ks, "rp-old");
	assert_int_equal(pv_recipient_check_purpose(TOK, PV_RCPT_AES_KWP, key_object(ks, "rp-old")),
			 PV_ERR_PURPOSE);
	assert_non_null(strstr(pv_err_detail(), "vaultctl key set-purpose rp-old"));
	assert_int_equal(pv_keys_set_purpose(ks, "rp-old", PV_PURPOSE_WRAP), PV_OK);
	assert_int_equal(pv_recipient_check_purpose(TOK, PV_RCPT_AES_KWP, key_object(ks, "rp-old")), PV_OK);

	raw = gen_kek(raw_id, sizeof(raw_id));
	assert_int_equal(pv_recipient_check_purpose(TOK, PV_RCPT_AES_KWP, raw), PV_ERR_PURPOSE);
	assert_non_null(strstr(pv_err_detail(), "key adopt"));
	assert_non_null(strstr(pv_err_detail(), "CKA_ID 524157"));
	assert_int_equal(p11_handle_destroy(TOK, raw), PV_OK);
	pv_keystore_free(ks);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_kwp, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rsa_token, setup, teardown),
	    cmocka_unit_test(test_rsa_openssl_interop),
	    cmocka_unit_test_setup_teardown(test_recipient_purpose, setup, teardown),
	};
	int r;

	if (pv_secmem_init() != PV_OK)
		return 1;
	if ((r = tu_make_token(&T, "pvrcpt")) != 0)
		return r == TU_SKIP ? TU_SKIP : 1;
	r = cmocka_run_group_tests(tests, NULL, NULL);
	tu_remove_token(&T);
	return r;
}
