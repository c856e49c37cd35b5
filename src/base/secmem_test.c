/*
 * Guarded memory: single secrets and arenas (allocation, bounds, wipe on
 * free, protection states). A protection state is observed the way an
 * attacker's stray pointer would: a forked child touches the byte and the
 * parent sees whether it faulted.
 */
#include "config.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/secmem.h"

enum { READ, WRITE };

static void
on_fault(int sig)
{
	(void)sig;
	_exit(3);
}

/* 1 when the access works, 0 when it faults. */
static int
access_ok(volatile uint8_t *p, int how)
{
	struct sigaction sa;
	pid_t pid;
	int st = 0;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_fault;
		sigaction(SIGSEGV, &sa, NULL);
		sigaction(SIGBUS, &sa, NULL);
		if (how == READ) {
			uint8_t c = *p;
			(void)c;
		} else {
			*p = 0x5a;
		}
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 1;
	/* the handler's exit, or a plain SIGSEGV if it was not installed */
	assert_true((WIFEXITED(st) && WEXITSTATUS(st) == 3) || (WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV));
	return 0;
}

static void
test_single_secret(void **state)
{
	pv_secret *s = NULL;
	uint8_t *p;

	(void)state;
	assert_int_equal(pv_secret_new(0, &s), PV_ERR_USAGE);
	assert_int_equal(pv_secret_from("pin-1234", 8, &s), PV_OK);
	assert_int_equal(pv_secret_len(s), 8);
	p = pv_secret_rw(s);
	(void)pv_secret_ro(s);
	assert_memory_equal(p, "pin-1234", 8);
	assert_int_equal(access_ok(p, READ), 1);
	assert_int_equal(access_ok(p, WRITE), 0);
	pv_secret_lock(s);
	assert_int_equal(access_ok(p, READ), 0);
	assert_int_equal(pv_secret_append(s, "x", 1), PV_ERR_TOO_LARGE);
	pv_secret_free(s);
	pv_secret_free(NULL);
}

static void
test_arena_alloc_bounds(void **state)
{
	pv_secret_arena *a = NULL;
	pv_secret *s1 = NULL, *s2 = NULL, *s3 = NULL;

	(void)state;
	assert_int_equal(pv_secret_arena_new(0, &a), PV_ERR_USAGE);
	assert_null(a);
	assert_int_equal(pv_secret_arena_new(10, &a), PV_OK);
	assert_int_equal(pv_secret_arena_cap(a), 10);
	assert_int_equal(pv_secret_arena_used(a), 0);
	assert_int_equal(pv_secret_arena_alloc(a, 0, &s1), PV_ERR_USAGE);
	assert_int_equal(pv_secret_arena_alloc(a, 11, &s1), PV_ERR_TOO_LARGE);
	assert_null(s1);
	assert_int_equal(pv_secret_arena_alloc(a, 4, &s1), PV_OK);
	assert_int_equal(pv_secret_arena_alloc(a, 6, &s2), PV_OK);
	assert_int_equal(pv_secret_arena_used(a), 10);
	/* full: not even one byte more */
	assert_int_equal(pv_secret_arena_alloc(a, 1, &s3), PV_ERR_TOO_LARGE);
	assert_null(s3);
	assert_int_equal(pv_secret_cap(s1), 4);
	assert_int_equal(pv_secret_len(s1), 0);
	/* slices are adjacent and each stays within its own capacity */
	assert_ptr_equal(pv_secret_rw(s2), pv_secret_rw(s1) + 4);
	assert_int_equal(pv_secret_append(s1, "abcd", 4), PV_OK);
	assert_int_equal(pv_secret_append(s1, "e", 1), PV_ERR_TOO_LARGE);
	assert_int_equal(pv_secret_set_len(s1, 5), PV_ERR_TOO_LARGE);
	assert_int_equal(pv_secret_append(s2, "uvwxyz", 6), PV_OK);
	assert_memory_equal(pv_secret_ro(s1), "abcd", 4);
	assert_memory_equal(pv_secret_ro(s2), "uvwxyz", 6);
	/* a freed slice's room is not handed out again */
	pv_secret_free(s1);
	assert_int_equal(pv_secret_arena_alloc(a, 1, &s3), PV_ERR_TOO_LARGE);
	pv_secret_arena_free(a);
	/* the owner is gone; the last slice still holds its value */
	assert_memory_equal(pv_secret_ro(s2), "uvwxyz", 6);
	pv_secret_free(s2); /* the region goes with it (ASan: no leak) */

	/* an arena without slices goes at once */
	assert_int_equal(pv_secret_arena_new(1, &a), PV_OK);
	pv_secret_arena_free(a);
	pv_secret_arena_free(NULL);
	pv_secret_arena_lock(NULL);
}

