/*
 * vault-chaos: the load and the checks of the chaos run
 * (tools/vault-bench/chaos.sh, `make bench-chaos`).
 *
 *   vault-chaos load --vaultd SOCKET --bearer-file FILE --key NAME
 *                    --threads T --seconds S [--rate N] --out DIR --tag TAG
 *
 * T threads, one keep-alive connection each, send POST /v1/keys/NAME/sign
 * with a message of their own per request ("vault-chaos TAG tT nN") at N
 * requests per second in all (--rate 0: as fast as they can, to measure
 * capacity). Every reply is kept, one line per request in DIR/replies.T:
 *
 *   N SEND_US DONE_US STATUS CODE RID VERSION RETRY_AFTER SIGNATURE_B64
 *
 * (times: CLOCK_REALTIME in microseconds; CODE: the error code of a non-200
 * or "-"; "-" for what a reply did not carry; STATUS 0 with CODE
 * "transport": no HTTP reply at all, "timeout": none within 15 s). A thread that falls more than a
 * second behind its schedule skips ahead (counted as "late"), so a stall
 * is not followed by a burst. Replies are not checked during the run.
 *
 *   vault-chaos check --pub PEM --key NAME --tag TAG --threads T --replies DIR
 *                     AUDIT-FILE...
 *
 * Afterwards: every 200's signature is verified with OpenSSL (ECDSA, DER,
 * SHA-256) against the key's public key over the message the request sent,
 * and must have its audit record (docs/audit.md §1): the reply's request id
 * as rid, op sign, this key, status 200, outcome ok, input_sha256 the
 * SHA-256 of the request body sent. One JSON object on stdout with the counts; exit 1 when
 * a signature is wrong or a 200 has no record.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "base/secmem.h"
#include "core/b64.h"
#include "base/http_client.h"

#define CHAOS_THREADS_MAX      64
#define CHAOS_RID_MAX          64
#define CHAOS_CODE_MAX         64
#define CHAOS_SIG_MAX          256 /* base64 of a DER P-256/P-384 signature fits */
#define CHAOS_MSG_MAX          128
/* a reply that takes longer is counted as "timeout" (vaultd's own request
 * timeout is 5 s; a token call never answers is what this catches) */
#define CHAOS_REPLY_TIMEOUT_MS 15000

struct opts {
	const char *vaultd, *bearer_file, *key, *out, *tag, *pub, *replies;
	unsigned threads;
	double seconds, rate;
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: vault-chaos load --vaultd SOCKET --bearer-file FILE --key NAME --threads T\n"
		   "                        --seconds S [--rate N] --out DIR --tag TAG\n"
		   "       vault-chaos check --pub PEM --key NAME --tag TAG --threads T --replies DIR "
		   "AUDIT-FILE...\n");
}

