/* vaultd.json: parsing and validation (docs/config.md is the spec). */
#include "config.h"

#include "config/vaultd_config.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <cjson/cJSON.h>

#include "base/jsontext.h"
#include "core/b64.h"

#define MAX_CLIENTS        1024
#define MAX_RULES          64
#define MAX_LIST           64
#define MAX_CONTEXT        64
#define MAX_NAME_LEN       64
#define MAX_STR_LEN        4096
#define MAX_PATTERN_LEN    256
#define MAX_SAFE_INT       9007199254740991.0 /* 2^53 - 1 */
#define UINT256_MAX_DIGITS "115792089237316195423570985008687907853269984665640564039457584007913129639935"

static char *
copy_str(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);

	if (d != NULL)
		memcpy(d, s, n);
	return d;
}

static const char *const op_names[PV_OP_COUNT] = {
    "sign",      "verify",      "jwt.issue",   "jwks",         "derive",       "ecdh",
    "keys.read", "wallet.sign", "wallet.read", "secrets.list", "secrets.read", "reload",
};

pv_err
pv_op_from_name(const char *name, pv_op *out)
{
	size_t i;

	for (i = 0; i < PV_OP_COUNT; i++) {
		if (strcmp(name, op_names[i]) == 0) {
			*out = (pv_op)i;
			return PV_OK;
		}
	}
	return PV_ERR_NOT_FOUND;
}

const char *
pv_op_name(pv_op op)
{
	return (unsigned)op < PV_OP_COUNT ? op_names[op] : "?";
}

int
pv_op_keyless(pv_op op)
{
	return op == PV_OP_JWKS || op == PV_OP_KEYS_READ || op == PV_OP_SECRETS_LIST || op == PV_OP_RELOAD;
}

/* Where the validator is in the document, for error details. */
struct ctx {
	char path[512];
	size_t len;
};

static size_t
path_key(struct ctx *c, const char *key)
{
	size_t saved = c->len;
	int n = snprintf(c->path + c->len, sizeof(c->path) - c->len, "%s%s", c->len ? "." : "", key);

	if (n > 0)
		c->len += (size_t)n < sizeof(c->path) - c->len ? (size_t)n : sizeof(c->path) - c->len - 1;
	return saved;
}

static size_t
path_idx(struct ctx *c, size_t i)
{
	size_t saved = c->len;
	int n = snprintf(c->path + c->len, sizeof(c->path) - c->len, "[%zu]", i);

	if (n > 0)
		c->len += (size_t)n < sizeof(c->path) - c->len ? (size_t)n : sizeof(c->path) - c->len - 1;
	return saved;
}

static void
path_pop(struct ctx *c, size_t saved)
{
	c->len = saved;
	c->path[saved] = '\0';
}

static pv_err PV_PRINTF(2, 3) fail(const struct ctx *c, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pv_err_set_detail("%s: %s", c->len ? c->path : "vaultd.json", msg);
	return PV_ERR_BAD_INPUT;
}

/* A printable, bounded copy of a config value for an error message. */
static const char *
quoted(const char *s, char *dst, size_t n)
{
	size_t i, j = 0;

	for (i = 0; s[i] != '\0' && j + 4 < n; i++)
		dst[j++] = isprint((unsigned char)s[i]) && s[i] != '"' ? s[i] : '?';
	if (s[i] != '\0' && n >= 4) {
		j = j > n - 4 ? n - 4 : j;
		memcpy(dst + j, "...", 3);
		j += 3;
	}
	dst[j] = '\0';
	return dst;
}

static const char *
type_name(const cJSON *v)
{
	if (cJSON_IsObject(v))
		return "an object";
	if (cJSON_IsArray(v))
		return "an array";
	if (cJSON_IsString(v))
		return "a string";
	if (cJSON_IsNumber(v))
		return "a number";
	if (cJSON_IsBool(v))
		return "a boolean";
	return "null";
}

