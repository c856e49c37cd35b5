/* vaultctl bundle import-key BUNDLE NAME --pem FILE [--out FILE] */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <openssl/pem.h>

#include "bundleargs.h"
#include "subcommands.h"

#define USAGE "bundle import-key BUNDLE NAME --pem FILE [--out FILE]"

/* The PEM is read into guarded memory and parsed from there. */
static pv_err
read_private_key(const char *path, EVP_PKEY **out)
{
	pv_secret *pem = NULL;
	BIO *bio = NULL;
	pv_err r;

	if ((r = bundleargs_read_secret(path, 64 * 1024, &pem)) != PV_OK) {
		pv_err_set_detail("cannot read %s", path);
		r = PV_ERR_USAGE;
		goto out;
	}
	if ((bio = BIO_new_mem_buf(pv_secret_ro(pem), (int)pv_secret_len(pem))) == NULL) {
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
	pv_secret_free(pem);
	return r;
}

int
bundle_import_key_main(struct vctl *c, int argc, char *argv[])
{
	static const struct option opts[] = {
	    {"pem", required_argument, NULL, 'p'},
	    {"out", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct bundle_edit e = {0};
	const char *out = NULL, *pem = NULL, *name;
	EVP_PKEY *pk = NULL;
	int ch, rc;
	pv_err r;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			pem = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'h':
			printf("Usage: vaultctl %s\n", USAGE);
			return 0;
		default:
			return vctl_bad_option(c, USAGE, argv);
		}
	}
	if (optind + 2 != argc || pem == NULL)
		return vctl_usage(c, USAGE, "BUNDLE, NAME and --pem FILE are required");
	name = argv[optind + 1];
	if (!pv_entry_name_valid(PV_ENTRY_PRIVATE_KEY, name))
		return vctl_usage(c, USAGE, "%.64s is not a valid key name", name);
	if ((r = read_private_key(pem, &pk)) != PV_OK) {
		rc = vctl_fail(c, r, "bundle import-key");
		goto done;
	}
	if ((r = bundle_edit_begin(c, argv[optind], out, &e)) != PV_OK ||
	    (r = pv_bundle_put_key(e.b, e.op.dek, name, pk)) != PV_OK ||
	    (r = bundle_edit_commit(c, &e)) != PV_OK) {
		rc = vctl_fail(c, r == PV_ERR_KEY_TYPE ? PV_ERR_USAGE : r, "bundle import-key %s", name);
		goto done;
	}
	fprintf(stderr, "bundle: private key %s (%s) imported; version %llu; you can now delete %s\n", name,
		pv_alg_info(pv_bundle_find(e.b, name)->alg)->name, (unsigned long long)e.b->version, pem);
	rc = 0;
done:
	EVP_PKEY_free(pk);
	bundle_edit_end(&e);
	return rc;
}
