/*
 * vaultd's HTTP front (server.h): listeners, event threads and connection
 * discipline. The sockets are made here (the Unix socket's mode and group
 * must be right before anyone can connect) and go into one epoll set that
 * every event thread waits on. Each ready connection is taken by one
 * thread (EPOLLONESHOT) and served there from its bytes to its answer
 * (http_conn.c), so a request is never handed from thread to thread and
 * no busy connection waits while a thread idles. The Unix socket is in
 * listen_unix.c, TLS in tls.c, the strict parser in http_parse.c.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "vaultd/metrics.h"
#include "vaultd/server_int.h"

/* The longest the reaper sleeps: how late past its deadline a connection
 * may be cut. */
#define VD_REAPER_TICK_MS 200
/* Connections taken per listener event before others get a turn. */
#define VD_ACCEPT_BATCH   16

/* ---- small parsers ---- */

void
vd_parse_authorization(const char *value, const char **bearer, int *bad)
{
	static const char scheme[] = "Bearer";
	size_t n = sizeof(scheme) - 1;

	*bearer = NULL;
	*bad = 0;
	if (value == NULL)
		return;
	/* present means present: an empty value or a scheme without a token
	 * is refused, never taken as no header (and another identity) */
	if (strncasecmp(value, scheme, n) != 0 || value[n] != ' ') {
		*bad = 1;
		return;
	}
	value += n;
	while (*value == ' ')
		value++;
	if (*value == '\0') {
		*bad = 1;
		return;
	}
	*bearer = value;
}

pv_err
vd_parse_content_length(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (s == NULL || *s == '\0')
		return PV_ERR_BAD_INPUT;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return PV_ERR_BAD_INPUT;
		if (v > ((uint64_t)INT64_MAX - (uint64_t)(*s - '0')) / 10)
			return PV_ERR_BAD_INPUT;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return PV_OK;
}

/* 16 bytes of a ChaCha20 keystream under a per-thread random key, one
 * block position per id: unpredictable and never repeated, without the
 * getrandom(2) call per request that randombytes_buf makes. */
