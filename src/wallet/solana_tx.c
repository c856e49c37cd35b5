#include "config.h"

#include <string.h>

#include "base/buf.h"
#include "wallet/solana_tx.h"

/* Every account index is a u8, so no message can address more. */
#define ACCOUNTS_MAX 256

/*
 * The reader and its rules. Strict: what sign-transaction accepts. Lax:
 * what sign-message refuses as transaction-like (pv_solana_tx_prefix), a
 * superset of strict — non-canonical compact-u16, repeated account keys and
 * a signature count other than the header's are let through, because
 * refusing too much costs a caller a message, while refusing too little
 * could hand out a signature a runtime accepts on a transaction.
 */
struct rd {
	pv_buf *b;
	int lax;
};

/* Short reads all mean the same thing here: the bytes ran out. */
static pv_err
take(struct rd *r, size_t len, const uint8_t **p, const char *what)
{
	if (pv_buf_len(r->b) < len || pv_buf_get_ref(r->b, len, p) != PV_OK) {
		pv_err_set_detail("solana tx: truncated in %s", what);
		return PV_ERR_BAD_INPUT;
	}
	return PV_OK;
}

static pv_err
take_u8(struct rd *rd, uint8_t *v, const char *what)
{
	const uint8_t *p = NULL;
	pv_err r;

	if ((r = take(rd, 1, &p, what)) != PV_OK)
		return r;
	*v = *p;
	return PV_OK;
}

/*
 * compact-u16 ("shortvec"): 7 bits per byte, least significant first, top
 * bit = more follows, at most 3 bytes. Strict rules accept only the
 * shortest encoding, so one value has one encoding (the signed bytes are
 * unambiguous).
 */
static pv_err
take_shortvec(struct rd *rd, size_t *v, const char *what)
{
	uint8_t c = 0;
	size_t val = 0;
	unsigned i;
	pv_err r;

	for (i = 0; i < 3; i++) {
		if ((r = take_u8(rd, &c, what)) != PV_OK)
			return r;
		if (i == 2 && c > 0x03) {
			pv_err_set_detail("solana tx: compact-u16 %s over 0xffff", what);
			return PV_ERR_BAD_INPUT;
		}
		if (i > 0 && c == 0 && !rd->lax) {
			pv_err_set_detail("solana tx: non-canonical compact-u16 %s", what);
			return PV_ERR_BAD_INPUT;
		}
		val |= (size_t)(c & 0x7f) << (7 * i);
		if ((c & 0x80) == 0)
			break;
	}
	*v = val;
	return PV_OK;
}

/* A shortvec count of fixed-size items, checked against what is left before
 * anyone multiplies or loops over it. */
static pv_err
take_array(struct rd *rd, size_t item, size_t *count, const uint8_t **items, const char *what)
{
	pv_err r;

	if ((r = take_shortvec(rd, count, what)) != PV_OK)
		return r;
	if (*count > pv_buf_len(rd->b) / item) {
		pv_err_set_detail("solana tx: %s count %zu exceeds the remaining bytes", what, *count);
		return PV_ERR_BAD_INPUT;
	}
	return take(rd, *count * item, items, what);
}

static pv_err
parse_header(struct rd *rd, struct pv_solana_tx *t)
{
	uint8_t first = 0;
	pv_err r;

	if ((r = take_u8(rd, &first, "message header")) != PV_OK)
		return r;
	if (first & 0x80) {
		if ((first & 0x7f) != 0) {
			pv_err_set_detail("solana tx: unsupported message version %u", first & 0x7f);
			return PV_ERR_BAD_INPUT;
		}
		t->version = PV_SOLANA_V0;
		if ((r = take_u8(rd, &first, "message header")) != PV_OK)
			return r;
	}
	t->num_required_signatures = first;
	if ((r = take_u8(rd, &t->num_readonly_signed, "message header")) != PV_OK ||
	    (r = take_u8(rd, &t->num_readonly_unsigned, "message header")) != PV_OK)
		return r;
	return PV_OK;
}

/* Header against the static keys (the rules Solana's message sanitizer
 * applies): the fee payer, key 0, is a writable signer. */
