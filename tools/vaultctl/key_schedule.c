/*
 * vaultctl key schedule NAME --every DURATION [--publish-ahead DURATION]
 *                       [--retire-after DURATION] [--vaultd-config FILE]
 * vaultctl key schedule NAME --off
 *
 * Sets (or clears) a key's rotation schedule in its metadata on the token;
 * vaultd performs the steps (docs/cli.md "key schedule", docs/jwt.md).
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/vaultd_config.h"
#include "core/keys_schedule.h"
#include "jose/jwt.h"
#include "keyargs.h"
#include "policy/policy.h"
#include "subcommands.h"

#define USAGE                                                                                                \
	"key schedule NAME (--every DURATION [--publish-ahead DURATION] [--retire-after DURATION] "          \
	"[--vaultd-config FILE] | --off)"

/* vaultd's JWKS Cache-Control max-age (src/vaultd/h_jwt.c, docs/api.md) */
#define JWKS_MAX_AGE     60
/*
 * A jwt key's shortest publish-ahead: the JWKS max-age (60 s), vaultd's
 * metadata refresh (5 s), a publish up to PV_SCHEDULE_GRACE (60 s) late
 * and clock skew between replicas and relying parties: 5 minutes.
 */
#define JWT_PUBLISH_MIN  300
/* What a jwt key's retire-after must exceed the longest token lifetime by
 * (verifiers' leeway, clock skew). */
#define JWT_RETIRE_SLACK 300
/* jwt.default_ttl's default (docs/jwt.md) */
#define JWT_DEFAULT_TTL  300
#define DEFAULT_PUBLISH  3600

/*
 * The longest lifetime of a token signed by key name: with vaultd's
 * configuration, the largest max_ttl of the rules that let a client issue
 * with it (a rule without max_ttl: the 366-day cap); without it, the
 * documented default TTL. *why says where it came from.
 */
static int
jwt_longest_ttl(struct vctl *c, const char *name, const char *cfg_path, int64_t *ttl, char *why, size_t len)
{
	struct pv_config *cfg = NULL;
	pv_policy *pol = NULL;
	uint32_t max = 0;
	int rc = -1;
	pv_err r;

	if (cfg_path == NULL) {
		*ttl = JWT_DEFAULT_TTL;
		snprintf(
		    why, len,
		    "jwt.default_ttl's default (%d s); vaultd's rules were not read (no --vaultd-config): a "
		    "rule's max_ttl may allow longer tokens",
		    JWT_DEFAULT_TTL);
		return -1;
	}
	if ((r = pv_config_load(cfg_path, &cfg)) != PV_OK ||
	    (r = pv_policy_from_config(cfg, &pol)) != PV_OK) {
		rc = vctl_fail(c, r, "key schedule '%s': reading %s", name, cfg_path);
		goto out;
	}
	r = pv_policy_jwt_max_ttl(pol, name, &max);
	if (r == PV_ERR_NOT_FOUND) {
		pv_err_clear_detail();
		*ttl = cfg->jwt.default_ttl != 0 ? cfg->jwt.default_ttl : JWT_DEFAULT_TTL;
		snprintf(why, len, "no rule in %s lets a client issue with '%s'; jwt.default_ttl is %lld s",
			 cfg_path, name, (long long)*ttl);
	} else if (r != PV_OK) {
		rc = vctl_fail(c, r, "key schedule '%s': reading %s", name, cfg_path);
	} else if (max == 0 || max > PV_JWT_TTL_MAX) {
		*ttl = PV_JWT_TTL_MAX;
		snprintf(why, len,
			 "a rule in %s lets a client issue with '%s' without max_ttl: tokens may "
			 "live 366 days",
			 cfg_path, name);
	} else {
		*ttl = max;
		snprintf(why, len, "the longest max_ttl of the rules in %s that issue with '%s'", cfg_path,
			 name);
	}
out:
	pv_policy_free(pol);
	pv_config_free(cfg);
	return rc;
}

/* Defaults and the jwt rules (docs/jwt.md "Scheduled rotation"). -1: go on. */
static int
complete(struct vctl *c, const char *name, const struct pv_key *key, const char *cfg_path,
	 struct pv_key_schedule *s, int have_ahead, int have_after)
{
	char why[320] = "", a[24], b[24];
	int64_t ttl = 0;
	int rc;

