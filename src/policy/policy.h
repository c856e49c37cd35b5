/*
 * vaultd's authentication and authorization, built from a validated config
 * (docs/config.md, "Policy"). No HTTP here: the server maps the results to
 * statuses (PV_ERR_NOT_LOGGED_IN 401, PV_ERR_FORBIDDEN 403, PV_ERR_BUSY 429
 * with Retry-After).
 *
 * - Authentication: a bearer token (its SHA-256 compared in constant time
 *   with every token client's hash), else a TLS client certificate's SHA-256
 *   fingerprint, else the Unix socket peer's uid.
 * - Authorization: default deny. The first rule (in file order) that grants
 *   the operation and whose key patterns match the key name (fnmatch(3),
 *   no FNM_PATHNAME) allows it and supplies its caps; rules are not merged.
 *   Role admin also implies secrets.list and reload, never secrets.read.
 * - Rate limiting: one token bucket per client; time is passed in.
 *
 * The policy points into the config it was built from: free the policy
 * first. All calls are thread-safe.
 */
#ifndef PV_POLICY_H
#define PV_POLICY_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "base/err.h"
#include "config/vaultd_config.h"

typedef struct pv_policy pv_policy;
typedef struct pv_client pv_client;

/* What the transport knows about the caller. */
struct pv_peer {
	int has_uid;
	uint32_t uid; /* SO_PEERCRED on the Unix socket */
	int has_cert;
	uint8_t cert_sha256[32]; /* SHA-256 of the client certificate (DER) */
};

/* The caps of the rule that allowed an operation (pointers into the config). */
typedef struct pv_policy_decision {
	size_t rule_index; /* which of the client's rules; SIZE_MAX: implied by role */
	uint32_t max_ttl;  /* JWT TTL cap in seconds; 0: no cap from the rule */
	const char *const *audiences;
	size_t n_audiences; /* 0: any audience */
	const uint64_t *chain_ids;
	size_t n_chain_ids;        /* 0: any chain */
	const char *max_value_wei; /* NULL: no value cap */
} pv_policy_decision;

/* Longest bearer token looked at (anything longer cannot match). */
#define PV_POLICY_MAX_BEARER 1024

pv_err pv_policy_from_config(const struct pv_config *cfg, pv_policy **out) PV_WUR;
void pv_policy_free(pv_policy *p);

/*
 * Who is calling. With a bearer token (non-NULL, even empty) only token
 * clients are considered; otherwise a certificate, otherwise a uid.
 * PV_ERR_NOT_LOGGED_IN when nothing matches.
 */
pv_err pv_policy_authenticate(pv_policy *p, const struct pv_peer *peer, const char *bearer,
			      const pv_client **out) PV_WUR;

/*
 * May client do op (PV_OP_SIGN, PV_OP_JWT_ISSUE, ...) on key_name? key_name
 * NULL asks about a listing (allowed only for jwks, keys.read, secrets.list
 * and reload: granted by any rule with the op, whatever its keys; the
 * caller then asks again per key it lists). PV_OK fills d; PV_ERR_FORBIDDEN
 * when denied; PV_ERR_USAGE for an op out of range or a missing key name.
 * vaultd asks only through its keeper (src/vaultd/keeper_policy.c).
 */
pv_err pv_policy_allow(pv_policy *p, const pv_client *client, pv_op op, const char *key_name,
		       pv_policy_decision *d) PV_WUR;

/*
 * The longest JWT lifetime the policy lets any client issue with key_name
 * (what /v1/jwt/verify bounds exp - iat by): over all clients, the
 * max_ttl of the rule that would allow jwt.issue on key_name (each
 * client's first matching rule, as pv_policy_allow picks it). *max_ttl is 0
 * when such a rule has no max_ttl (the service maximum applies). No
 * client may issue with the key: PV_ERR_NOT_FOUND (*max_ttl 0).
 */
pv_err pv_policy_jwt_max_ttl(const pv_policy *p, const char *key_name, uint32_t *max_ttl) PV_WUR;

/*
 * Take one request from the client's bucket at time now (CLOCK_MONOTONIC).
 * PV_ERR_BUSY when empty, with *retry_after the seconds until one is back.
 */
pv_err pv_policy_rate(pv_policy *p, const pv_client *client, struct timespec now, double *retry_after) PV_WUR;

const char *pv_client_name(const pv_client *client);
pv_role pv_client_role(const pv_client *client);

#endif
