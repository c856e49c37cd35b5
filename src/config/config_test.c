#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "config/vaultd_config.h"

/* SHA-256 of "pvt_test" in base64url (openssl dgst -sha256 -binary | basenc --base64url). */
#define TOKEN_HASH "J4v6eUDZf4zyQ6EaHyaxzk4nTdCIPc5ldSQ-Im2jiVE"

/* A small valid config; each table case patches it into an invalid one. */
static const char base_config[] =
    "{\"token\":{\"uri\":\"pkcs11:token=t\",\"pin_source\":\"env:PIN\"},"
    "\"listen\":{\"unix\":{\"path\":\"/run/v.sock\"},"
    "\"tcp\":{\"address\":\"127.0.0.1:8443\",\"tls_cert\":\"/c\",\"tls_key\":\"/k\",\"client_ca\":\"/ca\"}},"
    "\"limits\":{},\"audit\":{\"file\":\"/var/log/a.log\",\"hmac_key\":\"audit-hmac\"},"
    "\"jwt\":{\"issuer\":\"https://i\"},"
    "\"bundle\":{\"path\":\"/b\"},"
    "\"clients\":["
    "{\"name\":\"a\",\"auth\":{\"token_sha256\":\"" TOKEN_HASH "\"},"
    "\"rules\":[{\"ops\":[\"sign\",\"verify\"],\"keys\":[\"k-*\"]}]},"
    "{\"name\":\"b\",\"auth\":{\"uid\":1001},"
    "\"rules\":[{\"ops\":[\"jwt.issue\"],\"keys\":[\"j\"],\"max_ttl\":60}]}]}";

static pv_err
parse_text(const char *text, size_t len, struct pv_config **cfg)
{
	pv_buf *b = NULL;
	pv_err r;

	assert_int_equal(pv_buf_view(text, len, &b), PV_OK);
	r = pv_config_parse(b, cfg);
	pv_buf_free(b);
	return r;
}

/* Set (or with json NULL, delete) the member at path, e.g. "a.b[2].c". */
static void
patch(cJSON *root, const char *path, const char *json)
{
	char tok[64];
	cJSON *cur = root, *val = NULL;
	const char *p = path;
	int idx = -1;

	for (;;) {
		size_t n = 0;

		idx = -1;
		if (*p == '[') {
			idx = (int)strtol(p + 1, NULL, 10);
			p = strchr(p, ']') + 1;
		} else {
			while (*p != '\0' && *p != '.' && *p != '[')
				tok[n++] = *p++;
			tok[n] = '\0';
		}
		if (*p == '.')
			p++;
		if (*p == '\0')
			break;
		cur = idx >= 0 ? cJSON_GetArrayItem(cur, idx) : cJSON_GetObjectItemCaseSensitive(cur, tok);
		if (cur == NULL)
			fail_msg("patch: no %s", path);
	}
	if (json != NULL) {
		val = cJSON_Parse(json);
		assert_non_null(val);
	}
	if (idx >= 0) {
		if (val != NULL)
			assert_true(cJSON_ReplaceItemInArray(cur, idx, val));
		else
			cJSON_DeleteItemFromArray(cur, idx);
	} else if (val == NULL) {
		cJSON_DeleteItemFromObjectCaseSensitive(cur, tok);
	} else if (cJSON_GetObjectItemCaseSensitive(cur, tok) != NULL) {
		assert_true(cJSON_ReplaceItemInObjectCaseSensitive(cur, tok, val));
	} else {
		assert_true(cJSON_AddItemToObject(cur, tok, val));
	}
}

struct bad_case {
	const char *path[2];
	const char *json[2]; /* NULL: delete path */
	const char *detail;  /* the error detail starts with this */
};

