/*
 * Base58 with the Bitcoin alphabet (no 0, O, I, l), as Solana uses it for
 * addresses, signatures and blockhashes. The bytes are read as one big-endian
 * number written in base 58; each leading zero byte becomes a leading '1'.
 * Decoding is strict (alphabet characters only, no whitespace), so every
 * accepted text is the one encoding of what it decodes to. Addresses and
 * signatures are public: the loops are not constant-time.
 */
#ifndef PV_BASE58_H
#define PV_BASE58_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/*
 * Longest text either direction handles. Encoding n bytes never gives fewer
 * than n characters, so anything that decodes also encodes again.
 */
#define PV_BASE58_MAX_TEXT ((size_t)1024)

#define PV_SOLANA_PUBKEY_LEN   32
#define PV_SOLANA_ADDRESS_MIN  32 /* 32 zero bytes: 32 '1's */
#define PV_SOLANA_ADDRESS_MAX  44 /* ceil(32 * log(256) / log(58)) */
#define PV_SOLANA_ADDRESS_SIZE (PV_SOLANA_ADDRESS_MAX + 1)

/*
 * Encode len bytes into out (outcap bytes) as NUL-terminated text; *outlen
 * is the text length without the NUL. PV_ERR_TOO_LARGE if the text would be
 * longer than PV_BASE58_MAX_TEXT or not fit in outcap with its NUL. On
 * failure *outlen is 0 and out (if outcap > 0) is the empty string.
 */
pv_err pv_base58_encode(const uint8_t *in, size_t len, char *out, size_t outcap, size_t *outlen) PV_WUR;

/*
 * Decode len characters (no NUL needed) into out, which holds outcap bytes.
 * PV_ERR_BAD_INPUT for a character outside the alphabet, PV_ERR_TOO_LARGE
 * for text over PV_BASE58_MAX_TEXT or a result over outcap. On failure
 * *outlen is 0 and out is not written.
 */
pv_err pv_base58_decode(const char *in, size_t len, uint8_t *out, size_t outcap, size_t *outlen) PV_WUR;

/* A Solana address: the base58 of the 32-byte Ed25519 public key. */
pv_err pv_solana_address(const uint8_t pubkey[PV_SOLANA_PUBKEY_LEN], char out[PV_SOLANA_ADDRESS_SIZE]) PV_WUR;

/*
 * Parse a NUL-terminated address that must decode to exactly 32 bytes
 * (PV_ERR_BAD_INPUT otherwise). pubkey is written only on success.
 */
pv_err pv_solana_address_parse(const char *s, uint8_t pubkey[PV_SOLANA_PUBKEY_LEN]) PV_WUR;

#endif
