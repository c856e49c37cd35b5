#include "config.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "audit/audit.h"
#include "base/buf.h"
#include "vaultd/handlers.h"
#include "vaultd/metrics.h"

#define VD_HANDLER_ROW(id, method, pattern, param, label, op, flags, handler) [VD_R_##id] = handler,
static vd_handler *const handlers[VD_R_COUNT] = {VD_ROUTES(VD_HANDLER_ROW)};
#undef VD_HANDLER_ROW

vd_handler *
vd_route_handler(enum vd_route_id id)
{
	return (unsigned)id < VD_R_COUNT ? handlers[id] : NULL;
}

void
vd_fail(struct vd_ctx *c, pv_err e)
{
	struct vd_err_map m;

	vd_err_map(e, &m);
	if (m.token && c->d->metrics != NULL)
		vd_metrics_token_error(c->d->metrics, e);
	vd_reply_pv_err(c->resp, e);
}

void
vd_fail_key(struct vd_ctx *c, pv_err e)
{
	if (e == PV_ERR_NOT_FOUND && c->name != NULL)
		vd_reply_errorf(c->resp, 404, "key_not_found", "no key named '%s'", c->name);
	else
		vd_fail(c, e);
}

void
vd_ok(struct vd_ctx *c, const cJSON *body)
{
	vd_reply_json(c->resp, 200, body);
}

pv_err
vd_body(struct vd_ctx *c, const char *const *members, int allow_empty, vd_rj **out)
{
	pv_buf *b = NULL;
	pv_err r;

	*out = NULL;
	if ((r = pv_buf_view(c->req->body, c->req->body != NULL ? c->req->body_len : 0, &b)) != PV_OK) {
		vd_fail(c, r);
		return r;
	}
	pv_err_clear_detail();
	r = vd_rj_parse(b, members, allow_empty, out);
	pv_buf_free(b);
	if (r != PV_OK)
		vd_fail(c, r);
	return r;
}

void
vd_kreq(struct vd_ctx *c, enum vd_use use, struct vd_kreq *q)
{
	vd_kreq_init(q, c->gen, c->client, use, c->name);
}

pv_err
vd_key(struct vd_ctx *c, enum vd_use use, struct vd_kreq *q, struct pv_key **key)
{
	pv_err r;

	vd_kreq(c, use, q);
	pv_err_clear_detail();
	r = vd_keeper_key(c->d->keeper, q, key, NULL);
	/* a key of another purpose exists; a forbidden one is not told */
	if (r == PV_OK || r == PV_ERR_PURPOSE)
		c->key_exists = 1;
	if (r != PV_OK)
		vd_fail_key(c, r);
	return r;
}

static double
seconds_since(const struct timespec *start, const struct timespec *now)
{
	double s = (double)(now->tv_sec - start->tv_sec) + (double)(now->tv_nsec - start->tv_nsec) / 1e9;

	return s > 0 ? s : 0;
}

static pv_audit_outcome
outcome_of(unsigned status)
{
	if (status < 400)
		return PV_AUDIT_OK;
	if (status == 401 || status == 403 || status == 429)
		return PV_AUDIT_DENIED;
	return PV_AUDIT_ERROR;
}

/* 1 while the audit log cannot be written: said once when it starts and
 * once when it ends, not per request. */
static atomic_int audit_down;

static void
audit_state(int down, pv_err e)
{
	if (atomic_exchange(&audit_down, down) == down)
		return;
	if (down)
		fprintf(stderr, "vaultd: audit log: cannot write (%s%s%s): requests get 503 until it can\n",
			pv_strerror(e), pv_err_detail()[0] != '\0' ? ": " : "", pv_err_detail());
	else
		fprintf(stderr, "vaultd: audit log: writing again\n");
}

/* Failed authentications a peer may make per PV_AUDIT_AUTH_INTERVAL
 * before it gets 429 instead of 401 (docs/api.md §2). */
#define AUTH_FAILURES_PER_INTERVAL 20

/* Who failed to authenticate: the peer uid, the certificate, or a TCP
 * client without one (docs/audit.md §5). */
