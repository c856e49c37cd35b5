/*
 * The one bounded byte buffer/reader for untrusted bytes (token attributes,
 * files, HTTP bodies, bundles, transactions). Shaped after OpenSSH's sshbuf:
 * opaque, a hard maximum size, get/put/peek verbs with explicit length
 * checks, and wiped on free. A buffer has a read offset (get/peek/consume
 * advance it) and a write end (put appends).
 */
#ifndef PV_BUF_H
#define PV_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef struct pv_buf pv_buf;

/* Largest buffer anyone may ask for (guards size arithmetic). */
#define PV_BUF_SIZE_MAX ((size_t)1 << 28)

/* Empty growable buffer that refuses to grow beyond max bytes. */
pv_err pv_buf_new(size_t max, pv_buf **out) PV_WUR;
/* Read-only view over caller memory (not copied; must outlive the view). */
pv_err pv_buf_view(const void *data, size_t len, pv_buf **out) PV_WUR;
/* Wipe and release. NULL is fine. */
void pv_buf_free(pv_buf *b);

/* Bytes between the read offset and the write end. */
size_t pv_buf_len(const pv_buf *b);
/* Pointer to the unread bytes (valid until the next put). */
const uint8_t *pv_buf_ptr(const pv_buf *b);
/* Maximum total size this buffer accepts. */
size_t pv_buf_max(const pv_buf *b);
/* Drop everything (wiping it) and reset offsets. */
void pv_buf_reset(pv_buf *b);

pv_err pv_buf_put(pv_buf *b, const void *data, size_t len) PV_WUR;
pv_err pv_buf_put_u8(pv_buf *b, uint8_t v) PV_WUR;
pv_err pv_buf_put_cstr(pv_buf *b, const char *s) PV_WUR;
/* Reserve len writable bytes at the end; returns where to write them. */
pv_err pv_buf_reserve(pv_buf *b, size_t len, uint8_t **dst) PV_WUR;

pv_err pv_buf_get(pv_buf *b, void *out, size_t len) PV_WUR;
pv_err pv_buf_get_u8(pv_buf *b, uint8_t *v) PV_WUR;
pv_err pv_buf_get_u16be(pv_buf *b, uint16_t *v) PV_WUR;
pv_err pv_buf_get_u32be(pv_buf *b, uint32_t *v) PV_WUR;
pv_err pv_buf_get_u32le(pv_buf *b, uint32_t *v) PV_WUR;
pv_err pv_buf_get_u64le(pv_buf *b, uint64_t *v) PV_WUR;
/* Point at the next len bytes and advance past them (no copy). */
pv_err pv_buf_get_ref(pv_buf *b, size_t len, const uint8_t **p) PV_WUR;
pv_err pv_buf_peek_u8(const pv_buf *b, uint8_t *v) PV_WUR;
pv_err pv_buf_consume(pv_buf *b, size_t len) PV_WUR;

/*
 * Read one DER TLV with the given tag (single-byte tags only) in definite
 * form; *val points into the buffer. Lengths beyond what remains, or in a
 * non-minimal encoding, are rejected with PV_ERR_BAD_INPUT.
 */
pv_err pv_buf_get_der(pv_buf *b, uint8_t tag, const uint8_t **val, size_t *len) PV_WUR;

/* Read a whole stream (fd) or file ("-" is stdin) into a new buffer. A
 * path must name a regular file (pv_open_regular). */
pv_err pv_buf_read_fd(int fd, size_t max, pv_buf **out) PV_WUR;
pv_err pv_buf_read_file(const char *path, size_t max, pv_buf **out) PV_WUR;

/*
 * Open path read-only for reading it whole, refusing anything but a regular
 * file before a byte is read: opened with O_NONBLOCK|O_NOCTTY|O_CLOEXEC
 * (and flags, e.g. O_NOFOLLOW), so that a FIFO or a device cannot block
 * the open, then fstat'd into *st (may be NULL). PV_ERR_NOT_FOUND for
 * ENOENT, PV_ERR_IO for another open error; PV_ERR_USAGE for a FIFO, a
 * directory, a device or a socket, and for a symbolic link under
 * O_NOFOLLOW. The detail names path and what it is. On success *fd is
 * open (O_NONBLOCK is harmless on a regular file).
 */
struct stat;
pv_err pv_open_regular(const char *path, int flags, int *fd, struct stat *st) PV_WUR;

#endif
