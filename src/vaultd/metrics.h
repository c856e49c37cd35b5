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

/* The exposition text (malloc'd), with the token's pool and recovery
 * counters from st. */
pv_err vd_metrics_render(struct vd_metrics *m, const struct p11_token_stats *st, char **out,
			 size_t *len) PV_WUR;

#endif
