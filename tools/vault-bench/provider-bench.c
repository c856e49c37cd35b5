/*
 * provider-bench: the OpenSSL provider's goals of issue 16 (`make bench`).
 *
 *   provider-bench --provider-dir DIR [--seconds S] [--repeats N]
 *                  [--threads 1,2] [--fill N] [--loads N]
 *                  [--engine-token LABEL] [--engine-drop-ed25519] [--goals FILE]
 *
 * On the token of P11VAULT_MODULE/P11VAULT_TOKEN/P11VAULT_PIN_SOURCE, with
 * the keys bench-p256 and bench-rsa2048 (purpose sign) already made:
 *   1. --fill N: N more P-256 key pairs (two objects each, not p11vault keys), timed;
 *   2. rounds (raw, provider, engine, interleaved per algorithm and thread
 *      count): raw C_Sign through vault-bench's bench_run (BENCH_RAW),
 *      EVP_DigestSign (SHA-256) through p11vault.so loaded from DIR into its
 *      own library context (direct backend, key from OSSL_STORE
 *      "p11vault:bench-ALG"), and the same through Debian's libp11 engine
 *      (ENGINE_by_id("pkcs11"), the key by its pkcs11: URI);
 *   3. key load: OSSL_STORE_open+load of p11vault:bench-p256 in a fresh
 *      library context (first load: token open and login included) and
 *      again in the same context, --loads samples each.
 * libp11 0.4.12 reads the pin-source file with its trailing newline and its
 * own C_Login fails; the engine signs here because this process is already
 * logged in through libp11vault (PKCS#11 login is per application).
 * Medians over the rounds; the ratios are paired round by round. Goal lines
 * ("goal|figure|baseline|ratio|target|met?") go to --goals.
 */
#include "config.h"

/* the libp11 engine baseline needs the ENGINE API (deprecated in OpenSSL 3) */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/store.h>

#include "base/defs.h"
#include "base/secmem.h"
#include "core/alg.h"
#include "core/keys.h"
#include "pkcs11/token.h"
#include "tools/vault-bench/bench.h"

#define MAX_ROUNDS  15
#define MAX_THREADS 8
#define NALG        2

enum side { S_RAW, S_PROV, S_ENG, S_N };
static const char *const side_name[S_N] = {"raw C_Sign", "provider", "libp11 engine"};

struct cfg {
	const char *dir, *goals, *eng_token;
	double seconds;
	unsigned repeats, threads[4], nthreads, fill, loads;
	int drop_ed;
};

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void
ossl_fail(const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "";

	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	fprintf(stderr, "provider-bench: %s failed%s%s\n", what, *buf ? ": " : "", buf);
	ERR_clear_error();
}

/* ---- EVP_DigestSign loop (provider or engine key), one clock read per op as bench_run ---- */

struct evp_job {
	EVP_PKEY *pkey;
	OSSL_LIB_CTX *libctx; /* NULL: the default context (engine keys) */
	double seconds;
	atomic_int *go;
	uint64_t ops;
	double start, end;
	int failed;
};

static void *
evp_worker(void *arg)
{
	struct evp_job *j = arg;
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	const EVP_MD *md = EVP_sha256();
	unsigned char msg[32], sig[1024];
	size_t siglen;
	double t, deadline;
	int ok;

	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (unsigned char)(i * 7 + 1);
	while (atomic_load(j->go) == 0)
		sched_yield();
	j->start = t = now();
	deadline = j->start + j->seconds;
	while (mctx != NULL && t < deadline) {
		siglen = sizeof(sig);
		if (j->libctx != NULL)
			ok = EVP_DigestSignInit_ex(mctx, NULL, "SHA256", j->libctx, NULL, j->pkey, NULL) == 1;
		else
			ok = EVP_DigestSignInit(mctx, NULL, md, NULL, j->pkey) == 1;
		ok = ok && EVP_DigestSign(mctx, sig, &siglen, msg, sizeof(msg)) == 1;
		t = now();
		if (!ok) {
			j->failed = 1;
			break;
		}
		j->ops++;
	}
	j->end = t;
	j->failed |= mctx == NULL;
	EVP_MD_CTX_free(mctx);
	return NULL;
}

