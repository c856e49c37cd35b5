#include "config.h"

#include <string.h>

#include "base/buf.h"
#include "wallet/solana_tx.h"

/* Every account index is a u8, so no message can address more. */
#define ACCOUNTS_MAX 256

/* Short reads all mean the same thing here: the bytes ran out. */
static pv_err
take(pv_buf *b, size_t len, const uint8_t **p, const char *what)
{
	if (pv_buf_len(b) < len || pv_buf_get_ref(b, len, p) != PV_OK) {
		pv_err_set_detail("solana tx: truncated in %s", what);
		return PV_ERR_BAD_INPUT;
	}
	return PV_OK;
}

static pv_err
take_u8(pv_buf *b, uint8_t *v, const char *what)
{
	const uint8_t *p = NULL;
	pv_err r;

	if ((r = take(b, 1, &p, what)) != PV_OK)
		return r;
	*v = *p;
	return PV_OK;
}

/*
 * compact-u16 ("shortvec"): 7 bits per byte, least significant first, top
 * bit = more follows, at most 3 bytes. Only the shortest encoding is
 * accepted, so one value has one encoding (the signed bytes are unambiguous).
 */
static pv_err
take_shortvec(pv_buf *b, size_t *v, const char *what)
{
	uint8_t c = 0;
	size_t val = 0;
	unsigned i;
	pv_err r;

	for (i = 0; i < 3; i++) {
		if ((r = take_u8(b, &c, what)) != PV_OK)
			return r;
		if (i == 2 && c > 0x03) {
			pv_err_set_detail("solana tx: compact-u16 %s over 0xffff", what);
			return PV_ERR_BAD_INPUT;
		}
		if (i > 0 && c == 0) {
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
take_array(pv_buf *b, size_t item, size_t *count, const uint8_t **items, const char *what)
{
	pv_err r;

	if ((r = take_shortvec(b, count, what)) != PV_OK)
		return r;
	if (*count > pv_buf_len(b) / item) {
		pv_err_set_detail("solana tx: %s count %zu exceeds the remaining bytes", what, *count);
		return PV_ERR_BAD_INPUT;
	}
	return take(b, *count * item, items, what);
}

static pv_err
parse_header(pv_buf *b, struct pv_solana_tx *t)
{
	uint8_t first = 0;
	pv_err r;

	if ((r = take_u8(b, &first, "message header")) != PV_OK)
		return r;
	if (first & 0x80) {
		if ((first & 0x7f) != 0) {
			pv_err_set_detail("solana tx: unsupported message version %u", first & 0x7f);
			return PV_ERR_BAD_INPUT;
		}
		t->version = PV_SOLANA_V0;
		if ((r = take_u8(b, &first, "message header")) != PV_OK)
			return r;
	}
	t->num_required_signatures = first;
	if ((r = take_u8(b, &t->num_readonly_signed, "message header")) != PV_OK ||
	    (r = take_u8(b, &t->num_readonly_unsigned, "message header")) != PV_OK)
		return r;
	return PV_OK;
}

/* Header against the static keys (the rules Solana's message sanitizer
 * applies): the fee payer, key 0, is a writable signer. */
static pv_err
check_keys(const struct pv_solana_tx *t, int with_signatures)
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
				   t->account_keys + j * PV_SOLANA_KEY_LEN, PV_SOLANA_KEY_LEN) == 0) {
				pv_err_set_detail("solana tx: account keys %zu and %zu are the same", i, j);
				return PV_ERR_BAD_INPUT;
			}
	return PV_OK;
}

/* One entry of the instruction list; indices are checked later, when the
 * number of accounts loaded from lookup tables is known. */
struct ix_ref {
	uint8_t program;
	const uint8_t *accounts;
	size_t num_accounts;
};

static pv_err
check_instruction(const struct ix_ref *ix, size_t n, size_t num_static, size_t num_total)
{
	size_t k;

	/* Programs must be static keys (not loaded from a table) and never the
	 * fee payer. */
	if (ix->program == 0 || ix->program >= num_static) {
		pv_err_set_detail("solana tx: instruction %zu program index %u out of range", n, ix->program);
		return PV_ERR_BAD_INPUT;
	}
	for (k = 0; k < ix->num_accounts; k++)
		if (ix->accounts[k] >= num_total) {
			pv_err_set_detail(
			    "solana tx: instruction %zu account index %u out of range (%zu accounts)", n,
			    ix->accounts[k], num_total);
			return PV_ERR_BAD_INPUT;
		}
	return PV_OK;
}

static pv_err
parse_instruction(pv_buf *b, struct ix_ref *ix)
{
	const uint8_t *data = NULL;
	size_t datalen = 0;
	pv_err r;

	if ((r = take_u8(b, &ix->program, "instruction")) != PV_OK ||
	    (r = take_array(b, 1, &ix->num_accounts, &ix->accounts, "instruction accounts")) != PV_OK ||
	    (r = take_array(b, 1, &datalen, &data, "instruction data")) != PV_OK)
		return r;
	return PV_OK;
}

