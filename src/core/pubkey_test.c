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
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "core/b64.h"
#include "core/pubkey.h"
#include "core/sigfmt.h"

static const uint8_t oid_ed25519[] = {0x06, 0x03, 0x2b, 0x65, 0x70};
static const uint8_t str_edwards25519[] = {0x13, 0x0c, 'e', 'd', 'w', 'a', 'r',
					   'd',  's',  '2', '5', '5', '1', '9'};

static uint8_t *
unhex(const char *hex, size_t *len)
{
	long n = 0;
	uint8_t *p = OPENSSL_hexstr2buf(hex, &n);

	assert_non_null(p);
	*len = (size_t)n;
	return p;
}

/* RFC 8032 section 7.1, TEST 1 (empty message). */
#define RFC8032_T1_PUB "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
#define RFC8032_T1_SIG                                                                                             \
	"e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0" \
	"595bbe24655141438e7a100b"

static EVP_PKEY *
rfc8032_key(int wrapped, const uint8_t *params, size_t paramslen)
{
	uint8_t point[34];
	size_t len;
	uint8_t *pub = unhex(RFC8032_T1_PUB, &len);
	EVP_PKEY *pk = NULL;
	pv_alg alg = PV_ALG_NONE;

	assert_int_equal(len, 32);
	point[0] = 0x04;
	point[1] = 0x20;
	memcpy(point + 2, pub, 32);
	if (wrapped)
		assert_int_equal(pv_pubkey_from_ec(params, paramslen, point, 34, &alg, &pk), PV_OK);
	else
		assert_int_equal(pv_pubkey_from_ec(params, paramslen, pub, 32, &alg, &pk), PV_OK);
	assert_int_equal(alg, PV_ALG_ED25519);
	OPENSSL_free(pub);
	return pk;
}

