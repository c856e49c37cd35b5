/*
 * The vaultd backend (keyless): the provider signs through vaultd's Unix
 * socket. The program holds no PIN and never loads the PKCS#11 module;
 * every signature is a request vaultd authenticates (peer uid, or the
 * bearer token of vaultd-bearer-file), checks against its policy and
 * audits (docs/api.md).
 *
 *   load:  GET /v1/keys/{name}: the algorithm, purpose, versions and their
 *          public keys; the version active now (or ;version=N) is pinned
 *   sign:  POST /v1/keys/{name}/sign with the pinned version: a digest
 *          (ECDSA, RSA PKCS#1 v1.5 and PSS) or the message (Ed25519)
 *
 * Connections: HTTP/1.1 keep-alive over src/base/http_client.c, a small
 * pool of idle connections under a mutex (a thread takes one for one round
 * trip and gives it back); a connection vaultd closed meanwhile is
 * reopened once. After fork the child closes its copies of the parent's
 * connections and opens its own (also when a child is noticed by its pid).
 *
 * pkcs11: URIs name token objects; vaultd names keys. In this backend
 * object=NAME.vN (the label p11vault gives version N's objects) is read as
 * p11vault:NAME;version=N, object=NAME as p11vault:NAME (with
 * x-p11vault-version=N: p11vault:NAME;version=N), as the direct backend
 * does; a URI without object= (id= only) is refused.
 */
#include "config.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "base/buf.h"
#include "base/defs.h"
#include "base/http_client.h"
#include "base/json.h"
#include "base/secmem.h"
#include "core/b64.h"
#include "core/keymeta.h"
#include "provider/provider.h"

#define VD_POOL_MAX       8          /* idle connections kept */
#define VD_TIMEOUT_MS     30000      /* per send and per wait for a reply byte */
#define VD_REQ_MAX        (3u << 20) /* a request: Ed25519 input of up to 1 MiB in base64, and the head */
#define VD_EDDSA_MAX      (1u << 20) /* vaultd's input_b64 limit (decoded) */
#define VD_SIG_MAX        1024       /* the longest signature (RSA-4096 is 512 bytes) */
#define VD_DEFAULT_SOCKET "/run/p11vault/vaultd.sock"

struct vd_state {
	pthread_mutex_t mu; /* nidle, idle[], pid, the bearer's protection */
	pid_t pid;          /* whose connections idle[] holds */
	char sock[108];
	pv_secret *bearer; /* NULL: the peer uid authenticates */
	size_t bearer_len;
	struct pv_http *idle[VD_POOL_MAX];
	size_t nidle;
};

/* ---- state ---- */

static void
state_free(struct vd_state *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->nidle; i++)
		pv_http_close(s->idle[i]);
	pv_secret_free(s->bearer);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

