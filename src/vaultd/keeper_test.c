/*
 * The keeper on a throwaway SoftHSM token behind the fault-injection shim:
 * signing and verification, HMAC derivation, ECDH against OpenSSL, the JWK
 * Set cache and its ETag across a rotation, JWT verification, the keeper's
 * decisions (policy before the key, purposes, the audit key, a capped
 * wallet rule through every use, bytes that are not the intent's), the
 * audit log's MAC callback, the boot
 * bundle's values and keys (signatures checked with OpenSSL against the
 * entry's public key), key objects unwrapped again after the token lost
 * them, and configuration generations with reload.
 */
#include "config.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "audit/audit.h"
#include "base/secmem.h"
#include "bundle/bundle.h"
#include "core/b64.h"
#include "core/sigfmt.h"
#include "pkcs11/testutil.h"
#include "vaultd/keeper_int.h"
#include "vaultd/metrics.h"
#include "vaultd/vaultd.h"
#include "wallet/evm.h"

static struct tu_token T;
static char workdir[64];
static int (*fault_set)(const char *spec);
static unsigned long (*fault_count)(const char *fn);
static void (*fault_reset_counts)(void);

static const uint8_t msg[] = "p11vault keeper_test message";

struct fixture {
	struct vd_keeper *k;
	struct pv_config *cfg;
	struct vd_gen gen;        /* the fixture's policy; secrets per call */
	const pv_client *client;  /* "u": every operation on keys not named a* */
	const pv_client *limited; /* "lim": sign on lim-*, capped wallet.sign on lw-* */
	struct vd_kreq q;
};

/* A keeper request of client u under the fixture's generation, with the
 * bundle secrets s (NULL: none). */
static struct vd_kreq *
req(struct fixture *f, const struct vd_secrets *s, enum vd_use use, const char *key)
{
	f->gen.secrets = (struct vd_secrets *)(uintptr_t)s;
	vd_kreq_init(&f->q, &f->gen, f->client, use, key);
	return &f->q;
}

/* A valid vaultd.json for the test token; extra: members added at the end. */
static char *
config_text(const char *extra)
{
	char *t = NULL;

	assert_true(
	    asprintf(&t,
		     "{\"token\":{\"uri\":\"%s\",\"module\":\"%s\",\"pin_source\":\"%s\"},"
		     "\"listen\":{\"unix\":{\"path\":\"%s/vd.sock\"}},"
		     "\"audit\":{\"file\":\"%s/audit.log\",\"hmac_key\":\"audit-hmac\"},"
		     "\"jwt\":{\"issuer\":\"https://issuer.test\"},"
		     "\"clients\":[{\"name\":\"u\",\"auth\":{\"uid\":0},\"rules\":[{\"ops\":[\"sign\","
		     "\"verify\",\"jwt.issue\",\"jwks\",\"derive\",\"ecdh\",\"keys.read\",\"wallet.sign\","
		     "\"wallet.read\",\"secrets.list\",\"secrets.read\"],\"keys\":[\"[!a]*\"]}]},"
		     "{\"name\":\"lim\",\"auth\":{\"uid\":1},\"rules\":[{\"ops\":[\"sign\",\"keys.read\"],"
		     "\"keys\":[\"lim-*\"]},{\"ops\":[\"wallet.sign\"],\"keys\":[\"lw-*\"],"
		     "\"chain_ids\":[1],\"max_value_wei\":\"1000\"}]}]%s%s}",
		     T.uri, PV_FAULTMOD, T.pin_source, workdir, workdir, extra ? "," : "",
		     extra ? extra : "") > 0);
	return t;
}

static struct pv_config *
config(const char *extra)
{
	struct pv_config *cfg = NULL;
	char *text = config_text(extra);
	pv_buf *b = NULL;

	assert_int_equal(pv_buf_view(text, strlen(text), &b), PV_OK);
	if (pv_config_parse(b, &cfg) != PV_OK)
		fail_msg("config: %s", pv_err_detail());
	pv_buf_free(b);
	free(text);
	return cfg;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	struct pv_peer peer = {.has_uid = 1, .uid = 0};

	f->cfg = config(NULL);
	if (vd_keeper_open(f->cfg, &f->k) != PV_OK) {
		fprintf(stderr, "vd_keeper_open: %s\n", pv_err_detail());
		return -1;
	}
	f->gen.cfg = f->cfg;
	if (pv_policy_from_config(f->cfg, &f->gen.policy) != PV_OK ||
	    pv_policy_authenticate(f->gen.policy, &peer, NULL, &f->client) != PV_OK)
		return -1;
	peer.uid = 1;
	if (pv_policy_authenticate(f->gen.policy, &peer, NULL, &f->limited) != PV_OK)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(fault_set(""), 0);
	vd_keeper_close(f->k);
	pv_policy_free(f->gen.policy);
	pv_config_free(f->cfg);
	free(f);
	return 0;
}

/* ECDSA raw r||s checked by OpenSSL (DER through sigfmt). */
static int
ossl_verify(EVP_PKEY *pk, const char *md, const uint8_t *m, size_t mlen, const uint8_t *sig, size_t siglen,
	    size_t field)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t *der = NULL;
	size_t derlen = 0;
	int ok;

	assert_non_null(ctx);
	if (field != 0) {
		assert_int_equal(pv_ecdsa_raw_to_der(sig, siglen, field, &der, &derlen), PV_OK);
		sig = der;
		siglen = derlen;
	}
	assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, md ? EVP_get_digestbyname(md) : NULL, NULL, pk), 1);
	ok = EVP_DigestVerify(ctx, sig, siglen, m, mlen) == 1;
	EVP_MD_CTX_free(ctx);
	free(der);
	return ok;
}

