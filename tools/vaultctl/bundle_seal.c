/* vaultctl bundle seal --recipient R... [--context K=V]... [--not-after T] [--in X] [--out FILE] */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/json.h"
#include "bundle/input.h"
#include "bundleargs.h"
#include "subcommands.h"

#define USAGE                                                                                                       \
	"bundle seal --recipient R [--recipient R]... [--context NAME=VALUE]... [--not-after TIME] [--version N]\n" \
	"                     [--in FILE|DIR|-] [--in-format dotenv|json|dir] [--out FILE] [--allow-env NAME]...\n" \
	"                     [--sign-with KEY|--sign-with-pem FILE]"

struct seal_args {
	const char *rcpt[PV_BUNDLE_MAX_RECIPIENTS];
	size_t nrcpt;
	const char *ctx[PV_BUNDLE_MAX_CONTEXT];
	size_t nctx;
	const char *not_after, *in, *in_format, *out;
	unsigned long long version;
	struct bundle_allow_env allow;
	struct bundle_sign_args sign;
};

static int
parse_args(struct vctl *c, int argc, char *argv[], struct seal_args *a)
{
	static const struct option opts[] = {
	    {"recipient", required_argument, NULL, 'r'},
	    {"context", required_argument, NULL, 'c'},
	    {"not-after", required_argument, NULL, 'n'},
	    {"in", required_argument, NULL, 'i'},
	    {"in-format", required_argument, NULL, 'f'},
	    {"out", required_argument, NULL, 'o'},
	    {"version", required_argument, NULL, 'V'},
	    BUNDLEARGS_ALLOW_ENV_OPTION,
	    BUNDLEARGS_SIGN_OPTIONS,
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int ch, rc;

	memset(a, 0, sizeof(*a));
	a->in = "-";
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'r':
			if (a->nrcpt >= PV_BUNDLE_MAX_RECIPIENTS)
				return vctl_usage(c, USAGE, "at most %d recipients",
						  PV_BUNDLE_MAX_RECIPIENTS);
			a->rcpt[a->nrcpt++] = optarg;
			break;
		case 'c':
			if (a->nctx >= PV_BUNDLE_MAX_CONTEXT)
				return vctl_usage(c, USAGE, "at most %d context pairs",
						  PV_BUNDLE_MAX_CONTEXT);
			a->ctx[a->nctx++] = optarg;
			break;
		case 'n':
			a->not_after = optarg;
			break;
		case 'i':
			a->in = optarg;
			break;
		case 'f':
			a->in_format = optarg;
			break;
		case 'o':
			a->out = optarg;
			break;
		case 'V': {
			char *end = NULL;
			errno = 0;
			a->version = strtoull(optarg, &end, 10);
			/* JSON integers: at most 2^53 - 1 */
			if (errno || end == optarg || *end || optarg[0] == '-' || a->version < 1 ||
			    a->version > (unsigned long long)PV_JSON_INT_MAX)
				return vctl_usage(c, USAGE, "--version takes a number from 1 to 2^53-1");
			break;
		}
		case OPT_ALLOW_ENV:
			if ((rc = bundleargs_allow_env(c, USAGE, optarg, &a->allow)) != 0)
				return rc;
			break;
		case 'h':
			printf("Usage: vaultctl %s\n", USAGE);
			return 0;
		default:
			if ((rc = bundleargs_sign_option(c, USAGE, ch, optarg, &a->sign)) > 0)
				return rc;
			if (rc == 0 && !a->sign.unsigned_)
				break;
			return vctl_bad_option(c, USAGE, argv);
		}
	}
	if (optind != argc)
		return vctl_usage(c, USAGE, "unexpected argument %.64s", argv[optind]);
	if (a->nrcpt == 0)
		return vctl_usage(c, USAGE, "at least one --recipient is required");
	return -1;
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The values to seal, from a dotenv file, a JSON object or a directory. */
static pv_err
read_values(const struct seal_args *a, struct pv_kvlist *kv)
{
	const char *fmt = a->in_format;
	pv_secret *data = NULL;
	struct stat st;
	pv_err r;

	if (fmt == NULL)
		fmt = (strcmp(a->in, "-") != 0 && stat(a->in, &st) == 0 && S_ISDIR(st.st_mode)) ? "dir"
		      : ends_with(a->in, ".json")                                               ? "json"
												: "dotenv";
	if (strcmp(fmt, "dir") == 0)
		return pv_dir_read(a->in, kv);
	if (strcmp(fmt, "json") != 0 && strcmp(fmt, "dotenv") != 0) {
		pv_err_set_detail("--in-format is dotenv, json or dir");
		return PV_ERR_USAGE;
	}
	if ((r = bundleargs_read_secret(a->in, PV_BUNDLE_MAX, &data)) != PV_OK)
		goto out;
	r = strcmp(fmt, "json") == 0 ? pv_jsonobj_parse(pv_secret_ro(data), pv_secret_len(data), kv)
				     : pv_dotenv_parse(pv_secret_ro(data), pv_secret_len(data), kv);
out:
	pv_secret_free(data);
	return r;
}

