/*
 * EVM transaction codec tests.
 *
 * Vectors: the EIP-155 example (EIP-155 text: nonce 9, gas price 20 gwei,
 * gas 21000, to 0x3535...35, value 10^18, chain id 1, private key 0x4646...46;
 * its signing data, signing hash and signed transaction with v = 37), and
 * typed/legacy transactions generated with ethers 6.13.5 (npm ethers@6.13.5)
 * signed with the web3.js documentation key
 * 0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318 by this
 * script (node gen.mjs):
 *
 *   import { Transaction, Wallet } from "ethers";
 *   const w = new Wallet(KEY);
 *   const al = [{ address: "0x" + "11".repeat(20),
 *                 storageKeys: ["0x" + "00".repeat(31) + "01", "0x" + "ab".repeat(32)] },
 *               { address: "0x" + "22".repeat(20), storageKeys: [] }];
 *   const vecs = {
 *     t2_transfer: { type: 2, chainId: 1, nonce: 7, maxPriorityFeePerGas: 1500000000n,
 *       maxFeePerGas: 30000000000n, gasLimit: 21000, to: "0x" + "35".repeat(20),
 *       value: 500000000000000000n, data: "0x" },
 *     t2_access: { type: 2, chainId: 11155111, nonce: 300, maxPriorityFeePerGas: 0n,
 *       maxFeePerGas: 2000000000n, gasLimit: 90000,
 *       to: "0xdAC17F958D2ee523a2206206994597C13D831ec7", value: 0n,
 *       data: "0xa9059cbb" + "00".repeat(12) + "35".repeat(20) + "00".repeat(31) + "0a",
 *       accessList: al },
 *     t2_create: { type: 2, chainId: 137, nonce: 0, maxPriorityFeePerGas: 30000000000n,
 *       maxFeePerGas: 100000000000n, gasLimit: 1000000, to: null, value: 0n,
 *       data: "0x6080604052348015600f57600080fd5b50603f80601d6000396000f3fe6080604052600080fdfea164736f6c6343000813000a" },
 *     t1_access: { type: 1, chainId: 1, nonce: 1, gasPrice: 20000000000n, gasLimit: 50000,
 *       to: "0x" + "35".repeat(20), value: 1n, data: "0x", accessList: al },
 *     t1_create: { type: 1, chainId: 5, nonce: 2, gasPrice: 1000000000n, gasLimit: 100000,
 *       to: null, value: 0n, data: "0x00", accessList: [] },
 *     legacy_sepolia: { type: 0, chainId: 11155111, nonce: 65535, gasPrice: 1000000000n,
 *       gasLimit: 21000, to: "0x" + "35".repeat(20), value: 123456789n, data: "0x" },
 *   };
 *   // plus t2_short_rs: the first nonce n of { type: 2, chainId: 1, nonce: n,
 *   //   maxPriorityFeePerGas: 1n, maxFeePerGas: 2n, gasLimit: 21000,
 *   //   to: "0x" + "35".repeat(20), value: 0n } whose r or s starts with a zero
 *   //   byte (n = 16: r = 0x0008dd...)
 *   for (const [name, v] of Object.entries(vecs)) {
 *     const tx = Transaction.from(v);
 *     const st = Transaction.from(await w.signTransaction(tx));
 *     print(name, tx.unsignedSerialized, tx.unsignedHash, st.serialized, st.hash,
 *           st.signature.r, st.signature.s, st.signature.yParity);
 *   }
 *
 * The EIP-155 example's transaction hash is keccak256 of the signed bytes as
 * ethers 6.13.5 computes it (keccak256(spec_signed)).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/crypto.h>

#include "wallet/evm_tx.h"

#define SPEC_UNSIGNED                                                                                        \
	"ec098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a764000080018080"
#define SPEC_HASH "daf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53"
#define SPEC_SIGNED                                                                                          \
	"f86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83"
#define SPEC_R       "28ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276"
#define SPEC_S       "67cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83"
#define SPEC_TX_HASH "33469b22e9f636356c4160a87eb19df52b7412e8eac32a4a55ffe88ea8350788"

#define AL_HEX                                                                                               \
	"f872f859941111111111111111111111111111111111111111f842a00000000000000000000000000000000000000000000000000000000000000001a0ababababababababababababababababababababababababababababababababd6942222222222222222222222222222222222222222c0"

struct vec {
	const char *name;
	pv_evm_tx_type type;
	uint64_t chain_id, nonce, gas_limit;
	int has_to;
	size_t al_entries;
	const char *value_dec;
	const char *unsigned_hex, *signing_hash, *signed_hex, *tx_hash, *r, *s;
	int y_parity;
};

static const struct vec vecs[] = {
    {"t2_transfer", PV_EVM_TX_DYNAMIC_FEE, 1, 7, 21000, 1, 0, "500000000000000000",
     "02f001078459682f008506fc23ac008252089435353535353535353535353535353535353535358806f05b59d3b2000080c0",
     "172a5a546c71a4c3fdb5c308a8f2c9d1f90b2dc5713f7d16a5fc8b26b4aebd1f",
     "02f87301078459682f008506fc23ac008252089435353535353535353535353535353535353535358806f05b59d3b2000080c080a072ce55abb432fc8f0d3ba402e3f4b36cf12edfcb646c31c555d85d06ce153914a0283231a554743d9ad6af23e763dd89b8a5536cbdc14ebcb9ce927fcb7826e214",
     "7e8fc985d8482174c71c7a244535dcff154dad57ebeae2a70c0119b740fcccd8",
     "72ce55abb432fc8f0d3ba402e3f4b36cf12edfcb646c31c555d85d06ce153914",
     "283231a554743d9ad6af23e763dd89b8a5536cbdc14ebcb9ce927fcb7826e214", 0},
    {"t2_access", PV_EVM_TX_DYNAMIC_FEE, 11155111, 300, 90000, 1, 2, "0",
     "02f8e183aa36a782012c80847735940083015f9094dac17f958d2ee523a2206206994597c13d831ec780b844a9059cbb0000000000000000000000003535353535353535353535353535353535353535000000000000000000000000000000000000000000000000000000000000000a" AL_HEX,
     "5b57f7a68a043ebfc56d96b62c0fbedc6ad367bbe4e5de5f601b808d5847a87b",
     "02f9012483aa36a782012c80847735940083015f9094dac17f958d2ee523a2206206994597c13d831ec780b844a9059cbb0000000000000000000000003535353535353535353535353535353535353535000000000000000000000000000000000000000000000000000000000000000a" AL_HEX
     "01a0347b2c4579b42d31451ac14ac582b6d299c215bf77812ecda22cb45bdc26bafca046afbe02ddfc20fe6c81d72330290c61e99938f45b4214dfe9799a0554c9c50b",
     "1e5495b5e8491879f69c3b5ab50a8638eee52afbf705641a45c1983237036679",
     "347b2c4579b42d31451ac14ac582b6d299c215bf77812ecda22cb45bdc26bafc",
     "46afbe02ddfc20fe6c81d72330290c61e99938f45b4214dfe9799a0554c9c50b", 1},
    {"t2_create", PV_EVM_TX_DYNAMIC_FEE, 137, 0, 1000000, 0, 0, "0",
     "02f84a8189808506fc23ac0085174876e800830f42408080b36080604052348015600f57600080fd5b50603f80601d6000396000f3fe6080604052600080fdfea164736f6c6343000813000ac0",
     "32d0bcbeecf45bdbf26c6e3a608be066a0ccf29ac0bbfdb3c0af698ec472457e",
     "02f88d8189808506fc23ac0085174876e800830f42408080b36080604052348015600f57600080fd5b50603f80601d6000396000f3fe6080604052600080fdfea164736f6c6343000813000ac080a0106356ff6d186d5d724e391b459717d8441609a9d6953b679e5938c8984a7c8fa06129d8b8f5e343f202aa13fbe75cf2a647423a2922b77322ac84f05484de4d51",
     "a476d8f9d5415acc7387d3796424af124c8eb8ff79751b48fb2dacaa5d64156a",
     "106356ff6d186d5d724e391b459717d8441609a9d6953b679e5938c8984a7c8f",
     "6129d8b8f5e343f202aa13fbe75cf2a647423a2922b77322ac84f05484de4d51", 0},
    {"t1_access", PV_EVM_TX_ACCESS_LIST, 1, 1, 50000, 1, 2, "1",
     "01f89601018504a817c80082c3509435353535353535353535353535353535353535350180" AL_HEX,
     "c06bd694cf1d8f08b17dd06a16fa68fef7070e66fa53455498b474135da56550",
     "01f8d901018504a817c80082c3509435353535353535353535353535353535353535350180" AL_HEX
     "80a05f8c06baae0819fbe8befc04a6ab0ae8e6545e645c0ed7816be6a9020dbe1cbea064d5b713a772bcd18b58d134eee3515a61645317e255612848a64b8afae8cbf9",
     "60a30dbced1f83feff59feec7870f5d5cb418a6dc02ffce60259115a6c42c1cd",
     "5f8c06baae0819fbe8befc04a6ab0ae8e6545e645c0ed7816be6a9020dbe1cbe",
     "64d5b713a772bcd18b58d134eee3515a61645317e255612848a64b8afae8cbf9", 0},
    {"t1_create", PV_EVM_TX_ACCESS_LIST, 5, 2, 100000, 0, 0, "0", "01cf0502843b9aca00830186a0808000c0",
     "3078facbd819773cc2d857dbd2e95c59e296bc4a3007b9a9f6d36e20a9300672",
     "01f8520502843b9aca00830186a0808000c080a0e5dd6c9e6fa60216894c28577e3cc82428aec9d4a002064faf65d8ea0eb4ef21a008cd5d206a945eb311c891af482b66da1154b7a7d711576f70d238e243740e38",
     "3f3aad50e2a8bbc2ba7a361d46f9f155a262b507f62a81593cc70dd8befeafb9",
     "e5dd6c9e6fa60216894c28577e3cc82428aec9d4a002064faf65d8ea0eb4ef21",
     "08cd5d206a945eb311c891af482b66da1154b7a7d711576f70d238e243740e38", 0},
    {"legacy_sepolia", PV_EVM_TX_LEGACY, 11155111, 65535, 21000, 1, 0, "123456789",
     "ec82ffff843b9aca0082520894353535353535353535353535353535353535353584075bcd158083aa36a78080",
     "c4c07964d6809798b9ddbfa4e9c41f7b54208969fb64eab3c062ef5f6bcaf808",
     "f86d82ffff843b9aca0082520894353535353535353535353535353535353535353584075bcd15808401546d72a0b6afef5a8615ddc0b88c884dde7ee245558187f8bb4e475bc3fcdd108024c3e6a06ea1b409d59a2eef6810931eefe6540cb81af1e0294c40fcb55fa850709b7513",
     "3d9e9c5f7bd866d1c7bde97e2b8a17b4ccf6bec80a70860a930c2f8d5abba19d",
     "b6afef5a8615ddc0b88c884dde7ee245558187f8bb4e475bc3fcdd108024c3e6",
     "6ea1b409d59a2eef6810931eefe6540cb81af1e0294c40fcb55fa850709b7513", 1},
    {"t2_short_rs", PV_EVM_TX_DYNAMIC_FEE, 1, 16, 21000, 1, 0, "0",
     "02df011001028252089435353535353535353535353535353535353535358080c0",
     "ac60cfeae2a3e4f084f4dfc777920d1aced7bbca21826e0f53044b2c49ef7917",
     "02f861011001028252089435353535353535353535353535353535353535358080c0019f08dd4e8064ab2eb0b5b2647fd46e8323a8fa9113378df753772626a086152ea004e6f81489c225d5acb744d7d1d580c64ac66d75b060bc2d500d7dfa52218761",
     "79eb9e0ff2522bf26a4f5ccc136403cb3e1af91b33888360a2e2f6c550f9595d",
     "0008dd4e8064ab2eb0b5b2647fd46e8323a8fa9113378df753772626a086152e",
     "04e6f81489c225d5acb744d7d1d580c64ac66d75b060bc2d500d7dfa52218761", 1},
    {"eip155_spec", PV_EVM_TX_LEGACY, 1, 9, 21000, 1, 0, "1000000000000000000", SPEC_UNSIGNED, SPEC_HASH,
     SPEC_SIGNED, SPEC_TX_HASH, SPEC_R, SPEC_S, 0},
};

#define N_VECS PV_NELEM(vecs)

#define U256_MAX_DEC "115792089237316195423570985008687907853269984665640564039457584007913129639935"
#define U256_OVER    "115792089237316195423570985008687907853269984665640564039457584007913129639936"

/* Hex -> bytes with OpenSSL (independent of the code under test). */
static uint8_t *
unhex(const char *hex, size_t *len)
{
	long n = 0;
	uint8_t *p = OPENSSL_hexstr2buf(hex, &n);

	assert_non_null(p);
	*len = (size_t)n;
	return p;
}

