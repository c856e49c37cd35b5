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
#include "base/jsontext.h"
#include "bundle/format.h"
#include "core/b64.h"

#define MAX_SAFE_INT 9007199254740991.0

static const char *const rcpt_names[] = {
    [PV_RCPT_AES_KWP] = "aes-kwp",
    [PV_RCPT_RSA_OAEP_SHA256] = "rsa-oaep-sha256",
};

static const char *const kind_names[] = {
    [PV_ENTRY_ENV] = "env",
    [PV_ENTRY_FILE] = "file",
    [PV_ENTRY_PRIVATE_KEY] = "private-key",
};

const char *
pv_rcpt_type_name(enum pv_rcpt_type t)
{
	if ((size_t)t < PV_NELEM(rcpt_names) && rcpt_names[t] != NULL)
		return rcpt_names[t];
	return "?";
}

const char *
pv_entry_kind_name(int kind)
{
	if (kind > 0 && (size_t)kind < PV_NELEM(kind_names) && kind_names[kind] != NULL)
		return kind_names[kind];
	return "?";
}

static int
kind_from_name(const char *s)
{
	size_t i;

	for (i = 1; i < PV_NELEM(kind_names); i++)
		if (kind_names[i] != NULL && strcmp(s, kind_names[i]) == 0)
			return (int)i;
	return 0;
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
	size_t used = 0;
	int i, n;

	if (len == 0)
		return;
	buf[0] = '\0';
	for (i = 1; i < PV_PURPOSE_COUNT; i++) {
		if (!pv_entry_purpose_valid(alg, (pv_key_purpose)i))
			continue;
		n = snprintf(buf + used, len - used, "%s%s", used > 0 ? ", " : "",
			     pv_key_purpose_name((pv_key_purpose)i));
		if (n < 0 || (size_t)n >= len - used)
			return;
		used += (size_t)n;
	}
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

/* Every failure below is "the bundle is not intact" with the member named. */
#define BAD(...)                                                                                             \
	do {                                                                                                 \
		pv_err_set_detail(__VA_ARGS__);                                                              \
		r = PV_ERR_INTEGRITY;                                                                        \
		goto out;                                                                                    \
	} while (0)

/* Only the listed members, each at most once. */
static pv_err
check_members(const cJSON *obj, const char *path, const char *const *allowed, size_t nallowed)
{
	const cJSON *a, *b;
	size_t i;

	for (a = obj->child; a != NULL; a = a->next) {
		int known = 0;
		if (a->string == NULL)
			return PV_ERR_INTEGRITY;
		for (i = 0; i < nallowed; i++)
			known |= strcmp(a->string, allowed[i]) == 0;
		if (!known) {
			pv_err_set_detail("%s: unknown member \"%.64s\"", path, a->string);
			return PV_ERR_INTEGRITY;
		}
		for (b = a->next; b != NULL; b = b->next) {
			if (b->string != NULL && strcmp(a->string, b->string) == 0) {
				pv_err_set_detail("%s: member \"%.64s\" appears twice", path, a->string);
				return PV_ERR_INTEGRITY;
			}
		}
	}
	return PV_OK;
}

static const char *
get_string(const cJSON *obj, const char *name)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);

	return cJSON_IsString(it) ? it->valuestring : NULL;
}

static pv_err
get_uint(const cJSON *obj, const char *name, uint64_t *v)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);
	double d;

	if (!cJSON_IsNumber(it))
		return PV_ERR_INTEGRITY;
	d = it->valuedouble;
	if (!(d >= 0 && d <= MAX_SAFE_INT) || d != (double)(uint64_t)d)
		return PV_ERR_INTEGRITY;
	*v = (uint64_t)d;
	return PV_OK;
}

static pv_err
get_b64(const cJSON *obj, const char *name, size_t max, uint8_t **out, size_t *len)
{
	const char *s = get_string(obj, name);

	if (s == NULL)
		return PV_ERR_INTEGRITY;
	if (pv_b64url_decode_alloc(s, strlen(s), max, out, len) != PV_OK)
		return PV_ERR_INTEGRITY;
	return PV_OK;
}

static pv_err
get_b64_fixed(const cJSON *obj, const char *name, uint8_t *out, size_t want)
{
	uint8_t *tmp = NULL;
	size_t len = 0;
	pv_err r;

	if ((r = get_b64(obj, name, want, &tmp, &len)) != PV_OK)
		return r;
	if (len != want) {
		free(tmp);
		return PV_ERR_INTEGRITY;
	}
	memcpy(out, tmp, want);
	free(tmp);
	return PV_OK;
}

static int
printable_len_ok(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s), i;

	if (n < min || n > max)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

