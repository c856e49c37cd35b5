/*
 * EIP-712 typed data tests.
 *
 * Known answers: the EIP's own "Mail" example (EIP-712 text and
 * assets/eip-712/Example.js of ethereum/EIPs: encodeType, typeHash
 * 0xa0cedeb2..., domainSeparator 0xf2cee375..., hashStruct(message)
 * 0xc52c0ee5..., digest 0xbe609aee...), and vectors generated with ethers
 * 6.13.5 (npm ethers@6.13.5) by this script over the JSON documents below
 * (node gen.mjs docs.json; each document's EIP712Domain is dropped for
 * ethers, which builds the domain type from the domain's own members):
 *
 *   import { TypedDataEncoder } from "ethers";
 *   for (const [name, text] of Object.entries(docs)) {
 *     const d = JSON.parse(text), types = { ...d.types };
 *     delete types.EIP712Domain;
 *     const enc = TypedDataEncoder.from(types);
 *     print(name, enc.encodeType(d.primaryType), TypedDataEncoder.hashDomain(d.domain),
 *           enc.hash(d.message), TypedDataEncoder.hash(d.domain, types, d.message));
 *   }
 *
 * arrays: struct arrays, address[], string[3], an empty uint256[], UTF-8
 * text, chainId as 0x string; nested: Row[][] of structs with Cell[2],
 * int32[2][], bool[], a bytes32 salt, dependencies sorted by name; bytes:
 * dynamic bytes (empty too), bytes1/4/16/32, bytes[], mixed-case hex; ints:
 * int8/int256 bounds, -1, uint256 max, int64 min, 2^53-1 as a JSON number,
 * negative hex, bools; permit: an EIP-2612 Permit for USDC on mainnet (its
 * domain separator is the contract's DOMAIN_SEPARATOR()).
 *
 * Signing: pv_wallet_evm_sign_typed_data with a software signer (RFC 6979
 * ECDSA in libsecp256k1, as ethereumjs-util's ecsign) over the EIP's
 * example key keccak256("cow") reproduces Example.js's signature of the
 * Mail example (r 0x4355c47d..., s 0x07299936..., v 28).
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
#include <secp256k1.h>

#include "core/b64.h"
#include "core/keccak.h"
#include "core/pubkey.h"
#include "wallet/eip712.h"
#include "wallet/wallet.h"

struct vec {
	const char *name, *json, *encode_type, *domain, *message, *digest;
};

#define MAIL_JSON                                                                                            \
	"{\"types\":{\"EIP712Domain\":[{\"name\":\"name\",\"type\":\"string\"},{\"name\":\"version\",\"ty"   \
	"pe\":\"string\"},{\"name\":\"chainId\",\"type\":\"uint256\"},{\"name\":\"verifyingContract\",\"t"   \
	"ype\":\"address\"}],\"Person\":[{\"name\":\"name\",\"type\":\"string\"},{\"name\":\"wallet\",\"t"   \
	"ype\":\"address\"}],\"Mail\":[{\"name\":\"from\",\"type\":\"Person\"},{\"name\":\"to\",\"type\":"   \
	"\"Person\"},{\"name\":\"contents\",\"type\":\"string\"}]},\"primaryType\":\"Mail\",\"domain\":{\""  \
	"name\":\"Ether Mail\",\"version\":\"1\",\"chainId\":1,\"verifyingContract\":\"0xCcCCccccCCCCcCCC"   \
	"CCCcCcCccCcCCCcCcccccccC\"},\"message\":{\"from\":{\"name\":\"Cow\",\"wallet\":\"0xCD2a3d9F938E1"   \
	"3CD947Ec05AbC7FE734Df8DD826\"},\"to\":{\"name\":\"Bob\",\"wallet\":\"0xbBbBBBBbbBBBbbbBbbBbbbbBB"   \
	"bBbbbbBbBbbBBbB\"},\"contents\":\"Hello, Bob!\"}}"

#define ARRAYS_JSON                                                                                          \
	"{\"types\":{\"EIP712Domain\":[{\"name\":\"name\",\"type\":\"string\"},{\"name\":\"chainId\",\"ty"   \
	"pe\":\"uint256\"}],\"Person\":[{\"name\":\"name\",\"type\":\"string\"},{\"name\":\"wallets\",\"t"   \
	"ype\":\"address[]\"}],\"Mail\":[{\"name\":\"from\",\"type\":\"Person\"},{\"name\":\"to\",\"type\""  \
	":\"Person[]\"},{\"name\":\"contents\",\"type\":\"string\"},{\"name\":\"tags\",\"type\":\"string["   \
	"3]\"},{\"name\":\"empty\",\"type\":\"uint256[]\"}]},\"primaryType\":\"Mail\",\"domain\":{\"name\""  \
	":\"Ether Mail\",\"chainId\":\"0x89\"},\"message\":{\"from\":{\"name\":\"Cow\",\"wallets\":[\"0xc"   \
	"d2a3d9f938e13cd947ec05abc7fe734df8dd826\",\"0xDEADBEEFDEADBEEFDEADBEEFDEADBEEFDEADBEEF\"]},\"to\""  \
	":[{\"name\":\"Bob\",\"wallets\":[\"0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB\"]},{\"name\":\"Al"   \
	"ice\",\"wallets\":[]}],\"contents\":\"Hello, Bob! \303\251\344\270\226\360\237\230\200\",\"tags\""  \
	":[\"a\",\"\",\"c\"],\"empty\":[]}}"

#define NESTED_JSON                                                                                          \
	"{\"types\":{\"EIP712Domain\":[{\"name\":\"name\",\"type\":\"string\"},{\"name\":\"version\",\"ty"   \
	"pe\":\"string\"},{\"name\":\"chainId\",\"type\":\"uint256\"},{\"name\":\"verifyingContract\",\"t"   \
	"ype\":\"address\"},{\"name\":\"salt\",\"type\":\"bytes32\"}],\"Cell\":[{\"name\":\"x\",\"type\":"   \
	"\"int16\"},{\"name\":\"y\",\"type\":\"uint8\"}],\"Row\":[{\"name\":\"cells\",\"type\":\"Cell[2]\""  \
	"},{\"name\":\"flags\",\"type\":\"bool[]\"}],\"Grid\":[{\"name\":\"rows\",\"type\":\"Row[][]\"},{"   \
	"\"name\":\"matrix\",\"type\":\"int32[2][]\"},{\"name\":\"owner\",\"type\":\"Zone\"}],\"Zone\":[{"   \
	"\"name\":\"id\",\"type\":\"uint64\"},{\"name\":\"cells\",\"type\":\"Cell[]\"}]},\"primaryType\":"   \
	"\"Grid\",\"domain\":{\"name\":\"Grid\",\"version\":\"7\",\"chainId\":11155111,\"verifyingContrac"   \
	"t\":\"0x1111111111111111111111111111111111111111\",\"salt\":\"0xabababababababababababababababab"   \
	"ababababababababababababababab01\"},\"message\":{\"rows\":[[{\"cells\":[{\"x\":-1,\"y\":2},{\"x\""  \
	":32767,\"y\":255}],\"flags\":[true,false]}],[],[{\"cells\":[{\"x\":-32768,\"y\":0},{\"x\":0,\"y\""  \
	":1}],\"flags\":[]},{\"cells\":[{\"x\":5,\"y\":6},{\"x\":7,\"y\":8}],\"flags\":[false]}]],\"matri"   \
	"x\":[[1,-2],[\"-2147483648\",\"2147483647\"],[0,0]],\"owner\":{\"id\":\"18446744073709551615\",\""  \
	"cells\":[]}}}"

#define BYTES_JSON                                                                                           \
	"{\"types\":{\"EIP712Domain\":[{\"name\":\"name\",\"type\":\"string\"},{\"name\":\"verifyingContr"   \
	"act\",\"type\":\"address\"}],\"Blob\":[{\"name\":\"data\",\"type\":\"bytes\"},{\"name\":\"none\""   \
	",\"type\":\"bytes\"},{\"name\":\"tag\",\"type\":\"bytes4\"},{\"name\":\"h\",\"type\":\"bytes32\""   \
	"},{\"name\":\"one\",\"type\":\"bytes1\"},{\"name\":\"many\",\"type\":\"bytes[]\"},{\"name\":\"id"   \
	"s\",\"type\":\"bytes16[2]\"}]},\"primaryType\":\"Blob\",\"domain\":{\"name\":\"Blobs\",\"verifyi"   \
	"ngContract\":\"0x000000000000000000000000000000000000dEaD\"},\"message\":{\"data\":\"0x00ff00ff0"   \
	"0ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff0"   \
	"0ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ffAbCd\",\"none\":\"0x\",\"tag\":\"0xDEADbe"   \
	"ef\",\"h\":\"0x1212121212121212121212121212121212121212121212121212121212121212\",\"one\":\"0x7f"   \
	"\",\"many\":[\"0x\",\"0x01\",\"0xeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"   \
	"eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"   \
	"eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee\"],\"ids\":[\"0x01010101010101010101010101010101\",\"0"   \
	"xF0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0\"]}}"

#define INTS_JSON                                                                                            \
	"{\"types\":{\"EIP712Domain\":[{\"name\":\"chainId\",\"type\":\"uint256\"}],\"Nums\":[{\"name\":\""  \
	"i8min\",\"type\":\"int8\"},{\"name\":\"i8max\",\"type\":\"int8\"},{\"name\":\"m1\",\"type\":\"in"   \
	"t256\"},{\"name\":\"i256min\",\"type\":\"int256\"},{\"name\":\"i256max\",\"type\":\"int256\"},{\""  \
	"name\":\"u256max\",\"type\":\"uint256\"},{\"name\":\"u8\",\"type\":\"uint8\"},{\"name\":\"neg64\""  \
	",\"type\":\"int64\"},{\"name\":\"safe\",\"type\":\"uint256\"},{\"name\":\"negsafe\",\"type\":\"i"   \
	"nt64\"},{\"name\":\"t\",\"type\":\"bool\"},{\"name\":\"f\",\"type\":\"bool\"},{\"name\":\"hexneg"   \
	"\",\"type\":\"int128\"},{\"name\":\"zero\",\"type\":\"uint256\"},{\"name\":\"u160\",\"type\":\"u"   \
	"int160\"}]},\"primaryType\":\"Nums\",\"domain\":{\"chainId\":\"1\"},\"message\":{\"i8min\":-128,"   \
	"\"i8max\":\"127\",\"m1\":\"-1\",\"i256min\":\"-5789604461865809771178549250434395392663499233282"   \
	"0282019728792003956564819968\",\"i256max\":\"0x7ffffffffffffffffffffffffffffffffffffffffffffffff"   \
	"fffffffffffffff\",\"u256max\":\"0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"   \
	"ff\",\"u8\":255,\"neg64\":\"-9223372036854775808\",\"safe\":9007199254740991,\"negsafe\":-900719"   \
	"9254740991,\"t\":true,\"f\":false,\"hexneg\":\"-0x80\",\"zero\":\"0\",\"u160\":\"0x0000000000000"   \
	"0000000000000000000000000000000000000000000000000ff\"}}"

#define PERMIT_JSON                                                                                          \
	"{\"types\":{\"EIP712Domain\":[{\"name\":\"name\",\"type\":\"string\"},{\"name\":\"version\",\"ty"   \
	"pe\":\"string\"},{\"name\":\"chainId\",\"type\":\"uint256\"},{\"name\":\"verifyingContract\",\"t"   \
	"ype\":\"address\"}],\"Permit\":[{\"name\":\"owner\",\"type\":\"address\"},{\"name\":\"spender\","   \
	"\"type\":\"address\"},{\"name\":\"value\",\"type\":\"uint256\"},{\"name\":\"nonce\",\"type\":\"u"   \
	"int256\"},{\"name\":\"deadline\",\"type\":\"uint256\"}]},\"primaryType\":\"Permit\",\"domain\":{"   \
	"\"name\":\"USD Coin\",\"version\":\"2\",\"chainId\":1,\"verifyingContract\":\"0xA0b86991c6218b36"   \
	"c1d19D4a2e9Eb0cE3606eB48\"},\"message\":{\"owner\":\"0x2c7536E3605D9C16a7a3D7b1898e529396a65c23\""  \
	",\"spender\":\"0x000000000022D473030F116dDEE9F6B43aC78BA3\",\"value\":\"115792089237316195423570"   \
	"985008687907853269984665640564039457584007913129639935\",\"nonce\":0,\"deadline\":\"1767225600\""   \
	"}}"

static const struct vec vecs[] = {
    {"mail", MAIL_JSON, "Mail(Person from,Person to,string contents)Person(string name,address wallet)",
     "f2cee375fa42b42143804025fc449deafd50cc031ca257e0b194a650a912090f",
     "c52c0ee5d84264471806290a3f2c4cecfc5490626bf912d01f240d7a274b371e",
     "be609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2"},
    {"arrays", ARRAYS_JSON,
     "Mail(Person from,Person[] to,string contents,string[3] tags,uint256[] empty)Person(string name,address[] wallets)",
     "18759dfd10c060134f9232b20a034b89ec140eb9c1adcf35fe704a79441f0569",
     "6fa1b1a0b268a648dc22a3ab7e42f9f1c33cca1d2a9eafcbc59bfc83f0e13e60",
     "f8cc9f0e07f77953a4f43446829148bacf610b367d5360d190646e15da249064"},
    {"nested", NESTED_JSON,
     "Grid(Row[][] rows,int32[2][] matrix,Zone owner)Cell(int16 x,uint8 y)Row(Cell[2] cells,bool[] flags)Zone(uint64 id,Cell[] cells)",
     "32fb337ddc0832649daaf05d8e71a5953791f25b19886d4965b4e3cb43c4bc33",
     "e86b00b5caa34d28908e9ce5d64ca0685f4f9164b094d0800a9e885e42ab34e2",
     "7d8603fdbcc2823a4a0ae236949f553e4b34dc1bbd27fdc3fee819b7220a4cda"},
    {"bytes", BYTES_JSON,
     "Blob(bytes data,bytes none,bytes4 tag,bytes32 h,bytes1 one,bytes[] many,bytes16[2] ids)",
     "87a2652bb6dc70a3a19018f97557991f848b2bc995ade61858ffb168f84a6e11",
     "4ae6b9231f962e2d8de33f5fb196103db4bbd565853e3f60aa15b974b5d40ba5",
     "2f9f827d38fde3210cdf5828a8c72127e891f524337912858f798f5dbd7a7719"},
    {"ints", INTS_JSON,
     "Nums(int8 i8min,int8 i8max,int256 m1,int256 i256min,int256 i256max,uint256 u256max,uint8 u8,int64 neg64,uint256 safe,int64 negsafe,bool t,bool f,int128 hexneg,uint256 zero,uint160 u160)",
     "2d9145f2f941cb14d4c738374c6ebde69c75a737e93da5905ee040bab57e46a8",
     "d2eadcd6fab5aba361cb8782fcba3136d0f061ce5492bc336c3d35cca22afd93",
     "eb31e8098d46dff787c58386d13db94c2c010e6628f1df838b5c29270879e434"},
    {"permit", PERMIT_JSON,
     "Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)",
     "06c37168a7db5138defc7866392bb87a741f9b3d104deb5094588ce041cae335",
     "943709a796f1bbc30705a8c6bb0f342dfea11b4b97d5e803d383983aa4485af2",
     "a97bc7d4421e305358341e52e94da005c40fabde6c6a39375dc6211eef4dd776"},
};

#define MAIL_ENCODE_TYPE "Mail(Person from,Person to,string contents)Person(string name,address wallet)"
#define MAIL_TYPE_HASH   "a0cedeb2dc280ba39b857546d74f5549c3a1d7bdc2dd96bf881f76108e23dac2"

/* got (len bytes) is the hex text want. */
static void
hex_eq(const uint8_t *got, size_t len, const char *want)
{
	uint8_t buf[64];
	size_t n = 0;

	assert_true(len <= sizeof(buf));
	assert_int_equal(pv_hex_decode(want, strlen(want), buf, sizeof(buf), &n), PV_OK);
	assert_int_equal(n, len);
	assert_memory_equal(got, buf, len);
}

