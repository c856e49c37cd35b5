/* Test support for the token layer tests: throwaway SoftHSM tokens. */
#ifndef PV_P11_TESTUTIL_H
#define PV_P11_TESTUTIL_H

#include "pkcs11/token.h"

#define TU_SKIP 77

struct tu_token {
	char dir[64];
	char label[33];
	char pin_source[128]; /* file:DIR/user.pin */
	char module[256];     /* the SoftHSM module */
	char uri[96];         /* pkcs11:token=LABEL */
};

/*
 * Make a token with softhsm/make-token.sh in a fresh temp dir and point
 * SOFTHSM2_CONF at it. Returns 0, TU_SKIP when SoftHSM is missing, or -1.
 */
int tu_make_token(struct tu_token *t, const char *label);
void tu_remove_token(struct tu_token *t);

/* Options for opening t directly through the SoftHSM module. */
void tu_opts(const struct tu_token *t, struct p11_token_opts *o);

/* A P-256 key pair on the token with CKA_ID = {idbyte}, label as given. */
pv_err tu_gen_ec(p11_token *tok, const char *label, uint8_t idbyte, p11_obj *priv, p11_obj *pub);

/* ECDSA over a fixed digest with key; returns the pv_err. */
pv_err tu_sign(p11_token *tok, p11_obj *key);

/* Write a file with the given mode (for PIN files). 0 on success. */
int tu_write_file(const char *path, const char *text, unsigned mode);

#endif
