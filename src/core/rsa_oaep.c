#include "config.h"

#include <limits.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/rsa.h>

#include "base/secmem.h"
#include "core/rsa_oaep.h"
#include "pkcs11/crypt.h"

/*
 * EME-OAEP decoding (RFC 8017 §7.1.2 step 3) of the raw RSA result em (k
 * bytes). OpenSSL 3 deprecates this function without a replacement that
 * works on a token's raw output (the EVP path needs the private key in
 * software); it is constant-time, which a hand-written decoder would have
 * to get right again. The deprecation is silenced for this function only.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static int
oaep_decode(uint8_t *to, int tlen, const uint8_t *em, int k, const uint8_t *label, int labellen,
	    const EVP_MD *md, const EVP_MD *mgf1)
{
	return RSA_padding_check_PKCS1_OAEP_mgf1(to, tlen, em, k, k, label, labellen, md, mgf1);
}
#pragma GCC diagnostic pop

pv_err
pv_rsa_oaep_decrypt_raw(p11_token *tok, CK_OBJECT_HANDLE priv, const uint8_t *in, size_t k, const EVP_MD *md,
			const EVP_MD *mgf1, const uint8_t *label, size_t labellen, uint8_t *out,
			size_t outsize, size_t *outlen)
{
	CK_MECHANISM raw = {CKM_RSA_X_509, NULL, 0};
	pv_secret *em = NULL;
	uint8_t *e;
	size_t emlen = k;
	int n;
	pv_err r;

	*outlen = 0;
	if (md == NULL || mgf1 == NULL || k == 0 || k > INT_MAX || outsize > INT_MAX || labellen > INT_MAX)
		return PV_ERR_USAGE;
	if ((r = pv_secret_new(k, &em)) != PV_OK)
		return r;
	e = pv_secret_rw(em);
	if ((r = p11_decrypt(tok, &raw, priv, in, k, e, &emlen)) != PV_OK)
		goto out;
	if (emlen > k) {
		r = PV_ERR_PKCS11;
		goto out;
	}
	/* Some tokens drop leading zero bytes: put them back. */
	memmove(e + (k - emlen), e, emlen);
	memset(e, 0, k - emlen);
	n = oaep_decode(out, (int)outsize, e, (int)k, label, (int)labellen, md, mgf1);
	ERR_clear_error();
	if (n < 0) {
		r = PV_ERR_INTEGRITY;
		goto out;
	}
	*outlen = (size_t)n;
out:
	pv_secret_free(em);
	return r;
}
