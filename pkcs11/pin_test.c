/* PIN sources: file (mode, type, owner and directory checks), env (wiped),
 * fd, cred, URI, refusals. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/secmem.h"
#include "pkcs11/pin.h"
#include "pkcs11/testutil.h"
#include "pkcs11/token.h"

static char dir[64];

static void
path_in(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static void
assert_secret(pv_secret *s, const char *want)
{
	assert_non_null(s);
	assert_int_equal(pv_secret_len(s), strlen(want));
	assert_memory_equal(pv_secret_ro(s), want, strlen(want));
	pv_secret_lock(s);
}

static void
test_file(void **state)
{
	char path[128], src[160];
	pv_secret *s = NULL;

	(void)state;
	path_in(path, sizeof(path), "pin");
	assert_int_equal(tu_write_file(path, "1234-abcd\n", 0600), 0);
	snprintf(src, sizeof(src), "file:%s", path);
	assert_int_equal(p11_pin_read(src, 0, NULL, &s), PV_OK);
	assert_secret(s, "1234-abcd"); /* one trailing newline stripped */
	pv_secret_free(s);
	s = NULL;

	/* Only one newline goes; CRLF counts as one. */
	assert_int_equal(tu_write_file(path, "x y\r\n", 0400), 0);
	assert_int_equal(p11_pin_read(path, 0, NULL, &s), PV_OK); /* bare absolute path */
	assert_secret(s, "x y");
	pv_secret_free(s);
	s = NULL;
}

static void
test_file_mode_refused(void **state)
{
	char path[128], src[160];
	pv_secret *s = NULL;

	(void)state;
	path_in(path, sizeof(path), "pin-wide");
	snprintf(src, sizeof(src), "file:%s", path);
	assert_int_equal(tu_write_file(path, "1234\n", 0644), 0);
	assert_int_equal(p11_pin_read(src, 0, NULL, &s), PV_ERR_PIN_SOURCE);
	assert_null(s);
	assert_non_null(strstr(pv_err_detail(), "chmod 600"));
	assert_int_equal(tu_write_file(path, "1234\n", 0640), 0);
	assert_int_equal(p11_pin_read(src, 0, NULL, &s), PV_ERR_PIN_SOURCE);
	assert_int_equal(tu_write_file(path, "1234\n", 0604), 0);
	assert_int_equal(p11_pin_read(src, 0, NULL, &s), PV_ERR_PIN_SOURCE);
}

/* Not a regular file: refused at once. A FIFO with no writer would block a
 * plain open forever; the alarm turns such a hang into a failure. */
static void
test_file_not_regular(void **state)
{
	char path[128], src[160];
	pv_secret *s = NULL;

	(void)state;
	path_in(path, sizeof(path), "pin-fifo");
	assert_int_equal(mkfifo(path, 0600), 0);
	snprintf(src, sizeof(src), "file:%s", path);
	alarm(20);
	assert_int_equal(p11_pin_read(src, 0, NULL, &s), PV_ERR_PIN_SOURCE);
	alarm(0);
	assert_null(s);
	assert_non_null(strstr(pv_err_detail(), "not a regular file"));
	unlink(path);
	assert_int_equal(p11_pin_read("file:/dev/null", 0, NULL, &s), PV_ERR_PIN_SOURCE);
	assert_non_null(strstr(pv_err_detail(), "not a regular file"));
	snprintf(src, sizeof(src), "file:%s", dir);
	assert_int_equal(p11_pin_read(src, 0, NULL, &s), PV_ERR_PIN_SOURCE);
	assert_null(s);
}

/* Owned by this user or root only; not in a directory others can write
 * unless it is sticky (as /tmp is). */
