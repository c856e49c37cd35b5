/*
 * libFuzzer harness: a serialized Solana transaction as a signing request
 * delivers it. Whatever parses must describe itself inside the input:
 * signature slots, message, keys and blockhash all in range, counts
 * consistent, and a signature written into every slot leaves the message
 * bytes unchanged and the transaction still parsing the same.
 *
 * The same bytes go to pv_solana_tx_prefix, the check that keeps
 * transactions out of off-chain message signing: a prefix it finds is
 * inside the input and found again alone; whatever pv_solana_tx_parse
 * accepts, it finds (the whole transaction, or a message at its start), and
 * it finds the message of every transaction that parses.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "wallet/solana_tx.h"

static int
inside(const uint8_t *base, size_t len, const uint8_t *p, size_t n)
{
	return p >= base && (size_t)(p - base) <= len && n <= len - (size_t)(p - base);
}

static void
check_prefix(const uint8_t *data, size_t size)
{
	pv_solana_prefix kind, again;
	size_t used = 0, used2 = 0;

	kind = pv_solana_tx_prefix(data, size, &used);
	if (kind == PV_SOLANA_PREFIX_NONE) {
		FUZZ_ASSERT(used == 0);
		return;
	}
	FUZZ_ASSERT(kind == PV_SOLANA_PREFIX_MESSAGE || kind == PV_SOLANA_PREFIX_TRANSACTION);
	FUZZ_ASSERT(used >= 1 && used <= size);
	again = pv_solana_tx_prefix(data, used, &used2);
	FUZZ_ASSERT(again == kind && used2 == used);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pv_solana_tx p, again;
	uint8_t sig[PV_SOLANA_SIG_LEN];
	uint8_t *copy = NULL;
	size_t i, idx = 0, used = 0;
	pv_solana_prefix kind;

	check_prefix(data, size);
	if (pv_solana_tx_parse(data, size, &p) != PV_OK)
		return 0;
	kind = pv_solana_tx_prefix(data, size, &used);
	FUZZ_ASSERT(kind != PV_SOLANA_PREFIX_NONE);
	FUZZ_ASSERT(kind == PV_SOLANA_PREFIX_MESSAGE || used == size);
	FUZZ_ASSERT(pv_solana_tx_prefix(p.message, p.message_len, &used) == PV_SOLANA_PREFIX_MESSAGE);
	FUZZ_ASSERT(used == p.message_len);
	FUZZ_ASSERT(size <= PV_SOLANA_TX_MAX);
	FUZZ_ASSERT(p.num_signatures >= 1 && p.num_signatures == p.num_required_signatures);
	FUZZ_ASSERT(p.num_readonly_signed < p.num_required_signatures);
	FUZZ_ASSERT(p.num_required_signatures + p.num_readonly_unsigned <= p.num_account_keys);
	FUZZ_ASSERT(p.sig_off + p.num_signatures * PV_SOLANA_SIG_LEN == p.message_off);
	FUZZ_ASSERT(p.message_off + p.message_len == size && p.message == data + p.message_off);
	FUZZ_ASSERT(inside(data, size, p.account_keys, p.num_account_keys * PV_SOLANA_KEY_LEN));
	FUZZ_ASSERT(inside(p.message, p.message_len, p.account_keys, p.num_account_keys * PV_SOLANA_KEY_LEN));
	FUZZ_ASSERT(inside(p.message, p.message_len, p.blockhash, PV_SOLANA_KEY_LEN));
	FUZZ_ASSERT(p.version == PV_SOLANA_V0 || p.num_lookups == 0);
	FUZZ_ASSERT(p.num_account_keys + p.num_lookup_writable + p.num_lookup_readonly <= 256);

	/* Every signer finds its own slot. */
	for (i = 0; i < p.num_required_signatures; i++) {
		FUZZ_ASSERT(pv_solana_tx_signer_index(&p, p.account_keys + i * PV_SOLANA_KEY_LEN, &idx) ==
			    PV_OK);
		FUZZ_ASSERT(idx == i);
	}

	if ((copy = malloc(size)) == NULL)
		return 0;
	memcpy(copy, data, size);
	memset(sig, 0x5a, sizeof(sig));
	for (i = 0; i < p.num_signatures; i++)
		FUZZ_ASSERT(pv_solana_tx_put_signature(copy, &p, i, sig) == PV_OK);
	FUZZ_ASSERT(pv_solana_tx_put_signature(copy, &p, p.num_signatures, sig) == PV_ERR_USAGE);
	FUZZ_ASSERT(memcmp(copy + p.message_off, p.message, p.message_len) == 0);
	FUZZ_ASSERT(pv_solana_tx_parse(copy, size, &again) == PV_OK);
	FUZZ_ASSERT(again.message_off == p.message_off && again.num_instructions == p.num_instructions);
	free(copy);
	return 0;
}
