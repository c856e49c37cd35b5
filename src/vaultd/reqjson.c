#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "core/b64.h"
#include "vaultd/reqjson.h"

struct vd_rj {
	cJSON *tree;
	pv_jv root; /* getters' values point here, so rj is never copied */
};

static unsigned
flags_of(int required)
{
	return required ? PV_JSON_REQUIRED : 0;
}

pv_err
vd_rj_parse(const pv_buf *body, const char *const *members, int allow_empty, vd_rj **out)
{
	vd_rj *rj = NULL;
	size_t len = pv_buf_len(body);
	pv_err r;

	*out = NULL;
	if ((rj = calloc(1, sizeof(*rj))) == NULL)
		return PV_ERR_NOMEM;
	if (len == 0 && allow_empty) {
		if ((rj->tree = cJSON_CreateObject()) == NULL) {
			r = PV_ERR_NOMEM;
			goto out;
		}
	} else if ((r = pv_json_parse(pv_buf_ptr(body), len, "the body", VD_RJ_MAX_DEPTH, &rj->tree)) !=
		   PV_OK) {
		goto out;
	}
	rj->root = pv_json_root(rj->tree, "the body");
	if ((r = pv_json_as_object(&rj->root, PV_JSON_REQUIRED, members)) != PV_OK)
		goto out;
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
	cJSON_Delete(rj->tree);
	free(rj);
}

const pv_jv *
vd_rj_root(const vd_rj *rj)
{
	return &rj->root;
}

int
vd_rj_has(const vd_rj *rj, const char *name)
{
	return pv_json_at(&rj->root, name).j != NULL;
}

pv_err
vd_rj_string(const vd_rj *rj, const char *name, int required, size_t maxlen, const char **out)
{
	return pv_json_string(&rj->root, name, flags_of(required), maxlen, out);
}

pv_err
vd_rj_int(const vd_rj *rj, const char *name, int required, int64_t min, int64_t max, int64_t *out,
	  int *present)
{
	pv_err r;

	*present = 0;
	if ((r = pv_json_int(&rj->root, name, flags_of(required), min, max, out)) != PV_OK)
		return r;
	*present = vd_rj_has(rj, name);
	return PV_OK;
}

pv_err
vd_rj_b64(const vd_rj *rj, const char *name, int required, size_t maxlen, uint8_t **out, size_t *outlen)
{
	return pv_json_bytes(&rj->root, name, flags_of(required), &pv_b64_enc, 0, maxlen, out, outlen);
}

void
vd_rj_b64_array_free(uint8_t **items, size_t *lens, size_t n)
{
	size_t i;

	for (i = 0; items != NULL && i < n; i++)
		free(items[i]);
	free(items);
	free(lens);
}

pv_err
vd_rj_b64_array(const vd_rj *rj, const char *name, int required, size_t max_items, size_t maxlen,
		uint8_t ***items, size_t **lens, size_t *n)
{
	uint8_t **it = NULL;
	size_t *ln = NULL, count = 0, i = 0;
	pv_jv arr, e;
	pv_err r;

	*items = NULL;
	*lens = NULL;
	*n = 0;
	if ((r = pv_json_array(&rj->root, name, flags_of(required) | PV_JSON_NONEMPTY, SIZE_MAX, &arr,
			       &count)) != PV_OK ||
	    count == 0)
		return r;
	if (count > max_items) {
		pv_err_set_detail("%s: more than %zu items (%zu)", name, max_items, count);
		return PV_ERR_TOO_LARGE;
	}
	if ((it = calloc(count, sizeof(*it))) == NULL || (ln = calloc(count, sizeof(*ln))) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	for (e = pv_json_first(&arr); e.j != NULL && i < count; pv_json_next(&e), i++) {
		if ((r = pv_json_as_bytes(&e, PV_JSON_REQUIRED, &pv_b64_enc, 0, maxlen, &it[i], &ln[i])) !=
		    PV_OK)
			goto out;
	}
	*items = it;
	*lens = ln;
	*n = count;
	it = NULL;
	ln = NULL;
	r = PV_OK;
out:
	vd_rj_b64_array_free(it, ln, count);
	return r;
}

pv_err
vd_rj_enum(const vd_rj *rj, const char *name, int required, const char *const *choices, int *index)
{
	return pv_json_enum(&rj->root, name, flags_of(required), choices, index);
}

pv_err
vd_rj_object(const vd_rj *rj, const char *name, int required, const cJSON **out)
{
	pv_jv m;
	pv_err r;

	*out = NULL;
	if ((r = pv_json_object(&rj->root, name, flags_of(required), NULL, &m)) != PV_OK)
		return r;
	*out = m.j;
	return PV_OK;
}
