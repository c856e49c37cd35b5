#include "config.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <secp256k1.h>
#include <sodium.h>

#include "base/buf.h"
#include "wallet/legacykey.h"
#include "core/alg.h"
#include "core/pubkey.h"
#include "wallet/base58.h"
#include "wallet/evm.h"
#include "wallet/wallet.h"

#define SOLANA_KEYPAIR_LEN 64
#define SEED_LEN           32
#define EVM_KEY_LEN        32

static int
is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The text between surrounding whitespace (a view into t). */
static void
trim(const uint8_t *t, size_t len, const uint8_t **p, size_t *n)
{
	while (len > 0 && is_space(t[0])) {
		t++;
		len--;
	}
	while (len > 0 && is_space(t[len - 1]))
		len--;
	*p = t;
	*n = len;
}

static pv_err
bad(const char *what)
{
	pv_err_set_detail("%s", what);
	return PV_ERR_BAD_INPUT;
}

static void
skip_space(pv_buf *b)
{
	uint8_t c;

	while (pv_buf_peek_u8(b, &c) == PV_OK && is_space(c) && pv_buf_consume(b, 1) == PV_OK) {
	}
}

/*
 * [n0, n1, ..., n63] with each n a decimal 0..255 without leading zeros.
 * Hand-read rather than with cJSON so that no number is ever stored outside
 * guarded memory (cJSON keeps every value on the ordinary heap).
 */
static pv_err
parse_keypair_json(const uint8_t *t, size_t len, uint8_t out[SOLANA_KEYPAIR_LEN])
{
	pv_buf *b = NULL;
	unsigned v;
	size_t i, digits;
	uint8_t c = 0;
	pv_err r;

	if ((r = pv_buf_view(t, len, &b)) != PV_OK)
		return r;
	r = PV_ERR_BAD_INPUT;
	if (pv_buf_get_u8(b, &c) != PV_OK || c != '[') {
		bad("solana-keypair: not a JSON array (Solana CLI id.json: [64 numbers])");
		goto out;
	}
	for (i = 0; i < SOLANA_KEYPAIR_LEN; i++) {
		skip_space(b);
		for (v = 0, digits = 0; pv_buf_peek_u8(b, &c) == PV_OK && c >= '0' && c <= '9'; digits++) {
			if ((digits == 1 && v == 0) || (v = v * 10 + (unsigned)(c - '0')) > 255) {
				pv_err_set_detail("solana-keypair: element %zu is not an integer 0..255", i);
				goto out;
			}
			if (pv_buf_consume(b, 1) != PV_OK)
				goto out;
		}
		if (digits == 0) {
			pv_err_set_detail("solana-keypair: element %zu is not an integer 0..255", i);
			goto out;
		}
		out[i] = (uint8_t)v;
		skip_space(b);
		if (pv_buf_get_u8(b, &c) != PV_OK || c != (i + 1 < SOLANA_KEYPAIR_LEN ? ',' : ']')) {
			pv_err_set_detail("solana-keypair: %s after element %zu (want exactly 64 numbers)",
					  c == ']' ? "']'" : "unexpected text", i);
			goto out;
		}
	}
	if (pv_buf_len(b) != 0) {
		bad("solana-keypair: text after the array");
		goto out;
	}
	r = PV_OK;
out:
	v = 0;
	c = 0;
	pv_buf_free(b);
	return r;
}

/* seed||pub to an Ed25519 key whose public key must be pub. */
static pv_err
solana_key(const uint8_t kp[SOLANA_KEYPAIR_LEN], EVP_PKEY **out)
{
	EVP_PKEY *pk = NULL;
	uint8_t pub[32];
	size_t publen = sizeof(pub);
	pv_err r;

	if ((pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, kp, SEED_LEN)) == NULL ||
	    EVP_PKEY_get_raw_public_key(pk, pub, &publen) != 1 || publen != sizeof(pub)) {
		ERR_clear_error();
		pv_err_set_detail("OpenSSL could not make the Ed25519 key");
		r = PV_ERR_CRYPTO;
		goto out;
	}
	if (memcmp(pub, kp + SEED_LEN, sizeof(pub)) != 0) { /* public: two public keys */
		r = bad("the keypair's public half is not the public key of its seed (a damaged or "
			"hand-edited keypair file)");
		goto out;
	}
	*out = pk;
	pk = NULL;
	r = PV_OK;
out:
	EVP_PKEY_free(pk);
	return r;
}

