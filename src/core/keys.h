/*
 * Key lifecycle on the token: create, list, rotate, activate, retire,
 * destroy, adopt, and the public half of each version.
 *
 * A keystore wraps one p11_token and caches, per (name, version), the
 * p11_obj references that find the token objects again (the handle cache),
 * so signing never searches the token once a key has been used.
 */
#ifndef PV_KEYS_H
#define PV_KEYS_H

#include <openssl/evp.h>

#include "base/err.h"
#include "core/keymeta.h"
#include "pkcs11/token.h"

typedef struct pv_keystore pv_keystore;

/* The keystore borrows tok (the caller closes it after the keystore). */
pv_err pv_keystore_new(p11_token *tok, pv_keystore **out) PV_WUR;
void pv_keystore_free(pv_keystore *ks);
p11_token *pv_keystore_token(pv_keystore *ks);
/* Forget cached metadata (handles stay valid; the token layer re-finds)
 * and drop the session copies. */
void pv_keystore_flush(pv_keystore *ks);
/* Trust a cached copy of a key's metadata for at most seconds (0, the
 * default, = until flushed: right for one-shot vaultctl). A long-running
 * service sets a few seconds, so a rotation made by another host sharing the
 * token is seen without a restart. */
void pv_keystore_set_meta_ttl(pv_keystore *ks, unsigned seconds);

/*
 * A number that names this keystore's cached state: it changes on every
 * pv_keystore_flush and no two keystores of the process share one (for
 * caches above the keystore, such as the JWT header cache).
 */
unsigned long pv_keystore_epoch(pv_keystore *ks);

/*
 * Sign with session-object copies of the keys (on: the long-running vaultd,
 * config token.session_key_copies; off, the default: vaultctl and other
 * short-lived users, for whom a copy costs more than it saves). Turning it
 * off destroys the copies.
 */
void pv_keystore_set_session_copies(pv_keystore *ks, int on);

/*
 * The session copy to sign (name, ver) with, obj being its token object
 * from pv_keys_resolve: SoftHSM reads a token key's object file in every
 * C_SignInit, a session object it keeps in memory. Only for the active
 * version, and only when copies are on; made on first use (C_CopyObject
 * with CKA_TOKEN=FALSE, nothing else changed) and checked like a new key:
 * CKA_SENSITIVE=TRUE, CKA_EXTRACTABLE=FALSE, CKA_PRIVATE=TRUE and the same
 * CKA_ID, usage and always-sensitive/never-extractable attributes as obj,
 * or destroyed again and not tried until the token recovers. Returns 1 and
 * *copy (give it back with pv_keys_copy_release) or 0: sign with obj.
 * A copy is dropped when its version stops being active in the metadata
 * the keystore reads, on pv_keystore_flush, and when the token generation
 * moves on (a recovery: it is made again).
 */
int pv_keys_copy_acquire(pv_keystore *ks, const char *name, const struct pv_key_version *ver, p11_obj *obj,
			 p11_obj *copy);
/* failed: signing with it did not work (it is dropped; obj signs). */
void pv_keys_copy_release(pv_keystore *ks, const p11_obj *copy, int failed);

/*
 * Version 1, active, with the given purpose (required; one that does not fit
 * alg is PV_ERR_USAGE with a detail listing those that do). The token usage
 * attributes follow the purpose (a wrap key has no CKA_SIGN, an ECDH key
 * only CKA_DERIVE, ...). Fails with PV_ERR_EXISTS, PV_ERR_NOT_HONOURED when
 * the token did not keep the protection or usage attributes (and leaves
 * nothing behind) ...
 */
pv_err pv_keys_create(pv_keystore *ks, const char *name, pv_alg alg, pv_key_purpose purpose,
		      struct pv_key **out) PV_WUR;
/* Give a key made before purposes existed its purpose, once (PV_ERR_STATE
 * when it has another one already; the same one is a no-op). */
pv_err pv_keys_set_purpose(pv_keystore *ks, const char *name, pv_key_purpose purpose) PV_WUR;
/* All p11vault keys on the token, sorted by name. */
pv_err pv_keys_list(pv_keystore *ks, struct pv_key ***out, size_t *count) PV_WUR;
void pv_keys_list_free(struct pv_key **keys, size_t count);
pv_err pv_keys_get(pv_keystore *ks, const char *name, struct pv_key **out) PV_WUR;

/* New version (same algorithm and purpose; PV_ERR_PURPOSE for a key
 * without one): active (previous active ->
 * verify-only) or next. */
