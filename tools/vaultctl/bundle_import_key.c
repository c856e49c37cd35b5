/* vaultctl bundle import-key BUNDLE NAME --pem FILE | --solana-keypair FILE |
 * --solana-base58 FILE | --evm-hex FILE [--purpose P] [--out FILE] */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <openssl/pem.h>

#include "bundleargs.h"
#include "subcommands.h"
#include "wallet/legacykey.h"

#define USAGE                                                                                                 \
	"bundle import-key BUNDLE NAME (--pem FILE --purpose jwt|sign|solana|evm | --solana-keypair FILE |\n" \
	"                      --solana-base58 FILE | --evm-hex FILE) [--purpose P] [--out FILE]\n"           \
	"                      [--sign-with KEY|--sign-with-pem FILE|--unsigned]"

enum { FMT_PEM = -1 };

/* The key file is read into guarded memory and decoded from there. */
static pv_err
read_private_key(const char *path, int fmt, EVP_PKEY **out)
{
	pv_secret *text = NULL;
	BIO *bio = NULL;
	pv_err r;

	if ((r = bundleargs_read_secret(path, 64 * 1024, &text)) != PV_OK) {
		pv_err_set_detail("cannot read %s", path);
		r = PV_ERR_USAGE;
		goto out;
	}
	if (fmt != FMT_PEM) {
		if ((r = pv_legacy_key_decode((enum pv_legacy_format)fmt, text, out)) == PV_ERR_BAD_INPUT ||
		    r == PV_ERR_TOO_LARGE) {
			char why[256];

			snprintf(why, sizeof(why), "%s", pv_err_detail());
			pv_err_set_detail("%s: %s", path, why);
			r = PV_ERR_USAGE;
		}
		goto out;
	}
	if ((bio = BIO_new_mem_buf(pv_secret_ro(text), (int)pv_secret_len(text))) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	if ((*out = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)) == NULL) {
		pv_err_set_detail("%s holds no unencrypted PEM private key", path);
		r = PV_ERR_USAGE;
		goto out;
	}
	r = PV_OK;
out:
	BIO_free(bio);
	pv_secret_free(text);
	return r;
}

/* The entry's wallet address, so that the operator can compare it with the
 * address the key had before (Ed25519: Solana, secp256k1: EVM). */
static int
report(struct vctl *c, const struct bundle_edit *e, const struct pv_bundle_entry *ent, EVP_PKEY *pk,
       const char *path)
{
	const char *name = ent->name, *alg = pv_alg_info(ent->alg)->name;
	const char *purpose = pv_key_purpose_name(ent->purpose);
	char addr[PV_LEGACY_ADDRESS_SIZE];
	const char *chain = NULL;
	int have = pv_legacy_key_address(pk, addr, &chain) == PV_OK;
	cJSON *o;

	pv_err_clear_detail();
	if (c->json) {
		if ((o = cJSON_CreateObject()) == NULL || cJSON_AddStringToObject(o, "name", name) == NULL ||
		    cJSON_AddStringToObject(o, "alg", alg) == NULL ||
		    cJSON_AddStringToObject(o, "purpose", purpose) == NULL ||
		    cJSON_AddNumberToObject(o, "bundle_version", (double)e->b->version) == NULL ||
		    (have && (cJSON_AddStringToObject(o, "chain", chain) == NULL ||
			      cJSON_AddStringToObject(o, "address", addr) == NULL))) {
			cJSON_Delete(o);
			return vctl_fail(c, PV_ERR_NOMEM, "bundle import-key");
		}
		return vctl_print_json(o);
	}
	fprintf(stderr,
		"bundle: private key %s (%s, purpose %s) imported; version %llu; you can now delete %s\n",
		name, alg, purpose, (unsigned long long)e->b->version, path);
	if (have)
		fprintf(stderr, "bundle: %s %s address: %s (check it is the wallet's address)\n", name, chain,
			addr);
	return 0;
}

int
bundle_import_key_main(struct vctl *c, int argc, char *argv[])
{
	static const struct option opts[] = {
	    {"pem", required_argument, NULL, 'p'},
	    {"solana-keypair", required_argument, NULL, 'j'},
	    {"solana-base58", required_argument, NULL, 'b'},
	    {"evm-hex", required_argument, NULL, 'x'},
	    {"purpose", required_argument, NULL, 'P'},
	    {"out", required_argument, NULL, 'o'},
	    BUNDLEARGS_SIGN_OPTIONS,
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct bundle_edit e = {0};
	struct bundle_sign_args sign = {0};
	const char *out = NULL, *path = NULL, *name, *purposename = NULL;
	pv_key_purpose purpose = PV_PURPOSE_NONE;
	EVP_PKEY *pk = NULL;
	int ch, rc, fmt = FMT_PEM, nsources = 0;
	int so;
	pv_err r;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'p':
		case 'j':
		case 'b':
		case 'x':
			path = optarg;
			nsources++;
			fmt = ch == 'p'   ? FMT_PEM
			      : ch == 'j' ? PV_LEGACY_SOLANA_KEYPAIR
			      : ch == 'b' ? PV_LEGACY_SOLANA_BASE58
					  : PV_LEGACY_EVM_HEX;
			break;
		case 'P':
			purposename = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'h':
			printf("Usage: vaultctl %s\n", USAGE);
			return 0;
		default:
			if ((so = bundleargs_sign_option(c, USAGE, ch, optarg, &sign)) > 0)
				return so;
			if (so == 0)
				break;
			return vctl_bad_option(c, USAGE, argv);
		}
	}
	if (optind + 2 != argc || nsources != 1)
		return vctl_usage(c, USAGE, "BUNDLE, NAME and exactly one key file option are required");
	name = argv[optind + 1];
	if (!pv_entry_name_valid(PV_ENTRY_PRIVATE_KEY, name))
		return vctl_usage(c, USAGE, "%.64s is not a valid key name", name);
	/* a wallet file says what the key is for; a PEM file does not */
	if (purposename != NULL && pv_key_purpose_from_name(purposename, &purpose) != PV_OK)
		return vctl_usage(c, USAGE, "unknown purpose '%.40s' (jwt sign solana evm)", purposename);
	if (purposename == NULL && fmt == FMT_PEM)
		return vctl_usage(c, USAGE,
				  "--pem needs --purpose jwt|sign|solana|evm (what the key is for)");
	if (purposename == NULL)
		purpose = fmt == PV_LEGACY_EVM_HEX ? PV_PURPOSE_EVM : PV_PURPOSE_SOLANA;
	if ((r = read_private_key(path, fmt, &pk)) != PV_OK) {
		rc = vctl_fail(c, r, "bundle import-key");
		goto done;
	}
	if ((r = bundle_edit_begin(c, argv[optind], out, &sign, &e)) != PV_OK ||
	    (r = pv_bundle_put_key(e.b, e.op.dek, name, pk, purpose)) != PV_OK ||
	    (r = bundle_edit_commit(c, &e)) != PV_OK) {
		rc = vctl_fail(c, r == PV_ERR_KEY_TYPE ? PV_ERR_USAGE : r, "bundle import-key %s", name);
		goto done;
	}
	rc = report(c, &e, pv_bundle_find(e.b, name), pk, path);
done:
	EVP_PKEY_free(pk);
	bundle_edit_end(&e);
	return rc;
}
