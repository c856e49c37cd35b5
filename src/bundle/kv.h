/*
 * A list of named secret values (bundle entries on their way in or out).
 * Names are not secret; values live in guarded memory (pv_secret) only.
 */
#ifndef PV_BUNDLE_KV_H
#define PV_BUNDLE_KV_H

#include <stddef.h>

#include "base/err.h"
#include "base/secmem.h"

/* Entry kinds (bundle-format.md §3.3). */
enum { PV_ENTRY_ENV = 1, PV_ENTRY_FILE = 2, PV_ENTRY_PRIVATE_KEY = 3 };

/* Longest entry name (env and file names; key names are at most 64). */
#define PV_ENTRY_NAME_MAX 128
/* Most entries a bundle holds, and so a list. */
#define PV_KV_MAX_ENTRIES 10000
/* Largest env/file value. */
#define PV_KV_VALUE_MAX   ((size_t)1 << 20)

struct pv_kv {
	char name[PV_ENTRY_NAME_MAX + 1];
	int kind; /* PV_ENTRY_ENV or PV_ENTRY_FILE */
	pv_secret *value;
};

struct pv_kvlist {
	struct pv_kv *items;
	size_t n, cap;
};

void pv_kvlist_init(struct pv_kvlist *l);
/* Wipe and free every value and the list itself; the list is empty after. */
void pv_kvlist_free(struct pv_kvlist *l);
/*
 * Append an entry. Always takes ownership of value: on failure it is freed.
 * Refuses an invalid name for the kind and a name already in the list
 * (PV_ERR_BAD_INPUT, the detail names it), and more than PV_KV_MAX_ENTRIES
 * entries (PV_ERR_TOO_LARGE).
 */
pv_err pv_kvlist_add(struct pv_kvlist *l, const char *name, int kind, pv_secret *value) PV_WUR;
/*
 * pv_kvlist_add for a list built in name order (a bundle's entries): name
 * must sort after the last entry's (PV_ERR_USAGE otherwise), which makes
 * the duplicate search unnecessary. Same ownership rule.
 */
pv_err pv_kvlist_add_sorted(struct pv_kvlist *l, const char *name, int kind, pv_secret *value) PV_WUR;
/* The entry with this name, or NULL. */
struct pv_kv *pv_kvlist_find(const struct pv_kvlist *l, const char *name);
/* Sort by name in byte order (the bundle's entry order). */
void pv_kvlist_sort(struct pv_kvlist *l);

/*
 * 1 when name is a valid entry name of that kind (bundle-format.md §3.3):
 *   env          [A-Za-z_][A-Za-z0-9_]{0,127}
 *   file         [A-Za-z0-9_][A-Za-z0-9._-]{0,127}
 *   private-key  [A-Za-z0-9][A-Za-z0-9_-]{0,63}
 * else 0 (also for an unknown kind or NULL).
 */
int pv_entry_name_valid(int kind, const char *name);

#endif
