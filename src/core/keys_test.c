/*
 * The keystore on a throwaway SoftHSM token behind the fault-injection shim:
 * the handle cache keeps C_FindObjects off the signing path, version states
 * gate signing and verification, signing survives a lost device, and
 * hostile or leftover metadata on the token is handled.
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

#include "base/secmem.h"
#include "core/keys_internal.h"
#include "core/sign.h"
#include "pkcs11/testutil.h"

static struct tu_token T;
static int (*fault_set)(const char *spec);
static unsigned long (*fault_count)(const char *fn);
static void (*fault_reset_counts)(void);
static int (*fault_set_attr)(const char *spec);

struct fixture {
	p11_token *tok;
	pv_keystore *ks;
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
	    pv_keystore_new(f->tok, &f->ks) != PV_OK)
		return -1;
	if ((dl = dlopen(PV_FAULTMOD, RTLD_NOW | RTLD_NOLOAD)) == NULL)
		return -1;
	*(void **)(&fault_set) = dlsym(dl, "pv_fault_set");
	*(void **)(&fault_count) = dlsym(dl, "pv_fault_count");
	*(void **)(&fault_reset_counts) = dlsym(dl, "pv_fault_reset_counts");
	*(void **)(&fault_set_attr) = dlsym(dl, "pv_fault_set_attr");
	dlclose(dl);
	if (fault_set == NULL || fault_count == NULL || fault_reset_counts == NULL || fault_set_attr == NULL)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	pv_keystore_free(f->ks);
	p11_token_close(f->tok);
	free(f);
	return 0;
}

static const uint8_t msg[] = "p11vault keys_test message";

static void
test_sign_does_not_search(void **state)
{
	struct fixture *f = *state;
	struct pv_sign_opts o = {.purpose = PV_PURPOSE_SIGN};
	struct pv_sig sig;
	int i;

	assert_int_equal(pv_keys_create(f->ks, "hot", PV_ALG_P256, PV_PURPOSE_SIGN, NULL), PV_OK);
	assert_int_equal(pv_sign(f->ks, "hot", &o, msg, sizeof(msg), &sig), PV_OK);
	fault_reset_counts();
	for (i = 0; i < 20; i++)
		assert_int_equal(pv_sign(f->ks, "hot", &o, msg, sizeof(msg), &sig), PV_OK);
	assert_int_equal(fault_count("C_Sign"), 20);
	/* the handle cache and metadata cache: no searching on the hot path */
	assert_int_equal(fault_count("C_FindObjectsInit"), 0);
	assert_int_equal(pv_verify(f->ks, "hot", &o, msg, sizeof(msg), sig.bytes, sig.len), PV_OK);
}

static void
test_states_gate_operations(void **state)
{
	struct fixture *f = *state;
	struct pv_sign_opts o = {.purpose = PV_PURPOSE_SIGN};
	struct pv_sig s1, s2;
	unsigned v = 0;

	assert_int_equal(pv_keys_create(f->ks, "states", PV_ALG_ED25519, PV_PURPOSE_SIGN, NULL), PV_OK);
	assert_int_equal(pv_sign(f->ks, "states", &o, msg, sizeof(msg), &s1), PV_OK);
	assert_int_equal(s1.version, 1);
	assert_int_equal(pv_keys_rotate(f->ks, "states", 1, &v), PV_OK);
	assert_int_equal(v, 2);
	/* a second next version is refused while one is pending */
	assert_int_equal(pv_keys_rotate(f->ks, "states", 1, NULL), PV_ERR_STATE);
	/* next does not sign; active still does */
	o.version = 2;
	assert_int_equal(pv_sign(f->ks, "states", &o, msg, sizeof(msg), &s2), PV_ERR_STATE);
	o.version = 0;
	assert_int_equal(pv_sign(f->ks, "states", &o, msg, sizeof(msg), &s2), PV_OK);
	assert_int_equal(s2.version, 1);
	assert_int_equal(pv_keys_activate(f->ks, "states", 2), PV_OK);
	assert_int_equal(pv_sign(f->ks, "states", &o, msg, sizeof(msg), &s2), PV_OK);
	assert_int_equal(s2.version, 2);
	/* the old version verifies while verify-only, not once retired */
	o.version = 1;
	assert_int_equal(pv_verify(f->ks, "states", &o, msg, sizeof(msg), s1.bytes, s1.len), PV_OK);
	assert_int_equal(pv_verify(f->ks, "states", &o, msg, sizeof(msg), s2.bytes, s2.len),
			 PV_ERR_BAD_SIGNATURE);
	assert_int_equal(pv_keys_retire(f->ks, "states", 2), PV_ERR_STATE);
	assert_int_equal(pv_keys_retire(f->ks, "states", 1), PV_OK);
	assert_int_equal(pv_verify(f->ks, "states", &o, msg, sizeof(msg), s1.bytes, s1.len), PV_ERR_STATE);
	assert_int_equal(pv_keys_destroy(f->ks, "states", 2), PV_ERR_STATE);
	assert_int_equal(pv_keys_destroy(f->ks, "states", 1), PV_OK);
	assert_int_equal(pv_sign(f->ks, "states", &o, msg, sizeof(msg), &s2), PV_ERR_NOT_FOUND);
}

static void
test_sign_survives_device_loss(void **state)
{
	struct fixture *f = *state;
	struct pv_sign_opts o = {.purpose = PV_PURPOSE_SIGN};
	struct pv_sig sig;
	struct p11_token_stats before, after;

	assert_int_equal(pv_keys_create(f->ks, "sturdy", PV_ALG_SECP256K1, PV_PURPOSE_SIGN, NULL), PV_OK);
	assert_int_equal(pv_sign(f->ks, "sturdy", &o, msg, sizeof(msg), &sig), PV_OK);
	p11_token_get_stats(f->tok, &before);
	assert_int_equal(fault_set("C_Sign:CKR_DEVICE_REMOVED:1"), 0);
	assert_int_equal(pv_sign(f->ks, "sturdy", &o, msg, sizeof(msg), &sig), PV_OK);
	assert_int_equal(fault_set(""), 0);
	p11_token_get_stats(f->tok, &after);
	assert_true(after.recoveries > before.recoveries);
	/* the re-found handle went back into the cache: no search next time */
	fault_reset_counts();
	assert_int_equal(pv_sign(f->ks, "sturdy", &o, msg, sizeof(msg), &sig), PV_OK);
	assert_int_equal(fault_count("C_FindObjectsInit"), 0);
	assert_int_equal(pv_verify(f->ks, "sturdy", &o, msg, sizeof(msg), sig.bytes, sig.len), PV_OK);
}

