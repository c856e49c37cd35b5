#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "deliver.h"

static char tmpdir[64];

static int
setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/pv-deliver-XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "chmod -R u+w '%s'; rm -rf '%s'", tmpdir, tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
path_in(char *buf, size_t cap, const char *a, const char *b)
{
	snprintf(buf, cap, "%s/%s", a, b);
}

static void
assert_file(const char *path, const char *want, mode_t mode)
{
	char buf[256];
	struct stat st;
	ssize_t n;
	int fd;

	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, mode);
	assert_true((fd = open(path, O_RDONLY)) >= 0);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	assert_int_equal(n, (ssize_t)strlen(want));
	assert_memory_equal(buf, want, (size_t)n);
}

/* Number of directory entries other than . and .. (temp files included). */
static int
count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

static void
test_atomic_write(void **state)
{
	char target[128];
	mode_t old;

	path_in(target, sizeof(target), tmpdir, "out.env");
	assert_int_equal(deliver_file_atomic(target, (const uint8_t *)"one", 3, 0600), PV_OK);
	assert_file(target, "one", 0600);
	assert_int_equal(deliver_file_atomic(target, (const uint8_t *)"second", 6, 0600), PV_OK);
	assert_file(target, "second", 0600);
	assert_int_equal(count_entries(tmpdir), 1);
	/* the mode is exact whatever the umask */
	old = umask(0077);
	assert_int_equal(deliver_file_atomic(target, (const uint8_t *)"x", 1, 0644), PV_OK);
	assert_file(target, "x", 0644);
	umask(0);
	assert_int_equal(deliver_file_atomic(target, (const uint8_t *)"y", 1, 0600), PV_OK);
	assert_file(target, "y", 0600);
	umask(old);
	/* a symlink at the target is replaced, not followed */
	assert_int_equal(unlink(target), 0);
	assert_int_equal(symlink("/etc/passwd", target), 0);
	assert_int_equal(deliver_file_atomic(target, (const uint8_t *)"z", 1, 0600), PV_OK);
	assert_file(target, "z", 0600);
	assert_int_equal(unlink(target), 0);
	assert_int_equal(count_entries(tmpdir), 0);
}

static void
test_atomic_failures(void **state)
{
	static uint8_t big[65536];
	struct rlimit saved, small;
	char target[128], sub[128], inner[160];
	void (*old)(int);

	path_in(target, sizeof(target), tmpdir, "out.env");
	assert_int_equal(deliver_file_atomic(target, (const uint8_t *)"old", 3, 0600), PV_OK);

	/* the write fails half-way (file size limit): target untouched, no temp */
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
	small = saved;
	small.rlim_cur = 4096;
	old = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	assert_int_equal(deliver_file_atomic(target, big, sizeof(big), 0600), PV_ERR_IO);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
	signal(SIGXFSZ, old);
	assert_file(target, "old", 0600);
	assert_int_equal(count_entries(tmpdir), 1);

	/* the rename fails (a non-empty directory is in the way): no temp left */
	path_in(sub, sizeof(sub), tmpdir, "dir");
	assert_int_equal(mkdir(sub, 0700), 0);
	path_in(inner, sizeof(inner), sub, "keep");
	assert_int_equal(deliver_file_atomic(inner, (const uint8_t *)"k", 1, 0600), PV_OK);
	assert_int_equal(deliver_file_atomic(sub, (const uint8_t *)"new", 3, 0600), PV_ERR_IO);
	assert_int_equal(count_entries(tmpdir), 2);
	assert_int_equal(count_entries(sub), 1);

	/* no such directory: nothing created */
	path_in(inner, sizeof(inner), tmpdir, "missing/out.env");
	assert_int_equal(deliver_file_atomic(inner, (const uint8_t *)"x", 1, 0600), PV_ERR_IO);
	assert_int_equal(count_entries(tmpdir), 2);
	assert_int_equal(deliver_file_atomic("", (const uint8_t *)"x", 1, 0600), PV_ERR_USAGE);
	path_in(inner, sizeof(inner), tmpdir, "");
	assert_int_equal(deliver_file_atomic(inner, (const uint8_t *)"x", 1, 0600), PV_ERR_USAGE);

	/* a directory we cannot write (only meaningful when not root) */
	if (geteuid() != 0) {
		assert_int_equal(chmod(tmpdir, 0500), 0);
		assert_int_equal(deliver_file_atomic(target, (const uint8_t *)"new", 3, 0600), PV_ERR_IO);
		assert_int_equal(chmod(tmpdir, 0700), 0);
		assert_file(target, "old", 0600);
	}
}

