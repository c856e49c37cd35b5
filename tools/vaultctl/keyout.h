/* Printing keys for `key create/list/show/adopt`. */
#ifndef VAULTCTL_KEYOUT_H
#define VAULTCTL_KEYOUT_H

#include "vaultctl.h"

/* {"name","alg","versions":[{"version","state","created","origin","uri"?}]} */
cJSON *keyout_json(pv_keystore *ks, const struct pv_key *key, int with_uris);
/* Table rows: NAME ALG VERSION STATE CREATED. */
void keyout_table_header(void);
void keyout_table_rows(const struct pv_key *key);

#endif
