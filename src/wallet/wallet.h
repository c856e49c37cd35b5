/*
 * Wallet operations on a token key: addresses, Solana transaction and
 * message signatures (pure Ed25519, CKM_EDDSA), EVM digest, personal_sign
 * and transaction signatures (CKM_ECDSA, normalised to low-S, with the
 * recovery id checked against the key's public key).
 *
 * The key is reached through a signer callback so that vaultctl (pv_sign on
 * its keystore: pv_wallet_key_open below) and vaultd (its keeper: token
 * keys and boot-bundle keys) share this code. The callback signs with one
 * fixed key version, the one whose public key is in the signer, so a
 * rotation between reading the public key and signing cannot mix two keys.
 */
#ifndef PV_WALLET_WALLET_H
#define PV_WALLET_WALLET_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "base/buf.h"
#include "base/err.h"
#include "core/alg.h"
#include "core/keys.h"
#include "core/sign.h"
#include "wallet/evm_tx.h"
#include "wallet/solana_offchain.h"
#include "wallet/solana_tx.h"

typedef enum pv_chain {
	PV_CHAIN_SOLANA = 0,
	PV_CHAIN_EVM = 1,
} pv_chain;

/* "solana" / "evm"; PV_ERR_USAGE for anything else. */
pv_err pv_chain_parse(const char *s, pv_chain *out) PV_WUR;
const char *pv_chain_name(pv_chain c);
/* The key algorithm a chain needs: ed25519 for Solana, secp256k1 for EVM. */
pv_alg pv_chain_alg(pv_chain c);
/* The key purpose a chain's keys have (solana, evm). */
pv_key_purpose pv_chain_purpose(pv_chain c);

/* Largest off-chain message accepted for sign-message (either chain). */
#define PV_WALLET_MESSAGE_MAX (64 * 1024)

/* Sign msg with the key version of `pub` (opts->version is that version,
 * opts->purpose the chain's, digest PV_DIGEST_NONE). */
typedef pv_err (*pv_wallet_sign_fn)(void *ctx, const struct pv_sign_opts *opts, const uint8_t *msg,
				    size_t len, struct pv_sig *out);

struct pv_wallet_signer {
	pv_wallet_sign_fn sign;
	void *ctx;
	pv_alg alg;       /* the key's algorithm */
	unsigned version; /* the version that signs (not 0) */
	EVP_PKEY *pub;    /* that version's public key (borrowed) */
};

/* Address text: base58 (Solana, 32..44 chars) or EIP-55 (EVM, 42 chars). */
#define PV_WALLET_ADDR_MAX 64

/*
 * Whether key may sign on chain: PV_ERR_PURPOSE unless its purpose is the
 * chain's (solana, evm; pv_key_check_purpose's detail, which names the fix
 * for a key without a purpose), then PV_ERR_KEY_TYPE unless its algorithm
 * is. Check before reading the public key: an HMAC or AES key has none.
 */
pv_err pv_wallet_key_check(pv_chain chain, const struct pv_key *key) PV_WUR;

/*
 * Set s up to sign on chain through sign(ctx, ...) with version `version`
 * of a key of algorithm alg whose public key is pub (borrowed), and write
 * the key's address. PV_ERR_KEY_TYPE when alg is not the chain's.
 */
pv_err pv_wallet_signer_init(struct pv_wallet_signer *s, pv_chain chain, pv_wallet_sign_fn sign, void *ctx,
			     pv_alg alg, unsigned version, EVP_PKEY *pub,
			     char address[PV_WALLET_ADDR_MAX]) PV_WUR;

/* The address of a public key on chain: base58 of the Ed25519 key (Solana)
 * or the EIP-55 text (EVM); PV_ERR_KEY_TYPE for a key of another type. */
pv_err pv_wallet_pub_address(pv_chain chain, EVP_PKEY *pub, char out[PV_WALLET_ADDR_MAX]) PV_WUR;

/* The address of the signer's key on chain; PV_ERR_KEY_TYPE when the key's
 * algorithm is not the chain's. */
pv_err pv_wallet_address(pv_chain chain, const struct pv_wallet_signer *s,
			 char out[PV_WALLET_ADDR_MAX]) PV_WUR;

/*
 * A wallet signer over a keystore: the active version of the key `name`
 * (pv_wallet_key_check first), its public key and address, signing with
 * pv_sign pinned to that version. A rotation by another process in between
 * never mixes keys: the pinned version still signs when the rotation made
 * it verify-only (the request was decided with it; sign.h overtaken_ok),
 * and fails with PV_ERR_STATE when it was retired. ks and name are
 * borrowed. pv_wallet_key_close also after a failure.
 */
struct pv_wallet_key {
	pv_keystore *ks;
	const char *name;
	struct pv_wallet_signer signer; /* ctx: this struct (do not copy it) */
	char address[PV_WALLET_ADDR_MAX];
};