static void
unhex_exact(const char *hex, uint8_t *out, size_t want)
{
	size_t n;
	uint8_t *p = unhex(hex, &n);

	assert_int_equal(n, want);
	memcpy(out, p, n);
	OPENSSL_free(p);
}

/* Parse bytes that must be refused with code and a detail containing why. */
static void
refuse_bytes(const uint8_t *in, size_t n, pv_err code, const char *why)
{
	struct pv_evm_tx tx;

	pv_err_clear_detail();
	assert_int_equal(pv_evm_tx_parse(in, n, &tx), code);
	assert_null(tx.unsigned_raw);
	if (why != NULL && strstr(pv_err_detail(), why) == NULL)
		fail_msg("detail \"%s\" lacks \"%s\"", pv_err_detail(), why);
}

static void
refuse(const char *hex, const char *why)
{
	size_t n;
	uint8_t *in = unhex(hex, &n);

	refuse_bytes(in, n, PV_ERR_BAD_INPUT, why);
	OPENSSL_free(in);
}

static void
accept(const char *hex)
{
	struct pv_evm_tx tx;
	size_t n;
	uint8_t *in = unhex(hex, &n);

	if (pv_evm_tx_parse(in, n, &tx) != PV_OK)
		fail_msg("refused %s: %s", hex, pv_err_detail());
	OPENSSL_free(in);
}

