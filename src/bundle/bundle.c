/*
 * Bundle operations: the reading pipeline (docs/bundle-format.md §7) and the
 * writing steps (§8). Crypto with the DEK goes through bundle/dek.h, so the
 * same code runs with the DEK inside the token (readers) or in guarded
 * memory (editors).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509.h>
#include <sodium.h>

#include "base/buf.h"
#include "base/defs.h"
#include "base/secmem.h"
#include "bundle/bundle.h"
#include "core/pubkey.h"

/* ---- loading ---- */

/* Parse what pv_buf_read_* returned (r); an oversized bundle is an
 * integrity failure like any other bad bundle. */
static pv_err
parse_read(pv_err r, pv_buf *buf, struct pv_bundle **out)
{
	if (r == PV_ERR_TOO_LARGE) {
		pv_err_set_detail("bundle is larger than the %u-byte limit", PV_BUNDLE_MAX);
		r = PV_ERR_INTEGRITY;
	}
	if (r == PV_OK)
		r = pv_bundle_parse(pv_buf_ptr(buf), pv_buf_len(buf), out);
	pv_buf_free(buf);
	return r;
}

pv_err
pv_bundle_load_fd(int fd, struct pv_bundle **out)
{
	pv_buf *buf = NULL;
	pv_err r = pv_buf_read_fd(fd, PV_BUNDLE_MAX, &buf);

	return parse_read(r, buf, out);
}

pv_err
pv_bundle_load_file(const char *path, struct pv_bundle **out)
{
	pv_buf *buf = NULL;
	pv_err r = pv_buf_read_file(path, PV_BUNDLE_MAX, &buf);

	return parse_read(r, buf, out);
}

/* ---- reading ---- */

pv_err
pv_bundle_precheck(const struct pv_bundle *b, const struct pv_bundle_read_opts *o)
{
	time_t now = o->now ? o->now : time(NULL), na;
	size_t i;

	if (b->not_after[0] != '\0') {
		if (pv_time_parse(b->not_after, &na) != PV_OK)
			return PV_ERR_INTEGRITY;
		if (now >= na) {
			pv_err_set_detail("bundle expired at %s (not_after)", b->not_after);
			return PV_ERR_INTEGRITY;
		}
	}
	if (b->version < o->min_version) {
		pv_err_set_detail(
		    "bundle version %llu is lower than the minimum %llu (a rolled-back bundle?)",
		    (unsigned long long)b->version, (unsigned long long)o->min_version);
		return PV_ERR_INTEGRITY;
	}
	for (i = 0; i < o->nexpect; i++) {
		const char *eq = strchr(o->expect_ctx[i], '=');
		char name[65];
		const char *have;
		size_t nl;

		if (eq == NULL || (nl = (size_t)(eq - o->expect_ctx[i])) == 0 || nl >= sizeof(name)) {
			pv_err_set_detail("expected context must be NAME=VALUE");
			return PV_ERR_USAGE;
		}
		memcpy(name, o->expect_ctx[i], nl);
		name[nl] = '\0';
		have = pv_bundle_get_context(b, name);
		if (have == NULL) {
			pv_err_set_detail("bundle context has no %s (expected %s)", name, o->expect_ctx[i]);
			return PV_ERR_INTEGRITY;
		}
		if (strcmp(have, eq + 1) != 0) {
			pv_err_set_detail("bundle context %s is \"%.64s\", expected \"%.64s\"", name, have,
					  eq + 1);
			return PV_ERR_INTEGRITY;
		}
	}
	return PV_OK;
}

pv_err
pv_bundle_verify_check(const struct pv_bundle *b, pv_dek *dek)
{
	uint8_t h[32];
	pv_secret *pt = NULL;
	pv_err r;

	if ((r = pv_bundle_check_digest(b, h)) != PV_OK)
		goto out;
	r = pv_dek_gcm_open(dek, b->check, h, sizeof(h), b->check + PV_BUNDLE_NONCE_LEN, PV_BUNDLE_TAG_LEN,
			    &pt);
	if (r == PV_ERR_INTEGRITY || (r == PV_OK && pv_secret_len(pt) != 0)) {
		pv_err_set_detail("the check does not verify: header, recipients or entries were altered");
		r = PV_ERR_INTEGRITY;
	}
out:
	pv_secret_free(pt);
	return r;
}

