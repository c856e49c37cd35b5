#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "vaultd/reqjson.h"

static const char *const members[] = {"input_b64", "version", "format", "claims",
				      "context",   "n",       "items",  NULL};

static pv_err
parse(const char *text, int allow_empty, vd_rj **rj)
{
	pv_buf *b = NULL;
	pv_err r;

	assert_int_equal(pv_buf_view(text, strlen(text), &b), PV_OK);
	pv_err_clear_detail();
	r = vd_rj_parse(b, members, allow_empty, rj);
	pv_buf_free(b);
	return r;
}

static void
refused(const char *text, const char *detail)
{
	vd_rj *rj = NULL;

	if (parse(text, 0, &rj) != PV_ERR_BAD_INPUT)
		fail_msg("accepted: %s", text);
	assert_null(rj);
	if (strstr(pv_err_detail(), detail) == NULL)
		fail_msg("%s: detail \"%s\" lacks \"%s\"", text, pv_err_detail(), detail);
}

static void
test_refusals(void **state)
{
	(void)state;
	refused("", "the body: empty");
	refused("[]", "the body: expected an object, got an array");
	refused("\"x\"", "the body: expected an object, got a string");
	refused("{", "not valid JSON");
	refused("{\"n\":1,}", "the body: not valid JSON");
	refused("{} {}", "the body: text after the JSON value");
	refused("{\"format\":\"raw\",\"format\":\"der\"}", "format: appears twice");
	refused("{\"claims\":{\"a\":1,\"b\":{\"x\":1,\"x\":2}}}", "claims.b.x: appears twice");
	refused("{\"nope\":1}", "nope: unknown member \"nope\"");
	/* an odd member name is refused without being echoed */
	refused("{\"<script>\":1}", "?: unknown member");
	refused("{\"context\":\"a\\u0000b\"}", "NUL");
	refused("{\"context\":\"a\\U0000b\"}", "NUL");
	refused("{\"context\":\"\xc0\xaf\"}", "UTF-8");
	refused("{\"context\":\"\xed\xa0\x80\"}", "UTF-8");
	refused("{\"context\":\"\xf4\x90\x80\x80\"}", "UTF-8");
	refused("{\"context\":\"\xe2\x82\"}", "UTF-8");
}

/* Nesting beyond VD_RJ_MAX_DEPTH is refused; at the limit it is fine. */
static void
test_depth(void **state)
{
	char text[256];
	vd_rj *rj = NULL;
	size_t n = 0, i, depth;

	(void)state;
	for (depth = VD_RJ_MAX_DEPTH; depth <= VD_RJ_MAX_DEPTH + 1; depth++) {
		n = (size_t)snprintf(text, sizeof(text), "{\"claims\":");
		/* claims is depth 1; each array one more */
		for (i = 1; i < depth; i++)
			text[n++] = '[';
		text[n++] = '1';
		for (i = 1; i < depth; i++)
			text[n++] = ']';
		text[n++] = '}';
		text[n] = '\0';
		if (depth == VD_RJ_MAX_DEPTH) {
			assert_int_equal(parse(text, 0, &rj), PV_OK);
			vd_rj_free(rj);
			rj = NULL;
		} else {
			refused(text, "deeper");
		}
	}
}

static void
test_nul_byte(void **state)
{
	static const char body[] = "{\"context\":\"a\0b\"}";
	pv_buf *b = NULL;
	vd_rj *rj = NULL;

	(void)state;
	assert_int_equal(pv_buf_view(body, sizeof(body) - 1, &b), PV_OK);
	assert_int_equal(vd_rj_parse(b, members, 0, &rj), PV_ERR_BAD_INPUT);
	assert_null(rj);
	pv_buf_free(b);
}

static void
test_empty(void **state)
{
	vd_rj *rj = NULL;

	(void)state;
	assert_int_equal(parse("", 1, &rj), PV_OK);
	assert_false(vd_rj_has(rj, "n"));
	vd_rj_free(rj);
	assert_int_equal(parse(" {} \r\n", 0, &rj), PV_OK);
	vd_rj_free(rj);
}