/*
 * A transaction from a type byte (-1: legacy) and field encodings given as
 * hex; the list header is written here by hand, not with rlp.c.
 */
static char *
build(int type, const char *const *fields, size_t n)
{
	char payload[4096] = "", *out = NULL;
	size_t i, used = 0, len, plen, cap;

	for (i = 0; i < n; i++) {
		len = strlen(fields[i]);
		assert_true(used + len < sizeof(payload));
		memcpy(payload + used, fields[i], len + 1);
		used += len;
	}
	plen = strlen(payload) / 2;
	cap = strlen(payload) + 16;
	out = malloc(cap);
	assert_non_null(out);
	out[0] = '\0';
	if (type >= 0)
		snprintf(out, cap, "%02x", type);
	if (plen < 56)
		snprintf(out + strlen(out), cap - strlen(out), "%02zx", 0xc0 + plen);
	else if (plen < 256)
		snprintf(out + strlen(out), cap - strlen(out), "f8%02zx", plen);
	else
		snprintf(out + strlen(out), cap - strlen(out), "f9%04zx", plen);
	snprintf(out + strlen(out), cap - strlen(out), "%s", payload);
	return out;
}

/* The t2_transfer fields; index 0 chain id ... 8 access list. */
static const char *const t2_fields[] = {"01",
					"07",
					"8459682f00",
					"8506fc23ac00",
					"825208",
					"943535353535353535353535353535353535353535",
					"8806f05b59d3b20000",
					"80",
					"c0"};
