/* The strict JSON reader: document refusals, paths in errors, typed getters. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/json.h"

/* A codec of our own so the test stays below src/core: lowercase hex. */
static pv_err
hex_decode(const char *in, size_t inlen, uint8_t *out, size_t max, size_t *outlen)
{
	size_t i;

	*outlen = 0;
	if (inlen % 2 != 0)
		return PV_ERR_BAD_INPUT;
	if (inlen / 2 > max)
		return PV_ERR_TOO_LARGE;
	for (i = 0; i < inlen; i++) {
		const char *digits = "0123456789abcdef", *d = in[i] != '\0' ? strchr(digits, in[i]) : NULL;

		if (d == NULL)
			return PV_ERR_BAD_INPUT;
		if (i % 2 == 0)
			out[i / 2] = (uint8_t)((d - digits) << 4);
		else
			out[i / 2] |= (uint8_t)(d - digits);
	}
	*outlen = inlen / 2;
	return PV_OK;
}

static const struct pv_json_enc hex = {"hex", hex_decode};

static pv_err
parse(const char *text, cJSON **tree)
{
	pv_err_clear_detail();
	return pv_json_parse((const uint8_t *)text, strlen(text), "doc", PV_JSON_DEPTH_MAX, tree);
}

/* The detail is exactly want (or starts with it, when want ends in "*"). */
static void
detail_is(const char *want)
{
	size_t n = strlen(want);

	if (n > 0 && want[n - 1] == '*' ? strncmp(pv_err_detail(), want, n - 1) != 0
					: strcmp(pv_err_detail(), want) != 0)
		fail_msg("detail \"%s\", want \"%s\"", pv_err_detail(), want);
}

static void
refused(const char *text, const char *want)
{
	cJSON *tree = NULL;

	if (parse(text, &tree) != PV_ERR_BAD_INPUT)
		fail_msg("accepted: %s", text);
	assert_null(tree);
	detail_is(want);
}

static void
test_document_refusals(void **state)
{
	static const char nul[] = "{\"a\":\"x\0y\"}";
	cJSON *tree = NULL;

	(void)state;
	refused("", "doc: empty");
	/* the position is cJSON's guess */
	refused("{", "doc: not valid JSON (near byte *");
	refused("{\"a\":1,}", "doc: not valid JSON (near byte *");
	refused("{} x", "doc: text after the JSON value (byte 3)");
	refused("{}\v", "doc: text after the JSON value (byte 2)");
	refused("{\"a\":\"x\\u0000y\"}",
		"doc: contains an escaped NUL (\\u0000), which would cut a string short");
	refused("{\"a\":\"x\\U0000\"}",
		"doc: contains an escaped NUL (\\u0000), which would cut a string short");
	refused("{\"a\":\"\xc0\xaf\"}", "doc: not valid UTF-8");
	refused("{\"a\":\"\xed\xa0\x80\"}", "doc: not valid UTF-8");
	refused("{\"a\":\"\xf4\x90\x80\x80\"}", "doc: not valid UTF-8");
	refused("{\"a\":\"\xe2\x82\"}", "doc: not valid UTF-8");
	assert_int_equal(pv_json_parse((const uint8_t *)nul, sizeof(nul) - 1, "doc", 4, &tree),
			 PV_ERR_BAD_INPUT);
	assert_null(tree);
	detail_is("doc: contains a NUL byte");
	/* binary junk (a NUL and bytes that are no UTF-8) is not text */
	assert_int_equal(pv_json_parse((const uint8_t *)"\x00\xff{", 3, "doc", 4, &tree), PV_ERR_BAD_INPUT);
	detail_is("doc: not valid UTF-8");
	/* an escaped backslash before u0000 is ordinary text */
	assert_int_equal(parse("{\"a\":\"x\\\\u0000\"} \t\r\n", &tree), PV_OK);
	cJSON_Delete(tree);
	/* any JSON value may be a document */
	assert_int_equal(parse("[1,\"\xc3\xa9\"]", &tree), PV_OK);
	cJSON_Delete(tree);
}

