/* Unit tests: the deny-list of variable names that change how programs run
 * (src/bundle/envname.c, docs/bundle-format.md §10). */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bundle/envname.h"

/* Every row of the documented table, with the rule it must report. */
static const struct {
	const char *name, *rule;
} denied[] = {
    {"LD_PRELOAD", "LD_*"},
    {"LD_LIBRARY_PATH", "LD_*"},
    {"LD_AUDIT", "LD_*"},
    {"LD_", "LD_*"},
    {"BASH_FUNC_f%%", "BASH_FUNC_*"},
    {"PYTHONPATH", "PYTHON*"},
    {"PYTHONSTARTUP", "PYTHON*"},
    {"PYTHON", "PYTHON*"},
    {"PERL5OPT", "PERL5*"},
    {"PERL5LIB", "PERL5*"},
    {"MALLOC_CHECK_", "MALLOC_*"},
    {"BASH_ENV", "BASH_ENV"},
    {"ENV", "ENV"},
    {"PATH", "PATH"},
    {"IFS", "IFS"},
    {"PS4", "PS4"},
    {"SHELLOPTS", "SHELLOPTS"},
    {"BASHOPTS", "BASHOPTS"},
    {"CDPATH", "CDPATH"},
    {"GLOBIGNORE", "GLOBIGNORE"},
    {"PROMPT_COMMAND", "PROMPT_COMMAND"},
    {"NODE_OPTIONS", "NODE_OPTIONS"},
    {"NODE_PATH", "NODE_PATH"},
    {"PERLLIB", "PERLLIB"},
    {"RUBYOPT", "RUBYOPT"},
    {"RUBYLIB", "RUBYLIB"},
    {"JAVA_TOOL_OPTIONS", "JAVA_TOOL_OPTIONS"},
    {"_JAVA_OPTIONS", "_JAVA_OPTIONS"},
    {"JDK_JAVA_OPTIONS", "JDK_JAVA_OPTIONS"},
    {"GCONV_PATH", "GCONV_PATH"},
    {"LOCPATH", "LOCPATH"},
    {"HOSTALIASES", "HOSTALIASES"},
    {"GLIBC_TUNABLES", "GLIBC_TUNABLES"},
    {"GETCONF_DIR", "GETCONF_DIR"},
    {"LOCALDOMAIN", "LOCALDOMAIN"},
    {"NIS_PATH", "NIS_PATH"},
    {"NLSPATH", "NLSPATH"},
    {"RESOLV_HOST_CONF", "RESOLV_HOST_CONF"},
    {"RES_OPTIONS", "RES_OPTIONS"},
    {"TMPDIR", "TMPDIR"},
    {"TZDIR", "TZDIR"},
};

/* Near misses: case differs, an exact rule with more after it, a prefix
 * rule's prefix not at the start, ordinary application names. */
static const char *const allowed[] = {
    "ld_preload", "Ld_PRELOAD",   "LDPRELOAD",        "OLD_PATH",  "PATH_INFO", "MY_PATH",
    "path",       "BASH_ENV_X",   "ENVIRONMENT",      "APP_ENV",   "IFS_X",     "PS1",
    "PS4X",       "NODE_ENV",     "NODE_OPTS",        "PERL",      "PERL6LIB",  "PERLLIB_X",
    "PYTHO",      "MYPYTHONPATH", "MALLOC",           "TMP",       "TEMP",      "TZ",
    "TMPDIR_APP", "RUBYOPTS",     "JAVA_OPTIONS",     "BASH_FUNC", "API_KEY",   "DATABASE_URL",
    "HOME",       "LANG",         "GLIBC_TUNABLES_X",
};

static void
test_denied(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < PV_NELEM(denied); i++) {
		const char *rule = pv_env_name_denied(denied[i].name);
		if (rule == NULL)
			fail_msg("%s is not refused", denied[i].name);
		assert_string_equal(rule, denied[i].rule);
	}
	for (i = 0; i < PV_NELEM(allowed); i++) {
		if (pv_env_name_denied(allowed[i]) != NULL)
			fail_msg("%s is refused (%s)", allowed[i], pv_env_name_denied(allowed[i]));
	}
	assert_null(pv_env_name_denied(NULL));
	assert_null(pv_env_name_denied(""));
}

