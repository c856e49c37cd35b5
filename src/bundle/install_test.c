/*
 * bundle install-key on a throwaway SoftHSM token behind the fault shim:
 * public key objects made from OpenSSL keys read back as the same key and
 * are encoded like the token's own; installed keys are persistent,
 * sensitive, non-extractable p11vault keys that sign as the original key;
 * refusals and failures after the unwrap leave nothing on the token.
 */
#include "config.h"

#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "base/secmem.h"
#include "bundle/bundle.h"
#include "bundle/install.h"
#include "core/pubkey.h"
#include "core/sign.h"
#include "pkcs11/testutil.h"

static struct tu_token T;
static int (*fault_set)(const char *spec);
static unsigned long (*fault_count)(const char *fn);
static void (*fault_reset_counts)(void);

struct fixture {
	p11_token *tok;
	pv_keystore *ks;
	pv_dek *soft, *dek; /* the bundle's DEK in memory, and on the token */
	struct pv_bundle *b;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct p11_token_opts o;
	void *dl;

	if (f == NULL)
		return -1;
	tu_opts(&T, &o);
	o.module = PV_FAULTMOD;
	if (p11_token_open(&o, &f->tok) != PV_OK || p11_token_login(f->tok) != PV_OK ||
	    pv_keystore_new(f->tok, &f->ks) != PV_OK || pv_dek_generate(&f->soft) != PV_OK ||
	    pv_dek_to_token(f->soft, f->tok, &f->dek) != PV_OK || pv_bundle_new(&f->b) != PV_OK)
		return -1;
	if ((dl = dlopen(PV_FAULTMOD, RTLD_NOW | RTLD_NOLOAD)) == NULL)
		return -1;
	*(void **)(&fault_set) = dlsym(dl, "pv_fault_set");
	*(void **)(&fault_count) = dlsym(dl, "pv_fault_count");
	*(void **)(&fault_reset_counts) = dlsym(dl, "pv_fault_reset_counts");
	dlclose(dl);
	if (fault_set == NULL || fault_count == NULL || fault_reset_counts == NULL)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	pv_bundle_free(f->b);
	pv_dek_free(f->dek);
	pv_dek_free(f->soft);
	pv_keystore_free(f->ks);
	p11_token_close(f->tok);
	free(f);
	return 0;
}

static EVP_PKEY *
soft_key(pv_alg alg)
{
	EVP_PKEY *pk = NULL;

	switch (alg) {
	case PV_ALG_P256:
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		break;
	case PV_ALG_P384:
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
		break;
	case PV_ALG_SECP256K1:
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
		break;
	case PV_ALG_RSA2048:
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
		break;
	case PV_ALG_ED25519:
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		break;
	default:
		break;
	}
	assert_non_null(pk);
	return pk;
}

/* How many objects of a class the session sees (token and session ones). */
static size_t
count(p11_token *tok, CK_OBJECT_CLASS cls)
{
	CK_ATTRIBUTE t = {CKA_CLASS, &cls, sizeof(cls)};
	CK_OBJECT_HANDLE *hs = NULL;
	size_t n = 0;

	assert_int_equal(p11_find_all(tok, &t, 1, &hs, &n), PV_OK);
	free(hs);
	return n;
}

struct counts {
	size_t priv, pub, data;
};

static void
snapshot(p11_token *tok, struct counts *c)
{
	c->priv = count(tok, CKO_PRIVATE_KEY);
	c->pub = count(tok, CKO_PUBLIC_KEY);
	c->data = count(tok, CKO_DATA);
}

static void
assert_unchanged(p11_token *tok, const struct counts *before)
{
	struct counts now;

	snapshot(tok, &now);
	assert_int_equal(now.priv, before->priv);
	assert_int_equal(now.pub, before->pub);
	assert_int_equal(now.data, before->data);
}

static void
assert_bool(p11_token *tok, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, CK_BBOOL want)
{
	CK_BBOOL v = !want;

	assert_int_equal(p11_handle_get_bool(tok, h, type, &v), PV_OK);
	assert_int_equal(v, want);
}