/* Members named twice anywhere are refused with their path. */
static void
test_duplicates(void **state)
{
	(void)state;
	refused("{\"a\":1,\"b\":2,\"a\":3}", "a: appears twice");
	refused("{\"a\":[{\"x\":1},{\"y\":{\"z\":1,\"z\":2}}]}", "a[1].y.z: appears twice");
	/* a name unfit to quote is not echoed, in the path either */
	refused("{\"<b>\":{\"k\":1,\"k\":1}}", "?.k: appears twice");
	refused("{\"q\":{\"<b>\":1,\"<b>\":1}}", "q.?: appears twice");
}

static void
test_depth(void **state)
{
	char text[128];
	cJSON *tree = NULL;
	size_t i, n = 0;

	(void)state;
	/* the root is level 0: "[[[1]]]" reaches level 3 with its number */
	for (i = 0; i < 3; i++)
		text[n++] = '[';
	text[n++] = '1';
	for (i = 0; i < 3; i++)
		text[n++] = ']';
	assert_int_equal(pv_json_parse((const uint8_t *)text, n, "d", 3, &tree), PV_OK);
	cJSON_Delete(tree);
	tree = NULL;
	assert_int_equal(pv_json_parse((const uint8_t *)text, n, "d", 2, &tree), PV_ERR_BAD_INPUT);
	assert_null(tree);
	detail_is("d: nests deeper than 2 levels");
}

static void
test_paths(void **state)
{
	cJSON *tree = NULL;
	pv_jv root, a, e, x, deeper;
	char path[64], small[6];

	(void)state;
	assert_int_equal(parse("{\"a\":[{\"x\":{\"y\":1}},{\"x\":2}]}", &tree), PV_OK);
	root = pv_json_root(tree, "vaultd.json");
	pv_json_path(&root, path, sizeof(path));
	assert_string_equal(path, "vaultd.json");
	a = pv_json_at(&root, "a");
	e = pv_json_first(&a);
	pv_json_next(&e);
	x = pv_json_at(&e, "x");
	pv_json_path(&x, path, sizeof(path));
	assert_string_equal(path, "a[1].x");
	pv_json_path(&x, small, sizeof(small));
	assert_string_equal(small, "a[1].");
	assert_int_equal(pv_json_fail(&x, "bad %d", 7), PV_ERR_BAD_INPUT);
	detail_is("a[1].x: bad 7");
	assert_int_equal(pv_json_fail_at(&e, "zz", "missing"), PV_ERR_BAD_INPUT);
	detail_is("a[1].zz: missing");
	assert_int_equal(pv_json_fail(&root, "whole"), PV_ERR_BAD_INPUT);
	detail_is("vaultd.json: whole");
	/* absent members and members of non-objects have a path, no value */
	deeper = pv_json_at(&x, "deeper");
	assert_null(deeper.j);
	pv_json_path(&deeper, path, sizeof(path));
	assert_string_equal(path, "a[1].x.deeper");
	cJSON_Delete(tree);
}

