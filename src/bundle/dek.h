/*
 * The bundle's data key (DEK, docs/bundle-format.md §3.2, §5, §6): a random
 * AES-256 key, held either in guarded memory (sealing, editing) or as a
 * non-extractable token session key (every reading path). AES-256-GCM
 * entry encryption and the check work the same on both; AES-KWP (RFC 5649)
 * wrapping of private keys is done in software on the sealing side and by
 * C_UnwrapKey into the token on the reading side.
 */
#ifndef PV_BUNDLE_DEK_H
#define PV_BUNDLE_DEK_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/secmem.h"
#include "core/alg.h"
#include "pkcs11/token.h"

#define PV_DEK_LEN       32
#define PV_GCM_NONCE_LEN 12
#define PV_GCM_TAG_LEN   16

typedef struct pv_dek pv_dek;

/* A fresh random DEK (libsodium) in guarded memory. */
pv_err pv_dek_generate(pv_dek **out) PV_WUR;
/* A DEK in guarded memory from len (= 32) bytes; the caller wipes its copy. */
pv_err pv_dek_from_bytes(const uint8_t *k, size_t len, pv_dek **out) PV_WUR;
/*
 * A DEK that is the token AES key h. Takes ownership: pv_dek_free destroys
 * the object (also when this call fails). tok must outlive the DEK.
 */
pv_err pv_dek_from_token(p11_token *tok, CK_OBJECT_HANDLE h, pv_dek **out) PV_WUR;
/*
 * A token session copy of a DEK in memory (CKA_TOKEN=FALSE, SENSITIVE,
 * not EXTRACTABLE, ENCRYPT/DECRYPT/WRAP/UNWRAP): for editors that need token
 * operations, e.g. wrapping a private key under the DEK.
 */
pv_err pv_dek_to_token(pv_dek *soft, p11_token *tok, pv_dek **out) PV_WUR;
/*
 * Lower level: C_CreateObject the session AES key of a DEK in memory.
 * flags: PV_DEK_OBJ_EXTRACTABLE only for a copy that is wrapped at once and
 * destroyed; PV_DEK_OBJ_READER for a reader's DEK, which may only decrypt
 * and unwrap (no encrypt, no wrap). The caller destroys *h.
 */
#define PV_DEK_OBJ_EXTRACTABLE 1
#define PV_DEK_OBJ_READER      2
pv_err pv_dek_create_object(pv_dek *soft, p11_token *tok, int flags, CK_OBJECT_HANDLE *h) PV_WUR;
/* A copy of a DEK in memory, in guarded memory (e.g. to wrap it in software);
 * PV_ERR_USAGE for a token DEK. */
pv_err pv_dek_export(pv_dek *soft, pv_secret **out) PV_WUR;
void pv_dek_free(pv_dek *dek);
int pv_dek_on_token(const pv_dek *dek);
/* The token and key handle of a token DEK (CK_INVALID_HANDLE/NULL otherwise). */
CK_OBJECT_HANDLE pv_dek_handle(const pv_dek *dek);
p11_token *pv_dek_token(const pv_dek *dek);

/*
 * AES-256-GCM, 96-bit nonce, 128-bit tag: *ct (malloc'd) = ciphertext ‖ tag,
 * ptlen + 16 bytes. In software for a DEK in memory, C_Encrypt otherwise.
 * The caller draws the nonce (never reused under one DEK).
 */
pv_err pv_dek_gcm_seal(pv_dek *dek, const uint8_t nonce[PV_GCM_NONCE_LEN], const uint8_t *aad, size_t aadlen,
		       const uint8_t *pt, size_t ptlen, uint8_t **ct, size_t *ctlen) PV_WUR;
/*
 * The inverse: *pt in guarded memory (possibly 0 bytes: the bundle check,
 * §6). PV_ERR_INTEGRITY when the tag does not verify or ctlen < 16.
 */
pv_err pv_dek_gcm_open(pv_dek *dek, const uint8_t nonce[PV_GCM_NONCE_LEN], const uint8_t *aad, size_t aadlen,
		       const uint8_t *ct, size_t ctlen, pv_secret **pt) PV_WUR;
/*
 * The same into an existing secret pt of capacity >= ctlen (e.g. a slice
 * of the bundle's arena): its length is set to the plaintext's, and it is
 * left read-write (the caller locks it, or its arena, when done). On
 * failure pt is wiped and its length 0.
 */
pv_err pv_dek_gcm_open_into(pv_dek *dek, const uint8_t nonce[PV_GCM_NONCE_LEN], const uint8_t *aad,
			    size_t aadlen, const uint8_t *ct, size_t ctlen, pv_secret *pt) PV_WUR;

/* AES-256 key wrap with padding (RFC 5649) under a DEK in memory (software;
 * PV_ERR_USAGE for a token DEK). *out is malloc'd: ((inlen + 7) / 8) * 8 + 8. */
pv_err pv_dek_kwp_wrap(pv_dek *soft, const uint8_t *in, size_t inlen, uint8_t **out, size_t *outlen) PV_WUR;

/* A private key entering the token from a bundle. */
struct pv_key_import {
	pv_alg alg;
	const char *label; /* CKA_LABEL, NULL = none */
	const uint8_t *id; /* CKA_ID, NULL = none */
	size_t id_len;
	int persistent; /* CKA_TOKEN */
	/*
	 * The explicit Ed25519 key-import fallback (docs/operations.md §7), off
	 * unless the operator turned it on: 1 = allowed. fallback_used (may be
	 * NULL) is set to 1 when it made the key, so that the caller can warn.
	 */
	int allow_fallback;
	int *fallback_used;
};

/*
 * C_UnwrapKey(CKM_AES_KEY_WRAP_PAD) of a wrapped DER PKCS#8 key under a token
 * DEK into a private key: PRIVATE, SENSITIVE, not EXTRACTABLE, SIGN (and
 * DERIVE for EC), no DECRYPT/UNWRAP. The protection attributes are read back
 * (PV_ERR_NOT_HONOURED, object destroyed, if the token ignored them).
 * Altered wrapped bytes: PV_ERR_INTEGRITY. A token that cannot import the
 * algorithm (SoftHSM 2.6 and Ed25519): PV_ERR_MECHANISM, whose detail names
 * the fallback option.
 *
 * The fallback (ki->allow_fallback, Ed25519 only, only after the token
 * refused the unwrap): the same wrapped bytes are unwrapped as a session,
 * non-sensitive, extractable CKK_GENERIC_SECRET, its CKA_VALUE (the PKCS#8)
 * is read into guarded memory and the object destroyed at once; the seed is
 * taken from the fixed RFC 8410 layout (bundle/pkcs8_ed25519.h) and
 * C_CreateObject makes the private key with the attributes above plus
 * CKA_EC_PARAMS (the id-Ed25519 OID) and CKA_VALUE (the seed). Everything
 * is wiped; *ki->fallback_used is set.
 */
pv_err pv_dek_unwrap_private_key(pv_dek *token_dek, const struct pv_key_import *ki, const uint8_t *wrapped,
				 size_t len, CK_OBJECT_HANDLE *out) PV_WUR;
/*
 * bundle rotate: unwrap under the old token DEK into a sensitive, extractable
 * session key, C_WrapKey it with KWP under the new token DEK, destroy it.
 * The private key never exists in clear outside the token.
 */
pv_err pv_dek_rewrap_private_key(pv_dek *old_token_dek, pv_dek *new_token_dek, pv_alg alg,
				 const uint8_t *wrapped, size_t len, uint8_t **out, size_t *outlen) PV_WUR;

#endif
