#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/rsa.h>

#include "bundle/recipient.h"
#include "core/b64.h"
#include "core/digest.h"
#include "core/keys.h"
#include "core/pubkey.h"
#include "core/rsa_oaep.h"
#include "pkcs11/crypt.h"

#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 4096
#define KID_ID_MAX   64

pv_err
pv_recipient_rsa_kid(EVP_PKEY *pub, char **kid)
{
	uint8_t *der = NULL, md[PV_DIGEST_MAX_LEN];
	size_t derlen = 0, mdlen = 0;
	pv_err r;

	*kid = NULL;
	if ((r = pv_pubkey_spki_der(pub, &der, &derlen)) != PV_OK)
		goto out;
	if ((r = pv_digest_compute(PV_DIGEST_SHA256, der, derlen, md, &mdlen)) != PV_OK)
		goto out;
	r = pv_b64url_encode(md, mdlen, kid);
out:
	free(der);
	return r;
}

static pv_err
check_rsa(EVP_PKEY *pub)
{
	int bits;

	if (pub == NULL || EVP_PKEY_get_base_id(pub) != EVP_PKEY_RSA) {
		pv_err_set_detail("an rsa-oaep-sha256 recipient needs an RSA public key");
		return PV_ERR_KEY_TYPE;
	}
	bits = EVP_PKEY_get_bits(pub);
	if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS) {
		pv_err_set_detail("an rsa-oaep-sha256 recipient needs a %d..%d-bit modulus, not %d",
				  RSA_MIN_BITS, RSA_MAX_BITS, bits);
		return PV_ERR_KEY_TYPE;
	}
	return PV_OK;
}

pv_err
pv_recipient_wrap_rsa(EVP_PKEY *pub, pv_dek *soft, uint8_t **wrapped, size_t *len)
{
	EVP_PKEY_CTX *ctx = NULL;
	pv_secret *key = NULL;
	uint8_t *buf = NULL;
	size_t n = 0;
	pv_err r;

	*wrapped = NULL;
	*len = 0;
	if ((r = check_rsa(pub)) != PV_OK)
		goto out;
	if (soft == NULL || pv_dek_on_token(soft)) {
		pv_err_set_detail("RSA sealing needs the data key in memory");
		r = PV_ERR_USAGE;
		goto out;
	}
	r = PV_ERR_CRYPTO;
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pub, NULL)) == NULL || EVP_PKEY_encrypt_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) != 1)
		goto out;
	if (EVP_PKEY_encrypt(ctx, NULL, &n, (const uint8_t *)"", PV_DEK_LEN) != 1 || n == 0)
		goto out;
	if ((buf = malloc(n)) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	if ((r = pv_dek_export(soft, &key)) != PV_OK)
		goto out;
	if (EVP_PKEY_encrypt(ctx, buf, &n, pv_secret_ro(key), PV_DEK_LEN) != 1) {
		pv_err_set_detail("RSA-OAEP encryption failed");
		r = PV_ERR_CRYPTO;
		goto out;
	}
	*wrapped = buf;
	*len = n;
	buf = NULL;
	r = PV_OK;
out:
	if (r == PV_ERR_CRYPTO)
		ERR_clear_error();
	pv_secret_free(key);
	EVP_PKEY_CTX_free(ctx);
	free(buf);
	return r;
}

