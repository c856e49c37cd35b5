/*
 * server.c against a stub dispatcher, over a real Unix socket: what reaches
 * vd_dispatch (method, raw path, bearer, peer uid, body, request id), the
 * body limit (by Content-Length and chunked), the socket's mode, stale and
 * live socket files, the idle timeout, the in-flight counter, the head
 * deadline, the per-peer cap and the strict-parsing refusals.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <gnutls/gnutls.h>
#include <cjson/cJSON.h>
#include <sodium.h>

#include "base/buf.h"
#include "vaultd/metrics.h"
#include "vaultd/server.h"

/* ---- the stub metrics: connection events counted here ---- */

static unsigned conn_events[VD_CONN_NEVENTS];

void
vd_metrics_conn(struct vd_metrics *m, enum vd_conn_event ev)
{
	(void)m;
	if ((unsigned)ev < VD_CONN_NEVENTS)
		__atomic_fetch_add(&conn_events[ev], 1, __ATOMIC_RELAXED);
}

/* ---- the stub dispatcher: echoes what it was given ---- */

static void
stub_reply(struct vd_resp *resp, unsigned status, cJSON *o)
{
	resp->status = status;
	resp->body = cJSON_PrintUnformatted(o);
	resp->body_len = resp->body ? strlen(resp->body) : 0;
	cJSON_Delete(o);
}

void
vd_dispatch(struct vd_daemon *d, const struct vd_req *req, struct vd_resp *resp)
{
	cJSON *o = cJSON_CreateObject();

	(void)d;
	cJSON_AddStringToObject(o, "method", req->method);
	cJSON_AddStringToObject(o, "path", req->path);
	if (req->bearer != NULL)
		cJSON_AddStringToObject(o, "bearer", req->bearer);
	cJSON_AddNumberToObject(o, "bad_authorization", req->bad_authorization);
	cJSON_AddNumberToObject(o, "has_uid", req->peer.has_uid);
	cJSON_AddNumberToObject(o, "uid", req->peer.uid);
	cJSON_AddNumberToObject(o, "body_len", (double)req->body_len);
	cJSON_AddNumberToObject(o, "body_sum",
				(double)(req->body_len ? req->body[0] + req->body[req->body_len - 1] : 0));
	cJSON_AddStringToObject(o, "rid", req->rid);
	if (req->if_none_match != NULL)
		cJSON_AddStringToObject(o, "inm", req->if_none_match);
	resp->retry_after = 7;
	snprintf(resp->etag, sizeof(resp->etag), "\"e1\"");
	stub_reply(resp, 200, o);
}

/* tls_token.c is not linked here: no listener in these tests has its key
 * on a token. */
pv_err vd_tls_token_key(const struct pv_config *cfg, struct vd_daemon *d,
			gnutls_certificate_credentials_t cred, const gnutls_datum_t *cert_pem);
pv_err
vd_tls_token_key(const struct pv_config *cfg, struct vd_daemon *d, gnutls_certificate_credentials_t cred,
		 const gnutls_datum_t *cert_pem)
{
	(void)cfg;
	(void)d;
	(void)cred;
	(void)cert_pem;
	return PV_ERR_USAGE;
}

void
vd_dispatch_reject(struct vd_daemon *d, const struct vd_req *req, unsigned status, const char *code,
		   const char *message, struct vd_resp *resp)
{
	cJSON *o = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(o, "error");

	(void)d;
	assert_null(req->body);
	cJSON_AddStringToObject(e, "code", code);
	cJSON_AddStringToObject(e, "message", message);
	stub_reply(resp, status, o);
}

/* ---- a minimal HTTP client over the Unix socket ---- */

struct reply {
	unsigned status;
	char head[4096];
	cJSON *json;
};

static int
connect_unix(const char *path)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	assert_true(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path));
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void
send_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* the server may close early (413) */
		c += w;
		n -= (size_t)w;
	}
}

