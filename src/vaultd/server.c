/*
 * vaultd's HTTP layer on libmicrohttpd (server.h). One MHD daemon per
 * listener, each with its own worker thread pool; the sockets are made
 * here (mode and group of the Unix socket must be right before anyone can
 * connect) and handed to MHD. Here: the daemons, request bodies and their
 * limit, dispatch, responses, the TCP socket. The Unix socket is in
 * listen_unix.c, certificates and TLS in tls.c.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>
#include <sodium.h>

#include "vaultd/metrics.h"
#include "vaultd/server_int.h"

#define VD_BODY_FIRST     4096
/* The longest the reaper sleeps: how late past its deadline a connection
 * may be cut. */
#define VD_REAPER_TICK_MS 200

/* Per request (MHD's request context). */
struct vd_reqctx {
	struct timespec start; /* the head complete */
	char rid[VD_RID_LEN + 1];
	uint8_t *body;
	size_t len, cap;
	int too_large;
	const char *bad_http; /* strict parsing: why the request is refused (400, then close) */
	int submitted;        /* built and handed to a worker */
	atomic_int done;      /* the worker filled resp */
	int sent;             /* resp queued with MHD */
	unsigned reject_status;
	const char *reject_code;
	char reject_msg[96];
	struct vd_req req;
	struct vd_resp resp;
	struct vd_job job;
};

/* ---- small parsers ---- */

void
vd_parse_authorization(const char *value, const char **bearer, int *bad)
{
	static const char scheme[] = "Bearer";
	size_t n = sizeof(scheme) - 1;

	*bearer = NULL;
	*bad = 0;
	if (value == NULL)
		return;
	/* present means present: an empty value or a scheme without a token
	 * is refused, never taken as no header (and another identity) */
	if (strncasecmp(value, scheme, n) != 0 || value[n] != ' ') {
		*bad = 1;
		return;
	}
	value += n;
	while (*value == ' ')
		value++;
	if (*value == '\0') {
		*bad = 1;
		return;
	}
	*bearer = value;
}

pv_err
vd_parse_content_length(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (s == NULL || *s == '\0')
		return PV_ERR_BAD_INPUT;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return PV_ERR_BAD_INPUT;
		if (v > ((uint64_t)INT64_MAX - (uint64_t)(*s - '0')) / 10)
			return PV_ERR_BAD_INPUT;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return PV_OK;
}

