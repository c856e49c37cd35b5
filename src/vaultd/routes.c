#include "config.h"

#include <string.h>

#include "vaultd/routes.h"

/* Order matters only for readability: a path matches at most one shape. */
static const struct vd_route routes[] = {
    {VD_R_HEALTH, "GET", "/v1/health", VD_PARAM_NONE, "health", NULL, VD_RF_PUBLIC | VD_RF_UNREADY},
    {VD_R_READY, "GET", "/v1/ready", VD_PARAM_NONE, "ready", NULL, VD_RF_PUBLIC | VD_RF_UNREADY},
    {VD_R_METRICS, "GET", "/metrics", VD_PARAM_NONE, "metrics", NULL, VD_RF_METRICS | VD_RF_UNREADY},
    {VD_R_JWKS, "GET", "/.well-known/jwks.json", VD_PARAM_NONE, "jwks", NULL, VD_RF_PUBLIC},
    {VD_R_RELOAD, "POST", "/v1/admin/reload", VD_PARAM_NONE, "reload", "reload", 0},
    {VD_R_KEYS_LIST, "GET", "/v1/keys", VD_PARAM_NONE, "keys.read", "keys.read", 0},
    {VD_R_KEY_GET, "GET", "/v1/keys/{name}", VD_PARAM_KEY, "keys.read", "keys.read", 0},
    {VD_R_KEY_SIGN, "POST", "/v1/keys/{name}/sign", VD_PARAM_KEY, "sign", "sign", 0},
    {VD_R_KEY_VERIFY, "POST", "/v1/keys/{name}/verify", VD_PARAM_KEY, "verify", "verify", 0},
    {VD_R_JWT_ISSUE, "POST", "/v1/jwt/{name}/issue", VD_PARAM_KEY, "jwt.issue", "jwt.issue", 0},
    {VD_R_JWT_VERIFY, "POST", "/v1/jwt/verify", VD_PARAM_NONE, "jwt.verify", NULL, VD_RF_NOPOLICY},
    {VD_R_DERIVE, "POST", "/v1/derive/{name}", VD_PARAM_KEY, "derive", "derive", 0},
    {VD_R_ECDH, "POST", "/v1/ecdh/{name}", VD_PARAM_KEY, "ecdh", "ecdh", 0},
    {VD_R_SECRETS_LIST, "GET", "/v1/secrets", VD_PARAM_NONE, "secrets.list", "secrets.list", 0},
    {VD_R_SECRET_GET, "GET", "/v1/secrets/{name}", VD_PARAM_SECRET, "secrets.read", "secrets.read", 0},
    {VD_R_WALLET_SOLANA_ADDRESS, "GET", "/v1/wallet/{name}/solana/address", VD_PARAM_KEY, "wallet.read",
     "wallet.read", 0},
    {VD_R_WALLET_SOLANA_SIGN_TX, "POST", "/v1/wallet/{name}/solana/sign-transaction", VD_PARAM_KEY,
     "wallet.sign", "wallet.sign", 0},
    {VD_R_WALLET_SOLANA_SIGN_MESSAGE, "POST", "/v1/wallet/{name}/solana/sign-message", VD_PARAM_KEY,
     "wallet.sign", "wallet.sign", 0},
    {VD_R_WALLET_EVM_ADDRESS, "GET", "/v1/wallet/{name}/evm/address", VD_PARAM_KEY, "wallet.read",
     "wallet.read", 0},
    {VD_R_WALLET_EVM_SIGN_TX, "POST", "/v1/wallet/{name}/evm/sign-transaction", VD_PARAM_KEY, "wallet.sign",
     "wallet.sign", 0},
    {VD_R_WALLET_EVM_SIGN_MESSAGE, "POST", "/v1/wallet/{name}/evm/sign-message", VD_PARAM_KEY, "wallet.sign",
     "wallet.sign", 0},
    {VD_R_WALLET_EVM_SIGN_DIGEST, "POST", "/v1/wallet/{name}/evm/sign-digest", VD_PARAM_KEY, "wallet.sign",
     "wallet.sign", 0},
    {VD_R_WALLET_EVM_SIGN_TYPED_DATA, "POST", "/v1/wallet/{name}/evm/sign-typed-data", VD_PARAM_KEY,
     "wallet.sign", "wallet.sign", 0},
};

const struct vd_route *
vd_route_table(size_t *n)
{
	*n = sizeof(routes) / sizeof(routes[0]);
	return routes;
}

static int
is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

int
vd_param_valid(enum vd_param p, const char *s, size_t len)
{
	size_t i;

	switch (p) {
	case VD_PARAM_KEY:
		/* the same rule as pv_key_name_valid, on a counted string */
		if (len < 1 || len > 64 || !is_alnum(s[0]))
			return 0;
		for (i = 1; i < len; i++) {
			if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '-')
				return 0;
		}
		return 1;
	case VD_PARAM_SECRET:
		/* the union of bundle env and file entry names (src/bundle/kv.h) */
		if (len < 1 || len > VD_NAME_MAX || !(is_alnum(s[0]) || s[0] == '_'))
			return 0;
		for (i = 1; i < len; i++) {
			if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.')
				return 0;
		}
		return 1;
	case VD_PARAM_NONE:
		break;
	}
	return 0;
}

/*
 * Does path have the shape of pattern? A pattern is a literal, or a literal
 * prefix, "{name}" and a literal suffix; the name is one non-empty segment.
 */
static int
shape_matches(const struct vd_route *r, const char *path, size_t plen, const char **name, size_t *name_len)
{
	const char *brace = strchr(r->pattern, '{');
	size_t pre, suf;
	const char *suffix;
	size_t i;

	*name = NULL;
	*name_len = 0;
	if (brace == NULL)
		return strlen(r->pattern) == plen && memcmp(r->pattern, path, plen) == 0;
	pre = (size_t)(brace - r->pattern);
	suffix = strchr(brace, '}') + 1;
	suf = strlen(suffix);
	if (plen <= pre + suf || memcmp(path, r->pattern, pre) != 0 ||
	    memcmp(path + plen - suf, suffix, suf) != 0)
		return 0;
	for (i = pre; i < plen - suf; i++) {
		if (path[i] == '/')
			return 0;
	}
	*name = path + pre;
	*name_len = plen - suf - pre;
	return 1;
}

enum vd_match
vd_route_match(const char *method, const char *path, const struct vd_route **route,
	       char name[VD_NAME_MAX + 1])
{
	const struct vd_route *other = NULL, *bad = NULL;
	const char *seg;
	size_t plen, seglen, i;

	*route = NULL;
	name[0] = '\0';
	if (method == NULL || path == NULL || path[0] != '/')
		return VD_MATCH_NO_PATH;
	plen = strnlen(path, VD_PATH_MAX + 1);
	if (plen > VD_PATH_MAX)
		return VD_MATCH_NO_PATH;
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const struct vd_route *r = &routes[i];

		if (!shape_matches(r, path, plen, &seg, &seglen))
			continue;
		if (seg != NULL && !vd_param_valid(r->param, seg, seglen)) {
			bad = r;
			continue;
		}
		if (strcmp(r->method, method) != 0) {
			other = r;
			continue;
		}
		if (seg != NULL) {
			memcpy(name, seg, seglen);
			name[seglen] = '\0';
		}
		*route = r;
		return VD_MATCH_OK;
	}
	if (other != NULL) {
		*route = other;
		return VD_MATCH_METHOD;
	}
	if (bad != NULL) {
		*route = bad;
		return VD_MATCH_BAD_NAME;
	}
	return VD_MATCH_NO_PATH;
}
