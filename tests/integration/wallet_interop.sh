#!/bin/bash
# Wallet signatures checked by the chains' own libraries: @solana/web3.js
# 1.x and ethers 6 (tests/interop/, pinned in its package-lock.json) build
# unsigned transactions offline (made-up blockhash, lookup table and
# nonces), p11vault signs them with token keys, and the same libraries
# verify the result — once through `vaultctl wallet ...` and once through
# vaultd's wallet endpoints over its Unix socket (docs/api.md §4 "Wallet").
#
# Solana (ed25519 key): a legacy transfer (fee payer = our address), a
# legacy transaction co-signed by another key first (ours is slot 1; slot 0
# must stay as it was), a v0 transaction compiled against an address lookup
# table; legacy ones pass Transaction.from(...).verifySignatures(), every
# one is parsed by VersionedTransaction.deserialize and our slot verified
# with Ed25519 (node:crypto) over message.serialize(); sign-message verified
# against the address; off-chain messages (sign-message --offchain, vaultd
# "format": "offchain") rebuilt, decoded and verified by
# @solana/offchain-messages in all three formats. EVM (secp256k1 key): EIP-1559 (plain and with ERC-20
# calldata), legacy EIP-155 and EIP-2930 transfers: Transaction.from(raw)
# .from is our address, fields unchanged, hash = tx_hash, low S; personal_sign
# through verifyMessage, sign-digest through recoverAddress. Addresses are
# checked against the public keys vaultctl shows (SPKI DER).
#
# Must-fail checks: a flipped signature byte (verifySignatures false /
# another from), a signed transaction checked against another unsigned one,
# a key that is not a signer, transaction bytes to sign-message (also with
# a trailing byte), an off-chain reply checked against another message or
# with another signature, a key of the other chain's purpose, vaultd's
# caps (chain id not allowed, value over max_value_wei, sign-digest under a
# capped rule: 403).
#
# Last, contrib/examples/vaultd-wallet.mjs (the example of
# docs/migrating-wallet.md) runs against this vaultd and its output is
# verified the same way, and its signer classes are used as a service would
# (wallet_example_signers.mjs), so the example cannot rot.
#
# Node.js >= 20.18 (what @solana/web3.js 1.99's dependencies need) and npm;
# tests/lib/interop.sh installs the packages into the build tree. Without
# them the test skips (77), except under CI=true, where it fails.
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/vaultd.sh"
. "$top_srcdir/tests/lib/interop.sh"
vd_need
need_cmd basenc

W=$PV_WORK
ONE_ETH=1000000000000000000
BOB=0x00000000000000000000000000000000000b0b00
USDC_BASE=0x833589fcd6edb6e08f4c7c32d4f71b54bda02913

# ---- Node.js packages ----

say "ethers and @solana/web3.js from tests/interop (npm ci into the build tree)"
command -v node >/dev/null 2>&1 || interop_missing "node is not installed"
node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 18) ? 0 : 1)' ||
	interop_missing "node $(node --version) is older than 20.18 (@solana/web3.js 1.99 needs it)"
interop_node_setup tests/interop/wallet_common.mjs tests/interop/wallet_solana_build.mjs \
	tests/interop/wallet_solana_verify.mjs tests/interop/wallet_evm_build.mjs tests/interop/wallet_evm_verify.mjs \
	tests/interop/wallet_example_signers.mjs tests/interop/wallet_offchain.mjs contrib/examples/vaultd-wallet.mjs
echo "node $(node --version), ethers $(json_get "$NODE_DIR/node_modules/ethers/package.json" version)," \
	"@solana/web3.js $(json_get "$NODE_DIR/node_modules/@solana/web3.js/package.json" version)," \
	"@solana/offchain-messages $(json_get "$NODE_DIR/node_modules/@solana/offchain-messages/package.json" version)"

# flip_b64 IN OUT OFFSET: a copy of a base64 file with one decoded byte changed.
flip_b64() {
	python3 - "$@" <<'EOF'
import base64, sys
b = bytearray(base64.b64decode(open(sys.argv[1]).read().strip(), validate=True))
b[int(sys.argv[3])] ^= 0x01
open(sys.argv[2], "w").write(base64.b64encode(bytes(b)).decode() + "\n")
EOF
}

