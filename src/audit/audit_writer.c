/*
 * The audit log's writer (docs/audit.md §5).
 *
 * Lines are formatted straight into a buffer (no JSON tree). Records are
 * written with group commit: a request formats the members of its line
 * that do not depend on the chain ("time" to "latency_us") on its own
 * stack, queues itself and waits; whichever waiting thread finds the log
 * idle leads: it takes the queue (in order), adds seq and prev to each
 * line, writes the whole batch with one write(2), and wakes the batch's
 * requests with the result. A checkpoint that falls due is handed to the
 * checkpoint thread, which makes the MAC on the token, writes the line,
 * lets the next batch go and then fsyncs.
 *
 * Locking: mu guards the queue, busy, cp_req, sync_err and stop. The
 * holder of busy (a batch leader, the checkpoint thread, or a caller of
 * one of the other entry points, see lead_acquire) owns everything else:
 * the chain, the file, the auth slots. No token call and no I/O is made
 * under mu.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "audit/audit_line.h"
#include "core/digest.h"
#include "core/sign.h"

/* ---- writer ---- */

/* One peer's authentication failures in the current interval. */
struct auth_slot {
	char peer[PV_AUDIT_PEER_MAX + 1]; /* "" : free */
	char op[PV_AUDIT_FIELD_MAX + 1];  /* of the first failure, for the summary */
	time_t start;                     /* CLOCK_MONOTONIC seconds */
	unsigned seen;                    /* failures in the interval */
	unsigned untold;                  /* ... not written yet */
};

#define AUTH_SLOTS    256
/* Space reserved ahead of the end of the file (docs/audit.md §5). */
#define RESERVE_CHUNK 16384
/* Most records in one batch (one write). */
#define BATCH_MAX     128
/* Room on a request's stack for its line's members; longer ones (fields
 * full of escapes) go to the heap. */
#define MID_INLINE    768
#define B64_HASH_LEN  43 /* unpadded base64url of 32 bytes */

/* A growing line buffer: on a caller's array, moved to the heap (grow)
 * when it runs out, or fixed (over set instead). */
struct lb {
	char *p;
	size_t len, cap;
	int heap; /* p was allocated here */
	int grow; /* may move to the heap */
	int over; /* ran out of room (or memory) */
};

/* A queued record: on the requesting thread's stack while it waits. */
struct entry {
	struct entry *next;
	struct lb mid; /* "time":...,"latency_us":N, (with the comma) */
	int done;
	pv_err r;
	char detail[200];
};

struct pv_audit {
	pthread_mutex_t mu;
	pthread_cond_t cv;    /* busy cleared, entries done */
	pthread_cond_t cp_cv; /* cp_req or stop set */
	pthread_t cp_thread;
	int cp_started;
	int busy;                 /* someone owns the chain (see above) */
	int cp_req;               /* the checkpoint thread owns it */
	int stop;                 /* the checkpoint thread ends */
	pv_err sync_err;          /* a background fsync failed: fails the next batch */
	struct entry *q, **qtail; /* waiting records, in arrival order */

	int fd;
	char *path;
	pv_keystore *ks;
	struct pv_audit_mac mac; /* when ks is NULL */
	char *hmac_key;
	unsigned every;
	unsigned seconds;
	pv_audit_fsync fsync;
	int use_syslog;
	uint8_t head[PV_AUDIT_HASH_LEN]; /* H(last line): the next line's prev */
	uint64_t next_seq;
	uint64_t since_cp;
	struct timespec last_cp; /* CLOCK_MONOTONIC */
	off_t size;              /* bytes of complete lines in the file */
	int torn;                /* a failed write may have left bytes after size */
	off_t reserved;          /* allocated up to here (fallocate, beyond size) */
	int no_reserve;          /* the file system cannot reserve */
	int deferred;            /* a deferred line since the last checkpoint */
	int need_open;           /* a new file (rotation) wants its open line */
	int need_cp;             /* the line after an open line is a checkpoint */
	uint64_t dropped;        /* bytes of a torn line dropped at open */
	struct auth_slot *auth;  /* AUTH_SLOTS, allocated at the first failure */
	atomic_llong auth_due;   /* earliest interval end with untold failures */
	struct lb batch;         /* the lines of the batch being written */
};

/* ---- formatting ---- */

static void
lb_init(struct lb *b, char *p, size_t cap, int grow)
{
	memset(b, 0, sizeof(*b));
	b->p = p;
	b->cap = cap;
	b->grow = grow;
}

static void
lb_free(struct lb *b)
{
	if (b->heap)
		free(b->p);
	b->p = NULL;
	b->heap = 0;
	b->len = b->cap = 0;
}

/* Room for n more bytes. */
static int
lb_room(struct lb *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->over)
		return 0;
	if (b->cap - b->len >= n)
		return 1;
	if (!b->grow || n > SIZE_MAX / 4 - b->len) {
		b->over = 1;
		return 0;
	}
	cap = b->cap < 256 ? 512 : b->cap;
	while (cap - b->len < n)
		cap *= 2;
	if (b->heap)
		p = realloc(b->p, cap);
	else if ((p = malloc(cap)) != NULL && b->len > 0)
		memcpy(p, b->p, b->len);
	if (p == NULL) {
		b->over = 1;
		return 0;
	}
	b->p = p;
	b->cap = cap;
	b->heap = 1;
	return 1;
}

static void
lb_put(struct lb *b, const char *s, size_t n)
{
	if (lb_room(b, n)) {
		memcpy(b->p + b->len, s, n);
		b->len += n;
	}
}

#define LB_LIT(b, s) lb_put((b), (s), sizeof(s) - 1)

static void
lb_u64(struct lb *b, uint64_t n)
{
	char d[20];
	size_t i = sizeof(d);

	do {
		d[--i] = (char)('0' + n % 10);
		n /= 10;
	} while (n > 0);
	lb_put(b, d + i, sizeof(d) - i);
}

/*
 * A JSON string exactly as cJSON's printer writes it (docs/audit.md §1:
 * one spelling per line): " and \ escaped, \b \f \n \r \t, other bytes
 * below 0x20 as \u00xx, every other byte as it is. NULL: "".
 */
