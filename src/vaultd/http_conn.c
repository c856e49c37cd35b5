/*
 * One connection's bytes (server_int.h): the TLS handshake, the request
 * head through the strict parser (http_parse.c), the body (Content-Length
 * or chunked, within limits.max_body_bytes), dispatch on this thread, the
 * answer written as far as the socket takes it. A connection is owned by
 * the one thread its epoll event went to, so nothing here is locked but
 * the discipline lists (vd_conn_set_state).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "vaultd/server_int.h"

#define VD_IN_FIRST   2048
#define VD_BODY_FIRST 4096
/* How much a closing connection reads and drops first, so that the answer
 * is not lost to a reset for input nobody read. */
#define VD_LINGER_MAX 65536

enum vd_step {
	VD_STEP_MORE,   /* needs more input */
	VD_STEP_ANSWER, /* an answer is in vc->out */
	VD_STEP_CLOSE,  /* close now */
};

static void
wipe_free(void *p, size_t n)
{
	if (p == NULL)
		return;
	sodium_memzero(p, n);
	free(p);
}

/* Grow *buf (capacity *cap, *len used) to hold need bytes. Moves instead
 * of realloc so that no unwiped copy stays behind. */
static int
reserve(uint8_t **buf, size_t *cap, size_t len, size_t need, size_t first)
{
	size_t ncap = *cap ? *cap : first;
	uint8_t *p;

	if (need <= *cap)
		return 1;
	while (ncap < need)
		ncap *= 2;
	if ((p = malloc(ncap)) == NULL)
		return 0;
	if (len > 0)
		memcpy(p, *buf, len);
	wipe_free(*buf, *cap);
	*buf = p;
	*cap = ncap;
	return 1;
}

static void
consume(struct vd_conn *vc, size_t n)
{
	memmove(vc->in, vc->in + n, vc->in_len - n);
	sodium_memzero(vc->in + vc->in_len - n, n);
	vc->in_len -= n;
}

/* The answer's body, wiped (it may hold a secret value). */
static void
resp_wipe(struct vd_resp *r)
{
	wipe_free(r->body, r->body_len);
	r->body = NULL;
	r->body_len = 0;
}

/* The request is over: its memory wiped, no longer in flight. */
static void
request_done(struct vd_conn *vc)
{
	struct vd_reqctx *rc = &vc->rc;

	if (rc->active)
		atomic_fetch_sub(&vc->l->srv->d->inflight, 1);
	wipe_free(rc->body, rc->cap);
	free(rc->path);
	wipe_free(rc->authorization, rc->authorization_cap);
	free(rc->if_none_match);
	resp_wipe(&rc->resp);
	memset(rc, 0, sizeof(*rc));
}

static char *
span_dup(struct vd_http_span s, size_t *cap)
{
	char *p = malloc(s.n + 1);

	if (p == NULL)
		return NULL;
	memcpy(p, s.p, s.n);
	p[s.n] = '\0';
	if (cap != NULL)
		*cap = s.n + 1;
	return p;
}

static const char *
reason(unsigned st)
{
	switch (st) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 204:
		return "No Content";
	case 304:
		return "Not Modified";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 410:
		return "Gone";
	case 413:
		return "Content Too Large";
	case 415:
		return "Unsupported Media Type";
	case 422:
		return "Unprocessable Content";
	case 423:
		return "Locked";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return "Status";
	}
}

/* The Date field (RFC 9110 §6.6.1), made once a second per thread. */
static const char *
http_date(void)
{
	static _Thread_local time_t last = -1;
	static _Thread_local char buf[40];
	time_t now = time(NULL);
	struct tm tm;

	if (now != last && gmtime_r(&now, &tm) != NULL) {
		strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		last = now;
	}
	return buf;
}

/* The answer in rc->resp as bytes in vc->out; the body is moved (and the
 * original wiped), since it may hold a secret value. */
