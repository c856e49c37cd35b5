/*
 * Strict HTTP/1.1 request heads and chunked bodies (RFC 9112), for
 * vaultd's HTTP front (server.c). Pure functions over bytes the caller
 * holds: no allocation, no I/O, no global state.
 *
 * Why our own: the packaged HTTP libraries of the platform we build on
 * either normalise what we must refuse (libmicrohttpd 0.9.75 turns a bare
 * LF into a line end, joins obs-fold lines and cuts the target at a NUL)
 * or ship no public parser (h2o's picohttpparser). docs/api.md "HTTP
 * strictness" lists every refusal; tests/fuzz/fuzz_http.c runs this file.
 *
 * Refused (VD_HTTP_BAD, with a static reason): a line end that is not
 * CRLF (bare LF, bare CR), NUL or another control byte (but HTAB in a
 * value) or DEL anywhere in the head, obs-fold (a line starting with SP or
 * HTAB), a header name that is not a token or is followed by whitespace
 * before the colon, a method that is not a token, a target that is not
 * origin-form ("/..." of visible ASCII), a version other than HTTP/1.0 or
 * HTTP/1.1, Content-Length or Transfer-Encoding repeated, both together,
 * a Content-Length that is not 1*DIGIT or is over 2^63-1, a transfer
 * coding other than exactly "chunked", Transfer-Encoding in an HTTP/1.0
 * request (RFC 9112 6.1: faulty framing), a Connection value that is not
 * a list of tokens, Host missing (HTTP/1.1) or repeated, more than
 * VD_HTTP_MAX_FIELDS fields. Empty lines before the request line are
 * refused too (RFC 9112 allows ignoring one; we don't). "Expect:
 * 100-continue" from an HTTP/1.0 client is ignored (RFC 9110 10.1.1).
 */
#ifndef PV_VAULTD_HTTP_PARSE_H
#define PV_VAULTD_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "base/defs.h"

#define VD_HTTP_MAX_FIELDS 64

enum vd_http_result {
	VD_HTTP_INCOMPLETE = 0, /* all bytes so far are fine; the end is not there yet */
	VD_HTTP_DONE = 1,       /* complete */
	VD_HTTP_BAD = -1,       /* refused: 400, then close */
};

/* Pointers into the caller's buffer; not NUL-terminated. */
struct vd_http_span {
	const uint8_t *p;
	size_t n;
};

struct vd_http_head {
	struct vd_http_span method, target;
	int minor; /* HTTP/1.<minor>: 0 or 1 */
	size_t nfields;
	struct vd_http_span name[VD_HTTP_MAX_FIELDS], value[VD_HTTP_MAX_FIELDS]; /* value: OWS trimmed */
	/* worked out from the fields */
	int has_length;           /* Content-Length given */
	uint64_t length;          /* its value */
	int chunked;              /* Transfer-Encoding: chunked */
	int keep_alive;           /* HTTP/1.1 unless "Connection: close"; 1.0 only with "keep-alive" */
	int expect_continue;      /* "Expect: 100-continue" (case-insensitive) */
	unsigned n_authorization; /* Authorization fields seen */
	struct vd_http_span authorization, if_none_match; /* the first of each; p NULL: absent */
};

/*
 * Parse the head at buf[0..len) (the start of the request). INCOMPLETE
 * means nothing seen so far is wrong and the blank line that ends the head
 * has not arrived: call again with more bytes (the same start). A bad
 * byte is reported as soon as it is in buf, whether or not the head is
 * complete, so a client cannot hold a connection with a head that can
 * never be valid. DONE sets *h and *head_len (bytes up to and including
 * the blank line). BAD sets *why. Bytes after the head are not looked at.
 */
enum vd_http_result vd_http_parse_head(const uint8_t *buf, size_t len, struct vd_http_head *h,
				       size_t *head_len, const char **why) PV_WUR;

/* Case-insensitive comparison of a span with a NUL-terminated ASCII string. */
int vd_http_span_is(struct vd_http_span s, const char *lit);

/*
 * A chunked body, decoded as it arrives. Chunk sizes are 1*16 HEXDIG;
 * chunk extensions (";" token ["=" token / quoted-string]) are skipped;
 * trailer fields are checked like head fields and dropped. Every line end
 * must be CRLF. A size line (with its extensions) may be 4 KiB, the
 * trailer section 8 KiB. The decoded body may not pass max bytes
 * (VD_HTTP_BAD with *too_large set, so the caller can answer 413 instead
 * of 400; known from the size line, before the data); a size of more than
 * 16 digits is malformed (400, too_large not set) whatever its value.
 */
struct vd_chunked {
	int state;
	uint64_t left;  /* bytes left in the current chunk */
	uint64_t total; /* decoded so far */
	size_t line;    /* bytes of the current size/trailer line so far */
	int too_large;
};

void vd_chunked_init(struct vd_chunked *c);

/*
 * Feed in[0..n): *used is set to the bytes consumed (all of them unless the
 * body ended inside in; what follows belongs to the next request). Decoded
 * data is appended at out[*out_len..] and *out_len advanced; out has room
 * for max bytes (the body limit) and is never written past it. Returns DONE when the last chunk and
 * trailers are complete, INCOMPLETE when more input is needed, BAD for
 * malformed input or a body over max (then c->too_large is set).
 */
enum vd_http_result vd_chunked_feed(struct vd_chunked *c, const uint8_t *in, size_t n, size_t *used,
				    uint8_t *out, size_t *out_len, size_t max, const char **why) PV_WUR;

#endif
