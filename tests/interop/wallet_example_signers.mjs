// Uses the signer classes of contrib/examples/vaultd-wallet.mjs the way a
// service would, against a running vaultd, and checks every result with
// the chain libraries: a co-signed legacy Transaction and a v0
// VersionedTransaction (signTransaction), signAllTransactions, Solana
// signMessage (Ed25519; a transaction message, also with a byte after it,
// refused with 400) and signOffchainMessage (decoded and verified by
// @solana/offchain-messages), EVM
// signMessage (verifyMessage), signTypedData (verifyTypedData for chain 1
// under the capped rule; a domain of chain 5 or without a chainId refused
// with 403 there, signed for the client without caps) and a legacy EIP-155
// signTransaction.
//
//   node wallet_example_signers.mjs --example FILE --socket PATH --token FILE
//        --digest-token FILE --solana-key NAME --evm-key NAME
//
// --token: a client whose rule has caps (chain 1 allowed); --digest-token: a
// client without caps for the EVM key. Exit 0 when all hold, 1 otherwise.
import { createHash, createPublicKey, verify } from "node:crypto";
import { pathToFileURL } from "node:url";
import { Keypair, MessageV0, PublicKey, SystemProgram, Transaction, VersionedTransaction } from "@solana/web3.js";
import { getOffchainMessageDecoder, verifyOffchainMessageEnvelope } from "@solana/offchain-messages";
import { Transaction as EvmTransaction, verifyMessage, verifyTypedData } from "ethers";
import { args, die } from "./wallet_common.mjs";

const USAGE =
	"node wallet_example_signers.mjs --example FILE --socket PATH --token FILE --digest-token FILE --solana-key NAME --evm-key NAME";
const { opts } = args(
	USAGE,
	{ example: "string", socket: "string", token: "string", "digest-token": "string", "solana-key": "string", "evm-key": "string" },
	["example", "socket", "token", "digest-token", "solana-key", "evm-key"],
);
const ex = await import(pathToFileURL(opts.example).href);

const seed = (label) => createHash("sha256").update(`p11vault example signers: ${label}`).digest();
const blockhash = new PublicKey(seed("blockhash")).toBase58();
const recipient = new PublicKey(seed("recipient"));

function ed25519Valid(pub, msg, sig) {
	const key = createPublicKey({
		key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(pub.toBytes()).toString("base64url") },
		format: "jwk",
	});
	return verify(null, msg, key, sig);
}

const client = new ex.VaultdClient({ socketPath: opts.socket, tokenFile: opts.token });
const digestClient = new ex.VaultdClient({ socketPath: opts.socket, tokenFile: opts["digest-token"] });
const sol = await ex.VaultdSolanaSigner.create(client, opts["solana-key"]);
const me = sol.publicKey;

// a legacy transaction another key pays for and has signed first
const payer = Keypair.fromSeed(seed("fee payer"));
const cosigned = new Transaction({ feePayer: payer.publicKey, recentBlockhash: blockhash }).add(
	SystemProgram.transfer({ fromPubkey: me, toPubkey: recipient, lamports: 777 }),
);
cosigned.partialSign(payer);
const payerSig = Buffer.from(cosigned.signatures[0].signature);
await sol.signTransaction(cosigned);
if (!cosigned.verifySignatures()) die("co-signed Transaction: verifySignatures() is false after signTransaction");
if (!payerSig.equals(cosigned.signatures[0].signature)) die("co-signed Transaction: the fee payer's signature changed");
console.log("Solana co-signed legacy transaction: both signatures verify");

// a v0 transaction
const v0 = new VersionedTransaction(
	MessageV0.compile({
		payerKey: me,
		recentBlockhash: blockhash,
		instructions: [SystemProgram.transfer({ fromPubkey: me, toPubkey: recipient, lamports: 888 })],
	}),
);
await sol.signTransaction(v0);
if (!ed25519Valid(me, v0.message.serialize(), v0.signatures[0])) die("v0 transaction: the signature does not verify");
console.log("Solana v0 transaction: the signature verifies");

