#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "base/secmem.h"
#include "bundle/input.h"
#include "bundle/kv.h"
#include "bundle/output.h"

/* Expect the list to hold exactly these name/value pairs, in this order. */
struct pair {
	const char *name;
	const char *value;
};

static void
assert_value(pv_secret *s, const void *want, size_t len)
{
	assert_int_equal(pv_secret_len(s), len);
	if (len > 0)
		assert_memory_equal(pv_secret_ro(s), want, len);
	pv_secret_lock(s);
}

static void
assert_pairs(const struct pv_kvlist *l, const struct pair *p, size_t n)
{
	size_t i;

	assert_int_equal(l->n, n);
	for (i = 0; i < n; i++) {
		assert_string_equal(l->items[i].name, p[i].name);
		assert_value(l->items[i].value, p[i].value, strlen(p[i].value));
	}
}

static pv_err
parse_str(const char *text, struct pv_kvlist *l)
{
	pv_kvlist_init(l);
	return pv_dotenv_parse((const uint8_t *)text, strlen(text), l);
}

/* ---- names and the list ---- */

static void
test_entry_names(void **state)
{
	char longname[130];

	assert_true(pv_entry_name_valid(PV_ENTRY_ENV, "A"));
	assert_true(pv_entry_name_valid(PV_ENTRY_ENV, "_a9"));
	assert_false(pv_entry_name_valid(PV_ENTRY_ENV, "9a"));
	assert_false(pv_entry_name_valid(PV_ENTRY_ENV, "A-B"));
	assert_false(pv_entry_name_valid(PV_ENTRY_ENV, "A.B"));
	assert_false(pv_entry_name_valid(PV_ENTRY_ENV, ""));
	assert_false(pv_entry_name_valid(PV_ENTRY_ENV, NULL));
	assert_true(pv_entry_name_valid(PV_ENTRY_FILE, "tls.key"));
	assert_true(pv_entry_name_valid(PV_ENTRY_FILE, "9-x_y.z"));
	assert_true(pv_entry_name_valid(PV_ENTRY_FILE, "_x"));
	assert_false(pv_entry_name_valid(PV_ENTRY_FILE, ".hidden"));
	assert_false(pv_entry_name_valid(PV_ENTRY_FILE, "-x"));
	assert_false(pv_entry_name_valid(PV_ENTRY_FILE, "a/b"));
	assert_false(pv_entry_name_valid(PV_ENTRY_FILE, "a b"));
	assert_true(pv_entry_name_valid(PV_ENTRY_PRIVATE_KEY, "wallet-1_a"));
	assert_false(pv_entry_name_valid(PV_ENTRY_PRIVATE_KEY, "_wallet"));
	assert_false(pv_entry_name_valid(PV_ENTRY_PRIVATE_KEY, "a.b"));
	assert_false(pv_entry_name_valid(99, "A"));

	memset(longname, 'A', sizeof(longname));
	longname[128] = '\0';
	assert_true(pv_entry_name_valid(PV_ENTRY_ENV, longname));
	assert_true(pv_entry_name_valid(PV_ENTRY_FILE, longname));
	assert_false(pv_entry_name_valid(PV_ENTRY_PRIVATE_KEY, longname));
	longname[64] = '\0';
	assert_true(pv_entry_name_valid(PV_ENTRY_PRIVATE_KEY, longname));
	longname[65] = '\0';
	longname[64] = 'A';
	assert_false(pv_entry_name_valid(PV_ENTRY_PRIVATE_KEY, longname));
	memset(longname, 'A', sizeof(longname));
	longname[129] = '\0';
	assert_false(pv_entry_name_valid(PV_ENTRY_ENV, longname));
	assert_false(pv_entry_name_valid(PV_ENTRY_FILE, longname));
}

static pv_secret *
secret(const char *s)
{
	pv_secret *v = NULL;

	assert_int_equal(pv_secret_from(s, strlen(s), &v), PV_OK);
	return v;
}

