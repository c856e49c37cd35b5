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
#include "core/sign.h"
#include "pkcs11/testutil.h"

static struct tu_token T;
static int (*fault_set)(const char *spec);
static unsigned long (*fault_count)(const char *fn);
static void (*fault_reset_counts)(void);

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
	struct pv_sign_opts o = {0};
	struct pv_sig sig;
	int i;

	assert_int_equal(pv_keys_create(f->ks, "hot", PV_ALG_P256, NULL), PV_OK);
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
	struct pv_sign_opts o = {0};
	struct pv_sig s1, s2;
	unsigned v = 0;

	assert_int_equal(pv_keys_create(f->ks, "states", PV_ALG_ED25519, NULL), PV_OK);
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
	struct pv_sign_opts o = {0};
	struct pv_sig sig;
	struct p11_token_stats before, after;

	assert_int_equal(pv_keys_create(f->ks, "sturdy", PV_ALG_SECP256K1, NULL), PV_OK);
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

	return p11_create_object(tok, a, sizeof(a) / sizeof(a[0]), &h);
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
	assert_int_equal(pv_keys_create(f->ks, "twice", PV_ALG_P384, &k), PV_OK);
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sign_does_not_search),      cmocka_unit_test(test_states_gate_operations),
	    cmocka_unit_test(test_sign_survives_device_loss), cmocka_unit_test(test_hostile_metadata),
	    cmocka_unit_test(test_leftover_metadata_copy),
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