static void
test_getters(void **state)
{
	static const char *const formats[] = {"raw", "der", "jose", NULL};
	vd_rj *rj = NULL;
	const char *s = NULL;
	const cJSON *o = NULL;
	uint8_t *bin = NULL;
	size_t binlen = 0;
	int64_t v = 0;
	int present = 0, idx = 0;

	(void)state;
	assert_int_equal(parse("{\"input_b64\":\"aGVsbG8=\",\"version\":3,\"format\":\"jose\","
			       "\"claims\":{\"sub\":\"a\"},\"context\":\"t\\u00e9\",\"n\":1.5}",
			       0, &rj),
			 PV_OK);
	assert_int_equal(vd_rj_string(rj, "context", 1, 3, &s), PV_OK);
	assert_string_equal(s, "t\xc3\xa9");
	assert_int_equal(vd_rj_string(rj, "context", 1, 2, &s), PV_ERR_BAD_INPUT);
	assert_non_null(strstr(pv_err_detail(), "context: longer than 2 bytes"));
	assert_int_equal(vd_rj_string(rj, "version", 1, 10, &s), PV_ERR_BAD_INPUT);
	assert_non_null(strstr(pv_err_detail(), "version: expected a string, got a number"));

	assert_int_equal(vd_rj_int(rj, "version", 1, 1, 1000, &v, &present), PV_OK);
	assert_true(present);
	assert_int_equal(v, 3);
	assert_int_equal(vd_rj_int(rj, "version", 1, 4, 1000, &v, &present), PV_ERR_BAD_INPUT);
	assert_int_equal(vd_rj_int(rj, "n", 1, 0, 10, &v, &present), PV_ERR_BAD_INPUT);
	assert_non_null(strstr(pv_err_detail(), "n: expected an integer"));
	assert_int_equal(vd_rj_int(rj, "format", 1, 0, 10, &v, &present), PV_ERR_BAD_INPUT);

	assert_int_equal(vd_rj_b64(rj, "input_b64", 1, 5, &bin, &binlen), PV_OK);
	assert_int_equal(binlen, 5);
	assert_memory_equal(bin, "hello", 5);
	free(bin);
	assert_int_equal(vd_rj_b64(rj, "input_b64", 1, 4, &bin, &binlen), PV_ERR_BAD_INPUT);
	assert_null(bin);
	assert_non_null(strstr(pv_err_detail(), "input_b64: decodes to more than 4 bytes"));
	assert_int_equal(vd_rj_b64(rj, "context", 1, 100, &bin, &binlen), PV_ERR_BAD_INPUT);
	assert_non_null(strstr(pv_err_detail(), "context: not valid base64"));

	assert_int_equal(vd_rj_enum(rj, "format", 1, formats, &idx), PV_OK);
	assert_int_equal(idx, 2);
	assert_int_equal(vd_rj_enum(rj, "context", 1, formats, &idx), PV_ERR_BAD_INPUT);
	/* the choices are named, the value is not echoed */
	assert_string_equal(pv_err_detail(), "context: expected one of raw, der, jose");
	assert_int_equal(pv_json_as_object(vd_rj_root(rj), 0, members), PV_OK);

	assert_int_equal(vd_rj_object(rj, "claims", 1, &o), PV_OK);
	assert_true(cJSON_IsObject(o));
	assert_int_equal(vd_rj_object(rj, "context", 1, &o), PV_ERR_BAD_INPUT);
	vd_rj_free(rj);
}

static void
test_absent(void **state)
{
	static const char *const formats[] = {"raw", NULL};
	vd_rj *rj = NULL;
	const char *s = "x";
	const cJSON *o = (const cJSON *)&s;
	uint8_t *bin = (uint8_t *)&s;
	size_t binlen = 9;
	int64_t v = 7;
	int present = 1, idx = 5;

	(void)state;
	assert_int_equal(parse("{}", 0, &rj), PV_OK);
	assert_int_equal(vd_rj_string(rj, "context", 0, 10, &s), PV_OK);
	assert_null(s);
	assert_int_equal(vd_rj_int(rj, "version", 0, 1, 2, &v, &present), PV_OK);
	assert_false(present);
	assert_int_equal(v, 7);
	assert_int_equal(vd_rj_b64(rj, "input_b64", 0, 10, &bin, &binlen), PV_OK);
	assert_null(bin);
	assert_int_equal(binlen, 0);
	assert_int_equal(vd_rj_enum(rj, "format", 0, formats, &idx), PV_OK);
	assert_int_equal(idx, -1);
	assert_int_equal(vd_rj_object(rj, "claims", 0, &o), PV_OK);
	assert_null(o);
	assert_int_equal(vd_rj_string(rj, "context", 1, 10, &s), PV_ERR_BAD_INPUT);
	assert_non_null(strstr(pv_err_detail(), "context: required member missing"));
	assert_int_equal(vd_rj_int(rj, "version", 1, 1, 2, &v, &present), PV_ERR_BAD_INPUT);
	vd_rj_free(rj);
}

