#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/secmem.h"
#include "base/http_client.h"

struct pv_http {
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	uint64_t connects;
	size_t head_len;     /* of the last response in rbuf; 0: none */
	unsigned timeout_ms; /* SO_RCVTIMEO/SO_SNDTIMEO; 0: none */
	int timed_out;       /* the last round trip */
	uint8_t rbuf[PV_HTTP_RESP_MAX];
};

static pv_err
set_timeouts(struct pv_http *c)
{
	struct timeval tv = {(time_t)(c->timeout_ms / 1000), (suseconds_t)(c->timeout_ms % 1000) * 1000};

	if (c->fd >= 0 && (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
			   setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0)) {
		pv_err_set_detail("setsockopt: %s", strerror(errno));
		return PV_ERR_IO;
	}
	return PV_OK;
}

static pv_err
sock_connect(struct pv_http *c)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	memcpy(sa.sun_path, c->path, sizeof(sa.sun_path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		pv_err_set_detail("socket: %s", strerror(errno));
		return PV_ERR_IO;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		pv_err_set_detail("connect %s: %s", c->path, strerror(errno));
		close(fd);
		return PV_ERR_IO;
	}
	c->fd = fd;
	c->connects++;
	return set_timeouts(c);
}

static void
sock_drop(struct pv_http *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

pv_err
pv_http_open(const char *path, struct pv_http **out)
{
	struct pv_http *c = NULL;
	pv_err r;

	*out = NULL;
	if (strlen(path) >= sizeof(c->path)) {
		pv_err_set_detail("socket path too long");
		return PV_ERR_USAGE;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return PV_ERR_NOMEM;
	c->fd = -1;
	memcpy(c->path, path, strlen(path) + 1);
	if ((r = sock_connect(c)) != PV_OK)
		goto out;
	*out = c;
	c = NULL;
out:
	free(c);
	return r;
}

void
pv_http_close(struct pv_http *c)
{
	if (c == NULL)
		return;
	sock_drop(c);
	free(c);
}

pv_err
pv_http_set_timeout(struct pv_http *c, unsigned ms)
{
	c->timeout_ms = ms;
	return set_timeouts(c);
}

int
pv_http_timed_out(const struct pv_http *c)
{
	return c->timed_out;
}

void
pv_http_last_head(const struct pv_http *c, const uint8_t **head, size_t *len)
{
	*head = c->rbuf;
	*len = c->head_len;
}

uint64_t
pv_http_reconnects(const struct pv_http *c)
{
	return c->connects > 0 ? c->connects - 1 : 0;
}

/* Next line (without its CRLF) from b; PV_ERR_BAD_INPUT when no CRLF. */
static pv_err
next_line(pv_buf *b, const uint8_t **line, size_t *len)
{
	const uint8_t *p = pv_buf_ptr(b), *cr;
	size_t avail = pv_buf_len(b);

	cr = memchr(p, '\r', avail);
	if (cr == NULL || (size_t)(cr - p) + 1 >= avail || cr[1] != '\n')
		return PV_ERR_BAD_INPUT;
	*len = (size_t)(cr - p);
	return pv_buf_get_ref(b, *len + 2, line);
}

static int
name_is(const uint8_t *name, size_t len, const char *want)
{
	return len == strlen(want) && strncasecmp((const char *)name, want, len) == 0;
}

/* Does a comma-separated header value hold the token tok (any case)? */
static int
has_token(const uint8_t *v, size_t len, const char *tok)
{
	size_t i = 0, s, e;

	while (i < len) {
		while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < len && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (name_is(v + s, e - s, tok))
			return 1;
	}
	return 0;
}

pv_err
pv_http_parse_head(const uint8_t *head, size_t head_len, unsigned *status, size_t *content_length,
		   int *conn_close)
{
	const uint8_t *line, *colon, *v;
	size_t len, vlen, cl = 0;
	int have_cl = 0;
	pv_buf *b = NULL;
	pv_err r;

	*status = 0;
	*content_length = 0;
	*conn_close = 0;
	if ((r = pv_buf_view(head, head_len, &b)) != PV_OK)
		goto out;
	/* "HTTP/1.x DDD reason" */
	r = PV_ERR_BAD_INPUT;
	if (next_line(b, &line, &len) != PV_OK || len < 12 || memcmp(line, "HTTP/1.", 7) != 0 ||
	    (line[7] != '0' && line[7] != '1') || line[8] != ' ' || line[9] < '1' || line[9] > '5' ||
	    line[10] < '0' || line[10] > '9' || line[11] < '0' || line[11] > '9' ||
	    (len > 12 && line[12] != ' ')) {
		pv_err_set_detail("bad HTTP status line");
		goto out;
	}
	*status =
	    (unsigned)(line[9] - '0') * 100 + (unsigned)(line[10] - '0') * 10 + (unsigned)(line[11] - '0');
	*conn_close = line[7] == '0'; /* HTTP/1.0: no keep-alive assumed */
	for (;;) {
		if (next_line(b, &line, &len) != PV_OK) {
			pv_err_set_detail("response head not terminated by CRLF");
			goto out;
		}
		if (len == 0)
			break;
		if ((colon = memchr(line, ':', len)) == NULL || colon == line) {
			pv_err_set_detail("bad HTTP header line");
			goto out;
		}
		v = colon + 1;
		vlen = len - (size_t)(v - line);
		while (vlen > 0 && (*v == ' ' || *v == '\t'))
			v++, vlen--;
		while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
			vlen--;
		if (name_is(line, (size_t)(colon - line), "Content-Length")) {
			size_t n = 0;

			if (vlen == 0 || vlen > 9) {
				pv_err_set_detail("bad Content-Length");
				goto out;
			}
			for (size_t i = 0; i < vlen; i++) {
				if (v[i] < '0' || v[i] > '9') {
					pv_err_set_detail("bad Content-Length");
					goto out;
				}
				n = n * 10 + (size_t)(v[i] - '0');
			}
			if (have_cl && n != cl) {
				pv_err_set_detail("two different Content-Length headers");
				goto out;
			}
			cl = n;
			have_cl = 1;
		} else if (name_is(line, (size_t)(colon - line), "Transfer-Encoding")) {
			pv_err_set_detail("Transfer-Encoding is not supported (vaultd sends Content-Length)");
			goto out;
		} else if (name_is(line, (size_t)(colon - line), "Connection")) {
			if (has_token(v, vlen, "close"))
				*conn_close = 1;
			else if (has_token(v, vlen, "keep-alive"))
				*conn_close = 0;
		}
	}
	if (pv_buf_len(b) != 0) {
		pv_err_set_detail("bytes after the response head");
		goto out;
	}
	if (!have_cl && *status != 204 && *status != 304 && *status >= 200) {
		pv_err_set_detail("response without Content-Length");
		goto out;
	}
	*content_length = cl;
	r = PV_OK;
out:
	pv_buf_free(b);
	return r;
}

pv_err
pv_http_find_header(const uint8_t *head, size_t head_len, const char *name, char *out, size_t outsz)
{
	const uint8_t *line, *colon, *v;
	size_t len, vlen;
	pv_buf *b = NULL;
	pv_err r;

	if ((r = pv_buf_view(head, head_len, &b)) != PV_OK)
		goto out;
	r = PV_ERR_NOT_FOUND;
	/* the status line first, then headers up to the blank line */
	if (next_line(b, &line, &len) != PV_OK)
		goto out;
	while (next_line(b, &line, &len) == PV_OK && len > 0) {
		if ((colon = memchr(line, ':', len)) == NULL || !name_is(line, (size_t)(colon - line), name))
			continue;
		v = colon + 1;
		vlen = len - (size_t)(v - line);
		while (vlen > 0 && (*v == ' ' || *v == '\t'))
			v++, vlen--;
		while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
			vlen--;
		if (vlen >= outsz) {
			r = PV_ERR_TOO_LARGE;
			goto out;
		}
		memcpy(out, v, vlen);
		out[vlen] = '\0';
		r = PV_OK;
		goto out;
	}
out:
	pv_buf_free(b);
	return r;
}

static pv_err
send_all(struct pv_http *c, const uint8_t *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			pv_err_set_detail("send: %s", n < 0 ? strerror(errno) : "no progress");
			return PV_ERR_IO;
		}
		p += n;
		len -= (size_t)n;
	}
	return PV_OK;
}

