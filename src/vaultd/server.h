/*
 * vaultd's HTTP layer: the listeners (the Unix socket, optionally TCP with
 * TLS), event threads that serve each connection from its bytes to its
 * answer, strict HTTP/1.1 (http_parse.h), the caller's identity
 * (SO_PEERCRED uid or the SHA-256 of a verified client certificate), the
 * body limit, the connection deadlines and caps, request ids. A complete request becomes a struct vd_req
 * and goes to vd_dispatch (or vd_dispatch_reject when the server refuses it
 * itself); the struct vd_resp that comes back is sent as is.
 *
 * Listeners, workers and limits are taken from the configuration given at
 * start; a reload does not change them (docs/vaultd.8).
 */
#ifndef PV_VAULTD_SERVER_H
#define PV_VAULTD_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "vaultd/vaultd.h"

struct vd_server;

/*
 * Create the listeners of cfg->listen and start serving requests for d.
 * The Unix socket is created with cfg's mode and group; a socket file left
 * by a dead daemon is replaced, a live one (something answers) is refused
 * with PV_ERR_EXISTS. TLS key, certificate and client CA are read from
 * their files here. Call with SIGHUP/SIGTERM/SIGINT blocked: the worker
 * threads inherit the signal mask.
 */
pv_err vd_server_start(struct vd_daemon *d, const struct pv_config *cfg, struct vd_server **out) PV_WUR;

/* Stop accepting connections; requests that follow on open connections
 * are still answered, with "Connection: close". */
void vd_server_quiesce(struct vd_server *s);

/* Stop the worker threads, close every connection and listener, remove
 * the socket file. NULL is fine. */
void vd_server_stop(struct vd_server *s);

/* ---- pieces of request parsing, exposed for the unit test ---- */

/*
 * An Authorization header value: "Bearer TOKEN" (scheme case-insensitive,
 * one or more spaces, TOKEN not empty) sets *bearer to TOKEN (a pointer
 * into value); anything else, also an empty value or "Bearer" without a
 * token, sets *bad (401, never another identity). NULL (no header):
 * neither.
 */
void vd_parse_authorization(const char *value, const char **bearer, int *bad);

/* A Content-Length value: decimal digits only, no sign, at most 2^63-1.
 * PV_ERR_BAD_INPUT otherwise. */
pv_err vd_parse_content_length(const char *s, uint64_t *out) PV_WUR;

/* A fresh request id: 16 random bytes, base64url without padding. */
void vd_request_id(char out[VD_RID_LEN + 1]);

#endif
