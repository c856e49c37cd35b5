/* vaultctl wallet sign-message NAME --chain solana|evm: an off-chain
 * message, signed as wallets do (Solana: Ed25519 over the bytes; EVM:
 * EIP-191 personal_sign). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "subcommands.h"
#include "wallet/base58.h"
#include "walletargs.h"

#define USAGE "wallet sign-message NAME --chain solana|evm [--in FILE|-]"

int
wallet_sign_message_main(struct vctl *c, int argc, char *argv[])
{
	uint8_t sig[PV_SOLANA_SIG_LEN];
	char sig58[128];
	struct walletargs a;
	struct wallet_key wk;
	struct pv_evm_sig es;
	pv_buf *in = NULL;
	size_t siglen = 0;
	cJSON *doc = NULL;
	int rc;
	pv_err r;

	if ((rc = walletargs_parse(c, argc, argv, USAGE, WALLETARGS_IN, &a)) >= 0)
		return rc;
	rc = 0;
	memset(&wk, 0, sizeof(wk));
	if ((r = vctl_read_input(a.in, PV_WALLET_MESSAGE_MAX, &in)) != PV_OK) {
		rc = vctl_fail(c, r, "wallet sign-message '%s': reading input", a.name);
		goto out;
	}
	if ((r = wallet_key_open(c, a.name, a.chain, &wk)) != PV_OK) {
		rc = vctl_fail(c, r, "wallet sign-message '%s'", a.name);
		goto out;
	}
	if (a.chain == PV_CHAIN_EVM) {
		if ((r = pv_wallet_evm_sign_message(&wk.signer, pv_buf_ptr(in), pv_buf_len(in), &es)) !=
		    PV_OK) {
			rc = vctl_fail(c, r, "wallet sign-message '%s'", a.name);
			goto out;
		}
		rc = walletargs_print_evm_sig(c, &wk, &es, 0, NULL);
		goto out;
	}
	if ((r = pv_wallet_solana_sign_message(&wk.signer, pv_buf_ptr(in), pv_buf_len(in), sig)) != PV_OK) {
		rc = vctl_fail(c, r, "wallet sign-message '%s'", a.name);
		goto out;
	}
	if ((r = pv_base58_encode(sig, sizeof(sig), sig58, sizeof(sig58), &siglen)) != PV_OK) {
		rc = vctl_fail(c, r, "wallet sign-message '%s': encoding", a.name);
		goto out;
	}
	if (!c->json) {
		rc = printf("%s\n", sig58) < 0 ? PV_EXIT_INTERNAL : PV_EXIT_OK;
		goto out;
	}
	if ((doc = walletargs_json(&wk, NULL)) == NULL) {
		rc = PV_EXIT_INTERNAL;
		goto out;
	}
	cJSON_AddStringToObject(doc, "signature_b58", sig58);
	rc = vctl_print_json(doc);
out:
	pv_buf_free(in);
	wallet_key_close(&wk);
	return rc;
}
