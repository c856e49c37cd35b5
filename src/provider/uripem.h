/*
 * URI-in-PEM, the key file the provider's DECODER reads (decoder.c) and
 * `vaultctl key show --format provider-pem` writes:
 *
 *   -----BEGIN P11VAULT KEY URI-----
 *   base64 of the key reference, e.g. "p11vault:web;version=2"
 *   -----END P11VAULT KEY URI-----
 *
 * and the DER form the decoder hands on between its two steps (a UTF8String
 * holding the same reference), so that OpenSSL's file store, which passes
 * only DER between decoders, can carry it too. Pure: no OpenSSL, no token;
 * fuzzed (tests/fuzz/fuzz_provider_pem.c).
 */
#ifndef PV_PROVIDER_URIPEM_H
#define PV_PROVIDER_URIPEM_H

#include <stddef.h>
#include <stdint.h>

#define P11V_URIPEM_LABEL    "P11VAULT KEY URI"
/* The longest reference taken (a pkcs11: URI with every attribute). */
#define P11V_URIPEM_URI_MAX  1024
/* The most text read while looking for the PEM block. */
#define P11V_URIPEM_TEXT_MAX 16384

enum p11v_uripem_res {
	P11V_URIPEM_NOT_OURS = 0, /* no PEM, or a PEM of another label: not ours, carry on */
	P11V_URIPEM_OK = 1,       /* uri filled */
	P11V_URIPEM_BAD = -1,     /* our label, but malformed (*why says how) */
};

/*
 * The first PEM block of text[0..len) (text before it is skipped, as PEM
 * readers do): when its label is P11V_URIPEM_LABEL, its body decoded into
 * uri (NUL-terminated, urisz > P11V_URIPEM_URI_MAX): base64 with padding in
 * lines of at most 76 characters, LF or CRLF line ends, no headers; the
 * reference 1..P11V_URIPEM_URI_MAX printable ASCII characters starting
 * with "p11vault:" or "pkcs11:". *used is the length of text through the
 * END line's line end (set for OK only).
 */
enum p11v_uripem_res p11v_uripem_parse(const char *text, size_t len, char *uri, size_t urisz, size_t *used,
				       const char **why);

/*
 * DER: uri as a UTF8String (tag 0x0C, definite length). der of dersz
 * bytes gets it; returns its length, or 0 when it does not fit or the uri
 * is not a reference p11v_uripem_parse would take.
 */
size_t p11v_uripem_der(const char *uri, uint8_t *der, size_t dersz);

/* The reverse, for exactly one UTF8String holding a reference: same
 * results as p11v_uripem_parse (NOT_OURS for any other DER). */
enum p11v_uripem_res p11v_uripem_from_der(const uint8_t *der, size_t len, char *uri, size_t urisz,
					  const char **why);

#endif
