#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/jsontext.h"

/* Longest message after the path, and longest path shown. */
#define MSG_MAX        256
#define SHOWN_PATH_MAX 256

/* ---- paths and errors ---- */

static void append(char *buf, size_t len, size_t *used, const char *fmt, ...) PV_PRINTF(4, 5);

static void
append(char *buf, size_t len, size_t *used, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*used + 1 >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *used, len - *used, fmt, ap);
	va_end(ap);
	if (n > 0)
		*used += (size_t)n < len - *used ? (size_t)n : len - *used - 1;
}

static void
put_path(const pv_jv *v, char *buf, size_t len, size_t *used)
{
	const char *shown;

	if (v->up == NULL)
		return; /* the root adds nothing: its name stands for an empty path */
	put_path(v->up, buf, len, used);
	if (v->name == NULL) {
		append(buf, len, used, "[%zu]", v->index);
		return;
	}
	shown = pv_json_shown_name(v->name);
	append(buf, len, used, "%s%s", *used > 0 ? "." : "", shown != NULL ? shown : "?");
}

void
pv_json_path(const pv_jv *v, char *buf, size_t len)
{
	const pv_jv *root = v;
	size_t used = 0;

	buf[0] = '\0';
	put_path(v, buf, len, &used);
	if (used > 0)
		return;
	while (root->up != NULL)
		root = root->up;
	append(buf, len, &used, "%s", root->name != NULL ? root->name : "the document");
}

static pv_err
fail_va(const pv_jv *v, const char *fmt, va_list ap)
{
	char path[SHOWN_PATH_MAX], msg[MSG_MAX];

	pv_json_path(v, path, sizeof(path));
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	pv_err_set_detail("%s: %s", path, msg);
	return PV_ERR_BAD_INPUT;
}

pv_err
pv_json_fail(const pv_jv *v, const char *fmt, ...)
{
	va_list ap;
	pv_err r;

	va_start(ap, fmt);
	r = fail_va(v, fmt, ap);
	va_end(ap);
	return r;
}

pv_err
pv_json_fail_at(const pv_jv *v, const char *name, const char *fmt, ...)
{
	pv_jv m = pv_json_at(v, name);
	va_list ap;
	pv_err r;

	va_start(ap, fmt);
	r = fail_va(&m, fmt, ap);
	va_end(ap);
	return r;
}

static const char *
type_name(const cJSON *j)
{
	if (cJSON_IsObject(j))
		return "an object";
	if (cJSON_IsArray(j))
		return "an array";
	if (cJSON_IsString(j))
		return "a string";
	if (cJSON_IsNumber(j))
		return "a number";
	if (cJSON_IsBool(j))
		return "a boolean";
	return "null";
}

const char *
pv_json_type_name(const pv_jv *v)
{
	return v->j != NULL ? type_name(v->j) : "nothing";
}

/* ---- navigation ---- */

pv_jv
pv_json_root(const cJSON *j, const char *what)
{
	pv_jv v = {.j = j, .up = NULL, .name = what, .index = 0};

	return v;
}

pv_jv
pv_json_at(const pv_jv *obj, const char *name)
{
	pv_jv v = {.j = NULL, .up = obj, .name = name, .index = 0};

	if (cJSON_IsObject(obj->j))
		v.j = cJSON_GetObjectItemCaseSensitive(obj->j, name);
	return v;
}

/* it->j is set: name it after its container. */
static void
name_element(pv_jv *it)
{
	it->name = it->j != NULL && cJSON_IsObject(it->up->j) ? it->j->string : NULL;
}

pv_jv
pv_json_first(const pv_jv *container)
{
	pv_jv v = {.j = NULL, .up = container, .name = NULL, .index = 0};

	if (cJSON_IsObject(container->j) || cJSON_IsArray(container->j))
		v.j = container->j->child;
	name_element(&v);
	return v;
}

void
pv_json_next(pv_jv *it)
{
	if (it->j == NULL)
		return;
	it->j = it->j->next;
	it->index++;
	name_element(it);
}

size_t
pv_json_count(const pv_jv *v)
{
	const cJSON *c;
	size_t n = 0;

	if (!cJSON_IsObject(v->j) && !cJSON_IsArray(v->j))
		return 0;
	for (c = v->j->child; c != NULL; c = c->next)
		n++;
	return n;
}

