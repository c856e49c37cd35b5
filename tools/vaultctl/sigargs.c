#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "sigargs.h"

int
sigargs_parse(struct vctl *c, int argc, char *argv[], const char *usage, int verify, struct sigargs *a)
{
	static const struct option opts[] = {
	    {"version", required_argument, NULL, 'V'},
	    {"in", required_argument, NULL, 'i'},
	    {"out", required_argument, NULL, 'o'},
	    {"sig", required_argument, NULL, 's'},
	    {"digest", required_argument, NULL, 'd'},
	    {"padding", required_argument, NULL, 'p'},
	    {"format", required_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int ch;

	memset(a, 0, sizeof(*a));
	/* vaultctl sign and verify work on keys of purpose sign only */
	a->opts.purpose = PV_PURPOSE_SIGN;
	a->in = "-";
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'V':
			if ((a->opts.version = vctl_parse_version(optarg)) == 0)
				return vctl_usage(c, usage, "--version takes a positive number");
			break;
		case 'i':
			a->in = optarg;
			break;
		case 'o':
			if (verify)
				return vctl_usage(c, usage, "--out is not an option of verify");
			a->out = optarg;
			break;
		case 's':
			if (!verify)
				return vctl_usage(c, usage, "--sig is not an option of sign");
			a->sig = optarg;
			break;
		case 'd':
			if (pv_digest_from_name(optarg, &a->opts.digest) != PV_OK)
				return vctl_usage(
				    c, usage, "unknown digest '%.32s' (sha256 sha384 sha512 keccak256 none)",
				    optarg);
			break;
		case 'p':
			if (strcmp(optarg, "pss") == 0)
				a->opts.pss = 1;
			else if (strcmp(optarg, "pkcs1") != 0)
				return vctl_usage(c, usage, "--padding is pkcs1 or pss");
			break;
		case 'f':
			a->format = optarg;
			break;
		case 'h':
			printf("Usage: vaultctl %s\n", usage);
			return 0;
		default:
			return vctl_bad_option(c, usage, argv);
		}
	}
	if (optind + 1 != argc)
		return vctl_usage(c, usage, "exactly one key NAME is required");
	a->name = argv[optind];
	if (verify && a->sig == NULL)
		return vctl_usage(c, usage, "--sig FILE is required");
	if (verify && strcmp(a->in, "-") == 0 && strcmp(a->sig, "-") == 0)
		return vctl_usage(c, usage, "--in and --sig cannot both be stdin");
	return -1;
}

pv_sigfmt
sigargs_format(const struct sigargs *a, pv_alg alg, pv_err *err)
{
	pv_sigfmt f = PV_SIGFMT_RAW;

	*err = PV_OK;
	if (a->format == NULL)
		return pv_alg_info(alg)->family == PV_FAMILY_EC ? PV_SIGFMT_DER : PV_SIGFMT_RAW;
	if (pv_sigfmt_from_name(a->format, &f) != PV_OK) {
		pv_err_set_detail("unknown format '%.32s' (raw der jose)", a->format);
		*err = PV_ERR_USAGE;
	} else if (f == PV_SIGFMT_DER && pv_alg_info(alg)->family != PV_FAMILY_EC) {
		pv_err_set_detail("--format der is for ECDSA keys; %s signatures are raw or jose",
				  pv_alg_info(alg)->name);
		*err = PV_ERR_KEY_TYPE;
	}
	return f;
}
