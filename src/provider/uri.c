/*
 * The key references the provider takes, parsed (pure: no token, no
 * OpenSSL; unit-tested and fuzzed):
 *
 *   p11vault:NAME             the version active at load
 *   p11vault:NAME;version=N   version N (1..PV_KEY_VERSIONS_MAX)
 *   pkcs11:...                RFC 7512, parsed by p11-kit: object=, id=,
 *                             type=private|public|cert, token=
 *
 * The PIN never comes from a reference (it would sit in argv or a PEM
 * file): pin-source and pin-value are refused.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <p11-kit/uri.h>

#include "core/keymeta.h"
#include "core/keys_uri_attr.h"
#include "provider/provider.h"

#define P11V_SCHEME   "p11vault:"
#define PKCS11_SCHEME "pkcs11:"

/* "N" for 1..PV_KEY_VERSIONS_MAX, digits only, no leading zero. */
static int
parse_version(const char *s, unsigned *out)
{
	unsigned v = 0;

	if (*s < '1' || *s > '9')
		return 0;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return 0;
		v = v * 10 + (unsigned)(*s - '0');
		if (v > PV_KEY_VERSIONS_MAX)
			return 0;
	}
	*out = v;
	return 1;
}

static int
parse_p11vault(const char *s, struct p11v_uri *out, int allow_none, const char **why)
{
	const char *semi = strchr(s, ';');
	size_t n = semi != NULL ? (size_t)(semi - s) : strlen(s);

	if (allow_none && *s == '\0') {
		out->collection = 1;
		out->want_private = 1;
		return 1;
	}
	if (n == 0 || n >= sizeof(out->name)) {
		*why = "p11vault: needs a key name of 1 to 64 characters";
		return 0;
	}
	memcpy(out->name, s, n);
	out->name[n] = '\0';
	if (!pv_key_name_valid(out->name)) {
		*why = "p11vault: key names are [A-Za-z0-9_-], starting with a letter or digit";
		return 0;
	}
	if (semi != NULL) {
		if (strncmp(semi + 1, "version=", 8) != 0) {
			*why = "p11vault: the only attribute is version=N";
			return 0;
		}
		if (!parse_version(semi + 9, &out->version)) {
			*why = "p11vault: version must be a number from 1 to 1000";
			return 0;
		}
	}
	out->want_private = 1;
	return 1;
}

/* A CK_TOKEN_INFO label: 32 bytes padded with spaces; "" when absent. */
static void
token_label(P11KitUri *uri, char *buf, size_t len)
{
	CK_TOKEN_INFO *ti = p11_kit_uri_get_token_info(uri);
	size_t n = 0;

	buf[0] = '\0';
	if (ti == NULL)
		return;
	n = sizeof(ti->label);
	while (n > 0 && (ti->label[n - 1] == ' ' || ti->label[n - 1] == '\0'))
		n--;
	if (n >= len)
		n = len - 1;
	memcpy(buf, ti->label, n);
	buf[n] = '\0';
}

/* Whether the query part has a pin-value= or pin-source= attribute. */
static int
query_names_pin(const char *s)
{
	const char *q = strchr(s, '?');

	while (q != NULL) {
		q++;
		if (strncmp(q, "pin-value=", 10) == 0 || strncmp(q, "pin-source=", 11) == 0)
			return 1;
		q = strchr(q, '&');
	}
	return 0;
}

