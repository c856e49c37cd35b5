/*
 * The audit log on a throwaway SoftHSM token: a written log verifies, and
 * every kind of tampering is found at the right line for the right reason,
 * including an edit whose hash chain was recomputed by someone without the
 * token's HMAC key.
 */
#include "config.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <openssl/evp.h>

#include "audit/audit.h"
#include "base/secmem.h"
#include "core/b64.h"
#include "core/digest.h"
#include "core/sign.h"
#include "pkcs11/testutil.h"

static struct tu_token T;

struct fixture {
	p11_token *tok;
	pv_keystore *ks;
	char path[128];
};

/* A log as lines without their newlines. */
struct lines {
	char *l[512];
	size_t n;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct p11_token_opts o;

	if (f == NULL)
		return -1;
	tu_opts(&T, &o);
	if (p11_token_open(&o, &f->tok) != PV_OK || p11_token_login(f->tok) != PV_OK ||
	    pv_keystore_new(f->tok, &f->ks) != PV_OK)
		return -1;
	/* checkpoint keys have purpose audit; the others are for the purpose tests */
	if (pv_keys_create(f->ks, "audit-hmac", PV_ALG_HMAC_SHA256, PV_PURPOSE_AUDIT, NULL) != PV_OK ||
	    pv_keys_create(f->ks, "other-hmac", PV_ALG_HMAC_SHA256, PV_PURPOSE_AUDIT, NULL) != PV_OK ||
	    pv_keys_create(f->ks, "sign-hmac", PV_ALG_HMAC_SHA256, PV_PURPOSE_SIGN, NULL) != PV_OK ||
	    pv_keys_create(f->ks, "derive-hmac", PV_ALG_HMAC_SHA256, PV_PURPOSE_DERIVE, NULL) != PV_OK)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	pv_keystore_free(f->ks);
	p11_token_close(f->tok);
	free(f);
	return 0;
}

static void
fresh_path(struct fixture *f, const char *name)
{
	snprintf(f->path, sizeof(f->path), "%s/%s.log", T.dir, name);
	(void)unlink(f->path);
}

static void
opts(struct fixture *f, struct pv_audit_opts *o, unsigned every)
{
	memset(o, 0, sizeof(*o));
	o->path = f->path;
	o->ks = f->ks;
	o->hmac_key = "audit-hmac";
	o->every = every;
	o->fsync = PV_AUDIT_FSYNC_CHECKPOINT;
}

static void
record(unsigned i, struct pv_audit_rec *rec, char *rid, size_t ridlen, char *input, size_t inlen)
{
	snprintf(rid, ridlen, "req-%u", i);
	snprintf(input, inlen, "secret-input-%u", i);
	memset(rec, 0, sizeof(*rec));
	rec->rid = rid;
	rec->client = "api";
	rec->op = "sign";
	rec->key = "jwt";
	rec->version = 2;
	rec->input = (const uint8_t *)input;
	rec->input_len = strlen(input);
	rec->outcome = i % 5 == 4 ? PV_AUDIT_DENIED : PV_AUDIT_OK;
	rec->status = i % 5 == 4 ? 403 : 200;
	rec->latency_us = 100 + i;
}

static void
write_records(pv_audit *a, unsigned from, unsigned n)
{
	struct pv_audit_rec rec;
	char rid[32], input[64];
	unsigned i;

	for (i = from; i < from + n; i++) {
		record(i, &rec, rid, sizeof(rid), input, sizeof(input));
		assert_int_equal(pv_audit_write(a, &rec), PV_OK);
	}
}

static void
make_log(struct fixture *f, const char *name, unsigned n, unsigned every)
{
	struct pv_audit_opts o;
	pv_audit *a = NULL;

	fresh_path(f, name);
	opts(f, &o, every);
	assert_int_equal(pv_audit_open(&o, &a), PV_OK);
	write_records(a, 0, n);
	assert_int_equal(pv_audit_close(a), PV_OK);
}

static void
load(const char *path, struct lines *ls)
{
	FILE *fp = fopen(path, "r");
	char buf[PV_AUDIT_LINE_MAX + 2];
	size_t len;

	assert_non_null(fp);
	ls->n = 0;
	while (fgets(buf, sizeof(buf), fp) != NULL) {
		len = strlen(buf);
		assert_true(len > 0 && buf[len - 1] == '\n');
		buf[len - 1] = '\0';
		assert_true(ls->n < PV_NELEM(ls->l));
		ls->l[ls->n] = strdup(buf);
		assert_non_null(ls->l[ls->n]);
		ls->n++;
	}
	fclose(fp);
}

static void
lines_free(struct lines *ls)
{
	size_t i;

	for (i = 0; i < ls->n; i++)
		free(ls->l[i]);
	ls->n = 0;
}

/* Join with newlines (the last one too unless cut > 0: drop cut bytes). */
static pv_err
verify_lines(struct fixture *f, const struct lines *ls, const char *key, size_t cut,
	     struct pv_audit_report *rep)
{
	size_t i, len = 0, off = 0;
	uint8_t *buf;
	pv_err r;

	for (i = 0; i < ls->n; i++)
		len += strlen(ls->l[i]) + 1;
	buf = malloc(len);
	assert_non_null(buf);
	for (i = 0; i < ls->n; i++) {
		memcpy(buf + off, ls->l[i], strlen(ls->l[i]));
		off += strlen(ls->l[i]);
		buf[off++] = '\n';
	}
	assert_true(cut <= len);
	r = pv_audit_verify_mem(key != NULL ? f->ks : NULL, key, buf, len - cut, rep);
	free(buf);
	return r;
}

static void
expect_bad(struct fixture *f, const struct lines *ls, const char *key, uint64_t line, const char *reason)
{
	struct pv_audit_report rep;
	char want[256];

	assert_int_equal(verify_lines(f, ls, key, 0, &rep), PV_ERR_INTEGRITY);
	snprintf(want, sizeof(want), "line %llu: %s", (unsigned long long)line, reason);
	if (strncmp(rep.reason, want, strlen(want)) != 0)
		fail_msg("got \"%s\", want \"%s...\"", rep.reason, want);
	assert_int_equal(rep.bad_line, line);
}

/* What an attacker without the HMAC key can do: recompute prev (and
 * optionally renumber seq) from line `from` (0-based) on. */
static void
rechain(struct lines *ls, size_t from, int renumber)
{
	uint8_t h[PV_DIGEST_MAX_LEN];
	size_t i, hlen = 0;
	char *b64 = NULL;
	cJSON *doc, *seq;

	for (i = from > 0 ? from : 1; i < ls->n; i++) {
		assert_int_equal(pv_digest_compute(PV_DIGEST_SHA256, (const uint8_t *)ls->l[i - 1],
						   strlen(ls->l[i - 1]), h, &hlen),
				 PV_OK);
		assert_int_equal(pv_b64url_encode(h, hlen, &b64), PV_OK);
		doc = cJSON_Parse(ls->l[i]);
		assert_non_null(doc);
		assert_true(cJSON_ReplaceItemInObjectCaseSensitive(doc, "prev", cJSON_CreateString(b64)));
		if (renumber) {
			seq = cJSON_GetObjectItemCaseSensitive(doc, "seq");
			assert_non_null(seq);
			cJSON_SetNumberValue(seq, (double)i);
		}
		free(b64);
		free(ls->l[i]);
		ls->l[i] = cJSON_PrintUnformatted(doc);
		assert_non_null(ls->l[i]);
		cJSON_Delete(doc);
	}
}

static void
remove_line(struct lines *ls, size_t i)
{
	free(ls->l[i]);
	memmove(&ls->l[i], &ls->l[i + 1], (ls->n - i - 1) * sizeof(ls->l[0]));
	ls->n--;
}