static pv_err
put_data_object(p11_token *tok, const char *label, const char *value)
{
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_BBOOL t = CK_TRUE;
	CK_OBJECT_HANDLE h;
	CK_ATTRIBUTE a[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_TOKEN, &t, sizeof(t)},
	    {CKA_PRIVATE, &t, sizeof(t)},
	    {CKA_LABEL, (void *)(uintptr_t)label, strlen(label)},
	    {CKA_APPLICATION, (void *)(uintptr_t) "p11vault", 8},
	    {CKA_VALUE, (void *)(uintptr_t)value, strlen(value)},
	};

	return p11_create_object(tok, a, PV_NELEM(a), &h);
}

static void
drop_data_objects(p11_token *tok, const char *label)
{
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_ATTRIBUTE a[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_LABEL, (void *)(uintptr_t)label, strlen(label)},
	};
	CK_OBJECT_HANDLE *hs = NULL;
	size_t n = 0, i;

	assert_int_equal(p11_find_all(tok, a, PV_NELEM(a), &hs, &n), PV_OK);
	for (i = 0; i < n; i++)
		assert_int_equal(p11_handle_destroy(tok, hs[i]), PV_OK);
	free(hs);
}

static void
test_hostile_metadata(void **state)
{
	struct fixture *f = *state;
	struct pv_key *k = NULL;

	assert_int_equal(put_data_object(f->tok, "evil", "{\"format\":1,\"name\":\"evil\",\"versions\":"),
			 PV_OK);
	assert_int_equal(pv_keys_get(f->ks, "evil", &k), PV_ERR_INTEGRITY);
	assert_null(k);
	/* metadata claiming another key's name is not believed either */
	assert_int_equal(
	    put_data_object(f->tok, "liar",
			    "{\"format\":1,\"name\":\"hot\",\"alg\":\"p256\",\"serial\":1,\"versions\":[{"
			    "\"version\":1,\"state\":\"active\",\"id\":\"00\",\"created\":\"2026-01-01T00:"
			    "00:00Z\",\"origin\":\"generated\"}]}"),
	    PV_OK);
	assert_int_equal(pv_keys_get(f->ks, "liar", &k), PV_ERR_INTEGRITY);
	/* the token is shared by the tests: what lists every key (adoption
	 * looks for an earlier claim on the key) would fail on these too */
	drop_data_objects(f->tok, "evil");
	drop_data_objects(f->tok, "liar");
}

static size_t
count_metadata(p11_token *tok, const char *label)
{
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_ATTRIBUTE a[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_LABEL, (void *)(uintptr_t)label, strlen(label)},
	};
	CK_OBJECT_HANDLE *hs = NULL;
	size_t n = 0;

	assert_int_equal(p11_find_all(tok, a, 2, &hs, &n), PV_OK);
	free(hs);
	return n;
}

static void
test_leftover_metadata_copy(void **state)
{
	struct fixture *f = *state;
	struct pv_key *k = NULL;
	char *json = NULL;

	/* an update interrupted between "write new" and "destroy old" leaves two
	 * copies; the higher serial wins and the next change cleans up */
	assert_int_equal(pv_keys_create(f->ks, "twice", PV_ALG_P384, PV_PURPOSE_SIGN, &k), PV_OK);
	k->versions[0].state = PV_STATE_VERIFY_ONLY;
	k->serial = 0; /* older than what create stored */
	assert_int_equal(pv_keymeta_serialize(k, &json), PV_OK);
	assert_int_equal(put_data_object(f->tok, "twice", json), PV_OK);
	pv_key_free(k);
	k = NULL;
	pv_keystore_flush(f->ks);
	assert_int_equal(pv_keys_get(f->ks, "twice", &k), PV_OK);
	assert_int_equal(k->versions[0].state, PV_STATE_ACTIVE);
	pv_key_free(k);
	assert_int_equal(pv_keys_rotate(f->ks, "twice", 0, NULL), PV_OK);
	assert_int_equal(count_metadata(f->tok, "twice"), 1);
	free(json);
}

/* A CK_BBOOL attribute of one object of a key version, read from the token. */
static CK_BBOOL
version_bool(struct fixture *f, const struct pv_key *k, unsigned version, CK_OBJECT_CLASS cls,
	     CK_ATTRIBUTE_TYPE type)
{
	const struct pv_key_version *v = pv_key_find_version(k, version);
	CK_BBOOL b = 0x55; /* neither TRUE nor FALSE until the token answers */
	p11_obj o;

	assert_non_null(v);
	memset(&o, 0, sizeof(o));
	o.cls = cls;
	memcpy(o.id, v->id, v->id_len);
	o.id_len = v->id_len;
	o.handle = CK_INVALID_HANDLE;
	assert_int_equal(p11_obj_find(f->tok, &o), PV_OK);
	assert_int_equal(p11_handle_get_bool(f->tok, o.handle, type, &b), PV_OK);
	return b;
}

static void
assert_usage_on_token(struct fixture *f, const struct pv_key *k, unsigned version, int decrypt)
{
	CK_BBOOL want_dec = decrypt ? CK_TRUE : CK_FALSE, want_sig = decrypt ? CK_FALSE : CK_TRUE;

	assert_int_equal(version_bool(f, k, version, CKO_PRIVATE_KEY, CKA_DECRYPT), want_dec);
	assert_int_equal(version_bool(f, k, version, CKO_PRIVATE_KEY, CKA_UNWRAP), want_dec);
	assert_int_equal(version_bool(f, k, version, CKO_PRIVATE_KEY, CKA_SIGN), want_sig);
	assert_int_equal(version_bool(f, k, version, CKO_PUBLIC_KEY, CKA_ENCRYPT), want_dec);
	assert_int_equal(version_bool(f, k, version, CKO_PUBLIC_KEY, CKA_WRAP), want_dec);
	assert_int_equal(version_bool(f, k, version, CKO_PUBLIC_KEY, CKA_VERIFY), want_sig);
	/* protection as for every key */
	assert_int_equal(version_bool(f, k, version, CKO_PRIVATE_KEY, CKA_SENSITIVE), CK_TRUE);
	assert_int_equal(version_bool(f, k, version, CKO_PRIVATE_KEY, CKA_EXTRACTABLE), CK_FALSE);
}

