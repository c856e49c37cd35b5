#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "base/json.h"
#include "core/b64.h"
#include "core/keymeta.h"

static const char *const state_names[] = {
    [PV_STATE_NEXT] = "next",
    [PV_STATE_ACTIVE] = "active",
    [PV_STATE_VERIFY_ONLY] = "verify-only",
    [PV_STATE_RETIRED] = "retired",
};

int
pv_key_name_valid(const char *name)
{
	size_t i, n;

	if (name == NULL)
		return 0;
	n = strlen(name);
	if (n == 0 || n > PV_KEY_NAME_MAX || !isalnum((unsigned char)name[0]))
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!(isascii(c) && (isalnum(c) || c == '-' || c == '_')))
			return 0;
	}
	return 1;
}

const char *
pv_key_state_name(pv_key_state st)
{
	if (st < PV_STATE_NEXT || st > PV_STATE_RETIRED)
		return "unknown";
	return state_names[st];
}

pv_err
pv_key_state_from_name(const char *s, pv_key_state *out)
{
	int i;

	for (i = PV_STATE_NEXT; i <= PV_STATE_RETIRED; i++) {
		if (strcmp(s, state_names[i]) == 0) {
			*out = (pv_key_state)i;
			return PV_OK;
		}
	}
	return PV_ERR_BAD_INPUT;
}

static const char *const usage_names[] = {
    [PV_USAGE_SIGN] = "sign",
    [PV_USAGE_DECRYPT] = "decrypt",
};

const char *
pv_key_usage_name(pv_key_usage u)
{
	if (u > PV_USAGE_DECRYPT)
		return "unknown";
	return usage_names[u];
}

pv_err
pv_key_usage_from_name(const char *s, pv_key_usage *out)
{
	int i;

	for (i = PV_USAGE_SIGN; i <= PV_USAGE_DECRYPT; i++) {
		if (strcmp(s, usage_names[i]) == 0) {
			*out = (pv_key_usage)i;
			return PV_OK;
		}
	}
	return PV_ERR_BAD_INPUT;
}

int
pv_key_usage_valid(pv_alg alg, pv_key_usage u)
{
	const struct pv_alg_info *ai = pv_alg_info(alg);

	if (ai == NULL)
		return 0;
	switch (u) {
	case PV_USAGE_SIGN:
		return 1;
	case PV_USAGE_DECRYPT:
		return ai->family == PV_FAMILY_RSA;
	}
	return 0;
}

const char *
pv_key_usage_label(pv_alg alg, pv_key_usage u)
{
	const struct pv_alg_info *ai = pv_alg_info(alg);

	if (ai != NULL && ai->family == PV_FAMILY_AES)
		return "wrap";
	return pv_key_usage_name(u);
}

static const char *const purpose_names[PV_PURPOSE_COUNT] = {
    [PV_PURPOSE_NONE] = "none",     [PV_PURPOSE_JWT] = "jwt",         [PV_PURPOSE_SIGN] = "sign",
    [PV_PURPOSE_SOLANA] = "solana", [PV_PURPOSE_EVM] = "evm",         [PV_PURPOSE_AUDIT] = "audit",
    [PV_PURPOSE_WRAP] = "wrap",     [PV_PURPOSE_DECRYPT] = "decrypt", [PV_PURPOSE_DERIVE] = "derive",
};

const char *
pv_key_purpose_name(pv_key_purpose p)
{
	if ((unsigned)p >= PV_PURPOSE_COUNT)
		return "unknown";
	return purpose_names[p];
}

pv_err
pv_key_purpose_from_name(const char *s, pv_key_purpose *out)
{
	int i;

	for (i = PV_PURPOSE_NONE + 1; s != NULL && i < PV_PURPOSE_COUNT; i++) {
		if (strcmp(s, purpose_names[i]) == 0) {
			*out = (pv_key_purpose)i;
			return PV_OK;
		}
	}
	return PV_ERR_NOT_FOUND;
}

