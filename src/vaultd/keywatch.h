/* The key watch (keywatch.c): audit records for key service changes made
 * by vaultctl, destruction of keys whose scheduled deletion is due, and the
 * due steps of keys' rotation schedules (docs/jwt.md "Scheduled rotation in
 * vaultd"). */
#ifndef VD_KEYWATCH_H
#define VD_KEYWATCH_H

#include "base/err.h"
#include "vaultd/vaultd.h"

struct vd_keywatch;

/* A thread sweeping at start and then every period seconds (the metadata
 * refresh); log gets one line for a failure and for each schedule step
 * done (may be NULL). */
pv_err vd_keywatch_start(struct vd_daemon *d, unsigned period, void (*log)(const char *msg),
			 struct vd_keywatch **out) PV_WUR;
void vd_keywatch_stop(struct vd_keywatch *w);

#endif
