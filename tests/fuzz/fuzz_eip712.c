/*
 * libFuzzer harness: EIP-712 typed data (eth_signTypedData_v4 JSON) as a
 * client sends it. Refusals are bad input or over the size limit, and
 * change nothing. Whatever is accepted must give the digest
 * keccak256(0x19 0x01 || domainSeparator || hashStruct(message)), the same
 * hashes a second time and from the parsed tree (pv_eip712_hash_json, what
 * vaultd uses), and an encodeType of its primary type that starts with
 * "Primary(". (Writing the tree out with cJSON and hashing that text is no
 * invariant: cJSON prints 9007199254740991 as 9.00719925474099e+15.)
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/keccak.h"
#include "fuzz.h"
#include "wallet/eip712.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct pv_eip712_hashes zero;
	struct pv_eip712_hashes h, h2;
	uint8_t pre[66], d[32];
	const cJSON *pt;
	cJSON *doc;
	char *et = NULL;
	size_t n;
	pv_err r;

	r = pv_eip712_hash(data, size, &h);
	if (r != PV_OK) {
		FUZZ_ASSERT(r == PV_ERR_BAD_INPUT || r == PV_ERR_TOO_LARGE);
		FUZZ_ASSERT(memcmp(&h, &zero, sizeof(h)) == 0);
		return 0;
	}
	pre[0] = 0x19;
	pre[1] = 0x01;
	memcpy(pre + 2, h.domain_separator, 32);
	memcpy(pre + 34, h.message_hash, 32);
	pv_keccak256(pre, sizeof(pre), d);
	FUZZ_ASSERT(memcmp(d, h.digest, 32) == 0);
	FUZZ_ASSERT(h.has_chain_id || (!h.chain_id_fits && h.chain_id == 0));
	FUZZ_ASSERT(pv_eip712_hash(data, size, &h2) == PV_OK && memcmp(&h, &h2, sizeof(h)) == 0);

	/* accepted text is one JSON object (only whitespace after it) */
	FUZZ_ASSERT((doc = cJSON_ParseWithLengthOpts((const char *)data, size, NULL, 0)) != NULL);
	pt = cJSON_GetObjectItemCaseSensitive(doc, "primaryType");
	FUZZ_ASSERT(cJSON_IsString(pt));
	FUZZ_ASSERT(pv_eip712_encode_type(data, size, pt->valuestring, &et) == PV_OK);
	n = strlen(pt->valuestring);
	FUZZ_ASSERT(strncmp(et, pt->valuestring, n) == 0 && et[n] == '(');
	free(et);
	FUZZ_ASSERT(pv_eip712_hash_json(doc, &h2) == PV_OK && memcmp(&h, &h2, sizeof(h)) == 0);
	cJSON_Delete(doc);
	return 0;
}
