/*
 * libFuzzer harness: EVM address text as a request or config carries it.
 * Whatever parses must print back (EIP-55) to text that parses to the same
 * bytes, and must match the input apart from letter case.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "wallet/evm.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t addr[PV_EVM_ADDR_LEN], again[PV_EVM_ADDR_LEN];
	char text[PV_EVM_ADDR_STR_LEN + 1];
	char *s = NULL;

	/* the parser takes a C string: NUL-terminate a copy (an embedded NUL
	 * just ends it early) */
	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (pv_evm_address_parse(s, addr) == PV_OK) {
		FUZZ_ASSERT(strlen(s) == PV_EVM_ADDR_STR_LEN);
		pv_evm_checksum(addr, text);
		FUZZ_ASSERT(strcasecmp(text, s) == 0);
		FUZZ_ASSERT(pv_evm_address_parse(text, again) == PV_OK);
		FUZZ_ASSERT(memcmp(addr, again, sizeof(addr)) == 0);
	}
	free(s);
	return 0;
}