/* Read until the server closes (requests say Connection: close). */
static void
read_reply(int fd, struct reply *r)
{
	static char buf[1 << 16];
	size_t len = 0;
	char *body;
	ssize_t n;

	memset(r, 0, sizeof(*r));
	while (len < sizeof(buf) - 1 && (n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	assert_true(sscanf(buf, "HTTP/1.1 %u", &r->status) == 1);
	body = strstr(buf, "\r\n\r\n");
	assert_non_null(body);
	memcpy(r->head, buf,
	       (size_t)(body - buf) < sizeof(r->head) - 1 ? (size_t)(body - buf) : sizeof(r->head) - 1);
	r->json = cJSON_Parse(body + 4);
}

static void
request(const char *path, const char *raw, size_t rawlen, struct reply *r)
{
	int fd = connect_unix(path);

	send_all(fd, raw, rawlen);
	read_reply(fd, r);
	close(fd);
}

static const char *
jstr(const struct reply *r, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->json, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double
jnum(const struct reply *r, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->json, name);

	assert_true(cJSON_IsNumber(v));
	return v->valuedouble;
}

static const char *
error_code(const struct reply *r)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(r->json, "error");
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "code");

	return cJSON_IsString(c) ? c->valuestring : "";
}

/* ---- fixture: a server on a socket in a fresh directory ---- */

struct fx {
	char dir[64];
	char sock[128];
	struct vd_daemon d;
	struct pv_config *cfg;
	struct vd_server *srv;
};

