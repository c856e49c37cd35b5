/* vaultctl key show NAME: the public half, the URI, or a summary. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/keys_schedule.h"
#include "core/pubkey.h"
#include "keyout.h"
#include "subcommands.h"

#define USAGE "key show NAME [--version N] [--format text|pem|der|jwk|uri|provider-pem]"

/* JWS "alg" a key of this algorithm signs with by default (RFC 7518/8037/8812);
 * a decryption key's JWE key-management "alg" (RFC 7518, section 4.3). */
static const char *
jose_alg(const struct pv_key *key)
{
	if (key->usage == PV_USAGE_DECRYPT)
		return "RSA-OAEP-256";
	switch (key->alg) {
	case PV_ALG_P256:
		return "ES256";
	case PV_ALG_P384:
		return "ES384";
	case PV_ALG_SECP256K1:
		return "ES256K";
	case PV_ALG_ED25519:
		return "EdDSA";
	default:
		return "RS256";
	}
}

static pv_err
show_jwk(EVP_PKEY *pk, const struct pv_key *key, char **out)
{
	cJSON *jwk = NULL;
	char *kid = NULL;
	pv_err r;

	*out = NULL;
	if ((r = pv_pubkey_jwk(pk, &jwk)) != PV_OK || (r = pv_pubkey_thumbprint(pk, &kid)) != PV_OK)
		goto out;
	cJSON_AddStringToObject(jwk, "kid", kid);
	cJSON_AddStringToObject(jwk, "alg", jose_alg(key));
	/* RFC 7517, section 4.2: "sig" or "enc" */
	cJSON_AddStringToObject(jwk, "use", key->usage == PV_USAGE_DECRYPT ? "enc" : "sig");
	if ((*out = cJSON_Print(jwk)) == NULL)
		r = PV_ERR_NOMEM;
out:
	free(kid);
	cJSON_Delete(jwk);
	return r;
}

static int
show_text(struct vctl *c, pv_keystore *ks, const struct pv_key *key, const struct pv_key_version *ver)
{
	char *uri = NULL, hint[256];
	int rc = 0;

	if (c->json) {
		cJSON *doc = keyout_json(ks, key, 1);

		if (doc != NULL && pv_key_schedule_json(key, pv_key_clock_now(), doc) != PV_OK) {
			cJSON_Delete(doc);
			return vctl_fail(c, PV_ERR_NOMEM, "key show '%s'", key->name);
		}
		return vctl_print_json(doc);
	}
	keyout_table_header();
	keyout_table_rows(key);
	pv_key_schedule_text(key, pv_key_clock_now(), hint, sizeof(hint));
	if (hint[0] != '\0')
		printf("\n%s\n", hint);
	if (pv_keys_uri(ks, key, ver, &uri) == PV_OK)
		printf("\nversion %u: %s\n", ver->version, uri);
	if (key->purpose == PV_PURPOSE_NONE) {
		keyout_legacy_hint(key, hint, sizeof(hint));
		printf("%s\n", hint);
	}
	free(uri);
	return rc;
}

int
key_show_main(struct vctl *c, int argc, char *argv[])
{
	static const struct option opts[] = {
	    {"version", required_argument, NULL, 'V'},
	    {"format", required_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct pv_key *key = NULL;
	struct pv_key_version ver;
	pv_keystore *ks = NULL;
	const char *format = "text";
	unsigned version = 0;
	EVP_PKEY *pk = NULL;
	uint8_t *der = NULL;
	char *text = NULL;
	size_t len = 0;
	p11_obj obj;
	int ch, rc = 0;
	pv_err r;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'V':
			if ((version = vctl_parse_version(optarg)) == 0)
				return vctl_usage(c, USAGE, "--version takes a positive number");
			break;
		case 'f':
			format = optarg;
			break;
		case 'h':
			printf("Usage: vaultctl %s\n", USAGE);
			return 0;
		default:
			return vctl_bad_option(c, USAGE, argv);
		}
	}
	if (optind + 1 != argc)
		return vctl_usage(c, USAGE, "exactly one key NAME is required");
	if (strcmp(format, "text") != 0 && strcmp(format, "pem") != 0 && strcmp(format, "der") != 0 &&
	    strcmp(format, "jwk") != 0 && strcmp(format, "uri") != 0 && strcmp(format, "provider-pem") != 0)
		return vctl_usage(c, USAGE, "unknown format '%.32s'", format);
	if ((r = vctl_keystore(c, &ks)) != PV_OK ||
	    (r = pv_keys_resolve_any(ks, argv[optind], version, &key, &ver, &obj)) != PV_OK) {
		rc = vctl_fail(c, r, "key show '%s'", argv[optind]);
		goto out;
	}
	if (strcmp(format, "text") == 0) {
		rc = show_text(c, ks, key, &ver);
		goto out;
	}
	if (strcmp(format, "uri") == 0) {
		if ((r = pv_keys_uri(ks, key, &ver, &text)) != PV_OK)
			goto fail;
		printf("%s\n", text);
		goto out;
	}
	/* the version shown (the active one without --version), pinned */
	if (strcmp(format, "provider-pem") == 0) {
		if ((r = keyout_provider_pem(key, ver.version, &text)) != PV_OK)
			goto fail;
		fputs(text, stdout);
		goto out;
	}
	if ((r = pv_keys_public(ks, key, &ver, &pk)) != PV_OK)
		goto fail;
	if (strcmp(format, "pem") == 0) {
		if ((r = pv_pubkey_pem(pk, &text)) != PV_OK)
			goto fail;
		fputs(text, stdout);
	} else if (strcmp(format, "der") == 0) {
		if ((r = pv_pubkey_spki_der(pk, &der, &len)) != PV_OK ||
		    (r = vctl_write_output(NULL, der, len)) != PV_OK)
			goto fail;
	} else {
		if ((r = show_jwk(pk, key, &text)) != PV_OK)
			goto fail;
		printf("%s\n", text);
	}
	goto out;
fail:
	rc = vctl_fail(c, r, "key show '%s' --format %s", argv[optind], format);
out:
	EVP_PKEY_free(pk);
	free(der);
	free(text);
	pv_key_free(key);
	return rc;
}
