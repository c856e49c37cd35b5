/* vaultctl doctor: what this token can do for each p11vault feature. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/alg.h"
#include "config/vaultd_config.h"
#include "doctor.h"
#include "subcommands.h"

#ifndef CKM_AES_KEY_WRAP_PAD
#define CKM_AES_KEY_WRAP_PAD 0x0000210AUL
#endif

#define DOCTOR_MAX_BUNDLES 32
#define USAGE              "doctor [--json] [--bundle FILE]... [--vaultd-config FILE]"
#define MAX_NEEDS          4
/* CKM_RSA_PKCS_KEY_PAIR_GEN is 0, so the list needs another terminator */
#define END                ((CK_MECHANISM_TYPE)~0UL)

struct feature {
	const char *name;
	CK_MECHANISM_TYPE needs[MAX_NEEDS]; /* END-terminated */
	const char *without;                /* what is lost when a mechanism is missing */
	/* optional: what p11vault falls back to when `needs` is incomplete
	 * (END-terminated; {END} = no fallback) and how, in plain words */
	CK_MECHANISM_TYPE fallback[MAX_NEEDS];
	const char *fallback_how;
};

static const struct feature features[] = {
    {"ECDSA P-256 / P-384 keys (ES256, ES384 JWT, TLS)",
     {CKM_EC_KEY_PAIR_GEN, CKM_ECDSA, END},
     "ECDSA signing (ES256/ES384 JWTs, secp256k1 wallets) unavailable on this token",
     {END},
     NULL},
    {"secp256k1 keys (EVM wallets, ES256K)",
     {CKM_EC_KEY_PAIR_GEN, CKM_ECDSA, END},
     "EVM transaction signing and ES256K unavailable on this token",
     {END},
     NULL},
    {"Ed25519 keys (Solana wallets, EdDSA JWT)",
     {CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EDDSA, END},
     "Solana and EdDSA JWT signing unavailable on this token",
     {END},
     NULL},
    {"RSA PKCS#1 v1.5 (RS256 JWT)",
     {CKM_RSA_PKCS_KEY_PAIR_GEN, CKM_RSA_PKCS, END},
     "RSA keys and RS256 JWTs unavailable on this token",
     {END},
     NULL},
    {"RSA-PSS (PS256 JWT)", {CKM_RSA_PKCS_PSS, END}, "PS256 JWTs unavailable on this token", {END}, NULL},
    {"bundle aes-kwp recipient (aes256 key-encryption keys)",
     {CKM_AES_KEY_GEN, CKM_AES_KEY_WRAP_PAD, END},
     "aes-kwp bundle recipients unavailable on this token (use rsa-oaep-sha256)",
     {END},
     NULL},
    {"bundle entries (token-side decryption)",
     {CKM_AES_GCM, END},
     "the token cannot decrypt bundle entries with the unwrapped data key: bundles cannot be opened on "
     "this token",
     {END},
     NULL},
    {"bundle rsa-oaep-sha256 recipient (rsa keys of purpose decrypt)",
     {CKM_RSA_PKCS_OAEP, END},
     "rsa-oaep-sha256 bundle recipients unavailable on this token",
     {CKM_RSA_X_509, END},
     "C_Decrypt with raw RSA and OAEP decoding in software; the data key passes through guarded "
     "memory (refused with --require-token-unwrap)"},
    {"HMAC-SHA256 derivation keys",
     {CKM_GENERIC_SECRET_KEY_GEN, CKM_SHA256_HMAC, END},
     "hmac-sha256 keys and /v1/derive unavailable on this token",
     {END},
     NULL},
    {"ECDH key agreement", {CKM_ECDH1_DERIVE, END}, "ECDH (/v1/ecdh) unavailable on this token", {END}, NULL},
};

static int
has_mech(const CK_MECHANISM_TYPE *list, size_t n, CK_MECHANISM_TYPE m)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (list[i] == m)
			return 1;
	}
	return 0;
}

/* Whether the token has every mechanism of an END-terminated list; the
 * names go to names (if not NULL) and the missing ones to missing. */
static int
has_all(const CK_MECHANISM_TYPE *mechs, size_t nmech, const CK_MECHANISM_TYPE *list, cJSON *names,
	cJSON *missing)
{
	char mname[64];
	int ok = 1;
	size_t k;

	for (k = 0; k < MAX_NEEDS && list[k] != END; k++) {
		const char *mn = p11_mech_name(list[k], mname, sizeof(mname));

		if (names != NULL)
			cJSON_AddItemToArray(names, cJSON_CreateString(mn));
		if (!has_mech(mechs, nmech, list[k])) {
			ok = 0;
			if (missing != NULL)
				cJSON_AddItemToArray(missing, cJSON_CreateString(mn));
		}
	}
	return ok;
}

static void
print_names(const char *lead, const cJSON *arr)
{
	int k;

	printf("%s", lead);
	for (k = 0; k < cJSON_GetArraySize(arr); k++)
		printf("%s %s", k ? "," : "", cJSON_GetArrayItem(arr, k)->valuestring);
}

