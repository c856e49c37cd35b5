/* GET /v1/secrets, GET /v1/secrets/{name}. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "base/secmem.h"
#include "core/b64.h"
#include "vaultd/handlers.h"

void
vd_h_secrets_list(struct vd_ctx *c)
{
	const struct vd_secrets *s = c->gen->secrets;
	struct vd_secret_info info;
	pv_policy_decision dec;
	pv_err r;
	uint64_t bv = s != NULL ? vd_secrets_bundle_version(s) : 0;
	cJSON *root = NULL, *arr = NULL, *e = NULL;
	size_t n = s != NULL ? vd_secrets_count(s) : 0, i;

	if ((root = cJSON_CreateObject()) == NULL ||
	    (bv != 0 ? cJSON_AddNumberToObject(root, "bundle_version", (double)bv)
		     : cJSON_AddNullToObject(root, "bundle_version")) == NULL ||
	    (arr = cJSON_AddArrayToObject(root, "secrets")) == NULL)
		goto nomem;
	for (i = 0; i < n; i++) {
		vd_secrets_info(s, i, &info);
		/* names only, and only those the client's rules cover (the
		 * keeper decides, per name) */
		r = vd_keeper_allow(c->d->keeper, c->gen, c->client, PV_OP_SECRETS_LIST, info.name, 0, &dec);
		if (r == PV_ERR_FORBIDDEN)
			continue;
		if (r != PV_OK) {
			cJSON_Delete(root);
			vd_fail(c, r);
			return;
		}
		if ((e = cJSON_CreateObject()) == NULL || !cJSON_AddItemToArray(arr, e)) {
			cJSON_Delete(e);
			goto nomem;
		}
		if (cJSON_AddStringToObject(e, "name", info.name) == NULL ||
		    cJSON_AddStringToObject(e, "kind", info.kind) == NULL ||
		    cJSON_AddStringToObject(e, "origin", info.origin) == NULL ||
		    cJSON_AddNumberToObject(e, "size", (double)info.size) == NULL)
			goto nomem;
	}
	vd_ok(c, root);
	cJSON_Delete(root);
	return;
nomem:
	cJSON_Delete(root);
	vd_fail(c, PV_ERR_NOMEM);
}

void
vd_h_secret_get(struct vd_ctx *c)
{
	const struct vd_secrets *s = c->gen->secrets;
	struct vd_secret_info info;
	const char *kind = NULL;
	pv_secret *value = NULL;
	char *b64 = NULL;
	cJSON *o = NULL;
	size_t n = s != NULL ? vd_secrets_count(s) : 0, i;
	pv_err r;

	for (i = 0; i < n && kind == NULL; i++) {
		vd_secrets_info(s, i, &info);
		if (strcmp(info.name, c->name) == 0)
			kind = info.kind;
	}
	if (kind == NULL) {
		vd_reply_errorf(c->resp, 404, "secret_not_found", "no secret named '%s'", c->name);
		return;
	}
	pv_err_clear_detail();
	if ((r = vd_secrets_get(s, c->name, &value)) != PV_OK) {
		if (r == PV_ERR_KEY_TYPE)
			vd_reply_error(c->resp, 403, "forbidden", "private-key entries are never released");
		else if (r == PV_ERR_NOT_FOUND)
			vd_reply_errorf(c->resp, 404, "secret_not_found", "no secret named '%s'", c->name);
		else
			vd_fail(c, r);
		return;
	}
	r = pv_b64_encode(pv_secret_ro(value), pv_secret_len(value), &b64);
	pv_secret_free(value);
	if (r != PV_OK) {
		vd_fail(c, r);
		return;
	}
	if ((o = cJSON_CreateObject()) == NULL || cJSON_AddStringToObject(o, "name", c->name) == NULL ||
	    cJSON_AddStringToObject(o, "kind", kind) == NULL ||
	    cJSON_AddStringToObject(o, "value_b64", b64) == NULL) {
		cJSON_Delete(o);
		vd_fail(c, PV_ERR_NOMEM);
	} else {
		vd_reply_json_secret(c->resp, 200, o);
	}
	pv_wipe(b64, strlen(b64));
	free(b64);
}
