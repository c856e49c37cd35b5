/*
 * Text encodings of binary data: base64url without padding (JOSE, RFC 7515
 * section 2), standard base64 with padding (PEM bodies, bundles) and hex.
 * Thin wrappers over libsodium. Decoders are strict: no whitespace, no
 * padding where the variant has none, no non-zero leftover bits, and a hard
 * limit on the output size.
 */
#ifndef PV_B64_H
#define PV_B64_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/json.h"

/* Largest input the encoders accept (keeps the size arithmetic safe). */
#define PV_B64_MAX_BIN ((size_t)1 << 26)

/* Encode len bytes; *out is a malloc'd NUL-terminated string (free()). */
pv_err pv_b64url_encode(const uint8_t *in, size_t len, char **out) PV_WUR;
pv_err pv_b64_encode(const uint8_t *in, size_t len, char **out) PV_WUR;
/* Lowercase hex. */
pv_err pv_hex_encode(const uint8_t *in, size_t len, char **out) PV_WUR;

/*
 * Decode inlen characters (no NUL needed) into out, which holds max bytes.
 * PV_ERR_BAD_INPUT on malformed text, PV_ERR_TOO_LARGE if the result would
 * exceed max. *outlen is 0 on failure.
 */
pv_err pv_b64url_decode(const char *in, size_t inlen, uint8_t *out, size_t max, size_t *outlen) PV_WUR;
pv_err pv_b64_decode(const char *in, size_t inlen, uint8_t *out, size_t max, size_t *outlen) PV_WUR;
/* Hex digits of either case, an even number of them, nothing else. */
pv_err pv_hex_decode(const char *in, size_t inlen, uint8_t *out, size_t max, size_t *outlen) PV_WUR;

/* Same, into a malloc'd buffer of at most max bytes (free()); never NULL on
 * success, even for empty input. */
pv_err pv_b64url_decode_alloc(const char *in, size_t inlen, size_t max, uint8_t **out, size_t *outlen) PV_WUR;

/* The three decoders for the JSON reader's byte getters (base/json.h). */
extern const struct pv_json_enc pv_b64_enc, pv_b64url_enc, pv_hex_enc;

#endif
