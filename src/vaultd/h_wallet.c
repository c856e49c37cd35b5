/*
 * Wallet endpoints (docs/api.md §4 "Wallet"): the wallet signer over the
 * keeper, the address endpoints of both chains and the Solana signing
 * endpoints. EVM signing is in h_wallet_evm.c.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/alg.h"
#include "core/b64.h"
#include "core/digest.h"
#include "core/sign.h"
#include "vaultd/h_wallet.h"
#include "wallet/base58.h"

/* The signer callback: the keeper, with the request and its intent (the
 * keeper checks the bytes against it and the rule's caps), always with the
 * pinned version: the reply names the version and address that signed.
 * A rotation by another process after the public key was read does not
 * fail the request: the keeper lets the version it decided the request
 * with sign while a rotation has made it verify-only (keeper.c,
 * seen_active; docs/wallet.md "Rotation"); a retired one fails (409). */
static pv_err
keeper_sign(void *ctx, const struct pv_sign_opts *opts, const uint8_t *msg, size_t len, struct pv_sig *out)
{
	struct vd_wallet *w = ctx;
	struct pv_sign_opts o = *opts;

	o.version = w->signer.version;
	return vd_keeper_sign(w->keeper, &w->q, &o, msg, len, out);
}

pv_err
vd_wallet_open(struct vd_ctx *c, pv_chain chain, enum vd_use use, struct vd_wallet *w)
{
	const struct pv_key_version *active;
	pv_err r;

	memset(w, 0, sizeof(*w));
	w->keeper = c->d->keeper;
	/* the keeper decides: policy, the key, its purpose (the chain's) */
	if ((r = vd_key(c, use, &w->q, &w->key)) != PV_OK)
		return r;
	/* the purpose implies the algorithm; checked as vaultctl checks it */
	if ((r = pv_wallet_key_check(chain, w->key)) != PV_OK) {
		vd_fail(c, r);
		return r;
	}
	if ((active = pv_key_active(w->key)) == NULL) {
		vd_reply_errorf(c->resp, 409, "state", "key '%s' has no active version", c->name);
		return PV_ERR_STATE;
	}
	c->version = active->version;
	pv_err_clear_detail();
	if ((r = vd_keeper_public(w->keeper, &w->q, active->version, &w->pub)) != PV_OK) {
		vd_fail_key(c, r);
		return r;
	}
	if ((r = pv_wallet_signer_init(&w->signer, chain, keeper_sign, w, w->key->alg, active->version,
				       w->pub, w->address)) != PV_OK) {
		vd_fail(c, r);
		return r;
	}
	return PV_OK;
}

void
vd_wallet_close(struct vd_wallet *w)
{
	EVP_PKEY_free(w->pub);
	pv_key_free(w->key);
	memset(w, 0, sizeof(*w));
}

cJSON *
vd_wallet_reply(struct vd_ctx *c, const struct vd_wallet *w)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL || cJSON_AddStringToObject(o, "name", c->name) == NULL ||
	    cJSON_AddNumberToObject(o, "version", w->signer.version) == NULL ||
	    cJSON_AddStringToObject(o, "address", w->address) == NULL) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

void
vd_wallet_audit_hash(struct vd_ctx *c, const uint8_t hash[32])
{
	c->tx[0] = '0';
	c->tx[1] = 'x';
	sodium_bin2hex(c->tx + 2, sizeof(c->tx) - 2, hash, 32);
}

/* c->tx = SHA-256 of the message in hex: a refused Solana request. */
static void
audit_message_sha256(struct vd_ctx *c, const uint8_t *msg, size_t len)
{
	uint8_t md[PV_DIGEST_MAX_LEN];
	size_t mdlen = 0;

	if (pv_digest_compute(PV_DIGEST_SHA256, msg, len, md, &mdlen) == PV_OK && mdlen == 32)
		sodium_bin2hex(c->tx, sizeof(c->tx), md, mdlen);
}

