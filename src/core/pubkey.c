#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "base/buf.h"
#include "core/b64.h"
#include "core/pubkey.h"
#include "core/sigfmt.h"

#define RSA_MIN_BITS     2048
#define RSA_MAX_BITS     16384
#define DER_OCTET_STRING 0x04
#define EC_UNCOMPRESSED  0x04

/* OpenSSL's names for our curves. */
static const struct {
	pv_alg alg;
	const char *group;
} curves[] = {
    {PV_ALG_SECP256K1, "secp256k1"},
    {PV_ALG_P256, "prime256v1"},
    {PV_ALG_P384, "secp384r1"},
};

static const char *
curve_group(pv_alg alg)
{
	size_t i;

	for (i = 0; i < PV_NELEM(curves); i++)
		if (curves[i].alg == alg)
			return curves[i].group;
	return NULL;
}

/* Leave nothing of a failed OpenSSL call behind for the next caller. */
static pv_err
crypto_fail(const char *what)
{
	pv_err_set_detail("%s failed", what);
	ERR_clear_error();
	return PV_ERR_CRYPTO;
}

/*
 * CKA_EC_POINT is an OCTET STRING around the point on most tokens, the bare
 * point on some. Lengths tell them apart: the wrapped form is always longer.
 */
static pv_err
unwrap_point(const uint8_t *in, size_t inlen, size_t want, const uint8_t **pt)
{
	pv_buf *b = NULL;
	const uint8_t *val = NULL;
	size_t len = 0;
	pv_err r;

	*pt = NULL;
	if (in == NULL || inlen == 0)
		return PV_ERR_BAD_INPUT;
	if (inlen == want) {
		*pt = in;
		return PV_OK;
	}
	if ((r = pv_buf_view(in, inlen, &b)) != PV_OK)
		goto out;
	if ((r = pv_buf_get_der(b, DER_OCTET_STRING, &val, &len)) != PV_OK)
		goto out;
	if (len != want || pv_buf_len(b) != 0) {
		r = PV_ERR_BAD_INPUT;
		goto out;
	}
	*pt = val;
out:
	pv_buf_free(b);
	if (r != PV_OK)
		pv_err_set_detail("EC point is neither a %zu-byte point nor an OCTET STRING holding one",
				  want);
	return r;
}

/* Build a public key of type keytype from params, then have OpenSSL check
 * it (point on the curve, RSA modulus sane). */
static pv_err
fromdata(const char *keytype, OSSL_PARAM_BLD *bld, EVP_PKEY **out)
{
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL, *check = NULL;
	EVP_PKEY *pk = NULL;
	pv_err r = PV_ERR_BAD_INPUT;

	*out = NULL;
	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL) {
		r = crypto_fail("OSSL_PARAM_BLD_to_param");
		goto out;
	}
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, keytype, NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1) {
		r = crypto_fail("EVP_PKEY_fromdata_init");
		goto out;
	}
	if (EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		pv_err_set_detail("%s public key rejected by OpenSSL", keytype);
		goto out;
	}
	if ((check = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL)) == NULL) {
		r = crypto_fail("EVP_PKEY_CTX_new_from_pkey");
		goto out;
	}
	if (EVP_PKEY_public_check(check) != 1) {
		pv_err_set_detail("%s public key failed validation", keytype);
		goto out;
	}
	*out = pk;
	pk = NULL;
	r = PV_OK;
out:
	ERR_clear_error();
	EVP_PKEY_free(pk);
	EVP_PKEY_CTX_free(check);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return r;
}

pv_err
pv_pubkey_from_ec(const uint8_t *params, size_t paramslen, const uint8_t *point, size_t pointlen, pv_alg *alg,
		  EVP_PKEY **out)
{
	const struct pv_alg_info *ai;
	OSSL_PARAM_BLD *bld = NULL;
	const uint8_t *pt = NULL;
	const char *group = NULL;
	size_t want;
	pv_alg a;
	pv_err r;

	*out = NULL;
	if (alg != NULL)
		*alg = PV_ALG_NONE;
	a = pv_alg_from_ec_params(params, paramslen);
	if ((ai = pv_alg_info(a)) == NULL) {
		pv_err_set_detail("unsupported curve in CKA_EC_PARAMS");
		return PV_ERR_KEY_TYPE;
	}
	want = ai->family == PV_FAMILY_EDDSA ? 32 : 1 + 2 * ai->field_len;
	if ((r = unwrap_point(point, pointlen, want, &pt)) != PV_OK)
		return r;
	if (ai->family == PV_FAMILY_EC) {
		group = curve_group(a);
		if (pt[0] != EC_UNCOMPRESSED) {
			pv_err_set_detail("EC point is not in uncompressed form");
			return PV_ERR_BAD_INPUT;
		}
	}
	if ((bld = OSSL_PARAM_BLD_new()) == NULL)
		return crypto_fail("OSSL_PARAM_BLD_new");
	if ((group != NULL &&
	     OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1) ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, want) != 1) {
		r = crypto_fail("OSSL_PARAM_BLD_push");
		goto out;
	}
	if ((r = fromdata(ai->family == PV_FAMILY_EDDSA ? "ED25519" : "EC", bld, out)) != PV_OK)
		goto out;
	if (alg != NULL)
		*alg = a;
