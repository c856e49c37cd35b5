/*
 * Token layer: single-part encryption, key wrapping and unwrapping (the
 * bundle's data key and wrapped private keys). Same conventions as p11_sign:
 * one borrowed session per call, recovery and retries in p11_run, CK_RV
 * mapped by p11_rv_to_err with these refinements (the detail names the CKR):
 *
 *   PV_ERR_INTEGRITY  C_Decrypt / C_UnwrapKey said the input does not
 *                     authenticate or decode: CKR_ENCRYPTED_DATA_INVALID,
 *                     CKR_ENCRYPTED_DATA_LEN_RANGE, CKR_AEAD_DECRYPT_FAILED,
 *                     CKR_WRAPPED_KEY_INVALID, CKR_WRAPPED_KEY_LEN_RANGE; and
 *                     CKR_GENERAL_ERROR from an authenticated mechanism
 *                     (CKM_AES_GCM decrypt, CKM_AES_KEY_WRAP(_PAD) unwrap),
 *                     which is how SoftHSM 2.6 reports a failed tag/check.
 *   PV_ERR_MECHANISM  the token cannot do this operation with this
 *                     mechanism/key: CKR_MECHANISM_INVALID,
 *                     CKR_MECHANISM_PARAM_INVALID, CKR_ARGUMENTS_BAD (SoftHSM
 *                     for OAEP parameters it lacks),
 *                     CKR_KEY_FUNCTION_NOT_PERMITTED, CKR_FUNCTION_NOT_SUPPORTED.
 *                     Callers with a fallback path branch on this code.
 *   PV_ERR_TOO_LARGE  the output buffer is too small.
 *
 * Key handles are raw handles (not p11_obj): a stale handle is not re-found.
 *
 * Session objects (CKA_TOKEN=FALSE, e.g. an unwrapped data key) live as long
 * as the session that created them, and any session of this process can use
 * them. The pool therefore pins a session on which an object was created:
 * it is never closed while the token is open, and when an operation leaves
 * it unusable it is parked (kept open, out of the pool) instead of closed.
 * What callers must know:
 *   - session objects survive until p11_token_close() or until they are
 *     destroyed; destroy them as soon as they are not needed (each pinned
 *     or parked session stays open meanwhile);
 *   - recovery (device loss, C_Finalize/C_Initialize, a lost session, fork)
 *     loses them: a later call with the handle fails (PV_ERR_SESSION) and the
 *     object must be made again from its source (unwrap the DEK again);
 *   - a logout (or a lost login) makes private session objects unusable.
 */
#ifndef PV_P11_CRYPT_H
#define PV_P11_CRYPT_H

#include <stddef.h>
#include <stdint.h>

#include "pkcs11/token.h"

/*
 * C_EncryptInit + C_Encrypt / C_DecryptInit + C_Decrypt. *outlen is the
 * capacity of out on entry and the length on return. Decrypt output may be
 * secret: pass guarded memory.
 */
pv_err p11_encrypt(p11_token *tok, CK_MECHANISM *mech, CK_OBJECT_HANDLE key, const uint8_t *in, size_t inlen,
		   uint8_t *out, size_t *outlen) PV_WUR;
pv_err p11_decrypt(p11_token *tok, CK_MECHANISM *mech, CK_OBJECT_HANDLE key, const uint8_t *in, size_t inlen,
		   uint8_t *out, size_t *outlen) PV_WUR;

/* C_WrapKey; *out is malloc'd (free()): wrapped keys are not secret. */
pv_err p11_wrap_key(p11_token *tok, CK_MECHANISM *mech, CK_OBJECT_HANDLE wrapping_key, CK_OBJECT_HANDLE key,
		    uint8_t **out, size_t *outlen) PV_WUR;

/* C_UnwrapKey into a new object made from tmpl. */
pv_err p11_unwrap_key(p11_token *tok, CK_MECHANISM *mech, CK_OBJECT_HANDLE unwrapping_key,
		      const uint8_t *wrapped, size_t len, CK_ATTRIBUTE *tmpl, CK_ULONG n,
		      CK_OBJECT_HANDLE *out) PV_WUR;

/*
 * One attribute of h into the caller's buffer (cap bytes; guarded memory for
 * a secret such as a non-sensitive key's CKA_VALUE, which p11_handle_get_attr
 * would copy to the heap). PV_ERR_NOT_FOUND if unavailable or sensitive,
 * PV_ERR_TOO_LARGE if longer than cap.
 */
pv_err p11_handle_read_attr(p11_token *tok, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, uint8_t *buf,
			    size_t cap, size_t *len) PV_WUR;

/*
 * ECDH (CKM_ECDH1_DERIVE, CKD_NULL) of the private EC key with a peer's
 * uncompressed point: the token derives a session CKK_GENERIC_SECRET of len
 * bytes (not sensitive, extractable: its value is the result), its CKA_VALUE
 * is read into out (pass guarded memory) and the object is destroyed within
 * the same call. key is re-found after recovery like p11_sign's.
 */
pv_err p11_ecdh_derive(p11_token *tok, p11_obj *key, const uint8_t *point, size_t point_len, uint8_t *out,
		       size_t len) PV_WUR;

#endif
