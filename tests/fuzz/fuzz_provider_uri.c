/* libFuzzer harness: the provider's key references (p11vault:NAME[;version=N]
 * and pkcs11: URIs through p11-kit's parser), which come from command lines,
 * configuration and URI-in-PEM files. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/keymeta.h"
#include "fuzz.h"
#include "provider/provider.h"

/* Whether the query part names a PIN (pin-value= or pin-source=). */
static int
query_has_pin(const char *s)
{
	const char *q = strchr(s, '?');

	while (q != NULL) {
		q++;
		if (strncmp(q, "pin-value=", 10) == 0 || strncmp(q, "pin-source=", 11) == 0)
			return 1;
		q = strchr(q, '&');
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct p11v_uri u;
	const char *why = NULL;
	char *s;
	int ok;

	if (size > 4096 || (s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	ok = p11v_uri_parse(s, &u, &why);
	/* every answer says why or fills the reference, never both */
	FUZZ_ASSERT(ok == 1 || ok == 0);
	FUZZ_ASSERT(ok ? why == NULL : why != NULL);
	/* the strings are always terminated within their arrays */
	FUZZ_ASSERT(memchr(u.name, '\0', sizeof(u.name)) != NULL);
	FUZZ_ASSERT(memchr(u.token, '\0', sizeof(u.token)) != NULL);
	FUZZ_ASSERT(u.id_len <= sizeof(u.id));
	if (ok && !u.is_pkcs11) {
		/* a p11vault: reference is a valid key name, version 0..max */
		FUZZ_ASSERT(pv_key_name_valid(u.name));
		FUZZ_ASSERT(u.version <= PV_KEY_VERSIONS_MAX);
		FUZZ_ASSERT(u.want_private && !u.want_cert && u.id_len == 0);
	}
	if (ok && u.is_pkcs11) {
		/* an object is named; the PIN never comes from the URI */
		FUZZ_ASSERT(u.name[0] != '\0' || u.id_len > 0);
		FUZZ_ASSERT(!query_has_pin(s));
		FUZZ_ASSERT(!(u.want_private && u.want_cert));
	}
	if (!ok)
		FUZZ_ASSERT(u.name[0] == '\0' && u.id_len == 0 && !u.is_pkcs11);
	/* a store URI: the same, and an object may be missing (a collection) */
	{
		struct p11v_uri st;
		int sok = p11v_uri_parse_store(s, &st, &why);

		FUZZ_ASSERT(sok == 1 || sok == 0);
		FUZZ_ASSERT(sok ? why == NULL : why != NULL);
		/* whatever names an object parses the same either way */
		FUZZ_ASSERT(!ok || (sok && !st.collection && memcmp(&st, &u, sizeof(u)) == 0));
		if (sok && !ok)
			FUZZ_ASSERT(st.collection && st.name[0] == '\0' && st.id_len == 0);
		if (sok && st.collection)
			FUZZ_ASSERT(!query_has_pin(s));
	}
	free(s);
	return 0;
}
