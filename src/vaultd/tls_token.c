/*
 * vaultd's own TLS key on its token (issue 16 item 6): listen.tcp.tls_key
 * "p11vault:NAME[;version=N]" or a pkcs11: URI naming a p11vault key's
 * object. The key must be a p11vault key of purpose sign; GnuTLS signs the
 * handshakes with it through its PKCS#11 support (p11-kit), so the key
 * never exists in vaultd's memory. The PIN is the token's (token.pin_source
 * or the default chain), kept in guarded memory for GnuTLS's logins; a PIN
 * the token refused is never offered again.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/pkcs11.h>
#include <p11-kit/uri.h>

#include "core/keys.h"
#include "pkcs11/pin.h"
#include "vaultd/keeper_int.h"
#include "vaultd/server_int.h"

/* GnuTLS's PKCS#11 state is per process: one module, one PIN. */
static pv_secret *tls_pin;
static int pkcs11_ready;

/* GnuTLS asks when it logs in; attempt > 0 means the PIN was refused. */
static int
pin_cb(void *arg, int attempt, const char *token_url, const char *token_label, unsigned flags, char *pin,
       size_t pin_max)
{
	size_t n;

	(void)arg;
	(void)token_url;
	(void)token_label;
	if (attempt > 0 || (flags & GNUTLS_PIN_WRONG) || tls_pin == NULL)
		return GNUTLS_E_PKCS11_PIN_ERROR;
	n = pv_secret_len(tls_pin);
	if (n + 1 > pin_max)
		return GNUTLS_E_PKCS11_PIN_ERROR;
	memcpy(pin, pv_secret_ro(tls_pin), n);
	pin[n] = '\0';
	return 0;
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

/* The p11vault key a pkcs11: URI names: its object= label is NAME.vN. */
static pv_err
parse_pkcs11(const char *s, char *name, size_t namesz, unsigned *version)
{
	P11KitUri *u = p11_kit_uri_new();
	CK_ATTRIBUTE_PTR a;
	char label[160], *dot;
	char *end = NULL;
	unsigned long v;
	pv_err r = PV_ERR_USAGE;

	if (u == NULL)
		return PV_ERR_NOMEM;
	if (p11_kit_uri_parse(s, P11_KIT_URI_FOR_OBJECT, u) != P11_KIT_URI_OK) {
		pv_err_set_detail("listen.tcp.tls_key: not a valid pkcs11: URI");
		goto out;
	}
	a = p11_kit_uri_get_attribute(u, CKA_LABEL);
	if (a == NULL || a->ulValueLen == 0 || a->ulValueLen >= sizeof(label)) {
		pv_err_set_detail(
		    "listen.tcp.tls_key: the pkcs11: URI needs object=NAME.vN (a p11vault key's "
		    "version; or write p11vault:NAME)");
		goto out;
	}
	memcpy(label, a->pValue, a->ulValueLen);
	label[a->ulValueLen] = '\0';
	dot = strrchr(label, '.');
	if (dot == NULL || dot[1] != 'v' || (size_t)(dot - label) >= namesz) {
		pv_err_set_detail("listen.tcp.tls_key: object=%s is not a p11vault key version (NAME.vN); "
				  "vaultd signs its handshakes only with a p11vault key of purpose sign",
				  label);
		goto out;
	}
	v = strtoul(dot + 2, &end, 10);
	if (end == dot + 2 || *end != '\0' || v == 0 || v > 1000000) {
		pv_err_set_detail("listen.tcp.tls_key: object=%s is not a p11vault key version (NAME.vN)",
				  label);
		goto out;
	}
	memcpy(name, label, (size_t)(dot - label));
	name[dot - label] = '\0';
	*version = (unsigned)v;
	r = PV_OK;
out:
	p11_kit_uri_free(u);
	return r;
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
	const char *tls_key = cfg->listen.tls_key;
	pv_err r;
	int e;

	if (ks == NULL) {
		pv_err_set_detail("listen.tcp.tls_key: a key on the token needs vaultd's token");
		return PV_ERR_USAGE;
	}
	r = strncmp(tls_key, "p11vault:", 9) == 0 ? parse_p11vault(tls_key, name, sizeof(name), &version)
						  : parse_pkcs11(tls_key, name, sizeof(name), &version);
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
	if ((e = gnutls_privkey_init(&pk)) < 0 || (e = gnutls_privkey_import_url(pk, uri, 0)) < 0) {
		pv_err_set_detail("listen.tcp.tls_key: GnuTLS cannot use %s on the token: %s", name,
				  gnutls_strerror(e));
		goto out;
	}
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
	for (unsigned i = 0; pcerts != NULL && i < npc; i++)
		gnutls_pcert_deinit(&pcerts[i]);
	free(pcerts);
	free(uri);
	pv_key_free(key);
	return r;
}
