/*
 * pkcs11: URIs that name p11vault keys (keys.h pv_keys_uri_resolve): a key's
 * name in object= is the key (its active version at each use), NAME.vN or
 * our vendor attribute x-p11vault-version=N pins a version, and id= of a
 * version's CKA_ID is that version. Everything else is left to the caller
 * as a raw token object.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/p11-kit.h>
#include <p11-kit/uri.h>

#include "core/keys_uri.h"
#include "core/keys_uri_attr.h"
#include "pkcs11/objuri.h"

#define VERSION_ATTR PV_KEYS_URI_VERSION_ATTR

static void
pad_copy(CK_UTF8CHAR *dst, size_t len, const char *src)
{
	size_t n = strlen(src);

	memset(dst, ' ', len);
	memcpy(dst, src, n < len ? n : len);
}

static int
token_matches(p11_token *tok, P11KitUri *u)
{
	struct p11_token_info info;
	CK_TOKEN_INFO ti;

	if (p11_token_get_info(tok, &info) != PV_OK)
		return 0;
	memset(&ti, 0, sizeof(ti));
	pad_copy(ti.label, sizeof(ti.label), info.label);
	pad_copy(ti.manufacturerID, sizeof(ti.manufacturerID), info.manufacturer);
	pad_copy(ti.model, sizeof(ti.model), info.model);
	pad_copy(ti.serialNumber, sizeof(ti.serialNumber), info.serial);
	return p11_kit_uri_match_token_info(u, &ti);
}

static int
id_is(const struct pv_key_version *v, const uint8_t *id, size_t id_len)
{
	return v->id_len == id_len && memcmp(v->id, id, id_len) == 0;
}

pv_err
pv_keys_ref_lookup(pv_keystore *ks, const char *label, const uint8_t *id, size_t id_len, unsigned version,
		   struct pv_key_ref *ref)
{
	struct pv_key *key = NULL, **keys = NULL;
	char name[PV_KEY_NAME_MAX + 1];
	const char *dot;
	char *end = NULL;
	unsigned long lv = 0;
	size_t nkeys = 0, i, j;
	pv_err r = PV_OK;

	memset(ref, 0, sizeof(*ref));
	if (label != NULL && *label != '\0') {
		/* a key's name; else NAME.vN, the label of version N's objects */
		if (pv_key_name_valid(label) && pv_keys_get(ks, label, &key) == PV_OK) {
			snprintf(ref->name, sizeof(ref->name), "%s", label);
		} else if ((dot = strrchr(label, '.')) != NULL && dot[1] == 'v' && dot[2] >= '1' &&
			   dot[2] <= '9' && (size_t)(dot - label) < sizeof(name) &&
			   (lv = strtoul(dot + 2, &end, 10), *end == '\0') && lv <= PV_KEY_VERSIONS_MAX) {
			memcpy(name, label, (size_t)(dot - label));
			name[dot - label] = '\0';
			if (pv_key_name_valid(name) && pv_keys_get(ks, name, &key) == PV_OK) {
				snprintf(ref->name, sizeof(ref->name), "%s", name);
				ref->version = (unsigned)lv;
			}
		}
		pv_err_clear_detail();
		if (ref->name[0] != '\0' && version != 0 && ref->version != 0 && version != ref->version) {
			pv_err_set_detail("object=%s and %s%u name different versions", label, VERSION_ATTR,
					  version);
			r = PV_ERR_USAGE;
			goto out;
		}
		if (ref->name[0] != '\0' && version != 0)
			ref->version = version;
		if (ref->name[0] != '\0' && id_len > 0) {
			/* object= and id= together: they must agree */
			for (i = 0; i < key->nversions && !id_is(&key->versions[i], id, id_len); i++)
				;
			if (i == key->nversions) {
				pv_err_set_detail("id= is not the CKA_ID of any version of p11vault key '%s'",
						  ref->name);
				r = PV_ERR_NOT_FOUND;
				goto out;
			}
			if (ref->version != 0 && key->versions[i].version != ref->version) {
				pv_err_set_detail("id= is version %u of p11vault key '%s', not version %u",
						  key->versions[i].version, ref->name, ref->version);
				r = PV_ERR_USAGE;
				goto out;
			}
			ref->version = key->versions[i].version;
		}
	} else if (id_len > 0) {
		/* id= alone: the version whose CKA_ID it is, if any */
		if ((r = pv_keys_list(ks, &keys, &nkeys)) != PV_OK)
			goto out;
		for (i = 0; i < nkeys && ref->name[0] == '\0'; i++) {
			for (j = 0; j < keys[i]->nversions; j++) {
				if (id_is(&keys[i]->versions[j], id, id_len)) {
					snprintf(ref->name, sizeof(ref->name), "%s", keys[i]->name);
					ref->version = keys[i]->versions[j].version;
					break;
				}
			}
		}
		if (ref->name[0] != '\0' && version != 0 && version != ref->version) {
			pv_err_set_detail("id= is version %u of p11vault key '%s', not version %u",
					  ref->version, ref->name, version);
			r = PV_ERR_USAGE;
			goto out;
		}
	}
	if (ref->name[0] == '\0' && version != 0) {
		pv_err_set_detail("%sN needs object= naming a p11vault key (no key is named %s)",
				  VERSION_ATTR, label != NULL && *label != '\0' ? label : "by the URI");
		r = PV_ERR_NOT_FOUND;
	}