static void
test_kvlist(void **state)
{
	struct pv_kvlist l;

	pv_kvlist_init(&l);
	assert_int_equal(pv_kvlist_add(&l, "b", PV_ENTRY_ENV, secret("2")), PV_OK);
	assert_int_equal(pv_kvlist_add(&l, "B", PV_ENTRY_ENV, secret("1")), PV_OK);
	assert_int_equal(pv_kvlist_add(&l, "a.txt", PV_ENTRY_FILE, secret("3")), PV_OK);
	/* one namespace across kinds */
	assert_int_equal(pv_kvlist_add(&l, "B", PV_ENTRY_FILE, secret("x")), PV_ERR_BAD_INPUT);
	assert_non_null(strstr(pv_err_detail(), "duplicate name B"));
	assert_int_equal(pv_kvlist_add(&l, "a.txt", PV_ENTRY_ENV, secret("x")), PV_ERR_BAD_INPUT);
	assert_int_equal(pv_kvlist_add(&l, "k", PV_ENTRY_PRIVATE_KEY, secret("x")), PV_ERR_USAGE);
	assert_int_equal(pv_kvlist_add(&l, "k", PV_ENTRY_ENV, NULL), PV_ERR_USAGE);
	assert_int_equal(l.n, 3);
	assert_non_null(pv_kvlist_find(&l, "a.txt"));
	assert_null(pv_kvlist_find(&l, "A"));
	pv_kvlist_sort(&l);
	assert_string_equal(l.items[0].name, "B");
	assert_string_equal(l.items[1].name, "a.txt");
	assert_string_equal(l.items[2].name, "b");
	assert_value(l.items[0].value, "1", 1);
	pv_kvlist_free(&l);
	assert_int_equal(l.n, 0);
	assert_null(l.items);
	pv_kvlist_free(&l);
}

static void
test_kvlist_limit(void **state)
{
	struct pv_kvlist l;
	char name[16];
	int i;

	pv_kvlist_init(&l);
	for (i = 0; i < PV_KV_MAX_ENTRIES; i++) {
		snprintf(name, sizeof(name), "V%d", i);
		assert_int_equal(pv_kvlist_add(&l, name, PV_ENTRY_ENV, secret("")), PV_OK);
	}
	assert_int_equal(pv_kvlist_add(&l, "ONE_MORE", PV_ENTRY_ENV, secret("")), PV_ERR_TOO_LARGE);
	pv_kvlist_free(&l);
}

/* ---- guarded reads ---- */

static int
pipe_with(const void *data, size_t len)
{
	int fds[2];
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		_exit(write(fds[1], data, len) == (ssize_t)len ? 0 : 1);
	}
	close(fds[1]);
	return fds[0];
}

static void
reap(void)
{
	int st;

	while (wait(&st) > 0)
		;
}

static void
test_secret_read(void **state)
{
	size_t n = 10000, i;
	uint8_t *data = malloc(n);
	pv_secret *s = NULL;
	char path[] = "/tmp/pv-io-XXXXXX";
	int fd;

	assert_non_null(data);
	for (i = 0; i < n; i++)
		data[i] = (uint8_t)(i * 7);
	/* grows past the first chunk; exactly max is fine */
	fd = pipe_with(data, n);
	assert_int_equal(pv_secret_read_fd(fd, n, &s), PV_OK);
	close(fd);
	reap();
	assert_value(s, data, n);
	pv_secret_free(s);
	/* one byte over */
	fd = pipe_with(data, n);
	assert_int_equal(pv_secret_read_fd(fd, n - 1, &s), PV_ERR_TOO_LARGE);
	assert_null(s);
	close(fd);
	reap();
	/* empty, and max 0 */
	fd = pipe_with(data, 0);
	assert_int_equal(pv_secret_read_fd(fd, 0, &s), PV_OK);
	close(fd);
	reap();
	assert_int_equal(pv_secret_len(s), 0);
	pv_secret_free(s);
	fd = pipe_with(data, 1);
	assert_int_equal(pv_secret_read_fd(fd, 0, &s), PV_ERR_TOO_LARGE);
	close(fd);
	reap();
	assert_int_equal(pv_secret_read_fd(-1, 10, &s), PV_ERR_IO);

	assert_true((fd = mkstemp(path)) >= 0);
	assert_int_equal(write(fd, data, 5000), 5000);
	close(fd);
	assert_int_equal(pv_secret_read_file(path, 5000, &s), PV_OK);
	assert_value(s, data, 5000);
	pv_secret_free(s);
	assert_int_equal(pv_secret_read_file(path, 4999, &s), PV_ERR_TOO_LARGE);
	unlink(path);
	assert_int_equal(pv_secret_read_file(path, 10, &s), PV_ERR_NOT_FOUND);
	/* "-" is a file name like any other here */
	assert_int_equal(pv_secret_read_file("-", 10, &s), PV_ERR_NOT_FOUND);
	free(data);
}

