/*
 * vaultd's own TLS key on its token (issue 16 item 6): listen.tcp.tls_key
 * "p11vault:NAME[;version=N]" or a pkcs11: URI naming a p11vault key
 * (object=NAME: the version active when vaultd starts; object=NAME.vN or
 * x-p11vault-version=N: that version), never a raw token object. The key
 * must be a p11vault key of purpose sign; GnuTLS signs the handshakes
 * with it through its PKCS#11 support (p11-kit), so the key never exists in vaultd's memory. The PIN is the token's (token.pin_source
 * or the default chain), kept in guarded memory for GnuTLS's logins; a PIN
 * the token refused is never offered again.
 *
 * Token outages: GnuTLS's key from a pkcs11: URL keeps the session and the
 * object handle it was imported with, and never opens them again (only
 * after fork). So the credentials get a wrapper key (gnutls_privkey_import_
 * ext4) that signs with the imported key and imports it again from its URL
 * whenever vaultd's token layer has recovered since (its generation moved);
 * a signature that fails makes the token layer look for the key (which
 * starts its recovery, or an outage and its prober, when the token is
 * gone), then the key is imported again and the signature tried once more.
 * During an outage a handshake fails at once; after the token's return the
 * first handshake signs with a fresh import.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/pkcs11.h>
#include <p11-kit/p11-kit.h>
#include <p11-kit/uri.h>

#include "core/keys.h"
#include "core/keys_uri.h"
#include "pkcs11/pin.h"
#include "vaultd/keeper_int.h"
#include "vaultd/server_int.h"

/* GnuTLS's PKCS#11 state is per process: one module, one PIN. */
static pv_secret *tls_pin;
static int pkcs11_ready;
/* The module path GnuTLS loaded (GNUTLS_PKCS11_FLAG_MANUAL), and whether
 * p11-kit gives each load of it an instance of its own (p11-kit-client.so
 * does: GnuTLS then has its own connection, which vaultd's recovery does
 * not re-initialise). NULL: GnuTLS uses p11-kit's registered modules. */
static char *gnutls_module;
static int gnutls_own_instance;
/* pin_mu guards tls_pin's protection state and pin_refused. */
static pthread_mutex_t pin_mu = PTHREAD_MUTEX_INITIALIZER;
static int pin_refused;

/*
 * GnuTLS asks when it logs in (at start and at every import after a
 * recovery); attempt > 0 means the PIN was refused: it is never offered
 * again, in this import or a later one. Nor on the token's last try.
 */
static int
pin_cb(void *arg, int attempt, const char *token_url, const char *token_label, unsigned flags, char *pin,
       size_t pin_max)
{
	int ret = GNUTLS_E_PKCS11_PIN_ERROR;
	size_t n;

	(void)arg;
	(void)token_url;
	(void)token_label;
	pthread_mutex_lock(&pin_mu);
	if (attempt > 0 || (flags & GNUTLS_PIN_WRONG))
		pin_refused = 1;
	if (pin_refused || (flags & GNUTLS_PIN_FINAL_TRY) || tls_pin == NULL)
		goto out;
	n = pv_secret_len(tls_pin);
	if (n + 1 > pin_max)
		goto out;
	memcpy(pin, pv_secret_ro(tls_pin), n);
	pv_secret_lock(tls_pin);
	pin[n] = '\0';
	ret = 0;
out:
	pthread_mutex_unlock(&pin_mu);
	return ret;
}

/*
 * The key in the credentials: GnuTLS's key imported from the URL (cur),
 * imported again after a recovery of the token layer. Signers hold mu for
 * reading; a new import takes it for writing.
 */
struct tls_key {
	pthread_rwlock_t mu;
	gnutls_privkey_t cur;
	unsigned long gen; /* the token generation cur was imported in */
	p11_token *tok;
	p11_obj obj; /* the private key, for the token layer to look for */
	char *uri;
	int pk;
	unsigned bits;
};

static int
import_url(const char *uri, gnutls_privkey_t *out)
{
	gnutls_privkey_t pk = NULL;
	int e;

	if ((e = gnutls_privkey_init(&pk)) < 0)
		return e;
	if ((e = gnutls_privkey_import_url(pk, uri, 0)) < 0) {
		gnutls_privkey_deinit(pk);
		return e;
	}
	*out = pk;
	return 0;
}

