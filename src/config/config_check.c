/*
 * vaultd.json checks across fields, after every field parsed on its own
 * (docs/config.md, "What the checks refuse"): no rule may reach the audit
 * checkpoint key. Decidable without the token: fnmatch(3) of each pattern
 * against the one name audit.hmac_key gives, with the flags the policy
 * matches with.
 */
#include "config.h"

#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include "config/vaultd_config.h"

/* Operations whose key patterns are key names (not secret names). */
static const uint32_t key_ops = (1u << PV_OP_SIGN) | (1u << PV_OP_VERIFY) | (1u << PV_OP_JWT_ISSUE) |
				(1u << PV_OP_JWKS) | (1u << PV_OP_DERIVE) | (1u << PV_OP_ECDH) |
				(1u << PV_OP_KEYS_READ) | (1u << PV_OP_WALLET_SIGN) |
				(1u << PV_OP_WALLET_READ);

int
pv_config_rule_names_keys(const struct pv_config_rule *ru)
{
	return (ru->ops & key_ops) != 0;
}

int
pv_config_pattern_is_glob(const char *pattern)
{
	/* a backslash escapes in fnmatch(3); no key name contains one */
	return strpbrk(pattern, "*?[\\") != NULL;
}

pv_err
pv_config_check_rules(const struct pv_config *cfg)
{
	const char *audit = cfg->audit.hmac_key;
	size_t i, j, k;

	if (audit == NULL)
		return PV_OK;
	for (i = 0; i < cfg->n_clients; i++) {
		const struct pv_config_client *c = &cfg->clients[i];

		for (j = 0; j < c->n_rules; j++) {
			const struct pv_config_rule *ru = &c->rules[j];

			if (!pv_config_rule_names_keys(ru))
				continue;
			for (k = 0; k < ru->n_keys; k++) {
				const char *p = ru->keys[k];

				if (fnmatch(p, audit, 0) != 0)
					continue;
				/* the audit key signs checkpoints only: any grant on it
				 * (even keys.read) is a rule that cannot be meant */
				pv_err_set_detail(
				    "clients[%zu].rules[%zu].keys[%zu]: %s \"%.40s%s\" matches the audit "
				    "key \"%s\" (audit.hmac_key); no client operation may reach it",
				    i, j, k, pv_config_pattern_is_glob(p) ? "pattern" : "key name", p,
				    strlen(p) > 40 ? "..." : "", audit);
				return PV_ERR_BAD_INPUT;
			}
		}
	}
	return PV_OK;
}