/* obj must be an object whose member names are all in allowed, once each. */
static pv_err
check_object(struct ctx *c, const cJSON *obj, const char *const *allowed, size_t n)
{
	unsigned char seen[16] = {0};
	const cJSON *m;
	size_t i, saved;

	if (!cJSON_IsObject(obj))
		return fail(c, "expected an object, got %s", type_name(obj));
	cJSON_ArrayForEach(m, obj)
	{
		char q[48];

		for (i = 0; i < n; i++) {
			if (strcmp(m->string, allowed[i]) == 0)
				break;
		}
		saved = path_key(c, m->string);
		if (i == n) {
			pv_err r = fail(c, "unknown field \"%s\"", quoted(m->string, q, sizeof(q)));

			path_pop(c, saved);
			return r;
		}
		if (seen[i]++) {
			pv_err r = fail(c, "duplicate key");

			path_pop(c, saved);
			return r;
		}
		path_pop(c, saved);
	}
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

/* A string value v at the current path: non-empty, printable, bounded. */
static pv_err
take_string(struct ctx *c, const cJSON *v, size_t maxlen, char **out)
{
	size_t len;

	if (!cJSON_IsString(v))
		return fail(c, "expected a string, got %s", type_name(v));
	len = strlen(v->valuestring);
	if (len == 0)
		return fail(c, "must not be empty");
	if (len > maxlen)
		return fail(c, "longer than %zu bytes", maxlen);
	if (!printable(v->valuestring))
		return fail(c, "control characters are not allowed");
	if ((*out = copy_str(v->valuestring)) == NULL)
		return PV_ERR_NOMEM;
	return PV_OK;
}

static pv_err
get_string(struct ctx *c, const cJSON *obj, const char *name, int required, size_t maxlen, char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
	size_t saved = path_key(c, name);
	pv_err r = PV_OK;

	if (v == NULL)
		r = required ? fail(c, "required field missing") : PV_OK;
	else
		r = take_string(c, v, maxlen, out);
	path_pop(c, saved);
	return r;
}

static pv_err
take_uint(struct ctx *c, const cJSON *v, double min, double max, uint64_t *out)
{
	double d;

	if (!cJSON_IsNumber(v))
		return fail(c, "expected an integer, got %s", type_name(v));
	d = v->valuedouble;
	if (!isfinite(d) || floor(d) != d)
		return fail(c, "expected an integer");
	if (d < min || d > max)
		return fail(c, "must be between %.0f and %.0f", min, max);
	*out = (uint64_t)d;
	return PV_OK;
}

static pv_err
get_uint(struct ctx *c, const cJSON *obj, const char *name, double min, double max, uint64_t dflt,
	 uint64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
	size_t saved = path_key(c, name);
	pv_err r = PV_OK;

	*out = dflt;
	if (v != NULL)
		r = take_uint(c, v, min, max, out);
	path_pop(c, saved);
	return r;
}

static pv_err
get_u32(struct ctx *c, const cJSON *obj, const char *name, uint32_t min, uint32_t max, uint32_t dflt,
	uint32_t *out)
{
	uint64_t v = dflt;
	pv_err r = get_uint(c, obj, name, min, max, dflt, &v);

	*out = (uint32_t)v;
	return r;
}

static pv_err
get_bool(struct ctx *c, const cJSON *obj, const char *name, int dflt, int *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
	size_t saved = path_key(c, name);
	pv_err r = PV_OK;

	*out = dflt;
	if (v != NULL) {
		if (cJSON_IsBool(v))
			*out = cJSON_IsTrue(v);
		else
			r = fail(c, "expected a boolean, got %s", type_name(v));
	}
	path_pop(c, saved);
	return r;
}

/* Enter member name of obj (which must be an object or absent). */
static const cJSON *
member(const cJSON *obj, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(obj, name);
}

static pv_err
check_array(struct ctx *c, const cJSON *v, size_t min, size_t max)
{
	int n;

	if (!cJSON_IsArray(v))
		return fail(c, "expected an array, got %s", type_name(v));
	n = cJSON_GetArraySize(v);
	if (n == 0 && min > 0)
		return fail(c, "must not be empty");
	if ((size_t)n > max)
		return fail(c, "more than %zu entries", max);
	return PV_OK;
}

/* An optional non-empty array of bounded strings. */
static pv_err
get_string_list(struct ctx *c, const cJSON *obj, const char *name, size_t maxlen, char ***out, size_t *n_out)
{
	const cJSON *arr = member(obj, name), *e;
	size_t saved = path_key(c, name), i = 0;
	char **list = NULL;
	pv_err r = PV_OK;

	if (arr == NULL)
		goto out;
	if ((r = check_array(c, arr, 1, MAX_LIST)) != PV_OK)
		goto out;
	if ((list = calloc((size_t)cJSON_GetArraySize(arr), sizeof(*list))) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	cJSON_ArrayForEach(e, arr)
	{
		size_t s2 = path_idx(c, i);

		r = take_string(c, e, maxlen, &list[i]);
		path_pop(c, s2);
		if (r != PV_OK)
			goto out;
		i++;
	}
	*out = list;
	*n_out = i;
	list = NULL;
out:
	if (list != NULL) {
		while (i > 0)
			free(list[--i]);
		free(list);
	}
	path_pop(c, saved);
	return r;
}

static int
is_name(const char *s, size_t maxlen)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++) {
		if (!isalnum((unsigned char)s[n]) && s[n] != '.' && s[n] != '_' && s[n] != '-')
			return 0;
	}
	return n > 0 && n <= maxlen;
}

static pv_err
parse_token(struct ctx *c, const cJSON *root, struct pv_config *cfg)
{
	static const char *const fields[] = {"uri", "module", "pin_source", "max_sessions"};
	static const char *const pin_kinds[] = {"file:", "env:", "fd:", "cred:"};
	const cJSON *t = member(root, "token");
	size_t saved = path_key(c, "token"), i;
	pv_err r;

	if (t == NULL) {
		r = fail(c, "required field missing");
		goto out;
	}
	if ((r = check_object(c, t, fields, PV_NELEM(fields))) != PV_OK ||
	    (r = get_string(c, t, "uri", 1, MAX_STR_LEN, &cfg->token.uri)) != PV_OK ||
	    (r = get_string(c, t, "module", 0, MAX_STR_LEN, &cfg->token.module)) != PV_OK ||
	    (r = get_string(c, t, "pin_source", 1, MAX_STR_LEN, &cfg->token.pin_source)) != PV_OK ||
	    (r = get_u32(c, t, "max_sessions", 1, 256, 8, &cfg->token.max_sessions)) != PV_OK)
		goto out;
	if (strncmp(cfg->token.uri, "pkcs11:", 7) != 0) {
		path_key(c, "uri");
		r = fail(c, "must be a pkcs11: URI (RFC 7512)");
		goto out;
	}
	if (cfg->token.module != NULL && cfg->token.module[0] != '/') {
		path_key(c, "module");
		r = fail(c, "must be an absolute path");
		goto out;
	}
	for (i = 0; i < PV_NELEM(pin_kinds); i++) {
		if (strncmp(cfg->token.pin_source, pin_kinds[i], strlen(pin_kinds[i])) == 0 &&
		    cfg->token.pin_source[strlen(pin_kinds[i])] != '\0')
			break;
	}
	if (i == PV_NELEM(pin_kinds)) {
		path_key(c, "pin_source");
		r = fail(c, "must be file:PATH, env:NAME, fd:N or cred:NAME (never the PIN itself)");
		goto out;
	}
out:
	path_pop(c, saved);
	return r;
}

