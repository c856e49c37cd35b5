/* vaultctl key repair [NAME] [--yes] */
#include "config.h"

#include <getopt.h>
#include <stdio.h>

#include "subcommands.h"

#define USAGE "key repair [NAME] [--yes]"

struct findings {
	struct vctl *c;
	cJSON *list; /* --json */
};

static void
print_finding(void *arg, const char *name, const char *kind, const char *what)
{
	struct findings *f = arg;
	cJSON *o;

	if (f->list == NULL) {
		printf("%s: %s: %s\n", name, kind, what);
		return;
	}
	if ((o = cJSON_CreateObject()) == NULL)
		return;
	cJSON_AddStringToObject(o, "name", name);
	cJSON_AddStringToObject(o, "kind", kind);
	cJSON_AddStringToObject(o, "what", what);
	cJSON_AddItemToArray(f->list, o);
}

int
key_repair_main(struct vctl *c, int argc, char *argv[])
{
	static const struct option opts[] = {
	    {"yes", no_argument, NULL, 'y'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct findings f = {.c = c};
	pv_keystore *ks = NULL;
	const char *name = NULL;
	cJSON *doc = NULL;
	size_t found = 0;
	int ch, yes = 0, rc;
	pv_err r;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'y':
			yes = 1;
			break;
		case 'h':
			printf("Usage: vaultctl %s\n", USAGE);
			return 0;
		default:
			return vctl_bad_option(c, USAGE, argv);
		}
	}
	if (argc - optind > 1)
		return vctl_usage(c, USAGE, "at most one key NAME");
	if (optind < argc)
		name = argv[optind];
	if (c->json && ((doc = cJSON_CreateObject()) == NULL || (f.list = cJSON_CreateArray()) == NULL)) {
		cJSON_Delete(doc);
		return vctl_fail(c, PV_ERR_NOMEM, "key repair");
	}
	if ((r = vctl_keystore(c, &ks)) != PV_OK ||
	    (r = pv_keys_repair(ks, name, yes, print_finding, &f, &found)) != PV_OK) {
		cJSON_Delete(doc);
		cJSON_Delete(f.list);
		return vctl_fail(c, r, "key repair%s%s", name ? " " : "", name ? name : "");
	}
	/* found and left as it was: the integrity exit code, so scripts notice */
	rc = found > 0 && !yes ? PV_EXIT_INTEGRITY : 0;
	if (doc != NULL) {
		cJSON_AddItemToObject(doc, "problems", f.list);
		cJSON_AddNumberToObject(doc, "found", (double)found);
		cJSON_AddBoolToObject(doc, "fixed", yes && found > 0);
		(void)vctl_print_json(doc);
		return rc;
	}
	if (found == 0)
		printf("no problems found\n");
	else if (yes)
		printf("%zu problem(s) found and fixed\n", found);
	else
		printf("%zu problem(s) found; nothing changed (run with --yes to fix)\n", found);
	return rc;
}