static const struct bad_case bad_cases[] = {
    {{"clients[0].rules[0].ops[1]"}, {"\"sgin\""}, "clients[0].rules[0].ops[1]: unknown operation \"sgin\""},
    {{"token"}, {NULL}, "token: required member missing"},
    {{"token.uri"}, {"\"token=x\""}, "token.uri: must be a pkcs11: URI"},
    {{"token.uri"}, {"5"}, "token.uri: expected a string, got a number"},
    {{"token.uri"}, {"\"\""}, "token.uri: must not be empty"},
    {{"token.pin_source"}, {"\"1234\""}, "token.pin_source: must be file:PATH"},
    {{"token.pin_source"}, {"\"prompt\""}, "token.pin_source: must be file:PATH"},
    {{"token.module"}, {"\"lib.so\""}, "token.module: must be an absolute path"},
    {{"token.max_sessions"}, {"0"}, "token.max_sessions: must be between 1 and 256"},
    {{"token.session_key_copies"}, {"\"yes\""}, "token.session_key_copies: expected a boolean, got a string"},
    {{"listen"}, {"{}"}, "listen: needs unix, tcp or both"},
    {{"listen.unix.path"}, {"\"run/v.sock\""}, "listen.unix.path: must be an absolute path"},
    {{"listen.unix.mode"}, {"\"0666\""}, "listen.unix.mode: a socket open to others is refused"},
    {{"listen.unix.mode"}, {"\"98\""}, "listen.unix.mode: expected an octal string"},
    {{"listen.unix.mode"}, {"660"}, "listen.unix.mode: expected an octal string"},
    {{"listen.unix.group"}, {"\"bad group\""}, "listen.unix.group: not a group name"},
    {{"listen.tcp.address"}, {"\"localhost\""}, "listen.tcp.address: expected HOST:PORT"},
    {{"listen.tcp.address"}, {"\"127.0.0.1:70000\""}, "listen.tcp.address: expected HOST:PORT"},
    {{"listen.tcp.tls_key"}, {NULL}, "listen.tcp.tls_key: required member missing"},
    {{"workers"}, {"0"}, "workers: must be between 1 and 256"},
    {{"workers"}, {"2.5"}, "workers: expected an integer"},
    {{"limits.max_body_bytes"}, {"10"}, "limits.max_body_bytes: must be between 1024 and 16777216"},
    {{"limits.request_timeout_ms"},
     {"\"5\""},
     "limits.request_timeout_ms: expected an integer, got a string"},
    {{"limits.header_timeout_ms"}, {"50"}, "limits.header_timeout_ms: must be between 100 and 600000"},
    {{"limits.max_connections"}, {"8"}, "limits.max_connections: must be between 16 and 65536"},
    {{"limits.max_connections_per_peer"},
     {"0"},
     "limits.max_connections_per_peer: must be between 1 and 65536"},
    {{"bundle.min_version"}, {"-1"}, "bundle.min_version: must be between 0 and"},
    {{"bundle.expect_context"},
     {"{\"env\":1}"},
     "bundle.expect_context.env: expected a string, got a number"},
    {{"bundle.expect_context"}, {"[]"}, "bundle.expect_context: expected an object, got an array"},
    {{"bundle.required"}, {"\"yes\""}, "bundle.required: expected a boolean, got a string"},
    {{"bundle.key_import_fallback"}, {"1"}, "bundle.key_import_fallback: expected a boolean, got a number"},
    {{"bundle.allow_unsigned"}, {"1"}, "bundle.allow_unsigned: expected a boolean, got a number"},
    {{"bundle.trusted_sealers"},
     {"\"/etc/s.pem\""},
     "bundle.trusted_sealers: expected an array, got a string"},
    {{"bundle.trusted_sealers"}, {"[1]"}, "bundle.trusted_sealers[0]: expected a string, got a number"},
    {{"bundle.path"}, {NULL}, "bundle.path: required member missing"},
    {{"audit.file"}, {NULL}, "audit: needs file, syslog or both"},
    {{"audit.checkpoint_every"}, {"0"}, "audit.checkpoint_every: must be between 1 and 1000000"},
    {{"audit.hmac_key"}, {"\"a b\""}, "audit.hmac_key: not a key name"},
    {{"audit.hmac_key"}, {NULL}, "audit.hmac_key: required member missing"},
    {{"jwt.default_ttl"}, {"100000"}, "jwt.default_ttl: must be between 1 and 86400"},
    {{"jwt"}, {NULL}, "clients[1].rules[0].ops[0]: jwt.issue needs the top-level jwt section"},
    {{"clients"}, {"[]"}, "clients: must not be empty"},
    {{"clients"}, {"{}"}, "clients: expected an array, got an object"},
    {{"clients[0].name"}, {"\"bad name\""}, "clients[0].name: client names are"},
    {{"clients[1].name"}, {"\"a\""}, "clients[1].name: duplicate client name \"a\" (also clients[0])"},
    {{"clients[0].bogus"}, {"1"}, "clients[0].bogus: unknown member \"bogus\""},
    {{"clients[0].auth"}, {"{\"uid\":1,\"token_sha256\":\"x\"}"}, "clients[0].auth: needs exactly one of"},
    {{"clients[0].auth"}, {"{}"}, "clients[0].auth: needs exactly one of"},
    {{"clients[0].auth.token_sha256"}, {"\"abc\""}, "clients[0].auth.token_sha256: expected 43 base64url"},
    {{"clients[1].auth"},
     {"{\"token_sha256\":\"" TOKEN_HASH "\"}"},
     "clients[1].auth: same credential as clients[0]"},
    {{"clients[1].auth.uid"}, {"-1"}, "clients[1].auth.uid: must be between 0 and 4294967294"},
    {{"listen.unix"}, {NULL}, "clients[1].auth.uid: uid authentication needs listen.unix"},
    {{"clients[1].auth"}, {"{\"cert_sha256\":\"zz\"}"}, "clients[1].auth.cert_sha256: expected a SHA-256"},
    {{"listen.tcp.client_ca", "clients[1].auth"},
     {NULL, "{\"cert_sha256\":\"" TOKEN_HASH "\"}"},
     "clients[1].auth.cert_sha256: certificate authentication needs listen.tcp.client_ca"},
    {{"clients[0].role"}, {"\"root\""}, "clients[0].role: expected \"client\" or \"admin\", got \"root\""},
    {{"clients[0].rules"}, {"{}"}, "clients[0].rules: expected an array, got an object"},
    {{"clients[0].rules[0].keys"}, {NULL}, "clients[0].rules[0].keys: required member missing"},
    {{"clients[0].rules[0].keys"}, {"[]"}, "clients[0].rules[0].keys: must not be empty"},
    {{"clients[0].rules[0].keys[0]"}, {"7"}, "clients[0].rules[0].keys[0]: expected a string, got a number"},
    {{"clients[0].rules[0].ops"}, {NULL}, "clients[0].rules[0].ops: required member missing"},
    {{"clients[0].rules[0].ops"},
     {"[\"reload\"]"},
     "clients[0].rules[0].ops[0]: reload comes with role admin"},
    {{"clients[0].rules[0].ops[1]"},
     {"\"sign\""},
     "clients[0].rules[0].ops[1]: duplicate operation \"sign\""},
    {{"clients[0].rules[0].max_ttl"},
     {"60"},
     "clients[0].rules[0].max_ttl: only applies to rules that grant jwt.issue"},
    {{"clients[1].rules[0].max_ttl"}, {"0"}, "clients[1].rules[0].max_ttl: must be between 1 and 86400"},
    {{"clients[1].rules[0].audiences"}, {"[\"\"]"}, "clients[1].rules[0].audiences[0]: must not be empty"},
    {{"clients[0].rules[0].chain_ids"},
     {"[1]"},
     "clients[0].rules[0].chain_ids: only applies to rules that grant wallet.sign"},
    {{"clients[0].rules[0].ops", "clients[0].rules[0].chain_ids"},
     {"[\"wallet.sign\"]", "[1, 0]"},
     "clients[0].rules[0].chain_ids[1]: must be between 1 and"},
    {{"clients[0].rules[0].ops", "clients[0].rules[0].chain_ids"},
     {"[\"wallet.sign\"]", "[5, 5]"},
     "clients[0].rules[0].chain_ids[1]: duplicate chain id"},
    {{"clients[0].rules[0].ops", "clients[0].rules[0].max_value_wei"},
     {"[\"wallet.sign\"]", "\"01\""},
     "clients[0].rules[0].max_value_wei: expected a decimal string"},
    {{"clients[0].rules[0].ops", "clients[0].rules[0].max_value_wei"},
     {"[\"wallet.sign\"]",
      "\"115792089237316195423570985008687907853269984665640564039457584007913129639936\""},
     "clients[0].rules[0].max_value_wei: expected a decimal string"},
    {{"clients[0].rate"},
     {"{\"per_second\":0}"},
     "clients[0].rate.per_second: must be between 0.001 and 1000000"},
    {{"clients[0].rate"}, {"{\"burst\":0}"}, "clients[0].rate.burst: must be between 1 and 1000000"},
    {{"clients[0].rate"}, {"{\"refill\":1}"}, "clients[0].rate.refill: unknown member \"refill\""},
    {{"unknown"}, {"true"}, "unknown: unknown member \"unknown\""},
    {{"secrets"}, {"[]"}, "secrets: expected an object"},
    {{"secrets"}, {"{\"env\":[\"A\"]}"}, "secrets.env: unknown member \"env\""},
    {{"secrets"}, {"{\"environment\":[]}"}, "secrets.environment: must not be empty"},
    {{"secrets"}, {"{\"environment\":\"A\"}"}, "secrets.environment: expected an array"},
    {{"secrets"}, {"{\"environment\":[\"A\",7]}"}, "secrets.environment[1]: expected a string"},
    {{"secrets"},
     {"{\"environment\":[\"DB_URL\",\"1BAD\"]}"},
     "secrets.environment[1]: \"1BAD\" is not an environment variable name"},
    {{"secrets"},
     {"{\"environment\":[\"A=B\"]}"},
     "secrets.environment[0]: \"A=B\" is not an environment variable name"},
    {{"secrets"},
     {"{\"environment\":[\"DB_URL\",\"X\",\"DB_URL\"]}"},
     "secrets.environment[2]: \"DB_URL\" is listed twice"},
    /* names that change how programs run: only when allowed by exact name */
    {{"secrets"},
     {"{\"environment\":[\"DB_URL\",\"BASH_ENV\"]}"},
     "secrets.environment[1]: BASH_ENV changes how programs run; refused (list it in secrets.allow_env to "
     "serve it anyway)"},
    {{"secrets"},
     {"{\"environment\":[\"LD_PRELOAD\"],\"allow_env\":[\"LD_AUDIT\"]}"},
     "secrets.environment[0]: LD_PRELOAD changes how programs run (LD_*); refused (list it in "
     "secrets.allow_env to serve it anyway)"},
    {{"secrets"},
     {"{\"environment\":[\"PATH\"],\"allow_env\":[\"path\"]}"},
     "secrets.environment[0]: PATH changes how programs run; refused (list it in secrets.allow_env to "
     "serve it anyway)"},
    {{"secrets"}, {"{\"allow_env\":[]}"}, "secrets.allow_env: must not be empty"},
    {{"secrets"}, {"{\"allow_env\":\"PATH\"}"}, "secrets.allow_env: expected an array"},
    {{"secrets"},
     {"{\"allow_env\":[\"LD_*\"]}"},
     "secrets.allow_env[0]: \"LD_*\" is not an environment variable name"},
    {{"secrets"}, {"{\"allow_env\":[\"PATH\",\"PATH\"]}"}, "secrets.allow_env[1]: \"PATH\" is listed twice"},
};

