/*
 * Recovery, login refusals and the retry bound, through the fault-injection
 * shim (tests/faultmod) in front of SoftHSM.
 */
#include "config.h"

#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/secmem.h"
#include "pkcs11/internal.h"
#include "pkcs11/testutil.h"
#include "pkcs11/token.h"

static struct tu_token T;
static int (*fault_set)(const char *spec);
static unsigned long (*fault_count)(const char *fn);
static void (*fault_reset_counts)(void);
static void (*fault_set_away)(int on);

static void
shim_opts(struct p11_token_opts *o)
{
	tu_opts(&T, o);
	o->module = PV_FAULTMOD;
}

/* The shim is loaded by p11-kit; reach its test controls with dlsym. */
static void
bind_shim(void)
{
	void *dl = dlopen(PV_FAULTMOD, RTLD_NOW | RTLD_NOLOAD);

	assert_non_null(dl);
	*(void **)(&fault_set) = dlsym(dl, "pv_fault_set");
	*(void **)(&fault_count) = dlsym(dl, "pv_fault_count");
	*(void **)(&fault_reset_counts) = dlsym(dl, "pv_fault_reset_counts");
	*(void **)(&fault_set_away) = dlsym(dl, "pv_fault_set_away");
	assert_non_null(fault_set_away);
	assert_non_null(fault_set);
	assert_non_null(fault_count);
	assert_non_null(fault_reset_counts);
	dlclose(dl);
}

static p11_token *
open_shim(void)
{
	struct p11_token_opts o;
	p11_token *tok = NULL;

	shim_opts(&o);
	assert_int_equal(p11_token_open(&o, &tok), PV_OK);
	bind_shim();
	assert_int_equal(fault_set(""), 0);
	fault_reset_counts();
	return tok;
}

static void
test_wrong_pin_not_retried(void **state)
{
	struct p11_token_opts o;
	p11_token *tok = NULL;
	p11_obj priv;
	char path[128], src[160];

	(void)state;
	snprintf(path, sizeof(path), "%s/wrong.pin", T.dir);
	snprintf(src, sizeof(src), "file:%s", path);
	assert_int_equal(tu_write_file(path, "PVPIN-wrong\n", 0600), 0);
	shim_opts(&o);
	o.pin_source = src;
	assert_int_equal(p11_token_open(&o, &tok), PV_OK);
	bind_shim();
	fault_reset_counts();
	assert_int_equal(p11_token_login(tok), PV_ERR_PIN_INCORRECT);
	assert_non_null(strstr(pv_err_detail(), "CKR_PIN_INCORRECT"));
	assert_int_equal(fault_count("C_Login"), 1);
	/* An operation that needs a login does not try the PIN again. */
	memset(&priv, 0, sizeof(priv));
	priv.cls = CKO_PRIVATE_KEY;
	priv.id[0] = 1;
	priv.id_len = 1;
	assert_int_not_equal(tu_sign(tok, &priv), PV_OK);
	assert_int_equal(fault_count("C_Login"), 1);
	p11_token_close(tok);
}

static void
test_final_try_and_locked_refused(void **state)
{
	p11_token *tok;
	char flags[32];

	(void)state;
	tok = open_shim();
	snprintf(flags, sizeof(flags), "0x%lx", (unsigned long)CKF_USER_PIN_FINAL_TRY);
	setenv("PV_FAULT_TOKEN_FLAGS", flags, 1);
	assert_int_equal(p11_token_login(tok), PV_ERR_PIN_FINAL_TRY);
	snprintf(flags, sizeof(flags), "0x%lx", (unsigned long)CKF_USER_PIN_LOCKED);
	setenv("PV_FAULT_TOKEN_FLAGS", flags, 1);
	assert_int_equal(p11_token_login(tok), PV_ERR_PIN_LOCKED);
	assert_int_equal(fault_count("C_Login"), 0); /* no try was spent */
	unsetenv("PV_FAULT_TOKEN_FLAGS");
	assert_int_equal(p11_token_login(tok), PV_OK);
	assert_int_equal(fault_count("C_Login"), 1);
	p11_token_close(tok);
}

