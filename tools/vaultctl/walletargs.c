#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wallet/evm.h"
#include "walletargs.h"

int
walletargs_parse(struct vctl *c, int argc, char *argv[], const char *usage, int flags, struct walletargs *a)
{
	static const struct option opts[] = {
	    {"chain", required_argument, NULL, 'c'},
	    {"in", required_argument, NULL, 'i'},
	    {"out", required_argument, NULL, 'o'},
	    {"offchain", no_argument, NULL, 'f'},
	    {"application-domain", required_argument, NULL, 'a'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *chain = NULL;
	int ch;

	memset(a, 0, sizeof(*a));
	a->in = "-";
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			chain = optarg;
			break;
		case 'i':
			if (!(flags & WALLETARGS_IN))
				return vctl_usage(c, usage, "--in is not an option here");
			a->in = optarg;
			break;
		case 'o':
			if (!(flags & WALLETARGS_OUT))
				return vctl_usage(c, usage, "--out is not an option here");
			a->out = optarg;
			break;
		case 'f':
		case 'a':
			if (!(flags & WALLETARGS_OFFCHAIN))
				return vctl_usage(c, usage, "--%s is not an option here",
						  ch == 'f' ? "offchain" : "application-domain");
			if (ch == 'f')
				a->offchain = 1;
			else
				a->app_domain = optarg;
			break;
		case 'h':
			printf("Usage: vaultctl %s\n", usage);
			return 0;
		default:
			return vctl_bad_option(c, usage, argv);
		}
	}
	if (optind + 1 != argc)
		return vctl_usage(c, usage, optind >= argc ? "a key NAME is required" : "too many arguments");
	a->name = argv[optind];
	if (chain == NULL)
		return vctl_usage(c, usage, "--chain solana|evm is required");
	if (pv_chain_parse(chain, &a->chain) != PV_OK)
		return vctl_usage(c, usage, "unknown chain '%.32s' (solana evm)", chain);
	if ((flags & WALLETARGS_EVM_ONLY) && a->chain != PV_CHAIN_EVM)
		return vctl_usage(c, usage, "only --chain evm is possible here");
	if (a->offchain && a->chain != PV_CHAIN_SOLANA)
		return vctl_usage(c, usage, "--offchain is a Solana message format (--chain solana)");
	if (a->offchain && a->app_domain == NULL)
		return vctl_usage(c, usage, "--offchain needs --application-domain (base58 of 32 bytes)");
	if (!a->offchain && a->app_domain != NULL)
		return vctl_usage(c, usage, "--application-domain goes with --offchain");
	return -1;
}

pv_err
wallet_key_open(struct vctl *c, const char *name, pv_chain chain, struct pv_wallet_key *wk)
{
	pv_keystore *ks = NULL;
	pv_err r;

	memset(wk, 0, sizeof(*wk));
	if ((r = vctl_keystore(c, &ks)) != PV_OK)
		return r;
	return pv_wallet_key_open(ks, name, chain, wk);
}

static int
is_space(uint8_t ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

pv_err
walletargs_read_text(const char *path, size_t max, pv_buf **buf, const char **text, size_t *len)
{
	const uint8_t *p;
	size_t n;
	pv_err r;

	*text = NULL;
	*len = 0;
	if ((r = vctl_read_input(path, max, buf)) != PV_OK)
		return r;
	p = pv_buf_ptr(*buf);
	n = pv_buf_len(*buf);
	while (n > 0 && is_space(p[0])) {
		p++;
		n--;
	}
	while (n > 0 && is_space(p[n - 1]))
		n--;
	*text = (const char *)p;
	*len = n;
	return PV_OK;
}

cJSON *
walletargs_json(const struct pv_wallet_key *wk, const char *chain)
{
	cJSON *doc = cJSON_CreateObject();

	if (doc == NULL)
		return NULL;
	cJSON_AddStringToObject(doc, "name", wk->name);
	if (chain != NULL)
		cJSON_AddStringToObject(doc, "chain", chain);
	cJSON_AddNumberToObject(doc, "version", wk->signer.version);
	cJSON_AddStringToObject(doc, "address", wk->address);
	return doc;
}

int
walletargs_print_evm_sig(struct vctl *c, const struct pv_wallet_key *wk, const struct pv_evm_sig *sig,
			 int with_parity, const uint8_t *digest)
{
	uint8_t rsv[65];
	char *hex = NULL, *dhex = NULL;
	cJSON *doc = NULL;
	int rc = PV_EXIT_INTERNAL;

	pv_evm_sig_rsv(sig, 27, rsv);
	if (pv_hex0x_encode(rsv, sizeof(rsv), &hex) != PV_OK)
		goto out;
	if (!c->json) {
		rc = printf("%s\n", hex) < 0 ? PV_EXIT_INTERNAL : PV_EXIT_OK;
		goto out;
	}
	if ((doc = walletargs_json(wk, NULL)) == NULL)
		goto out;
	cJSON_AddStringToObject(doc, "signature", hex);
	if (with_parity)
		cJSON_AddNumberToObject(doc, "y_parity", sig->recid);
	if (digest != NULL) {
		if (pv_hex0x_encode(digest, 32, &dhex) != PV_OK) {
			cJSON_Delete(doc);
			goto out;
		}
		cJSON_AddStringToObject(doc, "digest", dhex);
	}
	rc = vctl_print_json(doc);
out:
	free(hex);
	free(dhex);
	return rc;
}
