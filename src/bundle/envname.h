/*
 * Environment variable names that change how programs run (a dynamic
 * loader, a shell or an interpreter reads them as code or as where to find
 * code). A bundle value under such a name would run as the deploying user,
 * so these names are refused wherever a bundle's values become variables
 * (vaultctl bundle seal/set, exec, unwrap --format env|dotenv; vaultd's
 * environment) unless an operator allows the exact name. The list and the
 * reasons: docs/bundle-format.md §10. Names compare case-sensitively, as the
 * environment does.
 */
#ifndef PV_BUNDLE_ENVNAME_H
#define PV_BUNDLE_ENVNAME_H

#include <stddef.h>

#include "base/err.h"
#include "bundle/kv.h"

/*
 * The deny-list rule that name matches: the name itself for an exact rule
 * ("BASH_ENV"), the prefix with a star for a prefix rule ("LD_*"); NULL
 * when the name is not on the list (and for NULL).
 */
const char *pv_env_name_denied(const char *name);

/* 1 when name is exactly one of allow[0..nallow) (no patterns), else 0. */
int pv_env_name_allowed(const char *name, const char *const *allow, size_t nallow);

/*
 * PV_OK when name is not on the deny-list or is allowed; else
 * PV_ERR_REFUSED_NAME, *rule (may be NULL) set to the matching rule. No
 * detail is set: the caller names the variable and its own way to allow it.
 */
pv_err pv_env_name_check(const char *name, const char *const *allow, size_t nallow, const char **rule) PV_WUR;

/*
 * pv_env_name_check for every PV_ENTRY_ENV entry of l (file entries are
 * delivered as files and are not checked); on refusal *bad (may be NULL) is
 * the first refused entry's name, *rule its rule.
 */
pv_err pv_env_kvlist_check(const struct pv_kvlist *l, const char *const *allow, size_t nallow,
			   const char **bad, const char **rule) PV_WUR;

#endif
