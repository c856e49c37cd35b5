/*
 * Adoption: taking over a key made on the token by another tool.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/keys_internal.h"
#include "pkcs11/objuri.h"

/* Which p11vault algorithm an existing token key is, from its attributes. */
static pv_err
adopted_alg(p11_token *tok, CK_OBJECT_HANDLE h, CK_OBJECT_CLASS cls, pv_alg *alg)
{
	CK_ULONG ckk = 0, vlen = 0;
	uint8_t *val = NULL;
	size_t len = 0;
	pv_err r;

	*alg = PV_ALG_NONE;
	if ((r = p11_handle_get_ulong(tok, h, CKA_KEY_TYPE, &ckk)) != PV_OK)
		goto out;
	if (cls == CKO_PRIVATE_KEY && ckk == CKK_RSA) {
		if ((r = p11_handle_get_attr(tok, h, CKA_MODULUS, &val, &len)) != PV_OK)
			goto out;
		*alg = len == 256   ? PV_ALG_RSA2048
		       : len == 384 ? PV_ALG_RSA3072
		       : len == 512 ? PV_ALG_RSA4096
				    : PV_ALG_NONE;
	} else if (cls == CKO_PRIVATE_KEY && (ckk == CKK_EC || ckk == CKK_EC_EDWARDS)) {
		if ((r = p11_handle_get_attr(tok, h, CKA_EC_PARAMS, &val, &len)) != PV_OK)
			goto out;
		*alg = pv_alg_from_ec_params(val, len);
	} else if (cls == CKO_SECRET_KEY && (ckk == CKK_AES || ckk == CKK_GENERIC_SECRET)) {
		if ((r = p11_handle_get_ulong(tok, h, CKA_VALUE_LEN, &vlen)) != PV_OK)
			goto out;
		if (ckk == CKK_AES && vlen == 32)
			*alg = PV_ALG_AES256;
		else if (ckk == CKK_GENERIC_SECRET && vlen >= 32)
			*alg = PV_ALG_HMAC_SHA256;
	}
	r = PV_OK;
	if (*alg == PV_ALG_NONE) {
		pv_err_set_detail("the key's type or size is not one p11vault supports");
		r = PV_ERR_KEY_TYPE;
	}
out:
	free(val);
	return r;
}

/*
 * Can the adopted token object do what purpose needs? The token's usage
 * attributes are read back: a signing purpose needs CKA_SIGN, decrypt
 * CKA_DECRYPT or CKA_UNWRAP, wrap CKA_UNWRAP, ECDH CKA_DERIVE. (The object
 * may allow more than its purpose; p11vault uses it for its purpose only.)
 */
static pv_err
adopted_fits(p11_token *tok, CK_OBJECT_HANDLE h, pv_alg alg, pv_key_purpose purpose)
{
	CK_BBOOL sign = CK_FALSE, decrypt = CK_FALSE, unwrap = CK_FALSE, derive = CK_FALSE;
	int ok;
	pv_err r;

	if ((r = ks_purpose_fits(alg, purpose)) != PV_OK)
		return r;
	if ((r = p11_handle_get_bool(tok, h, CKA_SIGN, &sign)) != PV_OK ||
	    (r = p11_handle_get_bool(tok, h, CKA_DECRYPT, &decrypt)) != PV_OK ||
	    (r = p11_handle_get_bool(tok, h, CKA_UNWRAP, &unwrap)) != PV_OK ||
	    (r = p11_handle_get_bool(tok, h, CKA_DERIVE, &derive)) != PV_OK)
		return r;
	switch (purpose) {
	case PV_PURPOSE_DECRYPT:
		/* a key imported by another tool may also be allowed to sign (SoftHSM
		 * sets CKA_SIGN on imported RSA keys whatever the import asks):
		 * p11vault still only decrypts with it, the metadata decides */
		ok = decrypt || unwrap;
		break;
	case PV_PURPOSE_WRAP:
		ok = unwrap;
		break;
	case PV_PURPOSE_DERIVE:
		ok = alg == PV_ALG_P256 ? derive : sign;
		break;
	default:
		ok = sign;
		break;
	}
	if (!ok) {
		pv_err_set_detail("the token key cannot do what purpose %s needs (its CKA_SIGN, CKA_DECRYPT, "
				  "CKA_UNWRAP or CKA_DERIVE is FALSE)",
				  pv_key_purpose_name(purpose));
		return PV_ERR_KEY_TYPE;
	}
	return PV_OK;
}

/*
 * Is the token object with this CKA_ID already a version of some p11vault
 * key? Adopting it again under another name would give one key two
 * purposes (invariant 6): PV_ERR_EXISTS naming the key that has it.
 */
static pv_err
id_unclaimed(pv_keystore *ks, const uint8_t *id, size_t idlen)
{
	struct pv_key **keys = NULL;
	size_t n = 0, i, j;
	pv_err r;

	if ((r = pv_keys_list(ks, &keys, &n)) != PV_OK)
		return r;
	for (i = 0; i < n && r == PV_OK; i++) {
		for (j = 0; j < keys[i]->nversions; j++) {
			const struct pv_key_version *v = &keys[i]->versions[j];

			if (v->id_len == idlen && memcmp(v->id, id, idlen) == 0) {
				pv_err_set_detail(
				    "the token key is already version %u of key '%s' (purpose %s); "
				    "a key has one purpose",
				    v->version, keys[i]->name, pv_key_purpose_name(keys[i]->purpose));
				r = PV_ERR_EXISTS;
				break;
			}
		}
	}
	pv_keys_list_free(keys, n);
	return r;
}

