#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pkcs11/internal.h"

/* Open, close, info, mechanisms and the token URI. */

/* slot look-ups at open before "no token matches" is final */

static pv_err
parse_uri(const char *text, P11KitUri **out)
{
	P11KitUri *uri = NULL;
	int ret;
	pv_err r = PV_ERR_USAGE;

	if ((uri = p11_kit_uri_new()) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	if (text && *text) {
		ret = p11_kit_uri_parse(text, P11_KIT_URI_FOR_ANY, uri);
		if (ret != P11_KIT_URI_OK) {
			pv_err_set_detail("bad token URI: %s", p11_kit_uri_message(ret));
			goto out;
		}
		if (p11_kit_uri_any_unrecognized(uri)) {
			pv_err_set_detail("the token URI has attributes p11-kit does not recognise");
			goto out;
		}
		if (p11_kit_uri_get_pin_value(uri) != NULL) {
			pv_err_set_detail("pin-value in a token URI is refused (it would sit in argv or a "
					  "config file); use pin-source");
			goto out;
		}
	}
	*out = uri;
	uri = NULL;
	r = PV_OK;
out:
	if (uri)
		p11_kit_uri_free(uri);
	return r;
}

pv_err
p11_token_open(const struct p11_token_opts *opts, p11_token **out)
{
	p11_token *tok = NULL;
	const char *src;
	CK_TOKEN_INFO ti;
	CK_SLOT_ID slot;
	CK_RV rv = CKR_OK;
	pv_err r = PV_ERR_NOMEM;
	int busy;

	*out = NULL;
	if ((tok = calloc(1, sizeof(*tok))) == NULL)
		goto out;
	pthread_mutex_init(&tok->mu, NULL);
	pthread_cond_init(&tok->cv, NULL);
	pthread_mutex_init(&tok->reinit_mu, NULL);
	pthread_mutex_init(&tok->login_mu, NULL);
	p11_gate_init(tok);
	p11_outage_init(tok);
	tok->on_outage = opts->on_outage;
	tok->on_outage_arg = opts->on_outage_arg;
	tok->allow_prompt = opts->allow_prompt;
	tok->max_retries = opts->max_retries ? opts->max_retries : P11_DEFAULT_RETRIES;
	tok->finalize_on_close = opts->finalize_on_close;
	tok->pool_cap = opts->max_sessions;
	atomic_store(&tok->pid, p11_self_pid());
	if (opts->pin_source && (tok->pin_source = strdup(opts->pin_source)) == NULL)
		goto out;
	if ((r = parse_uri(opts->token_uri, &tok->uri)) != PV_OK)
		goto out;
	src = p11_kit_uri_get_pin_source(tok->uri);
	if (src && (tok->uri_pin_source = strdup(src)) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	if ((r = p11_module_load(opts->module, p11_kit_uri_get_module_path(tok->uri),
				 p11_kit_uri_get_module_name(tok->uri), &tok->f, tok->module_desc,
				 sizeof(tok->module_desc))) != PV_OK)
		goto out;
	tok->serialize = p11_module_wants_serial(tok->module_desc);
	/* SoftHSM's token files are shared between processes, and it reads
	 * them at C_Initialize: while another process writes them the token
	 * can read as absent or uninitialised, or C_GetTokenInfo fails with
	 * CKR_GENERAL_ERROR. Start afresh a bounded number of times (about
	 * 1 s, 5 s for the general error) before the failure is final. */
	for (unsigned tries = 0;; tries++) {
		if ((r = p11_module_initialize(tok->f, &tok->we_initialized)) != PV_OK)
			goto out;
		busy = 0;
		r = p11_slot_find(tok->f, tok->uri, &slot, &busy);
		if (r == PV_OK && (rv = tok->f->C_GetTokenInfo(slot, &ti)) != CKR_OK) {
			pv_err_set_detail("C_GetTokenInfo: %s", P11_RV_TEXT(rv));
			r = p11_rv_to_err(rv);
			busy = rv == CKR_GENERAL_ERROR;
		}
		if ((r != PV_ERR_TOKEN_NOT_FOUND && !busy) ||
		    tries >= (busy ? P11_OPEN_BUSY_TRIES : P11_OPEN_TRIES))
			break;
		if (tok->we_initialized)
			(void)tok->f->C_Finalize(NULL);
		tok->we_initialized = 0;
		p11_backoff(tries);
	}
	if (r != PV_OK) {
		/* Leave the module uninitialised so a later open (a caller
		 * waiting for the token) connects afresh. */
		if (tok->we_initialized)
			(void)tok->f->C_Finalize(NULL);
		tok->we_initialized = 0;
		goto out;
	}
	atomic_store(&tok->slot, slot);
	tok->module_up = 1;
	if ((r = p11_pool_init(tok, ti.ulMaxSessionCount)) != PV_OK)
		goto out;
	*out = tok;
	tok = NULL;
out:
	p11_token_close(tok);
	return r;
}

void
p11_token_close(p11_token *tok)
{
	if (tok == NULL)
		return;
	p11_outage_stop(tok);
	p11_pool_destroy(tok);
	/* Finalizing SoftHSM under OpenSSL 3 can crash: only when asked. */
	if (tok->f && tok->finalize_on_close && tok->we_initialized &&
	    atomic_load(&tok->pid) == p11_self_pid())
		(void)tok->f->C_Finalize(NULL);
	/* Keep the module mapped unless finalized: its static destructors
	 * would otherwise run on a live module. */
	if (tok->f && tok->finalize_on_close)
		p11_module_release(tok->f);
	if (tok->uri)
		p11_kit_uri_free(tok->uri);
	pv_secret_free(tok->pin);
	free(tok->pin_source);
	free(tok->uri_pin_source);
	pthread_mutex_destroy(&tok->mu);
	pthread_cond_destroy(&tok->cv);
	pthread_mutex_destroy(&tok->reinit_mu);
	pthread_mutex_destroy(&tok->login_mu);
	pthread_rwlock_destroy(&tok->gate);
	pthread_mutex_destroy(&tok->serial_mu);
	pthread_mutex_destroy(&tok->out_mu);
	pthread_cond_destroy(&tok->out_cv);
	free(tok);
}

struct info_ctx {
	struct p11_token_info *info;
	p11_token *tok;
};

static CK_RV
info_op(p11_token *tok, CK_SESSION_HANDLE h, void *ctx, struct p11_call *c)
{
	struct p11_token_info *info = ((struct info_ctx *)ctx)->info;
	CK_SLOT_ID slot = atomic_load(&tok->slot);
	CK_TOKEN_INFO ti;
	CK_SLOT_INFO si;
	CK_INFO mi;
	CK_RV rv;

	c->readonly = 1;
	if ((rv = P11_CALL(c, tok, C_GetTokenInfo, slot, &ti)) != CKR_OK)
		return rv;
	if ((rv = P11_CALL(c, tok, C_GetSlotInfo, slot, &si)) != CKR_OK)
		return rv;
	if ((rv = P11_CALL(c, tok, C_GetInfo, &mi)) != CKR_OK)
		return rv;
	memset(info, 0, sizeof(*info));
	p11_copy_padded(info->label, sizeof(info->label), ti.label, sizeof(ti.label));
	p11_copy_padded(info->manufacturer, sizeof(info->manufacturer), ti.manufacturerID,
			sizeof(ti.manufacturerID));
	p11_copy_padded(info->model, sizeof(info->model), ti.model, sizeof(ti.model));
	p11_copy_padded(info->serial, sizeof(info->serial), ti.serialNumber, sizeof(ti.serialNumber));
	info->flags = ti.flags;
	info->max_sessions = ti.ulMaxSessionCount;
	info->session_count = ti.ulSessionCount;
	info->max_pin_len = ti.ulMaxPinLen;
	info->min_pin_len = ti.ulMinPinLen;
	info->total_public_mem = ti.ulTotalPublicMemory;
	info->free_public_mem = ti.ulFreePublicMemory;
	info->total_private_mem = ti.ulTotalPrivateMemory;
	info->free_private_mem = ti.ulFreePrivateMemory;
	info->hw_version = ti.hardwareVersion;
	info->fw_version = ti.firmwareVersion;
	info->slot_id = slot;
	p11_copy_padded(info->slot_description, sizeof(info->slot_description), si.slotDescription,
			sizeof(si.slotDescription));
	p11_copy_padded(info->library_description, sizeof(info->library_description), mi.libraryDescription,
			sizeof(mi.libraryDescription));
	p11_copy_padded(info->library_manufacturer, sizeof(info->library_manufacturer), mi.manufacturerID,
			sizeof(mi.manufacturerID));
	info->library_version = mi.libraryVersion;
	info->cryptoki_version = mi.cryptokiVersion;
	snprintf(info->module_path, sizeof(info->module_path), "%s", tok->module_desc);
	info->pool_size = tok->pool_size;
	return CKR_OK;
}

pv_err
p11_token_get_info(p11_token *tok, struct p11_token_info *info)
{
	struct info_ctx ctx = {info, tok};

	return p11_run(tok, info_op, &ctx);
}

struct mech_ctx {
	CK_MECHANISM_TYPE *list;
	CK_ULONG n;
	CK_MECHANISM_TYPE one;
	CK_MECHANISM_INFO *info;
};

static CK_RV
mechs_op(p11_token *tok, CK_SESSION_HANDLE h, void *vctx, struct p11_call *c)
{
	struct mech_ctx *ctx = vctx;
	CK_SLOT_ID slot = atomic_load(&tok->slot);
	CK_RV rv = CKR_OK;

	for (int tries = 0; tries < 3; tries++) {
		free(ctx->list);
		ctx->list = NULL;
		if ((rv = P11_CALL(c, tok, C_GetMechanismList, slot, NULL, &ctx->n)) != CKR_OK)
			return rv;
		if ((ctx->list = calloc(ctx->n ? ctx->n : 1, sizeof(*ctx->list))) == NULL) {
			c->err = PV_ERR_NOMEM;
			return CKR_OK;
		}
		if ((rv = tok->f->C_GetMechanismList(slot, ctx->list, &ctx->n)) != CKR_BUFFER_TOO_SMALL)
			break;
	}
	return rv;
}

pv_err
p11_token_mechanisms(p11_token *tok, CK_MECHANISM_TYPE **list, size_t *count)
{
	struct mech_ctx ctx;
	pv_err r;

	memset(&ctx, 0, sizeof(ctx));
	*list = NULL;
	*count = 0;
	if ((r = p11_run(tok, mechs_op, &ctx)) != PV_OK) {
		free(ctx.list);
		return r;
	}
	*list = ctx.list;
	*count = ctx.n;
	return PV_OK;
}

static CK_RV
mech_info_op(p11_token *tok, CK_SESSION_HANDLE h, void *vctx, struct p11_call *c)
{
	struct mech_ctx *ctx = vctx;

	c->readonly = 1;
	return P11_CALL(c, tok, C_GetMechanismInfo, atomic_load(&tok->slot), ctx->one, ctx->info);
}

pv_err
p11_token_mechanism_info(p11_token *tok, CK_MECHANISM_TYPE mech, CK_MECHANISM_INFO *info)
{
	struct mech_ctx ctx;

	memset(&ctx, 0, sizeof(ctx));
	ctx.one = mech;
	ctx.info = info;
	return p11_run(tok, mech_info_op, &ctx);
}

static CK_RV
token_info_op(p11_token *tok, CK_SESSION_HANDLE h, void *ctx, struct p11_call *c)
{
	c->readonly = 1;
	return P11_CALL(c, tok, C_GetTokenInfo, atomic_load(&tok->slot), ctx);
}

pv_err
p11_token_uri(p11_token *tok, char **out)
{
	P11KitUri *uri = NULL;
	CK_TOKEN_INFO ti, *dst;
	char *s = NULL;
	pv_err r;

	*out = NULL;
	if ((r = p11_run(tok, token_info_op, &ti)) != PV_OK)
		goto out;
	if ((uri = p11_kit_uri_new()) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	dst = p11_kit_uri_get_token_info(uri);
	memcpy(dst->label, ti.label, sizeof(ti.label));
	memcpy(dst->manufacturerID, ti.manufacturerID, sizeof(ti.manufacturerID));
	memcpy(dst->model, ti.model, sizeof(ti.model));
	memcpy(dst->serialNumber, ti.serialNumber, sizeof(ti.serialNumber));
	if (p11_kit_uri_format(uri, P11_KIT_URI_FOR_TOKEN, &s) != P11_KIT_URI_OK) {
		r = PV_ERR_INTERNAL;
		goto out;
	}
	*out = s;
	s = NULL;
	r = PV_OK;
out:
	free(s);
	if (uri)
		p11_kit_uri_free(uri);
	return r;
}

void
p11_token_get_stats(p11_token *tok, struct p11_token_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (tok == NULL)
		return;
	st->recoveries = atomic_load(&tok->recoveries);
	st->reinits = atomic_load(&tok->reinits);
	st->generation = atomic_load(&tok->generation);
	p11_outage_stats(tok, st);
	pthread_mutex_lock(&tok->mu);
	st->pool_size = tok->pool_size;
	st->pool_in_use = tok->in_use;
	pthread_mutex_unlock(&tok->mu);
}