void
vd_request_id(char out[VD_RID_LEN + 1])
{
	uint8_t raw[16];
	char b64[sodium_base64_ENCODED_LEN(sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING)];

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(b64, sizeof(b64), raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	memcpy(out, b64, VD_RID_LEN);
	out[VD_RID_LEN] = '\0';
}

unsigned
vd_timeout_seconds(uint32_t ms)
{
	unsigned s = (unsigned)((ms + 999u) / 1000u);

	return s == 0 ? 1 : s;
}

static double
seconds_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

static struct vd_conn *
conn_of(struct vd_listener *l, struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct vd_conn *vc;

	if (ci == NULL || ci->socket_context == NULL)
		return NULL;
	vc = ci->socket_context;
	if (!vc->peer_known) {
		if (l->is_unix)
			vd_peer_from_unix(c, vc);
		else if (l->verify_clients)
			vd_peer_from_tls(c, vc);
		vc->peer_known = 1;
	}
	return vc;
}

/* ---- connection discipline (all under srv->mu) ----
 *
 * Every connection of a listener is on the list of its state, oldest
 * first. HEAD, BODY and IDLE have one fixed deadline each, counted from
 * the time the connection entered the state, so the first of each list is
 * the next to expire and the reaper looks at three list heads. A cut is
 * shutdown(SHUT_RDWR) on the socket: MHD sees the end of the stream and
 * closes the connection itself (its CLOSED notification comes before it
 * closes the fd, and takes srv->mu, so the fd cut here is still ours). */

static void
list_unlink(struct vd_listener *l, struct vd_conn *vc)
{
	if (vc->state >= VD_C_NLISTS)
		return;
	if (vc->prev != NULL)
		vc->prev->next = vc->next;
	else
		l->first[vc->state] = vc->next;
	if (vc->next != NULL)
		vc->next->prev = vc->prev;
	else
		l->last[vc->state] = vc->prev;
	vc->prev = vc->next = NULL;
}

static void
set_state(struct vd_listener *l, struct vd_conn *vc, enum vd_cstate st)
{
	if (vc->state == VD_C_GONE)
		return;
	list_unlink(l, vc);
	vc->state = st;
	clock_gettime(CLOCK_MONOTONIC, &vc->since);
	vc->prev = l->last[st];
	vc->next = NULL;
	if (l->last[st] != NULL)
		l->last[st]->next = vc;
	else
		l->first[st] = vc;
	l->last[st] = vc;
}

static void
cut(struct vd_listener *l, struct vd_conn *vc, enum vd_conn_event why)
{
	if (vc->state == VD_C_GONE)
		return;
	list_unlink(l, vc);
	vc->state = VD_C_GONE;
	l->live--;
	vd_metrics_conn(l->srv->d->metrics, why);
	if (vc->fd >= 0)
		(void)shutdown(vc->fd, SHUT_RDWR);
}

/* The connection to close to make room, other than except (with peer, only
 * that peer's): the oldest without a complete head, else the oldest idle
 * keep-alive one. Head-less ones go first: a slow-loris or idle flood is
 * made of them, while a kept-alive connection has completed a request and a
 * prompt new one sends its head at once (and is the newest). */
static struct vd_conn *
oldest_evictable(struct vd_listener *l, const struct vd_conn *except, const uint8_t *peer)
{
	static const enum vd_cstate from[] = {VD_C_HEAD, VD_C_IDLE};
	struct vd_conn *vc;
	size_t i;

	for (i = 0; i < PV_NELEM(from); i++) {
		for (vc = l->first[from[i]]; vc != NULL; vc = vc->next) {
			if (vc != except &&
			    (peer == NULL || memcmp(vc->peer_id, peer, sizeof(vc->peer_id)) == 0))
				return vc; /* the lists are oldest first */
		}
	}
	return NULL;
}

static unsigned
peer_count(const struct vd_listener *l, const uint8_t *peer)
{
	const struct vd_conn *vc;
	unsigned n = 0, st;

	for (st = 0; st < VD_C_NLISTS; st++) {
		for (vc = l->first[st]; vc != NULL; vc = vc->next)
			n += memcmp(vc->peer_id, peer, sizeof(vc->peer_id)) == 0;
	}
	return n;
}

/* A new connection: over its peer's cap or the listener's budget, the
 * oldest idle or head-less connection (of the same peer, for the cap)
 * makes room; when there is none, the new one is refused. Near the budget
 * (7/8), one such connection is closed per new one, so room stays. */
static void
admit(struct vd_listener *l, struct vd_conn *vc)
{
	struct vd_server *srv = l->srv;
	struct vd_conn *victim;

	set_state(l, vc, VD_C_HEAD);
	l->live++;
	if (peer_count(l, vc->peer_id) > srv->max_conns_peer) {
		if ((victim = oldest_evictable(l, vc, vc->peer_id)) == NULL) {
			cut(l, vc, VD_CONN_REFUSED_PEER);
			return;
		}
		cut(l, victim, VD_CONN_EVICTED);
	}
	if (l->live > srv->max_conns) {
		if ((victim = oldest_evictable(l, vc, NULL)) == NULL) {
			cut(l, vc, VD_CONN_REFUSED_BUDGET);
			return;
		}
		cut(l, victim, VD_CONN_EVICTED);
	}
	if (l->live > srv->max_conns - srv->max_conns / 8 && (victim = oldest_evictable(l, vc, NULL)) != NULL)
		cut(l, victim, VD_CONN_EVICTED);
}

static void
peer_id_of(struct vd_listener *l, struct MHD_Connection *c, struct vd_conn *vc)
{
	const union MHD_ConnectionInfo *ci;
	uint32_t uid;

	memset(vc->peer_id, 0, sizeof(vc->peer_id));
	if (l->is_unix) {
		if (vc->fd >= 0 && vd_unix_peer_uid(vc->fd, &uid) == 0) {
			vc->peer_id[0] = 1;
			memcpy(vc->peer_id + 1, &uid, sizeof(uid));
		}
		return;
	}
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || ci->client_addr == NULL)
		return;
	if (ci->client_addr->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)ci->client_addr;

		vc->peer_id[0] = 4;
		memcpy(vc->peer_id + 1, &in->sin_addr, sizeof(in->sin_addr));
	} else if (ci->client_addr->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)ci->client_addr;

		vc->peer_id[0] = 6;
		memcpy(vc->peer_id + 1, &in6->sin6_addr, sizeof(in6->sin6_addr));
	}
}

static void
on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx,
	      enum MHD_ConnectionNotificationCode what)
{
	struct vd_listener *l = cls;
	struct vd_conn *vc;
	const union MHD_ConnectionInfo *ci;