out:
	OSSL_PARAM_BLD_free(bld);
	return r;
}

/* Skip leading zero bytes of an unsigned big-endian integer. */
static void
strip_zeros(const uint8_t **p, size_t *len)
{
	while (*len > 0 && (*p)[0] == 0) {
		(*p)++;
		(*len)--;
	}
}

pv_err
pv_pubkey_from_rsa(const uint8_t *mod, size_t modlen, const uint8_t *exp, size_t explen, EVP_PKEY **out)
{
	OSSL_PARAM_BLD *bld = NULL;
	BIGNUM *n = NULL, *e = NULL;
	int bits;
	pv_err r = PV_ERR_BAD_INPUT;

	*out = NULL;
	if (mod == NULL || exp == NULL)
		return PV_ERR_BAD_INPUT;
	strip_zeros(&mod, &modlen);
	strip_zeros(&exp, &explen);
	if (modlen == 0 || modlen > RSA_MAX_BITS / 8 || explen == 0 || explen > 8) {
		pv_err_set_detail("RSA modulus or exponent has an impossible size");
		return PV_ERR_BAD_INPUT;
	}
	if ((n = BN_bin2bn(mod, (int)modlen, NULL)) == NULL ||
	    (e = BN_bin2bn(exp, (int)explen, NULL)) == NULL) {
		r = crypto_fail("BN_bin2bn");
		goto out;
	}
	bits = BN_num_bits(n);
	if (bits < RSA_MIN_BITS) {
		pv_err_set_detail("RSA modulus of %d bits is too small", bits);
		r = PV_ERR_KEY_TYPE;
		goto out;
	}
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1) {
		r = crypto_fail("OSSL_PARAM_BLD_push_BN");
		goto out;
	}
	r = fromdata("RSA", bld, out);
out:
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	return r;
}

pv_alg
pv_pubkey_alg(const EVP_PKEY *pk)
{
	char group[64];
	size_t i;

	if (pk == NULL)
		return PV_ALG_NONE;
	if (EVP_PKEY_is_a(pk, "ED25519"))
		return PV_ALG_ED25519;
	if (EVP_PKEY_is_a(pk, "RSA")) {
		switch (EVP_PKEY_get_bits(pk)) {
		case 2048:
			return PV_ALG_RSA2048;
		case 3072:
			return PV_ALG_RSA3072;
		case 4096:
			return PV_ALG_RSA4096;
		default:
			return PV_ALG_NONE;
		}
	}
	if (EVP_PKEY_is_a(pk, "EC") &&
	    EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL) == 1) {
		for (i = 0; i < PV_NELEM(curves); i++)
			if (strcmp(curves[i].group, group) == 0)
				return curves[i].alg;
	}
	ERR_clear_error();
	return PV_ALG_NONE;
}

