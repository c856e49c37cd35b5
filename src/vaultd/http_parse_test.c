/* The strict HTTP/1.1 head parser and chunked decoder (vaultd/http_parse.h). */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vaultd/http_parse.h"

static struct vd_http_head head; /* large: kept off the stack */

static enum vd_http_result
parse(const char *text, size_t len, size_t *hl, const char **why)
{
	*hl = 0;
	*why = NULL;
	return vd_http_parse_head((const uint8_t *)text, len, &head, hl, why);
}

/*
 * text[0..len) is refused, and the refusal comes as soon as the bad byte
 * at text[at - 1] is there: every shorter prefix is INCOMPLETE (fine so
 * far), every longer one BAD with a reason containing why.
 */
static void
refused_at(const char *text, size_t len, size_t at, const char *why)
{
	const char *w;
	size_t n, hl;
	enum vd_http_result r;

	assert_true(at >= 1 && at <= len);
	for (n = 0; n <= len; n++) {
		r = parse(text, n, &hl, &w);
		if (n < at) {
			if (r != VD_HTTP_INCOMPLETE)
				fail_msg("%.*s: prefix %zu gave %d (%s), expected INCOMPLETE", (int)len, text,
					 n, r, w ? w : "");
			continue;
		}
		if (r != VD_HTTP_BAD)
			fail_msg("%.*s: prefix %zu gave %d, expected BAD", (int)len, text, n, r);
		assert_non_null(w);
		if (strstr(w, why) == NULL)
			fail_msg("%.*s: reason \"%s\" lacks \"%s\"", (int)len, text, w, why);
	}
}

/* good is a fine prefix; the first byte of rest is refused where it stands. */
#define REFUSED(good, rest, why) refused_at(good rest, sizeof(good rest) - 1, sizeof(good), why)
/* Refused once the whole text is in (a field's line end, or the head's). */
#define REFUSED_END(text, why)   refused_at(text, sizeof(text) - 1, sizeof(text) - 1, why)

/*
 * text is a complete head: every prefix is INCOMPLETE (so feeding it byte
 * by byte ends where feeding it at once does), the whole is DONE with
 * head_len its length, and body bytes behind it do not change that.
 */
static void
accepted(const char *text)
{
	static char more[8192];
	size_t len = strlen(text), n, hl;
	const char *w;
	enum vd_http_result r;

	for (n = 0; n < len; n++) {
		r = parse(text, n, &hl, &w);
		if (r != VD_HTTP_INCOMPLETE)
			fail_msg("%s: prefix %zu gave %d (%s)", text, n, r, w ? w : "");
	}
	assert_true(len + 8 < sizeof(more));
	memcpy(more, text, len);
	/* a body that would be refused as head bytes: it is not looked at */
	memcpy(more + len, "\0\n\r x\x7f", 6);
	r = parse(more, len + 6, &hl, &w);
	if (r != VD_HTTP_DONE)
		fail_msg("%s + body: %d (%s)", text, r, w ? w : "");
	assert_int_equal(hl, len);
	r = parse(text, len, &hl, &w);
	if (r != VD_HTTP_DONE)
		fail_msg("%s: %d (%s)", text, r, w ? w : "");
	assert_int_equal(hl, len);
}