# flip_hex_last IN OUT: a 0x-hex transaction with its last byte (inside s,
# the last RLP item of every signed type) changed.
flip_hex_last() {
	python3 - "$@" <<'EOF'
import sys
t = open(sys.argv[1]).read().strip()
open(sys.argv[2], "w").write(t[:-2] + "%02x" % (int(t[-2:], 16) ^ 0x01) + "\n")
EOF
}

# sol_message_bytes IN OUT: the message of a wire transaction (after the
# signature list), as bytes.
sol_message_bytes() {
	python3 - "$@" <<'EOF'
import base64, sys
b = base64.b64decode(open(sys.argv[1]).read().strip(), validate=True)
assert b[0] < 0x80, "more than 127 signatures"
open(sys.argv[2], "wb").write(b[1 + 64 * b[0]:])
EOF
}

# ---- keys and unsigned transactions ----

say "wallet keys on the fresh token: ed25519 (Solana), secp256k1 (EVM)"
run_expect 0 vc key create wallet-sol --alg ed25519 --purpose solana
run_expect 0 vc key create wallet-evm --alg secp256k1 --purpose evm
pub_der wallet-sol "$W/sol.der"
pub_der wallet-evm "$W/evm.der"

say "vaultctl wallet address: the public keys' addresses (web3.js PublicKey, ethers computeAddress)"
run_expect 0 vc wallet address wallet-sol --chain solana
SOL=$(tr -d '\n' <"$RUN_OUT")
js wallet_solana_verify.mjs address --spki "$W/sol.der" --address "$SOL"
run_expect 0 vc wallet address wallet-evm --chain evm
EVM=$(tr -d '\n' <"$RUN_OUT")
js wallet_evm_verify.mjs address --spki "$W/evm.der" --address "$EVM"
for ca in solana:wallet-sol:$SOL evm:wallet-evm:$EVM; do
	IFS=: read -r chain key addr <<<"$ca"
	run_expect 0 vc wallet address "$key" --chain "$chain" --json
	assert_eq "$(json_get "$RUN_OUT" address)" "$addr" "--json address of $key"
	assert_eq "$(json_get "$RUN_OUT" chain)" "$chain" "--json chain of $key"
	assert_eq "$(json_get "$RUN_OUT" name)" "$key" "--json name of $key"
	assert_eq "$(json_get "$RUN_OUT" version)" 1 "--json version of $key"
done
# a key's purpose is its chain
run_expect 8 vc wallet address wallet-sol --chain evm
run_expect 8 vc wallet address wallet-evm --chain solana

say "unsigned transactions built offline by @solana/web3.js and ethers"
for kind in transfer cosigned v0 foreign; do
	js wallet_solana_build.mjs --kind "$kind" --signer "$SOL" --out "$W/sol-$kind.b64"
	cp "$RUN_OUT" "$W/sol-$kind.info"
done
assert_eq "$(json_get "$W/sol-cosigned.info" signer_index)" 1 "our slot in the co-signed transaction"
assert_eq "$(json_get "$W/sol-v0.info" version)" 0 "version of the lookup-table transaction"
assert_eq "$(json_get "$W/sol-foreign.info" signer_index)" -1 "our slot in the foreign transaction"
fee_payer() { json_get "$W/sol-$1.info" fee_payer; }

js wallet_evm_build.mjs --type 2 --chain-id 1 --nonce 7 --to "$BOB" --value 10000000000000000 --out "$W/evm-1559.hex"
js wallet_evm_build.mjs --type 2 --chain-id 8453 --nonce 8 --to "$USDC_BASE" --value 0 --erc20-transfer --out "$W/evm-erc20.hex"
js wallet_evm_build.mjs --type 0 --chain-id 1 --nonce 9 --to "$BOB" --value 12345 --out "$W/evm-legacy.hex"
js wallet_evm_build.mjs --type 1 --chain-id 8453 --nonce 10 --to "$BOB" --value 0 --out "$W/evm-2930.hex"
# refused by vaultd's caps: a chain id not in chain_ids, a value over max_value_wei
js wallet_evm_build.mjs --type 2 --chain-id 5 --nonce 11 --to "$BOB" --value 1 --out "$W/evm-chain5.hex"
js wallet_evm_build.mjs --type 2 --chain-id 1 --nonce 12 --to "$BOB" --value 2000000000000000000 --out "$W/evm-2eth.hex"
EVM_TXS="1559 erc20 legacy 2930"