	if (what == MHD_CONNECTION_NOTIFY_STARTED) {
		vc = calloc(1, sizeof(*vc));
		*socket_ctx = vc;
		if (vc == NULL)
			return; /* conn_of fails: the request is dropped */
		vc->l = l;
		vc->state = VD_C_NEW;
		ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		vc->fd = ci != NULL ? (int)ci->connect_fd : -1;
		peer_id_of(l, c, vc);
		pthread_mutex_lock(&l->srv->mu);
		admit(l, vc);
		pthread_mutex_unlock(&l->srv->mu);
	} else if (what == MHD_CONNECTION_NOTIFY_CLOSED) {
		vc = *socket_ctx;
		if (vc != NULL) {
			pthread_mutex_lock(&l->srv->mu);
			if (vc->state < VD_C_NLISTS) {
				list_unlink(l, vc);
				l->live--;
			}
			vc->state = VD_C_GONE;
			vc->fd = -1;
			pthread_mutex_unlock(&l->srv->mu);
		}
		free(vc);
		*socket_ctx = NULL;
	}
}

static void
move_conn(struct vd_listener *l, struct MHD_Connection *c, enum vd_cstate st)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct vd_conn *vc = ci != NULL ? ci->socket_context : NULL;

	if (vc == NULL)
		return;
	pthread_mutex_lock(&l->srv->mu);
	set_state(l, vc, st);
	pthread_mutex_unlock(&l->srv->mu);
}

static void
reap_list(struct vd_listener *l, enum vd_cstate st, uint32_t ms, enum vd_conn_event why,
	  const struct timespec *now, struct timespec *next)
{
	struct vd_conn *vc;
	struct timespec dl;

	while ((vc = l->first[st]) != NULL) {
		dl.tv_sec = vc->since.tv_sec + (time_t)(ms / 1000);
		dl.tv_nsec = vc->since.tv_nsec + (long)(ms % 1000) * 1000000L;
		if (dl.tv_nsec >= 1000000000L) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000L;
		}
		if (dl.tv_sec > now->tv_sec || (dl.tv_sec == now->tv_sec && dl.tv_nsec > now->tv_nsec)) {
			if (dl.tv_sec < next->tv_sec ||
			    (dl.tv_sec == next->tv_sec && dl.tv_nsec < next->tv_nsec))
				*next = dl;
			return;
		}
		cut(l, vc, why);
	}
}

/* The reaper: cuts connections past their head, body or idle deadline. */
static void *
reaper_main(void *arg)
{
	struct vd_server *srv = arg;
	struct timespec now, next;
	size_t i;

	pthread_mutex_lock(&srv->mu);
	while (!srv->reaper_stop) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		next = now;
		next.tv_nsec += VD_REAPER_TICK_MS * 1000000L;
		if (next.tv_nsec >= 1000000000L) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000L;
		}
		for (i = 0; i < srv->n; i++) {
			reap_list(&srv->l[i], VD_C_HEAD, srv->head_ms, VD_CONN_CUT_HEADER, &now, &next);
			reap_list(&srv->l[i], VD_C_BODY, srv->body_ms, VD_CONN_CUT_BODY, &now, &next);
			reap_list(&srv->l[i], VD_C_IDLE, srv->timeout_ms, VD_CONN_CUT_IDLE, &now, &next);
		}
		(void)pthread_cond_timedwait(&srv->reaper_wake, &srv->mu, &next);
	}
	pthread_mutex_unlock(&srv->mu);
	return NULL;
}

/* ---- requests ---- */

static void
body_wipe(struct vd_reqctx *rc)
{
	if (rc->body != NULL) {
		sodium_memzero(rc->body, rc->cap);
		free(rc->body);
	}
	rc->body = NULL;
	rc->len = rc->cap = 0;
}

/* Grow the body buffer to hold need bytes (need <= max). Moves instead of
 * realloc so that no unwiped copy of the input stays behind. */
static int
body_reserve(struct vd_reqctx *rc, size_t need, size_t max)
{
	size_t cap = rc->cap ? rc->cap : VD_BODY_FIRST;
	uint8_t *p;

	if (need <= rc->cap)
		return 1;
	while (cap < need)
		cap = cap > max / 2 ? max : cap * 2;
	if (cap < need)
		return 0;
	p = malloc(cap);
	if (p == NULL)
		return 0;
	if (rc->len > 0)
		memcpy(p, rc->body, rc->len);
	if (rc->body != NULL) {
		sodium_memzero(rc->body, rc->cap);
		free(rc->body);
	}
	rc->body = p;
	rc->cap = cap;
	return 1;
}

static enum MHD_Result
count_authorization(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	unsigned *n = cls;

	(void)kind;
	(void)value;
	if (key != NULL && strcasecmp(key, MHD_HTTP_HEADER_AUTHORIZATION) == 0)
		(*n)++;
	return MHD_YES;
}

/* The response body belongs to MHD until it is sent; it may hold a secret
 * value, so it is wiped before it is freed. */
