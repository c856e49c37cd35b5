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
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>
#include <sodium.h>

#include "vaultd/server_int.h"

#define VD_CONNECTION_LIMIT 512 /* per listener, shared by its workers */
#define VD_BODY_FIRST       4096

/* Per request (MHD's request context). */
struct vd_reqctx {
	struct timespec start;
	char rid[VD_RID_LEN + 1];
	uint8_t *body;
	size_t len, cap;
	int too_large;
	int answered;
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

static void
on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx,
	      enum MHD_ConnectionNotificationCode what)
{
	(void)cls;
	(void)c;
	if (what == MHD_CONNECTION_NOTIFY_STARTED) {
		*socket_ctx = calloc(1, sizeof(struct vd_conn));
	} else if (what == MHD_CONNECTION_NOTIFY_CLOSED) {
		free(*socket_ctx);
		*socket_ctx = NULL;
	}
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
send_resp(struct vd_server *srv, struct MHD_Connection *c, const char *rid, struct vd_resp *resp)
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
	/* While draining, a keep-alive connection ends after this answer. */
	if (atomic_load(&srv->draining) &&
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

/* Build the vd_req, hand it to the dispatcher (or refuse it), send. */
static enum MHD_Result
answer(struct vd_listener *l, struct MHD_Connection *c, struct vd_reqctx *rc, const char *url,
       const char *method)
{
	struct vd_server *srv = l->srv;
	struct vd_req req;
	struct vd_resp resp;
	struct vd_conn *vc = conn_of(l, c);
	unsigned n_auth = 0;
	const char *auth;
	char msg[96];

	if (vc == NULL)
		return MHD_NO;
	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	req.method = method;
	req.path = url;
	req.peer = vc->peer;
	memcpy(req.rid, rc->rid, sizeof(req.rid));
	req.start = rc->start;
	MHD_get_connection_values(c, MHD_HEADER_KIND, count_authorization, &n_auth);
	auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	/* a header that was sent counts, whatever the lookup makes of an
	 * empty value */
	vd_parse_authorization(auth == NULL && n_auth > 0 ? "" : auth, &req.bearer, &req.bad_authorization);
	if (n_auth > 1) { /* which one counts would be a guess */
		req.bearer = NULL;
		req.bad_authorization = 1;
	}
	req.if_none_match = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
	rc->answered = 1;
	if (rc->too_large) {
		body_wipe(rc);
		snprintf(msg, sizeof(msg), "request body over the limit of %zu bytes", srv->max_body);
		vd_dispatch_reject(srv->d, &req, MHD_HTTP_CONTENT_TOO_LARGE, "too_large", msg, &resp);
	} else if (vc->cert_untrusted) {
		vd_dispatch_reject(srv->d, &req, MHD_HTTP_UNAUTHORIZED, "unauthenticated",
				   "client certificate not trusted", &resp);
	} else {
		req.body = rc->len > 0 ? rc->body : NULL;
		req.body_len = rc->len;
		vd_dispatch(srv->d, &req, &resp);
	}
	return send_resp(srv, c, rc->rid, &resp);
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
	atomic_fetch_add(&srv->d->inflight, 1);
	*req_ctx = rc;
	/* Refused before a byte of the body is read. */
	cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl != NULL && (vd_parse_content_length(cl, &len) != PV_OK || len > srv->max_body)) {
		rc->too_large = 1;
		return answer(l, c, rc, url, method);
	}
	return MHD_YES;
}

static enum MHD_Result
take_body(struct vd_server *srv, struct vd_reqctx *rc, const char *data, size_t *size)
{
	size_t n = *size;

	*size = 0;
	/* A body that trickles in is dropped at the request deadline (MHD's
	 * own timeout only measures idle time). */
	if (seconds_since(&rc->start) * 1000.0 > (double)srv->timeout_ms)
		return MHD_NO;
	if (rc->too_large || rc->answered)
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
	if (*upload_size > 0)
		return take_body(l->srv, rc, upload_data, upload_size);
	if (rc->answered)
		return MHD_YES;
	return answer(l, c, rc, url, method);
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **req_ctx, enum MHD_RequestTerminationCode why)
{
	struct vd_server *srv = cls;
	struct vd_reqctx *rc = *req_ctx;

	(void)c;
	(void)why;
	if (rc == NULL)
		return;
	body_wipe(rc);
	free(rc);
	*req_ctx = NULL;
	atomic_fetch_sub(&srv->d->inflight, 1);
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
start_mhd(struct vd_server *srv, struct vd_listener *l, unsigned workers, const struct pv_config *cfg)
{
	struct MHD_OptionItem tls[VD_TLS_OPTIONS + 1];
	struct vd_tls_pems pems = {NULL, NULL, NULL};
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC | MHD_USE_ERROR_LOG;
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
	 * already go through it. */
	l->mhd = MHD_start_daemon(
	    flags, 0, NULL, NULL, on_request, l, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)l->fd, MHD_OPTION_THREAD_POOL_SIZE, workers,
	    MHD_OPTION_CONNECTION_TIMEOUT, vd_timeout_seconds(srv->timeout_ms), MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)VD_CONNECTION_LIMIT, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL, MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped,
	    NULL, MHD_OPTION_STRICT_FOR_CLIENT, 1, MHD_OPTION_ARRAY, tls, MHD_OPTION_END);
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
	atomic_init(&srv->draining, 0);
	if (cfg->listen.has_unix) {
		l = &srv->l[srv->n];
		l->is_unix = 1;
		if ((r = vd_unix_listen(srv, cfg, &l->fd)) != PV_OK)
			goto out;
		srv->n++;
		if ((r = start_mhd(srv, l, cfg->workers, cfg)) != PV_OK)
			goto out;
	}
	if (cfg->listen.has_tcp) {
		l = &srv->l[srv->n];
		if ((r = tcp_listen(cfg, &l->fd)) != PV_OK)
			goto out;
		srv->n++;
		if ((r = start_mhd(srv, l, cfg->workers, cfg)) != PV_OK)
			goto out;
	}
	if (srv->n == 0) {
		pv_err_set_detail("listen: no listener configured");
		r = PV_ERR_USAGE;
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
	/* Remove the socket file only if it is still the one we made. */
	vd_unix_remove_own(s);
	free(s->unix_path);
	free(s);
}
