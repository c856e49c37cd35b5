/*
 * Key repair: find, and on request fix, what older versions, crashes and
 * races left on the token: metadata copies claiming one serial (a key with
 * two versions of one number), stale lower-serial copies, unreadable
 * copies, key objects labelled NAME.vN that no metadata references
 * (orphans), versions whose key object is gone (missing) and stale change
 * locks. Fixing runs under the key's change
 * lock, so it never races a writer.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "core/keys_internal.h"

struct copy {
	CK_OBJECT_HANDLE h;
	struct pv_key *k; /* NULL: the copy does not parse */
};

struct idref {
	uint8_t id[PV_KEY_ID_MAX];
	size_t len;
};

struct names {
	char (*v)[PV_KEY_NAME_MAX + 1];
	size_t n;
};

struct repair {
	pv_keystore *ks;
	int fix;
	pv_keys_repair_fn fn;
	void *arg;
	size_t found;
	struct idref *refs; /* every CKA_ID some metadata copy names */
	size_t nrefs;
};

static const CK_OBJECT_CLASS key_classes[] = {CKO_PRIVATE_KEY, CKO_PUBLIC_KEY, CKO_SECRET_KEY};

static void report(struct repair *rp, const char *name, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
report(struct repair *rp, const char *name, const char *kind, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	rp->found++;
	if (rp->fn != NULL)
		rp->fn(rp->arg, name, kind, what);
}

/* "NAME.vN" -> NAME (valid key name) and N; 0 when the label is not one. */
static int
label_name(const char *label, char *name, size_t len, unsigned *ver)
{
	const char *dot = strrchr(label, '.');
	char *end;
	unsigned long v;

	if (dot == NULL || dot[1] != 'v' || dot[2] < '0' || dot[2] > '9' || (size_t)(dot - label) >= len)
		return 0;
	errno = 0;
	v = strtoul(dot + 2, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0 || v > 0xffffffffUL)
		return 0;
	memcpy(name, label, (size_t)(dot - label));
	name[dot - label] = '\0';
	*ver = (unsigned)v;
	return pv_key_name_valid(name);
}

static pv_err
get_label(p11_token *tok, CK_OBJECT_HANDLE h, char *buf, size_t len)
{
	uint8_t *val = NULL;
	size_t n = 0;
	pv_err r;

	buf[0] = '\0';
	if ((r = p11_handle_get_attr(tok, h, CKA_LABEL, &val, &n)) == PV_ERR_NOT_FOUND)
		return PV_OK;
	if (r != PV_OK)
		return r;
	if (n >= len)
		n = len - 1;
	memcpy(buf, val, n);
	buf[n] = '\0';
	free(val);
	return PV_OK;
}

static pv_err
names_add(struct names *ns, const char *name)
{
	char(*grown)[PV_KEY_NAME_MAX + 1];
	size_t i;

	if (!pv_key_name_valid(name))
		return PV_OK;
	for (i = 0; i < ns->n; i++)
		if (strcmp(ns->v[i], name) == 0)
			return PV_OK;
	if ((grown = reallocarray(ns->v, ns->n + 1, sizeof(*grown))) == NULL)
		return PV_ERR_NOMEM;
	ns->v = grown;
	snprintf(ns->v[ns->n++], sizeof(ns->v[0]), "%s", name);
	return PV_OK;
}

/* Handles of objects of class cls (and application app, for data). */
static pv_err
find_class(pv_keystore *ks, CK_OBJECT_CLASS cls, const char *app, const char *label, CK_OBJECT_HANDLE **hs,
	   size_t *n)
{
	CK_ATTRIBUTE t[3] = {{CKA_CLASS, &cls, sizeof(cls)}};
	CK_ULONG nt = 1;

	if (app != NULL)
		t[nt++] = (CK_ATTRIBUTE){CKA_APPLICATION, (void *)(uintptr_t)app, strlen(app)};
	if (label != NULL)
		t[nt++] = (CK_ATTRIBUTE){CKA_LABEL, (void *)(uintptr_t)label, strlen(label)};
	return p11_find_all(ks->tok, t, nt, hs, n);
}

/* The names something on the token belongs to: metadata, locks, NAME.vN keys. */
static pv_err
collect_names(pv_keystore *ks, struct names *ns)
{
	static const char *const apps[] = {APPLICATION, KS_LOCK_APPLICATION};
	CK_OBJECT_HANDLE *hs = NULL;
	char label[P11_LABEL_MAX], name[PV_KEY_NAME_MAX + 1];
	size_t n = 0, i, a;
	unsigned ver;
	pv_err r = PV_OK;

	for (a = 0; a < PV_NELEM(apps) && r == PV_OK; a++) {
		if ((r = find_class(ks, CKO_DATA, apps[a], NULL, &hs, &n)) != PV_OK)
			break;
		for (i = 0; i < n && r == PV_OK; i++)
			if ((r = get_label(ks->tok, hs[i], label, sizeof(label))) == PV_OK)
				r = names_add(ns, label);
		free(hs);
		hs = NULL;
	}
	for (a = 0; a < PV_NELEM(key_classes) && r == PV_OK; a++) {
		if ((r = find_class(ks, key_classes[a], NULL, NULL, &hs, &n)) != PV_OK)
			break;
		for (i = 0; i < n && r == PV_OK; i++)
			if ((r = get_label(ks->tok, hs[i], label, sizeof(label))) == PV_OK &&
			    label_name(label, name, sizeof(name), &ver))
				r = names_add(ns, name);
		free(hs);
		hs = NULL;
	}
	return r;
}

static void
copies_free(struct copy *c, size_t n)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < n; i++)
		pv_key_free(c[i].k);
	free(c);
}

