/*
 * The metrics text parses as the Prometheus exposition format: every
 * sample belongs to a family announced by HELP and TYPE, label values are
 * escaped, histogram buckets are cumulative and end in +Inf = _count, and
 * the number of series stays bounded however many keys callers name.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vaultd/metrics.h"

struct sample {
	char name[128];
	char labels[512]; /* raw text between the braces, "" if none */
	double value;
};

/* Parse one sample line strictly: name, optional {k="v",...}, space, value. */
static int
parse_sample(const char *line, struct sample *s)
{
	const char *p = line, *q;
	size_t n = 0;
	char *end;

	memset(s, 0, sizeof(*s));
	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
	       *p == '_') {
		if (n + 1 >= sizeof(s->name))
			return -1;
		s->name[n++] = *p++;
	}
	if (n == 0)
		return -1;
	if (*p == '{') {
		q = ++p;
		/* label pairs: name="value with \\ \" \n escapes" */
		for (;;) {
			while ((*p >= 'a' && *p <= 'z') || *p == '_')
				p++;
			if (*p++ != '=' || *p++ != '"')
				return -1;
			while (*p != '"') {
				if (*p == '\0' || *p == '\n')
					return -1;
				if (*p == '\\') {
					p++;
					if (*p != '\\' && *p != '"' && *p != 'n')
						return -1;
				}
				p++;
			}
			p++;
			if (*p == ',') {
				p++;
				continue;
			}
			if (*p != '}')
				return -1;
			break;
		}
		if ((size_t)(p - q) >= sizeof(s->labels))
			return -1;
		memcpy(s->labels, q, (size_t)(p - q));
		p++;
	}
	if (*p++ != ' ')
		return -1;
	s->value = strtod(p, &end);
	if (end == p || *end != '\0')
		return -1;
	return 0;
}

/* Check the whole text; returns the number of samples, fills the
 * families seen. */
static size_t
check_text(const char *text, size_t len)
{
	char *copy = strndup(text, len), *save = NULL, *line;
	char family[128] = "", type[32] = "";
	size_t nsamples = 0;
	struct sample s;

	assert_non_null(copy);
	assert_int_equal(text[len - 1], '\n');
	for (line = strtok_r(copy, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "# HELP ", 7) == 0) {
			assert_int_equal(sscanf(line + 7, "%127s", family), 1);
			type[0] = '\0';
			continue;
		}
		if (strncmp(line, "# TYPE ", 7) == 0) {
			char fam[128];

			assert_int_equal(sscanf(line + 7, "%127s %31s", fam, type), 2);
			assert_string_equal(fam, family);
			assert_true(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0 ||
				    strcmp(type, "histogram") == 0);
			continue;
		}
		if (parse_sample(line, &s) != 0)
			fail_msg("not a sample line: %s", line);
		/* the sample belongs to the family announced last */
		assert_true(type[0] != '\0');
		if (strcmp(type, "histogram") == 0)
			assert_true(strncmp(s.name, family, strlen(family)) == 0 &&
				    (strcmp(s.name + strlen(family), "_bucket") == 0 ||
				     strcmp(s.name + strlen(family), "_sum") == 0 ||
				     strcmp(s.name + strlen(family), "_count") == 0));
		else
			assert_string_equal(s.name, family);
		nsamples++;
	}
	free(copy);
	return nsamples;
}

/* The value of the sample with exactly this name and label text, or -1. */
static double
value_of(const char *text, const char *name, const char *labels)
{
	char want[768];
	const char *p;

	snprintf(want, sizeof(want), "\n%s%s%s%s ", name, labels[0] ? "{" : "", labels, labels[0] ? "}" : "");
	if ((p = strstr(text, want)) == NULL)
		return -1;
	return strtod(p + strlen(want), NULL);
}

static void
render(struct vd_metrics *m, const struct p11_token_stats *st, char **text, size_t *len)
{
	assert_int_equal(vd_metrics_render(m, st, text, len), PV_OK);
	assert_int_equal(strlen(*text), *len);
}