static void
test_decrypt_usage_on_token(void **state)
{
	struct fixture *f = *state;
	struct pv_key *k = NULL, *sk = NULL;
	CK_MECHANISM mech = {CKM_RSA_PKCS, NULL, 0};
	uint8_t sig[512];
	size_t siglen = sizeof(sig);
	p11_obj obj;

	assert_int_equal(pv_keys_create(f->ks, "recipient", PV_ALG_RSA2048, PV_PURPOSE_DECRYPT, &k), PV_OK);
	assert_int_equal(k->usage, PV_USAGE_DECRYPT);
	assert_usage_on_token(f, k, 1, 1);
	/* the stored metadata says so too (not only the returned copy) */
	pv_key_free(k);
	k = NULL;
	pv_keystore_flush(f->ks);
	assert_int_equal(pv_keys_get(f->ks, "recipient", &k), PV_OK);
	assert_int_equal(k->usage, PV_USAGE_DECRYPT);
	/* the token itself refuses to sign with it, not only p11vault */
	memset(&obj, 0, sizeof(obj));
	obj.cls = CKO_PRIVATE_KEY;
	memcpy(obj.id, k->versions[0].id, k->versions[0].id_len);
	obj.id_len = k->versions[0].id_len;
	obj.handle = CK_INVALID_HANDLE;
	assert_int_equal(p11_obj_find(f->tok, &obj), PV_OK);
	assert_int_not_equal(p11_sign(f->tok, &mech, &obj, msg, 32, sig, &siglen), PV_OK);
	/* the default usage is unchanged: sign, never decrypt */
	assert_int_equal(pv_keys_create(f->ks, "signer", PV_ALG_RSA2048, PV_PURPOSE_SIGN, &sk), PV_OK);
	assert_int_equal(sk->usage, PV_USAGE_SIGN);
	assert_usage_on_token(f, sk, 1, 0);
	pv_key_free(sk);
	pv_key_free(k);
}

static size_t count_label(p11_token *tok, const char *label);

/* A purpose that does not fit the algorithm (or none at all) makes nothing,
 * and the error lists the purposes that do fit. */
static void
test_purpose_must_fit(void **state)
{
	struct fixture *f = *state;
	struct pv_key *k = NULL;
	static const struct {
		pv_alg alg;
		pv_key_purpose purpose;
		const char *fits;
	} cases[] = {
	    {PV_ALG_P256, PV_PURPOSE_DECRYPT, "jwt, sign, derive"},
	    {PV_ALG_ED25519, PV_PURPOSE_EVM, "jwt, sign, solana"},
	    {PV_ALG_SECP256K1, PV_PURPOSE_SOLANA, "jwt, sign, evm"},
	    {PV_ALG_AES256, PV_PURPOSE_SIGN, "wrap"},
	    {PV_ALG_HMAC_SHA256, PV_PURPOSE_JWT, "sign, audit, derive"},
	    {PV_ALG_RSA2048, PV_PURPOSE_WRAP, "jwt, sign, decrypt"},
	    {PV_ALG_P384, PV_PURPOSE_DERIVE, "jwt, sign"},
	    {PV_ALG_P256, PV_PURPOSE_NONE, "jwt, sign, derive"},
	    {PV_ALG_P256, (pv_key_purpose)77, "jwt, sign, derive"},
	};
	size_t i;

	for (i = 0; i < PV_NELEM(cases); i++) {
		pv_err_clear_detail();
		assert_int_equal(pv_keys_create(f->ks, "misfit", cases[i].alg, cases[i].purpose, &k),
				 PV_ERR_USAGE);
		assert_null(k);
		assert_non_null(strstr(pv_err_detail(), cases[i].fits));
		assert_int_equal(pv_keys_get(f->ks, "misfit", &k), PV_ERR_NOT_FOUND);
		assert_int_equal(count_label(f->tok, "misfit.v1"), 0);
	}
}

static void
test_rotate_keeps_usage(void **state)
{
	struct fixture *f = *state;
	struct pv_key *k = NULL;
	unsigned v = 0;

	assert_int_equal(pv_keys_create(f->ks, "recip-rot", PV_ALG_RSA3072, PV_PURPOSE_DECRYPT, NULL), PV_OK);
	assert_int_equal(pv_keys_rotate(f->ks, "recip-rot", 1, &v), PV_OK);
	assert_int_equal(v, 2);
	assert_int_equal(pv_keys_activate(f->ks, "recip-rot", 2), PV_OK);
	assert_int_equal(pv_keys_rotate(f->ks, "recip-rot", 0, &v), PV_OK);
	assert_int_equal(v, 3);
	pv_keystore_flush(f->ks);
	assert_int_equal(pv_keys_get(f->ks, "recip-rot", &k), PV_OK);
	assert_int_equal(k->usage, PV_USAGE_DECRYPT);
	assert_int_equal(k->alg, PV_ALG_RSA3072);
	assert_usage_on_token(f, k, 2, 1);
	assert_usage_on_token(f, k, 3, 1);
	pv_key_free(k);
}

/* A second keystore on the same token (another vaultd replica) sees a
 * rotation only once its cached metadata is older than its TTL. */
static void
test_meta_ttl_sees_other_writer(void **state)
{
	struct fixture *f = *state;
	pv_keystore *other = NULL;
	struct pv_key *k = NULL;
	unsigned v = 0;

	assert_int_equal(pv_keys_create(f->ks, "ttl-key", PV_ALG_P256, PV_PURPOSE_SIGN, NULL), PV_OK);
	assert_int_equal(pv_keystore_new(f->tok, &other), PV_OK);
	assert_int_equal(pv_keys_get(other, "ttl-key", &k), PV_OK); /* now cached there */
	assert_int_equal(k->nversions, 1);
	pv_key_free(k);
	assert_int_equal(pv_keys_rotate(f->ks, "ttl-key", 0, &v), PV_OK);
	/* default: trusted until flushed (one-shot vaultctl) */
	assert_int_equal(pv_keys_get(other, "ttl-key", &k), PV_OK);
	assert_int_equal(k->nversions, 1);
	pv_key_free(k);
	/* with a TTL the copy expires and the token is read again */
	pv_keystore_set_meta_ttl(other, 1);
	sleep(2);
	assert_int_equal(pv_keys_get(other, "ttl-key", &k), PV_OK);
	assert_int_equal(k->nversions, 2);
	assert_int_equal(pv_key_active(k)->version, v);
	pv_key_free(k);
	pv_keystore_free(other);
}

