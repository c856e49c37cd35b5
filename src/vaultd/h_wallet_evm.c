/*
 * EVM wallet endpoints (docs/api.md §4 "Wallet"): sign-transaction under
 * the matching rule's caps (chain_ids, max_value_wei; docs/config.md),
 * EIP-191 sign-message, sign-digest (refused under any cap), and EIP-712
 * sign-typed-data (under chain_ids the domain must name a listed chain id).
 * The caps are the keeper's to check (keeper_policy.c): these handlers
 * parse, hand the keeper the parsed intent, and build the replies.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "base/buf.h"
#include "vaultd/h_wallet.h"
#include "wallet/eip712.h"
#include "wallet/evm.h"
#include "wallet/evm_tx.h"

static const char *const tx_members[] = {"transaction_hex", NULL};
static const char *const message_members[] = {"message_b64", NULL};
static const char *const digest_members[] = {"digest_hex", NULL};
static const char *const typed_members[] = {"typed_data", NULL};

/*
 * A required "0x"-prefixed hex member, decoded into a malloc'd buffer of
 * at most max bytes. On failure the 400 reply is made.
 */
static pv_err
read_hex(struct vd_ctx *c, const vd_rj *rj, const char *name, size_t max, uint8_t **out, size_t *outlen)
{
	const char *s = NULL;
	uint8_t *buf = NULL;
	size_t slen;
	pv_err r;

	*out = NULL;
	*outlen = 0;
	pv_err_clear_detail();
	if ((r = vd_rj_string(rj, name, 1, 2 + 2 * max, &s)) != PV_OK) {
		vd_fail(c, r);
		return r;
	}
	slen = strlen(s);
	if ((buf = malloc(max > 0 ? max : 1)) == NULL) {
		vd_fail(c, PV_ERR_NOMEM);
		return PV_ERR_NOMEM;
	}
	if ((r = pv_hex0x_decode(s, slen, buf, max, outlen)) != PV_OK) {
		free(buf);
		vd_reply_errorf(c->resp, 400, "bad_request", "member \"%s\": %s", name, pv_err_detail());
		return PV_ERR_BAD_INPUT;
	}
	*out = buf;
	return PV_OK;
}

/* {"r","s","y_parity","v"} with v as given. */
static pv_err
add_signature(cJSON *o, const struct pv_evm_sig *sig, uint64_t v)
{
	cJSON *s = NULL;
	char *r_hex = NULL, *s_hex = NULL;
	pv_err r;

	if ((r = pv_hex0x_encode(sig->r, 32, &r_hex)) != PV_OK ||
	    (r = pv_hex0x_encode(sig->s, 32, &s_hex)) != PV_OK)
		goto out;
	r = PV_ERR_NOMEM;
	if ((s = cJSON_AddObjectToObject(o, "signature")) == NULL ||
	    cJSON_AddStringToObject(s, "r", r_hex) == NULL ||
	    cJSON_AddStringToObject(s, "s", s_hex) == NULL ||
	    cJSON_AddNumberToObject(s, "y_parity", sig->recid) == NULL ||
	    cJSON_AddNumberToObject(s, "v", (double)v) == NULL)
		goto out;
	r = PV_OK;
out:
	free(r_hex);
	free(s_hex);
	return r;
}