/* The CKA_EC_POINT of a key pair the token generates itself. */
static void
token_point(p11_token *tok, pv_alg alg, uint8_t **point, size_t *len)
{
	const struct pv_alg_info *ai = pv_alg_info(alg);
	CK_MECHANISM mech = {ai->keygen, NULL, 0};
	CK_BBOOL no = CK_FALSE;
	CK_ATTRIBUTE pub[] = {
	    {CKA_EC_PARAMS, (void *)(uintptr_t)ai->ec_params, ai->ec_params_len},
	    {CKA_TOKEN, &no, 1},
	};
	CK_ATTRIBUTE priv[] = {{CKA_TOKEN, &no, 1}};
	CK_OBJECT_HANDLE hpub, hpriv;

	assert_int_equal(
	    p11_generate_key_pair(tok, &mech, pub, PV_NELEM(pub), priv, PV_NELEM(priv), &hpub, &hpriv),
	    PV_OK);
	assert_int_equal(p11_handle_get_attr(tok, hpub, CKA_EC_POINT, point, len), PV_OK);
	assert_int_equal(p11_handle_destroy(tok, hpub), PV_OK);
	assert_int_equal(p11_handle_destroy(tok, hpriv), PV_OK);
}

static void
check_pubkey_object(p11_token *tok, pv_alg alg, uint8_t idbyte)
{
	EVP_PKEY *pk = soft_key(alg), *back = NULL;
	uint8_t id[1] = {idbyte}, *a = NULL, *b = NULL, *theirs = NULL;
	size_t alen = 0, blen = 0, theirslen = 0;
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	pv_alg got = PV_ALG_NONE;

	assert_int_equal(pv_pubkey_create_object(tok, pk, "pubobj", id, 1, 0, &h), PV_OK);
	assert_int_not_equal(h, CK_INVALID_HANDLE);
	assert_bool(tok, h, CKA_TOKEN, CK_FALSE);
	assert_bool(tok, h, CKA_PRIVATE, CK_FALSE);
	assert_bool(tok, h, CKA_VERIFY, CK_TRUE);
	assert_bool(tok, h, CKA_ENCRYPT, CK_FALSE);
	assert_int_equal(p11_handle_get_attr(tok, h, CKA_ID, &a, &alen), PV_OK);
	assert_int_equal(alen, 1);
	assert_int_equal(a[0], idbyte);
	free(a);
	a = NULL;
	if (pv_alg_info(alg)->family == PV_FAMILY_RSA) {
		assert_int_equal(p11_handle_get_attr(tok, h, CKA_MODULUS, &a, &alen), PV_OK);
		assert_int_equal(p11_handle_get_attr(tok, h, CKA_PUBLIC_EXPONENT, &b, &blen), PV_OK);
		assert_int_equal(pv_pubkey_from_rsa(a, alen, b, blen, &back), PV_OK);
	} else {
		assert_int_equal(p11_handle_get_attr(tok, h, CKA_EC_PARAMS, &a, &alen), PV_OK);
		assert_int_equal(p11_handle_get_attr(tok, h, CKA_EC_POINT, &b, &blen), PV_OK);
		assert_int_equal(pv_pubkey_from_ec(a, alen, b, blen, &got, &back), PV_OK);
		assert_int_equal(got, alg);
		/* a DER OCTET STRING around the point, as on keys the token makes */
		token_point(tok, alg, &theirs, &theirslen);
		assert_int_equal(blen, theirslen);
		assert_memory_equal(b, theirs, 2);
		assert_int_equal(b[0], 0x04);
		assert_int_equal(b[1], blen - 2);
	}
	assert_int_equal(EVP_PKEY_eq(pk, back), 1);
	assert_int_equal(p11_handle_destroy(tok, h), PV_OK);
	free(a);
	free(b);
	free(theirs);
	EVP_PKEY_free(back);
	EVP_PKEY_free(pk);
}

static void
test_pubkey_objects(void **state)
{
	struct fixture *f = *state;
	EVP_PKEY *p521 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;

	check_pubkey_object(f->tok, PV_ALG_P256, 0x41);
	check_pubkey_object(f->tok, PV_ALG_P384, 0x42);
	check_pubkey_object(f->tok, PV_ALG_SECP256K1, 0x43);
	check_pubkey_object(f->tok, PV_ALG_ED25519, 0x44);
	check_pubkey_object(f->tok, PV_ALG_RSA2048, 0x45);
	/* a curve p11vault does not know */
	assert_non_null(p521);
	assert_int_equal(pv_pubkey_create_object(f->tok, p521, NULL, NULL, 0, 0, &h), PV_ERR_KEY_TYPE);
	assert_int_equal(h, CK_INVALID_HANDLE);
	EVP_PKEY_free(p521);
}

