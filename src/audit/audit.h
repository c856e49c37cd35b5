/*
 * The tamper-evident audit log of vaultd (docs/audit.md): JSON lines chained
 * by SHA-256, with checkpoints MAC'd by an hmac-sha256 key on the token.
 */
#ifndef PV_AUDIT_H
#define PV_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "core/keys.h"

#define PV_AUDIT_LINE_MAX      16384 /* bytes, without the newline */
#define PV_AUDIT_FIELD_MAX     256   /* rid, client, op, key */
#define PV_AUDIT_EVERY_MAX     1000000
#define PV_AUDIT_HASH_LEN      32
#define PV_AUDIT_INPUTS_MAX    64 /* items of inputs_sha256 (vaultd batches) */
/* Largest integer in a line (10^15 - 1), e.g. a record's chain_id. */
#define PV_AUDIT_INT_MAX       UINT64_C(999999999999999)
#define PV_AUDIT_PEER_MAX      80 /* "uid:4294967295", "cert:<64 hex>", "tcp" */
/* Authentication failures: one line per peer per this many seconds. */
#define PV_AUDIT_AUTH_INTERVAL 1

typedef struct pv_audit pv_audit;

typedef enum pv_audit_fsync {
	PV_AUDIT_FSYNC_NEVER = 0,
	PV_AUDIT_FSYNC_CHECKPOINT, /* after each checkpoint */
	PV_AUDIT_FSYNC_EVERY,      /* after every line */
} pv_audit_fsync;

/*
 * The checkpoint MAC as a narrow callback instead of a keystore (vaultd:
 * its keeper, which MACs with the audit key and nothing else): HMAC-SHA256
 * of msg with the audit key, the key version used in *version.
 */
struct pv_audit_mac {
	pv_err (*mac)(void *ctx, const uint8_t *msg, size_t len, uint8_t out[PV_AUDIT_HASH_LEN],
		      unsigned *version);
	void *ctx;
};

struct pv_audit_opts {
	const char *path;        /* NULL: syslog only (then syslog must be set) */
	pv_keystore *ks;         /* borrowed; used under the log's mutex; or: */
	struct pv_audit_mac mac; /* used when ks is NULL (mac.mac set) */
	const char *hmac_key;    /* name of an hmac-sha256 key, e.g. "audit-hmac" */
	unsigned every;          /* checkpoint after this many records (0: 100) */
	unsigned seconds;        /* ... or after this many seconds (0: never) */
	pv_audit_fsync fsync;
	int syslog; /* also send each line to LOG_AUTHPRIV|LOG_INFO */
	/* New file after a rotation: H(last line of the old file) and its seq
	 * + 1. NULL: 32 zero bytes and seq 0. Ignored for an existing file. */
	const uint8_t *rotated_from;
	uint64_t first_seq;
};

typedef enum pv_audit_outcome {
	PV_AUDIT_OK = 0,
	PV_AUDIT_DENIED,
	PV_AUDIT_ERROR,
} pv_audit_outcome;

/* One request. Strings may be NULL (written as ""); input is hashed, never
 * written. */
struct pv_audit_rec {
	const char *rid;
	const char *client;
	const char *op;
	const char *key;
	unsigned version;
	const uint8_t *input;
	size_t input_len;
	pv_audit_outcome outcome;
	unsigned status; /* 0-999 */
	uint64_t latency_us;
	/* Wallet requests (docs/audit.md): the transaction (hash, or what
	 * identifies it) and the EVM chain id. NULL / 0: the member is left
	 * out. tx: 1..PV_AUDIT_FIELD_MAX bytes; chain_id: at most PV_AUDIT_INT_MAX. */
	const char *tx;
	uint64_t chain_id;
	/* Batches (docs/audit.md): n_inputs SHA-256 hashes of the items, in
	 * order, PV_AUDIT_HASH_LEN bytes each; n_inputs 0: the member is left
	 * out; at most PV_AUDIT_INPUTS_MAX. */
	const uint8_t *inputs_sha256;
	size_t n_inputs;
	/* Aggregated authentication failures (pv_audit_auth_failure): how
	 * many requests the line stands for; 0 or 1: the member is left out. */
	uint64_t count;
};

