/*
 * Installing a bundle's private-key entry as an ordinary p11vault key
 * (`vaultctl bundle install-key`): the key is unwrapped under the token DEK
 * straight into a persistent, sensitive, non-extractable token object, its
 * public half is created from the entry's public_key, and the pair is
 * adopted under a key name. The plaintext key never exists in the process.
 */
#ifndef PV_BUNDLE_INSTALL_H
#define PV_BUNDLE_INSTALL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "base/err.h"
#include "bundle/dek.h"
#include "bundle/format.h"
#include "core/keys.h"
#include "pkcs11/token.h"

#define PV_INSTALL_ID_LEN 16

/*
 * C_CreateObject the CKO_PUBLIC_KEY of pk (an algorithm p11vault knows):
 * not private, VERIFY only, with label and id, CKA_TOKEN = persistent.
 * Encoded as the token encodes keys it generates: EC and Ed25519 carry
 * CKA_EC_PARAMS (the curve OID of core/alg.h) and CKA_EC_POINT (a DER OCTET
 * STRING around the uncompressed point, or the 32-byte Ed25519 point); RSA
 * carries CKA_MODULUS and CKA_PUBLIC_EXPONENT. The caller destroys *out.
 */
pv_err pv_pubkey_create_object(p11_token *tok, EVP_PKEY *pk, const char *label, const uint8_t *id,
			       size_t id_len, int persistent, CK_OBJECT_HANDLE *out) PV_WUR;

/*
 * Make private-key entry e a p11vault key named keyname, version 1 active
 * (an adopted key: its objects are labelled "KEYNAME.v1" with a random
 * 16-byte CKA_ID). token_dek is the bundle's DEK on the keystore's token.
 * The unwrapped key is proved against the entry's public_key before the
 * public object is made. PV_ERR_EXISTS if keyname is taken, PV_ERR_KEY_TYPE
 * if e is not a private key, PV_ERR_MECHANISM if the token cannot import
 * the algorithm, PV_ERR_INTEGRITY if the key does not match its public_key.
 * On any failure nothing is left on the token. *out (may be NULL) receives
 * the new key. allow_fallback: the explicit Ed25519 import fallback
 * (bundle/dek.h); *fallback_used (may be NULL) says whether it was used.
 * purpose: the installed key's; PV_PURPOSE_NONE takes the entry's (an
 * entry without one then needs it given: PV_ERR_PURPOSE); one that differs
 * from the entry's is PV_ERR_PURPOSE too.
 */
pv_err pv_bundle_install_key(pv_keystore *ks, const struct pv_bundle_entry *e, pv_dek *token_dek,
			     const char *keyname, pv_key_purpose purpose, int allow_fallback,
			     int *fallback_used, struct pv_key **out) PV_WUR;

#endif
