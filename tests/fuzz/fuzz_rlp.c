/*
 * libFuzzer harness: the RLP decoder. The decoder accepts only canonical
 * encodings, so whatever it accepts must re-encode to exactly the input.
 * Integer items are read back through the uint helpers and re-encoded too.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "wallet/rlp.h"

static const uint8_t *in_lo, *in_hi;

static void
check_uint(const pv_rlp_item *it)
{
	uint8_t be[32];
	uint64_t v = 0;
	pv_buf *b = NULL;
	pv_err r, r64;

	r = pv_rlp_get_uint256(it, be);
	r64 = pv_rlp_get_uint64(it, &v);
	if (r != PV_OK) {
		FUZZ_ASSERT(r64 != PV_OK);
		return;
	}
	FUZZ_ASSERT(pv_buf_new(64, &b) == PV_OK);
	FUZZ_ASSERT(pv_rlp_put_uint256(b, be) == PV_OK);
	FUZZ_ASSERT(pv_buf_len(b) == it->raw_len && memcmp(pv_buf_ptr(b), it->raw, it->raw_len) == 0);
	if (r64 == PV_OK) {
		pv_buf_reset(b);
		FUZZ_ASSERT(pv_rlp_put_uint64(b, v) == PV_OK);
		FUZZ_ASSERT(pv_buf_len(b) == it->raw_len && memcmp(pv_buf_ptr(b), it->raw, it->raw_len) == 0);
	} else {
		FUZZ_ASSERT(r64 == PV_ERR_TOO_LARGE && it->len > 8);
	}
	pv_buf_free(b);
}

/* Re-encode an item (already checked by decode_all) onto out. */
static void
reencode(const pv_rlp_item *it, pv_buf *out)
{
	pv_rlp_reader rd;
	pv_rlp_item child;

	FUZZ_ASSERT(it->raw >= in_lo && it->raw_len <= (size_t)(in_hi - it->raw));
	FUZZ_ASSERT(it->payload >= it->raw && it->payload + it->len == it->raw + it->raw_len);
	if (it->kind == PV_RLP_STRING) {
		FUZZ_ASSERT(pv_rlp_string_size(it->payload, it->len) == it->raw_len);
		FUZZ_ASSERT(pv_rlp_put_string(out, it->payload, it->len) == PV_OK);
		check_uint(it);
		return;
	}
	FUZZ_ASSERT(pv_rlp_header_size(it->len) + it->len == it->raw_len);
	FUZZ_ASSERT(pv_rlp_put_list_header(out, it->len) == PV_OK);
	FUZZ_ASSERT(pv_rlp_enter(it, &rd) == PV_OK);
	while (!pv_rlp_at_end(&rd)) {
		FUZZ_ASSERT(pv_rlp_next(&rd, &child) == PV_OK);
		FUZZ_ASSERT(child.depth == it->depth + 1 && child.depth <= PV_RLP_MAX_DEPTH);
		reencode(&child, out);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pv_rlp_item top;
	pv_rlp_reader rd;
	pv_buf *out = NULL;
	pv_err r;

	if (size > 1 << 16)
		return 0;
	in_lo = data;
	in_hi = data + size;
	r = pv_rlp_decode_all(data, size, &top);
	if (r != PV_OK) {
		FUZZ_ASSERT(r == PV_ERR_BAD_INPUT || r == PV_ERR_TOO_LARGE);
		return 0;
	}
	FUZZ_ASSERT(top.raw == data && top.raw_len == size && top.depth == 0);
	FUZZ_ASSERT(pv_buf_new(size + 16, &out) == PV_OK);
	reencode(&top, out);
	FUZZ_ASSERT(pv_buf_len(out) == size && memcmp(pv_buf_ptr(out), data, size) == 0);
	pv_buf_free(out);

	/* the streaming reader sees the same single item */
	pv_rlp_reader_init(&rd, data, size);
	FUZZ_ASSERT(pv_rlp_next(&rd, &top) == PV_OK && pv_rlp_at_end(&rd));
	return 0;
}
