/*
 * Token layer internals shared by the files in pkcs11/ (not a public API).
 */
#ifndef PV_P11_INTERNAL_H
#define PV_P11_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

#include <p11-kit/p11-kit.h>
#include <p11-kit/uri.h>

#include "base/secmem.h"
#include "pkcs11/token.h"

#define P11_DEFAULT_POOL    8u
#define P11_DEFAULT_RETRIES 3u

/*
 * A pooled session; epoch says which module/slot incarnation opened it.
 * pinned: objects were created on it. Session objects die with the session
 * that created them, so a pinned session is never closed while the token is
 * open (a dirty one is parked instead: kept open, out of the pool).
 */
struct p11_sess {
	CK_SESSION_HANDLE h;
	unsigned long epoch;
	int pinned;
};

struct p11_token {
	CK_FUNCTION_LIST *f;
	char module_desc[512]; /* path or name, for info and errors */
	P11KitUri *uri;        /* token selection */
	atomic_ulong slot;     /* CK_SLOT_ID; may change after device loss */
	int we_initialized;    /* C_Initialize said OK (not ALREADY_INITIALIZED) */
	atomic_int pid;        /* process that initialised the module */

	/* copied options */
	char *pin_source; /* NULL = defaults */
	char *uri_pin_source;
	int allow_prompt;
	unsigned max_retries;
	int finalize_on_close;
	unsigned pool_cap;

	/* session pool: mu guards only these fields, never held across C_* */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct p11_sess *free_list;
	unsigned nfree;
	unsigned pool_size;  /* sessions we may have open */
	unsigned open_count; /* sessions open (free + borrowed) */
	unsigned in_use;
	struct p11_sess *parked; /* pinned sessions that must not be reused */
	unsigned nparked, parked_cap;

	/* recovery */
	pthread_mutex_t reinit_mu; /* serialises Finalize/Initialize cycles */
	/*
	 * The call gate: every C_* call on a live module runs with it held
	 * shared (p11_gate_enter); C_Finalize/C_Initialize and the closing of
	 * every session hold it exclusively, so no thread is inside the module
	 * while it is torn down. PKCS#11 leaves that undefined, and
	 * p11-kit-client.so aborted or hung on it under load. Writers are
	 * preferred (a reinit is not starved); no path enters the gate holding
	 * login_mu once another thread could want it (the first login only,
	 * before want_login is set). A writer waits at most P11_GATE_WAIT_MS for
	 * calls in flight, then goes ahead (a call stuck in the module for good).
	 */
	pthread_rwlock_t gate;
	/*
	 * One call sequence at a time inside the gate, for p11-kit-client.so:
	 * its server answers one connection's calls one after another anyway,
	 * and with several callers on one socket a caller can wait for ever for
	 * a reply code no thread will read once the server died (0.24).
	 */
	int serialize;
	pthread_mutex_t serial_mu;
	atomic_ulong gate_timeouts; /* reinits that went ahead past a stuck call */
	int module_up;              /* C_Initialize succeeded and no C_Finalize since (gate held) */
	atomic_ulong epoch;         /* bumps when all sessions are gone */
	atomic_ulong generation;    /* bumps when object handles are stale */
	atomic_ulong recoveries;
	atomic_ulong reinits;

	/*
	 * Outage: the module, slot or token is gone and the light recovery in
	 * the request failed. While down, operations fail fast with
	 * TOKEN_UNAVAILABLE and one prober thread (recover.c) re-finds the
	 * token by its URI with backoff. out_mu guards the prober fields only,
	 * never held across a C_* call.
	 */
	atomic_int down;
	atomic_ullong down_since_ms; /* monotonic */
	atomic_ulong outages;
	atomic_ullong outage_ms_total;
	pthread_mutex_t out_mu;
	pthread_cond_t out_cv;
	pthread_t prober;
	int prober_started;
	int prober_stop;
	p11_outage_fn on_outage;
	void *on_outage_arg;

	/* login */
	pthread_mutex_t login_mu;
	pv_secret *pin;            /* kept (no-access) after a successful login */
	atomic_int want_login;     /* we logged in: keep the token logged in */
	atomic_int relogin_needed; /* a call said CKR_USER_NOT_LOGGED_IN */
};

/* module.c */
pv_err p11_module_load(const char *module, const char *uri_path, const char *uri_name, CK_FUNCTION_LIST **f,
		       char *desc, size_t desclen) PV_WUR;
void p11_module_release(CK_FUNCTION_LIST *f);
/* C_Initialize with OS locking; ALREADY_INITIALIZED counts as success. */
pv_err p11_module_initialize(CK_FUNCTION_LIST *f, int *we_initialized) PV_WUR;
/* First slot whose token matches uri (present tokens only). When none
 * does and a slot's C_GetTokenInfo failed with CKR_GENERAL_ERROR (SoftHSM
 * while other processes write its files), *busy (if not NULL) is set. */
pv_err p11_slot_find(CK_FUNCTION_LIST *f, P11KitUri *uri, CK_SLOT_ID *slot, int *busy) PV_WUR;
/* Copy a blank-padded PKCS#11 string into a NUL-terminated, trimmed one. */
void p11_copy_padded(char *dst, size_t dstlen, const CK_UTF8CHAR *src, size_t srclen);