static int64_t
now_us(clockid_t clk)
{
	struct timespec t;

	clock_gettime(clk, &t);
	return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static int
chaos_msg(char *out, size_t cap, const char *tag, unsigned thread, uint64_t n)
{
	int k = snprintf(out, cap, "vault-chaos %s t%u n%" PRIu64, tag, thread, n);

	return k < 0 || (size_t)k >= cap ? -1 : k;
}

/* The body of the sign request for msg (what vaultd's audit line hashes). */
static int
request_body(const char *msg, size_t mlen, char *out, size_t cap)
{
	char *b64 = NULL;
	int k;

	if (pv_b64_encode((const uint8_t *)msg, mlen, &b64) != PV_OK)
		return -1;
	k = snprintf(out, cap, "{\"input_b64\":\"%s\",\"format\":\"der\"}", b64);
	free(b64);
	return k < 0 || (size_t)k >= cap ? -1 : k;
}

/* ---- load ---- */

struct loader {
	const struct opts *o;
	unsigned id;
	pv_secret *req; /* this thread's request buffer: it holds the bearer token */
	size_t prefix_len;
	FILE *out;
	uint64_t sent, ok, late, transport;
	pv_err err;
	char detail[256];
};

/* "CODE" of {"error":{"code":...}}, "-" when none */
static void
reply_fields(const uint8_t *body, size_t len, unsigned status, char *code, char *sig, unsigned *version)
{
	cJSON *j = cJSON_ParseWithLength((const char *)body, len), *e;

	snprintf(code, CHAOS_CODE_MAX, "-");
	snprintf(sig, CHAOS_SIG_MAX, "-");
	*version = 0;
	if (j == NULL) {
		snprintf(code, CHAOS_CODE_MAX, "not-json");
		return;
	}
	if (status == 200) {
		e = cJSON_GetObjectItemCaseSensitive(j, "signature_b64");
		if (cJSON_IsString(e) && strlen(e->valuestring) < CHAOS_SIG_MAX &&
		    strspn(e->valuestring,
			   "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") ==
			strlen(e->valuestring) &&
		    e->valuestring[0] != '\0')
			snprintf(sig, CHAOS_SIG_MAX, "%s", e->valuestring);
		e = cJSON_GetObjectItemCaseSensitive(j, "version");
		if (cJSON_IsNumber(e) && e->valuedouble >= 1 && e->valuedouble <= 1000)
			*version = (unsigned)e->valuedouble;
	} else {
		e = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "error"), "code");
		if (cJSON_IsString(e) && e->valuestring[0] != '\0' &&
		    strlen(e->valuestring) < CHAOS_CODE_MAX && strpbrk(e->valuestring, " \t\r\n") == NULL)
			snprintf(code, CHAOS_CODE_MAX, "%s", e->valuestring);
		else
			snprintf(code, CHAOS_CODE_MAX, "no-code");
	}
	cJSON_Delete(j);
}

/* A header's value for the record: one printable word or "-". */
static void
head_field(struct pv_http *c, const char *name, char *out, size_t cap)
{
	const uint8_t *h;
	size_t hl;

	pv_http_last_head(c, &h, &hl);
	if (pv_http_find_header(h, hl, name, out, cap) != PV_OK || out[0] == '\0' ||
	    strpbrk(out, " \t") != NULL)
		snprintf(out, cap, "-");
}

/* One request; its line in the replies file. */
static void
one_request(struct loader *l, struct pv_http *c, uint64_t n)
{
	char msg[CHAOS_MSG_MAX], tail[64], code[CHAOS_CODE_MAX], sig[CHAOS_SIG_MAX], rid[CHAOS_RID_MAX],
	    retry[16], rbody[2 * CHAOS_MSG_MAX + 64];
	uint8_t *buf;
	const uint8_t *body;
	size_t blen, len, rlen, cap = pv_secret_cap(l->req);
	unsigned status = 0, version = 0;
	int mlen, tl, k;
	int64_t t0, t1;
	pv_err r;

	if ((mlen = chaos_msg(msg, sizeof(msg), l->o->tag, l->id, n)) < 0 ||
	    (k = request_body(msg, (size_t)mlen, rbody, sizeof(rbody))) < 0)
		abort(); /* a bounded message: cannot happen */
	blen = (size_t)k;
	tl = snprintf(tail, sizeof(tail), "%zu\r\n\r\n", blen);
	if (tl < 0 || l->prefix_len + (size_t)tl + blen > cap)
		abort();
	buf = pv_secret_rw(l->req);
	len = l->prefix_len;
	memcpy(buf + len, tail, (size_t)tl);
	len += (size_t)tl;
	memcpy(buf + len, rbody, blen);
	len += blen;

	t0 = now_us(CLOCK_REALTIME);
	r = pv_http_roundtrip(c, buf, len, &status, &body, &rlen);
	t1 = now_us(CLOCK_REALTIME);
	l->sent++;
	if (r != PV_OK) {
		l->transport++;
		if (l->transport <= 3)
			fprintf(stderr, "vault-chaos: thread %u request %" PRIu64 ": %s\n", l->id, n,
				pv_err_detail());
		fprintf(l->out, "%" PRIu64 " %" PRId64 " %" PRId64 " 0 %s - 0 - -\n", n, t0, t1,
			pv_http_timed_out(c) ? "timeout" : "transport");
		/* vaultd not there: do not spin */
		if (!pv_http_timed_out(c))
			nanosleep(&(struct timespec){.tv_nsec = 100000000}, NULL);
		return;
	}
	reply_fields(body, rlen, status, code, sig, &version);
	head_field(c, "X-Request-Id", rid, sizeof(rid));
	head_field(c, "Retry-After", retry, sizeof(retry));
	if (status == 200)
		l->ok++;
	fprintf(l->out, "%" PRIu64 " %" PRId64 " %" PRId64 " %u %s %s %u %s %s\n", n, t0, t1, status, code,
		rid, version, retry, sig);
}

