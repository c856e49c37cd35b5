/*
 * libFuzzer harness: the strict JSON reader (base/json.h). Every value of
 * whatever parses is read with every typed getter, as vaultd bodies,
 * vaultd.json, bundles and key metadata are; the root is also checked as a
 * request body of the sign endpoint. Invariants: a refusal always has a
 * detail "<path>: <reason>", and what a getter returns is within its bounds.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "core/b64.h"
#include "fuzz.h"

static const char *const members[] = {"input_b64", "digest_b64", "digest", "version", "format",
				      "padding",   "claims",     "ttl",    "context", NULL};
static const char *const formats[] = {"raw", "der", "jose", NULL};
static const struct pv_json_enc *const encodings[] = {&pv_b64_enc, &pv_b64url_enc, &pv_hex_enc};

/* A refusal is BAD_INPUT with a detail naming where, or running out of memory. */
static void
refusal_ok(pv_err r)
{
	FUZZ_ASSERT(r == PV_ERR_BAD_INPUT || r == PV_ERR_NOMEM);
	FUZZ_ASSERT(r != PV_ERR_BAD_INPUT || strstr(pv_err_detail(), ": ") != NULL);
}

static void
read_value(const pv_jv *v, unsigned salt)
{
	unsigned flags = salt & (PV_JSON_REQUIRED | PV_JSON_NONEMPTY | PV_JSON_PRINTABLE);
	const struct pv_json_enc *enc = encodings[salt % 3];
	const char *s = NULL;
	uint8_t *bin = NULL, fixed[16];
	size_t n = 0, maxlen = salt % 64, minlen = salt % 4 < maxlen ? salt % 4 : maxlen;
	int64_t i = -1;
	double d = 0;
	int b = 0, idx = 0;
	pv_err r;

	if ((r = pv_json_as_string(v, flags, maxlen, &s)) != PV_OK)
		refusal_ok(r);
	else
		FUZZ_ASSERT(s == NULL ? v->j == NULL
				      : strlen(s) <= maxlen && (!(flags & PV_JSON_NONEMPTY) || s[0] != '\0'));
	if ((r = pv_json_as_int(v, flags, -5, PV_JSON_INT_MAX, &i)) != PV_OK)
		refusal_ok(r);
	else
		FUZZ_ASSERT(i >= -5 && i <= PV_JSON_INT_MAX);
	if ((r = pv_json_as_number(v, flags, -1.5, 1e6, &d)) != PV_OK)
		refusal_ok(r);
	else
		FUZZ_ASSERT(d >= -1.5 && d <= 1e6);
	if ((r = pv_json_as_bool(v, flags, &b)) != PV_OK)
		refusal_ok(r);
	if ((r = pv_json_as_enum(v, flags, formats, &idx)) != PV_OK)
		refusal_ok(r);
	else
		FUZZ_ASSERT(v->j == NULL ? idx == -1 : idx >= 0 && idx <= 2);
	if ((r = pv_json_as_bytes(v, flags, enc, minlen, maxlen, &bin, &n)) != PV_OK)
		refusal_ok(r);
	else
		FUZZ_ASSERT(bin == NULL ? v->j == NULL && n == 0 : n >= minlen && n <= maxlen);
	free(bin);
	if ((r = pv_json_as_bytes_fixed(v, flags, enc, fixed, salt % sizeof(fixed))) != PV_OK)
		refusal_ok(r);
	if ((r = pv_json_as_array(v, flags, maxlen, &n)) != PV_OK)
		refusal_ok(r);
	else
		FUZZ_ASSERT(n <= maxlen && (!(flags & PV_JSON_NONEMPTY) || n > 0 || v->j == NULL));
	if ((r = pv_json_as_object(v, flags, (salt & 8) ? members : NULL)) != PV_OK)
		refusal_ok(r);
}

static void
walk(const pv_jv *v, unsigned salt)
{
	pv_jv c, absent;
	char path[64];

	read_value(v, salt);
	pv_json_path(v, path, sizeof(path));
	FUZZ_ASSERT(path[0] != '\0');
	absent = pv_json_at(v, "no such member");
	FUZZ_ASSERT(absent.j == NULL || cJSON_IsObject(v->j));
	read_value(&absent, salt);
	for (c = pv_json_first(v); c.j != NULL; pv_json_next(&c))
		walk(&c, salt * 31u + (unsigned)c.index + 1u);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *tree = NULL;
	pv_jv root;
	unsigned depth = size > 0 ? data[0] % (PV_JSON_DEPTH_MAX + 2) : 0;
	pv_err r;

	r = pv_json_parse(data, size, "doc", depth, &tree);
	if (r != PV_OK) {
		refusal_ok(r);
		FUZZ_ASSERT(tree == NULL);
		return 0;
	}
	root = pv_json_root(tree, "doc");
	if ((r = pv_json_as_object(&root, PV_JSON_REQUIRED, members)) != PV_OK)
		refusal_ok(r);
	walk(&root, (unsigned)size);
	cJSON_Delete(tree);
	return 0;
}
