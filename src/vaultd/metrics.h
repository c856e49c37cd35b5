/*
 * vaultd's counters and latency histograms, rendered in the Prometheus text
 * exposition format 0.0.4 for GET /metrics. Label values come from a closed
 * set (route operations, key names that exist, status codes, error names),
 * never from arbitrary request bytes, so an attacker cannot grow the series.
 */
#ifndef PV_VAULTD_METRICS_H
#define PV_VAULTD_METRICS_H

#include <stddef.h>

#include "base/err.h"
#include "pkcs11/token.h"

struct vd_metrics;

pv_err vd_metrics_new(struct vd_metrics **out) PV_WUR;
void vd_metrics_free(struct vd_metrics *m);

/*
 * One finished request: op ("sign", "jwt.issue", "health", ... or "none"
 * for an unmatched path), key (an existing key's name, or NULL), HTTP
 * status, latency in seconds. Thread-safe.
 */
void vd_metrics_request(struct vd_metrics *m, const char *op, const char *key, unsigned status,
			double seconds);
/* A policy decision (allowed != 0: permitted, else denied). */
void vd_metrics_decision(struct vd_metrics *m, int allowed);
/* A token error reached a handler (pv_err of the token class). */
void vd_metrics_token_error(struct vd_metrics *m, pv_err e);

/* Connection discipline (server.c): why the HTTP layer closed a
 * connection itself. Counted, never audited per connection. */
enum vd_conn_event {
	VD_CONN_REFUSED_PEER,   /* a new connection over limits.max_connections_per_peer */
	VD_CONN_REFUSED_BUDGET, /* a new connection over limits.max_connections, nothing to evict */
	VD_CONN_CUT_HEADER,     /* no complete head within limits.header_timeout_ms */
	VD_CONN_CUT_BODY,       /* no complete body within limits.body_timeout_ms */
	VD_CONN_CUT_IDLE,       /* keep-alive: no next head within limits.request_timeout_ms */
	VD_CONN_CUT_SEND,       /* an answer the client did not read within limits.body_timeout_ms */
	VD_CONN_EVICTED,        /* idle or head-less, closed (oldest first) to make room */
	VD_CONN_NEVENTS
};
void vd_metrics_conn(struct vd_metrics *m, enum vd_conn_event ev);

/* The exposition text (malloc'd), with the token's pool and recovery
 * counters from st. */
pv_err vd_metrics_render(struct vd_metrics *m, const struct p11_token_stats *st, char **out,
			 size_t *len) PV_WUR;

#endif
