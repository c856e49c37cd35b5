/* PLACEHOLDER (made by "core" so the provider builds): backend_vaultd.c is
 * written by "vaultd", who replaces this file. The vaultd backend refuses
 * everything. */
#include "config.h"

#include "provider/provider.h"

int
p11v_vaultd_sign(p11v_key *k, const struct p11v_sigreq *rq, unsigned char *sig, size_t *siglen,
		 size_t sigsize)
{
	(void)rq;
	(void)sig;
	(void)siglen;
	(void)sigsize;
	p11v_raise(p11v_key_prov(k), P11V_R_UNSUPPORTED, "the vaultd backend is not built yet");
	return 0;
}

p11v_key *
p11v_vaultd_load(p11v_prov *p, const struct p11v_uri *u)
{
	(void)u;
	p11v_raise(p, P11V_R_UNSUPPORTED, "the vaultd backend is not built yet");
	return NULL;
}

void
p11v_vaultd_after_fork(p11v_prov *p)
{
	(void)p;
}

void
p11v_vaultd_free(p11v_prov *p)
{
	(void)p;
}
