/*
 * Inside the keeper: what keeper.c, keeper_policy.c and secrets.c share.
 * Nothing outside src/vaultd/{keeper,keeper_policy,secrets,state}.c and
 * the keeper's tests includes this.
 */
#ifndef PV_VAULTD_KEEPER_INT_H
#define PV_VAULTD_KEEPER_INT_H

#include <pthread.h>

#include "bundle/bundle.h"
#include "vaultd/keeper.h"

/* The bundle key objects' CKA_ID: random per unwrap, so that a search after
 * recovery can only find this very object. */
#define VD_BUNDLE_KEY_ID_LEN 16

struct vd_bundle_key {
	char name[PV_KEY_NAME_MAX + 1];
	pv_alg alg;
	pv_key_purpose purpose; /* the entry's; PV_PURPOSE_NONE: an older bundle */
	size_t entry;           /* index into bundle->entries */
	EVP_PKEY *pub;
};

struct vd_secret_val {
	char name[PV_ENTRY_NAME_MAX + 1];
	int kind;        /* PV_ENTRY_ENV / PV_ENTRY_FILE */
	int environment; /* origin "environment" (else "bundle") */
	pv_secret *value;
};

/* One row of the listing: a value or a bundle key. */
struct vd_secret_row {
	const char *name;
	int kind;
	int environment;
	size_t size;
};

struct vd_secrets {
	p11_token *tok;
	struct pv_bundle *bundle; /* NULL: none loaded */
	struct pv_bundle_read_opts ropts;
	char **expect; /* "name=value", what ropts.expect_ctx points to */
	size_t nexpect;
	struct vd_secret_val *vals; /* sorted by name */
	size_t nvals;
	struct vd_bundle_key *keys; /* sorted by name */
	size_t nkeys;
	struct vd_secret_row *rows; /* vals and keys together, sorted */
	size_t nrows;
	int key_import_fallback; /* cfg bundle.key_import_fallback */
	pv_sealer_trust *trust;  /* cfg bundle.trusted_sealers, what ropts.trust points to */
	/* Separate, so that a const struct vd_secrets (what a request holds)
	 * can still lock and refresh the key handles. */
	struct vd_secrets_sync *sync;
};

struct vd_secrets_sync {
	/* mu guards objs, gen and unwrapping; never held across a token call */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	p11_obj *objs;     /* per keys[i]: the session private key */
	unsigned long gen; /* token generation the objects were checked at */
	int unwrapping;    /* a thread is checking / re-unwrapping; others wait */
	/* serialises reading values: a pv_secret is made readable and locked
	 * again around each read, which must not interleave */
	pthread_mutex_t val_mu;
};

/* The token and keystore of the keeper (never handed to a handler). */
p11_token *vd_keeper_token(struct vd_keeper *k);
pv_keystore *vd_keeper_ks(struct vd_keeper *k);
/* Seconds a cached copy of a key's metadata is trusted (the refresh). */
unsigned vd_keeper_meta_ttl(struct vd_keeper *k);

/*
 * The decisions (keeper_policy.c), in the order every keyed call runs them:
 * the policy for q (q->op must be q->use's; fills q->decision), then, once
 * the key is found, its purpose (have) for q->use, then for signatures the
 * bytes to sign against q's intent and the rule's caps.
 */
pv_err vd_decide_policy(struct vd_keeper *k, struct vd_kreq *q) PV_WUR;
/* bundle: the key is a boot-bundle entry's (the detail names that fix) */
pv_err vd_decide_purpose(const struct vd_kreq *q, pv_key_purpose have, int bundle) PV_WUR;
pv_err vd_decide_intent(const struct vd_kreq *q, const uint8_t *msg, size_t len) PV_WUR;
/* A batch of n items for q->use: a use that signs in batches, 1..its
 * maximum items, and every item against its intent (vd_decide_intent). */
pv_err vd_decide_batch(const struct vd_kreq *q, const struct vd_batch_item *items, size_t n) PV_WUR;

/* The bundle key called name, or NULL. */
const struct vd_bundle_key *vd_secrets_key(const struct vd_secrets *s, const char *name);
/*
 * A usable reference to a bundle key's session object, re-unwrapping the
 * bundle's keys when the token lost them (once per token generation; other
 * threads wait meanwhile). force: the last use failed with NOT_FOUND.
 */
pv_err vd_secrets_key_obj(const struct vd_secrets *s, const char *name, int force, p11_obj *obj) PV_WUR;

/*
 * vd_secrets_load with a choice: with_bundle 0 reads only the environment
 * (used when the bundle failed and the failure is only a warning).
 * *bundle_failed (may be NULL) says whether a failure came from the bundle.
 */
pv_err vd_secrets_load_ex(struct vd_keeper *k, const struct pv_config *cfg, int with_bundle,
			  struct vd_secrets **out, int *bundle_failed) PV_WUR;

#endif
