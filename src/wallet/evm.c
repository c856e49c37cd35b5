#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <sodium.h>

#include "base/buf.h"
#include "core/alg.h"
#include "core/b64.h"
#include "core/keccak.h"
#include "core/pubkey.h"
#include "wallet/evm.h"

#define HEX_DIGITS (2 * PV_EVM_ADDR_LEN)
#define SEC1_MAX   65 /* 0x04 || X || Y */
#define PERSONAL_MAGIC                                                                                       \
	"\x19"                                                                                               \
	"Ethereum Signed Message:\n"

/* One context for the process: recovery and parsing only read it, so it is
 * safe to share between threads once made. */
static pthread_once_t k1_once = PTHREAD_ONCE_INIT;
static secp256k1_context *k1_ctx;

static void
k1_init(void)
{
	k1_ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
}

static pv_err
k1_get(const secp256k1_context **ctx)
{
	if (pthread_once(&k1_once, k1_init) != 0 || k1_ctx == NULL) {
		pv_err_set_detail("libsecp256k1 context creation failed");
		return PV_ERR_CRYPTO;
	}
	*ctx = k1_ctx;
	return PV_OK;
}

/* A SEC1 point (compressed or not) to X||Y, checking it is on the curve. */
static pv_err
sec1_to_xy(const uint8_t *sec1, size_t len, uint8_t xy[PV_EVM_POINT_LEN])
{
	const secp256k1_context *ctx = NULL;
	secp256k1_pubkey pub;
	uint8_t full[SEC1_MAX];
	size_t fulllen = sizeof(full);
	pv_err r;

	if ((r = k1_get(&ctx)) != PV_OK)
		return r;
	if (!secp256k1_ec_pubkey_parse(ctx, &pub, sec1, len)) {
		pv_err_set_detail("not a point on secp256k1");
		return PV_ERR_BAD_INPUT;
	}
	if (!secp256k1_ec_pubkey_serialize(ctx, full, &fulllen, &pub, SECP256K1_EC_UNCOMPRESSED) ||
	    fulllen != SEC1_MAX)
		return PV_ERR_CRYPTO;
	memcpy(xy, full + 1, PV_EVM_POINT_LEN);
	return PV_OK;
}

pv_err
pv_evm_pubkey_point(const EVP_PKEY *pub, uint8_t xy[PV_EVM_POINT_LEN])
{
	uint8_t sec1[SEC1_MAX];
	size_t len = 0;

	if (pv_pubkey_alg(pub) != PV_ALG_SECP256K1) {
		pv_err_set_detail("EVM addresses need a secp256k1 key");
		return PV_ERR_KEY_TYPE;
	}
	if (EVP_PKEY_get_octet_string_param(pub, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, sec1, sizeof(sec1),
					    &len) != 1) {
		ERR_clear_error();
		pv_err_set_detail("OpenSSL could not export the secp256k1 public key");
		return PV_ERR_CRYPTO;
	}
	return sec1_to_xy(sec1, len, xy);
}

static void
address_of_xy(const uint8_t xy[PV_EVM_POINT_LEN], uint8_t addr[PV_EVM_ADDR_LEN])
{
	uint8_t h[PV_KECCAK256_LEN];

	pv_keccak256(xy, PV_EVM_POINT_LEN, h);
	memcpy(addr, h + sizeof(h) - PV_EVM_ADDR_LEN, PV_EVM_ADDR_LEN);
}

pv_err
pv_evm_address(const EVP_PKEY *pub, uint8_t addr[PV_EVM_ADDR_LEN])
{
	uint8_t xy[PV_EVM_POINT_LEN];
	pv_err r;

	if ((r = pv_evm_pubkey_point(pub, xy)) != PV_OK)
		return r;
	address_of_xy(xy, addr);
	return PV_OK;
}