/* bundle.key_import_fallback: off unless set, and then on */
static void
test_key_import_fallback(void **state)
{
	struct pv_config *cfg = NULL;
	cJSON *root = cJSON_Parse(base_config);
	char *text;

	(void)state;
	assert_non_null(root);
	patch(root, "bundle.key_import_fallback", "true");
	assert_non_null(text = cJSON_PrintUnformatted(root));
	if (parse_text(text, strlen(text), &cfg) != PV_OK)
		fail_msg("%s", pv_err_detail());
	assert_true(cfg->bundle.key_import_fallback);
	pv_config_free(cfg);
	free(text);
	cJSON_Delete(root);
}

/* token.session_key_copies: on by default (base_and_defaults), off when
 * the config says false (for tokens where copies are slow or forbidden). */
static void
test_session_key_copies_off(void **state)
{
	struct pv_config *cfg = NULL;
	cJSON *root = cJSON_Parse(base_config);
	char *text;

	(void)state;
	assert_non_null(root);
	patch(root, "token.session_key_copies", "false");
	assert_non_null(text = cJSON_PrintUnformatted(root));
	if (parse_text(text, strlen(text), &cfg) != PV_OK)
		fail_msg("%s", pv_err_detail());
	assert_false(cfg->token.session_key_copies);
	pv_config_free(cfg);
	free(text);
	cJSON_Delete(root);
}

