/*
 * Wallet signing with keys on a throwaway SoftHSM token, through a signer
 * over pv_sign. Checked with code we did not write: Ed25519 signatures
 * with OpenSSL's EVP_DigestVerify, EVM signatures with libsecp256k1
 * (low-S, and public-key recovery giving the token key back), the EIP-155
 * example transaction's published signing hash. Refusals leave the caller's
 * bytes as they were.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>

#include "base/secmem.h"
#include "core/digest.h"
#include "pkcs11/testutil.h"
#include "wallet/base58.h"
#include "wallet/wallet.h"

static struct tu_token T;

struct fixture {
	p11_token *tok;
	pv_keystore *ks;
	secp256k1_context *k1;
};

static const struct {
	const char *name;
	pv_alg alg;
	pv_key_purpose purpose;
} test_keys[] = {
    {"sol", PV_ALG_ED25519, PV_PURPOSE_SOLANA},
    {"sol2", PV_ALG_ED25519, PV_PURPOSE_SOLANA},
    {"eth", PV_ALG_SECP256K1, PV_PURPOSE_EVM},
    {"eth2", PV_ALG_SECP256K1, PV_PURPOSE_EVM},
    {"p256", PV_ALG_P256, PV_PURPOSE_SIGN},
    /* wallet algorithms, other purposes: no wallet signs with them */
    {"ed-sign", PV_ALG_ED25519, PV_PURPOSE_SIGN},
    {"ed-jwt", PV_ALG_ED25519, PV_PURPOSE_JWT},
    {"k1-sign", PV_ALG_SECP256K1, PV_PURPOSE_SIGN},
    {"k1-jwt", PV_ALG_SECP256K1, PV_PURPOSE_JWT},
};

/* The signer callback's context: a key name, and faults to inject. */
struct sctx {
	pv_keystore *ks;
	const char *name;
	const char *other; /* sign with this key instead (a swapped key) */
	int high_s;        /* return s as n - s */
	unsigned calls;
};

/* n - s for the secp256k1 group order n (s in 1..n-1). */
static void
negate_s(uint8_t s[32])
{
	static const uint8_t n[32] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				      0xff, 0xff, 0xff, 0xff, 0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48,
				      0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};
	int i, borrow = 0, d;

	for (i = 31; i >= 0; i--) {
		d = n[i] - s[i] - borrow;
		borrow = d < 0;
		s[i] = (uint8_t)(d + (borrow ? 256 : 0));
	}
}

static pv_err
sign_cb(void *ctx, const struct pv_sign_opts *opts, const uint8_t *msg, size_t len, struct pv_sig *out)
{
	struct sctx *c = ctx;
	struct pv_sign_opts o = *opts;
	pv_err r;

	c->calls++;
	/* what the API promises every callback */
	assert_int_not_equal(opts->version, 0);
	assert_int_equal(opts->digest, PV_DIGEST_NONE);
	if (c->other != NULL)
		o.version = 0;
	r = pv_sign(c->ks, c->other != NULL ? c->other : c->name, &o, msg, len, out);
	if (r == PV_OK && c->high_s)
		negate_s(out->bytes + 32);
	return r;
}

/* A signer for the active version of name, over pv_sign. */
static void
make_signer(struct fixture *f, const char *name, struct sctx *c, struct pv_wallet_signer *s)
{
	struct pv_key *key = NULL;
	struct pv_key_version ver;
	p11_obj obj;

	memset(c, 0, sizeof(*c));
	memset(s, 0, sizeof(*s));
	c->ks = f->ks;
	c->name = name;
	assert_int_equal(pv_keys_resolve(f->ks, name, 0, &key, &ver, &obj), PV_OK);
	assert_int_equal(pv_keys_public(f->ks, key, &ver, &s->pub), PV_OK);
	s->sign = sign_cb;
	s->ctx = c;
	s->alg = key->alg;
	s->version = ver.version;
	pv_key_free(key);
}

static void
free_signer(struct pv_wallet_signer *s)
{
	EVP_PKEY_free(s->pub);
	s->pub = NULL;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct p11_token_opts o;
	size_t i;

	if (f == NULL)
		return -1;
	tu_opts(&T, &o);
	if (p11_token_open(&o, &f->tok) != PV_OK || p11_token_login(f->tok) != PV_OK ||
	    pv_keystore_new(f->tok, &f->ks) != PV_OK)
		return -1;
	for (i = 0; i < PV_NELEM(test_keys); i++)
		if (pv_keys_create(f->ks, test_keys[i].name, test_keys[i].alg, test_keys[i].purpose, NULL) !=
		    PV_OK)
			return -1;
	if ((f->k1 = secp256k1_context_create(SECP256K1_CONTEXT_NONE)) == NULL)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	secp256k1_context_destroy(f->k1);
	pv_keystore_free(f->ks);
	p11_token_close(f->tok);
	free(f);
	return 0;
}

