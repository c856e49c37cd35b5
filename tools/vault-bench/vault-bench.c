/*
 * vault-bench: signing throughput of the token itself (raw C_Sign on a
 * resolved handle) against pv_sign (name lookup, metadata and handle cache,
 * digest, low-S), measured in the same run on the same token so that the
 * ratio means something. Token from P11VAULT_TOKEN / P11VAULT_MODULE /
 * P11VAULT_PIN_SOURCE; see tools/vault-bench/bench.sh for a throwaway one.
 *
 * With --vaultd SOCKET --bearer-file FILE it also drives a running vaultd
 * on the same token: POST /v1/keys/bench-ALG/sign and
 * POST /v1/jwt/bench-ALG/issue over the Unix socket (HTTP/1.1 keep-alive,
 * one connection per thread), each next to raw C_Sign on the same key, and
 * prints the service/raw throughput ratios.
 *
 * The wallet workloads (with --vaultd; --wallet picks them) do the same for
 * POST /v1/wallet/bench-wallet-solana/solana/sign-transaction (a fixed
 * legacy SOL transfer paid by the key; raw: CKM_EDDSA over its message) and
 * POST /v1/wallet/bench-wallet-evm/evm/sign-transaction (a fixed EIP-1559
 * transfer; raw: CKM_ECDSA over its signing hash). The first reply of each
 * is verified with OpenSSL against the key's public key (wallet_tx.c).
 *
 * Every vaultd reply must be a 200 with the expected member (Solana: the
 * verified signature itself, Ed25519 being deterministic); any other reply
 * is counted, reported, and makes vault-bench exit 1.
 *
 * Every measurement is repeated --repeats times (default 3), the two sides
 * interleaved (raw, vaultd, raw, vaultd, ...), and the tables give medians.
 * With --vaultd it also measures POST /v1/keys/bench-p256/sign-batch (16
 * inputs per request; "endpoint not available" when vaultd answers 404 "no
 * such endpoint"), ES256 issuance against npm jose (--jose CMD: a command
 * that signs for the given seconds and prints "ops_per_sec N"), and, with
 * --vaultd-pid, vaultd's CPU per P-256 signature outside the token. --goals
 * FILE appends one line per issue-14 goal ("goal|figure|baseline|ratio|
 * target|met?") for bench.sh's closing table.
 */
#include "config.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "base/defs.h"
#include "base/secmem.h"
#include "core/b64.h"
#include "core/sign.h"
#include "tools/vault-bench/bench.h"
#include "base/http_client.h"
#include "tools/vault-bench/wallet_tx.h"

#define LIST_MAX 8
#define REP_MAX  9

/* What one row measures; rep[K][round] holds every round, the named
 * fields the medians. */
enum kind { K_RAW, K_LIB, K_SIGN, K_JWT, K_BATCH, K_N };

struct row {
	pv_alg alg;
	unsigned threads;
	struct bench_result raw, lib;
	struct bench_result http_sign, http_jwt; /* --vaultd only */
	struct bench_result http_batch;          /* P-256 with a batch endpoint only */
	int has_batch;
	struct bench_result rep[K_N][REP_MAX];
};

/* The batch of sign-batch requests (issue 14). */
#define BATCH_N 16

enum wallet_workload {
	WALLET_SOLANA_TX,
	WALLET_EVM_TX,
	WALLET_N,
};

static const struct {
	const char *name; /* --wallet item, row label */
	const char *key;  /* the key bench.sh makes */
	pv_alg alg;
	pv_key_purpose purpose;
} wallet_info[WALLET_N] = {
    {"wallet-solana-tx", "bench-wallet-solana", PV_ALG_ED25519, PV_PURPOSE_SOLANA},
    {"wallet-evm-tx", "bench-wallet-evm", PV_ALG_SECP256K1, PV_PURPOSE_EVM},
};

struct wallet_row {
	enum wallet_workload w;
	unsigned threads;
	struct bench_result raw, http;
	struct bench_result rep[2][REP_MAX];
};

/* Figures gathered across rounds for the goals (medians of the rounds). */
struct extra {
	double jose[REP_MAX];       /* npm jose ES256 tokens/s */
	double jose_p50[REP_MAX];   /* its p50 per token, µs (as it reports) */
	double jose_ratio[REP_MAX]; /* vaultd jwt.issue p256 x1 ÷ jose, round by round */
	double cpu_vd[REP_MAX];     /* vaultd CPU µs per P-256 signature (whole process) */
	double cpu_vd_sys[REP_MAX]; /* the system (kernel) part of it */
	double cpu_raw[REP_MAX];    /* vault-bench CPU µs per raw C_Sign */
	unsigned njose, ncpu;
	const char *batch_missing; /* why there is no sign-batch row, or NULL */
};

struct config {
	double seconds;
	pv_alg algs[LIST_MAX];
	size_t nalgs;
	unsigned threads[LIST_MAX];
	size_t nthreads;
	int json;
	const char *vaultd;       /* vaultd's Unix socket; NULL: no HTTP runs */
	const char *bearer_file;  /* the bearer token for it (one line) */
	int wallet[WALLET_N];     /* wallet workloads to run (with vaultd) */
	int wallet_set;           /* --wallet given */
	unsigned repeats;         /* rounds, each side once per round */
	long vaultd_pid;          /* for vaultd's CPU time (/proc/PID/stat); 0: none */
	const char *jose;         /* command measuring npm jose, or NULL */
	const char *jose_missing; /* why there is no jose figure */
	const char *goals;        /* file the goal lines are appended to, or NULL */
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: vault-bench [--seconds S] [--repeats N] [--threads 1,2] "
		   "[--algs p256,ed25519,secp256k1,rsa2048|none] [--json]\n"
		   "                   [--vaultd SOCKET --bearer-file FILE "
		   "[--wallet wallet-solana-tx,wallet-evm-tx|none]\n"
		   "                    [--vaultd-pid PID] [--jose CMD | --jose-missing WHY]] "
		   "[--goals FILE]\n");
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
parse_wallet(const char *s, void *out, size_t i)
{
	int *on = out;

	(void)i;
	if (strcmp(s, "none") == 0)
		return 0;
	for (int k = 0; k < WALLET_N; k++)
		if (strcmp(s, wallet_info[k].name) == 0) {
			on[k] = 1;
			return 0;
		}
	fprintf(stderr, "vault-bench: not a wallet workload: %s\n", s);
	return -1;
}

