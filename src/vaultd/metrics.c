/*
 * Counters and histograms for GET /metrics (Prometheus text format 0.0.4).
 * One mutex; each update is a table lookup and a few additions. The table
 * of (op, key) series is capped: past VD_METRICS_MAX_SERIES pairs, and for
 * labels longer than a key name, requests count into op="other",
 * key="other", so the output stays bounded whatever the callers pass.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vaultd/metrics.h"

#define VD_METRICS_MAX_SERIES 256 /* (op, key) pairs */
#define MAX_STATUSES          12  /* distinct statuses per pair; more: "other" */
#define LABEL_MAX             64

static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
#define NBUCKETS PV_NELEM(buckets)

struct status_count {
	unsigned status; /* 0: "other" */
	uint64_t n;
};

struct series {
	char op[LABEL_MAX + 1];
	char key[LABEL_MAX + 1]; /* "" = no key */
	struct status_count st[MAX_STATUSES + 1];
	size_t nst;
	uint64_t le[NBUCKETS]; /* per bucket (not cumulative) */
	uint64_t count;
	double sum;
};

#define NERRS (-(int)PV_ERR_MIN + 1)

struct vd_metrics {
	pthread_mutex_t mu;
	struct series *s;
	size_t n;
	struct series other;
	uint64_t permitted, denied;
	uint64_t token_errors[NERRS];
	atomic_ullong conn[VD_CONN_NEVENTS];
};

void
vd_metrics_conn(struct vd_metrics *m, enum vd_conn_event ev)
{
	if (m != NULL && (unsigned)ev < VD_CONN_NEVENTS)
		atomic_fetch_add_explicit(&m->conn[ev], 1, memory_order_relaxed);
}

pv_err
vd_metrics_new(struct vd_metrics **out)
{
	struct vd_metrics *m;

	*out = NULL;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return PV_ERR_NOMEM;
	if ((m->s = calloc(VD_METRICS_MAX_SERIES, sizeof(*m->s))) == NULL ||
	    pthread_mutex_init(&m->mu, NULL) != 0) {
		free(m->s);
		free(m);
		return PV_ERR_NOMEM;
	}
	memcpy(m->other.op, "other", 6);
	memcpy(m->other.key, "other", 6);
	*out = m;
	return PV_OK;
}

void
vd_metrics_free(struct vd_metrics *m)
{
	if (m == NULL)
		return;
	pthread_mutex_destroy(&m->mu);
	free(m->s);
	free(m);
}

/* Caller holds mu. */
static struct series *
find_series(struct vd_metrics *m, const char *op, const char *key)
{
	size_t i;

	if (strlen(op) > LABEL_MAX || strlen(key) > LABEL_MAX)
		return &m->other;
	for (i = 0; i < m->n; i++) {
		if (strcmp(m->s[i].op, op) == 0 && strcmp(m->s[i].key, key) == 0)
			return &m->s[i];
	}
	if (m->n == VD_METRICS_MAX_SERIES)
		return &m->other;
	memcpy(m->s[m->n].op, op, strlen(op) + 1);
	memcpy(m->s[m->n].key, key, strlen(key) + 1);
	return &m->s[m->n++];
}

static void
count_status(struct series *s, unsigned status)
{
	size_t i;

	if (status < 100 || status > 599)
		status = 0;
	for (;;) {
		for (i = 0; i < s->nst; i++) {
			if (s->st[i].status == status) {
				s->st[i].n++;
				return;
			}
		}
		/* full: the "other" slot (at most one past MAX_STATUSES) */
		if (status != 0 && s->nst >= MAX_STATUSES) {
			status = 0;
			continue;
		}
		break;
	}
	s->st[s->nst].status = status;
	s->st[s->nst++].n = 1;
}

void
vd_metrics_request(struct vd_metrics *m, const char *op, const char *key, unsigned status, double seconds)
{
	struct series *s;
	size_t b;

	if (m == NULL)
		return;
	if (op == NULL || op[0] == '\0')
		op = "none";
	if (key == NULL)
		key = "";
	if (!(seconds >= 0)) /* NaN too */
		seconds = 0;
	pthread_mutex_lock(&m->mu);
	s = find_series(m, op, key);
	count_status(s, status);
	for (b = 0; b < NBUCKETS && seconds > buckets[b]; b++)
		;
	if (b < NBUCKETS)
		s->le[b]++;
	s->count++;
	s->sum += seconds;
	pthread_mutex_unlock(&m->mu);
}

