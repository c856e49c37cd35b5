/*
 * libpvfault: a PKCS#11 fault-injection shim for tests.
 *
 * Forwards every call to the module named by $PV_FAULT_MODULE and injects
 * the faults described by $PV_FAULT_SPEC (or pv_fault_set()):
 *   "C_Sign:CKR_SESSION_HANDLE_INVALID:2,C_Login:CKR_DEVICE_ERROR"
 * = the next 2 C_Sign calls fail with that code, the next C_Login too
 * (count defaults to 1; "*" = always; a fourth field lets that many calls
 * through first: "C_CreateObject:CKR_DEVICE_MEMORY:1:1" fails the second). Faults are made real where it
 * matters: the session is closed before SESSION_HANDLE_INVALID, the user is
 * logged out before USER_NOT_LOGGED_IN, all sessions are closed before
 * DEVICE_REMOVED/TOKEN_NOT_PRESENT, the module is finalized before
 * CRYPTOKI_NOT_INITIALIZED. $PV_FAULT_TOKEN_FLAGS (read on every call) is
 * OR-ed into C_GetTokenInfo's flags and $PV_FAULT_MAX_SESSIONS replaces its
 * ulMaxSessionCount. $PV_FAULT_ATTR (or pv_fault_set_attr()), e.g.
 *   "CKA_SENSITIVE=FALSE,CKA_EXTRACTABLE=TRUE"
 * rewrites those CK_BBOOL attributes in every C_GetAttributeValue answer
 * (a token that silently ignores the protection template; the real object is
 * unchanged). pv_fault_count("C_Login") tells tests
 * how often a function was called. $PV_FAULT_TRACE traces every wrapped call
 * to stderr. $PV_FAULT_SIGN_DELAY_MS delays every C_Sign that long.
 *
 * A token outage: while pv_fault_set_away(1) is in force, or while the file
 * named by $PV_FAULT_AWAY_FILE exists (checked on every call, so a shell
 * test can pull the token from a running vaultd), C_GetSlotList lists no
 * token, slot calls fail with CKR_SLOT_ID_INVALID and session calls with
 * CKR_DEVICE_REMOVED (all real sessions closed); C_Initialize and
 * C_Finalize still work, as with a p11-kit client whose server is down.
 */
#include "config.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include "base/defs.h"

#define MAX_RULES 16
#define MAX_NAMES 96
#define MAX_ATTRS 8

struct rule {
	char fn[40];
	CK_RV rv;
	long left; /* -1 = forever */
	long skip; /* calls let through before the first fault */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct rule rules[MAX_RULES];
static int nrules;
static struct {
	char fn[40];
	unsigned long n;
} counts[MAX_NAMES];
static int ncounts;
static struct {
	CK_ATTRIBUTE_TYPE type;
	CK_BBOOL value;
} attrs[MAX_ATTRS];
static int nattrs;
static CK_FUNCTION_LIST *real;
static int away_flag;
static CK_FUNCTION_LIST shim;

/* Exported for tests (found with dlsym). */
int pv_fault_set(const char *spec);
int pv_fault_set_attr(const char *spec);
unsigned long pv_fault_count(const char *fn);
void pv_fault_reset_counts(void);
void pv_fault_set_away(int on);
CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list);

static const struct {
	const char *name;
	CK_RV rv;
} codes[] = {
    {"CKR_SESSION_HANDLE_INVALID", CKR_SESSION_HANDLE_INVALID},
    {"CKR_SESSION_CLOSED", CKR_SESSION_CLOSED},
    {"CKR_OBJECT_HANDLE_INVALID", CKR_OBJECT_HANDLE_INVALID},
    {"CKR_KEY_HANDLE_INVALID", CKR_KEY_HANDLE_INVALID},
    {"CKR_USER_NOT_LOGGED_IN", CKR_USER_NOT_LOGGED_IN},
    {"CKR_DEVICE_REMOVED", CKR_DEVICE_REMOVED},
    {"CKR_TOKEN_NOT_PRESENT", CKR_TOKEN_NOT_PRESENT},
    {"CKR_DEVICE_ERROR", CKR_DEVICE_ERROR},
    {"CKR_DEVICE_MEMORY", CKR_DEVICE_MEMORY},
    {"CKR_CRYPTOKI_NOT_INITIALIZED", CKR_CRYPTOKI_NOT_INITIALIZED},
    {"CKR_SLOT_ID_INVALID", CKR_SLOT_ID_INVALID},
    {"CKR_GENERAL_ERROR", CKR_GENERAL_ERROR},
    {"CKR_FUNCTION_FAILED", CKR_FUNCTION_FAILED},
    {"CKR_PIN_INCORRECT", CKR_PIN_INCORRECT},
    {"CKR_PIN_LOCKED", CKR_PIN_LOCKED},
    {"CKR_SESSION_COUNT", CKR_SESSION_COUNT},
    {"CKR_HOST_MEMORY", CKR_HOST_MEMORY},
};