/* c->tx = the signature in base58: a signed Solana request. */
static pv_err
audit_signature(struct vd_ctx *c, const uint8_t sig[PV_SOLANA_SIG_LEN], char *b58, size_t cap)
{
	size_t n = 0;
	pv_err r;

	if ((r = pv_base58_encode(sig, PV_SOLANA_SIG_LEN, b58, cap, &n)) != PV_OK)
		return r;
	snprintf(c->tx, sizeof(c->tx), "%s", b58);
	return PV_OK;
}

/* ---- addresses ---- */

static void
address(struct vd_ctx *c, pv_chain chain, enum vd_use use)
{
	struct vd_wallet w;
	cJSON *o = NULL;

	if (vd_wallet_open(c, chain, use, &w) != PV_OK)
		goto out;
	if ((o = vd_wallet_reply(c, &w)) == NULL ||
	    cJSON_AddStringToObject(o, "chain", pv_chain_name(chain)) == NULL) {
		vd_fail(c, PV_ERR_NOMEM);
		goto out;
	}
	vd_ok(c, o);
out:
	cJSON_Delete(o);
	vd_wallet_close(&w);
}

void
vd_h_wallet_solana_address(struct vd_ctx *c)
{
	address(c, PV_CHAIN_SOLANA, VD_USE_SOLANA_READ);
}

void
vd_h_wallet_evm_address(struct vd_ctx *c)
{
	address(c, PV_CHAIN_EVM, VD_USE_EVM_READ);
}

/* ---- Solana ---- */

static const char *const sol_tx_members[] = {"transaction_b64", NULL};
static const char *const message_members[] = {"message_b64", "format", "application_domain", NULL};
static const char *const message_formats[] = {"raw", "offchain", NULL};

/* The signature base58 text: 64 bytes are at most 88 characters. */
#define SIG_B58_SIZE 96

void
vd_h_wallet_solana_sign_tx(struct vd_ctx *c)
{
	uint8_t pub[PV_SOLANA_KEY_LEN], sig[PV_SOLANA_SIG_LEN];
	char b58[SIG_B58_SIZE];
	struct pv_solana_tx p;
	struct vd_wallet w;
	vd_rj *rj = NULL;
	uint8_t *tx = NULL;
	size_t len = 0, publen = sizeof(pub), slot = 0;
	char *tx_b64 = NULL;
	cJSON *o = NULL;
	pv_err r;

	memset(&w, 0, sizeof(w));
	if (vd_body(c, sol_tx_members, 0, &rj) != PV_OK ||
	    vd_wallet_open(c, PV_CHAIN_SOLANA, VD_USE_SOLANA_TX, &w) != PV_OK)
		goto out;
	pv_err_clear_detail();
	if ((r = vd_rj_b64(rj, "transaction_b64", 1, PV_SOLANA_TX_MAX, &tx, &len)) != PV_OK ||
	    (r = pv_solana_tx_parse(tx, len, &p)) != PV_OK) {
		vd_fail(c, r);
		goto out;
	}
	audit_message_sha256(c, p.message, p.message_len);
	if (EVP_PKEY_get_raw_public_key(w.pub, pub, &publen) != 1 || publen != sizeof(pub)) {
		vd_fail(c, PV_ERR_CRYPTO);
		goto out;
	}
	if (pv_solana_tx_signer_index(&p, pub, &slot) != PV_OK) {
		vd_reply_errorf(c->resp, 400, "bad_request",
				"key '%s' (%s) is not one of the transaction's required signers", c->name,
				w.address);
		goto out;
	}
	pv_err_clear_detail();
	w.q.intent.solana_tx = &p;
	if ((r = pv_wallet_solana_sign_tx(&w.signer, tx, len, &slot, sig)) != PV_OK) {
		vd_fail_key(c, r);
		goto out;
	}
	if ((r = audit_signature(c, sig, b58, sizeof(b58))) != PV_OK ||
	    (r = pv_b64_encode(tx, len, &tx_b64)) != PV_OK) {
		vd_fail(c, r);
		goto out;
	}
	if ((o = vd_wallet_reply(c, &w)) == NULL ||
	    cJSON_AddStringToObject(o, "transaction_b64", tx_b64) == NULL ||
	    cJSON_AddStringToObject(o, "signature_b58", b58) == NULL ||
	    cJSON_AddNumberToObject(o, "signer_index", (double)slot) == NULL) {
		vd_fail(c, PV_ERR_NOMEM);
		goto out;
	}
	vd_ok(c, o);
out:
	cJSON_Delete(o);
	free(tx_b64);
	free(tx);
	vd_wallet_close(&w);
	vd_rj_free(rj);
}

