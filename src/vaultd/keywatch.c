/*
 * The key watch: every metadata refresh period, vaultd lists the keys on
 * the token and writes an audit record for each change of service it sees
 * (key.disable, key.enable, key.delete-scheduled, key.delete-cancelled,
 * key.gone: vaultctl's commands reach vaultd only through the token), and destroys
 * the keys whose scheduled deletion is due (key.destroy), under the key's
 * change lock so that of several replicas one destroys it. docs/audit.md
 * "Key service records".
 *
 * It also runs the keys' rotation schedules (docs/jwt.md "Scheduled
 * rotation in vaultd"): for a key with a schedule whose next step is due,
 * pv_keys_schedule_run does it under the key's change lock after reading
 * the metadata again, so of several replicas exactly one performs each
 * step; the one that did writes key.schedule.publish/activate/retire and
 * logs one line. A step that fails (the token away) is tried again at the
 * next sweep; one missed while vaultd was down is due at the first sweep.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/audit.h"
#include "core/keys.h"
#include "core/keys_schedule.h"
#include "vaultd/keeper.h"
#include "vaultd/keeper_int.h"
#include "vaultd/keywatch.h"

struct seen {
	char name[PV_KEY_NAME_MAX + 1];
	int64_t disabled, delete_at;
	int sched_failing; /* its last schedule step failed (logged once) */
};

struct vd_keywatch {
	struct vd_daemon *d;
	unsigned period;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t wake;
	int stop;
	struct seen *seen; /* the previous sweep; NULL before the first */
	size_t nseen;
	int swept;
	void (*log)(const char *msg);
};

/* At most this many schedule steps for one key in one sweep (one is due
 * at a time; after a long stop a retirement and an activation may both be). */
#define SCHED_STEPS_MAX 8

static void
record_version(struct vd_keywatch *w, const char *op, const char *name, unsigned version,
	       pv_audit_outcome outcome)
{
	struct pv_audit_rec rec;
	char msg[200];

	memset(&rec, 0, sizeof(rec));
	rec.rid = "";
	rec.client = "vaultd";
	rec.op = op;
	rec.key = name;
	rec.version = version;
	rec.outcome = outcome;
	if (w->d->audit != NULL && pv_audit_write(w->d->audit, &rec) != PV_OK && w->log != NULL) {
		snprintf(msg, sizeof(msg), "key watch: cannot write the audit record %s for key '%s'", op,
			 name);
		w->log(msg);
	}
}

static void
record(struct vd_keywatch *w, const char *op, const char *name, pv_audit_outcome outcome)
{
	record_version(w, op, name, 0, outcome);
}

/*
 * Run key's due schedule steps, one pv_keys_schedule_run each, until none
 * is due. Returns how many this vaultd performed. *failing: whether the
 * last step tried failed; a failure is logged when it was not set, so a
 * token outage gives one line per key, not one per sweep.
 */
static int
schedule_steps(struct vd_keywatch *w, pv_keystore *ks, const struct pv_key *k, int64_t now, int *failing)
{
	struct pv_sched_step due, done;
	char op[40], at[32], msg[400];
	int n = 0, i;
	pv_err r;

	/* pv_key_schedule_next gives the next step whenever it is due */
	if (k->schedule.every == 0 || !pv_key_schedule_next(k, now, &due) || due.at > now)
		return 0;
	for (i = 0; i < SCHED_STEPS_MAX; i++) {
		memset(&done, 0, sizeof(done));
		if ((r = pv_keys_schedule_run(ks, k->name, &done)) != PV_OK) {
			if (w->log != NULL && !*failing) {
				snprintf(
				    msg, sizeof(msg),
				    "key schedule: key '%s': the %s step failed, tried again at the next sweep: %s",
				    k->name, pv_sched_kind_name(due.kind),
				    pv_err_detail()[0] ? pv_err_detail() : pv_strerror(r));
				w->log(msg);
			}
			*failing = 1;
			break;
		}
		*failing = 0;
		if (done.kind == PV_SCHED_NONE)
			break; /* nothing due any more: done (by another replica too) */
		snprintf(op, sizeof(op), "key.schedule.%s", pv_sched_kind_name(done.kind));
		record_version(w, op, k->name, done.version, PV_AUDIT_OK);
		n++;
		if (w->log != NULL) {
			if (pv_key_time_text(done.at, at, sizeof(at)) != PV_OK)
				snprintf(at, sizeof(at), "%lld", (long long)done.at);
			snprintf(msg, sizeof(msg), "key schedule: key '%s': %s version %u (due %s)", k->name,
				 pv_sched_kind_name(done.kind), done.version, at);
			w->log(msg);
		}
	}
	return n;
}

static const struct seen *
find_seen(const struct vd_keywatch *w, const char *name)
{
	for (size_t i = 0; i < w->nseen; i++)
		if (strcmp(w->seen[i].name, name) == 0)
			return &w->seen[i];
	return NULL;
}

