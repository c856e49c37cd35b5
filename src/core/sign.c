#include "config.h"

#include <string.h>

#include <openssl/evp.h>

#include "core/pubkey.h"
#include "core/sigfmt.h"
#include "core/sign.h"

/* DigestInfo prefixes for RSASSA-PKCS1-v1_5 (RFC 8017, section 9.2, note 1). */
static const uint8_t di_sha256[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
				    0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
static const uint8_t di_sha384[] = {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
				    0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30};
static const uint8_t di_sha512[] = {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
				    0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40};

/* The key must have the purpose the caller asked for (invariant 6): this is
 * where every signature and MAC made with a named key is decided. A caller
 * that names no purpose is a bug. */
static pv_err
check_purpose(const struct pv_key *key, const struct pv_sign_opts *o)
{
	if (o->purpose == PV_PURPOSE_NONE) {
		pv_err_set_detail("no purpose given for a use of key '%s'", key->name);
		return PV_ERR_INTERNAL;
	}
	return pv_key_check_purpose(key, o->purpose);
}

/* What gets signed: either the message, or a digest of it. */
struct tbs {
	const uint8_t *p;
	size_t len;
	pv_digest digest; /* NONE = message itself */
	uint8_t buf[PV_DIGEST_MAX_LEN];
};

static pv_err
prepare(const struct pv_alg_info *ai, const struct pv_sign_opts *o, const uint8_t *msg, size_t len,
	struct tbs *t)
{
	pv_digest d = o->digest;
	size_t outlen = 0;
	pv_err r;

	memset(t, 0, sizeof(*t));
	if (len > PV_SIGN_INPUT_MAX) {
		pv_err_set_detail("input is larger than %d bytes", PV_SIGN_INPUT_MAX);
		return PV_ERR_TOO_LARGE;
	}
	switch (ai->family) {
	case PV_FAMILY_AES:
		pv_err_set_detail("%s keys are key-encryption keys (wrap and unwrap only); they cannot sign",
				  ai->name);
		return PV_ERR_KEY_TYPE;
	case PV_FAMILY_EDDSA:
	case PV_FAMILY_HMAC:
		if (d != PV_DIGEST_DEFAULT && d != PV_DIGEST_NONE) {
			pv_err_set_detail("%s signs the message itself; use --digest none", ai->name);
			return PV_ERR_KEY_TYPE;
		}
		if (o->pss) {
			pv_err_set_detail("--padding applies to RSA keys only");
			return PV_ERR_KEY_TYPE;
		}
		t->p = msg;
		t->len = len;
		t->digest = PV_DIGEST_NONE;
		return PV_OK;
	case PV_FAMILY_EC:
	case PV_FAMILY_RSA:
		break;
	}
	if (o->pss && ai->family != PV_FAMILY_RSA) {
		pv_err_set_detail("--padding applies to RSA keys only");
		return PV_ERR_KEY_TYPE;
	}
	if (d == PV_DIGEST_DEFAULT)
		d = ai->default_digest;
	if (d == PV_DIGEST_NONE) {
		/* the input is the digest; its length says which one */
		if ((t->digest = pv_digest_by_len(len)) == PV_DIGEST_NONE) {
			pv_err_set_detail(
			    "with --digest none the input must be a 32, 48 or 64-byte digest (got %zu bytes)",
			    len);
			return PV_ERR_BAD_INPUT;
		}
		memcpy(t->buf, msg, len);
		t->len = len;
	} else {
		if (d == PV_DIGEST_KECCAK256 && ai->family == PV_FAMILY_RSA) {
			pv_err_set_detail("keccak256 has no RSA DigestInfo; use it with ECDSA keys");
			return PV_ERR_KEY_TYPE;
		}
		if ((r = pv_digest_compute(d, msg, len, t->buf, &outlen)) != PV_OK)
			return r;
		t->len = outlen;
		t->digest = d;
	}
	t->p = t->buf;
	return PV_OK;
}

static CK_MECHANISM_TYPE
hash_mech(pv_digest d, CK_RSA_PKCS_MGF_TYPE *mgf)
{
	switch (d) {
	case PV_DIGEST_SHA384:
		*mgf = CKG_MGF1_SHA384;
		return CKM_SHA384;
	case PV_DIGEST_SHA512:
		*mgf = CKG_MGF1_SHA512;
		return CKM_SHA512;
	default:
		*mgf = CKG_MGF1_SHA256;
		return CKM_SHA256;
	}
}

static pv_err
sign_rsa(p11_token *tok, const struct pv_sign_opts *o, p11_obj *obj, const struct tbs *t, struct pv_sig *out)
{
	CK_RSA_PKCS_PSS_PARAMS pss;
	CK_MECHANISM mech = {CKM_RSA_PKCS, NULL, 0};
	uint8_t di[19 + PV_DIGEST_MAX_LEN];
	const uint8_t *prefix;
	size_t plen, siglen = sizeof(out->bytes);
	pv_err r;

	if (o->pss) {
		memset(&pss, 0, sizeof(pss));
		pss.hashAlg = hash_mech(t->digest, &pss.mgf);
		pss.sLen = t->len;
		mech = (CK_MECHANISM){CKM_RSA_PKCS_PSS, &pss, sizeof(pss)};
		r = p11_sign(tok, &mech, obj, t->p, t->len, out->bytes, &siglen);
	} else {
		prefix = t->digest == PV_DIGEST_SHA384   ? di_sha384
			 : t->digest == PV_DIGEST_SHA512 ? di_sha512
							 : di_sha256;
		plen = sizeof(di_sha256);
		memcpy(di, prefix, plen);
		memcpy(di + plen, t->p, t->len);
		r = p11_sign(tok, &mech, obj, di, plen + t->len, out->bytes, &siglen);
	}
	out->len = siglen;
	return r;
}

/* Sign the prepared input on the token, check the shape; out->version is
 * left 0. */
static pv_err
sign_tbs(p11_token *tok, p11_obj *obj, pv_alg alg, const struct pv_alg_info *ai, const struct pv_sign_opts *o,
	 const struct tbs *t, struct pv_sig *out)
{
	CK_MECHANISM mech;
	size_t siglen = sizeof(out->bytes);
	int flipped = 0;
	pv_err r;

	memset(out, 0, sizeof(*out));
	if (ai->family == PV_FAMILY_RSA) {
		r = sign_rsa(tok, o, obj, t, out);
	} else {
		mech = (CK_MECHANISM){ai->sign, NULL, 0};
		r = p11_sign(tok, &mech, obj, t->p, t->len, out->bytes, &siglen);
		out->len = siglen;
	}
	if (r != PV_OK)
		return r;
	if (ai->family == PV_FAMILY_EC && out->len != 2 * ai->field_len) {
		pv_err_set_detail("token returned a %zu-byte ECDSA signature", out->len);
		return PV_ERR_INTEGRITY;
	}
	/* Ethereum and Bitcoin reject high-S signatures (malleability). */
	if (alg == PV_ALG_SECP256K1 && (r = pv_secp256k1_low_s(out->bytes, &flipped)) != PV_OK)
		return r;
	out->alg = alg;
	out->digest = t->digest;
	return PV_OK;
}

/* Prepare, sign on the token, check the shape; out->version is left 0. */
static pv_err
sign_with(p11_token *tok, p11_obj *obj, pv_alg alg, const struct pv_sign_opts *o, const uint8_t *msg,
	  size_t msglen, struct pv_sig *out)
{
	const struct pv_alg_info *ai = pv_alg_info(alg);
	struct tbs t;
	pv_err r;

	memset(out, 0, sizeof(*out));
	if (ai == NULL)
		return PV_ERR_KEY_TYPE;
	if ((r = prepare(ai, o, msg, msglen, &t)) != PV_OK)
		return r;
	return sign_tbs(tok, obj, alg, ai, o, &t, out);
}

pv_err
pv_sign_obj(p11_token *tok, p11_obj *obj, pv_alg alg, const struct pv_sign_opts *o, const uint8_t *msg,
	    size_t msglen, struct pv_sig *out)
{
	return sign_with(tok, obj, alg, o, msg, msglen, out);
}

/* A version the caller decided the request with while it was active, which
 * a rotation has made verify-only since (sign.h, overtaken_ok). */
static int
overtaken(const struct pv_sign_opts *o, const struct pv_key_version *ver)
{
	return o->overtaken_ok && o->version != 0 && ver->version == o->version &&
	       ver->state == PV_STATE_VERIFY_ONLY;
}

pv_err
pv_sign(pv_keystore *ks, const char *name, const struct pv_sign_opts *o, const uint8_t *msg, size_t msglen,
	struct pv_sig *out)
{
	const struct pv_alg_info *ai;
	struct pv_key *key = NULL;
	struct pv_key_version ver;
	struct tbs t;
	p11_obj obj, copy;
	pv_err r;

	memset(out, 0, sizeof(*out));
	if ((r = pv_keys_resolve(ks, name, o->version, &key, &ver, &obj)) != PV_OK ||
	    (r = check_purpose(key, o)) != PV_OK)
		goto out;
	if (ver.state != PV_STATE_ACTIVE && !overtaken(o, &ver)) {
		pv_err_set_detail("version %u of '%s' is %s; only the active version signs", ver.version,
				  name, pv_key_state_name(ver.state));
		r = PV_ERR_STATE;
		goto out;
	}
	if ((ai = pv_alg_info(key->alg)) == NULL) {
		r = PV_ERR_KEY_TYPE;
		goto out;
	}
	if ((r = prepare(ai, o, msg, msglen, &t)) != PV_OK)
		goto out;
	/* the active version's session copy when there is one (keys.h); any
	 * failure with it drops it and the token object signs */
	if (pv_keys_copy_acquire(ks, name, &ver, &obj, &copy)) {
		r = sign_tbs(pv_keystore_token(ks), &copy, key->alg, ai, o, &t, out);
		pv_keys_copy_release(ks, &copy, r != PV_OK);
		if (r == PV_OK)
			goto signed_;
		pv_err_clear_detail();
	}
	if ((r = sign_tbs(pv_keystore_token(ks), &obj, key->alg, ai, o, &t, out)) != PV_OK)
		goto out;
signed_:
	pv_keys_remember(ks, name, ver.version, &obj);
	out->version = ver.version;
out:
	pv_key_free(key);
	return r;
}

pv_err
pv_verify_pub(EVP_PKEY *pk, pv_alg alg, const struct pv_sign_opts *o, const uint8_t *msg, size_t msglen,
	      const uint8_t *sig, size_t siglen)
{
	const struct pv_alg_info *ai = pv_alg_info(alg);
	struct tbs t;
	pv_err r;

	if (ai == NULL || !pv_alg_is_asymmetric(alg)) {
		pv_err_set_detail("only asymmetric keys verify in software");
		return PV_ERR_KEY_TYPE;
	}
	if ((r = prepare(ai, o, msg, msglen, &t)) != PV_OK)
		return r;
	return pv_pubkey_verify(pk, alg, o->pss, t.digest, t.p, t.len, t.digest != PV_DIGEST_NONE, sig,
				siglen);
}

pv_err
pv_verify(pv_keystore *ks, const char *name, const struct pv_sign_opts *o, const uint8_t *msg, size_t msglen,
	  const uint8_t *sig, size_t siglen)
{
	const struct pv_alg_info *ai;
	struct pv_key *key = NULL;
	struct pv_key_version ver;
	EVP_PKEY *pk = NULL;
	CK_MECHANISM mech;
	struct tbs t;
	p11_obj obj;
	pv_err r;

	if ((r = pv_keys_resolve(ks, name, o->version, &key, &ver, &obj)) != PV_OK ||
	    (r = check_purpose(key, o)) != PV_OK)
		goto out;
	ai = pv_alg_info(key->alg);
	if (ver.state == PV_STATE_RETIRED) {
		pv_err_set_detail("version %u of '%s' is retired", ver.version, name);
		r = PV_ERR_STATE;
		goto out;
	}
	if ((r = prepare(ai, o, msg, msglen, &t)) != PV_OK)
		goto out;
	if (ai->family == PV_FAMILY_HMAC) {
		mech = (CK_MECHANISM){ai->sign, NULL, 0};
		r = p11_verify(pv_keystore_token(ks), &mech, &obj, t.p, t.len, sig, siglen);
		goto out;
	}
	if ((r = pv_keys_public(ks, key, &ver, &pk)) != PV_OK)
		goto out;
	r = pv_pubkey_verify(pk, key->alg, o->pss, t.digest == PV_DIGEST_NONE ? PV_DIGEST_NONE : t.digest,
			     t.p, t.len, t.digest != PV_DIGEST_NONE, sig, siglen);
out:
	EVP_PKEY_free(pk);
	pv_key_free(key);
	return r;
}
