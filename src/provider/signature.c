/*
 * SIGNATURE: ECDSA, EdDSA (Ed25519) and RSA (PKCS#1 v1.5 and PSS), issue 16.
 *
 * Signing goes to the token through p11v_backend_sign, always with a
 * digest made here in software (EVP_MD of the private library context),
 * except EdDSA, which signs the whole message in one shot. Verification is
 * done in software with the public half. A size query (no output buffer)
 * answers the largest signature and never signs.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rsa.h>

#include "base/defs.h"
#include "provider/provider.h"

enum sig_family { FAM_ECDSA, FAM_EDDSA, FAM_RSA };
enum sig_op { OP_NONE, OP_SIGN, OP_VERIFY };

/*
 * The digests we sign with: the name handed to the backend, the names
 * OpenSSL knows it by, its size, and the last bytes of the OIDs of
 * ecdsa-with-X (1.2.840.10045.4.3.N or, for SHA-1, 4.1) and
 * XWithRSAEncryption (1.2.840.113549.1.1.N); nist is the last byte of the
 * digest's own OID (2.16.840.1.101.3.4.2.N), 0 for SHA-1.
 */
struct md_info {
	const char *name;
	const char *ossl_name;
	size_t size;
	uint8_t ecdsa_last;
	uint8_t rsa_last;
	uint8_t nist;
};

static const struct md_info mds[] = {
    {"SHA1", "SHA1", 20, 0, 5, 0},        {"SHA224", "SHA2-224", 28, 1, 14, 4},
    {"SHA256", "SHA2-256", 32, 2, 11, 1}, {"SHA384", "SHA2-384", 48, 3, 12, 2},
    {"SHA512", "SHA2-512", 64, 4, 13, 3},
};

struct sigctx {
	p11v_prov *p;
	enum sig_family fam;
	enum sig_op op;
	p11v_key *k;
	char *propq;
	const struct md_info *md;   /* NULL: not chosen yet */
	EVP_MD *evp_md;             /* of md, in p11v_libctx */
	EVP_MD_CTX *mdctx;          /* digest_sign / digest_verify in progress */
	int updated;                /* mdctx has taken data (digest_update) */
	int pad;                    /* RSA_PKCS1_PADDING or RSA_PKCS1_PSS_PADDING */
	int saltlen;                /* RSA_PSS_SALTLEN_* or a number of bytes */
	const struct md_info *mgf1; /* NULL: the same as md */
	/* An RSA-PSS key restricted by its parameters (RFC 4055). */
	int restricted;
	const struct md_info *r_md, *r_mgf1;
	int r_minsalt;
};

static const struct md_info *
md_lookup(struct sigctx *c, const char *name, const char *propq, EVP_MD **fetched)
{
	EVP_MD *md;
	size_t i;

	if (name == NULL || name[0] == '\0')
		return NULL;
	/* the usual spellings without a property query: the provider's own
	 * fetched digest (p11v_md_names is in the order of mds) */
	if (propq == NULL || propq[0] == '\0') {
		for (i = 0; i < PV_NELEM(mds); i++) {
			if (strcasecmp(name, mds[i].name) != 0 && strcasecmp(name, mds[i].ossl_name) != 0)
				continue;
			/* the two tables out of step: p11v_md(i) was fetched by
			 * p11v_md_names[i], so the names compared here are what
			 * EVP_MD_is_a would compare, without its lookups */
			if (strcmp(p11v_md_names[i], mds[i].ossl_name) != 0)
				break;
			if ((md = p11v_md(c->p, i)) == NULL)
				break;
			if (fetched != NULL)
				*fetched = md;
			else
				EVP_MD_free(md);
			return &mds[i];
		}
	}
	md = EVP_MD_fetch(p11v_libctx(c->p), name, propq);
	if (md != NULL) {
		for (i = 0; i < PV_NELEM(mds); i++) {
			if (EVP_MD_is_a(md, mds[i].ossl_name)) {
				if (fetched != NULL)
					*fetched = md;
				else
					EVP_MD_free(md);
				return &mds[i];
			}
		}
		EVP_MD_free(md);
	}
	p11v_raise(c->p, P11V_R_UNSUPPORTED, "digest %s is not supported for signing", name);
	return NULL;
}

static int
set_md(struct sigctx *c, const char *name, const char *propq)
{
	EVP_MD *evp = NULL;
	const struct md_info *m;

	if (c->fam == FAM_EDDSA) {
		if (name == NULL || name[0] == '\0')
			return 1;
		p11v_raise(c->p, P11V_R_UNSUPPORTED, "Ed25519 takes no digest (got %s)", name);
		return 0;
	}
	m = md_lookup(c, name, propq, &evp);
	if (m == NULL)
		return 0;
	if (c->restricted && m != c->r_md) {
		EVP_MD_free(evp);
		p11v_raise(c->p, P11V_R_UNSUPPORTED, "this RSA-PSS key is restricted to %s", c->r_md->name);
		return 0;
	}
	if (c->mdctx != NULL && c->md != m) {
		EVP_MD_free(evp);
		p11v_raise(c->p, P11V_R_UNSUPPORTED,
			   "the digest cannot change while a message is being hashed");
		return 0;
	}
	EVP_MD_free(c->evp_md);
	c->evp_md = evp;
	c->md = m;
	return 1;
}

