/*
 * libFuzzer harness: vaultd's strict HTTP/1.1 head parser and chunked
 * decoder (vaultd/http_parse.h). Invariants: the head parser gives the same
 * answer however much of the input it sees (prefixes are INCOMPLETE until
 * the first bad byte or the blank line, then BAD or DONE for good), a DONE
 * head ends with CRLF CRLF inside the input and its spans point into it;
 * the chunked decoder gives the same bytes, consumption and answer however
 * the input is cut, and never writes past max.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "vaultd/http_parse.h"

#define OUT_MAX      4096
/* Up to this size every prefix and every byte is tried (quadratic). */
#define ALL_PREFIXES 1024

static struct vd_http_head head, head2;
static uint8_t out1[OUT_MAX + 16], out2[OUT_MAX + 16];

static void
span_inside(struct vd_http_span s, const uint8_t *data, size_t head_len)
{
	FUZZ_ASSERT(s.p != NULL && s.p >= data && s.n <= head_len && (size_t)(s.p - data) <= head_len - s.n);
}

static void
check_head(const uint8_t *data, size_t size, size_t head_len)
{
	size_t i;

	FUZZ_ASSERT(head_len >= 4 && head_len <= size);
	FUZZ_ASSERT(memcmp(data + head_len - 4, "\r\n\r\n", 4) == 0);
	FUZZ_ASSERT(head.minor == 0 || head.minor == 1);
	FUZZ_ASSERT(head.nfields <= VD_HTTP_MAX_FIELDS);
	FUZZ_ASSERT(!(head.has_length && head.chunked));
	FUZZ_ASSERT(!head.has_length || head.length <= UINT64_C(0x7fffffffffffffff));
	FUZZ_ASSERT(head.method.n > 0 && head.target.n > 0 && head.target.p[0] == '/');
	span_inside(head.method, data, head_len);
	span_inside(head.target, data, head_len);
	for (i = 0; i < head.nfields; i++) {
		span_inside(head.name[i], data, head_len);
		span_inside(head.value[i], data, head_len);
		FUZZ_ASSERT(head.name[i].n > 0);
		/* trimmed */
		FUZZ_ASSERT(head.value[i].n == 0 ||
			    (head.value[i].p[0] != ' ' && head.value[i].p[0] != '\t' &&
			     head.value[i].p[head.value[i].n - 1] != ' ' &&
			     head.value[i].p[head.value[i].n - 1] != '\t'));
		FUZZ_ASSERT(memchr(head.value[i].p, '\0', head.value[i].n) == NULL);
		FUZZ_ASSERT(memchr(head.value[i].p, '\r', head.value[i].n) == NULL);
		FUZZ_ASSERT(memchr(head.value[i].p, '\n', head.value[i].n) == NULL);
	}
	if (head.authorization.p != NULL)
		span_inside(head.authorization, data, head_len);
	FUZZ_ASSERT(head.n_authorization <= head.nfields);
	FUZZ_ASSERT((head.n_authorization == 0) == (head.authorization.p == NULL));
}

/* Parsing data[0..k) agrees with parsing all of it (result r, at head_len or first bad byte at bad_at). */
static void
check_prefix(const uint8_t *data, size_t k, enum vd_http_result r, size_t head_len, size_t bad_at)
{
	enum vd_http_result rk;
	const char *why = NULL;
	size_t hl = 0;

	rk = vd_http_parse_head(data, k, &head2, &hl, &why);
	if (rk == VD_HTTP_DONE)
		FUZZ_ASSERT(hl <= k);
	if (r == VD_HTTP_DONE) {
		FUZZ_ASSERT(rk == (k < head_len ? VD_HTTP_INCOMPLETE : VD_HTTP_DONE));
		if (rk == VD_HTTP_DONE)
			FUZZ_ASSERT(hl == head_len);
	} else if (r == VD_HTTP_INCOMPLETE) {
		FUZZ_ASSERT(rk == VD_HTTP_INCOMPLETE);
	} else if (bad_at != SIZE_MAX) {
		FUZZ_ASSERT(rk == (k < bad_at ? VD_HTTP_INCOMPLETE : VD_HTTP_BAD));
	}
	if (rk == VD_HTTP_BAD)
		FUZZ_ASSERT(why != NULL && why[0] != '\0');
}

