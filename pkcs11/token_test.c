/*
 * The token layer against a real (throwaway) SoftHSM token: module loading,
 * token selection, login, objects, sign/verify, the pool, fork.
 */
#include "config.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/secmem.h"
#include "pkcs11/testutil.h"
#include "pkcs11/token.h"

static struct tu_token T;

static p11_token *
open_logged_in(struct p11_token_opts *o)
{
	p11_token *tok = NULL;

	assert_int_equal(p11_token_open(o, &tok), PV_OK);
	assert_int_equal(p11_token_login(tok), PV_OK);
	return tok;
}

static void
test_open_by_path_sign_verify(void **state)
{
	struct p11_token_opts o;
	struct p11_token_info info;
	CK_MECHANISM ecdsa = {CKM_ECDSA, NULL, 0};
	CK_MECHANISM_TYPE *mechs = NULL;
	p11_token *tok;
	p11_obj priv, pub;
	uint8_t digest[32], sig[80], *val = NULL;
	size_t siglen = sizeof(sig), n = 0, len = 0;
	char *uri = NULL;
	int have_ecdsa = 0;

	(void)state;
	tu_opts(&T, &o);
	tok = open_logged_in(&o);
	assert_int_equal(p11_token_get_info(tok, &info), PV_OK);
	assert_string_equal(info.label, T.label);
	assert_string_equal(info.module_path, T.module);
	assert_true(info.flags & CKF_TOKEN_INITIALIZED);
	assert_int_equal(info.pool_size, 8); /* SoftHSM: unlimited, default cap */

	assert_int_equal(p11_token_uri(tok, &uri), PV_OK);
	assert_non_null(strstr(uri, "token="));
	assert_non_null(strstr(uri, T.label));
	assert_non_null(strstr(uri, "serial="));

	assert_int_equal(p11_token_mechanisms(tok, &mechs, &n), PV_OK);
	for (size_t i = 0; i < n; i++)
		have_ecdsa |= mechs[i] == CKM_ECDSA;
	assert_true(have_ecdsa);
	free(mechs);

	assert_int_equal(tu_gen_ec(tok, "sv", 0x11, &priv, &pub), PV_OK);
	memset(digest, 7, sizeof(digest));
	assert_int_equal(p11_sign(tok, &ecdsa, &priv, digest, sizeof(digest), sig, &siglen), PV_OK);
	assert_int_equal(siglen, 64);
	assert_int_equal(p11_verify(tok, &ecdsa, &pub, digest, sizeof(digest), sig, siglen), PV_OK);
	sig[10] ^= 1;
	assert_int_equal(p11_verify(tok, &ecdsa, &pub, digest, sizeof(digest), sig, siglen),
			 PV_ERR_BAD_SIGNATURE);
	/* Too small a buffer: TOO_LARGE, and the pool stays usable. */
	siglen = 10;
	assert_int_equal(p11_sign(tok, &ecdsa, &priv, digest, sizeof(digest), sig, &siglen),
			 PV_ERR_TOO_LARGE);
	siglen = sizeof(sig);
	assert_int_equal(p11_sign(tok, &ecdsa, &priv, digest, sizeof(digest), sig, &siglen), PV_OK);

	/* Attributes: public point readable, private value not. */
	assert_int_equal(p11_obj_get_attr(tok, &pub, CKA_EC_POINT, &val, &len), PV_OK);
	assert_int_equal(len, 67); /* OCTET STRING around 04||X||Y */
	assert_int_equal(val[2], 0x04);
	free(val);
	assert_int_equal(p11_obj_get_attr(tok, &priv, CKA_VALUE, &val, &len), PV_ERR_NOT_FOUND);
	assert_null(val);
	free(uri);
	p11_token_close(tok);
}

