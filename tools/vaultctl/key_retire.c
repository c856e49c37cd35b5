/* vaultctl key retire NAME --version N */
#include "config.h"

#include <stdio.h>

#include "keyargs.h"
#include "subcommands.h"

#define USAGE "key retire NAME --version N"

int
key_retire_main(struct vctl *c, int argc, char *argv[])
{
	struct keyargs a;
	pv_keystore *ks = NULL;
	int rc;
	pv_err r;

	if ((rc = keyargs_parse(c, argc, argv, USAGE, KEYARGS_VERSION | KEYARGS_NEED_VERSION, &a)) >= 0)
		return rc;
	if ((r = vctl_keystore(c, &ks)) != PV_OK || (r = pv_keys_retire(ks, a.name, a.version)) != PV_OK)
		return vctl_fail(c, r, "key retire '%s' version %u", a.name, a.version);
	if (c->json)
		return keyargs_print_result(a.name, a.version, "retired");
	printf("key '%s' version %u is retired\n", a.name, a.version);
	return 0;
}
