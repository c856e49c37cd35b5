/* vaultctl unwrap BUNDLE|- [--format env|dotenv|json] [--out FILE | --out-dir DIR] [--only N,..] [--strict]
 *                          [--allow-env NAME]... */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bundle/output.h"
#include "bundleargs.h"
#include "deliver.h"
#include "subcommands.h"

#define USAGE                                                                                                    \
	"unwrap BUNDLE|- [--format env|dotenv|json] [--out FILE | --out-dir DIR] [--only NAME,...] [--strict]\n" \
	"               [--min-version N] [--expect-context NAME=VALUE]... [--key R] [--require-token-unwrap]\n" \
	"               [--trusted-sealer PEM|KEY]... [--allow-env NAME]..."

enum { OPT_FORMAT = OPT_BUNDLE_FIRST_FREE, OPT_OUT, OPT_OUT_DIR, OPT_ONLY, OPT_STRICT };

struct unwrap_args {
	struct bundle_read_args ra;
	struct bundle_allow_env allow;
	enum pv_out_format format;
	const char *out, *out_dir, *bundle;
	char *only;
	int strict;
};

static int
parse_args(struct vctl *c, int argc, char *argv[], struct unwrap_args *a)
{
	static const struct option opts[] = {
	    BUNDLEARGS_READ_OPTIONS,
	    {"format", required_argument, NULL, OPT_FORMAT},
	    {"out", required_argument, NULL, OPT_OUT},
	    {"out-dir", required_argument, NULL, OPT_OUT_DIR},
	    {"only", required_argument, NULL, OPT_ONLY},
	    {"strict", no_argument, NULL, OPT_STRICT},
	    BUNDLEARGS_ALLOW_ENV_OPTION,
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int ch, rc;

	memset(a, 0, sizeof(*a));
	a->format = PV_OUT_ENV;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case OPT_FORMAT:
			if (strcmp(optarg, "env") == 0)
				a->format = PV_OUT_ENV;
			else if (strcmp(optarg, "dotenv") == 0)
				a->format = PV_OUT_DOTENV;
			else if (strcmp(optarg, "json") == 0)
				a->format = PV_OUT_JSON;
			else
				return vctl_usage(c, USAGE, "--format is env, dotenv or json");
			break;
		case OPT_OUT:
			a->out = optarg;
			break;
		case OPT_OUT_DIR:
			a->out_dir = optarg;
			break;
		case OPT_ONLY:
			a->only = optarg;
			break;
		case OPT_STRICT:
			a->strict = 1;
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
	if (optind + 1 != argc)
		return vctl_usage(c, USAGE, "one BUNDLE (or - for stdin) is required");
	if (a->out != NULL && a->out_dir != NULL)
		return vctl_usage(c, USAGE, "--out and --out-dir exclude each other");
	a->bundle = argv[optind];
	return -1;
}

static pv_err
write_stdout(const uint8_t *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(STDOUT_FILENO, p, len)) <= 0)
			return PV_ERR_IO;
		p += n;
		len -= (size_t)n;
	}
	return PV_OK;
}

/* Take the file entries out of kv (wiped); named ones (--only) are an error. */
static pv_err
drop_files(struct pv_kvlist *kv, int named)
{
	size_t i, j, dropped = 0;

	for (i = 0, j = 0; i < kv->n; i++) {
		if (kv->items[i].kind != PV_ENTRY_FILE) {
			kv->items[j++] = kv->items[i];
			continue;
		}
		if (named) {
			pv_err_set_detail("%s is a file value: use --out-dir or --format json",
					  kv->items[i].name);
			/* keep the list whole so that it is freed completely */
			for (; i < kv->n; i++)
				kv->items[j++] = kv->items[i];
			kv->n = j;
			return PV_ERR_USAGE;
		}
		pv_secret_free(kv->items[i].value);
		dropped++;
	}
	kv->n = j;
	if (dropped)
		fprintf(stderr, "vaultctl: %zu file value%s not written (use --out-dir or --format json)\n",
			dropped, dropped == 1 ? "" : "s");
	return PV_OK;
}

int
unwrap_main(struct vctl *c, int argc, char *argv[])
{
	struct unwrap_args a;
	struct pv_bundle *b = NULL;
	struct pv_bundle_opened op = {0};
	struct pv_kvlist kv;
	const char *only[PV_BUNDLE_MAX_ENTRIES > 256 ? 256 : PV_BUNDLE_MAX_ENTRIES];
	pv_secret *text = NULL;
	char *missing = NULL;
	int n = 0, not_ram = 0, rc;
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
	/* everything decrypted: only now is anything written */
	if (a.out_dir != NULL) {
		if ((r = deliver_out_dir(a.out_dir, &kv, &not_ram)) != PV_OK)
			goto fail;
		if (not_ram)
			fprintf(
			    stderr,
			    "vaultctl: warning: %s is not on tmpfs/ramfs: the secrets are on disk (use /run or "
			    "a RuntimeDirectory=)\n",
			    a.out_dir);
	} else {
		/* env/dotenv carry variables: file values need --out-dir or json */
		if (a.format != PV_OUT_JSON && (r = drop_files(&kv, a.only != NULL)) != PV_OK)
			goto fail;
		/* as variables, a name that changes how programs run is refused
		 * (nothing written); json and --out-dir carry data, not variables */
		if (a.format != PV_OUT_JSON && (rc = bundleargs_check_env(c, &kv, &a.allow, "deliver")) != 0)
			goto done;
		if ((r = pv_output_format(a.format, &kv, &text)) != PV_OK)
			goto fail;
		r = a.out != NULL && strcmp(a.out, "-") != 0
			? deliver_file_atomic(a.out, pv_secret_ro(text), pv_secret_len(text), 0600)
			: write_stdout(pv_secret_ro(text), pv_secret_len(text));
		if (r != PV_OK)
			goto fail;
	}
	vctl_info(c, "unwrapped %zu value%s from bundle version %llu through recipient %s", kv.n,
		  kv.n == 1 ? "" : "s", (unsigned long long)b->version,
		  bundleargs_rcpt_name(&b->rcpt[op.rcpt]));
	rc = 0;
	goto done;
fail:
	rc = vctl_fail(c, r == PV_ERR_BAD_INPUT ? PV_ERR_USAGE : r, "unwrap %.64s", a.bundle);
done:
	free(missing);
	pv_secret_free(text);
	pv_kvlist_free(&kv);
	pv_bundle_opened_clear(&op);
	bundleargs_read_end(&a.ra);
	pv_bundle_free(b);
	return rc;
}