/* RFC 8037 appendix A.1 (x) and A.3 (thumbprint) for the RFC 8032 key. */
static void
test_ed25519_jwk(void **state)
{
	EVP_PKEY *pk;
	cJSON *jwk = NULL;
	char *thumb = NULL;
	int wrapped;

	for (wrapped = 0; wrapped < 2; wrapped++) {
		pk = rfc8032_key(wrapped, wrapped ? oid_ed25519 : str_edwards25519,
				 wrapped ? sizeof(oid_ed25519) : sizeof(str_edwards25519));
		assert_int_equal(pv_pubkey_alg(pk), PV_ALG_ED25519);
		assert_int_equal(pv_pubkey_jwk(pk, &jwk), PV_OK);
		assert_string_equal(cJSON_GetObjectItem(jwk, "kty")->valuestring, "OKP");
		assert_string_equal(cJSON_GetObjectItem(jwk, "crv")->valuestring, "Ed25519");
		assert_string_equal(cJSON_GetObjectItem(jwk, "x")->valuestring,
				    "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
		assert_null(cJSON_GetObjectItem(jwk, "d"));
		assert_int_equal(pv_pubkey_thumbprint(pk, &thumb), PV_OK);
		assert_string_equal(thumb, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
		free(thumb);
		cJSON_Delete(jwk);
		EVP_PKEY_free(pk);
	}
}

static void
test_ed25519_verify_rfc8032(void **state)
{
	EVP_PKEY *pk = rfc8032_key(1, oid_ed25519, sizeof(oid_ed25519));
	size_t len;
	uint8_t *sig = unhex(RFC8032_T1_SIG, &len);

	assert_int_equal(len, 64);
	assert_int_equal(pv_pubkey_verify(pk, PV_ALG_ED25519, 0, PV_DIGEST_DEFAULT, NULL, 0, 0, sig, len),
			 PV_OK);
	assert_int_equal(
	    pv_pubkey_verify(pk, PV_ALG_ED25519, 0, PV_DIGEST_NONE, (const uint8_t *)"x", 1, 0, sig, len),
	    PV_ERR_BAD_SIGNATURE);
	assert_int_equal(pv_pubkey_verify(pk, PV_ALG_ED25519, 0, PV_DIGEST_SHA256, NULL, 0, 0, sig, len),
			 PV_ERR_USAGE);
	assert_int_equal(pv_pubkey_verify(pk, PV_ALG_ED25519, 1, PV_DIGEST_NONE, NULL, 0, 0, sig, len),
			 PV_ERR_USAGE);
	assert_int_equal(pv_pubkey_verify(pk, PV_ALG_P256, 0, PV_DIGEST_NONE, NULL, 0, 0, sig, len),
			 PV_ERR_KEY_TYPE);
	sig[10] ^= 1;
	assert_int_equal(pv_pubkey_verify(pk, PV_ALG_ED25519, 0, PV_DIGEST_NONE, NULL, 0, 0, sig, len),
			 PV_ERR_BAD_SIGNATURE);
	assert_int_equal(pv_pubkey_verify(pk, PV_ALG_ED25519, 0, PV_DIGEST_NONE, NULL, 0, 0, sig, len - 1),
			 PV_ERR_BAD_SIGNATURE);
	OPENSSL_free(sig);
	EVP_PKEY_free(pk);
}

/* RFC 7638 section 3.1. */
static const char rfc7638_n[] =
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3"
    "oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgd"
    "AZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCu"
    "r-kEgU8awapJzKnqDKgw";
static const char rfc7638_kid[] = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";

static void
test_rfc7638_thumbprint(void **state)
{
	cJSON *jwk = cJSON_CreateObject();
	char *thumb = NULL;
	uint8_t n[512], e[8];
	size_t nlen = 0, elen = 0;
	EVP_PKEY *pk = NULL;
	cJSON *ours = NULL;

	/* from the JSON given in the RFC, extra members and all */
	assert_non_null(cJSON_AddStringToObject(jwk, "kty", "RSA"));
	assert_non_null(cJSON_AddStringToObject(jwk, "n", rfc7638_n));
	assert_non_null(cJSON_AddStringToObject(jwk, "e", "AQAB"));
	assert_non_null(cJSON_AddStringToObject(jwk, "alg", "RS256"));
	assert_non_null(cJSON_AddStringToObject(jwk, "kid", "2011-04-29"));
	assert_int_equal(pv_jwk_thumbprint(jwk, &thumb), PV_OK);
	assert_string_equal(thumb, rfc7638_kid);
	free(thumb);

	/* and from the key itself, through our JWK export */
	assert_int_equal(pv_b64url_decode(rfc7638_n, strlen(rfc7638_n), n, sizeof(n), &nlen), PV_OK);
	assert_int_equal(nlen, 256);
	assert_int_equal(pv_b64url_decode("AQAB", 4, e, sizeof(e), &elen), PV_OK);
	assert_int_equal(pv_pubkey_from_rsa(n, nlen, e, elen, &pk), PV_OK);
	assert_int_equal(pv_pubkey_alg(pk), PV_ALG_RSA2048);
	assert_int_equal(pv_pubkey_jwk(pk, &ours), PV_OK);
	assert_string_equal(cJSON_GetObjectItem(ours, "n")->valuestring, rfc7638_n);
	assert_string_equal(cJSON_GetObjectItem(ours, "e")->valuestring, "AQAB");
	assert_int_equal(pv_pubkey_thumbprint(pk, &thumb), PV_OK);
	assert_string_equal(thumb, rfc7638_kid);
	free(thumb);

	/* a required member missing, or not a string */
	cJSON_DeleteItemFromObject(jwk, "e");
	assert_int_equal(pv_jwk_thumbprint(jwk, &thumb), PV_ERR_BAD_INPUT);
	assert_non_null(cJSON_AddNumberToObject(jwk, "e", 65537));
	assert_int_equal(pv_jwk_thumbprint(jwk, &thumb), PV_ERR_BAD_INPUT);
	cJSON_DeleteItemFromObject(jwk, "kty");
	assert_non_null(cJSON_AddStringToObject(jwk, "kty", "oct"));
	assert_int_equal(pv_jwk_thumbprint(jwk, &thumb), PV_ERR_BAD_INPUT);
	assert_null(thumb);
	cJSON_Delete(ours);
	cJSON_Delete(jwk);
	EVP_PKEY_free(pk);
}

/* The uncompressed point of a software key, as a DER OCTET STRING. */
static size_t
ec_point_der(EVP_PKEY *pk, uint8_t *out, size_t max)
{
	uint8_t pt[133];
	size_t ptlen = 0;

	assert_int_equal(
	    EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt, sizeof(pt), &ptlen),
	    1);
	assert_true(ptlen < 128 && ptlen + 2 <= max);
	out[0] = 0x04;
	out[1] = (uint8_t)ptlen;
	memcpy(out + 2, pt, ptlen);
	return ptlen + 2;
}

static void
sign_digest_raw(EVP_PKEY *priv, const uint8_t *dgst, size_t dlen, size_t field_len, uint8_t *raw)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL);
	uint8_t der[160];
	size_t derlen = sizeof(der), n = 0;

	assert_int_equal(EVP_PKEY_sign_init(ctx), 1);
	assert_int_equal(EVP_PKEY_sign(ctx, der, &derlen, dgst, dlen), 1);
	assert_int_equal(pv_ecdsa_der_to_raw(der, derlen, field_len, raw, &n), PV_OK);
	EVP_PKEY_CTX_free(ctx);
}

