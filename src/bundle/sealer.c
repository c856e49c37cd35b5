/*
 * Sealer authentication: the signed message, signing and verification.
 * docs/bundle-format.md §3.4, §6a, §7 and §8 are the reference.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "base/secmem.h"
#include "bundle/sealer.h"
#include "core/b64.h"
#include "core/digest.h"
#include "core/pubkey.h"
#include "core/sigfmt.h"
#include "core/sign.h"

#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 4096
#define PEM_MAX      (64 * 1024)

static const char sealer_label[] = "p11vault-bundle-v1 sealer";

struct trusted {
	EVP_PKEY *pk;
	enum pv_sealer_alg alg;
	char kid[PV_SEALER_KID_LEN + 1];
};

struct pv_sealer_trust {
	struct trusted *keys;
	size_t n;
};

/* ---- the message ---- */

static pv_err
put_lps(pv_buf *b, const char *s)
{
	size_t n = strlen(s);
	uint8_t x[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
	pv_err r;

	if ((r = pv_buf_put(b, x, sizeof(x))) != PV_OK)
		return r;
	return pv_buf_put(b, s, n);
}

pv_err
pv_sealer_message(const struct pv_bundle *b, enum pv_sealer_alg alg, const char *kid, pv_buf **out)
{
	uint8_t h[32];
	pv_buf *m = NULL;
	pv_err r;

	if (strlen(kid) != PV_SEALER_KID_LEN)
		return PV_ERR_USAGE;
	if ((r = pv_bundle_check_digest(b, h)) != PV_OK || (r = pv_buf_new(PV_SEALER_MSG_MAX, &m)) != PV_OK)
		goto out;
	if ((r = pv_buf_put(m, sealer_label, sizeof(sealer_label))) != PV_OK || /* with its NUL */
	    (r = pv_buf_put(m, h, sizeof(h))) != PV_OK ||
	    (r = pv_buf_put(m, b->check, sizeof(b->check))) != PV_OK ||
	    (r = put_lps(m, pv_sealer_alg_name(alg))) != PV_OK || (r = put_lps(m, kid)) != PV_OK)
		goto out;
	*out = m;
	m = NULL;
out:
	pv_buf_free(m);
	return r;
}

/* ---- keys ---- */

pv_err
pv_sealer_kid(const EVP_PKEY *pk, char kid[PV_SEALER_KID_LEN + 1])
{
	uint8_t *der = NULL, md[PV_DIGEST_MAX_LEN];
	size_t derlen = 0, mdlen = 0;
	char *s = NULL;
	pv_err r;

	if ((r = pv_pubkey_spki_der(pk, &der, &derlen)) != PV_OK ||
	    (r = pv_digest_compute(PV_DIGEST_SHA256, der, derlen, md, &mdlen)) != PV_OK ||
	    (r = pv_b64url_encode(md, mdlen, &s)) != PV_OK)
		goto out;
	if (strlen(s) != PV_SEALER_KID_LEN) {
		r = PV_ERR_INTERNAL;
		goto out;
	}
	memcpy(kid, s, PV_SEALER_KID_LEN + 1);
out:
	free(der);
	free(s);
	return r;
}

pv_err
pv_sealer_alg_for(const EVP_PKEY *pk, enum pv_sealer_alg *alg)
{
	int bits;

	if (EVP_PKEY_is_a(pk, "ED25519")) {
		*alg = PV_SEALER_ED25519;
		return PV_OK;
	}
	if (EVP_PKEY_is_a(pk, "RSA") && (bits = EVP_PKEY_get_bits(pk)) >= RSA_MIN_BITS &&
	    bits <= RSA_MAX_BITS) {
		*alg = PV_SEALER_RSA_PSS_SHA256;
		return PV_OK;
	}
	if (EVP_PKEY_is_a(pk, "EC") && pv_pubkey_alg(pk) == PV_ALG_P256) {
		*alg = PV_SEALER_ECDSA_P256_SHA256;
		return PV_OK;
	}
	pv_err_set_detail("a sealer key is P-256, Ed25519 or RSA of 2048-4096 bits");
	return PV_ERR_KEY_TYPE;
}

/* A signing or verifying context for alg over the whole message. */
static pv_err
md_init(EVP_MD_CTX *ctx, enum pv_sealer_alg alg, EVP_PKEY *pk, int sign)
{
	EVP_PKEY_CTX *pctx = NULL;
	const char *md = alg == PV_SEALER_ED25519 ? NULL : "SHA256";
	int ok;

	ok = sign ? EVP_DigestSignInit_ex(ctx, &pctx, md, NULL, NULL, pk, NULL)
		  : EVP_DigestVerifyInit_ex(ctx, &pctx, md, NULL, NULL, pk, NULL);
	if (ok != 1)
		return PV_ERR_CRYPTO;
	if (alg == PV_SEALER_RSA_PSS_SHA256 &&
	    (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) != 1 ||
	     EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, "SHA256", NULL) != 1))
		return PV_ERR_CRYPTO;
	return PV_OK;
}

