/*
 * libFuzzer harness: signatures as a verifier receives them. Byte 0 picks
 * the format (raw/der/jose), byte 1 the key algorithm; the rest is the
 * signature. Whatever parses must encode in every format and parse back to
 * the same raw bytes (secp256k1: to its low-S form).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "core/sigfmt.h"
#include "fuzz.h"

static void
round_trip(pv_alg alg, const uint8_t *raw, size_t rawlen)
{
	static const pv_sigfmt fmts[] = {PV_SIGFMT_RAW, PV_SIGFMT_DER, PV_SIGFMT_JOSE};
	uint8_t want[PV_SIG_MAX_RAW], back[PV_SIG_MAX_RAW];
	uint8_t *enc = NULL;
	size_t enclen = 0, n = 0, i;
	pv_err r;

	memcpy(want, raw, rawlen);
	if (alg == PV_ALG_SECP256K1 && pv_secp256k1_low_s(want, NULL) != PV_OK)
		return; /* r or s not below n: encoding refuses it, fine */
	for (i = 0; i < PV_NELEM(fmts); i++) {
		r = pv_sig_encode(fmts[i], alg, raw, rawlen, &enc, &enclen);
		if (fmts[i] == PV_SIGFMT_DER && pv_alg_info(alg)->family != PV_FAMILY_EC) {
			FUZZ_ASSERT(r == PV_ERR_USAGE);
			continue;
		}
		FUZZ_ASSERT(r == PV_OK);
		FUZZ_ASSERT(pv_sig_parse(fmts[i], enc, enclen, alg, back, sizeof(back), &n) == PV_OK);
		FUZZ_ASSERT(n == rawlen && memcmp(back, want, n) == 0);
		free(enc);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t raw[PV_SIG_MAX_RAW];
	size_t rawlen = 0, nalgs = 0;
	pv_sigfmt fmt;
	pv_alg alg;

	if (size < 2)
		return 0;
	while (pv_alg_all[nalgs] != PV_ALG_NONE)
		nalgs++;
	fmt = (pv_sigfmt)(data[0] % 3);
	alg = pv_alg_all[data[1] % nalgs];
	if (pv_sig_parse(fmt, data + 2, size - 2, alg, raw, sizeof(raw), &rawlen) != PV_OK)
		return 0;
	FUZZ_ASSERT(rawlen == pv_sig_raw_len(alg));
	round_trip(alg, raw, rawlen);
	return 0;
}