pv_err pv_keys_rotate(pv_keystore *ks, const char *name, int as_next, unsigned *new_version) PV_WUR;
pv_err pv_keys_activate(pv_keystore *ks, const char *name, unsigned version) PV_WUR;
pv_err pv_keys_retire(pv_keystore *ks, const char *name, unsigned version) PV_WUR;
/* Only retired versions; destroying the last one removes the key. */
pv_err pv_keys_destroy(pv_keystore *ks, const char *name, unsigned version) PV_WUR;
/*
 * Taking a key out of service (docs/cli.md "key disable", "key delete").
 * Each is one change under the key's change lock, kept in its metadata on
 * the token so every replica agrees. A disabled key refuses every use in
 * pv_keys_resolve (PV_ERR_STATE); its metadata and public keys stay
 * readable.
 *
 * disable: idempotent. enable: PV_ERR_STATE while a deletion is scheduled.
 * schedule_delete: disables the key and sets its deletion time at (unix
 * seconds; a later call replaces it). cancel_delete: the key stays
 * disabled; PV_ERR_STATE when none is scheduled. A changed flag (may be
 * NULL) says whether the metadata was written.
 */
pv_err pv_keys_disable(pv_keystore *ks, const char *name, int *changed) PV_WUR;
pv_err pv_keys_enable(pv_keystore *ks, const char *name, int *changed) PV_WUR;
pv_err pv_keys_schedule_delete(pv_keystore *ks, const char *name, int64_t at) PV_WUR;
pv_err pv_keys_cancel_delete(pv_keystore *ks, const char *name) PV_WUR;
/*
 * Destroy name if its scheduled deletion is due at now (pv_key_clock_now):
 * under the change lock, every version's token objects, then the metadata
 * object. *destroyed = 1 when this call destroyed it; 0 (PV_OK) when it is
 * not due, not scheduled, or already gone (another replica was first).
 */
pv_err pv_keys_purge(pv_keystore *ks, const char *name, int64_t now, int *destroyed) PV_WUR;
/* Resolve without the in-service check: for reading public halves only. */
pv_err pv_keys_resolve_any(pv_keystore *ks, const char *name, unsigned version, struct pv_key **key,
			   struct pv_key_version *ver, p11_obj *obj) PV_WUR;

/* Take over an existing token key (private or secret) found by URI, for
 * purpose (which must fit its algorithm and its token usage attributes).
 * A token key that already is a version of a p11vault key is refused
 * (PV_ERR_EXISTS): one key material, one purpose. */
pv_err pv_keys_adopt(pv_keystore *ks, const char *uri, const char *name, pv_key_purpose purpose,
		     struct pv_key **out) PV_WUR;

/*
 * Key repair: find what older versions, crashes and races left on the token
 * and, with fix, repair it under the key's change lock: metadata copies
 * claiming one serial ("tie": merged, the other copy's versions renumbered
 * and kept verify-only), lower-serial or unreadable copies (removed), key
 * objects labelled NAME.vN that no metadata names ("orphan": destroyed),
 * stale change locks (removed). name NULL = every key. Each finding goes to
 * fn (kind: "tie", "stale-copy", "unreadable-copy", "orphan", "stale-lock";
 * what: one line for people); *found counts them.
 */
typedef void (*pv_keys_repair_fn)(void *arg, const char *name, const char *kind, const char *what);
pv_err pv_keys_repair(pv_keystore *ks, const char *name, int fix, pv_keys_repair_fn fn, void *arg,
		      size_t *found) PV_WUR;

/*
 * Resolve (name, version) for an operation: version 0 = the active one.
 * *obj receives the reference to the private/secret key object. A
 * disabled key is PV_ERR_STATE (pv_key_check_enabled): the one place
 * every signing, decrypting, unwrapping and deriving path passes.
 */
pv_err pv_keys_resolve(pv_keystore *ks, const char *name, unsigned version, struct pv_key **key,
		       struct pv_key_version *ver, p11_obj *obj) PV_WUR;
/* Store a (re-)resolved object reference in the handle cache, e.g. after
 * an operation during which the token layer had to find it again. */
void pv_keys_remember(pv_keystore *ks, const char *name, unsigned version, const p11_obj *obj);
/* Public key of an asymmetric version, as an OpenSSL key. */
pv_err pv_keys_public(pv_keystore *ks, const struct pv_key *key, const struct pv_key_version *ver,
		      EVP_PKEY **out) PV_WUR;
/* "pkcs11:...;object=NAME.vN;id=...;type=private|secret-key" (malloc'd). */
pv_err pv_keys_uri(pv_keystore *ks, const struct pv_key *key, const struct pv_key_version *ver,
		   char **out) PV_WUR;
/* Token label of a version's objects: "NAME.vN" (adopted keys keep theirs). */
void pv_keys_label(const struct pv_key *key, const struct pv_key_version *ver, char *buf, size_t len);

#endif
