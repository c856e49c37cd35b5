/*
 * RLP decoder and encoder (Yellow Paper, appendix B). The decoder accepts
 * only canonical encodings so that a signed transaction has exactly one
 * byte form: what we show the user is what gets hashed.
 */
#include "config.h"

#include <string.h>

#include "wallet/rlp.h"

/* First bytes of each form. */
#define RLP_STRING_SHORT 0x80
#define RLP_STRING_LONG  0xb8
#define RLP_LIST_SHORT   0xc0
#define RLP_LIST_LONG    0xf8
/* Payloads of this many bytes and more use the long form. */
#define RLP_LONG_MIN     56

void
pv_rlp_reader_init(pv_rlp_reader *rd, const void *data, size_t len)
{
	rd->p = data;
	rd->left = data != NULL ? len : 0;
	rd->depth = 0;
}

int
pv_rlp_at_end(const pv_rlp_reader *rd)
{
	return rd->left == 0;
}

static pv_err
bad(const char *what)
{
	pv_err_set_detail("rlp: %s", what);
	return PV_ERR_BAD_INPUT;
}

/* Long-form length: nb big-endian bytes, minimal, >= 56, within avail. */
static pv_err
read_long_length(const uint8_t *p, size_t nb, size_t avail, size_t *len)
{
	size_t n = 0, i;

	if (nb > avail)
		return bad("truncated length");
	if (p[0] == 0)
		return bad("leading zero in length");
	for (i = 0; i < nb; i++) {
		/* stop before n can overflow: it only needs to reach avail */
		if (n > (avail - nb) >> 8)
			return bad("length exceeds input");
		n = (n << 8) | p[i];
	}
	if (n < RLP_LONG_MIN)
		return bad("long form for a short length");
	*len = n;
	return PV_OK;
}

pv_err
pv_rlp_next(pv_rlp_reader *rd, pv_rlp_item *item)
{
	const uint8_t *p = rd->p;
	size_t avail = rd->left, hdr = 1, len = 0;
	uint8_t b0;
	pv_err r;

	memset(item, 0, sizeof(*item));
	if (avail == 0)
		return bad("no item left");
	b0 = p[0];
	avail--;
	item->kind = b0 >= RLP_LIST_SHORT ? PV_RLP_LIST : PV_RLP_STRING;
	if (b0 < RLP_STRING_SHORT) {
		/* the byte is its own encoding */
		hdr = 0;
		len = 1;
	} else if (b0 < RLP_STRING_LONG) {
		len = (size_t)(b0 - RLP_STRING_SHORT);
		if (len > avail)
			return bad("string exceeds input");
		if (len == 1 && p[1] < RLP_STRING_SHORT)
			return bad("single byte below 0x80 wrapped in a string");
	} else if (b0 < RLP_LIST_SHORT) {
		hdr += (size_t)(b0 - (RLP_STRING_LONG - 1));
		if ((r = read_long_length(p + 1, hdr - 1, avail, &len)) != PV_OK)
			return r;
	} else if (b0 < RLP_LIST_LONG) {
		len = (size_t)(b0 - RLP_LIST_SHORT);
	} else {
		hdr += (size_t)(b0 - (RLP_LIST_LONG - 1));
		if ((r = read_long_length(p + 1, hdr - 1, avail, &len)) != PV_OK)
			return r;
	}
	/* hdr - 1 <= avail here; the payload must fit what follows the header */
	if (hdr > 0 && len > avail - (hdr - 1))
		return bad(item->kind == PV_RLP_LIST ? "list exceeds input" : "string exceeds input");
	item->payload = p + hdr;
	item->len = len;
	item->raw = p;
	item->raw_len = hdr + len;
	item->depth = rd->depth;
	rd->p += item->raw_len;
	rd->left -= item->raw_len;
	return PV_OK;
}

pv_err
pv_rlp_enter(const pv_rlp_item *list, pv_rlp_reader *child)
{
	if (list->kind != PV_RLP_LIST)
		return bad("expected a list");
	if (list->depth + 1 > PV_RLP_MAX_DEPTH) {
		pv_err_set_detail("rlp: lists nested deeper than %d", PV_RLP_MAX_DEPTH);
		return PV_ERR_TOO_LARGE;
	}
	child->p = list->payload;
	child->left = list->len;
	child->depth = list->depth + 1;
	return PV_OK;
}

/* Every item in a list's payload, recursively (depth is bounded by enter). */
static pv_err
check_list(const pv_rlp_item *list)
{
	pv_rlp_reader rd;
	pv_rlp_item it;
	pv_err r;

	if ((r = pv_rlp_enter(list, &rd)) != PV_OK)
		return r;
	while (!pv_rlp_at_end(&rd)) {
		if ((r = pv_rlp_next(&rd, &it)) != PV_OK)
			return r;
		if (it.kind == PV_RLP_LIST && (r = check_list(&it)) != PV_OK)
			return r;
	}
	return PV_OK;
}

