/*
 * libFuzzer harness: base58 (src/wallet/base58.c). Bit 0 of byte 0 picks the
 * direction for the rest of the input:
 *  - text: decode it (bit 7 set: into a small buffer, for the TOO_LARGE
 *    path); what decodes must encode to the same text, and an address that
 *    parses must print the same way;
 *  - bytes: encode them; the text must decode to the same bytes (and for 32
 *    bytes, agree with the Solana address functions).
 */
#include "config.h"

#include <string.h>

#include "wallet/base58.h"
#include "fuzz.h"

#define FUZZ_MAX 4096

static void
check_text(const char *text, size_t len, size_t outcap)
{
	uint8_t out[FUZZ_MAX], key[PV_SOLANA_PUBKEY_LEN];
	char again[2 * PV_BASE58_MAX_TEXT], addr[PV_SOLANA_ADDRESS_SIZE], cstr[FUZZ_MAX + 1];
	size_t n = 99, tn;
	pv_err r;

	r = pv_base58_decode(text, len, out, outcap, &n);
	if (r != PV_OK) {
		FUZZ_ASSERT(n == 0 && (r == PV_ERR_BAD_INPUT || r == PV_ERR_TOO_LARGE));
	} else {
		FUZZ_ASSERT(n <= outcap && n <= len);
		FUZZ_ASSERT(pv_base58_encode(out, n, again, sizeof(again), &tn) == PV_OK);
		FUZZ_ASSERT(tn == len && memcmp(again, text, len) == 0);
	}

	memcpy(cstr, text, len);
	cstr[len] = '\0';
	if (pv_solana_address_parse(cstr, key) == PV_OK) {
		FUZZ_ASSERT(pv_solana_address(key, addr) == PV_OK);
		FUZZ_ASSERT(strcmp(addr, cstr) == 0);
	}
}

static void
check_bytes(const uint8_t *bin, size_t len)
{
	uint8_t out[FUZZ_MAX], key[PV_SOLANA_PUBKEY_LEN];
	char text[2 * PV_BASE58_MAX_TEXT], addr[PV_SOLANA_ADDRESS_SIZE];
	size_t n = 99, tn = 99;
	pv_err r;

	r = pv_base58_encode(bin, len, text, sizeof(text), &tn);
	if (r != PV_OK) {
		FUZZ_ASSERT(r == PV_ERR_TOO_LARGE && tn == 0 && text[0] == '\0');
		return;
	}
	FUZZ_ASSERT(tn >= len && tn <= PV_BASE58_MAX_TEXT && strlen(text) == tn);
	FUZZ_ASSERT(pv_base58_decode(text, tn, out, sizeof(out), &n) == PV_OK);
	FUZZ_ASSERT(n == len && memcmp(out, bin, len) == 0);

	if (len == PV_SOLANA_PUBKEY_LEN) {
		FUZZ_ASSERT(pv_solana_address(bin, addr) == PV_OK);
		FUZZ_ASSERT(strcmp(addr, text) == 0);
		FUZZ_ASSERT(pv_solana_address_parse(addr, key) == PV_OK);
		FUZZ_ASSERT(memcmp(key, bin, sizeof(key)) == 0); /* public: an address */
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t outcap;

	if (size < 1 || size > FUZZ_MAX + 1)
		return 0;
	if (data[0] & 1) {
		check_bytes(data + 1, size - 1);
		return 0;
	}
	outcap = data[0] & 0x80 ? (size_t)(data[0] >> 1 & 0x3f) : FUZZ_MAX;
	check_text((const char *)data + 1, size - 1, outcap);
	return 0;
}