/* One signed transaction of a batch, as the single endpoint replies. */
static cJSON *
signed_tx_json(struct vd_ctx *c, const struct vd_wallet *w, const uint8_t *tx, size_t len,
	       const uint8_t sig[PV_SOLANA_SIG_LEN], size_t slot)
{
	char b58[SIG_B58_SIZE], *tx_b64 = NULL;
	size_t n = 0;
	cJSON *o = NULL;

	if (pv_base58_encode(sig, PV_SOLANA_SIG_LEN, b58, sizeof(b58), &n) != PV_OK ||
	    pv_b64_encode(tx, len, &tx_b64) != PV_OK || (o = vd_wallet_reply(c, w)) == NULL ||
	    cJSON_AddStringToObject(o, "transaction_b64", tx_b64) == NULL ||
	    cJSON_AddStringToObject(o, "signature_b58", b58) == NULL ||
	    cJSON_AddNumberToObject(o, "signer_index", (double)slot) == NULL) {
		cJSON_Delete(o);
		o = NULL;
	}
	free(tx_b64);
	return o;
}

/*
 * POST .../solana/sign-transactions {"transactions_b64":[...]}, web3.js
 * signAllTransactions: 1..VD_BATCH_SOLANA_MAX transactions, each checked as
 * sign-transaction checks one (strict parse, this key a required signer)
 * before any is signed; the keeper checks each message against its parsed
 * transaction and signs all with the pinned version, or none. Audit: the
 * SHA-256 of each transaction's message, in order (no tx member).
 */
