/*
 * The URI-in-PEM DECODER: a key file that holds only a key reference
 * (uripem.h), so that programs which read private keys only from PEM files
 * (nginx, curl, HAProxy, `openssl ... -key key.pem`) use token keys
 * unchanged.
 *
 * OpenSSL's own PEM-to-DER decoder hands on only the PEM labels it knows
 * (an unknown label ends "empty handed"), and OpenSSL's file store passes
 * only DER between decoders, so the work is done in two steps, as OpenSSL's
 * own decoders do it:
 *
 *   "DER", input=pem     p11v_uripem_pem2der_decoder_functions: a
 *                        "-----BEGIN P11VAULT KEY URI-----" block to the
 *                        reference as a DER UTF8String (any other PEM:
 *                        nothing, the chain carries on)
 *   EC, RSA, RSA-PSS,    p11v_uripem_decoder_functions: that UTF8String to
 *   ED25519, input=der   the key, loaded by p11v_backend_load and passed on
 *                        as an object reference (OSSL_OBJECT_PARAM_REFERENCE:
 *                        the p11v_key pointer) of its key type, which our
 *                        KEYMGMT's load() takes
 *
 * PEM_read_bio_PrivateKey (a decoder chain from "PEM") runs both steps;
 * `openssl pkey -in key.pem` (the file store) runs the first, its DER
 * object goes to OSSL_STORE, which decodes it from "DER" with the second.
 * Decoders return 1 when the input is not theirs (the chain tries the next
 * one) and 0 only with an error raised (the input is ours but bad, or the
 * key cannot be loaded: nothing else would take it).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/params.h>

#include "provider/provider.h"
#include "provider/uripem.h"

struct dec_ctx {
	p11v_prov *p;
};

static void *
dec_newctx(void *provctx)
{
	struct dec_ctx *c = OPENSSL_zalloc(sizeof(*c));

	if (c != NULL)
		c->p = provctx;
	return c;
}

static void
dec_freectx(void *ctx)
{
	OPENSSL_free(ctx);
}

/*
 * Read the input: bytes up to the end of the first PEM block (line by line,
 * so that what follows it stays for the next reader), or all of it when it
 * does not start like text. At most P11V_URIPEM_TEXT_MAX bytes. 1 and
 * *len set, or 0 with an error raised.
 */
static int
read_input(struct dec_ctx *c, OSSL_CORE_BIO *cin, char *buf, size_t bufsz, size_t *len, int whole)
{
	BIO *b = BIO_new_from_core_bio(p11v_libctx(c->p), cin);
	size_t n = 0, got;
	int r;

	if (b == NULL) {
		p11v_raise(c->p, P11V_R_INTERNAL, "cannot read the decoder's input (no core BIO)");
		return 0;
	}
	while (n + 1 < bufsz) {
		if (whole) {
			if (!BIO_read_ex(b, buf + n, bufsz - 1 - n, &got) || got == 0)
				break;
			n += got;
			continue;
		}
		r = BIO_gets(b, buf + n, (int)(bufsz - n));
		if (r <= 0)
			break;
		n += (size_t)r;
		/* stop after an END line: the block is complete */
		if (buf[n - 1] == '\n') {
			const char *ls = buf + n - 1;

			while (ls > buf && ls[-1] != '\n')
				ls--;
			if (strncmp(ls, "-----END ", 9) == 0)
				break;
		}
	}
	buf[n] = '\0';
	*len = n;
	BIO_free(b);
	return 1;
}