/* Empty base64 decodes to an empty, non-NULL buffer. */
static void
test_b64_empty(void **state)
{
	vd_rj *rj = NULL;
	uint8_t *bin = NULL;
	size_t binlen = 1;

	(void)state;
	assert_int_equal(parse("{\"input_b64\":\"\"}", 0, &rj), PV_OK);
	assert_int_equal(vd_rj_b64(rj, "input_b64", 1, 10, &bin, &binlen), PV_OK);
	assert_non_null(bin);
	assert_int_equal(binlen, 0);
	free(bin);
	vd_rj_free(rj);
	/* no whitespace, padding required */
	assert_int_equal(parse("{\"input_b64\":\"aGVs bG8=\"}", 0, &rj), PV_OK);
	assert_int_equal(vd_rj_b64(rj, "input_b64", 1, 10, &bin, &binlen), PV_ERR_BAD_INPUT);
	vd_rj_free(rj);
	assert_int_equal(parse("{\"input_b64\":\"aGVsbG8\"}", 0, &rj), PV_OK);
	assert_int_equal(vd_rj_b64(rj, "input_b64", 1, 10, &bin, &binlen), PV_ERR_BAD_INPUT);
	vd_rj_free(rj);
	/* base64url characters are not standard base64 */
	assert_int_equal(parse("{\"input_b64\":\"-_-_\"}", 0, &rj), PV_OK);
	assert_int_equal(vd_rj_b64(rj, "input_b64", 1, 10, &bin, &binlen), PV_ERR_BAD_INPUT);
	vd_rj_free(rj);
}

/* The batch getter: items in order, the count bounded before decoding (413),
 * a bad element named by its index (400), absent and empty. */
static void
test_b64_array(void **state)
{
	vd_rj *rj = NULL;
	uint8_t **it = NULL;
	size_t *ln = NULL, n = 9;

	(void)state;
	assert_int_equal(parse("{\"items\":[\"YQ==\",\"\",\"aGVsbG8=\"]}", 0, &rj), PV_OK);
	assert_int_equal(vd_rj_b64_array(rj, "items", 1, 3, 16, &it, &ln, &n), PV_OK);
	assert_int_equal(n, 3);
	assert_int_equal(ln[0], 1);
	assert_memory_equal(it[0], "a", 1);
	assert_int_equal(ln[1], 0);
	assert_non_null(it[1]);
	assert_int_equal(ln[2], 5);
	assert_memory_equal(it[2], "hello", 5);
	vd_rj_b64_array_free(it, ln, n);
	/* more items than allowed: too large, nothing decoded */
	assert_int_equal(vd_rj_b64_array(rj, "items", 1, 2, 16, &it, &ln, &n), PV_ERR_TOO_LARGE);
	assert_null(it);
	assert_int_equal(n, 0);
	assert_non_null(strstr(pv_err_detail(), "more than 2 items"));
	/* an element longer than maxlen */
	assert_int_equal(vd_rj_b64_array(rj, "items", 1, 3, 4, &it, &ln, &n), PV_ERR_BAD_INPUT);
	assert_null(it);
	assert_non_null(strstr(pv_err_detail(), "items[2]"));
	/* absent: required or not */
	assert_int_equal(vd_rj_b64_array(rj, "input_b64", 0, 3, 16, &it, &ln, &n), PV_OK);
	assert_null(it);
	assert_int_equal(n, 0);
	assert_int_equal(vd_rj_b64_array(rj, "input_b64", 1, 3, 16, &it, &ln, &n), PV_ERR_BAD_INPUT);
	vd_rj_free(rj);

	assert_int_equal(parse("{\"items\":[\"YQ==\",7]}", 0, &rj), PV_OK);
	assert_int_equal(vd_rj_b64_array(rj, "items", 1, 3, 16, &it, &ln, &n), PV_ERR_BAD_INPUT);
	assert_non_null(strstr(pv_err_detail(), "items[1]"));
	vd_rj_free(rj);
	assert_int_equal(parse("{\"items\":[]}", 0, &rj), PV_OK);
	assert_int_equal(vd_rj_b64_array(rj, "items", 1, 3, 16, &it, &ln, &n), PV_ERR_BAD_INPUT);
	vd_rj_free(rj);
	assert_int_equal(parse("{\"items\":\"YQ==\"}", 0, &rj), PV_OK);
	assert_int_equal(vd_rj_b64_array(rj, "items", 1, 3, 16, &it, &ln, &n), PV_ERR_BAD_INPUT);
	vd_rj_free(rj);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_refusals),  cmocka_unit_test(test_depth),
	    cmocka_unit_test(test_nul_byte),  cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_getters),   cmocka_unit_test(test_absent),
	    cmocka_unit_test(test_b64_array), cmocka_unit_test(test_b64_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
