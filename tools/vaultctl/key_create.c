/* vaultctl key create NAME --alg ALG --purpose PURPOSE */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "keyout.h"
#include "subcommands.h"

#define USAGE                                                                                                \
	"key create NAME --alg ed25519|secp256k1|p256|p384|rsa2048|rsa3072|rsa4096|aes256|hmac-sha256 "      \
	"--purpose jwt|sign|solana|evm|audit|wrap|decrypt|derive"

#define HELP                                                                                                  \
	"  --purpose is required and never changes (rotation keeps it); a key is used only for it:\n"         \
	"    jwt      JWT issuance (the only keys in the JWKS): ed25519 secp256k1 p256 p384 rsa*\n"           \
	"    sign     raw signatures over caller input (vaultctl sign, /v1/keys/NAME/sign): all but aes256\n" \
	"    solana   Solana wallet signing: ed25519\n"                                                       \
	"    evm      EVM wallet signing: secp256k1\n"                                                        \
	"    audit    vaultd's audit checkpoint MACs, nothing else: hmac-sha256\n"                            \
	"    wrap     aes-kwp bundle recipient (key-encryption key): aes256\n"                                \
	"    decrypt  rsa-oaep-sha256 bundle recipient: rsa*\n"                                               \
	"    derive   HMAC derivation (hmac-sha256) or ECDH (p256)\n"

int
key_create_main(struct vctl *c, int argc, char *argv[])
{
	static const struct option opts[] = {
	    {"alg", required_argument, NULL, 'a'},
	    {"purpose", required_argument, NULL, 'p'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct pv_key *key = NULL;
	pv_keystore *ks = NULL;
	const char *algname = NULL, *purposename = NULL;
	pv_key_purpose purpose = PV_PURPOSE_NONE;
	char fit[128];
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
		case 'p':
			purposename = optarg;
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
	pv_key_purposes_for(alg, fit, sizeof(fit));
	if (purposename == NULL)
		return vctl_usage(c, USAGE, "--purpose is required; a %s key can have: %s",
				  pv_alg_info(alg)->name, fit);
	if (pv_key_purpose_from_name(purposename, &purpose) != PV_OK || !pv_key_purpose_fits(alg, purpose))
		return vctl_usage(c, USAGE, "purpose '%.40s' does not fit a %s key; it can have: %s",
				  purposename, pv_alg_info(alg)->name, fit);
	if (!pv_key_name_valid(argv[optind]))
		return vctl_usage(c, USAGE,
				  "invalid key name (1-64 of A-Z a-z 0-9 _ -, starting alphanumeric)");
	if ((r = vctl_keystore(c, &ks)) != PV_OK)
		return vctl_fail(c, r, "key create '%s'", argv[optind]);
	if ((r = pv_keys_create(ks, argv[optind], alg, purpose, &key)) != PV_OK)
		return vctl_fail(c, r, "key create '%s'", argv[optind]);
	if ((r = pv_keys_uri(ks, key, &key->versions[0], &uri)) != PV_OK) {
		rc = vctl_fail(c, r, "key create '%s': reading back the URI", key->name);
		goto out;
	}
	if (c->json) {
		rc = vctl_print_json(keyout_json(ks, key, 1));
	} else {
		/* stdout is the URI alone, so scripts can capture it */
		fprintf(stderr, "created %s key '%s' (purpose %s) version 1 (active)\n",
			pv_alg_info(alg)->name, key->name, pv_key_purpose_name(key->purpose));
		printf("%s\n", uri);
	}
out:
	free(uri);
	pv_key_free(key);
	return rc;
}
