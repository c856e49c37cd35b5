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
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "base/secmem.h"
#include "core/b64.h"
#include "core/sign.h"
#include "tools/vault-bench/bench.h"
#include "tools/vault-bench/http_client.h"
#include "tools/vault-bench/wallet_tx.h"

#define LIST_MAX 8

struct row {
	pv_alg alg;
	unsigned threads;
	struct bench_result raw, lib;
	struct bench_result http_sign, http_jwt; /* --vaultd only */
};

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
};

struct config {
	double seconds;
	pv_alg algs[LIST_MAX];
	size_t nalgs;
	unsigned threads[LIST_MAX];
	size_t nthreads;
	int json;
	const char *vaultd;      /* vaultd's Unix socket; NULL: no HTTP runs */
	const char *bearer_file; /* the bearer token for it (one line) */
	int wallet[WALLET_N];    /* wallet workloads to run (with vaultd) */
	int wallet_set;          /* --wallet given */
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: vault-bench [--seconds S] [--threads 1,2] "
		   "[--algs p256,ed25519,secp256k1,rsa2048|none] [--json]\n"
		   "                   [--vaultd SOCKET --bearer-file FILE "
		   "[--wallet wallet-solana-tx,wallet-evm-tx|none]]\n");
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

/* Bearer token characters (RFC 6750 b64token). */
static int
is_b64token(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       strchr("-._~+/=", c) != NULL;
}

