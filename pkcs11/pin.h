/*
 * PIN sources. A PIN never comes from argv: it is read from a file (mode
 * 0600 or stricter), an environment variable (wiped after reading), an
 * inherited file descriptor, a systemd credential, or a no-echo prompt on
 * the controlling terminal.
 */
#ifndef PV_P11_PIN_H
#define PV_P11_PIN_H

#include "base/secmem.h"

#define P11_PIN_MAX 256

/*
 * Read a PIN from source: "file:PATH" (or an absolute PATH, as RFC 7512
 * pin-source allows), "env:NAME", "fd:N", "cred:NAME"
 * ($CREDENTIALS_DIRECTORY/NAME) or "prompt" (only when allow_prompt and
 * stdin is a TTY; what names the token in the prompt). One trailing newline
 * is stripped; at most P11_PIN_MAX bytes. *out is locked no-access.
 */
pv_err p11_pin_read(const char *source, int allow_prompt, const char *what, pv_secret **out) PV_WUR;

/*
 * The default chain when no source is configured: the URI's pin-source,
 * then $CREDENTIALS_DIRECTORY/p11vault-pin if it exists, then a prompt if
 * allowed. source/uri_source may be NULL.
 */
pv_err p11_pin_resolve(const char *source, const char *uri_source, int allow_prompt, const char *what,
		       pv_secret **out) PV_WUR;

/*
 * Print prompt on the controlling terminal and read one line without echo
 * into guarded memory of cap bytes (the newline kept). For PINs and for
 * secret values typed by an operator (vaultctl bundle set).
 */
pv_err p11_prompt_hidden(const char *prompt, size_t cap, pv_secret **out) PV_WUR;

#endif
