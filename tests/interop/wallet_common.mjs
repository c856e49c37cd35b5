// Small helpers shared by the wallet_*.mjs scripts: argument parsing, files,
// errors, and the public key inside a SubjectPublicKeyInfo (DER).
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { decodeBase58, encodeBase58, toBeArray } from "ethers";

// The script name in messages (wallet_evm_verify, ...).
export const me = process.argv[1].replace(/^.*\//, "").replace(/\.mjs$/, "");

export function die(msg) {
	process.stderr.write(`${me}: ${msg}\n`);
	process.exit(1);
}

export function usage(text) {
	process.stderr.write(`usage: ${text}\n`);
	process.exit(2);
}

// args(USAGE, {name: "string"|"boolean"}, required[]): { cmd, opts } where
// cmd is the first positional argument (if any).
export function args(usageText, spec, required = []) {
	const options = {};
	for (const [k, t] of Object.entries(spec)) options[k] = { type: t };
	let parsed;
	try {
		parsed = parseArgs({ options, allowPositionals: true });
	} catch (e) {
		usage(`${usageText}\n${e.message}`);
	}
	for (const r of required) if (parsed.values[r] === undefined) usage(`${usageText}\nmissing --${r}`);
	return { cmd: parsed.positionals[0], rest: parsed.positionals.slice(1), opts: parsed.values };
}

export function readText(path) {
	try {
		return readFileSync(path, "utf8").trim();
	} catch (e) {
		die(`cannot read ${path}: ${e.message}`);
	}
}

export function readBytes(path) {
	try {
		return new Uint8Array(readFileSync(path));
	} catch (e) {
		die(`cannot read ${path}: ${e.message}`);
	}
}

export function readJson(path) {
	try {
		return JSON.parse(readText(path));
	} catch (e) {
		die(`${path} is not JSON: ${e.message}`);
	}
}

export function writeText(path, text) {
	writeFileSync(path, text.endsWith("\n") ? text : text + "\n");
}

// Standard base64, strictly (no whitespace, padding as it must be).
export function fromBase64(text, what) {
	if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text))
		die(`${what} is not standard base64`);
	return new Uint8Array(Buffer.from(text, "base64"));
}

// 64 signature bytes from base58 (ethers' codec, re-encoded to insist on
// the canonical text).
export function signatureFromBase58(text) {
	let v;
	try {
		v = decodeBase58(text);
	} catch (e) {
		die(`signature ${text} is not base58: ${e.message}`);
	}
	const raw = v === 0n ? new Uint8Array() : toBeArray(v);
	const lead = text.match(/^1*/)[0].length;
	const sig = new Uint8Array(lead + raw.length);
	sig.set(raw, lead);
	if (sig.length !== 64) die(`signature ${text} is ${sig.length} bytes, want 64`);
	if (encodeBase58(sig) !== text) die(`signature ${text} is not canonical base58`);
	return sig;
}

export function hex(bytes) {
	return Buffer.from(bytes).toString("hex");
}

export function sameBytes(a, b) {
	return a.length === b.length && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
}

// DER TLV at i: { tag, body, end } (short and long lengths).
function tlv(b, i) {
	if (i + 2 > b.length) die("truncated DER");
	const tag = b[i];
	let len = b[i + 1];
	i += 2;
	if (len & 0x80) {
		const n = len & 0x7f;
		if (n < 1 || n > 2 || i + n > b.length) die("bad DER length");
		len = 0;
		for (let k = 0; k < n; k++) len = len * 256 + b[i + k];
		i += n;
	}
	if (i + len > b.length) die("truncated DER");
	return { tag, body: b.subarray(i, i + len), end: i + len };
}

// SubjectPublicKeyInfo DER -> { algOid (hex of the OID's DER), params (hex), key }.
export function spkiPublicKey(der) {
	const spki = tlv(der, 0);
	if (spki.tag !== 0x30 || spki.end !== der.length) die("SPKI is not one DER SEQUENCE");
	const algId = tlv(spki.body, 0);
	const bits = tlv(spki.body, algId.end);
	if (algId.tag !== 0x30 || bits.tag !== 0x03 || bits.end !== spki.body.length || bits.body[0] !== 0)
		die("SPKI is not SEQUENCE { AlgorithmIdentifier, BIT STRING }");
	const oid = tlv(algId.body, 0);
	return { algOid: hex(oid.body), params: hex(algId.body.subarray(oid.end)), key: bits.body.subarray(1) };
}
