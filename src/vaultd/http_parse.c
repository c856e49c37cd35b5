/*
 * Strict HTTP/1.1 request heads and chunked bodies: see http_parse.h for
 * what is refused and why. Both parsers are one pass over the bytes with a
 * small state machine, so a bad byte is refused where it stands.
 */
#include "config.h"

#include <string.h>

#include "vaultd/http_parse.h"

/* A chunk-size line with its extensions, and a whole trailer section:
 * neither carries anything we use, so they are kept short. */
#define CHUNK_LINE_MAX    4096
#define CHUNK_TRAILER_MAX 8192
#define CHUNK_SIZE_DIGITS 16

/* RFC 9110 5.6.2 tchar */
static int
is_tchar(uint8_t c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* A field value byte (RFC 9110 5.5): VCHAR, SP, HTAB or obs-text. */
static int
is_field_byte(uint8_t c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int
is_ows(uint8_t c)
{
	return c == ' ' || c == '\t';
}

static uint8_t
lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c - 'A' + 'a') : c;
}

int
vd_http_span_is(struct vd_http_span s, const char *lit)
{
	size_t i, n = strlen(lit);

	if (s.n != n)
		return 0;
	for (i = 0; i < n; i++)
		if (lower(s.p[i]) != lower((uint8_t)lit[i]))
			return 0;
	return 1;
}

/* The reason for a byte that does not fit where it stands: a LF and other
 * control bytes get their own, as they are what smuggling is made of. A CR
 * is only "bare" once the byte after it is not LF (the *_LF states). */
static const char *
byte_reason(uint8_t c, const char *otherwise)
{
	if (c == '\n')
		return "a line end that is not CRLF (bare LF)";
	if (c < 0x20 && c != '\r')
		return "a control byte";
	if (c == 0x7f)
		return "a control byte";
	return otherwise;
}

/* What the fields add up to, besides what struct vd_http_head holds. */
struct head_ctx {
	unsigned hosts;
	int conn_close, conn_keep_alive, expect;
};

/* Connection (RFC 9110 7.6.1): a list of tokens; empty elements are
 * allowed by the list rule (5.6.1). */
static int
connection_list(struct vd_http_span v, struct head_ctx *ctx, const char **why)
{
	size_t i = 0, s, e;

	while (i <= v.n) {
		s = i;
		while (i < v.n && v.p[i] != ',')
			i++;
		e = i;
		while (s < e && is_ows(v.p[s]))
			s++;
		while (e > s && is_ows(v.p[e - 1]))
			e--;
		for (size_t k = s; k < e; k++)
			if (!is_tchar(v.p[k])) {
				*why = "Connection is not a list of tokens";
				return -1;
			}
		struct vd_http_span t = {v.p + s, e - s};
		if (vd_http_span_is(t, "close"))
			ctx->conn_close = 1;
		else if (vd_http_span_is(t, "keep-alive"))
			ctx->conn_keep_alive = 1;
		i++; /* past the comma, or past the end */
	}
	return 0;
}

/* Content-Length: 1*DIGIT up to 2^63-1, no sign, no list. */
static int
content_length(struct vd_http_span v, uint64_t *out)
{
	uint64_t x = 0;
	size_t i;

	if (v.n == 0)
		return -1;
	for (i = 0; i < v.n; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return -1;
		if (x > (UINT64_C(0x7fffffffffffffff) - (uint64_t)(v.p[i] - '0')) / 10)
			return -1;
		x = x * 10 + (uint64_t)(v.p[i] - '0');
	}
	*out = x;
	return 0;
}

/* One complete field line: the fields that decide framing and the
 * connection are checked here, as soon as their line is in. */
static int
apply_field(struct vd_http_head *h, struct head_ctx *ctx, struct vd_http_span name, struct vd_http_span value,
	    const char **why)
{
	if (vd_http_span_is(name, "content-length")) {
		if (h->has_length) {
			*why = "Content-Length repeated";
			return -1;
		}
		if (h->chunked) {
			*why = "Content-Length together with Transfer-Encoding";
			return -1;
		}
		if (content_length(value, &h->length) != 0) {
			*why = "Content-Length is not 1*DIGIT up to 2^63-1";
			return -1;
		}
		h->has_length = 1;
	} else if (vd_http_span_is(name, "transfer-encoding")) {
		/* RFC 9112 6.1: an HTTP/1.0 message with it has faulty framing */
		if (h->minor == 0) {
			*why = "Transfer-Encoding in an HTTP/1.0 request";
			return -1;
		}
		if (h->chunked) {
			*why = "Transfer-Encoding repeated";
			return -1;
		}
		if (h->has_length) {
			*why = "Content-Length together with Transfer-Encoding";
			return -1;
		}
		if (!vd_http_span_is(value, "chunked")) {
			*why = "a transfer coding other than chunked";
			return -1;
		}
		h->chunked = 1;
	} else if (vd_http_span_is(name, "host")) {
		if (++ctx->hosts > 1) {
			*why = "Host repeated";
			return -1;
		}
	} else if (vd_http_span_is(name, "connection")) {
		return connection_list(value, ctx, why);
	} else if (vd_http_span_is(name, "expect")) {
		if (vd_http_span_is(value, "100-continue"))
			ctx->expect = 1;
	} else if (vd_http_span_is(name, "authorization")) {
		if (h->n_authorization++ == 0)
			h->authorization = value;
	} else if (vd_http_span_is(name, "if-none-match")) {
		if (h->if_none_match.p == NULL)
			h->if_none_match = value;
	}
	return 0;
}