/* 1-based line number of record k (0-based) with checkpoints every 10. */
static size_t
record_line(size_t k)
{
	return 3 + (k / 10) * 11 + k % 10;
}

static void
test_written_log_verifies(void **state)
{
	struct fixture *f = *state;
	struct pv_audit_report rep;
	struct lines ls;
	struct stat sb;
	int fd;

	make_log(f, "clean", 100, 10);
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	fd = open(f->path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pv_audit_verify(f->ks, "audit-hmac", fd, &rep), PV_OK);
	close(fd);
	/* open, checkpoint, then 10 x (10 records, checkpoint) */
	assert_int_equal(rep.lines, 112);
	assert_int_equal(rep.records, 100);
	assert_int_equal(rep.checkpoints, 11);
	assert_int_equal(rep.verified, 11);
	assert_int_equal(rep.after_last, 0);
	assert_int_equal(rep.bad_line, 0);
	load(f->path, &ls);
	assert_int_equal(ls.n, 112);
	assert_int_equal(strncmp(ls.l[0], "{\"type\":\"open\",\"seq\":0,", 23), 0);
	assert_int_equal(strncmp(ls.l[1], "{\"type\":\"checkpoint\",\"seq\":1,", 29), 0);
	assert_int_equal(strncmp(ls.l[2], "{\"seq\":2,\"time\":\"", 17), 0);
	assert_non_null(strstr(ls.l[2],
			       "\"rid\":\"req-0\",\"client\":\"api\",\"op\":\"sign\",\"key\":\"jwt\","
			       "\"version\":2,\"input_sha256\":\""));
	assert_non_null(strstr(ls.l[2], "\"outcome\":\"ok\",\"status\":200,\"latency_us\":100,\"prev\":\""));
	/* the input itself is never written */
	assert_null(strstr(ls.l[2], "secret-input"));
	/* without the token: the chain only */
	assert_int_equal(verify_lines(f, &ls, NULL, 0, &rep), PV_OK);
	assert_int_equal(rep.checkpoints, 11);
	assert_int_equal(rep.verified, 0);
	lines_free(&ls);
}

static void
test_edit_one_byte(void **state)
{
	struct fixture *f = *state;
	struct lines ls;
	char *p;

	make_log(f, "edit", 100, 10);
	load(f->path, &ls);
	/* still valid JSON: the next line's prev no longer matches */
	p = strstr(ls.l[4], "\"client\":\"api\"");
	assert_non_null(p);
	p[12] = 'j';
	expect_bad(f, &ls, "audit-hmac", 6, "prev does not match the hash of line 5 (edited");
	expect_bad(f, &ls, NULL, 6, "prev does not match the hash of line 5 (edited");
	lines_free(&ls);
	/* no longer JSON */
	load(f->path, &ls);
	ls.l[6][0] = '[';
	expect_bad(f, &ls, NULL, 7, "not JSON");
	lines_free(&ls);
	/* an extra member, a missing one, another spelling */
	load(f->path, &ls);
	p = strstr(ls.l[7], "\"op\":");
	assert_non_null(p);
	memcpy(p, "\"oq\":", 5);
	expect_bad(f, &ls, NULL, 8, "unknown member \"oq\"");
	lines_free(&ls);
	load(f->path, &ls);
	p = strstr(ls.l[7], "\"rid\":");
	assert_non_null(p);
	memcpy(p, "\"ri\" :", 6);
	expect_bad(f, &ls, NULL, 8, "unknown member \"ri\"");
	lines_free(&ls);
	load(f->path, &ls);
	p = strstr(ls.l[7], "\"status\":200");
	assert_non_null(p);
	memcpy(p, "\"status\":2e2", 12);
	expect_bad(f, &ls, NULL, 8, "not in canonical form");
	lines_free(&ls);
	load(f->path, &ls);
	p = strstr(ls.l[7], "\"outcome\":\"ok\"");
	assert_non_null(p);
	memcpy(p, "\"outcome\":\"no\"", 14);
	expect_bad(f, &ls, NULL, 8, "bad value for \"outcome\"");
	lines_free(&ls);
}

static void
test_delete_insert_swap(void **state)
{
	struct fixture *f = *state;
	struct lines ls;
	char *tmp;

	make_log(f, "dis", 100, 10);
	load(f->path, &ls);
	remove_line(&ls, 19);
	expect_bad(f, &ls, "audit-hmac", 20, "prev does not match the hash of line 19");
	lines_free(&ls);

	load(f->path, &ls);
	memmove(&ls.l[41], &ls.l[40], (ls.n - 40) * sizeof(ls.l[0]));
	ls.n++;
	ls.l[40] = strdup(ls.l[29]);
	expect_bad(f, &ls, "audit-hmac", 41, "prev does not match the hash of line 40");
	lines_free(&ls);

	load(f->path, &ls);
	tmp = ls.l[49];
	ls.l[49] = ls.l[50];
	ls.l[50] = tmp;
	expect_bad(f, &ls, "audit-hmac", 50, "prev does not match the hash of line 49");
	lines_free(&ls);

	/* the first line removed: the file must start with an open line */
	load(f->path, &ls);
	remove_line(&ls, 0);
	expect_bad(f, &ls, NULL, 1, "the first line is not an open line");
	lines_free(&ls);
}

static void
test_truncated_last_line(void **state)
{
	struct fixture *f = *state;
	struct pv_audit_report rep;
	struct lines ls;

	make_log(f, "trunc", 100, 10);
	load(f->path, &ls);
	/* the newline only, then part of the line */
	assert_int_equal(verify_lines(f, &ls, "audit-hmac", 1, &rep), PV_ERR_INTEGRITY);
	assert_int_equal(rep.bad_line, 112);
	assert_string_equal(rep.reason, "line 112: truncated (no newline at the end of the file)");
	assert_int_equal(verify_lines(f, &ls, NULL, 20, &rep), PV_ERR_INTEGRITY);
	assert_int_equal(rep.bad_line, 112);
	lines_free(&ls);
}

static void
test_rechained_edit_caught_by_mac(void **state)
{
	struct fixture *f = *state;
	struct pv_audit_report rep;
	struct lines ls;
	char *p;

	make_log(f, "rechain", 100, 10);
	load(f->path, &ls);
	p = strstr(ls.l[record_line(2) - 1], "\"client\":\"api\"");
	assert_non_null(p);
	memcpy(p + 10, "xyz", 3);
	rechain(&ls, record_line(2), 0);
	/* the chain alone is fine now ... */
	assert_int_equal(verify_lines(f, &ls, NULL, 0, &rep), PV_OK);
	assert_int_equal(rep.verified, 0);
	/* ... but the next checkpoint's MAC (line 13) is not */
	expect_bad(f, &ls, "audit-hmac", 13, "checkpoint MAC does not verify");
	lines_free(&ls);
}

static void
test_seq_and_missing_checkpoint(void **state)
{
	struct fixture *f = *state;
	struct lines ls;
	cJSON *doc;

	make_log(f, "seq", 100, 10);
	load(f->path, &ls);
	doc = cJSON_Parse(ls.l[29]);
	assert_non_null(doc);
	cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(doc, "seq"), 99);
	free(ls.l[29]);
	ls.l[29] = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	rechain(&ls, 29, 0);
	expect_bad(f, &ls, NULL, 30, "seq 29 expected");
	lines_free(&ls);

	/* a checkpoint dropped and everything renumbered and rechained */
	load(f->path, &ls);
	remove_line(&ls, 12);
	rechain(&ls, 12, 1);
	expect_bad(f, &ls, NULL, 13, "more than 10 records since the last checkpoint");
	lines_free(&ls);

	/* the checkpoint after the open line dropped */
	load(f->path, &ls);
	remove_line(&ls, 1);
	rechain(&ls, 1, 1);
	expect_bad(f, &ls, NULL, 2, "checkpoint expected after the open line");
	lines_free(&ls);
}