int
pv_key_purpose_fits(pv_alg alg, pv_key_purpose p)
{
	const struct pv_alg_info *ai = pv_alg_info(alg);

	if (ai == NULL)
		return 0;
	switch (p) {
	case PV_PURPOSE_JWT:
		/* every JWS algorithm p11vault issues with (jose/jwt.h) */
		return ai->family == PV_FAMILY_EC || ai->family == PV_FAMILY_EDDSA ||
		       ai->family == PV_FAMILY_RSA;
	case PV_PURPOSE_SIGN:
		return ai->family != PV_FAMILY_AES;
	case PV_PURPOSE_SOLANA:
		return alg == PV_ALG_ED25519;
	case PV_PURPOSE_EVM:
		return alg == PV_ALG_SECP256K1;
	case PV_PURPOSE_AUDIT:
		return alg == PV_ALG_HMAC_SHA256;
	case PV_PURPOSE_WRAP:
		return ai->family == PV_FAMILY_AES;
	case PV_PURPOSE_DECRYPT:
		return ai->family == PV_FAMILY_RSA;
	case PV_PURPOSE_DERIVE:
		/* HMAC-SHA256 derivation; ECDH with a P-256 key */
		return alg == PV_ALG_HMAC_SHA256 || alg == PV_ALG_P256;
	case PV_PURPOSE_NONE:
	case PV_PURPOSE_COUNT:
		break;
	}
	return 0;
}

void
pv_key_purposes_for(pv_alg alg, char *buf, size_t len)
{
	pv_purposes_text(alg, pv_key_purpose_fits, buf, len);
}

void
pv_purposes_text(pv_alg alg, int (*fits)(pv_alg, pv_key_purpose), char *buf, size_t len)
{
	size_t used = 0;
	int i, n;

	if (len == 0)
		return;
	buf[0] = '\0';
	for (i = PV_PURPOSE_NONE + 1; i < PV_PURPOSE_COUNT; i++) {
		if (!fits(alg, (pv_key_purpose)i))
			continue;
		n = snprintf(buf + used, len - used, "%s%s", used > 0 ? ", " : "", purpose_names[i]);
		if (n < 0 || (size_t)n >= len - used) {
			buf[used] = '\0'; /* whole names only */
			return;
		}
		used += (size_t)n;
	}
}

pv_key_usage
pv_key_purpose_usage(pv_key_purpose p)
{
	return p == PV_PURPOSE_DECRYPT ? PV_USAGE_DECRYPT : PV_USAGE_SIGN;
}

pv_err
pv_purpose_check(const char *name, pv_key_purpose have, pv_key_purpose want)
{
	if (have == want && have != PV_PURPOSE_NONE)
		return PV_OK;
	if (have == PV_PURPOSE_NONE)
		pv_err_set_detail("key '%s' has no purpose (made by an earlier version); give it one with "
				  "`vaultctl key set-purpose %s PURPOSE`",
				  name, name);
	else
		pv_err_set_detail("key '%s' has purpose %s; this needs a key of purpose %s", name,
				  pv_key_purpose_name(have), pv_key_purpose_name(want));
	return PV_ERR_PURPOSE;
}

pv_err
pv_key_check_purpose(const struct pv_key *key, pv_key_purpose want)
{
	return pv_purpose_check(key->name, key->purpose, want);
}

pv_err
pv_key_check_enabled(const struct pv_key *key)
{
	char when[32] = "";

	if (key->delete_at != 0) {
		if (pv_key_time_text(key->delete_at, when, sizeof(when)) != PV_OK)
			snprintf(when, sizeof(when), "?");
		pv_err_set_detail("key '%s' is disabled and scheduled for deletion at %s (vaultctl key "
				  "cancel-delete %s)",
				  key->name, when, key->name);
		return PV_ERR_STATE;
	}
	if (key->disabled != 0) {
		pv_err_set_detail("key '%s' is disabled (vaultctl key enable %s)", key->name, key->name);
		return PV_ERR_STATE;
	}
	return PV_OK;
}