void
pv_bundle_opened_clear(struct pv_bundle_opened *op)
{
	if (op == NULL)
		return;
	pv_dek_free(op->dek);
	memset(op, 0, sizeof(*op));
}

/* Open the DEK through recipient i if its key is on the token:
 * PV_ERR_NOT_FOUND when it is not (try the next one), PV_ERR_PURPOSE when
 * it is but may not open bundles (invariant 6: its purpose is not wrap or
 * decrypt), PV_ERR_STATE when its key is disabled. */
static pv_err
try_recipient(p11_token *tok, const struct pv_bundle *b, size_t i, const struct pv_bundle_read_opts *o,
	      enum pv_dek_mode mode, struct pv_bundle_opened *op)
{
	const struct pv_bundle_recipient *rc = &b->rcpt[i];
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	pv_err r;

	memset(&op->info, 0, sizeof(op->info));
	if (rc->type == PV_RCPT_AES_KWP) {
		if ((r = pv_recipient_find_kek(tok, rc->kid, &h)) != PV_OK ||
		    (r = pv_recipient_check_purpose(tok, rc->type, h)) != PV_OK)
			return r;
		r = pv_recipient_open_kwp(tok, h, rc->wrapped_dek, rc->wrapped_len, mode, &op->dek);
	} else {
		if ((r = pv_recipient_find_rsa(tok, rc->kid, &h)) != PV_OK ||
		    (r = pv_recipient_check_purpose(tok, rc->type, h)) != PV_OK)
			return r;
		r = pv_recipient_open_rsa(tok, h, rc->wrapped_dek, rc->wrapped_len, mode,
					  !o->require_token_unwrap, &op->info, &op->dek);
	}
	if (r == PV_ERR_NOT_FOUND) /* the key is there: any failure now is not "absent" */
		r = PV_ERR_INTEGRITY;
	if (r == PV_OK)
		op->rcpt = i;
	return r;
}

pv_err
pv_bundle_open(p11_token *tok, const struct pv_bundle *b, const struct pv_bundle_read_opts *o,
	       enum pv_dek_mode mode, struct pv_bundle_opened *out)
{
	struct pv_bundle_opened op = {0};
	char why[256] = "";
	int pass;
	size_t i;
	pv_err r = PV_ERR_NOT_FOUND, why_r = PV_ERR_PURPOSE;

	/* §7 step 2a: who sealed it, before any key on the token is used */
	if (pv_sealer_trust_count(o->trust) > 0 && (r = pv_sealer_verify(b, o->trust)) != PV_OK)
		goto out;
	r = PV_ERR_NOT_FOUND;
	if (o->kid != NULL && pv_bundle_find_rcpt(b, o->kid) < 0) {
		pv_err_set_detail("the bundle has no recipient for the key asked for (kid %.64s)", o->kid);
		r = PV_ERR_INTEGRITY;
		goto out;
	}
	/* aes-kwp first: with it the DEK never leaves the token */
	for (pass = 0; pass < 2 && r == PV_ERR_NOT_FOUND; pass++) {
		enum pv_rcpt_type want = pass == 0 ? PV_RCPT_AES_KWP : PV_RCPT_RSA_OAEP_SHA256;
		for (i = 0; i < b->nrcpt && r == PV_ERR_NOT_FOUND; i++) {
			if (b->rcpt[i].type != want ||
			    (o->kid != NULL && strcmp(b->rcpt[i].kid, o->kid) != 0))
				continue;
			r = try_recipient(tok, b, i, o, mode, &op);
			/* a key of the wrong purpose, or a disabled one, is
			 * not used; another recipient may still open the
			 * bundle */
			if (r == PV_ERR_PURPOSE || r == PV_ERR_STATE) {
				snprintf(why, sizeof(why), "%s", pv_err_detail());
				why_r = r;
				r = PV_ERR_NOT_FOUND;
			}
		}
	}
	if (r == PV_ERR_NOT_FOUND && why[0] != '\0') {
		pv_err_set_detail("%s", why);
		r = why_r;
	} else if (r == PV_ERR_NOT_FOUND) {
		pv_err_set_detail(
		    "no recipient of this bundle has its key on this token (sealed for %zu other key%s, "
		    "first: %s %.64s)",
		    b->nrcpt, b->nrcpt == 1 ? "" : "s", pv_rcpt_type_name(b->rcpt[0].type),
		    b->rcpt[0].label ? b->rcpt[0].label : b->rcpt[0].kid);
		r = PV_ERR_INTEGRITY;
	}
	if (r != PV_OK)
		goto out;
	if ((r = pv_bundle_verify_check(b, op.dek)) != PV_OK)
		goto out;
	*out = op;
	memset(&op, 0, sizeof(op));
out:
	pv_bundle_opened_clear(&op);
	return r;
}