/* Add pk to the bundle as private-key entry name of purpose p. */
static const struct pv_bundle_entry *
add_key_for(struct fixture *f, const char *name, EVP_PKEY *pk, pv_key_purpose p)
{
	const struct pv_bundle_entry *e;

	assert_int_equal(pv_bundle_put_key(f->b, f->soft, name, pk, p), PV_OK);
	assert_non_null(e = pv_bundle_find(f->b, name));
	assert_int_equal(e->purpose, p);
	return e;
}

/* The same for purpose sign, what most tests here sign with. */
static const struct pv_bundle_entry *
add_key(struct fixture *f, const char *name, EVP_PKEY *pk)
{
	return add_key_for(f, name, pk, PV_PURPOSE_SIGN);
}

static void
install_and_sign(struct fixture *f, pv_alg alg, const char *name)
{
	static const uint8_t msg[] = "migrated from a PEM file";
	EVP_PKEY *pk = soft_key(alg), *pub = NULL;
	const struct pv_bundle_entry *e = add_key(f, name, pk);
	struct pv_key *k = NULL, *again = NULL;
	struct pv_key_version ver;
	struct pv_sign_opts so = {.purpose = PV_PURPOSE_SIGN};
	struct pv_sig sig;
	struct counts before;
	char label[80];
	uint8_t *lbl = NULL;
	size_t lbllen = 0;
	p11_obj obj;

	assert_int_equal(pv_bundle_install_key(f->ks, e, f->dek, name, PV_PURPOSE_NONE, 0, NULL, &k), PV_OK);
	assert_non_null(k);
	assert_int_equal(k->alg, alg);
	assert_int_equal(k->nversions, 1);
	assert_int_equal(k->versions[0].id_len, PV_INSTALL_ID_LEN);

	/* a persistent, protected token key, labelled like one p11vault made */
	assert_int_equal(pv_keys_resolve(f->ks, name, 0, &again, &ver, &obj), PV_OK);
	assert_int_equal(p11_obj_find(f->tok, &obj), PV_OK);
	assert_bool(f->tok, obj.handle, CKA_TOKEN, CK_TRUE);
	assert_bool(f->tok, obj.handle, CKA_PRIVATE, CK_TRUE);
	assert_bool(f->tok, obj.handle, CKA_SENSITIVE, CK_TRUE);
	assert_bool(f->tok, obj.handle, CKA_EXTRACTABLE, CK_FALSE);
	assert_bool(f->tok, obj.handle, CKA_SIGN, CK_TRUE);
	assert_bool(f->tok, obj.handle, CKA_DECRYPT, CK_FALSE);
	assert_int_equal(p11_handle_get_attr(f->tok, obj.handle, CKA_LABEL, &lbl, &lbllen), PV_OK);
	snprintf(label, sizeof(label), "%s.v1", name);
	assert_int_equal(lbllen, strlen(label));
	assert_memory_equal(lbl, label, lbllen);

	/* it signs as the original key, and its public half is the original's */
	assert_int_equal(pv_sign(f->ks, name, &so, msg, sizeof(msg), &sig), PV_OK);
	assert_int_equal(
	    pv_pubkey_verify(pk, alg, 0, PV_DIGEST_DEFAULT, msg, sizeof(msg), 0, sig.bytes, sig.len), PV_OK);
	sig.bytes[3] ^= 1;
	assert_int_equal(
	    pv_pubkey_verify(pk, alg, 0, PV_DIGEST_DEFAULT, msg, sizeof(msg), 0, sig.bytes, sig.len),
	    PV_ERR_BAD_SIGNATURE);
	assert_int_equal(pv_keys_public(f->ks, k, &k->versions[0], &pub), PV_OK);
	assert_int_equal(EVP_PKEY_eq(pk, pub), 1);

	/* the name is taken now: refused before anything is unwrapped */
	snapshot(f->tok, &before);
	assert_int_equal(pv_bundle_install_key(f->ks, e, f->dek, name, PV_PURPOSE_NONE, 0, NULL, NULL),
			 PV_ERR_EXISTS);
	assert_unchanged(f->tok, &before);

	free(lbl);
	pv_key_free(again);
	pv_key_free(k);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(pk);
}

