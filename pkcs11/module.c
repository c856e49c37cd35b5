#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkcs11/internal.h"

/*
 * Module loading through p11-kit, unmanaged: p11vault drives
 * C_Initialize/C_Finalize itself (recovery, fork) and must see the module's
 * own return codes.
 */
static pv_err
load_by_name(const char *name, CK_FUNCTION_LIST **f)
{
	CK_FUNCTION_LIST **all = NULL;
	CK_FUNCTION_LIST *m;
	char *path = NULL;
	pv_err r = PV_ERR_MODULE_LOAD;

	/* Find the registered module's file, then load just that one. */
	if ((all = p11_kit_modules_load(NULL, P11_KIT_MODULE_UNMANAGED)) == NULL) {
		pv_err_set_detail("p11-kit: no registered modules");
		goto out;
	}
	if ((m = p11_kit_module_for_name(all, name)) == NULL) {
		pv_err_set_detail("p11-kit: no registered module named '%s'", name);
		goto out;
	}
	if ((path = p11_kit_module_get_filename(m)) == NULL) {
		pv_err_set_detail("p11-kit: module '%s' has no file name", name);
		goto out;
	}
	if ((*f = p11_kit_module_load(path, P11_KIT_MODULE_UNMANAGED)) == NULL) {
		pv_err_set_detail("p11-kit: cannot load module '%s' (%s)", name, path);
		goto out;
	}
	r = PV_OK;
out:
	free(path);
	if (all)
		p11_kit_modules_release(all);
	return r;
}

pv_err
p11_module_load(const char *module, const char *uri_path, const char *uri_name, CK_FUNCTION_LIST **f,
		char *desc, size_t desclen)
{
	const char *m = module;
	pv_err r;

	*f = NULL;
	if (m == NULL || *m == '\0')
		m = uri_path;
	if (m == NULL || *m == '\0')
		m = uri_name;
	if (m == NULL || *m == '\0') {
		pv_err_set_detail("no PKCS#11 module given (--module, config or URI module-path)");
		return PV_ERR_MODULE_LOAD;
	}
	snprintf(desc, desclen, "%s", m);
	if (strchr(m, '/') == NULL)
		return load_by_name(m, f);
	if ((*f = p11_kit_module_load(m, P11_KIT_MODULE_UNMANAGED)) == NULL) {
		pv_err_set_detail("cannot load PKCS#11 module %s", m);
		return PV_ERR_MODULE_LOAD;
	}
	r = PV_OK;
	return r;
}

void
p11_module_release(CK_FUNCTION_LIST *f)
{
	if (f)
		p11_kit_module_release(f);
}

pv_err
p11_module_initialize(CK_FUNCTION_LIST *f, int *we_initialized)
{
	CK_C_INITIALIZE_ARGS args;
	CK_RV rv;

	memset(&args, 0, sizeof(args));
	args.flags = CKF_OS_LOCKING_OK; /* the pool calls from many threads */
	*we_initialized = 0;
	rv = f->C_Initialize(&args);
	if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED)
		return PV_OK; /* someone else in this process owns it */
	if (rv != CKR_OK) {
		pv_err_set_detail("C_Initialize: %s", P11_RV_TEXT(rv));
		return rv == CKR_CANT_LOCK ? PV_ERR_MODULE_LOAD : p11_rv_to_err(rv);
	}
	*we_initialized = 1;
	return PV_OK;
}

void
p11_copy_padded(char *dst, size_t dstlen, const CK_UTF8CHAR *src, size_t srclen)
{
	size_t n = p11_kit_space_strlen(src, srclen);

	if (n >= dstlen)
		n = dstlen - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static int
slot_matches(CK_FUNCTION_LIST *f, P11KitUri *uri, CK_SLOT_ID id, int *busy)
{
	CK_TOKEN_INFO ti;
	CK_SLOT_INFO si;
	CK_SLOT_ID want = uri ? p11_kit_uri_get_slot_id(uri) : (CK_SLOT_ID)-1;
	CK_RV rv;

	if (want != (CK_SLOT_ID)-1 && want != id)
		return 0;
	if ((rv = f->C_GetTokenInfo(id, &ti)) != CKR_OK) {
		if (rv == CKR_GENERAL_ERROR)
			*busy = 1;
		return 0;
	}
	if (!(ti.flags & CKF_TOKEN_INITIALIZED))
		return 0;
	if (uri == NULL)
		return 1;
	if (!p11_kit_uri_match_token_info(uri, &ti))
		return 0;
	if (f->C_GetSlotInfo(id, &si) != CKR_OK)
		return 0;
	return p11_kit_uri_match_slot_info(uri, &si);
}

pv_err
p11_slot_find(CK_FUNCTION_LIST *f, P11KitUri *uri, CK_SLOT_ID *slot, int *busy)
{
	CK_SLOT_ID *ids = NULL;
	CK_ULONG n = 0, i;
	CK_INFO mi;
	CK_RV rv;
	pv_err r = PV_ERR_TOKEN_NOT_FOUND;
	int info_failed = 0;

	if (uri && f->C_GetInfo(&mi) == CKR_OK && !p11_kit_uri_match_module_info(uri, &mi)) {
		pv_err_set_detail("the module does not match the token URI");
		goto out;
	}
	/* The list can change between the two calls (a token or a p11-kit
	 * server coming and going): ask again, a few times. */
	for (int tries = 0; tries < 8; tries++) {
		if ((rv = f->C_GetSlotList(CK_TRUE, NULL, &n)) != CKR_OK) {
			pv_err_set_detail("C_GetSlotList: %s", P11_RV_TEXT(rv));
			r = p11_rv_to_err(rv);
			goto out;
		}
		free(ids);
		if ((ids = calloc(n ? n : 1, sizeof(*ids))) == NULL) {
			r = PV_ERR_NOMEM;
			goto out;
		}
		rv = f->C_GetSlotList(CK_TRUE, ids, &n);
		if (rv != CKR_BUFFER_TOO_SMALL)
			break;
	}
	if (rv != CKR_OK) {
		pv_err_set_detail("C_GetSlotList: %s", P11_RV_TEXT(rv));
		r = rv == CKR_BUFFER_TOO_SMALL ? PV_ERR_TOKEN_UNAVAILABLE : p11_rv_to_err(rv);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (slot_matches(f, uri, ids[i], &info_failed)) {
			*slot = ids[i];
			r = PV_OK;
			goto out;
		}
	}
	if (info_failed) {
		pv_err_set_detail("no initialised token matches the token URI (C_GetTokenInfo of a slot: "
				  "general error (CKR_GENERAL_ERROR))");
		if (busy != NULL)
			*busy = 1;
	} else
		pv_err_set_detail("no initialised token matches the token URI");
out:
	free(ids);
	return r;
}