static void
unhex(const char *hex, uint8_t *out, size_t want)
{
	long n = 0;
	uint8_t *p = OPENSSL_hexstr2buf(hex, &n);

	assert_non_null(p);
	assert_int_equal((size_t)n, want);
	memcpy(out, p, want);
	OPENSSL_free(p);
}

static void
raw_ed25519(EVP_PKEY *pub, uint8_t key[32])
{
	size_t len = 32;

	assert_int_equal(EVP_PKEY_get_raw_public_key(pub, key, &len), 1);
	assert_int_equal(len, 32);
}

/* OpenSSL's verdict on an Ed25519 signature. */
static int
ed25519_verifies(EVP_PKEY *pub, const uint8_t *msg, size_t len, const uint8_t sig[64])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok;

	assert_non_null(md);
	assert_int_equal(EVP_DigestVerifyInit(md, NULL, NULL, NULL, pub), 1);
	ok = EVP_DigestVerify(md, sig, 64, msg, len) == 1;
	EVP_MD_CTX_free(md);
	return ok;
}

/* The key's point, uncompressed, normalised by libsecp256k1. */
static void
k1_point(struct fixture *f, EVP_PKEY *pub, uint8_t sec1[65])
{
	uint8_t buf[65];
	size_t len = 0, outlen = 65;
	secp256k1_pubkey pk;

	assert_int_equal(
	    EVP_PKEY_get_octet_string_param(pub, OSSL_PKEY_PARAM_PUB_KEY, buf, sizeof(buf), &len), 1);
	assert_int_equal(secp256k1_ec_pubkey_parse(f->k1, &pk, buf, len), 1);
	assert_int_equal(secp256k1_ec_pubkey_serialize(f->k1, sec1, &outlen, &pk, SECP256K1_EC_UNCOMPRESSED),
			 1);
}

/* libsecp256k1: the signature is low-S, and recovers to the key's point. */
static void
check_evm_sig(struct fixture *f, EVP_PKEY *pub, const uint8_t hash[32], const struct pv_evm_sig *sig)
{
	secp256k1_ecdsa_recoverable_signature rsig;
	secp256k1_ecdsa_signature plain, norm;
	secp256k1_pubkey rec;
	uint8_t rs[64], want[65], got[65];
	size_t len = 65;

	memcpy(rs, sig->r, 32);
	memcpy(rs + 32, sig->s, 32);
	assert_true(sig->recid == 0 || sig->recid == 1);
	assert_int_equal(secp256k1_ecdsa_signature_parse_compact(f->k1, &plain, rs), 1);
	assert_int_equal(secp256k1_ecdsa_signature_normalize(f->k1, &norm, &plain), 0); /* already low-S */
	assert_int_equal(secp256k1_ecdsa_recoverable_signature_parse_compact(f->k1, &rsig, rs, sig->recid),
			 1);
	assert_int_equal(secp256k1_ecdsa_recover(f->k1, &rec, &rsig, hash), 1);
	assert_int_equal(secp256k1_ec_pubkey_serialize(f->k1, got, &len, &rec, SECP256K1_EC_UNCOMPRESSED), 1);
	k1_point(f, pub, want);
	assert_memory_equal(got, want, 65);
}

/* A legacy SOL transfer: signers (fill bytes or the key) then recipient
 * and System Program, one transfer instruction. */
static size_t
build_transfer(uint8_t *tx, const uint8_t *signers[], size_t nsig)
{
	static const uint8_t transfer[12] = {2, 0, 0, 0, 0x40, 0x42, 0x0f, 0, 0, 0, 0, 0};
	size_t n = 0, i;

	tx[n++] = (uint8_t)nsig;
	memset(tx + n, 0, 64 * nsig);
	n += 64 * nsig;
	tx[n++] = (uint8_t)nsig; /* required signatures */
	tx[n++] = 0;             /* read-only signed */
	tx[n++] = 1;             /* read-only unsigned: the program */
	tx[n++] = (uint8_t)(nsig + 2);
	for (i = 0; i < nsig; i++, n += 32)
		memcpy(tx + n, signers[i], 32);
	memset(tx + n, 0x02, 32); /* recipient */
	n += 32;
	memset(tx + n, 0x00, 32); /* System Program */
	n += 32;
	memset(tx + n, 0x11, 32); /* blockhash */
	n += 32;
	tx[n++] = 1;                   /* instructions */
	tx[n++] = (uint8_t)(nsig + 1); /* program index */
	tx[n++] = 2;                   /* accounts: payer, recipient */
	tx[n++] = 0;
	tx[n++] = (uint8_t)nsig;
	tx[n++] = sizeof(transfer);
	memcpy(tx + n, transfer, sizeof(transfer));
	return n + sizeof(transfer);
}