static void
test_sign_refuses_decrypt_key(void **state)
{
	struct fixture *f = *state;
	struct pv_sign_opts o = {.purpose = PV_PURPOSE_SIGN};
	struct pv_sig sig;
	uint8_t fake[256] = {0};

	assert_int_equal(pv_keys_create(f->ks, "no-sign", PV_ALG_RSA2048, PV_PURPOSE_DECRYPT, NULL), PV_OK);
	fault_reset_counts();
	assert_int_equal(pv_sign(f->ks, "no-sign", &o, msg, sizeof(msg), &sig), PV_ERR_PURPOSE);
	assert_non_null(
	    strstr(pv_err_detail(), "key 'no-sign' has purpose decrypt; this needs a key of purpose sign"));
	o.pss = 1;
	assert_int_equal(pv_sign(f->ks, "no-sign", &o, msg, sizeof(msg), &sig), PV_ERR_PURPOSE);
	assert_int_equal(fault_count("C_SignInit"), 0); /* refused before the token */
	assert_int_equal(pv_verify(f->ks, "no-sign", &o, msg, sizeof(msg), fake, sizeof(fake)),
			 PV_ERR_PURPOSE);
}

/*
 * Invariant 6 in the library itself: a key signs only for its own purpose,
 * whichever caller asks. A jwt key gives no raw signature, a sign key no
 * JWT-purpose or wallet signature, an audit key nothing but audit MACs; a
 * caller that names no purpose is a bug.
 */
static void
test_sign_only_for_purpose(void **state)
{
	struct fixture *f = *state;
	struct pv_sign_opts o = {0};
	struct pv_sig sig;
	static const struct {
		const char *name;
		pv_alg alg;
		pv_key_purpose purpose;
	} keys[] = {
	    {"p-jwt", PV_ALG_P256, PV_PURPOSE_JWT},
	    {"p-sign", PV_ALG_P256, PV_PURPOSE_SIGN},
	    {"p-sol", PV_ALG_ED25519, PV_PURPOSE_SOLANA},
	    {"p-evm", PV_ALG_SECP256K1, PV_PURPOSE_EVM},
	    {"p-audit", PV_ALG_HMAC_SHA256, PV_PURPOSE_AUDIT},
	    {"p-derive", PV_ALG_HMAC_SHA256, PV_PURPOSE_DERIVE},
	};
	size_t i, j;

	for (i = 0; i < PV_NELEM(keys); i++)
		assert_int_equal(pv_keys_create(f->ks, keys[i].name, keys[i].alg, keys[i].purpose, NULL),
				 PV_OK);
	fault_reset_counts();
	for (i = 0; i < PV_NELEM(keys); i++) {
		for (j = PV_PURPOSE_JWT; j < PV_PURPOSE_COUNT; j++) {
			o.purpose = (pv_key_purpose)j;
			o.digest = pv_alg_info(keys[i].alg)->family == PV_FAMILY_EC ? PV_DIGEST_DEFAULT
										    : PV_DIGEST_NONE;
			pv_err_clear_detail();
			if (o.purpose == keys[i].purpose) {
				assert_int_equal(pv_sign(f->ks, keys[i].name, &o, msg, 32, &sig), PV_OK);
				continue;
			}
			assert_int_equal(pv_sign(f->ks, keys[i].name, &o, msg, 32, &sig), PV_ERR_PURPOSE);
			assert_non_null(strstr(pv_err_detail(), pv_key_purpose_name(keys[i].purpose)));
		}
	}
	/* exactly one signature per key reached the token */
	assert_int_equal(fault_count("C_Sign"), PV_NELEM(keys));
	o.purpose = PV_PURPOSE_NONE;
	assert_int_equal(pv_sign(f->ks, "p-sign", &o, msg, 32, &sig), PV_ERR_INTERNAL);
}

/* A key made before purposes existed: refused for every use, rotation
 * included, until it is given one; then it works; a purpose never changes. */
static void
test_legacy_key_needs_purpose(void **state)
{
	struct fixture *f = *state;
	struct pv_sign_opts o = {.purpose = PV_PURPOSE_SIGN};
	struct pv_key *k = NULL;
	struct pv_sig sig;
	char *json = NULL;

	assert_int_equal(pv_keys_create(f->ks, "old", PV_ALG_P256, PV_PURPOSE_SIGN, &k), PV_OK);
	/* the same metadata as an earlier version wrote it: no "purpose" */
	k->purpose = PV_PURPOSE_NONE;
	k->serial += 10;
	assert_int_equal(pv_keymeta_serialize(k, &json), PV_OK);
	assert_null(strstr(json, "purpose"));
	assert_int_equal(put_data_object(f->tok, "old", json), PV_OK);
	pv_key_free(k);
	k = NULL;
	pv_keystore_flush(f->ks);
	assert_int_equal(pv_keys_get(f->ks, "old", &k), PV_OK);
	assert_int_equal(k->purpose, PV_PURPOSE_NONE);
	pv_key_free(k);
	k = NULL;
	assert_int_equal(pv_sign(f->ks, "old", &o, msg, sizeof(msg), &sig), PV_ERR_PURPOSE);
	assert_non_null(strstr(pv_err_detail(), "vaultctl key set-purpose old PURPOSE"));
	assert_int_equal(pv_keys_rotate(f->ks, "old", 0, NULL), PV_ERR_PURPOSE);
	/* a purpose that does not fit, or needs another token usage, is refused */
	assert_int_equal(pv_keys_set_purpose(f->ks, "old", PV_PURPOSE_EVM), PV_ERR_USAGE);
	assert_int_equal(pv_keys_set_purpose(f->ks, "old", PV_PURPOSE_DECRYPT), PV_ERR_USAGE);
	assert_int_equal(pv_keys_set_purpose(f->ks, "old", PV_PURPOSE_SIGN), PV_OK);
	assert_int_equal(pv_sign(f->ks, "old", &o, msg, sizeof(msg), &sig), PV_OK);
	/* stored (also for another reader), and fixed for good */
	pv_keystore_flush(f->ks);
	assert_int_equal(pv_keys_get(f->ks, "old", &k), PV_OK);
	assert_int_equal(k->purpose, PV_PURPOSE_SIGN);
	assert_int_equal(pv_keys_set_purpose(f->ks, "old", PV_PURPOSE_SIGN), PV_OK);
	assert_int_equal(pv_keys_set_purpose(f->ks, "old", PV_PURPOSE_JWT), PV_ERR_STATE);
	assert_int_equal(pv_keys_rotate(f->ks, "old", 0, NULL), PV_OK);
	assert_int_equal(count_metadata(f->tok, "old"), 1);
	pv_key_free(k);
	free(json);
}

