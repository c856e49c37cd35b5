/*
 * What dispatch.c hands to an endpoint handler (h_*.c), and the handlers.
 * A handler always fills c->resp. It parses the request and builds the
 * reply; it reaches keys only through the keeper API, with a typed request
 * (struct vd_kreq: client, operation, key, use, parsed intent), and the
 * keeper decides policy, purpose and caps (keeper.h).
 */
#ifndef PV_VAULTD_HANDLERS_H
#define PV_VAULTD_HANDLERS_H

#include <cjson/cJSON.h>

#include "base/err.h"
#include "core/keys.h"
#include "policy/policy.h"
#include "vaultd/keeper.h"
#include "vaultd/reply.h"
#include "vaultd/reqjson.h"
#include "vaultd/routes.h"
#include "vaultd/vaultd.h"

/* Longest audit tx text + NUL: base58 of a 64-byte signature is at most 88
 * characters, a 0x-prefixed 32-byte hash 66. */
#define VD_TX_MAX 96

struct vd_ctx {
	struct vd_daemon *d;
	struct vd_gen *gen;
	const struct vd_req *req;
	struct vd_resp *resp;
	const struct vd_route *route;
	const pv_client *client; /* NULL on public routes */
	const char *name;        /* the {name} segment, or NULL */
	unsigned version;        /* key version used (audit log); 0: none */
	int key_exists;          /* name is an existing key (metrics label) */
	/* wallet requests, for the audit line (docs/audit.md): what was signed
	 * or refused ("": no tx member), and an EVM transaction's chain id
	 * (0: no chain_id member) */
	char tx[VD_TX_MAX];
	uint64_t chain_id;
	/* batches (sign-batch, solana/sign-transactions), for the audit line:
	 * SHA-256 of each item in order (docs/audit.md); 0: not a batch, or
	 * the items could not be decoded */
	uint8_t inputs_sha256[VD_BATCH_MAX][32];
	size_t n_inputs;
};

typedef void vd_handler(struct vd_ctx *c);

/* An error reply for e (reply.h mapping); token errors are counted. */
void vd_fail(struct vd_ctx *c, pv_err e);
/* Like vd_fail, but PV_ERR_NOT_FOUND is 404 key_not_found naming c->name. */
void vd_fail_key(struct vd_ctx *c, pv_err e);
/* 200 with body (the tree stays the caller's). */
void vd_ok(struct vd_ctx *c, const cJSON *body);

/* Parse the request body against the endpoint's members; on failure the
 * 400 reply is already made. */
pv_err vd_body(struct vd_ctx *c, const char *const *members, int allow_empty, vd_rj **out) PV_WUR;

/* A keeper request for c's client, generation and {name} with use. */
void vd_kreq(struct vd_ctx *c, enum vd_use use, struct vd_kreq *q);

/* vd_kreq, then the key's metadata from the keeper (it decides: 403
 * forbidden, 404 key_not_found, 403 wrong_purpose replies on failure);
 * sets key_exists. q stays usable for the keeper calls that follow. */
pv_err vd_key(struct vd_ctx *c, enum vd_use use, struct vd_kreq *q, struct pv_key **key) PV_WUR;

/* The handlers (h_*.c), one per row of the route table (routes.h). */
#define VD_HANDLER_DECL(id, method, pattern, param, label, op, flags, handler) void handler(struct vd_ctx *c);
VD_ROUTES(VD_HANDLER_DECL)
#undef VD_HANDLER_DECL

/* The handler of a route (the table dispatch.c runs). */
vd_handler *vd_route_handler(enum vd_route_id id);

#endif