/* Verify raw sig (r‖s for ECDSA) over m with pk as alg. */
static pv_err
verify_raw(EVP_PKEY *pk, enum pv_sealer_alg alg, const pv_buf *m, const uint8_t *sig, size_t siglen)
{
	EVP_MD_CTX *ctx = NULL;
	uint8_t *der = NULL;
	size_t derlen = 0;
	pv_err r;

	if (alg == PV_SEALER_ECDSA_P256_SHA256) {
		if (siglen != 64 || pv_ecdsa_raw_to_der(sig, siglen, 32, &der, &derlen) != PV_OK)
			return PV_ERR_BAD_SIGNATURE;
		sig = der;
		siglen = derlen;
	} else if (alg == PV_SEALER_ED25519 && siglen != 64) {
		return PV_ERR_BAD_SIGNATURE;
	} else if (alg == PV_SEALER_RSA_PSS_SHA256 && siglen != (size_t)EVP_PKEY_get_size(pk)) {
		return PV_ERR_BAD_SIGNATURE;
	}
	if ((ctx = EVP_MD_CTX_new()) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	if ((r = md_init(ctx, alg, pk, 0)) != PV_OK)
		goto out;
	r = EVP_DigestVerify(ctx, sig, siglen, pv_buf_ptr(m), pv_buf_len(m)) == 1 ? PV_OK
										  : PV_ERR_BAD_SIGNATURE;
out:
	EVP_MD_CTX_free(ctx);
	free(der);
	return r;
}

pv_err
pv_sealer_check(const struct pv_bundle *b, EVP_PKEY *pub)
{
	const struct pv_bundle_sealer *sl = &b->sealer;
	char kid[PV_SEALER_KID_LEN + 1];
	enum pv_sealer_alg alg;
	pv_buf *m = NULL;
	pv_err r;

	if (!b->has_sealer) {
		pv_err_set_detail("the bundle is not signed by a sealer");
		return PV_ERR_INTEGRITY;
	}
	if ((r = pv_sealer_kid(pub, kid)) != PV_OK || (r = pv_sealer_alg_for(pub, &alg)) != PV_OK)
		return r;
	if (strcmp(kid, sl->kid) != 0) {
		pv_err_set_detail("sealer kid %s is not this key's (%s)", sl->kid, kid);
		return PV_ERR_INTEGRITY;
	}
	if (alg != sl->alg) {
		pv_err_set_detail("sealer alg %s does not fit the trusted key %s (%s)",
				  pv_sealer_alg_name(sl->alg), kid, pv_sealer_alg_name(alg));
		return PV_ERR_INTEGRITY;
	}
	if ((r = pv_sealer_message(b, sl->alg, sl->kid, &m)) != PV_OK)
		goto out;
	if ((r = verify_raw(pub, sl->alg, m, sl->sig, sl->sig_len)) == PV_ERR_BAD_SIGNATURE) {
		pv_err_set_detail("the sealer signature (kid %s) does not verify: the bundle was altered "
				  "or the signature belongs to another bundle",
				  sl->kid);
		r = PV_ERR_INTEGRITY;
	}
out:
	pv_buf_free(m);
	return r;
}

/* ---- trusted sealers ---- */

pv_err
pv_sealer_trust_new(pv_sealer_trust **out)
{
	return (*out = calloc(1, sizeof(**out))) != NULL ? PV_OK : PV_ERR_NOMEM;
}

void
pv_sealer_trust_free(pv_sealer_trust *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->n; i++)
		EVP_PKEY_free(t->keys[i].pk);
	free(t->keys);
	free(t);
}

size_t
pv_sealer_trust_count(const pv_sealer_trust *t)
{
	return t != NULL ? t->n : 0;
}

