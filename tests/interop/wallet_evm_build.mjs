// Builds an unsigned EVM transaction with ethers (Transaction, then
// unsignedSerialized), offline.
//
//   node wallet_evm_build.mjs --type 0|1|2 --chain-id N --nonce N --to ADDRESS
//        --value WEI [--erc20-transfer] --out FILE
//
// type 0: legacy with an EIP-155 chain id (gasPrice); 1: EIP-2930 (gasPrice
// and an access list naming --to with two storage keys); 2: EIP-1559
// (maxFeePerGas, maxPriorityFeePerGas). --erc20-transfer puts ERC-20
// transfer(recipient, 5e6) calldata in data (--to is then the token).
// Writes the 0x-hex unsigned transaction to FILE.
import { Interface, Transaction, getAddress, parseUnits, toBeHex, zeroPadValue } from "ethers";
import { args, die, writeText } from "./wallet_common.mjs";

const USAGE =
	"node wallet_evm_build.mjs --type 0|1|2 --chain-id N --nonce N --to ADDRESS --value WEI [--erc20-transfer] --out FILE";
const { opts } = args(
	USAGE,
	{ type: "string", "chain-id": "string", nonce: "string", to: "string", value: "string", "erc20-transfer": "boolean", out: "string" },
	["type", "chain-id", "nonce", "to", "value", "out"],
);

const type = Number(opts.type);
if (![0, 1, 2].includes(type)) die(`--type ${opts.type}: want 0, 1 or 2`);
let to;
try {
	to = getAddress(opts.to);
} catch (e) {
	die(`--to ${opts.to} is not an EVM address: ${e.message}`);
}
const fields = {
	type,
	chainId: BigInt(opts["chain-id"]),
	nonce: Number(opts.nonce),
	to,
	value: BigInt(opts.value),
	gasLimit: 21000n,
	data: "0x",
};
if (opts["erc20-transfer"]) {
	const erc20 = new Interface(["function transfer(address to, uint256 amount) returns (bool)"]);
	fields.data = erc20.encodeFunctionData("transfer", ["0x00000000000000000000000000000000000a11ce", 5_000_000n]);
	fields.gasLimit = 65000n;
}
if (type === 2) {
	fields.maxFeePerGas = parseUnits("31.5", "gwei");
	fields.maxPriorityFeePerGas = parseUnits("1.25", "gwei");
} else {
	fields.gasPrice = parseUnits("20", "gwei");
}
if (type === 1) {
	fields.accessList = [{ address: fields.to, storageKeys: [zeroPadValue(toBeHex(1), 32), zeroPadValue(toBeHex(7), 32)] }];
	fields.gasLimit += 6200n;
}
const tx = Transaction.from(fields);
if (tx.type !== type) die(`ethers made a type ${tx.type} transaction, want ${type}`);
writeText(opts.out, tx.unsignedSerialized);
