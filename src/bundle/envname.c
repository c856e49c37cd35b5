/* The deny-list of variable names that change how programs run (envname.h). */
#include "config.h"

#include <string.h>

#include "bundle/envname.h"

struct env_rule {
	const char *rule; /* shown in messages: the name, or the prefix and '*' */
	size_t prefix;    /* 0: exact name; else the length of the prefix */
};

#define EXACT(n)                                                                                             \
	{                                                                                                    \
		n, 0                                                                                         \
	}
#define PREFIX(p)                                                                                            \
	{                                                                                                    \
		p "*", sizeof(p) - 1                                                                         \
	}

/* docs/bundle-format.md §10 has this table with the reason for each row. */
static const struct env_rule rules[] = {
    /* the dynamic loader: LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT, ... */
    PREFIX("LD_"),
    /* glibc */
    EXACT("GCONV_PATH"),
    EXACT("LOCPATH"),
    EXACT("HOSTALIASES"),
    EXACT("GLIBC_TUNABLES"),
    PREFIX("MALLOC_"),
    /* glibc's unsecure-envvars list (dropped for setuid programs) */
    EXACT("GETCONF_DIR"),
    EXACT("LOCALDOMAIN"),
    EXACT("NIS_PATH"),
    EXACT("NLSPATH"),
    EXACT("RESOLV_HOST_CONF"),
    EXACT("RES_OPTIONS"),
    EXACT("TMPDIR"),
    EXACT("TZDIR"),
    /* shells */
    EXACT("BASH_ENV"),
    EXACT("ENV"),
    PREFIX("BASH_FUNC_"),
    EXACT("PATH"),
    EXACT("IFS"),
    EXACT("PS4"),
    EXACT("SHELLOPTS"),
    EXACT("BASHOPTS"),
    EXACT("CDPATH"),
    EXACT("GLOBIGNORE"),
    EXACT("PROMPT_COMMAND"),
    /* interpreters and runtimes */
    EXACT("NODE_OPTIONS"),
    EXACT("NODE_PATH"),
    PREFIX("PYTHON"),
    PREFIX("PERL5"),
    EXACT("PERLLIB"),
    EXACT("RUBYOPT"),
    EXACT("RUBYLIB"),
    EXACT("JAVA_TOOL_OPTIONS"),
    EXACT("_JAVA_OPTIONS"),
    EXACT("JDK_JAVA_OPTIONS"),
};

const char *
pv_env_name_denied(const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < PV_NELEM(rules); i++) {
		if (rules[i].prefix > 0 ? strncmp(name, rules[i].rule, rules[i].prefix) == 0
					: strcmp(name, rules[i].rule) == 0)
			return rules[i].rule;
	}
	return NULL;
}

int
pv_env_name_allowed(const char *name, const char *const *allow, size_t nallow)
{
	size_t i;

	if (name == NULL)
		return 0;
	for (i = 0; i < nallow; i++) {
		if (allow[i] != NULL && strcmp(allow[i], name) == 0)
			return 1;
	}
	return 0;
}

pv_err
pv_env_name_check(const char *name, const char *const *allow, size_t nallow, const char **rule)
{
	const char *hit = pv_env_name_denied(name);

	if (rule != NULL)
		*rule = hit;
	if (hit == NULL || pv_env_name_allowed(name, allow, nallow))
		return PV_OK;
	return PV_ERR_REFUSED_NAME;
}

pv_err
pv_env_kvlist_check(const struct pv_kvlist *l, const char *const *allow, size_t nallow, const char **bad,
		    const char **rule)
{
	size_t i;
	pv_err r;

	if (bad != NULL)
		*bad = NULL;
	if (rule != NULL)
		*rule = NULL;
	for (i = 0; i < l->n; i++) {
		if (l->items[i].kind != PV_ENTRY_ENV)
			continue;
		if ((r = pv_env_name_check(l->items[i].name, allow, nallow, rule)) != PV_OK) {
			if (bad != NULL)
				*bad = l->items[i].name;
			return r;
		}
	}
	if (rule != NULL)
		*rule = NULL;
	return PV_OK;
}
