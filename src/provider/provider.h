/*
 * p11vault.so, the OpenSSL 3 provider (issue 16): what its parts share.
 *
 *   provider.c        OSSL_provider_init, the algorithm tables, configuration
 *                     (openssl.cnf section or environment), the private
 *                     library context, errors
 *   key.c             the key object: its public half and how to sign with it
 *   store.c           OSSL_STORE for "pkcs11:" (RFC 7512) and "p11vault:NAME[;version=N]"
 *   keymgmt.c         KEYMGMT: EC (P-256, P-384), RSA, RSA-PSS, ED25519
 *   signature.c       SIGNATURE: ECDSA, EdDSA, RSA PKCS#1 v1.5 and PSS
 *   uri.c             the two key-reference forms, parsed (pure; fuzzed)
 *   backend.c         the p11v_backend_* calls, sent to the configured backend
 *   backend_direct.c  signing through libp11vault (module, token, PIN, pool)
 *   backend_vaultd.c  signing through vaultd's Unix socket (keyless)
 *   decoder.c         URI-in-PEM ("-----BEGIN P11VAULT KEY URI-----")
 *
 * Nothing here knows HTTP but backend_vaultd.c; nothing but
 * backend_direct.c touches PKCS#11. The provider offers no digests, ciphers
 * or RNG: public-key work (verification, encoding, hashing) is done with
 * OpenSSL's default provider in the provider's private library context.
 */
#ifndef PV_PROVIDER_H
#define PV_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/core.h>
#include <openssl/evp.h>

#define P11V_NAME             "p11vault"
/* Every algorithm is registered with this property definition. */
#define P11V_PROPS            "provider=p11vault"
/* The signature algorithms our keymgmts name (query_operation_name): names
 * no other provider offers, so that OpenSSL fetches ours at once. */
#define P11V_SIG_ECDSA_NAME   "P11VAULT-ECDSA"
#define P11V_SIG_ED25519_NAME "P11VAULT-ED25519"
#define P11V_SIG_RSA_NAME     "P11VAULT-RSA"

typedef struct p11v_prov p11v_prov; /* the provider context (provider.c) */
typedef struct p11v_key p11v_key;   /* a key object (key.c) */

enum p11v_backend { P11V_BACKEND_DIRECT, P11V_BACKEND_VAULTD };

enum p11v_ktype { P11V_KT_EC, P11V_KT_RSA, P11V_KT_RSA_PSS, P11V_KT_ED25519 };

/* ---- provider.c ---- */

/* The private library context (default provider only): for public-key
 * operations, digests and encoding done in software. */
OSSL_LIB_CTX *p11v_libctx(p11v_prov *p);
enum p11v_backend p11v_backend_of(p11v_prov *p);
/* A configuration value (openssl.cnf section of the provider, else the
 * environment variable P11VAULT_<NAME upper-cased>), or NULL. */
const char *p11v_conf(p11v_prov *p, const char *name);
/* Raise an OpenSSL error from the provider (ERR_raise through the core's
 * new_error/set_error_debug/vset_error), reason a P11V_R_* code. */
