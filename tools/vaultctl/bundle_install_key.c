/* vaultctl bundle install-key BUNDLE NAME [--as KEYNAME] [--purpose P] [reading options]:
 * a private-key entry becomes an ordinary p11vault key on the token. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "bundle/install.h"
#include "bundleargs.h"
#include "keyout.h"
#include "subcommands.h"

#define USAGE                                                                                                \
	"bundle install-key BUNDLE|- NAME [--as KEYNAME] [--purpose P] [--min-version N]\n"                  \
	"                      [--expect-context NAME=VALUE]... [--key R] [--require-token-unwrap]\n"        \
	"                      [--trusted-sealer PEM|KEY]... [--allow-key-import-fallback]"

enum { OPT_AS = OPT_BUNDLE_FIRST_FREE, OPT_FALLBACK, OPT_PURPOSE };

static const char *
kind_name(int kind)
{
	return kind == PV_ENTRY_ENV    ? "an env value"
	       : kind == PV_ENTRY_FILE ? "a file value"
				       : "of another kind";
}

int
bundle_install_key_main(struct vctl *c, int argc, char *argv[])
{
	static const struct option opts[] = {
	    BUNDLEARGS_READ_OPTIONS,
	    {"as", required_argument, NULL, OPT_AS},
	    {"allow-key-import-fallback", no_argument, NULL, OPT_FALLBACK},
	    {"purpose", required_argument, NULL, OPT_PURPOSE},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct bundle_read_args ra = {0};
	struct pv_bundle *b = NULL;
	struct pv_bundle_opened op = {0};
	const struct pv_bundle_entry *e;
	struct pv_key *key = NULL, *existing = NULL;
	pv_keystore *ks = NULL;
	const char *name, *keyname = NULL, *purposename = NULL;
	pv_key_purpose purpose = PV_PURPOSE_NONE;
	char *uri = NULL;
	int ch, rc, allow_fallback = 0, fallback_used = 0;
	pv_err r;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (ch == 'h') {
			printf("Usage: vaultctl %s\n", USAGE);
			return 0;
		}
		if (ch == OPT_AS) {
			keyname = optarg;
			continue;
		}
		if (ch == OPT_FALLBACK) {
			allow_fallback = 1;
			continue;
		}
		if (ch == OPT_PURPOSE) {
			purposename = optarg;
			continue;
		}
		if ((rc = bundleargs_read_option(c, USAGE, ch, optarg, &ra)) > 0)
			return rc;
		if (rc < 0)
			return vctl_bad_option(c, USAGE, argv);
	}
	if (optind + 2 != argc)
		return vctl_usage(c, USAGE, "BUNDLE and NAME are required");
	name = argv[optind + 1];
	if (keyname == NULL)
		keyname = name;
	if (!pv_key_name_valid(keyname))
		return vctl_usage(c, USAGE, "%.64s is not a valid key name (1-64 of A-Z a-z 0-9 _ -)",
				  keyname);
	if (purposename != NULL && pv_key_purpose_from_name(purposename, &purpose) != PV_OK)
		return vctl_usage(c, USAGE, "unknown purpose '%.40s' (jwt sign solana evm)", purposename);

	/* Everything that can be refused without the data key is refused first:
	 * nothing reaches the token for a missing entry or a taken name. */
	if ((r = bundleargs_load(argv[optind], &b)) != PV_OK) {
		rc = vctl_fail(c, r, "bundle install-key");
		goto done;
	}
	if ((e = pv_bundle_find(b, name)) == NULL) {
		pv_err_set_detail("the bundle has no entry %.64s", name);
		rc = vctl_fail(c, PV_ERR_NOT_FOUND, "bundle install-key %.64s", name);
		goto done;
	}
	if (e->kind != PV_ENTRY_PRIVATE_KEY) {
		pv_err_set_detail("entry %.64s is %s, not a private key", name, kind_name(e->kind));
		rc = vctl_fail(c, PV_ERR_USAGE, "bundle install-key %.64s", name);
		goto done;
	}
	/* the entry's purpose is the key's: --purpose only names one for an
	 * entry sealed before purposes, and may not differ from the entry's */
	if (e->purpose == PV_PURPOSE_NONE && purpose == PV_PURPOSE_NONE) {
		pv_err_set_detail(
		    "entry %.64s has no purpose (sealed by an earlier version): give it one with "
		    "--purpose, or `vaultctl bundle set-purpose`",
		    name);
		rc = vctl_fail(c, PV_ERR_PURPOSE, "bundle install-key %.64s", name);
		goto done;
	}
	if (e->purpose != PV_PURPOSE_NONE && purpose != PV_PURPOSE_NONE && purpose != e->purpose) {
		pv_err_set_detail("entry %.64s has purpose %s, not %s", name, pv_key_purpose_name(e->purpose),
				  pv_key_purpose_name(purpose));
		rc = vctl_fail(c, PV_ERR_PURPOSE, "bundle install-key %.64s", name);
		goto done;
	}
	if ((r = vctl_keystore(c, &ks)) != PV_OK) {
		rc = vctl_fail(c, r, "bundle install-key %.64s", name);
		goto done;
	}
	if ((r = pv_keys_get(ks, keyname, &existing)) != PV_ERR_NOT_FOUND) {
		if (r == PV_OK) {
			pv_err_set_detail("key '%s' already exists (choose another name with --as)", keyname);
			r = PV_ERR_EXISTS;
		}
		rc = vctl_fail(c, r, "bundle install-key %.64s", name);
		goto done;
	}
	pv_err_clear_detail();

	/* The reading pipeline: the DEK stays a non-extractable token key, and
	 * the private key goes from the bundle into the token without passing
	 * through this process. */
	if ((r = bundleargs_open(c, b, &ra, PV_DEK_ON_TOKEN, &op)) != PV_OK) {
		rc = vctl_fail(c, r, "bundle install-key %.64s", name);
		goto done;
	}
	if ((r = pv_bundle_install_key(ks, e, op.dek, keyname, purpose, allow_fallback, &fallback_used,
				       &key)) != PV_OK) {
		rc = vctl_fail(c, r, "bundle install-key %.64s", name);
		goto done;
	}
	if (fallback_used)
		bundleargs_warn_fallback(name);
	if (c->json) {
		rc = vctl_print_json(keyout_json(ks, key, 1));
		goto done;
	}
	if ((r = pv_keys_uri(ks, key, &key->versions[0], &uri)) != PV_OK) {
		rc = vctl_fail(c, r, "bundle install-key %.64s: installed, but its URI cannot be read", name);
		goto done;
	}
	printf("installed %s key '%s' (purpose %s) version 1 (active) from bundle entry %s\n%s\n",
	       pv_alg_info(key->alg)->name, key->name, pv_key_purpose_name(key->purpose), name, uri);
	rc = 0;
done:
	free(uri);
	pv_key_free(existing);
	pv_key_free(key);
	pv_bundle_opened_clear(&op);
	bundleargs_read_end(&ra);
	pv_bundle_free(b);
	return rc;
}
