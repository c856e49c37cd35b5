#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/b64.h"
#include "walletargs.h"

int
walletargs_parse(struct vctl *c, int argc, char *argv[], const char *usage, int flags, struct walletargs *a)
{
	static const struct option opts[] = {
	    {"chain", required_argument, NULL, 'c'},
	    {"in", required_argument, NULL, 'i'},
	    {"out", required_argument, NULL, 'o'},
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
	return -1;
}

/* pv_sign with the version the signer was opened with. */
static pv_err
keystore_sign(void *ctx, const struct pv_sign_opts *opts, const uint8_t *msg, size_t len, struct pv_sig *out)
{
	const struct wallet_key *wk = ctx;

	return pv_sign(wk->ks, wk->name, opts, msg, len, out);
}

pv_err
wallet_key_open(struct vctl *c, const char *name, pv_chain chain, struct wallet_key *wk)
{
	struct pv_key *key = NULL;
	struct pv_key_version ver;
	p11_obj obj;
	pv_err r;

	memset(wk, 0, sizeof(*wk));
	if ((r = vctl_keystore(c, &wk->ks)) != PV_OK ||
	    (r = pv_keys_resolve(wk->ks, name, 0, &key, &ver, &obj)) != PV_OK ||
	    (r = pv_key_check_purpose(key, pv_chain_purpose(chain))) != PV_OK)
		goto out;
	/* before reading a public key an HMAC or AES key does not have */
	if (key->alg != pv_chain_alg(chain)) {
		pv_err_set_detail("%s signs with %s keys; '%s' is %s", pv_chain_name(chain),
				  pv_alg_info(pv_chain_alg(chain))->name, name, pv_alg_info(key->alg)->name);
		r = PV_ERR_KEY_TYPE;
		goto out;
	}
	if ((r = pv_keys_public(wk->ks, key, &ver, &wk->signer.pub)) != PV_OK)
		goto out;
	wk->name = name;
	wk->signer.sign = keystore_sign;
	wk->signer.ctx = wk;
	wk->signer.alg = key->alg;
	wk->signer.version = ver.version;
	r = pv_wallet_address(chain, &wk->signer, wk->address);
out:
	pv_key_free(key);
	return r;
}

void
wallet_key_close(struct wallet_key *wk)
{
	EVP_PKEY_free(wk->signer.pub);
	wk->signer.pub = NULL;
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

pv_err
walletargs_hex_decode(const char *text, size_t len, uint8_t *out, size_t max, size_t *outlen)
{
	pv_err r;

	*outlen = 0;
	if (len < 2 || text[0] != '0' || text[1] != 'x') {
		pv_err_set_detail("the input is not 0x-prefixed hex");
		return PV_ERR_BAD_INPUT;
	}
	if ((len - 2) / 2 > max) {
		pv_err_set_detail("the input is over %zu bytes", max);
		return PV_ERR_TOO_LARGE;
	}
	if ((r = pv_hex_decode(text + 2, len - 2, out, max, outlen)) != PV_OK)
		pv_err_set_detail("the input is not 0x-prefixed hex (an even number of hex digits)");
	return r;
}

pv_err
walletargs_hex_encode(const uint8_t *in, size_t len, char **out)
{
	char *hex = NULL, *s = NULL;
	size_t n;
	pv_err r;

	*out = NULL;
	if ((r = pv_hex_encode(in, len, &hex)) != PV_OK)
		return r;
	n = strlen(hex);
	if ((s = malloc(n + 3)) == NULL) {
		free(hex);
		return PV_ERR_NOMEM;
	}
	memcpy(s, "0x", 2);
	memcpy(s + 2, hex, n + 1);
	free(hex);
	*out = s;
	return PV_OK;
}

cJSON *
walletargs_json(const struct wallet_key *wk, const char *chain)
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
walletargs_print_evm_sig(struct vctl *c, const struct wallet_key *wk, const struct pv_evm_sig *sig,
			 int with_parity, const uint8_t *digest)
{
	uint8_t rsv[65];
	char *hex = NULL, *dhex = NULL;
	cJSON *doc = NULL;
	int rc = PV_EXIT_INTERNAL;

	pv_evm_sig_rsv(sig, 27, rsv);
	if (walletargs_hex_encode(rsv, sizeof(rsv), &hex) != PV_OK)
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
		if (walletargs_hex_encode(digest, 32, &dhex) != PV_OK) {
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