static struct pv_config *
make_config(const char *sock, const char *limits)
{
	char json[1024];
	struct pv_config *cfg = NULL;
	pv_buf *in = NULL;

	snprintf(json, sizeof(json),
		 "{\"token\":{\"uri\":\"pkcs11:token=x\",\"pin_source\":\"env:X\"},"
		 "\"listen\":{\"unix\":{\"path\":\"%s\",\"mode\":\"0660\"}},\"workers\":2,"
		 "\"limits\":%s,\"audit\":{\"file\":\"/nonexistent/a.log\",\"hmac_key\":\"audit-hmac\"},"
		 "\"clients\":[{\"name\":\"c\",\"auth\":{\"uid\":1}}]}",
		 sock, limits);
	assert_int_equal(pv_buf_view(json, strlen(json), &in), PV_OK);
	assert_int_equal(pv_config_parse(in, &cfg), PV_OK);
	pv_buf_free(in);
	return cfg;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *base = getenv("PV_TEST_DIR");

	/* short: the socket path must fit sun_path */
	if (base == NULL || strlen(base) > 40)
		base = "/tmp";
	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "%s/vdsrv.XXXXXX", base);
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->sock, sizeof(f->sock), "%s/s", f->dir);
	f->cfg = make_config(f->sock, "{\"max_body_bytes\":1024,\"request_timeout_ms\":1000}");
	assert_int_equal(vd_server_start(&f->d, f->cfg, &f->srv), PV_OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	vd_server_stop(f->srv);
	pv_config_free(f->cfg);
	unlink(f->sock);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void
free_reply(struct reply *r)
{
	cJSON_Delete(r->json);
	r->json = NULL;
}

/* ---- tests ---- */

static void
test_authorization(void **state)
{
	const char *b;
	int bad;

	(void)state;
	vd_parse_authorization(NULL, &b, &bad);
	assert_null(b);
	assert_int_equal(bad, 0);
	vd_parse_authorization("Bearer pvt_abc", &b, &bad);
	assert_string_equal(b, "pvt_abc");
	assert_int_equal(bad, 0);
	vd_parse_authorization("bearer   x", &b, &bad);
	assert_string_equal(b, "x");
	/* present but empty, or Bearer without a token: refused, never as
	 * if there were no header (that would fall back to the peer uid) */
	vd_parse_authorization("Bearer", &b, &bad);
	assert_null(b);
	assert_int_equal(bad, 1);
	vd_parse_authorization("Bearer   ", &b, &bad);
	assert_null(b);
	assert_int_equal(bad, 1);
	vd_parse_authorization("", &b, &bad);
	assert_null(b);
	assert_int_equal(bad, 1);
	vd_parse_authorization("   ", &b, &bad);
	assert_null(b);
	assert_int_equal(bad, 1);
	vd_parse_authorization("Basic dXNlcjpwYXNz", &b, &bad);
	assert_null(b);
	assert_int_equal(bad, 1);
	vd_parse_authorization("Bearerx", &b, &bad);
	assert_null(b);
	assert_int_equal(bad, 1);
}

static void
test_content_length(void **state)
{
	uint64_t v = 0;

	(void)state;
	assert_int_equal(vd_parse_content_length("0", &v), PV_OK);
	assert_int_equal(v, 0);
	assert_int_equal(vd_parse_content_length("65536", &v), PV_OK);
	assert_int_equal(v, 65536);
	assert_int_equal(vd_parse_content_length("9223372036854775807", &v), PV_OK);
	assert_int_equal(vd_parse_content_length("9223372036854775808", &v), PV_ERR_BAD_INPUT);
	assert_int_equal(vd_parse_content_length("", &v), PV_ERR_BAD_INPUT);
	assert_int_equal(vd_parse_content_length("-1", &v), PV_ERR_BAD_INPUT);
	assert_int_equal(vd_parse_content_length("1 2", &v), PV_ERR_BAD_INPUT);
	assert_int_equal(vd_parse_content_length("+5", &v), PV_ERR_BAD_INPUT);
}

static void
test_request_id_and_timeout(void **state)
{
	char a[VD_RID_LEN + 1], b[VD_RID_LEN + 1];
	size_t i;

	(void)state;
	vd_request_id(a);
	vd_request_id(b);
	assert_int_equal(strlen(a), 22);
	assert_string_not_equal(a, b);
	for (i = 0; i < VD_RID_LEN; i++)
		assert_non_null(
		    strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", a[i]));
}

static void
test_request_reaches_dispatch(void **state)
{
	struct fx *f = *state;
	static const char req[] =
	    "GET /v1/keys/a%2Fb?x=1 HTTP/1.1\r\nHost: v\r\nAuthorization: Bearer pvt_t0k\r\n"
	    "If-None-Match: \"abc\"\r\nConnection: close\r\n\r\n";
	struct reply r;
	struct stat st;

	assert_int_equal(stat(f->sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0660);

	request(f->sock, req, sizeof(req) - 1, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(&r, "method"), "GET");
	assert_string_equal(jstr(&r, "path"), "/v1/keys/a%2Fb"); /* raw, no query */
	assert_string_equal(jstr(&r, "bearer"), "pvt_t0k");
	assert_string_equal(jstr(&r, "inm"), "\"abc\"");
	assert_int_equal((int)jnum(&r, "bad_authorization"), 0);
	assert_int_equal((int)jnum(&r, "has_uid"), 1);
	assert_int_equal((unsigned)jnum(&r, "uid"), (unsigned)getuid());
	assert_int_equal(strlen(jstr(&r, "rid")), VD_RID_LEN);
	/* headers: the same request id, content type, Retry-After, ETag */
	{
		char want[64];

		snprintf(want, sizeof(want), "X-Request-Id: %s\r\n", jstr(&r, "rid"));
		assert_non_null(strstr(r.head, want));
	}
	assert_non_null(strstr(r.head, "Content-Type: application/json\r\n"));
	assert_non_null(strstr(r.head, "Retry-After: 7\r\n"));
	assert_non_null(strstr(r.head, "ETag: \"e1\"\r\n"));
	assert_non_null(strstr(r.head, "Cache-Control: no-store\r\n"));
	free_reply(&r);
	assert_int_equal(atomic_load(&f->d.inflight), 0);
}

static void
test_other_authorization_scheme(void **state)
{
	struct fx *f = *state;
	static const char basic[] = "GET /v1/health HTTP/1.1\r\nHost: v\r\nAuthorization: Basic dTpw\r\n"
				    "Connection: close\r\n\r\n";
	static const char twice[] = "GET /v1/health HTTP/1.1\r\nHost: v\r\nAuthorization: Bearer a\r\n"
				    "Authorization: Bearer b\r\nConnection: close\r\n\r\n";
	static const char *const empty[] = {
	    "GET /v1/health HTTP/1.1\r\nHost: v\r\nAuthorization:\r\nConnection: close\r\n\r\n",
	    "GET /v1/health HTTP/1.1\r\nHost: v\r\nAuthorization: \r\nConnection: close\r\n\r\n",
	    "GET /v1/health HTTP/1.1\r\nHost: v\r\nAuthorization: Bearer\r\nConnection: close\r\n\r\n",
	    "GET /v1/health HTTP/1.1\r\nHost: v\r\nAuthorization: Bearer \r\nConnection: close\r\n\r\n",
	    "GET /v1/health HTTP/1.1\r\nHost: v\r\nauthorization:\r\nConnection: close\r\n\r\n",
	};
	struct reply r;
	size_t i;

	request(f->sock, basic, sizeof(basic) - 1, &r);
	assert_int_equal(r.status, 200);
	assert_null(jstr(&r, "bearer"));
	assert_int_equal((int)jnum(&r, "bad_authorization"), 1);
	free_reply(&r);
	request(f->sock, twice, sizeof(twice) - 1, &r);
	assert_null(jstr(&r, "bearer"));
	assert_int_equal((int)jnum(&r, "bad_authorization"), 1);
	free_reply(&r);
	/* a header that is there but empty, or a scheme without a token */
	for (i = 0; i < PV_NELEM(empty); i++) {
		request(f->sock, empty[i], strlen(empty[i]), &r);
		assert_int_equal(r.status, 200);
		assert_null(jstr(&r, "bearer"));
		if ((int)jnum(&r, "bad_authorization") != 1)
			fail_msg("request %zu: an empty Authorization header passed as none", i);
		free_reply(&r);
	}
}

static void
test_body_within_limit(void **state)
{
	struct fx *f = *state;
	char req[2048];
	int n =
	    snprintf(req, sizeof(req),
		     "POST /v1/x HTTP/1.1\r\nHost: v\r\nContent-Length: 1024\r\nConnection: close\r\n\r\n");
	struct reply r;

	memset(req + n, 'a', 1024);
	req[n] = 'b';
	req[n + 1023] = 'c';
	request(f->sock, req, (size_t)n + 1024, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal((int)jnum(&r, "body_len"), 1024);
	assert_int_equal((int)jnum(&r, "body_sum"), 'b' + 'c');
	free_reply(&r);
}

static void
test_body_over_limit(void **state)
{
	struct fx *f = *state;
	static const char big[] =
	    "POST /v1/x HTTP/1.1\r\nHost: v\r\nContent-Length: 1025\r\nConnection: close\r\n\r\n";
	char req[8192];
	int n, i;
	struct reply r;

	/* by Content-Length, before any byte of the body */
	request(f->sock, big, sizeof(big) - 1, &r);
	assert_int_equal(r.status, 413);
	assert_string_equal(error_code(&r), "too_large");
	assert_non_null(strstr(r.head, "X-Request-Id: "));
	free_reply(&r);

	/* chunked: 3 chunks of 512 bytes */
	n = snprintf(
	    req, sizeof(req),
	    "POST /v1/x HTTP/1.1\r\nHost: v\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
	for (i = 0; i < 3; i++) {
		n += snprintf(req + n, sizeof(req) - (size_t)n, "200\r\n");
		memset(req + n, 'z', 512);
		n += 512;
		n += snprintf(req + n, sizeof(req) - (size_t)n, "\r\n");
	}
	n += snprintf(req + n, sizeof(req) - (size_t)n, "0\r\n\r\n");
	request(f->sock, req, (size_t)n, &r);
	assert_int_equal(r.status, 413);
	assert_string_equal(error_code(&r), "too_large");
	free_reply(&r);

	/* and the server still answers */
	n = snprintf(req, sizeof(req), "GET /v1/health HTTP/1.1\r\nHost: v\r\nConnection: close\r\n\r\n");
	request(f->sock, req, (size_t)n, &r);
	assert_int_equal(r.status, 200);
	free_reply(&r);
	assert_int_equal(atomic_load(&f->d.inflight), 0);
}

static void
test_keep_alive(void **state)
{
	struct fx *f = *state;
	static const char one[] = "GET /a HTTP/1.1\r\nHost: v\r\n\r\n";
	static const char two[] = "GET /b HTTP/1.1\r\nHost: v\r\nConnection: close\r\n\r\n";
	char all[sizeof(one) + sizeof(two)];
	int fd = connect_unix(f->sock);
	char buf[8192];
	size_t len = 0;
	ssize_t n;

	memcpy(all, one, sizeof(one) - 1);
	memcpy(all + sizeof(one) - 1, two, sizeof(two));
	send_all(fd, all, strlen(all));
	while (len < sizeof(buf) - 1 && (n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(fd);
	/* two answers on one connection */
	assert_non_null(strstr(buf, "\"path\":\"/a\""));
	assert_non_null(strstr(buf, "\"path\":\"/b\""));
}

static void
test_idle_connection_dropped(void **state)
{
	struct fx *f = *state;
	static const char part[] = "GET /v1/health HTTP/1.1\r\nHost: v\r\nX-Slow: ";
	struct pollfd p;
	char c;
	int fd = connect_unix(f->sock);
	struct timespec t0, t1;

	send_all(fd, part, sizeof(part) - 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	p.fd = fd;
	p.events = POLLIN;
	/* timeout 1000 ms: closed by the server within a few seconds */
	assert_int_equal(poll(&p, 1, 8000), 1);
	assert_true(recv(fd, &c, 1, 0) <= 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec <= 6);
	close(fd);
}

/* The server closes fd within secs (recv sees the end or an error). */
static int
closed_within(int fd, int secs)
{
	struct pollfd p = {fd, POLLIN, 0};
	char buf[4096];
	ssize_t n;

	for (;;) {
		if (poll(&p, 1, secs * 1000) != 1)
			return 0;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			return 1;
	}
}

static struct vd_server *
start_with(struct fx *f, const char *limits)
{
	struct vd_server *srv = NULL;

	vd_server_stop(f->srv);
	f->srv = NULL;
	pv_config_free(f->cfg);
	f->cfg = make_config(f->sock, limits);
	assert_int_equal(vd_server_start(&f->d, f->cfg, &srv), PV_OK);
	f->srv = srv;
	return srv;
}

static void
test_head_deadline(void **state)
{
	struct fx *f = *state;
	static const char part[] = "GET /v1/health HTTP/1.1\r\nHost: v\r\nX-Slow: ";
	unsigned before;
	int fd, i, closed = 0;

	start_with(f, "{\"header_timeout_ms\":300,\"request_timeout_ms\":10000}");
	before = __atomic_load_n(&conn_events[VD_CONN_CUT_HEADER], __ATOMIC_RELAXED);
	fd = connect_unix(f->sock);
	send_all(fd, part, sizeof(part) - 1);
	/* a byte every 100 ms keeps it from ever being idle: cut at 300 ms
	 * from accept, well within 5 s */
	for (i = 0; i < 50 && !closed; i++) {
		struct pollfd p = {fd, POLLIN, 0};

		send_all(fd, "a", 1);
		if (poll(&p, 1, 100) == 1)
			closed = closed_within(fd, 1);
	}
	assert_true(closed);
	close(fd);
	assert_true(__atomic_load_n(&conn_events[VD_CONN_CUT_HEADER], __ATOMIC_RELAXED) > before);
}

static void
test_peer_cap(void **state)
{
	struct fx *f = *state;
	static const char busy[] = "POST /v1/x HTTP/1.1\r\nHost: v\r\nContent-Length: 10\r\n\r\n";
	unsigned before;
	int a, b, c, d;

	start_with(f, "{\"max_connections_per_peer\":2,\"body_timeout_ms\":20000}");
	before = __atomic_load_n(&conn_events[VD_CONN_REFUSED_PEER], __ATOMIC_RELAXED);
	/* two head-less: a third evicts the oldest */
	a = connect_unix(f->sock);
	b = connect_unix(f->sock);
	usleep(100000);
	c = connect_unix(f->sock);
	assert_true(closed_within(a, 5));
	close(a);
	close(b);
	close(c);
	usleep(200000);
	/* two busy (body pending): a third is refused, they stay */
	a = connect_unix(f->sock);
	b = connect_unix(f->sock);
	send_all(a, busy, sizeof(busy) - 1);
	send_all(b, busy, sizeof(busy) - 1);
	usleep(200000);
	d = connect_unix(f->sock);
	assert_true(closed_within(d, 5));
	assert_false(closed_within(a, 0));
	assert_true(__atomic_load_n(&conn_events[VD_CONN_REFUSED_PEER], __ATOMIC_RELAXED) > before);
	close(a);
	close(b);
	close(d);
}

static void
test_strict_refusals(void **state)
{
	struct fx *f = *state;
	static const char *const bad[] = {
	    "POST /v1/x HTTP/1.1\r\nHost: v\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
	    "POST /v1/x HTTP/1.1\r\nHost: v\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	    "POST /v1/x HTTP/1.1\r\nHost: v\r\nTransfer-Encoding: gzip\r\n\r\n",
	    "GET /v1/x HTTP/1.1\r\nHost: v\r\nX-A: a\x01b\r\n\r\n",
	    "GET /v1/\x7fx HTTP/1.1\r\nHost: v\r\n\r\n",
	};
	size_t i;

	for (i = 0; i < PV_NELEM(bad); i++) {
		char buf[4096];
		size_t got = 0;
		ssize_t n;
		int fd = connect_unix(f->sock);

		send_all(fd, bad[i], strlen(bad[i]));
		/* a request behind it is never answered */
		send_all(fd, "GET /v1/y HTTP/1.1\r\nHost: v\r\n\r\n", 31);
		while (got < sizeof(buf) - 1 && (n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0)) > 0)
			got += (size_t)n;
		buf[got] = '\0';
		assert_true(strncmp(buf, "HTTP/1.1 400 ", 13) == 0);
		assert_non_null(strstr(buf, "\"bad_request\""));
		assert_null(strstr(buf + 13, "HTTP/1.1 "));
		close(fd);
	}
}

static void
test_socket_files(void **state)
{
	struct fx *f = *state;
	struct vd_server *second = NULL;
	struct vd_daemon d2;
	struct sockaddr_un sa;
	char stale[128], plain[128];
	struct pv_config *cfg;
	int fd;

	memset(&d2, 0, sizeof(d2));
	/* a live socket is not taken over */
	assert_int_equal(vd_server_start(&d2, f->cfg, &second), PV_ERR_EXISTS);
	assert_null(second);
	assert_int_equal(access(f->sock, F_OK), 0);

	/* a stale socket file (nobody listens) is replaced */
	snprintf(stale, sizeof(stale), "%s/stale", f->dir);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, stale, strlen(stale));
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	cfg = make_config(stale, "{}");
	assert_int_equal(vd_server_start(&d2, cfg, &second), PV_OK);
	{
		static const char req[] = "GET /s HTTP/1.1\r\nHost: v\r\nConnection: close\r\n\r\n";
		struct reply r;

		request(stale, req, sizeof(req) - 1, &r);
		assert_int_equal(r.status, 200);
		free_reply(&r);
	}
	vd_server_quiesce(second);
	vd_server_stop(second);
	second = NULL;
	assert_int_equal(access(stale, F_OK), -1); /* removed at stop */
	pv_config_free(cfg);

	/* a file that is not a socket stays and stops the start */
	snprintf(plain, sizeof(plain), "%s/plain", f->dir);
	fd = open(plain, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	cfg = make_config(plain, "{}");
	assert_int_equal(vd_server_start(&d2, cfg, &second), PV_ERR_EXISTS);
	assert_int_equal(access(plain, F_OK), 0);
	unlink(plain);
	pv_config_free(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_authorization),
	    cmocka_unit_test(test_content_length),
	    cmocka_unit_test(test_request_id_and_timeout),
	    cmocka_unit_test_setup_teardown(test_request_reaches_dispatch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_other_authorization_scheme, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_body_within_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_body_over_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_keep_alive, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_idle_connection_dropped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_socket_files, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_head_deadline, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_peer_cap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_strict_refusals, setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
