/*
 * vault-bench's wallet transactions and reply checks. The transactions are
 * read back with the wallet parsers and compared with bytes written out by
 * hand; the checks get replies signed here with fresh OpenSSL keys, as
 * vaultd would answer, and then the same replies with one thing wrong.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "core/b64.h"
#include "core/keccak.h"
#include "tools/vault-bench/wallet_tx.h"
#include "wallet/base58.h"
#include "wallet/evm.h"
#include "wallet/rlp.h"
#include "wallet/solana_tx.h"

/*
 * Known answers computed with @solana/web3.js 1.x (Transaction with
 * SystemProgram.transfer, fee payer 32 x 0xa7, serialize({requireAllSignatures:
 * false})) and ethers 6 (Transaction.from({...}).unsignedSerialized and
 * .unsignedHash) for the same fields.
 */
static const char sol_web3_hex[] =
    "01"
    "00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000"
    "010001"
    "03"
    "a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7"
    "0b2d4f6183a5c7e90b2d4f6183a5c7e90b2d4f6183a5c7e90b2d4f6183a5c7e9"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "9f11273d53697f95abc1d7ed03192f455b71879db3c9dff50b21374d63798fa5"
    "01020200010c0200000040420f0000000000";
static const char evm_ethers_hex[] =
    "02ef0180843b9aca008506fc23ac0082520894353535353535353535353535353535353535353587038d7ea4c6800080c0";
static const char evm_ethers_hash[] = "f5a1497d8437d8720ad1ef32f052badd6d2e21b927d080ca535742b70f466ab7";

static void
assert_hex_equal(const uint8_t *got, size_t len, const char *want)
{
	char *hex = NULL;

	assert_int_equal(pv_hex_encode(got, len, &hex), PV_OK);
	assert_string_equal(hex, want);
	free(hex);
}

static void
test_solana_layout(void **state)
{
	/* System Program Transfer (index 2), 1,000,000 lamports little-endian */
	static const uint8_t transfer_data[12] = {0x02, 0, 0, 0, 0x40, 0x42, 0x0f, 0, 0, 0, 0, 0};
	static const uint8_t zero[64] = {0};
	uint8_t payer[32], tx[BENCH_SOL_TX_LEN];
	struct pv_solana_tx p;
	size_t idx = 99;

	(void)state;
	memset(payer, 0xa7, sizeof(payer));
	bench_solana_transfer(payer, tx);
	assert_hex_equal(tx, sizeof(tx), sol_web3_hex);
	assert_int_equal(tx[0], 1);
	assert_memory_equal(tx + 1, zero, 64);
	assert_memory_equal(tx + BENCH_SOL_TX_LEN - 12, transfer_data, 12);
	/* program index 2, accounts [0 payer, 1 recipient], 12 bytes of data */
	assert_memory_equal(tx + BENCH_SOL_TX_LEN - 18, "\x01\x02\x02\x00\x01\x0c", 6);

	assert_int_equal(pv_solana_tx_parse(tx, sizeof(tx), &p), PV_OK);
	assert_int_equal(p.version, PV_SOLANA_LEGACY);
	assert_int_equal(p.num_signatures, 1);
	assert_int_equal(p.sig_off, 1);
	assert_int_equal(p.message_off, BENCH_SOL_MSG_OFF);
	assert_int_equal(p.message_len, BENCH_SOL_MSG_LEN);
	assert_int_equal(p.num_required_signatures, 1);
	assert_int_equal(p.num_readonly_signed, 0);
	assert_int_equal(p.num_readonly_unsigned, 1);
	assert_int_equal(p.num_account_keys, 3);
	assert_int_equal(p.num_instructions, 1);
	assert_memory_equal(p.account_keys, payer, 32);
	assert_memory_equal(p.account_keys + 64, zero, 32); /* the System Program */
	assert_int_equal(pv_solana_tx_signer_index(&p, payer, &idx), PV_OK);
	assert_int_equal(idx, 0);
}

