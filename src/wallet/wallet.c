#include "config.h"

#include <string.h>

#include <openssl/evp.h>

#include "core/sigfmt.h"
#include "wallet/base58.h"
#include "wallet/eip712.h"
#include "wallet/evm.h"
#include "wallet/wallet.h"

pv_err
pv_chain_parse(const char *s, pv_chain *out)
{
	if (s != NULL && strcmp(s, "solana") == 0) {
		*out = PV_CHAIN_SOLANA;
		return PV_OK;
	}
	if (s != NULL && strcmp(s, "evm") == 0) {
		*out = PV_CHAIN_EVM;
		return PV_OK;
	}
	pv_err_set_detail("unknown chain '%.32s' (solana evm)", s != NULL ? s : "");
	return PV_ERR_USAGE;
}

const char *
pv_chain_name(pv_chain c)
{
	return c == PV_CHAIN_EVM ? "evm" : "solana";
}

pv_alg
pv_chain_alg(pv_chain c)
{
	return c == PV_CHAIN_EVM ? PV_ALG_SECP256K1 : PV_ALG_ED25519;
}

pv_key_purpose
pv_chain_purpose(pv_chain c)
{
	return c == PV_CHAIN_EVM ? PV_PURPOSE_EVM : PV_PURPOSE_SOLANA;
}

/* A usable signer whose key is the chain's kind of key. */
static pv_err
check_signer(pv_chain chain, const struct pv_wallet_signer *s)
{
	const struct pv_alg_info *ai;

	if (s == NULL || s->sign == NULL || s->pub == NULL || s->version == 0)
		return PV_ERR_USAGE;
	if (s->alg != pv_chain_alg(chain)) {
		ai = pv_alg_info(s->alg);
		pv_err_set_detail("%s signs with %s keys; this key is %s", pv_chain_name(chain),
				  pv_alg_info(pv_chain_alg(chain))->name, ai != NULL ? ai->name : "unknown");
		return PV_ERR_KEY_TYPE;
	}
	return PV_OK;
}

/* Sign len bytes as they are with the signer's version; 64 bytes back. */
static pv_err
sign_raw(const struct pv_wallet_signer *s, const uint8_t *msg, size_t len, uint8_t out[64])
{
	struct pv_sign_opts o;
	struct pv_sig sig;
	pv_err r;

	memset(&o, 0, sizeof(o));
	/* the chain is the key's: ed25519 signs for Solana, secp256k1 for EVM */
	o.purpose = s->alg == PV_ALG_ED25519 ? PV_PURPOSE_SOLANA : PV_PURPOSE_EVM;
	o.version = s->version;
	o.digest = PV_DIGEST_NONE;
	memset(&sig, 0, sizeof(sig));
	if ((r = s->sign(s->ctx, &o, msg, len, &sig)) != PV_OK)
		return r;
	if (sig.len != 64) {
		pv_err_set_detail("the token returned a %zu-byte signature (64 expected)", sig.len);
		return PV_ERR_INTEGRITY;
	}
	memcpy(out, sig.bytes, 64);
	return PV_OK;
}

static pv_err
ed25519_raw_public(EVP_PKEY *pub, uint8_t key[PV_SOLANA_PUBKEY_LEN])
{
	size_t len = PV_SOLANA_PUBKEY_LEN;

	if (EVP_PKEY_get_id(pub) != EVP_PKEY_ED25519) {
		pv_err_set_detail("Solana addresses need an ed25519 key");
		return PV_ERR_KEY_TYPE;
	}
	if (EVP_PKEY_get_raw_public_key(pub, key, &len) != 1 || len != PV_SOLANA_PUBKEY_LEN) {
		pv_err_set_detail("OpenSSL could not export the ed25519 public key");
		return PV_ERR_CRYPTO;
	}
	return PV_OK;
}

pv_err
pv_wallet_pub_address(pv_chain chain, EVP_PKEY *pub, char out[PV_WALLET_ADDR_MAX])
{
	uint8_t key[PV_SOLANA_PUBKEY_LEN], addr[PV_EVM_ADDR_LEN];
	char text[PV_SOLANA_ADDRESS_SIZE];
	pv_err r;

	out[0] = '\0';
	if (chain == PV_CHAIN_EVM) {
		if ((r = pv_evm_address(pub, addr)) != PV_OK)
			return r;
		pv_evm_checksum(addr, out);
		return PV_OK;
	}
	if ((r = ed25519_raw_public(pub, key)) != PV_OK || (r = pv_solana_address(key, text)) != PV_OK)
		return r;
	memcpy(out, text, sizeof(text));
	return PV_OK;
}

