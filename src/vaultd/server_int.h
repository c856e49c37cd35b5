/*
 * Inside the HTTP layer: what server.c (listeners, event threads,
 * connection discipline, the TCP socket), http_conn.c (one connection's
 * bytes: heads, bodies, answers), listen_unix.c (the Unix socket and its
 * peer uid) and tls.c (GnuTLS sessions, client certificates) share.
 * Nothing outside those files includes this.
 */
#ifndef PV_VAULTD_SERVER_INT_H
#define PV_VAULTD_SERVER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <gnutls/gnutls.h>

#include "base/err.h"
#include "base/secmem.h"
#include "vaultd/http_parse.h"
#include "vaultd/server.h"

#define VD_LISTEN_BACKLOG 128
/* The longest request head (request line and fields): 431 past it. */
#define VD_HEAD_MAX       16384

/* Where a connection stands (connection discipline, server.c). Each state
 * but GONE has a list per listener, oldest first; HEAD, BODY, SEND and
 * IDLE have a deadline counted from the time the connection entered them. */
enum vd_cstate {
	VD_C_HEAD, /* accepted (TLS handshake included) or a next head begun, not complete */
	VD_C_BODY, /* head complete, body still arriving */
	VD_C_BUSY, /* the request is being answered */
	VD_C_SEND, /* the answer waits for the client to read (socket full) */
	VD_C_IDLE, /* keep-alive between requests */
	VD_C_NLISTS,
	VD_C_GONE = VD_C_NLISTS, /* cut or refused; its owner has yet to close it */
	VD_C_NEW                 /* not admitted yet */
};

/* What an epoll event points at: a listener, a connection or the stop fd. */
enum vd_ev_kind { VD_EV_LISTENER = 1, VD_EV_CONN, VD_EV_STOP };

struct vd_listener {
	enum vd_ev_kind kind; /* VD_EV_LISTENER; first, see vd_ev_kind */
	struct vd_server *srv;
	int fd;
	int is_unix;
	int verify_clients; /* listen.tcp.client_ca given */
	int quiesced;       /* no longer accepting */
	/* under srv->mu */
	struct vd_conn *first[VD_C_NLISTS], *last[VD_C_NLISTS];
	unsigned live; /* connections not GONE */
};

struct vd_tls; /* tls.c: the server's credentials */

struct vd_server {
	struct vd_daemon *d;
	struct vd_listener l[2];
	size_t n;
	size_t max_body;
	uint32_t timeout_ms;     /* keep-alive idle */
	uint32_t head_ms;        /* limits.header_timeout_ms */
	uint32_t body_ms;        /* limits.body_timeout_ms (also an answer the client does not read) */
	unsigned max_conns;      /* per listener */
	unsigned max_conns_peer; /* per peer, per listener */
	char *unix_path;         /* removed at stop if it is still our socket */
	dev_t unix_dev;
	ino_t unix_ino;
	atomic_int draining;
	struct vd_tls *tls;
	/* connection lists of both listeners, every connection, and the reaper */
	pthread_mutex_t mu;
	pthread_cond_t reaper_wake;
	pthread_t reaper;
	int reaper_started, reaper_stop;
	struct vd_conn *all; /* every connection not yet freed (under mu) */
	/* the event threads: one epoll set, each thread takes one ready
	 * connection at a time (EPOLLONESHOT) and serves it to the end */
	int epfd;
	int stopfd;                /* eventfd: readable when the threads are to end */
	enum vd_ev_kind stop_kind; /* what stopfd's event points at */
	atomic_int stopping;
	pthread_t *threads;
	unsigned nthreads;
	int sync_init;
};

/* A request being read or answered on a connection. */
struct vd_reqctx {
	int active;            /* a head was taken: counted in d->inflight */
	struct timespec start; /* the head complete */
	char rid[VD_RID_LEN + 1];
	char method[16];
	char *path;          /* the target up to '?', NUL-terminated */
	char *authorization; /* guarded copy of the Authorization value (a bearer token is a secret) */
	size_t authorization_cap;
	char *if_none_match;
	unsigned n_authorization;
	int is_head; /* HEAD: the answer has no body */
	int keep_alive;
	int chunked;
	uint64_t length;
	struct vd_chunked ck;
	uint8_t *body;
	size_t len, cap;
	struct vd_req req;
	struct vd_resp resp;
};

