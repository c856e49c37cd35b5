/* GET /v1/keys, GET /v1/keys/{name}, POST /v1/keys/{name}/sign|sign-batch|verify. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "core/alg.h"
#include "core/b64.h"
#include "core/digest.h"
#include "core/keys_schedule.h"
#include "core/pubkey.h"
#include "core/sigfmt.h"
#include "core/sign.h"
#include "vaultd/handlers.h"

static const char *const origin_names[] = {[VD_ORIGIN_TOKEN] = "token", [VD_ORIGIN_BUNDLE] = "bundle"};

/*
 * One version's entry: version, state, kid, and with detail also the PEM
 * and JWK. Keys without a public half (hmac-sha256, aes256) have kid null.
 * Only a token error fails the whole reply; another failure to read one
 * version's public key (e.g. a retired version whose objects are gone)
 * leaves its kid null.
 */
static pv_err
version_json(struct vd_ctx *c, struct vd_kreq *q, const struct pv_key *key, const struct pv_key_version *ver,
	     int detail, cJSON *arr)
{
	struct vd_err_map m;
	EVP_PKEY *pk = NULL;
	cJSON *o = NULL, *jwk = NULL;
	char *kid = NULL, *pem = NULL;
	pv_err r = PV_ERR_NOMEM;

	if ((o = cJSON_CreateObject()) == NULL || !cJSON_AddItemToArray(arr, o)) {
		cJSON_Delete(o);
		return PV_ERR_NOMEM;
	}
	if (cJSON_AddNumberToObject(o, "version", ver->version) == NULL ||
	    cJSON_AddStringToObject(o, "state", pv_key_state_name(ver->state)) == NULL)
		goto out;
	if (pv_alg_is_asymmetric(key->alg)) {
		r = vd_keeper_public(c->d->keeper, q, ver->version, &pk);
		vd_err_map(r, &m);
		if (r != PV_OK && m.token)
			goto out;
		if (r == PV_OK && ((r = pv_pubkey_thumbprint(pk, &kid)) != PV_OK ||
				   (detail && ((r = pv_pubkey_pem(pk, &pem)) != PV_OK ||
					       (r = pv_pubkey_jwk(pk, &jwk)) != PV_OK))))
			goto out;
	}
	r = PV_ERR_NOMEM;
	if ((kid != NULL ? cJSON_AddStringToObject(o, "kid", kid) : cJSON_AddNullToObject(o, "kid")) == NULL)
		goto out;
	if (detail) {
		if ((pem != NULL ? cJSON_AddStringToObject(o, "public_key_pem", pem)
				 : cJSON_AddNullToObject(o, "public_key_pem")) == NULL)
			goto out;
		if (jwk != NULL) {
			if (cJSON_AddStringToObject(jwk, "kid", kid) == NULL ||
			    !cJSON_AddItemToObject(o, "jwk", jwk))
				goto out;
			jwk = NULL;
		} else if (cJSON_AddNullToObject(o, "jwk") == NULL) {
			goto out;
		}
	}
	r = PV_OK;
out:
	EVP_PKEY_free(pk);
	cJSON_Delete(jwk);
	free(kid);
	free(pem);
	return r;
}

/* The key's purpose, null for a key made before purposes existed. */
static cJSON *
purpose_json(const struct pv_key *key)
{
	if (key->purpose == PV_PURPOSE_NONE)
		return cJSON_CreateNull();
	return cJSON_CreateString(pv_key_purpose_name(key->purpose));
}

/* "disabled" / "delete_at" of a key: the time, or null while unset. */
static int
add_time(cJSON *o, const char *member, int64_t t)
{
	char when[32];

	if (t == 0 || pv_key_time_text(t, when, sizeof(when)) != PV_OK)
		return cJSON_AddNullToObject(o, member) != NULL;
	return cJSON_AddStringToObject(o, member, when) != NULL;
}

