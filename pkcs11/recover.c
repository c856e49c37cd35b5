#include "config.h"

#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "pkcs11/internal.h"

/*
 * Recovery. Light steps first (drop the session, re-login, re-find handles,
 * re-find the slot); from the third attempt, or when the module says it is
 * not initialised, a full C_Finalize/C_Initialize cycle.
 */

int
p11_rv_stale_object(CK_RV rv)
{
	return rv == CKR_OBJECT_HANDLE_INVALID || rv == CKR_KEY_HANDLE_INVALID ||
	       rv == CKR_WRAPPING_KEY_HANDLE_INVALID || rv == CKR_UNWRAPPING_KEY_HANDLE_INVALID;
}

static int
rv_session_lost(CK_RV rv)
{
	return rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED;
}

static int
rv_device_lost(CK_RV rv)
{
	/* SLOT_ID_INVALID: the module came back without our slot (p11-kit
	 * client after its server restarted): re-find the token by URI. */
	return rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_DEVICE_ERROR ||
	       rv == CKR_SLOT_ID_INVALID || rv == CKR_TOKEN_NOT_RECOGNIZED;
}

int
p11_rv_outage(CK_RV rv)
{
	return rv_device_lost(rv) || rv == CKR_CRYPTOKI_NOT_INITIALIZED;
}

int
p11_rv_session_gone(CK_RV rv)
{
	return rv_session_lost(rv) || rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_PRESENT ||
	       rv == CKR_CRYPTOKI_NOT_INITIALIZED || rv == CKR_SLOT_ID_INVALID;
}

int
p11_rv_recoverable(CK_RV rv)
{
	return rv_session_lost(rv) || p11_rv_stale_object(rv) || p11_rv_outage(rv) ||
	       rv == CKR_USER_NOT_LOGGED_IN;
}

void
p11_backoff(unsigned attempt)
{
	static const long ms[] = {10, 50, 250};
	struct timespec ts;
	long d = ms[attempt < PV_NELEM(ms) ? attempt : PV_NELEM(ms) - 1];

	/* up to half again at random: two processes that met on SoftHSM's
	 * files do not come back in step */
	d += (long)randombytes_uniform((uint32_t)d / 2 + 1);

	ts.tv_sec = 0;
	ts.tv_nsec = d * 1000000L;
	while (nanosleep(&ts, &ts) != 0) {
	}
}

/*
 * Whether the token still answers, asked after a search that found nothing
 * or an unexpected CKR_: a module need not report a lost token as one.
 * SoftHSM with its token directory moved away answers every search with
 * nothing and C_GetTokenInfo with CKR_GENERAL_ERROR, and stays so after the
 * directory is back until it is initialised again; so does one process's
 * view of a token file another process was rewriting as it read it. The
 * caller starts the module afresh (p11_recover), an outage if that fails.
 */
pv_err
p11_token_answers(p11_token *tok)
{
	struct p11_call c = {0};
	CK_TOKEN_INFO ti;
	CK_RV rv;

	/* asked again twice first: SoftHSM also fails it for a moment while
	 * another process rewrites the token file */
	for (unsigned tries = 0; tries < 3; tries++) {
		if (tries > 0)
			p11_backoff(tries - 1);
		if ((rv = P11_CALL(&c, tok, C_GetTokenInfo, atomic_load(&tok->slot), &ti)) == CKR_OK)
			return PV_OK;
	}
	pv_err_set_detail("C_GetTokenInfo: %s", P11_RV_TEXT(rv));
	return PV_ERR_TOKEN_UNAVAILABLE;
}

void
p11_gate_init(p11_token *tok)
{
	pthread_rwlockattr_t a;

	pthread_rwlockattr_init(&a);
	/* writers first: a reinit is not starved by a steady stream of calls */
	pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&tok->gate, &a);
	pthread_rwlockattr_destroy(&a);
	pthread_mutex_init(&tok->serial_mu, NULL);
}

void
p11_gate_enter(p11_token *tok)
{
	pthread_rwlock_rdlock(&tok->gate);
	if (tok->serialize)
		pthread_mutex_lock(&tok->serial_mu);
}

void
p11_gate_leave(p11_token *tok)
{
	if (tok->serialize)
		pthread_mutex_unlock(&tok->serial_mu);
	pthread_rwlock_unlock(&tok->gate);
}

