/*
 * vaultd's TLS (server.h): the key, certificate and client CA files read
 * into guarded memory and handed to libmicrohttpd as options, and the
 * client certificate of a connection checked with GnuTLS.
 */
#include "config.h"

#include <stdint.h>

#include <gnutls/gnutls.h>
#include <openssl/evp.h>

#include "vaultd/server_int.h"

#define VD_PEM_MAX        ((size_t)1 << 20)
/* TLS 1.2 and 1.3 only, GnuTLS's default ciphers for those. */
#define VD_TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

/* A client certificate counts only when GnuTLS verified its chain against
 * listen.tcp.client_ca; its identity is the SHA-256 of its DER. */
void
vd_peer_from_tls(struct MHD_Connection *c, struct vd_conn *vc)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	gnutls_session_t s;
	const gnutls_datum_t *certs;
	unsigned n = 0, status = 0;

	if (ci == NULL || ci->tls_session == NULL)
		return;
	s = (gnutls_session_t)ci->tls_session;
	if (gnutls_certificate_type_get(s) != GNUTLS_CRT_X509)
		return;
	certs = gnutls_certificate_get_peers(s, &n);
	if (certs == NULL || n == 0)
		return; /* no certificate: a bearer token may still do */
	if (gnutls_certificate_verify_peers2(s, &status) != GNUTLS_E_SUCCESS || status != 0) {
		vc->cert_untrusted = 1;
		return;
	}
	if (EVP_Digest(certs[0].data, certs[0].size, vc->peer.cert_sha256, NULL, EVP_sha256(), NULL) != 1) {
		vc->cert_untrusted = 1;
		return;
	}
	vc->peer.has_cert = 1;
}

/* A PEM file as a NUL-terminated string in guarded memory (the server key
 * is a secret; certificates simply go the same way). */
static pv_err
read_pem(const char *field, const char *path, pv_secret **out)
{
	pv_secret *raw = NULL, *s = NULL;
	pv_err r;

	r = pv_secret_read_file(path, VD_PEM_MAX, &raw);
	if (r != PV_OK) {
		pv_err_set_detail("%s: cannot read %s: %s", field, path, pv_strerror(r));
		goto out;
	}
	if ((r = pv_secret_new(pv_secret_len(raw) + 1, &s)) != PV_OK)
		goto out;
	if ((r = pv_secret_append(s, pv_secret_ro(raw), pv_secret_len(raw))) != PV_OK ||
	    (r = pv_secret_append(s, "", 1)) != PV_OK)
		goto out;
	*out = s;
	s = NULL;
out:
	pv_secret_free(raw);
	pv_secret_free(s);
	return r;
}

pv_err
vd_tls_options(const struct pv_config *cfg, struct vd_tls_pems *pems, struct MHD_OptionItem *opts, size_t *n,
	       int *verify_clients)
{
	pv_err r;

	if ((r = read_pem("listen.tcp.tls_key", cfg->listen.tls_key, &pems->key)) != PV_OK ||
	    (r = read_pem("listen.tcp.tls_cert", cfg->listen.tls_cert, &pems->cert)) != PV_OK)
		return r;
	opts[(*n)++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)pv_secret_rw(pems->key)};
	opts[(*n)++] =
	    (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)pv_secret_rw(pems->cert)};
	opts[(*n)++] =
	    (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)(uintptr_t)VD_TLS_PRIORITIES};
	if (cfg->listen.client_ca != NULL) {
		if ((r = read_pem("listen.tcp.client_ca", cfg->listen.client_ca, &pems->ca)) != PV_OK)
			return r;
		opts[(*n)++] =
		    (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, (void *)pv_secret_rw(pems->ca)};
		*verify_clients = 1;
	}
	return PV_OK;
}

void
vd_tls_pems_free(struct vd_tls_pems *pems)
{
	pv_secret_free(pems->key);
	pv_secret_free(pems->cert);
	pv_secret_free(pems->ca);
	pems->key = pems->cert = pems->ca = NULL;
}
