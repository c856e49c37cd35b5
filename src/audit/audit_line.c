/* The audit log's line format: the strict parser and the line hash
 * (docs/audit.md §1). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "audit/audit_line.h"
#include "base/json.h"
#include "core/b64.h"
#include "core/digest.h"

static const char *const open_members[] = {"type", "seq", "time", "log", "every", "prev"};
static const char *const record_members[] = {
    "seq",     "time",     "rid",          "client",        "op",
    "key",     "version",  "input_sha256", "inputs_sha256", /* optional: batches */
    "tx",      "chain_id",                                  /* optional: wallet requests */
    "count",                                                /* optional: aggregated failures */
    "outcome", "status",   "latency_us",   "prev"};
/* Bit i set: record_members[i] may be absent (inputs_sha256, tx, chain_id, count). */
#define RECORD_OPTIONAL ((1u << 8) | (1u << 9) | (1u << 10) | (1u << 11))
static const char *const checkpoint_members[] = {"type", "seq", "time", "key_version", "prev", "mac"};
static const char *const recovered_members[] = {"type", "seq", "time", "dropped", "prev"};
static const char *const deferred_members[] = {"type", "seq", "time", "prev"};

pv_err
pv_audit_line_hash(const uint8_t *line, size_t len, uint8_t out[PV_AUDIT_HASH_LEN])
{
	uint8_t md[PV_DIGEST_MAX_LEN];
	size_t mdlen = 0;
	pv_err r;

	if ((r = pv_digest_compute(PV_DIGEST_SHA256, line, len, md, &mdlen)) != PV_OK)
		return r;
	if (mdlen != PV_AUDIT_HASH_LEN)
		return PV_ERR_INTERNAL;
	memcpy(out, md, PV_AUDIT_HASH_LEN);
	return PV_OK;
}

void
pv_audit_mac_message(const uint8_t head[PV_AUDIT_HASH_LEN], uint64_t seq, uint8_t msg[MAC_MSG_LEN])
{
	int i;

	memcpy(msg, head, PV_AUDIT_HASH_LEN);
	for (i = 0; i < 8; i++)
		msg[PV_AUDIT_HASH_LEN + i] = (uint8_t)(seq >> (56 - 8 * i));
}

/* ---- strict line parser ---- */

static const char *const outcome_names[] = {"ok", "denied", "error", NULL};

