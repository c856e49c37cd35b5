/*
 * Generating a version's token objects (usage attributes from the purpose,
 * checked back from the token), destroying them, and object references.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "core/keys_internal.h"

static CK_BBOOL ck_true = CK_TRUE;
static CK_BBOOL ck_false = CK_FALSE;

void
pv_keys_label(const struct pv_key *key, const struct pv_key_version *ver, char *buf, size_t len)
{
	snprintf(buf, len, "%s.v%u", key->name, ver->version);
}

void
ks_obj_ref(const struct pv_key_version *ver, CK_OBJECT_CLASS cls, p11_obj *obj)
{
	memset(obj, 0, sizeof(*obj));
	obj->cls = cls;
	memcpy(obj->id, ver->id, ver->id_len);
	obj->id_len = ver->id_len;
	obj->handle = CK_INVALID_HANDLE;
	obj->token_only = 1; /* never a session copy of it (keys_cache.c) */
}

CK_OBJECT_CLASS
ks_secret_class(pv_alg alg)
{
	return pv_alg_is_asymmetric(alg) ? CKO_PRIVATE_KEY : CKO_SECRET_KEY;
}

/* What each object of a new version may do, from its algorithm and purpose
 * (the token's own enforcement of invariant 6 where it can express it). */
struct usage_attrs {
	CK_BBOOL sign, verify, encrypt, decrypt, wrap, unwrap, derive;
};

static void
usage_attrs(pv_alg alg, pv_key_purpose purpose, struct usage_attrs *u)
{
	memset(u, 0, sizeof(*u)); /* CK_FALSE */
	if (purpose == PV_PURPOSE_DERIVE && pv_alg_info(alg)->family == PV_FAMILY_EC) {
		/* an ECDH key derives and never signs */
		u->derive = CK_TRUE;
		return;
	}
	switch (pv_alg_info(alg)->family) {
	case PV_FAMILY_AES:
		/* a key-encryption key: it wraps and unwraps data keys and never
		 * encrypts data itself (the unwrapped data key does that) */
		u->wrap = u->unwrap = CK_TRUE;
		break;
	case PV_FAMILY_HMAC:
		u->sign = u->verify = CK_TRUE;
		break;
	case PV_FAMILY_RSA:
	case PV_FAMILY_EC:
	case PV_FAMILY_EDDSA:
		if (purpose == PV_PURPOSE_DECRYPT)
			u->encrypt = u->decrypt = u->wrap = u->unwrap = CK_TRUE;
		else
			u->sign = u->verify = CK_TRUE;
		break;
	}
}

struct want_bool {
	CK_ATTRIBUTE_TYPE type;
	CK_BBOOL want;
	const char *name;
};

static pv_err
check_bools(p11_token *tok, CK_OBJECT_HANDLE h, const struct want_bool *w, size_t n, const char *what)
{
	CK_BBOOL v = CK_FALSE;
	size_t i;
	pv_err r;

	for (i = 0; i < n; i++) {
		if ((r = p11_handle_get_bool(tok, h, w[i].type, &v)) != PV_OK)
			return r;
		if (v != w[i].want) {
			pv_err_set_detail("token reports %s=%s on the new %s (asked for %s)", w[i].name,
					  v ? "TRUE" : "FALSE", what, w[i].want ? "TRUE" : "FALSE");
			return PV_ERR_NOT_HONOURED;
		}
	}
	return PV_OK;
}

/*
 * The token must have kept the key sensitive, non-extractable, private and
 * persistent, and limited to the usage asked for (a decryption key that can
 * also sign would be a signing key nobody rotates as one); a token that
 * silently drops any of these is not trusted. hpub is CK_INVALID_HANDLE
 * for a secret key: then hpriv carries all the usage attributes.
 */
