/* vaultctl key set-purpose NAME PURPOSE: the one-time migration of a key
 * made before purposes existed (docs/operations.md, "Migrating keys made
 * before purposes"). A purpose is never changed afterwards. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>

#include "keyout.h"
#include "subcommands.h"

#define USAGE "key set-purpose NAME jwt|sign|solana|evm|audit|wrap|decrypt|derive"

int
key_set_purpose_main(struct vctl *c, int argc, char *argv[])
{
	static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	struct pv_key *key = NULL;
	pv_keystore *ks = NULL;
	pv_key_purpose purpose = PV_PURPOSE_NONE;
	const char *name;
	int ch, rc = 0;
	pv_err r;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (ch == 'h') {
			printf("Usage: vaultctl %s\n", USAGE);
			return 0;
		}
		return vctl_bad_option(c, USAGE, argv);
	}
	if (optind + 2 != argc)
		return vctl_usage(c, USAGE, "a key NAME and a PURPOSE are required");
	name = argv[optind];
	if (pv_key_purpose_from_name(argv[optind + 1], &purpose) != PV_OK)
		return vctl_usage(c, USAGE, "unknown purpose '%.40s'", argv[optind + 1]);
	if ((r = vctl_keystore(c, &ks)) != PV_OK) {
		rc = vctl_fail(c, r, "key set-purpose '%s'", name);
		goto out;
	}
	/* the keystore refuses a purpose that does not fit (exit 2) and any
	 * change of an existing one (exit 7) */
	if ((r = pv_keys_set_purpose(ks, name, purpose)) != PV_OK) {
		rc = vctl_fail(c, r, "key set-purpose '%s'", name);
		goto out;
	}
	pv_keystore_flush(ks);
	if ((r = pv_keys_get(ks, name, &key)) != PV_OK) {
		rc = vctl_fail(c, r, "key set-purpose '%s': reading it back", name);
		goto out;
	}
	if (c->json)
		rc = vctl_print_json(keyout_json(ks, key, 0));
	else
		printf("key '%s' (%s) has purpose %s\n", key->name, pv_alg_info(key->alg)->name,
		       pv_key_purpose_name(key->purpose));
out:
	pv_key_free(key);
	return rc;
}
