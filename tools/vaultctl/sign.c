/* vaultctl sign NAME: sign input with the key's active version. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "core/b64.h"
#include "sigargs.h"
#include "subcommands.h"

#define USAGE                                                                                                \
	"sign NAME [--version N] [--in FILE|-] [--digest sha256|sha384|sha512|keccak256|none] "              \
	"[--padding pkcs1|pss] [--format raw|der|jose] [--out FILE]"

/* --json: the signature base64url-encoded in a small document. */
static int
print_json(const struct sigargs *a, const struct pv_sig *sig, pv_sigfmt fmt, const uint8_t *enc,
	   size_t enclen)
{
	cJSON *doc = cJSON_CreateObject();
	char *b64 = NULL;
	int rc = PV_EXIT_INTERNAL;

	/* JOSE already is base64url text; raw and DER bytes get encoded */
	if (doc == NULL || (fmt == PV_SIGFMT_JOSE ? (b64 = strndup((const char *)enc, enclen)) == NULL
						  : pv_b64url_encode(enc, enclen, &b64) != PV_OK))
		goto out;
	cJSON_AddStringToObject(doc, "name", a->name);
	cJSON_AddNumberToObject(doc, "version", sig->version);
	cJSON_AddStringToObject(doc, "alg", pv_alg_info(sig->alg)->name);
	cJSON_AddStringToObject(doc, "digest", pv_digest_name(sig->digest));
	cJSON_AddStringToObject(doc, "format", pv_sigfmt_name(fmt));
	cJSON_AddStringToObject(doc, "signature_b64url", b64);
	if (a->out != NULL && vctl_write_output(a->out, enc, enclen) != PV_OK)
		goto out;
	rc = vctl_print_json(doc);
	doc = NULL;
out:
	cJSON_Delete(doc);
	free(b64);
	return rc;
}

int
sign_main(struct vctl *c, int argc, char *argv[])
{
	struct sigargs a;
	struct pv_sig sig;
	struct pv_key *key = NULL;
	pv_keystore *ks = NULL;
	pv_buf *in = NULL;
	uint8_t *enc = NULL;
	size_t enclen = 0;
	pv_sigfmt fmt;
	int rc;
	pv_err r;

	if ((rc = sigargs_parse(c, argc, argv, USAGE, 0, &a)) >= 0)
		return rc;
	rc = 0;
	if ((r = vctl_read_input(a.in, PV_SIGN_INPUT_MAX, &in)) != PV_OK) {
		rc = vctl_fail(c, r, "sign '%s': reading input", a.name);
		goto out;
	}
	/* the purpose first (exit 8), before any option that depends on the key */
	if ((r = vctl_keystore(c, &ks)) != PV_OK || (r = pv_keys_get(ks, a.name, &key)) != PV_OK ||
	    (r = pv_key_check_purpose(key, a.opts.purpose)) != PV_OK) {
		rc = vctl_fail(c, r, "sign '%s'", a.name);
		goto out;
	}
	fmt = sigargs_format(&a, key->alg, &r);
	if (r != PV_OK) {
		rc = vctl_fail(c, r, "sign '%s'", a.name);
		goto out;
	}
	if ((r = pv_sign(ks, a.name, &a.opts, pv_buf_ptr(in), pv_buf_len(in), &sig)) != PV_OK) {
		rc = vctl_fail(c, r, "sign '%s'", a.name);
		goto out;
	}
	if ((r = pv_sig_encode(fmt, sig.alg, sig.bytes, sig.len, &enc, &enclen)) != PV_OK) {
		rc = vctl_fail(c, r, "sign '%s': encoding", a.name);
		goto out;
	}
	vctl_info(c, "signed %zu bytes with '%s' version %u (%s, digest %s)", pv_buf_len(in), a.name,
		  sig.version, pv_alg_info(sig.alg)->name, pv_digest_name(sig.digest));
	if (c->json) {
		rc = print_json(&a, &sig, fmt, enc, enclen);
		goto out;
	}
	/* JOSE is text: end it with a newline (its NUL terminator's place) */
	if (fmt == PV_SIGFMT_JOSE)
		enc[enclen++] = '\n';
	if ((r = vctl_write_output(a.out, enc, enclen)) != PV_OK)
		rc = vctl_fail(c, r, "sign '%s': writing the signature", a.name);
out:
	free(enc);
	pv_key_free(key);
	pv_buf_free(in);
	return rc;
}