/*
 * Keys made before purposes (invariant 6): refused for every use until
 * `vaultctl key set-purpose` gives them one. Listing keys needs a login;
 * when there is none, doctor says it did not look and still exits 0.
 */
static void
check_purposes(struct vctl *c, cJSON *doc)
{
	struct pv_key **keys = NULL;
	pv_keystore *ks = NULL;
	cJSON *arr = NULL, *o;
	char fit[128], fix[128];
	size_t n = 0, i, nlegacy = 0;
	pv_err r;

	if ((r = vctl_keystore(c, &ks)) != PV_OK || (r = pv_keys_list(ks, &keys, &n)) != PV_OK) {
		cJSON_AddBoolToObject(doc, "keys_checked", 0);
		cJSON_AddStringToObject(doc, "keys_error", pv_strerror(r));
		if (!c->json)
			printf(
			    "\nkeys: not checked (%s); with a PIN source doctor also lists the keys that have "
			    "no purpose\n",
			    pv_strerror(r));
		return;
	}
	cJSON_AddBoolToObject(doc, "keys_checked", 1);
	cJSON_AddNumberToObject(doc, "keys", (double)n);
	arr = cJSON_AddArrayToObject(doc, "keys_without_purpose");
	for (i = 0; i < n; i++) {
		const struct pv_key *k = keys[i];

		if (k->purpose != PV_PURPOSE_NONE)
			continue;
		pv_key_purposes_for(k->alg, fit, sizeof(fit));
		snprintf(fix, sizeof(fix), "vaultctl key set-purpose %s PURPOSE", k->name);
		if (arr != NULL && (o = cJSON_CreateObject()) != NULL) {
			cJSON_AddStringToObject(o, "name", k->name);
			cJSON_AddStringToObject(o, "alg", pv_alg_info(k->alg)->name);
			cJSON_AddStringToObject(o, "can_have", fit);
			cJSON_AddStringToObject(o, "fix", fix);
			cJSON_AddItemToArray(arr, o);
		}
		if (c->json)
			continue;
		if (nlegacy++ == 0)
			printf(
			    "\nkeys without a purpose (made by an earlier version: refused for every use until "
			    "given one;\ndocs/operations.md, \"Migrating keys made before purposes\"):\n");
		printf("  %-24s %-12s can have: %s\n  %-37s fix: %s\n", k->name, pv_alg_info(k->alg)->name,
		       fit, "", fix);
	}
	if (!c->json && nlegacy == 0)
		printf("\nkeys: %zu, every one has a purpose\n", n);
	pv_keys_list_free(keys, n);
}

struct repair_findings {
	struct vctl *c;
	cJSON *arr;
	size_t n;
};

static void
note_finding(void *arg, const char *name, const char *kind, const char *what)
{
	struct repair_findings *f = arg;
	cJSON *o;

	if (f->arr != NULL && (o = cJSON_CreateObject()) != NULL) {
		cJSON_AddStringToObject(o, "name", name);
		cJSON_AddStringToObject(o, "kind", kind);
		cJSON_AddStringToObject(o, "what", what);
		cJSON_AddItemToArray(f->arr, o);
	}
	if (f->c->json)
		return;
	if (f->n++ == 0)
		printf("\nkey store: left by older versions, crashes or races (fix: vaultctl key repair "
		       "--yes; docs/operations.md, \"Key repair\"):\n");
	printf("  %s: %s: %s\n", name, kind, what);
}

/* What `vaultctl key repair` would fix, reported and left as it is. */
static void
check_repair(struct vctl *c, cJSON *doc)
{
	struct repair_findings f = {.c = c};
	pv_keystore *ks = NULL;
	size_t found = 0;
	pv_err r;

	f.arr = cJSON_AddArrayToObject(doc, "key_problems");
	if ((r = vctl_keystore(c, &ks)) != PV_OK ||
	    (r = pv_keys_repair(ks, NULL, 0, note_finding, &f, &found)) != PV_OK) {
		if (!c->json)
			printf("\nkey store: not checked (%s)\n", pv_strerror(r));
		return;
	}
	if (!c->json && found == 0)
		printf("key store: no ties, orphaned key objects, stale copies or stale locks\n");
}