pv_err
pv_wallet_address(pv_chain chain, const struct pv_wallet_signer *s, char out[PV_WALLET_ADDR_MAX])
{
	pv_err r;

	out[0] = '\0';
	if ((r = check_signer(chain, s)) != PV_OK)
		return r;
	return pv_wallet_pub_address(chain, s->pub, out);
}

pv_err
pv_wallet_key_check(pv_chain chain, const struct pv_key *key)
{
	pv_err r;

	if ((r = pv_key_check_purpose(key, pv_chain_purpose(chain))) != PV_OK)
		return r;
	if (key->alg != pv_chain_alg(chain)) {
		pv_err_set_detail("%s signs with %s keys; '%s' is %s", pv_chain_name(chain),
				  pv_alg_info(pv_chain_alg(chain))->name, key->name,
				  pv_alg_info(key->alg)->name);
		return PV_ERR_KEY_TYPE;
	}
	return PV_OK;
}

pv_err
pv_wallet_signer_init(struct pv_wallet_signer *s, pv_chain chain, pv_wallet_sign_fn sign, void *ctx,
		      pv_alg alg, unsigned version, EVP_PKEY *pub, char address[PV_WALLET_ADDR_MAX])
{
	memset(s, 0, sizeof(*s));
	s->sign = sign;
	s->ctx = ctx;
	s->alg = alg;
	s->version = version;
	s->pub = pub;
	return pv_wallet_address(chain, s, address);
}

/* The keystore callback: sign_raw has pinned opts->version already, the
 * version pv_wallet_key_open resolved as active. A rotation by another
 * process since then (it is now verify-only) does not fail the signature:
 * the request was decided with that version, whose address the caller was
 * given (docs/wallet.md, "Rotation"). A retired version never signs. */
static pv_err
keystore_sign(void *ctx, const struct pv_sign_opts *opts, const uint8_t *msg, size_t len, struct pv_sig *out)
{
	const struct pv_wallet_key *wk = ctx;
	struct pv_sign_opts o = *opts;

	o.overtaken_ok = 1;
	return pv_sign(wk->ks, wk->name, &o, msg, len, out);
}

pv_err
pv_wallet_key_open(pv_keystore *ks, const char *name, pv_chain chain, struct pv_wallet_key *wk)
{
	struct pv_key *key = NULL;
	struct pv_key_version ver;
	EVP_PKEY *pub = NULL;
	p11_obj obj;
	pv_err r;

	memset(wk, 0, sizeof(*wk));
	if ((r = pv_keys_resolve(ks, name, 0, &key, &ver, &obj)) != PV_OK ||
	    (r = pv_wallet_key_check(chain, key)) != PV_OK ||
	    (r = pv_keys_public(ks, key, &ver, &pub)) != PV_OK)
		goto out;
	wk->ks = ks;
	wk->name = name;
	if ((r = pv_wallet_signer_init(&wk->signer, chain, keystore_sign, wk, key->alg, ver.version, pub,
				       wk->address)) != PV_OK)
		goto out;
	pub = NULL; /* the signer's now */
out:
	EVP_PKEY_free(pub);
	pv_key_free(key);
	return r;
}

void
pv_wallet_key_close(struct pv_wallet_key *wk)
{
	EVP_PKEY_free(wk->signer.pub);
	memset(wk, 0, sizeof(*wk));
}

/* ---- Solana ---- */

/*
 * Sign with Ed25519 and check the result against the signer's public key:
 * what goes out must be a signature by the key whose address the caller
 * was shown, whatever the signer callback did (a version swapped under it,
 * a token fault).
 */
static pv_err
solana_sign(const struct pv_wallet_signer *s, const uint8_t *msg, size_t len, uint8_t sig[PV_SOLANA_SIG_LEN])
{
	struct pv_sign_opts o;
	pv_err r;

	if ((r = sign_raw(s, msg, len, sig)) != PV_OK)
		return r;
	memset(&o, 0, sizeof(o));
	o.digest = PV_DIGEST_NONE;
	if ((r = pv_verify_pub(s->pub, PV_ALG_ED25519, &o, msg, len, sig, PV_SOLANA_SIG_LEN)) != PV_OK) {
		pv_err_set_detail("the token's ed25519 signature does not verify with the key's public key");
		memset(sig, 0, PV_SOLANA_SIG_LEN);
		return PV_ERR_INTEGRITY;
	}
	return PV_OK;
}

