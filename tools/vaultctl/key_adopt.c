/* vaultctl key adopt URI --name NAME --purpose PURPOSE */
#include "config.h"

#include <getopt.h>
#include <stdio.h>

#include "keyout.h"
#include "subcommands.h"

#define USAGE "key adopt URI --name NAME --purpose jwt|sign|solana|evm|audit|wrap|decrypt|derive"

int
key_adopt_main(struct vctl *c, int argc, char *argv[])
{
	static const struct option opts[] = {
	    {"name", required_argument, NULL, 'n'},
	    {"purpose", required_argument, NULL, 'p'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct pv_key *key = NULL;
	pv_keystore *ks = NULL;
	const char *name = NULL, *purposename = NULL;
	pv_key_purpose purpose = PV_PURPOSE_NONE;
	int ch, rc = 0;
	pv_err r;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			name = optarg;
			break;
		case 'p':
			purposename = optarg;
			break;
		case 'h':
			printf("Usage: vaultctl %s\n", USAGE);
			return 0;
		default:
			return vctl_bad_option(c, USAGE, argv);
		}
	}
	if (optind + 1 != argc || name == NULL)
		return vctl_usage(c, USAGE, "a pkcs11: URI and --name are required");
	if (purposename == NULL)
		return vctl_usage(c, USAGE, "--purpose is required");
	if (pv_key_purpose_from_name(purposename, &purpose) != PV_OK)
		return vctl_usage(c, USAGE, "unknown purpose '%.40s'", purposename);
	if (!pv_key_name_valid(name))
		return vctl_usage(c, USAGE,
				  "invalid key name (1-64 of A-Z a-z 0-9 _ -, starting alphanumeric)");
	if ((r = vctl_keystore(c, &ks)) != PV_OK ||
	    (r = pv_keys_adopt(ks, argv[optind], name, purpose, &key)) != PV_OK)
		return vctl_fail(c, r, "key adopt '%s'", name);
	if (c->json)
		rc = vctl_print_json(keyout_json(ks, key, 1));
	else
		printf("adopted %s key as '%s' (purpose %s) version 1 (active)\n",
		       pv_alg_info(key->alg)->name, key->name, pv_key_purpose_name(key->purpose));
	pv_key_free(key);
	return rc;
}
