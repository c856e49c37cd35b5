/*
 * Signature encodings. Internally a signature is always "raw": r||s with
 * each half exactly field_len bytes for ECDSA (what a PKCS#11 token returns
 * for CKM_ECDSA), R||S (64 bytes) for Ed25519, the modulus-sized integer for
 * RSA, the MAC for HMAC. On the wire it can also be X9.62 DER (ECDSA only)
 * or JOSE: base64url of the raw form (RFC 7518 section 3.4 for ECDSA).
 */
#ifndef PV_SIGFMT_H
#define PV_SIGFMT_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "core/alg.h"

typedef enum pv_sigfmt {
	PV_SIGFMT_RAW = 0,
	PV_SIGFMT_DER,
	PV_SIGFMT_JOSE,
} pv_sigfmt;

/* Largest raw signature of any supported algorithm (RSA-4096). */
#define PV_SIG_MAX_RAW 512

/* "raw", "der", "jose"; PV_ERR_USAGE for anything else. */
pv_err pv_sigfmt_from_name(const char *name, pv_sigfmt *out) PV_WUR;
const char *pv_sigfmt_name(pv_sigfmt fmt);

/* Exact raw signature length for alg (0 if alg cannot sign). */
size_t pv_sig_raw_len(pv_alg alg);

/*
 * ECDSA r||s (2 * field_len bytes) to a DER ECDSA-Sig-Value. *der is
 * malloc'd (free()). r or s zero is PV_ERR_BAD_INPUT.
 */
pv_err pv_ecdsa_raw_to_der(const uint8_t *raw, size_t rawlen, size_t field_len, uint8_t **der,
			   size_t *derlen) PV_WUR;

/* Room for the DER ECDSA-Sig-Value of any supported curve (P-521: 141 bytes). */
#define PV_ECDSA_DER_MAX 144

/*
 * The same into out (cap bytes; PV_ECDSA_DER_MAX is always enough): no
 * allocation beyond OpenSSL's own, for per-signature paths (the OpenSSL
 * provider). cap too small is PV_ERR_USAGE.
 */
pv_err pv_ecdsa_raw_to_der_buf(const uint8_t *raw, size_t rawlen, size_t field_len, uint8_t *out, size_t cap,
			       size_t *outlen) PV_WUR;

/*
 * DER ECDSA-Sig-Value to r||s, each left-padded to field_len; raw must hold
 * 2 * field_len bytes. Strict: trailing bytes, non-canonical DER, negative
 * or zero integers, or integers longer than field_len are PV_ERR_BAD_INPUT.
 */
pv_err pv_ecdsa_der_to_raw(const uint8_t *der, size_t derlen, size_t field_len, uint8_t *raw,
			   size_t *rawlen) PV_WUR;

/*
 * Rewrite a secp256k1 r||s (64 bytes) in place so that s <= n/2 (BIP 62 /
 * EIP-2 low-S), with libsecp256k1. *flipped (may be NULL) is set to 1 if s
 * was replaced by n - s, which also flips an Ethereum recovery id. r or s
 * not below the group order is PV_ERR_BAD_INPUT.
 */
pv_err pv_secp256k1_low_s(uint8_t rs[64], int *flipped) PV_WUR;

/*
 * Parse a signature given in fmt for a key of algorithm alg into its raw
 * form. raw holds rawmax bytes (PV_SIG_MAX_RAW is always enough). JOSE text
 * may end in whitespace (a trailing newline from a file). The raw length must
 * be exactly pv_sig_raw_len(alg); DER is for ECDSA keys only (PV_ERR_USAGE
 * otherwise), and ECDSA r and s must be non-zero in every format. Does not normalise: a high-S secp256k1 signature stays high-S.
 */
pv_err pv_sig_parse(pv_sigfmt fmt, const uint8_t *in, size_t inlen, pv_alg alg, uint8_t *raw, size_t rawmax,
		    size_t *rawlen) PV_WUR;

/*
 * Encode a raw signature of algorithm alg in fmt. *out is malloc'd
 * (free()); for JOSE it is also NUL-terminated (not counted in *outlen).
 * secp256k1 signatures are always emitted low-S (normalised here, so every
 * output path keeps the invariant).
 */
pv_err pv_sig_encode(pv_sigfmt fmt, pv_alg alg, const uint8_t *raw, size_t rawlen, uint8_t **out,
		     size_t *outlen) PV_WUR;

#endif