static void *
loader_main(void *arg)
{
	struct loader *l = arg;
	const struct opts *o = l->o;
	struct pv_http *c = NULL;
	double interval = o->rate > 0 ? (double)o->threads / o->rate : 0; /* seconds per request */
	int64_t start, end, due, now;
	uint64_t n = 0, slot = 0;

	if ((l->err = pv_http_open(o->vaultd, &c)) != PV_OK ||
	    (l->err = pv_http_set_timeout(c, CHAOS_REPLY_TIMEOUT_MS)) != PV_OK) {
		snprintf(l->detail, sizeof(l->detail), "%s", pv_err_detail());
		return NULL;
	}
	start = now_us(CLOCK_MONOTONIC);
	end = start + (int64_t)(o->seconds * 1e6);
	/* the threads' schedules interleave */
	start += (int64_t)(interval * 1e6 * l->id / o->threads);
	for (;;) {
		now = now_us(CLOCK_MONOTONIC);
		if (now >= end)
			break;
		if (interval > 0) {
			due = start + (int64_t)((double)slot * interval * 1e6);
			if (now - due > 1000000) { /* a second behind: skip ahead */
				uint64_t skip = (uint64_t)((double)(now - due) / (interval * 1e6));

				l->late += skip;
				slot += skip;
				continue;
			}
			if (due > now) {
				struct timespec ts = {(time_t)((due - now) / 1000000),
						      (long)((due - now) % 1000000) * 1000};

				while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
					;
				continue;
			}
			slot++;
		}
		one_request(l, c, n++);
	}
	pv_secret_lock(l->req);
	pv_http_close(c);
	return NULL;
}

/* A thread's request buffer: "POST ... Bearer TOKEN ... Content-Length: " */
static pv_err
request_prefix(const struct opts *o, pv_secret *bearer, size_t blen, pv_secret **out, size_t *prefix_len)
{
	char head[512];
	const char *tail = "\r\nContent-Type: application/json\r\nContent-Length: ";
	pv_secret *s = NULL;
	int n;
	pv_err r;

	*out = NULL;
	n = snprintf(head, sizeof(head),
		     "POST /v1/keys/%s/sign HTTP/1.1\r\nHost: vaultd\r\nAuthorization: Bearer ", o->key);
	if (n < 0 || (size_t)n >= sizeof(head))
		return PV_ERR_USAGE;
	if ((r = pv_secret_new((size_t)n + blen + strlen(tail) + 1024, &s)) != PV_OK)
		goto out;
	if ((r = pv_secret_append(s, head, (size_t)n)) != PV_OK ||
	    (r = pv_secret_append(s, pv_secret_ro(bearer), blen)) != PV_OK ||
	    (r = pv_secret_append(s, tail, strlen(tail))) != PV_OK)
		goto out;
	*prefix_len = pv_secret_len(s);
	pv_secret_lock(s);
	*out = s;
	s = NULL;
out:
	pv_secret_lock(bearer);
	pv_secret_free(s);
	return r;
}

