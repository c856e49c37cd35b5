#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <secp256k1.h>

#include "core/b64.h"
#include "core/sigfmt.h"

/* SEQUENCE { INTEGER r, INTEGER s } for the largest field we know, with
 * room to spare; anything longer is not a signature we could produce. */
#define ECDSA_DER_MAX 160
#define FIELD_LEN_MAX 66

static const char *const fmt_names[] = {
    [PV_SIGFMT_RAW] = "raw",
    [PV_SIGFMT_DER] = "der",
    [PV_SIGFMT_JOSE] = "jose",
};

pv_err
pv_sigfmt_from_name(const char *name, pv_sigfmt *out)
{
	size_t i;

	*out = PV_SIGFMT_RAW;
	if (name != NULL) {
		for (i = 0; i < PV_NELEM(fmt_names); i++) {
			if (strcmp(fmt_names[i], name) == 0) {
				*out = (pv_sigfmt)i;
				return PV_OK;
			}
		}
	}
	pv_err_set_detail("unknown signature format \"%.32s\" (raw, der or jose)", name != NULL ? name : "");
	return PV_ERR_USAGE;
}

const char *
pv_sigfmt_name(pv_sigfmt fmt)
{
	if ((size_t)fmt < PV_NELEM(fmt_names))
		return fmt_names[fmt];
	return "unknown";
}

size_t
pv_sig_raw_len(pv_alg alg)
{
	const struct pv_alg_info *ai = pv_alg_info(alg);

	if (ai == NULL)
		return 0;
	switch (ai->family) {
	case PV_FAMILY_EC:
		return 2 * ai->field_len;
	case PV_FAMILY_EDDSA:
		return 64;
	case PV_FAMILY_RSA:
		return ai->bits / 8;
	case PV_FAMILY_HMAC:
		return 32;
	default:
		return 0;
	}
}

/* Each INTEGER: tag, one length byte (at most FIELD_LEN_MAX + 1 < 128
 * content bytes, a leading zero included), content; the SEQUENCE: tag and
 * up to two length bytes. */
_Static_assert(2 * (2 + FIELD_LEN_MAX + 1) + 3 <= PV_ECDSA_DER_MAX && FIELD_LEN_MAX + 1 < 128,
	       "PV_ECDSA_DER_MAX holds every ECDSA-Sig-Value");

pv_err
pv_ecdsa_raw_to_der_buf(const uint8_t *raw, size_t rawlen, size_t field_len, uint8_t *out, size_t cap,
			size_t *outlen)
{
	ECDSA_SIG *sig = NULL;
	BIGNUM *r = NULL, *s = NULL;
	unsigned char der[PV_ECDSA_DER_MAX], *p = der;
	int len;
	pv_err ret = PV_ERR_CRYPTO;

	*outlen = 0;
	if (field_len == 0 || field_len > FIELD_LEN_MAX)
		return PV_ERR_USAGE;
	if (raw == NULL || rawlen != 2 * field_len) {
		pv_err_set_detail("ECDSA signature must be %zu bytes, got %zu", 2 * field_len, rawlen);
		return PV_ERR_BAD_INPUT;
	}
	if ((r = BN_bin2bn(raw, (int)field_len, NULL)) == NULL ||
	    (s = BN_bin2bn(raw + field_len, (int)field_len, NULL)) == NULL)
		goto out;
	if (BN_is_zero(r) || BN_is_zero(s)) {
		pv_err_set_detail("ECDSA signature has r or s zero");
		ret = PV_ERR_BAD_INPUT;
		goto out;
	}
	if ((sig = ECDSA_SIG_new()) == NULL || ECDSA_SIG_set0(sig, r, s) != 1)
		goto out;
	r = s = NULL; /* owned by sig now */
	/* i2d writes without a bound: der holds the largest encoding (see
	 * the assertion below) */
	if ((len = i2d_ECDSA_SIG(sig, &p)) <= 0 || (size_t)len > sizeof(der))
		goto out;
	if ((size_t)len > cap) {
		pv_err_set_detail("ECDSA DER signature needs %d bytes, the buffer has %zu", len, cap);
		ret = PV_ERR_USAGE;
		goto out;
	}
	memcpy(out, der, (size_t)len);
	*outlen = (size_t)len;
	ret = PV_OK;
out:
	if (ret == PV_ERR_CRYPTO) {
		pv_err_set_detail("OpenSSL could not encode the ECDSA signature");
		ERR_clear_error();
	}
	ECDSA_SIG_free(sig);
	BN_free(r);
	BN_free(s);
	return ret;
}

