/* libFuzzer harness: dotenv input for bundle seal, and its writers. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bundle/input.h"
#include "bundle/output.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pv_kvlist l, back;
	pv_secret *text = NULL;
	pv_err r;
	size_t i;

	pv_kvlist_init(&l);
	pv_kvlist_init(&back);
	if (pv_dotenv_parse(data, size, &l) != PV_OK)
		goto out;
	/* whatever parses must be written as dotenv and read back unchanged */
	FUZZ_ASSERT(pv_output_format(PV_OUT_DOTENV, &l, &text) == PV_OK);
	FUZZ_ASSERT(pv_dotenv_parse(pv_secret_ro(text), pv_secret_len(text), &back) == PV_OK);
	FUZZ_ASSERT(back.n == l.n);
	for (i = 0; i < back.n; i++) {
		struct pv_kv *orig = pv_kvlist_find(&l, back.items[i].name);
		size_t n;

		FUZZ_ASSERT(orig != NULL);
		n = pv_secret_len(orig->value);
		FUZZ_ASSERT(pv_secret_len(back.items[i].value) == n);
		FUZZ_ASSERT(n == 0 || sodium_memcmp(pv_secret_ro(orig->value),
						    pv_secret_ro(back.items[i].value), n) == 0);
	}
	pv_secret_free(text);
	text = NULL;
	/* a NUL-free env value always has a shell form */
	FUZZ_ASSERT(pv_output_format(PV_OUT_ENV, &l, &text) == PV_OK);
	pv_secret_free(text);
	text = NULL;
	r = pv_output_format(PV_OUT_JSON, &l, &text);
	FUZZ_ASSERT(r == PV_OK || r == PV_ERR_BAD_INPUT);
out:
	pv_secret_free(text);
	pv_kvlist_free(&back);
	pv_kvlist_free(&l);
	return 0;
}
