/*
 * EVM transactions: decode an unsigned transaction (legacy with EIP-155
 * replay protection, EIP-2930 type 1, EIP-1559 type 2), give its signing
 * hash, and encode it again with a signature (v or y_parity, r, s).
 *
 * Accepted unsigned forms (what ethers' `unsignedSerialized` and
 * eth_signTransaction clients produce):
 *   legacy:  rlp([nonce, gasPrice, gasLimit, to, value, data, chainId, 0, 0])
 *   type 1:  0x01 || rlp([chainId, nonce, gasPrice, gasLimit, to, value,
 *                         data, accessList])
 *   type 2:  0x02 || rlp([chainId, nonce, maxPriorityFeePerGas,
 *                         maxFeePerGas, gasLimit, to, value, data,
 *                         accessList])
 * The signing hash is Keccak-256 of exactly these bytes. A pre-EIP-155
 * legacy transaction (6 fields, no chain id), a signed transaction, another
 * type byte, non-canonical RLP or integers, trailing bytes, a `to` that is
 * neither empty nor 20 bytes, and a malformed access list are refused.
 */
#ifndef PV_WALLET_EVM_TX_H
#define PV_WALLET_EVM_TX_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "wallet/evm.h"

/* Largest unsigned transaction accepted (a contract deployment's init code
 * is at most 48 KiB by EIP-3860; room for calldata and access lists). */
#define PV_EVM_TX_MAX (128 * 1024)

/* Largest chain id: v = 2 * chain_id + 36 must fit in 64 bits. */
#define PV_EVM_CHAIN_ID_MAX UINT64_C(0x7fffffffffffffed)

typedef enum pv_evm_tx_type {
	PV_EVM_TX_LEGACY = 0,      /* with EIP-155 chain id */
	PV_EVM_TX_ACCESS_LIST = 1, /* EIP-2930 */
	PV_EVM_TX_DYNAMIC_FEE = 2, /* EIP-1559 */
} pv_evm_tx_type;

/*
 * A decoded unsigned transaction. The pointers point into the bytes it was
 * parsed from, which must outlive it.
 */
struct pv_evm_tx {
	pv_evm_tx_type type;
	uint64_t chain_id; /* 1 .. PV_EVM_CHAIN_ID_MAX */
	uint64_t nonce;
	uint64_t gas_limit;
	uint8_t gas_price[32];        /* legacy, type 1 (big-endian); zero otherwise */
	uint8_t max_priority_fee[32]; /* type 2 */
	uint8_t max_fee[32];          /* type 2 */
	int has_to;                   /* 0: contract creation */
	uint8_t to[PV_EVM_ADDR_LEN];
	uint8_t value[32]; /* wei, big-endian */
	const uint8_t *data;
	size_t data_len;
	size_t access_list_entries; /* type 1/2 */
	/* The bytes that were parsed: the signing hash is Keccak-256 of them. */
	const uint8_t *unsigned_raw;
	size_t unsigned_raw_len;
	/* The RLP list's payload up to (legacy: before) the chain-id triple;
	 * encode_signed reuses these field encodings as they are. */
	const uint8_t *fields;
	size_t fields_len;
};

/* Decode len bytes at raw. PV_ERR_BAD_INPUT (detail names the field and
 * why), PV_ERR_TOO_LARGE over PV_EVM_TX_MAX. */
pv_err pv_evm_tx_parse(const uint8_t *raw, size_t len, struct pv_evm_tx *out) PV_WUR;

/* Keccak-256 of the unsigned bytes: what the key signs. */
pv_err pv_evm_tx_signing_hash(const struct pv_evm_tx *tx, uint8_t hash[32]) PV_WUR;

/*
 * Append the signed transaction to out: legacy rlp([... data, v, r, s])
 * with v = chain_id * 2 + 35 + recid; typed type || rlp([... accessList,
 * y_parity, r, s]). rs is r||s (low-S is the caller's job: pv_evm_recovery_id
 * refuses high-S); recid is 0 or 1.
 */
pv_err pv_evm_tx_encode_signed(const struct pv_evm_tx *tx, const uint8_t rs[64], int recid,
			       pv_buf *out) PV_WUR;

/* Keccak-256 of a signed transaction's bytes: its transaction hash. */
pv_err pv_evm_tx_hash(const uint8_t *signed_raw, size_t len, uint8_t hash[32]) PV_WUR;

/* Compare a big-endian 256-bit value with a decimal string (at most
 * 2^256 - 1, digits only): *cmp is <0, 0 or >0 like memcmp. */
pv_err pv_evm_value_cmp_decimal(const uint8_t value[32], const char *decimal, int *cmp) PV_WUR;

/* Decimal text of a big-endian 256-bit value (at most 78 digits + NUL). */
#define PV_EVM_DECIMAL_MAX 79
pv_err pv_evm_value_decimal(const uint8_t value[32], char out[PV_EVM_DECIMAL_MAX]) PV_WUR;

#endif