pv_err
pv_pubkey_spki_der(const EVP_PKEY *pk, uint8_t **der, size_t *derlen)
{
	unsigned char *enc = NULL;
	uint8_t *copy = NULL;
	int len;
	pv_err r = PV_OK;

	*der = NULL;
	*derlen = 0;
	if (pk == NULL)
		return PV_ERR_USAGE;
	if ((len = i2d_PUBKEY(pk, &enc)) <= 0) {
		r = crypto_fail("i2d_PUBKEY");
		goto out;
	}
	if ((copy = malloc((size_t)len)) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	memcpy(copy, enc, (size_t)len);
	*der = copy;
	*derlen = (size_t)len;
	copy = NULL;
out:
	free(copy);
	OPENSSL_free(enc);
	return r;
}

pv_err
pv_pubkey_pem(const EVP_PKEY *pk, char **pem)
{
	BIO *bio = NULL;
	char *data = NULL, *copy = NULL;
	long len;
	pv_err r = PV_OK;

	*pem = NULL;
	if (pk == NULL)
		return PV_ERR_USAGE;
	if ((bio = BIO_new(BIO_s_mem())) == NULL || PEM_write_bio_PUBKEY(bio, pk) != 1 ||
	    (len = BIO_get_mem_data(bio, &data)) <= 0) {
		r = crypto_fail("PEM_write_bio_PUBKEY");
		goto out;
	}
	if ((copy = malloc((size_t)len + 1)) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	memcpy(copy, data, (size_t)len);
	copy[len] = '\0';
	*pem = copy;
	copy = NULL;
out:
	free(copy);
	BIO_free(bio);
	return r;
}

/* Add name = base64url(bytes) to obj. */
static pv_err
add_b64url(cJSON *obj, const char *name, const uint8_t *bytes, size_t len)
{
	char *s = NULL;
	pv_err r;

	if ((r = pv_b64url_encode(bytes, len, &s)) != PV_OK)
		return r;
	if (cJSON_AddStringToObject(obj, name, s) == NULL)
		r = PV_ERR_NOMEM;
	free(s);
	return r;
}

/* Add name = base64url(BIGNUM param), padded to width bytes (0: minimal). */
static pv_err
add_bn_param(cJSON *obj, const char *name, const EVP_PKEY *pk, const char *param, size_t width)
{
	BIGNUM *v = NULL;
	uint8_t *buf = NULL;
	size_t len;
	pv_err r = PV_OK;

	if (EVP_PKEY_get_bn_param(pk, param, &v) != 1) {
		r = crypto_fail("EVP_PKEY_get_bn_param");
		goto out;
	}
	len = width != 0 ? width : (size_t)BN_num_bytes(v);
	if ((buf = malloc(len > 0 ? len : 1)) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	if (BN_bn2binpad(v, buf, (int)len) < 0) {
		r = crypto_fail("BN_bn2binpad");
		goto out;
	}
	r = add_b64url(obj, name, buf, len);
out:
	free(buf);
	BN_free(v);
	return r;
}

pv_err
pv_pubkey_jwk(const EVP_PKEY *pk, cJSON **out)
{
	const struct pv_alg_info *ai;
	cJSON *jwk = NULL;
	uint8_t raw[32];
	size_t rawlen = sizeof(raw);
	pv_alg alg = pv_pubkey_alg(pk);
	pv_err r = PV_ERR_NOMEM;

	*out = NULL;
	if ((ai = pv_alg_info(alg)) == NULL) {
		pv_err_set_detail("no JWK form for this key type");
		return PV_ERR_KEY_TYPE;
	}
	if ((jwk = cJSON_CreateObject()) == NULL)
		goto out;
	switch (ai->family) {
	case PV_FAMILY_EC:
		if (cJSON_AddStringToObject(jwk, "kty", "EC") == NULL ||
		    cJSON_AddStringToObject(jwk, "crv", ai->jwk_crv) == NULL)
			goto out;
		if ((r = add_bn_param(jwk, "x", pk, OSSL_PKEY_PARAM_EC_PUB_X, ai->field_len)) != PV_OK ||
		    (r = add_bn_param(jwk, "y", pk, OSSL_PKEY_PARAM_EC_PUB_Y, ai->field_len)) != PV_OK)
			goto out;
		break;
	case PV_FAMILY_EDDSA:
		if (cJSON_AddStringToObject(jwk, "kty", "OKP") == NULL ||
		    cJSON_AddStringToObject(jwk, "crv", ai->jwk_crv) == NULL)
			goto out;
		if (EVP_PKEY_get_raw_public_key(pk, raw, &rawlen) != 1 || rawlen != sizeof(raw)) {
			r = crypto_fail("EVP_PKEY_get_raw_public_key");
			goto out;
		}
		if ((r = add_b64url(jwk, "x", raw, rawlen)) != PV_OK)
			goto out;
		break;
	case PV_FAMILY_RSA:
		if (cJSON_AddStringToObject(jwk, "kty", "RSA") == NULL)
			goto out;
		if ((r = add_bn_param(jwk, "n", pk, OSSL_PKEY_PARAM_RSA_N, 0)) != PV_OK ||
		    (r = add_bn_param(jwk, "e", pk, OSSL_PKEY_PARAM_RSA_E, 0)) != PV_OK)
			goto out;
		break;
	default:
		r = PV_ERR_KEY_TYPE;
		goto out;
	}
	*out = jwk;
	jwk = NULL;
	r = PV_OK;
out:
	cJSON_Delete(jwk);
	return r;
}

/* Copy member name (a string) of jwk into canon, keeping insertion order. */
static pv_err
copy_member(cJSON *canon, const cJSON *jwk, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(jwk, name);

	if (!cJSON_IsString(v) || v->valuestring == NULL) {
		pv_err_set_detail("JWK member \"%s\" missing or not a string", name);
		return PV_ERR_BAD_INPUT;
	}
	return cJSON_AddStringToObject(canon, name, v->valuestring) != NULL ? PV_OK : PV_ERR_NOMEM;
}

pv_err
pv_jwk_thumbprint(const cJSON *jwk, char **out)
{
	/* RFC 7638 section 3.2: the required members, sorted by name */
	static const char *const ec[] = {"crv", "kty", "x", "y", NULL};
	static const char *const okp[] = {"crv", "kty", "x", NULL};
	static const char *const rsa[] = {"e", "kty", "n", NULL};
	const char *const *members;
	const cJSON *kty;
	cJSON *canon = NULL;
	char *text = NULL;
	uint8_t md[PV_DIGEST_MAX_LEN];
	size_t mdlen = 0, i;
	pv_err r = PV_ERR_BAD_INPUT;

	*out = NULL;
	kty = cJSON_GetObjectItemCaseSensitive(jwk, "kty");
	if (!cJSON_IsString(kty) || kty->valuestring == NULL) {
		pv_err_set_detail("JWK has no \"kty\"");
		goto out;
	}
	if (strcmp(kty->valuestring, "EC") == 0)
		members = ec;
	else if (strcmp(kty->valuestring, "OKP") == 0)
		members = okp;
	else if (strcmp(kty->valuestring, "RSA") == 0)
		members = rsa;
	else {
		pv_err_set_detail("JWK kty is not EC, OKP or RSA");
		goto out;
	}
	if ((canon = cJSON_CreateObject()) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	for (i = 0; members[i] != NULL; i++)
		if ((r = copy_member(canon, jwk, members[i])) != PV_OK)
			goto out;
	/* cJSON prints members in insertion order and escapes as JSON requires */
	if ((text = cJSON_PrintUnformatted(canon)) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	if ((r = pv_digest_compute(PV_DIGEST_SHA256, (const uint8_t *)text, strlen(text), md, &mdlen)) !=
	    PV_OK)
		goto out;
	r = pv_b64url_encode(md, mdlen, out);
out:
	cJSON_free(text);
	cJSON_Delete(canon);
	return r;
}

pv_err
pv_pubkey_thumbprint(const EVP_PKEY *pk, char **out)
{
	cJSON *jwk = NULL;
	pv_err r;

	*out = NULL;
	if ((r = pv_pubkey_jwk(pk, &jwk)) != PV_OK)
		return r;
	r = pv_jwk_thumbprint(jwk, out);
	cJSON_Delete(jwk);
	return r;
}

static pv_err
verify_eddsa(EVP_PKEY *pk, pv_digest digest, const uint8_t *msg, size_t msglen, int msg_is_digest,
	     const uint8_t *sig, size_t siglen)
{
	EVP_MD_CTX *mctx = NULL;
	pv_err r = PV_ERR_BAD_SIGNATURE;

	if (digest != PV_DIGEST_NONE || msg_is_digest) {
		pv_err_set_detail("Ed25519 signs the message itself: only digest none");
		return PV_ERR_USAGE;
	}
	if ((mctx = EVP_MD_CTX_new()) == NULL)
		return PV_ERR_NOMEM;
	if (EVP_DigestVerifyInit_ex(mctx, NULL, NULL, NULL, NULL, pk, NULL) != 1) {
		r = crypto_fail("EVP_DigestVerifyInit_ex");
		goto out;
	}
	if (EVP_DigestVerify(mctx, sig, siglen, msg, msglen) == 1)
		r = PV_OK;
out:
	ERR_clear_error();
	EVP_MD_CTX_free(mctx);
	return r;
}

/* ECDSA and RSA: verify over a digest with EVP_PKEY_verify. */
static pv_err
verify_digest(EVP_PKEY *pk, const struct pv_alg_info *ai, int pss, pv_digest digest, const uint8_t *dgst,
	      size_t dlen, const uint8_t *sig, size_t siglen)
{
	EVP_PKEY_CTX *ctx = NULL;
	const EVP_MD *md = NULL;
	uint8_t *der = NULL;
	size_t derlen = 0;
	pv_err r;

	if (ai->family == PV_FAMILY_EC) {
		/* a syntactically bad raw signature is simply not valid */
		if (pv_ecdsa_raw_to_der(sig, siglen, ai->field_len, &der, &derlen) != PV_OK)
			return PV_ERR_BAD_SIGNATURE;
		sig = der;
		siglen = derlen;
	} else if ((md = pv_digest_evp_md(digest)) == NULL) {
		pv_err_set_detail("RSA signatures need sha256, sha384 or sha512");
		return PV_ERR_USAGE;
	}
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL)) == NULL || EVP_PKEY_verify_init(ctx) != 1) {
		r = crypto_fail("EVP_PKEY_verify_init");
		goto out;
	}
	/* with the md set OpenSSL builds/checks the DigestInfo itself */
	if (md != NULL &&
	    (EVP_PKEY_CTX_set_rsa_padding(ctx, pss ? RSA_PKCS1_PSS_PADDING : RSA_PKCS1_PADDING) != 1 ||
	     EVP_PKEY_CTX_set_signature_md(ctx, md) != 1)) {
		r = crypto_fail("EVP_PKEY_CTX_set_rsa_padding");
		goto out;
	}
	if (md != NULL && pss &&
	    (EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
	     EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) != 1)) {
		r = crypto_fail("EVP_PKEY_CTX_set_rsa_pss_saltlen");
		goto out;
	}
	r = EVP_PKEY_verify(ctx, sig, siglen, dgst, dlen) == 1 ? PV_OK : PV_ERR_BAD_SIGNATURE;
out:
	ERR_clear_error();
	EVP_PKEY_CTX_free(ctx);
	free(der);
	return r;
}

pv_err
pv_pubkey_verify(EVP_PKEY *pk, pv_alg alg, int pss, pv_digest digest, const uint8_t *msg, size_t msglen,
		 int msg_is_digest, const uint8_t *raw_sig, size_t siglen)
{
	const struct pv_alg_info *ai = pv_alg_info(alg);
	uint8_t md[PV_DIGEST_MAX_LEN];
	size_t mdlen = 0;
	pv_err r;

	if (pk == NULL || (msg == NULL && msglen != 0) || raw_sig == NULL)
		return PV_ERR_USAGE;
	if (ai == NULL || !pv_alg_is_asymmetric(alg) || pv_pubkey_alg(pk) != alg) {
		pv_err_set_detail("the key is not a %s key", ai != NULL ? ai->name : "signing");
		return PV_ERR_KEY_TYPE;
	}
	if (pss && ai->family != PV_FAMILY_RSA) {
		pv_err_set_detail("PSS padding is for RSA keys only");
		return PV_ERR_USAGE;
	}
	if (digest == PV_DIGEST_DEFAULT)
		digest = ai->default_digest;
	if (siglen != pv_sig_raw_len(alg))
		return PV_ERR_BAD_SIGNATURE;
	if (ai->family == PV_FAMILY_EDDSA)
		return verify_eddsa(pk, digest, msg, msglen, msg_is_digest, raw_sig, siglen);

	if (digest == PV_DIGEST_NONE) {
		/* the input is the digest; RSA still needs to know which hash */
		msg_is_digest = 1;
		if (pv_digest_by_len(msglen) == PV_DIGEST_NONE) {
			pv_err_set_detail("a prehashed input must be 32, 48 or 64 bytes, not %zu", msglen);
			return PV_ERR_USAGE;
		}
		if (ai->family == PV_FAMILY_RSA)
			digest = pv_digest_by_len(msglen);
	}
	if (msg_is_digest) {
		if (digest != PV_DIGEST_NONE && msglen != pv_digest_len(digest)) {
			pv_err_set_detail("a %s digest is %zu bytes, not %zu", pv_digest_name(digest),
					  pv_digest_len(digest), msglen);
			return PV_ERR_USAGE;
		}
		return verify_digest(pk, ai, pss, digest, msg, msglen, raw_sig, siglen);
	}
	if ((r = pv_digest_compute(digest, msg, msglen, md, &mdlen)) != PV_OK)
		return r;
	return verify_digest(pk, ai, pss, digest, md, mdlen, raw_sig, siglen);
}