void
vd_request_id(char out[VD_RID_LEN + 1])
{
	static _Thread_local uint8_t key[crypto_stream_chacha20_KEYBYTES];
	static _Thread_local uint64_t counter;
	static _Thread_local int keyed;
	uint8_t raw[16], nonce[crypto_stream_chacha20_NONCEBYTES];
	char b64[sodium_base64_ENCODED_LEN(sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING)];

	if (!keyed) {
		crypto_stream_chacha20_keygen(key);
		keyed = 1;
	}
	memcpy(nonce, &counter, sizeof(nonce));
	counter++;
	crypto_stream_chacha20(raw, sizeof(raw), nonce, key);
	sodium_bin2base64(b64, sizeof(b64), raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	memcpy(out, b64, VD_RID_LEN);
	out[VD_RID_LEN] = '\0';
}

/* ---- connection discipline (all under srv->mu) ----
 *
 * Every connection of a listener is on the list of its state, oldest
 * first. HEAD, BODY and IDLE have one fixed deadline each, counted from
 * the time the connection entered the state, so the first of each list is
 * the next to expire and the reaper looks at four list heads. A cut is
 * shutdown(SHUT_RDWR) on the socket: the thread that next takes the
 * connection sees the end of the stream and closes it. Only that thread
 * closes a socket, after marking it GONE under srv->mu, so a socket cut
 * here is still the connection's. */

static void
list_unlink(struct vd_listener *l, struct vd_conn *vc)
{
	if (vc->state >= VD_C_NLISTS)
		return;
	if (vc->prev != NULL)
		vc->prev->next = vc->next;
	else
		l->first[vc->state] = vc->next;
	if (vc->next != NULL)
		vc->next->prev = vc->prev;
	else
		l->last[vc->state] = vc->prev;
	vc->prev = vc->next = NULL;
}

static void
set_state(struct vd_listener *l, struct vd_conn *vc, enum vd_cstate st)
{
	if (vc->state == VD_C_GONE)
		return;
	list_unlink(l, vc);
	vc->state = st;
	clock_gettime(CLOCK_MONOTONIC, &vc->since);
	vc->prev = l->last[st];
	vc->next = NULL;
	if (l->last[st] != NULL)
		l->last[st]->next = vc;
	else
		l->first[st] = vc;
	l->last[st] = vc;
}

static void
cut(struct vd_listener *l, struct vd_conn *vc, enum vd_conn_event why)
{
	if (vc->state == VD_C_GONE)
		return;
	list_unlink(l, vc);
	vc->state = VD_C_GONE;
	l->live--;
	vd_metrics_conn(l->srv->d->metrics, why);
	if (vc->fd >= 0)
		(void)shutdown(vc->fd, SHUT_RDWR);
}

/* The connection to close to make room, other than except (with peer, only
 * that peer's): the oldest without a complete head, else the oldest idle
 * keep-alive one. Head-less ones go first: a slow-loris or idle flood is
 * made of them, while a kept-alive connection has completed a request and a
 * prompt new one sends its head at once (and is the newest). */
static struct vd_conn *
oldest_evictable(struct vd_listener *l, const struct vd_conn *except, const uint8_t *peer)
{
	static const enum vd_cstate from[] = {VD_C_HEAD, VD_C_IDLE};
	struct vd_conn *vc;
	size_t i;

	for (i = 0; i < PV_NELEM(from); i++) {
		for (vc = l->first[from[i]]; vc != NULL; vc = vc->next) {
			if (vc != except &&
			    (peer == NULL || memcmp(vc->peer_id, peer, sizeof(vc->peer_id)) == 0))
				return vc; /* the lists are oldest first */
		}
	}
	return NULL;
}

static unsigned
peer_count(const struct vd_listener *l, const uint8_t *peer)
{
	const struct vd_conn *vc;
	unsigned n = 0, st;

	for (st = 0; st < VD_C_NLISTS; st++) {
		for (vc = l->first[st]; vc != NULL; vc = vc->next)
			n += memcmp(vc->peer_id, peer, sizeof(vc->peer_id)) == 0;
	}
	return n;
}

/* A new connection: over its peer's cap or the listener's budget, the
 * oldest idle or head-less connection (of the same peer, for the cap)
 * makes room; when there is none, the new one is refused. Near the budget
 * (7/8), one such connection is closed per new one, so room stays. */
static void
admit(struct vd_listener *l, struct vd_conn *vc)
{
	struct vd_server *srv = l->srv;
	struct vd_conn *victim;

	set_state(l, vc, VD_C_HEAD);
	l->live++;
	if (peer_count(l, vc->peer_id) > srv->max_conns_peer) {
		if ((victim = oldest_evictable(l, vc, vc->peer_id)) == NULL) {
			cut(l, vc, VD_CONN_REFUSED_PEER);
			return;
		}
		cut(l, victim, VD_CONN_EVICTED);
	}
	if (l->live > srv->max_conns) {
		if ((victim = oldest_evictable(l, vc, NULL)) == NULL) {
			cut(l, vc, VD_CONN_REFUSED_BUDGET);
			return;
		}
		cut(l, victim, VD_CONN_EVICTED);
	}
	if (l->live > srv->max_conns - srv->max_conns / 8 && (victim = oldest_evictable(l, vc, NULL)) != NULL)
		cut(l, victim, VD_CONN_EVICTED);
}

static void
reap_list(struct vd_listener *l, enum vd_cstate st, uint32_t ms, enum vd_conn_event why,
	  const struct timespec *now, struct timespec *next)
{
	struct vd_conn *vc;
	struct timespec dl;

	while ((vc = l->first[st]) != NULL) {
		dl.tv_sec = vc->since.tv_sec + (time_t)(ms / 1000);
		dl.tv_nsec = vc->since.tv_nsec + (long)(ms % 1000) * 1000000L;
		if (dl.tv_nsec >= 1000000000L) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000L;
		}
		if (dl.tv_sec > now->tv_sec || (dl.tv_sec == now->tv_sec && dl.tv_nsec > now->tv_nsec)) {
			if (dl.tv_sec < next->tv_sec ||
			    (dl.tv_sec == next->tv_sec && dl.tv_nsec < next->tv_nsec))
				*next = dl;
			return;
		}
		cut(l, vc, why);
	}
}