enum head_state {
	H_METHOD,
	H_TARGET,
	H_VERSION,
	H_RL_LF,
	H_LINE_START,
	H_NAME,
	H_VALUE,
	H_FIELD_LF,
	H_END_LF,
};

static const char version_prefix[] = "HTTP/1.";

enum vd_http_result
vd_http_parse_head(const uint8_t *buf, size_t len, struct vd_http_head *out, size_t *head_len,
		   const char **why)
{
	/* filled here and copied out only on DONE */
	struct vd_http_head h;
	struct head_ctx ctx = {0};
	enum head_state st = H_METHOD;
	size_t i, start = 0, vs = 0, ve = 0;
	int have_value = 0;
	uint8_t c;

	memset(&h, 0, sizeof(h));
	for (i = 0; i < len; i++) {
		c = buf[i];
		switch (st) {
		case H_METHOD:
			if (is_tchar(c))
				break;
			if (c == ' ' && i > 0) {
				h.method = (struct vd_http_span){buf, i};
				st = H_TARGET;
				start = i + 1;
				break;
			}
			*why = byte_reason(c, "the method is not a token");
			return VD_HTTP_BAD;
		case H_TARGET:
			if (i == start) {
				if (c != '/') {
					*why = byte_reason(c, "the target is not origin-form");
					return VD_HTTP_BAD;
				}
				break;
			}
			if (c >= 0x21 && c <= 0x7e)
				break;
			if (c == ' ') {
				h.target = (struct vd_http_span){buf + start, i - start};
				st = H_VERSION;
				start = i + 1;
				break;
			}
			*why = byte_reason(c, "a byte other than visible ASCII in the target");
			return VD_HTTP_BAD;
		case H_VERSION:
			if (i - start < sizeof(version_prefix) - 1) {
				if (c != (uint8_t)version_prefix[i - start]) {
					*why = byte_reason(c, "the version is not HTTP/1.0 or HTTP/1.1");
					return VD_HTTP_BAD;
				}
			} else if (i - start == sizeof(version_prefix) - 1) {
				if (c != '0' && c != '1') {
					*why = byte_reason(c, "the version is not HTTP/1.0 or HTTP/1.1");
					return VD_HTTP_BAD;
				}
				h.minor = c - '0';
			} else if (c == '\r') {
				st = H_RL_LF;
			} else {
				*why = byte_reason(c, "the version is not HTTP/1.0 or HTTP/1.1");
				return VD_HTTP_BAD;
			}
			break;
		case H_RL_LF:
		case H_FIELD_LF:
		case H_END_LF:
			if (c != '\n') {
				*why = "a bare CR";
				return VD_HTTP_BAD;
			}
			if (st == H_RL_LF) {
				st = H_LINE_START;
				break;
			}
			if (st == H_FIELD_LF) {
				struct vd_http_span v = {buf + (have_value ? vs : start),
							 have_value ? ve - vs : 0};
				if (apply_field(&h, &ctx, h.name[h.nfields], v, why) != 0)
					return VD_HTTP_BAD;
				h.value[h.nfields++] = v;
				st = H_LINE_START;
				break;
			}
			if (h.minor == 1 && ctx.hosts == 0) {
				*why = "Host missing";
				return VD_HTTP_BAD;
			}
			h.keep_alive = !ctx.conn_close && (h.minor == 1 || ctx.conn_keep_alive);
			/* RFC 9110 10.1.1: ignored in an HTTP/1.0 request */
			h.expect_continue = h.minor == 1 && ctx.expect;
			*out = h;
			*head_len = i + 1;
			return VD_HTTP_DONE;
		case H_LINE_START:
			if (c == '\r') {
				st = H_END_LF;
				break;
			}
			if (is_ows(c)) {
				*why = "obs-fold (a line starting with whitespace)";
				return VD_HTTP_BAD;
			}
			if (!is_tchar(c)) {
				*why = byte_reason(c, "a field name that is not a token");
				return VD_HTTP_BAD;
			}
			if (h.nfields == VD_HTTP_MAX_FIELDS) {
				*why = "too many header fields";
				return VD_HTTP_BAD;
			}
			start = i;
			st = H_NAME;
			break;
		case H_NAME:
			if (is_tchar(c))
				break;
			if (c == ':') {
				h.name[h.nfields] = (struct vd_http_span){buf + start, i - start};
				start = i + 1;
				have_value = 0;
				st = H_VALUE;
				break;
			}
			if (is_ows(c)) {
				*why = "whitespace between a field name and the colon";
				return VD_HTTP_BAD;
			}
			*why = byte_reason(c, "a field name that is not a token");
			return VD_HTTP_BAD;
		case H_VALUE:
			if (c == '\r') {
				st = H_FIELD_LF;
				break;
			}
			if (!is_field_byte(c)) {
				*why = byte_reason(c, "a bad byte in a field value");
				return VD_HTTP_BAD;
			}
			if (!is_ows(c)) {
				if (!have_value)
					vs = i;
				have_value = 1;
				ve = i + 1;
			}
			break;
		}
	}
	return VD_HTTP_INCOMPLETE;
}