/* ops/s over threads threads, first start to last end; < 0: failed */
static double
evp_run(EVP_PKEY *pkey, OSSL_LIB_CTX *libctx, unsigned threads, double seconds)
{
	struct evp_job j[MAX_THREADS];
	pthread_t tid[MAX_THREADS];
	atomic_int go = 0;
	unsigned started = 0;
	double first = 0, last = 0;
	uint64_t ops = 0;
	int failed = 0;

	memset(j, 0, sizeof(j));
	for (; started < threads; started++) {
		j[started] = (struct evp_job){.pkey = pkey, .libctx = libctx, .seconds = seconds, .go = &go};
		if (pthread_create(&tid[started], NULL, evp_worker, &j[started]) != 0)
			break;
	}
	atomic_store(&go, 1);
	for (unsigned i = 0; i < started; i++) {
		pthread_join(tid[i], NULL);
		failed |= j[i].failed;
		ops += j[i].ops;
		if (i == 0 || j[i].start < first)
			first = j[i].start;
		if (i == 0 || j[i].end > last)
			last = j[i].end;
	}
	if (failed || started != threads || last <= first) {
		ossl_fail("EVP_DigestSign");
		return -1;
	}
	return (double)ops / (last - first);
}

/* ---- keys ---- */

static OSSL_LIB_CTX *
prov_ctx(const char *dir)
{
	OSSL_LIB_CTX *ctx = OSSL_LIB_CTX_new();

	if (ctx == NULL || OSSL_PROVIDER_set_default_search_path(ctx, dir) != 1 ||
	    OSSL_PROVIDER_load(ctx, "default") == NULL || OSSL_PROVIDER_load(ctx, "p11vault") == NULL) {
		ossl_fail("loading the default and p11vault providers");
		OSSL_LIB_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static EVP_PKEY *
store_load(OSSL_LIB_CTX *ctx, const char *uri)
{
	OSSL_STORE_CTX *sc = OSSL_STORE_open_ex(uri, ctx, NULL, NULL, NULL, NULL, NULL, NULL);
	OSSL_STORE_INFO *info;
	EVP_PKEY *pk = NULL;

	while (sc != NULL && pk == NULL && !OSSL_STORE_eof(sc)) {
		if ((info = OSSL_STORE_load(sc)) == NULL)
			continue;
		if (OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY)
			pk = OSSL_STORE_INFO_get1_PKEY(info);
		OSSL_STORE_INFO_free(info);
	}
	OSSL_STORE_close(sc);
	if (pk == NULL)
		ossl_fail(uri);
	return pk;
}

/* libp11's engine key for name's active version (object label NAME.vN); NULL and why */
static EVP_PKEY *
engine_key(const struct cfg *c, pv_keystore *ks, const char *name, ENGINE **eng, char *why, size_t whylen)
{
	struct pv_key *key = NULL;
	struct pv_key_version ver;
	p11_obj obj;
	const char *pin = getenv("P11VAULT_PIN_SOURCE"), *mod = getenv("P11VAULT_MODULE");
	char uri[1024];
	EVP_PKEY *pk = NULL;

	if (*eng == NULL) {
		ENGINE_load_builtin_engines();
		if ((*eng = ENGINE_by_id("pkcs11")) == NULL) {
			snprintf(why, whylen,
				 "ENGINE_by_id(\"pkcs11\") failed (libengine-pkcs11-openssl installed?)");
			ERR_clear_error();
			return NULL;
		}
		if (ENGINE_ctrl_cmd_string(*eng, "MODULE_PATH", mod, 0) != 1 || ENGINE_init(*eng) != 1) {
			snprintf(why, whylen, "the pkcs11 engine did not initialise with %s", mod);
			ERR_clear_error();
			ENGINE_free(*eng);
			*eng = NULL;
			return NULL;
		}
	}
	if (pv_keys_resolve(ks, name, 0, &key, &ver, &obj) != PV_OK) {
		snprintf(why, whylen, "%s not found", name);
		return NULL;
	}
	/* the PIN stays in its file: libp11 reads RFC 7512's pin-source itself */
	snprintf(uri, sizeof(uri), "pkcs11:token=%s;object=%s.v%u;type=private;pin-source=%s", c->eng_token,
		 name, ver.version, pin != NULL && strncmp(pin, "file:", 5) == 0 ? pin + 5 : "");
	pv_key_free(key);
	if ((pk = ENGINE_load_private_key(*eng, uri, NULL, NULL)) == NULL) {
		unsigned long e = ERR_peek_last_error();
		char buf[160] = "";

		if (e != 0)
			ERR_error_string_n(e, buf, sizeof(buf));
		snprintf(why, whylen, "ENGINE_load_private_key(%s.v%u) failed%s%s", name, ver.version,
			 *buf ? ": " : "", buf);
		ERR_clear_error();
	}
	return pk;
}

/* ---- options ---- */

static int
parse(int argc, char **argv, struct cfg *c)
{
	static const struct option lo[] = {{"provider-dir", 1, NULL, 'd'},
					   {"seconds", 1, NULL, 's'},
					   {"repeats", 1, NULL, 'r'},
					   {"threads", 1, NULL, 't'},
					   {"fill", 1, NULL, 'f'},
					   {"loads", 1, NULL, 'l'},
					   {"engine-token", 1, NULL, 'e'},
					   {"goals", 1, NULL, 'g'},
					   {"engine-drop-ed25519", 0, NULL, 'x'},
					   {NULL, 0, NULL, 0}};
	char *p, *end;
	int o;

	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (o) {
		case 'd':
			c->dir = optarg;
			break;
		case 's':
			c->seconds = strtod(optarg, NULL);
			break;
		case 'r':
			c->repeats = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'f':
			c->fill = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'l':
			c->loads = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'e':
			c->eng_token = optarg;
			break;
		case 'g':
			c->goals = optarg;
			break;
		case 'x':
			c->drop_ed = 1;
			break;
		case 't':
			c->nthreads = 0;
			for (p = optarg; *p != '\0' && c->nthreads < 4; p = *end == ',' ? end + 1 : end) {
				c->threads[c->nthreads] = (unsigned)strtoul(p, &end, 10);
				if (end == p || c->threads[c->nthreads] == 0 ||
				    c->threads[c->nthreads] > MAX_THREADS)
					return -1;
				c->nthreads++;
			}
			break;
		default:
			return -1;
		}
	}
	return c->dir == NULL || c->seconds <= 0 || c->repeats == 0 || c->repeats > MAX_ROUNDS ||
		       c->loads == 0 || c->loads > 64 || optind != argc
		   ? -1
		   : 0;
}

/* n more P-256 key pairs on the token (labels bench-fill-NNNN.pub/.key: not
 * p11vault keys, objects the provider must look past), straight through
 * C_GenerateKeyPair: vaultctl's per-key bookkeeping would make set-up
 * minutes long at 1,000 objects. */
static pv_err
fill_token(p11_token *tok, unsigned n, double *secs)
{
	/* DER OID 1.2.840.10045.3.1.7 (P-256) */
	static CK_BYTE p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
	CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	char plabel[32], klabel[32];
	CK_ATTRIBUTE pub[] = {{CKA_TOKEN, &yes, sizeof(yes)},
			      {CKA_EC_PARAMS, p256, sizeof(p256)},
			      {CKA_VERIFY, &yes, sizeof(yes)},
			      {CKA_LABEL, plabel, 0}};
	CK_ATTRIBUTE priv[] = {{CKA_TOKEN, &yes, sizeof(yes)},     {CKA_PRIVATE, &yes, sizeof(yes)},
			       {CKA_SENSITIVE, &yes, sizeof(yes)}, {CKA_EXTRACTABLE, &no, sizeof(no)},
			       {CKA_SIGN, &yes, sizeof(yes)},      {CKA_LABEL, klabel, 0}};
	CK_OBJECT_HANDLE hp, hk;
	double t0 = now();
	pv_err r = PV_OK;

	for (unsigned i = 0; i < n && r == PV_OK; i++) {
		snprintf(plabel, sizeof(plabel), "bench-fill-%04u.pub", i);
		snprintf(klabel, sizeof(klabel), "bench-fill-%04u.key", i);
		pub[3].ulValueLen = strlen(plabel);
		priv[5].ulValueLen = strlen(klabel);
		r = p11_generate_key_pair(tok, &mech, pub, PV_NELEM(pub), priv, PV_NELEM(priv), &hp, &hk);
	}
	*secs = now() - t0;
	return r;
}

/* libp11 0.4.12 (Debian 12's engine) fails every key load on a token that
 * holds an Ed25519 private key (its key enumeration knows RSA and EC only):
 * destroy those on this throwaway token first (--engine-drop-ed25519). */
static pv_err
drop_ed25519(p11_token *tok, size_t *dropped)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_KEY_TYPE kt = CKK_EC_EDWARDS;
	CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &kt, sizeof(kt)}};
	CK_OBJECT_HANDLE *h = NULL;
	size_t n = 0;
	pv_err r;

	*dropped = 0;
	if ((r = p11_find_all(tok, t, 2, &h, &n)) != PV_OK)
		return r;
	for (size_t i = 0; i < n && r == PV_OK; i++)
		if ((r = p11_handle_destroy(tok, h[i])) == PV_OK)
			(*dropped)++;
	free(h);
	return r;
}

