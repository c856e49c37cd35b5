/*
 * Checks on JSON text and trees from untrusted sources. cJSON returns
 * strings as C strings, so a "\u0000" escape would silently cut a value
 * short: every parser of untrusted JSON (bundles, dotenv-as-JSON,
 * vaultd.json, request bodies, EIP-712 typed data) refuses such text
 * instead. cJSON also keeps every member of an object named twice while
 * its lookups find the first (JavaScript's JSON.parse keeps the last), so
 * parsers of signed or policy-relevant JSON refuse duplicates too.
 */
#ifndef PV_JSONTEXT_H
#define PV_JSONTEXT_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "base/err.h"

/* 1 when the text contains a \u0000 escape (an escaped backslash followed
 * by "u0000" is ordinary text and does not count). */
int pv_json_has_nul_escape(const uint8_t *text, size_t len);

/* Well-formed UTF-8 (RFC 3629: no overlong forms, surrogates or code points
 * above U+10FFFF), so nothing echoed or hashed is mangled. */
int pv_utf8_valid(const uint8_t *p, size_t len);

/* A member name safe to quote back in a detail (at most 64 bytes of
 * [A-Za-z0-9_.-]): the name itself, else NULL. */
const char *pv_json_shown_name(const char *name);

/*
 * No object in the tree names a member twice, and containers nest at most
 * max_depth levels below root (root is level 0). PV_ERR_BAD_INPUT with a
 * detail such as "<what> nests deeper than 32 levels" or "member \"x\"
 * appears twice" (the name only when pv_json_shown_name allows it).
 */
pv_err pv_json_check_tree(const cJSON *root, unsigned max_depth, const char *what) PV_WUR;

#endif
