/*
 * Inside the audit log (docs/audit.md): what the line format
 * (audit_line.c), the verifier (audit_verify.c) and the writer
 * (audit_writer.c) share. Nothing else includes this.
 */
#ifndef PV_AUDIT_LINE_H
#define PV_AUDIT_LINE_H

#include <stddef.h>
#include <stdint.h>

#include "audit/audit.h"
#include "base/err.h"

#define INT_LIMIT   INT64_C(999999999999999) /* 10^15 - 1: cJSON prints it without exponent */
#define LOG_ID_LEN  16
#define TIME_LEN    24 /* 2026-11-23T14:00:00.123Z */
#define MAC_MSG_LEN (PV_AUDIT_HASH_LEN + 8)

enum line_kind { LINE_OPEN, LINE_RECORD, LINE_CHECKPOINT, LINE_RECOVERED, LINE_DEFERRED };

/* What the verifier needs from a parsed line. */
struct aline {
	enum line_kind kind;
	uint64_t seq;
	unsigned every;
	unsigned key_version;
	uint64_t dropped;
	uint8_t prev[PV_AUDIT_HASH_LEN];
	uint8_t mac[PV_AUDIT_HASH_LEN];
};

/* H(line): SHA-256 of a line without its newline. */
pv_err pv_audit_line_hash(const uint8_t *line, size_t len, uint8_t out[PV_AUDIT_HASH_LEN]) PV_WUR;

/* What a checkpoint MACs: prev || seq (8 bytes, big-endian). */
void pv_audit_mac_message(const uint8_t head[PV_AUDIT_HASH_LEN], uint64_t seq, uint8_t msg[MAC_MSG_LEN]);

/* One line (without its newline) against the format: 0, or -1 with the
 * reason (without the "line n: " prefix) in why. */
int pv_audit_line_parse(const uint8_t *p, size_t len, struct aline *l, char *why, size_t whylen);

#endif
