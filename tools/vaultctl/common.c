/* Helpers shared by the vaultctl subcommands. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vaultctl.h"

pv_err
vctl_token(struct vctl *c, int login, p11_token **tok)
{
	pv_err r;

	*tok = NULL;
	if (c->tok == NULL && (r = p11_token_open(&c->topts, &c->tok)) != PV_OK)
		return r;
	if (login && (r = p11_token_login(c->tok)) != PV_OK)
		return r;
	*tok = c->tok;
	return PV_OK;
}

pv_err
vctl_keystore(struct vctl *c, pv_keystore **ks)
{
	p11_token *tok = NULL;
	pv_err r;

	*ks = NULL;
	if ((r = vctl_token(c, 1, &tok)) != PV_OK)
		return r;
	if (c->ks == NULL && (r = pv_keystore_new(tok, &c->ks)) != PV_OK)
		return r;
	*ks = c->ks;
	return PV_OK;
}

void
vctl_close(struct vctl *c)
{
	pv_keystore_free(c->ks);
	c->ks = NULL;
	p11_token_close(c->tok);
	c->tok = NULL;
}

int
vctl_fail(struct vctl *c, pv_err err, const char *fmt, ...)
{
	char what[256], msg[600];
	const char *detail = pv_err_detail();
	cJSON *doc = NULL, *e = NULL;
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (detail[0] != '\0')
		snprintf(msg, sizeof(msg), "%s: %s (%s)", what, detail, pv_strerror(err));
	else
		snprintf(msg, sizeof(msg), "%s: %s", what, pv_strerror(err));
	fprintf(stderr, "vaultctl: %s\n", msg);
	if (c->json && (doc = cJSON_CreateObject()) != NULL) {
		if ((e = cJSON_AddObjectToObject(doc, "error")) != NULL) {
			(void)cJSON_AddStringToObject(e, "code", pv_err_id(err));
			(void)cJSON_AddStringToObject(e, "message", msg);
			(void)cJSON_AddNumberToObject(e, "exit_code", pv_err_exit_code(err));
		}
		(void)vctl_print_json(doc);
	}
	return pv_err_exit_code(err);
}

int
vctl_usage(struct vctl *c, const char *usage, const char *fmt, ...)
{
	const char *p;
	char msg[300];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* one line, like every other error (a usage wrapped for --help is
	 * joined again); the full usage is in --help */
	fprintf(stderr, "vaultctl: %s: %s (usage: vaultctl ", c->cmd ? c->cmd : "usage", msg);
	for (p = usage; *p != '\0'; p++) {
		if (*p != '\n') {
			fputc(*p, stderr);
			continue;
		}
		while (p[1] == ' ')
			p++;
		fputc(' ', stderr);
	}
	fprintf(stderr, ")\n");
	return PV_EXIT_USAGE;
}

int
vctl_bad_option(struct vctl *c, const char *usage, char *argv[])
{
	char shortopt[3] = {'-', (char)optopt, '\0'};
	const char *last = optind > 0 ? argv[optind - 1] : NULL;
	const char *opt = "?";

	/* a long option names itself; a bad short one only through optopt */
	if (last != NULL && strncmp(last, "--", 2) == 0)
		opt = last;
	else if (optopt > ' ' && optopt < 127)
		opt = shortopt;
	else if (last != NULL)
		opt = last;
	return vctl_usage(c, usage, "unknown option or missing value: '%.64s'", opt);
}

int
vctl_print_json(cJSON *doc)
{
	char *s = cJSON_Print(doc);
	int rc = 0;

	if (s == NULL || printf("%s\n", s) < 0)
		rc = 1;
	free(s);
	cJSON_Delete(doc);
	return rc;
}

void
vctl_info(struct vctl *c, const char *fmt, ...)
{
	va_list ap;

	if (!c->verbose)
		return;
	va_start(ap, fmt);
	fputs("vaultctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

unsigned
vctl_parse_version(const char *s)
{
	char *end = NULL;
	unsigned long v;

	if (s == NULL || *s < '1' || *s > '9')
		return 0;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > 1000000)
		return 0;
	return (unsigned)v;
}

pv_err
vctl_read_input(const char *path, size_t max, pv_buf **out)
{
	pv_err r;

	/* read one byte more than allowed to tell "too large" from "at the limit" */
	r = pv_buf_read_file(path, max + 1, out);
	if (r == PV_OK && pv_buf_len(*out) > max) {
		pv_buf_free(*out);
		*out = NULL;
		r = PV_ERR_TOO_LARGE;
	}
	if (r == PV_ERR_TOO_LARGE)
		pv_err_set_detail("%s is larger than %zu bytes", strcmp(path, "-") == 0 ? "input" : path,
				  max);
	else if (r == PV_ERR_NOT_FOUND || r == PV_ERR_IO)
		r = PV_ERR_USAGE; /* the detail names the file and the reason */
	return r;
}

static pv_err
write_all(int fd, const void *data, size_t len)
{
	const uint8_t *p = data;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return PV_ERR_IO;
		p += n;
		len -= (size_t)n;
	}
	return PV_OK;
}

pv_err
vctl_write_output(const char *path, const void *data, size_t len)
{
	char tmp[PATH_MAX];
	int fd = -1, created = 0;
	pv_err r = PV_ERR_IO;

	if (path == NULL || strcmp(path, "-") == 0)
		return write_all(STDOUT_FILENO, data, len);
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmpXXXXXX", path) >= sizeof(tmp))
		return PV_ERR_USAGE;
	/* mkstemp creates 0600 with O_EXCL; rename makes the result atomic */
	if ((fd = mkstemp(tmp)) < 0) {
		pv_err_set_detail("cannot create %s: %s", path, strerror(errno));
		goto out;
	}
	created = 1;
	if (write_all(fd, data, len) != PV_OK || fsync(fd) != 0) {
		pv_err_set_detail("cannot write %s", path);
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		pv_err_set_detail("cannot rename into %s: %s", path, strerror(errno));
		goto out;
	}
	created = 0;
	r = PV_OK;
out:
	if (fd >= 0)
		close(fd);
	if (created)
		unlink(tmp);
	return r;
}
