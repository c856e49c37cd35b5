/*
 * vault-bench: signing throughput of the token itself (raw C_Sign on a
 * resolved handle) against pv_sign (name lookup, metadata and handle cache,
 * digest, low-S), measured in the same run on the same token so that the
 * ratio means something. Token from P11VAULT_TOKEN / P11VAULT_MODULE /
 * P11VAULT_PIN_SOURCE; see tools/vault-bench/bench.sh for a throwaway one.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/secmem.h"
#include "core/sign.h"
#include "tools/vault-bench/bench.h"

#define LIST_MAX 8

struct row {
	pv_alg alg;
	unsigned threads;
	struct bench_result raw, lib;
};

struct config {
	double seconds;
	pv_alg algs[LIST_MAX];
	size_t nalgs;
	unsigned threads[LIST_MAX];
	size_t nthreads;
	int json;
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: vault-bench [--seconds S] [--threads 1,2] "
		   "[--algs p256,ed25519,secp256k1,rsa2048] [--json]\n");
}

/* Comma-separated list; each item through parse_one. */
static int
parse_list(const char *arg, int (*parse_one)(const char *, void *, size_t), void *out, size_t *n)
{
	char item[32];
	const char *p = arg, *comma;
	size_t len;

	*n = 0;
	while (*p != '\0') {
		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (len == 0 || len >= sizeof(item) || *n == LIST_MAX)
			return -1;
		memcpy(item, p, len);
		item[len] = '\0';
		if (parse_one(item, out, (*n)++) != 0)
			return -1;
		p += len + (comma != NULL);
	}
	return *n > 0 ? 0 : -1;
}

static int
parse_alg(const char *s, void *out, size_t i)
{
	pv_alg a = pv_alg_from_name(s);

	if (a == PV_ALG_NONE || !pv_alg_is_asymmetric(a)) {
		fprintf(stderr, "vault-bench: not a signing algorithm: %s\n", s);
		return -1;
	}
	((pv_alg *)out)[i] = a;
	return 0;
}

static int
parse_threads(const char *s, void *out, size_t i)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*end != '\0' || v < 1 || v > 256)
		return -1;
	((unsigned *)out)[i] = (unsigned)v;
	return 0;
}

static int
parse_args(int argc, char **argv, struct config *c)
{
	static const struct option longopts[] = {
	    {"seconds", required_argument, NULL, 's'}, {"threads", required_argument, NULL, 't'},
	    {"algs", required_argument, NULL, 'a'},    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
	};
	char *end;
	int ch;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			c->seconds = strtod(optarg, &end);
			if (*end != '\0' || !(c->seconds > 0 && c->seconds <= 600))
				return -1;
			break;
		case 't':
			if (parse_list(optarg, parse_threads, c->threads, &c->nthreads) != 0)
				return -1;
			break;
		case 'a':
			if (parse_list(optarg, parse_alg, c->algs, &c->nalgs) != 0)
				return -1;
			break;
		case 'j':
			c->json = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -1;
		}
	}
	return optind == argc ? 0 : -1;
}

/* Create bench-ALG, or reuse it from an earlier run; sign once to warm up. */
static pv_err
prepare_key(pv_keystore *ks, pv_alg alg, const char *name, p11_obj *obj)
{
	struct pv_sign_opts opts = {0};
	struct pv_key *key = NULL;
	struct pv_key_version ver;
	struct pv_sig sig;
	pv_err r;

	r = pv_keys_create(ks, name, alg, &key);
	if (r == PV_ERR_EXISTS)
		r = pv_keys_get(ks, name, &key);
	if (r != PV_OK)
		goto out;
	if (key->alg != alg) {
		pv_err_set_detail("key %s exists with another algorithm", name);
		r = PV_ERR_EXISTS;
		goto out;
	}
	if ((r = pv_sign(ks, name, &opts, (const uint8_t *)"warm-up", 7, &sig)) != PV_OK)
		goto out;
	pv_key_free(key);
	key = NULL;
	r = pv_keys_resolve(ks, name, 0, &key, &ver, obj);
out:
	pv_key_free(key);
	return r;
}

static double
ratio(const struct row *w)
{
	return w->raw.ops_per_sec > 0 ? w->lib.ops_per_sec / w->raw.ops_per_sec : 0;
}

static void
print_table(const struct config *c, const struct row *rows, size_t n)
{
	printf("%-10s %7s %12s %13s %8s %10s %10s\n", "alg", "threads", "raw ops/s", "pv_sign ops/s", "ratio",
	       "p50 us", "p99 us");
	for (size_t i = 0; i < n; i++)
		printf("%-10s %7u %12.0f %13.0f %8.3f %10.1f %10.1f\n", pv_alg_info(rows[i].alg)->name,
		       rows[i].threads, rows[i].raw.ops_per_sec, rows[i].lib.ops_per_sec, ratio(&rows[i]),
		       rows[i].lib.p50_us, rows[i].lib.p99_us);
	printf("(%.1f s per measurement; latencies are pv_sign's)\n", c->seconds);
}

