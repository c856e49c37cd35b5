/*
 * RSA-OAEP decryption and ECDH for the provider (asym_cipher.c,
 * keyexch.c): p11v_backend_decrypt / p11v_backend_derive and their direct
 * side. Only p11vault keys (p11vault:NAME or the pkcs11: URI of one of its
 * versions) of purpose decrypt / derive: a raw token object has no purpose
 * to check. The pinned version is used while it is active or verify-only
 * and refused once retired (fail closed, as for signing). The vaultd
 * backend does not offer these operations.
 */
#include "config.h"

#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "base/defs.h"
#include "base/err.h"
#include "base/secmem.h"
#include "core/keymeta.h"
#include "core/keys.h"
#include "core/rsa_oaep.h"
#include "pkcs11/crypt.h"
#include "pkcs11/token.h"
#include "provider/provider.h"

static int
usable(p11v_key *k, const char *what)
{
	p11v_prov *p = p11v_key_prov(k);
	const struct p11v_keyref *ref = p11v_key_ref(k);

	if (ref == NULL) {
		p11v_raise(p, P11V_R_UNSUPPORTED, "a public key cannot %s", what);
		return 0;
	}
	if (p11v_backend_of(p) == P11V_BACKEND_VAULTD) {
		p11v_raise(p, P11V_R_UNSUPPORTED, "%s is offered by the direct backend only", what);
		return 0;
	}
	if (ref->name[0] == '\0') {
		p11v_raise(p, P11V_R_PURPOSE,
			   "%s needs a p11vault key (p11vault:NAME): a raw token object has no purpose",
			   what);
		return 0;
	}
	return 1;
}

int
p11v_backend_decrypt(p11v_key *k, const struct p11v_decreq *rq, unsigned char *out, size_t *outlen,
		     size_t outsize)
{
	if (!usable(k, "RSA-OAEP decryption"))
		return 0;
	return p11v_direct_decrypt(k, rq, out, outlen, outsize);
}

int
p11v_backend_derive(p11v_key *k, const unsigned char *peer, size_t peerlen, unsigned char *secret,
		    size_t *secretlen, size_t secretsize)
{
	if (!usable(k, "ECDH"))
		return 0;
	return p11v_direct_derive(k, peer, peerlen, secret, secretlen, secretsize);
}

/*
 * The object's handle, current for the token's generation; again = a
 * handle the token just refused (a cached one from before another process
 * or a recovery changed the token): forgotten and found anew.
 */
static pv_err
find(pv_keystore *ks, const struct p11v_keyref *ref, const struct pv_key_version *ver, p11_obj *obj,
     int again)
{
	pv_err r;

	if (again)
		obj->handle = CK_INVALID_HANDLE;
	if ((r = p11_obj_find(pv_keystore_token(ks), obj)) != PV_OK)
		return r;
	pv_keys_remember(ks, ref->name, ver->version, obj);
	return PV_OK;
}

/*
 * The pinned version of k's p11vault key, of purpose want, with its private
 * key object found on the token. PV_ERR_STATE for a version that is neither
 * active nor verify-only.
 */
static pv_err
resolve(pv_keystore *ks, const struct p11v_keyref *ref, pv_key_purpose want, struct pv_key **key,
	struct pv_key_version *ver, p11_obj *obj)
{
	pv_err r;

	if ((r = pv_keys_resolve(ks, ref->name, ref->version, key, ver, obj)) != PV_OK ||
	    (r = pv_key_check_purpose(*key, want)) != PV_OK)
		return r;
	if (ver->state != PV_STATE_ACTIVE && ver->state != PV_STATE_VERIFY_ONLY) {
		pv_err_set_detail("version %u of '%s' is %s", ver->version, ref->name,
				  pv_key_state_name(ver->state));
		return PV_ERR_STATE;
	}
	return find(ks, ref, ver, obj, 0);
}

static void
raise_r(p11v_prov *p, pv_err r, const struct p11v_keyref *ref, const char *what)
{
	if (r == PV_ERR_STATE)
		p11v_raise(p, P11V_R_RETIRED,
			   "version %u of '%s' is no longer usable: failing closed rather than using "
			   "another version",
			   ref->version, ref->name);
	else
		p11v_direct_raise(p, (int)r, what);
}

/* The PKCS#11 digest and MGF1 of a canonical digest name. */
static int
oaep_mechs(const char *name, CK_MECHANISM_TYPE *hash, CK_RSA_PKCS_MGF_TYPE *mgf)
{
	static const struct {
		const char *name;
		CK_MECHANISM_TYPE hash;
		CK_RSA_PKCS_MGF_TYPE mgf;
	} t[] = {
	    {"SHA1", CKM_SHA_1, CKG_MGF1_SHA1},      {"SHA224", CKM_SHA224, CKG_MGF1_SHA224},
	    {"SHA256", CKM_SHA256, CKG_MGF1_SHA256}, {"SHA384", CKM_SHA384, CKG_MGF1_SHA384},
	    {"SHA512", CKM_SHA512, CKG_MGF1_SHA512},
	};
	size_t i;

	for (i = 0; name != NULL && i < PV_NELEM(t); i++) {
		if (strcmp(name, t[i].name) == 0) {
			*hash = t[i].hash;
			*mgf = t[i].mgf;
			return 1;
		}
	}
	return 0;
}

