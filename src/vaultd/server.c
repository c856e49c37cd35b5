/*
 * vaultd's HTTP layer on libmicrohttpd (server.h). One MHD daemon per
 * listener, each with its own worker thread pool; the sockets are made
 * here (mode and group of the Unix socket must be right before anyone can
 * connect) and handed to MHD.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
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
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "base/secmem.h"
#include "vaultd/server.h"

#define VD_CONNECTION_LIMIT 512 /* per listener, shared by its workers */
#define VD_LISTEN_BACKLOG   128
#define VD_PEM_MAX          ((size_t)1 << 20)
#define VD_BODY_FIRST       4096
/* TLS 1.2 and 1.3 only, GnuTLS's default ciphers for those. */
#define VD_TLS_PRIORITIES   "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

struct vd_listener {
	struct vd_server *srv;
	struct MHD_Daemon *mhd;
	int fd;
	int is_unix;
	int verify_clients; /* listen.tcp.client_ca given */
	int quiesced;       /* MHD gave the listening socket back */
};

struct vd_server {
	struct vd_daemon *d;
	struct vd_listener l[2];
	size_t n;
	size_t max_body;
	uint32_t timeout_ms;
	char *unix_path; /* removed at stop if it is still our socket */
	dev_t unix_dev;
	ino_t unix_ino;
	atomic_int draining;
};

/* Per connection (MHD's socket context): the peer, worked out once. */
struct vd_conn {
	int peer_known;
	int cert_untrusted; /* a client certificate was sent and failed */
	struct pv_peer peer;
};

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
	if (strncasecmp(value, scheme, n) != 0 || (value[n] != ' ' && value[n] != '\0')) {
		*bad = 1;
		return;
	}
	value += n;
	while (*value == ' ')
		value++;
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

/* ---- the peer ---- */

static void
peer_from_unix(struct MHD_Connection *c, struct vd_conn *vc)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct ucred uc;
	socklen_t n = sizeof(uc);

	if (ci == NULL || getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &uc, &n) != 0 ||
	    n != sizeof(uc))
		return;
	vc->peer.has_uid = 1;
	vc->peer.uid = (uint32_t)uc.uid;
}

/* A client certificate counts only when GnuTLS verified its chain against
 * listen.tcp.client_ca; its identity is the SHA-256 of its DER. */
static void
peer_from_tls(struct MHD_Connection *c, struct vd_conn *vc)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	gnutls_session_t s;
	const gnutls_datum_t *certs;
	unsigned n = 0, status = 0;

	if (ci == NULL || ci->tls_session == NULL)
		return;
	s = (gnutls_session_t)ci->tls_session;
	if (gnutls_certificate_type_get(s) != GNUTLS_CRT_X509)
		return;
	certs = gnutls_certificate_get_peers(s, &n);
	if (certs == NULL || n == 0)
		return; /* no certificate: a bearer token may still do */
	if (gnutls_certificate_verify_peers2(s, &status) != GNUTLS_E_SUCCESS || status != 0) {
		vc->cert_untrusted = 1;
		return;
	}
	if (EVP_Digest(certs[0].data, certs[0].size, vc->peer.cert_sha256, NULL, EVP_sha256(), NULL) != 1) {
		vc->cert_untrusted = 1;
		return;
	}
	vc->peer.has_cert = 1;
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
			peer_from_unix(c, vc);
		else if (l->verify_clients)
			peer_from_tls(c, vc);
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
	vd_parse_authorization(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
			       &req.bearer, &req.bad_authorization);
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

static pv_err
set_nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) {
		pv_err_set_detail("fcntl: %s", strerror(errno));
		return PV_ERR_IO;
	}
	return PV_OK;
}

/* An existing file at the socket path: a socket nobody answers on is a
 * leftover and goes; anything else stays and stops the start. */
static pv_err
clear_stale_socket(const struct sockaddr_un *sa)
{
	struct stat st;
	int fd = -1;
	pv_err r = PV_OK;

	if (lstat(sa->sun_path, &st) != 0) {
		if (errno == ENOENT)
			return PV_OK;
		pv_err_set_detail("%s: %s", sa->sun_path, strerror(errno));
		return PV_ERR_IO;
	}
	if (!S_ISSOCK(st.st_mode)) {
		pv_err_set_detail("%s exists and is not a socket", sa->sun_path);
		return PV_ERR_EXISTS;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		pv_err_set_detail("socket: %s", strerror(errno));
		r = PV_ERR_IO;
		goto out;
	}
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0) {
		pv_err_set_detail("%s: another process is listening on it", sa->sun_path);
		r = PV_ERR_EXISTS;
		goto out;
	}
	if (errno != ECONNREFUSED) {
		pv_err_set_detail("%s: %s", sa->sun_path, strerror(errno));
		r = PV_ERR_IO;
		goto out;
	}
	if (unlink(sa->sun_path) != 0) {
		pv_err_set_detail("%s: cannot remove the stale socket: %s", sa->sun_path, strerror(errno));
		r = PV_ERR_IO;
	}
out:
	if (fd >= 0)
		close(fd);
	return r;
}

static pv_err
group_id(const char *name, gid_t *out)
{
	struct group gr, *res = NULL;
	char buf[4096];
	int e = getgrnam_r(name, &gr, buf, sizeof(buf), &res);

	if (e != 0 || res == NULL) {
		pv_err_set_detail("listen.unix.group: no group \"%s\"", name);
		return PV_ERR_NOT_FOUND;
	}
	*out = gr.gr_gid;
	return PV_OK;
}

