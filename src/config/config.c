/* vaultd.json: parsing and validation (docs/config.md is the spec). */
#include "config.h"

#include "config/vaultd_config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <cjson/cJSON.h>

#include "base/json.h"
#include "bundle/envname.h"
#include "core/b64.h"

#define MAX_CLIENTS         1024
#define MAX_RULES           64
#define MAX_LIST            64
#define MAX_CONTEXT         64
#define MAX_TRUSTED_SEALERS 16
#define MAX_NAME_LEN        64
#define MAX_STR_LEN         4096
#define MAX_PATTERN_LEN     256
#define UINT256_MAX_DIGITS  "115792089237316195423570985008687907853269984665640564039457584007913129639935"

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

/* Flags for every string in the file: docs/config.md, "Strings are non-empty
 * and contain no control characters". */
#define STR_FLAGS (PV_JSON_NONEMPTY | PV_JSON_PRINTABLE)
/* No length limit of its own (the value is matched against a table). */
#define ANY_LEN   (SIZE_MAX - 1)

static unsigned
req(int required)
{
	return required ? PV_JSON_REQUIRED : 0;
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

/* A copy of string value v (NULL when absent), held to STR_FLAGS. */
static pv_err
copy_string(const pv_jv *v, unsigned flags, size_t maxlen, char **out)
{
	const char *s = NULL;
	pv_err r;

	if ((r = pv_json_as_string(v, flags | STR_FLAGS, maxlen, &s)) != PV_OK || s == NULL)
		return r;
	return (*out = copy_str(s)) != NULL ? PV_OK : PV_ERR_NOMEM;
}

static pv_err
get_string(const pv_jv *obj, const char *name, int required, size_t maxlen, char **out)
{
	pv_jv v = pv_json_at(obj, name);

	return copy_string(&v, req(required), maxlen, out);
}

/* An optional integer member in [min, max], dflt when absent. */
static pv_err
get_u64(const pv_jv *obj, const char *name, int64_t min, int64_t max, uint64_t dflt, uint64_t *out)
{
	int64_t v = (int64_t)dflt;
	pv_err r = pv_json_int(obj, name, 0, min, max, &v);

	*out = (uint64_t)v;
	return r;
}

static pv_err
get_u32(const pv_jv *obj, const char *name, uint32_t min, uint32_t max, uint32_t dflt, uint32_t *out)
{
	uint64_t v = dflt;
	pv_err r = get_u64(obj, name, min, max, dflt, &v);

	*out = (uint32_t)v;
	return r;
}

static pv_err
get_bool(const pv_jv *obj, const char *name, int dflt, int *out)
{
	*out = dflt;
	return pv_json_bool(obj, name, 0, out);
}

/* A non-empty array of bounded strings (NULL when absent). */
static pv_err
get_string_list(const pv_jv *obj, const char *name, unsigned flags, size_t maxlen, char ***out, size_t *n_out)
{
	pv_jv arr, e;
	size_t n = 0, i = 0;
	char **list = NULL;
	pv_err r;

	if ((r = pv_json_array(obj, name, flags | PV_JSON_NONEMPTY, MAX_LIST, &arr, &n)) != PV_OK ||
	    arr.j == NULL)
		return r;
	if ((list = calloc(n, sizeof(*list))) == NULL)
		return PV_ERR_NOMEM;
	for (e = pv_json_first(&arr); e.j != NULL; pv_json_next(&e)) {
		if ((r = copy_string(&e, 0, maxlen, &list[i])) != PV_OK)
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
parse_token(const pv_jv *root, struct pv_config *cfg)
{
	static const char *const fields[] = {
	    "uri", "module", "pin_source", "max_sessions", "session_key_copies", NULL};
	static const char *const pin_kinds[] = {"file:", "env:", "fd:", "cred:"};
	pv_jv t;
	size_t i;
	pv_err r;

	if ((r = pv_json_object(root, "token", PV_JSON_REQUIRED, fields, &t)) != PV_OK ||
	    (r = get_string(&t, "uri", 1, MAX_STR_LEN, &cfg->token.uri)) != PV_OK ||
	    (r = get_string(&t, "module", 0, MAX_STR_LEN, &cfg->token.module)) != PV_OK ||
	    (r = get_string(&t, "pin_source", 1, MAX_STR_LEN, &cfg->token.pin_source)) != PV_OK ||
	    (r = get_u32(&t, "max_sessions", 1, 256, 8, &cfg->token.max_sessions)) != PV_OK ||
	    (r = get_bool(&t, "session_key_copies", 1, &cfg->token.session_key_copies)) != PV_OK)
		return r;
	if (strncmp(cfg->token.uri, "pkcs11:", 7) != 0)
		return pv_json_fail_at(&t, "uri", "must be a pkcs11: URI (RFC 7512)");
	if (cfg->token.module != NULL && cfg->token.module[0] != '/')
		return pv_json_fail_at(&t, "module", "must be an absolute path");
	for (i = 0; i < PV_NELEM(pin_kinds); i++) {
		if (strncmp(cfg->token.pin_source, pin_kinds[i], strlen(pin_kinds[i])) == 0 &&
		    cfg->token.pin_source[strlen(pin_kinds[i])] != '\0')
			return PV_OK;
	}
	return pv_json_fail_at(&t, "pin_source",
			       "must be file:PATH, env:NAME, fd:N or cred:NAME (never the PIN itself)");
}

static pv_err
parse_mode(const pv_jv *u, uint32_t *mode)
{
	pv_jv v = pv_json_at(u, "mode");
	const char *s;
	size_t i, len;

	*mode = 0660;
	if (v.j == NULL)
		return PV_OK;
	if (!cJSON_IsString(v.j))
		return pv_json_fail(&v, "expected an octal string like \"0660\", got %s",
				    pv_json_type_name(&v));
	s = v.j->valuestring;
	len = strlen(s);
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '7')
			break;
	}
	if (len < 3 || len > 4 || i != len)
		return pv_json_fail(&v, "expected an octal string like \"0660\"");
	*mode = (uint32_t)strtoul(s, NULL, 8);
	if (*mode > 0777)
		return pv_json_fail(&v, "only permission bits (at most 0777)");
	if (*mode & 0007)
		return pv_json_fail(&v, "a socket open to others is refused (no o+rwx bits)");
	return PV_OK;
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
parse_listen(const pv_jv *root, struct pv_config *cfg)
{
	static const char *const fields[] = {"unix", "tcp", NULL};
	static const char *const ufields[] = {"path", "mode", "group", NULL};
	static const char *const tfields[] = {"address", "tls_cert", "tls_key", "client_ca", NULL};
	pv_jv l, u, t;
	pv_err r;

	if ((r = pv_json_object(root, "listen", PV_JSON_REQUIRED, fields, &l)) != PV_OK ||
	    (r = pv_json_object(&l, "unix", 0, ufields, &u)) != PV_OK ||
	    (r = pv_json_object(&l, "tcp", 0, tfields, &t)) != PV_OK)
		return r;
	if (u.j == NULL && t.j == NULL)
		return pv_json_fail(&l, "needs unix, tcp or both");
	if (u.j != NULL) {
		cfg->listen.has_unix = 1;
		if ((r = get_string(&u, "path", 1, 107, &cfg->listen.unix_path)) != PV_OK ||
		    (r = parse_mode(&u, &cfg->listen.unix_mode)) != PV_OK ||
		    (r = get_string(&u, "group", 0, 32, &cfg->listen.unix_group)) != PV_OK)
			return r;
		if (cfg->listen.unix_path[0] != '/')
			return pv_json_fail_at(&u, "path", "must be an absolute path");
		if (cfg->listen.unix_group != NULL && !is_name(cfg->listen.unix_group, 32))
			return pv_json_fail_at(&u, "group", "not a group name");
	}
	if (t.j != NULL) {
		cfg->listen.has_tcp = 1;
		if ((r = get_string(&t, "address", 1, 300, &cfg->listen.tcp_address)) != PV_OK ||
		    (r = get_string(&t, "tls_cert", 1, MAX_STR_LEN, &cfg->listen.tls_cert)) != PV_OK ||
		    (r = get_string(&t, "tls_key", 1, MAX_STR_LEN, &cfg->listen.tls_key)) != PV_OK ||
		    (r = get_string(&t, "client_ca", 0, MAX_STR_LEN, &cfg->listen.client_ca)) != PV_OK)
			return r;
		if (!valid_address(cfg->listen.tcp_address))
			return pv_json_fail_at(
			    &t, "address", "expected HOST:PORT or [IPV6]:PORT with a port from 1 to 65535");
	}
	return PV_OK;
}

static pv_err
parse_limits(const pv_jv *root, struct pv_config *cfg)
{
	static const char *const fields[] = {"max_body_bytes",
					     "request_timeout_ms",
					     "header_timeout_ms",
					     "body_timeout_ms",
					     "max_connections",
					     "max_connections_per_peer",
					     NULL};
	pv_jv l;
	pv_err r;

	cfg->limits.max_body_bytes = 65536;
	cfg->limits.request_timeout_ms = 5000;
	cfg->limits.header_timeout_ms = 2000;
	cfg->limits.body_timeout_ms = 5000;
	cfg->limits.max_connections = 512;
	cfg->limits.max_connections_per_peer = 64;
	if ((r = pv_json_object(root, "limits", 0, fields, &l)) != PV_OK ||
	    (r = get_u32(&l, "max_body_bytes", 1024, 16u << 20, 65536, &cfg->limits.max_body_bytes)) !=
		PV_OK ||
	    (r = get_u32(&l, "request_timeout_ms", 100, 600000, 5000, &cfg->limits.request_timeout_ms)) !=
		PV_OK ||
	    (r = get_u32(&l, "header_timeout_ms", 100, 600000, 2000, &cfg->limits.header_timeout_ms)) !=
		PV_OK ||
	    (r = get_u32(&l, "body_timeout_ms", 100, 600000, 5000, &cfg->limits.body_timeout_ms)) != PV_OK ||
	    (r = get_u32(&l, "max_connections", 16, 65536, 512, &cfg->limits.max_connections)) != PV_OK ||
	    (r = get_u32(&l, "max_connections_per_peer", 1, 65536, 64,
			 &cfg->limits.max_connections_per_peer)) != PV_OK)
		return r;
	return PV_OK;
}

static pv_err
parse_context(const pv_jv *b, struct pv_config *cfg)
{
	pv_jv ec, m;
	size_t n = 0;
	pv_err r;

	if ((r = pv_json_object(b, "expect_context", 0, NULL, &ec)) != PV_OK || ec.j == NULL)
		return r;
	if (pv_json_count(&ec) > MAX_CONTEXT)
		return pv_json_fail(&ec, "more than %d entries", MAX_CONTEXT);
	cfg->bundle.expect_context = calloc(pv_json_count(&ec) + 1, sizeof(*cfg->bundle.expect_context));
	if (cfg->bundle.expect_context == NULL)
		return PV_ERR_NOMEM;
	/* each name once: the reader refuses a document that repeats one */
	for (m = pv_json_first(&ec); m.j != NULL; pv_json_next(&m)) {
		struct pv_config_kv *kv = &cfg->bundle.expect_context[n];

		if (!is_name(m.name, MAX_NAME_LEN))
			return pv_json_fail(&m, "context names are 1-64 of A-Z a-z 0-9 . _ -");
		if ((kv->name = copy_str(m.name)) == NULL)
			return PV_ERR_NOMEM;
		cfg->bundle.n_expect_context = ++n;
		if ((r = copy_string(&m, 0, MAX_STR_LEN, &kv->value)) != PV_OK)
			return r;
	}
	return PV_OK;
}

static pv_err
parse_bundle(const pv_jv *root, struct pv_config *cfg)
{
	static const char *const fields[] = {"path",
					     "min_version",
					     "expect_context",
					     "required",
					     "key_import_fallback",
					     "trusted_sealers",
					     "allow_unsigned",
					     NULL};
	pv_jv b;
	pv_err r;

	if ((r = pv_json_object(root, "bundle", 0, fields, &b)) != PV_OK || b.j == NULL)
		return r;
	cfg->bundle.present = 1;
	if ((r = get_string(&b, "path", 1, MAX_STR_LEN, &cfg->bundle.path)) != PV_OK ||
	    (r = get_u64(&b, "min_version", 0, PV_JSON_INT_MAX, 0, &cfg->bundle.min_version)) != PV_OK ||
	    (r = parse_context(&b, cfg)) != PV_OK ||
	    (r = get_bool(&b, "required", 1, &cfg->bundle.required)) != PV_OK ||
	    (r = get_bool(&b, "key_import_fallback", 0, &cfg->bundle.key_import_fallback)) != PV_OK ||
	    (r = get_string_list(&b, "trusted_sealers", 0, MAX_STR_LEN, &cfg->bundle.trusted_sealers,
				 &cfg->bundle.n_trusted_sealers)) != PV_OK ||
	    (r = get_bool(&b, "allow_unsigned", 0, &cfg->bundle.allow_unsigned)) != PV_OK)
		return r;
	if (cfg->bundle.n_trusted_sealers > MAX_TRUSTED_SEALERS)
		return pv_json_fail_at(&b, "trusted_sealers", "at most %d sealers", MAX_TRUSTED_SEALERS);
	return PV_OK;
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

/* A list of environment variable names: each valid, none twice. */
static pv_err
check_env_names(const pv_jv *sec, const char *member, char **names, size_t n)
{
	pv_jv list = pv_json_at(sec, member), e;
	size_t i, j;
	char q[80];

	for (e = pv_json_first(&list), i = 0; e.j != NULL && i < n; pv_json_next(&e), i++) {
		if (!is_env_name(names[i]))
			return pv_json_fail(&e, "\"%s\" is not an environment variable name",
					    quoted(names[i], q, sizeof(q)));
		for (j = 0; j < i; j++) {
			if (strcmp(names[j], names[i]) == 0)
				return pv_json_fail(&e, "\"%s\" is listed twice",
						    quoted(names[i], q, sizeof(q)));
		}
	}
	return PV_OK;
}

static pv_err
parse_secrets(const pv_jv *root, struct pv_config *cfg)
{
	static const char *const fields[] = {"environment", "allow_env", NULL};
	pv_jv sec, env, e;
	const char *rule = NULL;
	char why[32] = "";
	size_t i;
	pv_err r;

	if ((r = pv_json_object(root, "secrets", 0, fields, &sec)) != PV_OK || sec.j == NULL ||
	    (r = get_string_list(&sec, "environment", 0, 128, &cfg->secrets.environment,
				 &cfg->secrets.n_environment)) != PV_OK ||
	    (r = check_env_names(&sec, "environment", cfg->secrets.environment,
				 cfg->secrets.n_environment)) != PV_OK ||
	    (r = get_string_list(&sec, "allow_env", 0, 128, &cfg->secrets.allow_env,
				 &cfg->secrets.n_allow_env)) != PV_OK ||
	    (r = check_env_names(&sec, "allow_env", cfg->secrets.allow_env, cfg->secrets.n_allow_env)) !=
		PV_OK)
		return r;
	/* a name that changes how programs run only when allowed by name
	 * (bundle/envname.h; the bundle's env entries: vaultd/secrets.c) */
	env = pv_json_at(&sec, "environment");
	for (e = pv_json_first(&env), i = 0; e.j != NULL && i < cfg->secrets.n_environment;
	     pv_json_next(&e), i++) {
		const char *name = cfg->secrets.environment[i];

		if (pv_env_name_check(name, (const char *const *)cfg->secrets.allow_env,
				      cfg->secrets.n_allow_env, &rule) == PV_OK)
			continue;
		if (strcmp(rule, name) != 0)
			snprintf(why, sizeof(why), " (%s)", rule);
		return pv_json_fail(&e,
				    "%s changes how programs run%s; refused (list it in secrets.allow_env to "
				    "serve it anyway)",
				    name, why);
	}
	return PV_OK;
}

static pv_err
parse_audit(const pv_jv *root, struct pv_config *cfg)
{
	static const char *const fields[] = {
	    "file", "syslog", "hmac_key", "checkpoint_every", "checkpoint_seconds", NULL};
	pv_jv a;
	pv_err r;

	if ((r = pv_json_object(root, "audit", PV_JSON_REQUIRED, fields, &a)) != PV_OK ||
	    (r = get_string(&a, "file", 0, MAX_STR_LEN, &cfg->audit.file)) != PV_OK ||
	    (r = get_bool(&a, "syslog", 0, &cfg->audit.syslog)) != PV_OK ||
	    (r = get_string(&a, "hmac_key", 1, MAX_NAME_LEN, &cfg->audit.hmac_key)) != PV_OK ||
	    (r = get_u32(&a, "checkpoint_every", 1, 1000000, 1000, &cfg->audit.checkpoint_every)) != PV_OK ||
	    (r = get_u32(&a, "checkpoint_seconds", 1, 86400, 60, &cfg->audit.checkpoint_seconds)) != PV_OK)
		return r;
	if (cfg->audit.file != NULL && cfg->audit.file[0] != '/')
		return pv_json_fail_at(&a, "file", "must be an absolute path");
	if (!is_name(cfg->audit.hmac_key, MAX_NAME_LEN))
		return pv_json_fail_at(&a, "hmac_key", "not a key name");
	if (cfg->audit.file == NULL && !cfg->audit.syslog)
		return pv_json_fail(&a, "needs file, syslog or both");
	return PV_OK;
}

static pv_err
parse_jwt(const pv_jv *root, struct pv_config *cfg)
{
	static const char *const fields[] = {"issuer", "default_ttl", NULL};
	pv_jv j;
	pv_err r;

	if ((r = pv_json_object(root, "jwt", 0, fields, &j)) != PV_OK || j.j == NULL)
		return r;
	cfg->jwt.present = 1;
	if ((r = get_string(&j, "issuer", 1, 1024, &cfg->jwt.issuer)) != PV_OK ||
	    (r = get_u32(&j, "default_ttl", 1, 86400, 300, &cfg->jwt.default_ttl)) != PV_OK)
		return r;
	return PV_OK;
}

static pv_err
parse_ops(const pv_jv *rule, const struct pv_config *cfg, uint32_t *ops)
{
	pv_jv arr, e;
	const char *name = NULL;
	size_t n = 0;
	char q[48];
	pv_err r;
	pv_op op;

	*ops = 0;
	if ((r = pv_json_array(rule, "ops", PV_JSON_REQUIRED | PV_JSON_NONEMPTY, MAX_LIST, &arr, &n)) !=
	    PV_OK)
		return r;
	for (e = pv_json_first(&arr); e.j != NULL; pv_json_next(&e)) {
		if ((r = pv_json_as_string(&e, 0, ANY_LEN, &name)) != PV_OK)
			return r;
		if (pv_op_from_name(name, &op) != PV_OK)
			return pv_json_fail(&e, "unknown operation \"%s\"", quoted(name, q, sizeof(q)));
		if (op == PV_OP_RELOAD)
			return pv_json_fail(&e,
					    "reload comes with role admin and cannot be granted by a rule");
		if (*ops & (1u << op))
			return pv_json_fail(&e, "duplicate operation \"%s\"", pv_op_name(op));
		if (op == PV_OP_JWT_ISSUE && !cfg->jwt.present)
			return pv_json_fail(&e, "jwt.issue needs the top-level jwt section");
		*ops |= 1u << op;
	}
	return PV_OK;
}

static pv_err
parse_chain_ids(const pv_jv *rule, struct pv_config_rule *ru)
{
	pv_jv arr, e;
	size_t n = 0, i = 0, j;
	int64_t id = 0;
	pv_err r;

	if ((r = pv_json_array(rule, "chain_ids", PV_JSON_NONEMPTY, MAX_LIST, &arr, &n)) != PV_OK ||
	    arr.j == NULL)
		return r;
	if ((ru->chain_ids = calloc(n, sizeof(*ru->chain_ids))) == NULL)
		return PV_ERR_NOMEM;
	for (e = pv_json_first(&arr); e.j != NULL; pv_json_next(&e)) {
		if ((r = pv_json_as_int(&e, 0, 1, PV_JSON_INT_MAX, &id)) != PV_OK)
			return r;
		ru->chain_ids[i] = (uint64_t)id;
		for (j = 0; j < i; j++) {
			if (ru->chain_ids[j] == ru->chain_ids[i])
				return pv_json_fail(&e, "duplicate chain id");
		}
		ru->n_chain_ids = ++i;
	}
	return PV_OK;
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
needs_op(const pv_jv *rule, const char *field, uint32_t ops, pv_op op)
{
	if (pv_json_at(rule, field).j == NULL || (ops & (1u << op)))
		return PV_OK;
	return pv_json_fail_at(rule, field, "only applies to rules that grant %s", pv_op_name(op));
}

static pv_err
parse_rule(const pv_jv *rule, const struct pv_config *cfg, struct pv_config_rule *ru)
{
	static const char *const fields[] = {"ops",       "keys",          "max_ttl", "audiences",
					     "chain_ids", "max_value_wei", NULL};
	uint64_t ttl = 0;
	pv_err r;

	if ((r = pv_json_as_object(rule, PV_JSON_REQUIRED, fields)) != PV_OK ||
	    (r = parse_ops(rule, cfg, &ru->ops)) != PV_OK ||
	    (r = get_string_list(rule, "keys", PV_JSON_REQUIRED, MAX_PATTERN_LEN, &ru->keys, &ru->n_keys)) !=
		PV_OK ||
	    (r = get_u64(rule, "max_ttl", 1, 86400, 0, &ttl)) != PV_OK ||
	    (r = get_string_list(rule, "audiences", 0, 1024, &ru->audiences, &ru->n_audiences)) != PV_OK ||
	    (r = parse_chain_ids(rule, ru)) != PV_OK ||
	    (r = get_string(rule, "max_value_wei", 0, 100, &ru->max_value_wei)) != PV_OK)
		return r;
	ru->max_ttl = (uint32_t)ttl;
	if (ru->max_value_wei != NULL && !valid_wei(ru->max_value_wei))
		return pv_json_fail_at(rule, "max_value_wei",
				       "expected a decimal string from \"0\" to 2^256-1, no leading zeros");
	if ((r = needs_op(rule, "max_ttl", ru->ops, PV_OP_JWT_ISSUE)) != PV_OK ||
	    (r = needs_op(rule, "audiences", ru->ops, PV_OP_JWT_ISSUE)) != PV_OK ||
	    (r = needs_op(rule, "chain_ids", ru->ops, PV_OP_WALLET_SIGN)) != PV_OK ||
	    (r = needs_op(rule, "max_value_wei", ru->ops, PV_OP_WALLET_SIGN)) != PV_OK)
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
parse_auth(const pv_jv *cl, const struct pv_config *cfg, struct pv_config_client *k)
{
	static const char *const fields[] = {"token_sha256", "uid", "cert_sha256", NULL};
	pv_jv a;
	char *text = NULL;
	uint64_t uid = 0;
	pv_err r;

	if ((r = pv_json_object(cl, "auth", PV_JSON_REQUIRED, fields, &a)) != PV_OK)
		goto out;
	if (pv_json_count(&a) != 1) {
		r = pv_json_fail(&a, "needs exactly one of token_sha256, uid, cert_sha256");
		goto out;
	}
	if (pv_json_at(&a, "uid").j != NULL) {
		k->auth = PV_AUTH_UID;
		if ((r = get_u64(&a, "uid", 0, 4294967294, 0, &uid)) != PV_OK)
			goto out;
		k->uid = (uint32_t)uid;
		if (!cfg->listen.has_unix)
			r = pv_json_fail_at(&a, "uid", "uid authentication needs listen.unix");
		goto out;
	}
	if (pv_json_at(&a, "token_sha256").j != NULL) {
		k->auth = PV_AUTH_TOKEN;
		if ((r = get_string(&a, "token_sha256", 1, 100, &text)) != PV_OK)
			goto out;
		if (!decode_sha256(text, 0, k->token_sha256))
			r = pv_json_fail_at(
			    &a, "token_sha256",
			    "expected 43 base64url characters (a SHA-256 digest, as vaultctl client add prints)");
		goto out;
	}
	k->auth = PV_AUTH_CERT;
	if ((r = get_string(&a, "cert_sha256", 1, 100, &text)) != PV_OK)
		goto out;
	if (!decode_sha256(text, 1, k->cert_sha256))
		r = pv_json_fail_at(
		    &a, "cert_sha256",
		    "expected a SHA-256 fingerprint: 64 hex digits (colons allowed) or 43 base64url");
	else if (cfg->listen.client_ca == NULL)
		r = pv_json_fail_at(&a, "cert_sha256",
				    "certificate authentication needs listen.tcp.client_ca");
out:
	free(text);
	return r;
}

static pv_err
parse_rate(const pv_jv *cl, struct pv_config_client *k)
{
	static const char *const fields[] = {"per_second", "burst", NULL};
	pv_jv rt;
	pv_err r;

	k->rate_per_second = 50;
	k->rate_burst = 100;
	if ((r = pv_json_object(cl, "rate", 0, fields, &rt)) != PV_OK ||
	    (r = get_u32(&rt, "burst", 1, 1000000, 100, &k->rate_burst)) != PV_OK ||
	    (r = pv_json_number(&rt, "per_second", 0, 0.001, 1000000, &k->rate_per_second)) != PV_OK)
		return r;
	return PV_OK;
}

/* No two clients may share a name or a credential. */
static pv_err
check_unique(const pv_jv *cl, const struct pv_config *cfg, size_t i)
{
	const struct pv_config_client *k = &cfg->clients[i];
	size_t j;
	char q[48];

	for (j = 0; j < i; j++) {
		const struct pv_config_client *o = &cfg->clients[j];

		if (strcmp(o->name, k->name) == 0)
			return pv_json_fail_at(cl, "name", "duplicate client name \"%s\" (also clients[%zu])",
					       quoted(k->name, q, sizeof(q)), j);
		if (o->auth != k->auth)
			continue;
		if ((k->auth == PV_AUTH_UID && o->uid == k->uid) ||
		    (k->auth == PV_AUTH_TOKEN && sodium_memcmp(o->token_sha256, k->token_sha256, 32) == 0) ||
		    (k->auth == PV_AUTH_CERT && memcmp(o->cert_sha256, k->cert_sha256, 32) == 0))
			return pv_json_fail_at(cl, "auth", "same credential as clients[%zu]", j);
	}
	return PV_OK;
}

static pv_err
parse_client(const pv_jv *cl, struct pv_config *cfg, struct pv_config_client *k)
{
	static const char *const fields[] = {"name", "auth", "role", "rules", "rate", NULL};
	pv_jv rules, e;
	char *role = NULL;
	size_t i = 0, n = 0;
	pv_err r;

	if ((r = pv_json_as_object(cl, PV_JSON_REQUIRED, fields)) != PV_OK ||
	    (r = get_string(cl, "name", 1, MAX_NAME_LEN, &k->name)) != PV_OK)
		goto out;
	if (!is_name(k->name, MAX_NAME_LEN)) {
		r = pv_json_fail_at(cl, "name", "client names are 1-64 of A-Z a-z 0-9 . _ -");
		goto out;
	}
	if ((r = parse_auth(cl, cfg, k)) != PV_OK || (r = get_string(cl, "role", 0, 16, &role)) != PV_OK)
		goto out;
	k->role = PV_ROLE_CLIENT;
	if (role != NULL) {
		if (strcmp(role, "admin") == 0) {
			k->role = PV_ROLE_ADMIN;
		} else if (strcmp(role, "client") != 0) {
			char q[48];

			r = pv_json_fail_at(cl, "role", "expected \"client\" or \"admin\", got \"%s\"",
					    quoted(role, q, sizeof(q)));
			goto out;
		}
	}
	if ((r = pv_json_array(cl, "rules", 0, MAX_RULES, &rules, &n)) != PV_OK)
		goto out;
	if (rules.j != NULL) {
		if ((k->rules = calloc(n + 1, sizeof(*k->rules))) == NULL) {
			r = PV_ERR_NOMEM;
			goto out;
		}
		for (e = pv_json_first(&rules); e.j != NULL; pv_json_next(&e)) {
			k->n_rules = ++i;
			if ((r = parse_rule(&e, cfg, &k->rules[i - 1])) != PV_OK)
				goto out;
		}
	}
	r = parse_rate(cl, k);
out:
	free(role);
	return r;
}

static pv_err
parse_clients(const pv_jv *root, struct pv_config *cfg)
{
	pv_jv arr, e;
	size_t n = 0, i = 0;
	pv_err r;

	if ((r = pv_json_array(root, "clients", PV_JSON_REQUIRED | PV_JSON_NONEMPTY, MAX_CLIENTS, &arr,
			       &n)) != PV_OK)
		return r;
	if ((cfg->clients = calloc(n, sizeof(*cfg->clients))) == NULL)
		return PV_ERR_NOMEM;
	for (e = pv_json_first(&arr); e.j != NULL; pv_json_next(&e)) {
		cfg->n_clients = ++i;
		if ((r = parse_client(&e, cfg, &cfg->clients[i - 1])) != PV_OK ||
		    (r = check_unique(&e, cfg, i - 1)) != PV_OK)
			return r;
	}
	return PV_OK;
}

static pv_err
parse_root(const pv_jv *root, struct pv_config *cfg)
{
	static const char *const fields[] = {"token",   "listen", "workers", "limits",  "bundle",
					     "secrets", "audit",  "jwt",     "clients", NULL};
	pv_err r;

	if ((r = pv_json_as_object(root, PV_JSON_REQUIRED, fields)) != PV_OK ||
	    (r = parse_token(root, cfg)) != PV_OK || (r = parse_listen(root, cfg)) != PV_OK ||
	    (r = get_u32(root, "workers", 1, 256, 4, &cfg->workers)) != PV_OK ||
	    (r = parse_limits(root, cfg)) != PV_OK || (r = parse_bundle(root, cfg)) != PV_OK ||
	    (r = parse_secrets(root, cfg)) != PV_OK || (r = parse_audit(root, cfg)) != PV_OK ||
	    (r = parse_jwt(root, cfg)) != PV_OK || (r = parse_clients(root, cfg)) != PV_OK)
		return r;
	return PV_OK;
}

pv_err
pv_config_parse(const pv_buf *in, struct pv_config **out)
{
	size_t len = pv_buf_len(in);
	struct pv_config *cfg = NULL;
	cJSON *tree = NULL;
	pv_jv root;
	pv_err r;

	*out = NULL;
	if (len > PV_CONFIG_MAX_BYTES) {
		pv_err_set_detail("vaultd.json: larger than %zu bytes", PV_CONFIG_MAX_BYTES);
		r = PV_ERR_TOO_LARGE;
		goto out;
	}
	if ((r = pv_json_parse(pv_buf_ptr(in), len, "vaultd.json", PV_JSON_DEPTH_MAX, &tree)) != PV_OK)
		goto out;
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	root = pv_json_root(tree, "vaultd.json");
	/* then the checks across fields (config_check.c) */
	if ((r = parse_root(&root, cfg)) != PV_OK || (r = pv_config_check_rules(cfg)) != PV_OK)
		goto out;
	*out = cfg;
	cfg = NULL;
out:
	cJSON_Delete(tree);
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
	free_list(cfg->bundle.trusted_sealers, cfg->bundle.n_trusted_sealers);
	free_list(cfg->secrets.environment, cfg->secrets.n_environment);
	free_list(cfg->secrets.allow_env, cfg->secrets.n_allow_env);
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