static int
span_eq(struct vd_http_span s, const char *lit)
{
	return s.p != NULL && s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

static void
test_request_line_refusals(void **state)
{
	(void)state;
	/* line ends */
	REFUSED("GET / HTTP/1.1", "\n", "bare LF");
	REFUSED("GET / HTTP/1.1\r\nHost: a", "\n\r\n", "bare LF");
	REFUSED("GET / HTTP/1.1\r", "X", "bare CR");
	REFUSED("GET / HTTP/1.1\r", "\r\n", "bare CR");
	/* no empty lines before the request line */
	REFUSED("", "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", "not a token");
	REFUSED("", "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", "bare LF");
	/* method */
	REFUSED("", " / HTTP/1.1\r\n", "not a token");
	REFUSED("G", "(T / HTTP/1.1\r\n", "not a token");
	REFUSED("GET", "\t/ HTTP/1.1\r\n", "control byte");
	REFUSED("G", "\0ET / HTTP/1.1\r\n", "control byte");
	/* target: origin-form of visible ASCII */
	REFUSED("GET /", "\0 HTTP/1.1\r\n", "control byte");
	REFUSED("GET ", "http://a/ HTTP/1.1\r\n", "origin-form");
	REFUSED("GET ", "* HTTP/1.1\r\n", "origin-form");
	REFUSED("GET ", " / HTTP/1.1\r\n", "origin-form");
	REFUSED("GET ", "\r\n", "origin-form");
	REFUSED("GET /a", "\x7f HTTP/1.1\r\n", "control byte");
	REFUSED("GET /a", "\x80 HTTP/1.1\r\n", "visible ASCII");
	REFUSED("GET /a", "\tb HTTP/1.1\r\n", "control byte");
	REFUSED("GET /", "\r\n", "visible ASCII"); /* HTTP/0.9 */
	/* version */
	REFUSED("GET / HTTP/1.", "2\r\n", "HTTP/1.0 or HTTP/1.1");
	REFUSED("GET / HTTP/", "2.0\r\n", "HTTP/1.0 or HTTP/1.1");
	REFUSED("GET / ", "http/1.1\r\n", "HTTP/1.0 or HTTP/1.1");
	REFUSED("GET / HTTP/1.1", "1\r\n", "HTTP/1.0 or HTTP/1.1");
	REFUSED("GET / HTTP/1.1", " \r\n", "HTTP/1.0 or HTTP/1.1");
	REFUSED("GET / ", " HTTP/1.1\r\n", "HTTP/1.0 or HTTP/1.1");
	REFUSED("GET / HTTP/1.", "\r\n", "HTTP/1.0 or HTTP/1.1");
}

static void
test_field_refusals(void **state)
{
	(void)state;
	REFUSED("GET / HTTP/1.1\r\nHost: a\r\n", " folded\r\n\r\n", "obs-fold");
	REFUSED("GET / HTTP/1.1\r\n", "\tX: folded\r\nHost: a\r\n\r\n", "obs-fold");
	REFUSED("GET / HTTP/1.1\r\nHost", " : a\r\n\r\n", "whitespace between");
	REFUSED("GET / HTTP/1.1\r\nHost", "\t: a\r\n\r\n", "whitespace between");
	REFUSED("GET / HTTP/1.1\r\nHo", "@st: a\r\n\r\n", "not a token");
	REFUSED("GET / HTTP/1.1\r\n", ": a\r\n\r\n", "not a token");
	REFUSED("GET / HTTP/1.1\r\nHost", "\r\n\r\n", "not a token");
	REFUSED("GET / HTTP/1.1\r\nH", "\xc3\xa9: a\r\n\r\n", "not a token");
	REFUSED("GET / HTTP/1.1\r\nHost: a\r\nX: a", "\0b\r\n\r\n", "control byte");
	REFUSED("GET / HTTP/1.1\r\nHost: a\r\nX: a", "\x01\r\n\r\n", "control byte");
	REFUSED("GET / HTTP/1.1\r\nHost: a\r\nX: a", "\x1f\r\n\r\n", "control byte");
	REFUSED("GET / HTTP/1.1\r\nHost: a\r\nX: a", "\x7f\r\n\r\n", "control byte");
	REFUSED("GET / HTTP/1.1\r\nHost: a\r\nX: a", "\nb\r\n\r\n", "bare LF");
	REFUSED("GET / HTTP/1.1\r\nHost: a\r\nX: a\r", "b\r\n\r\n", "bare CR");
	REFUSED("GET / HTTP/1.1\r\nHost: a\r\n\r", "\r", "bare CR");
	REFUSED("GET / HTTP/1.1\r\nHost: a\r\n", "\n", "bare LF");
}

static void
test_framing_refusals(void **state)
{
	char big[8192], *p;
	size_t i;

	(void)state;
	REFUSED_END("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\ncontent-length: 1\r\n",
		    "Content-Length repeated");
	REFUSED_END("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n", "1*DIGIT");
	REFUSED_END("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n", "1*DIGIT");
	REFUSED_END("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1,1\r\n", "1*DIGIT");
	REFUSED_END("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 1\r\n", "1*DIGIT");
	REFUSED_END("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n", "1*DIGIT");
	REFUSED_END("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n", "1*DIGIT");
	REFUSED_END("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775808\r\n", "2^63-1");
	REFUSED_END("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n", "2^63-1");
	REFUSED_END(
	    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
	    "Transfer-Encoding repeated");
	REFUSED_END("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n",
		    "together");
	REFUSED_END("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n",
		    "together");
	REFUSED_END("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n",
		    "other than chunked");
	REFUSED_END("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n",
		    "other than chunked");
	REFUSED_END("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n", "other than chunked");
	REFUSED_END("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n", "other than chunked");
	REFUSED_END("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n", "HTTP/1.0");
	REFUSED_END("GET / HTTP/1.1\r\nX: a\r\n\r\n", "Host missing");
	REFUSED_END("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n", "Host repeated");
	REFUSED_END("GET / HTTP/1.0\r\nHost: a\r\nHOST: b\r\n", "Host repeated");
	REFUSED_END("GET / HTTP/1.1\r\nHost: a\r\nConnection: close;x\r\n", "list of tokens");
	REFUSED_END("GET / HTTP/1.1\r\nHost: a\r\nConnection: \"close\"\r\n", "list of tokens");

	/* VD_HTTP_MAX_FIELDS fields pass, one more does not, as soon as it starts */
	p = big + snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: a\r\n");
	for (i = 1; i < VD_HTTP_MAX_FIELDS; i++)
		p += snprintf(p, sizeof(big) - (size_t)(p - big), "X-%zu: v\r\n", i);
	snprintf(p, sizeof(big) - (size_t)(p - big), "\r\n");
	accepted(big);
	assert_int_equal(head.nfields, VD_HTTP_MAX_FIELDS);
	snprintf(p, sizeof(big) - (size_t)(p - big), "Y: z\r\n\r\n");
	refused_at(big, strlen(big), (size_t)(p - big) + 1, "too many");
}

static void
test_accepted_forms(void **state)
{
	(void)state;
	accepted("GET /v1/keys?x=1&y=%20 HTTP/1.1\r\nHost: vault\r\n\r\n");
	assert_true(span_eq(head.method, "GET"));
	assert_true(span_eq(head.target, "/v1/keys?x=1&y=%20"));
	assert_int_equal(head.minor, 1);
	assert_int_equal(head.nfields, 1);
	assert_true(span_eq(head.name[0], "Host"));
	assert_true(span_eq(head.value[0], "vault"));
	assert_false(head.has_length);
	assert_false(head.chunked);
	assert_true(head.keep_alive);
	assert_false(head.expect_continue);
	assert_int_equal(head.n_authorization, 0);
	assert_null(head.authorization.p);
	assert_null(head.if_none_match.p);

	/* any token is a method; the caller decides which it serves */
	accepted("M-SEARCH! / HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_true(span_eq(head.method, "M-SEARCH!"));

	/* OWS trimmed, inner whitespace, HTAB and obs-text kept, empty values */
	accepted("GET / HTTP/1.1\r\nHost:a\r\nX:  \t a \tb\xff \t \r\nY:\r\nZ: \t \r\n\r\n");
	assert_int_equal(head.nfields, 4);
	assert_true(span_eq(head.value[0], "a"));
	assert_true(span_eq(head.value[1], "a \tb\xff"));
	assert_int_equal(head.value[2].n, 0);
	assert_non_null(head.value[2].p);
	assert_int_equal(head.value[3].n, 0);

	accepted("POST /x HTTP/1.1\r\nHost: a\r\ncontent-LENGTH: 0042\r\n\r\n");
	assert_true(head.has_length);
	assert_int_equal(head.length, 42);
	accepted("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775807\r\n\r\n");
	assert_true(head.length == UINT64_C(9223372036854775807));
	accepted("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ChUnKeD \r\n\r\n");
	assert_true(head.chunked);
	assert_false(head.has_length);

	/* Authorization counted, the first kept; If-None-Match the first */
	accepted("GET / HTTP/1.1\r\nAuthorization: Bearer one\r\nHost: a\r\nIf-None-Match: \"e1\"\r\n"
		 "authorization: Bearer two\r\nIf-None-Match: \"e2\"\r\n\r\n");
	assert_int_equal(head.n_authorization, 2);
	assert_true(span_eq(head.authorization, "Bearer one"));
	assert_true(span_eq(head.if_none_match, "\"e1\""));
	accepted("GET / HTTP/1.1\r\nHost: a\r\nAuthorization:\r\n\r\n");
	assert_int_equal(head.n_authorization, 1);
	assert_non_null(head.authorization.p);
	assert_int_equal(head.authorization.n, 0);

	/* HTTP/1.0 needs no Host */
	accepted("GET / HTTP/1.0\r\n\r\n");
	assert_int_equal(head.minor, 0);
	assert_int_equal(head.nfields, 0);
}

static void
test_keep_alive(void **state)
{
	static const struct {
		const char *text;
		int keep_alive;
	} cases[] = {
	    {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 1},
	    {"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 0},
	    {"GET / HTTP/1.1\r\nHost: a\r\nConnection: CLOSE\r\n\r\n", 0},
	    {"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Close\r\n\r\n", 0},
	    {"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nConnection: , ,close ,\r\n\r\n", 0},
	    {"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n", 1},
	    {"GET / HTTP/1.1\r\nHost: a\r\nConnection: closed, x-close\r\n\r\n", 1},
	    {"GET / HTTP/1.1\r\nHost: a\r\nConnection:\r\n\r\n", 1},
	    {"GET / HTTP/1.0\r\n\r\n", 0},
	    {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 1},
	    {"GET / HTTP/1.0\r\nConnection: Upgrade,Keep-Alive\r\n\r\n", 1},
	    {"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", 0},
	    {"GET / HTTP/1.0\r\nConnection: keep-alives\r\n\r\n", 0},
	};
	size_t i;

	(void)state;
	for (i = 0; i < PV_NELEM(cases); i++) {
		accepted(cases[i].text);
		if (head.keep_alive != cases[i].keep_alive)
			fail_msg("%s: keep_alive %d", cases[i].text, head.keep_alive);
	}
}

static void
test_expect(void **state)
{
	(void)state;
	accepted("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
	assert_true(head.expect_continue);
	accepted("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nexpect:  100-Continue \r\n\r\n");
	assert_true(head.expect_continue);
	accepted("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continued\r\n\r\n");
	assert_false(head.expect_continue);
	/* RFC 9110 10.1.1: a server ignores 100-continue from an HTTP/1.0 client */
	accepted("POST / HTTP/1.0\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
	assert_false(head.expect_continue);
}

/* Bytes of several heads behind one another: each parses from its own start. */
static void
test_pipelined(void **state)
{
	static const char two[] = "GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n";
	const char *w;
	size_t hl, hl2;

	(void)state;
	assert_int_equal(parse(two, sizeof(two) - 1, &hl, &w), VD_HTTP_DONE);
	assert_int_equal(hl, (sizeof(two) - 1) / 2);
	assert_true(span_eq(head.target, "/a"));
	assert_int_equal(parse(two + hl, sizeof(two) - 1 - hl, &hl2, &w), VD_HTTP_DONE);
	assert_int_equal(hl2, hl);
	assert_true(span_eq(head.target, "/b"));
	/* nothing at all is not wrong yet */
	assert_int_equal(parse(two, 0, &hl, &w), VD_HTTP_INCOMPLETE);
}

static void
test_span_is(void **state)
{
	struct vd_http_span s = {(const uint8_t *)"Keep-ALIVEx", 10};

	(void)state;
	assert_true(vd_http_span_is(s, "keep-alive"));
	assert_true(vd_http_span_is(s, "KEEP-alive"));
	assert_false(vd_http_span_is(s, "keep-alivex"));
	assert_false(vd_http_span_is(s, "keep-aliv"));
	assert_false(vd_http_span_is(s, "keep_alive"));
	s.n = 0;
	assert_true(vd_http_span_is(s, ""));
	/* folding is ASCII only: 0xc0 is not 0xe0 */
	s.p = (const uint8_t *)"\xc0";
	s.n = 1;
	assert_false(vd_http_span_is(s, "\xe0"));
}

/* ---- chunked bodies ---- */

#define OUT_MAX 256

struct dec {
	enum vd_http_result r;
	size_t used; /* input bytes consumed in all */
	uint8_t out[OUT_MAX + 16];
	size_t out_len;
	int too_large;
	const char *why;
};

/*
 * Feed in[0..n) in pieces cut at cuts[] (ascending), each piece as the
 * caller would: stop at DONE or BAD. The canary past max must stay.
 */
static void
decode_cuts(const uint8_t *in, size_t n, size_t max, const size_t *cuts, size_t ncuts, struct dec *d)
{
	struct vd_chunked c;
	size_t from = 0, to, k, used;
	const char *why2 = NULL;

	assert_true(max <= OUT_MAX);
	memset(d, 0, sizeof(*d));
	memset(d->out, 0xa5, sizeof(d->out));
	vd_chunked_init(&c);
	d->r = VD_HTTP_INCOMPLETE;
	for (k = 0; k <= ncuts && d->r == VD_HTTP_INCOMPLETE; k++) {
		to = k < ncuts ? cuts[k] : n;
		used = 12345;
		d->r = vd_chunked_feed(&c, in + from, to - from, &used, d->out, &d->out_len, max, &d->why);
		assert_true(used <= to - from);
		if (d->r == VD_HTTP_INCOMPLETE)
			assert_int_equal(used, to - from);
		d->used += used;
		from = to;
	}
	d->too_large = c.too_large;
	assert_true(d->out_len <= max);
	for (k = max; k < sizeof(d->out); k++)
		assert_int_equal(d->out[k], 0xa5);
	if (d->r == VD_HTTP_BAD) {
		assert_non_null(d->why);
		/* a refused decoder stays refused */
		assert_int_equal(vd_chunked_feed(&c, (const uint8_t *)"0\r\n\r\n", 5, &used, d->out,
						 &d->out_len, max, &why2),
				 VD_HTTP_BAD);
	}
	if (d->r == VD_HTTP_DONE) {
		assert_int_equal(
		    vd_chunked_feed(&c, (const uint8_t *)"x", 1, &used, d->out, &d->out_len, max, &why2),
		    VD_HTTP_DONE);
		assert_int_equal(used, 0);
		assert_int_equal(d->out_len, c.total);
	}
}

/* The same result whole, cut at every byte boundary, and byte by byte. */
static void
decode_every_way(const char *text, size_t n, size_t max, struct dec *whole)
{
	static size_t cuts[20000];
	struct dec d;
	size_t k;

	assert_true(n < PV_NELEM(cuts));
	decode_cuts((const uint8_t *)text, n, max, NULL, 0, whole);
	for (k = 0; k <= n; k++) {
		decode_cuts((const uint8_t *)text, n, max, &k, 1, &d);
		if (d.r != whole->r || d.used != whole->used || d.out_len != whole->out_len ||
		    memcmp(d.out, whole->out, d.out_len) != 0 || d.too_large != whole->too_large)
			fail_msg("%.*s: cut at %zu differs", (int)n, text, k);
		if (d.r == VD_HTTP_BAD && strcmp(d.why, whole->why) != 0)
			fail_msg("%.*s: cut at %zu: %s / %s", (int)n, text, k, d.why, whole->why);
	}
	for (k = 0; k < n; k++)
		cuts[k] = k + 1;
	decode_cuts((const uint8_t *)text, n, max, cuts, n, &d);
	if (d.r != whole->r || d.used != whole->used || d.out_len != whole->out_len ||
	    memcmp(d.out, whole->out, d.out_len) != 0 || d.too_large != whole->too_large)
		fail_msg("%.*s: byte by byte differs", (int)n, text);
}

/* text[0..n) holds a chunked body of body_n bytes, then extra bytes of what follows. */
static void
chunked_ok_n(const char *text, size_t n, size_t max, const char *body, size_t body_n, size_t extra)
{
	struct dec d;

	decode_every_way(text, n, max, &d);
	if (d.r != VD_HTTP_DONE)
		fail_msg("%.*s: %d (%s)", (int)n, text, d.r, d.why ? d.why : "");
	assert_int_equal(d.used, n - extra);
	assert_int_equal(d.out_len, body_n);
	assert_memory_equal(d.out, body, d.out_len);
}

#define CHUNKED_OK(lit, max, body) chunked_ok_n(lit, sizeof(lit) - 1, max, body, sizeof(body) - 1, 0)

static void
chunked_bad_n(const char *text, size_t n, size_t max, const char *why, int too_large)
{
	struct dec d;

	decode_every_way(text, n, max, &d);
	if (d.r != VD_HTTP_BAD)
		fail_msg("%.*s: %d, expected BAD", (int)n, text, d.r);
	if (strstr(d.why, why) == NULL)
		fail_msg("%.*s: reason \"%s\" lacks \"%s\"", (int)n, text, d.why, why);
	assert_int_equal(d.too_large, too_large);
}

#define CHUNKED_BAD(lit, max, why, too_large) chunked_bad_n(lit, sizeof(lit) - 1, max, why, too_large)

static void
test_chunked_ok(void **state)
{
	static const char next[] = "GET / HTTP/1.1\r\n";

	(void)state;
	CHUNKED_OK("5\r\nhello\r\n0\r\n\r\n", 64, "hello");
	CHUNKED_OK("0\r\n\r\n", 64, "");
	CHUNKED_OK("3\r\nabc\r\n1\r\nd\r\nA\r\n0123456789\r\n000\r\n\r\n", 64, "abcd0123456789");
	CHUNKED_OK("a\r\n0123456789\r\n0\r\n\r\n", 64, "0123456789");
	CHUNKED_OK("0000000000000002\r\nab\r\n0\r\n\r\n", 64, "ab");
	/* data may hold any byte, CRLF and NUL among them */
	CHUNKED_OK("4\r\n\r\n\0\n\r\n0\r\n\r\n", 64, "\r\n\0\n");
	/* extensions, with BWS, token and quoted values, skipped */
	CHUNKED_OK("2;a\r\nab\r\n0\r\n\r\n", 64, "ab");
	CHUNKED_OK("2;a=b;c=\"d;\\\"e\"\r\nab\r\n0;last\r\n\r\n", 64, "ab");
	CHUNKED_OK("2 \t; a = b ;c\r\nab\r\n0\r\n\r\n", 64, "ab");
	CHUNKED_OK("2;a=\"\xff\t \\\xfe\"\r\nab\r\n0\r\n\r\n", 64, "ab");
	/* trailers checked and dropped */
	CHUNKED_OK("2\r\nab\r\n0\r\nX-Sum: 1 2\r\nY:\r\n\r\n", 64, "ab");
	/* exactly max is fine */
	CHUNKED_OK("2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n", 4, "abcd");
	/* what follows the body is left alone */
	chunked_ok_n("5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\n", 15 + sizeof(next) - 1, 64, "hello", 5,
		     sizeof(next) - 1);
}

static void
test_chunked_refusals(void **state)
{
	static char big[2 * 8192 + 64];
	size_t n;

	(void)state;
	/* size line */
	CHUNKED_BAD("\r\n", 64, "not hex", 0);
	CHUNKED_BAD(";a\r\n", 64, "not hex", 0);
	CHUNKED_BAD("g\r\n", 64, "not hex", 0);
	CHUNKED_BAD("-1\r\n", 64, "not hex", 0);
	CHUNKED_BAD("0x1\r\n", 64, "not hex", 0);
	CHUNKED_BAD("5\nhello\r\n0\r\n\r\n", 64, "bare LF", 0);
	CHUNKED_BAD("5\rhello", 64, "bare CR", 0);
	CHUNKED_BAD("5 \r\nhello\r\n", 64, "chunk extension", 0);
	CHUNKED_BAD("5\0\r\n", 64, "control byte", 0);
	CHUNKED_BAD("00000000000000005\r\nhello\r\n", 64, "16 hex digits", 0);
	/* extensions */
	CHUNKED_BAD("5;\r\n", 64, "chunk extension", 0);
	CHUNKED_BAD("5;a=\r\n", 64, "chunk extension", 0);
	CHUNKED_BAD("5;a b\r\n", 64, "chunk extension", 0);
	CHUNKED_BAD("5;a=b \r\n", 64, "chunk extension", 0);
	CHUNKED_BAD("5;a=\"b\r\n\"\r\n", 64, "chunk extension", 0);
	CHUNKED_BAD("5;a=\"b\\\x7f\"\r\n", 64, "control byte", 0);
	CHUNKED_BAD("5;a=\"b\"c\r\n", 64, "chunk extension", 0);
	CHUNKED_BAD("5;a@\r\n", 64, "chunk extension", 0);
	/* data must be followed by CRLF exactly */
	CHUNKED_BAD("5\r\nhelloX\r\n0\r\n\r\n", 64, "not followed by CRLF", 0);
	CHUNKED_BAD("5\r\nhello\n0\r\n\r\n", 64, "bare LF", 0);
	CHUNKED_BAD("5\r\nhello\rX0\r\n\r\n", 64, "bare CR", 0);
	CHUNKED_BAD("5\r\nhello0\r\n\r\n", 64, "not followed by CRLF", 0);
	/* trailers like head fields */
	CHUNKED_BAD("0\r\nX: a\r\n folded\r\n\r\n", 64, "obs-fold", 0);
	CHUNKED_BAD("0\r\nX : a\r\n\r\n", 64, "whitespace between", 0);
	CHUNKED_BAD("0\r\n: a\r\n\r\n", 64, "not a token", 0);
	CHUNKED_BAD("0\r\nX: a\0\r\n\r\n", 64, "control byte", 0);
	CHUNKED_BAD("0\r\nX: a\nY: b\r\n\r\n", 64, "bare LF", 0);
	CHUNKED_BAD("0\r\nX: a\r\n\n", 64, "bare LF", 0);
	CHUNKED_BAD("0\r\n\n", 64, "bare LF", 0);
	CHUNKED_BAD("0\r\n\rX", 64, "bare CR", 0);
	/* over max: 413, known from the size line before any data */
	CHUNKED_BAD("5\r\n", 4, "over the limit", 1);
	CHUNKED_BAD("2\r\nab\r\n3\r\n", 4, "over the limit", 1);
	CHUNKED_BAD("ffffffffffffffff\r\n", 64, "over the limit", 1);
	CHUNKED_BAD("1\r\na\r\n", 0, "over the limit", 1);

	/* long size lines and trailer sections are refused, not held */
	n = (size_t)snprintf(big, sizeof(big), "1;");
	memset(big + n, 'x', 5000);
	n += 5000;
	memcpy(big + n, "\r\na\r\n0\r\n\r\n", 10);
	chunked_bad_n(big, n + 10, 64, "size line is too long", 0);
	n = (size_t)snprintf(big, sizeof(big), "0\r\n");
	while (n < 8300)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "X-Pad: %0100d\r\n", 0);
	memcpy(big + n, "\r\n", 2);
	chunked_bad_n(big, n + 2, 64, "trailer section is too long", 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_request_line_refusals),
	    cmocka_unit_test(test_field_refusals),
	    cmocka_unit_test(test_framing_refusals),
	    cmocka_unit_test(test_accepted_forms),
	    cmocka_unit_test(test_keep_alive),
	    cmocka_unit_test(test_expect),
	    cmocka_unit_test(test_pipelined),
	    cmocka_unit_test(test_span_is),
	    cmocka_unit_test(test_chunked_ok),
	    cmocka_unit_test(test_chunked_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
