/* libFuzzer harness: the bundle parser (untrusted bytes from a file or
 * stdin, docs/bundle-format.md §2-§3, the sealer member of §3.4 too). */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bundle/format.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pv_bundle *b = NULL, *back = NULL;
	char *text = NULL, *again = NULL;
	size_t len = 0, len2 = 0, i;
	uint8_t h1[32], h2[32];
	pv_buf *aad = NULL;

	if (pv_bundle_parse(data, size, &b) != PV_OK)
		return 0;
	/* what parses must write out, parse back, write out the same bytes,
	 * and authenticate the same digest */
	FUZZ_ASSERT(pv_bundle_serialize(b, &text, &len) == PV_OK);
	FUZZ_ASSERT(pv_bundle_parse((const uint8_t *)text, len, &back) == PV_OK);
	FUZZ_ASSERT(pv_bundle_serialize(back, &again, &len2) == PV_OK);
	FUZZ_ASSERT(len == len2 && memcmp(text, again, len) == 0);
	FUZZ_ASSERT(pv_bundle_check_digest(b, h1) == PV_OK);
	FUZZ_ASSERT(pv_bundle_check_digest(back, h2) == PV_OK);
	FUZZ_ASSERT(memcmp(h1, h2, sizeof(h1)) == 0);
	/* the sealer member survives the round trip exactly (§3.4) */
	FUZZ_ASSERT(b->has_sealer == back->has_sealer);
	if (b->has_sealer) {
		FUZZ_ASSERT(b->sealer.alg == back->sealer.alg);
		FUZZ_ASSERT(strlen(b->sealer.kid) == PV_SEALER_KID_LEN);
		FUZZ_ASSERT(strcmp(b->sealer.kid, back->sealer.kid) == 0);
		FUZZ_ASSERT(b->sealer.sig_len >= 64 && b->sealer.sig_len <= PV_SEALER_SIG_MAX);
		FUZZ_ASSERT(b->sealer.sig_len == back->sealer.sig_len);
		FUZZ_ASSERT(memcmp(b->sealer.sig, back->sealer.sig, b->sealer.sig_len) == 0);
		FUZZ_ASSERT(strcmp(pv_sealer_alg_name(b->sealer.alg), "?") != 0);
	}
	for (i = 0; i < b->nentries; i++) {
		FUZZ_ASSERT(pv_bundle_entry_aad(b, &b->entries[i], &aad) == PV_OK);
		pv_buf_free(aad);
		aad = NULL;
	}
	free(text);
	free(again);
	pv_bundle_free(b);
	pv_bundle_free(back);
	return 0;
}