/* An offset within +-100 years, or 0 (not an integer, out of range). */
static int
clock_offset(const char *s, int64_t *out)
{
	long long off;
	char *end = NULL;

	errno = 0;
	off = strtoll(s, &end, 10);
	if (errno != 0 || end == s || off > 3155760000LL || off < -3155760000LL)
		return 0;
	while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')
		end++;
	if (*end != '\0')
		return 0;
	*out = (int64_t)off;
	return 1;
}

/* The offset in the file P11VAULT_TEST_CLOCK_FILE names (read every call). */
static int
clock_file_offset(const char *path, int64_t *out)
{
	char buf[64];
	size_t n;
	FILE *f;

	if ((f = fopen(path, "re")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return n > 0 && clock_offset(buf, out);
}

int64_t
pv_key_clock_now(void)
{
	const char *file = getenv("P11VAULT_TEST_CLOCK_FILE");
	const char *s = getenv("P11VAULT_TEST_CLOCK_OFFSET");
	int64_t off = 0;

	if (file != NULL && *file != '\0' && clock_file_offset(file, &off))
		return (int64_t)time(NULL) + off;
	if (s != NULL && *s != '\0' && clock_offset(s, &off))
		return (int64_t)time(NULL) + off;
	return (int64_t)time(NULL);
}

int
pv_key_delete_due(const struct pv_key *key, int64_t now)
{
	return key->delete_at != 0 && key->delete_at <= now;
}

void
pv_key_free(struct pv_key *key)
{
	if (key == NULL)
		return;
	free(key->versions);
	free(key);
}

pv_err
pv_key_dup(const struct pv_key *key, struct pv_key **out)
{
	struct pv_key *k = NULL;
	pv_err r = PV_ERR_NOMEM;

	*out = NULL;
	if ((k = calloc(1, sizeof(*k))) == NULL)
		goto out;
	*k = *key;
	k->versions = NULL;
	if (key->nversions > 0) {
		if ((k->versions = calloc(key->nversions, sizeof(*k->versions))) == NULL)
			goto out;
		memcpy(k->versions, key->versions, key->nversions * sizeof(*k->versions));
	}
	*out = k;
	k = NULL;
	r = PV_OK;
out:
	pv_key_free(k);
	return r;
}

struct pv_key_version *
pv_key_find_version(const struct pv_key *key, unsigned version)
{
	size_t i;

	for (i = 0; i < key->nversions; i++) {
		if (key->versions[i].version == version)
			return &key->versions[i];
	}
	return NULL;
}

struct pv_key_version *
pv_key_active(const struct pv_key *key)
{
	size_t i;

	for (i = 0; i < key->nversions; i++) {
		if (key->versions[i].state == PV_STATE_ACTIVE)
			return &key->versions[i];
	}
	return NULL;
}

pv_err
pv_key_add_version(struct pv_key *key, pv_key_state st, const uint8_t *id, size_t id_len, int adopted,
		   struct pv_key_version **out)
{
	struct pv_key_version *nv = NULL, *v;
	unsigned next = 1;

	*out = NULL;
	if (id_len == 0 || id_len > PV_KEY_ID_MAX)
		return PV_ERR_USAGE;
	if (key->nversions >= PV_KEY_VERSIONS_MAX)
		return PV_ERR_TOO_LARGE;
	if (key->nversions > 0)
		next = key->versions[key->nversions - 1].version + 1;
	if ((nv = reallocarray(key->versions, key->nversions + 1, sizeof(*nv))) == NULL)
		return PV_ERR_NOMEM;
	key->versions = nv;
	v = &key->versions[key->nversions++];
	memset(v, 0, sizeof(*v));
	v->version = next;
	v->state = st;
	memcpy(v->id, id, id_len);
	v->id_len = id_len;
	v->created = pv_key_clock_now();
	if (st == PV_STATE_ACTIVE)
		v->activated = v->created;
	v->adopted = adopted;
	*out = v;
	return PV_OK;
}

/* ---- JSON <-> struct ---- */

pv_err
pv_key_time_text(int64_t t, char *buf, size_t len)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return PV_ERR_INTERNAL;
	return PV_OK;
}

pv_err
pv_key_schedule_check(const struct pv_key_schedule *s)
{
	if (s->every < PV_SCHEDULE_MIN || s->every > PV_SCHEDULE_MAX) {
		pv_err_set_detail("a schedule's period must be from %d seconds to 10 years", PV_SCHEDULE_MIN);
		return PV_ERR_USAGE;
	}
	if (s->publish_ahead < 0 || s->publish_ahead >= s->every) {
		pv_err_set_detail("publish-ahead must be shorter than the period (every)");
		return PV_ERR_USAGE;
	}
	if (s->retire_after < 0 || s->retire_after > PV_SCHEDULE_MAX) {
		pv_err_set_detail("retire-after must be from 0 seconds to 10 years");
		return PV_ERR_USAGE;
	}
	return PV_OK;
}

static pv_err
iso_to_time(const char *s, int64_t *out)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	/* from 1970 on: an earlier year would be written back in fewer than
	 * four digits (found by fuzz_keymeta) */
	if (strlen(s) != 20 || (end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm)) == NULL || *end != '\0' ||
	    tm.tm_year < 70)
		return PV_ERR_BAD_INPUT;
	*out = (int64_t)timegm(&tm);
	return PV_OK;
}

