/*
 * libFuzzer harness: public keys from token attributes. The first byte picks
 * the path: 0-3 a CKA_EC_POINT for Ed25519/secp256k1/P-256/P-384, 4 free-form
 * CKA_EC_PARAMS (length byte) + point, 5 an RSA modulus (16-bit length) +
 * exponent. Every key that parses must export and re-import consistently,
 * and must not accept an all-zero signature.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "core/pubkey.h"
#include "core/sigfmt.h"
#include "fuzz.h"

static void
exercise(EVP_PKEY *pk, const uint8_t *msg, size_t msglen)
{
	static const uint8_t zero_sig[PV_SIG_MAX_RAW];
	pv_alg alg = pv_pubkey_alg(pk);
	uint8_t *der = NULL;
	size_t derlen = 0;
	const unsigned char *p;
	EVP_PKEY *back = NULL;
	cJSON *jwk = NULL;
	char *s = NULL;

	FUZZ_ASSERT(pv_pubkey_spki_der(pk, &der, &derlen) == PV_OK);
	p = der;
	back = d2i_PUBKEY(NULL, &p, (long)derlen);
	FUZZ_ASSERT(back != NULL && EVP_PKEY_eq(back, pk) == 1);
	EVP_PKEY_free(back);
	free(der);
	FUZZ_ASSERT(pv_pubkey_pem(pk, &s) == PV_OK);
	free(s);
	if (alg == PV_ALG_NONE)
		return; /* an RSA size we do not use: no JWK, no verify */
	FUZZ_ASSERT(pv_pubkey_jwk(pk, &jwk) == PV_OK);
	FUZZ_ASSERT(pv_jwk_thumbprint(jwk, &s) == PV_OK && strlen(s) == 43);
	free(s);
	cJSON_Delete(jwk);
	FUZZ_ASSERT(pv_pubkey_verify(pk, alg, 0, PV_DIGEST_DEFAULT, msg, msglen, 0, zero_sig,
				     pv_sig_raw_len(alg)) == PV_ERR_BAD_SIGNATURE);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const pv_alg curves[] = {PV_ALG_ED25519, PV_ALG_SECP256K1, PV_ALG_P256, PV_ALG_P384};
	const struct pv_alg_info *ai;
	EVP_PKEY *pk = NULL;
	pv_alg alg = PV_ALG_NONE;
	size_t n;
	uint8_t mode;

	if (size < 1)
		return 0;
	mode = data[0] % 6;
	data++;
	size--;
	if (mode < 4) {
		ai = pv_alg_info(curves[mode]);
		if (pv_pubkey_from_ec(ai->ec_params, ai->ec_params_len, data, size, &alg, &pk) == PV_OK)
			FUZZ_ASSERT(alg == curves[mode] && pv_pubkey_alg(pk) == alg);
	} else if (mode == 4) {
		if (size < 1)
			return 0;
		n = data[0] < size - 1 ? data[0] : size - 1;
		if (pv_pubkey_from_ec(data + 1, n, data + 1 + n, size - 1 - n, &alg, &pk) == PV_OK)
			FUZZ_ASSERT(alg != PV_ALG_NONE && pv_pubkey_alg(pk) == alg);
	} else {
		if (size < 2)
			return 0;
		n = (size_t)data[0] << 8 | data[1];
		if (n > size - 2)
			n = size - 2;
		if (pv_pubkey_from_rsa(data + 2, n, data + 2 + n, size - 2 - n, &pk) != PV_OK)
			pk = NULL;
	}
	if (pk != NULL)
		exercise(pk, data, size);
	EVP_PKEY_free(pk);
	ERR_clear_error();
	return 0;
}
