/*
 * Solana off-chain messages, header version 0, as laid out by the Solana
 * "Off-chain message signing" proposal (docs.anza.xyz, proposals) and
 * encoded the same way by @solana/offchain-messages: what a wallet signs
 * for "sign in with Solana" style proofs, in a domain no transaction can
 * share (the first byte 0xff is not a valid first byte of a transaction
 * message). docs/wallet.md, "solana_offchain".
 *
 *   offset       bytes     field
 *   0x00         16        signing domain "\xffsolana offchain"
 *   0x10         1         header version (0)
 *   0x11         32        application domain (any 32 bytes)
 *   0x31         1         message format (0, 1, 2 below)
 *   0x32         1         signer count (not 0)
 *   0x33         32 each   signer public keys
 *   then         2         message length, u16 little-endian (not 0)
 *   then         length    the message
 */
#ifndef PV_WALLET_SOLANA_OFFCHAIN_H
#define PV_WALLET_SOLANA_OFFCHAIN_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

#define PV_SOLANA_OFFCHAIN_SIGNING_DOMAIN     "\xffsolana offchain"
#define PV_SOLANA_OFFCHAIN_SIGNING_DOMAIN_LEN 16
#define PV_SOLANA_OFFCHAIN_APP_DOMAIN_LEN     32
/* The preamble: 16 + 1 + 32 + 1 + 1 + 32 per signer + 2. */
#define PV_SOLANA_OFFCHAIN_PREAMBLE(nsigners) (53 + 32 * (size_t)(nsigners))
/* Formats 0 and 1: the whole message, preamble included (a packet). */
#define PV_SOLANA_OFFCHAIN_SHORT_MAX          1232
/* Format 2: the message body (the u16 length). */
#define PV_SOLANA_OFFCHAIN_BODY_MAX           65535

typedef enum pv_solana_offchain_format {
	PV_SOLANA_OFFCHAIN_ASCII = 0,     /* printable ASCII 0x20..0x7e, whole message <= 1232 */
	PV_SOLANA_OFFCHAIN_UTF8 = 1,      /* UTF-8, whole message <= 1232 */
	PV_SOLANA_OFFCHAIN_UTF8_LONG = 2, /* UTF-8, body <= 65535 */
} pv_solana_offchain_format;

/* "ascii", "utf8", "utf8-long". */
const char *pv_solana_offchain_format_name(pv_solana_offchain_format f);

/*
 * Append the version 0 message to out: application domain app_domain,
 * signers (nsigners 32-byte Ed25519 public keys, 1..255, in the order
 * given), body (1..65535 bytes of UTF-8). The format is the first of
 * ascii, utf8, utf8-long that the body fits (*format). PV_ERR_BAD_INPUT for
 * an empty body, one that is not UTF-8 (RFC 3629) or no signer;
 * PV_ERR_TOO_LARGE for a body over 65535 bytes or a message that does not
 * fit out. Nothing is appended on failure.
 */
pv_err pv_solana_offchain_build(const uint8_t app_domain[PV_SOLANA_OFFCHAIN_APP_DOMAIN_LEN],
				const uint8_t *signers, size_t nsigners, const uint8_t *body, size_t len,
				pv_buf *out, pv_solana_offchain_format *format) PV_WUR;

/* Whether bytes begin with the off-chain signing domain. */
int pv_solana_offchain_has_domain(const uint8_t *buf, size_t len);

#endif