static int
valid_time(const char *s)
{
	static const char pat[] = "dddd-dd-ddTdd:dd:dd.dddZ";
	size_t i;

	if (strlen(s) != TIME_LEN)
		return 0;
	for (i = 0; i < TIME_LEN; i++) {
		if (pat[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != pat[i])
			return 0;
	}
	return 1;
}

/*
 * 0 if member v has a valid value; fills l. The reader's detail is not
 * kept: the verifier reports "bad value for" the member (docs/audit.md).
 */
static int
check_value(const pv_jv *v, struct aline *l)
{
	const char *name = v->name, *s = NULL;
	uint8_t scratch[LOG_ID_LEN], h[PV_AUDIT_HASH_LEN];
	int64_t n = 0;
	int idx = -1;
	pv_err r;

	if (strcmp(name, "type") == 0)
		return 0; /* decided by the caller */
	if (strcmp(name, "seq") == 0) {
		r = pv_json_as_int(v, 0, 0, INT_LIMIT, &n);
		l->seq = (uint64_t)n;
	} else if (strcmp(name, "version") == 0 || strcmp(name, "latency_us") == 0) {
		r = pv_json_as_int(v, 0, 0, INT_LIMIT, &n);
	} else if (strcmp(name, "status") == 0) {
		r = pv_json_as_int(v, 0, 0, 999, &n);
	} else if (strcmp(name, "count") == 0) {
		r = pv_json_as_int(v, 0, 2, INT_LIMIT, &n);
	} else if (strcmp(name, "dropped") == 0) {
		r = pv_json_as_int(v, 0, 1, INT_LIMIT, &n);
		l->dropped = (uint64_t)n;
	} else if (strcmp(name, "chain_id") == 0) {
		r = pv_json_as_int(v, 0, 1, INT_LIMIT, &n);
	} else if (strcmp(name, "every") == 0) {
		r = pv_json_as_int(v, 0, 1, PV_AUDIT_EVERY_MAX, &n);
		l->every = (unsigned)n;
	} else if (strcmp(name, "key_version") == 0) {
		r = pv_json_as_int(v, 0, 1, UINT32_MAX, &n);
		l->key_version = (unsigned)n;
	} else if (strcmp(name, "prev") == 0) {
		r = pv_json_as_bytes_fixed(v, 0, &pv_b64url_enc, l->prev, PV_AUDIT_HASH_LEN);
	} else if (strcmp(name, "mac") == 0) {
		r = pv_json_as_bytes_fixed(v, 0, &pv_b64url_enc, l->mac, PV_AUDIT_HASH_LEN);
	} else if (strcmp(name, "input_sha256") == 0) {
		r = pv_json_as_bytes_fixed(v, 0, &pv_b64url_enc, h, sizeof(h));
	} else if (strcmp(name, "inputs_sha256") == 0) {
		/* 1..PV_AUDIT_INPUTS_MAX hashes, each like input_sha256 */
		size_t count = 0;
		pv_jv e;

		r = pv_json_as_array(v, PV_JSON_NONEMPTY, PV_AUDIT_INPUTS_MAX, &count);
		for (e = pv_json_first(v); r == PV_OK && e.j != NULL; pv_json_next(&e))
			r = pv_json_as_bytes_fixed(&e, PV_JSON_REQUIRED, &pv_b64url_enc, h, sizeof(h));
	} else if (strcmp(name, "log") == 0) {
		r = pv_json_as_bytes_fixed(v, 0, &pv_b64url_enc, scratch, sizeof(scratch));
	} else if (strcmp(name, "time") == 0) {
		if ((r = pv_json_as_string(v, 0, TIME_LEN, &s)) == PV_OK && !valid_time(s))
			r = PV_ERR_BAD_INPUT;
	} else if (strcmp(name, "outcome") == 0) {
		r = pv_json_as_enum(v, 0, outcome_names, &idx);
	} else if (strcmp(name, "tx") == 0) {
		r = pv_json_as_string(v, PV_JSON_NONEMPTY, PV_AUDIT_FIELD_MAX, &s);
	} else {
		/* rid, client, op, key */
		r = pv_json_as_string(v, 0, PV_AUDIT_FIELD_MAX, &s);
	}
	return r == PV_OK ? 0 : -1;
}

static size_t
member_index(const char *const *names, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return n;
}

/* The first member of names[from, to) that may not be absent, or to. */
static size_t
first_required(uint32_t optional, size_t from, size_t to)
{
	for (; from < to; from++)
		if (!(optional & (UINT32_C(1) << from)))
			return from;
	return to;
}

/*
 * The members of doc in exactly the order of names; names[i] may be absent
 * when bit i of optional is set.
 */
static int
check_members(const cJSON *doc, const char *const *names, size_t n, uint32_t optional, struct aline *l,
	      char *why, size_t whylen)
{
	pv_jv line = pv_json_root(doc, "line"), v;
	size_t i = 0, j, miss;

	for (v = pv_json_first(&line); v.j != NULL; pv_json_next(&v)) {
		const char *name = v.name != NULL ? v.name : "";
		j = member_index(names, n, name);
		if (j == n) {
			snprintf(why, whylen, "unknown member \"%.64s\"", name);
			return -1;
		}
		if (j < i) {
			snprintf(why, whylen, "member \"%s\" repeated or out of order", names[j]);
			return -1;
		}
		if ((miss = first_required(optional, i, j)) != j) {
			snprintf(why, whylen, "missing member \"%s\"", names[miss]);
			return -1;
		}
		if (check_value(&v, l) != 0) {
			snprintf(why, whylen, "bad value for \"%s\"", name);
			return -1;
		}
		i = j + 1;
	}
	if ((miss = first_required(optional, i, n)) != n) {
		snprintf(why, whylen, "missing member \"%s\"", names[miss]);
		return -1;
	}
	return 0;
}

/* 0, or -1 with the reason (without the "line n: " prefix) in why. */
int
pv_audit_line_parse(const uint8_t *p, size_t len, struct aline *l, char *why, size_t whylen)
{
	cJSON *doc = NULL;
	const cJSON *first;
	const char *end = NULL;
	char *again = NULL;
	int rc = -1;

	memset(l, 0, sizeof(*l));
	if (len > PV_AUDIT_LINE_MAX) {
		snprintf(why, whylen, "longer than %d bytes", PV_AUDIT_LINE_MAX);
		goto out;
	}
	if (len == 0 || memchr(p, '\0', len) != NULL ||
	    (doc = cJSON_ParseWithLengthOpts((const char *)p, len, &end, 0)) == NULL ||
	    end != (const char *)p + len) {
		snprintf(why, whylen, "not JSON");
		goto out;
	}
	if (!cJSON_IsObject(doc)) {
		snprintf(why, whylen, "not a JSON object");
		goto out;
	}
	first = doc->child;
	if (first != NULL && first->string != NULL && strcmp(first->string, "type") == 0) {
		if (cJSON_IsString(first) && strcmp(first->valuestring, "open") == 0)
			l->kind = LINE_OPEN;
		else if (cJSON_IsString(first) && strcmp(first->valuestring, "checkpoint") == 0)
			l->kind = LINE_CHECKPOINT;
		else if (cJSON_IsString(first) && strcmp(first->valuestring, "recovered") == 0)
			l->kind = LINE_RECOVERED;
		else if (cJSON_IsString(first) && strcmp(first->valuestring, "deferred") == 0)
			l->kind = LINE_DEFERRED;
		else {
			snprintf(why, whylen, "bad value for \"type\"");
			goto out;
		}
	} else
		l->kind = LINE_RECORD;
	if (l->kind == LINE_OPEN) {
		if (check_members(doc, open_members, PV_NELEM(open_members), 0, l, why, whylen) != 0)
			goto out;
	} else if (l->kind == LINE_CHECKPOINT) {
		if (check_members(doc, checkpoint_members, PV_NELEM(checkpoint_members), 0, l, why, whylen) !=
		    0)
			goto out;
	} else if (l->kind == LINE_RECOVERED) {
		if (check_members(doc, recovered_members, PV_NELEM(recovered_members), 0, l, why, whylen) !=
		    0)
			goto out;
	} else if (l->kind == LINE_DEFERRED) {
		if (check_members(doc, deferred_members, PV_NELEM(deferred_members), 0, l, why, whylen) != 0)
			goto out;
	} else if (check_members(doc, record_members, PV_NELEM(record_members), RECORD_OPTIONAL, l, why,
				 whylen) != 0)
		goto out;
	/* one spelling per line: what the writer's printer would produce */
	if ((again = cJSON_PrintUnformatted(doc)) == NULL || strlen(again) != len ||
	    memcmp(again, p, len) != 0) {
		snprintf(why, whylen, "not in canonical form");
		goto out;
	}
	rc = 0;
out:
	cJSON_free(again);
	cJSON_Delete(doc);
	return rc;
}
