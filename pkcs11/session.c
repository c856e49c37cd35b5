#include "config.h"

#include <stdlib.h>
#include <unistd.h>

#include "pkcs11/internal.h"

/*
 * The session pool. tok->mu guards the free list and counters only; every
 * C_* call happens with it released. A session carries the epoch it was
 * opened in; after device loss or reinit the epoch moves on and older
 * sessions are forgotten instead of reused.
 */

pv_err
p11_pool_init(p11_token *tok, CK_ULONG max_sessions)
{
	unsigned cap = tok->pool_cap ? tok->pool_cap : P11_DEFAULT_POOL;

	if (max_sessions != CK_EFFECTIVELY_INFINITE && max_sessions != CK_UNAVAILABLE_INFORMATION &&
	    max_sessions < cap)
		cap = (unsigned)max_sessions;
	if ((tok->free_list = calloc(cap, sizeof(*tok->free_list))) == NULL)
		return PV_ERR_NOMEM;
	tok->pool_size = cap;
	return PV_OK;
}

void
p11_pool_destroy(p11_token *tok)
{
	unsigned long epoch = atomic_load(&tok->epoch);

	/* In a forked child that never used the token the handles are not ours. */
	if (tok->f && atomic_load(&tok->pid) == p11_self_pid()) {
		for (unsigned i = 0; i < tok->nfree; i++)
			if (tok->free_list[i].epoch == epoch)
				(void)tok->f->C_CloseSession(tok->free_list[i].h);
		for (unsigned i = 0; i < tok->nparked; i++)
			if (tok->parked[i].epoch == epoch)
				(void)tok->f->C_CloseSession(tok->parked[i].h);
	}
	tok->nfree = 0;
	free(tok->free_list);
	tok->free_list = NULL;
	tok->nparked = tok->parked_cap = 0;
	free(tok->parked);
	tok->parked = NULL;
}

static CK_RV
open_session(p11_token *tok, CK_SESSION_HANDLE *h)
{
	CK_SLOT_ID slot = atomic_load(&tok->slot);
	CK_RV rv;

	rv = tok->f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, h);
	if (rv == CKR_TOKEN_WRITE_PROTECTED) /* read-only tokens can still sign */
		rv = tok->f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, h);
	return rv;
}

/*
 * A fresh session on a token we logged in to must be in a user state; so
 * must any session after a call reported the login lost.
 */
static pv_err
ensure_login(p11_token *tok, CK_SESSION_HANDLE h, int fresh, CK_RV *rvp)
{
	CK_SESSION_INFO si;
	CK_RV rv;

	if (!atomic_load(&tok->want_login))
		return PV_OK;
	if (!fresh && !atomic_load(&tok->relogin_needed))
		return PV_OK;
	if ((rv = tok->f->C_GetSessionInfo(h, &si)) != CKR_OK) {
		*rvp = rv;
		pv_err_set_detail("C_GetSessionInfo: %s", P11_RV_TEXT(rv));
		return p11_rv_to_err(rv);
	}
	if (si.state == CKS_RO_USER_FUNCTIONS || si.state == CKS_RW_USER_FUNCTIONS)
		return PV_OK;
	return p11_relogin(tok, h);
}