static void
test_objects(void **state)
{
	struct p11_token_opts o;
	p11_token *tok;
	p11_obj priv, pub, missing;
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_BBOOL yes = CK_TRUE, b = CK_FALSE;
	char app[] = "p11vault-test", label[] = "meta", value[] = "{\"v\":1}";
	CK_ATTRIBUTE data[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},      {CKA_TOKEN, &yes, 1},
	    {CKA_APPLICATION, app, strlen(app)}, {CKA_LABEL, label, strlen(label)},
	    {CKA_VALUE, value, strlen(value)},
	};
	CK_ATTRIBUTE find[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_APPLICATION, app, strlen(app)}};
	CK_OBJECT_HANDLE h, *hs = NULL;
	CK_ULONG ul = 0;
	uint8_t *val = NULL;
	size_t n = 0, len = 0;
	p11_obj dobj;

	(void)state;
	tu_opts(&T, &o);
	tok = open_logged_in(&o);
	assert_int_equal(p11_create_object(tok, data, PV_NELEM(data), &h), PV_OK);
	assert_int_equal(p11_find_all(tok, find, PV_NELEM(find), &hs, &n), PV_OK);
	assert_int_equal(n, 1);
	assert_int_equal(hs[0], h);
	free(hs);
	assert_int_equal(p11_handle_get_attr(tok, h, CKA_VALUE, &val, &len), PV_OK);
	assert_int_equal(len, strlen(value));
	assert_memory_equal(val, value, len);
	free(val);
	assert_int_equal(p11_handle_get_bool(tok, h, CKA_TOKEN, &b), PV_OK);
	assert_int_equal(b, CK_TRUE);
	assert_int_equal(p11_handle_get_ulong(tok, h, CKA_CLASS, &ul), PV_OK);
	assert_int_equal(ul, CKO_DATA);

	memset(&dobj, 0, sizeof(dobj));
	dobj.cls = CKO_DATA;
	snprintf(dobj.label, sizeof(dobj.label), "%s", label);
	snprintf(dobj.application, sizeof(dobj.application), "%s", app);
	assert_int_equal(p11_obj_find(tok, &dobj), PV_OK);
	assert_int_equal(dobj.handle, h);
	{
		char nl[] = "meta2";
		CK_ATTRIBUTE set[] = {{CKA_LABEL, nl, strlen(nl)}};

		assert_int_equal(p11_obj_set_attrs(tok, &dobj, set, 1), PV_OK);
		assert_int_equal(p11_obj_get_attr(tok, &dobj, CKA_LABEL, &val, &len), PV_OK);
		assert_int_equal(len, strlen(nl));
		assert_memory_equal(val, nl, len);
		free(val);
		snprintf(dobj.label, sizeof(dobj.label), "%s", nl);
		dobj.handle = CK_INVALID_HANDLE;
		assert_int_equal(p11_obj_find(tok, &dobj), PV_OK);
		assert_int_equal(dobj.handle, h);
	}
	assert_int_equal(p11_obj_destroy(tok, &dobj), PV_OK);
	assert_int_equal(dobj.handle, CK_INVALID_HANDLE);
	assert_int_equal(p11_obj_find(tok, &dobj), PV_ERR_NOT_FOUND);

	/* Two keys with one label and no id: ambiguous. */
	assert_int_equal(tu_gen_ec(tok, "twin", 0x21, &priv, &pub), PV_OK);
	assert_int_equal(tu_gen_ec(tok, "twin", 0x22, &priv, &pub), PV_OK);
	priv.id_len = 0;
	priv.handle = CK_INVALID_HANDLE;
	assert_int_equal(p11_obj_find(tok, &priv), PV_ERR_INTEGRITY);
	priv.id_len = 1;
	assert_int_equal(p11_obj_find(tok, &priv), PV_OK);
	assert_int_equal(p11_handle_destroy(tok, priv.handle), PV_OK);

	memset(&missing, 0, sizeof(missing));
	missing.cls = CKO_PRIVATE_KEY;
	missing.id[0] = 0x7f;
	missing.id_len = 1;
	assert_int_equal(tu_sign(tok, &missing), PV_ERR_NOT_FOUND);
	p11_token_close(tok);
}

/* One search finds a version's private and public key; a class nothing
 * matches stays unfound; two objects of one class are refused. */
