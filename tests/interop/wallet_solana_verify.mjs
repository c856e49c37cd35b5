// Checks what p11vault signed for Solana with @solana/web3.js (parsing,
// legacy verifySignatures) and Node's own Ed25519 (node:crypto, OpenSSL)
// for the signature over the message bytes. Exit 0 when every check holds,
// 1 with a message naming the first one that does not, 2 for usage.
//
//   node wallet_solana_verify.mjs tx [--unsigned FILE] (--signed FILE | --response JSON)
//        --address ADDRESS [--fee-payer ADDRESS]
//     FILE: base64 wire transactions (the one built, the one signed;
//     without --unsigned the checks against it are skipped);
//     JSON: the sign-transaction reply (vaultctl --json or vaultd), whose
//     transaction_b64, signature_b58, signer_index and address are checked.
//     Checks: the signed transaction parses (VersionedTransaction.deserialize;
//     legacy ones also Transaction.from + verifySignatures() true), its
//     message is byte-for-byte the unsigned one, ADDRESS is a required
//     signer and its slot holds a valid Ed25519 signature over
//     message.serialize(), every other slot is as it was (and valid if not
//     empty), the fee payer is --fee-payer (default ADDRESS).
//   node wallet_solana_verify.mjs message --message FILE --signature BASE58 --address ADDRESS
//     The signature (64 bytes in base58) verifies over the file's bytes.
//   node wallet_solana_verify.mjs address --spki DER --address ADDRESS
//     ADDRESS is the base58 of the Ed25519 public key in the SPKI.
import { createPublicKey, verify } from "node:crypto";
import { PublicKey, Transaction, VersionedTransaction } from "@solana/web3.js";
import { encodeBase58 } from "ethers";
import {
	args,
	die,
	fromBase64,
	readBytes,
	readJson,
	readText,
	sameBytes,
	signatureFromBase58,
	spkiPublicKey,
} from "./wallet_common.mjs";

const USAGE = `node wallet_solana_verify.mjs tx [--unsigned FILE] (--signed FILE | --response JSON) --address ADDRESS [--fee-payer ADDRESS]
       node wallet_solana_verify.mjs message --message FILE --signature BASE58 --address ADDRESS
       node wallet_solana_verify.mjs address --spki DER --address ADDRESS`;
const { cmd, opts } = args(
	USAGE,
	{
		unsigned: "string",
		signed: "string",
		response: "string",
		address: "string",
		"fee-payer": "string",
		message: "string",
		signature: "string",
		spki: "string",
	},
	["address"],
);

function address(text, what) {
	try {
		const k = new PublicKey(text);
		if (k.toBase58() !== text) die(`${what} ${text} is not in canonical base58`);
		return k;
	} catch (e) {
		die(`${what} ${text} is not a Solana address: ${e.message}`);
	}
}

function ed25519Valid(pub, msg, sig) {
	const key = createPublicKey({
		key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(pub.toBytes()).toString("base64url") },
		format: "jwk",
	});
	return verify(null, msg, key, sig);
}

const ours = address(opts.address, "--address");

function checkTx() {
	if (!opts.signed === !opts.response) die("tx needs one of --signed, --response");
	let reply = null;
	let signedText;
	if (opts.response) {
		reply = readJson(opts.response);
		if (typeof reply.transaction_b64 !== "string") die(`${opts.response}: no transaction_b64`);
		signedText = reply.transaction_b64;
	} else {
		signedText = readText(opts.signed);
	}
	const signedWire = fromBase64(signedText, "the signed transaction");
	const unsignedWire = opts.unsigned ? fromBase64(readText(opts.unsigned), opts.unsigned) : signedWire;
	if (signedWire.length !== unsignedWire.length)
		die(`signed transaction is ${signedWire.length} bytes, the unsigned one ${unsignedWire.length}`);

	let before, after;
	try {
		before = VersionedTransaction.deserialize(unsignedWire);
		after = VersionedTransaction.deserialize(signedWire);
	} catch (e) {
		die(`VersionedTransaction.deserialize failed: ${e.message}`);
	}
	const msg = after.message.serialize();
	if (!sameBytes(msg, before.message.serialize())) die("the signed transaction's message differs from the unsigned one");
	const payer = address(opts["fee-payer"] ?? opts.address, "--fee-payer");
	if (after.version === "legacy") {
		const legacy = Transaction.from(signedWire);
		if (!legacy.verifySignatures()) die("Transaction.from(signed).verifySignatures() is false");
		if (!legacy.feePayer.equals(payer)) die(`Transaction.from(signed): fee payer is ${legacy.feePayer.toBase58()}, want ${payer.toBase58()}`);
	}
	const keys = after.message.staticAccountKeys;
	const n = after.message.header.numRequiredSignatures;
	const slot = keys.slice(0, n).findIndex((k) => k.equals(ours));
	if (slot < 0) die(`${ours.toBase58()} is not among the ${n} required signers`);
	if (after.signatures.length !== n) die(`${after.signatures.length} signature slots for ${n} required signers`);
	for (let i = 0; i < n; i++) {
		const sig = after.signatures[i];
		if (opts.unsigned && i !== slot && !sameBytes(sig, before.signatures[i])) die(`signature slot ${i} (not ours) was changed`);
		if (i === slot || sig.some((b) => b !== 0))
			if (!ed25519Valid(keys[i], msg, sig))
				die(`slot ${i} (${keys[i].toBase58()}${i === slot ? ", ours" : ""}): Ed25519 signature over message.serialize() does not verify`);
	}
	if (!keys[0].equals(payer)) die(`fee payer is ${keys[0].toBase58()}, want ${payer.toBase58()}`);

	if (reply) {
		if (reply.address !== ours.toBase58()) die(`reply address ${reply.address}, want ${ours.toBase58()}`);
		if (reply.signer_index !== slot) die(`reply signer_index ${reply.signer_index}, our slot is ${slot}`);
		if (reply.signature_b58 !== encodeBase58(after.signatures[slot]))
			die(`reply signature_b58 ${reply.signature_b58} is not the signature in slot ${slot}`);
		if (!Number.isInteger(reply.version) || reply.version < 1) die(`reply version ${reply.version}`);
	}
	console.log(`${after.version === "legacy" ? "legacy" : "v" + after.version} transaction: our slot ${slot} of ${n} verifies, fee payer ${payer.toBase58()}${opts.unsigned ? ", message and other slots untouched" : ""}`);
}

function checkMessage() {
	if (!opts.message || !opts.signature) die("message needs --message and --signature");
	const sig = signatureFromBase58(opts.signature);
	if (!ed25519Valid(ours, readBytes(opts.message), sig)) die("the message signature does not verify");
	console.log("message signature verifies");
}

function checkAddress() {
	if (!opts.spki) die("address needs --spki");
	const { algOid, key } = spkiPublicKey(readBytes(opts.spki));
	if (algOid !== "2b6570" || key.length !== 32) die("the SPKI is not an Ed25519 public key");
	const want = new PublicKey(key).toBase58();
	if (want !== ours.toBase58()) die(`address ${ours.toBase58()}, the public key's is ${want}`);
	console.log(`address ${want} is the key's`);
}

switch (cmd) {
	case "tx":
		checkTx();
		break;
	case "message":
		checkMessage();
		break;
	case "address":
		checkAddress();
		break;
	default:
		die(`unknown command ${cmd ?? "(none)"}\nusage: ${USAGE}`);
}