pv_err
pv_recipient_wrap_kwp(p11_token *tok, CK_OBJECT_HANDLE kek, pv_dek *dek, uint8_t **wrapped, size_t *len)
{
	CK_MECHANISM kwp = {CKM_AES_KEY_WRAP_PAD, NULL, 0};
	CK_OBJECT_HANDLE copy = CK_INVALID_HANDLE, h;
	CK_BBOOL extractable = CK_FALSE;
	pv_err r;

	*wrapped = NULL;
	*len = 0;
	if (tok == NULL || dek == NULL) {
		r = PV_ERR_USAGE;
		goto out;
	}
	if (pv_dek_on_token(dek)) {
		if (pv_dek_token(dek) != tok) {
			pv_err_set_detail("the data key is on another token than the KEK");
			r = PV_ERR_USAGE;
			goto out;
		}
		h = pv_dek_handle(dek);
		if ((r = p11_handle_get_bool(tok, h, CKA_EXTRACTABLE, &extractable)) != PV_OK)
			goto out;
		if (extractable != CK_TRUE) {
			pv_err_set_detail(
			    "the data key on the token is not extractable: it cannot be wrapped");
			r = PV_ERR_KEY_TYPE;
			goto out;
		}
	} else {
		/* A short-lived copy: C_WrapKey needs the key on the token. */
		if ((r = pv_dek_create_object(dek, tok, PV_DEK_OBJ_EXTRACTABLE, &copy)) != PV_OK)
			goto out;
		h = copy;
	}
	if ((r = p11_wrap_key(tok, &kwp, kek, h, wrapped, len)) != PV_OK)
		goto out;
	if (*len != PV_DEK_LEN + 8) {
		pv_err_set_detail("C_WrapKey (CKM_AES_KEY_WRAP_PAD) gave %zu bytes, not %d", *len,
				  PV_DEK_LEN + 8);
		free(*wrapped);
		*wrapped = NULL;
		*len = 0;
		r = PV_ERR_PKCS11;
	}
out:
	if (copy != CK_INVALID_HANDLE && p11_handle_destroy(tok, copy) != PV_OK) {
		/* a session object: it goes with its session at the latest */
	}
	return r;
}

pv_err
pv_recipient_kek_kid(p11_token *tok, CK_OBJECT_HANDLE kek, char **kid)
{
	uint8_t *id = NULL;
	size_t idlen = 0;
	pv_err r;

	*kid = NULL;
	if ((r = p11_handle_get_attr(tok, kek, CKA_ID, &id, &idlen)) != PV_OK && r != PV_ERR_NOT_FOUND)
		goto out;
	if (r != PV_OK || idlen == 0 || idlen > KID_ID_MAX) {
		pv_err_set_detail("an aes-kwp KEK needs a CKA_ID of 1..%d bytes", KID_ID_MAX);
		r = PV_ERR_KEY_TYPE;
		goto out;
	}
	r = pv_hex_encode(id, idlen, kid);
out:
	free(id);
	return r;
}

/* Template of the session AES key a reader's DEK becomes on the token
 * (§3.2): it decrypts entries and unwraps private keys, nothing else. */
#define DEK_TEMPLATE(cls, kt, yes, no)                                                                       \
	{                                                                                                    \
		{CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &kt, sizeof(kt)}, {CKA_TOKEN, &no, 1},        \
		    {CKA_PRIVATE, &yes, 1}, {CKA_SENSITIVE, &yes, 1}, {CKA_EXTRACTABLE, &no, 1},             \
		    {CKA_ENCRYPT, &no, 1}, {CKA_DECRYPT, &yes, 1}, {CKA_WRAP, &no, 1},                       \
		    {CKA_UNWRAP, &yes, 1},                                                                   \
	}

/*
 * An unwrapped DEK object must hold 32 bytes; else destroy it. Tokens that
 * do not report the length (SoftHSM 2.6 says 0 after C_UnwrapKey) are taken
 * as they are: a DEK of another length fails the bundle check (§6).
 */
static pv_err
adopt_unwrapped(p11_token *tok, CK_OBJECT_HANDLE h, pv_dek **out)
{
	CK_ULONG vlen = 0;
	pv_err r;

	if ((r = p11_handle_get_ulong(tok, h, CKA_VALUE_LEN, &vlen)) == PV_ERR_NOT_FOUND) {
		r = PV_OK; /* not reported */
	} else if (r == PV_OK && vlen != 0 && vlen != PV_DEK_LEN) {
		pv_err_set_detail("the wrapped data key is %lu bytes, not %d", vlen, PV_DEK_LEN);
		r = PV_ERR_INTEGRITY;
	}
	if (r != PV_OK) {
		if (p11_handle_destroy(tok, h) != PV_OK) {
			/* keep r */
		}
		return r;
	}
	return pv_dek_from_token(tok, h, out);
}