pv_err
pv_rlp_decode_all(const void *data, size_t len, pv_rlp_item *item)
{
	pv_rlp_reader rd;
	pv_rlp_item it;
	pv_err r;

	memset(item, 0, sizeof(*item));
	pv_rlp_reader_init(&rd, data, len);
	if ((r = pv_rlp_next(&rd, &it)) != PV_OK)
		return r;
	if (!pv_rlp_at_end(&rd))
		return bad("trailing bytes after the item");
	if (it.kind == PV_RLP_LIST && (r = check_list(&it)) != PV_OK)
		return r;
	*item = it;
	return PV_OK;
}

pv_err
pv_rlp_decode_buf(const pv_buf *b, pv_rlp_item *item)
{
	return pv_rlp_decode_all(pv_buf_ptr(b), pv_buf_len(b), item);
}

/* An integer item's magnitude bytes, checked for canonical form. */
static pv_err
uint_bytes(const pv_rlp_item *item, size_t max, const uint8_t **p, size_t *n)
{
	if (item->kind != PV_RLP_STRING)
		return bad("expected an integer, got a list");
	if (item->len > 0 && item->payload[0] == 0)
		return bad("leading zero in integer");
	if (item->len > max) {
		pv_err_set_detail("rlp: integer longer than %zu bytes", max);
		return PV_ERR_TOO_LARGE;
	}
	*p = item->payload;
	*n = item->len;
	return PV_OK;
}

pv_err
pv_rlp_get_uint64(const pv_rlp_item *item, uint64_t *v)
{
	const uint8_t *p = NULL;
	uint64_t x = 0;
	size_t n = 0, i;
	pv_err r;

	*v = 0;
	if ((r = uint_bytes(item, sizeof(x), &p, &n)) != PV_OK)
		return r;
	for (i = 0; i < n; i++)
		x = (x << 8) | p[i];
	*v = x;
	return PV_OK;
}

pv_err
pv_rlp_get_uint256(const pv_rlp_item *item, uint8_t be[32])
{
	const uint8_t *p = NULL;
	size_t n = 0;
	pv_err r;

	memset(be, 0, 32);
	if ((r = uint_bytes(item, 32, &p, &n)) != PV_OK)
		return r;
	if (n > 0)
		memcpy(be + 32 - n, p, n);
	return PV_OK;
}

/* Minimal big-endian bytes of v into out[8]; returns how many. */
static size_t
be_minimal(uint64_t v, uint8_t out[8])
{
	uint64_t rest;
	size_t n = 0, i;

	for (rest = v; rest != 0; rest >>= 8)
		n++;
	for (i = 0; i < n; i++)
		out[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	return n;
}

size_t
pv_rlp_header_size(size_t payload_len)
{
	uint8_t tmp[8];

	if (payload_len < RLP_LONG_MIN)
		return 1;
	return 1 + be_minimal(payload_len, tmp);
}

size_t
pv_rlp_string_size(const void *data, size_t len)
{
	const uint8_t *p = data;

	if (len == 1 && p[0] < RLP_STRING_SHORT)
		return 1;
	return pv_rlp_header_size(len) + len;
}

/* Header (and payload, if any) in one reservation: all or nothing. */
static pv_err
put_item(pv_buf *b, uint8_t short_base, uint8_t long_base, const uint8_t *payload, size_t len)
{
	uint8_t h[9], *dst = NULL;
	size_t n = 0;
	pv_err r;

	if (len < RLP_LONG_MIN) {
		h[0] = (uint8_t)(short_base + len);
	} else {
		n = be_minimal(len, h + 1);
		h[0] = (uint8_t)(long_base - 1 + n);
	}
	if (payload != NULL && len > PV_BUF_SIZE_MAX)
		return PV_ERR_TOO_LARGE;
	if ((r = pv_buf_reserve(b, 1 + n + (payload != NULL ? len : 0), &dst)) != PV_OK)
		return r;
	memcpy(dst, h, 1 + n);
	if (payload != NULL && len > 0)
		memcpy(dst + 1 + n, payload, len);
	return PV_OK;
}

pv_err
pv_rlp_put_string(pv_buf *b, const void *data, size_t len)
{
	static const uint8_t empty[1];
	const uint8_t *p = data;

	if (len > 0 && data == NULL)
		return PV_ERR_USAGE;
	if (len == 1 && p[0] < RLP_STRING_SHORT)
		return pv_buf_put(b, p, 1);
	return put_item(b, RLP_STRING_SHORT, RLP_STRING_LONG, len > 0 ? p : empty, len);
}

pv_err
pv_rlp_put_list_header(pv_buf *b, size_t payload_len)
{
	return put_item(b, RLP_LIST_SHORT, RLP_LIST_LONG, NULL, payload_len);
}

pv_err
pv_rlp_put_uint64(pv_buf *b, uint64_t v)
{
	uint8_t tmp[8];
	size_t n = be_minimal(v, tmp);

	return pv_rlp_put_string(b, tmp, n);
}

pv_err
pv_rlp_put_uint256(pv_buf *b, const uint8_t be[32])
{
	size_t skip = 0;

	while (skip < 32 && be[skip] == 0)
		skip++;
	return pv_rlp_put_string(b, be + skip, 32 - skip);
}
