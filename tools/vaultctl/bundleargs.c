/* Shared pieces of the bundle commands (see bundleargs.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "base/buf.h"
#include "base/json.h"
#include "bundle/envname.h"
#include "bundleargs.h"
#include "core/pubkey.h"
#include "core/keys_uri.h"
#include "pkcs11/objuri.h"

int
bundleargs_read_option(struct vctl *c, const char *usage, int ch, const char *arg, struct bundle_read_args *a)
{
	char *end = NULL;
	unsigned long long v;

	switch (ch) {
	case OPT_MIN_VERSION:
		errno = 0;
		v = strtoull(arg, &end, 10);
		if (errno != 0 || end == arg || *end != '\0' || v < 1 || arg[0] == '-')
			return vctl_usage(c, usage, "--min-version takes a positive number");
		a->ro.min_version = v;
		return 0;
	case OPT_EXPECT_CONTEXT:
		if (strchr(arg, '=') == NULL || arg[0] == '=')
			return vctl_usage(c, usage, "--expect-context takes NAME=VALUE");
		if (a->ro.nexpect >= BUNDLEARGS_MAX_EXPECT)
			return vctl_usage(c, usage, "too many --expect-context");
		a->expect[a->ro.nexpect++] = arg;
		a->ro.expect_ctx = a->expect;
		return 0;
	case OPT_KEY:
		a->key = arg;
		return 0;
	case OPT_REQUIRE_TOKEN_UNWRAP:
		a->ro.require_token_unwrap = 1;
		return 0;
	case OPT_TRUSTED_SEALER:
		if (a->ntrusted >= BUNDLEARGS_MAX_TRUSTED)
			return vctl_usage(c, usage, "too many --trusted-sealer");
		a->trusted[a->ntrusted++] = arg;
		return 0;
	default:
		return -1;
	}
}

int
bundleargs_allow_env(struct vctl *c, const char *usage, const char *arg, struct bundle_allow_env *a)
{
	if (!pv_entry_name_valid(PV_ENTRY_ENV, arg))
		return vctl_usage(c, usage, "--allow-env takes one exact variable name (no patterns): %.64s",
				  arg);
	if (a->n >= BUNDLEARGS_MAX_ALLOW_ENV)
		return vctl_usage(c, usage, "at most %d --allow-env", BUNDLEARGS_MAX_ALLOW_ENV);
	a->names[a->n++] = arg;
	return 0;
}

int
bundleargs_check_env_name(struct vctl *c, const char *name, const struct bundle_allow_env *a,
			  const char *verb)
{
	const char *rule = NULL;
	char why[32] = "";

	if (pv_env_name_check(name, a->names, a->n, &rule) == PV_OK) {
		if (rule != NULL)
			fprintf(stderr,
				"vaultctl: warning: %s changes how programs run; allowed by --allow-env %s\n",
				name, name);
		return 0;
	}
	if (strcmp(rule, name) != 0)
		snprintf(why, sizeof(why), " (%s)", rule);
	pv_err_set_detail("%s changes how programs run%s; refused (--allow-env %s to %s it anyway)", name,
			  why, name, verb);
	return vctl_fail(c, PV_ERR_REFUSED_NAME, "%s", c->cmd != NULL ? c->cmd : "vaultctl");
}

int
bundleargs_check_env(struct vctl *c, const struct pv_kvlist *kv, const struct bundle_allow_env *a,
		     const char *verb)
{
	size_t i;
	int rc;

	for (i = 0; i < kv->n; i++) {
		if (kv->items[i].kind == PV_ENTRY_ENV &&
		    (rc = bundleargs_check_env_name(c, kv->items[i].name, a, verb)) != 0)
			return rc;
	}
	return 0;
}

pv_err
bundleargs_read_secret(const char *path, size_t max, pv_secret **out)
{
	pv_err r;

	r = strcmp(path, "-") == 0 ? pv_secret_read_fd(0, max, out) : pv_secret_read_file(path, max, out);
	if (r == PV_ERR_NOT_FOUND || r == PV_ERR_IO) {
		pv_err_set_detail("cannot read %s", strcmp(path, "-") == 0 ? "stdin" : path);
		r = PV_ERR_USAGE;
	} else if (r == PV_ERR_TOO_LARGE) {
		pv_err_set_detail("%s is larger than %zu bytes", strcmp(path, "-") == 0 ? "stdin" : path,
				  max);
	}
	return r;
}

pv_err
bundleargs_load(const char *path, struct pv_bundle **b)
{
	pv_err r;

	r = strcmp(path, "-") == 0 ? pv_bundle_load_fd(0, b) : pv_bundle_load_file(path, b);
	if (r == PV_ERR_NOT_FOUND || r == PV_ERR_IO) {
		pv_err_set_detail("cannot read %s", path);
		r = PV_ERR_USAGE;
	}
	return r;
}

pv_err
bundleargs_save(const char *path, const char *out, const struct pv_bundle *b)
{
	char *text = NULL;
	size_t len = 0;
	pv_err r;

	if ((r = pv_bundle_serialize(b, &text, &len)) != PV_OK)
		return r;
	r = vctl_write_output(out != NULL ? out : path, text, len);
	free(text);
	return r;
}

static void
set_label(struct pv_rcpt_spec *s, const char *label, size_t len)
{
	size_t i, n = len < sizeof(s->label) - 1 ? len : sizeof(s->label) - 1;

	for (i = 0; i < n; i++) /* labels are for people: printable only */
		s->label[i] = (label[i] >= 0x20 && label[i] < 0x7f) ? label[i] : '?';
	s->label[n] = '\0';
}