pv_err
pv_keys_adopt(pv_keystore *ks, const char *uri, const char *name, pv_key_purpose purpose, struct pv_key **out)
{
	CK_OBJECT_HANDLE *hs = NULL, h = CK_INVALID_HANDLE;
	CK_OBJECT_CLASS cls = 0, c = 0, found_cls = 0;
	CK_BBOOL sens = CK_FALSE, extr = CK_TRUE;
	struct pv_key *k = NULL, *existing = NULL;
	struct pv_key_version *v = NULL;
	uint8_t *id = NULL;
	size_t n = 0, i, nfound = 0, idlen = 0;
	pv_alg alg = PV_ALG_NONE;
	struct meta_loc mobj;
	p11_obj pub;
	struct ks_lock lk = {.handle = CK_INVALID_HANDLE};
	pv_err r;

	if (out != NULL)
		*out = NULL;
	if (!pv_key_name_valid(name)) {
		pv_err_set_detail("invalid key name (1-64 of A-Z a-z 0-9 _ -)");
		return PV_ERR_USAGE;
	}
	if ((r = ks_lock(ks, name, &lk)) != PV_OK)
		goto out;
	if ((r = ks_meta_load_settled(ks, name, &existing, &mobj)) == PV_OK) {
		pv_err_set_detail("key '%s' already exists", name);
		r = PV_ERR_EXISTS;
		goto out;
	}
	if (r != PV_ERR_NOT_FOUND)
		goto out;
	pv_err_clear_detail();
	if ((r = p11_find_by_uri(ks->tok, uri, &hs, &n)) != PV_OK)
		goto out;
	for (i = 0; i < n; i++) {
		if ((r = p11_handle_get_ulong(ks->tok, hs[i], CKA_CLASS, &c)) != PV_OK)
			goto out;
		if (c == CKO_PRIVATE_KEY || c == CKO_SECRET_KEY) {
			h = hs[i];
			found_cls = c;
			nfound++;
		}
	}
	cls = found_cls;
	if (nfound != 1) {
		pv_err_set_detail(nfound == 0 ? "no private or secret key matches the URI"
					      : "the URI matches several keys; add id= or object=");
		r = nfound == 0 ? PV_ERR_NOT_FOUND : PV_ERR_USAGE;
		goto out;
	}
	if ((r = adopted_alg(ks->tok, h, cls, &alg)) != PV_OK ||
	    (r = adopted_fits(ks->tok, h, alg, purpose)) != PV_OK)
		goto out;
	if ((r = p11_handle_get_bool(ks->tok, h, CKA_SENSITIVE, &sens)) != PV_OK ||
	    (r = p11_handle_get_bool(ks->tok, h, CKA_EXTRACTABLE, &extr)) != PV_OK)
		goto out;
	if (sens != CK_TRUE || extr != CK_FALSE) {
		pv_err_set_detail("the key is %s; p11vault only adopts sensitive, non-extractable keys",
				  sens != CK_TRUE ? "not sensitive" : "extractable");
		r = PV_ERR_NOT_HONOURED;
		goto out;
	}
	if ((r = p11_handle_get_attr(ks->tok, h, CKA_ID, &id, &idlen)) != PV_OK || idlen == 0 ||
	    idlen > PV_KEY_ID_MAX) {
		pv_err_set_detail("the key needs a CKA_ID of 1-%d bytes to be adopted", PV_KEY_ID_MAX);
		r = r != PV_OK ? r : PV_ERR_USAGE;
		goto out;
	}
	if ((r = id_unclaimed(ks, id, idlen)) != PV_OK)
		goto out;
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	snprintf(k->name, sizeof(k->name), "%s", name);
	k->alg = alg;
	k->purpose = purpose;
	k->usage = pv_key_purpose_usage(purpose);
	if ((r = pv_key_add_version(k, PV_STATE_ACTIVE, id, idlen, 1, &v)) != PV_OK)
		goto out;
	/* exactly one private and (for key pairs) one public object with this id */
	ks_obj_ref(v, cls, &pub);
	if ((r = p11_obj_find(ks->tok, &pub)) != PV_OK) {
		pv_err_set_detail("the key's CKA_ID is not unique on the token");
		goto out;
	}
	if (cls == CKO_PRIVATE_KEY) {
		ks_obj_ref(v, CKO_PUBLIC_KEY, &pub);
		if ((r = p11_obj_find(ks->tok, &pub)) != PV_OK) {
			pv_err_set_detail("no unique public key object with the same CKA_ID");
			goto out;
		}
	}
	if ((r = ks_meta_store(ks, k, &mobj, 1)) != PV_OK)
		goto out;
	if (out != NULL) {
		*out = k;
		k = NULL;
	}
out:
	ks_unlock(ks, &lk);
	free(hs);
	free(id);
	pv_key_free(existing);
	pv_key_free(k);
	return r;
}
