/*
 * p11vault.so: the provider's entry point, its context, configuration,
 * algorithm tables and errors.
 *
 * Nothing here touches the token: the algorithms are offered from init on,
 * and the backend opens the token (or connects to vaultd) at its first use.
 * The configuration is read once, at init: the provider's openssl.cnf
 * section, each key falling back to an environment variable.
 */
#include "config.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <openssl/provider.h>

#include "base/defs.h"
#include <openssl/evp.h>

#include "provider/provider.h"

/* The configuration keys (openssl.cnf section) and their environment
 * fallbacks: one row each, docs/provider.md lists the same. */
static const struct conf_key {
	const char *name;
	const char *env;
} conf_keys[] = {
    {"backend", "P11VAULT_BACKEND"},
    {"pkcs11-module", "P11VAULT_MODULE"},
    {"token", "P11VAULT_TOKEN"},
    {"pin-source", "P11VAULT_PIN_SOURCE"},
    {"vaultd-socket", "P11VAULT_VAULTD_SOCKET"},
    {"vaultd-bearer-file", "P11VAULT_VAULTD_BEARER_FILE"},
};
#define NCONF PV_NELEM(conf_keys)

struct p11v_prov {
	const OSSL_CORE_HANDLE *handle;
	OSSL_FUNC_core_new_error_fn *new_error;
	OSSL_FUNC_core_set_error_debug_fn *set_error_debug;
	OSSL_FUNC_core_vset_error_fn *vset_error;
	OSSL_LIB_CTX *libctx;  /* private: the default provider only */
	OSSL_PROVIDER *deflt;  /* loaded into libctx */
	EVP_MD *mds[P11V_NMD]; /* p11v_md_names' digests, fetched once (NULL: none) */
	enum p11v_backend backend;
	char *conf[NCONF];      /* NULL: not set */
	pthread_mutex_t mu;     /* p11v_prov_lock */
	void *slot;             /* the backend's state */
	struct p11v_prov *next; /* the live contexts (fork handler) */
};

/* Every live provider context, for the fork handler. The handlers take
 * live_mu around fork() so the child finds the list consistent. */
static pthread_mutex_t live_mu = PTHREAD_MUTEX_INITIALIZER;
static p11v_prov *live;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void
atfork_prepare(void)
{
	pthread_mutex_lock(&live_mu);
}

static void
atfork_parent(void)
{
	pthread_mutex_unlock(&live_mu);
}

static void
atfork_child(void)
{
	p11v_prov *p;

	pthread_mutex_unlock(&live_mu);
	for (p = live; p != NULL; p = p->next) {
		/* a lock another parent thread held stays held in the child */
		pthread_mutex_init(&p->mu, NULL);
		p11v_backend_after_fork(p);
	}
}

/* The module is linked -z nodelete: these handlers stay mapped after the
 * provider is unloaded (they then find no live context). */