static enum vd_step
format_answer(struct vd_conn *vc)
{
	struct vd_reqctx *rc = &vc->rc;
	struct vd_resp *resp = &rc->resp;
	char hdr[1024], extra[160];
	unsigned st = resp->status;
	size_t blen = resp->body != NULL ? resp->body_len : 0;
	int n, e = 0, no_body;

	if (st < 100 || st > 599)
		st = 500;
	no_body = st == 204 || st == 304;
	if (no_body)
		blen = 0;
	extra[0] = '\0';
	if (resp->retry_after > 0)
		e += snprintf(extra + e, sizeof(extra) - (size_t)e, "Retry-After: %u\r\n", resp->retry_after);
	if (resp->etag[0] != '\0' && e < (int)sizeof(extra))
		e += snprintf(extra + e, sizeof(extra) - (size_t)e, "ETag: %s\r\n", resp->etag);
	if (vc->close_after && e < (int)sizeof(extra))
		e += snprintf(extra + e, sizeof(extra) - (size_t)e, "Connection: close\r\n");
	if (e >= (int)sizeof(extra))
		return VD_STEP_CLOSE;
	n = snprintf(hdr, sizeof(hdr),
		     "HTTP/1.1 %u %s\r\nDate: %s\r\nContent-Type: %s\r\n%s%zu%sX-Request-Id: %s\r\n"
		     "Cache-Control: %s\r\nX-Content-Type-Options: nosniff\r\n%s\r\n",
		     st, reason(st), http_date(),
		     resp->content_type ? resp->content_type : "application/json",
		     no_body ? "" : "Content-Length: ", no_body ? (size_t)0 : blen, no_body ? "" : "\r\n",
		     rc->rid, resp->cache_control ? resp->cache_control : "no-store", extra);
	if (n < 0 || (size_t)n >= sizeof(hdr))
		return VD_STEP_CLOSE;
	if (no_body) {
		/* "%zu" printed a 0 we do not want: print again without it */
		n = snprintf(hdr, sizeof(hdr),
			     "HTTP/1.1 %u %s\r\nDate: %s\r\nContent-Type: %s\r\nX-Request-Id: %s\r\n"
			     "Cache-Control: %s\r\nX-Content-Type-Options: nosniff\r\n%s\r\n",
			     st, reason(st), http_date(),
			     resp->content_type ? resp->content_type : "application/json", rc->rid,
			     resp->cache_control ? resp->cache_control : "no-store", extra);
		if (n < 0 || (size_t)n >= sizeof(hdr))
			return VD_STEP_CLOSE;
	}
	if (rc->is_head)
		blen = 0; /* Content-Length stays: the length a GET would have */
	if ((vc->out = malloc((size_t)n + blen)) == NULL)
		return VD_STEP_CLOSE;
	memcpy(vc->out, hdr, (size_t)n);
	if (blen > 0)
		memcpy(vc->out + n, resp->body, blen);
	vc->out_len = (size_t)n + blen;
	vc->out_off = 0;
	resp_wipe(resp);
	return VD_STEP_ANSWER;
}

/* A new request's id, clock and in-flight count. */
static void
request_begin(struct vd_conn *vc)
{
	struct vd_reqctx *rc = &vc->rc;

	rc->active = 1;
	atomic_fetch_add(&vc->l->srv->d->inflight, 1);
	clock_gettime(CLOCK_MONOTONIC, &rc->start);
	vd_request_id(rc->rid);
}

static void
fill_req(struct vd_conn *vc)
{
	struct vd_reqctx *rc = &vc->rc;
	struct vd_req *req = &rc->req;

	memset(req, 0, sizeof(*req));
	req->method = rc->method[0] != '\0' ? rc->method : "-";
	req->path = rc->path != NULL ? rc->path : "-";
	req->peer = vc->peer;
	memcpy(req->rid, rc->rid, sizeof(req->rid));
	req->start = rc->start;
	req->if_none_match = rc->if_none_match;
}

/* The server's own refusal (audited like any answer), then close. */
static enum vd_step refuse(struct vd_conn *vc, unsigned status, const char *code, const char *fmt, ...)
    PV_PRINTF(4, 5);

static enum vd_step
refuse(struct vd_conn *vc, unsigned status, const char *code, const char *fmt, ...)
{
	struct vd_reqctx *rc = &vc->rc;
	char msg[160];
	va_list ap;

	if (!rc->active)
		request_begin(vc);
	vd_conn_set_state(vc, VD_C_BUSY);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	wipe_free(rc->body, rc->cap);
	rc->body = NULL;
	rc->len = rc->cap = 0;
	fill_req(vc);
	vd_dispatch_reject(vc->l->srv->d, &rc->req, status, code, msg, &rc->resp);
	/* what follows a broken request cannot be trusted */
	vc->close_after = 1;
	return format_answer(vc);
}

