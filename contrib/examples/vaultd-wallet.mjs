// A wallet service's signers backed by vaultd (p11vault's signing service)
// instead of a private key in the process. docs/migrating-wallet.md explains
// the set-up; this file runs as-is in tests/integration/wallet_interop.sh.
//
// Before (the key in the environment, readable by anything that can read the
// process):
//   const payer  = Keypair.fromSecretKey(bs58.decode(process.env.SOLANA_SECRET_KEY));
//   const wallet = new Wallet(process.env.PRIVATE_KEY, provider);
// After (the key stays on the token; the process holds a revocable bearer
// token that vaultd's policy limits to these keys, chains and amounts):
//   const vaultd = new VaultdClient();
//   const payer  = await VaultdSolanaSigner.create(vaultd, "wallet-sol");
//   const wallet = await VaultdEvmSigner.create(vaultd, "wallet-evm", provider);
//
// payer.publicKey, payer.signTransaction(tx) and signAllTransactions(txs)
// take the place of the Keypair (tx.sign(keypair) / partialSign);
// payer.signMessage(bytes) signs a message as a wallet's signMessage does
// (vaultd refuses bytes that begin with a transaction), and
// payer.signOffchainMessage(text, applicationDomain) signs the Solana
// off-chain message format (version 0). The
// Wallet's place goes to an ethers Signer: wallet.sendTransaction(...),
// signTransaction, signMessage and signTypedData work as before.
//
// Only node's built-ins and the two chain libraries: @solana/web3.js 1.x
// and ethers 6.
//
// Environment:
//   VAULTD_SOCKET      vaultd's Unix socket (default /run/p11vault/vaultd.sock)
//   VAULTD_TOKEN_FILE  a file holding this client's bearer token (default
//                      $CREDENTIALS_DIRECTORY/vaultd-token, as systemd's
//                      LoadCredential= provides it)
// Run directly, it signs a demo SOL transfer and an EVM transfer (made-up
// blockhash and nonce; nothing is sent anywhere) with the keys named by
// SOLANA_KEY and EVM_KEY (default wallet-sol, wallet-evm) and prints both as
// JSON.
import { createPublicKey, verify } from "node:crypto";
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { pathToFileURL } from "node:url";
import { PublicKey, SystemProgram, Transaction, VersionedTransaction } from "@solana/web3.js";
import {
	AbstractSigner,
	Transaction as EvmTransaction,
	TypedDataEncoder,
	decodeBase58,
	getAddress,
	parseEther,
	parseUnits,
	resolveAddress,
	resolveProperties,
	toBeArray,
	toUtf8Bytes,
} from "ethers";

export class VaultdError extends Error {
	constructor(status, code, message) {
		super(`vaultd: ${status} ${code}: ${message}`);
		this.status = status;
		this.code = code;
	}
}

// JSON requests to vaultd over its Unix socket, with the bearer token.
export class VaultdClient {
	constructor({
		socketPath = process.env.VAULTD_SOCKET ?? "/run/p11vault/vaultd.sock",
		tokenFile = process.env.VAULTD_TOKEN_FILE ?? `${process.env.CREDENTIALS_DIRECTORY ?? "."}/vaultd-token`,
	} = {}) {
		this.socketPath = socketPath;
		// Read once; the token is the client's credential, never log it.
		this.token = readFileSync(tokenFile, "utf8").trim();
	}

	call(method, path, body) {
		const data = body === undefined ? null : Buffer.from(JSON.stringify(body));
		const headers = { Authorization: `Bearer ${this.token}` };
		if (data) Object.assign(headers, { "Content-Type": "application/json", "Content-Length": data.length });
		return new Promise((resolve, reject) => {
			const req = request({ socketPath: this.socketPath, path, method, headers }, (res) => {
				const chunks = [];
				res.on("data", (c) => chunks.push(c));
				res.on("end", () => {
					let reply;
					try {
						reply = JSON.parse(Buffer.concat(chunks).toString("utf8"));
					} catch {
						return reject(new VaultdError(res.statusCode, "bad_reply", "not JSON"));
					}
					if (res.statusCode === 200) return resolve(reply);
					const e = reply.error ?? {};
					reject(new VaultdError(res.statusCode, e.code ?? "error", e.message ?? ""));
				});
			});
			req.on("error", reject);
			req.end(data);
		});
	}

