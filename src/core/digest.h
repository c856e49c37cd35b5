/* Message digests used before signing (computed in software, then the
 * token signs the digest) and keccak256 for Ethereum. */
#ifndef PV_DIGEST_H
#define PV_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef enum pv_digest {
	PV_DIGEST_DEFAULT = 0, /* whatever the key algorithm defaults to */
	PV_DIGEST_NONE,        /* input is already a digest (or EdDSA/HMAC: the message) */
	PV_DIGEST_SHA256,
	PV_DIGEST_SHA384,
	PV_DIGEST_SHA512,
	PV_DIGEST_KECCAK256,
} pv_digest;

#define PV_DIGEST_MAX_LEN 64

/* Parse "sha256"...; returns PV_ERR_USAGE for unknown names. */
pv_err pv_digest_from_name(const char *name, pv_digest *out) PV_WUR;
const char *pv_digest_name(pv_digest d);
/* Output length in bytes (0 for NONE/DEFAULT). */
size_t pv_digest_len(pv_digest d);
/* OpenSSL's EVP_MD for a SHA-2 digest; NULL for others (NONE, Keccak). */
const struct evp_md_st *pv_digest_evp_md(pv_digest d);
/* The SHA-2 digest a prehashed input of this length came from (32, 48,
 * 64 bytes); PV_DIGEST_NONE for any other length. */
pv_digest pv_digest_by_len(size_t len);
/* out must hold PV_DIGEST_MAX_LEN bytes. */
pv_err pv_digest_compute(pv_digest d, const uint8_t *in, size_t len, uint8_t *out, size_t *outlen) PV_WUR;

#endif
