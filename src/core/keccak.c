#include "config.h"

#include <string.h>

#include <sodium.h>

#include "core/keccak.h"

/* Round constants for iota (FIPS 202, section 3.2.5). */
static const uint64_t round_const[24] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL,
    0x000000000000808bULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008aULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
    0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
};

/* Rotation offsets for rho, indexed by lane x + 5*y. */
static const unsigned rho_offset[25] = {
    0,  1,  62, 28, 27, /* y = 0 */
    36, 44, 6,  55, 20, /* y = 1 */
    3,  10, 43, 25, 39, /* y = 2 */
    41, 45, 15, 21, 8,  /* y = 3 */
    18, 2,  61, 56, 14, /* y = 4 */
};

static uint64_t
rotl64(uint64_t v, unsigned n)
{
	return (v << n) | (v >> ((64 - n) & 63));
}

void
pv_keccak_f1600(uint64_t st[25])
{
	uint64_t c[5], d[5], b[25];
	unsigned round, x, y;

	for (round = 0; round < 24; round++) {
		/* theta: mix each column's parity into its neighbours */
		for (x = 0; x < 5; x++)
			c[x] = st[x] ^ st[x + 5] ^ st[x + 10] ^ st[x + 15] ^ st[x + 20];
		for (x = 0; x < 5; x++)
			d[x] = c[(x + 4) % 5] ^ rotl64(c[(x + 1) % 5], 1);
		for (x = 0; x < 25; x++)
			st[x] ^= d[x % 5];
		/* rho and pi: rotate each lane, move (x, y) to (y, 2x + 3y) */
		for (y = 0; y < 5; y++)
			for (x = 0; x < 5; x++)
				b[y + 5 * ((2 * x + 3 * y) % 5)] =
				    rotl64(st[x + 5 * y], rho_offset[x + 5 * y]);
		/* chi: the only non-linear step, row by row */
		for (y = 0; y < 5; y++)
			for (x = 0; x < 5; x++)
				st[x + 5 * y] =
				    b[x + 5 * y] ^ (~b[(x + 1) % 5 + 5 * y] & b[(x + 2) % 5 + 5 * y]);
		/* iota */
		st[0] ^= round_const[round];
	}
}

/* XOR one byte into the state at byte position i (lanes are little-endian). */
static void
xor_byte(uint64_t st[25], size_t i, uint8_t v)
{
	st[i / 8] ^= (uint64_t)v << (8 * (i % 8));
}

void
pv_keccak256_init(pv_keccak_ctx *ctx, uint8_t pad)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->pad = pad;
}

void
pv_keccak256_update(pv_keccak_ctx *ctx, const uint8_t *in, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		xor_byte(ctx->st, ctx->pos++, in[i]);
		if (ctx->pos == PV_KECCAK256_RATE) {
			pv_keccak_f1600(ctx->st);
			ctx->pos = 0;
		}
	}
}

void
pv_keccak256_final(pv_keccak_ctx *ctx, uint8_t out[PV_KECCAK256_LEN])
{
	size_t i;

	/* pad10*1: the domain/pad byte here, the final 1 bit at the block end
	 * (both land in the same byte when one byte of room is left) */
	xor_byte(ctx->st, ctx->pos, ctx->pad);
	xor_byte(ctx->st, PV_KECCAK256_RATE - 1, 0x80);
	pv_keccak_f1600(ctx->st);
	for (i = 0; i < PV_KECCAK256_LEN; i++)
		out[i] = (uint8_t)(ctx->st[i / 8] >> (8 * (i % 8)));
	sodium_memzero(ctx, sizeof(*ctx));
}

void
pv_keccak256(const uint8_t *in, size_t len, uint8_t out[PV_KECCAK256_LEN])
{
	pv_keccak_ctx ctx;

	pv_keccak256_init(&ctx, PV_KECCAK_PAD_KECCAK);
	pv_keccak256_update(&ctx, in, len);
	pv_keccak256_final(&ctx, out);
}
