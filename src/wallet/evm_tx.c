#include "config.h"

#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>

#include "core/keccak.h"
#include "wallet/evm_tx.h"
#include "wallet/rlp.h"

/* Field counts of the unsigned forms, and of the same forms signed. */
#define LEGACY_FIELDS 9
#define LEGACY_PRE155 6
#define T1_FIELDS     8
#define T2_FIELDS     9
#define SIGNED_EXTRA  3

/* The typed-transaction byte range of EIP-2718; 0xc0.. starts a legacy list. */
#define TYPED_MAX 0x7f

#define STORAGE_KEY_LEN 32

static pv_err
bad(const char *what)
{
	pv_err_set_detail("evm tx: %s", what);
	return PV_ERR_BAD_INPUT;
}

/* The next list item; the list's length was counted already, so running
 * out means a bug, not bad input. */
static pv_err
next_field(pv_rlp_reader *rd, pv_rlp_item *it)
{
	if (pv_rlp_next(rd, it) != PV_OK) {
		pv_err_set_detail("evm tx: field list shorter than counted");
		return PV_ERR_INTERNAL;
	}
	return PV_OK;
}

/* A canonical integer field; any failure is bad input naming the field. */
static pv_err
get_u64(pv_rlp_reader *rd, const char *name, uint64_t *v)
{
	pv_rlp_item it;
	pv_err r;

	if ((r = next_field(rd, &it)) != PV_OK)
		return r;
	if (it.kind != PV_RLP_STRING) {
		pv_err_set_detail("evm tx: field '%s' is a list, expected an integer", name);
		return PV_ERR_BAD_INPUT;
	}
	if (it.len > 0 && it.payload[0] == 0) {
		pv_err_set_detail("evm tx: field '%s' has a leading zero byte", name);
		return PV_ERR_BAD_INPUT;
	}
	if (it.len > sizeof(*v)) {
		pv_err_set_detail("evm tx: field '%s' does not fit 64 bits", name);
		return PV_ERR_BAD_INPUT;
	}
	if (pv_rlp_get_uint64(&it, v) != PV_OK) {
		pv_err_set_detail("evm tx: field '%s' is not a canonical integer", name);
		return PV_ERR_BAD_INPUT;
	}
	return PV_OK;
}

static pv_err
get_u256(pv_rlp_reader *rd, const char *name, uint8_t be[32])
{
	pv_rlp_item it;
	pv_err r;

	if ((r = next_field(rd, &it)) != PV_OK)
		return r;
	if (it.kind != PV_RLP_STRING) {
		pv_err_set_detail("evm tx: field '%s' is a list, expected an integer", name);
		return PV_ERR_BAD_INPUT;
	}
	if (it.len > 0 && it.payload[0] == 0) {
		pv_err_set_detail("evm tx: field '%s' has a leading zero byte", name);
		return PV_ERR_BAD_INPUT;
	}
	if (it.len > 32) {
		pv_err_set_detail("evm tx: field '%s' does not fit 256 bits", name);
		return PV_ERR_BAD_INPUT;
	}
	if (pv_rlp_get_uint256(&it, be) != PV_OK) {
		pv_err_set_detail("evm tx: field '%s' is not a canonical integer", name);
		return PV_ERR_BAD_INPUT;
	}
	return PV_OK;
}

static pv_err
get_chain_id(pv_rlp_reader *rd, uint64_t *chain_id)
{
	pv_err r;

	if ((r = get_u64(rd, "chain id", chain_id)) != PV_OK)
		return r;
	if (*chain_id == 0)
		return bad("chain id is 0");
	if (*chain_id > PV_EVM_CHAIN_ID_MAX)
		return bad("chain id is too large (v would not fit 64 bits)");
	return PV_OK;
}

static pv_err
get_to(pv_rlp_reader *rd, struct pv_evm_tx *tx)
{
	pv_rlp_item it;
	pv_err r;

	if ((r = next_field(rd, &it)) != PV_OK)
		return r;
	if (it.kind != PV_RLP_STRING)
		return bad("field 'to' is a list");
	if (it.len == 0)
		return PV_OK; /* contract creation */
	if (it.len != PV_EVM_ADDR_LEN) {
		pv_err_set_detail("evm tx: field 'to' is %zu bytes, expected 0 or %d", it.len,
				  PV_EVM_ADDR_LEN);
		return PV_ERR_BAD_INPUT;
	}
	tx->has_to = 1;
	memcpy(tx->to, it.payload, PV_EVM_ADDR_LEN);
	return PV_OK;
}

