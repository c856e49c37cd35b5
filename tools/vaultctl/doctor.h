/* vaultctl doctor's checks that live in files of their own. */
#ifndef VAULTCTL_DOCTOR_H
#define VAULTCTL_DOCTOR_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "vaultctl.h"

/* Bundle recipients whose key version is retired, destroyed or of a
 * disabled key (doctor_bundles.c): printed, and in doc's
 * "bundle_recipients"; nothing is changed. */
void doctor_check_bundles(struct vctl *c, cJSON *doc, const char *const *paths, size_t npaths);

#endif