static void
test_address(void **state)
{
	struct fixture *f = *state;
	struct pv_wallet_signer s;
	struct sctx c;
	char addr[PV_WALLET_ADDR_MAX];
	uint8_t key[32], parsed[32], a20[PV_EVM_ADDR_LEN];

	make_signer(f, "sol", &c, &s);
	assert_int_equal(pv_wallet_address(PV_CHAIN_SOLANA, &s, addr), PV_OK);
	assert_true(strlen(addr) >= 32 && strlen(addr) <= 44);
	raw_ed25519(s.pub, key);
	assert_int_equal(pv_solana_address_parse(addr, parsed), PV_OK);
	assert_memory_equal(parsed, key, 32);
	assert_int_equal(pv_wallet_address(PV_CHAIN_EVM, &s, addr), PV_ERR_KEY_TYPE);
	assert_string_equal(addr, "");
	free_signer(&s);

	make_signer(f, "eth", &c, &s);
	assert_int_equal(pv_wallet_address(PV_CHAIN_EVM, &s, addr), PV_OK);
	assert_int_equal(strlen(addr), 42);
	/* the EIP-55 form parses back (mixed case must be the checksum) */
	assert_int_equal(pv_evm_address_parse(addr, a20), PV_OK);
	assert_int_equal(pv_wallet_address(PV_CHAIN_SOLANA, &s, addr), PV_ERR_KEY_TYPE);
	assert_int_equal(c.calls, 0);
	free_signer(&s);
}

static void
test_chain_names(void **state)
{
	pv_chain c = PV_CHAIN_EVM;

	(void)state;
	assert_int_equal(pv_chain_parse("solana", &c), PV_OK);
	assert_int_equal(c, PV_CHAIN_SOLANA);
	assert_int_equal(pv_chain_parse("evm", &c), PV_OK);
	assert_int_equal(c, PV_CHAIN_EVM);
	assert_int_equal(pv_chain_parse("ethereum", &c), PV_ERR_USAGE);
	assert_int_equal(pv_chain_parse("EVM", &c), PV_ERR_USAGE);
	assert_int_equal(pv_chain_parse("", &c), PV_ERR_USAGE);
	assert_string_equal(pv_chain_name(PV_CHAIN_SOLANA), "solana");
	assert_string_equal(pv_chain_name(PV_CHAIN_EVM), "evm");
	assert_int_equal(pv_chain_alg(PV_CHAIN_SOLANA), PV_ALG_ED25519);
	assert_int_equal(pv_chain_alg(PV_CHAIN_EVM), PV_ALG_SECP256K1);
}

static void
test_solana_sign_tx(void **state)
{
	struct fixture *f = *state;
	struct pv_wallet_signer s;
	struct sctx c;
	uint8_t key[32], other[32], tx[PV_SOLANA_TX_MAX], orig[PV_SOLANA_TX_MAX], sig[64];
	const uint8_t *signers[2];
	size_t n, slot = 99;

	make_signer(f, "sol", &c, &s);
	raw_ed25519(s.pub, key);

	/* the fee payer */
	signers[0] = key;
	n = build_transfer(tx, signers, 1);
	assert_int_equal(pv_wallet_solana_sign_tx(&s, tx, n, &slot, sig), PV_OK);
	assert_int_equal(slot, 0);
	assert_memory_equal(tx + 1, sig, 64);
	assert_true(ed25519_verifies(s.pub, tx + 65, n - 65, sig));

	/* the second of two signers: slot 1, slot 0 and the message untouched */
	memset(other, 0x07, sizeof(other));
	signers[0] = other;
	signers[1] = key;
	n = build_transfer(tx, signers, 2);
	memcpy(orig, tx, n);
	assert_int_equal(pv_wallet_solana_sign_tx(&s, tx, n, &slot, sig), PV_OK);
	assert_int_equal(slot, 1);
	assert_memory_equal(tx, orig, 65);
	assert_memory_equal(tx + 65, sig, 64);
	assert_memory_equal(tx + 129, orig + 129, n - 129);
	assert_true(ed25519_verifies(s.pub, tx + 129, n - 129, sig));
	/* a flipped message bit: OpenSSL says no (the check can fail) */
	tx[200] ^= 1;
	assert_false(ed25519_verifies(s.pub, tx + 129, n - 129, sig));
	free_signer(&s);
}