int
bundle_seal_main(struct vctl *c, int argc, char *argv[])
{
	struct seal_args a;
	struct pv_bundle *b = NULL;
	struct pv_kvlist kv;
	struct pv_rcpt_spec spec = {0};
	pv_dek *dek = NULL;
	time_t t;
	size_t i;
	int rc;
	pv_err r;

	if ((rc = parse_args(c, argc, argv, &a)) >= 0)
		return rc;
	pv_kvlist_init(&kv);
	/* the signing key before anything else: a wrong one writes nothing */
	if ((r = bundleargs_sign_prepare(c, &a.sign)) != PV_OK || (r = pv_bundle_new(&b)) != PV_OK)
		goto fail;
	/* CI can seal with its pipeline number, so hosts can refuse older
	 * bundles with --min-version */
	if (a.version)
		b->version = a.version;
	for (i = 0; i < a.nctx; i++) {
		char name[65];
		const char *eq = strchr(a.ctx[i], '=');
		size_t nl = eq ? (size_t)(eq - a.ctx[i]) : 0;
		if (eq == NULL || nl == 0 || nl >= sizeof(name)) {
			rc = vctl_usage(c, USAGE, "--context takes NAME=VALUE");
			goto done;
		}
		memcpy(name, a.ctx[i], nl);
		name[nl] = '\0';
		if ((r = pv_bundle_set_context(b, name, eq + 1)) != PV_OK) {
			rc = vctl_fail(c, PV_ERR_USAGE, "bundle seal: --context %s", name);
			goto done;
		}
	}
	if (a.not_after != NULL) {
		if (pv_time_parse(a.not_after, &t) != PV_OK) {
			rc = vctl_usage(c, USAGE, "--not-after takes YYYY-MM-DDTHH:MM:SSZ");
			goto done;
		}
		if (t <= time(NULL)) {
			rc = vctl_usage(c, USAGE, "--not-after %s is in the past", a.not_after);
			goto done;
		}
		memcpy(b->not_after, a.not_after, PV_BUNDLE_TIME_LEN + 1);
	}
	if ((r = read_values(&a, &kv)) != PV_OK) {
		rc = vctl_fail(c, r == PV_ERR_BAD_INPUT || r == PV_ERR_TOO_LARGE ? PV_ERR_USAGE : r,
			       "bundle seal: %s", a.in);
		goto done;
	}
	/* a name that changes how programs run is refused before any token
	 * login and before anything is written */
	if ((rc = bundleargs_check_env(c, &kv, &a.allow, "seal")) != 0)
		goto done;
	if ((r = pv_dek_generate(&dek)) != PV_OK)
		goto fail;
	for (i = 0; i < a.nrcpt; i++) {
		if ((r = bundleargs_recipient(c, a.rcpt[i], &spec)) != PV_OK ||
		    (r = pv_bundle_add_rcpt(b, dek, &spec)) != PV_OK) {
			rc = vctl_fail(c, r, "bundle seal: recipient %s", a.rcpt[i]);
			goto done;
		}
		vctl_info(c, "recipient %s: %s", spec.label[0] ? spec.label : spec.kid,
			  pv_rcpt_type_name(spec.type));
		EVP_PKEY_free(spec.pub);
		memset(&spec, 0, sizeof(spec));
	}
	for (i = 0; i < kv.n; i++) {
		if ((r = pv_bundle_put_value(b, dek, kv.items[i].name, kv.items[i].kind,
					     pv_secret_ro(kv.items[i].value),
					     pv_secret_len(kv.items[i].value))) != PV_OK) {
			rc = vctl_fail(c, r == PV_ERR_BAD_INPUT ? PV_ERR_USAGE : r, "bundle seal: %s",
				       kv.items[i].name);
			goto done;
		}
		pv_secret_lock(kv.items[i].value);
	}
	if ((r = pv_bundle_seal_check(b, dek)) != PV_OK || (r = bundleargs_sign(c, &a.sign, b)) != PV_OK ||
	    (r = bundleargs_save("-", a.out, b)) != PV_OK)
		goto fail;
	vctl_info(c, "sealed %zu value%s for %zu recipient%s", kv.n, kv.n == 1 ? "" : "s", a.nrcpt,
		  a.nrcpt == 1 ? "" : "s");
	rc = 0;
	goto done;
fail:
	rc = vctl_fail(c, r, "bundle seal");
done:
	bundleargs_sign_end(&a.sign);
	EVP_PKEY_free(spec.pub);
	pv_dek_free(dek);
	pv_kvlist_free(&kv);
	pv_bundle_free(b);
	return rc;
}