MSG=$W/message.txt
printf 'p11vault wallet interop: sign in to example.test, nonce 42\n' >"$MSG"
printf 'another message\n' >"$W/other-message.txt"
DIGEST=0x$(openssl rand -hex 32)
# off-chain messages, one per format: printable ASCII (0), UTF-8 within a
# packet (1; the newline is not printable), longer UTF-8 (2); the
# application domain is a program address, as the proposal suggests
APP_DOMAIN=TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA
printf 'Sign in to example.test as a p11vault wallet, nonce 42' >"$W/off-ascii.txt"
cp "$MSG" "$W/off-utf8.txt"
python3 -c 'import sys; open(sys.argv[1], "w", encoding="utf-8").write("S\u00e9curit\u00e9 \u2713 " * 120)' "$W/off-utf8-long.txt"
OFF_FORMATS="ascii utf8 utf8-long"

# ---- vaultctl ----

say "vaultctl wallet sign-tx, Solana: verified by web3.js and Ed25519"
for kind in transfer cosigned v0; do
	fp=$(fee_payer "$kind")
	run_expect 0 vc wallet sign-tx wallet-sol --chain solana --in "$W/sol-$kind.b64"
	cp "$RUN_OUT" "$W/cli-sol-$kind.signed"
	js wallet_solana_verify.mjs tx --unsigned "$W/sol-$kind.b64" --signed "$W/cli-sol-$kind.signed" --address "$SOL" --fee-payer "$fp"
	run_expect 0 vc wallet sign-tx wallet-sol --chain solana --in - --json <"$W/sol-$kind.b64"
	cp "$RUN_OUT" "$W/cli-sol-$kind.json"
	js wallet_solana_verify.mjs tx --unsigned "$W/sol-$kind.b64" --response "$W/cli-sol-$kind.json" --address "$SOL" --fee-payer "$fp"
	# Ed25519 is deterministic: both runs put the same signature in the slot
	assert_eq "$(json_get "$W/cli-sol-$kind.json" transaction_b64)" "$(tr -d '\n' <"$W/cli-sol-$kind.signed")" \
		"plain and --json signatures of the $kind transaction"
done
run_expect 0 vc wallet sign-tx wallet-sol --chain solana --in "$W/sol-v0.b64" --out "$W/cli-sol-v0.out"
assert_same_file "$W/cli-sol-v0.out" "$W/cli-sol-v0.signed" "sign-tx --out and stdout"

say "must fail: flipped signature bytes, a key that is not a signer"
flip_b64 "$W/cli-sol-transfer.signed" "$W/bad-sol-transfer.signed" 10
js_refuses "verifySignatures() is false" wallet_solana_verify.mjs tx --unsigned "$W/sol-transfer.b64" \
	--signed "$W/bad-sol-transfer.signed" --address "$SOL"
flip_b64 "$W/cli-sol-cosigned.signed" "$W/bad-sol-cosigned.signed" 5 # slot 0: the other signer's
js_refuses "verifySignatures() is false" wallet_solana_verify.mjs tx --unsigned "$W/sol-cosigned.b64" \
	--signed "$W/bad-sol-cosigned.signed" --address "$SOL" --fee-payer "$(fee_payer cosigned)"
flip_b64 "$W/cli-sol-v0.signed" "$W/bad-sol-v0.signed" 64
js_refuses "does not verify" wallet_solana_verify.mjs tx --unsigned "$W/sol-v0.b64" --signed "$W/bad-sol-v0.signed" --address "$SOL"
js_refuses "fee payer is" wallet_solana_verify.mjs tx --unsigned "$W/sol-cosigned.b64" \
	--signed "$W/cli-sol-cosigned.signed" --address "$SOL"
run_expect "2|5" vc wallet sign-tx wallet-sol --chain solana --in "$W/sol-foreign.b64"
assert_size "$RUN_OUT" 0 "output of sign-tx for a transaction the key does not sign"