static void
test_sign_verify(void **state)
{
	struct fixture *f = *state;
	pv_keystore *ks = vd_keeper_ks(f->k);
	struct pv_sign_opts o = {0};
	struct pv_key **keys = NULL, *key = NULL;
	enum vd_key_origin *orig = NULL, origin;
	EVP_PKEY *pk = NULL;
	struct pv_sig sig;
	size_t n = 0, i;
	int seen = 0;

	assert_int_equal(pv_keys_create(ks, "sv-p256", PV_ALG_P256, PV_PURPOSE_SIGN, NULL), PV_OK);
	assert_int_equal(pv_keys_create(ks, "sv-ed", PV_ALG_ED25519, PV_PURPOSE_SIGN, NULL), PV_OK);
	assert_string_not_equal(vd_keeper_token_label(f->k), "");

	assert_int_equal(
	    vd_keeper_sign(f->k, req(f, NULL, VD_USE_SIGN, "sv-p256"), &o, msg, sizeof(msg), &sig), PV_OK);
	assert_int_equal(sig.version, 1);
	assert_int_equal(vd_keeper_verify(f->k, req(f, NULL, VD_USE_VERIFY, "sv-p256"), &o, msg, sizeof(msg),
					  sig.bytes, sig.len),
			 PV_OK);
	assert_int_equal(vd_keeper_public(f->k, req(f, NULL, VD_USE_READ, "sv-p256"), 0, &pk), PV_OK);
	assert_true(ossl_verify(pk, "SHA256", msg, sizeof(msg), sig.bytes, sig.len, 32));
	EVP_PKEY_free(pk);
	pk = NULL;
	sig.bytes[5] ^= 1;
	assert_int_equal(vd_keeper_verify(f->k, req(f, NULL, VD_USE_VERIFY, "sv-p256"), &o, msg, sizeof(msg),
					  sig.bytes, sig.len),
			 PV_ERR_BAD_SIGNATURE);

	assert_int_equal(vd_keeper_sign(f->k, req(f, NULL, VD_USE_SIGN, "sv-ed"), &o, msg, sizeof(msg), &sig),
			 PV_OK);
	assert_int_equal(vd_keeper_public(f->k, req(f, NULL, VD_USE_READ, "sv-ed"), 1, &pk), PV_OK);
	assert_true(ossl_verify(pk, NULL, msg, sizeof(msg), sig.bytes, sig.len, 0));
	EVP_PKEY_free(pk);
	pk = NULL;
	assert_int_equal(vd_keeper_public(f->k, req(f, NULL, VD_USE_READ, "sv-ed"), 7, &pk),
			 PV_ERR_NOT_FOUND);

	/* unknown key: NOT_FOUND naming it */
	assert_int_equal(
	    vd_keeper_sign(f->k, req(f, NULL, VD_USE_SIGN, "no-such"), &o, msg, sizeof(msg), &sig),
	    PV_ERR_NOT_FOUND);
	assert_non_null(strstr(pv_err_detail(), "no-such"));
	assert_int_equal(vd_keeper_key(f->k, req(f, NULL, VD_USE_READ, "no-such"), &key, &origin),
			 PV_ERR_NOT_FOUND);
	assert_non_null(strstr(pv_err_detail(), "no-such"));
	assert_int_equal(vd_keeper_public(f->k, req(f, NULL, VD_USE_READ, "no-such"), 0, &pk),
			 PV_ERR_NOT_FOUND);

	assert_int_equal(vd_keeper_key(f->k, req(f, NULL, VD_USE_READ, "sv-ed"), &key, &origin), PV_OK);
	assert_int_equal(origin, VD_ORIGIN_TOKEN);
	assert_int_equal(key->alg, PV_ALG_ED25519);
	pv_key_free(key);
	assert_int_equal(vd_keeper_keys(f->k, req(f, NULL, VD_USE_READ, NULL), &keys, &orig, &n), PV_OK);
	for (i = 0; i < n; i++) {
		assert_int_equal(orig[i], VD_ORIGIN_TOKEN);
		seen += strcmp(keys[i]->name, "sv-p256") == 0 || strcmp(keys[i]->name, "sv-ed") == 0;
	}
	assert_int_equal(seen, 2);
	pv_keys_list_free(keys, n);
	free(orig);
}

static void
test_derive(void **state)
{
	struct fixture *f = *state;
	pv_keystore *ks = vd_keeper_ks(f->k);
	uint8_t a1[32], a2[32], b[32], zero[32] = {0};
	unsigned v = 0;

	assert_int_equal(pv_keys_create(ks, "dv-hmac", PV_ALG_HMAC_SHA256, PV_PURPOSE_DERIVE, NULL), PV_OK);
	assert_int_equal(pv_keys_create(ks, "dv-p256", PV_ALG_P256, PV_PURPOSE_DERIVE, NULL), PV_OK);
	assert_int_equal(vd_keeper_derive(f->k, req(f, NULL, VD_USE_DERIVE, "dv-hmac"),
					  (const uint8_t *)"ctx-a", 5, a1, &v),
			 PV_OK);
	assert_int_equal(v, 1);
	assert_int_equal(vd_keeper_derive(f->k, req(f, NULL, VD_USE_DERIVE, "dv-hmac"),
					  (const uint8_t *)"ctx-a", 5, a2, NULL),
			 PV_OK);
	assert_int_equal(vd_keeper_derive(f->k, req(f, NULL, VD_USE_DERIVE, "dv-hmac"),
					  (const uint8_t *)"ctx-b", 5, b, NULL),
			 PV_OK);
	assert_memory_equal(a1, a2, 32);
	assert_memory_not_equal(a1, b, 32);
	assert_memory_not_equal(a1, zero, 32);
	/* an empty context is a context too */
	assert_int_equal(
	    vd_keeper_derive(f->k, req(f, NULL, VD_USE_DERIVE, "dv-hmac"), (const uint8_t *)"", 0, b, NULL),
	    PV_OK);
	assert_memory_not_equal(a1, b, 32);
	/* after a rotation the new version derives other bytes */
	assert_int_equal(pv_keys_rotate(ks, "dv-hmac", 0, NULL), PV_OK);
	assert_int_equal(vd_keeper_derive(f->k, req(f, NULL, VD_USE_DERIVE, "dv-hmac"),
					  (const uint8_t *)"ctx-a", 5, a2, &v),
			 PV_OK);
	assert_int_equal(v, 2);
	assert_memory_not_equal(a1, a2, 32);

	assert_int_equal(
	    vd_keeper_derive(f->k, req(f, NULL, VD_USE_DERIVE, "dv-p256"), (const uint8_t *)"x", 1, b, NULL),
	    PV_ERR_KEY_TYPE);
	assert_int_equal(
	    vd_keeper_derive(f->k, req(f, NULL, VD_USE_DERIVE, "dv-none"), (const uint8_t *)"x", 1, b, NULL),
	    PV_ERR_NOT_FOUND);
	assert_non_null(strstr(pv_err_detail(), "dv-none"));
}

static void
test_ecdh(void **state)
{
	struct fixture *f = *state;
	pv_keystore *ks = vd_keeper_ks(f->k);
	EVP_PKEY *peer = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	EVP_PKEY *ours = NULL;
	EVP_PKEY_CTX *dc = NULL;
	pv_secret *shared = NULL;
	uint8_t want[64];
	size_t wlen = sizeof(want);
	unsigned v = 0;

	assert_non_null(peer);
	assert_non_null(p384);
	assert_int_equal(pv_keys_create(ks, "ec-p256", PV_ALG_P256, PV_PURPOSE_DERIVE, NULL), PV_OK);
	assert_int_equal(pv_keys_create(ks, "ec-k1", PV_ALG_SECP256K1, PV_PURPOSE_SIGN, NULL), PV_OK);
	assert_int_equal(vd_keeper_ecdh(f->k, req(f, NULL, VD_USE_ECDH, "ec-p256"), peer, &shared, &v),
			 PV_OK);
	assert_int_equal(v, 1);
	assert_int_equal(pv_secret_len(shared), 32);

	/* the same secret from the peer's side, in OpenSSL */
	assert_int_equal(vd_keeper_public(f->k, req(f, NULL, VD_USE_READ, "ec-p256"), 0, &ours), PV_OK);
	assert_non_null(dc = EVP_PKEY_CTX_new(peer, NULL));
	assert_int_equal(EVP_PKEY_derive_init(dc), 1);
	assert_int_equal(EVP_PKEY_derive_set_peer(dc, ours), 1);
	assert_int_equal(EVP_PKEY_derive(dc, want, &wlen), 1);
	assert_int_equal(wlen, 32);
	assert_memory_equal(pv_secret_ro(shared), want, 32);
	pv_secret_free(shared);
	shared = NULL;

	assert_int_equal(vd_keeper_ecdh(f->k, req(f, NULL, VD_USE_ECDH, "ec-p256"), p384, &shared, NULL),
			 PV_ERR_KEY_TYPE);
	assert_null(shared);
	/* a key of another purpose never derives (a sign key here) */
	assert_int_equal(vd_keeper_ecdh(f->k, req(f, NULL, VD_USE_ECDH, "ec-k1"), peer, &shared, NULL),
			 PV_ERR_PURPOSE);
	assert_int_equal(vd_keeper_ecdh(f->k, req(f, NULL, VD_USE_ECDH, "ec-none"), peer, &shared, NULL),
			 PV_ERR_NOT_FOUND);
	assert_non_null(strstr(pv_err_detail(), "ec-none"));
	EVP_PKEY_CTX_free(dc);
	EVP_PKEY_free(ours);
	EVP_PKEY_free(peer);
	EVP_PKEY_free(p384);
}

