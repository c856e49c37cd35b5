/* vaultd's authentication, authorization and rate limits (policy.h). */
#include "config.h"

#include "policy/policy.h"

#include <fnmatch.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

struct pv_client {
	const struct pv_config_client *cfg;
	pthread_mutex_t mu; /* guards the bucket below, held for arithmetic only */
	int started;
	double tokens;
	struct timespec last;
};

struct pv_policy {
	const struct pv_config *cfg;
	struct pv_client *clients;
	size_t n;
};

pv_err
pv_policy_from_config(const struct pv_config *cfg, pv_policy **out)
{
	pv_policy *p = NULL;
	pv_err r = PV_ERR_NOMEM;

	*out = NULL;
	if (cfg == NULL || cfg->n_clients == 0) {
		r = PV_ERR_USAGE;
		goto out;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		goto out;
	p->cfg = cfg;
	if ((p->clients = calloc(cfg->n_clients, sizeof(*p->clients))) == NULL)
		goto out;
	for (; p->n < cfg->n_clients; p->n++) {
		struct pv_client *k = &p->clients[p->n];

		if (pthread_mutex_init(&k->mu, NULL) != 0) {
			r = PV_ERR_INTERNAL;
			goto out;
		}
		k->cfg = &cfg->clients[p->n];
	}
	*out = p;
	p = NULL;
	r = PV_OK;
out:
	pv_policy_free(p);
	return r;
}

void
pv_policy_free(pv_policy *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->n; i++)
		pthread_mutex_destroy(&p->clients[i].mu);
	free(p->clients);
	free(p);
}

static int
owns(const pv_policy *p, const pv_client *k)
{
	return p != NULL && k != NULL && k >= p->clients && k < p->clients + p->n;
}

/*
 * Every token client's hash is compared, and the match is picked with masks,
 * so the time taken does not tell which client (or whether any) matched.
 */
static const pv_client *
by_token(const pv_policy *p, const char *bearer)
{
	uint8_t h[crypto_hash_sha256_BYTES];
	size_t i, found = 0, any = 0, len = strlen(bearer);

	if (len > PV_POLICY_MAX_BEARER)
		return NULL;
	crypto_hash_sha256(h, (const unsigned char *)bearer, len);
	for (i = 0; i < p->n; i++) {
		const struct pv_config_client *k = p->clients[i].cfg;
		/* sodium_memcmp: 0 or -1, in time independent of the contents */
		size_t eq = (size_t)(sodium_memcmp(h, k->token_sha256, sizeof(h)) + 1);
		size_t mask = (size_t)0 - (eq & (size_t)(k->auth == PV_AUTH_TOKEN) & (any ^ 1));

		found = (found & ~mask) | (i & mask);
		any |= mask & 1;
	}
	sodium_memzero(h, sizeof(h));
	return any ? &p->clients[found] : NULL;
}

pv_err
pv_policy_authenticate(pv_policy *p, const struct pv_peer *peer, const char *bearer, const pv_client **out)
{
	const pv_client *k = NULL;
	size_t i;

	*out = NULL;
	if (p == NULL)
		return PV_ERR_USAGE;
	if (bearer != NULL) {
		k = by_token(p, bearer);
	} else if (peer != NULL && peer->has_cert) {
		for (i = 0; i < p->n && k == NULL; i++) {
			const struct pv_config_client *c = p->clients[i].cfg;

			if (c->auth == PV_AUTH_CERT &&
			    sodium_memcmp(c->cert_sha256, peer->cert_sha256, 32) == 0)
				k = &p->clients[i];
		}
	} else if (peer != NULL && peer->has_uid) {
		for (i = 0; i < p->n && k == NULL; i++) {
			const struct pv_config_client *c = p->clients[i].cfg;

			if (c->auth == PV_AUTH_UID && c->uid == peer->uid)
				k = &p->clients[i];
		}
	}
	if (k == NULL) {
		pv_err_set_detail("no client matches these credentials");
		return PV_ERR_NOT_LOGGED_IN;
	}
	*out = k;
	return PV_OK;
}

static int
keys_match(const struct pv_config_rule *ru, const char *key_name)
{
	size_t i;

	if (key_name == NULL)
		return 1;
	for (i = 0; i < ru->n_keys; i++) {
		if (fnmatch(ru->keys[i], key_name, 0) == 0)
			return 1;
	}
	return 0;
}