pv_err
pv_keymeta_serialize(const struct pv_key *key, char **out)
{
	cJSON *root = NULL, *arr = NULL, *o = NULL;
	char hex[PV_KEY_ID_MAX * 2 + 1], when[32];
	char *s = NULL;
	size_t i;
	pv_err r = PV_ERR_NOMEM;

	*out = NULL;
	if ((root = cJSON_CreateObject()) == NULL)
		goto out;
	if (!cJSON_AddNumberToObject(root, "format", PV_KEYMETA_FORMAT) ||
	    !cJSON_AddStringToObject(root, "name", key->name) ||
	    !cJSON_AddStringToObject(root, "alg", pv_alg_info(key->alg)->name))
		goto out;
	/* the default is left out: metadata written before usages existed and
	 * metadata of signing keys stay byte-identical */
	if (key->usage != PV_USAGE_SIGN &&
	    !cJSON_AddStringToObject(root, "usage", pv_key_usage_name(key->usage)))
		goto out;
	if (key->purpose != PV_PURPOSE_NONE &&
	    !cJSON_AddStringToObject(root, "purpose", pv_key_purpose_name(key->purpose)))
		goto out;
	if (!cJSON_AddNumberToObject(root, "serial", (double)key->serial))
		goto out;
	/* left out while unset, like usage and purpose */
	if (key->disabled != 0) {
		if ((r = pv_key_time_text(key->disabled, when, sizeof(when))) != PV_OK)
			goto out;
		r = PV_ERR_NOMEM;
		if (!cJSON_AddStringToObject(root, "disabled", when))
			goto out;
	}
	if (key->delete_at != 0) {
		if ((r = pv_key_time_text(key->delete_at, when, sizeof(when))) != PV_OK)
			goto out;
		r = PV_ERR_NOMEM;
		if (!cJSON_AddStringToObject(root, "delete_at", when))
			goto out;
	}
	if (key->schedule.every != 0) {
		cJSON *sch;

		if ((sch = cJSON_AddObjectToObject(root, "schedule")) == NULL ||
		    !cJSON_AddNumberToObject(sch, "every", (double)key->schedule.every) ||
		    !cJSON_AddNumberToObject(sch, "publish_ahead", (double)key->schedule.publish_ahead) ||
		    !cJSON_AddNumberToObject(sch, "retire_after", (double)key->schedule.retire_after))
			goto out;
	}
	if ((arr = cJSON_AddArrayToObject(root, "versions")) == NULL)
		goto out;
	for (i = 0; i < key->nversions; i++) {
		const struct pv_key_version *v = &key->versions[i];

		if ((o = cJSON_CreateObject()) == NULL)
			goto out;
		if (!cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			goto out;
		}
		sodium_bin2hex(hex, sizeof(hex), v->id, v->id_len);
		if ((r = pv_key_time_text(v->created, when, sizeof(when))) != PV_OK)
			goto out;
		r = PV_ERR_NOMEM;
		if (!cJSON_AddNumberToObject(o, "version", v->version) ||
		    !cJSON_AddStringToObject(o, "state", pv_key_state_name(v->state)) ||
		    !cJSON_AddStringToObject(o, "id", hex) || !cJSON_AddStringToObject(o, "created", when) ||
		    !cJSON_AddStringToObject(o, "origin", v->adopted ? "adopted" : "generated"))
			goto out;
		/* left out while unknown, and for a key without a schedule (the
		 * only reader of these times): metadata stays byte-identical for
		 * readers older than schedules, which refuse unknown members */
		if (key->schedule.every == 0)
			continue;
		if (v->activated != 0) {
			if ((r = pv_key_time_text(v->activated, when, sizeof(when))) != PV_OK)
				goto out;
			r = PV_ERR_NOMEM;
			if (!cJSON_AddStringToObject(o, "activated", when))
				goto out;
		}
		if (v->demoted != 0) {
			if ((r = pv_key_time_text(v->demoted, when, sizeof(when))) != PV_OK)
				goto out;
			r = PV_ERR_NOMEM;
			if (!cJSON_AddStringToObject(o, "demoted", when))
				goto out;
		}
	}
	if ((s = cJSON_PrintUnformatted(root)) == NULL)
		goto out;
	*out = s;
	r = PV_OK;
out:
	cJSON_Delete(root);
	return r;
}