/* ---- parsing ---- */

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* No object names a member twice. */
static pv_err
check_unique(const pv_jv *v)
{
	const char **names = NULL;
	const cJSON *c;
	size_t n = pv_json_count(v), i;
	pv_err r = PV_OK;

	if (!cJSON_IsObject(v->j) || n < 2)
		return PV_OK;
	if ((names = calloc(n, sizeof(*names))) == NULL)
		return PV_ERR_NOMEM;
	for (i = 0, c = v->j->child; c != NULL; c = c->next)
		names[i++] = c->string;
	qsort(names, n, sizeof(*names), cmp_names);
	for (i = 1; i < n; i++) {
		if (strcmp(names[i - 1], names[i]) == 0) {
			r = pv_json_fail_at(v, names[i], "appears twice");
			break;
		}
	}
	free(names);
	return r;
}

static pv_err
check_tree(const pv_jv *root, const pv_jv *v, unsigned depth, unsigned max_depth)
{
	pv_jv c;
	pv_err r;

	if (depth > max_depth)
		return pv_json_fail(root, "nests deeper than %u levels", max_depth);
	if ((r = check_unique(v)) != PV_OK)
		return r;
	for (c = pv_json_first(v); c.j != NULL; pv_json_next(&c)) {
		if ((r = check_tree(root, &c, depth + 1, max_depth)) != PV_OK)
			return r;
	}
	return PV_OK;
}

pv_err
pv_json_parse(const uint8_t *text, size_t len, const char *what, unsigned max_depth, cJSON **out)
{
	pv_jv root = pv_json_root(NULL, what);
	cJSON *tree = NULL;
	const char *end = NULL;
	size_t i;
	pv_err r;

	*out = NULL;
	if (len == 0)
		return pv_json_fail(&root, "empty");
	/* bytes that are not text at all are called that first */
	if (!pv_utf8_valid(text, len))
		return pv_json_fail(&root, "not valid UTF-8");
	if (memchr(text, '\0', len) != NULL)
		return pv_json_fail(&root, "contains a NUL byte");
	if (pv_json_has_nul_escape(text, len))
		return pv_json_fail(&root,
				    "contains an escaped NUL (\\u0000), which would cut a string short");
	tree = cJSON_ParseWithLengthOpts((const char *)text, len, &end, 0);
	if (tree == NULL) {
		size_t at = end != NULL && end >= (const char *)text && end <= (const char *)text + len
				? (size_t)(end - (const char *)text)
				: 0;

		return pv_json_fail(&root, "not valid JSON (near byte %zu)", at);
	}
	for (i = (size_t)(end - (const char *)text); i < len; i++) {
		if (text[i] != ' ' && text[i] != '\t' && text[i] != '\r' && text[i] != '\n') {
			r = pv_json_fail(&root, "text after the JSON value (byte %zu)", i);
			goto out;
		}
	}
	root.j = tree;
	if ((r = check_tree(&root, &root, 0, max_depth)) != PV_OK)
		goto out;
	*out = tree;
	tree = NULL;
out:
	cJSON_Delete(tree);
	return r;
}

/* ---- typed getters ---- */

/* PV_OK and *absent set when v is absent and may be; an error if required. */
static pv_err
absent(const pv_jv *v, unsigned flags, int *is_absent)
{
	*is_absent = v->j == NULL;
	if (*is_absent && (flags & PV_JSON_REQUIRED))
		return pv_json_fail(v, "required member missing");
	return PV_OK;
}

pv_err
pv_json_as_object(const pv_jv *v, unsigned flags, const char *const *members)
{
	const char *const *m;
	const char *shown;
	pv_jv c;
	int none = 0;
	pv_err r;

	if ((r = absent(v, flags, &none)) != PV_OK || none)
		return r;
	if (!cJSON_IsObject(v->j))
		return pv_json_fail(v, "expected an object, got %s", type_name(v->j));
	if (members == NULL)
		return PV_OK;
	for (c = pv_json_first(v); c.j != NULL; pv_json_next(&c)) {
		for (m = members; *m != NULL && strcmp(*m, c.name) != 0; m++)
			;
		if (*m != NULL)
			continue;
		if ((shown = pv_json_shown_name(c.name)) != NULL)
			return pv_json_fail(&c, "unknown member \"%s\"", shown);
		return pv_json_fail(&c, "unknown member");
	}
	return PV_OK;
}