struct vd_owned_body {
	char *p;
	size_t n;
};

static void
free_owned_body(void *cls)
{
	struct vd_owned_body *b = cls;

	sodium_memzero(b->p, b->n);
	free(b->p);
	free(b);
}

static enum MHD_Result
send_resp(struct vd_server *srv, struct MHD_Connection *c, const char *rid, struct vd_resp *resp,
	  int close_after)
{
	struct MHD_Response *r = NULL;
	struct vd_owned_body *ob = NULL;
	enum MHD_Result ret = MHD_NO;
	char num[32];
	unsigned status = resp->status;

	if (resp->body != NULL && resp->body_len > 0) {
		ob = malloc(sizeof(*ob));
		if (ob == NULL)
			goto out;
		ob->p = resp->body;
		ob->n = resp->body_len;
		resp->body = NULL;
		r = MHD_create_response_from_buffer_with_free_callback_cls(ob->n, ob->p, free_owned_body, ob);
		if (r == NULL) {
			resp->body = ob->p;
			free(ob);
			goto out;
		}
	} else {
		r = MHD_create_response_from_buffer(0, (void *)(uintptr_t) "", MHD_RESPMEM_PERSISTENT);
		if (r == NULL)
			goto out;
	}
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				    resp->content_type ? resp->content_type : "application/json") !=
		MHD_YES ||
	    MHD_add_response_header(r, "X-Request-Id", rid) != MHD_YES ||
	    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL,
				    resp->cache_control ? resp->cache_control : "no-store") != MHD_YES ||
	    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff") != MHD_YES)
		goto out;
	if (resp->retry_after > 0) {
		snprintf(num, sizeof(num), "%u", resp->retry_after);
		if (MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, num) != MHD_YES)
			goto out;
	}
	if (resp->etag[0] != '\0' && MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, resp->etag) != MHD_YES)
		goto out;
	/* While draining, a keep-alive connection ends after this answer;
	 * after a request that broke HTTP, what follows cannot be trusted. */
	if ((close_after || atomic_load(&srv->draining)) &&
	    MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close") != MHD_YES)
		goto out;
	if (status < 100 || status > 599)
		status = MHD_HTTP_INTERNAL_SERVER_ERROR;
	ret = MHD_queue_response(c, status, r);
out:
	if (r != NULL)
		MHD_destroy_response(r);
	if (resp->body != NULL) {
		sodium_memzero(resp->body, resp->body_len);
		free(resp->body);
		resp->body = NULL;
	}
	return ret;
}

/* ---- strict HTTP/1.1 (what MHD's parser lets through; docs/api.md) ---- */

struct hdr_scan {
	unsigned n_cl, n_te;
	const char *te;
	const char *bad;
};

/* A header value: no control byte but HTAB, no DEL, no NUL inside. */
static int
field_value_ok(const char *v, size_t n)
{
	size_t i;

	if (v == NULL)
		return n == 0;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)v[i];

		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return 0;
	}
	return strlen(v) == n;
}

/* A header name: an RFC 9110 token. */
static int
field_name_ok(const char *k, size_t n)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";
	size_t i;

	if (k == NULL || n == 0 || strlen(k) != n)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)k[i];

		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch != '\0' && strchr(extra, ch) != NULL)))
			return 0;
	}
	return 1;
}

static enum MHD_Result
scan_header(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size, const char *value,
	    size_t value_size)
{
	struct hdr_scan *h = cls;

	(void)kind;
	if (!field_name_ok(key, key_size)) {
		h->bad = "malformed header name";
		return MHD_NO;
	}
	if (!field_value_ok(value, value_size)) {
		h->bad = "control byte in a header value";
		return MHD_NO;
	}
	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
		h->n_cl++;
	else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
		h->n_te++;
		h->te = value;
	}
	return MHD_YES;
}

const char *
vd_http_strict_check(struct MHD_Connection *c, const char *url)
{
	struct hdr_scan h;
	const unsigned char *u;

	for (u = (const unsigned char *)url; u != NULL && *u != '\0'; u++) {
		if (*u <= 0x20 || *u == 0x7f)
			return "control byte or space in the request target";
	}
	memset(&h, 0, sizeof(h));
	(void)MHD_get_connection_values_n(c, MHD_HEADER_KIND, scan_header, &h);
	if (h.bad != NULL)
		return h.bad;
	if (h.n_cl > 1)
		return "Content-Length repeated";
	if (h.n_te > 1)
		return "Transfer-Encoding repeated";
	if (h.n_cl > 0 && h.n_te > 0)
		return "Content-Length together with Transfer-Encoding";
	if (h.n_te > 0 && strcasecmp(h.te, "chunked") != 0)
		return "a transfer coding other than chunked";
	return NULL;
}

