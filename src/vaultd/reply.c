#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "vaultd/reply.h"

/*
 * The HTTP status and error code of every library error, one row per
 * pv_err (indexed by -e), as docs/api.md §3 lists them. No default: a new
 * error without its row here has status 0, which reply_test refuses (and
 * vd_err_map answers 500 for it meanwhile).
 */
#define ROW(e, st, c, tok) [-(e)] = {st, c, tok}
static const struct vd_err_row {
	unsigned status;
	const char *code;
	int token; /* counted in p11vault_token_errors_total */
} err_rows[1 - PV_ERR_MIN] = {
    /* PV_OK is no error: asked to map it is a bug */
    ROW(PV_OK, 500, "internal", 0),
    ROW(PV_ERR_INTERNAL, 500, "internal", 0),
    ROW(PV_ERR_NOMEM, 500, "internal", 0),
    ROW(PV_ERR_USAGE, 400, "bad_request", 0),
    ROW(PV_ERR_BAD_INPUT, 400, "bad_request", 0),
    ROW(PV_ERR_TOO_LARGE, 413, "too_large", 0),
    ROW(PV_ERR_IO, 500, "internal", 0),
    ROW(PV_ERR_NOT_FOUND, 404, "not_found", 0),
    ROW(PV_ERR_EXISTS, 409, "state", 0),
    ROW(PV_ERR_MODULE_LOAD, 503, "token_unavailable", 1),
    ROW(PV_ERR_TOKEN_NOT_FOUND, 503, "token_unavailable", 1),
    ROW(PV_ERR_TOKEN_UNAVAILABLE, 503, "token_unavailable", 1),
    ROW(PV_ERR_PIN_INCORRECT, 503, "token_unavailable", 1),
    ROW(PV_ERR_PIN_LOCKED, 503, "token_unavailable", 1),
    ROW(PV_ERR_PIN_FINAL_TRY, 503, "token_unavailable", 1),
    ROW(PV_ERR_PIN_SOURCE, 503, "token_unavailable", 1),
    /* from a handler this is the token's login, not the client's */
    ROW(PV_ERR_NOT_LOGGED_IN, 503, "token_unavailable", 1),
    ROW(PV_ERR_MECHANISM, 400, "wrong_algorithm", 0),
    ROW(PV_ERR_KEY_TYPE, 400, "wrong_algorithm", 0),
    ROW(PV_ERR_NOT_HONOURED, 500, "internal", 0),
    /* an unexpected CKR_ is a failure, not a client error */
    ROW(PV_ERR_PKCS11, 500, "internal", 1),
    ROW(PV_ERR_CRYPTO, 500, "internal", 0),
    ROW(PV_ERR_BAD_SIGNATURE, 400, "bad_request", 0),
    ROW(PV_ERR_INTEGRITY, 500, "internal", 0),
    ROW(PV_ERR_STATE, 409, "state", 0),
    ROW(PV_ERR_SESSION, 503, "token_unavailable", 1),
    ROW(PV_ERR_BUSY, 503, "token_unavailable", 1),
    ROW(PV_ERR_FORBIDDEN, 403, "forbidden", 0),
    ROW(PV_ERR_PURPOSE, 403, "wrong_purpose", 0),
    ROW(PV_ERR_CHANGED, 409, "state", 0),
    ROW(PV_ERR_REFUSED_NAME, 400, "bad_request", 0),
};
#undef ROW

int
vd_err_row_missing(pv_err e)
{
	return e > 0 || e < PV_ERR_MIN || err_rows[-e].status == 0 || err_rows[-e].code == NULL;
}

void
vd_err_map(pv_err e, struct vd_err_map *m)
{
	memset(m, 0, sizeof(*m));
	if (vd_err_row_missing(e)) {
		m->status = 500;
		m->code = "internal";
		m->internal = 1;
		return;
	}
	m->status = err_rows[-e].status;
	m->code = err_rows[-e].code;
	m->token = err_rows[-e].token;
	m->internal = m->status == 500;
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
	if (m.status == 503)
		r->retry_after = 1; /* an outage is re-probed within a second */
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