/* Every metadata copy of name (name NULL: of every key), parsed or not. */
static pv_err
load_copies(pv_keystore *ks, const char *name, struct copy **out, size_t *count)
{
	CK_OBJECT_HANDLE *hs = NULL;
	struct copy *c = NULL;
	uint8_t *val = NULL;
	size_t n = 0, i, len = 0;
	pv_err r;

	*out = NULL;
	*count = 0;
	if ((r = find_class(ks, CKO_DATA, APPLICATION, name, &hs, &n)) != PV_OK)
		goto out;
	if ((c = calloc(n ? n : 1, sizeof(*c))) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		c[i].h = hs[i];
		if ((r = p11_handle_get_attr(ks->tok, hs[i], CKA_VALUE, &val, &len)) != PV_OK)
			goto out;
		if (pv_keymeta_parse(val, len, &c[i].k) != PV_OK ||
		    (name != NULL && strcmp(c[i].k->name, name) != 0)) {
			pv_key_free(c[i].k);
			c[i].k = NULL;
		}
		free(val);
		val = NULL;
	}
	pv_err_clear_detail();
	*out = c;
	*count = n;
	c = NULL;
out:
	copies_free(c, n);
	free(hs);
	free(val);
	return r;
}

static pv_err
refs_add_key(struct repair *rp, const struct pv_key *k)
{
	struct idref *grown;
	size_t j;

	for (j = 0; j < k->nversions; j++) {
		if ((grown = reallocarray(rp->refs, rp->nrefs + 1, sizeof(*grown))) == NULL)
			return PV_ERR_NOMEM;
		rp->refs = grown;
		memcpy(rp->refs[rp->nrefs].id, k->versions[j].id, k->versions[j].id_len);
		rp->refs[rp->nrefs++].len = k->versions[j].id_len;
	}
	return PV_OK;
}

static int
referenced(const struct repair *rp, const uint8_t *id, size_t len)
{
	size_t i;

	for (i = 0; i < rp->nrefs; i++)
		if (rp->refs[i].len == len && memcmp(rp->refs[i].id, id, len) == 0)
			return 1;
	return 0;
}

/* Locks of name that are stale (a writer died): reported, removed on fix. */
static pv_err
repair_locks(struct repair *rp, const char *name)
{
	CK_OBJECT_HANDLE *hs = NULL;
	uint8_t *val = NULL;
	size_t n = 0, i, len = 0;
	pv_err r;

	if ((r = find_class(rp->ks, CKO_DATA, KS_LOCK_APPLICATION, name, &hs, &n)) != PV_OK)
		goto out;
	for (i = 0; i < n; i++) {
		if ((r = p11_handle_get_attr(rp->ks->tok, hs[i], CKA_VALUE, &val, &len)) != PV_OK) {
			if (r == PV_ERR_NOT_FOUND)
				continue; /* its holder dropped it meanwhile */
			goto out;
		}
		if (ks_lock_stale(val, len, (int64_t)time(NULL))) {
			if (rp->fix)
				ks_destroy_quietly(rp->ks, hs[i]);
			report(rp, name, "stale-lock",
			       "a change lock left by a process that did not finish%s",
			       rp->fix ? "; removed" : "");
		}
		free(val);
		val = NULL;
	}
	r = PV_OK;
out:
	free(val);
	free(hs);
	return r;
}

