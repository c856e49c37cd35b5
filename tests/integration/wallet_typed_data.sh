#!/bin/bash
# EIP-712 typed data signed by p11vault, checked by ethers 6 (tests/interop/,
# pinned in its package-lock.json): ethers builds the eth_signTypedData_v4
# JSON (TypedDataEncoder.getPayload) of the EIP's Mail example and of an
# EIP-2612 Permit owned by our address, `vaultctl wallet sign-typed-data`
# signs it with a secp256k1 token key, and ethers' verifyTypedData must
# recover our address (v 27/28, low S, the digest TypedDataEncoder.hash
# computes).
#
# Must-fail checks: the signature against tampered typed data recovers
# another address; refused typed data (primaryType EIP712Domain, a bad
# address checksum, an extra message field, a cyclic type, bytes after the
# JSON, an ed25519 key, --chain solana) exits 2 with nothing on stdout.
#
# Node.js >= 20.18 and npm (tests/lib/interop.sh installs the packages into
# the build tree); without them the test skips (77), except under CI=true.
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/interop.sh"
need_cmd python3

W=$PV_WORK

say "ethers from tests/interop (npm ci into the build tree)"
command -v node >/dev/null 2>&1 || interop_missing "node is not installed"
node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 18) ? 0 : 1)' ||
	interop_missing "node $(node --version) is older than 20.18 (the interop packages need it)"
interop_node_setup tests/interop/wallet_common.mjs tests/interop/wallet_evm_verify.mjs tests/interop/wallet_typed_data.mjs
echo "node $(node --version), ethers $(json_get "$NODE_DIR/node_modules/ethers/package.json" version)"

# edit IN OUT PYTHON: a copy of the JSON document IN changed by PYTHON (on d).
edit() {
	python3 - "$1" "$2" "$3" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
exec(sys.argv[3])
open(sys.argv[2], "w").write(json.dumps(d))
EOF
}

say "a secp256k1 key and an ed25519 key; the EVM address (ethers computeAddress of the public key)"
run_expect 0 vc key create wallet-evm --alg secp256k1
run_expect 0 vc key create wallet-sol --alg ed25519
pub_der wallet-evm "$W/evm.der"
run_expect 0 vc wallet address wallet-evm --chain evm
EVM=$(tr -d '\n' <"$RUN_OUT")
js wallet_evm_verify.mjs address --spki "$W/evm.der" --address "$EVM"

say "typed data built by ethers: the EIP-712 Mail example, an EIP-2612 Permit (Base, chain 8453)"
js wallet_typed_data.mjs build --kind mail --out "$W/mail.json"
MAIL_DIGEST=$(json_get "$RUN_OUT" digest)
assert_eq "$MAIL_DIGEST" 0xbe609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2 \
	"ethers' digest of the Mail example (the EIP's published value)"
js wallet_typed_data.mjs build --kind permit --owner "$EVM" --chain-id 8453 --out "$W/permit.json"
PERMIT_DIGEST=$(json_get "$RUN_OUT" digest)

# ---- vaultctl ----

say "vaultctl wallet sign-typed-data: verifyTypedData recovers our address"
for t in mail permit; do
	run_expect 0 vc wallet sign-typed-data wallet-evm --chain evm --in "$W/$t.json"
	cp "$RUN_OUT" "$W/cli-$t.sig"
	js wallet_typed_data.mjs verify --typed "$W/$t.json" --signature "$(tr -d '\n' <"$W/cli-$t.sig")" --address "$EVM"
	run_expect 0 vc wallet sign-typed-data wallet-evm --chain evm --json <"$W/$t.json"
	cp "$RUN_OUT" "$W/cli-$t.json"
	js wallet_typed_data.mjs verify --typed "$W/$t.json" --response "$W/cli-$t.json" --address "$EVM"
	assert_eq "$(json_get "$W/cli-$t.json" name)" wallet-evm "--json name"
	assert_eq "$(json_get "$W/cli-$t.json" version)" 1 "--json version"
done
assert_eq "$(json_get "$W/cli-mail.json" digest)" "$MAIL_DIGEST" "--json digest of the Mail example"
assert_eq "$(json_get "$W/cli-permit.json" digest)" "$PERMIT_DIGEST" "--json digest of the Permit"

say "must fail: the signatures do not verify tampered typed data"
for t in mail permit; do
	js wallet_typed_data.mjs tamper --typed "$W/$t.json" --out "$W/$t-tampered.json"
	js_refuses "verifyTypedData gives" wallet_typed_data.mjs verify --typed "$W/$t-tampered.json" \
		--signature "$(tr -d '\n' <"$W/cli-$t.sig")" --address "$EVM"
done

say "refused typed data: exit 2, one line naming the problem, nothing signed"
edit "$W/mail.json" "$W/bad-domain-only.json" 'd["primaryType"] = "EIP712Domain"'
edit "$W/mail.json" "$W/bad-checksum.json" 'd["message"]["to"]["wallet"] = "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbb"'
edit "$W/mail.json" "$W/bad-extra.json" 'd["message"]["cc"] = "eve"'
edit "$W/mail.json" "$W/bad-cyclic.json" 'd["types"]["Person"].append({"name": "boss", "type": "Person"})'
edit "$W/permit.json" "$W/bad-range.json" 'd["types"]["Permit"][4]["type"] = "uint8"'
printf '%s x\n' "$(cat "$W/mail.json")" >"$W/bad-trailing.json"
for bad in domain-only:"signing the domain alone" checksum:"bad EIP-55 checksum" extra:"member cc is not a field of Mail" \
	cyclic:"refers to itself" range:"message.deadline: value out of range for uint8" trailing:"bytes after the JSON object"; do
	run_expect 2 vc wallet sign-typed-data wallet-evm --chain evm --in "$W/bad-${bad%%:*}.json"
	assert_size "$RUN_OUT" 0 "output for refused typed data ${bad%%:*}"
	assert_contains "$RUN_ERR" "${bad#*:}" "the error for ${bad%%:*} does not say '${bad#*:}': $(cat "$RUN_ERR")"
	assert_one_line_error "$RUN_ERR"
done
run_expect 2 vc wallet sign-typed-data wallet-sol --chain evm --in "$W/mail.json"
run_expect 2 vc wallet sign-typed-data wallet-evm --chain solana --in "$W/mail.json"
run_expect 5 vc wallet sign-typed-data no-such-key --chain evm --in "$W/mail.json"

echo "wallet_typed_data: ok"