static int
load_main(const struct opts *o)
{
	struct loader l[CHAOS_THREADS_MAX] = {0};
	pthread_t tid[CHAOS_THREADS_MAX];
	pv_secret *bearer = NULL;
	uint64_t sent = 0, ok = 0, late = 0, transport = 0;
	unsigned started = 0;
	size_t blen = 0;
	char path[4096];
	int64_t t0, t1;
	int rc = 1;
	pv_err r;

	if ((r = pv_http_load_bearer(o->bearer_file, &bearer, &blen)) != PV_OK)
		goto out;
	for (unsigned i = 0; i < o->threads; i++) {
		l[i].o = o;
		l[i].id = i;
		if ((r = request_prefix(o, bearer, blen, &l[i].req, &l[i].prefix_len)) != PV_OK)
			goto out;
		snprintf(path, sizeof(path), "%s/replies.%u", o->out, i);
		if ((l[i].out = fopen(path, "w")) == NULL) {
			pv_err_set_detail("%s: %s", path, strerror(errno));
			r = PV_ERR_IO;
			goto out;
		}
		setvbuf(l[i].out, NULL, _IOFBF, 1 << 20);
	}
	t0 = now_us(CLOCK_MONOTONIC);
	for (; started < o->threads; started++)
		if (pthread_create(&tid[started], NULL, loader_main, &l[started]) != 0)
			break;
	for (unsigned i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	t1 = now_us(CLOCK_MONOTONIC);
	r = started == o->threads ? PV_OK : PV_ERR_INTERNAL;
	for (unsigned i = 0; i < o->threads; i++) {
		if (l[i].err != PV_OK && r == PV_OK) {
			r = l[i].err;
			pv_err_set_detail("%s", l[i].detail);
		}
		if (fclose(l[i].out) != 0 && r == PV_OK) {
			pv_err_set_detail("writing the replies: %s", strerror(errno));
			r = PV_ERR_IO;
		}
		l[i].out = NULL;
		sent += l[i].sent;
		ok += l[i].ok;
		late += l[i].late;
		transport += l[i].transport;
	}
	if (r != PV_OK)
		goto out;
	printf("requests=%" PRIu64 " ok=%" PRIu64 " transport_errors=%" PRIu64 " late_skipped=%" PRIu64
	       " seconds=%.3f rate=%.1f ok_per_sec=%.1f\n",
	       sent, ok, transport, late, (double)(t1 - t0) / 1e6, (double)sent * 1e6 / (double)(t1 - t0),
	       (double)ok * 1e6 / (double)(t1 - t0));
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "vault-chaos load: %s: %s\n", pv_err_id(r), pv_err_detail());
	for (unsigned i = 0; i < o->threads; i++) {
		if (l[i].out != NULL)
			fclose(l[i].out);
		pv_secret_free(l[i].req);
	}
	pv_secret_free(bearer);
	return rc;
}

/* ---- check ---- */

struct audit_rec {
	char rid[CHAOS_RID_MAX];
	char input[48]; /* input_sha256, b64url */
	int ok;         /* status 200 and outcome ok */
};

static int
cmp_rec(const void *a, const void *b)
{
	return strcmp(((const struct audit_rec *)a)->rid, ((const struct audit_rec *)b)->rid);
}

struct audit_set {
	struct audit_rec *rec;
	size_t n, cap;
	uint64_t lines, ok_records;
};

static const char *
jstr(const cJSON *o, const char *name)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(e) ? e->valuestring : NULL;
}