static void
test_jwks_and_jwt(void **state)
{
	struct fixture *f = *state;
	pv_keystore *ks = vd_keeper_ks(f->k);
	struct pv_jwt_opts jo = {0};
	char *j1 = NULL, *e1 = NULL, *j2 = NULL, *e2 = NULL, *tok = NULL, *kid = NULL, *dot;
	cJSON *claims = cJSON_CreateObject(), *got = NULL;
	size_t l1 = 0, l2 = 0;

	vd_keeper_set_meta_ttl(f->k, 1);
	assert_int_equal(pv_keys_create(ks, "jw-es", PV_ALG_P256, PV_PURPOSE_JWT, NULL), PV_OK);
	assert_int_equal(vd_keeper_jwks(f->k, &j1, &l1, &e1), PV_OK);
	assert_int_equal(strlen(j1), l1);
	assert_true(e1[0] == '"' && e1[strlen(e1) - 1] == '"' && strlen(e1) == 45);
	/* cached: the same bytes and ETag */
	assert_int_equal(vd_keeper_jwks(f->k, &j2, &l2, &e2), PV_OK);
	assert_string_equal(j1, j2);
	assert_string_equal(e1, e2);
	free(j2);
	free(e2);

	/* a JWT issued now verifies against the set, and names its kid */
	assert_non_null(claims);
	assert_non_null(cJSON_AddStringToObject(claims, "sub", "alice"));
	jo.iss = "https://issuer.test";
	assert_int_equal(
	    vd_keeper_jwt_issue(f->k, req(f, NULL, VD_USE_JWT_ISSUE, "jw-es"), &jo, claims, &tok), PV_OK);
	assert_int_equal(vd_keeper_jwt_verify(f->k, NULL, tok, time(NULL), &got, &kid), PV_OK);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(got, "sub")->valuestring, "alice");
	assert_non_null(kid);
	assert_non_null(strstr(j1, kid));
	cJSON_Delete(got);
	got = NULL;
	free(kid);
	kid = NULL;
	/* a changed signature: refused, the kid still read */
	dot = strrchr(tok, '.');
	dot[3] = dot[3] == 'A' ? 'B' : 'A';
	assert_int_equal(vd_keeper_jwt_verify(f->k, NULL, tok, time(NULL), &got, &kid), PV_ERR_BAD_SIGNATURE);
	assert_null(got);
	assert_non_null(kid);
	free(kid);
	kid = NULL;
	assert_int_equal(vd_keeper_jwt_verify(f->k, NULL, "a.b", time(NULL), &got, &kid), PV_ERR_BAD_INPUT);
	assert_null(kid);
	/* a header that is not strict base64url gives no kid */
	assert_int_equal(vd_keeper_jwt_verify(f->k, NULL, "eyJra WQiOiJ4In0.e30.AA", time(NULL), &got, &kid),
			 PV_ERR_BAD_INPUT);
	assert_null(kid);

	/* a rotation shows once the TTL has passed */
	assert_int_equal(pv_keys_rotate(ks, "jw-es", 1, NULL), PV_OK);
	sleep(2);
	assert_int_equal(vd_keeper_jwks(f->k, &j2, &l2, &e2), PV_OK);
	assert_string_not_equal(e1, e2);
	assert_true(l2 > l1);
	free(j2);
	free(e2);
	/* flush drops the cache at once */
	assert_int_equal(pv_keys_activate(ks, "jw-es", 2), PV_OK);
	vd_keeper_set_meta_ttl(f->k, 60);
	vd_keeper_flush(f->k);
	assert_int_equal(vd_keeper_jwks(f->k, &j2, &l2, &e2), PV_OK);
	free(j1);
	free(e1);
	assert_int_equal(vd_keeper_jwks(f->k, &j1, &l1, &e1), PV_OK);
	assert_string_equal(e1, e2);
	free(j1);
	free(e1);
	free(j2);
	free(e2);
	free(tok);
	cJSON_Delete(claims);
}

/* The signing path's metadata can be newer than the cached JWK Set (their
 * TTLs started at different times): a token signed with a version the set
 * lacks makes the set be built again before the token is returned. */
static void
test_jwks_covers_issued_kid(void **state)
{
	struct fixture *f = *state;
	pv_keystore *ks = vd_keeper_ks(f->k);
	struct pv_jwt_opts jo = {0};
	char *j1 = NULL, *e1 = NULL, *j2 = NULL, *e2 = NULL, *tok = NULL, *kid = NULL;
	cJSON *claims = cJSON_CreateObject(), *got = NULL;
	size_t l1 = 0, l2 = 0;

	assert_non_null(claims);
	assert_non_null(cJSON_AddStringToObject(claims, "sub", "alice"));
	jo.iss = "https://issuer.test";
	vd_keeper_set_meta_ttl(f->k, 600);
	assert_int_equal(pv_keys_create(ks, "jw-cover", PV_ALG_P256, PV_PURPOSE_JWT, NULL), PV_OK);
	assert_int_equal(vd_keeper_jwks(f->k, &j1, &l1, &e1), PV_OK);
	assert_int_equal(pv_keys_rotate(ks, "jw-cover", 0, NULL), PV_OK);
	/* only the keystore's copy is dropped, as when its TTL ran out first */
	pv_keystore_flush(ks);
	assert_int_equal(
	    vd_keeper_jwt_issue(f->k, req(f, NULL, VD_USE_JWT_ISSUE, "jw-cover"), &jo, claims, &tok), PV_OK);
	assert_int_equal(vd_keeper_jwt_verify(f->k, NULL, tok, time(NULL), &got, &kid), PV_OK);
	assert_null(strstr(j1, kid)); /* the new version's kid */
	assert_int_equal(vd_keeper_jwks(f->k, &j2, &l2, &e2), PV_OK);
	assert_non_null(strstr(j2, kid));
	assert_string_not_equal(e1, e2);
	cJSON_Delete(got);
	free(kid);
	free(tok);
	free(j1);
	free(e1);
	free(j2);
	free(e2);
	cJSON_Delete(claims);
}

/* ---- decisions: policy, purpose, intent ---- */

/* Unsigned legacy EIP-155 transactions (nonce 0, gas price 1, gas 21000,
 * to 0x3535...35): value 1000 wei on chain 1, 1001 wei on chain 1, and
 * 1000 wei on chain 5. */
#define TX_HEAD "e180018252089435353535353535353535353535353535353535358203"
static const char tx_ok[] = TX_HEAD "e880018080";
static const char tx_value[] = TX_HEAD "e980018080";
static const char tx_chain[] = TX_HEAD "e880058080";

static void
parse_tx(const char *hex, uint8_t *raw, size_t cap, struct pv_evm_tx *tx)
{
	size_t len = 0;

	assert_int_equal(pv_hex_decode(hex, strlen(hex), raw, cap, &len), PV_OK);
	if (pv_evm_tx_parse(raw, len, tx) != PV_OK)
		fail_msg("tx %s: %s", hex, pv_err_detail());
}

/* Sign what the intent says through the keeper, as client who. */
static pv_err
sign_as(struct fixture *f, const pv_client *who, enum vd_use use, const char *key, struct vd_kreq *q,
	const uint8_t *m, size_t len)
{
	struct pv_sign_opts o = {0};
	struct pv_sig sig;
	struct vd_kreq keep = *q;

	vd_kreq_init(q, &f->gen, who, use, key);
	q->intent = keep.intent;
	o.digest = PV_DIGEST_NONE;
	pv_err_clear_detail();
	return vd_keeper_sign(f->k, q, &o, m, len, &sig);
}

