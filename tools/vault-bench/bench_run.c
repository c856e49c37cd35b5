#include "config.h"

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alg.h"
#include "core/sign.h"
#include "tools/vault-bench/bench.h"
#include "base/http_client.h"

/* Latencies are kept in nanoseconds (saturating) up to this many per thread. */
#define LAT_PER_SEC_GUESS 200000.0
#define LAT_CAP_MAX       ((size_t)1 << 23)

/* SHA-256 DigestInfo prefix (RFC 8017, section 9.2, note 1). */
static const uint8_t di_sha256[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
				    0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};

struct worker {
	const struct bench_job *job;
	atomic_int *go; /* 0: wait, 1: run, -1: give up */
	uint32_t *lat;
	size_t cap, n;
	uint64_t ops, dropped, failures;
	struct pv_http *http; /* BENCH_HTTP: this thread's connection */
	struct timespec start, end;
	pv_err err;
	char detail[256];
	char failure[200]; /* the first bad HTTP reply */
};

static double
ts_sec(const struct timespec *t)
{
	return (double)t->tv_sec + (double)t->tv_nsec / 1e9;
}

static uint64_t
ts_diff_ns(const struct timespec *a, const struct timespec *b)
{
	return (uint64_t)((b->tv_sec - a->tv_sec) * 1000000000L + (b->tv_nsec - a->tv_nsec));
}

