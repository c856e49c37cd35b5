/*
 * The token layer: the only code in p11vault that calls C_* functions.
 *
 * A p11_token is one module + one token (slot) + a login + a session pool.
 * Every operation borrows a session from the pool for exactly one token call
 * sequence and gives it back; no lock is held across a token call. On
 * session/handle/login/device loss the layer recovers (reopen, re-login,
 * re-find, then C_Finalize/C_Initialize) with bounded retries and backoff,
 * and it reinitialises itself in a forked child. When that fails the token
 * is "down" (an outage): every operation fails fast with TOKEN_UNAVAILABLE
 * while one background prober re-finds the token by its URI (never by the
 * old slot id) with backoff, until it is back.
 *
 * Nothing here knows about key names, JSON, HTTP or JWTs.
 */
#ifndef PV_P11_TOKEN_H
#define PV_P11_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include <p11-kit/pkcs11.h>

#include "base/err.h"

typedef struct p11_token p11_token;

/*
 * Called when an outage starts (down = 1, seconds = 0) and when it ends
 * (down = 0, seconds = its length). Runs on a request or the prober thread
 * with no token lock held; it must not call back into the token layer.
 */
typedef void (*p11_outage_fn)(void *arg, int down, double seconds);

struct p11_token_opts {
	/*
	 * RFC 7512 URI selecting the token, e.g. "pkcs11:token=prod". May carry
	 * module-path / module-name / pin-source query attributes. NULL or
	 * "pkcs11:" = the first slot with an initialised token.
	 */
	const char *token_uri;
	/* Module path (contains '/') or p11-kit registered module name.
	 * Overrides the URI's module-path/module-name. */
	const char *module;
	/*
	 * PIN source: "file:PATH", "env:NAME", "fd:N", "cred:NAME"
	 * ($CREDENTIALS_DIRECTORY/NAME), "prompt". NULL = the URI's pin-source,
	 * then $CREDENTIALS_DIRECTORY/p11vault-pin, then a prompt if allowed.
	 * A pin-value in the URI is refused (it would sit in argv).
	 */
	const char *pin_source;
	unsigned max_sessions;   /* pool cap; 0 = 8; never above ulMaxSessionCount */
	int allow_prompt;        /* only vaultctl on a TTY sets this */
	unsigned max_retries;    /* recovery attempts per operation; 0 = 3 */
	int finalize_on_close;   /* C_Finalize at close (off: SoftHSM+OpenSSL 3 crash) */
	p11_outage_fn on_outage; /* may be NULL */
	void *on_outage_arg;
};

/* Load the module, C_Initialize, find the token. Does not log in. */
pv_err p11_token_open(const struct p11_token_opts *opts, p11_token **out) PV_WUR;
/* Close sessions (and finalize only if asked). NULL is fine. */
void p11_token_close(p11_token *tok);

/*
 * Read the PIN from the configured source into guarded memory and C_Login as
 * CKU_USER. Refuses when the token flags say final try or locked; never
 * retries a PIN the token rejected. No-op when already logged in. The PIN is
 * kept (guarded, no-access) only for re-login after recovery.
 */
pv_err p11_token_login(p11_token *tok) PV_WUR;

struct p11_token_info {
	char label[33];
	char manufacturer[33];
	char model[17];
	char serial[17];
	CK_FLAGS flags;
	CK_ULONG max_sessions; /* CK_EFFECTIVELY_INFINITE kept as is */
	CK_ULONG session_count;
	CK_ULONG max_pin_len, min_pin_len;
	CK_ULONG total_public_mem, free_public_mem;
	CK_ULONG total_private_mem, free_private_mem;
	CK_VERSION hw_version, fw_version;
	CK_SLOT_ID slot_id;
	char slot_description[65];
	char library_description[33];
	char library_manufacturer[33];
	CK_VERSION library_version;
	CK_VERSION cryptoki_version;
	char module_path[512]; /* or module name as given */
	unsigned pool_size;    /* sessions p11vault will use */
};
pv_err p11_token_get_info(p11_token *tok, struct p11_token_info *info) PV_WUR;

/* Mechanisms the token lists (malloc'd array; caller frees). */
pv_err p11_token_mechanisms(p11_token *tok, CK_MECHANISM_TYPE **list, size_t *count) PV_WUR;
pv_err p11_token_mechanism_info(p11_token *tok, CK_MECHANISM_TYPE mech, CK_MECHANISM_INFO *info) PV_WUR;

/*
 * "pkcs11:model=...;manufacturer=...;serial=...;token=..." identifying this
 * token, for building object URIs (malloc'd, caller frees).
 */
