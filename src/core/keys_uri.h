/*
 * pkcs11: URIs that name p11vault keys (src/core/keys_uri.c): one resolver
 * for every place that takes a key URI (vaultctl, vaultd, the provider).
 */
#ifndef PV_KEYS_URI_H
#define PV_KEYS_URI_H

#include "core/keys.h"

/*
 * pkcs11: URIs and p11vault keys. A key named in a URI: object=NAME (a
 * p11vault key's name) is that key, version 0 = the active one, resolved
 * at each use; object=NAME.vN (the label of version N's objects), our vendor
 * attribute x-p11vault-version=N (RFC 7512 section 2.3) or id= of a
 * version's CKA_ID pins version N. ref->name "" = the URI names no
 * p11vault key (a raw token object, or nothing): *raw (malloc'd; NULL
 * for none wanted) is then the URI to find it with. Conflicting pins
 * (object=NAME.v1;x-p11vault-version=2) are PV_ERR_USAGE; a version
 * attribute on a URI that names no key is PV_ERR_NOT_FOUND.
 */
struct pv_key_ref {
	char name[PV_KEY_NAME_MAX + 1];
	unsigned version;
};
pv_err pv_keys_uri_resolve(pv_keystore *ks, const char *uri, struct pv_key_ref *ref, char **raw) PV_WUR;
/* The same from a parsed URI: label (object=, may be NULL), id (id=,
 * id_len 0 for none), version (x-p11vault-version=, 0 for none). */
pv_err pv_keys_ref_lookup(pv_keystore *ks, const char *label, const uint8_t *id, size_t id_len,
			  unsigned version, struct pv_key_ref *ref) PV_WUR;
/* For error messages, one line without a raw number: what the URI
 * matches ("matches p11vault key 'kek' (purpose sign, p256)", "matches a
 * data object (not a key)", "matches an RSA private key 'x' (not a p11vault
 * key)", "matches nothing on the token"). Keeps the current error detail. */
void pv_keys_uri_describe(pv_keystore *ks, const char *uri, char *buf, size_t len);

#endif