/* ---- context ---- */

static void *
sig_newctx(void *provctx, const char *propq, enum sig_family fam)
{
	struct sigctx *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		p11v_raise(provctx, P11V_R_INTERNAL, "out of memory");
		return NULL;
	}
	c->p = provctx;
	c->fam = fam;
	c->pad = RSA_PKCS1_PADDING;
	c->saltlen = RSA_PSS_SALTLEN_AUTO;
	if (propq != NULL && (c->propq = strdup(propq)) == NULL) {
		free(c);
		p11v_raise(provctx, P11V_R_INTERNAL, "out of memory");
		return NULL;
	}
	return c;
}

static void *
sig_newctx_ecdsa(void *provctx, const char *propq)
{
	return sig_newctx(provctx, propq, FAM_ECDSA);
}

static void *
sig_newctx_eddsa(void *provctx, const char *propq)
{
	return sig_newctx(provctx, propq, FAM_EDDSA);
}

static void *
sig_newctx_rsa(void *provctx, const char *propq)
{
	return sig_newctx(provctx, propq, FAM_RSA);
}

static void
sig_freectx(void *ctx)
{
	struct sigctx *c = ctx;

	if (c == NULL)
		return;
	EVP_MD_CTX_free(c->mdctx);
	EVP_MD_free(c->evp_md);
	p11v_key_free(c->k);
	free(c->propq);
	free(c);
}

static void *
sig_dupctx(void *ctx)
{
	struct sigctx *src = ctx, *c;

	c = malloc(sizeof(*c));
	if (c == NULL) {
		p11v_raise(src->p, P11V_R_INTERNAL, "out of memory");
		return NULL;
	}
	*c = *src;
	c->propq = NULL;
	c->mdctx = NULL;
	c->evp_md = NULL;
	c->k = NULL;
	if (src->propq != NULL && (c->propq = strdup(src->propq)) == NULL)
		goto fail;
	if (src->evp_md != NULL) {
		if (!EVP_MD_up_ref(src->evp_md))
			goto fail;
		c->evp_md = src->evp_md;
	}
	if (src->mdctx != NULL) {
		c->mdctx = EVP_MD_CTX_new();
		if (c->mdctx == NULL || !EVP_MD_CTX_copy_ex(c->mdctx, src->mdctx))
			goto fail;
	}
	if (src->k != NULL) {
		p11v_key_up_ref(src->k);
		c->k = src->k;
	}
	return c;
fail:
	p11v_raise(src->p, P11V_R_INTERNAL, "cannot duplicate the signature context");
	sig_freectx(c);
	return NULL;
}

/* ---- parameters ---- */

static int
pad_from_param(struct sigctx *c, const OSSL_PARAM *p, int *pad)
{
	const char *s = NULL;

	if (p->data_type == OSSL_PARAM_INTEGER) {
		if (!OSSL_PARAM_get_int(p, pad))
			return 0;
	} else if (OSSL_PARAM_get_utf8_string_ptr(p, &s)) {
		if (strcmp(s, OSSL_PKEY_RSA_PAD_MODE_PKCSV15) == 0)
			*pad = RSA_PKCS1_PADDING;
		else if (strcmp(s, OSSL_PKEY_RSA_PAD_MODE_PSS) == 0)
			*pad = RSA_PKCS1_PSS_PADDING;
		else
			*pad = -1;
	} else {
		return 0;
	}
	if (*pad != RSA_PKCS1_PADDING && *pad != RSA_PKCS1_PSS_PADDING) {
		p11v_raise(c->p, P11V_R_UNSUPPORTED, "RSA signatures take pad mode pkcs1 or pss only");
		return 0;
	}
	if (c->restricted && *pad != RSA_PKCS1_PSS_PADDING) {
		p11v_raise(c->p, P11V_R_UNSUPPORTED, "an RSA-PSS key signs with pad mode pss only");
		return 0;
	}
	return 1;
}

static int
saltlen_from_param(struct sigctx *c, const OSSL_PARAM *p, int *out)
{
	const char *s = NULL;
	char *end;
	long v;

	if (p->data_type == OSSL_PARAM_INTEGER) {
		if (!OSSL_PARAM_get_int(p, out))
			return 0;
	} else if (OSSL_PARAM_get_utf8_string_ptr(p, &s)) {
		if (strcmp(s, OSSL_PKEY_RSA_PSS_SALT_LEN_DIGEST) == 0) {
			*out = RSA_PSS_SALTLEN_DIGEST;
		} else if (strcmp(s, OSSL_PKEY_RSA_PSS_SALT_LEN_MAX) == 0) {
			*out = RSA_PSS_SALTLEN_MAX;
		} else if (strcmp(s, OSSL_PKEY_RSA_PSS_SALT_LEN_AUTO) == 0) {
			*out = RSA_PSS_SALTLEN_AUTO;
		} else {
			v = strtol(s, &end, 10);
			if (s[0] == '\0' || *end != '\0' || v < RSA_PSS_SALTLEN_MAX || v > 65535)
				goto bad;
			*out = (int)v;
		}
	} else {
		return 0;
	}
	if (*out < RSA_PSS_SALTLEN_MAX)
		goto bad;
	return 1;
bad:
	p11v_raise(c->p, P11V_R_UNSUPPORTED, "bad PSS salt length (digest, max, auto or a number of bytes)");
	return 0;
}

