/*
 * Writers for what `vaultctl unwrap` prints: the decrypted entries as shell
 * exports, dotenv or a JSON object, built entirely in guarded memory.
 */
#ifndef PV_BUNDLE_OUTPUT_H
#define PV_BUNDLE_OUTPUT_H

#include "base/err.h"
#include "base/secmem.h"
#include "bundle/kv.h"

enum pv_out_format {
	PV_OUT_ENV,    /* export NAME='value' lines, for `. FILE` in a POSIX shell */
	PV_OUT_DOTENV, /* NAME="value" lines that pv_dotenv_parse reads back exactly */
	PV_OUT_JSON,   /* one JSON object {"NAME": "value", ...} */
};

/*
 * Format every entry of l, in name order, into a new secret (*out, locked).
 * env and dotenv take PV_ENTRY_ENV entries without NUL bytes only; json
 * takes values that are valid UTF-8. Anything else is PV_ERR_BAD_INPUT
 * naming the entry (binary values belong in --out-dir).
 */
pv_err pv_output_format(enum pv_out_format f, const struct pv_kvlist *l, pv_secret **out) PV_WUR;

#endif
