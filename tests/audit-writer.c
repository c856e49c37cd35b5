/*
 * Test helper for tests/integration/audit_verify.sh: appends records to an
 * audit log through the library, on the token from P11VAULT_TOKEN /
 * P11VAULT_MODULE / P11VAULT_PIN_SOURCE.
 *   audit-writer FILE HMAC_KEY RECORDS EVERY
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "base/secmem.h"

int
main(int argc, char *argv[])
{
	struct p11_token_opts to = {0};
	struct pv_audit_opts ao = {0};
	struct pv_audit_rec rec = {0};
	p11_token *tok = NULL;
	pv_keystore *ks = NULL;
	pv_audit *a = NULL;
	char rid[32], input[64];
	long i, n;
	int rc = 1;
	pv_err r;

	if (argc != 5) {
		fprintf(stderr, "usage: audit-writer FILE HMAC_KEY RECORDS EVERY\n");
		return 2;
	}
	n = strtol(argv[3], NULL, 10);
	to.token_uri = getenv("P11VAULT_TOKEN");
	to.module = getenv("P11VAULT_MODULE");
	to.pin_source = getenv("P11VAULT_PIN_SOURCE");
	ao.path = argv[1];
	ao.hmac_key = argv[2];
	ao.every = (unsigned)strtoul(argv[4], NULL, 10);
	if ((r = pv_secmem_init()) != PV_OK || (r = p11_token_open(&to, &tok)) != PV_OK ||
	    (r = p11_token_login(tok)) != PV_OK || (r = pv_keystore_new(tok, &ks)) != PV_OK)
		goto out;
	ao.ks = ks;
	if ((r = pv_audit_open(&ao, &a)) != PV_OK)
		goto out;
	for (i = 0; i < n; i++) {
		snprintf(rid, sizeof(rid), "req-%ld", i);
		snprintf(input, sizeof(input), "payload %ld", i);
		rec.rid = rid;
		rec.client = "api";
		rec.op = "sign";
		rec.key = "jwt";
		rec.version = 1;
		rec.input = (const uint8_t *)input;
		rec.input_len = strlen(input);
		rec.outcome = i % 7 == 3 ? PV_AUDIT_DENIED : PV_AUDIT_OK;
		rec.status = i % 7 == 3 ? 403 : 200;
		rec.latency_us = (uint64_t)(100 + i);
		if ((r = pv_audit_write(a, &rec)) != PV_OK)
			goto out;
	}
	r = pv_audit_close(a);
	a = NULL;
	if (r == PV_OK)
		rc = 0;
out:
	if (r != PV_OK)
		fprintf(stderr, "audit-writer: %s (%s)\n", pv_strerror(r), pv_err_detail());
	(void)pv_audit_close(a);
	pv_keystore_free(ks);
	p11_token_close(tok);
	return rc;
}