static pv_err
key_json(struct vd_ctx *c, const struct pv_key *key, enum vd_key_origin origin, int detail, cJSON **out)
{
	cJSON *o = NULL, *arr = NULL, *purpose = NULL;
	struct vd_kreq q;
	size_t i;
	pv_err r = PV_ERR_NOMEM;

	*out = NULL;
	/* public keys are read under the same decision as the metadata */
	vd_kreq(c, VD_USE_READ, &q);
	q.key = key->name;
	if ((o = cJSON_CreateObject()) == NULL || cJSON_AddStringToObject(o, "name", key->name) == NULL ||
	    cJSON_AddStringToObject(o, "alg", pv_alg_info(key->alg)->name) == NULL ||
	    (purpose = purpose_json(key)) == NULL || !cJSON_AddItemToObject(o, "purpose", purpose) ||
	    ((purpose = NULL),
	     cJSON_AddStringToObject(o, "usage", pv_key_usage_label(key->alg, key->usage))) == NULL ||
	    cJSON_AddStringToObject(o, "origin", origin_names[origin == VD_ORIGIN_BUNDLE]) == NULL ||
	    !add_time(o, "disabled", key->disabled) || !add_time(o, "delete_at", key->delete_at) ||
	    pv_key_schedule_json(key, pv_key_clock_now(), o) != PV_OK ||
	    (arr = cJSON_AddArrayToObject(o, "versions")) == NULL)
		goto out;
	for (i = 0; i < key->nversions; i++) {
		if ((r = version_json(c, &q, key, &key->versions[i], detail, arr)) != PV_OK)
			goto out;
	}
	*out = o;
	o = NULL;
	r = PV_OK;
out:
	cJSON_Delete(purpose);
	cJSON_Delete(o);
	return r;
}

void
vd_h_keys_list(struct vd_ctx *c)
{
	struct pv_key **keys = NULL;
	enum vd_key_origin *origins = NULL;
	struct vd_kreq q;
	cJSON *root = NULL, *arr = NULL, *k = NULL;
	size_t n = 0, i;
	pv_err r;

	/* only the keys this client may read: the keeper decides per key */
	vd_kreq(c, VD_USE_READ, &q);
	if ((r = vd_keeper_keys(c->d->keeper, &q, &keys, &origins, &n)) != PV_OK) {
		vd_fail(c, r);
		goto out;
	}
	if ((root = cJSON_CreateObject()) == NULL || (arr = cJSON_AddArrayToObject(root, "keys")) == NULL) {
		vd_fail(c, PV_ERR_NOMEM);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((r = key_json(c, keys[i], origins[i], 0, &k)) != PV_OK) {
			vd_fail(c, r);
			goto out;
		}
		cJSON_AddItemToArray(arr, k);
	}
	vd_ok(c, root);
out:
	cJSON_Delete(root);
	pv_keys_list_free(keys, n);
	free(origins);
}

void
vd_h_key_get(struct vd_ctx *c)
{
	struct pv_key *key = NULL;
	enum vd_key_origin origin = VD_ORIGIN_TOKEN;
	struct vd_kreq q;
	cJSON *o = NULL;
	pv_err r;

	vd_kreq(c, VD_USE_READ, &q);
	pv_err_clear_detail();
	if ((r = vd_keeper_key(c->d->keeper, &q, &key, &origin)) != PV_OK) {
		if (r == PV_ERR_PURPOSE)
			c->key_exists = 1;
		vd_fail_key(c, r);
		goto out;
	}
	c->key_exists = 1;
	if ((r = key_json(c, key, origin, 1, &o)) != PV_OK) {
		vd_fail(c, r);
		goto out;
	}
	vd_ok(c, o);
out:
	cJSON_Delete(o);
	pv_key_free(key);
}

static const char *const sign_members[] = {"input_b64", "digest_b64", "digest", "version",
					   "format",    "padding",    NULL};
static const char *const verify_members[] = {"input_b64", "digest_b64", "digest",        "version",
					     "format",    "padding",    "signature_b64", NULL};
static const char *const batch_members[] = {"inputs_b64", "digests_b64", "digest", "version",
					    "format",     "padding",     NULL};
static const char *const formats[] = {"raw", "der", "jose", NULL};
static const char *const paddings[] = {"pkcs1", "pss", NULL};
static const char *const digests[] = {"sha256", "sha384", "sha512", "keccak256", "none", NULL};