static void
record(struct worker *w, uint64_t ns)
{
	w->ops++;
	if (w->n == w->cap) {
		w->dropped++;
		return;
	}
	w->lat[w->n++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

/*
 * One request to vaultd. A transport failure is the error returned; a reply
 * that is not a 200 carrying job->http_expect sets *bad and the detail.
 */
static pv_err
http_op(struct worker *w, int *bad)
{
	const struct bench_job *job = w->job;
	const uint8_t *body;
	size_t len, elen = strlen(job->http_expect);
	unsigned status;
	pv_err r;

	*bad = 0;
	r = pv_http_roundtrip(w->http, job->http_req, job->http_req_len, &status, &body, &len);
	if (r != PV_OK)
		return r;
	if (status != 200) {
		/* vaultd's error bodies are JSON without secrets; show a bounded, printable part */
		char msg[161];
		size_t n = len < sizeof(msg) - 1 ? len : sizeof(msg) - 1;

		for (size_t i = 0; i < n; i++)
			msg[i] = body[i] >= 0x20 && body[i] < 0x7f ? (char)body[i] : '.';
		msg[n] = '\0';
		pv_err_set_detail("HTTP status %u: %s", status, msg);
		*bad = 1;
	} else if (elen == 0 || len < elen || memmem(body, len, job->http_expect, elen) == NULL) {
		pv_err_set_detail("200 response without %s", job->http_expect);
		*bad = 1;
	}
	return PV_OK;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	const struct bench_job *job = w->job;
	const struct pv_alg_info *ai = pv_alg_info(job->alg);
	CK_MECHANISM mech = {ai->sign, NULL, 0};
	struct pv_sign_opts opts = {.purpose = PV_PURPOSE_SIGN};
	p11_obj obj = job->obj;
	uint8_t msg[32], in[sizeof(di_sha256) + 32], sig[PV_SIG_MAX];
	struct timespec t0, t1;
	struct pv_sig out;
	const uint8_t *raw_in = in;
	size_t inlen = 0, siglen;
	double deadline;
	int bad = 0;

	/* A fixed 32-byte message, which is also the "digest" for raw runs. */
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i * 7 + 1);
	if (ai->family == PV_FAMILY_RSA) {
		memcpy(in, di_sha256, sizeof(di_sha256));
		inlen = sizeof(di_sha256);
	}
	memcpy(in + inlen, msg, sizeof(msg));
	inlen += sizeof(msg);
	if (job->raw_in != NULL) {
		raw_in = job->raw_in;
		inlen = job->raw_in_len;
	}

	while (atomic_load(w->go) == 0)
		sched_yield();
	if (atomic_load(w->go) < 0)
		return NULL;
	clock_gettime(CLOCK_MONOTONIC, &w->start);
	deadline = ts_sec(&w->start) + job->seconds;
	t1 = w->start;
	while (ts_sec(&t1) < deadline) {
		t0 = t1;
		if (job->mode == BENCH_RAW) {
			siglen = sizeof(sig);
			w->err =
			    p11_sign(pv_keystore_token(job->ks), &mech, &obj, raw_in, inlen, sig, &siglen);
		} else if (job->mode == BENCH_HTTP) {
			w->err = http_op(w, &bad);
		} else {
			w->err = pv_sign(job->ks, job->name, &opts, msg, sizeof(msg), &out);
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (w->err != PV_OK) {
			snprintf(w->detail, sizeof(w->detail), "%s", pv_err_detail());
			break;
		}
		if (bad) {
			if (w->failures++ == 0)
				snprintf(w->failure, sizeof(w->failure), "%s", pv_err_detail());
			continue;
		}
		record(w, ts_diff_ns(&t0, &t1));
	}
	w->end = t1;
	return NULL;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* Merge the per-thread latencies and take percentiles (nearest rank). */
static pv_err
percentiles(struct worker *w, unsigned nw, struct bench_result *res)
{
	uint32_t *all = NULL;
	size_t total = 0, k = 0;
	pv_err r = PV_OK;

	for (unsigned i = 0; i < nw; i++)
		total += w[i].n;
	if (total == 0)
		goto out;
	if ((all = malloc(total * sizeof(*all))) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	for (unsigned i = 0; i < nw; i++) {
		memcpy(all + k, w[i].lat, w[i].n * sizeof(*all));
		k += w[i].n;
	}
	qsort(all, total, sizeof(*all), cmp_u32);
	res->p50_us = (double)all[(total - 1) * 50 / 100] / 1e3;
	res->p99_us = (double)all[(total - 1) * 99 / 100] / 1e3;
out:
	free(all);
	return r;
}

pv_err
bench_run(const struct bench_job *job, struct bench_result *res)
{
	struct worker *w = NULL;
	pthread_t *tid = NULL;
	atomic_int go = 0;
	unsigned started = 0, nw = job->threads;
	double first = 0, last = 0;
	size_t cap;
	pv_err r = PV_OK;

	memset(res, 0, sizeof(*res));
	if (nw == 0 || job->seconds <= 0 ||
	    (job->mode == BENCH_HTTP &&
	     (job->http_socket == NULL || job->http_req == NULL || job->http_expect == NULL)))
		return PV_ERR_USAGE;
	cap = (size_t)(job->seconds * LAT_PER_SEC_GUESS) + 1024;
	if (cap > LAT_CAP_MAX)
		cap = LAT_CAP_MAX;
	w = calloc(nw, sizeof(*w));
	tid = calloc(nw, sizeof(*tid));
	if (w == NULL || tid == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	for (unsigned i = 0; i < nw; i++) {
		w[i].job = job;
		w[i].go = &go;
		w[i].cap = cap;
		/* preallocated and touched now, not during the measurement */
		if ((w[i].lat = calloc(cap, sizeof(*w[i].lat))) == NULL) {
			r = PV_ERR_NOMEM;
			goto out;
		}
		/* connected before the clock starts: keep-alive is what is measured */
		if (job->mode == BENCH_HTTP && (r = pv_http_open(job->http_socket, &w[i].http)) != PV_OK)
			goto out;
	}
	for (; started < nw; started++)
		if (pthread_create(&tid[started], NULL, worker_main, &w[started]) != 0)
			break;
	/* all threads start together, or none measures */
	atomic_store(&go, started == nw ? 1 : -1);
	for (unsigned i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	if (started != nw) {
		pv_err_set_detail("could not start %u threads", nw);
		r = PV_ERR_INTERNAL;
		goto out;
	}
	for (unsigned i = 0; i < nw; i++) {
		if (w[i].err != PV_OK && r == PV_OK) {
			r = w[i].err;
			pv_err_set_detail("%s", w[i].detail);
		}
		res->ops += w[i].ops;
		if (w[i].failures > 0 && res->failures == 0)
			snprintf(res->failure, sizeof(res->failure), "%s", w[i].failure);
		res->failures += w[i].failures;
		res->latency_dropped += w[i].dropped;
		if (w[i].http != NULL)
			res->reconnects += pv_http_reconnects(w[i].http);
		if (i == 0 || ts_sec(&w[i].start) < first)
			first = ts_sec(&w[i].start);
		if (i == 0 || ts_sec(&w[i].end) > last)
			last = ts_sec(&w[i].end);
	}
	if (r != PV_OK)
		goto out;
	res->elapsed = last - first;
	res->ops_per_sec = res->elapsed > 0 ? (double)res->ops / res->elapsed : 0;
	r = percentiles(w, nw, res);
out:
	for (unsigned i = 0; w != NULL && i < nw; i++) {
		free(w[i].lat);
		pv_http_close(w[i].http);
	}
	free(w);
	free(tid);
	return r;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double
bench_median(const double *v, unsigned n)
{
	double t[BENCH_MEDIAN_MAX];

	if (n == 0 || n > BENCH_MEDIAN_MAX)
		return NAN;
	memcpy(t, v, n * sizeof(*t));
	qsort(t, n, sizeof(*t), cmp_double);
	return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}