static int
parse_code(const char *s, CK_RV *rv)
{
	char *end;

	for (size_t i = 0; i < PV_NELEM(codes); i++)
		if (strcmp(codes[i].name, s) == 0) {
			*rv = codes[i].rv;
			return 0;
		}
	*rv = strtoul(s, &end, 0);
	return (*s && *end == '\0') ? 0 : -1;
}

/* Caller holds mu. */
static int
parse_spec(const char *spec)
{
	char buf[1024], *save = NULL, *tok;

	nrules = 0;
	if (spec == NULL || *spec == '\0')
		return 0;
	if (strlen(spec) >= sizeof(buf))
		return -1;
	memcpy(buf, spec, strlen(spec) + 1); /* length checked above */
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *code = strchr(tok, ':'), *cnt, *skip = NULL;
		struct rule *r;

		if (code == NULL || nrules == MAX_RULES)
			return -1;
		*code++ = '\0';
		if ((cnt = strchr(code, ':')) != NULL)
			*cnt++ = '\0';
		if (cnt != NULL && (skip = strchr(cnt, ':')) != NULL)
			*skip++ = '\0';
		r = &rules[nrules];
		if (strlen(tok) >= sizeof(r->fn) || parse_code(code, &r->rv) != 0)
			return -1;
		memcpy(r->fn, tok, strlen(tok) + 1); /* length checked above */
		r->left = cnt == NULL ? 1 : strcmp(cnt, "*") == 0 ? -1 : strtol(cnt, NULL, 10);
		r->skip = skip == NULL ? 0 : strtol(skip, NULL, 10);
		nrules++;
	}
	return 0;
}

int
pv_fault_set(const char *spec)
{
	int ret;

	pthread_mutex_lock(&mu);
	ret = parse_spec(spec);
	pthread_mutex_unlock(&mu);
	return ret;
}

static const struct {
	const char *name;
	CK_ATTRIBUTE_TYPE type;
} bool_attrs[] = {
    {"CKA_SENSITIVE", CKA_SENSITIVE},
    {"CKA_EXTRACTABLE", CKA_EXTRACTABLE},
    {"CKA_PRIVATE", CKA_PRIVATE},
    {"CKA_TOKEN", CKA_TOKEN},
    {"CKA_ALWAYS_SENSITIVE", CKA_ALWAYS_SENSITIVE},
    {"CKA_NEVER_EXTRACTABLE", CKA_NEVER_EXTRACTABLE},
    /* usages: a token that ignores what a key may be used for */
    {"CKA_SIGN", CKA_SIGN},
    {"CKA_VERIFY", CKA_VERIFY},
    {"CKA_ENCRYPT", CKA_ENCRYPT},
    {"CKA_DECRYPT", CKA_DECRYPT},
    {"CKA_WRAP", CKA_WRAP},
    {"CKA_UNWRAP", CKA_UNWRAP},
    {"CKA_DERIVE", CKA_DERIVE},
};

