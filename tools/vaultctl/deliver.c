#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <sodium.h>

#include "deliver.h"

extern char **environ;

static pv_err
write_all(int fd, const uint8_t *data, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return PV_ERR_IO;
		data += n;
		len -= (size_t)n;
	}
	return PV_OK;
}

/*
 * Write name in the directory dfd atomically (see deliver_file_atomic);
 * where is the directory as the user named it, for messages.
 */
static pv_err
write_atomic_at(int dfd, const char *where, const char *name, const uint8_t *data, size_t len, mode_t mode)
{
	uint8_t rnd[12];
	char hex[2 * sizeof(rnd) + 1], tmp[64];
	int fd = -1, created = 0, e;
	pv_err r;

	/* unpredictable, so nobody can prepare a file or link under this name */
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
	snprintf(tmp, sizeof(tmp), ".vaultctl-%s.tmp", hex);
	if ((fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)) < 0) {
		pv_err_set_detail("cannot create a file in %s: %s", where, strerror(errno));
		r = PV_ERR_IO;
		goto out;
	}
	created = 1;
	/* exactly mode, whatever the umask */
	if (fchmod(fd, mode) != 0 || (r = write_all(fd, data, len)) != PV_OK || fsync(fd) != 0) {
		pv_err_set_detail("cannot write %s/%s: %s", where, name, strerror(errno));
		r = PV_ERR_IO;
		goto out;
	}
	e = close(fd);
	fd = -1;
	if (e != 0) {
		pv_err_set_detail("cannot write %s/%s: %s", where, name, strerror(errno));
		r = PV_ERR_IO;
		goto out;
	}
	if (renameat(dfd, tmp, dfd, name) != 0) {
		pv_err_set_detail("cannot replace %s/%s: %s", where, name, strerror(errno));
		r = PV_ERR_IO;
		goto out;
	}
	created = 0;
	/* the rename itself is durable only once the directory is */
	if (fsync(dfd) != 0) {
		pv_err_set_detail("cannot sync %s: %s", where, strerror(errno));
		r = PV_ERR_IO;
		goto out;
	}
	r = PV_OK;
out:
	if (fd >= 0)
		close(fd);
	if (created)
		(void)unlinkat(dfd, tmp, 0);
	return r;
}

pv_err
deliver_file_atomic(const char *path, const uint8_t *data, size_t len, mode_t mode)
{
	char *dir = NULL;
	const char *slash, *name;
	int dfd = -1;
	pv_err r;

	slash = strrchr(path, '/');
	name = slash != NULL ? slash + 1 : path;
	if (*name == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		pv_err_set_detail("%s: not a file name", path);
		r = PV_ERR_USAGE;
		goto out;
	}
	if (slash == NULL)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (dir == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		pv_err_set_detail("%s: %s", dir, strerror(errno));
		r = PV_ERR_IO;
		goto out;
	}
	r = write_atomic_at(dfd, dir, name, data, len, mode);
out:
	if (dfd >= 0)
		close(dfd);
	free(dir);
	return r;
}

/* kind 0: every entry; otherwise only entries of that kind. */
static pv_err
out_dir_kind(const char *dir, const struct pv_kvlist *l, int kind, int *not_ram, unsigned *written)
{
	struct stat st;
	struct statfs sfs;
	int dfd = -1, e;
	size_t i;
	pv_err r;

	if (written != NULL)
		*written = 0;
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		e = errno;
		pv_err_set_detail("%s: %s", dir,
				  e == ENOENT    ? "no such directory (create it first, mode 0700)"
				  : e == ENOTDIR ? "not a directory"
						 : strerror(e));
		r = e == ENOENT || e == ENOTDIR ? PV_ERR_USAGE : PV_ERR_IO;
		goto out;
	}
	if (fstat(dfd, &st) != 0 || fstatfs(dfd, &sfs) != 0) {
		pv_err_set_detail("%s: %s", dir, strerror(errno));
		r = PV_ERR_IO;
		goto out;
	}
	if (st.st_uid != geteuid()) {
		pv_err_set_detail("%s: owned by uid %u, not by us (uid %u)", dir, (unsigned)st.st_uid,
				  (unsigned)geteuid());
		r = PV_ERR_USAGE;
		goto out;
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		pv_err_set_detail("%s: writable by group or others (mode %04o); use chmod 0700", dir,
				  (unsigned)(st.st_mode & 07777));
		r = PV_ERR_USAGE;
		goto out;
	}
	if (not_ram != NULL)
		*not_ram = sfs.f_type != TMPFS_MAGIC && sfs.f_type != RAMFS_MAGIC;
	for (i = 0; i < l->n; i++) {
		const struct pv_kv *kv = &l->items[i];

		if (kind != 0 && kv->kind != kind)
			continue;
		/* validated upstream; a path must still never leave DIR */
		if (kv->name[0] == '\0' || kv->name[0] == '.' || strchr(kv->name, '/') != NULL) {
			pv_err_set_detail("%s: not usable as a file name", kv->name);
			r = PV_ERR_BAD_INPUT;
			goto out;
		}
		r = write_atomic_at(dfd, dir, kv->name, pv_secret_ro(kv->value), pv_secret_len(kv->value),
				    0400);
		pv_secret_lock(kv->value);
		if (r != PV_OK)
			goto out;
		if (written != NULL)
			(*written)++;
	}
	r = PV_OK;
