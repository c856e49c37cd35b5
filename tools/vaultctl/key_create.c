/* vaultctl key create NAME --alg ALG [--usage sign|decrypt] */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "keyout.h"
#include "subcommands.h"

#define USAGE                                                                                                \
	"key create NAME --alg ed25519|secp256k1|p256|p384|rsa2048|rsa3072|rsa4096|aes256|hmac-sha256 "      \
	"[--usage sign|decrypt]"

#define HELP                                                                                                 \
	"  --usage sign      (default) the key pair signs and verifies\n"                                    \
	"  --usage decrypt   RSA only: the key pair decrypts and unwraps, never signs; it can be an\n"       \
	"                    rsa-oaep-sha256 bundle recipient\n"                                             \
	"  aes256 keys are key-encryption keys for aes-kwp bundle recipients: they only wrap and unwrap.\n"

int
key_create_main(struct vctl *c, int argc, char *argv[])
{
	static const struct option opts[] = {
	    {"alg", required_argument, NULL, 'a'},
	    {"usage", required_argument, NULL, 'u'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct pv_key *key = NULL;
	pv_keystore *ks = NULL;
	const char *algname = NULL, *usagename = NULL;
	pv_key_usage usage = PV_USAGE_SIGN;
	char *uri = NULL;
	pv_alg alg;
	int ch, rc = 0;
	pv_err r;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			algname = optarg;
			break;
		case 'u':
			usagename = optarg;
			break;
		case 'h':
			printf("Usage: vaultctl %s\n%s", USAGE, HELP);
			return 0;
		default:
			return vctl_bad_option(c, USAGE, argv);
		}
	}
	if (optind + 1 != argc)
		return vctl_usage(c, USAGE, "exactly one key NAME is required");
	if (algname == NULL)
		return vctl_usage(c, USAGE, "--alg is required");
	if ((alg = pv_alg_from_name(algname)) == PV_ALG_NONE)
		return vctl_usage(c, USAGE, "unknown algorithm '%.40s'", algname);
	if (usagename != NULL && pv_key_usage_from_name(usagename, &usage) != PV_OK)
		return vctl_usage(c, USAGE, "unknown usage '%.40s' (sign or decrypt)", usagename);
	/* symmetric keys have one use, fixed by the algorithm */
	if (usagename != NULL && !pv_alg_is_asymmetric(alg))
		return vctl_usage(c, USAGE, "--usage applies to key pairs; %s keys %s",
				  pv_alg_info(alg)->name,
				  alg == PV_ALG_AES256 ? "only wrap and unwrap" : "only sign and verify");
	if (!pv_key_usage_valid(alg, usage))
		return vctl_usage(c, USAGE, "usage %s is for RSA keys only; %s keys cannot have it",
				  pv_key_usage_name(usage), pv_alg_info(alg)->name);
	if (!pv_key_name_valid(argv[optind]))
		return vctl_usage(c, USAGE,
				  "invalid key name (1-64 of A-Z a-z 0-9 _ -, starting alphanumeric)");
	if ((r = vctl_keystore(c, &ks)) != PV_OK)
		return vctl_fail(c, r, "key create '%s'", argv[optind]);
	if ((r = pv_keys_create_with(ks, argv[optind], alg, usage, &key)) != PV_OK)
		return vctl_fail(c, r, "key create '%s'", argv[optind]);
	if ((r = pv_keys_uri(ks, key, &key->versions[0], &uri)) != PV_OK) {
		rc = vctl_fail(c, r, "key create '%s': reading back the URI", key->name);
		goto out;
	}
	if (c->json) {
		rc = vctl_print_json(keyout_json(ks, key, 1));
	} else {
		/* stdout is the URI alone, so scripts can capture it */
		fprintf(stderr, "created %s key '%s' (usage %s) version 1 (active)\n", pv_alg_info(alg)->name,
			key->name, pv_key_usage_label(alg, key->usage));
		printf("%s\n", uri);
	}
out:
	free(uri);
	pv_key_free(key);
	return rc;
}