static int
sig_set_ctx_params(void *ctx, const OSSL_PARAM params[])
{
	struct sigctx *c = ctx;
	const OSSL_PARAM *p;
	const char *mdname = NULL, *mdprops = NULL;
	int pad = c->pad, saltlen = c->saltlen;
	const struct md_info *mgf1 = c->mgf1;

	if (params == NULL)
		return 1;
	if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PROPERTIES)) != NULL &&
	    !OSSL_PARAM_get_utf8_string_ptr(p, &mdprops))
		return 0;
	if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_DIGEST)) != NULL) {
		if (!OSSL_PARAM_get_utf8_string_ptr(p, &mdname))
			return 0;
		if (!set_md(c, mdname, mdprops))
			return 0;
	}
	if (c->fam != FAM_RSA)
		return 1;
	if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PAD_MODE)) != NULL &&
	    !pad_from_param(c, p, &pad))
		return 0;
	if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PSS_SALTLEN)) != NULL) {
		if (pad != RSA_PKCS1_PSS_PADDING) {
			p11v_raise(c->p, P11V_R_UNSUPPORTED, "a salt length needs pad mode pss");
			return 0;
		}
		if (!saltlen_from_param(c, p, &saltlen))
			return 0;
	}
	if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_MGF1_DIGEST)) != NULL) {
		const char *name = NULL;

		if (pad != RSA_PKCS1_PSS_PADDING) {
			p11v_raise(c->p, P11V_R_UNSUPPORTED, "an MGF1 digest needs pad mode pss");
			return 0;
		}
		if (!OSSL_PARAM_get_utf8_string_ptr(p, &name))
			return 0;
		mgf1 = md_lookup(c, name, NULL, NULL);
		if (mgf1 == NULL)
			return 0;
		if (c->restricted && mgf1 != c->r_mgf1) {
			p11v_raise(c->p, P11V_R_UNSUPPORTED, "this RSA-PSS key is restricted to MGF1 with %s",
				   c->r_mgf1->name);
			return 0;
		}
	}
	c->pad = pad;
	c->saltlen = saltlen;
	c->mgf1 = mgf1;
	return 1;
}

static const OSSL_PARAM *
sig_settable_ctx_params(void *ctx, void *provctx)
{
	static const OSSL_PARAM ec[] = {
	    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
	    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PROPERTIES, NULL, 0),
	    OSSL_PARAM_END,
	};
	static const OSSL_PARAM rsa[] = {
	    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
	    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PROPERTIES, NULL, 0),
	    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL, 0),
	    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, NULL, 0),
	    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, NULL, 0),
	    OSSL_PARAM_END,
	};
	static const OSSL_PARAM none[] = {OSSL_PARAM_END};
	const struct sigctx *c = ctx;

	(void)provctx;
	if (c == NULL)
		return rsa;
	return c->fam == FAM_RSA ? rsa : c->fam == FAM_ECDSA ? ec : none;
}

/* ---- the RSA-PSS parameters ---- */

/* The salt length a PSS signature is made with (RFC 8017 9.1.1). */
static int
pss_saltlen(struct sigctx *c, int *out)
{
	int bits = EVP_PKEY_get_bits(p11v_key_pub(c->k));
	int emlen = (bits - 1 + 7) / 8;
	int hlen = (int)c->md->size;
	int max = emlen - hlen - 2;
	int s = c->saltlen;

	if (s == RSA_PSS_SALTLEN_DIGEST)
		s = hlen;
	else if (s == RSA_PSS_SALTLEN_MAX || s == RSA_PSS_SALTLEN_AUTO)
		s = max;
	if (s < 0 || s > max) {
		p11v_raise(c->p, P11V_R_UNSUPPORTED, "PSS salt length %d does not fit the key (at most %d)",
			   s, max);
		return 0;
	}
	if (c->restricted && s < c->r_minsalt) {
		p11v_raise(c->p, P11V_R_UNSUPPORTED, "this RSA-PSS key needs a salt of at least %d bytes",
			   c->r_minsalt);
		return 0;
	}
	*out = s;
	return 1;
}

