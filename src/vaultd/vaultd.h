/*
 * vaultd's shared types: the request the HTTP layer hands over, the response
 * it sends back, the daemon context and the configuration generation that a
 * request holds while it runs.
 *
 * Layers (docs/architecture.md, "vaultd"):
 *   server.c   HTTP front: listeners, event threads, deadlines, caps (http_conn.c, http_parse.c)
 *   listen_unix.c, tls.c  the Unix socket (mode, peer uid); TLS and client
 *              certificates
 *   main.c, signals.c, dev.c  the program: boot, SIGHUP/SIGTERM, --dev
 *   routes.h   the route table (VD_ROUTES): endpoints, operations, handlers
 *   dispatch.c routing, authentication, rate limit, the keeper's policy
 *              step, audit, metrics
 *   h_*.c      one file per endpoint group; they touch the token only
 *              through the keeper API (keeper.h), which decides policy,
 *              purpose and caps on every use of a key
 *   state.c    configuration generations: load, validate, swap on reload
 */
#ifndef PV_VAULTD_H
#define PV_VAULTD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "base/err.h"
#include "config/vaultd_config.h"
#include "policy/policy.h"

struct vd_keeper;
struct vd_secrets;
struct vd_metrics;
struct pv_audit;

/* Request id: 16 random bytes, base64url without padding (22 chars). */
#define VD_RID_LEN 22

/* What the HTTP layer knows about one complete request. */
struct vd_req {
	const char *method;        /* "GET", "POST", ... */
	const char *path;          /* URL path, no query string, not decoded */
	const char *bearer;        /* token of "Authorization: Bearer X"; NULL: none */
	int bad_authorization;     /* an Authorization header that is not Bearer */
	const char *if_none_match; /* If-None-Match header; NULL: none */
	struct pv_peer peer;       /* uid (Unix socket) or verified cert (TLS) */
	const uint8_t *body;       /* NULL when empty */
	size_t body_len;
	char rid[VD_RID_LEN + 1];
	struct timespec start; /* CLOCK_MONOTONIC when the headers arrived */
};

/* What dispatch hands back to the HTTP layer. */
struct vd_resp {
	unsigned status;
	char *body; /* malloc'd, owned by the response (vd_resp_clear) */
	size_t body_len;
	const char *content_type;  /* static string; NULL: application/json */
	unsigned retry_after;      /* seconds for Retry-After; 0: no header */
	const char *cache_control; /* static string or NULL */
	char etag[48];             /* quoted ETag or "" */
};
void vd_resp_clear(struct vd_resp *r);

/*
 * One loaded configuration: the validated config, the policy built from it
 * and the secrets of the boot bundle (and environment). Immutable once
 * published; a request holds a reference for its whole life, so a reload
 * never changes the rules under a running request.
 */
struct vd_gen {
	atomic_uint refs;
	uint64_t number; /* 1 at boot, +1 per successful reload */
	struct pv_config *cfg;
	pv_policy *policy;
	struct vd_secrets *secrets; /* NULL: no bundle configured */
};

struct vd_daemon {
	const char *config_path; /* NULL in --dev mode without --config */
	int dev;                 /* --dev: failures to unwrap the bundle only warn */
	struct vd_keeper *keeper;
	struct pv_audit *audit; /* NULL: no audit file configured */
	struct vd_metrics *metrics;
	atomic_int ready; /* logged in and the bundle (if any) loaded */
	atomic_uint inflight;
	pthread_mutex_t gen_lock; /* guards the gen pointer only */
	struct vd_gen *gen;
};

/* Current generation with a reference taken; never NULL after boot. */
struct vd_gen *vd_gen_acquire(struct vd_daemon *d);
void vd_gen_release(struct vd_gen *g);

/*
 * Build a generation from a config (takes ownership of cfg, also on
 * failure): the policy, and the bundle and environment secrets through the
 * keeper, then the rules against the keys on the token
 * (vd_config_check_token). In dev mode a bundle that cannot be opened only
 * warns; *warning receives a malloc'd message for that and for rules whose
 * patterns warn (not in dev mode), else NULL.
 */
pv_err vd_gen_build(struct vd_daemon *d, struct pv_config *cfg, struct vd_gen **out, char **warning) PV_WUR;

/*
 * The config's rules against the keys on the keeper's token
 * (pv_config_check_keys, docs/config.md "What the checks refuse"):
 * PV_ERR_BAD_INPUT with the rule's path for an operation that can never
 * apply to an exactly named key; *warnings (malloc'd or NULL) for patterns.
 * With audit_key, audit.hmac_key must be a key of purpose audit first.
 */
pv_err vd_config_check_token(struct vd_keeper *k, const struct pv_config *cfg, int audit_key,
			     int warn_on_patterns, char **warnings) PV_WUR;

/*
 * Reload: read config_path again, build a new generation and publish it.
 * On any failure the running generation stays and the error detail says
 * why (the field path for a bad config). Serialised internally.
 */
pv_err vd_reload(struct vd_daemon *d) PV_WUR;

/* Publish g as the current generation (drops the daemon's old reference). */
void vd_gen_publish(struct vd_daemon *d, struct vd_gen *g);

/*
 * The whole of request handling: route, authenticate, rate-limit, authorize,
 * run the handler, write the audit line and the metrics. Always fills resp
 * (status and JSON body); never fails. Thread-safe.
 */
void vd_dispatch(struct vd_daemon *d, const struct vd_req *req, struct vd_resp *resp);

/*
 * A request the HTTP layer refuses itself (413 too_large over the body
 * limit, 401 unauthenticated for a client certificate that does not
 * verify): fill resp with the JSON error {"error":{"code","message"}}, and
 * write the audit line and the metrics like for any request. req->body is
 * NULL. Never fails. Thread-safe.
 */
void vd_dispatch_reject(struct vd_daemon *d, const struct vd_req *req, unsigned status, const char *code,
			const char *message, struct vd_resp *resp);

#endif