/* What a metadata object and a version may hold (the reader refuses others). */
static const char *const meta_members[] = {"format",   "name",     "alg",      "usage",
					   "purpose",  "serial",   "disabled", "delete_at",
					   "schedule", "versions", NULL};
static const char *const version_members[] = {"version", "state",     "id",      "created",
					      "origin",  "activated", "demoted", NULL};
static const char *const schedule_members[] = {"every", "publish_ahead", "retire_after", NULL};
static const char *const origin_names[] = {"generated", "adopted", NULL};

static pv_err
parse_version(const pv_jv *o, struct pv_key_version *v)
{
	const char *state = NULL, *created = NULL, *activated = NULL, *demoted = NULL;
	uint8_t *id = NULL;
	int64_t n = 0;
	int origin = -1;
	pv_err r;

	if ((r = pv_json_as_object(o, PV_JSON_REQUIRED, version_members)) != PV_OK ||
	    (r = pv_json_int(o, "version", PV_JSON_REQUIRED, 1, PV_KEY_VERSIONS_MAX * 1000, &n)) != PV_OK ||
	    (r = pv_json_string(o, "state", PV_JSON_REQUIRED, 32, &state)) != PV_OK ||
	    (r = pv_json_bytes(o, "id", PV_JSON_REQUIRED, &pv_hex_enc, 1, PV_KEY_ID_MAX, &id, &v->id_len)) !=
		PV_OK ||
	    (r = pv_json_string(o, "created", PV_JSON_REQUIRED, 32, &created)) != PV_OK ||
	    (r = pv_json_enum(o, "origin", PV_JSON_REQUIRED, origin_names, &origin)) != PV_OK ||
	    (r = pv_json_string(o, "activated", 0, 32, &activated)) != PV_OK ||
	    (r = pv_json_string(o, "demoted", 0, 32, &demoted)) != PV_OK)
		goto out;
	v->version = (unsigned)n;
	memcpy(v->id, id, v->id_len);
	v->adopted = origin == 1;
	if (pv_key_state_from_name(state, &v->state) != PV_OK)
		r = pv_json_fail_at(o, "state", "not a key state");
	else if (iso_to_time(created, &v->created) != PV_OK)
		r = pv_json_fail_at(o, "created", "not YYYY-MM-DDTHH:MM:SSZ");
	/* 1970-01-01T00:00:00Z would be written back as absent */
	else if (activated != NULL && (iso_to_time(activated, &v->activated) != PV_OK || v->activated == 0))
		r = pv_json_fail_at(o, "activated", "not YYYY-MM-DDTHH:MM:SSZ");
	else if (demoted != NULL && (iso_to_time(demoted, &v->demoted) != PV_OK || v->demoted == 0))
		r = pv_json_fail_at(o, "demoted", "not YYYY-MM-DDTHH:MM:SSZ");
out:
	free(id);
	return r;
}

