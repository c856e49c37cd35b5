#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vaultd/routes.h"

static enum vd_match
match(const char *method, const char *path, enum vd_route_id *id, char *name)
{
	const struct vd_route *r = NULL;
	enum vd_match m = vd_route_match(method, path, &r, name);

	*id = r != NULL ? r->id : VD_R_COUNT;
	if (m == VD_MATCH_NO_PATH)
		assert_null(r);
	else
		assert_non_null(r);
	return m;
}

static void
test_every_route(void **state)
{
	static const struct {
		const char *method, *path;
		enum vd_route_id id;
		const char *name;
	} cases[] = {
	    {"GET", "/v1/health", VD_R_HEALTH, ""},
	    {"GET", "/v1/ready", VD_R_READY, ""},
	    {"GET", "/metrics", VD_R_METRICS, ""},
	    {"GET", "/.well-known/jwks.json", VD_R_JWKS, ""},
	    {"POST", "/v1/admin/reload", VD_R_RELOAD, ""},
	    {"GET", "/v1/keys", VD_R_KEYS_LIST, ""},
	    {"GET", "/v1/keys/jwt-issuer", VD_R_KEY_GET, "jwt-issuer"},
	    {"POST", "/v1/keys/k_1/sign", VD_R_KEY_SIGN, "k_1"},
	    {"POST", "/v1/keys/k_1/sign-batch", VD_R_KEY_SIGN_BATCH, "k_1"},
	    {"POST", "/v1/keys/K9/verify", VD_R_KEY_VERIFY, "K9"},
	    {"POST", "/v1/jwt/auth/issue", VD_R_JWT_ISSUE, "auth"},
	    {"POST", "/v1/jwt/verify", VD_R_JWT_VERIFY, ""},
	    {"POST", "/v1/jwt/verify/issue", VD_R_JWT_ISSUE, "verify"},
	    {"POST", "/v1/derive/d", VD_R_DERIVE, "d"},
	    {"POST", "/v1/ecdh/p256", VD_R_ECDH, "p256"},
	    {"GET", "/v1/secrets", VD_R_SECRETS_LIST, ""},
	    {"GET", "/v1/secrets/DB_PASSWORD", VD_R_SECRET_GET, "DB_PASSWORD"},
	    {"GET", "/v1/secrets/_private", VD_R_SECRET_GET, "_private"},
	    {"GET", "/v1/secrets/tls.key", VD_R_SECRET_GET, "tls.key"},
	    {"GET", "/v1/wallet/sol-1/solana/address", VD_R_WALLET_SOLANA_ADDRESS, "sol-1"},
	    {"POST", "/v1/wallet/w/solana/sign-transaction", VD_R_WALLET_SOLANA_SIGN_TX, "w"},
	    {"POST", "/v1/wallet/w/solana/sign-transactions", VD_R_WALLET_SOLANA_SIGN_TXS, "w"},
	    {"POST", "/v1/wallet/w/solana/sign-message", VD_R_WALLET_SOLANA_SIGN_MESSAGE, "w"},
	    {"GET", "/v1/wallet/eth_hot/evm/address", VD_R_WALLET_EVM_ADDRESS, "eth_hot"},
	    {"POST", "/v1/wallet/w/evm/sign-transaction", VD_R_WALLET_EVM_SIGN_TX, "w"},
	    {"POST", "/v1/wallet/w/evm/sign-message", VD_R_WALLET_EVM_SIGN_MESSAGE, "w"},
	    {"POST", "/v1/wallet/w/evm/sign-digest", VD_R_WALLET_EVM_SIGN_DIGEST, "w"},
	    {"POST", "/v1/wallet/w/evm/sign-typed-data", VD_R_WALLET_EVM_SIGN_TYPED_DATA, "w"},
	};
	char name[VD_NAME_MAX + 1];
	enum vd_route_id id;
	size_t i;

	(void)state;
	for (i = 0; i < PV_NELEM(cases); i++) {
		assert_int_equal(match(cases[i].method, cases[i].path, &id, name), VD_MATCH_OK);
		assert_int_equal(id, cases[i].id);
		assert_string_equal(name, cases[i].name);
	}
}

static void
test_not_found(void **state)
{
	static const char *const paths[] = {
	    "/",
	    "",
	    "v1/health",
	    "/v1/health/",
	    "/v1/healthz",
	    "/v1//keys",
	    "/v1/keys/",
	    "/v1/keys//sign",
	    "/v1/keys/a/b",
	    "/v1/keys/a/sign/x",
	    "/V1/keys",
	    "/v1/jwt//issue",
	    "/v1/secrets/",
	    "/v1/keys/a/signx",
	    "/metrics/",
	    /* wallet: an unknown chain, or an endpoint the chain does not have */
	    "/v1/wallet/w/bitcoin/address",
	    "/v1/wallet/w/Solana/address",
	    "/v1/wallet/w/solana/sign-digest",
	    "/v1/wallet/w/evm",
	    "/v1/wallet/w",
	    "/v1/wallet/w/evm/address/",
	};
	char name[VD_NAME_MAX + 1];
	enum vd_route_id id;
	size_t i;

	(void)state;
	for (i = 0; i < PV_NELEM(paths); i++) {
		if (match("GET", paths[i], &id, name) != VD_MATCH_NO_PATH)
			fail_msg("%s matched", paths[i]);
		assert_string_equal(name, "");
	}
	assert_int_equal(match("GET", NULL, &id, name), VD_MATCH_NO_PATH);
	assert_int_equal(match(NULL, "/v1/health", &id, name), VD_MATCH_NO_PATH);
}