static int
restrictions_of(struct sigctx *c)
{
	char md[64] = "", mgf1[64] = "";
	int salt = -1;
	OSSL_PARAM q[] = {
	    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_RSA_DIGEST, md, sizeof(md)),
	    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_RSA_MGF1_DIGEST, mgf1, sizeof(mgf1)),
	    OSSL_PARAM_int(OSSL_PKEY_PARAM_RSA_PSS_SALTLEN, &salt),
	    OSSL_PARAM_END,
	};

	c->restricted = 0;
	if (p11v_key_type(c->k) != P11V_KT_RSA_PSS)
		return 1;
	if (!EVP_PKEY_get_params(p11v_key_pub(c->k), q))
		return 0;
	if (!OSSL_PARAM_modified(&q[0]))
		return 1; /* unrestricted */
	c->r_md = md_lookup(c, md, NULL, NULL);
	c->r_mgf1 = OSSL_PARAM_modified(&q[1]) ? md_lookup(c, mgf1, NULL, NULL) : c->r_md;
	if (c->r_md == NULL || c->r_mgf1 == NULL)
		return 0;
	c->r_minsalt = OSSL_PARAM_modified(&q[2]) ? salt : 0;
	c->restricted = 1;
	return 1;
}

/* ---- AlgorithmIdentifier (DER) ---- */

static size_t
der_hash_aid(const struct md_info *m, uint8_t *out)
{
	static const uint8_t sha1[] = {0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00};
	static const uint8_t sha2[] = {0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
				       0x65, 0x03, 0x04, 0x02, 0x00, 0x05, 0x00};

	if (m->nist == 0) {
		memcpy(out, sha1, sizeof(sha1));
		return sizeof(sha1);
	}
	memcpy(out, sha2, sizeof(sha2));
	out[12] = m->nist;
	return sizeof(sha2);
}

/* The DER AlgorithmIdentifier of the signature this context makes; 0 when
 * there is none yet (no digest chosen). Every length is below 128. */
static size_t
aid_der(struct sigctx *c, uint8_t *out, size_t outsz)
{
	static const uint8_t ed25519[] = {0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70};
	static const uint8_t ecdsa_sha1[] = {0x30, 0x09, 0x06, 0x07, 0x2a, 0x86,
					     0x48, 0xce, 0x3d, 0x04, 0x01};
	static const uint8_t ecdsa[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
					0x48, 0xce, 0x3d, 0x04, 0x03, 0x00};
	static const uint8_t rsa[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
				      0xf7, 0x0d, 0x01, 0x01, 0x00, 0x05, 0x00};
	static const uint8_t pss_oid[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a};
	static const uint8_t mgf1_oid[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08};
	uint8_t buf[128], params[96], h[16];
	size_t n = 0, pn = 0, hn;
	const struct md_info *mgf1;
	int salt;

	if (c->fam == FAM_EDDSA) {
		memcpy(buf, ed25519, sizeof(ed25519));
		n = sizeof(ed25519);
		goto done;
	}
	if (c->md == NULL)
		return 0;
	if (c->fam == FAM_ECDSA) {
		if (c->md->nist == 0) {
			memcpy(buf, ecdsa_sha1, sizeof(ecdsa_sha1));
			n = sizeof(ecdsa_sha1);
		} else {
			memcpy(buf, ecdsa, sizeof(ecdsa));
			buf[sizeof(ecdsa) - 1] = c->md->ecdsa_last;
			n = sizeof(ecdsa);
		}
		goto done;
	}
	if (c->pad == RSA_PKCS1_PADDING) {
		memcpy(buf, rsa, sizeof(rsa));
		buf[12] = c->md->rsa_last;
		n = sizeof(rsa);
		goto done;
	}
	/* RSASSA-PSS-params: [0] hash, [1] MGF1(hash), [2] salt length, each
	 * left out when it is the default (SHA-1, MGF1 with SHA-1, 20). */
	if (!pss_saltlen(c, &salt))
		return 0;
	mgf1 = c->mgf1 != NULL ? c->mgf1 : c->md;
	if (c->md->nist != 0) {
		hn = der_hash_aid(c->md, h);
		params[pn++] = 0xa0;
		params[pn++] = (uint8_t)hn;
		memcpy(params + pn, h, hn);
		pn += hn;
	}
	if (mgf1->nist != 0) {
		hn = der_hash_aid(mgf1, h);
		params[pn++] = 0xa1;
		params[pn++] = (uint8_t)(2 + sizeof(mgf1_oid) + hn);
		params[pn++] = 0x30;
		params[pn++] = (uint8_t)(sizeof(mgf1_oid) + hn);
		memcpy(params + pn, mgf1_oid, sizeof(mgf1_oid));
		pn += sizeof(mgf1_oid);
		memcpy(params + pn, h, hn);
		pn += hn;
	}
	if (salt != 20) {
		params[pn++] = 0xa2;
		if (salt < 128) {
			params[pn++] = 3;
			params[pn++] = 0x02;
			params[pn++] = 1;
			params[pn++] = (uint8_t)salt;
		} else {
			params[pn++] = 4;
			params[pn++] = 0x02;
			params[pn++] = 2;
			params[pn++] = (uint8_t)(salt >> 8);
			params[pn++] = (uint8_t)salt;
		}
	}
	buf[n++] = 0x30;
	buf[n++] = (uint8_t)(sizeof(pss_oid) + 2 + pn);
	memcpy(buf + n, pss_oid, sizeof(pss_oid));
	n += sizeof(pss_oid);
	buf[n++] = 0x30;
	buf[n++] = (uint8_t)pn;
	memcpy(buf + n, params, pn);
	n += pn;
done:
	if (n > outsz)
		return 0;
	memcpy(out, buf, n);
	return n;
}

