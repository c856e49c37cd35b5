/* vaultctl wallet address NAME --chain solana|evm: the key's address. */
#include "config.h"

#include <stdio.h>

#include "subcommands.h"
#include "walletargs.h"

#define USAGE "wallet address NAME --chain solana|evm"

int
wallet_address_main(struct vctl *c, int argc, char *argv[])
{
	struct walletargs a;
	struct pv_wallet_key wk;
	int rc;
	pv_err r;

	if ((rc = walletargs_parse(c, argc, argv, USAGE, 0, &a)) >= 0)
		return rc;
	if ((r = wallet_key_open(c, a.name, a.chain, &wk)) != PV_OK) {
		rc = vctl_fail(c, r, "wallet address '%s'", a.name);
		goto out;
	}
	if (c->json)
		rc = vctl_print_json(walletargs_json(&wk, pv_chain_name(a.chain)));
	else
		rc = printf("%s\n", wk.address) < 0 ? PV_EXIT_INTERNAL : PV_EXIT_OK;
out:
	pv_wallet_key_close(&wk);
	return rc;
}