pv_err
pv_wallet_solana_sign_tx(const struct pv_wallet_signer *s, uint8_t *tx, size_t len, size_t *slot,
			 uint8_t sig[PV_SOLANA_SIG_LEN])
{
	uint8_t key[PV_SOLANA_PUBKEY_LEN];
	struct pv_solana_tx p;
	size_t idx = 0;
	pv_err r;

	if ((r = check_signer(PV_CHAIN_SOLANA, s)) != PV_OK || (r = ed25519_raw_public(s->pub, key)) != PV_OK)
		return r;
	if ((r = pv_solana_tx_parse(tx, len, &p)) != PV_OK)
		return r;
	if ((r = pv_solana_tx_signer_index(&p, key, &idx)) != PV_OK) {
		pv_err_set_detail("this key is not a required signer of the transaction");
		return r;
	}
	if ((r = solana_sign(s, p.message, p.message_len, sig)) != PV_OK ||
	    (r = pv_solana_tx_put_signature(tx, &p, idx, sig)) != PV_OK)
		return r;
	*slot = idx;
	return PV_OK;
}

/* Off-chain messages are signed only when they are no transaction, and
 * only through the mode that built them. */
static pv_err
check_message_domain(const uint8_t *msg, size_t len)
{
	size_t used = 0;

	switch (pv_solana_tx_prefix(msg, len, &used)) {
	case PV_SOLANA_PREFIX_MESSAGE:
		pv_err_set_detail(
		    "the message begins with a Solana transaction message (%zu of its %zu bytes); "
		    "a signature over it could authorise that transaction: sign transactions with "
		    "sign-transaction",
		    used, len);
		return PV_ERR_BAD_INPUT;
	case PV_SOLANA_PREFIX_TRANSACTION:
		pv_err_set_detail("the message begins with a Solana transaction (%zu of its %zu bytes): sign "
				  "transactions with sign-transaction",
				  used, len);
		return PV_ERR_BAD_INPUT;
	case PV_SOLANA_PREFIX_NONE:
		break;
	}
	return PV_OK;
}

pv_err
pv_wallet_solana_sign_message(const struct pv_wallet_signer *s, const uint8_t *msg, size_t len,
			      uint8_t sig[PV_SOLANA_SIG_LEN])
{
	pv_err r;

	if ((r = check_signer(PV_CHAIN_SOLANA, s)) != PV_OK)
		return r;
	if (msg == NULL || len == 0) {
		pv_err_set_detail("the message is empty");
		return PV_ERR_BAD_INPUT;
	}
	if (len > PV_WALLET_MESSAGE_MAX) {
		pv_err_set_detail("the message is over %d bytes", PV_WALLET_MESSAGE_MAX);
		return PV_ERR_TOO_LARGE;
	}
	if ((r = check_message_domain(msg, len)) != PV_OK)
		return r;
	if (pv_solana_offchain_has_domain(msg, len)) {
		pv_err_set_detail("the message begins with the Solana off-chain signing domain "
				  "(\\xffsolana offchain): sign off-chain messages in the off-chain format, "
				  "which builds that header");
		return PV_ERR_BAD_INPUT;
	}
	return solana_sign(s, msg, len, sig);
}

pv_err
pv_wallet_solana_sign_offchain(const struct pv_wallet_signer *s,
			       const uint8_t app_domain[PV_SOLANA_OFFCHAIN_APP_DOMAIN_LEN],
			       const uint8_t *body, size_t len, pv_buf *signed_msg,
			       pv_solana_offchain_format *format, uint8_t sig[PV_SOLANA_SIG_LEN])
{
	uint8_t key[PV_SOLANA_PUBKEY_LEN];
	size_t start;
	pv_err r;

	if ((r = check_signer(PV_CHAIN_SOLANA, s)) != PV_OK || (r = ed25519_raw_public(s->pub, key)) != PV_OK)
		return r;
	if (signed_msg == NULL)
		return PV_ERR_USAGE;
	start = pv_buf_len(signed_msg);
	if ((r = pv_solana_offchain_build(app_domain, key, 1, body, len, signed_msg, format)) != PV_OK)
		return r;
	/* the signing domain keeps it out of reach of every transaction
	 * parser; checked anyway, since this is what the key signs */
	if ((r = check_message_domain(pv_buf_ptr(signed_msg) + start, pv_buf_len(signed_msg) - start)) !=
	    PV_OK) {
		pv_err_set_detail("an off-chain message parsed as a Solana transaction");
		return PV_ERR_INTERNAL;
	}
	return solana_sign(s, pv_buf_ptr(signed_msg) + start, pv_buf_len(signed_msg) - start, sig);
}

