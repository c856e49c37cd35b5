#include "config.h"

#include <stdarg.h>
#include <stdio.h>

#include "base/err.h"

struct err_row {
	pv_err code;
	const char *id;
	const char *text;
	int exit_code;
};

static const struct err_row err_table[] = {
    {PV_OK, "ok", "success", PV_EXIT_OK},
    {PV_ERR_INTERNAL, "internal", "internal error", PV_EXIT_INTERNAL},
    {PV_ERR_NOMEM, "no_memory", "out of memory (or guarded memory could not be locked)", PV_EXIT_INTERNAL},
    {PV_ERR_USAGE, "usage", "invalid argument", PV_EXIT_USAGE},
    {PV_ERR_BAD_INPUT, "bad_input", "malformed input", PV_EXIT_USAGE},
    {PV_ERR_TOO_LARGE, "too_large", "input exceeds the size limit", PV_EXIT_USAGE},
    {PV_ERR_IO, "io", "input/output error", PV_EXIT_INTERNAL},
    {PV_ERR_NOT_FOUND, "not_found", "not found", PV_EXIT_NOT_FOUND},
    {PV_ERR_EXISTS, "exists", "already exists", PV_EXIT_CONFLICT},
    {PV_ERR_MODULE_LOAD, "module_load", "PKCS#11 module could not be loaded", PV_EXIT_TOKEN},
    {PV_ERR_TOKEN_NOT_FOUND, "token_not_found", "no token matches", PV_EXIT_TOKEN},
    {PV_ERR_TOKEN_UNAVAILABLE, "token_unavailable", "token unavailable", PV_EXIT_TOKEN},
    {PV_ERR_PIN_INCORRECT, "pin_incorrect", "PIN incorrect", PV_EXIT_AUTH},
    {PV_ERR_PIN_LOCKED, "pin_locked", "user PIN is locked", PV_EXIT_AUTH},
    {PV_ERR_PIN_FINAL_TRY, "pin_final_try", "token reports the final PIN try; refusing to log in",
     PV_EXIT_AUTH},
    {PV_ERR_PIN_SOURCE, "pin_source", "PIN source unusable", PV_EXIT_AUTH},
    {PV_ERR_NOT_LOGGED_IN, "not_logged_in", "token requires login", PV_EXIT_AUTH},
    {PV_ERR_MECHANISM, "mechanism_unsupported", "token does not support the required mechanism",
     PV_EXIT_TOKEN},
    {PV_ERR_KEY_TYPE, "wrong_key_type", "key algorithm cannot perform this operation", PV_EXIT_USAGE},
    {PV_ERR_NOT_HONOURED, "not_honoured", "token did not honour a required key protection attribute",
     PV_EXIT_INTEGRITY},
    {PV_ERR_PKCS11, "pkcs11", "PKCS#11 error", PV_EXIT_TOKEN},
    {PV_ERR_CRYPTO, "crypto", "cryptographic library error", PV_EXIT_INTERNAL},
    {PV_ERR_BAD_SIGNATURE, "bad_signature", "signature does not verify", PV_EXIT_INTEGRITY},
    {PV_ERR_INTEGRITY, "integrity", "integrity check failed", PV_EXIT_INTEGRITY},
    {PV_ERR_STATE, "key_state", "key version state does not allow this operation", PV_EXIT_CONFLICT},
    {PV_ERR_SESSION, "session_lost", "token session lost", PV_EXIT_TOKEN},
    {PV_ERR_BUSY, "busy", "token busy: no session available", PV_EXIT_TOKEN},
    {PV_ERR_FORBIDDEN, "forbidden", "forbidden by policy", PV_EXIT_AUTH},
    {PV_ERR_PURPOSE, "wrong_purpose", "the key's purpose does not allow this use", PV_EXIT_PURPOSE},
    {PV_ERR_CHANGED, "changed_concurrently", "the key was changed by another writer", PV_EXIT_CONFLICT},
    {PV_ERR_REFUSED_NAME, "refused_name", "refused name", PV_EXIT_REFUSED},
};

static const struct err_row *
err_lookup(pv_err err)
{
	size_t i;

	for (i = 0; i < PV_NELEM(err_table); i++) {
		if (err_table[i].code == err)
			return &err_table[i];
	}
	return &err_table[1]; /* unknown codes are internal errors */
}

const char *
pv_strerror(pv_err err)
{
	return err_lookup(err)->text;
}

const char *
pv_err_id(pv_err err)
{
	return err_lookup(err)->id;
}

int
pv_err_exit_code(pv_err err)
{
	return err_lookup(err)->exit_code;
}

static _Thread_local char err_detail[256];

void
pv_err_set_detail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(err_detail, sizeof(err_detail), fmt, ap);
	va_end(ap);
}

void
pv_err_clear_detail(void)
{
	err_detail[0] = '\0';
}

const char *
pv_err_detail(void)
{
	return err_detail;
}