static pv_err
check_honoured(p11_token *tok, CK_OBJECT_HANDLE hpriv, CK_OBJECT_HANDLE hpub, const struct usage_attrs *u)
{
	static const struct want_bool protection[] = {
	    {CKA_TOKEN, CK_TRUE, "CKA_TOKEN"},
	    {CKA_PRIVATE, CK_TRUE, "CKA_PRIVATE"},
	    {CKA_SENSITIVE, CK_TRUE, "CKA_SENSITIVE"},
	    {CKA_EXTRACTABLE, CK_FALSE, "CKA_EXTRACTABLE"},
	    {CKA_ALWAYS_SENSITIVE, CK_TRUE, "CKA_ALWAYS_SENSITIVE"},
	    {CKA_NEVER_EXTRACTABLE, CK_TRUE, "CKA_NEVER_EXTRACTABLE"},
	};
	const struct want_bool priv[] = {
	    {CKA_SIGN, u->sign, "CKA_SIGN"},
	    {CKA_DECRYPT, u->decrypt, "CKA_DECRYPT"},
	    {CKA_UNWRAP, u->unwrap, "CKA_UNWRAP"},
	    {CKA_DERIVE, u->derive, "CKA_DERIVE"},
	};
	const struct want_bool pub[] = {
	    {CKA_VERIFY, u->verify, "CKA_VERIFY"},
	    {CKA_ENCRYPT, u->encrypt, "CKA_ENCRYPT"},
	    {CKA_WRAP, u->wrap, "CKA_WRAP"},
	};
	int secret = hpub == CK_INVALID_HANDLE;
	pv_err r;

	if ((r = check_bools(tok, hpriv, protection, PV_NELEM(protection), "key")) != PV_OK ||
	    (r = check_bools(tok, hpriv, priv, PV_NELEM(priv), "key")) != PV_OK)
		return r;
	return check_bools(tok, secret ? hpriv : hpub, pub, PV_NELEM(pub), secret ? "key" : "public key");
}

/* Generate one version's objects; on any failure nothing is left behind. */
pv_err
ks_generate_version(pv_keystore *ks, const char *name, pv_alg alg, pv_key_purpose purpose, unsigned version,
		    uint8_t *id, size_t id_len)
{
	const struct pv_alg_info *ai = pv_alg_info(alg);
	CK_OBJECT_HANDLE hpub = CK_INVALID_HANDLE, hpriv = CK_INVALID_HANDLE;
	CK_MECHANISM mech = {ai->keygen, NULL, 0};
	CK_OBJECT_CLASS pubcls = CKO_PUBLIC_KEY, privcls = CKO_PRIVATE_KEY, seccls = CKO_SECRET_KEY;
	CK_KEY_TYPE ckk = ai->ckk;
	CK_ULONG bits = ai->bits, vlen = ai->bits / 8;
	CK_BYTE exp[] = {0x01, 0x00, 0x01};
	struct usage_attrs u;
	char label[P11_LABEL_MAX];
	CK_ULONG npub = 0;
	pv_err r, r2;

	snprintf(label, sizeof(label), "%s.v%u", name, version);
	randombytes_buf(id, id_len);
	usage_attrs(alg, purpose, &u);

	if (!pv_alg_is_asymmetric(alg)) {
		CK_ATTRIBUTE sec[] = {
		    {CKA_CLASS, &seccls, sizeof(seccls)},
		    {CKA_KEY_TYPE, &ckk, sizeof(ckk)},
		    {CKA_TOKEN, &ck_true, sizeof(ck_true)},
		    {CKA_PRIVATE, &ck_true, sizeof(ck_true)},
		    {CKA_SENSITIVE, &ck_true, sizeof(ck_true)},
		    {CKA_EXTRACTABLE, &ck_false, sizeof(ck_false)},
		    {CKA_LABEL, label, strlen(label)},
		    {CKA_ID, id, id_len},
		    {CKA_VALUE_LEN, &vlen, sizeof(vlen)},
		    {CKA_ENCRYPT, &u.encrypt, sizeof(u.encrypt)},
		    {CKA_DECRYPT, &u.decrypt, sizeof(u.decrypt)},
		    {CKA_WRAP, &u.wrap, sizeof(u.wrap)},
		    {CKA_UNWRAP, &u.unwrap, sizeof(u.unwrap)},
		    {CKA_SIGN, &u.sign, sizeof(u.sign)},
		    {CKA_VERIFY, &u.verify, sizeof(u.verify)},
		    {CKA_DERIVE, &u.derive, sizeof(u.derive)},
		};
		if ((r = p11_generate_key(ks->tok, &mech, sec, PV_NELEM(sec), &hpriv)) != PV_OK)
			goto out;
	} else {
		CK_ATTRIBUTE pub[] = {
		    {CKA_CLASS, &pubcls, sizeof(pubcls)},
		    {CKA_KEY_TYPE, &ckk, sizeof(ckk)},
		    {CKA_TOKEN, &ck_true, sizeof(ck_true)},
		    {CKA_PRIVATE, &ck_false, sizeof(ck_false)},
		    /* a key pair either signs or decrypts, never both */
		    {CKA_VERIFY, &u.verify, sizeof(u.verify)},
		    {CKA_ENCRYPT, &u.encrypt, sizeof(u.encrypt)},
		    {CKA_WRAP, &u.wrap, sizeof(u.wrap)},
		    {CKA_LABEL, label, strlen(label)},
		    {CKA_ID, id, id_len},
		    {0, NULL, 0}, /* curve or modulus size */
		    {0, NULL, 0}, /* RSA public exponent */
		};
		CK_ATTRIBUTE priv[] = {
		    {CKA_CLASS, &privcls, sizeof(privcls)},
		    {CKA_KEY_TYPE, &ckk, sizeof(ckk)},
		    {CKA_TOKEN, &ck_true, sizeof(ck_true)},
		    {CKA_PRIVATE, &ck_true, sizeof(ck_true)},
		    {CKA_SENSITIVE, &ck_true, sizeof(ck_true)},
		    {CKA_EXTRACTABLE, &ck_false, sizeof(ck_false)},
		    {CKA_SIGN, &u.sign, sizeof(u.sign)},
		    {CKA_DECRYPT, &u.decrypt, sizeof(u.decrypt)},
		    {CKA_UNWRAP, &u.unwrap, sizeof(u.unwrap)},
		    {CKA_DERIVE, &u.derive, sizeof(u.derive)},
		    {CKA_LABEL, label, strlen(label)},
		    {CKA_ID, id, id_len},
		};
		npub = 9;
		if (ai->family == PV_FAMILY_RSA) {
			pub[npub++] = (CK_ATTRIBUTE){CKA_MODULUS_BITS, &bits, sizeof(bits)};
			pub[npub++] = (CK_ATTRIBUTE){CKA_PUBLIC_EXPONENT, exp, sizeof(exp)};
		} else {
			pub[npub++] = (CK_ATTRIBUTE){CKA_EC_PARAMS, (void *)(uintptr_t)ai->ec_params,
						     ai->ec_params_len};
		}
		if ((r = p11_generate_key_pair(ks->tok, &mech, pub, npub, priv, PV_NELEM(priv), &hpub,
					       &hpriv)) != PV_OK)
			goto out;
	}
	r = check_honoured(ks->tok, hpriv, hpub, &u);
out:
	if (r != PV_OK) {
		/* keep the first error; a failed clean-up is reported in the detail */
		if (hpriv != CK_INVALID_HANDLE && (r2 = p11_handle_destroy(ks->tok, hpriv)) != PV_OK)
			pv_err_set_detail("%s; and removing the half-made key failed", pv_strerror(r));
		if (hpub != CK_INVALID_HANDLE && (r2 = p11_handle_destroy(ks->tok, hpub)) != PV_OK)
			pv_err_set_detail("%s; and removing the half-made key failed", pv_strerror(r));
	}
	return r;
}