static void
test_iteration(void **state)
{
	cJSON *tree = NULL;
	pv_jv root, o, a, s, it;
	const char *names[3];
	size_t n = 0, count = 0;

	(void)state;
	assert_int_equal(
	    parse("{\"o\":{\"p\":1,\"q\":2,\"r\":3},\"a\":[true,false],\"s\":\"t\",\"e\":[]}", &tree), PV_OK);
	root = pv_json_root(tree, "doc");
	o = pv_json_at(&root, "o");
	assert_int_equal(pv_json_count(&o), 3);
	for (it = pv_json_first(&o); it.j != NULL; pv_json_next(&it))
		names[n++] = it.name;
	assert_int_equal(n, 3);
	assert_string_equal(names[0], "p");
	assert_string_equal(names[2], "r");
	assert_int_equal(pv_json_array(&root, "a", PV_JSON_REQUIRED, 2, &a, &count), PV_OK);
	assert_int_equal(count, 2);
	n = 0;
	for (it = pv_json_first(&a); it.j != NULL; pv_json_next(&it)) {
		assert_null(it.name);
		assert_int_equal(it.index, n++);
	}
	assert_int_equal(n, 2);
	s = pv_json_at(&root, "s");
	assert_int_equal(pv_json_count(&s), 0);
	assert_string_equal(pv_json_type_name(&s), "a string");
	assert_string_equal(pv_json_type_name(&o), "an object");
	it = pv_json_at(&root, "absent");
	assert_string_equal(pv_json_type_name(&it), "nothing");
	it = pv_json_first(&s);
	assert_null(it.j);
	pv_json_next(&it);
	assert_null(it.j);
	assert_int_equal(pv_json_array(&root, "a", 0, 1, &a, &count), PV_ERR_BAD_INPUT);
	detail_is("a: more than 1 entries");
	assert_int_equal(pv_json_array(&root, "e", PV_JSON_NONEMPTY, 5, &a, &count), PV_ERR_BAD_INPUT);
	detail_is("e: must not be empty");
	assert_int_equal(pv_json_array(&root, "e", 0, 5, &a, &count), PV_OK);
	assert_int_equal(count, 0);
	assert_int_equal(pv_json_array(&root, "o", 0, 5, &a, &count), PV_ERR_BAD_INPUT);
	detail_is("o: expected an array, got an object");
	assert_int_equal(pv_json_array(&root, "none", 0, 5, &a, &count), PV_OK);
	assert_null(a.j);
	assert_int_equal(count, 0);
	cJSON_Delete(tree);
}

static void
test_object(void **state)
{
	static const char *const known[] = {"a", "b", NULL};
	static const char *const fewer[] = {"a", NULL};
	cJSON *tree = NULL;
	pv_jv root, o;

	(void)state;
	assert_int_equal(parse("{\"a\":1,\"b\":{\"c\":2},\"<odd>\":3}", &tree), PV_OK);
	root = pv_json_root(tree, "doc");
	assert_int_equal(pv_json_as_object(&root, 0, known), PV_ERR_BAD_INPUT);
	/* an odd name is neither quoted nor shown in the path */
	detail_is("?: unknown member");
	assert_int_equal(pv_json_as_object(&root, 0, NULL), PV_OK);
	assert_int_equal(pv_json_object(&root, "b", PV_JSON_REQUIRED, fewer, &o), PV_ERR_BAD_INPUT);
	detail_is("b.c: unknown member \"c\"");
	assert_int_equal(pv_json_object(&root, "b", PV_JSON_REQUIRED, NULL, &o), PV_OK);
	assert_non_null(o.j);
	assert_int_equal(pv_json_object(&root, "a", 0, NULL, &o), PV_ERR_BAD_INPUT);
	detail_is("a: expected an object, got a number");
	assert_int_equal(pv_json_object(&root, "z", 0, NULL, &o), PV_OK);
	assert_null(o.j);
	assert_int_equal(pv_json_object(&root, "z", PV_JSON_REQUIRED, NULL, &o), PV_ERR_BAD_INPUT);
	detail_is("z: required member missing");
	cJSON_Delete(tree);
	assert_int_equal(parse("[]", &tree), PV_OK);
	root = pv_json_root(tree, "doc");
	assert_int_equal(pv_json_as_object(&root, PV_JSON_REQUIRED, known), PV_ERR_BAD_INPUT);
	detail_is("doc: expected an object, got an array");
	cJSON_Delete(tree);
}