/* Optional (absent: a key from before purposes); when present it must fit
 * the algorithm and agree with the usage. */
static pv_err
parse_purpose(const pv_jv *root, struct pv_key *k)
{
	const char *purpose = NULL;
	pv_err r;

	k->purpose = PV_PURPOSE_NONE;
	if ((r = pv_json_string(root, "purpose", 0, 32, &purpose)) != PV_OK || purpose == NULL)
		return r;
	if (pv_key_purpose_from_name(purpose, &k->purpose) != PV_OK)
		return pv_json_fail_at(root, "purpose", "not a key purpose");
	if (!pv_key_purpose_fits(k->alg, k->purpose) || pv_key_purpose_usage(k->purpose) != k->usage)
		return pv_json_fail_at(root, "purpose", "does not fit the algorithm and usage");
	return PV_OK;
}

/* Optional "disabled" and "delete_at" (a scheduled key is a disabled one). */
static pv_err
parse_service(const pv_jv *root, struct pv_key *k)
{
	const char *disabled = NULL, *del = NULL;
	pv_err r;

	if ((r = pv_json_string(root, "disabled", 0, 32, &disabled)) != PV_OK ||
	    (r = pv_json_string(root, "delete_at", 0, 32, &del)) != PV_OK)
		return r;
	if (disabled != NULL && (iso_to_time(disabled, &k->disabled) != PV_OK || k->disabled == 0))
		return pv_json_fail_at(root, "disabled", "not YYYY-MM-DDTHH:MM:SSZ");
	if (del != NULL && (iso_to_time(del, &k->delete_at) != PV_OK || k->delete_at == 0))
		return pv_json_fail_at(root, "delete_at", "not YYYY-MM-DDTHH:MM:SSZ");
	if (del != NULL && disabled == NULL)
		return pv_json_fail_at(root, "delete_at", "a key scheduled for deletion must be disabled");
	return PV_OK;
}

/* Optional "schedule": all three members, a schedule pv_key_schedule_check
 * accepts. */
static pv_err
parse_schedule(const pv_jv *root, struct pv_key *k)
{
	struct pv_key_schedule s = {0, 0, 0};
	pv_jv o;
	pv_err r;

	if ((r = pv_json_object(root, "schedule", 0, schedule_members, &o)) != PV_OK || o.j == NULL)
		return r;
	if ((r = pv_json_int(&o, "every", PV_JSON_REQUIRED, 0, PV_SCHEDULE_MAX, &s.every)) != PV_OK ||
	    (r = pv_json_int(&o, "publish_ahead", PV_JSON_REQUIRED, 0, PV_SCHEDULE_MAX, &s.publish_ahead)) !=
		PV_OK ||
	    (r = pv_json_int(&o, "retire_after", PV_JSON_REQUIRED, 0, PV_SCHEDULE_MAX, &s.retire_after)) !=
		PV_OK)
		return r;
	if (pv_key_schedule_check(&s) != PV_OK) {
		char why[128];

		snprintf(why, sizeof(why), "%s", pv_err_detail());
		return pv_json_fail_at(root, "schedule", "not a schedule (%s)", why);
	}
	k->schedule = s;
	return PV_OK;
}