static void
atfork_register(void)
{
	(void)pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

OSSL_LIB_CTX *
p11v_libctx(p11v_prov *p)
{
	return p->libctx;
}

const char *const p11v_md_names[P11V_NMD] = {"SHA1", "SHA2-224", "SHA2-256", "SHA2-384", "SHA2-512"};

EVP_MD *
p11v_md(p11v_prov *p, size_t i)
{
	if (i >= P11V_NMD || p->mds[i] == NULL || !EVP_MD_up_ref(p->mds[i]))
		return NULL;
	return p->mds[i];
}

enum p11v_backend
p11v_backend_of(p11v_prov *p)
{
	return p->backend;
}

const char *
p11v_conf(p11v_prov *p, const char *name)
{
	for (size_t i = 0; i < NCONF; i++)
		if (strcmp(conf_keys[i].name, name) == 0)
			return p->conf[i];
	return NULL;
}

void
p11v_prov_lock(p11v_prov *p)
{
	pthread_mutex_lock(&p->mu);
}

void
p11v_prov_unlock(p11v_prov *p)
{
	pthread_mutex_unlock(&p->mu);
}

void **
p11v_backend_slot(p11v_prov *p)
{
	return &p->slot;
}

void
p11v_raise(p11v_prov *p, int reason, const char *fmt, ...)
{
	va_list ap;

	if (p == NULL || p->new_error == NULL || p->vset_error == NULL)
		return;
	p->new_error(p->handle);
	if (p->set_error_debug != NULL)
		p->set_error_debug(p->handle, OPENSSL_FILE, OPENSSL_LINE, P11V_NAME);
	va_start(ap, fmt);
	p->vset_error(p->handle, (uint32_t)reason, fmt, ap);
	va_end(ap);
}

/* ---- algorithm tables ---- */

#define P11V_EC_NAMES      "EC:id-ecPublicKey:1.2.840.10045.2.1"
#define P11V_RSA_NAMES     "RSA:rsaEncryption:1.2.840.113549.1.1.1"
#define P11V_RSAPSS_NAMES  "RSA-PSS:RSASSA-PSS:1.2.840.113549.1.1.10"
#define P11V_ED25519_NAMES "ED25519:1.3.101.112"

static const OSSL_ALGORITHM store_algs[] = {
    {"p11vault", P11V_PROPS, p11v_store_functions, "p11vault:NAME[;version=N] key references"},
    {"pkcs11", P11V_PROPS, p11v_store_functions, "RFC 7512 pkcs11: URIs"},
    {NULL, NULL, NULL, NULL},
};

static const OSSL_ALGORITHM keymgmt_algs[] = {
    {P11V_EC_NAMES, P11V_PROPS, p11v_ec_keymgmt_functions, "p11vault EC keys"},
    {P11V_RSA_NAMES, P11V_PROPS, p11v_rsa_keymgmt_functions, "p11vault RSA keys"},
    {P11V_RSAPSS_NAMES, P11V_PROPS, p11v_rsapss_keymgmt_functions, "p11vault RSA-PSS keys"},
    {P11V_ED25519_NAMES, P11V_PROPS, p11v_ed25519_keymgmt_functions, "p11vault Ed25519 keys"},
    {NULL, NULL, NULL, NULL},
};

static const OSSL_ALGORITHM signature_algs[] = {
    {"ECDSA", P11V_PROPS, p11v_ecdsa_signature_functions, "ECDSA on the token"},
    {P11V_ED25519_NAMES, P11V_PROPS, p11v_eddsa_signature_functions, "Ed25519 on the token"},
    {P11V_RSA_NAMES, P11V_PROPS, p11v_rsa_signature_functions, "RSA PKCS#1 v1.5 and PSS on the token"},
    /* the same under the names our keymgmt answers (keymgmt.c) */
    {P11V_SIG_ECDSA_NAME, P11V_PROPS, p11v_ecdsa_signature_functions, "ECDSA on the token (p11vault keys)"},
    {P11V_SIG_ED25519_NAME, P11V_PROPS, p11v_eddsa_signature_functions,
     "Ed25519 on the token (p11vault keys)"},
    {P11V_SIG_RSA_NAME, P11V_PROPS, p11v_rsa_signature_functions, "RSA on the token (p11vault keys)"},
    {NULL, NULL, NULL, NULL},
};

/* RSA-OAEP for keys of purpose decrypt, ECDH for keys of purpose derive. */
static const OSSL_ALGORITHM asym_cipher_algs[] = {
    {P11V_RSA_NAMES, P11V_PROPS, p11v_rsa_asym_cipher_functions, "RSA-OAEP decryption on the token"},
    {NULL, NULL, NULL, NULL},
};

static const OSSL_ALGORITHM keyexch_algs[] = {
    {"ECDH", P11V_PROPS, p11v_ecdh_keyexch_functions, "ECDH on the token"},
    {NULL, NULL, NULL, NULL},
};

/* URI-in-PEM (decoder.c): the PEM block to DER, then that DER to a key,
 * offered under each key type it can yield (a decoder chain for a key type
 * only takes decoders of that name). */
#define P11V_DECODER_PROPS P11V_PROPS ",input=der"
static const OSSL_ALGORITHM decoder_algs[] = {
    {"DER", P11V_PROPS ",input=pem", p11v_uripem_pem2der_decoder_functions, "P11VAULT KEY URI PEM to DER"},
    {P11V_EC_NAMES, P11V_DECODER_PROPS, p11v_uripem_decoder_functions, "P11VAULT KEY URI"},
    {P11V_RSA_NAMES, P11V_DECODER_PROPS, p11v_uripem_decoder_functions, "P11VAULT KEY URI"},
    {P11V_RSAPSS_NAMES, P11V_DECODER_PROPS, p11v_uripem_decoder_functions, "P11VAULT KEY URI"},
    {P11V_ED25519_NAMES, P11V_DECODER_PROPS, p11v_uripem_decoder_functions, "P11VAULT KEY URI"},
    {NULL, NULL, NULL, NULL},
};

static const OSSL_ALGORITHM *
prov_query(void *provctx, int operation_id, int *no_cache)
{
	(void)provctx;
	*no_cache = 0;
	switch (operation_id) {
	case OSSL_OP_STORE:
		return store_algs;
	case OSSL_OP_KEYMGMT:
		return keymgmt_algs;
	case OSSL_OP_SIGNATURE:
		return signature_algs;
	case OSSL_OP_DECODER:
		return decoder_algs;
	case OSSL_OP_ASYM_CIPHER:
		return asym_cipher_algs;
	case OSSL_OP_KEYEXCH:
		return keyexch_algs;
	default:
		return NULL;
	}
}

/* ---- provider parameters and reason strings ---- */

static const OSSL_PARAM gettable[] = {
    OSSL_PARAM_DEFN(OSSL_PROV_PARAM_NAME, OSSL_PARAM_UTF8_PTR, NULL, 0),
    OSSL_PARAM_DEFN(OSSL_PROV_PARAM_VERSION, OSSL_PARAM_UTF8_PTR, NULL, 0),
    OSSL_PARAM_DEFN(OSSL_PROV_PARAM_BUILDINFO, OSSL_PARAM_UTF8_PTR, NULL, 0),
    OSSL_PARAM_DEFN(OSSL_PROV_PARAM_STATUS, OSSL_PARAM_INTEGER, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM *
prov_gettable(void *provctx)
{
	(void)provctx;
	return gettable;
}

static int
prov_get_params(void *provctx, OSSL_PARAM params[])
{
	OSSL_PARAM *q;

	(void)provctx;
	if ((q = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_NAME)) != NULL &&
	    !OSSL_PARAM_set_utf8_ptr(q, "p11vault PKCS#11 and vaultd provider"))
		return 0;
	if ((q = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_VERSION)) != NULL &&
	    !OSSL_PARAM_set_utf8_ptr(q, PACKAGE_VERSION))
		return 0;
	if ((q = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_BUILDINFO)) != NULL &&
	    !OSSL_PARAM_set_utf8_ptr(q, PACKAGE_STRING))
		return 0;
	if ((q = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_STATUS)) != NULL && !OSSL_PARAM_set_int(q, 1))
		return 0;
	return 1;
}