/* Decrypt e into v (capacity >= e->data_len), left read-write; aad is a
 * scratch buffer from pv_buf_new(PV_BUNDLE_AAD_MAX), reused across entries. */
static pv_err
decrypt_entry_into(const struct pv_bundle *b, const struct pv_bundle_entry *e, pv_dek *dek, pv_buf *aad,
		   pv_secret *v)
{
	pv_err r;

	if (e->kind == PV_ENTRY_PRIVATE_KEY) {
		pv_err_set_detail("entry %s is a private key; it is never decrypted", e->name);
		return PV_ERR_KEY_TYPE;
	}
	if ((r = pv_bundle_entry_aad_into(b, e, aad)) != PV_OK)
		return r;
	r = pv_dek_gcm_open_into(dek, e->nonce, pv_buf_ptr(aad), pv_buf_len(aad), e->data, e->data_len, v);
	if (r == PV_ERR_INTEGRITY)
		pv_err_set_detail("entry %s does not decrypt: its value, name, kind or bundle was altered",
				  e->name);
	return r;
}

pv_err
pv_bundle_decrypt_entry(const struct pv_bundle *b, const struct pv_bundle_entry *e, pv_dek *dek,
			pv_secret **value)
{
	pv_secret *v = NULL;
	pv_buf *aad = NULL;
	pv_err r;

	*value = NULL;
	if (e->kind == PV_ENTRY_PRIVATE_KEY) {
		pv_err_set_detail("entry %s is a private key; it is never decrypted", e->name);
		return PV_ERR_KEY_TYPE;
	}
	if (e->data_len < PV_GCM_TAG_LEN) {
		pv_err_set_detail("entry %s does not decrypt: its value, name, kind or bundle was altered",
				  e->name);
		return PV_ERR_INTEGRITY;
	}
	if ((r = pv_buf_new(PV_BUNDLE_AAD_MAX, &aad)) != PV_OK ||
	    (r = pv_secret_new(e->data_len, &v)) != PV_OK ||
	    (r = decrypt_entry_into(b, e, dek, aad, v)) != PV_OK)
		goto out;
	pv_secret_lock(v);
	*value = v;
	v = NULL;
out:
	pv_buf_free(aad);
	pv_secret_free(v);
	return r;
}

static int
listed(const char *name, const char *const *only, size_t nonly)
{
	size_t i;

	for (i = 0; i < nonly; i++)
		if (strcmp(only[i], name) == 0)
			return 1;
	return 0;
}

/* The entries pv_bundle_decrypt releases. */
static int
wanted(const struct pv_bundle_entry *e, const char *const *only, size_t nonly)
{
	return e->kind != PV_ENTRY_PRIVATE_KEY && (only == NULL || listed(e->name, only, nonly));
}

pv_err
pv_bundle_decrypt(const struct pv_bundle *b, pv_dek *dek, const char *const *only, size_t nonly, int strict,
		  struct pv_kvlist *out, char **missing)
{
	struct pv_kvlist l;
	pv_secret_arena *arena = NULL;
	pv_secret *v = NULL;
	pv_buf *aad = NULL;
	char *miss = NULL;
	size_t i, mlen = 0, total = 0;
	pv_err r = PV_OK;