void
vd_h_wallet_evm_sign_tx(struct vd_ctx *c)
{
	uint8_t hash[32], tx_hash[32];
	struct vd_wallet w;
	struct pv_evm_tx tx;
	struct pv_evm_sig sig;
	vd_rj *rj = NULL;
	uint8_t *raw = NULL;
	size_t len = 0;
	pv_buf *signed_raw = NULL;
	char *raw_hex = NULL, *hash_hex = NULL;
	uint64_t v;
	cJSON *o = NULL;
	pv_err r;

	memset(&w, 0, sizeof(w));
	if (vd_body(c, tx_members, 0, &rj) != PV_OK ||
	    vd_wallet_open(c, PV_CHAIN_EVM, VD_USE_EVM_TX, &w) != PV_OK ||
	    read_hex(c, rj, "transaction_hex", PV_EVM_TX_MAX, &raw, &len) != PV_OK)
		goto out;
	pv_err_clear_detail();
	if ((r = pv_evm_tx_parse(raw, len, &tx)) != PV_OK ||
	    (r = pv_evm_tx_signing_hash(&tx, hash)) != PV_OK) {
		vd_fail(c, r);
		goto out;
	}
	vd_wallet_audit_hash(c, hash);
	/* the audit line holds integers up to 10^15-1 (and v stays exact in
	 * JSON); no public chain id comes near */
	if (tx.chain_id > PV_AUDIT_INT_MAX) {
		vd_reply_errorf(c->resp, 400, "bad_request", "chain id %" PRIu64 " is above 10^15-1",
				tx.chain_id);
		goto out;
	}
	c->chain_id = tx.chain_id;
	/* the keeper checks the rule's caps (chain_ids, max_value_wei) */
	w.q.intent.evm_tx = &tx;
	pv_err_clear_detail();
	if ((r = pv_buf_new(PV_EVM_TX_MAX + 256, &signed_raw)) != PV_OK) {
		vd_fail(c, r);
		goto out;
	}
	if ((r = pv_wallet_evm_sign_tx(&w.signer, &tx, signed_raw, tx_hash, &sig)) != PV_OK) {
		vd_fail_key(c, r);
		goto out;
	}
	vd_wallet_audit_hash(c, tx_hash);
	v = pv_evm_tx_v(&tx, &sig);
	if ((r = pv_hex0x_encode(pv_buf_ptr(signed_raw), pv_buf_len(signed_raw), &raw_hex)) != PV_OK ||
	    (r = pv_hex0x_encode(tx_hash, sizeof(tx_hash), &hash_hex)) != PV_OK) {
		vd_fail(c, r);
		goto out;
	}
	if ((o = vd_wallet_reply(c, &w)) == NULL ||
	    cJSON_AddStringToObject(o, "raw_transaction", raw_hex) == NULL ||
	    cJSON_AddStringToObject(o, "tx_hash", hash_hex) == NULL ||
	    cJSON_AddNumberToObject(o, "type", (double)tx.type) == NULL ||
	    cJSON_AddNumberToObject(o, "chain_id", (double)tx.chain_id) == NULL ||
	    add_signature(o, &sig, v) != PV_OK) {
		vd_fail(c, PV_ERR_NOMEM);
		goto out;
	}
	vd_ok(c, o);
out:
	cJSON_Delete(o);
	free(raw_hex);
	free(hash_hex);
	pv_buf_free(signed_raw);
	free(raw);
	vd_wallet_close(&w);
	vd_rj_free(rj);
}

/* The reply of sign-message, sign-digest and sign-typed-data: 0x r||s||v
 * (v 27/28), y_parity if asked, the digest signed if not NULL. */
static void
reply_rsv(struct vd_ctx *c, const struct vd_wallet *w, const struct pv_evm_sig *sig, int with_parity,
	  const uint8_t *digest)
{
	uint8_t rsv[65];
	char *hex = NULL, *dhex = NULL;
	cJSON *o = NULL;
	pv_err r;

	pv_evm_sig_rsv(sig, 27, rsv);
	if ((r = pv_hex0x_encode(rsv, sizeof(rsv), &hex)) != PV_OK ||
	    (digest != NULL && (r = pv_hex0x_encode(digest, 32, &dhex)) != PV_OK)) {
		vd_fail(c, r);
		goto out;
	}
	if ((o = vd_wallet_reply(c, w)) == NULL || cJSON_AddStringToObject(o, "signature", hex) == NULL ||
	    (with_parity && cJSON_AddNumberToObject(o, "y_parity", sig->recid) == NULL) ||
	    (dhex != NULL && cJSON_AddStringToObject(o, "digest", dhex) == NULL)) {
		vd_fail(c, PV_ERR_NOMEM);
		goto out;
	}
	vd_ok(c, o);
out:
	cJSON_Delete(o);
	free(hex);
	free(dhex);
}

