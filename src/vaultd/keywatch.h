/* The key watch (keywatch.c): audit records for key service changes made
 * by vaultctl, and destruction of keys whose scheduled deletion is due. */
#ifndef VD_KEYWATCH_H
#define VD_KEYWATCH_H

#include "base/err.h"
#include "vaultd/vaultd.h"

struct vd_keywatch;

/* A thread sweeping every period seconds (the metadata refresh); log gets
 * one line for a failure (may be NULL). */
pv_err vd_keywatch_start(struct vd_daemon *d, unsigned period, void (*log)(const char *msg),
			 struct vd_keywatch **out) PV_WUR;
void vd_keywatch_stop(struct vd_keywatch *w);

#endif