/* The sign records on key from one audit file. */
static pv_err
audit_read(const char *path, const char *key, struct audit_set *a)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t lcap = 0;
	ssize_t len;
	pv_err r = PV_OK;

	if (f == NULL) {
		pv_err_set_detail("%s: %s", path, strerror(errno));
		return PV_ERR_IO;
	}
	while ((len = getline(&line, &lcap, f)) > 0) {
		cJSON *j = cJSON_ParseWithLength(line, (size_t)len);
		const char *rid, *op, *k, *in, *outcome;
		const cJSON *st;

		a->lines++;
		if (j == NULL) {
			pv_err_set_detail("%s: line %" PRIu64 " is not JSON", path, a->lines);
			r = PV_ERR_BAD_INPUT;
			break;
		}
		rid = jstr(j, "rid");
		op = jstr(j, "op");
		k = jstr(j, "key");
		in = jstr(j, "input_sha256");
		outcome = jstr(j, "outcome");
		st = cJSON_GetObjectItemCaseSensitive(j, "status");
		if (jstr(j, "type") == NULL && rid != NULL && op != NULL && k != NULL && in != NULL &&
		    outcome != NULL && cJSON_IsNumber(st) && strcmp(op, "sign") == 0 && strcmp(k, key) == 0 &&
		    strlen(rid) < CHAOS_RID_MAX && strlen(in) < sizeof(a->rec[0].input)) {
			if (a->n == a->cap) {
				size_t nc = a->cap ? a->cap * 2 : 65536;
				struct audit_rec *p = realloc(a->rec, nc * sizeof(*p));

				if (p == NULL) {
					cJSON_Delete(j);
					r = PV_ERR_NOMEM;
					break;
				}
				a->rec = p;
				a->cap = nc;
			}
			snprintf(a->rec[a->n].rid, CHAOS_RID_MAX, "%s", rid);
			snprintf(a->rec[a->n].input, sizeof(a->rec[0].input), "%s", in);
			a->rec[a->n].ok = st->valuedouble == 200 && strcmp(outcome, "ok") == 0;
			a->ok_records += (uint64_t)a->rec[a->n].ok;
			a->n++;
		}
		cJSON_Delete(j);
	}
	free(line);
	fclose(f);
	return r;
}

struct checker {
	const struct opts *o;
	const struct audit_set *audit;
	EVP_PKEY *pub;
	unsigned id;
	uint64_t replies, ok, wrong, unaudited, other_version, bad_reply;
	pv_err err;
	char detail[4200];
};

/* Does the DER signature sig_b64 verify over msg with pub (OpenSSL)? */
static int
sig_ok(EVP_PKEY *pub, const char *msg, size_t mlen, const char *sig_b64)
{
	uint8_t sig[256];
	size_t slen;
	EVP_MD_CTX *md = NULL;
	int ok = 0;

	if (pv_b64_decode(sig_b64, strlen(sig_b64), sig, sizeof(sig), &slen) != PV_OK)
		return 0;
	if ((md = EVP_MD_CTX_new()) != NULL && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub) == 1 &&
	    EVP_DigestVerify(md, sig, slen, (const uint8_t *)msg, mlen) == 1)
		ok = 1;
	EVP_MD_CTX_free(md);
	return ok;
}

static int
audited(const struct audit_set *a, const char *rid, const char *msg, size_t mlen)
{
	struct audit_rec key;
	const struct audit_rec *hit;
	uint8_t d[32];
	unsigned dl = 0;
	char *want = NULL, body[2 * CHAOS_MSG_MAX + 64];
	int ok = 0;

	snprintf(key.rid, sizeof(key.rid), "%s", rid);
	if (a->n == 0 || (hit = bsearch(&key, a->rec, a->n, sizeof(key), cmp_rec)) == NULL)
		return 0;
	/* vaultd records the SHA-256 of the request body: the one load sent */
	if (request_body(msg, mlen, body, sizeof(body)) < 0 ||
	    EVP_Digest(body, strlen(body), d, &dl, EVP_sha256(), NULL) != 1 ||
	    pv_b64url_encode(d, dl, &want) != PV_OK)
		return 0;
	/* request ids are unique; a neighbour with the same rid is looked at too */
	for (const struct audit_rec *p = hit; p >= a->rec && strcmp(p->rid, rid) == 0 && !ok; p--)
		ok = p->ok && strcmp(p->input, want) == 0;
	for (const struct audit_rec *p = hit + 1; p < a->rec + a->n && strcmp(p->rid, rid) == 0 && !ok; p++)
		ok = p->ok && strcmp(p->input, want) == 0;
	free(want);
	return ok;
}

