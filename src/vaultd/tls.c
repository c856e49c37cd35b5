/*
 * vaultd's TLS (server_int.h): the key, certificate and client CA files
 * read into guarded memory and loaded as GnuTLS credentials, one
 * non-blocking GnuTLS session per connection, and the client certificate
 * of a connection checked against the client CA.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <openssl/evp.h>

#include "vaultd/server_int.h"

#define VD_PEM_MAX        ((size_t)1 << 20)
/* TLS 1.2 and 1.3 only, GnuTLS's default ciphers for those. */
#define VD_TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

struct vd_tls {
	gnutls_certificate_credentials_t cred;
	gnutls_priority_t prio;
	int verify_clients;
};

/* A client certificate counts only when GnuTLS verified its chain against
 * listen.tcp.client_ca; its identity is the SHA-256 of its DER. */
void
vd_peer_from_tls(struct vd_conn *vc)
{
	gnutls_session_t s = vc->tls;
	const gnutls_datum_t *certs;
	unsigned n = 0, status = 0;

	if (s == NULL)
		return;
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

static gnutls_datum_t
datum_of(pv_secret *s)
{
	gnutls_datum_t d;

	d.data = (unsigned char *)pv_secret_rw(s);
	d.size = (unsigned)(pv_secret_len(s) - 1); /* without the NUL read_pem added */
	return d;
}

int
vd_tls_key_on_token(const char *key)
{
	return key != NULL && (strncmp(key, "p11vault:", 9) == 0 || strncmp(key, "pkcs11:", 7) == 0);
}

pv_err
vd_tls_new(const struct pv_config *cfg, struct vd_daemon *d, struct vd_tls **out, int *verify_clients)
{
	int on_token = vd_tls_key_on_token(cfg->listen.tls_key);
	pv_secret *key = NULL, *cert = NULL, *ca = NULL;
	struct vd_tls *t = NULL;
	gnutls_datum_t dk, dc, dca;
	const char *where = NULL;
	pv_err r;
	int e;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return PV_ERR_NOMEM;
	if ((!on_token && (r = read_pem("listen.tcp.tls_key", cfg->listen.tls_key, &key)) != PV_OK) ||
	    (r = read_pem("listen.tcp.tls_cert", cfg->listen.tls_cert, &cert)) != PV_OK)
		goto out;
	if (cfg->listen.client_ca != NULL &&
	    (r = read_pem("listen.tcp.client_ca", cfg->listen.client_ca, &ca)) != PV_OK)
		goto out;
	r = PV_ERR_USAGE;
	if ((e = gnutls_certificate_allocate_credentials(&t->cred)) != GNUTLS_E_SUCCESS) {
		t->cred = NULL;
		where = "credentials";
		goto tls_fail;
	}
	dc = datum_of(cert);
	if (on_token) {
		if ((r = vd_tls_token_key(cfg, d, t->cred, &dc)) != PV_OK)
			goto out;
		r = PV_ERR_USAGE;
	} else {
		dk = datum_of(key);
		if ((e = gnutls_certificate_set_x509_key_mem(t->cred, &dc, &dk, GNUTLS_X509_FMT_PEM)) < 0) {
			where = "listen.tcp.tls_key/tls_cert";
			goto tls_fail;
		}
	}
	if (ca != NULL) {
		dca = datum_of(ca);
		if ((e = gnutls_certificate_set_x509_trust_mem(t->cred, &dca, GNUTLS_X509_FMT_PEM)) <= 0) {
			if (e == 0)
				e = GNUTLS_E_NO_CERTIFICATE_FOUND;
			where = "listen.tcp.client_ca";
			goto tls_fail;
		}
		t->verify_clients = 1;
	}
	if ((e = gnutls_priority_init(&t->prio, VD_TLS_PRIORITIES, NULL)) != GNUTLS_E_SUCCESS) {
		t->prio = NULL;
		where = "priorities";
		goto tls_fail;
	}
	*verify_clients = t->verify_clients;
	*out = t;
	t = NULL;
	r = PV_OK;
	goto out;
tls_fail:
	pv_err_set_detail("TLS %s: %s", where, gnutls_strerror(e));
out:
	/* GnuTLS has parsed the PEMs; no copy stays here. */
	pv_secret_free(key);
	pv_secret_free(cert);
	pv_secret_free(ca);
	vd_tls_free(t);
	return r;
}

void
vd_tls_free(struct vd_tls *t)
{
	if (t == NULL)
		return;
	if (t->prio != NULL)
		gnutls_priority_deinit(t->prio);
	if (t->cred != NULL)
		gnutls_certificate_free_credentials(t->cred);
	free(t);
}

pv_err
vd_tls_session(struct vd_tls *t, int fd, gnutls_session_t *out)
{
	gnutls_session_t s = NULL;

	if (gnutls_init(&s, GNUTLS_SERVER | GNUTLS_NONBLOCK) != GNUTLS_E_SUCCESS)
		return PV_ERR_NOMEM;
	if (gnutls_priority_set(s, t->prio) != GNUTLS_E_SUCCESS ||
	    gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, t->cred) != GNUTLS_E_SUCCESS) {
		gnutls_deinit(s);
		return PV_ERR_INTERNAL;
	}
	/* A certificate is asked for, not required: without one, a bearer
	 * token may still do; one that is sent must verify. */
	if (t->verify_clients)
		gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUEST);
	gnutls_transport_set_int(s, fd);
	*out = s;
	return PV_OK;
}

static int
io_result(gnutls_session_t s, int e)
{
	if (e == GNUTLS_E_AGAIN || e == GNUTLS_E_INTERRUPTED)
		return gnutls_record_get_direction(s) == 0 ? VD_IO_WANT_READ : VD_IO_WANT_WRITE;
	return VD_IO_FAIL;
}

int
vd_tls_handshake(gnutls_session_t s)
{
	int e = GNUTLS_E_SUCCESS, i;

	/* A warning alert is not an end: the handshake goes on (a few times
	 * at most). */
	for (i = 0; i < 4; i++) {
		e = gnutls_handshake(s);
		if (e == GNUTLS_E_SUCCESS)
			return 0;
		if (e == GNUTLS_E_AGAIN || e == GNUTLS_E_INTERRUPTED)
			return io_result(s, e);
		if (gnutls_error_is_fatal(e))
			return VD_IO_FAIL;
	}
	return VD_IO_FAIL;
}

ssize_t
vd_tls_recv(gnutls_session_t s, void *p, size_t n)
{
	ssize_t got = gnutls_record_recv(s, p, n);

	if (got >= 0)
		return got;
	/* The client closing without close_notify is an end like any other. */
	if (got == GNUTLS_E_PREMATURE_TERMINATION)
		return 0;
	return io_result(s, (int)got);
}

ssize_t
vd_tls_send(gnutls_session_t s, const void *p, size_t n)
{
	ssize_t put = gnutls_record_send(s, p, n);

	if (put >= 0)
		return put;
	return io_result(s, (int)put);
}