static void
test_solana_refusals(void **state)
{
	struct fixture *f = *state;
	struct pv_wallet_signer s;
	struct sctx c;
	uint8_t key[32], other[32], tx[PV_SOLANA_TX_MAX + 1], orig[PV_SOLANA_TX_MAX + 1], sig[64];
	const uint8_t *signers[1];
	size_t n, slot = 99;

	make_signer(f, "sol", &c, &s);
	raw_ed25519(s.pub, key);

	/* not a required signer (only an account of the transaction) */
	memset(other, 0x07, sizeof(other));
	signers[0] = other;
	n = build_transfer(tx, signers, 1);
	memcpy(tx + 1 + 64 + 4 + 32, key, 32); /* the recipient is our key */
	memcpy(orig, tx, n);
	assert_int_equal(pv_wallet_solana_sign_tx(&s, tx, n, &slot, sig), PV_ERR_NOT_FOUND);
	assert_non_null(strstr(pv_err_detail(), "not a required signer"));
	assert_memory_equal(tx, orig, n);
	assert_int_equal(slot, 99);

	/* truncated, trailing byte, oversized: refused before signing */
	signers[0] = key;
	n = build_transfer(tx, signers, 1);
	memcpy(orig, tx, n);
	assert_int_equal(pv_wallet_solana_sign_tx(&s, tx, n - 1, &slot, sig), PV_ERR_BAD_INPUT);
	tx[n] = 0;
	assert_int_equal(pv_wallet_solana_sign_tx(&s, tx, n + 1, &slot, sig), PV_ERR_BAD_INPUT);
	assert_non_null(strstr(pv_err_detail(), "trailing"));
	assert_int_equal(pv_wallet_solana_sign_tx(&s, tx, PV_SOLANA_TX_MAX + 1, &slot, sig),
			 PV_ERR_TOO_LARGE);
	assert_memory_equal(tx, orig, n);
	assert_int_equal(c.calls, 0);

	/* the signer signed with another key: caught, nothing placed */
	c.other = "sol2";
	assert_int_equal(pv_wallet_solana_sign_tx(&s, tx, n, &slot, sig), PV_ERR_INTEGRITY);
	assert_memory_equal(tx, orig, n);
	assert_int_equal(c.calls, 1);
	free_signer(&s);
}

/* Refused as a message: nothing signed, the reason in the detail. */
static void
message_refused(const struct pv_wallet_signer *s, struct sctx *c, const uint8_t *msg, size_t len,
		const char *why)
{
	uint8_t sig[64];

	c->calls = 0;
	assert_int_equal(pv_wallet_solana_sign_message(s, msg, len, sig), PV_ERR_BAD_INPUT);
	assert_non_null(strstr(pv_err_detail(), why));
	assert_int_equal(c->calls, 0);
}

static void
test_solana_message(void **state)
{
	struct fixture *f = *state;
	struct pv_wallet_signer s;
	struct sctx c;
	static const char text[] = "Sign in to example.com\nNonce: 42";
	uint8_t sig[64], *big = NULL;

	make_signer(f, "sol", &c, &s);
	assert_int_equal(pv_wallet_solana_sign_message(&s, (const uint8_t *)text, strlen(text), sig), PV_OK);
	assert_true(ed25519_verifies(s.pub, (const uint8_t *)text, strlen(text), sig));
	assert_false(ed25519_verifies(s.pub, (const uint8_t *)text, strlen(text) - 1, sig));

	c.calls = 0;
	assert_int_equal(pv_wallet_solana_sign_message(&s, (const uint8_t *)"", 0, sig), PV_ERR_BAD_INPUT);
	big = calloc(1, PV_WALLET_MESSAGE_MAX + 1);
	assert_non_null(big);
	assert_int_equal(pv_wallet_solana_sign_message(&s, big, PV_WALLET_MESSAGE_MAX + 1, sig),
			 PV_ERR_TOO_LARGE);
	assert_int_equal(c.calls, 0);
	big[0] = 'A';
	assert_int_equal(pv_wallet_solana_sign_message(&s, big, PV_WALLET_MESSAGE_MAX, sig), PV_OK);
	assert_true(ed25519_verifies(s.pub, big, PV_WALLET_MESSAGE_MAX, sig));
	free(big);
	free_signer(&s);
}