/* A clear DEK (guarded) into the wanted form. */
static pv_err
adopt_clear(p11_token *tok, pv_secret *clear, size_t n, enum pv_dek_mode mode, pv_dek **out)
{
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	pv_dek *soft = NULL;
	pv_err r;

	if (n != PV_DEK_LEN) {
		pv_err_set_detail("the wrapped data key is %zu bytes, not %d", n, PV_DEK_LEN);
		return PV_ERR_INTEGRITY;
	}
	if ((r = pv_dek_from_bytes(pv_secret_ro(clear), n, &soft)) != PV_OK)
		goto out;
	if (mode == PV_DEK_IN_MEMORY) {
		*out = soft;
		soft = NULL;
		goto out;
	}
	if ((r = pv_dek_create_object(soft, tok, PV_DEK_OBJ_READER, &h)) != PV_OK)
		goto out;
	r = pv_dek_from_token(tok, h, out);
out:
	pv_dek_free(soft);
	return r;
}

pv_err
pv_recipient_open_kwp(p11_token *tok, CK_OBJECT_HANDLE kek, const uint8_t *wrapped, size_t len,
		      enum pv_dek_mode mode, pv_dek **out)
{
	CK_MECHANISM kwp = {CKM_AES_KEY_WRAP_PAD, NULL, 0};
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_AES;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE on_token[] = DEK_TEMPLATE(cls, kt, yes, no);
	/* Editing (§8): readable, used for nothing on the token. */
	CK_ATTRIBUTE readable[] = {
	    {CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &kt, sizeof(kt)}, {CKA_TOKEN, &no, 1},
	    {CKA_PRIVATE, &yes, 1},         {CKA_SENSITIVE, &no, 1},         {CKA_EXTRACTABLE, &yes, 1},
	};
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	pv_secret *clear = NULL;
	size_t n = 0;
	char why[160];
	pv_err r;

	*out = NULL;
	if (tok == NULL || wrapped == NULL) {
		r = PV_ERR_USAGE;
		goto out;
	}
	if (len != PV_DEK_LEN + 8) {
		pv_err_set_detail("aes-kwp: wrapped_dek is %zu bytes, not %d", len, PV_DEK_LEN + 8);
		r = PV_ERR_INTEGRITY;
		goto out;
	}
	if (mode == PV_DEK_ON_TOKEN)
		r = p11_unwrap_key(tok, &kwp, kek, wrapped, len, on_token, PV_NELEM(on_token), &h);
	else
		r = p11_unwrap_key(tok, &kwp, kek, wrapped, len, readable, PV_NELEM(readable), &h);
	if (r == PV_ERR_INTEGRITY) {
		snprintf(why, sizeof(why), "%s", pv_err_detail());
		pv_err_set_detail("aes-kwp: the KEK does not unwrap this data key (wrong KEK or altered "
				  "wrapped_dek): %s",
				  why);
	}
	if (r != PV_OK)
		goto out;
	if (mode == PV_DEK_ON_TOKEN) {
		r = adopt_unwrapped(tok, h, out);
		h = CK_INVALID_HANDLE;
		goto out;
	}
	/* Room for more than a DEK, so a longer key is seen, not truncated. */
	if ((r = pv_secret_new(2 * PV_DEK_LEN, &clear)) != PV_OK)
		goto out;
	if ((r = p11_handle_read_attr(tok, h, CKA_VALUE, pv_secret_rw(clear), pv_secret_cap(clear), &n)) !=
	    PV_OK) {
		if (r == PV_ERR_NOT_FOUND || r == PV_ERR_TOO_LARGE)
			pv_err_set_detail("aes-kwp: the token would not reveal the unwrapped data key (%s); "
					  "edit through another recipient",
					  pv_strerror(r));
		goto out;
	}
	r = adopt_clear(tok, clear, n, mode, out);
out:
	pv_secret_free(clear);
	if (h != CK_INVALID_HANDLE && p11_handle_destroy(tok, h) != PV_OK) {
		/* a session object: it goes with its session at the latest */
	}
	return r;
}

/*
 * The modulus length in bytes of an RSA key on the token, and whether c
 * (clen bytes, big-endian) is below the modulus: a ciphertext that is not
 * was made for another key (or altered), and raw RSA on the token would
 * fail with whatever error it chooses instead of an integrity failure.
 */
