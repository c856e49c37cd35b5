/* vaultctl bundle set BUNDLE NAME [--kind env|file] [--in FILE|-] [--out FILE] [--allow-env NAME]... */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bundleargs.h"
#include "pkcs11/pin.h"
#include "subcommands.h"

#define USAGE                                                                                                \
	"bundle set BUNDLE NAME [--kind env|file] [--in FILE|-] [--out FILE] [--allow-env NAME]...\n"        \
	"                   [--sign-with KEY|--sign-with-pem FILE|--unsigned]"

int
bundle_set_main(struct vctl *c, int argc, char *argv[])
{
	static const struct option opts[] = {
	    {"kind", required_argument, NULL, 'k'},
	    {"in", required_argument, NULL, 'i'},
	    {"out", required_argument, NULL, 'o'},
	    BUNDLEARGS_ALLOW_ENV_OPTION,
	    BUNDLEARGS_SIGN_OPTIONS,
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct bundle_edit e = {0};
	struct bundle_sign_args sign = {0};
	struct bundle_allow_env allow = {0};
	const char *in = "-", *out = NULL, *name;
	pv_secret *value = NULL;
	int ch, kind = PV_ENTRY_ENV, rc;
	int so;
	size_t len;
	pv_err r;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'k':
			if (strcmp(optarg, "env") == 0)
				kind = PV_ENTRY_ENV;
			else if (strcmp(optarg, "file") == 0)
				kind = PV_ENTRY_FILE;
			else
				return vctl_usage(c, USAGE, "--kind is env or file");
			break;
		case 'i':
			in = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case OPT_ALLOW_ENV:
			if ((rc = bundleargs_allow_env(c, USAGE, optarg, &allow)) != 0)
				return rc;
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
	if (optind + 2 != argc)
		return vctl_usage(c, USAGE,
				  "BUNDLE and NAME are required (the value comes from --in or stdin)");
	name = argv[optind + 1];
	if (!pv_entry_name_valid(kind, name))
		return vctl_usage(c, USAGE, "%.64s is not a valid %s entry name", name,
				  kind == PV_ENTRY_ENV ? "env" : "file");
	/* a file entry is delivered as a file: only variables are checked */
	if (kind == PV_ENTRY_ENV && (rc = bundleargs_check_env_name(c, name, &allow, "seal")) != 0)
		return rc;
	if (strcmp(in, "-") == 0 && strcmp(argv[optind], "-") == 0)
		return vctl_usage(c, USAGE, "the bundle and the value cannot both come from stdin");
	/* the value first: a bad value must not cost a token login; typed at
	 * a terminal it is not echoed (it would stay in the scrollback) */
	if (strcmp(in, "-") == 0 && isatty(STDIN_FILENO)) {
		char prompt[160];
		snprintf(prompt, sizeof(prompt), "value for %s (not echoed): ", name);
		r = p11_prompt_hidden(prompt, 64 * 1024, &value);
	} else {
		r = bundleargs_read_secret(in, PV_BUNDLE_VALUE_MAX, &value);
	}
	if (r != PV_OK) {
		rc = vctl_fail(c, r, "bundle set: reading the value");
		goto done;
	}
	len = pv_secret_len(value);
	/* a value typed or piped with a final newline: env values drop it */
	if (kind == PV_ENTRY_ENV && len > 0 && pv_secret_ro(value)[len - 1] == '\n')
		len -= (len > 1 && pv_secret_ro(value)[len - 2] == '\r') ? 2 : 1;
	if ((r = bundle_edit_begin(c, argv[optind], out, &sign, &e)) != PV_OK ||
	    (r = pv_bundle_put_value(e.b, e.op.dek, name, kind, pv_secret_ro(value), len)) != PV_OK ||
	    (r = bundle_edit_commit(c, &e)) != PV_OK) {
		rc = vctl_fail(c, r == PV_ERR_BAD_INPUT ? PV_ERR_USAGE : r, "bundle set %s", name);
		goto done;
	}
	fprintf(stderr, "bundle: %s set (%zu bytes); version %llu\n", name, len,
		(unsigned long long)e.b->version);
	rc = 0;
done:
	pv_secret_free(value);
	bundle_edit_end(&e);
	return rc;
}