static void
test_field_errors(void **state)
{
	size_t i, j;

	(void)state;
	for (i = 0; i < PV_NELEM(bad_cases); i++) {
		const struct bad_case *bc = &bad_cases[i];
		struct pv_config *cfg = NULL;
		cJSON *root = cJSON_Parse(base_config);
		char *text;
		pv_err r;

		assert_non_null(root);
		for (j = 0; j < 2 && bc->path[j] != NULL; j++)
			patch(root, bc->path[j], bc->json[j]);
		text = cJSON_PrintUnformatted(root);
		assert_non_null(text);
		r = parse_text(text, strlen(text), &cfg);
		if (r != PV_ERR_BAD_INPUT || strncmp(pv_err_detail(), bc->detail, strlen(bc->detail)) != 0)
			fail_msg("case %zu: got %d \"%s\", want \"%s\"", i, (int)r, pv_err_detail(),
				 bc->detail);
		assert_null(cfg);
		free(text);
		cJSON_Delete(root);
	}
}

static void
test_base_and_defaults(void **state)
{
	struct pv_config *cfg = NULL;

	(void)state;
	assert_int_equal(parse_text(base_config, strlen(base_config), &cfg), PV_OK);
	assert_int_equal(cfg->token.max_sessions, 8);
	assert_true(cfg->token.session_key_copies); /* on unless the config says false */
	assert_null(cfg->token.module);
	assert_int_equal(cfg->listen.unix_mode, 0660);
	assert_int_equal(cfg->workers, 4);
	assert_int_equal(cfg->limits.max_body_bytes, 65536);
	assert_int_equal(cfg->limits.request_timeout_ms, 5000);
	assert_int_equal(cfg->limits.header_timeout_ms, 2000);
	assert_int_equal(cfg->limits.body_timeout_ms, 5000);
	assert_int_equal(cfg->limits.max_connections, 512);
	assert_int_equal(cfg->limits.max_connections_per_peer, 64);
	assert_true(cfg->bundle.present);
	assert_true(cfg->bundle.required);
	assert_int_equal(cfg->bundle.min_version, 0);
	assert_false(cfg->bundle.key_import_fallback);
	assert_false(cfg->audit.syslog);
	assert_int_equal(cfg->audit.checkpoint_every, 1000);
	assert_int_equal(cfg->audit.checkpoint_seconds, 60);
	assert_int_equal(cfg->jwt.default_ttl, 300);
	assert_int_equal(cfg->n_clients, 2);
	assert_int_equal(cfg->clients[0].role, PV_ROLE_CLIENT);
	assert_int_equal(cfg->clients[0].auth, PV_AUTH_TOKEN);
	assert_true(cfg->clients[0].rate_per_second == 50.0);
	assert_int_equal(cfg->clients[0].rate_burst, 100);
	assert_int_equal(cfg->clients[0].rules[0].ops, (1u << PV_OP_SIGN) | (1u << PV_OP_VERIFY));
	assert_int_equal(cfg->clients[1].auth, PV_AUTH_UID);
	assert_int_equal(cfg->clients[1].uid, 1001);
	assert_int_equal(cfg->clients[1].rules[0].max_ttl, 60);
	pv_config_free(cfg);
}

