/*
 * vault-bench: the measurement loop, shared by the raw C_Sign runs, the
 * pv_sign runs and the vaultd (HTTP over the Unix socket) runs so all pay
 * the same timing overhead per operation.
 */
#ifndef PV_VAULT_BENCH_H
#define PV_VAULT_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "core/keys.h"

enum bench_mode {
	BENCH_RAW,  /* p11_sign on the resolved object, fixed input */
	BENCH_LIB,  /* pv_sign by name */
	BENCH_HTTP, /* one request to vaultd per operation, one keep-alive connection per thread */
};

struct bench_job {
	pv_keystore *ks;
	const char *name; /* key name (BENCH_LIB) */
	pv_alg alg;
	p11_obj obj; /* resolved once (BENCH_RAW); each thread works on a copy */
	/* BENCH_RAW: the bytes C_Sign signs; NULL: a fixed 32-byte digest (RSA:
	 * in a SHA-256 DigestInfo) */
	const uint8_t *raw_in;
	size_t raw_in_len;
	enum bench_mode mode;
	unsigned threads;
	double seconds;
	/* BENCH_HTTP: the socket, the complete request (readable for the whole
	 * run; it holds the bearer token, so it lives in guarded memory) and a
	 * string every 200 response must contain; a response that is not such a
	 * 200 is counted in failures and not in ops) */
	const char *http_socket;
	const uint8_t *http_req;
	size_t http_req_len;
	const char *http_expect;
};

struct bench_result {
	uint64_t ops;
	double elapsed; /* seconds, first thread start to last thread end */
	double ops_per_sec;
	double p50_us, p99_us;
	/* vault-bench, over repeated rounds: the median of this side's ops/s ÷
	 * its raw run's ops/s round by round (each pair measured back to back);
	 * 0: not set */
	double paired_ratio;
	uint64_t latency_dropped; /* ops past the preallocated latency array */
	uint64_t reconnects;      /* BENCH_HTTP: connections re-opened (keep-alive lost) */
	uint64_t failures;        /* BENCH_HTTP: replies that were not a 200 with http_expect */
	char failure[200];        /* the first of them (status and a printable part of the body) */
};

/* Run job.threads threads for job.seconds each. A failed operation stops
 * the run with its error, except a bad HTTP reply (res->failures). */
pv_err bench_run(const struct bench_job *job, struct bench_result *res) PV_WUR;

/* The median of v[0..n) (n at most BENCH_MEDIAN_MAX); NAN when n is 0 or
 * over that. */
#define BENCH_MEDIAN_MAX 64
double bench_median(const double *v, unsigned n);

#endif