static void
lb_str(struct lb *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)(s != NULL ? s : "");
	size_t run;

	LB_LIT(b, "\"");
	for (;;) {
		for (run = 0; u[run] >= 0x20 && u[run] != '"' && u[run] != '\\'; run++)
			;
		lb_put(b, (const char *)u, run);
		u += run;
		if (*u == '\0')
			break;
		switch (*u) {
		case '"':
			LB_LIT(b, "\\\"");
			break;
		case '\\':
			LB_LIT(b, "\\\\");
			break;
		case '\b':
			LB_LIT(b, "\\b");
			break;
		case '\f':
			LB_LIT(b, "\\f");
			break;
		case '\n':
			LB_LIT(b, "\\n");
			break;
		case '\r':
			LB_LIT(b, "\\r");
			break;
		case '\t':
			LB_LIT(b, "\\t");
			break;
		default: {
			char e[6] = {'\\', 'u', '0', '0', hex[*u >> 4], hex[*u & 15]};

			lb_put(b, e, sizeof(e));
		}
		}
		u++;
	}
	LB_LIT(b, "\"");
}

/* 32 bytes as a quoted unpadded base64url string. */
static void
lb_b64(struct lb *b, const uint8_t bin[PV_AUDIT_HASH_LEN])
{
	char s[B64_HASH_LEN + 1];

	sodium_bin2base64(s, sizeof(s), bin, PV_AUDIT_HASH_LEN, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	LB_LIT(b, "\"");
	lb_put(b, s, B64_HASH_LEN);
	LB_LIT(b, "\"");
}

static void
put2(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 10 % 10);
	p[1] = (char)('0' + v % 10);
}

/* "time":"2026-11-23T14:00:00.123Z", */
static void
lb_time(struct lb *b)
{
	struct timespec ts;
	struct tm tm;
	char t[TIME_LEN] = "0000-00-00T00:00:00.000Z";
	unsigned y, ms;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	if (gmtime_r(&ts.tv_sec, &tm) != NULL && tm.tm_year + 1900 >= 0 && tm.tm_year + 1900 <= 9999) {
		y = (unsigned)(tm.tm_year + 1900);
		put2(t, y / 100);
		put2(t + 2, y % 100);
		put2(t + 5, (unsigned)tm.tm_mon + 1);
		put2(t + 8, (unsigned)tm.tm_mday);
		put2(t + 11, (unsigned)tm.tm_hour);
		put2(t + 14, (unsigned)tm.tm_min);
		put2(t + 17, (unsigned)tm.tm_sec % 100);
		ms = (unsigned)(ts.tv_nsec / 1000000L) % 1000u;
		t[20] = (char)('0' + ms / 100);
		put2(t + 21, ms % 100);
	}
	LB_LIT(b, "\"time\":\"");
	lb_put(b, t, TIME_LEN);
	LB_LIT(b, "\",");
}

/*
 * Append one whole line to b and advance the chain position (*head,
 * *seq): {["type":"T",]"seq":N,<mid>"prev":"<head>"<tail>}\n. mid holds
 * the members between seq and prev, each followed by a comma.
 */
static pv_err
lb_line(struct lb *b, const char *type, uint8_t head[PV_AUDIT_HASH_LEN], uint64_t *seq, const char *mid,
	size_t midlen, const char *tail, size_t taillen)
{
	size_t start = b->len;

	LB_LIT(b, "{");
	if (type != NULL) {
		LB_LIT(b, "\"type\":\"");
		lb_put(b, type, strlen(type));
		LB_LIT(b, "\",");
	}
	LB_LIT(b, "\"seq\":");
	lb_u64(b, *seq);
	LB_LIT(b, ",");
	lb_put(b, mid, midlen);
	LB_LIT(b, "\"prev\":");
	lb_b64(b, head);
	lb_put(b, tail, taillen);
	LB_LIT(b, "}");
	if (b->over)
		return PV_ERR_NOMEM;
	if (b->len - start > PV_AUDIT_LINE_MAX) {
		pv_err_set_detail("audit line of %zu bytes", b->len - start);
		b->len = start;
		return PV_ERR_TOO_LARGE;
	}
	if (pv_audit_line_hash((const uint8_t *)b->p + start, b->len - start, head) != PV_OK)
		return PV_ERR_CRYPTO;
	(*seq)++;
	LB_LIT(b, "\n");
	return b->over ? PV_ERR_NOMEM : PV_OK;
}

/* ---- the file ---- */

/*
 * Cut what a failed write left after the last complete line, so that the
 * next line follows it (a full disk, EIO, a quota). Called owning the log.
 */
static pv_err
cut_torn(pv_audit *a)
{
	if (!a->torn)
		return PV_OK;
	if (ftruncate(a->fd, a->size) != 0) {
		pv_err_set_detail("cutting a partly written audit line: %s", strerror(errno));
		return PV_ERR_IO;
	}
	a->torn = 0;
	a->reserved = a->size; /* truncating freed what was reserved */
	return PV_OK;
}

/*
 * Make sure the next len bytes have blocks, so that a full disk fails here,
 * before anything is written, rather than in the middle of a line: a chunk
 * ahead when there is room, else just len. A file system that cannot
 * reserve (EOPNOTSUPP) is written without. Called owning the log.
 */
static pv_err
reserve(pv_audit *a, size_t len)
{
#ifdef FALLOC_FL_KEEP_SIZE
	off_t chunk = len > RESERVE_CHUNK ? (off_t)len + RESERVE_CHUNK : RESERVE_CHUNK;
	int e;

	if (a->no_reserve || a->size + (off_t)len <= a->reserved)
		return PV_OK;
	if (fallocate(a->fd, FALLOC_FL_KEEP_SIZE, a->size, chunk) == 0) {
		a->reserved = a->size + chunk;
		return PV_OK;
	}
	e = errno;
	if (e == ENOSPC || e == EDQUOT) {
		if (fallocate(a->fd, FALLOC_FL_KEEP_SIZE, a->size, (off_t)len) == 0) {
			a->reserved = a->size + (off_t)len;
			return PV_OK;
		}
		e = errno;
	}
	if (e == EOPNOTSUPP || e == ENOSYS || e == EINVAL) {
		a->no_reserve = 1;
		return PV_OK;
	}
	pv_err_set_detail("writing the audit log: %s", strerror(e));
	return PV_ERR_IO;
#else
	(void)a;
	(void)len;
	return PV_OK;
#endif
}

/* Give back what was reserved beyond the end (closing or rotating). */
static void
release_reserve(pv_audit *a)
{
	/* best effort: what stays reserved is only space, not content */
	if (a->fd >= 0 && a->reserved > a->size && ftruncate(a->fd, a->size) != 0)
		pv_err_clear_detail();
	a->reserved = 0;
}

static pv_err
sync_if(pv_audit *a, int checkpoint)
{
	if (a->fd >= 0 &&
	    (a->fsync == PV_AUDIT_FSYNC_EVERY || (checkpoint && a->fsync == PV_AUDIT_FSYNC_CHECKPOINT))) {
		if (fsync(a->fd) != 0) {
			pv_err_set_detail("fsync of the audit log: %s", strerror(errno));
			return PV_ERR_IO;
		}
	}
	return PV_OK;
}

