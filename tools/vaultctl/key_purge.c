/* vaultctl key purge [NAME] */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "keyargs.h"
#include "subcommands.h"

#define USAGE "key purge [NAME]"

/*
 * Destroy the keys whose scheduled deletion is due (one key, or every key):
 * for installs without vaultd, e.g. from cron. Each under the key's change
 * lock, so a vaultd replica doing the same destroys it once.
 */
int
key_purge_main(struct vctl *c, int argc, char *argv[])
{
	struct pv_key **keys = NULL;
	pv_keystore *ks = NULL;
	cJSON *doc = NULL, *arr = NULL;
	size_t n = 0, i, count = 0;
	int64_t now = pv_key_clock_now();
	int rc = 0, destroyed;
	pv_err r;

	if (argc > 1 && argv[1][0] == '-') {
		if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
			printf("Usage: vaultctl %s\n", USAGE);
			return 0;
		}
		return vctl_bad_option(c, USAGE, argv);
	}
	if (argc > 2)
		return vctl_usage(c, USAGE, "too many arguments");
	if ((r = vctl_keystore(c, &ks)) != PV_OK || (r = pv_keys_list(ks, &keys, &n)) != PV_OK)
		return vctl_fail(c, r, "key purge");
	if (c->json && ((doc = cJSON_CreateObject()) == NULL ||
			(arr = cJSON_AddArrayToObject(doc, "destroyed")) == NULL)) {
		rc = vctl_fail(c, PV_ERR_NOMEM, "key purge");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (argc == 2 && strcmp(keys[i]->name, argv[1]) != 0)
			continue;
		if (!pv_key_delete_due(keys[i], now))
			continue;
		if ((r = pv_keys_purge(ks, keys[i]->name, now, &destroyed)) != PV_OK) {
			rc = vctl_fail(c, r, "key purge '%s'", keys[i]->name);
			goto out;
		}
		if (!destroyed)
			continue;
		count++;
		if (arr != NULL)
			cJSON_AddItemToArray(arr, cJSON_CreateString(keys[i]->name));
		else
			printf("key '%s' destroyed: every version's token objects and its metadata\n",
			       keys[i]->name);
	}
	if (doc != NULL) {
		rc = vctl_print_json(doc);
		doc = NULL;
	} else if (count == 0) {
		printf("no key is due for deletion\n");
	}
out:
	cJSON_Delete(doc);
	pv_keys_list_free(keys, n);
	return rc;
}
