/* The audit log's verifier (docs/audit.md §2, §3). */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "audit/audit_line.h"
#include "core/sign.h"

#define READ_CHUNK 65536

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
	pv_audit_mac_message(l->prev, l->seq, msg);
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
	if (pv_audit_line_parse(p, len, &l, why, sizeof(why)) != 0)
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
	return pv_audit_line_hash(p, len, st->head);
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