say "vaultctl wallet sign-message, Solana"
run_expect 0 vc wallet sign-message wallet-sol --chain solana --in "$MSG"
SOL_MSG_SIG=$(tr -d '\n' <"$RUN_OUT")
js wallet_solana_verify.mjs message --message "$MSG" --signature "$SOL_MSG_SIG" --address "$SOL"
js_refuses "does not verify" wallet_solana_verify.mjs message --message "$W/other-message.txt" --signature "$SOL_MSG_SIG" --address "$SOL"
sol_message_bytes "$W/sol-transfer.b64" "$W/sol-transfer.msg"
run_expect 2 vc wallet sign-message wallet-sol --chain solana --in "$W/sol-transfer.msg"
assert_size "$RUN_OUT" 0 "output of sign-message for a transaction message"
{ cat "$W/sol-transfer.msg"; printf '\n'; } >"$W/sol-transfer.msg1"
run_expect 2 vc wallet sign-message wallet-sol --chain solana --in "$W/sol-transfer.msg1"
assert_contains "$RUN_ERR" "transaction message"
base64 -d <"$W/sol-v0.b64" >"$W/sol-v0.bin"
run_expect 2 vc wallet sign-message wallet-sol --chain solana --in "$W/sol-v0.bin"
assert_contains "$RUN_ERR" "Solana transaction" "sign-message of a whole v0 transaction"

say "vaultctl wallet sign-message --offchain: @solana/offchain-messages builds the same bytes and verifies"
for f in $OFF_FORMATS; do
	run_expect 0 vc wallet sign-message wallet-sol --chain solana --offchain --application-domain "$APP_DOMAIN" \
		--in "$W/off-$f.txt" --json
	cp "$RUN_OUT" "$W/cli-off-$f.json"
	js wallet_offchain.mjs --response "$W/cli-off-$f.json" --message "$W/off-$f.txt" --domain "$APP_DOMAIN" \
		--address "$SOL" --format "$f"
done
printf 'Sign in to example.test as a p11vault wallet, nonce 43' >"$W/off-ascii-other.txt"
js_refuses "not the SDK's off-chain message" wallet_offchain.mjs --response "$W/cli-off-ascii.json" \
	--message "$W/off-ascii-other.txt" --domain "$APP_DOMAIN" --address "$SOL" --format ascii
js_refuses "not the SDK's off-chain message" wallet_offchain.mjs --response "$W/cli-off-ascii.json" \
	--message "$W/off-ascii.txt" --domain 11111111111111111111111111111111 --address "$SOL" --format ascii
python3 - "$W/cli-off-ascii.json" "$SOL_MSG_SIG" "$W/off-badsig.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
r["signature_b58"] = sys.argv[2]  # a valid signature, over other bytes
json.dump(r, open(sys.argv[3], "w"))
EOF
js_refuses "does not verify" wallet_offchain.mjs --response "$W/off-badsig.json" --message "$W/off-ascii.txt" \
	--domain "$APP_DOMAIN" --address "$SOL" --format ascii

say "vaultctl wallet sign-tx, EVM: verified by ethers (from, fields, hash, low S)"
for t in $EVM_TXS; do
	run_expect 0 vc wallet sign-tx wallet-evm --chain evm --in "$W/evm-$t.hex"
	cp "$RUN_OUT" "$W/cli-evm-$t.signed"
	js wallet_evm_verify.mjs tx --unsigned "$W/evm-$t.hex" --signed "$W/cli-evm-$t.signed" --address "$EVM"
	run_expect 0 vc wallet sign-tx wallet-evm --chain evm --in - --json <"$W/evm-$t.hex"
	cp "$RUN_OUT" "$W/cli-evm-$t.json"
	js wallet_evm_verify.mjs tx --unsigned "$W/evm-$t.hex" --response "$W/cli-evm-$t.json" --address "$EVM"
done

