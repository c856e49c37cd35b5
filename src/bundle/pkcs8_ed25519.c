#include "config.h"

#include <string.h>

#include "base/buf.h"
#include "bundle/pkcs8_ed25519.h"

static const uint8_t oid_ed25519[] = {0x2b, 0x65, 0x70}; /* 1.3.101.112 */

/* One DER TLV of this tag whose length must be exactly want. */
static pv_err
get_exact(pv_buf *b, uint8_t tag, size_t want, const char *what, const uint8_t **val)
{
	size_t len = 0;

	if (pv_buf_get_der(b, tag, val, &len) != PV_OK || len != want) {
		pv_err_set_detail("Ed25519 PKCS#8: %s is not the RFC 8410 layout", what);
		return PV_ERR_BAD_INPUT;
	}
	return PV_OK;
}

pv_err
pv_pkcs8_ed25519_seed(const uint8_t *der, size_t len, const uint8_t **seed)
{
	pv_buf *outer = NULL, *in = NULL, *alg = NULL, *pk = NULL;
	const uint8_t *v = NULL;
	pv_err r;

	*seed = NULL;
	if (der == NULL || len != PV_ED25519_PKCS8_LEN) {
		pv_err_set_detail("Ed25519 PKCS#8: %zu bytes, not %d", der == NULL ? 0 : len,
				  PV_ED25519_PKCS8_LEN);
		return PV_ERR_BAD_INPUT;
	}
	if ((r = pv_buf_view(der, len, &outer)) != PV_OK)
		goto out;
	if ((r = get_exact(outer, 0x30, 46, "the PrivateKeyInfo", &v)) != PV_OK)
		goto out;
	if ((r = pv_buf_view(v, 46, &in)) != PV_OK)
		goto out;
	if ((r = get_exact(in, 0x02, 1, "the version", &v)) != PV_OK)
		goto out;
	if (v[0] != 0) {
		pv_err_set_detail("Ed25519 PKCS#8: version %u, not 0", v[0]);
		r = PV_ERR_BAD_INPUT;
		goto out;
	}
	if ((r = get_exact(in, 0x30, 5, "the algorithm", &v)) != PV_OK ||
	    (r = pv_buf_view(v, 5, &alg)) != PV_OK)
		goto out;
	if ((r = get_exact(alg, 0x06, sizeof(oid_ed25519), "the algorithm OID", &v)) != PV_OK)
		goto out;
	if (memcmp(v, oid_ed25519, sizeof(oid_ed25519)) != 0) {
		pv_err_set_detail("Ed25519 PKCS#8: the algorithm is not id-Ed25519 (1.3.101.112)");
		r = PV_ERR_BAD_INPUT;
		goto out;
	}
	if ((r = get_exact(in, 0x04, 2 + PV_ED25519_SEED_LEN, "the privateKey", &v)) != PV_OK ||
	    (r = pv_buf_view(v, 2 + PV_ED25519_SEED_LEN, &pk)) != PV_OK)
		goto out;
	if ((r = get_exact(pk, 0x04, PV_ED25519_SEED_LEN, "the CurvePrivateKey", &v)) != PV_OK)
		goto out;
	/* every level consumed: no attributes, no public key, no trailing bytes */
	if (pv_buf_len(outer) != 0 || pv_buf_len(in) != 0 || pv_buf_len(alg) != 0 || pv_buf_len(pk) != 0) {
		pv_err_set_detail("Ed25519 PKCS#8: unexpected bytes after the key");
		r = PV_ERR_BAD_INPUT;
		goto out;
	}
	*seed = v;
	r = PV_OK;
out:
	/* views only: pv_buf_free must not wipe the caller's bytes */
	pv_buf_free(pk);
	pv_buf_free(alg);
	pv_buf_free(in);
	pv_buf_free(outer);
	return r;
}