static void
check_ec(pv_alg alg, const char *group)
{
	const struct pv_alg_info *ai = pv_alg_info(alg);
	EVP_PKEY *priv = EVP_EC_gen(group), *pk = NULL;
	uint8_t der[140], msg[100], dgst[PV_DIGEST_MAX_LEN], raw[96];
	size_t derlen, dlen = 0, coord_chars = (ai->field_len * 4 + 2) / 3;
	pv_alg got = PV_ALG_NONE;
	cJSON *jwk = NULL;
	char *thumb = NULL;

	assert_non_null(priv);
	derlen = ec_point_der(priv, der, sizeof(der));
	assert_int_equal(pv_pubkey_from_ec(ai->ec_params, ai->ec_params_len, der, derlen, &got, &pk), PV_OK);
	assert_int_equal(got, alg);
	assert_int_equal(EVP_PKEY_eq(pk, priv), 1);
	assert_int_equal(pv_pubkey_alg(pk), alg);
	EVP_PKEY_free(pk);
	/* the bare point works too */
	assert_int_equal(pv_pubkey_from_ec(ai->ec_params, ai->ec_params_len, der + 2, derlen - 2, &got, &pk),
			 PV_OK);
	assert_int_equal(EVP_PKEY_eq(pk, priv), 1);

	assert_int_equal(pv_pubkey_jwk(pk, &jwk), PV_OK);
	assert_string_equal(cJSON_GetObjectItem(jwk, "kty")->valuestring, "EC");
	assert_string_equal(cJSON_GetObjectItem(jwk, "crv")->valuestring, ai->jwk_crv);
	assert_int_equal(strlen(cJSON_GetObjectItem(jwk, "x")->valuestring), coord_chars);
	assert_int_equal(strlen(cJSON_GetObjectItem(jwk, "y")->valuestring), coord_chars);
	assert_int_equal(pv_pubkey_thumbprint(pk, &thumb), PV_OK);
	assert_int_equal(strlen(thumb), 43);
	free(thumb);
	cJSON_Delete(jwk);

	/* sign with OpenSSL, verify with us: message, prehashed, and tampered */
	assert_int_equal(RAND_bytes(msg, sizeof(msg)), 1);
	assert_int_equal(pv_digest_compute(ai->default_digest, msg, sizeof(msg), dgst, &dlen), PV_OK);
	sign_digest_raw(priv, dgst, dlen, ai->field_len, raw);
	assert_int_equal(
	    pv_pubkey_verify(pk, alg, 0, PV_DIGEST_DEFAULT, msg, sizeof(msg), 0, raw, 2 * ai->field_len),
	    PV_OK);
	assert_int_equal(
	    pv_pubkey_verify(pk, alg, 0, ai->default_digest, dgst, dlen, 1, raw, 2 * ai->field_len), PV_OK);
	assert_int_equal(pv_pubkey_verify(pk, alg, 0, PV_DIGEST_NONE, dgst, dlen, 0, raw, 2 * ai->field_len),
			 PV_OK);
	assert_int_equal(pv_pubkey_verify(pk, alg, 0, PV_DIGEST_NONE, dgst, 20, 0, raw, 2 * ai->field_len),
			 PV_ERR_USAGE);
	assert_int_equal(
	    pv_pubkey_verify(pk, alg, 0, ai->default_digest, dgst, dlen - 1, 1, raw, 2 * ai->field_len),
	    PV_ERR_USAGE);
	assert_int_equal(
	    pv_pubkey_verify(pk, alg, 1, PV_DIGEST_DEFAULT, msg, sizeof(msg), 0, raw, 2 * ai->field_len),
	    PV_ERR_USAGE);
	msg[0] ^= 1;
	assert_int_equal(
	    pv_pubkey_verify(pk, alg, 0, PV_DIGEST_DEFAULT, msg, sizeof(msg), 0, raw, 2 * ai->field_len),
	    PV_ERR_BAD_SIGNATURE);
	memset(raw, 0, ai->field_len);
	assert_int_equal(
	    pv_pubkey_verify(pk, alg, 0, ai->default_digest, dgst, dlen, 1, raw, 2 * ai->field_len),
	    PV_ERR_BAD_SIGNATURE);
	EVP_PKEY_free(pk);

	/* not on the curve; compressed; wrong wrapper */
	der[derlen - 1] ^= 1;
	assert_int_equal(pv_pubkey_from_ec(ai->ec_params, ai->ec_params_len, der, derlen, &got, &pk),
			 PV_ERR_BAD_INPUT);
	assert_null(pk);
	assert_int_equal(got, PV_ALG_NONE);
	der[derlen - 1] ^= 1;
	der[2] = 0x02;
	assert_int_equal(pv_pubkey_from_ec(ai->ec_params, ai->ec_params_len, der, derlen, &got, &pk),
			 PV_ERR_BAD_INPUT);
	der[2] = 0x04;
	der[0] = 0x03;
	assert_int_equal(pv_pubkey_from_ec(ai->ec_params, ai->ec_params_len, der, derlen, &got, &pk),
			 PV_ERR_BAD_INPUT);
	der[0] = 0x04;
	assert_int_equal(pv_pubkey_from_ec(ai->ec_params, ai->ec_params_len, der, derlen - 1, &got, &pk),
			 PV_ERR_BAD_INPUT);
	assert_int_equal(pv_pubkey_from_ec(oid_ed25519, sizeof(oid_ed25519), der, derlen, &got, &pk),
			 PV_ERR_BAD_INPUT);
	EVP_PKEY_free(priv);
}

