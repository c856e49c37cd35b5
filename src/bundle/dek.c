#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "bundle/dek.h"
#include "bundle/pkcs8_ed25519.h"
#include "pkcs11/crypt.h"

/*
 * The DEK in memory uses OpenSSL EVP (AES-256-GCM, AES-256 wrap with
 * padding); on the token, C_Encrypt/C_Decrypt/C_UnwrapKey. Exactly one of
 * key (guarded) and h is set.
 */
struct pv_dek {
	pv_secret *key;
	p11_token *tok;
	CK_OBJECT_HANDLE h;
};

/* EVP takes int lengths; bundle values are far below this. */
#define DEK_MAX_DATA ((size_t)INT_MAX - 64)

static pv_err
dek_new(pv_dek **out)
{
	if ((*out = calloc(1, sizeof(**out))) == NULL)
		return PV_ERR_NOMEM;
	(*out)->h = CK_INVALID_HANDLE;
	return PV_OK;
}

pv_err
pv_dek_generate(pv_dek **out)
{
	pv_dek *d = NULL;
	pv_err r;

	*out = NULL;
	if ((r = dek_new(&d)) != PV_OK)
		goto out;
	if ((r = pv_secret_new(PV_DEK_LEN, &d->key)) != PV_OK)
		goto out;
	randombytes_buf(pv_secret_rw(d->key), PV_DEK_LEN);
	if ((r = pv_secret_set_len(d->key, PV_DEK_LEN)) != PV_OK)
		goto out;
	pv_secret_lock(d->key);
	*out = d;
	d = NULL;
out:
	pv_dek_free(d);
	return r;
}

pv_err
pv_dek_from_bytes(const uint8_t *k, size_t len, pv_dek **out)
{
	pv_dek *d = NULL;
	pv_err r;

	*out = NULL;
	if (k == NULL || len != PV_DEK_LEN) {
		pv_err_set_detail("a data key is %d bytes, not %zu", PV_DEK_LEN, len);
		r = PV_ERR_BAD_INPUT;
		goto out;
	}
	if ((r = dek_new(&d)) != PV_OK)
		goto out;
	if ((r = pv_secret_from(k, len, &d->key)) != PV_OK)
		goto out;
	*out = d;
	d = NULL;
out:
	pv_dek_free(d);
	return r;
}

pv_err
pv_dek_from_token(p11_token *tok, CK_OBJECT_HANDLE h, pv_dek **out)
{
	pv_dek *d = NULL;
	pv_err r;

	*out = NULL;
	if ((r = dek_new(&d)) != PV_OK) {
		/* Ownership was taken: do not leave the key behind. */
		if (p11_handle_destroy(tok, h) != PV_OK)
			pv_err_set_detail("could not destroy the data key object");
		goto out;
	}
	d->tok = tok;
	d->h = h;
	*out = d;
	d = NULL;
out:
	pv_dek_free(d);
	return r;
}

pv_err
pv_dek_create_object(pv_dek *soft, p11_token *tok, int flags, CK_OBJECT_HANDLE *h)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_AES;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE, ext = (flags & PV_DEK_OBJ_EXTRACTABLE) ? CK_TRUE : CK_FALSE;
	CK_BBOOL writer = (flags & PV_DEK_OBJ_READER) ? CK_FALSE : CK_TRUE;
	CK_ATTRIBUTE t[] = {
	    {CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &kt, sizeof(kt)}, {CKA_TOKEN, &no, 1},
	    {CKA_PRIVATE, &yes, 1},         {CKA_SENSITIVE, &yes, 1},        {CKA_EXTRACTABLE, &ext, 1},
	    {CKA_ENCRYPT, &writer, 1},      {CKA_DECRYPT, &yes, 1},          {CKA_WRAP, &writer, 1},
	    {CKA_UNWRAP, &yes, 1},          {CKA_VALUE, NULL, PV_DEK_LEN},
	};
	pv_err r;

	*h = CK_INVALID_HANDLE;
	if (soft == NULL || soft->key == NULL || tok == NULL)
		return PV_ERR_USAGE;
	/* PKCS#11 has no const; the value is only read. */
	t[PV_NELEM(t) - 1].pValue = (void *)(uintptr_t)pv_secret_ro(soft->key);
	r = p11_create_object(tok, t, PV_NELEM(t), h);
	pv_secret_lock(soft->key);
	return r;
}