static pv_err
hash_str(const char *json, struct pv_eip712_hashes *h)
{
	return pv_eip712_hash((const uint8_t *)json, strlen(json), h);
}

static void
test_mail_spec(void **state)
{
	struct pv_eip712_hashes h;
	uint8_t th[32];
	char *et = NULL;

	(void)state;
	assert_int_equal(hash_str(MAIL_JSON, &h), PV_OK);
	hex_eq(h.domain_separator, 32, "f2cee375fa42b42143804025fc449deafd50cc031ca257e0b194a650a912090f");
	hex_eq(h.message_hash, 32, "c52c0ee5d84264471806290a3f2c4cecfc5490626bf912d01f240d7a274b371e");
	hex_eq(h.digest, 32, "be609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2");
	assert_true(h.has_chain_id && h.chain_id_fits);
	assert_true(h.chain_id == 1);
	assert_int_equal(pv_eip712_encode_type((const uint8_t *)MAIL_JSON, strlen(MAIL_JSON), "Mail", &et),
			 PV_OK);
	assert_string_equal(et, MAIL_ENCODE_TYPE);
	pv_keccak256((const uint8_t *)et, strlen(et), th);
	hex_eq(th, 32, MAIL_TYPE_HASH);
	free(et);
	assert_int_equal(pv_eip712_encode_type((const uint8_t *)MAIL_JSON, strlen(MAIL_JSON), "Person", &et),
			 PV_OK);
	assert_string_equal(et, "Person(string name,address wallet)");
	free(et);
	assert_int_equal(pv_eip712_encode_type((const uint8_t *)MAIL_JSON, strlen(MAIL_JSON), "Nobody", &et),
			 PV_ERR_NOT_FOUND);
	assert_null(et);
}

