/*
 * libFuzzer harness: pv_buf_get_der, the DER reader every attribute parser
 * uses. Walks the input as a tree of TLVs (constructed tags descended into,
 * up to a depth limit) asking for the tag that is actually there, and checks
 * that each value lies inside the input right after a minimal header.
 */
#include "config.h"

#include <stdlib.h>

#include "base/buf.h"
#include "fuzz.h"

#define MAX_DEPTH 8

static void
walk(const uint8_t *data, size_t size, int depth)
{
	pv_buf *b = NULL;
	const uint8_t *start, *val = NULL;
	size_t before, len = 0, hdr;
	uint8_t tag = 0;

	if (depth > MAX_DEPTH || pv_buf_view(data, size, &b) != PV_OK)
		return;
	while (pv_buf_len(b) > 0) {
		start = pv_buf_ptr(b);
		before = pv_buf_len(b);
		if (pv_buf_peek_u8(b, &tag) != PV_OK)
			break;
		if (pv_buf_get_der(b, tag, &val, &len) != PV_OK) {
			/* a failed read consumes nothing */
			FUZZ_ASSERT(pv_buf_len(b) == before && pv_buf_ptr(b) == start);
			/* and asking for another tag fails too */
			FUZZ_ASSERT(pv_buf_get_der(b, (uint8_t)(tag ^ 1), &val, &len) != PV_OK);
			break;
		}
		hdr = len < 0x80 ? 2 : len < 0x100 ? 3 : len < 0x10000 ? 4 : len < 0x1000000 ? 5 : 6;
		FUZZ_ASSERT(val == start + hdr);
		FUZZ_ASSERT(hdr + len <= before && pv_buf_len(b) == before - hdr - len);
		if (tag & 0x20)
			walk(val, len, depth + 1);
	}
	pv_buf_free(b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pv_buf *b = NULL;
	const uint8_t *val = NULL;
	size_t len = 0;

	if (size < 1)
		return 0;
	walk(data, size, 0);
	/* a mismatched tag never reads anything */
	if (pv_buf_view(data, size, &b) == PV_OK) {
		FUZZ_ASSERT(pv_buf_get_der(b, (uint8_t)~data[0], &val, &len) != PV_OK);
		FUZZ_ASSERT(val == NULL && len == 0 && pv_buf_len(b) == size);
		pv_buf_free(b);
	}
	return 0;
}