/* A sign or verify request, checked against the key. */
struct sign_req {
	uint8_t *msg; /* malloc'd */
	size_t len;
	struct pv_sign_opts o;
	pv_sigfmt fmt;
};

static void
wrong_alg(struct vd_ctx *c, const char *what, const struct pv_key *key)
{
	vd_reply_errorf(c->resp, 400, "wrong_algorithm", "%s: not for %s keys", what,
			pv_alg_info(key->alg)->name);
}

/*
 * The members of a sign, verify or sign-batch body apart from the bytes:
 * options checked against the key, and which of the members in_name
 * (input) and dg_name (a digest the caller computed) is there
 * (*prehashed). On failure the reply is made.
 */
static pv_err
read_sign_opts(struct vd_ctx *c, const vd_rj *rj, const struct pv_key *key, const char *in_name,
	       const char *dg_name, struct sign_req *sr, int *prehashed_out, pv_digest *d_out)
{
	const struct pv_alg_info *ai = pv_alg_info(key->alg);
	int fmt = -1, pad = -1, dig = -1, present = 0, prehashed;
	pv_digest d = PV_DIGEST_DEFAULT;
	int64_t version = 0;
	pv_err r;

	memset(sr, 0, sizeof(*sr));
	sr->o.purpose = PV_PURPOSE_SIGN;
	if ((r = vd_rj_enum(rj, "format", 0, formats, &fmt)) != PV_OK ||
	    (r = vd_rj_enum(rj, "padding", 0, paddings, &pad)) != PV_OK ||
	    (r = vd_rj_enum(rj, "digest", 0, digests, &dig)) != PV_OK ||
	    (r = vd_rj_int(rj, "version", 0, 1, PV_KEY_VERSIONS_MAX, &version, &present)) != PV_OK)
		goto bad;
	if (present) {
		sr->o.version = (unsigned)version;
		c->version = sr->o.version;
		if (pv_key_find_version(key, sr->o.version) == NULL) {
			vd_reply_errorf(c->resp, 404, "version_not_found", "key '%s' has no version %u",
					key->name, sr->o.version);
			return PV_ERR_NOT_FOUND;
		}
	}
	if (vd_rj_has(rj, in_name) == vd_rj_has(rj, dg_name)) {
		vd_reply_errorf(c->resp, 400, "bad_request", "exactly one of %s and %s is needed", in_name,
				dg_name);
		return PV_ERR_BAD_INPUT;
	}
	prehashed = vd_rj_has(rj, dg_name);
	if (dig >= 0 && (r = pv_digest_from_name(digests[dig], &d)) != PV_OK)
		goto bad;
	sr->fmt = fmt < 0 ? PV_SIGFMT_RAW : (pv_sigfmt)fmt;
	sr->o.pss = pad == 1;
	if (ai->family == PV_FAMILY_AES) {
		wrong_alg(c, "signing", key);
		return PV_ERR_KEY_TYPE;
	}
	if (sr->fmt == PV_SIGFMT_DER && ai->family != PV_FAMILY_EC) {
		wrong_alg(c, "format der (ECDSA only)", key);
		return PV_ERR_KEY_TYPE;
	}
	if (pad >= 0 && ai->family != PV_FAMILY_RSA) {
		wrong_alg(c, "padding (RSA only)", key);
		return PV_ERR_KEY_TYPE;
	}
	if ((ai->family == PV_FAMILY_EDDSA || ai->family == PV_FAMILY_HMAC) &&
	    (prehashed || (d != PV_DIGEST_DEFAULT && d != PV_DIGEST_NONE))) {
		wrong_alg(c, "a digest (the key signs the message itself)", key);
		return PV_ERR_KEY_TYPE;
	}
	if (d == PV_DIGEST_KECCAK256 && ai->family == PV_FAMILY_RSA) {
		wrong_alg(c, "digest keccak256", key);
		return PV_ERR_KEY_TYPE;
	}
	if (prehashed && (d == PV_DIGEST_DEFAULT || d == PV_DIGEST_NONE)) {
		vd_reply_errorf(c->resp, 400, "bad_request", "%s needs \"digest\" naming its hash", dg_name);
		return PV_ERR_BAD_INPUT;
	}
	/* a digest the caller computed: the token signs what it is given; the
	 * length tells RSA which DigestInfo (keccak256 is refused for RSA above) */
	sr->o.digest = prehashed ? PV_DIGEST_NONE : d;
	*prehashed_out = prehashed;
	*d_out = d;
	return PV_OK;
bad:
	vd_fail(c, r);
	return r;
}

