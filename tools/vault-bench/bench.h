/*
 * vault-bench: the measurement loop, shared by the raw C_Sign runs and the
 * pv_sign runs so both pay the same timing overhead per operation.
 */
#ifndef PV_VAULT_BENCH_H
#define PV_VAULT_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "core/keys.h"

enum bench_mode {
	BENCH_RAW, /* p11_sign on the resolved object, fixed input */
	BENCH_LIB, /* pv_sign by name */
};

struct bench_job {
	pv_keystore *ks;
	const char *name; /* key name (BENCH_LIB) */
	pv_alg alg;
	p11_obj obj; /* resolved once (BENCH_RAW); each thread works on a copy */
	enum bench_mode mode;
	unsigned threads;
	double seconds;
};

struct bench_result {
	uint64_t ops;
	double elapsed; /* seconds, first thread start to last thread end */
	double ops_per_sec;
	double p50_us, p99_us;
	uint64_t latency_dropped; /* ops past the preallocated latency array */
};

/* Run job.threads threads for job.seconds each; all must succeed. */
pv_err bench_run(const struct bench_job *job, struct bench_result *res) PV_WUR;

#endif
