#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "bundle/output.h"

/*
 * Output is produced twice by the same code: once to measure it (dst NULL)
 * and once into a guarded buffer of exactly that size, so it never sits in
 * ordinary heap memory or needs to grow.
 */
struct sink {
	uint8_t *dst;
	size_t len;
};

static void
put(struct sink *s, const void *p, size_t n)
{
	if (s->dst != NULL)
		memcpy(s->dst + s->len, p, n);
	s->len += n;
}

static void
put_str(struct sink *s, const char *str)
{
	put(s, str, strlen(str));
}

static void
put_byte(struct sink *s, uint8_t b)
{
	put(s, &b, 1);
}

/* Strict UTF-8 (RFC 3629): no overlong forms, surrogates or > U+10FFFF. */
static int
utf8_valid(const uint8_t *p, size_t n)
{
	size_t i = 0, k, need;
	uint32_t cp, min;

	while (i < n) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((p[i] & 0xe0) == 0xc0) {
			need = 1, cp = p[i] & 0x1f, min = 0x80;
		} else if ((p[i] & 0xf0) == 0xe0) {
			need = 2, cp = p[i] & 0x0f, min = 0x800;
		} else if ((p[i] & 0xf8) == 0xf0) {
			need = 3, cp = p[i] & 0x07, min = 0x10000;
		} else {
			return 0;
		}
		if (n - i - 1 < need)
			return 0;
		for (k = 1; k <= need; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += need + 1;
	}
	return 1;
}

static void
put_env(struct sink *s, const char *name, const uint8_t *v, size_t n)
{
	size_t i;

	put_str(s, "export ");
	put_str(s, name);
	put_str(s, "='");
	for (i = 0; i < n; i++) {
		/* nothing is special inside single quotes but the quote itself */
		if (v[i] == '\'')
			put_str(s, "'\\''");
		else
			put_byte(s, v[i]);
	}
	put_str(s, "'\n");
}

static void
put_dotenv(struct sink *s, const char *name, const uint8_t *v, size_t n)
{
	size_t i;

	put_str(s, name);
	put_str(s, "=\"");
	for (i = 0; i < n; i++) {
		switch (v[i]) {
		case '\n':
			put_str(s, "\\n");
			break;
		case '\r':
			put_str(s, "\\r");
			break;
		case '\t':
			put_str(s, "\\t");
			break;
		case '"':
		case '\\':
		case '$': /* so that docker compose does not expand it */
			put_byte(s, '\\');
			put_byte(s, v[i]);
			break;
		default:
			put_byte(s, v[i]);
		}
	}
	put_str(s, "\"\n");
}

static void
put_json_string(struct sink *s, const uint8_t *v, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char u[7] = "\\u00";
	size_t i;

	put_byte(s, '"');
	for (i = 0; i < n; i++) {
		switch (v[i]) {
		case '"':
			put_str(s, "\\\"");
			break;
		case '\\':
			put_str(s, "\\\\");
			break;
		case '\n':
			put_str(s, "\\n");
			break;
		case '\r':
			put_str(s, "\\r");
			break;
		case '\t':
			put_str(s, "\\t");
			break;
		case '\b':
			put_str(s, "\\b");
			break;
		case '\f':
			put_str(s, "\\f");
			break;
		default:
			if (v[i] < 0x20) {
				u[4] = hex[v[i] >> 4];
				u[5] = hex[v[i] & 0xf];
				put(s, u, 6);
			} else {
				put_byte(s, v[i]);
			}
		}
	}
	put_byte(s, '"');
}