/*
 * GnuTLS's PKCS#11 layer finalised and loaded again: its own module
 * instance has a dead connection that only C_Finalize/C_Initialize
 * renews. Only when that instance is GnuTLS's alone (vaultd's is another),
 * with no GnuTLS PKCS#11 object alive (the caller holds the only one's
 * lock for writing and has released it).
 */
static int
gnutls_pkcs11_restart(void)
{
	int e;

	gnutls_pkcs11_deinit();
	e = gnutls_pkcs11_init(GNUTLS_PKCS11_FLAG_MANUAL, NULL);
	if (e == GNUTLS_E_SUCCESS)
		e = gnutls_pkcs11_add_provider(gnutls_module, NULL);
	gnutls_pkcs11_set_pin_function(pin_cb, NULL);
	return e;
}

/* Import the key again if the token layer recovered since cur was made
 * (or force). A negative GnuTLS error if it cannot be imported. */
static int
refresh(struct tls_key *k, int force)
{
	gnutls_privkey_t pk = NULL, old = NULL;
	unsigned long gen;
	int e = 0;

	pthread_rwlock_wrlock(&k->mu);
	gen = p11_token_generation(k->tok);
	if (!force && k->gen == gen && k->cur != NULL)
		goto out;
	e = import_url(k->uri, &pk);
	if (e < 0 && gnutls_own_instance) {
		/* vaultd's instance sees the token, GnuTLS's does not */
		if (k->cur != NULL)
			gnutls_privkey_deinit(k->cur);
		k->cur = NULL;
		if ((e = gnutls_pkcs11_restart()) == GNUTLS_E_SUCCESS)
			e = import_url(k->uri, &pk);
	}
	if (e < 0)
		goto out;
	old = k->cur;
	k->cur = pk;
	k->gen = gen;
out:
	pthread_rwlock_unlock(&k->mu);
	if (old != NULL)
		gnutls_privkey_deinit(old);
	return e;
}

/* One signature with the current import; GNUTLS_E_PKCS11_TOKEN_ERROR when
 * there is none or it is older than the token layer's last recovery. */
static int
sign_once(struct tls_key *k, int data, gnutls_sign_algorithm_t algo, unsigned flags, const gnutls_datum_t *in,
	  gnutls_datum_t *sig)
{
	int e;

	pthread_rwlock_rdlock(&k->mu);
	if (k->cur == NULL || k->gen != p11_token_generation(k->tok))
		e = GNUTLS_E_PKCS11_TOKEN_ERROR;
	else if (data)
		e = gnutls_privkey_sign_data2(k->cur, algo, flags, in, sig);
	else if (algo == GNUTLS_SIGN_RSA_RAW)
		e = gnutls_privkey_sign_hash(k->cur, 0, GNUTLS_PRIVKEY_SIGN_FLAG_TLS1_RSA, in, sig);
	else
		e = gnutls_privkey_sign_hash2(k->cur, algo, flags, in, sig);
	pthread_rwlock_unlock(&k->mu);
	return e;
}

static int
sign_any(struct tls_key *k, int data, gnutls_sign_algorithm_t algo, unsigned flags, const gnutls_datum_t *in,
	 gnutls_datum_t *sig)
{
	struct p11_token_stats st;
	p11_obj probe;
	int e, stale;

	/* During an outage nothing is asked of the module: the prober may be
	 * re-initialising it. The handshake fails at once. */
	p11_token_get_stats(k->tok, &st);
	if (st.down)
		return GNUTLS_E_PKCS11_TOKEN_ERROR;
	pthread_rwlock_rdlock(&k->mu);
	stale = k->cur == NULL || k->gen != p11_token_generation(k->tok);
	pthread_rwlock_unlock(&k->mu);
	if (stale && refresh(k, 0) < 0)
		return GNUTLS_E_PKCS11_TOKEN_ERROR;
	if ((e = sign_once(k, data, algo, flags, in, sig)) >= 0)
		return e;
	/*
	 * Failed: is the token there? The token layer looks for the key: a
	 * lost session or module connection is recovered there (the
	 * generation moves), a token that is gone starts an outage (a fast
	 * failure here until the prober finds it again).
	 */
	probe = k->obj;
	probe.handle = CK_INVALID_HANDLE;
	if (p11_obj_find(k->tok, &probe) != PV_OK)
		return e;
	if (refresh(k, 1) < 0)
		return e;
	return sign_once(k, data, algo, flags, in, sig);
}