	wallet(name, chain, op, body) {
		return this.call(body ? "POST" : "GET", `/v1/wallet/${encodeURIComponent(name)}/${chain}/${op}`, body);
	}
}

// In place of a Keypair: the public key and a signTransaction that adds
// the token key's signature to a legacy Transaction or a VersionedTransaction
// (other signers' signatures stay as they are).
export class VaultdSolanaSigner {
	constructor(client, name, address) {
		this.client = client;
		this.name = name;
		this.publicKey = new PublicKey(address);
	}

	static async create(client, name) {
		const r = await client.wallet(name, "solana", "address");
		return new VaultdSolanaSigner(client, name, r.address);
	}

	async signTransaction(tx) {
		const legacy = tx instanceof Transaction;
		if (legacy && !tx.feePayer) tx.feePayer = this.publicKey; // as tx.sign(keypair) would
		const wire = legacy ? tx.serialize({ requireAllSignatures: false, verifySignatures: false }) : tx.serialize();
		const r = await this.client.wallet(this.name, "solana", "sign-transaction", {
			transaction_b64: Buffer.from(wire).toString("base64"),
		});
		const signed = VersionedTransaction.deserialize(Buffer.from(r.transaction_b64, "base64"));
		// Take only our signature, and only for the message we sent.
		const sent = legacy ? tx.serializeMessage() : tx.message.serialize();
		if (!Buffer.from(signed.message.serialize()).equals(Buffer.from(sent)) || r.address !== this.publicKey.toBase58())
			throw new Error("vaultd signed something other than this transaction");
		tx.addSignature(this.publicKey, Buffer.from(signed.signatures[r.signer_index]));
		return tx;
	}

	async signAllTransactions(txs) {
		const out = [];
		for (const tx of txs) out.push(await this.signTransaction(tx));
		return out;
	}

	// A message signed as it is, as a wallet's signMessage(bytes) does: the
	// 64-byte Ed25519 signature. vaultd refuses (400) bytes that begin with
	// a Solana transaction or transaction message.
	async signMessage(message) {
		const bytes = typeof message === "string" ? Buffer.from(message, "utf8") : Buffer.from(message);
		const r = await this.client.wallet(this.name, "solana", "sign-message", { message_b64: bytes.toString("base64") });
		return this.#checked(r, bytes);
	}

	// The Solana off-chain message format, version 0, for applicationDomain
	// (32 bytes in base58, e.g. the program's address): vaultd builds the
	// message with this key as its signer. Returns the signature and the
	// bytes signed, which is what a verifier needs
	// (@solana/offchain-messages: getOffchainMessageDecoder,
	// verifyOffchainMessageEnvelope).
	async signOffchainMessage(text, applicationDomain) {
		const body = Buffer.from(text, "utf8");
		const r = await this.client.wallet(this.name, "solana", "sign-message", {
			format: "offchain",
			application_domain: applicationDomain,
			message_b64: body.toString("base64"),
		});
		const signed = Buffer.from(r.signed_message_b64, "base64");
		// the signing domain, version 0, our domain, one signer (us), the text
		const head = Buffer.concat([Buffer.from("\xffsolana offchain", "latin1"), Buffer.from([0])]);
		const domain = new PublicKey(applicationDomain).toBuffer();
		if (
			!signed.subarray(0, 17).equals(head) ||
			!signed.subarray(17, 49).equals(domain) ||
			signed[50] !== 1 ||
			!signed.subarray(51, 83).equals(this.publicKey.toBuffer()) ||
			signed.readUInt16LE(83) !== body.length ||
			!signed.subarray(85).equals(body)
		)
			throw new Error("vaultd signed something other than this off-chain message");
		return { signature: this.#checked(r, signed), signedMessage: new Uint8Array(signed) };
	}

	// The reply's signature, if it is this key's over these bytes.
	#checked(r, bytes) {
		const v = decodeBase58(r.signature_b58);
		const raw = v === 0n ? new Uint8Array() : toBeArray(v);
		const sig = new Uint8Array(64);
		sig.set(raw, 64 - raw.length);
		const key = createPublicKey({
			key: { kty: "OKP", crv: "Ed25519", x: this.publicKey.toBuffer().toString("base64url") },
			format: "jwk",
		});
		if (r.address !== this.publicKey.toBase58() || !verify(null, bytes, key, sig))
			throw new Error("vaultd's signature is not this key's over the message");
		return sig;
	}
}

