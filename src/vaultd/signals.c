/*
 * vaultd's signals (docs/vaultd.8): blocked before any thread exists, so
 * every thread inherits the mask and only sigwait() in the main thread sees
 * them. SIGHUP reloads, SIGUSR1 reopens the audit log (rotation),
 * SIGTERM/SIGINT drain and stop.
 */
#include "config.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "audit/audit.h"
#include "vaultd/main_int.h"

#define DRAIN_SECONDS 10

void
vd_fixed_settings(const struct pv_config *c, char *buf, size_t n)
{
	snprintf(buf, n, "%d|%s|%o|%s|%d|%s|%s|%s|%s|%u|%u|%u", c->listen.has_unix,
		 c->listen.unix_path ? c->listen.unix_path : "", (unsigned)c->listen.unix_mode,
		 c->listen.unix_group ? c->listen.unix_group : "", c->listen.has_tcp,
		 c->listen.tcp_address ? c->listen.tcp_address : "",
		 c->listen.tls_cert ? c->listen.tls_cert : "", c->listen.tls_key ? c->listen.tls_key : "",
		 c->listen.client_ca ? c->listen.client_ca : "", (unsigned)c->workers,
		 (unsigned)c->limits.max_body_bytes, (unsigned)c->limits.request_timeout_ms);
}

static void
reload(struct vd_daemon *d, const char *boot_fixed)
{
	struct vd_gen *g;
	char now[2048];
	pv_err e;

	if (d->config_path == NULL) {
		say("SIGHUP: nothing to reload (--dev without --config)");
		return;
	}
	pv_err_clear_detail();
	e = vd_reload(d);
	if (e != PV_OK) {
		say_err("reload failed, the running configuration stays", e);
		return;
	}
	/* An optional bundle (or any bundle in dev mode) that failed leaves a
	 * warning in the detail of a successful reload. */
	if (pv_err_detail()[0] != '\0')
		say("reload: warning: %s", pv_err_detail());
	g = vd_gen_acquire(d);
	vd_fixed_settings(g->cfg, now, sizeof(now));
	say("reloaded %s (generation %llu)", d->config_path, (unsigned long long)g->number);
	if (strcmp(now, boot_fixed) != 0)
		say("listen, workers and limits changes take effect at the next start");
	vd_gen_release(g);
}

int
vd_drain(struct vd_daemon *d, struct vd_server *srv)
{
	struct timespec step = {0, 10 * 1000 * 1000};
	unsigned waited = 0, n = atomic_load(&d->inflight);

	say("stopping: no new connections, %u request(s) in flight", n);
	vd_server_quiesce(srv);
	while (atomic_load(&d->inflight) > 0 && waited < DRAIN_SECONDS * 100) {
		nanosleep(&step, NULL);
		waited++;
	}
	n = atomic_load(&d->inflight);
	/* Not before: requests still arriving on open connections are served. */
	atomic_store(&d->ready, 0);
	if (n > 0) {
		/* Stuck in the token module (a PKCS#11 call that never returns):
		 * stopping the server would wait for their threads for ever. */
		say("stopping: %u request(s) still running after %d s are cut off", n, DRAIN_SECONDS);
		return 1;
	}
	vd_server_stop(srv);
	return 0;
}

/* SIGUSR1: the audit file was moved away; continue the chain in a new one. */
static void
reopen_audit(struct vd_daemon *d)
{
	pv_err e;

	if (d->audit == NULL) {
		say("SIGUSR1: no audit file to reopen");
		return;
	}
	pv_err_clear_detail();
	if ((e = pv_audit_reopen(d->audit)) != PV_OK)
		say_err("SIGUSR1: reopening the audit log", e);
	else
		say("SIGUSR1: audit log reopened");
}

void
vd_wait_for_stop(struct vd_daemon *d, const sigset_t *set, const char *boot_fixed)
{
	int sig, stop = 0;

	while (!stop) {
		if (sigwait(set, &sig) != 0)
			continue;
		switch (sig) {
		case SIGHUP:
			reload(d, boot_fixed);
			break;
		case SIGUSR1:
			reopen_audit(d);
			break;
		case SIGTERM:
		case SIGINT:
			stop = 1;
			break;
		default:
			break;
		}
	}
}

void
vd_signals_block(sigset_t *set)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	/* A parent may have left them ignored (a background job ignores
	 * SIGINT); ignored signals are dropped even when blocked. */
	sa.sa_handler = SIG_DFL;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigemptyset(set);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGUSR1);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	pthread_sigmask(SIG_BLOCK, set, NULL);
}