static void
fuzz_head(const uint8_t *data, size_t size, size_t *body_at, int *chunked)
{
	enum vd_http_result r;
	const char *why = NULL;
	size_t head_len = 0, k, bad_at = SIZE_MAX, step;

	*body_at = SIZE_MAX;
	r = vd_http_parse_head(data, size, &head, &head_len, &why);
	if (r == VD_HTTP_DONE) {
		check_head(data, size, head_len);
		*body_at = head_len;
		*chunked = head.chunked;
	} else if (r == VD_HTTP_BAD) {
		FUZZ_ASSERT(why != NULL && why[0] != '\0');
	}
	if (size <= ALL_PREFIXES) {
		/* find where a refusal starts, then check every prefix against it */
		if (r == VD_HTTP_BAD)
			for (k = 1; k <= size && bad_at == SIZE_MAX; k++)
				if (vd_http_parse_head(data, k, &head2, &(size_t){0}, &why) == VD_HTTP_BAD)
					bad_at = k;
		for (k = 0; k <= size; k++)
			check_prefix(data, k, r, head_len, bad_at);
	} else {
		step = size / 64;
		for (k = 0; k <= size; k += step)
			check_prefix(data, k, r, head_len, SIZE_MAX);
		if (r == VD_HTTP_DONE) {
			check_prefix(data, head_len - 1, r, head_len, SIZE_MAX);
			check_prefix(data, head_len, r, head_len, SIZE_MAX);
		}
	}
}

struct dec {
	enum vd_http_result r;
	size_t used, out_len;
	int too_large;
	const char *why;
};

/* Feed in[0..first), then pieces of piece (>= 1) bytes. */
static void
decode(const uint8_t *in, size_t n, size_t max, size_t first, size_t piece, uint8_t *out, struct dec *d)
{
	struct vd_chunked c;
	size_t from = 0, to, used, k;

	memset(out, 0x5a, OUT_MAX + 16);
	memset(d, 0, sizeof(*d));
	vd_chunked_init(&c);
	for (to = first;; to = from + piece) {
		if (to > n)
			to = n;
		used = SIZE_MAX;
		d->r = vd_chunked_feed(&c, in + from, to - from, &used, out, &d->out_len, max, &d->why);
		FUZZ_ASSERT(used <= to - from);
		FUZZ_ASSERT(d->r != VD_HTTP_INCOMPLETE || used == to - from);
		FUZZ_ASSERT(d->out_len <= max && c.total == d->out_len);
		d->used += used;
		if (d->r != VD_HTTP_INCOMPLETE || to == n)
			break;
		from = to;
	}
	d->too_large = c.too_large;
	FUZZ_ASSERT(d->r != VD_HTTP_BAD || (d->why != NULL && d->why[0] != '\0'));
	FUZZ_ASSERT(!d->too_large || d->r == VD_HTTP_BAD);
	for (k = max; k < OUT_MAX + 16; k++)
		FUZZ_ASSERT(out[k] == 0x5a);
	if (d->r == VD_HTTP_DONE) {
		/* the body ends with CRLF (the blank line after the trailers) */
		FUZZ_ASSERT(d->used >= 5 && in[d->used - 2] == '\r' && in[d->used - 1] == '\n');
		/* each decoded byte is one input byte */
		FUZZ_ASSERT(d->out_len < d->used);
	}
}

static void
same(const struct dec *a, const struct dec *b)
{
	FUZZ_ASSERT(a->r == b->r && a->used == b->used && a->out_len == b->out_len &&
		    a->too_large == b->too_large);
	FUZZ_ASSERT(memcmp(out1, out2, a->out_len) == 0);
	FUZZ_ASSERT(a->r != VD_HTTP_BAD || strcmp(a->why, b->why) == 0);
}

static void
fuzz_chunked(const uint8_t *in, size_t n, unsigned salt)
{
	static const size_t maxes[] = {0, 1, 5, 16, 300, OUT_MAX};
	size_t max = maxes[salt % 6], split = n ? (salt * 7919u) % (n + 1) : 0;
	struct dec whole, cut;

	decode(in, n, max, n, n, out1, &whole);
	decode(in, n, max, split, n, out2, &cut);
	same(&whole, &cut);
	if (n <= ALL_PREFIXES) {
		decode(in, n, max, 1, 1, out2, &cut);
		same(&whole, &cut);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t body_at = SIZE_MAX;
	int chunked = 0;
	unsigned salt = 0;
	size_t i;

	fuzz_head(data, size, &body_at, &chunked);
	for (i = 0; i < size && i < 8; i++)
		salt = salt * 31u + data[size - 1 - i];
	/* the whole input as a body, and a chunked body behind a head */
	fuzz_chunked(data, size, salt);
	if (body_at != SIZE_MAX && chunked)
		fuzz_chunked(data + body_at, size - body_at, salt);
	return 0;
}
