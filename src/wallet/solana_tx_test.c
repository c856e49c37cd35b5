/*
 * Solana transaction parser tests. Vectors: a legacy SOL transfer and a v0
 * transfer whose recipient comes from an address lookup table, both
 * serialized by @solana/web3.js 1.99.0 (Transaction.serialize with
 * requireAllSignatures:false, VersionedTransaction.serialize; keys are 32
 * repeated bytes: payer 0x01, recipient 0x02, System Program all zeros,
 * blockhash 0x11, table 0x22 holding [0x33.., recipient]; 1,000,000
 * lamports). The hand-built transfer below must come out byte-identical.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "wallet/solana_tx.h"

/* clang-format off */
static const char web3_legacy_hex[] =
	"01" "00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
	"010001" "03"
	"0101010101010101010101010101010101010101010101010101010101010101"
	"0202020202020202020202020202020202020202020202020202020202020202"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"1111111111111111111111111111111111111111111111111111111111111111"
	"01" "02" "020001" "0c" "0200000040420f0000000000";
static const char web3_v0_hex[] =
	"01" "00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
	"80" "010001" "02"
	"0101010101010101010101010101010101010101010101010101010101010101"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"1111111111111111111111111111111111111111111111111111111111111111"
	"01" "01" "020002" "0c" "0200000040420f0000000000"
	"01" "2222222222222222222222222222222222222222222222222222222222222222" "0101" "00";
/* clang-format on */