static pv_err
modulus_len(p11_token *tok, CK_OBJECT_HANDLE priv, const uint8_t *c, size_t clen, size_t *k)
{
	uint8_t *mod = NULL;
	size_t len = 0, i = 0;
	pv_err r = PV_OK;

	*k = 0;
	if ((r = p11_handle_get_attr(tok, priv, CKA_MODULUS, &mod, &len)) != PV_OK)
		return r;
	while (i < len && mod[i] == 0)
		i++;
	*k = len - i;
	if (*k * 8 < RSA_MIN_BITS - 7 || *k * 8 > RSA_MAX_BITS) {
		pv_err_set_detail("rsa-oaep-sha256: the token key has a %zu-byte modulus", *k);
		r = PV_ERR_KEY_TYPE;
	} else if (clen == *k && memcmp(c, mod + i, clen) >= 0) { /* public: both are public values */
		pv_err_set_detail(
		    "rsa-oaep-sha256: wrapped_dek is not below this key's modulus (wrong key or "
		    "altered wrapped_dek)");
		r = PV_ERR_INTEGRITY;
	}
	free(mod);
	return r;
}

/* Path 2: CKM_RSA_X_509 on the token, OAEP decoding here (core/rsa_oaep.h). */
static pv_err
open_raw(p11_token *tok, CK_OBJECT_HANDLE priv, const uint8_t *wrapped, size_t k, pv_secret *clear, size_t *n)
{
	const EVP_MD *md = pv_digest_evp_md(PV_DIGEST_SHA256);
	pv_err r;

	r = pv_rsa_oaep_decrypt_raw(tok, priv, wrapped, k, md, md, NULL, 0, pv_secret_rw(clear),
				    pv_secret_cap(clear), n);
	if (r == PV_ERR_INTEGRITY)
		pv_err_set_detail("rsa-oaep-sha256: OAEP decoding failed (wrong key or altered wrapped_dek)");
	return r;
}

pv_err
pv_recipient_open_rsa(p11_token *tok, CK_OBJECT_HANDLE priv, const uint8_t *wrapped, size_t len,
		      enum pv_dek_mode mode, int allow_fallback, struct pv_open_info *info, pv_dek **out)
{
	CK_RSA_PKCS_OAEP_PARAMS oaep = {CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, NULL, 0};
	CK_MECHANISM mech = {CKM_RSA_PKCS_OAEP, &oaep, sizeof(oaep)};
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_AES;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE on_token[] = DEK_TEMPLATE(cls, kt, yes, no);
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	pv_secret *clear = NULL;
	size_t k = 0, n = 0;
	int path = -1;
	pv_err r;

	*out = NULL;
	if (info != NULL)
		info->fallback = -1;
	if (tok == NULL || wrapped == NULL) {
		r = PV_ERR_USAGE;
		goto out;
	}
	if ((r = modulus_len(tok, priv, wrapped, len, &k)) != PV_OK)
		goto out;
	if (len != k) {
		pv_err_set_detail("rsa-oaep-sha256: wrapped_dek is %zu bytes, the modulus %zu", len, k);
		r = PV_ERR_INTEGRITY;
		goto out;
	}
	if (mode == PV_DEK_ON_TOKEN) {
		r = p11_unwrap_key(tok, &mech, priv, wrapped, len, on_token, PV_NELEM(on_token), &h);
		if (r == PV_OK) {
			path = 0;
			r = adopt_unwrapped(tok, h, out);
			goto out;
		}
		if (r != PV_ERR_MECHANISM)
			goto out;
		if (!allow_fallback) {
			pv_err_set_detail("rsa-oaep-sha256: the token cannot unwrap with RSA-OAEP (SHA-256) "
					  "and the decrypting fallbacks are refused");
			goto out;
		}
	}
	if ((r = pv_secret_new(k, &clear)) != PV_OK)
		goto out;
	n = k;
	if ((r = p11_decrypt(tok, &mech, priv, wrapped, len, pv_secret_rw(clear), &n)) == PV_OK) {
		path = 1;
	} else if (r == PV_ERR_MECHANISM) {
		if ((r = open_raw(tok, priv, wrapped, k, clear, &n)) == PV_ERR_MECHANISM)
			pv_err_set_detail(
			    "rsa-oaep-sha256: the token can neither unwrap nor decrypt with this "
			    "key (it needs CKA_DECRYPT or CKA_UNWRAP)");
		path = 2;
	}
	if (r != PV_OK)
		goto out;
	r = adopt_clear(tok, clear, n, mode, out);
out:
	pv_secret_free(clear);
	if (r == PV_OK && info != NULL)
		info->fallback = path;
	return r;
}

