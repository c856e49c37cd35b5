/*
 * vaultd's Unix socket listener (server.h): the socket file is made here
 * with its mode and group, a stale one left by a dead daemon is replaced,
 * and a caller is known by its SO_PEERCRED uid.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vaultd/server_int.h"

int
vd_unix_peer_uid(int fd, uint32_t *uid)
{
	struct ucred uc;
	socklen_t n = sizeof(uc);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &n) != 0 || n != sizeof(uc))
		return -1;
	*uid = (uint32_t)uc.uid;
	return 0;
}

void
vd_peer_from_unix(struct vd_conn *vc)
{
	uint32_t uid;

	if (vc->fd < 0 || vd_unix_peer_uid(vc->fd, &uid) != 0)
		return;
	vc->peer.has_uid = 1;
	vc->peer.uid = uid;
}

/* An existing file at the socket path: a socket nobody answers on is a
 * leftover and goes; anything else stays and stops the start. */
static pv_err
clear_stale_socket(const struct sockaddr_un *sa)
{
	struct stat st;
	int fd = -1;
	pv_err r = PV_OK;

	if (lstat(sa->sun_path, &st) != 0) {
		if (errno == ENOENT)
			return PV_OK;
		pv_err_set_detail("%s: %s", sa->sun_path, strerror(errno));
		return PV_ERR_IO;
	}
	if (!S_ISSOCK(st.st_mode)) {
		pv_err_set_detail("%s exists and is not a socket", sa->sun_path);
		return PV_ERR_EXISTS;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		pv_err_set_detail("socket: %s", strerror(errno));
		r = PV_ERR_IO;
		goto out;
	}
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0) {
		pv_err_set_detail("%s: another process is listening on it", sa->sun_path);
		r = PV_ERR_EXISTS;
		goto out;
	}
	if (errno != ECONNREFUSED) {
		pv_err_set_detail("%s: %s", sa->sun_path, strerror(errno));
		r = PV_ERR_IO;
		goto out;
	}
	if (unlink(sa->sun_path) != 0) {
		pv_err_set_detail("%s: cannot remove the stale socket: %s", sa->sun_path, strerror(errno));
		r = PV_ERR_IO;
	}
out:
	if (fd >= 0)
		close(fd);
	return r;
}

static pv_err
group_id(const char *name, gid_t *out)
{
	struct group gr, *res = NULL;
	char buf[4096];
	int e = getgrnam_r(name, &gr, buf, sizeof(buf), &res);

	if (e != 0 || res == NULL) {
		pv_err_set_detail("listen.unix.group: no group \"%s\"", name);
		return PV_ERR_NOT_FOUND;
	}
	*out = gr.gr_gid;
	return PV_OK;
}

pv_err
vd_unix_listen(struct vd_server *srv, const struct pv_config *cfg, int *out)
{
	struct sockaddr_un sa;
	struct stat st;
	gid_t gid = (gid_t)-1;
	mode_t old_umask;
	int fd = -1, rc;
	pv_err r;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(cfg->listen.unix_path) >= sizeof(sa.sun_path)) {
		pv_err_set_detail("listen.unix.path: too long for a socket");
		return PV_ERR_USAGE;
	}
	memcpy(sa.sun_path, cfg->listen.unix_path, strlen(cfg->listen.unix_path));
	if (cfg->listen.unix_group != NULL && (r = group_id(cfg->listen.unix_group, &gid)) != PV_OK)
		return r;
	if ((r = clear_stale_socket(&sa)) != PV_OK)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		pv_err_set_detail("socket: %s", strerror(errno));
		r = PV_ERR_IO;
		goto out;
	}
	/* Born owner-only, then opened up to the configured mode: nobody
	 * connects in between. */
	old_umask = umask(0177);
	rc = bind(fd, (const struct sockaddr *)&sa, sizeof(sa));
	umask(old_umask);
	if (rc != 0) {
		pv_err_set_detail("bind %s: %s", sa.sun_path, strerror(errno));
		r = PV_ERR_IO;
		goto out;
	}
	if (lstat(sa.sun_path, &st) != 0) {
		pv_err_set_detail("%s: %s", sa.sun_path, strerror(errno));
		r = PV_ERR_IO;
		goto out;
	}
	srv->unix_dev = st.st_dev;
	srv->unix_ino = st.st_ino;
	srv->unix_path = strdup(sa.sun_path);
	if (srv->unix_path == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	if (gid != (gid_t)-1 && lchown(sa.sun_path, (uid_t)-1, gid) != 0) {
		pv_err_set_detail("listen.unix.group: chgrp %s: %s", sa.sun_path, strerror(errno));
		r = PV_ERR_IO;
		goto out;
	}
	if (chmod(sa.sun_path, (mode_t)cfg->listen.unix_mode) != 0) {
		pv_err_set_detail("listen.unix.mode: chmod %s: %s", sa.sun_path, strerror(errno));
		r = PV_ERR_IO;
		goto out;
	}
	if (listen(fd, VD_LISTEN_BACKLOG) != 0) {
		pv_err_set_detail("listen %s: %s", sa.sun_path, strerror(errno));
		r = PV_ERR_IO;
		goto out;
	}
	if ((r = vd_set_nonblocking(fd)) != PV_OK)
		goto out;
	*out = fd;
	fd = -1;
out:
	if (fd >= 0) {
		close(fd);
		if (srv->unix_path != NULL)
			unlink(srv->unix_path);
	}
	return r;
}

void
vd_unix_remove_own(const struct vd_server *srv)
{
	struct stat st;

	if (srv->unix_path != NULL && lstat(srv->unix_path, &st) == 0 && st.st_dev == srv->unix_dev &&
	    st.st_ino == srv->unix_ino)
		unlink(srv->unix_path);
}