/* ---- the worker queue ---- */

static void
run_job(struct vd_server *srv, struct vd_reqctx *rc)
{
	if (rc->reject_status != 0)
		vd_dispatch_reject(srv->d, &rc->req, rc->reject_status, rc->reject_code, rc->reject_msg,
				   &rc->resp);
	else
		vd_dispatch(srv->d, &rc->req, &rc->resp);
	atomic_store(&rc->done, 1);
}

static void *
worker_main(void *arg)
{
	struct vd_server *srv = arg;
	struct vd_job *j;

	pthread_mutex_lock(&srv->qmu);
	for (;;) {
		while (srv->qhead == NULL && !srv->qstop)
			pthread_cond_wait(&srv->qcond, &srv->qmu);
		if ((j = srv->qhead) == NULL)
			break; /* stopping, and nothing left */
		srv->qhead = j->next;
		if (srv->qhead == NULL)
			srv->qtail = NULL;
		pthread_mutex_unlock(&srv->qmu);
		run_job(srv, j->rc);
		/* MHD queues the answer from the event loop (on_request) */
		MHD_resume_connection(j->c);
		pthread_mutex_lock(&srv->qmu);
	}
	pthread_mutex_unlock(&srv->qmu);
	return NULL;
}

/* Build the vd_req (or the server's own refusal) in rc. The strings it
 * points to belong to the connection and stay while it is suspended. */
static int
build_req(struct vd_listener *l, struct MHD_Connection *c, struct vd_reqctx *rc, const char *url,
	  const char *method)
{
	struct vd_server *srv = l->srv;
	struct vd_req *req = &rc->req;
	struct vd_conn *vc = conn_of(l, c);
	unsigned n_auth = 0;
	const char *auth;

	if (vc == NULL)
		return -1;
	memset(req, 0, sizeof(*req));
	memset(&rc->resp, 0, sizeof(rc->resp));
	req->method = method;
	req->path = url;
	req->peer = vc->peer;
	memcpy(req->rid, rc->rid, sizeof(req->rid));
	req->start = rc->start;
	MHD_get_connection_values(c, MHD_HEADER_KIND, count_authorization, &n_auth);
	auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	/* a header that was sent counts, whatever the lookup makes of an
	 * empty value */
	vd_parse_authorization(auth == NULL && n_auth > 0 ? "" : auth, &req->bearer, &req->bad_authorization);
	if (n_auth > 1) { /* which one counts would be a guess */
		req->bearer = NULL;
		req->bad_authorization = 1;
	}
	req->if_none_match = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
	if (rc->bad_http != NULL) {
		body_wipe(rc);
		rc->reject_status = MHD_HTTP_BAD_REQUEST;
		rc->reject_code = "bad_request";
		snprintf(rc->reject_msg, sizeof(rc->reject_msg), "malformed HTTP request: %s", rc->bad_http);
	} else if (rc->too_large) {
		body_wipe(rc);
		rc->reject_status = MHD_HTTP_CONTENT_TOO_LARGE;
		rc->reject_code = "too_large";
		snprintf(rc->reject_msg, sizeof(rc->reject_msg), "request body over the limit of %zu bytes",
			 srv->max_body);
	} else if (vc->cert_untrusted) {
		rc->reject_status = MHD_HTTP_UNAUTHORIZED;
		rc->reject_code = "unauthenticated";
		snprintf(rc->reject_msg, sizeof(rc->reject_msg), "client certificate not trusted");
	} else {
		req->body = rc->len > 0 ? rc->body : NULL;
		req->body_len = rc->len;
	}
	return 0;
}

/* The request is complete (or refused before its body): suspend the
 * connection and queue the request for a worker. When the workers are
 * gone (stopping), it runs here. */
static enum MHD_Result
submit(struct vd_listener *l, struct MHD_Connection *c, struct vd_reqctx *rc, const char *url,
       const char *method)
{
	struct vd_server *srv = l->srv;
	int inline_run = 0;

	rc->submitted = 1;
	if (build_req(l, c, rc, url, method) != 0)
		return MHD_NO;
	move_conn(l, c, VD_C_BUSY);
	rc->job.next = NULL;
	rc->job.l = l;
	rc->job.c = c;
	rc->job.rc = rc;
	pthread_mutex_lock(&srv->qmu);
	if (srv->qstop || srv->nworkers == 0) {
		inline_run = 1;
	} else {
		MHD_suspend_connection(c);
		if (srv->qtail != NULL)
			srv->qtail->next = &rc->job;
		else
			srv->qhead = &rc->job;
		srv->qtail = &rc->job;
		pthread_cond_signal(&srv->qcond);
	}
	pthread_mutex_unlock(&srv->qmu);
	if (!inline_run)
		return MHD_YES;
	run_job(srv, rc);
	rc->sent = 1;
	return send_resp(srv, c, rc->rid, &rc->resp, rc->bad_http != NULL);
}