static void
test_find_group(void **state)
{
	struct p11_token_opts o;
	p11_token *tok;
	p11_obj priv, pub, g[3], twin;

	(void)state;
	tu_opts(&T, &o);
	tok = open_logged_in(&o);
	assert_int_equal(tu_gen_ec(tok, "group", 0x41, &priv, &pub), PV_OK);
	memset(g, 0, sizeof(g));
	for (int i = 0; i < 3; i++) {
		g[i].id[0] = 0x41;
		g[i].id_len = 1;
		g[i].token_only = 1;
		g[i].handle = CK_INVALID_HANDLE;
	}
	g[0].cls = CKO_PRIVATE_KEY;
	g[1].cls = CKO_PUBLIC_KEY;
	g[2].cls = CKO_CERTIFICATE;
	assert_int_equal(p11_obj_find_group(tok, g, 3), PV_OK);
	assert_int_not_equal(g[0].handle, CK_INVALID_HANDLE);
	assert_int_not_equal(g[1].handle, CK_INVALID_HANDLE);
	assert_int_not_equal(g[0].handle, g[1].handle);
	assert_int_equal(g[2].handle, CK_INVALID_HANDLE);
	assert_int_equal(tu_sign(tok, &g[0]), PV_OK);

	/* a reference with a label is not for a grouped search */
	snprintf(g[1].label, sizeof(g[1].label), "group");
	assert_int_equal(p11_obj_find_group(tok, g, 2), PV_ERR_USAGE);
	g[1].label[0] = '\0';

	/* a second private key with the same CKA_ID: ambiguous */
	assert_int_equal(tu_gen_ec(tok, "group2", 0x41, &twin, &pub), PV_OK);
	assert_int_equal(p11_obj_find_group(tok, g, 2), PV_ERR_INTEGRITY);
	{
		CK_BYTE id = 0x41;
		CK_ATTRIBUTE t[] = {{CKA_ID, &id, 1}};
		CK_OBJECT_HANDLE *hs = NULL;
		size_t n = 0;

		assert_int_equal(p11_find_all(tok, t, 1, &hs, &n), PV_OK);
		assert_int_equal(n, 4);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(p11_handle_destroy(tok, hs[i]), PV_OK);
		free(hs);
	}
	p11_token_close(tok);
}

static void
test_open_by_registered_name(void **state)
{
	struct p11_token_opts o;
	struct p11_token_info info;
	p11_token *tok = NULL;

	(void)state;
	if (access("/usr/share/p11-kit/modules/softhsm2.module", R_OK) != 0)
		skip();
	tu_opts(&T, &o);
	o.module = "softhsm2";
	assert_int_equal(p11_token_open(&o, &tok), PV_OK);
	assert_int_equal(p11_token_get_info(tok, &info), PV_OK);
	assert_string_equal(info.label, T.label);
	assert_string_equal(info.module_path, "softhsm2");
	p11_token_close(tok);
}

static void
test_open_by_uri_module_path(void **state)
{
	struct p11_token_opts o;
	struct p11_token_info info;
	p11_token *tok = NULL;
	char uri[512];

	(void)state;
	memset(&o, 0, sizeof(o));
	snprintf(uri, sizeof(uri), "pkcs11:token=%s?module-path=%s&pin-source=%s", T.label, T.module,
		 T.pin_source);
	o.token_uri = uri;
	assert_int_equal(p11_token_open(&o, &tok), PV_OK);
	/* The PIN comes from the URI's pin-source. */
	assert_int_equal(p11_token_login(tok), PV_OK);
	assert_int_equal(p11_token_get_info(tok, &info), PV_OK);
	assert_string_equal(info.label, T.label);
	p11_token_close(tok);
}

static void
test_open_failures(void **state)
{
	struct p11_token_opts o;
	p11_token *tok = NULL;

	(void)state;
	tu_opts(&T, &o);
	o.module = "/nonexistent/libnothing.so";
	assert_int_equal(p11_token_open(&o, &tok), PV_ERR_MODULE_LOAD);
	assert_null(tok);
	o.module = "no-such-registered-module";
	assert_int_equal(p11_token_open(&o, &tok), PV_ERR_MODULE_LOAD);
	o.module = NULL;
	o.token_uri = "pkcs11:token=x";
	assert_int_equal(p11_token_open(&o, &tok), PV_ERR_MODULE_LOAD);

	tu_opts(&T, &o);
	o.token_uri = "pkcs11:token=no-such-label";
	assert_int_equal(p11_token_open(&o, &tok), PV_ERR_TOKEN_NOT_FOUND);
	assert_null(tok);
	o.token_uri = "pkcs11:serial=0000000000000000";
	assert_int_equal(p11_token_open(&o, &tok), PV_ERR_TOKEN_NOT_FOUND);
	/* "pkcs11:" = the first initialised token, i.e. ours. */
	o.token_uri = "pkcs11:";
	assert_int_equal(p11_token_open(&o, &tok), PV_OK);
	p11_token_close(tok);
}

