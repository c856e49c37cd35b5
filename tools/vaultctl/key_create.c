/* vaultctl key create NAME --alg ALG */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "keyout.h"
#include "subcommands.h"

#define USAGE "key create NAME --alg ed25519|secp256k1|p256|p384|rsa2048|rsa3072|rsa4096|aes256|hmac-sha256"

int
key_create_main(struct vctl *c, int argc, char *argv[])
{
	static const struct option opts[] = {
	    {"alg", required_argument, NULL, 'a'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct pv_key *key = NULL;
	pv_keystore *ks = NULL;
	const char *algname = NULL;
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
		case 'h':
			printf("Usage: vaultctl %s\n", USAGE);
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
	if (!pv_key_name_valid(argv[optind]))
		return vctl_usage(c, USAGE,
				  "invalid key name (1-64 of A-Z a-z 0-9 _ -, starting alphanumeric)");
	if ((r = vctl_keystore(c, &ks)) != PV_OK)
		return vctl_fail(c, r, "key create '%s'", argv[optind]);
	if ((r = pv_keys_create(ks, argv[optind], alg, &key)) != PV_OK)
		return vctl_fail(c, r, "key create '%s'", argv[optind]);
	if ((r = pv_keys_uri(ks, key, &key->versions[0], &uri)) != PV_OK) {
		rc = vctl_fail(c, r, "key create '%s': reading back the URI", key->name);
		goto out;
	}
	if (c->json) {
		rc = vctl_print_json(keyout_json(ks, key, 1));
	} else {
		/* stdout is the URI alone, so scripts can capture it */
		fprintf(stderr, "created %s key '%s' version 1 (active)\n", pv_alg_info(alg)->name,
			key->name);
		printf("%s\n", uri);
	}
out:
	free(uri);
	pv_key_free(key);
	return rc;
}