static int
sign_data_cb(gnutls_privkey_t key, gnutls_sign_algorithm_t algo, void *arg, unsigned flags,
	     const gnutls_datum_t *data, gnutls_datum_t *sig)
{
	(void)key;
	return sign_any(arg, 1, algo, flags, data, sig);
}

static int
sign_hash_cb(gnutls_privkey_t key, gnutls_sign_algorithm_t algo, void *arg, unsigned flags,
	     const gnutls_datum_t *hash, gnutls_datum_t *sig)
{
	(void)key;
	return sign_any(arg, 0, algo, flags, hash, sig);
}

static int
info_cb(gnutls_privkey_t key, unsigned flags, void *arg)
{
	struct tls_key *k = arg;

	(void)key;
	if (flags & GNUTLS_PRIVKEY_INFO_HAVE_SIGN_ALGO)
		return gnutls_sign_supports_pk_algorithm(GNUTLS_FLAGS_TO_SIGN_ALGO(flags),
							 (gnutls_pk_algorithm_t)k->pk);
	if (flags & GNUTLS_PRIVKEY_INFO_PK_ALGO_BITS)
		return (int)k->bits;
	if (flags & GNUTLS_PRIVKEY_INFO_PK_ALGO)
		return k->pk;
	if (flags & GNUTLS_PRIVKEY_INFO_SIGN_ALGO)
		return 0; /* no preference */
	return GNUTLS_E_INVALID_REQUEST;
}

static void
tls_key_free(struct tls_key *k)
{
	if (k == NULL)
		return;
	if (k->cur != NULL)
		gnutls_privkey_deinit(k->cur);
	pthread_rwlock_destroy(&k->mu);
	free(k->uri);
	free(k);
}

static void
deinit_cb(gnutls_privkey_t key, void *arg)
{
	(void)key;
	tls_key_free(arg);
}

/* "p11vault:NAME" or "p11vault:NAME;version=N" */
static pv_err
parse_p11vault(const char *s, char *name, size_t namesz, unsigned *version)
{
	const char *semi;
	size_t n;
	char *end = NULL;
	unsigned long v;

	s += strlen("p11vault:");
	semi = strchr(s, ';');
	n = semi != NULL ? (size_t)(semi - s) : strlen(s);
	if (n == 0 || n >= namesz)
		goto bad;
	memcpy(name, s, n);
	name[n] = '\0';
	*version = 0;
	if (semi != NULL) {
		if (strncmp(semi, ";version=", 9) != 0)
			goto bad;
		v = strtoul(semi + 9, &end, 10);
		if (end == semi + 9 || *end != '\0' || v == 0 || v > 1000000)
			goto bad;
		*version = (unsigned)v;
	}
	if (!pv_key_name_valid(name))
		goto bad;
	return PV_OK;
bad:
	pv_err_set_detail("listen.tcp.tls_key: expected p11vault:NAME or p11vault:NAME;version=N");
	return PV_ERR_USAGE;
}

/* The p11vault key a pkcs11: URI names (core/keys_uri.h): object=NAME is
 * the version active when vaultd starts, object=NAME.vN,
 * x-p11vault-version=N or a version's id= pins version N. */
