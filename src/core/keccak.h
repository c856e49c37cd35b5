/*
 * Keccak-256 as Ethereum uses it: the Keccak submission's padding (first pad
 * byte 0x01), not FIPS 202 SHA3-256 (0x06). OpenSSL 3.0 has no such digest,
 * so it is written here. The sponge takes the pad byte as a parameter so the
 * tests can check the permutation against OpenSSL's SHA3-256.
 */
#ifndef PV_KECCAK_H
#define PV_KECCAK_H

#include <stddef.h>
#include <stdint.h>

#define PV_KECCAK256_LEN  32
#define PV_KECCAK256_RATE 136 /* bytes absorbed per permutation: 1600 - 2*256 bits */

#define PV_KECCAK_PAD_KECCAK 0x01 /* original Keccak (Ethereum) */
#define PV_KECCAK_PAD_SHA3   0x06 /* FIPS 202 SHA3 domain bits + first pad bit */

/* Incremental sponge with a 256-bit capacity and a 32-byte output. */
typedef struct pv_keccak_ctx {
	uint64_t st[25];
	size_t pos; /* bytes absorbed into the current block */
	uint8_t pad;
} pv_keccak_ctx;

/* The Keccak-f[1600] permutation, 24 rounds, lanes in host order. */
void pv_keccak_f1600(uint64_t st[25]);

/* pad is PV_KECCAK_PAD_KECCAK or PV_KECCAK_PAD_SHA3. */
void pv_keccak256_init(pv_keccak_ctx *ctx, uint8_t pad);
void pv_keccak256_update(pv_keccak_ctx *ctx, const uint8_t *in, size_t len);
/* Writes 32 bytes and wipes the context. */
void pv_keccak256_final(pv_keccak_ctx *ctx, uint8_t out[PV_KECCAK256_LEN]);

/* One-shot Keccak-256 (Ethereum's keccak256). */
void pv_keccak256(const uint8_t *in, size_t len, uint8_t out[PV_KECCAK256_LEN]);

#endif
