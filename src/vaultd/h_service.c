/* GET /v1/health, GET /v1/ready, GET /metrics, POST /v1/admin/reload. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "vaultd/handlers.h"
#include "vaultd/metrics.h"

void
vd_h_health(struct vd_ctx *c)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL || cJSON_AddStringToObject(o, "status", "ok") == NULL)
		vd_fail(c, PV_ERR_NOMEM);
	else
		vd_ok(c, o);
	cJSON_Delete(o);
}

/* The bundle version as a JSON value: null when no bundle is loaded. */
static cJSON *
bundle_version(const struct vd_gen *g)
{
	uint64_t v = g != NULL && g->secrets != NULL ? vd_secrets_bundle_version(g->secrets) : 0;

	return v != 0 ? cJSON_CreateNumber((double)v) : cJSON_CreateNull();
}

void
vd_h_ready(struct vd_ctx *c)
{
	struct p11_token_stats st;
	cJSON *o = NULL, *v = NULL;
	const char *label;

	if (c->gen == NULL || c->d->keeper == NULL || !atomic_load(&c->d->ready)) {
		vd_reply_error(c->resp, 503, "not_ready", "vaultd is not ready");
		return;
	}
	vd_keeper_stats(c->d->keeper, &st);
	if (st.down) {
		vd_reply_error(
		    c->resp, 503, "token_unavailable",
		    "the token is unavailable (an outage is in progress); vaultd re-finds it by its "
		    "URI and is ready again when it is back");
		c->resp->retry_after = 1;
		return;
	}
	label = vd_keeper_token_label(c->d->keeper);
	if ((o = cJSON_CreateObject()) == NULL || cJSON_AddStringToObject(o, "status", "ready") == NULL ||
	    cJSON_AddStringToObject(o, "token", label != NULL ? label : "") == NULL ||
	    (v = bundle_version(c->gen)) == NULL || !cJSON_AddItemToObject(o, "bundle_version", v)) {
		cJSON_Delete(v);
		vd_fail(c, PV_ERR_NOMEM);
		goto out;
	}
	vd_ok(c, o);
out:
	cJSON_Delete(o);
}

void
vd_h_metrics(struct vd_ctx *c)
{
	struct p11_token_stats st;
	char *text = NULL;
	size_t len = 0;
	pv_err r;

	if (c->d->metrics == NULL) {
		vd_fail(c, PV_ERR_INTERNAL);
		return;
	}
	memset(&st, 0, sizeof(st));
	if (c->d->keeper != NULL)
		vd_keeper_stats(c->d->keeper, &st);
	if ((r = vd_metrics_render(c->d->metrics, &st, &text, &len)) != PV_OK) {
		vd_fail(c, r);
		return;
	}
	vd_resp_wipe(c->resp);
	c->resp->status = 200;
	c->resp->body = text;
	c->resp->body_len = len;
	c->resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

void
vd_h_reload(struct vd_ctx *c)
{
	static const char *const members[] = {NULL};
	struct vd_err_map m;
	struct vd_gen *g = NULL;
	cJSON *o = NULL;
	vd_rj *rj = NULL;
	pv_err r;

	if (vd_body(c, members, 1, &rj) != PV_OK)
		return;
	vd_rj_free(rj);
	if (c->d->config_path == NULL) {
		vd_reply_error(c->resp, 400, "bad_request", "no configuration file to reload (--dev)");
		return;
	}
	pv_err_clear_detail();
	if ((r = vd_reload(c->d)) != PV_OK) {
		vd_err_map(r, &m);
		if (m.token) {
			vd_fail(c, r);
		} else {
			const char *detail = pv_err_detail();

			vd_reply_error(c->resp, 400, "bad_request",
				       detail[0] != '\0' ? detail : pv_strerror(r));
		}
		return;
	}
	g = vd_gen_acquire(c->d);
	if ((o = cJSON_CreateObject()) == NULL || cJSON_AddStringToObject(o, "status", "reloaded") == NULL ||
	    cJSON_AddNumberToObject(o, "generation", g != NULL ? (double)g->number : 0) == NULL)
		vd_fail(c, PV_ERR_NOMEM);
	else
		vd_ok(c, o);
	cJSON_Delete(o);
	if (g != NULL)
		vd_gen_release(g);
}