static int
sig_get_ctx_params(void *ctx, OSSL_PARAM params[])
{
	struct sigctx *c = ctx;
	OSSL_PARAM *p;
	uint8_t aid[128];
	size_t n;

	if (c == NULL)
		return 0;
	if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_ALGORITHM_ID)) != NULL) {
		n = c->k != NULL ? aid_der(c, aid, sizeof(aid)) : 0;
		if (!OSSL_PARAM_set_octet_string(p, n > 0 ? aid : NULL, n))
			return 0;
	}
	if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_DIGEST)) != NULL && c->md != NULL &&
	    !OSSL_PARAM_set_utf8_string(p, c->md->name))
		return 0;
	if (c->fam != FAM_RSA)
		return 1;
	if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_PAD_MODE)) != NULL) {
		if (p->data_type == OSSL_PARAM_INTEGER) {
			if (!OSSL_PARAM_set_int(p, c->pad))
				return 0;
		} else if (!OSSL_PARAM_set_utf8_string(p, c->pad == RSA_PKCS1_PSS_PADDING
							      ? OSSL_PKEY_RSA_PAD_MODE_PSS
							      : OSSL_PKEY_RSA_PAD_MODE_PKCSV15)) {
			return 0;
		}
	}
	if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_PSS_SALTLEN)) != NULL) {
		if (p->data_type == OSSL_PARAM_INTEGER) {
			if (!OSSL_PARAM_set_int(p, c->saltlen))
				return 0;
		} else {
			char num[16];
			const char *s = c->saltlen == RSA_PSS_SALTLEN_DIGEST
					    ? OSSL_PKEY_RSA_PSS_SALT_LEN_DIGEST
					: c->saltlen == RSA_PSS_SALTLEN_MAX  ? OSSL_PKEY_RSA_PSS_SALT_LEN_MAX
					: c->saltlen == RSA_PSS_SALTLEN_AUTO ? OSSL_PKEY_RSA_PSS_SALT_LEN_AUTO
									     : NULL;

			if (s == NULL) {
				snprintf(num, sizeof(num), "%d", c->saltlen);
				s = num;
			}
			if (!OSSL_PARAM_set_utf8_string(p, s))
				return 0;
		}
	}
	if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_MGF1_DIGEST)) != NULL) {
		const struct md_info *m = c->mgf1 != NULL ? c->mgf1 : c->md;

		if (m != NULL && !OSSL_PARAM_set_utf8_string(p, m->name))
			return 0;
	}
	return 1;
}

static const OSSL_PARAM *
sig_gettable_ctx_params(void *ctx, void *provctx)
{
	static const OSSL_PARAM all[] = {
	    OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, NULL, 0),
	    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
	    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL, 0),
	    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, NULL, 0),
	    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, NULL, 0),
	    OSSL_PARAM_END,
	};
	static const OSSL_PARAM ec[] = {
	    OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, NULL, 0),
	    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
	    OSSL_PARAM_END,
	};
	static const OSSL_PARAM ed[] = {
	    OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, NULL, 0),
	    OSSL_PARAM_END,
	};
	const struct sigctx *c = ctx;

	(void)provctx;
	if (c == NULL)
		return all;
	return c->fam == FAM_RSA ? all : c->fam == FAM_ECDSA ? ec : ed;
}

/* ---- init ---- */

static int
key_fits(struct sigctx *c, p11v_key *k)
{
	switch (p11v_key_type(k)) {
	case P11V_KT_EC:
		return c->fam == FAM_ECDSA;
	case P11V_KT_ED25519:
		return c->fam == FAM_EDDSA;
	case P11V_KT_RSA:
	case P11V_KT_RSA_PSS:
		return c->fam == FAM_RSA;
	}
	return 0;
}

