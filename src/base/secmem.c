#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <sodium.h>

#include "base/buf.h"
#include "base/secmem.h"

/* Protection states of an arena (a single secret does not track its own). */
enum { PROT_NONE_ = 0, PROT_RO_ = 1, PROT_RW_ = 2 };

struct pv_secret_arena {
	uint8_t *data; /* one sodium_malloc'd region for every slice */
	size_t cap, used;
	size_t refs; /* the owner's handle (while held) plus every live slice */
	int owned;   /* the creator has not called pv_secret_arena_free yet */
	int prot;    /* current protection of the whole region */
	int batch;   /* set while pv_secret_free_n holds it read-write */
	int batch_prev;
	struct pv_secret_arena *batch_next;
};

struct pv_secret {
	uint8_t *data; /* sodium_malloc'd: guard pages, mlock'd, no-dump; or a slice of arena */
	size_t len;
	size_t cap;
	pv_secret_arena *arena; /* NULL: data is this secret's own region */
};

static void
arena_set_prot(pv_secret_arena *a, int prot)
{
	if (a->prot == prot)
		return;
	if (prot == PROT_RW_)
		(void)sodium_mprotect_readwrite(a->data);
	else if (prot == PROT_RO_)
		(void)sodium_mprotect_readonly(a->data);
	else
		(void)sodium_mprotect_noaccess(a->data);
	a->prot = prot;
}

/* Drop one reference; the last one wipes and frees the region. */
static void
arena_unref(pv_secret_arena *a)
{
	if (--a->refs > 0)
		return;
	arena_set_prot(a, PROT_RW_);
	sodium_memzero(a->data, a->cap);
	sodium_free(a->data);
	sodium_memzero(a, sizeof(*a));
	free(a);
}