static enum MHD_Result
begin_request(struct vd_listener *l, struct MHD_Connection *c, const char *url, const char *method,
	      void **req_ctx)
{
	struct vd_server *srv = l->srv;
	struct vd_reqctx *rc = calloc(1, sizeof(*rc));
	const char *cl;
	uint64_t len;

	if (rc == NULL)
		return MHD_NO;
	clock_gettime(CLOCK_MONOTONIC, &rc->start);
	vd_request_id(rc->rid);
	atomic_init(&rc->done, 0);
	atomic_fetch_add(&srv->d->inflight, 1);
	*req_ctx = rc;
	move_conn(l, c, VD_C_BODY);
	/* Refused before a byte of the body is read. */
	if ((rc->bad_http = vd_http_strict_check(c, url)) != NULL)
		return submit(l, c, rc, url, method);
	cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl != NULL && (vd_parse_content_length(cl, &len) != PV_OK || len > srv->max_body)) {
		rc->too_large = 1;
		return submit(l, c, rc, url, method);
	}
	return MHD_YES;
}

static enum MHD_Result
take_body(struct vd_server *srv, struct vd_reqctx *rc, const char *data, size_t *size)
{
	size_t n = *size;

	*size = 0;
	/* The reaper cuts a body that trickles past limits.body_timeout_ms;
	 * this catches one that arrives in a burst just after. */
	if (seconds_since(&rc->start) * 1000.0 > (double)srv->body_ms)
		return MHD_NO;
	if (rc->too_large || rc->submitted)
		return MHD_YES; /* read and thrown away, then 413 */
	if (n > srv->max_body - rc->len) {
		rc->too_large = 1;
		body_wipe(rc);
		return MHD_YES;
	}
	if (!body_reserve(rc, rc->len + n, srv->max_body))
		return MHD_NO;
	memcpy(rc->body + rc->len, data, n);
	rc->len += n;
	return MHD_YES;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method, const char *version,
	   const char *upload_data, size_t *upload_size, void **req_ctx)
{
	struct vd_listener *l = cls;
	struct vd_reqctx *rc = *req_ctx;

	(void)version;
	if (rc == NULL)
		return begin_request(l, c, url, method, req_ctx);
	if (rc->submitted && !rc->sent && atomic_load(&rc->done)) {
		/* back from the worker */
		rc->sent = 1;
		return send_resp(l->srv, c, rc->rid, &rc->resp, rc->bad_http != NULL);
	}
	if (*upload_size > 0)
		return take_body(l->srv, rc, upload_data, upload_size);
	if (rc->submitted)
		return MHD_YES;
	return submit(l, c, rc, url, method);
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **req_ctx, enum MHD_RequestTerminationCode why)
{
	struct vd_listener *l = cls;
	struct vd_reqctx *rc = *req_ctx;

	(void)why;
	if (rc == NULL)
		return;
	move_conn(l, c, VD_C_IDLE);
	body_wipe(rc);
	if (rc->resp.body != NULL) {
		sodium_memzero(rc->resp.body, rc->resp.body_len);
		free(rc->resp.body);
	}
	free(rc);
	*req_ctx = NULL;
	atomic_fetch_sub(&l->srv->d->inflight, 1);
}

/* The path stays as sent: routes match the raw path, so "%2F" is never a
 * separator. */
static size_t
keep_escaped(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return strlen(s);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) PV_PRINTF(2, 0);

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	/* One line per connection that ends early would let any client fill
	 * the log: those are counted in /metrics instead (cut, refused). */
	if (strstr(line, "when reading request") != NULL || strstr(line, "while reading request") != NULL ||
	    strstr(line, "reached connection limit") != NULL || strstr(line, "TLS handshake") != NULL ||
	    strstr(line, "Error: received handshake") != NULL)
		return;
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	fprintf(stderr, "vaultd: http: %s\n", line);
}

/* ---- sockets ---- */

pv_err
vd_set_nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) {
		pv_err_set_detail("fcntl: %s", strerror(errno));
		return PV_ERR_IO;
	}
	return PV_OK;
}

