#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/keccak.h"

/* Hex string -> bytes with OpenSSL (independent of the code under test). */
static uint8_t *
unhex(const char *hex, size_t *len)
{
	long n = 0;
	uint8_t *p;

	if (*hex == '\0') {
		*len = 0;
		return OPENSSL_zalloc(1);
	}
	p = OPENSSL_hexstr2buf(hex, &n);
	assert_non_null(p);
	*len = (size_t)n;
	return p;
}

static void
check_kat(size_t expect_len, const char *msg_hex, const char *md_hex)
{
	uint8_t got[PV_KECCAK256_LEN];
	uint8_t *msg, *md;
	size_t msglen, mdlen;

	msg = unhex(msg_hex, &msglen);
	md = unhex(md_hex, &mdlen);
	assert_int_equal(msglen, expect_len);
	assert_int_equal(mdlen, PV_KECCAK256_LEN);
	pv_keccak256(msg, msglen, got);
	assert_memory_equal(got, md, PV_KECCAK256_LEN);
	OPENSSL_free(msg);
	OPENSSL_free(md);
}

static void
test_empty(void **state)
{
	check_kat(0, "", "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
}

static void
test_abc(void **state)
{
	check_kat(3, "616263", "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
}

static void
test_quick_brown_fox(void **state)
{
	const char *s = "The quick brown fox jumps over the lazy dog";
	uint8_t got[PV_KECCAK256_LEN], *md;
	size_t mdlen;

	md = unhex("4d741b6f1eb29cb2a9b9911c82f56fa8d73b04959d3d9d222895df6c0b28aa15", &mdlen);
	pv_keccak256((const uint8_t *)s, strlen(s), got);
	assert_memory_equal(got, md, PV_KECCAK256_LEN);
	OPENSSL_free(md);
}

/* Keccak team's ShortMsgKAT_256 (round-3 Keccak, i.e. pad 0x01), Len = 1080:
 * 135 bytes, so the pad byte and the final bit share the last byte. */
static void
test_kat_135_bytes(void **state)
{
	check_kat(
	    135,
	    "2f3fb9e6321405869ff0e6271369357ee08c9c27837fe300adf3766a61979591d64e7809627e8f026e762982df5f00"
	    "bfeb9ce76f1ccb70c9bee6331f7dc8b15417295d7aa7ec7c1662a69842059901f136e96052b4d01b72b64f9233174487"
	    "2f6de4a915d0262b33ccc375d25d77c3936023e514f30187a9501adc685e6497cc4841e119670d4d",
	    "0484f02cc16415e7e9f28f95b6bb77209e1b25ec35015de84facbc8f9605b39e");
}

/* Len = 1088: exactly one rate block (136 bytes); padding needs a second. */
static void
test_kat_136_bytes(void **state)
{
	check_kat(
	    136,
	    "33d0c3052e3ac8c19beca6b0dfa73888f753655fb2c9f77e1238602c9f6d7ad33e3dd96c78a22e148ed4c46d7cfdf6"
	    "74505bd40325cb813804e264a450de778f1c50fc94f32aa881fe6def7b6ae6efbb42c3be678f40a09322053773e3af02"
	    "0000fe94f3283c7527aa64a2144b92cf8d568df4e6cd957af09ab1637e61667e616412558d4fcab4f9",
	    "b30ad6fc320c0d70309dc39953895cb7cf3fbedec7d86a5f7aa9f2bb760f6dba");
}

/* Len = 1096: 137 bytes, two blocks of input. */
static void
test_kat_137_bytes(void **state)
{
	check_kat(
	    137,
	    "2f570e7aeadd07406bfc263992a0292c528daab4f32816573b6be58a36998465f192e0db70e81cdbe5431477e43ea4"
	    "37cb4eebbe760116b26dfb3ca395c1098753e962c3d27f9fb8c2b32fa6f1d3debd22c97b99cb924b388d87db2348e5aa"
	    "9ccf0d60a18cff594eb389f5a55dd362809dde19687064a0feec7c213561cbd130d832d264312cb3e4b6",
	    "6cf9e0e9008f6b5b2d28fb38c47a0212e7b28f6a7f44815f10c53141c2f1c84d");
}

/* Len = 1344: 168 bytes. */
static void
test_kat_168_bytes(void **state)
{
	check_kat(
	    168,
	    "75f8d7b5d6610d38826bca037ff2ae35b9c5fb9df569f8182850c930a3c6b019bf88cf95e9ddce6c48986fc88b1dfd"
	    "44e3f9e2d863dbf18b2bbabbcf816be840f3b7d5dd94a449dd3cb9a5c7d6a30cba9cee92ffca838af53e46c4bfb1adff"
	    "a565d583fa79ccd7b6857c7e5c1f8a16bc79a9bb432d46396b8dfe2a3eac2ae411ff670b7834e32fb960ad167f382c3c"
	    "b2d6f7f6033e2f6ecb2e980adac3efecc256f83b8bdb6a453b",
	    "8e60c5ab5186a36ec8856a7a9574e62c40c062ccfb56e199c0067e22ea6c5029");
}

static void
sponge(uint8_t pad, const uint8_t *in, size_t len, size_t chunk, uint8_t out[PV_KECCAK256_LEN])
{
	pv_keccak_ctx ctx;
	size_t off = 0, n;

	pv_keccak256_init(&ctx, pad);
	while (off < len) {
		n = len - off < chunk ? len - off : chunk;
		pv_keccak256_update(&ctx, in + off, n);
		off += n;
	}
	pv_keccak256_final(&ctx, out);
}

/*
 * The same sponge with the SHA3 pad byte must equal OpenSSL's SHA3-256 on
 * every length (an independent check of the permutation, absorb and squeeze),
 * while the Keccak pad must give something else.
 */
static void
test_sha3_cross_check(void **state)
{
	uint8_t buf[1100], ours[PV_KECCAK256_LEN], ossl[PV_KECCAK256_LEN], keccak[PV_KECCAK256_LEN];
	unsigned int olen = 0;
	size_t len, chunk;

	assert_int_equal(RAND_bytes(buf, sizeof(buf)), 1);
	for (len = 0; len <= sizeof(buf); len++) {
		chunk = 1 + len % 150;
		sponge(PV_KECCAK_PAD_SHA3, buf, len, chunk, ours);
		assert_int_equal(EVP_Digest(buf, len, ossl, &olen, EVP_sha3_256(), NULL), 1);
		assert_int_equal(olen, PV_KECCAK256_LEN);
		assert_memory_equal(ours, ossl, PV_KECCAK256_LEN);
		pv_keccak256(buf, len, keccak);
		assert_memory_not_equal(keccak, ossl, PV_KECCAK256_LEN);
	}
}

/* Feeding the input in pieces must not change the result. */
static void
test_incremental(void **state)
{
	uint8_t buf[700], whole[PV_KECCAK256_LEN], parts[PV_KECCAK256_LEN];
	size_t chunk;

	assert_int_equal(RAND_bytes(buf, sizeof(buf)), 1);
	pv_keccak256(buf, sizeof(buf), whole);
	for (chunk = 1; chunk < 300; chunk += 7) {
		sponge(PV_KECCAK_PAD_KECCAK, buf, sizeof(buf), chunk, parts);
		assert_memory_equal(whole, parts, PV_KECCAK256_LEN);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty),           cmocka_unit_test(test_abc),
	    cmocka_unit_test(test_quick_brown_fox), cmocka_unit_test(test_kat_135_bytes),
	    cmocka_unit_test(test_kat_136_bytes),   cmocka_unit_test(test_kat_137_bytes),
	    cmocka_unit_test(test_kat_168_bytes),   cmocka_unit_test(test_sha3_cross_check),
	    cmocka_unit_test(test_incremental),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
