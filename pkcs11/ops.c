#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkcs11/internal.h"

/*
 * Object and crypto operations. Each is a small function run by p11_run on
 * a borrowed session; every C_* call appears once here.
 */

#define FIND_BATCH 64

CK_RV
p11_obj_resolve(p11_token *tok, CK_SESSION_HANDLE h, p11_obj *obj, struct p11_call *c)
{
	unsigned long gen = atomic_load(&tok->generation);
	static CK_BBOOL on_token = CK_TRUE;
	CK_ATTRIBUTE tmpl[5];
	CK_OBJECT_HANDLE found[2];
	CK_ULONG n = 0, nfound = 0;
	CK_RV rv;
	int by_handle = obj->id_len == 0 && obj->label[0] == '\0' && obj->application[0] == '\0';

	/* nothing to find it again by: a handle the token no longer knows is
	 * an error, never a recovery (which would make every handle stale) */
	if (by_handle)
		c->no_refind = 1;
	if (obj->handle != CK_INVALID_HANDLE && obj->gen == gen)
		return CKR_OK;
	if (by_handle) {
		pv_err_set_detail("object reference has neither CKA_ID nor label");
		c->err = PV_ERR_USAGE;
		return CKR_OK;
	}
	if (obj->id_len > sizeof(obj->id)) {
		c->err = PV_ERR_USAGE;
		return CKR_OK;
	}
	tmpl[n++] = (CK_ATTRIBUTE){CKA_CLASS, &obj->cls, sizeof(obj->cls)};
	if (obj->id_len)
		tmpl[n++] = (CK_ATTRIBUTE){CKA_ID, obj->id, obj->id_len};
	if (obj->label[0])
		tmpl[n++] = (CK_ATTRIBUTE){CKA_LABEL, obj->label, strnlen(obj->label, sizeof(obj->label))};
	if (obj->application[0])
		tmpl[n++] = (CK_ATTRIBUTE){CKA_APPLICATION, obj->application,
					   strnlen(obj->application, sizeof(obj->application))};
	if (obj->token_only)
		tmpl[n++] = (CK_ATTRIBUTE){CKA_TOKEN, &on_token, sizeof(on_token)};
	if ((rv = P11_CALL(c, tok, C_FindObjectsInit, h, tmpl, n)) != CKR_OK)
		return rv;
	/* Final ends the search whatever Find said; the first failure is reported. */
	if ((rv = P11_CALL(c, tok, C_FindObjects, h, found, 2, &nfound)) != CKR_OK) {
		(void)tok->f->C_FindObjectsFinal(h);
		return rv;
	}
	if ((rv = P11_CALL(c, tok, C_FindObjectsFinal, h)) != CKR_OK)
		return rv;
	if (nfound == 0) {
		pv_err_set_detail("no token object matches the reference");
		c->err = PV_ERR_NOT_FOUND;
		c->found_nothing = 1;
		return CKR_OK;
	}
	if (nfound > 1) {
		pv_err_set_detail("several token objects match one reference");
		c->err = PV_ERR_INTEGRITY;
		return CKR_OK;
	}
	obj->handle = found[0];
	obj->gen = gen;
	return CKR_OK;
}

static CK_RV
find_op(p11_token *tok, CK_SESSION_HANDLE h, void *ctx, struct p11_call *c)
{
	c->readonly = 1;
	return p11_obj_resolve(tok, h, ctx, c);
}

pv_err
p11_obj_find(p11_token *tok, p11_obj *obj)
{
	return p11_run(tok, find_op, obj);
}

struct group_ctx {
	p11_obj *objs;
	size_t n;
};

/* Assign handle h of class cls to the one reference of that class. */
static int
group_assign(struct group_ctx *ctx, CK_OBJECT_CLASS cls, CK_OBJECT_HANDLE h, unsigned long gen)
{
	for (size_t j = 0; j < ctx->n; j++) {
		p11_obj *o = &ctx->objs[j];

		if (o->cls != cls)
			continue;
		if (o->handle != CK_INVALID_HANDLE && o->gen == gen)
			return 0; /* a second object of the class: ambiguous */
		o->handle = h;
		o->gen = gen;
	}
	return 1;
}