/* 32 big-endian bytes to a secp256k1 key (0 < d < n checked by libsecp256k1). */
static pv_err
evm_key(const uint8_t d[EVM_KEY_LEN], EVP_PKEY **out)
{
	secp256k1_context *ctx = NULL;
	secp256k1_pubkey pub;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	EVP_PKEY *pk = NULL;
	BIGNUM *bn = NULL;
	uint8_t point[65];
	size_t plen = sizeof(point);
	pv_err r = PV_ERR_CRYPTO;

	*out = NULL;
	if ((ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE)) == NULL)
		goto out;
	if (!secp256k1_ec_seckey_verify(ctx, d)) {
		r = bad("evm-hex: the key is 0 or not below the secp256k1 group order");
		goto out;
	}
	if (!secp256k1_ec_pubkey_create(ctx, &pub, d) ||
	    !secp256k1_ec_pubkey_serialize(ctx, point, &plen, &pub, SECP256K1_EC_UNCOMPRESSED) ||
	    plen != sizeof(point))
		goto out;
	/* a secure BIGNUM: OpenSSL clears it on free */
	if ((bn = BN_secure_new()) == NULL || BN_bin2bn(d, EVM_KEY_LEN, bn) == NULL ||
	    (bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "secp256k1", 0) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bn) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, plen) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(pctx) != 1 ||
	    EVP_PKEY_fromdata(pctx, &pk, EVP_PKEY_KEYPAIR, params) != 1) {
		pv_err_set_detail("OpenSSL could not make the secp256k1 key");
		goto out;
	}
	*out = pk;
	pk = NULL;
	r = PV_OK;
out:
	ERR_clear_error();
	EVP_PKEY_free(pk);
	EVP_PKEY_CTX_free(pctx);
	OSSL_PARAM_free(params); /* the private key param is in secure memory */
	OSSL_PARAM_BLD_free(bld);
	BN_clear_free(bn);
	secp256k1_context_destroy(ctx);
	return r;
}

pv_err
pv_legacy_key_decode(enum pv_legacy_format f, pv_secret *text, EVP_PKEY **out)
{
	pv_secret *raw = NULL;
	const uint8_t *t;
	size_t len = 0, n = 0;
	pv_err r;

	*out = NULL;
	if (text == NULL)
		return PV_ERR_USAGE;
	if (pv_secret_len(text) > PV_LEGACY_TEXT_MAX) {
		pv_err_set_detail("the key file is larger than %d bytes", PV_LEGACY_TEXT_MAX);
		return PV_ERR_TOO_LARGE;
	}
	if ((r = pv_secret_new(SOLANA_KEYPAIR_LEN, &raw)) != PV_OK)
		goto out;
	trim(pv_secret_ro(text), pv_secret_len(text), &t, &len);
	switch (f) {
	case PV_LEGACY_SOLANA_KEYPAIR:
		if ((r = parse_keypair_json(t, len, pv_secret_rw(raw))) != PV_OK)
			goto out;
		r = solana_key(pv_secret_ro(raw), out);
		break;
	case PV_LEGACY_SOLANA_BASE58:
		r = pv_base58_decode((const char *)t, len, pv_secret_rw(raw), SOLANA_KEYPAIR_LEN, &n);
		if (r != PV_OK || n != SOLANA_KEYPAIR_LEN) {
			/* the decoder's detail may quote a character of the key: not kept */
			r = bad("solana-base58: not the base58 text of a 64-byte Solana keypair");
			goto out;
		}
		r = solana_key(pv_secret_ro(raw), out);
		break;
	case PV_LEGACY_EVM_HEX:
		if (len >= 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) {
			t += 2;
			len -= 2;
		}
		if (len != 2 * EVM_KEY_LEN ||
		    sodium_hex2bin(pv_secret_rw(raw), EVM_KEY_LEN, (const char *)t, len, NULL, &n, NULL) !=
			0 ||
		    n != EVM_KEY_LEN) {
			r = bad("evm-hex: not 64 hex digits (a 32-byte private key, optional 0x)");
			goto out;
		}
		r = evm_key(pv_secret_ro(raw), out);
		break;
	default:
		r = PV_ERR_USAGE;
		break;
	}
out:
	pv_secret_lock(text);
	pv_secret_free(raw);
	return r;
}

pv_err
pv_legacy_key_address(EVP_PKEY *pk, char out[PV_LEGACY_ADDRESS_SIZE], const char **chain)
{
	pv_chain c;
	pv_err r;

	out[0] = '\0';
	switch (pv_pubkey_alg(pk)) {
	case PV_ALG_ED25519:
		c = PV_CHAIN_SOLANA;
		break;
	case PV_ALG_SECP256K1:
		c = PV_CHAIN_EVM;
		break;
	default:
		return PV_ERR_KEY_TYPE;
	}
	if ((r = pv_wallet_pub_address(c, pk, out)) != PV_OK) {
		ERR_clear_error();
		return r;
	}
	*chain = pv_chain_name(c);
	return PV_OK;
}
