/*
 * Input readers for bundle seal.
 *
 * dotenv grammar (docs/dotenv.md is the user-facing version of this):
 *
 *   file        = [BOM] *line
 *   line        = *ws [ comment / assignment ] eol
 *   eol         = LF / CR LF / CR at end of input / end of input
 *   comment     = "#" *(any byte but LF)
 *   assignment  = [ "export" 1*ws ] name *ws "=" *ws value
 *   name        = [A-Za-z_][A-Za-z0-9_]{0,127}
 *   value       = squoted *ws [comment] / dquoted *ws [comment] / unquoted
 *   squoted     = "'" *(any byte but "'") "'"         ; literal, may span lines
 *   dquoted     = DQUOTE *(escape / any byte but DQUOTE and "\") DQUOTE
 *   escape      = "\" ( "n" / "r" / "t" / DQUOTE / "\" / "$" )
 *                 ; "\" before any other byte is kept as a backslash
 *   unquoted    = the rest of the line, cut before the first "#" that
 *                 follows a space or tab (also the blanks after "="),
 *                 trailing blanks removed
 *   ws          = SP / HTAB
 *
 * CR LF inside a quoted value becomes LF. There is no variable expansion,
 * "$" is literal everywhere. A NUL byte anywhere is refused (environment
 * values cannot hold one). Errors say "line N: ...", never the value.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "base/buf.h"
#include "base/jsontext.h"
#include "bundle/input.h"

/* A pv_buf over the input and the line the next byte is on. */
struct cursor {
	pv_buf *b;
	unsigned line;
};

/* The next byte, or -1 at the end. */
static int
peek(const struct cursor *c)
{
	uint8_t v;

	return pv_buf_peek_u8(c->b, &v) == PV_OK ? v : -1;
}

/* The byte after the next one, or -1. */
static int
peek2(const struct cursor *c)
{
	return pv_buf_len(c->b) >= 2 ? pv_buf_ptr(c->b)[1] : -1;
}

static void
advance(struct cursor *c)
{
	if (peek(c) == '\n')
		c->line++;
	/* callers peeked first; at the end there is nothing to consume */
	if (pv_buf_consume(c->b, 1) != PV_OK)
		return;
}

static int
is_blank(int ch)
{
	return ch == ' ' || ch == '\t';
}

static int
at_eol(const struct cursor *c)
{
	int ch = peek(c);

	return ch < 0 || ch == '\n' || (ch == '\r' && (peek2(c) == '\n' || peek2(c) < 0));
}

static void
skip_eol(struct cursor *c)
{
	if (peek(c) == '\r')
		advance(c);
	if (peek(c) == '\n')
		advance(c);
}

static void
skip_blanks(struct cursor *c)
{
	while (is_blank(peek(c)))
		advance(c);
}

static void
skip_to_eol(struct cursor *c)
{
	while (!at_eol(c))
		advance(c);
}

/* A name-ish token: everything up to a blank, "=" or the end of the line. */
static size_t
token_len(const struct cursor *c)
{
	const uint8_t *p = pv_buf_ptr(c->b);
	size_t n = pv_buf_len(c->b), i;

	for (i = 0; i < n; i++) {
		if (is_blank(p[i]) || p[i] == '=' || p[i] == '\n')
			break;
		if (p[i] == '\r' && (i + 1 == n || p[i + 1] == '\n'))
			break;
	}
	return i;
}

static pv_err
read_name(struct cursor *c, char name[PV_ENTRY_NAME_MAX + 1], int *valid)
{
	size_t n = token_len(c);

	*valid = n > 0 && n <= PV_ENTRY_NAME_MAX;
	if (*valid) {
		memcpy(name, pv_buf_ptr(c->b), n);
		name[n] = '\0';
		*valid = pv_entry_name_valid(PV_ENTRY_ENV, name);
	} else {
		name[0] = '\0';
	}
	return pv_buf_consume(c->b, n);
}

/*
 * Where the closing quote of a quoted value is (offset from the byte after
 * the opening quote), so the value's guarded buffer can be sized first.
 */
static int
find_close(const struct cursor *c, uint8_t quote, size_t *at)
{
	const uint8_t *p = pv_buf_ptr(c->b);
	size_t n = pv_buf_len(c->b), i;

	for (i = 0; i < n; i++) {
		if (quote == '"' && p[i] == '\\' && i + 1 < n) {
			i++;
			continue;
		}
		if (p[i] == quote) {
			*at = i;
			return 1;
		}
	}
	return 0;
}

