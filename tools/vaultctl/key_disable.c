/* vaultctl key disable NAME [--vaultd-config FILE] */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "config/vaultd_config.h"
#include "keyargs.h"
#include "subcommands.h"

#define USAGE "key disable NAME [--vaultd-config FILE]"

/*
 * A key of purpose audit may be vaultd's checkpoint key: taken out of
 * service, every audited request would fail. Such a key is changed only when
 * vaultd's configuration (cfg_path) is given and names another key.
 */
int
key_audit_guard(struct vctl *c, pv_keystore *ks, const char *name, const char *cfg_path)
{
	struct pv_key *key = NULL;
	struct pv_config *cfg = NULL;
	int rc = -1;
	pv_err r;

	if ((r = pv_keys_get(ks, name, &key)) != PV_OK)
		return vctl_fail(c, r, "%s '%s'", c->cmd, name);
	if (key->purpose != PV_PURPOSE_AUDIT)
		goto out;
	if (cfg_path == NULL) {
		pv_err_set_detail(
		    "key '%s' has purpose audit and may be vaultd's audit.hmac_key; name vaultd's "
		    "configuration with --vaultd-config FILE",
		    name);
		rc = vctl_fail(c, PV_ERR_STATE, "%s '%s'", c->cmd, name);
		goto out;
	}
	if ((r = pv_config_load(cfg_path, &cfg)) != PV_OK) {
		rc = vctl_fail(c, r, "%s '%s': reading %s", c->cmd, name, cfg_path);
		goto out;
	}
	if (cfg->audit.hmac_key != NULL && strcmp(cfg->audit.hmac_key, name) == 0) {
		pv_err_set_detail(
		    "key '%s' is vaultd's audit.hmac_key in %s; rotate it instead (docs/audit.md)", name,
		    cfg_path);
		rc = vctl_fail(c, PV_ERR_STATE, "%s '%s'", c->cmd, name);
	}
out:
	pv_config_free(cfg);
	pv_key_free(key);
	return rc;
}

int
key_service_parse(struct vctl *c, int argc, char *argv[], const char *usage, const char **cfg_path,
		  const char **name)
{
	static const struct option opts[] = {
	    {"vaultd-config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			if (cfg_path == NULL)
				return vctl_usage(c, usage, "--vaultd-config is not an option here");
			*cfg_path = optarg;
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
	*name = argv[optind];
	return -1;
}

int
key_service_result(struct vctl *c, const char *name, const char *state, const char *text)
{
	cJSON *doc;

	if (c->json) {
		if ((doc = cJSON_CreateObject()) == NULL)
			return vctl_fail(c, PV_ERR_NOMEM, "%s", c->cmd);
		cJSON_AddStringToObject(doc, "name", name);
		cJSON_AddStringToObject(doc, "state", state);
		return vctl_print_json(doc);
	}
	printf("%s\n", text);
	return 0;
}

int
key_disable_main(struct vctl *c, int argc, char *argv[])
{
	const char *name = NULL, *cfg_path = NULL;
	pv_keystore *ks = NULL;
	char text[256];
	int rc, changed = 0;
	pv_err r;

	if ((rc = key_service_parse(c, argc, argv, USAGE, &cfg_path, &name)) >= 0)
		return rc;
	if ((r = vctl_keystore(c, &ks)) != PV_OK)
		return vctl_fail(c, r, "key disable '%s'", name);
	if ((rc = key_audit_guard(c, ks, name, cfg_path)) >= 0)
		return rc;
	if ((r = pv_keys_disable(ks, name, &changed)) != PV_OK)
		return vctl_fail(c, r, "key disable '%s'", name);
	snprintf(
	    text, sizeof(text),
	    "key '%s' is %sdisabled: no version signs, decrypts, unwraps or derives (vaultctl key enable "
	    "%s)",
	    name, changed ? "" : "already ", name);
	return key_service_result(c, name, "disabled", text);
}