static CK_RV
find_group_op(p11_token *tok, CK_SESSION_HANDLE h, void *vctx, struct p11_call *c)
{
	struct group_ctx *ctx = vctx;
	unsigned long gen = atomic_load(&tok->generation);
	static CK_BBOOL on_token = CK_TRUE;
	CK_ATTRIBUTE tmpl[2];
	CK_OBJECT_HANDLE found[FIND_BATCH];
	CK_ULONG n = 0, nfound = 0, i;
	CK_RV rv;

	c->readonly = 1;
	for (i = 0; i < ctx->n; i++)
		ctx->objs[i].handle = CK_INVALID_HANDLE;
	tmpl[n++] = (CK_ATTRIBUTE){CKA_ID, ctx->objs[0].id, ctx->objs[0].id_len};
	tmpl[n++] = (CK_ATTRIBUTE){CKA_TOKEN, &on_token, sizeof(on_token)};
	if ((rv = P11_CALL(c, tok, C_FindObjectsInit, h, tmpl, n)) != CKR_OK)
		return rv;
	if ((rv = P11_CALL(c, tok, C_FindObjects, h, found, FIND_BATCH, &nfound)) != CKR_OK) {
		(void)tok->f->C_FindObjectsFinal(h);
		return rv;
	}
	if ((rv = P11_CALL(c, tok, C_FindObjectsFinal, h)) != CKR_OK)
		return rv;
	for (i = 0; i < nfound; i++) {
		CK_OBJECT_CLASS cls;
		CK_ATTRIBUTE a = {CKA_CLASS, &cls, sizeof(cls)};

		if ((rv = P11_CALL(c, tok, C_GetAttributeValue, h, found[i], &a, 1)) != CKR_OK)
			return rv;
		if (!group_assign(ctx, cls, found[i], gen)) {
			pv_err_set_detail("several token objects match one reference");
			c->err = PV_ERR_INTEGRITY;
			return CKR_OK;
		}
	}
	c->found_nothing = nfound == 0;
	return CKR_OK;
}

pv_err
p11_obj_find_group(p11_token *tok, p11_obj *objs, size_t n)
{
	struct group_ctx ctx = {objs, n};

	for (size_t i = 0; i < n; i++) {
		if (objs[i].id_len == 0 || objs[i].id_len > sizeof(objs[i].id) ||
		    objs[i].id_len != objs[0].id_len || memcmp(objs[i].id, objs[0].id, objs[0].id_len) != 0 ||
		    objs[i].label[0] != '\0' || objs[i].application[0] != '\0' || !objs[i].token_only)
			return PV_ERR_USAGE;
	}
	return p11_run(tok, find_group_op, &ctx);
}

struct find_all_ctx {
	const CK_ATTRIBUTE *tmpl;
	CK_ULONG n;
	CK_OBJECT_HANDLE *out;
	size_t count;
};

static CK_RV
find_all_op(p11_token *tok, CK_SESSION_HANDLE h, void *vctx, struct p11_call *c)
{
	struct find_all_ctx *ctx = vctx;
	CK_OBJECT_HANDLE batch[FIND_BATCH], *grown;
	CK_ULONG got;
	CK_RV rv;

	c->readonly = 1;
	free(ctx->out);
	ctx->out = NULL;
	ctx->count = 0;
	/* The template is only read; PKCS#11 just lacks const. */
	if ((rv = P11_CALL(c, tok, C_FindObjectsInit, h, (CK_ATTRIBUTE *)(uintptr_t)ctx->tmpl, ctx->n)) !=
	    CKR_OK)
		return rv;
	for (;;) {
		if ((rv = P11_CALL(c, tok, C_FindObjects, h, batch, FIND_BATCH, &got)) != CKR_OK || got == 0)
			break;
		if ((grown = realloc(ctx->out, (ctx->count + got) * sizeof(*grown))) == NULL) {
			c->err = PV_ERR_NOMEM;
			break;
		}
		ctx->out = grown;
		memcpy(ctx->out + ctx->count, batch, got * sizeof(*batch));
		ctx->count += got;
	}
	if (rv != CKR_OK) {
		(void)tok->f->C_FindObjectsFinal(h);
		return rv;
	}
	c->found_nothing = ctx->count == 0;
	return P11_CALL(c, tok, C_FindObjectsFinal, h);
}

pv_err
p11_find_all(p11_token *tok, const CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE **out, size_t *count)
{
	struct find_all_ctx ctx = {tmpl, n, NULL, 0};
	pv_err r;

	*out = NULL;
	*count = 0;
	if ((r = p11_run(tok, find_all_op, &ctx)) != PV_OK) {
		free(ctx.out);
		return r;
	}
	*out = ctx.out;
	*count = ctx.count;
	return PV_OK;
}