void
vd_h_wallet_evm_sign_message(struct vd_ctx *c)
{
	uint8_t hash[32];
	struct vd_wallet w;
	struct pv_evm_sig sig;
	vd_rj *rj = NULL;
	uint8_t *msg = NULL;
	size_t len = 0;
	pv_err r;

	memset(&w, 0, sizeof(w));
	if (vd_body(c, message_members, 0, &rj) != PV_OK ||
	    vd_wallet_open(c, PV_CHAIN_EVM, VD_USE_EVM_MESSAGE, &w) != PV_OK)
		goto out;
	pv_err_clear_detail();
	if ((r = vd_rj_b64(rj, "message_b64", 1, PV_WALLET_MESSAGE_MAX, &msg, &len)) != PV_OK ||
	    (r = pv_evm_personal_hash(msg, len, hash)) != PV_OK) {
		vd_fail(c, r);
		goto out;
	}
	vd_wallet_audit_hash(c, hash);
	w.q.intent.message.bytes = msg;
	w.q.intent.message.len = len;
	pv_err_clear_detail();
	if ((r = pv_wallet_evm_sign_message(&w.signer, msg, len, &sig)) != PV_OK) {
		vd_fail_key(c, r);
		goto out;
	}
	reply_rsv(c, &w, &sig, 0, NULL);
out:
	free(msg);
	vd_wallet_close(&w);
	vd_rj_free(rj);
}

/* POST .../evm/sign-typed-data {"typed_data": {...}}: EIP-712. The tree is
 * hashed as parsed (never printed and parsed again: cJSON would round
 * integers above 10^15). */
void
vd_h_wallet_evm_sign_typed_data(struct vd_ctx *c)
{
	struct pv_eip712_hashes h;
	struct vd_wallet w;
	struct pv_evm_sig sig;
	const cJSON *td = NULL;
	vd_rj *rj = NULL;
	pv_err r;

	memset(&w, 0, sizeof(w));
	if (vd_body(c, typed_members, 0, &rj) != PV_OK ||
	    vd_wallet_open(c, PV_CHAIN_EVM, VD_USE_EVM_TYPED, &w) != PV_OK)
		goto out;
	pv_err_clear_detail();
	if ((r = vd_rj_object(rj, "typed_data", 1, &td)) != PV_OK ||
	    (r = pv_eip712_hash_json(td, &h)) != PV_OK) {
		vd_fail(c, r);
		goto out;
	}
	vd_wallet_audit_hash(c, h.digest);
	if (h.has_chain_id && h.chain_id_fits && h.chain_id <= PV_AUDIT_INT_MAX)
		c->chain_id = h.chain_id;
	/* the keeper checks the domain's chain id against chain_ids */
	w.q.intent.typed = &h;
	pv_err_clear_detail();
	if ((r = pv_wallet_evm_sign_digest(&w.signer, h.digest, &sig)) != PV_OK) {
		vd_fail_key(c, r);
		goto out;
	}
	reply_rsv(c, &w, &sig, 1, h.digest);
out:
	vd_wallet_close(&w);
	vd_rj_free(rj);
}

void
vd_h_wallet_evm_sign_digest(struct vd_ctx *c)
{
	struct vd_wallet w;
	struct pv_evm_sig sig;
	vd_rj *rj = NULL;
	uint8_t *digest = NULL;
	size_t len = 0;
	pv_err r;

	memset(&w, 0, sizeof(w));
	if (vd_body(c, digest_members, 0, &rj) != PV_OK ||
	    vd_wallet_open(c, PV_CHAIN_EVM, VD_USE_EVM_DIGEST, &w) != PV_OK ||
	    read_hex(c, rj, "digest_hex", 32, &digest, &len) != PV_OK)
		goto out;
	if (len != 32) {
		vd_reply_error(c->resp, 400, "bad_request", "digest_hex must be 32 bytes");
		goto out;
	}
	vd_wallet_audit_hash(c, digest);
	/* a digest may be any transaction's signing hash: the keeper refuses it
	 * under any cap */
	pv_err_clear_detail();
	if ((r = pv_wallet_evm_sign_digest(&w.signer, digest, &sig)) != PV_OK) {
		vd_fail_key(c, r);
		goto out;
	}
	reply_rsv(c, &w, &sig, 1, NULL);
out:
	free(digest);
	vd_wallet_close(&w);
	vd_rj_free(rj);
}