static void
test_other_hmac_key(void **state)
{
	struct fixture *f = *state;
	struct lines ls;

	make_log(f, "otherkey", 20, 10);
	load(f->path, &ls);
	expect_bad(f, &ls, "other-hmac", 2, "checkpoint MAC does not verify");
	lines_free(&ls);
}

static void
test_resume(void **state)
{
	struct fixture *f = *state;
	struct pv_audit_opts o;
	struct pv_audit_report rep;
	pv_audit *a = NULL, *b = NULL;
	uint8_t head[PV_AUDIT_HASH_LEN];
	uint64_t seq = 0;
	struct lines ls;
	FILE *fp;

	make_log(f, "resume", 5, 10);
	opts(f, &o, 10);
	assert_int_equal(pv_audit_open(&o, &a), PV_OK);
	/* one writer at a time */
	assert_int_equal(pv_audit_open(&o, &b), PV_ERR_BUSY);
	write_records(a, 5, 5);
	assert_int_equal(pv_audit_head(a, head, &seq), PV_OK);
	assert_int_equal(seq, 14);
	assert_int_equal(pv_audit_close(a), PV_OK);
	load(f->path, &ls);
	/* open, cp, 5 records, cp (close), open, cp, 5 records, cp (close) */
	assert_int_equal(ls.n, 16);
	assert_int_equal(strncmp(ls.l[8], "{\"type\":\"open\",\"seq\":8,", 23), 0);
	assert_int_equal(verify_lines(f, &ls, "audit-hmac", 0, &rep), PV_OK);
	assert_int_equal(rep.records, 10);
	assert_int_equal(rep.verified, 4);
	lines_free(&ls);

	/* an interrupted last line: cut off, and said so in the chain */
	fp = fopen(f->path, "a");
	assert_non_null(fp);
	fputs("{\"seq\":16,\"ti", fp);
	fclose(fp);
	assert_int_equal(pv_audit_open(&o, &a), PV_OK);
	assert_int_equal(pv_audit_dropped(a), 13);
	write_records(a, 10, 1);
	assert_int_equal(pv_audit_close(a), PV_OK);
	load(f->path, &ls);
	/* ..., open, cp, recovered, cp, 1 record, cp */
	assert_int_equal(ls.n, 22);
	assert_int_equal(strncmp(ls.l[16], "{\"type\":\"open\",\"seq\":16,", 24), 0);
	assert_int_equal(strncmp(ls.l[17], "{\"type\":\"checkpoint\",", 21), 0);
	assert_int_equal(strncmp(ls.l[18], "{\"type\":\"recovered\",\"seq\":18,", 29), 0);
	assert_non_null(strstr(ls.l[18], "\"dropped\":13,"));
	assert_int_equal(strncmp(ls.l[19], "{\"type\":\"checkpoint\",", 21), 0);
	assert_int_equal(verify_lines(f, &ls, "audit-hmac", 0, &rep), PV_OK);
	assert_int_equal(rep.records, 11);
	assert_int_equal(rep.recovered, 1);
	assert_int_equal(rep.dropped, 13);
	/* the recovered line is in the chain: removing it is seen */
	remove_line(&ls, 18);
	expect_bad(f, &ls, "audit-hmac", 19, "prev does not match the hash of line 18");
	lines_free(&ls);
	/* a file that is one torn line: cut to nothing, a new chain */
	fresh_path(f, "resume");
	fp = fopen(f->path, "w");
	assert_non_null(fp);
	fputs("{\"type\":\"op", fp);
	fclose(fp);
	assert_int_equal(pv_audit_open(&o, &a), PV_OK);
	assert_int_equal(pv_audit_close(a), PV_OK);
	load(f->path, &ls);
	assert_int_equal(ls.n, 4);
	assert_int_equal(verify_lines(f, &ls, "audit-hmac", 0, &rep), PV_OK);
	assert_int_equal(rep.dropped, 11);
	lines_free(&ls);
	/* a last line that does not chain: likewise */
	make_log(f, "resume", 3, 10);
	load(f->path, &ls);
	fp = fopen(f->path, "a");
	assert_non_null(fp);
	fprintf(fp, "%s\n", ls.l[3]);
	fclose(fp);
	lines_free(&ls);
	assert_int_equal(pv_audit_open(&o, &a), PV_ERR_INTEGRITY);
}

static void
test_rotation_and_time(void **state)
{
	struct fixture *f = *state;
	struct pv_audit_opts o;
	struct pv_audit_report rep;
	pv_audit *a = NULL;
	uint8_t head[PV_AUDIT_HASH_LEN];
	uint64_t seq = 0;
	struct lines ls;

	fresh_path(f, "timed");
	opts(f, &o, 1000);
	o.seconds = 1;
	assert_int_equal(pv_audit_open(&o, &a), PV_OK);
	write_records(a, 0, 1);
	sleep(2);
	/* the time-due checkpoint follows this record (made by the
	 * checkpoint thread, which pv_audit_head waits for) */
	write_records(a, 1, 1);
	assert_int_equal(pv_audit_head(a, head, &seq), PV_OK);
	assert_int_equal(pv_audit_close(a), PV_OK);
	load(f->path, &ls);
	assert_int_equal(ls.n, 5);
	assert_null(strstr(ls.l[3], "\"type\""));
	assert_non_null(strstr(ls.l[4], "\"type\":\"checkpoint\""));
	assert_int_equal(seq, 4);
	assert_int_equal(verify_lines(f, &ls, "audit-hmac", 0, &rep), PV_OK);
	assert_int_equal(rep.verified, 2);
	lines_free(&ls);

	/* the next file starts from the old head */
	fresh_path(f, "rotated");
	opts(f, &o, 10);
	o.rotated_from = head;
	o.first_seq = seq + 1; /* the close had nothing left to checkpoint */
	assert_int_equal(pv_audit_open(&o, &a), PV_OK);
	assert_int_equal(pv_audit_close(a), PV_OK);
	load(f->path, &ls);
	assert_int_equal(strncmp(ls.l[0], "{\"type\":\"open\",\"seq\":5,", 23), 0);
	assert_int_equal(verify_lines(f, &ls, "audit-hmac", 0, &rep), PV_OK);
	lines_free(&ls);
}

static void
test_bad_records_refused(void **state)
{
	struct fixture *f = *state;
	struct pv_audit_opts o;
	struct pv_audit_rec rec;
	pv_audit *a = NULL;
	char rid[32], input[64], big[PV_AUDIT_FIELD_MAX + 2];

	fresh_path(f, "refuse");
	opts(f, &o, 10);
	assert_int_equal(pv_audit_open(&o, &a), PV_OK);
	record(0, &rec, rid, sizeof(rid), input, sizeof(input));
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	rec.client = big;
	assert_int_equal(pv_audit_write(a, &rec), PV_ERR_USAGE);
	rec.client = "api";
	rec.status = 1000;
	assert_int_equal(pv_audit_write(a, &rec), PV_ERR_USAGE);
	rec.status = 200;
	rec.outcome = (pv_audit_outcome)7;
	assert_int_equal(pv_audit_write(a, &rec), PV_ERR_USAGE);
	assert_int_equal(pv_audit_close(a), PV_OK);
	/* no hmac key of that name: the log does not open */
	fresh_path(f, "nokey");
	opts(f, &o, 10);
	o.hmac_key = "missing";
	assert_int_equal(pv_audit_open(&o, &a), PV_ERR_NOT_FOUND);
}