static int
print_json(const struct config *c, const struct row *rows, size_t n)
{
	cJSON *root = cJSON_CreateObject(), *arr = NULL, *o;
	char *text = NULL;
	int rc = -1;

	if (root == NULL || cJSON_AddNumberToObject(root, "seconds", c->seconds) == NULL ||
	    (arr = cJSON_AddArrayToObject(root, "results")) == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if ((o = cJSON_CreateObject()) == NULL || !cJSON_AddItemToArray(arr, o))
			goto out;
		if (cJSON_AddStringToObject(o, "alg", pv_alg_info(rows[i].alg)->name) == NULL ||
		    cJSON_AddNumberToObject(o, "threads", rows[i].threads) == NULL ||
		    cJSON_AddNumberToObject(o, "raw_ops_per_sec", rows[i].raw.ops_per_sec) == NULL ||
		    cJSON_AddNumberToObject(o, "pv_sign_ops_per_sec", rows[i].lib.ops_per_sec) == NULL ||
		    cJSON_AddNumberToObject(o, "ratio", ratio(&rows[i])) == NULL ||
		    cJSON_AddNumberToObject(o, "pv_sign_p50_us", rows[i].lib.p50_us) == NULL ||
		    cJSON_AddNumberToObject(o, "pv_sign_p99_us", rows[i].lib.p99_us) == NULL ||
		    cJSON_AddNumberToObject(o, "raw_p50_us", rows[i].raw.p50_us) == NULL ||
		    cJSON_AddNumberToObject(o, "raw_p99_us", rows[i].raw.p99_us) == NULL)
			goto out;
	}
	if ((text = cJSON_Print(root)) == NULL)
		goto out;
	printf("%s\n", text);
	rc = 0;
out:
	free(text);
	cJSON_Delete(root);
	return rc;
}

static pv_err
run_all(pv_keystore *ks, const struct config *c, struct row *rows, size_t *nrows)
{
	struct bench_job job = {.ks = ks, .seconds = c->seconds};
	char name[PV_KEY_NAME_MAX + 1];
	struct row *w;
	pv_err r = PV_OK;

	*nrows = 0;
	for (size_t a = 0; a < c->nalgs; a++) {
		snprintf(name, sizeof(name), "bench-%s", pv_alg_info(c->algs[a])->name);
		job.name = name;
		job.alg = c->algs[a];
		if ((r = prepare_key(ks, c->algs[a], name, &job.obj)) != PV_OK)
			return r;
		for (size_t t = 0; t < c->nthreads; t++) {
			w = &rows[(*nrows)++];
			w->alg = c->algs[a];
			w->threads = job.threads = c->threads[t];
			job.mode = BENCH_RAW;
			if ((r = bench_run(&job, &w->raw)) != PV_OK)
				return r;
			job.mode = BENCH_LIB;
			if ((r = bench_run(&job, &w->lib)) != PV_OK)
				return r;
			if (!c->json)
				fprintf(stderr, "vault-bench: %s x%u done\n", name, w->threads);
		}
	}
	return r;
}

int
main(int argc, char **argv)
{
	struct config cfg = {.seconds = 3,
			     .algs = {PV_ALG_P256, PV_ALG_ED25519, PV_ALG_SECP256K1, PV_ALG_RSA2048},
			     .nalgs = 4,
			     .threads = {1, 2},
			     .nthreads = 2};
	struct p11_token_opts topts = {0};
	struct row rows[LIST_MAX * LIST_MAX];
	pv_keystore *ks = NULL;
	p11_token *tok = NULL;
	size_t nrows = 0;
	int rc = 1;
	pv_err r;

	if (parse_args(argc, argv, &cfg) != 0) {
		usage(stderr);
		return 2;
	}
	topts.token_uri = getenv("P11VAULT_TOKEN");
	topts.module = getenv("P11VAULT_MODULE");
	topts.pin_source = getenv("P11VAULT_PIN_SOURCE");
	if ((r = pv_secmem_init()) != PV_OK || (r = p11_token_open(&topts, &tok)) != PV_OK ||
	    (r = p11_token_login(tok)) != PV_OK || (r = pv_keystore_new(tok, &ks)) != PV_OK ||
	    (r = run_all(ks, &cfg, rows, &nrows)) != PV_OK) {
		fprintf(stderr, "vault-bench: %s%s%s\n", pv_strerror(r), *pv_err_detail() ? ": " : "",
			pv_err_detail());
		goto out;
	}
	if (cfg.json)
		rc = print_json(&cfg, rows, nrows) == 0 ? 0 : 1;
	else {
		print_table(&cfg, rows, nrows);
		rc = 0;
	}
out:
	pv_keystore_free(ks);
	p11_token_close(tok);
	return rc;
}
