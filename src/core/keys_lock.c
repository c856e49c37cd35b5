/*
 * The per-key change lock: PKCS#11 has no compare-and-set, so two writers
 * are kept apart with a lock object on the token (the argument is in
 * docs/architecture.md, "Concurrent key changes").
 *
 * Taking the lock: write a CKO_DATA object (application "p11vault-lock",
 * label = key name, value = a random nonce and the wall-clock time), then
 * list the lock objects of that name. Whoever sees only its own holds the
 * lock; whoever sees another removes its own and tries again after a random
 * pause. Of two writers the later lister always sees the other's object, so
 * at most one of them can hold it. A lock older than KS_LOCK_STALE_S
 * (a writer that crashed) is broken by the next writer.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "core/keys_internal.h"

static CK_BBOOL ck_true = CK_TRUE;

/* "<nonce hex> <unix seconds>" */
#define KS_LOCK_SETTLE_MS 50
#define LOCK_VALUE_MAX    64

static void
pause_ms(unsigned ms)
{
	struct timespec t = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&t, &t) != 0 && errno == EINTR)
		;
}

/* Parse a lock object's value; 0 when it is not one of ours (treated as
 * stale: a writer always writes the whole value in one C_CreateObject). */
static int
lock_parse(const uint8_t *val, size_t len, char *nonce, size_t nlen, int64_t *at)
{
	char buf[LOCK_VALUE_MAX + 1];
	char *sp, *end;
	long long t;

	if (len == 0 || len > LOCK_VALUE_MAX)
		return 0;
	memcpy(buf, val, len);
	buf[len] = '\0';
	if ((sp = strchr(buf, ' ')) == NULL || (size_t)(sp - buf) >= nlen)
		return 0;
	*sp = '\0';
	errno = 0;
	t = strtoll(sp + 1, &end, 10);
	if (errno != 0 || *end != '\0' || end == sp + 1)
		return 0;
	memcpy(nonce, buf, (size_t)(sp - buf) + 1);
	*at = t;
	return 1;
}

/*
 * Look at the lock objects of name: count those held by others (not stale),
 * destroying stale ones on the way (best effort: another writer may break
 * the same one), and say whether ours (nonce) is among them.
 */
static pv_err
lock_scan(pv_keystore *ks, const char *name, const char *mine, size_t *others, int *have_mine,
	  int64_t *oldest, CK_OBJECT_HANDLE *mine_h)
{
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_ATTRIBUTE t[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_APPLICATION, (void *)(uintptr_t)KS_LOCK_APPLICATION, strlen(KS_LOCK_APPLICATION)},
	    {CKA_LABEL, (void *)(uintptr_t)name, strlen(name)},
	};
	CK_OBJECT_HANDLE *hs = NULL;
	char nonce[LOCK_VALUE_MAX];
	uint8_t *val = NULL;
	size_t n = 0, i, len = 0;
	int64_t at = 0, now = (int64_t)time(NULL);
	int ok;
	pv_err r;

	*others = 0;
	*have_mine = 0;
	*oldest = now;
	if ((r = p11_find_all(ks->tok, t, PV_NELEM(t), &hs, &n)) != PV_OK)
		goto out;
	for (i = 0; i < n; i++) {
		if ((r = p11_handle_get_attr(ks->tok, hs[i], CKA_VALUE, &val, &len)) != PV_OK) {
			/* destroyed by its holder between the find and this read */
			if (r == PV_ERR_NOT_FOUND || r == PV_ERR_SESSION)
				continue;
			goto out;
		}
		ok = lock_parse(val, len, nonce, sizeof(nonce), &at);
		if (ok && mine != NULL && strcmp(nonce, mine) == 0) {
			*have_mine = 1;
			if (mine_h != NULL)
				*mine_h = hs[i];
		} else if (ks_lock_stale(val, len, now)) {
			ks_destroy_quietly(ks, hs[i]);
		} else {
			++*others;
			if (at < *oldest)
				*oldest = at;
		}
		free(val);
		val = NULL;
	}
	r = PV_OK;
out:
	free(val);
	free(hs);
	return r;
}

int
ks_lock_stale(const uint8_t *val, size_t len, int64_t now)
{
	char nonce[LOCK_VALUE_MAX];
	int64_t at = 0;

	return !lock_parse(val, len, nonce, sizeof(nonce), &at) || now - at > KS_LOCK_STALE_S ||
	       at - now > KS_LOCK_STALE_S;
}

