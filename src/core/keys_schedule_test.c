/*
 * Scheduled rotation: pv_key_schedule_next over a table of keys and times
 * (no token), and pv_keys_schedule_run on a throwaway SoftHSM token: the
 * steps in order, and two processes running the same due step at once make
 * it once.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/secmem.h"
#include "core/keys_schedule.h"
#include "pkcs11/testutil.h"

static struct tu_token T;

#define DAY  86400
#define HOUR 3600
#define T0   INT64_C(1800000000)

/* A version for the table: state, created, activated, demoted. */
struct tv {
	pv_key_state st;
	int64_t created, activated, demoted;
};

struct tcase {
	const char *what;
	struct pv_key_schedule sch;
	int64_t disabled;
	struct tv v[4];
	int64_t now;
	int want; /* return value */
	enum pv_sched_kind kind;
	unsigned version;
	int64_t at;
	int due;
};

static const struct pv_key_schedule DAILY = {DAY, 2 * HOUR, 6 * HOUR};

static const struct tcase cases[] = {
    {"no schedule", {0, 0, 0}, 0, {{PV_STATE_ACTIVE, T0, T0, 0}}, T0 + 9 * DAY, 0, PV_SCHED_NONE, 0, 0, 0},
    {"disabled key", DAILY, T0, {{PV_STATE_ACTIVE, T0, T0, 0}}, T0 + 9 * DAY, 0, PV_SCHED_NONE, 0, 0, 0},
    {"publish not yet due",
     DAILY,
     0,
     {{PV_STATE_ACTIVE, T0, T0, 0}},
     T0 + HOUR,
     1,
     PV_SCHED_PUBLISH,
     2,
     T0 + DAY - 2 * HOUR,
     0},
    {"publish due at its time",
     DAILY,
     0,
     {{PV_STATE_ACTIVE, T0, T0, 0}},
     T0 + DAY - 2 * HOUR,
     1,
     PV_SCHED_PUBLISH,
     2,
     T0 + DAY - 2 * HOUR,
     1},
    {"activate after publish, on time",
     DAILY,
     0,
     {{PV_STATE_ACTIVE, T0, T0, 0}, {PV_STATE_NEXT, T0 + DAY - 2 * HOUR, 0, 0}},
     T0 + DAY,
     1,
     PV_SCHED_ACTIVATE,
     2,
     T0 + DAY,
     1},
    {"activate waits for publish-ahead after a late publish",
     DAILY,
     0,
     {{PV_STATE_ACTIVE, T0, T0, 0}, {PV_STATE_NEXT, T0 + DAY + HOUR, 0, 0}},
     T0 + DAY + HOUR,
     1,
     PV_SCHED_ACTIVATE,
     2,
     T0 + DAY + 3 * HOUR - PV_SCHEDULE_GRACE,
     0},
    {"retire before the next publish",
     DAILY,
     0,
     {{PV_STATE_VERIFY_ONLY, T0 - DAY, T0 - DAY, T0}, {PV_STATE_ACTIVE, T0 - 2 * HOUR, T0, 0}},
     T0 + 7 * HOUR,
     1,
     PV_SCHED_RETIRE,
     1,
     T0 + 6 * HOUR,
     1},
    {"retired versions are left alone",
     DAILY,
     0,
     {{PV_STATE_RETIRED, T0 - DAY, T0 - DAY, T0}, {PV_STATE_ACTIVE, T0 - 2 * HOUR, T0, 0}},
     T0 + 7 * HOUR,
     1,
     PV_SCHED_PUBLISH,
     3,
     T0 + DAY - 2 * HOUR,
     0},
    {"unknown demoted time: never retired",
     DAILY,
     0,
     {{PV_STATE_VERIFY_ONLY, T0 - DAY, T0 - DAY, 0}, {PV_STATE_ACTIVE, T0, T0, 0}},
     T0 + 7 * HOUR,
     1,
     PV_SCHED_PUBLISH,
     3,
     T0 + DAY - 2 * HOUR,
     0},
    {"unknown activated time: no publish",
     DAILY,
     0,
     {{PV_STATE_ACTIVE, T0, 0, 0}},
     T0 + 9 * DAY,
     0,
     PV_SCHED_NONE,
     0,
     0,
     0},
    {"missed periods: publish due at the old time",
     DAILY,
     0,
     {{PV_STATE_ACTIVE, T0, T0, 0}},
     T0 + 5 * DAY,
     1,
     PV_SCHED_PUBLISH,
     2,
     T0 + DAY - 2 * HOUR,
     1},
    {"missed periods: activate only publish-ahead after the late publish",
     DAILY,
     0,
     {{PV_STATE_ACTIVE, T0, T0, 0}, {PV_STATE_NEXT, T0 + 5 * DAY, 0, 0}},
     T0 + 5 * DAY,
     1,
     PV_SCHED_ACTIVATE,
     2,
     T0 + 5 * DAY + 2 * HOUR - PV_SCHEDULE_GRACE,
     0},
    {"activate: a publish a little late does not move it",
     DAILY,
     0,
     {{PV_STATE_ACTIVE, T0, T0, 0}, {PV_STATE_NEXT, T0 + DAY - 2 * HOUR + 30, 0, 0}},
     T0 + DAY,
     1,
     PV_SCHED_ACTIVATE,
     2,
     T0 + DAY,
     1},
    {"earliest of retire and publish",
     {DAY, 2 * HOUR, 23 * HOUR},
     0,
     {{PV_STATE_VERIFY_ONLY, T0 - DAY, T0 - DAY, T0}, {PV_STATE_ACTIVE, T0, T0, 0}},
     T0,
     1,
     PV_SCHED_PUBLISH,
     3,
     T0 + 22 * HOUR,
     0},
    {"no active version", DAILY, 0, {{PV_STATE_NEXT, T0, 0, 0}}, T0 + 9 * DAY, 0, PV_SCHED_NONE, 0, 0, 0},
};

