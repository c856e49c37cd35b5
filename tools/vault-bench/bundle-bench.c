/*
 * bundle-bench: time to unwrap an N-entry bundle (default 1,000) on the
 * token, and the share of it spent in token calls. `make bench` runs it.
 *
 * Three timings of the same bundle in one run, each the median of ROUNDS:
 *   full   — the reading pipeline of docs/bundle-format.md §7: parse the
 *            JSON, unwrap the DEK into the token, verify the check, decrypt
 *            every entry on the token into guarded memory;
 *   token  — only the token calls of that pipeline (C_UnwrapKey of the DEK,
 *            one C_Decrypt for the check and one per entry), inputs ready,
 *            plaintexts into a stack buffer;
 *   parse  — only the strict JSON parse.
 * token / full is the share of the unwrap that the token itself costs.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "base/secmem.h"
#include "bundle/bundle.h"
#include "core/keys.h"
#include "pkcs11/crypt.h"

#define ROUNDS 5

static double
now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

/* A sealed bundle of n env entries of vlen random bytes for the KEK. */
static pv_err
make_bundle(p11_token *tok, CK_OBJECT_HANDLE kek, unsigned n, size_t vlen, char **text, size_t *len)
{
	struct pv_bundle *b = NULL;
	struct pv_rcpt_spec spec = {.type = PV_RCPT_AES_KWP, .tok = tok, .kek = kek};
	pv_dek *dek = NULL;
	uint8_t v[256];
	char name[32];
	unsigned i;
	pv_err r;

	if ((r = pv_bundle_new(&b)) != PV_OK || (r = pv_dek_generate(&dek)) != PV_OK ||
	    (r = pv_bundle_set_context(b, "env", "bench")) != PV_OK ||
	    (r = pv_bundle_add_rcpt(b, dek, &spec)) != PV_OK)
		goto out;
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "SECRET_%05u", i);
		randombytes_buf(v, vlen);
		for (size_t j = 0; j < vlen; j++) /* printable, like real env values */
			v[j] = (uint8_t)('a' + v[j] % 26);
		if ((r = pv_bundle_put_value(b, dek, name, PV_ENTRY_ENV, v, vlen)) != PV_OK)
			goto out;
	}
	if ((r = pv_bundle_seal_check(b, dek)) != PV_OK)
		goto out;
	r = pv_bundle_serialize(b, text, len);
out:
	pv_dek_free(dek);
	pv_bundle_free(b);
	return r;
}

static pv_err
full_unwrap(p11_token *tok, const char *text, size_t len, size_t *count)
{
	struct pv_bundle_read_opts ro = {0};
	struct pv_bundle_opened op = {0};
	struct pv_bundle *b = NULL;
	struct pv_kvlist kv;
	char *missing = NULL;
	pv_err r;

	pv_kvlist_init(&kv);
	if ((r = pv_bundle_parse((const uint8_t *)text, len, &b)) != PV_OK ||
	    (r = pv_bundle_precheck(b, &ro)) != PV_OK ||
	    (r = pv_bundle_open(tok, b, &ro, PV_DEK_ON_TOKEN, &op)) != PV_OK ||
	    (r = pv_bundle_decrypt(b, op.dek, NULL, 0, 0, &kv, &missing)) != PV_OK)
		goto out;
	*count = kv.n;
out:
	free(missing);
	pv_kvlist_free(&kv);
	pv_bundle_opened_clear(&op);
	pv_bundle_free(b);
	return r;
}

/* The same token calls with every input prepared beforehand, the
 * plaintexts going to a stack buffer (the pipeline carves them out of one
 * guarded region per bundle: that cost is the pipeline's, not the token's). */
static pv_err
token_only(p11_token *tok, CK_OBJECT_HANDLE kek, const struct pv_bundle *b, pv_buf *const *aads,
	   const uint8_t *h, double *ms)
{
	pv_dek *dek = NULL;
	uint8_t pt[256], iv[PV_BUNDLE_NONCE_LEN];
	CK_GCM_PARAMS gp;
	CK_MECHANISM mech = {CKM_AES_GCM, &gp, sizeof(gp)};
	size_t i, ptlen;
	double t0;
	pv_err r;

	t0 = now_ms();
	if ((r = pv_recipient_open_kwp(tok, kek, b->rcpt[0].wrapped_dek, b->rcpt[0].wrapped_len,
				       PV_DEK_ON_TOKEN, &dek)) != PV_OK)
		goto out;
	for (i = 0; i <= b->nentries; i++) {
		const struct pv_bundle_entry *e = i < b->nentries ? &b->entries[i] : NULL;
		memset(&gp, 0, sizeof(gp));
		memcpy(iv, e ? e->nonce : b->check, sizeof(iv));
		gp.iv_ptr = iv;
		gp.iv_len = sizeof(iv);
		gp.iv_bits = 8 * sizeof(iv);
		gp.aad_ptr = e ? (uint8_t *)(uintptr_t)pv_buf_ptr(aads[i]) : (uint8_t *)(uintptr_t)h;
		gp.aad_len = e ? pv_buf_len(aads[i]) : 32;
		gp.tag_bits = 8 * PV_BUNDLE_TAG_LEN;
		ptlen = sizeof(pt);
		if ((r = p11_decrypt(tok, &mech, pv_dek_handle(dek),
				     e ? e->data : b->check + PV_BUNDLE_NONCE_LEN,
				     e ? e->data_len : PV_BUNDLE_TAG_LEN, pt, &ptlen)) != PV_OK)
			goto out;
	}
	pv_dek_free(dek); /* C_DestroyObject is part of the token's cost too */
	dek = NULL;
	*ms = now_ms() - t0;
out:
	sodium_memzero(pt, sizeof(pt));
	pv_dek_free(dek);
	return r;
}

