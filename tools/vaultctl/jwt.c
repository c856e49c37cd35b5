/*
 * vaultctl jwt issue|verify and vaultctl jwks: JWTs signed by a key's active
 * version, checked against a JWK Set or a key's published versions, and the
 * JWK Set of every JWT-capable key.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jose/jwt.h"
#include "subcommands.h"

#define ISSUE_USAGE   "jwt issue NAME --claims FILE|- [--ttl SECONDS] [--iss ISS] [--aud AUD]... [--pss]"
#define VERIFY_USAGE  "jwt verify (--jwks FILE | --key NAME) [--leeway SECONDS] TOKEN-FILE|-"
#define JWKS_USAGE    "jwks [--json]"
#define JWKS_FILE_MAX (1024 * 1024)
#define AUD_MAX       16

static int
parse_seconds(const char *s, long *out)
{
	char *end = NULL;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v > PV_JWT_TTL_MAX)
		return -1;
	*out = v;
	return 0;
}

/* Input file as a NUL-terminated string (trailing whitespace dropped). */
static pv_err
read_text(const char *path, size_t max, char **out)
{
	pv_buf *b = NULL;
	char *s = NULL;
	size_t n;
	pv_err r;

	*out = NULL;
	if ((r = vctl_read_input(path, max, &b)) != PV_OK)
		goto out;
	n = pv_buf_len(b);
	if ((s = malloc(n + 1)) == NULL) {
		r = PV_ERR_NOMEM;
		goto out;
	}
	if (n > 0)
		memcpy(s, pv_buf_ptr(b), n);
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	s[n] = '\0';
	*out = s;
	s = NULL;
out:
	free(s);
	pv_buf_free(b);
	return r;
}

static pv_err
read_json(const char *path, size_t max, cJSON **out)
{
	char *text = NULL;
	pv_err r;

	*out = NULL;
	if ((r = read_text(path, max, &text)) != PV_OK)
		return r;
	if ((*out = cJSON_Parse(text)) == NULL) {
		pv_err_set_detail("%s is not JSON", path);
		r = PV_ERR_BAD_INPUT;
	}
	free(text);
	return r;
}

/* The claims, with --aud values added ("aud" a string, or an array). */
static pv_err
add_aud(cJSON *claims, char **aud, size_t naud)
{
	cJSON *arr;
	size_t i;

	if (naud == 0)
		return PV_OK;
	if (cJSON_GetObjectItemCaseSensitive(claims, "aud") != NULL) {
		pv_err_set_detail("--aud and an \"aud\" claim in the claims file");
		return PV_ERR_USAGE;
	}
	if (naud == 1)
		return cJSON_AddStringToObject(claims, "aud", aud[0]) != NULL ? PV_OK : PV_ERR_NOMEM;
	if ((arr = cJSON_AddArrayToObject(claims, "aud")) == NULL)
		return PV_ERR_NOMEM;
	for (i = 0; i < naud; i++)
		if (!cJSON_AddItemToArray(arr, cJSON_CreateString(aud[i])))
			return PV_ERR_NOMEM;
	return PV_OK;
}

static int
jwt_issue_main(struct vctl *c, int argc, char *argv[])
{
	static const struct option opts[] = {
	    {"claims", required_argument, NULL, 'c'},
	    {"ttl", required_argument, NULL, 't'},
	    {"iss", required_argument, NULL, 'i'},
	    {"aud", required_argument, NULL, 'a'},
	    {"pss", no_argument, NULL, 'p'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct pv_jwt_opts o = {0};
	const char *claims_path = NULL, *name;
	char *aud[AUD_MAX], *token = NULL;
	size_t naud = 0;
	cJSON *claims = NULL, *doc;
	pv_keystore *ks = NULL;
	int ch, rc = 0;
	pv_err r;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			claims_path = optarg;
			break;
		case 't':
			if (parse_seconds(optarg, &o.ttl) != 0 || o.ttl == 0)
				return vctl_usage(c, ISSUE_USAGE, "--ttl takes 1..%ld seconds",
						  PV_JWT_TTL_MAX);
			break;
		case 'i':
			o.iss = optarg;
			break;
		case 'a':
			if (naud == AUD_MAX)
				return vctl_usage(c, ISSUE_USAGE, "at most %d --aud", AUD_MAX);
			aud[naud++] = optarg;
			break;
		case 'p':
			o.pss = 1;
			break;
		case 'h':
			printf("Usage: vaultctl %s\n", ISSUE_USAGE);
			return 0;
		default:
			return vctl_bad_option(c, ISSUE_USAGE, argv);
		}
	}
	if (optind + 1 != argc)
		return vctl_usage(c, ISSUE_USAGE,
				  optind >= argc ? "a key NAME is required" : "too many arguments");
	if (claims_path == NULL)
		return vctl_usage(c, ISSUE_USAGE, "--claims FILE|- is required");
	name = argv[optind];
	if ((r = read_json(claims_path, PV_JWT_CLAIMS_MAX + 1024, &claims)) != PV_OK ||
	    (r = add_aud(claims, aud, naud)) != PV_OK) {
		rc = vctl_fail(c, r, "jwt issue '%s': claims", name);
		goto out;
	}
	if ((r = vctl_keystore(c, &ks)) != PV_OK ||
	    (r = pv_jwt_issue(ks, name, &o, claims, &token)) != PV_OK) {
		rc = vctl_fail(c, r, "jwt issue '%s'", name);
		goto out;
	}
	if (c->json) {
		if ((doc = cJSON_CreateObject()) == NULL ||
		    cJSON_AddStringToObject(doc, "token", token) == NULL) {
			cJSON_Delete(doc);
			rc = vctl_fail(c, PV_ERR_NOMEM, "jwt issue");
			goto out;
		}
		rc = vctl_print_json(doc);
	} else {
		printf("%s\n", token);
	}
out:
	free(token);
	cJSON_Delete(claims);
	return rc;
}

