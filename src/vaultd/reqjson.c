#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/jsontext.h"
#include "core/b64.h"
#include "vaultd/reqjson.h"

struct vd_rj {
	cJSON *root;
};

pv_err
vd_rj_parse(const pv_buf *body, const char *const *members, int allow_empty, vd_rj **out)
{
	vd_rj *rj = NULL;
	const uint8_t *p = pv_buf_ptr(body);
	size_t len = pv_buf_len(body), i;
	const char *end = NULL;
	const cJSON *c;
	pv_err r = PV_OK;

	*out = NULL;
	if ((rj = calloc(1, sizeof(*rj))) == NULL)
		return PV_ERR_NOMEM;
	if (len == 0 && allow_empty) {
		if ((rj->root = cJSON_CreateObject()) == NULL) {
			r = PV_ERR_NOMEM;
			goto out;
		}
		goto done;
	}
	if (len == 0 || memchr(p, '\0', len) != NULL || pv_json_has_nul_escape(p, len)) {
		pv_err_set_detail(len == 0 ? "the body must be a JSON object"
					   : "the body contains a NUL character");
		r = PV_ERR_BAD_INPUT;
		goto out;
	}
	if (!pv_utf8_valid(p, len)) {
		pv_err_set_detail("the body is not valid UTF-8");
		r = PV_ERR_BAD_INPUT;
		goto out;
	}
	rj->root = cJSON_ParseWithLengthOpts((const char *)p, len, &end, 0);
	if (rj->root == NULL) {
		pv_err_set_detail("the body is not valid JSON");
		r = PV_ERR_BAD_INPUT;
		goto out;
	}
	/* only whitespace may follow the object */
	for (i = (size_t)(end - (const char *)p); i < len; i++) {
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n') {
			pv_err_set_detail("the body has bytes after the JSON object");
			r = PV_ERR_BAD_INPUT;
			goto out;
		}
	}
	if (!cJSON_IsObject(rj->root)) {
		pv_err_set_detail("the body must be a JSON object");
		r = PV_ERR_BAD_INPUT;
		goto out;
	}
	for (c = rj->root->child; c != NULL; c = c->next) {
		const char *const *m;

		for (m = members; *m != NULL; m++) {
			if (strcmp(*m, c->string) == 0)
				break;
		}
		if (*m == NULL) {
			const char *s = pv_json_shown_name(c->string);

			if (s != NULL)
				pv_err_set_detail("unknown member \"%s\"", s);
			else
				pv_err_set_detail("unknown member");
			r = PV_ERR_BAD_INPUT;
			goto out;
		}
	}
	if ((r = pv_json_check_tree(rj->root, VD_RJ_MAX_DEPTH, "the body")) != PV_OK)
		goto out;
done:
	*out = rj;
	rj = NULL;
out:
	vd_rj_free(rj);
	return r;
}

void
vd_rj_free(vd_rj *rj)
{
	if (rj == NULL)
		return;
	cJSON_Delete(rj->root);
	free(rj);
}

int
vd_rj_has(const vd_rj *rj, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(rj->root, name) != NULL;
}

/* The member, or NULL (and an error if it is required). */
static pv_err
member(const vd_rj *rj, const char *name, int required, const cJSON **out)
{
	*out = cJSON_GetObjectItemCaseSensitive(rj->root, name);
	if (*out == NULL && required) {
		pv_err_set_detail("member \"%s\" is required", name);
		return PV_ERR_BAD_INPUT;
	}
	return PV_OK;
}

static pv_err
wrong_type(const char *name, const char *what)
{
	pv_err_set_detail("member \"%s\" must be %s", name, what);
	return PV_ERR_BAD_INPUT;
}