static void
test_evm_layout(void **state)
{
	static const uint8_t value[32] = {[25] = 0x03, 0x8d, 0x7e, 0xa4, 0xc6, 0x80, 0x00}; /* 10^15 */
	static const uint8_t prio[32] = {[28] = 0x3b, 0x9a, 0xca, 0x00};                    /* 1 gwei */
	static const uint8_t maxfee[32] = {[27] = 0x06, 0xfc, 0x23, 0xac, 0x00};            /* 30 gwei */
	uint8_t tx[BENCH_EVM_TX_LEN], hash[32], be[32], again[32], to[20];
	pv_rlp_item list, it;
	pv_rlp_reader rd;
	uint64_t v;

	(void)state;
	bench_evm_transfer(tx, hash);
	assert_hex_equal(tx, sizeof(tx), evm_ethers_hex);
	assert_hex_equal(hash, sizeof(hash), evm_ethers_hash);
	assert_int_equal(tx[0], 0x02);
	assert_int_equal(pv_rlp_decode_all(tx + 1, sizeof(tx) - 1, &list), PV_OK);
	assert_int_equal(list.kind, PV_RLP_LIST);
	assert_int_equal(pv_rlp_enter(&list, &rd), PV_OK);
	assert_int_equal(pv_rlp_next(&rd, &it), PV_OK); /* chainId */
	assert_int_equal(pv_rlp_get_uint64(&it, &v), PV_OK);
	assert_int_equal(v, BENCH_EVM_CHAIN_ID);
	assert_int_equal(pv_rlp_next(&rd, &it), PV_OK); /* nonce */
	assert_int_equal(pv_rlp_get_uint64(&it, &v), PV_OK);
	assert_int_equal(v, 0);
	assert_int_equal(pv_rlp_next(&rd, &it), PV_OK);
	assert_int_equal(pv_rlp_get_uint256(&it, be), PV_OK);
	assert_memory_equal(be, prio, 32);
	assert_int_equal(pv_rlp_next(&rd, &it), PV_OK);
	assert_int_equal(pv_rlp_get_uint256(&it, be), PV_OK);
	assert_memory_equal(be, maxfee, 32);
	assert_int_equal(pv_rlp_next(&rd, &it), PV_OK); /* gasLimit */
	assert_int_equal(pv_rlp_get_uint64(&it, &v), PV_OK);
	assert_int_equal(v, 21000);
	assert_int_equal(pv_rlp_next(&rd, &it), PV_OK); /* to */
	memset(to, 0x35, sizeof(to));
	assert_int_equal(it.kind, PV_RLP_STRING);
	assert_int_equal(it.len, 20);
	assert_memory_equal(it.payload, to, 20);
	assert_int_equal(pv_rlp_next(&rd, &it), PV_OK);
	assert_int_equal(pv_rlp_get_uint256(&it, be), PV_OK);
	assert_memory_equal(be, value, 32);
	assert_int_equal(pv_rlp_next(&rd, &it), PV_OK); /* data */
	assert_int_equal(it.kind, PV_RLP_STRING);
	assert_int_equal(it.len, 0);
	assert_int_equal(pv_rlp_next(&rd, &it), PV_OK); /* accessList */
	assert_int_equal(it.kind, PV_RLP_LIST);
	assert_int_equal(it.len, 0);
	assert_true(pv_rlp_at_end(&rd));
	/* the signing hash is Keccak-256 of all 49 bytes, type byte included */
	pv_keccak256(tx, sizeof(tx), again);
	assert_memory_equal(hash, again, 32);
}

/* ---- Solana replies ---- */

struct sol_fixture {
	EVP_PKEY *key;
	uint8_t tx[BENCH_SOL_TX_LEN];
	uint8_t sig[64];
	char addr[PV_SOLANA_ADDRESS_SIZE];
	char sig_b58[128];
};

static void
ed25519_sign(EVP_PKEY *key, const uint8_t *msg, size_t len, uint8_t sig[64])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	size_t siglen = 64;

	assert_non_null(md);
	assert_int_equal(EVP_DigestSignInit(md, NULL, NULL, NULL, key), 1);
	assert_int_equal(EVP_DigestSign(md, sig, &siglen, msg, len), 1);
	assert_int_equal(siglen, 64);
	EVP_MD_CTX_free(md);
}