/* Add the versions of other that base lacks (by CKA_ID), renumbered. */
static pv_err
merge_copy(struct repair *rp, struct pv_key *base, const struct pv_key *other)
{
	struct pv_key_version *nv = NULL;
	size_t i, j;
	int have;
	pv_err r;

	for (i = 0; i < other->nversions; i++) {
		const struct pv_key_version *ov = &other->versions[i];
		pv_key_state st = ov->state;

		for (have = 0, j = 0; j < base->nversions && !have; j++)
			have = base->versions[j].id_len == ov->id_len &&
			       memcmp(base->versions[j].id, ov->id, ov->id_len) == 0;
		if (have)
			continue;
		/* the base copy keeps its active/next version; the other's is
		 * kept for verification only */
		if (st == PV_STATE_ACTIVE || st == PV_STATE_NEXT)
			st = PV_STATE_VERIFY_ONLY;
		if ((r = pv_key_add_version(base, st, ov->id, ov->id_len, ov->adopted, &nv)) != PV_OK)
			return r;
		nv->created = ov->created;
		nv->activated = ov->activated;
		nv->demoted = ov->demoted;
		if (st != ov->state && ov->state == PV_STATE_ACTIVE)
			nv->demoted = pv_key_clock_now(); /* signed until now */
		if (rp->fn != NULL) {
			char what[160];

			snprintf(what, sizeof(what), "the other copy's version %u is now version %u (%s)",
				 ov->version, nv->version, pv_key_state_name(nv->state));
			rp->fn(rp->arg, base->name, "tie", what);
		}
		nv = NULL;
	}
	return PV_OK;
}

/* Relabel a renumbered version's objects NAME.vN (best effort). */
static void
relabel(struct repair *rp, const struct pv_key *k)
{
	char label[P11_LABEL_MAX], name[PV_KEY_NAME_MAX + 1];
	uint8_t *cur = NULL;
	size_t i, c, len = 0;
	unsigned ver;
	p11_obj o;

	for (i = 0; i < k->nversions; i++) {
		const struct pv_key_version *v = &k->versions[i];

		if (v->adopted)
			continue;
		for (c = 0; c < PV_NELEM(key_classes); c++) {
			ks_obj_ref(v, key_classes[c], &o);
			if (p11_obj_get_attr(rp->ks->tok, &o, CKA_LABEL, &cur, &len) != PV_OK)
				continue;
			snprintf(label, sizeof(label), "%.*s", (int)len, (const char *)cur);
			free(cur);
			cur = NULL;
			if (!label_name(label, name, sizeof(name), &ver) || strcmp(name, k->name) != 0 ||
			    ver == v->version)
				continue;
			pv_keys_label(k, v, label, sizeof(label));
			CK_ATTRIBUTE t[] = {{CKA_LABEL, label, strlen(label)}};
			if (p11_obj_set_attrs(rp->ks->tok, &o, t, PV_NELEM(t)) != PV_OK)
				pv_err_clear_detail(); /* a label is cosmetic: the CKA_ID finds it */
		}
	}
	pv_err_clear_detail();
}

/* The metadata copies of one key: ties merged, stale and unreadable copies removed. */
static pv_err
repair_meta(struct repair *rp, const char *name)
{
	struct copy *c = NULL;
	struct pv_key *base = NULL;
	struct meta_loc loc;
	size_t n = 0, i, nread = 0, ties = 0;
	uint64_t top = 0;
	pv_err r;

	if ((r = load_copies(rp->ks, name, &c, &n)) != PV_OK)
		goto out;
	for (i = 0; i < n; i++) {
		if (c[i].k == NULL)
			continue;
		if (nread++ == 0 || c[i].k->serial > top)
			top = c[i].k->serial;
	}
	for (i = 0; i < n; i++) {
		if (c[i].k == NULL) {
			report(rp, name, "unreadable-copy", "a metadata copy that does not parse%s",
			       !rp->fix    ? ""
			       : nread > 0 ? "; removed"
					   : "; left alone (no readable copy)");
			if (rp->fix && nread > 0)
				ks_destroy_quietly(rp->ks, c[i].h);
		} else if (c[i].k->serial < top) {
			report(rp, name, "stale-copy", "a metadata copy with serial %llu (current %llu)%s",
			       (unsigned long long)c[i].k->serial, (unsigned long long)top,
			       rp->fix ? "; removed" : "");
			if (rp->fix)
				ks_destroy_quietly(rp->ks, c[i].h);
		} else {
			ties++;
		}
	}
	if (ties > 1) {
		report(rp, name, "tie",
		       "%zu metadata copies claim serial %llu (versions with one number, key unusable)%s",
		       ties, (unsigned long long)top, rp->fix ? "; merged into one" : "");
		if (rp->fix) {
			for (i = 0; i < n; i++) {
				if (c[i].k == NULL || c[i].k->serial != top)
					continue;
				if (base == NULL) {
					if ((r = pv_key_dup(c[i].k, &base)) != PV_OK)
						goto out;
				} else if ((r = merge_copy(rp, base, c[i].k)) != PV_OK) {
					goto out;
				}
			}
			/* a new copy with serial top+1, then the tied ones go */
			memset(&loc, 0, sizeof(loc));
			if ((r = ks_meta_store(rp->ks, base, &loc, 1)) != PV_OK)
				goto out;
			for (i = 0; i < n; i++)
				if (c[i].k != NULL && c[i].k->serial == top)
					ks_destroy_quietly(rp->ks, c[i].h);
			relabel(rp, base);
		}
	}
	r = PV_OK;
out:
	pv_key_free(base);
	copies_free(c, n);
	return r;
}

