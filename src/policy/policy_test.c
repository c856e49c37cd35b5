#include "config.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/vaultd_config.h"
#include "policy/policy.h"

/* Bearer tokens and their SHA-256 in base64url (openssl dgst -sha256 -binary | basenc --base64url). */
#define WALLET_TOKEN "pvt_wallet"
#define WALLET_HASH  "dlpbIQ1npkf7eJuvaICVd7HU3_r8iOeAt1tXRxePBYQ"
#define ADMIN_TOKEN  "pvt_admin"
#define ADMIN_HASH   "C34xkIM6mfkRhgtjk352CAae9KfR-Dixm6hDLpKDxJA"
#define CERT_HEX     "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static const char policy_config[] =
    "{\"token\":{\"uri\":\"pkcs11:token=t\",\"pin_source\":\"env:PIN\"},"
    "\"listen\":{\"unix\":{\"path\":\"/run/v.sock\"},"
    "\"tcp\":{\"address\":\"[::1]:8443\",\"tls_cert\":\"/c\",\"tls_key\":\"/k\",\"client_ca\":\"/ca\"}},"
    "\"audit\":{\"syslog\":true,\"hmac_key\":\"audit-hmac\"},\"jwt\":{\"issuer\":\"https://i\"},"
    "\"clients\":["
    /* 0 */ "{\"name\":\"wallet\",\"auth\":{\"token_sha256\":\"" WALLET_HASH "\"},"
    "\"rules\":[{\"ops\":[\"wallet.sign\"],\"keys\":[\"wallet-*\"],\"chain_ids\":[1,8453],"
    "\"max_value_wei\":\"1000\"},"
    "{\"ops\":[\"wallet.sign\",\"wallet.read\"],\"keys\":[\"hot/*\",\"cold\"]}],"
    "\"rate\":{\"per_second\":2,\"burst\":4}},"
    /* 1 */ "{\"name\":\"auth\",\"auth\":{\"uid\":1001},"
    "\"rules\":[{\"ops\":[\"jwt.issue\"],\"keys\":[\"jwt-[ab]\"],\"max_ttl\":900,\"audiences\":[\"api\",\"web\"]},"
    "{\"ops\":[\"jwks\",\"secrets.read\"],\"keys\":[\"jwt-?\"]}]},"
    /* 2 */ "{\"name\":\"billing\",\"auth\":{\"cert_sha256\":\"" CERT_HEX "\"},"
    /* everything but the audit key (no rule may match it) */
    "\"rules\":[{\"ops\":[\"sign\",\"verify\"],\"keys\":[\"[!a]*\"]}]},"
    /* 3 */ "{\"name\":\"ops\",\"role\":\"admin\",\"auth\":{\"token_sha256\":\"" ADMIN_HASH "\"},"
    "\"rate\":{\"per_second\":1000,\"burst\":50}}"
    "]}";

struct fixture {
	struct pv_config *cfg;
	pv_policy *pol;
	const pv_client *wallet, *auth, *billing, *ops;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct pv_peer peer = {.has_uid = 1, .uid = 1001};
	pv_buf *b = NULL;