/* Caller holds mu. All or nothing: a bad spec leaves no overrides. */
static int
parse_attrs(const char *spec)
{
	char buf[512], *save = NULL, *tok;
	size_t i;

	nattrs = 0;
	if (spec == NULL || *spec == '\0')
		return 0;
	if (strlen(spec) >= sizeof(buf))
		return -1;
	memcpy(buf, spec, strlen(spec) + 1); /* length checked above */
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *val = strchr(tok, '=');

		if (val == NULL || nattrs == MAX_ATTRS)
			goto bad;
		*val++ = '\0';
		for (i = 0; i < PV_NELEM(bool_attrs); i++)
			if (strcmp(bool_attrs[i].name, tok) == 0)
				break;
		if (i == PV_NELEM(bool_attrs) || (strcmp(val, "TRUE") != 0 && strcmp(val, "FALSE") != 0))
			goto bad;
		attrs[nattrs].type = bool_attrs[i].type;
		attrs[nattrs].value = strcmp(val, "TRUE") == 0 ? CK_TRUE : CK_FALSE;
		nattrs++;
	}
	return 0;
bad:
	nattrs = 0;
	return -1;
}

int
pv_fault_set_attr(const char *spec)
{
	int ret;

	pthread_mutex_lock(&mu);
	ret = parse_attrs(spec);
	pthread_mutex_unlock(&mu);
	return ret;
}

/* Rewrite the overridden attributes the real module filled in. */
static void
override_attrs(CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
	pthread_mutex_lock(&mu);
	for (CK_ULONG i = 0; i < n; i++) {
		/* only values actually returned: not size queries, not
		 * CK_UNAVAILABLE_INFORMATION */
		if (t[i].pValue == NULL || t[i].ulValueLen != sizeof(CK_BBOOL))
			continue;
		for (int j = 0; j < nattrs; j++)
			if (attrs[j].type == t[i].type)
				*(CK_BBOOL *)t[i].pValue = attrs[j].value;
	}
	pthread_mutex_unlock(&mu);
}

unsigned long
pv_fault_count(const char *fn)
{
	unsigned long n = 0;

	pthread_mutex_lock(&mu);
	for (int i = 0; i < ncounts; i++)
		if (strcmp(counts[i].fn, fn) == 0)
			n = counts[i].n;
	pthread_mutex_unlock(&mu);
	return n;
}

void
pv_fault_reset_counts(void)
{
	pthread_mutex_lock(&mu);
	ncounts = 0;
	pthread_mutex_unlock(&mu);
}

void
pv_fault_set_away(int on)
{
	pthread_mutex_lock(&mu);
	away_flag = on;
	pthread_mutex_unlock(&mu);
}

/* Caller holds mu. */
static int
away_locked(void)
{
	const char *f = getenv("PV_FAULT_AWAY_FILE");

	return away_flag || (f != NULL && *f != '\0' && access(f, F_OK) == 0);
}

static int
is_slot_call(const char *fn)
{
	return strcmp(fn, "C_OpenSession") == 0 || strcmp(fn, "C_GetTokenInfo") == 0 ||
	       strcmp(fn, "C_GetMechanismList") == 0 || strcmp(fn, "C_GetSlotInfo") == 0;
}

/* Count the call; return 1 and the code when a rule fires. */
static int
fires(const char *fn, CK_RV *rv)
{
	int hit = 0, i;

	pthread_mutex_lock(&mu);
	for (i = 0; i < ncounts && strcmp(counts[i].fn, fn) != 0; i++) {
	}
	if (i == ncounts && ncounts < MAX_NAMES) {
		snprintf(counts[ncounts].fn, sizeof(counts[0].fn), "%s", fn);
		counts[ncounts++].n = 0;
	}
	if (i < ncounts)
		counts[i].n++;
	for (i = 0; i < nrules; i++) {
		if (strcmp(rules[i].fn, fn) != 0 || rules[i].left == 0)
			continue;
		if (rules[i].skip > 0) {
			rules[i].skip--;
			continue;
		}
		if (rules[i].left > 0)
			rules[i].left--;
		*rv = rules[i].rv;
		hit = 1;
		break;
	}
	if (!hit && strcmp(fn, "C_Initialize") != 0 && strcmp(fn, "C_Finalize") != 0 && away_locked()) {
		*rv = is_slot_call(fn) ? CKR_SLOT_ID_INVALID : CKR_DEVICE_REMOVED;
		hit = 1;
	}
	pthread_mutex_unlock(&mu);
	return hit;
}