static void
test_install_keys(void **state)
{
	struct fixture *f = *state;

	install_and_sign(f, PV_ALG_P256, "jwt-p256");
	install_and_sign(f, PV_ALG_SECP256K1, "wallet");
	install_and_sign(f, PV_ALG_RSA2048, "legacy-rsa");
	install_and_sign(f, PV_ALG_P384, "p384-key");
}

static void
test_install_refusals(void **state)
{
	struct fixture *f = *state;
	EVP_PKEY *pk = soft_key(PV_ALG_P256), *other = soft_key(PV_ALG_P256), *ed = soft_key(PV_ALG_ED25519);
	struct pv_bundle_entry *e, swapped;
	const struct pv_bundle_entry *o, *ee;
	struct pv_key *k = NULL;
	struct counts before;
	pv_err r;

	assert_int_equal(pv_bundle_put_value(f->b, f->soft, "PLAIN", PV_ENTRY_ENV, (const uint8_t *)"v", 1),
			 PV_OK);
	add_key(f, "victim", pk);
	o = add_key(f, "other", other);
	snapshot(f->tok, &before);

	/* not a private key; a bad key name; a DEK that is not on the token */
	assert_int_equal(pv_bundle_install_key(f->ks, pv_bundle_find(f->b, "PLAIN"), f->dek, "plain",
					       PV_PURPOSE_SIGN, 0, NULL, NULL),
			 PV_ERR_KEY_TYPE);
	e = pv_bundle_find(f->b, "victim");
	assert_int_equal(pv_bundle_install_key(f->ks, e, f->dek, "-bad", PV_PURPOSE_NONE, 0, NULL, NULL),
			 PV_ERR_USAGE);
	assert_int_equal(pv_bundle_install_key(f->ks, e, f->soft, "victim", PV_PURPOSE_NONE, 0, NULL, NULL),
			 PV_ERR_USAGE);
	assert_unchanged(f->tok, &before);

	/* a wrapped key with another key's public_key: the proof fails after the
	 * unwrap, and the persistent key it made is gone again */
	swapped = *e;
	swapped.public_key = o->public_key;
	swapped.public_key_len = o->public_key_len;
	assert_int_equal(
	    pv_bundle_install_key(f->ks, &swapped, f->dek, "swapped", PV_PURPOSE_NONE, 0, NULL, &k),
	    PV_ERR_INTEGRITY);
	assert_null(k);
	assert_unchanged(f->tok, &before);
	assert_int_equal(pv_keys_get(f->ks, "swapped", &k), PV_ERR_NOT_FOUND);

	/* altered wrapped bytes */
	e->data[e->data_len / 2] ^= 1;
	assert_int_equal(pv_bundle_install_key(f->ks, e, f->dek, "victim", PV_PURPOSE_NONE, 0, NULL, NULL),
			 PV_ERR_INTEGRITY);
	e->data[e->data_len / 2] ^= 1;
	assert_unchanged(f->tok, &before);

	/* SoftHSM 2.6 cannot unwrap Ed25519 PKCS#8; another token may */
	ee = add_key(f, "ed", ed);
	r = pv_bundle_install_key(f->ks, ee, f->dek, "ed", PV_PURPOSE_NONE, 0, NULL, &k);
	if (r == PV_OK) {
		assert_non_null(k);
		pv_key_free(k);
		k = NULL;
	} else {
		assert_int_equal(r, PV_ERR_MECHANISM);
		assert_non_null(strstr(pv_err_detail(), "Ed25519"));
		assert_unchanged(f->tok, &before);
	}
	EVP_PKEY_free(ed);
	EVP_PKEY_free(other);
	EVP_PKEY_free(pk);
}

