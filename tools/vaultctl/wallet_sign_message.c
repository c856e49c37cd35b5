/* vaultctl wallet sign-message NAME --chain solana|evm: an off-chain
 * message, signed as wallets do (Solana: Ed25519 over the bytes, or over a
 * version 0 off-chain message built around them with --offchain; EVM:
 * EIP-191 personal_sign). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/b64.h"
#include "subcommands.h"
#include "wallet/base58.h"
#include "walletargs.h"

#define USAGE                                                                                                \
	"wallet sign-message NAME --chain solana|evm [--in FILE|-] [--offchain --application-domain BASE58]"

/* The largest off-chain message: the u16 body and a preamble of one
 * signer. */
#define OFFCHAIN_MAX (PV_SOLANA_OFFCHAIN_PREAMBLE(1) + PV_SOLANA_OFFCHAIN_BODY_MAX)

/* Sign in, raw or as an off-chain message; the signature in base58, and
 * with --offchain the bytes signed (in signed, base64) and their format. */
static pv_err
sign_solana(const struct walletargs *a, const uint8_t domain[PV_SOLANA_OFFCHAIN_APP_DOMAIN_LEN],
	    const struct pv_wallet_key *wk, const pv_buf *in, char *sig58, size_t cap, char **signed_b64,
	    pv_solana_offchain_format *format)
{
	uint8_t sig[PV_SOLANA_SIG_LEN];
	pv_buf *msg = NULL;
	size_t n = 0;
	pv_err r;

	if (!a->offchain) {
		r = pv_wallet_solana_sign_message(&wk->signer, pv_buf_ptr(in), pv_buf_len(in), sig);
	} else if ((r = pv_buf_new(OFFCHAIN_MAX, &msg)) == PV_OK &&
		   (r = pv_wallet_solana_sign_offchain(&wk->signer, domain, pv_buf_ptr(in), pv_buf_len(in),
						       msg, format, sig)) == PV_OK) {
		r = pv_b64_encode(pv_buf_ptr(msg), pv_buf_len(msg), signed_b64);
	}
	if (r == PV_OK)
		r = pv_base58_encode(sig, sizeof(sig), sig58, cap, &n);
	pv_buf_free(msg);
	return r;
}

int
wallet_sign_message_main(struct vctl *c, int argc, char *argv[])
{
	uint8_t domain[PV_SOLANA_OFFCHAIN_APP_DOMAIN_LEN];
	char sig58[128];
	struct walletargs a;
	struct pv_wallet_key wk;
	struct pv_evm_sig es;
	pv_solana_offchain_format format = PV_SOLANA_OFFCHAIN_ASCII;
	pv_buf *in = NULL;
	char *signed_b64 = NULL;
	cJSON *doc = NULL;
	int rc;
	pv_err r;

	if ((rc = walletargs_parse(c, argc, argv, USAGE, WALLETARGS_IN | WALLETARGS_OFFCHAIN, &a)) >= 0)
		return rc;
	rc = 0;
	memset(&wk, 0, sizeof(wk));
	if (a.offchain && pv_solana_address_parse(a.app_domain, domain) != PV_OK) {
		rc = vctl_usage(c, USAGE, "--application-domain is not base58 of 32 bytes");
		goto out;
	}
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
	if ((r = sign_solana(&a, domain, &wk, in, sig58, sizeof(sig58), &signed_b64, &format)) != PV_OK) {
		rc = vctl_fail(c, r, "wallet sign-message '%s'", a.name);
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
	cJSON_AddStringToObject(doc, "format", a.offchain ? "offchain" : "raw");
	if (a.offchain) {
		cJSON_AddStringToObject(doc, "message_format", pv_solana_offchain_format_name(format));
		cJSON_AddStringToObject(doc, "signed_message_b64", signed_b64);
	}
	rc = vctl_print_json(doc);
out:
	free(signed_b64);
	pv_buf_free(in);
	pv_wallet_key_close(&wk);
	return rc;
}