struct attr_ctx {
	p11_obj *obj;
	CK_OBJECT_HANDLE h;
	CK_ATTRIBUTE_TYPE type;
	uint8_t *val;
	size_t len;
	CK_ATTRIBUTE *tmpl; /* set_attrs / create */
	CK_ULONG n;
};

static CK_RV
ctx_handle(p11_token *tok, CK_SESSION_HANDLE h, struct attr_ctx *ctx, struct p11_call *c,
	   CK_OBJECT_HANDLE *oh)
{
	CK_RV rv;

	if (ctx->obj == NULL) {
		c->no_refind = 1;
		*oh = ctx->h;
		return CKR_OK;
	}
	if ((rv = p11_obj_resolve(tok, h, ctx->obj, c)) != CKR_OK)
		return rv;
	*oh = ctx->obj->handle;
	return CKR_OK;
}

static CK_RV
get_attr_op(p11_token *tok, CK_SESSION_HANDLE h, void *vctx, struct p11_call *c)
{
	struct attr_ctx *ctx = vctx;
	CK_ATTRIBUTE a = {ctx->type, NULL, 0};
	CK_OBJECT_HANDLE oh;
	CK_RV rv;

	c->readonly = 1;
	free(ctx->val);
	ctx->val = NULL;
	if ((rv = ctx_handle(tok, h, ctx, c, &oh)) != CKR_OK || c->err != PV_OK)
		return rv;
	rv = P11_CALL(c, tok, C_GetAttributeValue, h, oh, &a, 1);
	if (rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID ||
	    a.ulValueLen == CK_UNAVAILABLE_INFORMATION) {
		p11_attr_unavailable(ctx->type, rv);
		c->err = PV_ERR_NOT_FOUND;
		return CKR_OK;
	}
	if (rv != CKR_OK)
		return rv;
	if (a.ulValueLen > (1u << 20)) {
		c->err = PV_ERR_TOO_LARGE;
		return CKR_OK;
	}
	if ((a.pValue = ctx->val = malloc(a.ulValueLen ? a.ulValueLen : 1)) == NULL) {
		c->err = PV_ERR_NOMEM;
		return CKR_OK;
	}
	if ((rv = tok->f->C_GetAttributeValue(h, oh, &a, 1)) != CKR_OK)
		return rv;
	ctx->len = a.ulValueLen;
	return CKR_OK;
}

static pv_err
get_attr(p11_token *tok, p11_obj *obj, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, uint8_t **val, size_t *len)
{
	struct attr_ctx ctx;
	pv_err r;

	memset(&ctx, 0, sizeof(ctx));
	ctx.obj = obj;
	ctx.h = h;
	ctx.type = type;
	*val = NULL;
	*len = 0;
	if ((r = p11_run(tok, get_attr_op, &ctx)) != PV_OK) {
		free(ctx.val);
		return r;
	}
	*val = ctx.val;
	*len = ctx.len;
	return PV_OK;
}

pv_err
p11_obj_get_attr(p11_token *tok, p11_obj *obj, CK_ATTRIBUTE_TYPE type, uint8_t **val, size_t *len)
{
	return get_attr(tok, obj, CK_INVALID_HANDLE, type, val, len);
}

pv_err
p11_handle_get_attr(p11_token *tok, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, uint8_t **val, size_t *len)
{
	return get_attr(tok, NULL, h, type, val, len);
}

pv_err
p11_handle_get_bool(p11_token *tok, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, CK_BBOOL *v)
{
	uint8_t *val = NULL;
	size_t len = 0;
	pv_err r;

	if ((r = get_attr(tok, NULL, h, type, &val, &len)) != PV_OK)
		return r;
	if (len != sizeof(CK_BBOOL)) {
		char an[96];

		pv_err_set_detail("%s of the object is not a CK_BBOOL", p11_attr_name(type, an, sizeof(an)));
		r = PV_ERR_BAD_INPUT;
	} else {
		*v = val[0];
	}
	free(val);
	return r;
}

pv_err
p11_handle_get_ulong(p11_token *tok, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, CK_ULONG *v)
{
	uint8_t *val = NULL;
	size_t len = 0;
	pv_err r;

	if ((r = get_attr(tok, NULL, h, type, &val, &len)) != PV_OK)
		return r;
	if (len != sizeof(CK_ULONG)) {
		char an[96];

		pv_err_set_detail("%s of the object is not a CK_ULONG", p11_attr_name(type, an, sizeof(an)));
		r = PV_ERR_BAD_INPUT;
	} else {
		memcpy(v, val, sizeof(*v));
	}
	free(val);
	return r;
}

