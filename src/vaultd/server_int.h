/*
 * Inside the HTTP layer: what server.c (MHD daemons, requests, responses,
 * the TCP socket), listen_unix.c (the Unix socket and its peer uid) and
 * tls.c (certificate files, TLS options, client certificates) share.
 * Nothing outside src/vaultd/{server,listen_unix,tls}.c includes this.
 */
#ifndef PV_VAULTD_SERVER_INT_H
#define PV_VAULTD_SERVER_INT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <microhttpd.h>

#include "base/err.h"
#include "base/secmem.h"
#include "vaultd/server.h"

#define VD_LISTEN_BACKLOG 128
/* The most MHD options vd_tls_options adds (without MHD_OPTION_END). */
#define VD_TLS_OPTIONS    4

struct vd_listener {
	struct vd_server *srv;
	struct MHD_Daemon *mhd;
	int fd;
	int is_unix;
	int verify_clients; /* listen.tcp.client_ca given */
	int quiesced;       /* MHD gave the listening socket back */
};

struct vd_server {
	struct vd_daemon *d;
	struct vd_listener l[2];
	size_t n;
	size_t max_body;
	uint32_t timeout_ms;
	char *unix_path; /* removed at stop if it is still our socket */
	dev_t unix_dev;
	ino_t unix_ino;
	atomic_int draining;
};

/* Per connection (MHD's socket context): the peer, worked out once. */
struct vd_conn {
	int peer_known;
	int cert_untrusted; /* a client certificate was sent and failed */
	struct pv_peer peer;
};

/* server.c: O_NONBLOCK on a listening socket (MHD wants it so). */
pv_err vd_set_nonblocking(int fd) PV_WUR;

/* ---- listen_unix.c ---- */

/*
 * The listening Unix socket of cfg->listen.unix_*: a stale socket file is
 * replaced, a live one refused (PV_ERR_EXISTS); made with the configured
 * group and mode. Records the path and the file's identity in srv.
 */
pv_err vd_unix_listen(struct vd_server *srv, const struct pv_config *cfg, int *out) PV_WUR;

/* Remove the socket file, but only if it is still the one srv made. */
void vd_unix_remove_own(const struct vd_server *srv);

/* The caller's uid (SO_PEERCRED) into vc->peer; nothing when unknown. */
void vd_peer_from_unix(struct MHD_Connection *c, struct vd_conn *vc);

/* ---- tls.c ---- */

/* The PEM files of a TLS listener, held until MHD has parsed them. */
struct vd_tls_pems {
	pv_secret *key, *cert, *ca;
};

/*
 * Read the key, certificate and (optional) client CA of cfg->listen.tcp_*
 * into pems and append the matching MHD options to opts at *n (room for
 * VD_TLS_OPTIONS more). *verify_clients is set when a client CA is given.
 * Free pems with vd_tls_pems_free, also on failure.
 */
pv_err vd_tls_options(const struct pv_config *cfg, struct vd_tls_pems *pems, struct MHD_OptionItem *opts,
		      size_t *n, int *verify_clients) PV_WUR;
void vd_tls_pems_free(struct vd_tls_pems *pems);

/* A verified client certificate's SHA-256 into vc->peer, or
 * vc->cert_untrusted when one was sent and does not verify. */
void vd_peer_from_tls(struct MHD_Connection *c, struct vd_conn *vc);

#endif