static void
test_no_login_no_sign(void **state)
{
	struct p11_token_opts o;
	p11_token *tok = NULL, *tok2;
	p11_obj priv, pub;

	(void)state;
	tu_opts(&T, &o);
	tok2 = open_logged_in(&o);
	assert_int_equal(tu_gen_ec(tok2, "nl", 0x31, &priv, &pub), PV_OK);
	p11_token_close(tok2); /* last session closed: login state ends */
	assert_int_equal(p11_token_open(&o, &tok), PV_OK);
	/* A private key is invisible without login. */
	assert_int_equal(tu_sign(tok, &priv), PV_ERR_NOT_FOUND);
	assert_int_equal(p11_token_login(tok), PV_OK);
	assert_int_equal(p11_token_login(tok), PV_OK); /* second call: no-op */
	assert_int_equal(tu_sign(tok, &priv), PV_OK);
	p11_token_close(tok);
}

struct thread_arg {
	p11_token *tok;
	p11_obj key;
	int failures;
};

static void *
signer(void *p)
{
	struct thread_arg *a = p;

	for (int i = 0; i < 25; i++)
		if (tu_sign(a->tok, &a->key) != PV_OK)
			a->failures++;
	return NULL;
}

static void
test_pool_threads(void **state)
{
	struct p11_token_opts o;
	struct p11_token_stats st;
	struct p11_token_info info;
	struct thread_arg args[4];
	pthread_t th[4];
	p11_token *tok;
	p11_obj priv, pub;

	(void)state;
	tu_opts(&T, &o);
	o.max_sessions = 2;
	tok = open_logged_in(&o);
	assert_int_equal(tu_gen_ec(tok, "pool", 0x41, &priv, &pub), PV_OK);
	for (int i = 0; i < 4; i++) {
		args[i].tok = tok;
		args[i].key = priv;
		args[i].failures = 0;
		assert_int_equal(pthread_create(&th[i], NULL, signer, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(args[i].failures, 0);
	}
	p11_token_get_stats(tok, &st);
	assert_int_equal(st.pool_size, 2);
	assert_int_equal(st.pool_in_use, 0);
	assert_int_equal(p11_token_get_info(tok, &info), PV_OK);
	assert_int_equal(info.pool_size, 2);
	if (info.session_count != CK_UNAVAILABLE_INFORMATION)
		assert_true(info.session_count <= 2);
	p11_token_close(tok);
}

static void
test_fork_child_signs(void **state)
{
	struct p11_token_opts o;
	struct p11_token_stats st;
	p11_token *tok;
	p11_obj priv, pub;
	pid_t pid;
	int status = 0;

	(void)state;
	tu_opts(&T, &o);
	tok = open_logged_in(&o);
	assert_int_equal(tu_gen_ec(tok, "fork", 0x51, &priv, &pub), PV_OK);
	assert_int_equal(tu_sign(tok, &priv), PV_OK);
	p11_token_get_stats(tok, &st);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct p11_token_stats cst;
		pv_err r1 = tu_sign(tok, &priv), r2 = tu_sign(tok, &priv);
		int ok = r1 == PV_OK && r2 == PV_OK;

		p11_token_get_stats(tok, &cst);
		if (!ok)
			fprintf(stderr, "child: sign %d %d (%s)\n", r1, r2, pv_err_detail());
		/* The child re-initialised the module and re-found the key. */
		_exit(ok && cst.reinits == st.reinits + 1 && cst.generation > st.generation ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* The parent is unaffected. */
	assert_int_equal(tu_sign(tok, &priv), PV_OK);
	p11_token_close(tok);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_open_by_path_sign_verify),
	    cmocka_unit_test(test_objects),
	    cmocka_unit_test(test_find_group),
	    cmocka_unit_test(test_open_by_registered_name),
	    cmocka_unit_test(test_open_by_uri_module_path),
	    cmocka_unit_test(test_open_failures),
	    cmocka_unit_test(test_no_login_no_sign),
	    cmocka_unit_test(test_pool_threads),
	    cmocka_unit_test(test_fork_child_signs),
	};
	int r;

	if (pv_secmem_init() != PV_OK)
		return 1;
	if ((r = tu_make_token(&T, "pvtest")) != 0)
		return r == TU_SKIP ? TU_SKIP : 1;
	r = cmocka_run_group_tests(tests, NULL, NULL);
	tu_remove_token(&T);
	return r;
}