	assert_non_null(f);
	assert_int_equal(pv_buf_view(policy_config, strlen(policy_config), &b), PV_OK);
	if (pv_config_parse(b, &f->cfg) != PV_OK)
		fail_msg("%s", pv_err_detail());
	pv_buf_free(b);
	assert_int_equal(pv_policy_from_config(f->cfg, &f->pol), PV_OK);
	assert_int_equal(pv_policy_authenticate(f->pol, NULL, WALLET_TOKEN, &f->wallet), PV_OK);
	assert_int_equal(pv_policy_authenticate(f->pol, NULL, ADMIN_TOKEN, &f->ops), PV_OK);
	assert_int_equal(pv_policy_authenticate(f->pol, &peer, NULL, &f->auth), PV_OK);
	memset(&peer, 0, sizeof(peer));
	peer.has_cert = 1;
	memcpy(peer.cert_sha256,
	       "\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff"
	       "\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff",
	       32);
	assert_int_equal(pv_policy_authenticate(f->pol, &peer, NULL, &f->billing), PV_OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	pv_policy_free(f->pol);
	pv_config_free(f->cfg);
	free(f);
	return 0;
}

static void
test_token_auth(void **state)
{
	struct fixture *f = *state;
	const pv_client *k = NULL;
	struct pv_peer uid_peer = {.has_uid = 1, .uid = 1001};

	assert_string_equal(pv_client_name(f->wallet), "wallet");
	assert_string_equal(pv_client_name(f->ops), "ops");
	assert_int_equal(pv_client_role(f->ops), PV_ROLE_ADMIN);
	assert_int_equal(pv_client_role(f->wallet), PV_ROLE_CLIENT);
	/* wrong, truncated, extended, empty tokens */
	assert_int_equal(pv_policy_authenticate(f->pol, NULL, "pvt_wallex", &k), PV_ERR_NOT_LOGGED_IN);
	assert_null(k);
	assert_int_equal(pv_policy_authenticate(f->pol, NULL, "pvt_walle", &k), PV_ERR_NOT_LOGGED_IN);
	assert_int_equal(pv_policy_authenticate(f->pol, NULL, "pvt_wallet ", &k), PV_ERR_NOT_LOGGED_IN);
	assert_int_equal(pv_policy_authenticate(f->pol, NULL, "", &k), PV_ERR_NOT_LOGGED_IN);
	/* the hash itself is not a token */
	assert_int_equal(pv_policy_authenticate(f->pol, NULL, WALLET_HASH, &k), PV_ERR_NOT_LOGGED_IN);
	/* no credentials at all */
	assert_int_equal(pv_policy_authenticate(f->pol, NULL, NULL, &k), PV_ERR_NOT_LOGGED_IN);
	/* a bad bearer token does not fall back to the peer's uid */
	assert_int_equal(pv_policy_authenticate(f->pol, &uid_peer, "pvt_nope", &k), PV_ERR_NOT_LOGGED_IN);
	assert_null(k);
}

static void
test_uid_and_cert_auth(void **state)
{
	struct fixture *f = *state;
	struct pv_peer peer = {.has_uid = 1, .uid = 1002};
	const pv_client *k = NULL;

	assert_string_equal(pv_client_name(f->auth), "auth");
	assert_string_equal(pv_client_name(f->billing), "billing");
	assert_int_equal(pv_policy_authenticate(f->pol, &peer, NULL, &k), PV_ERR_NOT_LOGGED_IN);
	peer.uid = 1001;
	peer.has_uid = 0; /* a uid the transport did not vouch for */
	assert_int_equal(pv_policy_authenticate(f->pol, &peer, NULL, &k), PV_ERR_NOT_LOGGED_IN);
	memset(&peer, 0, sizeof(peer));
	peer.has_cert = 1;
	memset(peer.cert_sha256, 0x11, 32);
	assert_int_equal(pv_policy_authenticate(f->pol, &peer, NULL, &k), PV_ERR_NOT_LOGGED_IN);
	assert_null(k);
}

struct allow_case {
	int who; /* 0 wallet, 1 auth, 2 billing, 3 ops */
	const char *op, *key;
	pv_err want;
	size_t rule;
};

static const struct allow_case allow_cases[] = {
    {0, "wallet.sign", "wallet-eth", PV_OK, 0},
    {0, "wallet.sign", "wallet-", PV_OK, 0},
    {0, "wallet.sign", "hot/a/b", PV_OK, 1}, /* no FNM_PATHNAME: * crosses / */
    {0, "wallet.read", "cold", PV_OK, 1},
    {0, "wallet.read", "wallet-eth", PV_ERR_FORBIDDEN, 0},
    {0, "wallet.sign", "Wallet-eth", PV_ERR_FORBIDDEN, 0},
    {0, "wallet.sign", "colder", PV_ERR_FORBIDDEN, 0},
    {0, "sign", "wallet-eth", PV_ERR_FORBIDDEN, 0},
    {0, "secrets.list", NULL, PV_ERR_FORBIDDEN, 0},
    {0, "reload", NULL, PV_ERR_FORBIDDEN, 0},
    {1, "jwt.issue", "jwt-a", PV_OK, 0},
    {1, "jwt.issue", "jwt-c", PV_ERR_FORBIDDEN, 0},
    {1, "jwks", "jwt-c", PV_OK, 1},
    {1, "jwks", NULL, PV_OK, 1},
    {1, "jwks", "jwt-ab", PV_ERR_FORBIDDEN, 0},
    {1, "keys.read", NULL, PV_ERR_FORBIDDEN, 0},
    {1, "secrets.read", "jwt-x", PV_OK, 1},
    {2, "sign", "billing/at.all", PV_OK, 0},
    {2, "sign", "audit-hmac", PV_ERR_FORBIDDEN, 0},
    {2, "verify", "k", PV_OK, 0},
    {2, "derive", "k", PV_ERR_FORBIDDEN, 0},
    {2, "ecdh", "k", PV_ERR_FORBIDDEN, 0},
    {3, "secrets.list", NULL, PV_OK, SIZE_MAX},
    {3, "reload", NULL, PV_OK, SIZE_MAX},
    {3, "secrets.read", "db-password", PV_ERR_FORBIDDEN, 0}, /* admin, but no grant */
    {3, "sign", "k", PV_ERR_FORBIDDEN, 0},
    {3, "keys.read", NULL, PV_ERR_FORBIDDEN, 0},
    {0, "sgin", "wallet-eth", PV_ERR_USAGE, 0},
    {0, "wallet.sign", NULL, PV_ERR_USAGE, 0}, /* keyed op without a key */
};

static void
test_allow_table(void **state)
{
	struct fixture *f = *state;
	const pv_client *who[4] = {f->wallet, f->auth, f->billing, f->ops};
	size_t i;

	for (i = 0; i < PV_NELEM(allow_cases); i++) {
		const struct allow_case *c = &allow_cases[i];
		pv_policy_decision d;
		pv_op op = PV_OP_COUNT; /* out of range: an unknown name */
		pv_err r;

		if (pv_op_from_name(c->op, &op) != PV_OK)
			op = PV_OP_COUNT;
		r = pv_policy_allow(f->pol, who[c->who], op, c->key, &d);

		if (r != c->want)
			fail_msg("case %zu (%s %s): got %d want %d", i, c->op, c->key ? c->key : "-", (int)r,
				 (int)c->want);
		if (r == PV_OK && d.rule_index != c->rule)
			fail_msg("case %zu: rule %zu, want %zu", i, d.rule_index, c->rule);
	}
}

static void
test_caps(void **state)
{
	struct fixture *f = *state;
	pv_policy_decision d;

	assert_int_equal(pv_policy_allow(f->pol, f->wallet, PV_OP_WALLET_SIGN, "wallet-eth", &d), PV_OK);
	assert_int_equal(d.n_chain_ids, 2);
	assert_int_equal(d.chain_ids[0], 1);
	assert_int_equal(d.chain_ids[1], 8453);
	assert_string_equal(d.max_value_wei, "1000");
	assert_int_equal(d.max_ttl, 0);
	assert_int_equal(d.n_audiences, 0);
	/* the second rule has no caps: they are not merged from the first */
	assert_int_equal(pv_policy_allow(f->pol, f->wallet, PV_OP_WALLET_SIGN, "cold", &d), PV_OK);
	assert_int_equal(d.n_chain_ids, 0);
	assert_null(d.max_value_wei);
	assert_int_equal(pv_policy_allow(f->pol, f->auth, PV_OP_JWT_ISSUE, "jwt-b", &d), PV_OK);
	assert_int_equal(d.max_ttl, 900);
	assert_int_equal(d.n_audiences, 2);
	assert_string_equal(d.audiences[0], "api");
	assert_string_equal(d.audiences[1], "web");
	/* a denial leaves no caps behind */
	assert_int_equal(pv_policy_allow(f->pol, f->auth, PV_OP_JWT_ISSUE, "jwt-z", &d), PV_ERR_FORBIDDEN);
	assert_int_equal(d.max_ttl, 0);
	assert_int_equal(d.n_audiences, 0);
}

/* The lifetime bound of /v1/jwt/verify: over all clients, the cap of each
 * one's first rule that grants jwt.issue on the key. */
static void
test_jwt_max_ttl(void **state)
{
	static const char text[] =
	    "{\"token\":{\"uri\":\"pkcs11:token=t\",\"pin_source\":\"env:PIN\"},"
	    "\"listen\":{\"unix\":{\"path\":\"/run/v.sock\"}},"
	    "\"audit\":{\"syslog\":true,\"hmac_key\":\"audit-hmac\"},\"jwt\":{\"issuer\":\"https://i\"},"
	    "\"clients\":["
	    "{\"name\":\"a\",\"auth\":{\"uid\":1},\"rules\":["
	    "{\"ops\":[\"jwt.issue\"],\"keys\":[\"jwt-a\"],\"max_ttl\":60},"
	    "{\"ops\":[\"jwks\",\"jwt.issue\"],\"keys\":[\"jwt-*\"],\"max_ttl\":3600}]},"
	    "{\"name\":\"b\",\"auth\":{\"uid\":2},\"rules\":["
	    "{\"ops\":[\"jwt.issue\"],\"keys\":[\"jwt-b*\"],\"max_ttl\":900},"
	    "{\"ops\":[\"jwt.issue\"],\"keys\":[\"jwt-b\"],\"max_ttl\":7200}]},"
	    "{\"name\":\"c\",\"auth\":{\"uid\":3},\"rules\":["
	    "{\"ops\":[\"jwt.issue\"],\"keys\":[\"jwt-c\"]}]},"
	    "{\"name\":\"d\",\"auth\":{\"uid\":4},\"rules\":["
	    "{\"ops\":[\"sign\",\"keys.read\"],\"keys\":[\"sig-*\"]}]}"
	    "]}";
	static const struct {
		const char *key;
		pv_err want;
		uint32_t max;
	} cases[] = {
	    {"jwt-a", PV_OK, 60},           /* a's first rule; its later, longer one never applies */
	    {"jwt-b", PV_OK, 3600},         /* a's second rule over b's first (900; b's 7200 never applies) */
	    {"jwt-bx", PV_OK, 3600},        /* the same rules */
	    {"jwt-c", PV_OK, 0},            /* c's rule has no cap: the service maximum */
	    {"jwt-z", PV_OK, 3600},         /* a's second rule only */
	    {"sig-1", PV_ERR_NOT_FOUND, 0}, /* no rule grants jwt.issue */
	};
	struct pv_config *cfg = NULL;
	pv_policy *pol = NULL;
	pv_buf *b = NULL;
	uint32_t max = 1;
	size_t i;

	(void)state;
	assert_int_equal(pv_buf_view(text, strlen(text), &b), PV_OK);
	if (pv_config_parse(b, &cfg) != PV_OK)
		fail_msg("%s", pv_err_detail());
	pv_buf_free(b);
	assert_int_equal(pv_policy_from_config(cfg, &pol), PV_OK);
	for (i = 0; i < PV_NELEM(cases); i++) {
		max = 12345;
		if (pv_policy_jwt_max_ttl(pol, cases[i].key, &max) != cases[i].want || max != cases[i].max)
			fail_msg("%s: max %u", cases[i].key, (unsigned)max);
	}
	assert_int_equal(pv_policy_jwt_max_ttl(pol, NULL, &max), PV_ERR_USAGE);
	pv_policy_free(pol);
	pv_config_free(cfg);
}

static struct timespec
at_ms(long ms)
{
	struct timespec t = {.tv_sec = 1000 + ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	return t;
}

static void
test_rate_bucket(void **state)
{
	struct fixture *f = *state;
	double retry = -1;
	int i;

	/* wallet: burst 4, 2 per second */
	for (i = 0; i < 4; i++)
		assert_int_equal(pv_policy_rate(f->pol, f->wallet, at_ms(0), &retry), PV_OK);
	assert_int_equal(pv_policy_rate(f->pol, f->wallet, at_ms(0), &retry), PV_ERR_BUSY);
	assert_float_equal(retry, 0.5, 1e-9);
	/* 250 ms later half a request has come back: 0.25 s more to wait */
	assert_int_equal(pv_policy_rate(f->pol, f->wallet, at_ms(250), &retry), PV_ERR_BUSY);
	assert_float_equal(retry, 0.25, 1e-9);
	assert_int_equal(pv_policy_rate(f->pol, f->wallet, at_ms(500), &retry), PV_OK);
	assert_float_equal(retry, 0, 0);
	assert_int_equal(pv_policy_rate(f->pol, f->wallet, at_ms(500), &retry), PV_ERR_BUSY);
	/* a clock reading from the past adds nothing */
	assert_int_equal(pv_policy_rate(f->pol, f->wallet, at_ms(0), &retry), PV_ERR_BUSY);
	/* a long pause refills up to the burst, not beyond */
	for (i = 0; i < 4; i++)
		assert_int_equal(pv_policy_rate(f->pol, f->wallet, at_ms(60000), &retry), PV_OK);
	assert_int_equal(pv_policy_rate(f->pol, f->wallet, at_ms(60000), &retry), PV_ERR_BUSY);
	/* buckets are per client: the admin's is untouched */
	assert_int_equal(pv_policy_rate(f->pol, f->ops, at_ms(60000), &retry), PV_OK);
}

struct hammer {
	pv_policy *pol;
	const pv_client *k;
	int ok;
};

#define HAMMER_CALLS 5000

/* Each thread makes its calls over the same simulated second. */
static void *
hammer(void *arg)
{
	struct hammer *h = arg;
	double retry;
	int i;

	for (i = 0; i < HAMMER_CALLS; i++) {
		if (pv_policy_rate(h->pol, h->k, at_ms(i / 5), &retry) == PV_OK)
			h->ok++;
	}
	return NULL;
}

static void
test_rate_threads(void **state)
{
	struct fixture *f = *state;
	struct hammer h[4];
	pthread_t t[4];
	int i, total = 0;

	/* ops: burst 50, 1000 per second, calls spread over 0..999 ms */
	for (i = 0; i < 4; i++) {
		h[i] = (struct hammer){.pol = f->pol, .k = f->ops, .ok = 0};
		assert_int_equal(pthread_create(&t[i], NULL, hammer, &h[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		total += h[i].ok;
	}
	/* never more than burst + refill over 999 ms; and the bucket was used */
	assert_true(total <= 50 + 999);
	assert_true(total >= 50 + 999 / 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_token_auth, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_uid_and_cert_auth, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_allow_table, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_caps, setup, teardown),
	    cmocka_unit_test(test_jwt_max_ttl),
	    cmocka_unit_test_setup_teardown(test_rate_bucket, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rate_threads, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