enum chunk_state {
	C_SIZE = 0,
	C_SIZE_WS, /* BWS after the size or an extension: ";" must follow */
	C_EXT_PRE_NAME,
	C_EXT_NAME,
	C_EXT_NAME_WS, /* BWS after a name: ";" or "=" must follow */
	C_EXT_PRE_VAL,
	C_EXT_VAL,
	C_EXT_Q,
	C_EXT_QP,
	C_EXT_QEND,
	C_SIZE_LF,
	C_DATA,
	C_DATA_CR,
	C_DATA_LF,
	C_TR_START,
	C_TR_NAME,
	C_TR_VALUE,
	C_TR_LF,
	C_END_LF,
	C_DONE,
	C_BAD,
};

void
vd_chunked_init(struct vd_chunked *c)
{
	memset(c, 0, sizeof(*c));
	c->state = C_SIZE;
}

static int
hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* qdtext and the byte after a backslash (RFC 9110 5.6.4) */
static int
is_qdtext(uint8_t c)
{
	return c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e) ||
	       c >= 0x80;
}

static int
is_quoted_pair_byte(uint8_t c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* After a complete extension value, or after the size. */
static int
ext_next(struct vd_chunked *c, uint8_t b)
{
	if (is_ows(b))
		c->state = C_SIZE_WS;
	else if (b == ';')
		c->state = C_EXT_PRE_NAME;
	else if (b == '\r')
		c->state = C_SIZE_LF;
	else
		return -1;
	return 0;
}

enum vd_http_result
vd_chunked_feed(struct vd_chunked *c, const uint8_t *in, size_t n, size_t *used, uint8_t *out,
		size_t *out_len, size_t max, const char **why)
{
	size_t i = 0, take;
	uint8_t b;
	int d;

	*used = 0;
	if (c->state == C_DONE)
		return VD_HTTP_DONE;
	if (c->state == C_BAD) {
		*why = "the chunked body was refused already";
		return VD_HTTP_BAD;
	}
	while (i < n) {
		b = in[i];
		if (c->state == C_DATA) {
			take = n - i;
			if (take > c->left)
				take = (size_t)c->left;
			/* total <= max holds; out_len is the caller's, check it too */
			if (*out_len > max || take > max - *out_len) {
				c->too_large = 1;
				*why = "the body is over the limit";
				goto bad;
			}
			memcpy(out + *out_len, in + i, take);
			*out_len += take;
			c->total += take;
			c->left -= take;
			i += take;
			if (c->left == 0)
				c->state = C_DATA_CR;
			continue;
		}
		if (c->state >= C_SIZE && c->state <= C_SIZE_LF && ++c->line > CHUNK_LINE_MAX) {
			*why = "a chunk size line is too long";
			goto bad;
		}
		if (c->state >= C_TR_START && c->state <= C_END_LF && ++c->line > CHUNK_TRAILER_MAX) {
			*why = "the trailer section is too long";
			goto bad;
		}
		i++;
		switch (c->state) {
		case C_SIZE:
			/* here line counts the digits (they start the line) plus this byte */
			if ((d = hexval(b)) >= 0) {
				if (c->line > CHUNK_SIZE_DIGITS) {
					*why = "a chunk size of more than 16 hex digits";
					goto bad;
				}
				c->left = c->left * 16 + (uint64_t)d;
				if (c->left > max - c->total) {
					c->too_large = 1;
					*why = "the body is over the limit";
					goto bad;
				}
				break;
			}
			if (c->line == 1 || ext_next(c, b) != 0) {
				*why = byte_reason(b, "a chunk size that is not hex digits");
				goto bad;
			}
			break;
		case C_SIZE_WS:
			if (is_ows(b))
				break;
			if (b != ';') {
				*why = byte_reason(b, "a bad chunk extension");
				goto bad;
			}
			c->state = C_EXT_PRE_NAME;
			break;
		case C_EXT_PRE_NAME:
			if (is_ows(b))
				break;
			if (!is_tchar(b)) {
				*why = byte_reason(b, "a bad chunk extension");
				goto bad;
			}
			c->state = C_EXT_NAME;
			break;
		case C_EXT_NAME:
			if (is_tchar(b))
				break;
			if (b == '=') {
				c->state = C_EXT_PRE_VAL;
				break;
			}
			if (is_ows(b)) {
				c->state = C_EXT_NAME_WS;
				break;
			}
			if (ext_next(c, b) != 0) {
				*why = byte_reason(b, "a bad chunk extension");
				goto bad;
			}
			break;
		case C_EXT_NAME_WS:
			if (is_ows(b))
				break;
			if (b == '=')
				c->state = C_EXT_PRE_VAL;
			else if (b == ';')
				c->state = C_EXT_PRE_NAME;
			else {
				*why = byte_reason(b, "a bad chunk extension");
				goto bad;
			}
			break;
		case C_EXT_PRE_VAL:
			if (is_ows(b))
				break;
			if (b == '"')
				c->state = C_EXT_Q;
			else if (is_tchar(b))
				c->state = C_EXT_VAL;
			else {
				*why = byte_reason(b, "a bad chunk extension");
				goto bad;
			}
			break;
		case C_EXT_VAL:
			if (is_tchar(b))
				break;
			/* fall through */
		case C_EXT_QEND:
			if (ext_next(c, b) != 0) {
				*why = byte_reason(b, "a bad chunk extension");
				goto bad;
			}
			break;
		case C_EXT_Q:
			if (b == '"')
				c->state = C_EXT_QEND;
			else if (b == '\\')
				c->state = C_EXT_QP;
			else if (!is_qdtext(b)) {
				*why = byte_reason(b, "a bad chunk extension");
				goto bad;
			}
			break;
		case C_EXT_QP:
			if (!is_quoted_pair_byte(b)) {
				*why = byte_reason(b, "a bad chunk extension");
				goto bad;
			}
			c->state = C_EXT_Q;
			break;
		case C_SIZE_LF:
			if (b != '\n') {
				*why = "a bare CR";
				goto bad;
			}
			c->line = 0;
			c->state = c->left == 0 ? C_TR_START : C_DATA;
			break;
		case C_DATA_CR:
			if (b != '\r') {
				*why = byte_reason(b, "chunk data not followed by CRLF");
				goto bad;
			}
			c->state = C_DATA_LF;
			break;
		case C_DATA_LF:
			if (b != '\n') {
				*why = "a bare CR";
				goto bad;
			}
			c->line = 0;
			c->state = C_SIZE;
			break;
		case C_TR_START:
			if (b == '\r')
				c->state = C_END_LF;
			else if (is_ows(b)) {
				*why = "obs-fold (a line starting with whitespace)";
				goto bad;
			} else if (is_tchar(b))
				c->state = C_TR_NAME;
			else {
				*why = byte_reason(b, "a field name that is not a token");
				goto bad;
			}
			break;
		case C_TR_NAME:
			if (is_tchar(b))
				break;
			if (b == ':') {
				c->state = C_TR_VALUE;
				break;
			}
			*why = is_ows(b) ? "whitespace between a field name and the colon"
					 : byte_reason(b, "a field name that is not a token");
			goto bad;
		case C_TR_VALUE:
			if (b == '\r')
				c->state = C_TR_LF;
			else if (!is_field_byte(b)) {
				*why = byte_reason(b, "a bad byte in a field value");
				goto bad;
			}
			break;
		case C_TR_LF:
			if (b != '\n') {
				*why = "a bare CR";
				goto bad;
			}
			c->state = C_TR_START;
			break;
		case C_END_LF:
			if (b != '\n') {
				*why = "a bare CR";
				goto bad;
			}
			c->state = C_DONE;
			*used = i;
			return VD_HTTP_DONE;
		default:
			*why = "bad decoder state";
			goto bad;
		}
	}
	*used = i;
	return VD_HTTP_INCOMPLETE;
bad:
	*used = i;
	c->state = C_BAD;
	return VD_HTTP_BAD;
}
