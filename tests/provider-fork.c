/*
 * provider-fork KEYREF PUBPEM [THREADS [ROUNDS]] — the p11vault provider
 * across fork() and threads (issue 16 item 5), for provider_fork.sh.
 *
 *   KEYREF  what the program loads through OSSL_STORE in the default library
 *           context, whose providers come from OPENSSL_CONF (default, then
 *           p11vault): "p11vault:NAME", a pkcs11: URI or a URI-in-PEM file
 *   PUBPEM  the key's public half (from vaultctl), read in a second library
 *           context that has only OpenSSL's default provider: every
 *           signature is verified there, never by p11vault
 *
 * Steps, each one line on stdout ("ok: ..."), the first failure ends the run:
 *   1. the parent signs once (the backend is set up: sessions, connections);
 *   2. two children are forked at once and each signs ROUNDS times while the
 *      parent signs too (a forked nginx worker must re-initialise lazily, not
 *      share the parent's sessions);
 *   3. a child forked from a child signs (two generations);
 *   4. the parent signs again after its children have exited;
 *   5. THREADS threads (default 8) sign ROUNDS times (default 25) each with
 *      the one EVP_PKEY;
 *   6. a child forked after the threads ran signs.
 *
 * Exit: 0 all signed and verified, 1 a failure, 77 p11vault not loaded
 * (skip), 2 usage.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/store.h>

enum { EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_SKIP = 77, MAX_THREADS = 64 };

static EVP_PKEY *g_key; /* through p11vault */
static EVP_PKEY *g_pub; /* in g_vctx */
static OSSL_LIB_CTX *g_vctx;
static const char *g_md; /* NULL for Ed25519 */
static int g_rounds = 25;

static EVP_PKEY *
load_key(const char *uri)
{
	OSSL_STORE_CTX *st = NULL;
	EVP_PKEY *pk = NULL;

	st = OSSL_STORE_open_ex(uri, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
	if (st == NULL)
		goto out;
	if (OSSL_STORE_expect(st, OSSL_STORE_INFO_PKEY) != 1)
		goto out;
	while (pk == NULL && !OSSL_STORE_eof(st)) {
		OSSL_STORE_INFO *info = OSSL_STORE_load(st);

		if (info == NULL)
			continue;
		if (OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY)
			pk = OSSL_STORE_INFO_get1_PKEY(info);
		OSSL_STORE_INFO_free(info);
	}
out:
	OSSL_STORE_close(st);
	return pk;
}

static EVP_PKEY *
load_pub(const char *path)
{
	BIO *b = NULL;
	EVP_PKEY *pk = NULL;

	b = BIO_new_file(path, "r");
	if (b == NULL)
		goto out;
	pk = PEM_read_bio_PUBKEY_ex(b, NULL, NULL, NULL, g_vctx, NULL);
out:
	BIO_free(b);
	return pk;
}

/* Sign msg with g_key, verify with g_pub in the default-only context. 1 ok. */
static int
sign_verify(const char *msg)
{
	EVP_MD_CTX *s = NULL, *v = NULL;
	unsigned char *sig = NULL;
	size_t siglen = 0, n = strlen(msg);
	int ok = 0;

	s = EVP_MD_CTX_new();
	v = EVP_MD_CTX_new();
	if (s == NULL || v == NULL)
		goto out;
	if (EVP_DigestSignInit_ex(s, NULL, g_md, NULL, NULL, g_key, NULL) != 1)
		goto out;
	/* the size query signs nothing */
	if (EVP_DigestSign(s, NULL, &siglen, (const unsigned char *)msg, n) != 1 || siglen == 0)
		goto out;
	sig = OPENSSL_malloc(siglen);
	if (sig == NULL)
		goto out;
	if (EVP_DigestSign(s, sig, &siglen, (const unsigned char *)msg, n) != 1)
		goto out;
	if (EVP_DigestVerifyInit_ex(v, NULL, g_md, g_vctx, NULL, g_pub, NULL) != 1)
		goto out;
	if (EVP_DigestVerify(v, sig, siglen, (const unsigned char *)msg, n) != 1) {
		fprintf(stderr, "provider-fork: a signature does not verify (%s)\n", msg);
		goto out;
	}
	ok = 1;
out:
	if (!ok)
		ERR_print_errors_fp(stderr);
	OPENSSL_free(sig);
	EVP_MD_CTX_free(s);
	EVP_MD_CTX_free(v);
	return ok;
}

static int
sign_rounds(const char *who, int rounds)
{
	char msg[128];

	for (int i = 0; i < rounds; i++) {
		snprintf(msg, sizeof(msg), "p11vault provider-fork %s pid %ld round %d", who, (long)getpid(),
			 i);
		if (!sign_verify(msg))
			return 0;
	}
	return 1;
}

/* Fork a child that signs rounds times (and, if nest, forks a grandchild
 * that does too); returns its pid, or -1. */
static pid_t
spawn(const char *who, int rounds, int nest)
{
	pid_t pid;
	int ok;

	fflush(NULL); /* nothing buffered is written twice */
	pid = fork();
	if (pid != 0)
		return pid;
	ok = sign_rounds(who, rounds);

	if (ok && nest) {
		int st = 0;
		pid_t g = spawn("grandchild", rounds, 0);

		ok = g > 0 && waitpid(g, &st, 0) == g && WIFEXITED(st) && WEXITSTATUS(st) == 0;
		/* and the child still signs after its own child exited */
		ok = ok && sign_rounds(who, 1);
	}
	fflush(NULL);
	_exit(ok ? 0 : EXIT_FAIL);
}

static int
reap(pid_t pid, const char *who)
{
	int st = 0;

	if (pid < 0 || waitpid(pid, &st, 0) != pid) {
		fprintf(stderr, "provider-fork: %s: fork or wait failed\n", who);
		return 0;
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "provider-fork: %s failed (status %d)\n", who, st);
		return 0;
	}
	return 1;
}