/* ---- dotenv ---- */

struct dotenv_ok {
	const char *in;
	struct pair want[3];
	size_t n;
};

static const struct dotenv_ok dotenv_ok_cases[] = {
    {"A=b", {{"A", "b"}}, 1},
    {"A=b\n", {{"A", "b"}}, 1},
    {"export A=b\n", {{"A", "b"}}, 1},
    {"  export \t A  =  b c  \n", {{"A", "b c"}}, 1},
    {"export=1\n", {{"export", "1"}}, 1},
    {"export =1\n", {{"export", "1"}}, 1},
    {"A=b # comment\n", {{"A", "b"}}, 1},
    {"A=b\t# comment\n", {{"A", "b"}}, 1},
    {"A=b#c\n", {{"A", "b#c"}}, 1},
    {"A=#c\n", {{"A", "#c"}}, 1},
    {"A= #c\n", {{"A", ""}}, 1},
    {"A=\n", {{"A", ""}}, 1},
    {"A=it's \"so\" $HOME\n", {{"A", "it's \"so\" $HOME"}}, 1},
    {"# comment\n\n   \n\t\nA=1\n  # x=y\n#B=2", {{"A", "1"}}, 1},
    {"A='x\\ny $Z \"q\"'\n", {{"A", "x\\ny $Z \"q\""}}, 1},
    {"A='multi\nline'\nB=2\n", {{"A", "multi\nline"}, {"B", "2"}}, 2},
    {"A=\"a\\nb\\tc\\\"d\\\\e\\$f\\qg\\r\"", {{"A", "a\nb\tc\"d\\e$f\\qg\r"}}, 1},
    {"A=\"l1\r\nl2\"\r\nB=2\r\n", {{"A", "l1\nl2"}, {"B", "2"}}, 2},
    {"A='l1\r\nl2'\r\n", {{"A", "l1\nl2"}}, 1},
    {"A=\"x\" # c\nB='y'\t#c\nC=\"z\"#c", {{"A", "x"}, {"B", "y"}, {"C", "z"}}, 3},
    {"A=\"#not a comment\"\n", {{"A", "#not a comment"}}, 1},
    {"A = 'v' \n", {{"A", "v"}}, 1},
    {"A=\"\"\nB=''\n", {{"A", ""}, {"B", ""}}, 2},
    {"\xef\xbb\xbf"
     "A=1\n",
     {{"A", "1"}},
     1},
    {"A=1\r", {{"A", "1"}}, 1},
    {"A=1 \r\n", {{"A", "1"}}, 1},
    {"A=x\ty\n", {{"A", "x\ty"}}, 1},
    {"A=x\ry\n", {{"A", "x\ry"}}, 1},
    {"A=\"\\\n\"", {{"A", "\\\n"}}, 1},
    {"", {{NULL, NULL}}, 0},
    {"\n\r\n# only comments\r\n", {{NULL, NULL}}, 0},
};

static void
test_dotenv_ok(void **state)
{
	struct pv_kvlist l;
	size_t i;

	for (i = 0; i < PV_NELEM(dotenv_ok_cases); i++) {
		const struct dotenv_ok *c = &dotenv_ok_cases[i];

		print_message("dotenv case %zu\n", i);
		assert_int_equal(parse_str(c->in, &l), PV_OK);
		assert_pairs(&l, c->want, c->n);
		assert_int_equal(l.items == NULL || l.items[0].kind == PV_ENTRY_ENV, 1);
		pv_kvlist_free(&l);
	}
}