pv_err pv_audit_open(const struct pv_audit_opts *o, pv_audit **out) PV_WUR;
/* Thread-safe. May also write a checkpoint (interval reached). */
pv_err pv_audit_write(pv_audit *a, const struct pv_audit_rec *rec) PV_WUR;
pv_err pv_audit_checkpoint(pv_audit *a) PV_WUR;
/* Chain head (H of the last line) and the seq of the last line, e.g. for
 * rotation. */
pv_err pv_audit_head(pv_audit *a, uint8_t head[PV_AUDIT_HASH_LEN], uint64_t *seq) PV_WUR;
/*
 * Log rotation: when the file at the path is no longer the one open (it
 * was moved away), end the old one with a checkpoint and continue the
 * chain in a new, empty file at the path (its open line's prev is H(the
 * old file's last line)). Nothing moved: PV_OK, nothing written. A new
 * file that is not empty: PV_ERR_EXISTS, the old one stays open.
 */
pv_err pv_audit_reopen(pv_audit *a) PV_WUR;
/*
 * A failed authentication (401) from peer (docs/audit.md §5): the first
 * of a peer in each PV_AUDIT_AUTH_INTERVAL is written as rec; the later
 * ones are counted and written as one record with "count" (client: the
 * peer) once the interval is over (at a later write or at close).
 * *recent: this peer's failures in the current interval, this one
 * included, for the caller's rate limit.
 */
pv_err pv_audit_auth_failure(pv_audit *a, const struct pv_audit_rec *rec, const char *peer,
			     unsigned *recent) PV_WUR;
/* Bytes of a torn last line that pv_audit_open dropped (0: none). */
uint64_t pv_audit_dropped(pv_audit *a);
/* Writes a final checkpoint (if records follow the last one) and closes.
 * NULL is fine. Returns the first error. */
pv_err pv_audit_close(pv_audit *a);

struct pv_audit_report {
	uint64_t lines;
	uint64_t records;
	uint64_t checkpoints;
	uint64_t verified;   /* checkpoints whose MAC verified on the token */
	uint64_t after_last; /* lines after the last checkpoint */
	uint64_t recovered;  /* recovered lines: a torn last line was dropped */
	uint64_t dropped;    /* ... bytes dropped, over all of them */
	uint64_t deferred;   /* deferred lines: a due checkpoint waited for the token */
	uint64_t bad_line;   /* 0 when intact; the line within file bad_file */
	size_t bad_file;     /* pv_audit_verify_files: index of the broken file */
	char reason[256];    /* "line 17: ..." when bad_line != 0 */
};

/*
 * Check a log read from fd (docs/audit.md §3). ks NULL: the hash chain only,
 * checkpoints unverified. PV_OK, PV_ERR_INTEGRITY (rep->bad_line and
 * rep->reason say where and why; also the error detail), or another error
 * (I/O, token, unknown hmac key).
 */
pv_err pv_audit_verify(pv_keystore *ks, const char *hmac_key, int fd, struct pv_audit_report *rep) PV_WUR;
/*
 * A rotated log: the files in order, one chain (docs/audit.md §2). The
 * first line of each later file must continue the last line of the one
 * before it, so a missing, added or reordered file is refused.
 */
pv_err pv_audit_verify_files(pv_keystore *ks, const char *hmac_key, const int *fds, size_t n,
			     struct pv_audit_report *rep) PV_WUR;
/* The same over a buffer (the fuzz harness uses it). */
pv_err pv_audit_verify_mem(pv_keystore *ks, const char *hmac_key, const uint8_t *data, size_t len,
			   struct pv_audit_report *rep) PV_WUR;

#endif