void
vd_metrics_decision(struct vd_metrics *m, int allowed)
{
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->mu);
	if (allowed)
		m->permitted++;
	else
		m->denied++;
	pthread_mutex_unlock(&m->mu);
}

void
vd_metrics_token_error(struct vd_metrics *m, pv_err e)
{
	if (m == NULL || e >= PV_OK || e < PV_ERR_MIN)
		return;
	pthread_mutex_lock(&m->mu);
	m->token_errors[-(int)e]++;
	pthread_mutex_unlock(&m->mu);
}

/* ---- rendering ---- */

struct out {
	char *p;
	size_t len, cap;
	int failed;
};

static void PV_PRINTF(2, 3) put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;
	char *grown;

	if (o->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->failed = 1;
			return;
		}
		if ((size_t)n < o->cap - o->len) {
			o->len += (size_t)n;
			return;
		}
		if ((grown = realloc(o->p, o->cap * 2 + (size_t)n)) == NULL) {
			o->failed = 1;
			return;
		}
		o->p = grown;
		o->cap = o->cap * 2 + (size_t)n;
	}
}

/* A label value escaped per the exposition format (\\, \", \n). */
static const char *
esc(const char *in, char *buf, size_t cap)
{
	size_t j = 0;

	for (; *in != '\0' && j + 3 < cap; in++) {
		if (*in == '\\' || *in == '"') {
			buf[j++] = '\\';
			buf[j++] = *in;
		} else if (*in == '\n') {
			buf[j++] = '\\';
			buf[j++] = 'n';
		} else {
			buf[j++] = *in;
		}
	}
	buf[j] = '\0';
	return buf;
}

static void
put_status(struct out *o, unsigned status)
{
	if (status == 0)
		put(o, "other");
	else
		put(o, "%u", status);
}

static void
render_requests(struct out *o, const struct vd_metrics *m)
{
	char eop[2 * LABEL_MAX + 3], ekey[2 * LABEL_MAX + 3];
	const struct series *s;
	size_t i, j;

	put(o, "# HELP p11vault_requests_total Requests answered, by operation, key and HTTP status.\n"
	       "# TYPE p11vault_requests_total counter\n");
	for (i = 0; i <= m->n; i++) {
		s = i < m->n ? &m->s[i] : &m->other;
		esc(s->op, eop, sizeof(eop));
		esc(s->key, ekey, sizeof(ekey));
		for (j = 0; j < s->nst; j++) {
			put(o, "p11vault_requests_total{op=\"%s\",key=\"%s\",status=\"", eop, ekey);
			put_status(o, s->st[j].status);
			put(o, "\"} %llu\n", (unsigned long long)s->st[j].n);
		}
	}
	put(o, "# HELP p11vault_request_duration_seconds Request latency, by operation and key.\n"
	       "# TYPE p11vault_request_duration_seconds histogram\n");
	for (i = 0; i <= m->n; i++) {
		uint64_t cum = 0;

		s = i < m->n ? &m->s[i] : &m->other;
		if (s->count == 0)
			continue;
		esc(s->op, eop, sizeof(eop));
		esc(s->key, ekey, sizeof(ekey));
		for (j = 0; j < NBUCKETS; j++) {
			cum += s->le[j];
			put(o,
			    "p11vault_request_duration_seconds_bucket{op=\"%s\",key=\"%s\",le=\"%g\"} %llu\n",
			    eop, ekey, buckets[j], (unsigned long long)cum);
		}
		put(o, "p11vault_request_duration_seconds_bucket{op=\"%s\",key=\"%s\",le=\"+Inf\"} %llu\n",
		    eop, ekey, (unsigned long long)s->count);
		put(o, "p11vault_request_duration_seconds_sum{op=\"%s\",key=\"%s\"} %.9g\n", eop, ekey,
		    s->sum);
		put(o, "p11vault_request_duration_seconds_count{op=\"%s\",key=\"%s\"} %llu\n", eop, ekey,
		    (unsigned long long)s->count);
	}
}