/* The EIP-155 example's fields; 0 nonce ... 6 chain id, 7 and 8 empty. */
static const char *const legacy_fields[] = {
    "09", "8504a817c800", "825208", "943535353535353535353535353535353535353535", "880de0b6b3a7640000", "80",
    "01", "80",           "80"};

/* t2_transfer with field i replaced; must be refused with why. */
static void
t2_with(size_t i, const char *field, const char *why)
{
	const char *f[9];
	char *hex;

	memcpy(f, t2_fields, sizeof(f));
	f[i] = field;
	hex = build(2, f, 9);
	refuse(hex, why);
	free(hex);
}

static void
legacy_with(size_t i, const char *field, const char *why)
{
	const char *f[9];
	char *hex;

	memcpy(f, legacy_fields, sizeof(f));
	f[i] = field;
	hex = build(-1, f, 9);
	refuse(hex, why);
	free(hex);
}

static void
check_vector(const struct vec *v)
{
	struct pv_evm_tx tx;
	uint8_t *in, *want_signed, hash[32], want_hash[32], rs[64];
	char dec[PV_EVM_DECIMAL_MAX];
	size_t n, sn;
	pv_buf *out = NULL;

	in = unhex(v->unsigned_hex, &n);
	if (pv_evm_tx_parse(in, n, &tx) != PV_OK)
		fail_msg("%s: %s", v->name, pv_err_detail());
	assert_int_equal(tx.type, v->type);
	assert_true(tx.chain_id == v->chain_id);
	assert_true(tx.nonce == v->nonce);
	assert_true(tx.gas_limit == v->gas_limit);
	assert_int_equal(tx.has_to, v->has_to);
	assert_int_equal(tx.access_list_entries, v->al_entries);
	assert_ptr_equal(tx.unsigned_raw, in);
	assert_int_equal(tx.unsigned_raw_len, n);
	assert_int_equal(pv_evm_value_decimal(tx.value, dec), PV_OK);
	assert_string_equal(dec, v->value_dec);

	assert_int_equal(pv_evm_tx_signing_hash(&tx, hash), PV_OK);
	unhex_exact(v->signing_hash, want_hash, 32);
	assert_memory_equal(hash, want_hash, 32);

	unhex_exact(v->r, rs, 32);
	unhex_exact(v->s, rs + 32, 32);
	want_signed = unhex(v->signed_hex, &sn);
	assert_int_equal(pv_buf_new(1 << 20, &out), PV_OK);
	assert_int_equal(pv_buf_put_u8(out, 0xee), PV_OK); /* appends, keeps what is there */
	assert_int_equal(pv_evm_tx_encode_signed(&tx, rs, v->y_parity, out), PV_OK);
	assert_int_equal(pv_buf_len(out), sn + 1);
	assert_int_equal(pv_buf_ptr(out)[0], 0xee);
	assert_memory_equal(pv_buf_ptr(out) + 1, want_signed, sn);
	assert_int_equal(pv_evm_tx_hash(want_signed, sn, hash), PV_OK);
	unhex_exact(v->tx_hash, want_hash, 32);
	assert_memory_equal(hash, want_hash, 32);

	/* the other recovery id gives a different, still well-formed result */
	pv_buf_reset(out);
	assert_int_equal(pv_evm_tx_encode_signed(&tx, rs, !v->y_parity, out), PV_OK);
	assert_int_equal(pv_buf_len(out), sn);
	assert_memory_not_equal(pv_buf_ptr(out), want_signed, sn);

	/* a signed transaction is not an unsigned one */
	refuse_bytes(want_signed, sn, PV_ERR_BAD_INPUT, "already signed");
	pv_buf_free(out);
	OPENSSL_free(want_signed);
	OPENSSL_free(in);
}

