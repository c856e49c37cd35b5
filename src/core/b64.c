#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/b64.h"

static pv_err
encode_variant(const uint8_t *in, size_t len, int variant, char **out)
{
	char *s = NULL;
	size_t n;

	*out = NULL;
	if (in == NULL && len != 0)
		return PV_ERR_USAGE;
	if (len > PV_B64_MAX_BIN)
		return PV_ERR_TOO_LARGE;
	n = sodium_base64_encoded_len(len, variant);
	if ((s = malloc(n)) == NULL)
		return PV_ERR_NOMEM;
	/* libsodium wants a non-NULL source even for zero bytes */
	sodium_bin2base64(s, n, in != NULL ? in : (const uint8_t *)"", len, variant);
	*out = s;
	return PV_OK;
}

pv_err
pv_b64url_encode(const uint8_t *in, size_t len, char **out)
{
	return encode_variant(in, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING, out);
}

pv_err
pv_b64_encode(const uint8_t *in, size_t len, char **out)
{
	return encode_variant(in, len, sodium_base64_VARIANT_ORIGINAL, out);
}

pv_err
pv_hex_encode(const uint8_t *in, size_t len, char **out)
{
	char *s = NULL;

	*out = NULL;
	if (in == NULL && len != 0)
		return PV_ERR_USAGE;
	if (len > PV_B64_MAX_BIN)
		return PV_ERR_TOO_LARGE;
	if ((s = malloc(len * 2 + 1)) == NULL)
		return PV_ERR_NOMEM;
	sodium_bin2hex(s, len * 2 + 1, in != NULL ? in : (const uint8_t *)"", len);
	*out = s;
	return PV_OK;
}

/* libsodium reports overflow of the output with errno ERANGE. */
static pv_err
decode_result(int rc, size_t *outlen)
{
	if (rc == 0)
		return PV_OK;
	*outlen = 0;
	return errno == ERANGE ? PV_ERR_TOO_LARGE : PV_ERR_BAD_INPUT;
}

/*
 * libsodium 1.0.18 decodes bytes >= 0x80 as if they were base64 characters
 * (found by fuzz_b64), so the alphabet is checked here first.
 */
static int
in_alphabet(const char *in, size_t len, int variant)
{
	int url = variant == sodium_base64_VARIANT_URLSAFE_NO_PADDING;
	unsigned char c;
	size_t i;

	for (i = 0; i < len; i++) {
		c = (unsigned char)in[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			continue;
		if (url ? (c == '-' || c == '_') : (c == '+' || c == '/' || c == '='))
			continue;
		return 0;
	}
	return 1;
}

static pv_err
decode_variant(const char *in, size_t inlen, int variant, uint8_t *out, size_t max, size_t *outlen)
{
	const char *end = NULL;
	int rc;

	*outlen = 0;
	if ((in == NULL && inlen != 0) || (out == NULL && max != 0))
		return PV_ERR_USAGE;
	if (inlen == 0)
		return PV_OK;
	/* libsodium reports missing padding as ERANGE: catch it here */
	if (variant == sodium_base64_VARIANT_ORIGINAL && inlen % 4 != 0)
		return PV_ERR_BAD_INPUT;
	if (!in_alphabet(in, inlen, variant))
		return PV_ERR_BAD_INPUT;
	errno = 0;
	rc = sodium_base642bin(out, max, in, inlen, NULL, outlen, &end, variant);
	/* with b64_end set, libsodium stops at the first foreign character
	 * instead of failing: everything must have been consumed */
	if (rc == 0 && end != in + inlen) {
		*outlen = 0;
		return PV_ERR_BAD_INPUT;
	}
	return decode_result(rc, outlen);
}

pv_err
pv_b64url_decode(const char *in, size_t inlen, uint8_t *out, size_t max, size_t *outlen)
{
	return decode_variant(in, inlen, sodium_base64_VARIANT_URLSAFE_NO_PADDING, out, max, outlen);
}

pv_err
pv_b64_decode(const char *in, size_t inlen, uint8_t *out, size_t max, size_t *outlen)
{
	return decode_variant(in, inlen, sodium_base64_VARIANT_ORIGINAL, out, max, outlen);
}

pv_err
pv_hex_decode(const char *in, size_t inlen, uint8_t *out, size_t max, size_t *outlen)
{
	const char *end = NULL;
	int rc;

	*outlen = 0;
	if ((in == NULL && inlen != 0) || (out == NULL && max != 0))
		return PV_ERR_USAGE;
	if (inlen == 0)
		return PV_OK;
	if (inlen % 2 != 0)
		return PV_ERR_BAD_INPUT;
	errno = 0;
	rc = sodium_hex2bin(out, max, in, inlen, NULL, outlen, &end);
	if (rc == 0 && end != in + inlen) {
		*outlen = 0;
		return PV_ERR_BAD_INPUT;
	}
	return decode_result(rc, outlen);
}

pv_err
pv_b64url_decode_alloc(const char *in, size_t inlen, size_t max, uint8_t **out, size_t *outlen)
{
	uint8_t *p = NULL;
	size_t cap;
	pv_err r;

	*out = NULL;
	*outlen = 0;
	/* 4 characters carry 3 bytes; never allocate more than max */
	cap = inlen / 4 * 3 + 3;
	if (cap > max)
		cap = max;
	if ((p = malloc(cap > 0 ? cap : 1)) == NULL)
		return PV_ERR_NOMEM;
	if ((r = pv_b64url_decode(in, inlen, p, cap, outlen)) != PV_OK)
		goto out;
	*out = p;
	p = NULL;
out:
	free(p);
	return r;
}

const struct pv_json_enc pv_b64_enc = {"base64", pv_b64_decode};
const struct pv_json_enc pv_b64url_enc = {"base64url", pv_b64url_decode};
const struct pv_json_enc pv_hex_enc = {"hex", pv_hex_decode};
