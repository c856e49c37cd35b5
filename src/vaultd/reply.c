#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "vaultd/reply.h"

void
vd_err_map(pv_err e, struct vd_err_map *m)
{
	memset(m, 0, sizeof(*m));
	switch (e) {
	case PV_ERR_BAD_INPUT:
	case PV_ERR_USAGE:
	case PV_ERR_BAD_SIGNATURE:
		m->status = 400;
		m->code = "bad_request";
		break;
	case PV_ERR_KEY_TYPE:
	case PV_ERR_MECHANISM:
		m->status = 400;
		m->code = "wrong_algorithm";
		break;
	case PV_ERR_NOT_LOGGED_IN:
		/* from a handler this is the token's login, not the client's */
	case PV_ERR_TOKEN_UNAVAILABLE:
	case PV_ERR_TOKEN_NOT_FOUND:
	case PV_ERR_SESSION:
	case PV_ERR_BUSY:
	case PV_ERR_MODULE_LOAD:
	case PV_ERR_PIN_INCORRECT:
	case PV_ERR_PIN_LOCKED:
	case PV_ERR_PIN_FINAL_TRY:
	case PV_ERR_PIN_SOURCE:
		m->status = 503;
		m->code = "token_unavailable";
		m->token = 1;
		break;
	case PV_ERR_FORBIDDEN:
		m->status = 403;
		m->code = "forbidden";
		break;
	case PV_ERR_PURPOSE:
		m->status = 403;
		m->code = "wrong_purpose";
		break;
	case PV_ERR_NOT_FOUND:
		m->status = 404;
		m->code = "not_found";
		break;
	case PV_ERR_STATE:
	case PV_ERR_EXISTS:
		m->status = 409;
		m->code = "state";
		break;
	case PV_ERR_TOO_LARGE:
		m->status = 413;
		m->code = "too_large";
		break;
	case PV_ERR_PKCS11:
		/* an unexpected CKR_ is a failure, not a client error */
		m->status = 500;
		m->code = "internal";
		m->internal = 1;
		m->token = 1;
		break;
	case PV_OK:
	case PV_ERR_INTERNAL:
	case PV_ERR_NOMEM:
	case PV_ERR_IO:
	case PV_ERR_NOT_HONOURED:
	case PV_ERR_CRYPTO:
	case PV_ERR_INTEGRITY:
	default:
		m->status = 500;
		m->code = "internal";
		m->internal = 1;
		break;
	}
}

static void
set_body(struct vd_resp *r, unsigned status, char *text)
{
	vd_resp_wipe(r);
	if (text == NULL) {
		r->status = 500;
		return;
	}
	r->status = status;
	r->body = text;
	r->body_len = strlen(text);
}

void
vd_reply_json(struct vd_resp *r, unsigned status, const cJSON *body)
{
	set_body(r, status, body != NULL ? cJSON_PrintUnformatted(body) : NULL);
}

static void
wipe_tree(cJSON *j)
{
	for (; j != NULL; j = j->next) {
		if (j->valuestring != NULL)
			sodium_memzero(j->valuestring, strlen(j->valuestring));
		if (j->string != NULL)
			sodium_memzero(j->string, strlen(j->string));
		wipe_tree(j->child);
	}
}

void
vd_json_wipe_delete(cJSON *j)
{
	if (j == NULL)
		return;
	/* only the root's own strings and its children; not its siblings */
	if (j->valuestring != NULL)
		sodium_memzero(j->valuestring, strlen(j->valuestring));
	wipe_tree(j->child);
	cJSON_Delete(j);
}

void
vd_reply_json_secret(struct vd_resp *r, unsigned status, cJSON *body)
{
	vd_reply_json(r, status, body);
	vd_json_wipe_delete(body);
}

void
vd_reply_error(struct vd_resp *r, unsigned status, const char *code, const char *message)
{
	cJSON *root = cJSON_CreateObject(), *err = NULL;

	if (root == NULL || (err = cJSON_AddObjectToObject(root, "error")) == NULL ||
	    cJSON_AddStringToObject(err, "code", code) == NULL ||
	    cJSON_AddStringToObject(err, "message", message != NULL ? message : "") == NULL) {
		cJSON_Delete(root);
		set_body(r, 500, NULL);
		return;
	}
	vd_reply_json(r, status, root);
	cJSON_Delete(root);
}

void
vd_reply_errorf(struct vd_resp *r, unsigned status, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	vd_reply_error(r, status, code, msg);
}

void
vd_reply_pv_err(struct vd_resp *r, pv_err e)
{
	struct vd_err_map m;
	const char *detail = pv_err_detail();

	vd_err_map(e, &m);
	if (m.internal)
		vd_reply_error(r, m.status, m.code, "internal error");
	else if (m.token)
		vd_reply_error(r, m.status, m.code, "the token is not available");
	else
		vd_reply_error(r, m.status, m.code, detail[0] != '\0' ? detail : pv_strerror(e));
}

void
vd_resp_wipe(struct vd_resp *r)
{
	if (r->body != NULL) {
		sodium_memzero(r->body, r->body_len);
		free(r->body);
	}
	memset(r, 0, sizeof(*r));
}

void
vd_resp_clear(struct vd_resp *r)
{
	if (r != NULL)
		vd_resp_wipe(r);
}