say "must fail: a flipped s byte, a signed transaction against another unsigned one"
flip_hex_last "$W/cli-evm-1559.signed" "$W/bad-evm-1559.signed"
js_refuses "from is" wallet_evm_verify.mjs tx --unsigned "$W/evm-1559.hex" --signed "$W/bad-evm-1559.signed" --address "$EVM"
flip_hex_last "$W/cli-evm-legacy.signed" "$W/bad-evm-legacy.signed"
js_refuses "from is" wallet_evm_verify.mjs tx --unsigned "$W/evm-legacy.hex" --signed "$W/bad-evm-legacy.signed" --address "$EVM"
js_refuses "changed" wallet_evm_verify.mjs tx --unsigned "$W/evm-2930.hex" --signed "$W/cli-evm-1559.signed" --address "$EVM"

say "vaultctl wallet sign-message (personal_sign) and sign-digest, EVM"
run_expect 0 vc wallet sign-message wallet-evm --chain evm --in "$MSG"
EVM_MSG_SIG=$(tr -d '\n' <"$RUN_OUT")
js wallet_evm_verify.mjs message --message "$MSG" --signature "$EVM_MSG_SIG" --address "$EVM"
js_refuses "verifyMessage gives" wallet_evm_verify.mjs message --message "$W/other-message.txt" --signature "$EVM_MSG_SIG" --address "$EVM"
printf '%s\n' "$DIGEST" >"$W/digest.hex"
run_expect 0 vc wallet sign-digest wallet-evm --chain evm --in "$W/digest.hex"
EVM_DIG_SIG=$(tr -d '\n' <"$RUN_OUT")
js wallet_evm_verify.mjs digest --digest "$DIGEST" --signature "$EVM_DIG_SIG" --address "$EVM"
js_refuses "recoverAddress gives" wallet_evm_verify.mjs digest --digest "0x$(openssl rand -hex 32)" --signature "$EVM_DIG_SIG" --address "$EVM"

# ---- vaultd ----