static int
parse_args(int argc, char **argv, struct config *c)
{
	static const struct option longopts[] = {
	    {"seconds", required_argument, NULL, 's'},
	    {"threads", required_argument, NULL, 't'},
	    {"algs", required_argument, NULL, 'a'},
	    {"json", no_argument, NULL, 'j'},
	    {"vaultd", required_argument, NULL, 'v'},
	    {"bearer-file", required_argument, NULL, 'b'},
	    {"wallet", required_argument, NULL, 'w'},
	    {"repeats", required_argument, NULL, 'r'},
	    {"vaultd-pid", required_argument, NULL, 'p'},
	    {"jose", required_argument, NULL, 'J'},
	    {"jose-missing", required_argument, NULL, 'M'},
	    {"goals", required_argument, NULL, 'g'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	size_t nw = 0;
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
			if (strcmp(optarg, "none") == 0)
				c->nalgs = 0;
			else if (parse_list(optarg, parse_alg, c->algs, &c->nalgs) != 0)
				return -1;
			break;
		case 'w':
			memset(c->wallet, 0, sizeof(c->wallet));
			if (parse_list(optarg, parse_wallet, c->wallet, &nw) != 0)
				return -1;
			c->wallet_set = 1;
			break;
		case 'j':
			c->json = 1;
			break;
		case 'r':
			c->repeats = (unsigned)strtoul(optarg, &end, 10);
			if (*end != '\0' || c->repeats < 1 || c->repeats > REP_MAX)
				return -1;
			break;
		case 'p':
			c->vaultd_pid = strtol(optarg, &end, 10);
			if (*end != '\0' || c->vaultd_pid <= 0)
				return -1;
			break;
		case 'J':
			c->jose = optarg;
			break;
		case 'M':
			c->jose_missing = optarg;
			break;
		case 'g':
			c->goals = optarg;
			break;
		case 'v':
			c->vaultd = optarg;
			break;
		case 'b':
			c->bearer_file = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -1;
		}
	}
	if ((c->vaultd == NULL) != (c->bearer_file == NULL) || (c->wallet_set && c->vaultd == NULL))
		return -1;
	/* with vaultd, both wallet workloads unless --wallet says otherwise */
	for (int k = 0; k < WALLET_N && c->vaultd != NULL && !c->wallet_set; k++)
		c->wallet[k] = 1;
	return optind == argc ? 0 : -1;
}

/* Create a key of alg for purpose (bench-ALG, bench-ALG-jwt, the wallet
 * keys), or reuse it from an earlier run; sign once to warm up. */