/* Connections at which a burst (or an attack) counts as over, and the
 * peak that makes it one: then the heap the threads grew (TLS sessions,
 * buffers) goes back to the system; glibc's arenas keep it otherwise. */
#define VD_TRIM_BELOW 16
#define VD_TRIM_PEAK  64

/* The reaper: cuts connections past their head, body, send or idle
 * deadline, and trims the heap after a burst. */
static void *
reaper_main(void *arg)
{
	struct vd_server *srv = arg;
	struct timespec now, next;
	unsigned live, peak = 0;
	size_t i;

	pthread_mutex_lock(&srv->mu);
	while (!srv->reaper_stop) {
		for (i = 0, live = 0; i < srv->n; i++)
			live += srv->l[i].live;
		peak = live > peak ? live : peak;
		if (peak >= VD_TRIM_PEAK && live < VD_TRIM_BELOW) {
			peak = 0;
			pthread_mutex_unlock(&srv->mu);
			(void)malloc_trim(0);
			pthread_mutex_lock(&srv->mu);
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		next = now;
		next.tv_nsec += VD_REAPER_TICK_MS * 1000000L;
		if (next.tv_nsec >= 1000000000L) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000L;
		}
		for (i = 0; i < srv->n; i++) {
			reap_list(&srv->l[i], VD_C_HEAD, srv->head_ms, VD_CONN_CUT_HEADER, &now, &next);
			reap_list(&srv->l[i], VD_C_BODY, srv->body_ms, VD_CONN_CUT_BODY, &now, &next);
			reap_list(&srv->l[i], VD_C_SEND, srv->body_ms, VD_CONN_CUT_SEND, &now, &next);
			reap_list(&srv->l[i], VD_C_IDLE, srv->timeout_ms, VD_CONN_CUT_IDLE, &now, &next);
		}
		(void)pthread_cond_timedwait(&srv->reaper_wake, &srv->mu, &next);
	}
	pthread_mutex_unlock(&srv->mu);
	return NULL;
}

/* ---- event threads ---- */

void
vd_conn_set_state(struct vd_conn *vc, enum vd_cstate st)
{
	vc->mine = st;
	pthread_mutex_lock(&vc->l->srv->mu);
	set_state(vc->l, vc, st);
	pthread_mutex_unlock(&vc->l->srv->mu);
}

/* The per-peer cap's key: the uid on the Unix socket, the address on TCP. */
static void
peer_id_of(struct vd_conn *vc, const struct sockaddr_storage *sa)
{
	uint32_t uid;

	memset(vc->peer_id, 0, sizeof(vc->peer_id));
	if (vc->l->is_unix) {
		if (vd_unix_peer_uid(vc->fd, &uid) == 0) {
			vc->peer_id[0] = 1;
			memcpy(vc->peer_id + 1, &uid, sizeof(uid));
		}
		return;
	}
	if (sa->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;

		vc->peer_id[0] = 4;
		memcpy(vc->peer_id + 1, &in->sin_addr, sizeof(in->sin_addr));
	} else if (sa->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;

		vc->peer_id[0] = 6;
		memcpy(vc->peer_id + 1, &in6->sin6_addr, sizeof(in6->sin6_addr));
	}
}

/* Arm a connection (or listener) for its next event: one thread at a time. */
static void
arm(struct vd_server *srv, int fd, void *what, uint32_t events, int add)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events | EPOLLONESHOT | EPOLLRDHUP;
	ev.data.ptr = what;
	(void)epoll_ctl(srv->epfd, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev);
}

