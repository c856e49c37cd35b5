/* The public-key cache: hits only for the same name, version and CKA_ID;
 * references are the caller's; clear and overflow start over. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "core/pubcache.h"

static EVP_PKEY *
new_key(void)
{
	EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

	assert_non_null(pk);
	return pk;
}

static void
test_hit_and_miss(void **state)
{
	static const uint8_t id1[16] = {1}, id2[16] = {2};
	struct pv_pubcache *c = NULL;
	EVP_PKEY *pk = new_key(), *got;

	(void)state;
	assert_int_equal(pv_pubcache_new(&c), PV_OK);
	assert_null(pv_pubcache_get(c, "jwt", 1, id1, sizeof(id1)));
	pv_pubcache_put(c, "jwt", 1, id1, sizeof(id1), pk);
	EVP_PKEY_free(pk); /* the cache holds its own reference */
	got = pv_pubcache_get(c, "jwt", 1, id1, sizeof(id1));
	assert_non_null(got);
	assert_int_equal(EVP_PKEY_get_bits(got), 256);
	EVP_PKEY_free(got);
	/* a key made again under the same name and version has another id */
	assert_null(pv_pubcache_get(c, "jwt", 1, id2, sizeof(id2)));
	assert_null(pv_pubcache_get(c, "jwt", 2, id1, sizeof(id1)));
	assert_null(pv_pubcache_get(c, "jwt2", 1, id1, sizeof(id1)));
	assert_null(pv_pubcache_get(c, "jwt", 1, id1, 8));
	pv_pubcache_clear(c);
	assert_null(pv_pubcache_get(c, "jwt", 1, id1, sizeof(id1)));
	pv_pubcache_free(c);
}

static void
test_full_starts_over(void **state)
{
	struct pv_pubcache *c = NULL;
	EVP_PKEY *pk = new_key(), *got;
	uint8_t id[4] = {0};
	unsigned i;

	(void)state;
	assert_int_equal(pv_pubcache_new(&c), PV_OK);
	for (i = 0; i <= PV_PUBCACHE_MAX; i++) {
		memcpy(id, &i, sizeof(id));
		pv_pubcache_put(c, "k", i, id, sizeof(id), pk);
	}
	/* the last one went into a fresh cache, the first is gone */
	got = pv_pubcache_get(c, "k", PV_PUBCACHE_MAX, id, sizeof(id));
	assert_non_null(got);
	EVP_PKEY_free(got);
	memset(id, 0, sizeof(id));
	assert_null(pv_pubcache_get(c, "k", 0, id, sizeof(id)));
	/* no id (nothing to tell versions apart): never cached */
	pv_pubcache_put(c, "noid", 1, id, 0, pk);
	assert_null(pv_pubcache_get(c, "noid", 1, id, 0));
	pv_pubcache_free(c);
	EVP_PKEY_free(pk);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hit_and_miss),
	    cmocka_unit_test(test_full_starts_over),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