/* Whether calls to this module are made one at a time (see p11_token.serialize). */
int
p11_module_wants_serial(const char *module_desc)
{
	const char *base = strrchr(module_desc, '/');

	base = base != NULL ? base + 1 : module_desc;
	return strncmp(base, "p11-kit-client", strlen("p11-kit-client")) == 0;
}

/*
 * Close the gate for a reinit: wait for the calls in flight, at most
 * P11_GATE_WAIT_MS. A call still inside the module after that is taken as
 * stuck for good (p11-kit-client.so 0.24 can leave a caller waiting forever
 * for a reply from a server that died): the reinit goes ahead without it
 * rather than never (returns 0: the gate is not held, nothing to open).
 */
static int
gate_close(p11_token *tok)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += P11_GATE_WAIT_MS / 1000;
	until.tv_nsec += (long)(P11_GATE_WAIT_MS % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	if (pthread_rwlock_timedwrlock(&tok->gate, &until) == 0)
		return 1;
	atomic_fetch_add(&tok->gate_timeouts, 1);
	return 0;
}

static void
gate_open(p11_token *tok, int closed)
{
	if (closed)
		pthread_rwlock_unlock(&tok->gate);
}

/* Caller holds reinit_mu and not the gate. */
static pv_err
reinit_locked(p11_token *tok, int finalize_first)
{
	CK_SLOT_ID slot;
	int we = 0, closed;
	pv_err r;

	closed = gate_close(tok);
	p11_pool_forget_all(tok, 0);
	atomic_fetch_add(&tok->generation, 1);
	/* never C_Finalize a module whose C_Initialize failed */
	if (finalize_first && tok->module_up)
		(void)tok->f->C_Finalize(NULL);
	tok->module_up = 0;
	if ((r = p11_module_initialize(tok->f, &we)) != PV_OK)
		goto out;
	tok->module_up = 1;
	tok->we_initialized = tok->we_initialized || we;
	if ((r = p11_slot_find(tok->f, tok->uri, &slot, NULL)) != PV_OK) {
		if (r == PV_ERR_TOKEN_NOT_FOUND)
			r = PV_ERR_TOKEN_UNAVAILABLE;
		goto out;
	}
	atomic_store(&tok->slot, slot);
	atomic_fetch_add(&tok->reinits, 1);
out:
	gate_open(tok, closed);
	return r;
}

pv_err
p11_reinit(p11_token *tok, int finalize_first)
{
	pv_err r;

	pthread_mutex_lock(&tok->reinit_mu);
	r = reinit_locked(tok, finalize_first);
	pthread_mutex_unlock(&tok->reinit_mu);
	return r;
}

/* All sessions gone (device pulled): close what is left, find the slot again. */
static pv_err
device_recover_locked(p11_token *tok)
{
	CK_SLOT_ID slot;
	pv_err r;

	int closed = gate_close(tok);

	p11_pool_forget_all(tok, 0);
	atomic_fetch_add(&tok->generation, 1);
	(void)tok->f->C_CloseAllSessions(atomic_load(&tok->slot));
	if ((r = p11_slot_find(tok->f, tok->uri, &slot, NULL)) == PV_OK)
		atomic_store(&tok->slot, slot);
	gate_open(tok, closed);
	return r == PV_OK ? PV_OK : reinit_locked(tok, 1);
}

