#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "bundle/bundle.h"
#include "bundle/install.h"
#include "core/alg.h"
#include "core/keymeta.h"
#include "core/pubkey.h"
#include "pkcs11/objuri.h"

static pv_err
crypto_fail(const char *what)
{
	ERR_clear_error();
	pv_err_set_detail("%s failed", what);
	return PV_ERR_CRYPTO;
}

/* *der (OPENSSL_free) = DER OCTET STRING holding raw. */
static pv_err
octet_string(const uint8_t *raw, size_t len, uint8_t **der, size_t *derlen)
{
	ASN1_OCTET_STRING *os = NULL;
	unsigned char *p = NULL;
	int n;
	pv_err r = PV_OK;

	*der = NULL;
	if ((os = ASN1_OCTET_STRING_new()) == NULL || ASN1_OCTET_STRING_set(os, raw, (int)len) != 1 ||
	    (n = i2d_ASN1_OCTET_STRING(os, &p)) <= 0) {
		r = crypto_fail("i2d_ASN1_OCTET_STRING");
		goto out;
	}
	*der = p;
	*derlen = (size_t)n;
out:
	ASN1_OCTET_STRING_free(os);
	return r;
}

/* The uncompressed point 04||X||Y (EC) or the 32-byte point (Ed25519). */
static pv_err
raw_point(EVP_PKEY *pk, const struct pv_alg_info *ai, uint8_t *pt, size_t *len)
{
	BIGNUM *x = NULL, *y = NULL;
	size_t n = ai->field_len;
	pv_err r = PV_OK;

	if (ai->family == PV_FAMILY_EDDSA) {
		*len = 32;
		if (EVP_PKEY_get_raw_public_key(pk, pt, len) != 1 || *len != 32)
			r = crypto_fail("EVP_PKEY_get_raw_public_key");
		return r;
	}
	if (EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1 ||
	    EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1 ||
	    BN_bn2binpad(x, pt + 1, (int)n) != (int)n || BN_bn2binpad(y, pt + 1 + n, (int)n) != (int)n) {
		r = crypto_fail("reading the EC public point");
		goto out;
	}
	pt[0] = 0x04;
	*len = 1 + 2 * n;
out:
	BN_free(x);
	BN_free(y);
	return r;
}

