/* libFuzzer harness: vaultd.json parsing, and the policy built from it. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/buf.h"
#include "config/vaultd_config.h"
#include "fuzz.h"
#include "policy/policy.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pv_config *cfg = NULL;
	pv_policy *pol = NULL;
	const pv_client *who = NULL;
	struct pv_peer peer;
	pv_policy_decision d;
	struct timespec now = {1, 0};
	double retry = 0;
	pv_buf *b = NULL;
	pv_err r;
	size_t i;

	if (pv_buf_view(data, size, &b) != PV_OK)
		return 0;
	r = pv_config_parse(b, &cfg);
	FUZZ_ASSERT(r == PV_OK || r == PV_ERR_BAD_INPUT || r == PV_ERR_TOO_LARGE);
	/* every refusal says where */
	FUZZ_ASSERT(r == PV_OK || pv_err_detail()[0] != '\0');
	if (r != PV_OK)
		goto out;
	FUZZ_ASSERT(cfg->n_clients > 0);
	FUZZ_ASSERT(pv_policy_from_config(cfg, &pol) == PV_OK);
	memset(&peer, 0, sizeof(peer));
	peer.has_uid = 1;
	for (i = 0; i < cfg->n_clients; i++) {
		const struct pv_config_client *k = &cfg->clients[i];
		size_t op;

		if (k->auth != PV_AUTH_UID)
			continue;
		peer.uid = k->uid;
		/* uids are unique, so the uid finds this very client */
		FUZZ_ASSERT(pv_policy_authenticate(pol, &peer, NULL, &who) == PV_OK);
		FUZZ_ASSERT(strcmp(pv_client_name(who), k->name) == 0);
		for (op = 0; op < PV_OP_COUNT; op++) {
			r = pv_policy_allow(pol, who, (pv_op)op, "wallet-1", &d);
			FUZZ_ASSERT(r == PV_OK || r == PV_ERR_FORBIDDEN);
		}
		r = pv_policy_rate(pol, who, now, &retry);
		FUZZ_ASSERT(r == PV_OK && retry == 0);
	}
	FUZZ_ASSERT(pv_policy_authenticate(pol, NULL, "pvt_not-a-configured-token", &who) ==
		    PV_ERR_NOT_LOGGED_IN);
out:
	pv_policy_free(pol);
	pv_config_free(cfg);
	pv_buf_free(b);
	return 0;
}
