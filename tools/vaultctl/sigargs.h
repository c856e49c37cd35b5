/* Options shared by `sign` and `verify`. */
#ifndef VAULTCTL_SIGARGS_H
#define VAULTCTL_SIGARGS_H

#include "core/sigfmt.h"
#include "core/sign.h"
#include "vaultctl.h"

struct sigargs {
	const char *name;
	const char *in;  /* "-" = stdin */
	const char *out; /* sign: output file */
	const char *sig; /* verify: signature file */
	const char *format;
	struct pv_sign_opts opts;
};

/* Returns -1 when parsing succeeded, else the exit code to return. */
int sigargs_parse(struct vctl *c, int argc, char *argv[], const char *usage, int verify, struct sigargs *a);
/* Default output format for an algorithm: der for ECDSA, raw otherwise. */
pv_sigfmt sigargs_format(const struct sigargs *a, pv_alg alg, pv_err *err);

#endif