static void *
checker_main(void *arg)
{
	struct checker *c = arg;
	char path[3800], line[1024], code[CHAOS_CODE_MAX], rid[CHAOS_RID_MAX], retry[16], sig[CHAOS_SIG_MAX],
	    msg[CHAOS_MSG_MAX];
	uint64_t n;
	int64_t t0, t1;
	unsigned status, version;
	FILE *f;
	int mlen;

	snprintf(path, sizeof(path), "%s/replies.%u", c->o->replies, c->id);
	if ((f = fopen(path, "r")) == NULL) {
		snprintf(c->detail, sizeof(c->detail), "%s: %s", path, strerror(errno));
		c->err = PV_ERR_IO;
		return NULL;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		c->replies++;
		if (sscanf(line, "%" SCNu64 " %" SCNd64 " %" SCNd64 " %u %63s %63s %u %15s %255s", &n, &t0,
			   &t1, &status, code, rid, &version, retry, sig) != 9) {
			c->bad_reply++;
			continue;
		}
		if (status != 200)
			continue;
		c->ok++;
		mlen = chaos_msg(msg, sizeof(msg), c->o->tag, c->id, n);
		if (version != 1) {
			/* the run never rotates: only version 1 signs */
			if (c->other_version++ < 3)
				fprintf(stderr,
					"vault-chaos check: thread %u request %" PRIu64 ": version %u\n",
					c->id, n, version);
		}
		if (mlen < 0 || !sig_ok(c->pub, msg, (size_t)mlen, sig)) {
			if (c->wrong++ < 5)
				fprintf(stderr,
					"vault-chaos check: WRONG SIGNATURE: thread %u request %" PRIu64
					" rid %s (message \"%s\", signature %s)\n",
					c->id, n, rid, msg, sig);
		}
		if (mlen < 0 || !audited(c->audit, rid, msg, (size_t)mlen)) {
			if (c->unaudited++ < 5)
				fprintf(
				    stderr,
				    "vault-chaos check: 200 WITHOUT ITS AUDIT RECORD: thread %u request %" PRIu64
				    " rid %s at %" PRId64 " us\n",
				    c->id, n, rid, t1);
		}
	}
	fclose(f);
	return NULL;
}

