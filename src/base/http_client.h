/*
 * A minimal HTTP/1.1 keep-alive client over a Unix socket, for vaultd's
 * clients (vault-bench, vault-chaos, the provider's vaultd backend). One
 * connection, one request at a time (no pipelining). Responses must carry Content-Length (vaultd always does);
 * chunked transfer coding is refused. Headers are read with bounded reads
 * into a fixed buffer; the whole response must fit in PV_HTTP_RESP_MAX.
 */
#ifndef PV_HTTP_CLIENT_H
#define PV_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define PV_HTTP_HEAD_MAX 8192
#define PV_HTTP_RESP_MAX 65536

struct pv_http;

/* Connect to the Unix socket at path. */
pv_err pv_http_open(const char *path, struct pv_http **out) PV_WUR;
void pv_http_close(struct pv_http *c);

/*
 * Send one complete request (request line, headers, body) and read its
 * response. When the server had closed the kept-alive connection before
 * the request (no byte of a response came back), reconnect once and
 * resend. *body points into the client's buffer until the next call.
 */
pv_err pv_http_roundtrip(struct pv_http *c, const uint8_t *req, size_t req_len, unsigned *status,
			 const uint8_t **body, size_t *body_len) PV_WUR;

/*
 * The head (status line and headers, through the blank line) of the last
 * response pv_http_roundtrip read; *len is 0 before the first one or
 * after a failed round trip. Valid until the next call.
 */
void pv_http_last_head(const struct pv_http *c, const uint8_t **head, size_t *len);

/*
 * The value of header name (any case; the first one) in a response head,
 * without surrounding blanks, NUL-terminated in out. PV_ERR_NOT_FOUND when
 * absent, PV_ERR_TOO_LARGE when it does not fit in outsz (with the NUL).
 */
pv_err pv_http_find_header(const uint8_t *head, size_t head_len, const char *name, char *out,
			   size_t outsz) PV_WUR;

/*
 * A bound on each send and each wait for a reply byte, in milliseconds, for
 * this and later connections (0: none, the default). A reply that does not
 * come in time fails the round trip (PV_ERR_IO; pv_http_timed_out then
 * says 1) and drops the connection (the next round trip opens a new one).
 */
pv_err pv_http_set_timeout(struct pv_http *c, unsigned ms) PV_WUR;

/* Did the last round trip fail because no reply came within the timeout? */
int pv_http_timed_out(const struct pv_http *c);

/* Connections opened after the first (keep-alive not held). */
uint64_t pv_http_reconnects(const struct pv_http *c);

/*
 * Parse a response head (status line and headers, through the blank line)
 * of head_len bytes: the status, the Content-Length and whether the server
 * announced Connection: close. Exposed for the unit test.
 */
pv_err pv_http_parse_head(const uint8_t *head, size_t head_len, unsigned *status, size_t *content_length,
			  int *conn_close) PV_WUR;

struct pv_secret;
/*
 * The bearer token from its file (one line of RFC 6750 b64token
 * characters; a trailing newline is dropped) into guarded memory, left
 * locked; *len is its length. vault-bench, vault-chaos and the provider
 * use it.
 */
pv_err pv_http_load_bearer(const char *path, struct pv_secret **out, size_t *len) PV_WUR;

#endif
