/*
 * The direct backend: the provider holds the token through libp11vault
 * (module, token URI, PIN source, session pool, recovery), like vaultctl.
 *
 * The token is opened and logged in at first use, under the state's mutex;
 * after that signing takes no lock of ours (the token layer and the
 * keystore are thread-safe). A PIN the token rejected is never tried
 * again: the failure sticks for the life of the process.
 *
 * p11vault: references go through the keystore, so the key's purpose and
 * the pinned version's state are checked at every signature. A pkcs11: URI
 * naming a p11vault key (object=NAME: the version active at load; NAME.vN,
 * x-p11vault-version=N or a version's id=: that version) is treated as that
 * key and version (its purpose still applies), like the vaultd backend
 * does; other token objects sign as raw objects.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "core/keys.h"
#include "core/keys_uri.h"
#include "core/pubkey.h"
#include "core/sigfmt.h"
#include "core/sign.h"
#include "provider/provider.h"

/* How long a keystore trusts its cached key metadata: a version retired
 * by another process is refused at the latest this many seconds later. */
#define DIRECT_META_TTL    2
/* Logins tried when the token reads as absent (p11v_direct_keystore). */
#define DIRECT_LOGIN_TRIES 5

/*
 * Set by an exit handler registered just after the module is loaded, so it
 * runs before the module's own exit-time destructors (LIFO): OpenSSL tears
 * the provider down from its own exit handler, when SoftHSM may be gone
 * already, so the token is then left alone (the process is ending).
 */
static atomic_int exiting;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

static void
on_exit_flag(void)
{
	atomic_store(&exiting, 1);
}

static void
exit_register(void)
{
	(void)atexit(on_exit_flag);
}

struct direct {
	pthread_mutex_t mu; /* set-up only; never held across a signature */
	p11_token *tok;
	pv_keystore *ks;
	int pin_rejected; /* the token said no to the PIN: never again */
};

static int
err_reason(pv_err r)
{
	switch (r) {
	case PV_ERR_NOT_FOUND:
		return P11V_R_NOT_FOUND;
	case PV_ERR_PURPOSE:
		return P11V_R_PURPOSE;
	case PV_ERR_STATE:
		return P11V_R_RETIRED;
	case PV_ERR_MODULE_LOAD:
	case PV_ERR_TOKEN_NOT_FOUND:
	case PV_ERR_TOKEN_UNAVAILABLE:
	case PV_ERR_PIN_INCORRECT:
	case PV_ERR_PIN_LOCKED:
	case PV_ERR_PIN_FINAL_TRY:
	case PV_ERR_PIN_SOURCE:
	case PV_ERR_NOT_LOGGED_IN:
	case PV_ERR_SESSION:
	case PV_ERR_BUSY:
	case PV_ERR_PKCS11:
		return P11V_R_TOKEN;
	case PV_ERR_KEY_TYPE:
	case PV_ERR_MECHANISM:
	case PV_ERR_USAGE:
		return P11V_R_UNSUPPORTED;
	default:
		return P11V_R_INTERNAL;
	}
}

/* Raise r with libp11vault's detail (never secret: err.h). */
void
p11v_direct_raise(p11v_prov *p, int r, const char *what)
{
	const char *d = pv_err_detail();

	if (d[0] != '\0')
		p11v_raise(p, err_reason(r), "%s: %s (%s)", what, d, pv_strerror(r));
	else
		p11v_raise(p, err_reason(r), "%s: %s", what, pv_strerror(r));
}

static struct direct *
state(p11v_prov *p)
{
	void **slot = p11v_backend_slot(p);
	struct direct *d;

	p11v_prov_lock(p);
	if ((d = *slot) == NULL && (d = calloc(1, sizeof(*d))) != NULL) {
		pthread_mutex_init(&d->mu, NULL);
		*slot = d;
	}
	p11v_prov_unlock(p);
	if (d == NULL)
		p11v_raise(p, P11V_R_INTERNAL, "out of memory");
	return d;
}