static int
sig_init(struct sigctx *c, void *provkey, const char *mdname, int digest_op, enum sig_op op,
	 const OSSL_PARAM params[])
{
	p11v_key *k;

	if (c == NULL)
		return 0;
	EVP_MD_CTX_free(c->mdctx);
	c->mdctx = NULL;
	c->updated = 0;
	c->op = OP_NONE;
	if (provkey != NULL) {
		k = p11v_keydata_key(provkey);
		if (k == NULL || !key_fits(c, k)) {
			p11v_raise(c->p, P11V_R_UNSUPPORTED, "the key does not fit this signature algorithm");
			return 0;
		}
		p11v_key_up_ref(k);
		p11v_key_free(c->k);
		c->k = k;
		/* A new key: the RSA settings start again from the defaults. */
		EVP_MD_free(c->evp_md);
		c->evp_md = NULL;
		c->md = NULL;
		c->mgf1 = NULL;
		c->pad = RSA_PKCS1_PADDING;
		/* PSS salt: as long as the digest when signing (what TLS uses
		 * and what the token path supports; OpenSSL's own default is
		 * the maximum), any length when verifying. */
		c->saltlen = op == OP_SIGN ? RSA_PSS_SALTLEN_DIGEST : RSA_PSS_SALTLEN_AUTO;
		if (!restrictions_of(c))
			return 0;
		if (c->restricted) {
			c->pad = RSA_PKCS1_PSS_PADDING;
			c->saltlen = c->r_minsalt;
			c->mgf1 = c->r_mgf1;
			if (!set_md(c, c->r_md->name, NULL))
				return 0;
		} else if (p11v_key_type(k) == P11V_KT_RSA_PSS) {
			c->pad = RSA_PKCS1_PSS_PADDING;
		}
	}
	if (c->k == NULL) {
		p11v_raise(c->p, P11V_R_INTERNAL, "no key to sign or verify with");
		return 0;
	}
	if (op == OP_SIGN && p11v_key_ephemeral(c->k) != NULL) {
		p11v_raise(c->p, P11V_R_UNSUPPORTED,
			   "an ephemeral key-exchange key cannot sign (it is not a key on the token)");
		return 0;
	}
	if (op == OP_SIGN && p11v_key_ref(c->k) == NULL) {
		p11v_raise(c->p, P11V_R_UNSUPPORTED,
			   "a public key cannot sign (load the key from the token)");
		return 0;
	}
	if (mdname != NULL && mdname[0] != '\0' && !set_md(c, mdname, NULL))
		return 0;
	if (digest_op && c->fam != FAM_EDDSA && c->md == NULL &&
	    !set_md(c, p11v_key_type(c->k) == P11V_KT_RSA_PSS && c->restricted ? c->r_md->name : "SHA256",
		    NULL))
		return 0;
	if (!sig_set_ctx_params(c, params))
		return 0;
	if (digest_op && c->fam != FAM_EDDSA) {
		c->mdctx = EVP_MD_CTX_new();
		if (c->mdctx == NULL || EVP_DigestInit_ex(c->mdctx, c->evp_md, NULL) != 1) {
			p11v_raise(c->p, P11V_R_INTERNAL, "cannot start the digest");
			return 0;
		}
	}
	c->op = op;
	return 1;
}

static int
sig_sign_init(void *ctx, void *provkey, const OSSL_PARAM params[])
{
	return sig_init(ctx, provkey, NULL, 0, OP_SIGN, params);
}

static int
sig_verify_init(void *ctx, void *provkey, const OSSL_PARAM params[])
{
	return sig_init(ctx, provkey, NULL, 0, OP_VERIFY, params);
}

static int
sig_digest_sign_init(void *ctx, const char *mdname, void *provkey, const OSSL_PARAM params[])
{
	return sig_init(ctx, provkey, mdname, 1, OP_SIGN, params);
}

static int
sig_digest_verify_init(void *ctx, const char *mdname, void *provkey, const OSSL_PARAM params[])
{
	return sig_init(ctx, provkey, mdname, 1, OP_VERIFY, params);
}

/* ---- sign ---- */

static int
sig_size(struct sigctx *c, size_t *siglen)
{
	int n = EVP_PKEY_get_size(p11v_key_pub(c->k));

	if (n <= 0) {
		p11v_raise(c->p, P11V_R_INTERNAL, "unknown signature size");
		return 0;
	}
	*siglen = (size_t)n;
	return 1;
}

/* Sign tbs (a digest of c->md, or for EdDSA the message) on the token. */
static int
do_sign(struct sigctx *c, unsigned char *sig, size_t *siglen, size_t sigsize, const unsigned char *tbs,
	size_t tbslen)
{
	struct p11v_sigreq rq;
	size_t max;

	memset(&rq, 0, sizeof(rq));
	if (!sig_size(c, &max))
		return 0;
	if (sigsize < max) {
		p11v_raise(c->p, P11V_R_INTERNAL, "signature buffer too small (%zu bytes, %zu needed)",
			   sigsize, max);
		return 0;
	}
	rq.tbs = tbs;
	rq.tbslen = tbslen;
	if (c->fam == FAM_EDDSA) {
		rq.mech = P11V_SIG_EDDSA;
		goto sign;
	}
	if (c->md == NULL || tbslen != c->md->size) {
		p11v_raise(c->p, P11V_R_UNSUPPORTED,
			   "the input is not a digest of the chosen size (%zu bytes)",
			   c->md != NULL ? c->md->size : (size_t)0);
		return 0;
	}
	rq.mdname = c->md->name;
	if (c->fam == FAM_ECDSA) {
		rq.mech = P11V_SIG_ECDSA;
	} else if (c->pad == RSA_PKCS1_PADDING) {
		rq.mech = P11V_SIG_RSA_PKCS1;
	} else {
		rq.mech = P11V_SIG_RSA_PSS;
		rq.mgf1_mdname = (c->mgf1 != NULL ? c->mgf1 : c->md)->name;
		if (!pss_saltlen(c, &rq.saltlen))
			return 0;
	}
sign:
	return p11v_backend_sign(c->k, &rq, sig, siglen, sigsize);
}

