/* vaultctl bundle rotate BUNDLE [--recipient R]... [--out FILE]
 * A new data key: every entry re-encrypted, every recipient re-wrapped. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundleargs.h"
#include "core/pubkey.h"
#include "subcommands.h"

#define USAGE                                                                                                \
	"bundle rotate BUNDLE [--recipient R]... [--out FILE] [--sign-with KEY|--sign-with-pem FILE|--unsigned]"

/* The key of an existing recipient: on the token, or among --recipient. */
static pv_err
recipient_key(struct vctl *c, const struct pv_bundle_recipient *rc, const char *const *given, size_t ngiven,
	      struct pv_rcpt_spec *s)
{
	p11_token *tok = NULL;
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	uint8_t *mod = NULL, *exp = NULL;
	size_t modlen = 0, explen = 0, i;
	pv_err r;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < ngiven; i++) {
		if ((r = bundleargs_recipient(c, given[i], s)) != PV_OK ||
		    (r = pv_bundle_rcpt_spec_kid(s)) != PV_OK)
			return r;
		if (strcmp(s->kid, rc->kid) == 0)
			return PV_OK;
		EVP_PKEY_free(s->pub);
		memset(s, 0, sizeof(*s));
	}
	if ((r = vctl_token(c, 1, &tok)) != PV_OK)
		return r;
	s->type = rc->type;
	snprintf(s->kid, sizeof(s->kid), "%s", rc->kid);
	/* a key on the token is wrapped for only if its purpose allows it */
	if (rc->type == PV_RCPT_AES_KWP) {
		if ((r = pv_recipient_find_kek(tok, rc->kid, &h)) != PV_OK ||
		    (r = pv_recipient_check_purpose(tok, rc->type, h)) != PV_OK)
			goto out;
		s->tok = tok;
		s->kek = h;
	} else {
		if ((r = pv_recipient_find_rsa(tok, rc->kid, &h)) != PV_OK ||
		    (r = pv_recipient_check_purpose(tok, rc->type, h)) != PV_OK ||
		    (r = p11_handle_get_attr(tok, h, CKA_MODULUS, &mod, &modlen)) != PV_OK ||
		    (r = p11_handle_get_attr(tok, h, CKA_PUBLIC_EXPONENT, &exp, &explen)) != PV_OK ||
		    (r = pv_pubkey_from_rsa(mod, modlen, exp, explen, &s->pub)) != PV_OK)
			goto out;
	}
out:
	if (r == PV_ERR_NOT_FOUND)
		pv_err_set_detail(
		    "recipient %s (%s) is not on this token: give its key with --recipient, or remove it "
		    "with bundle rewrap first",
		    bundleargs_rcpt_name(rc), pv_rcpt_type_name(rc->type));
	free(mod);
	free(exp);
	return r;
}

int
bundle_rotate_main(struct vctl *c, int argc, char *argv[])
{
	static const struct option opts[] = {
	    {"recipient", required_argument, NULL, 'r'},
	    {"out", required_argument, NULL, 'o'},
	    BUNDLEARGS_SIGN_OPTIONS,
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *given[PV_BUNDLE_MAX_RECIPIENTS], *out = NULL;
	struct bundle_edit e = {0};
	struct bundle_sign_args sign = {0};
	struct pv_rcpt_spec s = {0};
	pv_dek *dek = NULL;
	p11_token *tok = NULL;
	uint8_t *wrapped = NULL;
	size_t ngiven = 0, i, wlen = 0;
	int ch, rc;
	int so;
	pv_err r;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'r':
			if (ngiven >= PV_BUNDLE_MAX_RECIPIENTS)
				return vctl_usage(c, USAGE, "too many --recipient");
			given[ngiven++] = optarg;
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
	if (optind + 1 != argc)
		return vctl_usage(c, USAGE, "one BUNDLE is required");
	if ((r = bundle_edit_begin(c, argv[optind], out, &sign, &e)) != PV_OK ||
	    (r = vctl_token(c, 1, &tok)) != PV_OK || (r = pv_dek_generate(&dek)) != PV_OK)
		goto fail;
	/* every recipient first: a missing key must stop us before any change */
	for (i = 0; i < e.b->nrcpt; i++) {
		struct pv_bundle_recipient *rcpt = &e.b->rcpt[i];
		if ((r = recipient_key(c, rcpt, given, ngiven, &s)) != PV_OK)
			goto fail;
		r = rcpt->type == PV_RCPT_AES_KWP ? pv_recipient_wrap_kwp(s.tok, s.kek, dek, &wrapped, &wlen)
						  : pv_recipient_wrap_rsa(s.pub, dek, &wrapped, &wlen);
		EVP_PKEY_free(s.pub);
		memset(&s, 0, sizeof(s));
		if (r != PV_OK)
			goto fail;
		free(rcpt->wrapped_dek);
		rcpt->wrapped_dek = wrapped;
		rcpt->wrapped_len = wlen;
		wrapped = NULL;
	}
	if ((r = pv_bundle_reencrypt(tok, e.b, e.op.dek, dek)) != PV_OK)
		goto fail;
	/* from here on the new key is the bundle's key */
	pv_dek_free(e.op.dek);
	e.op.dek = dek;
	dek = NULL;
	if ((r = bundle_edit_commit(c, &e)) != PV_OK)
		goto fail;
	fprintf(stderr,
		"bundle: new data key; %zu entries re-encrypted, %zu recipients re-wrapped; version %llu\n",
		e.b->nentries, e.b->nrcpt, (unsigned long long)e.b->version);
	rc = 0;
	goto done;
fail:
	rc = vctl_fail(c, r, "bundle rotate");
done:
	free(wrapped);
	EVP_PKEY_free(s.pub);
	pv_dek_free(dek);
	bundle_edit_end(&e);
	return rc;
}