pv_err
ks_lock(pv_keystore *ks, const char *name, struct ks_lock *lk)
{
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	uint8_t rnd[16];
	char value[LOCK_VALUE_MAX];
	size_t others = 0;
	int have_mine = 0;
	int64_t oldest = 0, start = (int64_t)time(NULL);
	unsigned attempt = 0, ms;
	pv_err r;

	memset(lk, 0, sizeof(*lk));
	lk->handle = CK_INVALID_HANDLE;
	if (!pv_key_name_valid(name)) {
		pv_err_set_detail("invalid key name '%.80s'", name);
		return PV_ERR_NOT_FOUND;
	}
	for (;;) {
		/* someone holds it: wait without adding our object (fewer collisions) */
		if ((r = lock_scan(ks, name, NULL, &others, &have_mine, &oldest, NULL)) != PV_OK)
			goto out;
		if (others == 0) {
			randombytes_buf(rnd, sizeof(rnd));
			sodium_bin2hex(lk->nonce, sizeof(lk->nonce), rnd, sizeof(rnd));
			snprintf(value, sizeof(value), "%s %" PRId64, lk->nonce, (int64_t)time(NULL));
			CK_ATTRIBUTE t[] = {
			    {CKA_CLASS, &cls, sizeof(cls)},
			    {CKA_TOKEN, &ck_true, sizeof(ck_true)},
			    {CKA_PRIVATE, &ck_true, sizeof(ck_true)},
			    {CKA_LABEL, (void *)(uintptr_t)name, strlen(name)},
			    {CKA_APPLICATION, (void *)(uintptr_t)KS_LOCK_APPLICATION,
			     strlen(KS_LOCK_APPLICATION)},
			    {CKA_VALUE, value, strlen(value)},
			};
			r = p11_create_object(ks->tok, t, PV_NELEM(t), &h);
			if (r == PV_ERR_PKCS11 || r == PV_ERR_TOKEN_UNAVAILABLE) {
				/* SoftHSM fails now and then while another process
				 * writes the token (and the token layer may have
				 * started the module afresh): drop what may have
				 * been made and try again like after a collision;
				 * a token really gone fails the scan */
				h = CK_INVALID_HANDLE;
				if (lock_scan(ks, name, lk->nonce, &others, &have_mine, &oldest, &h) ==
					PV_OK &&
				    have_mine)
					ks_destroy_quietly(ks, h);
				h = CK_INVALID_HANDLE;
				pv_err_clear_detail();
				r = PV_OK;
				goto wait;
			}
			if (r != PV_OK)
				goto out;
			/* written first, then read: of two writers the later reader
			 * sees the other's object */
			r = lock_scan(ks, name, lk->nonce, &others, &have_mine, &oldest, NULL);
			/* SoftHSM shows another process's new object to a find only
			 * some time after its C_CreateObject returned: look again
			 * after that settles before trusting "alone" */
			if (r == PV_OK && others == 0 && have_mine) {
				pause_ms(KS_LOCK_SETTLE_MS);
				r = lock_scan(ks, name, lk->nonce, &others, &have_mine, &oldest, NULL);
			}
			if (r == PV_OK && others == 0 && have_mine) {
				lk->handle = h;
				goto out;
			}
			ks_destroy_quietly(ks, h);
			h = CK_INVALID_HANDLE;
			if (r != PV_OK)
				goto out;
		}
wait:
		if ((int64_t)time(NULL) - start >= KS_LOCK_WAIT_S) {
			pv_err_set_detail("key '%s' is being changed by another process (its lock is %lld s "
					  "old; one older than %d s is broken); try again",
					  name, (long long)((int64_t)time(NULL) - oldest), KS_LOCK_STALE_S);
			r = PV_ERR_STATE;
			goto out;
		}
		/* random pause growing from ~10 ms to ~500 ms: two colliding
		 * writers rarely collide again */
		ms = 10u << (attempt < 6 ? attempt : 5);
		ms += randombytes_uniform(ms);
		if (ms > 500)
			ms = 250 + randombytes_uniform(250);
		attempt++;
		pause_ms(ms);
	}
out:
	return r;
}

void
ks_unlock(pv_keystore *ks, struct ks_lock *lk)
{
	if (lk->handle != CK_INVALID_HANDLE)
		ks_destroy_quietly(ks, lk->handle);
	lk->handle = CK_INVALID_HANDLE;
}

void
ks_destroy_quietly(pv_keystore *ks, CK_OBJECT_HANDLE h)
{
	pv_err r = p11_handle_destroy(ks->tok, h);

	(void)r; /* best effort: a leftover lock goes stale and is broken */
}