static void
test_ethers_vectors(void **state)
{
	struct pv_eip712_hashes h;
	const char *primary;
	char *et = NULL, name[64];
	size_t i, n;

	(void)state;
	for (i = 0; i < PV_NELEM(vecs); i++) {
		print_message("%s\n", vecs[i].name);
		assert_int_equal(hash_str(vecs[i].json, &h), PV_OK);
		hex_eq(h.domain_separator, 32, vecs[i].domain);
		hex_eq(h.message_hash, 32, vecs[i].message);
		hex_eq(h.digest, 32, vecs[i].digest);
		primary = vecs[i].encode_type;
		n = (size_t)(strchr(primary, '(') - primary);
		memcpy(name, primary, n);
		name[n] = '\0';
		assert_int_equal(
		    pv_eip712_encode_type((const uint8_t *)vecs[i].json, strlen(vecs[i].json), name, &et),
		    PV_OK);
		assert_string_equal(et, vecs[i].encode_type);
		free(et);
	}
	/* the same from a tree cJSON parsed (vaultd's path) */
	for (i = 0; i < PV_NELEM(vecs); i++) {
		cJSON *doc = cJSON_Parse(vecs[i].json);

		assert_non_null(doc);
		assert_int_equal(pv_eip712_hash_json(doc, &h), PV_OK);
		hex_eq(h.digest, 32, vecs[i].digest);
		cJSON_Delete(doc);
	}
	/* the domains' chain ids as policy sees them */
	assert_int_equal(hash_str(ARRAYS_JSON, &h), PV_OK);
	assert_true(h.has_chain_id && h.chain_id_fits && h.chain_id == 137);
	assert_int_equal(hash_str(BYTES_JSON, &h), PV_OK);
	assert_false(h.has_chain_id);
	assert_int_equal(hash_str(NESTED_JSON, &h), PV_OK);
	assert_true(h.chain_id == 11155111);
}

