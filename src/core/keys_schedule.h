/*
 * Scheduled rotation (docs/cli.md "key schedule", docs/jwt.md): a key with
 * a schedule (struct pv_key_schedule in its metadata) gets a `next` version
 * publish_ahead before each activation, activates it every `every`
 * seconds, and retires a verify-only version retire_after after it was
 * demoted. Steps are computed from the times stored in the metadata, so
 * every replica sharing the token computes the same ones; the step itself
 * is made under the key's change lock after re-reading the metadata, so
 * exactly one replica makes it. Destroying retired versions stays a human
 * decision (`vaultctl key destroy`).
 */
#ifndef PV_KEYS_SCHEDULE_H
#define PV_KEYS_SCHEDULE_H

#include <stdint.h>

#include "base/err.h"
#include "core/keymeta.h"
#include "core/keys.h"

/*
 * How late a `next` version may have been published (after its publish
 * time, activated + every - publish_ahead) without delaying its activation:
 * a replica polling every few seconds publishes a little late, and the
 * schedule should not drift by that each period. A `next` published later
 * than this activates publish_ahead - PV_SCHEDULE_GRACE after it was
 * published, so it is in the JWKS at least that long before it signs.
 */
#define PV_SCHEDULE_GRACE 60

enum pv_sched_kind { PV_SCHED_NONE = 0, PV_SCHED_PUBLISH, PV_SCHED_ACTIVATE, PV_SCHED_RETIRE };

struct pv_sched_step {
	enum pv_sched_kind kind;
	/* the version the step creates (PUBLISH: the number it will most
	 * likely get), activates or retires */
	unsigned version;
	int64_t at; /* when it is due (unix s) */
};

/*
 * Pure: the earliest step of k's schedule (k->schedule.every != 0, key in
 * service, not disabled), due or not: it is due when out->at <= now, and
 * the caller compares (key list shows a step that is not due yet). 1 = a
 * step, 0 = none.
 *
 * PUBLISH (no `next` version): at active.activated + every - publish_ahead;
 * version = the number it will most likely get (last + 1).
 * ACTIVATE (a `next` exists, the lowest one): at the later of
 * active.activated + every and next.created + publish_ahead -
 * PV_SCHEDULE_GRACE (never earlier than next.created: a `next` published
 * late still waits in the JWKS before it signs).
 * RETIRE (each verify-only version with a known demoted time): at
 * demoted + retire_after.
 * Ties go to the kind listed first. No step without an active version with
 * a known activated time; a verify-only version without a demoted time is
 * never retired by the schedule.
 */
int pv_key_schedule_next(const struct pv_key *k, int64_t now, struct pv_sched_step *out);

/*
 * Perform name's due step (now = pv_key_clock_now()) under the key's change
 * lock (src/core/keys_lock.c), re-reading the metadata inside the lock and
 * re-checking: *done gets what was done (kind PV_SCHED_NONE when nothing was
 * due any more — e.g. another replica did it). Never performs a step twice;
 * a version number is never reused. At most one step per call.
 *
 * ACTIVATE sets the old active version verify-only with demoted = now and
 * the new one activated = the step's due time, or now when more than one
 * period was missed (now >= at + every).
 */
pv_err pv_keys_schedule_run(pv_keystore *ks, const char *name, struct pv_sched_step *done) PV_WUR;

const char *pv_sched_kind_name(enum pv_sched_kind k); /* "publish", "activate", "retire" */

/*
 * Set (s->every != 0) or clear (s NULL or every 0) name's schedule under
 * its change lock. Setting: pv_key_schedule_check, a key of purpose jwt,
 * sign, wrap, decrypt, derive or audit (solana, evm: PV_ERR_PURPOSE, "an
 * address change is not a rotation"; none too; whether an audit key is the
 * one vaultd uses is for the caller to check), and versions whose
 * activated or demoted time is unknown get now. *changed (may be NULL):
 * whether the metadata was written.
 */
pv_err pv_keys_set_schedule(pv_keystore *ks, const char *name, const struct pv_key_schedule *s,
			    int *changed) PV_WUR;
/* Whether a key of purpose p may have a schedule (PV_OK) or why not. */
pv_err pv_key_schedule_purpose(const char *name, pv_key_purpose p) PV_WUR;

/*
 * "30s", "15m", "12h", "1d", "7d": a positive integer and one unit (s, m,
 * h, d), at most PV_SCHEDULE_MAX seconds. PV_ERR_USAGE otherwise.
 */
pv_err pv_duration_parse(const char *s, int64_t *out) PV_WUR;
/* The largest unit that divides secs exactly: "1d", "36h", "90m", "45s". */
void pv_duration_text(int64_t secs, char *buf, size_t len);

/*
 * Add what `key list --json`, `key show --json` and GET /v1/keys show of a
 * schedule to the object o: "schedule" ({"every","publish_ahead",
 * "retire_after"} in seconds, or null) and "next_step" ({"step":
 * "publish"|"activate"|"retire","version":N,"at":"ISO 8601 UTC","due":
 * bool}, or null when there is none).
 */
struct cJSON;
pv_err pv_key_schedule_json(const struct pv_key *k, int64_t now, struct cJSON *o) PV_WUR;
/* One line for people: "rotates every 1d (publish-ahead 2h, retire-after
 * 1d): next publish of version 3 at 2026-...Z" (+ " (due)"); "" when the key
 * has no schedule. */
void pv_key_schedule_text(const struct pv_key *k, int64_t now, char *buf, size_t len);

#endif
