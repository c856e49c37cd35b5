/* libFuzzer harness: key metadata JSON read back from the token. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/keymeta.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pv_key *k = NULL, *back = NULL;
	char *json = NULL;

	if (pv_keymeta_parse(data, size, &k) != PV_OK)
		return 0;
	/* whatever parses must serialise and parse back to the same thing
	 * (versions compared whole: activated and demoted too) */
	if (pv_keymeta_serialize(k, &json) != PV_OK)
		abort();
	if (pv_keymeta_parse((const uint8_t *)json, strlen(json), &back) != PV_OK)
		abort();
	if (back->nversions != k->nversions || back->alg != k->alg || back->usage != k->usage ||
	    back->disabled != k->disabled || back->delete_at != k->delete_at ||
	    back->schedule.every != k->schedule.every ||
	    back->schedule.publish_ahead != k->schedule.publish_ahead ||
	    back->schedule.retire_after != k->schedule.retire_after || strcmp(back->name, k->name) != 0 ||
	    memcmp(back->versions, k->versions, k->nversions * sizeof(*k->versions)) != 0)
		abort();
	free(json);
	pv_key_free(k);
	pv_key_free(back);
	return 0;
}