static void
test_secrets_environment(void **state)
{
	static const char text[] =
	    "{\"token\":{\"uri\":\"pkcs11:token=t\",\"pin_source\":\"env:PIN\"},"
	    "\"listen\":{\"unix\":{\"path\":\"/run/v.sock\"}},"
	    "\"audit\":{\"file\":\"/a.log\",\"hmac_key\":\"audit-hmac\"},\"clients\":[{\"name\":\"u\",\"auth\":{\"uid\":0},\"rules\":[]}],"
	    "\"secrets\":{\"environment\":[\"DB_URL\",\"_api_key2\"]}}";
	struct pv_config *cfg = NULL;

	(void)state;
	if (parse_text(text, strlen(text), &cfg) != PV_OK)
		fail_msg("%s", pv_err_detail());
	assert_int_equal(cfg->secrets.n_environment, 2);
	assert_string_equal(cfg->secrets.environment[0], "DB_URL");
	assert_string_equal(cfg->secrets.environment[1], "_api_key2");
	assert_false(cfg->bundle.present);
	pv_config_free(cfg);
	/* absent: none */
	assert_int_equal(parse_text(base_config, strlen(base_config), &cfg), PV_OK);
	assert_int_equal(cfg->secrets.n_environment, 0);
	assert_null(cfg->secrets.environment);
	assert_int_equal(cfg->secrets.n_allow_env, 0);
	assert_null(cfg->secrets.allow_env);
	pv_config_free(cfg);
}