/* Make the injected failure true in the real module. */
static CK_RV
make_real(CK_SESSION_HANDLE s, CK_RV rv)
{
	CK_SESSION_INFO si;

	switch (rv) {
	case CKR_SESSION_HANDLE_INVALID:
	case CKR_SESSION_CLOSED:
		(void)real->C_CloseSession(s);
		break;
	case CKR_USER_NOT_LOGGED_IN:
		(void)real->C_Logout(s);
		break;
	case CKR_DEVICE_REMOVED:
	case CKR_TOKEN_NOT_PRESENT:
		if (real->C_GetSessionInfo(s, &si) == CKR_OK)
			(void)real->C_CloseAllSessions(si.slotID);
		break;
	case CKR_CRYPTOKI_NOT_INITIALIZED:
		(void)real->C_Finalize(NULL);
		break;
	default:
		break;
	}
	return rv;
}

#define FAULT(fn, s)                                                                                         \
	do {                                                                                                 \
		CK_RV frv_;                                                                                  \
		if (fires(#fn, &frv_))                                                                       \
			return make_real((s), frv_);                                                         \
	} while (0)

/* Session-first functions: one wrapper each, same shape. */
#define SESSION_FUNCS(X)                                                                                     \
	X(C_CloseSession, (CK_SESSION_HANDLE s), (s))                                                        \
	X(C_GetSessionInfo, (CK_SESSION_HANDLE s, CK_SESSION_INFO_PTR i), (s, i))                            \
	X(C_Login, (CK_SESSION_HANDLE s, CK_USER_TYPE u, CK_UTF8CHAR_PTR p, CK_ULONG l), (s, u, p, l))       \
	X(C_Logout, (CK_SESSION_HANDLE s), (s))                                                              \
	X(C_InitPIN, (CK_SESSION_HANDLE s, CK_UTF8CHAR_PTR p, CK_ULONG l), (s, p, l))                        \
	X(C_CreateObject, (CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR o),     \
	  (s, t, n, o))                                                                                      \
	X(C_DestroyObject, (CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o), (s, o))                                \
	X(C_SetAttributeValue, (CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t, CK_ULONG n),    \
	  (s, o, t, n))                                                                                      \
	X(C_FindObjectsInit, (CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR t, CK_ULONG n), (s, t, n))               \
	X(C_FindObjects, (CK_SESSION_HANDLE s, CK_OBJECT_HANDLE_PTR o, CK_ULONG m, CK_ULONG_PTR n),          \
	  (s, o, m, n))                                                                                      \
	X(C_FindObjectsFinal, (CK_SESSION_HANDLE s), (s))                                                    \
	X(C_EncryptInit, (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k), (s, m, k))           \
	X(C_Encrypt, (CK_SESSION_HANDLE s, CK_BYTE_PTR d, CK_ULONG dl, CK_BYTE_PTR o, CK_ULONG_PTR ol),      \
	  (s, d, dl, o, ol))                                                                                 \
	X(C_DecryptInit, (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k), (s, m, k))           \
	X(C_Decrypt, (CK_SESSION_HANDLE s, CK_BYTE_PTR d, CK_ULONG dl, CK_BYTE_PTR o, CK_ULONG_PTR ol),      \
	  (s, d, dl, o, ol))                                                                                 \
	X(C_SignInit, (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k), (s, m, k))              \
	X(C_Sign, (CK_SESSION_HANDLE s, CK_BYTE_PTR d, CK_ULONG dl, CK_BYTE_PTR o, CK_ULONG_PTR ol),         \
	  (s, d, dl, o, ol))                                                                                 \
	X(C_VerifyInit, (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k), (s, m, k))            \
	X(C_Verify, (CK_SESSION_HANDLE s, CK_BYTE_PTR d, CK_ULONG dl, CK_BYTE_PTR g, CK_ULONG gl),           \
	  (s, d, dl, g, gl))                                                                                 \
	X(C_GenerateKey,                                                                                     \
	  (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR k), \
	  (s, m, t, n, k))                                                                                   \
	X(C_GenerateKeyPair,                                                                                 \
	  (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR pt, CK_ULONG pn, CK_ATTRIBUTE_PTR vt,   \
	   CK_ULONG vn, CK_OBJECT_HANDLE_PTR pk, CK_OBJECT_HANDLE_PTR vk),                                   \
	  (s, m, pt, pn, vt, vn, pk, vk))                                                                    \
	X(C_WrapKey,                                                                                         \
	  (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE w, CK_OBJECT_HANDLE k, CK_BYTE_PTR o,   \
	   CK_ULONG_PTR ol),                                                                                 \
	  (s, m, w, k, o, ol))                                                                               \
	X(C_UnwrapKey,                                                                                       \
	  (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE u, CK_BYTE_PTR w, CK_ULONG wl,          \
	   CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR k),                                          \
	  (s, m, u, w, wl, t, n, k))                                                                         \
	X(C_DeriveKey,                                                                                       \
	  (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE b, CK_ATTRIBUTE_PTR t, CK_ULONG n,      \
	   CK_OBJECT_HANDLE_PTR k),                                                                          \
	  (s, m, b, t, n, k))                                                                                \
	X(C_GenerateRandom, (CK_SESSION_HANDLE s, CK_BYTE_PTR o, CK_ULONG n), (s, o, n))

static void
trace(const char *fn, CK_SESSION_HANDLE s, CK_RV rv, int injected)
{
	static int on = -1;

	if (on < 0)
		on = getenv("PV_FAULT_TRACE") != NULL;
	if (on)
		fprintf(stderr, "pvfault: %s(session %lu) = 0x%lx%s\n", fn, s, rv,
			injected ? " (injected)" : "");
}

/*
 * Functions that end an active operation whatever they return: let the real
 * call happen first (as if only the answer was lost), so that the real
 * module is in the state a real failure would leave it in.
 */
static int
ends_operation(const char *fn)
{
	return strcmp(fn, "C_Sign") == 0 || strcmp(fn, "C_Verify") == 0 || strcmp(fn, "C_Encrypt") == 0 ||
	       strcmp(fn, "C_Decrypt") == 0;
}

/* $PV_FAULT_SIGN_DELAY_MS (read on every call): C_Sign takes that much
 * longer, without using the CPU (a slow token, for tests of concurrency). */
static void
sign_delay(const char *fn)
{
	const char *ms = getenv("PV_FAULT_SIGN_DELAY_MS");

	if (ms != NULL && strcmp(fn, "C_Sign") == 0)
		usleep((useconds_t)strtoul(ms, NULL, 10) * 1000u);
}

#define WRAP(fn, params, args)                                                                               \
	static CK_RV w_##fn params                                                                           \
	{                                                                                                    \
		CK_RV frv_, rrv_;                                                                            \
		sign_delay(#fn);                                                                             \
		if (fires(#fn, &frv_)) {                                                                     \
			if (ends_operation(#fn))                                                             \
				(void)real->fn args;                                                         \
			trace(#fn, s, frv_, 1);                                                              \
			return make_real(s, frv_);                                                           \
		}                                                                                            \
		rrv_ = real->fn args;                                                                        \
		trace(#fn, s, rrv_, 0);                                                                      \
		return rrv_;                                                                                 \
	}
SESSION_FUNCS(WRAP)

static CK_RV
w_C_GetAttributeValue(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
	CK_RV frv, rv;

	if (fires("C_GetAttributeValue", &frv)) {
		trace("C_GetAttributeValue", s, frv, 1);
		return make_real(s, frv);
	}
	rv = real->C_GetAttributeValue(s, o, t, n);
	trace("C_GetAttributeValue", s, rv, 0);
	/* these answer every attribute they can (PKCS#11 2.40, C_GetAttributeValue) */
	if (rv == CKR_OK || rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID ||
	    rv == CKR_BUFFER_TOO_SMALL)
		override_attrs(t, n);
	return rv;
}

static CK_RV
w_C_OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR app, CK_NOTIFY notify, CK_SESSION_HANDLE_PTR s)
{
	FAULT(C_OpenSession, CK_INVALID_HANDLE);
	return real->C_OpenSession(slot, flags, app, notify, s);
}

static CK_RV
w_C_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
	const char *extra = getenv("PV_FAULT_TOKEN_FLAGS");
	CK_RV rv;

	FAULT(C_GetTokenInfo, CK_INVALID_HANDLE);
	rv = real->C_GetTokenInfo(slot, info);
	const char *max = getenv("PV_FAULT_MAX_SESSIONS");

	if (rv == CKR_OK && extra && *extra)
		info->flags |= strtoul(extra, NULL, 0);
	if (rv == CKR_OK && max && *max)
		info->ulMaxSessionCount = strtoul(max, NULL, 0);
	return rv;
}

/*
 * PV_FAULT_HIDE_MECHS="0x1057,0x1041": a token without those mechanisms
 * (for `doctor`'s plain-words report). Numbers, as strtoul reads them.
 */
static int
mech_hidden(CK_MECHANISM_TYPE m)
{
	const char *list = getenv("PV_FAULT_HIDE_MECHS");
	char *end = NULL;

	while (list != NULL && *list != '\0') {
		if (strtoul(list, &end, 0) == m)
			return 1;
		if (end == list)
			break;
		list = *end == ',' ? end + 1 : end;
	}
	return 0;
}

static CK_RV
w_C_GetMechanismList(CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count)
{
	CK_ULONG i, kept = 0;
	CK_RV rv;

	FAULT(C_GetMechanismList, CK_INVALID_HANDLE);
	rv = real->C_GetMechanismList(slot, list, count);
	if (rv != CKR_OK || list == NULL)
		return rv; /* a size query may over-count: allowed by the spec */
	for (i = 0; i < *count; i++) {
		if (!mech_hidden(list[i]))
			list[kept++] = list[i];
	}
	*count = kept;
	return rv;
}

static CK_RV
w_C_GetSlotList(CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count)
{
	int away;

	pthread_mutex_lock(&mu);
	away = away_locked();
	pthread_mutex_unlock(&mu);
	if (away && present) {
		*count = 0;
		return CKR_OK;
	}
	return real->C_GetSlotList(present, list, count);
}

static CK_RV
w_C_GetSlotInfo(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info)
{
	FAULT(C_GetSlotInfo, CK_INVALID_HANDLE);
	return real->C_GetSlotInfo(slot, info);
}

static CK_RV
w_C_Initialize(CK_VOID_PTR args)
{
	FAULT(C_Initialize, CK_INVALID_HANDLE);
	return real->C_Initialize(args);
}

static CK_RV
w_C_Finalize(CK_VOID_PTR r)
{
	FAULT(C_Finalize, CK_INVALID_HANDLE);
	return real->C_Finalize(r);
}

static CK_RV
load_real(void)
{
	CK_RV (*get)(CK_FUNCTION_LIST_PTR_PTR);
	const char *path = getenv("PV_FAULT_MODULE");
	void *dl;
	CK_RV rv;

	if (path == NULL || (dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL)
		return CKR_GENERAL_ERROR;
	*(void **)(&get) = dlsym(dl, "C_GetFunctionList");
	if (get == NULL)
		return CKR_GENERAL_ERROR;
	if ((rv = get(&real)) != CKR_OK)
		return rv;
	shim = *real;
	shim.version.major = 2;
	shim.version.minor = 40;
#define SET(fn, params, args) shim.fn = w_##fn;
	SESSION_FUNCS(SET)
	shim.C_GetAttributeValue = w_C_GetAttributeValue;
	shim.C_OpenSession = w_C_OpenSession;
	shim.C_GetTokenInfo = w_C_GetTokenInfo;
	shim.C_GetMechanismList = w_C_GetMechanismList;
	shim.C_GetSlotList = w_C_GetSlotList;
	shim.C_GetSlotInfo = w_C_GetSlotInfo;
	shim.C_Initialize = w_C_Initialize;
	shim.C_Finalize = w_C_Finalize;
	shim.C_GetFunctionList = C_GetFunctionList;
	pthread_mutex_lock(&mu);
	if (parse_spec(getenv("PV_FAULT_SPEC")) != 0 || parse_attrs(getenv("PV_FAULT_ATTR")) != 0)
		rv = CKR_ARGUMENTS_BAD;
	pthread_mutex_unlock(&mu);
	return rv;
}

static CK_RV load_rv = CKR_GENERAL_ERROR;

static void
load_once(void)
{
	load_rv = load_real();
}

CK_RV
C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	if (list == NULL)
		return CKR_ARGUMENTS_BAD;
	pthread_once(&once, load_once);
	if (load_rv != CKR_OK)
		return load_rv;
	*list = &shim;
	return CKR_OK;
}
