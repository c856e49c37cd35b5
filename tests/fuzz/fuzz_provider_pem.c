/* libFuzzer harness: the provider's URI-in-PEM key files (src/provider/
 * uripem.c), which programs read from disk, and the DER form the decoder
 * hands between its two steps. The same bytes go to both parsers. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "provider/uripem.h"

/* What a taken reference must be: 1..P11V_URIPEM_URI_MAX printable
 * characters, a known scheme, NUL-terminated within the buffer. */
static void
check_uri(const char *uri, size_t urisz)
{
	size_t n = strnlen(uri, urisz);

	FUZZ_ASSERT(n > 0 && n < urisz && n <= P11V_URIPEM_URI_MAX);
	for (size_t i = 0; i < n; i++)
		FUZZ_ASSERT(uri[i] > 0x20 && uri[i] < 0x7f);
	FUZZ_ASSERT(strncmp(uri, "p11vault:", 9) == 0 || strncmp(uri, "pkcs11:", 7) == 0);
}

/* A taken reference goes to DER and back unchanged. */
static void
roundtrip(const char *uri)
{
	uint8_t der[P11V_URIPEM_URI_MAX + 4];
	char back[P11V_URIPEM_URI_MAX + 1];
	const char *why = NULL;
	size_t n = p11v_uripem_der(uri, der, sizeof(der));

	FUZZ_ASSERT(n > 0 && n <= sizeof(der));
	FUZZ_ASSERT(p11v_uripem_from_der(der, n, back, sizeof(back), &why) == P11V_URIPEM_OK);
	FUZZ_ASSERT(strcmp(back, uri) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char uri[P11V_URIPEM_URI_MAX + 1];
	const char *why = NULL;
	size_t used = 0;
	enum p11v_uripem_res r;

	if (size > P11V_URIPEM_TEXT_MAX)
		return 0;
	memset(uri, 'x', sizeof(uri));
	r = p11v_uripem_parse((const char *)data, size, uri, sizeof(uri), &used, &why);
	if (r == P11V_URIPEM_OK) {
		FUZZ_ASSERT(used > 0 && used <= size);
		check_uri(uri, sizeof(uri));
		roundtrip(uri);
	} else {
		/* nothing half-filled; a refusal of ours says why */
		FUZZ_ASSERT(uri[0] == '\0');
		FUZZ_ASSERT(r == P11V_URIPEM_NOT_OURS || (r == P11V_URIPEM_BAD && why != NULL));
	}

	memset(uri, 'x', sizeof(uri));
	why = NULL;
	r = p11v_uripem_from_der(data, size, uri, sizeof(uri), &why);
	if (r == P11V_URIPEM_OK) {
		check_uri(uri, sizeof(uri));
		roundtrip(uri);
	} else {
		FUZZ_ASSERT(uri[0] == '\0');
		FUZZ_ASSERT(r == P11V_URIPEM_NOT_OURS || (r == P11V_URIPEM_BAD && why != NULL));
	}
	return 0;
}