/* The keystore, opening and logging in to the token at first use. */
pv_keystore *
p11v_direct_keystore(p11v_prov *p)
{
	struct p11_token_opts o;
	struct p11_token_info ti;
	struct direct *d;
	pv_keystore *ks = NULL;
	pv_err r = PV_OK;

	if ((d = state(p)) == NULL)
		return NULL;
	pthread_mutex_lock(&d->mu);
	if (d->ks != NULL) {
		ks = d->ks;
		goto out;
	}
	if (d->pin_rejected) {
		p11v_raise(p, P11V_R_TOKEN, "the token rejected the PIN earlier; it is not tried again");
		goto out;
	}
	if (d->tok == NULL) {
		memset(&o, 0, sizeof(o));
		o.token_uri = p11v_conf(p, "token");
		o.module = p11v_conf(p, "pkcs11-module");
		o.pin_source = p11v_conf(p, "pin-source");
		if ((r = p11_token_open(&o, &d->tok)) != PV_OK) {
			p11v_direct_raise(p, r, "cannot open the token");
			goto out;
		}
		(void)pthread_once(&exit_once, exit_register);
	}
	/* In a forked child the first login re-initialises the module
	 * (p11_fork_check): SoftHSM can then read its token files as absent
	 * while another process reads or writes them. A few tries, as
	 * p11_token_open makes (about 1 s). */
	for (unsigned tries = 0;; tries++) {
		r = p11_token_login(d->tok);
		if ((r != PV_ERR_TOKEN_NOT_FOUND && r != PV_ERR_TOKEN_UNAVAILABLE) ||
		    tries >= DIRECT_LOGIN_TRIES)
			break;
		(void)nanosleep(&(struct timespec){0, 50000000L * (long)(tries + 1)}, NULL);
		/* an operation (unlike the login) goes through the token
		 * layer's recovery: it finds the token again by its URI */
		if (p11_token_get_info(d->tok, &ti) != PV_OK)
			continue;
	}
	if (r != PV_OK) {
		if (r == PV_ERR_PIN_INCORRECT || r == PV_ERR_PIN_LOCKED || r == PV_ERR_PIN_FINAL_TRY)
			d->pin_rejected = 1;
		p11v_direct_raise(p, r, "cannot log in to the token");
		goto out;
	}
	if ((r = pv_keystore_new(d->tok, &d->ks)) != PV_OK) {
		p11v_direct_raise(p, r, "cannot use the token's keys");
		goto out;
	}
	pv_keystore_set_meta_ttl(d->ks, DIRECT_META_TTL);
	ks = d->ks;
out:
	pthread_mutex_unlock(&d->mu);
	return ks;
}

/* ---- loading ---- */

/* The public key moved into the provider's library context. */
static EVP_PKEY *
pub_to_libctx(p11v_prov *p, EVP_PKEY *pk)
{
	unsigned char *der = NULL;
	const unsigned char *q;
	EVP_PKEY *out = NULL;
	int len;

	if ((len = i2d_PUBKEY(pk, &der)) <= 0) {
		p11v_raise(p, P11V_R_INTERNAL, "cannot encode the public key");
		return NULL;
	}
	q = der;
	if ((out = d2i_PUBKEY_ex(NULL, &q, len, p11v_libctx(p), NULL)) == NULL)
		p11v_raise(p, P11V_R_INTERNAL, "cannot decode the public key");
	OPENSSL_free(der);
	return out;
}

static int
ktype_of(pv_alg alg, enum p11v_ktype *t)
{
	const struct pv_alg_info *ai = pv_alg_info(alg);

	if (ai == NULL)
		return 0;
	switch (ai->family) {
	case PV_FAMILY_EC:
		*t = P11V_KT_EC;
		return 1;
	case PV_FAMILY_RSA:
		*t = P11V_KT_RSA;
		return 1;
	case PV_FAMILY_EDDSA:
		*t = P11V_KT_ED25519;
		return 1;
	default:
		return 0;
	}
}

/* The provider serves signatures (sign), RSA-OAEP (decrypt) and ECDH
 * (derive); keys of other purposes are not even loaded. */
static int
purpose_served(pv_key_purpose pp)
{
	return pp == PV_PURPOSE_SIGN || pp == PV_PURPOSE_DECRYPT || pp == PV_PURPOSE_DERIVE;
}