static pv_err
parse_mode(struct ctx *c, const cJSON *u, uint32_t *mode)
{
	const cJSON *v = member(u, "mode");
	size_t saved = path_key(c, "mode"), i, len;
	pv_err r = PV_OK;

	*mode = 0660;
	if (v == NULL)
		goto out;
	if (!cJSON_IsString(v)) {
		r = fail(c, "expected an octal string like \"0660\", got %s", type_name(v));
		goto out;
	}
	len = strlen(v->valuestring);
	for (i = 0; i < len; i++) {
		if (v->valuestring[i] < '0' || v->valuestring[i] > '7')
			break;
	}
	if (len < 3 || len > 4 || i != len) {
		r = fail(c, "expected an octal string like \"0660\"");
		goto out;
	}
	*mode = (uint32_t)strtoul(v->valuestring, NULL, 8);
	if (*mode > 0777) {
		r = fail(c, "only permission bits (at most 0777)");
		goto out;
	}
	if (*mode & 0007) {
		r = fail(c, "a socket open to others is refused (no o+rwx bits)");
		goto out;
	}
out:
	path_pop(c, saved);
	return r;
}

static int
valid_address(const char *a)
{
	const char *colon;
	char *end = NULL;
	unsigned long port;

	if (a[0] == '[') {
		const char *close = strchr(a, ']');

		if (close == NULL || close == a + 1 || close[1] != ':')
			return 0;
		colon = close + 1;
	} else {
		colon = strchr(a, ':');
		if (colon == NULL || colon == a || strchr(colon + 1, ':') != NULL)
			return 0;
	}
	if (!isdigit((unsigned char)colon[1]))
		return 0;
	port = strtoul(colon + 1, &end, 10);
	return *end == '\0' && port >= 1 && port <= 65535;
}

static pv_err
parse_listen(struct ctx *c, const cJSON *root, struct pv_config *cfg)
{
	static const char *const fields[] = {"unix", "tcp"};
	static const char *const ufields[] = {"path", "mode", "group"};
	static const char *const tfields[] = {"address", "tls_cert", "tls_key", "client_ca"};
	const cJSON *l = member(root, "listen"), *u, *t;
	size_t saved = path_key(c, "listen"), s2;
	pv_err r;

	if (l == NULL) {
		r = fail(c, "required field missing");
		goto out;
	}
	if ((r = check_object(c, l, fields, PV_NELEM(fields))) != PV_OK)
		goto out;
	u = member(l, "unix");
	t = member(l, "tcp");
	if (u == NULL && t == NULL) {
		r = fail(c, "needs unix, tcp or both");
		goto out;
	}
	if (u != NULL) {
		s2 = path_key(c, "unix");
		cfg->listen.has_unix = 1;
		if ((r = check_object(c, u, ufields, PV_NELEM(ufields))) != PV_OK ||
		    (r = get_string(c, u, "path", 1, 107, &cfg->listen.unix_path)) != PV_OK ||
		    (r = parse_mode(c, u, &cfg->listen.unix_mode)) != PV_OK ||
		    (r = get_string(c, u, "group", 0, 32, &cfg->listen.unix_group)) != PV_OK)
			goto out;
		if (cfg->listen.unix_path[0] != '/') {
			path_key(c, "path");
			r = fail(c, "must be an absolute path");
			goto out;
		}
		if (cfg->listen.unix_group != NULL && !is_name(cfg->listen.unix_group, 32)) {
			path_key(c, "group");
			r = fail(c, "not a group name");
			goto out;
		}
		path_pop(c, s2);
	}
	if (t != NULL) {
		s2 = path_key(c, "tcp");
		cfg->listen.has_tcp = 1;
		if ((r = check_object(c, t, tfields, PV_NELEM(tfields))) != PV_OK ||
		    (r = get_string(c, t, "address", 1, 300, &cfg->listen.tcp_address)) != PV_OK ||
		    (r = get_string(c, t, "tls_cert", 1, MAX_STR_LEN, &cfg->listen.tls_cert)) != PV_OK ||
		    (r = get_string(c, t, "tls_key", 1, MAX_STR_LEN, &cfg->listen.tls_key)) != PV_OK ||
		    (r = get_string(c, t, "client_ca", 0, MAX_STR_LEN, &cfg->listen.client_ca)) != PV_OK)
			goto out;
		if (!valid_address(cfg->listen.tcp_address)) {
			path_key(c, "address");
			r = fail(c, "expected HOST:PORT or [IPV6]:PORT with a port from 1 to 65535");
			goto out;
		}
		path_pop(c, s2);
	}
out:
	path_pop(c, saved);
	return r;
}