static struct vd_state *
state_new(p11v_prov *p)
{
	const char *sock = p11v_conf(p, "vaultd-socket");
	const char *bearer = p11v_conf(p, "vaultd-bearer-file");
	struct vd_state *s;
	pv_err r;

	if (sock == NULL)
		sock = VD_DEFAULT_SOCKET;
	if (strlen(sock) >= sizeof(s->sock)) {
		p11v_raise(p, P11V_R_TOKEN, "vaultd-socket: a Unix socket path is at most %zu bytes",
			   sizeof(s->sock) - 1);
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		p11v_raise(p, P11V_R_INTERNAL, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&s->mu, NULL);
	s->pid = getpid();
	memcpy(s->sock, sock, strlen(sock) + 1);
	if (bearer != NULL && (r = pv_http_load_bearer(bearer, &s->bearer, &s->bearer_len)) != PV_OK) {
		/* the detail names the file and what is wrong, never its bytes */
		p11v_raise(p, P11V_R_DENIED, "vaultd-bearer-file: %s (%s)", pv_err_detail(), pv_err_id(r));
		state_free(s);
		return NULL;
	}
	return s;
}

/* The backend's state, made at first use under the provider's lock. */
static struct vd_state *
state_get(p11v_prov *p)
{
	void **slot = p11v_backend_slot(p);
	struct vd_state *s;

	p11v_prov_lock(p);
	if ((s = *slot) == NULL && (s = state_new(p)) != NULL)
		*slot = s;
	p11v_prov_unlock(p);
	return s;
}

/* Close the idle connections (the caller holds mu). In a forked child they
 * are copies of the parent's sockets: closing ours leaves the parent's. */
static void
drop_idle(struct vd_state *s)
{
	for (size_t i = 0; i < s->nidle; i++)
		pv_http_close(s->idle[i]);
	s->nidle = 0;
	s->pid = getpid();
}

void
p11v_vaultd_after_fork(p11v_prov *p)
{
	struct vd_state *s = *p11v_backend_slot(p);

	if (s == NULL)
		return;
	/* the child has one thread: a lock another parent thread held stays held */
	pthread_mutex_init(&s->mu, NULL);
	drop_idle(s);
}

void
p11v_vaultd_free(p11v_prov *p)
{
	void **slot = p11v_backend_slot(p);

	state_free(*slot);
	*slot = NULL;
}

/* ---- one round trip ---- */

struct vd_reply {
	unsigned status;
	cJSON *body;  /* parsed JSON body (cJSON_Delete), NULL if none */
	char rid[64]; /* X-Request-Id, "" if absent */
};

static void
reply_clear(struct vd_reply *rp)
{
	cJSON_Delete(rp->body);
	memset(rp, 0, sizeof(*rp));
}

/* The head of a request; the bearer token (if any) is copied in under mu
 * and the buffer is wiped when freed. */
static pv_err
put_head(struct vd_state *s, pv_buf *b, const char *method, const char *path, size_t body_len)
{
	char line[256];
	pv_err r;

	snprintf(line, sizeof(line),
		 "%s %s HTTP/1.1\r\nHost: vaultd\r\nUser-Agent: p11vault-provider\r\n"
		 "Content-Type: application/json\r\nContent-Length: %zu\r\n",
		 method, path, body_len);
	if ((r = pv_buf_put_cstr(b, line)) != PV_OK)
		return r;
	if (s->bearer != NULL) {
		pthread_mutex_lock(&s->mu);
		if ((r = pv_buf_put_cstr(b, "Authorization: Bearer ")) == PV_OK)
			r = pv_buf_put(b, pv_secret_ro(s->bearer), s->bearer_len);
		pv_secret_lock(s->bearer);
		pthread_mutex_unlock(&s->mu);
		if (r != PV_OK || (r = pv_buf_put_cstr(b, "\r\n")) != PV_OK)
			return r;
	}
	return pv_buf_put_cstr(b, "\r\n");
}

/* A connection: an idle one of this process, else a new one. */
static pv_err
conn_take(struct vd_state *s, struct pv_http **out)
{
	struct pv_http *h = NULL;
	pv_err r;

	pthread_mutex_lock(&s->mu);
	if (s->pid != getpid())
		drop_idle(s); /* a child the fork handler did not see */
	if (s->nidle > 0)
		h = s->idle[--s->nidle];
	pthread_mutex_unlock(&s->mu);
	if (h == NULL) {
		if ((r = pv_http_open(s->sock, &h)) != PV_OK)
			return r;
		if ((r = pv_http_set_timeout(h, VD_TIMEOUT_MS)) != PV_OK) {
			pv_http_close(h);
			return r;
		}
	}
	*out = h;
	return PV_OK;
}

static void
conn_give(struct vd_state *s, struct pv_http *h)
{
	pthread_mutex_lock(&s->mu);
	if (s->pid == getpid() && s->nidle < VD_POOL_MAX) {
		s->idle[s->nidle++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&s->mu);
	pv_http_close(h);
}

/*
 * One request (body NULL for a GET) and its reply: status, JSON body and
 * request id. 0 with an error raised when vaultd could not be asked or its
 * answer is not HTTP and JSON.
 */
static int
roundtrip(p11v_prov *p, struct vd_state *s, const char *method, const char *path, const char *body,
	  struct vd_reply *rp)
{
	size_t blen = body != NULL ? strlen(body) : 0, rlen, hlen;
	struct pv_http *h = NULL;
	const uint8_t *rbody, *head;
	pv_buf *req = NULL;
	int ok = 0;
	pv_err r;

	memset(rp, 0, sizeof(*rp));
	if ((r = pv_buf_new(VD_REQ_MAX, &req)) != PV_OK ||
	    (r = put_head(s, req, method, path, blen)) != PV_OK ||
	    (blen > 0 && (r = pv_buf_put(req, body, blen)) != PV_OK)) {
		p11v_raise(p, r == PV_ERR_TOO_LARGE ? P11V_R_UNSUPPORTED : P11V_R_INTERNAL,
			   "vaultd request: %s", pv_err_id(r));
		goto out;
	}
	if ((r = conn_take(s, &h)) != PV_OK) {
		p11v_raise(p, P11V_R_TOKEN, "vaultd is not reachable at %s: %s", s->sock, pv_err_detail());
		goto out;
	}
	r = pv_http_roundtrip(h, pv_buf_ptr(req), pv_buf_len(req), &rp->status, &rbody, &rlen);
	if (r != PV_OK) {
		p11v_raise(p, P11V_R_TOKEN, "vaultd at %s: %s", s->sock, pv_err_detail());
		pv_http_close(h);
		h = NULL;
		goto out;
	}
	pv_http_last_head(h, &head, &hlen);
	if (pv_http_find_header(head, hlen, "X-Request-Id", rp->rid, sizeof(rp->rid)) != PV_OK)
		rp->rid[0] = '\0';
	if (rlen > 0 &&
	    pv_json_parse(rbody, rlen, "vaultd's answer", PV_JSON_DEPTH_MAX, &rp->body) != PV_OK) {
		p11v_raise(p, P11V_R_TOKEN, "vaultd answered %u with a body that is not JSON: %s", rp->status,
			   pv_err_detail());
		goto out;
	}
	ok = 1;
out:
	if (h != NULL)
		conn_give(s, h);
	pv_buf_free(req);
	return ok;
}

/* Printable ASCII of vaultd's message (it holds no secret, docs/api.md §3),
 * cut to fit. */
static void
clean_text(const char *in, char *out, size_t len)
{
	size_t i = 0;

	for (; in != NULL && *in != '\0' && i + 1 < len; in++)
		out[i++] = (*in >= 0x20 && *in < 0x7f) ? *in : '?';
	out[i] = '\0';
}

/* Raise the error of a reply that is not 200, mapped to a reason. */
static void
raise_reply(p11v_prov *p, const char *what, const char *name, const struct vd_reply *rp)
{
	const char *code = NULL, *msg = NULL;
	char ccode[40], cmsg[200];
	int reason;

	if (rp->body != NULL) {
		pv_jv root = pv_json_root(rp->body, "answer"), err = pv_json_at(&root, "error");

		if (pv_json_string(&err, "code", 0, 64, &code) != PV_OK)
			code = NULL;
		if (pv_json_string(&err, "message", 0, 1024, &msg) != PV_OK)
			msg = NULL;
	}
	clean_text(code != NULL ? code : "?", ccode, sizeof(ccode));
	clean_text(msg != NULL ? msg : "", cmsg, sizeof(cmsg));
	switch (rp->status) {
	case 401:
		reason = P11V_R_DENIED;
		break;
	case 403:
		reason = code != NULL && strcmp(code, "wrong_purpose") == 0 ? P11V_R_PURPOSE : P11V_R_DENIED;
		break;
	case 404:
		reason = P11V_R_NOT_FOUND;
		break;
	case 409:
		reason = P11V_R_RETIRED;
		break;
	case 400:
	case 413:
		reason =
		    code != NULL && strcmp(code, "bad_request") == 0 ? P11V_R_INTERNAL : P11V_R_UNSUPPORTED;
		break;
	case 429:
	case 503:
		reason = P11V_R_TOKEN;
		break;
	default:
		reason = P11V_R_INTERNAL;
		break;
	}
	p11v_raise(p, reason, "vaultd refused to %s key '%s': %u %s%s%s (request %s)", what, name, rp->status,
		   ccode, cmsg[0] != '\0' ? ": " : "", cmsg, rp->rid[0] != '\0' ? rp->rid : "?");
}

/* ---- load ---- */

static int
alg_type(const char *alg, enum p11v_ktype *t, const char **curve)
{
	static const struct {
		const char *alg;
		enum p11v_ktype t;
		const char *curve;
	} algs[] = {
	    {"p256", P11V_KT_EC, "prime256v1"}, {"p384", P11V_KT_EC, "secp384r1"},
	    {"ed25519", P11V_KT_ED25519, NULL}, {"rsa2048", P11V_KT_RSA, NULL},
	    {"rsa3072", P11V_KT_RSA, NULL},     {"rsa4096", P11V_KT_RSA, NULL},
	};

	for (size_t i = 0; i < PV_NELEM(algs); i++) {
		if (strcmp(algs[i].alg, alg) == 0) {
			*t = algs[i].t;
			*curve = algs[i].curve;
			return 1;
		}
	}
	return 0;
}

/* The public key of a version (PEM from vaultd), checked against the
 * key's algorithm, in the provider's library context. */
static EVP_PKEY *
read_pub(p11v_prov *p, const char *name, unsigned version, const char *pem, enum p11v_ktype t,
	 const char *curve)
{
	EVP_PKEY *pk = NULL;
	char group[64];
	size_t glen = 0;
	BIO *b;
	int good;

	if ((b = BIO_new_mem_buf(pem, -1)) == NULL ||
	    (pk = PEM_read_bio_PUBKEY_ex(b, NULL, NULL, NULL, p11v_libctx(p), NULL)) == NULL) {
		BIO_free(b);
		p11v_raise(p, P11V_R_TOKEN, "vaultd: the public key of '%s' version %u does not parse", name,
			   version);
		return NULL;
	}
	BIO_free(b);
	switch (t) {
	case P11V_KT_EC:
		good = EVP_PKEY_is_a(pk, "EC") &&
		       EVP_PKEY_get_utf8_string_param(pk, "group", group, sizeof(group), &glen) &&
		       strcmp(group, curve) == 0;
		break;
	case P11V_KT_ED25519:
		good = EVP_PKEY_is_a(pk, "ED25519");
		break;
	default:
		good = EVP_PKEY_is_a(pk, "RSA");
		break;
	}
	if (!good) {
		p11v_raise(p, P11V_R_TOKEN,
			   "vaultd: the public key of '%s' version %u is not of the key's algorithm", name,
			   version);
		EVP_PKEY_free(pk);
		return NULL;
	}
	return pk;
}

/*
 * The key reference in this backend: p11vault:NAME[;version=N], or a
 * pkcs11: URI whose object= is a p11vault label (NAME.vN) or a key name.
 */
static int
ref_of_uri(p11v_prov *p, const struct p11v_uri *u, struct p11v_keyref *ref)
{
	const char *dot;
	char *end;
	unsigned long v;

	memset(ref, 0, sizeof(*ref));
	memcpy(ref->name, u->name, sizeof(ref->name));
	ref->name[sizeof(ref->name) - 1] = '\0';
	ref->version = u->version;
	if (!u->is_pkcs11)
		return 1;
	if (u->name[0] == '\0') {
		p11v_raise(
		    p, P11V_R_BAD_URI,
		    "backend vaultd: a pkcs11: URI needs object=NAME or object=NAME.vN (vaultd names keys, "
		    "not CKA_IDs); or use p11vault:NAME[;version=N]");
		return 0;
	}
	/* "NAME.vN": the label of version N's objects */
	if ((dot = strrchr(u->name, '.')) != NULL && dot[1] == 'v' && dot[2] >= '1' && dot[2] <= '9') {
		v = strtoul(dot + 2, &end, 10);
		if (*end == '\0' && v <= PV_KEY_VERSIONS_MAX) {
			if (u->version != 0 && u->version != (unsigned)v) {
				p11v_raise(p, P11V_R_BAD_URI,
					   "pkcs11: URI: object=%s and x-p11vault-version=%u name different "
					   "versions",
					   u->name, u->version);
				return 0;
			}
			ref->name[dot - u->name] = '\0';
			ref->version = (unsigned)v;
		}
	}
	if (!pv_key_name_valid(ref->name)) {
		p11v_raise(p, P11V_R_BAD_URI,
			   "backend vaultd: object= of a pkcs11: URI must be a p11vault key name or NAME.vN");
		return 0;
	}
	return 1;
}

/* A string member that may be null (NULL then), or absent. */
static pv_err
string_or_null(const pv_jv *obj, const char *name, size_t maxlen, const char **out)
{
	pv_jv m = pv_json_at(obj, name);

	*out = NULL;
	if (m.j != NULL && cJSON_IsNull(m.j))
		return PV_OK;
	return pv_json_as_string(&m, 0, maxlen, out);
}

/* The version to pin: the one asked for (not retired), else the active one. */
static int
pick_version(p11v_prov *p, const char *name, const pv_jv *versions, unsigned want, unsigned *ver,
	     const char **pem)
{
	const char *state = NULL;
	int64_t v = 0;

	*pem = NULL;
	for (pv_jv e = pv_json_first(versions); e.j != NULL; pv_json_next(&e)) {
		if (pv_json_int(&e, "version", PV_JSON_REQUIRED, 1, PV_KEY_VERSIONS_MAX, &v) != PV_OK ||
		    pv_json_string(&e, "state", PV_JSON_REQUIRED, 32, &state) != PV_OK ||
		    string_or_null(&e, "public_key_pem", 16384, pem) != PV_OK) {
			p11v_raise(p, P11V_R_TOKEN, "vaultd's description of key '%s': %s", name,
				   pv_err_detail());
			return 0;
		}
		if (want != 0 ? (unsigned)v == want : strcmp(state, "active") == 0)
			break;
		state = NULL;
	}
	if (state == NULL) {
		if (want != 0)
			p11v_raise(p, P11V_R_NOT_FOUND, "key '%s' has no version %u", name, want);
		else
			p11v_raise(p, P11V_R_NOT_FOUND, "key '%s' has no active version", name);
		return 0;
	}
	if (strcmp(state, "retired") == 0) {
		p11v_raise(p, P11V_R_RETIRED, "key '%s' version %u is retired", name, want);
		return 0;
	}
	if (*pem == NULL) {
		p11v_raise(p, P11V_R_NOT_FOUND, "vaultd has no public key for '%s' version %u", name,
			   (unsigned)v);
		return 0;
	}
	*ver = (unsigned)v;
	return 1;
}

p11v_key *
p11v_vaultd_load(p11v_prov *p, const struct p11v_uri *u)
{
	struct vd_state *s;
	struct vd_reply rp = {0};
	struct p11v_keyref ref;
	const char *alg = NULL, *purpose = NULL, *pem = NULL, *curve = NULL;
	enum p11v_ktype t;
	EVP_PKEY *pub = NULL;
	p11v_key *k = NULL;
	char path[128];
	pv_jv root, versions;
	size_t nv = 0;

	if (!ref_of_uri(p, u, &ref) || (s = state_get(p)) == NULL)
		return NULL;
	snprintf(path, sizeof(path), "/v1/keys/%s", ref.name);
	if (!roundtrip(p, s, "GET", path, NULL, &rp))
		goto out;
	if (rp.status != 200) {
		raise_reply(p, "describe", ref.name, &rp);
		goto out;
	}
	root = pv_json_root(rp.body, "vaultd's description");
	if (rp.body == NULL || pv_json_as_object(&root, PV_JSON_REQUIRED, NULL) != PV_OK ||
	    pv_json_string(&root, "alg", PV_JSON_REQUIRED, 32, &alg) != PV_OK ||
	    string_or_null(&root, "purpose", 32, &purpose) != PV_OK ||
	    pv_json_array(&root, "versions", PV_JSON_REQUIRED, PV_KEY_VERSIONS_MAX, &versions, &nv) !=
		PV_OK) {
		p11v_raise(p, P11V_R_TOKEN, "vaultd's description of key '%s': %s", ref.name,
			   pv_err_detail());
		goto out;
	}
	if (!alg_type(alg, &t, &curve)) {
		p11v_raise(p, P11V_R_UNSUPPORTED,
			   "key '%s' is %.32s: the provider signs with p256, p384, ed25519 "
			   "and rsa keys",
			   ref.name, alg);
		goto out;
	}
	/* vaultd signs only for keys of purpose sign (decrypt and derive are
	 * not offered through vaultd): refuse now rather than at each use */
	if (purpose == NULL || strcmp(purpose, "sign") != 0) {
		p11v_raise(p, P11V_R_PURPOSE,
			   "key '%s' has purpose %.32s: only keys of purpose sign sign through vaultd",
			   ref.name, purpose != NULL ? purpose : "(none)");
		goto out;
	}
	if (!pick_version(p, ref.name, &versions, ref.version, &ref.version, &pem) ||
	    (pub = read_pub(p, ref.name, ref.version, pem, t, curve)) == NULL)
		goto out;
	if ((k = p11v_key_new(p, t, pub, &ref)) == NULL) {
		p11v_raise(p, P11V_R_INTERNAL, "out of memory");
		goto out;
	}
	pub = NULL;
out:
	EVP_PKEY_free(pub);
	reply_clear(&rp);
	return k;
}

/* ---- sign ---- */

/* vaultd's name of a digest OpenSSL names md ("SHA256", "SHA2-256", ...). */
static const char *
digest_name(p11v_prov *p, const char *md, size_t *len)
{
	static const struct {
		const char *name, *vd;
		size_t len;
	} mds[] = {{"SHA256", "sha256", 32}, {"SHA384", "sha384", 48}, {"SHA512", "sha512", 64}};
	EVP_MD *m;
	const char *out = NULL;

	if (md == NULL || (m = EVP_MD_fetch(p11v_libctx(p), md, NULL)) == NULL)
		return NULL;
	for (size_t i = 0; i < PV_NELEM(mds) && out == NULL; i++) {
		if (EVP_MD_is_a(m, mds[i].name)) {
			out = mds[i].vd;
			*len = mds[i].len;
		}
	}
	EVP_MD_free(m);
	return out;
}

/* The body of POST /v1/keys/{name}/sign (malloc'd), or NULL with an error
 * raised for what vaultd cannot do. */
static char *
sign_body(p11v_prov *p, p11v_key *k, const struct p11v_sigreq *rq, unsigned version)
{
	const char *dg = NULL, *mgf;
	size_t dlen = 0, n;
	char *b64 = NULL, *body = NULL;
	char extra[96] = "";

	if (rq->mech == P11V_SIG_EDDSA) {
		if (p11v_key_type(k) != P11V_KT_ED25519) {
			p11v_raise(p, P11V_R_UNSUPPORTED, "EdDSA needs an Ed25519 key");
			return NULL;
		}
		if (rq->tbslen == 0 || rq->tbslen > VD_EDDSA_MAX) {
			p11v_raise(p, P11V_R_UNSUPPORTED, "vaultd signs Ed25519 messages of 1 byte to 1 MiB");
			return NULL;
		}
	} else {
		if ((dg = digest_name(p, rq->mdname, &dlen)) == NULL) {
			p11v_raise(p, P11V_R_UNSUPPORTED,
				   "vaultd signs SHA-256, SHA-384 and SHA-512 digests, not %.32s",
				   rq->mdname != NULL ? rq->mdname : "a raw input");
			return NULL;
		}
		if (rq->tbslen != dlen) {
			p11v_raise(p, P11V_R_INTERNAL, "a %s digest is %zu bytes, not %zu", dg, dlen,
				   rq->tbslen);
			return NULL;
		}
	}
	switch (rq->mech) {
	case P11V_SIG_ECDSA:
		if (p11v_key_type(k) != P11V_KT_EC) {
			p11v_raise(p, P11V_R_UNSUPPORTED, "ECDSA needs an EC key");
			return NULL;
		}
		snprintf(extra, sizeof(extra), ",\"format\":\"der\"");
		break;
	case P11V_SIG_RSA_PKCS1:
		snprintf(extra, sizeof(extra), ",\"padding\":\"pkcs1\"");
		break;
	case P11V_SIG_RSA_PSS:
		/* vaultd: MGF1 with the signing digest, salt as long as the digest */
		mgf = rq->mgf1_mdname != NULL ? rq->mgf1_mdname : rq->mdname;
		if (digest_name(p, mgf, &n) != dg || rq->saltlen < 0 || (size_t)rq->saltlen != dlen) {
			p11v_raise(
			    p, P11V_R_UNSUPPORTED,
			    "vaultd signs RSA-PSS with MGF1 over the signing digest (%s) and a salt of %zu bytes "
			    "(asked: MGF1 %.32s, salt %d)",
			    dg, dlen, mgf != NULL ? mgf : "?", rq->saltlen);
			return NULL;
		}
		snprintf(extra, sizeof(extra), ",\"padding\":\"pss\"");
		break;
	case P11V_SIG_EDDSA:
		break;
	default:
		p11v_raise(p, P11V_R_UNSUPPORTED, "unknown signature mechanism");
		return NULL;
	}
	if ((rq->mech == P11V_SIG_RSA_PKCS1 || rq->mech == P11V_SIG_RSA_PSS) &&
	    p11v_key_type(k) != P11V_KT_RSA && p11v_key_type(k) != P11V_KT_RSA_PSS) {
		p11v_raise(p, P11V_R_UNSUPPORTED, "RSA signatures need an RSA key");
		return NULL;
	}
	if (pv_b64_encode(rq->tbs, rq->tbslen, &b64) != PV_OK) {
		p11v_raise(p, P11V_R_INTERNAL, "out of memory");
		return NULL;
	}
	n = strlen(b64) + 160;
	if ((body = malloc(n)) == NULL) {
		p11v_raise(p, P11V_R_INTERNAL, "out of memory");
	} else if (dg == NULL) {
		snprintf(body, n, "{\"input_b64\":\"%s\",\"version\":%u}", b64, version);
	} else {
		snprintf(body, n, "{\"digest_b64\":\"%s\",\"digest\":\"%s\",\"version\":%u%s}", b64, dg,
			 version, extra);
	}
	free(b64);
	return body;
}

/* The signature of a 200 answer into sig, checked for its shape. */
static int
take_signature(p11v_prov *p, p11v_key *k, const struct p11v_sigreq *rq, unsigned version,
	       const struct vd_reply *rp, unsigned char *sig, size_t *siglen, size_t sigsize)
{
	const struct p11v_keyref *ref = p11v_key_ref(k);
	uint8_t buf[VD_SIG_MAX];
	const char *b64 = NULL;
	int64_t v = 0;
	size_t n = 0;
	int want;
	pv_jv root = pv_json_root(rp->body, "vaultd's answer");

	if (rp->body == NULL ||
	    pv_json_int(&root, "version", PV_JSON_REQUIRED, 1, PV_KEY_VERSIONS_MAX, &v) != PV_OK ||
	    pv_json_string(&root, "signature_b64", PV_JSON_REQUIRED, 4 * VD_SIG_MAX, &b64) != PV_OK ||
	    pv_b64_decode(b64, strlen(b64), buf, sizeof(buf), &n) != PV_OK) {
		p11v_raise(p, P11V_R_TOKEN, "vaultd's signature of '%s': %s", ref->name, pv_err_detail());
		return 0;
	}
	if ((unsigned)v != version) {
		/* never hand out a signature of another key version */
		p11v_raise(p, P11V_R_RETIRED, "vaultd signed '%s' with version %u, not the pinned %u",
			   ref->name, (unsigned)v, version);
		return 0;
	}
	switch (rq->mech) {
	case P11V_SIG_EDDSA:
		want = n == 64;
		break;
	case P11V_SIG_ECDSA:
		want = n >= 8 && buf[0] == 0x30;
		break;
	default:
		want = n == (size_t)EVP_PKEY_get_size(p11v_key_pub(k));
		break;
	}
	if (!want) {
		p11v_raise(p, P11V_R_TOKEN, "vaultd's signature of '%s' has an unexpected form (%zu bytes)",
			   ref->name, n);
		return 0;
	}
	if (n > sigsize) {
		p11v_raise(p, P11V_R_INTERNAL, "the signature buffer is %zu bytes, the signature %zu",
			   sigsize, n);
		return 0;
	}
	memcpy(sig, buf, n);
	*siglen = n;
	return 1;
}

int
p11v_vaultd_sign(p11v_key *k, const struct p11v_sigreq *rq, unsigned char *sig, size_t *siglen,
		 size_t sigsize)
{
	p11v_prov *p = p11v_key_prov(k);
	const struct p11v_keyref *ref = p11v_key_ref(k);
	struct vd_reply rp = {0};
	struct vd_state *s;
	char path[128], *body = NULL;
	int ok = 0;

	if (ref == NULL || ref->name[0] == '\0' || ref->version == 0) {
		p11v_raise(p, P11V_R_UNSUPPORTED, "backend vaultd: the key has no p11vault name and version");
		return 0;
	}
	if ((s = state_get(p)) == NULL || (body = sign_body(p, k, rq, ref->version)) == NULL)
		return 0;
	snprintf(path, sizeof(path), "/v1/keys/%s/sign", ref->name);
	if (!roundtrip(p, s, "POST", path, body, &rp))
		goto out;
	if (rp.status != 200) {
		raise_reply(p, "sign with", ref->name, &rp);
		goto out;
	}
	ok = take_signature(p, k, rq, ref->version, &rp, sig, siglen, sigsize);
out:
	free(body);
	reply_clear(&rp);
	return ok;
}