/* A caller's digest must have its hash's length; on failure the reply is made. */
static pv_err
check_digest_len(struct vd_ctx *c, const char *what, pv_digest d, size_t len)
{
	if (len == pv_digest_len(d))
		return PV_OK;
	vd_reply_errorf(c->resp, 400, "bad_request", "%s must be %zu bytes for %s", what, pv_digest_len(d),
			pv_digest_name(d));
	return PV_ERR_BAD_INPUT;
}

/* Fill sr from a sign or verify body; on failure the reply is made. */
static pv_err
read_sign_req(struct vd_ctx *c, const vd_rj *rj, const struct pv_key *key, struct sign_req *sr)
{
	pv_digest d = PV_DIGEST_DEFAULT;
	int prehashed = 0;
	pv_err r;

	if ((r = read_sign_opts(c, rj, key, "input_b64", "digest_b64", sr, &prehashed, &d)) != PV_OK)
		return r;
	if (prehashed) {
		if ((r = vd_rj_b64(rj, "digest_b64", 1, PV_DIGEST_MAX_LEN, &sr->msg, &sr->len)) != PV_OK) {
			vd_fail(c, r);
			return r;
		}
		return check_digest_len(c, "digest_b64", d, sr->len);
	}
	if ((r = vd_rj_b64(rj, "input_b64", 1, PV_SIGN_INPUT_MAX, &sr->msg, &sr->len)) != PV_OK)
		vd_fail(c, r);
	return r;
}

/* The signature in its wire form: standard base64 of the raw or DER
 * bytes; for jose the base64url text itself. */
static pv_err
encode_signature(pv_sigfmt fmt, pv_alg alg, const struct pv_sig *sig, char **out)
{
	uint8_t *enc = NULL;
	size_t enclen = 0;
	pv_err r;

	*out = NULL;
	if ((r = pv_sig_encode(fmt, alg, sig->bytes, sig->len, &enc, &enclen)) != PV_OK)
		return r;
	if (fmt == PV_SIGFMT_JOSE) {
		*out = (char *)enc;
		return PV_OK;
	}
	r = pv_b64_encode(enc, enclen, out);
	free(enc);
	return r;
}

void
vd_h_sign(struct vd_ctx *c)
{
	vd_rj *rj = NULL;
	struct pv_key *key = NULL;
	struct vd_kreq q;
	struct sign_req sr;
	struct pv_sig sig;
	char *sigtext = NULL;
	cJSON *o = NULL;
	pv_err r;

	memset(&sr, 0, sizeof(sr));
	if (vd_body(c, sign_members, 0, &rj) != PV_OK || vd_key(c, VD_USE_SIGN, &q, &key) != PV_OK ||
	    read_sign_req(c, rj, key, &sr) != PV_OK)
		goto out;
	pv_err_clear_detail();
	if ((r = vd_keeper_sign(c->d->keeper, &q, &sr.o, sr.msg, sr.len, &sig)) != PV_OK) {
		vd_fail_key(c, r);
		goto out;
	}
	c->version = sig.version;
	if ((r = encode_signature(sr.fmt, sig.alg, &sig, &sigtext)) != PV_OK) {
		vd_fail(c, r);
		goto out;
	}
	if ((o = cJSON_CreateObject()) == NULL || cJSON_AddStringToObject(o, "name", c->name) == NULL ||
	    cJSON_AddNumberToObject(o, "version", sig.version) == NULL ||
	    cJSON_AddStringToObject(o, "alg", pv_alg_info(sig.alg)->name) == NULL ||
	    cJSON_AddStringToObject(o, "format", pv_sigfmt_name(sr.fmt)) == NULL ||
	    cJSON_AddStringToObject(o, "signature_b64", sigtext) == NULL) {
		vd_fail(c, PV_ERR_NOMEM);
		goto out;
	}
	vd_ok(c, o);
out:
	cJSON_Delete(o);
	free(sigtext);
	free(sr.msg);
	pv_key_free(key);
	vd_rj_free(rj);
}