static void
sol_setup(struct sol_fixture *f)
{
	uint8_t pk[32];
	size_t pklen = sizeof(pk), n;

	memset(f, 0, sizeof(*f));
	assert_non_null(f->key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"));
	assert_int_equal(EVP_PKEY_get_raw_public_key(f->key, pk, &pklen), 1);
	assert_int_equal(pv_solana_address(pk, f->addr), PV_OK);
	bench_solana_transfer(pk, f->tx);
	ed25519_sign(f->key, f->tx + BENCH_SOL_MSG_OFF, BENCH_SOL_MSG_LEN, f->sig);
	assert_int_equal(pv_base58_encode(f->sig, 64, f->sig_b58, sizeof(f->sig_b58), &n), PV_OK);
}

/* vaultd's reply for transaction tx with sig in slot 0 (and sig_b58). */
static char *
sol_reply(const struct sol_fixture *f, const uint8_t *msg, const uint8_t sig[64], const char *sig_b58,
	  const char *addr, int signer_index)
{
	uint8_t tx[BENCH_SOL_TX_LEN];
	char *b64 = NULL, *text;
	cJSON *o = cJSON_CreateObject();

	memcpy(tx, f->tx, sizeof(tx));
	memcpy(tx + BENCH_SOL_MSG_OFF, msg, BENCH_SOL_MSG_LEN);
	memcpy(tx + 1, sig, 64);
	assert_int_equal(pv_b64_encode(tx, sizeof(tx), &b64), PV_OK);
	assert_non_null(o);
	assert_non_null(cJSON_AddStringToObject(o, "name", "w"));
	assert_non_null(cJSON_AddNumberToObject(o, "version", 1));
	assert_non_null(cJSON_AddStringToObject(o, "address", addr));
	assert_non_null(cJSON_AddStringToObject(o, "transaction_b64", b64));
	assert_non_null(cJSON_AddStringToObject(o, "signature_b58", sig_b58));
	assert_non_null(cJSON_AddNumberToObject(o, "signer_index", signer_index));
	assert_non_null(text = cJSON_PrintUnformatted(o));
	cJSON_Delete(o);
	free(b64);
	return text;
}

static pv_err
sol_check(const struct sol_fixture *f, char *reply, char *out)
{
	pv_err r = bench_check_solana_reply(reply, strlen(reply), f->tx, f->key, out, 128);

	free(reply);
	return r;
}

static void
test_solana_reply(void **state)
{
	struct sol_fixture f;
	uint8_t other_msg[BENCH_SOL_MSG_LEN], other_sig[64], other_pk[32] = {1};
	char out[128], other_b58[128], other_addr[PV_SOLANA_ADDRESS_SIZE];
	const uint8_t *msg;
	size_t n;

	(void)state;
	sol_setup(&f);
	msg = f.tx + BENCH_SOL_MSG_OFF;

	/* the good reply passes and hands back the signature text */
	assert_int_equal(sol_check(&f, sol_reply(&f, msg, f.sig, f.sig_b58, f.addr, 0), out), PV_OK);
	assert_string_equal(out, f.sig_b58);

	/* the signature of another message, consistent in slot and text */
	memcpy(other_msg, msg, sizeof(other_msg));
	other_msg[BENCH_SOL_MSG_LEN - 1] ^= 1; /* lamports */
	ed25519_sign(f.key, other_msg, sizeof(other_msg), other_sig);
	assert_int_equal(pv_base58_encode(other_sig, 64, other_b58, sizeof(other_b58), &n), PV_OK);
	assert_int_equal(sol_check(&f, sol_reply(&f, msg, other_sig, other_b58, f.addr, 0), out),
			 PV_ERR_BAD_SIGNATURE);
	/* ... or handed back for that other message */
	assert_int_equal(sol_check(&f, sol_reply(&f, other_msg, other_sig, other_b58, f.addr, 0), out),
			 PV_ERR_BAD_INPUT);
	/* slot and signature_b58 disagree */
	assert_int_equal(sol_check(&f, sol_reply(&f, msg, f.sig, other_b58, f.addr, 0), out),
			 PV_ERR_BAD_INPUT);
	/* another signer index, another address */
	assert_int_equal(sol_check(&f, sol_reply(&f, msg, f.sig, f.sig_b58, f.addr, 1), out),
			 PV_ERR_BAD_INPUT);
	assert_int_equal(pv_solana_address(other_pk, other_addr), PV_OK);
	assert_int_equal(sol_check(&f, sol_reply(&f, msg, f.sig, f.sig_b58, other_addr, 0), out),
			 PV_ERR_BAD_INPUT);
	/* an error reply, and something that is not JSON */
	assert_int_equal(sol_check(&f, strdup("{\"error\":{\"code\":\"forbidden\",\"message\":\"x\"}}"), out),
			 PV_ERR_BAD_INPUT);
	assert_int_equal(sol_check(&f, strdup("<html>"), out), PV_ERR_BAD_INPUT);
	EVP_PKEY_free(f.key);
}

/* ---- EVM replies ---- */

static const uint8_t secp256k1_n[32] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					0xff, 0xff, 0xff, 0xff, 0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48,
					0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};

