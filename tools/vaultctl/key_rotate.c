/* vaultctl key rotate NAME [--next] */
#include "config.h"

#include <stdio.h>

#include "keyargs.h"
#include "subcommands.h"

#define USAGE "key rotate NAME [--next]"

int
key_rotate_main(struct vctl *c, int argc, char *argv[])
{
	struct keyargs a;
	pv_keystore *ks = NULL;
	unsigned nv = 0;
	cJSON *doc;
	int rc;
	pv_err r;

	if ((rc = keyargs_parse(c, argc, argv, USAGE, KEYARGS_NEXT, &a)) >= 0)
		return rc;
	if ((r = vctl_keystore(c, &ks)) != PV_OK || (r = pv_keys_rotate(ks, a.name, a.next, &nv)) != PV_OK)
		return vctl_fail(c, r, "key rotate '%s'", a.name);
	if (c->json) {
		if ((doc = cJSON_CreateObject()) == NULL)
			return vctl_fail(c, PV_ERR_NOMEM, "key rotate");
		cJSON_AddStringToObject(doc, "name", a.name);
		cJSON_AddNumberToObject(doc, "version", nv);
		cJSON_AddStringToObject(doc, "state", a.next ? "next" : "active");
		return vctl_print_json(doc);
	}
	printf("key '%s' version %u created (%s)%s\n", a.name, nv, a.next ? "next" : "active",
	       a.next ? "" : "; the previous active version is now verify-only");
	return 0;
}