/* The audit line's per-item hashes (docs/audit.md): SHA-256 of each
 * decoded input or digest, in order. */
static void
audit_inputs(struct vd_ctx *c, uint8_t *const *in, const size_t *lens, size_t n)
{
	size_t i, mdlen = 0;

	for (i = 0; i < n && i < VD_BATCH_MAX; i++) {
		if (pv_digest_compute(PV_DIGEST_SHA256, in[i], lens[i], c->inputs_sha256[i], &mdlen) !=
			PV_OK ||
		    mdlen != sizeof(c->inputs_sha256[i]))
			return; /* none rather than some */
	}
	c->n_inputs = n;
}

/*
 * POST /v1/keys/{name}/sign-batch: the body of /sign with inputs_b64 or
 * digests_b64 (1..VD_BATCH_SIGN_MAX items) instead of input_b64 or
 * digest_b64. Every item is decoded and checked before the keeper is
 * asked; the keeper decides once and signs all with one version, or none.
 */
void
vd_h_sign_batch(struct vd_ctx *c)
{
	struct vd_batch_item items[VD_BATCH_SIGN_MAX];
	vd_rj *rj = NULL;
	struct pv_key *key = NULL;
	struct vd_kreq q;
	struct sign_req sr;
	struct pv_sig *sigs = NULL;
	uint8_t **in = NULL;
	size_t *lens = NULL, n = 0, i;
	pv_digest d = PV_DIGEST_DEFAULT;
	int prehashed = 0;
	const char *member;
	char what[32], *text = NULL;
	cJSON *o = NULL, *arr = NULL;
	pv_err r;

	memset(&sr, 0, sizeof(sr));
	if (vd_body(c, batch_members, 0, &rj) != PV_OK || vd_key(c, VD_USE_SIGN, &q, &key) != PV_OK ||
	    read_sign_opts(c, rj, key, "inputs_b64", "digests_b64", &sr, &prehashed, &d) != PV_OK)
		goto out;
	member = prehashed ? "digests_b64" : "inputs_b64";
	pv_err_clear_detail();
	if ((r = vd_rj_b64_array(rj, member, 1, VD_BATCH_SIGN_MAX,
				 prehashed ? PV_DIGEST_MAX_LEN : PV_SIGN_INPUT_MAX, &in, &lens, &n)) !=
	    PV_OK) {
		vd_fail(c, r);
		goto out;
	}
	audit_inputs(c, in, lens, n);
	for (i = 0; i < n; i++) {
		snprintf(what, sizeof(what), "%s[%zu]", member, i);
		if (prehashed && check_digest_len(c, what, d, lens[i]) != PV_OK)
			goto out;
		items[i].msg = in[i];
		items[i].len = lens[i];
		items[i].solana_tx = NULL;
	}
	if ((sigs = calloc(n, sizeof(*sigs))) == NULL) {
		vd_fail(c, PV_ERR_NOMEM);
		goto out;
	}
	pv_err_clear_detail();
	if ((r = vd_keeper_sign_batch(c->d->keeper, &q, &sr.o, items, n, sigs)) != PV_OK) {
		vd_fail_key(c, r);
		goto out;
	}
	c->version = sigs[0].version;
	if ((o = cJSON_CreateObject()) == NULL || cJSON_AddStringToObject(o, "name", c->name) == NULL ||
	    cJSON_AddNumberToObject(o, "version", sigs[0].version) == NULL ||
	    cJSON_AddStringToObject(o, "alg", pv_alg_info(sigs[0].alg)->name) == NULL ||
	    cJSON_AddStringToObject(o, "format", pv_sigfmt_name(sr.fmt)) == NULL ||
	    (arr = cJSON_AddArrayToObject(o, "signatures_b64")) == NULL) {
		vd_fail(c, PV_ERR_NOMEM);
		goto out;
	}
	for (i = 0; i < n; i++) {
		cJSON *s;

		if ((r = encode_signature(sr.fmt, sigs[i].alg, &sigs[i], &text)) != PV_OK) {
			vd_fail(c, r);
			goto out;
		}
		if ((s = cJSON_CreateString(text)) == NULL || !cJSON_AddItemToArray(arr, s)) {
			cJSON_Delete(s);
			vd_fail(c, PV_ERR_NOMEM);
			goto out;
		}
		free(text);
		text = NULL;
	}
	vd_ok(c, o);
out:
	cJSON_Delete(o);
	free(text);
	free(sigs);
	vd_rj_b64_array_free(in, lens, n);
	pv_key_free(key);
	vd_rj_free(rj);
}

