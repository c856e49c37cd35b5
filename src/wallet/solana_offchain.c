#include "config.h"

#include <string.h>

#include "base/jsontext.h"
#include "wallet/solana_offchain.h"

const char *
pv_solana_offchain_format_name(pv_solana_offchain_format f)
{
	switch (f) {
	case PV_SOLANA_OFFCHAIN_ASCII:
		return "ascii";
	case PV_SOLANA_OFFCHAIN_UTF8:
		return "utf8";
	case PV_SOLANA_OFFCHAIN_UTF8_LONG:
		return "utf8-long";
	}
	return "unknown";
}

static int
printable_ascii(const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			return 0;
	return 1;
}

/* The first format the body fits, as the Solana CLI picks it. */
static pv_err
pick_format(const uint8_t *body, size_t len, size_t nsigners, pv_solana_offchain_format *out)
{
	int short_fits = PV_SOLANA_OFFCHAIN_PREAMBLE(nsigners) + len <= PV_SOLANA_OFFCHAIN_SHORT_MAX;

	if (len == 0) {
		pv_err_set_detail("solana off-chain: the message is empty");
		return PV_ERR_BAD_INPUT;
	}
	if (len > PV_SOLANA_OFFCHAIN_BODY_MAX) {
		pv_err_set_detail("solana off-chain: the message is %zu bytes, over %d", len,
				  PV_SOLANA_OFFCHAIN_BODY_MAX);
		return PV_ERR_TOO_LARGE;
	}
	if (short_fits && printable_ascii(body, len)) {
		*out = PV_SOLANA_OFFCHAIN_ASCII;
		return PV_OK;
	}
	/* the off-chain formats carry text: refuse bytes no format can name */
	if (!pv_utf8_valid(body, len)) {
		pv_err_set_detail("solana off-chain: the message is not UTF-8 text");
		return PV_ERR_BAD_INPUT;
	}
	*out = short_fits ? PV_SOLANA_OFFCHAIN_UTF8 : PV_SOLANA_OFFCHAIN_UTF8_LONG;
	return PV_OK;
}

pv_err
pv_solana_offchain_build(const uint8_t app_domain[PV_SOLANA_OFFCHAIN_APP_DOMAIN_LEN], const uint8_t *signers,
			 size_t nsigners, const uint8_t *body, size_t len, pv_buf *out,
			 pv_solana_offchain_format *format)
{
	pv_solana_offchain_format f = PV_SOLANA_OFFCHAIN_ASCII;
	uint8_t *p = NULL;
	size_t total;
	pv_err r;

	if (app_domain == NULL || out == NULL || format == NULL || (body == NULL && len != 0) ||
	    (signers == NULL && nsigners != 0))
		return PV_ERR_USAGE;
	if (nsigners == 0 || nsigners > 255) {
		pv_err_set_detail("solana off-chain: %zu signers (1 to 255)", nsigners);
		return PV_ERR_BAD_INPUT;
	}
	if ((r = pick_format(body, len, nsigners, &f)) != PV_OK)
		return r;
	total = PV_SOLANA_OFFCHAIN_PREAMBLE(nsigners) + len;
	if ((r = pv_buf_reserve(out, total, &p)) != PV_OK)
		return r;
	memcpy(p, PV_SOLANA_OFFCHAIN_SIGNING_DOMAIN, PV_SOLANA_OFFCHAIN_SIGNING_DOMAIN_LEN);
	p += PV_SOLANA_OFFCHAIN_SIGNING_DOMAIN_LEN;
	*p++ = 0; /* header version */
	memcpy(p, app_domain, PV_SOLANA_OFFCHAIN_APP_DOMAIN_LEN);
	p += PV_SOLANA_OFFCHAIN_APP_DOMAIN_LEN;
	*p++ = (uint8_t)f;
	*p++ = (uint8_t)nsigners;
	memcpy(p, signers, 32 * nsigners);
	p += 32 * nsigners;
	*p++ = (uint8_t)(len & 0xff);
	*p++ = (uint8_t)(len >> 8);
	memcpy(p, body, len);
	*format = f;
	return PV_OK;
}

int
pv_solana_offchain_has_domain(const uint8_t *buf, size_t len)
{
	return buf != NULL && len >= PV_SOLANA_OFFCHAIN_SIGNING_DOMAIN_LEN &&
	       memcmp(buf, PV_SOLANA_OFFCHAIN_SIGNING_DOMAIN, PV_SOLANA_OFFCHAIN_SIGNING_DOMAIN_LEN) == 0;
}