struct dotenv_bad {
	const char *in;
	pv_err err;
	const char *detail;
};

static const struct dotenv_bad dotenv_bad_cases[] = {
    {"A=1\nB='SECRET\n", PV_ERR_BAD_INPUT, "line 2: unterminated single quote"},
    {"A=1\n\nC=\"SECRET\n\n", PV_ERR_BAD_INPUT, "line 3: unterminated double quote"},
    {"C=\"SECRET\\\"", PV_ERR_BAD_INPUT, "line 1: unterminated double quote"},
    {"A=1\nB=\"SECRET\" y\n", PV_ERR_BAD_INPUT, "line 2: unexpected characters after the closing quote"},
    {"A=1\nB='SE\nCRET' z\n", PV_ERR_BAD_INPUT, "line 3: unexpected characters after the closing quote"},
    {"_a1=\"SECRET\"\"\n", PV_ERR_BAD_INPUT, "line 1: unexpected characters"},
    {"B='SECRET''s'\n", PV_ERR_BAD_INPUT, "line 1: unexpected characters"},
    {"1A=SECRET", PV_ERR_BAD_INPUT, "line 1: invalid variable name"},
    {"\n\nA-B=SECRET", PV_ERR_BAD_INPUT, "line 3: invalid variable name"},
    {"=SECRET", PV_ERR_BAD_INPUT, "line 1: invalid variable name"},
    {"A=1\nSECRET\n", PV_ERR_BAD_INPUT, "line 2: expected NAME=value"},
    {"A=1\nSECRET VALUE\n", PV_ERR_BAD_INPUT, "line 2: expected NAME=value"},
    {"export\n", PV_ERR_BAD_INPUT, "line 1: expected NAME=value"},
    {"export A\n", PV_ERR_BAD_INPUT, "line 1: expected NAME=value"},
    {"A: SECRET\n", PV_ERR_BAD_INPUT, "line 1: expected NAME=value"},
    {"A=1\r\nB=2\r\nA=SECRET\r\n", PV_ERR_BAD_INPUT, "line 3: duplicate name A"},
    {"A='x\ny'\nA=SECRET\n", PV_ERR_BAD_INPUT, "line 3: duplicate name A"},
};

static void
test_dotenv_errors(void **state)
{
	struct pv_kvlist l;
	size_t i;

	for (i = 0; i < PV_NELEM(dotenv_bad_cases); i++) {
		const struct dotenv_bad *c = &dotenv_bad_cases[i];

		print_message("dotenv error case %zu\n", i);
		pv_err_clear_detail();
		assert_int_equal(parse_str(c->in, &l), c->err);
		assert_non_null(strstr(pv_err_detail(), c->detail));
		/* never the value */
		assert_null(strstr(pv_err_detail(), "SECRET"));
		pv_kvlist_free(&l);
	}
}

static void
test_dotenv_limits(void **state)
{
	static const char nul[] = "A=1\nB=x\0y\n";
	struct pv_kvlist l;
	size_t big = ((size_t)1 << 20) + 1;
	char *text = malloc(big + 16), name[140];

	assert_non_null(text);
	pv_kvlist_init(&l);
	assert_int_equal(pv_dotenv_parse((const uint8_t *)nul, sizeof(nul) - 1, &l), PV_ERR_BAD_INPUT);
	assert_non_null(strstr(pv_err_detail(), "line 2: NUL"));
	pv_kvlist_free(&l);

	/* 1 MiB is the largest value, quoted or not */
	memcpy(text, "A=\"", 3);
	memset(text + 3, 'x', big);
	memcpy(text + 3 + big, "\"\n", 3);
	assert_int_equal(parse_str(text, &l), PV_ERR_TOO_LARGE);
	pv_kvlist_free(&l);
	memcpy(text + 3 + big - 1, "\"\n", 3); /* exactly 1 MiB */
	assert_int_equal(parse_str(text, &l), PV_OK);
	assert_int_equal(pv_secret_len(l.items[0].value), big - 1);
	pv_kvlist_free(&l);
	memcpy(text, "A=", 2);
	memset(text + 2, 'x', big);
	text[2 + big] = '\0';
	assert_int_equal(parse_str(text, &l), PV_ERR_TOO_LARGE);
	pv_kvlist_free(&l);

	/* a name of 128 bytes is fine, 129 is not */
	memset(name, 'N', 128);
	memcpy(name + 128, "=v", 3);
	assert_int_equal(parse_str(name, &l), PV_OK);
	pv_kvlist_free(&l);
	memset(name, 'N', 129);
	memcpy(name + 129, "=v", 3);
	assert_int_equal(parse_str(name, &l), PV_ERR_BAD_INPUT);
	pv_kvlist_free(&l);
	free(text);
}

