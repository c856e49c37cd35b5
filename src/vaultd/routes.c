#include "config.h"

#include <string.h>

#include "vaultd/routes.h"

#define VD_ROUTE_ROW(id, method, pattern, param, label, op, flags, handler)                                  \
	{VD_R_##id, method, pattern, VD_PARAM_##param, label, op, flags},
static const struct vd_route routes[] = {VD_ROUTES(VD_ROUTE_ROW)};
#undef VD_ROUTE_ROW

const struct vd_route *
vd_route_table(size_t *n)
{
	*n = PV_NELEM(routes);
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
	for (i = 0; i < PV_NELEM(routes); i++) {
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