/* The token usage attributes mirror the purpose: an ECDH key derives and
 * never signs, no other EC key derives. */
static void
test_derive_purpose_on_token(void **state)
{
	struct fixture *f = *state;
	struct pv_key *k = NULL, *s = NULL;

	assert_int_equal(pv_keys_create(f->ks, "ecdh", PV_ALG_P256, PV_PURPOSE_DERIVE, &k), PV_OK);
	assert_int_equal(version_bool(f, k, 1, CKO_PRIVATE_KEY, CKA_DERIVE), CK_TRUE);
	assert_int_equal(version_bool(f, k, 1, CKO_PRIVATE_KEY, CKA_SIGN), CK_FALSE);
	assert_int_equal(version_bool(f, k, 1, CKO_PUBLIC_KEY, CKA_VERIFY), CK_FALSE);
	assert_int_equal(pv_keys_create(f->ks, "ec-jwt", PV_ALG_P256, PV_PURPOSE_JWT, &s), PV_OK);
	assert_int_equal(version_bool(f, s, 1, CKO_PRIVATE_KEY, CKA_DERIVE), CK_FALSE);
	assert_int_equal(version_bool(f, s, 1, CKO_PRIVATE_KEY, CKA_SIGN), CK_TRUE);
	pv_key_free(k);
	pv_key_free(s);
}

static void
test_aes256_is_key_encryption_key(void **state)
{
	struct fixture *f = *state;
	struct pv_key *k = NULL;
	const struct pv_key_version *v;
	CK_BBOOL b = CK_FALSE;
	p11_obj o;
	size_t i;
	static const struct {
		CK_ATTRIBUTE_TYPE type;
		CK_BBOOL want;
	} attrs[] = {
	    {CKA_WRAP, CK_TRUE},      {CKA_UNWRAP, CK_TRUE},       {CKA_ENCRYPT, CK_FALSE},
	    {CKA_DECRYPT, CK_FALSE},  {CKA_SIGN, CK_FALSE},        {CKA_VERIFY, CK_FALSE},
	    {CKA_SENSITIVE, CK_TRUE}, {CKA_EXTRACTABLE, CK_FALSE},
	};

	assert_int_equal(pv_keys_create(f->ks, "kek", PV_ALG_AES256, PV_PURPOSE_WRAP, &k), PV_OK);
	v = &k->versions[0];
	memset(&o, 0, sizeof(o));
	o.cls = CKO_SECRET_KEY;
	memcpy(o.id, v->id, v->id_len);
	o.id_len = v->id_len;
	o.handle = CK_INVALID_HANDLE;
	assert_int_equal(p11_obj_find(f->tok, &o), PV_OK);
	for (i = 0; i < PV_NELEM(attrs); i++) {
		assert_int_equal(p11_handle_get_bool(f->tok, o.handle, attrs[i].type, &b), PV_OK);
		assert_int_equal(b, attrs[i].want);
	}
	pv_key_free(k);
}

static size_t
count_label(p11_token *tok, const char *label)
{
	CK_ATTRIBUTE a[] = {{CKA_LABEL, (void *)(uintptr_t)label, strlen(label)}};
	CK_OBJECT_HANDLE *hs = NULL;
	size_t n = 0;

	assert_int_equal(p11_find_all(tok, a, 1, &hs, &n), PV_OK);
	free(hs);
	return n;
}

/* A token that ignores the usage template: refused, and nothing is left. */
static void
test_usage_not_honoured(void **state)
{
	struct fixture *f = *state;
	struct pv_key *k = NULL;
	static const struct {
		const char *attr;
		pv_alg alg;
		pv_key_purpose purpose;
	} cases[] = {
	    {"CKA_SIGN=TRUE", PV_ALG_RSA2048, PV_PURPOSE_DECRYPT},
	    {"CKA_VERIFY=TRUE", PV_ALG_RSA2048, PV_PURPOSE_DECRYPT},
	    {"CKA_UNWRAP=FALSE", PV_ALG_RSA2048, PV_PURPOSE_DECRYPT},
	    {"CKA_DECRYPT=TRUE", PV_ALG_P256, PV_PURPOSE_SIGN},
	    {"CKA_WRAP=TRUE", PV_ALG_ED25519, PV_PURPOSE_SOLANA},
	    {"CKA_ENCRYPT=TRUE", PV_ALG_AES256, PV_PURPOSE_WRAP},
	    {"CKA_WRAP=FALSE", PV_ALG_AES256, PV_PURPOSE_WRAP},
	    {"CKA_DECRYPT=TRUE", PV_ALG_HMAC_SHA256, PV_PURPOSE_AUDIT},
	    {"CKA_DERIVE=TRUE", PV_ALG_SECP256K1, PV_PURPOSE_EVM},
	    {"CKA_SIGN=TRUE", PV_ALG_P256, PV_PURPOSE_DERIVE},
	    {"CKA_DERIVE=FALSE", PV_ALG_P256, PV_PURPOSE_DERIVE},
	};
	size_t i;

	for (i = 0; i < PV_NELEM(cases); i++) {
		assert_int_equal(fault_set_attr(cases[i].attr), 0);
		assert_int_equal(pv_keys_create(f->ks, "ignored", cases[i].alg, cases[i].purpose, &k),
				 PV_ERR_NOT_HONOURED);
		assert_int_equal(fault_set_attr(""), 0);
		assert_null(k);
		assert_non_null(strstr(pv_err_detail(), "token reports CKA_"));
		assert_int_equal(pv_keys_get(f->ks, "ignored", &k), PV_ERR_NOT_FOUND);
		assert_int_equal(count_label(f->tok, "ignored.v1"), 0);
	}
	/* the shim really was the cause: without it the same key is made */
	assert_int_equal(pv_keys_create(f->ks, "ignored", PV_ALG_RSA2048, PV_PURPOSE_DECRYPT, NULL), PV_OK);
	assert_int_equal(count_label(f->tok, "ignored.v1"), 2);
}