pv_err pv_wallet_key_open(pv_keystore *ks, const char *name, pv_chain chain, struct pv_wallet_key *wk) PV_WUR;
void pv_wallet_key_close(struct pv_wallet_key *wk);

/* ---- Solana ---- */

/*
 * Sign a serialized transaction in place: parse it (strict), find the
 * signer's key among the required signers (PV_ERR_NOT_FOUND otherwise, with
 * nothing signed), sign the message bytes, put the signature in its slot.
 * *slot is the signature index; sig is the signature.
 */
pv_err pv_wallet_solana_sign_tx(const struct pv_wallet_signer *s, uint8_t *tx, size_t len, size_t *slot,
				uint8_t sig[PV_SOLANA_SIG_LEN]) PV_WUR;

/*
 * Sign an off-chain message as it is (raw bytes, 1..PV_WALLET_MESSAGE_MAX),
 * what wallet signMessage does. Refused (PV_ERR_BAD_INPUT, nothing signed):
 * bytes that begin with a transaction message or a whole transaction
 * (pv_solana_tx_prefix: sign-transaction is the only way to sign those),
 * and bytes that begin with the off-chain signing domain (such a message is
 * signed through pv_wallet_solana_sign_offchain only, which builds it).
 */
pv_err pv_wallet_solana_sign_message(const struct pv_wallet_signer *s, const uint8_t *msg, size_t len,
				     uint8_t sig[PV_SOLANA_SIG_LEN]) PV_WUR;

/*
 * Sign body as a version 0 off-chain message (solana_offchain.h) for the
 * application domain app_domain, with this key as its one signer: the
 * message is appended to signed_msg (what the signature is over, for the
 * reply) and its format given in *format. Body rules and errors are
 * pv_solana_offchain_build's; nothing is signed on failure (and what
 * signed_msg then holds is meaningless).
 */
pv_err pv_wallet_solana_sign_offchain(const struct pv_wallet_signer *s,
				      const uint8_t app_domain[PV_SOLANA_OFFCHAIN_APP_DOMAIN_LEN],
				      const uint8_t *body, size_t len, pv_buf *signed_msg,
				      pv_solana_offchain_format *format,
				      uint8_t sig[PV_SOLANA_SIG_LEN]) PV_WUR;

/* ---- EVM ---- */

/* An Ethereum signature: r, s (low-S) and the recovery id (0 or 1). */
struct pv_evm_sig {
	uint8_t r[32];
	uint8_t s[32];
	int recid;
};

/* r || s || v as 65 bytes, v = recid + v_base (27 for personal_sign). */
void pv_evm_sig_rsv(const struct pv_evm_sig *sig, unsigned v_base, uint8_t out[65]);

/* The v a signed transaction carries: chain_id * 2 + 35 + recid for a
 * legacy (EIP-155) one, the recid (y_parity) for typed ones. */
uint64_t pv_evm_tx_v(const struct pv_evm_tx *tx, const struct pv_evm_sig *sig);

/* Sign a 32-byte digest with CKM_ECDSA; low-S; recid checked against pub. */
pv_err pv_wallet_evm_sign_digest(const struct pv_wallet_signer *s, const uint8_t hash[32],
				 struct pv_evm_sig *out) PV_WUR;

/* EIP-191 personal_sign of msg (0..PV_WALLET_MESSAGE_MAX bytes). */
pv_err pv_wallet_evm_sign_message(const struct pv_wallet_signer *s, const uint8_t *msg, size_t len,
				  struct pv_evm_sig *out) PV_WUR;

/*
 * EIP-712 typed data (the JSON of eth_signTypedData_v4, at most
 * PV_EIP712_MAX bytes; src/wallet/eip712.h): check it, compute the digest
 * keccak256(0x19 0x01 || domainSeparator || hashStruct(message)) into
 * digest and sign it. Refused input signs nothing (PV_ERR_BAD_INPUT,
 * PV_ERR_TOO_LARGE). Policy (the domain's chain id) is the caller's: use
 * pv_eip712_hash first to see it.
 */
pv_err pv_wallet_evm_sign_typed_data(const struct pv_wallet_signer *s, const uint8_t *json, size_t len,
				     uint8_t digest[32], struct pv_evm_sig *out) PV_WUR;

/*
 * Sign a parsed unsigned transaction: append the signed transaction to
 * signed_raw, its transaction hash to tx_hash, and the signature to sig.
 * Policy (chain id, value) is the caller's, before this call.
 */
pv_err pv_wallet_evm_sign_tx(const struct pv_wallet_signer *s, const struct pv_evm_tx *tx, pv_buf *signed_raw,
			     uint8_t tx_hash[32], struct pv_evm_sig *sig) PV_WUR;

#endif