/* Whitespace, member order, trailing newline and other spellings of the
 * same values give the same digest. */
static void
test_same_digest(void **state)
{
	static const char *const forms[] = {
	    "\n {\"message\":{\"contents\":\"Hello, Bob!\",\"to\":{\"wallet\":\"0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\","
	    "\"name\":\"Bob\"},\"from\":{\"name\":\"Cow\",\"wallet\":\"0xCD2A3D9F938E13CD947EC05ABC7FE734DF8DD826\"}},"
	    "\"domain\":{\"chainId\":\"0x01\",\"name\":\"Ether Mail\",\"verifyingContract\":"
	    "\"0xcccccccccccccccccccccccccccccccccccccccc\",\"version\":\"1\"},\"primaryType\":\"Mail\",\"types\":{"
	    "\"Mail\":[{\"type\":\"Person\",\"name\":\"from\"},{\"name\":\"to\",\"type\":\"Person\"},{\"name\":"
	    "\"contents\",\"type\":\"string\"}],\"Person\":[{\"name\":\"name\",\"type\":\"string\"},{\"name\":"
	    "\"wallet\",\"type\":\"address\"}],\"EIP712Domain\":[{\"name\":\"name\",\"type\":\"string\"},{\"name\":"
	    "\"version\",\"type\":\"string\"},{\"name\":\"chainId\",\"type\":\"uint256\"},{\"name\":"
	    "\"verifyingContract\",\"type\":\"address\"}]}}\r\n\t ",
	};
	struct pv_eip712_hashes h;
	size_t i;

	(void)state;
	for (i = 0; i < PV_NELEM(forms); i++) {
		assert_int_equal(hash_str(forms[i], &h), PV_OK);
		hex_eq(h.digest, 32, "be609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2");
	}
}

/* MAIL_JSON with the first occurrence of from replaced by to. */
static char *
mail_with(const char *from, const char *to)
{
	const char *at = strstr(MAIL_JSON, from);
	size_t pre, n;
	char *s;

	assert_non_null(at);
	pre = (size_t)(at - MAIL_JSON);
	n = strlen(MAIL_JSON) - strlen(from) + strlen(to);
	s = malloc(n + 1);
	assert_non_null(s);
	memcpy(s, MAIL_JSON, pre);
	memcpy(s + pre, to, strlen(to));
	memcpy(s + pre + strlen(to), at + strlen(from), strlen(at + strlen(from)) + 1);
	return s;
}

static void
expect_refused(const char *json, size_t len, pv_err want, const char *detail)
{
	struct pv_eip712_hashes h;
	static const struct pv_eip712_hashes zero;

	memset(&h, 0xa5, sizeof(h));
	pv_err_clear_detail();
	assert_int_equal(pv_eip712_hash((const uint8_t *)json, len, &h), want);
	assert_memory_equal(&h, &zero, sizeof(h));
	if (strstr(pv_err_detail(), detail) == NULL)
		fail_msg("detail \"%s\" does not contain \"%s\"", pv_err_detail(), detail);
}

