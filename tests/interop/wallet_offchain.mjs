// Checks a Solana off-chain message signature (vaultctl wallet
// sign-message --offchain --json, or vaultd's solana/sign-message with
// "format": "offchain") with @solana/offchain-messages, the Solana
// JavaScript SDK's implementation of the off-chain message format: it
// builds the version 0 message the request describes and must get the very
// bytes p11vault says it signed, decodes those bytes back to the request,
// and verifies the signature with its own envelope verifier. Exit 0 when
// every check holds, 1 with a message naming the first one that does not,
// 2 for usage.
//
//   node wallet_offchain.mjs --response JSON --message FILE --domain BASE58
//        --address ADDRESS --format ascii|utf8|utf8-long
//     JSON: the reply (signature_b58, signed_message_b64, message_format,
//     address); FILE: the message text (UTF-8) as sent; BASE58: the
//     application domain; ADDRESS: the signer; the format the reply must
//     name (the first of the three that the text fits).
import {
	compileOffchainMessageV0Envelope,
	getOffchainMessageDecoder,
	offchainMessageApplicationDomain,
	verifyOffchainMessageEnvelope,
} from "@solana/offchain-messages";
import { args, die, fromBase64, hex, readBytes, readJson, sameBytes, signatureFromBase58 } from "./wallet_common.mjs";

const USAGE =
	"node wallet_offchain.mjs --response JSON --message FILE --domain BASE58 --address ADDRESS --format ascii|utf8|utf8-long";
const { opts } = args(
	USAGE,
	{ response: "string", message: "string", domain: "string", address: "string", format: "string" },
	["response", "message", "domain", "address", "format"],
);
const FORMATS = { ascii: 0, utf8: 1, "utf8-long": 2 };
if (!(opts.format in FORMATS)) die(`unknown --format ${opts.format}`);

const reply = readJson(opts.response);
for (const k of ["signature_b58", "signed_message_b64", "message_format", "address"])
	if (typeof reply[k] !== "string") die(`${opts.response}: no ${k}`);
if (reply.address !== opts.address) die(`the reply's address is ${reply.address}, want ${opts.address}`);
if (reply.message_format !== opts.format) die(`message_format is ${reply.message_format}, want ${opts.format}`);

let text;
try {
	text = new TextDecoder("utf-8", { fatal: true }).decode(readBytes(opts.message));
} catch (e) {
	die(`${opts.message} is not UTF-8: ${e.message}`);
}

// What the SDK builds for this request: version 0, the application domain,
// the format, this key as the one signatory.
let expected;
try {
	expected = compileOffchainMessageV0Envelope({
		version: 0,
		applicationDomain: offchainMessageApplicationDomain(opts.domain),
		content: { format: FORMATS[opts.format], text },
		requiredSignatories: [{ address: opts.address }],
	}).content;
} catch (e) {
	die(`@solana/offchain-messages cannot build the message: ${e.message}`);
}
const signed = fromBase64(reply.signed_message_b64, "signed_message_b64");
if (!sameBytes(signed, expected))
	die(`the signed bytes are not the SDK's off-chain message:\n  signed   ${hex(signed)}\n  expected ${hex(expected)}`);

// The bytes read back as the request.
let decoded;
try {
	decoded = getOffchainMessageDecoder().decode(signed);
} catch (e) {
	die(`@solana/offchain-messages cannot decode the signed bytes: ${e.message}`);
}
if (decoded.version !== 0) die(`decoded version ${decoded.version}`);
if (decoded.applicationDomain !== opts.domain) die(`decoded application domain ${decoded.applicationDomain}`);
if (decoded.content.text !== text) die("the decoded text is not the message");
if (decoded.requiredSignatories.length !== 1 || decoded.requiredSignatories[0].address !== opts.address)
	die("the decoded signatories are not [ADDRESS]");

// The SDK's verifier: throws unless the signature is ADDRESS's over the bytes.
const sig = signatureFromBase58(reply.signature_b58);
try {
	await verifyOffchainMessageEnvelope({ content: signed, signatures: { [opts.address]: sig } });
} catch (e) {
	die(`verifyOffchainMessageEnvelope: the signature does not verify (${e.message})`);
}
console.log(`off-chain message of ${signed.length} bytes (format ${opts.format}) signed by ${opts.address}: ok`);