static void
test_next_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < PV_NELEM(cases); i++) {
		const struct tcase *c = &cases[i];
		struct pv_key_version vs[4];
		struct pv_key k;
		struct pv_sched_step st;
		int got;

		memset(&k, 0, sizeof(k));
		memset(vs, 0, sizeof(vs));
		snprintf(k.name, sizeof(k.name), "k");
		k.alg = PV_ALG_P256;
		k.purpose = PV_PURPOSE_JWT;
		k.schedule = c->sch;
		k.disabled = c->disabled;
		for (size_t j = 0; j < 4 && c->v[j].st != 0; j++) {
			vs[j].version = (unsigned)j + 1;
			vs[j].state = c->v[j].st;
			vs[j].created = c->v[j].created;
			vs[j].activated = c->v[j].activated;
			vs[j].demoted = c->v[j].demoted;
			vs[j].id_len = 1;
			k.nversions = j + 1;
		}
		k.versions = vs;
		got = pv_key_schedule_next(&k, c->now, &st);
		if (got != c->want || st.kind != c->kind || st.version != c->version || st.at != c->at ||
		    (got && (st.at <= c->now) != c->due))
			fail_msg("case '%s': got %d %s v%u at %lld, want %d %s v%u at %lld (due %d)", c->what,
				 got, pv_sched_kind_name(st.kind), st.version, (long long)st.at, c->want,
				 pv_sched_kind_name(c->kind), c->version, (long long)c->at, c->due);
	}
	assert_string_equal(pv_sched_kind_name(PV_SCHED_PUBLISH), "publish");
	assert_string_equal(pv_sched_kind_name(PV_SCHED_ACTIVATE), "activate");
	assert_string_equal(pv_sched_kind_name(PV_SCHED_RETIRE), "retire");
}

