/*
 * The checks across fields of vaultd.json (docs/config.md, "What the checks
 * refuse"): no rule may reach the audit key (through pv_config_parse, as
 * --check-config and a reload run it), and rules against the purposes of
 * the keys on the token (pv_config_check_keys, with keys made here: the
 * check reads only names and purposes).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/vaultd_config.h"
#include "core/keymeta.h"

/* One client per rules text; the audit key is audit-hmac. */
static pv_err
parse_rules(const char *rules0, const char *rules1, struct pv_config **out)
{
	char text[4096];
	pv_buf *b = NULL;
	pv_err r;

	snprintf(text, sizeof(text),
		 "{\"token\":{\"uri\":\"pkcs11:token=t\",\"pin_source\":\"env:PIN\"},"
		 "\"listen\":{\"unix\":{\"path\":\"/run/v.sock\"}},"
		 "\"audit\":{\"file\":\"/a.log\",\"hmac_key\":\"audit-hmac\"},\"jwt\":{\"issuer\":\"i\"},"
		 "\"clients\":[{\"name\":\"a\",\"auth\":{\"uid\":1},\"rules\":[%s]},"
		 "{\"name\":\"b\",\"auth\":{\"uid\":2},\"rules\":[%s]}]}",
		 rules0, rules1 != NULL ? rules1 : "");
	assert_int_equal(pv_buf_view(text, strlen(text), &b), PV_OK);
	*out = NULL;
	r = pv_config_parse(b, out);
	pv_buf_free(b);
	return r;
}

static void
test_audit_key_patterns(void **state)
{
	static const struct {
		const char *rules0, *rules1;
		const char *error; /* NULL: accepted */
	} cases[] = {
	    {"{\"ops\":[\"sign\"],\"keys\":[\"*\"]}", NULL,
	     "clients[0].rules[0].keys[0]: pattern \"*\" matches the audit key \"audit-hmac\" (audit.hmac_key); "
	     "no client operation may reach it"},
	    /* any operation on keys, even reading metadata */
	    {"{\"ops\":[\"keys.read\"],\"keys\":[\"audit-*\"]}", NULL,
	     "clients[0].rules[0].keys[0]: pattern"},
	    {"{\"ops\":[\"jwks\"],\"keys\":[\"jwt-*\",\"a?dit-hmac\"]}", NULL,
	     "clients[0].rules[0].keys[1]: pattern"},
	    {"{\"ops\":[\"wallet.read\"],\"keys\":[\"[a-z]udit-hm[!x]c\"]}", NULL,
	     "clients[0].rules[0].keys[0]"},
	    {"{\"ops\":[\"derive\"],\"keys\":[\"audit-hmac\"]}", NULL,
	     "clients[0].rules[0].keys[0]: key name \"audit-hmac\" matches the audit key"},
	    {"{\"ops\":[\"sign\"],\"keys\":[\"x\"]}",
	     "{\"ops\":[\"jwt.issue\"],\"keys\":[\"j\"]},{\"ops\":[\"verify\",\"secrets.read\"],\"keys\":[\"*hmac\"]}",
	     "clients[1].rules[1].keys[0]: pattern \"*hmac\""},
	    /* a long pattern is shown cut short */
	    {"{\"ops\":[\"sign\"],\"keys\":[\"a*************************************************\"]}", NULL,
	     "pattern \"a***************************************...\" matches"},
	    /* patterns that miss it */
	    {"{\"ops\":[\"sign\",\"keys.read\"],\"keys\":[\"[!a]*\",\"a[!u]*\",\"audit-hmac?*\"]}", NULL,
	     NULL},
	    {"{\"ops\":[\"sign\"],\"keys\":[\"Audit-hmac\",\"audit-hma\",\"audit\",\"audit-hmac-2\"]}", NULL,
	     NULL},
	    /* secret names are not key names */
	    {"{\"ops\":[\"secrets.read\"],\"keys\":[\"*\"]}", NULL, NULL},
	    {"{\"ops\":[\"secrets.read\"],\"keys\":[\"audit-hmac\"]}", NULL, NULL},
	};
	size_t i;

	(void)state;
	for (i = 0; i < PV_NELEM(cases); i++) {
		struct pv_config *cfg = NULL;
		pv_err r;

		pv_err_clear_detail();
		r = parse_rules(cases[i].rules0, cases[i].rules1, &cfg);
		if (cases[i].error == NULL) {
			if (r != PV_OK)
				fail_msg("case %zu refused: %s", i, pv_err_detail());
			/* parsed configs pass the check on their own too */
			assert_int_equal(pv_config_check_rules(cfg), PV_OK);
		} else {
			assert_int_equal(r, PV_ERR_BAD_INPUT);
			assert_null(cfg);
			if (strstr(pv_err_detail(), cases[i].error) == NULL)
				fail_msg("case %zu: detail \"%s\", want \"%s\"", i, pv_err_detail(),
					 cases[i].error);
		}
		pv_config_free(cfg);
	}
}

