/* vaultctl doctor: what this token can do for each p11vault feature. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/alg.h"
#include "subcommands.h"

#ifndef CKM_AES_KEY_WRAP_PAD
#define CKM_AES_KEY_WRAP_PAD 0x0000210AUL
#endif

#define USAGE     "doctor [--json]"
#define MAX_NEEDS 4
/* CKM_RSA_PKCS_KEY_PAIR_GEN is 0, so the list needs another terminator */
#define END       ((CK_MECHANISM_TYPE)~0UL)

struct feature {
	const char *name;
	CK_MECHANISM_TYPE needs[MAX_NEEDS]; /* END-terminated */
	const char *without;                /* what is lost when a mechanism is missing */
};

static const struct feature features[] = {
    {"ECDSA P-256 / P-384 keys (ES256, ES384 JWT, TLS)",
     {CKM_EC_KEY_PAIR_GEN, CKM_ECDSA, END},
     "ECDSA signing (ES256/ES384 JWTs, secp256k1 wallets) unavailable on this token"},
    {"secp256k1 keys (EVM wallets, ES256K)",
     {CKM_EC_KEY_PAIR_GEN, CKM_ECDSA, END},
     "EVM transaction signing and ES256K unavailable on this token"},
    {"Ed25519 keys (Solana wallets, EdDSA JWT)",
     {CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EDDSA, END},
     "Solana and EdDSA JWT signing unavailable on this token"},
    {"RSA PKCS#1 v1.5 (RS256 JWT)",
     {CKM_RSA_PKCS_KEY_PAIR_GEN, CKM_RSA_PKCS, END},
     "RSA keys and RS256 JWTs unavailable on this token"},
    {"RSA-PSS (PS256 JWT)", {CKM_RSA_PKCS_PSS, END}, "PS256 JWTs unavailable on this token"},
    {"AES-256 key-encryption keys (bundle aes-kwp recipient)",
     {CKM_AES_KEY_GEN, CKM_AES_KEY_WRAP_PAD, CKM_AES_GCM, END},
     "aes-kwp bundle recipients unavailable on this token (use rsa-oaep-sha256)"},
    {"RSA-OAEP unwrap (bundle rsa-oaep-sha256 recipient)",
     {CKM_RSA_PKCS_OAEP, END},
     "rsa-oaep-sha256 bundle recipients unavailable on this token"},
    {"HMAC-SHA256 derivation keys",
     {CKM_GENERIC_SECRET_KEY_GEN, CKM_SHA256_HMAC, END},
     "hmac-sha256 keys and /v1/derive unavailable on this token"},
    {"ECDH key agreement", {CKM_ECDH1_DERIVE, END}, "ECDH (/v1/ecdh) unavailable on this token"},
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

int
doctor_main(struct vctl *c, int argc, char *argv[])
{
	static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	CK_MECHANISM_TYPE *mechs = NULL;
	struct p11_token_info info;
	p11_token *tok = NULL;
	cJSON *doc = NULL, *arr = NULL, *f = NULL, *missing = NULL, *needs = NULL;
	char mname[64];
	size_t nmech = 0, i, k;
	int ch, ok, nbad = 0, rc = 0;
	pv_err r;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (ch == 'h') {
			printf("Usage: vaultctl %s\n", USAGE);
			return 0;
		}
		return vctl_bad_option(c, USAGE, argv);
	}
	if (optind != argc)
		return vctl_usage(c, USAGE, "unexpected argument '%s'", argv[optind]);
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
		f = cJSON_CreateObject();
		cJSON_AddItemToArray(arr, f);
		cJSON_AddStringToObject(f, "feature", features[i].name);
		needs = cJSON_AddArrayToObject(f, "mechanisms");
		missing = cJSON_AddArrayToObject(f, "missing");
		ok = 1;
		for (k = 0; k < MAX_NEEDS && features[i].needs[k] != END; k++) {
			const char *mn = p11_mech_name(features[i].needs[k], mname, sizeof(mname));

			cJSON_AddItemToArray(needs, cJSON_CreateString(mn));
			if (!has_mech(mechs, nmech, features[i].needs[k])) {
				ok = 0;
				cJSON_AddItemToArray(missing, cJSON_CreateString(mn));
			}
		}
		cJSON_AddBoolToObject(f, "available", ok);
		if (!ok) {
			nbad++;
			cJSON_AddStringToObject(f, "consequence", features[i].without);
		}
		if (c->json)
			continue;
		printf("  %-8s %s\n           needs", ok ? "ok" : "MISSING", features[i].name);
		for (k = 0; k < (size_t)cJSON_GetArraySize(needs); k++)
			printf("%s %s", k ? "," : "", cJSON_GetArrayItem(needs, (int)k)->valuestring);
		if (!ok) {
			printf("\n           no");
			for (k = 0; k < (size_t)cJSON_GetArraySize(missing); k++)
				printf("%s %s", k ? "," : "",
				       cJSON_GetArrayItem(missing, (int)k)->valuestring);
			printf(": %s", features[i].without);
		}
		printf("\n");
	}
	if (!(info.flags & CKF_USER_PIN_INITIALIZED))
		cJSON_AddStringToObject(doc, "warning", "the user PIN is not initialised");
	if (info.flags & (CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED))
		cJSON_AddStringToObject(doc, "warning", "the user PIN is locked or on its final try");
	if (c->json) {
		rc = vctl_print_json(doc);
		doc = NULL;
		goto out;
	}
	if (!(info.flags & CKF_USER_PIN_INITIALIZED))
		printf("\nwarning: the user PIN is not initialised\n");
	if (info.flags & (CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED))
		printf(
		    "\nwarning: the user PIN is locked or on its final try; p11vault will refuse to log in\n");
	printf("\n%zu of %zu features available\n", PV_NELEM(features) - (size_t)nbad, PV_NELEM(features));
out:
	cJSON_Delete(doc);
	free(mechs);
	return rc;
}
