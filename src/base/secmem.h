/*
 * Guarded memory for secrets (PINs, secret values) on top of libsodium:
 * guard pages, mlock, excluded from core dumps, no access between uses,
 * wiped on free.
 */
#ifndef PV_SECMEM_H
#define PV_SECMEM_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/*
 * Initialise libsodium and make the process undumpable
 * (PR_SET_DUMPABLE=0, RLIMIT_CORE=0). Call once from main() before reading
 * any secret. Safe to call more than once.
 */
pv_err pv_secmem_init(void) PV_WUR;

/* A secret held in guarded memory. Opaque; capacity fixed at creation. */
typedef struct pv_secret pv_secret;

/* New empty secret able to hold cap bytes (cap >= 1). Left read-write. */
pv_err pv_secret_new(size_t cap, pv_secret **out) PV_WUR;
/* Copy len bytes into a new secret (the caller wipes its own copy). */
pv_err pv_secret_from(const void *data, size_t len, pv_secret **out) PV_WUR;
/* Wipe and release. NULL is fine. */
void pv_secret_free(pv_secret *s);
/* pv_secret_free on each of n secrets (NULL entries fine); the slices of
 * one arena among them share one change of its protection. */
void pv_secret_free_n(pv_secret *const *v, size_t n);

size_t pv_secret_len(const pv_secret *s);
size_t pv_secret_cap(const pv_secret *s);
/* Set the used length (<= capacity), e.g. after filling via pv_secret_rw. */
pv_err pv_secret_set_len(pv_secret *s, size_t len) PV_WUR;
/* Append bytes while read-write; fails with PV_ERR_TOO_LARGE past capacity. */
pv_err pv_secret_append(pv_secret *s, const void *data, size_t len) PV_WUR;

/* Make readable (read-only) / writable and return the data pointer. */
const uint8_t *pv_secret_ro(pv_secret *s);
uint8_t *pv_secret_rw(pv_secret *s);
/* Back to no-access until the next use. */
void pv_secret_lock(pv_secret *s);

/*
 * An arena: one guarded region (one sodium_malloc: guard pages around it,
 * mlock'd, no-dump) out of which many secrets are carved, for a set of
 * values made and used together (a bundle's values). Each guarded
 * allocation costs an mmap, an mlock and several mprotect calls; an arena
 * pays that once for the set.
 *
 * A slice is an ordinary pv_secret: the functions above work on it, within
 * its own capacity (bounds as for any secret). What differs is protection
 * and the guard pages:
 *  - the region has ONE protection state: pv_secret_ro / rw / lock on any
 *    slice makes the whole region read-only / read-write / no-access (and
 *    costs no system call when it already is). While one value is in use,
 *    the others of the same arena are readable too.
 *  - users of one arena must not race: its state is not locked (callers
 *    serialise, as vaultd does with its secrets mutex).
 *  - slices are adjacent: an overrun of one slice reaches the next, not a
 *    guard page (the API never writes past a slice's capacity).
 * pv_secret_free of a slice wipes its bytes at once; the region is wiped
 * and freed when the arena's owner and every slice have let go of it.
 */
typedef struct pv_secret_arena pv_secret_arena;

/* A new arena of cap bytes (cap >= 1), all zero, left read-write. */
pv_err pv_secret_arena_new(size_t cap, pv_secret_arena **out) PV_WUR;
/*
 * A new empty slice of cap bytes (cap >= 1) from the unused part; the
 * region is made read-write. PV_ERR_TOO_LARGE when fewer than cap bytes
 * are left (space is not reused after pv_secret_free), PV_ERR_USAGE after
 * pv_secret_arena_free.
 */
pv_err pv_secret_arena_alloc(pv_secret_arena *a, size_t cap, pv_secret **out) PV_WUR;
/* The whole region back to no-access. NULL is fine. */
void pv_secret_arena_lock(pv_secret_arena *a);
size_t pv_secret_arena_cap(const pv_secret_arena *a);
size_t pv_secret_arena_used(const pv_secret_arena *a);
/*
 * The owner lets go: no more slices; the region is locked and lives on
 * until its last slice is freed (at once when there is none: wiped and
 * freed). NULL is fine.
 */
void pv_secret_arena_free(pv_secret_arena *a);

/*
 * Read a whole stream (fd) or file straight into guarded memory: the buffer
 * grows by moving into a larger secret and wiping the old one, so no
 * ordinary heap copy ever exists. PV_ERR_TOO_LARGE beyond max bytes. The
 * result is locked (no access). A path of "-" is not special here; a path
 * must name a regular file (pv_open_regular in base/buf.h: a FIFO is
 * refused, never waited on).
 */
pv_err pv_secret_read_fd(int fd, size_t max, pv_secret **out) PV_WUR;
pv_err pv_secret_read_file(const char *path, size_t max, pv_secret **out) PV_WUR;

/* Constant-time equality of two byte strings of equal length. */
int pv_ct_equal(const void *a, const void *b, size_t len);
/* Wipe memory the compiler must not optimise away. */
void pv_wipe(void *p, size_t len);

#endif
