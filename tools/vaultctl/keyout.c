#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/b64.h"
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

pv_err
keyout_provider_pem(const struct pv_key *key, unsigned version, char **out)
{
	static const char begin[] = "-----BEGIN P11VAULT KEY URI-----\n",
			  end[] = "-----END P11VAULT KEY URI-----\n";
	char uri[96], *b64 = NULL, *pem = NULL;
	size_t n, i, o;
	pv_err r;

	*out = NULL;
	switch (key->alg) {
	case PV_ALG_P256:
	case PV_ALG_P384:
	case PV_ALG_ED25519:
	case PV_ALG_RSA2048:
	case PV_ALG_RSA3072:
	case PV_ALG_RSA4096:
		break;
	default:
		pv_err_set_detail("the OpenSSL provider takes p256, p384, ed25519 and rsa keys, not %s",
				  pv_alg_info(key->alg)->name);
		return PV_ERR_KEY_TYPE;
	}
	snprintf(uri, sizeof(uri), "p11vault:%s;version=%u", key->name, version);
	if ((r = pv_b64_encode((const uint8_t *)uri, strlen(uri), &b64)) != PV_OK)
		return r;
	n = strlen(b64);
	if ((pem = malloc(sizeof(begin) + n + n / 64 + 1 + sizeof(end))) == NULL) {
		free(b64);
		return PV_ERR_NOMEM;
	}
	memcpy(pem, begin, sizeof(begin) - 1);
	o = sizeof(begin) - 1;
	for (i = 0; i < n; i += 64) {
		size_t m = n - i < 64 ? n - i : 64;

		memcpy(pem + o, b64 + i, m);
		o += m;
		pem[o++] = '\n';
	}
	memcpy(pem + o, end, sizeof(end));
	free(b64);
	*out = pem;
	return PV_OK;
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