	pv_kvlist_init(&l);
	*missing = NULL;
	for (i = 0; i < nonly; i++) {
		const struct pv_bundle_entry *e = pv_bundle_find(b, only[i]);
		char *grown;
		if (e != NULL && e->kind != PV_ENTRY_PRIVATE_KEY)
			continue;
		size_t need = strlen(only[i]) + 2; /* a comma, the name, the NUL */
		if ((grown = realloc(miss, mlen + need)) == NULL) {
			r = PV_ERR_NOMEM;
			goto out;
		}
		miss = grown;
		mlen += (size_t)snprintf(miss + mlen, need, "%s%s", mlen ? "," : "", only[i]);
	}
	if (miss != NULL && strict) {
		pv_err_set_detail("not in the bundle (or not a value): %.200s", miss);
		r = PV_ERR_NOT_FOUND;
		goto out;
	}
	/*
	 * One guarded region for all the values (bytes of ciphertext and tag
	 * per entry: the token may want the whole input length as room; the
	 * sum is below PV_BUNDLE_MAX). It stays read-write while the token
	 * decrypts into it and is locked once at the end.
	 */
	for (i = 0; i < b->nentries; i++) {
		if (!wanted(&b->entries[i], only, nonly))
			continue;
		if (b->entries[i].data_len < PV_GCM_TAG_LEN) {
			pv_err_set_detail(
			    "entry %s does not decrypt: its value, name, kind or bundle was altered",
			    b->entries[i].name);
			r = PV_ERR_INTEGRITY;
			goto out;
		}
		total += b->entries[i].data_len;
	}
	if (total > 0 && ((r = pv_secret_arena_new(total, &arena)) != PV_OK ||
			  (r = pv_buf_new(PV_BUNDLE_AAD_MAX, &aad)) != PV_OK))
		goto out;
	for (i = 0; i < b->nentries; i++) {
		const struct pv_bundle_entry *e = &b->entries[i];
		if (!wanted(e, only, nonly))
			continue;
		if ((r = pv_secret_arena_alloc(arena, e->data_len, &v)) != PV_OK ||
		    (r = decrypt_entry_into(b, e, dek, aad, v)) != PV_OK)
			goto out;
		/* entries are in name order (a parsed bundle is refused
		 * otherwise): no search of the list for a duplicate */
		if ((r = pv_kvlist_add_sorted(&l, e->name, e->kind, v)) != PV_OK) {
			v = NULL; /* freed by the list */
			goto out;
		}
		v = NULL;
	}
	*out = l;
	pv_kvlist_init(&l);
	*missing = miss;
	miss = NULL;
out:
	pv_buf_free(aad);
	pv_secret_free(v);
	pv_kvlist_free(&l);
	/* the values are locked; they keep the region alive */
	pv_secret_arena_free(arena);
	free(miss);
	return r;
}

/* Sign a random challenge with the unwrapped key and verify it against the
 * entry's public key: proves the wrapped key is the one the entry names. */
static pv_err
prove_key(p11_token *tok, const struct pv_bundle_entry *e, CK_OBJECT_HANDLE h)
{
	const struct pv_alg_info *ai = pv_alg_info(e->alg);
	const uint8_t *p = e->public_key;
	EVP_PKEY *pk = NULL;
	p11_obj obj;
	CK_MECHANISM mech = {0, NULL, 0};
	uint8_t msg[32], sig[1024];
	size_t siglen = sizeof(sig);
	pv_digest dg = PV_DIGEST_SHA256;
	int is_digest = 1;
	pv_err r;

	if ((pk = d2i_PUBKEY(NULL, &p, (long)e->public_key_len)) == NULL ||
	    p != e->public_key + e->public_key_len || pv_pubkey_alg(pk) != e->alg) {
		pv_err_set_detail("entry %s: public_key is not a %s public key", e->name, ai->name);
		r = PV_ERR_INTEGRITY;
		goto out;
	}
	randombytes_buf(msg, sizeof(msg));
	switch (ai->family) {
	case PV_FAMILY_EC:
		mech.mechanism = CKM_ECDSA;
		break;
	case PV_FAMILY_EDDSA:
		mech.mechanism = CKM_EDDSA;
		dg = PV_DIGEST_NONE;
		is_digest = 0;
		break;
	case PV_FAMILY_RSA:
		mech.mechanism = CKM_SHA256_RSA_PKCS;
		is_digest = 0;
		break;
	default:
		r = PV_ERR_KEY_TYPE;
		goto out;
	}
	/* h is fresh from the caller: current now; it cannot be re-found */
	p11_obj_from_handle(&obj, CKO_PRIVATE_KEY, h, p11_token_generation(tok), NULL, 0, NULL);
	if ((r = p11_sign(tok, &mech, &obj, msg, sizeof(msg), sig, &siglen)) != PV_OK)
		goto out;
	if ((r = pv_pubkey_verify(pk, e->alg, 0, dg, msg, sizeof(msg), is_digest, sig, siglen)) != PV_OK) {
		pv_err_set_detail("entry %s: the unwrapped key does not match its public_key", e->name);
		r = PV_ERR_INTEGRITY;
	}
out:
	EVP_PKEY_free(pk);
	return r;
}