/* Only a key of purpose jwt vouches for a JWT (the same rule as the JWKS). */
static pv_err
key_is_jwt(pv_keystore *ks, const char *name)
{
	struct pv_key *key = NULL;
	pv_err r;

	if ((r = pv_keys_get(ks, name, &key)) == PV_OK)
		r = pv_key_check_purpose(key, PV_PURPOSE_JWT);
	pv_key_free(key);
	return r;
}

static int
jwt_verify_main(struct vctl *c, int argc, char *argv[])
{
	static const struct option opts[] = {
	    {"jwks", required_argument, NULL, 'j'},
	    {"key", required_argument, NULL, 'k'},
	    {"leeway", required_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *jwks_path = NULL, *keyname = NULL;
	char *token = NULL;
	cJSON *jwks = NULL, *claims = NULL, *doc;
	pv_keystore *ks = NULL;
	long leeway = 0;
	int ch, rc = 0;
	pv_err r;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			jwks_path = optarg;
			break;
		case 'k':
			keyname = optarg;
			break;
		case 'l':
			if (parse_seconds(optarg, &leeway) != 0)
				return vctl_usage(c, VERIFY_USAGE, "--leeway takes a number of seconds");
			break;
		case 'h':
			printf("Usage: vaultctl %s\n", VERIFY_USAGE);
			return 0;
		default:
			return vctl_bad_option(c, VERIFY_USAGE, argv);
		}
	}
	if (optind + 1 != argc)
		return vctl_usage(c, VERIFY_USAGE,
				  optind >= argc ? "a TOKEN-FILE (or -) is required" : "too many arguments");
	if ((jwks_path == NULL) == (keyname == NULL))
		return vctl_usage(c, VERIFY_USAGE, "give one of --jwks FILE and --key NAME");
	if ((r = read_text(argv[optind], PV_JWT_TOKEN_MAX + 2, &token)) != PV_OK) {
		rc = vctl_fail(c, r, "jwt verify: reading the token");
		goto out;
	}
	if (jwks_path != NULL)
		r = read_json(jwks_path, JWKS_FILE_MAX, &jwks);
	else if ((r = vctl_keystore(c, &ks)) == PV_OK && (r = key_is_jwt(ks, keyname)) == PV_OK)
		r = pv_jwks_build_key(ks, keyname, &jwks);
	if (r != PV_OK) {
		rc = vctl_fail(c, r, "jwt verify: the keys");
		goto out;
	}
	if ((r = pv_jwt_verify(jwks, token, time(NULL), leeway, &claims)) != PV_OK) {
		rc = vctl_fail(c, r, "jwt verify");
		goto out;
	}
	if (c->json) {
		if ((doc = cJSON_CreateObject()) == NULL || cJSON_AddBoolToObject(doc, "valid", 1) == NULL) {
			cJSON_Delete(doc);
			rc = vctl_fail(c, PV_ERR_NOMEM, "jwt verify");
			goto out;
		}
		cJSON_AddItemToObject(doc, "claims", claims);
		claims = NULL;
		rc = vctl_print_json(doc);
	} else {
		printf("token: ok\n");
		rc = vctl_print_json(claims);
		claims = NULL;
	}
out:
	free(token);
	cJSON_Delete(jwks);
	cJSON_Delete(claims);
	return rc;
}

static const struct subcommand jwt_commands[] = {
    {"issue", jwt_issue_main, "a JWT signed by a key's active version"},
    {"verify", jwt_verify_main, "check a JWT against a JWK Set or a key"},
};

int
jwt_main(struct vctl *c, int argc, char *argv[])
{
	return subcommand_dispatch(c, jwt_commands, PV_NELEM(jwt_commands), "jwt", argc - 1, argv + 1);
}

int
jwks_main(struct vctl *c, int argc, char *argv[])
{
	pv_keystore *ks = NULL;
	cJSON *jwks = NULL;
	pv_err r;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf("Usage: vaultctl %s\n", JWKS_USAGE);
		return 0;
	}
	if (argc != 1)
		return vctl_usage(c, JWKS_USAGE, "no arguments expected");
	if ((r = vctl_keystore(c, &ks)) != PV_OK || (r = pv_jwks_build(ks, &jwks)) != PV_OK)
		return vctl_fail(c, r, "jwks");
	/* the set is JSON with or without --json */
	return vctl_print_json(jwks);
}
