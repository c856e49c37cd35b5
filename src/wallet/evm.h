/*
 * EVM (Ethereum) addresses and message hashes for secp256k1 keys: the
 * address (last 20 bytes of Keccak-256 over the 64-byte point X||Y), its
 * EIP-55 mixed-case text form, the EIP-191 personal_sign hash, and the
 * recovery id a signature needs to become Ethereum's (r, s, v).
 */
#ifndef PV_WALLET_EVM_H
#define PV_WALLET_EVM_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "base/err.h"

#define PV_EVM_ADDR_LEN     20
#define PV_EVM_POINT_LEN    64 /* X||Y, 32 bytes each, no 0x04 prefix */
#define PV_EVM_ADDR_STR_LEN 42 /* "0x" + 40 hex digits, without the NUL */

/*
 * X||Y of a secp256k1 public key (whatever point conversion form the key is
 * set to). Other key types are PV_ERR_KEY_TYPE.
 */
pv_err pv_evm_pubkey_point(const EVP_PKEY *pub, uint8_t xy[PV_EVM_POINT_LEN]) PV_WUR;

/* The address of a secp256k1 public key; other key types PV_ERR_KEY_TYPE. */
pv_err pv_evm_address(const EVP_PKEY *pub, uint8_t addr[PV_EVM_ADDR_LEN]) PV_WUR;

/*
 * The address of a point given as X||Y. A point that is not on the curve is
 * PV_ERR_BAD_INPUT: it has no private key, so its "address" would be a trap.
 */
pv_err pv_evm_address_from_point(const uint8_t xy[PV_EVM_POINT_LEN], uint8_t addr[PV_EVM_ADDR_LEN]) PV_WUR;

/* EIP-55 text: "0x" and 40 hex digits in checksum case, NUL-terminated. */
void pv_evm_checksum(const uint8_t addr[PV_EVM_ADDR_LEN], char out[PV_EVM_ADDR_STR_LEN + 1]);

/*
 * Parse "0x" and exactly 40 hex digits (nothing before or after). All
 * lower-case or all upper-case digits carry no checksum and are accepted;
 * mixed case must be the EIP-55 form exactly. PV_ERR_BAD_INPUT otherwise
 * (detail "bad EIP-55 checksum" for a wrong case pattern).
 */
pv_err pv_evm_address_parse(const char *s, uint8_t addr[PV_EVM_ADDR_LEN]) PV_WUR;

/*
 * EIP-191 version 0x45 (personal_sign): keccak256("\x19Ethereum Signed
 * Message:\n" || decimal len || msg). msg may be NULL when len is 0.
 */
pv_err pv_evm_personal_hash(const uint8_t *msg, size_t len, uint8_t hash[32]) PV_WUR;

/*
 * The recovery id (0 or 1; Ethereum's v is 27 + it, or it + 35 + 2 *
 * chain_id under EIP-155) of the low-S signature rs = r||s over hash by the
 * key whose point is xy. A high-S or out-of-range signature is
 * PV_ERR_BAD_INPUT; one that recovers to another key with both ids is
 * PV_ERR_INTEGRITY (it is not this key's signature of this hash).
 */
pv_err pv_evm_recovery_id(const uint8_t hash[32], const uint8_t rs[64], const uint8_t xy[PV_EVM_POINT_LEN],
			  int *v) PV_WUR;

/*
 * Ethereum's "0x" hex (transactions, hashes, signatures). Decoding takes
 * "0x" then an even number of hex digits of either case, len characters
 * (no NUL needed), at most max bytes: PV_ERR_BAD_INPUT without the "0x" or
 * for anything else that is not hex, PV_ERR_TOO_LARGE over max; details
 * never quote the text. Encoding gives "0x" and lower-case digits,
 * malloc'd (free()).
 */
pv_err pv_hex0x_decode(const char *text, size_t len, uint8_t *out, size_t max, size_t *outlen) PV_WUR;
pv_err pv_hex0x_encode(const uint8_t *in, size_t len, char **out) PV_WUR;

#endif