say "vaultd: wallet-svc (capped: chain ids 1 and 8453, at most 1 ETH) and digest-svc (no caps)"
TOKEN_A=$(vd_new_token)
TOKEN_B=$(vd_new_token)
(
	umask 077
	printf '%s\n' "$TOKEN_A" >"$W/token-a"
	printf '%s\n' "$TOKEN_B" >"$W/token-b"
	printf 'Authorization: Bearer %s\n' "$TOKEN_A" >"$W/auth-a.hdr"
	printf 'Authorization: Bearer %s\n' "$TOKEN_B" >"$W/auth-b.hdr"
	printf 'Authorization: Bearer pvt_%s\n' "$(openssl rand -hex 16)" >"$W/auth-wrong.hdr"
)
vd_base_config "[{\"name\": \"wallet-svc\", \"auth\": {\"token_sha256\": \"$(vd_token_hash "$TOKEN_A")\"},
    \"rules\": [{\"ops\": [\"wallet.sign\", \"wallet.read\"], \"keys\": [\"wallet-*\"],
                 \"chain_ids\": [1, 8453], \"max_value_wei\": \"$ONE_ETH\"}],
    \"rate\": {\"per_second\": 1000, \"burst\": 1000}},
  {\"name\": \"digest-svc\", \"auth\": {\"token_sha256\": \"$(vd_token_hash "$TOKEN_B")\"},
    \"rules\": [{\"ops\": [\"wallet.sign\", \"wallet.read\"], \"keys\": [\"wallet-evm\"]}]}]" >"$W/vaultd.json"
json_valid "$W/vaultd.json"
vd_start "$W/vaultd.json"
vd_expect 200 GET /v1/ready

# wallet STATUS AUTH KEY CHAIN OP [BODY]: one wallet request (GET without
# BODY, POST with the JSON text BODY); the reply in $VD_BODY.
wallet() {
	local want=$1 auth=$2 key=$3 chain=$4 op=$5
	if [ $# -ge 6 ]; then
		printf '%s\n' "$6" >"$W/req.json"
		vd_expect "$want" POST "/v1/wallet/$key/$chain/$op" -H @"$W/$auth.hdr" -H 'Content-Type: application/json' \
			--data-binary @"$W/req.json"
	else
		vd_expect "$want" GET "/v1/wallet/$key/$chain/$op" -H @"$W/$auth.hdr"
	fi
	echo "$([ $# -ge 6 ] && echo POST || echo GET) /v1/wallet/$key/$chain/$op ($auth) -> $VD_STATUS"
}
b64_of() { base64 -w0 <"$1"; }

say "vaultd addresses are vaultctl's"
wallet 200 auth-a wallet-sol solana address
assert_eq "$(json_get "$VD_BODY" address)" "$SOL" "Solana address over HTTP"
assert_eq "$(json_get "$VD_BODY" version)" 1 "version in the Solana address reply"
wallet 200 auth-a wallet-evm evm address
assert_eq "$(json_get "$VD_BODY" address)" "$EVM" "EVM address over HTTP"
wallet 403 auth-a wallet-sol evm address
assert_eq "$(vd_error_code)" wrong_purpose "error code for a solana key on evm"
wallet 403 auth-a wallet-evm solana sign-message "{\"message_b64\": \"$(b64_of "$MSG")\"}"
assert_eq "$(vd_error_code)" wrong_purpose "error code for an evm key on solana"
wallet 401 auth-wrong wallet-sol solana address

say "vaultd solana/sign-transaction: verified by web3.js and Ed25519; the same signature as vaultctl's"
for kind in transfer cosigned v0; do
	wallet 200 auth-a wallet-sol solana sign-transaction "{\"transaction_b64\": \"$(tr -d '\n' <"$W/sol-$kind.b64")\"}"
	cp "$VD_BODY" "$W/http-sol-$kind.json"
	js wallet_solana_verify.mjs tx --unsigned "$W/sol-$kind.b64" --response "$W/http-sol-$kind.json" \
		--address "$SOL" --fee-payer "$(fee_payer "$kind")"
	assert_eq "$(json_get "$W/http-sol-$kind.json" transaction_b64)" "$(tr -d '\n' <"$W/cli-sol-$kind.signed")" \
		"vaultd's and vaultctl's signed $kind transaction (Ed25519 is deterministic)"
	assert_contains "$PV_OUT/audit.log" "\"tx\":\"$(json_get "$W/http-sol-$kind.json" signature_b58)\"" \
		"the audit log does not name the signature of the $kind transaction"
done
wallet 400 auth-a wallet-sol solana sign-transaction "{\"transaction_b64\": \"$(tr -d '\n' <"$W/sol-foreign.b64")\"}"
assert_eq "$(vd_error_code)" bad_request "error code for a transaction the key does not sign"

say "vaultd solana/sign-message"
wallet 200 auth-a wallet-sol solana sign-message "{\"message_b64\": \"$(b64_of "$MSG")\"}"
js wallet_solana_verify.mjs message --message "$MSG" --signature "$(json_get "$VD_BODY" signature_b58)" --address "$SOL"
assert_eq "$(json_get "$VD_BODY" signature_b58)" "$SOL_MSG_SIG" "vaultd's and vaultctl's message signature"
wallet 400 auth-a wallet-sol solana sign-message "{\"message_b64\": \"$(b64_of "$W/sol-transfer.msg")\"}"
wallet 400 auth-a wallet-sol solana sign-message "{\"message_b64\": \"$(b64_of "$W/sol-transfer.msg1")\"}"
assert_contains "$VD_BODY" "transaction message" "the 400 for a transaction message with a trailing byte"

say "vaultd solana/sign-message, format offchain: the SDK's bytes, vaultctl's signatures"
for f in $OFF_FORMATS; do
	wallet 200 auth-a wallet-sol solana sign-message "{\"format\": \"offchain\", \"application_domain\": \"$APP_DOMAIN\",
		\"message_b64\": \"$(b64_of "$W/off-$f.txt")\"}"
	cp "$VD_BODY" "$W/http-off-$f.json"
	js wallet_offchain.mjs --response "$W/http-off-$f.json" --message "$W/off-$f.txt" --domain "$APP_DOMAIN" \
		--address "$SOL" --format "$f"
	assert_eq "$(json_get "$W/http-off-$f.json" signature_b58)" "$(json_get "$W/cli-off-$f.json" signature_b58)" \
		"vaultd's and vaultctl's off-chain signature ($f)"
done

say "vaultd evm/sign-transaction: verified by ethers; the audit log names the hash"
for t in $EVM_TXS; do
	wallet 200 auth-a wallet-evm evm sign-transaction "{\"transaction_hex\": \"$(tr -d '\n' <"$W/evm-$t.hex")\"}"
	cp "$VD_BODY" "$W/http-evm-$t.json"
	js wallet_evm_verify.mjs tx --unsigned "$W/evm-$t.hex" --response "$W/http-evm-$t.json" --address "$EVM"
	assert_contains "$PV_OUT/audit.log" "\"tx\":\"$(json_get "$W/http-evm-$t.json" tx_hash)\"" \
		"the audit log does not name the hash of the $t transaction"
done

say "vaultd caps: chain id 5 and 2 ETH are refused (403), nothing signed"
wallet 403 auth-a wallet-evm evm sign-transaction "{\"transaction_hex\": \"$(tr -d '\n' <"$W/evm-chain5.hex")\"}"
assert_eq "$(vd_error_code)" forbidden "error code for chain id 5"
assert_not_contains "$VD_BODY" raw_transaction "a refused transaction came back signed"
wallet 403 auth-a wallet-evm evm sign-transaction "{\"transaction_hex\": \"$(tr -d '\n' <"$W/evm-2eth.hex")\"}"
assert_eq "$(vd_error_code)" forbidden "error code for a value over max_value_wei"
assert_contains "$PV_OUT/audit.log" '"outcome":"denied"' "no denied line in the audit log"

say "vaultd evm/sign-message and sign-digest (digest only under the rule without caps)"
wallet 200 auth-a wallet-evm evm sign-message "{\"message_b64\": \"$(b64_of "$MSG")\"}"
js wallet_evm_verify.mjs message --message "$MSG" --signature "$(json_get "$VD_BODY" signature)" --address "$EVM"
wallet 403 auth-a wallet-evm evm sign-digest "{\"digest_hex\": \"$DIGEST\"}"
wallet 200 auth-b wallet-evm evm sign-digest "{\"digest_hex\": \"$DIGEST\"}"
js wallet_evm_verify.mjs digest --digest "$DIGEST" --signature "$(json_get "$VD_BODY" signature)" \
	--y-parity "$(json_get "$VD_BODY" y_parity)" --address "$EVM"
wallet 403 auth-b wallet-sol solana address

# ---- the example of docs/migrating-wallet.md ----

say "contrib/examples/vaultd-wallet.mjs against this vaultd: its transactions verify"
example() {
	run_expect "$1" env VAULTD_SOCKET="$VD_SOCK" VAULTD_TOKEN_FILE="$2" SOLANA_KEY=wallet-sol EVM_KEY=wallet-evm \
		node "$NODE_DIR/vaultd-wallet.mjs"
}
example 0 "$W/token-a"
cp "$RUN_OUT" "$W/example.json"
json_valid "$W/example.json"
assert_eq "$(json_get "$W/example.json" solana address)" "$SOL" "the example's Solana address"
assert_eq "$(json_get "$W/example.json" evm address)" "$EVM" "the example's EVM address"
json_get "$W/example.json" solana transaction_b64 >"$W/example-sol.b64"
json_get "$W/example.json" evm raw_transaction >"$W/example-evm.hex"
js wallet_solana_verify.mjs tx --signed "$W/example-sol.b64" --address "$SOL"
js wallet_evm_verify.mjs tx --signed "$W/example-evm.hex" --address "$EVM" \
	--expect "type=2,chainId=8453,nonce=0,value=1000000000000000,to=0x000000000000000000000000000000000000dEaD"
say "the example's signer classes used as a service would (co-signed, v0, batch, EIP-712, legacy EVM)"
js wallet_example_signers.mjs --example "$NODE_DIR/vaultd-wallet.mjs" --socket "$VD_SOCK" --token "$W/token-a" \
	--digest-token "$W/token-b" --solana-key wallet-sol --evm-key wallet-evm
printf 'pvt_%s\n' "$(openssl rand -hex 16)" >"$W/token-wrong"
example 1 "$W/token-wrong"
assert_contains "$RUN_ERR" "401" "the example's error for a wrong token"

say "vaultd stops cleanly; no bearer token in any output"
assert_eq "$(vd_stop)" 0 "vaultd exit status"
vd_assert_no_token "$TOKEN_A" "$TOKEN_B"
echo "wallet_interop: ok"
