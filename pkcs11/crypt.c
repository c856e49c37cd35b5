#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "pkcs11/crypt.h"
#include "pkcs11/internal.h"

/*
 * Encryption and key wrapping, run by p11_run like sign_op: every C_* call
 * appears once here. Handles are raw, so a stale one is not re-found.
 */

/* Authenticated mechanisms: SoftHSM 2.6 reports a failed check as
 * CKR_GENERAL_ERROR. */
static int
mech_authenticated(CK_MECHANISM_TYPE m)
{
	return m == CKM_AES_GCM || m == CKM_AES_KEY_WRAP || m == CKM_AES_KEY_WRAP_PAD;
}

static int
rv_bad_input(CK_RV rv)
{
	return rv == CKR_ENCRYPTED_DATA_INVALID || rv == CKR_ENCRYPTED_DATA_LEN_RANGE ||
	       rv == CKR_WRAPPED_KEY_INVALID || rv == CKR_WRAPPED_KEY_LEN_RANGE ||
	       rv == 0x35UL /* CKR_AEAD_DECRYPT_FAILED (3.0) */;
}

static int
rv_cannot(CK_RV rv)
{
	return rv == CKR_MECHANISM_INVALID || rv == CKR_MECHANISM_PARAM_INVALID || rv == CKR_ARGUMENTS_BAD ||
	       rv == CKR_KEY_FUNCTION_NOT_PERMITTED || rv == CKR_FUNCTION_NOT_SUPPORTED;
}

/*
 * Turn the codes crypt.h refines into c->err (returning CKR_OK so p11_run
 * does not map them again); other codes go back to p11_run. checking: the
 * call verifies an authenticated input (decrypt, unwrap). PKCS#11 ends the
 * operation on these returns, so the session stays reusable: a tampered
 * bundle must not cost a session.
 */
static CK_RV
refine(CK_RV rv, CK_MECHANISM_TYPE mech, int checking, struct p11_call *c)
{
	char name[48];

	if (checking && (rv_bad_input(rv) || (rv == CKR_GENERAL_ERROR && mech_authenticated(mech)))) {
		pv_err_set_detail("%s (%s): the input does not authenticate (%s)", c->fname,
				  p11_mech_name(mech, name, sizeof(name)), P11_RV_TEXT(rv));
		c->err = PV_ERR_INTEGRITY;
		return CKR_OK;
	}
	if (rv_cannot(rv)) {
		pv_err_set_detail("%s (%s): the token cannot do this (%s)", c->fname,
				  p11_mech_name(mech, name, sizeof(name)), P11_RV_TEXT(rv));
		c->err = PV_ERR_MECHANISM;
		return CKR_OK;
	}
	if (rv == CKR_OPERATION_ACTIVE) /* left behind by a module: do not reuse */
		c->dirty = 1;
	return rv;
}

struct cipher_ctx {
	CK_MECHANISM *mech;
	CK_OBJECT_HANDLE key;
	const uint8_t *in;
	size_t inlen;
	uint8_t *out;
	size_t outlen;
};

static CK_RV
finish_cipher(CK_RV rv, struct cipher_ctx *ctx, CK_ULONG len, int checking, struct p11_call *c)
{
	if (rv == CKR_BUFFER_TOO_SMALL) {
		/* The operation stays active: the session must not be reused. */
		c->dirty = 1;
		pv_err_set_detail("%s: output needs %lu bytes, buffer has %zu", c->fname, len, ctx->outlen);
		c->err = PV_ERR_TOO_LARGE;
		return CKR_OK;
	}
	if (rv == CKR_OK) {
		ctx->outlen = len;
		return CKR_OK;
	}
	if ((rv = refine(rv, ctx->mech->mechanism, checking, c)) == CKR_OK)
		return rv;
	if (!p11_rv_session_gone(rv))
		c->dirty = 1; /* a module that kept the operation active must not bite later */
	return rv;
}