static void
test_pool_respects_max_session_count(void **state)
{
	struct p11_token_opts o;
	struct p11_token_stats st;
	p11_token *tok = NULL;

	(void)state;
	shim_opts(&o);
	setenv("PV_FAULT_MAX_SESSIONS", "3", 1);
	assert_int_equal(p11_token_open(&o, &tok), PV_OK);
	p11_token_get_stats(tok, &st);
	assert_int_equal(st.pool_size, 3);
	p11_token_close(tok);
	o.max_sessions = 2;
	assert_int_equal(p11_token_open(&o, &tok), PV_OK);
	p11_token_get_stats(tok, &st);
	assert_int_equal(st.pool_size, 2);
	p11_token_close(tok);
	unsetenv("PV_FAULT_MAX_SESSIONS");
}

/* Sign once with spec injected; expect success and report the stats delta. */
static void
sign_through(p11_token *tok, p11_obj *key, const char *spec, struct p11_token_stats *before,
	     struct p11_token_stats *after)
{
	p11_token_get_stats(tok, before);
	assert_int_equal(fault_set(spec), 0);
	assert_int_equal(tu_sign(tok, key), PV_OK);
	p11_token_get_stats(tok, after);
	assert_int_equal(fault_set(""), 0);
	assert_int_equal(after->pool_in_use, 0);
}

static long
elapsed_ms(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000L + (t.tv_nsec - t0->tv_nsec) / 1000000L;
}

/* Milliseconds until the token layer says the outage ended, -1 after max_ms. */
static long
wait_up(p11_token *tok, long max_ms)
{
	struct p11_token_stats st;
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		p11_token_get_stats(tok, &st);
		if (!st.down)
			return elapsed_ms(&t0);
		if (elapsed_ms(&t0) > max_ms)
			return -1;
		usleep(5000);
	}
}

static void
test_recovers(void **state)
{
	struct p11_token_stats a, b;
	p11_token *tok;
	p11_obj priv, pub;
	unsigned long logins;

	(void)state;
	tok = open_shim();
	assert_int_equal(p11_token_login(tok), PV_OK);
	assert_int_equal(tu_gen_ec(tok, "rec", 0x61, &priv, &pub), PV_OK);
	assert_int_equal(tu_sign(tok, &priv), PV_OK);

	/* Session loss (the shim really closes it), twice in a row. */
	sign_through(tok, &priv, "C_Sign:CKR_SESSION_HANDLE_INVALID:2", &a, &b);
	assert_true(b.recoveries >= a.recoveries + 2); /* re-logins count too */
	assert_int_equal(b.reinits, a.reinits);
	sign_through(tok, &priv, "C_SignInit:CKR_SESSION_CLOSED", &a, &b);
	assert_true(b.recoveries > a.recoveries);

	/* Login loss (the shim really logs out): one re-login with the kept PIN. */
	logins = fault_count("C_Login");
	sign_through(tok, &priv, "C_Sign:CKR_USER_NOT_LOGGED_IN", &a, &b);
	assert_true(b.recoveries > a.recoveries);
	assert_int_equal(fault_count("C_Login"), logins + 1);

	/* Stale handle: re-found through a new generation. */
	sign_through(tok, &priv, "C_SignInit:CKR_KEY_HANDLE_INVALID", &a, &b);
	assert_true(b.generation > a.generation);
	sign_through(tok, &priv, "C_SignInit:CKR_OBJECT_HANDLE_INVALID", &a, &b);
	assert_true(b.generation > a.generation);

	/* Device removed (all sessions really closed): new session + re-login. */
	logins = fault_count("C_Login");
	sign_through(tok, &priv, "C_Sign:CKR_DEVICE_REMOVED", &a, &b);
	assert_true(b.recoveries > a.recoveries);
	assert_true(b.generation > a.generation);
	assert_int_equal(fault_count("C_Login"), logins + 1);
	sign_through(tok, &priv, "C_SignInit:CKR_TOKEN_NOT_PRESENT", &a, &b);
	assert_true(b.recoveries > a.recoveries);

	/* The module lost its state (really finalized): C_Initialize again. */
	sign_through(tok, &priv, "C_Sign:CKR_CRYPTOKI_NOT_INITIALIZED", &a, &b);
	assert_int_equal(b.reinits, a.reinits + 1);

	/* Three failures in a row escalate to a full reinit and still succeed. */
	sign_through(tok, &priv, "C_Sign:CKR_SESSION_HANDLE_INVALID:3", &a, &b);
	assert_int_equal(b.reinits, a.reinits + 1);
	p11_token_close(tok);
}

