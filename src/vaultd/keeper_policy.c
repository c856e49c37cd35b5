/*
 * The keeper's decisions, without the token: the request table (what each
 * use of a key needs: operation and purpose), the policy decision, the
 * purpose check, and the check of what is to be signed against the parsed
 * intent and the rule's caps. keeper.c runs these on every call that uses
 * a key; dispatch.c asks vd_keeper_allow before a handler runs. Kept apart
 * from keeper.c so that the decisions are unit-tested without a token
 * (keeper_policy_test.c) and dispatch_test links the real policy step.
 */
#include "config.h"

#include <inttypes.h>
#include <string.h>

#include <sodium.h>

#include "bundle/format.h"
#include "vaultd/keeper_int.h"
#include "vaultd/vaultd.h"
#include "wallet/evm.h"

/* The request table: one row per use (keeper.h explains the columns). */
static const struct vd_use_row {
	pv_op op;
	pv_key_purpose purpose; /* PV_PURPOSE_NONE: any purpose but audit */
	int signs;              /* vd_keeper_sign accepts it */
} use_rows[VD_USE_COUNT] = {
    [VD_USE_READ] = {PV_OP_KEYS_READ, PV_PURPOSE_NONE, 0},
    [VD_USE_SIGN] = {PV_OP_SIGN, PV_PURPOSE_SIGN, 1},
    [VD_USE_VERIFY] = {PV_OP_VERIFY, PV_PURPOSE_SIGN, 0},
    [VD_USE_JWT_ISSUE] = {PV_OP_JWT_ISSUE, PV_PURPOSE_JWT, 0},
    [VD_USE_DERIVE] = {PV_OP_DERIVE, PV_PURPOSE_DERIVE, 0},
    [VD_USE_ECDH] = {PV_OP_ECDH, PV_PURPOSE_DERIVE, 0},
    [VD_USE_SOLANA_READ] = {PV_OP_WALLET_READ, PV_PURPOSE_SOLANA, 0},
    [VD_USE_SOLANA_TX] = {PV_OP_WALLET_SIGN, PV_PURPOSE_SOLANA, 1},
    [VD_USE_SOLANA_MESSAGE] = {PV_OP_WALLET_SIGN, PV_PURPOSE_SOLANA, 1},
    [VD_USE_EVM_READ] = {PV_OP_WALLET_READ, PV_PURPOSE_EVM, 0},
    [VD_USE_EVM_TX] = {PV_OP_WALLET_SIGN, PV_PURPOSE_EVM, 1},
    [VD_USE_EVM_MESSAGE] = {PV_OP_WALLET_SIGN, PV_PURPOSE_EVM, 1},
    [VD_USE_EVM_DIGEST] = {PV_OP_WALLET_SIGN, PV_PURPOSE_EVM, 1},
    [VD_USE_EVM_TYPED] = {PV_OP_WALLET_SIGN, PV_PURPOSE_EVM, 1},
};

pv_op
vd_use_op(enum vd_use use)
{
	return (unsigned)use < VD_USE_COUNT ? use_rows[use].op : PV_OP_COUNT;
}

pv_key_purpose
vd_use_purpose(enum vd_use use)
{
	return (unsigned)use < VD_USE_COUNT ? use_rows[use].purpose : PV_PURPOSE_NONE;
}

void
vd_kreq_init(struct vd_kreq *q, const struct vd_gen *g, const pv_client *client, enum vd_use use,
	     const char *key)
{
	memset(q, 0, sizeof(*q));
	q->gen = g;
	q->client = client;
	q->use = use;
	q->op = vd_use_op(use);
	q->key = key;
}

static pv_err
refuse(pv_op op, const char *key)
{
	if (key != NULL)
		pv_err_set_detail("not allowed to %s '%s'", pv_op_name(op), key);
	else
		pv_err_set_detail("not allowed to %s", pv_op_name(op));
	return PV_ERR_FORBIDDEN;
}

pv_err
vd_keeper_allow(struct vd_keeper *k, const struct vd_gen *g, const pv_client *client, pv_op op,
		const char *key, int admin_ok, pv_policy_decision *d)
{
	pv_err r;

	(void)k; /* the policy travels with the request's generation */
	memset(d, 0, sizeof(*d));
	if (g == NULL || g->policy == NULL || client == NULL || (unsigned)op >= PV_OP_COUNT) {
		pv_err_set_detail("a keeper request without a client, policy or operation");
		return PV_ERR_INTERNAL;
	}
	if (admin_ok && pv_client_role(client) == PV_ROLE_ADMIN)
		return PV_OK;
	r = pv_policy_allow(g->policy, client, op, key, d);
	if (r == PV_ERR_FORBIDDEN || r == PV_ERR_USAGE)
		return refuse(op, key);
	return r;
}

