/* vaultctl wallet sign-tx NAME --chain solana|evm: sign a transaction. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/b64.h"
#include "subcommands.h"
#include "wallet/base58.h"
#include "walletargs.h"

#define USAGE "wallet sign-tx NAME --chain solana|evm [--in FILE|-] [--out FILE]"

/* Base64 of a 1232-byte transaction is 1644 characters; room for
 * whitespace around it, not for anything that could be a transaction. */
#define SOLANA_INPUT_MAX 4096
/* "0x" and two digits per byte, plus whitespace. */
#define EVM_INPUT_MAX    (2 + 2 * PV_EVM_TX_MAX + 4096)
/* A signature adds v, r and s (at most 75 bytes) and a longer list header. */
#define EVM_SIGNED_MAX   (PV_EVM_TX_MAX + 128)

/* text + "\n" to --out or stdout. */
static pv_err
write_line(const char *path, const char *text)
{
	size_t n = strlen(text);
	char *line = malloc(n + 2);
	pv_err r;

	if (line == NULL)
		return PV_ERR_NOMEM;
	memcpy(line, text, n);
	line[n] = '\n';
	line[n + 1] = '\0';
	r = vctl_write_output(path, line, n + 1);
	free(line);
	return r;
}

static int
sign_solana(struct vctl *c, const struct walletargs *a)
{
	uint8_t tx[PV_SOLANA_TX_MAX], sig[PV_SOLANA_SIG_LEN];
	char sig58[128];
	struct pv_wallet_key wk;
	const char *text = NULL;
	char *b64 = NULL;
	pv_buf *in = NULL;
	size_t len = 0, n = 0, slot = 0, siglen = 0;
	cJSON *doc = NULL;
	int rc = 0;
	pv_err r;

	memset(&wk, 0, sizeof(wk));
	if ((r = walletargs_read_text(a->in, SOLANA_INPUT_MAX, &in, &text, &len)) != PV_OK) {
		rc = vctl_fail(c, r, "wallet sign-tx '%s': reading input", a->name);
		goto out;
	}
	if ((r = pv_b64_decode(text, len, tx, sizeof(tx), &n)) != PV_OK) {
		if (r == PV_ERR_TOO_LARGE)
			pv_err_set_detail("the transaction is over %d bytes", PV_SOLANA_TX_MAX);
		else
			pv_err_set_detail("the input is not a standard base64 transaction");
		rc = vctl_fail(c, r, "wallet sign-tx '%s'", a->name);
		goto out;
	}
	if ((r = wallet_key_open(c, a->name, a->chain, &wk)) != PV_OK ||
	    (r = pv_wallet_solana_sign_tx(&wk.signer, tx, n, &slot, sig)) != PV_OK) {
		/* not a signer of this transaction: the input is wrong, not the key */
		rc = vctl_fail(c, r == PV_ERR_NOT_FOUND && wk.signer.pub != NULL ? PV_ERR_BAD_INPUT : r,
			       "wallet sign-tx '%s'", a->name);
		goto out;
	}
	if ((r = pv_b64_encode(tx, n, &b64)) != PV_OK ||
	    (r = pv_base58_encode(sig, sizeof(sig), sig58, sizeof(sig58), &siglen)) != PV_OK) {
		rc = vctl_fail(c, r, "wallet sign-tx '%s': encoding", a->name);
		goto out;
	}
	vctl_info(c, "signed slot %zu of a %zu-byte transaction with '%s' version %u (%s)", slot, n, a->name,
		  wk.signer.version, wk.address);
	if (c->json) {
		if (a->out != NULL && (r = write_line(a->out, b64)) != PV_OK) {
			rc = vctl_fail(c, r, "wallet sign-tx '%s': writing the transaction", a->name);
			goto out;
		}
		if ((doc = walletargs_json(&wk, NULL)) == NULL) {
			rc = PV_EXIT_INTERNAL;
			goto out;
		}
		cJSON_AddStringToObject(doc, "transaction_b64", b64);
		cJSON_AddStringToObject(doc, "signature_b58", sig58);
		cJSON_AddNumberToObject(doc, "signer_index", (double)slot);
		rc = vctl_print_json(doc);
		goto out;
	}
	if ((r = write_line(a->out, b64)) != PV_OK)
		rc = vctl_fail(c, r, "wallet sign-tx '%s': writing the transaction", a->name);
out:
	free(b64);
	pv_buf_free(in);
	pv_wallet_key_close(&wk);
	return rc;
}

static int
add_u64(cJSON *doc, const char *key, uint64_t v)
{
	char num[24];

	/* exact: a cJSON number is a double */
	snprintf(num, sizeof(num), "%" PRIu64, v);
	return cJSON_AddRawToObject(doc, key, num) != NULL;
}

