/*
 * libFuzzer harness: unsigned EVM transactions as a client sends them.
 * Whatever parses must hash to Keccak-256 of the input, point into the
 * input, and re-encode with a fixed signature into a signed transaction
 * that is one canonical RLP list with three more fields than the unsigned
 * form (legacy: the same count, the chain id triple replaced by v, r, s).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "core/keccak.h"
#include "fuzz.h"
#include "wallet/evm_tx.h"
#include "wallet/rlp.h"

static size_t
count_items(const pv_rlp_item *list)
{
	pv_rlp_reader rd;
	pv_rlp_item it;
	size_t n = 0;

	FUZZ_ASSERT(pv_rlp_enter(list, &rd) == PV_OK);
	while (!pv_rlp_at_end(&rd)) {
		FUZZ_ASSERT(pv_rlp_next(&rd, &it) == PV_OK);
		n++;
	}
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t want[] = {9, 11, 12}; /* signed field counts by type */
	struct pv_evm_tx tx;
	uint8_t h1[32], h2[32], rs[64];
	const uint8_t *p;
	size_t n;
	pv_rlp_item top;
	pv_buf *out = NULL;
	pv_err r;

	r = pv_evm_tx_parse(data, size, &tx);
	if (r != PV_OK) {
		FUZZ_ASSERT(r == PV_ERR_BAD_INPUT || r == PV_ERR_TOO_LARGE);
		return 0;
	}
	FUZZ_ASSERT(tx.unsigned_raw == data && tx.unsigned_raw_len == size);
	FUZZ_ASSERT(tx.chain_id >= 1 && tx.chain_id <= PV_EVM_CHAIN_ID_MAX);
	FUZZ_ASSERT(tx.fields >= data && tx.fields_len <= (size_t)(data + size - tx.fields));
	FUZZ_ASSERT(tx.data_len == 0 || (tx.data >= data && tx.data_len <= (size_t)(data + size - tx.data)));
	FUZZ_ASSERT(pv_evm_tx_signing_hash(&tx, h1) == PV_OK);
	pv_keccak256(data, size, h2);
	FUZZ_ASSERT(memcmp(h1, h2, 32) == 0);

	/* r with a leading zero byte, s without: both encodings get exercised */
	memset(rs, 0x11, sizeof(rs));
	rs[0] = 0;
	FUZZ_ASSERT(pv_buf_new(PV_EVM_TX_MAX + 256, &out) == PV_OK);
	FUZZ_ASSERT(pv_evm_tx_encode_signed(&tx, rs, (int)(size & 1), out) == PV_OK);
	p = pv_buf_ptr(out);
	n = pv_buf_len(out);
	if (tx.type == PV_EVM_TX_LEGACY) {
		FUZZ_ASSERT(pv_rlp_decode_all(p, n, &top) == PV_OK);
	} else {
		FUZZ_ASSERT(n > 1 && p[0] == (uint8_t)tx.type);
		FUZZ_ASSERT(pv_rlp_decode_all(p + 1, n - 1, &top) == PV_OK);
	}
	FUZZ_ASSERT(top.kind == PV_RLP_LIST && count_items(&top) == want[tx.type]);
	FUZZ_ASSERT(pv_evm_tx_hash(p, n, h1) == PV_OK);
	pv_keccak256(p, n, h2);
	FUZZ_ASSERT(memcmp(h1, h2, 32) == 0);
	/* a signed transaction is never taken as an unsigned one */
	FUZZ_ASSERT(pv_evm_tx_parse(p, n, &tx) == PV_ERR_BAD_INPUT || n > PV_EVM_TX_MAX);
	pv_buf_free(out);
	return 0;
}