static void
open_ks(p11_token **tok, pv_keystore **ks)
{
	struct p11_token_opts o;

	tu_opts(&T, &o);
	assert_int_equal(p11_token_open(&o, tok), PV_OK);
	assert_int_equal(p11_token_login(*tok), PV_OK);
	assert_int_equal(pv_keystore_new(*tok, ks), PV_OK);
}

static void
set_clock(int64_t off)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", (long long)off);
	assert_int_equal(setenv("P11VAULT_TEST_CLOCK_OFFSET", buf, 1), 0);
}

/* Two processes run name's step at once; the kinds each did, via pipes. */
static void
run_twice(const char *name, enum pv_sched_kind kinds[2], unsigned versions[2])
{
	int fds[2][2];
	pid_t pid[2];

	for (int i = 0; i < 2; i++) {
		assert_int_equal(pipe(fds[i]), 0);
		pid[i] = fork();
		assert_true(pid[i] >= 0);
		if (pid[i] == 0) {
			p11_token *tok = NULL;
			pv_keystore *ks = NULL;
			struct pv_sched_step done = {PV_SCHED_NONE, 0, 0};
			struct p11_token_opts o;
			int rc = 1;

			tu_opts(&T, &o);
			if (p11_token_open(&o, &tok) == PV_OK && p11_token_login(tok) == PV_OK &&
			    pv_keystore_new(tok, &ks) == PV_OK &&
			    pv_keys_schedule_run(ks, name, &done) == PV_OK)
				rc = 0;
			if (write(fds[i][1], &done, sizeof(done)) != (ssize_t)sizeof(done))
				rc = 1;
			_exit(rc);
		}
		close(fds[i][1]);
	}
	for (int i = 0; i < 2; i++) {
		struct pv_sched_step done;
		int status = 0;

		assert_int_equal(read(fds[i][0], &done, sizeof(done)), (ssize_t)sizeof(done));
		close(fds[i][0]);
		assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		kinds[i] = done.kind;
		versions[i] = done.version;
	}
}

/* Exactly one of the two did want (version v); the other found nothing. */
static void
once(enum pv_sched_kind kinds[2], unsigned versions[2], enum pv_sched_kind want, unsigned v)
{
	int did = (kinds[0] == want) + (kinds[1] == want);
	int none = (kinds[0] == PV_SCHED_NONE) + (kinds[1] == PV_SCHED_NONE);

	if (did != 1 || none != 1)
		fail_msg("want one %s and one none, got %s and %s", pv_sched_kind_name(want),
			 pv_sched_kind_name(kinds[0]), pv_sched_kind_name(kinds[1]));
	assert_int_equal(kinds[0] == want ? versions[0] : versions[1], v);
}