static void
test_refusals_mail(void **state)
{
	static const struct {
		const char *from, *to, *detail;
	} cases[] = {
	    /* types */
	    {"\"type\":\"Person\"}", "\"type\":\"Persn\"}", "unknown type Persn"},
	    {"\"Person\":[{\"name\":\"name\",\"type\":\"string\"}",
	     "\"Person\":[{\"name\":\"name\",\"type\":\"Mail\"}", "refers to itself"},
	    {"{\"name\":\"wallet\",\"type\":\"address\"}", "{\"name\":\"wallet\",\"type\":\"Person[]\"}",
	     "refers to itself"},
	    {"{\"name\":\"wallet\",\"type\":\"address\"}", "{\"name\":\"name\",\"type\":\"address\"}",
	     "field name appears twice"},
	    {"\"Person\":[", "\"Per son\":[", "not an identifier"},
	    {"\"Mail\":[", "\"Person\":[],\"Mail\":[", "member \"Person\" appears twice"},
	    {"\"Person\":[", "\"uint256\":[", "is an atomic type's"},
	    {"{\"name\":\"wallet\",", "{\"name\":\"wal-let\",", "not an identifier"},
	    {"{\"name\":\"wallet\",\"type\":\"address\"}",
	     "{\"name\":\"wallet\",\"type\":\"address\",\"x\":1}", "and nothing else"},
	    {"\"type\":\"address\"}]", "\"type\":\"address \"}]", "not an identifier"},
	    {"\"type\":\"address\"}]", "\"type\":\"uint7\"}]", "uint7 is not valid"},
	    {"\"type\":\"address\"}]", "\"type\":\"uint\"}]", "uint is not valid"},
	    {"\"type\":\"address\"}]", "\"type\":\"int264\"}]", "int264 is not valid"},
	    {"\"type\":\"address\"}]", "\"type\":\"bytes33\"}]", "bytes33 is not valid"},
	    {"\"type\":\"address\"}]", "\"type\":\"bytes0\"}]", "bytes0 is not valid"},
	    {"\"type\":\"address\"}]", "\"type\":\"address[0]\"}]", "fixed array length"},
	    {"\"type\":\"address\"}]", "\"type\":\"address[01]\"}]", "fixed array length"},
	    {"\"type\":\"address\"}]", "\"type\":\"address[1\"}]", "[] or [k]"},
	    {"\"type\":\"address\"}]", "\"type\":\"address[]x\"}]", "[] or [k]"},
	    {"\"type\":\"address\"}]", "\"type\":\"EIP712Domain\"}]", "cannot be the type of a field"},
	    {"\"primaryType\":\"Mail\"", "\"primaryType\":\"EIP712Domain\"", "signing the domain alone"},
	    {"\"primaryType\":\"Mail\"", "\"primaryType\":\"Letter\"", "primaryType is not the name"},
	    {"\"primaryType\":\"Mail\"", "\"primaryType\":1", "primaryType is not the name"},
	    {"\"primaryType\":\"Mail\",", "", "member primaryType is missing"},
	    {"\"primaryType\":\"Mail\",", "\"primaryType\":\"Mail\",\"extra\":{},",
	     "member extra is not one of"},
	    {"\"EIP712Domain\":", "\"EIP712Domian\":", "types has no EIP712Domain"},
	    {"{\"name\":\"version\",\"type\":\"string\"},", "{\"name\":\"httpOrigin\",\"type\":\"string\"},",
	     "field httpOrigin is not one of"},
	    {"{\"name\":\"name\",\"type\":\"string\"},{\"name\":\"version\",\"type\":\"string\"},",
	     "{\"name\":\"version\",\"type\":\"string\"},{\"name\":\"name\",\"type\":\"string\"},",
	     "(in that order)"},
	    {"{\"name\":\"chainId\",\"type\":\"uint256\"}", "{\"name\":\"chainId\",\"type\":\"uint64\"}",
	     "field chainId must have type uint256"},
	    {"\"types\":{", "\"types\":[],\"x\":{", "member x is not one of"},
	    /* domain values */
	    {"\"chainId\":1,", "", "field chainId of EIP712Domain is missing"},
	    {"\"chainId\":1,", "\"chainId\":1,\"salt\":\"0x00\",",
	     "member salt is not a field of EIP712Domain"},
	    {"\"chainId\":1,", "\"chainId\":-1,", "domain.chainId: value out of range for uint256"},
	    {"\"chainId\":1,", "\"chainId\":1.5,", "domain.chainId: a JSON number must be an integer"},
	    {"\"chainId\":1,", "\"chainId\":9007199254740992,", "a JSON number must be an integer"},
	    {"\"chainId\":1,", "\"chainId\":1e300,", "a JSON number must be an integer"},
	    {"\"chainId\":1,", "\"chainId\":\"01\",", "an integer string is"},
	    {"\"chainId\":1,", "\"chainId\":\"0x\",", "an integer string is"},
	    {"\"chainId\":1,", "\"chainId\":\" 1\",", "an integer string is"},
	    {"\"chainId\":1,", "\"chainId\":\"1a\",", "an integer string is"},
	    {"\"chainId\":1,", "\"chainId\":\"+1\",", "an integer string is"},
	    {"\"chainId\":1,", "\"chainId\":true,", "an integer is a JSON number or a string"},
	    {"\"chainId\":1,", "\"chainId\":null,", "an integer is a JSON number or a string"},
	    {"\"chainId\":1,",
	     "\"chainId\":\"0x10000000000000000000000000000000000000000000000000000000000000000\",",
	     "an integer string is"},
	    {"\"chainId\":1,",
	     "\"chainId\":\"115792089237316195423570985008687907853269984665640564039457584007913129639936\",",
	     "value out of range for uint256"},
	    {"\"name\":\"Ether Mail\"", "\"name\":7", "domain.name: a string is a JSON string"},
	    /* message values */
	    {",\"contents\":\"Hello, Bob!\"", "", "field contents of Mail is missing"},
	    {",\"contents\":\"Hello, Bob!\"", ",\"contents\":\"Hello, Bob!\",\"cc\":\"x\"",
	     "member cc is not a field of Mail"},
	    {",\"contents\":\"Hello, Bob!\"", ",\"contents\":\"Hello, Bob!\",\"contents\":\"x\"",
	     "member \"contents\" appears twice"},
	    {"\"wallet\":\"0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826\"",
	     "\"wallet\":\"0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD827\"",
	     "message.from.wallet: bad EIP-55 checksum"},
	    {"\"wallet\":\"0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826\"",
	     "\"wallet\":\"0xCd2a3d9F938E13CD947Ec05AbC7FE734Df8DD826\"", "bad EIP-55 checksum"},
	    {"\"wallet\":\"0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826\"",
	     "\"wallet\":\"0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD8\"",
	     "message.from.wallet: an EVM address is"},
	    {"\"wallet\":\"0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826\"",
	     "\"wallet\":\"cd2a3d9f938e13cd947ec05abc7fe734df8dd826\"", "an EVM address is"},
	    {"\"wallet\":\"0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826\"", "\"wallet\":1",
	     "an address is a string"},
	    {"\"to\":{\"name\":\"Bob\"", "\"to\":{\"name\":null",
	     "message.to.name: a string is a JSON string"},
	    {"\"to\":{\"name\":\"Bob\",\"wallet\":\"0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB\"}",
	     "\"to\":[]", "message.to: not an object (a Person)"},
	    {"\"message\":{", "\"message\":[],\"x\":{", "member x is not one of"},
	    /* text */
	    {"Hello, Bob!", "Hello,\\u0000Bob!", "NUL character"},
	    {"Hello, Bob!", "Hello, \\uDC00Bob!", "not JSON"},
	    {"Hello, Bob!", "Hello, \xc3\x28 Bob!", "not valid UTF-8"},
	    {"Hello, Bob!", "Hello, \xed\xa0\x80 Bob!", "not valid UTF-8"},
	    {"\"Hello, Bob!\"}}", "\"Hello, Bob!\"}} x", "bytes after the JSON object"},
	    {"\"Hello, Bob!\"}}", "\"Hello, Bob!\"}}{}", "bytes after the JSON object"},
	    {"\"Hello, Bob!\"}}", "\"Hello, Bob!\"}", "not JSON"},
	};
	size_t i;
	char *s;

	(void)state;
	for (i = 0; i < PV_NELEM(cases); i++) {
		print_message("case %zu: %s\n", i, cases[i].detail);
		s = mail_with(cases[i].from, cases[i].to);
		expect_refused(s, strlen(s), PV_ERR_BAD_INPUT, cases[i].detail);
		free(s);
	}
	/* a raw NUL inside the text (cJSON would stop there) */
	s = strdup(MAIL_JSON);
	assert_non_null(s);
	*strstr(s, "Hello") = '\0';
	expect_refused(s, strlen(MAIL_JSON), PV_ERR_BAD_INPUT, "NUL character");
	free(s);
	expect_refused("[]", 2, PV_ERR_BAD_INPUT, "not a JSON object");
	expect_refused("", 0, PV_ERR_BAD_INPUT, "not JSON");
	assert_int_equal(pv_eip712_hash(NULL, 0, &(struct pv_eip712_hashes){0}), PV_ERR_USAGE);
}