static int
sig_sign(void *ctx, unsigned char *sig, size_t *siglen, size_t sigsize, const unsigned char *tbs,
	 size_t tbslen)
{
	struct sigctx *c = ctx;

	if (c == NULL || c->op != OP_SIGN) {
		p11v_raise(c != NULL ? c->p : NULL, P11V_R_INTERNAL, "sign without sign_init");
		return 0;
	}
	if (sig == NULL)
		return sig_size(c, siglen);
	/* Raw input with no digest chosen: ECDSA takes the digest its size says. */
	if (c->md == NULL && c->fam == FAM_ECDSA) {
		size_t i;

		for (i = 0; i < PV_NELEM(mds); i++)
			if (mds[i].size == tbslen && mds[i].nist != 0)
				c->md = &mds[i];
	}
	if (c->md == NULL && c->fam == FAM_RSA) {
		p11v_raise(c->p, P11V_R_UNSUPPORTED,
			   "RSA signing of a digest needs its digest set (digest:sha256)");
		return 0;
	}
	return do_sign(c, sig, siglen, sigsize, tbs, tbslen);
}

static int
sig_digest_update(void *ctx, const unsigned char *data, size_t datalen)
{
	struct sigctx *c = ctx;

	if (c == NULL || c->mdctx == NULL) {
		p11v_raise(c != NULL ? c->p : NULL, P11V_R_INTERNAL, "update without digest init");
		return 0;
	}
	c->updated = 1;
	return EVP_DigestUpdate(c->mdctx, data, datalen) == 1;
}

static int
sig_digest_sign_final(void *ctx, unsigned char *sig, size_t *siglen, size_t sigsize)
{
	struct sigctx *c = ctx;
	unsigned char dgst[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;

	if (c == NULL || c->op != OP_SIGN || c->mdctx == NULL) {
		p11v_raise(c != NULL ? c->p : NULL, P11V_R_INTERNAL, "sign final without digest sign init");
		return 0;
	}
	if (sig == NULL)
		return sig_size(c, siglen); /* a size query: the digest stays open */
	if (EVP_DigestFinal_ex(c->mdctx, dgst, &dlen) != 1) {
		p11v_raise(c->p, P11V_R_INTERNAL, "digest failed");
		return 0;
	}
	return do_sign(c, sig, siglen, sigsize, dgst, dlen);
}

/*
 * ECDSA and RSA in one shot (EVP_DigestSign): the digest of tbs here, then
 * the token. Without this, OpenSSL's EVP_DigestSign goes through update and
 * final, and final first duplicates the whole signature context (and frees
 * the copy) so that the original could take more data. The context is
 * used up: signing again needs a new init, as OpenSSL's documentation says
 * of EVP_DigestSign.
 */
static int
sig_digest_sign_md(void *ctx, unsigned char *sig, size_t *siglen, size_t sigsize, const unsigned char *tbs,
		   size_t tbslen)
{
	struct sigctx *c = ctx;
	unsigned char dgst[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;

	if (c == NULL || c->op != OP_SIGN || c->mdctx == NULL) {
		p11v_raise(c != NULL ? c->p : NULL, P11V_R_INTERNAL, "sign without digest sign init");
		return 0;
	}
	if (sig == NULL)
		return sig_size(c, siglen);
	if (c->updated) {
		p11v_raise(c->p, P11V_R_INTERNAL, "a one-shot sign after digest updates");
		return 0;
	}
	c->op = OP_NONE;
	if (EVP_DigestUpdate(c->mdctx, tbs, tbslen) != 1 || EVP_DigestFinal_ex(c->mdctx, dgst, &dlen) != 1) {
		p11v_raise(c->p, P11V_R_INTERNAL, "digest failed");
		return 0;
	}
	return do_sign(c, sig, siglen, sigsize, dgst, dlen);
}

/* EdDSA: the whole message, in one shot. */
static int
sig_digest_sign(void *ctx, unsigned char *sig, size_t *siglen, size_t sigsize, const unsigned char *tbs,
		size_t tbslen)
{
	struct sigctx *c = ctx;

	if (c == NULL || c->op != OP_SIGN) {
		p11v_raise(c != NULL ? c->p : NULL, P11V_R_INTERNAL, "sign without digest sign init");
		return 0;
	}
	if (sig == NULL)
		return sig_size(c, siglen);
	return do_sign(c, sig, siglen, sigsize, tbs, tbslen);
}

/* ---- verify, in software with the public half ---- */

static int
do_verify(struct sigctx *c, const unsigned char *sig, size_t siglen, const unsigned char *tbs, size_t tbslen)
{
	EVP_PKEY_CTX *pc;
	OSSL_PARAM q[5], *qp = q;
	char mdname[16], mgf1[16];
	int pad = c->pad, salt = c->saltlen, ok = 0;

	pc = EVP_PKEY_CTX_new_from_pkey(p11v_libctx(c->p), p11v_key_pub(c->k), NULL);
	if (pc == NULL || EVP_PKEY_verify_init(pc) != 1)
		goto out;
	if (c->md != NULL) {
		snprintf(mdname, sizeof(mdname), "%s", c->md->name);
		*qp++ = OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, mdname, 0);
	}
	if (c->fam == FAM_RSA) {
		*qp++ = OSSL_PARAM_construct_int(OSSL_SIGNATURE_PARAM_PAD_MODE, &pad);
		if (pad == RSA_PKCS1_PSS_PADDING) {
			*qp++ = OSSL_PARAM_construct_int(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, &salt);
			if (c->mgf1 != NULL) {
				snprintf(mgf1, sizeof(mgf1), "%s", c->mgf1->name);
				*qp++ = OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST,
									 mgf1, 0);
			}
		}
	}
	*qp = OSSL_PARAM_construct_end();
	if (EVP_PKEY_CTX_set_params(pc, q) != 1)
		goto out;
	ok = EVP_PKEY_verify(pc, sig, siglen, tbs, tbslen) == 1;
out:
	EVP_PKEY_CTX_free(pc);
	return ok;
}

