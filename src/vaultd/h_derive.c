/* POST /v1/derive/{name}, POST /v1/ecdh/{name}. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "base/secmem.h"
#include "core/b64.h"
#include "core/pubkey.h"
#include "vaultd/handlers.h"

/* Longest derivation context, in bytes. */
#define VD_DERIVE_CONTEXT_MAX 1024
/* Longest peer public key PEM accepted (a P-256 SPKI PEM is ~180 bytes). */
#define VD_PEER_PEM_MAX       4096

/* {"<member>": base64(bytes)} as a reply that is wiped after sending. */
static void
reply_secret_b64(struct vd_ctx *c, const char *member, const uint8_t *bytes, size_t len)
{
	char *b64 = NULL;
	cJSON *o = NULL;
	pv_err r;

	if ((r = pv_b64_encode(bytes, len, &b64)) != PV_OK) {
		vd_fail(c, r);
		return;
	}
	if ((o = cJSON_CreateObject()) == NULL || cJSON_AddStringToObject(o, member, b64) == NULL) {
		cJSON_Delete(o);
		vd_fail(c, PV_ERR_NOMEM);
	} else {
		vd_reply_json_secret(c->resp, 200, o);
	}
	pv_wipe(b64, strlen(b64));
	free(b64);
}

void
vd_h_derive(struct vd_ctx *c)
{
	static const char *const members[] = {"context", NULL};
	uint8_t mac[32];
	struct pv_key *key = NULL;
	const char *context = NULL;
	struct vd_kreq q;
	unsigned version = 0;
	vd_rj *rj = NULL;
	pv_err r;

	if (vd_body(c, members, 0, &rj) != PV_OK)
		goto out;
	if ((r = vd_rj_string(rj, "context", 1, VD_DERIVE_CONTEXT_MAX, &context)) != PV_OK) {
		vd_fail(c, r);
		goto out;
	}
	if (vd_key(c, VD_USE_DERIVE, &q, &key) != PV_OK)
		goto out;
	if (key->alg != PV_ALG_HMAC_SHA256) {
		vd_reply_errorf(c->resp, 400, "wrong_algorithm",
				"derive needs an hmac-sha256 key; '%s' is %s", c->name,
				pv_alg_info(key->alg)->name);
		goto out;
	}
	pv_err_clear_detail();
	if ((r = vd_keeper_derive(c->d->keeper, &q, (const uint8_t *)context, strlen(context), mac,
				  &version)) != PV_OK) {
		vd_fail_key(c, r);
		goto out;
	}
	c->version = version;
	reply_secret_b64(c, "mac_b64", mac, sizeof(mac));
out:
	pv_wipe(mac, sizeof(mac));
	pv_key_free(key);
	vd_rj_free(rj);
}

/* A P-256 public key from PEM (SubjectPublicKeyInfo). */
static pv_err
peer_key(const char *pem, EVP_PKEY **out)
{
	BIO *bio = NULL;
	EVP_PKEY *pk = NULL;
	pv_err r = PV_ERR_BAD_INPUT;

	*out = NULL;
	if ((bio = BIO_new_mem_buf(pem, (int)strlen(pem))) == NULL)
		return PV_ERR_NOMEM;
	pk = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	ERR_clear_error();
	if (pk == NULL) {
		pv_err_set_detail("peer_public_key_pem is not a PEM public key");
		goto out;
	}
	if (pv_pubkey_alg(pk) != PV_ALG_P256) {
		pv_err_set_detail("peer_public_key_pem is not a P-256 public key");
		goto out;
	}
	*out = pk;
	pk = NULL;
	r = PV_OK;
out:
	EVP_PKEY_free(pk);
	BIO_free(bio);
	return r;
}

void
vd_h_ecdh(struct vd_ctx *c)
{
	static const char *const members[] = {"peer_public_key_pem", NULL};
	struct pv_key *key = NULL;
	struct vd_kreq q;
	const char *pem = NULL;
	EVP_PKEY *peer = NULL;
	pv_secret *shared = NULL;
	unsigned version = 0;
	vd_rj *rj = NULL;
	pv_err r;

	if (vd_body(c, members, 0, &rj) != PV_OK)
		goto out;
	if ((r = vd_rj_string(rj, "peer_public_key_pem", 1, VD_PEER_PEM_MAX, &pem)) != PV_OK) {
		vd_fail(c, r);
		goto out;
	}
	if (vd_key(c, VD_USE_ECDH, &q, &key) != PV_OK)
		goto out;
	if (key->alg != PV_ALG_P256) {
		vd_reply_errorf(c->resp, 400, "wrong_algorithm", "ecdh needs a p256 key; '%s' is %s", c->name,
				pv_alg_info(key->alg)->name);
		goto out;
	}
	pv_err_clear_detail();
	if ((r = peer_key(pem, &peer)) != PV_OK) {
		vd_fail(c, r);
		goto out;
	}
	pv_err_clear_detail();
	if ((r = vd_keeper_ecdh(c->d->keeper, &q, peer, &shared, &version)) != PV_OK) {
		vd_fail_key(c, r);
		goto out;
	}
	c->version = version;
	/* the secret leaves guarded memory only inside the reply, which is
	 * wiped when the response is freed (vd_resp_clear) */
	reply_secret_b64(c, "shared_secret_b64", pv_secret_ro(shared), pv_secret_len(shared));
	pv_secret_lock(shared);
out:
	pv_secret_free(shared);
	EVP_PKEY_free(peer);
	pv_key_free(key);
	vd_rj_free(rj);
}
