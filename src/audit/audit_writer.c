/* The audit log's writer (docs/audit.md §5). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "audit/audit_line.h"
#include "core/b64.h"
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

struct pv_audit {
	pthread_mutex_t mu;
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
	time_t auth_due;         /* earliest interval end with untold failures */
};

static void
now_rfc3339(char out[TIME_LEN + 1])
{
	struct timespec ts;
	struct tm tm;
	char sec[32];
	unsigned ms;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	(void)gmtime_r(&ts.tv_sec, &tm);
	if (strftime(sec, sizeof(sec), "%Y-%m-%dT%H:%M:%S", &tm) != 19)
		memcpy(sec, "0000-00-00T00:00:00", 20);
	ms = (unsigned)(ts.tv_nsec / 1000000L) % 1000u;
	snprintf(out, TIME_LEN + 1, "%.19s.%03uZ", sec, ms);
}

static int
add_b64(cJSON *doc, const char *name, const uint8_t *p, size_t len)
{
	char *s = NULL;
	int ok;

	if (pv_b64url_encode(p, len, &s) != PV_OK)
		return 0;
	ok = cJSON_AddStringToObject(doc, name, s) != NULL;
	free(s);
	return ok;
}

/* The start of every line after "type": seq and time. */
static cJSON *
line_start(pv_audit *a, const char *type)
{
	cJSON *doc = cJSON_CreateObject();
	char t[TIME_LEN + 1];

	now_rfc3339(t);
	if (doc == NULL || (type != NULL && cJSON_AddStringToObject(doc, "type", type) == NULL) ||
	    cJSON_AddNumberToObject(doc, "seq", (double)a->next_seq) == NULL ||
	    cJSON_AddStringToObject(doc, "time", t) == NULL) {
		cJSON_Delete(doc);
		return NULL;
	}
	return doc;
}

/*
 * Cut what a failed write left after the last complete line, so that the
 * next line follows it (a full disk, EIO, a quota). Called locked.
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
 * reserve (EOPNOTSUPP) is written without. Called locked.
 */