static pv_err
parse_pkcs11(pv_keystore *ks, const char *s, char *name, size_t namesz, unsigned *version)
{
	struct pv_key_ref ref;
	char what[256], why[256];
	pv_err r;

	if ((r = pv_keys_uri_resolve(ks, s, &ref, NULL)) != PV_OK) {
		snprintf(why, sizeof(why), "%s", pv_err_detail());
		pv_err_set_detail("listen.tcp.tls_key: %s", why[0] != '\0' ? why : pv_strerror(r));
		return r;
	}
	if (ref.name[0] == '\0' || strlen(ref.name) >= namesz) {
		pv_keys_uri_describe(ks, s, what, sizeof(what));
		pv_err_set_detail(
		    "listen.tcp.tls_key: the pkcs11: URI is not a p11vault key version (it %s); "
		    "vaultd signs its handshakes only with a p11vault key of purpose sign: "
		    "object=NAME (its active version) or object=NAME.vN",
		    what);
		return PV_ERR_USAGE;
	}
	memcpy(name, ref.name, strlen(ref.name) + 1);
	*version = ref.version;
	return PV_OK;
}

/* The PIN as vaultd's own login finds it: token.pin_source, else the
 * token URI's pin-source, else the default chain (no prompt). */
static pv_err
token_pin(const struct pv_config *cfg)
{
	P11KitUri *u = p11_kit_uri_new();
	const char *uri_source = NULL;
	pv_err r;

	if (u == NULL)
		return PV_ERR_NOMEM;
	if (cfg->token.uri != NULL &&
	    p11_kit_uri_parse(cfg->token.uri, P11_KIT_URI_FOR_TOKEN, u) == P11_KIT_URI_OK)
		uri_source = p11_kit_uri_get_pin_source(u);
	r = p11_pin_resolve(cfg->token.pin_source, uri_source, 0, "the token PIN (listen.tcp.tls_key)",
			    &tls_pin);
	p11_kit_uri_free(u);
	return r;
}

/*
 * Whether p11-kit gives each load of the module an instance of its own
 * (C_GetFunctionList returns another function list each time, as
 * p11-kit-client.so's does): then GnuTLS's instance is not vaultd's, and
 * finalising it touches nothing of vaultd's. Two loads, never initialised.
 */
static int
own_instances(const char *path)
{
	CK_FUNCTION_LIST *a, *b;
	int own;

	a = p11_kit_module_load(path, P11_KIT_MODULE_UNMANAGED);
	b = p11_kit_module_load(path, P11_KIT_MODULE_UNMANAGED);
	own = a != NULL && b != NULL && a != b;
	if (a != NULL)
		p11_kit_module_release(a);
	if (b != NULL)
		p11_kit_module_release(b);
	return own;
}

/* GnuTLS's PKCS#11 layer with our token's module and PIN, once. */
static pv_err
pkcs11_setup(const struct pv_config *cfg, p11_token *tok)
{
	struct p11_token_info info;
	int e;
	pv_err r;

	if (pkcs11_ready)
		return PV_OK;
	if ((r = p11_token_get_info(tok, &info)) != PV_OK)
		return r;
	if ((r = token_pin(cfg)) != PV_OK)
		return r;
	/* the module vaultd itself loaded; a p11-kit module name: every
	 * registered module (p11-kit's configuration) */
	e = gnutls_pkcs11_init(strchr(info.module_path, '/') != NULL ? GNUTLS_PKCS11_FLAG_MANUAL
								     : GNUTLS_PKCS11_FLAG_AUTO,
			       NULL);
	if (e == GNUTLS_E_SUCCESS && strchr(info.module_path, '/') != NULL)
		e = gnutls_pkcs11_add_provider(info.module_path, NULL);
	if (e != GNUTLS_E_SUCCESS) {
		pv_err_set_detail("listen.tcp.tls_key: GnuTLS cannot use the PKCS#11 module %s: %s",
				  info.module_path, gnutls_strerror(e));
		return PV_ERR_TOKEN_UNAVAILABLE;
	}
	gnutls_pkcs11_set_pin_function(pin_cb, NULL);
	if (strchr(info.module_path, '/') != NULL) {
		if ((gnutls_module = strdup(info.module_path)) == NULL)
			return PV_ERR_NOMEM;
		gnutls_own_instance = own_instances(info.module_path);
	}
	pkcs11_ready = 1;
	return PV_OK;
}

