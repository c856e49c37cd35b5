#include "config.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/http_client.h"

static pv_err
parse(const char *head, unsigned *status, size_t *cl, int *close_)
{
	return pv_http_parse_head((const uint8_t *)head, strlen(head), status, cl, close_);
}

static void
test_parse_head_ok(void **state)
{
	unsigned st;
	size_t cl;
	int cc;

	(void)state;
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
			       "content-length:  42 \r\nX-Request-Id: abc\r\n\r\n",
			       &st, &cl, &cc),
			 PV_OK);
	assert_int_equal(st, 200);
	assert_int_equal(cl, 42);
	assert_int_equal(cc, 0);

	assert_int_equal(
	    parse("HTTP/1.1 404 Not Found\r\nConnection: Keep-Alive, CLOSE\r\nContent-Length: 0\r\n\r\n", &st,
		  &cl, &cc),
	    PV_OK);
	assert_int_equal(st, 404);
	assert_int_equal(cl, 0);
	assert_int_equal(cc, 1);

	/* no reason phrase; HTTP/1.0 closes unless it says keep-alive */
	assert_int_equal(parse("HTTP/1.0 503\r\nContent-Length: 7\r\n\r\n", &st, &cl, &cc), PV_OK);
	assert_int_equal(st, 503);
	assert_int_equal(cc, 1);
	assert_int_equal(
	    parse("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 7\r\n\r\n", &st, &cl, &cc),
	    PV_OK);
	assert_int_equal(cc, 0);

	/* the same length twice is harmless; 204 needs none */
	assert_int_equal(
	    parse("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", &st, &cl, &cc), PV_OK);
	assert_int_equal(cl, 3);
	assert_int_equal(parse("HTTP/1.1 204 No Content\r\n\r\n", &st, &cl, &cc), PV_OK);
	assert_int_equal(cl, 0);
}

static void
test_parse_head_refused(void **state)
{
	static const char *const bad[] = {
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n", /* no length */
	    "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nContent-Length: -3\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nContent-Length: 3x\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n",
	    "HTTP/1.1 200 OK\r\nContent-Length: 12345678901\r\n\r\n",
	    "HTTP/2 200 OK\r\nContent-Length: 3\r\n\r\n",
	    "HTTP/1.1 20 OK\r\nContent-Length: 3\r\n\r\n",
	    "HTTP/1.1 2000 OK\r\nContent-Length: 3\r\n\r\n",
	    "HTTP/1.1 600 OK\r\nContent-Length: 3\r\n\r\n",
	    "HTTP/1.1 200 OK\nContent-Length: 3\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
	    "HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n",        /* no blank line */
	    "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nxyz", /* body in the head */
	    "",
	};
	unsigned st;
	size_t cl;
	int cc;

	(void)state;
	for (size_t i = 0; i < PV_NELEM(bad); i++) {
		if (parse(bad[i], &st, &cl, &cc) == PV_OK)
			fail_msg("accepted bad head #%zu", i);
	}
}

static void
test_find_header(void **state)
{
	static const char head[] = "HTTP/1.1 503 Service Unavailable\r\nX-Request-Id:  AbC-1 \r\n"
				   "retry-after: 1\r\nContent-Length: 3\r\n\r\n";
	const uint8_t *h = (const uint8_t *)head;
	char v[8];

	(void)state;
	assert_int_equal(pv_http_find_header(h, strlen(head), "x-request-id", v, sizeof(v)), PV_OK);
	assert_string_equal(v, "AbC-1");
	assert_int_equal(pv_http_find_header(h, strlen(head), "Retry-After", v, sizeof(v)), PV_OK);
	assert_string_equal(v, "1");
	assert_int_equal(pv_http_find_header(h, strlen(head), "Retry", v, sizeof(v)), PV_ERR_NOT_FOUND);
	/* the status line is not a header */
	assert_int_equal(
	    pv_http_find_header(h, strlen(head), "HTTP/1.1 503 Service Unavailable", v, sizeof(v)),
	    PV_ERR_NOT_FOUND);
	assert_int_equal(pv_http_find_header(h, strlen(head), "X-Request-Id", v, 5), PV_ERR_TOO_LARGE);
}

/* ---- round trips against a scripted server on a Unix socket ---- */

struct script {
	int lfd;
	/* per accepted connection: responses to send, one per request read;
	 * NULL ends the connection (closed after the previous response) */
	const char *const *const *conns;
	size_t nconns;
};

/* Read one request head and body (Content-Length) from fd; 0 on EOF. */
static int
read_request(int fd)
{
	char buf[4096];
	size_t have = 0;
	ssize_t n;
	char *end, *cl;

	for (;;) {
		n = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (n <= 0)
			return 0;
		have += (size_t)n;
		buf[have] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) != NULL) {
			size_t want = (size_t)(end + 4 - buf);

			if ((cl = strstr(buf, "Content-Length: ")) != NULL)
				want += strtoul(cl + 16, NULL, 10);
			if (have >= want)
				return 1;
		}
	}
}

static void *
server_main(void *arg)
{
	const struct script *s = arg;

	for (size_t c = 0; c < s->nconns; c++) {
		int fd = accept(s->lfd, NULL, NULL);

		if (fd < 0)
			return NULL;
		for (const char *const *resp = s->conns[c]; *resp != NULL; resp++) {
			size_t len = strlen(*resp), half = len / 2;

			if (!read_request(fd))
				break;
			/* two writes, so the client must assemble the response */
			if (write(fd, *resp, half) != (ssize_t)half)
				break;
			usleep(2000);
			if (write(fd, *resp + half, len - half) != (ssize_t)(len - half))
				break;
		}
		close(fd);
	}
	return NULL;
}