/*
 * Append the complete lines in b (chain position head/seq after them) in
 * one write(2) and make them the chain. A failed or short write changes
 * nothing: the chain stays at the last complete line and what reached the
 * file is cut (now or before the next line), so writing resumes when the
 * disk does. With fsync "every", synced before it returns. Called owning
 * the log.
 */
static pv_err
commit(pv_audit *a, const struct lb *b, const uint8_t head[PV_AUDIT_HASH_LEN], uint64_t seq)
{
	const char *p, *nl;
	ssize_t w = (ssize_t)b->len;
	size_t done = 0;
	pv_err r;

	/* syslog only (no file): the chain is still computed, for the
	 * checkpoints that go to syslog with the lines */
	if (a->fd >= 0 && ((r = cut_torn(a)) != PV_OK || (r = reserve(a, b->len)) != PV_OK))
		return r;
	while (a->fd >= 0 && (w = write(a->fd, b->p, b->len)) < 0 && errno == EINTR)
		;
	if (w != (ssize_t)b->len) {
		int e = w < 0 ? errno : ENOSPC;

		a->torn = 1;
		(void)cut_torn(a); /* else before the next line */
		pv_err_set_detail("writing the audit log: %s", strerror(e));
		return PV_ERR_IO;
	}
	if (a->fd >= 0)
		a->size += (off_t)b->len;
	memcpy(a->head, head, PV_AUDIT_HASH_LEN);
	a->next_seq = seq;
	if (a->use_syslog) {
		for (p = b->p; done < b->len; p = nl + 1) {
			nl = memchr(p, '\n', b->len - done);
			syslog(LOG_AUTHPRIV | LOG_INFO, "%.*s", (int)(nl - p), p);
			done += (size_t)(nl - p) + 1;
		}
	}
	return sync_if(a, 0);
}

/* One line that is not a record: build it and commit it alone. */
static pv_err
emit(pv_audit *a, const char *type, const char *mid, size_t midlen, const char *tail, size_t taillen)
{
	char buf[1024];
	struct lb b;
	uint8_t head[PV_AUDIT_HASH_LEN];
	uint64_t seq = a->next_seq;
	pv_err r;

	lb_init(&b, buf, sizeof(buf), 0);
	memcpy(head, a->head, sizeof(head));
	if ((r = lb_line(&b, type, head, &seq, mid, midlen, tail, taillen)) != PV_OK)
		return r;
	return commit(a, &b, head, seq);
}

/* ---- lines other than records ---- */

static pv_err
write_checkpoint_sync(pv_audit *a, int sync)
{
	struct pv_sign_opts o = {0};
	struct pv_sig sig;
	uint8_t msg[MAC_MSG_LEN];
	char mbuf[128], tbuf[96];
	struct lb mid, tail;
	pv_err r;

	pv_audit_mac_message(a->head, a->next_seq, msg);
	o.purpose = PV_PURPOSE_AUDIT;
	o.digest = PV_DIGEST_NONE;
	if (a->ks == NULL) {
		memset(&sig, 0, sizeof(sig));
		if ((r = a->mac.mac(a->mac.ctx, msg, sizeof(msg), sig.bytes, &sig.version)) != PV_OK)
			return r;
		sig.len = PV_AUDIT_HASH_LEN;
	} else if ((r = pv_sign(a->ks, a->hmac_key, &o, msg, sizeof(msg), &sig)) != PV_OK)
		return r;
	if (sig.len != PV_AUDIT_HASH_LEN) {
		pv_err_set_detail("audit key '%s' is not an hmac-sha256 key", a->hmac_key);
		return PV_ERR_KEY_TYPE;
	}
	lb_init(&mid, mbuf, sizeof(mbuf), 0);
	lb_time(&mid);
	LB_LIT(&mid, "\"key_version\":");
	lb_u64(&mid, sig.version);
	LB_LIT(&mid, ",");
	lb_init(&tail, tbuf, sizeof(tbuf), 0);
	LB_LIT(&tail, ",\"mac\":");
	lb_b64(&tail, sig.bytes);
	if (mid.over || tail.over)
		return PV_ERR_INTERNAL;
	if ((r = emit(a, "checkpoint", mid.p, mid.len, tail.p, tail.len)) != PV_OK)
		return r;
	a->since_cp = 0;
	a->deferred = 0;
	a->need_cp = 0;
	(void)clock_gettime(CLOCK_MONOTONIC, &a->last_cp);
	return sync && a->fsync == PV_AUDIT_FSYNC_CHECKPOINT ? sync_if(a, 1) : PV_OK;
}

static pv_err
write_checkpoint(pv_audit *a)
{
	return write_checkpoint_sync(a, 1);
}

/* A line with only type, seq, time, [dropped,] prev. */
static pv_err
write_marker(pv_audit *a, const char *type, uint64_t dropped)
{
	char mbuf[128];
	struct lb mid;

	lb_init(&mid, mbuf, sizeof(mbuf), 0);
	lb_time(&mid);
	if (dropped > 0) {
		LB_LIT(&mid, "\"dropped\":");
		lb_u64(&mid, dropped);
		LB_LIT(&mid, ",");
	}
	if (mid.over)
		return PV_ERR_INTERNAL;
	return emit(a, type, mid.p, mid.len, "", 0);
}

/* The token could not make the MAC, but may again (docs/api.md §3). */
static int
token_error(pv_err r)
{
	return r == PV_ERR_TOKEN_UNAVAILABLE || r == PV_ERR_TOKEN_NOT_FOUND || r == PV_ERR_MODULE_LOAD ||
	       r == PV_ERR_NOT_LOGGED_IN || r == PV_ERR_SESSION || r == PV_ERR_BUSY || r == PV_ERR_PKCS11;
}

/*
 * A due checkpoint, or, while the token cannot make it, one deferred line
 * (docs/audit.md §2 rule 4): the chain goes on and the checkpoint is
 * written as soon as the MAC works again. sync: fsync after a checkpoint
 * here (else the caller does). *made: a checkpoint was written.
 */
static pv_err
checkpoint_or_defer_sync(pv_audit *a, int sync, int *made)
{
	pv_err r = write_checkpoint_sync(a, sync);

	*made = r == PV_OK;
	if (r == PV_OK || !token_error(r))
		return r;
	if (a->deferred)
		return PV_OK;
	if ((r = write_marker(a, "deferred", 0)) != PV_OK)
		return r;
	a->deferred = 1;
	a->need_cp = 0;
	return PV_OK;
}

