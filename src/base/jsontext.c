#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "base/jsontext.h"

int
pv_json_has_nul_escape(const uint8_t *text, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i++) {
		if (text[i] != '\\')
			continue;
		if ((text[i + 1] == 'u' || text[i + 1] == 'U') && len - i >= 6 &&
		    memcmp(text + i + 2, "0000", 4) == 0)
			return 1;
		i++; /* the escaped character cannot start another escape */
	}
	return 0;
}

/* Longest member name quoted in a detail; longer or odd ones are not shown. */
#define SHOWN_NAME_MAX 64

const char *
pv_json_shown_name(const char *name)
{
	size_t i, n = strnlen(name, SHOWN_NAME_MAX + 1);

	if (n == 0 || n > SHOWN_NAME_MAX)
		return NULL;
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return NULL;
	}
	return name;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* No object in the tree names a member twice; depth bounded. */
static pv_err
check_tree(const cJSON *j, unsigned depth, unsigned max_depth, const char *what)
{
	const cJSON *c;
	const char **names = NULL;
	size_t n = 0, i;
	pv_err r = PV_OK;

	if (depth > max_depth) {
		pv_err_set_detail("%s nests deeper than %u levels", what, max_depth);
		return PV_ERR_BAD_INPUT;
	}
	if (!cJSON_IsObject(j) && !cJSON_IsArray(j))
		return PV_OK;
	for (c = j->child; c != NULL; c = c->next)
		n++;
	if (cJSON_IsObject(j) && n > 1) {
		if ((names = calloc(n, sizeof(*names))) == NULL)
			return PV_ERR_NOMEM;
		for (i = 0, c = j->child; c != NULL; c = c->next)
			names[i++] = c->string;
		qsort(names, n, sizeof(*names), cmp_names);
		for (i = 1; i < n; i++) {
			if (strcmp(names[i - 1], names[i]) == 0) {
				const char *s = pv_json_shown_name(names[i]);

				if (s != NULL)
					pv_err_set_detail("member \"%s\" appears twice", s);
				else
					pv_err_set_detail("a member appears twice");
				r = PV_ERR_BAD_INPUT;
				goto out;
			}
		}
	}
	for (c = j->child; c != NULL; c = c->next) {
		if ((r = check_tree(c, depth + 1, max_depth, what)) != PV_OK)
			goto out;
	}
out:
	free(names);
	return r;
}

int
pv_utf8_valid(const uint8_t *p, size_t len)
{
	size_t i = 0, n, k;
	uint32_t cp;

	while (i < len) {
		uint8_t c = p[i];

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (len - i - 1 < n)
			return 0;
		for (k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}

pv_err
pv_json_check_tree(const cJSON *root, unsigned max_depth, const char *what)
{
	return check_tree(root, 0, max_depth, what);
}