static pv_err
reserve(pv_audit *a, size_t len)
{
#ifdef FALLOC_FL_KEEP_SIZE
	int e;

	if (a->no_reserve || a->size + (off_t)len <= a->reserved)
		return PV_OK;
	if (fallocate(a->fd, FALLOC_FL_KEEP_SIZE, a->size, RESERVE_CHUNK) == 0) {
		a->reserved = a->size + RESERVE_CHUNK;
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

/*
 * Serialise, append in one write(2), advance the chain. Called locked. A
 * failed or short write changes nothing: the chain stays at the last
 * complete line and what reached the file is cut (now or before the next
 * line), so writing resumes when the disk does.
 */
static pv_err
emit(pv_audit *a, const cJSON *doc)
{
	char *s = NULL, *line = NULL;
	size_t len;
	ssize_t w;
	uint8_t h[PV_AUDIT_HASH_LEN];
	pv_err r;

	if ((s = cJSON_PrintUnformatted(doc)) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	len = strlen(s);
	if (len > PV_AUDIT_LINE_MAX) {
		pv_err_set_detail("audit line of %zu bytes", len);
		r = PV_ERR_TOO_LARGE;
		goto out;
	}
	if ((r = pv_audit_line_hash((const uint8_t *)s, len, h)) != PV_OK)
		goto out;
	if ((line = malloc(len + 1)) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	memcpy(line, s, len);
	line[len] = '\n';
	/* syslog only (no file): the chain is still computed, for the
	 * checkpoints that go to syslog with the lines */
	w = (ssize_t)(len + 1);
	if (a->fd >= 0 && ((r = cut_torn(a)) != PV_OK || (r = reserve(a, len + 1)) != PV_OK))
		goto out;
	while (a->fd >= 0 && (w = write(a->fd, line, len + 1)) < 0 && errno == EINTR)
		;
	if (w != (ssize_t)(len + 1)) {
		int e = w < 0 ? errno : ENOSPC;

		a->torn = 1;
		(void)cut_torn(a); /* else before the next line */
		pv_err_set_detail("writing the audit log: %s", strerror(e));
		r = PV_ERR_IO;
		goto out;
	}
	if (a->fd >= 0)
		a->size += (off_t)(len + 1);
	memcpy(a->head, h, sizeof(h));
	a->next_seq++;
	if (a->use_syslog)
		syslog(LOG_AUTHPRIV | LOG_INFO, "%s", s);
	r = PV_OK;
out:
	free(line);
	cJSON_free(s);
	return r;
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

static pv_err
write_checkpoint(pv_audit *a)
{
	struct pv_sign_opts o = {0};
	struct pv_sig sig;
	uint8_t msg[MAC_MSG_LEN];
	cJSON *doc = NULL;
	pv_err r;

	pv_audit_mac_message(a->head, a->next_seq, msg);
	o.purpose = PV_PURPOSE_AUDIT;
	o.digest = PV_DIGEST_NONE;
	if (a->ks == NULL) {
		memset(&sig, 0, sizeof(sig));
		if ((r = a->mac.mac(a->mac.ctx, msg, sizeof(msg), sig.bytes, &sig.version)) != PV_OK)
			goto out;
		sig.len = PV_AUDIT_HASH_LEN;
	} else if ((r = pv_sign(a->ks, a->hmac_key, &o, msg, sizeof(msg), &sig)) != PV_OK)
		goto out;
	if (sig.len != PV_AUDIT_HASH_LEN) {
		pv_err_set_detail("audit key '%s' is not an hmac-sha256 key", a->hmac_key);
		r = PV_ERR_KEY_TYPE;
		goto out;
	}
	if ((doc = line_start(a, "checkpoint")) == NULL ||
	    cJSON_AddNumberToObject(doc, "key_version", sig.version) == NULL ||
	    !add_b64(doc, "prev", a->head, PV_AUDIT_HASH_LEN) || !add_b64(doc, "mac", sig.bytes, sig.len)) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	if ((r = emit(a, doc)) != PV_OK)
		goto out;
	a->since_cp = 0;
	a->deferred = 0;
	a->need_cp = 0;
	(void)clock_gettime(CLOCK_MONOTONIC, &a->last_cp);
	r = sync_if(a, 1);
out:
	cJSON_Delete(doc);
	return r;
}

/* A line with only type, seq, time, [dropped,] prev. */
static pv_err
write_marker(pv_audit *a, const char *type, uint64_t dropped)
{
	cJSON *doc = NULL;
	pv_err r;

	if ((doc = line_start(a, type)) == NULL ||
	    (dropped > 0 && cJSON_AddNumberToObject(doc, "dropped", (double)dropped) == NULL) ||
	    !add_b64(doc, "prev", a->head, PV_AUDIT_HASH_LEN)) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	if ((r = emit(a, doc)) != PV_OK)
		goto out;
	r = sync_if(a, 0);
out:
	cJSON_Delete(doc);
	return r;
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
 * written as soon as the MAC works again. Called locked.
 */
static pv_err
checkpoint_or_defer(pv_audit *a)
{
	pv_err r = write_checkpoint(a);

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

/* The open line alone; the caller writes the checkpoint after it. */
static pv_err
write_open_line(pv_audit *a)
{
	uint8_t id[LOG_ID_LEN];
	cJSON *doc = NULL;
	pv_err r;

	randombytes_buf(id, sizeof(id));
	if ((doc = line_start(a, "open")) == NULL || !add_b64(doc, "log", id, sizeof(id)) ||
	    cJSON_AddNumberToObject(doc, "every", a->every) == NULL ||
	    !add_b64(doc, "prev", a->head, PV_AUDIT_HASH_LEN)) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	if ((r = emit(a, doc)) != PV_OK)
		goto out;
	a->need_open = 0;
	a->need_cp = 1;
	a->deferred = 0;
	r = sync_if(a, 0);
out:
	cJSON_Delete(doc);
	return r;
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
	free(a->path);
	free(a->auth);
	free(a->hmac_key);
	free(a);
}

pv_err
pv_audit_open(const struct pv_audit_opts *o, pv_audit **out)
{
	pv_audit *a = NULL;
	struct pv_key *key = NULL;
	struct stat sb;
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
	*out = a;
	a = NULL;
out:
	pv_key_free(key);
	if (a != NULL && a->use_syslog)
		closelog();
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

static pv_err
build_record(pv_audit *a, const struct pv_audit_rec *rec, cJSON **out)
{
	uint8_t h[PV_DIGEST_MAX_LEN];
	size_t hlen = 0;
	cJSON *doc = NULL;
	pv_err r;

	if ((r = pv_digest_compute(PV_DIGEST_SHA256, rec->input != NULL ? rec->input : (const uint8_t *)"",
				   rec->input != NULL ? rec->input_len : 0, h, &hlen)) != PV_OK)
		return r;
	if ((doc = line_start(a, NULL)) == NULL ||
	    cJSON_AddStringToObject(doc, "rid", rec->rid != NULL ? rec->rid : "") == NULL ||
	    cJSON_AddStringToObject(doc, "client", rec->client != NULL ? rec->client : "") == NULL ||
	    cJSON_AddStringToObject(doc, "op", rec->op != NULL ? rec->op : "") == NULL ||
	    cJSON_AddStringToObject(doc, "key", rec->key != NULL ? rec->key : "") == NULL ||
	    cJSON_AddNumberToObject(doc, "version", rec->version) == NULL ||
	    !add_b64(doc, "input_sha256", h, hlen) ||
	    (rec->tx != NULL && cJSON_AddStringToObject(doc, "tx", rec->tx) == NULL) ||
	    (rec->chain_id != 0 && cJSON_AddNumberToObject(doc, "chain_id", (double)rec->chain_id) == NULL) ||
	    (rec->count > 1 && cJSON_AddNumberToObject(doc, "count", (double)rec->count) == NULL) ||
	    cJSON_AddStringToObject(doc, "outcome", outcome_name(rec->outcome)) == NULL ||
	    cJSON_AddNumberToObject(doc, "status", rec->status) == NULL ||
	    cJSON_AddNumberToObject(doc, "latency_us", (double)rec->latency_us) == NULL ||
	    !add_b64(doc, "prev", a->head, PV_AUDIT_HASH_LEN)) {
		cJSON_Delete(doc);
		return PV_ERR_NOMEM;
	}
	*out = doc;
	return PV_OK;
}

static int
record_ok(const struct pv_audit_rec *rec)
{
	if (outcome_name(rec->outcome) == NULL || rec->status > 999 ||
	    rec->latency_us > (uint64_t)INT_LIMIT || !field_ok(rec->rid) || !field_ok(rec->client) ||
	    !field_ok(rec->op) || !field_ok(rec->key) || (rec->input == NULL && rec->input_len > 0) ||
	    !field_ok(rec->tx) || (rec->tx != NULL && rec->tx[0] == '\0') ||
	    rec->chain_id > PV_AUDIT_INT_MAX || rec->count > PV_AUDIT_INT_MAX) {
		pv_err_set_detail("audit record out of range (fields are at most %d bytes, chain ids at most "
				  "10^15-1)",
				  PV_AUDIT_FIELD_MAX);
		return 0;
	}
	return 1;
}

/* One record, with the checkpoints around it. Called locked. */
static pv_err
write_locked(pv_audit *a, const struct pv_audit_rec *rec)
{
	cJSON *doc = NULL;
	pv_err r;

	if (a->next_seq >= (uint64_t)INT_LIMIT - 2) {
		pv_err_set_detail("audit seq exhausted: rotate the log");
		r = PV_ERR_TOO_LARGE;
		goto out;
	}
	if ((r = continue_file(a)) != PV_OK)
		goto out;
	/* never more than `every` records without a checkpoint, or a deferred
	 * line saying why: fail closed */
	if (checkpoint_due(a) && (r = checkpoint_or_defer(a)) != PV_OK)
		goto out;
	if ((r = build_record(a, rec, &doc)) != PV_OK || (r = emit(a, doc)) != PV_OK ||
	    (r = sync_if(a, 0)) != PV_OK)
		goto out;
	a->since_cp++;
	/* a failure here is retried before the next record */
	if (checkpoint_due(a))
		(void)checkpoint_or_defer(a);
	r = PV_OK;
out:
	cJSON_Delete(doc);
	return r;
}

static time_t
mono_seconds(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* The summary of a slot's failures not written yet. Called locked. */
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
	if ((r = write_locked(a, &rec)) == PV_OK)
		s->untold = 0;
	return r;
}

/* Summaries of every interval that is over (all: at close). Locked. */
static pv_err
tell_due(pv_audit *a, int all)
{
	time_t now = mono_seconds(), due = 0;
	pv_err r = PV_OK, e;
	size_t i;

	if (a->auth == NULL || (!all && (a->auth_due == 0 || now < a->auth_due)))
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
	a->auth_due = due;
	return r;
}

pv_err
pv_audit_write(pv_audit *a, const struct pv_audit_rec *rec)
{
	pv_err r;

	if (a == NULL || rec == NULL)
		return PV_ERR_USAGE;
	if (!record_ok(rec))
		return PV_ERR_USAGE;
	pthread_mutex_lock(&a->mu);
	if ((r = tell_due(a, 0)) == PV_OK)
		r = write_locked(a, rec);
	pthread_mutex_unlock(&a->mu);
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
	pv_err r;

	if (a == NULL || rec == NULL || peer == NULL || recent == NULL || strlen(peer) > PV_AUDIT_PEER_MAX ||
	    !record_ok(rec))
		return PV_ERR_USAGE;
	*recent = 0;
	now = mono_seconds();
	pthread_mutex_lock(&a->mu);
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
		r = write_locked(a, rec);
		goto out;
	}
	s->untold++;
	if (a->auth_due == 0 || s->start + PV_AUDIT_AUTH_INTERVAL < a->auth_due)
		a->auth_due = s->start + PV_AUDIT_AUTH_INTERVAL;
	r = PV_OK;
out:
	pthread_mutex_unlock(&a->mu);
	return r;
}

pv_err
pv_audit_checkpoint(pv_audit *a)
{
	pv_err r;

	if (a == NULL)
		return PV_ERR_USAGE;
	pthread_mutex_lock(&a->mu);
	r = write_checkpoint(a);
	pthread_mutex_unlock(&a->mu);
	return r;
}

/* A new file at the path (the old one was moved away): locked, empty. */
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
	pthread_mutex_lock(&a->mu);
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
	pthread_mutex_unlock(&a->mu);
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
	pthread_mutex_lock(&a->mu);
	memcpy(head, a->head, PV_AUDIT_HASH_LEN);
	*seq = a->next_seq - 1;
	pthread_mutex_unlock(&a->mu);
	return PV_OK;
}

pv_err
pv_audit_close(pv_audit *a)
{
	pv_err r = PV_OK;

	if (a == NULL)
		return PV_OK;
	pthread_mutex_lock(&a->mu);
	if ((r = tell_due(a, 1)) == PV_OK && (r = continue_file(a)) == PV_OK &&
	    (a->since_cp > 0 || a->deferred))
		r = write_checkpoint(a);
	release_reserve(a);
	if (r == PV_OK && a->fsync != PV_AUDIT_FSYNC_NEVER && a->fd >= 0 && fsync(a->fd) != 0) {
		pv_err_set_detail("fsync of the audit log: %s", strerror(errno));
		r = PV_ERR_IO;
	}
	pthread_mutex_unlock(&a->mu);
	pthread_mutex_destroy(&a->mu);
	if (a->use_syslog)
		closelog();
	audit_free(a);
	return r;
}
