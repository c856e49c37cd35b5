/*
 * libFuzzer harness: the JWT verifier. Each input is tried as a token
 * against a fixed JWK Set, as a JWK Set for a fixed token, and as the JSON
 * of a header or payload. Nothing may crash, and nothing may verify: the
 * fuzzer holds no private key.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "jose/jwt.h"
#include "jose/jwt_int.h"

/* The P-256 generator point and the RFC 8037 Ed25519 example key. */
static const char fixed_jwks[] =
    "{\"keys\":["
    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"k1\",\"alg\":\"ES256\","
    "\"x\":\"axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpY\",\"y\":\"T-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU\"},"
    "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"k2\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}"
    "]}";

static const char fixed_token[] =
    "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJleHAiOjF9."
    "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ"
    "EBAQEBAQ";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *jwks = NULL, *set = NULL, *claims = NULL;
	char *text = NULL;
	pv_err r;

	if ((text = malloc(size + 1)) == NULL)
		goto out;
	if (size > 0)
		memcpy(text, data, size);
	text[size] = '\0';
	jwks = cJSON_Parse(fixed_jwks);
	FUZZ_ASSERT(jwks != NULL);

	r = pv_jwt_verify(jwks, text, 0, 0, &claims);
	FUZZ_ASSERT(r != PV_OK && claims == NULL);

	/* the input as the key set: at best the signature is checked (and fails) */
	if (pv_jwt_parse_object(data, size, &set) == PV_OK) {
		r = pv_jwt_verify(set, fixed_token, 0, 0, &claims);
		FUZZ_ASSERT(r != PV_OK && claims == NULL);
		/* and as claims */
		r = pv_jwt_check_times(set, 1000, 5);
		FUZZ_ASSERT(r == PV_OK || r == PV_ERR_STATE || r == PV_ERR_BAD_INPUT);
		r = pv_jwt_check_lifetime(set, 3600);
		FUZZ_ASSERT(r == PV_OK || r == PV_ERR_FORBIDDEN || r == PV_ERR_BAD_INPUT);
	}
out:
	cJSON_Delete(claims);
	cJSON_Delete(set);
	cJSON_Delete(jwks);
	free(text);
	return 0;
}