static CK_RV
encrypt_op(p11_token *tok, CK_SESSION_HANDLE h, void *vctx, struct p11_call *c)
{
	struct cipher_ctx *ctx = vctx;
	CK_ULONG len = ctx->outlen;
	CK_RV rv;

	c->readonly = 1;
	c->no_refind = 1;
	if ((rv = P11_CALL(c, tok, C_EncryptInit, h, ctx->mech, ctx->key)) != CKR_OK)
		return refine(rv, ctx->mech->mechanism, 0, c);
	/* PKCS#11 has no const; the input is only read. */
	rv = P11_CALL(c, tok, C_Encrypt, h, (CK_BYTE *)(uintptr_t)ctx->in, ctx->inlen, ctx->out, &len);
	return finish_cipher(rv, ctx, len, 0, c);
}

static CK_RV
decrypt_op(p11_token *tok, CK_SESSION_HANDLE h, void *vctx, struct p11_call *c)
{
	struct cipher_ctx *ctx = vctx;
	CK_ULONG len = ctx->outlen;
	CK_RV rv;

	c->readonly = 1;
	c->no_refind = 1;
	if ((rv = P11_CALL(c, tok, C_DecryptInit, h, ctx->mech, ctx->key)) != CKR_OK)
		return refine(rv, ctx->mech->mechanism, 0, c);
	rv = P11_CALL(c, tok, C_Decrypt, h, (CK_BYTE *)(uintptr_t)ctx->in, ctx->inlen, ctx->out, &len);
	return finish_cipher(rv, ctx, len, 1, c);
}

static pv_err
run_cipher(p11_token *tok, p11_op_fn fn, CK_MECHANISM *mech, CK_OBJECT_HANDLE key, const uint8_t *in,
	   size_t inlen, uint8_t *out, size_t *outlen)
{
	static const uint8_t empty[1];
	struct cipher_ctx ctx = {mech, key, in, inlen, out, 0};
	pv_err r;

	if (mech == NULL || out == NULL || outlen == NULL || (in == NULL && inlen > 0))
		return PV_ERR_USAGE;
	/* Modules refuse a NULL input even of length 0 (SoftHSM: ARGUMENTS_BAD). */
	if (in == NULL)
		ctx.in = empty;
	ctx.outlen = *outlen;
	if ((r = p11_run(tok, fn, &ctx)) != PV_OK)
		return r;
	*outlen = ctx.outlen;
	return PV_OK;
}

pv_err
p11_encrypt(p11_token *tok, CK_MECHANISM *mech, CK_OBJECT_HANDLE key, const uint8_t *in, size_t inlen,
	    uint8_t *out, size_t *outlen)
{
	return run_cipher(tok, encrypt_op, mech, key, in, inlen, out, outlen);
}

pv_err
p11_decrypt(p11_token *tok, CK_MECHANISM *mech, CK_OBJECT_HANDLE key, const uint8_t *in, size_t inlen,
	    uint8_t *out, size_t *outlen)
{
	return run_cipher(tok, decrypt_op, mech, key, in, inlen, out, outlen);
}

struct wrap_ctx {
	CK_MECHANISM *mech;
	CK_OBJECT_HANDLE wrapping, key;
	const uint8_t *wrapped;
	size_t len;
	CK_ATTRIBUTE *tmpl;
	CK_ULONG n;
	uint8_t *out;
	size_t outlen;
	CK_OBJECT_HANDLE made;
};

static CK_RV
wrap_op(p11_token *tok, CK_SESSION_HANDLE h, void *vctx, struct p11_call *c)
{
	struct wrap_ctx *ctx = vctx;
	CK_ULONG len = 0;
	CK_RV rv;

	free(ctx->out);
	ctx->out = NULL;
	c->no_refind = 1;
	/* Ask for the length first: C_WrapKey keeps no operation state. */
	for (int pass = 0; pass < 2; pass++) {
		rv = P11_CALL(c, tok, C_WrapKey, h, ctx->mech, ctx->wrapping, ctx->key, ctx->out, &len);
		if (rv != CKR_OK)
			return refine(rv, ctx->mech->mechanism, 0, c);
		if (ctx->out != NULL)
			break;
		if (len > (1u << 20)) {
			c->err = PV_ERR_TOO_LARGE;
			return CKR_OK;
		}
		if ((ctx->out = malloc(len ? len : 1)) == NULL) {
			c->err = PV_ERR_NOMEM;
			return CKR_OK;
		}
	}
	ctx->outlen = len;
	return CKR_OK;
}