pv_err
pv_sealer_trust_add(pv_sealer_trust *t, EVP_PKEY *pub)
{
	struct trusted k = {0}, *grown;
	size_t i;
	pv_err r;

	if ((r = pv_sealer_alg_for(pub, &k.alg)) != PV_OK || (r = pv_sealer_kid(pub, k.kid)) != PV_OK)
		return r;
	for (i = 0; i < t->n; i++)
		if (strcmp(t->keys[i].kid, k.kid) == 0)
			return PV_OK;
	if ((grown = realloc(t->keys, (t->n + 1) * sizeof(*grown))) == NULL)
		return PV_ERR_NOMEM;
	t->keys = grown;
	if (EVP_PKEY_up_ref(pub) != 1)
		return PV_ERR_CRYPTO;
	k.pk = pub;
	t->keys[t->n++] = k;
	return PV_OK;
}

pv_err
pv_sealer_trust_add_pem_file(pv_sealer_trust *t, const char *path)
{
	pv_buf *text = NULL;
	EVP_PKEY *pk = NULL;
	BIO *bio = NULL;
	pv_err r;

	if ((r = pv_buf_read_file(path, PEM_MAX, &text)) != PV_OK)
		goto out;
	if ((bio = BIO_new_mem_buf(pv_buf_ptr(text), (int)pv_buf_len(text))) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	if ((pk = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL)) == NULL) {
		pv_err_set_detail("%s holds no PEM public key (-----BEGIN PUBLIC KEY-----)", path);
		r = PV_ERR_BAD_INPUT;
		goto out;
	}
	r = pv_sealer_trust_add(t, pk);
out:
	EVP_PKEY_free(pk);
	BIO_free(bio);
	pv_buf_free(text);
	return r;
}

pv_err
pv_sealer_trust_add_key(pv_sealer_trust *t, pv_keystore *ks, const char *name)
{
	struct pv_key *key = NULL;
	EVP_PKEY *pk = NULL;
	size_t i, added = 0;
	pv_err r;

	if ((r = pv_keys_get(ks, name, &key)) != PV_OK)
		goto out;
	for (i = 0; i < key->nversions; i++) {
		if (pv_keys_public(ks, key, &key->versions[i], &pk) != PV_OK) {
			pv_err_clear_detail();
			continue;
		}
		if ((r = pv_sealer_trust_add(t, pk)) != PV_OK) {
			if (r == PV_ERR_KEY_TYPE)
				pv_err_set_detail("key '%s' (%s) cannot be a sealer: a sealer key is P-256, "
						  "Ed25519 or RSA of 2048-4096 bits",
						  name, pv_alg_info(key->alg)->name);
			goto out;
		}
		EVP_PKEY_free(pk);
		pk = NULL;
		added++;
	}
	if (added == 0) {
		pv_err_set_detail("no public key of '%s' could be read from the token", name);
		r = PV_ERR_NOT_FOUND;
	}
out:
	EVP_PKEY_free(pk);
	pv_key_free(key);
	return r;
}

pv_err
pv_sealer_verify(const struct pv_bundle *b, const pv_sealer_trust *t)
{
	size_t i;

	if (!b->has_sealer) {
		pv_err_set_detail(
		    "the bundle has no sealer signature, and only trusted sealers are accepted");
		return PV_ERR_INTEGRITY;
	}
	for (i = 0; t != NULL && i < t->n; i++)
		if (strcmp(t->keys[i].kid, b->sealer.kid) == 0)
			return pv_sealer_check(b, t->keys[i].pk);
	pv_err_set_detail("the bundle was sealed by %s, which is not a trusted sealer", b->sealer.kid);
	return PV_ERR_INTEGRITY;
}

/* ---- signing ---- */

void
pv_sealer_clear(struct pv_bundle *b)
{
	b->has_sealer = 0;
	memset(&b->sealer, 0, sizeof(b->sealer));
}

/* Store sig as b's sealer once it verifies with pub. */
static pv_err
store(struct pv_bundle *b, EVP_PKEY *pub, enum pv_sealer_alg alg, const char *kid, const pv_buf *m,
      const uint8_t *sig, size_t siglen)
{
	if (siglen > PV_SEALER_SIG_MAX)
		return PV_ERR_INTERNAL;
	if (verify_raw(pub, alg, m, sig, siglen) != PV_OK) {
		pv_err_set_detail("the sealer signature just made does not verify");
		return PV_ERR_CRYPTO;
	}
	b->sealer.alg = alg;
	memcpy(b->sealer.kid, kid, PV_SEALER_KID_LEN + 1);
	memcpy(b->sealer.sig, sig, siglen);
	b->sealer.sig_len = siglen;
	b->has_sealer = 1;
	return PV_OK;
}