static void
test_string(void **state)
{
	cJSON *tree = NULL;
	pv_jv root;
	const char *s = "untouched";

	(void)state;
	assert_int_equal(
	    parse("{\"s\":\"t\\u00e9\",\"e\":\"\",\"c\":\"a\\tb\",\"d\":\"\x7f\",\"n\":null}", &tree), PV_OK);
	root = pv_json_root(tree, "doc");
	assert_int_equal(pv_json_string(&root, "s", PV_JSON_REQUIRED, 3, &s), PV_OK);
	assert_string_equal(s, "t\xc3\xa9");
	assert_int_equal(pv_json_string(&root, "s", 0, 2, &s), PV_ERR_BAD_INPUT);
	assert_null(s);
	detail_is("s: longer than 2 bytes");
	assert_int_equal(pv_json_string(&root, "e", 0, 10, &s), PV_OK);
	assert_string_equal(s, "");
	assert_int_equal(pv_json_string(&root, "e", PV_JSON_NONEMPTY, 10, &s), PV_ERR_BAD_INPUT);
	detail_is("e: must not be empty");
	assert_int_equal(pv_json_string(&root, "c", 0, 10, &s), PV_OK);
	assert_int_equal(pv_json_string(&root, "c", PV_JSON_PRINTABLE, 10, &s), PV_ERR_BAD_INPUT);
	detail_is("c: control characters are not allowed");
	assert_int_equal(pv_json_string(&root, "d", PV_JSON_PRINTABLE, 10, &s), PV_ERR_BAD_INPUT);
	assert_int_equal(pv_json_string(&root, "n", 0, 10, &s), PV_ERR_BAD_INPUT);
	detail_is("n: expected a string, got null");
	assert_int_equal(pv_json_string(&root, "x", 0, 10, &s), PV_OK);
	assert_null(s);
	assert_int_equal(pv_json_string(&root, "x", PV_JSON_REQUIRED, 10, &s), PV_ERR_BAD_INPUT);
	detail_is("x: required member missing");
	cJSON_Delete(tree);
}

/* Integers are exact: fractions, non-finite and unsafe magnitudes refused. */
static void
test_int(void **state)
{
	cJSON *tree = NULL;
	pv_jv root;
	int64_t v = 42;

	(void)state;
	assert_int_equal(
	    parse("{\"max\":9007199254740991,\"over\":9007199254740992,\"min\":-9007199254740991,"
		  "\"exp\":1e3,\"frac\":2.5,\"huge\":1e400,\"str\":\"1\",\"neg0\":-0,\"t\":true}",
		  &tree),
	    PV_OK);
	root = pv_json_root(tree, "doc");
	assert_int_equal(pv_json_int(&root, "max", 0, 0, PV_JSON_INT_MAX, &v), PV_OK);
	assert_true(v == PV_JSON_INT_MAX);
	assert_int_equal(pv_json_int(&root, "over", 0, 0, PV_JSON_INT_MAX, &v), PV_ERR_BAD_INPUT);
	detail_is("over: must be between 0 and 9007199254740991");
	assert_int_equal(pv_json_int(&root, "min", 0, -PV_JSON_INT_MAX, 0, &v), PV_OK);
	assert_true(v == -PV_JSON_INT_MAX);
	assert_int_equal(pv_json_int(&root, "exp", 0, 0, 1000, &v), PV_OK);
	assert_int_equal(v, 1000);
	assert_int_equal(pv_json_int(&root, "exp", 0, 0, 999, &v), PV_ERR_BAD_INPUT);
	assert_int_equal(pv_json_int(&root, "frac", 0, 0, 10, &v), PV_ERR_BAD_INPUT);
	detail_is("frac: expected an integer");
	assert_int_equal(pv_json_int(&root, "huge", 0, 0, 10, &v), PV_ERR_BAD_INPUT);
	detail_is("huge: expected an integer");
	assert_int_equal(pv_json_int(&root, "str", 0, 0, 10, &v), PV_ERR_BAD_INPUT);
	detail_is("str: expected an integer, got a string");
	assert_int_equal(pv_json_int(&root, "t", 0, 0, 10, &v), PV_ERR_BAD_INPUT);
	detail_is("t: expected an integer, got a boolean");
	assert_int_equal(pv_json_int(&root, "neg0", 0, 0, 10, &v), PV_OK);
	assert_int_equal(v, 0);
	/* bounds a double cannot hold exactly are a caller's bug */
	assert_int_equal(pv_json_int(&root, "max", 0, 0, PV_JSON_INT_MAX + 1, &v), PV_ERR_USAGE);
	assert_int_equal(pv_json_int(&root, "max", 0, -PV_JSON_INT_MAX - 1, 0, &v), PV_ERR_USAGE);
	assert_int_equal(pv_json_int(&root, "max", 0, 5, 4, &v), PV_ERR_USAGE);
	v = 42;
	assert_int_equal(pv_json_int(&root, "absent", 0, 0, 10, &v), PV_OK);
	assert_int_equal(v, 42);
	assert_int_equal(pv_json_int(&root, "absent", PV_JSON_REQUIRED, 0, 10, &v), PV_ERR_BAD_INPUT);
	detail_is("absent: required member missing");
	cJSON_Delete(tree);
}