out:
	if (dfd >= 0)
		close(dfd);
	return r;
}

pv_err
deliver_out_dir(const char *dir, const struct pv_kvlist *l, int *not_ram)
{
	return out_dir_kind(dir, l, 0, not_ram, NULL);
}

void
deliver_plan_free(struct deliver_plan *plan)
{
	if (plan == NULL)
		return;
	pv_secret_free(plan->strings);
	free(plan->envp);
	free(plan->kept_names);
	memset(plan, 0, sizeof(*plan));
}

/* The variable's name in "NAME=value" equals name. */
static int
env_is(const char *var, const char *name)
{
	size_t n = strlen(name);

	return strncmp(var, name, n) == 0 && var[n] == '=';
}

/* The bundle env entry that a "NAME=value" from environ names, or NULL. */
static const struct pv_kv *
entry_for(const struct pv_kvlist *l, const char *var)
{
	char name[PV_ENTRY_NAME_MAX + 1];
	const char *eq = strchr(var, '=');
	const struct pv_kv *kv;

	if (eq == NULL || (size_t)(eq - var) > PV_ENTRY_NAME_MAX)
		return NULL;
	memcpy(name, var, (size_t)(eq - var));
	name[eq - var] = '\0';
	kv = pv_kvlist_find(l, name);
	return kv != NULL && kv->kind == PV_ENTRY_ENV ? kv : NULL;
}

static int
in_environ(char **env, const char *name)
{
	for (; env != NULL && *env != NULL; env++)
		if (env_is(*env, name))
			return 1;
	return 0;
}

static const char cred_var[] = "CREDENTIALS_DIRECTORY";

/*
 * Which inherited variables survive: not malformed, not replaced by a
 * bundle value (override) and not CREDENTIALS_DIRECTORY when we set it.
 */
static int
inherit(const struct deliver_exec_opts *o, const struct pv_kvlist *l, const char *var, int set_cred)
{
	if (strchr(var, '=') == NULL)
		return 0;
	if (set_cred && env_is(var, cred_var))
		return 0;
	return !(o->override && entry_for(l, var) != NULL);
}

