/*
 * Shared between the keys_*.c files only (the public API is keys.h): the
 * keystore's layout and the steps each file offers the others.
 */
#ifndef PV_KEYS_INTERNAL_H
#define PV_KEYS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "core/keys.h"

#define KEY_ID_LEN  16
#define APPLICATION "p11vault"

/* The per-key change lock (keys_lock.c). A change takes a few seconds at
 * most (an RSA-4096 generation on a slow token); a lock older than
 * KS_LOCK_STALE_S belongs to a writer that died. */
#define KS_LOCK_APPLICATION "p11vault-lock"
#define KS_LOCK_STALE_S     120
#define KS_LOCK_WAIT_S      60

struct pv_keystore {
	p11_token *tok;
	pthread_mutex_t mu; /* guards the caches only; never held across a token call */
	struct pv_key **meta;
	time_t *meta_at; /* when each cached copy was read (CLOCK_MONOTONIC s) */
	size_t nmeta;
	unsigned meta_ttl;            /* seconds a cached copy is trusted; 0 = until flushed */
	struct handle_entry *handles; /* the handle cache, per (name, version) */
	size_t nhandles;
	struct pv_pubcache *pub; /* public keys per (name, version, id); own lock */
	/* session-object copies of signing keys (keys_cache.c); under mu */
	int session_copies; /* pv_keystore_set_session_copies; off by default */
	struct ks_copy *copies;
	size_t ncopies;
	unsigned long copy_ticket;   /* numbers copy entries (the maker finds its own) */
	_Atomic unsigned long epoch; /* pv_keystore_epoch */
};

/*
 * Where a key's metadata lives. Tokens (SoftHSM among them) may refuse to
 * modify CKA_VALUE of a data object, so an update writes a new object with
 * a higher serial and then destroys the old one; a reader takes the highest
 * serial, so a crash between the two steps loses nothing.
 */
#define META_OLD_MAX 4
struct meta_loc {
	CK_OBJECT_HANDLE cur;
	CK_OBJECT_HANDLE old[META_OLD_MAX];
	size_t nold;
};

/* keys_cache.c */
void ks_cache_put(pv_keystore *ks, const char *name, const struct pv_key *key);
pv_err ks_cache_get(pv_keystore *ks, const char *name, struct pv_key **out) PV_WUR;
int ks_cache_knows(pv_keystore *ks, const char *name);
int ks_handle_get(pv_keystore *ks, const char *name, unsigned version, p11_obj *obj);

/* The session copy of (name, version), if one is ready (tests). */
int ks_copy_peek(pv_keystore *ks, const char *name, unsigned version, p11_obj *copy);

/* keys_meta.c */
pv_err ks_meta_load(pv_keystore *ks, const char *name, struct pv_key **out, struct meta_loc *loc) PV_WUR;
pv_err ks_meta_load_settled(pv_keystore *ks, const char *name, struct pv_key **out,
			    struct meta_loc *loc) PV_WUR;
pv_err ks_meta_remove(pv_keystore *ks, const struct meta_loc *loc) PV_WUR;
pv_err ks_meta_store(pv_keystore *ks, struct pv_key *key, struct meta_loc *loc, int create) PV_WUR;
pv_err ks_load_for_change(pv_keystore *ks, const char *name, struct pv_key **key,
			  struct meta_loc *mobj) PV_WUR;
pv_err ks_find_version(struct pv_key *key, unsigned version, struct pv_key_version **v) PV_WUR;
pv_err ks_load_version_for_change(pv_keystore *ks, const char *name, unsigned version, struct pv_key **key,
				  struct pv_key_version **ver, struct meta_loc *mobj) PV_WUR;

/* keys_gen.c */
void ks_obj_ref(const struct pv_key_version *ver, CK_OBJECT_CLASS cls, p11_obj *obj);
CK_OBJECT_CLASS ks_secret_class(pv_alg alg);
pv_err ks_generate_version(pv_keystore *ks, const char *name, pv_alg alg, pv_key_purpose purpose,
			   unsigned version, uint8_t *id, size_t id_len) PV_WUR;
pv_err ks_destroy_version(pv_keystore *ks, const struct pv_key *key, const struct pv_key_version *ver) PV_WUR;
void ks_undo_version(pv_keystore *ks, pv_alg alg, const uint8_t *id, size_t id_len, pv_err r);
pv_err ks_purpose_fits(pv_alg alg, pv_key_purpose p) PV_WUR;

/* keys_lock.c */
struct ks_lock {
	CK_OBJECT_HANDLE handle; /* our lock object; CK_INVALID_HANDLE = not held */
	char nonce[33];
};
pv_err ks_lock(pv_keystore *ks, const char *name, struct ks_lock *lk) PV_WUR;
void ks_unlock(pv_keystore *ks, struct ks_lock *lk);
void ks_destroy_quietly(pv_keystore *ks, CK_OBJECT_HANDLE h);
/* A lock object's value says its writer died (too old, future-dated, not ours). */
int ks_lock_stale(const uint8_t *val, size_t len, int64_t now);

#endif