pv_err
vd_metrics_render(struct vd_metrics *m, const struct p11_token_stats *st, char **text, size_t *len)
{
	struct out o = {NULL, 0, 4096, 0};
	int e;

	*text = NULL;
	*len = 0;
	if ((o.p = malloc(o.cap)) == NULL)
		return PV_ERR_NOMEM;
	o.p[0] = '\0';
	pthread_mutex_lock(&m->mu);
	render_requests(&o, m);
	put(&o,
	    "# HELP p11vault_policy_decisions_total Policy decisions.\n"
	    "# TYPE p11vault_policy_decisions_total counter\n"
	    "p11vault_policy_decisions_total{decision=\"permitted\"} %llu\n"
	    "p11vault_policy_decisions_total{decision=\"denied\"} %llu\n",
	    (unsigned long long)m->permitted, (unsigned long long)m->denied);
	put(&o, "# HELP p11vault_token_errors_total Token errors that reached a handler, by error.\n"
		"# TYPE p11vault_token_errors_total counter\n");
	for (e = 1; e < NERRS; e++) {
		if (m->token_errors[e] != 0)
			put(&o, "p11vault_token_errors_total{error=\"%s\"} %llu\n", pv_err_id((pv_err)-e),
			    (unsigned long long)m->token_errors[e]);
	}
	pthread_mutex_unlock(&m->mu);
	put(&o,
	    "# HELP p11vault_http_connections_refused_total New connections closed at once, by limit.\n"
	    "# TYPE p11vault_http_connections_refused_total counter\n"
	    "p11vault_http_connections_refused_total{reason=\"per_peer\"} %llu\n"
	    "p11vault_http_connections_refused_total{reason=\"budget\"} %llu\n"
	    "# HELP p11vault_http_connections_cut_total Connections the server closed, by reason.\n"
	    "# TYPE p11vault_http_connections_cut_total counter\n"
	    "p11vault_http_connections_cut_total{reason=\"header_deadline\"} %llu\n"
	    "p11vault_http_connections_cut_total{reason=\"body_deadline\"} %llu\n"
	    "p11vault_http_connections_cut_total{reason=\"idle_deadline\"} %llu\n"
	    "p11vault_http_connections_cut_total{reason=\"send_deadline\"} %llu\n"
	    "p11vault_http_connections_cut_total{reason=\"evicted\"} %llu\n",
	    (unsigned long long)atomic_load(&m->conn[VD_CONN_REFUSED_PEER]),
	    (unsigned long long)atomic_load(&m->conn[VD_CONN_REFUSED_BUDGET]),
	    (unsigned long long)atomic_load(&m->conn[VD_CONN_CUT_HEADER]),
	    (unsigned long long)atomic_load(&m->conn[VD_CONN_CUT_BODY]),
	    (unsigned long long)atomic_load(&m->conn[VD_CONN_CUT_IDLE]),
	    (unsigned long long)atomic_load(&m->conn[VD_CONN_CUT_SEND]),
	    (unsigned long long)atomic_load(&m->conn[VD_CONN_EVICTED]));
	put(&o,
	    "# HELP p11vault_token_recoveries_total Token sessions reopened or logins redone.\n"
	    "# TYPE p11vault_token_recoveries_total counter\n"
	    "p11vault_token_recoveries_total %lu\n"
	    "# HELP p11vault_token_reinits_total Module finalize/initialize cycles.\n"
	    "# TYPE p11vault_token_reinits_total counter\n"
	    "p11vault_token_reinits_total %lu\n"
	    "# HELP p11vault_session_pool_in_use Token sessions borrowed right now.\n"
	    "# TYPE p11vault_session_pool_in_use gauge\n"
	    "p11vault_session_pool_in_use %u\n"
	    "# HELP p11vault_session_pool_size Token sessions the pool may open.\n"
	    "# TYPE p11vault_session_pool_size gauge\n"
	    "p11vault_session_pool_size %u\n"
	    "# HELP p11vault_token_available 1 while the token answers, 0 during an outage.\n"
	    "# TYPE p11vault_token_available gauge\n"
	    "p11vault_token_available %d\n"
	    "# HELP p11vault_token_outages_total Token outages started.\n"
	    "# TYPE p11vault_token_outages_total counter\n"
	    "p11vault_token_outages_total %lu\n"
	    "# HELP p11vault_token_outage_seconds_total Time spent in token outages (the current one "
	    "included).\n"
	    "# TYPE p11vault_token_outage_seconds_total counter\n"
	    "p11vault_token_outage_seconds_total %.3f\n",
	    st != NULL ? st->recoveries : 0, st != NULL ? st->reinits : 0, st != NULL ? st->pool_in_use : 0,
	    st != NULL ? st->pool_size : 0, st != NULL && st->down ? 0 : 1, st != NULL ? st->outages : 0,
	    st != NULL ? st->outage_seconds : 0.0);
	if (o.failed) {
		free(o.p);
		return PV_ERR_NOMEM;
	}
	*text = o.p;
	*len = o.len;
	return PV_OK;
}
