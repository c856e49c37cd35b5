/*
 * Our vendor attribute in pkcs11: URIs (RFC 7512 section 2.3):
 * x-p11vault-version=N pins version N of the p11vault key the URI names
 * (core/keys_uri.h). Pure string handling, in a header so that the
 * provider's URI parser (src/provider/uri.c, also compiled alone into its
 * fuzz harness) uses it without the token layer.
 */
#ifndef PV_KEYS_URI_ATTR_H
#define PV_KEYS_URI_ATTR_H

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "core/keymeta.h"

#define PV_KEYS_URI_VERSION_ATTR "x-p11vault-version="

/*
 * uri (a pkcs11: URI) without ;x-p11vault-version=N in its path: *out,
 * malloc'd, also on failure (the caller frees it; NULL when out of memory).
 * p11-kit keeps a path attribute it does not know as "unrecognized" and
 * then matches nothing, so it is taken out before parsing. *version = N,
 * or 0 when absent; PV_ERR_USAGE for a bad or repeated one.
 */
static inline pv_err
pv_keys_uri_strip_version(const char *uri, char **out, unsigned *version)
{
	const char *q = strchr(uri, '?'), *path_end, *seg, *end;
	size_t from = 0, to = 0, alen = sizeof(PV_KEYS_URI_VERSION_ATTR) - 1;
	char *e = NULL;
	unsigned long v;

	*version = 0;
	path_end = q != NULL ? q : uri + strlen(uri);
	if ((*out = strdup(uri)) == NULL)
		return PV_ERR_NOMEM;
	for (seg = uri + 7; seg < path_end; seg = end + 1) {
		if ((end = memchr(seg, ';', (size_t)(path_end - seg))) == NULL)
			end = path_end;
		if ((size_t)(end - seg) < alen || strncmp(seg, PV_KEYS_URI_VERSION_ATTR, alen) != 0)
			continue;
		if (*version != 0) {
			pv_err_set_detail("%s is given twice", PV_KEYS_URI_VERSION_ATTR);
			return PV_ERR_USAGE;
		}
		v = seg[alen] >= '1' && seg[alen] <= '9' ? strtoul(seg + alen, &e, 10) : 0;
		if (v == 0 || e != end || v > PV_KEY_VERSIONS_MAX) {
			pv_err_set_detail("%sN takes a version number from 1 to %d", PV_KEYS_URI_VERSION_ATTR,
					  PV_KEY_VERSIONS_MAX);
			return PV_ERR_USAGE;
		}
		*version = (unsigned)v;
		from = (size_t)(seg - uri);
		to = (size_t)(end - uri);
		if (end < path_end)
			to++; /* and its ';' */
		else if (from > 7)
			from--; /* the last one: the ';' before it */
	}
	if (*version != 0)
		memmove(*out + from, *out + to, strlen(*out + to) + 1);
	return PV_OK;
}

#endif