/* The complete request, answered on this thread. */
static enum vd_step
answer(struct vd_conn *vc)
{
	struct vd_server *srv = vc->l->srv;
	struct vd_reqctx *rc = &vc->rc;
	struct vd_req *req = &rc->req;

	vd_conn_set_state(vc, VD_C_BUSY);
	fill_req(vc);
	/* a header that was sent counts, whatever its value */
	vd_parse_authorization(rc->n_authorization > 0 ? (rc->authorization ? rc->authorization : "") : NULL,
			       &req->bearer, &req->bad_authorization);
	if (rc->n_authorization > 1) { /* which one counts would be a guess */
		req->bearer = NULL;
		req->bad_authorization = 1;
	}
	vc->close_after = !rc->keep_alive || atomic_load(&srv->draining);
	if (vc->cert_untrusted) {
		vd_dispatch_reject(srv->d, req, 401, "unauthenticated", "client certificate not trusted",
				   &rc->resp);
	} else {
		req->body = rc->len > 0 ? rc->body : NULL;
		req->body_len = rc->len;
		vd_dispatch(srv->d, req, &rc->resp);
	}
	/* the body is no longer needed, and may hold a secret */
	wipe_free(rc->body, rc->cap);
	rc->body = NULL;
	rc->len = rc->cap = 0;
	return format_answer(vc);
}

static enum vd_step
take_body(struct vd_conn *vc)
{
	struct vd_server *srv = vc->l->srv;
	struct vd_reqctx *rc = &vc->rc;
	const char *why = NULL;
	size_t used = 0, k;
	enum vd_http_result r;

	if (rc->chunked) {
		if (vc->in_len == 0)
			return VD_STEP_MORE;
		/* decoded bytes are never more than input bytes */
		if (!reserve(&rc->body, &rc->cap, rc->len,
			     rc->len + vc->in_len > srv->max_body ? srv->max_body : rc->len + vc->in_len,
			     VD_BODY_FIRST))
			return VD_STEP_CLOSE;
		r = vd_chunked_feed(&rc->ck, vc->in, vc->in_len, &used, rc->body, &rc->len, srv->max_body,
				    &why);
		consume(vc, used);
		if (r == VD_HTTP_BAD) {
			if (rc->ck.too_large)
				return refuse(vc, 413, "too_large",
					      "request body over the limit of %zu bytes", srv->max_body);
			return refuse(vc, 400, "bad_request", "malformed HTTP request: %s", why);
		}
		return r == VD_HTTP_DONE ? answer(vc) : VD_STEP_MORE;
	}
	k = rc->length - rc->len < vc->in_len ? (size_t)(rc->length - rc->len) : vc->in_len;
	if (k > 0) {
		memcpy(rc->body + rc->len, vc->in, k);
		rc->len += k;
		consume(vc, k);
	}
	return rc->len == rc->length ? answer(vc) : VD_STEP_MORE;
}

static void
send_continue(struct vd_conn *vc)
{
	static const char msg[] = "HTTP/1.1 100 Continue\r\n\r\n";

	/* An interim answer into an empty socket; if it does not go, the
	 * client sends its body after its own wait anyway. */
	if (vc->tls != NULL)
		(void)vd_tls_send(vc->tls, msg, sizeof(msg) - 1);
	else
		(void)!send(vc->fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL);
}

