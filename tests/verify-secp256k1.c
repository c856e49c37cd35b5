/*
 * verify-secp256k1 PUBKEY DIGEST SIG — an independent secp256k1 verifier for
 * the integration tests, built on libsecp256k1 rather than on p11vault or
 * OpenSSL.
 *
 *   PUBKEY  file: SubjectPublicKeyInfo DER (88 bytes), or a SEC1 point
 *           (65 bytes uncompressed, 33 compressed)
 *   DIGEST  file: the 32-byte message hash
 *   SIG     file: the 64-byte raw signature r||s
 *
 * Exit: 0 valid and low-S, 1 does not verify, 2 high-S (valid or not: p11vault
 * promises low-S), 3 usage or unparsable input.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <secp256k1.h>

enum { EXIT_OK = 0, EXIT_BAD = 1, EXIT_HIGH_S = 2, EXIT_USAGE = 3 };

/* SPKI prefix for id-ecPublicKey + secp256k1 with a 65-byte BIT STRING. */
static const unsigned char spki_prefix[] = {0x30, 0x56, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86,
					    0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b,
					    0x81, 0x04, 0x00, 0x0a, 0x03, 0x42, 0x00};

/* Read a whole small file; -1 if unreadable or larger than cap. */
static long
read_small_file(const char *path, unsigned char *buf, size_t cap)
{
	FILE *f = NULL;
	size_t n = 0;
	long ret = -1;

	f = fopen(path, "rb");
	if (f == NULL)
		goto out;
	n = fread(buf, 1, cap, f);
	if (ferror(f) || fgetc(f) != EOF)
		goto out;
	ret = (long)n;
out:
	if (f != NULL)
		fclose(f);
	return ret;
}

int
main(int argc, char **argv)
{
	unsigned char pubbuf[128], digest[40], sig[72];
	const unsigned char *point = NULL;
	long publen, digestlen, siglen;
	size_t pointlen = 0;
	secp256k1_context *ctx = NULL;
	secp256k1_pubkey pub;
	secp256k1_ecdsa_signature parsed, normalized;
	int ret = EXIT_USAGE;

	if (argc != 4) {
		fprintf(stderr, "usage: verify-secp256k1 PUBKEY DIGEST SIG\n");
		goto out;
	}
	publen = read_small_file(argv[1], pubbuf, sizeof(pubbuf));
	digestlen = read_small_file(argv[2], digest, sizeof(digest));
	siglen = read_small_file(argv[3], sig, sizeof(sig));
	if (digestlen != 32 || siglen != 64) {
		fprintf(stderr, "verify-secp256k1: need a 32-byte digest and a 64-byte r||s signature\n");
		goto out;
	}
	if (publen == 88 && memcmp(pubbuf, spki_prefix, sizeof(spki_prefix)) == 0) {
		point = pubbuf + sizeof(spki_prefix);
		pointlen = 65;
	} else if (publen == 65 || publen == 33) {
		point = pubbuf;
		pointlen = (size_t)publen;
	} else {
		fprintf(stderr,
			"verify-secp256k1: public key is neither secp256k1 SPKI DER nor a SEC1 point\n");
		goto out;
	}

	ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
	if (ctx == NULL)
		goto out;
	if (!secp256k1_ec_pubkey_parse(ctx, &pub, point, pointlen)) {
		fprintf(stderr, "verify-secp256k1: invalid public key point\n");
		goto out;
	}
	if (!secp256k1_ecdsa_signature_parse_compact(ctx, &parsed, sig)) {
		/* r or s not below the group order: not a signature at all. */
		fprintf(stderr, "verify-secp256k1: signature: BAD (r or s out of range)\n");
		ret = EXIT_BAD;
		goto out;
	}
	/* normalize returns 1 when it had to change s, i.e. s was high. */
	if (secp256k1_ecdsa_signature_normalize(ctx, &normalized, &parsed)) {
		fprintf(stderr, "verify-secp256k1: signature has a high S value\n");
		ret = EXIT_HIGH_S;
		goto out;
	}
	if (!secp256k1_ecdsa_verify(ctx, &parsed, digest, &pub)) {
		fprintf(stderr, "verify-secp256k1: signature: BAD\n");
		ret = EXIT_BAD;
		goto out;
	}
	printf("signature: ok (low-S)\n");
	ret = EXIT_OK;
out:
	if (ctx != NULL)
		secp256k1_context_destroy(ctx);
	return ret;
}