/* An RSA parameter as an unsigned big-endian byte string (malloc'd). */
static pv_err
rsa_param(EVP_PKEY *pk, const char *name, uint8_t **out, size_t *len)
{
	BIGNUM *bn = NULL;
	uint8_t *b = NULL;
	int n;
	pv_err r = PV_OK;

	*out = NULL;
	if (EVP_PKEY_get_bn_param(pk, name, &bn) != 1 || (n = BN_num_bytes(bn)) <= 0) {
		r = crypto_fail("reading the RSA public key");
		goto out;
	}
	if ((b = malloc((size_t)n)) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	if (BN_bn2bin(bn, b) != n) {
		r = crypto_fail("BN_bn2bin");
		goto out;
	}
	*out = b;
	*len = (size_t)n;
	b = NULL;
out:
	free(b);
	BN_free(bn);
	return r;
}

pv_err
pv_pubkey_create_object(p11_token *tok, EVP_PKEY *pk, const char *label, const uint8_t *id, size_t id_len,
			int persistent, CK_OBJECT_HANDLE *out)
{
	const struct pv_alg_info *ai = NULL;
	CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
	CK_KEY_TYPE kt;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE, token;
	CK_ATTRIBUTE t[12];
	CK_ULONG n = 0;
	uint8_t pt[1 + 2 * 66], *a = NULL, *b = NULL, *point = NULL;
	size_t ptlen = 0, alen = 0, blen = 0, pointlen = 0;
	pv_err r;

	*out = CK_INVALID_HANDLE;
	if (tok == NULL || pk == NULL || (id == NULL && id_len > 0)) {
		r = PV_ERR_USAGE;
		goto out;
	}
	if ((ai = pv_alg_info(pv_pubkey_alg(pk))) == NULL) {
		pv_err_set_detail("the public key is not of an algorithm p11vault supports");
		r = PV_ERR_KEY_TYPE;
		goto out;
	}
	kt = ai->ckk;
	token = persistent ? CK_TRUE : CK_FALSE;
	t[n++] = (CK_ATTRIBUTE){CKA_CLASS, &cls, sizeof(cls)};
	t[n++] = (CK_ATTRIBUTE){CKA_KEY_TYPE, &kt, sizeof(kt)};
	t[n++] = (CK_ATTRIBUTE){CKA_TOKEN, &token, 1};
	t[n++] = (CK_ATTRIBUTE){CKA_PRIVATE, &no, 1};
	t[n++] = (CK_ATTRIBUTE){CKA_VERIFY, &yes, 1};
	t[n++] = (CK_ATTRIBUTE){CKA_ENCRYPT, &no, 1};
	t[n++] = (CK_ATTRIBUTE){CKA_WRAP, &no, 1};
	if (label != NULL)
		t[n++] = (CK_ATTRIBUTE){CKA_LABEL, (void *)(uintptr_t)label, strlen(label)};
	if (id_len > 0)
		t[n++] = (CK_ATTRIBUTE){CKA_ID, (void *)(uintptr_t)id, id_len};
	if (ai->family == PV_FAMILY_RSA) {
		if ((r = rsa_param(pk, OSSL_PKEY_PARAM_RSA_N, &a, &alen)) != PV_OK ||
		    (r = rsa_param(pk, OSSL_PKEY_PARAM_RSA_E, &b, &blen)) != PV_OK)
			goto out;
		t[n++] = (CK_ATTRIBUTE){CKA_MODULUS, a, alen};
		t[n++] = (CK_ATTRIBUTE){CKA_PUBLIC_EXPONENT, b, blen};
	} else {
		if ((r = raw_point(pk, ai, pt, &ptlen)) != PV_OK ||
		    (r = octet_string(pt, ptlen, &point, &pointlen)) != PV_OK)
			goto out;
		t[n++] = (CK_ATTRIBUTE){CKA_EC_PARAMS, (void *)(uintptr_t)ai->ec_params, ai->ec_params_len};
		t[n++] = (CK_ATTRIBUTE){CKA_EC_POINT, point, pointlen};
	}
	r = p11_create_object(tok, t, n, out);
out:
	free(a);
	free(b);
	OPENSSL_free(point);
	return r;
}

/* Destroy what was made (keeps error r; a failed clean-up is reported). */
static void
undo(p11_token *tok, CK_OBJECT_HANDLE hpriv, CK_OBJECT_HANDLE hpub, pv_err r)
{
	int failed = 0;

	if (hpub != CK_INVALID_HANDLE && p11_handle_destroy(tok, hpub) != PV_OK)
		failed = 1;
	if (hpriv != CK_INVALID_HANDLE && p11_handle_destroy(tok, hpriv) != PV_OK)
		failed = 1;
	if (failed)
		pv_err_set_detail("%s; and removing the half-made key failed", pv_strerror(r));
}

pv_err
pv_bundle_install_key(pv_keystore *ks, const struct pv_bundle_entry *e, pv_dek *token_dek,
		      const char *keyname, pv_key_purpose purpose, int allow_fallback, int *fallback_used,
		      struct pv_key **out)
{
	p11_token *tok = pv_keystore_token(ks);
	CK_OBJECT_HANDLE hpriv = CK_INVALID_HANDLE, hpub = CK_INVALID_HANDLE;
	struct pv_key *existing = NULL;
	struct pv_key_import ki = {0};
	uint8_t id[PV_INSTALL_ID_LEN];
	char label[P11_LABEL_MAX], fit[64];
	const uint8_t *p;
	EVP_PKEY *pk = NULL;
	char *uri = NULL;
	pv_err r;

	if (out != NULL)
		*out = NULL;
	if (fallback_used != NULL)
		*fallback_used = 0;
	if (!pv_key_name_valid(keyname)) {
		pv_err_set_detail("invalid key name (1-64 of A-Z a-z 0-9 _ -)");
		return PV_ERR_USAGE;
	}
	if (e->kind != PV_ENTRY_PRIVATE_KEY) {
		pv_err_set_detail("entry %s is not a private key", e->name);
		return PV_ERR_KEY_TYPE;
	}
	if (purpose == PV_PURPOSE_NONE)
		purpose = e->purpose;
	if (purpose == PV_PURPOSE_NONE) {
		pv_err_set_detail("entry %s has no purpose (sealed by an earlier version); give one with "
				  "--purpose",
				  e->name);
		return PV_ERR_PURPOSE;
	}
	if (e->purpose != PV_PURPOSE_NONE && purpose != e->purpose) {
		pv_err_set_detail("entry %s has purpose %s, not %s", e->name, pv_key_purpose_name(e->purpose),
				  pv_key_purpose_name(purpose));
		return PV_ERR_PURPOSE;
	}
	/* the key is unwrapped as a signing key: a signing purpose that fits */
	if (!pv_entry_purpose_valid(e->alg, purpose)) {
		pv_entry_purposes_for(e->alg, fit, sizeof(fit));
		pv_err_set_detail("purpose %s does not fit entry %s (%s); it can have: %s",
				  pv_key_purpose_name(purpose), e->name, pv_alg_info(e->alg)->name, fit);
		return PV_ERR_USAGE;
	}
	if (!pv_dek_on_token(token_dek) || pv_dek_token(token_dek) != tok) {
		pv_err_set_detail("the data key is not on the keystore's token");
		return PV_ERR_USAGE;
	}
	if ((r = pv_keys_get(ks, keyname, &existing)) == PV_OK) {
		pv_err_set_detail("key '%s' already exists", keyname);
		r = PV_ERR_EXISTS;
		goto out;
	}
	if (r != PV_ERR_NOT_FOUND)
		goto out;
	pv_err_clear_detail();

	p = e->public_key;
	if ((pk = d2i_PUBKEY(NULL, &p, (long)e->public_key_len)) == NULL ||
	    p != e->public_key + e->public_key_len || pv_pubkey_alg(pk) != e->alg) {
		ERR_clear_error();
		pv_err_set_detail("entry %s: public_key is not a %s public key", e->name,
				  pv_alg_info(e->alg) != NULL ? pv_alg_info(e->alg)->name : "supported");
		r = PV_ERR_INTEGRITY;
		goto out;
	}
	randombytes_buf(id, sizeof(id));
	snprintf(label, sizeof(label), "%s.v1", keyname);
	ki.label = label;
	ki.id = id;
	ki.id_len = sizeof(id);
	ki.persistent = 1;
	ki.allow_fallback = allow_fallback;
	ki.fallback_used = fallback_used;
	/* proves the unwrapped key against public_key with a signature */
	if ((r = pv_bundle_unwrap_key(tok, e, token_dek, &ki, &hpriv)) != PV_OK)
		goto out;
	if ((r = pv_pubkey_create_object(tok, pk, label, id, sizeof(id), 1, &hpub)) != PV_OK ||
	    (r = p11_object_uri(tok, CKO_PRIVATE_KEY, label, id, sizeof(id), &uri)) != PV_OK ||
	    (r = pv_keys_adopt(ks, uri, keyname, purpose, out)) != PV_OK) {
		undo(tok, hpriv, hpub, r);
		goto out;
	}
out:
	if (r != PV_OK && fallback_used != NULL)
		*fallback_used = 0;
	free(uri);
	EVP_PKEY_free(pk);
	pv_key_free(existing);
	return r;
}