static int
parse_pkcs11(const char *s, struct p11v_uri *out, int allow_none, const char **why)
{
	P11KitUri *uri = NULL;
	CK_ATTRIBUTE *a;
	CK_OBJECT_CLASS cls;
	char *stripped = NULL;
	int ok = 0, rc;

	if ((uri = p11_kit_uri_new()) == NULL) {
		*why = "out of memory";
		return 0;
	}
	/* our vendor attribute x-p11vault-version=N pins a version (keys_uri.h) */
	if (pv_keys_uri_strip_version(s, &stripped, &out->version) != PV_OK) {
		*why = stripped == NULL ? "out of memory"
					: "pkcs11: URI: x-p11vault-version must be one number from 1 to 1000";
		goto out;
	}
	if ((rc = p11_kit_uri_parse(stripped, P11_KIT_URI_FOR_OBJECT_ON_TOKEN_AND_MODULE, uri)) !=
	    P11_KIT_URI_OK) {
		*why = rc == P11_KIT_URI_BAD_ENCODING  ? "pkcs11: URI: bad percent-encoding"
		       : rc == P11_KIT_URI_BAD_VERSION ? "pkcs11: URI: bad library-version"
						       : "pkcs11: URI: bad syntax";
		goto out;
	}
	/* p11-kit drops an empty pin-value=/pin-source=: look at the text too */
	if (p11_kit_uri_get_pin_value(uri) != NULL || p11_kit_uri_get_pin_source(uri) != NULL ||
	    query_names_pin(s)) {
		*why = "pkcs11: URI: pin-value and pin-source are refused (the PIN comes from the provider's "
		       "configuration)";
		goto out;
	}
	out->is_pkcs11 = 1;
	out->want_private = 1;
	if ((a = p11_kit_uri_get_attribute(uri, CKA_CLASS)) != NULL) {
		if (a->ulValueLen != sizeof(cls)) {
			*why = "pkcs11: URI: bad type";
			goto out;
		}
		memcpy(&cls, a->pValue, sizeof(cls));
		if (cls == CKO_PUBLIC_KEY) {
			out->want_private = 0;
		} else if (cls == CKO_CERTIFICATE) {
			out->want_private = 0;
			out->want_cert = 1;
		} else if (cls != CKO_PRIVATE_KEY) {
			*why = "pkcs11: URI: type must be private, public or cert";
			goto out;
		}
	}
	if ((a = p11_kit_uri_get_attribute(uri, CKA_LABEL)) != NULL) {
		if (a->ulValueLen == 0 || a->ulValueLen >= sizeof(out->name) ||
		    memchr(a->pValue, '\0', a->ulValueLen) != NULL) {
			*why = "pkcs11: URI: object= must be 1 to 64 bytes, without NUL";
			goto out;
		}
		memcpy(out->name, a->pValue, a->ulValueLen);
		out->name[a->ulValueLen] = '\0';
	}
	if ((a = p11_kit_uri_get_attribute(uri, CKA_ID)) != NULL) {
		if (a->ulValueLen == 0 || a->ulValueLen > sizeof(out->id)) {
			*why = "pkcs11: URI: id= must be 1 to 64 bytes";
			goto out;
		}
		memcpy(out->id, a->pValue, a->ulValueLen);
		out->id_len = a->ulValueLen;
	}
	if (out->name[0] == '\0' && out->id_len == 0) {
		if (!allow_none) {
			*why = "pkcs11: URI: names no object (object= or id= is required)";
			goto out;
		}
		out->collection = 1;
	}
	token_label(uri, out->token, sizeof(out->token));
	ok = 1;
out:
	free(stripped);
	p11_kit_uri_free(uri);
	return ok;
}

static int
parse_any(const char *s, struct p11v_uri *out, int allow_none, const char **why)
{
	const char *dummy;
	int ok = 0;

	if (why == NULL)
		why = &dummy;
	*why = NULL;
	memset(out, 0, sizeof(*out));
	if (s == NULL) {
		*why = "no key reference";
		return 0;
	}
	if (strncmp(s, P11V_SCHEME, strlen(P11V_SCHEME)) == 0)
		ok = parse_p11vault(s + strlen(P11V_SCHEME), out, allow_none, why);
	else if (strncmp(s, PKCS11_SCHEME, strlen(PKCS11_SCHEME)) == 0)
		ok = parse_pkcs11(s, out, allow_none, why);
	else
		*why = "not a p11vault: or pkcs11: reference";
	if (!ok)
		memset(out, 0, sizeof(*out));
	return ok;
}

int
p11v_uri_parse(const char *s, struct p11v_uri *out, const char **why)
{
	return parse_any(s, out, 0, why);
}

int
p11v_uri_parse_store(const char *s, struct p11v_uri *out, const char **why)
{
	return parse_any(s, out, 1, why);
}
