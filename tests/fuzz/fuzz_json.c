/* libFuzzer harness: vaultd's strict request-body reader (reqjson) and its
 * typed getters, with the member set of the sign endpoint plus an object. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "fuzz.h"
#include "vaultd/reqjson.h"

static const char *const members[] = {"input_b64", "digest_b64", "digest", "version", "format",
				      "padding",   "claims",     "ttl",    "context", NULL};
static const char *const formats[] = {"raw", "der", "jose", NULL};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pv_buf *b = NULL;
	vd_rj *rj = NULL;
	const char *s = NULL;
	const cJSON *obj = NULL;
	uint8_t *bin = NULL;
	size_t binlen = 0;
	int64_t v = 0;
	int present = 0, idx = 0;
	pv_err r;

	if (pv_buf_view(data, size, &b) != PV_OK)
		return 0;
	r = vd_rj_parse(b, members, size > 0 && data[0] == ' ', &rj);
	FUZZ_ASSERT(r == PV_OK || r == PV_ERR_BAD_INPUT || r == PV_ERR_NOMEM);
	/* every refusal says why */
	FUZZ_ASSERT(r != PV_ERR_BAD_INPUT || pv_err_detail()[0] != '\0');
	if (r != PV_OK)
		goto out;
	r = vd_rj_string(rj, "digest", 0, 16, &s);
	FUZZ_ASSERT(r != PV_OK || s == NULL || strlen(s) <= 16);
	r = vd_rj_int(rj, "version", 0, 1, 1000, &v, &present);
	FUZZ_ASSERT(r != PV_OK || !present || (v >= 1 && v <= 1000));
	r = vd_rj_b64(rj, "input_b64", 0, 64, &bin, &binlen);
	FUZZ_ASSERT(r != PV_OK || (binlen <= 64 && (bin != NULL || !vd_rj_has(rj, "input_b64"))));
	free(bin);
	bin = NULL;
	r = vd_rj_b64(rj, "digest_b64", 0, 1 << 20, &bin, &binlen);
	FUZZ_ASSERT(r != PV_OK || binlen <= (1 << 20));
	free(bin);
	bin = NULL;
	r = vd_rj_enum(rj, "format", 0, formats, &idx);
	FUZZ_ASSERT(r != PV_OK || (idx >= -1 && idx <= 2));
	r = vd_rj_object(rj, "claims", 0, &obj);
	FUZZ_ASSERT(r != PV_OK || obj == NULL || cJSON_IsObject(obj));
	r = vd_rj_int(rj, "ttl", 1, -5, 5, &v, &present);
	FUZZ_ASSERT(r != PV_OK || (present && v >= -5 && v <= 5));
	r = vd_rj_string(rj, "context", 1, 1024, &s);
	FUZZ_ASSERT(r != PV_OK || (s != NULL && strlen(s) <= 1024));
out:
	vd_rj_free(rj);
	pv_buf_free(b);
	return 0;
}