static int
check_main(const struct opts *o, char **files, int nfiles)
{
	struct audit_set a = {0};
	struct checker c[CHAOS_THREADS_MAX] = {0};
	pthread_t tid[CHAOS_THREADS_MAX];
	uint64_t replies = 0, ok = 0, wrong = 0, unaudited = 0, other = 0, bad = 0;
	unsigned started = 0;
	EVP_PKEY *pub = NULL;
	FILE *f;
	int rc = 2;
	pv_err r = PV_OK;

	if ((f = fopen(o->pub, "r")) == NULL || (pub = PEM_read_PUBKEY(f, NULL, NULL, NULL)) == NULL) {
		fprintf(stderr, "vault-chaos check: cannot read a public key from %s\n", o->pub);
		if (f != NULL)
			fclose(f);
		goto out;
	}
	fclose(f);
	for (int i = 0; i < nfiles; i++)
		if ((r = audit_read(files[i], o->key, &a)) != PV_OK) {
			fprintf(stderr, "vault-chaos check: %s: %s\n", pv_err_id(r), pv_err_detail());
			goto out;
		}
	if (a.n > 0)
		qsort(a.rec, a.n, sizeof(*a.rec), cmp_rec);
	for (unsigned i = 0; i < o->threads; i++) {
		c[i].o = o;
		c[i].audit = &a;
		c[i].pub = pub;
		c[i].id = i;
	}
	for (; started < o->threads; started++)
		if (pthread_create(&tid[started], NULL, checker_main, &c[started]) != 0)
			break;
	for (unsigned i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	if (started != o->threads) {
		fprintf(stderr, "vault-chaos check: could not start %u threads\n", o->threads);
		goto out;
	}
	for (unsigned i = 0; i < o->threads; i++) {
		if (c[i].err != PV_OK) {
			fprintf(stderr, "vault-chaos check: %s\n", c[i].detail);
			goto out;
		}
		replies += c[i].replies;
		ok += c[i].ok;
		wrong += c[i].wrong;
		unaudited += c[i].unaudited;
		other += c[i].other_version;
		bad += c[i].bad_reply;
	}
	printf("{\"replies\":%" PRIu64 ",\"ok\":%" PRIu64 ",\"signatures_verified\":%" PRIu64
	       ",\"wrong_signatures\":%" PRIu64 ",\"without_audit\":%" PRIu64 ",\"other_version\":%" PRIu64
	       ",\"unreadable_replies\":%" PRIu64 ",\"audit_lines\":%" PRIu64 ",\"audit_sign_records\":%zu"
	       ",\"audit_ok_records\":%" PRIu64 "}\n",
	       replies, ok, ok - wrong, wrong, unaudited, other, bad, a.lines, a.n, a.ok_records);
	rc = wrong == 0 && unaudited == 0 && other == 0 && bad == 0 ? 0 : 1;
out:
	EVP_PKEY_free(pub);
	free(a.rec);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"vaultd", required_argument, NULL, 'v'},  {"bearer-file", required_argument, NULL, 'b'},
	    {"key", required_argument, NULL, 'k'},     {"threads", required_argument, NULL, 't'},
	    {"seconds", required_argument, NULL, 's'}, {"rate", required_argument, NULL, 'r'},
	    {"out", required_argument, NULL, 'o'},     {"tag", required_argument, NULL, 'g'},
	    {"pub", required_argument, NULL, 'p'},     {"replies", required_argument, NULL, 'R'},
	    {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
	};
	struct opts o = {.threads = 4, .seconds = 10};
	const char *cmd;
	char *end;
	int ch, load;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	cmd = argv[1];
	load = strcmp(cmd, "load") == 0;
	if (!load && strcmp(cmd, "check") != 0) {
		usage(strcmp(cmd, "--help") == 0 ? stdout : stderr);
		return strcmp(cmd, "--help") == 0 ? 0 : 2;
	}
	optind = 2;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'v':
			o.vaultd = optarg;
			break;
		case 'b':
			o.bearer_file = optarg;
			break;
		case 'k':
			o.key = optarg;
			break;
		case 'o':
			o.out = optarg;
			break;
		case 'g':
			o.tag = optarg;
			break;
		case 'p':
			o.pub = optarg;
			break;
		case 'R':
			o.replies = optarg;
			break;
		case 't':
			o.threads = (unsigned)strtoul(optarg, &end, 10);
			if (*end != '\0' || o.threads < 1 || o.threads > CHAOS_THREADS_MAX)
				goto bad;
			break;
		case 's':
			o.seconds = strtod(optarg, &end);
			if (*end != '\0' || !(o.seconds > 0 && o.seconds <= 86400))
				goto bad;
			break;
		case 'r':
			o.rate = strtod(optarg, &end);
			if (*end != '\0' || !(o.rate >= 0 && o.rate <= 1e6))
				goto bad;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			goto bad;
		}
	}
	if (o.key == NULL || o.tag == NULL || strlen(o.tag) > 32 || strpbrk(o.tag, " \t\n") != NULL ||
	    strlen(o.key) > 128 || strpbrk(o.key, "/?# \t\n") != NULL)
		goto bad;
	if (pv_secmem_init() != PV_OK) {
		fprintf(stderr, "vault-chaos: %s\n", pv_err_detail());
		return 1;
	}
	if (load) {
		if (o.vaultd == NULL || o.bearer_file == NULL || o.out == NULL || optind != argc)
			goto bad;
		return load_main(&o);
	}
	if (o.pub == NULL || o.replies == NULL || optind >= argc)
		goto bad;
	return check_main(&o, argv + optind, argc - optind);
bad:
	usage(stderr);
	return 2;
}