/* The --json document of a signed EVM transaction. */
static cJSON *
evm_json(const struct pv_wallet_key *wk, const struct pv_evm_tx *tx, const char *raw_hex,
	 const uint8_t hash[32], const struct pv_evm_sig *sig)
{
	cJSON *doc = walletargs_json(wk, NULL), *s = NULL;
	char *h = NULL, *r = NULL, *ss = NULL;
	uint64_t v = pv_evm_tx_v(tx, sig);
	int ok = 0;

	if (doc == NULL || pv_hex0x_encode(hash, 32, &h) != PV_OK ||
	    pv_hex0x_encode(sig->r, 32, &r) != PV_OK || pv_hex0x_encode(sig->s, 32, &ss) != PV_OK)
		goto out;
	cJSON_AddStringToObject(doc, "raw_transaction", raw_hex);
	cJSON_AddStringToObject(doc, "tx_hash", h);
	cJSON_AddNumberToObject(doc, "type", (double)tx->type);
	if (!add_u64(doc, "chain_id", tx->chain_id) ||
	    (s = cJSON_AddObjectToObject(doc, "signature")) == NULL)
		goto out;
	cJSON_AddStringToObject(s, "r", r);
	cJSON_AddStringToObject(s, "s", ss);
	cJSON_AddNumberToObject(s, "y_parity", sig->recid);
	ok = add_u64(s, "v", v);
out:
	free(h);
	free(r);
	free(ss);
	if (!ok) {
		cJSON_Delete(doc);
		doc = NULL;
	}
	return doc;
}

static int
sign_evm(struct vctl *c, const struct walletargs *a)
{
	struct pv_wallet_key wk;
	struct pv_evm_tx tx;
	struct pv_evm_sig sig;
	uint8_t *raw = NULL, hash[32];
	const char *text = NULL;
	char *hex = NULL;
	pv_buf *in = NULL, *signed_tx = NULL;
	size_t len = 0, n = 0;
	cJSON *doc = NULL;
	int rc = 0;
	pv_err r;

	memset(&wk, 0, sizeof(wk));
	if ((r = walletargs_read_text(a->in, EVM_INPUT_MAX, &in, &text, &len)) != PV_OK) {
		rc = vctl_fail(c, r, "wallet sign-tx '%s': reading input", a->name);
		goto out;
	}
	if ((raw = malloc(PV_EVM_TX_MAX)) == NULL || (r = pv_buf_new(EVM_SIGNED_MAX, &signed_tx)) != PV_OK) {
		rc = vctl_fail(c, raw == NULL ? PV_ERR_NOMEM : r, "wallet sign-tx '%s'", a->name);
		goto out;
	}
	if ((r = pv_hex0x_decode(text, len, raw, PV_EVM_TX_MAX, &n)) != PV_OK ||
	    (r = pv_evm_tx_parse(raw, n, &tx)) != PV_OK) {
		rc = vctl_fail(c, r, "wallet sign-tx '%s'", a->name);
		goto out;
	}
	if ((r = wallet_key_open(c, a->name, a->chain, &wk)) != PV_OK ||
	    (r = pv_wallet_evm_sign_tx(&wk.signer, &tx, signed_tx, hash, &sig)) != PV_OK) {
		rc = vctl_fail(c, r, "wallet sign-tx '%s'", a->name);
		goto out;
	}
	if ((r = pv_hex0x_encode(pv_buf_ptr(signed_tx), pv_buf_len(signed_tx), &hex)) != PV_OK) {
		rc = vctl_fail(c, r, "wallet sign-tx '%s': encoding", a->name);
		goto out;
	}
	vctl_info(c, "signed a type %d transaction for chain %" PRIu64 " with '%s' version %u (%s)",
		  (int)tx.type, tx.chain_id, a->name, wk.signer.version, wk.address);
	if (c->json) {
		if (a->out != NULL && (r = write_line(a->out, hex)) != PV_OK) {
			rc = vctl_fail(c, r, "wallet sign-tx '%s': writing the transaction", a->name);
			goto out;
		}
		if ((doc = evm_json(&wk, &tx, hex, hash, &sig)) == NULL) {
			rc = PV_EXIT_INTERNAL;
			goto out;
		}
		rc = vctl_print_json(doc);
		goto out;
	}
	if ((r = write_line(a->out, hex)) != PV_OK)
		rc = vctl_fail(c, r, "wallet sign-tx '%s': writing the transaction", a->name);
out:
	free(hex);
	free(raw);
	pv_buf_free(signed_tx);
	pv_buf_free(in);
	pv_wallet_key_close(&wk);
	return rc;
}

int
wallet_sign_tx_main(struct vctl *c, int argc, char *argv[])
{
	struct walletargs a;
	int rc;

	if ((rc = walletargs_parse(c, argc, argv, USAGE, WALLETARGS_IN | WALLETARGS_OUT, &a)) >= 0)
		return rc;
	return a.chain == PV_CHAIN_EVM ? sign_evm(c, &a) : sign_solana(c, &a);
}