static p11v_key *
load_named(p11v_prov *p, pv_keystore *ks, const char *name, unsigned version)
{
	struct p11v_keyref ref;
	struct pv_key *key = NULL;
	struct pv_key_version ver;
	enum p11v_ktype t;
	EVP_PKEY *pk = NULL, *pub = NULL;
	p11v_key *k = NULL;
	p11_obj obj;
	pv_err r;

	if ((r = pv_keys_resolve(ks, name, version, &key, &ver, &obj)) != PV_OK) {
		p11v_direct_raise(p, r, "key reference");
		goto out;
	}
	if (ver.state != PV_STATE_ACTIVE && ver.state != PV_STATE_VERIFY_ONLY) {
		p11v_raise(p, P11V_R_RETIRED, "version %u of '%s' is %s; it does not sign", ver.version, name,
			   pv_key_state_name(ver.state));
		goto out;
	}
	if (!purpose_served(key->purpose)) {
		p11v_raise(p, P11V_R_PURPOSE,
			   "key '%s' has purpose %s; the provider uses sign, decrypt and derive keys", name,
			   pv_key_purpose_name(key->purpose));
		goto out;
	}
	if (!ktype_of(key->alg, &t)) {
		p11v_raise(p, P11V_R_UNSUPPORTED, "key '%s' is not a public-key pair", name);
		goto out;
	}
	if ((r = pv_keys_public(ks, key, &ver, &pk)) != PV_OK) {
		p11v_direct_raise(p, r, "public key");
		goto out;
	}
	if ((pub = pub_to_libctx(p, pk)) == NULL)
		goto out;
	memset(&ref, 0, sizeof(ref));
	(void)snprintf(ref.name, sizeof(ref.name), "%s", key->name);
	ref.version = ver.version;
	k = p11v_key_new(p, t, pub, &ref);
	pub = NULL;
out:
	EVP_PKEY_free(pk);
	EVP_PKEY_free(pub);
	pv_key_free(key);
	return k;
}

/* The p11vault key and version whose token object has this CKA_ID, if any
 * (then the object is used as that key: its purpose applies). */
static int
named_by_id(pv_keystore *ks, const uint8_t *id, size_t id_len, char *name, size_t namelen, unsigned *version)
{
	struct pv_key **keys = NULL;
	size_t n = 0;
	int found = 0;

	if (id_len == 0 || pv_keys_list(ks, &keys, &n) != PV_OK)
		return 0;
	for (size_t i = 0; i < n && !found; i++) {
		for (size_t j = 0; j < keys[i]->nversions; j++) {
			const struct pv_key_version *v = &keys[i]->versions[j];

			if (v->id_len == id_len && memcmp(v->id, id, id_len) == 0) {
				(void)snprintf(name, namelen, "%s", keys[i]->name);
				*version = v->version;
				found = 1;
				break;
			}
		}
	}
	pv_keys_list_free(keys, n);
	return found;
}

/* The fast way for the usual labels: an object labelled NAME.vN whose
 * CKA_ID is that of version N of key NAME (one metadata read, no list). */
static int
named_by_label(pv_keystore *ks, const char *label, const uint8_t *id, size_t id_len, char *name,
	       size_t namelen, unsigned *version)
{
	const char *dot = strrchr(label, '.');
	struct pv_key *key = NULL;
	struct pv_key_version ver;
	char nm[PV_KEY_NAME_MAX + 1];
	unsigned long v;
	char *end = NULL;
	p11_obj obj;
	int found = 0;

	if (id_len == 0 || dot == NULL || dot[1] != 'v' || dot[2] < '1' || dot[2] > '9' ||
	    (size_t)(dot - label) >= sizeof(nm))
		return 0;
	v = strtoul(dot + 2, &end, 10);
	if (*end != '\0' || v > PV_KEY_VERSIONS_MAX)
		return 0;
	memcpy(nm, label, (size_t)(dot - label));
	nm[dot - label] = '\0';
	if (!pv_key_name_valid(nm) || pv_keys_resolve(ks, nm, (unsigned)v, &key, &ver, &obj) != PV_OK)
		return 0;
	if (ver.id_len == id_len && memcmp(ver.id, id, id_len) == 0) {
		(void)snprintf(name, namelen, "%s", nm);
		*version = ver.version;
		found = 1;
	}
	pv_key_free(key);
	return found;
}

static void
obj_ref(p11_obj *o, CK_OBJECT_CLASS cls, const uint8_t *id, size_t id_len, const char *label)
{
	memset(o, 0, sizeof(*o));
	o->cls = cls;
	o->token_only = 1;
	o->handle = CK_INVALID_HANDLE;
	if (id_len > 0 && id_len <= sizeof(o->id)) {
		memcpy(o->id, id, id_len);
		o->id_len = id_len;
	}
	if (label != NULL)
		(void)snprintf(o->label, sizeof(o->label), "%s", label);
}

/* The public key of a raw object: its public key object, else its
 * certificate, else (RSA) the private key's own modulus. */