static int
unescape(int ch)
{
	switch (ch) {
	case 'n':
		return '\n';
	case 'r':
		return '\r';
	case 't':
		return '\t';
	case '"':
	case '\\':
	case '$':
		return ch;
	default:
		return -1;
	}
}

/* The quote is the next byte. Leaves the cursor after the closing quote. */
static pv_err
read_quoted(struct cursor *c, unsigned first_line, pv_secret **out)
{
	pv_secret *v = NULL;
	uint8_t quote = (uint8_t)peek(c), ch;
	uint8_t *dst;
	size_t raw, len = 0, i;
	int e;
	pv_err r;

	*out = NULL;
	advance(c);
	if (!find_close(c, quote, &raw)) {
		pv_err_set_detail("line %u: unterminated %s quote", first_line,
				  quote == '"' ? "double" : "single");
		r = PV_ERR_BAD_INPUT;
		goto out;
	}
	if (raw > PV_KV_VALUE_MAX + PV_KV_VALUE_MAX) {
		pv_err_set_detail("line %u: value larger than 1 MiB", first_line);
		r = PV_ERR_TOO_LARGE;
		goto out;
	}
	/* decoding only shrinks: raw bytes are enough room */
	if ((r = pv_secret_new(raw ? raw : 1, &v)) != PV_OK)
		goto out;
	dst = pv_secret_rw(v);
	for (i = 0; i < raw; i++) {
		ch = pv_buf_ptr(c->b)[0];
		advance(c);
		if (ch == '\r' && i + 1 < raw && peek(c) == '\n')
			continue; /* CR LF in a value is LF */
		if (ch == '\\' && quote == '"' && i + 1 < raw && (e = unescape(peek(c))) >= 0) {
			advance(c);
			i++;
			ch = (uint8_t)e;
		}
		dst[len++] = ch;
	}
	advance(c); /* the closing quote */
	if (len > PV_KV_VALUE_MAX) {
		pv_err_set_detail("line %u: value larger than 1 MiB", first_line);
		r = PV_ERR_TOO_LARGE;
		goto out;
	}
	if ((r = pv_secret_set_len(v, len)) != PV_OK)
		goto out;
	pv_secret_lock(v);
	*out = v;
	v = NULL;
out:
	pv_secret_free(v);
	return r;
}

/* Rest of the line; blank_before: blanks came between "=" and here. */
static pv_err
read_unquoted(struct cursor *c, int blank_before, pv_secret **out)
{
	const uint8_t *p = pv_buf_ptr(c->b);
	size_t n = pv_buf_len(c->b), eol, end, i;
	pv_err r;

	*out = NULL;
	for (eol = 0; eol < n; eol++) {
		if (p[eol] == '\n' || (p[eol] == '\r' && (eol + 1 == n || p[eol + 1] == '\n')))
			break;
	}
	end = eol;
	for (i = 0; i < eol; i++) {
		if (p[i] == '#' && (i == 0 ? blank_before : is_blank(p[i - 1]))) {
			end = i;
			break;
		}
	}
	while (end > 0 && is_blank(p[end - 1]))
		end--;
	if (end > PV_KV_VALUE_MAX) {
		pv_err_set_detail("line %u: value larger than 1 MiB", c->line);
		return PV_ERR_TOO_LARGE;
	}
	if ((r = pv_secret_from(p, end, out)) != PV_OK)
		return r;
	skip_to_eol(c);
	return PV_OK;
}

/* Line of the first NUL byte, or 0 when there is none. */
static unsigned
nul_line(const uint8_t *data, size_t len)
{
	unsigned line = 1;
	size_t i;

	for (i = 0; i < len; i++) {
		if (data[i] == '\0')
			return line;
		if (data[i] == '\n')
			line++;
	}
	return 0;
}

