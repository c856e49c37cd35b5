/*
 * libFuzzer harness: the Solana off-chain message builder over arbitrary
 * message bytes (what a sign-message client sends in the off-chain
 * format). Input: one byte choosing 1..3 signers, 32 bytes of application
 * domain, then the message. What builds must have the version 0 layout
 * exactly, a format its body fits (printable ASCII or UTF-8, the 1232-byte
 * limit for formats 0 and 1), and never look like a Solana transaction or
 * transaction message to pv_solana_tx_prefix; what is refused appends
 * nothing.
 */
#include "config.h"

#include <string.h>

#include "base/jsontext.h"
#include "fuzz.h"
#include "wallet/solana_offchain.h"
#include "wallet/solana_tx.h"

static int
printable(const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t signers[3 * 32];
	pv_solana_offchain_format f = PV_SOLANA_OFFCHAIN_ASCII;
	const uint8_t *body, *m;
	size_t n, len, pre, total, used = 0;
	pv_buf *b = NULL;
	pv_err r;

	if (size < 33)
		return 0;
	n = 1 + data[0] % 3;
	body = data + 33;
	len = size - 33;
	memset(signers, 0xa5, sizeof(signers));
	memcpy(signers, data + 1, 32); /* the first signer: the domain's bytes */
	if (pv_buf_new(70000, &b) != PV_OK)
		return 0;
	r = pv_solana_offchain_build(data + 1, signers, n, body, len, b, &f);
	if (r != PV_OK) {
		FUZZ_ASSERT(r == PV_ERR_BAD_INPUT || r == PV_ERR_TOO_LARGE);
		FUZZ_ASSERT(pv_buf_len(b) == 0);
		FUZZ_ASSERT(len == 0 || len > PV_SOLANA_OFFCHAIN_BODY_MAX || !pv_utf8_valid(body, len));
		pv_buf_free(b);
		return 0;
	}
	pre = PV_SOLANA_OFFCHAIN_PREAMBLE(n);
	total = pre + len;
	m = pv_buf_ptr(b);
	FUZZ_ASSERT(pv_buf_len(b) == total && len >= 1 && len <= PV_SOLANA_OFFCHAIN_BODY_MAX);
	FUZZ_ASSERT(pv_solana_offchain_has_domain(m, total));
	FUZZ_ASSERT(m[16] == 0 && memcmp(m + 17, data + 1, 32) == 0);
	FUZZ_ASSERT(m[49] == (uint8_t)f && m[50] == n && memcmp(m + 51, signers, 32 * n) == 0);
	FUZZ_ASSERT(m[pre - 2] == (len & 0xff) && m[pre - 1] == (len >> 8));
	FUZZ_ASSERT(memcmp(m + pre, body, len) == 0);
	switch (f) {
	case PV_SOLANA_OFFCHAIN_ASCII:
		FUZZ_ASSERT(total <= PV_SOLANA_OFFCHAIN_SHORT_MAX && printable(body, len));
		break;
	case PV_SOLANA_OFFCHAIN_UTF8:
		FUZZ_ASSERT(total <= PV_SOLANA_OFFCHAIN_SHORT_MAX && !printable(body, len));
		FUZZ_ASSERT(pv_utf8_valid(body, len));
		break;
	case PV_SOLANA_OFFCHAIN_UTF8_LONG:
		FUZZ_ASSERT(total > PV_SOLANA_OFFCHAIN_SHORT_MAX && pv_utf8_valid(body, len));
		break;
	default:
		FUZZ_ASSERT(0);
	}
	FUZZ_ASSERT(pv_solana_tx_prefix(m, total, &used) == PV_SOLANA_PREFIX_NONE);
	pv_buf_free(b);
	return 0;
}