/* Step 1: PEM to the DER UTF8String. */
static int
pem2der_decode(void *vctx, OSSL_CORE_BIO *cin, int selection, OSSL_CALLBACK *data_cb, void *data_cbarg,
	       OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
	struct dec_ctx *c = vctx;
	char *buf = NULL, uri[P11V_URIPEM_URI_MAX + 1];
	uint8_t der[P11V_URIPEM_URI_MAX + 4];
	const char *why = NULL;
	size_t len = 0, used = 0, dlen;
	OSSL_PARAM params[3];
	int objtype = OSSL_OBJECT_PKEY, ok = 0;

	(void)selection;
	(void)pw_cb;
	(void)pw_cbarg;
	if ((buf = OPENSSL_malloc(P11V_URIPEM_TEXT_MAX + 1)) == NULL)
		return 0;
	if (!read_input(c, cin, buf, P11V_URIPEM_TEXT_MAX + 1, &len, 0))
		goto out;
	switch (p11v_uripem_parse(buf, len, uri, sizeof(uri), &used, &why)) {
	case P11V_URIPEM_NOT_OURS:
		ok = 1;
		goto out;
	case P11V_URIPEM_BAD:
		p11v_raise(c->p, P11V_R_BAD_URI, "%s", why);
		goto out;
	default:
		break;
	}
	if ((dlen = p11v_uripem_der(uri, der, sizeof(der))) == 0) {
		p11v_raise(c->p, P11V_R_BAD_URI, "the URI-in-PEM's reference cannot be encoded");
		goto out;
	}
	params[0] = OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &objtype);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_DATA, der, dlen);
	params[2] = OSSL_PARAM_construct_end();
	ok = data_cb(params, data_cbarg);
out:
	OPENSSL_clear_free(buf, P11V_URIPEM_TEXT_MAX + 1);
	return ok;
}

/* Step 2: the DER UTF8String to the key, by reference. */
static int
der2key_decode(void *vctx, OSSL_CORE_BIO *cin, int selection, OSSL_CALLBACK *data_cb, void *data_cbarg,
	       OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
	struct dec_ctx *c = vctx;
	char buf[P11V_URIPEM_URI_MAX + 8], uri[P11V_URIPEM_URI_MAX + 1], dtype[16];
	const char *why = NULL;
	size_t len = 0;
	p11v_key *k = NULL;
	OSSL_PARAM params[4];
	int objtype = OSSL_OBJECT_PKEY, ok;

	(void)pw_cb;
	(void)pw_cbarg;
	/* a private key, or its public half: a key reference gives both */
	if (selection != 0 && (selection & OSSL_KEYMGMT_SELECT_KEYPAIR) == 0)
		return 1;
	if (!read_input(c, cin, buf, sizeof(buf), &len, 1))
		return 0;
	switch (p11v_uripem_from_der((const uint8_t *)buf, len, uri, sizeof(uri), &why)) {
	case P11V_URIPEM_NOT_OURS:
		return 1;
	case P11V_URIPEM_BAD:
		p11v_raise(c->p, P11V_R_BAD_URI, "%s", why);
		return 0;
	default:
		break;
	}
	if ((k = p11v_backend_load(c->p, uri)) == NULL)
		return 0; /* raised: the reference is ours, nothing else will load it */
	snprintf(dtype, sizeof(dtype), "%s", p11v_ktype_name(p11v_key_type(k)));
	params[0] = OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &objtype);
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA_TYPE, dtype, 0);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_REFERENCE, &k, sizeof(k));
	params[3] = OSSL_PARAM_construct_end();
	ok = data_cb(params, data_cbarg);
	p11v_key_free(k); /* the KEYMGMT's load() took a reference of its own */
	return ok;
}

const OSSL_DISPATCH p11v_uripem_pem2der_decoder_functions[] = {
    {OSSL_FUNC_DECODER_NEWCTX, (void (*)(void))dec_newctx},
    {OSSL_FUNC_DECODER_FREECTX, (void (*)(void))dec_freectx},
    {OSSL_FUNC_DECODER_DECODE, (void (*)(void))pem2der_decode},
    {0, NULL},
};

const OSSL_DISPATCH p11v_uripem_decoder_functions[] = {
    {OSSL_FUNC_DECODER_NEWCTX, (void (*)(void))dec_newctx},
    {OSSL_FUNC_DECODER_FREECTX, (void (*)(void))dec_freectx},
    {OSSL_FUNC_DECODER_DECODE, (void (*)(void))der2key_decode},
    {0, NULL},
};