pv_err
p11_wrap_key(p11_token *tok, CK_MECHANISM *mech, CK_OBJECT_HANDLE wrapping_key, CK_OBJECT_HANDLE key,
	     uint8_t **out, size_t *outlen)
{
	struct wrap_ctx ctx;
	pv_err r;

	*out = NULL;
	*outlen = 0;
	if (mech == NULL)
		return PV_ERR_USAGE;
	memset(&ctx, 0, sizeof(ctx));
	ctx.mech = mech;
	ctx.wrapping = wrapping_key;
	ctx.key = key;
	if ((r = p11_run(tok, wrap_op, &ctx)) != PV_OK) {
		free(ctx.out);
		return r;
	}
	*out = ctx.out;
	*outlen = ctx.outlen;
	return PV_OK;
}

static CK_RV
unwrap_op(p11_token *tok, CK_SESSION_HANDLE h, void *vctx, struct p11_call *c)
{
	struct wrap_ctx *ctx = vctx;
	CK_RV rv;

	c->no_refind = 1;
	rv = P11_CALL(c, tok, C_UnwrapKey, h, ctx->mech, ctx->wrapping, (CK_BYTE *)(uintptr_t)ctx->wrapped,
		      ctx->len, ctx->tmpl, ctx->n, &ctx->made);
	if (rv != CKR_OK)
		return refine(rv, ctx->mech->mechanism, 1, c);
	c->created = 1;
	return CKR_OK;
}

pv_err
p11_unwrap_key(p11_token *tok, CK_MECHANISM *mech, CK_OBJECT_HANDLE unwrapping_key, const uint8_t *wrapped,
	       size_t len, CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE *out)
{
	struct wrap_ctx ctx;
	pv_err r;

	*out = CK_INVALID_HANDLE;
	if (mech == NULL || wrapped == NULL || len == 0)
		return PV_ERR_USAGE;
	memset(&ctx, 0, sizeof(ctx));
	ctx.mech = mech;
	ctx.wrapping = unwrapping_key;
	ctx.wrapped = wrapped;
	ctx.len = len;
	ctx.tmpl = tmpl;
	ctx.n = n;
	ctx.made = CK_INVALID_HANDLE;
	if ((r = p11_run(tok, unwrap_op, &ctx)) != PV_OK)
		return r;
	*out = ctx.made;
	return PV_OK;
}

struct read_ctx {
	CK_OBJECT_HANDLE h;
	CK_ATTRIBUTE_TYPE type;
	uint8_t *buf;
	size_t cap, len;
};

static CK_RV
read_attr_op(p11_token *tok, CK_SESSION_HANDLE h, void *vctx, struct p11_call *c)
{
	struct read_ctx *ctx = vctx;
	CK_ATTRIBUTE a = {ctx->type, ctx->buf, ctx->cap};
	CK_RV rv;

	c->readonly = 1;
	c->no_refind = 1;
	rv = P11_CALL(c, tok, C_GetAttributeValue, h, ctx->h, &a, 1);
	if (rv == CKR_BUFFER_TOO_SMALL) {
		char an[96];

		pv_err_set_detail("C_GetAttributeValue: %s of the object is longer than %zu bytes",
				  p11_attr_name(ctx->type, an, sizeof(an)), ctx->cap);
		c->err = PV_ERR_TOO_LARGE;
		return CKR_OK;
	}
	if (rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID ||
	    (rv == CKR_OK && a.ulValueLen == CK_UNAVAILABLE_INFORMATION)) {
		p11_attr_unavailable(ctx->type, rv);
		c->err = PV_ERR_NOT_FOUND;
		return CKR_OK;
	}
	if (rv == CKR_OK)
		ctx->len = a.ulValueLen;
	return rv;
}