pv_err
vd_decide_policy(struct vd_keeper *k, struct vd_kreq *q)
{
	if ((unsigned)q->use >= VD_USE_COUNT || q->op != use_rows[q->use].op || q->key == NULL) {
		/* a handler asked for one operation and means another */
		pv_err_set_detail("keeper request: operation %s does not go with this use",
				  (unsigned)q->op < PV_OP_COUNT ? pv_op_name(q->op) : "?");
		return PV_ERR_INTERNAL;
	}
	return vd_keeper_allow(k, q->gen, q->client, q->op, q->key, 0, &q->decision);
}

pv_err
vd_decide_purpose(const struct vd_kreq *q, pv_key_purpose have, int bundle)
{
	pv_key_purpose want = use_rows[q->use].purpose;

	/* the audit key MACs checkpoints for the audit writer only: no client
	 * operation of any kind reaches it, not even its metadata */
	if (have == PV_PURPOSE_AUDIT) {
		pv_err_set_detail("key '%s' has purpose audit: only the audit log uses it", q->key);
		return PV_ERR_PURPOSE;
	}
	if (want == PV_PURPOSE_NONE)
		return PV_OK; /* reading metadata: any other purpose, also none yet */
	/* the same refusal; the fix named differs (bundle set-purpose for an
	 * entry of an older bundle) */
	if (bundle)
		return pv_entry_check_purpose(q->key, have, want);
	return pv_purpose_check(q->key, have, want);
}

/* msg must be the 32 bytes in want: anything else is a caller's bug. */
static pv_err
same32(const uint8_t *msg, size_t len, const uint8_t want[32], const char *what)
{
	if (len == 32 && sodium_memcmp(msg, want, 32) == 0)
		return PV_OK;
	pv_err_set_detail("keeper request: the bytes to sign are not the %s", what);
	return PV_ERR_INTERNAL;
}

/* EVM transactions: the rule's chain_ids and max_value_wei. */
static pv_err
evm_tx_caps(const struct vd_kreq *q, const struct pv_evm_tx *tx)
{
	const pv_policy_decision *d = &q->decision;
	char value[PV_EVM_DECIMAL_MAX];
	size_t i;
	int cmp = 0;
	pv_err r;

	if (d->n_chain_ids > 0) {
		for (i = 0; i < d->n_chain_ids && d->chain_ids[i] != tx->chain_id; i++)
			;
		if (i == d->n_chain_ids) {
			pv_err_set_detail("chain id %" PRIu64 " is not allowed for key '%s'", tx->chain_id,
					  q->key);
			return PV_ERR_FORBIDDEN;
		}
	}
	if (d->max_value_wei != NULL) {
		if ((r = pv_evm_value_cmp_decimal(tx->value, d->max_value_wei, &cmp)) != PV_OK)
			return r;
		if (cmp > 0) {
			if ((r = pv_evm_value_decimal(tx->value, value)) != PV_OK)
				return r;
			pv_err_set_detail("value %s wei is above the cap of %s wei for key '%s'", value,
					  d->max_value_wei, q->key);
			return PV_ERR_FORBIDDEN;
		}
	}
	return PV_OK;
}

/*
 * EIP-712 under chain_ids: the domain must name a listed chain id. Typed
 * data (0x19 0x01 ...) is never a transaction's signing hash, so it is not
 * refused under caps the way a bare digest is; max_value_wei covers native
 * value only and cannot see a token permit's amount (docs/config.md).
 */
static pv_err
evm_typed_caps(const struct vd_kreq *q, const struct pv_eip712_hashes *h)
{
	const pv_policy_decision *d = &q->decision;
	size_t i;

	if (d->n_chain_ids == 0)
		return PV_OK;
	if (!h->has_chain_id) {
		pv_err_set_detail("typed data without a domain chainId is not allowed for key '%s': the rule "
				  "caps chain ids, and typed data bound to no chain is good on every chain",
				  q->key);
		return PV_ERR_FORBIDDEN;
	}
	for (i = 0; h->chain_id_fits && i < d->n_chain_ids; i++) {
		if (d->chain_ids[i] == h->chain_id)
			return PV_OK;
	}
	if (h->chain_id_fits)
		pv_err_set_detail("typed data for chain id %" PRIu64 " is not allowed for key '%s'",
				  h->chain_id, q->key);
	else
		pv_err_set_detail("typed data for a chain id above 2^64-1 is not allowed for key '%s'",
				  q->key);
	return PV_ERR_FORBIDDEN;
}