static CK_RV
set_attrs_op(p11_token *tok, CK_SESSION_HANDLE h, void *vctx, struct p11_call *c)
{
	struct attr_ctx *ctx = vctx;
	CK_OBJECT_HANDLE oh;
	CK_RV rv;

	if ((rv = ctx_handle(tok, h, ctx, c, &oh)) != CKR_OK || c->err != PV_OK)
		return rv;
	return P11_CALL(c, tok, C_SetAttributeValue, h, oh, ctx->tmpl, ctx->n);
}

pv_err
p11_obj_set_attrs(p11_token *tok, p11_obj *obj, CK_ATTRIBUTE *tmpl, CK_ULONG n)
{
	struct attr_ctx ctx;

	memset(&ctx, 0, sizeof(ctx));
	ctx.obj = obj;
	ctx.tmpl = tmpl;
	ctx.n = n;
	return p11_run(tok, set_attrs_op, &ctx);
}

static CK_RV
create_op(p11_token *tok, CK_SESSION_HANDLE h, void *vctx, struct p11_call *c)
{
	struct attr_ctx *ctx = vctx;

	CK_RV rv;

	if ((rv = P11_CALL(c, tok, C_CreateObject, h, ctx->tmpl, ctx->n, &ctx->h)) == CKR_OK)
		c->created = 1;
	return rv;
}

pv_err
p11_create_object(p11_token *tok, CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE *h)
{
	struct attr_ctx ctx;
	pv_err r;

	memset(&ctx, 0, sizeof(ctx));
	ctx.tmpl = tmpl;
	ctx.n = n;
	ctx.h = CK_INVALID_HANDLE;
	if ((r = p11_run(tok, create_op, &ctx)) == PV_OK)
		*h = ctx.h;
	return r;
}

static CK_RV
destroy_op(p11_token *tok, CK_SESSION_HANDLE h, void *vctx, struct p11_call *c)
{
	struct attr_ctx *ctx = vctx;
	CK_OBJECT_HANDLE oh;
	CK_RV rv;

	if ((rv = ctx_handle(tok, h, ctx, c, &oh)) != CKR_OK || c->err != PV_OK)
		return rv;
	if ((rv = P11_CALL(c, tok, C_DestroyObject, h, oh)) == CKR_OK && ctx->obj)
		ctx->obj->handle = CK_INVALID_HANDLE;
	return rv;
}

pv_err
p11_obj_destroy(p11_token *tok, p11_obj *obj)
{
	struct attr_ctx ctx;

	memset(&ctx, 0, sizeof(ctx));
	ctx.obj = obj;
	return p11_run(tok, destroy_op, &ctx);
}

void
p11_obj_destroy_quietly(p11_token *tok, p11_obj *obj)
{
	pv_err r = p11_obj_destroy(tok, obj);

	(void)r;
	pv_err_clear_detail();
}

pv_err
p11_handle_destroy(p11_token *tok, CK_OBJECT_HANDLE h)
{
	struct attr_ctx ctx;

	memset(&ctx, 0, sizeof(ctx));
	ctx.h = h;
	return p11_run(tok, destroy_op, &ctx);
}

struct copy_ctx {
	p11_obj *src;
	p11_obj *copy;
};

static CK_RV
copy_op(p11_token *tok, CK_SESSION_HANDLE h, void *vctx, struct p11_call *c)
{
	struct copy_ctx *ctx = vctx;
	CK_BBOOL session = CK_FALSE;
	CK_ATTRIBUTE tmpl[] = {{CKA_TOKEN, &session, sizeof(session)}};
	CK_OBJECT_HANDLE nh = CK_INVALID_HANDLE;
	unsigned long gen;
	CK_RV rv;

	if ((rv = p11_obj_resolve(tok, h, ctx->src, c)) != CKR_OK || c->err != PV_OK)
		return rv;
	/* taken before the call: a recovery meanwhile makes the copy stale */
	gen = atomic_load(&tok->generation);
	if ((rv = P11_CALL(c, tok, C_CopyObject, h, ctx->src->handle, tmpl, PV_NELEM(tmpl), &nh)) != CKR_OK)
		return rv;
	c->created = 1; /* the copy lives as long as this session: pin it */
	p11_obj_from_handle(ctx->copy, ctx->src->cls, nh, gen, NULL, 0, NULL);
	return CKR_OK;
}

