/* vaultctl audit verify FILE...: check an audit log, or the files of a
 * rotated one in order (docs/audit.md). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"
#include "subcommands.h"

#define USAGE "audit verify FILE... [--hmac-key NAME] [--no-token]"

static const struct subcommand audit_commands[] = {
    {"verify", audit_verify_main, "check an audit log's hash chain and checkpoint MACs"},
};

int
audit_main(struct vctl *c, int argc, char *argv[])
{
	return subcommand_dispatch(c, audit_commands, PV_NELEM(audit_commands), "audit", argc - 1, argv + 1);
}

static int
print_ok(struct vctl *c, const struct pv_audit_report *rep, int token)
{
	cJSON *doc;

	if (!c->json) {
		if (token)
			printf("audit: ok (%llu lines, %llu checkpoints verified",
			       (unsigned long long)rep->lines, (unsigned long long)rep->verified);
		else
			printf("audit: ok (%llu lines, %llu checkpoints not verified: --no-token",
			       (unsigned long long)rep->lines, (unsigned long long)rep->checkpoints);
		if (rep->after_last > 0)
			printf("; %llu lines after the last checkpoint", (unsigned long long)rep->after_last);
		if (rep->recovered > 0)
			printf("; %llu torn last lines cut at start-up (%llu bytes dropped)",
			       (unsigned long long)rep->recovered, (unsigned long long)rep->dropped);
		if (rep->deferred > 0)
			printf("; %llu checkpoints deferred while the token was unavailable",
			       (unsigned long long)rep->deferred);
		printf(")\n");
		return 0;
	}
	if ((doc = cJSON_CreateObject()) == NULL || cJSON_AddBoolToObject(doc, "ok", 1) == NULL ||
	    cJSON_AddNumberToObject(doc, "lines", (double)rep->lines) == NULL ||
	    cJSON_AddNumberToObject(doc, "records", (double)rep->records) == NULL ||
	    cJSON_AddNumberToObject(doc, "checkpoints", (double)rep->checkpoints) == NULL ||
	    cJSON_AddNumberToObject(doc, "checkpoints_verified", (double)rep->verified) == NULL ||
	    cJSON_AddNumberToObject(doc, "after_last_checkpoint", (double)rep->after_last) == NULL ||
	    cJSON_AddNumberToObject(doc, "recovered", (double)rep->recovered) == NULL ||
	    cJSON_AddNumberToObject(doc, "dropped_bytes", (double)rep->dropped) == NULL ||
	    cJSON_AddNumberToObject(doc, "deferred", (double)rep->deferred) == NULL) {
		cJSON_Delete(doc);
		return PV_EXIT_INTERNAL;
	}
	return vctl_print_json(doc);
}

int
audit_verify_main(struct vctl *c, int argc, char *argv[])
{
	static const struct option opts[] = {
	    {"hmac-key", required_argument, NULL, 'k'},
	    {"no-token", no_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct pv_audit_report rep;
	const char *hmac_key = "audit-hmac";
	struct pv_key *key = NULL;
	pv_keystore *ks = NULL;
	int ch, *fds = NULL, no_token = 0, rc;
	size_t i, n = 0;
	pv_err r;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'k':
			hmac_key = optarg;
			break;
		case 'n':
			no_token = 1;
			break;
		case 'h':
			printf("Usage: vaultctl %s\n", USAGE);
			return 0;
		default:
			return vctl_bad_option(c, USAGE, argv);
		}
	}
	if (optind >= argc)
		return vctl_usage(c, USAGE, "a FILE is required");
	if ((fds = calloc((size_t)(argc - optind), sizeof(*fds))) == NULL)
		return vctl_fail(c, PV_ERR_NOMEM, "audit verify");
	for (; n < (size_t)(argc - optind); n++) {
		if ((fds[n] = open(argv[optind + (int)n], O_RDONLY | O_CLOEXEC)) < 0) {
			rc = vctl_usage(c, USAGE, "%s: %s", argv[optind + (int)n], strerror(errno));
			goto done;
		}
	}
	/* the checkpoint MACs are checked only with a key of purpose audit */
	if (!no_token &&
	    ((r = vctl_keystore(c, &ks)) != PV_OK || (r = pv_keys_get(ks, hmac_key, &key)) != PV_OK ||
	     (r = pv_key_check_purpose(key, PV_PURPOSE_AUDIT)) != PV_OK)) {
		rc = vctl_fail(c, r, "audit verify --hmac-key %s", hmac_key);
		goto done;
	}
	if ((r = pv_audit_verify_files(ks, hmac_key, fds, n, &rep)) != PV_OK) {
		rc = vctl_fail(c, r, "audit verify: %s", argv[optind + (int)rep.bad_file]);
		goto done;
	}
	rc = print_ok(c, &rep, !no_token);
done:
	pv_key_free(key);
	for (i = 0; i < n; i++)
		(void)close(fds[i]);
	free(fds);
	return rc;
}