static void
test_vectors(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < N_VECS; i++)
		check_vector(&vecs[i]);
}

/* EIP-155's example field by field (the vector test checks the bytes). */
static void
test_eip155_fields(void **state)
{
	struct pv_evm_tx tx;
	uint8_t *in, to[20];
	char dec[PV_EVM_DECIMAL_MAX];
	size_t n;

	(void)state;
	in = unhex(SPEC_UNSIGNED, &n);
	assert_int_equal(pv_evm_tx_parse(in, n, &tx), PV_OK);
	assert_int_equal(pv_evm_value_decimal(tx.gas_price, dec), PV_OK);
	assert_string_equal(dec, "20000000000");
	memset(to, 0x35, sizeof(to));
	assert_memory_equal(tx.to, to, 20);
	assert_int_equal(tx.data_len, 0);
	/* fields stop before the chain id: nonce .. data, 0x29 bytes */
	assert_ptr_equal(tx.fields, in + 1);
	assert_int_equal(tx.fields_len, n - 1 - 3);
	OPENSSL_free(in);
}

static void
test_truncations_and_trailing(void **state)
{
	uint8_t *in, *longer;
	size_t i, k, n;

	(void)state;
	for (i = 0; i < N_VECS; i++) {
		in = unhex(vecs[i].unsigned_hex, &n);
		for (k = 0; k < n; k++)
			refuse_bytes(in, k, PV_ERR_BAD_INPUT, "evm tx: ");
		longer = malloc(n + 1);
		assert_non_null(longer);
		memcpy(longer, in, n);
		longer[n] = 0x00;
		refuse_bytes(longer, n + 1, PV_ERR_BAD_INPUT, "bad RLP");
		longer[n] = 0x80;
		refuse_bytes(longer, n + 1, PV_ERR_BAD_INPUT, "bad RLP");
		free(longer);
		OPENSSL_free(in);
	}
}

static void
test_forms(void **state)
{
	char hex[256];

	(void)state;
	/* pre-EIP-155: the example's first six fields only */
	refuse("e9098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a764000080",
	       "pre-EIP-155");
	/* other field counts */
	refuse("ea098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008001",
	       "legacy transaction has 7 fields, expected 9");
	refuse("c0", "legacy transaction has 0 fields");
	refuse("02c0", "typed transaction has 0 fields, expected 9");
	refuse("01c0", "typed transaction has 0 fields, expected 8");
	/* a type 2 body under type byte 1 has 9 fields: neither form */
	snprintf(hex, sizeof(hex), "01%s", vecs[0].unsigned_hex + 2);
	refuse(hex, "typed transaction has 9 fields, expected 8");
	/* signed legacy: r or s not empty */
	legacy_with(7, "01", "already signed");
	legacy_with(8, "01", "already signed");
	legacy_with(7, "c0", "field 'r' is a list");
	/* other types and first bytes */
	refuse("03c0", "unsupported transaction type");
	refuse("7fc0", "unsupported transaction type");
	refuse("00c0", "unsupported transaction type");
	refuse("8180", "neither a typed transaction nor an RLP list");
	refuse("80", "neither");
	refuse("02", "without a payload");
	refuse("0280", "not an RLP list");
	refuse("02820102", "not an RLP list");
	refuse_bytes((const uint8_t *)"", 0, PV_ERR_BAD_INPUT, "empty transaction");
	/* invalid RLP inside */
	refuse("02c20181", "bad RLP");
}

