#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/secmem.h"

struct pv_buf {
	uint8_t *d;        /* storage (NULL for an empty buffer) */
	const uint8_t *cd; /* what readers see: d, or caller memory for views */
	size_t off;        /* read offset */
	size_t size;       /* write end */
	size_t alloc;      /* allocated bytes in d */
	size_t max;        /* hard limit on size */
	int readonly;
};

pv_err
pv_buf_new(size_t max, pv_buf **out)
{
	pv_buf *b = NULL;

	*out = NULL;
	if (max == 0 || max > PV_BUF_SIZE_MAX)
		return PV_ERR_USAGE;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return PV_ERR_NOMEM;
	b->max = max;
	*out = b;
	return PV_OK;
}

pv_err
pv_buf_view(const void *data, size_t len, pv_buf **out)
{
	pv_buf *b = NULL;

	*out = NULL;
	if (len > PV_BUF_SIZE_MAX || (data == NULL && len != 0))
		return PV_ERR_USAGE;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return PV_ERR_NOMEM;
	b->cd = data;
	b->size = len;
	b->max = len;
	b->readonly = 1;
	*out = b;
	return PV_OK;
}

void
pv_buf_free(pv_buf *b)
{
	if (b == NULL)
		return;
	if (b->d != NULL) {
		pv_wipe(b->d, b->alloc);
		free(b->d);
	}
	pv_wipe(b, sizeof(*b));
	free(b);
}

size_t
pv_buf_len(const pv_buf *b)
{
	return b->size - b->off;
}

const uint8_t *
pv_buf_ptr(const pv_buf *b)
{
	static const uint8_t empty[1];

	return b->cd != NULL ? b->cd + b->off : empty;
}

size_t
pv_buf_max(const pv_buf *b)
{
	return b->max;
}

void
pv_buf_reset(pv_buf *b)
{
	if (b->readonly) {
		b->off = 0;
		return;
	}
	if (b->d != NULL)
		pv_wipe(b->d, b->alloc);
	b->off = b->size = 0;
}

pv_err
pv_buf_reserve(pv_buf *b, size_t len, uint8_t **dst)
{
	size_t need, nalloc;
	uint8_t *nd = NULL;

	*dst = NULL;
	if (b->readonly)
		return PV_ERR_USAGE;
	if (len > b->max - b->size)
		return PV_ERR_TOO_LARGE;
	need = b->size + len;
	if (need > b->alloc) {
		nalloc = b->alloc ? b->alloc : 256;
		while (nalloc < need)
			nalloc = nalloc > b->max / 2 ? b->max : nalloc * 2;
		if (nalloc > b->max)
			nalloc = b->max;
		/* grow by copy so the old copy can be wiped, never realloc'd away */
		if ((nd = malloc(nalloc)) == NULL)
			return PV_ERR_NOMEM;
		if (b->d != NULL) {
			memcpy(nd, b->d, b->size);
			pv_wipe(b->d, b->alloc);
			free(b->d);
		}
		b->d = nd;
		b->cd = nd;
		b->alloc = nalloc;
	}
	*dst = b->d + b->size;
	b->size += len;
	return PV_OK;
}

pv_err
pv_buf_put(pv_buf *b, const void *data, size_t len)
{
	uint8_t *dst = NULL;
	pv_err r;

	if (len == 0)
		return b->readonly ? PV_ERR_USAGE : PV_OK;
	if ((r = pv_buf_reserve(b, len, &dst)) != PV_OK)
		return r;
	memcpy(dst, data, len);
	return PV_OK;
}

pv_err
pv_buf_put_u8(pv_buf *b, uint8_t v)
{
	return pv_buf_put(b, &v, 1);
}

pv_err
pv_buf_put_cstr(pv_buf *b, const char *s)
{
	return pv_buf_put(b, s, strlen(s));
}

pv_err
pv_buf_get_ref(pv_buf *b, size_t len, const uint8_t **p)
{
	*p = NULL;
	if (len > pv_buf_len(b))
		return PV_ERR_BAD_INPUT;
	*p = pv_buf_ptr(b);
	b->off += len;
	return PV_OK;
}

pv_err
pv_buf_get(pv_buf *b, void *out, size_t len)
{
	const uint8_t *p = NULL;
	pv_err r;

	if ((r = pv_buf_get_ref(b, len, &p)) != PV_OK)
		return r;
	if (len > 0)
		memcpy(out, p, len);
	return PV_OK;
}

pv_err
pv_buf_get_u8(pv_buf *b, uint8_t *v)
{
	return pv_buf_get(b, v, 1);
}

pv_err
pv_buf_get_u16be(pv_buf *b, uint16_t *v)
{
	uint8_t t[2];
	pv_err r;

	if ((r = pv_buf_get(b, t, sizeof(t))) != PV_OK)
		return r;
	*v = (uint16_t)((t[0] << 8) | t[1]);
	return PV_OK;
}

pv_err
pv_buf_get_u32be(pv_buf *b, uint32_t *v)
{
	uint8_t t[4];
	pv_err r;

	if ((r = pv_buf_get(b, t, sizeof(t))) != PV_OK)
		return r;
	*v = ((uint32_t)t[0] << 24) | ((uint32_t)t[1] << 16) | ((uint32_t)t[2] << 8) | t[3];
	return PV_OK;
}