static void
test_number_bool(void **state)
{
	cJSON *tree = NULL;
	pv_jv root;
	double d = 9;
	int b = 7;

	(void)state;
	assert_int_equal(parse("{\"r\":0.5,\"small\":0.0001,\"t\":true,\"f\":false,\"one\":1}", &tree),
			 PV_OK);
	root = pv_json_root(tree, "doc");
	assert_int_equal(pv_json_number(&root, "r", 0, 0.001, 1000000, &d), PV_OK);
	assert_true(d == 0.5);
	assert_int_equal(pv_json_number(&root, "small", 0, 0.001, 1000000, &d), PV_ERR_BAD_INPUT);
	detail_is("small: must be between 0.001 and 1000000");
	assert_int_equal(pv_json_number(&root, "t", 0, 0, 1, &d), PV_ERR_BAD_INPUT);
	detail_is("t: expected a number, got a boolean");
	assert_int_equal(pv_json_bool(&root, "t", 0, &b), PV_OK);
	assert_int_equal(b, 1);
	assert_int_equal(pv_json_bool(&root, "f", 0, &b), PV_OK);
	assert_int_equal(b, 0);
	assert_int_equal(pv_json_bool(&root, "one", 0, &b), PV_ERR_BAD_INPUT);
	detail_is("one: expected a boolean, got a number");
	b = 7;
	assert_int_equal(pv_json_bool(&root, "absent", 0, &b), PV_OK);
	assert_int_equal(b, 7);
	cJSON_Delete(tree);
}

static void
test_enum(void **state)
{
	static const char *const formats[] = {"raw", "der", "jose", NULL};
	cJSON *tree = NULL;
	pv_jv root;
	int idx = 5;

	(void)state;
	assert_int_equal(parse("{\"f\":\"jose\",\"g\":\"secret-value\",\"h\":3}", &tree), PV_OK);
	root = pv_json_root(tree, "doc");
	assert_int_equal(pv_json_enum(&root, "f", 0, formats, &idx), PV_OK);
	assert_int_equal(idx, 2);
	/* the choices are listed, the value is not echoed */
	assert_int_equal(pv_json_enum(&root, "g", 0, formats, &idx), PV_ERR_BAD_INPUT);
	assert_int_equal(idx, -1);
	detail_is("g: expected one of raw, der, jose");
	assert_int_equal(pv_json_enum(&root, "h", 0, formats, &idx), PV_ERR_BAD_INPUT);
	detail_is("h: expected a string, got a number");
	idx = 5;
	assert_int_equal(pv_json_enum(&root, "absent", 0, formats, &idx), PV_OK);
	assert_int_equal(idx, -1);
	cJSON_Delete(tree);
}