#define P(x) (1u << (x))

static void
test_op_purposes(void **state)
{
	static const struct {
		pv_op op;
		uint32_t purposes;
	} table[] = {
	    {PV_OP_SIGN, P(PV_PURPOSE_SIGN)},
	    {PV_OP_VERIFY, P(PV_PURPOSE_SIGN)},
	    {PV_OP_JWT_ISSUE, P(PV_PURPOSE_JWT)},
	    {PV_OP_JWKS, P(PV_PURPOSE_JWT)},
	    {PV_OP_DERIVE, P(PV_PURPOSE_DERIVE)},
	    {PV_OP_ECDH, P(PV_PURPOSE_DERIVE)},
	    {PV_OP_WALLET_SIGN, P(PV_PURPOSE_SOLANA) | P(PV_PURPOSE_EVM)},
	    {PV_OP_WALLET_READ, P(PV_PURPOSE_SOLANA) | P(PV_PURPOSE_EVM)},
	    {PV_OP_KEYS_READ, P(PV_PURPOSE_JWT) | P(PV_PURPOSE_SIGN) | P(PV_PURPOSE_SOLANA) |
				  P(PV_PURPOSE_EVM) | P(PV_PURPOSE_AUDIT) | P(PV_PURPOSE_WRAP) |
				  P(PV_PURPOSE_DECRYPT) | P(PV_PURPOSE_DERIVE)},
	    {PV_OP_SECRETS_LIST, 0},
	    {PV_OP_SECRETS_READ, 0},
	    {PV_OP_RELOAD, 0},
	};
	size_t i;

	(void)state;
	assert_int_equal(PV_NELEM(table), PV_OP_COUNT);
	for (i = 0; i < PV_NELEM(table); i++)
		if (pv_op_purposes(table[i].op) != table[i].purposes)
			fail_msg("%s: 0x%x", pv_op_name(table[i].op), (unsigned)pv_op_purposes(table[i].op));
}

/* The keys "on the token" for pv_config_check_keys. */
static struct pv_key token_keys[] = {
    {.name = "audit-hmac", .alg = PV_ALG_HMAC_SHA256, .purpose = PV_PURPOSE_AUDIT},
    {.name = "app-jwt", .alg = PV_ALG_P256, .purpose = PV_PURPOSE_JWT},
    {.name = "app-sign", .alg = PV_ALG_P256, .purpose = PV_PURPOSE_SIGN},
    {.name = "app-sign2", .alg = PV_ALG_ED25519, .purpose = PV_PURPOSE_SIGN},
    {.name = "app-evm", .alg = PV_ALG_SECP256K1, .purpose = PV_PURPOSE_EVM},
    {.name = "app-sol", .alg = PV_ALG_ED25519, .purpose = PV_PURPOSE_SOLANA},
    {.name = "app-derive", .alg = PV_ALG_HMAC_SHA256, .purpose = PV_PURPOSE_DERIVE},
    {.name = "app-kek", .alg = PV_ALG_AES256, .purpose = PV_PURPOSE_WRAP},
    {.name = "old", .alg = PV_ALG_P256, .purpose = PV_PURPOSE_NONE},
};

static pv_err
check_keys(const char *rules, struct pv_key **keys, size_t n, int warn, char **warnings)
{
	struct pv_config *cfg = NULL;
	pv_err r;

	if (parse_rules(rules, NULL, &cfg) != PV_OK)
		fail_msg("%s: %s", rules, pv_err_detail());
	pv_err_clear_detail();
	r = pv_config_check_keys(cfg, keys, n, warn, warnings);
	pv_config_free(cfg);
	return r;
}

