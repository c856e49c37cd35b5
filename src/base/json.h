/*
 * The one strict reader of JSON that comes from outside the process: vaultd
 * request bodies, vaultd.json, bundles, key metadata on the token, audit
 * lines. Shaped after OpenSSH's sshbuf, for JSON: typed, bounded getters,
 * and nothing read loosely.
 *
 * pv_json_parse refuses a whole document for: no text, a NUL byte or a
 * \u0000 escape (cJSON hands out C strings, which would be cut short), text
 * that is not UTF-8, anything but whitespace after the value, nesting deeper
 * than a limit, and an object that names a member twice (cJSON keeps both
 * and finds the first, JavaScript's JSON.parse the last).
 *
 * A pv_jv is a value plus where it is, so every refusal can name its path:
 * "clients[2].rules[0].ops[1]: expected a string, got a number". At the root
 * the path is the document's name ("vaultd.json", "the body"). Getters
 * return PV_ERR_BAD_INPUT with such a detail (callers that must report
 * another code map it), quote a member name only when pv_json_shown_name
 * allows (else the path shows "?"), and never quote a value.
 *
 * Integers are exact: a JSON number without fraction whose magnitude is at
 * most PV_JSON_INT_MAX (above it a double no longer holds every integer,
 * so 2^53 + 1 would read as 2^53). "1e3" is 1000.
 */
#ifndef PV_JSON_H
#define PV_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "base/err.h"

/* Largest integer a JSON number may carry: 2^53 - 1 (JavaScript's
 * Number.MAX_SAFE_INTEGER). The only place this limit is written. */
#define PV_JSON_INT_MAX INT64_C(9007199254740991)

/* Default nesting limit for pv_json_parse (the root is level 0). */
#define PV_JSON_DEPTH_MAX 32

/* Getter flags. */
#define PV_JSON_REQUIRED  (1u << 0) /* absent is an error */
#define PV_JSON_NONEMPTY  (1u << 1) /* strings and arrays: not empty */
#define PV_JSON_PRINTABLE (1u << 2) /* strings: no control characters (below U+0020, U+007F) */

/*
 * A value and its place in the document. j is NULL for an absent member.
 * Made by pv_json_root, pv_json_at and the iterators; lives on the stack
 * and must not outlive its container (up) or the parsed tree. A child goes
 * in a variable of its own (v = pv_json_at(&v, ...) makes a loop).
 */
typedef struct pv_jv {
	const cJSON *j;
	const struct pv_jv *up; /* the object or array holding it; NULL at the root */
	const char *name;       /* member name; at the root the document's name; NULL in an array */
	size_t index;           /* position in an array */
} pv_jv;

/* A text encoding of bytes for pv_json_bytes (core/b64.h defines base64,
 * base64url and hex; the reader itself knows none). decode follows
 * pv_b64_decode: PV_ERR_TOO_LARGE when the result would exceed max. */
struct pv_json_enc {
	const char *name;
	pv_err (*decode)(const char *in, size_t inlen, uint8_t *out, size_t max, size_t *outlen);
};

/*
 * Parse len bytes (no NUL needed) as one strict JSON document (see above);
 * what names it in errors. *out is the tree (cJSON_Delete) on success.
 */
pv_err pv_json_parse(const uint8_t *text, size_t len, const char *what, unsigned max_depth,
		     cJSON **out) PV_WUR;

/* The root of a tree (or any value taken as a root), named what. */
pv_jv pv_json_root(const cJSON *j, const char *what);
/* Member name of obj; .j is NULL when absent (or when obj is no object). */
pv_jv pv_json_at(const pv_jv *obj, const char *name);
/* The first element of an array or member of an object (.j NULL if none),
 * and the one after it: for (e = pv_json_first(&a); e.j; pv_json_next(&e)) */
pv_jv pv_json_first(const pv_jv *container);
void pv_json_next(pv_jv *it);
/* Elements of an array or members of an object; 0 for anything else. */
size_t pv_json_count(const pv_jv *v);
/* "an object", "an array", "a string", "a number", "a boolean", "null"
 * (or "nothing" when absent), for messages of a caller's own. */
const char *pv_json_type_name(const pv_jv *v);

/* The path of v ("clients[2].auth", or the document's name at the root),
 * cut to fit len (len > 0). */
