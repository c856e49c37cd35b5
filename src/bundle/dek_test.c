/*
 * The data key: software AES-256-GCM against published vectors, software
 * and token GCM interoperating both ways, tampering, the empty-plaintext
 * check, software AES-KWP (RFC 5649) unwrapped by the token, private keys
 * unwrapped into the token that then sign, and rotation's rewrap.
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
#include <openssl/x509.h>
#include <sodium.h>

#include "base/secmem.h"
#include "bundle/dek.h"
#include "core/b64.h"
#include "core/pubkey.h"
#include "pkcs11/crypt.h"
#include "pkcs11/testutil.h"
#include "pkcs11/token.h"

static struct tu_token T;
static p11_token *TOK;

static size_t
unhex(const char *hex, uint8_t *out, size_t max)
{
	size_t n = 0;

	assert_int_equal(pv_hex_decode(hex, strlen(hex), out, max, &n), PV_OK);
	return n;
}

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

/* McGrew & Viega, "The Galois/Counter Mode of Operation", test cases 14 and
 * 16 (AES-256, 96-bit IV). */
static void
test_gcm_known_answers(void **state)
{
	static const struct {
		const char *k, *p, *a, *iv, *c, *t;
	} v[] = {
	    {"0000000000000000000000000000000000000000000000000000000000000000",
	     "00000000000000000000000000000000", "", "000000000000000000000000",
	     "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
	    {"feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
	     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0"
	     "de657ba637b39",
	     "feedfacedeadbeeffeedfacedeadbeefabaddad2", "cafebabefacedbaddecaf888",
	     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e639"
	     "3ba7a0abcc9f662",
	     "76fc6ece0f4e1768cddf8853bb2d551b"},
	};

	(void)state;
	for (size_t i = 0; i < PV_NELEM(v); i++) {
		uint8_t k[32], p[64], a[32], iv[12], c[64], t[16], *ct = NULL;
		size_t plen = unhex(v[i].p, p, sizeof(p)), alen = unhex(v[i].a, a, sizeof(a)), ctlen = 0;
		pv_secret *back = NULL;
		pv_dek *dek = NULL;

		assert_int_equal(unhex(v[i].k, k, sizeof(k)), 32);
		assert_int_equal(unhex(v[i].iv, iv, sizeof(iv)), 12);
		assert_int_equal(unhex(v[i].c, c, sizeof(c)), plen);
		assert_int_equal(unhex(v[i].t, t, sizeof(t)), 16);
		assert_int_equal(pv_dek_from_bytes(k, sizeof(k), &dek), PV_OK);
		assert_false(pv_dek_on_token(dek));
		assert_int_equal(pv_dek_gcm_seal(dek, iv, a, alen, p, plen, &ct, &ctlen), PV_OK);
		assert_int_equal(ctlen, plen + 16);
		assert_memory_equal(ct, c, plen);
		assert_memory_equal(ct + plen, t, 16);
		assert_int_equal(pv_dek_gcm_open(dek, iv, a, alen, ct, ctlen, &back), PV_OK);
		assert_int_equal(pv_secret_len(back), plen);
		assert_memory_equal(pv_secret_ro(back), p, plen);
		pv_secret_free(back);
		free(ct);
		pv_dek_free(dek);
	}
}

static void
test_dek_from_bytes_checks(void **state)
{
	uint8_t k[33] = {0};
	pv_dek *dek = NULL;
	uint8_t *out = NULL;
	size_t outlen = 0;

	(void)state;
	assert_int_equal(pv_dek_from_bytes(k, 31, &dek), PV_ERR_BAD_INPUT);
	assert_int_equal(pv_dek_from_bytes(k, 33, &dek), PV_ERR_BAD_INPUT);
	assert_null(dek);
	assert_int_equal(pv_dek_generate(&dek), PV_OK);
	assert_int_equal(pv_dek_kwp_wrap(dek, k, 0, &out, &outlen), PV_ERR_USAGE);
	pv_dek_free(dek);
	pv_dek_free(NULL);
}

/* Seal with a, open with b: both ways between software and token. */
static void
interop(pv_dek *a, pv_dek *b)
{
	static const uint8_t aad[] = "p11vault-bundle-v1 entry\0id";
	static const uint8_t pt[] = "postgres://user:secret@db/prod";
	uint8_t nonce[PV_GCM_NONCE_LEN], *ct = NULL;
	size_t ctlen = 0;
	pv_secret *back = NULL;

	randombytes_buf(nonce, sizeof(nonce));
	assert_int_equal(pv_dek_gcm_seal(a, nonce, aad, sizeof(aad), pt, sizeof(pt), &ct, &ctlen), PV_OK);
	assert_int_equal(ctlen, sizeof(pt) + PV_GCM_TAG_LEN);
	assert_int_equal(pv_dek_gcm_open(b, nonce, aad, sizeof(aad), ct, ctlen, &back), PV_OK);
	assert_int_equal(pv_secret_len(back), sizeof(pt));
	assert_memory_equal(pv_secret_ro(back), pt, sizeof(pt));
	pv_secret_free(back);
	back = NULL;

	/* Ciphertext, tag, AAD and nonce are all bound. */
	ct[3] ^= 1;
	assert_int_equal(pv_dek_gcm_open(b, nonce, aad, sizeof(aad), ct, ctlen, &back), PV_ERR_INTEGRITY);
	ct[3] ^= 1;
	ct[ctlen - 1] ^= 0x40;
	assert_int_equal(pv_dek_gcm_open(b, nonce, aad, sizeof(aad), ct, ctlen, &back), PV_ERR_INTEGRITY);
	ct[ctlen - 1] ^= 0x40;
	assert_int_equal(pv_dek_gcm_open(b, nonce, aad, sizeof(aad) - 1, ct, ctlen, &back), PV_ERR_INTEGRITY);
	nonce[0] ^= 1;
	assert_int_equal(pv_dek_gcm_open(b, nonce, aad, sizeof(aad), ct, ctlen, &back), PV_ERR_INTEGRITY);
	nonce[0] ^= 1;
	assert_int_equal(pv_dek_gcm_open(b, nonce, aad, sizeof(aad), ct, 15, &back), PV_ERR_INTEGRITY);
	assert_null(back);
	/* Still fine afterwards (the token session was not left busy). */
	assert_int_equal(pv_dek_gcm_open(b, nonce, aad, sizeof(aad), ct, ctlen, &back), PV_OK);
	pv_secret_free(back);
	back = NULL;
	free(ct);
	ct = NULL;

	/* The bundle check: an empty plaintext, only the tag. */
	assert_int_equal(pv_dek_gcm_seal(a, nonce, aad, sizeof(aad), NULL, 0, &ct, &ctlen), PV_OK);
	assert_int_equal(ctlen, PV_GCM_TAG_LEN);
	assert_int_equal(pv_dek_gcm_open(b, nonce, aad, sizeof(aad), ct, ctlen, &back), PV_OK);
	assert_int_equal(pv_secret_len(back), 0);
	pv_secret_free(back);
	back = NULL;
	ct[0] ^= 1;
	assert_int_equal(pv_dek_gcm_open(b, nonce, aad, sizeof(aad), ct, ctlen, &back), PV_ERR_INTEGRITY);
	free(ct);
}

static void
test_gcm_soft_token_interop(void **state)
{
	pv_dek *soft = NULL, *tok = NULL, *other = NULL, *otok = NULL;
	uint8_t nonce[PV_GCM_NONCE_LEN] = {0}, *ct = NULL, *w = NULL;
	size_t ctlen = 0, wlen = 0;
	pv_secret *back = NULL;

	(void)state;
	assert_int_equal(pv_dek_generate(&soft), PV_OK);
	assert_int_equal(pv_dek_to_token(soft, TOK, &tok), PV_OK);
	assert_true(pv_dek_on_token(tok));
	assert_false(pv_dek_on_token(soft));
	interop(soft, tok);
	interop(tok, soft);
	interop(tok, tok);
	/* A token DEK is not wrapped in software. */
	assert_int_equal(pv_dek_kwp_wrap(tok, nonce, 8, &w, &wlen), PV_ERR_USAGE);
	/* Another DEK does not open it. */
	assert_int_equal(pv_dek_generate(&other), PV_OK);
	assert_int_equal(pv_dek_to_token(other, TOK, &otok), PV_OK);
	assert_int_equal(pv_dek_gcm_seal(tok, nonce, NULL, 0, nonce, 4, &ct, &ctlen), PV_OK);
	assert_int_equal(pv_dek_gcm_open(other, nonce, NULL, 0, ct, ctlen, &back), PV_ERR_INTEGRITY);
	assert_int_equal(pv_dek_gcm_open(otok, nonce, NULL, 0, ct, ctlen, &back), PV_ERR_INTEGRITY);
	/* The token copy is sensitive and cannot leave the token. */
	{
		CK_BBOOL b = CK_TRUE;

		assert_int_equal(p11_handle_get_bool(TOK, pv_dek_handle(tok), CKA_SENSITIVE, &b), PV_OK);
		assert_int_equal(b, CK_TRUE);
		assert_int_equal(p11_handle_get_bool(TOK, pv_dek_handle(tok), CKA_EXTRACTABLE, &b), PV_OK);
		assert_int_equal(b, CK_FALSE);
		assert_int_equal(p11_handle_get_bool(TOK, pv_dek_handle(tok), CKA_TOKEN, &b), PV_OK);
		assert_int_equal(b, CK_FALSE);
	}
	free(ct);
	pv_dek_free(otok);
	pv_dek_free(other);
	pv_dek_free(tok);
	pv_dek_free(soft);
}

/* RFC 5649 §6, the 20-octet key under a 192-bit KEK. pv_dek_kwp_wrap is
 * AES-256 only, so this checks the OpenSSL primitive it uses. */
static void
test_kwp_rfc5649_vector(void **state)
{
	uint8_t kek[24], key[20], want[32], out[40];
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n = 0, m = 0;

	(void)state;
	assert_int_equal(unhex("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8", kek, sizeof(kek)), 24);
	assert_int_equal(unhex("c37b7e6492584340bed12207808941155068f738", key, sizeof(key)), 20);
	assert_int_equal(
	    unhex("138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a", want, sizeof(want)),
	    32);
	assert_non_null(c);
	EVP_CIPHER_CTX_set_flags(c, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	assert_int_equal(EVP_EncryptInit_ex(c, EVP_aes_192_wrap_pad(), NULL, kek, NULL), 1);
	assert_int_equal(EVP_EncryptUpdate(c, out, &n, key, sizeof(key)), 1);
	assert_int_equal(EVP_EncryptFinal_ex(c, out + n, &m), 1);
	assert_int_equal(n + m, 32);
	assert_memory_equal(out, want, 32);
	EVP_CIPHER_CTX_free(c);
}

/* Software KWP under the DEK, unwrapped by the token: the same bytes. */
static void
test_kwp_soft_wrap_token_unwrap(void **state)
{
	CK_MECHANISM kwp = {CKM_AES_KEY_WRAP_PAD, NULL, 0};
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE t[] = {
	    {CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &kt, sizeof(kt)}, {CKA_TOKEN, &no, 1},
	    {CKA_SENSITIVE, &no, 1},        {CKA_EXTRACTABLE, &yes, 1},
	};
	static const size_t lens[] = {1, 7, 8, 20, 32, 33};
	pv_dek *soft = NULL, *tok = NULL;

	(void)state;
	assert_int_equal(pv_dek_generate(&soft), PV_OK);
	assert_int_equal(pv_dek_to_token(soft, TOK, &tok), PV_OK);
	for (size_t i = 0; i < PV_NELEM(lens); i++) {
		uint8_t secret[64], back[64], *w = NULL;
		size_t wlen = 0, blen = 0;
		CK_OBJECT_HANDLE h;

		randombytes_buf(secret, lens[i]);
		assert_int_equal(pv_dek_kwp_wrap(soft, secret, lens[i], &w, &wlen), PV_OK);
		assert_int_equal(wlen, (lens[i] + 7) / 8 * 8 + 8);
		assert_int_equal(p11_unwrap_key(TOK, &kwp, pv_dek_handle(tok), w, wlen, t, PV_NELEM(t), &h),
				 PV_OK);
		assert_int_equal(p11_handle_read_attr(TOK, h, CKA_VALUE, back, sizeof(back), &blen), PV_OK);
		assert_int_equal(blen, lens[i]);
		assert_memory_equal(back, secret, blen);
		assert_int_equal(p11_handle_destroy(TOK, h), PV_OK);
		free(w);
	}
	pv_dek_free(tok);
	pv_dek_free(soft);
}

/* DER PKCS#8 PrivateKeyInfo of a key made in software. */
static void
pkcs8_der(EVP_PKEY *pk, uint8_t **der, size_t *len)
{
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(pk);
	unsigned char *buf = NULL;
	int n;

	assert_non_null(p8);
	n = i2d_PKCS8_PRIV_KEY_INFO(p8, &buf);
	assert_true(n > 0);
	PKCS8_PRIV_KEY_INFO_free(p8);
	*der = buf;
	*len = (size_t)n;
}

static EVP_PKEY *
soft_key(pv_alg alg)
{
	EVP_PKEY *pk = NULL;

	switch (alg) {
	case PV_ALG_P256:
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		break;
	case PV_ALG_SECP256K1:
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
		break;
	case PV_ALG_RSA2048:
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
		break;
	case PV_ALG_ED25519:
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		break;
	default:
		break;
	}
	assert_non_null(pk);
	return pk;
}

/* Sign on the token with key (found by CKA_ID), verify with OpenSSL. */
static void
sign_and_verify(pv_alg alg, uint8_t idbyte, EVP_PKEY *pk)
{
	static const uint8_t msg[] = "deploy 2026-11-23";
	uint8_t md[PV_DIGEST_MAX_LEN], sig[512];
	size_t mdlen = 0, siglen = sizeof(sig);
	CK_MECHANISM mech = {CKM_ECDSA, NULL, 0};
	p11_obj key;

	memset(&key, 0, sizeof(key));
	key.cls = CKO_PRIVATE_KEY;
	key.id[0] = idbyte;
	key.id_len = 1;
	key.handle = CK_INVALID_HANDLE;
	if (alg == PV_ALG_ED25519) {
		mech.mechanism = CKM_EDDSA;
		assert_int_equal(p11_sign(TOK, &mech, &key, msg, sizeof(msg), sig, &siglen), PV_OK);
		assert_int_equal(
		    pv_pubkey_verify(pk, alg, 0, PV_DIGEST_NONE, msg, sizeof(msg), 0, sig, siglen), PV_OK);
		return;
	}
	if (alg == PV_ALG_RSA2048) {
		mech.mechanism = CKM_SHA256_RSA_PKCS;
		assert_int_equal(p11_sign(TOK, &mech, &key, msg, sizeof(msg), sig, &siglen), PV_OK);
	} else {
		assert_int_equal(pv_digest_compute(PV_DIGEST_SHA256, msg, sizeof(msg), md, &mdlen), PV_OK);
		assert_int_equal(p11_sign(TOK, &mech, &key, md, mdlen, sig, &siglen), PV_OK);
	}
	assert_int_equal(pv_pubkey_verify(pk, alg, 0, PV_DIGEST_SHA256, msg, sizeof(msg), 0, sig, siglen),
			 PV_OK);
	sig[5] ^= 1;
	assert_int_equal(pv_pubkey_verify(pk, alg, 0, PV_DIGEST_SHA256, msg, sizeof(msg), 0, sig, siglen),
			 PV_ERR_BAD_SIGNATURE);
}

static void
import_one(pv_dek *soft, pv_dek *tok, pv_alg alg, uint8_t idbyte, int persistent)
{
	EVP_PKEY *pk = soft_key(alg);
	uint8_t *der = NULL, *w = NULL, id[1] = {idbyte};
	size_t derlen = 0, wlen = 0;
	struct pv_key_import ki = {alg, "imported", id, 1, persistent, 0, NULL};
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	CK_BBOOL b;
	pv_err r;

	pkcs8_der(pk, &der, &derlen);
	assert_int_equal(pv_dek_kwp_wrap(soft, der, derlen, &w, &wlen), PV_OK);
	r = pv_dek_unwrap_private_key(tok, &ki, w, wlen, &h);
	if (alg == PV_ALG_ED25519 && r != PV_OK) {
		/* SoftHSM 2.6 cannot import Ed25519 PKCS#8; another token may. */
		assert_int_equal(r, PV_ERR_MECHANISM);
		assert_non_null(strstr(pv_err_detail(), "cannot unwrap Ed25519"));
		/* the clear error names the option that enables the fallback */
		assert_non_null(strstr(pv_err_detail(), "key_import_fallback"));
		assert_int_equal(h, CK_INVALID_HANDLE);
		goto out;
	}
	assert_int_equal(r, PV_OK);
	assert_int_equal(p11_handle_get_bool(TOK, h, CKA_SENSITIVE, &b), PV_OK);
	assert_int_equal(b, CK_TRUE);
	assert_int_equal(p11_handle_get_bool(TOK, h, CKA_EXTRACTABLE, &b), PV_OK);
	assert_int_equal(b, CK_FALSE);
	assert_int_equal(p11_handle_get_bool(TOK, h, CKA_TOKEN, &b), PV_OK);
	assert_int_equal(b, persistent ? CK_TRUE : CK_FALSE);
	assert_int_equal(p11_handle_get_bool(TOK, h, CKA_DECRYPT, &b), PV_OK);
	assert_int_equal(b, CK_FALSE);
	sign_and_verify(alg, idbyte, pk);
	assert_int_equal(p11_handle_destroy(TOK, h), PV_OK);

	/* Altered wrapped bytes do not unwrap. */
	w[wlen / 2] ^= 1;
	assert_int_equal(pv_dek_unwrap_private_key(tok, &ki, w, wlen, &h), PV_ERR_INTEGRITY);
	assert_int_equal(h, CK_INVALID_HANDLE);
out:
	OPENSSL_free(der);
	free(w);
	EVP_PKEY_free(pk);
}

static void
test_unwrap_private_keys(void **state)
{
	pv_dek *soft = NULL, *tok = NULL;
	struct pv_key_import ki = {PV_ALG_P256, NULL, NULL, 0, 0, 0, NULL};
	CK_OBJECT_HANDLE h;
	uint8_t w[40] = {0};

	(void)state;
	assert_int_equal(pv_dek_generate(&soft), PV_OK);
	assert_int_equal(pv_dek_to_token(soft, TOK, &tok), PV_OK);
	import_one(soft, tok, PV_ALG_P256, 0x21, 0);
	import_one(soft, tok, PV_ALG_SECP256K1, 0x22, 1);
	import_one(soft, tok, PV_ALG_RSA2048, 0x23, 0);
	import_one(soft, tok, PV_ALG_ED25519, 0x24, 0);
	/* Only a token DEK unwraps into the token. */
	assert_int_equal(pv_dek_unwrap_private_key(soft, &ki, w, sizeof(w), &h), PV_ERR_USAGE);
	pv_dek_free(tok);
	pv_dek_free(soft);
}

/* How many objects of a class this session sees. */
static size_t
count_class(CK_OBJECT_CLASS cls)
{
	CK_ATTRIBUTE t = {CKA_CLASS, &cls, sizeof(cls)};
	CK_OBJECT_HANDLE *hs = NULL;
	size_t n = 0;

	assert_int_equal(p11_find_all(TOK, &t, 1, &hs, &n), PV_OK);
	free(hs);
	return n;
}

/* Wrap der (len bytes) under soft and try the fallback import with it. */
static pv_err
fallback_import(pv_dek *soft, pv_dek *tok, const uint8_t *der, size_t len, uint8_t idbyte, int *used,
		CK_OBJECT_HANDLE *h)
{
	uint8_t *w = NULL, id[1] = {idbyte};
	size_t wlen = 0;
	struct pv_key_import ki = {PV_ALG_ED25519, "ed-fallback", id, 1, 0, 1, used};
	pv_err r;

	assert_int_equal(pv_dek_kwp_wrap(soft, der, len, &w, &wlen), PV_OK);
	r = pv_dek_unwrap_private_key(tok, &ki, w, wlen, h);
	free(w);
	return r;
}

/*
 * The explicit Ed25519 fallback: off by default (the clear error), on it
 * makes a sensitive, non-extractable key that signs as the original; it
 * leaves no secret-key object behind, refuses a PKCS#8 outside the RFC 8410
 * layout and altered wrapped bytes.
 */
static void
test_ed25519_fallback(void **state)
{
	static const uint8_t msg[] = "solana login 2026-11-23";
	pv_dek *soft = NULL, *tok = NULL;
	EVP_PKEY *pk = soft_key(PV_ALG_ED25519), *other = soft_key(PV_ALG_ED25519);
	uint8_t *der = NULL, *w = NULL, *params = NULL, id[1] = {0x51}, sig[64], bad[48];
	size_t derlen = 0, wlen = 0, plen = 0, siglen = sizeof(sig), secrets;
	struct pv_key_import off = {PV_ALG_ED25519, "ed-fallback", id, 1, 0, 0, NULL};
	CK_MECHANISM eddsa = {CKM_EDDSA, NULL, 0};
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	CK_BBOOL b;
	p11_obj key;
	int used = -1, native;
	pv_err r;

	(void)state;
	assert_int_equal(pv_dek_generate(&soft), PV_OK);
	assert_int_equal(pv_dek_to_token(soft, TOK, &tok), PV_OK);
	pkcs8_der(pk, &der, &derlen);
	assert_int_equal(derlen, 48);
	secrets = count_class(CKO_SECRET_KEY);

	/* default off: a token that cannot unwrap Ed25519 says so, by name */
	assert_int_equal(pv_dek_kwp_wrap(soft, der, derlen, &w, &wlen), PV_OK);
	r = pv_dek_unwrap_private_key(tok, &off, w, wlen, &h);
	native = r == PV_OK;
	if (native) {
		assert_int_equal(p11_handle_destroy(TOK, h), PV_OK);
		h = CK_INVALID_HANDLE;
	} else {
		assert_int_equal(r, PV_ERR_MECHANISM);
		assert_non_null(strstr(pv_err_detail(), "--allow-key-import-fallback"));
		assert_int_equal(h, CK_INVALID_HANDLE);
	}

	/* on: the key is made, and fallback_used says how */
	assert_int_equal(fallback_import(soft, tok, der, derlen, 0x51, &used, &h), PV_OK);
	assert_int_equal(used, native ? 0 : 1);
	assert_int_not_equal(h, CK_INVALID_HANDLE);
	assert_int_equal(count_class(CKO_SECRET_KEY), secrets);
	assert_int_equal(p11_handle_get_bool(TOK, h, CKA_SENSITIVE, &b), PV_OK);
	assert_int_equal(b, CK_TRUE);
	assert_int_equal(p11_handle_get_bool(TOK, h, CKA_EXTRACTABLE, &b), PV_OK);
	assert_int_equal(b, CK_FALSE);
	assert_int_equal(p11_handle_get_bool(TOK, h, CKA_TOKEN, &b), PV_OK);
	assert_int_equal(b, CK_FALSE);
	assert_int_equal(p11_handle_get_bool(TOK, h, CKA_PRIVATE, &b), PV_OK);
	assert_int_equal(b, CK_TRUE);
	assert_int_equal(p11_handle_get_bool(TOK, h, CKA_DECRYPT, &b), PV_OK);
	assert_int_equal(b, CK_FALSE);
	/* SoftHSM 2.6 wants the curve as the DER OID 1.3.101.112 */
	assert_int_equal(p11_handle_get_attr(TOK, h, CKA_EC_PARAMS, &params, &plen), PV_OK);
	assert_int_equal(plen, 5);
	assert_memory_equal(params, "\x06\x03\x2b\x65\x70", 5);
	/* the seed is not readable back */
	assert_int_equal(p11_handle_read_attr(TOK, h, CKA_VALUE, sig, sizeof(sig), &siglen),
			 PV_ERR_NOT_FOUND);
	siglen = sizeof(sig);
	/* it signs as the original key (pure Ed25519), found by its CKA_ID */
	memset(&key, 0, sizeof(key));
	key.cls = CKO_PRIVATE_KEY;
	key.id[0] = 0x51;
	key.id_len = 1;
	key.handle = CK_INVALID_HANDLE;
	assert_int_equal(p11_sign(TOK, &eddsa, &key, msg, sizeof(msg), sig, &siglen), PV_OK);
	assert_int_equal(siglen, 64);
	assert_int_equal(
	    pv_pubkey_verify(pk, PV_ALG_ED25519, 0, PV_DIGEST_NONE, msg, sizeof(msg), 0, sig, siglen), PV_OK);
	assert_int_equal(
	    pv_pubkey_verify(other, PV_ALG_ED25519, 0, PV_DIGEST_NONE, msg, sizeof(msg), 0, sig, siglen),
	    PV_ERR_BAD_SIGNATURE);
	assert_int_equal(p11_handle_destroy(TOK, h), PV_OK);
	h = CK_INVALID_HANDLE;

	if (!native) {
		/* outside the layout (X25519's OID): refused, nothing left */
		memcpy(bad, der, sizeof(bad));
		bad[11] = 0x6e;
		used = -1;
		assert_int_equal(fallback_import(soft, tok, bad, sizeof(bad), 0x52, &used, &h),
				 PV_ERR_BAD_INPUT);
		assert_int_equal(used, 0);
		assert_non_null(strstr(pv_err_detail(), "fallback"));
		assert_int_equal(h, CK_INVALID_HANDLE);
		assert_int_equal(count_class(CKO_SECRET_KEY), secrets);
		/* altered wrapped bytes: an integrity failure either way */
		w[wlen / 2] ^= 1;
		off.allow_fallback = 1;
		assert_int_equal(pv_dek_unwrap_private_key(tok, &off, w, wlen, &h), PV_ERR_INTEGRITY);
		assert_int_equal(h, CK_INVALID_HANDLE);
		assert_int_equal(count_class(CKO_SECRET_KEY), secrets);
	}

	free(params);
	free(w);
	OPENSSL_free(der);
	EVP_PKEY_free(other);
	EVP_PKEY_free(pk);
	pv_dek_free(tok);
	pv_dek_free(soft);
}

/* bundle rotate of an Ed25519 entry on a token that cannot parse it: the
 * bytes move as an opaque sensitive secret and the new wrap is the same key. */
static void
test_rewrap_ed25519(void **state)
{
	pv_dek *old_soft = NULL, *old_tok = NULL, *new_soft = NULL, *new_tok = NULL;
	EVP_PKEY *pk = soft_key(PV_ALG_ED25519), *back = NULL;
	uint8_t *der = NULL, *w = NULL, *w2 = NULL, plain[128];
	size_t derlen = 0, wlen = 0, w2len = 0, secrets;
	pv_secret *nk = NULL;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	const unsigned char *p;
	int n = 0, m = 0;

	(void)state;
	assert_int_equal(pv_dek_generate(&old_soft), PV_OK);
	assert_int_equal(pv_dek_generate(&new_soft), PV_OK);
	assert_int_equal(pv_dek_to_token(old_soft, TOK, &old_tok), PV_OK);
	assert_int_equal(pv_dek_to_token(new_soft, TOK, &new_tok), PV_OK);
	secrets = count_class(CKO_SECRET_KEY);
	pkcs8_der(pk, &der, &derlen);
	assert_int_equal(pv_dek_kwp_wrap(old_soft, der, derlen, &w, &wlen), PV_OK);
	assert_int_equal(pv_dek_rewrap_private_key(old_tok, new_tok, PV_ALG_ED25519, w, wlen, &w2, &w2len),
			 PV_OK);
	assert_int_equal(count_class(CKO_SECRET_KEY), secrets);
	assert_int_equal(pv_dek_export(new_soft, &nk), PV_OK);
	assert_non_null(c);
	EVP_CIPHER_CTX_set_flags(c, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	assert_int_equal(EVP_DecryptInit_ex(c, EVP_aes_256_wrap_pad(), NULL, pv_secret_ro(nk), NULL), 1);
	assert_int_equal(EVP_DecryptUpdate(c, plain, &n, w2, (int)w2len), 1);
	assert_int_equal(EVP_DecryptFinal_ex(c, plain + n, &m), 1);
	p = plain;
	assert_non_null(back = d2i_AutoPrivateKey(NULL, &p, n + m));
	assert_int_equal(EVP_PKEY_eq(back, pk), 1);
	/* tampered: refused as such */
	w[4] ^= 1;
	free(w2);
	w2 = NULL;
	assert_int_equal(pv_dek_rewrap_private_key(old_tok, new_tok, PV_ALG_ED25519, w, wlen, &w2, &w2len),
			 PV_ERR_INTEGRITY);
	assert_null(w2);
	assert_int_equal(count_class(CKO_SECRET_KEY), secrets);

	sodium_memzero(plain, sizeof(plain));
	EVP_CIPHER_CTX_free(c);
	pv_secret_free(nk);
	EVP_PKEY_free(back);
	EVP_PKEY_free(pk);
	OPENSSL_free(der);
	free(w);
	pv_dek_free(old_tok);
	pv_dek_free(new_tok);
	pv_dek_free(old_soft);
	pv_dek_free(new_soft);
}

/* bundle rotate: the key moves from the old DEK to the new one on the token. */
static void
test_rewrap_private_key(void **state)
{
	pv_dek *old_soft = NULL, *old_tok = NULL, *new_soft = NULL, *new_tok = NULL;
	EVP_PKEY *pk = soft_key(PV_ALG_P256), *back = NULL;
	uint8_t *der = NULL, *w = NULL, *w2 = NULL, id[1] = {0x31}, plain[512];
	size_t derlen = 0, wlen = 0, w2len = 0;
	struct pv_key_import ki = {PV_ALG_P256, NULL, id, 1, 0, 0, NULL};
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	pv_secret *nk = NULL;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	const unsigned char *p;
	int n = 0, m = 0;

	(void)state;
	assert_int_equal(pv_dek_generate(&old_soft), PV_OK);
	assert_int_equal(pv_dek_generate(&new_soft), PV_OK);
	assert_int_equal(pv_dek_to_token(old_soft, TOK, &old_tok), PV_OK);
	assert_int_equal(pv_dek_to_token(new_soft, TOK, &new_tok), PV_OK);
	pkcs8_der(pk, &der, &derlen);
	assert_int_equal(pv_dek_kwp_wrap(old_soft, der, derlen, &w, &wlen), PV_OK);
	assert_int_equal(pv_dek_rewrap_private_key(old_tok, new_tok, PV_ALG_P256, w, wlen, &w2, &w2len),
			 PV_OK);
	/* The old DEK no longer opens it; the new one does, and it signs. */
	assert_int_equal(pv_dek_unwrap_private_key(old_tok, &ki, w2, w2len, &h), PV_ERR_INTEGRITY);
	assert_int_equal(pv_dek_unwrap_private_key(new_tok, &ki, w2, w2len, &h), PV_OK);
	sign_and_verify(PV_ALG_P256, 0x31, pk);
	assert_int_equal(p11_handle_destroy(TOK, h), PV_OK);

	/* Independently: KWP-unwrap in software with the new DEK: the same key. */
	assert_int_equal(pv_dek_export(new_soft, &nk), PV_OK);
	assert_non_null(c);
	EVP_CIPHER_CTX_set_flags(c, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	assert_int_equal(EVP_DecryptInit_ex(c, EVP_aes_256_wrap_pad(), NULL, pv_secret_ro(nk), NULL), 1);
	assert_int_equal(EVP_DecryptUpdate(c, plain, &n, w2, (int)w2len), 1);
	assert_int_equal(EVP_DecryptFinal_ex(c, plain + n, &m), 1);
	p = plain;
	back = d2i_AutoPrivateKey(NULL, &p, n + m);
	assert_non_null(back);
	assert_int_equal(EVP_PKEY_eq(back, pk), 1);

	/* Tampered input, and DEKs that are not on the token. */
	w[3] ^= 1;
	free(w2);
	w2 = NULL;
	assert_int_equal(pv_dek_rewrap_private_key(old_tok, new_tok, PV_ALG_P256, w, wlen, &w2, &w2len),
			 PV_ERR_INTEGRITY);
	assert_null(w2);
	assert_int_equal(pv_dek_rewrap_private_key(old_soft, new_tok, PV_ALG_P256, w, wlen, &w2, &w2len),
			 PV_ERR_USAGE);

	EVP_CIPHER_CTX_free(c);
	pv_secret_free(nk);
	EVP_PKEY_free(back);
	EVP_PKEY_free(pk);
	OPENSSL_free(der);
	free(w);
	free(w2);
	pv_dek_free(old_tok);
	pv_dek_free(new_tok);
	pv_dek_free(old_soft);
	pv_dek_free(new_soft);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_gcm_known_answers),
	    cmocka_unit_test(test_dek_from_bytes_checks),
	    cmocka_unit_test(test_kwp_rfc5649_vector),
	    cmocka_unit_test_setup_teardown(test_gcm_soft_token_interop, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_kwp_soft_wrap_token_unwrap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unwrap_private_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rewrap_private_key, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ed25519_fallback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rewrap_ed25519, setup, teardown),
	};
	int r;

	if (pv_secmem_init() != PV_OK)
		return 1;
	if ((r = tu_make_token(&T, "pvdek")) != 0)
		return r == TU_SKIP ? TU_SKIP : 1;
	r = cmocka_run_group_tests(tests, NULL, NULL);
	tu_remove_token(&T);
	return r;
}
