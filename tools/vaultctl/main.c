/* vaultctl: the p11vault operator CLI. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <getopt.h>
#include <unistd.h>

#include "base/secmem.h"
#include "subcommands.h"

static const struct subcommand commands[] = {
    {"token", token_main, "token info | token init: the token and its module"},
    {"doctor", doctor_main, "which p11vault features this token supports"},
    {"key", key_main, "key create|list|show|rotate|activate|retire|destroy|adopt|set-purpose|repair"},
    {"sign", sign_main, "sign input with a key's active version"},
    {"verify", verify_main, "verify a signature against a key version"},
    {"client", client_main, "client add: a bearer token for a vaultd client"},
    {"bundle", bundle_main,
     "bundle seal|set|rm|import-key|install-key|set-purpose|list|verify|rewrap|rotate: secrets bundles"},
    {"unwrap", unwrap_main, "decrypt a bundle's values to stdout, a file or a directory"},
    {"exec", exec_main, "run a command with a bundle's values in its environment"},
    {"audit", audit_main, "audit verify: check a vaultd audit log"},
    {"jwt", jwt_main, "jwt issue|verify: JWTs signed by a key on the token"},
    {"jwks", jwks_main, "the JWK Set of every JWT-capable key (next, active, verify-only)"},
    {"wallet", wallet_main,
     "wallet address|sign-tx|sign-message|sign-digest|sign-typed-data: Solana and EVM"},
};

const char vctl_global_help[] =
    "Global options (before or after the command):\n"
    "  --token URI         token to use (RFC 7512), env P11VAULT_TOKEN\n"
    "  --module PATH|NAME  PKCS#11 module, env P11VAULT_MODULE\n"
    "  --pin-source SRC    file:PATH env:NAME fd:N cred:NAME prompt, env P11VAULT_PIN_SOURCE\n"
    "  --json              machine-readable output\n"
    "  -v, --verbose       more detail on stderr (never secrets)\n";

static void
print_commands(FILE *f, const struct subcommand *table, size_t n, const char *group)
{
	size_t i;

	fprintf(f, "Usage: vaultctl [OPTIONS] %s%sCOMMAND [ARGS]\n\nCommands:\n", group ? group : "",
		group ? " " : "");
	for (i = 0; i < n; i++)
		fprintf(f, "  %-10s %s\n", table[i].name, table[i].summary);
	fprintf(f,
		"\n%s\nExit codes: 0 ok, 1 internal, 2 usage, 3 token unavailable, 4 PIN/auth,\n"
		"5 not found, 6 integrity/bad signature, 7 conflict, 8 wrong key purpose. See vaultctl(1).\n",
		vctl_global_help);
}

int
subcommand_dispatch(struct vctl *c, const struct subcommand *table, size_t n, const char *group, int argc,
		    char *argv[])
{
	static char cmdname[64];
	size_t i;

	if (argc < 1 || strcmp(argv[0], "help") == 0 || strcmp(argv[0], "--help") == 0 ||
	    strcmp(argv[0], "-h") == 0) {
		print_commands(argc < 1 ? stderr : stdout, table, n, group);
		return argc < 1 ? PV_EXIT_USAGE : PV_EXIT_OK;
	}
	for (i = 0; i < n; i++) {
		if (strcmp(argv[0], table[i].name) == 0) {
			snprintf(cmdname, sizeof(cmdname), "%s%s%s", group ? group : "", group ? " " : "",
				 table[i].name);
			c->cmd = cmdname;
			return table[i].main(c, argc, argv);
		}
	}
	fprintf(stderr, "vaultctl: %s%s%.64s: unknown command (see vaultctl %s%s--help)\n",
		group ? group : "", group ? " " : "", argv[0], group ? group : "", group ? " " : "");
	return PV_EXIT_USAGE;
}

/*
 * Take the global options out of argv wherever they stand (before "--"),
 * so every subcommand accepts them without knowing them.
 */
static int
take_global_options(struct vctl *c, int *argcp, char *argv[])
{
	static const char *const with_value[] = {"--token", "--module", "--pin-source"};
	const char **dst[] = {&c->topts.token_uri, &c->topts.module, &c->topts.pin_source};
	int argc = *argcp, i, j, out = 1, matched;
	size_t len;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			while (i < argc)
				argv[out++] = argv[i++];
			break;
		}
		matched = 0;
		for (j = 0; j < 3; j++) {
			len = strlen(with_value[j]);
			if (strncmp(argv[i], with_value[j], len) != 0)
				continue;
			if (argv[i][len] == '=') {
				*dst[j] = argv[i] + len + 1;
				matched = 1;
			} else if (argv[i][len] == '\0') {
				if (i + 1 >= argc) {
					fprintf(stderr, "vaultctl: %s needs a value\n", with_value[j]);
					return -1;
				}
				*dst[j] = argv[++i];
				matched = 1;
			}
			break;
		}
		if (!matched && strcmp(argv[i], "--json") == 0) {
			c->json = 1;
			matched = 1;
		} else if (!matched && (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0)) {
			c->verbose = 1;
			matched = 1;
		}
		if (!matched)
			argv[out++] = argv[i];
	}
	argv[out] = NULL;
	*argcp = out;
	return 0;
}

int
main(int argc, char *argv[])
{
	struct vctl c;
	const char *s;
	pv_err r;
	int rc;

	memset(&c, 0, sizeof(c));
	if ((r = pv_secmem_init()) != PV_OK) {
		fprintf(stderr, "vaultctl: cannot protect process memory: %s\n", pv_strerror(r));
		return PV_EXIT_INTERNAL;
	}
	if ((s = getenv("P11VAULT_TOKEN")) != NULL && *s)
		c.topts.token_uri = s;
	if ((s = getenv("P11VAULT_MODULE")) != NULL && *s)
		c.topts.module = s;
	if ((s = getenv("P11VAULT_PIN_SOURCE")) != NULL && *s)
		c.topts.pin_source = s;
	if (take_global_options(&c, &argc, argv) != 0)
		return PV_EXIT_USAGE;
	/* getopt's own messages would make a second error line */
	opterr = 0;
	/* a no-echo prompt is allowed only for a person at a terminal */
	c.topts.allow_prompt = isatty(STDIN_FILENO);
	rc = subcommand_dispatch(&c, commands, PV_NELEM(commands), NULL, argc - 1, argv + 1);
	vctl_close(&c);
	return rc;
}
