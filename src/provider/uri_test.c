/* p11v_uri_parse: the key references the provider takes and refuses. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "provider/provider.h"

static void
test_p11vault_name(void **state)
{
	struct p11v_uri u;
	const char *why = "x";

	(void)state;
	assert_int_equal(p11v_uri_parse("p11vault:web-tls_1", &u, &why), 1);
	assert_null(why);
	assert_int_equal(u.is_pkcs11, 0);
	assert_string_equal(u.name, "web-tls_1");
	assert_int_equal(u.version, 0);
	assert_int_equal(u.want_private, 1);
	assert_int_equal(u.want_cert, 0);
}

static void
test_p11vault_version(void **state)
{
	struct p11v_uri u;

	(void)state;
	assert_int_equal(p11v_uri_parse("p11vault:k;version=7", &u, NULL), 1);
	assert_string_equal(u.name, "k");
	assert_int_equal(u.version, 7);
	assert_int_equal(p11v_uri_parse("p11vault:k;version=1000", &u, NULL), 1);
	assert_int_equal(u.version, 1000);
}

static void
test_p11vault_refused(void **state)
{
	static const char *const bad[] = {
	    "p11vault:",
	    "p11vault:;version=1",
	    "p11vault:-k",
	    "p11vault:k k",
	    "p11vault:k/../x",
	    "p11vault:k;version=0",
	    "p11vault:k;version=01",
	    "p11vault:k;version=1001",
	    "p11vault:k;version=4294967297",
	    "p11vault:k;version=",
	    "p11vault:k;version=1;version=2",
	    "p11vault:k;version=-1",
	    "p11vault:k;pin-value=1234",
	    "p11vault:k?pin-source=file:/x",
	    "p11vault:k;",
	    "p11vault:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    "P11VAULT:k",
	    "file:/etc/passwd",
	    "",
	};
	struct p11v_uri u;
	const char *why;

	(void)state;
	for (size_t i = 0; i < PV_NELEM(bad); i++) {
		why = NULL;
		if (p11v_uri_parse(bad[i], &u, &why) != 0)
			fail_msg("accepted '%s'", bad[i]);
		assert_non_null(why);
		assert_string_equal(u.name, ""); /* nothing half-filled */
	}
	assert_int_equal(p11v_uri_parse(NULL, &u, &why), 0);
	/* 64 characters is the longest name */
	assert_int_equal(
	    p11v_uri_parse("p11vault:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", &u,
			   &why),
	    1);
}

static void
test_pkcs11_object(void **state)
{
	struct p11v_uri u;
	const char *why = NULL;

	(void)state;
	assert_int_equal(
	    p11v_uri_parse("pkcs11:token=dev;object=web%20key.v1;id=%01%a2;type=private", &u, &why), 1);
	assert_int_equal(u.is_pkcs11, 1);
	assert_string_equal(u.name, "web key.v1");
	assert_int_equal(u.id_len, 2);
	assert_int_equal(u.id[0], 0x01);
	assert_int_equal(u.id[1], 0xa2);
	assert_string_equal(u.token, "dev");
	assert_int_equal(u.want_private, 1);
	assert_int_equal(u.want_cert, 0);
	assert_int_equal(u.version, 0);
}

static void
test_pkcs11_types(void **state)
{
	struct p11v_uri u;

	(void)state;
	assert_int_equal(p11v_uri_parse("pkcs11:object=k", &u, NULL), 1);
	assert_int_equal(u.want_private, 1);
	assert_string_equal(u.token, "");
	assert_int_equal(p11v_uri_parse("pkcs11:object=k;type=public", &u, NULL), 1);
	assert_int_equal(u.want_private, 0);
	assert_int_equal(u.want_cert, 0);
	assert_int_equal(p11v_uri_parse("pkcs11:id=%42;type=cert", &u, NULL), 1);
	assert_int_equal(u.want_private, 0);
	assert_int_equal(u.want_cert, 1);
	assert_int_equal(u.id_len, 1);
	/* the module may be named in the URI; the provider's configuration
	 * decides which one is loaded */
	assert_int_equal(p11v_uri_parse("pkcs11:object=k?module-path=/usr/lib/x.so", &u, NULL), 1);
}

