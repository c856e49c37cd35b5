/*
 * Scheduled rotation: which step of a key's schedule comes next (pure) and
 * making it once under the key's change lock (keys_schedule.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/keys_internal.h"
#include "core/keys_schedule.h"

/* attempts of a step overtaken by another writer (as keys_lifecycle.c) */
#define SCHED_TRIES 4

const char *
pv_sched_kind_name(enum pv_sched_kind k)
{
	switch (k) {
	case PV_SCHED_PUBLISH:
		return "publish";
	case PV_SCHED_ACTIVATE:
		return "activate";
	case PV_SCHED_RETIRE:
		return "retire";
	case PV_SCHED_NONE:
		break;
	}
	return "none";
}

/* Keep cand in *best when it is earlier (ties: the lower kind). */
static void
earliest(struct pv_sched_step *best, enum pv_sched_kind kind, unsigned version, int64_t at)
{
	if (best->kind == PV_SCHED_NONE || at < best->at || (at == best->at && kind < best->kind)) {
		best->kind = kind;
		best->version = version;
		best->at = at;
	}
}

int
pv_key_schedule_next(const struct pv_key *k, int64_t now, struct pv_sched_step *out)
{
	const struct pv_key_schedule *s = &k->schedule;
	const struct pv_key_version *act = NULL, *next = NULL;
	struct pv_sched_step best = {PV_SCHED_NONE, 0, 0};
	size_t i;

	(void)now; /* the step is the same whenever asked; the caller compares */
	memset(out, 0, sizeof(*out));
	if (s->every <= 0 || k->disabled != 0 || k->delete_at != 0 || k->nversions == 0)
		return 0;
	for (i = 0; i < k->nversions; i++) {
		const struct pv_key_version *v = &k->versions[i];

		if (v->state == PV_STATE_ACTIVE && act == NULL)
			act = v;
		else if (v->state == PV_STATE_NEXT && next == NULL)
			next = v;
		else if (v->state == PV_STATE_VERIFY_ONLY && v->demoted != 0)
			earliest(&best, PV_SCHED_RETIRE, v->version, v->demoted + s->retire_after);
	}
	if (act != NULL && act->activated != 0) {
		if (next == NULL) {
			earliest(&best, PV_SCHED_PUBLISH, k->versions[k->nversions - 1].version + 1,
				 act->activated + s->every - s->publish_ahead);
		} else {
			int64_t at = act->activated + s->every;
			int64_t wait =
			    s->publish_ahead > PV_SCHEDULE_GRACE ? s->publish_ahead - PV_SCHEDULE_GRACE : 0;

			/* published late (a replica was down): still in the JWKS
			 * about publish_ahead before it signs */
			if (next->created + wait > at)
				at = next->created + wait;
			earliest(&best, PV_SCHED_ACTIVATE, next->version, at);
		}
	}
	if (best.kind == PV_SCHED_NONE)
		return 0;
	*out = best;
	return 1;
}

pv_err
pv_key_schedule_purpose(const char *name, pv_key_purpose p)
{
	switch (p) {
	case PV_PURPOSE_JWT:
	case PV_PURPOSE_SIGN:
	case PV_PURPOSE_WRAP:
	case PV_PURPOSE_DECRYPT:
	case PV_PURPOSE_DERIVE:
	case PV_PURPOSE_AUDIT:
		return PV_OK;
	case PV_PURPOSE_SOLANA:
	case PV_PURPOSE_EVM:
		pv_err_set_detail("key '%s' is a %s wallet key: an address change is not a rotation, so it "
				  "cannot have a rotation schedule",
				  name, pv_key_purpose_name(p));
		return PV_ERR_PURPOSE;
	case PV_PURPOSE_NONE:
	case PV_PURPOSE_COUNT:
		break;
	}
	pv_err_set_detail("key '%s' has no purpose (made by an earlier version); give it one with "
			  "`vaultctl key set-purpose %s PURPOSE`",
			  name, name);
	return PV_ERR_PURPOSE;
}

