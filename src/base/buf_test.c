/* The bounded buffer: limits, read/write verbs, views, DER TLVs, files. */
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

#include <fcntl.h>

#include <cmocka.h>

#include "base/buf.h"

static void
test_new_limits(void **state)
{
	pv_buf *b = NULL;

	(void)state;
	assert_int_equal(pv_buf_new(0, &b), PV_ERR_USAGE);
	assert_null(b);
	assert_int_equal(pv_buf_new(PV_BUF_SIZE_MAX + 1, &b), PV_ERR_USAGE);
	assert_null(b);
	assert_int_equal(pv_buf_new(PV_BUF_SIZE_MAX, &b), PV_OK);
	assert_int_equal(pv_buf_len(b), 0);
	/* an empty buffer still points somewhere */
	assert_non_null(pv_buf_ptr(b));
	pv_buf_free(b);
	pv_buf_free(NULL);
}

/* Puts stop at max exactly; a failed put changes nothing. */
static void
test_put_max(void **state)
{
	pv_buf *b = NULL;
	uint8_t *dst = NULL;

	(void)state;
	assert_int_equal(pv_buf_new(5, &b), PV_OK);
	assert_int_equal(pv_buf_put_cstr(b, "abc"), PV_OK);
	assert_int_equal(pv_buf_put(b, "def", 3), PV_ERR_TOO_LARGE);
	assert_int_equal(pv_buf_len(b), 3);
	assert_int_equal(pv_buf_put_u8(b, 'd'), PV_OK);
	assert_int_equal(pv_buf_reserve(b, 2, &dst), PV_ERR_TOO_LARGE);
	assert_null(dst);
	assert_int_equal(pv_buf_reserve(b, 1, &dst), PV_OK);
	*dst = 'e';
	assert_int_equal(pv_buf_len(b), 5);
	assert_memory_equal(pv_buf_ptr(b), "abcde", 5);
	assert_int_equal(pv_buf_put_u8(b, 'f'), PV_ERR_TOO_LARGE);
	/* nothing is a no-op even when full */
	assert_int_equal(pv_buf_put(b, NULL, 0), PV_OK);
	/* a reset buffer takes max bytes again */
	pv_buf_reset(b);
	assert_int_equal(pv_buf_len(b), 0);
	assert_int_equal(pv_buf_put(b, "12345", 5), PV_OK);
	pv_buf_free(b);
}

/* Growth past the first allocation keeps the contents. */
static void
test_grow(void **state)
{
	uint8_t block[1000];
	pv_buf *b = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(block); i++)
		block[i] = (uint8_t)(i * 7);
	assert_int_equal(pv_buf_new(10 * sizeof(block), &b), PV_OK);
	for (i = 0; i < 10; i++)
		assert_int_equal(pv_buf_put(b, block, sizeof(block)), PV_OK);
	assert_int_equal(pv_buf_len(b), 10 * sizeof(block));
	for (i = 0; i < 10; i++)
		assert_memory_equal(pv_buf_ptr(b) + i * sizeof(block), block, sizeof(block));
	assert_int_equal(pv_buf_put_u8(b, 0), PV_ERR_TOO_LARGE);
	pv_buf_free(b);
}

