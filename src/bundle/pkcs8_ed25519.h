/*
 * The one Ed25519 PKCS#8 layout the key-import fallback accepts (RFC 8410
 * §7, RFC 5208): what OpenSSL writes for an Ed25519 key and what
 * `vaultctl bundle import-key` puts into a bundle.
 *
 *   30 2e                    PrivateKeyInfo SEQUENCE, 46 bytes
 *      02 01 00              version 0 (v1: no public key)
 *      30 05 06 03 2b 65 70  AlgorithmIdentifier id-Ed25519, no parameters
 *      04 22                 privateKey OCTET STRING, 34 bytes
 *         04 20 <32 bytes>   CurvePrivateKey OCTET STRING: the seed
 *
 * Anything else (attributes, a public key, another curve, extra bytes) is
 * refused: the fallback takes the seed out of guarded memory into the token
 * and must not guess.
 */
#ifndef PV_BUNDLE_PKCS8_ED25519_H
#define PV_BUNDLE_PKCS8_ED25519_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define PV_ED25519_PKCS8_LEN 48
#define PV_ED25519_SEED_LEN  32

/* *seed points at the 32 seed bytes inside der. PV_ERR_BAD_INPUT (with a
 * detail naming the field, never a byte of the key) otherwise. */
pv_err pv_pkcs8_ed25519_seed(const uint8_t *der, size_t len, const uint8_t **seed) PV_WUR;

#endif