void
vd_conn_arm(struct vd_conn *vc, int want_write)
{
	arm(vc->l->srv, vc->fd, vc, want_write ? EPOLLOUT : EPOLLIN, 0);
}

/* A new connection: admitted (or refused) under the discipline, then put
 * in the epoll set. The accepting thread owns it until it is armed. */
static void
take_connection(struct vd_listener *l, int fd, const struct sockaddr_storage *sa)
{
	struct vd_server *srv = l->srv;
	struct vd_conn *vc = calloc(1, sizeof(*vc));
	int refused, one = 1;

	if (vc == NULL) {
		close(fd);
		return;
	}
	vc->kind = VD_EV_CONN;
	vc->l = l;
	vc->fd = fd;
	vc->state = VD_C_NEW;
	if (!l->is_unix)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	peer_id_of(vc, sa);
	if (l->is_unix) {
		vd_peer_from_unix(vc);
		vc->peer_known = 1;
	} else if (srv->tls != NULL && vd_tls_session(srv->tls, fd, &vc->tls) != PV_OK) {
		close(fd);
		free(vc);
		return;
	}
	pthread_mutex_lock(&srv->mu);
	vc->anext = srv->all;
	if (srv->all != NULL)
		srv->all->aprev = vc;
	srv->all = vc;
	vc->mine = VD_C_HEAD;
	admit(l, vc);
	refused = vc->state == VD_C_GONE;
	pthread_mutex_unlock(&srv->mu);
	if (refused) {
		vd_conn_free(vc);
		return;
	}
	/* Plain connections wait for their first bytes; a TLS one starts
	 * with the client's hello too. */
	arm(srv, fd, vc, EPOLLIN, 1);
}

static void
accept_some(struct vd_listener *l)
{
	struct sockaddr_storage sa;
	socklen_t sl;
	int fd, i;

	for (i = 0; i < VD_ACCEPT_BATCH; i++) {
		sl = sizeof(sa);
		memset(&sa, 0, sizeof(sa));
		fd = accept4(l->fd, (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			break; /* EAGAIN, or a connection that went away: the next event tells */
		take_connection(l, fd, &sa);
	}
	pthread_mutex_lock(&l->srv->mu);
	if (!l->quiesced)
		arm(l->srv, l->fd, l, EPOLLIN, 0);
	pthread_mutex_unlock(&l->srv->mu);
}

/* An event thread: takes one ready connection or listener at a time. */
static void *
thread_main(void *arg)
{
	struct vd_server *srv = arg;
	struct epoll_event ev;
	enum vd_ev_kind *kind;
	int n;

	while (!atomic_load(&srv->stopping)) {
		n = epoll_wait(srv->epfd, &ev, 1, -1);
		if (n <= 0)
			continue; /* EINTR */
		kind = ev.data.ptr;
		if (*kind == VD_EV_STOP)
			break;
		if (*kind == VD_EV_LISTENER)
			accept_some((struct vd_listener *)(void *)kind);
		else
			vd_conn_run((struct vd_conn *)(void *)kind);
	}
	return NULL;
}

/* ---- sockets ---- */

pv_err
vd_set_nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) {
		pv_err_set_detail("fcntl: %s", strerror(errno));
		return PV_ERR_IO;
	}
	return PV_OK;
}

/* "127.0.0.1:8443", "[::1]:8443", "localhost:8443" */
static pv_err
split_address(const char *addr, char *host, size_t hostsz, const char **port)
{
	const char *colon, *h = addr;
	size_t hl;

	if (addr[0] == '[') {
		const char *end = strchr(addr, ']');

		if (end == NULL || end[1] != ':')
			goto bad;
		h = addr + 1;
		hl = (size_t)(end - h);
		colon = end + 1;
	} else {
		colon = strrchr(addr, ':');
		if (colon == NULL)
			goto bad;
		hl = (size_t)(colon - addr);
	}
	if (hl == 0 || hl >= hostsz || colon[1] == '\0')
		goto bad;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = colon + 1;
	return PV_OK;
bad:
	pv_err_set_detail("listen.tcp.address: not HOST:PORT");
	return PV_ERR_USAGE;
}

