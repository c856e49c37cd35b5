/*
 * vaultd's JSON replies: success bodies, error bodies
 * {"error":{"code","message"}} and the one mapping from pv_err to an HTTP
 * status and error code (docs/api.md §3). Independent of the keeper and the
 * metrics, so it is unit-tested alone; the dispatcher counts token errors.
 */
#ifndef PV_VAULTD_REPLY_H
#define PV_VAULTD_REPLY_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "base/err.h"
#include "vaultd/vaultd.h"

struct vd_err_map {
	unsigned status;
	const char *code;
	int token;    /* a token error (counted in p11vault_token_errors_total) */
	int internal; /* 5xx whose message is fixed: the detail is not shown */
};

/* Status and code for an error from a handler (reply.c's table, one row
 * per pv_err; 500 internal for a value without one). */
void vd_err_map(pv_err e, struct vd_err_map *out);
/* Whether e has no row in that table (reply_test checks every pv_err). */
int vd_err_row_missing(pv_err e);

/* Serialize body (compact) into r with the status; the tree stays the
 * caller's. Out of memory: a bodiless 500. */
void vd_reply_json(struct vd_resp *r, unsigned status, const cJSON *body);

/* Same, then wipe every string of the tree and delete it: for bodies that
 * carry a secret (a derived MAC, an ECDH secret, a secret value). */
void vd_reply_json_secret(struct vd_resp *r, unsigned status, cJSON *body);

/* An error body. message must not hold input bytes or secrets. */
void vd_reply_error(struct vd_resp *r, unsigned status, const char *code, const char *message);
void vd_reply_errorf(struct vd_resp *r, unsigned status, const char *code, const char *fmt, ...)
    PV_PRINTF(4, 5);

/*
 * An error body for e: vd_err_map's status and code; the message is the
 * thread's error detail (our library's details carry no input bytes or
 * secrets), else pv_strerror(e); a fixed "internal error" for 500.
 */
void vd_reply_pv_err(struct vd_resp *r, pv_err e);

/* Wipe the body (it may carry a secret) and free it; the rest is zeroed. */
void vd_resp_wipe(struct vd_resp *r);

/* Overwrite and delete a cJSON tree (strings and keys). NULL is fine. */
void vd_json_wipe_delete(cJSON *j);

#endif
