// Builds an unsigned Solana transaction with @solana/web3.js, offline: the
// blockhash, the other keys and the address lookup table are made up here
// (deterministic, from fixed seeds), nothing touches a network.
//
//   node wallet_solana_build.mjs --kind KIND --signer ADDRESS --out FILE
//
// KIND:
//   transfer  legacy Transaction, fee payer = ADDRESS, a SystemProgram
//             transfer from ADDRESS (ADDRESS in signature slot 0)
//   cosigned  legacy Transaction, fee payer = a made-up key that has already
//             signed (partialSign); ADDRESS is the second signer (slot 1),
//             its slot left empty
//   v0        VersionedTransaction with a MessageV0 compiled against an
//             AddressLookupTableAccount built in memory: the recipient and a
//             read-only account come from the table (fee payer = ADDRESS)
//   foreign   legacy Transaction in which ADDRESS is not a signer
//
// Writes the wire transaction (serialize({requireAllSignatures:false}),
// empty slots zero-filled) as standard base64 to FILE and prints
// {"kind","version","fee_payer","signer_index","signatures"} on stdout.
import { createHash } from "node:crypto";
import {
	AddressLookupTableAccount,
	Keypair,
	MessageV0,
	PublicKey,
	SystemProgram,
	Transaction,
	TransactionInstruction,
	VersionedTransaction,
} from "@solana/web3.js";
import { args, die, writeText } from "./wallet_common.mjs";

const USAGE = "node wallet_solana_build.mjs --kind transfer|cosigned|v0|foreign --signer ADDRESS --out FILE";
const { opts } = args(USAGE, { kind: "string", signer: "string", out: "string" }, ["kind", "signer", "out"]);

const seed = (label) => createHash("sha256").update(`p11vault wallet interop: ${label}`).digest();
const madeUpKey = (label) => new PublicKey(seed(label));

let signer;
try {
	signer = new PublicKey(opts.signer);
} catch (e) {
	die(`--signer is not a Solana address: ${e.message}`);
}
const blockhash = madeUpKey("blockhash").toBase58();
const recipient = madeUpKey("recipient");
const lamports = 1_250_000;

function legacy(feePayer, from) {
	const tx = new Transaction({ feePayer, recentBlockhash: blockhash });
	tx.add(SystemProgram.transfer({ fromPubkey: from, toPubkey: recipient, lamports }));
	return tx;
}

let wire, feePayer, version;
switch (opts.kind) {
	case "transfer": {
		const tx = legacy(signer, signer);
		wire = tx.serialize({ requireAllSignatures: false, verifySignatures: false });
		feePayer = signer;
		version = "legacy";
		break;
	}
	case "cosigned": {
		const payer = Keypair.fromSeed(seed("co-signer"));
		const tx = legacy(payer.publicKey, signer);
		tx.partialSign(payer);
		wire = tx.serialize({ requireAllSignatures: false, verifySignatures: false });
		feePayer = payer.publicKey;
		version = "legacy";
		break;
	}
	case "foreign": {
		const other = Keypair.fromSeed(seed("someone else"));
		const tx = legacy(other.publicKey, other.publicKey);
		tx.add(
			new TransactionInstruction({
				programId: madeUpKey("program"),
				keys: [{ pubkey: signer, isSigner: false, isWritable: false }],
				data: Buffer.from("not yours"),
			}),
		);
		wire = tx.serialize({ requireAllSignatures: false, verifySignatures: false });
		feePayer = other.publicKey;
		version = "legacy";
		break;
	}
	case "v0": {
		const readOnly = madeUpKey("read-only account");
		const table = new AddressLookupTableAccount({
			key: madeUpKey("lookup table"),
			state: {
				deactivationSlot: BigInt("0xffffffffffffffff"),
				lastExtendedSlot: 1000,
				lastExtendedSlotStartIndex: 0,
				authority: undefined,
				addresses: [madeUpKey("table entry 0"), recipient, readOnly, madeUpKey("table entry 3")],
			},
		});
		const instructions = [
			SystemProgram.transfer({ fromPubkey: signer, toPubkey: recipient, lamports }),
			new TransactionInstruction({
				programId: madeUpKey("program"),
				keys: [{ pubkey: readOnly, isSigner: false, isWritable: false }],
				data: Buffer.from([1, 2, 3]),
			}),
		];
		const message = MessageV0.compile({
			payerKey: signer,
			instructions,
			recentBlockhash: blockhash,
			addressLookupTableAccounts: [table],
		});
		const lookups = message.addressTableLookups;
		if (lookups.length !== 1 || lookups[0].writableIndexes.length !== 1 || lookups[0].readonlyIndexes.length !== 1)
			die("MessageV0.compile did not take the recipient and the read-only account from the table");
		wire = new VersionedTransaction(message).serialize();
		feePayer = signer;
		version = 0;
		break;
	}
	default:
		die(`unknown --kind ${opts.kind}`);
}

// Where ADDRESS sits among the required signers (-1: not a signer).
const parsed = VersionedTransaction.deserialize(wire);
const n = parsed.message.header.numRequiredSignatures;
const index = parsed.message.staticAccountKeys.slice(0, n).findIndex((k) => k.equals(signer));
writeText(opts.out, Buffer.from(wire).toString("base64"));
console.log(
	JSON.stringify({ kind: opts.kind, version, fee_payer: feePayer.toBase58(), signer_index: index, signatures: n }),
);