static pv_err
parse_recipient(const cJSON *o, size_t idx, struct pv_bundle_recipient *rc)
{
	static const char *const members[] = {"type", "kid", "label", "wrapped_dek"};
	char path[32];
	const char *type, *kid, *label;
	pv_err r;

	snprintf(path, sizeof(path), "recipients[%zu]", idx);
	if (!cJSON_IsObject(o))
		BAD("%s: not an object", path);
	if ((r = check_members(o, path, members, PV_NELEM(members))) != PV_OK)
		goto out;
	type = get_string(o, "type");
	if (type != NULL && strcmp(type, "aes-kwp") == 0)
		rc->type = PV_RCPT_AES_KWP;
	else if (type != NULL && strcmp(type, "rsa-oaep-sha256") == 0)
		rc->type = PV_RCPT_RSA_OAEP_SHA256;
	else
		BAD("%s.type: not aes-kwp or rsa-oaep-sha256", path);
	kid = get_string(o, "kid");
	if (kid == NULL || !printable_len_ok(kid, 1, 128))
		BAD("%s.kid: missing or not 1-128 printable bytes", path);
	if ((rc->kid = strdup(kid)) == NULL)
		return PV_ERR_NOMEM;
	if (cJSON_GetObjectItemCaseSensitive(o, "label") != NULL) {
		label = get_string(o, "label");
		if (label == NULL || !printable_len_ok(label, 1, 128))
			BAD("%s.label: not 1-128 printable bytes", path);
		if ((rc->label = strdup(label)) == NULL)
			return PV_ERR_NOMEM;
	}
	if (get_b64(o, "wrapped_dek", 1024, &rc->wrapped_dek, &rc->wrapped_len) != PV_OK)
		BAD("%s.wrapped_dek: missing or not base64url (at most 1024 bytes)", path);
	if (rc->type == PV_RCPT_AES_KWP && rc->wrapped_len != 40)
		BAD("%s.wrapped_dek: an AES-KWP wrapped 32-byte key is 40 bytes, not %zu", path,
		    rc->wrapped_len);
	if (rc->type == PV_RCPT_RSA_OAEP_SHA256 && (rc->wrapped_len < 256 || rc->wrapped_len > 512))
		BAD("%s.wrapped_dek: %zu bytes is not an RSA-2048..4096 ciphertext", path, rc->wrapped_len);
	r = PV_OK;
out:
	return r;
}

static pv_err
parse_entry(const cJSON *o, size_t idx, uint64_t fmt, struct pv_bundle_entry *e)
{
	static const char *const members[] = {"name", "kind",    "nonce",      "ct",
					      "alg",  "purpose", "public_key", "wrapped"};
	char path[32];
	const char *name, *kind, *alg, *purpose;
	pv_err r;

	snprintf(path, sizeof(path), "entries[%zu]", idx);
	if (!cJSON_IsObject(o))
		BAD("%s: not an object", path);
	if ((r = check_members(o, path, members, PV_NELEM(members))) != PV_OK)
		goto out;
	kind = get_string(o, "kind");
	if (kind == NULL || (e->kind = kind_from_name(kind)) == 0)
		BAD("%s.kind: not env, file or private-key", path);
	name = get_string(o, "name");
	if (name == NULL || strlen(name) >= sizeof(e->name) || !pv_entry_name_valid(e->kind, name))
		BAD("%s.name: missing or not a valid %s name", path, kind);
	memcpy(e->name, name, strlen(name) + 1);
	if (e->kind == PV_ENTRY_PRIVATE_KEY) {
		if (cJSON_GetObjectItemCaseSensitive(o, "nonce") != NULL ||
		    cJSON_GetObjectItemCaseSensitive(o, "ct") != NULL)
			BAD("%s: a private-key entry has no nonce or ct", path);
		alg = get_string(o, "alg");
		if (alg == NULL || (e->alg = pv_alg_from_name(alg)) == PV_ALG_NONE ||
		    !pv_alg_is_asymmetric(e->alg))
			BAD("%s.alg: missing or not an asymmetric algorithm", path);
		/* only format 2 authenticates a purpose (§6): in format 1 it
		 * could have been added by anyone */
		if (cJSON_GetObjectItemCaseSensitive(o, "purpose") != NULL) {
			if (fmt < PV_BUNDLE_FORMAT_V2)
				BAD("%s.purpose: format 1 has no purpose (format 2 does)", path);
			purpose = get_string(o, "purpose");
			if (purpose == NULL || pv_key_purpose_from_name(purpose, &e->purpose) != PV_OK ||
			    !pv_entry_purpose_valid(e->alg, e->purpose))
				BAD("%s.purpose: not a purpose a private-key entry of %s can have", path,
				    alg);
		}
		if (get_b64(o, "public_key", 2048, &e->public_key, &e->public_key_len) != PV_OK ||
		    e->public_key_len == 0)
			BAD("%s.public_key: missing or not base64url (at most 2048 bytes)", path);
		if (get_b64(o, "wrapped", PV_BUNDLE_WRAPPED_MAX, &e->data, &e->data_len) != PV_OK ||
		    e->data_len < 16 || e->data_len % 8 != 0)
			BAD("%s.wrapped: missing, not base64url, or not an AES-KWP output", path);
	} else {
		if (cJSON_GetObjectItemCaseSensitive(o, "alg") != NULL ||
		    cJSON_GetObjectItemCaseSensitive(o, "purpose") != NULL ||
		    cJSON_GetObjectItemCaseSensitive(o, "public_key") != NULL ||
		    cJSON_GetObjectItemCaseSensitive(o, "wrapped") != NULL)
			BAD("%s: alg, purpose, public_key and wrapped belong to private-key entries", path);
		if (get_b64_fixed(o, "nonce", e->nonce, sizeof(e->nonce)) != PV_OK)
			BAD("%s.nonce: missing or not 12 bytes of base64url", path);
		if (get_b64(o, "ct", PV_BUNDLE_VALUE_MAX + PV_BUNDLE_TAG_LEN, &e->data, &e->data_len) !=
			PV_OK ||
		    e->data_len < PV_BUNDLE_TAG_LEN)
			BAD("%s.ct: missing, not base64url, shorter than a tag or over 1 MiB", path);
	}
	r = PV_OK;
out:
	return r;
}

