/*
 * Readers for the secrets `vaultctl bundle seal` takes in: a dotenv file, a
 * JSON object of strings, or a directory of files. Values go straight into
 * guarded memory; errors name lines, members or files, never values.
 */
#ifndef PV_BUNDLE_INPUT_H
#define PV_BUNDLE_INPUT_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "bundle/kv.h"

/*
 * Parse dotenv text (grammar: docs/dotenv.md) and append each variable to
 * out as a PV_ENTRY_ENV entry, in file order. PV_ERR_BAD_INPUT with
 * "line N: ..." for a malformed line, an invalid or duplicate name, an
 * unterminated quote or junk after a closing quote; PV_ERR_TOO_LARGE for a
 * value over 1 MiB or more than 10,000 entries. On failure out may hold the
 * entries before the bad line; the caller frees it either way.
 */
pv_err pv_dotenv_parse(const uint8_t *data, size_t len, struct pv_kvlist *out) PV_WUR;

/*
 * Parse one JSON object whose members are all strings, {"NAME": "value"},
 * into PV_ENTRY_ENV entries (document order). Non-string members, duplicate
 * or invalid names, and "\u0000" in a value are refused.
 */
pv_err pv_jsonobj_parse(const uint8_t *data, size_t len, struct pv_kvlist *out) PV_WUR;

/*
 * Each regular file directly in dir becomes a PV_ENTRY_FILE entry named
 * after the file (sorted by name). Dotfiles are skipped; symlinks (never
 * followed), subdirectories, other file types and names that are not valid
 * file entry names are refused with PV_ERR_BAD_INPUT naming the file. Files
 * are at most 1 MiB each, 10,000 in all (PV_ERR_TOO_LARGE).
 */
pv_err pv_dir_read(const char *dir, struct pv_kvlist *out) PV_WUR;

#endif