static const uint8_t secp256k1_half_n[32] = {0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					     0xff, 0xff, 0xff, 0xff, 0xff, 0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4,
					     0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0};

/* n - s, big-endian 256-bit. */
static void
negate_s(const uint8_t s[32], uint8_t out[32])
{
	int borrow = 0;

	for (int i = 31; i >= 0; i--) {
		int d = secp256k1_n[i] - s[i] - borrow;

		borrow = d < 0;
		out[i] = (uint8_t)(d + (borrow ? 256 : 0));
	}
}

/* A low-S r||s over hash with r and s both 32 significant bytes (keeps
 * the hand-written RLP below simple), and its recovery id. */
static void
secp256k1_sign(EVP_PKEY *key, const uint8_t hash[32], uint8_t rs[64], int *recid)
{
	uint8_t xy[PV_EVM_POINT_LEN], der[80];
	const unsigned char *p;
	const BIGNUM *r, *s;
	size_t derlen;
	ECDSA_SIG *es;
	EVP_PKEY_CTX *ctx;

	for (;;) {
		derlen = sizeof(der);
		assert_non_null(ctx = EVP_PKEY_CTX_new(key, NULL));
		assert_int_equal(EVP_PKEY_sign_init(ctx), 1);
		assert_int_equal(EVP_PKEY_sign(ctx, der, &derlen, hash, 32), 1);
		EVP_PKEY_CTX_free(ctx);
		p = der;
		assert_non_null(es = d2i_ECDSA_SIG(NULL, &p, (long)derlen));
		ECDSA_SIG_get0(es, &r, &s);
		assert_int_equal(BN_bn2binpad(r, rs, 32), 32);
		assert_int_equal(BN_bn2binpad(s, rs + 32, 32), 32);
		ECDSA_SIG_free(es);
		if (memcmp(rs + 32, secp256k1_half_n, 32) > 0)
			negate_s(rs + 32, rs + 32);
		if (rs[0] != 0 && rs[32] != 0)
			break;
	}
	assert_int_equal(pv_evm_pubkey_point(key, xy), PV_OK);
	assert_int_equal(pv_evm_recovery_id(hash, rs, xy, recid), PV_OK);
}

/* 0x02 || rlp([the 9 fields, y, r, s]) written out: 47 + 1 + 33 + 33 = 114
 * payload bytes, header f8 72. */
static size_t
evm_signed_by_hand(const uint8_t tx[BENCH_EVM_TX_LEN], int y, const uint8_t rs[64], uint8_t out[120])
{
	size_t k = 0;

	out[k++] = 0x02;
	out[k++] = 0xf8;
	out[k++] = 114;
	memcpy(out + k, tx + 2, 47);
	k += 47;
	out[k++] = y ? 0x01 : 0x80;
	out[k++] = 0xa0;
	memcpy(out + k, rs, 32);
	k += 32;
	out[k++] = 0xa0;
	memcpy(out + k, rs + 32, 32);
	k += 32;
	return k;
}

struct evm_reply {
	const uint8_t *rs;
	int y, v;
	long chain_id;
	const char *addr;
	int bad_hash;
};

static char *
evm_reply_text(const uint8_t tx[BENCH_EVM_TX_LEN], const struct evm_reply *e)
{
	uint8_t raw[120], th[32];
	size_t n = evm_signed_by_hand(tx, e->y, e->rs, raw);
	char *hex = NULL, *thex = NULL, *rhex = NULL, *shex = NULL, buf[300], *text;
	cJSON *o = cJSON_CreateObject(), *sig;

	pv_keccak256(raw, n, th);
	if (e->bad_hash)
		th[31] ^= 1;
	assert_int_equal(pv_hex_encode(raw, n, &hex), PV_OK);
	assert_int_equal(pv_hex_encode(th, 32, &thex), PV_OK);
	assert_int_equal(pv_hex_encode(e->rs, 32, &rhex), PV_OK);
	assert_int_equal(pv_hex_encode(e->rs + 32, 32, &shex), PV_OK);
	assert_non_null(o);
	assert_non_null(cJSON_AddStringToObject(o, "name", "w"));
	assert_non_null(cJSON_AddNumberToObject(o, "version", 1));
	assert_non_null(cJSON_AddStringToObject(o, "address", e->addr));
	snprintf(buf, sizeof(buf), "0x%s", hex);
	assert_non_null(cJSON_AddStringToObject(o, "raw_transaction", buf));
	snprintf(buf, sizeof(buf), "0x%s", thex);
	assert_non_null(cJSON_AddStringToObject(o, "tx_hash", buf));
	assert_non_null(cJSON_AddNumberToObject(o, "type", 2));
	assert_non_null(cJSON_AddNumberToObject(o, "chain_id", (double)e->chain_id));
	assert_non_null(sig = cJSON_AddObjectToObject(o, "signature"));
	snprintf(buf, sizeof(buf), "0x%s", rhex);
	assert_non_null(cJSON_AddStringToObject(sig, "r", buf));
	snprintf(buf, sizeof(buf), "0x%s", shex);
	assert_non_null(cJSON_AddStringToObject(sig, "s", buf));
	assert_non_null(cJSON_AddNumberToObject(sig, "y_parity", e->y));
	assert_non_null(cJSON_AddNumberToObject(sig, "v", e->v));
	assert_non_null(text = cJSON_PrintUnformatted(o));
	cJSON_Delete(o);
	free(hex);
	free(thex);
	free(rhex);
	free(shex);
	return text;
}

