/* vaultctl verify NAME --sig FILE: check a signature against a key version. */
#include "config.h"

#include <stdio.h>

#include "base/buf.h"
#include "sigargs.h"
#include "subcommands.h"

#define USAGE                                                                                                \
	"verify NAME [--version N] [--in FILE|-] --sig FILE [--digest ...] [--padding pkcs1|pss]"            \
	" [--format raw|der|jose]"
#define SIG_FILE_MAX 8192

int
verify_main(struct vctl *c, int argc, char *argv[])
{
	struct sigargs a;
	struct pv_key *key = NULL;
	pv_keystore *ks = NULL;
	pv_buf *in = NULL, *sigbuf = NULL;
	uint8_t raw[PV_SIG_MAX_RAW];
	size_t rawlen = 0;
	pv_sigfmt fmt;
	cJSON *doc;
	int rc;
	pv_err r;

	if ((rc = sigargs_parse(c, argc, argv, USAGE, 1, &a)) >= 0)
		return rc;
	rc = 0;
	if ((r = vctl_read_input(a.in, PV_SIGN_INPUT_MAX, &in)) != PV_OK) {
		rc = vctl_fail(c, r, "verify '%s': reading input", a.name);
		goto out;
	}
	if ((r = vctl_read_input(a.sig, SIG_FILE_MAX, &sigbuf)) != PV_OK) {
		rc = vctl_fail(c, r, "verify '%s': reading the signature", a.name);
		goto out;
	}
	/* the purpose first (exit 8), before any option that depends on the key */
	if ((r = vctl_keystore(c, &ks)) != PV_OK || (r = pv_keys_get(ks, a.name, &key)) != PV_OK ||
	    (r = pv_key_check_purpose(key, a.opts.purpose)) != PV_OK) {
		rc = vctl_fail(c, r, "verify '%s'", a.name);
		goto out;
	}
	fmt = sigargs_format(&a, key->alg, &r);
	if (r == PV_OK)
		r = pv_sig_parse(fmt, pv_buf_ptr(sigbuf), pv_buf_len(sigbuf), key->alg, raw, sizeof(raw),
				 &rawlen);
	if (r != PV_OK) {
		/* an unparseable signature is a bad signature, not a usage error */
		if (r == PV_ERR_BAD_INPUT)
			r = PV_ERR_BAD_SIGNATURE;
		rc = vctl_fail(c, r, "verify '%s'", a.name);
		goto out;
	}
	r = pv_verify(ks, a.name, &a.opts, pv_buf_ptr(in), pv_buf_len(in), raw, rawlen);
	if (r != PV_OK && r != PV_ERR_BAD_SIGNATURE) {
		rc = vctl_fail(c, r, "verify '%s'", a.name);
		goto out;
	}
	if (c->json && (doc = cJSON_CreateObject()) != NULL) {
		cJSON_AddStringToObject(doc, "name", a.name);
		cJSON_AddBoolToObject(doc, "valid", r == PV_OK);
		(void)vctl_print_json(doc);
	} else if (!c->json) {
		printf("signature: %s\n", r == PV_OK ? "ok" : "BAD");
	}
	rc = pv_err_exit_code(r);
out:
	pv_key_free(key);
	pv_buf_free(in);
	pv_buf_free(sigbuf);
	return rc;
}
