/*
 * RSA-OAEP decryption with a token key through raw RSA: for tokens that
 * lack CKM_RSA_PKCS_OAEP with the digest asked for (SoftHSM 2.6 has SHA-1
 * only) or ignore its label. The token does CKM_RSA_X_509; the EME-OAEP
 * decoding is done here, in guarded memory. Used by bundle recipients
 * (src/bundle/recipient.c) and the provider's decrypt (src/provider).
 */
#ifndef PV_RSA_OAEP_H
#define PV_RSA_OAEP_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "base/err.h"
#include "pkcs11/token.h"

/*
 * Decrypt in (k bytes, k the modulus length) with the private key priv,
 * then decode EME-OAEP with md, MGF1 over mgf1 and label (NULL/0: empty)
 * into out (room for outsize bytes), *outlen the message length.
 * PV_ERR_INTEGRITY when the decoding fails (another key's ciphertext, or
 * altered), without a detail: the caller names what it was opening.
 */
pv_err pv_rsa_oaep_decrypt_raw(p11_token *tok, CK_OBJECT_HANDLE priv, const uint8_t *in, size_t k,
			       const EVP_MD *md, const EVP_MD *mgf1, const uint8_t *label, size_t labellen,
			       uint8_t *out, size_t outsize, size_t *outlen) PV_WUR;

#endif
