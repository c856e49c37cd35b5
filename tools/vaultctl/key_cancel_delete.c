/* vaultctl key cancel-delete NAME */
#include "config.h"

#include <stdio.h>

#include "keyargs.h"
#include "subcommands.h"

#define USAGE "key cancel-delete NAME"

int
key_cancel_delete_main(struct vctl *c, int argc, char *argv[])
{
	const char *name = NULL;
	pv_keystore *ks = NULL;
	char text[200];
	int rc;
	pv_err r;

	if ((rc = key_service_parse(c, argc, argv, USAGE, NULL, &name)) >= 0)
		return rc;
	if ((r = vctl_keystore(c, &ks)) != PV_OK || (r = pv_keys_cancel_delete(ks, name)) != PV_OK)
		return vctl_fail(c, r, "key cancel-delete '%s'", name);
	snprintf(text, sizeof(text),
		 "key '%s': deletion cancelled; it stays disabled (vaultctl key enable %s)", name, name);
	return key_service_result(c, name, "disabled", text);
}