/* secrets.allow_env lets a refused name through, by exact name only */
static void
test_secrets_allow_env(void **state)
{
	static const char text[] =
	    "{\"token\":{\"uri\":\"pkcs11:token=t\",\"pin_source\":\"env:PIN\"},"
	    "\"listen\":{\"unix\":{\"path\":\"/run/v.sock\"}},"
	    "\"audit\":{\"file\":\"/a.log\",\"hmac_key\":\"audit-hmac\"},\"clients\":[{\"name\":\"u\",\"auth\":{\"uid\":0},\"rules\":[]}],"
	    "\"secrets\":{\"environment\":[\"DB_URL\",\"NODE_OPTIONS\",\"PYTHONPATH\"],"
	    "\"allow_env\":[\"PYTHONPATH\",\"NODE_OPTIONS\",\"BASH_ENV\"]}}";
	struct pv_config *cfg = NULL;

	(void)state;
	if (parse_text(text, strlen(text), &cfg) != PV_OK)
		fail_msg("%s", pv_err_detail());
	assert_int_equal(cfg->secrets.n_environment, 3);
	assert_int_equal(cfg->secrets.n_allow_env, 3);
	assert_string_equal(cfg->secrets.allow_env[0], "PYTHONPATH");
	assert_string_equal(cfg->secrets.allow_env[2], "BASH_ENV");
	pv_config_free(cfg);
}

static void
test_example_parses(void **state)
{
	static const uint8_t cert[32] = {0x3f, 0x1c, 0x9a, 0x0b, 0x55, 0xe2, 0x7d, 0x41, 0xc8, 0x06, 0xaa,
					 0x19, 0xf3, 0x62, 0xb0, 0x7e, 0x94, 0xd5, 0x2a, 0xc1, 0x08, 0x6b,
					 0xee, 0x37, 0x50, 0x9f, 0x13, 0xc4, 0xa2, 0xd8, 0x71, 0x0e};
	struct pv_config *cfg = NULL;

	(void)state;
	if (pv_config_load(PV_EXAMPLE_CONFIG, &cfg) != PV_OK)
		fail_msg("%s: %s", PV_EXAMPLE_CONFIG, pv_err_detail());
	assert_string_equal(cfg->token.uri, "pkcs11:token=prod");
	assert_string_equal(cfg->token.pin_source, "cred:p11vault-pin");
	assert_string_equal(cfg->listen.unix_group, "p11vault");
	assert_string_equal(cfg->listen.tcp_address, "127.0.0.1:8443");
	assert_int_equal(cfg->bundle.n_expect_context, 2);
	assert_string_equal(cfg->bundle.expect_context[0].name, "env");
	assert_string_equal(cfg->bundle.expect_context[0].value, "prod");
	assert_int_equal(cfg->bundle.min_version, 3);
	assert_string_equal(cfg->audit.hmac_key, "audit-hmac");
	assert_string_equal(cfg->jwt.issuer, "https://auth.example");
	assert_int_equal(cfg->n_clients, 4);
	assert_int_equal(cfg->clients[0].rules[0].n_chain_ids, 2);
	assert_int_equal(cfg->clients[0].rules[0].chain_ids[1], 8453);
	assert_string_equal(cfg->clients[0].rules[0].max_value_wei, "1000000000000000000");
	assert_int_equal(cfg->clients[1].rules[0].max_ttl, 900);
	assert_int_equal(cfg->clients[1].rules[0].n_audiences, 2);
	assert_int_equal(cfg->clients[2].auth, PV_AUTH_CERT);
	assert_memory_equal(cfg->clients[2].cert_sha256, cert, 32);
	assert_true(cfg->clients[2].rate_per_second == 5.0);
	assert_int_equal(cfg->clients[3].role, PV_ROLE_ADMIN);
	pv_config_free(cfg);
}