static void
test_ec_curves(void **state)
{
	check_ec(PV_ALG_P256, "P-256");
	check_ec(PV_ALG_P384, "P-384");
	check_ec(PV_ALG_SECP256K1, "secp256k1");
}

/* EVM: secp256k1 over keccak256(message). */
static void
test_secp256k1_keccak(void **state)
{
	const struct pv_alg_info *ai = pv_alg_info(PV_ALG_SECP256K1);
	EVP_PKEY *priv = EVP_EC_gen("secp256k1"), *pk = NULL;
	uint8_t der[80], dgst[PV_DIGEST_MAX_LEN], raw[64];
	const uint8_t msg[] = "\x19"
			      "Ethereum Signed Message:\n5hello";
	size_t derlen, dlen = 0;

	assert_non_null(priv);
	derlen = ec_point_der(priv, der, sizeof(der));
	assert_int_equal(pv_pubkey_from_ec(ai->ec_params, ai->ec_params_len, der, derlen, NULL, &pk), PV_OK);
	assert_int_equal(pv_digest_compute(PV_DIGEST_KECCAK256, msg, sizeof(msg) - 1, dgst, &dlen), PV_OK);
	sign_digest_raw(priv, dgst, dlen, 32, raw);
	assert_int_equal(
	    pv_pubkey_verify(pk, PV_ALG_SECP256K1, 0, PV_DIGEST_KECCAK256, msg, sizeof(msg) - 1, 0, raw, 64),
	    PV_OK);
	assert_int_equal(
	    pv_pubkey_verify(pk, PV_ALG_SECP256K1, 0, PV_DIGEST_SHA256, msg, sizeof(msg) - 1, 0, raw, 64),
	    PV_ERR_BAD_SIGNATURE);
	EVP_PKEY_free(pk);
	EVP_PKEY_free(priv);
}

