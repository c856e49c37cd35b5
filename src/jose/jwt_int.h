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
/* Decoded JSON text (untrusted) to an object without duplicate members:
 * no NUL bytes, nothing after the value. PV_ERR_BAD_INPUT otherwise. */
pv_err pv_jwt_parse_object(const uint8_t *text, size_t len, cJSON **out) PV_WUR;
/* exp (required), nbf and iat against now with leeway seconds. */
pv_err pv_jwt_check_times(const cJSON *claims, time_t now, long leeway) PV_WUR;

#endif
