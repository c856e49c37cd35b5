/*
 * vaultd request bodies, read with the strict JSON reader (base/json.h,
 * fuzzed by tests/fuzz/fuzz_json.c). A body is one JSON object: no member
 * twice (at any depth), no member the endpoint does not know, no NUL (raw
 * or \u0000, so C strings are never cut short), valid UTF-8, nothing after
 * the object. Getters are typed and bounded. Every refusal is
 * PV_ERR_BAD_INPUT with a detail that starts with the member's path (never
 * a value), e.g. "format: expected one of raw, der, jose", for 400
 * bad_request. These names stay so the handlers need not know the reader.
 */
#ifndef PV_VAULTD_REQJSON_H
#define PV_VAULTD_REQJSON_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/json.h"

typedef struct vd_rj vd_rj;

/*
 * Parse the unread bytes of body (not consumed; no NUL needed) against the
 * NULL-terminated list of member names the endpoint knows. An empty body is
 * {} when allow_empty.
 */
pv_err vd_rj_parse(const pv_buf *body, const char *const *members, int allow_empty, vd_rj **out) PV_WUR;
void vd_rj_free(vd_rj *rj);

/* Whether the member is present (any type). */
int vd_rj_has(const vd_rj *rj, const char *name);

/*
 * String of at most maxlen bytes. Absent: *out = NULL (PV_ERR_BAD_INPUT if
 * required). *out points into rj.
 */
pv_err vd_rj_string(const vd_rj *rj, const char *name, int required, size_t maxlen, const char **out) PV_WUR;

/* Integer in [min, max] (a JSON number without fraction). Absent: *present
 * = 0 and *out untouched (PV_ERR_BAD_INPUT if required). */
pv_err vd_rj_int(const vd_rj *rj, const char *name, int required, int64_t min, int64_t max, int64_t *out,
		 int *present) PV_WUR;

/*
 * Standard base64 with padding (libsodium, strict), decoded to at most
 * maxlen bytes into a malloc'd buffer (never NULL on success, even when
 * empty; free()). Absent: *out = NULL, *outlen = 0.
 */
pv_err vd_rj_b64(const vd_rj *rj, const char *name, int required, size_t maxlen, uint8_t **out,
		 size_t *outlen) PV_WUR;

/*
 * A batch member: a non-empty array of standard base64 strings, each
 * decoded to at most maxlen bytes. More than max_items elements is
 * PV_ERR_TOO_LARGE (413: counted before any element is decoded), a bad
 * element PV_ERR_BAD_INPUT naming it ("inputs_b64[3]: ..."). On success
 * *items is an array of *n malloc'd buffers (never NULL) and *lens their
 * lengths; free with vd_rj_b64_array_free. Absent: *items NULL, *n 0.
 */
pv_err vd_rj_b64_array(const vd_rj *rj, const char *name, int required, size_t max_items, size_t maxlen,
		       uint8_t ***items, size_t **lens, size_t *n) PV_WUR;
void vd_rj_b64_array_free(uint8_t **items, size_t *lens, size_t n);

/* A string from choices (NULL-terminated): *index, or -1 when absent. */
pv_err vd_rj_enum(const vd_rj *rj, const char *name, int required, const char *const *choices,
		  int *index) PV_WUR;

/* A JSON object member (points into rj). Absent: *out = NULL. */
pv_err vd_rj_object(const vd_rj *rj, const char *name, int required, const cJSON **out) PV_WUR;

/* The body as a reader value, for getters the names above do not cover. */
const pv_jv *vd_rj_root(const vd_rj *rj);

/* Deepest nesting accepted (cJSON's own limit is higher). */
#define VD_RJ_MAX_DEPTH PV_JSON_DEPTH_MAX

#endif