static void
test_integers(void **state)
{
	(void)state;
	t2_with(0, "80", "chain id is 0");
	legacy_with(6, "80", "chain id is 0");
	t2_with(0, "88ffffffffffffffff", "chain id is too large");
	t2_with(0, "887fffffffffffffee", "chain id is too large");
	t2_with(0, "c0", "field 'chain id' is a list");
	t2_with(0, "820001", "field 'chain id' has a leading zero byte");
	t2_with(0, "00", "field 'chain id' has a leading zero byte");
	t2_with(1, "8107", "bad RLP"); /* a byte below 0x80 in string form */
	t2_with(1, "820007", "field 'nonce' has a leading zero byte");
	t2_with(1, "89010000000000000000", "field 'nonce' does not fit 64 bits");
	t2_with(2, "8400000001", "field 'max priority fee' has a leading zero byte");
	t2_with(3, "c0", "field 'max fee' is a list");
	t2_with(4, "89010000000000000000", "field 'gas limit' does not fit 64 bits");
	t2_with(6, "a1010000000000000000000000000000000000000000000000000000000000000000",
		"field 'value' does not fit 256 bits");
	t2_with(6, "a00000000000000000000000000000000000000000000000000000000000000001",
		"field 'value' has a leading zero byte");
	legacy_with(1, "c0", "field 'gas price' is a list");
	legacy_with(0, "8109", "bad RLP");
	legacy_with(6, "89010000000000000000", "field 'chain id' does not fit 64 bits");
	/* the largest values that fit */
	{
		const char *f[9];
		char *hex;

		memcpy(f, t2_fields, sizeof(f));
		f[0] = "887fffffffffffffed";
		f[1] = "88ffffffffffffffff";
		f[6] = "a0ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
		hex = build(2, f, 9);
		accept(hex);
		free(hex);
	}
}

static void
test_to_and_data(void **state)
{
	(void)state;
	t2_with(5, "9335353535353535353535353535353535353535", "field 'to' is 19 bytes, expected 0 or 20");
	t2_with(5, "95353535353535353535353535353535353535353535",
		"field 'to' is 21 bytes, expected 0 or 20");
	t2_with(5, "01", "field 'to' is 1 bytes");
	t2_with(5, "c0", "field 'to' is a list");
	legacy_with(3, "9335353535353535353535353535353535353535", "field 'to' is 19 bytes");
	t2_with(7, "c0", "field 'data' is a list");
	legacy_with(5, "c180", "field 'data' is a list");
}

static void
test_access_lists(void **state)
{
	static const char addr[] = "941111111111111111111111111111111111111111";
	static const char key[] = "a0abababababababababababababababababababababababababababababababab";
	char al[1024];

	(void)state;
	t2_with(8, "80", "field 'access list' is not a list");
	t2_with(8, "c180", "access list entry 0 is not a list");
	snprintf(al, sizeof(al), "d6d5%s", addr);
	t2_with(8, al, "access list entry 0 does not have exactly 2 items");
	snprintf(al, sizeof(al), "d8d7%sc080", addr);
	t2_with(8, al, "access list entry 0 does not have exactly 2 items");
	t2_with(8, "d6d59335353535353535353535353535353535353535c0",
		"entry 0: address is not a 20-byte string");
	t2_with(8, "c3c2c0c0", "entry 0: address is not a 20-byte string");
	snprintf(al, sizeof(al), "d7d6%s80", addr);
	t2_with(8, al, "entry 0: storage keys are not a list");
	snprintf(al, sizeof(al), "f7f6%se09f%s", addr,
		 "ababababababababababababababababababababababababababababababab");
	t2_with(8, al, "entry 0: a storage key is not a 32-byte string");
	snprintf(al, sizeof(al), "d9d8%sc2c180", addr);
	t2_with(8, al, "entry 0: a storage key is not a 32-byte string");
	/* second entry bad, first good */
	snprintf(al, sizeof(al), "eed6%sc0d6%s80", addr, addr);
	t2_with(8, al, "access list entry 1: storage keys are not a list");
	/* good: one entry, one key */
	{
		const char *f[9];
		char *hex;

		snprintf(al, sizeof(al), "f838f7%se1%s", addr, key);
		memcpy(f, t2_fields, sizeof(f));
		f[8] = al;
		hex = build(2, f, 9);
		accept(hex);
		free(hex);
	}
}