static int
listen_on(char *path, size_t cap)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char dir[] = "/tmp/pvhttpXXXXXX";
	int fd;

	assert_non_null(mkdtemp(dir));
	snprintf(path, cap, "%s/s", dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	return fd;
}

static void
unlisten(int fd, const char *path)
{
	char dir[128];

	close(fd);
	unlink(path);
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	rmdir(dir);
}

static const char req[] = "POST /v1/keys/k/sign HTTP/1.1\r\nHost: vaultd\r\nContent-Length: 2\r\n\r\n{}";

static pv_err
call(struct pv_http *c, unsigned *st, char *body, size_t cap)
{
	const uint8_t *b;
	size_t n;
	pv_err r;

	r = pv_http_roundtrip(c, (const uint8_t *)req, strlen(req), st, &b, &n);
	if (r == PV_OK) {
		assert_true(n < cap);
		memcpy(body, b, n);
		body[n] = '\0';
	}
	return r;
}

static void
test_keep_alive_and_reconnect(void **state)
{
	static const char *const conn1[] = {
	    "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n{\"a\":1}",
	    "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n{\"b\":2}",
	    NULL, /* then the server closes the idle connection */
	};
	static const char *const conn2[] = {
	    "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 2\r\n\r\n{}",
	    "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 7\r\n\r\n{\"c\":3}",
	    NULL,
	};
	static const char *const conn3[] = {
	    "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n{\"d\":4}",
	    NULL,
	};
	static const char *const *const conns[] = {conn1, conn2, conn3};
	struct script s = {.conns = conns, .nconns = 3};
	struct pv_http *c = NULL;
	char path[128], body[64];
	pthread_t t;
	unsigned st;

	(void)state;
	s.lfd = listen_on(path, sizeof(path));
	assert_int_equal(pthread_create(&t, NULL, server_main, &s), 0);
	assert_int_equal(pv_http_open(path, &c), PV_OK);

	assert_int_equal(call(c, &st, body, sizeof(body)), PV_OK);
	assert_int_equal(st, 200);
	assert_string_equal(body, "{\"a\":1}");
	assert_int_equal(call(c, &st, body, sizeof(body)), PV_OK);
	assert_string_equal(body, "{\"b\":2}");
	assert_int_equal(pv_http_reconnects(c), 0);
	/* the server closed the kept-alive connection: one silent reconnect */
	assert_int_equal(call(c, &st, body, sizeof(body)), PV_OK);
	assert_int_equal(st, 429);
	assert_string_equal(body, "{}");
	assert_int_equal(pv_http_reconnects(c), 1);
	{ /* the last response's head, for its headers */
		const uint8_t *h;
		size_t hl;
		char v[8];

		pv_http_last_head(c, &h, &hl);
		assert_int_equal(hl, strlen(conn2[0]) - 2);
		assert_int_equal(pv_http_find_header(h, hl, "retry-after", v, sizeof(v)), PV_OK);
		assert_string_equal(v, "1");
	}
	/* Connection: close is honoured: the next request opens a new one */
	assert_int_equal(call(c, &st, body, sizeof(body)), PV_OK);
	assert_string_equal(body, "{\"c\":3}");
	assert_int_equal(call(c, &st, body, sizeof(body)), PV_OK);
	assert_string_equal(body, "{\"d\":4}");
	assert_int_equal(pv_http_reconnects(c), 2);

	pv_http_close(c);
	pthread_join(t, NULL);
	unlisten(s.lfd, path);
}

static void
test_bad_responses(void **state)
{
	static const char *const chunked[] = {
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", NULL};
	static const char *const extra[] = {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}junk", NULL};
	static const char *const cut[] = {"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n{}", NULL};
	static const char *const none[] = {NULL}; /* closes without answering, twice */
	static const char *const *const conns[] = {chunked, extra, cut, none, none};
	struct script s = {.conns = conns, .nconns = 5};
	struct pv_http *c = NULL;
	char path[128], body[64];
	pthread_t t;
	unsigned st;

	(void)state;
	s.lfd = listen_on(path, sizeof(path));
	assert_int_equal(pthread_create(&t, NULL, server_main, &s), 0);
	assert_int_equal(pv_http_open(path, &c), PV_OK);
	assert_int_not_equal(call(c, &st, body, sizeof(body)), PV_OK); /* chunked */
	assert_int_not_equal(call(c, &st, body, sizeof(body)), PV_OK); /* bytes after the body */
	assert_int_not_equal(call(c, &st, body, sizeof(body)), PV_OK); /* closed mid-body */
	/* closed before any answer, and again after the one reconnect */
	assert_int_equal(call(c, &st, body, sizeof(body)), PV_ERR_IO);
	pv_http_close(c);
	pthread_join(t, NULL);
	unlisten(s.lfd, path);
}

static void
test_open_fails(void **state)
{
	struct pv_http *c = NULL;
	char long_path[200];

	(void)state;
	assert_int_equal(pv_http_open("/nonexistent/vaultd.sock", &c), PV_ERR_IO);
	assert_null(c);
	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[sizeof(long_path) - 1] = '\0';
	assert_int_equal(pv_http_open(long_path, &c), PV_ERR_USAGE);
	assert_null(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_head_ok), cmocka_unit_test(test_parse_head_refused),
	    cmocka_unit_test(test_find_header),   cmocka_unit_test(test_keep_alive_and_reconnect),
	    cmocka_unit_test(test_bad_responses), cmocka_unit_test(test_open_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