int
doctor_main(struct vctl *c, int argc, char *argv[])
{
	static const struct option opts[] = {{"help", no_argument, NULL, 'h'},
					     {"bundle", required_argument, NULL, 'b'},
					     {"vaultd-config", required_argument, NULL, 'c'},
					     {NULL, 0, NULL, 0}};
	const char *bundles[DOCTOR_MAX_BUNDLES + 1];
	size_t nbundles = 0;
	const char *cfg_path = NULL;
	struct pv_config *cfg = NULL;
	CK_MECHANISM_TYPE *mechs = NULL;
	struct p11_token_info info;
	p11_token *tok = NULL;
	cJSON *doc = NULL, *arr = NULL, *f = NULL, *missing = NULL, *needs = NULL, *fb = NULL;
	size_t nmech = 0, i;
	int ch, ok, fb_ok, via_fallback, nbad = 0, nfallback = 0, rc = 0;
	pv_err r;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (ch == 'h') {
			printf("Usage: vaultctl %s\n", USAGE);
			return 0;
		}
		if (ch == 'b') {
			if (nbundles == DOCTOR_MAX_BUNDLES)
				return vctl_usage(c, USAGE, "at most %d --bundle options",
						  DOCTOR_MAX_BUNDLES);
			bundles[nbundles++] = optarg;
			continue;
		}
		if (ch == 'c') {
			cfg_path = optarg;
			continue;
		}
		return vctl_bad_option(c, USAGE, argv);
	}
	if (optind != argc)
		return vctl_usage(c, USAGE, "unexpected argument '%s'", argv[optind]);
	/* vaultd's bundle is checked too when its configuration is named */
	if (cfg_path != NULL) {
		if ((r = pv_config_load(cfg_path, &cfg)) != PV_OK)
			return vctl_fail(c, r, "doctor: reading %s", cfg_path);
		if (cfg->bundle.path != NULL)
			bundles[nbundles++] = cfg->bundle.path;
	}
	if ((r = vctl_token(c, 0, &tok)) != PV_OK || (r = p11_token_get_info(tok, &info)) != PV_OK ||
	    (r = p11_token_mechanisms(tok, &mechs, &nmech)) != PV_OK)
		return vctl_fail(c, r, "doctor");
	if ((doc = cJSON_CreateObject()) == NULL || (arr = cJSON_AddArrayToObject(doc, "features")) == NULL) {
		rc = vctl_fail(c, PV_ERR_NOMEM, "doctor");
		goto out;
	}
	cJSON_AddStringToObject(doc, "token", info.label);
	cJSON_AddStringToObject(doc, "module", info.module_path);
	cJSON_AddNumberToObject(doc, "mechanisms", (double)nmech);
	if (!c->json)
		printf("token '%s' (%s, %s), %zu mechanisms\n\n", info.label, info.manufacturer, info.model,
		       nmech);
	for (i = 0; i < PV_NELEM(features); i++) {
		const struct feature *ft = &features[i];

		f = cJSON_CreateObject();
		cJSON_AddItemToArray(arr, f);
		cJSON_AddStringToObject(f, "feature", ft->name);
		needs = cJSON_AddArrayToObject(f, "mechanisms");
		missing = cJSON_AddArrayToObject(f, "missing");
		ok = has_all(mechs, nmech, ft->needs, needs, missing);
		fb = NULL;
		via_fallback = 0;
		if (ft->fallback[0] != END) {
			fb = cJSON_AddArrayToObject(f, "fallback");
			cJSON_AddStringToObject(f, "fallback_how", ft->fallback_how);
			fb_ok = has_all(mechs, nmech, ft->fallback, fb, ok ? NULL : missing);
			via_fallback = !ok && fb_ok;
			cJSON_AddBoolToObject(f, "using_fallback", via_fallback);
		}
		nfallback += via_fallback;
		cJSON_AddBoolToObject(f, "available", ok || via_fallback);
		if (!ok && !via_fallback) {
			nbad++;
			cJSON_AddStringToObject(f, "consequence", ft->without);
		}
		if (c->json)
			continue;
		printf("  %-8s %s\n", ok ? "ok" : via_fallback ? "fallback" : "MISSING", ft->name);
		print_names("           needs", needs);
		if (fb != NULL)
			print_names("\n           or else (fallback)", fb);
		if (via_fallback) {
			print_names("\n           no", missing);
			printf(": falls back to %s", ft->fallback_how);
		} else if (!ok) {
			print_names("\n           no", missing);
			printf(": %s", ft->without);
		}
		printf("\n");
	}
	if (!(info.flags & CKF_USER_PIN_INITIALIZED))
		cJSON_AddStringToObject(doc, "warning", "the user PIN is not initialised");
	if (info.flags & (CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED))
		cJSON_AddStringToObject(doc, "warning", "the user PIN is locked or on its final try");
	if (c->json) {
		check_purposes(c, doc);
		check_repair(c, doc);
		doctor_check_bundles(c, doc, bundles, nbundles);
		rc = vctl_print_json(doc);
		doc = NULL;
		goto out;
	}
	if (!(info.flags & CKF_USER_PIN_INITIALIZED))
		printf("\nwarning: the user PIN is not initialised\n");
	if (info.flags & (CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED))
		printf(
		    "\nwarning: the user PIN is locked or on its final try; p11vault will refuse to log in\n");
	printf("\n%zu of %zu features available", PV_NELEM(features) - (size_t)nbad, PV_NELEM(features));
	if (nfallback > 0)
		printf(" (%d through a fallback)", nfallback);
	printf("\n");
	check_purposes(c, doc);
	check_repair(c, doc);
	doctor_check_bundles(c, doc, bundles, nbundles);
out:
	pv_config_free(cfg);
	cJSON_Delete(doc);
	free(mechs);
	return rc;
}
