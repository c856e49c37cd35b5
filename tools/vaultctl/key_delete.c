/* vaultctl key delete NAME --yes [--after DAYS | --now --confirm NAME] [--vaultd-config FILE] */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keyargs.h"
#include "subcommands.h"

#define USAGE "key delete NAME --yes [--after DAYS | --now --confirm NAME] [--vaultd-config FILE]"

#define DELETE_DAYS_DEFAULT 7
#define DELETE_DAYS_MAX     3650

int
key_delete_main(struct vctl *c, int argc, char *argv[])
{
	static const struct option opts[] = {
	    {"yes", no_argument, NULL, 'y'},
	    {"after", required_argument, NULL, 'a'},
	    {"now", no_argument, NULL, 'n'},
	    {"confirm", required_argument, NULL, 'C'},
	    {"vaultd-config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *name, *cfg_path = NULL, *confirm = NULL;
	pv_keystore *ks = NULL;
	long days = DELETE_DAYS_DEFAULT;
	int ch, rc, yes = 0, now = 0, after = 0, destroyed = 0;
	char when[32], text[256], *end;
	int64_t at;
	pv_err r;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'y':
			yes = 1;
			break;
		case 'a':
			days = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || days < 1 || days > DELETE_DAYS_MAX)
				return vctl_usage(c, USAGE, "--after takes a number of days, 1-%d",
						  DELETE_DAYS_MAX);
			after = 1;
			break;
		case 'n':
			now = 1;
			break;
		case 'C':
			confirm = optarg;
			break;
		case 'c':
			cfg_path = optarg;
			break;
		case 'h':
			printf("Usage: vaultctl %s\n", USAGE);
			return 0;
		default:
			return vctl_bad_option(c, USAGE, argv);
		}
	}
	if (optind + 1 != argc)
		return vctl_usage(c, USAGE, optind >= argc ? "a key NAME is required" : "too many arguments");
	name = argv[optind];
	if (!yes)
		return vctl_usage(
		    c, USAGE, "this destroys every version of '%s' once the wait is over; add --yes", name);
	if (now && after)
		return vctl_usage(c, USAGE, "--now and --after exclude each other");
	if (now && (confirm == NULL || strcmp(confirm, name) != 0))
		return vctl_usage(
		    c, USAGE,
		    "--now destroys every version at once, without a wait; confirm with --confirm %s", name);
	if (!now && confirm != NULL)
		return vctl_usage(c, USAGE, "--confirm goes with --now");
	if ((r = vctl_keystore(c, &ks)) != PV_OK)
		return vctl_fail(c, r, "key delete '%s'", name);
	if ((rc = key_audit_guard(c, ks, name, cfg_path)) >= 0)
		return rc;
	at = (int64_t)time(NULL) + (now ? 0 : (int64_t)days * 86400);
	if ((r = pv_keys_schedule_delete(ks, name, at)) != PV_OK)
		return vctl_fail(c, r, "key delete '%s'", name);
	if (now) {
		if ((r = pv_keys_purge(ks, name, at > pv_key_clock_now() ? at : pv_key_clock_now(),
				       &destroyed)) != PV_OK)
			return vctl_fail(c, r,
					 "key delete '%s': scheduled for now, but destroying it failed "
					 "(vaultctl key purge %s tries again)",
					 name, name);
		snprintf(text, sizeof(text),
			 "key '%s' destroyed: every version's token objects and its metadata", name);
		return key_service_result(c, name, "destroyed", text);
	}
	if (pv_key_time_text(at, when, sizeof(when)) != PV_OK)
		return vctl_fail(c, PV_ERR_INTERNAL, "key delete '%s'", name);
	if (c->json) {
		cJSON *doc = cJSON_CreateObject();

		if (doc == NULL)
			return vctl_fail(c, PV_ERR_NOMEM, "key delete");
		cJSON_AddStringToObject(doc, "name", name);
		cJSON_AddStringToObject(doc, "state", "scheduled");
		cJSON_AddStringToObject(doc, "delete_at", when);
		return vctl_print_json(doc);
	}
	printf("key '%s' is disabled and scheduled for deletion at %s (vaultctl key cancel-delete %s)\n",
	       name, when, name);
	return 0;
}