/* Replace the first occurrence of from in line i by to. */
static void
edit_line(struct lines *ls, size_t i, const char *from, const char *to)
{
	char *p = strstr(ls->l[i], from), *n;
	size_t len;

	assert_non_null(p);
	len = strlen(ls->l[i]) - strlen(from) + strlen(to) + 1;
	n = malloc(len);
	assert_non_null(n);
	snprintf(n, len, "%.*s%s%s", (int)(p - ls->l[i]), ls->l[i], to, p + strlen(from));
	free(ls->l[i]);
	ls->l[i] = n;
}

/* Wallet records carry tx (and chain_id for EVM transactions) between
 * input_sha256 and outcome; both are optional, in that order only. */
static void
test_wallet_members(void **state)
{
	struct fixture *f = *state;
	struct pv_audit_opts o;
	struct pv_audit_rec rec;
	struct pv_audit_report rep;
	struct lines ls;
	pv_audit *a = NULL;
	char rid[32], input[64], big[PV_AUDIT_FIELD_MAX + 2];

	fresh_path(f, "wallet");
	opts(f, &o, 10);
	assert_int_equal(pv_audit_open(&o, &a), PV_OK);
	record(0, &rec, rid, sizeof(rid), input, sizeof(input));
	rec.op = "wallet.sign";
	rec.tx = "0xdaf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53";
	rec.chain_id = 1;
	assert_int_equal(pv_audit_write(a, &rec), PV_OK);
	rec.chain_id = PV_AUDIT_INT_MAX;
	assert_int_equal(pv_audit_write(a, &rec), PV_OK);
	rec.chain_id = 0; /* Solana: tx only */
	rec.tx = "5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZkQUW";
	assert_int_equal(pv_audit_write(a, &rec), PV_OK);
	rec.tx = NULL; /* neither */
	assert_int_equal(pv_audit_write(a, &rec), PV_OK);
	/* out of range: refused, nothing written */
	rec.chain_id = PV_AUDIT_INT_MAX + 1;
	assert_int_equal(pv_audit_write(a, &rec), PV_ERR_USAGE);
	rec.chain_id = 0;
	rec.tx = "";
	assert_int_equal(pv_audit_write(a, &rec), PV_ERR_USAGE);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	rec.tx = big;
	assert_int_equal(pv_audit_write(a, &rec), PV_ERR_USAGE);
	assert_int_equal(pv_audit_close(a), PV_OK);

	load(f->path, &ls);
	assert_int_equal(ls.n, 7); /* open, checkpoint, 4 records, checkpoint */
	assert_non_null(strstr(ls.l[2], "\"input_sha256\":"));
	assert_non_null(strstr(
	    ls.l[2], "\",\"tx\":\"0xdaf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53\","
		     "\"chain_id\":1,\"outcome\":\"ok\""));
	assert_non_null(strstr(ls.l[3], "\"chain_id\":999999999999999,\"outcome\""));
	assert_non_null(strstr(ls.l[4], "\"tx\":\"5VERv8"));
	assert_null(strstr(ls.l[4], "chain_id"));
	assert_null(strstr(ls.l[5], "\"tx\""));
	assert_int_equal(verify_lines(f, &ls, "audit-hmac", 0, &rep), PV_OK);
	assert_int_equal(rep.records, 4);

	/* the parser: order, values, no other new member (the chain is
	 * recomputed so that only the member rules can fail) */
	edit_line(
	    &ls, 2,
	    "\"tx\":\"0xdaf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53\",\"chain_id\":1",
	    "\"chain_id\":1,\"tx\":\"0xdaf5\"");
	rechain(&ls, 3, 0);
	expect_bad(f, &ls, NULL, 3, "member \"tx\" repeated or out of order");
	lines_free(&ls);
	load(f->path, &ls);
	edit_line(&ls, 2, "\"chain_id\":1,", "\"chain_id\":0,");
	rechain(&ls, 3, 0);
	expect_bad(f, &ls, NULL, 3, "bad value for \"chain_id\"");
	lines_free(&ls);
	load(f->path, &ls);
	edit_line(&ls, 2, "\"chain_id\":1,", "\"chain_id\":\"1\",");
	rechain(&ls, 3, 0);
	expect_bad(f, &ls, NULL, 3, "bad value for \"chain_id\"");
	lines_free(&ls);
	load(f->path, &ls);
	edit_line(&ls, 4, "\"tx\":\"5VERv8", "\"tx\":\"\",\"x\":\"5VERv8");
	rechain(&ls, 5, 0);
	expect_bad(f, &ls, NULL, 5, "bad value for \"tx\"");
	lines_free(&ls);
	load(f->path, &ls);
	edit_line(&ls, 5, "\"outcome\"", "\"memo\":\"x\",\"outcome\"");
	rechain(&ls, 6, 0);
	expect_bad(f, &ls, NULL, 6, "unknown member \"memo\"");
	lines_free(&ls);
	load(f->path, &ls);
	edit_line(&ls, 5, "\"input_sha256\"", "\"tx\":\"a\",\"input_sha256\"");
	rechain(&ls, 6, 0);
	expect_bad(f, &ls, NULL, 6, "missing member \"input_sha256\"");
	lines_free(&ls);
	/* an old-style record still needs every required member */
	load(f->path, &ls);
	edit_line(&ls, 5, "\"status\":200,", "");
	rechain(&ls, 6, 0);
	expect_bad(f, &ls, NULL, 6, "missing member \"status\"");
	lines_free(&ls);
}

/* syslog as the only sink: no file is made, records and checkpoints go
 * through; neither a file nor syslog is a usage error. */
static void
test_syslog_only(void **state)
{
	struct fixture *f = *state;
	struct pv_audit_opts o;
	pv_audit *a = NULL;
	struct stat sb;

	fresh_path(f, "syslog-only");
	opts(f, &o, 2);
	o.path = NULL;
	assert_int_equal(pv_audit_open(&o, &a), PV_ERR_USAGE);
	o.syslog = 1;
	o.fsync = PV_AUDIT_FSYNC_EVERY;
	assert_int_equal(pv_audit_open(&o, &a), PV_OK);
	write_records(a, 0, 5);
	assert_int_equal(pv_audit_checkpoint(a), PV_OK);
	assert_int_equal(pv_audit_close(a), PV_OK);
	assert_int_equal(stat(f->path, &sb), -1);
}

static void
test_hmac_key_rotation(void **state)
{
	struct fixture *f = *state;
	struct pv_audit_opts o;
	struct pv_audit_report rep;
	pv_audit *a = NULL;
	struct lines ls;
	unsigned v = 0;
	char *p;

	assert_int_equal(pv_keys_create(f->ks, "rot-hmac", PV_ALG_HMAC_SHA256, PV_PURPOSE_AUDIT, NULL),
			 PV_OK);
	fresh_path(f, "keyrot");
	opts(f, &o, 10);
	o.hmac_key = "rot-hmac";
	assert_int_equal(pv_audit_open(&o, &a), PV_OK);
	write_records(a, 0, 3);
	assert_int_equal(pv_audit_close(a), PV_OK);
	/* checkpoints name the key version that made them */
	assert_int_equal(pv_keys_rotate(f->ks, "rot-hmac", 0, &v), PV_OK);
	assert_int_equal(v, 2);
	assert_int_equal(pv_audit_open(&o, &a), PV_OK);
	write_records(a, 3, 3);
	assert_int_equal(pv_audit_close(a), PV_OK);
	load(f->path, &ls);
	assert_non_null(strstr(ls.l[1], "\"key_version\":1,"));
	assert_non_null(strstr(ls.l[ls.n - 1], "\"key_version\":2,"));
	assert_int_equal(verify_lines(f, &ls, "rot-hmac", 0, &rep), PV_OK);
	assert_int_equal(rep.verified, 4);
	/* a MAC checked with another version of the key does not verify */
	p = strstr(ls.l[1], "\"key_version\":1,");
	p[14] = '2';
	expect_bad(f, &ls, "rot-hmac", 2, "checkpoint MAC does not verify");
	lines_free(&ls);
}

