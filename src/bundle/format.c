/*
 * Bundle formats 1 and 2: strict parser, writer, AAD and check digest.
 * docs/bundle-format.md is the reference; section numbers below point there.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "base/defs.h"
#include "base/json.h"
#include "bundle/format.h"
#include "core/b64.h"

/* Indexed by the enums, which start at 1; NULL-terminated, so that names + 1
 * is the list of choices for the JSON reader. */
static const char *const rcpt_names[] = {
    [PV_RCPT_AES_KWP] = "aes-kwp",
    [PV_RCPT_RSA_OAEP_SHA256] = "rsa-oaep-sha256",
    NULL,
};

static const char *const sealer_alg_names[] = {
    [PV_SEALER_ECDSA_P256_SHA256] = "ecdsa-p256-sha256",
    [PV_SEALER_ED25519] = "ed25519",
    [PV_SEALER_RSA_PSS_SHA256] = "rsa-pss-sha256",
    NULL,
};

static const char *const kind_names[] = {
    [PV_ENTRY_ENV] = "env",
    [PV_ENTRY_FILE] = "file",
    [PV_ENTRY_PRIVATE_KEY] = "private-key",
    NULL,
};

const char *
pv_rcpt_type_name(enum pv_rcpt_type t)
{
	if ((size_t)t < PV_NELEM(rcpt_names) && rcpt_names[t] != NULL)
		return rcpt_names[t];
	return "?";
}

const char *
pv_sealer_alg_name(enum pv_sealer_alg a)
{
	if ((size_t)a < PV_NELEM(sealer_alg_names) && sealer_alg_names[a] != NULL)
		return sealer_alg_names[a];
	return "?";
}

const char *
pv_entry_kind_name(int kind)
{
	if (kind > 0 && (size_t)kind < PV_NELEM(kind_names) && kind_names[kind] != NULL)
		return kind_names[kind];
	return "?";
}

/* ---- time ---- */

pv_err
pv_time_parse(const char *s, time_t *t)
{
	struct tm tm = {0};
	int y, mo, d, h, mi, se;
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	size_t i;
	time_t v;

	if (strlen(s) != PV_BUNDLE_TIME_LEN)
		return PV_ERR_BAD_INPUT;
	for (i = 0; i < PV_BUNDLE_TIME_LEN; i++) {
		char c = s[i];
		int want_digit = !(i == 4 || i == 7 || i == 10 || i == 13 || i == 16 || i == 19);
		if (want_digit && !(c >= '0' && c <= '9'))
			return PV_ERR_BAD_INPUT;
	}
	if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != 'Z')
		return PV_ERR_BAD_INPUT;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ", &y, &mo, &d, &h, &mi, &se) != 6)
		return PV_ERR_BAD_INPUT;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || se > 59)
		return PV_ERR_BAD_INPUT;
	if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return PV_ERR_BAD_INPUT;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	v = timegm(&tm);
	if (v == (time_t)-1)
		return PV_ERR_BAD_INPUT;
	*t = v;
	return PV_OK;
}

void
pv_time_format(time_t t, char buf[PV_BUNDLE_TIME_LEN + 1])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, PV_BUNDLE_TIME_LEN + 1, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- model ---- */

void
pv_bundle_entry_clear(struct pv_bundle_entry *e)
{
	if (e == NULL)
		return;
	free(e->data);
	free(e->public_key);
	memset(e, 0, sizeof(*e));
}

void
pv_bundle_recipient_clear(struct pv_bundle_recipient *r)
{
	if (r == NULL)
		return;
	free(r->kid);
	free(r->label);
	free(r->wrapped_dek);
	memset(r, 0, sizeof(*r));
}

void
pv_bundle_free(struct pv_bundle *b)
{
	size_t i;

	if (b == NULL)
		return;
	for (i = 0; i < b->nctx; i++) {
		free(b->ctx[i].name);
		free(b->ctx[i].value);
	}
	free(b->ctx);
	for (i = 0; i < b->nrcpt; i++)
		pv_bundle_recipient_clear(&b->rcpt[i]);
	free(b->rcpt);
	for (i = 0; i < b->nentries; i++)
		pv_bundle_entry_clear(&b->entries[i]);
	free(b->entries);
	free(b);
}

pv_err
pv_bundle_new(struct pv_bundle **out)
{
	struct pv_bundle *b = NULL;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return PV_ERR_NOMEM;
	randombytes_buf(b->id, sizeof(b->id));
	pv_time_format(time(NULL), b->created);
	b->version = 1;
	*out = b;
	return PV_OK;
}