pv_err
pv_ecdsa_raw_to_der(const uint8_t *raw, size_t rawlen, size_t field_len, uint8_t **der, size_t *derlen)
{
	uint8_t buf[PV_ECDSA_DER_MAX], *copy = NULL;
	size_t len = 0;
	pv_err ret;

	*der = NULL;
	*derlen = 0;
	if ((ret = pv_ecdsa_raw_to_der_buf(raw, rawlen, field_len, buf, sizeof(buf), &len)) != PV_OK)
		return ret;
	if ((copy = malloc(len)) == NULL)
		return PV_ERR_NOMEM;
	memcpy(copy, buf, len);
	*der = copy;
	*derlen = len;
	return PV_OK;
}

static int
bn_in_range(const BIGNUM *v, size_t field_len)
{
	return !BN_is_zero(v) && !BN_is_negative(v) && (size_t)BN_num_bytes(v) <= field_len;
}

pv_err
pv_ecdsa_der_to_raw(const uint8_t *der, size_t derlen, size_t field_len, uint8_t *raw, size_t *rawlen)
{
	ECDSA_SIG *sig = NULL;
	const unsigned char *p = der;
	unsigned char *again = NULL;
	const BIGNUM *r = NULL, *s = NULL;
	int len;
	pv_err ret = PV_ERR_BAD_INPUT;

	*rawlen = 0;
	if (field_len == 0 || field_len > FIELD_LEN_MAX)
		return PV_ERR_USAGE;
	if (der == NULL || derlen == 0 || derlen > ECDSA_DER_MAX)
		goto out;
	if ((sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen)) == NULL)
		goto out;
	if ((size_t)(p - der) != derlen)
		goto out; /* trailing bytes */
	/* OpenSSL's decoder tolerates some non-DER (BER) forms; only the one
	 * canonical encoding is a valid signature for us */
	len = i2d_ECDSA_SIG(sig, &again);
	if (len <= 0 || (size_t)len != derlen || memcmp(again, der, derlen) != 0)
		goto out;
	ECDSA_SIG_get0(sig, &r, &s);
	if (!bn_in_range(r, field_len) || !bn_in_range(s, field_len))
		goto out;
	if (BN_bn2binpad(r, raw, (int)field_len) < 0 ||
	    BN_bn2binpad(s, raw + field_len, (int)field_len) < 0) {
		ret = PV_ERR_CRYPTO;
		goto out;
	}
	*rawlen = 2 * field_len;
	ret = PV_OK;
out:
	if (ret == PV_ERR_BAD_INPUT)
		pv_err_set_detail("malformed DER ECDSA signature");
	ERR_clear_error();
	OPENSSL_free(again);
	ECDSA_SIG_free(sig);
	return ret;
}

/* One verification-only context for the process (immutable once made, so
 * safe to share between threads). */
static pthread_once_t k1_once = PTHREAD_ONCE_INIT;
static secp256k1_context *k1_ctx;

static void
k1_init(void)
{
	k1_ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
}

pv_err
pv_secp256k1_low_s(uint8_t rs[64], int *flipped)
{
	secp256k1_ecdsa_signature sig, norm;

	if (flipped != NULL)
		*flipped = 0;
	if (pthread_once(&k1_once, k1_init) != 0 || k1_ctx == NULL) {
		pv_err_set_detail("libsecp256k1 context creation failed");
		return PV_ERR_CRYPTO;
	}
	if (!secp256k1_ecdsa_signature_parse_compact(k1_ctx, &sig, rs)) {
		pv_err_set_detail("secp256k1 signature r or s is not below the group order");
		return PV_ERR_BAD_INPUT;
	}
	if (secp256k1_ecdsa_signature_normalize(k1_ctx, &norm, &sig)) {
		if (!secp256k1_ecdsa_signature_serialize_compact(k1_ctx, rs, &norm))
			return PV_ERR_CRYPTO;
		if (flipped != NULL)
			*flipped = 1;
	}
	return PV_OK;
}

static int
is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int
all_zero(const uint8_t *p, size_t len)
{
	uint8_t acc = 0;
	size_t i;

	for (i = 0; i < len; i++)
		acc |= p[i];
	return acc == 0;
}

