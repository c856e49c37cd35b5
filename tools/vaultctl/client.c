/*
 * vaultctl client add NAME [--role client|admin]: a new bearer token for a
 * vaultd client. The token goes to stdout once and is not kept anywhere;
 * stderr gets the vaultd.json client entry, which holds only its SHA-256
 * (docs/config.md).
 */
#include "config.h"

#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/b64.h"
#include "subcommands.h"

#define USAGE          "client add NAME [--role client|admin]"
#define TOKEN_PREFIX   "pvt_"
#define TOKEN_RANDOM   32
#define TOKEN_B64_SIZE sodium_base64_ENCODED_LEN(TOKEN_RANDOM, sodium_base64_VARIANT_URLSAFE_NO_PADDING)

static int
valid_client_name(const char *s)
{
	size_t n;

	for (n = 0; s[n] != '\0'; n++) {
		if (!isalnum((unsigned char)s[n]) && s[n] != '.' && s[n] != '_' && s[n] != '-')
			return 0;
	}
	return n > 0 && n <= 64;
}

/* "pvt_" + base64url(32 random bytes), in guarded memory; *hash is the
 * base64url SHA-256 of that text (what vaultd.json stores). */
static pv_err
new_token(char **token, char **hash)
{
	uint8_t *raw = NULL, digest[crypto_hash_sha256_BYTES];
	size_t size = strlen(TOKEN_PREFIX) + TOKEN_B64_SIZE;
	char *t = NULL;
	pv_err r = PV_ERR_NOMEM;

	*token = NULL;
	*hash = NULL;
	if ((raw = sodium_malloc(TOKEN_RANDOM)) == NULL || (t = sodium_malloc(size)) == NULL)
		goto out;
	randombytes_buf(raw, TOKEN_RANDOM);
	memcpy(t, TOKEN_PREFIX, strlen(TOKEN_PREFIX));
	sodium_bin2base64(t + strlen(TOKEN_PREFIX), TOKEN_B64_SIZE, raw, TOKEN_RANDOM,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	crypto_hash_sha256(digest, (const unsigned char *)t, strlen(t));
	if ((r = pv_b64url_encode(digest, sizeof(digest), hash)) != PV_OK)
		goto out;
	*token = t;
	t = NULL;
out:
	if (raw != NULL) {
		sodium_memzero(raw, TOKEN_RANDOM);
		sodium_free(raw);
	}
	if (t != NULL) {
		sodium_memzero(t, size);
		sodium_free(t);
	}
	return r;
}

static int
client_add_main(struct vctl *c, int argc, char *argv[])
{
	static const struct option opts[] = {
	    {"role", required_argument, NULL, 'r'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	const char *role = "client", *name;
	char *token = NULL, *hash = NULL;
	cJSON *entry = NULL, *auth;
	char *snippet = NULL;
	int ch, rc = 1, failed;
	pv_err r;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (ch == 'h') {
			printf("Usage: vaultctl %s\n", USAGE);
			return 0;
		}
		if (ch == 'r') {
			role = optarg;
			continue;
		}
		return vctl_bad_option(c, USAGE, argv);
	}
	if (optind != argc - 1)
		return vctl_usage(c, USAGE, "expected one client NAME");
	name = argv[optind];
	if (!valid_client_name(name))
		return vctl_usage(c, USAGE, "client names are 1-64 of A-Z a-z 0-9 . _ -");
	if (strcmp(role, "client") != 0 && strcmp(role, "admin") != 0)
		return vctl_usage(c, USAGE, "--role is client or admin");
	if ((r = new_token(&token, &hash)) != PV_OK) {
		rc = vctl_fail(c, r, "new token");
		goto out;
	}
	entry = cJSON_CreateObject();
	if (entry == NULL || cJSON_AddStringToObject(entry, "name", name) == NULL ||
	    (auth = cJSON_AddObjectToObject(entry, "auth")) == NULL ||
	    cJSON_AddStringToObject(auth, "token_sha256", hash) == NULL ||
	    (strcmp(role, "admin") == 0 && cJSON_AddStringToObject(entry, "role", role) == NULL) ||
	    (snippet = cJSON_PrintUnformatted(entry)) == NULL) {
		rc = vctl_fail(c, PV_ERR_NOMEM, "client entry");
		goto out;
	}
	/* the token: once, on stdout; the entry for vaultd.json: on stderr */
	failed = printf("%s\n", token) < 0;
	failed |= fflush(stdout) != 0;
	if (failed) {
		rc = vctl_fail(c, PV_ERR_IO, "writing the token to stdout");
		goto out;
	}
	fprintf(stderr,
		"vaultctl: add this entry to \"clients\" in vaultd.json (it holds only the token's SHA-256;\n"
		"the token above is not stored anywhere):\n%s\n",
		snippet);
	rc = 0;
out:
	if (token != NULL) {
		sodium_memzero(token, strlen(token));
		sodium_free(token);
	}
	free(hash);
	cJSON_free(snippet);
	cJSON_Delete(entry);
	return rc;
}

static const struct subcommand client_commands[] = {
    {"add", client_add_main, "a new bearer token for a vaultd client (printed once) and its config entry"},
};

int
client_main(struct vctl *c, int argc, char *argv[])
{
	return subcommand_dispatch(c, client_commands, PV_NELEM(client_commands), "client", argc - 1,
				   argv + 1);
}
