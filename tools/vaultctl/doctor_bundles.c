/*
 * vaultctl doctor: bundle recipients whose key version is retired (a
 * scheduled rotation retires versions by itself: issue 18), destroyed, or
 * of a disabled key. A retired version still opens a bundle until it is
 * destroyed (docs/operations.md, section 5): the bundle needs a rewrap
 * before that. A destroyed version, or a disabled key, opens nothing; when
 * no other recipient can, the bundle no longer opens on this token.
 * Reported with the fix (`vaultctl bundle rewrap`); nothing is changed. A
 * recipient names its key version by its label ("NAME.vN", as sealing
 * writes it); one without such a label (a PEM public key, a raw token key)
 * cannot be tied to a p11vault key and is not reported.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle/bundle.h"
#include "core/keymeta.h"
#include "doctor.h"

/* "NAME.vN" into name and *version; 0 when the label is not of that form. */
static int
split_label(const char *label, char *name, size_t namelen, unsigned *version)
{
	const char *dot = label != NULL ? strrchr(label, '.') : NULL;
	unsigned long v;
	char *end = NULL;
	size_t n;

	if (dot == NULL || dot[1] != 'v' || dot[2] < '1' || dot[2] > '9')
		return 0;
	v = strtoul(dot + 2, &end, 10);
	if (*end != '\0' || v > PV_KEY_VERSIONS_MAX || (n = (size_t)(dot - label)) == 0 || n >= namelen)
		return 0;
	memcpy(name, label, n);
	name[n] = '\0';
	*version = (unsigned)v;
	return pv_key_name_valid(name);
}

/* A recipient's trouble: state ("retired", "destroyed", "disabled") and
 * what it means; opens: whether the recipient still opens the bundle. */
struct trouble {
	const char *state, *what;
	int opens;
};

/* 1 and *t filled when the recipient's key version is not in service; 0
 * when it is, or it is not a p11vault key version (not ours to judge). */
static int
trouble_of(pv_keystore *ks, const char *name, unsigned version, struct trouble *t)
{
	struct pv_key *key = NULL;
	const struct pv_key_version *v;

	memset(t, 0, sizeof(*t));
	t->opens = 1;
	if (pv_keys_get(ks, name, &key) != PV_OK)
		return 0;
	if ((v = pv_key_find_version(key, version)) == NULL)
		*t = (struct trouble){"destroyed", "destroyed: opens nothing", 0};
	else if (key->disabled != 0)
		*t = (struct trouble){"disabled", "the key is disabled: opens nothing while it is", 0};
	else if (v->state == PV_STATE_RETIRED)
		*t = (struct trouble){
		    "retired", "retired: still opens it until the version is destroyed; rewrap before that",
		    1};
	pv_key_free(key);
	return t->state != NULL;
}

static void
report(struct vctl *c, cJSON *arr, size_t *nfound, const char *path, const struct pv_bundle_recipient *rc,
       const struct trouble *t, size_t opening)
{
	cJSON *o;

	if (arr != NULL && (o = cJSON_CreateObject()) != NULL) {
		cJSON_AddStringToObject(o, "bundle", path);
		cJSON_AddStringToObject(o, "recipient", rc->label);
		cJSON_AddStringToObject(o, "kid", rc->kid != NULL ? rc->kid : "");
		cJSON_AddStringToObject(o, "state", t->state);
		cJSON_AddStringToObject(o, "what", t->what);
		cJSON_AddBoolToObject(o, "bundle_opens", opening > 0);
		cJSON_AddItemToArray(arr, o);
	}
	if (c->json)
		return;
	if ((*nfound)++ == 0)
		printf("\nbundle recipients on retired, destroyed or disabled key versions (fix: vaultctl "
		       "bundle rewrap; docs/operations.md, section 5):\n");
	printf("  %s: recipient %s: %s%s\n", path, rc->label, t->what,
	       opening == 0 ? " (no recipient of the bundle opens it on this token now)" : "");
}

void
doctor_check_bundles(struct vctl *c, cJSON *doc, const char *const *paths, size_t npaths)
{
	cJSON *arr = NULL;
	pv_keystore *ks = NULL;
	size_t nfound = 0, i, j;
	pv_err r;

	if (npaths == 0)
		return;
	arr = cJSON_AddArrayToObject(doc, "bundle_recipients");
	if ((r = vctl_keystore(c, &ks)) != PV_OK) {
		if (!c->json)
			printf("\nbundle recipients: not checked (%s)\n", pv_strerror(r));
		cJSON_AddStringToObject(doc, "bundle_recipients_error", pv_strerror(r));
		return;
	}
	for (i = 0; i < npaths; i++) {
		struct pv_bundle *b = NULL;
		struct trouble *t = NULL;
		size_t opening = 0;

		if ((r = pv_bundle_load_file(paths[i], &b)) != PV_OK) {
			if (!c->json)
				printf("\nbundle %s: not checked (%s%s%s)\n", paths[i], pv_strerror(r),
				       *pv_err_detail() ? ": " : "", pv_err_detail());
			continue;
		}
		if (b->nrcpt > 0 && (t = calloc(b->nrcpt, sizeof(*t))) == NULL) {
			pv_bundle_free(b);
			continue;
		}
		for (j = 0; j < b->nrcpt; j++) {
			char name[PV_KEY_NAME_MAX + 1];
			unsigned version;

			t[j].opens = 1;
			if (split_label(b->rcpt[j].label, name, sizeof(name), &version))
				(void)trouble_of(ks, name, version, &t[j]);
			opening += t[j].opens != 0;
		}
		for (j = 0; j < b->nrcpt; j++) {
			if (t[j].state != NULL)
				report(c, arr, &nfound, paths[i], &b->rcpt[j], &t[j], opening);
		}
		free(t);
		pv_bundle_free(b);
	}
	if (!c->json && nfound == 0)
		printf("bundle recipients: every recipient of %zu bundle%s that names a p11vault key version "
		       "is on a version in service\n",
		       npaths, npaths == 1 ? "" : "s");
}