/* A type 2 transaction of exactly total bytes, padded with calldata. */
static uint8_t *
sized_tx(size_t total)
{
	/* 02 fa LLLLLL | fixed fields | ba DDDDDD data | c0 */
	static const char fixed[] =
	    "01078459682f008506fc23ac008252089435353535353535353535353535353535353535358806f05b59d3b20000";
	size_t fixed_len = sizeof(fixed) / 2, data_len, payload;
	uint8_t *p = calloc(1, total), *f;
	size_t n;

	assert_non_null(p);
	data_len = total - 10 - fixed_len;
	payload = total - 5;
	p[0] = 0x02;
	p[1] = 0xfa; /* three length bytes: payloads up to 16 MiB */
	p[2] = (uint8_t)(payload >> 16);
	p[3] = (uint8_t)(payload >> 8);
	p[4] = (uint8_t)payload;
	f = unhex(fixed, &n);
	memcpy(p + 5, f, n);
	OPENSSL_free(f);
	p[5 + n] = 0xba;
	p[6 + n] = (uint8_t)(data_len >> 16);
	p[7 + n] = (uint8_t)(data_len >> 8);
	p[8 + n] = (uint8_t)data_len;
	memset(p + 9 + n, 0x5b, data_len);
	p[total - 1] = 0xc0;
	return p;
}

static void
test_size_limit(void **state)
{
	struct pv_evm_tx tx;
	uint8_t *p, rs[64];
	pv_buf *out = NULL;

	(void)state;
	p = sized_tx(PV_EVM_TX_MAX);
	/* the RLP length forms above are only canonical for payloads >= 64 KiB */
	assert_int_equal(pv_evm_tx_parse(p, PV_EVM_TX_MAX, &tx), PV_OK);
	assert_int_equal(tx.data_len, PV_EVM_TX_MAX - 10 - 46);
	memset(rs, 0x22, sizeof(rs));
	assert_int_equal(pv_buf_new(PV_EVM_TX_MAX + 128, &out), PV_OK);
	assert_int_equal(pv_evm_tx_encode_signed(&tx, rs, 1, out), PV_OK);
	assert_int_equal(pv_buf_len(out), PV_EVM_TX_MAX + 1 + 33 + 33);
	free(p);
	pv_buf_free(out);

	p = sized_tx(PV_EVM_TX_MAX + 1);
	refuse_bytes(p, PV_EVM_TX_MAX + 1, PV_ERR_TOO_LARGE, "over");
	free(p);
}

static void
test_encode_usage(void **state)
{
	struct pv_evm_tx tx;
	uint8_t *in, rs[64], hash[32];
	size_t n;
	pv_buf *out = NULL, *tiny = NULL;

	(void)state;
	in = unhex(vecs[0].unsigned_hex, &n);
	assert_int_equal(pv_evm_tx_parse(in, n, &tx), PV_OK);
	assert_int_equal(pv_buf_new(4096, &out), PV_OK);
	memset(rs, 0x33, sizeof(rs));
	assert_int_equal(pv_evm_tx_encode_signed(&tx, rs, 2, out), PV_ERR_USAGE);
	assert_int_equal(pv_evm_tx_encode_signed(&tx, rs, -1, out), PV_ERR_USAGE);
	memset(rs, 0, 32);
	assert_int_equal(pv_evm_tx_encode_signed(&tx, rs, 0, out), PV_ERR_USAGE);
	memset(rs, 0x33, 32);
	memset(rs + 32, 0, 32);
	assert_int_equal(pv_evm_tx_encode_signed(&tx, rs, 0, out), PV_ERR_USAGE);
	assert_int_equal(pv_buf_len(out), 0);
	/* r = 1, s = 1: one-byte integers encode as themselves */
	memset(rs, 0, sizeof(rs));
	rs[31] = 1;
	rs[63] = 1;
	assert_int_equal(pv_evm_tx_encode_signed(&tx, rs, 1, out), PV_OK);
	assert_int_equal(pv_buf_len(out), n + 3);
	assert_memory_equal(pv_buf_ptr(out) + n, "\x01\x01\x01", 3);
	/* too small an output: nothing written */
	assert_int_equal(pv_buf_new(16, &tiny), PV_OK);
	assert_int_equal(pv_evm_tx_encode_signed(&tx, rs, 1, tiny), PV_ERR_TOO_LARGE);
	assert_int_equal(pv_buf_len(tiny), 0);
	assert_int_equal(pv_evm_tx_parse(NULL, 1, &tx), PV_ERR_USAGE);
	assert_int_equal(pv_evm_tx_parse(in, n, NULL), PV_ERR_USAGE);
	assert_int_equal(pv_evm_tx_hash(NULL, 1, hash), PV_ERR_USAGE);
	memset(&tx, 0, sizeof(tx));
	assert_int_equal(pv_evm_tx_signing_hash(&tx, hash), PV_ERR_USAGE);
	assert_int_equal(pv_evm_tx_encode_signed(&tx, rs, 0, out), PV_ERR_USAGE);
	pv_buf_free(tiny);
	pv_buf_free(out);
	OPENSSL_free(in);
}