pv_err
pv_bundle_parse(const uint8_t *json, size_t len, struct pv_bundle **out)
{
	static const char *const members[] = {"format",  "id",         "created", "not_after", "version",
					      "context", "recipients", "entries", "check"};
	struct pv_bundle *b = NULL;
	cJSON *doc = NULL;
	const cJSON *it, *arr;
	const char *end = NULL, *s;
	uint64_t fmt = 0;
	time_t t;
	size_t i, n;
	pv_err r;

	if (len > PV_BUNDLE_MAX)
		BAD("bundle is %zu bytes; the limit is %u", len, PV_BUNDLE_MAX);
	if (pv_json_has_nul_escape(json, len))
		BAD("bundle contains an escaped NUL character");
	doc = cJSON_ParseWithLengthOpts((const char *)json, len, &end, 0);
	if (doc == NULL)
		BAD("bundle is not JSON (error near byte %zu)",
		    cJSON_GetErrorPtr() ? (size_t)(cJSON_GetErrorPtr() - (const char *)json) : (size_t)0);
	for (; end != NULL && end < (const char *)json + len; end++)
		if (!(*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t'))
			BAD("bundle has bytes after the JSON document");
	if (!cJSON_IsObject(doc))
		BAD("bundle is not a JSON object");
	if ((r = check_members(doc, "bundle", members, PV_NELEM(members))) != PV_OK)
		goto out;
	if (get_uint(doc, "format", &fmt) != PV_OK)
		BAD("format: missing or not an integer");
	if (fmt != PV_BUNDLE_FORMAT_V1 && fmt != PV_BUNDLE_FORMAT_V2)
		BAD("format: unknown format version %llu (this build reads %d and %d)",
		    (unsigned long long)fmt, PV_BUNDLE_FORMAT_V1, PV_BUNDLE_FORMAT_V2);
	if ((b = calloc(1, sizeof(*b))) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	if (get_b64_fixed(doc, "id", b->id, sizeof(b->id)) != PV_OK)
		BAD("id: missing or not 16 bytes of base64url");
	s = get_string(doc, "created");
	if (s == NULL || pv_time_parse(s, &t) != PV_OK)
		BAD("created: missing or not YYYY-MM-DDTHH:MM:SSZ");
	memcpy(b->created, s, PV_BUNDLE_TIME_LEN + 1);
	if (cJSON_GetObjectItemCaseSensitive(doc, "not_after") != NULL) {
		s = get_string(doc, "not_after");
		if (s == NULL || pv_time_parse(s, &t) != PV_OK)
			BAD("not_after: not YYYY-MM-DDTHH:MM:SSZ");
		memcpy(b->not_after, s, PV_BUNDLE_TIME_LEN + 1);
	}
	if (get_uint(doc, "version", &b->version) != PV_OK || b->version < 1)
		BAD("version: missing or not an integer >= 1");

	it = cJSON_GetObjectItemCaseSensitive(doc, "context");
	if (!cJSON_IsObject(it))
		BAD("context: missing or not an object");
	for (arr = it->child; arr != NULL; arr = arr->next) {
		const cJSON *c;
		for (c = arr->next; c != NULL; c = c->next)
			if (strcmp(arr->string, c->string) == 0)
				BAD("context: member \"%.64s\" appears twice", arr->string);
	}
	for (n = 0, arr = it->child; arr != NULL; arr = arr->next, n++) {
		if (!cJSON_IsString(arr))
			BAD("context.%.64s: not a string", arr->string);
		if (pv_bundle_set_context(b, arr->string, arr->valuestring) != PV_OK)
			BAD("context.%.64s: %s", arr->string, pv_err_detail());
	}

	arr = cJSON_GetObjectItemCaseSensitive(doc, "recipients");
	if (!cJSON_IsArray(arr))
		BAD("recipients: missing or not an array");
	n = (size_t)cJSON_GetArraySize(arr);
	if (n < 1 || n > PV_BUNDLE_MAX_RECIPIENTS)
		BAD("recipients: %zu recipients; 1 to %d allowed", n, PV_BUNDLE_MAX_RECIPIENTS);
	if ((b->rcpt = calloc(n, sizeof(*b->rcpt))) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	for (i = 0, it = arr->child; it != NULL; it = it->next, i++) {
		b->nrcpt = i + 1;
		if ((r = parse_recipient(it, i, &b->rcpt[i])) != PV_OK)
			goto out;
	}

	arr = cJSON_GetObjectItemCaseSensitive(doc, "entries");
	if (!cJSON_IsArray(arr))
		BAD("entries: missing or not an array");
	n = (size_t)cJSON_GetArraySize(arr);
	if (n > PV_BUNDLE_MAX_ENTRIES)
		BAD("entries: %zu entries; at most %d allowed", n, PV_BUNDLE_MAX_ENTRIES);
	if (n > 0 && (b->entries = calloc(n, sizeof(*b->entries))) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	for (i = 0, it = arr->child; it != NULL; it = it->next, i++) {
		b->nentries = i + 1;
		if ((r = parse_entry(it, i, fmt, &b->entries[i])) != PV_OK)
			goto out;
		if (i > 0 && strcmp(b->entries[i - 1].name, b->entries[i].name) >= 0)
			BAD("entries[%zu].name: %s", i,
			    strcmp(b->entries[i - 1].name, b->entries[i].name) == 0
				? "duplicate name"
				: "entries are not sorted by name");
	}

	/* one document, one format: 2 exactly when an entry has a purpose */
	if (fmt != pv_bundle_format(b))
		BAD("format: %llu, but %s", (unsigned long long)fmt,
		    fmt == PV_BUNDLE_FORMAT_V2 ? "no entry has a purpose (format 1)"
					       : "an entry has a purpose");
	if (get_b64_fixed(doc, "check", b->check, sizeof(b->check)) != PV_OK)
		BAD("check: missing or not 28 bytes of base64url");
	*out = b;
	b = NULL;
	r = PV_OK;
out:
	cJSON_Delete(doc);
	pv_bundle_free(b);
	return r;
}

#undef BAD

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
	    (r = pv_buf_put_cstr(buf, text)) != PV_OK || (r = pv_buf_put_cstr(buf, "\"\n}\n")) != PV_OK)
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
pv_bundle_entry_aad(const struct pv_bundle *b, const struct pv_bundle_entry *e, pv_buf **out)
{
	pv_buf *aad = NULL;
	pv_err r;

	if ((r = pv_buf_new(64 * 1024, &aad)) != PV_OK)
		goto out;
	if ((r = pv_buf_put(aad, aad_label, sizeof(aad_label))) != PV_OK || /* with its NUL */
	    (r = pv_buf_put(aad, b->id, sizeof(b->id))) != PV_OK || (r = put_ctx(aad, b)) != PV_OK ||
	    (r = put_lps(aad, pv_entry_kind_name(e->kind))) != PV_OK || (r = put_lps(aad, e->name)) != PV_OK)
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
	EVP_MD_CTX *md = NULL;
	pv_buf *buf = NULL;
	uint8_t inner[32];
	unsigned int hl = 0, fmt = pv_bundle_format(b);
	size_t i;
	pv_err r;

	if ((md = EVP_MD_CTX_new()) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	if ((r = pv_buf_new(64 * 1024, &buf)) != PV_OK)
		goto out;
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
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

		if (EVP_Digest(e->data, e->data_len, inner, NULL, EVP_sha256(), NULL) != 1) {
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
	EVP_MD_CTX_free(md);
	pv_buf_free(buf);
	return r;
}
