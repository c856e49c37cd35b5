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
 * Read a whole stream (fd) or file straight into guarded memory: the buffer
 * grows by moving into a larger secret and wiping the old one, so no
 * ordinary heap copy ever exists. PV_ERR_TOO_LARGE beyond max bytes. The
 * result is locked (no access). A path of "-" is not special here.
 */
pv_err pv_secret_read_fd(int fd, size_t max, pv_secret **out) PV_WUR;
pv_err pv_secret_read_file(const char *path, size_t max, pv_secret **out) PV_WUR;

/* Constant-time equality of two byte strings of equal length. */
int pv_ct_equal(const void *a, const void *b, size_t len);
/* Wipe memory the compiler must not optimise away. */
void pv_wipe(void *p, size_t len);

#endif
