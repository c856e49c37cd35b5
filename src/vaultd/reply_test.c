#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vaultd/reply.h"

static void
test_map(void **state)
{
	static const struct {
		pv_err e;
		unsigned status;
		const char *code;
		int token;
	} cases[] = {
	    {PV_ERR_BAD_INPUT, 400, "bad_request", 0},
	    {PV_ERR_USAGE, 400, "bad_request", 0},
	    {PV_ERR_KEY_TYPE, 400, "wrong_algorithm", 0},
	    {PV_ERR_MECHANISM, 400, "wrong_algorithm", 0},
	    {PV_ERR_FORBIDDEN, 403, "forbidden", 0},
	    {PV_ERR_PURPOSE, 403, "wrong_purpose", 0},
	    {PV_ERR_NOT_FOUND, 404, "not_found", 0},
	    {PV_ERR_STATE, 409, "state", 0},
	    {PV_ERR_TOO_LARGE, 413, "too_large", 0},
	    {PV_ERR_TOKEN_UNAVAILABLE, 503, "token_unavailable", 1},
	    {PV_ERR_NOT_LOGGED_IN, 503, "token_unavailable", 1},
	    {PV_ERR_SESSION, 503, "token_unavailable", 1},
	    {PV_ERR_BUSY, 503, "token_unavailable", 1},
	    {PV_ERR_MODULE_LOAD, 503, "token_unavailable", 1},
	    {PV_ERR_PKCS11, 500, "internal", 1},
	    {PV_ERR_INTERNAL, 500, "internal", 0},
	    {PV_ERR_CRYPTO, 500, "internal", 0},
	    {PV_ERR_INTEGRITY, 500, "internal", 0},
	    {PV_ERR_NOMEM, 500, "internal", 0},
	};
	struct vd_err_map m;
	size_t i;
	int e;

	(void)state;
	for (i = 0; i < PV_NELEM(cases); i++) {
		vd_err_map(cases[i].e, &m);
		assert_int_equal(m.status, cases[i].status);
		assert_string_equal(m.code, cases[i].code);
		assert_int_equal(m.token, cases[i].token);
		assert_int_equal(m.internal, m.status == 500);
	}
	/* outside the enum: a fixed 500 */
	assert_true(vd_err_row_missing((pv_err)(PV_ERR_MIN - 1)));
	assert_true(vd_err_row_missing((pv_err)1));
	vd_err_map((pv_err)(PV_ERR_MIN - 1), &m);
	assert_int_equal(m.status, 500);
	assert_string_equal(m.code, "internal");
	/* every error has its row, and a status in the table of docs/api.md
	 * §3 (tests/integration/api_errors.sh checks the codes against it) */
	for (e = PV_ERR_MIN; e < 0; e++) {
		if (vd_err_row_missing((pv_err)e))
			fail_msg("pv_err %d (%s) has no row in reply.c's table", e, pv_err_id((pv_err)e));
		vd_err_map((pv_err)e, &m);
		assert_true(m.status == 400 || m.status == 403 || m.status == 404 || m.status == 409 ||
			    m.status == 413 || m.status == 500 || m.status == 503);
		assert_non_null(m.code);
	}
}

static cJSON *
body_of(const struct vd_resp *r)
{
	cJSON *j;

	assert_non_null(r->body);
	assert_int_equal(strlen(r->body), r->body_len);
	j = cJSON_ParseWithLength(r->body, r->body_len);
	assert_non_null(j);
	return j;
}

static void
expect_error(const struct vd_resp *r, unsigned status, const char *code, const char *message)
{
	cJSON *j = body_of(r), *err;

	assert_int_equal(r->status, status);
	err = cJSON_GetObjectItemCaseSensitive(j, "error");
	assert_true(cJSON_IsObject(err));
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(err, "code")), code);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(err, "message")), message);
	assert_int_equal(cJSON_GetArraySize(j), 1);
	assert_int_equal(cJSON_GetArraySize(err), 2);
	cJSON_Delete(j);
}

static void
test_error_bodies(void **state)
{
	struct vd_resp r;

	(void)state;
	memset(&r, 0, sizeof(r));
	vd_reply_error(&r, 404, "key_not_found", "no key named 'x'");
	expect_error(&r, 404, "key_not_found", "no key named 'x'");
	/* a message with quotes is escaped, not spliced */
	vd_reply_errorf(&r, 400, "bad_request", "member \"%s\" is required", "a");
	expect_error(&r, 400, "bad_request", "member \"a\" is required");

	pv_err_set_detail("unknown member \"zz\"");
	vd_reply_pv_err(&r, PV_ERR_BAD_INPUT);
	expect_error(&r, 400, "bad_request", "unknown member \"zz\"");
	pv_err_clear_detail();
	vd_reply_pv_err(&r, PV_ERR_STATE);
	expect_error(&r, 409, "state", pv_strerror(PV_ERR_STATE));
	/* 500 and token errors never show the detail */
	pv_err_set_detail("secret-detail");
	vd_reply_pv_err(&r, PV_ERR_INTERNAL);
	expect_error(&r, 500, "internal", "internal error");
	assert_int_equal(r.retry_after, 0);
	vd_reply_pv_err(&r, PV_ERR_TOKEN_UNAVAILABLE);
	expect_error(&r, 503, "token_unavailable", "the token is not available");
	assert_int_equal(r.retry_after, 1); /* a token outage: come back in a second */
	assert_null(strstr(r.body, "secret-detail"));
	vd_resp_clear(&r);
	assert_null(r.body);
	assert_int_equal(r.status, 0);
}

static void
test_json(void **state)
{
	struct vd_resp r;
	cJSON *o = cJSON_CreateObject(), *j;

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_non_null(cJSON_AddStringToObject(o, "status", "ok"));
	vd_reply_json(&r, 200, o);
	assert_string_equal(r.body, "{\"status\":\"ok\"}");
	assert_int_equal(r.status, 200);
	cJSON_Delete(o);

	o = cJSON_CreateObject();
	assert_non_null(cJSON_AddStringToObject(o, "shared_secret_b64", "c2VjcmV0"));
	assert_non_null(cJSON_AddItemToObject(o, "n", cJSON_CreateArray()));
	vd_reply_json_secret(&r, 200, o);
	j = body_of(&r);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "shared_secret_b64")),
			    "c2VjcmV0");
	cJSON_Delete(j);
	vd_resp_wipe(&r);
	assert_null(r.body);
	assert_int_equal(r.body_len, 0);
	vd_json_wipe_delete(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_map),
	    cmocka_unit_test(test_error_bodies),
	    cmocka_unit_test(test_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