pv_err
vd_rj_string(const vd_rj *rj, const char *name, int required, size_t maxlen, const char **out)
{
	const cJSON *j = NULL;
	pv_err r;

	*out = NULL;
	if ((r = member(rj, name, required, &j)) != PV_OK || j == NULL)
		return r;
	if (!cJSON_IsString(j) || j->valuestring == NULL)
		return wrong_type(name, "a string");
	if (strnlen(j->valuestring, maxlen + 1) > maxlen) {
		pv_err_set_detail("member \"%s\" is longer than %zu bytes", name, maxlen);
		return PV_ERR_BAD_INPUT;
	}
	*out = j->valuestring;
	return PV_OK;
}

pv_err
vd_rj_int(const vd_rj *rj, const char *name, int required, int64_t min, int64_t max, int64_t *out,
	  int *present)
{
	const cJSON *j = NULL;
	double v;
	pv_err r;

	*present = 0;
	if ((r = member(rj, name, required, &j)) != PV_OK || j == NULL)
		return r;
	if (!cJSON_IsNumber(j))
		return wrong_type(name, "an integer");
	v = j->valuedouble;
	/* the bounds fit a double exactly for every range used (<= 2^53) */
	if (!isfinite(v) || floor(v) != v)
		return wrong_type(name, "an integer");
	if (v < (double)min || v > (double)max) {
		pv_err_set_detail("member \"%s\" must be between %lld and %lld", name, (long long)min,
				  (long long)max);
		return PV_ERR_BAD_INPUT;
	}
	*out = (int64_t)v;
	*present = 1;
	return PV_OK;
}

pv_err
vd_rj_b64(const vd_rj *rj, const char *name, int required, size_t maxlen, uint8_t **out, size_t *outlen)
{
	const char *s = NULL;
	uint8_t *buf = NULL;
	size_t slen, cap, got = 0;
	pv_err r;

	*out = NULL;
	*outlen = 0;
	/* 4 characters per 3 bytes, padded */
	if ((r = vd_rj_string(rj, name, required, (maxlen + 2) / 3 * 4, &s)) != PV_OK || s == NULL)
		return r;
	slen = strlen(s);
	cap = (slen + 3) / 4 * 3 + 1;
	if ((buf = malloc(cap)) == NULL)
		return PV_ERR_NOMEM;
	r = pv_b64_decode(s, slen, buf, maxlen < cap ? maxlen : cap, &got);
	if (r == PV_ERR_BAD_INPUT || r == PV_ERR_TOO_LARGE || r == PV_ERR_USAGE) {
		if (r == PV_ERR_TOO_LARGE)
			pv_err_set_detail("member \"%s\" decodes to more than %zu bytes", name, maxlen);
		else
			pv_err_set_detail("member \"%s\" is not valid base64", name);
		r = PV_ERR_BAD_INPUT;
	}
	if (r != PV_OK) {
		free(buf);
		return r;
	}
	*out = buf;
	*outlen = got;
	return PV_OK;
}

pv_err
vd_rj_enum(const vd_rj *rj, const char *name, int required, const char *const *choices, int *index)
{
	const cJSON *j = NULL;
	int i;
	pv_err r;

	*index = -1;
	if ((r = member(rj, name, required, &j)) != PV_OK || j == NULL)
		return r;
	if (!cJSON_IsString(j) || j->valuestring == NULL)
		return wrong_type(name, "a string");
	for (i = 0; choices[i] != NULL; i++) {
		if (strcmp(choices[i], j->valuestring) == 0) {
			*index = i;
			return PV_OK;
		}
	}
	pv_err_set_detail("member \"%s\" has an unsupported value", name);
	return PV_ERR_BAD_INPUT;
}

pv_err
vd_rj_object(const vd_rj *rj, const char *name, int required, const cJSON **out)
{
	const cJSON *j = NULL;
	pv_err r;

	*out = NULL;
	if ((r = member(rj, name, required, &j)) != PV_OK || j == NULL)
		return r;
	if (!cJSON_IsObject(j))
		return wrong_type(name, "an object");
	*out = j;
	return PV_OK;
}