pv_err
p11_recover(p11_token *tok, CK_RV rv, unsigned attempt, struct p11_sess *s, unsigned long seen_epoch)
{
	pv_err r = PV_OK;

	atomic_fetch_add(&tok->recoveries, 1);
	if (rv == CKR_USER_NOT_LOGGED_IN && attempt < 2) {
		/* The next borrow logs in again with the kept PIN. */
		if (s != NULL)
			p11_sess_return(tok, s);
		if (!atomic_load(&tok->want_login)) {
			pv_err_set_detail("the token needs a login (C_Login was not done or failed)");
			return PV_ERR_NOT_LOGGED_IN;
		}
		atomic_store(&tok->relogin_needed, 1);
		return PV_OK;
	}
	if (p11_rv_stale_object(rv) && s != NULL && attempt < 2) {
		/* Handles went stale; the session itself is fine. */
		atomic_fetch_add(&tok->generation, 1);
		p11_sess_return(tok, s);
		return PV_OK;
	}
	if (s != NULL) {
		p11_gate_enter(tok); /* C_CloseSession */
		p11_sess_drop(tok, s, !p11_rv_session_gone(rv));
		p11_gate_leave(tok);
	}
	if (rv_session_lost(rv) && attempt < 2)
		return PV_OK;

	pthread_mutex_lock(&tok->reinit_mu);
	/* Another thread recovered the token meanwhile: just retry. */
	if (atomic_load(&tok->down)) {
		r = PV_ERR_TOKEN_UNAVAILABLE;
		goto out;
	}
	if (atomic_load(&tok->epoch) != seen_epoch)
		goto out;
	if (rv_device_lost(rv) && attempt < 2)
		r = device_recover_locked(tok);
	else
		r = reinit_locked(tok, rv != CKR_CRYPTOKI_NOT_INITIALIZED);
out:
	pthread_mutex_unlock(&tok->reinit_mu);
	/* The token could not be re-found at once: an outage, left to the prober. */
	if (r != PV_OK && r != PV_ERR_NOMEM)
		return p11_outage_begin(tok);
	return r;
}

static unsigned long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000ull + (unsigned long long)ts.tv_nsec / 1000000ull;
}

/*
 * 25 ms doubling to 800 ms: quick for a blip, no busy loop for a long
 * outage, and a returned token is seen within a second.
 */
unsigned
p11_outage_delay_ms(unsigned attempt)
{
	unsigned d = 25;

	while (attempt-- > 0 && d < 800)
		d *= 2;
	return d > 800 ? 800 : d;
}

pv_err
p11_outage_probe(p11_token *tok)
{
	struct p11_sess s;
	CK_RV rv = CKR_OK;
	pv_err r;

	pthread_mutex_lock(&tok->reinit_mu);
	r = reinit_locked(tok, 1);
	pthread_mutex_unlock(&tok->reinit_mu);
	if (r != PV_OK)
		return r;
	/* A session that logs in proves the token usable, not just listed. */
	p11_gate_enter(tok);
	if ((r = p11_sess_borrow(tok, &s, &rv)) == PV_OK)
		p11_sess_return(tok, &s);
	p11_gate_leave(tok);
	return r;
}

static void
outage_end(p11_token *tok)
{
	unsigned long long ms = now_ms() - atomic_load(&tok->down_since_ms);

	atomic_fetch_add(&tok->outage_ms_total, ms);
	atomic_store(&tok->down, 0);
	if (tok->on_outage != NULL)
		tok->on_outage(tok->on_outage_arg, 0, (double)ms / 1000.0);
}

/* The one recovery loop: sleeps until an outage, probes with backoff until it ends. */
static void *
prober_main(void *arg)
{
	p11_token *tok = arg;
	unsigned attempt = 0;
	struct timespec until;
	unsigned d;

	pthread_mutex_lock(&tok->out_mu);
	for (;;) {
		while (!tok->prober_stop && !atomic_load(&tok->down)) {
			attempt = 0;
			pthread_cond_wait(&tok->out_cv, &tok->out_mu);
		}
		if (tok->prober_stop)
			break;
		d = p11_outage_delay_ms(attempt++);
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += d / 1000;
		until.tv_nsec += (long)(d % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!tok->prober_stop && pthread_cond_timedwait(&tok->out_cv, &tok->out_mu, &until) == 0) {
		}
		if (tok->prober_stop)
			break;
		pthread_mutex_unlock(&tok->out_mu);
		if (p11_outage_probe(tok) == PV_OK)
			outage_end(tok);
		pthread_mutex_lock(&tok->out_mu);
	}
	pthread_mutex_unlock(&tok->out_mu);
	return NULL;
}

pv_err
p11_outage_begin(p11_token *tok)
{
	int expected = 0;

	if (atomic_compare_exchange_strong(&tok->down, &expected, 1)) {
		atomic_store(&tok->down_since_ms, now_ms());
		atomic_fetch_add(&tok->outages, 1);
		if (tok->on_outage != NULL)
			tok->on_outage(tok->on_outage_arg, 1, 0.0);
		pthread_mutex_lock(&tok->out_mu);
		if (!tok->prober_started && !tok->prober_stop &&
		    pthread_create(&tok->prober, NULL, prober_main, tok) == 0)
			tok->prober_started = 1;
		pthread_cond_signal(&tok->out_cv);
		if (!tok->prober_started)
			atomic_store(&tok->down, 0); /* no prober: let requests recover inline */
		pthread_mutex_unlock(&tok->out_mu);
	}
	pv_err_set_detail("the token is unavailable (module, slot or token lost); it is being re-found by "
			  "its URI in the background");
	return PV_ERR_TOKEN_UNAVAILABLE;
}