/*
 * Domain separation: a signature over a transaction message authorises
 * that transaction, so sign-message refuses bytes that begin with one —
 * exactly, followed by one byte or many, inside a whole transaction, or
 * made a v0 message by a 0x80 in front — and what carries the off-chain
 * signing domain (only the off-chain mode signs that). A message that is
 * only the start of a transaction message is no transaction: signed.
 */
static void
test_solana_message_domain(void **state)
{
	struct fixture *f = *state;
	struct pv_wallet_signer s;
	struct sctx c;
	uint8_t key[32], tx[PV_SOLANA_TX_MAX + 64], v0[PV_SOLANA_TX_MAX + 64], sig[64];
	const uint8_t *signers[1];
	size_t n, m;

	make_signer(f, "sol", &c, &s);
	raw_ed25519(s.pub, key);
	signers[0] = key;
	n = build_transfer(tx, signers, 1);
	m = n - 65; /* the message after one signature slot */

	message_refused(&s, &c, tx + 65, m, "transaction message");
	tx[n] = 0x00;
	message_refused(&s, &c, tx + 65, m + 1, "transaction message");
	memset(tx + n, 'z', 64);
	message_refused(&s, &c, tx + 65, m + 64, "transaction message");
	message_refused(&s, &c, tx, n, "transaction");
	message_refused(&s, &c, tx, n + 1, "transaction");
	v0[0] = 0x80;
	memcpy(v0 + 1, tx + 65, m);
	v0[1 + m] = 0x00; /* no address table lookups */
	v0[2 + m] = 'z';
	message_refused(&s, &c, v0, m + 3, "transaction message");

	/* truncated: no transaction, and signed as the bytes they are */
	c.calls = 0;
	assert_int_equal(pv_wallet_solana_sign_message(&s, tx + 65, m - 1, sig), PV_OK);
	assert_true(ed25519_verifies(s.pub, tx + 65, m - 1, sig));
	assert_int_equal(pv_wallet_solana_sign_message(&s, tx + 65, 3 + 1 + 32, sig), PV_OK);
	assert_int_equal(c.calls, 2);

	message_refused(&s, &c, (const uint8_t *)"\xffsolana offchain\x00", 17, "off-chain");
	free_signer(&s);
}

/* A version 0 off-chain message around the body, this key its one signer,
 * signed over exactly the bytes handed back. */
static void
test_solana_offchain(void **state)
{
	struct fixture *f = *state;
	struct pv_wallet_signer s;
	struct sctx c;
	static const char body[] = "Sign in to example.com";
	uint8_t key[32], domain[32], sig[64];
	pv_solana_offchain_format fmt = 99;
	const uint8_t *m;
	pv_buf *out = NULL;

	make_signer(f, "sol", &c, &s);
	raw_ed25519(s.pub, key);
	memset(domain, 0x22, sizeof(domain));
	assert_int_equal(pv_buf_new(70000, &out), PV_OK);
	assert_int_equal(
	    pv_wallet_solana_sign_offchain(&s, domain, (const uint8_t *)body, strlen(body), out, &fmt, sig),
	    PV_OK);
	assert_int_equal(fmt, PV_SOLANA_OFFCHAIN_ASCII);
	m = pv_buf_ptr(out);
	assert_int_equal(pv_buf_len(out), 85 + strlen(body));
	assert_memory_equal(m, "\xffsolana offchain\x00", 17);
	assert_memory_equal(m + 17, domain, 32);
	assert_int_equal(m[49], 0);
	assert_int_equal(m[50], 1);
	assert_memory_equal(m + 51, key, 32);
	assert_int_equal(m[83], strlen(body));
	assert_int_equal(m[84], 0);
	assert_memory_equal(m + 85, body, strlen(body));
	assert_true(ed25519_verifies(s.pub, m, pv_buf_len(out), sig));
	/* not a signature over the body alone */
	assert_false(ed25519_verifies(s.pub, (const uint8_t *)body, strlen(body), sig));
	pv_buf_free(out);

	/* refused bodies sign nothing */
	c.calls = 0;
	assert_int_equal(pv_buf_new(70000, &out), PV_OK);
	assert_int_equal(pv_wallet_solana_sign_offchain(&s, domain, (const uint8_t *)"", 0, out, &fmt, sig),
			 PV_ERR_BAD_INPUT);
	assert_int_equal(
	    pv_wallet_solana_sign_offchain(&s, domain, (const uint8_t *)"\xff", 1, out, &fmt, sig),
	    PV_ERR_BAD_INPUT);
	assert_int_equal(c.calls, 0);
	pv_buf_free(out);
	free_signer(&s);

	/* only a Solana key */
	make_signer(f, "eth", &c, &s);
	assert_int_equal(pv_buf_new(70000, &out), PV_OK);
	assert_int_equal(
	    pv_wallet_solana_sign_offchain(&s, domain, (const uint8_t *)body, strlen(body), out, &fmt, sig),
	    PV_ERR_KEY_TYPE);
	assert_int_equal(pv_buf_len(out), 0);
	assert_int_equal(c.calls, 0);
	pv_buf_free(out);
	free_signer(&s);
}