static pv_secret *
secret(const char *s)
{
	pv_secret *v = NULL;

	assert_int_equal(pv_secret_from(s, strlen(s), &v), PV_OK);
	return v;
}

static void
test_out_dir(void **state)
{
	struct pv_kvlist l;
	char dir[128], path[160];
	struct statfs sfs;
	int not_ram = -1;

	path_in(dir, sizeof(dir), tmpdir, "out");
	assert_int_equal(mkdir(dir, 0700), 0);
	pv_kvlist_init(&l);
	assert_int_equal(pv_kvlist_add(&l, "API_KEY", PV_ENTRY_ENV, secret("k1\n")), PV_OK);
	assert_int_equal(pv_kvlist_add(&l, "tls.key", PV_ENTRY_FILE, secret("PEM")), PV_OK);
	assert_int_equal(deliver_out_dir(dir, &l, &not_ram), PV_OK);
	path_in(path, sizeof(path), dir, "API_KEY");
	assert_file(path, "k1\n", 0400);
	path_in(path, sizeof(path), dir, "tls.key");
	assert_file(path, "PEM", 0400);
	assert_int_equal(statfs(dir, &sfs), 0);
	assert_int_equal(not_ram, sfs.f_type != TMPFS_MAGIC && sfs.f_type != RAMFS_MAGIC);
	/* again: replaces the read-only files of the first run */
	pv_kvlist_free(&l);
	pv_kvlist_init(&l);
	assert_int_equal(pv_kvlist_add(&l, "tls.key", PV_ENTRY_FILE, secret("PEM2")), PV_OK);
	assert_int_equal(deliver_out_dir(dir, &l, NULL), PV_OK);
	assert_file(path, "PEM2", 0400);
	assert_int_equal(count_entries(dir), 2);

	/* tmpfs is RAM */
	if (statfs("/dev/shm", &sfs) == 0 && sfs.f_type == TMPFS_MAGIC && access("/dev/shm", W_OK) == 0) {
		char shm[] = "/dev/shm/pv-deliver-XXXXXX";

		assert_non_null(mkdtemp(shm));
		not_ram = -1;
		assert_int_equal(deliver_out_dir(shm, &l, &not_ram), PV_OK);
		assert_int_equal(not_ram, 0);
		path_in(path, sizeof(path), shm, "tls.key");
		assert_int_equal(unlink(path), 0);
		assert_int_equal(rmdir(shm), 0);
	}

	/* refusals */
	path_in(path, sizeof(path), tmpdir, "nope");
	assert_int_equal(deliver_out_dir(path, &l, NULL), PV_ERR_USAGE);
	assert_non_null(strstr(pv_err_detail(), "no such directory"));
	path_in(path, sizeof(path), dir, "tls.key");
	assert_int_equal(deliver_out_dir(path, &l, NULL), PV_ERR_USAGE);
	assert_non_null(strstr(pv_err_detail(), "not a directory"));
	assert_int_equal(chmod(dir, 0770), 0);
	assert_int_equal(deliver_out_dir(dir, &l, NULL), PV_ERR_USAGE);
	assert_non_null(strstr(pv_err_detail(), "writable by group or others"));
	assert_int_equal(chmod(dir, 0702), 0);
	assert_int_equal(deliver_out_dir(dir, &l, NULL), PV_ERR_USAGE);
	assert_int_equal(chmod(dir, 0700), 0);
	if (geteuid() == 0) {
		assert_int_equal(chown(dir, 12345, 12345), 0);
		assert_int_equal(deliver_out_dir(dir, &l, NULL), PV_ERR_USAGE);
		assert_non_null(strstr(pv_err_detail(), "owned by uid 12345"));
		assert_int_equal(chown(dir, 0, 0), 0);
	}
	/* names that would leave DIR, even if something upstream let them in */
	snprintf(l.items[0].name, sizeof(l.items[0].name), "%s", "../x");
	assert_int_equal(deliver_out_dir(dir, &l, NULL), PV_ERR_BAD_INPUT);
	snprintf(l.items[0].name, sizeof(l.items[0].name), "%s", "a/b");
	assert_int_equal(deliver_out_dir(dir, &l, NULL), PV_ERR_BAD_INPUT);
	snprintf(l.items[0].name, sizeof(l.items[0].name), "%s", ".x");
	assert_int_equal(deliver_out_dir(dir, &l, NULL), PV_ERR_BAD_INPUT);
	assert_int_equal(count_entries(dir), 2);
	assert_int_equal(count_entries(tmpdir), 1);
	pv_kvlist_free(&l);
}