static pv_err
raw_public(p11_token *tok, p11_obj *priv, CK_KEY_TYPE kt, const uint8_t *id, size_t id_len, const char *label,
	   EVP_PKEY **out)
{
	uint8_t *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	const unsigned char *q;
	X509 *x = NULL;
	p11_obj o;
	pv_err r;

	*out = NULL;
	obj_ref(&o, CKO_PUBLIC_KEY, id, id_len, id_len > 0 ? NULL : label);
	if (kt == CKK_RSA) {
		if ((r = p11_obj_get_attr(tok, &o, CKA_MODULUS, &a, &alen)) != PV_OK ||
		    (r = p11_obj_get_attr(tok, &o, CKA_PUBLIC_EXPONENT, &b, &blen)) != PV_OK) {
			free(a);
			a = NULL;
			if ((r = p11_obj_get_attr(tok, priv, CKA_MODULUS, &a, &alen)) == PV_OK)
				r = p11_obj_get_attr(tok, priv, CKA_PUBLIC_EXPONENT, &b, &blen);
		}
		if (r == PV_OK)
			r = pv_pubkey_from_rsa(a, alen, b, blen, out);
		goto out;
	}
	if ((r = p11_obj_get_attr(tok, &o, CKA_EC_PARAMS, &a, &alen)) == PV_OK &&
	    (r = p11_obj_get_attr(tok, &o, CKA_EC_POINT, &b, &blen)) == PV_OK) {
		r = pv_pubkey_from_ec(a, alen, b, blen, NULL, out);
		goto out;
	}
	free(a);
	a = NULL;
	obj_ref(&o, CKO_CERTIFICATE, id, id_len, id_len > 0 ? NULL : label);
	if ((r = p11_obj_get_attr(tok, &o, CKA_VALUE, &a, &alen)) != PV_OK)
		goto out;
	q = a;
	if ((x = d2i_X509(NULL, &q, (long)alen)) == NULL || (*out = X509_get_pubkey(x)) == NULL) {
		pv_err_set_detail("the certificate of the object cannot be read");
		r = PV_ERR_BAD_INPUT;
	}
out:
	X509_free(x);
	free(a);
	free(b);
	return r;
}

/* The token a pkcs11: URI names must be ours (the provider opens one). */
static int
token_matches(p11v_prov *p, p11_token *tok, const char *want)
{
	struct p11_token_info ti;
	pv_err r;

	if (want[0] == '\0')
		return 1;
	if ((r = p11_token_get_info(tok, &ti)) != PV_OK) {
		p11v_direct_raise(p, r, "token info");
		return 0;
	}
	if (strcmp(ti.label, want) != 0) {
		p11v_raise(p, P11V_R_NOT_FOUND, "token '%s' is not the configured token ('%s')", want,
			   ti.label);
		return 0;
	}
	return 1;
}

