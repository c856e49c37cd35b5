/* URI-in-PEM and its DER form, parsed (uripem.h). Pure. */
#include "config.h"

#include <string.h>

#include "core/b64.h"
#include "provider/uripem.h"

#define BEGIN_LINE   "-----BEGIN " P11V_URIPEM_LABEL "-----"
#define END_LINE     "-----END " P11V_URIPEM_LABEL "-----"
#define LINE_MAX_B64 76

/* A reference as the decoder takes it: printable ASCII, a known scheme. */
static enum p11v_uripem_res
check_uri(const char *s, size_t n, const char **why)
{
	if (n == 0 || n > P11V_URIPEM_URI_MAX) {
		*why = "the key reference in the URI-in-PEM is empty or too long";
		return P11V_URIPEM_BAD;
	}
	for (size_t i = 0; i < n; i++) {
		if (s[i] <= 0x20 || s[i] >= 0x7f) {
			*why = "the key reference in the URI-in-PEM is not printable ASCII";
			return P11V_URIPEM_BAD;
		}
	}
	if (!(n > 9 && memcmp(s, "p11vault:", 9) == 0) && !(n > 7 && memcmp(s, "pkcs11:", 7) == 0)) {
		*why = "the URI-in-PEM holds neither a p11vault: nor a pkcs11: reference";
		return P11V_URIPEM_BAD;
	}
	return P11V_URIPEM_OK;
}

/* The line at *pos (without its LF or CRLF); *pos moves past the line end.
 * 0 at the end of the text or for a line without a line end. */
static int
next_line(const char *t, size_t len, size_t *pos, const char **line, size_t *n)
{
	const char *lf;
	size_t start = *pos;

	if (start >= len || (lf = memchr(t + start, '\n', len - start)) == NULL)
		return 0;
	*line = t + start;
	*n = (size_t)(lf - (t + start));
	if (*n > 0 && (*line)[*n - 1] == '\r')
		(*n)--;
	*pos = (size_t)(lf - t) + 1;
	return 1;
}

static int
line_is(const char *line, size_t n, const char *want)
{
	return n == strlen(want) && memcmp(line, want, n) == 0;
}

enum p11v_uripem_res
p11v_uripem_parse(const char *text, size_t len, char *uri, size_t urisz, size_t *used, const char **why)
{
	char b64[4 * ((P11V_URIPEM_URI_MAX + 2) / 3) + 4];
	size_t pos = 0, n, blen = 0, ulen = 0;
	const char *line;
	enum p11v_uripem_res res;

	*why = NULL;
	if (urisz <= P11V_URIPEM_URI_MAX) {
		*why = "no room for the key reference";
		return P11V_URIPEM_BAD;
	}
	uri[0] = '\0';
	/* the first line that starts a PEM block decides whether it is ours */
	for (;;) {
		if (!next_line(text, len, &pos, &line, &n))
			return P11V_URIPEM_NOT_OURS;
		if (n >= 11 && memcmp(line, "-----BEGIN ", 11) == 0)
			break;
	}
	if (!line_is(line, n, BEGIN_LINE))
		return P11V_URIPEM_NOT_OURS;
	for (;;) {
		if (!next_line(text, len, &pos, &line, &n)) {
			*why = "the URI-in-PEM has no END line";
			return P11V_URIPEM_BAD;
		}
		if (line_is(line, n, END_LINE))
			break;
		if (n > LINE_MAX_B64 || memchr(line, ':', n) != NULL) {
			*why = "the URI-in-PEM has a header or a line that is too long";
			return P11V_URIPEM_BAD;
		}
		if (n > sizeof(b64) - blen) {
			*why = "the key reference in the URI-in-PEM is too long";
			return P11V_URIPEM_BAD;
		}
		memcpy(b64 + blen, line, n);
		blen += n;
	}
	if (blen == 0 || pv_b64_decode(b64, blen, (uint8_t *)uri, P11V_URIPEM_URI_MAX, &ulen) != PV_OK) {
		*why = "the body of the URI-in-PEM is not base64";
		uri[0] = '\0';
		return P11V_URIPEM_BAD;
	}
	if ((res = check_uri(uri, ulen, why)) != P11V_URIPEM_OK) {
		uri[0] = '\0';
		return res;
	}
	uri[ulen] = '\0';
	*used = pos;
	return P11V_URIPEM_OK;
}

size_t
p11v_uripem_der(const char *uri, uint8_t *der, size_t dersz)
{
	size_t n = strlen(uri), hdr = n < 0x80 ? 2 : n < 0x100 ? 3 : 4;
	const char *why;

	if (check_uri(uri, n, &why) != P11V_URIPEM_OK || hdr + n > dersz)
		return 0;
	der[0] = 0x0c;
	if (hdr == 2) {
		der[1] = (uint8_t)n;
	} else if (hdr == 3) {
		der[1] = 0x81;
		der[2] = (uint8_t)n;
	} else {
		der[1] = 0x82;
		der[2] = (uint8_t)(n >> 8);
		der[3] = (uint8_t)n;
	}
	memcpy(der + hdr, uri, n);
	return hdr + n;
}

enum p11v_uripem_res
p11v_uripem_from_der(const uint8_t *der, size_t len, char *uri, size_t urisz, const char **why)
{
	size_t n, hdr;
	enum p11v_uripem_res res;

	*why = NULL;
	if (urisz <= P11V_URIPEM_URI_MAX) {
		*why = "no room for the key reference";
		return P11V_URIPEM_BAD;
	}
	uri[0] = '\0';
	if (len < 2 || der[0] != 0x0c)
		return P11V_URIPEM_NOT_OURS;
	/* definite length, minimal encoding, exactly the rest of the input */
	if (der[1] < 0x80) {
		n = der[1];
		hdr = 2;
	} else if (der[1] == 0x81 && len >= 3 && der[2] >= 0x80) {
		n = der[2];
		hdr = 3;
	} else if (der[1] == 0x82 && len >= 4 && der[2] != 0) {
		n = (size_t)der[2] << 8 | der[3];
		hdr = 4;
	} else {
		return P11V_URIPEM_NOT_OURS;
	}
	if (hdr + n != len)
		return P11V_URIPEM_NOT_OURS;
	/* a UTF8String of another kind is someone else's */
	if (!(n > 9 && memcmp(der + hdr, "p11vault:", 9) == 0) &&
	    !(n > 7 && memcmp(der + hdr, "pkcs11:", 7) == 0))
		return P11V_URIPEM_NOT_OURS;
	if ((res = check_uri((const char *)der + hdr, n, why)) != P11V_URIPEM_OK)
		return res;
	memcpy(uri, der + hdr, n);
	uri[n] = '\0';
	return P11V_URIPEM_OK;
}