static pv_err
get_data(pv_rlp_reader *rd, struct pv_evm_tx *tx)
{
	pv_rlp_item it;
	pv_err r;

	if ((r = next_field(rd, &it)) != PV_OK)
		return r;
	if (it.kind != PV_RLP_STRING)
		return bad("field 'data' is a list");
	tx->data = it.payload;
	tx->data_len = it.len;
	return PV_OK;
}

/* One access list entry: [address (20 bytes), [storage key (32 bytes), ...]]. */
static pv_err
check_access_entry(const pv_rlp_item *entry, size_t index)
{
	pv_rlp_reader rd, keys;
	pv_rlp_item addr, list, key;

	if (entry->kind != PV_RLP_LIST || pv_rlp_enter(entry, &rd) != PV_OK) {
		pv_err_set_detail("evm tx: access list entry %zu is not a list", index);
		return PV_ERR_BAD_INPUT;
	}
	if (pv_rlp_next(&rd, &addr) != PV_OK || pv_rlp_next(&rd, &list) != PV_OK || !pv_rlp_at_end(&rd)) {
		pv_err_set_detail("evm tx: access list entry %zu does not have exactly 2 items", index);
		return PV_ERR_BAD_INPUT;
	}
	if (addr.kind != PV_RLP_STRING || addr.len != PV_EVM_ADDR_LEN) {
		pv_err_set_detail("evm tx: access list entry %zu: address is not a 20-byte string", index);
		return PV_ERR_BAD_INPUT;
	}
	if (list.kind != PV_RLP_LIST || pv_rlp_enter(&list, &keys) != PV_OK) {
		pv_err_set_detail("evm tx: access list entry %zu: storage keys are not a list", index);
		return PV_ERR_BAD_INPUT;
	}
	while (!pv_rlp_at_end(&keys)) {
		if (pv_rlp_next(&keys, &key) != PV_OK || key.kind != PV_RLP_STRING ||
		    key.len != STORAGE_KEY_LEN) {
			pv_err_set_detail(
			    "evm tx: access list entry %zu: a storage key is not a 32-byte string", index);
			return PV_ERR_BAD_INPUT;
		}
	}
	return PV_OK;
}

static pv_err
get_access_list(pv_rlp_reader *rd, struct pv_evm_tx *tx)
{
	pv_rlp_reader entries;
	pv_rlp_item it, entry;
	size_t n = 0;
	pv_err r;

	if ((r = next_field(rd, &it)) != PV_OK)
		return r;
	if (it.kind != PV_RLP_LIST || pv_rlp_enter(&it, &entries) != PV_OK)
		return bad("field 'access list' is not a list");
	while (!pv_rlp_at_end(&entries)) {
		if (pv_rlp_next(&entries, &entry) != PV_OK)
			return bad("field 'access list' is malformed");
		if ((r = check_access_entry(&entry, n)) != PV_OK)
			return r;
		n++;
	}
	tx->access_list_entries = n;
	return PV_OK;
}

/* An item that must be the empty string (legacy's EIP-155 r and s). */
static pv_err
get_empty(pv_rlp_reader *rd, const char *name)
{
	pv_rlp_item it;
	pv_err r;

	if ((r = next_field(rd, &it)) != PV_OK)
		return r;
	if (it.kind != PV_RLP_STRING) {
		pv_err_set_detail("evm tx: field '%s' is a list, expected empty", name);
		return PV_ERR_BAD_INPUT;
	}
	if (it.len != 0)
		return bad("legacy transaction is already signed (r, s are not empty)");
	return PV_OK;
}

static size_t
count_items(const pv_rlp_item *list)
{
	pv_rlp_reader rd;
	pv_rlp_item it;
	size_t n = 0;

	/* decode_all has checked the whole list, so these cannot fail */
	if (pv_rlp_enter(list, &rd) != PV_OK)
		return 0;
	while (!pv_rlp_at_end(&rd) && pv_rlp_next(&rd, &it) == PV_OK)
		n++;
	return n;
}

