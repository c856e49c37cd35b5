// Wallet key files as wallet software keeps them, read with the npm packages
// themselves: the address a key had before it was migrated into p11vault
// (tests/integration/wallet_migrate.sh). Prints the address and a newline.
//
//   node wallet_legacy.mjs address --evm-hex FILE
//     ethers: new Wallet(hex private key).address (EIP-55)
//   node wallet_legacy.mjs address --solana-keypair FILE
//     @solana/web3.js: Keypair.fromSecretKey(id.json bytes), which checks
//     that the public half belongs to the seed; publicKey.toBase58()
//   node wallet_legacy.mjs address --solana-base58 FILE
//     the same from the base58 text (ethers decodeBase58, as Phantom exports)
//   node wallet_legacy.mjs to-base58 --solana-keypair FILE --out FILE
//     id.json -> the base58 text of its 64 bytes (ethers encodeBase58)
import { Keypair } from "@solana/web3.js";
import { Wallet, decodeBase58, encodeBase58, toBeArray } from "ethers";
import { args, die, readJson, readText, writeText } from "./wallet_common.mjs";

const USAGE =
	"node wallet_legacy.mjs address (--evm-hex FILE | --solana-keypair FILE | --solana-base58 FILE)\n" +
	"       node wallet_legacy.mjs to-base58 --solana-keypair FILE --out FILE";
const { cmd, opts } = args(USAGE, {
	"evm-hex": "string",
	"solana-keypair": "string",
	"solana-base58": "string",
	out: "string",
});

function keypairBytes(path) {
	const a = readJson(path);
	if (!Array.isArray(a) || a.length !== 64 || !a.every((n) => Number.isInteger(n) && n >= 0 && n <= 255))
		die(`${path} is not a Solana keypair (64 integers 0..255)`);
	return Uint8Array.from(a);
}

function base58Bytes(path) {
	const n = decodeBase58(readText(path));
	const b = toBeArray(n);
	if (b.length > 64) die(`${path} decodes to more than 64 bytes`);
	const out = new Uint8Array(64);
	out.set(b, 64 - b.length); // leading zero bytes ('1's) are not in the number
	return out;
}

function solanaAddress(secret) {
	try {
		return Keypair.fromSecretKey(secret).publicKey.toBase58();
	} catch (e) {
		die(`web3.js refuses the keypair: ${e.message}`);
	}
}

if (cmd === "address") {
	if (opts["evm-hex"]) {
		let w;
		try {
			w = new Wallet(readText(opts["evm-hex"]));
		} catch (e) {
			die(`ethers refuses the key: ${e.message}`);
		}
		process.stdout.write(`${w.address}\n`);
	} else if (opts["solana-keypair"]) {
		process.stdout.write(`${solanaAddress(keypairBytes(opts["solana-keypair"]))}\n`);
	} else if (opts["solana-base58"]) {
		process.stdout.write(`${solanaAddress(base58Bytes(opts["solana-base58"]))}\n`);
	} else {
		die(`address: which key file?\n${USAGE}`);
	}
} else if (cmd === "to-base58") {
	if (!opts["solana-keypair"] || !opts.out) die(USAGE);
	writeText(opts.out, encodeBase58(keypairBytes(opts["solana-keypair"])));
} else {
	die(USAGE);
}
