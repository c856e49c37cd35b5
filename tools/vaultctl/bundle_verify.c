/* vaultctl bundle verify BUNDLE [reading options]: everything but the release. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "bundleargs.h"
#include "subcommands.h"

#define USAGE                                                                                                \
	"bundle verify BUNDLE|- [--min-version N] [--expect-context NAME=VALUE]... [--key R]\n"              \
	"                      [--require-token-unwrap] [--allow-key-import-fallback]"

enum { OPT_FALLBACK = OPT_BUNDLE_FIRST_FREE };

int
bundle_verify_main(struct vctl *c, int argc, char *argv[])
{
	static const struct option opts[] = {
	    BUNDLEARGS_READ_OPTIONS,
	    {"allow-key-import-fallback", no_argument, NULL, OPT_FALLBACK},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct bundle_read_args ra = {0};
	struct pv_bundle *b = NULL;
	struct pv_bundle_opened op = {0};
	struct pv_key_import ki = {0};
	pv_secret *v = NULL;
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	p11_token *tok = NULL;
	size_t i, keys = 0;
	int ch, rc, fallback_used = 0;
	pv_err r;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (ch == 'h') {
			printf("Usage: vaultctl %s\n", USAGE);
			return 0;
		}
		if (ch == OPT_FALLBACK) {
			ki.allow_fallback = 1;
			continue;
		}
		if ((rc = bundleargs_read_option(c, USAGE, ch, optarg, &ra)) > 0)
			return rc;
		if (rc < 0)
			return vctl_bad_option(c, USAGE, argv);
	}
	if (optind + 1 != argc)
		return vctl_usage(c, USAGE, "one BUNDLE is required");
	ki.fallback_used = &fallback_used;
	if ((r = bundleargs_load(argv[optind], &b)) != PV_OK ||
	    (r = bundleargs_open(c, b, &ra, PV_DEK_ON_TOKEN, &op)) != PV_OK ||
	    (r = vctl_token(c, 1, &tok)) != PV_OK) {
		rc = vctl_fail(c, r, "bundle verify");
		goto done;
	}
	for (i = 0; i < b->nentries; i++) {
		const struct pv_bundle_entry *e = &b->entries[i];
		if (e->kind == PV_ENTRY_PRIVATE_KEY) {
			/* into the token as a session key, proved by a signature, removed */
			r = pv_bundle_unwrap_key(tok, e, op.dek, &ki, &h);
			if (r == PV_OK) {
				keys++;
				if (fallback_used)
					bundleargs_warn_fallback(e->name);
				r = p11_handle_destroy(tok, h);
			}
		} else {
			r = pv_bundle_decrypt_entry(b, e, op.dek, &v);
			pv_secret_free(v);
			v = NULL;
		}
		if (r != PV_OK) {
			/* name the entry unless the library's reason already does */
			if (strstr(pv_err_detail(), e->name) != NULL)
				rc = vctl_fail(c, r, "bundle verify");
			else
				rc = vctl_fail(c, r, "bundle verify: entry %s", e->name);
			goto done;
		}
	}
	printf("bundle: ok (%zu entries, %zu private key%s proved, version %llu, recipient %s)\n",
	       b->nentries, keys, keys == 1 ? "" : "s", (unsigned long long)b->version,
	       bundleargs_rcpt_name(&b->rcpt[op.rcpt]));
	rc = 0;
done:
	pv_bundle_opened_clear(&op);
	pv_bundle_free(b);
	return rc;
}