/* One attempt of the due step; PV_ERR_CHANGED when another writer overtook. */
static pv_err
run_once(pv_keystore *ks, const char *name, struct pv_sched_step *done)
{
	struct pv_key *k = NULL;
	struct pv_key_version *v = NULL, *prev = NULL, *nv = NULL;
	struct pv_sched_step step;
	struct meta_loc mobj;
	struct ks_lock lk = {.handle = CK_INVALID_HANDLE};
	uint8_t id[KEY_ID_LEN];
	int64_t now;
	pv_err r;

	memset(done, 0, sizeof(*done));
	if ((r = ks_lock(ks, name, &lk)) != PV_OK || (r = ks_load_for_change(ks, name, &k, &mobj)) != PV_OK)
		goto out;
	/* the clock is read inside the lock: what is due is decided on the
	 * metadata just read, so a step another replica made is seen */
	now = pv_key_clock_now();
	if (!pv_key_schedule_next(k, now, &step) || step.at > now)
		goto out;
	switch (step.kind) {
	case PV_SCHED_PUBLISH:
		/* like `vaultctl key rotate --next`: the token key first, the
		 * metadata pointing at it second (undone on failure) */
		if (k->purpose == PV_PURPOSE_NONE) {
			r = pv_key_check_purpose(k, PV_PURPOSE_NONE);
			goto out;
		}
		step.version = k->versions[k->nversions - 1].version + 1;
		if ((r = ks_generate_version(ks, name, k->alg, k->purpose, step.version, id, sizeof(id))) !=
		    PV_OK)
			goto out;
		if ((r = pv_key_add_version(k, PV_STATE_NEXT, id, sizeof(id), 0, &nv)) != PV_OK ||
		    (r = ks_meta_store(ks, k, &mobj, 0)) != PV_OK) {
			ks_undo_version(ks, k->alg, id, sizeof(id), r);
			goto out;
		}
		step.version = nv->version;
		break;
	case PV_SCHED_ACTIVATE:
		if ((v = pv_key_find_version(k, step.version)) == NULL || (prev = pv_key_active(k)) == NULL) {
			r = PV_ERR_INTERNAL;
			goto out;
		}
		prev->state = PV_STATE_VERIFY_ONLY;
		prev->demoted = now;
		v->state = PV_STATE_ACTIVE;
		/* on time (or a little late): the due time, so the schedule
		 * does not drift; a period or more late: now */
		v->activated = now - step.at >= k->schedule.every ? now : step.at;
		v->demoted = 0;
		if ((r = ks_meta_store(ks, k, &mobj, 0)) != PV_OK)
			goto out;
		break;
	case PV_SCHED_RETIRE:
		if ((v = pv_key_find_version(k, step.version)) == NULL) {
			r = PV_ERR_INTERNAL;
			goto out;
		}
		v->state = PV_STATE_RETIRED;
		if ((r = ks_meta_store(ks, k, &mobj, 0)) != PV_OK)
			goto out;
		break;
	case PV_SCHED_NONE:
		goto out;
	}
	*done = step;
out:
	ks_unlock(ks, &lk);
	pv_key_free(k);
	return r;
}

pv_err
pv_keys_schedule_run(pv_keystore *ks, const char *name, struct pv_sched_step *done)
{
	pv_err r = PV_ERR_CHANGED;

	for (unsigned i = 0; i < SCHED_TRIES && r == PV_ERR_CHANGED; i++)
		r = run_once(ks, name, done);
	if (r == PV_ERR_CHANGED)
		pv_err_set_detail("key '%s' was changed concurrently %d times; try again", name, SCHED_TRIES);
	if (r != PV_OK)
		memset(done, 0, sizeof(*done));
	return r;
}

static pv_err
set_once(pv_keystore *ks, const char *name, const struct pv_key_schedule *s, int *changed)
{
	struct pv_key *k = NULL;
	struct meta_loc mobj;
	struct ks_lock lk = {.handle = CK_INVALID_HANDLE};
	int64_t now = pv_key_clock_now();
	pv_err r;

	if ((r = ks_lock(ks, name, &lk)) != PV_OK || (r = ks_load_for_change(ks, name, &k, &mobj)) != PV_OK)
		goto out;
	if (s->every == 0) {
		if (k->schedule.every == 0)
			goto out; /* none: nothing to do */
		memset(&k->schedule, 0, sizeof(k->schedule));
	} else {
		if ((r = pv_key_schedule_purpose(name, k->purpose)) != PV_OK)
			goto out;
		k->schedule = *s;
		/* times an older writer did not keep: counted from now, so
		 * nothing is activated or retired at once */
		for (size_t i = 0; i < k->nversions; i++) {
			struct pv_key_version *v = &k->versions[i];

			if (v->state == PV_STATE_ACTIVE && v->activated == 0)
				v->activated = now;
			if (v->state == PV_STATE_VERIFY_ONLY && v->demoted == 0)
				v->demoted = now;
		}
	}
	if ((r = ks_meta_store(ks, k, &mobj, 0)) == PV_OK && changed != NULL)
		*changed = 1;
out:
	ks_unlock(ks, &lk);
	pv_key_free(k);
	return r;
}

pv_err
pv_keys_set_schedule(pv_keystore *ks, const char *name, const struct pv_key_schedule *s, int *changed)
{
	struct pv_key_schedule off = {0, 0, 0};
	pv_err r = PV_ERR_CHANGED;

	if (changed != NULL)
		*changed = 0;
	if (s == NULL)
		s = &off;
	if (s->every != 0 && (r = pv_key_schedule_check(s)) != PV_OK)
		return r;
	r = PV_ERR_CHANGED;
	for (unsigned i = 0; i < SCHED_TRIES && r == PV_ERR_CHANGED; i++)
		r = set_once(ks, name, s, changed);
	if (r == PV_ERR_CHANGED)
		pv_err_set_detail("key '%s' was changed concurrently %d times; try again", name, SCHED_TRIES);
	return r;
}