/* Offset just past "\r\n\r\n" in buf[0..len), searching from 'from'; 0: none. */
static size_t
find_head_end(const uint8_t *buf, size_t len, size_t from)
{
	for (size_t i = from; i + 4 <= len; i++)
		if (buf[i] == '\r' && memcmp(buf + i, "\r\n\r\n", 4) == 0)
			return i + 4;
	return 0;
}

/*
 * Read one response. PV_ERR_SESSION: the connection was closed before any
 * byte arrived (a stale keep-alive connection; the caller may retry).
 */
static pv_err
read_response(struct pv_http *c, unsigned *status, const uint8_t **body, size_t *body_len, int *conn_close)
{
	size_t have = 0, head = 0, total = 0, cl;
	ssize_t n;
	pv_err r;

	for (;;) {
		if (have == sizeof(c->rbuf)) {
			pv_err_set_detail("response over %zu bytes", sizeof(c->rbuf));
			return PV_ERR_TOO_LARGE;
		}
		n = recv(c->fd, c->rbuf + have, sizeof(c->rbuf) - have, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && have == 0 && (errno == ECONNRESET || errno == EPIPE))
			return PV_ERR_SESSION;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			pv_err_set_detail("no reply within %u ms", c->timeout_ms);
			c->timed_out = 1;
			return PV_ERR_IO;
		}
		if (n < 0) {
			pv_err_set_detail("recv: %s", strerror(errno));
			return PV_ERR_IO;
		}
		if (n == 0) {
			if (have == 0)
				return PV_ERR_SESSION;
			pv_err_set_detail("connection closed mid-response");
			return PV_ERR_IO;
		}
		have += (size_t)n;
		if (head == 0) {
			head = find_head_end(c->rbuf, have, 0);
			if (head == 0) {
				if (have >= PV_HTTP_HEAD_MAX) {
					pv_err_set_detail("response head over %d bytes", PV_HTTP_HEAD_MAX);
					return PV_ERR_TOO_LARGE;
				}
				continue;
			}
			if ((r = pv_http_parse_head(c->rbuf, head, status, &cl, conn_close)) != PV_OK)
				return r;
			if (cl > sizeof(c->rbuf) - head) {
				pv_err_set_detail("response body of %zu bytes is too large", cl);
				return PV_ERR_TOO_LARGE;
			}
			total = head + cl;
		}
		if (have > total) {
			pv_err_set_detail("bytes after the response body");
			return PV_ERR_BAD_INPUT;
		}
		if (have == total)
			break;
	}
	*body = c->rbuf + head;
	*body_len = total - head;
	c->head_len = head;
	return PV_OK;
}

