#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pkcs11/testutil.h"

int
tu_make_token(struct tu_token *t, const char *label)
{
	char cmd[1024];
	int n;

	memset(t, 0, sizeof(*t));
	if (PV_SOFTHSM_MODULE[0] == '\0' || access(PV_SOFTHSM_MODULE, R_OK) != 0)
		return TU_SKIP;
	snprintf(t->module, sizeof(t->module), "%s", PV_SOFTHSM_MODULE);
	snprintf(t->label, sizeof(t->label), "%s", label);
	snprintf(t->dir, sizeof(t->dir), "/tmp/pvp11.XXXXXX");
	if (mkdtemp(t->dir) == NULL)
		return -1;
	n = snprintf(cmd, sizeof(cmd),
		     "'%s' --dir '%s' --label '%s' --vaultctl '%s' --module '%s' >/dev/null", PV_MAKE_TOKEN,
		     t->dir, t->label, PV_TOKEN_INIT, t->module);
	if (n < 0 || (size_t)n >= sizeof(cmd) || system(cmd) != 0)
		return -1;
	snprintf(t->pin_source, sizeof(t->pin_source), "file:%s/user.pin", t->dir);
	snprintf(t->uri, sizeof(t->uri), "pkcs11:token=%s", t->label);
	snprintf(cmd, sizeof(cmd), "%s/softhsm2.conf", t->dir);
	return setenv("SOFTHSM2_CONF", cmd, 1) == 0 ? 0 : -1;
}

void
tu_remove_token(struct tu_token *t)
{
	char cmd[160];

	if (t->dir[0] == '\0')
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", t->dir);
	t->dir[0] = '\0';
}

void
tu_opts(const struct tu_token *t, struct p11_token_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->token_uri = t->uri;
	o->module = t->module;
	o->pin_source = t->pin_source;
}

pv_err
tu_gen_ec(p11_token *tok, const char *label, uint8_t idbyte, p11_obj *priv, p11_obj *pub)
{
	static CK_BYTE p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
	CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_BYTE id[1] = {idbyte};
	CK_ULONG lablen = strlen(label);
	CK_ATTRIBUTE pubt[] = {
	    {CKA_EC_PARAMS, p256, sizeof(p256)},
	    {CKA_TOKEN, &yes, 1},
	    {CKA_ID, id, 1},
	    {CKA_VERIFY, &yes, 1},
	    {CKA_LABEL, (void *)(uintptr_t)label, lablen},
	};
	CK_ATTRIBUTE privt[] = {
	    {CKA_TOKEN, &yes, 1},
	    {CKA_ID, id, 1},
	    {CKA_SIGN, &yes, 1},
	    {CKA_SENSITIVE, &yes, 1},
	    {CKA_EXTRACTABLE, &no, 1},
	    {CKA_PRIVATE, &yes, 1},
	    {CKA_LABEL, (void *)(uintptr_t)label, lablen},
	};
	CK_OBJECT_HANDLE hpub, hpriv;
	pv_err r;

	if ((r = p11_generate_key_pair(tok, &mech, pubt, PV_NELEM(pubt), privt, PV_NELEM(privt), &hpub,
				       &hpriv)) != PV_OK)
		return r;
	memset(priv, 0, sizeof(*priv));
	priv->cls = CKO_PRIVATE_KEY;
	priv->id[0] = idbyte;
	priv->id_len = 1;
	snprintf(priv->label, sizeof(priv->label), "%s", label);
	priv->handle = CK_INVALID_HANDLE;
	*pub = *priv;
	pub->cls = CKO_PUBLIC_KEY;
	return PV_OK;
}

pv_err
tu_sign(p11_token *tok, p11_obj *key)
{
	CK_MECHANISM mech = {CKM_ECDSA, NULL, 0};
	uint8_t digest[32], sig[72];
	size_t siglen = sizeof(sig);

	memset(digest, 0x5a, sizeof(digest));
	return p11_sign(tok, &mech, key, digest, sizeof(digest), sig, &siglen);
}

int
tu_write_file(const char *path, const char *text, unsigned mode)
{
	int fd;
	ssize_t n;

	unlink(path);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0)
		return -1;
	n = write(fd, text, strlen(text));
	if (fchmod(fd, (mode_t)mode) != 0 || n != (ssize_t)strlen(text)) {
		close(fd);
		return -1;
	}
	return close(fd);
}
