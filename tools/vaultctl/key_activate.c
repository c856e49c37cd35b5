/* vaultctl key activate NAME --version N */
#include "config.h"

#include <stdio.h>

#include "keyargs.h"
#include "subcommands.h"

#define USAGE "key activate NAME --version N"

int
key_activate_main(struct vctl *c, int argc, char *argv[])
{
	struct keyargs a;
	pv_keystore *ks = NULL;
	int rc;
	pv_err r;

	if ((rc = keyargs_parse(c, argc, argv, USAGE, KEYARGS_VERSION | KEYARGS_NEED_VERSION, &a)) >= 0)
		return rc;
	if ((r = vctl_keystore(c, &ks)) != PV_OK || (r = pv_keys_activate(ks, a.name, a.version)) != PV_OK)
		return vctl_fail(c, r, "key activate '%s' version %u", a.name, a.version);
	if (c->json)
		return keyargs_print_result(a.name, a.version, "active");
	printf("key '%s' version %u is active\n", a.name, a.version);
	return 0;
}