static pv_err
check_audit_key(struct pv_key **keys, size_t n)
{
	struct pv_config *cfg = NULL;
	pv_err r;

	assert_int_equal(parse_rules("", NULL, &cfg), PV_OK);
	pv_err_clear_detail();
	r = pv_config_check_audit_key(cfg, keys, n);
	pv_config_free(cfg);
	return r;
}

static void
test_rules_against_purposes(void **state)
{
	static const struct {
		const char *rules;
		const char *error;   /* NULL: accepted */
		const char *warning; /* NULL: none */
	} cases[] = {
	    /* exact names: each operation must fit the key's purpose */
	    {"{\"ops\":[\"jwt.issue\"],\"keys\":[\"app-sign\"]}",
	     "clients[0].rules[0].keys[0]: key \"app-sign\" has purpose sign; \"jwt.issue\" can never apply to it "
	     "(it needs a jwt key)",
	     NULL},
	    {"{\"ops\":[\"sign\"],\"keys\":[\"app-jwt\",\"app-evm\"]}",
	     "clients[0].rules[0].keys[0]: key \"app-jwt\" has purpose jwt; \"sign\" can never apply", NULL},
	    {"{\"ops\":[\"sign\"],\"keys\":[\"app-sign\",\"app-evm\"]}",
	     "keys[1]: key \"app-evm\" has purpose evm; \"sign\" can never apply to it (it needs a sign key)",
	     NULL},
	    {"{\"ops\":[\"derive\"],\"keys\":[\"app-jwt\"]}",
	     "\"derive\" can never apply to it (it needs a derive key)", NULL},
	    {"{\"ops\":[\"wallet.sign\"],\"keys\":[\"app-sign\"]}",
	     "\"wallet.sign\" can never apply to it (it needs a solana or evm key)", NULL},
	    {"{\"ops\":[\"keys.read\",\"verify\"],\"keys\":[\"app-kek\"]}",
	     "key \"app-kek\" has purpose wrap; \"verify\"", NULL},
	    /* a rule mixing purposes over exact names is refused: split it */
	    {"{\"ops\":[\"jwt.issue\",\"sign\"],\"keys\":[\"app-jwt\",\"app-sign\"]}",
	     "\"sign\" can never apply", NULL},
	    /* fitting, and what is not judged */
	    {"{\"ops\":[\"jwt.issue\",\"jwks\",\"keys.read\"],\"keys\":[\"app-jwt\"]}", NULL, NULL},
	    {"{\"ops\":[\"wallet.sign\",\"wallet.read\"],\"keys\":[\"app-evm\",\"app-sol\"]}", NULL, NULL},
	    {"{\"ops\":[\"derive\",\"ecdh\"],\"keys\":[\"app-derive\"]}", NULL, NULL},
	    {"{\"ops\":[\"keys.read\"],\"keys\":[\"app-kek\",\"app-sol\"]}", NULL, NULL},
	    {"{\"ops\":[\"sign\"],\"keys\":[\"not-on-the-token\"]}", NULL, NULL},
	    {"{\"ops\":[\"sign\"],\"keys\":[\"old\"]}", NULL, NULL}, /* no purpose yet: refused at use */
	    {"{\"ops\":[\"secrets.read\"],\"keys\":[\"app-jwt\"]}", NULL, NULL},
	    /* patterns: a warning when an operation fits none of today's keys */
	    {"{\"ops\":[\"jwt.issue\"],\"keys\":[\"app-sign*\"]}", NULL,
	     "clients[0].rules[0]: \"jwt.issue\" applies to none of the 2 keys its patterns match now (it needs a jwt "
	     "key)"},
	    {"{\"ops\":[\"sign\",\"wallet.sign\"],\"keys\":[\"app-s*\"]}", NULL, NULL},
	    {"{\"ops\":[\"sign\",\"ecdh\"],\"keys\":[\"app-[js]*\"]}", NULL,
	     "\"ecdh\" applies to none of the 4 keys its patterns match now (it needs a derive key)"},
	    {"{\"ops\":[\"wallet.read\"],\"keys\":[\"app-j?t\",\"app-d*\"]}", NULL,
	     "\"wallet.read\" applies to none of the 2 keys"},
	    {"{\"ops\":[\"sign\"],\"keys\":[\"nothing-*\"]}", NULL, NULL},
	};
	struct pv_key *keys[PV_NELEM(token_keys)];
	char *w = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < PV_NELEM(token_keys); i++)
		keys[i] = &token_keys[i];
	for (i = 0; i < PV_NELEM(cases); i++) {
		pv_err r = check_keys(cases[i].rules, keys, PV_NELEM(keys), 1, &w);

		if (cases[i].error == NULL && r != PV_OK)
			fail_msg("case %zu refused: %s", i, pv_err_detail());
		if (cases[i].error != NULL &&
		    (r != PV_ERR_BAD_INPUT || strstr(pv_err_detail(), cases[i].error) == NULL))
			fail_msg("case %zu: %d \"%s\", want \"%s\"", i, (int)r, pv_err_detail(),
				 cases[i].error);
		if (r != PV_OK)
			assert_null(w);
		else if (cases[i].warning == NULL && w != NULL)
			fail_msg("case %zu: unexpected warning \"%s\"", i, w);
		else if (cases[i].warning != NULL && (w == NULL || strstr(w, cases[i].warning) == NULL))
			fail_msg("case %zu: warning \"%s\", want \"%s\"", i, w != NULL ? w : "(none)",
				 cases[i].warning);
		free(w);
		w = NULL;
	}
	/* without warn_on_patterns: refusals only */
	assert_int_equal(
	    check_keys("{\"ops\":[\"jwt.issue\"],\"keys\":[\"app-sign*\"]}", keys, PV_NELEM(keys), 0, &w),
	    PV_OK);
	assert_null(w);
	assert_int_equal(
	    check_keys("{\"ops\":[\"jwt.issue\"],\"keys\":[\"app-sign\"]}", keys, PV_NELEM(keys), 0, &w),
	    PV_ERR_BAD_INPUT);
	/* two warnings, one string */
	assert_int_equal(check_keys("{\"ops\":[\"jwt.issue\",\"derive\"],\"keys\":[\"app-sign*\"]}", keys,
				    PV_NELEM(keys), 1, &w),
			 PV_OK);
	assert_non_null(w);
	assert_non_null(strstr(w, "\"jwt.issue\" applies to none"));
	assert_non_null(strstr(w, "; clients[0].rules[0]: \"derive\" applies to none"));
	free(w);
}