/* Opening a token while SoftHSM answers C_GetTokenInfo with
 * CKR_GENERAL_ERROR (other processes logging in and writing objects) is
 * tried again for about 5 s: 12 such answers in a row (more than the bound
 * for an absent token allows) still open; a lasting one fails as "no token
 * matches", with the call and its error named. */
static void
test_open_busy_token(void **state)
{
	struct p11_token_opts o;
	p11_token *first = NULL, *tok = NULL;
	unsigned long calls, per_try;
	char spec[64];

	(void)state;
	first = open_shim(); /* keeps the shim loaded and its controls bound */
	shim_opts(&o);
	/* lasting: fails as "no token matches" after the longer bound, with
	 * every slot asked once per try */
	assert_int_equal(fault_set("C_GetTokenInfo:CKR_GENERAL_ERROR:*"), 0);
	assert_int_equal(p11_token_open(&o, &tok), PV_ERR_TOKEN_NOT_FOUND);
	assert_null(tok);
	assert_non_null(
	    strstr(pv_err_detail(), "C_GetTokenInfo of a slot: general error (CKR_GENERAL_ERROR)"));
	calls = fault_count("C_GetTokenInfo");
	assert_int_equal(calls % (P11_OPEN_BUSY_TRIES + 1), 0);
	per_try = calls / (P11_OPEN_BUSY_TRIES + 1);
	assert_true(per_try >= 1);

	/* passing: three more tries' worth of failures than the bound for an
	 * absent token allows still open */
	assert_int_equal(fault_set(""), 0);
	fault_reset_counts();
	snprintf(spec, sizeof(spec), "C_GetTokenInfo:CKR_GENERAL_ERROR:%lu", per_try * (P11_OPEN_TRIES + 3));
	assert_int_equal(fault_set(spec), 0);
	assert_int_equal(p11_token_open(&o, &tok), PV_OK);
	assert_true(fault_count("C_GetTokenInfo") > per_try * (P11_OPEN_TRIES + 3));
	assert_int_equal(fault_set(""), 0);
	p11_token_close(tok);
	p11_token_close(first);
}

/* A read-only call failing with CKR_GENERAL_ERROR while the token no
 * longer answers either (SoftHSM after a failed read of its token file;
 * vaultd --dev replicas starting at once met it in CI) is asked again
 * after the module is started afresh, instead of failing as "token
 * unavailable". A call that may have written is still not repeated. */
static void
test_readonly_after_reinit(void **state)
{
	p11_token *tok = NULL;
	struct p11_token_info info;

	(void)state;
	tok = open_shim();
	assert_int_equal(p11_token_login(tok), PV_OK);
	/* the call, then p11_token_answers' three tries: 4 failures */
	assert_int_equal(fault_set("C_GetTokenInfo:CKR_GENERAL_ERROR:4"), 0);
	assert_int_equal(p11_token_get_info(tok, &info), PV_OK);
	assert_true(info.flags & CKF_TOKEN_INITIALIZED);
	assert_true(fault_count("C_Initialize") >= 1); /* started afresh */
	assert_int_equal(fault_set(""), 0);
	p11_token_close(tok);
}