void pv_json_path(const pv_jv *v, char *buf, size_t len);
/* Set the detail "<path of v>: <message>" and return PV_ERR_BAD_INPUT;
 * pv_json_fail_at names member name of v. */
pv_err pv_json_fail(const pv_jv *v, const char *fmt, ...) PV_PRINTF(2, 3);
pv_err pv_json_fail_at(const pv_jv *v, const char *name, const char *fmt, ...) PV_PRINTF(3, 4);

/*
 * Typed getters of a value. Absent (v->j NULL): an error when flags has
 * PV_JSON_REQUIRED ("required member missing"), else PV_OK with outputs
 * as each says. Wrong type: "expected an integer, got a string".
 */
/* An object whose member names are all in members (NULL-terminated; NULL
 * accepts any name). */
pv_err pv_json_as_object(const pv_jv *v, unsigned flags, const char *const *members) PV_WUR;
/* An array of at most max elements (*n; 0 when absent). */
pv_err pv_json_as_array(const pv_jv *v, unsigned flags, size_t max, size_t *n) PV_WUR;
/* A string of at most maxlen bytes pointing into the tree (NULL when absent). */
pv_err pv_json_as_string(const pv_jv *v, unsigned flags, size_t maxlen, const char **out) PV_WUR;
/* An integer in [min, max], both within +-PV_JSON_INT_MAX (else
 * PV_ERR_USAGE). Absent: *out untouched. */
pv_err pv_json_as_int(const pv_jv *v, unsigned flags, int64_t min, int64_t max, int64_t *out) PV_WUR;
/* Any finite number in [min, max]. Absent: *out untouched. */
pv_err pv_json_as_number(const pv_jv *v, unsigned flags, double min, double max, double *out) PV_WUR;
/* true or false (1 or 0). Absent: *out untouched. */
pv_err pv_json_as_bool(const pv_jv *v, unsigned flags, int *out) PV_WUR;
/* A string from choices (NULL-terminated): *index, or -1 when absent. */
pv_err pv_json_as_enum(const pv_jv *v, unsigned flags, const char *const *choices, int *index) PV_WUR;
/*
 * A string in encoding enc decoding to min..max bytes, into a malloc'd
 * buffer (free(); never NULL on success, even when empty). Absent: *out
 * NULL, *outlen 0.
 */
pv_err pv_json_as_bytes(const pv_jv *v, unsigned flags, const struct pv_json_enc *enc, size_t min, size_t max,
			uint8_t **out, size_t *outlen) PV_WUR;
/* Exactly n bytes into out. Absent: out untouched. */
pv_err pv_json_as_bytes_fixed(const pv_jv *v, unsigned flags, const struct pv_json_enc *enc, uint8_t *out,
			      size_t n) PV_WUR;

/* The same, for member name of obj. */
pv_err pv_json_object(const pv_jv *obj, const char *name, unsigned flags, const char *const *members,
		      pv_jv *out) PV_WUR;
pv_err pv_json_array(const pv_jv *obj, const char *name, unsigned flags, size_t max, pv_jv *out,
		     size_t *n) PV_WUR;
pv_err pv_json_string(const pv_jv *obj, const char *name, unsigned flags, size_t maxlen,
		      const char **out) PV_WUR;
pv_err pv_json_int(const pv_jv *obj, const char *name, unsigned flags, int64_t min, int64_t max,
		   int64_t *out) PV_WUR;
pv_err pv_json_number(const pv_jv *obj, const char *name, unsigned flags, double min, double max,
		      double *out) PV_WUR;
pv_err pv_json_bool(const pv_jv *obj, const char *name, unsigned flags, int *out) PV_WUR;
pv_err pv_json_enum(const pv_jv *obj, const char *name, unsigned flags, const char *const *choices,
		    int *index) PV_WUR;
pv_err pv_json_bytes(const pv_jv *obj, const char *name, unsigned flags, const struct pv_json_enc *enc,
		     size_t min, size_t max, uint8_t **out, size_t *outlen) PV_WUR;
pv_err pv_json_bytes_fixed(const pv_jv *obj, const char *name, unsigned flags, const struct pv_json_enc *enc,
			   uint8_t *out, size_t n) PV_WUR;

#endif