static pv_err
parse_legacy(const pv_rlp_item *top, struct pv_evm_tx *tx)
{
	pv_rlp_reader rd;
	pv_err r;

	if ((r = pv_rlp_enter(top, &rd)) != PV_OK)
		return r;
	if ((r = get_u64(&rd, "nonce", &tx->nonce)) != PV_OK ||
	    (r = get_u256(&rd, "gas price", tx->gas_price)) != PV_OK ||
	    (r = get_u64(&rd, "gas limit", &tx->gas_limit)) != PV_OK || (r = get_to(&rd, tx)) != PV_OK ||
	    (r = get_u256(&rd, "value", tx->value)) != PV_OK || (r = get_data(&rd, tx)) != PV_OK)
		return r;
	/* the fields encode_signed reuses end where the chain id starts */
	tx->fields = top->payload;
	tx->fields_len = (size_t)(rd.p - top->payload);
	if ((r = get_chain_id(&rd, &tx->chain_id)) != PV_OK || (r = get_empty(&rd, "r")) != PV_OK ||
	    (r = get_empty(&rd, "s")) != PV_OK)
		return r;
	return PV_OK;
}

static pv_err
parse_typed(const pv_rlp_item *top, struct pv_evm_tx *tx)
{
	pv_rlp_reader rd;
	pv_err r;

	if ((r = pv_rlp_enter(top, &rd)) != PV_OK)
		return r;
	if ((r = get_chain_id(&rd, &tx->chain_id)) != PV_OK ||
	    (r = get_u64(&rd, "nonce", &tx->nonce)) != PV_OK)
		return r;
	if (tx->type == PV_EVM_TX_ACCESS_LIST) {
		if ((r = get_u256(&rd, "gas price", tx->gas_price)) != PV_OK)
			return r;
	} else {
		if ((r = get_u256(&rd, "max priority fee", tx->max_priority_fee)) != PV_OK ||
		    (r = get_u256(&rd, "max fee", tx->max_fee)) != PV_OK)
			return r;
	}
	if ((r = get_u64(&rd, "gas limit", &tx->gas_limit)) != PV_OK || (r = get_to(&rd, tx)) != PV_OK ||
	    (r = get_u256(&rd, "value", tx->value)) != PV_OK || (r = get_data(&rd, tx)) != PV_OK ||
	    (r = get_access_list(&rd, tx)) != PV_OK)
		return r;
	tx->fields = top->payload;
	tx->fields_len = top->len;
	return PV_OK;
}

/* Refuse a field count that is not the unsigned form, telling apart the
 * signed and pre-EIP-155 forms (clients send those by mistake). */
static pv_err
check_count(pv_evm_tx_type type, size_t n)
{
	size_t want = type == PV_EVM_TX_LEGACY        ? LEGACY_FIELDS
		      : type == PV_EVM_TX_ACCESS_LIST ? T1_FIELDS
						      : T2_FIELDS;

	if (n == want)
		return PV_OK;
	if (type == PV_EVM_TX_LEGACY && n == LEGACY_PRE155)
		return bad("legacy transaction without a chain id (pre-EIP-155) is refused");
	if (type != PV_EVM_TX_LEGACY && n == want + SIGNED_EXTRA)
		return bad("typed transaction is already signed");
	pv_err_set_detail("evm tx: %s transaction has %zu fields, expected %zu",
			  type == PV_EVM_TX_LEGACY ? "legacy" : "typed", n, want);
	return PV_ERR_BAD_INPUT;
}