static void
test_bytes(void **state)
{
	cJSON *tree = NULL;
	pv_jv root;
	uint8_t *bin = NULL, fixed[2] = {9, 9};
	size_t len = 9;

	(void)state;
	assert_int_equal(parse("{\"h\":\"00ff10\",\"e\":\"\",\"bad\":\"0g\",\"odd\":\"abc\",\"n\":1}", &tree),
			 PV_OK);
	root = pv_json_root(tree, "doc");
	assert_int_equal(pv_json_bytes(&root, "h", 0, &hex, 0, 3, &bin, &len), PV_OK);
	assert_int_equal(len, 3);
	assert_memory_equal(bin, "\x00\xff\x10", 3);
	free(bin);
	assert_int_equal(pv_json_bytes(&root, "h", 0, &hex, 0, 2, &bin, &len), PV_ERR_BAD_INPUT);
	assert_null(bin);
	assert_int_equal(len, 0);
	detail_is("h: decodes to more than 2 bytes");
	assert_int_equal(pv_json_bytes(&root, "h", 0, &hex, 4, 8, &bin, &len), PV_ERR_BAD_INPUT);
	detail_is("h: decodes to fewer than 4 bytes");
	assert_int_equal(pv_json_bytes(&root, "e", 0, &hex, 1, 8, &bin, &len), PV_ERR_BAD_INPUT);
	detail_is("e: decodes to fewer than 1 bytes");
	/* empty is a buffer, not NULL */
	assert_int_equal(pv_json_bytes(&root, "e", 0, &hex, 0, 8, &bin, &len), PV_OK);
	assert_non_null(bin);
	assert_int_equal(len, 0);
	free(bin);
	assert_int_equal(pv_json_bytes(&root, "bad", 0, &hex, 0, 8, &bin, &len), PV_ERR_BAD_INPUT);
	detail_is("bad: not valid hex");
	assert_int_equal(pv_json_bytes(&root, "odd", 0, &hex, 0, 8, &bin, &len), PV_ERR_BAD_INPUT);
	detail_is("odd: not valid hex");
	assert_int_equal(pv_json_bytes(&root, "n", 0, &hex, 0, 8, &bin, &len), PV_ERR_BAD_INPUT);
	detail_is("n: expected a string, got a number");
	assert_int_equal(pv_json_bytes(&root, "absent", 0, &hex, 0, 8, &bin, &len), PV_OK);
	assert_null(bin);
	assert_int_equal(pv_json_bytes(&root, "absent", PV_JSON_REQUIRED, &hex, 0, 8, &bin, &len),
			 PV_ERR_BAD_INPUT);

	assert_int_equal(pv_json_bytes_fixed(&root, "h", 0, &hex, fixed, 2), PV_ERR_BAD_INPUT);
	detail_is("h: not 2 bytes of hex");
	assert_int_equal(pv_json_bytes_fixed(&root, "e", 0, &hex, fixed, 2), PV_ERR_BAD_INPUT);
	detail_is("e: not 2 bytes of hex");
	assert_memory_equal(fixed, "\x09\x09", 2);
	assert_int_equal(pv_json_bytes_fixed(&root, "absent", 0, &hex, fixed, 2), PV_OK);
	assert_memory_equal(fixed, "\x09\x09", 2);
	cJSON_Delete(tree);
	assert_int_equal(parse("{\"h\":\"a0b1\"}", &tree), PV_OK);
	root = pv_json_root(tree, "doc");
	assert_int_equal(pv_json_bytes_fixed(&root, "h", PV_JSON_REQUIRED, &hex, fixed, 2), PV_OK);
	assert_memory_equal(fixed, "\xa0\xb1", 2);
	cJSON_Delete(tree);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_document_refusals),
	    cmocka_unit_test(test_duplicates),
	    cmocka_unit_test(test_depth),
	    cmocka_unit_test(test_paths),
	    cmocka_unit_test(test_iteration),
	    cmocka_unit_test(test_object),
	    cmocka_unit_test(test_string),
	    cmocka_unit_test(test_int),
	    cmocka_unit_test(test_number_bool),
	    cmocka_unit_test(test_enum),
	    cmocka_unit_test(test_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
