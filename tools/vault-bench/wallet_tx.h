/*
 * vault-bench wallet workloads: the fixed transactions it asks vaultd to
 * sign, and the checks of vaultd's replies (a bench must not measure error
 * replies or wrong signatures). Signatures are checked with OpenSSL against
 * the key's public key, independently of the code that made them.
 *
 * Solana: a legacy System Program transfer of 1,000,000 lamports whose fee
 * payer (the only signer) is the wallet key:
 *   shortvec(1) || 64 zero bytes || message
 *   message = header [1, 0, 1] || shortvec(3) || payer || recipient ||
 *             system program (32 zero bytes) || blockhash ||
 *             shortvec(1) || [2, shortvec(2), 0, 1, shortvec(12),
 *             u32le 2 (Transfer), u64le lamports]
 * EVM: an unsigned EIP-1559 transfer on chain 1 (0.001 ETH, 21000 gas,
 * 1 / 30 gwei), 0x02 || rlp([...]); the key signs its Keccak-256.
 */
#ifndef PV_BENCH_WALLET_TX_H
#define PV_BENCH_WALLET_TX_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "base/err.h"

#define BENCH_SOL_MSG_OFF  65  /* after shortvec(1) and the signature slot */
#define BENCH_SOL_MSG_LEN  150 /* 3 + 1 + 3*32 + 32 + 1 + 1 + 3 + 13 */
#define BENCH_SOL_TX_LEN   (BENCH_SOL_MSG_OFF + BENCH_SOL_MSG_LEN)
#define BENCH_SOL_LAMPORTS 1000000u

#define BENCH_EVM_TX_LEN   49 /* 0x02 || list header || 47 payload bytes */
#define BENCH_EVM_CHAIN_ID 1u

/* The unsigned Solana transfer with payer (the key's public key) as fee
 * payer; the message is tx[BENCH_SOL_MSG_OFF..]. */
void bench_solana_transfer(const uint8_t payer[32], uint8_t tx[BENCH_SOL_TX_LEN]);

/* The unsigned EIP-1559 transfer and its signing hash (Keccak-256). */
void bench_evm_transfer(uint8_t tx[BENCH_EVM_TX_LEN], uint8_t hash[32]);

/*
 * Check a 200 reply of POST .../solana/sign-transaction for tx: the same
 * transaction back with a signature in slot 0 that equals signature_b58 and
 * verifies (OpenSSL Ed25519) over the message with pub, signer_index 0, the
 * address of pub. On success sig_b58 (at least 90 bytes) holds the
 * signature's base58. PV_ERR_BAD_SIGNATURE for a wrong signature, PV_ERR_BAD_INPUT
 * for anything else (detail says what).
 */
pv_err bench_check_solana_reply(const char *body, size_t len, const uint8_t tx[BENCH_SOL_TX_LEN],
				EVP_PKEY *pub, char *sig_b58, size_t sig_b58_size) PV_WUR;

/*
 * Check a 200 reply of POST .../evm/sign-transaction for tx: type 2, chain
 * id 1, the address of pub, r||s a low-S ECDSA signature that verifies
 * (OpenSSL) over the signing hash with pub, y_parity the recovery id,
 * raw_transaction the same fields with (y_parity, r, s) appended and
 * tx_hash its Keccak-256.
 */
pv_err bench_check_evm_reply(const char *body, size_t len, const uint8_t tx[BENCH_EVM_TX_LEN],
			     EVP_PKEY *pub) PV_WUR;

#endif
