/* PLACEHOLDER (made by "core" so the provider builds): decoder.c is written
 * by "vaultd", who replaces this file. The decoder decodes nothing. */
#include "config.h"

#include <openssl/core_dispatch.h>

#include "provider/provider.h"

/* A placeholder context: decoding chains build one for every PEM read, so
 * it must not fail (nor leave errors behind). */
static void *
dec_newctx(void *provctx)
{
	return provctx;
}

static void
dec_freectx(void *ctx)
{
	(void)ctx;
}

static int
dec_decode(void *ctx, OSSL_CORE_BIO *in, int selection, OSSL_CALLBACK *data_cb, void *data_cbarg,
	   OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
	(void)ctx;
	(void)in;
	(void)selection;
	(void)data_cb;
	(void)data_cbarg;
	(void)pw_cb;
	(void)pw_cbarg;
	return 1; /* not ours: the next decoder tries (URI-in-PEM is not built yet) */
}

const OSSL_DISPATCH p11v_uripem_decoder_functions[] = {
    {OSSL_FUNC_DECODER_NEWCTX, (void (*)(void))dec_newctx},
    {OSSL_FUNC_DECODER_FREECTX, (void (*)(void))dec_freectx},
    {OSSL_FUNC_DECODER_DECODE, (void (*)(void))dec_decode},
    {0, NULL},
};