/* session.c */
pv_err p11_pool_init(p11_token *tok, CK_ULONG max_sessions) PV_WUR;
void p11_pool_destroy(p11_token *tok);
/* Borrow a session (opening and logging in as needed); CK_RV in *rv. */
pv_err p11_sess_borrow(p11_token *tok, struct p11_sess *s, CK_RV *rv) PV_WUR;
void p11_sess_return(p11_token *tok, struct p11_sess *s);
/* Close (when still valid) and forget a borrowed session; a pinned one is
 * parked instead of closed. */
void p11_sess_drop(p11_token *tok, struct p11_sess *s, int close_it);
/* Forget every pooled session (after reinit or device loss). */
void p11_pool_forget_all(p11_token *tok, int close_them);

/* login.c */
pv_err p11_login_with(p11_token *tok, CK_SESSION_HANDLE h, pv_secret *pin) PV_WUR;
pv_err p11_relogin(p11_token *tok, CK_SESSION_HANDLE h) PV_WUR;

/* recover.c */
int p11_rv_recoverable(CK_RV rv);
#define P11_GATE_WAIT_MS 2000
void p11_gate_init(p11_token *tok);
int p11_module_wants_serial(const char *module_desc);
void p11_gate_enter(p11_token *tok);
void p11_gate_leave(p11_token *tok);
pv_err p11_token_answers(p11_token *tok) PV_WUR;
int p11_rv_stale_object(CK_RV rv);
/* The session is gone with this code (nothing left to close). */
int p11_rv_session_gone(CK_RV rv);
/*
 * Make the layer usable again after rv. s is the session the call failed
 * on (or NULL); it is returned or dropped here. attempt counts from 0.
 */
pv_err p11_recover(p11_token *tok, CK_RV rv, unsigned attempt, struct p11_sess *s,
		   unsigned long seen_epoch) PV_WUR;
/* Reinitialise after fork() when the pid changed. */
/* How often opening a token (and a forked child re-opening it) looks for
 * it again when the module does not list it yet: SoftHSM reads its token
 * files at C_Initialize and can miss one another process is writing. */
#define P11_OPEN_TRIES      6
/* ... and how often when C_GetTokenInfo fails with CKR_GENERAL_ERROR: SoftHSM
 * answers that while other processes log in and write objects (several
 * replicas starting at once), for over a second on a loaded machine; a
 * wrong token URI still fails after P11_OPEN_TRIES. About 5 s in all. */
#define P11_OPEN_BUSY_TRIES 20

pv_err p11_fork_check(p11_token *tok) PV_WUR;

/* This process's id without a system call per use (glibc no longer caches
 * getpid): taken once, renewed in the child of a fork (pthread_atfork). */
int p11_self_pid(void);
pv_err p11_reinit(p11_token *tok, int finalize_first) PV_WUR;
void p11_backoff(unsigned attempt);
/* An outage-class return code: the module, slot or token is gone. */
int p11_rv_outage(CK_RV rv);
/* Enter the outage state (once) and wake the prober; returns TOKEN_UNAVAILABLE. */
pv_err p11_outage_begin(p11_token *tok) PV_WUR;
/* Stop and join the prober (token close). */
void p11_outage_stop(p11_token *tok);
/* Outage fields fresh (open, and in a forked child). */
void p11_outage_init(p11_token *tok);
void p11_outage_stats(p11_token *tok, struct p11_token_stats *st);
/* Delay before probe number attempt (0-based) of an outage, in ms. */
unsigned p11_outage_delay_ms(unsigned attempt);
/* One probe: reinitialise, re-find the token by URI, open and log in a
 * session. PV_OK ends the outage. */
pv_err p11_outage_probe(p11_token *tok) PV_WUR;

/*
 * One operation: fn runs on a borrowed session and returns the CK_RV of the
 * call that failed (setting *fname), or CKR_OK; it may set *err for a
 * non-PKCS#11 outcome (e.g. NOT_FOUND) and *dirty when the session must not
 * be reused (an operation may still be active on it).
 */
struct p11_call {
	const char *fname;
	pv_err err;
	int dirty;
	int no_refind;     /* raw handles: a stale handle cannot be re-found */
	int created;       /* objects were created: pin the session (see p11_sess) */
	int found_nothing; /* a search found no object: is the token still there? */
	int readonly;      /* the op changes nothing on the token: safe to repeat */
};
/*
 * Every wrapped C_* call inside an op goes through this: the function's
 * name for errors comes from the call itself, never from a hand-set string.
 */
#define P11_CALL(c, tok, fn, ...) ((c)->fname = #fn, (tok)->f->fn(__VA_ARGS__))
typedef CK_RV (*p11_op_fn)(p11_token *tok, CK_SESSION_HANDLE h, void *ctx, struct p11_call *c);
pv_err p11_run(p11_token *tok, p11_op_fn fn, void *ctx) PV_WUR;
/* Resolve obj on session h if its handle is stale (used inside ops). */
CK_RV p11_obj_resolve(p11_token *tok, CK_SESSION_HANDLE h, p11_obj *obj, struct p11_call *c);

/* Set the error detail for an attribute the token gave no value for
 * (rv: what C_GetAttributeValue said), in words (attrname.c). */
void p11_attr_unavailable(CK_ATTRIBUTE_TYPE type, CK_RV rv);

#endif