static pv_err
checkpoint_or_defer(pv_audit *a)
{
	int made;

	return checkpoint_or_defer_sync(a, 1, &made);
}

/* The open line alone; the caller writes the checkpoint after it. */
static pv_err
write_open_line(pv_audit *a)
{
	uint8_t id[LOG_ID_LEN];
	char mbuf[160], s[LOG_ID_LEN * 2];
	struct lb mid;
	pv_err r;

	randombytes_buf(id, sizeof(id));
	lb_init(&mid, mbuf, sizeof(mbuf), 0);
	lb_time(&mid);
	LB_LIT(&mid, "\"log\":\"");
	sodium_bin2base64(s, sizeof(s), id, sizeof(id), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	lb_put(&mid, s, strlen(s));
	LB_LIT(&mid, "\",\"every\":");
	lb_u64(&mid, a->every);
	LB_LIT(&mid, ",");
	if (mid.over)
		return PV_ERR_INTERNAL;
	if ((r = emit(a, "open", mid.p, mid.len, "", 0)) != PV_OK)
		return r;
	a->need_open = 0;
	a->need_cp = 1;
	a->deferred = 0;
	return PV_OK;
}

static pv_err
write_open(pv_audit *a)
{
	pv_err r;

	if ((r = write_open_line(a)) != PV_OK)
		goto out;
	r = write_checkpoint(a);
	if (r == PV_OK && a->dropped > 0 && (r = write_marker(a, "recovered", a->dropped)) == PV_OK)
		r = write_checkpoint(a);
out:
	return r;
}

/* A rotated file's open line and checkpoint, when they are still due. */
static pv_err
continue_file(pv_audit *a)
{
	pv_err r = PV_OK;

	if (a->need_open && (r = write_open_line(a)) != PV_OK)
		return r;
	if (a->need_cp)
		r = checkpoint_or_defer(a);
	return r;
}

static pv_err
read_all_at(int fd, uint8_t *buf, size_t len, off_t off)
{
	ssize_t got;
	size_t done = 0;

	while (done < len) {
		got = pread(fd, buf + done, len - done, off + (off_t)done);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			pv_err_set_detail("reading the audit log: %s",
					  got < 0 ? strerror(errno) : "end of file");
			return PV_ERR_IO;
		}
		done += (size_t)got;
	}
	return PV_OK;
}

static pv_err tail_bad(const char *fmt, ...) PV_PRINTF(1, 2);

static pv_err
tail_bad(const char *fmt, ...)
{
	char why[200];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	pv_err_set_detail("existing audit log: %s", why);
	return PV_ERR_INTEGRITY;
}

/*
 * A last line without its newline (a full disk, a crash, a power loss
 * while writing it) is cut off; *size becomes the end of the last complete
 * line and a->dropped what was cut (written as a recovered line).
 */
static pv_err
cut_torn_tail(pv_audit *a, off_t *size)
{
	/* a torn line is a write of at most the longest line, cut short */
	size_t most = PV_AUDIT_LINE_MAX + 1;
	size_t want = (size_t)*size < most ? (size_t)*size : most;
	uint8_t *buf = NULL, *p;
	off_t keep;
	pv_err r;

	if ((buf = malloc(want)) == NULL)
		return PV_ERR_NOMEM;
	if ((r = read_all_at(a->fd, buf, want, *size - (off_t)want)) != PV_OK || buf[want - 1] == '\n')
		goto out;
	p = memrchr(buf, '\n', want);
	if (p == NULL && want < (size_t)*size) {
		r = tail_bad("the last line has no newline and is longer than %d bytes", PV_AUDIT_LINE_MAX);
		goto out;
	}
	keep = p != NULL ? *size - (off_t)want + (off_t)(p - buf) + 1 : 0;
	if (ftruncate(a->fd, keep) != 0 || fsync(a->fd) != 0) {
		pv_err_set_detail("cutting the torn last line of the audit log: %s", strerror(errno));
		r = PV_ERR_IO;
		goto out;
	}
	a->dropped = (uint64_t)(*size - keep);
	*size = keep;
out:
	free(buf);
	return r;
}

/* Continue the chain of a non-empty file: its last two lines must chain. */
static pv_err
resume_tail(pv_audit *a, off_t size)
{
	/* two longest lines with their newlines, and the newline before them */
	size_t most = 2 * (PV_AUDIT_LINE_MAX + 1) + 1;
	size_t want = (size_t)size < most ? (size_t)size : most;
	uint8_t *buf = NULL, *p;
	size_t last, end, prev = 0;
	struct aline l, pl;
	uint8_t h[PV_AUDIT_HASH_LEN];
	char why[160];
	int whole = want == (size_t)size;
	pv_err r;

	if ((buf = malloc(want)) == NULL)
		return PV_ERR_NOMEM;
	if ((r = read_all_at(a->fd, buf, want, size - (off_t)want)) != PV_OK)
		goto out;
	end = want - 1;
	if (buf[end] != '\n') {
		r = tail_bad("the last line has no newline (an interrupted write?)");
		goto out;
	}
	p = memrchr(buf, '\n', end);
	last = p != NULL ? (size_t)(p - buf) + 1 : 0;
	if (p == NULL && !whole) {
		r = tail_bad("the last line is longer than %d bytes", PV_AUDIT_LINE_MAX);
		goto out;
	}
	if (pv_audit_line_parse(buf + last, end - last, &l, why, sizeof(why)) != 0) {
		r = tail_bad("last line: %s", why);
		goto out;
	}
	if (last > 0) {
		p = last > 1 ? memrchr(buf, '\n', last - 1) : NULL;
		prev = p != NULL ? (size_t)(p - buf) + 1 : 0;
		if (p == NULL && !whole) {
			r = tail_bad("the last but one line is longer than %d bytes", PV_AUDIT_LINE_MAX);
			goto out;
		}
		if (pv_audit_line_parse(buf + prev, last - 1 - prev, &pl, why, sizeof(why)) != 0) {
			r = tail_bad("last but one line: %s", why);
			goto out;
		}
		if ((r = pv_audit_line_hash(buf + prev, last - 1 - prev, h)) != PV_OK)
			goto out;
		if (sodium_memcmp(h, l.prev, sizeof(h)) != 0 || l.seq != pl.seq + 1) {
			r = tail_bad("the last two lines do not chain");
			goto out;
		}
	} else if (l.kind != LINE_OPEN) {
		r = tail_bad("the only line is not an open line");
		goto out;
	}
	if (l.seq >= (uint64_t)INT_LIMIT - 2) {
		r = tail_bad("seq is exhausted");
		goto out;
	}
	if ((r = pv_audit_line_hash(buf + last, end - last, a->head)) != PV_OK)
		goto out;
	a->next_seq = l.seq + 1;
out:
	free(buf);
	return r;
}