/* OSSL_ITEM.ptr is not const: the texts are arrays of their own. */
static char r_token[] = "the token or vaultd is unavailable";
static char r_not_found[] = "no such key or version";
static char r_purpose[] = "the key's purpose does not allow this";
static char r_retired[] = "the pinned key version is no longer usable";
static char r_bad_uri[] = "bad key reference";
static char r_unsupported[] = "unsupported parameter or mechanism";
static char r_denied[] = "vaultd refused the request";
static char r_internal[] = "internal error";

static const OSSL_ITEM reasons[] = {
    {P11V_R_TOKEN, r_token},     {P11V_R_NOT_FOUND, r_not_found}, {P11V_R_PURPOSE, r_purpose},
    {P11V_R_RETIRED, r_retired}, {P11V_R_BAD_URI, r_bad_uri},     {P11V_R_UNSUPPORTED, r_unsupported},
    {P11V_R_DENIED, r_denied},   {P11V_R_INTERNAL, r_internal},   {0, NULL},
};

static const OSSL_ITEM *
prov_reasons(void *provctx)
{
	(void)provctx;
	return reasons;
}

/* ---- life cycle ---- */

static void
prov_free(p11v_prov *p)
{
	p11v_prov **pp;

	if (p == NULL)
		return;
	pthread_mutex_lock(&live_mu);
	for (pp = &live; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	pthread_mutex_unlock(&live_mu);
	if (p->backend == P11V_BACKEND_VAULTD)
		p11v_vaultd_free(p);
	else
		p11v_direct_free(p);
	for (size_t i = 0; i < P11V_NMD; i++)
		EVP_MD_free(p->mds[i]);
	if (p->deflt != NULL)
		(void)OSSL_PROVIDER_unload(p->deflt);
	OSSL_LIB_CTX_free(p->libctx);
	for (size_t i = 0; i < NCONF; i++)
		free(p->conf[i]);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

static void
prov_teardown(void *provctx)
{
	prov_free(provctx);
}

static const OSSL_DISPATCH prov_functions[] = {
    {OSSL_FUNC_PROVIDER_TEARDOWN, (void (*)(void))prov_teardown},
    {OSSL_FUNC_PROVIDER_GETTABLE_PARAMS, (void (*)(void))prov_gettable},
    {OSSL_FUNC_PROVIDER_GET_PARAMS, (void (*)(void))prov_get_params},
    {OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))prov_query},
    {OSSL_FUNC_PROVIDER_GET_REASON_STRINGS, (void (*)(void))prov_reasons},
    {OSSL_FUNC_PROVIDER_GET_CAPABILITIES, (void (*)(void))p11v_keymgmt_capabilities},
    {0, NULL},
};

