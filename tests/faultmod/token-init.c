/*
 * Test helper with vaultctl's `token init` calling convention, so that
 * softhsm/make-token.sh works in `make check` without the real vaultctl:
 *   pv-token-init --module M token init --label L --so-pin-source S --pin-source P
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "base/secmem.h"
#include "pkcs11/token.h"

int
main(int argc, char **argv)
{
	const char *module = NULL, *label = NULL, *so = NULL, *user = NULL;
	pv_err r;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "token") == 0 || strcmp(argv[i], "init") == 0)
			continue;
		if (i + 1 >= argc)
			goto usage;
		if (strcmp(argv[i], "--module") == 0)
			module = argv[++i];
		else if (strcmp(argv[i], "--label") == 0)
			label = argv[++i];
		else if (strcmp(argv[i], "--so-pin-source") == 0)
			so = argv[++i];
		else if (strcmp(argv[i], "--pin-source") == 0)
			user = argv[++i];
		else
			goto usage;
	}
	if (!module || !label || !so || !user)
		goto usage;
	if (pv_secmem_init() != PV_OK) {
		fprintf(stderr, "pv-token-init: cannot set up guarded memory\n");
		return 1;
	}
	if ((r = p11_token_init(module, label, so, user)) != PV_OK) {
		fprintf(stderr, "pv-token-init: %s (%s)\n", pv_strerror(r), pv_err_detail());
		return pv_err_exit_code(r);
	}
	fprintf(stderr, "token '%s' initialised\n", label);
	return 0;
usage:
	fprintf(stderr, "usage: pv-token-init --module M token init --label L "
			"--so-pin-source S --pin-source P\n");
	return 2;
}