static pv_err
unix_listen(struct vd_server *srv, const struct pv_config *cfg, int *out)
{
	struct sockaddr_un sa;
	struct stat st;
	gid_t gid = (gid_t)-1;
	mode_t old_umask;
	int fd = -1, rc;
	pv_err r;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(cfg->listen.unix_path) >= sizeof(sa.sun_path)) {
		pv_err_set_detail("listen.unix.path: too long for a socket");
		return PV_ERR_USAGE;
	}
	memcpy(sa.sun_path, cfg->listen.unix_path, strlen(cfg->listen.unix_path));
	if (cfg->listen.unix_group != NULL && (r = group_id(cfg->listen.unix_group, &gid)) != PV_OK)
		return r;
	if ((r = clear_stale_socket(&sa)) != PV_OK)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		pv_err_set_detail("socket: %s", strerror(errno));
		r = PV_ERR_IO;
		goto out;
	}
	/* Born owner-only, then opened up to the configured mode: nobody
	 * connects in between. */
	old_umask = umask(0177);
	rc = bind(fd, (const struct sockaddr *)&sa, sizeof(sa));
	umask(old_umask);
	if (rc != 0) {
		pv_err_set_detail("bind %s: %s", sa.sun_path, strerror(errno));
		r = PV_ERR_IO;
		goto out;
	}
	if (lstat(sa.sun_path, &st) != 0) {
		pv_err_set_detail("%s: %s", sa.sun_path, strerror(errno));
		r = PV_ERR_IO;
		goto out;
	}
	srv->unix_dev = st.st_dev;
	srv->unix_ino = st.st_ino;
	srv->unix_path = strdup(sa.sun_path);
	if (srv->unix_path == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	if (gid != (gid_t)-1 && lchown(sa.sun_path, (uid_t)-1, gid) != 0) {
		pv_err_set_detail("listen.unix.group: chgrp %s: %s", sa.sun_path, strerror(errno));
		r = PV_ERR_IO;
		goto out;
	}
	if (chmod(sa.sun_path, (mode_t)cfg->listen.unix_mode) != 0) {
		pv_err_set_detail("listen.unix.mode: chmod %s: %s", sa.sun_path, strerror(errno));
		r = PV_ERR_IO;
		goto out;
	}
	if (listen(fd, VD_LISTEN_BACKLOG) != 0) {
		pv_err_set_detail("listen %s: %s", sa.sun_path, strerror(errno));
		r = PV_ERR_IO;
		goto out;
	}
	if ((r = set_nonblocking(fd)) != PV_OK)
		goto out;
	*out = fd;
	fd = -1;
out:
	if (fd >= 0) {
		close(fd);
		if (srv->unix_path != NULL)
			unlink(srv->unix_path);
	}
	return r;
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
	if ((r = set_nonblocking(fd)) != PV_OK)
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

/* A PEM file as a NUL-terminated string in guarded memory (the server key
 * is a secret; certificates simply go the same way). */
static pv_err
read_pem(const char *field, const char *path, pv_secret **out)
{
	pv_secret *raw = NULL, *s = NULL;
	pv_err r;

	r = pv_secret_read_file(path, VD_PEM_MAX, &raw);
	if (r != PV_OK) {
		pv_err_set_detail("%s: cannot read %s: %s", field, path, pv_strerror(r));
		goto out;
	}
	if ((r = pv_secret_new(pv_secret_len(raw) + 1, &s)) != PV_OK)
		goto out;
	if ((r = pv_secret_append(s, pv_secret_ro(raw), pv_secret_len(raw))) != PV_OK ||
	    (r = pv_secret_append(s, "", 1)) != PV_OK)
		goto out;
	*out = s;
	s = NULL;
out:
	pv_secret_free(raw);
	pv_secret_free(s);
	return r;
}

static pv_err
start_mhd(struct vd_server *srv, struct vd_listener *l, unsigned workers, const struct pv_config *cfg)
{
	struct MHD_OptionItem tls[6];
	pv_secret *key = NULL, *cert = NULL, *ca = NULL;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC | MHD_USE_ERROR_LOG;
	size_t n = 0;
	pv_err r = PV_OK;

	if (!l->is_unix) {
		flags |= MHD_USE_TLS;
		if ((r = read_pem("listen.tcp.tls_key", cfg->listen.tls_key, &key)) != PV_OK ||
		    (r = read_pem("listen.tcp.tls_cert", cfg->listen.tls_cert, &cert)) != PV_OK)
			goto out;
		tls[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)pv_secret_rw(key)};
		tls[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)pv_secret_rw(cert)};
		tls[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
						   (void *)(uintptr_t)VD_TLS_PRIORITIES};
		if (cfg->listen.client_ca != NULL) {
			if ((r = read_pem("listen.tcp.client_ca", cfg->listen.client_ca, &ca)) != PV_OK)
				goto out;
			tls[n++] =
			    (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, (void *)pv_secret_rw(ca)};
			l->verify_clients = 1;
		}
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
	pv_secret_free(key);
	pv_secret_free(cert);
	pv_secret_free(ca);
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
		if ((r = unix_listen(srv, cfg, &l->fd)) != PV_OK)
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
	struct stat st;
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
	if (s->unix_path != NULL && lstat(s->unix_path, &st) == 0 && st.st_dev == s->unix_dev &&
	    st.st_ino == s->unix_ino)
		unlink(s->unix_path);
	free(s->unix_path);
	free(s);
}