/* A failure after the unwrap (the public object, the proof) leaves nothing. */
static void
test_install_undoes(void **state)
{
	struct fixture *f = *state;
	EVP_PKEY *pk = soft_key(PV_ALG_SECP256K1);
	const struct pv_bundle_entry *e = add_key(f, "undo", pk);
	struct pv_key *k = NULL;
	struct counts before;

	snapshot(f->tok, &before);
	fault_reset_counts();
	assert_int_equal(fault_set("C_CreateObject:CKR_DEVICE_MEMORY"), 0);
	assert_int_equal(pv_bundle_install_key(f->ks, e, f->dek, "undo", PV_PURPOSE_NONE, 0, NULL, &k),
			 PV_ERR_NOMEM);
	assert_null(k);
	/* the key was unwrapped and proved, then removed again */
	assert_int_equal(fault_count("C_UnwrapKey"), 1);
	assert_int_equal(fault_count("C_Sign"), 1);
	assert_int_equal(fault_count("C_DestroyObject"), 1);
	assert_unchanged(f->tok, &before);
	assert_int_equal(pv_keys_get(f->ks, "undo", &k), PV_ERR_NOT_FOUND);

	fault_reset_counts();
	assert_int_equal(fault_set("C_Sign:CKR_DEVICE_MEMORY"), 0);
	assert_int_equal(pv_bundle_install_key(f->ks, e, f->dek, "undo", PV_PURPOSE_NONE, 0, NULL, &k),
			 PV_ERR_NOMEM);
	assert_int_equal(fault_count("C_UnwrapKey"), 1);
	assert_int_equal(fault_count("C_DestroyObject"), 1);
	assert_unchanged(f->tok, &before);
	assert_int_equal(fault_set(""), 0);

	/* and with the faults gone it installs */
	assert_int_equal(pv_bundle_install_key(f->ks, e, f->dek, "undo", PV_PURPOSE_NONE, 0, NULL, &k),
			 PV_OK);
	assert_non_null(k);
	pv_key_free(k);
	EVP_PKEY_free(pk);
}

/*
 * Purposes: an entry's purpose is the installed key's; another one asked
 * for is refused, as is an entry without one (sealed before purposes)
 * unless one is given, and a purpose the algorithm cannot have. Refusals
 * leave the token as it was. The installed key is used only for its
 * purpose.
 */