/* An RSA key pair made by another tool: decrypt-only (1), sign-only (0), or
 * both (2: what SoftHSM makes of an imported key, the break-glass case). */
static void
gen_foreign_rsa(struct fixture *f, const char *label, uint8_t idbyte, int decrypt)
{
	CK_MECHANISM mech = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
	CK_OBJECT_CLASS pubcls = CKO_PUBLIC_KEY, privcls = CKO_PRIVATE_KEY;
	CK_BBOOL t = CK_TRUE, fa = CK_FALSE, dec = decrypt ? CK_TRUE : CK_FALSE,
		 sig = decrypt != 1 ? CK_TRUE : CK_FALSE;
	CK_ULONG bits = 2048;
	CK_BYTE exp[] = {0x01, 0x00, 0x01}, id[] = {0xad, idbyte};
	CK_OBJECT_HANDLE hpub, hpriv;
	CK_ATTRIBUTE pub[] = {
	    {CKA_CLASS, &pubcls, sizeof(pubcls)},
	    {CKA_TOKEN, &t, sizeof(t)},
	    {CKA_ENCRYPT, &dec, sizeof(dec)},
	    {CKA_VERIFY, &sig, sizeof(sig)},
	    {CKA_MODULUS_BITS, &bits, sizeof(bits)},
	    {CKA_PUBLIC_EXPONENT, exp, sizeof(exp)},
	    {CKA_ID, id, sizeof(id)},
	    {CKA_LABEL, (void *)(uintptr_t)label, strlen(label)},
	};
	CK_ATTRIBUTE priv[] = {
	    {CKA_CLASS, &privcls, sizeof(privcls)},
	    {CKA_TOKEN, &t, sizeof(t)},
	    {CKA_PRIVATE, &t, sizeof(t)},
	    {CKA_SENSITIVE, &t, sizeof(t)},
	    {CKA_EXTRACTABLE, &fa, sizeof(fa)},
	    {CKA_DECRYPT, &dec, sizeof(dec)},
	    {CKA_UNWRAP, &dec, sizeof(dec)},
	    {CKA_SIGN, &sig, sizeof(sig)},
	    {CKA_ID, id, sizeof(id)},
	    {CKA_LABEL, (void *)(uintptr_t)label, strlen(label)},
	};

	assert_int_equal(
	    p11_generate_key_pair(f->tok, &mech, pub, PV_NELEM(pub), priv, PV_NELEM(priv), &hpub, &hpriv),
	    PV_OK);
}

/* An adopted key takes the purpose it is given, if its token usage
 * attributes can serve it: a decrypt-only RSA key cannot be adopted to sign,
 * a sign-only one not to decrypt; one that can do both serves either. */
static void
test_adopt_checks_purpose(void **state)
{
	struct fixture *f = *state;
	struct pv_sign_opts o = {.purpose = PV_PURPOSE_SIGN};
	struct pv_sig sig;
	struct pv_key *k = NULL;

	gen_foreign_rsa(f, "foreign-dec", 1, 1);
	gen_foreign_rsa(f, "foreign-sig", 2, 0);
	assert_int_equal(pv_keys_adopt(f->ks, "pkcs11:object=foreign-dec;type=private", "adopted-dec",
				       PV_PURPOSE_SIGN, &k),
			 PV_ERR_KEY_TYPE);
	assert_null(k);
	assert_int_equal(pv_keys_adopt(f->ks, "pkcs11:object=foreign-dec;type=private", "adopted-dec",
				       PV_PURPOSE_SOLANA, &k),
			 PV_ERR_USAGE);
	assert_int_equal(pv_keys_adopt(f->ks, "pkcs11:object=foreign-dec;type=private", "adopted-dec",
				       PV_PURPOSE_DECRYPT, &k),
			 PV_OK);
	assert_int_equal(k->usage, PV_USAGE_DECRYPT);
	assert_int_equal(k->purpose, PV_PURPOSE_DECRYPT);
	pv_key_free(k);
	k = NULL;
	assert_int_equal(pv_sign(f->ks, "adopted-dec", &o, msg, sizeof(msg), &sig), PV_ERR_PURPOSE);
	/* one token key is one p11vault key: not adopted a second time under
	 * another name (and so another purpose), nor a key p11vault made */
	assert_int_equal(pv_keys_adopt(f->ks, "pkcs11:object=foreign-dec;type=private", "dec-again",
				       PV_PURPOSE_DECRYPT, &k),
			 PV_ERR_EXISTS);
	assert_null(k);
	assert_non_null(strstr(pv_err_detail(), "already version 1 of key 'adopted-dec'"));
	assert_int_equal(pv_keys_create(f->ks, "made-here", PV_ALG_P256, PV_PURPOSE_SIGN, NULL), PV_OK);
	assert_int_equal(
	    pv_keys_adopt(f->ks, "pkcs11:object=made-here.v1;type=private", "made-twice", PV_PURPOSE_JWT, &k),
	    PV_ERR_EXISTS);
	assert_int_equal(pv_keys_get(f->ks, "made-twice", &k), PV_ERR_NOT_FOUND);
	assert_int_equal(pv_keys_adopt(f->ks, "pkcs11:object=foreign-sig;type=private", "adopted-sig",
				       PV_PURPOSE_DECRYPT, &k),
			 PV_ERR_KEY_TYPE);
	assert_int_equal(
	    pv_keys_adopt(f->ks, "pkcs11:object=foreign-sig;type=private", "adopted-sig", PV_PURPOSE_JWT, &k),
	    PV_OK);
	assert_int_equal(k->usage, PV_USAGE_SIGN);
	assert_int_equal(k->purpose, PV_PURPOSE_JWT);
	pv_key_free(k);
	k = NULL;
	/* a key the token lets do both is adopted for the one purpose asked,
	 * and p11vault signs nothing with it */
	gen_foreign_rsa(f, "foreign-both", 3, 2);
	assert_int_equal(pv_keys_adopt(f->ks, "pkcs11:object=foreign-both;type=private", "adopted-both",
				       PV_PURPOSE_DECRYPT, &k),
			 PV_OK);
	assert_int_equal(k->purpose, PV_PURPOSE_DECRYPT);
	pv_key_free(k);
	assert_int_equal(pv_sign(f->ks, "adopted-both", &o, msg, sizeof(msg), &sig), PV_ERR_PURPOSE);
	/* adopted for JWTs, it gives no raw signature */
	assert_int_equal(pv_sign(f->ks, "adopted-sig", &o, msg, sizeof(msg), &sig), PV_ERR_PURPOSE);
	o.purpose = PV_PURPOSE_JWT;
	assert_int_equal(pv_sign(f->ks, "adopted-sig", &o, msg, sizeof(msg), &sig), PV_OK);
}

