/* The JWK Set of the JWT-capable keys, and the key -> JWS algorithm map. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "core/pubkey.h"
#include "jose/jwt.h"

const char *
pv_jwt_alg_name(pv_alg alg, int pss)
{
	switch (alg) {
	case PV_ALG_P256:
		return "ES256";
	case PV_ALG_P384:
		return "ES384";
	case PV_ALG_SECP256K1:
		return "ES256K";
	case PV_ALG_ED25519:
		return "EdDSA";
	case PV_ALG_RSA2048:
	case PV_ALG_RSA3072:
	case PV_ALG_RSA4096:
		return pss ? "PS256" : "RS256";
	default:
		return NULL;
	}
}

static int
jwt_capable(const struct pv_key *key)
{
	/* only jwt keys: a key of another purpose never vouches for a JWT; a
	 * disabled one (or one scheduled for deletion) leaves the set */
	return key->purpose == PV_PURPOSE_JWT && pv_jwt_alg_name(key->alg, 0) != NULL && key->disabled == 0 &&
	       key->delete_at == 0;
}

pv_err
pv_jwks_entry(pv_keystore *ks, const struct pv_key *key, const struct pv_key_version *ver, int pss,
	      cJSON **out)
{
	EVP_PKEY *pk = NULL;
	cJSON *jwk = NULL;
	char *kid = NULL;
	const char *alg = pv_jwt_alg_name(key->alg, pss);
	pv_err r;

	*out = NULL;
	if (!jwt_capable(key)) {
		pv_err_set_detail("key '%s' cannot sign JWTs", key->name);
		r = PV_ERR_KEY_TYPE;
		goto out;
	}
	if ((r = pv_keys_public(ks, key, ver, &pk)) != PV_OK || (r = pv_pubkey_jwk(pk, &jwk)) != PV_OK ||
	    (r = pv_jwk_thumbprint(jwk, &kid)) != PV_OK)
		goto out;
	if (cJSON_AddStringToObject(jwk, "kid", kid) == NULL ||
	    cJSON_AddStringToObject(jwk, "alg", alg) == NULL ||
	    cJSON_AddStringToObject(jwk, "use", "sig") == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	*out = jwk;
	jwk = NULL;
out:
	free(kid);
	cJSON_Delete(jwk);
	EVP_PKEY_free(pk);
	return r;
}

static int
published(pv_key_state st)
{
	return st == PV_STATE_NEXT || st == PV_STATE_ACTIVE || st == PV_STATE_VERIFY_ONLY;
}

/* kid -> key name in names (NULL: nothing to do); RSA kids come twice. */
static pv_err
add_name(cJSON *names, const cJSON *jwk, const char *name)
{
	const cJSON *kid = cJSON_GetObjectItemCaseSensitive(jwk, "kid");

	if (names == NULL || cJSON_GetObjectItemCaseSensitive(names, kid->valuestring) != NULL)
		return PV_OK;
	return cJSON_AddStringToObject(names, kid->valuestring, name) != NULL ? PV_OK : PV_ERR_NOMEM;
}

/* Append the published versions of key to arr (RSA: RS256 and PS256). */
static pv_err
add_key(pv_keystore *ks, const struct pv_key *key, cJSON *arr, cJSON *names)
{
	cJSON *jwk = NULL;
	size_t j;
	int pss;
	pv_err r = PV_OK;

	for (j = 0; j < key->nversions; j++) {
		if (!published(key->versions[j].state))
			continue;
		for (pss = 0; pss <= (pv_alg_info(key->alg)->family == PV_FAMILY_RSA); pss++) {
			if ((r = pv_jwks_entry(ks, key, &key->versions[j], pss, &jwk)) != PV_OK ||
			    (r = add_name(names, jwk, key->name)) != PV_OK)
				goto out;
			if (!cJSON_AddItemToArray(arr, jwk)) {
				r = PV_ERR_NOMEM;
				goto out;
			}
			jwk = NULL;
		}
	}
out:
	cJSON_Delete(jwk);
	return r;
}

pv_err
pv_jwks_build_names(pv_keystore *ks, cJSON **out, cJSON **names)
{
	struct pv_key **keys = NULL;
	size_t nkeys = 0, i;
	cJSON *doc = NULL, *arr, *map = NULL;
	pv_err r;

	*out = NULL;
	if (names != NULL)
		*names = NULL;
	if ((r = pv_keys_list(ks, &keys, &nkeys)) != PV_OK)
		goto out;
	if ((doc = cJSON_CreateObject()) == NULL || (arr = cJSON_AddArrayToObject(doc, "keys")) == NULL ||
	    (names != NULL && (map = cJSON_CreateObject()) == NULL)) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	/* pv_keys_list sorts by name, versions are ascending */
	for (i = 0; i < nkeys; i++)
		if (jwt_capable(keys[i]) && (r = add_key(ks, keys[i], arr, map)) != PV_OK)
			goto out;
	*out = doc;
	doc = NULL;
	if (names != NULL) {
		*names = map;
		map = NULL;
	}
out:
	cJSON_Delete(map);
	cJSON_Delete(doc);
	pv_keys_list_free(keys, nkeys);
	return r;
}

pv_err
pv_jwks_build(pv_keystore *ks, cJSON **out)
{
	return pv_jwks_build_names(ks, out, NULL);
}

pv_err
pv_jwks_build_key(pv_keystore *ks, const char *name, cJSON **out)
{
	struct pv_key *key = NULL;
	cJSON *doc = NULL, *arr;
	pv_err r;

	*out = NULL;
	if ((r = pv_keys_get(ks, name, &key)) != PV_OK)
		goto out;
	if (!jwt_capable(key)) {
		pv_err_set_detail("key '%s' cannot sign JWTs", name);
		r = PV_ERR_KEY_TYPE;
		goto out;
	}
	if ((doc = cJSON_CreateObject()) == NULL || (arr = cJSON_AddArrayToObject(doc, "keys")) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	if ((r = add_key(ks, key, arr, NULL)) != PV_OK)
		goto out;
	*out = doc;
	doc = NULL;
out:
	cJSON_Delete(doc);
	pv_key_free(key);
	return r;
}