static void
test_install_purposes(void **state)
{
	static const uint8_t msg[] = "purposes";
	struct fixture *f = *state;
	EVP_PKEY *jk = soft_key(PV_ALG_P256), *lk = soft_key(PV_ALG_SECP256K1);
	struct pv_bundle_entry *legacy;
	const struct pv_bundle_entry *je;
	struct pv_sign_opts so = {.purpose = PV_PURPOSE_SIGN};
	struct pv_key *k = NULL;
	struct pv_sig sig;
	struct counts before;

	/* put_key: a purpose is required and must fit the key */
	assert_int_equal(pv_bundle_put_key(f->b, f->soft, "nopurpose", jk, PV_PURPOSE_NONE), PV_ERR_USAGE);
	assert_non_null(strstr(pv_err_detail(), "jwt, sign"));
	assert_int_equal(pv_bundle_put_key(f->b, f->soft, "evm-p256", jk, PV_PURPOSE_EVM), PV_ERR_USAGE);
	assert_int_equal(pv_bundle_put_key(f->b, f->soft, "wrap-p256", jk, PV_PURPOSE_WRAP), PV_ERR_USAGE);
	assert_int_equal(pv_bundle_put_key(f->b, f->soft, "audit-p256", jk, PV_PURPOSE_AUDIT), PV_ERR_USAGE);
	assert_null(pv_bundle_find(f->b, "nopurpose"));
	assert_null(pv_bundle_find(f->b, "evm-p256"));

	add_key_for(f, "issuer", jk, PV_PURPOSE_JWT);
	add_key_for(f, "oldwallet", lk, PV_PURPOSE_EVM);
	/* found after both inserts: an insert may move the entries array */
	je = pv_bundle_find(f->b, "issuer");
	assert_non_null(je);
	legacy = pv_bundle_find(f->b, "oldwallet");
	legacy->purpose = PV_PURPOSE_NONE; /* as a format-1 bundle reads */
	snapshot(f->tok, &before);

	/* another purpose than the entry's: refused before the unwrap */
	assert_int_equal(pv_bundle_install_key(f->ks, je, f->dek, "issuer", PV_PURPOSE_SIGN, 0, NULL, &k),
			 PV_ERR_PURPOSE);
	assert_non_null(strstr(pv_err_detail(), "purpose jwt"));
	/* an entry without a purpose needs one, and one that fits */
	assert_int_equal(
	    pv_bundle_install_key(f->ks, legacy, f->dek, "oldwallet", PV_PURPOSE_NONE, 0, NULL, &k),
	    PV_ERR_PURPOSE);
	assert_non_null(strstr(pv_err_detail(), "--purpose"));
	assert_int_equal(
	    pv_bundle_install_key(f->ks, legacy, f->dek, "oldwallet", PV_PURPOSE_SOLANA, 0, NULL, &k),
	    PV_ERR_USAGE);
	assert_null(k);
	assert_unchanged(f->tok, &before);

	/* the entry's purpose, or the one given for a legacy entry */
	assert_int_equal(pv_bundle_install_key(f->ks, je, f->dek, "issuer", PV_PURPOSE_JWT, 0, NULL, &k),
			 PV_OK);
	assert_int_equal(k->purpose, PV_PURPOSE_JWT);
	pv_key_free(k);
	k = NULL;
	assert_int_equal(
	    pv_bundle_install_key(f->ks, legacy, f->dek, "oldwallet", PV_PURPOSE_EVM, 0, NULL, &k), PV_OK);
	assert_int_equal(k->purpose, PV_PURPOSE_EVM);
	pv_key_free(k);
	k = NULL;

	/* and each is used for its purpose only */
	assert_int_equal(pv_sign(f->ks, "issuer", &so, msg, sizeof(msg), &sig), PV_ERR_PURPOSE);
	assert_int_equal(pv_sign(f->ks, "oldwallet", &so, msg, sizeof(msg), &sig), PV_ERR_PURPOSE);
	so.purpose = PV_PURPOSE_JWT;
	assert_int_equal(pv_sign(f->ks, "issuer", &so, msg, sizeof(msg), &sig), PV_OK);
	assert_int_equal(
	    pv_pubkey_verify(jk, PV_ALG_P256, 0, PV_DIGEST_DEFAULT, msg, sizeof(msg), 0, sig.bytes, sig.len),
	    PV_OK);
	EVP_PKEY_free(jk);
	EVP_PKEY_free(lk);
}

static size_t
count_secrets(p11_token *tok)
{
	return count(tok, CKO_SECRET_KEY);
}

/*
 * The explicit Ed25519 fallback through install-key: off by default; a
 * failure at each step after the token's refusal (the value read, the key
 * creation) leaves nothing, not even the temporary secret; on, the key is a
 * persistent protected key that signs as the original.
 */