pv_err
pv_policy_allow(pv_policy *p, const pv_client *client, pv_op o, const char *key_name, pv_policy_decision *d)
{
	const struct pv_config_client *c;
	size_t i;

	memset(d, 0, sizeof(*d));
	d->rule_index = SIZE_MAX;
	if (!owns(p, client))
		return PV_ERR_USAGE;
	if ((unsigned)o >= PV_OP_COUNT) {
		pv_err_set_detail("unknown operation");
		return PV_ERR_USAGE;
	}
	if (key_name == NULL && !pv_op_keyless(o)) {
		pv_err_set_detail("%s needs a key name", pv_op_name(o));
		return PV_ERR_USAGE;
	}
	c = client->cfg;
	/* admin: may list secret names and reload; values still need a rule */
	if (c->role == PV_ROLE_ADMIN && (o == PV_OP_SECRETS_LIST || o == PV_OP_RELOAD))
		return PV_OK;
	if (o != PV_OP_RELOAD) {
		for (i = 0; i < c->n_rules; i++) {
			const struct pv_config_rule *ru = &c->rules[i];

			if (!(ru->ops & (1u << o)) || !keys_match(ru, key_name))
				continue;
			d->rule_index = i;
			d->max_ttl = ru->max_ttl;
			d->audiences = (const char *const *)ru->audiences;
			d->n_audiences = ru->n_audiences;
			d->chain_ids = ru->chain_ids;
			d->n_chain_ids = ru->n_chain_ids;
			d->max_value_wei = ru->max_value_wei;
			return PV_OK;
		}
	}
	pv_err_set_detail("client %s may not %s %s", c->name, pv_op_name(o),
			  key_name ? key_name : "(listing)");
	return PV_ERR_FORBIDDEN;
}

pv_err
pv_policy_jwt_max_ttl(const pv_policy *p, const char *key_name, uint32_t *max_ttl)
{
	uint32_t longest = 0;
	int granted = 0, uncapped = 0;
	size_t i, j;

	*max_ttl = 0;
	if (p == NULL || key_name == NULL)
		return PV_ERR_USAGE;
	for (i = 0; i < p->n; i++) {
		const struct pv_config_client *c = p->clients[i].cfg;

		for (j = 0; j < c->n_rules; j++) {
			const struct pv_config_rule *ru = &c->rules[j];

			if (!(ru->ops & (1u << PV_OP_JWT_ISSUE)) || !keys_match(ru, key_name))
				continue;
			granted = 1;
			if (ru->max_ttl == 0)
				uncapped = 1;
			else if (ru->max_ttl > longest)
				longest = ru->max_ttl;
			break; /* the client's first matching rule decides */
		}
	}
	*max_ttl = uncapped ? 0 : longest;
	return granted ? PV_OK : PV_ERR_NOT_FOUND;
}

pv_err
pv_policy_rate(pv_policy *p, const pv_client *client, struct timespec now, double *retry_after)
{
	struct pv_client *k;
	double rate, burst, elapsed;
	pv_err r = PV_OK;

	*retry_after = 0;
	if (!owns(p, client))
		return PV_ERR_USAGE;
	/* the bucket is ours (p->clients is not const); the public pointer is */
	k = &p->clients[client - p->clients];
	rate = k->cfg->rate_per_second;
	burst = (double)k->cfg->rate_burst;
	pthread_mutex_lock(&k->mu);
	if (!k->started) {
		k->started = 1;
		k->tokens = burst;
		k->last = now;
	}
	elapsed = (double)(now.tv_sec - k->last.tv_sec) + (double)(now.tv_nsec - k->last.tv_nsec) / 1e9;
	/* a clock reading older than the last one adds nothing */
	if (elapsed > 0) {
		k->tokens += elapsed * rate;
		if (k->tokens > burst)
			k->tokens = burst;
		k->last = now;
	}
	if (k->tokens >= 1.0) {
		k->tokens -= 1.0;
	} else {
		*retry_after = (1.0 - k->tokens) / rate;
		r = PV_ERR_BUSY;
	}
	pthread_mutex_unlock(&k->mu);
	if (r == PV_ERR_BUSY)
		pv_err_set_detail("client %s: rate limit", k->cfg->name);
	return r;
}

const char *
pv_client_name(const pv_client *client)
{
	return client->cfg->name;
}

pv_role
pv_client_role(const pv_client *client)
{
	return client->cfg->role;
}