	if (!have_ahead) {
		s->publish_ahead = s->every / 2 < DEFAULT_PUBLISH ? s->every / 2 : DEFAULT_PUBLISH;
		if (key->purpose == PV_PURPOSE_JWT && s->publish_ahead < JWT_PUBLISH_MIN)
			s->publish_ahead = JWT_PUBLISH_MIN;
	}
	if (s->publish_ahead >= s->every) {
		pv_duration_text(s->publish_ahead, a, sizeof(a));
		return vctl_usage(c, USAGE, "--every must be longer than the publish-ahead (%s)", a);
	}
	if (key->purpose != PV_PURPOSE_JWT) {
		if (!have_after)
			s->retire_after = s->every;
		return -1;
	}
	if ((rc = jwt_longest_ttl(c, name, cfg_path, &ttl, why, sizeof(why))) >= 0)
		return rc;
	if (!have_after)
		s->retire_after = ttl + JWT_RETIRE_SLACK;
	if (s->publish_ahead < JWT_PUBLISH_MIN) {
		pv_duration_text(s->publish_ahead, a, sizeof(a));
		pv_err_set_detail(
		    "publish-ahead %s is too short for jwt key '%s': relying parties cache the JWK "
		    "Set for %d s; it must be at least 5m (max-age plus slack for refresh, a late "
		    "publish and clock skew)",
		    a, name, JWKS_MAX_AGE);
		return vctl_fail(c, PV_ERR_USAGE, "key schedule '%s'", name);
	}
	if (s->retire_after < ttl + JWT_RETIRE_SLACK) {
		pv_duration_text(s->retire_after, a, sizeof(a));
		pv_duration_text(ttl + JWT_RETIRE_SLACK, b, sizeof(b));
		pv_err_set_detail(
		    "retire-after %s is too short for jwt key '%s': tokens it signed may live %lld s "
		    "(%s); it must be at least %s (that plus 5m)",
		    a, name, (long long)ttl, why, b);
		return vctl_fail(c, PV_ERR_USAGE, "key schedule '%s'", name);
	}
	if (cfg_path == NULL)
		fprintf(stderr, "vaultctl: note: the longest token lifetime assumed is %s\n", why);
	return -1;
}

int
key_schedule_main(struct vctl *c, int argc, char *argv[])
{
	static const struct option opts[] = {
	    {"every", required_argument, NULL, 'e'},
	    {"publish-ahead", required_argument, NULL, 'p'},
	    {"retire-after", required_argument, NULL, 'r'},
	    {"off", no_argument, NULL, 'o'},
	    {"vaultd-config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct pv_key_schedule s = {0, 0, 0};
	const char *name, *cfg_path = NULL, *what = NULL;
	int have_every = 0, have_ahead = 0, have_after = 0, off = 0, changed = 0, ch, rc = 0;
	struct pv_key *key = NULL;
	pv_keystore *ks = NULL;
	char text[512];
	int64_t *dst;
	cJSON *doc;
	pv_err r;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'e':
		case 'p':
		case 'r':
			dst = ch == 'e' ? &s.every : ch == 'p' ? &s.publish_ahead : &s.retire_after;
			what = ch == 'e' ? "--every" : ch == 'p' ? "--publish-ahead" : "--retire-after";
			if (pv_duration_parse(optarg, dst) != PV_OK)
				return vctl_usage(c, USAGE, "%s: %s", what, pv_err_detail());
			have_every |= ch == 'e';
			have_ahead |= ch == 'p';
			have_after |= ch == 'r';
			break;
		case 'o':
			off = 1;
			break;
		case 'c':
			cfg_path = optarg;
			break;
		case 'h':
			printf("Usage: vaultctl %s\n", USAGE);
			return 0;
		default:
			return vctl_bad_option(c, USAGE, argv);
		}
	}
	if (optind + 1 != argc)
		return vctl_usage(c, USAGE, optind >= argc ? "a key NAME is required" : "too many arguments");
	name = argv[optind];
	if (off && (have_every || have_ahead || have_after))
		return vctl_usage(c, USAGE, "--off takes no durations");
	if (!off && !have_every)
		return vctl_usage(c, USAGE, "--every DURATION or --off is required");
	if ((r = vctl_keystore(c, &ks)) != PV_OK)
		return vctl_fail(c, r, "key schedule '%s'", name);
	if (!off) {
		if ((r = pv_keys_get(ks, name, &key)) != PV_OK)
			return vctl_fail(c, r, "key schedule '%s'", name);
		if ((r = pv_key_schedule_purpose(name, key->purpose)) != PV_OK) {
			rc = vctl_fail(c, r, "key schedule '%s'", name);
			goto out;
		}
		if ((rc = key_audit_guard(c, ks, name, cfg_path)) >= 0 ||
		    (rc = complete(c, name, key, cfg_path, &s, have_ahead, have_after)) >= 0)
			goto out;
		rc = 0;
	}
	if ((r = pv_keys_set_schedule(ks, name, off ? NULL : &s, &changed)) != PV_OK) {
		rc = vctl_fail(c, r, "key schedule '%s'", name);
		goto out;
	}
	pv_key_free(key);
	key = NULL;
	pv_keystore_flush(ks);
	if ((r = pv_keys_get(ks, name, &key)) != PV_OK) {
		rc = vctl_fail(c, r, "key schedule '%s'", name);
		goto out;
	}
	if (!off && (key->purpose == PV_PURPOSE_WRAP || key->purpose == PV_PURPOSE_DECRYPT))
		fprintf(stderr,
			"vaultctl: note: bundles sealed to an older version keep naming it; rewrap "
			"them to the active version (vaultctl bundle rewrap) before you destroy a retired "
			"one\n");
	if (c->json) {
		if ((doc = cJSON_CreateObject()) == NULL || !cJSON_AddStringToObject(doc, "name", name) ||
		    pv_key_schedule_json(key, pv_key_clock_now(), doc) != PV_OK) {
			cJSON_Delete(doc);
			rc = vctl_fail(c, PV_ERR_NOMEM, "key schedule '%s'", name);
			goto out;
		}
		rc = vctl_print_json(doc);
		goto out;
	}
	if (off)
		printf("key '%s' %s no rotation schedule\n", name, changed ? "now has" : "already had");
	else {
		pv_key_schedule_text(key, pv_key_clock_now(), text, sizeof(text));
		printf("%s\n", text);
	}
out:
	pv_key_free(key);
	return rc;
}