/* The configuration, read once: the openssl.cnf section's value, else the
 * environment's (secure_getenv: nothing from the environment of a setuid
 * program). */
static int
read_conf(p11v_prov *p, OSSL_FUNC_core_get_params_fn *get_params)
{
	char *vals[NCONF] = {NULL};
	OSSL_PARAM req[NCONF + 1];
	const char *v;

	for (size_t i = 0; i < NCONF; i++)
		req[i] = OSSL_PARAM_construct_utf8_ptr(conf_keys[i].name, &vals[i], 0);
	req[NCONF] = OSSL_PARAM_construct_end();
	if (get_params != NULL && !get_params(p->handle, req)) {
		p11v_raise(p, P11V_R_INTERNAL, "cannot read the provider's configuration");
		return 0;
	}
	for (size_t i = 0; i < NCONF; i++) {
		v = vals[i];
		if (v == NULL || *v == '\0')
			v = secure_getenv(conf_keys[i].env);
		if (v != NULL && *v != '\0' && (p->conf[i] = strdup(v)) == NULL)
			return 0;
	}
	return 1;
}

int OSSL_provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in, const OSSL_DISPATCH **out,
		       void **provctx);

int
OSSL_provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in, const OSSL_DISPATCH **out,
		   void **provctx)
{
	OSSL_FUNC_core_get_params_fn *get_params = NULL;
	const OSSL_DISPATCH *in0; /* the core's functions: its BIO ones for the decoder */
	const char *b;
	p11v_prov *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return 0;
	p->handle = handle;
	pthread_mutex_init(&p->mu, NULL);
	in0 = in;
	for (; in != NULL && in->function_id != 0; in++) {
		switch (in->function_id) {
		case OSSL_FUNC_CORE_GET_PARAMS:
			get_params = OSSL_FUNC_core_get_params(in);
			break;
		case OSSL_FUNC_CORE_NEW_ERROR:
			p->new_error = OSSL_FUNC_core_new_error(in);
			break;
		case OSSL_FUNC_CORE_SET_ERROR_DEBUG:
			p->set_error_debug = OSSL_FUNC_core_set_error_debug(in);
			break;
		case OSSL_FUNC_CORE_VSET_ERROR:
			p->vset_error = OSSL_FUNC_core_vset_error(in);
			break;
		default:
			break;
		}
	}
	if (!read_conf(p, get_params))
		goto fail;
	b = p11v_conf(p, "backend");
	if (b == NULL || strcmp(b, "direct") == 0) {
		p->backend = P11V_BACKEND_DIRECT;
	} else if (strcmp(b, "vaultd") == 0) {
		p->backend = P11V_BACKEND_VAULTD;
	} else {
		p11v_raise(p, P11V_R_UNSUPPORTED, "backend must be direct or vaultd (got '%.32s')", b);
		goto fail;
	}
	/* Our own public-key work: the default provider in a context of our
	 * own, so nothing we do comes back into this provider. */
	if ((p->libctx = OSSL_LIB_CTX_new_from_dispatch(handle, in0)) == NULL ||
	    (p->deflt = OSSL_PROVIDER_load(p->libctx, "default")) == NULL) {
		p11v_raise(p, P11V_R_INTERNAL,
			   "cannot load the default provider into a private library context");
		goto fail;
	}
	/* the digests a signature names, fetched once: a fetch per
	 * EVP_DigestSignInit is a method-store lookup under a lock */
	for (size_t i = 0; i < P11V_NMD; i++)
		p->mds[i] = EVP_MD_fetch(p->libctx, p11v_md_names[i], NULL);
	(void)pthread_once(&atfork_once, atfork_register);
	pthread_mutex_lock(&live_mu);
	p->next = live;
	live = p;
	pthread_mutex_unlock(&live_mu);
	*out = prov_functions;
	*provctx = p;
	return 1;
fail:
	prov_free(p);
	return 0;
}