pv_err
pv_dek_to_token(pv_dek *soft, p11_token *tok, pv_dek **out)
{
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	pv_err r;

	*out = NULL;
	if ((r = pv_dek_create_object(soft, tok, 0, &h)) != PV_OK)
		return r;
	return pv_dek_from_token(tok, h, out);
}

pv_err
pv_dek_export(pv_dek *soft, pv_secret **out)
{
	pv_err r;

	*out = NULL;
	if (soft == NULL || soft->key == NULL) {
		pv_err_set_detail("the data key is not in memory");
		return PV_ERR_USAGE;
	}
	r = pv_secret_from(pv_secret_ro(soft->key), PV_DEK_LEN, out);
	pv_secret_lock(soft->key);
	return r;
}

void
pv_dek_free(pv_dek *dek)
{
	if (dek == NULL)
		return;
	pv_secret_free(dek->key);
	if (dek->tok != NULL && dek->h != CK_INVALID_HANDLE &&
	    p11_handle_destroy(dek->tok, dek->h) != PV_OK) {
		/* Nothing to do: a session object dies with its session anyway. */
	}
	free(dek);
}

int
pv_dek_on_token(const pv_dek *dek)
{
	return dek != NULL && dek->key == NULL && dek->h != CK_INVALID_HANDLE;
}

CK_OBJECT_HANDLE
pv_dek_handle(const pv_dek *dek)
{
	return pv_dek_on_token(dek) ? dek->h : CK_INVALID_HANDLE;
}

p11_token *
pv_dek_token(const pv_dek *dek)
{
	return pv_dek_on_token(dek) ? dek->tok : NULL;
}

static void
gcm_params(CK_GCM_PARAMS *p, uint8_t *iv, const uint8_t *aad, size_t aadlen)
{
	memset(p, 0, sizeof(*p));
	p->iv_ptr = iv;
	p->iv_len = PV_GCM_NONCE_LEN;
	p->iv_bits = 8 * PV_GCM_NONCE_LEN;
	p->aad_ptr = (uint8_t *)(uintptr_t)aad; /* only read */
	p->aad_len = aadlen;
	p->tag_bits = 8 * PV_GCM_TAG_LEN;
}

/* Software AES-256-GCM over len bytes of in into out (tag separate). */
static pv_err
soft_gcm(pv_dek *dek, int enc, const uint8_t *nonce, const uint8_t *aad, size_t aadlen, const uint8_t *in,
	 size_t len, uint8_t *out, uint8_t *tag)
{
	EVP_CIPHER_CTX *c = NULL;
	int n = 0;
	pv_err r = PV_ERR_CRYPTO;

	if ((c = EVP_CIPHER_CTX_new()) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	if (EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, PV_GCM_NONCE_LEN, NULL) != 1)
		goto out;
	if (EVP_CipherInit_ex(c, NULL, NULL, pv_secret_ro(dek->key), nonce, enc) != 1) {
		pv_secret_lock(dek->key);
		goto out;
	}
	pv_secret_lock(dek->key);
	if (aadlen > 0 && EVP_CipherUpdate(c, NULL, &n, aad, (int)aadlen) != 1)
		goto out;
	if (len > 0 && EVP_CipherUpdate(c, out, &n, in, (int)len) != 1)
		goto out;
	if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, PV_GCM_TAG_LEN, tag) != 1)
		goto out;
	if (EVP_CipherFinal_ex(c, out + (len > 0 ? n : 0), &n) != 1) {
		if (!enc) {
			pv_err_set_detail("AES-256-GCM: the authentication tag does not verify");
			r = PV_ERR_INTEGRITY;
		}
		goto out;
	}
	if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, PV_GCM_TAG_LEN, tag) != 1)
		goto out;
	r = PV_OK;
out:
	EVP_CIPHER_CTX_free(c);
	return r;
}