static pv_err
prepare_kek(pv_keystore *ks, CK_OBJECT_HANDLE *kek)
{
	struct pv_key *key = NULL;
	struct pv_key_version ver;
	p11_obj obj;
	pv_err r;

	r = pv_keys_create(ks, "bench-kek", PV_ALG_AES256, PV_PURPOSE_WRAP, &key);
	if (r == PV_ERR_EXISTS)
		r = PV_OK;
	pv_key_free(key);
	key = NULL;
	if (r != PV_OK || (r = pv_keys_resolve(ks, "bench-kek", 0, &key, &ver, &obj)) != PV_OK ||
	    (r = p11_obj_find(pv_keystore_token(ks), &obj)) != PV_OK)
		goto out;
	*kek = obj.handle;
out:
	pv_key_free(key);
	return r;
}

int
main(int argc, char **argv)
{
	struct p11_token_opts topts = {0};
	p11_token *tok = NULL;
	pv_keystore *ks = NULL;
	struct pv_bundle *b = NULL;
	pv_buf **aads = NULL;
	CK_OBJECT_HANDLE kek = CK_INVALID_HANDLE;
	char *text = NULL;
	size_t len = 0, count = 0, i;
	unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 1000;
	double full[ROUNDS], tokms[ROUNDS], parse[ROUNDS], t0, mf, mt, mp;
	uint8_t h[32];
	int rc = 1, k;
	pv_err r;

	if (n == 0 || n > PV_BUNDLE_MAX_ENTRIES) {
		fprintf(stderr, "usage: bundle-bench [ENTRIES (1..%d, default 1000)]\n",
			PV_BUNDLE_MAX_ENTRIES);
		return 2;
	}
	topts.token_uri = getenv("P11VAULT_TOKEN");
	topts.module = getenv("P11VAULT_MODULE");
	topts.pin_source = getenv("P11VAULT_PIN_SOURCE");
	if ((r = pv_secmem_init()) != PV_OK || (r = p11_token_open(&topts, &tok)) != PV_OK ||
	    (r = p11_token_login(tok)) != PV_OK || (r = pv_keystore_new(tok, &ks)) != PV_OK ||
	    (r = prepare_kek(ks, &kek)) != PV_OK ||
	    (r = make_bundle(tok, kek, n, 48, &text, &len)) != PV_OK ||
	    (r = pv_bundle_parse((const uint8_t *)text, len, &b)) != PV_OK ||
	    (r = pv_bundle_check_digest(b, h)) != PV_OK)
		goto fail;
	if ((aads = calloc(b->nentries, sizeof(*aads))) == NULL) {
		r = PV_ERR_NOMEM;
		goto fail;
	}
	for (i = 0; i < b->nentries; i++)
		if ((r = pv_bundle_entry_aad(b, &b->entries[i], &aads[i])) != PV_OK)
			goto fail;
	/* one warm-up of each, then ROUNDS measured, interleaved */
	if ((r = full_unwrap(tok, text, len, &count)) != PV_OK || count != n ||
	    (r = token_only(tok, kek, b, aads, h, &tokms[0])) != PV_OK)
		goto fail;
	for (k = 0; k < ROUNDS; k++) {
		struct pv_bundle *pb = NULL;
		t0 = now_ms();
		if ((r = full_unwrap(tok, text, len, &count)) != PV_OK)
			goto fail;
		full[k] = now_ms() - t0;
		if ((r = token_only(tok, kek, b, aads, h, &tokms[k])) != PV_OK)
			goto fail;
		t0 = now_ms();
		if ((r = pv_bundle_parse((const uint8_t *)text, len, &pb)) != PV_OK)
			goto fail;
		parse[k] = now_ms() - t0;
		pv_bundle_free(pb);
	}
	mf = median(full, ROUNDS);
	mt = median(tokms, ROUNDS);
	mp = median(parse, ROUNDS);
	printf("bundle unwrap, %u env entries of 48 bytes, %zu-byte bundle, aes-kwp, median of %d:\n", n, len,
	       ROUNDS);
	printf("  full pipeline (parse, DEK unwrap, check, decrypt all): %8.1f ms  (%.1f us/entry)\n", mf,
	       mf * 1000.0 / n);
	printf("  token calls alone (C_UnwrapKey + %u C_Decrypt):       %8.1f ms  = %.0f%% of the unwrap\n",
	       n + 1, mt, mf > 0 ? 100.0 * mt / mf : 0);
	printf("  JSON parse alone:                                       %8.1f ms  = %.0f%%\n", mp,
	       mf > 0 ? 100.0 * mp / mf : 0);
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "bundle-bench: %s%s%s\n", pv_strerror(r), *pv_err_detail() ? ": " : "",
		pv_err_detail());
out:
	for (i = 0; aads != NULL && b != NULL && i < b->nentries; i++)
		pv_buf_free(aads[i]);
	free(aads);
	free(text);
	pv_bundle_free(b);
	pv_keystore_free(ks);
	p11_token_close(tok);
	return rc;
}