static p11v_key *
load_raw(p11v_prov *p, pv_keystore *ks, const struct p11v_uri *u)
{
	p11_token *tok = pv_keystore_token(ks);
	struct p11v_keyref ref;
	char name[PV_KEY_NAME_MAX + 1];
	uint8_t *id = NULL, *kt = NULL, *lbl = NULL;
	size_t id_len = 0, kt_len = 0, lbl_len = 0;
	char label[P11_LABEL_MAX] = "";
	CK_KEY_TYPE ckk;
	enum p11v_ktype t;
	EVP_PKEY *pk = NULL, *pub = NULL;
	p11v_key *k = NULL;
	unsigned version = 0;
	struct pv_key_ref kref;
	p11_obj priv;
	pv_err r;

	if (u->want_cert) {
		p11v_raise(p, P11V_R_BAD_URI, "type=cert names a certificate, not a key");
		return NULL;
	}
	if (!token_matches(p, tok, u->token))
		return NULL;
	/* a p11vault key named by the URI (core/keys_uri.h: object=NAME, NAME.vN,
	 * x-p11vault-version=N, id= of a version): p11vault:NAME[;version=N],
	 * pinned at load; a key name wins over a raw object of the same label */
	if (u->want_private || u->version != 0) {
		if ((r = pv_keys_ref_lookup(ks, u->name, u->id, u->id_len, u->version, &kref)) != PV_OK) {
			p11v_direct_raise(p, r, "key reference");
			return NULL;
		}
		if (kref.name[0] != '\0')
			return load_named(p, ks, kref.name, kref.version);
	}
	obj_ref(&priv, u->want_private ? CKO_PRIVATE_KEY : CKO_PUBLIC_KEY, u->id, u->id_len, u->name);
	if ((r = p11_obj_find(tok, &priv)) != PV_OK) {
		/* object=NAME of a p11vault key (whose objects are NAME.vN):
		 * that key's active version (for type=public the store hands
		 * over its public half alone) */
		if (r == PV_ERR_NOT_FOUND && u->id_len == 0 && pv_key_name_valid(u->name)) {
			k = load_named(p, ks, u->name, 0);
			goto out;
		}
		p11v_direct_raise(p, r, u->want_private ? "no such private key" : "no such public key");
		goto out;
	}
	if ((r = p11_obj_get_attr(tok, &priv, CKA_ID, &id, &id_len)) != PV_OK)
		id_len = 0;
	/* a version of a p11vault key: that key, pinned to that version */
	if (p11_obj_get_attr(tok, &priv, CKA_LABEL, &lbl, &lbl_len) == PV_OK && lbl_len < sizeof(label)) {
		memcpy(label, lbl, lbl_len);
		label[lbl_len] = '\0';
	}
	if (u->want_private && (named_by_label(ks, label, id, id_len, name, sizeof(name), &version) ||
				named_by_id(ks, id, id_len, name, sizeof(name), &version))) {
		k = load_named(p, ks, name, version);
		goto out;
	}
	if ((r = p11_obj_get_attr(tok, &priv, CKA_KEY_TYPE, &kt, &kt_len)) != PV_OK ||
	    kt_len != sizeof(ckk)) {
		p11v_direct_raise(p, r != PV_OK ? r : PV_ERR_BAD_INPUT, "key type");
		goto out;
	}
	memcpy(&ckk, kt, sizeof(ckk));
	if (ckk == CKK_RSA)
		t = P11V_KT_RSA;
	else if (ckk == CKK_EC)
		t = P11V_KT_EC;
	else if (ckk == CKK_EC_EDWARDS)
		t = P11V_KT_ED25519;
	else {
		p11v_raise(p, P11V_R_UNSUPPORTED, "the object is not an RSA, EC or Ed25519 key");
		goto out;
	}
	if ((r = raw_public(tok, &priv, ckk, id, id_len, u->name, &pk)) != PV_OK) {
		p11v_direct_raise(p, r, "public key of the object");
		goto out;
	}
	if (pv_pubkey_alg(pk) == PV_ALG_NONE) {
		p11v_raise(p, P11V_R_UNSUPPORTED,
			   "the object's key is of a curve or size p11vault does not sign with");
		goto out;
	}
	if ((pub = pub_to_libctx(p, pk)) == NULL)
		goto out;
	memset(&ref, 0, sizeof(ref));
	if (id_len > 0 && id_len <= sizeof(ref.id)) {
		memcpy(ref.id, id, id_len);
		ref.id_len = id_len;
	}
	(void)snprintf(ref.label, sizeof(ref.label), "%s", u->name);
	k = p11v_key_new(p, t, pub, u->want_private ? &ref : NULL);
	pub = NULL;
out:
	EVP_PKEY_free(pk);
	EVP_PKEY_free(pub);
	free(id);
	free(kt);
	free(lbl);
	return k;
}

p11v_key *
p11v_direct_load(p11v_prov *p, const struct p11v_uri *u)
{
	pv_keystore *ks;

	if ((ks = p11v_direct_keystore(p)) == NULL)
		return NULL;
	if (u->is_pkcs11)
		return load_raw(p, ks, u);
	return load_named(p, ks, u->name, u->version);
}

/* ---- certificates ---- */

int
p11v_direct_cert(p11v_prov *p, const struct p11v_uri *u, unsigned char **der, size_t *derlen)
{
	struct pv_key *key = NULL;
	struct pv_key_version ver;
	uint8_t *v = NULL;
	size_t vlen = 0;
	pv_keystore *ks;
	p11_obj o, priv;
	int ok = 0;
	pv_err r;

	*der = NULL;
	*derlen = 0;
	if ((ks = p11v_direct_keystore(p)) == NULL)
		return 0;
	if (u->is_pkcs11) {
		if (!token_matches(p, pv_keystore_token(ks), u->token))
			return 0;
		obj_ref(&o, CKO_CERTIFICATE, u->id, u->id_len, u->id_len > 0 ? NULL : u->name);
	} else {
		if ((r = pv_keys_resolve(ks, u->name, u->version, &key, &ver, &priv)) != PV_OK) {
			p11v_direct_raise(p, r, "key reference");
			return 0;
		}
		obj_ref(&o, CKO_CERTIFICATE, ver.id, ver.id_len, NULL);
		pv_key_free(key);
	}
	if ((r = p11_obj_get_attr(pv_keystore_token(ks), &o, CKA_VALUE, &v, &vlen)) != PV_OK) {
		p11v_direct_raise(p, r, "no certificate for the reference");
		goto out;
	}
	if ((*der = OPENSSL_memdup(v, vlen)) == NULL) {
		p11v_raise(p, P11V_R_INTERNAL, "out of memory");
		goto out;
	}
	*derlen = vlen;
	ok = 1;
out:
	free(v);
	return ok;
}

/* Whether the certificate object's CKA_SUBJECT is the name want, compared
 * as X.509 names (X509_NAME_cmp: canonical form), not as bytes. */