static pv_err
tcp_listen(const struct pv_config *cfg, int *out)
{
	struct addrinfo hints, *ai = NULL;
	char host[256];
	const char *port = NULL;
	int fd = -1, one = 1, e;
	pv_err r;

	if ((r = split_address(cfg->listen.tcp_address, host, sizeof(host), &port)) != PV_OK)
		return r;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	e = getaddrinfo(host, port, &hints, &ai);
	if (e != 0 || ai == NULL) {
		pv_err_set_detail("listen.tcp.address: %s", gai_strerror(e));
		r = PV_ERR_USAGE;
		goto out;
	}
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0) {
		pv_err_set_detail("socket: %s", strerror(errno));
		r = PV_ERR_IO;
		goto out;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ai->ai_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		pv_err_set_detail("listen.tcp.address: bind %s: %s", cfg->listen.tcp_address,
				  strerror(errno));
		r = PV_ERR_IO;
		goto out;
	}
	if (listen(fd, VD_LISTEN_BACKLOG) != 0) {
		pv_err_set_detail("listen %s: %s", cfg->listen.tcp_address, strerror(errno));
		r = PV_ERR_IO;
		goto out;
	}
	if ((r = vd_set_nonblocking(fd)) != PV_OK)
		goto out;
	*out = fd;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	if (ai != NULL)
		freeaddrinfo(ai);
	return r;
}

/* Enough descriptors for every listener's budget, with room for the token
 * and the audit log: the soft limit is raised towards the hard one. */
static void
raise_fd_limit(const struct vd_server *srv, unsigned listeners)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)listeners * (srv->max_conns + srv->max_conns / 4 + 16) + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
}

static pv_err
init_sync(struct vd_server *srv)
{
	pthread_condattr_t ca;

	if (pthread_condattr_init(&ca) != 0)
		return PV_ERR_NOMEM;
	(void)pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&srv->mu, NULL);
	pthread_cond_init(&srv->reaper_wake, &ca);
	pthread_condattr_destroy(&ca);
	srv->sync_init = 1;
	srv->epfd = epoll_create1(EPOLL_CLOEXEC);
	srv->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (srv->epfd < 0 || srv->stopfd < 0) {
		pv_err_set_detail("epoll: %s", strerror(errno));
		return PV_ERR_IO;
	}
	return PV_OK;
}

static pv_err
start_threads(struct vd_server *srv, unsigned n)
{
	struct epoll_event ev;
	unsigned i;

	/* The stop event stays readable (level-triggered, never read), so
	 * every thread sees it. */
	srv->stop_kind = VD_EV_STOP;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = &srv->stop_kind;
	if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->stopfd, &ev) != 0) {
		pv_err_set_detail("epoll: %s", strerror(errno));
		return PV_ERR_IO;
	}
	for (i = 0; i < srv->n; i++) {
		srv->l[i].kind = VD_EV_LISTENER;
		arm(srv, srv->l[i].fd, &srv->l[i], EPOLLIN, 1);
	}
	if ((srv->threads = calloc(n, sizeof(*srv->threads))) == NULL)
		return PV_ERR_NOMEM;
	for (i = 0; i < n; i++) {
		if (pthread_create(&srv->threads[i], NULL, thread_main, srv) != 0) {
			pv_err_set_detail("cannot start the HTTP threads");
			return PV_ERR_INTERNAL;
		}
		srv->nthreads++;
	}
	return PV_OK;
}