/* Key objects labelled NAME.vN whose CKA_ID no metadata names. */
static pv_err
repair_orphans(struct repair *rp, const char *name)
{
	CK_OBJECT_HANDLE *hs = NULL;
	char label[P11_LABEL_MAX], lname[PV_KEY_NAME_MAX + 1], hex[2 * P11_ID_MAX + 1];
	uint8_t *id = NULL;
	size_t n = 0, i, c, idlen = 0;
	unsigned ver;
	pv_err r = PV_OK;

	for (c = 0; c < PV_NELEM(key_classes) && r == PV_OK; c++) {
		if ((r = find_class(rp->ks, key_classes[c], NULL, NULL, &hs, &n)) != PV_OK)
			break;
		for (i = 0; i < n; i++) {
			if ((r = get_label(rp->ks->tok, hs[i], label, sizeof(label))) != PV_OK)
				break;
			if (!label_name(label, lname, sizeof(lname), &ver) || strcmp(lname, name) != 0)
				continue;
			if ((r = p11_handle_get_attr(rp->ks->tok, hs[i], CKA_ID, &id, &idlen)) ==
			    PV_ERR_NOT_FOUND) {
				idlen = 0;
				r = PV_OK;
			}
			if (r != PV_OK)
				break;
			if (idlen == 0 || !referenced(rp, id, idlen)) {
				sodium_bin2hex(hex, sizeof(hex), id, idlen < P11_ID_MAX ? idlen : P11_ID_MAX);
				report(rp, name, "orphan",
				       "%s object '%s' (id %s) is referenced by no metadata%s",
				       key_classes[c] == CKO_PRIVATE_KEY  ? "private key"
				       : key_classes[c] == CKO_PUBLIC_KEY ? "public key"
									  : "secret key",
				       label, hex, rp->fix ? "; destroyed" : "");
				if (rp->fix)
					ks_destroy_quietly(rp->ks, hs[i]);
			}
			free(id);
			id = NULL;
		}
		free(hs);
		hs = NULL;
	}
	free(id);
	free(hs);
	return r;
}

/* Whether the token holds an object of class cls with the version's CKA_ID;
 * asked twice before "no" (SoftHSM's search can miss an object that another
 * process is rewriting, and "no" may lead to a version being dropped). */
static pv_err
version_object_present(pv_keystore *ks, const struct pv_key_version *v, CK_OBJECT_CLASS cls, int *present)
{
	struct timespec pause = {.tv_sec = 0, .tv_nsec = 200 * 1000000L};
	p11_obj o;
	pv_err r = PV_OK;

	*present = 0;
	for (int tries = 0; tries < 2 && !*present; tries++) {
		if (tries > 0)
			while (nanosleep(&pause, &pause) != 0 && errno == EINTR)
				;
		ks_obj_ref(v, cls, &o);
		r = p11_obj_find(ks->tok, &o);
		if (r == PV_ERR_NOT_FOUND) {
			pv_err_clear_detail();
			r = PV_OK;
			continue;
		}
		if (r != PV_OK)
			return r;
		*present = 1;
	}
	return r;
}

/*
 * Versions the metadata names whose key object (private or secret) is not on
 * the token: destroyed with pkcs11-tool, or a crash between destroying the
 * objects and writing the metadata. A missing version that is not active is
 * dropped from the metadata on fix; an active one cannot be (the key would
 * have none): that takes a rotation first, and repair says so (exit 6).
 */