struct thr {
	pthread_t t;
	int idx;
	int ok;
};

static void *
thread_main(void *arg)
{
	struct thr *t = arg;
	char who[32];

	snprintf(who, sizeof(who), "thread %d", t->idx);
	t->ok = sign_rounds(who, g_rounds);
	return NULL;
}

/* A whole decimal number in [lo, hi], else -1. */
static int
count_arg(const char *s, int lo, int hi)
{
	char *end = NULL;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		return -1;
	return (int)v;
}

int
main(int argc, char **argv)
{
	int nthreads = 8, ret = EXIT_FAIL, started = 0, sok, tok;
	struct thr th[MAX_THREADS];
	pid_t a, b;

	if (argc < 3 || argc > 5) {
		fprintf(stderr, "usage: provider-fork KEYREF PUBPEM [THREADS [ROUNDS]]\n");
		return EXIT_USAGE;
	}
	if (argc > 3)
		nthreads = count_arg(argv[3], 1, MAX_THREADS);
	if (argc > 4)
		g_rounds = count_arg(argv[4], 1, 100000);
	if (nthreads < 1 || nthreads > MAX_THREADS || g_rounds < 1 || g_rounds > 100000) {
		fprintf(stderr, "provider-fork: THREADS 1-%d, ROUNDS 1-100000\n", MAX_THREADS);
		return EXIT_USAGE;
	}
	if (OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL) != 1)
		goto out;
	if (!OSSL_PROVIDER_available(NULL, "p11vault")) {
		fprintf(stderr, "provider-fork: the p11vault provider is not loaded (OPENSSL_CONF)\n");
		ret = EXIT_SKIP;
		goto out;
	}
	g_vctx = OSSL_LIB_CTX_new();
	if (g_vctx == NULL || OSSL_PROVIDER_load(g_vctx, "default") == NULL)
		goto out;
	g_pub = load_pub(argv[2]);
	if (g_pub == NULL) {
		fprintf(stderr, "provider-fork: cannot read the public key %s\n", argv[2]);
		goto out;
	}
	g_key = load_key(argv[1]);
	if (g_key == NULL) {
		fprintf(stderr, "provider-fork: cannot load %s\n", argv[1]);
		goto out;
	}
	g_md = EVP_PKEY_is_a(g_pub, "ED25519") ? NULL : "SHA256";

	if (!sign_rounds("parent", 1))
		goto out;
	printf("ok: parent signed\n");

	a = spawn("child A", g_rounds, 0);
	b = spawn("child B", g_rounds, 0);
	sok = sign_rounds("parent beside its children", g_rounds);

	if (!reap(a, "child A") || !reap(b, "child B") || !sok)
		goto out;
	printf("ok: two forked children and the parent signed %d times each\n", g_rounds);

	if (!reap(spawn("child C", 3, 1), "child C and its grandchild"))
		goto out;
	printf("ok: a child of a child signed\n");

	if (!sign_rounds("parent after its children", 3))
		goto out;
	printf("ok: the parent signs after its children exited\n");

	for (started = 0; started < nthreads; started++) {
		th[started].idx = started;
		th[started].ok = 0;
		if (pthread_create(&th[started].t, NULL, thread_main, &th[started]) != 0)
			break;
	}
	tok = started == nthreads;

	for (int i = 0; i < started; i++) {
		pthread_join(th[i].t, NULL);
		tok = tok && th[i].ok;
	}
	if (!tok) {
		fprintf(stderr, "provider-fork: a thread failed\n");
		goto out;
	}
	printf("ok: %d threads signed %d times each with one key\n", nthreads, g_rounds);

	if (!reap(spawn("child after threads", 3, 0), "child after threads"))
		goto out;
	printf("ok: a child forked after the threads signed\n");
	ret = 0;
out:
	if (ret == EXIT_FAIL)
		ERR_print_errors_fp(stderr);
	fflush(stdout);
	EVP_PKEY_free(g_key);
	EVP_PKEY_free(g_pub);
	OSSL_LIB_CTX_free(g_vctx);
	return ret;
}