static void
test_dotenv_too_many(void **state)
{
	size_t cap = (PV_KV_MAX_ENTRIES + 1) * 16, off = 0;
	char *text = malloc(cap);
	struct pv_kvlist l;
	int i;

	assert_non_null(text);
	for (i = 0; i <= PV_KV_MAX_ENTRIES; i++)
		off += (size_t)snprintf(text + off, cap - off, "V%d=%d\n", i, i);
	assert_int_equal(parse_str(text, &l), PV_ERR_TOO_LARGE);
	assert_non_null(strstr(pv_err_detail(), "line 10001: more than 10000 entries"));
	pv_kvlist_free(&l);
	free(text);
}

/* ---- JSON object input ---- */

static pv_err
json_str(const char *text, struct pv_kvlist *l)
{
	pv_kvlist_init(l);
	return pv_jsonobj_parse((const uint8_t *)text, strlen(text), l);
}

static void
test_json_input(void **state)
{
	static const struct pair want[] = {{"B", "two\nlines \"q\" \xc3\xa9"}, {"A", ""}, {"_c", "\\u0000"}};
	static const struct {
		const char *in;
		const char *detail;
	} bad[] = {
	    {"{\"A\": 1}", "A: value is not a string"},
	    {"{\"A\": null}", "A: value is not a string"},
	    {"{\"A\": [\"SECRET\"]}", "A: value is not a string"},
	    {"{\"A\": {\"x\": \"SECRET\"}}", "A: value is not a string"},
	    {"{\"A\": \"1\", \"A\": \"SECRET\"}", "duplicate name A"},
	    {"{\"A\": \"1\", \"9x\": \"SECRET\"}", "member 2: not a valid env name"},
	    {"{\"a.b\": \"SECRET\"}", "member 1: not a valid env name"},
	    {"{\"A\": \"SE\\u0000CRET\"}", "NUL"},
	    {"{\"A\": \"SECRET\"} x", "not valid JSON"},
	    {"{\"A\": \"SECRET\"", "not valid JSON"},
	    {"[\"SECRET\"]", "one object"},
	    {"\"SECRET\"", "one object"},
	    {"", "not valid JSON"},
	};
	static const char nul[] = "{\"A\": \"x\"}\0 {";
	struct pv_kvlist l;
	size_t i;

	assert_int_equal(
	    json_str("{\"B\": \"two\\nlines \\\"q\\\" \\u00e9\", \"A\": \"\", \"_c\": \"\\\\u0000\"}", &l),
	    PV_OK);
	assert_pairs(&l, want, PV_NELEM(want));
	pv_kvlist_free(&l);
	assert_int_equal(json_str(" {} \n", &l), PV_OK);
	assert_int_equal(l.n, 0);
	pv_kvlist_free(&l);

	for (i = 0; i < PV_NELEM(bad); i++) {
		print_message("json error case %zu\n", i);
		pv_err_clear_detail();
		assert_int_equal(json_str(bad[i].in, &l), PV_ERR_BAD_INPUT);
		assert_non_null(strstr(pv_err_detail(), bad[i].detail));
		assert_null(strstr(pv_err_detail(), "SECRET"));
		pv_kvlist_free(&l);
	}
	pv_kvlist_init(&l);
	assert_int_equal(pv_jsonobj_parse((const uint8_t *)nul, sizeof(nul) - 1, &l), PV_ERR_BAD_INPUT);
	pv_kvlist_free(&l);
}

/* ---- directory input ---- */