/*
 * Only a key of purpose audit makes or checks checkpoint MACs: an
 * hmac-sha256 key of another purpose is refused as the audit key before
 * anything is written, by the verifier, and the audit key itself signs
 * nothing for another purpose (a client's "sign" could otherwise re-MAC an
 * edited log).
 */
static void
test_audit_key_purpose(void **state)
{
	static const char *const others[] = {"sign-hmac", "derive-hmac"};
	struct fixture *f = *state;
	struct pv_audit_opts o;
	struct pv_audit_report rep;
	struct pv_sign_opts so = {.purpose = PV_PURPOSE_SIGN, .digest = PV_DIGEST_NONE};
	struct pv_sig sig;
	struct lines ls;
	pv_audit *a = NULL;
	struct stat sb;
	uint8_t msg[PV_AUDIT_HASH_LEN + 8] = {0};
	size_t i;

	make_log(f, "purpose", 12, 5);
	load(f->path, &ls);
	for (i = 0; i < PV_NELEM(others); i++) {
		fresh_path(f, "wrong-purpose");
		opts(f, &o, 10);
		o.hmac_key = others[i];
		pv_err_clear_detail();
		assert_int_equal(pv_audit_open(&o, &a), PV_ERR_PURPOSE);
		assert_null(a);
		assert_non_null(strstr(pv_err_detail(), "this needs a key of purpose audit"));
		/* refused before the first line */
		assert_true(stat(f->path, &sb) != 0 || sb.st_size == 0);
		/* the verifier does not take its MACs as checkpoint MACs either */
		assert_int_equal(verify_lines(f, &ls, others[i], 0, &rep), PV_ERR_PURPOSE);
	}
	/* the checkpoint key signs nothing under another purpose: a sign or
	 * derive grant that covers its name gets no MAC */
	assert_int_equal(pv_sign(f->ks, "audit-hmac", &so, msg, sizeof(msg), &sig), PV_ERR_PURPOSE);
	so.purpose = PV_PURPOSE_DERIVE;
	assert_int_equal(pv_sign(f->ks, "audit-hmac", &so, msg, sizeof(msg), &sig), PV_ERR_PURPOSE);
	/* and the right key still verifies the same log */
	assert_int_equal(verify_lines(f, &ls, "audit-hmac", 0, &rep), PV_OK);
	lines_free(&ls);
}

struct thread_arg {
	pv_audit *a;
	unsigned base;
};

static void *
writer_thread(void *p)
{
	struct thread_arg *t = p;
	struct pv_audit_rec rec;
	char rid[32], input[64];
	unsigned i;
	intptr_t bad = 0;

	for (i = 0; i < 50; i++) {
		record(t->base + i, &rec, rid, sizeof(rid), input, sizeof(input));
		if (pv_audit_write(t->a, &rec) != PV_OK)
			bad++;
	}
	return (void *)bad;
}

static void
test_concurrent_writers(void **state)
{
	struct fixture *f = *state;
	struct pv_audit_opts o;
	struct pv_audit_report rep;
	struct thread_arg args[4];
	pthread_t th[4];
	pv_audit *a = NULL;
	void *ret;
	int fd, i;

	fresh_path(f, "threads");
	opts(f, &o, 7);
	assert_int_equal(pv_audit_open(&o, &a), PV_OK);
	for (i = 0; i < 4; i++) {
		args[i].a = a;
		args[i].base = (unsigned)i * 1000;
		assert_int_equal(pthread_create(&th[i], NULL, writer_thread, &args[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], &ret), 0);
		assert_null(ret);
	}
	assert_int_equal(pv_audit_close(a), PV_OK);
	fd = open(f->path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pv_audit_verify(f->ks, "audit-hmac", fd, &rep), PV_OK);
	close(fd);
	assert_int_equal(rep.records, 200);
	/* 1 after open, 28 after each 7 records, 1 at close for the last 4 */
	assert_int_equal(rep.verified, 30);
}

/* A MAC callback whose token goes away and comes back. */
struct flaky_mac {
	pv_keystore *ks;
	int down;
	unsigned calls;
};

static pv_err
flaky_mac(void *ctx, const uint8_t *msg, size_t len, uint8_t out[PV_AUDIT_HASH_LEN], unsigned *version)
{
	struct flaky_mac *m = ctx;
	struct pv_sign_opts o = {0};
	struct pv_sig sig;
	pv_err r;

	m->calls++;
	if (m->down)
		return PV_ERR_TOKEN_UNAVAILABLE;
	o.purpose = PV_PURPOSE_AUDIT;
	o.digest = PV_DIGEST_NONE;
	if ((r = pv_sign(m->ks, "audit-hmac", &o, msg, len, &sig)) != PV_OK)
		return r;
	memcpy(out, sig.bytes, PV_AUDIT_HASH_LEN);
	*version = sig.version;
	return PV_OK;
}

/* A checkpoint due while the token is away is deferred, not skipped: the
 * records go on after one deferred line, and the checkpoint follows when
 * the MAC works again; the verifier accepts that and only that. */
static void
test_checkpoint_deferred(void **state)
{
	struct fixture *f = *state;
	struct flaky_mac m = {f->ks, 0, 0};
	struct pv_audit_opts o;
	struct pv_audit_report rep;
	pv_audit *a = NULL;
	struct lines ls;
	size_t i, deferred = 0;

	fresh_path(f, "deferred");
	opts(f, &o, 3);
	o.ks = NULL;
	o.mac.mac = flaky_mac;
	o.mac.ctx = &m;
	assert_int_equal(pv_audit_open(&o, &a), PV_OK);
	write_records(a, 0, 2);
	m.down = 1;
	write_records(a, 2, 10); /* checkpoints due after 3, 6, 9: all deferred */
	assert_int_equal(pv_audit_checkpoint(a), PV_ERR_TOKEN_UNAVAILABLE);
	m.down = 0;
	/* the checkpoint follows the next record, off the request path */
	write_records(a, 12, 1);
	assert_int_equal(pv_audit_close(a), PV_OK);
	load(f->path, &ls);
	for (i = 0; i < ls.n; i++)
		deferred += strncmp(ls.l[i], "{\"type\":\"deferred\",", 19) == 0;
	assert_int_equal(deferred, 1);
	/* open, cp, 2 records, deferred, 11 records, checkpoint (none at close) */
	assert_int_equal(ls.n, 17);
	assert_non_null(strstr(ls.l[ls.n - 2], "\"rid\":\"req-12\""));
	assert_int_equal(strncmp(ls.l[ls.n - 1], "{\"type\":\"checkpoint\",", 21), 0);
	assert_int_equal(verify_lines(f, &ls, "audit-hmac", 0, &rep), PV_OK);
	assert_int_equal(rep.records, 13);
	assert_int_equal(rep.deferred, 1);
	assert_int_equal(rep.after_last, 0);
	/* without the deferred line the same records are a missing checkpoint */
	for (i = 0; i < ls.n; i++)
		if (strncmp(ls.l[i], "{\"type\":\"deferred\",", 19) == 0)
			break;
	remove_line(&ls, i);
	rechain(&ls, i, 1);
	assert_int_equal(verify_lines(f, &ls, NULL, 0, &rep), PV_ERR_INTEGRITY);
	assert_non_null(strstr(rep.reason, "more than 3 records since the last checkpoint"));
	lines_free(&ls);
}

/* A write that fails part-way (here a file size limit, as a full disk
 * would) releases nothing, leaves no torn line, and writing resumes when
 * space comes back, on the same handle. */
