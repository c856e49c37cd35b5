/* vaultctl key enable NAME */
#include "config.h"

#include <stdio.h>

#include "keyargs.h"
#include "subcommands.h"

#define USAGE "key enable NAME"

int
key_enable_main(struct vctl *c, int argc, char *argv[])
{
	const char *name = NULL;
	pv_keystore *ks = NULL;
	char text[160];
	int rc, changed = 0;
	pv_err r;

	if ((rc = key_service_parse(c, argc, argv, USAGE, NULL, &name)) >= 0)
		return rc;
	if ((r = vctl_keystore(c, &ks)) != PV_OK || (r = pv_keys_enable(ks, name, &changed)) != PV_OK)
		return vctl_fail(c, r, "key enable '%s'", name);
	snprintf(text, sizeof(text), "key '%s' is %senabled", name, changed ? "" : "already ");
	return key_service_result(c, name, "enabled", text);
}
