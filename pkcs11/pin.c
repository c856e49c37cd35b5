#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "pkcs11/pin.h"

/* Room for the longest PIN plus "\r\n" plus one byte to detect overflow. */
#define PIN_READ_CAP (P11_PIN_MAX + 3)

/* Strip one trailing newline (LF or CRLF) and check the length. */
static pv_err
pin_finish(pv_secret *s, const char *src)
{
	const uint8_t *p = pv_secret_ro(s);
	size_t len = pv_secret_len(s);
	pv_err r;

	if (len > 0 && p[len - 1] == '\n') {
		len--;
		if (len > 0 && p[len - 1] == '\r')
			len--;
	}
	if (len > P11_PIN_MAX) {
		pv_err_set_detail("PIN from %s is longer than %d bytes", src, P11_PIN_MAX);
		return PV_ERR_PIN_SOURCE;
	}
	if (len == 0) {
		pv_err_set_detail("PIN from %s is empty", src);
		return PV_ERR_PIN_SOURCE;
	}
	if ((r = pv_secret_set_len(s, len)) != PV_OK)
		return r;
	pv_secret_lock(s);
	return PV_OK;
}

/* Read until EOF (or until a newline when stop_at_nl) straight into s. */
static pv_err
read_into(int fd, pv_secret *s, int stop_at_nl, const char *src)
{
	uint8_t *p = pv_secret_rw(s);
	size_t cap = pv_secret_cap(s), len = 0;
	ssize_t n;

	while (len < cap) {
		n = read(fd, p + len, stop_at_nl ? 1 : cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			pv_err_set_detail("reading PIN from %s: %s", src, strerror(errno));
			return PV_ERR_PIN_SOURCE;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (stop_at_nl && p[len - 1] == '\n')
			break;
	}
	if (len == cap) {
		pv_err_set_detail("PIN from %s is longer than %d bytes", src, P11_PIN_MAX);
		return PV_ERR_PIN_SOURCE;
	}
	return pv_secret_set_len(s, len);
}

/*
 * Open the directory PATH is in (dfd) and say whether others could replace
 * the file: a directory writable by group or others without the sticky bit
 * (/tmp has it: there only the owner of a file can rename or remove it).
 */
static pv_err
pin_dir_open(const char *path, int *dfd)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	struct stat st;
	size_t n;
	int fd;

	*dfd = -1;
	n = slash == NULL ? 1 : slash == path ? 1 : (size_t)(slash - path);
	if (n >= sizeof(dir)) {
		pv_err_set_detail("PIN file path is too long");
		return PV_ERR_PIN_SOURCE;
	}
	memcpy(dir, slash == NULL ? "." : path, n);
	dir[n] = '\0';
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)) < 0) {
		pv_err_set_detail("cannot open the directory of PIN file %s: %s", path, strerror(errno));
		return PV_ERR_PIN_SOURCE;
	}
	if (fstat(fd, &st) != 0) {
		pv_err_set_detail("cannot stat the directory of PIN file %s: %s", path, strerror(errno));
		close(fd);
		return PV_ERR_PIN_SOURCE;
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (st.st_mode & S_ISVTX) == 0) {
		pv_err_set_detail("PIN file %s is in a directory that group or others can write without the "
				  "sticky bit (%s, mode %04o): anyone who can write there can replace it",
				  path, dir, (unsigned)(st.st_mode & 07777));
		close(fd);
		return PV_ERR_PIN_SOURCE;
	}
	*dfd = fd;
	return PV_OK;
}

/*
 * A PIN file (also a credential): a regular file (a FIFO or a device is
 * refused at once, never waited on), owned by this effective user or root,
 * mode 0600 or narrower, in a directory others cannot write (or a sticky
 * one). The file is opened in the directory that was checked.
 */