static void
test_run_once_across_processes(void **state)
{
	p11_token *tok = NULL;
	pv_keystore *ks = NULL;
	struct pv_key *k = NULL;
	struct pv_key_schedule sch = {DAY, 2 * HOUR, 6 * HOUR};
	enum pv_sched_kind kinds[2];
	unsigned versions[2];
	struct pv_sched_step done;
	int changed = 0;
	int64_t a1;

	(void)state;
	set_clock(0);
	open_ks(&tok, &ks);
	assert_int_equal(pv_keys_create(ks, "sched", PV_ALG_P256, PV_PURPOSE_JWT, NULL), PV_OK);
	assert_int_equal(pv_keys_set_schedule(ks, "sched", &sch, &changed), PV_OK);
	assert_true(changed);
	pv_keystore_flush(ks);
	assert_int_equal(pv_keys_get(ks, "sched", &k), PV_OK);
	assert_int_equal(k->schedule.every, DAY);
	a1 = k->versions[0].activated;
	assert_true(a1 != 0);
	pv_key_free(k);
	/* nothing due yet */
	assert_int_equal(pv_keys_schedule_run(ks, "sched", &done), PV_OK);
	assert_int_equal(done.kind, PV_SCHED_NONE);

	/* publish: 22 h later */
	set_clock(22 * HOUR + 10);
	run_twice("sched", kinds, versions);
	once(kinds, versions, PV_SCHED_PUBLISH, 2);
	/* activate: 24 h after the first activation */
	set_clock(DAY + 10);
	run_twice("sched", kinds, versions);
	once(kinds, versions, PV_SCHED_ACTIVATE, 2);
	pv_keystore_flush(ks);
	assert_int_equal(pv_keys_get(ks, "sched", &k), PV_OK);
	assert_int_equal(k->nversions, 2);
	assert_int_equal(k->versions[0].state, PV_STATE_VERIFY_ONLY);
	assert_int_equal(k->versions[1].state, PV_STATE_ACTIVE);
	/* on time: activated at the due time, not when it was done */
	assert_int_equal(k->versions[1].activated, a1 + DAY);
	assert_true(k->versions[0].demoted >= a1 + DAY);
	pv_key_free(k);
	/* retire: 6 h after the demotion */
	set_clock(DAY + 6 * HOUR + 20);
	run_twice("sched", kinds, versions);
	once(kinds, versions, PV_SCHED_RETIRE, 1);
	/* a missed period: three days on, publish then (publish-ahead
	 * later) activate, activated = now; never a reused number */
	set_clock(4 * DAY);
	run_twice("sched", kinds, versions);
	once(kinds, versions, PV_SCHED_PUBLISH, 3);
	assert_int_equal(pv_keys_schedule_run(ks, "sched", &done), PV_OK);
	assert_int_equal(done.kind, PV_SCHED_NONE); /* publish-ahead not over */
	set_clock(4 * DAY + 2 * HOUR - PV_SCHEDULE_GRACE + 5);
	run_twice("sched", kinds, versions);
	once(kinds, versions, PV_SCHED_ACTIVATE, 3);
	pv_keystore_flush(ks);
	assert_int_equal(pv_keys_get(ks, "sched", &k), PV_OK);
	assert_int_equal(k->nversions, 3);
	assert_int_equal(k->versions[0].state, PV_STATE_RETIRED);
	assert_int_equal(k->versions[1].state, PV_STATE_VERIFY_ONLY);
	assert_int_equal(k->versions[2].state, PV_STATE_ACTIVE);
	assert_true(k->versions[2].activated >= a1 + 4 * DAY + 2 * HOUR - PV_SCHEDULE_GRACE);
	pv_key_free(k);

	/* --off: nothing more happens */
	assert_int_equal(pv_keys_set_schedule(ks, "sched", NULL, &changed), PV_OK);
	assert_true(changed);
	set_clock(30 * DAY);
	assert_int_equal(pv_keys_schedule_run(ks, "sched", &done), PV_OK);
	assert_int_equal(done.kind, PV_SCHED_NONE);
	set_clock(0);
	pv_keystore_free(ks);
	p11_token_close(tok);
}

