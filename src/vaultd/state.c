/*
 * Configuration generations: a validated config, its policy and its
 * secrets, built completely before it is published, shared by reference
 * count with the requests that run under it, freed by the last one out.
 *
 * What a reload changes (docs/config.md, "Reload"): clients, rules, rates,
 * jwt, audit checkpoint settings, bundle and secrets.environment. The token
 * section (the keeper stays logged in), the listeners, workers and limits
 * are read once at start: changing them needs a restart.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vaultd/keeper_int.h"
#include "vaultd/vaultd.h"

static void
gen_free(struct vd_gen *g)
{
	if (g == NULL)
		return;
	/* the policy points into the config */
	pv_policy_free(g->policy);
	vd_secrets_free(g->secrets);
	pv_config_free(g->cfg);
	free(g);
}

struct vd_gen *
vd_gen_acquire(struct vd_daemon *d)
{
	struct vd_gen *g;

	pthread_mutex_lock(&d->gen_lock);
	g = d->gen;
	if (g != NULL)
		atomic_fetch_add(&g->refs, 1);
	pthread_mutex_unlock(&d->gen_lock);
	return g;
}

void
vd_gen_release(struct vd_gen *g)
{
	if (g != NULL && atomic_fetch_sub(&g->refs, 1) == 1)
		gen_free(g);
}

static char *
warning_text(const char *path, pv_err r)
{
	const char *detail = pv_err_detail();
	size_t len;
	char *w;

	len = strlen(path) + strlen(detail) + strlen(pv_strerror(r)) + 64;
	if ((w = malloc(len)) == NULL)
		return NULL;
	if (detail[0] != '\0')
		snprintf(w, len, "bundle not loaded, continuing without it: %s", detail);
	else
		snprintf(w, len, "bundle %s not loaded, continuing without it: %s", path, pv_strerror(r));
	return w;
}

pv_err
vd_config_check_token(struct vd_keeper *k, const struct pv_config *cfg, int audit_key, int warn_on_patterns,
		      char **warnings)
{
	struct pv_key **keys = NULL;
	size_t n = 0;
	pv_err r;

	*warnings = NULL;
	if ((r = pv_keys_list(vd_keeper_ks(k), &keys, &n)) != PV_OK ||
	    (audit_key && (r = pv_config_check_audit_key(cfg, keys, n)) != PV_OK))
		goto out;
	r = pv_config_check_keys(cfg, keys, n, warn_on_patterns, warnings);
out:
	pv_keys_list_free(keys, n);
	return r;
}

/* The rules against the token's keys; warnings appended to *warning (none
 * in dev mode, whose generated rule grants every operation on purpose). */
static pv_err
check_token_keys(struct vd_daemon *d, const struct pv_config *cfg, char **warning)
{
	char *w = NULL, *both;
	size_t len;
	pv_err r;

	/* not the audit key: opening the audit log checked it at start, and a
	 * reload does not apply the audit section */
	if ((r = vd_config_check_token(d->keeper, cfg, 0, !d->dev, &w)) != PV_OK || w == NULL ||
	    warning == NULL)
		goto out;
	if (*warning == NULL) {
		*warning = w;
		w = NULL;
		goto out;
	}
	len = strlen(*warning) + strlen(w) + 3;
	if ((both = malloc(len)) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	snprintf(both, len, "%s; %s", *warning, w);
	free(*warning);
	*warning = both;
out:
	free(w);
	return r;
}

pv_err
vd_gen_build(struct vd_daemon *d, struct pv_config *cfg, struct vd_gen **out, char **warning)
{
	struct vd_gen *g = NULL;
	int bundle_failed = 0;
	pv_err r;

	*out = NULL;
	if (warning != NULL)
		*warning = NULL;
	if ((g = calloc(1, sizeof(*g))) == NULL) {
		pv_config_free(cfg);
		return PV_ERR_NOMEM;
	}
	atomic_init(&g->refs, 1);
	g->cfg = cfg;
	if ((r = pv_policy_from_config(cfg, &g->policy)) != PV_OK)
		goto out;
	if (!cfg->bundle.present && cfg->secrets.n_environment == 0)
		goto done;
	/* outside --dev, only a bundle from a trusted sealer is believed
	 * (bundle-format.md §7 step 2a), unless the operator says otherwise */
	if (cfg->bundle.present && !d->dev && cfg->bundle.n_trusted_sealers == 0) {
		if (!cfg->bundle.allow_unsigned) {
			pv_err_set_detail(
			    "bundle %s: bundle.trusted_sealers is required outside --dev (the PEM "
			    "public keys of the sealers to believe), or set bundle.allow_unsigned to "
			    "true to accept a bundle from anyone who can seal for its recipients",
			    cfg->bundle.path);
			r = PV_ERR_USAGE;
			goto out;
		}
		if (warning != NULL &&
		    (*warning =
			 strdup("bundle.allow_unsigned is true: the bundle is believed without a sealer "
				"signature (anyone who can seal for its recipients can replace it), until "
				"bundle.trusted_sealers is set")) == NULL) {
			r = PV_ERR_NOMEM;
			goto out;
		}
	}
	r = vd_secrets_load_ex(d->keeper, cfg, 1, &g->secrets, &bundle_failed);
	if (r != PV_OK && bundle_failed && (d->dev || !cfg->bundle.required)) {
		/* dev mode or an optional bundle: say so and go on without it */
		if (warning != NULL) {
			free(*warning);
			*warning = NULL;
		}
		if (warning != NULL && (*warning = warning_text(cfg->bundle.path, r)) == NULL) {
			r = PV_ERR_NOMEM;
			goto out;
		}
		r = vd_secrets_load_ex(d->keeper, cfg, 0, &g->secrets, NULL);
	}
	if (r != PV_OK)
		goto out;
done:
	if ((r = check_token_keys(d, cfg, warning)) != PV_OK)
		goto out;
	*out = g;
	g = NULL;
out:
	if (g != NULL && warning != NULL && *warning != NULL) {
		free(*warning);
		*warning = NULL;
	}
	gen_free(g);
	return r;
}

void
vd_gen_publish(struct vd_daemon *d, struct vd_gen *g)
{
	struct vd_gen *old;

	pthread_mutex_lock(&d->gen_lock);
	old = d->gen;
	g->number = old != NULL ? old->number + 1 : 1;
	d->gen = g;
	pthread_mutex_unlock(&d->gen_lock);
	vd_gen_release(old);
}

pv_err
vd_reload(struct vd_daemon *d)
{
	static pthread_mutex_t reload_mu = PTHREAD_MUTEX_INITIALIZER;
	struct pv_config *cfg = NULL;
	struct vd_gen *g = NULL;
	char *warning = NULL;
	pv_err r;

	if (d->config_path == NULL) {
		pv_err_set_detail("no configuration file to reload (--dev without --config)");
		return PV_ERR_USAGE;
	}
	pthread_mutex_lock(&reload_mu);
	if ((r = pv_config_load(d->config_path, &cfg)) != PV_OK)
		goto out;
	/* new key metadata and JWK Set for the new generation */
	vd_keeper_flush(d->keeper);
	if ((r = vd_gen_build(d, cfg, &g, &warning)) != PV_OK)
		goto out;
	vd_gen_publish(d, g);
	if (warning != NULL)
		pv_err_set_detail("%s", warning);
	else
		pv_err_clear_detail();
out:
	pthread_mutex_unlock(&reload_mu);
	free(warning);
	return r;
}
