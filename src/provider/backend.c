/* The p11v_backend_* calls, sent to the backend the provider is
 * configured with (provider.h). */
#include "config.h"

#include <string.h>

#include <openssl/crypto.h>

#include "provider/provider.h"

int
p11v_backend_sign(p11v_key *k, const struct p11v_sigreq *rq, unsigned char *sig, size_t *siglen,
		  size_t sigsize)
{
	p11v_prov *p = p11v_key_prov(k);

	if (p11v_key_ephemeral(k) != NULL) {
		p11v_raise(p, P11V_R_UNSUPPORTED,
			   "an ephemeral key-exchange key cannot sign (it is not a key on the token)");
		return 0;
	}
	if (p11v_key_ref(k) == NULL) {
		p11v_raise(p, P11V_R_UNSUPPORTED, "a public key cannot sign");
		return 0;
	}
	if (sig == NULL || siglen == NULL) {
		p11v_raise(p, P11V_R_INTERNAL, "no buffer for the signature");
		return 0;
	}
	if (p11v_backend_of(p) == P11V_BACKEND_VAULTD)
		return p11v_vaultd_sign(k, rq, sig, siglen, sigsize);
	return p11v_direct_sign(k, rq, sig, siglen, sigsize);
}

p11v_key *
p11v_backend_load(p11v_prov *p, const char *uri)
{
	struct p11v_uri u;
	const char *why = NULL;

	if (uri == NULL || !p11v_uri_parse(uri, &u, &why)) {
		p11v_raise(p, P11V_R_BAD_URI, "%s", why != NULL ? why : "no key reference");
		return NULL;
	}
	return p11v_backend_load_ref(p, &u);
}

p11v_key *
p11v_backend_load_ref(p11v_prov *p, const struct p11v_uri *u)
{
	if (u->collection) {
		p11v_raise(p, P11V_R_BAD_URI,
			   "the reference names no key (a name, object= or id= is needed)");
		return NULL;
	}
	if (p11v_backend_of(p) == P11V_BACKEND_VAULTD)
		return p11v_vaultd_load(p, u);
	return p11v_direct_load(p, u);
}

void
p11v_backend_after_fork(p11v_prov *p)
{
	if (p11v_backend_of(p) == P11V_BACKEND_VAULTD)
		p11v_vaultd_after_fork(p);
	else
		p11v_direct_after_fork(p);
}

int
p11v_backend_cert_ref(p11v_prov *p, const struct p11v_uri *u, unsigned char **der, size_t *derlen)
{
	*der = NULL;
	*derlen = 0;
	if (u->collection) {
		p11v_raise(
		    p, P11V_R_BAD_URI,
		    "the reference names no certificate (object= or id= is needed, or a subject search)");
		return 0;
	}
	if (p11v_backend_of(p) == P11V_BACKEND_VAULTD) {
		p11v_raise(p, P11V_R_UNSUPPORTED,
			   "certificates on the token are read in the direct backend only");
		return 0;
	}
	return p11v_direct_cert(p, u, der, derlen);
}

int
p11v_backend_certs_by_subject(p11v_prov *p, const struct p11v_uri *u, const unsigned char *name,
			      size_t namelen, struct p11v_certs *out)
{
	memset(out, 0, sizeof(*out));
	if (p11v_backend_of(p) == P11V_BACKEND_VAULTD) {
		p11v_raise(p, P11V_R_UNSUPPORTED,
			   "certificates on the token are read in the direct backend only");
		return 0;
	}
	return p11v_direct_certs_by_subject(p, u, name, namelen, out);
}

void
p11v_certs_free(struct p11v_certs *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++)
		OPENSSL_free(c->ders[i]);
	OPENSSL_free(c->ders);
	OPENSSL_free(c->lens);
	memset(c, 0, sizeof(*c));
}
