/* vaultctl token info */
#include "config.h"

#include <getopt.h>
#include <stdio.h>

#include "subcommands.h"

#define USAGE "token info [--json]"

static const struct {
	CK_FLAGS flag;
	const char *name;
} token_flags[] = {
    {CKF_RNG, "rng"},
    {CKF_WRITE_PROTECTED, "write-protected"},
    {CKF_LOGIN_REQUIRED, "login-required"},
    {CKF_USER_PIN_INITIALIZED, "user-pin-initialized"},
    {CKF_PROTECTED_AUTHENTICATION_PATH, "protected-auth-path"},
    {CKF_TOKEN_INITIALIZED, "token-initialized"},
    {CKF_USER_PIN_COUNT_LOW, "user-pin-count-low"},
    {CKF_USER_PIN_FINAL_TRY, "user-pin-final-try"},
    {CKF_USER_PIN_LOCKED, "user-pin-locked"},
    {CKF_USER_PIN_TO_BE_CHANGED, "user-pin-to-be-changed"},
    {CKF_SO_PIN_LOCKED, "so-pin-locked"},
};

static cJSON *
info_json(const struct p11_token_info *i, const struct p11_token_stats *st)
{
	cJSON *o = cJSON_CreateObject(), *fl;
	char ver[32];
	size_t k;

	if (o == NULL)
		return NULL;
	cJSON_AddStringToObject(o, "label", i->label);
	cJSON_AddStringToObject(o, "manufacturer", i->manufacturer);
	cJSON_AddStringToObject(o, "model", i->model);
	cJSON_AddStringToObject(o, "serial", i->serial);
	cJSON_AddNumberToObject(o, "slot", (double)i->slot_id);
	cJSON_AddStringToObject(o, "module", i->module_path);
	cJSON_AddStringToObject(o, "library", i->library_description);
	snprintf(ver, sizeof(ver), "%u.%u", i->cryptoki_version.major, i->cryptoki_version.minor);
	cJSON_AddStringToObject(o, "cryptoki_version", ver);
	snprintf(ver, sizeof(ver), "%u.%u", i->fw_version.major, i->fw_version.minor);
	cJSON_AddStringToObject(o, "firmware_version", ver);
	if ((fl = cJSON_AddArrayToObject(o, "flags")) != NULL) {
		for (k = 0; k < PV_NELEM(token_flags); k++) {
			if (i->flags & token_flags[k].flag)
				cJSON_AddItemToArray(fl, cJSON_CreateString(token_flags[k].name));
		}
	}
	if (i->max_sessions == CK_EFFECTIVELY_INFINITE || i->max_sessions == CK_UNAVAILABLE_INFORMATION)
		cJSON_AddStringToObject(o, "max_sessions", "unlimited");
	else
		cJSON_AddNumberToObject(o, "max_sessions", (double)i->max_sessions);
	cJSON_AddNumberToObject(o, "pool_size", i->pool_size);
	cJSON_AddNumberToObject(o, "recoveries", (double)st->recoveries);
	return o;
}

int
token_info_main(struct vctl *c, int argc, char *argv[])
{
	static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	struct p11_token_info info;
	struct p11_token_stats st;
	p11_token *tok = NULL;
	cJSON *doc = NULL, *fl;
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
	if (optind != argc)
		return vctl_usage(c, USAGE, "unexpected argument '%s'", argv[optind]);
	if ((r = vctl_token(c, 0, &tok)) != PV_OK || (r = p11_token_get_info(tok, &info)) != PV_OK)
		return vctl_fail(c, r, "token info");
	p11_token_get_stats(tok, &st);
	if ((doc = info_json(&info, &st)) == NULL)
		return vctl_fail(c, PV_ERR_NOMEM, "token info");
	if (c->json)
		return vctl_print_json(doc);
	printf("token:         %s\nmanufacturer:  %s\nmodel:         %s\nserial:        %s\n", info.label,
	       info.manufacturer, info.model, info.serial);
	printf("slot:          %lu (%s)\nmodule:        %s (%s)\n", (unsigned long)info.slot_id,
	       info.slot_description, info.module_path, info.library_description);
	printf("flags:        ");
	fl = cJSON_GetObjectItem(doc, "flags");
	for (ch = 0; fl != NULL && ch < cJSON_GetArraySize(fl); ch++)
		printf(" %s", cJSON_GetArrayItem(fl, ch)->valuestring);
	if (info.max_sessions == CK_EFFECTIVELY_INFINITE || info.max_sessions == CK_UNAVAILABLE_INFORMATION)
		printf("\nsessions:      max unlimited, p11vault pool %u\n", info.pool_size);
	else
		printf("\nsessions:      max %lu, p11vault pool %u\n", (unsigned long)info.max_sessions,
		       info.pool_size);
	rc = 0;
	cJSON_Delete(doc);
	return rc;
}