pv_err
pv_duration_parse(const char *s, int64_t *out)
{
	int64_t n = 0, unit;
	const char *p = s;

	*out = 0;
	if (s == NULL || *s < '1' || *s > '9')
		goto bad;
	for (; *p >= '0' && *p <= '9'; p++) {
		n = n * 10 + (*p - '0');
		if (n > PV_SCHEDULE_MAX)
			goto bad;
	}
	switch (*p) {
	case 's':
		unit = 1;
		break;
	case 'm':
		unit = 60;
		break;
	case 'h':
		unit = 3600;
		break;
	case 'd':
		unit = 86400;
		break;
	default:
		goto bad;
	}
	if (p[1] != '\0' || n > PV_SCHEDULE_MAX / unit)
		goto bad;
	*out = n * unit;
	return PV_OK;
bad:
	pv_err_set_detail("'%.32s' is not a duration (a number and s, m, h or d, e.g. 12h or 7d; at most 10 "
			  "years)",
			  s != NULL ? s : "");
	return PV_ERR_USAGE;
}

void
pv_duration_text(int64_t secs, char *buf, size_t len)
{
	static const struct {
		int64_t n;
		char c;
	} units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};

	for (size_t i = 0; i < PV_NELEM(units); i++) {
		if (secs != 0 && secs % units[i].n == 0) {
			snprintf(buf, len, "%lld%c", (long long)(secs / units[i].n), units[i].c);
			return;
		}
	}
	snprintf(buf, len, "0s");
}

pv_err
pv_key_schedule_json(const struct pv_key *k, int64_t now, cJSON *o)
{
	struct pv_sched_step st;
	cJSON *sch, *nx;
	char when[32];
	pv_err r;

	if (k->schedule.every == 0) {
		if (cJSON_AddNullToObject(o, "schedule") == NULL ||
		    cJSON_AddNullToObject(o, "next_step") == NULL)
			return PV_ERR_NOMEM;
		return PV_OK;
	}
	if ((sch = cJSON_AddObjectToObject(o, "schedule")) == NULL ||
	    !cJSON_AddNumberToObject(sch, "every", (double)k->schedule.every) ||
	    !cJSON_AddNumberToObject(sch, "publish_ahead", (double)k->schedule.publish_ahead) ||
	    !cJSON_AddNumberToObject(sch, "retire_after", (double)k->schedule.retire_after))
		return PV_ERR_NOMEM;
	if (!pv_key_schedule_next(k, now, &st)) {
		if (cJSON_AddNullToObject(o, "next_step") == NULL)
			return PV_ERR_NOMEM;
		return PV_OK;
	}
	if ((r = pv_key_time_text(st.at, when, sizeof(when))) != PV_OK)
		return r;
	if ((nx = cJSON_AddObjectToObject(o, "next_step")) == NULL ||
	    !cJSON_AddStringToObject(nx, "step", pv_sched_kind_name(st.kind)) ||
	    !cJSON_AddNumberToObject(nx, "version", st.version) || !cJSON_AddStringToObject(nx, "at", when) ||
	    !cJSON_AddBoolToObject(nx, "due", st.at <= now))
		return PV_ERR_NOMEM;
	return PV_OK;
}

void
pv_key_schedule_text(const struct pv_key *k, int64_t now, char *buf, size_t len)
{
	struct pv_sched_step st;
	char every[24], ahead[24], after[24], when[32] = "?";
	int n;

	if (len == 0)
		return;
	buf[0] = '\0';
	if (k->schedule.every == 0)
		return;
	pv_duration_text(k->schedule.every, every, sizeof(every));
	pv_duration_text(k->schedule.publish_ahead, ahead, sizeof(ahead));
	pv_duration_text(k->schedule.retire_after, after, sizeof(after));
	n = snprintf(buf, len, "key '%s' rotates every %s (publish-ahead %s, retire-after %s)", k->name,
		     every, ahead, after);
	if (n < 0 || (size_t)n >= len)
		return;
	if (!pv_key_schedule_next(k, now, &st)) {
		snprintf(buf + n, len - (size_t)n, "%s",
			 k->disabled != 0 ? ": paused while disabled" : ": no step (no active version)");
		return;
	}
	(void)!pv_key_time_text(st.at, when, sizeof(when));
	snprintf(buf + n, len - (size_t)n, ": next %s of version %u at %s%s", pv_sched_kind_name(st.kind),
		 st.version, when, st.at <= now ? " (due)" : "");
}