static void
test_install_ed25519_fallback(void **state)
{
	static const uint8_t msg[] = "a Solana wallet key from id.json";
	struct fixture *f = *state;
	EVP_PKEY *pk = soft_key(PV_ALG_ED25519);
	const struct pv_bundle_entry *e = add_key(f, "sol", pk);
	struct pv_key *k = NULL, *again = NULL;
	struct pv_key_version ver;
	struct pv_sign_opts so = {.purpose = PV_PURPOSE_SIGN};
	struct pv_sig sig;
	struct counts before;
	size_t secrets;
	int used = -1;
	p11_obj obj;
	pv_err r;

	snapshot(f->tok, &before);
	secrets = count_secrets(f->tok);
	r = pv_bundle_install_key(f->ks, e, f->dek, "sol", PV_PURPOSE_NONE, 0, &used, &k);
	if (r == PV_OK) {
		/* a token that unwraps Ed25519 itself: nothing to fall back from */
		assert_int_equal(used, 0);
		pv_key_free(k);
		EVP_PKEY_free(pk);
		skip();
	}
	assert_int_equal(r, PV_ERR_MECHANISM);
	assert_non_null(strstr(pv_err_detail(), "--allow-key-import-fallback"));
	assert_int_equal(used, 0);
	assert_unchanged(f->tok, &before);

	/* the value read fails: the temporary secret is destroyed anyway */
	fault_reset_counts();
	assert_int_equal(fault_set("C_GetAttributeValue:CKR_DEVICE_MEMORY"), 0);
	assert_int_not_equal(pv_bundle_install_key(f->ks, e, f->dek, "sol", PV_PURPOSE_NONE, 1, &used, &k),
			     PV_OK);
	assert_null(k);
	assert_int_equal(used, 0);
	assert_int_equal(fault_count("C_UnwrapKey"), 2);
	assert_int_equal(fault_count("C_DestroyObject"), 1);
	assert_unchanged(f->tok, &before);
	assert_int_equal(count_secrets(f->tok), secrets);

	/* the key creation fails after the seed was read: nothing is left */
	fault_reset_counts();
	assert_int_equal(fault_set("C_CreateObject:CKR_DEVICE_MEMORY"), 0);
	assert_int_equal(pv_bundle_install_key(f->ks, e, f->dek, "sol", PV_PURPOSE_NONE, 1, &used, &k),
			 PV_ERR_NOMEM);
	assert_null(k);
	assert_int_equal(fault_count("C_UnwrapKey"), 2);
	assert_int_equal(fault_count("C_CreateObject"), 1);
	assert_int_equal(fault_count("C_DestroyObject"), 1);
	assert_unchanged(f->tok, &before);
	assert_int_equal(count_secrets(f->tok), secrets);

	/* a first failed destroy of the temporary secret is tried again */
	fault_reset_counts();
	assert_int_equal(fault_set("C_DestroyObject:CKR_GENERAL_ERROR"), 0);
	assert_int_equal(pv_bundle_install_key(f->ks, e, f->dek, "sol", PV_PURPOSE_NONE, 1, &used, &k),
			 PV_OK);
	assert_int_equal(fault_set(""), 0);
	assert_int_equal(used, 1);
	/* the failed one, its retry, and the adoption's change lock */
	assert_int_equal(fault_count("C_DestroyObject"), 3);
	assert_int_equal(count_secrets(f->tok), secrets);
	assert_non_null(k);
	assert_int_equal(k->alg, PV_ALG_ED25519);

	assert_int_equal(pv_keys_resolve(f->ks, "sol", 0, &again, &ver, &obj), PV_OK);
	assert_int_equal(p11_obj_find(f->tok, &obj), PV_OK);
	assert_bool(f->tok, obj.handle, CKA_TOKEN, CK_TRUE);
	assert_bool(f->tok, obj.handle, CKA_SENSITIVE, CK_TRUE);
	assert_bool(f->tok, obj.handle, CKA_EXTRACTABLE, CK_FALSE);
	assert_bool(f->tok, obj.handle, CKA_SIGN, CK_TRUE);
	assert_int_equal(pv_sign(f->ks, "sol", &so, msg, sizeof(msg), &sig), PV_OK);
	assert_int_equal(
	    pv_pubkey_verify(pk, PV_ALG_ED25519, 0, PV_DIGEST_NONE, msg, sizeof(msg), 0, sig.bytes, sig.len),
	    PV_OK);
	sig.bytes[7] ^= 1;
	assert_int_equal(
	    pv_pubkey_verify(pk, PV_ALG_ED25519, 0, PV_DIGEST_NONE, msg, sizeof(msg), 0, sig.bytes, sig.len),
	    PV_ERR_BAD_SIGNATURE);

	pv_key_free(again);
	pv_key_free(k);
	EVP_PKEY_free(pk);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_pubkey_objects, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_install_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_install_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_install_undoes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_install_purposes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_install_ed25519_fallback, setup, teardown),
	};
	int r;

	if (pv_secmem_init() != PV_OK)
		return 1;
	if ((r = tu_make_token(&T, "pvinstall")) != 0)
		return r == TU_SKIP ? TU_SKIP : 1;
	if (access(PV_FAULTMOD, R_OK) != 0) {
		fprintf(stderr, "fault shim %s not built\n", PV_FAULTMOD);
		return 1;
	}
	setenv("PV_FAULT_MODULE", T.module, 1);
	r = cmocka_run_group_tests(tests, NULL, NULL);
	tu_remove_token(&T);
	return r;
}
