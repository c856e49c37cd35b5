#include "config.h"

#include <stdio.h>
#include <string.h>

#include "pkcs11/internal.h"
#include "pkcs11/pin.h"

/* C_Login calls when the token file reads as in flux (see do_login) */
#define P11_LOGIN_TRIES  5
/* module restarts when those tries keep failing (see p11_token_login) */
#define P11_LOGIN_ROUNDS 3

/*
 * Login: once per token (PKCS#11 login state is per application, shared by
 * all sessions). Never spend the last PIN try, never retry a PIN the token
 * rejected.
 */

/* C_GetTokenInfo, asked again a bounded number of times while SoftHSM's
 * token file is being rewritten by another process (CKR_GENERAL_ERROR). */
static pv_err
token_info_settled(p11_token *tok, CK_TOKEN_INFO *ti)
{
	CK_RV rv;

	for (unsigned tries = 0;; tries++) {
		rv = tok->f->C_GetTokenInfo(atomic_load(&tok->slot), ti);
		if (rv != CKR_GENERAL_ERROR || tries >= P11_LOGIN_TRIES)
			break;
		p11_backoff(tries);
	}
	if (rv != CKR_OK) {
		pv_err_set_detail("C_GetTokenInfo: %s", P11_RV_TEXT(rv));
		return p11_rv_to_err(rv);
	}
	return PV_OK;
}

static pv_err
check_pin_flags(p11_token *tok)
{
	CK_TOKEN_INFO ti;
	pv_err r;

	if ((r = token_info_settled(tok, &ti)) != PV_OK)
		return r;
	if (ti.flags & CKF_USER_PIN_LOCKED) {
		pv_err_set_detail("token reports CKF_USER_PIN_LOCKED");
		return PV_ERR_PIN_LOCKED;
	}
	if (ti.flags & CKF_USER_PIN_FINAL_TRY) {
		pv_err_set_detail("token reports CKF_USER_PIN_FINAL_TRY: refusing to spend the last try");
		return PV_ERR_PIN_FINAL_TRY;
	}
	return PV_OK;
}

/* C_Login as CKU_USER with pin. ALREADY_LOGGED_IN counts as success. */
static CK_RV
do_login(p11_token *tok, CK_SESSION_HANDLE h, pv_secret *pin)
{
	CK_RV rv;

	/* SoftHSM re-reads its token file on each call: while another process
	 * rewrites it, the token can read as having no user PIN, or fail. That
	 * is no verdict on the PIN (a wrong one is never tried again): ask
	 * again a bounded number of times. */
	for (unsigned tries = 0;; tries++) {
		rv = tok->f->C_Login(h, CKU_USER, pv_secret_rw(pin), (CK_ULONG)pv_secret_len(pin));
		pv_secret_lock(pin);
		if ((rv != CKR_USER_PIN_NOT_INITIALIZED && rv != CKR_GENERAL_ERROR) ||
		    tries >= P11_LOGIN_TRIES)
			break;
		p11_backoff(tries);
	}
	return rv;
}

static pv_err
login_result(CK_RV rv)
{
	if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN)
		return PV_OK;
	pv_err_set_detail("C_Login: %s", P11_RV_TEXT(rv));
	return p11_rv_to_err(rv);
}

pv_err
p11_login_with(p11_token *tok, CK_SESSION_HANDLE h, pv_secret *pin)
{
	pv_err r;

	if ((r = check_pin_flags(tok)) != PV_OK)
		return r;
	return login_result(do_login(tok, h, pin));
}