static pv_err
parse_lookups(pv_buf *b, struct pv_solana_tx *t)
{
	const uint8_t *p = NULL;
	size_t i, nw = 0, nr = 0;
	pv_err r;

	if ((r = take_shortvec(b, &t->num_lookups, "address table lookups")) != PV_OK)
		return r;
	for (i = 0; i < t->num_lookups; i++) {
		if ((r = take(b, PV_SOLANA_KEY_LEN, &p, "address table key")) != PV_OK ||
		    (r = take_array(b, 1, &nw, &p, "writable indexes")) != PV_OK ||
		    (r = take_array(b, 1, &nr, &p, "readonly indexes")) != PV_OK)
			return r;
		if (nw + nr == 0) {
			pv_err_set_detail("solana tx: address table lookup %zu loads no accounts", i);
			return PV_ERR_BAD_INPUT;
		}
		/* The packet limit keeps these sums far from overflow. */
		t->num_lookup_writable += nw;
		t->num_lookup_readonly += nr;
	}
	return PV_OK;
}

/*
 * The message: from b's position to its end (nothing may follow). With
 * with_signatures, t->num_signatures was read before it and must match the
 * header.
 */
static pv_err
parse_message(pv_buf *b, struct pv_solana_tx *t, int with_signatures)
{
	/* Each instruction takes at least 3 bytes, which bounds the list. */
	struct ix_ref ixs[PV_SOLANA_TX_MAX / 3];
	size_t i, num_total;
	pv_err r;

	if ((r = parse_header(b, t)) != PV_OK ||
	    (r = take_array(b, PV_SOLANA_KEY_LEN, &t->num_account_keys, &t->account_keys, "account keys")) !=
		PV_OK ||
	    (r = take(b, PV_SOLANA_KEY_LEN, &t->blockhash, "recent blockhash")) != PV_OK)
		return r;
	if ((r = check_keys(t, with_signatures)) != PV_OK)
		return r;

	if ((r = take_shortvec(b, &t->num_instructions, "instructions")) != PV_OK)
		return r;
	if (t->num_instructions > pv_buf_len(b) / 3) {
		pv_err_set_detail("solana tx: instruction count %zu exceeds the remaining bytes",
				  t->num_instructions);
		return PV_ERR_BAD_INPUT;
	}
	for (i = 0; i < t->num_instructions; i++)
		if ((r = parse_instruction(b, &ixs[i])) != PV_OK)
			return r;

	if (t->version == PV_SOLANA_V0 && (r = parse_lookups(b, t)) != PV_OK)
		return r;
	if (pv_buf_len(b) != 0) {
		pv_err_set_detail("solana tx: %zu trailing bytes", pv_buf_len(b));
		return PV_ERR_BAD_INPUT;
	}

	num_total = t->num_account_keys + t->num_lookup_writable + t->num_lookup_readonly;
	if (num_total > ACCOUNTS_MAX) {
		pv_err_set_detail("solana tx: %zu accounts, over %d", num_total, ACCOUNTS_MAX);
		return PV_ERR_BAD_INPUT;
	}
	for (i = 0; i < t->num_instructions; i++)
		if ((r = check_instruction(&ixs[i], i, t->num_account_keys, num_total)) != PV_OK)
			return r;
	return PV_OK;
}

static pv_err
check_size(const uint8_t *p, size_t len)
{
	if (p == NULL && len != 0)
		return PV_ERR_USAGE;
	if (len > PV_SOLANA_TX_MAX) {
		pv_err_set_detail("solana tx: %zu bytes, over the %d-byte packet limit", len,
				  PV_SOLANA_TX_MAX);
		return PV_ERR_TOO_LARGE;
	}
	return PV_OK;
}

pv_err
pv_solana_tx_parse(const uint8_t *tx, size_t len, struct pv_solana_tx *out)
{
	struct pv_solana_tx t;
	pv_buf *b = NULL;
	const uint8_t *p = NULL;
	pv_err r;

	memset(out, 0, sizeof(*out));
	memset(&t, 0, sizeof(t));
	if ((r = check_size(tx, len)) != PV_OK || (r = pv_buf_view(tx, len, &b)) != PV_OK)
		goto out;
	if ((r = take_array(b, PV_SOLANA_SIG_LEN, &t.num_signatures, &p, "signatures")) != PV_OK)
		goto out;
	t.sig_off = (size_t)(p - tx);
	t.message = pv_buf_ptr(b);
	t.message_off = (size_t)(t.message - tx);
	t.message_len = pv_buf_len(b);
	if ((r = parse_message(b, &t, 1)) != PV_OK)
		goto out;
	*out = t;
out:
	pv_buf_free(b);
	return r;
}

pv_err
pv_solana_message_parse(const uint8_t *msg, size_t len, struct pv_solana_tx *out)
{
	struct pv_solana_tx t;
	pv_buf *b = NULL;
	pv_err r;

	memset(out, 0, sizeof(*out));
	memset(&t, 0, sizeof(t));
	if ((r = check_size(msg, len)) != PV_OK || (r = pv_buf_view(msg, len, &b)) != PV_OK)
		goto out;
	t.message = msg;
	t.message_len = len;
	if ((r = parse_message(b, &t, 0)) != PV_OK)
		goto out;
	*out = t;
out:
	pv_buf_free(b);
	return r;
}

pv_err
pv_solana_tx_signer_index(const struct pv_solana_tx *tx, const uint8_t pubkey[PV_SOLANA_KEY_LEN],
			  size_t *index)
{
	size_t i;

	for (i = 0; i < tx->num_required_signatures && i < tx->num_account_keys; i++)
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