/*
 * Tokens without OAEP for a digest (SoftHSM 2.6 has SHA-1 only) decrypt
 * raw (CKM_RSA_X_509); the encoded message is OAEP-decoded in guarded
 * memory (core/rsa_oaep.h).
 */
static pv_err
decrypt_raw(p11v_prov *p, p11_token *tok, CK_OBJECT_HANDLE h, const struct p11v_decreq *rq,
	    unsigned char *out, size_t *outlen, size_t outsize)
{
	EVP_MD *md = EVP_MD_fetch(p11v_libctx(p), rq->oaep_mdname, NULL);
	EVP_MD *mgf1 = EVP_MD_fetch(p11v_libctx(p), rq->mgf1_mdname, NULL);
	pv_err r;

	if (md == NULL || mgf1 == NULL)
		r = PV_ERR_INTERNAL;
	else
		r = pv_rsa_oaep_decrypt_raw(tok, h, rq->in, rq->inlen, md, mgf1, rq->label, rq->labellen, out,
					    outsize, outlen);
	if (r == PV_ERR_INTEGRITY)
		pv_err_set_detail("OAEP decoding failed (another key's ciphertext, or altered)");
	EVP_MD_free(md);
	EVP_MD_free(mgf1);
	return r;
}

int
p11v_direct_decrypt(p11v_key *k, const struct p11v_decreq *rq, unsigned char *out, size_t *outlen,
		    size_t outsize)
{
	p11v_prov *p = p11v_key_prov(k);
	const struct p11v_keyref *ref = p11v_key_ref(k);
	CK_RSA_PKCS_OAEP_PARAMS oaep;
	CK_MECHANISM mech = {CKM_RSA_PKCS_OAEP, &oaep, sizeof(oaep)};
	CK_RSA_PKCS_MGF_TYPE unused;
	struct pv_key *key = NULL;
	struct pv_key_version ver;
	pv_keystore *ks;
	p11_obj obj;
	size_t n = outsize;
	pv_err r;

	memset(&oaep, 0, sizeof(oaep));
	if (!oaep_mechs(rq->oaep_mdname, &oaep.hashAlg, &unused) ||
	    !oaep_mechs(rq->mgf1_mdname, &unused, &oaep.mgf)) {
		p11v_raise(p, P11V_R_UNSUPPORTED, "OAEP digest not supported");
		return 0;
	}
	oaep.source = CKZ_DATA_SPECIFIED;
	oaep.pSourceData = (void *)(uintptr_t)rq->label;
	oaep.ulSourceDataLen = rq->labellen;
	if ((ks = (pv_keystore *)p11v_direct_keystore(p)) == NULL)
		return 0;
	if ((r = resolve(ks, ref, PV_PURPOSE_DECRYPT, &key, &ver, &obj)) != PV_OK)
		goto out;
	/* With a label: raw RSA and OAEP decoding here, always (SoftHSM 2.6
	 * ignores the label of CKM_RSA_PKCS_OAEP: a wrong label would decrypt). */
	r = rq->labellen > 0
		? PV_ERR_MECHANISM
		: p11_decrypt(pv_keystore_token(ks), &mech, obj.handle, rq->in, rq->inlen, out, &n);
	if (r == PV_ERR_SESSION && (r = find(ks, ref, &ver, &obj, 1)) == PV_OK) {
		n = outsize;
		r = p11_decrypt(pv_keystore_token(ks), &mech, obj.handle, rq->in, rq->inlen, out, &n);
	}
	if (r == PV_ERR_MECHANISM)
		r = decrypt_raw(p, pv_keystore_token(ks), obj.handle, rq, out, &n, outsize);
	ERR_clear_error(); /* libcrypto's OAEP decoding errors say no more than r */
	if (r == PV_OK)
		*outlen = n;
out:
	if (r != PV_OK)
		raise_r(p, r, ref, "RSA-OAEP decryption");
	pv_key_free(key);
	return r == PV_OK;
}

int
p11v_direct_derive(p11v_key *k, const unsigned char *peer, size_t peerlen, unsigned char *secret,
		   size_t *secretlen, size_t secretsize)
{
	p11v_prov *p = p11v_key_prov(k);
	const struct p11v_keyref *ref = p11v_key_ref(k);
	size_t field = peerlen > 1 ? (peerlen - 1) / 2 : 0;
	struct pv_key *key = NULL;
	struct pv_key_version ver;
	pv_keystore *ks;
	p11_obj obj;
	pv_err r;

	if (field == 0 || peer[0] != 0x04 || peerlen != 2 * field + 1 || secretsize < field) {
		p11v_raise(p, P11V_R_UNSUPPORTED, "ECDH needs the peer's uncompressed point");
		return 0;
	}
	if ((ks = (pv_keystore *)p11v_direct_keystore(p)) == NULL)
		return 0;
	if ((r = resolve(ks, ref, PV_PURPOSE_DERIVE, &key, &ver, &obj)) == PV_OK &&
	    (r = p11_ecdh_derive(pv_keystore_token(ks), &obj, peer, peerlen, secret, field)) == PV_OK)
		*secretlen = field;
	if (r != PV_OK)
		raise_r(p, r, ref, "ECDH");
	pv_key_free(key);
	return r == PV_OK;
}