pv_err
pv_json_as_array(const pv_jv *v, unsigned flags, size_t max, size_t *n)
{
	int none = 0;
	pv_err r;

	*n = 0;
	if ((r = absent(v, flags, &none)) != PV_OK || none)
		return r;
	if (!cJSON_IsArray(v->j))
		return pv_json_fail(v, "expected an array, got %s", type_name(v->j));
	*n = pv_json_count(v);
	if (*n == 0 && (flags & PV_JSON_NONEMPTY))
		return pv_json_fail(v, "must not be empty");
	if (*n > max)
		return pv_json_fail(v, "more than %zu entries", max);
	return PV_OK;
}

static int
printable(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	}
	return 1;
}

pv_err
pv_json_as_string(const pv_jv *v, unsigned flags, size_t maxlen, const char **out)
{
	const char *s;
	int none = 0;
	pv_err r;

	*out = NULL;
	if ((r = absent(v, flags, &none)) != PV_OK || none)
		return r;
	if (!cJSON_IsString(v->j) || v->j->valuestring == NULL)
		return pv_json_fail(v, "expected a string, got %s", type_name(v->j));
	s = v->j->valuestring;
	if (s[0] == '\0' && (flags & PV_JSON_NONEMPTY))
		return pv_json_fail(v, "must not be empty");
	if (strnlen(s, maxlen + 1) > maxlen)
		return pv_json_fail(v, "longer than %zu bytes", maxlen);
	if ((flags & PV_JSON_PRINTABLE) && !printable(s))
		return pv_json_fail(v, "control characters are not allowed");
	*out = s;
	return PV_OK;
}

pv_err
pv_json_as_int(const pv_jv *v, unsigned flags, int64_t min, int64_t max, int64_t *out)
{
	int none = 0;
	double d;
	pv_err r;

	if (min < -PV_JSON_INT_MAX || max > PV_JSON_INT_MAX || min > max)
		return PV_ERR_USAGE;
	if ((r = absent(v, flags, &none)) != PV_OK || none)
		return r;
	if (!cJSON_IsNumber(v->j))
		return pv_json_fail(v, "expected an integer, got %s", type_name(v->j));
	d = v->j->valuedouble;
	if (!isfinite(d) || floor(d) != d)
		return pv_json_fail(v, "expected an integer");
	/* exact: both bounds are doubles without rounding (at most 2^53 - 1) */
	if (d < (double)min || d > (double)max)
		return pv_json_fail(v, "must be between %lld and %lld", (long long)min, (long long)max);
	*out = (int64_t)d;
	return PV_OK;
}

pv_err
pv_json_as_number(const pv_jv *v, unsigned flags, double min, double max, double *out)
{
	int none = 0;
	double d;
	pv_err r;

	if ((r = absent(v, flags, &none)) != PV_OK || none)
		return r;
	if (!cJSON_IsNumber(v->j))
		return pv_json_fail(v, "expected a number, got %s", type_name(v->j));
	d = v->j->valuedouble;
	if (!(isfinite(d) && d >= min && d <= max))
		return pv_json_fail(v, "must be between %.15g and %.15g", min, max);
	*out = d;
	return PV_OK;
}

pv_err
pv_json_as_bool(const pv_jv *v, unsigned flags, int *out)
{
	int none = 0;
	pv_err r;

	if ((r = absent(v, flags, &none)) != PV_OK || none)
		return r;
	if (!cJSON_IsBool(v->j))
		return pv_json_fail(v, "expected a boolean, got %s", type_name(v->j));
	*out = cJSON_IsTrue(v->j);
	return PV_OK;
}

pv_err
pv_json_as_enum(const pv_jv *v, unsigned flags, const char *const *choices, int *index)
{
	char list[MSG_MAX];
	size_t used = 0;
	const char *s = NULL;
	int i;
	pv_err r;

	*index = -1;
	if ((r = pv_json_as_string(v, flags, SIZE_MAX - 1, &s)) != PV_OK || s == NULL)
		return r;
	for (i = 0; choices[i] != NULL; i++) {
		if (strcmp(choices[i], s) == 0) {
			*index = i;
			return PV_OK;
		}
	}
	list[0] = '\0';
	for (i = 0; choices[i] != NULL; i++)
		append(list, sizeof(list), &used, "%s%s", i > 0 ? ", " : "", choices[i]);
	return pv_json_fail(v, "expected one of %s", list);
}

