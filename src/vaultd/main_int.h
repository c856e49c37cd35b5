/*
 * Inside the vaultd program: what main.c (options, boot), signals.c
 * (reload, drain) and dev.c (--dev) share. Nothing else includes this.
 */
#ifndef PV_VAULTD_MAIN_INT_H
#define PV_VAULTD_MAIN_INT_H

#include <signal.h>
#include <stddef.h>

#include "base/err.h"
#include "base/secmem.h"
#include "config/vaultd_config.h"
#include "vaultd/keeper.h"
#include "vaultd/server.h"
#include "vaultd/vaultd.h"

/* The audit checkpoint key that --dev uses (and makes when missing). */
#define DEV_AUDIT_KEY "audit-hmac"

/* ---- main.c: messages on stderr ---- */

void say(const char *fmt, ...) PV_PRINTF(1, 2);

/* "what: reason" with the error's detail when there is one. */
void say_err(const char *what, pv_err e);

/* ---- signals.c ---- */

/* Block the signals main() waits for, before any thread is started. */
void vd_signals_block(sigset_t *set);

/* What a reload cannot change, as one comparable string. */
void vd_fixed_settings(const struct pv_config *c, char *buf, size_t n);

/* Wait for the blocked signals of set: SIGHUP reloads (and says when the
 * settings fixed at boot changed); returns at SIGTERM or SIGINT. */
void vd_wait_for_stop(struct vd_daemon *d, const sigset_t *set, const char *boot_fixed);

/* Stop accepting, let requests in flight finish (bounded), stop srv. */
/* 1 when requests were still running after the drain window (the caller
 * exits without joining their threads). */
int vd_drain(struct vd_daemon *d, struct vd_server *srv);

/* ---- dev.c: --dev, a configuration made here, validated like a file ---- */

/* The dev directory, created owner-only if missing, as an absolute path. */
pv_err vd_dev_dir(const char *given, char **out) PV_WUR;

/* A fresh admin bearer token (pvt_ + 32 random bytes, base64url) in
 * guarded memory, and its SHA-256 as config.md's token_sha256. */
pv_err vd_dev_token(pv_secret **out, char hash_b64[64]) PV_WUR;

/* The dev configuration: the token from the environment as for vaultctl,
 * the socket and audit log in dir, one admin client with token_hash. */
pv_err vd_dev_config(const char *dir, const char *token_hash, struct pv_config **out) PV_WUR;

/* In dev mode the audit log's checkpoint key is made when missing. */
pv_err vd_dev_audit_key(struct vd_keeper *k) PV_WUR;

#endif