static void
test_write_failure_resumes(void **state)
{
	struct fixture *f = *state;
	struct pv_audit_opts o;
	struct pv_audit_report rep;
	struct pv_audit_rec rec;
	struct rlimit old, lim;
	struct stat sb;
	pv_audit *a = NULL;
	char rid[32], input[64];
	struct lines ls;
	unsigned i;

	fresh_path(f, "full");
	opts(f, &o, 4);
	assert_int_equal(pv_audit_open(&o, &a), PV_OK);
	write_records(a, 0, 3);
	assert_int_equal(stat(f->path, &sb), 0);
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = (rlim_t)sb.st_size + 40; /* a short write, then none */
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	for (i = 3; i < 8; i++) {
		record(i, &rec, rid, sizeof(rid), input, sizeof(input));
		assert_int_equal(pv_audit_write(a, &rec), PV_ERR_IO);
		assert_int_equal(stat(f->path, &sb), 0);
		assert_int_equal(sb.st_size, lim.rlim_cur - 40);
	}
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	write_records(a, 8, 5);
	assert_int_equal(pv_audit_close(a), PV_OK);
	load(f->path, &ls);
	assert_int_equal(verify_lines(f, &ls, "audit-hmac", 0, &rep), PV_OK);
	assert_int_equal(rep.records, 8);
	assert_null(strstr(ls.l[4], "req-3"));
	lines_free(&ls);
}

static pv_err
verify_paths(struct fixture *f, const char *const *paths, size_t n, struct pv_audit_report *rep)
{
	int fds[4];
	size_t i;
	pv_err r;

	assert_true(n <= PV_NELEM(fds));
	for (i = 0; i < n; i++)
		assert_true((fds[i] = open(paths[i], O_RDONLY)) >= 0);
	r = pv_audit_verify_files(f->ks, "audit-hmac", fds, n, rep);
	for (i = 0; i < n; i++)
		(void)close(fds[i]);
	return r;
}

/* Rotation: the file is moved away, pv_audit_reopen continues the chain in
 * a new file; the files verify in order, and not with one missing, out of
 * order or twice. A reopen with nothing moved writes nothing. */
static void
test_reopen_rotation(void **state)
{
	struct fixture *f = *state;
	struct pv_audit_opts o;
	struct pv_audit_report rep;
	pv_audit *a = NULL;
	char p1[160], p2[160], p3[160];
	struct stat sb, sb2;
	struct lines ls;

	fresh_path(f, "rot");
	snprintf(p1, sizeof(p1), "%s.1", f->path);
	snprintf(p2, sizeof(p2), "%s.2", f->path);
	snprintf(p3, sizeof(p3), "%s", f->path);
	opts(f, &o, 4);
	assert_int_equal(pv_audit_open(&o, &a), PV_OK);
	write_records(a, 0, 6);
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(pv_audit_reopen(a), PV_OK); /* not moved */
	assert_int_equal(stat(f->path, &sb2), 0);
	assert_int_equal(sb.st_size, sb2.st_size);
	assert_int_equal(rename(f->path, p1), 0);
	write_records(a, 6, 1); /* still into the moved file */
	assert_int_equal(pv_audit_reopen(a), PV_OK);
	write_records(a, 7, 5);
	assert_int_equal(rename(f->path, p2), 0);
	assert_int_equal(pv_audit_reopen(a), PV_OK);
	write_records(a, 12, 2);
	assert_int_equal(pv_audit_close(a), PV_OK);

	/* each new file starts with an open line that continues the chain */
	load(p2, &ls);
	assert_int_equal(strncmp(ls.l[0], "{\"type\":\"open\",", 15), 0);
	assert_int_equal(strncmp(ls.l[1], "{\"type\":\"checkpoint\",", 21), 0);
	lines_free(&ls);
	{
		const char *const all[] = {p1, p2, p3};
		const char *const gap[] = {p1, p3};
		const char *const swapped[] = {p2, p1, p3};
		const char *const twice[] = {p1, p2, p2, p3};

		assert_int_equal(verify_paths(f, all, 3, &rep), PV_OK);
		assert_int_equal(rep.records, 14);
		assert_int_equal(rep.after_last, 0);
		assert_int_equal(verify_paths(f, gap, 2, &rep), PV_ERR_INTEGRITY);
		assert_int_equal(rep.bad_file, 1);
		assert_int_equal(rep.bad_line, 1);
		assert_non_null(strstr(rep.reason, "line 1: prev does not match the hash of the last line of "
						   "the previous file"));
		assert_int_equal(verify_paths(f, swapped, 3, &rep), PV_ERR_INTEGRITY);
		assert_int_equal(rep.bad_file, 1);
		assert_int_equal(verify_paths(f, twice, 4, &rep), PV_ERR_INTEGRITY);
		assert_int_equal(rep.bad_file, 2);
		/* each later file alone still verifies (its first line is an open line) */
		assert_int_equal(verify_paths(f, &swapped[0], 1, &rep), PV_OK);
	}
	/* a new file that is not empty is refused; the old one stays in use */
	fresh_path(f, "rot");
	assert_int_equal(pv_audit_open(&o, &a), PV_OK);
	assert_int_equal(rename(f->path, p1), 0);
	{
		FILE *fp = fopen(f->path, "w");
		assert_non_null(fp);
		fputs("junk\n", fp);
		fclose(fp);
	}
	assert_int_equal(pv_audit_reopen(a), PV_ERR_EXISTS);
	write_records(a, 0, 2);
	assert_int_equal(pv_audit_close(a), PV_OK);
	load(p1, &ls);
	assert_int_equal(verify_lines(f, &ls, "audit-hmac", 0, &rep), PV_OK);
	assert_int_equal(rep.records, 2);
	lines_free(&ls);
}

/* Failed authentications: the first of a peer per interval is a line of
 * its own, the rest one line with a count; nothing is lost at close. */
static void
test_auth_failures_aggregated(void **state)
{
	struct fixture *f = *state;
	struct pv_audit_opts o;
	struct pv_audit_report rep;
	struct pv_audit_rec rec;
	pv_audit *a = NULL;
	struct lines ls;
	unsigned recent = 0, i, lines7 = 0;
	uint64_t total7 = 0, total8 = 0;
	cJSON *doc;
	const cJSON *client, *count, *status;

	fresh_path(f, "auth");
	opts(f, &o, 50);
	assert_int_equal(pv_audit_open(&o, &a), PV_OK);
	memset(&rec, 0, sizeof(rec));
	rec.op = "keys.read";
	rec.outcome = PV_AUDIT_DENIED;
	rec.status = 401;
	assert_int_equal(pv_audit_auth_failure(a, &rec, "uid:7", &recent), PV_OK);
	assert_int_equal(recent, 1);
	for (i = 1; i < 300; i++)
		assert_int_equal(pv_audit_auth_failure(a, &rec, "uid:7", &recent), PV_OK);
	assert_true(recent >= 150); /* at most one interval boundary in between */
	assert_int_equal(pv_audit_auth_failure(a, &rec, "uid:8", &recent), PV_OK);
	assert_int_equal(recent, 1);
	assert_int_equal(pv_audit_auth_failure(a, &rec, "x", &recent), PV_OK);
	assert_int_equal(pv_audit_close(a), PV_OK);
	load(f->path, &ls);
	for (i = 0; i < ls.n; i++) {
		doc = cJSON_Parse(ls.l[i]);
		assert_non_null(doc);
		client = cJSON_GetObjectItemCaseSensitive(doc, "client");
		count = cJSON_GetObjectItemCaseSensitive(doc, "count");
		status = cJSON_GetObjectItemCaseSensitive(doc, "status");
		if (client != NULL && strcmp(client->valuestring, "uid:7") == 0) {
			lines7++;
			total7 += count != NULL ? (uint64_t)count->valuedouble : 1;
			assert_int_equal((int)status->valuedouble, 401);
		} else if (client != NULL && status != NULL && (int)status->valuedouble == 401) {
			total8 += count != NULL ? (uint64_t)count->valuedouble : 1;
		}
		cJSON_Delete(doc);
	}
	/* the first line has an empty client (the caller's record); the
	 * summaries name the peer */
	assert_true(lines7 >= 1 && lines7 <= 3);
	assert_int_equal(total7 + total8, 302);
	assert_true(ls.n <= 12);
	assert_int_equal(verify_lines(f, &ls, "audit-hmac", 0, &rep), PV_OK);
	lines_free(&ls);
}

