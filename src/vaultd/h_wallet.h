/*
 * What the wallet handlers share (h_wallet.c, h_wallet_evm.c): the wallet
 * key of a request as a pv_wallet_signer over the keeper, pinned to the
 * version that was active when the request resolved it (which still signs
 * when another process rotates the key mid-request: docs/wallet.md).
 */
#ifndef PV_VAULTD_H_WALLET_H
#define PV_VAULTD_H_WALLET_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "base/err.h"
#include "vaultd/handlers.h"
#include "wallet/wallet.h"

struct vd_wallet {
	struct vd_keeper *keeper;
	/* the keeper request every call for this key goes with; a signing
	 * handler sets q.intent before it signs */
	struct vd_kreq q;
	struct pv_key *key;
	EVP_PKEY *pub;                  /* of signer.version */
	struct pv_wallet_signer signer; /* ctx: this struct (do not copy it) */
	char address[PV_WALLET_ADDR_MAX];
};

/*
 * Resolve c->name for use (a VD_USE_SOLANA_* or VD_USE_EVM_* of the
 * chain) through the keeper (policy, purpose solana/evm): its active
 * version (also c->version), that version's public key and address. On
 * failure the reply is made (404 key_not_found, 403 wrong_purpose, 409
 * state, ...). vd_wallet_close also after a failure.
 */
pv_err vd_wallet_open(struct vd_ctx *c, pv_chain chain, enum vd_use use, struct vd_wallet *w) PV_WUR;
void vd_wallet_close(struct vd_wallet *w);

/* A reply object with "name", "version", "address". NULL: out of memory. */
cJSON *vd_wallet_reply(struct vd_ctx *c, const struct vd_wallet *w);

/* c->tx = "0x" + hex of a 32-byte hash (the audit line's tx). */
void vd_wallet_audit_hash(struct vd_ctx *c, const uint8_t hash[32]);

#endif