pv_err
p11_sess_borrow(p11_token *tok, struct p11_sess *s, CK_RV *rvp)
{
	unsigned long epoch;
	CK_RV rv;
	pv_err r;

	*rvp = CKR_OK;
	pthread_mutex_lock(&tok->mu);
	for (;;) {
		epoch = atomic_load(&tok->epoch);
		while (tok->nfree > 0) {
			*s = tok->free_list[--tok->nfree];
			if (s->epoch == epoch) {
				tok->in_use++;
				pthread_mutex_unlock(&tok->mu);
				if ((r = ensure_login(tok, s->h, 0, rvp)) != PV_OK) {
					p11_sess_drop(tok, s,
						      *rvp != CKR_SESSION_HANDLE_INVALID &&
							  *rvp != CKR_SESSION_CLOSED);
					return r;
				}
				return PV_OK;
			}
			tok->open_count--; /* from before a reinit: already gone */
		}
		if (tok->open_count < tok->pool_size)
			break;
		pthread_cond_wait(&tok->cv, &tok->mu);
	}
	tok->open_count++;
	tok->in_use++;
	pthread_mutex_unlock(&tok->mu);

	s->epoch = epoch;
	s->h = CK_INVALID_HANDLE;
	s->pinned = 0;
	if ((rv = open_session(tok, &s->h)) != CKR_OK) {
		*rvp = rv;
		pv_err_set_detail("C_OpenSession: %s", P11_RV_TEXT(rv));
		p11_sess_drop(tok, s, 0);
		return p11_rv_to_err(rv);
	}
	if ((r = ensure_login(tok, s->h, 1, rvp)) != PV_OK) {
		p11_sess_drop(tok, s, 1);
		return r;
	}
	return PV_OK;
}

void
p11_sess_return(p11_token *tok, struct p11_sess *s)
{
	int stale;

	pthread_mutex_lock(&tok->mu);
	tok->in_use--;
	stale = s->epoch != atomic_load(&tok->epoch);
	if (!stale && tok->nfree < tok->pool_size)
		tok->free_list[tok->nfree++] = *s;
	else
		tok->open_count--;
	pthread_cond_signal(&tok->cv);
	pthread_mutex_unlock(&tok->mu);
	s->h = CK_INVALID_HANDLE;
}

/*
 * Keep a pinned session open but out of the pool (mu held): closing it would
 * destroy the session objects created on it. If the list cannot grow the
 * session is left open untracked (C_Finalize or exit closes it).
 */
static void
park_locked(p11_token *tok, const struct p11_sess *s)
{
	struct p11_sess *grown;
	unsigned cap;

	if (tok->nparked == tok->parked_cap) {
		cap = tok->parked_cap ? 2 * tok->parked_cap : 4;
		if ((grown = realloc(tok->parked, cap * sizeof(*grown))) == NULL)
			return;
		tok->parked = grown;
		tok->parked_cap = cap;
	}
	tok->parked[tok->nparked++] = *s;
}

void
p11_sess_drop(p11_token *tok, struct p11_sess *s, int close_it)
{
	int current;

	pthread_mutex_lock(&tok->mu);
	tok->in_use--;
	tok->open_count--;
	current = s->h != CK_INVALID_HANDLE && s->epoch == atomic_load(&tok->epoch);
	if (close_it && current && s->pinned) {
		park_locked(tok, s);
		close_it = 0;
	} else if (current && s->pinned) {
		/* a session that made objects is gone, and its objects with it:
		 * their handles must not be used (they may name others later) */
		atomic_fetch_add(&tok->generation, 1);
	}
	pthread_cond_signal(&tok->cv);
	pthread_mutex_unlock(&tok->mu);
	if (close_it && current)
		(void)tok->f->C_CloseSession(s->h);
	s->h = CK_INVALID_HANDLE;
}

void
p11_pool_forget_all(p11_token *tok, int close_them)
{
	struct p11_sess *old = NULL;
	unsigned n = 0;

	pthread_mutex_lock(&tok->mu);
	if (close_them && tok->nfree + tok->nparked > 0 &&
	    (old = calloc(tok->nfree + tok->nparked, sizeof(*old))) != NULL) {
		for (unsigned i = 0; i < tok->nfree; i++)
			old[n++] = tok->free_list[i];
		for (unsigned i = 0; i < tok->nparked; i++)
			old[n++] = tok->parked[i];
	}
	tok->open_count -= tok->nfree;
	tok->nfree = 0;
	tok->nparked = 0; /* their session objects are lost with the recovery */
	/* Borrowed sessions now carry an old epoch and are dropped on return. */
	atomic_fetch_add(&tok->epoch, 1);
	pthread_cond_broadcast(&tok->cv);
	pthread_mutex_unlock(&tok->mu);
	for (unsigned i = 0; i < n; i++)
		(void)tok->f->C_CloseSession(old[i].h);
	free(old);
}
