#include "config.h"

#include <ctype.h>
#include <string.h>

#include "base/buf.h"
#include "base/secmem.h"
#include "wallet/base58.h"

static const char base58_alphabet[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/*
 * Work space for the base conversions, sized for PV_BASE58_MAX_TEXT: one
 * byte carries log(256)/log(58) = 1.3657 base-58 digits, one digit carries
 * 0.7322 bytes (rounded up here, plus one for the partial last word).
 */
#define ENCODE_DIGITS_MAX (PV_BASE58_MAX_TEXT * 137 / 100 + 1)
#define DECODE_BYTES_MAX  (PV_BASE58_MAX_TEXT * 733 / 1000 + 1)

/* Value of an alphabet character, -1 for anything else (0, O, I, l too). */
static int
digit_value(uint8_t c)
{
	if (c >= '1' && c <= '9')
		return c - '1';
	if (c >= 'A' && c <= 'H')
		return c - 'A' + 9;
	if (c >= 'J' && c <= 'N')
		return c - 'J' + 17;
	if (c >= 'P' && c <= 'Z')
		return c - 'P' + 22;
	if (c >= 'a' && c <= 'k')
		return c - 'a' + 33;
	if (c >= 'm' && c <= 'z')
		return c - 'm' + 44;
	return -1;
}

pv_err
pv_base58_encode(const uint8_t *in, size_t len, char *out, size_t outcap, size_t *outlen)
{
	uint8_t digits[ENCODE_DIGITS_MAX]; /* little-endian base-58 digits */
	size_t zeros = 0, ndigits = 0, i, j;
	unsigned carry;
	pv_err r = PV_ERR_USAGE;

	if (outlen == NULL)
		return PV_ERR_USAGE;
	*outlen = 0;
	if ((in == NULL && len != 0) || (out == NULL && outcap != 0))
		goto out;
	/* every input byte becomes at least one character */
	if (len > PV_BASE58_MAX_TEXT) {
		pv_err_set_detail("base58: %zu bytes to encode, limit %zu", len, PV_BASE58_MAX_TEXT);
		r = PV_ERR_TOO_LARGE;
		goto out;
	}
	while (zeros < len && in[zeros] == 0)
		zeros++;
	for (i = zeros; i < len; i++) {
		carry = in[i];
		for (j = 0; j < ndigits; j++) {
			carry += (unsigned)digits[j] << 8;
			digits[j] = (uint8_t)(carry % 58);
			carry /= 58;
		}
		while (carry > 0) {
			if (ndigits == sizeof(digits)) {
				r = PV_ERR_INTERNAL;
				goto out;
			}
			digits[ndigits++] = (uint8_t)(carry % 58);
			carry /= 58;
		}
	}
	if (zeros + ndigits > PV_BASE58_MAX_TEXT || zeros + ndigits >= outcap) {
		pv_err_set_detail("base58: encoding is %zu characters, room for %zu", zeros + ndigits,
				  outcap > 0 ? outcap - 1 : 0);
		r = PV_ERR_TOO_LARGE;
		goto out;
	}
	memset(out, '1', zeros);
	for (i = 0; i < ndigits; i++)
		out[zeros + i] = base58_alphabet[digits[ndigits - 1 - i]];
	out[zeros + ndigits] = '\0';
	*outlen = zeros + ndigits;
	r = PV_OK;
out:
	if (r != PV_OK && out != NULL && outcap > 0)
		out[0] = '\0';
	return r;
}

pv_err
pv_base58_decode(const char *in, size_t len, uint8_t *out, size_t outcap, size_t *outlen)
{
	uint8_t bytes[DECODE_BYTES_MAX]; /* little-endian base-256 value */
	size_t zeros = 0, nbytes = 0, pos, j;
	pv_buf *text = NULL;
	unsigned carry;
	uint8_t c;
	int d;
	pv_err r = PV_ERR_USAGE;

	if (outlen == NULL)
		return PV_ERR_USAGE;
	*outlen = 0;
	if ((in == NULL && len != 0) || (out == NULL && outcap != 0))
		goto out;
	if (len > PV_BASE58_MAX_TEXT) {
		pv_err_set_detail("base58: %zu characters, limit %zu", len, PV_BASE58_MAX_TEXT);
		r = PV_ERR_TOO_LARGE;
		goto out;
	}
	if ((r = pv_buf_view(in, len, &text)) != PV_OK)
		goto out;
	for (pos = 0; pv_buf_len(text) > 0; pos++) {
		if ((r = pv_buf_get_u8(text, &c)) != PV_OK)
			goto out;
		if ((d = digit_value(c)) < 0) {
			if (c < 0x80 && isgraph(c))
				pv_err_set_detail("base58: '%c' at offset %zu is not in the alphabet", c,
						  pos);
			else
				pv_err_set_detail("base58: byte 0x%02x at offset %zu is not in the alphabet",
						  c, pos);
			r = PV_ERR_BAD_INPUT;
			goto out;
		}
		/* '1's before the first other digit stand for zero bytes */
		if (d == 0 && nbytes == 0) {
			zeros++;
			continue;
		}
		carry = (unsigned)d;
		for (j = 0; j < nbytes; j++) {
			carry += (unsigned)bytes[j] * 58;
			bytes[j] = (uint8_t)(carry & 0xff);
			carry >>= 8;
		}
		while (carry > 0) {
			if (nbytes == sizeof(bytes)) {
				r = PV_ERR_INTERNAL;
				goto out;
			}
			bytes[nbytes++] = (uint8_t)(carry & 0xff);
			carry >>= 8;
		}
	}
	if (zeros + nbytes > outcap) {
		pv_err_set_detail("base58: decodes to %zu bytes, room for %zu", zeros + nbytes, outcap);
		r = PV_ERR_TOO_LARGE;
		goto out;
	}
	if (zeros > 0)
		memset(out, 0, zeros);
	for (j = 0; j < nbytes; j++)
		out[zeros + j] = bytes[nbytes - 1 - j];
	*outlen = zeros + nbytes;
	r = PV_OK;
out:
	/* the text may be a private key (a Phantom export): no copy on the stack */
	pv_wipe(bytes, sizeof(bytes));
	pv_buf_free(text);
	return r;
}

pv_err
pv_solana_address(const uint8_t pubkey[PV_SOLANA_PUBKEY_LEN], char out[PV_SOLANA_ADDRESS_SIZE])
{
	size_t n;

	if (pubkey == NULL || out == NULL)
		return PV_ERR_USAGE;
	return pv_base58_encode(pubkey, PV_SOLANA_PUBKEY_LEN, out, PV_SOLANA_ADDRESS_SIZE, &n);
}

pv_err
pv_solana_address_parse(const char *s, uint8_t pubkey[PV_SOLANA_PUBKEY_LEN])
{
	uint8_t key[PV_SOLANA_ADDRESS_MAX]; /* n characters never decode to more than n bytes */
	size_t len, n;
	pv_err r;

	if (s == NULL || pubkey == NULL)
		return PV_ERR_USAGE;
	len = strnlen(s, PV_SOLANA_ADDRESS_MAX + 1);
	if (len < PV_SOLANA_ADDRESS_MIN || len > PV_SOLANA_ADDRESS_MAX) {
		pv_err_set_detail("Solana address: %s%zu characters, want %d to %d",
				  len > PV_SOLANA_ADDRESS_MAX ? "over " : "",
				  len > PV_SOLANA_ADDRESS_MAX ? (size_t)PV_SOLANA_ADDRESS_MAX : len,
				  PV_SOLANA_ADDRESS_MIN, PV_SOLANA_ADDRESS_MAX);
		return PV_ERR_BAD_INPUT;
	}
	if ((r = pv_base58_decode(s, len, key, sizeof(key), &n)) != PV_OK)
		return r;
	if (n != PV_SOLANA_PUBKEY_LEN) {
		pv_err_set_detail("Solana address: decodes to %zu bytes, want %d", n, PV_SOLANA_PUBKEY_LEN);
		return PV_ERR_BAD_INPUT;
	}
	memcpy(pubkey, key, PV_SOLANA_PUBKEY_LEN);
	return PV_OK;
}
