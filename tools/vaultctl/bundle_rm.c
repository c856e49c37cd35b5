/* vaultctl bundle rm BUNDLE NAME... [--out FILE] [signing options] */
#include "config.h"

#include <stdio.h>

#include "bundleargs.h"
#include "subcommands.h"

#define USAGE "bundle rm BUNDLE NAME... [--out FILE] [--sign-with KEY|--sign-with-pem FILE|--unsigned]"

int
bundle_rm_main(struct vctl *c, int argc, char *argv[])
{
	static const struct option opts[] = {
	    {"out", required_argument, NULL, 'o'},
	    BUNDLEARGS_SIGN_OPTIONS,
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct bundle_edit e = {0};
	struct bundle_sign_args sign = {0};
	const char *out = NULL;
	int ch, i, rc;
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
	if (optind + 2 > argc)
		return vctl_usage(c, USAGE, "BUNDLE and at least one NAME are required");
	if ((r = bundle_edit_begin(c, argv[optind], out, &sign, &e)) != PV_OK) {
		rc = vctl_fail(c, r, "bundle rm");
		goto done;
	}
	/* all or nothing: a missing name writes nothing */
	for (i = optind + 1; i < argc; i++) {
		if ((r = pv_bundle_remove(e.b, argv[i])) != PV_OK) {
			rc = vctl_fail(c, r, "bundle rm %.64s", argv[i]);
			goto done;
		}
	}
	if ((r = bundle_edit_commit(c, &e)) != PV_OK) {
		rc = vctl_fail(c, r, "bundle rm");
		goto done;
	}
	fprintf(stderr, "bundle: %d entr%s removed; version %llu\n", argc - optind - 1,
		argc - optind - 1 == 1 ? "y" : "ies", (unsigned long long)e.b->version);
	rc = 0;
done:
	bundle_edit_end(&e);
	return rc;
}