/* The keystore signer vaultctl uses: a key of the chain's purpose only. */
static void
test_key_open(void **state)
{
	struct fixture *f = *state;
	struct pv_wallet_key wk;
	struct pv_key key;
	uint8_t sig[64];
	char addr[PV_WALLET_ADDR_MAX];
	static const struct {
		const char *name;
		pv_chain chain;
		pv_err want;
	} cases[] = {
	    {"sol", PV_CHAIN_SOLANA, PV_OK},
	    {"eth", PV_CHAIN_EVM, PV_OK},
	    {"eth", PV_CHAIN_SOLANA, PV_ERR_PURPOSE},
	    {"sol", PV_CHAIN_EVM, PV_ERR_PURPOSE},
	    {"ed-sign", PV_CHAIN_SOLANA, PV_ERR_PURPOSE},
	    {"ed-jwt", PV_CHAIN_SOLANA, PV_ERR_PURPOSE},
	    {"k1-sign", PV_CHAIN_EVM, PV_ERR_PURPOSE},
	    {"k1-jwt", PV_CHAIN_EVM, PV_ERR_PURPOSE},
	    {"p256", PV_CHAIN_EVM, PV_ERR_PURPOSE},
	    {"nokey", PV_CHAIN_SOLANA, PV_ERR_NOT_FOUND},
	};
	size_t i;

	for (i = 0; i < PV_NELEM(cases); i++) {
		assert_int_equal(pv_wallet_key_open(f->ks, cases[i].name, cases[i].chain, &wk),
				 cases[i].want);
		if (cases[i].want == PV_ERR_PURPOSE)
			assert_non_null(strstr(pv_err_detail(), cases[i].name));
		if (cases[i].want != PV_OK) {
			assert_null(wk.signer.pub);
			pv_wallet_key_close(&wk);
			continue;
		}
		assert_int_equal(pv_wallet_address(cases[i].chain, &wk.signer, addr), PV_OK);
		assert_string_equal(addr, wk.address);
		assert_int_equal(wk.signer.version, 1);
		if (cases[i].chain == PV_CHAIN_SOLANA) {
			assert_int_equal(
			    pv_wallet_solana_sign_message(&wk.signer, (const uint8_t *)"hi", 2, sig), PV_OK);
			assert_true(ed25519_verifies(wk.signer.pub, (const uint8_t *)"hi", 2, sig));
		}
		pv_wallet_key_close(&wk);
		assert_null(wk.signer.pub);
	}

	/* the right purpose on the wrong algorithm (metadata no key creation
	 * makes): the algorithm check still holds */
	memset(&key, 0, sizeof(key));
	snprintf(key.name, sizeof(key.name), "odd");
	key.alg = PV_ALG_SECP256K1;
	key.purpose = PV_PURPOSE_SOLANA;
	assert_int_equal(pv_wallet_key_check(PV_CHAIN_SOLANA, &key), PV_ERR_KEY_TYPE);
	assert_non_null(strstr(pv_err_detail(), "ed25519"));
	key.alg = PV_ALG_ED25519;
	assert_int_equal(pv_wallet_key_check(PV_CHAIN_SOLANA, &key), PV_OK);
	key.purpose = PV_PURPOSE_NONE; /* a key from before purposes */
	assert_int_equal(pv_wallet_key_check(PV_CHAIN_SOLANA, &key), PV_ERR_PURPOSE);
	assert_non_null(strstr(pv_err_detail(), "set-purpose"));
}