pv_err
pv_http_roundtrip(struct pv_http *c, const uint8_t *req, size_t req_len, unsigned *status,
		  const uint8_t **body, size_t *body_len)
{
	int conn_close = 0;
	pv_err r = PV_OK;

	*status = 0;
	*body = NULL;
	*body_len = 0;
	c->head_len = 0;
	c->timed_out = 0;
	for (int attempt = 0; attempt < 2; attempt++) {
		if (c->fd < 0 && (r = sock_connect(c)) != PV_OK)
			return r;
		/* a failed send means nothing was answered either: like a stale connection */
		r = send_all(c, req, req_len) != PV_OK
			? PV_ERR_SESSION
			: read_response(c, status, body, body_len, &conn_close);
		if (r == PV_OK)
			break;
		sock_drop(c);
		/* a stale kept-alive connection: once more on a new one */
		if (attempt == 0 && r == PV_ERR_SESSION)
			continue;
		if (r == PV_ERR_SESSION) {
			pv_err_set_detail("the server closed the connection without answering");
			r = PV_ERR_IO;
		}
		return r;
	}
	if (r == PV_OK && conn_close)
		sock_drop(c);
	return r;
}

/* Bearer token characters (RFC 6750 b64token). */
static int
is_b64token(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       strchr("-._~+/=", c) != NULL;
}

/* The bearer token from its file (one line), in guarded memory. */
pv_err
pv_http_load_bearer(const char *path, pv_secret **out, size_t *len)
{
	pv_secret *s = NULL;
	const uint8_t *p;
	size_t n;
	pv_err r;

	*out = NULL;
	if ((r = pv_secret_read_file(path, 1024, &s)) != PV_OK)
		goto out;
	p = pv_secret_ro(s);
	n = pv_secret_len(s);
	while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r'))
		n--;
	r = PV_ERR_BAD_INPUT;
	for (size_t i = 0; i < n; i++)
		if (!is_b64token(p[i]))
			n = 0;
	pv_secret_lock(s);
	if (n == 0) {
		pv_err_set_detail("%s does not hold one bearer token", path);
		goto out;
	}
	*len = n;
	*out = s;
	s = NULL;
	r = PV_OK;
out:
	pv_secret_free(s);
	return r;
}