static pv_err
repair_missing(struct repair *rp, const char *name)
{
	struct pv_key *k = NULL;
	struct meta_loc mobj;
	size_t i, dropped = 0;
	int present;
	pv_err r;

	if ((r = ks_meta_load(rp->ks, name, &k, &mobj)) != PV_OK) {
		/* no metadata (only locks or orphans), or a tie repair_meta reported */
		if (r == PV_ERR_NOT_FOUND || r == PV_ERR_INTEGRITY) {
			pv_err_clear_detail();
			r = PV_OK;
		}
		goto out;
	}
	for (i = 0; i < k->nversions;) {
		struct pv_key_version *v = &k->versions[i];

		if ((r = version_object_present(rp->ks, v, ks_secret_class(k->alg), &present)) != PV_OK)
			goto out;
		if (present) {
			i++;
			continue;
		}
		if (v->state == PV_STATE_ACTIVE) {
			report(rp, name, "missing",
			       "version %u (active) has no %s key object on the token; it cannot be dropped: "
			       "rotate the key (vaultctl key rotate %s), then repair again",
			       v->version, pv_alg_is_asymmetric(k->alg) ? "private" : "secret", name);
			if (rp->fix) {
				pv_err_set_detail("key '%s': the active version %u has no key object; rotate "
						  "it, then repair again",
						  name, v->version);
				r = PV_ERR_INTEGRITY;
				goto out;
			}
			i++;
			continue;
		}
		report(rp, name, "missing", "version %u (%s) has no %s key object on the token%s", v->version,
		       pv_key_state_name(v->state), pv_alg_is_asymmetric(k->alg) ? "private" : "secret",
		       rp->fix ? "; dropped from the metadata" : "");
		if (!rp->fix) {
			i++;
			continue;
		}
		/* its public half, if any, goes too: the version is gone */
		if ((r = ks_destroy_version(rp->ks, k, v)) != PV_OK)
			goto out;
		memmove(v, v + 1, (k->nversions - i - 1) * sizeof(*v));
		k->nversions--;
		dropped++;
	}
	if (dropped > 0)
		r = k->nversions == 0 ? ks_meta_remove(rp->ks, &mobj) : ks_meta_store(rp->ks, k, &mobj, 0);
out:
	pv_key_free(k);
	return r;
}

/* Every CKA_ID any readable metadata copy names. */
static pv_err
load_refs(struct repair *rp)
{
	struct copy *c = NULL;
	size_t n = 0, i;
	pv_err r;

	free(rp->refs);
	rp->refs = NULL;
	rp->nrefs = 0;
	if ((r = load_copies(rp->ks, NULL, &c, &n)) != PV_OK)
		return r;
	for (i = 0; i < n && r == PV_OK; i++)
		if (c[i].k != NULL)
			r = refs_add_key(rp, c[i].k);
	copies_free(c, n);
	return r;
}

static pv_err
repair_name(struct repair *rp, const char *name)
{
	struct ks_lock lk = {.handle = CK_INVALID_HANDLE};
	pv_err r;

	if ((r = repair_locks(rp, name)) != PV_OK)
		goto out;
	if (rp->fix && (r = ks_lock(rp->ks, name, &lk)) != PV_OK)
		goto out;
	if ((r = repair_meta(rp, name)) != PV_OK || (r = repair_missing(rp, name)) != PV_OK)
		goto out;
	/* read under the lock: a rotation that finished meanwhile is seen */
	if ((r = load_refs(rp)) != PV_OK)
		goto out;
	r = repair_orphans(rp, name);
out:
	ks_unlock(rp->ks, &lk);
	if (rp->fix)
		ks_cache_put(rp->ks, name, NULL);
	return r;
}

pv_err
pv_keys_repair(pv_keystore *ks, const char *name, int fix, pv_keys_repair_fn fn, void *arg, size_t *found)
{
	struct repair rp = {.ks = ks, .fix = fix, .fn = fn, .arg = arg};
	struct names ns = {0};
	size_t i;
	pv_err r;

	*found = 0;
	if (name != NULL) {
		if (!pv_key_name_valid(name)) {
			pv_err_set_detail("invalid key name '%.80s'", name);
			return PV_ERR_USAGE;
		}
		r = names_add(&ns, name);
	} else {
		r = collect_names(ks, &ns);
	}
	for (i = 0; i < ns.n && r == PV_OK; i++)
		r = repair_name(&rp, ns.v[i]);
	*found = rp.found;
	free(rp.refs);
	free(ns.v);
	return r;
}