static enum vd_step
take_head(struct vd_conn *vc)
{
	struct vd_server *srv = vc->l->srv;
	struct vd_reqctx *rc = &vc->rc;
	struct vd_http_head h;
	const char *why = NULL;
	const uint8_t *q;
	size_t head_len = 0, plen;
	enum vd_http_result r;

	r = vd_http_parse_head(vc->in, vc->in_len, &h, &head_len, &why);
	if (r == VD_HTTP_BAD)
		return refuse(vc, 400, "bad_request", "malformed HTTP request: %s", why);
	if (r == VD_HTTP_INCOMPLETE) {
		if (vc->in_len >= VD_HEAD_MAX)
			return refuse(vc, 431, "bad_request", "request head over %d bytes", VD_HEAD_MAX);
		return VD_STEP_MORE;
	}
	request_begin(vc);
	vd_conn_set_state(vc, VD_C_BODY);
	if (h.method.n >= sizeof(rc->method))
		return refuse(vc, 501, "bad_request", "method not supported");
	memcpy(rc->method, h.method.p, h.method.n);
	rc->method[h.method.n] = '\0';
	q = memchr(h.target.p, '?', h.target.n);
	plen = q != NULL ? (size_t)(q - h.target.p) : h.target.n;
	if ((rc->path = span_dup((struct vd_http_span){h.target.p, plen}, NULL)) == NULL)
		return VD_STEP_CLOSE;
	rc->n_authorization = h.n_authorization;
	if (h.authorization.p != NULL &&
	    (rc->authorization = span_dup(h.authorization, &rc->authorization_cap)) == NULL)
		return VD_STEP_CLOSE;
	if (h.if_none_match.p != NULL && (rc->if_none_match = span_dup(h.if_none_match, NULL)) == NULL)
		return VD_STEP_CLOSE;
	rc->is_head = strcmp(rc->method, "HEAD") == 0;
	rc->keep_alive = h.keep_alive;
	rc->chunked = h.chunked;
	rc->length = h.has_length ? h.length : 0;
	consume(vc, head_len);
	/* Refused before a byte of the body is read. */
	if (rc->length > srv->max_body)
		return refuse(vc, 413, "too_large", "request body over the limit of %zu bytes",
			      srv->max_body);
	if (rc->chunked)
		vd_chunked_init(&rc->ck);
	else if (rc->length > 0 && !reserve(&rc->body, &rc->cap, 0, (size_t)rc->length, (size_t)rc->length))
		return VD_STEP_CLOSE;
	if (h.expect_continue && (rc->chunked || rc->length > vc->in_len))
		send_continue(vc);
	return take_body(vc);
}

/* Whatever input there is, as far as it goes. */
static enum vd_step
step(struct vd_conn *vc)
{
	if (vc->rc.active)
		return take_body(vc);
	if (vc->in_len == 0)
		return VD_STEP_MORE;
	if (vc->mine == VD_C_IDLE)
		vd_conn_set_state(vc, VD_C_HEAD); /* the next head's own deadline */
	return take_head(vc);
}

/* Read what the socket has: bytes, 0 at the end, or VD_IO_*. */
static ssize_t
read_some(struct vd_conn *vc)
{
	ssize_t n;

	if (vc->in_len == vc->in_cap &&
	    (vc->in_cap >= VD_HEAD_MAX ||
	     !reserve(&vc->in, &vc->in_cap, vc->in_len, vc->in_len + 1, VD_IN_FIRST)))
		return VD_IO_FAIL;
	if (vc->tls != NULL)
		return vd_tls_recv(vc->tls, vc->in + vc->in_len, vc->in_cap - vc->in_len);
	n = recv(vc->fd, vc->in + vc->in_len, vc->in_cap - vc->in_len, 0);
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return VD_IO_WANT_READ;
	return VD_IO_FAIL;
}

/* Write what is left of the answer: 0 when all of it went, else VD_IO_*. */
static int
write_some(struct vd_conn *vc)
{
	ssize_t n;

	while (vc->out_off < vc->out_len) {
		if (vc->tls != NULL) {
			n = vd_tls_send(vc->tls, vc->out + vc->out_off, vc->out_len - vc->out_off);
			if (n < 0)
				return (int)n;
		} else {
			n = send(vc->fd, vc->out + vc->out_off, vc->out_len - vc->out_off, MSG_NOSIGNAL);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				return errno == EAGAIN || errno == EWOULDBLOCK ? VD_IO_WANT_WRITE
									       : VD_IO_FAIL;
			}
		}
		vc->out_off += (size_t)n;
	}
	wipe_free(vc->out, vc->out_len);
	vc->out = NULL;
	vc->out_len = vc->out_off = 0;
	return 0;
}

/* Before closing: read (and drop) what the client already sent, so that
 * the kernel does not answer unread input with a reset that could take
 * the last answer with it. */