/* Largest recipient PEM file (a certificate with a long chain is smaller). */
#define BUNDLEARGS_PEM_MAX (256 * 1024)

static pv_err
recipient_from_pem(const char *path, struct pv_rcpt_spec *s)
{
	BIO *bio = NULL;
	X509 *cert = NULL;
	EVP_PKEY *pk = NULL;
	pv_buf *pem = NULL;
	const char *base = strrchr(path, '/');
	pv_err r;

	/* a regular file only: a FIFO is refused, not waited on */
	if ((r = pv_buf_read_file(path, BUNDLEARGS_PEM_MAX, &pem)) != PV_OK) {
		if (r != PV_ERR_USAGE)
			pv_err_set_detail("cannot read %s", path);
		r = PV_ERR_USAGE;
		goto out;
	}
	r = PV_ERR_USAGE;
	if ((bio = BIO_new_mem_buf(pv_buf_ptr(pem), (int)pv_buf_len(pem))) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	if ((pk = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL)) == NULL) {
		(void)BIO_reset(bio);
		if ((cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
			pk = X509_get_pubkey(cert);
	}
	if (pk == NULL) {
		pv_err_set_detail("%s holds no PEM public key or certificate", path);
		goto out;
	}
	if (EVP_PKEY_base_id(pk) != EVP_PKEY_RSA) {
		pv_err_set_detail("%s: only RSA public keys can be recipients", path);
		r = PV_ERR_KEY_TYPE;
		goto out;
	}
	s->type = PV_RCPT_RSA_OAEP_SHA256;
	base = base ? base + 1 : path;
	set_label(s, base, strlen(base));
	s->pub = pk;
	pk = NULL;
	r = PV_OK;
out:
	EVP_PKEY_free(pk);
	X509_free(cert);
	BIO_free(bio);
	pv_buf_free(pem);
	return r;
}

#define RCPT_NEEDS "a recipient needs an aes256 key of purpose wrap or an RSA key of purpose decrypt"

/* A p11vault key as a recipient: version 0 = the active one. uri: the
 * pkcs11: URI it was named by (for the error), or NULL. check_purpose: the
 * key is to be wrapped for (seal, rewrap, rotate), so it must be of
 * purpose wrap or decrypt; naming a recipient to remove it or to pick it
 * for reading does not use the key. */
static pv_err
recipient_from_key(struct vctl *c, const char *name, unsigned version, const char *uri, int check_purpose,
		   struct pv_rcpt_spec *s)
{
	pv_keystore *ks = NULL;
	struct pv_key *key = NULL;
	struct pv_key_version ver;
	p11_obj obj;
	char label[P11_LABEL_MAX], what[256];
	pv_err r;

	if ((r = vctl_keystore(c, &ks)) != PV_OK ||
	    (r = pv_keys_resolve(ks, name, version, &key, &ver, &obj)) != PV_OK ||
	    (check_purpose &&
	     (r = pv_key_check_purpose(key, key->alg == PV_ALG_AES256 ? PV_PURPOSE_WRAP
								      : PV_PURPOSE_DECRYPT)) != PV_OK))
		goto out;
	pv_keys_label(key, &ver, label, sizeof(label));
	set_label(s, label, strlen(label));
	if (key->alg == PV_ALG_AES256) {
		if ((r = p11_obj_find(pv_keystore_token(ks), &obj)) != PV_OK)
			goto out;
		s->type = PV_RCPT_AES_KWP;
		s->tok = pv_keystore_token(ks);
		s->kek = obj.handle;
	} else if (pv_alg_info(key->alg)->family == PV_FAMILY_RSA &&
		   (key->purpose == PV_PURPOSE_DECRYPT || !check_purpose)) {
		if ((r = pv_keys_public(ks, key, &ver, &s->pub)) != PV_OK)
			goto out;
		s->type = PV_RCPT_RSA_OAEP_SHA256;
	} else {
		pv_err_set_detail(
		    "key %s (%s) cannot be a recipient: use an aes256 key of purpose wrap or an "
		    "RSA key of purpose decrypt",
		    name, pv_alg_info(key->alg)->name);
		r = PV_ERR_KEY_TYPE;
	}
out:
	if (uri != NULL && key != NULL && (r == PV_ERR_PURPOSE || r == PV_ERR_KEY_TYPE)) {
		pv_keys_uri_describe(ks, uri, what, sizeof(what));
		pv_err_set_detail("the URI %s: " RCPT_NEEDS, what);
	}
	pv_key_free(key);
	return r;
}

/* A pkcs11: URI: a p11vault key named in it (pv_keys_uri_resolve), else a
 * raw AES or RSA key on the token (not checked for a purpose: it has none). */
static pv_err
recipient_from_uri(struct vctl *c, const char *uri, int check_purpose, struct pv_rcpt_spec *s)
{
	pv_keystore *ks = NULL;
	p11_token *tok = NULL;
	struct pv_key_ref ref;
	CK_OBJECT_HANDLE *hs = NULL;
	uint8_t *mod = NULL, *exp = NULL, *label = NULL;
	size_t n = 0, i, modlen = 0, explen = 0, labellen = 0;
	CK_ULONG cls, kt;
	char *raw = NULL, what[256];
	pv_err r;

	if ((r = vctl_keystore(c, &ks)) != PV_OK || (r = pv_keys_uri_resolve(ks, uri, &ref, &raw)) != PV_OK)
		goto out;
	if (ref.name[0] != '\0') {
		r = recipient_from_key(c, ref.name, ref.version, uri, check_purpose, s);
		goto out;
	}
	tok = pv_keystore_token(ks);
	if ((r = p11_find_by_uri(tok, raw, &hs, &n)) != PV_OK)
		goto out;
	r = PV_ERR_NOT_FOUND;
	for (i = 0; i < n; i++) {
		if (p11_handle_get_ulong(tok, hs[i], CKA_CLASS, &cls) != PV_OK ||
		    (cls != CKO_SECRET_KEY && cls != CKO_PUBLIC_KEY && cls != CKO_PRIVATE_KEY) ||
		    p11_handle_get_ulong(tok, hs[i], CKA_KEY_TYPE, &kt) != PV_OK)
			continue;
		if (cls == CKO_SECRET_KEY && kt == CKK_AES) {
			s->type = PV_RCPT_AES_KWP;
			s->tok = tok;
			s->kek = hs[i];
		} else if ((cls == CKO_PUBLIC_KEY || cls == CKO_PRIVATE_KEY) && kt == CKK_RSA) {
			if ((r = p11_handle_get_attr(tok, hs[i], CKA_MODULUS, &mod, &modlen)) != PV_OK ||
			    (r = p11_handle_get_attr(tok, hs[i], CKA_PUBLIC_EXPONENT, &exp, &explen)) !=
				PV_OK ||
			    (r = pv_pubkey_from_rsa(mod, modlen, exp, explen, &s->pub)) != PV_OK)
				goto out;
			s->type = PV_RCPT_RSA_OAEP_SHA256;
		} else {
			continue;
		}
		if (check_purpose && (r = pv_recipient_check_purpose(tok, s->type, hs[i])) != PV_OK)
			goto out;
		if (p11_handle_get_attr(tok, hs[i], CKA_LABEL, &label, &labellen) == PV_OK)
			set_label(s, (const char *)label, labellen);
		r = PV_OK;
		break;
	}
	if (r == PV_ERR_NOT_FOUND) {
		pv_keys_uri_describe(ks, uri, what, sizeof(what));
		pv_err_set_detail("the URI %s: " RCPT_NEEDS, what);
	}
out:
	free(raw);
	free(hs);
	free(mod);
	free(exp);
	free(label);
	return r;
}

static pv_err
recipient(struct vctl *c, const char *arg, int check_purpose, struct pv_rcpt_spec *s)
{
	memset(s, 0, sizeof(*s));
	if (strncmp(arg, "pkcs11:", 7) == 0)
		return recipient_from_uri(c, arg, check_purpose, s);
	if (strchr(arg, '/') != NULL || access(arg, F_OK) == 0)
		return recipient_from_pem(arg, s);
	return recipient_from_key(c, arg, 0, NULL, check_purpose, s);
}

pv_err
bundleargs_recipient(struct vctl *c, const char *arg, struct pv_rcpt_spec *s)
{
	return recipient(c, arg, 1, s);
}

pv_err
bundleargs_kid(struct vctl *c, const struct pv_bundle *b, const char *arg, char kid[129])
{
	struct pv_rcpt_spec s;
	long hit = -1;
	size_t i;
	pv_err r;

	/* a kid or a label exactly as the bundle shows it (bundle list) */
	if ((hit = pv_bundle_find_rcpt(b, arg)) < 0) {
		for (i = 0; i < b->nrcpt; i++) {
			if (b->rcpt[i].label != NULL && strcmp(b->rcpt[i].label, arg) == 0) {
				if (hit >= 0) {
					pv_err_set_detail("two recipients are labelled %s: give the kid",
							  arg);
					return PV_ERR_USAGE;
				}
				hit = (long)i;
			}
		}
	}
	if (hit >= 0) {
		snprintf(kid, 129, "%s", b->rcpt[hit].kid);
		return PV_OK;
	}
	if ((r = recipient(c, arg, 0, &s)) != PV_OK)
		return r;
	r = pv_bundle_rcpt_spec_kid(&s);
	if (r == PV_OK)
		snprintf(kid, 129, "%s", s.kid);
	EVP_PKEY_free(s.pub);
	return r;
}

const char *
bundleargs_rcpt_name(const struct pv_bundle_recipient *rc)
{
	return rc->label != NULL ? rc->label : rc->kid;
}

void
bundleargs_read_end(struct bundle_read_args *a)
{
	pv_sealer_trust_free(a->trust);
	a->trust = NULL;
	a->ro.trust = NULL;
}

/* --trusted-sealer: a PEM public key file (a path with a '/', or an
 * existing file), else a token key name: every version of it. */
static pv_err
load_trusted(struct vctl *c, struct bundle_read_args *a)
{
	pv_keystore *ks = NULL;
	size_t i;
	pv_err r;

	if (a->ntrusted == 0 || a->trust != NULL)
		return PV_OK;
	if ((r = pv_sealer_trust_new(&a->trust)) != PV_OK)
		return r;
	for (i = 0; i < a->ntrusted; i++) {
		const char *t = a->trusted[i];
		char why[256];

		if (strchr(t, '/') != NULL || access(t, F_OK) == 0) {
			if ((r = pv_sealer_trust_add_pem_file(a->trust, t)) != PV_OK) {
				snprintf(why, sizeof(why), "%s", pv_err_detail());
				pv_err_set_detail("--trusted-sealer %s: %s", t,
						  why[0] != '\0' ? why : "cannot read it");
				return r == PV_ERR_NOMEM ? r : PV_ERR_USAGE;
			}
		} else if ((r = vctl_keystore(c, &ks)) != PV_OK ||
			   (r = pv_sealer_trust_add_key(a->trust, ks, t)) != PV_OK) {
			return r;
		}
	}
	a->ro.trust = a->trust;
	return PV_OK;
}

pv_err
bundleargs_open(struct vctl *c, const struct pv_bundle *b, struct bundle_read_args *a, enum pv_dek_mode mode,
		struct pv_bundle_opened *op)
{
	p11_token *tok = NULL;
	const struct pv_bundle_recipient *rc;
	pv_err r;

	if ((r = load_trusted(c, a)) != PV_OK || (r = pv_bundle_precheck(b, &a->ro)) != PV_OK)
		return r;
	if (a->key != NULL) {
		if ((r = bundleargs_kid(c, b, a->key, a->kid)) != PV_OK)
			return r;
		a->ro.kid = a->kid;
	}
	if ((r = vctl_token(c, 1, &tok)) != PV_OK || (r = pv_bundle_open(tok, b, &a->ro, mode, op)) != PV_OK)
		return r;
	if (a->ro.trust != NULL)
		vctl_info(c, "bundle sealed by trusted sealer %s (%s), signature verified", b->sealer.kid,
			  pv_sealer_alg_name(b->sealer.alg));
	rc = &b->rcpt[op->rcpt];
	vctl_info(c, "bundle version %llu opened through recipient %s (%s)", (unsigned long long)b->version,
		  bundleargs_rcpt_name(rc), pv_rcpt_type_name(rc->type));
	if (op->info.fallback > 0)
		fprintf(stderr,
			"vaultctl: warning: the token cannot unwrap with RSA-OAEP-SHA-256 (%s); the data key "
			"passed through guarded memory (--require-token-unwrap refuses this)\n",
			op->info.fallback == 1 ? "decrypted with C_Decrypt"
					       : "raw RSA, OAEP decoded in software");
	if (mode == PV_DEK_IN_MEMORY)
		vctl_info(c, "editing: the data key is held in guarded memory for this command");
	return PV_OK;
}

int
bundleargs_split_names(char *list, const char **names, size_t max)
{
	size_t n = 0;
	char *save = NULL, *tok;

	for (tok = strtok_r(list, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		if (*tok == '\0')
			continue;
		if (n >= max)
			return -1;
		names[n++] = tok;
	}
	return (int)n;
}

int
bundleargs_sign_option(struct vctl *c, const char *usage, int ch, const char *arg, struct bundle_sign_args *s)
{
	switch (ch) {
	case OPT_SIGN_WITH:
		s->key = arg;
		break;
	case OPT_SIGN_WITH_PEM:
		s->pem = arg;
		break;
	case OPT_UNSIGNED:
		s->unsigned_ = 1;
		break;
	default:
		return -1;
	}
	if ((s->key != NULL) + (s->pem != NULL) + s->unsigned_ > 1)
		return vctl_usage(c, usage, "give one of --sign-with, --sign-with-pem and --unsigned");
	return 0;
}

pv_err
bundleargs_sign_prepare(struct vctl *c, struct bundle_sign_args *s)
{
	pv_keystore *ks = NULL;
	struct pv_key *key = NULL;
	char why[256];
	pv_err r = PV_OK;

	if (s->pem != NULL && s->pkey == NULL) {
		if ((r = pv_sealer_load_private_pem(s->pem, &s->pkey)) != PV_OK && r != PV_ERR_NOMEM) {
			snprintf(why, sizeof(why), "%s", pv_err_detail());
			pv_err_set_detail("--sign-with-pem %s: %s", s->pem,
					  why[0] != '\0' ? why : "cannot read it");
			r = PV_ERR_USAGE;
		}
	} else if (s->key != NULL) {
		/* the purpose first (exit 8), as everywhere a key is used */
		if ((r = vctl_keystore(c, &ks)) == PV_OK && (r = pv_keys_get(ks, s->key, &key)) == PV_OK &&
		    (r = pv_key_check_purpose(key, PV_PURPOSE_SIGN)) == PV_OK && key->alg != PV_ALG_P256 &&
		    key->alg != PV_ALG_ED25519 && key->alg != PV_ALG_RSA2048 && key->alg != PV_ALG_RSA3072 &&
		    key->alg != PV_ALG_RSA4096) {
			pv_err_set_detail("--sign-with %s: a %s key cannot be a sealer (p256, ed25519, "
					  "rsa2048-4096)",
					  s->key, pv_alg_info(key->alg)->name);
			r = PV_ERR_KEY_TYPE;
		}
		pv_key_free(key);
	}
	return r;
}

pv_err
bundleargs_sign(struct vctl *c, struct bundle_sign_args *s, struct pv_bundle *b)
{
	pv_keystore *ks = NULL;
	pv_err r;

	if (s->key == NULL && s->pem == NULL)
		return PV_OK;
	if ((r = bundleargs_sign_prepare(c, s)) != PV_OK)
		return r;
	if (s->pkey != NULL)
		r = pv_sealer_sign_pkey(b, s->pkey);
	else if ((r = vctl_keystore(c, &ks)) == PV_OK)
		r = pv_sealer_sign_key(b, ks, s->key);
	if (r == PV_OK)
		vctl_info(c, "bundle signed by sealer %s (%s)", b->sealer.kid,
			  pv_sealer_alg_name(b->sealer.alg));
	return r;
}

void
bundleargs_sign_end(struct bundle_sign_args *s)
{
	EVP_PKEY_free(s->pkey);
	s->pkey = NULL;
}

pv_err
bundle_edit_begin(struct vctl *c, const char *path, const char *out, const struct bundle_sign_args *sign,
		  struct bundle_edit *e)
{
	pv_err r;

	memset(e, 0, sizeof(*e));
	e->path = path;
	e->out = out;
	if (sign != NULL)
		e->sign = *sign;
	if ((r = bundleargs_load(path, &e->b)) != PV_OK)
		return r;
	/* an edit without a signature would drop it: readers that trust this
	 * sealer would then refuse the bundle (bundle-format.md §8) */
	if (e->b->has_sealer && e->sign.key == NULL && e->sign.pem == NULL && !e->sign.unsigned_) {
		pv_err_set_detail(
		    "the bundle is signed by sealer %s (%s); give --sign-with KEY or --sign-with-pem "
		    "FILE to sign the edit, or --unsigned to drop the signature",
		    e->b->sealer.kid, pv_sealer_alg_name(e->b->sealer.alg));
		return PV_ERR_USAGE;
	}
	if ((r = bundleargs_sign_prepare(c, &e->sign)) != PV_OK)
		return r;
	return bundleargs_open(c, e->b, &e->ra, PV_DEK_IN_MEMORY, &e->op);
}

pv_err
bundle_edit_commit(struct vctl *c, struct bundle_edit *e)
{
	pv_err r;

	if (e->b->version >= (uint64_t)PV_JSON_INT_MAX) {
		pv_err_set_detail("the bundle version cannot grow past 2^53-1");
		return PV_ERR_STATE;
	}
	e->b->version++;
	if ((r = pv_bundle_seal_check(e->b, e->op.dek)) != PV_OK ||
	    (r = bundleargs_sign(c, &e->sign, e->b)) != PV_OK)
		return r;
	if ((r = bundleargs_save(e->path, e->out, e->b)) != PV_OK)
		return r;
	vctl_info(c, "bundle written: version %llu, %zu entries, %zu recipients",
		  (unsigned long long)e->b->version, e->b->nentries, e->b->nrcpt);
	return PV_OK;
}

void
bundle_edit_end(struct bundle_edit *e)
{
	bundleargs_sign_end(&e->sign);
	bundleargs_read_end(&e->ra);
	pv_bundle_opened_clear(&e->op);
	pv_bundle_free(e->b);
	memset(e, 0, sizeof(*e));
}

void
bundleargs_warn_fallback(const char *name)
{
	fprintf(stderr,
		"vaultctl: warning: entry %s: the token cannot unwrap Ed25519 keys; imported through the "
		"key-import fallback (the seed was briefly in this process's guarded memory)\n",
		name);
}
