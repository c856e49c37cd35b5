// EIP-712 typed data for p11vault, built and checked with ethers. Exit 0
// when every check holds, 1 with a message naming the first one that does
// not, 2 for usage.
//
//   node wallet_typed_data.mjs build --kind mail|permit --out FILE [--owner ADDRESS] [--chain-id N]
//     Writes the eth_signTypedData_v4 JSON of ethers' TypedDataEncoder
//     .getPayload (what ethers sends to a node): mail, the EIP-712 example
//     (Mail from Cow to Bob, "Ether Mail" on chain 1); permit, an EIP-2612
//     Permit of USDC (owner ADDRESS, a made-up spender, 1000 USDC, nonce 7,
//     deadline 2030-01-01) on chain N (default 1). Prints {"digest"} as
//     TypedDataEncoder.hash computes it.
//   node wallet_typed_data.mjs verify --typed FILE (--signature 0xHEX | --response JSON)
//        --address ADDRESS [--digest 0xHEX]
//     verifyTypedData(domain, types, message, sig) is ADDRESS (the types
//     without EIP712Domain, which ethers derives from the domain); v 27/28,
//     low S; --digest, or the reply's "digest", is TypedDataEncoder.hash;
//     a reply (vaultctl --json or vaultd) also has address and y_parity
//     matching the signature.
//   node wallet_typed_data.mjs tamper --typed FILE --out FILE
//     The same typed data with one message value changed (mail: the
//     contents; permit: the value plus one).
import { Signature, TypedDataEncoder, getAddress, verifyTypedData } from "ethers";
import { args, die, readJson, writeText } from "./wallet_common.mjs";

const USAGE = `node wallet_typed_data.mjs build --kind mail|permit --out FILE [--owner ADDRESS] [--chain-id N]
       node wallet_typed_data.mjs verify --typed FILE (--signature 0xHEX | --response JSON) --address ADDRESS [--digest 0xHEX]
       node wallet_typed_data.mjs tamper --typed FILE --out FILE`;
const { cmd, opts } = args(USAGE, {
	kind: "string",
	out: "string",
	owner: "string",
	"chain-id": "string",
	typed: "string",
	signature: "string",
	response: "string",
	address: "string",
	digest: "string",
});

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

function mail() {
	return {
		domain: {
			name: "Ether Mail",
			version: "1",
			chainId: 1,
			verifyingContract: "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC",
		},
		types: {
			Person: [
				{ name: "name", type: "string" },
				{ name: "wallet", type: "address" },
			],
			Mail: [
				{ name: "from", type: "Person" },
				{ name: "to", type: "Person" },
				{ name: "contents", type: "string" },
			],
		},
		message: {
			from: { name: "Cow", wallet: "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826" },
			to: { name: "Bob", wallet: "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB" },
			contents: "Hello, Bob!",
		},
	};
}

function permit() {
	if (!opts.owner) die("--kind permit needs --owner");
	return {
		domain: {
			name: "USD Coin",
			version: "2",
			chainId: BigInt(opts["chain-id"] ?? "1"),
			verifyingContract: "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
		},
		types: {
			Permit: [
				{ name: "owner", type: "address" },
				{ name: "spender", type: "address" },
				{ name: "value", type: "uint256" },
				{ name: "nonce", type: "uint256" },
				{ name: "deadline", type: "uint256" },
			],
		},
		message: {
			owner: getAddress(opts.owner),
			spender: "0x000000000022D473030F116dDEE9F6B43aC78BA3",
			value: 1000000000n,
			nonce: 7n,
			deadline: 1893456000n,
		},
	};
}

// domain, types (without EIP712Domain) and message of a v4 JSON document.
function parts(doc) {
	const types = { ...doc.types };
	delete types.EIP712Domain;
	return { domain: doc.domain, types, message: doc.message };
}

function build() {
	if (!opts.out) die("build needs --out");
	const t = opts.kind === "mail" ? mail() : opts.kind === "permit" ? permit() : die(`--kind ${opts.kind}?`);
	const payload = TypedDataEncoder.getPayload(t.domain, t.types, t.message);
	writeText(opts.out, JSON.stringify(payload));
	console.log(JSON.stringify({ digest: TypedDataEncoder.hash(t.domain, t.types, t.message) }));
}

function verify() {
	if (!opts.typed || !opts.address || !opts.signature === !opts.response)
		die("verify needs --typed, --address and one of --signature, --response");
	const ours = getAddress(opts.address);
	if (ours !== opts.address) die(`--address ${opts.address} is not EIP-55 checksummed`);
	const reply = opts.response ? readJson(opts.response) : null;
	const text = reply ? reply.signature : opts.signature;
	if (typeof text !== "string" || !/^0x[0-9a-f]{130}$/.test(text))
		die("the signature is not 0x + 130 lowercase hex digits");
	const v = parseInt(text.slice(130), 16);
	if (v !== 27 && v !== 28) die(`v = ${v}, want 27 or 28`);
	const sig = Signature.from(text);
	if (BigInt(sig.s) > N / 2n) die(`s = ${sig.s} is above n/2 (high S)`);
	const { domain, types, message } = parts(readJson(opts.typed));
	const digest = TypedDataEncoder.hash(domain, types, message);
	const claimed = reply ? reply.digest : opts.digest;
	if (claimed !== undefined && claimed !== digest) die(`digest ${claimed}, ethers computes ${digest}`);
	if (reply) {
		if (reply.address !== ours) die(`reply address ${reply.address}, want ${ours}`);
		if (reply.y_parity !== sig.yParity) die(`reply y_parity ${reply.y_parity}, the signature's v says ${sig.yParity}`);
	}
	const who = verifyTypedData(domain, types, message, sig);
	if (who !== ours) die(`verifyTypedData gives ${who}, want ${ours}`);
	console.log(`typed data ${Object.keys(types).join(",")} signature recovers ${who}, low S, digest ${digest}`);
}

function tamper() {
	if (!opts.typed || !opts.out) die("tamper needs --typed and --out");
	const doc = readJson(opts.typed);
	if (doc.primaryType === "Mail") doc.message.contents += "!";
	else if (doc.primaryType === "Permit") doc.message.value = (BigInt(doc.message.value) + 1n).toString();
	else die(`cannot tamper with a ${doc.primaryType}`);
	writeText(opts.out, JSON.stringify(doc));
}

switch (cmd) {
	case "build":
		build();
		break;
	case "verify":
		verify();
		break;
	case "tamper":
		tamper();
		break;
	default:
		die(`unknown command ${cmd ?? "(none)"}\nusage: ${USAGE}`);
}
