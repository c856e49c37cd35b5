/* Internals shared by the JWT files and their fuzz harness. */
#ifndef PV_JWT_INT_H
#define PV_JWT_INT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "base/err.h"
#include "core/alg.h"
#include "core/digest.h"

/* The digest a JWS algorithm applies for a key algorithm. */
pv_digest pv_jwt_digest(pv_alg alg);
/* Whether an object names a member twice (parsers disagree on which wins). */
int pv_jwt_has_duplicates(const cJSON *obj);
/* Decoded JSON text (untrusted) to an object, read by the strict reader
 * (base/json.h: no NUL or \u0000, UTF-8, no member named twice at any
 * depth, nothing after the value). PV_ERR_BAD_INPUT otherwise. */
pv_err pv_jwt_parse_object(const uint8_t *text, size_t len, cJSON **out) PV_WUR;
/* An integer JSON number in 0..2^53-1 (PV_JSON_INT_MAX, the largest
 * integer every JSON parser reads exactly). */
int pv_jwt_is_numericdate(const cJSON *c);
/* exp (required), nbf and iat against now with leeway seconds; each an
 * integer NumericDate (pv_jwt_is_numericdate; else PV_ERR_BAD_INPUT). */
pv_err pv_jwt_check_times(const cJSON *claims, time_t now, long leeway) PV_WUR;
/* exp - iat at most max seconds; "iat" required (PV_ERR_FORBIDDEN otherwise;
 * PV_ERR_BAD_INPUT for a NumericDate that is not one). */
pv_err pv_jwt_check_lifetime(const cJSON *claims, long max) PV_WUR;
/*
 * ECDSA low-S (s <= n/2, n the order of alg's curve, from OpenSSL) for a raw
 * r||s of 2 * field_len bytes: *high is 1 when s > n/2; with fix, s is then
 * replaced by n - s (the other valid signature). PV_ERR_USAGE for a non-EC
 * algorithm or a wrong length.
 */
pv_err pv_jwt_ecdsa_low_s(pv_alg alg, uint8_t *rs, size_t len, int fix, int *high) PV_WUR;

#endif