pv_err
deliver_exec_plan(const struct deliver_exec_opts *o, const struct pv_kvlist *l, struct deliver_plan *plan)
{
	struct deliver_plan p = {0};
	char **base = o->pristine ? NULL : environ, **b;
	char *abs_dir = NULL;
	unsigned nfiles = 0;
	uint8_t *dst;
	size_t i, size = 0, count = 0, off = 0, k = 0, vlen;
	int *set = NULL;
	pv_err r;

	memset(plan, 0, sizeof(*plan));
	/* which bundle variables are set, and the size of everything */
	if (l->n > 0 && ((set = calloc(l->n, sizeof(*set))) == NULL ||
			 (p.kept_names = calloc(l->n, sizeof(*p.kept_names))) == NULL)) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < l->n; i++) {
		const struct pv_kv *kv = &l->items[i];

		if (kv->kind != PV_ENTRY_ENV)
			continue;
		if (!o->override && in_environ(base, kv->name)) {
			p.kept_names[p.kept++] = kv->name;
			continue;
		}
		vlen = pv_secret_len(kv->value);
		if (memchr(pv_secret_ro(kv->value), '\0', vlen) != NULL) {
			pv_secret_lock(kv->value);
			pv_err_set_detail("%s: value holds a NUL byte, which an environment variable cannot",
					  kv->name);
			r = PV_ERR_BAD_INPUT;
			goto out;
		}
		pv_secret_lock(kv->value);
		set[i] = 1;
		p.loaded++;
		size += strlen(kv->name) + 1 + vlen + 1;
		count++;
	}
	for (i = 0; i < l->n; i++)
		nfiles += l->items[i].kind == PV_ENTRY_FILE;
	/* files only once the environment is known to be deliverable */
	if (nfiles > 0) {
		if (o->files_dir == NULL) {
			pv_err_set_detail("%u file %s --files-dir", nfiles,
					  nfiles == 1 ? "entry needs" : "entries need");
			r = PV_ERR_USAGE;
			goto out;
		}
		if ((r = out_dir_kind(o->files_dir, l, PV_ENTRY_FILE, &p.files_not_ram, &p.files)) != PV_OK)
			goto out;
		if ((abs_dir = realpath(o->files_dir, NULL)) == NULL) {
			pv_err_set_detail("%s: %s", o->files_dir, strerror(errno));
			r = PV_ERR_IO;
			goto out;
		}
		p.loaded += p.files;
		size += sizeof(cred_var) + 1 + strlen(abs_dir);
		count++;
	}
	for (b = base; b != NULL && *b != NULL; b++) {
		if (inherit(o, l, *b, abs_dir != NULL)) {
			size += strlen(*b) + 1;
			count++;
		}
	}
	if ((p.envp = calloc(count + 1, sizeof(*p.envp))) == NULL ||
	    (r = pv_secret_new(size ? size : 1, &p.strings)) != PV_OK) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	/* fill: inherited first, in their order, then the bundle's */
	dst = pv_secret_rw(p.strings);
#define PUT(s, n)                                                                                            \
	do {                                                                                                 \
		memcpy(dst + off, (s), (n));                                                                 \
		off += (n);                                                                                  \
	} while (0)
	for (b = base; b != NULL && *b != NULL; b++) {
		if (!inherit(o, l, *b, abs_dir != NULL))
			continue;
		p.envp[k++] = (char *)dst + off;
		PUT(*b, strlen(*b) + 1);
	}
	if (abs_dir != NULL) {
		p.envp[k++] = (char *)dst + off;
		PUT(cred_var, sizeof(cred_var) - 1);
		PUT("=", 1);
		PUT(abs_dir, strlen(abs_dir) + 1);
	}
	for (i = 0; i < l->n; i++) {
		const struct pv_kv *kv = &l->items[i];

		if (!set[i])
			continue;
		vlen = pv_secret_len(kv->value);
		p.envp[k++] = (char *)dst + off;
		PUT(kv->name, strlen(kv->name));
		PUT("=", 1);
		PUT(pv_secret_ro(kv->value), vlen);
		PUT("", 1);
		pv_secret_lock(kv->value);
	}
#undef PUT
	if (off != size || k != count) {
		r = PV_ERR_INTERNAL;
		goto out;
	}
	p.nenv = count;
	/* left readable: execve reads it; nothing else runs before the exec */
	(void)pv_secret_ro(p.strings);
	*plan = p;
	memset(&p, 0, sizeof(p));
	r = PV_OK;
out:
	deliver_plan_free(&p);
	free(set);
	free(abs_dir);
	return r;
}

pv_err
deliver_exec_planned(struct deliver_plan *plan, char *const argv[])
{
	int e;

	if (argv == NULL || argv[0] == NULL) {
		deliver_plan_free(plan);
		return PV_ERR_USAGE;
	}
	(void)pv_secret_ro(plan->strings);
	execvpe(argv[0], argv, plan->envp);
	e = errno;
	deliver_plan_free(plan);
	pv_err_set_detail("cannot run %s: %s", argv[0], strerror(e));
	return e == ENOENT || e == ENOTDIR ? PV_ERR_NOT_FOUND : PV_ERR_IO;
}

pv_err
deliver_exec(const struct deliver_exec_opts *o, const struct pv_kvlist *l, char *const argv[],
	     unsigned *loaded, unsigned *kept)
{
	struct deliver_plan plan;
	pv_err r;

	if ((r = deliver_exec_plan(o, l, &plan)) != PV_OK)
		return r;
	if (loaded != NULL)
		*loaded = plan.loaded;
	if (kept != NULL)
		*kept = plan.kept;
	return deliver_exec_planned(&plan, argv);
}