pv_err
pv_json_as_bytes(const pv_jv *v, unsigned flags, const struct pv_json_enc *enc, size_t min, size_t max,
		 uint8_t **out, size_t *outlen)
{
	const char *s = NULL;
	uint8_t *buf = NULL;
	size_t slen, cap, got = 0;
	pv_err r;

	*out = NULL;
	*outlen = 0;
	if (min > max)
		return PV_ERR_USAGE;
	if ((r = pv_json_as_string(v, flags, SIZE_MAX - 1, &s)) != PV_OK || s == NULL)
		return r;
	/* no text encoding is shorter than the bytes it carries */
	slen = strlen(s);
	cap = slen < max ? slen : max;
	if ((buf = malloc(cap + 1)) == NULL)
		return PV_ERR_NOMEM;
	r = enc->decode(s, slen, buf, cap, &got);
	if ((r == PV_OK && got < min) || (r == PV_ERR_TOO_LARGE && min == max))
		r = min == max ? pv_json_fail(v, "not %zu bytes of %s", max, enc->name)
			       : pv_json_fail(v, "decodes to fewer than %zu bytes", min);
	else if (r == PV_ERR_TOO_LARGE)
		r = pv_json_fail(v, "decodes to more than %zu bytes", max);
	else if (r == PV_ERR_BAD_INPUT || r == PV_ERR_USAGE)
		r = pv_json_fail(v, "not valid %s", enc->name);
	if (r != PV_OK) {
		free(buf);
		return r;
	}
	*out = buf;
	*outlen = got;
	return PV_OK;
}

pv_err
pv_json_as_bytes_fixed(const pv_jv *v, unsigned flags, const struct pv_json_enc *enc, uint8_t *out, size_t n)
{
	uint8_t *buf = NULL;
	size_t got = 0;
	pv_err r;

	if ((r = pv_json_as_bytes(v, flags, enc, n, n, &buf, &got)) != PV_OK || buf == NULL)
		return r;
	memcpy(out, buf, n);
	free(buf);
	return PV_OK;
}

/* ---- the same for a member ---- */

pv_err
pv_json_object(const pv_jv *obj, const char *name, unsigned flags, const char *const *members, pv_jv *out)
{
	*out = pv_json_at(obj, name);
	return pv_json_as_object(out, flags, members);
}

pv_err
pv_json_array(const pv_jv *obj, const char *name, unsigned flags, size_t max, pv_jv *out, size_t *n)
{
	*out = pv_json_at(obj, name);
	return pv_json_as_array(out, flags, max, n);
}

pv_err
pv_json_string(const pv_jv *obj, const char *name, unsigned flags, size_t maxlen, const char **out)
{
	pv_jv m = pv_json_at(obj, name);

	return pv_json_as_string(&m, flags, maxlen, out);
}

pv_err
pv_json_int(const pv_jv *obj, const char *name, unsigned flags, int64_t min, int64_t max, int64_t *out)
{
	pv_jv m = pv_json_at(obj, name);

	return pv_json_as_int(&m, flags, min, max, out);
}

pv_err
pv_json_number(const pv_jv *obj, const char *name, unsigned flags, double min, double max, double *out)
{
	pv_jv m = pv_json_at(obj, name);

	return pv_json_as_number(&m, flags, min, max, out);
}

pv_err
pv_json_bool(const pv_jv *obj, const char *name, unsigned flags, int *out)
{
	pv_jv m = pv_json_at(obj, name);

	return pv_json_as_bool(&m, flags, out);
}

pv_err
pv_json_enum(const pv_jv *obj, const char *name, unsigned flags, const char *const *choices, int *index)
{
	pv_jv m = pv_json_at(obj, name);

	return pv_json_as_enum(&m, flags, choices, index);
}

pv_err
pv_json_bytes(const pv_jv *obj, const char *name, unsigned flags, const struct pv_json_enc *enc, size_t min,
	      size_t max, uint8_t **out, size_t *outlen)
{
	pv_jv m = pv_json_at(obj, name);

	return pv_json_as_bytes(&m, flags, enc, min, max, out, outlen);
}

pv_err
pv_json_bytes_fixed(const pv_jv *obj, const char *name, unsigned flags, const struct pv_json_enc *enc,
		    uint8_t *out, size_t n)
{
	pv_jv m = pv_json_at(obj, name);

	return pv_json_as_bytes_fixed(&m, flags, enc, out, n);
}