static pv_err
wrong_length(const struct pv_alg_info *ai, size_t need)
{
	pv_err_set_detail("a %s signature is %zu bytes", ai->name, need);
	return PV_ERR_BAD_INPUT;
}

pv_err
pv_sig_parse(pv_sigfmt fmt, const uint8_t *in, size_t inlen, pv_alg alg, uint8_t *raw, size_t rawmax,
	     size_t *rawlen)
{
	const struct pv_alg_info *ai = pv_alg_info(alg);
	size_t need = pv_sig_raw_len(alg), n = 0;
	pv_err r;

	*rawlen = 0;
	if (ai == NULL || need == 0) {
		pv_err_set_detail("algorithm %s has no signatures", ai != NULL ? ai->name : "none");
		return PV_ERR_KEY_TYPE;
	}
	if (raw == NULL || rawmax < need || (in == NULL && inlen != 0))
		return PV_ERR_USAGE;
	switch (fmt) {
	case PV_SIGFMT_RAW:
		if (inlen != need)
			return wrong_length(ai, need);
		memcpy(raw, in, need);
		n = need;
		break;
	case PV_SIGFMT_DER:
		if (ai->family != PV_FAMILY_EC) {
			pv_err_set_detail("DER signatures exist only for ECDSA keys, not %s", ai->name);
			return PV_ERR_USAGE;
		}
		if ((r = pv_ecdsa_der_to_raw(in, inlen, ai->field_len, raw, &n)) != PV_OK)
			return r;
		break;
	case PV_SIGFMT_JOSE:
		while (inlen > 0 && is_space(in[inlen - 1]))
			inlen--;
		r = pv_b64url_decode((const char *)in, inlen, raw, need, &n);
		if (r == PV_ERR_TOO_LARGE || (r == PV_OK && n != need))
			return wrong_length(ai, need);
		if (r != PV_OK) {
			pv_err_set_detail("JOSE signature is not unpadded base64url");
			return PV_ERR_BAD_INPUT;
		}
		break;
	default:
		return PV_ERR_USAGE;
	}
	/* the same rule for every format: DER refuses zero integers too */
	if (ai->family == PV_FAMILY_EC &&
	    (all_zero(raw, ai->field_len) || all_zero(raw + ai->field_len, ai->field_len))) {
		pv_err_set_detail("ECDSA signature has r or s zero");
		return PV_ERR_BAD_INPUT;
	}
	*rawlen = n;
	return PV_OK;
}

pv_err
pv_sig_encode(pv_sigfmt fmt, pv_alg alg, const uint8_t *raw, size_t rawlen, uint8_t **out, size_t *outlen)
{
	const struct pv_alg_info *ai = pv_alg_info(alg);
	size_t need = pv_sig_raw_len(alg);
	uint8_t sig[PV_SIG_MAX_RAW];
	uint8_t *copy = NULL;
	char *text = NULL;
	pv_err r;

	*out = NULL;
	*outlen = 0;
	if (ai == NULL || need == 0) {
		pv_err_set_detail("algorithm %s has no signatures", ai != NULL ? ai->name : "none");
		return PV_ERR_KEY_TYPE;
	}
	if (raw == NULL || rawlen != need || need > sizeof(sig)) {
		pv_err_set_detail("a %s signature is %zu bytes, got %zu", ai->name, need, rawlen);
		return PV_ERR_BAD_INPUT;
	}
	memcpy(sig, raw, need);
	if (alg == PV_ALG_SECP256K1 && (r = pv_secp256k1_low_s(sig, NULL)) != PV_OK)
		return r;
	switch (fmt) {
	case PV_SIGFMT_RAW:
		if ((copy = malloc(need)) == NULL)
			return PV_ERR_NOMEM;
		memcpy(copy, sig, need);
		*out = copy;
		*outlen = need;
		return PV_OK;
	case PV_SIGFMT_DER:
		if (ai->family != PV_FAMILY_EC) {
			pv_err_set_detail("DER signatures exist only for ECDSA keys, not %s", ai->name);
			return PV_ERR_USAGE;
		}
		return pv_ecdsa_raw_to_der(sig, need, ai->field_len, out, outlen);
	case PV_SIGFMT_JOSE:
		if ((r = pv_b64url_encode(sig, need, &text)) != PV_OK)
			return r;
		*outlen = strlen(text);
		*out = (uint8_t *)text;
		return PV_OK;
	default:
		return PV_ERR_USAGE;
	}
}