/* A one-field document: {"v": VALUE} of type TYPE. */
static char *
one_field(const char *type, const char *value)
{
	char *s = NULL;

	assert_true(asprintf(&s,
			     "{\"types\":{\"EIP712Domain\":[],\"T\":[{\"name\":\"v\",\"type\":\"%s\"}]},"
			     "\"primaryType\":\"T\",\"domain\":{},\"message\":{\"v\":%s}}",
			     type, value) > 0);
	return s;
}

static void
test_values(void **state)
{
	static const struct {
		const char *type, *value, *detail; /* detail NULL: accepted */
	} cases[] = {
	    {"uint8", "255", NULL},
	    {"uint8", "256", "out of range for uint8"},
	    {"uint8", "\"0x100\"", "out of range for uint8"},
	    {"uint8", "-1", "out of range for uint8"},
	    {"uint8", "\"-0x1\"", "out of range for uint8"},
	    {"uint8", "\"-0\"", NULL},
	    {"int8", "127", NULL},
	    {"int8", "128", "out of range for int8"},
	    {"int8", "-128", NULL},
	    {"int8", "-129", "out of range for int8"},
	    {"int256", "\"-57896044618658097711785492504343953926634992332820282019728792003956564819968\"",
	     NULL},
	    {"int256", "\"-57896044618658097711785492504343953926634992332820282019728792003956564819969\"",
	     "out of range for int256"},
	    {"int256", "\"0x8000000000000000000000000000000000000000000000000000000000000000\"",
	     "out of range for int256"},
	    {"uint256", "\"0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\"", NULL},
	    {"uint256", "\"0x00ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\"",
	     "an integer string is"},
	    {"uint64", "9007199254740991", NULL},
	    {"uint64", "-9007199254740991", "out of range for uint64"},
	    {"int64", "-9007199254740991", NULL},
	    {"int64", "-9007199254740992", "a JSON number must be an integer"},
	    {"uint64", "\"9007199254740993\"", NULL},
	    {"uint256", "\"1e3\"", "an integer string is"},
	    {"uint256", "\"\"", "an integer string is"},
	    {"uint256", "\"-\"", "an integer string is"},
	    {"uint256", "\"0X1\"", "an integer string is"},
	    {"bool", "true", NULL},
	    {"bool", "\"true\"", "a bool is true or false"},
	    {"bool", "1", "a bool is true or false"},
	    {"bytes4", "\"0xdeadbeef\"", NULL},
	    {"bytes4", "\"0xdeadbe\"", "3 bytes for bytes4"},
	    {"bytes4", "\"0xdeadbeef00\"", "5 bytes for bytes4"},
	    {"bytes4", "\"deadbeef\"", "0x and hex digits"},
	    {"bytes", "\"0xabc\"", "even number of hex digits"},
	    {"bytes", "\"0xzz\"", "even number of hex digits"},
	    {"bytes", "[1]", "0x and hex digits"},
	    {"string", "\"\"", NULL},
	    {"string", "[]", "a string is a JSON string"},
	    {"uint8[2]", "[1,2]", NULL},
	    {"uint8[2]", "[1]", "array of 1 elements; the type says 2"},
	    {"uint8[2]", "[1,2,3]", "array of 3 elements; the type says 2"},
	    {"uint8[]", "{}", "not an array"},
	    {"uint8[][2]", "[[1],[]]", NULL},
	    {"uint8[][2]", "[[1],[256]]", "message.v[1][0]: value out of range for uint8"},
	    {"uint8[2][]", "[[1,2],[3]]", "message.v[1]: array of 1 elements"},
	};
	struct pv_eip712_hashes h;
	size_t i;
	char *s;

	(void)state;
	for (i = 0; i < PV_NELEM(cases); i++) {
		print_message("%s %s\n", cases[i].type, cases[i].value);
		s = one_field(cases[i].type, cases[i].value);
		if (cases[i].detail == NULL)
			assert_int_equal(hash_str(s, &h), PV_OK);
		else
			expect_refused(s, strlen(s), PV_ERR_BAD_INPUT, cases[i].detail);
		free(s);
	}
}