pv_err
pv_bundle_unwrap_key(p11_token *tok, const struct pv_bundle_entry *e, pv_dek *dek,
		     const struct pv_key_import *ki, CK_OBJECT_HANDLE *out)
{
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	struct pv_key_import k = *ki;
	pv_err r;

	if (e->kind != PV_ENTRY_PRIVATE_KEY) {
		pv_err_set_detail("entry %s is not a private key", e->name);
		return PV_ERR_KEY_TYPE;
	}
	k.alg = e->alg;
	if ((r = pv_dek_unwrap_private_key(dek, &k, e->data, e->data_len, &h)) != PV_OK)
		goto out;
	if ((r = prove_key(tok, e, h)) != PV_OK)
		goto out;
	*out = h;
	h = CK_INVALID_HANDLE;
out:
	if (h != CK_INVALID_HANDLE && p11_handle_destroy(tok, h) != PV_OK)
		pv_err_set_detail("%s; and removing the unwrapped key failed", pv_strerror(r));
	return r;
}

/* ---- writing ---- */

long
pv_bundle_find_rcpt(const struct pv_bundle *b, const char *kid)
{
	size_t i;

	for (i = 0; i < b->nrcpt; i++)
		if (strcmp(b->rcpt[i].kid, kid) == 0)
			return (long)i;
	return -1;
}

pv_err
pv_bundle_rcpt_spec_kid(struct pv_rcpt_spec *s)
{
	char *kid = NULL;
	pv_err r;

	if (s->type == PV_RCPT_RSA_OAEP_SHA256)
		r = pv_recipient_rsa_kid(s->pub, &kid);
	else
		r = pv_recipient_kek_kid(s->tok, s->kek, &kid);
	if (r != PV_OK)
		return r;
	if (strlen(kid) >= sizeof(s->kid)) {
		free(kid);
		return PV_ERR_KEY_TYPE;
	}
	memcpy(s->kid, kid, strlen(kid) + 1);
	free(kid);
	return PV_OK;
}

pv_err
pv_bundle_add_rcpt(struct pv_bundle *b, pv_dek *dek, struct pv_rcpt_spec *s)
{
	struct pv_bundle_recipient rc = {0};
	pv_err r;

	if (s->kid[0] == '\0' && (r = pv_bundle_rcpt_spec_kid(s)) != PV_OK)
		goto out;
	if (pv_bundle_find_rcpt(b, s->kid) >= 0) {
		pv_err_set_detail("the bundle already has this recipient (kid %.64s)", s->kid);
		r = PV_ERR_EXISTS;
		goto out;
	}
	rc.type = s->type;
	if ((rc.kid = strdup(s->kid)) == NULL ||
	    (s->label[0] != '\0' && (rc.label = strdup(s->label)) == NULL)) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	if (s->type == PV_RCPT_RSA_OAEP_SHA256)
		r = pv_recipient_wrap_rsa(s->pub, dek, &rc.wrapped_dek, &rc.wrapped_len);
	else
		r = pv_recipient_wrap_kwp(s->tok, s->kek, dek, &rc.wrapped_dek, &rc.wrapped_len);
	if (r != PV_OK)
		goto out;
	r = pv_bundle_add_recipient(b, &rc);
out:
	pv_bundle_recipient_clear(&rc);
	return r;
}

