/* The tamper-evident audit log: writer and verifier (docs/audit.md). */
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

#include "audit/audit.h"
#include "base/json.h"
#include "core/b64.h"
#include "core/digest.h"
#include "core/sign.h"

#define INT_LIMIT   INT64_C(999999999999999) /* 10^15 - 1: cJSON prints it without exponent */
#define LOG_ID_LEN  16
#define TIME_LEN    24 /* 2026-11-23T14:00:00.123Z */
#define MAC_MSG_LEN (PV_AUDIT_HASH_LEN + 8)
#define READ_CHUNK  65536

enum line_kind { LINE_OPEN, LINE_RECORD, LINE_CHECKPOINT, LINE_RECOVERED, LINE_DEFERRED };

/* What the verifier needs from a parsed line. */
struct aline {
	enum line_kind kind;
	uint64_t seq;
	unsigned every;
	unsigned key_version;
	uint64_t dropped;
	uint8_t prev[PV_AUDIT_HASH_LEN];
	uint8_t mac[PV_AUDIT_HASH_LEN];
};

static const char *const open_members[] = {"type", "seq", "time", "log", "every", "prev"};
static const char *const record_members[] = {
    "seq",     "time",    "rid",          "client", "op",
    "key",     "version", "input_sha256", "tx",     "chain_id", /* optional: wallet requests */
    "count",                                                    /* optional: aggregated failures */
    "outcome", "status",  "latency_us",   "prev"};
/* Bit i set: record_members[i] may be absent (tx, chain_id, count). */
#define RECORD_OPTIONAL ((1u << 8) | (1u << 9) | (1u << 10))
static const char *const checkpoint_members[] = {"type", "seq", "time", "key_version", "prev", "mac"};
static const char *const recovered_members[] = {"type", "seq", "time", "dropped", "prev"};
static const char *const deferred_members[] = {"type", "seq", "time", "prev"};

static pv_err
hash_line(const uint8_t *line, size_t len, uint8_t out[PV_AUDIT_HASH_LEN])
{
	uint8_t md[PV_DIGEST_MAX_LEN];
	size_t mdlen = 0;
	pv_err r;

	if ((r = pv_digest_compute(PV_DIGEST_SHA256, line, len, md, &mdlen)) != PV_OK)
		return r;
	if (mdlen != PV_AUDIT_HASH_LEN)
		return PV_ERR_INTERNAL;
	memcpy(out, md, PV_AUDIT_HASH_LEN);
	return PV_OK;
}

static void
mac_message(const uint8_t head[PV_AUDIT_HASH_LEN], uint64_t seq, uint8_t msg[MAC_MSG_LEN])
{
	int i;

	memcpy(msg, head, PV_AUDIT_HASH_LEN);
	for (i = 0; i < 8; i++)
		msg[PV_AUDIT_HASH_LEN + i] = (uint8_t)(seq >> (56 - 8 * i));
}

/* ---- strict line parser ---- */

static const char *const outcome_names[] = {"ok", "denied", "error", NULL};

