/* Printing keys for `key create/list/show/adopt`. */
#ifndef VAULTCTL_KEYOUT_H
#define VAULTCTL_KEYOUT_H

#include "vaultctl.h"

/* {"name","alg","purpose","hint"?,"usage","versions":[{"version","state","created","origin","uri"?}]}
 * purpose: "jwt", "sign", ... or null for a key made before purposes (then
 * "hint" says how to give it one). usage: "sign" or "decrypt" for key
 * pairs, "wrap" for aes256, "sign" for hmac-sha256. */
cJSON *keyout_json(pv_keystore *ks, const struct pv_key *key, int with_uris);
/* Table rows: NAME ALG VERSION STATE PURPOSE USAGE CREATED (PURPOSE "none"
 * for a key made before purposes). */
void keyout_table_header(void);
void keyout_table_rows(const struct pv_key *key);
/* One line for a key without a purpose: refused until set-purpose, and the
 * purposes its algorithm can have. */
void keyout_legacy_hint(const struct pv_key *key, char *buf, size_t len);
/* The URI-in-PEM the OpenSSL provider reads as a key file (`key show
 * --format provider-pem`): "-----BEGIN P11VAULT KEY URI-----", the base64
 * of "p11vault:NAME;version=N" in lines of 64, "-----END ...". *out is
 * malloc'd. PV_ERR_KEY_TYPE for an algorithm the provider does not take
 * (secp256k1, aes256, hmac-sha256). */
pv_err keyout_provider_pem(const struct pv_key *key, unsigned version, char **out) PV_WUR;

#endif