pv_err
pv_buf_get_u32le(pv_buf *b, uint32_t *v)
{
	uint8_t t[4];
	pv_err r;

	if ((r = pv_buf_get(b, t, sizeof(t))) != PV_OK)
		return r;
	*v = ((uint32_t)t[3] << 24) | ((uint32_t)t[2] << 16) | ((uint32_t)t[1] << 8) | t[0];
	return PV_OK;
}

pv_err
pv_buf_get_u64le(pv_buf *b, uint64_t *v)
{
	uint8_t t[8];
	uint64_t x = 0;
	pv_err r;
	int i;

	if ((r = pv_buf_get(b, t, sizeof(t))) != PV_OK)
		return r;
	for (i = 7; i >= 0; i--)
		x = (x << 8) | t[i];
	*v = x;
	return PV_OK;
}

pv_err
pv_buf_peek_u8(const pv_buf *b, uint8_t *v)
{
	if (pv_buf_len(b) < 1)
		return PV_ERR_BAD_INPUT;
	*v = pv_buf_ptr(b)[0];
	return PV_OK;
}

pv_err
pv_buf_consume(pv_buf *b, size_t len)
{
	if (len > pv_buf_len(b))
		return PV_ERR_BAD_INPUT;
	b->off += len;
	return PV_OK;
}

pv_err
pv_buf_get_der(pv_buf *b, uint8_t tag, const uint8_t **val, size_t *len)
{
	size_t save = b->off, n = 0;
	uint8_t t = 0, l0 = 0, nb, i, c;
	pv_err r = PV_ERR_BAD_INPUT;

	*val = NULL;
	*len = 0;
	if (pv_buf_get_u8(b, &t) != PV_OK || t != tag)
		goto out;
	if (pv_buf_get_u8(b, &l0) != PV_OK)
		goto out;
	if (l0 < 0x80) {
		n = l0;
	} else {
		nb = l0 & 0x7f;
		/* no indefinite form; at most 4 length bytes */
		if (nb == 0 || nb > 4)
			goto out;
		for (i = 0; i < nb; i++) {
			if (pv_buf_get_u8(b, &c) != PV_OK)
				goto out;
			if (i == 0 && c == 0)
				goto out; /* non-minimal */
			n = (n << 8) | c;
		}
		if (n < 0x80)
			goto out; /* should have used the short form */
	}
	if (pv_buf_get_ref(b, n, val) != PV_OK)
		goto out;
	*len = n;
	r = PV_OK;
out:
	if (r != PV_OK)
		b->off = save;
	return r;
}

pv_err
pv_buf_read_fd(int fd, size_t max, pv_buf **out)
{
	pv_buf *b = NULL;
	uint8_t tmp[4096];
	ssize_t n;
	pv_err r;

	*out = NULL;
	if ((r = pv_buf_new(max, &b)) != PV_OK)
		goto out;
	for (;;) {
		n = read(fd, tmp, sizeof(tmp));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = PV_ERR_IO;
			goto out;
		}
		if (n == 0)
			break;
		if ((r = pv_buf_put(b, tmp, (size_t)n)) != PV_OK)
			goto out;
	}
	*out = b;
	b = NULL;
	r = PV_OK;
out:
	pv_wipe(tmp, sizeof(tmp));
	pv_buf_free(b);
	return r;
}

pv_err
pv_buf_read_file(const char *path, size_t max, pv_buf **out)
{
	int fd = -1;
	pv_err r;

	*out = NULL;
	if (strcmp(path, "-") == 0)
		return pv_buf_read_fd(STDIN_FILENO, max, out);
	if ((r = pv_open_regular(path, 0, &fd, NULL)) != PV_OK)
		return r;
	r = pv_buf_read_fd(fd, max, out);
	close(fd);
	return r;
}

static const char *
file_type_name(mode_t m)
{
	return S_ISFIFO(m)   ? "a FIFO"
	       : S_ISDIR(m)  ? "a directory"
	       : S_ISCHR(m)  ? "a character device"
	       : S_ISBLK(m)  ? "a block device"
	       : S_ISSOCK(m) ? "a socket"
			     : "not a regular file";
}

pv_err
pv_open_regular(const char *path, int flags, int *fd, struct stat *st)
{
	struct stat sb;
	int f, e;

	*fd = -1;
	if ((f = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | flags)) < 0) {
		e = errno;
		if (e == ELOOP && (flags & O_NOFOLLOW)) {
			pv_err_set_detail("%s is a symbolic link (not followed)", path);
			return PV_ERR_USAGE;
		}
		pv_err_set_detail("cannot open %s: %s", path, strerror(e));
		return e == ENOENT ? PV_ERR_NOT_FOUND : PV_ERR_IO;
	}
	if (fstat(f, &sb) != 0) {
		e = errno;
		close(f);
		pv_err_set_detail("cannot stat %s: %s", path, strerror(e));
		return PV_ERR_IO;
	}
	if (!S_ISREG(sb.st_mode)) {
		close(f);
		pv_err_set_detail("%s is %s, not a regular file (give a file, or - for stdin)", path,
				  file_type_name(sb.st_mode));
		return PV_ERR_USAGE;
	}
	if (st != NULL)
		*st = sb;
	*fd = f;
	return PV_OK;
}
