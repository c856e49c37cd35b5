/* vaultctl bundle list BUNDLE [--json]: names, kinds and sizes, never values. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "bundleargs.h"
#include "core/b64.h"
#include "subcommands.h"

#define USAGE "bundle list BUNDLE [--json]"

static size_t
plain_size(const struct pv_bundle_entry *e)
{
	return e->kind == PV_ENTRY_PRIVATE_KEY ? 0 : e->data_len - PV_BUNDLE_TAG_LEN;
}

static int
print_json(const struct pv_bundle *b, const char *id)
{
	cJSON *doc = cJSON_CreateObject(), *ctx, *arr, *o;
	size_t i;

	if (doc == NULL)
		return PV_EXIT_INTERNAL;
	cJSON_AddNumberToObject(doc, "format", pv_bundle_format(b));
	cJSON_AddStringToObject(doc, "id", id);
	cJSON_AddNumberToObject(doc, "version", (double)b->version);
	cJSON_AddStringToObject(doc, "created", b->created);
	if (b->not_after[0])
		cJSON_AddStringToObject(doc, "not_after", b->not_after);
	ctx = cJSON_AddObjectToObject(doc, "context");
	for (i = 0; ctx != NULL && i < b->nctx; i++)
		cJSON_AddStringToObject(ctx, b->ctx[i].name, b->ctx[i].value);
	arr = cJSON_AddArrayToObject(doc, "recipients");
	for (i = 0; arr != NULL && i < b->nrcpt; i++) {
		if ((o = cJSON_CreateObject()) == NULL)
			break;
		cJSON_AddStringToObject(o, "type", pv_rcpt_type_name(b->rcpt[i].type));
		cJSON_AddStringToObject(o, "kid", b->rcpt[i].kid);
		if (b->rcpt[i].label)
			cJSON_AddStringToObject(o, "label", b->rcpt[i].label);
		cJSON_AddItemToArray(arr, o);
	}
	/* not verified here: bundle verify --trusted-sealer does that */
	if (b->has_sealer && (o = cJSON_AddObjectToObject(doc, "sealer")) != NULL) {
		cJSON_AddStringToObject(o, "alg", pv_sealer_alg_name(b->sealer.alg));
		cJSON_AddStringToObject(o, "kid", b->sealer.kid);
		cJSON_AddBoolToObject(o, "verified", 0);
	} else if (!b->has_sealer) {
		cJSON_AddNullToObject(doc, "sealer");
	}
	arr = cJSON_AddArrayToObject(doc, "entries");
	for (i = 0; arr != NULL && i < b->nentries; i++) {
		const struct pv_bundle_entry *e = &b->entries[i];
		if ((o = cJSON_CreateObject()) == NULL)
			break;
		cJSON_AddStringToObject(o, "name", e->name);
		cJSON_AddStringToObject(o, "kind", pv_entry_kind_name(e->kind));
		if (e->kind == PV_ENTRY_PRIVATE_KEY) {
			cJSON_AddStringToObject(o, "alg", pv_alg_info(e->alg)->name);
			/* null: sealed before purposes, refused until set-purpose */
			if (e->purpose == PV_PURPOSE_NONE)
				cJSON_AddNullToObject(o, "purpose");
			else
				cJSON_AddStringToObject(o, "purpose", pv_key_purpose_name(e->purpose));
		} else {
			cJSON_AddNumberToObject(o, "size", (double)plain_size(e));
		}
		cJSON_AddItemToArray(arr, o);
	}
	return vctl_print_json(doc);
}

int
bundle_list_main(struct vctl *c, int argc, char *argv[])
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct pv_bundle *b = NULL;
	char *id = NULL;
	size_t i, nlegacy = 0;
	int ch, rc;
	pv_err r;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (ch == 'h') {
			printf("Usage: vaultctl %s\n", USAGE);
			return 0;
		}
		return vctl_bad_option(c, USAGE, argv);
	}
	if (optind + 1 != argc)
		return vctl_usage(c, USAGE, "one BUNDLE is required");
	if ((r = bundleargs_load(argv[optind], &b)) != PV_OK ||
	    (r = pv_b64url_encode(b->id, sizeof(b->id), &id)) != PV_OK) {
		rc = vctl_fail(c, r, "bundle list %.64s", argv[optind]);
		goto done;
	}
	if (c->json) {
		rc = print_json(b, id);
		goto done;
	}
	printf("bundle %s format %u version %llu, created %s%s%s\n", id, pv_bundle_format(b),
	       (unsigned long long)b->version, b->created, b->not_after[0] ? ", not after " : "",
	       b->not_after);
	printf("context:");
	for (i = 0; i < b->nctx; i++)
		printf(" %s=%s", b->ctx[i].name, b->ctx[i].value);
	printf("%s\nrecipients:\n", b->nctx ? "" : " (none)");
	for (i = 0; i < b->nrcpt; i++)
		printf("  %-16s %-24s kid %s\n", pv_rcpt_type_name(b->rcpt[i].type),
		       b->rcpt[i].label ? b->rcpt[i].label : "-", b->rcpt[i].kid);
	if (b->has_sealer)
		printf("sealer: %s kid %s (unverified)\n", pv_sealer_alg_name(b->sealer.alg), b->sealer.kid);
	else
		printf("sealer: none (unsigned)\n");
	printf("entries: %zu\n", b->nentries);
	for (i = 0; i < b->nentries; i++) {
		const struct pv_bundle_entry *e = &b->entries[i];
		if (e->kind == PV_ENTRY_PRIVATE_KEY) {
			printf("  %-32s %-12s %-10s purpose %s\n", e->name, "private-key",
			       pv_alg_info(e->alg)->name, pv_key_purpose_name(e->purpose));
			nlegacy += e->purpose == PV_PURPOSE_NONE;
		} else {
			printf("  %-32s %-12s %zu bytes\n", e->name, pv_entry_kind_name(e->kind),
			       plain_size(e));
		}
	}
	if (nlegacy > 0)
		printf(
		    "%zu private key%s without a purpose: refused until `vaultctl bundle set-purpose BUNDLE NAME "
		    "PURPOSE`\n",
		    nlegacy, nlegacy == 1 ? "" : "s");
	printf("(not verified: use vaultctl bundle verify)\n");
	rc = 0;
done:
	free(id);
	pv_bundle_free(b);
	return rc;
}
