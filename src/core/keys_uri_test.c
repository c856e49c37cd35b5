/*
 * pkcs11: URIs that name p11vault keys (core/keys_uri.h), on a throwaway
 * SoftHSM token: object=NAME, NAME.vN, x-p11vault-version=N and id=
 * resolve to the key and version; other URIs are left raw; conflicts are
 * refused; descriptions and attribute errors carry no raw numbers.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/defs.h"
#include "base/secmem.h"
#include "core/keys_uri.h"
#include "core/keys_uri_attr.h"
#include "pkcs11/objuri.h"
#include "pkcs11/testutil.h"

static struct tu_token T;

struct fixture {
	p11_token *tok;
	pv_keystore *ks;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct p11_token_opts o;
	struct pv_key *k = NULL;
	unsigned v;

	if (f == NULL)
		return -1;
	tu_opts(&T, &o);
	if (p11_token_open(&o, &f->tok) != PV_OK || p11_token_login(f->tok) != PV_OK ||
	    pv_keystore_new(f->tok, &f->ks) != PV_OK)
		return -1;
	if (pv_keys_create(f->ks, "kek", PV_ALG_AES256, PV_PURPOSE_WRAP, &k) != PV_OK)
		return -1;
	pv_key_free(k);
	if (pv_keys_rotate(f->ks, "kek", 0, &v) != PV_OK || v != 2)
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

static void
resolves(struct fixture *f, const char *uri, const char *name, unsigned version)
{
	struct pv_key_ref ref;
	char *raw = NULL;

	assert_int_equal(pv_keys_uri_resolve(f->ks, uri, &ref, &raw), PV_OK);
	assert_string_equal(ref.name, name);
	assert_int_equal(ref.version, version);
	if (name[0] != '\0')
		assert_null(raw);
	free(raw);
}

static void
test_resolve(void **state)
{
	struct fixture *f = *state;
	struct pv_key *k = NULL;
	struct pv_key_ref ref;
	char uri[256], *raw = NULL;
	char hex[3 * PV_KEY_ID_MAX + 1] = "";

	resolves(f, "pkcs11:object=kek", "kek", 0);
	resolves(f, "pkcs11:object=kek;type=secret-key", "kek", 0);
	resolves(f, "pkcs11:object=kek.v1", "kek", 1);
	resolves(f, "pkcs11:object=kek;x-p11vault-version=1", "kek", 1);
	resolves(f, "pkcs11:x-p11vault-version=2;object=kek", "kek", 2);
	snprintf(uri, sizeof(uri), "%s;object=kek.v2", T.uri);
	resolves(f, uri, "kek", 2);
	/* id= of version 1 */
	assert_int_equal(pv_keys_get(f->ks, "kek", &k), PV_OK);
	for (size_t i = 0; i < k->versions[0].id_len; i++)
		snprintf(hex + 3 * i, 4, "%%%02x", k->versions[0].id[i]);
	snprintf(uri, sizeof(uri), "pkcs11:id=%s", hex);
	resolves(f, uri, "kek", 1);
	snprintf(uri, sizeof(uri), "pkcs11:object=kek;id=%s", hex);
	resolves(f, uri, "kek", 1);
	snprintf(uri, sizeof(uri), "pkcs11:object=kek.v2;id=%s", hex);
	assert_int_equal(pv_keys_uri_resolve(f->ks, uri, &ref, NULL), PV_ERR_USAGE);
	pv_key_free(k);

	/* not a p11vault key: left raw, the version attribute taken out */
	resolves(f, "pkcs11:object=kek;type=data", "", 0);
	resolves(f, "pkcs11:object=other", "", 0);
	resolves(f, "pkcs11:token=another-token;object=kek", "", 0);
	assert_int_equal(pv_keys_uri_resolve(f->ks, "pkcs11:object=other", &ref, &raw), PV_OK);
	assert_string_equal(raw, "pkcs11:object=other");
	free(raw);

	/* refused */
	assert_int_equal(pv_keys_uri_resolve(f->ks, "pkcs11:object=kek.v2;x-p11vault-version=1", &ref, NULL),
			 PV_ERR_USAGE);
	assert_non_null(strstr(pv_err_detail(), "different versions"));
	assert_int_equal(pv_keys_uri_resolve(f->ks, "pkcs11:object=other;x-p11vault-version=1", &ref, NULL),
			 PV_ERR_NOT_FOUND);
	assert_int_equal(pv_keys_uri_resolve(f->ks, "pkcs11:object=kek;x-p11vault-version=01", &ref, NULL),
			 PV_ERR_USAGE);
	assert_int_equal(pv_keys_uri_resolve(f->ks, "pkcs11:object=kek;x-p11vault-version=1001", &ref, NULL),
			 PV_ERR_USAGE);
	assert_int_equal(pv_keys_uri_resolve(f->ks,
					     "pkcs11:object=kek;x-p11vault-version=1;x-p11vault-version=1",
					     &ref, NULL),
			 PV_ERR_USAGE);
	assert_int_equal(pv_keys_uri_resolve(f->ks, "pkcs11:object=kek;pin-value=1234", &ref, NULL),
			 PV_ERR_USAGE);
}

