/*
 * ASYM_CIPHER for RSA (issue 16): OAEP decryption with a token key of
 * purpose decrypt, through p11v_backend_decrypt; encryption, which needs
 * only the public key, in software in the provider's library context.
 * PKCS#1 v1.5 decryption is refused (padding oracles); a size query (no
 * output buffer) never reaches the token.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rsa.h>

#include "base/defs.h"
#include "provider/provider.h"

struct acctx {
	p11v_prov *p;
	p11v_key *k;
	int decrypt;         /* the operation initialised: 1 decrypt, 0 encrypt */
	int pad;             /* RSA_PKCS1_PADDING (OpenSSL's default) or RSA_PKCS1_OAEP_PADDING */
	const char *oaep_md; /* canonical names (static strings) */
	const char *mgf1_md; /* NULL: the same as oaep_md */
	unsigned char *label;
	size_t labellen;
};

/* The canonical name of an OAEP / MGF1 digest the token takes, or NULL. */
static const char *
oaep_digest(struct acctx *c, const char *name)
{
	static const char *const names[][2] = {
	    {"SHA1", "SHA1"},       {"SHA224", "SHA2-224"}, {"SHA256", "SHA2-256"},
	    {"SHA384", "SHA2-384"}, {"SHA512", "SHA2-512"},
	};
	const char *found = NULL;
	EVP_MD *md;
	size_t i;

	md = name != NULL ? EVP_MD_fetch(p11v_libctx(c->p), name, NULL) : NULL;
	for (i = 0; md != NULL && found == NULL && i < PV_NELEM(names); i++)
		if (EVP_MD_is_a(md, names[i][1]))
			found = names[i][0];
	EVP_MD_free(md);
	if (found == NULL)
		p11v_raise(c->p, P11V_R_UNSUPPORTED, "OAEP digest %s is not supported",
			   name != NULL ? name : "(none)");
	return found;
}

static void *
ac_newctx(void *provctx)
{
	struct acctx *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		p11v_raise(provctx, P11V_R_INTERNAL, "out of memory");
		return NULL;
	}
	c->p = provctx;
	c->pad = RSA_PKCS1_PADDING;
	c->oaep_md = "SHA1";
	return c;
}

static void
ac_freectx(void *ctx)
{
	struct acctx *c = ctx;

	if (c == NULL)
		return;
	p11v_key_free(c->k);
	OPENSSL_free(c->label);
	free(c);
}

static void *
ac_dupctx(void *ctx)
{
	struct acctx *src = ctx, *c;

	c = malloc(sizeof(*c));
	if (c == NULL) {
		p11v_raise(src->p, P11V_R_INTERNAL, "out of memory");
		return NULL;
	}
	*c = *src;
	c->label = NULL;
	if (src->label != NULL && (c->label = OPENSSL_memdup(src->label, src->labellen)) == NULL) {
		free(c);
		p11v_raise(src->p, P11V_R_INTERNAL, "out of memory");
		return NULL;
	}
	if (c->k != NULL)
		p11v_key_up_ref(c->k);
	return c;
}

static int
ac_set_ctx_params(void *ctx, const OSSL_PARAM params[])
{
	struct acctx *c = ctx;
	const OSSL_PARAM *p;
	const char *s = NULL;
	int pad = c->pad;

	if (params == NULL)
		return 1;
	if ((p = OSSL_PARAM_locate_const(params, OSSL_ASYM_CIPHER_PARAM_PAD_MODE)) != NULL) {
		if (p->data_type == OSSL_PARAM_INTEGER) {
			if (!OSSL_PARAM_get_int(p, &pad))
				return 0;
		} else if (OSSL_PARAM_get_utf8_string_ptr(p, &s)) {
			pad = strcmp(s, OSSL_PKEY_RSA_PAD_MODE_OAEP) == 0      ? RSA_PKCS1_OAEP_PADDING
			      : strcmp(s, OSSL_PKEY_RSA_PAD_MODE_PKCSV15) == 0 ? RSA_PKCS1_PADDING
									       : -1;
		} else {
			return 0;
		}
		if (pad != RSA_PKCS1_OAEP_PADDING && pad != RSA_PKCS1_PADDING) {
			p11v_raise(c->p, P11V_R_UNSUPPORTED,
				   "RSA encryption takes pad mode oaep (or pkcs1 to encrypt)");
			return 0;
		}
		c->pad = pad;
	}
	if ((p = OSSL_PARAM_locate_const(params, OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST)) != NULL) {
		if (!OSSL_PARAM_get_utf8_string_ptr(p, &s) || (s = oaep_digest(c, s)) == NULL)
			return 0;
		c->oaep_md = s;
	}
	if ((p = OSSL_PARAM_locate_const(params, OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST)) != NULL) {
		if (!OSSL_PARAM_get_utf8_string_ptr(p, &s) || (s = oaep_digest(c, s)) == NULL)
			return 0;
		c->mgf1_md = s;
	}
	if ((p = OSSL_PARAM_locate_const(params, OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL)) != NULL) {
		void *label = NULL;
		size_t len = 0;

		if (!OSSL_PARAM_get_octet_string(p, &label, 0, &len))
			return 0;
		OPENSSL_free(c->label);
		c->label = label;
		c->labellen = len;
	}
	return 1;
}