static void
peer_of(const struct pv_peer *p, char *out, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o;

	if (p->has_uid) {
		snprintf(out, n, "uid:%u", (unsigned)p->uid);
	} else if (p->has_cert && n >= 5 + 2 * sizeof(p->cert_sha256) + 1) {
		memcpy(out, "cert:", 5);
		for (i = 0, o = 5; i < sizeof(p->cert_sha256); i++) {
			out[o++] = hex[p->cert_sha256[i] >> 4];
			out[o++] = hex[p->cert_sha256[i] & 15];
		}
		out[o] = '\0';
	} else
		snprintf(out, n, "tcp");
}

/* A 401: aggregated per peer in the log, and 429 past the limit. */
static pv_err
audit_auth_failure(struct vd_ctx *c, const struct pv_audit_rec *rec)
{
	char peer[PV_AUDIT_PEER_MAX + 1];
	struct pv_audit_rec named = *rec;
	unsigned recent = 0;
	pv_err e;

	peer_of(&c->req->peer, peer, sizeof(peer));
	named.client = peer; /* no client matched: the peer says who it was */
	if ((e = pv_audit_auth_failure(c->d->audit, &named, peer, &recent)) == PV_OK &&
	    recent > AUTH_FAILURES_PER_INTERVAL) {
		vd_reply_error(c->resp, 429, "rate_limited", "too many failed authentications");
		c->resp->retry_after = PV_AUDIT_AUTH_INTERVAL;
	}
	return e;
}

/* GET /v1/health, and GET /v1/ready while the audit log is writable. */
static int
probe_unaudited(const struct vd_ctx *c)
{
	if (c->route == NULL || strcmp(c->req->method, c->route->method) != 0)
		return 0;
	return c->route->id == VD_R_HEALTH || (c->route->id == VD_R_READY && !atomic_load(&audit_down));
}

/*
 * The audit line and the metrics of one finished request. A request whose
 * audit line cannot be written does not release its result (fail closed):
 * its reply becomes 503 audit_unavailable, except for the liveness probe;
 * the log resumes by itself when the disk does (docs/audit.md §5).
 */
static void
finish(struct vd_ctx *c, const char *op)
{
	struct vd_daemon *d = c->d;
	const struct vd_req *req = c->req;
	struct timespec now, start = req->start;
	struct pv_audit_rec rec;
	double secs;
	pv_err e;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (start.tv_sec == 0 && start.tv_nsec == 0)
		start = now;
	secs = seconds_since(&start, &now);
	/* probes are not audited (docs/audit.md §5); ready is while the log
	 * cannot be written, so that it answers 503 until the log can be */
	if (d->audit != NULL && !probe_unaudited(c)) {
		memset(&rec, 0, sizeof(rec));
		rec.rid = req->rid;
		rec.client = c->client != NULL ? pv_client_name(c->client) : "";
		rec.op = op;
		rec.key = c->name != NULL ? c->name : "";
		rec.version = c->version;
		rec.input = req->body;
		rec.input_len = req->body != NULL ? req->body_len : 0;
		rec.outcome = outcome_of(c->resp->status);
		rec.status = c->resp->status;
		rec.latency_us = (uint64_t)(secs * 1e6);
		rec.tx = c->tx[0] != '\0' ? c->tx : NULL;
		rec.chain_id = c->chain_id;
		rec.inputs_sha256 = c->n_inputs > 0 ? &c->inputs_sha256[0][0] : NULL;
		rec.n_inputs = c->n_inputs;
		pv_err_clear_detail();
		e = c->resp->status == 401 && c->client == NULL ? audit_auth_failure(c, &rec)
								: pv_audit_write(d->audit, &rec);
		if (e != PV_OK) {
			audit_state(1, e);
			if (c->route == NULL || c->route->id != VD_R_HEALTH) {
				vd_reply_error(c->resp, 503, "audit_unavailable",
					       "the audit log cannot be written");
				c->resp->retry_after = 1;
			}
		} else
			audit_state(0, PV_OK);
	}
	if (d->metrics != NULL)
		vd_metrics_request(d->metrics, op, c->key_exists ? c->name : NULL, c->resp->status, secs);
}

/* 429: Retry-After in whole seconds, rounded up, at least 1. */
static unsigned
retry_seconds(double s)
{
	double up = ceil(s);

	if (!(up >= 1))
		return 1;
	if (up > 86400)
		return 86400;
	return (unsigned)up;
}

/*
 * Who is calling, within the rate limit, and may the route's operation be
 * asked about at all? Fills the refusal and returns 0 otherwise. The
 * decision is the keeper's; it is asked here, before the handler, so that
 * a client without a grant learns nothing from the body checks or from
 * whether a key exists. The keeper decides again on every use of a key.
 */