static pv_err
parse_assignment(struct cursor *c, struct pv_kvlist *out)
{
	char name[PV_ENTRY_NAME_MAX + 1];
	pv_secret *v = NULL;
	unsigned line = c->line;
	int valid, blank;
	pv_err r;

	if ((r = read_name(c, name, &valid)) != PV_OK)
		goto out;
	if (strcmp(name, "export") == 0 && is_blank(peek(c))) {
		skip_blanks(c);
		if (peek(c) != '=' && (r = read_name(c, name, &valid)) != PV_OK)
			goto out;
	}
	skip_blanks(c);
	if (peek(c) != '=') {
		pv_err_set_detail("line %u: expected NAME=value", line);
		r = PV_ERR_BAD_INPUT;
		goto out;
	}
	if (!valid) {
		/* not echoed: a mangled line may be a value */
		pv_err_set_detail("line %u: invalid variable name (letters, digits and _, not starting "
				  "with a digit, at most 128)",
				  line);
		r = PV_ERR_BAD_INPUT;
		goto out;
	}
	if (pv_kvlist_find(out, name) != NULL) {
		pv_err_set_detail("line %u: duplicate name %s", line, name);
		r = PV_ERR_BAD_INPUT;
		goto out;
	}
	advance(c); /* "=" */
	blank = is_blank(peek(c));
	skip_blanks(c);
	if (peek(c) == '"' || peek(c) == '\'') {
		if ((r = read_quoted(c, line, &v)) != PV_OK)
			goto out;
		skip_blanks(c);
		if (peek(c) == '#')
			skip_to_eol(c);
		if (!at_eol(c)) {
			pv_err_set_detail("line %u: unexpected characters after the closing quote", c->line);
			r = PV_ERR_BAD_INPUT;
			goto out;
		}
	} else if ((r = read_unquoted(c, blank, &v)) != PV_OK) {
		goto out;
	}
	r = pv_kvlist_add(out, name, PV_ENTRY_ENV, v);
	v = NULL;
	if (r == PV_ERR_TOO_LARGE)
		pv_err_set_detail("line %u: more than %d entries", line, PV_KV_MAX_ENTRIES);
out:
	pv_wipe(name, sizeof(name));
	pv_secret_free(v);
	return r;
}

pv_err
pv_dotenv_parse(const uint8_t *data, size_t len, struct pv_kvlist *out)
{
	static const uint8_t bom[] = {0xef, 0xbb, 0xbf};
	struct cursor c = {NULL, 1};
	unsigned nul;
	pv_err r;

	if ((nul = nul_line(data, len)) != 0) {
		pv_err_set_detail("line %u: NUL byte", nul);
		return PV_ERR_BAD_INPUT;
	}
	if ((r = pv_buf_view(data, len, &c.b)) != PV_OK)
		goto out;
	if (len >= sizeof(bom) && memcmp(data, bom, sizeof(bom)) == 0 &&
	    (r = pv_buf_consume(c.b, sizeof(bom))) != PV_OK)
		goto out;
	while (peek(&c) >= 0) {
		skip_blanks(&c);
		if (peek(&c) == '#')
			skip_to_eol(&c);
		else if (!at_eol(&c) && (r = parse_assignment(&c, out)) != PV_OK)
			goto out;
		skip_eol(&c);
	}
	r = PV_OK;
out:
	pv_buf_free(c.b);
	return r;
}

/* Wipe every string value in the tree before cJSON frees it. */
static void
wipe_json(cJSON *j)
{
	for (; j != NULL; j = j->next) {
		if (j->valuestring != NULL)
			sodium_memzero(j->valuestring, strlen(j->valuestring));
		wipe_json(j->child);
	}
}

/*
 * cJSON holds parsed strings in ordinary heap memory; the best it allows is
 * to parse from a guarded copy, move each value into a pv_secret at once and
 * wipe cJSON's copies before freeing them (wipe_json).
 */