pv_err
p11_handle_read_attr(p11_token *tok, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, uint8_t *buf, size_t cap,
		     size_t *len)
{
	struct read_ctx ctx = {h, type, buf, cap, 0};
	pv_err r;

	*len = 0;
	if (buf == NULL || cap == 0)
		return PV_ERR_USAGE;
	if ((r = p11_run(tok, read_attr_op, &ctx)) != PV_OK)
		return r;
	*len = ctx.len;
	return PV_OK;
}

struct ecdh_ctx {
	p11_obj *key;
	const uint8_t *point;
	size_t point_len;
	uint8_t *out;
	size_t want, len;
};

/*
 * Derive, read and destroy on one session: the derived object never
 * outlives this call sequence, so the session needs no pinning.
 */
static CK_RV
ecdh_op(p11_token *tok, CK_SESSION_HANDLE h, void *vctx, struct p11_call *c)
{
	struct ecdh_ctx *ctx = vctx;
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
	CK_BBOOL no = CK_FALSE, yes = CK_TRUE;
	CK_ULONG vlen = ctx->want;
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},       {CKA_KEY_TYPE, &kt, sizeof(kt)},
	    {CKA_TOKEN, &no, sizeof(no)},         {CKA_PRIVATE, &yes, sizeof(yes)},
	    {CKA_SENSITIVE, &no, sizeof(no)},     {CKA_EXTRACTABLE, &yes, sizeof(yes)},
	    {CKA_VALUE_LEN, &vlen, sizeof(vlen)},
	};
	CK_ECDH1_DERIVE_PARAMS p;
	CK_MECHANISM mech = {CKM_ECDH1_DERIVE, &p, sizeof(p)};
	CK_OBJECT_HANDLE made = CK_INVALID_HANDLE;
	CK_ATTRIBUTE a = {CKA_VALUE, ctx->out, ctx->want};
	CK_RV rv;

	if ((rv = p11_obj_resolve(tok, h, ctx->key, c)) != CKR_OK || c->err != PV_OK)
		return rv;
	memset(&p, 0, sizeof(p));
	p.kdf = CKD_NULL;
	p.pPublicData = (CK_BYTE *)(uintptr_t)ctx->point;
	p.ulPublicDataLen = ctx->point_len;
	rv = P11_CALL(c, tok, C_DeriveKey, h, &mech, ctx->key->handle, tmpl, PV_NELEM(tmpl), &made);
	if (rv != CKR_OK)
		return refine(rv, CKM_ECDH1_DERIVE, 0, c);
	rv = P11_CALL(c, tok, C_GetAttributeValue, h, made, &a, 1);
	if (rv == CKR_OK && a.ulValueLen != ctx->want) {
		pv_err_set_detail("C_DeriveKey returned a %lu-byte secret, expected %zu", a.ulValueLen,
				  ctx->want);
		c->err = PV_ERR_INTEGRITY;
	} else if (rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_BUFFER_TOO_SMALL) {
		pv_err_set_detail("C_GetAttributeValue: the derived secret is unreadable (%s)",
				  P11_RV_TEXT(rv));
		c->err = PV_ERR_NOT_HONOURED;
		rv = CKR_OK;
	}
	if (rv == CKR_OK && c->err == PV_OK)
		ctx->len = a.ulValueLen;
	/* Destroy whatever happened; a failure here would leave the secret on
	 * the token for the session's life, so it is reported. */
	if (tok->f->C_DestroyObject(h, made) != CKR_OK && rv == CKR_OK && c->err == PV_OK) {
		pv_err_set_detail("C_DestroyObject of the derived secret failed");
		c->err = PV_ERR_PKCS11;
		c->dirty = 1;
	}
	return rv;
}

pv_err
p11_ecdh_derive(p11_token *tok, p11_obj *key, const uint8_t *point, size_t point_len, uint8_t *out,
		size_t len)
{
	struct ecdh_ctx ctx = {key, point, point_len, out, len, 0};
	pv_err r;

	if (key == NULL || point == NULL || point_len == 0 || out == NULL || len == 0)
		return PV_ERR_USAGE;
	if ((r = p11_run(tok, ecdh_op, &ctx)) != PV_OK) {
		pv_wipe(out, len);
		return r;
	}
	return PV_OK;
}