/* The signature member in raw form; 0 when it is not a well-formed
 * signature for the key (then the answer is valid:false). */
static pv_err
read_signature(struct vd_ctx *c, const vd_rj *rj, const struct pv_key *key, pv_sigfmt fmt, uint8_t *raw,
	       size_t *rawlen, int *wellformed)
{
	const char *text = NULL;
	uint8_t *bin = NULL;
	size_t binlen = 0;
	pv_err r;

	*wellformed = 0;
	*rawlen = 0;
	if (fmt == PV_SIGFMT_JOSE) {
		if ((r = vd_rj_string(rj, "signature_b64", 1, 2 * PV_SIG_MAX_RAW, &text)) != PV_OK)
			goto bad;
		r = pv_sig_parse(fmt, (const uint8_t *)text, strlen(text), key->alg, raw, PV_SIG_MAX_RAW,
				 rawlen);
	} else {
		if ((r = vd_rj_b64(rj, "signature_b64", 1, 2 * PV_SIG_MAX_RAW, &bin, &binlen)) != PV_OK)
			goto bad;
		r = pv_sig_parse(fmt, bin, binlen, key->alg, raw, PV_SIG_MAX_RAW, rawlen);
		free(bin);
	}
	*wellformed = r == PV_OK;
	return PV_OK;
bad:
	vd_fail(c, r);
	return r;
}

void
vd_h_verify(struct vd_ctx *c)
{
	uint8_t raw[PV_SIG_MAX_RAW];
	vd_rj *rj = NULL;
	struct pv_key *key = NULL;
	const struct pv_key_version *active;
	struct vd_kreq q;
	struct sign_req sr;
	size_t rawlen = 0;
	int wellformed = 0, valid = 0;
	cJSON *o = NULL;
	pv_err r;

	memset(&sr, 0, sizeof(sr));
	if (vd_body(c, verify_members, 0, &rj) != PV_OK || vd_key(c, VD_USE_VERIFY, &q, &key) != PV_OK ||
	    read_sign_req(c, rj, key, &sr) != PV_OK ||
	    read_signature(c, rj, key, sr.fmt, raw, &rawlen, &wellformed) != PV_OK)
		goto out;
	if (sr.o.version == 0 && (active = pv_key_active(key)) != NULL)
		c->version = active->version;
	if (wellformed) {
		pv_err_clear_detail();
		r = vd_keeper_verify(c->d->keeper, &q, &sr.o, sr.msg, sr.len, raw, rawlen);
		if (r != PV_OK && r != PV_ERR_BAD_SIGNATURE) {
			vd_fail_key(c, r);
			goto out;
		}
		valid = r == PV_OK;
	}
	if ((o = cJSON_CreateObject()) == NULL || cJSON_AddBoolToObject(o, "valid", valid) == NULL ||
	    cJSON_AddNumberToObject(o, "version", c->version) == NULL) {
		vd_fail(c, PV_ERR_NOMEM);
		goto out;
	}
	vd_ok(c, o);
out:
	cJSON_Delete(o);
	free(sr.msg);
	pv_key_free(key);
	vd_rj_free(rj);
}
