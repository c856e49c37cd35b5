/* Options and the key signer shared by the `vaultctl wallet` commands. */
#ifndef VAULTCTL_WALLETARGS_H
#define VAULTCTL_WALLETARGS_H

#include "vaultctl.h"
#include "wallet/wallet.h"

struct walletargs {
	const char *name;
	pv_chain chain;
	const char *in;         /* "-" = stdin */
	const char *out;        /* NULL = stdout */
	int offchain;           /* --offchain */
	const char *app_domain; /* --application-domain (with --offchain) */
};

enum walletargs_flags {
	WALLETARGS_IN = 1,       /* accepts --in */
	WALLETARGS_OUT = 2,      /* accepts --out */
	WALLETARGS_EVM_ONLY = 4, /* --chain must be evm */
	WALLETARGS_OFFCHAIN = 8, /* accepts --offchain --application-domain (solana) */
};

/* Returns -1 when parsing succeeded, else the exit code to return. */
int walletargs_parse(struct vctl *c, int argc, char *argv[], const char *usage, int flags,
		     struct walletargs *a);

/* pv_wallet_key_open on vaultctl's keystore (src/wallet/wallet.h);
 * pv_wallet_key_close after it, also after a failure. */
pv_err wallet_key_open(struct vctl *c, const char *name, pv_chain chain, struct pv_wallet_key *wk) PV_WUR;

/* Read the input (at most max bytes) for a text form. *text and *len: the
 * input without surrounding whitespace (pointing into *buf). */
pv_err walletargs_read_text(const char *path, size_t max, pv_buf **buf, const char **text,
			    size_t *len) PV_WUR;

/* An EVM signature as "0x" r s v (v 27/28) on stdout, or with --json
 * {name, version, address, signature} (+ y_parity, + digest, the 32 bytes
 * signed as 0x-hex, when not NULL). Returns the exit code. */
int walletargs_print_evm_sig(struct vctl *c, const struct pv_wallet_key *wk, const struct pv_evm_sig *sig,
			     int with_parity, const uint8_t *digest);

/* A JSON document with name, version and address (and chain if given). */
cJSON *walletargs_json(const struct pv_wallet_key *wk, const char *chain);

#endif