pv_err
pv_evm_address_from_point(const uint8_t xy[PV_EVM_POINT_LEN], uint8_t addr[PV_EVM_ADDR_LEN])
{
	uint8_t sec1[SEC1_MAX], checked[PV_EVM_POINT_LEN];
	pv_err r;

	sec1[0] = 0x04;
	memcpy(sec1 + 1, xy, PV_EVM_POINT_LEN);
	if ((r = sec1_to_xy(sec1, sizeof(sec1), checked)) != PV_OK)
		return r;
	address_of_xy(checked, addr);
	return PV_OK;
}

void
pv_evm_checksum(const uint8_t addr[PV_EVM_ADDR_LEN], char out[PV_EVM_ADDR_STR_LEN + 1])
{
	uint8_t h[PV_KECCAK256_LEN], nibble;
	char *hex = out + 2;
	size_t i;

	out[0] = '0';
	out[1] = 'x';
	sodium_bin2hex(hex, HEX_DIGITS + 1, addr, PV_EVM_ADDR_LEN);
	/* EIP-55: hash the lower-case hex text; digit i of it is upper-cased
	 * when nibble i of the hash is 8 or more */
	pv_keccak256((const uint8_t *)hex, HEX_DIGITS, h);
	for (i = 0; i < HEX_DIGITS; i++) {
		nibble = (i % 2 == 0) ? (uint8_t)(h[i / 2] >> 4) : (uint8_t)(h[i / 2] & 0x0f);
		if (hex[i] >= 'a' && hex[i] <= 'f' && nibble >= 8)
			hex[i] = (char)(hex[i] - 'a' + 'A');
	}
}

pv_err
pv_evm_address_parse(const char *s, uint8_t addr[PV_EVM_ADDR_LEN])
{
	char want[PV_EVM_ADDR_STR_LEN + 1];
	uint8_t tmp[PV_EVM_ADDR_LEN];
	const uint8_t *prefix = NULL, *digits = NULL;
	const char *end = NULL;
	pv_buf *b = NULL;
	size_t binlen = 0, i;
	int lower = 0, upper = 0;
	pv_err r;

	memset(addr, 0, PV_EVM_ADDR_LEN);
	if (s == NULL)
		return PV_ERR_USAGE;
	/* one byte past the longest valid text is enough to see it is too long */
	if ((r = pv_buf_view(s, strnlen(s, PV_EVM_ADDR_STR_LEN + 1), &b)) != PV_OK)
		goto out;
	r = PV_ERR_BAD_INPUT;
	if (pv_buf_len(b) != PV_EVM_ADDR_STR_LEN || pv_buf_get_ref(b, 2, &prefix) != PV_OK ||
	    memcmp(prefix, "0x", 2) != 0 || pv_buf_get_ref(b, HEX_DIGITS, &digits) != PV_OK) {
		pv_err_set_detail("an EVM address is 0x and 40 hex digits");
		goto out;
	}
	if (sodium_hex2bin(tmp, sizeof(tmp), (const char *)digits, HEX_DIGITS, NULL, &binlen, &end) != 0 ||
	    binlen != PV_EVM_ADDR_LEN || end != (const char *)digits + HEX_DIGITS) {
		pv_err_set_detail("an EVM address is 0x and 40 hex digits");
		goto out;
	}
	for (i = 0; i < HEX_DIGITS; i++) {
		lower |= digits[i] >= 'a' && digits[i] <= 'f';
		upper |= digits[i] >= 'A' && digits[i] <= 'F';
	}
	if (lower && upper) {
		pv_evm_checksum(tmp, want);
		if (memcmp(want + 2, digits, HEX_DIGITS) != 0) {
			pv_err_set_detail("bad EIP-55 checksum");
			goto out;
		}
	}
	memcpy(addr, tmp, PV_EVM_ADDR_LEN);
	r = PV_OK;
out:
	pv_buf_free(b);
	return r;
}