/* Reads never go past the end, and a refused read consumes nothing. */
static void
test_get(void **state)
{
	static const uint8_t data[] = {1, 2, 3, 4, 5};
	pv_buf *b = NULL;
	const uint8_t *p = NULL;
	uint8_t out[8], v = 0;

	(void)state;
	assert_int_equal(pv_buf_view(data, sizeof(data), &b), PV_OK);
	assert_int_equal(pv_buf_peek_u8(b, &v), PV_OK);
	assert_int_equal(v, 1);
	assert_int_equal(pv_buf_get_u8(b, &v), PV_OK);
	assert_int_equal(v, 1);
	assert_int_equal(pv_buf_get(b, out, 5), PV_ERR_BAD_INPUT);
	assert_int_equal(pv_buf_len(b), 4);
	assert_int_equal(pv_buf_get(b, out, 2), PV_OK);
	assert_memory_equal(out, "\x02\x03", 2);
	assert_int_equal(pv_buf_get_ref(b, 3, &p), PV_ERR_BAD_INPUT);
	assert_null(p);
	assert_int_equal(pv_buf_get_ref(b, 1, &p), PV_OK);
	assert_int_equal(*p, 4);
	assert_int_equal(pv_buf_consume(b, 2), PV_ERR_BAD_INPUT);
	assert_int_equal(pv_buf_consume(b, 1), PV_OK);
	assert_int_equal(pv_buf_len(b), 0);
	assert_int_equal(pv_buf_get_u8(b, &v), PV_ERR_BAD_INPUT);
	assert_int_equal(pv_buf_peek_u8(b, &v), PV_ERR_BAD_INPUT);
	assert_int_equal(pv_buf_get(b, out, 0), PV_OK);
	/* reset on a view rewinds it */
	pv_buf_reset(b);
	assert_int_equal(pv_buf_len(b), sizeof(data));
	pv_buf_free(b);
}

/* A view reads caller memory in place and refuses writes. */
static void
test_view(void **state)
{
	char text[] = "view";
	pv_buf *b = NULL;
	uint8_t *dst = NULL;

	(void)state;
	assert_int_equal(pv_buf_view(NULL, 1, &b), PV_ERR_USAGE);
	assert_null(b);
	assert_int_equal(pv_buf_view(text, PV_BUF_SIZE_MAX + 1, &b), PV_ERR_USAGE);
	assert_int_equal(pv_buf_view(text, 4, &b), PV_OK);
	assert_ptr_equal(pv_buf_ptr(b), text);
	assert_int_equal(pv_buf_put(b, "x", 1), PV_ERR_USAGE);
	assert_int_equal(pv_buf_put(b, "", 0), PV_ERR_USAGE);
	assert_int_equal(pv_buf_reserve(b, 1, &dst), PV_ERR_USAGE);
	assert_string_equal(text, "view");
	pv_buf_free(b);
	assert_int_equal(pv_buf_view(NULL, 0, &b), PV_OK);
	assert_int_equal(pv_buf_len(b), 0);
	pv_buf_free(b);
}

static void
der_ok(const uint8_t *d, size_t n, uint8_t tag, size_t want_len, size_t want_left)
{
	pv_buf *b = NULL;
	const uint8_t *val = NULL;
	size_t len = 0;

	assert_int_equal(pv_buf_view(d, n, &b), PV_OK);
	assert_int_equal(pv_buf_get_der(b, tag, &val, &len), PV_OK);
	assert_int_equal(len, want_len);
	assert_ptr_equal(val, d + n - want_left - want_len);
	assert_int_equal(pv_buf_len(b), want_left);
	pv_buf_free(b);
}

static void
der_bad(const uint8_t *d, size_t n, uint8_t tag)
{
	pv_buf *b = NULL;
	const uint8_t *val = NULL;
	size_t len = 7;

	assert_int_equal(pv_buf_view(d, n, &b), PV_OK);
	assert_int_equal(pv_buf_get_der(b, tag, &val, &len), PV_ERR_BAD_INPUT);
	assert_null(val);
	assert_int_equal(len, 0);
	/* the read offset is restored */
	assert_int_equal(pv_buf_len(b), n);
	pv_buf_free(b);
}

