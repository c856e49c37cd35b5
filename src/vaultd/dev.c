/*
 * vaultd --dev (docs/vaultd.8): a configuration made here and validated
 * like a file, a generated admin token, the audit checkpoint key.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "base/buf.h"
#include "vaultd/main_int.h"

#define DEV_TOKEN_BYTES 32
/* "pvt_" + base64url of 32 bytes (43) + NUL */
#define DEV_TOKEN_LEN   (4 + 43)

pv_err
vd_dev_dir(const char *given, char **out)
{
	const char *dir = given;
	char *abs = NULL;
	struct stat st;

	if (dir == NULL)
		dir = getenv("P11VAULT_DEV_DIR");
	if (dir == NULL || dir[0] == '\0')
		dir = "./vaultd-dev";
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		pv_err_set_detail("--dev-dir %s: %s", dir, strerror(errno));
		return PV_ERR_IO;
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		pv_err_set_detail("--dev-dir %s: not a directory", dir);
		return PV_ERR_IO;
	}
	abs = realpath(dir, NULL);
	if (abs == NULL) {
		pv_err_set_detail("--dev-dir %s: %s", dir, strerror(errno));
		return PV_ERR_IO;
	}
	*out = abs;
	return PV_OK;
}

pv_err
vd_dev_token(pv_secret **out, char hash_b64[64])
{
	pv_secret *raw = NULL, *tok = NULL;
	uint8_t h[crypto_hash_sha256_BYTES];
	char *t;
	pv_err r;

	if ((r = pv_secret_new(DEV_TOKEN_BYTES, &raw)) != PV_OK ||
	    (r = pv_secret_new(DEV_TOKEN_LEN + 1, &tok)) != PV_OK)
		goto out;
	randombytes_buf(pv_secret_rw(raw), DEV_TOKEN_BYTES);
	if ((r = pv_secret_set_len(raw, DEV_TOKEN_BYTES)) != PV_OK)
		goto out;
	t = (char *)pv_secret_rw(tok);
	memcpy(t, "pvt_", 4);
	sodium_bin2base64(t + 4, DEV_TOKEN_LEN + 1 - 4, pv_secret_ro(raw), DEV_TOKEN_BYTES,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	if ((r = pv_secret_set_len(tok, DEV_TOKEN_LEN)) != PV_OK)
		goto out;
	crypto_hash_sha256(h, pv_secret_ro(tok), DEV_TOKEN_LEN);
	sodium_bin2base64(hash_b64, 64, h, sizeof(h), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	pv_secret_lock(tok);
	*out = tok;
	tok = NULL;
out:
	pv_secret_free(raw);
	pv_secret_free(tok);
	return r;
}

static pv_err add_pattern(cJSON *keys, const char *fmt, ...) PV_PRINTF(2, 3);

static pv_err
add_pattern(cJSON *keys, const char *fmt, ...)
{
	char p[PV_KEY_NAME_MAX + 8];
	cJSON *s;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p, sizeof(p), fmt, ap);
	va_end(ap);
	if ((s = cJSON_CreateString(p)) == NULL || !cJSON_AddItemToArray(keys, s)) {
		cJSON_Delete(s);
		return PV_ERR_NOMEM;
	}
	return PV_OK;
}

/*
 * Patterns that together match every key name but name (no rule may match
 * the audit key; docs/config.md): a name that leaves name at character i
 * matches "name[0..i)[!name[i]]*", one that stops early is a proper prefix
 * (written "name[0..i)[name[i]]" so that it stays a pattern, not an exact
 * name the purpose check would judge), a longer one matches "name?*".
 */
static pv_err
add_all_but(cJSON *keys, const char *name)
{
	int i, n = (int)strlen(name);
	pv_err r = PV_OK;

	for (i = 0; i < n && r == PV_OK; i++) {
		r = add_pattern(keys, "%.*s[!%c]*", i, name, name[i]);
		if (r == PV_OK && i + 1 < n)
			r = add_pattern(keys, "%.*s[%c]", i, name, name[i]);
	}
	return r != PV_OK ? r : add_pattern(keys, "%s?*", name);
}

/* The dev client's rule for the operations on keys (every key but
 * audit_key) or on secrets (every one). */
static pv_err
add_dev_rule(cJSON *rules, int on_keys, const char *audit_key)
{
	cJSON *rule, *ops, *keys;
	int op;

	if ((rule = cJSON_CreateObject()) == NULL || !cJSON_AddItemToArray(rules, rule) ||
	    (ops = cJSON_AddArrayToObject(rule, "ops")) == NULL ||
	    (keys = cJSON_AddArrayToObject(rule, "keys")) == NULL)
		return PV_ERR_NOMEM;
	for (op = 0; op < PV_OP_COUNT; op++) {
		cJSON *s;
		int secrets = op == PV_OP_SECRETS_LIST || op == PV_OP_SECRETS_READ;

		if (op == PV_OP_RELOAD || secrets == on_keys)
			continue;
		if ((s = cJSON_CreateString(pv_op_name((pv_op)op))) == NULL ||
		    !cJSON_AddItemToArray(ops, s)) {
			cJSON_Delete(s);
			return PV_ERR_NOMEM;
		}
	}
	return on_keys ? add_all_but(keys, audit_key) : add_pattern(keys, "*");
}

pv_err
vd_dev_config(const char *dir, const char *token_hash, struct pv_config **out)
{
	const char *uri = getenv("P11VAULT_TOKEN"), *module = getenv("P11VAULT_MODULE");
	const char *pin = getenv("P11VAULT_PIN_SOURCE"), *creds = getenv("CREDENTIALS_DIRECTORY");
	cJSON *root = NULL, *o, *c, *rules;
	char path[PATH_MAX];
	char *text = NULL;
	pv_buf *in = NULL;
	pv_err r = PV_ERR_NOMEM;

	if (uri == NULL || uri[0] == '\0') {
		pv_err_set_detail(
		    "--dev: set P11VAULT_TOKEN (and P11VAULT_MODULE, P11VAULT_PIN_SOURCE) as for vaultctl");
		return PV_ERR_USAGE;
	}
	if ((pin == NULL || pin[0] == '\0') && creds != NULL)
		pin = "cred:p11vault-pin";
	if (pin == NULL || pin[0] == '\0') {
		pv_err_set_detail(
		    "--dev: set P11VAULT_PIN_SOURCE (file:, env:, fd: or cred:; a daemon cannot prompt)");
		return PV_ERR_USAGE;
	}
	if ((root = cJSON_CreateObject()) == NULL)
		goto out;
	if ((o = cJSON_AddObjectToObject(root, "token")) == NULL || !cJSON_AddStringToObject(o, "uri", uri) ||
	    (module != NULL && module[0] != '\0' && !cJSON_AddStringToObject(o, "module", module)) ||
	    !cJSON_AddStringToObject(o, "pin_source", pin))
		goto out;
	snprintf(path, sizeof(path), "%s/vaultd.sock", dir);
	if ((o = cJSON_AddObjectToObject(root, "listen")) == NULL ||
	    (o = cJSON_AddObjectToObject(o, "unix")) == NULL || !cJSON_AddStringToObject(o, "path", path) ||
	    !cJSON_AddStringToObject(o, "mode", "0600"))
		goto out;
	snprintf(path, sizeof(path), "%s/audit.log", dir);
	if ((o = cJSON_AddObjectToObject(root, "audit")) == NULL ||
	    !cJSON_AddStringToObject(o, "file", path) ||
	    !cJSON_AddStringToObject(o, "hmac_key", DEV_AUDIT_KEY))
		goto out;
	if ((o = cJSON_AddObjectToObject(root, "jwt")) == NULL ||
	    !cJSON_AddStringToObject(o, "issuer", "vaultd-dev"))
		goto out;
	if ((o = cJSON_AddArrayToObject(root, "clients")) == NULL || (c = cJSON_CreateObject()) == NULL ||
	    !cJSON_AddItemToArray(o, c))
		goto out;
	if (!cJSON_AddStringToObject(c, "name", "dev-admin") ||
	    !cJSON_AddStringToObject(c, "role", "admin") ||
	    (o = cJSON_AddObjectToObject(c, "auth")) == NULL ||
	    !cJSON_AddStringToObject(o, "token_sha256", token_hash))
		goto out;
	/* Every operation a rule can grant (reload comes with the role): on
	 * keys every one but the audit key, on secrets every one. */
	if ((rules = cJSON_AddArrayToObject(c, "rules")) == NULL ||
	    (r = add_dev_rule(rules, 1, DEV_AUDIT_KEY)) != PV_OK ||
	    (r = add_dev_rule(rules, 0, NULL)) != PV_OK)
		goto out;
	r = PV_ERR_NOMEM;
	if ((text = cJSON_PrintUnformatted(root)) == NULL)
		goto out;
	if ((r = pv_buf_view(text, strlen(text), &in)) != PV_OK)
		goto out;
	r = pv_config_parse(in, out);
out:
	pv_buf_free(in);
	free(text);
	cJSON_Delete(root);
	return r;
}

pv_err
vd_dev_audit_key(struct vd_keeper *k)
{
	int created = 0;
	pv_err r = vd_keeper_make_audit_key(k, DEV_AUDIT_KEY, &created);

	if (r == PV_OK && created)
		say("dev: created the audit checkpoint key %s on the token", DEV_AUDIT_KEY);
	return r;
}