static void
test_ec_unknown_curve(void **state)
{
	static const uint8_t p521[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23};
	uint8_t pt[65] = {0x04};
	EVP_PKEY *pk = NULL;

	assert_int_equal(pv_pubkey_from_ec(p521, sizeof(p521), pt, sizeof(pt), NULL, &pk), PV_ERR_KEY_TYPE);
	assert_int_equal(pv_pubkey_from_ec(NULL, 0, pt, sizeof(pt), NULL, &pk), PV_ERR_KEY_TYPE);
	assert_null(pk);
}

static EVP_PKEY *
rsa_from_soft(EVP_PKEY *priv)
{
	BIGNUM *n = NULL, *e = NULL;
	uint8_t nb[512], eb[8];
	int nlen, elen;
	EVP_PKEY *pk = NULL;

	assert_int_equal(EVP_PKEY_get_bn_param(priv, OSSL_PKEY_PARAM_RSA_N, &n), 1);
	assert_int_equal(EVP_PKEY_get_bn_param(priv, OSSL_PKEY_PARAM_RSA_E, &e), 1);
	/* as a token may present them: with leading zero bytes */
	nb[0] = 0;
	eb[0] = 0;
	nlen = BN_bn2bin(n, nb + 1);
	elen = BN_bn2bin(e, eb + 1);
	assert_int_equal(pv_pubkey_from_rsa(nb, (size_t)nlen + 1, eb, (size_t)elen + 1, &pk), PV_OK);
	BN_free(n);
	BN_free(e);
	return pk;
}

static void
rsa_sign(EVP_PKEY *priv, int pss, const EVP_MD *md, const uint8_t *msg, size_t len, uint8_t *sig,
	 size_t *siglen)
{
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;

	assert_int_equal(EVP_DigestSignInit(mctx, &pctx, md, NULL, priv), 1);
	if (pss) {
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST), 1);
	}
	assert_int_equal(EVP_DigestSign(mctx, sig, siglen, msg, len), 1);
	EVP_MD_CTX_free(mctx);
}