static void
test_allow(void **state)
{
	const char *allow[] = {"BASH_ENV", "LD_PRELOAD"};
	const char *rule = NULL;

	(void)state;
	assert_int_equal(pv_env_name_check("BASH_ENV", NULL, 0, &rule), PV_ERR_REFUSED_NAME);
	assert_string_equal(rule, "BASH_ENV");
	assert_int_equal(pv_env_name_check("BASH_ENV", allow, 2, &rule), PV_OK);
	assert_int_equal(pv_env_name_check("LD_PRELOAD", allow, 2, NULL), PV_OK);
	/* exact names only: allowing LD_PRELOAD allows no other LD_ name, and
	 * a pattern is just a name that matches nothing */
	assert_int_equal(pv_env_name_check("LD_AUDIT", allow, 2, &rule), PV_ERR_REFUSED_NAME);
	assert_string_equal(rule, "LD_*");
	allow[1] = "LD_*";
	assert_int_equal(pv_env_name_check("LD_AUDIT", allow, 2, NULL), PV_ERR_REFUSED_NAME);
	assert_int_equal(pv_env_name_check("LD_PRELOAD", allow, 2, NULL), PV_ERR_REFUSED_NAME);
	/* case-sensitive, like the environment */
	allow[0] = "bash_env";
	assert_int_equal(pv_env_name_check("BASH_ENV", allow, 1, NULL), PV_ERR_REFUSED_NAME);
	/* names not on the list need no allow */
	assert_int_equal(pv_env_name_check("API_KEY", NULL, 0, &rule), PV_OK);
	assert_null(rule);
	assert_int_equal(pv_env_name_allowed("X", NULL, 0), 0);
	assert_int_equal(pv_env_name_allowed(NULL, allow, 1), 0);
}

static void
add(struct pv_kvlist *l, const char *name, int kind)
{
	pv_secret *v = NULL;

	assert_int_equal(pv_secret_from("v", 1, &v), PV_OK);
	assert_int_equal(pv_kvlist_add(l, name, kind, v), PV_OK);
}

static void
test_kvlist(void **state)
{
	struct pv_kvlist l;
	const char *bad = NULL, *rule = NULL, *allow[] = {"PATH"};

	(void)state;
	assert_int_equal(pv_secmem_init(), PV_OK);
	pv_kvlist_init(&l);
	add(&l, "API_KEY", PV_ENTRY_ENV);
	/* a file entry named like a refused variable is delivered as a file */
	add(&l, "LD_PRELOAD", PV_ENTRY_FILE);
	assert_int_equal(pv_env_kvlist_check(&l, NULL, 0, &bad, &rule), PV_OK);
	assert_null(bad);
	assert_null(rule);
	add(&l, "PATH", PV_ENTRY_ENV);
	add(&l, "NODE_OPTIONS", PV_ENTRY_ENV);
	assert_int_equal(pv_env_kvlist_check(&l, NULL, 0, &bad, &rule), PV_ERR_REFUSED_NAME);
	assert_string_equal(bad, "PATH");
	assert_string_equal(rule, "PATH");
	/* allowing the first names the next */
	assert_int_equal(pv_env_kvlist_check(&l, allow, 1, &bad, &rule), PV_ERR_REFUSED_NAME);
	assert_string_equal(bad, "NODE_OPTIONS");
	assert_int_equal(pv_env_kvlist_check(&l, allow, 1, NULL, NULL), PV_ERR_REFUSED_NAME);
	pv_kvlist_free(&l);
	assert_int_equal(pv_env_kvlist_check(&l, NULL, 0, &bad, &rule), PV_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_denied),
	    cmocka_unit_test(test_allow),
	    cmocka_unit_test(test_kvlist),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
