// Solana batches for vaultd's solana/sign-transactions (the shape of wallet
// signAllTransactions), built and checked with @solana/web3.js and Node's own
// Ed25519 (node:crypto, OpenSSL). Offline: made-up blockhash and keys.
//
//   node wallet_solana_batch.mjs build --signer ADDRESS --count N --out FILE [--foreign-at I]
//     N legacy SystemProgram transfers from ADDRESS (fee payer ADDRESS),
//     each of another amount (so every message differs), as the request body
//     {"transactions_b64":[...]} (serialize({requireAllSignatures:false})).
//     --foreign-at I: item I is a transaction ADDRESS is not a signer of.
//   node wallet_solana_batch.mjs verify --request FILE --response FILE --address ADDRESS [--version V]
//     The reply {"name","version","address","results":[...]} holds one result
//     per request item, in order: each result's transaction_b64 parses
//     (Transaction.from, verifySignatures() true; VersionedTransaction
//     .deserialize), its message is byte-for-byte the item's, ADDRESS's slot
//     (signer_index) holds signature_b58, which verifies with Ed25519 over
//     the message; address and version are the reply's for every item.
//
// Exit 0 when every check holds, 1 naming the first that does not, 2 usage.
import { createHash, createPublicKey, verify } from "node:crypto";
import { Keypair, PublicKey, SystemProgram, Transaction, VersionedTransaction } from "@solana/web3.js";
import { encodeBase58 } from "ethers";
import { args, die, fromBase64, readJson, sameBytes, writeText } from "./wallet_common.mjs";

const USAGE = `node wallet_solana_batch.mjs build --signer ADDRESS --count N --out FILE [--foreign-at I]
       node wallet_solana_batch.mjs verify --request FILE --response FILE --address ADDRESS [--version V]`;
const { cmd, opts } = args(USAGE, {
	signer: "string",
	count: "string",
	out: "string",
	"foreign-at": "string",
	request: "string",
	response: "string",
	address: "string",
	version: "string",
});

const seed = (label) => createHash("sha256").update(`p11vault wallet batch interop: ${label}`).digest();
const madeUpKey = (label) => new PublicKey(seed(label));

function address(text, what) {
	try {
		return new PublicKey(text);
	} catch (e) {
		die(`${what} is not a Solana address: ${e.message}`);
	}
}

// Ed25519 public key of an address, for node:crypto (SPKI DER prefix).
function ed25519Key(pk) {
	const der = Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), pk.toBuffer()]);
	return createPublicKey({ key: der, format: "der", type: "spki" });
}

function build() {
	if (!opts.signer || !opts.count || !opts.out) die(USAGE);
	const signer = address(opts.signer, "--signer");
	const n = Number(opts.count);
	if (!Number.isInteger(n) || n < 1 || n > 1000) die("--count: 1..1000");
	const foreignAt = opts["foreign-at"] === undefined ? -1 : Number(opts["foreign-at"]);
	const blockhash = madeUpKey("blockhash").toBase58();
	const recipient = madeUpKey("recipient");
	const txs = [];
	for (let i = 0; i < n; i++) {
		let tx;
		if (i === foreignAt) {
			const other = Keypair.fromSeed(seed("someone else")).publicKey;
			tx = new Transaction({ feePayer: other, recentBlockhash: blockhash });
			tx.add(SystemProgram.transfer({ fromPubkey: other, toPubkey: signer, lamports: 1000 + i }));
		} else {
			tx = new Transaction({ feePayer: signer, recentBlockhash: blockhash });
			tx.add(SystemProgram.transfer({ fromPubkey: signer, toPubkey: recipient, lamports: 1_000_000 + i }));
		}
		txs.push(Buffer.from(tx.serialize({ requireAllSignatures: false, verifySignatures: false })).toString("base64"));
	}
	writeText(opts.out, JSON.stringify({ transactions_b64: txs }));
	console.log(JSON.stringify({ count: n, foreign_at: foreignAt }));
}

function check() {
	if (!opts.request || !opts.response || !opts.address) die(USAGE);
	const who = address(opts.address, "--address");
	const key = ed25519Key(who);
	const req = readJson(opts.request).transactions_b64;
	const rep = readJson(opts.response);
	if (!Array.isArray(rep.results)) die("the reply has no results array");
	if (rep.results.length !== req.length) die(`${rep.results.length} results for ${req.length} transactions`);
	if (rep.address !== opts.address) die(`reply address ${rep.address}, want ${opts.address}`);
	if (opts.version !== undefined && String(rep.version) !== opts.version)
		die(`reply version ${rep.version}, want ${opts.version}`);
	rep.results.forEach((r, i) => {
		const what = `item ${i}`;
		if (r.address !== rep.address || r.version !== rep.version || r.name !== rep.name)
			die(`${what}: name/address/version differ from the reply's`);
		const unsigned = VersionedTransaction.deserialize(fromBase64(req[i], `request ${what}`));
		const signedBytes = fromBase64(r.transaction_b64, `${what} transaction_b64`);
		const signed = VersionedTransaction.deserialize(signedBytes);
		const msg = signed.message.serialize();
		if (!sameBytes(msg, unsigned.message.serialize()))
			die(`${what}: the signed message is not the request's (order not kept?)`);
		const n = signed.message.header.numRequiredSignatures;
		const slot = signed.message.staticAccountKeys.slice(0, n).findIndex((k) => k.equals(who));
		if (slot < 0) die(`${what}: ${opts.address} is not a required signer`);
		if (slot !== r.signer_index) die(`${what}: signer_index ${r.signer_index}, slot ${slot}`);
		const sig = Buffer.from(signed.signatures[slot]);
		if (encodeBase58(sig) !== r.signature_b58) die(`${what}: signature_b58 is not the slot's signature`);
		if (!verify(null, msg, key, sig)) die(`${what}: the signature does not verify (Ed25519)`);
		const legacy = Transaction.from(signedBytes);
		if (!legacy.verifySignatures()) die(`${what}: verifySignatures() is false`);
	});
	console.log(JSON.stringify({ verified: rep.results.length }));
}

switch (cmd) {
	case "build":
		build();
		break;
	case "verify":
		check();
		break;
	default:
		die(USAGE);
}