static int
admit(struct vd_ctx *c)
{
	const struct vd_route *rt = c->route;
	pv_policy *pol = c->gen->policy;
	pv_policy_decision decision;
	struct timespec now;
	double retry = 0;
	pv_err r;

	if (c->req->bad_authorization) {
		vd_reply_error(c->resp, 401, "unauthenticated",
			       "the Authorization header is not a Bearer token");
		return 0;
	}
	if (pv_policy_authenticate(pol, &c->req->peer, c->req->bearer, &c->client) != PV_OK) {
		c->client = NULL;
		vd_reply_error(c->resp, 401, "unauthenticated", "no client matches these credentials");
		return 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (pv_policy_rate(pol, c->client, now, &retry) == PV_ERR_BUSY) {
		vd_reply_error(c->resp, 429, "rate_limited", "too many requests");
		c->resp->retry_after = retry_seconds(retry);
		return 0;
	}
	if (rt->flags & VD_RF_NOPOLICY)
		return 1;
	/* GET /metrics: keys.read from any rule (asked without a key), or the
	 * admin role */
	pv_err_clear_detail();
	r = vd_keeper_allow(c->d->keeper, c->gen, c->client, rt->op,
			    (rt->flags & VD_RF_METRICS) ? NULL : c->name, !!(rt->flags & VD_RF_METRICS),
			    &decision);
	if (c->d->metrics != NULL)
		vd_metrics_decision(c->d->metrics, r == PV_OK);
	if (r != PV_OK) {
		vd_fail(c, r);
		return 0;
	}
	return 1;
}

void
vd_dispatch(struct vd_daemon *d, const struct vd_req *req, struct vd_resp *resp)
{
	char name[VD_NAME_MAX + 1];
	struct vd_ctx c;
	const char *op = "none";
	enum vd_match m;

	memset(resp, 0, sizeof(*resp));
	memset(&c, 0, sizeof(c));
	c.d = d;
	c.req = req;
	c.resp = resp;
	c.gen = vd_gen_acquire(d);
	pv_err_clear_detail();
	m = vd_route_match(req->method, req->path, &c.route, name);
	if (c.route != NULL)
		op = c.route->label;
	switch (m) {
	case VD_MATCH_NO_PATH:
		vd_reply_error(resp, 404, "not_found", "no such endpoint");
		goto out;
	case VD_MATCH_METHOD:
		vd_reply_error(resp, 405, "method_not_allowed", "method not allowed for this endpoint");
		goto out;
	case VD_MATCH_BAD_NAME:
		vd_reply_error(resp, 400, "bad_request", "not a valid name in the path");
		goto out;
	case VD_MATCH_OK:
		break;
	}
	if (c.route->param != VD_PARAM_NONE)
		c.name = name;
	if ((c.gen == NULL || !atomic_load(&d->ready)) && !(c.route->flags & VD_RF_UNREADY)) {
		vd_reply_error(resp, 503, "not_ready", "vaultd is not ready");
		goto out;
	}
	if (!(c.route->flags & VD_RF_PUBLIC)) {
		if (c.gen == NULL) {
			vd_reply_error(resp, 503, "not_ready", "vaultd is not ready");
			goto out;
		}
		if (!admit(&c))
			goto out;
	}
	pv_err_clear_detail();
	handlers[c.route->id](&c);
	if (resp->status == 0)
		vd_reply_error(resp, 500, "internal", "internal error");
out:
	finish(&c, op);
	if (c.gen != NULL)
		vd_gen_release(c.gen);
}

void
vd_dispatch_reject(struct vd_daemon *d, const struct vd_req *req, unsigned status, const char *code,
		   const char *message, struct vd_resp *resp)
{
	char name[VD_NAME_MAX + 1];
	struct vd_ctx c;
	const char *op = "none";

	memset(resp, 0, sizeof(*resp));
	memset(&c, 0, sizeof(c));
	c.d = d;
	c.req = req;
	c.resp = resp;
	/* the label of the endpoint asked for, if any; the name is audited */
	if (vd_route_match(req->method, req->path, &c.route, name) != VD_MATCH_NO_PATH)
		op = c.route->label;
	if (c.route != NULL && c.route->param != VD_PARAM_NONE && name[0] != '\0')
		c.name = name;
	vd_reply_error(resp, status, code, message);
	finish(&c, op);
}
