/* Options and the key signer shared by the `vaultctl wallet` commands. */
#ifndef VAULTCTL_WALLETARGS_H
#define VAULTCTL_WALLETARGS_H

#include "vaultctl.h"
#include "wallet/wallet.h"

struct walletargs {
	const char *name;
	pv_chain chain;
	const char *in;  /* "-" = stdin */
	const char *out; /* NULL = stdout */
};

enum walletargs_flags {
	WALLETARGS_IN = 1,       /* accepts --in */
	WALLETARGS_OUT = 2,      /* accepts --out */
	WALLETARGS_EVM_ONLY = 4, /* --chain must be evm */
};

/* Returns -1 when parsing succeeded, else the exit code to return. */
int walletargs_parse(struct vctl *c, int argc, char *argv[], const char *usage, int flags,
		     struct walletargs *a);

/*
 * A wallet signer over the keystore: the key's active version, its public
 * key, and pv_sign with that version (so a rotation in between fails
 * instead of mixing keys). Also the key's address on the chain.
 */
struct wallet_key {
	pv_keystore *ks;
	const char *name;
	struct pv_wallet_signer signer;
	char address[PV_WALLET_ADDR_MAX];
};

/* Open name for chain (PV_ERR_KEY_TYPE for a key of another algorithm). */
pv_err wallet_key_open(struct vctl *c, const char *name, pv_chain chain, struct wallet_key *wk) PV_WUR;
void wallet_key_close(struct wallet_key *wk);

/* Read the input (at most max bytes) for a text form. *text and *len: the
 * input without surrounding whitespace (pointing into *buf). */
pv_err walletargs_read_text(const char *path, size_t max, pv_buf **buf, const char **text,
			    size_t *len) PV_WUR;

/* "0x" then hex digits (even count, either case), at most max bytes. */
pv_err walletargs_hex_decode(const char *text, size_t len, uint8_t *out, size_t max, size_t *outlen) PV_WUR;
/* "0x" + lower-case hex, malloc'd (free()). */
pv_err walletargs_hex_encode(const uint8_t *in, size_t len, char **out) PV_WUR;

/* An EVM signature as "0x" r s v (v 27/28) on stdout, or with --json
 * {name, version, address, signature} (+ y_parity, + digest, the 32 bytes
 * signed as 0x-hex, when not NULL). Returns the exit code. */
int walletargs_print_evm_sig(struct vctl *c, const struct wallet_key *wk, const struct pv_evm_sig *sig,
			     int with_parity, const uint8_t *digest);

/* A JSON document with name, version and address (and chain if given). */
cJSON *walletargs_json(const struct wallet_key *wk, const char *chain);

#endif
