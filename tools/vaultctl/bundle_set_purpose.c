/* vaultctl bundle set-purpose BUNDLE NAME PURPOSE [--out FILE]: give a
 * private-key entry sealed before purposes its purpose, once. */
#include "config.h"

#include <stdio.h>

#include "bundleargs.h"
#include "subcommands.h"

#define USAGE                                                                                                \
	"bundle set-purpose BUNDLE NAME jwt|sign|solana|evm [--out FILE] [--sign-with KEY|--sign-with-pem FILE|--unsigned]"

int
bundle_set_purpose_main(struct vctl *c, int argc, char *argv[])
{
	static const struct option opts[] = {
	    {"out", required_argument, NULL, 'o'},
	    BUNDLEARGS_SIGN_OPTIONS,
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct bundle_edit e = {0};
	struct bundle_sign_args sign = {0};
	pv_key_purpose purpose = PV_PURPOSE_NONE;
	const char *out = NULL, *name;
	int ch, rc, changed = 0;
	int so;
	pv_err r;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'o':
			out = optarg;
			break;
		case 'h':
			printf("Usage: vaultctl %s\n", USAGE);
			return 0;
		default:
			if ((so = bundleargs_sign_option(c, USAGE, ch, optarg, &sign)) > 0)
				return so;
			if (so == 0)
				break;
			return vctl_bad_option(c, USAGE, argv);
		}
	}
	if (optind + 3 != argc)
		return vctl_usage(c, USAGE, "BUNDLE, NAME and PURPOSE are required");
	name = argv[optind + 1];
	if (pv_key_purpose_from_name(argv[optind + 2], &purpose) != PV_OK)
		return vctl_usage(c, USAGE, "unknown purpose '%.40s' (jwt sign solana evm)",
				  argv[optind + 2]);
	/* the check covers the purpose (format 2): changing it needs the DEK */
	if ((r = bundle_edit_begin(c, argv[optind], out, &sign, &e)) != PV_OK ||
	    (r = pv_bundle_set_entry_purpose(e.b, name, purpose, &changed)) != PV_OK) {
		rc = vctl_fail(c, r == PV_ERR_KEY_TYPE ? PV_ERR_USAGE : r, "bundle set-purpose %.64s", name);
		goto done;
	}
	if (!changed) {
		fprintf(stderr, "bundle: entry %s already has purpose %s; nothing written\n", name,
			pv_key_purpose_name(purpose));
		rc = 0;
		goto done;
	}
	if ((r = bundle_edit_commit(c, &e)) != PV_OK) {
		rc = vctl_fail(c, r, "bundle set-purpose %.64s", name);
		goto done;
	}
	fprintf(stderr, "bundle: entry %s has purpose %s; format %u, version %llu\n", name,
		pv_key_purpose_name(purpose), pv_bundle_format(e.b), (unsigned long long)e.b->version);
	rc = 0;
done:
	bundle_edit_end(&e);
	return rc;
}