static void
expect_bad(const char *text, const char *detail)
{
	struct pv_config *cfg = NULL;
	pv_err r = parse_text(text, strlen(text), &cfg);

	if (r != PV_ERR_BAD_INPUT || strncmp(pv_err_detail(), detail, strlen(detail)) != 0)
		fail_msg("got %d \"%s\", want \"%s\"", (int)r, pv_err_detail(), detail);
	assert_null(cfg);
}

/* Text-level refusals the patch table cannot express. */
static void
test_document_errors(void **state)
{
	char *text = NULL;
	const char *at;
	size_t n = strlen(base_config);

	(void)state;
	expect_bad("", "vaultd.json: empty");
	expect_bad("{\"token\":", "vaultd.json: not valid JSON");
	expect_bad("[]", "vaultd.json: expected an object, got an array");
	/* duplicate keys, at the top and nested; cJSON alone would keep the first */
	text = malloc(n + 64);
	assert_non_null(text);
	snprintf(text, n + 64, "{\"workers\":1,\"workers\":2,%s", base_config + 1);
	expect_bad(text, "workers: appears twice");
	at = strstr(base_config, "audit-hmac\"}") + 11;
	snprintf(text, n + 64, "%.*s,\"syslog\":true,\"syslog\":false%s", (int)(at - base_config),
		 base_config, at);
	expect_bad(text, "audit.syslog: appears twice");
	snprintf(text, n + 64, "%s x", base_config);
	expect_bad(text, "vaultd.json: text after the JSON value");
	free(text);
}

static void
test_nul_and_size(void **state)
{
	struct pv_config *cfg = NULL;
	size_t n = strlen(base_config);
	char *big;

	(void)state;
	big = malloc(PV_CONFIG_MAX_BYTES + 1);
	assert_non_null(big);
	/* a NUL inside the text (cJSON would stop there) */
	memcpy(big, base_config, n);
	big[n] = '\0';
	big[n + 1] = ' ';
	assert_int_equal(parse_text(big, n + 2, &cfg), PV_ERR_BAD_INPUT);
	assert_string_equal(pv_err_detail(), "vaultd.json: contains a NUL byte");
	/* an escaped NUL would cut a string short in cJSON */
	expect_bad("{\"token\":{\"uri\":\"pkcs11:token=a\\u0000b\"}}",
		   "vaultd.json: contains an escaped NUL (\\u0000), which would cut a string short");
	/* exactly the limit is fine (whitespace padding), one more is not */
	memset(big + n, ' ', PV_CONFIG_MAX_BYTES + 1 - n);
	assert_int_equal(parse_text(big, PV_CONFIG_MAX_BYTES, &cfg), PV_OK);
	pv_config_free(cfg);
	cfg = NULL;
	assert_int_equal(parse_text(big, PV_CONFIG_MAX_BYTES + 1, &cfg), PV_ERR_TOO_LARGE);
	assert_null(cfg);
	free(big);
}

static void
test_ops_table(void **state)
{
	size_t i;
	pv_op op;

	(void)state;
	for (i = 0; i < PV_OP_COUNT; i++) {
		assert_int_equal(pv_op_from_name(pv_op_name((pv_op)i), &op), PV_OK);
		assert_int_equal(op, (pv_op)i);
	}
	assert_int_equal(pv_op_from_name("Sign", &op), PV_ERR_NOT_FOUND);
	assert_true(pv_op_keyless(PV_OP_JWKS));
	assert_false(pv_op_keyless(PV_OP_SECRETS_READ));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_base_and_defaults),   cmocka_unit_test(test_secrets_environment),
	    cmocka_unit_test(test_secrets_allow_env),   cmocka_unit_test(test_example_parses),
	    cmocka_unit_test(test_field_errors),        cmocka_unit_test(test_document_errors),
	    cmocka_unit_test(test_nul_and_size),        cmocka_unit_test(test_ops_table),
	    cmocka_unit_test(test_key_import_fallback), cmocka_unit_test(test_session_key_copies_off),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