/*
 * The keeper decides every use: the policy before the key is looked up, a
 * key's purpose whatever operation was granted (an audit key for nothing at
 * all, even with a rule that covers it, as a key made after the config was
 * checked), a use and an operation that do not go together, and a capped
 * wallet rule's caps against the intent, whatever the handler did.
 */
static void
test_decisions(void **state)
{
	struct fixture *f = *state;
	pv_keystore *ks = vd_keeper_ks(f->k);
	uint8_t raw[64], h[32], digest[32] = {1};
	struct pv_sign_opts o = {0};
	struct pv_key *key = NULL, **keys = NULL;
	enum vd_key_origin *orig = NULL;
	struct pv_eip712_hashes typed;
	struct pv_evm_tx tx;
	struct vd_kreq q;
	struct pv_sig sig;
	EVP_PKEY *pk = NULL;
	uint8_t mac[32];
	size_t n = 0, i;
	int seen_sign = 0;

	assert_int_equal(pv_keys_create(ks, "de-jwt", PV_ALG_P256, PV_PURPOSE_JWT, NULL), PV_OK);
	assert_int_equal(pv_keys_create(ks, "de-sign", PV_ALG_P256, PV_PURPOSE_SIGN, NULL), PV_OK);
	assert_int_equal(pv_keys_create(ks, "de-audit", PV_ALG_HMAC_SHA256, PV_PURPOSE_AUDIT, NULL), PV_OK);
	assert_int_equal(pv_keys_create(ks, "lim-jwt", PV_ALG_P256, PV_PURPOSE_JWT, NULL), PV_OK);
	assert_int_equal(pv_keys_create(ks, "lim-sign", PV_ALG_ED25519, PV_PURPOSE_SIGN, NULL), PV_OK);
	assert_int_equal(pv_keys_create(ks, "lw-evm", PV_ALG_SECP256K1, PV_PURPOSE_EVM, NULL), PV_OK);

	/* a sign grant does not reach a JWT key; a JWT grant not a sign key */
	assert_int_equal(
	    vd_keeper_sign(f->k, req(f, NULL, VD_USE_SIGN, "de-jwt"), &o, msg, sizeof(msg), &sig),
	    PV_ERR_PURPOSE);
	assert_non_null(strstr(pv_err_detail(), "purpose jwt"));
	assert_int_equal(vd_keeper_verify(f->k, req(f, NULL, VD_USE_VERIFY, "de-jwt"), &o, msg, sizeof(msg),
					  digest, sizeof(digest)),
			 PV_ERR_PURPOSE);
	assert_int_equal(vd_keeper_key(f->k, req(f, NULL, VD_USE_JWT_ISSUE, "de-sign"), &key, NULL),
			 PV_ERR_PURPOSE);
	assert_null(key);
	/* the audit key: no use at all, not even reading it */
	assert_int_equal(vd_keeper_key(f->k, req(f, NULL, VD_USE_READ, "de-audit"), &key, NULL),
			 PV_ERR_PURPOSE);
	assert_non_null(strstr(pv_err_detail(), "audit"));
	assert_int_equal(
	    vd_keeper_sign(f->k, req(f, NULL, VD_USE_SIGN, "de-audit"), &o, msg, sizeof(msg), &sig),
	    PV_ERR_PURPOSE);
	assert_int_equal(
	    vd_keeper_derive(f->k, req(f, NULL, VD_USE_DERIVE, "de-audit"), msg, sizeof(msg), mac, NULL),
	    PV_ERR_PURPOSE);
	assert_int_equal(vd_keeper_public(f->k, req(f, NULL, VD_USE_READ, "de-audit"), 0, &pk),
			 PV_ERR_PURPOSE);
	assert_int_equal(vd_keeper_keys(f->k, req(f, NULL, VD_USE_READ, NULL), &keys, &orig, &n), PV_OK);
	for (i = 0; i < n; i++) {
		assert_int_not_equal(keys[i]->purpose, PV_PURPOSE_AUDIT);
		seen_sign += strcmp(keys[i]->name, "de-sign") == 0;
	}
	assert_int_equal(seen_sign, 1);
	pv_keys_list_free(keys, n);
	free(orig);

	/* a use and an operation that do not go together: a bug, refused */
	vd_kreq_init(&q, &f->gen, f->client, VD_USE_SIGN, "de-sign");
	q.op = PV_OP_WALLET_SIGN;
	assert_int_equal(vd_keeper_sign(f->k, &q, &o, msg, sizeof(msg), &sig), PV_ERR_INTERNAL);
	/* a use that does not sign, or one another call serves */
	assert_int_equal(
	    vd_keeper_sign(f->k, req(f, NULL, VD_USE_READ, "de-sign"), &o, msg, sizeof(msg), &sig),
	    PV_ERR_INTERNAL);
	assert_int_equal(vd_keeper_verify(f->k, req(f, NULL, VD_USE_SIGN, "de-sign"), &o, msg, sizeof(msg),
					  digest, sizeof(digest)),
			 PV_ERR_INTERNAL);

	/* the policy first: a name the client has no grant for is 403
	 * whether or not it exists */
	vd_kreq_init(&q, &f->gen, f->limited, VD_USE_SIGN, "no-such");
	assert_int_equal(vd_keeper_key(f->k, &q, &key, NULL), PV_ERR_FORBIDDEN);
	vd_kreq_init(&q, &f->gen, f->limited, VD_USE_SIGN, "de-sign");
	assert_int_equal(vd_keeper_key(f->k, &q, &key, NULL), PV_ERR_FORBIDDEN);
	vd_kreq_init(&q, &f->gen, f->limited, VD_USE_SIGN, "lim-none");
	assert_int_equal(vd_keeper_key(f->k, &q, &key, NULL), PV_ERR_NOT_FOUND);
	memset(&q, 0, sizeof(q));
	assert_int_equal(sign_as(f, f->limited, VD_USE_SIGN, "lim-jwt", &q, msg, sizeof(msg)),
			 PV_ERR_PURPOSE);
	assert_int_equal(sign_as(f, f->limited, VD_USE_SIGN, "lim-sign", &q, msg, sizeof(msg)), PV_OK);
	/* its listing: the lim-* keys only */
	vd_kreq_init(&q, &f->gen, f->limited, VD_USE_READ, NULL);
	assert_int_equal(vd_keeper_keys(f->k, &q, &keys, &orig, &n), PV_OK);
	assert_int_equal(n, 2);
	for (i = 0; i < n; i++)
		assert_memory_equal(keys[i]->name, "lim-", 4);
	pv_keys_list_free(keys, n);
	free(orig);

	/* the capped wallet rule (chain 1, at most 1000 wei) holds in the
	 * keeper, for every way of signing with the key */
	memset(&q, 0, sizeof(q));
	parse_tx(tx_ok, raw, sizeof(raw), &tx);
	assert_int_equal(pv_evm_tx_signing_hash(&tx, h), PV_OK);
	q.intent.evm_tx = &tx;
	assert_int_equal(sign_as(f, f->limited, VD_USE_EVM_TX, "lw-evm", &q, h, 32), PV_OK);
	/* the bytes must be the transaction's signing hash */
	assert_int_equal(sign_as(f, f->limited, VD_USE_EVM_TX, "lw-evm", &q, digest, 32), PV_ERR_INTERNAL);
	parse_tx(tx_value, raw, sizeof(raw), &tx);
	assert_int_equal(pv_evm_tx_signing_hash(&tx, h), PV_OK);
	assert_int_equal(sign_as(f, f->limited, VD_USE_EVM_TX, "lw-evm", &q, h, 32), PV_ERR_FORBIDDEN);
	assert_non_null(strstr(pv_err_detail(), "1001 wei"));
	parse_tx(tx_chain, raw, sizeof(raw), &tx);
	assert_int_equal(pv_evm_tx_signing_hash(&tx, h), PV_OK);
	assert_int_equal(sign_as(f, f->limited, VD_USE_EVM_TX, "lw-evm", &q, h, 32), PV_ERR_FORBIDDEN);
	assert_non_null(strstr(pv_err_detail(), "chain id 5"));
	/* that hash cannot go through another use: a digest is refused under
	 * caps, typed data must name chain 1 and be what is signed, a message
	 * is hashed the EIP-191 way, and the sign use needs a sign key */
	memset(&q, 0, sizeof(q));
	assert_int_equal(sign_as(f, f->limited, VD_USE_EVM_DIGEST, "lw-evm", &q, h, 32), PV_ERR_FORBIDDEN);
	memset(&typed, 0, sizeof(typed));
	memcpy(typed.digest, h, 32);
	q.intent.typed = &typed;
	assert_int_equal(sign_as(f, f->limited, VD_USE_EVM_TYPED, "lw-evm", &q, h, 32), PV_ERR_FORBIDDEN);
	typed.has_chain_id = typed.chain_id_fits = 1;
	typed.chain_id = 5;
	assert_int_equal(sign_as(f, f->limited, VD_USE_EVM_TYPED, "lw-evm", &q, h, 32), PV_ERR_FORBIDDEN);
	typed.chain_id = 1;
	assert_int_equal(sign_as(f, f->limited, VD_USE_EVM_TYPED, "lw-evm", &q, digest, 32), PV_ERR_INTERNAL);
	memset(&q, 0, sizeof(q));
	q.intent.message.bytes = h;
	q.intent.message.len = 32;
	assert_int_equal(sign_as(f, f->limited, VD_USE_EVM_MESSAGE, "lw-evm", &q, h, 32), PV_ERR_INTERNAL);
	assert_int_equal(pv_evm_personal_hash(h, 32, digest), PV_OK);
	assert_int_equal(sign_as(f, f->limited, VD_USE_EVM_MESSAGE, "lw-evm", &q, digest, 32), PV_OK);
	memset(&q, 0, sizeof(q));
	assert_int_equal(sign_as(f, f->client, VD_USE_SIGN, "lw-evm", &q, h, 32), PV_ERR_PURPOSE);
	/* without caps (client u), the digest is signed */
	assert_int_equal(sign_as(f, f->client, VD_USE_EVM_DIGEST, "lw-evm", &q, h, 32), PV_OK);
	/* a signing use without its intent signs nothing */
	assert_int_equal(sign_as(f, f->client, VD_USE_EVM_TX, "lw-evm", &q, h, 32), PV_ERR_INTERNAL);
}

