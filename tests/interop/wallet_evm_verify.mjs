// Checks what p11vault signed for EVM chains with ethers. Exit 0 when every
// check holds, 1 with a message naming the first one that does not, 2 for
// usage.
//
//   node wallet_evm_verify.mjs tx (--unsigned FILE | --expect F=V,...) (--signed FILE | --response JSON)
//        --address ADDRESS
//     FILE: 0x-hex (the unsigned transaction built, the signed raw one);
//     JSON: the sign-transaction reply (vaultctl --json or vaultd);
//     --expect: instead of an unsigned transaction, the values of some
//     fields (type, chainId, nonce, to, value, data), e.g. chainId=1,value=5.
//     Checks: Transaction.from(raw) is signed, .from is ADDRESS, its
//     unsignedSerialized is the unsigned input (type, chainId, nonce, to,
//     value, data, gas fields, access list unchanged), s <= n/2; with a
//     reply also raw_transaction, tx_hash (= .hash), type, chain_id,
//     address and signature {r, s, y_parity, v} (v: legacy chainId*2+35+y,
//     typed y).
//   node wallet_evm_verify.mjs message --message FILE --signature 0xHEX --address ADDRESS
//     personal_sign: verifyMessage(bytes of FILE, sig) is ADDRESS; v 27/28, low S.
//   node wallet_evm_verify.mjs digest --digest 0xHEX --signature 0xHEX --address ADDRESS [--y-parity 0|1]
//     recoverAddress(digest, sig) is ADDRESS; v 27/28 (= 27 + --y-parity), low S.
//   node wallet_evm_verify.mjs address --spki DER --address ADDRESS
//     ADDRESS is computeAddress of the secp256k1 public key in the SPKI, EIP-55.
import { Signature, Transaction, computeAddress, getAddress, hexlify, recoverAddress, verifyMessage } from "ethers";
import { args, die, readBytes, readJson, readText, spkiPublicKey } from "./wallet_common.mjs";

const USAGE = `node wallet_evm_verify.mjs tx (--unsigned FILE | --expect F=V,...) (--signed FILE | --response JSON) --address ADDRESS
       node wallet_evm_verify.mjs message --message FILE --signature 0xHEX --address ADDRESS
       node wallet_evm_verify.mjs digest --digest 0xHEX --signature 0xHEX --address ADDRESS [--y-parity 0|1]
       node wallet_evm_verify.mjs address --spki DER --address ADDRESS`;
const { cmd, opts } = args(
	USAGE,
	{
		unsigned: "string",
		signed: "string",
		response: "string",
		address: "string",
		message: "string",
		digest: "string",
		signature: "string",
		"y-parity": "string",
		expect: "string",
		spki: "string",
	},
	["address"],
);

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

// ADDRESS must be in its EIP-55 form, as p11vault prints it.
let ours;
try {
	ours = getAddress(opts.address);
} catch (e) {
	die(`--address ${opts.address} is not an EVM address: ${e.message}`);
}
if (ours !== opts.address) die(`--address ${opts.address} is not EIP-55 checksummed (${ours})`);

function lowS(s, what) {
	if (BigInt(s) > N / 2n) die(`${what}: s = ${s} is above n/2 (high S)`);
}

// A 65-byte r||s||v signature text (v 27/28): the parsed ethers Signature.
function rsv(text, what) {
	if (!/^0x[0-9a-f]{130}$/.test(text)) die(`${what} is not 0x + 130 lowercase hex digits`);
	const v = parseInt(text.slice(130), 16);
	if (v !== 27 && v !== 28) die(`${what}: v = ${v}, want 27 or 28`);
	const sig = Signature.from(text);
	lowS(sig.s, what);
	return sig;
}

function hexText(text, what) {
	if (!/^0x([0-9a-f]{2})+$/.test(text)) die(`${what} is not 0x-hex (lowercase, whole bytes)`);
	return text;
}

