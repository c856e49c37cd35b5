/*
 * vaultd.json against the keys on the token (docs/config.md, "What the
 * checks refuse"): a rule's operations must be able to apply to the
 * purposes of the keys it names. Decidable for an exact name of a key
 * that exists (refused); for a pattern only today's keys can be looked at,
 * and keys made later may fit, so it is a warning.
 */
#include "config.h"

#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/vaultd_config.h"
#include "core/keymeta.h"

#define P(x)         (1u << (x))
#define WARNINGS_MAX 4096

uint32_t
pv_op_purposes(pv_op op)
{
	switch (op) {
	case PV_OP_SIGN:
	case PV_OP_VERIFY:
		return P(PV_PURPOSE_SIGN);
	case PV_OP_JWT_ISSUE:
	case PV_OP_JWKS: /* the JWK Set lists jwt keys only */
		return P(PV_PURPOSE_JWT);
	case PV_OP_DERIVE:
	case PV_OP_ECDH:
		return P(PV_PURPOSE_DERIVE);
	case PV_OP_WALLET_SIGN:
	case PV_OP_WALLET_READ:
		return P(PV_PURPOSE_SOLANA) | P(PV_PURPOSE_EVM);
	case PV_OP_KEYS_READ:
		return (uint32_t)(P(PV_PURPOSE_COUNT) - 1u) & ~P(PV_PURPOSE_NONE);
	default:
		return 0; /* secret names, reload: no key */
	}
}

/* The purposes of a mask, "sign" or "solana or evm". */
static void
purposes_text(uint32_t mask, char *buf, size_t len)
{
	int p, n = 0;

	buf[0] = '\0';
	for (p = 1; p < PV_PURPOSE_COUNT; p++) {
		if (!(mask & P(p)))
			continue;
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", n++ ? " or " : "",
			 pv_key_purpose_name((pv_key_purpose)p));
	}
}

static const struct pv_key *
find_key(struct pv_key *const *keys, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(keys[i]->name, name) == 0)
			return keys[i];
	return NULL;
}

/* Append one warning to *w ("; " between them), bounded. */
static pv_err PV_PRINTF(2, 3) warn(char **w, const char *fmt, ...)
{
	char line[512], *grown;
	size_t have = *w != NULL ? strlen(*w) : 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (have + strlen(line) + 3 > WARNINGS_MAX)
		return PV_OK; /* enough said */
	if ((grown = realloc(*w, have + strlen(line) + 3)) == NULL)
		return PV_ERR_NOMEM;
	snprintf(grown + have, strlen(line) + 3, "%s%s", have ? "; " : "", line);
	*w = grown;
	return PV_OK;
}

pv_err
pv_config_check_audit_key(const struct pv_config *cfg, struct pv_key *const *keys, size_t n)
{
	const struct pv_key *k = find_key(keys, n, cfg->audit.hmac_key);

	if (k == NULL) {
		pv_err_set_detail("audit.hmac_key: no key \"%s\" on the token (vaultctl key create %s --alg "
				  "hmac-sha256 --purpose audit)",
				  cfg->audit.hmac_key, cfg->audit.hmac_key);
		return PV_ERR_BAD_INPUT;
	}
	if (k->purpose == PV_PURPOSE_NONE) {
		pv_err_set_detail("audit.hmac_key: key \"%s\" has no purpose (made by an earlier version): "
				  "vaultctl key set-purpose %s audit",
				  k->name, k->name);
		return PV_ERR_BAD_INPUT;
	}
	if (k->purpose != PV_PURPOSE_AUDIT) {
		pv_err_set_detail("audit.hmac_key: key \"%s\" has purpose %s, not audit", k->name,
				  pv_key_purpose_name(k->purpose));
		return PV_ERR_BAD_INPUT;
	}
	return PV_OK;
}

/* Exact names: every operation of the rule must fit the key's purpose. */
static pv_err
check_exact(const struct pv_config_rule *ru, size_t i, size_t j, struct pv_key *const *keys, size_t n)
{
	char want[64];
	size_t k;
	int op;

	for (k = 0; k < ru->n_keys; k++) {
		const struct pv_key *key;

		if (pv_config_pattern_is_glob(ru->keys[k]) ||
		    (key = find_key(keys, n, ru->keys[k])) == NULL || key->purpose == PV_PURPOSE_NONE)
			continue;
		for (op = 0; op < PV_OP_COUNT; op++) {
			uint32_t fits = pv_op_purposes((pv_op)op);

			if (!(ru->ops & P(op)) || fits == 0 || (fits & P(key->purpose)))
				continue;
			purposes_text(fits, want, sizeof(want));
			pv_err_set_detail(
			    "clients[%zu].rules[%zu].keys[%zu]: key \"%s\" has purpose %s; \"%s\" can "
			    "never apply to it (it needs a %s key)",
			    i, j, k, key->name, pv_key_purpose_name(key->purpose), pv_op_name((pv_op)op),
			    want);
			return PV_ERR_BAD_INPUT;
		}
	}
	return PV_OK;
}

static int
rule_matches(const struct pv_config_rule *ru, const char *name)
{
	size_t k;

	for (k = 0; k < ru->n_keys; k++)
		if (fnmatch(ru->keys[k], name, 0) == 0)
			return 1;
	return 0;
}

/* Patterns: an operation that fits none of the keys the rule matches now. */
static pv_err
warn_patterns(const struct pv_config_rule *ru, size_t i, size_t j, struct pv_key *const *keys, size_t n,
	      char **w)
{
	char want[64];
	size_t k, matched, fitting;
	int op, globs = 0;
	pv_err r;

	for (k = 0; k < ru->n_keys; k++)
		globs |= pv_config_pattern_is_glob(ru->keys[k]);
	if (!globs)
		return PV_OK;
	for (op = 0; op < PV_OP_COUNT; op++) {
		uint32_t fits = pv_op_purposes((pv_op)op);

		if (!(ru->ops & P(op)) || fits == 0)
			continue;
		for (k = matched = fitting = 0; k < n; k++) {
			if (keys[k]->purpose == PV_PURPOSE_NONE || !rule_matches(ru, keys[k]->name))
				continue;
			matched++;
			fitting += (fits & P(keys[k]->purpose)) != 0;
		}
		if (matched == 0 || fitting > 0)
			continue;
		purposes_text(fits, want, sizeof(want));
		if ((r = warn(
			 w,
			 "clients[%zu].rules[%zu]: \"%s\" applies to none of the %zu key%s its patterns match "
			 "now (it needs a %s key)",
			 i, j, pv_op_name((pv_op)op), matched, matched == 1 ? "" : "s", want)) != PV_OK)
			return r;
	}
	return PV_OK;
}

pv_err
pv_config_check_keys(const struct pv_config *cfg, struct pv_key *const *keys, size_t n, int warn_on_patterns,
		     char **warnings)
{
	char *w = NULL;
	size_t i, j;
	pv_err r;

	*warnings = NULL;
	for (i = 0; i < cfg->n_clients; i++) {
		const struct pv_config_client *c = &cfg->clients[i];

		for (j = 0; j < c->n_rules; j++) {
			if ((r = check_exact(&c->rules[j], i, j, keys, n)) != PV_OK ||
			    (warn_on_patterns &&
			     (r = warn_patterns(&c->rules[j], i, j, keys, n, &w)) != PV_OK))
				goto out;
		}
	}
	*warnings = w;
	w = NULL;
out:
	free(w);
	return r;
}
