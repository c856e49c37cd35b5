/*
 * vaultd's route table: method + path (with at most one {name} segment) to
 * an endpoint, its label, its typed policy operation and its handler.
 * Pure string matching, no daemon state, so it is unit-tested alone.
 */
#ifndef PV_VAULTD_ROUTES_H
#define PV_VAULTD_ROUTES_H

#include <stddef.h>

#include "config/vaultd_config.h"

/* What the {name} segment names. */
enum vd_param {
	VD_PARAM_NONE = 0,
	VD_PARAM_KEY,    /* a key name: 1..64 of [A-Za-z0-9_-], first alphanumeric */
	VD_PARAM_SECRET, /* a secret name: 1..128 of [A-Za-z0-9._-], first [A-Za-z0-9_] */
};

#define VD_RF_PUBLIC   1u /* no identity needed */
#define VD_RF_UNREADY  2u /* answered before the daemon is ready */
#define VD_RF_METRICS  4u /* its op asked without a key, or role admin */
#define VD_RF_NOPOLICY 8u /* any authenticated client (no operation needed) */

/* The op of a route that needs none (VD_RF_PUBLIC or VD_RF_NOPOLICY). */
#define VD_NO_OP PV_OP_COUNT

/*
 * The route table, the only list of vaultd's endpoints: one row per
 * endpoint, X(ID, METHOD, PATTERN, PARAM, LABEL, OP, FLAGS, HANDLER).
 * It makes the route enum (VD_R_<ID>), the table below (routes.c), the
 * handler table (dispatch.c) and the handlers' prototypes (handlers.h), so
 * a route cannot exist without its operation and its handler
 * (routes_test.c, dispatch_test.c). LABEL names the request in the audit
 * log and the metrics; OP is the typed policy operation (pv_op) that the
 * keeper decides on, or VD_NO_OP with VD_RF_PUBLIC / VD_RF_NOPOLICY.
 * Order matters only for readability: a path matches at most one shape.
 * Wallet: one route per chain, so an unknown {chain} is a 404.
 */
