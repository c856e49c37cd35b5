/*
 * EIP-712 typed structured data: the hash an Ethereum wallet signs for
 * eth_signTypedData_v4. The input is the JSON document of that call:
 *
 *   {"types": {"EIP712Domain": [...], "Mail": [{"name": "from", "type":
 *    "Person"}, ...], ...}, "primaryType": "Mail", "domain": {...},
 *    "message": {...}}
 *
 * and the result is domainSeparator = hashStruct(EIP712Domain, domain),
 * hashStruct(primaryType, message) and the digest
 * keccak256(0x19 0x01 || domainSeparator || hashStruct(message)).
 *
 * Parsing is strict (docs/wallet.md, "eip712"): every refusal is
 * PV_ERR_BAD_INPUT (PV_ERR_TOO_LARGE over PV_EIP712_MAX) with a detail that
 * names a path, type or field name but never quotes a value.
 */
#ifndef PV_WALLET_EIP712_H
#define PV_WALLET_EIP712_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "base/err.h"

/* Largest JSON text accepted (vaultd's default request body limit). */
#define PV_EIP712_MAX        (64 * 1024)
/* Deepest type nesting: struct levels plus array dimensions on any path. */
#define PV_EIP712_MAX_DEPTH  16
/* Most struct types in "types" (EIP712Domain included), fields per type. */
#define PV_EIP712_MAX_TYPES  128
#define PV_EIP712_MAX_FIELDS 128
/* Longest type or field name. */
#define PV_EIP712_NAME_MAX   128

struct pv_eip712_hashes {
	uint8_t domain_separator[32]; /* hashStruct(EIP712Domain, domain) */
	uint8_t message_hash[32];     /* hashStruct(primaryType, message) */
	uint8_t digest[32];           /* what is signed */
	int has_chain_id;             /* domain.chainId is present */
	int chain_id_fits;            /* ... and fits 64 bits */
	uint64_t chain_id;            /* its value when it fits, else 0 */
};

/*
 * Check typed data and compute its hashes. *out is zeroed on failure. The
 * text must not contain NUL characters (raw or \u0000), must be UTF-8 and
 * may be followed by whitespace only.
 */
pv_err pv_eip712_hash(const uint8_t *json, size_t len, struct pv_eip712_hashes *out) PV_WUR;

/*
 * The same over a document cJSON parsed already (vaultd's request body,
 * whose reader made the text checks). Never write the tree out and hash
 * the text again: cJSON prints numbers above 10^15 with 15 significant
 * digits, so 9007199254740991 would come back as 9007199254740990.
 */
pv_err pv_eip712_hash_json(const cJSON *doc, struct pv_eip712_hashes *out) PV_WUR;

/*
 * encodeType of one struct type of the typed data (the type itself, then
 * the struct types it references, sorted by name), malloc'd and
 * NUL-terminated (free()). The whole document is checked first.
 */
pv_err pv_eip712_encode_type(const uint8_t *json, size_t len, const char *type, char **out) PV_WUR;

#endif
