/* Printing keys for `key create/list/show/adopt`. */
#ifndef VAULTCTL_KEYOUT_H
#define VAULTCTL_KEYOUT_H

#include "vaultctl.h"

/* {"name","alg","usage","versions":[{"version","state","created","origin","uri"?}]}
 * usage: "sign" or "decrypt" for key pairs, "wrap" for aes256, "sign" for
 * hmac-sha256. */
cJSON *keyout_json(pv_keystore *ks, const struct pv_key *key, int with_uris);
/* Table rows: NAME ALG VERSION STATE USAGE CREATED. */
void keyout_table_header(void);
void keyout_table_rows(const struct pv_key *key);

#endif
