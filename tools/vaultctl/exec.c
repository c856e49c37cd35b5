/* vaultctl exec BUNDLE [--override] [--pristine] [--strict] [--only N,..] [--files-dir DIR]
 *                      [--allow-env NAME]... -- CMD [ARGS...]
 * execve: CMD replaces vaultctl (same PID), so signals and the exit status
 * are CMD's own. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundleargs.h"
#include "deliver.h"
#include "subcommands.h"

#define USAGE                                                                                                  \
	"exec BUNDLE|- [--override] [--pristine] [--strict] [--only NAME,...] [--files-dir DIR]\n"             \
	"             [--min-version N] [--expect-context NAME=VALUE]... [--key R] [--require-token-unwrap]\n" \
	"             [--trusted-sealer PEM|KEY]... [--allow-env NAME]... -- CMD [ARGS...]"

enum { OPT_OVERRIDE = OPT_BUNDLE_FIRST_FREE, OPT_PRISTINE, OPT_STRICT, OPT_ONLY, OPT_FILES_DIR };

struct exec_args {
	struct bundle_read_args ra;
	struct deliver_exec_opts eo;
	struct bundle_allow_env allow;
	const char *bundle;
	char *only;
	int strict;
	char **cmd;
};

/* Options may stand before and after BUNDLE; the command follows "--". */
static int
parse_args(struct vctl *c, int argc, char *argv[], struct exec_args *a)
{
	static const struct option opts[] = {
	    BUNDLEARGS_READ_OPTIONS,
	    {"override", no_argument, NULL, OPT_OVERRIDE},
	    {"pristine", no_argument, NULL, OPT_PRISTINE},
	    {"strict", no_argument, NULL, OPT_STRICT},
	    {"only", required_argument, NULL, OPT_ONLY},
	    {"files-dir", required_argument, NULL, OPT_FILES_DIR},
	    BUNDLEARGS_ALLOW_ENV_OPTION,
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int ch, rc;

	memset(a, 0, sizeof(*a));
	optind = 1;
	for (;;) {
		while ((ch = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
			switch (ch) {
			case OPT_OVERRIDE:
				a->eo.override = 1;
				break;
			case OPT_PRISTINE:
				a->eo.pristine = 1;
				break;
			case OPT_STRICT:
				a->strict = 1;
				break;
			case OPT_ONLY:
				a->only = optarg;
				break;
			case OPT_FILES_DIR:
				a->eo.files_dir = optarg;
				break;
			case OPT_ALLOW_ENV:
				if ((rc = bundleargs_allow_env(c, USAGE, optarg, &a->allow)) != 0)
					return rc;
				break;
			case 'h':
				printf("Usage: vaultctl %s\n", USAGE);
				return 0;
			default:
				if ((rc = bundleargs_read_option(c, USAGE, ch, optarg, &a->ra)) > 0)
					return rc;
				if (rc < 0)
					return vctl_bad_option(c, USAGE, argv);
			}
		}
		if (optind > 1 && strcmp(argv[optind - 1], "--") == 0)
			break; /* the command starts at optind */
		if (optind >= argc || a->bundle != NULL)
			return vctl_usage(c, USAGE, "the command must follow \"--\"");
		a->bundle = argv[optind++];
	}
	if (a->bundle == NULL)
		return vctl_usage(c, USAGE, "BUNDLE is required before \"--\"");
	if (optind >= argc)
		return vctl_usage(c, USAGE, "a command is required after \"--\"");
	a->cmd = argv + optind;
	return -1;
}

int
exec_main(struct vctl *c, int argc, char *argv[])
{
	struct exec_args a;
	struct pv_bundle *b = NULL;
	struct pv_bundle_opened op = {0};
	struct pv_kvlist kv;
	const char *only[256];
	char *missing = NULL;
	size_t i, nenv = 0, nfile = 0, kept = 0;
	struct deliver_plan plan;
	int n = 0, rc;
	pv_err r;

	if ((rc = parse_args(c, argc, argv, &a)) >= 0)
		return rc;
	pv_kvlist_init(&kv);
	if (a.only != NULL && (n = bundleargs_split_names(a.only, only, PV_NELEM(only))) < 0)
		return vctl_usage(c, USAGE, "--only lists at most %zu names", PV_NELEM(only));
	if ((r = bundleargs_load(a.bundle, &b)) != PV_OK ||
	    (r = bundleargs_open(c, b, &a.ra, PV_DEK_ON_TOKEN, &op)) != PV_OK ||
	    (r = pv_bundle_decrypt(b, op.dek, a.only ? only : NULL, (size_t)n, a.strict, &kv, &missing)) !=
		PV_OK)
		goto fail;
	if (missing != NULL)
		fprintf(stderr, "vaultctl: warning: not in the bundle (or not a value): %.200s\n", missing);
	/* a variable that changes how programs run: nothing is written and
	 * nothing runs (whether or not the environment already has it) */
	if ((rc = bundleargs_check_env(c, &kv, &a.allow, "deliver")) != 0)
		goto done;
	for (i = 0; i < kv.n; i++) {
		if (kv.items[i].kind == PV_ENTRY_FILE) {
			nfile++;
			continue;
		}
		nenv++;
		/* the emergency override: an operator's value wins unless --override */
		if (!a.eo.override && !a.eo.pristine && getenv(kv.items[i].name) != NULL) {
			kept++;
			fprintf(
			    stderr,
			    "vaultctl: %s is already set in the environment; keeping it (--override to replace)\n",
			    kv.items[i].name);
		}
	}
	vctl_info(
	    c,
	    "loaded %zu secret%s (%zu as files) from bundle version %llu through recipient %s; %zu kept from "
	    "the environment",
	    nenv + nfile, nenv + nfile == 1 ? "" : "s", nfile, (unsigned long long)b->version,
	    bundleargs_rcpt_name(&b->rcpt[op.rcpt]), kept);
	/* the token is not needed any more: close it (and its session keys) */
	pv_bundle_opened_clear(&op);
	vctl_close(c);
	memset(&plan, 0, sizeof(plan));
	if ((r = deliver_exec_plan(&a.eo, &kv, &plan)) != PV_OK)
		goto fail;
	if (plan.files_not_ram)
		fprintf(stderr,
			"vaultctl: warning: %s is not on tmpfs/ramfs: the secrets are on disk (use /run or "
			"a RuntimeDirectory=)\n",
			a.eo.files_dir);
	r = deliver_exec_planned(&plan, a.cmd);
	/* only reached when the exec failed (the plan is freed then) */
fail:
	rc = vctl_fail(c, r == PV_ERR_BAD_INPUT ? PV_ERR_USAGE : r, "exec %.64s",
		       r == PV_ERR_NOT_FOUND && a.cmd ? a.cmd[0] : a.bundle);
done:
	free(missing);
	pv_kvlist_free(&kv);
	pv_bundle_opened_clear(&op);
	bundleargs_read_end(&a.ra);
	pv_bundle_free(b);
	return rc;
}