static void
test_wrong_key_type(void **state)
{
	struct fixture *f = *state;
	struct pv_wallet_signer s;
	struct sctx c;
	uint8_t tx[PV_SOLANA_TX_MAX], orig[PV_SOLANA_TX_MAX], sig[64], hash[32] = {1};
	const uint8_t *signers[1];
	struct pv_evm_sig es;
	size_t n, slot = 0;
	static const char *const names[] = {"eth", "p256"};
	size_t i;

	signers[0] = hash; /* any 32 bytes */
	n = build_transfer(tx, signers, 1);
	memcpy(orig, tx, n);
	for (i = 0; i < PV_NELEM(names); i++) {
		make_signer(f, names[i], &c, &s);
		assert_int_equal(pv_wallet_solana_sign_tx(&s, tx, n, &slot, sig), PV_ERR_KEY_TYPE);
		assert_non_null(strstr(pv_err_detail(), "ed25519"));
		assert_int_equal(pv_wallet_solana_sign_message(&s, (const uint8_t *)"hi", 2, sig),
				 PV_ERR_KEY_TYPE);
		assert_memory_equal(tx, orig, n);
		if (strcmp(names[i], "p256") == 0) {
			assert_int_equal(pv_wallet_evm_sign_digest(&s, hash, &es), PV_ERR_KEY_TYPE);
			assert_non_null(strstr(pv_err_detail(), "secp256k1"));
		}
		assert_int_equal(c.calls, 0);
		free_signer(&s);
	}
	make_signer(f, "sol", &c, &s);
	assert_int_equal(pv_wallet_evm_sign_digest(&s, hash, &es), PV_ERR_KEY_TYPE);
	assert_int_equal(pv_wallet_evm_sign_message(&s, (const uint8_t *)"hi", 2, &es), PV_ERR_KEY_TYPE);
	assert_int_equal(c.calls, 0);
	free_signer(&s);
}

static void
test_evm_digest(void **state)
{
	struct fixture *f = *state;
	struct pv_wallet_signer s;
	struct sctx c;
	struct pv_evm_sig es, again;
	uint8_t hash[32], rsv[65];
	unsigned i, seen[2] = {0, 0};

	make_signer(f, "eth", &c, &s);
	/* enough digests to meet both recovery ids */
	for (i = 0; i < 24; i++) {
		assert_int_equal(RAND_bytes(hash, sizeof(hash)), 1);
		assert_int_equal(pv_wallet_evm_sign_digest(&s, hash, &es), PV_OK);
		check_evm_sig(f, s.pub, hash, &es);
		seen[es.recid]++;
	}
	assert_true(seen[0] > 0 && seen[1] > 0);

	pv_evm_sig_rsv(&es, 27, rsv);
	assert_memory_equal(rsv, es.r, 32);
	assert_memory_equal(rsv + 32, es.s, 32);
	assert_int_equal(rsv[64], 27 + es.recid);

	/* a signer that hands back high-S: normalised, recid still right */
	c.high_s = 1;
	assert_int_equal(pv_wallet_evm_sign_digest(&s, hash, &again), PV_OK);
	check_evm_sig(f, s.pub, hash, &again);

	/* a signer that signed with another key: caught by recovery */
	c.high_s = 0;
	c.other = "eth2";
	assert_int_equal(pv_wallet_evm_sign_digest(&s, hash, &again), PV_ERR_INTEGRITY);
	free_signer(&s);
}

static void
test_evm_message(void **state)
{
	struct fixture *f = *state;
	struct pv_wallet_signer s;
	struct sctx c;
	struct pv_evm_sig es;
	static const char prefixed[] = "\x19"
				       "Ethereum Signed Message:\n11Hello World";
	static const char empty[] = "\x19"
				    "Ethereum Signed Message:\n0";
	uint8_t hash[32], *big = NULL;
	size_t len = 0;

	make_signer(f, "eth", &c, &s);
	/* EIP-191 hash computed here from its definition */
	assert_int_equal(
	    pv_digest_compute(PV_DIGEST_KECCAK256, (const uint8_t *)prefixed, strlen(prefixed), hash, &len),
	    PV_OK);
	assert_int_equal(pv_wallet_evm_sign_message(&s, (const uint8_t *)"Hello World", 11, &es), PV_OK);
	check_evm_sig(f, s.pub, hash, &es);

	/* the empty message is a message ("...:\n0") */
	assert_int_equal(
	    pv_digest_compute(PV_DIGEST_KECCAK256, (const uint8_t *)empty, strlen(empty), hash, &len), PV_OK);
	assert_int_equal(pv_wallet_evm_sign_message(&s, NULL, 0, &es), PV_OK);
	check_evm_sig(f, s.pub, hash, &es);

	big = calloc(1, PV_WALLET_MESSAGE_MAX + 1);
	assert_non_null(big);
	c.calls = 0;
	assert_int_equal(pv_wallet_evm_sign_message(&s, big, PV_WALLET_MESSAGE_MAX + 1, &es),
			 PV_ERR_TOO_LARGE);
	assert_int_equal(c.calls, 0);
	free(big);
	free_signer(&s);
}