static int
subject_is(p11_token *tok, CK_OBJECT_HANDLE h, const X509_NAME *want)
{
	uint8_t *v = NULL;
	size_t vlen = 0;
	const unsigned char *q;
	X509_NAME *got = NULL;
	int same = 0;

	if (p11_handle_get_attr(tok, h, CKA_SUBJECT, &v, &vlen) != PV_OK)
		return 0; /* no subject on the object: it matches no search */
	q = v;
	if ((got = d2i_X509_NAME(NULL, &q, (long)vlen)) != NULL && q == v + vlen)
		same = X509_NAME_cmp(got, want) == 0;
	X509_NAME_free(got);
	free(v);
	return same;
}

/* One search (the token's certificates, narrowed by object= and id=), then
 * each one's subject compared. */
int
p11v_direct_certs_by_subject(p11v_prov *p, const struct p11v_uri *u, const unsigned char *name,
			     size_t namelen, struct p11v_certs *out)
{
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE t[4];
	CK_ULONG nt = 0;
	CK_OBJECT_HANDLE *hs = NULL;
	const unsigned char *q = name;
	X509_NAME *want = NULL;
	size_t n = 0, i;
	uint8_t *v = NULL;
	size_t vlen = 0;
	pv_keystore *ks;
	p11_token *tok;
	int ok = 0;
	pv_err r;

	memset(out, 0, sizeof(*out));
	if ((want = d2i_X509_NAME(NULL, &q, (long)namelen)) == NULL || q != name + namelen) {
		p11v_raise(p, P11V_R_BAD_URI, "the subject to search for is not a DER X.509 name");
		goto out;
	}
	if ((ks = p11v_direct_keystore(p)) == NULL)
		goto out;
	tok = pv_keystore_token(ks);
	if (!token_matches(p, tok, u->token))
		goto out;
	t[nt++] = (CK_ATTRIBUTE){CKA_CLASS, &cls, sizeof(cls)};
	t[nt++] = (CK_ATTRIBUTE){CKA_TOKEN, &yes, sizeof(yes)};
	if (u->name[0] != '\0')
		t[nt++] = (CK_ATTRIBUTE){CKA_LABEL, (void *)(uintptr_t)u->name, strlen(u->name)};
	if (u->id_len > 0)
		t[nt++] = (CK_ATTRIBUTE){CKA_ID, (void *)(uintptr_t)u->id, u->id_len};
	if ((r = p11_find_all(tok, t, nt, &hs, &n)) != PV_OK) {
		p11v_direct_raise(p, r, "certificate search");
		goto out;
	}
	if (n > 0 && ((out->ders = OPENSSL_zalloc(n * sizeof(*out->ders))) == NULL ||
		      (out->lens = OPENSSL_zalloc(n * sizeof(*out->lens))) == NULL)) {
		p11v_raise(p, P11V_R_INTERNAL, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (!subject_is(tok, hs[i], want))
			continue;
		if ((r = p11_handle_get_attr(tok, hs[i], CKA_VALUE, &v, &vlen)) != PV_OK) {
			p11v_direct_raise(p, r, "certificate");
			goto out;
		}
		if ((out->ders[out->n] = OPENSSL_memdup(v, vlen)) == NULL) {
			p11v_raise(p, P11V_R_INTERNAL, "out of memory");
			goto out;
		}
		out->lens[out->n++] = vlen;
		free(v);
		v = NULL;
	}
	ok = 1;
out:
	X509_NAME_free(want);
	free(v);
	free(hs);
	if (!ok)
		p11v_certs_free(out);
	return ok;
}

/* ---- signing ---- */

/* The digest mdname names, which must be tbslen bytes long. */
static int
check_digest(p11v_prov *p, const struct p11v_sigreq *rq, size_t *mdlen)
{
	EVP_MD *md = NULL;
	int ok = 0, n;

	static const struct {
		const char *name;
		size_t len;
	} usual[] = {{"SHA256", 32}, {"SHA384", 48}, {"SHA512", 64}};

	if (rq->mdname == NULL) {
		*mdlen = rq->tbslen;
		return 1;
	}
	/* signature.c's names for what the token signs: no fetch per signature */
	for (size_t i = 0; i < PV_NELEM(usual); i++) {
		if (strcmp(rq->mdname, usual[i].name) != 0)
			continue;
		if (rq->tbslen != usual[i].len) {
			p11v_raise(p, P11V_R_UNSUPPORTED, "%zu bytes are not a %s digest", rq->tbslen,
				   rq->mdname);
			return 0;
		}
		*mdlen = usual[i].len;
		return 1;
	}
	if ((md = EVP_MD_fetch(p11v_libctx(p), rq->mdname, NULL)) == NULL) {
		p11v_raise(p, P11V_R_UNSUPPORTED, "unknown digest '%.32s'", rq->mdname);
		return 0;
	}
	if (!EVP_MD_is_a(md, "SHA2-256") && !EVP_MD_is_a(md, "SHA2-384") && !EVP_MD_is_a(md, "SHA2-512")) {
		p11v_raise(p, P11V_R_UNSUPPORTED,
			   "digest '%.32s': the token signs SHA-256, SHA-384 and SHA-512", rq->mdname);
		goto out;
	}
	n = EVP_MD_get_size(md);
	if (n <= 0 || (size_t)n != rq->tbslen) {
		p11v_raise(p, P11V_R_UNSUPPORTED, "%zu bytes are not a %s digest", rq->tbslen, rq->mdname);
		goto out;
	}
	*mdlen = (size_t)n;
	ok = 1;
out:
	EVP_MD_free(md);
	return ok;
}

static int
same_digest(p11v_prov *p, const char *a, const char *b)
{
	EVP_MD *ma = EVP_MD_fetch(p11v_libctx(p), a, NULL);
	EVP_MD *mb = EVP_MD_fetch(p11v_libctx(p), b, NULL);
	int same = ma != NULL && mb != NULL && EVP_MD_get_type(ma) == EVP_MD_get_type(mb);

	EVP_MD_free(ma);
	EVP_MD_free(mb);
	return same;
}

/* What the request asks of libp11vault's signing options. */
static int
sign_opts(p11v_prov *p, const struct p11v_sigreq *rq, struct pv_sign_opts *o)
{
	size_t mdlen = 0;

	memset(o, 0, sizeof(*o));
	o->purpose = PV_PURPOSE_SIGN;
	o->digest = PV_DIGEST_NONE;
	/* the pinned version signs while it is active, and after a rotation
	 * made it verify-only; retired (or next) fails closed */
	o->overtaken_ok = 1;
	switch (rq->mech) {
	case P11V_SIG_EDDSA:
		return 1;
	case P11V_SIG_ECDSA:
		return check_digest(p, rq, &mdlen);
	case P11V_SIG_RSA_PKCS1:
		if (rq->mdname == NULL) {
			p11v_raise(p, P11V_R_UNSUPPORTED,
				   "RSA PKCS#1 v1.5 without a digest (raw) is not supported; set the digest");
			return 0;
		}
		return check_digest(p, rq, &mdlen);
	case P11V_SIG_RSA_PSS:
		if (rq->mdname == NULL) {
			p11v_raise(p, P11V_R_UNSUPPORTED, "RSA-PSS needs a digest");
			return 0;
		}
		if (!check_digest(p, rq, &mdlen))
			return 0;
		if (rq->mgf1_mdname != NULL && !same_digest(p, rq->mdname, rq->mgf1_mdname)) {
			/* libp11vault signs PSS with MGF1 over the signature's digest */
			p11v_raise(p, P11V_R_UNSUPPORTED, "RSA-PSS: MGF1 must use the signature's digest");
			return 0;
		}
		if (rq->saltlen < 0 || (size_t)rq->saltlen != mdlen) {
			p11v_raise(
			    p, P11V_R_UNSUPPORTED,
			    "RSA-PSS: only a salt as long as the digest (%zu bytes) is supported, not %d",
			    mdlen, rq->saltlen);
			return 0;
		}
		o->pss = 1;
		return 1;
	}
	p11v_raise(p, P11V_R_UNSUPPORTED, "unknown signature mechanism");
	return 0;
}

/*
 * ECDSA's r||s from the token as the DER ECDSA-Sig-Value OpenSSL's own
 * ECDSA returns, encoded by OpenSSL into a buffer on the stack
 * (pv_ecdsa_raw_to_der_buf: no heap copy per signature).
 */
static int
ecdsa_der(p11v_prov *p, const struct pv_sig *s, size_t field_len, unsigned char *sig, size_t *siglen,
	  size_t sigsize)
{
	uint8_t der[PV_ECDSA_DER_MAX];
	size_t len = 0;
	pv_err r;

	if ((r = pv_ecdsa_raw_to_der_buf(s->bytes, s->len, field_len, der, sizeof(der), &len)) != PV_OK) {
		p11v_direct_raise(p, r, "cannot encode the ECDSA signature");
		return 0;
	}
	if (len > sigsize) {
		p11v_raise(p, P11V_R_INTERNAL, "signature buffer too small (%zu < %zu)", sigsize, len);
		return 0;
	}
	memcpy(sig, der, len);
	*siglen = len;
	return 1;
}

/* The raw signature in the form OpenSSL's own implementations return. */
static int
sig_out(p11v_prov *p, const struct p11v_sigreq *rq, const struct pv_sig *s, unsigned char *sig,
	size_t *siglen, size_t sigsize)
{
	const struct pv_alg_info *ai = pv_alg_info(s->alg);

	if (rq->mech != P11V_SIG_ECDSA) {
		if (s->len > sigsize) {
			p11v_raise(p, P11V_R_INTERNAL, "signature buffer too small (%zu < %zu)", sigsize,
				   s->len);
			return 0;
		}
		memcpy(sig, s->bytes, s->len);
		*siglen = s->len;
		return 1;
	}
	if (ai == NULL) {
		p11v_raise(p, P11V_R_INTERNAL, "cannot encode the ECDSA signature");
		return 0;
	}
	return ecdsa_der(p, s, ai->field_len, sig, siglen, sigsize);
}

/* The mechanism must fit the key (an ECDSA request for an RSA key is a bug
 * upstream, not something to sign). */
static int
mech_fits(p11v_prov *p, const p11v_key *k, enum p11v_sigmech m)
{
	enum p11v_ktype t = p11v_key_type(k);
	int ok = (m == P11V_SIG_ECDSA && t == P11V_KT_EC) || (m == P11V_SIG_EDDSA && t == P11V_KT_ED25519) ||
		 ((m == P11V_SIG_RSA_PKCS1 || m == P11V_SIG_RSA_PSS) && t == P11V_KT_RSA) ||
		 (m == P11V_SIG_RSA_PSS && t == P11V_KT_RSA_PSS);

	if (!ok)
		p11v_raise(p, P11V_R_UNSUPPORTED, "the signature mechanism does not fit the key");
	return ok;
}

int
p11v_direct_sign(p11v_key *k, const struct p11v_sigreq *rq, unsigned char *sig, size_t *siglen,
		 size_t sigsize)
{
	p11v_prov *p = p11v_key_prov(k);
	const struct p11v_keyref *ref = p11v_key_ref(k);
	struct pv_sign_opts o;
	struct pv_sig s;
	pv_keystore *ks;
	p11_obj obj;
	pv_alg alg;
	pv_err r;

	if (ref == NULL || !mech_fits(p, k, rq->mech) || !sign_opts(p, rq, &o) ||
	    (ks = p11v_direct_keystore(p)) == NULL)
		return 0;
	if (ref->name[0] != '\0') {
		o.version = ref->version;
		r = pv_sign(ks, ref->name, &o, rq->tbs, rq->tbslen, &s);
	} else {
		if ((alg = pv_pubkey_alg(p11v_key_pub(k))) == PV_ALG_NONE) {
			p11v_raise(p, P11V_R_UNSUPPORTED,
				   "the key's algorithm is not one p11vault signs with");
			return 0;
		}
		obj_ref(&obj, CKO_PRIVATE_KEY, ref->id, ref->id_len, ref->id_len > 0 ? NULL : ref->label);
		r = pv_sign_obj(pv_keystore_token(ks), &obj, alg, &o, rq->tbs, rq->tbslen, &s);
	}
	if (r != PV_OK) {
		if (r == PV_ERR_STATE)
			p11v_raise(
			    p, P11V_R_RETIRED,
			    "version %u of '%s' is no longer usable (%s): failing closed rather than signing "
			    "with another version",
			    ref->version, ref->name, pv_err_detail());
		else
			p11v_direct_raise(p, r, "sign");
		return 0;
	}
	return sig_out(p, rq, &s, sig, siglen, sigsize);
}

/* ---- fork and teardown ---- */

void
p11v_direct_after_fork(p11v_prov *p)
{
	struct direct *d = *p11v_backend_slot(p);

	if (d == NULL)
		return;
	/* The child has one thread: a lock another parent thread held stays
	 * held. The keystore's locks may be such locks, so the child leaves
	 * the parent's keystore alone (not freed: freeing touches them) and
	 * makes its own at first use. The token stays: libp11vault notices
	 * the new pid at its next call and re-initialises the module, its
	 * sessions and the login (pkcs11/recover.c p11_fork_check). */
	pthread_mutex_init(&d->mu, NULL);
	d->ks = NULL;
}

void
p11v_direct_free(p11v_prov *p)
{
	void **slot = p11v_backend_slot(p);
	struct direct *d = *slot;

	if (d == NULL)
		return;
	if (!atomic_load(&exiting)) {
		pv_keystore_free(d->ks);
		p11_token_close(d->tok);
	}
	pthread_mutex_destroy(&d->mu);
	free(d);
	*slot = NULL;
}