pv_err p11_token_uri(p11_token *tok, char **uri) PV_WUR;

/*
 * A reference to an object that survives recovery: the attributes used to
 * find it (narrow template: class plus CKA_ID and/or label/application) and
 * the cached handle, valid while the token generation is unchanged. The key
 * layer keeps these per (key name, version): its handle cache.
 */
#define P11_ID_MAX    64
#define P11_LABEL_MAX 128
typedef struct p11_obj {
	CK_OBJECT_CLASS cls;
	uint8_t id[P11_ID_MAX];
	size_t id_len;             /* 0 = do not match on CKA_ID */
	char label[P11_LABEL_MAX]; /* "" = do not match on CKA_LABEL */
	char application[64];      /* "" = do not match (CKO_DATA only) */
	CK_OBJECT_HANDLE handle;   /* CK_INVALID_HANDLE until found */
	unsigned long gen;         /* token generation the handle belongs to */
	/*
	 * Match CKA_TOKEN=TRUE too: a token object, never a session object.
	 * A session copy (p11_obj_copy_session) keeps the class, CKA_ID and
	 * label of its original, and every session of the process sees it.
	 */
	int token_only;
} p11_obj;

/*
 * The token generation now (it moves on whenever handles became stale).
 * Take it before the call that makes a handle: a recovery in between then
 * makes the handle look stale instead of current.
 */
unsigned long p11_token_generation(p11_token *tok);

/*
 * A reference for a raw handle h of class cls that was made (created,
 * unwrapped, found) in generation gen (p11_token_generation() taken before
 * that call). id/id_len and label (NULL = none) are how it is found again
 * after a recovery; without them a stale handle is an error, never a guess.
 */
void p11_obj_from_handle(p11_obj *obj, CK_OBJECT_CLASS cls, CK_OBJECT_HANDLE h, unsigned long gen,
			 const uint8_t *id, size_t id_len, const char *label);

/*
 * A session-object copy of the token object src: C_CopyObject with only
 * CKA_TOKEN=FALSE in the template (every other attribute, CKA_SENSITIVE and
 * CKA_EXTRACTABLE among them, as the original's). It is made on a pooled
 * session that is then pinned: session objects die with the session that
 * made them, so that session is kept open (parked when it must leave the
 * pool) while the token is open. *copy refers to it by handle only, in the
 * generation it was made in; when the generation moves on (a recovery, a
 * re-login, the loss of a session that made objects) it is never re-found:
 * a stale copy is an error (PV_ERR_USAGE) and a handle the token no longer
 * knows is reported without a recovery. The caller checks the copy's
 * attributes (p11_obj_get_bools) before it uses it, and destroys it with
 * p11_obj_destroy while its generation is current (a stale handle may name
 * another object by then: it is forgotten, never destroyed).
 */
pv_err p11_obj_copy_session(p11_token *tok, p11_obj *src, p11_obj *copy) PV_WUR;

/*
 * CK_BBOOL attributes of obj in one C_GetAttributeValue: vals[i] for
 * types[i], present[i] = 0 when the object has no such attribute (vals[i]
 * is then CK_FALSE).
 */
pv_err p11_obj_get_bools(p11_token *tok, p11_obj *obj, const CK_ATTRIBUTE_TYPE *types, size_t n,
			 CK_BBOOL *vals, int *present) PV_WUR;

/* Resolve obj->handle (if stale). NOT_FOUND if none, INTEGRITY if several. */
pv_err p11_obj_find(p11_token *tok, p11_obj *obj) PV_WUR;
/* Find the token objects of objs[0..n) at once: references that differ
 * only in class and share one CKA_ID (a key version's private key, public
 * key, certificate), all token_only, no label or application. One search,
 * where p11_obj_find would make one each (SoftHSM walks every object of the
 * token per search). A reference nothing matches keeps CK_INVALID_HANDLE
 * (PV_OK); two objects of one class are PV_ERR_INTEGRITY. */
pv_err p11_obj_find_group(p11_token *tok, p11_obj *objs, size_t n) PV_WUR;

/*
 * Handles of all objects matching tmpl (listing and adoption only: never on
 * a hot path). *out is malloc'd; caller frees.
 */
pv_err p11_find_all(p11_token *tok, const CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE **out,
		    size_t *count) PV_WUR;

/* One attribute's value, malloc'd (NOT_FOUND if the object lacks it or it
 * is sensitive). Works on a p11_obj (re-found on recovery) or a raw handle
 * fresh from p11_find_all/p11_create. */
