/* vaultctl bundle rewrap BUNDLE [--add-recipient R]... [--remove-recipient R|KID]... [--to R] [--out FILE]
 * The data key and the entries stay as they are; only the recipients change. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "bundleargs.h"
#include "subcommands.h"

#define USAGE                                                                                                \
	"bundle rewrap BUNDLE [--add-recipient R]... [--remove-recipient R|KID]... [--to R] [--out FILE]\n"  \
	"                      [--sign-with KEY|--sign-with-pem FILE|--unsigned]"

struct rewrap_args {
	const char *add[PV_BUNDLE_MAX_RECIPIENTS], *rm[PV_BUNDLE_MAX_RECIPIENTS];
	size_t nadd, nrm;
	const char *to, *out;
	struct bundle_sign_args sign;
};

static int
parse_args(struct vctl *c, int argc, char *argv[], struct rewrap_args *a)
{
	static const struct option opts[] = {
	    {"add-recipient", required_argument, NULL, 'a'},
	    {"remove-recipient", required_argument, NULL, 'r'},
	    {"to", required_argument, NULL, 't'},
	    {"out", required_argument, NULL, 'o'},
	    BUNDLEARGS_SIGN_OPTIONS,
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int ch, so;

	memset(a, 0, sizeof(*a));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			if (a->nadd >= PV_BUNDLE_MAX_RECIPIENTS)
				return vctl_usage(c, USAGE, "too many --add-recipient");
			a->add[a->nadd++] = optarg;
			break;
		case 'r':
			if (a->nrm >= PV_BUNDLE_MAX_RECIPIENTS)
				return vctl_usage(c, USAGE, "too many --remove-recipient");
			a->rm[a->nrm++] = optarg;
			break;
		case 't':
			a->to = optarg;
			break;
		case 'o':
			a->out = optarg;
			break;
		case 'h':
			printf("Usage: vaultctl %s\n", USAGE);
			return 0;
		default:
			if ((so = bundleargs_sign_option(c, USAGE, ch, optarg, &a->sign)) > 0)
				return so;
			if (so == 0)
				break;
			return vctl_bad_option(c, USAGE, argv);
		}
	}
	if (optind + 1 != argc)
		return vctl_usage(c, USAGE, "one BUNDLE is required");
	if (a->nadd == 0 && a->nrm == 0 && a->to == NULL)
		return vctl_usage(c, USAGE,
				  "nothing to do: give --add-recipient, --remove-recipient or --to");
	if (a->to != NULL && a->nrm > 0)
		return vctl_usage(c, USAGE, "--to already removes every other recipient");
	return -1;
}

static pv_err
add_recipient(struct vctl *c, struct bundle_edit *e, const char *arg, int ok_if_present, char kid[129])
{
	struct pv_rcpt_spec s;
	pv_err r;

	if ((r = bundleargs_recipient(c, arg, &s)) != PV_OK)
		return r;
	r = pv_bundle_add_rcpt(e->b, e->op.dek, &s);
	if (r == PV_ERR_EXISTS && ok_if_present)
		r = PV_OK;
	if (r == PV_OK)
		vctl_info(c, "recipient %s (%s) added", s.label[0] ? s.label : s.kid,
			  pv_rcpt_type_name(s.type));
	if (kid != NULL)
		memcpy(kid, s.kid, sizeof(s.kid));
	EVP_PKEY_free(s.pub);
	return r;
}

int
bundle_rewrap_main(struct vctl *c, int argc, char *argv[])
{
	struct rewrap_args a;
	struct bundle_edit e = {0};
	char kid[129], kept[PV_BUNDLE_MAX_RECIPIENTS + 1][129];
	size_t nkept = 0, j;
	int keep;
	long at;
	size_t i;
	int rc;
	pv_err r;

	if ((rc = parse_args(c, argc, argv, &a)) >= 0)
		return rc;
	if ((r = bundle_edit_begin(c, argv[optind], a.out, &a.sign, &e)) != PV_OK) {
		rc = vctl_fail(c, r, "bundle rewrap");
		goto done;
	}
	for (i = 0; i < a.nrm; i++) {
		if ((r = bundleargs_kid(c, e.b, a.rm[i], kid)) != PV_OK) {
			rc = vctl_fail(c, r, "bundle rewrap: --remove-recipient %s", a.rm[i]);
			goto done;
		}
		if ((at = pv_bundle_find_rcpt(e.b, kid)) < 0) {
			pv_err_set_detail("%s is not a recipient of this bundle", a.rm[i]);
			rc = vctl_fail(c, PV_ERR_NOT_FOUND, "bundle rewrap");
			goto done;
		}
		pv_bundle_remove_recipient(e.b, (size_t)at);
	}
	for (i = 0; i < a.nadd; i++) {
		if ((r = add_recipient(c, &e, a.add[i], 0, kept[nkept++])) != PV_OK) {
			rc = vctl_fail(c, r, "bundle rewrap: --add-recipient %s", a.add[i]);
			goto done;
		}
	}
	if (a.to != NULL) {
		if ((r = add_recipient(c, &e, a.to, 1, kept[nkept++])) != PV_OK) {
			rc = vctl_fail(c, r, "bundle rewrap: --to %s", a.to);
			goto done;
		}
		/* every other recipient goes, except those added in this command */
		for (i = e.b->nrcpt; i-- > 0;) {
			for (keep = 0, j = 0; j < nkept; j++)
				keep |= strcmp(e.b->rcpt[i].kid, kept[j]) == 0;
			if (!keep)
				pv_bundle_remove_recipient(e.b, i);
		}
	}
	if (e.b->nrcpt == 0) {
		rc = vctl_usage(c, USAGE, "at least one recipient must remain");
		goto done;
	}
	if ((r = bundle_edit_commit(c, &e)) != PV_OK) {
		rc = vctl_fail(c, r, "bundle rewrap");
		goto done;
	}
	fprintf(stderr, "bundle: %zu recipient%s; version %llu%s\n", e.b->nrcpt, e.b->nrcpt == 1 ? "" : "s",
		(unsigned long long)e.b->version,
		a.nrm || a.to
		    ? " (a removed recipient can still open older copies: run bundle rotate to cut it off)"
		    : "");
	rc = 0;
done:
	bundle_edit_end(&e);
	return rc;
}