/* The protection and usage of a session copy, read back from the token. */
static void
assert_copy_protected(p11_token *tok, p11_obj *copy)
{
	static const CK_ATTRIBUTE_TYPE types[] = {CKA_TOKEN,       CKA_PRIVATE, CKA_SENSITIVE,
						  CKA_EXTRACTABLE, CKA_SIGN,    CKA_DECRYPT};
	static const CK_BBOOL want[] = {CK_FALSE, CK_TRUE, CK_TRUE, CK_FALSE, CK_TRUE, CK_FALSE};
	CK_BBOOL v[PV_NELEM(types)];
	int present[PV_NELEM(types)];
	size_t i;

	assert_int_equal(p11_obj_get_bools(tok, copy, types, PV_NELEM(types), v, present), PV_OK);
	for (i = 0; i < PV_NELEM(types); i++) {
		assert_true(present[i]);
		assert_int_equal(v[i], want[i]);
	}
}

static int
copy_gone(p11_token *tok, p11_obj *copy)
{
	CK_ATTRIBUTE_TYPE t = CKA_TOKEN;
	CK_BBOOL v;
	int present;

	return p11_obj_get_bools(tok, copy, &t, 1, &v, &present) != PV_OK;
}

/*
 * Session-object copies (keys.h, pv_keys_copy_acquire): made on first use,
 * sensitive and non-extractable, their signatures verify (OpenSSL, in
 * pv_verify); dropped on rotation, flush and refusal, made again after a
 * recovery; none with the switch off.
 */