static void
test_der(void **state)
{
	static const uint8_t short_form[] = {0x04, 0x02, 0xaa, 0xbb, 0xcc};
	static const uint8_t empty[] = {0x05, 0x00};
	static const uint8_t wrong_tag[] = {0x02, 0x01, 0x00};
	static const uint8_t too_long[] = {0x04, 0x03, 0xaa, 0xbb};
	static const uint8_t indefinite[] = {0x30, 0x80, 0x00, 0x00};
	static const uint8_t long_for_short[] = {0x04, 0x81, 0x05, 1, 2, 3, 4, 5};
	static const uint8_t leading_zero[] = {0x04, 0x82, 0x00, 0x81};
	static const uint8_t five_len_bytes[] = {0x04, 0x85, 0x01, 0x00, 0x00, 0x00, 0x00};
	static const uint8_t no_len[] = {0x04};
	uint8_t long_form[3 + 200];

	(void)state;
	der_ok(short_form, sizeof(short_form), 0x04, 2, 1);
	der_ok(empty, sizeof(empty), 0x05, 0, 0);
	memset(long_form, 0x11, sizeof(long_form));
	long_form[0] = 0x04;
	long_form[1] = 0x81;
	long_form[2] = 200;
	der_ok(long_form, sizeof(long_form), 0x04, 200, 0);
	der_bad(wrong_tag, sizeof(wrong_tag), 0x04);
	der_bad(too_long, sizeof(too_long), 0x04);
	der_bad(indefinite, sizeof(indefinite), 0x30);
	der_bad(long_for_short, sizeof(long_for_short), 0x04);
	der_bad(leading_zero, sizeof(leading_zero), 0x04);
	der_bad(five_len_bytes, sizeof(five_len_bytes), 0x04);
	der_bad(no_len, sizeof(no_len), 0x04);
}

static void
test_read_file(void **state)
{
	char path[] = "/tmp/pv-buf-test-XXXXXX";
	pv_buf *b = NULL;
	int fd;

	(void)state;
	assert_true((fd = mkstemp(path)) >= 0);
	assert_int_equal(write(fd, "0123456789", 10), 10);
	close(fd);
	assert_int_equal(pv_buf_read_file(path, 10, &b), PV_OK);
	assert_int_equal(pv_buf_len(b), 10);
	assert_memory_equal(pv_buf_ptr(b), "0123456789", 10);
	pv_buf_free(b);
	b = NULL;
	/* one byte over the limit is refused, not cut */
	assert_int_equal(pv_buf_read_file(path, 9, &b), PV_ERR_TOO_LARGE);
	assert_null(b);
	unlink(path);
	assert_int_equal(pv_buf_read_file(path, 10, &b), PV_ERR_NOT_FOUND);
	assert_null(b);
}

/* A FIFO (with no writer: a plain open would block forever), a directory
 * and a symbolic link under O_NOFOLLOW are refused at once, naming the
 * path; a regular file opens. */
static void
test_open_regular(void **state)
{
	char dir[] = "/tmp/buf_test.XXXXXX", fifo[64], file[64], link[64];
	pv_buf *b = NULL;
	struct stat st;
	int fd = -1;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	snprintf(file, sizeof(file), "%s/file", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_true((fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0600)) >= 0);
	close(fd);
	assert_int_equal(symlink(file, link), 0);

	assert_int_equal(pv_open_regular(fifo, 0, &fd, NULL), PV_ERR_USAGE);
	assert_int_equal(fd, -1);
	assert_non_null(strstr(pv_err_detail(), "a FIFO, not a regular file"));
	assert_non_null(strstr(pv_err_detail(), fifo));
	assert_int_equal(pv_buf_read_file(fifo, 10, &b), PV_ERR_USAGE);
	assert_null(b);
	assert_int_equal(pv_open_regular(dir, 0, &fd, NULL), PV_ERR_USAGE);
	assert_non_null(strstr(pv_err_detail(), "a directory"));
	assert_int_equal(pv_open_regular("/dev/null", 0, &fd, NULL), PV_ERR_USAGE);
	assert_non_null(strstr(pv_err_detail(), "a character device"));
	assert_int_equal(pv_open_regular(link, O_NOFOLLOW, &fd, NULL), PV_ERR_USAGE);
	assert_non_null(strstr(pv_err_detail(), "symbolic link"));
	assert_int_equal(pv_open_regular(link, 0, &fd, &st), PV_OK);
	assert_true(fd >= 0 && S_ISREG(st.st_mode));
	close(fd);

	unlink(link);
	unlink(file);
	unlink(fifo);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_new_limits), cmocka_unit_test(test_put_max),
	    cmocka_unit_test(test_grow),       cmocka_unit_test(test_get),
	    cmocka_unit_test(test_view),       cmocka_unit_test(test_der),
	    cmocka_unit_test(test_read_file),  cmocka_unit_test(test_open_regular),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