/* The value of NAME in the plan's environment, or NULL; fails on a repeat. */
static const char *
plan_get(const struct deliver_plan *p, const char *name)
{
	const char *found = NULL;
	size_t i, n = strlen(name);

	assert_null(p->envp[p->nenv]);
	for (i = 0; i < p->nenv; i++) {
		if (strncmp(p->envp[i], name, n) == 0 && p->envp[i][n] == '=') {
			assert_null(found);
			found = p->envp[i] + n + 1;
		}
	}
	return found;
}

static void
make_env_list(struct pv_kvlist *l)
{
	pv_kvlist_init(l);
	assert_int_equal(pv_kvlist_add(l, "PV_T_X", PV_ENTRY_ENV, secret("bundle-x")), PV_OK);
	assert_int_equal(pv_kvlist_add(l, "PV_T_Y", PV_ENTRY_ENV, secret("bundle y\nline 2")), PV_OK);
}

static void
test_exec_plan(void **state)
{
	struct deliver_exec_opts o = {0, 0, NULL};
	struct deliver_plan p;
	struct pv_kvlist l;
	char dir[128], path[160], *abs;
	pv_secret *v = NULL;

	assert_int_equal(setenv("PV_T_X", "from-env", 1), 0);
	assert_int_equal(setenv("PATH", "/usr/bin:/bin", 1), 0);
	unsetenv("PV_T_Y");
	unsetenv("CREDENTIALS_DIRECTORY");
	make_env_list(&l);

	/* default: what the environment already has wins (emergency override) */
	assert_int_equal(deliver_exec_plan(&o, &l, &p), PV_OK);
	assert_int_equal(p.loaded, 1);
	assert_int_equal(p.kept, 1);
	assert_string_equal(p.kept_names[0], "PV_T_X");
	assert_string_equal(plan_get(&p, "PV_T_X"), "from-env");
	assert_string_equal(plan_get(&p, "PV_T_Y"), "bundle y\nline 2");
	assert_string_equal(plan_get(&p, "PATH"), "/usr/bin:/bin");
	assert_null(plan_get(&p, "CREDENTIALS_DIRECTORY"));
	deliver_plan_free(&p);

	o.override = 1;
	assert_int_equal(deliver_exec_plan(&o, &l, &p), PV_OK);
	assert_int_equal(p.loaded, 2);
	assert_int_equal(p.kept, 0);
	assert_string_equal(plan_get(&p, "PV_T_X"), "bundle-x");
	assert_string_equal(plan_get(&p, "PATH"), "/usr/bin:/bin");
	deliver_plan_free(&p);

	o.override = 0;
	o.pristine = 1;
	assert_int_equal(deliver_exec_plan(&o, &l, &p), PV_OK);
	assert_int_equal(p.loaded, 2);
	assert_int_equal(p.kept, 0);
	assert_int_equal(p.nenv, 2);
	assert_string_equal(plan_get(&p, "PV_T_X"), "bundle-x");
	assert_null(plan_get(&p, "PATH"));
	deliver_plan_free(&p);
	o.pristine = 0;

	/* file entries need a place to go */
	assert_int_equal(pv_kvlist_add(&l, "tls.key", PV_ENTRY_FILE, secret("PEM")), PV_OK);
	assert_int_equal(pv_kvlist_add(&l, "ca.pem", PV_ENTRY_FILE, secret("CA")), PV_OK);
	assert_int_equal(deliver_exec_plan(&o, &l, &p), PV_ERR_USAGE);
	assert_non_null(strstr(pv_err_detail(), "2 file entries need --files-dir"));
	assert_null(p.envp);

	/* an inherited CREDENTIALS_DIRECTORY is replaced by ours */
	assert_int_equal(setenv("CREDENTIALS_DIRECTORY", "/run/credentials/other", 1), 0);
	path_in(dir, sizeof(dir), tmpdir, "creds");
	assert_int_equal(mkdir(dir, 0700), 0);
	abs = realpath(dir, NULL);
	assert_non_null(abs);
	assert_int_equal(chdir(tmpdir), 0);
	o.files_dir = "creds"; /* relative: the child gets it absolute */
	assert_int_equal(deliver_exec_plan(&o, &l, &p), PV_OK);
	assert_int_equal(chdir("/"), 0);
	assert_int_equal(p.loaded, 3);
	assert_int_equal(p.kept, 1);
	assert_int_equal(p.files, 2);
	assert_string_equal(plan_get(&p, "CREDENTIALS_DIRECTORY"), abs);
	assert_null(plan_get(&p, "tls.key"));
	path_in(path, sizeof(path), dir, "tls.key");
	assert_file(path, "PEM", 0400);
	path_in(path, sizeof(path), dir, "ca.pem");
	assert_file(path, "CA", 0400);
	assert_int_equal(count_entries(dir), 2);
	deliver_plan_free(&p);
	free(abs);
	unsetenv("CREDENTIALS_DIRECTORY");
	pv_kvlist_free(&l);

	/* an env value with a NUL cannot be delivered */
	pv_kvlist_init(&l);
	assert_int_equal(pv_secret_from("a\0b", 3, &v), PV_OK);
	assert_int_equal(pv_kvlist_add(&l, "PV_T_NUL", PV_ENTRY_ENV, v), PV_OK);
	assert_int_equal(pv_kvlist_add(&l, "new.pem", PV_ENTRY_FILE, secret("N")), PV_OK);
	o.files_dir = dir;
	assert_int_equal(deliver_exec_plan(&o, &l, &p), PV_ERR_BAD_INPUT);
	assert_non_null(strstr(pv_err_detail(), "PV_T_NUL: value holds a NUL byte"));
	/* refused before any file was written */
	assert_int_equal(count_entries(dir), 2);
	pv_kvlist_free(&l);
	unsetenv("PV_T_X");
}