pv_err
pv_evm_tx_parse(const uint8_t *raw, size_t len, struct pv_evm_tx *out)
{
	struct pv_evm_tx tx;
	pv_rlp_item top;
	const uint8_t *body = NULL;
	size_t body_len = 0;
	pv_err r;

	if (out == NULL || (raw == NULL && len > 0))
		return PV_ERR_USAGE;
	memset(out, 0, sizeof(*out));
	memset(&tx, 0, sizeof(tx));
	if (len > PV_EVM_TX_MAX) {
		pv_err_set_detail("evm tx: transaction over %d bytes", PV_EVM_TX_MAX);
		return PV_ERR_TOO_LARGE;
	}
	if (len == 0)
		return bad("empty transaction");
	if (raw[0] >= 0xc0) {
		tx.type = PV_EVM_TX_LEGACY;
		body = raw;
		body_len = len;
	} else if (raw[0] == PV_EVM_TX_ACCESS_LIST || raw[0] == PV_EVM_TX_DYNAMIC_FEE) {
		tx.type = (pv_evm_tx_type)raw[0];
		body = raw + 1;
		body_len = len - 1;
	} else if (raw[0] <= TYPED_MAX) {
		return bad("unsupported transaction type (only legacy, 0x01 and 0x02)");
	} else {
		return bad("neither a typed transaction nor an RLP list");
	}
	if (body_len == 0)
		return bad("typed transaction without a payload");
	if ((r = pv_rlp_decode_all(body, body_len, &top)) != PV_OK) {
		/* keep rlp's reason (fixed text, no input bytes); too deep is
		 * still bad input */
		char why[128];

		snprintf(why, sizeof(why), "%s", pv_err_detail());
		pv_err_set_detail("evm tx: bad RLP (%s)", why);
		return PV_ERR_BAD_INPUT;
	}
	if (top.kind != PV_RLP_LIST)
		return bad("transaction is not an RLP list");
	if ((r = check_count(tx.type, count_items(&top))) != PV_OK)
		return r;
	r = tx.type == PV_EVM_TX_LEGACY ? parse_legacy(&top, &tx) : parse_typed(&top, &tx);
	if (r != PV_OK)
		return r;
	tx.unsigned_raw = raw;
	tx.unsigned_raw_len = len;
	*out = tx;
	return PV_OK;
}

pv_err
pv_evm_tx_signing_hash(const struct pv_evm_tx *tx, uint8_t hash[32])
{
	if (tx == NULL || hash == NULL || tx->unsigned_raw == NULL || tx->unsigned_raw_len == 0)
		return PV_ERR_USAGE;
	pv_keccak256(tx->unsigned_raw, tx->unsigned_raw_len, hash);
	return PV_OK;
}

/* A 32-byte big-endian half of a signature without its leading zeros. */
static size_t
strip_zeros(const uint8_t half[32], const uint8_t **p)
{
	size_t skip = 0;

	while (skip < 32 && half[skip] == 0)
		skip++;
	*p = half + skip;
	return 32 - skip;
}

pv_err
pv_evm_tx_encode_signed(const struct pv_evm_tx *tx, const uint8_t rs[64], int recid, pv_buf *out)
{
	const uint8_t *r_p = NULL, *s_p = NULL;
	size_t r_len, s_len, payload_len, total;
	uint64_t v;
	pv_buf *tmp = NULL, *v_buf = NULL;
	pv_err r;

	if (tx == NULL || rs == NULL || out == NULL || (recid != 0 && recid != 1) || tx->fields == NULL ||
	    tx->chain_id == 0 || tx->chain_id > PV_EVM_CHAIN_ID_MAX || tx->fields_len > PV_EVM_TX_MAX)
		return PV_ERR_USAGE;
	if (tx->type != PV_EVM_TX_LEGACY && tx->type != PV_EVM_TX_ACCESS_LIST &&
	    tx->type != PV_EVM_TX_DYNAMIC_FEE)
		return PV_ERR_USAGE;
	r_len = strip_zeros(rs, &r_p);
	s_len = strip_zeros(rs + 32, &s_p);
	if (r_len == 0 || s_len == 0) {
		pv_err_set_detail("evm tx: signature r or s is zero");
		return PV_ERR_USAGE;
	}
	/* legacy v = chain_id * 2 + 35 + recid (EIP-155); typed: y_parity */
	v = tx->type == PV_EVM_TX_LEGACY ? tx->chain_id * 2 + 35 + (uint64_t)recid : (uint64_t)recid;
	if ((r = pv_buf_new(16, &v_buf)) != PV_OK || (r = pv_rlp_put_uint64(v_buf, v)) != PV_OK)
		goto out;
	payload_len = tx->fields_len + pv_buf_len(v_buf) + pv_rlp_string_size(r_p, r_len) +
		      pv_rlp_string_size(s_p, s_len);
	total = (tx->type != PV_EVM_TX_LEGACY ? 1 : 0) + pv_rlp_header_size(payload_len) + payload_len;
	/* built aside first so out gets the whole transaction or nothing */
	if ((r = pv_buf_new(total, &tmp)) != PV_OK)
		goto out;
	if (tx->type != PV_EVM_TX_LEGACY && (r = pv_buf_put_u8(tmp, (uint8_t)tx->type)) != PV_OK)
		goto out;
	if ((r = pv_rlp_put_list_header(tmp, payload_len)) != PV_OK ||
	    (r = pv_buf_put(tmp, tx->fields, tx->fields_len)) != PV_OK ||
	    (r = pv_buf_put(tmp, pv_buf_ptr(v_buf), pv_buf_len(v_buf))) != PV_OK ||
	    (r = pv_rlp_put_string(tmp, r_p, r_len)) != PV_OK ||
	    (r = pv_rlp_put_string(tmp, s_p, s_len)) != PV_OK)
		goto out;
	if (pv_buf_len(tmp) != total) {
		r = PV_ERR_INTERNAL;
		goto out;
	}
	r = pv_buf_put(out, pv_buf_ptr(tmp), pv_buf_len(tmp));
out:
	pv_buf_free(tmp);
	pv_buf_free(v_buf);
	return r;
}