static void
test_retry_bound(void **state)
{
	struct p11_token_opts o;
	p11_token *tok = NULL;
	p11_obj priv, pub;

	(void)state;
	shim_opts(&o);
	o.max_retries = 2;
	assert_int_equal(p11_token_open(&o, &tok), PV_OK);
	bind_shim();
	assert_int_equal(fault_set(""), 0);
	assert_int_equal(p11_token_login(tok), PV_OK);
	assert_int_equal(tu_gen_ec(tok, "bound", 0x71, &priv, &pub), PV_OK);

	fault_reset_counts();
	assert_int_equal(fault_set("C_Sign:CKR_SESSION_HANDLE_INVALID:*"), 0);
	assert_int_equal(tu_sign(tok, &priv), PV_ERR_SESSION);
	assert_non_null(
	    strstr(pv_err_detail(), "C_Sign: session handle invalid (CKR_SESSION_HANDLE_INVALID)"));
	assert_int_equal(fault_count("C_Sign"), 3); /* first try + max_retries */

	fault_reset_counts();
	assert_int_equal(fault_set("C_Sign:CKR_DEVICE_REMOVED:*"), 0);
	assert_int_equal(tu_sign(tok, &priv), PV_ERR_TOKEN_UNAVAILABLE);
	assert_int_equal(fault_count("C_Sign"), 3);
	/* That was an outage: the prober ends it once the token answers. */
	assert_int_equal(fault_set(""), 0);
	assert_true(wait_up(tok, 2000) >= 0);

	/* A fault that is not recoverable is returned at once. */
	fault_reset_counts();
	assert_int_equal(fault_set("C_Sign:CKR_FUNCTION_FAILED"), 0);
	assert_int_equal(tu_sign(tok, &priv), PV_ERR_PKCS11);
	assert_int_equal(fault_count("C_Sign"), 1);

	/* GENERAL_ERROR from a token that still answers (SoftHSM while another
	 * process rewrites its files): an op that changes nothing is asked
	 * again, within the same bound; a lasting one is returned. */
	fault_reset_counts();
	assert_int_equal(fault_set("C_Sign:CKR_GENERAL_ERROR"), 0);
	assert_int_equal(tu_sign(tok, &priv), PV_OK);
	assert_int_equal(fault_count("C_Sign"), 2);
	fault_reset_counts();
	assert_int_equal(fault_set("C_Sign:CKR_GENERAL_ERROR:*"), 0);
	assert_int_equal(tu_sign(tok, &priv), PV_ERR_PKCS11);
	assert_int_equal(fault_count("C_Sign"), 3);

	/* Faults gone: the same token works again. */
	assert_int_equal(fault_set(""), 0);
	assert_int_equal(tu_sign(tok, &priv), PV_OK);
	p11_token_close(tok);
}

static void
test_outage_delays(void **state)
{
	unsigned prev = 0;

	(void)state;
	assert_true(p11_outage_delay_ms(0) >= 10 && p11_outage_delay_ms(0) <= 50);
	for (unsigned i = 0; i < 40; i++) {
		assert_true(p11_outage_delay_ms(i) >= prev);
		prev = p11_outage_delay_ms(i);
	}
	/* Capped so that a returned token is noticed within a second. */
	assert_true(prev >= 500 && prev <= 1000);
}

static int outage_downs, outage_ups;
static double outage_last_seconds;

static void
on_outage(void *arg, int down, double seconds)
{
	(void)arg;
	if (down)
		outage_downs++;
	else {
		outage_ups++;
		outage_last_seconds = seconds;
	}
}