/* The records for what changed between before (NULL: unknown) and key. */
static int
changes(struct vd_keywatch *w, const struct seen *before, const struct pv_key *key)
{
	int64_t dis0 = before ? before->disabled : 0, del0 = before ? before->delete_at : 0;
	int n = 0;

	if (key->delete_at != 0 && key->delete_at != del0) {
		record(w, "key.delete-scheduled", key->name, PV_AUDIT_OK);
		n++;
	} else if (key->disabled != 0 && dis0 == 0) {
		record(w, "key.disable", key->name, PV_AUDIT_OK);
		n++;
	}
	if (del0 != 0 && key->delete_at == 0) {
		record(w, "key.delete-cancelled", key->name, PV_AUDIT_OK);
		n++;
	}
	if (dis0 != 0 && key->disabled == 0) {
		record(w, "key.enable", key->name, PV_AUDIT_OK);
		n++;
	}
	return n;
}

static void
sweep(struct vd_keywatch *w)
{
	pv_keystore *ks = vd_keeper_ks(w->d->keeper);
	struct pv_key **keys = NULL;
	struct seen *now_seen = NULL;
	size_t n = 0, i, kept = 0;
	int64_t now = pv_key_clock_now();
	int destroyed, changed = 0;
	char msg[300];
	pv_err r;

	if (pv_keys_list(ks, &keys, &n) != PV_OK)
		return; /* a token outage: the next sweep tries again */
	if (n > 0 && (now_seen = calloc(n, sizeof(*now_seen))) == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		const struct pv_key *k = keys[i];
		const struct seen *before;

		if (w->swept)
			changed += changes(w, find_seen(w, k->name), k);
		if (pv_key_delete_due(k, now)) {
			destroyed = 0;
			if ((r = pv_keys_purge(ks, k->name, now, &destroyed)) != PV_OK) {
				record(w, "key.destroy", k->name, PV_AUDIT_ERROR);
				if (w->log != NULL) {
					snprintf(msg, sizeof(msg),
						 "key watch: destroying key '%s' failed: %s", k->name,
						 pv_err_detail()[0] ? pv_err_detail() : pv_strerror(r));
					w->log(msg);
				}
			} else if (destroyed) {
				record(w, "key.destroy", k->name, PV_AUDIT_OK);
				changed++;
				continue;
			}
		}
		before = find_seen(w, k->name);
		now_seen[kept].sched_failing = before != NULL ? before->sched_failing : 0;
		changed += schedule_steps(w, ks, k, now, &now_seen[kept].sched_failing);
		snprintf(now_seen[kept].name, sizeof(now_seen[kept].name), "%s", k->name);
		now_seen[kept].disabled = k->disabled;
		now_seen[kept].delete_at = k->delete_at;
		kept++;
	}
	/* a key seen last time and gone now: destroyed by vaultctl or another
	 * replica (this one writes key.destroy for its own) */
	for (i = 0; w->swept && i < w->nseen; i++) {
		size_t j;

		for (j = 0; j < n && strcmp(keys[j]->name, w->seen[i].name) != 0; j++) {
		}
		if (j == n) {
			record(w, "key.gone", w->seen[i].name, PV_AUDIT_OK);
			changed++;
		}
	}
	free(w->seen);
	w->seen = now_seen;
	w->nseen = kept;
	now_seen = NULL;
	w->swept = 1;
	/* the JWK Set and the cached metadata follow at once */
	if (changed)
		vd_keeper_flush(w->d->keeper);
out:
	free(now_seen);
	pv_keys_list_free(keys, n);
}

static void *
watch_main(void *arg)
{
	struct vd_keywatch *w = arg;
	struct timespec until;

	pthread_mutex_lock(&w->mu);
	while (!w->stop) {
		pthread_mutex_unlock(&w->mu);
		sweep(w);
		pthread_mutex_lock(&w->mu);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += w->period;
		while (!w->stop && pthread_cond_timedwait(&w->wake, &w->mu, &until) == 0) {
		}
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

pv_err
vd_keywatch_start(struct vd_daemon *d, unsigned period, void (*log)(const char *msg),
		  struct vd_keywatch **out)
{
	struct vd_keywatch *w;

	*out = NULL;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return PV_ERR_NOMEM;
	w->d = d;
	w->period = period ? period : 1;
	w->log = log;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->wake, NULL);
	if (pthread_create(&w->th, NULL, watch_main, w) != 0) {
		pthread_cond_destroy(&w->wake);
		pthread_mutex_destroy(&w->mu);
		free(w);
		pv_err_set_detail("cannot start the key watch");
		return PV_ERR_INTERNAL;
	}
	*out = w;
	return PV_OK;
}

void
vd_keywatch_stop(struct vd_keywatch *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->th, NULL);
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->mu);
	free(w->seen);
	free(w);
}
