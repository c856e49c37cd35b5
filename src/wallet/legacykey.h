/*
 * Wallet private keys in the formats wallet software keeps them in, for
 * `vaultctl bundle import-key` (docs/operations.md §7):
 *
 *   solana-keypair  the Solana CLI's id.json: a JSON array of exactly 64
 *                   integers 0..255, the 32-byte Ed25519 seed followed by the
 *                   32-byte public key;
 *   solana-base58   the same 64 bytes in base58 (Phantom's "export private
 *                   key");
 *   evm-hex         a 32-byte secp256k1 private key in hex, optional 0x.
 *
 * Surrounding whitespace is allowed; anything else is refused. The text is
 * read from guarded memory and decoded into guarded memory, every temporary
 * is wiped, and the key goes to OpenSSL only as the key object the PEM path
 * also makes (the bundle entry is the same PKCS#8 either way). A Solana
 * keypair whose public half is not the seed's public key is refused; so is
 * an EVM key of 0 or not below the curve order n.
 */
#ifndef PV_WALLET_LEGACYKEY_H
#define PV_WALLET_LEGACYKEY_H

#include <stddef.h>

#include <openssl/evp.h>

#include "base/err.h"
#include "base/secmem.h"
#include "wallet/wallet.h"

enum pv_legacy_format {
	PV_LEGACY_SOLANA_KEYPAIR,
	PV_LEGACY_SOLANA_BASE58,
	PV_LEGACY_EVM_HEX,
};

/* Largest input accepted (an id.json with spaces is far below this). */
#define PV_LEGACY_TEXT_MAX 4096

/*
 * Decode text (left locked) in format f into *out: an Ed25519 key for the
 * Solana formats, a secp256k1 key for evm-hex. PV_ERR_BAD_INPUT with a
 * detail that never holds key bytes.
 */
pv_err pv_legacy_key_decode(enum pv_legacy_format f, pv_secret *text, EVP_PKEY **out) PV_WUR;

/*
 * The wallet address of a key's public half: base58 (Solana) for Ed25519,
 * EIP-55 (EVM) for secp256k1; *chain = "solana" / "evm". PV_ERR_KEY_TYPE for
 * other algorithms.
 */
#define PV_LEGACY_ADDRESS_SIZE PV_WALLET_ADDR_MAX
pv_err pv_legacy_key_address(EVP_PKEY *pk, char out[PV_LEGACY_ADDRESS_SIZE], const char **chain) PV_WUR;

#endif