/* ---- group commit (docs/audit.md §5) ---- */

#define GROUP_THREADS 8
#define GROUP_LINES   150

struct group_arg {
	pv_audit *a;
	unsigned t;
	_Atomic unsigned *clock;
	/* per line: the clock when its write began and when it returned */
	unsigned start[GROUP_LINES], end[GROUP_LINES];
	pv_err r;
};

static void *
group_thread(void *p)
{
	struct group_arg *g = p;
	struct pv_audit_rec rec;
	char rid[32], input[64];
	unsigned i;
	pv_err r;

	for (i = 0; i < GROUP_LINES; i++) {
		record(i, &rec, rid, sizeof(rid), input, sizeof(input));
		snprintf(rid, sizeof(rid), "t%u-%u", g->t, i);
		g->start[i] = atomic_fetch_add(g->clock, 1);
		if ((r = pv_audit_write(g->a, &rec)) != PV_OK && g->r == PV_OK)
			g->r = r;
		g->end[i] = atomic_fetch_add(g->clock, 1);
	}
	return NULL;
}

/* The whole file, NUL-terminated. */
static char *
slurp(const char *path, size_t *len)
{
	struct stat sb;
	char *buf;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &sb), 0);
	buf = malloc((size_t)sb.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(read(fd, buf, (size_t)sb.st_size), sb.st_size);
	buf[sb.st_size] = '\0';
	close(fd);
	*len = (size_t)sb.st_size;
	return buf;
}

/* base64url without padding of SHA-256(p), made by OpenSSL. */
static void
openssl_h(const char *p, size_t len, char out[64])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	int n, i;

	assert_int_equal(EVP_Digest(p, len, md, &mdlen, EVP_sha256(), NULL), 1);
	n = EVP_EncodeBlock((unsigned char *)out, md, 32);
	for (i = 0; i < n; i++)
		out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
	while (n > 0 && out[n - 1] == '=')
		n--;
	out[n] = '\0';
}

/*
 * Many threads writing at once: one valid chain (the project's verifier,
 * with the token, and the hashes again with OpenSSL), every record once,
 * and a record whose write returned before another's began comes first.
 */
static void
test_group_commit_threads(void **state)
{
	struct fixture *f = *state;
	static struct group_arg g[GROUP_THREADS];
	static int pos[GROUP_THREADS][GROUP_LINES];
	_Atomic unsigned clock = 0;
	struct pv_audit_opts o;
	struct pv_audit_report rep;
	pthread_t th[GROUP_THREADS];
	pv_audit *a = NULL;
	char *buf, *line, *nl, prevh[64] = "";
	size_t len, n = 0, nrec = 0, k;
	unsigned *starts, *ends, t, i, minend;
	int fd;

	fresh_path(f, "group");
	opts(f, &o, 10);
	assert_int_equal(pv_audit_open(&o, &a), PV_OK);
	memset(pos, -1, sizeof(pos));
	for (t = 0; t < GROUP_THREADS; t++) {
		memset(&g[t], 0, sizeof(g[t]));
		g[t].a = a;
		g[t].t = t;
		g[t].clock = &clock;
		assert_int_equal(pthread_create(&th[t], NULL, group_thread, &g[t]), 0);
	}
	for (t = 0; t < GROUP_THREADS; t++) {
		assert_int_equal(pthread_join(th[t], NULL), 0);
		assert_int_equal(g[t].r, PV_OK);
	}
	assert_int_equal(pv_audit_close(a), PV_OK);

	fd = open(f->path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pv_audit_verify(f->ks, "audit-hmac", fd, &rep), PV_OK);
	close(fd);
	assert_int_equal(rep.records, GROUP_THREADS * GROUP_LINES);
	assert_int_equal(rep.after_last, 0);
	/* every 10 records a checkpoint: 1 after open, 120, none left at close */
	assert_int_equal(rep.verified, 1 + GROUP_THREADS * GROUP_LINES / 10);

	/* each line's prev is the hash of the one before (OpenSSL's SHA-256),
	 * and each record is there once */
	buf = slurp(f->path, &len);
	starts = calloc(GROUP_THREADS * GROUP_LINES, sizeof(*starts));
	ends = calloc(GROUP_THREADS * GROUP_LINES, sizeof(*ends));
	assert_non_null(starts);
	assert_non_null(ends);
	for (line = buf; (nl = strchr(line, '\n')) != NULL; line = nl + 1, n++) {
		cJSON *doc;
		const cJSON *rid, *prev;

		*nl = '\0';
		assert_non_null(doc = cJSON_Parse(line));
		prev = cJSON_GetObjectItemCaseSensitive(doc, "prev");
		assert_true(cJSON_IsString(prev));
		if (n > 0)
			assert_string_equal(prev->valuestring, prevh);
		openssl_h(line, (size_t)(nl - line), prevh);
		rid = cJSON_GetObjectItemCaseSensitive(doc, "rid");
		if (rid != NULL) {
			assert_int_equal(sscanf(rid->valuestring, "t%u-%u", &t, &i), 2);
			assert_true(t < GROUP_THREADS && i < GROUP_LINES);
			assert_int_equal(pos[t][i], -1); /* not twice */
			pos[t][i] = (int)nrec;
			starts[nrec] = g[t].start[i];
			ends[nrec] = g[t].end[i];
			nrec++;
		}
		cJSON_Delete(doc);
	}
	assert_int_equal(nrec, GROUP_THREADS * GROUP_LINES);
	/* order: no record after this one returned before this one began */
	minend = UINT32_MAX;
	for (k = nrec; k-- > 0;) {
		assert_true(minend > starts[k]);
		if (ends[k] < minend)
			minend = ends[k];
	}
	free(starts);
	free(ends);
	free(buf);
}

/* A MAC callback that waits at a gate (the checkpoint thread holds the log
 * meanwhile, so that records queue up behind it). */
struct gated_mac {
	pv_keystore *ks;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int closed, waiting;
};

static pv_err
gated_mac(void *ctx, const uint8_t *msg, size_t len, uint8_t out[PV_AUDIT_HASH_LEN], unsigned *version)
{
	struct gated_mac *m = ctx;
	struct pv_sign_opts o = {0};
	struct pv_sig sig;
	pv_err r;

	pthread_mutex_lock(&m->mu);
	m->waiting += m->closed;
	pthread_cond_broadcast(&m->cv);
	while (m->closed)
		pthread_cond_wait(&m->cv, &m->mu);
	pthread_mutex_unlock(&m->mu);
	o.purpose = PV_PURPOSE_AUDIT;
	o.digest = PV_DIGEST_NONE;
	if ((r = pv_sign(m->ks, "audit-hmac", &o, msg, len, &sig)) != PV_OK)
		return r;
	memcpy(out, sig.bytes, PV_AUDIT_HASH_LEN);
	*version = sig.version;
	return PV_OK;
}

#define FAIL_THREADS 16

