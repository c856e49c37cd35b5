#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "pkcs11/internal.h"
#include "pkcs11/pin.h"

/*
 * Token initialisation (what `softhsm2-util --init-token --free` does, but
 * with PINs from PIN sources instead of argv).
 */

static pv_err
list_slots(CK_FUNCTION_LIST *f, CK_SLOT_ID **ids, CK_ULONG *n)
{
	CK_RV rv = CKR_OK;

	*ids = NULL;
	for (int tries = 0; tries < 3; tries++) {
		free(*ids);
		*ids = NULL;
		if ((rv = f->C_GetSlotList(CK_TRUE, NULL, n)) != CKR_OK)
			break;
		if ((*ids = calloc(*n ? *n : 1, sizeof(**ids))) == NULL)
			return PV_ERR_NOMEM;
		if ((rv = f->C_GetSlotList(CK_TRUE, *ids, n)) != CKR_BUFFER_TOO_SMALL)
			break;
	}
	if (rv != CKR_OK) {
		free(*ids);
		*ids = NULL;
		pv_err_set_detail("C_GetSlotList: %s", P11_RV_TEXT(rv));
		return p11_rv_to_err(rv);
	}
	return PV_OK;
}

static int
label_is(const CK_TOKEN_INFO *ti, const char *label)
{
	char have[33];

	p11_copy_padded(have, sizeof(have), ti->label, sizeof(ti->label));
	return strcmp(have, label) == 0;
}

/* The uninitialised slot to use; refuses when the label is taken. */
static pv_err
pick_slot(CK_FUNCTION_LIST *f, const char *label, int want_fresh_user, CK_SLOT_ID *slot)
{
	CK_SLOT_ID *ids = NULL;
	CK_TOKEN_INFO ti;
	CK_ULONG n = 0;
	int found = 0;
	pv_err r;

	if ((r = list_slots(f, &ids, &n)) != PV_OK)
		return r;
	r = PV_ERR_TOKEN_NOT_FOUND;
	for (CK_ULONG i = 0; i < n; i++) {
		if (f->C_GetTokenInfo(ids[i], &ti) != CKR_OK)
			continue;
		if (!want_fresh_user) {
			if ((ti.flags & CKF_TOKEN_INITIALIZED) && label_is(&ti, label)) {
				pv_err_set_detail("a token labelled '%s' already exists", label);
				r = PV_ERR_EXISTS;
				goto out;
			}
			if (!found && !(ti.flags & CKF_TOKEN_INITIALIZED)) {
				*slot = ids[i];
				found = 1;
			}
		} else if ((ti.flags & CKF_TOKEN_INITIALIZED) && !(ti.flags & CKF_USER_PIN_INITIALIZED) &&
			   label_is(&ti, label)) {
			*slot = ids[i];
			found = 1;
			break;
		}
	}
	if (found)
		r = PV_OK;
	else
		pv_err_set_detail(want_fresh_user ? "the new token '%s' is gone"
						  : "no uninitialised token slot for '%s'",
				  label);
out:
	free(ids);
	return r;
}

static pv_err
fail(const char *fn, CK_RV rv)
{
	pv_err_set_detail("%s: %s", fn, P11_RV_TEXT(rv));
	return p11_rv_to_err(rv);
}

pv_err
p11_token_init(const char *module, const char *label, const char *so_pin_source, const char *user_pin_source)
{
	CK_FUNCTION_LIST *f = NULL;
	pv_secret *so = NULL, *user = NULL;
	CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
	CK_UTF8CHAR padded[32];
	CK_SLOT_ID slot = 0;
	char desc[512];
	int we = 0, so_in = 0;
	CK_RV rv;
	pv_err r;

	if (label == NULL || *label == '\0' || strlen(label) > sizeof(padded)) {
		pv_err_set_detail("token label must be 1..32 bytes");
		return PV_ERR_USAGE;
	}
	if (so_pin_source == NULL || user_pin_source == NULL) {
		pv_err_set_detail("token init needs an SO PIN source and a user PIN source");
		return PV_ERR_USAGE;
	}
	/* Both PINs first: a bad source must not leave a half-made token. */
	if ((r = p11_pin_read(so_pin_source, 0, "the security officer", &so)) != PV_OK)
		goto out;
	if ((r = p11_pin_read(user_pin_source, 0, "the new token", &user)) != PV_OK)
		goto out;
	if ((r = p11_module_load(module, NULL, NULL, &f, desc, sizeof(desc))) != PV_OK)
		goto out;
	if ((r = p11_module_initialize(f, &we)) != PV_OK)
		goto out;
	if ((r = pick_slot(f, label, 0, &slot)) != PV_OK)
		goto out;
	memset(padded, ' ', sizeof(padded));
	memcpy(padded, label, strlen(label));
	rv = f->C_InitToken(slot, pv_secret_rw(so), (CK_ULONG)pv_secret_len(so), padded);
	pv_secret_lock(so);
	if (rv != CKR_OK) {
		r = fail("C_InitToken", rv);
		goto out;
	}
	/* SoftHSM moves an initialised token to a new slot id: look again. */
	if ((r = pick_slot(f, label, 1, &slot)) != PV_OK)
		goto out;
	if ((rv = f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h)) != CKR_OK) {
		r = fail("C_OpenSession", rv);
		goto out;
	}
	rv = f->C_Login(h, CKU_SO, pv_secret_rw(so), (CK_ULONG)pv_secret_len(so));
	pv_secret_lock(so);
	if (rv != CKR_OK) {
		r = fail("C_Login(SO)", rv);
		goto out;
	}
	so_in = 1;
	rv = f->C_InitPIN(h, pv_secret_rw(user), (CK_ULONG)pv_secret_len(user));
	pv_secret_lock(user);
	if (rv != CKR_OK) {
		r = fail("C_InitPIN", rv);
		goto out;
	}
	r = PV_OK;
out:
	if (so_in)
		(void)f->C_Logout(h);
	if (h != CK_INVALID_HANDLE)
		(void)f->C_CloseSession(h);
	/* No C_Finalize/unload: SoftHSM under OpenSSL 3 may crash doing it. */
	pv_secret_free(so);
	pv_secret_free(user);
	return r;
}