/* Refuse what the format cannot carry; the detail names the entry. */
static pv_err
check_entry(enum pv_out_format f, const struct pv_kv *e, const uint8_t *v, size_t n)
{
	if (f == PV_OUT_JSON) {
		if (!utf8_valid(v, n)) {
			pv_err_set_detail("%s: value is not UTF-8 text; use --out-dir for binary values",
					  e->name);
			return PV_ERR_BAD_INPUT;
		}
		return PV_OK;
	}
	if (e->kind != PV_ENTRY_ENV || !pv_entry_name_valid(PV_ENTRY_ENV, e->name)) {
		pv_err_set_detail(
		    "%s: a file entry is not an environment variable; use --out-dir or --format json",
		    e->name);
		return PV_ERR_BAD_INPUT;
	}
	if (memchr(v, '\0', n) != NULL) {
		pv_err_set_detail("%s: value holds a NUL byte; use --out-dir", e->name);
		return PV_ERR_BAD_INPUT;
	}
	return PV_OK;
}

static pv_err
emit(enum pv_out_format f, const struct pv_kv *const *sorted, size_t count, struct sink *s)
{
	const uint8_t *v;
	size_t i, n;
	pv_err r = PV_OK;

	/* Every value readable for the formatting pass and locked again after
	 * it: values of one bundle share an arena, so this is one protection
	 * change for all of them rather than two per value. */
	for (i = 0; i < count; i++)
		(void)pv_secret_ro(sorted[i]->value);
	if (f == PV_OUT_JSON)
		put_str(s, count ? "{\n" : "{");
	for (i = 0; i < count && r == PV_OK; i++) {
		const struct pv_kv *e = sorted[i];

		v = pv_secret_ro(e->value);
		n = pv_secret_len(e->value);
		if (s->dst == NULL)
			r = check_entry(f, e, v, n);
		if (r == PV_OK) {
			switch (f) {
			case PV_OUT_ENV:
				put_env(s, e->name, v, n);
				break;
			case PV_OUT_DOTENV:
				put_dotenv(s, e->name, v, n);
				break;
			case PV_OUT_JSON:
				put_str(s, "  ");
				put_json_string(s, (const uint8_t *)e->name, strlen(e->name));
				put_str(s, ": ");
				put_json_string(s, v, n);
				put_str(s, i + 1 < count ? ",\n" : "\n");
				break;
			}
		}
	}
	for (i = 0; i < count; i++)
		pv_secret_lock(sorted[i]->value);
	if (f == PV_OUT_JSON && r == PV_OK)
		put_str(s, "}\n");
	return r;
}

static int
kv_ptr_cmp(const void *a, const void *b)
{
	return strcmp((*(const struct pv_kv *const *)a)->name, (*(const struct pv_kv *const *)b)->name);
}

pv_err
pv_output_format(enum pv_out_format f, const struct pv_kvlist *l, pv_secret **out)
{
	const struct pv_kv **sorted = NULL;
	pv_secret *text = NULL;
	struct sink s = {NULL, 0};
	size_t i;
	pv_err r;

	*out = NULL;
	if (f != PV_OUT_ENV && f != PV_OUT_DOTENV && f != PV_OUT_JSON) {
		r = PV_ERR_USAGE;
		goto out;
	}
	if (l->n > 0 && (sorted = calloc(l->n, sizeof(*sorted))) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < l->n; i++)
		sorted[i] = &l->items[i];
	if (l->n > 1)
		qsort(sorted, l->n, sizeof(*sorted), kv_ptr_cmp);
	if ((r = emit(f, sorted, l->n, &s)) != PV_OK)
		goto out;
	if (s.len > PV_BUF_SIZE_MAX) {
		pv_err_set_detail("output larger than %zu bytes", (size_t)PV_BUF_SIZE_MAX);
		r = PV_ERR_TOO_LARGE;
		goto out;
	}
	if ((r = pv_secret_new(s.len ? s.len : 1, &text)) != PV_OK)
		goto out;
	s.dst = pv_secret_rw(text);
	s.len = 0;
	if ((r = emit(f, sorted, l->n, &s)) != PV_OK || (r = pv_secret_set_len(text, s.len)) != PV_OK)
		goto out;
	pv_secret_lock(text);
	*out = text;
	text = NULL;
out:
	pv_secret_free(text);
	free(sorted);
	return r;
}
