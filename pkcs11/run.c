#include "config.h"

#include "pkcs11/internal.h"

/*
 * The one operation loop: borrow a session, run the calls, give the session
 * back; on a recoverable return code recover and retry, at most
 * max_retries times, with backoff.
 */

/* Give back or discard the session after a call sequence ended with rv. */
static void
settle(p11_token *tok, struct p11_sess *s, CK_RV rv, int dirty)
{
	if (p11_rv_session_gone(rv))
		p11_sess_drop(tok, s, 0);
	else if (dirty || rv == CKR_DEVICE_ERROR)
		p11_sess_drop(tok, s, 1); /* an operation may still be active on it */
	else
		p11_sess_return(tok, s);
}

pv_err
p11_run(p11_token *tok, p11_op_fn fn, void *ctx)
{
	struct p11_sess s;
	struct p11_call c;
	unsigned long seen_epoch;
	unsigned attempt;
	int answers;
	CK_RV rv;
	pv_err r;

	for (attempt = 0;; attempt++) {
		if ((r = p11_fork_check(tok)) != PV_OK)
			return r;
		/* During an outage fail fast: the prober owns recovery. */
		if (atomic_load(&tok->down)) {
			pv_err_set_detail("the token is unavailable (an outage is in progress)");
			return PV_ERR_TOKEN_UNAVAILABLE;
		}
		seen_epoch = atomic_load(&tok->epoch);
		c.fname = "C_OpenSession";
		c.err = PV_OK;
		c.dirty = 0;
		c.no_refind = 0;
		c.created = 0;
		c.found_nothing = 0;
		c.readonly = 0;
		/* inside the gate from the borrow to the return: no reinit meanwhile;
		 * recovery (which may reinit) runs after leaving it */
		p11_gate_enter(tok);
		if ((r = p11_sess_borrow(tok, &s, &rv)) != PV_OK) {
			p11_gate_leave(tok);
			if (rv != CKR_OK && p11_rv_outage(rv) && attempt >= tok->max_retries)
				return p11_outage_begin(tok);
			if (rv == CKR_OK || !p11_rv_recoverable(rv) || attempt >= tok->max_retries)
				return r;
			if ((r = p11_recover(tok, rv, attempt, NULL, seen_epoch)) != PV_OK)
				return r;
			p11_backoff(attempt);
			continue;
		}
		rv = fn(tok, s.h, ctx, &c);
		if (c.created)
			s.pinned = 1;
		if (rv == CKR_OK) {
			settle(tok, &s, rv, c.dirty);
			/* "no such object" only from a token that is still there;
			 * one that does not answer is started afresh and the
			 * search (which changed nothing) asked again */
			answers = !c.found_nothing || p11_token_answers(tok) == PV_OK;
			p11_gate_leave(tok);
			if (answers)
				return c.err;
			if (attempt >= tok->max_retries)
				return p11_outage_begin(tok);
			if ((r = p11_recover(tok, CKR_GENERAL_ERROR, attempt, NULL, seen_epoch)) != PV_OK)
				return r;
			continue;
		}
		if (!p11_rv_recoverable(rv) || attempt >= tok->max_retries ||
		    (c.no_refind && p11_rv_stale_object(rv))) {
			settle(tok, &s, rv, c.dirty);
			answers = rv != CKR_GENERAL_ERROR || p11_token_answers(tok) == PV_OK;
			p11_gate_leave(tok);
			/* SoftHSM answers CKR_GENERAL_ERROR now and then while another
			 * process rewrites its files: an op that changed nothing is
			 * asked again (within the retry bound) */
			if (rv == CKR_GENERAL_ERROR && answers && c.readonly && attempt < tok->max_retries) {
				p11_backoff(attempt);
				continue;
			}
			/* ... and one that no longer answers (SoftHSM keeps a failed
			 * read of its token file for the rest of the process) is
			 * started afresh first; a write may have happened, so only
			 * an op that changed nothing is asked again */
			if (rv == CKR_GENERAL_ERROR && !answers && c.readonly && attempt < tok->max_retries) {
				if ((r = p11_recover(tok, rv, attempt, NULL, seen_epoch)) != PV_OK)
					return r;
				p11_backoff(attempt);
				continue;
			}
			if (p11_rv_outage(rv) && p11_rv_recoverable(rv))
				return p11_outage_begin(tok);
			pv_err_set_detail("%s: %s", c.fname, P11_RV_TEXT(rv));
			if (answers)
				return p11_rv_to_err(rv);
			/* An odd failure from a token that no longer answers: start
			 * it afresh for the next call (this one may have changed
			 * something, so it is not repeated) and say it was away. */
			if (p11_recover(tok, rv, attempt, NULL, seen_epoch) == PV_OK)
				pv_err_set_detail("%s: %s; the token did not answer and was re-initialised",
						  c.fname, P11_RV_TEXT(rv));
			return PV_ERR_TOKEN_UNAVAILABLE;
		}
		if (c.dirty) {
			p11_sess_drop(tok, &s, 1);
			p11_gate_leave(tok);
			r = p11_recover(tok, rv, attempt, NULL, seen_epoch);
		} else {
			p11_gate_leave(tok);
			r = p11_recover(tok, rv, attempt, &s, seen_epoch);
		}
		if (r != PV_OK)
			return r;
		p11_backoff(attempt);
	}
}
