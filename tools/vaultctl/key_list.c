/* vaultctl key list */
#include "config.h"

#include <stdio.h>

#include "core/keys_schedule.h"

#include "keyargs.h"
#include "keyout.h"
#include "subcommands.h"

#define USAGE "key list [--json]"

/* "disabled" and "delete_at" (ISO 8601 UTC, or null) of a key in --json. */
static void
add_service(cJSON *o, const struct pv_key *key)
{
	char when[32];

	if (o == NULL)
		return;
	if (key->disabled != 0 && pv_key_time_text(key->disabled, when, sizeof(when)) == PV_OK)
		cJSON_AddStringToObject(o, "disabled", when);
	else
		cJSON_AddNullToObject(o, "disabled");
	if (key->delete_at != 0 && pv_key_time_text(key->delete_at, when, sizeof(when)) == PV_OK)
		cJSON_AddStringToObject(o, "delete_at", when);
	else
		cJSON_AddNullToObject(o, "delete_at");
}

/* One line under the table for a key out of service. */
static void
service_line(const struct pv_key *key, size_t *nlines)
{
	char since[32] = "?", due[32] = "?";

	if (key->disabled == 0)
		return;
	(void)!pv_key_time_text(key->disabled, since, sizeof(since));
	printf("%s", (*nlines)++ ? "" : "\n");
	if (key->delete_at != 0) {
		(void)!pv_key_time_text(key->delete_at, due, sizeof(due));
		printf("key '%s' is disabled since %s and scheduled for deletion at %s\n", key->name, since,
		       due);
	} else {
		printf("key '%s' is disabled since %s\n", key->name, since);
	}
}

int
key_list_main(struct vctl *c, int argc, char *argv[])
{
	struct pv_key **keys = NULL;
	pv_keystore *ks = NULL;
	cJSON *doc = NULL, *arr;
	size_t n = 0, i, nhint = 0, nlines = 0;
	char hint[256];
	int64_t now = pv_key_clock_now();
	int rc = 0;
	pv_err r;

	if (argc > 1) {
		if (argv[1][0] == '-' && (argv[1][1] == 'h' || argv[1][2] == 'h')) {
			printf("Usage: vaultctl %s\n", USAGE);
			return 0;
		}
		return vctl_usage(c, USAGE, "unexpected argument '%.64s'", argv[1]);
	}
	if ((r = vctl_keystore(c, &ks)) != PV_OK || (r = pv_keys_list(ks, &keys, &n)) != PV_OK)
		return vctl_fail(c, r, "key list");
	if (c->json) {
		if ((doc = cJSON_CreateObject()) == NULL ||
		    (arr = cJSON_AddArrayToObject(doc, "keys")) == NULL) {
			cJSON_Delete(doc);
			rc = vctl_fail(c, PV_ERR_NOMEM, "key list");
			goto out;
		}
		for (i = 0; i < n; i++) {
			cJSON *o = keyout_json(ks, keys[i], 0);

			add_service(o, keys[i]);
			if (o != NULL && pv_key_schedule_json(keys[i], now, o) != PV_OK) {
				cJSON_Delete(o);
				cJSON_Delete(doc);
				rc = vctl_fail(c, PV_ERR_NOMEM, "key list");
				goto out;
			}
			cJSON_AddItemToArray(arr, o);
		}
		rc = vctl_print_json(doc);
		goto out;
	}
	if (n == 0) {
		printf("no keys on this token\n");
		goto out;
	}
	keyout_table_header();
	for (i = 0; i < n; i++)
		keyout_table_rows(keys[i]);
	for (i = 0; i < n; i++)
		service_line(keys[i], &nlines);
	/* a schedule and its next step, one line per scheduled key */
	for (i = 0; i < n; i++) {
		pv_key_schedule_text(keys[i], now, hint, sizeof(hint));
		if (hint[0] != '\0')
			printf("%s%s\n", nlines++ ? "" : "\n", hint);
	}
	for (i = 0; i < n; i++) {
		if (keys[i]->purpose == PV_PURPOSE_NONE) {
			keyout_legacy_hint(keys[i], hint, sizeof(hint));
			printf("%s%s\n", nhint++ ? "" : "\n", hint);
		}
	}
out:
	pv_keys_list_free(keys, n);
	return rc;
}