pv_err
pv_bundle_put_value(struct pv_bundle *b, pv_dek *dek, const char *name, int kind, const uint8_t *value,
		    size_t len)
{
	struct pv_bundle_entry e = {0};
	struct pv_bundle_entry *old;
	pv_buf *aad = NULL;
	pv_err r;

	if (kind != PV_ENTRY_ENV && kind != PV_ENTRY_FILE)
		return PV_ERR_USAGE;
	if (strlen(name) >= sizeof(e.name) || !pv_entry_name_valid(kind, name)) {
		pv_err_set_detail("%.64s is not a valid %s entry name", name, pv_entry_kind_name(kind));
		return PV_ERR_BAD_INPUT;
	}
	if (len > PV_BUNDLE_VALUE_MAX) {
		pv_err_set_detail("entry %s: value is over the 1 MiB limit", name);
		return PV_ERR_TOO_LARGE;
	}
	if (kind == PV_ENTRY_ENV && memchr(value, '\0', len) != NULL) {
		pv_err_set_detail("entry %s: an env value cannot contain a NUL byte (use a file entry)",
				  name);
		return PV_ERR_BAD_INPUT;
	}
	memcpy(e.name, name, strlen(name) + 1);
	e.kind = kind;
	randombytes_buf(e.nonce, sizeof(e.nonce));
	if ((r = pv_bundle_entry_aad(b, &e, &aad)) != PV_OK)
		goto out;
	if ((r = pv_dek_gcm_seal(dek, e.nonce, pv_buf_ptr(aad), pv_buf_len(aad), value, len, &e.data,
				 &e.data_len)) != PV_OK)
		goto out;
	if ((old = pv_bundle_find(b, name)) != NULL && (r = pv_bundle_remove(b, name)) != PV_OK)
		goto out;
	r = pv_bundle_insert(b, &e);
out:
	pv_bundle_entry_clear(&e);
	pv_buf_free(aad);
	return r;
}

pv_err
pv_bundle_put_key(struct pv_bundle *b, pv_dek *dek, const char *name, EVP_PKEY *pkey, pv_key_purpose purpose)
{
	struct pv_bundle_entry e = {0};
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	pv_secret *der = NULL;
	char fit[64];
	uint8_t *p;
	int len;
	pv_err r;

	if (strlen(name) >= sizeof(e.name) || !pv_entry_name_valid(PV_ENTRY_PRIVATE_KEY, name)) {
		pv_err_set_detail("%.64s is not a valid key name", name);
		return PV_ERR_BAD_INPUT;
	}
	memcpy(e.name, name, strlen(name) + 1);
	e.kind = PV_ENTRY_PRIVATE_KEY;
	if ((e.alg = pv_pubkey_alg(pkey)) == PV_ALG_NONE || !pv_alg_is_asymmetric(e.alg)) {
		pv_err_set_detail("the key is not one of ed25519, secp256k1, p256, p384, rsa2048/3072/4096");
		r = PV_ERR_KEY_TYPE;
		goto out;
	}
	/* a new entry always has its purpose (format 2 authenticates it) */
	if (!pv_entry_purpose_valid(e.alg, purpose)) {
		pv_entry_purposes_for(e.alg, fit, sizeof(fit));
		if (purpose == PV_PURPOSE_NONE)
			pv_err_set_detail("a purpose is required; a %s key can have: %s",
					  pv_alg_info(e.alg)->name, fit);
		else
			pv_err_set_detail("purpose %s does not fit a %s key; it can have: %s",
					  pv_key_purpose_name(purpose), pv_alg_info(e.alg)->name, fit);
		r = PV_ERR_USAGE;
		goto out;
	}
	e.purpose = purpose;
	if ((r = pv_pubkey_spki_der(pkey, &e.public_key, &e.public_key_len)) != PV_OK)
		goto out;
	/* the DER PKCS#8 goes straight into guarded memory */
	if ((p8 = EVP_PKEY2PKCS8(pkey)) == NULL || (len = i2d_PKCS8_PRIV_KEY_INFO(p8, NULL)) <= 0) {
		r = PV_ERR_CRYPTO;
		goto out;
	}
	if ((r = pv_secret_new((size_t)len, &der)) != PV_OK)
		goto out;
	p = pv_secret_rw(der);
	if (i2d_PKCS8_PRIV_KEY_INFO(p8, &p) != len || (r = pv_secret_set_len(der, (size_t)len)) != PV_OK) {
		r = r != PV_OK ? r : PV_ERR_CRYPTO;
		goto out;
	}
	pv_secret_lock(der);
	if ((r = pv_dek_kwp_wrap(dek, pv_secret_ro(der), pv_secret_len(der), &e.data, &e.data_len)) != PV_OK)
		goto out;
	if (pv_bundle_find(b, name) != NULL && (r = pv_bundle_remove(b, name)) != PV_OK)
		goto out;
	r = pv_bundle_insert(b, &e);
out:
	/* PKCS8_PRIV_KEY_INFO_free wipes the key octets (ASN1_STRING_clear_free) */
	PKCS8_PRIV_KEY_INFO_free(p8);
	pv_secret_free(der);
	pv_bundle_entry_clear(&e);
	return r;
}