void
vd_h_wallet_solana_sign_txs(struct vd_ctx *c)
{
	static const char *const members[] = {"transactions_b64", NULL};
	uint8_t pub[PV_SOLANA_KEY_LEN];
	struct pv_solana_tx p[VD_BATCH_SOLANA_MAX];
	struct vd_batch_item items[VD_BATCH_SOLANA_MAX];
	size_t slot[VD_BATCH_SOLANA_MAX];
	struct pv_sign_opts so;
	struct pv_sig *sigs = NULL;
	struct vd_wallet w;
	vd_rj *rj = NULL;
	uint8_t **txs = NULL;
	size_t *lens = NULL, n = 0, i, publen = sizeof(pub), mdlen = 0;
	cJSON *o = NULL, *arr = NULL, *one = NULL;
	char why[256];
	pv_err r;

	memset(&w, 0, sizeof(w));
	if (vd_body(c, members, 0, &rj) != PV_OK ||
	    vd_wallet_open(c, PV_CHAIN_SOLANA, VD_USE_SOLANA_TX, &w) != PV_OK)
		goto out;
	pv_err_clear_detail();
	if ((r = vd_rj_b64_array(rj, "transactions_b64", 1, VD_BATCH_SOLANA_MAX, PV_SOLANA_TX_MAX, &txs,
				 &lens, &n)) != PV_OK) {
		vd_fail(c, r);
		goto out;
	}
	if (EVP_PKEY_get_raw_public_key(w.pub, pub, &publen) != 1 || publen != sizeof(pub)) {
		vd_fail(c, PV_ERR_CRYPTO);
		goto out;
	}
	/* every transaction parsed and checked before any is signed */
	for (i = 0; i < n; i++) {
		pv_err_clear_detail();
		if ((r = pv_solana_tx_parse(txs[i], lens[i], &p[i])) != PV_OK) {
			/* the single endpoint's reply, naming the item */
			snprintf(why, sizeof(why), "%s", pv_err_detail());
			pv_err_set_detail("transactions_b64[%zu]: %s", i,
					  why[0] != '\0' ? why : pv_strerror(r));
			vd_fail(c, r);
			goto out;
		}
	}
	/* the audit line: each message's SHA-256, once all parsed */
	for (i = 0; i < n; i++) {
		if (pv_digest_compute(PV_DIGEST_SHA256, p[i].message, p[i].message_len, c->inputs_sha256[i],
				      &mdlen) != PV_OK)
			break;
	}
	c->n_inputs = i == n ? n : 0;
	for (i = 0; i < n; i++) {
		if (pv_solana_tx_signer_index(&p[i], pub, &slot[i]) != PV_OK) {
			vd_reply_errorf(
			    c->resp, 400, "bad_request",
			    "transactions_b64[%zu]: key '%s' (%s) is not one of the transaction's "
			    "required signers",
			    i, c->name, w.address);
			goto out;
		}
		items[i].msg = p[i].message;
		items[i].len = p[i].message_len;
		items[i].solana_tx = &p[i];
	}
	if ((sigs = calloc(n, sizeof(*sigs))) == NULL) {
		vd_fail(c, PV_ERR_NOMEM);
		goto out;
	}
	memset(&so, 0, sizeof(so));
	so.purpose = PV_PURPOSE_SOLANA;
	so.version = w.signer.version;
	so.digest = PV_DIGEST_NONE;
	pv_err_clear_detail();
	if ((r = vd_keeper_sign_batch(w.keeper, &w.q, &so, items, n, sigs)) != PV_OK) {
		vd_fail_key(c, r);
		goto out;
	}
	/* as the single endpoint does (wallet.c): each signature verified with
	 * the public key the reply names before any is released */
	for (i = 0; i < n; i++) {
		so.version = 0;
		if (sigs[i].len != PV_SOLANA_SIG_LEN ||
		    pv_verify_pub(w.pub, PV_ALG_ED25519, &so, items[i].msg, items[i].len, sigs[i].bytes,
				  sigs[i].len) != PV_OK) {
			pv_err_set_detail(
			    "the token's ed25519 signature does not verify with the key's public key");
			vd_fail(c, PV_ERR_INTEGRITY);
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		if ((r = pv_solana_tx_put_signature(txs[i], &p[i], slot[i], sigs[i].bytes)) != PV_OK) {
			vd_fail(c, r);
			goto out;
		}
	}
	if ((o = vd_wallet_reply(c, &w)) == NULL || (arr = cJSON_AddArrayToObject(o, "results")) == NULL) {
		vd_fail(c, PV_ERR_NOMEM);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((one = signed_tx_json(c, &w, txs[i], lens[i], sigs[i].bytes, slot[i])) == NULL ||
		    !cJSON_AddItemToArray(arr, one)) {
			cJSON_Delete(one);
			vd_fail(c, PV_ERR_NOMEM);
			goto out;
		}
	}
	vd_ok(c, o);
out:
	cJSON_Delete(o);
	free(sigs);
	vd_rj_b64_array_free(txs, lens, n);
	vd_wallet_close(&w);
	vd_rj_free(rj);
}

/*
 * The off-chain format's members: the application domain (required, base58
 * of 32 bytes). On failure the 400 reply is made.
 */
static pv_err
read_app_domain(struct vd_ctx *c, const vd_rj *rj, uint8_t domain[PV_SOLANA_OFFCHAIN_APP_DOMAIN_LEN])
{
	const char *s = NULL;
	pv_err r;

	pv_err_clear_detail();
	if ((r = vd_rj_string(rj, "application_domain", 1, PV_SOLANA_ADDRESS_MAX, &s)) != PV_OK) {
		vd_fail(c, r);
		return r;
	}
	if (pv_solana_address_parse(s, domain) != PV_OK) {
		vd_reply_error(c->resp, 400, "bad_request", "application_domain: not base58 of 32 bytes");
		return PV_ERR_BAD_INPUT;
	}
	return PV_OK;
}

/*
 * POST .../solana/sign-message {"message_b64", "format": "raw"|"offchain",
 * "application_domain"}: raw signs the bytes (never a transaction or a
 * transaction message, also as a prefix); offchain signs the Solana
 * off-chain message built around them, and the reply carries what was
 * signed.
 */
void
vd_h_wallet_solana_sign_message(struct vd_ctx *c)
{
	uint8_t sig[PV_SOLANA_SIG_LEN], domain[PV_SOLANA_OFFCHAIN_APP_DOMAIN_LEN];
	char b58[SIG_B58_SIZE];
	struct vd_wallet w;
	pv_solana_offchain_format mf = PV_SOLANA_OFFCHAIN_ASCII;
	vd_rj *rj = NULL;
	uint8_t *msg = NULL;
	size_t len = 0;
	pv_buf *signed_msg = NULL;
	char *signed_b64 = NULL;
	int format = 0;
	cJSON *o = NULL;
	pv_err r;

	memset(&w, 0, sizeof(w));
	if (vd_body(c, message_members, 0, &rj) != PV_OK ||
	    vd_wallet_open(c, PV_CHAIN_SOLANA, VD_USE_SOLANA_MESSAGE, &w) != PV_OK)
		goto out;
	pv_err_clear_detail();
	if ((r = vd_rj_enum(rj, "format", 0, message_formats, &format)) != PV_OK ||
	    (r = vd_rj_b64(rj, "message_b64", 1,
			   format == 1 ? PV_SOLANA_OFFCHAIN_BODY_MAX : PV_WALLET_MESSAGE_MAX, &msg, &len)) !=
		PV_OK) {
		vd_fail(c, r);
		goto out;
	}
	if (len == 0) {
		vd_reply_error(c->resp, 400, "bad_request", "message_b64 is empty (1 byte to 64 KiB)");
		goto out;
	}
	if (format != 1 && vd_rj_has(rj, "application_domain")) {
		vd_reply_error(
		    c->resp, 400, "bad_request",
		    "application_domain belongs to \"format\": \"offchain\" (raw messages have none)");
		goto out;
	}
	if (format == 1 && read_app_domain(c, rj, domain) != PV_OK)
		goto out;
	audit_message_sha256(c, msg, len);
	pv_err_clear_detail();
	if (format == 1) {
		if ((r = pv_buf_new(PV_SOLANA_OFFCHAIN_PREAMBLE(1) + PV_SOLANA_OFFCHAIN_BODY_MAX,
				    &signed_msg)) == PV_OK)
			r = pv_wallet_solana_sign_offchain(&w.signer, domain, msg, len, signed_msg, &mf, sig);
		if (r == PV_OK)
			r = pv_b64_encode(pv_buf_ptr(signed_msg), pv_buf_len(signed_msg), &signed_b64);
	} else {
		r = pv_wallet_solana_sign_message(&w.signer, msg, len, sig);
	}
	if (r != PV_OK) {
		vd_fail_key(c, r);
		goto out;
	}
	if ((r = audit_signature(c, sig, b58, sizeof(b58))) != PV_OK) {
		vd_fail(c, r);
		goto out;
	}
	if ((o = vd_wallet_reply(c, &w)) == NULL ||
	    cJSON_AddStringToObject(o, "signature_b58", b58) == NULL ||
	    (format == 1 &&
	     (cJSON_AddStringToObject(o, "format", "offchain") == NULL ||
	      cJSON_AddStringToObject(o, "message_format", pv_solana_offchain_format_name(mf)) == NULL ||
	      cJSON_AddStringToObject(o, "signed_message_b64", signed_b64) == NULL))) {
		vd_fail(c, PV_ERR_NOMEM);
		goto out;
	}
	vd_ok(c, o);
out:
	cJSON_Delete(o);
	free(signed_b64);
	pv_buf_free(signed_msg);
	free(msg);
	vd_wallet_close(&w);
	vd_rj_free(rj);
}