pv_err
pv_evm_personal_hash(const uint8_t *msg, size_t len, uint8_t hash[32])
{
	pv_keccak_ctx ctx;
	char dec[24]; /* SIZE_MAX in decimal is at most 20 digits */
	int n;

	if (msg == NULL && len != 0)
		return PV_ERR_USAGE;
	n = snprintf(dec, sizeof(dec), "%zu", len);
	if (n <= 0 || (size_t)n >= sizeof(dec))
		return PV_ERR_INTERNAL;
	pv_keccak256_init(&ctx, PV_KECCAK_PAD_KECCAK);
	pv_keccak256_update(&ctx, (const uint8_t *)PERSONAL_MAGIC, strlen(PERSONAL_MAGIC));
	pv_keccak256_update(&ctx, (const uint8_t *)dec, (size_t)n);
	if (len > 0)
		pv_keccak256_update(&ctx, msg, len);
	pv_keccak256_final(&ctx, hash);
	return PV_OK;
}

pv_err
pv_evm_recovery_id(const uint8_t hash[32], const uint8_t rs[64], const uint8_t xy[PV_EVM_POINT_LEN], int *v)
{
	const secp256k1_context *ctx = NULL;
	secp256k1_ecdsa_signature sig, norm;
	secp256k1_ecdsa_recoverable_signature rsig;
	secp256k1_pubkey pub;
	uint8_t sec1[SEC1_MAX];
	size_t len;
	int recid;
	pv_err r;

	*v = -1;
	if ((r = k1_get(&ctx)) != PV_OK)
		return r;
	if (!secp256k1_ecdsa_signature_parse_compact(ctx, &sig, rs)) {
		pv_err_set_detail("secp256k1 signature r or s is not below the group order");
		return PV_ERR_BAD_INPUT;
	}
	/* the id of a high-S signature is the other one of its low-S twin:
	 * normalising after this call would silently break v */
	if (secp256k1_ecdsa_signature_normalize(ctx, &norm, &sig)) {
		pv_err_set_detail("secp256k1 signature is not low-S");
		return PV_ERR_BAD_INPUT;
	}
	/* ids 2 and 3 (r >= p - n) occur with probability about 2^-127 and
	 * Ethereum's v cannot express them */
	for (recid = 0; recid <= 1; recid++) {
		len = sizeof(sec1);
		if (!secp256k1_ecdsa_recoverable_signature_parse_compact(ctx, &rsig, rs, recid))
			return PV_ERR_CRYPTO;
		if (!secp256k1_ecdsa_recover(ctx, &pub, &rsig, hash))
			continue; /* no point with this id */
		if (!secp256k1_ec_pubkey_serialize(ctx, sec1, &len, &pub, SECP256K1_EC_UNCOMPRESSED) ||
		    len != SEC1_MAX)
			return PV_ERR_CRYPTO;
		if (memcmp(sec1 + 1, xy, PV_EVM_POINT_LEN) == 0) {
			*v = recid;
			return PV_OK;
		}
	}
	pv_err_set_detail("signature does not recover to this key");
	return PV_ERR_INTEGRITY;
}

pv_err
pv_hex0x_decode(const char *text, size_t len, uint8_t *out, size_t max, size_t *outlen)
{
	pv_err r;

	*outlen = 0;
	if (text == NULL || len < 2 || text[0] != '0' || text[1] != 'x') {
		pv_err_set_detail("does not start with 0x");
		return PV_ERR_BAD_INPUT;
	}
	if ((len - 2) / 2 > max) {
		pv_err_set_detail("over %zu bytes", max);
		return PV_ERR_TOO_LARGE;
	}
	if ((r = pv_hex_decode(text + 2, len - 2, out, max, outlen)) != PV_OK) {
		*outlen = 0;
		pv_err_set_detail("not hex (0x and an even number of hex digits)");
		return r == PV_ERR_TOO_LARGE ? r : PV_ERR_BAD_INPUT;
	}
	return PV_OK;
}

pv_err
pv_hex0x_encode(const uint8_t *in, size_t len, char **out)
{
	char *s = NULL;

	*out = NULL;
	if (in == NULL && len != 0)
		return PV_ERR_USAGE;
	if (len > PV_BUF_SIZE_MAX / 2 || (s = malloc(2 * len + 3)) == NULL)
		return PV_ERR_NOMEM;
	s[0] = '0';
	s[1] = 'x';
	sodium_bin2hex(s + 2, 2 * len + 1, in, len);
	*out = s;
	return PV_OK;
}