static int
sig_verify(void *ctx, const unsigned char *sig, size_t siglen, const unsigned char *tbs, size_t tbslen)
{
	struct sigctx *c = ctx;

	if (c == NULL || c->op != OP_VERIFY || c->fam == FAM_EDDSA)
		return 0;
	return do_verify(c, sig, siglen, tbs, tbslen);
}

static int
sig_digest_verify_final(void *ctx, const unsigned char *sig, size_t siglen)
{
	struct sigctx *c = ctx;
	unsigned char dgst[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;

	if (c == NULL || c->op != OP_VERIFY || c->mdctx == NULL)
		return 0;
	if (EVP_DigestFinal_ex(c->mdctx, dgst, &dlen) != 1)
		return 0;
	return do_verify(c, sig, siglen, dgst, dlen);
}

static int
sig_digest_verify(void *ctx, const unsigned char *sig, size_t siglen, const unsigned char *tbs, size_t tbslen)
{
	struct sigctx *c = ctx;
	EVP_MD_CTX *m;
	int ok = 0;

	if (c == NULL || c->op != OP_VERIFY)
		return 0;
	m = EVP_MD_CTX_new();
	if (m != NULL &&
	    EVP_DigestVerifyInit_ex(m, NULL, NULL, p11v_libctx(c->p), NULL, p11v_key_pub(c->k), NULL) == 1)
		ok = EVP_DigestVerify(m, sig, siglen, tbs, tbslen) == 1;
	EVP_MD_CTX_free(m);
	return ok;
}

/* ---- the dispatch tables ---- */

#define P11V_SIG_COMMON                                                                                      \
	{OSSL_FUNC_SIGNATURE_FREECTX, (void (*)(void))sig_freectx},                                          \
	    {OSSL_FUNC_SIGNATURE_DUPCTX, (void (*)(void))sig_dupctx},                                        \
	    {OSSL_FUNC_SIGNATURE_GET_CTX_PARAMS, (void (*)(void))sig_get_ctx_params},                        \
	    {OSSL_FUNC_SIGNATURE_GETTABLE_CTX_PARAMS, (void (*)(void))sig_gettable_ctx_params},              \
	    {OSSL_FUNC_SIGNATURE_SET_CTX_PARAMS, (void (*)(void))sig_set_ctx_params},                        \
	{                                                                                                    \
		OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS, (void (*)(void))sig_settable_ctx_params             \
	}

#define P11V_SIG_DIGEST_FORMS                                                                                \
	{OSSL_FUNC_SIGNATURE_SIGN_INIT, (void (*)(void))sig_sign_init},                                      \
	    {OSSL_FUNC_SIGNATURE_SIGN, (void (*)(void))sig_sign},                                            \
	    {OSSL_FUNC_SIGNATURE_VERIFY_INIT, (void (*)(void))sig_verify_init},                              \
	    {OSSL_FUNC_SIGNATURE_VERIFY, (void (*)(void))sig_verify},                                        \
	    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT, (void (*)(void))sig_digest_sign_init},                    \
	    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_UPDATE, (void (*)(void))sig_digest_update},                     \
	    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_FINAL, (void (*)(void))sig_digest_sign_final},                  \
	    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN, (void (*)(void))sig_digest_sign_md},                           \
	    {OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_INIT, (void (*)(void))sig_digest_verify_init},                \
	    {OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_UPDATE, (void (*)(void))sig_digest_update},                   \
	{                                                                                                    \
		OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_FINAL, (void (*)(void))sig_digest_verify_final             \
	}

const OSSL_DISPATCH p11v_ecdsa_signature_functions[] = {
    {OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))sig_newctx_ecdsa},
    P11V_SIG_DIGEST_FORMS,
    P11V_SIG_COMMON,
    {0, NULL},
};

const OSSL_DISPATCH p11v_rsa_signature_functions[] = {
    {OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))sig_newctx_rsa},
    P11V_SIG_DIGEST_FORMS,
    P11V_SIG_COMMON,
    {0, NULL},
};

const OSSL_DISPATCH p11v_eddsa_signature_functions[] = {
    {OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))sig_newctx_eddsa},
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT, (void (*)(void))sig_digest_sign_init},
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN, (void (*)(void))sig_digest_sign},
    {OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_INIT, (void (*)(void))sig_digest_verify_init},
    {OSSL_FUNC_SIGNATURE_DIGEST_VERIFY, (void (*)(void))sig_digest_verify},
    P11V_SIG_COMMON,
    {0, NULL},
};