/* Two's complement and padding, checked against the hash of the expected
 * 32-byte encoding: hashStruct = keccak256(typeHash || enc(v)). */
static void
test_encodings(void **state)
{
	static const struct {
		const char *type, *value, *enc;
	} cases[] = {
	    {"int8", "-1", "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"},
	    {"int16", "\"-0x80\"", "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff80"},
	    {"uint32", "\"4294967295\"", "00000000000000000000000000000000000000000000000000000000ffffffff"},
	    {"bytes2", "\"0xAbCd\"", "abcd000000000000000000000000000000000000000000000000000000000000"},
	    {"bool", "false", "0000000000000000000000000000000000000000000000000000000000000000"},
	    {"address", "\"0x000000000000000000000000000000000000dEaD\"",
	     "000000000000000000000000000000000000000000000000000000000000dead"},
	};
	struct pv_eip712_hashes h;
	uint8_t buf[64], want[32];
	size_t i, n;
	char *s, *def;

	(void)state;
	for (i = 0; i < PV_NELEM(cases); i++) {
		s = one_field(cases[i].type, cases[i].value);
		assert_int_equal(hash_str(s, &h), PV_OK);
		assert_true(asprintf(&def, "T(%s v)", cases[i].type) > 0);
		pv_keccak256((const uint8_t *)def, strlen(def), buf);
		assert_int_equal(pv_hex_decode(cases[i].enc, 64, buf + 32, 32, &n), PV_OK);
		pv_keccak256(buf, sizeof(buf), want);
		assert_memory_equal(h.message_hash, want, 32);
		free(def);
		free(s);
	}
}

/* A chain of n struct types T0 -> T1 -> ... (T0 primary), with the value;
 * with empty, T0 holds an empty T1[] (a short message, a tall type). */
static char *
chain(unsigned n, int empty)
{
	char *s = NULL, *t, *msg = strdup("{\"v\":1}");
	size_t len = 4096 + 96 * n;
	unsigned i;
	int k;

	assert_non_null(msg);
	s = malloc(len);
	assert_non_null(s);
	k = snprintf(s, len, "{\"types\":{\"EIP712Domain\":[]");
	for (i = 0; i < n; i++)
		k += snprintf(s + k, len - (size_t)k, ",\"T%u\":[{\"name\":\"v\",\"type\":\"%s%u%s\"}]", i,
			      i + 1 < n ? "T" : "uint", i + 1 < n ? i + 1 : 8, empty && i == 0 ? "[]" : "");
	if (empty) {
		free(msg);
		msg = strdup("{\"v\":[]}");
		assert_non_null(msg);
	}
	for (i = 1; i < n && !empty; i++) {
		assert_true(asprintf(&t, "{\"v\":%s}", msg) > 0);
		free(msg);
		msg = t;
	}
	snprintf(s + k, len - (size_t)k, "},\"primaryType\":\"T0\",\"domain\":{},\"message\":%s}", msg);
	free(msg);
	return s;
}

static void
test_limits(void **state)
{
	struct pv_eip712_hashes h;
	char dims[3 * PV_EIP712_MAX_DEPTH + 1] = "", val[3 * PV_EIP712_MAX_DEPTH + 1] = "";
	char *s, *big;
	size_t n, i;

	(void)state;
	/* nesting: 16 struct levels accepted, 17 refused */
	s = chain(PV_EIP712_MAX_DEPTH, 0);
	assert_int_equal(hash_str(s, &h), PV_OK);
	free(s);
	s = chain(PV_EIP712_MAX_DEPTH - 1, 1);
	assert_int_equal(hash_str(s, &h), PV_OK);
	free(s);
	s = chain(PV_EIP712_MAX_DEPTH, 1);
	expect_refused(s, strlen(s), PV_ERR_BAD_INPUT, "deeper than 16 levels");
	free(s);
	s = chain(PV_EIP712_MAX_DEPTH + 1, 0);
	expect_refused(s, strlen(s), PV_ERR_BAD_INPUT, "the typed data nests deeper than 17 levels");
	free(s);
	/* array dimensions count too: a struct holding uint8[]x15 is 16 high */
	for (i = 0; i < PV_EIP712_MAX_DEPTH - 1; i++) {
		memcpy(dims + 2 * i, "[]", 3);
		val[i] = '[';
		val[2 * (PV_EIP712_MAX_DEPTH - 1) - 1 - i] = ']';
	}
	assert_true(asprintf(&s, "uint8%s", dims) > 0);
	big = one_field(s, val);
	assert_int_equal(hash_str(big, &h), PV_OK);
	free(big);
	free(s);
	assert_true(asprintf(&s, "uint8%s[]", dims) > 0);
	big = one_field(s, "[]");
	expect_refused(big, strlen(big), PV_ERR_BAD_INPUT, "nests deeper than 16 levels");
	free(big);
	free(s);
	/* JSON nesting beyond what any type allows */
	big = one_field("uint8[]", "[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]");
	expect_refused(big, strlen(big), PV_ERR_BAD_INPUT, "the typed data nests deeper than 17 levels");
	free(big);
	/* size: padded with whitespace to exactly the limit, then one more */
	n = strlen(MAIL_JSON);
	big = malloc(PV_EIP712_MAX + 1);
	assert_non_null(big);
	memcpy(big, MAIL_JSON, n);
	memset(big + n, ' ', PV_EIP712_MAX + 1 - n);
	assert_int_equal(pv_eip712_hash((const uint8_t *)big, PV_EIP712_MAX, &h), PV_OK);
	hex_eq(h.digest, 32, "be609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2");
	expect_refused(big, PV_EIP712_MAX + 1, PV_ERR_TOO_LARGE, "over 65536 bytes");
	free(big);
	/* too many types: 128 accepted (EIP712Domain + 127), 129 refused */
	for (n = PV_EIP712_MAX_TYPES - 1; n <= PV_EIP712_MAX_TYPES; n++) {
		size_t cap = 64 * n + 256;
		int k;

		big = malloc(cap);
		assert_non_null(big);
		k = snprintf(big, cap, "{\"types\":{\"EIP712Domain\":[],\"T\":[]");
		for (i = 1; i < n; i++)
			k += snprintf(big + k, cap - (size_t)k, ",\"U%zu\":[]", i);
		snprintf(big + k, cap - (size_t)k, "},\"primaryType\":\"T\",\"domain\":{},\"message\":{}}");
		if (n == PV_EIP712_MAX_TYPES - 1)
			assert_int_equal(hash_str(big, &h), PV_OK);
		else
			expect_refused(big, strlen(big), PV_ERR_BAD_INPUT, "more than 128 types");
		free(big);
	}
}

