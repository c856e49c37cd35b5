/*
 * libFuzzer harness: the strict text decoders. Byte 0 picks base64url,
 * base64 or hex and the output limit; the rest is the text. The decoders
 * accept only canonical text, so encoding what they return must give the
 * input back (hex: up to letter case).
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/b64.h"
#include "fuzz.h"

static int
same_hex(const char *a, const char *b, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (tolower((unsigned char)a[i]) != tolower((unsigned char)b[i]))
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t out[4096], *heap = NULL;
	const char *text;
	char *again = NULL;
	size_t n = 0, max, len;
	unsigned which;
	pv_err r;

	if (size < 1 || size > 4096)
		return 0;
	which = data[0] % 3;
	/* small limits exercise the TOO_LARGE path */
	max = data[0] & 0x80 ? (size_t)(data[0] & 0x3f) : sizeof(out);
	text = (const char *)data + 1;
	len = size - 1;
	if (which == 0)
		r = pv_b64url_decode(text, len, out, max, &n);
	else if (which == 1)
		r = pv_b64_decode(text, len, out, max, &n);
	else
		r = pv_hex_decode(text, len, out, max, &n);
	if (r != PV_OK) {
		FUZZ_ASSERT(n == 0 && (r == PV_ERR_BAD_INPUT || r == PV_ERR_TOO_LARGE));
		return 0;
	}
	FUZZ_ASSERT(n <= max);
	if (which == 0)
		r = pv_b64url_encode(out, n, &again);
	else if (which == 1)
		r = pv_b64_encode(out, n, &again);
	else
		r = pv_hex_encode(out, n, &again);
	FUZZ_ASSERT(r == PV_OK && strlen(again) == len);
	FUZZ_ASSERT(which == 2 ? same_hex(again, text, len) : memcmp(again, text, len) == 0);
	free(again);

	if (which == 0) {
		FUZZ_ASSERT(pv_b64url_decode_alloc(text, len, max, &heap, &n) == PV_OK);
		FUZZ_ASSERT(n <= max && memcmp(heap, out, n) == 0);
		free(heap);
	}
	return 0;
}