static size_t
unhex(const char *hex, uint8_t *out, size_t max)
{
	size_t n = strlen(hex) / 2, i;
	unsigned v;

	assert_true(n <= max);
	for (i = 0; i < n; i++) {
		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
	return n;
}

/* A small transaction writer, so each refusal differs from a valid
 * transaction in exactly the one field under test. */
struct tb {
	uint8_t d[2048];
	size_t n;
};

static void
put(struct tb *t, const void *p, size_t len)
{
	assert_true(t->n + len <= sizeof(t->d));
	memcpy(t->d + t->n, p, len);
	t->n += len;
}

static void
put_u8(struct tb *t, uint8_t v)
{
	put(t, &v, 1);
}

static void
put_fill(struct tb *t, uint8_t v, size_t len)
{
	assert_true(t->n + len <= sizeof(t->d));
	memset(t->d + t->n, v, len);
	t->n += len;
}

/* Canonical compact-u16. */
static void
put_sv(struct tb *t, size_t v)
{
	assert_true(v <= 0xffff);
	while (v >= 0x80) {
		put_u8(t, (uint8_t)(0x80 | (v & 0x7f)));
		v >>= 7;
	}
	put_u8(t, (uint8_t)v);
}

struct shape {
	size_t nsig;
	const char *sig_count_raw; /* hex: replaces the encoding of nsig */
	int version;               /* -1: legacy; else the prefix byte */
	uint8_t hdr[3];
	size_t nkeys;
	uint8_t keys[4]; /* fill byte of each static key */
	uint8_t program;
	size_t nacct;
	uint8_t acct[4];
	size_t datalen; /* 12: transfer data; more: zero padding */
	const char *datalen_raw;
	int lookups; /* v0: 0 or 1 lookup tables */
	size_t nwritable, nreadonly;
	size_t trailing;
};

static const struct shape legacy_transfer = {
    .nsig = 1,
    .version = -1,
    .hdr = {1, 0, 1},
    .nkeys = 3,
    .keys = {0x01, 0x02, 0x00},
    .program = 2,
    .nacct = 2,
    .acct = {0, 1},
    .datalen = 12,
};

static const struct shape v0_transfer = {
    .nsig = 1,
    .version = 0x80,
    .hdr = {1, 0, 1},
    .nkeys = 2,
    .keys = {0x01, 0x00},
    .program = 1,
    .nacct = 2,
    .acct = {0, 2},
    .datalen = 12,
    .lookups = 1,
    .nwritable = 1,
};

static void
build(struct tb *t, const struct shape *s)
{
	static const uint8_t transfer[12] = {2, 0, 0, 0, 0x40, 0x42, 0x0f, 0, 0, 0, 0, 0};
	size_t i;

	t->n = 0;
	if (s->sig_count_raw != NULL)
		t->n = unhex(s->sig_count_raw, t->d, sizeof(t->d));
	else
		put_sv(t, s->nsig);
	put_fill(t, 0, s->nsig * 64);
	if (s->version >= 0)
		put_u8(t, (uint8_t)s->version);
	put(t, s->hdr, 3);
	put_sv(t, s->nkeys);
	for (i = 0; i < s->nkeys; i++)
		put_fill(t, s->keys[i], 32);
	put_fill(t, 0x11, 32);
	put_sv(t, 1);
	put_u8(t, s->program);
	put_sv(t, s->nacct);
	put(t, s->acct, s->nacct);
	if (s->datalen_raw != NULL)
		t->n += unhex(s->datalen_raw, t->d + t->n, sizeof(t->d) - t->n);
	else
		put_sv(t, s->datalen);
	put(t, transfer, s->datalen < 12 ? s->datalen : 12);
	if (s->datalen > 12)
		put_fill(t, 0, s->datalen - 12);
	if (s->version >= 0) {
		put_sv(t, (size_t)s->lookups);
		if (s->lookups) {
			put_fill(t, 0x22, 32);
			put_sv(t, s->nwritable);
			for (i = 0; i < s->nwritable; i++)
				put_u8(t, (uint8_t)(1 - i % 2));
			put_sv(t, s->nreadonly);
			for (i = 0; i < s->nreadonly; i++)
				put_u8(t, (uint8_t)i);
		}
	}
	put_fill(t, 0xee, s->trailing);
}

static pv_err
parse_shape(const struct shape *s)
{
	struct pv_solana_tx p;
	struct tb t;

	build(&t, s);
	return pv_solana_tx_parse(t.d, t.n, &p);
}

/* Refused, and for the reason named in the detail. */
static void
expect_refused(const struct shape *s, const char *why)
{
	assert_int_equal(parse_shape(s), PV_ERR_BAD_INPUT);
	assert_non_null(strstr(pv_err_detail(), why));
}

static void
test_web3_legacy(void **state)
{
	uint8_t tx[PV_SOLANA_TX_MAX], key[32];
	struct pv_solana_tx p;
	struct tb t;
	size_t n, idx = 99;

	(void)state;
	n = unhex(web3_legacy_hex, tx, sizeof(tx));
	assert_int_equal(n, 215);
	build(&t, &legacy_transfer);
	assert_int_equal(t.n, n);
	assert_memory_equal(t.d, tx, n);

	assert_int_equal(pv_solana_tx_parse(tx, n, &p), PV_OK);
	assert_int_equal(p.version, PV_SOLANA_LEGACY);
	assert_int_equal(p.num_signatures, 1);
	assert_int_equal(p.sig_off, 1);
	assert_int_equal(p.message_off, 65);
	assert_int_equal(p.message_len, 150);
	assert_ptr_equal(p.message, tx + 65);
	assert_int_equal(p.num_required_signatures, 1);
	assert_int_equal(p.num_readonly_signed, 0);
	assert_int_equal(p.num_readonly_unsigned, 1);
	assert_int_equal(p.num_account_keys, 3);
	assert_ptr_equal(p.account_keys, tx + 69);
	assert_ptr_equal(p.blockhash, tx + 165);
	assert_int_equal(p.num_instructions, 1);
	assert_int_equal(p.num_lookups, 0);

	memset(key, 0x01, sizeof(key));
	assert_int_equal(pv_solana_tx_signer_index(&p, key, &idx), PV_OK);
	assert_int_equal(idx, 0);
	/* The recipient and the program are accounts, but not signers. */
	memset(key, 0x02, sizeof(key));
	assert_int_equal(pv_solana_tx_signer_index(&p, key, &idx), PV_ERR_NOT_FOUND);
	memset(key, 0x00, sizeof(key));
	assert_int_equal(pv_solana_tx_signer_index(&p, key, &idx), PV_ERR_NOT_FOUND);
	memset(key, 0x33, sizeof(key));
	assert_int_equal(pv_solana_tx_signer_index(&p, key, &idx), PV_ERR_NOT_FOUND);
}

static void
test_web3_v0(void **state)
{
	uint8_t tx[PV_SOLANA_TX_MAX];
	struct pv_solana_tx p;
	struct tb t;
	size_t n;

	(void)state;
	n = unhex(web3_v0_hex, tx, sizeof(tx));
	assert_int_equal(n, 220);
	build(&t, &v0_transfer);
	assert_int_equal(t.n, n);
	assert_memory_equal(t.d, tx, n);

	assert_int_equal(pv_solana_tx_parse(tx, n, &p), PV_OK);
	assert_int_equal(p.version, PV_SOLANA_V0);
	assert_int_equal(p.num_signatures, 1);
	assert_int_equal(p.message_off, 65);
	assert_int_equal(p.message_len, 155);
	assert_int_equal(tx[p.message_off], 0x80);
	assert_int_equal(p.num_required_signatures, 1);
	assert_int_equal(p.num_account_keys, 2);
	assert_ptr_equal(p.account_keys, tx + 70);
	assert_ptr_equal(p.blockhash, tx + 134);
	assert_int_equal(p.num_instructions, 1);
	assert_int_equal(p.num_lookups, 1);
	assert_int_equal(p.num_lookup_writable, 1);
	assert_int_equal(p.num_lookup_readonly, 0);
}

static void
test_put_signature(void **state)
{
	uint8_t tx[PV_SOLANA_TX_MAX], orig[PV_SOLANA_TX_MAX], sig[64], key[32];
	struct pv_solana_tx p, again;
	struct shape s = legacy_transfer;
	struct tb t;
	size_t idx = 0;

	(void)state;
	/* Two signers: payer 0x01 and 0x05 (read-only signer). */
	s.nsig = 2;
	s.hdr[0] = 2;
	s.hdr[1] = 1;
	s.nkeys = 4;
	s.keys[0] = 0x01;
	s.keys[1] = 0x05;
	s.keys[2] = 0x02;
	s.keys[3] = 0x00;
	s.program = 3;
	s.acct[1] = 2;
	build(&t, &s);
	memcpy(tx, t.d, t.n);
	memcpy(orig, t.d, t.n);
	assert_int_equal(pv_solana_tx_parse(tx, t.n, &p), PV_OK);
	assert_int_equal(p.sig_off, 1);
	assert_int_equal(p.message_off, 129);

	memset(key, 0x05, sizeof(key));
	assert_int_equal(pv_solana_tx_signer_index(&p, key, &idx), PV_OK);
	assert_int_equal(idx, 1);
	memset(sig, 0xab, sizeof(sig));
	assert_int_equal(pv_solana_tx_put_signature(tx, &p, idx, sig), PV_OK);
	assert_memory_equal(tx + 65, sig, 64);
	assert_memory_equal(tx, orig, 65);                    /* slot 0 untouched */
	assert_memory_equal(tx + 129, orig + 129, t.n - 129); /* message untouched */
	assert_int_equal(pv_solana_tx_parse(tx, t.n, &again), PV_OK);
	assert_int_equal(again.message_len, p.message_len);

	assert_int_equal(pv_solana_tx_put_signature(tx, &p, 2, sig), PV_ERR_USAGE);
}

static void
check_every_prefix_refused(const char *hex)
{
	uint8_t tx[PV_SOLANA_TX_MAX];
	struct pv_solana_tx p;
	size_t n, i;

	n = unhex(hex, tx, sizeof(tx));
	for (i = 0; i < n; i++) {
		assert_int_equal(pv_solana_tx_parse(tx, i, &p), PV_ERR_BAD_INPUT);
		assert_int_equal(p.num_signatures, 0);
	}
	assert_int_equal(pv_solana_tx_parse(tx, n, &p), PV_OK);
}

static void
test_truncated(void **state)
{
	(void)state;
	check_every_prefix_refused(web3_legacy_hex);
	check_every_prefix_refused(web3_v0_hex);
}

static void
test_trailing(void **state)
{
	struct shape s = legacy_transfer, v = v0_transfer;

	(void)state;
	s.trailing = 1;
	v.trailing = 1;
	expect_refused(&s, "1 trailing bytes");
	expect_refused(&v, "1 trailing bytes");
}

static void
test_shortvec(void **state)
{
	struct shape s = legacy_transfer;

	(void)state;
	/* 128 bytes of data: the two-byte form 80 01 is the canonical one. */
	s.datalen = 128;
	assert_int_equal(parse_shape(&s), PV_OK);
	s.datalen_raw = "8001";
	assert_int_equal(parse_shape(&s), PV_OK);
	/* 12 with a trailing zero continuation byte: non-canonical. */
	s.datalen = 12;
	s.datalen_raw = "8c00";
	expect_refused(&s, "non-canonical");
	s.datalen_raw = "8c8000";
	assert_int_equal(parse_shape(&s), PV_ERR_BAD_INPUT);
	/* Signature count 1 as 81 00; 0 as 80 00. */
	s = legacy_transfer;
	s.sig_count_raw = "8100";
	assert_int_equal(parse_shape(&s), PV_ERR_BAD_INPUT);
	s.sig_count_raw = "8000";
	s.nsig = 0;
	assert_int_equal(parse_shape(&s), PV_ERR_BAD_INPUT);
	/* Third byte above 0x03 (value over 0xffff), and a continuation bit on
	 * the third byte. */
	s.sig_count_raw = "808004";
	expect_refused(&s, "over 0xffff");
	s.sig_count_raw = "808081";
	expect_refused(&s, "over 0xffff");
	/* 0xffff is well-formed but far beyond the bytes left. */
	s.sig_count_raw = "ffff03";
	assert_int_equal(parse_shape(&s), PV_ERR_BAD_INPUT);
}

static void
test_index_range(void **state)
{
	struct shape s = legacy_transfer, v = v0_transfer;

	(void)state;
	s.program = 3; /* three keys: 0..2 */
	assert_int_equal(parse_shape(&s), PV_ERR_BAD_INPUT);
	s.program = 0; /* the fee payer is not a program */
	assert_int_equal(parse_shape(&s), PV_ERR_BAD_INPUT);
	s.program = 2;
	s.acct[1] = 3;
	assert_int_equal(parse_shape(&s), PV_ERR_BAD_INPUT);
	s.acct[1] = 2;
	assert_int_equal(parse_shape(&s), PV_OK);

	/* v0: two static keys plus one from the table, so 2 is in range ... */
	assert_int_equal(parse_shape(&v), PV_OK);
	v.acct[1] = 3;
	assert_int_equal(parse_shape(&v), PV_ERR_BAD_INPUT);
	/* ... and counted: one more table entry makes 3 valid. */
	v.nreadonly = 1;
	assert_int_equal(parse_shape(&v), PV_OK);
	/* A program cannot come from a lookup table. */
	v = v0_transfer;
	v.program = 2;
	assert_int_equal(parse_shape(&v), PV_ERR_BAD_INPUT);
	/* Without the lookup, index 2 is out of range. */
	v = v0_transfer;
	v.lookups = 0;
	v.nwritable = 0;
	assert_int_equal(parse_shape(&v), PV_ERR_BAD_INPUT);
	/* A lookup that loads nothing. */
	v = v0_transfer;
	v.nwritable = 0;
	v.acct[1] = 1;
	assert_int_equal(parse_shape(&v), PV_ERR_BAD_INPUT);
}

static void
test_header(void **state)
{
	struct shape s = legacy_transfer;

	(void)state;
	/* Signature count against num_required_signatures. */
	s.nsig = 2;
	expect_refused(&s, "2 signatures but the message requires 1");
	s.nsig = 0;
	assert_int_equal(parse_shape(&s), PV_ERR_BAD_INPUT);
	s.hdr[0] = 0; /* zero signers: no fee payer */
	expect_refused(&s, "no required signatures");

	s = legacy_transfer; /* more signers than keys */
	s.nsig = 4;
	s.hdr[0] = 4;
	s.hdr[2] = 0;
	assert_int_equal(parse_shape(&s), PV_ERR_BAD_INPUT);
	s = legacy_transfer; /* the only signer read-only */
	s.hdr[1] = 1;
	assert_int_equal(parse_shape(&s), PV_ERR_BAD_INPUT);
	s = legacy_transfer; /* read-only unsigned beyond the unsigned keys */
	s.hdr[2] = 3;
	assert_int_equal(parse_shape(&s), PV_ERR_BAD_INPUT);
	s.hdr[2] = 2;
	assert_int_equal(parse_shape(&s), PV_OK);
	s = legacy_transfer; /* the same key twice */
	s.keys[1] = 0x01;
	expect_refused(&s, "are the same");
	s = legacy_transfer; /* a duplicate further down, among non-signers */
	s.keys[2] = 0x02;
	s.program = 1;
	expect_refused(&s, "are the same");
}

static void
test_version(void **state)
{
	struct shape v = v0_transfer;

	(void)state;
	v.version = 0x81;
	expect_refused(&v, "unsupported message version 1");
	v.version = 0xff;
	assert_int_equal(parse_shape(&v), PV_ERR_BAD_INPUT);
}

static void
test_size_limit(void **state)
{
	struct shape s = legacy_transfer;
	struct pv_solana_tx p;
	struct tb t;

	(void)state;
	/* 215 bytes with 12 data bytes; 1017 more (one more length byte)
	 * reach the limit exactly. */
	s.datalen = 12 + 1016;
	build(&t, &s);
	assert_int_equal(t.n, PV_SOLANA_TX_MAX);
	assert_int_equal(pv_solana_tx_parse(t.d, t.n, &p), PV_OK);
	s.datalen++;
	build(&t, &s);
	assert_int_equal(t.n, PV_SOLANA_TX_MAX + 1);
	assert_int_equal(pv_solana_tx_parse(t.d, t.n, &p), PV_ERR_TOO_LARGE);
	assert_int_equal(pv_solana_tx_parse(t.d, sizeof(t.d), &p), PV_ERR_TOO_LARGE);
}

/* pv_solana_tx_prefix on bytes of a test: which kind, and how long. */
static void
expect_prefix(const uint8_t *buf, size_t len, pv_solana_prefix kind, size_t used)
{
	size_t got = 99;

	assert_int_equal(pv_solana_tx_prefix(buf, len, &got), kind);
	assert_int_equal(got, used);
}

/*
 * What sign-message must refuse: a transaction message or a whole
 * transaction at the start of the bytes, whatever follows it — one
 * trailing byte, a kilobyte, another message — and nothing that is only
 * the start of one (truncated anywhere, the header of a message whose keys
 * are missing).
 */
static void
test_prefix(void **state)
{
	static const char *const vectors[] = {web3_legacy_hex, web3_v0_hex};
	uint8_t tx[PV_SOLANA_TX_MAX], ext[4096];
	struct pv_solana_tx p;
	size_t n, i, k, mlen;

	(void)state;
	for (k = 0; k < PV_NELEM(vectors); k++) {
		n = unhex(vectors[k], tx, sizeof(tx));
		assert_int_equal(pv_solana_tx_parse(tx, n, &p), PV_OK);
		mlen = p.message_len;
		expect_prefix(p.message, mlen, PV_SOLANA_PREFIX_MESSAGE, mlen);
		expect_prefix(tx, n, PV_SOLANA_PREFIX_TRANSACTION, n);
		for (i = 0; i < mlen; i++)
			expect_prefix(p.message, i, PV_SOLANA_PREFIX_NONE, 0);
		for (i = 0; i < n; i++)
			expect_prefix(tx, i, PV_SOLANA_PREFIX_NONE, 0);
		/* followed by 1 byte, by 3000 bytes, by the message again */
		memset(ext, 0xa5, sizeof(ext));
		memcpy(ext, p.message, mlen);
		expect_prefix(ext, mlen + 1, PV_SOLANA_PREFIX_MESSAGE, mlen);
		expect_prefix(ext, mlen + 3000, PV_SOLANA_PREFIX_MESSAGE, mlen);
		memcpy(ext + mlen, p.message, mlen);
		expect_prefix(ext, 2 * mlen, PV_SOLANA_PREFIX_MESSAGE, mlen);
		memcpy(ext, tx, n);
		expect_prefix(ext, n + 1, PV_SOLANA_PREFIX_TRANSACTION, n);
		expect_prefix(ext, n + 3000, PV_SOLANA_PREFIX_TRANSACTION, n);
	}

	/* A legacy message after a 0x80 prefix byte, with one byte after it
	 * (read as the lookup count 0) is a v0 message. */
	n = unhex(web3_legacy_hex, tx, sizeof(tx));
	ext[0] = 0x80;
	memcpy(ext + 1, tx + 65, n - 65);
	expect_prefix(ext, 1 + n - 65, PV_SOLANA_PREFIX_NONE, 0);
	ext[1 + n - 65] = 0x00;
	expect_prefix(ext, 1 + n - 65 + 1, PV_SOLANA_PREFIX_MESSAGE, 1 + n - 65 + 1);
	ext[1 + n - 65 + 1] = 0x42;
	expect_prefix(ext, 1 + n - 65 + 2, PV_SOLANA_PREFIX_MESSAGE, 1 + n - 65 + 1);
	/* versions 1..127 are no message, whatever follows */
	ext[0] = 0x81;
	expect_prefix(ext, 1 + n - 65 + 2, PV_SOLANA_PREFIX_NONE, 0);

	/* header: 4 required signers but 3 keys; text; nothing */
	tx[65] = 4;
	expect_prefix(tx + 65, n - 65, PV_SOLANA_PREFIX_NONE, 0);
	expect_prefix((const uint8_t *)"hello", 5, PV_SOLANA_PREFIX_NONE, 0);
	expect_prefix((const uint8_t *)"Sign in to example.com", 22, PV_SOLANA_PREFIX_NONE, 0);
	expect_prefix(NULL, 0, PV_SOLANA_PREFIX_NONE, 0);
	expect_prefix(ext, 0, PV_SOLANA_PREFIX_NONE, 0);
}

/* The prefix rules are wider than sign-transaction's: what strict parsing
 * refuses but a runtime could take is still caught. */
static void
test_prefix_lax(void **state)
{
	struct shape s = legacy_transfer;
	struct pv_solana_tx p;
	struct tb t;

	(void)state;
	/* non-canonical compact-u16 (12 as 8c 00) */
	s.datalen_raw = "8c00";
	build(&t, &s);
	assert_int_equal(pv_solana_tx_parse(t.d, t.n, &p), PV_ERR_BAD_INPUT);
	expect_prefix(t.d, t.n, PV_SOLANA_PREFIX_TRANSACTION, t.n);
	expect_prefix(t.d + 65, t.n - 65, PV_SOLANA_PREFIX_MESSAGE, t.n - 65);
	/* the same key twice */
	s = legacy_transfer;
	s.keys[1] = 0x01;
	build(&t, &s);
	assert_int_equal(pv_solana_tx_parse(t.d, t.n, &p), PV_ERR_BAD_INPUT);
	expect_prefix(t.d + 65, t.n - 65, PV_SOLANA_PREFIX_MESSAGE, t.n - 65);
	/* two signature slots for one required signer */
	s = legacy_transfer;
	s.nsig = 2;
	build(&t, &s);
	assert_int_equal(pv_solana_tx_parse(t.d, t.n, &p), PV_ERR_BAD_INPUT);
	expect_prefix(t.d, t.n, PV_SOLANA_PREFIX_TRANSACTION, t.n);
	/* over the packet limit */
	s = legacy_transfer;
	s.datalen = 1500;
	s.trailing = 7;
	build(&t, &s);
	assert_int_equal(pv_solana_tx_parse(t.d, t.n, &p), PV_ERR_TOO_LARGE);
	expect_prefix(t.d, t.n, PV_SOLANA_PREFIX_TRANSACTION, t.n - 7);
	expect_prefix(t.d + 65, t.n - 65, PV_SOLANA_PREFIX_MESSAGE, t.n - 65 - 7);
	/* but not what no runtime takes: a program index out of range */
	s = legacy_transfer;
	s.program = 3;
	build(&t, &s);
	expect_prefix(t.d, t.n, PV_SOLANA_PREFIX_NONE, 0);
	expect_prefix(t.d + 65, t.n - 65, PV_SOLANA_PREFIX_NONE, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_web3_legacy),   cmocka_unit_test(test_web3_v0),
	    cmocka_unit_test(test_put_signature), cmocka_unit_test(test_truncated),
	    cmocka_unit_test(test_trailing),      cmocka_unit_test(test_shortvec),
	    cmocka_unit_test(test_index_range),   cmocka_unit_test(test_header),
	    cmocka_unit_test(test_version),       cmocka_unit_test(test_size_limit),
	    cmocka_unit_test(test_prefix),        cmocka_unit_test(test_prefix_lax),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