pv_err
p11_obj_copy_session(p11_token *tok, p11_obj *src, p11_obj *copy)
{
	struct copy_ctx ctx = {src, copy};

	memset(copy, 0, sizeof(*copy));
	copy->handle = CK_INVALID_HANDLE;
	return p11_run(tok, copy_op, &ctx);
}

#define BOOLS_MAX 16

struct bools_ctx {
	p11_obj *obj;
	const CK_ATTRIBUTE_TYPE *types;
	size_t n;
	CK_BBOOL *vals;
	int *present;
};

static CK_RV
bools_op(p11_token *tok, CK_SESSION_HANDLE h, void *vctx, struct p11_call *c)
{
	struct bools_ctx *ctx = vctx;
	CK_ATTRIBUTE a[BOOLS_MAX];
	CK_RV rv;
	size_t i;

	if ((rv = p11_obj_resolve(tok, h, ctx->obj, c)) != CKR_OK || c->err != PV_OK)
		return rv;
	for (i = 0; i < ctx->n; i++) {
		ctx->vals[i] = CK_FALSE;
		a[i] = (CK_ATTRIBUTE){ctx->types[i], &ctx->vals[i], sizeof(CK_BBOOL)};
	}
	rv = P11_CALL(c, tok, C_GetAttributeValue, h, ctx->obj->handle, a, ctx->n);
	/* PKCS#11 2.40 5.7: every attribute is answered; the missing ones say
	 * CK_UNAVAILABLE_INFORMATION and the call returns the last such CKR */
	if (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID && rv != CKR_ATTRIBUTE_SENSITIVE)
		return rv;
	for (i = 0; i < ctx->n; i++) {
		ctx->present[i] = a[i].ulValueLen == sizeof(CK_BBOOL);
		if (!ctx->present[i])
			ctx->vals[i] = CK_FALSE;
	}
	return CKR_OK;
}

pv_err
p11_obj_get_bools(p11_token *tok, p11_obj *obj, const CK_ATTRIBUTE_TYPE *types, size_t n, CK_BBOOL *vals,
		  int *present)
{
	struct bools_ctx ctx = {obj, types, n, vals, present};

	if (n == 0 || n > BOOLS_MAX)
		return PV_ERR_USAGE;
	return p11_run(tok, bools_op, &ctx);
}

struct gen_ctx {
	CK_MECHANISM *mech;
	CK_ATTRIBUTE *pub, *priv;
	CK_ULONG npub, npriv;
	CK_OBJECT_HANDLE hpub, hpriv;
};

static CK_RV
gen_pair_op(p11_token *tok, CK_SESSION_HANDLE h, void *vctx, struct p11_call *c)
{
	struct gen_ctx *ctx = vctx;

	CK_RV rv;

	rv = P11_CALL(c, tok, C_GenerateKeyPair, h, ctx->mech, ctx->pub, ctx->npub, ctx->priv, ctx->npriv,
		      &ctx->hpub, &ctx->hpriv);
	if (rv == CKR_OK)
		c->created = 1;
	return rv;
}

pv_err
p11_generate_key_pair(p11_token *tok, CK_MECHANISM *mech, CK_ATTRIBUTE *pub, CK_ULONG npub,
		      CK_ATTRIBUTE *priv, CK_ULONG npriv, CK_OBJECT_HANDLE *hpub, CK_OBJECT_HANDLE *hpriv)
{
	struct gen_ctx ctx = {mech, pub, priv, npub, npriv, CK_INVALID_HANDLE, CK_INVALID_HANDLE};
	pv_err r;

	if ((r = p11_run(tok, gen_pair_op, &ctx)) != PV_OK)
		return r;
	*hpub = ctx.hpub;
	*hpriv = ctx.hpriv;
	return PV_OK;
}

static CK_RV
gen_key_op(p11_token *tok, CK_SESSION_HANDLE h, void *vctx, struct p11_call *c)
{
	struct gen_ctx *ctx = vctx;

	CK_RV rv;

	if ((rv = P11_CALL(c, tok, C_GenerateKey, h, ctx->mech, ctx->priv, ctx->npriv, &ctx->hpriv)) ==
	    CKR_OK)
		c->created = 1;
	return rv;
}

pv_err
p11_generate_key(p11_token *tok, CK_MECHANISM *mech, CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE *h)
{
	struct gen_ctx ctx = {mech, NULL, tmpl, 0, n, CK_INVALID_HANDLE, CK_INVALID_HANDLE};
	pv_err r;

	if ((r = p11_run(tok, gen_key_op, &ctx)) != PV_OK)
		return r;
	*h = ctx.hpriv;
	return PV_OK;
}