static void
write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_true((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void
rm_rf(const char *dir)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void
test_dir_input(void **state)
{
	static const uint8_t bin[] = {0, 1, 2, 0xff, '\n'};
	char dir[] = "/tmp/pv-dir-XXXXXX", path[512], target[512];
	struct pv_kvlist l;
	size_t big = ((size_t)1 << 20) + 1;
	char *zeros = calloc(1, big);

	assert_non_null(zeros);
	assert_non_null(mkdtemp(dir));
	write_file(dir, "tls.key", bin, sizeof(bin));
	write_file(dir, "A_B", "x", 1);
	write_file(dir, "empty", "", 0);
	write_file(dir, ".hidden", "skipped", 7);
	pv_kvlist_init(&l);
	assert_int_equal(pv_dir_read(dir, &l), PV_OK);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.items[0].name, "A_B");
	assert_string_equal(l.items[1].name, "empty");
	assert_string_equal(l.items[2].name, "tls.key");
	assert_int_equal(l.items[2].kind, PV_ENTRY_FILE);
	assert_value(l.items[2].value, bin, sizeof(bin));
	assert_value(l.items[1].value, "", 0);
	pv_kvlist_free(&l);

	/* a symlink is refused, even one to a good file in the same dir */
	snprintf(path, sizeof(path), "%s/link", dir);
	snprintf(target, sizeof(target), "%s/A_B", dir);
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(pv_dir_read(dir, &l), PV_ERR_BAD_INPUT);
	assert_non_null(strstr(pv_err_detail(), "link: a symbolic link"));
	pv_kvlist_free(&l);
	unlink(path);

	snprintf(path, sizeof(path), "%s/sub", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(pv_dir_read(dir, &l), PV_ERR_BAD_INPUT);
	assert_non_null(strstr(pv_err_detail(), "sub: a subdirectory"));
	pv_kvlist_free(&l);
	rmdir(path);

	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(pv_dir_read(dir, &l), PV_ERR_BAD_INPUT);
	assert_non_null(strstr(pv_err_detail(), "fifo: not a regular file"));
	pv_kvlist_free(&l);
	unlink(path);

	write_file(dir, "bad name", "x", 1);
	assert_int_equal(pv_dir_read(dir, &l), PV_ERR_BAD_INPUT);
	assert_non_null(strstr(pv_err_detail(), "bad name: not a valid file entry name"));
	pv_kvlist_free(&l);
	snprintf(path, sizeof(path), "%s/bad name", dir);
	unlink(path);

	write_file(dir, "big", zeros, big);
	assert_int_equal(pv_dir_read(dir, &l), PV_ERR_TOO_LARGE);
	assert_non_null(strstr(pv_err_detail(), "big: larger than 1 MiB"));
	pv_kvlist_free(&l);
	write_file(dir, "big", zeros, big - 1);
	assert_int_equal(pv_dir_read(dir, &l), PV_OK);
	assert_int_equal(l.n, 4);
	pv_kvlist_free(&l);

	rm_rf(dir);
	assert_int_equal(pv_dir_read(dir, &l), PV_ERR_NOT_FOUND);
	pv_kvlist_free(&l);
	free(zeros);
}

/* ---- output ---- */

/* Values no format may lose: quotes, $, backslashes, #, newlines, blanks. */
static const char *const tricky[] = {
    "plain",
    "",
    "with space  ",
    "  leading",
    "multi\nline\n",
    "\n",
    "quote ' single ''",
    "dq \" double",
    "$HOME ${X} $(id) `id` \\$",
    "back\\slash\\n not a newline \\",
    "# hash",
    "a #b",
    "\r\n crlf \r",
    "\t tab",
    "=",
    "export X=1",
    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
    "\x01\x02\x1f\x7f ctl",
};

static void
make_list(struct pv_kvlist *l, int extra_binary)
{
	static const char bin[] = "\xff\x81\xc3(";
	char name[32];
	size_t i;

	pv_kvlist_init(l);
	/* added in reverse so that output order is visibly sorted */
	for (i = PV_NELEM(tricky); i-- > 0;) {
		snprintf(name, sizeof(name), "V%02zu", i);
		assert_int_equal(pv_kvlist_add(l, name, PV_ENTRY_ENV, secret(tricky[i])), PV_OK);
	}
	if (extra_binary)
		assert_int_equal(pv_kvlist_add(l, "BIN", PV_ENTRY_ENV, secret(bin)), PV_OK);
}

static void
test_dotenv_round_trip(void **state)
{
	struct pv_kvlist l, back;
	pv_secret *text = NULL;
	size_t i;

	make_list(&l, 1);
	assert_int_equal(pv_output_format(PV_OUT_DOTENV, &l, &text), PV_OK);
	pv_kvlist_init(&back);
	assert_int_equal(pv_dotenv_parse(pv_secret_ro(text), pv_secret_len(text), &back), PV_OK);
	assert_int_equal(back.n, l.n);
	/* sorted by name: BIN first, then V00... */
	assert_string_equal(back.items[0].name, "BIN");
	for (i = 1; i < back.n; i++) {
		struct pv_kv *orig = pv_kvlist_find(&l, back.items[i].name);

		assert_true(strcmp(back.items[i - 1].name, back.items[i].name) < 0);
		assert_non_null(orig);
		assert_value(back.items[i].value, pv_secret_ro(orig->value), pv_secret_len(orig->value));
	}
	assert_memory_equal(pv_secret_ro(text), "BIN=\"\xff\x81\xc3(\"\nV00=\"plain\"\nV01=\"\"\n", 30);
	pv_secret_free(text);
	pv_kvlist_free(&back);
	pv_kvlist_free(&l);
}

/* Source the env output with /bin/sh and print one variable. */
static void
sh_print(const char *dir, const char *name, uint8_t *buf, size_t cap, size_t *len)
{
	char script[256];
	int fds[2], st;
	ssize_t n;
	pid_t pid;

	snprintf(script, sizeof(script), ". ./out.env; printf %%s \"$%s\"", name);
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (chdir(dir) != 0 || dup2(fds[1], 1) < 0)
			_exit(127);
		close(fds[0]);
		close(fds[1]);
		execl("/bin/sh", "sh", "-c", script, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	*len = 0;
	while ((n = read(fds[0], buf + *len, cap - *len)) > 0)
		*len += (size_t)n;
	close(fds[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void
test_env_sourced_by_sh(void **state)
{
	char dir[] = "/tmp/pv-env-XXXXXX";
	struct pv_kvlist l;
	pv_secret *text = NULL;
	uint8_t got[256];
	size_t i, n;

	make_list(&l, 1);
	assert_int_equal(pv_output_format(PV_OUT_ENV, &l, &text), PV_OK);
	assert_memory_equal(pv_secret_ro(text), "export BIN='", 12);
	assert_non_null(mkdtemp(dir));
	write_file(dir, "out.env", pv_secret_ro(text), pv_secret_len(text));
	for (i = 0; i < l.n; i++) {
		print_message("sh: %s\n", l.items[i].name);
		sh_print(dir, l.items[i].name, got, sizeof(got), &n);
		assert_value(l.items[i].value, got, n);
	}
	rm_rf(dir);
	pv_secret_free(text);
	pv_kvlist_free(&l);
}

static void
test_json_output(void **state)
{
	struct pv_kvlist l;
	pv_secret *text = NULL;
	cJSON *root, *m;
	char *copy;
	size_t i;

	make_list(&l, 0);
	assert_int_equal(pv_kvlist_add(&l, "tls.crt", PV_ENTRY_FILE, secret("PEM\n")), PV_OK);
	assert_int_equal(pv_output_format(PV_OUT_JSON, &l, &text), PV_OK);
	copy = calloc(1, pv_secret_len(text) + 1);
	assert_non_null(copy);
	memcpy(copy, pv_secret_ro(text), pv_secret_len(text));
	assert_non_null(strstr(copy, "\"V17\": \"\\u0001\\u0002\\u001f\x7f ctl\""));
	assert_non_null(strstr(copy, "\"V12\": \"\\r\\n crlf \\r\""));
	root = cJSON_Parse(copy);
	assert_non_null(root);
	assert_true(cJSON_IsObject(root));
	assert_int_equal(cJSON_GetArraySize(root), (int)l.n);
	m = root->child;
	for (i = 0; m != NULL; m = m->next, i++) {
		struct pv_kv *orig = pv_kvlist_find(&l, m->string);

		if (i > 0)
			assert_true(strcmp(m->prev->string, m->string) < 0);
		assert_non_null(orig);
		assert_true(cJSON_IsString(m));
		assert_value(orig->value, m->valuestring, strlen(m->valuestring));
	}
	cJSON_Delete(root);
	free(copy);
	pv_secret_free(text);
	pv_kvlist_free(&l);

	/* empty list */
	pv_kvlist_init(&l);
	assert_int_equal(pv_output_format(PV_OUT_JSON, &l, &text), PV_OK);
	assert_value(text, "{}\n", 3);
	pv_secret_free(text);
	assert_int_equal(pv_output_format(PV_OUT_ENV, &l, &text), PV_OK);
	assert_int_equal(pv_secret_len(text), 0);
	pv_secret_free(text);
}

static void
test_output_refusals(void **state)
{
	static const char *const not_utf8[] = {
	    "\xff", "\xc3(", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82"};
	struct pv_kvlist l;
	pv_secret *text = NULL, *v = NULL;
	size_t i;

	for (i = 0; i < PV_NELEM(not_utf8); i++) {
		pv_kvlist_init(&l);
		assert_int_equal(pv_kvlist_add(&l, "BAD", PV_ENTRY_ENV, secret(not_utf8[i])), PV_OK);
		assert_int_equal(pv_output_format(PV_OUT_JSON, &l, &text), PV_ERR_BAD_INPUT);
		assert_null(text);
		assert_non_null(strstr(pv_err_detail(), "BAD: value is not UTF-8"));
		assert_non_null(strstr(pv_err_detail(), "--out-dir"));
		pv_kvlist_free(&l);
	}

	pv_kvlist_init(&l);
	assert_int_equal(pv_secret_from("a\0b", 3, &v), PV_OK);
	assert_int_equal(pv_kvlist_add(&l, "NUL", PV_ENTRY_ENV, v), PV_OK);
	assert_int_equal(pv_output_format(PV_OUT_ENV, &l, &text), PV_ERR_BAD_INPUT);
	assert_non_null(strstr(pv_err_detail(), "NUL: value holds a NUL byte"));
	assert_int_equal(pv_output_format(PV_OUT_DOTENV, &l, &text), PV_ERR_BAD_INPUT);
	/* JSON can carry it */
	assert_int_equal(pv_output_format(PV_OUT_JSON, &l, &text), PV_OK);
	assert_value(text, "{\n  \"NUL\": \"a\\u0000b\"\n}\n", 24);
	pv_secret_free(text);
	pv_kvlist_free(&l);

	pv_kvlist_init(&l);
	assert_int_equal(pv_kvlist_add(&l, "tls.key", PV_ENTRY_FILE, secret("k")), PV_OK);
	assert_int_equal(pv_output_format(PV_OUT_ENV, &l, &text), PV_ERR_BAD_INPUT);
	assert_non_null(strstr(pv_err_detail(), "tls.key: a file entry"));
	assert_int_equal(pv_output_format(PV_OUT_DOTENV, &l, &text), PV_ERR_BAD_INPUT);
	assert_int_equal(pv_output_format((enum pv_out_format)42, &l, &text), PV_ERR_USAGE);
	pv_kvlist_free(&l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_entry_names),       cmocka_unit_test(test_kvlist),
	    cmocka_unit_test(test_kvlist_limit),      cmocka_unit_test(test_secret_read),
	    cmocka_unit_test(test_dotenv_ok),         cmocka_unit_test(test_dotenv_errors),
	    cmocka_unit_test(test_dotenv_limits),     cmocka_unit_test(test_dotenv_too_many),
	    cmocka_unit_test(test_json_input),        cmocka_unit_test(test_dir_input),
	    cmocka_unit_test(test_dotenv_round_trip), cmocka_unit_test(test_env_sourced_by_sh),
	    cmocka_unit_test(test_json_output),       cmocka_unit_test(test_output_refusals),
	};

	if (pv_secmem_init() != PV_OK)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