static pv_err
check_keys(const struct rd *rd, const struct pv_solana_tx *t, int with_signatures)
{
	size_t i, j;

	if (t->num_required_signatures == 0) {
		pv_err_set_detail("solana tx: no required signatures (no fee payer)");
		return PV_ERR_BAD_INPUT;
	}
	if (t->num_required_signatures > t->num_account_keys ||
	    t->num_readonly_unsigned > t->num_account_keys - t->num_required_signatures) {
		pv_err_set_detail("solana tx: header counts exceed the %zu account keys",
				  t->num_account_keys);
		return PV_ERR_BAD_INPUT;
	}
	if (t->num_readonly_signed >= t->num_required_signatures) {
		pv_err_set_detail("solana tx: every signer is read-only (the fee payer must be writable)");
		return PV_ERR_BAD_INPUT;
	}
	if (rd->lax)
		return PV_OK;
	if (with_signatures && t->num_signatures != t->num_required_signatures) {
		pv_err_set_detail("solana tx: %zu signatures but the message requires %u", t->num_signatures,
				  t->num_required_signatures);
		return PV_ERR_BAD_INPUT;
	}
	/* A repeated key would make "this signer's slot" ambiguous; Solana
	 * refuses such transactions too. */
	for (i = 0; i < t->num_account_keys; i++)
		for (j = i + 1; j < t->num_account_keys; j++)
			if (memcmp(t->account_keys + i * PV_SOLANA_KEY_LEN,
				   t->account_keys + j * PV_SOLANA_KEY_LEN,
				   PV_SOLANA_KEY_LEN) == 0) { /* public: addresses */
				pv_err_set_detail("solana tx: account keys %zu and %zu are the same", i, j);
				return PV_ERR_BAD_INPUT;
			}
	return PV_OK;
}

/*
 * The largest account index the instructions use, and the first
 * instruction using it: checked once the accounts loaded from lookup tables
 * are counted (they come after the instructions). Program indices are
 * checked as they are read.
 */
struct ix_accounts {
	size_t max_index;
	size_t first_ix;
	int any;
};

static pv_err
parse_instruction(struct rd *rd, size_t n, size_t num_static, struct ix_accounts *acc)
{
	const uint8_t *accounts = NULL, *data = NULL;
	size_t num_accounts = 0, datalen = 0, k;
	uint8_t program = 0;
	pv_err r;

	if ((r = take_u8(rd, &program, "instruction")) != PV_OK)
		return r;
	/* Programs must be static keys (not loaded from a table) and never the
	 * fee payer. */
	if (program == 0 || program >= num_static) {
		pv_err_set_detail("solana tx: instruction %zu program index %u out of range", n, program);
		return PV_ERR_BAD_INPUT;
	}
	if ((r = take_array(rd, 1, &num_accounts, &accounts, "instruction accounts")) != PV_OK ||
	    (r = take_array(rd, 1, &datalen, &data, "instruction data")) != PV_OK)
		return r;
	for (k = 0; k < num_accounts; k++)
		if (!acc->any || accounts[k] > acc->max_index) {
			acc->max_index = accounts[k];
			acc->first_ix = n;
			acc->any = 1;
		}
	return PV_OK;
}

static pv_err
parse_lookups(struct rd *rd, struct pv_solana_tx *t)
{
	const uint8_t *p = NULL;
	size_t i, nw = 0, nr = 0;
	pv_err r;

	if ((r = take_shortvec(rd, &t->num_lookups, "address table lookups")) != PV_OK)
		return r;
	for (i = 0; i < t->num_lookups; i++) {
		if ((r = take(rd, PV_SOLANA_KEY_LEN, &p, "address table key")) != PV_OK ||
		    (r = take_array(rd, 1, &nw, &p, "writable indexes")) != PV_OK ||
		    (r = take_array(rd, 1, &nr, &p, "readonly indexes")) != PV_OK)
			return r;
		if (nw + nr == 0) {
			pv_err_set_detail("solana tx: address table lookup %zu loads no accounts", i);
			return PV_ERR_BAD_INPUT;
		}
		/* Each count is below the bytes read (at most PV_BUF_SIZE_MAX),
		 * so these sums cannot overflow. */
		t->num_lookup_writable += nw;
		t->num_lookup_readonly += nr;
	}
	return PV_OK;
}

/*
 * The message at the reader's position; t->message_len is set to the bytes
 * it took (what follows is the caller's business). With with_signatures,
 * t->num_signatures was read before it and must match the header.
 */
static pv_err
parse_message(struct rd *rd, struct pv_solana_tx *t, int with_signatures)
{
	struct ix_accounts acc;
	size_t start = pv_buf_len(rd->b), i, num_total;
	pv_err r;

	memset(&acc, 0, sizeof(acc));
	t->message = pv_buf_ptr(rd->b);
	if ((r = parse_header(rd, t)) != PV_OK ||
	    (r = take_array(rd, PV_SOLANA_KEY_LEN, &t->num_account_keys, &t->account_keys, "account keys")) !=
		PV_OK ||
	    (r = take(rd, PV_SOLANA_KEY_LEN, &t->blockhash, "recent blockhash")) != PV_OK)
		return r;
	if ((r = check_keys(rd, t, with_signatures)) != PV_OK)
		return r;

	/* Each instruction takes at least 3 bytes, which bounds the list. */
	if ((r = take_shortvec(rd, &t->num_instructions, "instructions")) != PV_OK)
		return r;
	if (t->num_instructions > pv_buf_len(rd->b) / 3) {
		pv_err_set_detail("solana tx: instruction count %zu exceeds the remaining bytes",
				  t->num_instructions);
		return PV_ERR_BAD_INPUT;
	}
	for (i = 0; i < t->num_instructions; i++)
		if ((r = parse_instruction(rd, i, t->num_account_keys, &acc)) != PV_OK)
			return r;

	if (t->version == PV_SOLANA_V0 && (r = parse_lookups(rd, t)) != PV_OK)
		return r;
	num_total = t->num_account_keys + t->num_lookup_writable + t->num_lookup_readonly;
	if (num_total > ACCOUNTS_MAX) {
		pv_err_set_detail("solana tx: %zu accounts, over %d", num_total, ACCOUNTS_MAX);
		return PV_ERR_BAD_INPUT;
	}
	if (acc.any && acc.max_index >= num_total) {
		pv_err_set_detail("solana tx: instruction %zu account index %zu out of range (%zu accounts)",
				  acc.first_ix, acc.max_index, num_total);
		return PV_ERR_BAD_INPUT;
	}
	t->message_len = start - pv_buf_len(rd->b);
	return PV_OK;
}

