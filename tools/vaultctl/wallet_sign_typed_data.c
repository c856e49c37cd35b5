/* vaultctl wallet sign-typed-data NAME --chain evm: EIP-712 typed data (the
 * JSON of eth_signTypedData_v4), signed as wallets do. */
#include "config.h"

#include <string.h>

#include "subcommands.h"
#include "wallet/eip712.h"
#include "walletargs.h"

#define USAGE "wallet sign-typed-data NAME --chain evm [--in FILE|-]"

int
wallet_sign_typed_data_main(struct vctl *c, int argc, char *argv[])
{
	struct walletargs a;
	struct pv_wallet_key wk;
	struct pv_evm_sig es;
	uint8_t digest[32];
	pv_buf *in = NULL;
	int rc;
	pv_err r;

	if ((rc = walletargs_parse(c, argc, argv, USAGE, WALLETARGS_IN | WALLETARGS_EVM_ONLY, &a)) >= 0)
		return rc;
	memset(&wk, 0, sizeof(wk));
	if ((r = vctl_read_input(a.in, PV_EIP712_MAX, &in)) != PV_OK) {
		rc = vctl_fail(c, r, "wallet sign-typed-data '%s': reading input", a.name);
		goto out;
	}
	if ((r = wallet_key_open(c, a.name, a.chain, &wk)) != PV_OK ||
	    (r = pv_wallet_evm_sign_typed_data(&wk.signer, pv_buf_ptr(in), pv_buf_len(in), digest, &es)) !=
		PV_OK) {
		rc = vctl_fail(c, r, "wallet sign-typed-data '%s'", a.name);
		goto out;
	}
	rc = walletargs_print_evm_sig(c, &wk, &es, 1, digest);
out:
	pv_buf_free(in);
	pv_wallet_key_close(&wk);
	return rc;
}