static void
test_file_owner_and_dir(void **state)
{
	char sub[128], path[160], src[180];
	pv_secret *s = NULL;

	(void)state;
	path_in(sub, sizeof(sub), "shared");
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(path, sizeof(path), "%s/pin", sub);
	snprintf(src, sizeof(src), "file:%s", path);
	assert_int_equal(tu_write_file(path, "1234\n", 0600), 0);
	assert_int_equal(p11_pin_read(src, 0, NULL, &s), PV_OK);
	pv_secret_free(s);
	s = NULL;
	/* world-writable, not sticky: refused, naming the file and the reason */
	assert_int_equal(chmod(sub, 0777), 0);
	assert_int_equal(p11_pin_read(src, 0, NULL, &s), PV_ERR_PIN_SOURCE);
	assert_null(s);
	assert_non_null(strstr(pv_err_detail(), path));
	assert_non_null(strstr(pv_err_detail(), "without the sticky bit"));
	assert_int_equal(chmod(sub, 0770), 0);
	assert_int_equal(p11_pin_read(src, 0, NULL, &s), PV_ERR_PIN_SOURCE);
	/* sticky: others cannot replace the file */
	assert_int_equal(chmod(sub, 01777), 0);
	assert_int_equal(p11_pin_read(src, 0, NULL, &s), PV_OK);
	pv_secret_free(s);
	s = NULL;
	assert_int_equal(chmod(sub, 0700), 0);
	/* another owner (root only can give a file away) */
	if (geteuid() == 0) {
		assert_int_equal(chown(path, 65534, (gid_t)-1), 0);
		assert_int_equal(p11_pin_read(src, 0, NULL, &s), PV_ERR_PIN_SOURCE);
		assert_null(s);
		assert_non_null(strstr(pv_err_detail(), "owned by uid 65534"));
		/* owned by root is fine for any user */
		assert_int_equal(chown(path, 0, (gid_t)-1), 0);
		assert_int_equal(p11_pin_read(src, 0, NULL, &s), PV_OK);
		pv_secret_free(s);
	}
	unlink(path);
	rmdir(sub);
}

static void
test_file_missing_empty_long(void **state)
{
	char path[128], src[160], big[400];
	pv_secret *s = NULL;

	(void)state;
	path_in(path, sizeof(path), "nope");
	snprintf(src, sizeof(src), "file:%s", path);
	assert_int_equal(p11_pin_read(src, 0, NULL, &s), PV_ERR_PIN_SOURCE);
	assert_null(s);

	path_in(path, sizeof(path), "empty");
	snprintf(src, sizeof(src), "file:%s", path);
	assert_int_equal(tu_write_file(path, "\n", 0600), 0);
	assert_int_equal(p11_pin_read(src, 0, NULL, &s), PV_ERR_PIN_SOURCE);

	/* 256 bytes is the limit; 257 is refused. */
	memset(big, 'p', 256);
	big[256] = '\n';
	big[257] = '\0';
	path_in(path, sizeof(path), "max");
	snprintf(src, sizeof(src), "file:%s", path);
	assert_int_equal(tu_write_file(path, big, 0600), 0);
	assert_int_equal(p11_pin_read(src, 0, NULL, &s), PV_OK);
	assert_int_equal(pv_secret_len(s), 256);
	pv_secret_free(s);
	s = NULL;
	memset(big, 'p', 257);
	big[257] = '\0';
	assert_int_equal(tu_write_file(path, big, 0600), 0);
	assert_int_equal(p11_pin_read(src, 0, NULL, &s), PV_ERR_PIN_SOURCE);
	assert_null(s);
}

static void
test_env_wiped(void **state)
{
	pv_secret *s = NULL;
	char *old;
	size_t n;

	(void)state;
	assert_int_equal(setenv("PV_TEST_PIN", "env-pin-4711", 1), 0);
	old = getenv("PV_TEST_PIN");
	n = strlen(old);
	assert_int_equal(p11_pin_read("env:PV_TEST_PIN", 0, NULL, &s), PV_OK);
	assert_secret(s, "env-pin-4711");
	pv_secret_free(s);
	s = NULL;
	assert_null(getenv("PV_TEST_PIN"));
	/* glibc keeps setenv() strings alive: the value itself must be zeroed. */
	for (size_t i = 0; i < n; i++)
		assert_int_equal(old[i], 0);
	/* Now unset: a clear error. */
	assert_int_equal(p11_pin_read("env:PV_TEST_PIN", 0, NULL, &s), PV_ERR_PIN_SOURCE);
}

static void
test_fd(void **state)
{
	pv_secret *s = NULL;
	char src[32];
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "fd-pin\n", 7), 7);
	close(p[1]);
	snprintf(src, sizeof(src), "fd:%d", p[0]);
	assert_int_equal(p11_pin_read(src, 0, NULL, &s), PV_OK);
	assert_secret(s, "fd-pin");
	pv_secret_free(s);
	s = NULL;
	/* The descriptor is consumed (closed). */
	assert_int_equal(p11_pin_read(src, 0, NULL, &s), PV_ERR_PIN_SOURCE);
	assert_int_equal(p11_pin_read("fd:x1", 0, NULL, &s), PV_ERR_USAGE);
	assert_int_equal(p11_pin_read("fd:-1", 0, NULL, &s), PV_ERR_USAGE);
}

