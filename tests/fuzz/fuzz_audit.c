/* libFuzzer harness: the audit log line parser and chain verifier. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "audit/audit.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pv_audit_report rep;
	pv_err r;

	r = pv_audit_verify_mem(NULL, NULL, data, size, &rep);
	/* the report agrees with the verdict, and a reason is a terminated string */
	if (r == PV_OK)
		FUZZ_ASSERT(rep.bad_line == 0 && rep.reason[0] == '\0' && rep.checkpoints <= rep.lines &&
			    rep.verified == 0);
	else {
		FUZZ_ASSERT(r == PV_ERR_INTEGRITY);
		FUZZ_ASSERT(rep.bad_line >= 1 && rep.bad_line == rep.lines);
		FUZZ_ASSERT(memchr(rep.reason, '\0', sizeof(rep.reason)) != NULL);
		FUZZ_ASSERT(strncmp(rep.reason, "line ", 5) == 0);
	}
	return 0;
}