pv_err
pv_bundle_seal_check(struct pv_bundle *b, pv_dek *dek)
{
	uint8_t h[32], *ct = NULL;
	size_t ctlen = 0;
	pv_err r;

	pv_sealer_clear(b); /* it signed the old check */
	randombytes_buf(b->check, PV_BUNDLE_NONCE_LEN);
	if ((r = pv_bundle_check_digest(b, h)) != PV_OK)
		goto out;
	if ((r = pv_dek_gcm_seal(dek, b->check, h, sizeof(h), NULL, 0, &ct, &ctlen)) != PV_OK)
		goto out;
	if (ctlen != PV_BUNDLE_TAG_LEN) {
		r = PV_ERR_INTERNAL;
		goto out;
	}
	memcpy(b->check + PV_BUNDLE_NONCE_LEN, ct, PV_BUNDLE_TAG_LEN);
out:
	free(ct);
	return r;
}

pv_err
pv_bundle_reencrypt(p11_token *tok, struct pv_bundle *b, pv_dek *old_dek, pv_dek *new_dek)
{
	pv_dek *old_tok = NULL, *new_tok = NULL;
	pv_secret *v = NULL;
	uint8_t *wrapped = NULL;
	size_t i, wlen = 0;
	pv_err r = PV_OK;

	for (i = 0; i < b->nentries; i++) {
		struct pv_bundle_entry *e = &b->entries[i];
		if (e->kind == PV_ENTRY_PRIVATE_KEY) {
			/* re-wrapped inside the token: the private key stays there */
			if (old_tok == NULL) {
				if (tok == NULL) {
					pv_err_set_detail("re-wrapping private-key entries needs the token");
					r = PV_ERR_USAGE;
					goto out;
				}
				if ((r = pv_dek_to_token(old_dek, tok, &old_tok)) != PV_OK ||
				    (r = pv_dek_to_token(new_dek, tok, &new_tok)) != PV_OK)
					goto out;
			}
			if ((r = pv_dek_rewrap_private_key(old_tok, new_tok, e->alg, e->data, e->data_len,
							   &wrapped, &wlen)) != PV_OK)
				goto out;
			free(e->data);
			e->data = wrapped;
			e->data_len = wlen;
			wrapped = NULL;
			continue;
		}
		if ((r = pv_bundle_decrypt_entry(b, e, old_dek, &v)) != PV_OK)
			goto out;
		if ((r = pv_bundle_put_value(b, new_dek, e->name, e->kind, pv_secret_ro(v),
					     pv_secret_len(v))) != PV_OK)
			goto out;
		pv_secret_free(v);
		v = NULL;
	}
out:
	free(wrapped);
	pv_secret_free(v);
	pv_dek_free(old_tok);
	pv_dek_free(new_tok);
	return r;
}