void p11v_raise(p11v_prov *p, int reason, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#define P11V_R_TOKEN       1 /* the token or vaultd is unavailable */
#define P11V_R_NOT_FOUND   2 /* no such key or version */
#define P11V_R_PURPOSE     3 /* the key's purpose does not allow this */
#define P11V_R_RETIRED     4 /* the pinned version is no longer usable: fail closed */
#define P11V_R_BAD_URI     5
#define P11V_R_UNSUPPORTED 6 /* parameter or mechanism not supported */
#define P11V_R_DENIED      7 /* vaultd refused (policy, authentication) */
#define P11V_R_INTERNAL    8

/* Serialises lazy set-up of the provider context's shared state (the
 * backends' slots). Never held across a token or vaultd call. */
void p11v_prov_lock(p11v_prov *p);
void p11v_prov_unlock(p11v_prov *p);

/* ---- the dispatch tables provider.c's algorithm tables refer to ---- */

/* store.c: OSSL_STORE for the "p11vault" and "pkcs11" schemes */
extern const OSSL_DISPATCH p11v_store_functions[];
/* keymgmt.c */
extern const OSSL_DISPATCH p11v_ec_keymgmt_functions[];
extern const OSSL_DISPATCH p11v_rsa_keymgmt_functions[];
extern const OSSL_DISPATCH p11v_rsapss_keymgmt_functions[];
extern const OSSL_DISPATCH p11v_ed25519_keymgmt_functions[];
/* The name of a key type as OpenSSL's default provider spells it ("EC",
 * "RSA", "RSA-PSS", "ED25519"): the store's and the decoder's data type. */
const char *p11v_ktype_name(enum p11v_ktype t);
/* The provider's "TLS-GROUP" capability: P-256 and P-384, whose ephemeral
 * keys the EC KEYMGMT generates (OSSL_FUNC_provider_get_capabilities). */
int p11v_keymgmt_capabilities(void *provctx, const char *capability, OSSL_CALLBACK *cb, void *arg);
/* The key behind a KEYMGMT keydata (what signature.c and the other
 * operations receive as provkey), or NULL for an empty one. Borrowed. */
p11v_key *p11v_keydata_key(void *keydata);
/* signature.c */
extern const OSSL_DISPATCH p11v_ecdsa_signature_functions[];
extern const OSSL_DISPATCH p11v_eddsa_signature_functions[];
extern const OSSL_DISPATCH p11v_rsa_signature_functions[];
/* asym_cipher.c: RSA (OAEP decryption with the token, encryption in software) */
extern const OSSL_DISPATCH p11v_rsa_asym_cipher_functions[];
/* keyexch.c: ECDH */
extern const OSSL_DISPATCH p11v_ecdh_keyexch_functions[];
/* decoder.c: URI-in-PEM ("-----BEGIN P11VAULT KEY URI-----") to a key, in
 * two steps (OpenSSL's file store passes only DER between decoders):
 * registered as "DER" with input=pem, the PEM block to the reference as a
 * DER UTF8String; registered under each key type with input=der, that to
 * the key (an object reference) */
extern const OSSL_DISPATCH p11v_uripem_pem2der_decoder_functions[];
extern const OSSL_DISPATCH p11v_uripem_decoder_functions[];

/* ---- key.c ---- */

/*
 * Where a private key lives: a p11vault key (name, version pinned at load)
 * or, for a pkcs11: URI naming a raw token object, its CKA_ID / CKA_LABEL.
 * Only the backend interprets it.
 */
struct p11v_keyref {
	char name[65];    /* p11vault key name; "" for a raw pkcs11 object */
	unsigned version; /* the version active at load (pinned) */
	uint8_t id[64];   /* raw object: CKA_ID */
	size_t id_len;
	char label[129]; /* raw object: CKA_LABEL */
};

/* A key: always its public half; with ref, also a token key to sign with.
 * pub is taken (owned by the key); ref is copied. */
p11v_key *p11v_key_new(p11v_prov *p, enum p11v_ktype t, EVP_PKEY *pub, const struct p11v_keyref *ref);
void p11v_key_up_ref(p11v_key *k);
void p11v_key_free(p11v_key *k); /* NULL is fine; frees at the last reference */
p11v_prov *p11v_key_prov(const p11v_key *k);
enum p11v_ktype p11v_key_type(const p11v_key *k);
EVP_PKEY *p11v_key_pub(const p11v_key *k); /* borrowed; in p11v_libctx */
/* The token reference, or NULL for a public-only key (imported) and for an
 * ephemeral key. */
const struct p11v_keyref *p11v_key_ref(const p11v_key *k);
/*
 * An ephemeral key: an EC key pair generated in software in p11v_libctx
 * (KEYMGMT gen, for the ECDHE key of one TLS handshake), never on the token
 * and never stored. pair (a key pair of the default provider in p11v_libctx)
 * is taken; the key's public half is a public-only copy of it. It has no
 * ref, so it cannot sign or decrypt; only keyexch.c derives with it. NULL
 * with an error raised.
 */
p11v_key *p11v_key_new_ephemeral(p11v_prov *p, EVP_PKEY *pair);
/* The ephemeral key pair (borrowed), or NULL for any other key. */
EVP_PKEY *p11v_key_ephemeral(const p11v_key *k);

/* The digests signatures use, fetched once per provider context in its
 * private library context: p11v_md(p, i) is a new reference to
 * p11v_md_names[i] (EVP_MD_free it), or NULL. */
#define P11V_NMD 5
extern const char *const p11v_md_names[P11V_NMD];
EVP_MD *p11v_md(p11v_prov *p, size_t i);

/* ---- uri.c ---- */

/* A key reference, parsed: "p11vault:NAME" or "p11vault:NAME;version=N"
 * (NAME a p11vault key name), or an RFC 7512 "pkcs11:" URI of which the
 * path attributes object= / id= / type= and token= are used (parsed with
 * p11-kit's URI parser; query attributes such as pin-source are refused:
 * the PIN comes from the provider's configuration only). */
struct p11v_uri {
	int is_pkcs11;
	char name[65];    /* p11vault: NAME, or pkcs11: object= (may be "") */
	unsigned version; /* 0: the active one */
	uint8_t id[64];   /* pkcs11: id= */
	size_t id_len;
	char token[33];   /* pkcs11: token= label, "" when absent */
	int want_private; /* pkcs11: type=private (default), 0 for type=public */
	int want_cert;    /* pkcs11: type=cert (want_private is then 0) */
	int collection;   /* names no object ("p11vault:", "pkcs11:token=..."):
			   * a store URI for a search only */
};
/* 1 and *out filled, or 0 (not a key reference we take; *why says why). */
int p11v_uri_parse(const char *s, struct p11v_uri *out, const char **why);
/* The same, and a URI that names no object is taken too (collection set):
 * what a store searches by alias or subject. */
int p11v_uri_parse_store(const char *s, struct p11v_uri *out, const char **why);

/* ---- backends ---- */

enum p11v_sigmech { P11V_SIG_ECDSA, P11V_SIG_EDDSA, P11V_SIG_RSA_PKCS1, P11V_SIG_RSA_PSS };

struct p11v_sigreq {
	enum p11v_sigmech mech;
	/* ECDSA, RSA: tbs is a digest made with mdname ("SHA256", ...);
	 * EdDSA: tbs is the whole message and mdname is NULL. */
	const char *mdname;
	const unsigned char *tbs;
	size_t tbslen;
	/* RSA-PSS: MGF1 digest and salt length in bytes (the resolved number). */
	const char *mgf1_mdname;
	int saltlen;
};

/*
 * Sign with a key that has a ref, through the provider's backend. sig gets
 * what OpenSSL's own implementations return: ECDSA a DER
 * ECDSA-Sig-Value, EdDSA 64 raw bytes, RSA as long as the modulus. 1 on
 * success; 0 with an error raised (a retired pinned version, a key of
 * another purpose, the token or vaultd unavailable, ...).
 */
int p11v_backend_sign(p11v_key *k, const struct p11v_sigreq *rq, unsigned char *sig, size_t *siglen,
		      size_t sigsize);

/*
 * RSA-OAEP decryption with a key of purpose decrypt (asym_cipher.c): in is
 * the ciphertext (as long as the modulus); OAEP over oaep_mdname with MGF1
 * over mgf1_mdname ("SHA1", "SHA224", "SHA256", "SHA384", "SHA512") and the
 * label (NULL when empty). out gets the plaintext (outsize bytes available:
 * at least the modulus size). 1 on success; 0 with an error raised (a key of
 * another purpose, a ciphertext that does not decode, ...).
 */
struct p11v_decreq {
	const char *oaep_mdname;
	const char *mgf1_mdname;
	const unsigned char *label;
	size_t labellen;
	const unsigned char *in;
	size_t inlen;
};
int p11v_backend_decrypt(p11v_key *k, const struct p11v_decreq *rq, unsigned char *out, size_t *outlen,
			 size_t outsize);
int p11v_direct_decrypt(p11v_key *k, const struct p11v_decreq *rq, unsigned char *out, size_t *outlen,
			size_t outsize);

/*
 * ECDH with an EC key of purpose derive (keyexch.c): peer is the other
 * party's public key as an uncompressed point on the same curve; secret gets
 * the shared secret as OpenSSL's ECDH returns it (the x coordinate, as long
 * as the field: 32 bytes for P-256, 48 for P-384; secretsize at least that).
 * 1 on success; 0 with an error raised.
 */
int p11v_backend_derive(p11v_key *k, const unsigned char *peer, size_t peerlen, unsigned char *secret,
			size_t *secretlen, size_t secretsize);
int p11v_direct_derive(p11v_key *k, const unsigned char *peer, size_t peerlen, unsigned char *secret,
		       size_t *secretlen, size_t secretsize);
/* backend_direct.c, for the direct side of decrypt and derive
 * (backend_crypt.c): the keystore, the token opened and logged in at first
 * use (NULL with an error raised); and a libp11vault error (a pv_err)
 * raised as the provider's, with its detail. */
struct pv_keystore *p11v_direct_keystore(p11v_prov *p);
void p11v_direct_raise(p11v_prov *p, int pv_error, const char *what);

/*
 * Resolve a key reference to its public key and pinned version:
 * "p11vault:NAME" (the active version), "p11vault:NAME;version=N", or a
 * pkcs11: URI (object=, id=, type=private|public). Returns a new key with
 * ref set, or NULL with an error raised. Used by the store and the decoder.
 */
p11v_key *p11v_backend_load(p11v_prov *p, const char *uri);
p11v_key *p11v_backend_load_ref(p11v_prov *p, const struct p11v_uri *u);

/*
 * The certificate a reference names, as DER (OPENSSL_malloc'd): a pkcs11:
 * URI with type=cert, or the certificate on the token with the same CKA_ID
 * (else label) as the key the reference names. 1, or 0 with an error
 * raised. Used by the store (certificates on the token).
 */
int p11v_backend_cert_ref(p11v_prov *p, const struct p11v_uri *u, unsigned char **der, size_t *derlen);
int p11v_direct_cert(p11v_prov *p, const struct p11v_uri *u, unsigned char **der, size_t *derlen);

/*
 * The certificates on the token whose subject is the DER name (a store's
 * subject search), narrowed by the reference's token=, object= and id=:
 * ders[i] (OPENSSL_malloc'd, lens[i] bytes) for i < *n; *n may be 0. The
 * arrays are OPENSSL_malloc'd too. 1, or 0 with an error raised. Direct
 * backend only.
 */
struct p11v_certs {
	unsigned char **ders;
	size_t *lens;
	size_t n;
};
int p11v_backend_certs_by_subject(p11v_prov *p, const struct p11v_uri *u, const unsigned char *name,
				  size_t namelen, struct p11v_certs *out);
int p11v_direct_certs_by_subject(p11v_prov *p, const struct p11v_uri *u, const unsigned char *name,
				 size_t namelen, struct p11v_certs *out);
void p11v_certs_free(struct p11v_certs *c);

/* In a forked child: drop what belongs to the parent (sessions, vaultd
 * connections); the next use re-initialises lazily. */
void p11v_backend_after_fork(p11v_prov *p);

/* Each backend keeps its state in the provider context (created lazily on
 * first use, under the provider's lock; freed by p11v_*_free at teardown). */
void **p11v_backend_slot(p11v_prov *p);

/* backend_direct.c and backend_vaultd.c: what backend.c dispatches to. */
int p11v_direct_sign(p11v_key *k, const struct p11v_sigreq *rq, unsigned char *sig, size_t *siglen,
		     size_t sigsize);
p11v_key *p11v_direct_load(p11v_prov *p, const struct p11v_uri *u);
void p11v_direct_after_fork(p11v_prov *p);
void p11v_direct_free(p11v_prov *p);
int p11v_vaultd_sign(p11v_key *k, const struct p11v_sigreq *rq, unsigned char *sig, size_t *siglen,
		     size_t sigsize);
p11v_key *p11v_vaultd_load(p11v_prov *p, const struct p11v_uri *u);
void p11v_vaultd_after_fork(p11v_prov *p);
void p11v_vaultd_free(p11v_prov *p);

#endif