// In place of an ethers Wallet: an ethers Signer whose key is on the token.
export class VaultdEvmSigner extends AbstractSigner {
	constructor(client, name, address, provider = null) {
		super(provider);
		this.client = client;
		this.name = name;
		this.address = getAddress(address);
	}

	static async create(client, name, provider = null) {
		const r = await client.wallet(name, "evm", "address");
		return new VaultdEvmSigner(client, name, r.address, provider);
	}

	connect(provider) {
		return new VaultdEvmSigner(this.client, this.name, this.address, provider);
	}

	async getAddress() {
		return this.address;
	}

	async signTransaction(request) {
		const tx = { ...request };
		const { to, from } = await resolveProperties({
			to: tx.to ? resolveAddress(tx.to, this.provider) : undefined,
			from: tx.from ? resolveAddress(tx.from, this.provider) : undefined,
		});
		if (to != null) tx.to = to;
		if (from != null && getAddress(from) !== this.address) throw new Error(`transaction from ${from}, not ${this.address}`);
		delete tx.from;
		const unsigned = EvmTransaction.from(tx).unsignedSerialized;
		const r = await this.client.wallet(this.name, "evm", "sign-transaction", { transaction_hex: unsigned });
		const signed = EvmTransaction.from(r.raw_transaction);
		if (signed.unsignedSerialized !== unsigned || signed.from !== this.address)
			throw new Error("vaultd signed something other than this transaction");
		return signed.serialized;
	}

	async signMessage(message) {
		const bytes = typeof message === "string" ? toUtf8Bytes(message) : message;
		const r = await this.client.wallet(this.name, "evm", "sign-message", {
			message_b64: Buffer.from(bytes).toString("base64"),
		});
		return r.signature;
	}

	// EIP-712: vaultd computes the digest from the typed data itself (so a
	// rule with chain_ids can check the domain's chainId: a chain not listed,
	// or none, is 403) and returns it; it must be the one ethers computes.
	async signTypedData(domain, types, value) {
		const r = await this.client.wallet(this.name, "evm", "sign-typed-data", {
			typed_data: TypedDataEncoder.getPayload(domain, types, value),
		});
		if (r.digest !== TypedDataEncoder.hash(domain, types, value))
			throw new Error("vaultd signed typed data other than this");
		return r.signature;
	}
}

// The demo: one transaction of each kind, printed, not sent.
async function main() {
	const vaultd = new VaultdClient();
	const payer = await VaultdSolanaSigner.create(vaultd, process.env.SOLANA_KEY ?? "wallet-sol");
	const wallet = await VaultdEvmSigner.create(vaultd, process.env.EVM_KEY ?? "wallet-evm");

	// A real service: const { blockhash } = await connection.getLatestBlockhash();
	const blockhash = "E2y7fNC2EqRdqctG9PxMbAWRfvHD3qTdBCJr5gyN2hff";
	const sol = new Transaction({ feePayer: payer.publicKey, recentBlockhash: blockhash }).add(
		SystemProgram.transfer({
			fromPubkey: payer.publicKey,
			toPubkey: new PublicKey("5MdWEoyXd9NmPJSHBMS41iY4bAwKwGXtRA9MfrDWbp6N"),
			lamports: 5000,
		}),
	);
	await payer.signTransaction(sol);
	if (!sol.verifySignatures()) throw new Error("the Solana signature does not verify");
	// ... then: await connection.sendRawTransaction(sol.serialize());

	// With a provider, wallet.connect(provider).sendTransaction({ to, value })
	// fills nonce, gas and chain id; here they are given.
	const raw = await wallet.signTransaction({
		type: 2,
		chainId: 8453,
		nonce: 0,
		to: "0x000000000000000000000000000000000000dEaD",
		value: parseEther("0.001"),
		gasLimit: 21000,
		maxFeePerGas: parseUnits("2", "gwei"),
		maxPriorityFeePerGas: parseUnits("0.1", "gwei"),
	});

	console.log(
		JSON.stringify({
			solana: { address: payer.publicKey.toBase58(), transaction_b64: sol.serialize().toString("base64") },
			evm: { address: wallet.address, raw_transaction: raw },
		}),
	);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
	main().catch((e) => {
		console.error(e.message);
		process.exit(1);
	});
}
