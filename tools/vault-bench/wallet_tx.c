#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "base/buf.h"
#include "core/b64.h"
#include "core/keccak.h"
#include "tools/vault-bench/wallet_tx.h"
#include "wallet/base58.h"
#include "wallet/evm.h"
#include "wallet/rlp.h"

/* Fixed parts of the transactions: any bytes do, they only need to be the
 * same in every run. */
static const uint8_t sol_recipient[32] = {0x0b, 0x2d, 0x4f, 0x61, 0x83, 0xa5, 0xc7, 0xe9, 0x0b, 0x2d, 0x4f,
					  0x61, 0x83, 0xa5, 0xc7, 0xe9, 0x0b, 0x2d, 0x4f, 0x61, 0x83, 0xa5,
					  0xc7, 0xe9, 0x0b, 0x2d, 0x4f, 0x61, 0x83, 0xa5, 0xc7, 0xe9};
static const uint8_t sol_blockhash[32] = {0x9f, 0x11, 0x27, 0x3d, 0x53, 0x69, 0x7f, 0x95, 0xab, 0xc1, 0xd7,
					  0xed, 0x03, 0x19, 0x2f, 0x45, 0x5b, 0x71, 0x87, 0x9d, 0xb3, 0xc9,
					  0xdf, 0xf5, 0x0b, 0x21, 0x37, 0x4d, 0x63, 0x79, 0x8f, 0xa5};

/*
 * 0x02 || rlp([chainId 1, nonce 0, maxPriorityFeePerGas 1 gwei,
 * maxFeePerGas 30 gwei, gasLimit 21000, to 0x3535...35, value 10^15 wei,
 * data "", accessList []]) — spelled out byte by byte (RLP, Ethereum
 * Yellow Paper appendix B) rather than produced by the encoder under test.
 */
static const uint8_t evm_tx[BENCH_EVM_TX_LEN] = {
    0x02, 0xef,                                     /* type, list of 47 bytes */
    0x01,                                           /* chainId 1 */
    0x80,                                           /* nonce 0 */
    0x84, 0x3b, 0x9a, 0xca, 0x00,                   /* 1,000,000,000 */
    0x85, 0x06, 0xfc, 0x23, 0xac, 0x00,             /* 30,000,000,000 */
    0x82, 0x52, 0x08,                               /* 21000 */
    0x94, 0x35, 0x35, 0x35, 0x35, 0x35, 0x35, 0x35, /* to, 20 bytes */
    0x35, 0x35, 0x35, 0x35, 0x35, 0x35, 0x35, 0x35, 0x35, 0x35, 0x35,
    0x35, 0x35, 0x87, 0x03, 0x8d, 0x7e, 0xa4, 0xc6, 0x80, 0x00, /* 10^15 */
    0x80,                                                       /* data */
    0xc0,                                                       /* accessList */
};
#define EVM_PAYLOAD_OFF 2

/* secp256k1's group order divided by two: s above it is high-S. */
static const uint8_t secp256k1_half_n[32] = {0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					     0xff, 0xff, 0xff, 0xff, 0xff, 0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4,
					     0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0};

void
bench_solana_transfer(const uint8_t payer[32], uint8_t tx[BENCH_SOL_TX_LEN])
{
	static const uint8_t transfer[] = {0x01, 0x02, 0x02, 0x00, 0x01, 0x0c, 0x02, 0x00, 0x00, 0x00};
	uint32_t lamports = BENCH_SOL_LAMPORTS;
	size_t k = 0;

	tx[k++] = 1; /* one signature, still empty */
	memset(tx + k, 0, 64);
	k += 64;
	tx[k++] = 1; /* required signatures: the fee payer */
	tx[k++] = 0; /* read-only signed */
	tx[k++] = 1; /* read-only unsigned: the System Program */
	tx[k++] = 3; /* account keys */
	memcpy(tx + k, payer, 32);
	k += 32;
	memcpy(tx + k, sol_recipient, 32);
	k += 32;
	memset(tx + k, 0, 32); /* System Program: 11111111111111111111111111111111 */
	k += 32;
	memcpy(tx + k, sol_blockhash, 32);
	k += 32;
	/* one instruction: program 2, accounts [0, 1], 12 bytes of data */
	memcpy(tx + k, transfer, sizeof(transfer));
	k += sizeof(transfer);
	for (int i = 0; i < 8; i++) {
		tx[k++] = (uint8_t)(lamports & 0xff);
		lamports >>= 8;
	}
}

void
bench_evm_transfer(uint8_t tx[BENCH_EVM_TX_LEN], uint8_t hash[32])
{
	memcpy(tx, evm_tx, sizeof(evm_tx));
	pv_keccak256(tx, BENCH_EVM_TX_LEN, hash);
}

/* ---- reply checks ---- */

static const char *
json_str(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* An integer member, -1 when absent or not a small non-negative integer. */
static long long
json_uint(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	long long n;

	if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= 1e15))
		return -1;
	n = (long long)v->valuedouble;
	return (double)n == v->valuedouble ? n : -1;
}