static void
audit_free(pv_audit *a)
{
	if (a == NULL)
		return;
	if (a->fd >= 0)
		(void)close(a->fd);
	lb_free(&a->batch);
	free(a->path);
	free(a->auth);
	free(a->hmac_key);
	free(a);
}

static void *cp_main(void *arg);

pv_err
pv_audit_open(const struct pv_audit_opts *o, pv_audit **out)
{
	pv_audit *a = NULL;
	struct pv_key *key = NULL;
	struct stat sb;
	int inited = 0;
	pv_err r;

	if (out == NULL || o == NULL || (o->path == NULL && !o->syslog) ||
	    (o->ks == NULL && o->mac.mac == NULL) || o->hmac_key == NULL || o->every > PV_AUDIT_EVERY_MAX ||
	    o->first_seq >= (uint64_t)INT_LIMIT - 2)
		return PV_ERR_USAGE;
	*out = NULL;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return PV_ERR_NOMEM;
	a->fd = -1;
	a->ks = o->ks;
	a->mac = o->mac;
	a->every = o->every != 0 ? o->every : 100;
	a->seconds = o->seconds;
	a->fsync = o->fsync;
	a->use_syslog = o->syslog;
	a->qtail = &a->q;
	atomic_init(&a->auth_due, 0);
	lb_init(&a->batch, NULL, 0, 1);
	if ((a->hmac_key = strdup(o->hmac_key)) == NULL ||
	    (o->path != NULL && (a->path = strdup(o->path)) == NULL)) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	if (o->path == NULL) {
		/* syslog only: a new chain from zero at every start */
		memset(&sb, 0, sizeof(sb));
	} else if ((a->fd = open(o->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		pv_err_set_detail("%s: %s", o->path, strerror(errno));
		r = PV_ERR_IO;
		goto out;
	}
	if (a->fd >= 0 && flock(a->fd, LOCK_EX | LOCK_NB) != 0) {
		pv_err_set_detail("%s: %s", o->path,
				  errno == EWOULDBLOCK ? "another writer has it open" : strerror(errno));
		r = errno == EWOULDBLOCK ? PV_ERR_BUSY : PV_ERR_IO;
		goto out;
	}
	if (a->fd >= 0 && (fstat(a->fd, &sb) != 0 || !S_ISREG(sb.st_mode))) {
		pv_err_set_detail("%s: not a regular file", o->path);
		r = PV_ERR_USAGE;
		goto out;
	}
	/* refuse a wrong key before writing anything (the MAC callback's
	 * owner checked its key) */
	if (a->ks != NULL && (r = pv_keys_get(a->ks, a->hmac_key, &key)) != PV_OK)
		goto out;
	if (key != NULL && key->alg != PV_ALG_HMAC_SHA256) {
		pv_err_set_detail("audit key '%s' is not an hmac-sha256 key", a->hmac_key);
		r = PV_ERR_KEY_TYPE;
		goto out;
	}
	if (key != NULL && (r = pv_key_check_purpose(key, PV_PURPOSE_AUDIT)) != PV_OK)
		goto out;
	if (sb.st_size > 0 && (r = cut_torn_tail(a, &sb.st_size)) != PV_OK)
		goto out;
	a->size = sb.st_size;
	if (sb.st_size == 0) {
		if (o->rotated_from != NULL)
			memcpy(a->head, o->rotated_from, PV_AUDIT_HASH_LEN);
		a->next_seq = o->first_seq;
	} else if ((r = resume_tail(a, sb.st_size)) != PV_OK)
		goto out;
	if (a->use_syslog)
		openlog("p11vault-audit", LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);
	if ((r = write_open(a)) != PV_OK)
		goto out;
	if (pthread_mutex_init(&a->mu, NULL) != 0) {
		r = PV_ERR_INTERNAL;
		goto out;
	}
	inited = 1;
	if (pthread_cond_init(&a->cv, NULL) != 0) {
		r = PV_ERR_INTERNAL;
		goto out;
	}
	inited = 2;
	if (pthread_cond_init(&a->cp_cv, NULL) != 0) {
		r = PV_ERR_INTERNAL;
		goto out;
	}
	inited = 3;
	if (pthread_create(&a->cp_thread, NULL, cp_main, a) != 0) {
		pv_err_set_detail("starting the audit checkpoint thread: %s", strerror(errno));
		r = PV_ERR_INTERNAL;
		goto out;
	}
	a->cp_started = 1;
	*out = a;
	a = NULL;
out:
	pv_key_free(key);
	if (a != NULL && a->use_syslog)
		closelog();
	if (a != NULL && inited >= 3)
		pthread_cond_destroy(&a->cp_cv);
	if (a != NULL && inited >= 2)
		pthread_cond_destroy(&a->cv);
	if (a != NULL && inited >= 1)
		pthread_mutex_destroy(&a->mu);
	audit_free(a);
	return r;
}

static int
checkpoint_due(const pv_audit *a)
{
	struct timespec now;

	if (a->since_cp >= a->every)
		return 1;
	if (a->seconds == 0 || a->since_cp == 0)
		return 0;
	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec - a->last_cp.tv_sec >= (time_t)a->seconds;
}

static const char *
outcome_name(pv_audit_outcome o)
{
	switch (o) {
	case PV_AUDIT_OK:
		return "ok";
	case PV_AUDIT_DENIED:
		return "denied";
	case PV_AUDIT_ERROR:
		return "error";
	}
	return NULL;
}

static int
field_ok(const char *s)
{
	return s == NULL || strlen(s) <= PV_AUDIT_FIELD_MAX;
}

/*
 * A record's members from time to latency_us (each with its comma) into
 * b: everything of its line that does not depend on the chain, so that it
 * is made by the request's own thread, before it queues.
 */
static pv_err
record_mid(const struct pv_audit_rec *rec, struct lb *b)
{
	uint8_t h[PV_DIGEST_MAX_LEN];
	size_t hlen = 0;
	pv_err r;

	/* OpenSSL's SHA-256 (SHA-NI where the CPU has it): about twice as
	 * fast here as libsodium's portable one */
	if ((r = pv_digest_compute(PV_DIGEST_SHA256, rec->input != NULL ? rec->input : (const uint8_t *)"",
				   rec->input != NULL ? rec->input_len : 0, h, &hlen)) != PV_OK)
		return r;
	if (hlen != PV_AUDIT_HASH_LEN)
		return PV_ERR_INTERNAL;
	lb_time(b);
	LB_LIT(b, "\"rid\":");
	lb_str(b, rec->rid);
	LB_LIT(b, ",\"client\":");
	lb_str(b, rec->client);
	LB_LIT(b, ",\"op\":");
	lb_str(b, rec->op);
	LB_LIT(b, ",\"key\":");
	lb_str(b, rec->key);
	LB_LIT(b, ",\"version\":");
	lb_u64(b, rec->version);
	LB_LIT(b, ",\"input_sha256\":");
	lb_b64(b, h);
	/* a batch: each item's hash, in the request's order */
	if (rec->n_inputs > 0) {
		LB_LIT(b, ",\"inputs_sha256\":[");
		for (size_t i = 0; i < rec->n_inputs; i++) {
			if (i > 0)
				LB_LIT(b, ",");
			lb_b64(b, rec->inputs_sha256 + i * PV_AUDIT_HASH_LEN);
		}
		LB_LIT(b, "]");
	}
	if (rec->tx != NULL) {
		LB_LIT(b, ",\"tx\":");
		lb_str(b, rec->tx);
	}
	if (rec->chain_id != 0) {
		LB_LIT(b, ",\"chain_id\":");
		lb_u64(b, rec->chain_id);
	}
	if (rec->count > 1) {
		LB_LIT(b, ",\"count\":");
		lb_u64(b, rec->count);
	}
	LB_LIT(b, ",\"outcome\":\"");
	lb_put(b, outcome_name(rec->outcome), strlen(outcome_name(rec->outcome)));
	LB_LIT(b, "\",\"status\":");
	lb_u64(b, rec->status);
	LB_LIT(b, ",\"latency_us\":");
	lb_u64(b, rec->latency_us);
	LB_LIT(b, ",");
	return b->over ? PV_ERR_NOMEM : PV_OK;
}

static int
record_ok(const struct pv_audit_rec *rec)
{
	if (outcome_name(rec->outcome) == NULL || rec->status > 999 ||
	    rec->latency_us > (uint64_t)INT_LIMIT || !field_ok(rec->rid) || !field_ok(rec->client) ||
	    !field_ok(rec->op) || !field_ok(rec->key) || (rec->input == NULL && rec->input_len > 0) ||
	    !field_ok(rec->tx) || (rec->tx != NULL && rec->tx[0] == '\0') ||
	    rec->chain_id > PV_AUDIT_INT_MAX || rec->count > PV_AUDIT_INT_MAX ||
	    rec->n_inputs > PV_AUDIT_INPUTS_MAX || (rec->n_inputs > 0 && rec->inputs_sha256 == NULL)) {
		pv_err_set_detail("audit record out of range (fields are at most %d bytes, chain ids at most "
				  "10^15-1)",
				  PV_AUDIT_FIELD_MAX);
		return 0;
	}
	return 1;
}

/*
 * The records whose members are mids[0..n) as one batch: lines chained
 * after the head, one write. PV_OK: all of them are in the file (and the
 * chain); else none of them is. Called owning the log.
 */
static pv_err
write_records(pv_audit *a, const struct lb *const *mids, size_t n)
{
	uint8_t head[PV_AUDIT_HASH_LEN];
	uint64_t seq = a->next_seq;
	size_t i;
	pv_err r;

	if (seq + n >= (uint64_t)INT_LIMIT - 2) {
		pv_err_set_detail("audit seq exhausted: rotate the log");
		return PV_ERR_TOO_LARGE;
	}
	memcpy(head, a->head, sizeof(head));
	a->batch.len = 0;
	a->batch.over = 0;
	for (i = 0; i < n; i++)
		if ((r = lb_line(&a->batch, NULL, head, &seq, mids[i]->p, mids[i]->len, "", 0)) != PV_OK)
			return r;
	if ((r = commit(a, &a->batch, head, seq)) != PV_OK)
		return r;
	a->since_cp += n;
	/* a big burst of records leaves no big buffer behind */
	if (a->batch.cap > 1024 * 1024)
		lb_free(&a->batch);
	return PV_OK;
}

/* One record written alone, with the checkpoints around it, all on the
 * caller's thread (failed authentications and their summaries). Called
 * owning the log. */
static pv_err
write_record_now(pv_audit *a, const struct pv_audit_rec *rec)
{
	char buf[MID_INLINE];
	struct lb mid;
	const struct lb *one = &mid;
	pv_err r;

	lb_init(&mid, buf, sizeof(buf), 1);
	if ((r = continue_file(a)) != PV_OK)
		goto out;
	/* never more than `every` records without a checkpoint, or a deferred
	 * line saying why: fail closed */
	if (checkpoint_due(a) && (r = checkpoint_or_defer(a)) != PV_OK)
		goto out;
	if ((r = record_mid(rec, &mid)) != PV_OK || (r = write_records(a, &one, 1)) != PV_OK)
		goto out;
	/* a failure here is retried before the next record */
	if (checkpoint_due(a))
		(void)checkpoint_or_defer(a);
	r = PV_OK;
out:
	lb_free(&mid);
	return r;
}

/* ---- owning the log ---- */

/* Wait until nobody owns the log and own it (not for a batch). */
static void
lead_acquire(pv_audit *a)
{
	pthread_mutex_lock(&a->mu);
	while (a->busy)
		pthread_cond_wait(&a->cv, &a->mu);
	a->busy = 1;
	pthread_mutex_unlock(&a->mu);
}

static void
lead_release(pv_audit *a)
{
	pthread_mutex_lock(&a->mu);
	a->busy = 0;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
}

/*
 * Lead one batch: called with mu held and busy just set; returns with mu
 * held, busy cleared or handed to the checkpoint thread, the batch's
 * entries done and their threads woken.
 */
static void
lead_batch(pv_audit *a)
{
	const struct lb *mids[BATCH_MAX];
	struct entry *list, *e;
	char detail[sizeof(list->detail)] = "";
	size_t n = 0, room;
	int cp;
	pv_err r;

	r = a->sync_err;
	a->sync_err = PV_OK;
	pthread_mutex_unlock(&a->mu);
	if (r != PV_OK)
		pv_err_set_detail("fsync of the audit log failed");
	/* rare: a rotated file's first lines, or a checkpoint that is over
	 * due because the checkpoint thread could not write it (the records
	 * wait for it: fail closed) */
	if (r == PV_OK)
		r = continue_file(a);
	if (r == PV_OK && a->since_cp >= a->every && !a->deferred)
		r = checkpoint_or_defer(a);
	if (r != PV_OK)
		snprintf(detail, sizeof(detail), "%s", pv_err_detail());
	room = a->deferred || a->since_cp >= a->every ? BATCH_MAX : a->every - a->since_cp;
	if (room > BATCH_MAX)
		room = BATCH_MAX;

	pthread_mutex_lock(&a->mu);
	list = a->q;
	for (e = list; e != NULL && n < room; e = e->next)
		mids[n++] = &e->mid;
	/* e: the first entry left for the next batch */
	a->q = e;
	if (e == NULL)
		a->qtail = &a->q;
	pthread_mutex_unlock(&a->mu);

	if (r == PV_OK && (r = write_records(a, mids, n)) != PV_OK)
		snprintf(detail, sizeof(detail), "%s", pv_err_detail());
	cp = r == PV_OK && checkpoint_due(a);

	pthread_mutex_lock(&a->mu);
	for (e = list; n > 0; n--, e = e->next) {
		e->r = r;
		memcpy(e->detail, detail, sizeof(detail));
		e->done = 1;
	}
	if (cp) {
		a->cp_req = 1;
		pthread_cond_signal(&a->cp_cv);
	} else
		a->busy = 0;
	pthread_cond_broadcast(&a->cv);
}

/*
 * The checkpoint thread: makes the checkpoints that batches leave due,
 * owning the log from the batch that handed it over; lets the next batch
 * go once the line is written, then fsyncs a copy of the descriptor.
 */
static void *
cp_main(void *arg)
{
	pv_audit *a = arg;
	int made = 0, fd;
	pv_err r;

	pthread_mutex_lock(&a->mu);
	for (;;) {
		if (!a->cp_req) {
			if (a->stop)
				break;
			pthread_cond_wait(&a->cp_cv, &a->mu);
			continue;
		}
		pthread_mutex_unlock(&a->mu);
		r = checkpoint_or_defer_sync(a, 0, &made);
		fd = -1;
		if (r == PV_OK && made && a->fd >= 0 && a->fsync == PV_AUDIT_FSYNC_CHECKPOINT &&
		    (fd = fcntl(a->fd, F_DUPFD_CLOEXEC, 0)) < 0 && fsync(a->fd) != 0)
			r = PV_ERR_IO;
		pthread_mutex_lock(&a->mu);
		if (r == PV_ERR_IO && fd < 0 && made)
			a->sync_err = PV_ERR_IO;
		a->cp_req = 0;
		a->busy = 0;
		pthread_cond_broadcast(&a->cv);
		pthread_mutex_unlock(&a->mu);
		/* the checkpoint is durable; the records after it need not wait */
		if (fd >= 0) {
			r = fsync(fd) != 0 ? PV_ERR_IO : PV_OK;
			(void)close(fd);
		}
		pthread_mutex_lock(&a->mu);
		if (fd >= 0 && r != PV_OK)
			a->sync_err = r;
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

static time_t
mono_seconds(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* The summary of a slot's failures not written yet. Called owning the log. */
static pv_err
tell_slot(pv_audit *a, struct auth_slot *s)
{
	struct pv_audit_rec rec;
	pv_err r;

	if (s->untold == 0)
		return PV_OK;
	memset(&rec, 0, sizeof(rec));
	rec.client = s->peer;
	rec.op = s->op;
	rec.outcome = PV_AUDIT_DENIED;
	rec.status = 401;
	rec.count = s->untold;
	if ((r = write_record_now(a, &rec)) == PV_OK)
		s->untold = 0;
	return r;
}

/* Summaries of every interval that is over (all: at close). Owning the log. */
static pv_err
tell_due(pv_audit *a, int all)
{
	time_t now = mono_seconds(), due = 0;
	pv_err r = PV_OK, e;
	size_t i;

	if (a->auth == NULL ||
	    (!all && (atomic_load(&a->auth_due) == 0 || now < (time_t)atomic_load(&a->auth_due))))
		return PV_OK;
	for (i = 0; i < AUTH_SLOTS; i++) {
		struct auth_slot *s = &a->auth[i];

		if (s->untold == 0)
			continue;
		if (all || now - s->start >= PV_AUDIT_AUTH_INTERVAL) {
			if ((e = tell_slot(a, s)) != PV_OK && r == PV_OK)
				r = e;
		}
		if (s->untold > 0 && (due == 0 || s->start + PV_AUDIT_AUTH_INTERVAL < due))
			due = s->start + PV_AUDIT_AUTH_INTERVAL;
	}
	atomic_store(&a->auth_due, (long long)due);
	return r;
}

pv_err
pv_audit_write(pv_audit *a, const struct pv_audit_rec *rec)
{
	struct entry e;
	char buf[MID_INLINE];
	long long due;
	pv_err r;

	if (a == NULL || rec == NULL)
		return PV_ERR_USAGE;
	if (!record_ok(rec))
		return PV_ERR_USAGE;
	/* failed authentications whose interval is over go first */
	due = atomic_load(&a->auth_due);
	if (due != 0 && mono_seconds() >= (time_t)due) {
		lead_acquire(a);
		r = tell_due(a, 0);
		lead_release(a);
		if (r != PV_OK)
			return r;
	}
	memset(&e, 0, sizeof(e));
	lb_init(&e.mid, buf, sizeof(buf), 1);
	if ((r = record_mid(rec, &e.mid)) != PV_OK)
		goto out;
	pthread_mutex_lock(&a->mu);
	*a->qtail = &e;
	a->qtail = &e.next;
	while (!e.done) {
		if (!a->busy) {
			a->busy = 1;
			lead_batch(a);
		} else
			pthread_cond_wait(&a->cv, &a->mu);
	}
	pthread_mutex_unlock(&a->mu);
	r = e.r;
	if (r != PV_OK && e.detail[0] != '\0')
		pv_err_set_detail("%s", e.detail);
out:
	lb_free(&e.mid);
	return r;
}

/* The slot of peer: its own, a free one, or the oldest (told first). */
static pv_err
auth_slot_of(pv_audit *a, const char *peer, time_t now, struct auth_slot **out)
{
	struct auth_slot *s = NULL, *oldest = NULL;
	size_t i;
	pv_err r;

	if (a->auth == NULL && (a->auth = calloc(AUTH_SLOTS, sizeof(*a->auth))) == NULL)
		return PV_ERR_NOMEM;
	for (i = 0; i < AUTH_SLOTS && s == NULL; i++) {
		if (strcmp(a->auth[i].peer, peer) == 0)
			s = &a->auth[i];
		else if (oldest == NULL || a->auth[i].peer[0] == '\0' ||
			 (oldest->peer[0] != '\0' && a->auth[i].start < oldest->start))
			oldest = &a->auth[i];
	}
	if (s == NULL) {
		s = oldest;
		if ((r = tell_slot(a, s)) != PV_OK)
			return r;
		memset(s, 0, sizeof(*s));
		snprintf(s->peer, sizeof(s->peer), "%s", peer);
		s->start = now;
	}
	*out = s;
	return PV_OK;
}

pv_err
pv_audit_auth_failure(pv_audit *a, const struct pv_audit_rec *rec, const char *peer, unsigned *recent)
{
	struct auth_slot *s = NULL;
	time_t now;
	long long due;
	pv_err r;

	if (a == NULL || rec == NULL || peer == NULL || recent == NULL || strlen(peer) > PV_AUDIT_PEER_MAX ||
	    !record_ok(rec))
		return PV_ERR_USAGE;
	*recent = 0;
	now = mono_seconds();
	lead_acquire(a);
	if ((r = tell_due(a, 0)) != PV_OK || (r = auth_slot_of(a, peer, now, &s)) != PV_OK)
		goto out;
	if (now - s->start >= PV_AUDIT_AUTH_INTERVAL) {
		if ((r = tell_slot(a, s)) != PV_OK)
			goto out;
		s->start = now;
		s->seen = 0;
	}
	if (s->seen < UINT_MAX)
		s->seen++;
	*recent = s->seen;
	if (s->seen == 1) {
		/* the first of the interval: a line of its own */
		snprintf(s->op, sizeof(s->op), "%s", rec->op != NULL ? rec->op : "");
		r = write_record_now(a, rec);
		goto out;
	}
	s->untold++;
	due = atomic_load(&a->auth_due);
	if (due == 0 || s->start + PV_AUDIT_AUTH_INTERVAL < (time_t)due)
		atomic_store(&a->auth_due, (long long)(s->start + PV_AUDIT_AUTH_INTERVAL));
	r = PV_OK;
out:
	lead_release(a);
	return r;
}

pv_err
pv_audit_checkpoint(pv_audit *a)
{
	pv_err r;

	if (a == NULL)
		return PV_ERR_USAGE;
	lead_acquire(a);
	r = write_checkpoint(a);
	lead_release(a);
	return r;
}

/* A new file at the path (the old one was moved away): owning the log, empty. */
static pv_err
open_rotated(pv_audit *a, int *out)
{
	struct stat sb, old;
	int fd = -1;
	pv_err r;

	*out = -1;
	if ((fd = open(a->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		pv_err_set_detail("%s: %s", a->path, strerror(errno));
		r = PV_ERR_IO;
		goto out;
	}
	if (fstat(fd, &sb) != 0 || fstat(a->fd, &old) != 0 || !S_ISREG(sb.st_mode)) {
		pv_err_set_detail("%s: not a regular file", a->path);
		r = PV_ERR_USAGE;
		goto out;
	}
	if (sb.st_dev == old.st_dev && sb.st_ino == old.st_ino) {
		r = PV_OK; /* not moved: keep writing it */
		goto out;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		pv_err_set_detail("%s: %s", a->path,
				  errno == EWOULDBLOCK ? "another writer has it open" : strerror(errno));
		r = errno == EWOULDBLOCK ? PV_ERR_BUSY : PV_ERR_IO;
		goto out;
	}
	if (sb.st_size != 0) {
		pv_err_set_detail("%s: a new audit file after rotation must be empty", a->path);
		r = PV_ERR_EXISTS;
		goto out;
	}
	*out = fd;
	fd = -1;
	r = PV_OK;
out:
	if (fd >= 0)
		(void)close(fd);
	return r;
}

pv_err
pv_audit_reopen(pv_audit *a)
{
	int fd = -1;
	pv_err r;

	if (a == NULL)
		return PV_ERR_USAGE;
	lead_acquire(a);
	if (a->fd < 0 || (r = open_rotated(a, &fd)) != PV_OK || fd < 0) {
		r = a->fd < 0 ? PV_OK : r;
		goto out;
	}
	/* the old file ends at a checkpoint when the token can make one */
	if ((a->since_cp > 0 || a->deferred) && (r = write_checkpoint(a)) != PV_OK && !token_error(r)) {
		(void)close(fd);
		goto out;
	}
	release_reserve(a);
	(void)fsync(a->fd);
	(void)close(a->fd);
	a->fd = fd;
	a->size = 0;
	a->torn = 0;
	a->need_open = 1;
	/* a failure here is retried before the next record */
	r = continue_file(a);
out:
	lead_release(a);
	return r;
}

uint64_t
pv_audit_dropped(pv_audit *a)
{
	return a != NULL ? a->dropped : 0;
}

pv_err
pv_audit_head(pv_audit *a, uint8_t head[PV_AUDIT_HASH_LEN], uint64_t *seq)
{
	if (a == NULL || head == NULL || seq == NULL)
		return PV_ERR_USAGE;
	lead_acquire(a);
	memcpy(head, a->head, PV_AUDIT_HASH_LEN);
	*seq = a->next_seq - 1;
	lead_release(a);
	return PV_OK;
}

pv_err
pv_audit_close(pv_audit *a)
{
	pv_err r = PV_OK;

	if (a == NULL)
		return PV_OK;
	lead_acquire(a);
	pthread_mutex_lock(&a->mu);
	a->stop = 1;
	pthread_cond_signal(&a->cp_cv);
	pthread_mutex_unlock(&a->mu);
	if (a->cp_started)
		(void)pthread_join(a->cp_thread, NULL);
	/* the thread is gone: its last fsync's result is final */
	if (a->sync_err != PV_OK) {
		r = a->sync_err;
		pv_err_set_detail("fsync of the audit log failed");
	}
	if (r == PV_OK && (r = tell_due(a, 1)) == PV_OK && (r = continue_file(a)) == PV_OK &&
	    (a->since_cp > 0 || a->deferred))
		r = write_checkpoint(a);
	release_reserve(a);
	if (r == PV_OK && a->fsync != PV_AUDIT_FSYNC_NEVER && a->fd >= 0 && fsync(a->fd) != 0) {
		pv_err_set_detail("fsync of the audit log: %s", strerror(errno));
		r = PV_ERR_IO;
	}
	pthread_cond_destroy(&a->cp_cv);
	pthread_cond_destroy(&a->cv);
	pthread_mutex_destroy(&a->mu);
	if (a->use_syslog)
		closelog();
	audit_free(a);
	return r;
}