static void
test_decimal(void **state)
{
	uint8_t v[32];
	char dec[PV_EVM_DECIMAL_MAX];
	int cmp = 99;

	(void)state;
	memset(v, 0, sizeof(v));
	assert_int_equal(pv_evm_value_decimal(v, dec), PV_OK);
	assert_string_equal(dec, "0");
	assert_int_equal(pv_evm_value_cmp_decimal(v, "0", &cmp), PV_OK);
	assert_int_equal(cmp, 0);
	assert_int_equal(pv_evm_value_cmp_decimal(v, "1", &cmp), PV_OK);
	assert_true(cmp < 0);
	v[31] = 1;
	assert_int_equal(pv_evm_value_decimal(v, dec), PV_OK);
	assert_string_equal(dec, "1");
	assert_int_equal(pv_evm_value_cmp_decimal(v, "1", &cmp), PV_OK);
	assert_int_equal(cmp, 0);
	assert_int_equal(pv_evm_value_cmp_decimal(v, "0", &cmp), PV_OK);
	assert_true(cmp > 0);
	memset(v, 0xff, sizeof(v));
	assert_int_equal(pv_evm_value_decimal(v, dec), PV_OK);
	assert_string_equal(dec, U256_MAX_DEC);
	assert_int_equal(pv_evm_value_cmp_decimal(v, U256_MAX_DEC, &cmp), PV_OK);
	assert_int_equal(cmp, 0);
	assert_int_equal(pv_evm_value_cmp_decimal(v, "1000000000000000000", &cmp), PV_OK);
	assert_true(cmp > 0);
	/* 10^18 = 0x0de0b6b3a7640000 */
	memset(v, 0, sizeof(v));
	unhex_exact("0de0b6b3a7640000", v + 24, 8);
	assert_int_equal(pv_evm_value_cmp_decimal(v, "1000000000000000000", &cmp), PV_OK);
	assert_int_equal(cmp, 0);
	assert_int_equal(pv_evm_value_cmp_decimal(v, "999999999999999999", &cmp), PV_OK);
	assert_true(cmp > 0);
	assert_int_equal(pv_evm_value_cmp_decimal(v, "1000000000000000001", &cmp), PV_OK);
	assert_true(cmp < 0);

	/* refused */
	assert_int_equal(pv_evm_value_cmp_decimal(v, U256_OVER, &cmp), PV_ERR_BAD_INPUT);
	assert_non_null(strstr(pv_err_detail(), "over 2^256-1"));
	assert_int_equal(pv_evm_value_cmp_decimal(v, U256_MAX_DEC "0", &cmp), PV_ERR_BAD_INPUT);
	assert_int_equal(pv_evm_value_cmp_decimal(v, "", &cmp), PV_ERR_BAD_INPUT);
	assert_non_null(strstr(pv_err_detail(), "empty"));
	assert_int_equal(pv_evm_value_cmp_decimal(v, "+1", &cmp), PV_ERR_BAD_INPUT);
	assert_non_null(strstr(pv_err_detail(), "not a digit"));
	assert_int_equal(pv_evm_value_cmp_decimal(v, "-1", &cmp), PV_ERR_BAD_INPUT);
	assert_int_equal(pv_evm_value_cmp_decimal(v, "1a", &cmp), PV_ERR_BAD_INPUT);
	assert_int_equal(pv_evm_value_cmp_decimal(v, " 1", &cmp), PV_ERR_BAD_INPUT);
	assert_int_equal(pv_evm_value_cmp_decimal(v, "1 ", &cmp), PV_ERR_BAD_INPUT);
	assert_int_equal(pv_evm_value_cmp_decimal(v, "0x10", &cmp), PV_ERR_BAD_INPUT);
	assert_int_equal(pv_evm_value_cmp_decimal(v, "01", &cmp), PV_ERR_BAD_INPUT);
	assert_non_null(strstr(pv_err_detail(), "leading zero"));
	assert_int_equal(pv_evm_value_cmp_decimal(v, NULL, &cmp), PV_ERR_USAGE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vectors),
	    cmocka_unit_test(test_eip155_fields),
	    cmocka_unit_test(test_truncations_and_trailing),
	    cmocka_unit_test(test_forms),
	    cmocka_unit_test(test_integers),
	    cmocka_unit_test(test_to_and_data),
	    cmocka_unit_test(test_access_lists),
	    cmocka_unit_test(test_size_limit),
	    cmocka_unit_test(test_encode_usage),
	    cmocka_unit_test(test_decimal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
