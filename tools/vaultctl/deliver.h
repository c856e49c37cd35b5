/*
 * How vaultctl hands decrypted secrets over: an atomically replaced file
 * (--out), one file per entry (--out-dir), or the environment of a program
 * that vaultctl replaces itself with (exec).
 */
#ifndef VAULTCTL_DELIVER_H
#define VAULTCTL_DELIVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/err.h"
#include "base/secmem.h"
#include "bundle/kv.h"

/*
 * Write data to path with exactly this mode, all or nothing: a temporary
 * file with a random name in the same directory (O_EXCL, O_NOFOLLOW), synced,
 * renamed over path, then the directory synced. On failure the temporary
 * file is removed and an existing path is left untouched.
 */
pv_err deliver_file_atomic(const char *path, const uint8_t *data, size_t len, mode_t mode) PV_WUR;

/*
 * Write every entry of l as DIR/NAME, mode 0400, each atomically (replacing
 * an older file of that name). DIR must exist, be a directory owned by the
 * effective user and not be writable by group or others (PV_ERR_USAGE
 * saying which). *not_ram (may be NULL) is set to 1 when DIR is not on
 * tmpfs/ramfs, so that the caller can warn that secrets reach a disk.
 */
pv_err deliver_out_dir(const char *dir, const struct pv_kvlist *l, int *not_ram) PV_WUR;

struct deliver_exec_opts {
	int override;          /* bundle values win over variables already set */
	int pristine;          /* the child gets only the bundle's variables */
	const char *files_dir; /* where `file` entries go (CREDENTIALS_DIRECTORY) */
};

/* The child environment, ready for execve. */
struct deliver_plan {
	pv_secret *strings; /* every "NAME=value" string, NUL-terminated, guarded */
	char **envp;        /* NULL-terminated, pointing into strings */
	size_t nenv;
	unsigned loaded;         /* env entries set from the bundle + file entries written */
	unsigned kept;           /* env entries not set: already in the environment, no override */
	const char **kept_names; /* their names (pointing into the list), for the stderr report */
	unsigned files;          /* file entries written to files_dir */
	int files_not_ram;       /* files_dir is not tmpfs/ramfs */
};

/*
 * Work out the child environment: environ (nothing with pristine), plus
 * each PV_ENTRY_ENV entry of l unless that variable is already set and
 * override is off (then the existing value is kept: the emergency-override
 * rule, counted in kept). PV_ENTRY_FILE entries are written to files_dir
 * now (deliver_out_dir) and CREDENTIALS_DIRECTORY is set to its absolute
 * path; with file entries and no files_dir: PV_ERR_USAGE. On success the
 * caller owns *plan (deliver_plan_free or deliver_exec_planned).
 */
pv_err deliver_exec_plan(const struct deliver_exec_opts *o, const struct pv_kvlist *l,
			 struct deliver_plan *plan) PV_WUR;
void deliver_plan_free(struct deliver_plan *plan);

/*
 * Replace this process with argv[0] (PATH searched) in the plan's
 * environment: same PID, so signals reach the program. Returns only on
 * failure, with the plan freed: PV_ERR_NOT_FOUND when there is no such
 * program, PV_ERR_IO otherwise.
 */
pv_err deliver_exec_planned(struct deliver_plan *plan, char *const argv[]) PV_WUR;

/* deliver_exec_plan then deliver_exec_planned; *loaded, *kept (may be NULL)
 * are filled in before the exec. Returns only on failure. */
pv_err deliver_exec(const struct deliver_exec_opts *o, const struct pv_kvlist *l, char *const argv[],
		    unsigned *loaded, unsigned *kept) PV_WUR;

#endif