/* fork, deliver_exec in the child, return its stdout and exit status. */
static int
run_exec(const struct deliver_exec_opts *o, const struct pv_kvlist *l, char *const argv[], char *out,
	 size_t cap, pid_t *child)
{
	int fds[2], st;
	size_t len = 0;
	ssize_t n;
	pid_t pid;
	pv_err r;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		unsigned loaded = 0, kept = 0;

		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		r = deliver_exec(o, l, argv, &loaded, &kept);
		_exit(r == PV_ERR_NOT_FOUND ? 97 : 98);
	}
	close(fds[1]);
	while (len < cap - 1 && (n = read(fds[0], out + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(fds[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	*child = pid;
	return WEXITSTATUS(st);
}

static void
test_exec_real(void **state)
{
	struct deliver_exec_opts o = {0, 0, NULL};
	/* argv strings must be writable (execvp's prototype) */
	static char bin_sh[] = "/bin/sh", sh[] = "sh", dash_c[] = "-c", nope[] = "pv-no-such-program-here";
	static char print3[] = "printf '%s|%s|%s' \"$PV_T_X\" \"$PV_T_Y\" \"$$\"";
	static char print1[] = "printf %s \"$PV_T_X\"";
	char *const sh_abs[] = {bin_sh, dash_c, print3, NULL};
	char *const sh_path[] = {sh, dash_c, print1, NULL};
	char *const missing[] = {nope, NULL};
	char out[256], want[256];
	struct pv_kvlist l;
	pid_t pid;

	assert_int_equal(setenv("PV_T_X", "from-env", 1), 0);
	assert_int_equal(setenv("PATH", "/usr/bin:/bin", 1), 0);
	make_env_list(&l);

	assert_int_equal(run_exec(&o, &l, sh_abs, out, sizeof(out), &pid), 0);
	/* same process: the shell's $$ is the PID we forked */
	snprintf(want, sizeof(want), "from-env|bundle y\nline 2|%ld", (long)pid);
	assert_string_equal(out, want);

	o.override = 1;
	assert_int_equal(run_exec(&o, &l, sh_path, out, sizeof(out), &pid), 0);
	assert_string_equal(out, "bundle-x");
	/* pristine: no PATH in the child, but the search uses ours */
	o.pristine = 1;
	assert_int_equal(run_exec(&o, &l, sh_path, out, sizeof(out), &pid), 0);
	assert_string_equal(out, "bundle-x");

	assert_int_equal(run_exec(&o, &l, missing, out, sizeof(out), &pid), 97);
	assert_string_equal(out, "");
	pv_kvlist_free(&l);
	unsetenv("PV_T_X");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_atomic_write, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_atomic_failures, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_out_dir, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_exec_plan, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_exec_real, setup, teardown),
	};

	if (pv_secmem_init() != PV_OK)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