static int
ctx_name_valid(const char *s)
{
	size_t n = strlen(s), i;

	if (n < 1 || n > 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return 0;
	return 1;
}

static int
ctx_value_valid(const char *s)
{
	size_t n = strlen(s), i;

	if (n < 1 || n > 256)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

pv_err
pv_bundle_set_context(struct pv_bundle *b, const char *name, const char *value)
{
	struct pv_bundle_ctx *grown = NULL;
	char *n = NULL, *v = NULL;
	size_t i, at;
	pv_err r = PV_ERR_NOMEM;

	if (!ctx_name_valid(name)) {
		pv_err_set_detail("context name must be 1-64 characters of A-Z a-z 0-9 _ . -");
		return PV_ERR_BAD_INPUT;
	}
	if (!ctx_value_valid(value)) {
		pv_err_set_detail("context %s: value must be 1-256 bytes without control characters", name);
		return PV_ERR_BAD_INPUT;
	}
	if ((v = strdup(value)) == NULL)
		goto out;
	for (i = 0; i < b->nctx; i++) {
		if (strcmp(b->ctx[i].name, name) == 0) {
			free(b->ctx[i].value);
			b->ctx[i].value = v;
			v = NULL;
			r = PV_OK;
			goto out;
		}
	}
	if (b->nctx >= PV_BUNDLE_MAX_CONTEXT) {
		pv_err_set_detail("at most %d context pairs", PV_BUNDLE_MAX_CONTEXT);
		r = PV_ERR_BAD_INPUT;
		goto out;
	}
	if ((n = strdup(name)) == NULL)
		goto out;
	if ((grown = realloc(b->ctx, (b->nctx + 1) * sizeof(*grown))) == NULL)
		goto out;
	b->ctx = grown;
	for (at = 0; at < b->nctx && strcmp(b->ctx[at].name, name) < 0; at++)
		;
	memmove(&b->ctx[at + 1], &b->ctx[at], (b->nctx - at) * sizeof(*grown));
	b->ctx[at].name = n;
	b->ctx[at].value = v;
	b->nctx++;
	n = v = NULL;
	r = PV_OK;
out:
	free(n);
	free(v);
	return r;
}

const char *
pv_bundle_get_context(const struct pv_bundle *b, const char *name)
{
	size_t i;

	for (i = 0; i < b->nctx; i++)
		if (strcmp(b->ctx[i].name, name) == 0)
			return b->ctx[i].value;
	return NULL;
}

struct pv_bundle_entry *
pv_bundle_find(const struct pv_bundle *b, const char *name)
{
	size_t lo = 0, hi = b->nentries;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(b->entries[mid].name, name);
		if (c == 0)
			return &b->entries[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

pv_err
pv_bundle_insert(struct pv_bundle *b, struct pv_bundle_entry *e)
{
	struct pv_bundle_entry *grown = NULL;
	size_t at;

	if (pv_bundle_find(b, e->name) != NULL) {
		pv_err_set_detail("an entry named %s already exists", e->name);
		return PV_ERR_EXISTS;
	}
	if (b->nentries >= PV_BUNDLE_MAX_ENTRIES) {
		pv_err_set_detail("at most %d entries", PV_BUNDLE_MAX_ENTRIES);
		return PV_ERR_TOO_LARGE;
	}
	if ((grown = realloc(b->entries, (b->nentries + 1) * sizeof(*grown))) == NULL)
		return PV_ERR_NOMEM;
	b->entries = grown;
	for (at = 0; at < b->nentries && strcmp(b->entries[at].name, e->name) < 0; at++)
		;
	memmove(&b->entries[at + 1], &b->entries[at], (b->nentries - at) * sizeof(*grown));
	b->entries[at] = *e;
	b->nentries++;
	memset(e, 0, sizeof(*e));
	return PV_OK;
}

pv_err
pv_bundle_remove(struct pv_bundle *b, const char *name)
{
	struct pv_bundle_entry *e = pv_bundle_find(b, name);
	size_t at;

	if (e == NULL) {
		pv_err_set_detail("no entry named %s", name);
		return PV_ERR_NOT_FOUND;
	}
	at = (size_t)(e - b->entries);
	pv_bundle_entry_clear(e);
	memmove(&b->entries[at], &b->entries[at + 1], (b->nentries - at - 1) * sizeof(*e));
	b->nentries--;
	return PV_OK;
}

pv_err
pv_bundle_add_recipient(struct pv_bundle *b, struct pv_bundle_recipient *r)
{
	struct pv_bundle_recipient *grown = NULL;

	if (b->nrcpt >= PV_BUNDLE_MAX_RECIPIENTS) {
		pv_err_set_detail("at most %d recipients", PV_BUNDLE_MAX_RECIPIENTS);
		return PV_ERR_TOO_LARGE;
	}
	if ((grown = realloc(b->rcpt, (b->nrcpt + 1) * sizeof(*grown))) == NULL)
		return PV_ERR_NOMEM;
	b->rcpt = grown;
	b->rcpt[b->nrcpt++] = *r;
	memset(r, 0, sizeof(*r));
	return PV_OK;
}

void
pv_bundle_remove_recipient(struct pv_bundle *b, size_t i)
{
	if (i >= b->nrcpt)
		return;
	pv_bundle_recipient_clear(&b->rcpt[i]);
	memmove(&b->rcpt[i], &b->rcpt[i + 1], (b->nrcpt - i - 1) * sizeof(b->rcpt[0]));
	b->nrcpt--;
}

unsigned
pv_bundle_format(const struct pv_bundle *b)
{
	size_t i;

	for (i = 0; i < b->nentries; i++)
		if (b->entries[i].kind == PV_ENTRY_PRIVATE_KEY && b->entries[i].purpose != PV_PURPOSE_NONE)
			return PV_BUNDLE_FORMAT_V2;
	return PV_BUNDLE_FORMAT_V1;
}

int
pv_entry_purpose_valid(pv_alg alg, pv_key_purpose p)
{
	switch (p) {
	case PV_PURPOSE_JWT:
	case PV_PURPOSE_SIGN:
	case PV_PURPOSE_SOLANA:
	case PV_PURPOSE_EVM:
		return pv_alg_is_asymmetric(alg) && pv_key_purpose_fits(alg, p);
	default:
		return 0;
	}
}

void
pv_entry_purposes_for(pv_alg alg, char *buf, size_t len)
{
	pv_purposes_text(alg, pv_entry_purpose_valid, buf, len);
}

pv_err
pv_entry_check_purpose(const char *name, pv_key_purpose have, pv_key_purpose want)
{
	if (have != PV_PURPOSE_NONE || want == PV_PURPOSE_NONE)
		return pv_purpose_check(name, have, want);
	pv_err_set_detail("bundle key '%s' has no purpose (sealed by an earlier version); give it one with "
			  "`vaultctl bundle set-purpose BUNDLE %s PURPOSE`",
			  name, name);
	return PV_ERR_PURPOSE;
}

pv_err
pv_bundle_set_entry_purpose(struct pv_bundle *b, const char *name, pv_key_purpose p, int *changed)
{
	struct pv_bundle_entry *e = pv_bundle_find(b, name);
	char fit[64];

	*changed = 0;
	if (e == NULL) {
		pv_err_set_detail("the bundle has no entry %.64s", name);
		return PV_ERR_NOT_FOUND;
	}
	if (e->kind != PV_ENTRY_PRIVATE_KEY) {
		pv_err_set_detail("entry %s is not a private key; only private keys have a purpose", name);
		return PV_ERR_KEY_TYPE;
	}
	if (!pv_entry_purpose_valid(e->alg, p)) {
		pv_entry_purposes_for(e->alg, fit, sizeof(fit));
		pv_err_set_detail("purpose %s does not fit entry %s (%s); it can have: %s",
				  pv_key_purpose_name(p), name, pv_alg_info(e->alg)->name, fit);
		return PV_ERR_USAGE;
	}
	if (e->purpose == p)
		return PV_OK;
	if (e->purpose != PV_PURPOSE_NONE) {
		pv_err_set_detail(
		    "entry %s already has purpose %s; a purpose is never changed (import the key "
		    "again under another name)",
		    name, pv_key_purpose_name(e->purpose));
		return PV_ERR_STATE;
	}
	e->purpose = p;
	*changed = 1;
	return PV_OK;
}

/* ---- parsing (§2, §3) ---- */

/*
 * Read with the strict JSON reader (base/json.h): its refusals and the
 * ones below name the member's path ("entries[3].name: ..."), and
 * pv_bundle_parse reports them all as PV_ERR_INTEGRITY, "the bundle is not
 * intact". rcpt_names + 1 and kind_names + 1 are the NULL-terminated
 * choices (the enums start at 1).
 */

/* A copy of a string member of 1-128 printable bytes (NULL when absent). */
static pv_err
get_label(const pv_jv *o, const char *name, unsigned flags, char **out)
{
	const char *s = NULL;
	pv_err r;

	if ((r = pv_json_string(o, name, flags | PV_JSON_NONEMPTY | PV_JSON_PRINTABLE, 128, &s)) != PV_OK ||
	    s == NULL)
		return r;
	return (*out = strdup(s)) != NULL ? PV_OK : PV_ERR_NOMEM;
}

/* A time member (§3.1) into buf (left as it is when absent). */
static pv_err
get_time(const pv_jv *o, const char *name, unsigned flags, char buf[PV_BUNDLE_TIME_LEN + 1])
{
	const char *s = NULL;
	time_t t;
	pv_err r;

	if ((r = pv_json_string(o, name, flags, 64, &s)) != PV_OK || s == NULL)
		return r;
	if (pv_time_parse(s, &t) != PV_OK)
		return pv_json_fail_at(o, name, "not YYYY-MM-DDTHH:MM:SSZ");
	memcpy(buf, s, PV_BUNDLE_TIME_LEN + 1);
	return PV_OK;
}

static pv_err
parse_recipient(const pv_jv *o, struct pv_bundle_recipient *rc)
{
	static const char *const members[] = {"type", "kid", "label", "wrapped_dek", NULL};
	int type = -1;
	pv_err r;

	if ((r = pv_json_as_object(o, PV_JSON_REQUIRED, members)) != PV_OK ||
	    (r = pv_json_enum(o, "type", PV_JSON_REQUIRED, rcpt_names + 1, &type)) != PV_OK ||
	    (r = get_label(o, "kid", PV_JSON_REQUIRED, &rc->kid)) != PV_OK ||
	    (r = get_label(o, "label", 0, &rc->label)) != PV_OK ||
	    (r = pv_json_bytes(o, "wrapped_dek", PV_JSON_REQUIRED, &pv_b64url_enc, 0, 1024, &rc->wrapped_dek,
			       &rc->wrapped_len)) != PV_OK)
		return r;
	rc->type = (enum pv_rcpt_type)(type + 1);
	if (rc->type == PV_RCPT_AES_KWP && rc->wrapped_len != 40)
		return pv_json_fail_at(
		    o, "wrapped_dek", "an AES-KWP wrapped 32-byte key is 40 bytes, not %zu", rc->wrapped_len);
	if (rc->type == PV_RCPT_RSA_OAEP_SHA256 && (rc->wrapped_len < 256 || rc->wrapped_len > 512))
		return pv_json_fail_at(o, "wrapped_dek", "%zu bytes is not an RSA-2048..4096 ciphertext",
				       rc->wrapped_len);
	return PV_OK;
}

static pv_err
parse_private_key(const pv_jv *o, uint64_t fmt, struct pv_bundle_entry *e)
{
	const char *alg = NULL, *purpose = NULL;
	pv_err r;

	if (pv_json_at(o, "nonce").j != NULL || pv_json_at(o, "ct").j != NULL)
		return pv_json_fail(o, "a private-key entry has no nonce or ct");
	if ((r = pv_json_string(o, "alg", PV_JSON_REQUIRED, 32, &alg)) != PV_OK ||
	    (r = pv_json_string(o, "purpose", 0, 32, &purpose)) != PV_OK)
		return r;
	if ((e->alg = pv_alg_from_name(alg)) == PV_ALG_NONE || !pv_alg_is_asymmetric(e->alg))
		return pv_json_fail_at(o, "alg", "not an asymmetric algorithm");
	/* only format 2 authenticates a purpose (§6): in format 1 it could
	 * have been added by anyone */
	if (purpose != NULL && fmt < PV_BUNDLE_FORMAT_V2)
		return pv_json_fail_at(o, "purpose", "format 1 has no purpose (format 2 does)");
	if (purpose != NULL && (pv_key_purpose_from_name(purpose, &e->purpose) != PV_OK ||
				!pv_entry_purpose_valid(e->alg, e->purpose)))
		return pv_json_fail_at(o, "purpose", "not a purpose a private-key entry of %s can have",
				       pv_alg_info(e->alg)->name);
	if ((r = pv_json_bytes(o, "public_key", PV_JSON_REQUIRED, &pv_b64url_enc, 1, 2048, &e->public_key,
			       &e->public_key_len)) != PV_OK ||
	    (r = pv_json_bytes(o, "wrapped", PV_JSON_REQUIRED, &pv_b64url_enc, 16, PV_BUNDLE_WRAPPED_MAX,
			       &e->data, &e->data_len)) != PV_OK)
		return r;
	if (e->data_len % 8 != 0)
		return pv_json_fail_at(o, "wrapped", "not an AES-KWP output (a multiple of 8 bytes)");
	return PV_OK;
}

static pv_err
parse_entry(const pv_jv *o, uint64_t fmt, struct pv_bundle_entry *e)
{
	static const char *const members[] = {"name",    "kind",       "nonce",   "ct", "alg",
					      "purpose", "public_key", "wrapped", NULL};
	const char *name = NULL;
	int kind = -1;
	pv_err r;

	if ((r = pv_json_as_object(o, PV_JSON_REQUIRED, members)) != PV_OK ||
	    (r = pv_json_enum(o, "kind", PV_JSON_REQUIRED, kind_names + 1, &kind)) != PV_OK ||
	    (r = pv_json_string(o, "name", PV_JSON_REQUIRED, sizeof(e->name) - 1, &name)) != PV_OK)
		return r;
	e->kind = kind + 1;
	if (!pv_entry_name_valid(e->kind, name))
		return pv_json_fail_at(o, "name", "not a valid %s name", pv_entry_kind_name(e->kind));
	memcpy(e->name, name, strlen(name) + 1);
	if (e->kind == PV_ENTRY_PRIVATE_KEY)
		return parse_private_key(o, fmt, e);
	if (pv_json_at(o, "alg").j != NULL || pv_json_at(o, "purpose").j != NULL ||
	    pv_json_at(o, "public_key").j != NULL || pv_json_at(o, "wrapped").j != NULL)
		return pv_json_fail(o, "alg, purpose, public_key and wrapped belong to private-key entries");
	if ((r = pv_json_bytes_fixed(o, "nonce", PV_JSON_REQUIRED, &pv_b64url_enc, e->nonce,
				     sizeof(e->nonce))) != PV_OK ||
	    (r = pv_json_bytes(o, "ct", PV_JSON_REQUIRED, &pv_b64url_enc, PV_BUNDLE_TAG_LEN,
			       PV_BUNDLE_VALUE_MAX + PV_BUNDLE_TAG_LEN, &e->data, &e->data_len)) != PV_OK)
		return r;
	return PV_OK;
}

static pv_err
parse_context(const pv_jv *root, struct pv_bundle *b)
{
	char why[256];
	const char *s = NULL;
	pv_jv ctx, m;
	pv_err r;

	if ((r = pv_json_object(root, "context", PV_JSON_REQUIRED, NULL, &ctx)) != PV_OK)
		return r;
	for (m = pv_json_first(&ctx); m.j != NULL; pv_json_next(&m)) {
		if ((r = pv_json_as_string(&m, 0, SIZE_MAX - 1, &s)) != PV_OK)
			return r;
		if ((r = pv_bundle_set_context(b, m.name, s)) == PV_ERR_BAD_INPUT) {
			snprintf(why, sizeof(why), "%s", pv_err_detail());
			return pv_json_fail(&m, "%s", why);
		}
		if (r != PV_OK)
			return r;
	}
	return PV_OK;
}

/* §3.4: parsed strictly; whether it verifies is bundle/sealer.h's part. */
static pv_err
parse_sealer(const pv_jv *root, struct pv_bundle *b)
{
	static const char *const members[] = {"alg", "kid", "sig", NULL};
	struct pv_bundle_sealer *sl = &b->sealer;
	uint8_t kid[32], *sig = NULL;
	size_t kidlen = 0, siglen = 0, min, max;
	const char *k = NULL;
	int alg = -1;
	pv_jv o;
	pv_err r;

	if ((r = pv_json_object(root, "sealer", 0, members, &o)) != PV_OK || o.j == NULL)
		return r;
	if ((r = pv_json_enum(&o, "alg", PV_JSON_REQUIRED, sealer_alg_names + 1, &alg)) != PV_OK ||
	    (r = pv_json_string(&o, "kid", PV_JSON_REQUIRED, 64, &k)) != PV_OK)
		return r;
	sl->alg = (enum pv_sealer_alg)(alg + 1);
	if (strlen(k) != PV_SEALER_KID_LEN ||
	    pv_b64url_decode(k, strlen(k), kid, sizeof(kid), &kidlen) != PV_OK || kidlen != sizeof(kid))
		return pv_json_fail_at(&o, "kid", "not b64u of a 32-byte SHA-256 (43 characters)");
	memcpy(sl->kid, k, PV_SEALER_KID_LEN + 1);
	min = sl->alg == PV_SEALER_RSA_PSS_SHA256 ? 256 : 64;
	max = sl->alg == PV_SEALER_RSA_PSS_SHA256 ? PV_SEALER_SIG_MAX : 64;
	if ((r = pv_json_bytes(&o, "sig", PV_JSON_REQUIRED, &pv_b64url_enc, min, max, &sig, &siglen)) !=
	    PV_OK)
		return r;
	memcpy(sl->sig, sig, siglen);
	sl->sig_len = siglen;
	b->has_sealer = 1;
	free(sig);
	return PV_OK;
}

static pv_err
parse_bundle(const pv_jv *root, struct pv_bundle *b)
{
	static const char *const members[] = {"format",  "id",      "created",    "not_after",
					      "version", "context", "recipients", "entries",
					      "check",   "sealer",  NULL};
	pv_jv arr, it;
	int64_t fmt = 0, version = 0;
	size_t n = 0;
	pv_err r;

	if ((r = pv_json_as_object(root, PV_JSON_REQUIRED, members)) != PV_OK ||
	    (r = pv_json_int(root, "format", PV_JSON_REQUIRED, 0, PV_JSON_INT_MAX, &fmt)) != PV_OK)
		return r;
	if (fmt != PV_BUNDLE_FORMAT_V1 && fmt != PV_BUNDLE_FORMAT_V2)
		return pv_json_fail_at(root, "format",
				       "unknown format version %lld (this build reads %d and %d)",
				       (long long)fmt, PV_BUNDLE_FORMAT_V1, PV_BUNDLE_FORMAT_V2);
	if ((r = pv_json_bytes_fixed(root, "id", PV_JSON_REQUIRED, &pv_b64url_enc, b->id, sizeof(b->id))) !=
		PV_OK ||
	    (r = get_time(root, "created", PV_JSON_REQUIRED, b->created)) != PV_OK ||
	    (r = get_time(root, "not_after", 0, b->not_after)) != PV_OK ||
	    (r = pv_json_int(root, "version", PV_JSON_REQUIRED, 1, PV_JSON_INT_MAX, &version)) != PV_OK ||
	    (r = parse_context(root, b)) != PV_OK)
		return r;
	b->version = (uint64_t)version;

	if ((r = pv_json_array(root, "recipients", PV_JSON_REQUIRED | PV_JSON_NONEMPTY,
			       PV_BUNDLE_MAX_RECIPIENTS, &arr, &n)) != PV_OK)
		return r;
	if ((b->rcpt = calloc(n, sizeof(*b->rcpt))) == NULL)
		return PV_ERR_NOMEM;
	for (it = pv_json_first(&arr); it.j != NULL; pv_json_next(&it)) {
		b->nrcpt = it.index + 1;
		if ((r = parse_recipient(&it, &b->rcpt[it.index])) != PV_OK)
			return r;
	}

	if ((r = pv_json_array(root, "entries", PV_JSON_REQUIRED, PV_BUNDLE_MAX_ENTRIES, &arr, &n)) != PV_OK)
		return r;
	if (n > 0 && (b->entries = calloc(n, sizeof(*b->entries))) == NULL)
		return PV_ERR_NOMEM;
	for (it = pv_json_first(&arr); it.j != NULL; pv_json_next(&it)) {
		size_t i = it.index;
		int order;

		b->nentries = i + 1;
		if ((r = parse_entry(&it, (uint64_t)fmt, &b->entries[i])) != PV_OK)
			return r;
		if (i > 0 && (order = strcmp(b->entries[i - 1].name, b->entries[i].name)) >= 0)
			return pv_json_fail_at(&it, "name", "%s",
					       order == 0 ? "duplicate name"
							  : "entries are not sorted by name");
	}

	/* one document, one format: 2 exactly when an entry has a purpose */
	if ((uint64_t)fmt != pv_bundle_format(b))
		return pv_json_fail_at(root, "format", "%lld, but %s", (long long)fmt,
				       fmt == PV_BUNDLE_FORMAT_V2 ? "no entry has a purpose (format 1)"
								  : "an entry has a purpose");
	if ((r = pv_json_bytes_fixed(root, "check", PV_JSON_REQUIRED, &pv_b64url_enc, b->check,
				     sizeof(b->check))) != PV_OK)
		return r;
	return parse_sealer(root, b);
}

pv_err
pv_bundle_parse(const uint8_t *json, size_t len, struct pv_bundle **out)
{
	struct pv_bundle *b = NULL;
	cJSON *doc = NULL;
	pv_jv root;
	pv_err r;

	if (len > PV_BUNDLE_MAX) {
		pv_err_set_detail("bundle is %zu bytes; the limit is %u", len, PV_BUNDLE_MAX);
		r = PV_ERR_INTEGRITY;
		goto out;
	}
	if ((r = pv_json_parse(json, len, "bundle", PV_JSON_DEPTH_MAX, &doc)) != PV_OK)
		goto out;
	if ((b = calloc(1, sizeof(*b))) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	root = pv_json_root(doc, "bundle");
	if ((r = parse_bundle(&root, b)) != PV_OK)
		goto out;
	*out = b;
	b = NULL;
out:
	if (r == PV_ERR_BAD_INPUT)
		r = PV_ERR_INTEGRITY;
	cJSON_Delete(doc);
	pv_bundle_free(b);
	return r;
}

/* ---- writing ---- */

static pv_err
add_b64(cJSON *o, const char *name, const uint8_t *p, size_t len)
{
	char *s = NULL;
	pv_err r;

	if ((r = pv_b64url_encode(p, len, &s)) != PV_OK)
		return r;
	r = cJSON_AddStringToObject(o, name, s) != NULL ? PV_OK : PV_ERR_NOMEM;
	free(s);
	return r;
}

static pv_err
entry_json(const struct pv_bundle_entry *e, cJSON **out)
{
	cJSON *o = NULL;
	pv_err r = PV_ERR_NOMEM;

	if ((o = cJSON_CreateObject()) == NULL)
		goto out;
	if (cJSON_AddStringToObject(o, "name", e->name) == NULL ||
	    cJSON_AddStringToObject(o, "kind", pv_entry_kind_name(e->kind)) == NULL)
		goto out;
	if (e->kind == PV_ENTRY_PRIVATE_KEY) {
		if (cJSON_AddStringToObject(o, "alg", pv_alg_info(e->alg)->name) == NULL ||
		    (e->purpose != PV_PURPOSE_NONE &&
		     cJSON_AddStringToObject(o, "purpose", pv_key_purpose_name(e->purpose)) == NULL))
			goto out;
		if ((r = add_b64(o, "public_key", e->public_key, e->public_key_len)) != PV_OK ||
		    (r = add_b64(o, "wrapped", e->data, e->data_len)) != PV_OK)
			goto out;
	} else {
		if ((r = add_b64(o, "nonce", e->nonce, sizeof(e->nonce))) != PV_OK ||
		    (r = add_b64(o, "ct", e->data, e->data_len)) != PV_OK)
			goto out;
	}
	*out = o;
	o = NULL;
	r = PV_OK;
out:
	cJSON_Delete(o);
	return r;
}

static pv_err
recipient_json(const struct pv_bundle_recipient *rc, cJSON **out)
{
	cJSON *o = NULL;
	pv_err r = PV_ERR_NOMEM;

	if ((o = cJSON_CreateObject()) == NULL)
		goto out;
	if (cJSON_AddStringToObject(o, "type", pv_rcpt_type_name(rc->type)) == NULL ||
	    cJSON_AddStringToObject(o, "kid", rc->kid) == NULL)
		goto out;
	if (rc->label != NULL && cJSON_AddStringToObject(o, "label", rc->label) == NULL)
		goto out;
	if ((r = add_b64(o, "wrapped_dek", rc->wrapped_dek, rc->wrapped_len)) != PV_OK)
		goto out;
	*out = o;
	o = NULL;
	r = PV_OK;
out:
	cJSON_Delete(o);
	return r;
}

/* Append cJSON's compact text of o to buf. */
static pv_err
put_json(pv_buf *buf, const cJSON *o)
{
	char *s = cJSON_PrintUnformatted(o);
	pv_err r;

	if (s == NULL)
		return PV_ERR_NOMEM;
	r = pv_buf_put_cstr(buf, s);
	free(s);
	return r;
}

static pv_err
put_member(pv_buf *buf, const char *name, const cJSON *value, const char *after)
{
	pv_err r;

	if ((r = pv_buf_put_cstr(buf, "  \"")) != PV_OK || (r = pv_buf_put_cstr(buf, name)) != PV_OK ||
	    (r = pv_buf_put_cstr(buf, "\": ")) != PV_OK || (r = put_json(buf, value)) != PV_OK)
		return r;
	return pv_buf_put_cstr(buf, after);
}

pv_err
pv_bundle_serialize(const struct pv_bundle *b, char **out, size_t *outlen)
{
	pv_buf *buf = NULL;
	cJSON *v = NULL, *item = NULL;
	char *text = NULL;
	size_t i;
	pv_err r;

	if ((r = pv_buf_new(PV_BUNDLE_MAX, &buf)) != PV_OK)
		goto out;
#define MEMBER(name, make)                                                                                   \
	do {                                                                                                 \
		if ((v = (make)) == NULL) {                                                                  \
			r = PV_ERR_NOMEM;                                                                    \
			goto out;                                                                            \
		}                                                                                            \
		if ((r = put_member(buf, name, v, ",\n")) != PV_OK)                                          \
			goto out;                                                                            \
		cJSON_Delete(v);                                                                             \
		v = NULL;                                                                                    \
	} while (0)
	if ((r = pv_buf_put_cstr(buf, "{\n")) != PV_OK)
		goto out;
	MEMBER("format", cJSON_CreateNumber(pv_bundle_format(b)));
	if ((r = pv_b64url_encode(b->id, sizeof(b->id), &text)) != PV_OK)
		goto out;
	MEMBER("id", cJSON_CreateString(text));
	MEMBER("created", cJSON_CreateString(b->created));
	if (b->not_after[0] != '\0')
		MEMBER("not_after", cJSON_CreateString(b->not_after));
	MEMBER("version", cJSON_CreateNumber((double)b->version));
	if ((v = cJSON_CreateObject()) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < b->nctx; i++)
		if (cJSON_AddStringToObject(v, b->ctx[i].name, b->ctx[i].value) == NULL) {
			r = PV_ERR_NOMEM;
			goto out;
		}
	if ((r = put_member(buf, "context", v, ",\n")) != PV_OK)
		goto out;
	cJSON_Delete(v);
	v = NULL;
#undef MEMBER
	if ((r = pv_buf_put_cstr(buf, "  \"recipients\": [")) != PV_OK)
		goto out;
	for (i = 0; i < b->nrcpt; i++) {
		if ((r = recipient_json(&b->rcpt[i], &item)) != PV_OK ||
		    (r = pv_buf_put_cstr(buf, i ? ",\n    " : "\n    ")) != PV_OK ||
		    (r = put_json(buf, item)) != PV_OK)
			goto out;
		cJSON_Delete(item);
		item = NULL;
	}
	if ((r = pv_buf_put_cstr(buf, "\n  ],\n  \"entries\": [")) != PV_OK)
		goto out;
	for (i = 0; i < b->nentries; i++) {
		if ((r = entry_json(&b->entries[i], &item)) != PV_OK ||
		    (r = pv_buf_put_cstr(buf, i ? ",\n    " : "\n    ")) != PV_OK ||
		    (r = put_json(buf, item)) != PV_OK)
			goto out;
		cJSON_Delete(item);
		item = NULL;
	}
	free(text);
	text = NULL;
	if ((r = pv_b64url_encode(b->check, sizeof(b->check), &text)) != PV_OK)
		goto out;
	if ((r = pv_buf_put_cstr(buf, b->nentries ? "\n  ],\n  \"check\": \"" : "],\n  \"check\": \"")) !=
		PV_OK ||
	    (r = pv_buf_put_cstr(buf, text)) != PV_OK ||
	    (r = pv_buf_put_cstr(buf, b->has_sealer ? "\",\n" : "\"\n")) != PV_OK)
		goto out;
	if (b->has_sealer) { /* last, after the check it signs (§3.4) */
		if ((v = cJSON_CreateObject()) == NULL ||
		    cJSON_AddStringToObject(v, "alg", pv_sealer_alg_name(b->sealer.alg)) == NULL ||
		    cJSON_AddStringToObject(v, "kid", b->sealer.kid) == NULL) {
			r = PV_ERR_NOMEM;
			goto out;
		}
		if ((r = add_b64(v, "sig", b->sealer.sig, b->sealer.sig_len)) != PV_OK ||
		    (r = put_member(buf, "sealer", v, "\n")) != PV_OK)
			goto out;
	}
	if ((r = pv_buf_put_cstr(buf, "}\n")) != PV_OK)
		goto out;
	free(text);
	if ((text = malloc(pv_buf_len(buf) + 1)) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	memcpy(text, pv_buf_ptr(buf), pv_buf_len(buf));
	text[pv_buf_len(buf)] = '\0';
	*outlen = pv_buf_len(buf);
	*out = text;
	text = NULL;
	r = PV_OK;
out:
	if (r == PV_ERR_TOO_LARGE)
		pv_err_set_detail("the bundle would exceed %u bytes", PV_BUNDLE_MAX);
	cJSON_Delete(v);
	cJSON_Delete(item);
	free(text);
	pv_buf_free(buf);
	return r;
}

/* ---- AAD and check (§4, §5, §6) ---- */

static pv_err
put_u32(pv_buf *b, uint32_t v)
{
	uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};

	return pv_buf_put(b, x, sizeof(x));
}

static pv_err
put_u64(pv_buf *b, uint64_t v)
{
	pv_err r;

	if ((r = put_u32(b, (uint32_t)(v >> 32))) != PV_OK)
		return r;
	return put_u32(b, (uint32_t)v);
}

static pv_err
put_lp(pv_buf *b, const void *p, size_t len)
{
	pv_err r;

	if (len > UINT32_MAX)
		return PV_ERR_TOO_LARGE;
	if ((r = put_u32(b, (uint32_t)len)) != PV_OK)
		return r;
	return pv_buf_put(b, p, len);
}

static pv_err
put_lps(pv_buf *b, const char *s)
{
	return put_lp(b, s, strlen(s));
}

static pv_err
put_opt(pv_buf *b, const void *p, size_t len, int present)
{
	pv_err r;

	if (!present)
		return pv_buf_put_u8(b, 0);
	if ((r = pv_buf_put_u8(b, 1)) != PV_OK)
		return r;
	return put_lp(b, p, len);
}

static pv_err
put_ctx(pv_buf *b, const struct pv_bundle *bd)
{
	size_t i;
	pv_err r;

	if ((r = put_u32(b, (uint32_t)bd->nctx)) != PV_OK)
		return r;
	for (i = 0; i < bd->nctx; i++)
		if ((r = put_lps(b, bd->ctx[i].name)) != PV_OK || (r = put_lps(b, bd->ctx[i].value)) != PV_OK)
			return r;
	return PV_OK;
}

static const char aad_label[] = "p11vault-bundle-v1 entry";
static const char check_label[] = "p11vault-bundle-v1 check";

pv_err
pv_bundle_entry_aad_into(const struct pv_bundle *b, const struct pv_bundle_entry *e, pv_buf *aad)
{
	pv_err r;

	pv_buf_reset(aad);
	if ((r = pv_buf_put(aad, aad_label, sizeof(aad_label))) != PV_OK || /* with its NUL */
	    (r = pv_buf_put(aad, b->id, sizeof(b->id))) != PV_OK || (r = put_ctx(aad, b)) != PV_OK ||
	    (r = put_lps(aad, pv_entry_kind_name(e->kind))) != PV_OK || (r = put_lps(aad, e->name)) != PV_OK)
		return r;
	return PV_OK;
}

pv_err
pv_bundle_entry_aad(const struct pv_bundle *b, const struct pv_bundle_entry *e, pv_buf **out)
{
	pv_buf *aad = NULL;
	pv_err r;

	if ((r = pv_buf_new(PV_BUNDLE_AAD_MAX, &aad)) != PV_OK)
		goto out;
	if ((r = pv_bundle_entry_aad_into(b, e, aad)) != PV_OK)
		goto out;
	*out = aad;
	aad = NULL;
out:
	pv_buf_free(aad);
	return r;
}

/* The per-entry and per-recipient parts are hashed piecewise so that a
 * 16 MiB bundle never needs a second 16 MiB buffer. */
static pv_err
hash_buf(EVP_MD_CTX *md, pv_buf *b)
{
	if (EVP_DigestUpdate(md, pv_buf_ptr(b), pv_buf_len(b)) != 1)
		return PV_ERR_CRYPTO;
	pv_buf_reset(b);
	return PV_OK;
}

pv_err
pv_bundle_check_digest(const struct pv_bundle *b, uint8_t h[32])
{
	EVP_MD_CTX *md = NULL, *emd = NULL;
	EVP_MD *sha256 = NULL;
	pv_buf *buf = NULL;
	uint8_t inner[32];
	unsigned int hl = 0, il = 0, fmt = pv_bundle_format(b);
	size_t i;
	pv_err r;

	/* one fetched SHA-256 and one context for every entry's digest: a
	 * one-shot EVP_Digest looks the algorithm up each time */
	if ((md = EVP_MD_CTX_new()) == NULL || (emd = EVP_MD_CTX_new()) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	if ((sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL) {
		r = PV_ERR_CRYPTO;
		goto out;
	}
	if ((r = pv_buf_new(64 * 1024, &buf)) != PV_OK)
		goto out;
	if (EVP_DigestInit_ex(md, sha256, NULL) != 1) {
		r = PV_ERR_CRYPTO;
		goto out;
	}
	if ((r = pv_buf_put(buf, check_label, sizeof(check_label))) != PV_OK || /* with its NUL */
	    (r = put_u32(buf, fmt)) != PV_OK || (r = pv_buf_put(buf, b->id, sizeof(b->id))) != PV_OK ||
	    (r = put_lps(buf, b->created)) != PV_OK ||
	    (r = put_opt(buf, b->not_after, strlen(b->not_after), b->not_after[0] != '\0')) != PV_OK ||
	    (r = put_u64(buf, b->version)) != PV_OK || (r = put_ctx(buf, b)) != PV_OK ||
	    (r = put_u32(buf, (uint32_t)b->nrcpt)) != PV_OK || (r = hash_buf(md, buf)) != PV_OK)
		goto out;
	for (i = 0; i < b->nrcpt; i++) {
		const struct pv_bundle_recipient *rc = &b->rcpt[i];
		if ((r = put_lps(buf, pv_rcpt_type_name(rc->type))) != PV_OK ||
		    (r = put_lps(buf, rc->kid)) != PV_OK ||
		    (r = put_opt(buf, rc->label, rc->label ? strlen(rc->label) : 0, rc->label != NULL)) !=
			PV_OK ||
		    (r = put_lp(buf, rc->wrapped_dek, rc->wrapped_len)) != PV_OK ||
		    (r = hash_buf(md, buf)) != PV_OK)
			goto out;
	}
	if ((r = put_u32(buf, (uint32_t)b->nentries)) != PV_OK)
		goto out;
	for (i = 0; i < b->nentries; i++) {
		const struct pv_bundle_entry *e = &b->entries[i];
		int pk = e->kind == PV_ENTRY_PRIVATE_KEY;
		const char *alg = pk ? pv_alg_info(e->alg)->name : "";
		const char *purpose = pv_key_purpose_name(e->purpose);
		int has_purpose = pk && e->purpose != PV_PURPOSE_NONE;

		if (EVP_DigestInit_ex(emd, sha256, NULL) != 1 ||
		    EVP_DigestUpdate(emd, e->data, e->data_len) != 1 ||
		    EVP_DigestFinal_ex(emd, inner, &il) != 1 || il != sizeof(inner)) {
			r = PV_ERR_CRYPTO;
			goto out;
		}
		if ((r = put_lps(buf, e->name)) != PV_OK ||
		    (r = put_lps(buf, pv_entry_kind_name(e->kind))) != PV_OK ||
		    (r = put_opt(buf, alg, strlen(alg), pk)) != PV_OK ||
		    /* format 2 only: format 1 lines stay as they were */
		    (fmt >= PV_BUNDLE_FORMAT_V2 &&
		     (r = put_opt(buf, purpose, strlen(purpose), has_purpose)) != PV_OK) ||
		    (r = put_opt(buf, e->public_key, e->public_key_len, pk)) != PV_OK ||
		    (r = put_opt(buf, e->nonce, sizeof(e->nonce), !pk)) != PV_OK ||
		    (r = pv_buf_put(buf, inner, sizeof(inner))) != PV_OK || (r = hash_buf(md, buf)) != PV_OK)
			goto out;
	}
	if ((r = hash_buf(md, buf)) != PV_OK)
		goto out;
	if (EVP_DigestFinal_ex(md, h, &hl) != 1 || hl != 32) {
		r = PV_ERR_CRYPTO;
		goto out;
	}
	r = PV_OK;
out:
	EVP_MD_CTX_free(emd);
	EVP_MD_CTX_free(md);
	EVP_MD_free(sha256);
	pv_buf_free(buf);
	return r;
}