pv_err
vd_tls_token_key(const struct pv_config *cfg, struct vd_daemon *d, gnutls_certificate_credentials_t cred,
		 const gnutls_datum_t *cert_pem)
{
	pv_keystore *ks = d != NULL && d->keeper != NULL ? vd_keeper_ks(d->keeper) : NULL;
	struct pv_key *key = NULL;
	struct pv_key_version ver;
	p11_obj obj;
	char name[PV_KEY_NAME_MAX + 1], *uri = NULL;
	unsigned version = 0, npc = 16;
	gnutls_pcert_st *pcerts = NULL;
	gnutls_privkey_t pk = NULL;
	struct tls_key *k = NULL;
	const char *tls_key = cfg->listen.tls_key;
	pv_err r;
	int e;

	if (ks == NULL) {
		pv_err_set_detail("listen.tcp.tls_key: a key on the token needs vaultd's token");
		return PV_ERR_USAGE;
	}
	r = strncmp(tls_key, "p11vault:", 9) == 0 ? parse_p11vault(tls_key, name, sizeof(name), &version)
						  : parse_pkcs11(ks, tls_key, name, sizeof(name), &version);
	if (r != PV_OK)
		return r;
	memset(&ver, 0, sizeof(ver));
	if ((r = pv_keys_resolve(ks, name, version, &key, &ver, &obj)) != PV_OK) {
		pv_err_set_detail("listen.tcp.tls_key: key %s: %s", name, pv_strerror(r));
		goto out;
	}
	if (key->purpose != PV_PURPOSE_SIGN) {
		pv_err_set_detail(
		    "listen.tcp.tls_key: key %s has purpose %s; vaultd's TLS key must have purpose "
		    "sign",
		    name, pv_key_purpose_name(key->purpose));
		r = PV_ERR_PURPOSE;
		goto out;
	}
	if ((r = pv_keys_uri(ks, key, &ver, &uri)) != PV_OK ||
	    (r = pkcs11_setup(cfg, pv_keystore_token(ks))) != PV_OK)
		goto out;
	r = PV_ERR_USAGE;
	if ((pcerts = calloc(npc, sizeof(*pcerts))) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	if ((e = gnutls_pcert_list_import_x509_raw(pcerts, &npc, cert_pem, GNUTLS_X509_FMT_PEM, 0)) < 0) {
		pv_err_set_detail("listen.tcp.tls_cert: %s", gnutls_strerror(e));
		npc = 0;
		goto out;
	}
	if ((k = calloc(1, sizeof(*k))) == NULL || pthread_rwlock_init(&k->mu, NULL) != 0) {
		free(k);
		k = NULL;
		r = PV_ERR_NOMEM;
		goto out;
	}
	k->tok = pv_keystore_token(ks);
	k->obj = obj;
	k->uri = uri;
	uri = NULL;
	k->gen = p11_token_generation(k->tok);
	if ((e = import_url(k->uri, &k->cur)) < 0) {
		pv_err_set_detail("listen.tcp.tls_key: GnuTLS cannot use %s on the token: %s", name,
				  gnutls_strerror(e));
		goto out;
	}
	k->pk = gnutls_privkey_get_pk_algorithm(k->cur, &k->bits);
	if ((e = gnutls_privkey_init(&pk)) < 0 ||
	    (e = gnutls_privkey_import_ext4(pk, k, sign_data_cb, sign_hash_cb, NULL, deinit_cb, info_cb,
					    GNUTLS_PRIVKEY_IMPORT_AUTO_RELEASE)) < 0) {
		pv_err_set_detail("listen.tcp.tls_key: %s", gnutls_strerror(e));
		goto out;
	}
	k = NULL; /* pk has it */
	/* the credentials take the certificates and the key */
	if ((e = gnutls_certificate_set_key(cred, NULL, 0, pcerts, (int)npc, pk)) < 0) {
		pv_err_set_detail("listen.tcp.tls_key/tls_cert: %s", gnutls_strerror(e));
		goto out;
	}
	pk = NULL;
	free(pcerts);
	pcerts = NULL;
	npc = 0;
	r = PV_OK;
out:
	if (pk != NULL)
		gnutls_privkey_deinit(pk);
	tls_key_free(k);
	for (unsigned i = 0; pcerts != NULL && i < npc; i++)
		gnutls_pcert_deinit(&pcerts[i]);
	free(pcerts);
	free(uri);
	pv_key_free(key);
	return r;
}