static pv_err
pin_from_file(const char *path, const char *src, pv_secret **out)
{
	pv_secret *s = NULL;
	const char *base = strrchr(path, '/');
	struct stat st;
	int dfd = -1, fd = -1;
	uid_t euid = geteuid();
	pv_err r = PV_ERR_PIN_SOURCE;

	base = base == NULL ? path : base + 1;
	if (*base == '\0') {
		pv_err_set_detail("PIN file %s names a directory", path);
		goto out;
	}
	if ((r = pin_dir_open(path, &dfd)) != PV_OK)
		goto out;
	r = PV_ERR_PIN_SOURCE;
	if ((fd = openat(dfd, base, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)) < 0) {
		pv_err_set_detail("cannot open PIN file %s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		pv_err_set_detail("PIN file %s is not a regular file", path);
		goto out;
	}
	if (st.st_uid != euid && st.st_uid != 0) {
		pv_err_set_detail("PIN file %s is owned by uid %u, not by this user (uid %u) or root", path,
				  (unsigned)st.st_uid, (unsigned)euid);
		goto out;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		pv_err_set_detail("PIN file %s is accessible by group or others (mode %04o); "
				  "chmod 600 it",
				  path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if ((r = pv_secret_new(PIN_READ_CAP, &s)) != PV_OK)
		goto out;
	if ((r = read_into(fd, s, 0, src)) != PV_OK)
		goto out;
	if ((r = pin_finish(s, src)) != PV_OK)
		goto out;
	*out = s;
	s = NULL;
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	pv_secret_free(s);
	return r;
}

static pv_err
pin_from_env(const char *name, pv_secret **out)
{
	pv_secret *s = NULL;
	char *val = getenv(name);
	size_t len;
	pv_err r = PV_ERR_PIN_SOURCE;

	if (val == NULL) {
		pv_err_set_detail("environment variable %s is not set", name);
		goto out;
	}
	len = strlen(val);
	if ((r = pv_secret_new(PIN_READ_CAP, &s)) != PV_OK)
		goto out;
	if (len >= PIN_READ_CAP) {
		r = PV_ERR_PIN_SOURCE;
		pv_err_set_detail("PIN from env:%s is longer than %d bytes", name, P11_PIN_MAX);
		goto out;
	}
	memcpy(pv_secret_rw(s), val, len);
	if ((r = pv_secret_set_len(s, len)) != PV_OK)
		goto out;
	if ((r = pin_finish(s, "the environment")) != PV_OK)
		goto out;
	*out = s;
	s = NULL;
out:
	/* Children must not inherit it and /proc/self/environ must not show it. */
	if (val) {
		pv_wipe(val, strlen(val));
		unsetenv(name);
	}
	pv_secret_free(s);
	return r;
}

static pv_err
pin_from_fd(const char *num, pv_secret **out)
{
	pv_secret *s = NULL;
	char *end = NULL;
	long fd;
	pv_err r = PV_ERR_USAGE;

	errno = 0;
	fd = strtol(num, &end, 10);
	if (errno || end == num || *end != '\0' || fd < 0 || fd > INT_MAX) {
		pv_err_set_detail("bad PIN source fd:%s", num);
		goto out;
	}
	if (fcntl((int)fd, F_GETFD) < 0) {
		r = PV_ERR_PIN_SOURCE;
		pv_err_set_detail("PIN file descriptor %ld is not open", fd);
		goto out;
	}
	if ((r = pv_secret_new(PIN_READ_CAP, &s)) != PV_OK)
		goto out;
	if ((r = read_into((int)fd, s, 0, "a file descriptor")) != PV_OK)
		goto out;
	if ((r = pin_finish(s, "a file descriptor")) != PV_OK)
		goto out;
	*out = s;
	s = NULL;
out:
	/* One PIN per descriptor; do not leave it to be inherited. */
	if (r != PV_ERR_USAGE && fd > 2)
		close((int)fd);
	pv_secret_free(s);
	return r;
}

static pv_err
pin_from_cred(const char *name, pv_secret **out)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	char path[PATH_MAX];
	int n;

	if (*name == '\0' || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		pv_err_set_detail("bad credential name '%s'", name);
		return PV_ERR_USAGE;
	}
	if (dir == NULL || *dir == '\0') {
		pv_err_set_detail("CREDENTIALS_DIRECTORY is not set (cred:%s)", name);
		return PV_ERR_PIN_SOURCE;
	}
	n = snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return PV_ERR_TOO_LARGE;
	return pin_from_file(path, "a credential", out);
}

pv_err
p11_prompt_hidden(const char *prompt, size_t cap, pv_secret **out)
{
	struct termios old, quiet;
	pv_secret *s = NULL;
	int tty = -1, restore = 0;
	pv_err r = PV_ERR_PIN_SOURCE;

	*out = NULL;
	if ((tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
		pv_err_set_detail("cannot open /dev/tty: %s", strerror(errno));
		goto out;
	}
	if (tcgetattr(tty, &old) != 0) {
		pv_err_set_detail("tcgetattr: %s", strerror(errno));
		goto out;
	}
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	if (tcsetattr(tty, TCSAFLUSH, &quiet) != 0) {
		pv_err_set_detail("tcsetattr: %s", strerror(errno));
		goto out;
	}
	restore = 1;
	if (write(tty, prompt, strlen(prompt)) < 0)
		goto out;
	if ((r = pv_secret_new(cap, &s)) != PV_OK)
		goto out;
	if ((r = read_into(tty, s, 1, "the terminal")) != PV_OK)
		goto out;
	*out = s;
	s = NULL;
out:
	if (restore) {
		(void)tcsetattr(tty, TCSAFLUSH, &old);
		if (write(tty, "\n", 1) < 0) {
			/* nothing useful to do */
		}
	}
	if (tty >= 0)
		close(tty);
	pv_secret_free(s);
	return r;
}

static pv_err
pin_from_prompt(int allow_prompt, const char *what, pv_secret **out)
{
	pv_secret *s = NULL;
	char prompt[160];
	pv_err r = PV_ERR_PIN_SOURCE;

	if (!allow_prompt || !isatty(STDIN_FILENO)) {
		pv_err_set_detail("no PIN source configured and no terminal to prompt on");
		goto out;
	}
	snprintf(prompt, sizeof(prompt), "PIN for %s: ", what ? what : "the token");
	if ((r = p11_prompt_hidden(prompt, PIN_READ_CAP, &s)) != PV_OK)
		goto out;
	if ((r = pin_finish(s, "the terminal")) != PV_OK)
		goto out;
	*out = s;
	s = NULL;
out:
	pv_secret_free(s);
	return r;
}

pv_err
p11_pin_read(const char *source, int allow_prompt, const char *what, pv_secret **out)
{
	*out = NULL;
	if (source == NULL || *source == '\0') {
		pv_err_set_detail("empty PIN source");
		return PV_ERR_USAGE;
	}
	if (strncmp(source, "file:", 5) == 0)
		return pin_from_file(source + 5, "a file", out);
	if (source[0] == '/')
		return pin_from_file(source, "a file", out);
	if (strncmp(source, "env:", 4) == 0)
		return pin_from_env(source + 4, out);
	if (strncmp(source, "fd:", 3) == 0)
		return pin_from_fd(source + 3, out);
	if (strncmp(source, "cred:", 5) == 0)
		return pin_from_cred(source + 5, out);
	if (strcmp(source, "prompt") == 0)
		return pin_from_prompt(allow_prompt, what, out);
	/* Never echo the source back: a mistyped PIN may be in it. */
	pv_err_set_detail("unknown PIN source (use file:, env:, fd:, cred: or prompt)");
	return PV_ERR_USAGE;
}

pv_err
p11_pin_resolve(const char *source, const char *uri_source, int allow_prompt, const char *what,
		pv_secret **out)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	char path[PATH_MAX];
	int n;

	*out = NULL;
	if (source && *source)
		return p11_pin_read(source, allow_prompt, what, out);
	if (uri_source && *uri_source)
		return p11_pin_read(uri_source, allow_prompt, what, out);
	if (dir && *dir) {
		n = snprintf(path, sizeof(path), "%s/p11vault-pin", dir);
		if (n > 0 && (size_t)n < sizeof(path) && access(path, F_OK) == 0)
			return pin_from_file(path, "a credential", out);
	}
	return pin_from_prompt(allow_prompt, what, out);
}