static void
test_cred(void **state)
{
	char path[128];
	pv_secret *s = NULL;

	(void)state;
	path_in(path, sizeof(path), "tokpin");
	assert_int_equal(tu_write_file(path, "cred-pin", 0400), 0);
	unsetenv("CREDENTIALS_DIRECTORY");
	assert_int_equal(p11_pin_read("cred:tokpin", 0, NULL, &s), PV_ERR_PIN_SOURCE);
	assert_int_equal(setenv("CREDENTIALS_DIRECTORY", dir, 1), 0);
	assert_int_equal(p11_pin_read("cred:tokpin", 0, NULL, &s), PV_OK);
	assert_secret(s, "cred-pin");
	pv_secret_free(s);
	s = NULL;
	assert_int_equal(p11_pin_read("cred:../etc/passwd", 0, NULL, &s), PV_ERR_USAGE);
	assert_int_equal(p11_pin_read("cred:missing", 0, NULL, &s), PV_ERR_PIN_SOURCE);

	/* Default chain: $CREDENTIALS_DIRECTORY/p11vault-pin. */
	path_in(path, sizeof(path), "p11vault-pin");
	assert_int_equal(tu_write_file(path, "default-cred\n", 0600), 0);
	assert_int_equal(p11_pin_resolve(NULL, NULL, 0, NULL, &s), PV_OK);
	assert_secret(s, "default-cred");
	pv_secret_free(s);
	s = NULL;
	unlink(path);
	unsetenv("CREDENTIALS_DIRECTORY");
	/* Nothing configured, no prompt allowed: a clear refusal. */
	assert_int_equal(p11_pin_resolve(NULL, NULL, 0, NULL, &s), PV_ERR_PIN_SOURCE);
	assert_null(s);
}

static void
test_uri_pin_source(void **state)
{
	char path[128], src[160];
	pv_secret *s = NULL;

	(void)state;
	path_in(path, sizeof(path), "uripin");
	assert_int_equal(tu_write_file(path, "uri-pin\n", 0600), 0);
	snprintf(src, sizeof(src), "file:%s", path);
	/* The URI's pin-source is used when no explicit source is set... */
	assert_int_equal(p11_pin_resolve(NULL, src, 0, NULL, &s), PV_OK);
	assert_secret(s, "uri-pin");
	pv_secret_free(s);
	s = NULL;
	/* ...and an explicit source wins over it. */
	assert_int_equal(setenv("PV_TEST_PIN2", "explicit", 1), 0);
	assert_int_equal(p11_pin_resolve("env:PV_TEST_PIN2", src, 0, NULL, &s), PV_OK);
	assert_secret(s, "explicit");
	pv_secret_free(s);
}

static void
test_refusals(void **state)
{
	struct p11_token_opts o;
	p11_token *tok = NULL;
	pv_secret *s = NULL;

	(void)state;
	assert_int_equal(p11_pin_read("prompt", 0, NULL, &s), PV_ERR_PIN_SOURCE);
	assert_int_equal(p11_pin_read("1234", 0, NULL, &s), PV_ERR_USAGE);
	/* The error detail must not echo a source that may be a PIN. */
	assert_null(strstr(pv_err_detail(), "1234"));
	assert_int_equal(p11_pin_read("", 0, NULL, &s), PV_ERR_USAGE);
	assert_null(s);

	/* pin-value in a URI is refused before any module is touched. */
	memset(&o, 0, sizeof(o));
	o.module = "/nonexistent/module.so";
	o.token_uri = "pkcs11:token=x?pin-value=1234";
	assert_int_equal(p11_token_open(&o, &tok), PV_ERR_USAGE);
	assert_null(tok);
	assert_null(strstr(pv_err_detail(), "1234"));
	o.token_uri = "pkcs11:token=x?pin-source=file:/dev/null";
	assert_int_equal(p11_token_open(&o, &tok), PV_ERR_MODULE_LOAD);
	o.token_uri = "http://example.com/";
	assert_int_equal(p11_token_open(&o, &tok), PV_ERR_USAGE);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/pvpin.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_file),
	    cmocka_unit_test(test_file_mode_refused),
	    cmocka_unit_test(test_file_not_regular),
	    cmocka_unit_test(test_file_owner_and_dir),
	    cmocka_unit_test(test_file_missing_empty_long),
	    cmocka_unit_test(test_env_wiped),
	    cmocka_unit_test(test_fd),
	    cmocka_unit_test(test_cred),
	    cmocka_unit_test(test_uri_pin_source),
	    cmocka_unit_test(test_refusals),
	};

	if (pv_secmem_init() != PV_OK)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