/* The bearer token from its file (one line), in guarded memory. */
static pv_err
load_bearer(const char *path, pv_secret **out, size_t *len)
{
	pv_secret *s = NULL;
	const uint8_t *p;
	size_t n;
	pv_err r;

	*out = NULL;
	if ((r = pv_secret_read_file(path, 1024, &s)) != PV_OK)
		goto out;
	p = pv_secret_ro(s);
	n = pv_secret_len(s);
	while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r'))
		n--;
	r = PV_ERR_BAD_INPUT;
	for (size_t i = 0; i < n; i++)
		if (!is_b64token(p[i]))
			n = 0;
	pv_secret_lock(s);
	if (n == 0) {
		pv_err_set_detail("%s does not hold one bearer token", path);
		goto out;
	}
	*len = n;
	*out = s;
	s = NULL;
	r = PV_OK;
out:
	pv_secret_free(s);
	return r;
}

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
http_warm_up(const char *sock, pv_secret *req, const char *expect, char **reply)
{
	struct bench_http *c = NULL;
	const uint8_t *body;
	size_t len;
	unsigned status = 0;
	pv_err r;

	if ((r = bench_http_open(sock, &c)) != PV_OK)
		goto out;
	for (int i = 0; i < 100; i++) {
		r = bench_http_roundtrip(c, pv_secret_ro(req), pv_secret_len(req), &status, &body, &len);
		pv_secret_lock(req);
		if (r != PV_OK || status != 404)
			break;
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
	bench_http_close(c);
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
	return raw->ops_per_sec > 0 ? x->ops_per_sec / raw->ops_per_sec : 0;
}

static double
ratio(const struct row *w)
{
	return ops_ratio(&w->lib, &w->raw);
}

static void
print_table(const struct config *c, const struct row *rows, size_t n)
{
	if (n == 0)
		return;
	printf("%-10s %7s %12s %13s %8s %10s %10s\n", "alg", "threads", "raw ops/s", "pv_sign ops/s", "ratio",
	       "p50 us", "p99 us");
	for (size_t i = 0; i < n; i++)
		printf("%-10s %7u %12.0f %13.0f %8.3f %10.1f %10.1f\n", pv_alg_info(rows[i].alg)->name,
		       rows[i].threads, rows[i].raw.ops_per_sec, rows[i].lib.ops_per_sec, ratio(&rows[i]),
		       rows[i].lib.p50_us, rows[i].lib.p99_us);
	printf("(%.1f s per measurement; latencies are pv_sign's)\n", c->seconds);
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
	}
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
	printf("(%.1f s per measurement)\n", c->seconds);
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
		const struct bench_result *res[2];
		const char *label[2];
		unsigned threads;

		if (i < n) {
			res[0] = &rows[i].http_sign;
			res[1] = &rows[i].http_jwt;
			label[0] = "sign";
			label[1] = "jwt.issue";
			threads = rows[i].threads;
		} else {
			res[0] = &wrows[i - n].http;
			res[1] = NULL;
			label[0] = wallet_info[wrows[i - n].w].name;
			label[1] = NULL;
			threads = wrows[i - n].threads;
		}
		for (int k = 0; k < 2; k++) {
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
	   size_t wn)
{
	cJSON *root = cJSON_CreateObject(), *arr = NULL, *warr = NULL, *o;
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

/* The wallet rows: per workload, raw C_Sign then vaultd per thread count. */
static pv_err
run_wallet(pv_keystore *ks, const struct config *c, pv_secret *bearer, size_t blen, struct wallet_row *rows,
	   size_t *nrows)
{
	struct bench_job job = {.ks = ks, .seconds = c->seconds, .http_socket = c->vaultd};
	struct wallet_job wj;
	struct wallet_row *w;
	pv_err r = PV_OK;

	*nrows = 0;
	memset(&wj, 0, sizeof(wj));
	for (int k = 0; k < WALLET_N; k++) {
		if (!c->wallet[k])
			continue;
		pv_secret_free(wj.req);
		memset(&wj, 0, sizeof(wj));
		job.name = wallet_info[k].key;
		job.alg = wallet_info[k].alg;
		if ((r = wallet_prepare(ks, c, bearer, blen, (enum wallet_workload)k, &job, &wj)) != PV_OK)
			goto out;
		for (size_t t = 0; t < c->nthreads; t++) {
			w = &rows[(*nrows)++];
			w->w = (enum wallet_workload)k;
			w->threads = job.threads = c->threads[t];
			job.mode = BENCH_RAW;
			if ((r = bench_run(&job, &w->raw)) != PV_OK ||
			    (r = run_http(&job, wj.req, wj.expect, &w->http)) != PV_OK)
				goto out;
			if (!c->json)
				fprintf(stderr, "vault-bench: %s x%u done\n", wallet_info[k].name,
					w->threads);
		}
	}
out:
	pv_secret_free(wj.req);
	return r;
}

static pv_err
run_all(pv_keystore *ks, const struct config *c, struct row *rows, size_t *nrows, struct wallet_row *wrows,
	size_t *nwrows)
{
	struct bench_job job = {.ks = ks, .seconds = c->seconds, .http_socket = c->vaultd};
	char name[PV_KEY_NAME_MAX + 1], jwt_name[PV_KEY_NAME_MAX + 1];
	pv_secret *bearer = NULL, *sign_req = NULL, *jwt_req = NULL;
	p11_obj jwt_obj;
	size_t blen = 0;
	struct row *w;
	pv_err r = PV_OK;

	*nrows = *nwrows = 0;
	if (c->vaultd != NULL && (r = load_bearer(c->bearer_file, &bearer, &blen)) != PV_OK)
		goto out;
	for (size_t a = 0; a < c->nalgs; a++) {
		snprintf(name, sizeof(name), "bench-%s", pv_alg_info(c->algs[a])->name);
		snprintf(jwt_name, sizeof(jwt_name), "bench-%s-jwt", pv_alg_info(c->algs[a])->name);
		job.name = name;
		job.alg = c->algs[a];
		if ((r = prepare_key(ks, c->algs[a], PV_PURPOSE_SIGN, name, &job.obj)) != PV_OK ||
		    (c->vaultd != NULL &&
		     (r = prepare_key(ks, c->algs[a], PV_PURPOSE_JWT, jwt_name, &jwt_obj)) != PV_OK))
			goto out;
		pv_secret_free(sign_req);
		pv_secret_free(jwt_req);
		sign_req = jwt_req = NULL;
		if (c->vaultd != NULL &&
		    (r = http_requests(c, bearer, blen, name, jwt_name, &sign_req, &jwt_req)) != PV_OK)
			goto out;
		for (size_t t = 0; t < c->nthreads; t++) {
			w = &rows[(*nrows)++];
			w->alg = c->algs[a];
			w->threads = job.threads = c->threads[t];
			job.mode = BENCH_RAW;
			if ((r = bench_run(&job, &w->raw)) != PV_OK)
				goto out;
			job.mode = BENCH_LIB;
			if ((r = bench_run(&job, &w->lib)) != PV_OK)
				goto out;
			if (c->vaultd != NULL &&
			    ((r = run_http(&job, sign_req, "\"signature_b64\"", &w->http_sign)) != PV_OK ||
			     (r = run_http(&job, jwt_req, "\"token\"", &w->http_jwt)) != PV_OK))
				goto out;
			if (!c->json)
				fprintf(stderr, "vault-bench: %s x%u done\n", name, w->threads);
		}
	}
	if (c->vaultd != NULL && (r = run_wallet(ks, c, bearer, blen, wrows, nwrows)) != PV_OK)
		goto out;
out:
	pv_secret_free(sign_req);
	pv_secret_free(jwt_req);
	pv_secret_free(bearer);
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
	struct wallet_row wrows[WALLET_N * LIST_MAX];
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
	    (r = run_all(ks, &cfg, rows, &nrows, wrows, &nwrows)) != PV_OK) {
		fprintf(stderr, "vault-bench: %s%s%s\n", pv_strerror(r), *pv_err_detail() ? ": " : "",
			pv_err_detail());
		goto out;
	}
	if (cfg.json)
		rc = print_json(&cfg, rows, nrows, wrows, nwrows) == 0 ? 0 : 1;
	else {
		print_table(&cfg, rows, nrows);
		print_wallet_table(&cfg, wrows, nwrows);
		rc = 0;
	}
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