#define VD_ROUTES(X)                                                                                         \
	X(HEALTH, "GET", "/v1/health", NONE, "health", VD_NO_OP, VD_RF_PUBLIC | VD_RF_UNREADY, vd_h_health)  \
	X(READY, "GET", "/v1/ready", NONE, "ready", VD_NO_OP, VD_RF_PUBLIC | VD_RF_UNREADY, vd_h_ready)      \
	X(METRICS, "GET", "/metrics", NONE, "metrics", PV_OP_KEYS_READ, VD_RF_METRICS | VD_RF_UNREADY,       \
	  vd_h_metrics)                                                                                      \
	X(JWKS, "GET", "/.well-known/jwks.json", NONE, "jwks", VD_NO_OP, VD_RF_PUBLIC, vd_h_jwks)            \
	X(RELOAD, "POST", "/v1/admin/reload", NONE, "reload", PV_OP_RELOAD, 0, vd_h_reload)                  \
	X(KEYS_LIST, "GET", "/v1/keys", NONE, "keys.read", PV_OP_KEYS_READ, 0, vd_h_keys_list)               \
	X(KEY_GET, "GET", "/v1/keys/{name}", KEY, "keys.read", PV_OP_KEYS_READ, 0, vd_h_key_get)             \
	X(KEY_SIGN, "POST", "/v1/keys/{name}/sign", KEY, "sign", PV_OP_SIGN, 0, vd_h_sign)                   \
	X(KEY_SIGN_BATCH, "POST", "/v1/keys/{name}/sign-batch", KEY, "sign", PV_OP_SIGN, 0, vd_h_sign_batch) \
	X(KEY_VERIFY, "POST", "/v1/keys/{name}/verify", KEY, "verify", PV_OP_VERIFY, 0, vd_h_verify)         \
	X(JWT_ISSUE, "POST", "/v1/jwt/{name}/issue", KEY, "jwt.issue", PV_OP_JWT_ISSUE, 0, vd_h_jwt_issue)   \
	X(JWT_VERIFY, "POST", "/v1/jwt/verify", NONE, "jwt.verify", VD_NO_OP, VD_RF_NOPOLICY,                \
	  vd_h_jwt_verify)                                                                                   \
	X(DERIVE, "POST", "/v1/derive/{name}", KEY, "derive", PV_OP_DERIVE, 0, vd_h_derive)                  \
	X(ECDH, "POST", "/v1/ecdh/{name}", KEY, "ecdh", PV_OP_ECDH, 0, vd_h_ecdh)                            \
	X(SECRETS_LIST, "GET", "/v1/secrets", NONE, "secrets.list", PV_OP_SECRETS_LIST, 0,                   \
	  vd_h_secrets_list)                                                                                 \
	X(SECRET_GET, "GET", "/v1/secrets/{name}", SECRET, "secrets.read", PV_OP_SECRETS_READ, 0,            \
	  vd_h_secret_get)                                                                                   \
	X(WALLET_SOLANA_ADDRESS, "GET", "/v1/wallet/{name}/solana/address", KEY, "wallet.read",              \
	  PV_OP_WALLET_READ, 0, vd_h_wallet_solana_address)                                                  \
	X(WALLET_SOLANA_SIGN_TX, "POST", "/v1/wallet/{name}/solana/sign-transaction", KEY, "wallet.sign",    \
	  PV_OP_WALLET_SIGN, 0, vd_h_wallet_solana_sign_tx)                                                  \
	X(WALLET_SOLANA_SIGN_TXS, "POST", "/v1/wallet/{name}/solana/sign-transactions", KEY, "wallet.sign",  \
	  PV_OP_WALLET_SIGN, 0, vd_h_wallet_solana_sign_txs)                                                 \
	X(WALLET_SOLANA_SIGN_MESSAGE, "POST", "/v1/wallet/{name}/solana/sign-message", KEY, "wallet.sign",   \
	  PV_OP_WALLET_SIGN, 0, vd_h_wallet_solana_sign_message)                                             \
	X(WALLET_EVM_ADDRESS, "GET", "/v1/wallet/{name}/evm/address", KEY, "wallet.read", PV_OP_WALLET_READ, \
	  0, vd_h_wallet_evm_address)                                                                        \
	X(WALLET_EVM_SIGN_TX, "POST", "/v1/wallet/{name}/evm/sign-transaction", KEY, "wallet.sign",          \
	  PV_OP_WALLET_SIGN, 0, vd_h_wallet_evm_sign_tx)                                                     \
	X(WALLET_EVM_SIGN_MESSAGE, "POST", "/v1/wallet/{name}/evm/sign-message", KEY, "wallet.sign",         \
	  PV_OP_WALLET_SIGN, 0, vd_h_wallet_evm_sign_message)                                                \
	X(WALLET_EVM_SIGN_DIGEST, "POST", "/v1/wallet/{name}/evm/sign-digest", KEY, "wallet.sign",           \
	  PV_OP_WALLET_SIGN, 0, vd_h_wallet_evm_sign_digest)                                                 \
	X(WALLET_EVM_SIGN_TYPED_DATA, "POST", "/v1/wallet/{name}/evm/sign-typed-data", KEY, "wallet.sign",   \
	  PV_OP_WALLET_SIGN, 0, vd_h_wallet_evm_sign_typed_data)

#define VD_ROUTE_ENUM(id, method, pattern, param, label, op, flags, handler) VD_R_##id,
enum vd_route_id { VD_ROUTES(VD_ROUTE_ENUM) VD_R_COUNT };
#undef VD_ROUTE_ENUM

struct vd_route {
	enum vd_route_id id;
	const char *method;
	const char *pattern; /* "/v1/keys/{name}/sign" */
	enum vd_param param;
	const char *label; /* the request's op in the audit log and metrics */
	pv_op op;          /* what the policy decides on; VD_NO_OP: see flags */
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