static pv_err
prepare_key(pv_keystore *ks, pv_alg alg, pv_key_purpose purpose, const char *name, p11_obj *obj)
{
	struct pv_sign_opts opts = {.purpose = purpose};
	struct pv_key *key = NULL;
	struct pv_key_version ver;
	struct pv_sig sig;
	pv_err r;

	r = pv_keys_create(ks, name, alg, purpose, &key);
	if (r == PV_ERR_EXISTS)
		r = pv_keys_get(ks, name, &key);
	if (r != PV_OK)
		goto out;
	if (key->alg != alg || key->purpose != purpose) {
		pv_err_set_detail("key %s exists with another algorithm or purpose", name);
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

/* ---- vaultd over HTTP ---- */

/* The input of the HTTP sign requests: 30 bytes, so that standard base64
 * and base64url spell it the same, without padding. */
static const char http_msg[] = "vault-bench: a fixed message..";

/* A complete POST request in guarded memory (it carries the bearer token). */
static pv_err
build_request(pv_secret *bearer, size_t blen, const char *path, const char *body, pv_secret **out)
{
	char head[PV_KEY_NAME_MAX + 128], tail[128];
	pv_secret *s = NULL;
	int n1, n2;
	pv_err r;

	*out = NULL;
	n1 = snprintf(head, sizeof(head), "POST %s HTTP/1.1\r\nHost: vaultd\r\nAuthorization: Bearer ", path);
	n2 = snprintf(tail, sizeof(tail), "\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
		      strlen(body));
	if (n1 < 0 || (size_t)n1 >= sizeof(head) || n2 < 0 || (size_t)n2 >= sizeof(tail))
		return PV_ERR_INTERNAL;
	if ((r = pv_secret_new((size_t)n1 + blen + (size_t)n2 + strlen(body), &s)) != PV_OK)
		goto out;
	if ((r = pv_secret_append(s, head, (size_t)n1)) != PV_OK ||
	    (r = pv_secret_append(s, pv_secret_ro(bearer), blen)) != PV_OK ||
	    (r = pv_secret_append(s, tail, (size_t)n2)) != PV_OK ||
	    (r = pv_secret_append(s, body, strlen(body))) != PV_OK)
		goto out;
	pv_secret_lock(s);
	*out = s;
	s = NULL;
out:
	pv_secret_lock(bearer);
	pv_secret_free(s);
	return r;
}

/*
 * One request until vaultd knows the key: a key made just before may take
 * vaultd's metadata refresh interval to appear (404 until then). With
 * reply, a NUL-terminated copy of the 200 reply's body (free()).
 */
static pv_err
http_warm_up2(const char *sock, pv_secret *req, const char *expect, char **reply, int *missing)
{
	struct pv_http *c = NULL;
	const uint8_t *body;
	size_t len;
	unsigned status = 0;
	pv_err r;

	if ((r = pv_http_open(sock, &c)) != PV_OK)
		goto out;
	for (int i = 0; i < 100; i++) {
		r = pv_http_roundtrip(c, pv_secret_ro(req), pv_secret_len(req), &status, &body, &len);
		pv_secret_lock(req);
		if (r != PV_OK || status != 404)
			break;
		if (missing != NULL && memmem(body, len, "no such endpoint", 16) != NULL) {
			*missing = 1;
			goto out;
		}
		nanosleep(&(struct timespec){.tv_nsec = 100000000}, NULL);
	}
	if (r == PV_OK && (status != 200 || memmem(body, len, expect, strlen(expect)) == NULL)) {
		pv_err_set_detail("vaultd answered %u to the warm-up request", status);
		r = PV_ERR_IO;
	}
	if (r == PV_OK && reply != NULL) {
		if ((*reply = malloc(len + 1)) == NULL) {
			r = PV_ERR_NOMEM;
			goto out;
		}
		memcpy(*reply, body, len);
		(*reply)[len] = '\0';
	}
out:
	pv_http_close(c);
	return r;
}

static pv_err
http_warm_up(const char *sock, pv_secret *req, const char *expect, char **reply)
{
	return http_warm_up2(sock, req, expect, reply, NULL);
}

/* The sign-batch request: BATCH_N distinct 30-byte inputs on key name.
 * *missing: vaultd has no such endpoint (the row says so). */
static pv_err
http_batch_request(const struct config *c, pv_secret *bearer, size_t blen, const char *name, pv_secret **req,
		   int *missing)
{
	char path[PV_KEY_NAME_MAX + 32], body[BATCH_N * 48 + 64], msg[sizeof(http_msg)];
	char *b64 = NULL, *reply = NULL;
	cJSON *doc = NULL, *sigs;
	size_t off;
	pv_err r = PV_OK;

	*missing = 0;
	off = (size_t)snprintf(body, sizeof(body), "{\"inputs_b64\":[");
	for (int i = 0; i < BATCH_N; i++) {
		memcpy(msg, http_msg, sizeof(msg));
		msg[sizeof(msg) - 3] = (char)('a' + i); /* 30 bytes: no padding */
		if ((r = pv_b64_encode((const uint8_t *)msg, strlen(msg), &b64)) != PV_OK)
			goto out;
		off += (size_t)snprintf(body + off, sizeof(body) - off, "%s\"%s\"", i ? "," : "", b64);
		free(b64);
		b64 = NULL;
	}
	snprintf(body + off, sizeof(body) - off, "]}");
	snprintf(path, sizeof(path), "/v1/keys/%s/sign-batch", name);
	if ((r = build_request(bearer, blen, path, body, req)) != PV_OK)
		goto out;
	if ((r = http_warm_up2(c->vaultd, *req, "\"signatures_b64\"", &reply, missing)) != PV_OK || *missing)
		goto out;
	/* one signature per input, in order: the count is checked here, the
	 * signatures themselves by tests/integration/sign_batch.sh */
	if ((doc = cJSON_Parse(reply)) == NULL ||
	    !cJSON_IsArray(sigs = cJSON_GetObjectItemCaseSensitive(doc, "signatures_b64")) ||
	    cJSON_GetArraySize(sigs) != BATCH_N) {
		pv_err_set_detail("sign-batch: the reply does not carry %d signatures", BATCH_N);
		r = PV_ERR_IO;
	}
out:
	cJSON_Delete(doc);
	free(reply);
	free(b64);
	return r;
}

/* bench_run in BENCH_HTTP mode with req readable only while it runs. */
static pv_err
run_http(struct bench_job *job, pv_secret *req, const char *expect, struct bench_result *res)
{
	pv_err r;

	job->mode = BENCH_HTTP;
	job->http_req = pv_secret_ro(req);
	job->http_req_len = pv_secret_len(req);
	job->http_expect = expect;
	r = bench_run(job, res);
	pv_secret_lock(req);
	job->http_req = NULL;
	return r;
}

/* The sign request for the sign key and the JWT request for the jwt key of
 * one algorithm (one purpose per key), warmed up. */
static pv_err
http_requests(const struct config *c, pv_secret *bearer, size_t blen, const char *name, const char *jwt_name,
	      pv_secret **sign_req, pv_secret **jwt_req)
{
	char path[PV_KEY_NAME_MAX + 32], body[256];
	char *b64 = NULL;
	pv_err r;

	if ((r = pv_b64_encode((const uint8_t *)http_msg, strlen(http_msg), &b64)) != PV_OK)
		goto out;
	snprintf(path, sizeof(path), "/v1/keys/%s/sign", name);
	snprintf(body, sizeof(body), "{\"input_b64\":\"%s\"}", b64);
	if ((r = build_request(bearer, blen, path, body, sign_req)) != PV_OK ||
	    (r = http_warm_up(c->vaultd, *sign_req, "\"signature_b64\"", NULL)) != PV_OK)
		goto out;
	snprintf(path, sizeof(path), "/v1/jwt/%s/issue", jwt_name);
	snprintf(body, sizeof(body), "{\"claims\":{\"sub\":\"vault-bench\"},\"ttl\":60}");
	if ((r = build_request(bearer, blen, path, body, jwt_req)) != PV_OK ||
	    (r = http_warm_up(c->vaultd, *jwt_req, "\"token\"", NULL)) != PV_OK)
		goto out;
out:
	free(b64);
	return r;
}

/* ---- wallet workloads ---- */

/* One wallet workload: its transaction, what raw C_Sign signs, the request. */
struct wallet_job {
	uint8_t tx[BENCH_SOL_TX_LEN]; /* either chain's transaction */
	size_t tx_len;
	uint8_t hash[32]; /* EVM: the signing hash */
	char expect[128]; /* what every 200 reply must carry */
	pv_secret *req;
};

/* The public key of a key's active version. */
static pv_err
key_public(pv_keystore *ks, const char *name, EVP_PKEY **pub)
{
	struct pv_key *key = NULL;
	struct pv_key_version ver;
	p11_obj obj;
	pv_err r;

	if ((r = pv_keys_resolve(ks, name, 0, &key, &ver, &obj)) == PV_OK)
		r = pv_keys_public(ks, key, &ver, pub);
	pv_key_free(key);
	return r;
}

/*
 * Make (or reuse) the workload's key, build its transaction and request,
 * send it once and verify the reply: job->obj and job->raw_in are set for
 * the raw runs, wj->req and wj->expect for the HTTP runs.
 */
static pv_err
wallet_prepare(pv_keystore *ks, const struct config *c, pv_secret *bearer, size_t blen,
	       enum wallet_workload w, struct bench_job *job, struct wallet_job *wj)
{
	const char *name = wallet_info[w].key;
	char path[PV_KEY_NAME_MAX + 64], body[512], sig_b58[96];
	char *text = NULL, *reply = NULL;
	EVP_PKEY *pub = NULL;
	uint8_t pk[32];
	size_t pklen = sizeof(pk);
	pv_err r;

	if ((r = prepare_key(ks, wallet_info[w].alg, wallet_info[w].purpose, name, &job->obj)) != PV_OK ||
	    (r = key_public(ks, name, &pub)) != PV_OK)
		goto out;
	if (w == WALLET_SOLANA_TX) {
		if (EVP_PKEY_get_raw_public_key(pub, pk, &pklen) != 1 || pklen != sizeof(pk)) {
			pv_err_set_detail("%s: not an Ed25519 public key", name);
			r = PV_ERR_KEY_TYPE;
			goto out;
		}
		bench_solana_transfer(pk, wj->tx);
		wj->tx_len = BENCH_SOL_TX_LEN;
		job->raw_in = wj->tx + BENCH_SOL_MSG_OFF;
		job->raw_in_len = BENCH_SOL_MSG_LEN;
		if ((r = pv_b64_encode(wj->tx, wj->tx_len, &text)) != PV_OK)
			goto out;
		snprintf(path, sizeof(path), "/v1/wallet/%s/solana/sign-transaction", name);
		snprintf(body, sizeof(body), "{\"transaction_b64\":\"%s\"}", text);
		snprintf(wj->expect, sizeof(wj->expect), "\"signature_b58\"");
	} else {
		bench_evm_transfer(wj->tx, wj->hash);
		wj->tx_len = BENCH_EVM_TX_LEN;
		job->raw_in = wj->hash;
		job->raw_in_len = sizeof(wj->hash);
		if ((r = pv_hex_encode(wj->tx, wj->tx_len, &text)) != PV_OK)
			goto out;
		snprintf(path, sizeof(path), "/v1/wallet/%s/evm/sign-transaction", name);
		snprintf(body, sizeof(body), "{\"transaction_hex\":\"0x%s\"}", text);
		snprintf(wj->expect, sizeof(wj->expect), "\"raw_transaction\":\"0x02");
	}
	if ((r = build_request(bearer, blen, path, body, &wj->req)) != PV_OK ||
	    (r = http_warm_up(c->vaultd, wj->req, wj->expect, &reply)) != PV_OK)
		goto out;
	if (w == WALLET_SOLANA_TX) {
		if ((r = bench_check_solana_reply(reply, strlen(reply), wj->tx, pub, sig_b58,
						  sizeof(sig_b58))) != PV_OK)
			goto out;
		/* Ed25519 is deterministic: every reply carries this signature */
		snprintf(wj->expect, sizeof(wj->expect), "\"signature_b58\":\"%s\"", sig_b58);
	} else if ((r = bench_check_evm_reply(reply, strlen(reply), wj->tx, pub)) != PV_OK)
		goto out;
out:
	free(text);
	free(reply);
	EVP_PKEY_free(pub);
	return r;
}

static double
ops_ratio(const struct bench_result *x, const struct bench_result *raw)
{
	if (x->paired_ratio > 0)
		return x->paired_ratio;
	return raw->ops_per_sec > 0 ? x->ops_per_sec / raw->ops_per_sec : 0;
}

static double
ratio(const struct row *w)
{
	return ops_ratio(&w->lib, &w->raw);
}

static void
print_table(const struct config *c, const struct row *rows, size_t n, const struct extra *x)
{
	if (n == 0)
		return;
	printf("%-10s %7s %12s %13s %8s %10s %10s\n", "alg", "threads", "raw ops/s", "pv_sign ops/s", "ratio",
	       "p50 us", "p99 us");
	for (size_t i = 0; i < n; i++)
		printf("%-10s %7u %12.0f %13.0f %8.3f %10.1f %10.1f\n", pv_alg_info(rows[i].alg)->name,
		       rows[i].threads, rows[i].raw.ops_per_sec, rows[i].lib.ops_per_sec, ratio(&rows[i]),
		       rows[i].lib.p50_us, rows[i].lib.p99_us);
	printf("(%.1f s per measurement, medians of %u rounds, raw and pv_sign interleaved, ratio: the "
	       "median of the rounds' ratios; latencies are pv_sign's)\n",
	       c->seconds, c->repeats);
	if (c->vaultd == NULL)
		return;
	printf("\nvaultd over its Unix socket (HTTP/1.1 keep-alive, one connection per thread)\n"
	       "against raw C_Sign on the same token (the ceiling): sign on bench-ALG itself,\n"
	       "jwt.issue on bench-ALG-jwt (one purpose per key: same algorithm, its own key):\n");
	printf("%-10s %-10s %7s %12s %12s %8s %10s %10s %10s\n", "op", "alg", "threads", "raw ops/s",
	       "vaultd ops/s", "ratio", "p50 us", "p99 us", "raw p50 us");
	for (size_t i = 0; i < n; i++) {
		const struct bench_result *h[2] = {&rows[i].http_sign, &rows[i].http_jwt};
		static const char *const op[2] = {"sign", "jwt.issue"};

		for (int k = 0; k < 2; k++)
			printf("%-10s %-10s %7u %12.0f %12.0f %8.3f %10.1f %10.1f %10.1f\n", op[k],
			       pv_alg_info(rows[i].alg)->name, rows[i].threads, rows[i].raw.ops_per_sec,
			       h[k]->ops_per_sec, ops_ratio(h[k], &rows[i].raw), h[k]->p50_us, h[k]->p99_us,
			       rows[i].raw.p50_us);
		if (rows[i].has_batch)
			printf("%-10s %-10s %7u %12.0f %12.0f %8.3f %10.1f %10.1f %10.1f\n", "sign-batch",
			       pv_alg_info(rows[i].alg)->name, rows[i].threads, rows[i].raw.ops_per_sec,
			       rows[i].http_batch.ops_per_sec * BATCH_N,
			       ops_ratio(&rows[i].http_batch, &rows[i].raw) * BATCH_N,
			       rows[i].http_batch.p50_us, rows[i].http_batch.p99_us, rows[i].raw.p50_us);
	}
	printf("(medians of %u rounds, each vaultd run right after its raw run; ratio: the median of the\n"
	       "rounds' vaultd/raw; sign-batch: %d inputs per request, ops/s counts signatures, latencies\n"
	       "are per request)\n",
	       c->repeats, BATCH_N);
	if (x->batch_missing != NULL)
		printf("sign-batch: %s\n", x->batch_missing);
	if (x->njose > 0)
		printf(
		    "npm jose ES256 in node, in-memory key, 1 thread: %.0f tokens/s (median of %u, each run "
		    "right after vaultd's jwt.issue p256 x1)\n",
		    bench_median(x->jose, x->njose), x->njose);
	else if (c->jose_missing != NULL)
		printf("npm jose: %s\n", c->jose_missing);
	for (size_t i = 0; i < n; i++)
		if (rows[i].http_sign.reconnects + rows[i].http_jwt.reconnects > 0)
			printf(
			    "note: %s x%u: keep-alive lost, %llu reconnects\n",
			    pv_alg_info(rows[i].alg)->name, rows[i].threads,
			    (unsigned long long)(rows[i].http_sign.reconnects + rows[i].http_jwt.reconnects));
}

static void
print_wallet_table(const struct config *c, const struct wallet_row *rows, size_t n)
{
	if (n == 0)
		return;
	printf(
	    "\nwallet sign-transaction through vaultd against raw C_Sign on the same key\n"
	    "(Solana: CKM_EDDSA over the %d-byte message; EVM: CKM_ECDSA over the 32-byte signing hash):\n",
	    BENCH_SOL_MSG_LEN);
	printf("%-17s %-10s %7s %12s %12s %8s %10s %10s %10s\n", "workload", "alg", "threads", "raw ops/s",
	       "vaultd ops/s", "ratio", "p50 us", "p99 us", "raw p50 us");
	for (size_t i = 0; i < n; i++)
		printf("%-17s %-10s %7u %12.0f %12.0f %8.3f %10.1f %10.1f %10.1f\n",
		       wallet_info[rows[i].w].name, pv_alg_info(wallet_info[rows[i].w].alg)->name,
		       rows[i].threads, rows[i].raw.ops_per_sec, rows[i].http.ops_per_sec,
		       ops_ratio(&rows[i].http, &rows[i].raw), rows[i].http.p50_us, rows[i].http.p99_us,
		       rows[i].raw.p50_us);
	printf("(%.1f s per measurement, medians of %u interleaved rounds)\n", c->seconds, c->repeats);
	for (size_t i = 0; i < n; i++)
		if (rows[i].http.reconnects > 0)
			printf("note: %s x%u: keep-alive lost, %llu reconnects\n",
			       wallet_info[rows[i].w].name, rows[i].threads,
			       (unsigned long long)rows[i].http.reconnects);
}

/* Tell about every run with bad vaultd replies; how many runs had them. */
static unsigned
report_failures(const struct row *rows, size_t n, const struct wallet_row *wrows, size_t wn)
{
	unsigned bad = 0;

	for (size_t i = 0; i < n + wn; i++) {
		const struct bench_result *res[3] = {NULL, NULL, NULL};
		const char *label[3] = {NULL, NULL, NULL};
		unsigned threads;

		if (i < n) {
			res[0] = &rows[i].http_sign;
			res[1] = &rows[i].http_jwt;
			res[2] = rows[i].has_batch ? &rows[i].http_batch : NULL;
			label[0] = "sign";
			label[1] = "jwt.issue";
			label[2] = "sign-batch";
			threads = rows[i].threads;
		} else {
			res[0] = &wrows[i - n].http;
			label[0] = wallet_info[wrows[i - n].w].name;
			threads = wrows[i - n].threads;
		}
		for (int k = 0; k < 3; k++) {
			if (res[k] == NULL || res[k]->failures == 0)
				continue;
			fprintf(
			    stderr,
			    "vault-bench: FAILED: %s%s%s x%u: %llu of %llu vaultd replies were bad (first: %s)\n",
			    label[k], i < n ? " " : "", i < n ? pv_alg_info(rows[i].alg)->name : "", threads,
			    (unsigned long long)res[k]->failures,
			    (unsigned long long)(res[k]->failures + res[k]->ops), res[k]->failure);
			bad++;
		}
	}
	return bad;
}

static int
print_json(const struct config *c, const struct row *rows, size_t n, const struct wallet_row *wrows,
	   size_t wn, const struct extra *x)
{
	cJSON *root = cJSON_CreateObject(), *arr = NULL, *warr = NULL, *o;
	char *text = NULL;
	int rc = -1;

	if (root == NULL || cJSON_AddNumberToObject(root, "seconds", c->seconds) == NULL ||
	    cJSON_AddNumberToObject(root, "repeats", c->repeats) == NULL ||
	    (x->njose > 0 &&
	     cJSON_AddNumberToObject(root, "jose_es256_per_sec", bench_median(x->jose, x->njose)) == NULL) ||
	    (x->ncpu > 0 && (cJSON_AddNumberToObject(root, "vaultd_cpu_us_per_p256_sig",
						     bench_median(x->cpu_vd, x->ncpu)) == NULL ||
			     cJSON_AddNumberToObject(root, "raw_cpu_us_per_p256_sig",
						     bench_median(x->cpu_raw, x->ncpu)) == NULL)) ||
	    (arr = cJSON_AddArrayToObject(root, "results")) == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if ((o = cJSON_CreateObject()) == NULL || !cJSON_AddItemToArray(arr, o))
			goto out;
		if (rows[i].has_batch &&
		    (cJSON_AddNumberToObject(o, "vaultd_batch_sig_per_sec",
					     rows[i].http_batch.ops_per_sec * BATCH_N) == NULL ||
		     cJSON_AddNumberToObject(o, "vaultd_batch_ratio",
					     ops_ratio(&rows[i].http_batch, &rows[i].raw) * BATCH_N) ==
			 NULL ||
		     cJSON_AddNumberToObject(o, "vaultd_batch_p50_us", rows[i].http_batch.p50_us) == NULL ||
		     cJSON_AddNumberToObject(o, "vaultd_batch_p99_us", rows[i].http_batch.p99_us) == NULL))
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
		if (c->vaultd != NULL &&
		    (cJSON_AddNumberToObject(o, "vaultd_sign_ops_per_sec", rows[i].http_sign.ops_per_sec) ==
			 NULL ||
		     cJSON_AddNumberToObject(o, "vaultd_sign_ratio",
					     ops_ratio(&rows[i].http_sign, &rows[i].raw)) == NULL ||
		     cJSON_AddNumberToObject(o, "vaultd_sign_p50_us", rows[i].http_sign.p50_us) == NULL ||
		     cJSON_AddNumberToObject(o, "vaultd_sign_p99_us", rows[i].http_sign.p99_us) == NULL ||
		     cJSON_AddNumberToObject(o, "vaultd_jwt_ops_per_sec", rows[i].http_jwt.ops_per_sec) ==
			 NULL ||
		     cJSON_AddNumberToObject(o, "vaultd_jwt_ratio",
					     ops_ratio(&rows[i].http_jwt, &rows[i].raw)) == NULL ||
		     cJSON_AddNumberToObject(o, "vaultd_jwt_p50_us", rows[i].http_jwt.p50_us) == NULL ||
		     cJSON_AddNumberToObject(o, "vaultd_jwt_p99_us", rows[i].http_jwt.p99_us) == NULL ||
		     cJSON_AddNumberToObject(
			 o, "vaultd_reconnects",
			 (double)(rows[i].http_sign.reconnects + rows[i].http_jwt.reconnects)) == NULL ||
		     cJSON_AddNumberToObject(
			 o, "vaultd_failures",
			 (double)(rows[i].http_sign.failures + rows[i].http_jwt.failures)) == NULL))
			goto out;
	}
	if (wn > 0 && (warr = cJSON_AddArrayToObject(root, "wallet")) == NULL)
		goto out;
	for (size_t i = 0; i < wn; i++) {
		const struct wallet_row *w = &wrows[i];

		if ((o = cJSON_CreateObject()) == NULL || !cJSON_AddItemToArray(warr, o))
			goto out;
		if (cJSON_AddStringToObject(o, "workload", wallet_info[w->w].name) == NULL ||
		    cJSON_AddStringToObject(o, "alg", pv_alg_info(wallet_info[w->w].alg)->name) == NULL ||
		    cJSON_AddNumberToObject(o, "threads", w->threads) == NULL ||
		    cJSON_AddNumberToObject(o, "raw_ops_per_sec", w->raw.ops_per_sec) == NULL ||
		    cJSON_AddNumberToObject(o, "vaultd_ops_per_sec", w->http.ops_per_sec) == NULL ||
		    cJSON_AddNumberToObject(o, "ratio", ops_ratio(&w->http, &w->raw)) == NULL ||
		    cJSON_AddNumberToObject(o, "vaultd_p50_us", w->http.p50_us) == NULL ||
		    cJSON_AddNumberToObject(o, "vaultd_p99_us", w->http.p99_us) == NULL ||
		    cJSON_AddNumberToObject(o, "raw_p50_us", w->raw.p50_us) == NULL ||
		    cJSON_AddNumberToObject(o, "raw_p99_us", w->raw.p99_us) == NULL ||
		    cJSON_AddNumberToObject(o, "vaultd_reconnects", (double)w->http.reconnects) == NULL ||
		    cJSON_AddNumberToObject(o, "vaultd_failures", (double)w->http.failures) == NULL)
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

/* ---- repeats, medians, CPU time, jose ---- */

/* The median of n rounds, field by field; counts are added up. */
static void
median_result(const struct bench_result *rep, unsigned n, struct bench_result *m)
{
	double v[3][REP_MAX];

	memset(m, 0, sizeof(*m));
	for (unsigned i = 0; i < n; i++) {
		v[0][i] = rep[i].ops_per_sec;
		v[1][i] = rep[i].p50_us;
		v[2][i] = rep[i].p99_us;
		m->ops += rep[i].ops;
		m->elapsed += rep[i].elapsed;
		m->reconnects += rep[i].reconnects;
		m->latency_dropped += rep[i].latency_dropped;
		if (rep[i].failures > 0 && m->failures == 0)
			snprintf(m->failure, sizeof(m->failure), "%s", rep[i].failure);
		m->failures += rep[i].failures;
	}
	m->ops_per_sec = bench_median(v[0], n);
	m->p50_us = bench_median(v[1], n);
	m->p99_us = bench_median(v[2], n);
}

/* The median over the rounds of side's ops/s ÷ raw's in the same round. */
static double
paired(const struct bench_result *side, const struct bench_result *raw, unsigned n)
{
	double v[REP_MAX];

	for (unsigned i = 0; i < n; i++)
		v[i] = raw[i].ops_per_sec > 0 ? side[i].ops_per_sec / raw[i].ops_per_sec : 0;
	return bench_median(v, n);
}

/* vaultd's user + system CPU time so far, in seconds (/proc/PID/stat fields
 * 14 and 15, after the parenthesised command name); < 0 when unreadable. */
static double
proc_cpu(long pid, double *sys)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	*sys = (double)st / (double)sysconf(_SC_CLK_TCK);
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* This process's user + system CPU time, in seconds. */
static double
self_cpu(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return -1;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       (double)ru.ru_stime.tv_usec / 1e6;
}

/* Run the jose command for the measurement's seconds; its "ops_per_sec N"
 * (and "p50_us N") lines. */
static pv_err
run_jose(const struct config *c, double *ops, double *p50)
{
	char cmd[1024], line[256];
	FILE *f;
	int st;

	*ops = *p50 = NAN;
	if (snprintf(cmd, sizeof(cmd), "%s %.3f", c->jose, c->seconds) >= (int)sizeof(cmd))
		return PV_ERR_USAGE;
	fflush(NULL);
	if ((f = popen(cmd, "r")) == NULL) {
		pv_err_set_detail("cannot run %s", c->jose);
		return PV_ERR_IO;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		(void)(sscanf(line, "ops_per_sec %lf", ops) == 1 || sscanf(line, "p50_us %lf", p50) == 1);
	}
	st = pclose(f);
	if (st != 0 || !(*ops > 0)) {
		pv_err_set_detail("%s failed (status %d) or printed no ops_per_sec", c->jose, st);
		return PV_ERR_IO;
	}
	return PV_OK;
}

/* The wallet workloads, prepared once; rounds run by run_all. */
static pv_err
wallet_setup(pv_keystore *ks, const struct config *c, pv_secret *bearer, size_t blen, struct bench_job *jobs,
	     struct wallet_job *wjs, struct wallet_row *rows, size_t *nrows)
{
	struct wallet_row *w;
	pv_err r = PV_OK;

	*nrows = 0;
	for (int k = 0; k < WALLET_N; k++) {
		if (!c->wallet[k])
			continue;
		jobs[k] = (struct bench_job){.ks = ks, .seconds = c->seconds, .http_socket = c->vaultd};
		jobs[k].name = wallet_info[k].key;
		jobs[k].alg = wallet_info[k].alg;
		if ((r = wallet_prepare(ks, c, bearer, blen, (enum wallet_workload)k, &jobs[k], &wjs[k])) !=
		    PV_OK)
			return r;
		for (size_t t = 0; t < c->nthreads; t++) {
			w = &rows[(*nrows)++];
			w->w = (enum wallet_workload)k;
			w->threads = c->threads[t];
		}
	}
	return r;
}

static pv_err
run_all(pv_keystore *ks, const struct config *c, struct row *rows, size_t *nrows, struct wallet_row *wrows,
	size_t *nwrows, struct extra *x)
{
	struct bench_job job = {.ks = ks, .seconds = c->seconds, .http_socket = c->vaultd};
	struct bench_job wjobs[WALLET_N];
	struct wallet_job wjs[WALLET_N];
	char name[LIST_MAX][PV_KEY_NAME_MAX + 1], jwt_name[PV_KEY_NAME_MAX + 1];
	pv_secret *bearer = NULL, *sign_req[LIST_MAX] = {NULL}, *jwt_req[LIST_MAX] = {NULL};
	pv_secret *batch_req = NULL;
	p11_obj obj[LIST_MAX], jwt_obj;
	size_t blen = 0, a, t, i;
	int missing = 0;
	double c0, c1, s0 = 0, s1 = 0;
	struct row *w;
	pv_err r = PV_OK;

	*nrows = *nwrows = 0;
	memset(wjs, 0, sizeof(wjs));
	if (c->vaultd != NULL && (r = pv_http_load_bearer(c->bearer_file, &bearer, &blen)) != PV_OK)
		goto out;
	for (a = 0; a < c->nalgs; a++) {
		snprintf(name[a], sizeof(name[a]), "bench-%s", pv_alg_info(c->algs[a])->name);
		snprintf(jwt_name, sizeof(jwt_name), "bench-%s-jwt", pv_alg_info(c->algs[a])->name);
		if ((r = prepare_key(ks, c->algs[a], PV_PURPOSE_SIGN, name[a], &obj[a])) != PV_OK ||
		    (c->vaultd != NULL &&
		     (r = prepare_key(ks, c->algs[a], PV_PURPOSE_JWT, jwt_name, &jwt_obj)) != PV_OK))
			goto out;
		if (c->vaultd != NULL && (r = http_requests(c, bearer, blen, name[a], jwt_name, &sign_req[a],
							    &jwt_req[a])) != PV_OK)
			goto out;
		if (c->vaultd != NULL && c->algs[a] == PV_ALG_P256 && batch_req == NULL) {
			if ((r = http_batch_request(c, bearer, blen, name[a], &batch_req, &missing)) != PV_OK)
				goto out;
			if (missing) {
				pv_secret_free(batch_req);
				batch_req = NULL;
				x->batch_missing = "endpoint not available (vaultd: 404 no such endpoint)";
			}
		}
		for (t = 0; t < c->nthreads; t++) {
			w = &rows[(*nrows)++];
			w->alg = c->algs[a];
			w->threads = c->threads[t];
			w->has_batch = w->alg == PV_ALG_P256 && batch_req != NULL;
		}
	}
	if (c->vaultd != NULL && (r = wallet_setup(ks, c, bearer, blen, wjobs, wjs, wrows, nwrows)) != PV_OK)
		goto out;
	if (c->vaultd == NULL)
		x->batch_missing = "no vaultd";

	/* the rounds: every side once per round, raw right before vaultd */
	for (unsigned rd = 0; rd < c->repeats; rd++) {
		for (i = 0; i < *nrows; i++) {
			w = &rows[i];
			for (a = 0; c->algs[a] != w->alg; a++)
				;
			job.name = name[a];
			job.alg = w->alg;
			job.obj = obj[a];
			job.threads = w->threads;
			job.mode = BENCH_RAW;
			c0 = self_cpu();
			if ((r = bench_run(&job, &w->rep[K_RAW][rd])) != PV_OK)
				goto out;
			c1 = self_cpu();
			if (w->alg == PV_ALG_P256 && w->threads == 1 && w->rep[K_RAW][rd].ops > 0 && c0 >= 0)
				x->cpu_raw[rd] = (c1 - c0) * 1e6 / (double)w->rep[K_RAW][rd].ops;
			job.mode = BENCH_LIB;
			if ((r = bench_run(&job, &w->rep[K_LIB][rd])) != PV_OK)
				goto out;
			if (c->vaultd == NULL)
				goto next;
			c0 = c->vaultd_pid > 0 ? proc_cpu(c->vaultd_pid, &s0) : -1;
			if ((r = run_http(&job, sign_req[a], "\"signature_b64\"", &w->rep[K_SIGN][rd])) !=
			    PV_OK)
				goto out;
			c1 = c->vaultd_pid > 0 ? proc_cpu(c->vaultd_pid, &s1) : -1;
			if (w->alg == PV_ALG_P256 && w->threads == 1 && c0 >= 0 && c1 >= 0 &&
			    w->rep[K_SIGN][rd].ops > 0) {
				x->cpu_vd[rd] = (c1 - c0) * 1e6 / (double)w->rep[K_SIGN][rd].ops;
				x->cpu_vd_sys[rd] = (s1 - s0) * 1e6 / (double)w->rep[K_SIGN][rd].ops;
				x->ncpu = rd + 1;
			}
			if ((r = run_http(&job, jwt_req[a], "\"token\"", &w->rep[K_JWT][rd])) != PV_OK)
				goto out;
			if (w->alg == PV_ALG_P256 && w->threads == 1 && c->jose != NULL) {
				if ((r = run_jose(c, &x->jose[rd], &x->jose_p50[rd])) != PV_OK)
					goto out;
				x->njose = rd + 1;
			}
			if (w->has_batch && (r = run_http(&job, batch_req, "\"signatures_b64\"",
							  &w->rep[K_BATCH][rd])) != PV_OK)
				goto out;
next:
			if (!c->json)
				fprintf(stderr, "vault-bench: round %u/%u: %s x%u done\n", rd + 1, c->repeats,
					name[a], w->threads);
		}
		for (i = 0; i < *nwrows; i++) {
			struct wallet_row *ww = &wrows[i];
			struct bench_job *wj = &wjobs[ww->w];

			wj->threads = ww->threads;
			wj->mode = BENCH_RAW;
			if ((r = bench_run(wj, &ww->rep[0][rd])) != PV_OK ||
			    (r = run_http(wj, wjs[ww->w].req, wjs[ww->w].expect, &ww->rep[1][rd])) != PV_OK)
				goto out;
			if (!c->json)
				fprintf(stderr, "vault-bench: round %u/%u: %s x%u done\n", rd + 1, c->repeats,
					wallet_info[ww->w].name, ww->threads);
		}
	}
	for (i = 0; i < *nrows; i++) {
		w = &rows[i];
		median_result(w->rep[K_RAW], c->repeats, &w->raw);
		median_result(w->rep[K_LIB], c->repeats, &w->lib);
		median_result(w->rep[K_SIGN], c->repeats, &w->http_sign);
		median_result(w->rep[K_JWT], c->repeats, &w->http_jwt);
		median_result(w->rep[K_BATCH], c->repeats, &w->http_batch);
		w->lib.paired_ratio = paired(w->rep[K_LIB], w->rep[K_RAW], c->repeats);
		if (c->vaultd != NULL) {
			w->http_sign.paired_ratio = paired(w->rep[K_SIGN], w->rep[K_RAW], c->repeats);
			w->http_jwt.paired_ratio = paired(w->rep[K_JWT], w->rep[K_RAW], c->repeats);
		}
		if (w->has_batch)
			w->http_batch.paired_ratio = paired(w->rep[K_BATCH], w->rep[K_RAW], c->repeats);
		if (w->alg == PV_ALG_P256 && w->threads == 1 && x->njose == c->repeats) {
			for (unsigned k = 0; k < x->njose; k++)
				x->jose_ratio[k] =
				    x->jose[k] > 0 ? w->rep[K_JWT][k].ops_per_sec / x->jose[k] : 0;
		}
	}
	for (i = 0; i < *nwrows; i++) {
		median_result(wrows[i].rep[0], c->repeats, &wrows[i].raw);
		median_result(wrows[i].rep[1], c->repeats, &wrows[i].http);
		wrows[i].http.paired_ratio = paired(wrows[i].rep[1], wrows[i].rep[0], c->repeats);
	}
out:
	for (a = 0; a < LIST_MAX; a++) {
		pv_secret_free(sign_req[a]);
		pv_secret_free(jwt_req[a]);
	}
	for (int k = 0; k < WALLET_N; k++)
		pv_secret_free(wjs[k].req);
	pv_secret_free(batch_req);
	pv_secret_free(bearer);
	return r;
}

/* ---- the goals (issue 14) ---- */

static void
goal_line(FILE *f, const char *goal, const char *figure, const char *baseline, double ratio,
	  const char *target, int met)
{
	char rs[32];

	if (isnan(ratio))
		snprintf(rs, sizeof(rs), "-");
	else
		snprintf(rs, sizeof(rs), "%.2f", ratio);
	fprintf(f, "%s|%s|%s|%s|%s|%s\n", goal, figure, baseline, rs, target,
		met < 0 ? "n/a"
		: met   ? "yes"
			: "NO");
}

/* One line per goal that vault-bench measures. */
static void
write_goals(const struct config *c, const struct row *rows, size_t n, const struct extra *x)
{
	static const struct {
		pv_alg alg;
		double target;
	} sign_goals[] = {
	    {PV_ALG_P256, 0.85}, {PV_ALG_ED25519, 0.9}, {PV_ALG_SECP256K1, 0.9}, {PV_ALG_RSA2048, 0.9}};
	char g[128], fig[96], base[96], tg[32];
	FILE *f;

	if (c->goals == NULL || (f = fopen(c->goals, "a")) == NULL)
		return;
	for (unsigned th = 1; th <= 2; th++) {
		for (size_t k = 0; k < PV_NELEM(sign_goals); k++) {
			const struct row *w = NULL;

			for (size_t i = 0; i < n; i++)
				if (rows[i].alg == sign_goals[k].alg && rows[i].threads == th)
					w = &rows[i];
			if (w == NULL || c->vaultd == NULL)
				continue;
			snprintf(g, sizeof(g), "%s sign, %u thread%s", pv_alg_info(w->alg)->name, th,
				 th > 1 ? "s" : "");
			snprintf(fig, sizeof(fig), "%.0f/s (p50 %.0f us, p99 %.0f us)",
				 w->http_sign.ops_per_sec, w->http_sign.p50_us, w->http_sign.p99_us);
			snprintf(base, sizeof(base), "raw C_Sign %.0f/s (p50 %.0f us)", w->raw.ops_per_sec,
				 w->raw.p50_us);
			snprintf(tg, sizeof(tg), ">= %.2fx", sign_goals[k].target);
			goal_line(f, g, fig, base, ops_ratio(&w->http_sign, &w->raw), tg,
				  ops_ratio(&w->http_sign, &w->raw) >= sign_goals[k].target);
			if (th > 1) {
				snprintf(g, sizeof(g), "%s sign, %u threads: p99/p50",
					 pv_alg_info(w->alg)->name, th);
				snprintf(fig, sizeof(fig), "p99 %.0f us", w->http_sign.p99_us);
				snprintf(base, sizeof(base), "p50 %.0f us", w->http_sign.p50_us);
				goal_line(f, g, fig, base,
					  w->http_sign.p50_us > 0 ? w->http_sign.p99_us / w->http_sign.p50_us
								  : (double)NAN,
					  "<= 3x", w->http_sign.p99_us <= 3 * w->http_sign.p50_us);
			}
			if (w->alg != PV_ALG_P256)
				continue;
			snprintf(base, sizeof(base), "raw C_Sign %.0f/s (p50 %.0f us)", w->raw.ops_per_sec,
				 w->raw.p50_us);
			snprintf(g, sizeof(g), "p256 sign-batch of %d, %u thread%s", BATCH_N, th,
				 th > 1 ? "s" : "");
			if (!w->has_batch) {
				goal_line(f, g, x->batch_missing ? x->batch_missing : "not measured", base,
					  NAN, ">= 1.20x", -1);
				continue;
			}
			snprintf(fig, sizeof(fig), "%.0f sig/s (%.0f req/s, p50 %.0f us, p99 %.0f us)",
				 w->http_batch.ops_per_sec * BATCH_N, w->http_batch.ops_per_sec,
				 w->http_batch.p50_us, w->http_batch.p99_us);
			goal_line(f, g, fig, base, ops_ratio(&w->http_batch, &w->raw) * BATCH_N, ">= 1.20x",
				  ops_ratio(&w->http_batch, &w->raw) * BATCH_N >= 1.2);
			if (th > 1) {
				snprintf(g, sizeof(g), "p256 sign-batch of %d, %u threads: p99/p50", BATCH_N,
					 th);
				snprintf(fig, sizeof(fig), "p99 %.0f us", w->http_batch.p99_us);
				snprintf(base, sizeof(base), "p50 %.0f us", w->http_batch.p50_us);
				goal_line(f, g, fig, base,
					  w->http_batch.p50_us > 0
					      ? w->http_batch.p99_us / w->http_batch.p50_us
					      : (double)NAN,
					  "<= 3x", w->http_batch.p99_us <= 3 * w->http_batch.p50_us);
			}
		}
	}
	for (size_t i = 0; i < n && c->vaultd != NULL; i++) {
		const struct row *w = &rows[i];
		double jo = bench_median(x->jose, x->njose);

		if (w->alg != PV_ALG_P256 || w->threads != 1)
			continue;
		snprintf(fig, sizeof(fig), "vaultd jwt.issue %.0f/s (p50 %.0f us)", w->http_jwt.ops_per_sec,
			 w->http_jwt.p50_us);
		if (x->njose == 0) {
			goal_line(f, "ES256 JWT issue, 1 thread", fig,
				  c->jose_missing ? c->jose_missing : "jose not run", NAN, ">= 1.00x", -1);
		} else {
			snprintf(base, sizeof(base), "npm jose %.0f/s (p50 %.0f us)", jo,
				 bench_median(x->jose_p50, x->njose));
			goal_line(f, "ES256 JWT issue, 1 thread", fig, base,
				  bench_median(x->jose_ratio, x->njose), ">= 1.00x",
				  bench_median(x->jose_ratio, x->njose) >= 1.0);
		}
		if (x->ncpu == 0) {
			goal_line(f, "vaultd CPU per p256 signature outside the token",
				  "not measured (no --vaultd-pid)", "-", NAN, "<= 12 us", -1);
		} else {
			double vd = bench_median(x->cpu_vd, x->ncpu), raw = bench_median(x->cpu_raw, x->ncpu);
			double d[REP_MAX];

			for (unsigned k = 0; k < x->ncpu; k++)
				d[k] = x->cpu_vd[k] - x->cpu_raw[k];
			snprintf(fig, sizeof(fig), "%.1f us (vaultd %.1f us/sig, %.1f of it system)",
				 bench_median(d, x->ncpu), vd, bench_median(x->cpu_vd_sys, x->ncpu));
			snprintf(base, sizeof(base), "raw C_Sign CPU %.1f us/sig", raw);
			goal_line(f, "vaultd CPU per p256 signature outside the token", fig, base, NAN,
				  "<= 12 us", bench_median(d, x->ncpu) <= 12);
		}
	}
	fclose(f);
}

int
main(int argc, char **argv)
{
	struct config cfg = {.seconds = 1.5,
			     .repeats = 3,
			     .algs = {PV_ALG_P256, PV_ALG_ED25519, PV_ALG_SECP256K1, PV_ALG_RSA2048},
			     .nalgs = 4,
			     .threads = {1, 2},
			     .nthreads = 2};
	struct p11_token_opts topts = {0};
	static struct row rows[LIST_MAX * LIST_MAX];
	static struct wallet_row wrows[WALLET_N * LIST_MAX];
	static struct extra extra;
	pv_keystore *ks = NULL;
	p11_token *tok = NULL;
	size_t nrows = 0, nwrows = 0;
	unsigned failed;
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
	    (r = run_all(ks, &cfg, rows, &nrows, wrows, &nwrows, &extra)) != PV_OK) {
		fprintf(stderr, "vault-bench: %s%s%s\n", pv_strerror(r), *pv_err_detail() ? ": " : "",
			pv_err_detail());
		goto out;
	}
	if (cfg.json)
		rc = print_json(&cfg, rows, nrows, wrows, nwrows, &extra) == 0 ? 0 : 1;
	else {
		print_table(&cfg, rows, nrows, &extra);
		print_wallet_table(&cfg, wrows, nwrows);
		rc = 0;
	}
	write_goals(&cfg, rows, nrows, &extra);
	fflush(stdout);
	failed = report_failures(rows, nrows, wrows, nwrows);
	if (failed > 0) {
		fprintf(stderr,
			"vault-bench: %u runs had bad vaultd replies: the figures above are not valid\n",
			failed);
		rc = 1;
	}
out:
	pv_keystore_free(ks);
	p11_token_close(tok);
	return rc;
}
