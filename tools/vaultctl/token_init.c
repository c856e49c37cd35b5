/* vaultctl token init: initialise a fresh token (SoftHSM's free slot). */
#include "config.h"

#include <getopt.h>
#include <stdio.h>

#include "subcommands.h"

#define USAGE "token init --label LABEL --so-pin-source SRC [--pin-source SRC] [--module PATH]"

int
token_init_main(struct vctl *c, int argc, char *argv[])
{
	static const struct option opts[] = {
	    {"label", required_argument, NULL, 'l'},
	    {"so-pin-source", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *label = NULL, *so_src = NULL;
	int ch;
	pv_err r;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			label = optarg;
			break;
		case 's':
			so_src = optarg;
			break;
		case 'h':
			printf("Usage: vaultctl %s\n", USAGE);
			return 0;
		default:
			return vctl_bad_option(c, USAGE, argv);
		}
	}
	if (optind != argc)
		return vctl_usage(c, USAGE, "unexpected argument '%s'", argv[optind]);
	if (label == NULL || so_src == NULL || c->topts.pin_source == NULL)
		return vctl_usage(c, USAGE, "--label, --so-pin-source and --pin-source are required");
	if (c->topts.module == NULL)
		return vctl_usage(c, USAGE, "--module (or P11VAULT_MODULE) is required");
	if ((r = p11_token_init(c->topts.module, label, so_src, c->topts.pin_source)) != PV_OK)
		return vctl_fail(c, r, "token init '%s'", label);
	if (c->json) {
		cJSON *doc = cJSON_CreateObject();
		if (doc == NULL)
			return vctl_fail(c, PV_ERR_NOMEM, "token init");
		cJSON_AddStringToObject(doc, "label", label);
		cJSON_AddStringToObject(doc, "status", "initialized");
		return vctl_print_json(doc);
	}
	printf("token '%s' initialised; user PIN set\n", label);
	return 0;
}