// signAllTransactions, fee payer filled in as tx.sign(keypair) would
const batch = [1, 2].map((n) =>
	new Transaction({ recentBlockhash: blockhash }).add(
		SystemProgram.transfer({ fromPubkey: me, toPubkey: recipient, lamports: n }),
	),
);
for (const tx of await sol.signAllTransactions(batch))
	if (!tx.feePayer.equals(me) || !tx.verifySignatures()) die("signAllTransactions: a transaction does not verify");
console.log("Solana signAllTransactions: both verify");

// signMessage: the bytes as they are; never a transaction message
const solText = "Sign in to example.test, nonce 7";
if (!ed25519Valid(me, Buffer.from(solText), await sol.signMessage(solText))) die("signMessage: the signature does not verify");
const txMessage = Buffer.from(v0.message.serialize());
for (const bytes of [txMessage, Buffer.concat([txMessage, Buffer.from([0])])]) {
	let refused = null;
	try {
		await sol.signMessage(bytes);
	} catch (e) {
		refused = e;
	}
	if (!(refused instanceof ex.VaultdError) || refused.status !== 400)
		die(`signMessage of a transaction message (${bytes.length} bytes): ${refused ? refused.message : "signed"}`);
}
console.log("Solana signMessage: verifies; transaction messages (and one with a trailing byte) refused with 400");

// signOffchainMessage: the SDK reads and verifies what was signed
const appDomain = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA";
const off = await sol.signOffchainMessage(solText, appDomain);
const decoded = getOffchainMessageDecoder().decode(off.signedMessage);
if (decoded.version !== 0 || decoded.content.text !== solText || decoded.applicationDomain !== appDomain)
	die("signOffchainMessage: the signed message is not the one asked for");
if (decoded.requiredSignatories.length !== 1 || decoded.requiredSignatories[0].address !== me.toBase58())
	die("signOffchainMessage: the signatory is not this key");
try {
	await verifyOffchainMessageEnvelope({ content: off.signedMessage, signatures: { [me.toBase58()]: off.signature } });
} catch (e) {
	die(`signOffchainMessage: verifyOffchainMessageEnvelope: ${e.message}`);
}
console.log("Solana signOffchainMessage: @solana/offchain-messages decodes and verifies it");

// EVM
const evm = await ex.VaultdEvmSigner.create(client, opts["evm-key"]);
const address = await evm.getAddress();
const text = "sign in to example.test: nonce 7";
if (verifyMessage(text, await evm.signMessage(text)) !== address) die("signMessage: verifyMessage gives another address");
console.log("EVM signMessage: verifyMessage gives the address");

const raw = await evm.signTransaction({ type: 0, chainId: 1, nonce: 3, to: "0x000000000000000000000000000000000000beef", value: 5n, gasLimit: 21000, gasPrice: 10n ** 9n });
const tx = EvmTransaction.from(raw);
if (tx.from !== address || tx.type !== 0 || tx.chainId !== 1n || tx.value !== 5n) die("legacy signTransaction: wrong from or fields");
console.log("EVM legacy signTransaction: from and fields as asked");

const domain = { name: "Example", version: "1", chainId: 1, verifyingContract: "0x000000000000000000000000000000000000c0de" };
const types = { Order: [{ name: "owner", type: "address" }, { name: "amount", type: "uint256" }] };
const value = { owner: address, amount: 42n };
if (verifyTypedData(domain, types, value, await evm.signTypedData(domain, types, value)) !== address)
	die("signTypedData (chain 1, capped rule): verifyTypedData gives another address");
const evmFree = await ex.VaultdEvmSigner.create(digestClient, opts["evm-key"]);
const { chainId, ...noChain } = domain;
for (const [what, d] of [["chain 5", { ...domain, chainId: 5 }], ["no chainId", noChain]]) {
	try {
		await evm.signTypedData(d, types, value);
		die(`signTypedData (${what}) under the capped rule: signed, want 403`);
	} catch (e) {
		if (!(e instanceof ex.VaultdError) || e.status !== 403)
			die(`signTypedData (${what}) under the capped rule: ${e.message}, want 403`);
	}
	if (verifyTypedData(d, types, value, await evmFree.signTypedData(d, types, value)) !== address)
		die(`signTypedData (${what}, no caps): verifyTypedData gives another address`);
}
console.log("EVM signTypedData: verifyTypedData gives the address (chain 1 under the caps; chain 5 and no chainId: 403 there, signed without caps)");