static void
test_pkcs11_refused(void **state)
{
	static const char *const bad[] = {
	    "pkcs11:object=k?pin-value=1234",
	    "pkcs11:object=k?pin-source=file:/tmp/pin",
	    "pkcs11:object=k;type=secret-key",
	    "pkcs11:object=k;type=data",
	    "pkcs11:token=dev",
	    "pkcs11:",
	    "pkcs11:object=%zz",
	    "pkcs11:object=a%00b",
	    "pkcs11:object=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    "pkcs11:id=%01%02%03%04%05%06%07%08%09%0a%0b%0c%0d%0e%0f%10%11%12%13%14%15%16%17%18%19%1a%1b%1c%1d%1e%"
	    "1f%20%21%22%23%24%25%26%27%28%29%2a%2b%2c%2d%2e%2f%30%31%32%33%34%35%36%37%38%39%3a%3b%3c%3d%3e%3f%"
	    "40%41",
	    "pkcs11x:object=k",
	};
	struct p11v_uri u;
	const char *why;

	(void)state;
	for (size_t i = 0; i < PV_NELEM(bad); i++) {
		why = NULL;
		if (p11v_uri_parse(bad[i], &u, &why) != 0)
			fail_msg("accepted '%s'", bad[i]);
		assert_non_null(why);
		assert_int_equal(u.is_pkcs11, 0);
	}
	assert_int_equal(p11v_uri_parse("pkcs11:object=k?pin-value=1234", &u, &why), 0);
	assert_non_null(strstr(why, "pin"));
}

/* A store URI may name no object (a search narrows it); nothing else
 * is relaxed. */
static void
test_store_collections(void **state)
{
	static const char *const none[] = {"p11vault:", "pkcs11:", "pkcs11:token=dev", "pkcs11:type=cert"};
	static const char *const bad[] = {
	    "p11vault:;version=2",
	    "pkcs11:token=dev?pin-value=1234",
	    "pkcs11:type=data",
	    "p11vault:bad name",
	};
	struct p11v_uri u;
	const char *why;

	(void)state;
	for (size_t i = 0; i < PV_NELEM(none); i++) {
		why = NULL;
		if (p11v_uri_parse_store(none[i], &u, &why) != 1)
			fail_msg("refused '%s': %s", none[i], why);
		assert_int_equal(u.collection, 1);
		assert_string_equal(u.name, "");
		assert_int_equal(u.id_len, 0);
		/* a key reference still needs an object */
		assert_int_equal(p11v_uri_parse(none[i], &u, &why), 0);
	}
	assert_int_equal(p11v_uri_parse_store("pkcs11:token=dev", &u, &why), 1);
	assert_string_equal(u.token, "dev");
	assert_int_equal(p11v_uri_parse_store("pkcs11:type=cert", &u, &why), 1);
	assert_int_equal(u.want_cert, 1);
	assert_int_equal(p11v_uri_parse_store("p11vault:web", &u, &why), 1);
	assert_int_equal(u.collection, 0);
	assert_string_equal(u.name, "web");
	for (size_t i = 0; i < PV_NELEM(bad); i++) {
		why = NULL;
		if (p11v_uri_parse_store(bad[i], &u, &why) != 0)
			fail_msg("accepted '%s'", bad[i]);
		assert_non_null(why);
		assert_int_equal(u.collection, 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_p11vault_name),     cmocka_unit_test(test_p11vault_version),
	    cmocka_unit_test(test_p11vault_refused),  cmocka_unit_test(test_pkcs11_object),
	    cmocka_unit_test(test_pkcs11_types),      cmocka_unit_test(test_pkcs11_refused),
	    cmocka_unit_test(test_store_collections),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
