/* Argument parsing shared by the key commands that take NAME --version N. */
#ifndef VAULTCTL_KEYARGS_H
#define VAULTCTL_KEYARGS_H

#include "vaultctl.h"

struct keyargs {
	const char *name;
	unsigned version; /* 0 = not given */
	int yes;          /* --yes given */
	int next;         /* --next given */
	int help;         /* -h: usage printed, exit 0 */
};

enum keyargs_flags {
	KEYARGS_VERSION = 1,      /* accepts --version */
	KEYARGS_NEED_VERSION = 2, /* requires --version */
	KEYARGS_YES = 4,          /* accepts --yes */
	KEYARGS_NEXT = 8,         /* accepts --next */
};

/* Returns -1 when parsing succeeded, else the exit code to return. */
int keyargs_parse(struct vctl *c, int argc, char *argv[], const char *usage, int flags, struct keyargs *out);

/*
 * The shape shared by `key activate|retire|destroy NAME --version N`: parse,
 * run op on the keystore, report "key 'NAME' version N is STATE".
 */
int keyargs_version_command(struct vctl *c, int argc, char *argv[], const char *usage, int flags,
			    pv_err (*op)(pv_keystore *, const char *, unsigned), const char *state);

/* {"name":..,"version":..,"state":..} on stdout for --json. */
int keyargs_print_result(const char *name, unsigned version, const char *state);

#endif
