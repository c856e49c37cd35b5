/* vaultctl bundle verify BUNDLE [reading options]: everything but the release. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "bundleargs.h"
#include "subcommands.h"

#define USAGE                                                                                                \
	"bundle verify BUNDLE|- [--min-version N] [--expect-context NAME=VALUE]... [--key R]\n"              \
	"                      [--require-token-unwrap] [--trusted-sealer PEM|KEY]... [--allow-key-import-fallback]"

enum { OPT_FALLBACK = OPT_BUNDLE_FIRST_FREE };

/* --json: what was verified, and by whom the bundle was sealed. */
static int
print_json(const struct pv_bundle *b, const struct pv_bundle_opened *op, size_t keys, int verified)
{
	cJSON *doc = cJSON_CreateObject(), *o;

	if (doc == NULL)
		return PV_EXIT_INTERNAL;
	cJSON_AddBoolToObject(doc, "ok", 1);
	cJSON_AddNumberToObject(doc, "version", (double)b->version);
	cJSON_AddNumberToObject(doc, "entries", (double)b->nentries);
	cJSON_AddNumberToObject(doc, "private_keys_proved", (double)keys);
	cJSON_AddStringToObject(doc, "recipient", bundleargs_rcpt_name(&b->rcpt[op->rcpt]));
	if (!b->has_sealer) {
		cJSON_AddNullToObject(doc, "sealer");
	} else if ((o = cJSON_AddObjectToObject(doc, "sealer")) != NULL) {
		cJSON_AddStringToObject(o, "alg", pv_sealer_alg_name(b->sealer.alg));
		cJSON_AddStringToObject(o, "kid", b->sealer.kid);
		cJSON_AddBoolToObject(o, "verified", verified);
	}
	return vctl_print_json(doc);
}

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
	char sealer[128];
	int ch, rc, fallback_used = 0, verified;
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
	/* with trusted sealers, bundleargs_open refused anything but a
	 * verified signature (bundle-format.md §7 step 2a) */
	verified = pv_sealer_trust_count(ra.ro.trust) > 0;
	if (c->json) {
		rc = print_json(b, &op, keys, verified);
		goto done;
	}
	if (b->has_sealer)
		snprintf(sealer, sizeof(sealer), "sealer %s kid %s %s", pv_sealer_alg_name(b->sealer.alg),
			 b->sealer.kid, verified ? "verified" : "unverified");
	else
		snprintf(sealer, sizeof(sealer), "unsigned");
	printf("bundle: ok (%zu entries, %zu private key%s proved, version %llu, recipient %s, %s)\n",
	       b->nentries, keys, keys == 1 ? "" : "s", (unsigned long long)b->version,
	       bundleargs_rcpt_name(&b->rcpt[op.rcpt]), sealer);
	rc = 0;
done:
	pv_bundle_opened_clear(&op);
	bundleargs_read_end(&ra);
	pv_bundle_free(b);
	return rc;
}