pv_err
p11_relogin(p11_token *tok, CK_SESSION_HANDLE h)
{
	CK_SESSION_INFO si;
	CK_RV rv;
	pv_err r = PV_OK;

	pthread_mutex_lock(&tok->login_mu);
	if (tok->pin == NULL) {
		pv_err_set_detail("the token needs a login and no PIN is kept");
		r = PV_ERR_NOT_LOGGED_IN;
		goto out;
	}
	/* Another thread may have logged in again already. */
	if (tok->f->C_GetSessionInfo(h, &si) == CKR_OK &&
	    (si.state == CKS_RO_USER_FUNCTIONS || si.state == CKS_RW_USER_FUNCTIONS)) {
		atomic_store(&tok->relogin_needed, 0);
		goto out;
	}
	if ((r = check_pin_flags(tok)) != PV_OK)
		goto out;
	rv = do_login(tok, h, tok->pin);
	if ((r = login_result(rv)) != PV_OK) {
		if (r == PV_ERR_PIN_INCORRECT || r == PV_ERR_PIN_LOCKED) {
			/* The PIN changed under us: never try it again. */
			pv_secret_free(tok->pin);
			tok->pin = NULL;
			atomic_store(&tok->want_login, 0);
		}
		goto out;
	}
	atomic_store(&tok->relogin_needed, 0);
	/* Some modules (SoftHSM) renumber private objects after a new login. */
	atomic_fetch_add(&tok->generation, 1);
	atomic_fetch_add(&tok->recoveries, 1);
out:
	pthread_mutex_unlock(&tok->login_mu);
	return r;
}

pv_err
p11_token_login(p11_token *tok)
{
	struct p11_sess s = {CK_INVALID_HANDLE, 0, 0};
	pv_secret *pin = NULL;
	char what[80], label[33];
	CK_TOKEN_INFO ti;
	CK_RV rv;
	pv_err r;

	if ((r = p11_fork_check(tok)) != PV_OK)
		return r;
	if (atomic_load(&tok->want_login)) {
		/* Logged in before: a borrow re-logs in if the state was lost. */
		p11_gate_enter(tok);
		if ((r = p11_sess_borrow(tok, &s, &rv)) == PV_OK)
			p11_sess_return(tok, &s);
		p11_gate_leave(tok);
		return r;
	}
	pthread_mutex_lock(&tok->login_mu);
	if (tok->pin != NULL) {
		r = PV_OK;
		goto out;
	}
	p11_gate_enter(tok);
	r = token_info_settled(tok, &ti);
	p11_gate_leave(tok);
	if (r != PV_OK)
		goto out;
	p11_copy_padded(label, sizeof(label), ti.label, sizeof(ti.label));
	snprintf(what, sizeof(what), "token '%s'", label);
	/* Read the PIN before touching the login state: a bad source costs nothing. */
	if ((r = p11_pin_resolve(tok->pin_source, tok->uri_pin_source, tok->allow_prompt, what, &pin)) !=
	    PV_OK)
		goto out;
	/* SoftHSM reads the PIN blobs once, at C_Initialize: one made while
	 * another process rewrote the token file keeps failing (GENERAL_ERROR,
	 * or USER_PIN_NOT_INITIALIZED) however often it is asked. Start the
	 * module afresh then, a bounded number of times. */
	for (unsigned round = 0;; round++) {
		p11_gate_enter(tok);
		rv = CKR_OK;
		if ((r = p11_sess_borrow(tok, &s, &rv)) == PV_OK) {
			if ((r = check_pin_flags(tok)) == PV_OK)
				r = login_result((rv = do_login(tok, s.h, pin)));
			p11_sess_return(tok, &s);
		}
		p11_gate_leave(tok);
		if (r == PV_OK)
			break;
		/* an unexpected CKR_ (GENERAL_ERROR) or no user PIN: not the PIN's
		 * fault. (login_mu is held across the reinit: before the first
		 * login succeeded no other thread takes it.) */
		if ((r != PV_ERR_PKCS11 && rv != CKR_USER_PIN_NOT_INITIALIZED) || round >= P11_LOGIN_ROUNDS)
			goto out;
		if ((r = p11_reinit(tok, 1)) != PV_OK)
			goto out;
	}
	/*
	 * Keep it (no-access) for re-login. ALREADY_LOGGED_IN (another user of
	 * the module in this process) did not verify it; a wrong one is dropped
	 * on its first rejection and final try is checked before every login.
	 */
	tok->pin = pin;
	pin = NULL;
	atomic_store(&tok->want_login, 1);
out:
	pthread_mutex_unlock(&tok->login_mu);
	pv_secret_free(pin);
	return r;
}
