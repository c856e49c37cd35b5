#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "keyargs.h"

int
keyargs_parse(struct vctl *c, int argc, char *argv[], const char *usage, int flags, struct keyargs *out)
{
	static const struct option opts[] = {
	    {"version", required_argument, NULL, 'V'},
	    {"yes", no_argument, NULL, 'y'},
	    {"next", no_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int ch;

	memset(out, 0, sizeof(*out));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'V':
			if (!(flags & KEYARGS_VERSION))
				return vctl_usage(c, usage, "--version is not an option here");
			if ((out->version = vctl_parse_version(optarg)) == 0)
				return vctl_usage(c, usage, "--version takes a positive number");
			break;
		case 'y':
			if (!(flags & KEYARGS_YES))
				return vctl_usage(c, usage, "--yes is not an option here");
			out->yes = 1;
			break;
		case 'n':
			if (!(flags & KEYARGS_NEXT))
				return vctl_usage(c, usage, "--next is not an option here");
			out->next = 1;
			break;
		case 'h':
			printf("Usage: vaultctl %s\n", usage);
			return 0;
		default:
			return vctl_bad_option(c, usage, argv);
		}
	}
	if (optind + 1 != argc)
		return vctl_usage(c, usage, optind >= argc ? "a key NAME is required" : "too many arguments");
	out->name = argv[optind];
	if ((flags & KEYARGS_NEED_VERSION) && out->version == 0)
		return vctl_usage(c, usage, "--version N is required");
	return -1;
}

int
keyargs_print_result(const char *name, unsigned version, const char *state)
{
	cJSON *doc = cJSON_CreateObject();

	if (doc == NULL)
		return PV_EXIT_INTERNAL;
	cJSON_AddStringToObject(doc, "name", name);
	cJSON_AddNumberToObject(doc, "version", version);
	cJSON_AddStringToObject(doc, "state", state);
	return vctl_print_json(doc);
}

int
keyargs_version_command(struct vctl *c, int argc, char *argv[], const char *usage, int flags,
			pv_err (*op)(pv_keystore *, const char *, unsigned), const char *state)
{
	struct keyargs a;
	pv_keystore *ks = NULL;
	int rc;
	pv_err r;

	if ((rc = keyargs_parse(c, argc, argv, usage, flags | KEYARGS_VERSION | KEYARGS_NEED_VERSION, &a)) >=
	    0)
		return rc;
	/* destruction cannot be undone: such commands require the explicit flag */
	if ((flags & KEYARGS_YES) && !a.yes)
		return vctl_usage(c, usage, "this cannot be undone; add --yes");
	if ((r = vctl_keystore(c, &ks)) != PV_OK || (r = op(ks, a.name, a.version)) != PV_OK)
		return vctl_fail(c, r, "%s '%s' version %u", c->cmd, a.name, a.version);
	if (c->json)
		return keyargs_print_result(a.name, a.version, state);
	printf("key '%s' version %u is %s\n", a.name, a.version, state);
	return 0;
}
