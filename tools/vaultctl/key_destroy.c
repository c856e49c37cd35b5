/* vaultctl key destroy NAME --version N --yes */
#include "config.h"

#include <stdio.h>

#include "keyargs.h"
#include "subcommands.h"

#define USAGE "key destroy NAME --version N --yes"

int
key_destroy_main(struct vctl *c, int argc, char *argv[])
{
	struct keyargs a;
	pv_keystore *ks = NULL;
	int rc;
	pv_err r;

	if ((rc = keyargs_parse(c, argc, argv, USAGE, KEYARGS_VERSION | KEYARGS_NEED_VERSION | KEYARGS_YES,
				&a)) >= 0)
		return rc;
	/* destruction cannot be undone: require the explicit flag */
	if (!a.yes)
		return vctl_usage(c, USAGE, "destroying a key version cannot be undone; add --yes");
	if ((r = vctl_keystore(c, &ks)) != PV_OK || (r = pv_keys_destroy(ks, a.name, a.version)) != PV_OK)
		return vctl_fail(c, r, "key destroy '%s' version %u", a.name, a.version);
	if (c->json)
		return keyargs_print_result(a.name, a.version, "destroyed");
	printf("key '%s' version %u destroyed\n", a.name, a.version);
	return 0;
}