static pv_err
parse_meta(const pv_jv *root, struct pv_key *k)
{
	const char *name = NULL, *alg = NULL, *usage = NULL;
	pv_jv arr, it;
	int64_t n = 0;
	size_t count = 0, i = 0, active = 0;
	pv_err r;

	if ((r = pv_json_as_object(root, PV_JSON_REQUIRED, meta_members)) != PV_OK ||
	    (r = pv_json_int(root, "format", PV_JSON_REQUIRED, 1, 1000, &n)) != PV_OK)
		return r;
	if (n != PV_KEYMETA_FORMAT)
		return pv_json_fail_at(root, "format", "format %lld is not %d", (long long)n,
				       PV_KEYMETA_FORMAT);
	if ((r = pv_json_string(root, "name", PV_JSON_REQUIRED, PV_KEY_NAME_MAX, &name)) != PV_OK ||
	    (r = pv_json_string(root, "alg", PV_JSON_REQUIRED, 32, &alg)) != PV_OK ||
	    (r = pv_json_string(root, "usage", 0, 32, &usage)) != PV_OK)
		return r;
	if (!pv_key_name_valid(name))
		return pv_json_fail_at(root, "name", "not a key name");
	memcpy(k->name, name, strlen(name) + 1);
	if ((k->alg = pv_alg_from_name(alg)) == PV_ALG_NONE)
		return pv_json_fail_at(root, "alg", "not an algorithm");
	/* optional; when present it must be a usage this algorithm can have */
	k->usage = PV_USAGE_SIGN;
	if (usage != NULL &&
	    (pv_key_usage_from_name(usage, &k->usage) != PV_OK || !pv_key_usage_valid(k->alg, k->usage)))
		return pv_json_fail_at(root, "usage", "not a usage of this algorithm");
	if ((r = parse_purpose(root, k)) != PV_OK ||
	    (r = pv_json_int(root, "serial", PV_JSON_REQUIRED, 0, PV_JSON_INT_MAX, &n)) != PV_OK)
		return r;
	k->serial = (uint64_t)n;
	if ((r = parse_service(root, k)) != PV_OK || (r = parse_schedule(root, k)) != PV_OK)
		return r;
	if ((r = pv_json_array(root, "versions", PV_JSON_REQUIRED | PV_JSON_NONEMPTY, PV_KEY_VERSIONS_MAX,
			       &arr, &count)) != PV_OK)
		return r;
	if ((k->versions = calloc(count, sizeof(*k->versions))) == NULL)
		return PV_ERR_NOMEM;
	for (it = pv_json_first(&arr); it.j != NULL; pv_json_next(&it), i++) {
		if ((r = parse_version(&it, &k->versions[i])) != PV_OK)
			return r;
		/* strictly ascending version numbers: no duplicates */
		if (i > 0 && k->versions[i].version <= k->versions[i - 1].version)
			return pv_json_fail_at(&it, "version", "versions are not in ascending order");
		if (k->versions[i].state == PV_STATE_ACTIVE && ++active > 1)
			return pv_json_fail_at(&it, "state", "a second active version");
	}
	k->nversions = count;
	return PV_OK;
}

pv_err
pv_keymeta_parse(const uint8_t *json, size_t len, struct pv_key **out)
{
	cJSON *tree = NULL;
	struct pv_key *k = NULL;
	char why[256] = "";
	pv_jv root;
	pv_err r;

	*out = NULL;
	if (len > PV_KEYMETA_MAX_BYTES) {
		snprintf(why, sizeof(why), "larger than %d bytes", PV_KEYMETA_MAX_BYTES);
		r = PV_ERR_INTEGRITY;
		goto out;
	}
	if ((r = pv_json_parse(json, len, "key metadata", PV_JSON_DEPTH_MAX, &tree)) != PV_OK)
		goto out;
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	root = pv_json_root(tree, "key metadata");
	if ((r = parse_meta(&root, k)) != PV_OK)
		goto out;
	*out = k;
	k = NULL;
out:
	if (r == PV_ERR_BAD_INPUT) {
		snprintf(why, sizeof(why), "%s", pv_err_detail());
		r = PV_ERR_INTEGRITY;
	}
	if (r == PV_ERR_INTEGRITY)
		pv_err_set_detail("key metadata on the token is malformed (%s)", why);
	cJSON_Delete(tree);
	pv_key_free(k);
	return r;
}
