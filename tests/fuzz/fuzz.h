/* The libFuzzer entry point every harness defines; standalone.c calls it
 * when the harness is built without libFuzzer. */
#ifndef PV_FUZZ_H
#define PV_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken invariant is a finding: crash so the fuzzer keeps the input. */
#define FUZZ_ASSERT(cond)                                                                                    \
	do {                                                                                                 \
		if (!(cond))                                                                                 \
			abort();                                                                             \
	} while (0)

#endif