pv_err
vd_server_start(struct vd_daemon *d, const struct pv_config *cfg, struct vd_server **out)
{
	struct vd_server *srv = NULL;
	struct vd_listener *l;
	pv_err r = PV_OK;

	srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		return PV_ERR_NOMEM;
	srv->d = d;
	srv->epfd = srv->stopfd = -1;
	srv->l[0].fd = srv->l[1].fd = -1;
	srv->max_body = cfg->limits.max_body_bytes;
	srv->timeout_ms = cfg->limits.request_timeout_ms;
	srv->head_ms = cfg->limits.header_timeout_ms;
	srv->body_ms = cfg->limits.body_timeout_ms;
	srv->max_conns = cfg->limits.max_connections;
	srv->max_conns_peer = cfg->limits.max_connections_per_peer;
	atomic_init(&srv->draining, 0);
	atomic_init(&srv->stopping, 0);
	raise_fd_limit(srv, (unsigned)(cfg->listen.has_unix + cfg->listen.has_tcp));
	if ((r = init_sync(srv)) != PV_OK)
		goto out;
	if (cfg->listen.has_unix) {
		l = &srv->l[srv->n];
		l->is_unix = 1;
		if ((r = vd_unix_listen(srv, cfg, &l->fd)) != PV_OK)
			goto out;
		l->srv = srv;
		srv->n++;
	}
	if (cfg->listen.has_tcp) {
		l = &srv->l[srv->n];
		if ((r = vd_tls_new(cfg, d, &srv->tls, &l->verify_clients)) != PV_OK)
			goto out;
		if ((r = tcp_listen(cfg, &l->fd)) != PV_OK)
			goto out;
		l->srv = srv;
		srv->n++;
	}
	if (srv->n == 0) {
		pv_err_set_detail("listen: no listener configured");
		r = PV_ERR_USAGE;
		goto out;
	}
	/* The reaper reads srv->n: the listeners are all there. */
	if (pthread_create(&srv->reaper, NULL, reaper_main, srv) != 0) {
		pv_err_set_detail("cannot start the connection reaper");
		r = PV_ERR_INTERNAL;
		goto out;
	}
	srv->reaper_started = 1;
	if ((r = start_threads(srv, cfg->workers)) != PV_OK)
		goto out;
	*out = srv;
	srv = NULL;
out:
	vd_server_stop(srv);
	return r;
}

void
vd_server_quiesce(struct vd_server *s)
{
	size_t i;

	if (s == NULL || !s->sync_init)
		return;
	atomic_store(&s->draining, 1);
	pthread_mutex_lock(&s->mu);
	for (i = 0; i < s->n; i++) {
		if (s->l[i].fd >= 0 && !s->l[i].quiesced) {
			(void)epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->l[i].fd, NULL);
			s->l[i].quiesced = 1;
		}
	}
	pthread_mutex_unlock(&s->mu);
}

void
vd_server_stop(struct vd_server *s)
{
	uint64_t one = 1;
	size_t i;

	if (s == NULL)
		return;
	/* The threads finish the connection they hold and end; then the
	 * reaper; then every connection left is closed. */
	if (s->sync_init) {
		vd_server_quiesce(s);
		atomic_store(&s->stopping, 1);
		if (s->stopfd >= 0)
			(void)!write(s->stopfd, &one, sizeof(one));
		for (i = 0; i < s->nthreads; i++)
			pthread_join(s->threads[i], NULL);
		if (s->reaper_started) {
			pthread_mutex_lock(&s->mu);
			s->reaper_stop = 1;
			pthread_cond_signal(&s->reaper_wake);
			pthread_mutex_unlock(&s->mu);
			pthread_join(s->reaper, NULL);
		}
		while (s->all != NULL)
			vd_conn_free(s->all);
	}
	for (i = 0; i < s->n; i++) {
		if (s->l[i].fd >= 0)
			close(s->l[i].fd);
		s->l[i].fd = -1;
	}
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->stopfd >= 0)
		close(s->stopfd);
	vd_tls_free(s->tls);
	if (s->sync_init) {
		pthread_mutex_destroy(&s->mu);
		pthread_cond_destroy(&s->reaper_wake);
	}
	free(s->threads);
	/* Remove the socket file only if it is still the one we made. */
	vd_unix_remove_own(s);
	free(s->unix_path);
	free(s);
}