int
main(int argc, char **argv)
{
	static const pv_alg algs[NALG] = {PV_ALG_P256, PV_ALG_RSA2048};
	static const char *const alg_label[NALG] = {"P-256", "RSA-2048"};
	struct cfg c = {.seconds = 1.5,
			.repeats = 3,
			.threads = {1, 2},
			.nthreads = 2,
			.loads = 11,
			.eng_token = "p11vault-bench"};
	struct p11_token_opts topts = {0};
	pv_keystore *ks = NULL;
	p11_token *tok = NULL;
	size_t dropped = 0;
	OSSL_LIB_CTX *ctx = NULL;
	ENGINE *eng = NULL;
	EVP_PKEY *ppk[NALG] = {NULL}, *epk[NALG] = {NULL};
	p11_obj obj[NALG];
	char name[NALG][PV_KEY_NAME_MAX + 1], why[300] = "", uri[PV_KEY_NAME_MAX + 16];
	static double v[NALG][4][S_N][MAX_ROUNDS];
	double cold[64], warm[64], open_[64], pload[64], search[64], fill_s = 0, t0, t1, t2;
	FILE *g = NULL;
	int rc = 1;
	pv_err r;

	if (parse(argc, argv, &c) != 0) {
		fprintf(
		    stderr,
		    "usage: provider-bench --provider-dir DIR [--seconds S] [--repeats N] "
		    "[--threads 1,2] [--fill N] [--loads N] [--engine-token LABEL] [--engine-drop-ed25519] [--goals FILE]\n");
		return 2;
	}
	topts.token_uri = getenv("P11VAULT_TOKEN");
	topts.module = getenv("P11VAULT_MODULE");
	topts.pin_source = getenv("P11VAULT_PIN_SOURCE");
	if ((r = pv_secmem_init()) != PV_OK || (r = p11_token_open(&topts, &tok)) != PV_OK ||
	    (r = p11_token_login(tok)) != PV_OK || (r = pv_keystore_new(tok, &ks)) != PV_OK ||
	    (r = fill_token(tok, c.fill, &fill_s)) != PV_OK ||
	    (c.drop_ed && (r = drop_ed25519(tok, &dropped)) != PV_OK))
		goto pverr;
	if (c.drop_ed)
		printf("for the libp11 engine: %zu Ed25519 private keys destroyed on the token\n", dropped);
	if (c.fill > 0)
		printf("token filled: %u more P-256 key pairs (%u objects) in %.1f s\n", c.fill, 2 * c.fill,
		       fill_s);
	if ((ctx = prov_ctx(c.dir)) == NULL)
		goto out;
	for (int a = 0; a < NALG; a++) {
		struct pv_key *key = NULL;
		struct pv_key_version ver;

		snprintf(name[a], sizeof(name[a]), "bench-%s", pv_alg_info(algs[a])->name);
		if ((r = pv_keys_resolve(ks, name[a], 0, &key, &ver, &obj[a])) != PV_OK)
			goto pverr;
		pv_key_free(key);
		snprintf(uri, sizeof(uri), "p11vault:%s", name[a]);
		if ((ppk[a] = store_load(ctx, uri)) == NULL)
			goto out;
		if (*why == '\0' && (epk[a] = engine_key(&c, ks, name[a], &eng, why, sizeof(why))) == NULL)
			fprintf(stderr, "provider-bench: no engine baseline: %s\n", why);
	}

	/* interleaved rounds: raw, provider, engine back to back per row */
	for (unsigned rd = 0; rd < c.repeats; rd++) {
		for (int a = 0; a < NALG; a++) {
			for (unsigned t = 0; t < c.nthreads; t++) {
				struct bench_job job = {.ks = ks,
							.alg = algs[a],
							.obj = obj[a],
							.mode = BENCH_RAW,
							.threads = c.threads[t],
							.seconds = c.seconds};
				struct bench_result res;

				if ((r = bench_run(&job, &res)) != PV_OK)
					goto pverr;
				v[a][t][S_RAW][rd] = res.ops_per_sec;
				if ((v[a][t][S_PROV][rd] = evp_run(ppk[a], ctx, c.threads[t], c.seconds)) < 0)
					goto out;
				v[a][t][S_ENG][rd] =
				    epk[a] != NULL ? evp_run(epk[a], NULL, c.threads[t], c.seconds) : 0;
				if (v[a][t][S_ENG][rd] < 0)
					goto out;
			}
		}
	}

	/* key load: a fresh library context per sample. The provider opens the
	 * token and logs in on its first key (cold); open: bench-rsa2048 loaded
	 * first in another fresh context, then bench-p256 timed; warm: the same
	 * key once more in the same context. */
	for (unsigned i = 0; i < c.loads; i++) {
		OSSL_LIB_CTX *lc[2] = {NULL, NULL};
		EVP_PKEY *pk[3] = {NULL, NULL, NULL};
		int ok;

		t0 = now();
		lc[0] = prov_ctx(c.dir);
		t1 = now();
		ok = lc[0] != NULL && (pk[0] = store_load(lc[0], "p11vault:bench-p256")) != NULL;
		t2 = now();
		ok = ok && (pk[1] = store_load(lc[0], "p11vault:bench-p256")) != NULL;
		warm[i] = (now() - t2) * 1e3;
		pload[i] = (t1 - t0) * 1e3;
		cold[i] = (t2 - t1) * 1e3;
		ok = ok && (lc[1] = prov_ctx(c.dir)) != NULL &&
		     (pk[2] = store_load(lc[1], "p11vault:bench-rsa2048")) != NULL;
		EVP_PKEY_free(pk[2]);
		pk[2] = NULL;
		t0 = now();
		ok = ok && (pk[2] = store_load(lc[1], "p11vault:bench-p256")) != NULL;
		open_[i] = (now() - t0) * 1e3;
		for (int k = 0; k < 3; k++)
			EVP_PKEY_free(pk[k]);
		OSSL_LIB_CTX_free(lc[0]);
		OSSL_LIB_CTX_free(lc[1]);
		if (!ok)
			goto out;
	}

	/* the token's own floor: one C_FindObjects over the token (the key's
	 * metadata object by class and label), as a key load makes two */
	for (unsigned i = 0; i < c.loads; i++) {
		CK_OBJECT_CLASS dcls = CKO_DATA;
		CK_ATTRIBUTE dt[] = {
		    {CKA_CLASS, &dcls, sizeof(dcls)},
		    {CKA_LABEL, (void *)(uintptr_t) "bench-p256", strlen("bench-p256")},
		};
		CK_OBJECT_HANDLE *hs = NULL;
		size_t nh = 0;

		t0 = now();
		r = p11_find_all(tok, dt, PV_NELEM(dt), &hs, &nh);
		search[i] = (now() - t0) * 1e3;
		free(hs);
		if (r != PV_OK)
			goto pverr;
	}

	printf("\nprovider (direct backend) vs raw C_Sign and the libp11 engine, EVP_DigestSign SHA-256,\n"
	       "%.1f s per run, median of %u interleaved rounds (ops/s):\n",
	       c.seconds, c.repeats);
	printf("%-9s %7s %12s %12s %14s %9s %9s\n", "key", "threads", side_name[S_RAW], side_name[S_PROV],
	       side_name[S_ENG], "prov/raw", "prov/eng");
	if (c.goals != NULL && (g = fopen(c.goals, "a")) == NULL)
		perror(c.goals);
	for (int a = 0; a < NALG; a++) {
		for (unsigned t = 0; t < c.nthreads; t++) {
			double m[S_N], pr[MAX_ROUNDS], pe[MAX_ROUNDS], rr, re;

			for (int s = 0; s < S_N; s++)
				m[s] = bench_median(v[a][t][s], c.repeats);
			for (unsigned rd = 0; rd < c.repeats; rd++) {
				pr[rd] = v[a][t][S_PROV][rd] / v[a][t][S_RAW][rd];
				pe[rd] = epk[a] != NULL ? v[a][t][S_PROV][rd] / v[a][t][S_ENG][rd] : 0;
			}
			rr = bench_median(pr, c.repeats);
			re = bench_median(pe, c.repeats);
			printf("%-9s %7u %12.0f %12.0f %14.0f %9.3f %9.3f\n", alg_label[a], c.threads[t],
			       m[S_RAW], m[S_PROV], m[S_ENG], rr, re);
			if (g == NULL)
				continue;
			fprintf(
			    g,
			    "provider EVP_DigestSign %s, %u thread%s|%.0f/s|raw C_Sign %.0f/s|%.3f|>= 0.95x|%s\n",
			    alg_label[a], c.threads[t], c.threads[t] > 1 ? "s" : "", m[S_PROV], m[S_RAW], rr,
			    rr >= 0.95 ? "yes" : "NO");
			if (epk[a] != NULL)
				fprintf(
				    g,
				    "provider vs libp11 engine %s, %u thread%s|%.0f/s|engine %.0f/s|%.3f|>= 1.00x|%s\n",
				    alg_label[a], c.threads[t], c.threads[t] > 1 ? "s" : "", m[S_PROV],
				    m[S_ENG], re, re >= 1.0 ? "yes" : "NO");
			else
				fprintf(
				    g,
				    "provider vs libp11 engine %s, %u thread%s|%.0f/s|not measured: %s|-|>= 1.00x|n/a\n",
				    alg_label[a], c.threads[t], c.threads[t] > 1 ? "s" : "", m[S_PROV], why);
		}
	}
	printf("\nkey load, p11vault:bench-p256 with %u more objects on the token, median of %u (ms):\n"
	       "  provider load (default + p11vault)        %.2f\n"
	       "  OSSL_STORE open+load, fresh context       %.2f  (token open and login included)\n"
	       "  OSSL_STORE open+load, token already open  %.2f  (another key loaded first)\n"
	       "  OSSL_STORE open+load, again in it         %.2f\n"
	       "  one raw C_FindObjects on the token        %.2f  (a first load makes two)\n",
	       2 * c.fill, c.loads, bench_median(pload, c.loads), bench_median(cold, c.loads),
	       bench_median(open_, c.loads), bench_median(warm, c.loads), bench_median(search, c.loads));
	if (g != NULL) {
		fprintf(
		    g,
		    "key load, %u more objects, fresh provider (token open+login+load)|%.2f ms|-|-|<= 5 ms|%s\n",
		    2 * c.fill, bench_median(cold, c.loads), bench_median(cold, c.loads) <= 5 ? "yes" : "NO");
		fprintf(
		    g,
		    "key load, %u more objects, token already open|%.2f ms|one raw C_FindObjects %.2f ms|%.2f|<= 5 ms|%s\n",
		    2 * c.fill, bench_median(open_, c.loads), bench_median(search, c.loads),
		    bench_median(open_, c.loads) / bench_median(search, c.loads),
		    bench_median(open_, c.loads) <= 5 ? "yes" : "NO");
		fclose(g);
	}
	rc = 0;
	goto out;
pverr:
	fprintf(stderr, "provider-bench: %s%s%s\n", pv_strerror(r), *pv_err_detail() ? ": " : "",
		pv_err_detail());
out:
	for (int a = 0; a < NALG; a++) {
		EVP_PKEY_free(ppk[a]);
		EVP_PKEY_free(epk[a]);
	}
	if (eng != NULL) {
		ENGINE_finish(eng);
		ENGINE_free(eng);
	}
	OSSL_LIB_CTX_free(ctx);
	pv_keystore_free(ks);
	p11_token_close(tok);
	return rc;
}
