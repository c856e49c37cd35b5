/*
 * Inside the HTTP layer: what server.c (MHD daemons, requests, responses,
 * the TCP socket), listen_unix.c (the Unix socket and its peer uid) and
 * tls.c (certificate files, TLS options, client certificates) share.
 * Nothing outside src/vaultd/{server,listen_unix,tls}.c includes this.
 */
#ifndef PV_VAULTD_SERVER_INT_H
#define PV_VAULTD_SERVER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
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

/* Where a connection stands (connection discipline, server.c). Each state
 * but GONE has a list per listener, oldest first; HEAD, BODY and IDLE have
 * a deadline counted from the time the connection entered them. */
enum vd_cstate {
	VD_C_HEAD, /* accepted (TLS handshake included), no complete head yet */
	VD_C_BODY, /* head complete, body still arriving */
	VD_C_BUSY, /* with a worker, or its answer being sent */
	VD_C_IDLE, /* keep-alive between requests (or the next head arriving) */
	VD_C_NLISTS,
	VD_C_GONE = VD_C_NLISTS, /* cut or refused; MHD has yet to close it */
	VD_C_NEW                 /* not admitted yet */
};

struct vd_listener {
	struct vd_server *srv;
	struct MHD_Daemon *mhd;
	int fd;
	int is_unix;
	int verify_clients; /* listen.tcp.client_ca given */
	int quiesced;       /* MHD gave the listening socket back */
	/* under srv->mu */
	struct vd_conn *first[VD_C_NLISTS], *last[VD_C_NLISTS];
	unsigned live; /* connections not GONE */
};

/* A complete request waiting for, or with, a worker. */
struct vd_job {
	struct vd_job *next;
	struct vd_listener *l;
	struct MHD_Connection *c;
	struct vd_reqctx *rc;
};

struct vd_server {
	struct vd_daemon *d;
	struct vd_listener l[2];
	size_t n;
	size_t max_body;
	uint32_t timeout_ms;     /* keep-alive idle */
	uint32_t head_ms;        /* limits.header_timeout_ms */
	uint32_t body_ms;        /* limits.body_timeout_ms */
	unsigned max_conns;      /* per listener */
	unsigned max_conns_peer; /* per peer, per listener */
	char *unix_path;         /* removed at stop if it is still our socket */
	dev_t unix_dev;
	ino_t unix_ino;
	atomic_int draining;
	/* connection lists of both listeners, and the reaper */
	pthread_mutex_t mu;
	pthread_cond_t reaper_wake;
	pthread_t reaper;
	int reaper_started, reaper_stop;
	/* the worker queue */
	pthread_mutex_t qmu;
	pthread_cond_t qcond;
	struct vd_job *qhead, *qtail;
	int qstop;
	pthread_t *workers;
	unsigned nworkers;
	int sync_init;
};

/* Per connection (MHD's socket context): the peer, worked out once. */
struct vd_conn {
	int peer_known;
	int cert_untrusted; /* a client certificate was sent and failed */
	struct pv_peer peer;
	/* connection discipline, under srv->mu */
	struct vd_listener *l;
	int fd;
	uint8_t peer_id[20]; /* family byte + uid or address: the per-peer cap's key */
	enum vd_cstate state;
	struct timespec since; /* entered state */
	struct vd_conn *prev, *next;
};

/*
 * server.c: what MHD's parser lets through and vaultd refuses (400, then
 * close; docs/api.md "HTTP strictness"), checked on the complete head
 * before any body is read: a control byte or space in the target, a header
 * name that is not a token, a control byte (but HTAB) in a header value,
 * Content-Length or Transfer-Encoding repeated, both together, a transfer
 * coding other than chunked. NULL when the head is fine, else why.
 */
const char *vd_http_strict_check(struct MHD_Connection *c, const char *url);

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

/* The peer's uid on a connected Unix socket fd into *uid: 0 on success. */
int vd_unix_peer_uid(int fd, uint32_t *uid);

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