static void
test_session_copies(void **state)
{
	struct fixture *f = *state;
	struct pv_sign_opts o = {.purpose = PV_PURPOSE_SIGN};
	struct pv_key *k = NULL;
	struct pv_key_version ver;
	struct pv_sig sig;
	static const char *const weaker[] = {"CKA_SENSITIVE=FALSE", "CKA_EXTRACTABLE=TRUE",
					     "CKA_PRIVATE=FALSE", "CKA_TOKEN=TRUE"};
	struct p11_token_opts o2;
	p11_token *tok2 = NULL;
	p11_obj c1, c2, c3, c4, obj;
	unsigned v = 0;

	pv_keystore_set_session_copies(f->ks, 1);
	assert_int_equal(pv_keys_create(f->ks, "copied", PV_ALG_P256, PV_PURPOSE_SIGN, NULL), PV_OK);
	assert_false(ks_copy_peek(f->ks, "copied", 1, &c1));
	assert_int_equal(count_label(f->tok, "copied.v1"), 2);
	assert_int_equal(pv_sign(f->ks, "copied", &o, msg, sizeof(msg), &sig), PV_OK);
	assert_true(ks_copy_peek(f->ks, "copied", 1, &c1));
	/* our searches see session objects: the copy is the third object */
	assert_int_equal(count_label(f->tok, "copied.v1"), 3);
	assert_copy_protected(f->tok, &c1);
	assert_int_equal(pv_verify(f->ks, "copied", &o, msg, sizeof(msg), sig.bytes, sig.len), PV_OK);
	/* the copy itself signs, and OpenSSL verifies it against the token's
	 * public key */
	assert_int_equal(pv_sign_obj(f->tok, &c1, PV_ALG_P256, &o, msg, sizeof(msg), &sig), PV_OK);
	assert_int_equal(pv_verify(f->ks, "copied", &o, msg, sizeof(msg), sig.bytes, sig.len), PV_OK);
	/* the hot path: the same copy, no search */
	fault_reset_counts();
	assert_int_equal(pv_sign(f->ks, "copied", &o, msg, sizeof(msg), &sig), PV_OK);
	assert_int_equal(fault_count("C_FindObjectsInit"), 0);
	assert_true(ks_copy_peek(f->ks, "copied", 1, &c2));
	assert_int_equal(c2.handle, c1.handle);

	/* a stale token handle is found again by class, CKA_ID and CKA_TOKEN:
	 * the copy (same class and CKA_ID) is not a second match */
	assert_int_equal(pv_keys_resolve(f->ks, "copied", 1, &k, &ver, &obj), PV_OK);
	pv_key_free(k);
	k = NULL;
	obj.handle = CK_INVALID_HANDLE;
	assert_int_equal(p11_obj_find(f->tok, &obj), PV_OK);
	assert_int_not_equal(obj.handle, c1.handle);

	/* flush (SIGHUP): destroyed, made again at the next signature */
	pv_keystore_flush(f->ks);
	assert_false(ks_copy_peek(f->ks, "copied", 1, &c2));
	assert_true(copy_gone(f->tok, &c1));
	assert_int_equal(count_label(f->tok, "copied.v1"), 2);
	assert_int_equal(pv_sign(f->ks, "copied", &o, msg, sizeof(msg), &sig), PV_OK);
	assert_true(ks_copy_peek(f->ks, "copied", 1, &c2));
	assert_int_not_equal(c2.handle, c1.handle);

	/* rotation: the old version's copy goes, the new version is copied */
	assert_int_equal(pv_keys_rotate(f->ks, "copied", 0, &v), PV_OK);
	assert_int_equal(v, 2);
	assert_int_equal(pv_sign(f->ks, "copied", &o, msg, sizeof(msg), &sig), PV_OK);
	assert_int_equal(sig.version, 2);
	assert_false(ks_copy_peek(f->ks, "copied", 1, &c3));
	assert_true(copy_gone(f->tok, &c2));
	assert_int_equal(count_label(f->tok, "copied.v1"), 2);
	assert_true(ks_copy_peek(f->ks, "copied", 2, &c3));
	assert_copy_protected(f->tok, &c3);
	assert_int_equal(pv_verify(f->ks, "copied", &o, msg, sizeof(msg), sig.bytes, sig.len), PV_OK);
	o.version = 1;
	assert_int_equal(pv_verify(f->ks, "copied", &o, msg, sizeof(msg), sig.bytes, sig.len),
			 PV_ERR_BAD_SIGNATURE);
	o.version = 0;

	/* the session that made the copy is lost: a new generation, a new
	 * copy; and a lost device (every session closed) the same. Another
	 * handle on the token keeps a session open, so the process stays
	 * logged in (a re-login would move the generation on by itself). */
	tu_opts(&T, &o2);
	o2.module = PV_FAULTMOD;
	assert_int_equal(p11_token_open(&o2, &tok2), PV_OK);
	assert_int_equal(p11_token_login(tok2), PV_OK);
	assert_int_equal(fault_set("C_Sign:CKR_SESSION_HANDLE_INVALID:1"), 0);
	fault_reset_counts();
	assert_int_equal(pv_sign(f->ks, "copied", &o, msg, sizeof(msg), &sig), PV_OK);
	assert_int_equal(fault_set(""), 0);
	assert_int_equal(fault_count("C_Login"), 0);
	p11_token_close(tok2);
	assert_int_equal(pv_verify(f->ks, "copied", &o, msg, sizeof(msg), sig.bytes, sig.len), PV_OK);
	assert_int_equal(pv_sign(f->ks, "copied", &o, msg, sizeof(msg), &sig), PV_OK);
	assert_true(ks_copy_peek(f->ks, "copied", 2, &c4));
	assert_true(c4.gen > c3.gen);
	assert_true(copy_gone(f->tok, &c3));
	assert_copy_protected(f->tok, &c4);
	assert_int_equal(pv_verify(f->ks, "copied", &o, msg, sizeof(msg), sig.bytes, sig.len), PV_OK);
	assert_int_equal(fault_set("C_Sign:CKR_DEVICE_REMOVED:1"), 0);
	assert_int_equal(pv_sign(f->ks, "copied", &o, msg, sizeof(msg), &sig), PV_OK);
	assert_int_equal(fault_set(""), 0);
	assert_int_equal(pv_sign(f->ks, "copied", &o, msg, sizeof(msg), &sig), PV_OK);
	assert_true(ks_copy_peek(f->ks, "copied", 2, &c3));
	assert_true(c3.gen > c4.gen);
	assert_copy_protected(f->tok, &c3);
	assert_int_equal(pv_verify(f->ks, "copied", &o, msg, sizeof(msg), sig.bytes, sig.len), PV_OK);
	assert_int_equal(count_label(f->tok, "copied.v2"), 3);

	/* a copy that reads back weaker than asked (or as a token object) is
	 * destroyed, the token object signs, and no copy is tried again in
	 * this generation */
	for (size_t i = 0; i < PV_NELEM(weaker); i++) {
		pv_keystore_flush(f->ks);
		assert_int_equal(fault_set_attr(weaker[i]), 0);
		assert_int_equal(pv_sign(f->ks, "copied", &o, msg, sizeof(msg), &sig), PV_OK);
		assert_int_equal(pv_sign(f->ks, "copied", &o, msg, sizeof(msg), &sig), PV_OK);
		assert_int_equal(fault_set_attr(""), 0);
		assert_false(ks_copy_peek(f->ks, "copied", 2, &c4));
		assert_int_equal(count_label(f->tok, "copied.v2"), 2);
		assert_int_equal(pv_verify(f->ks, "copied", &o, msg, sizeof(msg), sig.bytes, sig.len), PV_OK);
		/* refused in this generation: not tried on every signature */
		assert_int_equal(pv_sign(f->ks, "copied", &o, msg, sizeof(msg), &sig), PV_OK);
		assert_false(ks_copy_peek(f->ks, "copied", 2, &c4));
	}

	/* switched off: the copies go and none is made */
	pv_keystore_flush(f->ks);
	assert_int_equal(pv_sign(f->ks, "copied", &o, msg, sizeof(msg), &sig), PV_OK);
	assert_true(ks_copy_peek(f->ks, "copied", 2, &c4));
	pv_keystore_set_session_copies(f->ks, 0);
	assert_false(ks_copy_peek(f->ks, "copied", 2, &c1));
	assert_true(copy_gone(f->tok, &c4));
	assert_int_equal(pv_sign(f->ks, "copied", &o, msg, sizeof(msg), &sig), PV_OK);
	assert_false(ks_copy_peek(f->ks, "copied", 2, &c1));
	assert_int_equal(count_label(f->tok, "copied.v2"), 2);
	assert_int_equal(pv_verify(f->ks, "copied", &o, msg, sizeof(msg), sig.bytes, sig.len), PV_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sign_does_not_search),
	    cmocka_unit_test(test_states_gate_operations),
	    cmocka_unit_test(test_sign_survives_device_loss),
	    cmocka_unit_test(test_hostile_metadata),
	    cmocka_unit_test(test_leftover_metadata_copy),
	    cmocka_unit_test(test_decrypt_usage_on_token),
	    cmocka_unit_test(test_purpose_must_fit),
	    cmocka_unit_test(test_rotate_keeps_usage),
	    cmocka_unit_test(test_meta_ttl_sees_other_writer),
	    cmocka_unit_test(test_sign_refuses_decrypt_key),
	    cmocka_unit_test(test_sign_only_for_purpose),
	    cmocka_unit_test(test_legacy_key_needs_purpose),
	    cmocka_unit_test(test_derive_purpose_on_token),
	    cmocka_unit_test(test_aes256_is_key_encryption_key),
	    cmocka_unit_test(test_usage_not_honoured),
	    cmocka_unit_test(test_adopt_checks_purpose),
	    cmocka_unit_test(test_session_copies),
	};
	int r;

	if (pv_secmem_init() != PV_OK)
		return 1;
	if ((r = tu_make_token(&T, "pvkeys")) != 0)
		return r == TU_SKIP ? TU_SKIP : 1;
	if (access(PV_FAULTMOD, R_OK) != 0) {
		fprintf(stderr, "fault shim %s not built\n", PV_FAULTMOD);
		return 1;
	}
	setenv("PV_FAULT_MODULE", T.module, 1);
	r = cmocka_run_group_tests(tests, setup, teardown);
	tu_remove_token(&T);
	return r;
}