/* The audit writer MACs through the keeper's callback, with a key of
 * purpose audit only, and the log verifies against the token. */
static void
test_audit_mac(void **state)
{
	struct fixture *f = *state;
	struct pv_audit_opts ao;
	struct pv_audit_rec rec;
	struct pv_audit_report rep;
	struct pv_audit_mac am;
	pv_audit *a = NULL;
	char path[128];
	int created = -1, fd;

	assert_int_equal(vd_keeper_make_audit_key(f->k, "am-audit", &created), PV_OK);
	assert_int_equal(created, 1);
	assert_int_equal(vd_keeper_make_audit_key(f->k, "am-audit", &created), PV_OK);
	assert_int_equal(created, 0);
	assert_int_equal(
	    pv_keys_create(vd_keeper_ks(f->k), "am-sign", PV_ALG_HMAC_SHA256, PV_PURPOSE_SIGN, NULL), PV_OK);
	assert_int_equal(vd_keeper_audit_mac(f->k, "am-sign", &am), PV_ERR_PURPOSE);
	assert_int_equal(vd_keeper_audit_mac(f->k, "am-none", &am), PV_ERR_NOT_FOUND);
	assert_int_equal(vd_keeper_audit_mac(f->k, "am-audit", &am), PV_OK);

	snprintf(path, sizeof(path), "%s/am.log", workdir);
	memset(&ao, 0, sizeof(ao));
	ao.path = path;
	ao.mac = am;
	ao.hmac_key = "am-audit";
	ao.every = 2;
	assert_int_equal(pv_audit_open(&ao, &a), PV_OK);
	memset(&rec, 0, sizeof(rec));
	rec.rid = "r";
	rec.client = "c";
	rec.op = "sign";
	rec.status = 200;
	assert_int_equal(pv_audit_write(a, &rec), PV_OK);
	assert_int_equal(pv_audit_write(a, &rec), PV_OK);
	assert_int_equal(pv_audit_write(a, &rec), PV_OK);
	assert_int_equal(pv_audit_close(a), PV_OK);
	assert_true((fd = open(path, O_RDONLY)) >= 0);
	if (pv_audit_verify(vd_keeper_ks(f->k), "am-audit", fd, &rep) != PV_OK)
		fail_msg("verify: %s", rep.reason);
	close(fd);
	assert_int_equal(rep.records, 3);
	assert_true(rep.verified >= 2);
	assert_int_equal(rep.verified, rep.checkpoints);
}

/* ---- the boot bundle ---- */

struct made_bundle {
	char path[128];
	EVP_PKEY *key; /* the private key sealed as entry "bk" */
};

/* A bundle for the token's AES KEK "kek" (made once) with env DB_PASSWORD,
 * file tls.pem and private key NAME (P-256). */
static void
make_bundle(struct fixture *f, const char *file, const char *keyname, const char *db_password,
	    struct made_bundle *mb)
{
	pv_keystore *ks = vd_keeper_ks(f->k);
	struct pv_key *kek = NULL;
	struct pv_key_version ver;
	struct pv_rcpt_spec spec;
	struct pv_bundle *b = NULL;
	pv_dek *dek = NULL;
	p11_obj obj;
	char *text = NULL;
	size_t len = 0;
	FILE *fp;
	pv_err r;