static void
test_audit_key_on_token(void **state)
{
	struct pv_key wrong = {.name = "audit-hmac", .alg = PV_ALG_HMAC_SHA256, .purpose = PV_PURPOSE_SIGN};
	struct pv_key legacy = {.name = "audit-hmac", .alg = PV_ALG_HMAC_SHA256, .purpose = PV_PURPOSE_NONE};
	struct pv_key other = {.name = "app-derive", .alg = PV_ALG_HMAC_SHA256, .purpose = PV_PURPOSE_DERIVE};
	struct pv_key *keys[2] = {&other, NULL};

	(void)state;
	assert_int_equal(check_audit_key(keys, 1), PV_ERR_BAD_INPUT);
	assert_non_null(strstr(pv_err_detail(), "audit.hmac_key: no key \"audit-hmac\" on the token"));
	keys[1] = &wrong;
	assert_int_equal(check_audit_key(keys, 2), PV_ERR_BAD_INPUT);
	assert_string_equal(pv_err_detail(),
			    "audit.hmac_key: key \"audit-hmac\" has purpose sign, not audit");
	keys[1] = &legacy;
	assert_int_equal(check_audit_key(keys, 2), PV_ERR_BAD_INPUT);
	assert_non_null(strstr(pv_err_detail(), "vaultctl key set-purpose audit-hmac audit"));
	keys[1] = &token_keys[0];
	assert_int_equal(check_audit_key(keys, 2), PV_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_audit_key_patterns),
	    cmocka_unit_test(test_op_purposes),
	    cmocka_unit_test(test_rules_against_purposes),
	    cmocka_unit_test(test_audit_key_on_token),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