static void
test_shape_and_values(void **state)
{
	struct p11_token_stats st = {.recoveries = 3,
				     .reinits = 1,
				     .generation = 9,
				     .pool_size = 8,
				     .pool_in_use = 2,
				     .down = 1,
				     .outages = 4,
				     .outage_seconds = 12.5};
	struct vd_metrics *m = NULL;
	char *text = NULL, want[128];
	size_t len = 0;

	(void)state;
	assert_int_equal(vd_metrics_new(&m), PV_OK);
	vd_metrics_request(m, "sign", "k1", 200, 0.0003);
	vd_metrics_request(m, "sign", "k1", 200, 0.004);
	vd_metrics_request(m, "sign", "k1", 403, 0.3);
	vd_metrics_request(m, "sign", "k1", 200, 7.0); /* beyond the last bucket */
	vd_metrics_request(m, "health", NULL, 200, 0.0001);
	vd_metrics_request(m, NULL, NULL, 404, 0.0001);
	vd_metrics_decision(m, 1);
	vd_metrics_decision(m, 1);
	vd_metrics_decision(m, 0);
	vd_metrics_token_error(m, PV_ERR_SESSION);
	vd_metrics_token_error(m, PV_ERR_SESSION);
	vd_metrics_token_error(m, PV_OK); /* not an error: ignored */
	render(m, &st, &text, &len);
	assert_true(check_text(text, len) > 20);

	assert_true(value_of(text, "p11vault_requests_total", "op=\"sign\",key=\"k1\",status=\"200\"") == 3);
	assert_true(value_of(text, "p11vault_requests_total", "op=\"sign\",key=\"k1\",status=\"403\"") == 1);
	assert_true(value_of(text, "p11vault_requests_total", "op=\"health\",key=\"\",status=\"200\"") == 1);
	assert_true(value_of(text, "p11vault_requests_total", "op=\"none\",key=\"\",status=\"404\"") == 1);
	/* cumulative buckets */
	assert_true(value_of(text, "p11vault_request_duration_seconds_bucket",
			     "op=\"sign\",key=\"k1\",le=\"0.0005\"") == 1);
	assert_true(value_of(text, "p11vault_request_duration_seconds_bucket",
			     "op=\"sign\",key=\"k1\",le=\"0.005\"") == 2);
	assert_true(value_of(text, "p11vault_request_duration_seconds_bucket",
			     "op=\"sign\",key=\"k1\",le=\"0.5\"") == 3);
	assert_true(value_of(text, "p11vault_request_duration_seconds_bucket",
			     "op=\"sign\",key=\"k1\",le=\"2.5\"") == 3);
	assert_true(value_of(text, "p11vault_request_duration_seconds_bucket",
			     "op=\"sign\",key=\"k1\",le=\"+Inf\"") == 4);
	assert_true(value_of(text, "p11vault_request_duration_seconds_count", "op=\"sign\",key=\"k1\"") == 4);
	assert_true(value_of(text, "p11vault_request_duration_seconds_sum", "op=\"sign\",key=\"k1\"") > 7.3);
	assert_true(value_of(text, "p11vault_policy_decisions_total", "decision=\"permitted\"") == 2);
	assert_true(value_of(text, "p11vault_policy_decisions_total", "decision=\"denied\"") == 1);
	snprintf(want, sizeof(want), "error=\"%s\"", pv_err_id(PV_ERR_SESSION));
	assert_true(value_of(text, "p11vault_token_errors_total", want) == 2);
	assert_true(value_of(text, "p11vault_token_recoveries_total", "") == 3);
	assert_true(value_of(text, "p11vault_session_pool_in_use", "") == 2);
	assert_true(value_of(text, "p11vault_session_pool_size", "") == 8);
	/* token outages (docs/api.md): in one now, four so far, 12.5 s in all */
	assert_true(value_of(text, "p11vault_token_available", "") == 0);
	assert_true(value_of(text, "p11vault_token_outages_total", "") == 4);
	assert_true(value_of(text, "p11vault_token_outage_seconds_total", "") > 12.49);
	assert_true(value_of(text, "p11vault_token_outage_seconds_total", "") < 12.51);
	assert_non_null(strstr(text, "# TYPE p11vault_token_outages_total counter\n"));
	/* every family announced */
	assert_non_null(strstr(text, "# TYPE p11vault_request_duration_seconds histogram\n"));
	assert_non_null(strstr(text, "# TYPE p11vault_session_pool_in_use gauge\n"));
	free(text);
	vd_metrics_free(m);
}

/* The error label is the pv_err identifier. */
static void
test_token_error_label(void **state)
{
	struct vd_metrics *m = NULL;
	char *text = NULL, want[128];
	size_t len = 0;

	(void)state;
	assert_int_equal(vd_metrics_new(&m), PV_OK);
	vd_metrics_token_error(m, PV_ERR_TOKEN_UNAVAILABLE);
	render(m, NULL, &text, &len);
	check_text(text, len);
	snprintf(want, sizeof(want), "error=\"%s\"", pv_err_id(PV_ERR_TOKEN_UNAVAILABLE));
	assert_true(value_of(text, "p11vault_token_errors_total", want) == 1);
	free(text);
	vd_metrics_free(m);
}

static void
test_label_escaping(void **state)
{
	struct vd_metrics *m = NULL;
	char *text = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(vd_metrics_new(&m), PV_OK);
	vd_metrics_request(m, "sign", "a\"b\\c\nd", 200, 0.001);
	render(m, NULL, &text, &len);
	check_text(text, len);
	assert_true(value_of(text, "p11vault_requests_total",
			     "op=\"sign\",key=\"a\\\"b\\\\c\\nd\",status=\"200\"") == 1);
	free(text);
	vd_metrics_free(m);
}

/* However many keys and statuses callers pass, the series stay bounded
 * and nothing is lost: the excess counts into "other". */
static void
test_series_bounded(void **state)
{
	struct vd_metrics *m = NULL;
	char *text = NULL, key[32], longkey[200];
	size_t len = 0, n1, n2;
	double total = 0;
	const char *p;
	unsigned i;

	(void)state;
	assert_int_equal(vd_metrics_new(&m), PV_OK);
	for (i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "key-%u", i);
		vd_metrics_request(m, "sign", key, 200 + (i % 50), 0.001);
	}
	memset(longkey, 'x', sizeof(longkey) - 1);
	longkey[sizeof(longkey) - 1] = '\0';
	vd_metrics_request(m, "sign", longkey, 200, 0.001);
	render(m, NULL, &text, &len);
	n1 = check_text(text, len);
	assert_null(strstr(text, longkey));
	assert_non_null(strstr(text, "op=\"other\",key=\"other\""));
	/* all 1001 requests are counted somewhere */
	for (p = text; (p = strstr(p, "\np11vault_requests_total{")) != NULL; p++)
		total += strtod(strchr(p, '}') + 2, NULL);
	assert_true(total == 1001);
	free(text);
	/* more of the same adds no series */
	for (i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "more-%u", i);
		vd_metrics_request(m, "verify", key, 100 + i, 0.001);
	}
	render(m, NULL, &text, &len);
	n2 = check_text(text, len);
	assert_true(n2 <= n1 + 13);
	assert_true(n2 < 8000);
	free(text);
	vd_metrics_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_shape_and_values),
	    cmocka_unit_test(test_token_error_label),
	    cmocka_unit_test(test_label_escaping),
	    cmocka_unit_test(test_series_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