static void
test_arena_protection(void **state)
{
	pv_secret_arena *a = NULL;
	pv_secret *s1 = NULL, *s2 = NULL;
	uint8_t *p1, *p2;

	(void)state;
	assert_int_equal(pv_secret_arena_new(64, &a), PV_OK);
	assert_int_equal(pv_secret_arena_alloc(a, 32, &s1), PV_OK);
	assert_int_equal(pv_secret_arena_alloc(a, 32, &s2), PV_OK);
	p1 = pv_secret_rw(s1);
	p2 = pv_secret_rw(s2);
	/* new: read-write */
	assert_int_equal(access_ok(p1, WRITE), 1);
	pv_secret_arena_lock(a);
	assert_int_equal(access_ok(p1, READ), 0);
	assert_int_equal(access_ok(p2, READ), 0);
	/* one slice made readable: the region is (the documented trade-off) */
	(void)pv_secret_ro(s1);
	assert_int_equal(access_ok(p1, READ), 1);
	assert_int_equal(access_ok(p2, READ), 1);
	assert_int_equal(access_ok(p1, WRITE), 0);
	(void)pv_secret_rw(s2);
	assert_int_equal(access_ok(p1, WRITE), 1);
	pv_secret_lock(s2);
	assert_int_equal(access_ok(p1, READ), 0);
	assert_int_equal(access_ok(p2, READ), 0);
	/* freeing a slice of a locked arena leaves it locked */
	pv_secret_free(s1);
	assert_int_equal(access_ok(p2, READ), 0);
	/* the owner letting go locks the region too */
	(void)pv_secret_ro(s2);
	pv_secret_arena_free(a);
	assert_int_equal(access_ok(p2, READ), 0);
	pv_secret_free(s2);
}

static void
test_arena_wipe_on_free(void **state)
{
	static const uint8_t zero[16] = {0};
	pv_secret_arena *a = NULL;
	pv_secret *s[4] = {NULL, NULL, NULL, NULL}, *keep = NULL, *solo = NULL;
	uint8_t *p[4];
	size_t i;

	(void)state;
	assert_int_equal(pv_secret_arena_new(16 * 5, &a), PV_OK);
	for (i = 0; i < 4; i++) {
		assert_int_equal(pv_secret_arena_alloc(a, 16, &s[i]), PV_OK);
		p[i] = pv_secret_rw(s[i]);
		assert_int_equal(pv_secret_append(s[i], "sixteen-bytes-xx", 16), PV_OK);
	}
	assert_int_equal(pv_secret_arena_alloc(a, 16, &keep), PV_OK);
	assert_int_equal(pv_secret_append(keep, "kept-value-16byt", 16), PV_OK);
	pv_secret_arena_free(a);

	/* one slice: wiped at once, the rest of the region untouched */
	pv_secret_free(s[0]);
	(void)pv_secret_ro(keep);
	assert_memory_equal(p[0], zero, 16);
	assert_memory_equal(p[1], "sixteen-bytes-xx", 16);

	/* several at once, with a single secret among them, from a locked arena */
	pv_secret_lock(keep);
	assert_int_equal(pv_secret_from("solo", 4, &solo), PV_OK);
	{
		pv_secret *const batch[] = {s[1], solo, NULL, s[2], s[3]};
		pv_secret_free_n(batch, 5);
	}
	/* still locked for the slice that lives on */
	assert_int_equal(access_ok(p[1], READ), 0);
	(void)pv_secret_ro(keep);
	for (i = 1; i < 4; i++)
		assert_memory_equal(p[i], zero, 16);
	assert_memory_equal(pv_secret_ro(keep), "kept-value-16byt", 16);
	pv_secret_lock(keep);

	/* the last slice in a batch takes the region with it */
	{
		pv_secret *const last[] = {keep};
		pv_secret_free_n(last, 1);
	}
	pv_secret_free_n(NULL, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_single_secret),
	    cmocka_unit_test(test_arena_alloc_bounds),
	    cmocka_unit_test(test_arena_protection),
	    cmocka_unit_test(test_arena_wipe_on_free),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
