/* RFC 7512 object URIs: finding objects by URI and naming objects by URI,
 * both through p11-kit's URI API. */
#ifndef PV_P11_OBJURI_H
#define PV_P11_OBJURI_H

#include "pkcs11/token.h"

/*
 * Handles of the objects the URI's object attributes (object, id, type)
 * select on this token. A URI whose token attributes do not match this
 * token selects nothing. *out is malloc'd; caller frees.
 */
pv_err p11_find_by_uri(p11_token *tok, const char *uri, CK_OBJECT_HANDLE **out, size_t *count) PV_WUR;

/* "pkcs11:<token attrs>;id=%..;object=LABEL;type=private" (malloc'd). */
pv_err p11_object_uri(p11_token *tok, CK_OBJECT_CLASS cls, const char *label, const uint8_t *id,
		      size_t id_len, char **out) PV_WUR;

#endif