struct sig_ctx {
	CK_MECHANISM *mech;
	p11_obj *key;
	const uint8_t *in;
	size_t inlen;
	uint8_t *sig;
	size_t siglen;
	const uint8_t *vsig;
};

static CK_RV
sign_op(p11_token *tok, CK_SESSION_HANDLE h, void *vctx, struct p11_call *c)
{
	struct sig_ctx *ctx = vctx;
	CK_ULONG len = ctx->siglen;
	CK_RV rv;

	c->readonly = 1;
	if ((rv = p11_obj_resolve(tok, h, ctx->key, c)) != CKR_OK || c->err != PV_OK)
		return rv;
	if ((rv = P11_CALL(c, tok, C_SignInit, h, ctx->mech, ctx->key->handle)) != CKR_OK)
		return rv;
	/* PKCS#11 has no const; the input is only read. */
	rv = P11_CALL(c, tok, C_Sign, h, (CK_BYTE *)(uintptr_t)ctx->in, ctx->inlen, ctx->sig, &len);
	if (rv == CKR_BUFFER_TOO_SMALL) {
		/* The operation stays active: the session must not be reused. */
		c->dirty = 1;
		pv_err_set_detail("C_Sign: signature needs %lu bytes, buffer has %zu", len, ctx->siglen);
		c->err = PV_ERR_TOO_LARGE;
		return CKR_OK;
	}
	if (rv == CKR_OK)
		ctx->siglen = len;
	else if (!p11_rv_session_gone(rv))
		c->dirty = 1; /* a module that kept the operation active must not bite later */
	return rv;
}

pv_err
p11_sign(p11_token *tok, CK_MECHANISM *mech, p11_obj *key, const uint8_t *in, size_t inlen, uint8_t *sig,
	 size_t *siglen)
{
	struct sig_ctx ctx = {mech, key, in, inlen, sig, *siglen, NULL};
	pv_err r;

	if (sig == NULL || *siglen == 0)
		return PV_ERR_USAGE;
	if ((r = p11_run(tok, sign_op, &ctx)) != PV_OK)
		return r;
	*siglen = ctx.siglen;
	return PV_OK;
}

static CK_RV
verify_op(p11_token *tok, CK_SESSION_HANDLE h, void *vctx, struct p11_call *c)
{
	struct sig_ctx *ctx = vctx;
	CK_RV rv;

	c->readonly = 1;
	if ((rv = p11_obj_resolve(tok, h, ctx->key, c)) != CKR_OK || c->err != PV_OK)
		return rv;
	if ((rv = P11_CALL(c, tok, C_VerifyInit, h, ctx->mech, ctx->key->handle)) != CKR_OK)
		return rv;
	rv = P11_CALL(c, tok, C_Verify, h, (CK_BYTE *)(uintptr_t)ctx->in, ctx->inlen,
		      (CK_BYTE *)(uintptr_t)ctx->vsig, ctx->siglen);
	if (rv == CKR_SIGNATURE_INVALID || rv == CKR_SIGNATURE_LEN_RANGE) {
		pv_err_set_detail("C_Verify: %s", P11_RV_TEXT(rv));
		c->err = PV_ERR_BAD_SIGNATURE;
		return CKR_OK;
	}
	if (rv != CKR_OK && !p11_rv_session_gone(rv))
		c->dirty = 1;
	return rv;
}

pv_err
p11_verify(p11_token *tok, CK_MECHANISM *mech, p11_obj *key, const uint8_t *in, size_t inlen,
	   const uint8_t *sig, size_t siglen)
{
	struct sig_ctx ctx = {mech, key, in, inlen, NULL, siglen, sig};

	return p11_run(tok, verify_op, &ctx);
}

unsigned long
p11_token_generation(p11_token *tok)
{
	return atomic_load(&tok->generation);
}

void
p11_obj_from_handle(p11_obj *obj, CK_OBJECT_CLASS cls, CK_OBJECT_HANDLE h, unsigned long gen,
		    const uint8_t *id, size_t id_len, const char *label)
{
	memset(obj, 0, sizeof(*obj));
	obj->cls = cls;
	if (id != NULL && id_len <= sizeof(obj->id)) {
		memcpy(obj->id, id, id_len);
		obj->id_len = id_len;
	}
	if (label != NULL)
		snprintf(obj->label, sizeof(obj->label), "%s", label);
	obj->handle = h;
	obj->gen = gen;
}
