/*
 * Solana transaction parser (legacy and v0 messages), for signing: find a
 * signer's slot and fill it. Wire format: Solana docs, "Transactions".
 * Parsing records offsets into the caller's bytes and copies nothing; the
 * bytes must outlive the parsed struct. docs/wallet.md, "solana_tx".
 */
#ifndef PV_WALLET_SOLANA_TX_H
#define PV_WALLET_SOLANA_TX_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define PV_SOLANA_TX_MAX  1232 /* packet data limit: whole transaction */
#define PV_SOLANA_SIG_LEN 64
#define PV_SOLANA_KEY_LEN 32

typedef enum pv_solana_version {
	PV_SOLANA_LEGACY = 0,
	PV_SOLANA_V0 = 1,
} pv_solana_version;

struct pv_solana_tx {
	/* Signature i is at bytes [sig_off + 64*i, +64) of the transaction. */
	size_t num_signatures;
	size_t sig_off;
	/* The signed bytes: [message_off, message_off + message_len). */
	size_t message_off;
	size_t message_len;
	const uint8_t *message;
	pv_solana_version version;
	uint8_t num_required_signatures;
	uint8_t num_readonly_signed;
	uint8_t num_readonly_unsigned;
	/* Static account keys, 32 bytes each, in the transaction's bytes. */
	const uint8_t *account_keys;
	size_t num_account_keys;
	const uint8_t *blockhash;
	size_t num_instructions;
	/* v0 only (0 for legacy): tables, and accounts they load. */
	size_t num_lookups;
	size_t num_lookup_writable;
	size_t num_lookup_readonly;
};

/*
 * Parse a serialized transaction. PV_ERR_TOO_LARGE over PV_SOLANA_TX_MAX
 * bytes, PV_ERR_BAD_INPUT (detail says what) for anything malformed,
 * inconsistent or followed by trailing bytes. *out is zeroed on failure.
 */
pv_err pv_solana_tx_parse(const uint8_t *tx, size_t len, struct pv_solana_tx *out) PV_WUR;

/* What pv_solana_tx_prefix found at the start of some bytes. */
typedef enum pv_solana_prefix {
	PV_SOLANA_PREFIX_NONE = 0,
	PV_SOLANA_PREFIX_MESSAGE = 1,     /* a transaction message: what a signature authorises */
	PV_SOLANA_PREFIX_TRANSACTION = 2, /* a whole transaction: signature list, then a message */
} pv_solana_prefix;

/*
 * Whether buf begins with a Solana transaction message or a whole
 * transaction (legacy or v0), whatever follows it: the domain check of
 * off-chain message signing. *used is that prefix's length (0 for none).
 * The rules are pv_solana_tx_parse's, widened, so that anything a runtime
 * might take as a transaction is caught: any size (no packet limit),
 * anything after it, non-canonical compact-u16, repeated account keys, and
 * a signature count other than the header's. Reads at most len bytes; may
 * leave an error detail behind.
 */
pv_solana_prefix pv_solana_tx_prefix(const uint8_t *buf, size_t len, size_t *used);

/* Which signature slot belongs to pubkey: PV_ERR_NOT_FOUND unless it is one
 * of the first num_required_signatures account keys. */
pv_err pv_solana_tx_signer_index(const struct pv_solana_tx *tx, const uint8_t pubkey[PV_SOLANA_KEY_LEN],
				 size_t *index) PV_WUR;

/* Write sig into slot index of tx (the bytes p was parsed from). */
pv_err pv_solana_tx_put_signature(uint8_t *tx, const struct pv_solana_tx *p, size_t index,
				  const uint8_t sig[PV_SOLANA_SIG_LEN]) PV_WUR;

#endif