static const OSSL_PARAM *
ac_settable_ctx_params(void *ctx, void *provctx)
{
	static const OSSL_PARAM settable[] = {
	    OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_PAD_MODE, NULL, 0),
	    OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST, NULL, 0),
	    OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST, NULL, 0),
	    OSSL_PARAM_octet_string(OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL, NULL, 0),
	    OSSL_PARAM_END,
	};

	(void)ctx;
	(void)provctx;
	return settable;
}

static int
ac_get_ctx_params(void *ctx, OSSL_PARAM params[])
{
	struct acctx *c = ctx;
	OSSL_PARAM *p;

	if ((p = OSSL_PARAM_locate(params, OSSL_ASYM_CIPHER_PARAM_PAD_MODE)) != NULL) {
		int ok = p->data_type == OSSL_PARAM_INTEGER
			     ? OSSL_PARAM_set_int(p, c->pad)
			     : OSSL_PARAM_set_utf8_string(p, c->pad == RSA_PKCS1_OAEP_PADDING
								 ? OSSL_PKEY_RSA_PAD_MODE_OAEP
								 : OSSL_PKEY_RSA_PAD_MODE_PKCSV15);
		if (!ok)
			return 0;
	}
	if ((p = OSSL_PARAM_locate(params, OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST)) != NULL &&
	    !OSSL_PARAM_set_utf8_string(p, c->oaep_md))
		return 0;
	if ((p = OSSL_PARAM_locate(params, OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST)) != NULL &&
	    !OSSL_PARAM_set_utf8_string(p, c->mgf1_md != NULL ? c->mgf1_md : c->oaep_md))
		return 0;
	if ((p = OSSL_PARAM_locate(params, OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL)) != NULL &&
	    !OSSL_PARAM_set_octet_ptr(p, c->label, c->labellen))
		return 0;
	return 1;
}

static const OSSL_PARAM *
ac_gettable_ctx_params(void *ctx, void *provctx)
{
	static const OSSL_PARAM gettable[] = {
	    OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_PAD_MODE, NULL, 0),
	    OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST, NULL, 0),
	    OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST, NULL, 0),
	    OSSL_PARAM_octet_ptr(OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL, NULL, 0),
	    OSSL_PARAM_END,
	};

	(void)ctx;
	(void)provctx;
	return gettable;
}

static int
ac_init(struct acctx *c, void *provkey, int decrypt, const OSSL_PARAM params[])
{
	p11v_key *k = p11v_keydata_key(provkey);

	if (k == NULL || p11v_key_type(k) != P11V_KT_RSA) {
		p11v_raise(c->p, P11V_R_UNSUPPORTED, "RSA encryption needs an RSA key");
		return 0;
	}
	if (decrypt && p11v_key_ref(k) == NULL) {
		p11v_raise(c->p, P11V_R_UNSUPPORTED,
			   "a public key cannot decrypt (load the key from the token)");
		return 0;
	}
	p11v_key_up_ref(k);
	p11v_key_free(c->k);
	c->k = k;
	c->decrypt = decrypt;
	c->pad = RSA_PKCS1_PADDING;
	c->oaep_md = "SHA1";
	c->mgf1_md = NULL;
	OPENSSL_free(c->label);
	c->label = NULL;
	c->labellen = 0;
	return ac_set_ctx_params(c, params);
}

static int
ac_encrypt_init(void *ctx, void *provkey, const OSSL_PARAM params[])
{
	return ac_init(ctx, provkey, 0, params);
}

static int
ac_decrypt_init(void *ctx, void *provkey, const OSSL_PARAM params[])
{
	return ac_init(ctx, provkey, 1, params);
}

static size_t
modulus_bytes(struct acctx *c)
{
	int n = EVP_PKEY_get_size(p11v_key_pub(c->k));

	return n > 0 ? (size_t)n : 0;
}