/* The p11vault key with a version whose CKA_ID is id (and whose algorithm
 * is aes256 for aes-kwp, RSA for rsa-oaep): NULL in *out when none is. */
static pv_err
key_by_id(p11_token *tok, enum pv_rcpt_type type, const uint8_t *id, size_t idlen, struct pv_key **out)
{
	pv_keystore *ks = NULL;
	struct pv_key **keys = NULL;
	const char *name = NULL;
	size_t n = 0, i, j;
	pv_err r;

	*out = NULL;
	if ((r = pv_keystore_new(tok, &ks)) != PV_OK || (r = pv_keys_list(ks, &keys, &n)) != PV_OK)
		goto out;
	for (i = 0; i < n && name == NULL; i++) {
		const struct pv_key *k = keys[i];
		int kind_ok = type == PV_RCPT_AES_KWP ? k->alg == PV_ALG_AES256
						      : pv_alg_info(k->alg)->family == PV_FAMILY_RSA;

		for (j = 0; kind_ok && j < k->nversions && name == NULL; j++)
			if (k->versions[j].id_len == idlen && idlen > 0 &&
			    memcmp(k->versions[j].id, id, idlen) == 0)
				name = k->name;
	}
	/* the listing may hold a stale copy of the metadata (an interrupted
	 * update): the key's current metadata says what it is for */
	if (name != NULL)
		r = pv_keys_get(ks, name, out);
out:
	pv_keys_list_free(keys, n);
	pv_keystore_free(ks);
	return r;
}

pv_err
pv_recipient_check_purpose(p11_token *tok, enum pv_rcpt_type type, CK_OBJECT_HANDLE h)
{
	pv_key_purpose want = type == PV_RCPT_AES_KWP ? PV_PURPOSE_WRAP : PV_PURPOSE_DECRYPT;
	struct pv_key *key = NULL;
	uint8_t *id = NULL;
	size_t idlen = 0;
	char *hex = NULL;
	pv_err r;

	if ((r = p11_handle_get_attr(tok, h, CKA_ID, &id, &idlen)) != PV_OK && r != PV_ERR_NOT_FOUND)
		goto out;
	if ((r = key_by_id(tok, type, id, idlen, &key)) != PV_OK)
		goto out;
	if (key == NULL) {
		if (idlen > 0 && pv_hex_encode(id, idlen, &hex) != PV_OK)
			hex = NULL;
		pv_err_set_detail(
		    "the %s recipient key (CKA_ID %s) is no p11vault key, so it has no purpose; "
		    "adopt it with `vaultctl key adopt URI --name NAME --purpose %s`",
		    type == PV_RCPT_AES_KWP ? "aes-kwp" : "rsa-oaep-sha256", hex != NULL ? hex : "none",
		    pv_key_purpose_name(want));
		r = PV_ERR_PURPOSE;
		goto out;
	}
	/* a disabled key (vaultctl key disable / delete) opens nothing */
	if ((r = pv_key_check_purpose(key, want)) == PV_OK)
		r = pv_key_check_enabled(key);
out:
	free(hex);
	pv_key_free(key);
	free(id);
	return r;
}

pv_err
pv_recipient_find_kek(p11_token *tok, const char *kid_hex, CK_OBJECT_HANDLE *out)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_AES;
	uint8_t id[KID_ID_MAX];
	size_t idlen = 0, count = 0;
	CK_OBJECT_HANDLE *found = NULL;
	CK_ATTRIBUTE t[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_KEY_TYPE, &kt, sizeof(kt)},
	    {CKA_ID, id, 0},
	};
	pv_err r;

	*out = CK_INVALID_HANDLE;
	if (kid_hex == NULL || pv_hex_decode(kid_hex, strlen(kid_hex), id, sizeof(id), &idlen) != PV_OK ||
	    idlen == 0) {
		pv_err_set_detail("an aes-kwp kid is the hex of 1..%d bytes", KID_ID_MAX);
		r = PV_ERR_BAD_INPUT;
		goto out;
	}
	t[2].ulValueLen = idlen;
	if ((r = p11_find_all(tok, t, PV_NELEM(t), &found, &count)) != PV_OK)
		goto out;
	if (count == 0) {
		pv_err_set_detail("no AES key with CKA_ID %s on the token", kid_hex);
		r = PV_ERR_NOT_FOUND;
		goto out;
	}
	if (count > 1) {
		pv_err_set_detail("several AES keys have CKA_ID %s", kid_hex);
		r = PV_ERR_INTEGRITY;
		goto out;
	}
	*out = found[0];