static void
test_strip(void **state)
{
	static const struct {
		const char *in, *out;
		unsigned v;
	} cases[] = {
	    {"pkcs11:object=a;x-p11vault-version=3", "pkcs11:object=a", 3},
	    {"pkcs11:x-p11vault-version=3;object=a", "pkcs11:object=a", 3},
	    {"pkcs11:x-p11vault-version=3", "pkcs11:", 3},
	    {"pkcs11:object=a;x-p11vault-version=3;type=private", "pkcs11:object=a;type=private", 3},
	    {"pkcs11:object=a?x-p11vault-version=3", "pkcs11:object=a?x-p11vault-version=3", 0},
	    {"pkcs11:object=x-p11vault-version=3", "pkcs11:object=x-p11vault-version=3", 0},
	};
	char *out = NULL;
	unsigned v;

	(void)state;
	for (size_t i = 0; i < PV_NELEM(cases); i++) {
		assert_int_equal(pv_keys_uri_strip_version(cases[i].in, &out, &v), PV_OK);
		assert_string_equal(out, cases[i].out);
		assert_int_equal(v, cases[i].v);
		free(out);
	}
}

static void
test_words_not_numbers(void **state)
{
	struct fixture *f = *state;
	CK_OBJECT_HANDLE *hs = NULL;
	CK_ULONG kt;
	size_t n = 0;
	char buf[256];

	pv_keys_uri_describe(f->ks, "pkcs11:object=kek;type=data", buf, sizeof(buf));
	assert_string_equal(buf, "matches a data object (not a key)");
	pv_keys_uri_describe(f->ks, "pkcs11:object=kek", buf, sizeof(buf));
	assert_string_equal(buf, "matches p11vault key 'kek' (purpose wrap, aes256)");
	pv_keys_uri_describe(f->ks, "pkcs11:object=kek.v1", buf, sizeof(buf));
	assert_string_equal(buf, "matches version 1 of p11vault key 'kek' (purpose wrap, aes256)");
	pv_keys_uri_describe(f->ks, "pkcs11:object=nothing", buf, sizeof(buf));
	assert_string_equal(buf, "matches nothing on the token");

	/* the metadata object has no CKA_KEY_TYPE: named, in words */
	assert_int_equal(p11_find_by_uri(f->tok, "pkcs11:object=kek;type=data", &hs, &n), PV_OK);
	assert_int_equal(n, 1);
	assert_int_equal(p11_handle_get_ulong(f->tok, hs[0], CKA_KEY_TYPE, &kt), PV_ERR_NOT_FOUND);
	assert_string_equal(pv_err_detail(), "C_GetAttributeValue: the object has no CKA_KEY_TYPE (attribute "
					     "type invalid (CKR_ATTRIBUTE_TYPE_INVALID))");
	free(hs);
	assert_null(strstr(p11_attr_name(CKA_VENDOR_DEFINED + 5, buf, sizeof(buf)), "0x"));
	assert_null(strstr(p11_rv_text(CKR_VENDOR_DEFINED + 26, buf, sizeof(buf)), "0x"));
	assert_string_equal(p11_rv_text(CKR_PIN_INCORRECT, buf, sizeof(buf)),
			    "pin incorrect (CKR_PIN_INCORRECT)");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_strip),
	    cmocka_unit_test(test_resolve),
	    cmocka_unit_test(test_words_not_numbers),
	};
	int r;

	if (pv_secmem_init() != PV_OK)
		return 1;
	if ((r = tu_make_token(&T, "pvkeyuri")) != 0)
		return r == TU_SKIP ? TU_SKIP : 1;
	r = cmocka_run_group_tests(tests, setup, teardown);
	tu_remove_token(&T);
	return r;
}