	r = pv_keys_create(ks, "kek", PV_ALG_AES256, PV_PURPOSE_WRAP, NULL);
	assert_true(r == PV_OK || r == PV_ERR_EXISTS);
	assert_int_equal(pv_keys_resolve(ks, "kek", 0, &kek, &ver, &obj), PV_OK);
	obj.handle = CK_INVALID_HANDLE;
	assert_int_equal(p11_obj_find(vd_keeper_token(f->k), &obj), PV_OK);
	memset(&spec, 0, sizeof(spec));
	spec.type = PV_RCPT_AES_KWP;
	spec.tok = vd_keeper_token(f->k);
	spec.kek = obj.handle;
	assert_int_equal(pv_bundle_rcpt_spec_kid(&spec), PV_OK);
	assert_int_equal(pv_bundle_new(&b), PV_OK);
	assert_int_equal(pv_dek_generate(&dek), PV_OK);
	assert_int_equal(pv_bundle_add_rcpt(b, dek, &spec), PV_OK);
	assert_int_equal(pv_bundle_put_value(b, dek, "DB_PASSWORD", PV_ENTRY_ENV,
					     (const uint8_t *)db_password, strlen(db_password)),
			 PV_OK);
	assert_int_equal(pv_bundle_put_value(b, dek, "tls.pem", PV_ENTRY_FILE, (const uint8_t *)"PEM\n", 4),
			 PV_OK);
	mb->key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_non_null(mb->key);
	assert_int_equal(pv_bundle_put_key(b, dek, keyname, mb->key, PV_PURPOSE_SIGN), PV_OK);
	assert_int_equal(pv_bundle_seal_check(b, dek), PV_OK);
	assert_int_equal(pv_bundle_serialize(b, &text, &len), PV_OK);
	snprintf(mb->path, sizeof(mb->path), "%s/%s", workdir, file);
	assert_non_null(fp = fopen(mb->path, "w"));
	assert_int_equal(fwrite(text, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
	free(text);
	pv_dek_free(dek);
	pv_bundle_free(b);
	pv_key_free(kek);
}

static struct pv_config *
bundle_config(const char *path, const char *more)
{
	char extra[512];

	/* unsigned test bundles: allowed explicitly (vd_gen_build refuses them
	 * outside --dev otherwise) */
	snprintf(extra, sizeof(extra), "\"bundle\":{\"path\":\"%s\",\"allow_unsigned\":true}%s%s", path,
		 more ? "," : "", more ? more : "");
	return config(extra);
}

/* Private key objects with the bundle keys' label (session objects too). */
static size_t
count_bundle_objects(p11_token *tok)
{
	static const char label[] = "p11vault-bundle-key";
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE a[] = {{CKA_CLASS, &cls, sizeof(cls)},
			    {CKA_LABEL, (void *)(uintptr_t)label, strlen(label)}};
	CK_OBJECT_HANDLE *hs = NULL;
	size_t n = 0;

	assert_int_equal(p11_find_all(tok, a, 2, &hs, &n), PV_OK);
	free(hs);
	return n;
}

static void
sign_bundle_key(struct fixture *f, const struct vd_secrets *s, const char *name, EVP_PKEY *pub)
{
	struct pv_sign_opts o = {0};
	struct pv_sig sig;

	if (vd_keeper_sign(f->k, req(f, s, VD_USE_SIGN, name), &o, msg, sizeof(msg), &sig) != PV_OK)
		fail_msg("sign with %s: %s", name, pv_err_detail());
	assert_int_equal(sig.version, 1);
	assert_true(ossl_verify(pub, "SHA256", msg, sizeof(msg), sig.bytes, sig.len, 32));
	assert_int_equal(
	    vd_keeper_verify(f->k, req(f, s, VD_USE_VERIFY, name), &o, msg, sizeof(msg), sig.bytes, sig.len),
	    PV_OK);
	sig.bytes[0] ^= 0x80;
	assert_int_equal(
	    vd_keeper_verify(f->k, req(f, s, VD_USE_VERIFY, name), &o, msg, sizeof(msg), sig.bytes, sig.len),
	    PV_ERR_BAD_SIGNATURE);
}

static void
test_bundle_secrets(void **state)
{
	struct fixture *f = *state;
	struct made_bundle mb;
	struct pv_config *cfg;
	struct vd_secrets *s = NULL;
	struct vd_secret_info info;
	struct pv_key **keys = NULL, *key = NULL;
	enum vd_key_origin *orig = NULL, origin;
	pv_secret *v = NULL;
	EVP_PKEY *pk = NULL;
	size_t n = 0, i;
	int seen = 0;
	static const char *const names[] = {"DB_PASSWORD", "PV_KT_ENV", "bk", "tls.pem"};
	static const char *const kinds[] = {"env", "env", "private-key", "file"};
	static const char *const origins[] = {"bundle", "environment", "bundle", "bundle"};

	make_bundle(f, "b1.bundle", "bk", "hunter2-planted", &mb);
	setenv("PV_KT_ENV", "env-value", 1);
	cfg = bundle_config(mb.path, "\"secrets\":{\"environment\":[\"PV_KT_ENV\"]}");
	if (vd_secrets_load(f->k, cfg, &s) != PV_OK)
		fail_msg("load: %s", pv_err_detail());
	assert_int_equal(vd_secrets_bundle_version(s), 1);
	assert_int_equal(vd_secrets_count(s), 4);
	for (i = 0; i < 4; i++) {
		vd_secrets_info(s, i, &info);
		assert_string_equal(info.name, names[i]);
		assert_string_equal(info.kind, kinds[i]);
		assert_string_equal(info.origin, origins[i]);
	}
	vd_secrets_info(s, 0, &info);
	assert_int_equal(info.size, strlen("hunter2-planted"));
	vd_secrets_info(s, 2, &info);
	assert_int_equal(info.size, 0);

	assert_int_equal(vd_secrets_get(s, "DB_PASSWORD", &v), PV_OK);
	assert_int_equal(pv_secret_len(v), strlen("hunter2-planted"));
	assert_memory_equal(pv_secret_ro(v), "hunter2-planted", strlen("hunter2-planted"));
	pv_secret_free(v);
	assert_int_equal(vd_secrets_get(s, "PV_KT_ENV", &v), PV_OK);
	assert_memory_equal(pv_secret_ro(v), "env-value", 9);
	pv_secret_free(v);
	v = NULL;
	assert_int_equal(vd_secrets_get(s, "bk", &v), PV_ERR_KEY_TYPE);
	assert_null(v);
	assert_int_equal(vd_secrets_get(s, "nope", &v), PV_ERR_NOT_FOUND);

	/* the bundle key: signs, verifies with the entry's public key */
	assert_int_equal(count_bundle_objects(vd_keeper_token(f->k)), 1);
	sign_bundle_key(f, s, "bk", mb.key);
	assert_int_equal(vd_keeper_public(f->k, req(f, s, VD_USE_READ, "bk"), 0, &pk), PV_OK);
	assert_int_equal(EVP_PKEY_eq(pk, mb.key), 1);
	EVP_PKEY_free(pk);
	pk = NULL;
	assert_int_equal(vd_keeper_public(f->k, req(f, s, VD_USE_READ, "bk"), 2, &pk), PV_ERR_NOT_FOUND);
	assert_int_equal(vd_keeper_key(f->k, req(f, s, VD_USE_READ, "bk"), &key, &origin), PV_OK);
	assert_int_equal(origin, VD_ORIGIN_BUNDLE);
	assert_int_equal(key->alg, PV_ALG_P256);
	assert_int_equal(key->nversions, 1);
	assert_int_equal(key->versions[0].state, PV_STATE_ACTIVE);
	pv_key_free(key);
	assert_int_equal(vd_keeper_keys(f->k, req(f, s, VD_USE_READ, NULL), &keys, &orig, &n), PV_OK);
	for (i = 0; i < n; i++)
		seen += strcmp(keys[i]->name, "bk") == 0 && orig[i] == VD_ORIGIN_BUNDLE;
	assert_int_equal(seen, 1);
	pv_keys_list_free(keys, n);
	free(orig);

	/* bundle keys do not issue JWTs (they never rotate) */
	vd_secrets_free(s);
	assert_int_equal(count_bundle_objects(vd_keeper_token(f->k)), 0);
	pv_config_free(cfg);
	EVP_PKEY_free(mb.key);
	unsetenv("PV_KT_ENV");
}

static void
expect_load_error(struct fixture *f, struct pv_config *cfg, pv_err want, const char *needle)
{
	struct vd_secrets *s = NULL;
	pv_err r = vd_secrets_load(f->k, cfg, &s);

	if (r != want || strstr(pv_err_detail(), needle) == NULL)
		fail_msg("got %d \"%s\", want %d with \"%s\"", (int)r, pv_err_detail(), (int)want, needle);
	assert_null(s);
	pv_config_free(cfg);
}

static void
test_bundle_refusals(void **state)
{
	struct fixture *f = *state;
	struct made_bundle mb, clash;
	char tampered[160], cmd[800];

	make_bundle(f, "b2.bundle", "bk2", "v", &mb);
	/* a configured environment variable that is not set */
	unsetenv("PV_KT_MISSING");
	expect_load_error(f, bundle_config(mb.path, "\"secrets\":{\"environment\":[\"PV_KT_MISSING\"]}"),
			  PV_ERR_NOT_FOUND, "PV_KT_MISSING");
	/* a name both in the bundle and in the environment list */
	setenv("DB_PASSWORD", "x", 1);
	expect_load_error(f, bundle_config(mb.path, "\"secrets\":{\"environment\":[\"DB_PASSWORD\"]}"),
			  PV_ERR_EXISTS, "DB_PASSWORD");
	unsetenv("DB_PASSWORD");
	/* a bundle key named like a token key */
	assert_int_equal(pv_keys_create(vd_keeper_ks(f->k), "clash", PV_ALG_P256, PV_PURPOSE_SIGN, NULL),
			 PV_OK);
	make_bundle(f, "b3.bundle", "clash", "v", &clash);
	expect_load_error(f, bundle_config(clash.path, NULL), PV_ERR_EXISTS, "clash");
	/* a changed byte in an entry's ciphertext */
	snprintf(tampered, sizeof(tampered), "%s/tampered.bundle", workdir);
	snprintf(cmd, sizeof(cmd),
		 "python3 -c \"import json,sys;d=json.load(open('%s'));"
		 "e=[x for x in d['entries'] if x['name']=='DB_PASSWORD'][0];"
		 "e['ct']=('A' if e['ct'][0]!='A' else 'B')+e['ct'][1:];"
		 "json.dump(d,open('%s','w'))\"",
		 mb.path, tampered);
	assert_int_equal(system(cmd), 0);
	expect_load_error(f, bundle_config(tampered, NULL), PV_ERR_INTEGRITY, tampered);
	/* a missing file */
	expect_load_error(f, bundle_config("/nonexistent/b.bundle", NULL), PV_ERR_NOT_FOUND,
			  "/nonexistent/b.bundle");
	/* rollback protection */
	{
		char more[600];

		snprintf(more, sizeof(more), "\"bundle\":{\"path\":\"%s\",\"min_version\":2}", mb.path);
		expect_load_error(f, config(more), PV_ERR_INTEGRITY, "minimum");
	}
	assert_int_equal(count_bundle_objects(vd_keeper_token(f->k)), 0);
	EVP_PKEY_free(mb.key);
	EVP_PKEY_free(clash.key);
}

/* The token lost its session objects (device removed): the bundle key is
 * unwrapped again, once; a handle that only went stale is found again
 * without unwrapping. */
static void
test_bundle_key_after_recovery(void **state)
{
	struct fixture *f = *state;
	struct pv_sign_opts o = {0};
	struct p11_token_stats before, after;
	struct made_bundle mb;
	struct pv_config *cfg;
	struct vd_secrets *s = NULL;
	struct pv_sig sig;
	p11_token *tok = vd_keeper_token(f->k);

	assert_int_equal(pv_keys_create(vd_keeper_ks(f->k), "rc-tok", PV_ALG_P256, PV_PURPOSE_SIGN, NULL),
			 PV_OK);
	make_bundle(f, "b4.bundle", "rbk", "v", &mb);
	cfg = bundle_config(mb.path, NULL);
	assert_int_equal(vd_secrets_load(f->k, cfg, &s), PV_OK);
	sign_bundle_key(f, s, "rbk", mb.key);

	/* a stale handle only: found again by CKA_ID, no unwrap */
	p11_token_get_stats(tok, &before);
	assert_int_equal(fault_set("C_SignInit:CKR_OBJECT_HANDLE_INVALID:1"), 0);
	assert_int_equal(vd_keeper_sign(f->k, req(f, s, VD_USE_SIGN, "rc-tok"), &o, msg, sizeof(msg), &sig),
			 PV_OK);
	assert_int_equal(fault_set(""), 0);
	p11_token_get_stats(tok, &after);
	assert_true(after.generation > before.generation);
	fault_reset_counts();
	sign_bundle_key(f, s, "rbk", mb.key);
	assert_int_equal(fault_count("C_UnwrapKey"), 0);
	assert_int_equal(count_bundle_objects(tok), 1);

	/* the device went away: every session object is gone */
	assert_int_equal(fault_set("C_Sign:CKR_DEVICE_REMOVED:1"), 0);
	assert_int_equal(vd_keeper_sign(f->k, req(f, s, VD_USE_SIGN, "rc-tok"), &o, msg, sizeof(msg), &sig),
			 PV_OK);
	assert_int_equal(fault_set(""), 0);
	assert_int_equal(count_bundle_objects(tok), 0);
	fault_reset_counts();
	sign_bundle_key(f, s, "rbk", mb.key);
	/* the DEK and the key: two unwraps, once */
	assert_int_equal(fault_count("C_UnwrapKey"), 2);
	sign_bundle_key(f, s, "rbk", mb.key);
	assert_int_equal(fault_count("C_UnwrapKey"), 2);
	assert_int_equal(count_bundle_objects(tok), 1);

	/* lost while in use: the sign itself meets the recovery */
	assert_int_equal(fault_set("C_Sign:CKR_DEVICE_REMOVED:1"), 0);
	sign_bundle_key(f, s, "rbk", mb.key);
	assert_int_equal(fault_set(""), 0);
	assert_int_equal(count_bundle_objects(tok), 1);

	vd_secrets_free(s);
	assert_int_equal(count_bundle_objects(tok), 0);
	pv_config_free(cfg);
	EVP_PKEY_free(mb.key);
}

struct racer {
	struct fixture *f;
	const struct vd_secrets *s;
	pthread_barrier_t *go;
	pv_err r;
};

static void *
race_sign(void *arg)
{
	struct racer *rc = arg;
	struct pv_sign_opts o = {0};
	struct vd_kreq q;
	struct pv_sig sig;
	int i;

	pthread_barrier_wait(rc->go);
	for (i = 0; i < 5 && rc->r == PV_OK; i++) {
		/* each thread its own request; the generation (and its bundle
		 * secrets) is the fixture's, set before the threads started */
		vd_kreq_init(&q, &rc->f->gen, rc->f->client, VD_USE_SIGN, "race");
		rc->r = vd_keeper_sign(rc->f->k, &q, &o, msg, sizeof(msg), &sig);
	}
	return NULL;
}

/* Many threads meet the lost key at once: one unwraps, the others wait
 * for it; nobody fails and the key is unwrapped once. */
static void
test_bundle_key_race(void **state)
{
	struct fixture *f = *state;
	struct pv_sign_opts o = {0};
	struct made_bundle mb;
	struct pv_config *cfg;
	struct vd_secrets *s = NULL;
	struct racer rc[8];
	pthread_t th[8];
	pthread_barrier_t go;
	struct pv_sig sig;
	size_t i;

	assert_int_equal(pv_keys_create(vd_keeper_ks(f->k), "race-tok", PV_ALG_P256, PV_PURPOSE_SIGN, NULL),
			 PV_OK);
	make_bundle(f, "b6.bundle", "race", "v", &mb);
	cfg = bundle_config(mb.path, NULL);
	assert_int_equal(vd_secrets_load(f->k, cfg, &s), PV_OK);
	assert_int_equal(fault_set("C_Sign:CKR_DEVICE_REMOVED:1"), 0);
	assert_int_equal(vd_keeper_sign(f->k, req(f, s, VD_USE_SIGN, "race-tok"), &o, msg, sizeof(msg), &sig),
			 PV_OK);
	assert_int_equal(fault_set(""), 0);
	assert_int_equal(count_bundle_objects(vd_keeper_token(f->k)), 0);
	fault_reset_counts();
	assert_int_equal(pthread_barrier_init(&go, NULL, PV_NELEM(th)), 0);
	for (i = 0; i < PV_NELEM(th); i++) {
		rc[i] = (struct racer){f, s, &go, PV_OK};
		assert_int_equal(pthread_create(&th[i], NULL, race_sign, &rc[i]), 0);
	}
	for (i = 0; i < PV_NELEM(th); i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(rc[i].r, PV_OK);
	}
	pthread_barrier_destroy(&go);
	/* the DEK and the key, once */
	assert_int_equal(fault_count("C_UnwrapKey"), 2);
	assert_int_equal(count_bundle_objects(vd_keeper_token(f->k)), 1);
	sign_bundle_key(f, s, "race", mb.key);
	vd_secrets_free(s);
	pv_config_free(cfg);
	EVP_PKEY_free(mb.key);
}

/* Generations: build, publish, acquire across a reload; a bad file on
 * reload keeps the running generation; dev mode and "required": false
 * turn a bundle failure into a warning. */
static void
test_generations(void **state)
{
	struct fixture *f = *state;
	struct vd_daemon d;
	struct made_bundle mb;
	struct vd_gen *g = NULL, *g2 = NULL, *held, *now;
	char path[128], *text, *warning = NULL, more[400];
	pv_secret *v = NULL;
	FILE *fp;

	make_bundle(f, "b5.bundle", "gk", "first", &mb);
	snprintf(path, sizeof(path), "%s/vaultd.json", workdir);
	snprintf(more, sizeof(more), "\"bundle\":{\"path\":\"%s\",\"allow_unsigned\":true}", mb.path);
	text = config_text(more);
	assert_non_null(fp = fopen(path, "w"));
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
	free(text);

	memset(&d, 0, sizeof(d));
	d.config_path = path;
	d.keeper = f->k;
	assert_int_equal(pthread_mutex_init(&d.gen_lock, NULL), 0);
	assert_int_equal(vd_gen_build(&d, bundle_config(mb.path, NULL), &g, &warning), PV_OK);
	/* the bundle loaded (a warning may only be about the rules, and
	 * allow_unsigned says it is believed without a signature) */
	if (warning == NULL || strstr(warning, "not loaded") != NULL ||
	    strstr(warning, "allow_unsigned") == NULL)
		fail_msg("warning: %s", warning ? warning : "(none)");
	free(warning);
	warning = NULL;
	/* without allow_unsigned and trusted_sealers: refused outside --dev */
	snprintf(more, sizeof(more), "\"bundle\":{\"path\":\"%s\"}", mb.path);
	assert_int_equal(vd_gen_build(&d, config(more), &g2, &warning), PV_ERR_USAGE);
	assert_null(g2);
	assert_non_null(strstr(pv_err_detail(), "trusted_sealers"));
	d.dev = 1;
	assert_int_equal(vd_gen_build(&d, config(more), &g2, &warning), PV_OK);
	d.dev = 0;
	free(warning);
	warning = NULL;
	vd_gen_release(g2);
	vd_gen_publish(&d, g);
	held = vd_gen_acquire(&d);
	assert_ptr_equal(held, g);
	assert_int_equal(held->number, 1);
	assert_int_equal(vd_secrets_get(held->secrets, "DB_PASSWORD", &v), PV_OK);
	assert_memory_equal(pv_secret_ro(v), "first", 5);
	pv_secret_free(v);

	/* re-seal with a new value, reload: new requests see it, the held
	 * generation keeps its own */
	EVP_PKEY_free(mb.key);
	make_bundle(f, "b5.bundle", "gk", "second", &mb);
	if (vd_reload(&d) != PV_OK)
		fail_msg("reload: %s", pv_err_detail());
	now = vd_gen_acquire(&d);
	assert_int_equal(now->number, 2);
	assert_int_equal(vd_secrets_get(now->secrets, "DB_PASSWORD", &v), PV_OK);
	assert_memory_equal(pv_secret_ro(v), "second", 6);
	pv_secret_free(v);
	assert_int_equal(vd_secrets_get(held->secrets, "DB_PASSWORD", &v), PV_OK);
	assert_memory_equal(pv_secret_ro(v), "first", 5);
	pv_secret_free(v);
	/* both generations' keys are on the token until the old one is released */
	assert_int_equal(count_bundle_objects(vd_keeper_token(f->k)), 2);
	vd_gen_release(held);
	assert_int_equal(count_bundle_objects(vd_keeper_token(f->k)), 1);

	/* a bad file: refused with its field path, generation 2 stays */
	assert_non_null(fp = fopen(path, "w"));
	fputs("{\"token\":{}}", fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(vd_reload(&d), PV_ERR_BAD_INPUT);
	assert_non_null(strstr(pv_err_detail(), "token.uri"));
	held = vd_gen_acquire(&d);
	assert_ptr_equal(held, now);
	vd_gen_release(held);
	vd_gen_release(now);

	/* a broken bundle: production refuses, dev mode and required:false warn */
	assert_int_equal(vd_gen_build(&d, bundle_config("/nonexistent/x.bundle", NULL), &g, &warning),
			 PV_ERR_NOT_FOUND);
	assert_null(g);
	assert_null(warning);
	snprintf(
	    more, sizeof(more),
	    "\"bundle\":{\"path\":\"/nonexistent/x.bundle\",\"required\":false,\"allow_unsigned\":true}");
	assert_int_equal(vd_gen_build(&d, config(more), &g, &warning), PV_OK);
	assert_non_null(warning);
	assert_non_null(strstr(warning, "/nonexistent/x.bundle"));
	assert_int_equal(vd_secrets_count(g->secrets), 0);
	free(warning);
	warning = NULL;
	vd_gen_release(g);
	g = NULL;
	d.dev = 1;
	assert_int_equal(vd_gen_build(&d, bundle_config("/nonexistent/x.bundle", NULL), &g, &warning), PV_OK);
	assert_non_null(warning);
	free(warning);
	vd_gen_release(g);

	/* no config file (--dev): nothing to reload */
	d.config_path = NULL;
	assert_int_equal(vd_reload(&d), PV_ERR_USAGE);
	vd_gen_release(d.gen);
	pthread_mutex_destroy(&d.gen_lock);
	assert_int_equal(count_bundle_objects(vd_keeper_token(f->k)), 0);
	EVP_PKEY_free(mb.key);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_sign_verify, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_derive, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ecdh, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_jwks_and_jwt, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_jwks_covers_issued_kid, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_decisions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_audit_mac, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bundle_secrets, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bundle_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bundle_key_after_recovery, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bundle_key_race, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_generations, setup, teardown),
	};
	void *dl;
	int r;

	if (pv_secmem_init() != PV_OK)
		return 1;
	if ((r = tu_make_token(&T, "pvkeeper")) != 0)
		return r == TU_SKIP ? TU_SKIP : 1;
	if (access(PV_FAULTMOD, R_OK) != 0) {
		fprintf(stderr, "fault shim %s not built\n", PV_FAULTMOD);
		return 1;
	}
	setenv("PV_FAULT_MODULE", T.module, 1);
	snprintf(workdir, sizeof(workdir), "%s", T.dir);
	/* load the shim once so that its controls can be found */
	if ((dl = dlopen(PV_FAULTMOD, RTLD_NOW)) == NULL)
		return 1;
	*(void **)(&fault_set) = dlsym(dl, "pv_fault_set");
	*(void **)(&fault_count) = dlsym(dl, "pv_fault_count");
	*(void **)(&fault_reset_counts) = dlsym(dl, "pv_fault_reset_counts");
	if (fault_set == NULL || fault_count == NULL || fault_reset_counts == NULL)
		return 1;
	r = cmocka_run_group_tests(tests, NULL, NULL);
	tu_remove_token(&T);
	return r;
}