pv_err
pv_dek_gcm_seal(pv_dek *dek, const uint8_t nonce[PV_GCM_NONCE_LEN], const uint8_t *aad, size_t aadlen,
		const uint8_t *pt, size_t ptlen, uint8_t **ct, size_t *ctlen)
{
	uint8_t *buf = NULL, iv[PV_GCM_NONCE_LEN];
	CK_GCM_PARAMS p;
	CK_MECHANISM mech = {CKM_AES_GCM, &p, sizeof(p)};
	size_t len;
	pv_err r;

	*ct = NULL;
	*ctlen = 0;
	if (dek == NULL || nonce == NULL || (aad == NULL && aadlen > 0) || (pt == NULL && ptlen > 0)) {
		r = PV_ERR_USAGE;
		goto out;
	}
	if (ptlen > DEK_MAX_DATA || aadlen > DEK_MAX_DATA) {
		r = PV_ERR_TOO_LARGE;
		goto out;
	}
	len = ptlen + PV_GCM_TAG_LEN;
	if ((buf = malloc(len)) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	if (dek->key != NULL) {
		if ((r = soft_gcm(dek, 1, nonce, aad, aadlen, pt, ptlen, buf, buf + ptlen)) != PV_OK)
			goto out;
	} else {
		memcpy(iv, nonce, sizeof(iv));
		gcm_params(&p, iv, aad, aadlen);
		if ((r = p11_encrypt(dek->tok, &mech, dek->h, pt, ptlen, buf, &len)) != PV_OK)
			goto out;
		if (len != ptlen + PV_GCM_TAG_LEN) {
			pv_err_set_detail("C_Encrypt (CKM_AES_GCM) returned %zu bytes for %zu", len, ptlen);
			r = PV_ERR_PKCS11;
			goto out;
		}
	}
	*ct = buf;
	*ctlen = len;
	buf = NULL;
	r = PV_OK;
out:
	free(buf);
	return r;
}

pv_err
pv_dek_gcm_open_into(pv_dek *dek, const uint8_t nonce[PV_GCM_NONCE_LEN], const uint8_t *aad, size_t aadlen,
		     const uint8_t *ct, size_t ctlen, pv_secret *pt)
{
	uint8_t iv[PV_GCM_NONCE_LEN];
	CK_GCM_PARAMS p;
	CK_MECHANISM mech = {CKM_AES_GCM, &p, sizeof(p)};
	size_t len;
	pv_err r;

	if (dek == NULL || nonce == NULL || (aad == NULL && aadlen > 0) || ct == NULL || pt == NULL)
		return PV_ERR_USAGE;
	if (ctlen < PV_GCM_TAG_LEN) {
		pv_err_set_detail("AES-256-GCM: %zu bytes is shorter than the tag", ctlen);
		return PV_ERR_INTEGRITY;
	}
	if (ctlen > DEK_MAX_DATA || aadlen > DEK_MAX_DATA)
		return PV_ERR_TOO_LARGE;
	/* Room for ct and tag: a token may want the whole input length. */
	if (pv_secret_cap(pt) < ctlen)
		return PV_ERR_USAGE;
	len = ctlen - PV_GCM_TAG_LEN;
	if (dek->key != NULL) {
		r = soft_gcm(dek, 0, nonce, aad, aadlen, ct, len, pv_secret_rw(pt),
			     (uint8_t *)(uintptr_t)(ct + len));
	} else {
		memcpy(iv, nonce, sizeof(iv));
		gcm_params(&p, iv, aad, aadlen);
		len = ctlen;
		if ((r = p11_decrypt(dek->tok, &mech, dek->h, ct, ctlen, pv_secret_rw(pt), &len)) == PV_OK &&
		    len != ctlen - PV_GCM_TAG_LEN) {
			pv_err_set_detail("C_Decrypt (CKM_AES_GCM) returned %zu bytes for %zu", len, ctlen);
			r = PV_ERR_PKCS11;
		}
	}
	if (r != PV_OK) {
		/* whatever a failed decryption left there is not released */
		sodium_memzero(pv_secret_rw(pt), pv_secret_cap(pt));
		if (pv_secret_set_len(pt, 0) != PV_OK) {
			/* 0 always fits */
		}
		return r;
	}
	return pv_secret_set_len(pt, len);
}

pv_err
pv_dek_gcm_open(pv_dek *dek, const uint8_t nonce[PV_GCM_NONCE_LEN], const uint8_t *aad, size_t aadlen,
		const uint8_t *ct, size_t ctlen, pv_secret **pt)
{
	pv_secret *s = NULL;
	pv_err r;

	*pt = NULL;
	if (dek == NULL || nonce == NULL || (aad == NULL && aadlen > 0) || ct == NULL) {
		r = PV_ERR_USAGE;
		goto out;
	}
	if (ctlen < PV_GCM_TAG_LEN) {
		pv_err_set_detail("AES-256-GCM: %zu bytes is shorter than the tag", ctlen);
		r = PV_ERR_INTEGRITY;
		goto out;
	}
	if (ctlen > DEK_MAX_DATA || aadlen > DEK_MAX_DATA) {
		r = PV_ERR_TOO_LARGE;
		goto out;
	}
	if ((r = pv_secret_new(ctlen, &s)) != PV_OK ||
	    (r = pv_dek_gcm_open_into(dek, nonce, aad, aadlen, ct, ctlen, s)) != PV_OK)
		goto out;
	pv_secret_lock(s);
	*pt = s;
	s = NULL;
out:
	pv_secret_free(s);
	return r;
}

pv_err
pv_dek_kwp_wrap(pv_dek *soft, const uint8_t *in, size_t inlen, uint8_t **out, size_t *outlen)
{
	EVP_CIPHER_CTX *c = NULL;
	uint8_t *buf = NULL;
	size_t cap;
	int n = 0, m = 0;
	pv_err r = PV_ERR_CRYPTO;

	*out = NULL;
	*outlen = 0;
	if (soft == NULL || soft->key == NULL || in == NULL || inlen == 0) {
		pv_err_set_detail("software key wrap needs a data key in memory and a non-empty input");
		r = PV_ERR_USAGE;
		goto out;
	}
	if (inlen > DEK_MAX_DATA) {
		r = PV_ERR_TOO_LARGE;
		goto out;
	}
	cap = (inlen + 7) / 8 * 8 + 8;
	if ((buf = malloc(cap)) == NULL || (c = EVP_CIPHER_CTX_new()) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	/* OpenSSL refuses wrap modes through EVP unless told the caller knows. */
	EVP_CIPHER_CTX_set_flags(c, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	if (EVP_EncryptInit_ex(c, EVP_aes_256_wrap_pad(), NULL, pv_secret_ro(soft->key), NULL) != 1) {
		pv_secret_lock(soft->key);
		goto out;
	}
	pv_secret_lock(soft->key);
	if (EVP_EncryptUpdate(c, buf, &n, in, (int)inlen) != 1 || n < 0 ||
	    EVP_EncryptFinal_ex(c, buf + n, &m) != 1 || (size_t)n + (size_t)m != cap) {
		pv_err_set_detail("AES key wrap with padding failed");
		goto out;
	}
	*out = buf;
	*outlen = cap;
	buf = NULL;
	r = PV_OK;
out:
	EVP_CIPHER_CTX_free(c);
	free(buf);
	return r;
}

static pv_err
check_token_dek(const pv_dek *dek)
{
	if (!pv_dek_on_token(dek)) {
		pv_err_set_detail("the data key must be a token key for this operation");
		return PV_ERR_USAGE;
	}
	return PV_OK;
}

/* A token that fails to import an algorithm says so in several ways. */
static int
token_refused(pv_alg alg, pv_err r)
{
	return alg == PV_ALG_ED25519 && (r == PV_ERR_PKCS11 || r == PV_ERR_MECHANISM);
}

static pv_err
unwrap_refused(pv_alg alg, pv_err r)
{
	char why[128];

	if (token_refused(alg, r)) {
		snprintf(why, sizeof(why), "%s", pv_err_detail());
		/* the option first: callers prefix this with paths and names */
		pv_err_set_detail(
		    "the token cannot unwrap Ed25519 keys; bundle.key_import_fallback (vaultd) or "
		    "--allow-key-import-fallback (vaultctl) turns on the explicit fallback [%s]",
		    why);
		return PV_ERR_MECHANISM;
	}
	return r;
}

/* The private key template of pv_dek_unwrap_private_key, with room for the
 * two attributes the fallback adds; the attributes point into the struct. */
struct priv_tmpl {
	CK_OBJECT_CLASS cls;
	CK_KEY_TYPE kt;
	CK_BBOOL yes, no, persistent;
	CK_ATTRIBUTE t[14];
	CK_ULONG n;
};

static void
priv_template(struct priv_tmpl *p, const struct pv_alg_info *ai, const struct pv_key_import *ki)
{
	p->cls = CKO_PRIVATE_KEY;
	p->kt = ai->ckk;
	p->yes = CK_TRUE;
	p->no = CK_FALSE;
	p->persistent = ki->persistent ? CK_TRUE : CK_FALSE;
	p->n = 0;
	p->t[p->n++] = (CK_ATTRIBUTE){CKA_CLASS, &p->cls, sizeof(p->cls)};
	p->t[p->n++] = (CK_ATTRIBUTE){CKA_KEY_TYPE, &p->kt, sizeof(p->kt)};
	p->t[p->n++] = (CK_ATTRIBUTE){CKA_TOKEN, &p->persistent, 1};
	p->t[p->n++] = (CK_ATTRIBUTE){CKA_PRIVATE, &p->yes, 1};
	p->t[p->n++] = (CK_ATTRIBUTE){CKA_SENSITIVE, &p->yes, 1};
	p->t[p->n++] = (CK_ATTRIBUTE){CKA_EXTRACTABLE, &p->no, 1};
	p->t[p->n++] = (CK_ATTRIBUTE){CKA_SIGN, &p->yes, 1};
	p->t[p->n++] = (CK_ATTRIBUTE){CKA_DECRYPT, &p->no, 1};
	p->t[p->n++] = (CK_ATTRIBUTE){CKA_UNWRAP, &p->no, 1};
	if (ai->family == PV_FAMILY_EC)
		p->t[p->n++] = (CK_ATTRIBUTE){CKA_DERIVE, &p->yes, 1};
	if (ki->label != NULL)
		p->t[p->n++] = (CK_ATTRIBUTE){CKA_LABEL, (void *)(uintptr_t)ki->label, strlen(ki->label)};
	if (ki->id != NULL && ki->id_len > 0)
		p->t[p->n++] = (CK_ATTRIBUTE){CKA_ID, (void *)(uintptr_t)ki->id, ki->id_len};
}

/* Destroy a temporary object; a second try before giving up, since a
 * fallback object holds key bytes in the clear inside the token. */
static pv_err
destroy_temporary(p11_token *tok, CK_OBJECT_HANDLE *h)
{
	if (*h == CK_INVALID_HANDLE)
		return PV_OK;
	if (p11_handle_destroy(tok, *h) != PV_OK && p11_handle_destroy(tok, *h) != PV_OK) {
		pv_err_set_detail("could not destroy the temporary key object (it goes with its session)");
		return PV_ERR_PKCS11;
	}
	*h = CK_INVALID_HANDLE;
	return PV_OK;
}

/*
 * The KWP-wrapped bytes unwrapped as a session CKK_GENERIC_SECRET, no usage
 * at all. sensitive=0: the fallback reads its value; sensitive=1 (rotate):
 * it is only wrapped again.
 */
static pv_err
unwrap_as_secret(pv_dek *dek, int sensitive, const uint8_t *wrapped, size_t len, CK_OBJECT_HANDLE *h)
{
	CK_MECHANISM kwp = {CKM_AES_KEY_WRAP_PAD, NULL, 0};
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE, sens = sensitive ? CK_TRUE : CK_FALSE;
	CK_ATTRIBUTE t[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_KEY_TYPE, &kt, sizeof(kt)},
	    {CKA_TOKEN, &no, 1},
	    {CKA_PRIVATE, &yes, 1},
	    {CKA_SENSITIVE, &sens, 1},
	    {CKA_EXTRACTABLE, &yes, 1},
	    {CKA_ENCRYPT, &no, 1},
	    {CKA_DECRYPT, &no, 1},
	    {CKA_SIGN, &no, 1},
	    {CKA_VERIFY, &no, 1},
	    {CKA_WRAP, &no, 1},
	    {CKA_UNWRAP, &no, 1},
	    {CKA_DERIVE, &no, 1},
	};

	return p11_unwrap_key(dek->tok, &kwp, dek->h, wrapped, len, t, PV_NELEM(t), h);
}

/* The explicit Ed25519 import fallback (dek.h). */
static pv_err
unwrap_ed25519_fallback(pv_dek *dek, const struct pv_key_import *ki, const uint8_t *wrapped, size_t len,
			CK_OBJECT_HANDLE *out)
{
	const struct pv_alg_info *ai = pv_alg_info(PV_ALG_ED25519);
	CK_OBJECT_HANDLE hs = CK_INVALID_HANDLE;
	struct priv_tmpl pt;
	pv_secret *p8 = NULL;
	const uint8_t *seed = NULL;
	size_t n = 0;
	pv_err r, rd;

	*out = CK_INVALID_HANDLE;
	if ((r = unwrap_as_secret(dek, 0, wrapped, len, &hs)) != PV_OK)
		goto out;
	/* room for more than the one layout, so that a longer PKCS#8 is
	 * refused by the layout check with a clear reason */
	if ((r = pv_secret_new(128, &p8)) != PV_OK)
		goto out;
	r = p11_handle_read_attr(dek->tok, hs, CKA_VALUE, pv_secret_rw(p8), pv_secret_cap(p8), &n);
	/* at once: the clear PKCS#8 must not outlive this read in the token */
	if ((rd = destroy_temporary(dek->tok, &hs)) != PV_OK) {
		r = rd;
		goto out;
	}
	if (r == PV_ERR_TOO_LARGE) {
		pv_err_set_detail("Ed25519 PKCS#8: longer than the RFC 8410 layout");
		r = PV_ERR_BAD_INPUT;
	}
	if (r != PV_OK || (r = pv_secret_set_len(p8, n)) != PV_OK)
		goto out;
	if ((r = pv_pkcs8_ed25519_seed(pv_secret_ro(p8), n, &seed)) != PV_OK)
		goto out;
	priv_template(&pt, ai, ki);
	pt.t[pt.n++] = (CK_ATTRIBUTE){CKA_EC_PARAMS, (void *)(uintptr_t)ai->ec_params, ai->ec_params_len};
	/* PKCS#11 has no const; the token only reads the seed */
	pt.t[pt.n++] = (CK_ATTRIBUTE){CKA_VALUE, (void *)(uintptr_t)seed, PV_ED25519_SEED_LEN};
	r = p11_create_object(dek->tok, pt.t, pt.n, out);
out:
	if (hs != CK_INVALID_HANDLE && (rd = destroy_temporary(dek->tok, &hs)) != PV_OK)
		r = rd;
	pv_secret_free(p8); /* wipes the PKCS#8 and the seed in it */
	return r;
}

pv_err
pv_dek_unwrap_private_key(pv_dek *token_dek, const struct pv_key_import *ki, const uint8_t *wrapped,
			  size_t len, CK_OBJECT_HANDLE *out)
{
	const struct pv_alg_info *ai;
	CK_MECHANISM kwp = {CKM_AES_KEY_WRAP_PAD, NULL, 0};
	CK_BBOOL sensitive = CK_FALSE, extractable = CK_TRUE;
	struct priv_tmpl pt;
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	char why[160];
	pv_err r;

	*out = CK_INVALID_HANDLE;
	if ((r = check_token_dek(token_dek)) != PV_OK)
		goto out;
	if (ki == NULL || wrapped == NULL || len == 0 || (ki->id == NULL && ki->id_len > 0) ||
	    (ai = pv_alg_info(ki->alg)) == NULL || !pv_alg_is_asymmetric(ki->alg)) {
		r = PV_ERR_USAGE;
		goto out;
	}
	if (ki->fallback_used != NULL)
		*ki->fallback_used = 0;
	priv_template(&pt, ai, ki);
	r = p11_unwrap_key(token_dek->tok, &kwp, token_dek->h, wrapped, len, pt.t, pt.n, &h);
	if (r != PV_OK && token_refused(ki->alg, r) && ki->allow_fallback) {
		snprintf(why, sizeof(why), "%s", pv_err_detail());
		if ((r = unwrap_ed25519_fallback(token_dek, ki, wrapped, len, &h)) != PV_OK) {
			char more[256];

			snprintf(more, sizeof(more), "%s", pv_err_detail());
			pv_err_set_detail(
			    "the Ed25519 import fallback failed: %s (the token's unwrap said: %s)", more,
			    why);
			goto out;
		}
		if (ki->fallback_used != NULL)
			*ki->fallback_used = 1;
	} else if (r != PV_OK) {
		r = unwrap_refused(ki->alg, r);
		goto out;
	}
	/* Trust what the token reports, not what was asked for. */
	if ((r = p11_handle_get_bool(token_dek->tok, h, CKA_SENSITIVE, &sensitive)) != PV_OK ||
	    (r = p11_handle_get_bool(token_dek->tok, h, CKA_EXTRACTABLE, &extractable)) != PV_OK)
		goto out;
	if (sensitive != CK_TRUE || extractable != CK_FALSE) {
		pv_err_set_detail("the token did not make the unwrapped key sensitive and non-extractable");
		r = PV_ERR_NOT_HONOURED;
		goto out;
	}
	*out = h;
	h = CK_INVALID_HANDLE;
out:
	if (h != CK_INVALID_HANDLE && p11_handle_destroy(token_dek->tok, h) != PV_OK) {
		/* keep r: the first failure is the one to report */
	}
	if (r != PV_OK && ki != NULL && ki->fallback_used != NULL)
		*ki->fallback_used = 0;
	return r;
}

pv_err
pv_dek_rewrap_private_key(pv_dek *old_token_dek, pv_dek *new_token_dek, pv_alg alg, const uint8_t *wrapped,
			  size_t len, uint8_t **out, size_t *outlen)
{
	const struct pv_alg_info *ai;
	CK_MECHANISM kwp = {CKM_AES_KEY_WRAP_PAD, NULL, 0};
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_KEY_TYPE kt;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE t[6];
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	pv_err r;

	*out = NULL;
	*outlen = 0;
	if ((r = check_token_dek(old_token_dek)) != PV_OK || (r = check_token_dek(new_token_dek)) != PV_OK)
		goto out;
	if (old_token_dek->tok != new_token_dek->tok || wrapped == NULL || len == 0 ||
	    (ai = pv_alg_info(alg)) == NULL || !pv_alg_is_asymmetric(alg)) {
		r = PV_ERR_USAGE;
		goto out;
	}
	kt = ai->ckk;
	t[0] = (CK_ATTRIBUTE){CKA_CLASS, &cls, sizeof(cls)};
	t[1] = (CK_ATTRIBUTE){CKA_KEY_TYPE, &kt, sizeof(kt)};
	t[2] = (CK_ATTRIBUTE){CKA_TOKEN, &no, 1};
	t[3] = (CK_ATTRIBUTE){CKA_PRIVATE, &yes, 1};
	t[4] = (CK_ATTRIBUTE){CKA_SENSITIVE, &yes, 1};
	/* Extractable only so C_WrapKey can move it under the new DEK. */
	t[5] = (CK_ATTRIBUTE){CKA_EXTRACTABLE, &yes, 1};
	r = p11_unwrap_key(old_token_dek->tok, &kwp, old_token_dek->h, wrapped, len, t, PV_NELEM(t), &h);
	if (r != PV_OK && token_refused(alg, r)) {
		/* A token that cannot parse the PKCS#8 (SoftHSM 2.6 and Ed25519)
		 * can still move its bytes as an opaque sensitive secret: they stay
		 * in the token, so this needs no fallback option. */
		char why[160];

		snprintf(why, sizeof(why), "%s", pv_err_detail());
		if ((r = unwrap_as_secret(old_token_dek, 1, wrapped, len, &h)) != PV_OK &&
		    r != PV_ERR_INTEGRITY) {
			pv_err_set_detail("%s", why);
			r = unwrap_refused(alg, PV_ERR_MECHANISM);
		}
	} else if (r != PV_OK) {
		r = unwrap_refused(alg, r);
	}
	if (r != PV_OK)
		goto out;
	r = p11_wrap_key(new_token_dek->tok, &kwp, new_token_dek->h, h, out, outlen);
out:
	if (h != CK_INVALID_HANDLE && p11_handle_destroy(old_token_dek->tok, h) != PV_OK) {
		/* a session object; it goes with its session at the latest */
	}
	return r;
}