/* One connection, owned by the thread its epoll event went to. */
struct vd_conn {
	enum vd_ev_kind kind; /* VD_EV_CONN; first, see vd_ev_kind */
	int peer_known;
	int cert_untrusted; /* a client certificate was sent and failed */
	struct pv_peer peer;
	struct vd_listener *l;
	int fd;
	gnutls_session_t tls; /* NULL on the Unix socket */
	int handshaken;
	/* input not yet consumed (wiped when freed: it may hold a token) */
	uint8_t *in;
	size_t in_len, in_cap;
	/* the answer being written (wiped when freed: it may hold a secret) */
	uint8_t *out;
	size_t out_len, out_off;
	int close_after; /* close once out is written */
	struct vd_reqctx rc;
	/* connection discipline, under srv->mu */
	uint8_t peer_id[20]; /* family byte + uid or address: the per-peer cap's key */
	enum vd_cstate state;
	enum vd_cstate mine;           /* the last state its owner set (read without mu) */
	struct timespec since;         /* entered state */
	struct vd_conn *prev, *next;   /* the list of its state */
	struct vd_conn *aprev, *anext; /* srv->all */
};

/* ---- server.c: connection discipline, used by http_conn.c ---- */

/* Move vc to state st (under srv->mu inside). A GONE connection stays GONE. */
void vd_conn_set_state(struct vd_conn *vc, enum vd_cstate st);

/* Arm vc for its next event (readable, or writable when want_write). */
void vd_conn_arm(struct vd_conn *vc, int want_write);

/* ---- http_conn.c: one connection's bytes ---- */

/* Serve vc after an epoll event: read, parse, answer, write, as far as the
 * socket allows, then re-arm it, or close and free it. The caller owns vc
 * until this returns. */
void vd_conn_run(struct vd_conn *vc);

/* Close vc's socket and free it (unlinks it from the lists under mu). */
void vd_conn_free(struct vd_conn *vc);

/* server.c: O_NONBLOCK on a socket. */
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
void vd_peer_from_unix(struct vd_conn *vc);

/* The peer's uid on a connected Unix socket fd into *uid: 0 on success. */
int vd_unix_peer_uid(int fd, uint32_t *uid);

/* ---- tls.c ---- */

/*
 * The key, certificate and (optional) client CA of cfg->listen.tcp_* as
 * GnuTLS credentials; *verify_clients is set when a client CA is given.
 */
pv_err vd_tls_new(const struct pv_config *cfg, struct vd_daemon *d, struct vd_tls **out,
		  int *verify_clients) PV_WUR;

/* tls_token.c: whether listen.tcp.tls_key names a key on the token
 * ("p11vault:NAME[;version=N]" or a pkcs11: URI) rather than a PEM file. */
int vd_tls_key_on_token(const char *key);
/* That key (a p11vault key of purpose sign, resolved through d's keystore)
 * with the certificates in cert_pem, into cred; GnuTLS signs through its
 * PKCS#11 support with the token's PIN. */
pv_err vd_tls_token_key(const struct pv_config *cfg, struct vd_daemon *d,
			gnutls_certificate_credentials_t cred, const gnutls_datum_t *cert_pem) PV_WUR;
void vd_tls_free(struct vd_tls *t);

/* A server session on the non-blocking socket fd. */
pv_err vd_tls_session(struct vd_tls *t, int fd, gnutls_session_t *out) PV_WUR;

/* Results of the non-blocking steps below (negative: not bytes). */
#define VD_IO_WANT_READ  (-1)
#define VD_IO_WANT_WRITE (-2)
#define VD_IO_FAIL       (-3)

/* One handshake step: 0 when done, else VD_IO_*. */
int vd_tls_handshake(gnutls_session_t s);
/* Bytes read (0: the peer closed) or VD_IO_*. */
ssize_t vd_tls_recv(gnutls_session_t s, void *p, size_t n);
/* Bytes written or VD_IO_*. */
ssize_t vd_tls_send(gnutls_session_t s, const void *p, size_t n);

/* A verified client certificate's SHA-256 into vc->peer, or
 * vc->cert_untrusted when one was sent and does not verify. */
void vd_peer_from_tls(struct vd_conn *vc);

#endif