static void
linger(struct vd_conn *vc)
{
	uint8_t junk[4096];
	size_t total = 0;
	ssize_t n;

	if (vc->fd < 0)
		return;
	/* close_notify, if the socket takes it now (never waited for) */
	if (vc->tls != NULL && vc->handshaken)
		(void)gnutls_bye(vc->tls, GNUTLS_SHUT_WR);
	(void)shutdown(vc->fd, SHUT_WR);
	while (total < VD_LINGER_MAX && (n = recv(vc->fd, junk, sizeof(junk), MSG_DONTWAIT)) > 0)
		total += (size_t)n;
}

void
vd_conn_free(struct vd_conn *vc)
{
	struct vd_server *srv = vc->l->srv;

	pthread_mutex_lock(&srv->mu);
	if (vc->state < VD_C_NLISTS) {
		/* unlinked like the reaper's cut, without counting one */
		if (vc->prev != NULL)
			vc->prev->next = vc->next;
		else
			vc->l->first[vc->state] = vc->next;
		if (vc->next != NULL)
			vc->next->prev = vc->prev;
		else
			vc->l->last[vc->state] = vc->prev;
		vc->l->live--;
	}
	vc->state = VD_C_GONE;
	if (vc->aprev != NULL)
		vc->aprev->anext = vc->anext;
	else
		srv->all = vc->anext;
	if (vc->anext != NULL)
		vc->anext->aprev = vc->aprev;
	pthread_mutex_unlock(&srv->mu);
	request_done(vc);
	if (vc->tls != NULL)
		gnutls_deinit(vc->tls);
	if (vc->fd >= 0)
		close(vc->fd); /* also takes it out of the epoll set */
	wipe_free(vc->in, vc->in_cap);
	wipe_free(vc->out, vc->out_len);
	free(vc);
}

static int
is_gone(struct vd_conn *vc)
{
	int gone;

	pthread_mutex_lock(&vc->l->srv->mu);
	gone = vc->state == VD_C_GONE;
	pthread_mutex_unlock(&vc->l->srv->mu);
	return gone;
}

void
vd_conn_run(struct vd_conn *vc)
{
	struct vd_server *srv = vc->l->srv;
	enum vd_step st;
	ssize_t n;
	int w;

	if (is_gone(vc))
		goto close;
	for (;;) {
		if (vc->tls != NULL && !vc->handshaken) {
			w = vd_tls_handshake(vc->tls);
			if (w == VD_IO_WANT_READ || w == VD_IO_WANT_WRITE) {
				vd_conn_arm(vc, w == VD_IO_WANT_WRITE);
				return;
			}
			if (w != 0)
				goto close;
			vc->handshaken = 1;
			if (vc->l->verify_clients)
				vd_peer_from_tls(vc);
			vc->peer_known = 1;
			continue;
		}
		if (vc->out != NULL) {
			w = write_some(vc);
			if (w == VD_IO_WANT_READ || w == VD_IO_WANT_WRITE) {
				if (vc->mine != VD_C_SEND)
					vd_conn_set_state(vc, VD_C_SEND);
				vd_conn_arm(vc, w == VD_IO_WANT_WRITE);
				return;
			}
			if (w != 0 || vc->close_after)
				goto close;
			request_done(vc);
			vd_conn_set_state(vc, VD_C_IDLE);
			/* A small input buffer stays for the next request (what
			 * was consumed is already wiped); a grown one goes. */
			if (vc->in_len == 0 && vc->in_cap > VD_IN_FIRST) {
				wipe_free(vc->in, vc->in_cap);
				vc->in = NULL;
				vc->in_cap = 0;
			}
			if (atomic_load(&srv->stopping))
				goto close;
			continue;
		}
		st = step(vc);
		if (st == VD_STEP_ANSWER)
			continue;
		if (st == VD_STEP_CLOSE)
			goto close;
		n = read_some(vc);
		if (n > 0) {
			vc->in_len += (size_t)n;
			continue;
		}
		if (n == VD_IO_WANT_READ || n == VD_IO_WANT_WRITE) {
			vd_conn_arm(vc, n == VD_IO_WANT_WRITE);
			return;
		}
		goto close; /* the end of the stream, or an error */
	}
close:
	/* no longer in flight before the client can see the end */
	request_done(vc);
	linger(vc);
	vd_conn_free(vc);
}