/* EIP-155's example: nonce 9, 20 gwei, 21000 gas, to 0x3535..., 1 ether,
 * chain id 1; the EIP gives its signing hash. */
#define EIP155_UNSIGNED                                                                                      \
	"ec098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a764000080018080"
#define EIP155_HASH   "daf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53"
#define EIP155_FIELDS "098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a764000080"

/* RLP of a 32-byte big-endian integer (leading zeros dropped). */
static size_t
rlp_int32(const uint8_t v[32], uint8_t *out)
{
	size_t i = 0;

	while (i < 32 && v[i] == 0)
		i++;
	if (32 - i == 1 && v[i] < 0x80) {
		out[0] = v[i];
		return 1;
	}
	out[0] = (uint8_t)(0x80 + (32 - i));
	memcpy(out + 1, v + i, 32 - i);
	return 1 + 32 - i;
}

static void
test_evm_tx(void **state)
{
	struct fixture *f = *state;
	struct pv_wallet_signer s;
	struct sctx c;
	struct pv_evm_tx tx;
	struct pv_evm_sig es;
	pv_buf *out = NULL;
	uint8_t raw[45], hash[32], fields[41], want[128], txhash[32], check[32];
	size_t n = 0, body, len = 0;

	make_signer(f, "eth", &c, &s);
	unhex(EIP155_UNSIGNED, raw, sizeof(raw));
	unhex(EIP155_HASH, hash, sizeof(hash));
	unhex(EIP155_FIELDS, fields, sizeof(fields));
	assert_int_equal(pv_evm_tx_parse(raw, sizeof(raw), &tx), PV_OK);
	assert_int_equal(pv_buf_new(4096, &out), PV_OK);
	assert_int_equal(pv_wallet_evm_sign_tx(&s, &tx, out, txhash, &es), PV_OK);
	/* signed over the EIP's signing hash, by the token key */
	check_evm_sig(f, s.pub, hash, &es);

	/* rlp([fields..., v = 37 + recid, r, s]) */
	body = sizeof(fields);
	memcpy(want + 2, fields, body);
	n = 2 + body;
	want[n++] = (uint8_t)(37 + es.recid);
	n += rlp_int32(es.r, want + n);
	n += rlp_int32(es.s, want + n);
	want[0] = 0xf8;
	want[1] = (uint8_t)(n - 2);
	assert_int_equal(pv_buf_len(out), n);
	assert_memory_equal(pv_buf_ptr(out), want, n);
	/* v as the transaction carries it: EIP-155 for legacy, y_parity typed */
	assert_int_equal(pv_evm_tx_v(&tx, &es), 37 + (uint64_t)es.recid);
	tx.type = PV_EVM_TX_DYNAMIC_FEE;
	assert_int_equal(pv_evm_tx_v(&tx, &es), (uint64_t)es.recid);
	tx.type = PV_EVM_TX_LEGACY;
	assert_int_equal(pv_digest_compute(PV_DIGEST_KECCAK256, want, n, check, &len), PV_OK);
	assert_memory_equal(txhash, check, 32);
	pv_buf_free(out);

	/* the wrong key type signs nothing */
	free_signer(&s);
	make_signer(f, "sol", &c, &s);
	assert_int_equal(pv_buf_new(4096, &out), PV_OK);
	assert_int_equal(pv_wallet_evm_sign_tx(&s, &tx, out, txhash, &es), PV_ERR_KEY_TYPE);
	assert_int_equal(pv_buf_len(out), 0);
	assert_int_equal(c.calls, 0);
	pv_buf_free(out);
	free_signer(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_chain_names),     cmocka_unit_test(test_address),
	    cmocka_unit_test(test_solana_sign_tx),  cmocka_unit_test(test_solana_refusals),
	    cmocka_unit_test(test_solana_message),  cmocka_unit_test(test_solana_message_domain),
	    cmocka_unit_test(test_solana_offchain), cmocka_unit_test(test_key_open),
	    cmocka_unit_test(test_wrong_key_type),  cmocka_unit_test(test_evm_digest),
	    cmocka_unit_test(test_evm_message),     cmocka_unit_test(test_evm_tx),
	};
	int r;

	if (pv_secmem_init() != PV_OK)
		return 1;
	if ((r = tu_make_token(&T, "pvwallet")) != 0)
		return r == TU_SKIP ? TU_SKIP : 1;
	r = cmocka_run_group_tests(tests, setup, teardown);
	tu_remove_token(&T);
	return r;
}