/* Encryption needs only the public key: done in software. */
static int
ac_encrypt(void *ctx, unsigned char *out, size_t *outlen, size_t outsize, const unsigned char *in,
	   size_t inlen)
{
	struct acctx *c = ctx;
	EVP_PKEY_CTX *pc = NULL;
	OSSL_PARAM q[6], *qp = q;
	int ok = 0;

	if (c->k == NULL || c->decrypt)
		return 0;
	if (out == NULL) {
		*outlen = modulus_bytes(c);
		return *outlen > 0;
	}
	*qp++ = OSSL_PARAM_construct_int(OSSL_ASYM_CIPHER_PARAM_PAD_MODE, &c->pad);
	if (c->pad == RSA_PKCS1_OAEP_PADDING) {
		*qp++ = OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST,
							 (char *)(uintptr_t)c->oaep_md, 0);
		if (c->mgf1_md != NULL)
			*qp++ = OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST,
								 (char *)(uintptr_t)c->mgf1_md, 0);
		if (c->label != NULL)
			*qp++ = OSSL_PARAM_construct_octet_string(OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL, c->label,
								  c->labellen);
	}
	*qp = OSSL_PARAM_construct_end();
	pc = EVP_PKEY_CTX_new_from_pkey(p11v_libctx(c->p), p11v_key_pub(c->k), NULL);
	if (pc == NULL || EVP_PKEY_encrypt_init_ex(pc, q) != 1)
		goto out;
	*outlen = outsize;
	ok = EVP_PKEY_encrypt(pc, out, outlen, in, inlen) == 1;
out:
	if (!ok)
		p11v_raise(c->p, P11V_R_INTERNAL, "RSA encryption failed");
	EVP_PKEY_CTX_free(pc);
	return ok;
}

static int
ac_decrypt(void *ctx, unsigned char *out, size_t *outlen, size_t outsize, const unsigned char *in,
	   size_t inlen)
{
	struct acctx *c = ctx;
	struct p11v_decreq rq;
	size_t mod;

	if (c->k == NULL || !c->decrypt) {
		p11v_raise(c->p, P11V_R_INTERNAL, "decrypt without decrypt_init");
		return 0;
	}
	mod = modulus_bytes(c);
	if (out == NULL) {
		*outlen = mod; /* a size query: the token is not asked */
		return mod > 0;
	}
	if (c->pad != RSA_PKCS1_OAEP_PADDING) {
		p11v_raise(c->p, P11V_R_UNSUPPORTED,
			   "token keys decrypt with RSA-OAEP only (pad mode oaep; PKCS#1 v1.5 is refused)");
		return 0;
	}
	if (inlen != mod) {
		p11v_raise(c->p, P11V_R_UNSUPPORTED, "the ciphertext is %zu bytes, the modulus %zu", inlen,
			   mod);
		return 0;
	}
	if (outsize < mod) {
		p11v_raise(c->p, P11V_R_INTERNAL, "output buffer too small (%zu bytes, %zu needed)", outsize,
			   mod);
		return 0;
	}
	memset(&rq, 0, sizeof(rq));
	rq.oaep_mdname = c->oaep_md;
	rq.mgf1_mdname = c->mgf1_md != NULL ? c->mgf1_md : c->oaep_md;
	rq.label = c->labellen > 0 ? c->label : NULL;
	rq.labellen = c->labellen;
	rq.in = in;
	rq.inlen = inlen;
	return p11v_backend_decrypt(c->k, &rq, out, outlen, outsize);
}

const OSSL_DISPATCH p11v_rsa_asym_cipher_functions[] = {
    {OSSL_FUNC_ASYM_CIPHER_NEWCTX, (void (*)(void))ac_newctx},
    {OSSL_FUNC_ASYM_CIPHER_FREECTX, (void (*)(void))ac_freectx},
    {OSSL_FUNC_ASYM_CIPHER_DUPCTX, (void (*)(void))ac_dupctx},
    {OSSL_FUNC_ASYM_CIPHER_ENCRYPT_INIT, (void (*)(void))ac_encrypt_init},
    {OSSL_FUNC_ASYM_CIPHER_ENCRYPT, (void (*)(void))ac_encrypt},
    {OSSL_FUNC_ASYM_CIPHER_DECRYPT_INIT, (void (*)(void))ac_decrypt_init},
    {OSSL_FUNC_ASYM_CIPHER_DECRYPT, (void (*)(void))ac_decrypt},
    {OSSL_FUNC_ASYM_CIPHER_GET_CTX_PARAMS, (void (*)(void))ac_get_ctx_params},
    {OSSL_FUNC_ASYM_CIPHER_GETTABLE_CTX_PARAMS, (void (*)(void))ac_gettable_ctx_params},
    {OSSL_FUNC_ASYM_CIPHER_SET_CTX_PARAMS, (void (*)(void))ac_set_ctx_params},
    {OSSL_FUNC_ASYM_CIPHER_SETTABLE_CTX_PARAMS, (void (*)(void))ac_settable_ctx_params},
    {0, NULL},
};