/* "127.0.0.1:8443", "[::1]:8443", "localhost:8443" */
static pv_err
split_address(const char *addr, char *host, size_t hostsz, const char **port)
{
	const char *colon, *h = addr;
	size_t hl;

	if (addr[0] == '[') {
		const char *end = strchr(addr, ']');

		if (end == NULL || end[1] != ':')
			goto bad;
		h = addr + 1;
		hl = (size_t)(end - h);
		colon = end + 1;
	} else {
		colon = strrchr(addr, ':');
		if (colon == NULL)
			goto bad;
		hl = (size_t)(colon - addr);
	}
	if (hl == 0 || hl >= hostsz || colon[1] == '\0')
		goto bad;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = colon + 1;
	return PV_OK;
bad:
	pv_err_set_detail("listen.tcp.address: not HOST:PORT");
	return PV_ERR_USAGE;
}

static pv_err
tcp_listen(const struct pv_config *cfg, int *out)
{
	struct addrinfo hints, *ai = NULL;
	char host[256];
	const char *port = NULL;
	int fd = -1, one = 1, e;
	pv_err r;

	if ((r = split_address(cfg->listen.tcp_address, host, sizeof(host), &port)) != PV_OK)
		return r;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	e = getaddrinfo(host, port, &hints, &ai);
	if (e != 0 || ai == NULL) {
		pv_err_set_detail("listen.tcp.address: %s", gai_strerror(e));
		r = PV_ERR_USAGE;
		goto out;
	}
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0) {
		pv_err_set_detail("socket: %s", strerror(errno));
		r = PV_ERR_IO;
		goto out;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ai->ai_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		pv_err_set_detail("listen.tcp.address: bind %s: %s", cfg->listen.tcp_address,
				  strerror(errno));
		r = PV_ERR_IO;
		goto out;
	}
	if (listen(fd, VD_LISTEN_BACKLOG) != 0) {
		pv_err_set_detail("listen %s: %s", cfg->listen.tcp_address, strerror(errno));
		r = PV_ERR_IO;
		goto out;
	}
	if ((r = vd_set_nonblocking(fd)) != PV_OK)
		goto out;
	*out = fd;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	if (ai != NULL)
		freeaddrinfo(ai);
	return r;
}

static pv_err
start_mhd(struct vd_server *srv, struct vd_listener *l, const struct pv_config *cfg)
{
	struct MHD_OptionItem tls[VD_TLS_OPTIONS + 1];
	struct vd_tls_pems pems = {NULL, NULL, NULL};
	/* One event loop per listener; complete requests go to the workers. */
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG |
			 MHD_ALLOW_SUSPEND_RESUME;
	size_t n = 0;
	pv_err r = PV_OK;

	if (!l->is_unix) {
		flags |= MHD_USE_TLS;
		if ((r = vd_tls_options(cfg, &pems, tls, &n, &l->verify_clients)) != PV_OK)
			goto out;
	}
	tls[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};

	l->srv = srv;
	/* The logger first, so that MHD's messages about the other options
	 * already go through it. MHD's own connection limit leaves room for
	 * connections cut (GONE) that it has not closed yet; the budget is
	 * kept by admit(). */
	l->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, l, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
				  NULL, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)l->fd,
				  MHD_OPTION_CONNECTION_TIMEOUT, vd_timeout_seconds(srv->timeout_ms),
				  MHD_OPTION_CONNECTION_LIMIT, srv->max_conns + srv->max_conns / 4 + 16,
				  MHD_OPTION_NOTIFY_COMPLETED, on_completed, l, MHD_OPTION_NOTIFY_CONNECTION,
				  on_connection, l, MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, NULL,
				  MHD_OPTION_STRICT_FOR_CLIENT, 1, MHD_OPTION_ARRAY, tls, MHD_OPTION_END);
	if (l->mhd == NULL) {
		pv_err_set_detail("%s: libmicrohttpd did not start (see its message above)",
				  l->is_unix ? "listen.unix" : "listen.tcp");
		r = PV_ERR_INTERNAL;
		/* Whether MHD closed the socket it was given is not said. */
		if (fcntl(l->fd, F_GETFD) >= 0)
			close(l->fd);
		l->fd = -1;
	}
out:
	/* GnuTLS parsed the PEMs at start; no copy stays here. */
	vd_tls_pems_free(&pems);
	return r;
}

/* Enough descriptors for every listener's budget (MHD's own limit), with
 * room for the token and the audit log: the soft limit is raised towards
 * the hard one. */
static void
raise_fd_limit(const struct vd_server *srv, unsigned listeners)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)listeners * (srv->max_conns + srv->max_conns / 4 + 16) + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
}

static pv_err
start_threads(struct vd_server *srv, unsigned workers)
{
	pthread_condattr_t ca;
	unsigned i;

	if (pthread_condattr_init(&ca) != 0)
		return PV_ERR_NOMEM;
	(void)pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&srv->mu, NULL);
	pthread_cond_init(&srv->reaper_wake, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&srv->qmu, NULL);
	pthread_cond_init(&srv->qcond, NULL);
	srv->sync_init = 1;
	if ((srv->workers = calloc(workers, sizeof(*srv->workers))) == NULL)
		return PV_ERR_NOMEM;
	for (i = 0; i < workers; i++) {
		if (pthread_create(&srv->workers[i], NULL, worker_main, srv) != 0) {
			pv_err_set_detail("cannot start worker threads");
			return PV_ERR_INTERNAL;
		}
		srv->nworkers++;
	}
	return PV_OK;
}