/* ---- EVM ---- */

void
pv_evm_sig_rsv(const struct pv_evm_sig *sig, unsigned v_base, uint8_t out[65])
{
	memcpy(out, sig->r, 32);
	memcpy(out + 32, sig->s, 32);
	out[64] = (uint8_t)(v_base + (unsigned)sig->recid);
}

uint64_t
pv_evm_tx_v(const struct pv_evm_tx *tx, const struct pv_evm_sig *sig)
{
	return tx->type == PV_EVM_TX_LEGACY ? tx->chain_id * 2 + 35 + (uint64_t)sig->recid
					    : (uint64_t)sig->recid;
}

pv_err
pv_wallet_evm_sign_digest(const struct pv_wallet_signer *s, const uint8_t hash[32], struct pv_evm_sig *out)
{
	uint8_t rs[64], xy[PV_EVM_POINT_LEN];
	int recid = -1;
	pv_err r;

	memset(out, 0, sizeof(*out));
	if ((r = check_signer(PV_CHAIN_EVM, s)) != PV_OK || (r = pv_evm_pubkey_point(s->pub, xy)) != PV_OK)
		return r;
	if ((r = sign_raw(s, hash, 32, rs)) != PV_OK)
		return r;
	/* pv_sign already normalises; another signer callback may not */
	if ((r = pv_secp256k1_low_s(rs, NULL)) != PV_OK)
		return r;
	/* Also proves the signature is this key's over this hash. */
	if ((r = pv_evm_recovery_id(hash, rs, xy, &recid)) != PV_OK)
		return r;
	memcpy(out->r, rs, 32);
	memcpy(out->s, rs + 32, 32);
	out->recid = recid;
	return PV_OK;
}

pv_err
pv_wallet_evm_sign_message(const struct pv_wallet_signer *s, const uint8_t *msg, size_t len,
			   struct pv_evm_sig *out)
{
	uint8_t hash[32];
	pv_err r;

	memset(out, 0, sizeof(*out));
	if ((r = check_signer(PV_CHAIN_EVM, s)) != PV_OK)
		return r;
	if (len > PV_WALLET_MESSAGE_MAX) {
		pv_err_set_detail("the message is over %d bytes", PV_WALLET_MESSAGE_MAX);
		return PV_ERR_TOO_LARGE;
	}
	if (msg == NULL && len != 0)
		return PV_ERR_USAGE;
	if ((r = pv_evm_personal_hash(msg, len, hash)) != PV_OK)
		return r;
	return pv_wallet_evm_sign_digest(s, hash, out);
}

pv_err
pv_wallet_evm_sign_typed_data(const struct pv_wallet_signer *s, const uint8_t *json, size_t len,
			      uint8_t digest[32], struct pv_evm_sig *out)
{
	struct pv_eip712_hashes h;
	pv_err r;

	memset(out, 0, sizeof(*out));
	memset(digest, 0, 32);
	if ((r = check_signer(PV_CHAIN_EVM, s)) != PV_OK)
		return r;
	if ((r = pv_eip712_hash(json, len, &h)) != PV_OK)
		return r;
	memcpy(digest, h.digest, 32);
	return pv_wallet_evm_sign_digest(s, h.digest, out);
}

pv_err
pv_wallet_evm_sign_tx(const struct pv_wallet_signer *s, const struct pv_evm_tx *tx, pv_buf *signed_raw,
		      uint8_t tx_hash[32], struct pv_evm_sig *sig)
{
	struct pv_evm_sig es;
	uint8_t hash[32], rs[64];
	size_t start;
	pv_err r;

	memset(sig, 0, sizeof(*sig));
	if ((r = check_signer(PV_CHAIN_EVM, s)) != PV_OK)
		return r;
	if (tx == NULL || signed_raw == NULL)
		return PV_ERR_USAGE;
	if ((r = pv_evm_tx_signing_hash(tx, hash)) != PV_OK ||
	    (r = pv_wallet_evm_sign_digest(s, hash, &es)) != PV_OK)
		return r;
	memcpy(rs, es.r, 32);
	memcpy(rs + 32, es.s, 32);
	start = pv_buf_len(signed_raw);
	if ((r = pv_evm_tx_encode_signed(tx, rs, es.recid, signed_raw)) != PV_OK ||
	    (r = pv_evm_tx_hash(pv_buf_ptr(signed_raw) + start, pv_buf_len(signed_raw) - start, tx_hash)) !=
		PV_OK)
		return r;
	*sig = es;
	return PV_OK;
}