out:
	free(found);
	return r;
}

/* kid of the RSA public key object h; NULL (and PV_OK) for a key we cannot
 * rebuild (another size): it is simply not a match. */
static pv_err
public_kid(p11_token *tok, CK_OBJECT_HANDLE h, uint8_t **mod, size_t *modlen, char **kid)
{
	uint8_t *exp = NULL;
	size_t explen = 0;
	EVP_PKEY *pk = NULL;
	pv_err r;

	*kid = NULL;
	*mod = NULL;
	if ((r = p11_handle_get_attr(tok, h, CKA_MODULUS, mod, modlen)) != PV_OK ||
	    (r = p11_handle_get_attr(tok, h, CKA_PUBLIC_EXPONENT, &exp, &explen)) != PV_OK)
		goto out;
	if (pv_pubkey_from_rsa(*mod, *modlen, exp, explen, &pk) != PV_OK) {
		r = PV_OK;
		goto out;
	}
	r = pv_recipient_rsa_kid(pk, kid);
out:
	EVP_PKEY_free(pk);
	free(exp);
	return r;
}

pv_err
pv_recipient_find_rsa(p11_token *tok, const char *kid, CK_OBJECT_HANDLE *priv)
{
	CK_OBJECT_CLASS pubcls = CKO_PUBLIC_KEY, privcls = CKO_PRIVATE_KEY;
	CK_KEY_TYPE kt = CKK_RSA;
	CK_ATTRIBUTE pt[] = {{CKA_CLASS, &pubcls, sizeof(pubcls)}, {CKA_KEY_TYPE, &kt, sizeof(kt)}};
	CK_ATTRIBUTE kt_[4];
	CK_OBJECT_HANDLE *pubs = NULL, *privs = NULL;
	size_t npub = 0, npriv = 0, modlen = 0, idlen = 0;
	uint8_t *mod = NULL, *id = NULL;
	char *k = NULL;
	CK_ULONG n;
	pv_err r;

	*priv = CK_INVALID_HANDLE;
	if (kid == NULL) {
		r = PV_ERR_USAGE;
		goto out;
	}
	if ((r = p11_find_all(tok, pt, PV_NELEM(pt), &pubs, &npub)) != PV_OK)
		goto out;
	for (size_t i = 0; i < npub; i++) {
		free(mod);
		free(id);
		free(k);
		free(privs);
		mod = id = NULL;
		k = NULL;
		privs = NULL;
		if ((r = public_kid(tok, pubs[i], &mod, &modlen, &k)) != PV_OK)
			goto out;
		if (k == NULL || strcmp(k, kid) != 0)
			continue;
		if ((r = p11_handle_get_attr(tok, pubs[i], CKA_ID, &id, &idlen)) != PV_OK &&
		    r != PV_ERR_NOT_FOUND)
			goto out;
		/* The private half: same modulus, and the same CKA_ID when set. */
		n = 0;
		kt_[n++] = (CK_ATTRIBUTE){CKA_CLASS, &privcls, sizeof(privcls)};
		kt_[n++] = (CK_ATTRIBUTE){CKA_KEY_TYPE, &kt, sizeof(kt)};
		kt_[n++] = (CK_ATTRIBUTE){CKA_MODULUS, mod, modlen};
		if (r == PV_OK && idlen > 0)
			kt_[n++] = (CK_ATTRIBUTE){CKA_ID, id, idlen};
		if ((r = p11_find_all(tok, kt_, n, &privs, &npriv)) != PV_OK)
			goto out;
		if (npriv > 0) {
			*priv = privs[0];
			goto out;
		}
	}
	pv_err_set_detail("no RSA private key with kid %s on the token", kid);
	r = PV_ERR_NOT_FOUND;
out:
	free(mod);
	free(id);
	free(k);
	free(privs);
	free(pubs);
	return r;
}
