/* vaultctl wallet sign-digest NAME --chain evm: a 32-byte digest given as
 * 0x-hex (any transaction's signing hash: use with care). */
#include "config.h"

#include <string.h>

#include "subcommands.h"
#include "walletargs.h"

#define USAGE "wallet sign-digest NAME --chain evm [--in FILE|-]"

/* "0x" and 64 digits, plus whitespace around them. */
#define DIGEST_INPUT_MAX 1024

int
wallet_sign_digest_main(struct vctl *c, int argc, char *argv[])
{
	struct walletargs a;
	struct pv_wallet_key wk;
	struct pv_evm_sig es;
	uint8_t digest[32];
	const char *text = NULL;
	pv_buf *in = NULL;
	size_t len = 0, n = 0;
	int rc;
	pv_err r;

	if ((rc = walletargs_parse(c, argc, argv, USAGE, WALLETARGS_IN | WALLETARGS_EVM_ONLY, &a)) >= 0)
		return rc;
	rc = 0;
	memset(&wk, 0, sizeof(wk));
	if ((r = walletargs_read_text(a.in, DIGEST_INPUT_MAX, &in, &text, &len)) != PV_OK) {
		rc = vctl_fail(c, r, "wallet sign-digest '%s': reading input", a.name);
		goto out;
	}
	if ((r = pv_hex0x_decode(text, len, digest, sizeof(digest), &n)) != PV_OK || n != sizeof(digest)) {
		if (r == PV_OK || r == PV_ERR_TOO_LARGE) {
			pv_err_set_detail("the digest must be 32 bytes (0x and 64 hex digits)");
			r = PV_ERR_BAD_INPUT;
		}
		rc = vctl_fail(c, r, "wallet sign-digest '%s'", a.name);
		goto out;
	}
	if ((r = wallet_key_open(c, a.name, a.chain, &wk)) != PV_OK ||
	    (r = pv_wallet_evm_sign_digest(&wk.signer, digest, &es)) != PV_OK) {
		rc = vctl_fail(c, r, "wallet sign-digest '%s'", a.name);
		goto out;
	}
	rc = walletargs_print_evm_sig(c, &wk, &es, 1, NULL);
out:
	pv_buf_free(in);
	pv_wallet_key_close(&wk);
	return rc;
}