static pv_err
bad(const char *what)
{
	pv_err_set_detail("vaultd reply: %s", what);
	return PV_ERR_BAD_INPUT;
}

pv_err
bench_check_solana_reply(const char *body, size_t len, const uint8_t tx[BENCH_SOL_TX_LEN], EVP_PKEY *pub,
			 char *sig_b58, size_t sig_b58_size)
{
	uint8_t got[BENCH_SOL_TX_LEN + 1], sig[64 + 1], pk[32];
	char addr[PV_SOLANA_ADDRESS_SIZE];
	cJSON *root = NULL;
	EVP_MD_CTX *md = NULL;
	const char *s, *b58;
	size_t n, pklen = sizeof(pk);
	pv_err r;

	if ((root = cJSON_ParseWithLength(body, len)) == NULL) {
		r = bad("not JSON");
		goto out;
	}
	if (EVP_PKEY_get_raw_public_key(pub, pk, &pklen) != 1 || pklen != sizeof(pk)) {
		pv_err_set_detail("not an Ed25519 public key");
		r = PV_ERR_KEY_TYPE;
		goto out;
	}
	if ((r = pv_solana_address(pk, addr)) != PV_OK)
		goto out;
	if ((s = json_str(root, "address")) == NULL || strcmp(s, addr) != 0) {
		r = bad("address is not the key's");
		goto out;
	}
	if (json_uint(root, "signer_index") != 0) {
		r = bad("signer_index is not 0");
		goto out;
	}
	if ((s = json_str(root, "transaction_b64")) == NULL ||
	    pv_b64_decode(s, strlen(s), got, sizeof(got), &n) != PV_OK || n != BENCH_SOL_TX_LEN ||
	    got[0] != tx[0] ||
	    memcmp(got + BENCH_SOL_MSG_OFF, tx + BENCH_SOL_MSG_OFF, BENCH_SOL_MSG_LEN) != 0) {
		r = bad("transaction_b64 is not the transaction sent");
		goto out;
	}
	if ((b58 = json_str(root, "signature_b58")) == NULL ||
	    pv_base58_decode(b58, strlen(b58), sig, sizeof(sig), &n) != PV_OK || n != 64 ||
	    memcmp(sig, got + 1, 64) != 0 || strlen(b58) >= sig_b58_size) {
		r = bad("signature_b58 is not the signature in slot 0");
		goto out;
	}
	/* RFC 8032 Ed25519 over the message bytes: OpenSSL, not our code */
	if ((md = EVP_MD_CTX_new()) == NULL || EVP_DigestVerifyInit(md, NULL, NULL, NULL, pub) != 1) {
		r = PV_ERR_CRYPTO;
		goto out;
	}
	if (EVP_DigestVerify(md, sig, 64, tx + BENCH_SOL_MSG_OFF, BENCH_SOL_MSG_LEN) != 1) {
		pv_err_set_detail("vaultd reply: the Ed25519 signature does not verify");
		r = PV_ERR_BAD_SIGNATURE;
		goto out;
	}
	memcpy(sig_b58, b58, strlen(b58) + 1);
	r = PV_OK;
out:
	EVP_MD_CTX_free(md);
	cJSON_Delete(root);
	return r;
}

/* "0x" and 1..64 hex digits, left-padded into 32 bytes. */
static int
parse_hex32(const char *s, uint8_t out[32])
{
	char pad[65];
	size_t n, len;

	if (s == NULL || strncmp(s, "0x", 2) != 0)
		return -1;
	s += 2;
	len = strlen(s);
	if (len == 0 || len > 64)
		return -1;
	memset(pad, '0', 64 - len);
	memcpy(pad + 64 - len, s, len);
	return pv_hex_decode(pad, 64, out, 32, &n) == PV_OK && n == 32 ? 0 : -1;
}

/* OpenSSL ECDSA verification of r||s over a 32-byte hash (no digest). */
static pv_err
ecdsa_verify(EVP_PKEY *pub, const uint8_t hash[32], const uint8_t rs[64])
{
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *s = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	unsigned char *der = NULL;
	int derlen, ok;
	pv_err ret = PV_ERR_CRYPTO;

	if ((es = ECDSA_SIG_new()) == NULL || (r = BN_bin2bn(rs, 32, NULL)) == NULL ||
	    (s = BN_bin2bn(rs + 32, 32, NULL)) == NULL || ECDSA_SIG_set0(es, r, s) != 1)
		goto out;
	r = s = NULL;
	if ((derlen = i2d_ECDSA_SIG(es, &der)) <= 0)
		goto out;
	if ((ctx = EVP_PKEY_CTX_new(pub, NULL)) == NULL || EVP_PKEY_verify_init(ctx) != 1)
		goto out;
	ok = EVP_PKEY_verify(ctx, der, (size_t)derlen, hash, 32);
	if (ok != 1) {
		pv_err_set_detail("vaultd reply: the ECDSA signature does not verify");
		ret = PV_ERR_BAD_SIGNATURE;
		goto out;
	}
	ret = PV_OK;
out:
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	OPENSSL_free(der);
	EVP_PKEY_CTX_free(ctx);
	return ret;
}