static pv_err
evm_check(const uint8_t tx[BENCH_EVM_TX_LEN], EVP_PKEY *key, const struct evm_reply *e)
{
	char *text = evm_reply_text(tx, e);
	pv_err r = bench_check_evm_reply(text, strlen(text), tx, key);

	free(text);
	return r;
}

static void
test_evm_reply(void **state)
{
	uint8_t tx[BENCH_EVM_TX_LEN], hash[32], rs[64], high[64], bad_r[64], addr[20], other[20];
	char addr_text[PV_EVM_ADDR_STR_LEN + 1], other_text[PV_EVM_ADDR_STR_LEN + 1];
	EVP_PKEY *key;
	struct evm_reply e;
	int y;

	(void)state;
	assert_non_null(key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1"));
	assert_int_equal(pv_evm_address(key, addr), PV_OK);
	pv_evm_checksum(addr, addr_text);
	bench_evm_transfer(tx, hash);
	secp256k1_sign(key, hash, rs, &y);

	e = (struct evm_reply){.rs = rs, .y = y, .v = y, .chain_id = 1, .addr = addr_text};
	assert_int_equal(evm_check(tx, key, &e), PV_OK);

	/* the same signature with high S (still valid for OpenSSL, refused) */
	memcpy(high, rs, 32);
	negate_s(rs + 32, high + 32);
	e.rs = high;
	e.y = e.v = !y;
	assert_int_equal(evm_check(tx, key, &e), PV_ERR_BAD_INPUT);
	/* a wrong y_parity, or v that is not the typed form */
	e = (struct evm_reply){.rs = rs, .y = !y, .v = !y, .chain_id = 1, .addr = addr_text};
	assert_int_equal(evm_check(tx, key, &e), PV_ERR_BAD_INPUT);
	e = (struct evm_reply){.rs = rs, .y = y, .v = 27 + y, .chain_id = 1, .addr = addr_text};
	assert_int_equal(evm_check(tx, key, &e), PV_ERR_BAD_INPUT);
	/* r changed: OpenSSL says no */
	memcpy(bad_r, rs, 64);
	bad_r[5] ^= 0x10;
	e = (struct evm_reply){.rs = bad_r, .y = y, .v = y, .chain_id = 1, .addr = addr_text};
	assert_int_equal(evm_check(tx, key, &e), PV_ERR_BAD_SIGNATURE);
	/* another chain id, another address, a tx_hash that is not the hash */
	e = (struct evm_reply){.rs = rs, .y = y, .v = y, .chain_id = 5, .addr = addr_text};
	assert_int_equal(evm_check(tx, key, &e), PV_ERR_BAD_INPUT);
	memset(other, 0x11, sizeof(other));
	pv_evm_checksum(other, other_text);
	e = (struct evm_reply){.rs = rs, .y = y, .v = y, .chain_id = 1, .addr = other_text};
	assert_int_equal(evm_check(tx, key, &e), PV_ERR_BAD_INPUT);
	e = (struct evm_reply){.rs = rs, .y = y, .v = y, .chain_id = 1, .addr = addr_text, .bad_hash = 1};
	assert_int_equal(evm_check(tx, key, &e), PV_ERR_BAD_INPUT);
	assert_int_equal(bench_check_evm_reply("{}", 2, tx, key), PV_ERR_BAD_INPUT);
	EVP_PKEY_free(key);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_solana_layout),
	    cmocka_unit_test(test_evm_layout),
	    cmocka_unit_test(test_solana_reply),
	    cmocka_unit_test(test_evm_reply),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