pv_err
vd_server_start(struct vd_daemon *d, const struct pv_config *cfg, struct vd_server **out)
{
	struct vd_server *srv = NULL;
	struct vd_listener *l;
	pv_err r = PV_OK;

	srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		return PV_ERR_NOMEM;
	srv->d = d;
	srv->max_body = cfg->limits.max_body_bytes;
	srv->timeout_ms = cfg->limits.request_timeout_ms;
	srv->head_ms = cfg->limits.header_timeout_ms;
	srv->body_ms = cfg->limits.body_timeout_ms;
	srv->max_conns = cfg->limits.max_connections;
	srv->max_conns_peer = cfg->limits.max_connections_per_peer;
	atomic_init(&srv->draining, 0);
	raise_fd_limit(srv, (unsigned)(cfg->listen.has_unix + cfg->listen.has_tcp));
	if ((r = start_threads(srv, cfg->workers)) != PV_OK)
		goto out;
	if (cfg->listen.has_unix) {
		l = &srv->l[srv->n];
		l->is_unix = 1;
		if ((r = vd_unix_listen(srv, cfg, &l->fd)) != PV_OK)
			goto out;
		l->srv = srv;
		srv->n++;
	}
	if (cfg->listen.has_tcp) {
		l = &srv->l[srv->n];
		if ((r = tcp_listen(cfg, &l->fd)) != PV_OK)
			goto out;
		l->srv = srv;
		srv->n++;
	}
	if (srv->n == 0) {
		pv_err_set_detail("listen: no listener configured");
		r = PV_ERR_USAGE;
		goto out;
	}
	/* The reaper reads srv->n: the listeners are all there. */
	if (pthread_create(&srv->reaper, NULL, reaper_main, srv) != 0) {
		pv_err_set_detail("cannot start the connection reaper");
		r = PV_ERR_INTERNAL;
		goto out;
	}
	srv->reaper_started = 1;
	for (size_t i = 0; i < srv->n; i++) {
		if ((r = start_mhd(srv, &srv->l[i], cfg)) != PV_OK)
			goto out;
	}
	*out = srv;
	srv = NULL;
out:
	vd_server_stop(srv);
	return r;
}

void
vd_server_quiesce(struct vd_server *s)
{
	size_t i;

	if (s == NULL)
		return;
	atomic_store(&s->draining, 1);
	for (i = 0; i < s->n; i++) {
		if (s->l[i].mhd != NULL && !s->l[i].quiesced &&
		    MHD_quiesce_daemon(s->l[i].mhd) != MHD_INVALID_SOCKET)
			s->l[i].quiesced = 1;
	}
}

void
vd_server_stop(struct vd_server *s)
{
	size_t i;

	if (s == NULL)
		return;
	/* The workers finish what is queued and end; a request completed
	 * after this runs in its event loop. Then the reaper, then MHD. */
	if (s->sync_init) {
		pthread_mutex_lock(&s->qmu);
		s->qstop = 1;
		pthread_cond_broadcast(&s->qcond);
		pthread_mutex_unlock(&s->qmu);
		for (i = 0; i < s->nworkers; i++)
			pthread_join(s->workers[i], NULL);
		if (s->reaper_started) {
			pthread_mutex_lock(&s->mu);
			s->reaper_stop = 1;
			pthread_cond_signal(&s->reaper_wake);
			pthread_mutex_unlock(&s->mu);
			pthread_join(s->reaper, NULL);
		}
	}
	for (i = 0; i < s->n; i++) {
		struct vd_listener *l = &s->l[i];

		if (l->mhd != NULL) {
			MHD_stop_daemon(l->mhd);
			l->mhd = NULL;
			/* MHD closes its listening socket unless it gave it back. */
			if (!l->quiesced)
				l->fd = -1;
		}
		if (l->fd >= 0)
			close(l->fd);
		l->fd = -1;
	}
	if (s->sync_init) {
		pthread_mutex_destroy(&s->mu);
		pthread_cond_destroy(&s->reaper_wake);
		pthread_mutex_destroy(&s->qmu);
		pthread_cond_destroy(&s->qcond);
	}
	free(s->workers);
	/* Remove the socket file only if it is still the one we made. */
	vd_unix_remove_own(s);
	free(s->unix_path);
	free(s);
}