pv_err
vd_decide_intent(const struct vd_kreq *q, const uint8_t *msg, size_t len)
{
	uint8_t h[32];
	size_t used = 0;
	pv_err r;

	if (!use_rows[q->use].signs) {
		pv_err_set_detail("keeper request: %s does not sign", pv_op_name(q->op));
		return PV_ERR_INTERNAL;
	}
	switch (q->use) {
	case VD_USE_SIGN:
		/* the one use that signs the caller's bytes as they are; the key
		 * has purpose sign (vd_decide_purpose) */
		return PV_OK;
	case VD_USE_EVM_TX:
		if (q->intent.evm_tx == NULL)
			break;
		if ((r = evm_tx_caps(q, q->intent.evm_tx)) != PV_OK ||
		    (r = pv_evm_tx_signing_hash(q->intent.evm_tx, h)) != PV_OK)
			return r;
		return same32(msg, len, h, "transaction's signing hash");
	case VD_USE_EVM_TYPED:
		if (q->intent.typed == NULL)
			break;
		if ((r = evm_typed_caps(q, q->intent.typed)) != PV_OK)
			return r;
		return same32(msg, len, q->intent.typed->digest, "typed data's digest");
	case VD_USE_EVM_MESSAGE:
		if (q->intent.message.bytes == NULL && q->intent.message.len > 0)
			break;
		if ((r = pv_evm_personal_hash(q->intent.message.bytes, q->intent.message.len, h)) != PV_OK)
			return r;
		return same32(msg, len, h, "message's EIP-191 hash");
	case VD_USE_EVM_DIGEST:
		/* a digest may be any transaction's signing hash: caps cannot hold */
		if (q->decision.n_chain_ids > 0 || q->decision.max_value_wei != NULL) {
			pv_err_set_detail("sign-digest is refused for key '%s': the rule caps chain ids or "
					  "value, which a digest cannot show",
					  q->key);
			return PV_ERR_FORBIDDEN;
		}
		if (len == 32)
			return PV_OK;
		pv_err_set_detail("keeper request: a digest to sign is 32 bytes");
		return PV_ERR_INTERNAL;
	case VD_USE_SOLANA_TX:
		if (q->intent.solana_tx == NULL)
			break;
		if (len == q->intent.solana_tx->message_len &&
		    sodium_memcmp(msg, q->intent.solana_tx->message, len) == 0)
			return PV_OK;
		pv_err_set_detail("keeper request: the bytes to sign are not the transaction's message");
		return PV_ERR_INTERNAL;
	case VD_USE_SOLANA_MESSAGE:
		/* whatever the mode, a message is never a transaction: refused
		 * here too, also as a prefix followed by other bytes */
		if (pv_solana_tx_prefix(msg, len, &used) != PV_SOLANA_PREFIX_NONE) {
			pv_err_set_detail("the message begins with a Solana transaction; sign it with "
					  "sign-transaction");
			return PV_ERR_BAD_INPUT;
		}
		pv_err_clear_detail();
		return PV_OK;
	default:
		break;
	}
	pv_err_set_detail("keeper request: %s without its intent", pv_op_name(q->op));
	return PV_ERR_INTERNAL;
}

pv_err
vd_decide_batch(const struct vd_kreq *q, const struct vd_batch_item *items, size_t n)
{
	struct vd_kreq one = *q;
	size_t max, i;
	pv_err r;

	/* the uses whose single call signs exactly what it is given or one
	 * parsed transaction; anything with caps across items does not batch */
	if (q->use == VD_USE_SIGN)
		max = VD_BATCH_SIGN_MAX;
	else if (q->use == VD_USE_SOLANA_TX)
		max = VD_BATCH_SOLANA_MAX;
	else {
		pv_err_set_detail("keeper request: %s does not sign in batches", pv_op_name(q->op));
		return PV_ERR_INTERNAL;
	}
	if (n == 0 || n > max) {
		pv_err_set_detail("a batch holds 1 to %zu items, not %zu", max, n);
		return n == 0 ? PV_ERR_BAD_INPUT : PV_ERR_TOO_LARGE;
	}
	for (i = 0; i < n; i++) {
		if (q->use == VD_USE_SOLANA_TX)
			one.intent.solana_tx = items[i].solana_tx;
		if ((r = vd_decide_intent(&one, items[i].msg, items[i].len)) != PV_OK)
			return r;
	}
	return PV_OK;
}