out:
	pv_key_free(key);
	pv_keys_list_free(keys, nkeys);
	if (r != PV_OK)
		memset(ref, 0, sizeof(*ref));
	return r;
}

pv_err
pv_keys_uri_resolve(pv_keystore *ks, const char *uri, struct pv_key_ref *ref, char **raw)
{
	P11KitUri *u = NULL;
	CK_ATTRIBUTE *a;
	CK_OBJECT_CLASS cls;
	char label[P11_LABEL_MAX] = "";
	char *s = NULL;
	unsigned version = 0;
	pv_err r;

	memset(ref, 0, sizeof(*ref));
	if (raw != NULL)
		*raw = NULL;
	if (strncmp(uri, "pkcs11:", 7) != 0) {
		pv_err_set_detail("not a pkcs11: URI");
		return PV_ERR_USAGE;
	}
	if ((r = pv_keys_uri_strip_version(uri, &s, &version)) != PV_OK)
		goto out;
	r = PV_ERR_NOMEM;
	if ((u = p11_kit_uri_new()) == NULL)
		goto out;
	r = PV_ERR_USAGE;
	if (p11_kit_uri_parse(s, P11_KIT_URI_FOR_OBJECT_ON_TOKEN, u) != P11_KIT_URI_OK) {
		pv_err_set_detail("not a valid pkcs11: object URI");
		goto out;
	}
	if (p11_kit_uri_get_pin_value(u) != NULL) {
		pv_err_set_detail("refusing a URI with pin-value: the PIN would sit in argv");
		goto out;
	}
	/* a URI for another token names none of this token's keys */
	if (!token_matches(pv_keystore_token(ks), u)) {
		if (version != 0) {
			pv_err_set_detail("the URI's token attributes do not match the selected token");
			r = PV_ERR_NOT_FOUND;
			goto out;
		}
		r = PV_OK;
		goto done;
	}
	/* type=data or type=cert: not a key, whatever its label */
	if ((a = p11_kit_uri_get_attribute(u, CKA_CLASS)) != NULL && a->ulValueLen == sizeof(cls)) {
		memcpy(&cls, a->pValue, sizeof(cls));
		if (cls != CKO_PRIVATE_KEY && cls != CKO_PUBLIC_KEY && cls != CKO_SECRET_KEY) {
			if (version != 0) {
				pv_err_set_detail("%sN names a key version; the URI's type= is not a key",
						  VERSION_ATTR);
				goto out;
			}
			r = PV_OK;
			goto done;
		}
	}
	if ((a = p11_kit_uri_get_attribute(u, CKA_LABEL)) != NULL && a->ulValueLen < sizeof(label) &&
	    memchr(a->pValue, '\0', a->ulValueLen) == NULL) {
		memcpy(label, a->pValue, a->ulValueLen);
		label[a->ulValueLen] = '\0';
	}
	a = p11_kit_uri_get_attribute(u, CKA_ID);
	if ((r = pv_keys_ref_lookup(ks, label, a != NULL ? a->pValue : NULL, a != NULL ? a->ulValueLen : 0,
				    version, ref)) != PV_OK)
		goto out;
done:
	if (raw != NULL && ref->name[0] == '\0') {
		*raw = s;
		s = NULL;
	}
out:
	p11_kit_uri_free(u);
	free(s);
	return r;
}