static pv_err
parse_limits(struct ctx *c, const cJSON *root, struct pv_config *cfg)
{
	static const char *const fields[] = {"max_body_bytes", "request_timeout_ms"};
	const cJSON *l = member(root, "limits");
	size_t saved = path_key(c, "limits");
	pv_err r = PV_OK;

	cfg->limits.max_body_bytes = 65536;
	cfg->limits.request_timeout_ms = 5000;
	if (l == NULL)
		goto out;
	if ((r = check_object(c, l, fields, PV_NELEM(fields))) != PV_OK ||
	    (r = get_u32(c, l, "max_body_bytes", 1024, 16u << 20, 65536, &cfg->limits.max_body_bytes)) !=
		PV_OK ||
	    (r = get_u32(c, l, "request_timeout_ms", 100, 600000, 5000, &cfg->limits.request_timeout_ms)) !=
		PV_OK)
		goto out;
out:
	path_pop(c, saved);
	return r;
}

static pv_err
parse_context(struct ctx *c, const cJSON *b, struct pv_config *cfg)
{
	const cJSON *ec = member(b, "expect_context"), *m, *m2;
	size_t saved = path_key(c, "expect_context"), n = 0, s2;
	pv_err r = PV_OK;

	if (ec == NULL)
		goto out;
	if (!cJSON_IsObject(ec)) {
		r = fail(c, "expected an object, got %s", type_name(ec));
		goto out;
	}
	if ((size_t)cJSON_GetArraySize(ec) > MAX_CONTEXT) {
		r = fail(c, "more than %d entries", MAX_CONTEXT);
		goto out;
	}
	cfg->bundle.expect_context =
	    calloc((size_t)cJSON_GetArraySize(ec) + 1, sizeof(*cfg->bundle.expect_context));
	if (cfg->bundle.expect_context == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	cJSON_ArrayForEach(m, ec)
	{
		struct pv_config_kv *kv = &cfg->bundle.expect_context[n];

		s2 = path_key(c, m->string);
		if (!is_name(m->string, MAX_NAME_LEN)) {
			r = fail(c, "context names are 1-64 of A-Z a-z 0-9 . _ -");
			goto out;
		}
		for (m2 = ec->child; m2 != m; m2 = m2->next) {
			if (strcmp(m2->string, m->string) == 0) {
				r = fail(c, "duplicate key");
				goto out;
			}
		}
		if ((kv->name = copy_str(m->string)) == NULL) {
			r = PV_ERR_NOMEM;
			goto out;
		}
		cfg->bundle.n_expect_context = ++n;
		if ((r = take_string(c, m, MAX_STR_LEN, &kv->value)) != PV_OK)
			goto out;
		path_pop(c, s2);
	}
out:
	path_pop(c, saved);
	return r;
}

static pv_err
parse_bundle(struct ctx *c, const cJSON *root, struct pv_config *cfg)
{
	static const char *const fields[] = {"path", "min_version", "expect_context", "required",
					     "key_import_fallback"};
	const cJSON *b = member(root, "bundle");
	size_t saved = path_key(c, "bundle");
	pv_err r = PV_OK;

	if (b == NULL)
		goto out;
	cfg->bundle.present = 1;
	if ((r = check_object(c, b, fields, PV_NELEM(fields))) != PV_OK ||
	    (r = get_string(c, b, "path", 1, MAX_STR_LEN, &cfg->bundle.path)) != PV_OK ||
	    (r = get_uint(c, b, "min_version", 0, MAX_SAFE_INT, 0, &cfg->bundle.min_version)) != PV_OK ||
	    (r = parse_context(c, b, cfg)) != PV_OK ||
	    (r = get_bool(c, b, "required", 1, &cfg->bundle.required)) != PV_OK ||
	    (r = get_bool(c, b, "key_import_fallback", 0, &cfg->bundle.key_import_fallback)) != PV_OK)
		goto out;
out:
	path_pop(c, saved);
	return r;
}

/* [A-Za-z_][A-Za-z0-9_]{0,127}: a portable environment variable name. */
static int
is_env_name(const char *s)
{
	size_t n;

	if (!isalpha((unsigned char)s[0]) && s[0] != '_')
		return 0;
	for (n = 1; s[n] != '\0'; n++) {
		if (!isalnum((unsigned char)s[n]) && s[n] != '_')
			return 0;
	}
	return n <= 128;
}

static pv_err
parse_secrets(struct ctx *c, const cJSON *root, struct pv_config *cfg)
{
	static const char *const fields[] = {"environment"};
	const cJSON *sec = member(root, "secrets");
	size_t saved = path_key(c, "secrets"), i, j, s2;
	char q[80];
	pv_err r = PV_OK;

	if (sec == NULL)
		goto out;
	if ((r = check_object(c, sec, fields, PV_NELEM(fields))) != PV_OK ||
	    (r = get_string_list(c, sec, "environment", 128, &cfg->secrets.environment,
				 &cfg->secrets.n_environment)) != PV_OK)
		goto out;
	for (i = 0; i < cfg->secrets.n_environment; i++) {
		const char *name = cfg->secrets.environment[i];

		s2 = path_key(c, "environment");
		path_idx(c, i);
		if (!is_env_name(name))
			r = fail(c, "\"%s\" is not an environment variable name", quoted(name, q, sizeof(q)));
		for (j = 0; r == PV_OK && j < i; j++) {
			if (strcmp(cfg->secrets.environment[j], name) == 0)
				r = fail(c, "\"%s\" is listed twice", quoted(name, q, sizeof(q)));
		}
		path_pop(c, s2);
		if (r != PV_OK)
			goto out;
	}
out:
	path_pop(c, saved);
	return r;
}

static pv_err
parse_audit(struct ctx *c, const cJSON *root, struct pv_config *cfg)
{
	static const char *const fields[] = {"file", "syslog", "hmac_key", "checkpoint_every",
					     "checkpoint_seconds"};
	const cJSON *a = member(root, "audit");
	size_t saved = path_key(c, "audit");
	pv_err r;

	if (a == NULL) {
		r = fail(c, "required field missing");
		goto out;
	}
	if ((r = check_object(c, a, fields, PV_NELEM(fields))) != PV_OK ||
	    (r = get_string(c, a, "file", 0, MAX_STR_LEN, &cfg->audit.file)) != PV_OK ||
	    (r = get_bool(c, a, "syslog", 0, &cfg->audit.syslog)) != PV_OK ||
	    (r = get_string(c, a, "hmac_key", 1, MAX_NAME_LEN, &cfg->audit.hmac_key)) != PV_OK ||
	    (r = get_u32(c, a, "checkpoint_every", 1, 1000000, 1000, &cfg->audit.checkpoint_every)) !=
		PV_OK ||
	    (r = get_u32(c, a, "checkpoint_seconds", 1, 86400, 60, &cfg->audit.checkpoint_seconds)) != PV_OK)
		goto out;
	if (cfg->audit.file != NULL && cfg->audit.file[0] != '/') {
		path_key(c, "file");
		r = fail(c, "must be an absolute path");
		goto out;
	}
	if (!is_name(cfg->audit.hmac_key, MAX_NAME_LEN)) {
		path_key(c, "hmac_key");
		r = fail(c, "not a key name");
		goto out;
	}
	if (cfg->audit.file == NULL && !cfg->audit.syslog)
		r = fail(c, "needs file, syslog or both");
out:
	path_pop(c, saved);
	return r;
}

static pv_err
parse_jwt(struct ctx *c, const cJSON *root, struct pv_config *cfg)
{
	static const char *const fields[] = {"issuer", "default_ttl"};
	const cJSON *j = member(root, "jwt");
	size_t saved = path_key(c, "jwt");
	pv_err r = PV_OK;

	if (j == NULL)
		goto out;
	cfg->jwt.present = 1;
	if ((r = check_object(c, j, fields, PV_NELEM(fields))) != PV_OK ||
	    (r = get_string(c, j, "issuer", 1, 1024, &cfg->jwt.issuer)) != PV_OK ||
	    (r = get_u32(c, j, "default_ttl", 1, 86400, 300, &cfg->jwt.default_ttl)) != PV_OK)
		goto out;
out:
	path_pop(c, saved);
	return r;
}

static pv_err
parse_ops(struct ctx *c, const cJSON *rule, const struct pv_config *cfg, uint32_t *ops)
{
	const cJSON *arr = member(rule, "ops"), *e;
	size_t saved = path_key(c, "ops"), i = 0, s2;
	pv_err r = PV_OK;
	char q[48];
	pv_op op;

	*ops = 0;
	if (arr == NULL) {
		r = fail(c, "required field missing");
		goto out;
	}
	if ((r = check_array(c, arr, 1, MAX_LIST)) != PV_OK)
		goto out;
	cJSON_ArrayForEach(e, arr)
	{
		s2 = path_idx(c, i++);
		if (!cJSON_IsString(e)) {
			r = fail(c, "expected a string, got %s", type_name(e));
			goto out;
		}
		if (pv_op_from_name(e->valuestring, &op) != PV_OK) {
			r = fail(c, "unknown operation \"%s\"", quoted(e->valuestring, q, sizeof(q)));
			goto out;
		}
		if (op == PV_OP_RELOAD) {
			r = fail(c, "reload comes with role admin and cannot be granted by a rule");
			goto out;
		}
		if (*ops & (1u << op)) {
			r = fail(c, "duplicate operation \"%s\"", pv_op_name(op));
			goto out;
		}
		if (op == PV_OP_JWT_ISSUE && !cfg->jwt.present) {
			r = fail(c, "jwt.issue needs the top-level jwt section");
			goto out;
		}
		*ops |= 1u << op;
		path_pop(c, s2);
	}
out:
	path_pop(c, saved);
	return r;
}

static pv_err
parse_chain_ids(struct ctx *c, const cJSON *rule, struct pv_config_rule *ru)
{
	const cJSON *arr = member(rule, "chain_ids"), *e;
	size_t saved = path_key(c, "chain_ids"), i = 0, j, s2;
	pv_err r = PV_OK;

	if (arr == NULL)
		goto out;
	if ((r = check_array(c, arr, 1, MAX_LIST)) != PV_OK)
		goto out;
	if ((ru->chain_ids = calloc((size_t)cJSON_GetArraySize(arr), sizeof(*ru->chain_ids))) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	cJSON_ArrayForEach(e, arr)
	{
		s2 = path_idx(c, i);
		if ((r = take_uint(c, e, 1, MAX_SAFE_INT, &ru->chain_ids[i])) != PV_OK)
			goto out;
		for (j = 0; j < i; j++) {
			if (ru->chain_ids[j] == ru->chain_ids[i]) {
				r = fail(c, "duplicate chain id");
				goto out;
			}
		}
		ru->n_chain_ids = ++i;
		path_pop(c, s2);
	}
out:
	path_pop(c, saved);
	return r;
}

/* A decimal integer from 0 to 2^256-1 without sign or leading zeros. */
static int
valid_wei(const char *s)
{
	size_t n = strlen(s), i;
	const size_t max = sizeof(UINT256_MAX_DIGITS) - 1;

	if (n == 0 || n > max || (n > 1 && s[0] == '0'))
		return 0;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return 0;
	}
	return n < max || strcmp(s, UINT256_MAX_DIGITS) <= 0;
}

/* A field that only makes sense for one operation must come with it. */
static pv_err
needs_op(struct ctx *c, const cJSON *rule, const char *field, uint32_t ops, pv_op op)
{
	size_t saved;
	pv_err r;

	if (member(rule, field) == NULL || (ops & (1u << op)))
		return PV_OK;
	saved = path_key(c, field);
	r = fail(c, "only applies to rules that grant %s", pv_op_name(op));
	path_pop(c, saved);
	return r;
}

static pv_err
parse_rule(struct ctx *c, const cJSON *rule, const struct pv_config *cfg, struct pv_config_rule *ru)
{
	static const char *const fields[] = {"ops",       "keys",      "max_ttl",
					     "audiences", "chain_ids", "max_value_wei"};
	uint64_t ttl = 0;
	pv_err r;

	if ((r = check_object(c, rule, fields, PV_NELEM(fields))) != PV_OK ||
	    (r = parse_ops(c, rule, cfg, &ru->ops)) != PV_OK ||
	    (r = get_string_list(c, rule, "keys", MAX_PATTERN_LEN, &ru->keys, &ru->n_keys)) != PV_OK ||
	    (r = get_uint(c, rule, "max_ttl", 1, 86400, 0, &ttl)) != PV_OK ||
	    (r = get_string_list(c, rule, "audiences", 1024, &ru->audiences, &ru->n_audiences)) != PV_OK ||
	    (r = parse_chain_ids(c, rule, ru)) != PV_OK ||
	    (r = get_string(c, rule, "max_value_wei", 0, 100, &ru->max_value_wei)) != PV_OK)
		return r;
	ru->max_ttl = (uint32_t)ttl;
	if (ru->keys == NULL) {
		size_t saved = path_key(c, "keys");

		r = fail(c, "required field missing");
		path_pop(c, saved);
		return r;
	}
	if (ru->max_value_wei != NULL && !valid_wei(ru->max_value_wei)) {
		size_t saved = path_key(c, "max_value_wei");

		r = fail(c, "expected a decimal string from \"0\" to 2^256-1, no leading zeros");
		path_pop(c, saved);
		return r;
	}
	if ((r = needs_op(c, rule, "max_ttl", ru->ops, PV_OP_JWT_ISSUE)) != PV_OK ||
	    (r = needs_op(c, rule, "audiences", ru->ops, PV_OP_JWT_ISSUE)) != PV_OK ||
	    (r = needs_op(c, rule, "chain_ids", ru->ops, PV_OP_WALLET_SIGN)) != PV_OK ||
	    (r = needs_op(c, rule, "max_value_wei", ru->ops, PV_OP_WALLET_SIGN)) != PV_OK)
		return r;
	return PV_OK;
}

/* A SHA-256 digest: 43 base64url characters, or 64 hex digits (optionally
 * in colon-separated pairs, as openssl x509 -fingerprint prints them). */
static int
decode_sha256(const char *s, int allow_hex, uint8_t out[32])
{
	char hex[65];
	size_t n = strlen(s), i, j = 0, got = 0;

	if (n == 43)
		return pv_b64url_decode(s, n, out, 32, &got) == PV_OK && got == 32;
	if (!allow_hex || (n != 64 && n != 95))
		return 0;
	for (i = 0; i < n; i++) {
		if (n == 95 && i % 3 == 2) {
			if (s[i] != ':')
				return 0;
			continue;
		}
		hex[j++] = s[i];
	}
	return j == 64 && pv_hex_decode(hex, 64, out, 32, &got) == PV_OK && got == 32;
}

static pv_err
parse_auth(struct ctx *c, const cJSON *cl, const struct pv_config *cfg, struct pv_config_client *k)
{
	static const char *const fields[] = {"token_sha256", "uid", "cert_sha256"};
	const cJSON *a = member(cl, "auth");
	size_t saved = path_key(c, "auth"), s2;
	char *text = NULL;
	uint64_t uid = 0;
	pv_err r;

	if (a == NULL) {
		r = fail(c, "required field missing");
		goto out;
	}
	if ((r = check_object(c, a, fields, PV_NELEM(fields))) != PV_OK)
		goto out;
	if (cJSON_GetArraySize(a) != 1) {
		r = fail(c, "needs exactly one of token_sha256, uid, cert_sha256");
		goto out;
	}
	if (member(a, "uid") != NULL) {
		k->auth = PV_AUTH_UID;
		if ((r = get_uint(c, a, "uid", 0, 4294967294.0, 0, &uid)) != PV_OK)
			goto out;
		k->uid = (uint32_t)uid;
		if (!cfg->listen.has_unix) {
			path_key(c, "uid");
			r = fail(c, "uid authentication needs listen.unix");
		}
		goto out;
	}
	if (member(a, "token_sha256") != NULL) {
		k->auth = PV_AUTH_TOKEN;
		if ((r = get_string(c, a, "token_sha256", 1, 100, &text)) != PV_OK)
			goto out;
		s2 = path_key(c, "token_sha256");
		if (!decode_sha256(text, 0, k->token_sha256))
			r = fail(
			    c,
			    "expected 43 base64url characters (a SHA-256 digest, as vaultctl client add prints)");
		path_pop(c, s2);
		goto out;
	}
	k->auth = PV_AUTH_CERT;
	if ((r = get_string(c, a, "cert_sha256", 1, 100, &text)) != PV_OK)
		goto out;
	s2 = path_key(c, "cert_sha256");
	if (!decode_sha256(text, 1, k->cert_sha256))
		r = fail(c, "expected a SHA-256 fingerprint: 64 hex digits (colons allowed) or 43 base64url");
	else if (cfg->listen.client_ca == NULL)
		r = fail(c, "certificate authentication needs listen.tcp.client_ca");
	path_pop(c, s2);
out:
	free(text);
	path_pop(c, saved);
	return r;
}

static pv_err
parse_rate(struct ctx *c, const cJSON *cl, struct pv_config_client *k)
{
	static const char *const fields[] = {"per_second", "burst"};
	const cJSON *rt = member(cl, "rate"), *ps;
	size_t saved = path_key(c, "rate"), s2;
	pv_err r = PV_OK;

	k->rate_per_second = 50;
	k->rate_burst = 100;
	if (rt == NULL)
		goto out;
	if ((r = check_object(c, rt, fields, PV_NELEM(fields))) != PV_OK ||
	    (r = get_u32(c, rt, "burst", 1, 1000000, 100, &k->rate_burst)) != PV_OK)
		goto out;
	if ((ps = member(rt, "per_second")) != NULL) {
		s2 = path_key(c, "per_second");
		if (!cJSON_IsNumber(ps))
			r = fail(c, "expected a number, got %s", type_name(ps));
		else if (!(ps->valuedouble >= 0.001 && ps->valuedouble <= 1000000))
			r = fail(c, "must be between 0.001 and 1000000");
		else
			k->rate_per_second = ps->valuedouble;
		path_pop(c, s2);
	}
out:
	path_pop(c, saved);
	return r;
}

/* No two clients may share a name or a credential. */
static pv_err
check_unique(struct ctx *c, const struct pv_config *cfg, size_t i)
{
	const struct pv_config_client *k = &cfg->clients[i];
	size_t j, saved;
	pv_err r = PV_OK;
	char q[48];

	for (j = 0; j < i; j++) {
		const struct pv_config_client *o = &cfg->clients[j];

		if (strcmp(o->name, k->name) == 0) {
			saved = path_key(c, "name");
			r = fail(c, "duplicate client name \"%s\" (also clients[%zu])",
				 quoted(k->name, q, sizeof(q)), j);
			path_pop(c, saved);
			return r;
		}
		if (o->auth != k->auth)
			continue;
		if ((k->auth == PV_AUTH_UID && o->uid == k->uid) ||
		    (k->auth == PV_AUTH_TOKEN && sodium_memcmp(o->token_sha256, k->token_sha256, 32) == 0) ||
		    (k->auth == PV_AUTH_CERT && memcmp(o->cert_sha256, k->cert_sha256, 32) == 0)) {
			saved = path_key(c, "auth");
			r = fail(c, "same credential as clients[%zu]", j);
			path_pop(c, saved);
			return r;
		}
	}
	return PV_OK;
}

static pv_err
parse_client(struct ctx *c, const cJSON *cl, struct pv_config *cfg, struct pv_config_client *k)
{
	static const char *const fields[] = {"name", "auth", "role", "rules", "rate"};
	const cJSON *rules, *e;
	char *role = NULL;
	size_t i = 0, s2;
	pv_err r;

	if ((r = check_object(c, cl, fields, PV_NELEM(fields))) != PV_OK ||
	    (r = get_string(c, cl, "name", 1, MAX_NAME_LEN, &k->name)) != PV_OK)
		goto out;
	if (!is_name(k->name, MAX_NAME_LEN)) {
		s2 = path_key(c, "name");
		r = fail(c, "client names are 1-64 of A-Z a-z 0-9 . _ -");
		path_pop(c, s2);
		goto out;
	}
	if ((r = parse_auth(c, cl, cfg, k)) != PV_OK ||
	    (r = get_string(c, cl, "role", 0, 16, &role)) != PV_OK)
		goto out;
	k->role = PV_ROLE_CLIENT;
	if (role != NULL) {
		if (strcmp(role, "admin") == 0) {
			k->role = PV_ROLE_ADMIN;
		} else if (strcmp(role, "client") != 0) {
			char q[48];

			s2 = path_key(c, "role");
			r = fail(c, "expected \"client\" or \"admin\", got \"%s\"",
				 quoted(role, q, sizeof(q)));
			path_pop(c, s2);
			goto out;
		}
	}
	if ((rules = member(cl, "rules")) != NULL) {
		s2 = path_key(c, "rules");
		if ((r = check_array(c, rules, 0, MAX_RULES)) != PV_OK)
			goto out;
		k->rules = calloc((size_t)cJSON_GetArraySize(rules) + 1, sizeof(*k->rules));
		if (k->rules == NULL) {
			r = PV_ERR_NOMEM;
			goto out;
		}
		cJSON_ArrayForEach(e, rules)
		{
			size_t s3 = path_idx(c, i);

			k->n_rules = ++i;
			if ((r = parse_rule(c, e, cfg, &k->rules[i - 1])) != PV_OK)
				goto out;
			path_pop(c, s3);
		}
		path_pop(c, s2);
	}
	r = parse_rate(c, cl, k);
out:
	free(role);
	return r;
}

static pv_err
parse_clients(struct ctx *c, const cJSON *root, struct pv_config *cfg)
{
	const cJSON *arr = member(root, "clients"), *e;
	size_t saved = path_key(c, "clients"), i = 0, s2;
	pv_err r;

	if (arr == NULL) {
		r = fail(c, "required field missing");
		goto out;
	}
	if ((r = check_array(c, arr, 1, MAX_CLIENTS)) != PV_OK)
		goto out;
	if ((cfg->clients = calloc((size_t)cJSON_GetArraySize(arr), sizeof(*cfg->clients))) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	cJSON_ArrayForEach(e, arr)
	{
		s2 = path_idx(c, i);
		cfg->n_clients = ++i;
		if ((r = parse_client(c, e, cfg, &cfg->clients[i - 1])) != PV_OK ||
		    (r = check_unique(c, cfg, i - 1)) != PV_OK)
			goto out;
		path_pop(c, s2);
	}
out:
	path_pop(c, saved);
	return r;
}

static pv_err
parse_root(struct ctx *c, const cJSON *root, struct pv_config *cfg)
{
	static const char *const fields[] = {"token",   "listen", "workers", "limits", "bundle",
					     "secrets", "audit",  "jwt",     "clients"};
	pv_err r;

	if ((r = check_object(c, root, fields, PV_NELEM(fields))) != PV_OK ||
	    (r = parse_token(c, root, cfg)) != PV_OK || (r = parse_listen(c, root, cfg)) != PV_OK ||
	    (r = get_u32(c, root, "workers", 1, 256, 4, &cfg->workers)) != PV_OK ||
	    (r = parse_limits(c, root, cfg)) != PV_OK || (r = parse_bundle(c, root, cfg)) != PV_OK ||
	    (r = parse_secrets(c, root, cfg)) != PV_OK || (r = parse_audit(c, root, cfg)) != PV_OK ||
	    (r = parse_jwt(c, root, cfg)) != PV_OK || (r = parse_clients(c, root, cfg)) != PV_OK)
		return r;
	return PV_OK;
}

pv_err
pv_config_parse(const pv_buf *in, struct pv_config **out)
{
	const char *text = (const char *)pv_buf_ptr(in), *end = NULL;
	size_t len = pv_buf_len(in), i;
	struct pv_config *cfg = NULL;
	struct ctx c = {.path = "", .len = 0};
	cJSON *root = NULL;
	pv_err r;

	*out = NULL;
	if (len > PV_CONFIG_MAX_BYTES) {
		pv_err_set_detail("vaultd.json: larger than %zu bytes", PV_CONFIG_MAX_BYTES);
		r = PV_ERR_TOO_LARGE;
		goto out;
	}
	if (len == 0 || memchr(text, '\0', len) != NULL) {
		r = fail(&c, len == 0 ? "empty file" : "contains a NUL byte");
		goto out;
	}
	if (pv_json_has_nul_escape((const uint8_t *)text, len)) {
		r = fail(&c, "contains a \\u0000 escape (a name or path would be cut short)");
		goto out;
	}
	root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (root == NULL) {
		size_t at = end != NULL && end >= text && end <= text + len ? (size_t)(end - text) : 0;

		r = fail(&c, "not valid JSON (near byte %zu)", at);
		goto out;
	}
	for (i = (size_t)(end - text); i < len; i++) {
		if (!isspace((unsigned char)text[i])) {
			r = fail(&c, "text after the JSON value (byte %zu)", i);
			goto out;
		}
	}
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	if ((r = parse_root(&c, root, cfg)) != PV_OK)
		goto out;
	*out = cfg;
	cfg = NULL;
out:
	cJSON_Delete(root);
	pv_config_free(cfg);
	return r;
}

pv_err
pv_config_load(const char *path, struct pv_config **out)
{
	pv_buf *b = NULL;
	pv_err r;

	*out = NULL;
	if ((r = pv_buf_read_file(path, PV_CONFIG_MAX_BYTES, &b)) != PV_OK) {
		if (r == PV_ERR_TOO_LARGE)
			pv_err_set_detail("vaultd.json: larger than %zu bytes", PV_CONFIG_MAX_BYTES);
		goto out;
	}
	r = pv_config_parse(b, out);
out:
	pv_buf_free(b);
	return r;
}

static void
free_list(char **l, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

void
pv_config_free(struct pv_config *cfg)
{
	size_t i, j;

	if (cfg == NULL)
		return;
	free(cfg->token.uri);
	free(cfg->token.module);
	free(cfg->token.pin_source);
	free(cfg->listen.unix_path);
	free(cfg->listen.unix_group);
	free(cfg->listen.tcp_address);
	free(cfg->listen.tls_cert);
	free(cfg->listen.tls_key);
	free(cfg->listen.client_ca);
	free(cfg->bundle.path);
	for (i = 0; i < cfg->bundle.n_expect_context; i++) {
		free(cfg->bundle.expect_context[i].name);
		free(cfg->bundle.expect_context[i].value);
	}
	free(cfg->bundle.expect_context);
	free_list(cfg->secrets.environment, cfg->secrets.n_environment);
	free(cfg->audit.file);
	free(cfg->audit.hmac_key);
	free(cfg->jwt.issuer);
	for (i = 0; i < cfg->n_clients; i++) {
		struct pv_config_client *k = &cfg->clients[i];

		free(k->name);
		for (j = 0; j < k->n_rules; j++) {
			free_list(k->rules[j].keys, k->rules[j].n_keys);
			free_list(k->rules[j].audiences, k->rules[j].n_audiences);
			free(k->rules[j].chain_ids);
			free(k->rules[j].max_value_wei);
		}
		free(k->rules);
	}
	free(cfg->clients);
	free(cfg);
}