static void
test_rsa(void **state)
{
	EVP_PKEY *priv = EVP_RSA_gen(2048), *pk;
	uint8_t msg[77], sig[256], dgst[PV_DIGEST_MAX_LEN], small[128];
	size_t siglen = sizeof(sig), dlen = 0;
	uint8_t *der = NULL;
	const unsigned char *p;
	char *pem = NULL;
	EVP_PKEY *back = NULL;
	size_t derlen = 0;
	int pss;

	assert_non_null(priv);
	pk = rsa_from_soft(priv);
	assert_int_equal(EVP_PKEY_eq(pk, priv), 1);
	assert_int_equal(pv_pubkey_alg(pk), PV_ALG_RSA2048);
	assert_int_equal(RAND_bytes(msg, sizeof(msg)), 1);
	for (pss = 0; pss < 2; pss++) {
		siglen = sizeof(sig);
		rsa_sign(priv, pss, EVP_sha256(), msg, sizeof(msg), sig, &siglen);
		assert_int_equal(siglen, 256);
		assert_int_equal(pv_pubkey_verify(pk, PV_ALG_RSA2048, pss, PV_DIGEST_DEFAULT, msg,
						  sizeof(msg), 0, sig, siglen),
				 PV_OK);
		/* the other padding does not accept it */
		assert_int_equal(pv_pubkey_verify(pk, PV_ALG_RSA2048, !pss, PV_DIGEST_DEFAULT, msg,
						  sizeof(msg), 0, sig, siglen),
				 PV_ERR_BAD_SIGNATURE);
		/* prehashed, named or guessed from the length */
		assert_int_equal(pv_digest_compute(PV_DIGEST_SHA256, msg, sizeof(msg), dgst, &dlen), PV_OK);
		assert_int_equal(
		    pv_pubkey_verify(pk, PV_ALG_RSA2048, pss, PV_DIGEST_SHA256, dgst, dlen, 1, sig, siglen),
		    PV_OK);
		assert_int_equal(
		    pv_pubkey_verify(pk, PV_ALG_RSA2048, pss, PV_DIGEST_NONE, dgst, dlen, 0, sig, siglen),
		    PV_OK);
		/* another hash is another DigestInfo */
		assert_int_equal(pv_pubkey_verify(pk, PV_ALG_RSA2048, pss, PV_DIGEST_SHA512, msg, sizeof(msg),
						  0, sig, siglen),
				 PV_ERR_BAD_SIGNATURE);
		sig[100] ^= 0x40;
		assert_int_equal(pv_pubkey_verify(pk, PV_ALG_RSA2048, pss, PV_DIGEST_DEFAULT, msg,
						  sizeof(msg), 0, sig, siglen),
				 PV_ERR_BAD_SIGNATURE);
	}
	siglen = sizeof(sig);
	rsa_sign(priv, 1, EVP_sha384(), msg, sizeof(msg), sig, &siglen);
	assert_int_equal(
	    pv_pubkey_verify(pk, PV_ALG_RSA2048, 1, PV_DIGEST_SHA384, msg, sizeof(msg), 0, sig, siglen),
	    PV_OK);
	assert_int_equal(
	    pv_pubkey_verify(pk, PV_ALG_RSA2048, 1, PV_DIGEST_KECCAK256, msg, sizeof(msg), 0, sig, siglen),
	    PV_ERR_USAGE);
	assert_int_equal(
	    pv_pubkey_verify(pk, PV_ALG_RSA3072, 1, PV_DIGEST_SHA384, msg, sizeof(msg), 0, sig, siglen),
	    PV_ERR_KEY_TYPE);

	/* SPKI DER and PEM are the same key */
	assert_int_equal(pv_pubkey_spki_der(pk, &der, &derlen), PV_OK);
	p = der;
	back = d2i_PUBKEY(NULL, &p, (long)derlen);
	assert_non_null(back);
	assert_int_equal(EVP_PKEY_eq(back, priv), 1);
	EVP_PKEY_free(back);
	free(der);
	assert_int_equal(pv_pubkey_pem(pk, &pem), PV_OK);
	assert_int_equal(strncmp(pem, "-----BEGIN PUBLIC KEY-----\n", 27), 0);
	assert_non_null(strstr(pem, "-----END PUBLIC KEY-----\n"));
	free(pem);

	/* a 1024-bit modulus and nonsense sizes are refused */
	memset(small, 0xc3, sizeof(small));
	assert_int_equal(pv_pubkey_from_rsa(small, sizeof(small), (const uint8_t *)"\x01\x00\x01", 3, &back),
			 PV_ERR_KEY_TYPE);
	assert_int_equal(pv_pubkey_from_rsa(small, 0, (const uint8_t *)"\x01\x00\x01", 3, &back),
			 PV_ERR_BAD_INPUT);
	assert_int_equal(pv_pubkey_from_rsa(sig, 256, (const uint8_t *)"\0\0", 2, &back), PV_ERR_BAD_INPUT);
	assert_null(back);
	EVP_PKEY_free(pk);
	EVP_PKEY_free(priv);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ed25519_jwk),
	    cmocka_unit_test(test_ed25519_verify_rfc8032),
	    cmocka_unit_test(test_rfc7638_thumbprint),
	    cmocka_unit_test(test_ec_curves),
	    cmocka_unit_test(test_ec_unknown_curve),
	    cmocka_unit_test(test_secp256k1_keccak),
	    cmocka_unit_test(test_rsa),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