/* A whole transaction at the reader's position: the signature list, then
 * the message. */
static pv_err
parse_tx(struct rd *rd, const uint8_t *base, struct pv_solana_tx *t)
{
	const uint8_t *p = NULL;
	pv_err r;

	if ((r = take_array(rd, PV_SOLANA_SIG_LEN, &t->num_signatures, &p, "signatures")) != PV_OK)
		return r;
	t->sig_off = (size_t)(p - base);
	t->message_off = (size_t)(pv_buf_ptr(rd->b) - base);
	return parse_message(rd, t, 1);
}

pv_err
pv_solana_tx_parse(const uint8_t *tx, size_t len, struct pv_solana_tx *out)
{
	struct pv_solana_tx t;
	struct rd rd;
	pv_err r;

	memset(out, 0, sizeof(*out));
	memset(&t, 0, sizeof(t));
	memset(&rd, 0, sizeof(rd));
	if (tx == NULL && len != 0)
		return PV_ERR_USAGE;
	if (len > PV_SOLANA_TX_MAX) {
		pv_err_set_detail("solana tx: %zu bytes, over the %d-byte packet limit", len,
				  PV_SOLANA_TX_MAX);
		return PV_ERR_TOO_LARGE;
	}
	if ((r = pv_buf_view(tx, len, &rd.b)) != PV_OK || (r = parse_tx(&rd, tx, &t)) != PV_OK)
		goto out;
	if (pv_buf_len(rd.b) != 0) {
		pv_err_set_detail("solana tx: %zu trailing bytes", pv_buf_len(rd.b));
		r = PV_ERR_BAD_INPUT;
		goto out;
	}
	*out = t;
out:
	pv_buf_free(rd.b);
	return r;
}

/* One lax parse at the start of buf: a bare message, or a transaction. */
static int
lax_prefix(const uint8_t *buf, size_t len, int whole_tx, size_t *used)
{
	struct pv_solana_tx t;
	struct rd rd;
	int found = 0;

	memset(&t, 0, sizeof(t));
	rd.lax = 1;
	rd.b = NULL;
	if (pv_buf_view(buf, len, &rd.b) != PV_OK)
		return 0;
	if ((whole_tx ? parse_tx(&rd, buf, &t) : parse_message(&rd, &t, 0)) == PV_OK) {
		*used = len - pv_buf_len(rd.b);
		found = 1;
	}
	pv_buf_free(rd.b);
	return found;
}

pv_solana_prefix
pv_solana_tx_prefix(const uint8_t *buf, size_t len, size_t *used)
{
	*used = 0;
	if (buf == NULL || len == 0)
		return PV_SOLANA_PREFIX_NONE;
	if (lax_prefix(buf, len, 0, used))
		return PV_SOLANA_PREFIX_MESSAGE;
	if (lax_prefix(buf, len, 1, used))
		return PV_SOLANA_PREFIX_TRANSACTION;
	return PV_SOLANA_PREFIX_NONE;
}

pv_err
pv_solana_tx_signer_index(const struct pv_solana_tx *tx, const uint8_t pubkey[PV_SOLANA_KEY_LEN],
			  size_t *index)
{
	size_t i;

	for (i = 0; i < tx->num_required_signatures && i < tx->num_account_keys; i++)
		/* public: addresses */
		if (memcmp(tx->account_keys + i * PV_SOLANA_KEY_LEN, pubkey, PV_SOLANA_KEY_LEN) == 0) {
			*index = i;
			return PV_OK;
		}
	pv_err_set_detail("solana tx: the key is not a required signer");
	return PV_ERR_NOT_FOUND;
}

pv_err
pv_solana_tx_put_signature(uint8_t *tx, const struct pv_solana_tx *p, size_t index,
			   const uint8_t sig[PV_SOLANA_SIG_LEN])
{
	if (tx == NULL || index >= p->num_signatures)
		return PV_ERR_USAGE;
	memcpy(tx + p->sig_off + index * PV_SOLANA_SIG_LEN, sig, PV_SOLANA_SIG_LEN);
	return PV_OK;
}
