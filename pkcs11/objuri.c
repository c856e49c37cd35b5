#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <p11-kit/p11-kit.h>
#include <p11-kit/uri.h>

#include "pkcs11/objuri.h"

static void
pad_copy(CK_UTF8CHAR *dst, size_t len, const char *src)
{
	size_t n = strlen(src);

	memset(dst, ' ', len);
	memcpy(dst, src, n < len ? n : len);
}

/* CK_TOKEN_INFO with just the fields URIs match on. */
static pv_err
token_info_for_match(p11_token *tok, CK_TOKEN_INFO *ti)
{
	struct p11_token_info info;
	pv_err r;

	if ((r = p11_token_get_info(tok, &info)) != PV_OK)
		return r;
	memset(ti, 0, sizeof(*ti));
	pad_copy(ti->label, sizeof(ti->label), info.label);
	pad_copy(ti->manufacturerID, sizeof(ti->manufacturerID), info.manufacturer);
	pad_copy(ti->model, sizeof(ti->model), info.model);
	pad_copy(ti->serialNumber, sizeof(ti->serialNumber), info.serial);
	return PV_OK;
}

pv_err
p11_find_by_uri(p11_token *tok, const char *uri, CK_OBJECT_HANDLE **out, size_t *count)
{
	P11KitUri *u = NULL;
	CK_TOKEN_INFO ti;
	CK_ATTRIBUTE *attrs;
	CK_ULONG n = 0;
	pv_err r = PV_ERR_USAGE;

	*out = NULL;
	*count = 0;
	if ((u = p11_kit_uri_new()) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	if (p11_kit_uri_parse(uri, P11_KIT_URI_FOR_OBJECT_ON_TOKEN, u) != P11_KIT_URI_OK) {
		pv_err_set_detail("not a valid pkcs11: object URI");
		goto out;
	}
	if (p11_kit_uri_get_pin_value(u) != NULL) {
		pv_err_set_detail("refusing a URI with pin-value: the PIN would sit in argv");
		goto out;
	}
	attrs = p11_kit_uri_get_attributes(u, &n);
	if (attrs == NULL || n == 0) {
		pv_err_set_detail("the URI names no object (give object=, id= or type=)");
		goto out;
	}
	if ((r = token_info_for_match(tok, &ti)) != PV_OK)
		goto out;
	if (!p11_kit_uri_match_token_info(u, &ti)) {
		pv_err_set_detail("the URI's token attributes do not match the selected token");
		r = PV_ERR_NOT_FOUND;
		goto out;
	}
	r = p11_find_all(tok, attrs, n, out, count);
out:
	p11_kit_uri_free(u);
	return r;
}

pv_err
p11_object_uri(p11_token *tok, CK_OBJECT_CLASS cls, const char *label, const uint8_t *id, size_t id_len,
	       char **out)
{
	P11KitUri *u = NULL;
	char *turi = NULL, *s = NULL;
	CK_ATTRIBUTE a;
	pv_err r = PV_ERR_NOMEM;

	*out = NULL;
	if ((r = p11_token_uri(tok, &turi)) != PV_OK)
		goto out;
	r = PV_ERR_NOMEM;
	if ((u = p11_kit_uri_new()) == NULL)
		goto out;
	if (p11_kit_uri_parse(turi, P11_KIT_URI_FOR_TOKEN, u) != P11_KIT_URI_OK) {
		r = PV_ERR_INTERNAL;
		goto out;
	}
	a = (CK_ATTRIBUTE){CKA_CLASS, &cls, sizeof(cls)};
	if (p11_kit_uri_set_attribute(u, &a) != P11_KIT_URI_OK)
		goto out;
	if (label != NULL && *label != '\0') {
		a = (CK_ATTRIBUTE){CKA_LABEL, (void *)(uintptr_t)label, strlen(label)};
		if (p11_kit_uri_set_attribute(u, &a) != P11_KIT_URI_OK)
			goto out;
	}
	if (id_len > 0) {
		a = (CK_ATTRIBUTE){CKA_ID, (void *)(uintptr_t)id, id_len};
		if (p11_kit_uri_set_attribute(u, &a) != P11_KIT_URI_OK)
			goto out;
	}
	if (p11_kit_uri_format(u, P11_KIT_URI_FOR_OBJECT_ON_TOKEN, &s) != P11_KIT_URI_OK)
		goto out;
	*out = s;
	r = PV_OK;
out:
	free(turi);
	p11_kit_uri_free(u);
	return r;
}