pv_err
pv_sealer_sign_pkey(struct pv_bundle *b, EVP_PKEY *priv)
{
	char kid[PV_SEALER_KID_LEN + 1];
	enum pv_sealer_alg alg;
	EVP_MD_CTX *ctx = NULL;
	uint8_t sig[PV_SEALER_SIG_MAX + 16], raw[64];
	size_t siglen = sizeof(sig), rawlen = 0;
	pv_buf *m = NULL;
	pv_err r;

	pv_sealer_clear(b);
	if ((r = pv_sealer_alg_for(priv, &alg)) != PV_OK || (r = pv_sealer_kid(priv, kid)) != PV_OK ||
	    (r = pv_sealer_message(b, alg, kid, &m)) != PV_OK)
		goto out;
	if ((ctx = EVP_MD_CTX_new()) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	if ((r = md_init(ctx, alg, priv, 1)) != PV_OK)
		goto out;
	if (EVP_DigestSign(ctx, sig, &siglen, pv_buf_ptr(m), pv_buf_len(m)) != 1) {
		r = PV_ERR_CRYPTO;
		goto out;
	}
	if (alg == PV_SEALER_ECDSA_P256_SHA256) {
		if ((r = pv_ecdsa_der_to_raw(sig, siglen, 32, raw, &rawlen)) != PV_OK)
			goto out;
		r = store(b, priv, alg, kid, m, raw, rawlen);
	} else {
		r = store(b, priv, alg, kid, m, sig, siglen);
	}
out:
	EVP_MD_CTX_free(ctx);
	pv_buf_free(m);
	return r;
}

pv_err
pv_sealer_sign_key(struct pv_bundle *b, pv_keystore *ks, const char *name)
{
	struct pv_sign_opts o = {.purpose = PV_PURPOSE_SIGN};
	char kid[PV_SEALER_KID_LEN + 1];
	struct pv_key *key = NULL;
	struct pv_key_version ver;
	enum pv_sealer_alg alg;
	struct pv_sig sig;
	EVP_PKEY *pub = NULL;
	pv_buf *m = NULL;
	p11_obj obj;
	pv_err r;

	pv_sealer_clear(b);
	if ((r = pv_keys_resolve(ks, name, 0, &key, &ver, &obj)) != PV_OK ||
	    (r = pv_key_check_purpose(key, PV_PURPOSE_SIGN)) != PV_OK)
		goto out;
	if (key->alg != PV_ALG_P256 && key->alg != PV_ALG_ED25519 && key->alg != PV_ALG_RSA2048 &&
	    key->alg != PV_ALG_RSA3072 && key->alg != PV_ALG_RSA4096) {
		pv_err_set_detail("key '%s' is %s; a sealer key is p256, ed25519 or rsa2048-4096", name,
				  pv_alg_info(key->alg)->name);
		r = PV_ERR_KEY_TYPE;
		goto out;
	}
	if ((r = pv_keys_public(ks, key, &ver, &pub)) != PV_OK ||
	    (r = pv_sealer_alg_for(pub, &alg)) != PV_OK || (r = pv_sealer_kid(pub, kid)) != PV_OK ||
	    (r = pv_sealer_message(b, alg, kid, &m)) != PV_OK)
		goto out;
	o.version = ver.version;
	o.digest = alg == PV_SEALER_ED25519 ? PV_DIGEST_NONE : PV_DIGEST_SHA256;
	o.pss = alg == PV_SEALER_RSA_PSS_SHA256;
	if ((r = pv_sign(ks, name, &o, pv_buf_ptr(m), pv_buf_len(m), &sig)) != PV_OK)
		goto out;
	r = store(b, pub, alg, kid, m, sig.bytes, sig.len);
out:
	EVP_PKEY_free(pub);
	pv_buf_free(m);
	pv_key_free(key);
	return r;
}

pv_err
pv_sealer_load_private_pem(const char *path, EVP_PKEY **out)
{
	enum pv_sealer_alg alg;
	pv_secret *text = NULL;
	EVP_PKEY *pk = NULL;
	BIO *bio = NULL;
	pv_err r;

	if ((r = pv_secret_read_file(path, PEM_MAX, &text)) != PV_OK)
		goto out;
	if ((bio = BIO_new_mem_buf(pv_secret_ro(text), (int)pv_secret_len(text))) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	if ((pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)) == NULL) {
		pv_err_set_detail("%s holds no unencrypted PEM private key", path);
		r = PV_ERR_BAD_INPUT;
		goto out;
	}
	if ((r = pv_sealer_alg_for(pk, &alg)) != PV_OK)
		goto out;
	*out = pk;
	pk = NULL;
out:
	EVP_PKEY_free(pk);
	BIO_free(bio);
	pv_secret_free(text);
	return r;
}