pv_err
pv_jsonobj_parse(const uint8_t *data, size_t len, struct pv_kvlist *out)
{
	pv_secret *text = NULL, *v = NULL;
	cJSON *root = NULL, *m;
	uint8_t *t;
	unsigned i = 0;
	pv_err r;

	if (memchr(data, '\0', len) != NULL || pv_json_has_nul_escape(data, len)) {
		pv_err_set_detail("JSON input holds a NUL character");
		r = PV_ERR_BAD_INPUT;
		goto out;
	}
	/* cJSON wants a terminated string to refuse trailing garbage */
	if ((r = pv_secret_new(len + 1, &text)) != PV_OK)
		goto out;
	t = pv_secret_rw(text);
	memcpy(t, data, len);
	t[len] = '\0';
	if ((root = cJSON_ParseWithLengthOpts((const char *)t, len + 1, NULL, 1)) == NULL) {
		pv_err_set_detail("not valid JSON");
		r = PV_ERR_BAD_INPUT;
		goto out;
	}
	if (!cJSON_IsObject(root)) {
		pv_err_set_detail("JSON input must be one object of string values");
		r = PV_ERR_BAD_INPUT;
		goto out;
	}
	for (m = root->child; m != NULL; m = m->next, i++) {
		const char *name = m->string;

		if (!pv_entry_name_valid(PV_ENTRY_ENV, name)) {
			pv_err_set_detail("member %u: not a valid env name", i + 1);
			r = PV_ERR_BAD_INPUT;
			goto out;
		}
		if (!cJSON_IsString(m) || m->valuestring == NULL) {
			pv_err_set_detail("%s: value is not a string", name);
			r = PV_ERR_BAD_INPUT;
			goto out;
		}
		if (pv_kvlist_find(out, name) != NULL) {
			pv_err_set_detail("duplicate name %s", name);
			r = PV_ERR_BAD_INPUT;
			goto out;
		}
		if ((r = pv_secret_from(m->valuestring, strlen(m->valuestring), &v)) != PV_OK)
			goto out;
		sodium_memzero(m->valuestring, strlen(m->valuestring));
		r = pv_kvlist_add(out, name, PV_ENTRY_ENV, v);
		v = NULL;
		if (r != PV_OK)
			goto out;
	}
	r = PV_OK;
out:
	if (root != NULL) {
		wipe_json(root);
		cJSON_Delete(root);
	}
	pv_secret_free(text);
	return r;
}

static pv_err
read_dir_file(int dfd, const char *dir, const char *name, struct pv_kvlist *out)
{
	pv_secret *v = NULL;
	struct stat st;
	int fd = -1, e;
	pv_err r;

	if (!pv_entry_name_valid(PV_ENTRY_FILE, name)) {
		pv_err_set_detail(
		    "%s/%s: not a valid file entry name ([A-Za-z0-9_][A-Za-z0-9._-]*, at most 128)", dir,
		    name);
		r = PV_ERR_BAD_INPUT;
		goto out;
	}
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		if (e == ELOOP) {
			pv_err_set_detail("%s/%s: a symbolic link (not followed)", dir, name);
			r = PV_ERR_BAD_INPUT;
		} else {
			pv_err_set_detail("%s/%s: %s", dir, name, strerror(e));
			r = PV_ERR_IO;
		}
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		pv_err_set_detail("%s/%s: %s", dir, name, strerror(errno));
		r = PV_ERR_IO;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		pv_err_set_detail("%s/%s: %s", dir, name,
				  S_ISDIR(st.st_mode) ? "a subdirectory (only files are read)"
						      : "not a regular file");
		r = PV_ERR_BAD_INPUT;
		goto out;
	}
	if ((r = pv_secret_read_fd(fd, PV_KV_VALUE_MAX, &v)) != PV_OK) {
		if (r == PV_ERR_TOO_LARGE)
			pv_err_set_detail("%s/%s: larger than 1 MiB", dir, name);
		goto out;
	}
	r = pv_kvlist_add(out, name, PV_ENTRY_FILE, v);
	v = NULL;
out:
	pv_secret_free(v);
	if (fd >= 0)
		close(fd);
	return r;
}

pv_err
pv_dir_read(const char *dir, struct pv_kvlist *out)
{
	DIR *d = NULL;
	struct dirent *de;
	int dfd, e;
	pv_err r;

	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)) < 0) {
		e = errno;
		pv_err_set_detail("%s: %s", dir, strerror(e));
		r = e == ENOENT ? PV_ERR_NOT_FOUND : PV_ERR_IO;
		goto out;
	}
	if ((d = fdopendir(dfd)) == NULL) {
		pv_err_set_detail("%s: %s", dir, strerror(errno));
		close(dfd);
		r = PV_ERR_IO;
		goto out;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			if (errno != 0) {
				pv_err_set_detail("%s: %s", dir, strerror(errno));
				r = PV_ERR_IO;
				goto out;
			}
			break;
		}
		if (de->d_name[0] == '.')
			continue;
		if ((r = read_dir_file(dirfd(d), dir, de->d_name, out)) != PV_OK)
			goto out;
	}
	pv_kvlist_sort(out);
	r = PV_OK;
out:
	if (d != NULL)
		closedir(d);
	return r;
}