static void *
one_record_thread(void *p)
{
	struct group_arg *g = p;
	struct pv_audit_rec rec;
	char rid[32], input[64];

	record(g->t, &rec, rid, sizeof(rid), input, sizeof(input));
	snprintf(rid, sizeof(rid), "lost-%u", g->t);
	g->r = pv_audit_write(g->a, &rec);
	return NULL;
}

/*
 * A batch whose write fails (here a file size limit: the checkpoint line
 * fits, the records after it do not, as on a disk that fills up) fails
 * every request in it with PV_ERR_IO, leaves no torn line, and the log
 * goes on from the last complete line when space comes back.
 */
static void
test_group_commit_write_failure(void **state)
{
	struct fixture *f = *state;
	static struct group_arg g[FAIL_THREADS];
	struct gated_mac m;
	struct pv_audit_opts o;
	struct pv_audit_report rep;
	struct rlimit old, lim;
	struct stat sb;
	pthread_t th[FAIL_THREADS];
	pv_audit *a = NULL;
	char *buf;
	size_t len;
	unsigned t;
	int fd;

	memset(&m, 0, sizeof(m));
	m.ks = f->ks;
	pthread_mutex_init(&m.mu, NULL);
	pthread_cond_init(&m.cv, NULL);
	fresh_path(f, "groupfail");
	opts(f, &o, 40);
	o.ks = NULL;
	o.mac.mac = gated_mac;
	o.mac.ctx = &m;
	assert_int_equal(pv_audit_open(&o, &a), PV_OK);
	write_records(a, 0, 39);
	pthread_mutex_lock(&m.mu);
	m.closed = 1;
	pthread_mutex_unlock(&m.mu);
	write_records(a, 39, 1); /* the 40th: its checkpoint waits at the gate */
	pthread_mutex_lock(&m.mu);
	while (m.waiting == 0)
		pthread_cond_wait(&m.cv, &m.mu);
	pthread_mutex_unlock(&m.mu);
	assert_int_equal(stat(f->path, &sb), 0);
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = (rlim_t)sb.st_size + 250; /* the checkpoint line, not a record more */
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	for (t = 0; t < FAIL_THREADS; t++) {
		memset(&g[t], 0, sizeof(g[t]));
		g[t].a = a;
		g[t].t = t;
		assert_int_equal(pthread_create(&th[t], NULL, one_record_thread, &g[t]), 0);
	}
	usleep(200 * 1000); /* let them queue (not needed for the result) */
	pthread_mutex_lock(&m.mu);
	m.closed = 0;
	pthread_cond_broadcast(&m.cv);
	pthread_mutex_unlock(&m.mu);
	for (t = 0; t < FAIL_THREADS; t++) {
		assert_int_equal(pthread_join(th[t], NULL), 0);
		assert_int_equal(g[t].r, PV_ERR_IO);
	}
	/* the file ends with the complete checkpoint line */
	buf = slurp(f->path, &len);
	assert_true(len > (size_t)sb.st_size && len <= (size_t)lim.rlim_cur);
	assert_int_equal(buf[len - 1], '\n');
	assert_null(strstr(buf, "lost-"));
	free(buf);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	write_records(a, 100, 3);
	assert_int_equal(pv_audit_close(a), PV_OK);
	fd = open(f->path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pv_audit_verify(f->ks, "audit-hmac", fd, &rep), PV_OK);
	close(fd);
	assert_int_equal(rep.records, 43);
	buf = slurp(f->path, &len);
	assert_null(strstr(buf, "lost-"));
	free(buf);
	pthread_cond_destroy(&m.cv);
	pthread_mutex_destroy(&m.mu);
}

/* Fields are escaped exactly as cJSON prints them (the verifier refuses
 * any other spelling) and read back unchanged. */
static void
test_line_escapes(void **state)
{
	struct fixture *f = *state;
	static const char *const odd[] = {
	    "",
	    "q\"uote",
	    "back\\slash",
	    "\b\f\n\r\t",
	    "\x01\x1f\x7f",
	    "caf\xc3\xa9 \xe2\x82\xac",
	    "/slash/",
	    "\xff\xfe not utf-8",
	};
	struct pv_audit_opts o;
	struct pv_audit_report rep;
	struct pv_audit_rec rec;
	pv_audit *a = NULL;
	struct lines ls;
	size_t i, j = 0;

	fresh_path(f, "escapes");
	opts(f, &o, 3);
	assert_int_equal(pv_audit_open(&o, &a), PV_OK);
	for (i = 0; i < PV_NELEM(odd); i++) {
		memset(&rec, 0, sizeof(rec));
		rec.rid = odd[i];
		rec.client = odd[(i + 1) % PV_NELEM(odd)];
		rec.op = odd[(i + 2) % PV_NELEM(odd)];
		rec.key = odd[(i + 3) % PV_NELEM(odd)];
		rec.tx = odd[i][0] != '\0' ? odd[i] : NULL;
		rec.chain_id = i == 2 ? PV_AUDIT_INT_MAX : i;
		rec.count = i;
		rec.latency_us = i == 3 ? PV_AUDIT_INT_MAX : (uint64_t)i * 1000;
		rec.status = 999;
		assert_int_equal(pv_audit_write(a, &rec), PV_OK);
	}
	assert_int_equal(pv_audit_close(a), PV_OK);
	load(f->path, &ls);
	assert_int_equal(verify_lines(f, &ls, "audit-hmac", 0, &rep), PV_OK);
	assert_int_equal(rep.records, PV_NELEM(odd));
	for (i = 0; i < ls.n; i++) {
		cJSON *doc = cJSON_Parse(ls.l[i]);
		const cJSON *rid, *key;

		assert_non_null(doc);
		rid = cJSON_GetObjectItemCaseSensitive(doc, "rid");
		key = cJSON_GetObjectItemCaseSensitive(doc, "key");
		if (rid != NULL) {
			assert_string_equal(rid->valuestring, odd[j]);
			assert_string_equal(key->valuestring, odd[(j + 3) % PV_NELEM(odd)]);
			j++;
		}
		cJSON_Delete(doc);
	}
	assert_int_equal(j, PV_NELEM(odd));
	lines_free(&ls);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_written_log_verifies),
	    cmocka_unit_test(test_edit_one_byte),
	    cmocka_unit_test(test_delete_insert_swap),
	    cmocka_unit_test(test_truncated_last_line),
	    cmocka_unit_test(test_rechained_edit_caught_by_mac),
	    cmocka_unit_test(test_seq_and_missing_checkpoint),
	    cmocka_unit_test(test_other_hmac_key),
	    cmocka_unit_test(test_resume),
	    cmocka_unit_test(test_rotation_and_time),
	    cmocka_unit_test(test_bad_records_refused),
	    cmocka_unit_test(test_wallet_members),
	    cmocka_unit_test(test_concurrent_writers),
	    cmocka_unit_test(test_syslog_only),
	    cmocka_unit_test(test_hmac_key_rotation),
	    cmocka_unit_test(test_audit_key_purpose),
	    cmocka_unit_test(test_checkpoint_deferred),
	    cmocka_unit_test(test_write_failure_resumes),
	    cmocka_unit_test(test_reopen_rotation),
	    cmocka_unit_test(test_auth_failures_aggregated),
	    cmocka_unit_test(test_group_commit_threads),
	    cmocka_unit_test(test_group_commit_write_failure),
	    cmocka_unit_test(test_line_escapes),
	};
	int r;

	if (pv_secmem_init() != PV_OK)
		return 1;
	if ((r = tu_make_token(&T, "pvaudit")) != 0)
		return r == TU_SKIP ? TU_SKIP : 1;
	r = cmocka_run_group_tests(tests, setup, teardown);
	tu_remove_token(&T);
	return r;
}