/* Every manual change keeps activated and demoted (the schedule's inputs). */
static void
test_lifecycle_times(void **state)
{
	p11_token *tok = NULL;
	pv_keystore *ks = NULL;
	struct pv_key *k = NULL;
	struct pv_key_schedule sch = {DAY, 2 * HOUR, 6 * HOUR};
	unsigned v = 0;
	int64_t t;

	(void)state;
	open_ks(&tok, &ks);
	set_clock(1000);
	t = pv_key_clock_now();
	assert_int_equal(pv_keys_create(ks, "times", PV_ALG_P256, PV_PURPOSE_SIGN, NULL), PV_OK);
	/* the times are stored for a key with a schedule only */
	assert_int_equal(pv_keys_set_schedule(ks, "times", &sch, NULL), PV_OK);
	assert_int_equal(pv_keys_create(ks, "plain", PV_ALG_P256, PV_PURPOSE_SIGN, NULL), PV_OK);
	set_clock(2000);
	assert_int_equal(pv_keys_rotate(ks, "plain", 0, &v), PV_OK);
	pv_keystore_flush(ks);
	assert_int_equal(pv_keys_get(ks, "plain", &k), PV_OK);
	assert_int_equal(k->nversions, 2);
	assert_int_equal(k->versions[0].activated, 0);
	assert_int_equal(k->versions[0].demoted, 0);
	assert_int_equal(k->versions[1].activated, 0);
	pv_key_free(k);
	k = NULL;
	assert_int_equal(pv_keys_rotate(ks, "times", 0, &v), PV_OK); /* v2 active at once */
	set_clock(3000);
	assert_int_equal(pv_keys_rotate(ks, "times", 1, &v), PV_OK); /* v3 next */
	set_clock(4000);
	assert_int_equal(pv_keys_activate(ks, "times", 3), PV_OK);
	set_clock(5000);
	assert_int_equal(pv_keys_retire(ks, "times", 1), PV_OK);
	pv_keystore_flush(ks);
	assert_int_equal(pv_keys_get(ks, "times", &k), PV_OK);
	assert_int_equal(k->nversions, 3);
	/* v1: active from creation, demoted by the rotate, retired later */
	assert_true(k->versions[0].activated >= t && k->versions[0].activated <= t + 2);
	assert_true(k->versions[0].demoted >= t + 1000 && k->versions[0].demoted <= t + 1002);
	assert_int_equal(k->versions[0].state, PV_STATE_RETIRED);
	/* v2: active by the rotate, demoted by the activate */
	assert_true(k->versions[1].activated >= t + 1000 && k->versions[1].activated <= t + 1002);
	assert_true(k->versions[1].demoted >= t + 3000 && k->versions[1].demoted <= t + 3002);
	/* v3: next (no activated) until the activate */
	assert_true(k->versions[2].created >= t + 2000 && k->versions[2].created <= t + 2002);
	assert_true(k->versions[2].activated >= t + 3000 && k->versions[2].activated <= t + 3002);
	assert_int_equal(k->versions[2].demoted, 0);
	pv_key_free(k);
	set_clock(0);
	pv_keystore_free(ks);
	p11_token_close(tok);
}

static void
test_set_refusals(void **state)
{
	p11_token *tok = NULL;
	pv_keystore *ks = NULL;
	struct pv_key_schedule sch = {DAY, 2 * HOUR, 6 * HOUR}, bad = {HOUR, HOUR, 0};

	(void)state;
	open_ks(&tok, &ks);
	assert_int_equal(pv_keys_create(ks, "wallet", PV_ALG_ED25519, PV_PURPOSE_SOLANA, NULL), PV_OK);
	assert_int_equal(pv_keys_set_schedule(ks, "wallet", &sch, NULL), PV_ERR_PURPOSE);
	assert_non_null(strstr(pv_err_detail(), "an address change is not a rotation"));
	assert_int_equal(pv_keys_create(ks, "wkey", PV_ALG_AES256, PV_PURPOSE_WRAP, NULL), PV_OK);
	assert_int_equal(pv_keys_set_schedule(ks, "wkey", &bad, NULL), PV_ERR_USAGE);
	assert_int_equal(pv_keys_set_schedule(ks, "wkey", &sch, NULL), PV_OK);
	pv_keystore_free(ks);
	p11_token_close(tok);
}

int
main(void)
{
	const struct CMUnitTest pure[] = {
	    cmocka_unit_test(test_next_table),
	};
	const struct CMUnitTest token[] = {
	    cmocka_unit_test(test_run_once_across_processes),
	    cmocka_unit_test(test_lifecycle_times),
	    cmocka_unit_test(test_set_refusals),
	};
	int r;

	if ((r = cmocka_run_group_tests(pure, NULL, NULL)) != 0)
		return r;
	if (pv_secmem_init() != PV_OK)
		return 1;
	if ((r = tu_make_token(&T, "pvsched")) != 0)
		return r == TU_SKIP ? TU_SKIP : 1;
	r = cmocka_run_group_tests(token, NULL, NULL);
	tu_remove_token(&T);
	return r;
}