pv_err
pv_secmem_init(void)
{
	struct rlimit rl = {0, 0};

	if (sodium_init() < 0)
		return PV_ERR_CRYPTO;
	/* Secrets must never land in a core file or be ptrace-readable. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return PV_ERR_INTERNAL;
	if (setrlimit(RLIMIT_CORE, &rl) != 0)
		return PV_ERR_INTERNAL;
	return PV_OK;
}

pv_err
pv_secret_new(size_t cap, pv_secret **out)
{
	pv_secret *s = NULL;
	pv_err r = PV_ERR_INTERNAL;

	*out = NULL;
	if (cap == 0)
		return PV_ERR_USAGE;
	if (sodium_init() < 0)
		return PV_ERR_CRYPTO;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	if ((s->data = sodium_malloc(cap)) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	sodium_memzero(s->data, cap);
	s->cap = cap;
	*out = s;
	s = NULL;
	r = PV_OK;
out:
	pv_secret_free(s);
	return r;
}

pv_err
pv_secret_from(const void *data, size_t len, pv_secret **out)
{
	pv_secret *s = NULL;
	pv_err r;

	*out = NULL;
	if ((r = pv_secret_new(len ? len : 1, &s)) != PV_OK)
		goto out;
	if (len > 0)
		memcpy(s->data, data, len);
	s->len = len;
	pv_secret_lock(s);
	*out = s;
	s = NULL;
out:
	pv_secret_free(s);
	return r;
}

/* Wipe a slice's bytes now (its arena may live on) and release it. */
static void
slice_free(pv_secret *s)
{
	pv_secret_arena *a = s->arena;
	int prev = a->prot;

	if (a->refs > 1) { /* the last reference wipes the whole region anyway */
		arena_set_prot(a, PROT_RW_);
		sodium_memzero(s->data, s->cap);
		if (!a->batch)
			arena_set_prot(a, prev);
	}
	sodium_memzero(s, sizeof(*s));
	free(s);
	arena_unref(a);
}

void
pv_secret_free(pv_secret *s)
{
	if (s == NULL)
		return;
	if (s->arena != NULL) {
		slice_free(s);
		return;
	}
	if (s->data != NULL) {
		(void)sodium_mprotect_readwrite(s->data);
		/* sodium_free wipes too; the explicit call keeps the rule visible */
		sodium_memzero(s->data, s->cap);
		sodium_free(s->data);
	}
	sodium_memzero(s, sizeof(*s));
	free(s);
}

size_t
pv_secret_len(const pv_secret *s)
{
	return s->len;
}

size_t
pv_secret_cap(const pv_secret *s)
{
	return s->cap;
}

pv_err
pv_secret_set_len(pv_secret *s, size_t len)
{
	if (len > s->cap)
		return PV_ERR_TOO_LARGE;
	s->len = len;
	return PV_OK;
}

pv_err
pv_secret_append(pv_secret *s, const void *data, size_t len)
{
	if (len > s->cap - s->len)
		return PV_ERR_TOO_LARGE;
	(void)pv_secret_rw(s);
	memcpy(s->data + s->len, data, len);
	s->len += len;
	return PV_OK;
}

const uint8_t *
pv_secret_ro(pv_secret *s)
{
	if (s->arena != NULL)
		arena_set_prot(s->arena, PROT_RO_);
	else
		(void)sodium_mprotect_readonly(s->data);
	return s->data;
}

uint8_t *
pv_secret_rw(pv_secret *s)
{
	if (s->arena != NULL)
		arena_set_prot(s->arena, PROT_RW_);
	else
		(void)sodium_mprotect_readwrite(s->data);
	return s->data;
}

void
pv_secret_lock(pv_secret *s)
{
	if (s->arena != NULL)
		arena_set_prot(s->arena, PROT_NONE_);
	else
		(void)sodium_mprotect_noaccess(s->data);
}

void
pv_secret_free_n(pv_secret *const *v, size_t n)
{
	pv_secret_arena *held = NULL, *a;
	size_t i;

	/* Slices of one arena: one switch to read-write for all of them, an
	 * extra reference so that the arena outlives the loop, and its earlier
	 * protection back at the end. */
	for (i = 0; i < n; i++) {
		if (v[i] == NULL || (a = v[i]->arena) == NULL || a->batch)
			continue;
		a->batch = 1;
		a->batch_prev = a->prot;
		a->refs++;
		a->batch_next = held;
		held = a;
	}
	for (i = 0; i < n; i++)
		pv_secret_free(v[i]);
	while ((a = held) != NULL) {
		held = a->batch_next;
		a->batch = 0;
		a->batch_next = NULL;
		if (a->refs > 1)
			arena_set_prot(a, a->batch_prev);
		arena_unref(a);
	}
}

pv_err
pv_secret_arena_new(size_t cap, pv_secret_arena **out)
{
	pv_secret_arena *a = NULL;

	*out = NULL;
	if (cap == 0)
		return PV_ERR_USAGE;
	if (sodium_init() < 0)
		return PV_ERR_CRYPTO;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return PV_ERR_NOMEM;
	if ((a->data = sodium_malloc(cap)) == NULL) {
		free(a);
		return PV_ERR_NOMEM;
	}
	sodium_memzero(a->data, cap);
	a->cap = cap;
	a->refs = 1;
	a->owned = 1;
	a->prot = PROT_RW_;
	*out = a;
	return PV_OK;
}

pv_err
pv_secret_arena_alloc(pv_secret_arena *a, size_t cap, pv_secret **out)
{
	pv_secret *s;

	*out = NULL;
	if (a == NULL || !a->owned || cap == 0)
		return PV_ERR_USAGE;
	if (cap > a->cap - a->used)
		return PV_ERR_TOO_LARGE;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return PV_ERR_NOMEM;
	s->data = a->data + a->used;
	s->cap = cap;
	s->arena = a;
	a->used += cap;
	a->refs++;
	arena_set_prot(a, PROT_RW_);
	*out = s;
	return PV_OK;
}

void
pv_secret_arena_lock(pv_secret_arena *a)
{
	if (a != NULL)
		arena_set_prot(a, PROT_NONE_);
}

size_t
pv_secret_arena_cap(const pv_secret_arena *a)
{
	return a->cap;
}

size_t
pv_secret_arena_used(const pv_secret_arena *a)
{
	return a->used;
}

void
pv_secret_arena_free(pv_secret_arena *a)
{
	if (a == NULL || !a->owned)
		return;
	a->owned = 0;
	if (a->refs > 1) /* slices live on: the region stays locked until used */
		arena_set_prot(a, PROT_NONE_);
	arena_unref(a);
}

/* First allocation of pv_secret_read_fd; doubled as needed. */
#define PV_SECRET_READ_CHUNK 4096

pv_err
pv_secret_read_fd(int fd, size_t max, pv_secret **out)
{
	pv_secret *s = NULL, *bigger = NULL;
	/* one byte past max tells "exactly max" from "too large" */
	size_t limit = max < SIZE_MAX ? max + 1 : max, cap;
	ssize_t n;
	pv_err r;

	*out = NULL;
	cap = limit < PV_SECRET_READ_CHUNK ? limit : PV_SECRET_READ_CHUNK;
	if ((r = pv_secret_new(cap, &s)) != PV_OK)
		goto out;
	for (;;) {
		if (s->len == s->cap) {
			if (s->cap >= limit)
				break;
			cap = s->cap <= limit / 2 ? s->cap * 2 : limit;
			if ((r = pv_secret_new(cap, &bigger)) != PV_OK)
				goto out;
			memcpy(bigger->data, s->data, s->len);
			bigger->len = s->len;
			pv_secret_free(s);
			s = bigger;
			bigger = NULL;
		}
		n = read(fd, s->data + s->len, s->cap - s->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			pv_err_set_detail("read: %s", strerror(errno));
			r = PV_ERR_IO;
			goto out;
		}
		if (n == 0)
			break;
		s->len += (size_t)n;
	}
	if (s->len > max) {
		r = PV_ERR_TOO_LARGE;
		goto out;
	}
	pv_secret_lock(s);
	*out = s;
	s = NULL;
	r = PV_OK;
out:
	pv_secret_free(s);
	return r;
}

pv_err
pv_secret_read_file(const char *path, size_t max, pv_secret **out)
{
	int fd;
	pv_err r;

	*out = NULL;
	if ((r = pv_open_regular(path, 0, &fd, NULL)) != PV_OK)
		return r;
	r = pv_secret_read_fd(fd, max, out);
	close(fd);
	return r;
}

int
pv_ct_equal(const void *a, const void *b, size_t len)
{
	return sodium_memcmp(a, b, len) == 0;
}

void
pv_wipe(void *p, size_t len)
{
	if (p != NULL && len > 0)
		sodium_memzero(p, len);
}
