/*
 * RLP, Ethereum's Recursive Length Prefix (Yellow Paper, appendix B).
 *
 * Decoding is strict: only the canonical encoding of a value is accepted
 * (a single byte below 0x80 stands for itself, the short forms are used
 * for payloads under 56 bytes, long-form lengths have no leading zero
 * bytes), every length must fit the bytes that remain, and lists nest at
 * most PV_RLP_MAX_DEPTH deep. Items point into the input; nothing is
 * copied, so the input must outlive them.
 *
 * Typical use: pv_rlp_decode_all() checks a whole input (one item, no
 * trailing bytes, canonical all the way down), then pv_rlp_enter() and
 * pv_rlp_next() walk the list the caller expects.
 */
#ifndef PV_WALLET_RLP_H
#define PV_WALLET_RLP_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

/* Deepest list nesting accepted (a transaction needs 3). */
#define PV_RLP_MAX_DEPTH 16

typedef enum pv_rlp_kind {
	PV_RLP_STRING,
	PV_RLP_LIST,
} pv_rlp_kind;

typedef struct pv_rlp_item {
	pv_rlp_kind kind;
	const uint8_t *payload; /* string bytes, or the encoded list items */
	size_t len;             /* payload length */
	const uint8_t *raw;     /* the whole encoding: header and payload */
	size_t raw_len;
	unsigned depth; /* 0 for a top-level item */
} pv_rlp_item;

/* Reads the items of one byte range: the top level or a list's payload. */
typedef struct pv_rlp_reader {
	const uint8_t *p;
	size_t left;
	unsigned depth; /* nesting depth of the items this reader yields */
} pv_rlp_reader;

/* A reader over len bytes at data (top level, depth 0). */
void pv_rlp_reader_init(pv_rlp_reader *rd, const void *data, size_t len);
/* True when every item has been read. */
int pv_rlp_at_end(const pv_rlp_reader *rd);
/*
 * Read the next item's header and step over it. Only this item's header is
 * checked; a list's contents are checked as they are read (or all at once
 * by pv_rlp_decode_all). At the end of the range: PV_ERR_BAD_INPUT.
 */
pv_err pv_rlp_next(pv_rlp_reader *rd, pv_rlp_item *item) PV_WUR;
/* A reader over a list item's payload (PV_ERR_BAD_INPUT if not a list,
 * PV_ERR_TOO_LARGE when nesting deeper than PV_RLP_MAX_DEPTH). */
pv_err pv_rlp_enter(const pv_rlp_item *list, pv_rlp_reader *child) PV_WUR;

/*
 * Decode exactly one item that fills the input, checking every nested item
 * (canonical form, lengths, depth). Trailing bytes are refused.
 */
pv_err pv_rlp_decode_all(const void *data, size_t len, pv_rlp_item *item) PV_WUR;
/* The same over a buffer's unread bytes (the buffer is not consumed). */
pv_err pv_rlp_decode_buf(const pv_buf *b, pv_rlp_item *item) PV_WUR;

/*
 * An item holding an unsigned integer: a string, big-endian, no leading
 * zero bytes (zero is the empty string). More than 8 (resp. 32) bytes:
 * PV_ERR_TOO_LARGE. The 32-byte form is big-endian, zero-padded on the
 * left (wei amounts up to 2^256-1).
 */
pv_err pv_rlp_get_uint64(const pv_rlp_item *item, uint64_t *v) PV_WUR;
pv_err pv_rlp_get_uint256(const pv_rlp_item *item, uint8_t be[32]) PV_WUR;

/*
 * Encoding: append to a growable buffer (its maximum is the capacity check;
 * PV_ERR_TOO_LARGE beyond it). A list is its header followed by the
 * encoded items, whose total length the caller passes to the header.
 */
pv_err pv_rlp_put_string(pv_buf *b, const void *data, size_t len) PV_WUR;
pv_err pv_rlp_put_list_header(pv_buf *b, size_t payload_len) PV_WUR;
pv_err pv_rlp_put_uint64(pv_buf *b, uint64_t v) PV_WUR;
pv_err pv_rlp_put_uint256(pv_buf *b, const uint8_t be[32]) PV_WUR;
/* Bytes a string / list header would take (to size list payloads). */
size_t pv_rlp_string_size(const void *data, size_t len);
size_t pv_rlp_header_size(size_t payload_len);

#endif
