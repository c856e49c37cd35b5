/*
 * Bundle recipients (docs/bundle-format.md §3.2): the DEK wrapped for an
 * AES-256 key-encryption key on a token (aes-kwp, RFC 5649) or for an RSA
 * public key (rsa-oaep-sha256: OAEP, SHA-256, MGF1-SHA-256, empty label).
 * Sealing RSA needs only the public key; opening happens on the token.
 */
#ifndef PV_BUNDLE_RECIPIENT_H
#define PV_BUNDLE_RECIPIENT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "base/err.h"
#include "bundle/dek.h"
#include "bundle/format.h"
#include "pkcs11/token.h"

/* Seal side. */

/* b64u(SHA-256(DER SubjectPublicKeyInfo)): 43 characters, malloc'd. */
pv_err pv_recipient_rsa_kid(EVP_PKEY *pub, char **kid) PV_WUR;
/* RSAES-OAEP of a DEK in memory; *wrapped (malloc'd) is as long as the
 * modulus. Non-RSA keys and moduli outside 2048..4096 bits: PV_ERR_KEY_TYPE. */
pv_err pv_recipient_wrap_rsa(EVP_PKEY *pub, pv_dek *soft, uint8_t **wrapped, size_t *len) PV_WUR;
/*
 * C_WrapKey(CKM_AES_KEY_WRAP_PAD) of the DEK under the KEK: 40 bytes,
 * malloc'd. A DEK in memory goes through a short-lived extractable session
 * copy; a token DEK must itself be extractable (PV_ERR_KEY_TYPE otherwise).
 */
pv_err pv_recipient_wrap_kwp(p11_token *tok, CK_OBJECT_HANDLE kek, pv_dek *dek, uint8_t **wrapped,
			     size_t *len) PV_WUR;
/* hex(CKA_ID) of the KEK (1..64 bytes of ID, else PV_ERR_KEY_TYPE). */
pv_err pv_recipient_kek_kid(p11_token *tok, CK_OBJECT_HANDLE kek, char **kid) PV_WUR;

/* Open side. */

enum pv_dek_mode {
	PV_DEK_ON_TOKEN,  /* reading: a sensitive, non-extractable session key */
	PV_DEK_IN_MEMORY, /* editing: the DEK in guarded memory (§8) */
};

struct pv_open_info {
	/* 0 C_UnwrapKey, 1 C_Decrypt OAEP, 2 raw RSA (CKM_RSA_X_509) + OAEP
	 * decoding in software */
	int fallback;
};

/*
 * Unwrap an aes-kwp wrapped DEK with the KEK. ON_TOKEN: C_UnwrapKey into a
 * session AES key (SENSITIVE, not EXTRACTABLE; ENCRYPT/DECRYPT/WRAP/UNWRAP).
 * IN_MEMORY: unwrapped non-sensitive and extractable, its value read into
 * guarded memory, the object destroyed (a KEK whose CKA_UNWRAP_TEMPLATE
 * forbids that cannot be used to edit). Wrong KEK or altered bytes:
 * PV_ERR_INTEGRITY.
 */
pv_err pv_recipient_open_kwp(p11_token *tok, CK_OBJECT_HANDLE kek, const uint8_t *wrapped, size_t len,
			     enum pv_dek_mode mode, pv_dek **out) PV_WUR;
/*
 * Unwrap an rsa-oaep-sha256 wrapped DEK with the private key priv, in the
 * order of §3.2: C_UnwrapKey with OAEP (ON_TOKEN only), then C_Decrypt with
 * OAEP, then C_Decrypt with CKM_RSA_X_509 and OAEP decoding in software. A
 * path is left only when the token cannot do it (PV_ERR_MECHANISM from the
 * token layer). Any clear DEK is in guarded memory only; ON_TOKEN turns it
 * into a session key at once and wipes it. In ON_TOKEN mode
 * allow_fallback=0 refuses paths 1 and 2 (PV_ERR_MECHANISM); IN_MEMORY mode
 * wants the clear DEK anyway, so it is not consulted there. info (may be
 * NULL) says which path worked. Bad bytes: PV_ERR_INTEGRITY.
 */
pv_err pv_recipient_open_rsa(p11_token *tok, CK_OBJECT_HANDLE priv, const uint8_t *wrapped, size_t len,
			     enum pv_dek_mode mode, int allow_fallback, struct pv_open_info *info,
			     pv_dek **out) PV_WUR;

/*
 * A recipient key on the token opens (or is wrapped for) bundles only as a
 * p11vault key of purpose wrap (aes-kwp, an aes256 key) or decrypt
 * (rsa-oaep-sha256, an RSA key): the key one of whose versions has h's
 * CKA_ID. PV_ERR_PURPOSE, naming the key and the fix, for a key of another
 * purpose, one without a purpose (made by an earlier version), or a token
 * key that is no p11vault key (adopt it with the purpose). Needs a login
 * (the key metadata is private).
 */
pv_err pv_recipient_check_purpose(p11_token *tok, enum pv_rcpt_type type, CK_OBJECT_HANDLE h) PV_WUR;

/* The AES secret key whose hex(CKA_ID) is kid_hex; PV_ERR_NOT_FOUND if none,
 * PV_ERR_INTEGRITY if several. */
pv_err pv_recipient_find_kek(p11_token *tok, const char *kid_hex, CK_OBJECT_HANDLE *out) PV_WUR;
/* The RSA private key whose public key has this kid (pv_recipient_rsa_kid):
 * matched through a CKO_PUBLIC_KEY object, then the private key with the
 * same modulus (and CKA_ID if set). PV_ERR_NOT_FOUND if none. */
pv_err pv_recipient_find_rsa(p11_token *tok, const char *kid, CK_OBJECT_HANDLE *priv) PV_WUR;

#endif