function checkTx() {
	if (!opts.unsigned === !opts.expect || !opts.signed === !opts.response)
		die("tx needs one of --unsigned, --expect and one of --signed, --response");
	const reply = opts.response ? readJson(opts.response) : null;
	const raw = hexText(reply ? reply.raw_transaction : readText(opts.signed), "the signed transaction");
	let before, tx;
	const unsigned = opts.unsigned ? hexText(readText(opts.unsigned), opts.unsigned) : null;
	try {
		if (unsigned) before = Transaction.from(unsigned);
	} catch (e) {
		die(`ethers cannot parse the unsigned transaction: ${e.message}`);
	}
	try {
		tx = Transaction.from(raw);
	} catch (e) {
		die(`ethers cannot parse the signed transaction: ${e.message}`);
	}
	if (!tx.isSigned()) die("the signed transaction carries no signature");
	if (tx.from !== ours) die(`Transaction.from(raw).from is ${tx.from}, want ${ours}`);
	if (before) {
		for (const f of ["type", "chainId", "nonce", "to", "value", "data", "gasLimit", "gasPrice", "maxFeePerGas", "maxPriorityFeePerGas"])
			if (tx[f] !== before[f]) die(`${f} changed: ${before[f]} -> ${tx[f]}`);
		if (JSON.stringify(tx.accessList) !== JSON.stringify(before.accessList)) die("accessList changed");
		if (tx.unsignedSerialized !== unsigned) die("the signed transaction's unsignedSerialized is not the unsigned input");
	} else {
		for (const pair of opts.expect.split(",")) {
			const [f, v] = pair.split("=");
			if (!["type", "chainId", "nonce", "to", "value", "data"].includes(f) || v === undefined) die(`--expect ${pair}?`);
			if (String(tx[f]).toLowerCase() !== v.toLowerCase()) die(`${f} is ${tx[f]}, want ${v}`);
		}
	}
	lowS(tx.signature.s, "transaction signature");
	const y = tx.signature.yParity;
	if (reply) {
		const v = tx.type === 0 ? tx.chainId * 2n + 35n + BigInt(y) : BigInt(y);
		const want = {
			address: ours,
			tx_hash: tx.hash,
			type: tx.type,
			chain_id: Number(tx.chainId),
			"signature.r": tx.signature.r,
			"signature.s": tx.signature.s,
			"signature.y_parity": y,
			"signature.v": Number(v),
		};
		const sig = reply.signature ?? {};
		const got = {
			address: reply.address,
			tx_hash: reply.tx_hash,
			type: reply.type,
			chain_id: reply.chain_id,
			"signature.r": sig.r,
			"signature.s": sig.s,
			"signature.y_parity": sig.y_parity,
			"signature.v": sig.v,
		};
		for (const k of Object.keys(want)) if (got[k] !== want[k]) die(`reply ${k} is ${got[k]}, ethers says ${want[k]}`);
	}
	console.log(`type ${tx.type} transaction on chain ${tx.chainId}: from ${tx.from}, fields ${before ? "unchanged" : "as expected"}, low S, hash ${tx.hash}`);
}

function checkMessage() {
	if (!opts.message || !opts.signature) die("message needs --message and --signature");
	const sig = rsv(opts.signature, "personal_sign signature");
	const who = verifyMessage(readBytes(opts.message), sig);
	if (who !== ours) die(`verifyMessage gives ${who}, want ${ours}`);
	console.log("personal_sign signature recovers the address");
}

function checkDigest() {
	if (!opts.digest || !opts.signature) die("digest needs --digest and --signature");
	if (!/^0x[0-9a-f]{64}$/.test(opts.digest)) die("--digest is not 0x + 64 lowercase hex digits");
	const sig = rsv(opts.signature, "digest signature");
	if (opts["y-parity"] !== undefined && String(sig.yParity) !== opts["y-parity"])
		die(`y_parity ${opts["y-parity"]}, the signature's v says ${sig.yParity}`);
	const who = recoverAddress(opts.digest, sig);
	if (who !== ours) die(`recoverAddress gives ${who}, want ${ours}`);
	console.log("digest signature recovers the address");
}

function checkAddress() {
	if (!opts.spki) die("address needs --spki");
	const { algOid, params, key } = spkiPublicKey(readBytes(opts.spki));
	if (algOid !== "2a8648ce3d0201" || params !== "06052b8104000a") die("the SPKI is not a secp256k1 public key");
	const want = computeAddress(hexlify(key));
	if (want !== ours) die(`address ${ours}, the public key's is ${want}`);
	console.log(`address ${want} is the key's`);
}

switch (cmd) {
	case "tx":
		checkTx();
		break;
	case "message":
		checkMessage();
		break;
	case "digest":
		checkDigest();
		break;
	case "address":
		checkAddress();
		break;
	default:
		die(`unknown command ${cmd ?? "(none)"}\nusage: ${USAGE}`);
}