void
p11_outage_stop(p11_token *tok)
{
	int started;

	pthread_mutex_lock(&tok->out_mu);
	tok->prober_stop = 1;
	started = tok->prober_started;
	pthread_cond_broadcast(&tok->out_cv);
	pthread_mutex_unlock(&tok->out_mu);
	if (started && atomic_load(&tok->pid) == p11_self_pid())
		(void)pthread_join(tok->prober, NULL);
}

void
p11_outage_stats(p11_token *tok, struct p11_token_stats *st)
{
	unsigned long long total = atomic_load(&tok->outage_ms_total);

	st->down = atomic_load(&tok->down);
	st->outages = atomic_load(&tok->outages);
	if (st->down)
		total += now_ms() - atomic_load(&tok->down_since_ms);
	st->outage_seconds = (double)total / 1000.0;
}

void
p11_outage_init(p11_token *tok)
{
	pthread_condattr_t ca;

	pthread_mutex_init(&tok->out_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&tok->out_cv, &ca);
	pthread_condattr_destroy(&ca);
	tok->prober_started = 0;
	tok->prober_stop = 0;
	atomic_store(&tok->down, 0);
}

static atomic_int self_pid;
static pthread_once_t self_pid_once = PTHREAD_ONCE_INIT;

static void
self_pid_renew(void)
{
	atomic_store(&self_pid, (int)getpid());
}

static void
self_pid_init(void)
{
	self_pid_renew();
	(void)pthread_atfork(NULL, NULL, self_pid_renew);
}

int
p11_self_pid(void)
{
	(void)pthread_once(&self_pid_once, self_pid_init);
	return atomic_load(&self_pid);
}

pv_err
p11_fork_check(p11_token *tok)
{
	int expected = atomic_load(&tok->pid);
	int now = p11_self_pid();
	CK_SLOT_ID slot;
	int we = 0, busy;
	pv_err r;

	if (expected == now)
		return PV_OK;
	if (!atomic_compare_exchange_strong(&tok->pid, &expected, now))
		return PV_OK; /* another thread of this child is on it */
	/*
	 * The child has one thread: locks held by other parent threads at fork()
	 * time would never be released, so start them afresh. Every session and
	 * handle belongs to the parent.
	 */
	pthread_mutex_init(&tok->mu, NULL);
	pthread_cond_init(&tok->cv, NULL);
	pthread_mutex_init(&tok->reinit_mu, NULL);
	pthread_mutex_init(&tok->login_mu, NULL);
	p11_gate_init(tok);
	p11_outage_init(tok); /* the parent's prober thread did not come along */
	tok->nfree = 0;
	tok->nparked = 0;
	tok->open_count = 0;
	tok->in_use = 0;
	atomic_fetch_add(&tok->epoch, 1);
	atomic_fetch_add(&tok->generation, 1);
	/* PKCS#11: a child must C_Initialize; a module blind to fork says
	 * ALREADY. SoftHSM reads its token files at C_Initialize and can find
	 * the token absent while another process uses them: start afresh a
	 * bounded number of times, as p11_token_open does. */
	for (unsigned tries = 0;; tries++) {
		if ((r = p11_module_initialize(tok->f, &we)) != PV_OK)
			return r;
		if (!we) {
			(void)tok->f->C_Finalize(NULL);
			if ((r = p11_module_initialize(tok->f, &we)) != PV_OK)
				return r;
		}
		tok->we_initialized = we;
		busy = 0;
		if ((r = p11_slot_find(tok->f, tok->uri, &slot, &busy)) != PV_ERR_TOKEN_NOT_FOUND ||
		    tries >= (busy ? P11_OPEN_BUSY_TRIES : P11_OPEN_TRIES))
			break;
		(void)tok->f->C_Finalize(NULL);
		tok->we_initialized = 0;
		p11_backoff(tries);
	}
	if (r != PV_OK)
		return r;
	atomic_store(&tok->slot, slot);
	atomic_fetch_add(&tok->reinits, 1);
	return PV_OK;
}