pv_err p11_obj_get_attr(p11_token *tok, p11_obj *obj, CK_ATTRIBUTE_TYPE type, uint8_t **val,
			size_t *len) PV_WUR;
pv_err p11_handle_get_attr(p11_token *tok, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, uint8_t **val,
			   size_t *len) PV_WUR;
/* Convenience: CK_BBOOL / CK_ULONG attributes. */
pv_err p11_handle_get_bool(p11_token *tok, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, CK_BBOOL *v) PV_WUR;
pv_err p11_handle_get_ulong(p11_token *tok, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, CK_ULONG *v) PV_WUR;

pv_err p11_obj_set_attrs(p11_token *tok, p11_obj *obj, CK_ATTRIBUTE *tmpl, CK_ULONG n) PV_WUR;
pv_err p11_create_object(p11_token *tok, CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE *h) PV_WUR;
pv_err p11_obj_destroy(p11_token *tok, p11_obj *obj) PV_WUR;
pv_err p11_handle_destroy(p11_token *tok, CK_OBJECT_HANDLE h) PV_WUR;
/* Best effort: destroy obj if it is still there (a stale reference: nothing). */
void p11_obj_destroy_quietly(p11_token *tok, p11_obj *obj);

pv_err p11_generate_key_pair(p11_token *tok, CK_MECHANISM *mech, CK_ATTRIBUTE *pub, CK_ULONG npub,
			     CK_ATTRIBUTE *priv, CK_ULONG npriv, CK_OBJECT_HANDLE *hpub,
			     CK_OBJECT_HANDLE *hpriv) PV_WUR;
pv_err p11_generate_key(p11_token *tok, CK_MECHANISM *mech, CK_ATTRIBUTE *tmpl, CK_ULONG n,
			CK_OBJECT_HANDLE *h) PV_WUR;

/*
 * Single-part sign: *siglen is the capacity of sig on entry and the length
 * on return (PV_ERR_TOO_LARGE if too small).
 */
pv_err p11_sign(p11_token *tok, CK_MECHANISM *mech, p11_obj *key, const uint8_t *in, size_t inlen,
		uint8_t *sig, size_t *siglen) PV_WUR;
/* PV_ERR_BAD_SIGNATURE when the token says CKR_SIGNATURE_INVALID/LEN_RANGE. */
pv_err p11_verify(p11_token *tok, CK_MECHANISM *mech, p11_obj *key, const uint8_t *in, size_t inlen,
		  const uint8_t *sig, size_t siglen) PV_WUR;

/*
 * Initialise a fresh token: the first slot whose token is not initialised
 * (SoftHSM's free slot), C_InitToken with the label and the SO PIN, then
 * C_InitPIN with the user PIN. Both PINs come from PIN sources (same syntax
 * as p11_token_opts.pin_source), never from argv. module as in the opts.
 */
pv_err p11_token_init(const char *module, const char *label, const char *so_pin_source,
		      const char *user_pin_source) PV_WUR;

/* Mapping of CKR_ values: every one to a pv_err, and its CKR_ name. */
pv_err p11_rv_to_err(CK_RV rv);
const char *p11_rv_name(CK_RV rv);
/* Name of a mechanism ("CKM_EDDSA") or "CKM_0x..." into buf. */
const char *p11_mech_name(CK_MECHANISM_TYPE mech, char *buf, size_t buflen);
/* Name of an attribute ("CKA_KEY_TYPE"), or words and its number (no hex)
 * into buf; and a CKR_ code in words with its name after them ("pin
 * incorrect (CKR_PIN_INCORRECT)") into buf. For error messages. */
const char *p11_attr_name(CK_ATTRIBUTE_TYPE type, char *buf, size_t buflen);
const char *p11_rv_text(CK_RV rv, char *buf, size_t buflen);
/* p11_rv_text into a buffer that lives until the end of the enclosing
 * block: for one error message (pv_err_set_detail copies it). */
#define P11_RV_TEXT(rv) p11_rv_text((rv), (char[96]){0}, 96)

/* Counters for tests, `token info` and metrics. */
struct p11_token_stats {
	unsigned long recoveries; /* sessions reopened / relogins */
	unsigned long reinits;    /* C_Finalize/C_Initialize cycles */
	unsigned long generation; /* bumps whenever handles became stale */
	unsigned pool_size, pool_in_use;
	int down;              /* an outage is in progress */
	unsigned long outages; /* outages started */
	double outage_seconds; /* total length, the current one included */
};
void p11_token_get_stats(p11_token *tok, struct p11_token_stats *st);

#endif
