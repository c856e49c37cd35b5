#include "config.h"

#include <pthread.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/digest.h"
#include "core/keccak.h"

static const struct {
	pv_digest d;
	const char *name;
	size_t len;
} digests[] = {
    {PV_DIGEST_NONE, "none", 0},
    {PV_DIGEST_SHA256, "sha256", 32},
    {PV_DIGEST_SHA384, "sha384", 48},
    {PV_DIGEST_SHA512, "sha512", 64},
    {PV_DIGEST_KECCAK256, "keccak256", PV_KECCAK256_LEN},
};

pv_err
pv_digest_from_name(const char *name, pv_digest *out)
{
	size_t i;

	*out = PV_DIGEST_DEFAULT;
	if (name == NULL)
		return PV_ERR_USAGE;
	for (i = 0; i < PV_NELEM(digests); i++) {
		if (strcmp(digests[i].name, name) == 0) {
			*out = digests[i].d;
			return PV_OK;
		}
	}
	pv_err_set_detail("unknown digest \"%.32s\"", name);
	return PV_ERR_USAGE;
}

const char *
pv_digest_name(pv_digest d)
{
	size_t i;

	for (i = 0; i < PV_NELEM(digests); i++)
		if (digests[i].d == d)
			return digests[i].name;
	return "default";
}

size_t
pv_digest_len(pv_digest d)
{
	size_t i;

	for (i = 0; i < PV_NELEM(digests); i++)
		if (digests[i].d == d)
			return digests[i].len;
	return 0;
}

/* OpenSSL 3 looks a legacy EVP_sha256() up in its provider tables on every
 * use (a fetch, with locks and property matching, about 10k instructions
 * per digest of a short input); fetched once, the same digest is direct.
 * Kept for the life of the process. */
static EVP_MD *fetched[3];
static pthread_once_t fetched_once = PTHREAD_ONCE_INIT;

static void
fetch_digests(void)
{
	fetched[0] = EVP_MD_fetch(NULL, "SHA256", NULL);
	fetched[1] = EVP_MD_fetch(NULL, "SHA384", NULL);
	fetched[2] = EVP_MD_fetch(NULL, "SHA512", NULL);
}

const EVP_MD *
pv_digest_evp_md(pv_digest d)
{
	int i;

	switch (d) {
	case PV_DIGEST_SHA256:
		i = 0;
		break;
	case PV_DIGEST_SHA384:
		i = 1;
		break;
	case PV_DIGEST_SHA512:
		i = 2;
		break;
	default:
		return NULL;
	}
	(void)pthread_once(&fetched_once, fetch_digests);
	if (fetched[i] != NULL)
		return fetched[i];
	return i == 0 ? EVP_sha256() : i == 1 ? EVP_sha384() : EVP_sha512();
}

pv_err
pv_digest_compute(pv_digest d, const uint8_t *in, size_t len, uint8_t *out, size_t *outlen)
{
	const EVP_MD *md;
	unsigned int mdlen = 0;

	*outlen = 0;
	if (in == NULL && len != 0)
		return PV_ERR_USAGE;
	if (d == PV_DIGEST_KECCAK256) {
		pv_keccak256(in, len, out);
		*outlen = PV_KECCAK256_LEN;
		return PV_OK;
	}
	if ((md = pv_digest_evp_md(d)) == NULL) {
		pv_err_set_detail("digest %s cannot be computed", pv_digest_name(d));
		return PV_ERR_USAGE;
	}
	if (EVP_Digest(in, len, out, &mdlen, md, NULL) != 1) {
		pv_err_set_detail("EVP_Digest failed");
		return PV_ERR_CRYPTO;
	}
	*outlen = mdlen;
	return PV_OK;
}

pv_digest
pv_digest_by_len(size_t len)
{
	switch (len) {
	case 32:
		return PV_DIGEST_SHA256;
	case 48:
		return PV_DIGEST_SHA384;
	case 64:
		return PV_DIGEST_SHA512;
	default:
		return PV_DIGEST_NONE;
	}
}