/* The EIP example's key, keccak256("cow"): its address is the Mail's from. */
static uint8_t cow_key[32];
static int sign_calls;

static pv_err
k1_sign(void *ctx, const struct pv_sign_opts *opts, const uint8_t *msg, size_t len, struct pv_sig *out)
{
	secp256k1_context *k = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
	secp256k1_ecdsa_signature sig;
	int ok;

	sign_calls++;
	assert_int_equal(len, 32);
	assert_int_equal(opts->digest, PV_DIGEST_NONE);
	assert_int_equal(opts->version, 1);
	memset(out, 0, sizeof(*out));
	ok = secp256k1_ecdsa_sign(k, &sig, msg, ctx, NULL, NULL) &&
	     secp256k1_ecdsa_signature_serialize_compact(k, out->bytes, &sig);
	secp256k1_context_destroy(k);
	out->len = 64;
	out->alg = PV_ALG_SECP256K1;
	out->version = 1;
	out->digest = PV_DIGEST_NONE;
	return ok ? PV_OK : PV_ERR_CRYPTO;
}

static void
test_sign_eip_example(void **state)
{
	static const uint8_t params[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a}; /* secp256k1 */
	secp256k1_context *k = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
	secp256k1_pubkey pub;
	struct pv_wallet_signer s;
	struct pv_evm_sig sig;
	static const uint8_t zero[32];
	uint8_t sec1[65], digest[32];
	char addr[PV_WALLET_ADDR_MAX], *bad_json;
	size_t n = sizeof(sec1);

	(void)state;
	pv_keccak256((const uint8_t *)"cow", 3, cow_key);
	assert_true(secp256k1_ec_pubkey_create(k, &pub, cow_key));
	assert_true(secp256k1_ec_pubkey_serialize(k, sec1, &n, &pub, SECP256K1_EC_UNCOMPRESSED));
	secp256k1_context_destroy(k);
	memset(&s, 0, sizeof(s));
	assert_int_equal(pv_pubkey_from_ec(params, sizeof(params), sec1, sizeof(sec1), NULL, &s.pub), PV_OK);
	s.sign = k1_sign;
	s.ctx = cow_key;
	s.alg = PV_ALG_SECP256K1;
	s.version = 1;
	assert_int_equal(pv_wallet_address(PV_CHAIN_EVM, &s, addr), PV_OK);
	assert_string_equal(addr, "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826");

	sign_calls = 0;
	assert_int_equal(
	    pv_wallet_evm_sign_typed_data(&s, (const uint8_t *)MAIL_JSON, strlen(MAIL_JSON), digest, &sig),
	    PV_OK);
	assert_int_equal(sign_calls, 1);
	hex_eq(digest, 32, "be609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2");
	hex_eq(sig.r, 32, "4355c47d63924e8a72e509b65029052eb6c299d53a04e167c5775fd466751c9d");
	hex_eq(sig.s, 32, "07299936d304c153f6443dfa05f40ff007d72911b6f72307f996231605b91562");
	assert_int_equal(sig.recid, 1); /* v = 28 */

	/* refused typed data signs nothing */
	bad_json = mail_with("\"primaryType\":\"Mail\"", "\"primaryType\":\"EIP712Domain\"");
	memset(digest, 0xa5, sizeof(digest));
	assert_int_equal(
	    pv_wallet_evm_sign_typed_data(&s, (const uint8_t *)bad_json, strlen(bad_json), digest, &sig),
	    PV_ERR_BAD_INPUT);
	assert_memory_equal(digest, zero, 32);
	assert_int_equal(sign_calls, 1);
	free(bad_json);
	/* an Ed25519 key is refused before anything is read or signed */
	s.alg = PV_ALG_ED25519;
	assert_int_equal(
	    pv_wallet_evm_sign_typed_data(&s, (const uint8_t *)MAIL_JSON, strlen(MAIL_JSON), digest, &sig),
	    PV_ERR_KEY_TYPE);
	assert_int_equal(sign_calls, 1);
	EVP_PKEY_free(s.pub);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mail_spec),   cmocka_unit_test(test_ethers_vectors),
	    cmocka_unit_test(test_same_digest), cmocka_unit_test(test_refusals_mail),
	    cmocka_unit_test(test_values),      cmocka_unit_test(test_encodings),
	    cmocka_unit_test(test_limits),      cmocka_unit_test(test_sign_eip_example),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
