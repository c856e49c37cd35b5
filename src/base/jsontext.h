/*
 * Checks on JSON text before cJSON parses it. cJSON returns strings as C
 * strings, so a "\u0000" escape would silently cut a value short: every
 * parser of untrusted JSON (bundles, dotenv-as-JSON, vaultd.json, request
 * bodies) refuses such text instead.
 */
#ifndef PV_JSONTEXT_H
#define PV_JSONTEXT_H

#include <stddef.h>
#include <stdint.h>

/* 1 when the text contains a \u0000 escape (an escaped backslash followed
 * by "u0000" is ordinary text and does not count). */
int pv_json_has_nul_escape(const uint8_t *text, size_t len);

#endif