pv_err
pv_evm_tx_hash(const uint8_t *signed_raw, size_t len, uint8_t hash[32])
{
	if (signed_raw == NULL || len == 0 || hash == NULL)
		return PV_ERR_USAGE;
	pv_keccak256(signed_raw, len, hash);
	return PV_OK;
}

/* Digits only, no sign, no leading zero (except "0" itself), at most 78. */
static pv_err
check_decimal(const char *s)
{
	size_t i, n;

	if (s == NULL)
		return PV_ERR_USAGE;
	n = strlen(s);
	if (n == 0)
		return bad("decimal value is empty");
	if (n > PV_EVM_DECIMAL_MAX - 1)
		return bad("decimal value over 2^256-1");
	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return bad("decimal value has a character that is not a digit");
	if (n > 1 && s[0] == '0')
		return bad("decimal value has a leading zero");
	return PV_OK;
}

pv_err
pv_evm_value_cmp_decimal(const uint8_t value[32], const char *decimal, int *cmp)
{
	BIGNUM *a = NULL, *b = NULL, *max = NULL;
	pv_err r;

	if (value == NULL || cmp == NULL)
		return PV_ERR_USAGE;
	*cmp = 0;
	if ((r = check_decimal(decimal)) != PV_OK)
		return r;
	r = PV_ERR_NOMEM;
	if ((a = BN_bin2bn(value, 32, NULL)) == NULL || (max = BN_new()) == NULL)
		goto out;
	/* check_decimal bounds the length, so BN_dec2bn takes all of it */
	if (BN_dec2bn(&b, decimal) != (int)strlen(decimal))
		goto out;
	if (!BN_set_bit(max, 256) || !BN_sub_word(max, 1)) {
		r = PV_ERR_CRYPTO;
		goto out;
	}
	if (BN_cmp(b, max) > 0) {
		r = bad("decimal value over 2^256-1");
		goto out;
	}
	*cmp = BN_cmp(a, b);
	r = PV_OK;
out:
	BN_free(a);
	BN_free(b);
	BN_free(max);
	return r;
}

pv_err
pv_evm_value_decimal(const uint8_t value[32], char out[PV_EVM_DECIMAL_MAX])
{
	BIGNUM *a = NULL;
	char *dec = NULL;
	size_t n;
	pv_err r = PV_ERR_NOMEM;

	if (value == NULL || out == NULL)
		return PV_ERR_USAGE;
	out[0] = '\0';
	if ((a = BN_bin2bn(value, 32, NULL)) == NULL || (dec = BN_bn2dec(a)) == NULL)
		goto out;
	n = strlen(dec);
	if (n >= PV_EVM_DECIMAL_MAX) {
		r = PV_ERR_INTERNAL;
		goto out;
	}
	memcpy(out, dec, n + 1);
	r = PV_OK;
out:
	OPENSSL_free(dec);
	BN_free(a);
	return r;
}
