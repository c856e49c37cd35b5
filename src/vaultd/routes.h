/*
 * vaultd's route table: method + path (with at most one {name} segment) to
 * an endpoint, its operation label and the policy operation it needs.
 * Pure string matching, no daemon state, so it is unit-tested alone.
 */
#ifndef PV_VAULTD_ROUTES_H
#define PV_VAULTD_ROUTES_H

#include <stddef.h>

enum vd_route_id {
	VD_R_HEALTH = 0,
	VD_R_READY,
	VD_R_METRICS,
	VD_R_JWKS,
	VD_R_RELOAD,
	VD_R_KEYS_LIST,
	VD_R_KEY_GET,
	VD_R_KEY_SIGN,
	VD_R_KEY_VERIFY,
	VD_R_JWT_ISSUE,
	VD_R_JWT_VERIFY,
	VD_R_DERIVE,
	VD_R_ECDH,
	VD_R_SECRETS_LIST,
	VD_R_SECRET_GET,
	/* wallet: one route per chain, so an unknown {chain} is a 404 */
	VD_R_WALLET_SOLANA_ADDRESS,
	VD_R_WALLET_SOLANA_SIGN_TX,
	VD_R_WALLET_SOLANA_SIGN_MESSAGE,
	VD_R_WALLET_EVM_ADDRESS,
	VD_R_WALLET_EVM_SIGN_TX,
	VD_R_WALLET_EVM_SIGN_MESSAGE,
	VD_R_WALLET_EVM_SIGN_DIGEST,
	VD_R_WALLET_EVM_SIGN_TYPED_DATA,
	VD_R_COUNT
};

/* What the {name} segment names. */
enum vd_param {
	VD_PARAM_NONE = 0,
	VD_PARAM_KEY,    /* a key name: 1..64 of [A-Za-z0-9_-], first alphanumeric */
	VD_PARAM_SECRET, /* a secret name: 1..128 of [A-Za-z0-9._-], first [A-Za-z0-9_] */
};

#define VD_RF_PUBLIC   1u /* no identity needed */
#define VD_RF_UNREADY  2u /* answered before the daemon is ready */
#define VD_RF_METRICS  4u /* keys.read without a key, or role admin */
#define VD_RF_NOPOLICY 8u /* any authenticated client (no operation needed) */

struct vd_route {
	enum vd_route_id id;
	const char *method;
	const char *pattern; /* "/v1/keys/{name}/sign" */
	enum vd_param param;
	const char *op;        /* label for the audit log and metrics */
	const char *policy_op; /* pv_policy_allow operation; NULL: see flags */
	unsigned flags;
};

/* Longest {name} (secret names; key names are at most 64). */
#define VD_NAME_MAX 128
/* Longer paths match nothing. */
#define VD_PATH_MAX 512

enum vd_match {
	VD_MATCH_OK = 0,
	VD_MATCH_NO_PATH,  /* 404 not_found */
	VD_MATCH_METHOD,   /* 405: the path exists with another method */
	VD_MATCH_BAD_NAME, /* 400: the {name} segment is not a valid name */
};

/*
 * Match a request. On VD_MATCH_OK, *route is the endpoint and name holds
 * the {name} segment ("" without one). On VD_MATCH_METHOD and
 * VD_MATCH_BAD_NAME *route is an endpoint of that path (for its label),
 * name is "". On VD_MATCH_NO_PATH *route is NULL. The path is not decoded:
 * '%' is not a name character, so an encoded name never matches a key.
 */
enum vd_match vd_route_match(const char *method, const char *path, const struct vd_route **route,
			     char name[VD_NAME_MAX + 1]);

/* The whole table (for documentation checks and tests). */
const struct vd_route *vd_route_table(size_t *n);

/* Name syntax of a {name} segment of kind p (len bytes at s). */
int vd_param_valid(enum vd_param p, const char *s, size_t len);

#endif