static void
test_outage(void **state)
{
	static const char *const mid_call[] = {
	    "C_Sign:CKR_DEVICE_REMOVED",         "C_Sign:CKR_TOKEN_NOT_PRESENT",
	    "C_Sign:CKR_SESSION_HANDLE_INVALID", "C_Sign:CKR_CRYPTOKI_NOT_INITIALIZED",
	    "C_Sign:CKR_SLOT_ID_INVALID",        "C_OpenSession:CKR_SLOT_ID_INVALID",
	    "C_SignInit:CKR_DEVICE_ERROR",
	};
	struct p11_token_stats a, b;
	struct p11_token_opts o;
	struct timespec t0;
	p11_token *tok = NULL;
	p11_obj priv, pub;
	unsigned long signs;
	long up;

	(void)state;
	shim_opts(&o);
	o.on_outage = on_outage;
	assert_int_equal(p11_token_open(&o, &tok), PV_OK);
	bind_shim();
	assert_int_equal(fault_set(""), 0);
	assert_int_equal(p11_token_login(tok), PV_OK);
	assert_int_equal(tu_gen_ec(tok, "outage", 0x81, &priv, &pub), PV_OK);

	/* Brief faults mid-call are recovered inside the request: no outage. */
	p11_token_get_stats(tok, &a);
	for (size_t i = 0; i < PV_NELEM(mid_call); i++) {
		assert_int_equal(fault_set(mid_call[i]), 0);
		assert_int_equal(tu_sign(tok, &priv), PV_OK);
	}
	p11_token_get_stats(tok, &b);
	assert_int_equal(b.outages, a.outages);
	assert_int_equal(fault_set(""), 0);

	/* Three outages in a row, each ended by the token coming back. */
	for (int round = 0; round < 3; round++) {
		p11_token_get_stats(tok, &a);
		fault_set_away(1);
		assert_int_equal(tu_sign(tok, &priv), PV_ERR_TOKEN_UNAVAILABLE);
		p11_token_get_stats(tok, &b);
		assert_true(b.down);
		assert_int_equal(b.outages, a.outages + 1);
		assert_int_equal(outage_downs, round + 1);

		/* Meanwhile requests fail fast, without touching the token. */
		signs = fault_count("C_Sign");
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (int i = 0; i < 50; i++)
			assert_int_equal(tu_sign(tok, &priv), PV_ERR_TOKEN_UNAVAILABLE);
		assert_true(elapsed_ms(&t0) < 100);
		assert_int_equal(fault_count("C_Sign"), signs);
		usleep(300 * 1000);
		p11_token_get_stats(tok, &b);
		assert_true(b.down);
		assert_int_equal(b.outages, a.outages + 1); /* one outage, not one per request */

		fault_set_away(0);
		up = wait_up(tok, 1500);
		assert_true(up >= 0 && up < 1200);
		print_message("outage %d: recovered %ld ms after the token came back\n", round, up);
		assert_int_equal(tu_sign(tok, &priv), PV_OK);
		assert_int_equal(outage_ups, round + 1);
		assert_true(outage_last_seconds >= 0.3);
		p11_token_get_stats(tok, &b);
		assert_true(b.outage_seconds >= a.outage_seconds + 0.3);
		assert_int_equal(b.pool_in_use, 0);
	}
	p11_token_close(tok);
}

static void
test_obj_from_handle(void **state)
{
	p11_token *tok = open_shim();
	p11_obj priv, pub, o;
	unsigned long gen;

	(void)state;
	assert_int_equal(p11_token_login(tok), PV_OK);
	assert_int_equal(tu_gen_ec(tok, "fromh", 0x91, &priv, &pub), PV_OK);
	assert_int_equal(p11_obj_find(tok, &priv), PV_OK);
	gen = p11_token_generation(tok);
	p11_obj_from_handle(&o, CKO_PRIVATE_KEY, priv.handle, gen, priv.id, priv.id_len, priv.label);
	assert_int_equal(o.gen, gen);
	assert_int_equal(o.handle, priv.handle);
	assert_int_equal(tu_sign(tok, &o), PV_OK);
	/* The handle goes stale: the reference is found again by its CKA_ID/label. */
	assert_int_equal(fault_set("C_SignInit:CKR_KEY_HANDLE_INVALID"), 0);
	assert_int_equal(tu_sign(tok, &o), PV_OK);
	assert_true(p11_token_generation(tok) > gen);
	assert_int_equal(fault_set(""), 0);
	p11_token_close(tok);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_wrong_pin_not_retried),
	    cmocka_unit_test(test_final_try_and_locked_refused),
	    cmocka_unit_test(test_pool_respects_max_session_count),
	    cmocka_unit_test(test_recovers),
	    cmocka_unit_test(test_retry_bound),
	    cmocka_unit_test(test_open_busy_token),
	    cmocka_unit_test(test_readonly_after_reinit),
	    cmocka_unit_test(test_outage_delays),
	    cmocka_unit_test(test_outage),
	    cmocka_unit_test(test_obj_from_handle),
	};
	int r;

	if (pv_secmem_init() != PV_OK)
		return 1;
	if ((r = tu_make_token(&T, "pvfault")) != 0)
		return r == TU_SKIP ? TU_SKIP : 1;
	if (access(PV_FAULTMOD, R_OK) != 0) {
		fprintf(stderr, "fault shim %s not built\n", PV_FAULTMOD);
		return 1;
	}
	setenv("PV_FAULT_MODULE", T.module, 1);
	r = cmocka_run_group_tests(tests, NULL, NULL);
	tu_remove_token(&T);
	return r;
}