/* The signed form of the bench transaction: 0x02 || rlp([fields, y, r, s]). */
static pv_err
evm_signed(const uint8_t tx[BENCH_EVM_TX_LEN], int y, const uint8_t rs[64], pv_buf *out)
{
	const uint8_t *fields = tx + EVM_PAYLOAD_OFF;
	size_t flen = BENCH_EVM_TX_LEN - EVM_PAYLOAD_OFF, plen;
	pv_buf *tmp = NULL;
	pv_err r;

	if ((r = pv_buf_new(256, &tmp)) != PV_OK || (r = pv_buf_put(tmp, fields, flen)) != PV_OK ||
	    (r = pv_rlp_put_uint64(tmp, (uint64_t)y)) != PV_OK ||
	    (r = pv_rlp_put_uint256(tmp, rs)) != PV_OK || (r = pv_rlp_put_uint256(tmp, rs + 32)) != PV_OK)
		goto out;
	plen = pv_buf_len(tmp);
	if ((r = pv_buf_put_u8(out, 0x02)) != PV_OK || (r = pv_rlp_put_list_header(out, plen)) != PV_OK ||
	    (r = pv_buf_put(out, pv_buf_ptr(tmp), plen)) != PV_OK)
		goto out;
out:
	pv_buf_free(tmp);
	return r;
}

pv_err
bench_check_evm_reply(const char *body, size_t len, const uint8_t tx[BENCH_EVM_TX_LEN], EVP_PKEY *pub)
{
	uint8_t hash[32], rs[64], xy[PV_EVM_POINT_LEN], addr[PV_EVM_ADDR_LEN], got[256], th[32], want_th[32];
	char addr_text[PV_EVM_ADDR_STR_LEN + 1];
	const cJSON *sig;
	cJSON *root = NULL;
	pv_buf *want = NULL;
	const char *s;
	long long y;
	size_t n;
	int recid;
	pv_err r;

	if ((root = cJSON_ParseWithLength(body, len)) == NULL) {
		r = bad("not JSON");
		goto out;
	}
	if ((r = pv_evm_pubkey_point(pub, xy)) != PV_OK || (r = pv_evm_address(pub, addr)) != PV_OK)
		goto out;
	pv_evm_checksum(addr, addr_text);
	if ((s = json_str(root, "address")) == NULL || strcmp(s, addr_text) != 0) {
		r = bad("address is not the key's");
		goto out;
	}
	if (json_uint(root, "type") != 2 || json_uint(root, "chain_id") != BENCH_EVM_CHAIN_ID) {
		r = bad("type or chain_id is not the transaction's");
		goto out;
	}
	sig = cJSON_GetObjectItemCaseSensitive(root, "signature");
	if (!cJSON_IsObject(sig) || parse_hex32(json_str(sig, "r"), rs) != 0 ||
	    parse_hex32(json_str(sig, "s"), rs + 32) != 0) {
		r = bad("signature.r / signature.s missing or malformed");
		goto out;
	}
	y = json_uint(sig, "y_parity");
	if ((y != 0 && y != 1) || json_uint(sig, "v") != y) {
		r = bad("signature.y_parity / signature.v not 0 or 1 and equal");
		goto out;
	}
	if (memcmp(rs + 32, secp256k1_half_n, 32) > 0) {
		r = bad("signature.s is high");
		goto out;
	}
	pv_keccak256(tx, BENCH_EVM_TX_LEN, hash);
	if ((r = ecdsa_verify(pub, hash, rs)) != PV_OK)
		goto out;
	if ((r = pv_evm_recovery_id(hash, rs, xy, &recid)) != PV_OK)
		goto out;
	if (recid != (int)y) {
		r = bad("y_parity is not the recovery id");
		goto out;
	}
	if ((r = pv_buf_new(256, &want)) != PV_OK || (r = evm_signed(tx, recid, rs, want)) != PV_OK)
		goto out;
	if ((s = json_str(root, "raw_transaction")) == NULL || strncmp(s, "0x", 2) != 0 ||
	    pv_hex_decode(s + 2, strlen(s + 2), got, sizeof(got), &n) != PV_OK || n != pv_buf_len(want) ||
	    memcmp(got, pv_buf_ptr(want), n) != 0) {
		r = bad("raw_transaction is not the transaction with this signature");
		goto out;
	}
	pv_keccak256(got, n, want_th);
	if (parse_hex32(json_str(root, "tx_hash"), th) != 0 || strlen(json_str(root, "tx_hash")) != 66 ||
	    memcmp(th, want_th, 32) != 0) {
		r = bad("tx_hash is not the Keccak-256 of raw_transaction");
		goto out;
	}
	r = PV_OK;
out:
	pv_buf_free(want);
	cJSON_Delete(root);
	return r;
}
