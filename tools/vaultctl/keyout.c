#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "keyout.h"

static void
iso_time(int64_t t, char *buf, size_t len)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "?");
}

void
keyout_legacy_hint(const struct pv_key *key, char *buf, size_t len)
{
	char fit[128];

	pv_key_purposes_for(key->alg, fit, sizeof(fit));
	snprintf(buf, len,
		 "key '%s' has no purpose (made by an earlier version) and is refused for every use until "
		 "`vaultctl key set-purpose %s PURPOSE` (a %s key can have: %s)",
		 key->name, key->name, pv_alg_info(key->alg)->name, fit);
}

cJSON *
keyout_json(pv_keystore *ks, const struct pv_key *key, int with_uris)
{
	cJSON *o = cJSON_CreateObject(), *arr, *v;
	char when[32], hint[256], *uri = NULL;
	size_t i;

	if (o == NULL)
		return NULL;
	cJSON_AddStringToObject(o, "name", key->name);
	cJSON_AddStringToObject(o, "alg", pv_alg_info(key->alg)->name);
	if (key->purpose == PV_PURPOSE_NONE) {
		/* made before purposes: refused for every use until given one */
		cJSON_AddNullToObject(o, "purpose");
		keyout_legacy_hint(key, hint, sizeof(hint));
		cJSON_AddStringToObject(o, "hint", hint);
	} else {
		cJSON_AddStringToObject(o, "purpose", pv_key_purpose_name(key->purpose));
	}
	cJSON_AddStringToObject(o, "usage", pv_key_usage_label(key->alg, key->usage));
	if ((arr = cJSON_AddArrayToObject(o, "versions")) == NULL)
		return o;
	for (i = 0; i < key->nversions; i++) {
		const struct pv_key_version *ver = &key->versions[i];

		if ((v = cJSON_CreateObject()) == NULL)
			break;
		cJSON_AddItemToArray(arr, v);
		cJSON_AddNumberToObject(v, "version", ver->version);
		cJSON_AddStringToObject(v, "state", pv_key_state_name(ver->state));
		iso_time(ver->created, when, sizeof(when));
		cJSON_AddStringToObject(v, "created", when);
		cJSON_AddStringToObject(v, "origin", ver->adopted ? "adopted" : "generated");
		if (with_uris && pv_keys_uri(ks, key, ver, &uri) == PV_OK) {
			cJSON_AddStringToObject(v, "uri", uri);
			free(uri);
			uri = NULL;
		}
	}
	return o;
}

void
keyout_table_header(void)
{
	printf("%-24s %-12s %7s  %-12s %-8s %-8s %s\n", "NAME", "ALG", "VERSION", "STATE", "PURPOSE", "USAGE",
	       "CREATED");
}

void
keyout_table_rows(const struct pv_key *key)
{
	char when[32];
	size_t i;

	for (i = 0; i < key->nversions; i++) {
		iso_time(key->versions[i].created, when, sizeof(when));
		printf("%-24s %-12s %7u  %-12s %-8s %-8s %s%s\n", key->name, pv_alg_info(key->alg)->name,
		       key->versions[i].version, pv_key_state_name(key->versions[i].state),
		       pv_key_purpose_name(key->purpose), pv_key_usage_label(key->alg, key->usage), when,
		       key->versions[i].adopted ? " (adopted)" : "");
	}
}
