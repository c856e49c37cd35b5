/*
 * One error code for the whole project (like OpenSSH's ssherr.h).
 * Library code returns these; only main()s print them or turn them into exit
 * codes. A detail string (thread-local, never containing secrets) can carry
 * the context, e.g. "C_Login: CKR_PIN_INCORRECT".
 */
#ifndef PV_ERR_H
#define PV_ERR_H

#include "base/defs.h"

typedef enum pv_err {
	PV_OK = 0,
	PV_ERR_INTERNAL = -1,           /* a bug or an unexpected library failure */
	PV_ERR_NOMEM = -2,              /* allocation (or mlock) failed */
	PV_ERR_USAGE = -3,              /* a caller passed something meaningless */
	PV_ERR_BAD_INPUT = -4,          /* malformed input bytes */
	PV_ERR_TOO_LARGE = -5,          /* input over a size limit */
	PV_ERR_IO = -6,                 /* read/write/open failed */
	PV_ERR_NOT_FOUND = -7,          /* no such key, version or object */
	PV_ERR_EXISTS = -8,             /* a key with that name already exists */
	PV_ERR_MODULE_LOAD = -9,        /* PKCS#11 module could not be loaded */
	PV_ERR_TOKEN_NOT_FOUND = -10,   /* no token matches the URI */
	PV_ERR_TOKEN_UNAVAILABLE = -11, /* device removed, not present, gone */
	PV_ERR_PIN_INCORRECT = -12,     /* C_Login said the PIN is wrong */
	PV_ERR_PIN_LOCKED = -13,        /* the user PIN is locked */
	PV_ERR_PIN_FINAL_TRY = -14,     /* one try left: refused to spend it */
	PV_ERR_PIN_SOURCE = -15,        /* the PIN source could not be read */
	PV_ERR_NOT_LOGGED_IN = -16,     /* the token wants a login we do not have */
	PV_ERR_MECHANISM = -17,         /* the token lacks a needed mechanism */
	PV_ERR_KEY_TYPE = -18,          /* key/algorithm cannot do this operation */
	PV_ERR_NOT_HONOURED = -19,      /* token ignored a protection attribute */
	PV_ERR_PKCS11 = -20,            /* another CKR_ value (name in the detail) */
	PV_ERR_CRYPTO = -21,            /* OpenSSL/libsodium/libsecp256k1 failure */
	PV_ERR_BAD_SIGNATURE = -22,     /* verification said no */
	PV_ERR_INTEGRITY = -23,         /* stored metadata/bundle is not intact */
	PV_ERR_STATE = -24,             /* key version state forbids the operation */
	PV_ERR_SESSION = -25,           /* recoverable session/handle loss */
	PV_ERR_BUSY = -26,              /* pool exhausted / retries used up */
	PV_ERR_FORBIDDEN = -27,         /* policy denied */
	PV_ERR_PURPOSE = -28,           /* the key's purpose does not allow this use */
	PV_ERR_CHANGED = -29,           /* another writer changed the key meanwhile */
	PV_ERR_REFUSED_NAME = -30,      /* a variable name that changes how programs run */
} pv_err;

#define PV_ERR_MIN PV_ERR_REFUSED_NAME

/* Static, human-readable text for an error code. Never NULL. */
const char *pv_strerror(pv_err err);

/* Short stable identifier, e.g. "key_not_found" (for JSON output). */
const char *pv_err_id(pv_err err);

/*
 * Documented process exit codes (vaultctl(1)). Shared by every CLI so that
 * scripts can branch on them.
 */
enum pv_exit {
	PV_EXIT_OK = 0,
	PV_EXIT_INTERNAL = 1,
	PV_EXIT_USAGE = 2,
	PV_EXIT_TOKEN = 3,     /* module/token unavailable */
	PV_EXIT_AUTH = 4,      /* PIN / login */
	PV_EXIT_NOT_FOUND = 5, /* key, version, object */
	PV_EXIT_INTEGRITY = 6, /* bad signature, tampered data, not honoured */
	PV_EXIT_CONFLICT = 7,  /* exists / state forbids */
	PV_EXIT_PURPOSE = 8,   /* the key's purpose does not allow this use */
	PV_EXIT_REFUSED = 9,   /* a refused variable name (src/bundle/envname.h) */
};
int pv_err_exit_code(pv_err err);

/*
 * Context for the last error on this thread. Callers format it; it must never
 * contain a secret. pv_err_detail() returns "" when none was set.
 */
void pv_err_set_detail(const char *fmt, ...) PV_PRINTF(1, 2);
void pv_err_clear_detail(void);
const char *pv_err_detail(void);

#endif