static const char *
class_text(CK_ULONG cls)
{
	switch (cls) {
	case CKO_DATA:
		return "a data object";
	case CKO_CERTIFICATE:
		return "a certificate";
	case CKO_PUBLIC_KEY:
		return "public key";
	case CKO_PRIVATE_KEY:
		return "private key";
	case CKO_SECRET_KEY:
		return "secret key";
	default:
		return "an object of another class";
	}
}

static const char *
key_type_text(CK_ULONG kt)
{
	switch (kt) {
	case CKK_RSA:
		return "an RSA ";
	case CKK_EC:
		return "an EC ";
	case CKK_EC_EDWARDS:
		return "an EdDSA ";
	case CKK_AES:
		return "an AES ";
	case CKK_GENERIC_SECRET:
		return "a generic ";
	default:
		return "a ";
	}
}

void
pv_keys_uri_describe(pv_keystore *ks, const char *uri, char *buf, size_t len)
{
	p11_token *tok = pv_keystore_token(ks);
	struct pv_key_ref ref;
	struct pv_key *key = NULL;
	CK_OBJECT_HANDLE *hs = NULL;
	CK_ULONG cls, kt;
	char *raw = NULL, saved[512];
	uint8_t *lbl = NULL;
	size_t n = 0, lbllen = 0;

	/* describing must not replace the error being reported */
	snprintf(saved, sizeof(saved), "%s", pv_err_detail());
	snprintf(buf, len, "matches nothing on the token");
	if (pv_keys_uri_resolve(ks, uri, &ref, &raw) != PV_OK)
		goto out;
	if (ref.name[0] != '\0') {
		if (pv_keys_get(ks, ref.name, &key) == PV_OK) {
			if (ref.version != 0)
				snprintf(buf, len, "matches version %u of p11vault key '%s' (purpose %s, %s)",
					 ref.version, key->name, pv_key_purpose_name(key->purpose),
					 pv_alg_info(key->alg)->name);
			else
				snprintf(buf, len, "matches p11vault key '%s' (purpose %s, %s)", key->name,
					 pv_key_purpose_name(key->purpose), pv_alg_info(key->alg)->name);
		}
		goto out;
	}
	if (p11_find_by_uri(tok, raw, &hs, &n) != PV_OK || n == 0)
		goto out;
	if (p11_handle_get_ulong(tok, hs[0], CKA_CLASS, &cls) != PV_OK) {
		snprintf(buf, len, "matches an object whose class cannot be read");
		goto out;
	}
	if (cls == CKO_PUBLIC_KEY || cls == CKO_PRIVATE_KEY || cls == CKO_SECRET_KEY) {
		if (p11_handle_get_ulong(tok, hs[0], CKA_KEY_TYPE, &kt) != PV_OK)
			kt = CKK_VENDOR_DEFINED;
		if (p11_handle_get_attr(tok, hs[0], CKA_LABEL, &lbl, &lbllen) != PV_OK)
			lbllen = 0;
		snprintf(buf, len, "matches %s%s%s%.*s%s (not a p11vault key)%s", key_type_text(kt),
			 class_text(cls), lbllen > 0 ? " '" : "", (int)(lbllen < 64 ? lbllen : 64),
			 lbl != NULL ? (const char *)lbl : "", lbllen > 0 ? "'" : "",
			 n > 1 ? " and other objects" : "");
	} else {
		snprintf(buf, len, "matches %s (not a key)%s", class_text(cls),
			 n > 1 ? " and other objects" : "");
	}
out:
	pv_key_free(key);
	free(hs);
	free(lbl);
	free(raw);
	if (saved[0] != '\0')
		pv_err_set_detail("%s", saved);
	else
		pv_err_clear_detail();
}