static int
valid_time(const char *s)
{
	static const char pat[] = "dddd-dd-ddTdd:dd:dd.dddZ";
	size_t i;

	if (strlen(s) != TIME_LEN)
		return 0;
	for (i = 0; i < TIME_LEN; i++) {
		if (pat[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != pat[i])
			return 0;
	}
	return 1;
}

/*
 * 0 if member v has a valid value; fills l. The reader's detail is not
 * kept: the verifier reports "bad value for" the member (docs/audit.md).
 */
static int
check_value(const pv_jv *v, struct aline *l)
{
	const char *name = v->name, *s = NULL;
	uint8_t scratch[LOG_ID_LEN], h[PV_AUDIT_HASH_LEN];
	int64_t n = 0;
	int idx = -1;
	pv_err r;

	if (strcmp(name, "type") == 0)
		return 0; /* decided by the caller */
	if (strcmp(name, "seq") == 0) {
		r = pv_json_as_int(v, 0, 0, INT_LIMIT, &n);
		l->seq = (uint64_t)n;
	} else if (strcmp(name, "version") == 0 || strcmp(name, "latency_us") == 0) {
		r = pv_json_as_int(v, 0, 0, INT_LIMIT, &n);
	} else if (strcmp(name, "status") == 0) {
		r = pv_json_as_int(v, 0, 0, 999, &n);
	} else if (strcmp(name, "count") == 0) {
		r = pv_json_as_int(v, 0, 2, INT_LIMIT, &n);
	} else if (strcmp(name, "dropped") == 0) {
		r = pv_json_as_int(v, 0, 1, INT_LIMIT, &n);
		l->dropped = (uint64_t)n;
	} else if (strcmp(name, "chain_id") == 0) {
		r = pv_json_as_int(v, 0, 1, INT_LIMIT, &n);
	} else if (strcmp(name, "every") == 0) {
		r = pv_json_as_int(v, 0, 1, PV_AUDIT_EVERY_MAX, &n);
		l->every = (unsigned)n;
	} else if (strcmp(name, "key_version") == 0) {
		r = pv_json_as_int(v, 0, 1, UINT32_MAX, &n);
		l->key_version = (unsigned)n;
	} else if (strcmp(name, "prev") == 0) {
		r = pv_json_as_bytes_fixed(v, 0, &pv_b64url_enc, l->prev, PV_AUDIT_HASH_LEN);
	} else if (strcmp(name, "mac") == 0) {
		r = pv_json_as_bytes_fixed(v, 0, &pv_b64url_enc, l->mac, PV_AUDIT_HASH_LEN);
	} else if (strcmp(name, "input_sha256") == 0) {
		r = pv_json_as_bytes_fixed(v, 0, &pv_b64url_enc, h, sizeof(h));
	} else if (strcmp(name, "log") == 0) {
		r = pv_json_as_bytes_fixed(v, 0, &pv_b64url_enc, scratch, sizeof(scratch));
	} else if (strcmp(name, "time") == 0) {
		if ((r = pv_json_as_string(v, 0, TIME_LEN, &s)) == PV_OK && !valid_time(s))
			r = PV_ERR_BAD_INPUT;
	} else if (strcmp(name, "outcome") == 0) {
		r = pv_json_as_enum(v, 0, outcome_names, &idx);
	} else if (strcmp(name, "tx") == 0) {
		r = pv_json_as_string(v, PV_JSON_NONEMPTY, PV_AUDIT_FIELD_MAX, &s);
	} else {
		/* rid, client, op, key */
		r = pv_json_as_string(v, 0, PV_AUDIT_FIELD_MAX, &s);
	}
	return r == PV_OK ? 0 : -1;
}

static size_t
member_index(const char *const *names, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return n;
}

/* The first member of names[from, to) that may not be absent, or to. */
static size_t
first_required(uint32_t optional, size_t from, size_t to)
{
	for (; from < to; from++)
		if (!(optional & (UINT32_C(1) << from)))
			return from;
	return to;
}

/*
 * The members of doc in exactly the order of names; names[i] may be absent
 * when bit i of optional is set.
 */
static int
check_members(const cJSON *doc, const char *const *names, size_t n, uint32_t optional, struct aline *l,
	      char *why, size_t whylen)
{
	pv_jv line = pv_json_root(doc, "line"), v;
	size_t i = 0, j, miss;

	for (v = pv_json_first(&line); v.j != NULL; pv_json_next(&v)) {
		const char *name = v.name != NULL ? v.name : "";
		j = member_index(names, n, name);
		if (j == n) {
			snprintf(why, whylen, "unknown member \"%.64s\"", name);
			return -1;
		}
		if (j < i) {
			snprintf(why, whylen, "member \"%s\" repeated or out of order", names[j]);
			return -1;
		}
		if ((miss = first_required(optional, i, j)) != j) {
			snprintf(why, whylen, "missing member \"%s\"", names[miss]);
			return -1;
		}
		if (check_value(&v, l) != 0) {
			snprintf(why, whylen, "bad value for \"%s\"", name);
			return -1;
		}
		i = j + 1;
	}
	if ((miss = first_required(optional, i, n)) != n) {
		snprintf(why, whylen, "missing member \"%s\"", names[miss]);
		return -1;
	}
	return 0;
}

/* 0, or -1 with the reason (without the "line n: " prefix) in why. */
static int
parse_line(const uint8_t *p, size_t len, struct aline *l, char *why, size_t whylen)
{
	cJSON *doc = NULL;
	const cJSON *first;
	const char *end = NULL;
	char *again = NULL;
	int rc = -1;

	memset(l, 0, sizeof(*l));
	if (len > PV_AUDIT_LINE_MAX) {
		snprintf(why, whylen, "longer than %d bytes", PV_AUDIT_LINE_MAX);
		goto out;
	}
	if (len == 0 || memchr(p, '\0', len) != NULL ||
	    (doc = cJSON_ParseWithLengthOpts((const char *)p, len, &end, 0)) == NULL ||
	    end != (const char *)p + len) {
		snprintf(why, whylen, "not JSON");
		goto out;
	}
	if (!cJSON_IsObject(doc)) {
		snprintf(why, whylen, "not a JSON object");
		goto out;
	}
	first = doc->child;
	if (first != NULL && first->string != NULL && strcmp(first->string, "type") == 0) {
		if (cJSON_IsString(first) && strcmp(first->valuestring, "open") == 0)
			l->kind = LINE_OPEN;
		else if (cJSON_IsString(first) && strcmp(first->valuestring, "checkpoint") == 0)
			l->kind = LINE_CHECKPOINT;
		else if (cJSON_IsString(first) && strcmp(first->valuestring, "recovered") == 0)
			l->kind = LINE_RECOVERED;
		else if (cJSON_IsString(first) && strcmp(first->valuestring, "deferred") == 0)
			l->kind = LINE_DEFERRED;
		else {
			snprintf(why, whylen, "bad value for \"type\"");
			goto out;
		}
	} else
		l->kind = LINE_RECORD;
	if (l->kind == LINE_OPEN) {
		if (check_members(doc, open_members, PV_NELEM(open_members), 0, l, why, whylen) != 0)
			goto out;
	} else if (l->kind == LINE_CHECKPOINT) {
		if (check_members(doc, checkpoint_members, PV_NELEM(checkpoint_members), 0, l, why, whylen) !=
		    0)
			goto out;
	} else if (l->kind == LINE_RECOVERED) {
		if (check_members(doc, recovered_members, PV_NELEM(recovered_members), 0, l, why, whylen) !=
		    0)
			goto out;
	} else if (l->kind == LINE_DEFERRED) {
		if (check_members(doc, deferred_members, PV_NELEM(deferred_members), 0, l, why, whylen) != 0)
			goto out;
	} else if (check_members(doc, record_members, PV_NELEM(record_members), RECORD_OPTIONAL, l, why,
				 whylen) != 0)
		goto out;
	/* one spelling per line: what the writer's printer would produce */
	if ((again = cJSON_PrintUnformatted(doc)) == NULL || strlen(again) != len ||
	    memcmp(again, p, len) != 0) {
		snprintf(why, whylen, "not in canonical form");
		goto out;
	}
	rc = 0;
out:
	cJSON_free(again);
	cJSON_Delete(doc);
	return rc;
}

/* ---- verifier ---- */

struct vstate {
	pv_keystore *ks;
	const char *hmac_key;
	struct pv_audit_report *rep;
	uint8_t head[PV_AUDIT_HASH_LEN];
	uint64_t seq;
	unsigned every;
	uint64_t since_cp;
	int need_cp;
	int deferred;       /* a deferred line since the last checkpoint */
	uint64_t file_line; /* lines of the current file so far */
	unsigned files;     /* files started (pv_audit_verify_files) */
};

static pv_err bad(struct vstate *st, const char *fmt, ...) PV_PRINTF(2, 3);

static pv_err
bad(struct vstate *st, const char *fmt, ...)
{
	char why[200];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	st->rep->bad_line = st->file_line;
	st->rep->bad_file = st->files > 0 ? st->files - 1 : 0;
	snprintf(st->rep->reason, sizeof(st->rep->reason), "line %llu: %s", (unsigned long long)st->file_line,
		 why);
	pv_err_set_detail("%s", st->rep->reason);
	return PV_ERR_INTEGRITY;
}

static pv_err
check_mac(struct vstate *st, const struct aline *l)
{
	struct pv_sign_opts o = {0};
	uint8_t msg[MAC_MSG_LEN];
	pv_err r;

	if (st->ks == NULL)
		return PV_OK;
	mac_message(l->prev, l->seq, msg);
	o.purpose = PV_PURPOSE_AUDIT;
	o.digest = PV_DIGEST_NONE;
	o.version = l->key_version;
	r = pv_verify(st->ks, st->hmac_key, &o, msg, sizeof(msg), l->mac, sizeof(l->mac));
	if (r == PV_ERR_BAD_SIGNATURE)
		return bad(st, "checkpoint MAC does not verify");
	if (r == PV_OK)
		st->rep->verified++;
	return r;
}

/* One line (without its newline; complete: it had one). */
static pv_err
verify_step(struct vstate *st, const uint8_t *p, size_t len, int complete)
{
	struct aline l;
	char why[160];
	uint64_t n = ++st->file_line;
	int chained = st->rep->lines++ > 0; /* a line came before, maybe in an earlier file */
	pv_err r;

	if (len > PV_AUDIT_LINE_MAX)
		return bad(st, "longer than %d bytes", PV_AUDIT_LINE_MAX);
	if (!complete)
		return bad(st, "truncated (no newline at the end of the file)");
	if (parse_line(p, len, &l, why, sizeof(why)) != 0)
		return bad(st, "%s", why);
	if (n == 1 && l.kind != LINE_OPEN)
		return bad(st, "the first line is not an open line");
	if (chained) {
		if (n == 1 && sodium_memcmp(l.prev, st->head, PV_AUDIT_HASH_LEN) != 0)
			return bad(st,
				   "prev does not match the hash of the last line of the previous file (a "
				   "file missing, added or out of order)");
		if (n > 1 && sodium_memcmp(l.prev, st->head, PV_AUDIT_HASH_LEN) != 0)
			return bad(st,
				   "prev does not match the hash of line %llu (edited, deleted, inserted or "
				   "reordered)",
				   (unsigned long long)(n - 1));
		if (l.seq != st->seq + 1)
			return bad(st, "seq %llu expected", (unsigned long long)(st->seq + 1));
		/* a deferred line when the token was away at a rotation */
		if (st->need_cp && l.kind != LINE_CHECKPOINT && l.kind != LINE_DEFERRED)
			return bad(st, "checkpoint expected after the open line");
	}
	switch (l.kind) {
	case LINE_OPEN:
		st->every = l.every;
		st->need_cp = 1;
		st->deferred = 0;
		st->since_cp = 0;
		st->rep->after_last++;
		break;
	case LINE_RECOVERED:
		st->rep->recovered++;
		st->rep->dropped += l.dropped;
		st->rep->after_last++;
		break;
	case LINE_DEFERRED:
		st->deferred = 1;
		st->need_cp = 0;
		st->rep->deferred++;
		st->rep->after_last++;
		break;
	case LINE_RECORD:
		/* after a deferred line the next checkpoint covers them all */
		if (++st->since_cp > st->every && !st->deferred)
			return bad(st, "more than %u records since the last checkpoint (checkpoint missing)",
				   st->every);
		st->rep->records++;
		st->rep->after_last++;
		break;
	case LINE_CHECKPOINT:
		if ((r = check_mac(st, &l)) != PV_OK)
			return r;
		st->need_cp = 0;
		st->deferred = 0;
		st->since_cp = 0;
		st->rep->checkpoints++;
		st->rep->after_last = 0;
		break;
	}
	st->seq = l.seq;
	return hash_line(p, len, st->head);
}

static void
verify_init(struct vstate *st, pv_keystore *ks, const char *hmac_key, struct pv_audit_report *rep)
{
	memset(rep, 0, sizeof(*rep));
	memset(st, 0, sizeof(*st));
	st->ks = ks;
	st->hmac_key = hmac_key;
	st->rep = rep;
}

pv_err
pv_audit_verify_mem(pv_keystore *ks, const char *hmac_key, const uint8_t *data, size_t len,
		    struct pv_audit_report *rep)
{
	struct vstate st;
	const uint8_t *nl;
	size_t off = 0;
	pv_err r;

	if (rep == NULL || (data == NULL && len > 0) || (ks != NULL && hmac_key == NULL))
		return PV_ERR_USAGE;
	verify_init(&st, ks, hmac_key, rep);
	st.files = 1;
	while (off < len) {
		nl = memchr(data + off, '\n', len - off);
		if (nl == NULL)
			return verify_step(&st, data + off, len - off, 0);
		if ((r = verify_step(&st, data + off, (size_t)(nl - (data + off)), 1)) != PV_OK)
			return r;
		off = (size_t)(nl - data) + 1;
	}
	return PV_OK;
}

/* The lines of one file, continuing st. */
static pv_err
verify_fd(struct vstate *st, int fd, uint8_t *buf)
{
	uint8_t *nl;
	size_t start = 0, have = 0;
	ssize_t got;
	pv_err r = PV_OK;

	for (;;) {
		while ((nl = memchr(buf + start, '\n', have - start)) != NULL) {
			if ((r = verify_step(st, buf + start, (size_t)(nl - (buf + start)), 1)) != PV_OK)
				return r;
			start = (size_t)(nl - buf) + 1;
		}
		if (have - start > PV_AUDIT_LINE_MAX)
			return verify_step(st, buf + start, have - start, 1);
		memmove(buf, buf + start, have - start);
		have -= start;
		start = 0;
		do
			got = read(fd, buf + have, READ_CHUNK - have);
		while (got < 0 && errno == EINTR);
		if (got < 0) {
			pv_err_set_detail("reading the audit log: %s", strerror(errno));
			return PV_ERR_IO;
		}
		if (got == 0)
			return have > 0 ? verify_step(st, buf, have, 0) : r;
		have += (size_t)got;
	}
}

pv_err
pv_audit_verify_files(pv_keystore *ks, const char *hmac_key, const int *fds, size_t n,
		      struct pv_audit_report *rep)
{
	struct vstate st;
	uint8_t *buf = NULL;
	size_t i;
	pv_err r = PV_OK;

	if (rep == NULL || fds == NULL || (ks != NULL && hmac_key == NULL))
		return PV_ERR_USAGE;
	for (i = 0; i < n; i++)
		if (fds[i] < 0)
			return PV_ERR_USAGE;
	verify_init(&st, ks, hmac_key, rep);
	if ((buf = malloc(READ_CHUNK)) == NULL)
		return PV_ERR_NOMEM;
	for (i = 0; i < n && r == PV_OK; i++) {
		st.files++;
		st.file_line = 0;
		rep->bad_file = i;
		r = verify_fd(&st, fds[i], buf);
	}
	if (r == PV_OK)
		rep->bad_file = 0;
	free(buf);
	return r;
}

pv_err
pv_audit_verify(pv_keystore *ks, const char *hmac_key, int fd, struct pv_audit_report *rep)
{
	return pv_audit_verify_files(ks, hmac_key, &fd, 1, rep);
}

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
	if ((r = hash_line((const uint8_t *)s, len, h)) != PV_OK)
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

	mac_message(a->head, a->next_seq, msg);
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
	if (parse_line(buf + last, end - last, &l, why, sizeof(why)) != 0) {
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
		if (parse_line(buf + prev, last - 1 - prev, &pl, why, sizeof(why)) != 0) {
			r = tail_bad("last but one line: %s", why);
			goto out;
		}
		if ((r = hash_line(buf + prev, last - 1 - prev, h)) != PV_OK)
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
	if ((r = hash_line(buf + last, end - last, a->head)) != PV_OK)
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