static void
test_method(void **state)
{
	char name[VD_NAME_MAX + 1];
	enum vd_route_id id;

	(void)state;
	assert_int_equal(match("POST", "/v1/health", &id, name), VD_MATCH_METHOD);
	assert_int_equal(id, VD_R_HEALTH);
	assert_int_equal(match("GET", "/v1/keys/a/sign", &id, name), VD_MATCH_METHOD);
	assert_int_equal(id, VD_R_KEY_SIGN);
	assert_string_equal(name, "");
	assert_int_equal(match("DELETE", "/v1/keys/a", &id, name), VD_MATCH_METHOD);
	assert_int_equal(match("GET", "/v1/jwt/verify", &id, name), VD_MATCH_METHOD);
	assert_int_equal(id, VD_R_JWT_VERIFY);
	assert_int_equal(match("get", "/v1/health", &id, name), VD_MATCH_METHOD);
	assert_int_equal(match("HEAD", "/.well-known/jwks.json", &id, name), VD_MATCH_METHOD);
}

static void
test_bad_names(void **state)
{
	static const char *const paths[] = {
	    "/v1/keys/%41",
	    "/v1/keys/a%2Fb/sign",
	    "/v1/keys/-a",
	    "/v1/keys/_a",
	    "/v1/keys/a.b",
	    "/v1/keys/a b",
	    "/v1/secrets/..",
	    "/v1/secrets/.env",
	    "/v1/secrets/a%00",
	    "/v1/derive/\xc3\xa9",
	    ("/v1/keys/"
	     "a12345678901234567890123456789012345678901234567890123456789012345"),
	};
	char name[VD_NAME_MAX + 1];
	enum vd_route_id id;
	size_t i;

	(void)state;
	for (i = 0; i < PV_NELEM(paths); i++) {
		if (match("GET", paths[i], &id, name) != VD_MATCH_BAD_NAME &&
		    match("POST", paths[i], &id, name) != VD_MATCH_BAD_NAME)
			fail_msg("%s accepted", paths[i]);
		assert_string_equal(name, "");
	}
	/* 64 characters is the longest key name */
	assert_int_equal(match("GET",
			       "/v1/keys/a123456789012345678901234567890123456789012345678901234567890123",
			       &id, name),
			 VD_MATCH_OK);
	assert_int_equal(strlen(name), 64);
}

static void
test_long_path(void **state)
{
	char path[VD_PATH_MAX + 16], name[VD_NAME_MAX + 1];
	enum vd_route_id id;

	(void)state;
	memset(path, 'a', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	memcpy(path, "/v1/secrets/", 12);
	assert_int_equal(match("GET", path, &id, name), VD_MATCH_NO_PATH);
	/* a secret name of exactly 128 characters */
	path[12 + 128] = '\0';
	assert_int_equal(match("GET", path, &id, name), VD_MATCH_OK);
	assert_int_equal(strlen(name), 128);
	path[12 + 128] = 'a';
	path[12 + 129] = '\0';
	assert_int_equal(match("GET", path, &id, name), VD_MATCH_BAD_NAME);
}

/*
 * The table itself (made by VD_ROUTES): one row per enum value, in order;
 * unique method+pattern; every route has a label and exactly one way to
 * be authorized: a typed operation in range, or an explicit flag saying
 * it needs none. A route without a key asks about a keyless operation,
 * and a route's audit label is its operation's name (docs/api.md §2).
 */
static void
test_table(void **state)
{
	size_t n, i, j;
	const struct vd_route *t = vd_route_table(&n);

	(void)state;
	assert_int_equal(n, VD_R_COUNT);
	for (i = 0; i < n; i++) {
		int has_op = t[i].op != VD_NO_OP,
		    no_policy = !!(t[i].flags & (VD_RF_PUBLIC | VD_RF_NOPOLICY));

		assert_int_equal(t[i].id, i);
		assert_non_null(t[i].label);
		assert_true(strcmp(t[i].method, "GET") == 0 || strcmp(t[i].method, "POST") == 0);
		assert_true((t[i].param != VD_PARAM_NONE) == (strchr(t[i].pattern, '{') != NULL));
		if (has_op == no_policy)
			fail_msg("%s %s: needs exactly one of an operation and a no-policy flag", t[i].method,
				 t[i].pattern);
		assert_true((unsigned)t[i].op <= PV_OP_COUNT);
		if (has_op && t[i].param == VD_PARAM_NONE && !pv_op_keyless(t[i].op))
			fail_msg("%s: operation %s needs a key name", t[i].pattern, pv_op_name(t[i].op));
		if (has_op && t[i].param != VD_PARAM_NONE && pv_op_keyless(t[i].op) &&
		    t[i].op != PV_OP_KEYS_READ)
			fail_msg("%s: listing operation %s on a {name} route", t[i].pattern,
				 pv_op_name(t[i].op));
		if (has_op && !(t[i].flags & VD_RF_METRICS))
			assert_string_equal(t[i].label, pv_op_name(t[i].op));
		for (j = i + 1; j < n; j++)
			assert_false(strcmp(t[i].pattern, t[j].pattern) == 0 &&
				     strcmp(t[i].method, t[j].method) == 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_route), cmocka_unit_test(test_not_found),
	    cmocka_unit_test(test_method),      cmocka_unit_test(test_bad_names),
	    cmocka_unit_test(test_long_path),   cmocka_unit_test(test_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
