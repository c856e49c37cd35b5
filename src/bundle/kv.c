#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "bundle/kv.h"

void
pv_kvlist_init(struct pv_kvlist *l)
{
	memset(l, 0, sizeof(*l));
}

void
pv_kvlist_free(struct pv_kvlist *l)
{
	size_t i;

	pv_secret **v;

	if (l == NULL)
		return;
	/* values from one bundle share an arena: free them together, one
	 * change of its protection for all the wipes */
	if (l->n > 1 && (v = malloc(l->n * sizeof(*v))) != NULL) {
		for (i = 0; i < l->n; i++)
			v[i] = l->items[i].value;
		pv_secret_free_n(v, l->n);
		free(v);
	} else {
		for (i = 0; i < l->n; i++)
			pv_secret_free(l->items[i].value);
	}
	free(l->items);
	memset(l, 0, sizeof(*l));
}

static const char *
kind_word(int kind)
{
	switch (kind) {
	case PV_ENTRY_ENV:
		return "env";
	case PV_ENTRY_FILE:
		return "file";
	case PV_ENTRY_PRIVATE_KEY:
		return "private-key";
	default:
		return "unknown";
	}
}

static pv_err kv_append(struct pv_kvlist *l, const char *name, int kind, pv_secret *value, int sorted);

pv_err
pv_kvlist_add(struct pv_kvlist *l, const char *name, int kind, pv_secret *value)
{
	return kv_append(l, name, kind, value, 0);
}

pv_err
pv_kvlist_add_sorted(struct pv_kvlist *l, const char *name, int kind, pv_secret *value)
{
	return kv_append(l, name, kind, value, 1);
}

static pv_err
kv_append(struct pv_kvlist *l, const char *name, int kind, pv_secret *value, int sorted)
{
	struct pv_kv *items;
	size_t cap;
	pv_err r;

	if (value == NULL || (kind != PV_ENTRY_ENV && kind != PV_ENTRY_FILE)) {
		r = PV_ERR_USAGE;
		goto out;
	}
	if (!pv_entry_name_valid(kind, name)) {
		/* the name is not echoed: a mangled line may hold a value */
		pv_err_set_detail("not a valid %s entry name", kind_word(kind));
		r = PV_ERR_BAD_INPUT;
		goto out;
	}
	if (sorted && l->n > 0 && strcmp(l->items[l->n - 1].name, name) >= 0) {
		pv_err_set_detail("%s: not after %s in name order", name, l->items[l->n - 1].name);
		r = PV_ERR_USAGE;
		goto out;
	}
	if (!sorted && pv_kvlist_find(l, name) != NULL) {
		pv_err_set_detail("duplicate name %s", name);
		r = PV_ERR_BAD_INPUT;
		goto out;
	}
	if (l->n >= PV_KV_MAX_ENTRIES) {
		pv_err_set_detail("more than %d entries", PV_KV_MAX_ENTRIES);
		r = PV_ERR_TOO_LARGE;
		goto out;
	}
	if (l->n == l->cap) {
		cap = l->cap ? l->cap * 2 : 16;
		if ((items = realloc(l->items, cap * sizeof(*items))) == NULL) {
			r = PV_ERR_NOMEM;
			goto out;
		}
		l->items = items;
		l->cap = cap;
	}
	memset(&l->items[l->n], 0, sizeof(l->items[l->n]));
	memcpy(l->items[l->n].name, name, strlen(name) + 1);
	l->items[l->n].kind = kind;
	l->items[l->n].value = value;
	l->n++;
	value = NULL;
	r = PV_OK;
out:
	pv_secret_free(value);
	return r;
}

struct pv_kv *
pv_kvlist_find(const struct pv_kvlist *l, const char *name)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->items[i].name, name) == 0)
			return &l->items[i];
	return NULL;
}

static int
kv_name_cmp(const void *a, const void *b)
{
	/* strcmp compares as unsigned char: byte order */
	return strcmp(((const struct pv_kv *)a)->name, ((const struct pv_kv *)b)->name);
}

void
pv_kvlist_sort(struct pv_kvlist *l)
{
	if (l->n > 1)
		qsort(l->items, l->n, sizeof(*l->items), kv_name_cmp);
}

static int
is_alpha(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int
pv_entry_name_valid(int kind, const char *name)
{
	size_t i, max;

	if (name == NULL || name[0] == '\0')
		return 0;
	max = kind == PV_ENTRY_PRIVATE_KEY ? 64 : PV_ENTRY_NAME_MAX;
	for (i = 0; name[i] != '\0'; i++) {
		char c = name[i];
		int ok;

		if (i >= max)
			return 0;
		switch (kind) {
		case PV_ENTRY_ENV:
			ok = is_alpha(c) || c == '_' || (i > 0 && is_digit(c));
			break;
		case PV_ENTRY_FILE:
			ok = is_alpha(c) || is_digit(c) || c == '_' || (i > 0 && (c == '.' || c == '-'));
			break;
		case PV_ENTRY_PRIVATE_KEY:
			ok = is_alpha(c) || is_digit(c) || (i > 0 && (c == '_' || c == '-'));
			break;
		default:
			return 0;
		}
		if (!ok)
			return 0;
	}
	return 1;
}