/* Destroy both halves of a version (private/secret and, if any, public). */
pv_err
ks_destroy_version(pv_keystore *ks, const struct pv_key *key, const struct pv_key_version *ver)
{
	p11_obj o;
	pv_err r;

	ks_obj_ref(ver, ks_secret_class(key->alg), &o);
	if ((r = p11_obj_destroy(ks->tok, &o)) != PV_OK && r != PV_ERR_NOT_FOUND)
		return r;
	if (pv_alg_is_asymmetric(key->alg)) {
		ks_obj_ref(ver, CKO_PUBLIC_KEY, &o);
		if ((r = p11_obj_destroy(ks->tok, &o)) != PV_OK && r != PV_ERR_NOT_FOUND)
			return r;
	}
	return PV_OK;
}

/* Remove a version whose metadata could not be written (keeps error r). */
void
ks_undo_version(pv_keystore *ks, pv_alg alg, const uint8_t *id, size_t id_len, pv_err r)
{
	struct pv_key tmpk = {.alg = alg};
	struct pv_key_version tmpv = {.id_len = id_len};

	memcpy(tmpv.id, id, id_len);
	if (ks_destroy_version(ks, &tmpk, &tmpv) != PV_OK)
		pv_err_set_detail("%s; and removing the half-made key failed", pv_strerror(r));
}

/* PV_OK when a key of alg may have purpose p; else a detail listing the
 * purposes that fit. */
pv_err
ks_purpose_fits(pv_alg alg, pv_key_purpose p)
{
	char fit[128];

	if (pv_key_purpose_fits(alg, p))
		return PV_OK;
	pv_key_purposes_for(alg, fit, sizeof(fit));
	if (p == PV_PURPOSE_NONE)
		pv_err_set_detail("a purpose is required; a %s key can have: %s", pv_alg_info(alg)->name,
				  fit);
	else
		pv_err_set_detail("purpose %s does not fit a %s key; it can have: %s", pv_key_purpose_name(p),
				  pv_alg_info(alg)->name, fit);
	return PV_ERR_USAGE;
}
