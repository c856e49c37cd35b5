#!/bin/bash
# EIP-712 typed data signed by p11vault, checked by ethers 6 (tests/interop/,
# pinned in its package-lock.json): ethers builds the eth_signTypedData_v4
# JSON (TypedDataEncoder.getPayload) of the EIP's Mail example and of an
# EIP-2612 Permit owned by our address, p11vault signs it with a secp256k1
# token key — through `vaultctl wallet sign-typed-data` and through vaultd's
# POST /v1/wallet/{name}/evm/sign-typed-data — and ethers' verifyTypedData
# must recover our address (v 27/28, low S, the digest TypedDataEncoder.hash
# computes). vaultd's audit log names the digest and the domain's chain id;
# an integer of 2^53 - 1 sent as a JSON number through vaultd is signed as that
# number (cJSON must not round it on the way).
#
# Must-fail checks: the signature against tampered typed data recovers
# another address; refused typed data (primaryType EIP712Domain, a bad
# address checksum, an extra message field, a cyclic type, bytes after the
# JSON, --chain solana) exits 2 with nothing on stdout, and over HTTP is
# 400 (also 2^53 + 1 as a JSON number, typed_data as a string or missing)
# with vaultd still serving; a key whose purpose is not evm (the Solana
# key, a secp256k1 key of purpose sign) exits 8 / is 403 wrong_purpose; under a rule with chain_ids, typed
# data for another chain, or without a domain chainId, is 403 and audited
# denied, and signed for a client without caps.
#
# Node.js >= 20.18 and npm (tests/lib/interop.sh installs the packages into
# the build tree); without them the test skips (77), except under CI=true.
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/vaultd.sh"
. "$top_srcdir/tests/lib/interop.sh"
vd_need

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
import json, sys  # json: also for the edits
d = json.load(open(sys.argv[1]))
exec(sys.argv[3])
open(sys.argv[2], "w").write(json.dumps(d))
EOF
}

say "a secp256k1 key and an ed25519 key; the EVM address (ethers computeAddress of the public key)"
run_expect 0 vc key create wallet-evm --alg secp256k1 --purpose evm
run_expect 0 vc key create wallet-sol --alg ed25519 --purpose solana
run_expect 0 vc key create wallet-k1sign --alg secp256k1 --purpose sign
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
run_expect 8 vc wallet sign-typed-data wallet-sol --chain evm --in "$W/mail.json"
assert_size "$RUN_OUT" 0 "output of sign-typed-data with a solana key"
run_expect 8 vc wallet sign-typed-data wallet-k1sign --chain evm --in "$W/mail.json"
assert_contains "$RUN_ERR" "purpose sign"
run_expect 2 vc wallet sign-typed-data wallet-evm --chain solana --in "$W/mail.json"
run_expect 5 vc wallet sign-typed-data no-such-key --chain evm --in "$W/mail.json"

# ---- vaultd ----

say "vaultd: capped-svc (chain ids 1 and 8453, at most 1 ETH) and free-svc (no caps)"
TOKEN_A=$(vd_new_token)
TOKEN_B=$(vd_new_token)
vd_auth_header "$W/auth-a.hdr" "$TOKEN_A"
vd_auth_header "$W/auth-b.hdr" "$TOKEN_B"
vd_base_config "[{\"name\": \"capped-svc\", \"auth\": {\"token_sha256\": \"$(vd_token_hash "$TOKEN_A")\"},
    \"rules\": [{\"ops\": [\"wallet.sign\", \"wallet.read\"], \"keys\": [\"wallet-*\"],
                 \"chain_ids\": [1, 8453], \"max_value_wei\": \"1000000000000000000\"}]},
  {\"name\": \"free-svc\", \"auth\": {\"token_sha256\": \"$(vd_token_hash "$TOKEN_B")\"},
    \"rules\": [{\"ops\": [\"wallet.sign\"], \"keys\": [\"wallet-evm\"]}]}]" >"$W/vaultd.json"
json_valid "$W/vaultd.json"
vd_start "$W/vaultd.json"

# typed STATUS AUTH KEY BODY: POST the file BODY to sign-typed-data; the
# reply in $VD_BODY.
typed() {
	vd_expect "$1" POST "/v1/wallet/$3/evm/sign-typed-data" -H @"$W/$2.hdr" -H 'Content-Type: application/json' \
		--data-binary @"$4"
	echo "POST /v1/wallet/$3/evm/sign-typed-data $(basename "$4") ($2) -> $VD_STATUS"
}
# body TYPED OUT: the request body {"typed_data": <the document in TYPED>}.
body() { edit "$1" "$2" 'd = {"typed_data": d}'; }

# audit_has PYTHON: some line of the audit log (l, parsed) makes PYTHON true.
audit_has() {
	python3 - "$PV_OUT/audit.log" "$1" <<'PYEOF'
import json, sys
ok = any(eval(sys.argv[2], {"l": json.loads(line)}) for line in open(sys.argv[1]))
sys.exit(0 if ok else 1)
PYEOF
}

say "vaultd sign-typed-data: verifyTypedData recovers our address; the audit log names the digest"
js wallet_typed_data.mjs build --kind permit --owner "$EVM" --chain-id 5 --out "$W/permit5.json"
edit "$W/mail.json" "$W/nochain.json" 'del d["domain"]["chainId"]; d["types"]["EIP712Domain"] = [f for f in d["types"]["EIP712Domain"] if f["name"] != "chainId"]'
edit "$W/permit.json" "$W/safe-int.json" 'd["message"]["value"] = 9007199254740991'
for t in mail permit safe-int; do
	body "$W/$t.json" "$W/req-$t.json"
	typed 200 auth-a wallet-evm "$W/req-$t.json"
	cp "$VD_BODY" "$W/http-$t.json"
	js wallet_typed_data.mjs verify --typed "$W/$t.json" --response "$W/http-$t.json" --address "$EVM"
	assert_contains "$PV_OUT/audit.log" "\"tx\":\"$(json_get "$W/http-$t.json" digest)\"" \
		"the audit log does not name the digest of $t"
done
assert_eq "$(json_get "$W/http-mail.json" digest)" "$MAIL_DIGEST" "vaultd's digest of the Mail example"
assert_eq "$(json_get "$W/http-permit.json" digest)" "$PERMIT_DIGEST" "vaultd's digest of the Permit"
assert_eq "$(json_get "$W/http-mail.json" version)" 1 "version in the reply"
audit_has "l.get('tx') == '$PERMIT_DIGEST' and l.get('chain_id') == 8453" ||
	fail "no audit line with the Permit's digest and chain_id 8453"

say "must fail: vaultd's signatures do not verify tampered typed data"
for t in mail permit; do
	js_refuses "verifyTypedData gives" wallet_typed_data.mjs verify --typed "$W/$t-tampered.json" \
		--signature "$(json_get "$W/http-$t.json" signature)" --address "$EVM"
done

say "caps: a Permit on chain 5 is 403 for capped-svc (audited denied), signed for free-svc"
body "$W/permit5.json" "$W/req-permit5.json"
typed 403 auth-a wallet-evm "$W/req-permit5.json"
assert_eq "$(vd_error_code)" forbidden "error code for typed data on chain 5"
assert_contains "$VD_BODY" "chain id 5 " "the 403 does not name the chain id"
assert_not_contains "$VD_BODY" signature "a refused request came back signed"
audit_has "l.get('chain_id') == 5 and l.get('outcome') == 'denied'" || fail "no denied audit line for chain id 5"
typed 200 auth-b wallet-evm "$W/req-permit5.json"
cp "$VD_BODY" "$W/http-permit5.json"
js wallet_typed_data.mjs verify --typed "$W/permit5.json" --response "$W/http-permit5.json" --address "$EVM"

say "caps: typed data whose domain has no chainId is 403 for capped-svc (audited denied), signed for free-svc"
body "$W/nochain.json" "$W/req-nochain.json"
typed 200 auth-b wallet-evm "$W/req-nochain.json"
cp "$VD_BODY" "$W/http-nochain.json"
js wallet_typed_data.mjs verify --typed "$W/nochain.json" --response "$W/http-nochain.json" --address "$EVM"
NOCHAIN_DIGEST=$(json_get "$W/http-nochain.json" digest)
typed 403 auth-a wallet-evm "$W/req-nochain.json"
assert_eq "$(vd_error_code)" forbidden "error code for typed data without a chain id"
assert_contains "$VD_BODY" "without a domain chainId" "the 403 does not say the chain id is missing"
assert_not_contains "$VD_BODY" signature "a refused request came back signed"
audit_has "l.get('tx') == '$NOCHAIN_DIGEST' and l.get('outcome') == 'denied' and 'chain_id' not in l" ||
	fail "no denied audit line (without chain_id) for the typed data without a chain id"

say "refused over HTTP: 400 with the reason, nothing signed, vaultd still serving"
edit "$W/permit.json" "$W/bad-unsafe-int.json" 'd["message"]["value"] = 9007199254740993'
edit "$W/mail.json" "$W/req-bad-member.json" 'd = {"typed_data": d, "extra": 1}'
edit "$W/mail.json" "$W/req-bad-string.json" 'd = {"typed_data": json.dumps(d)}'
printf '{}\n' >"$W/req-bad-missing.json"
for bad in domain-only:"signing the domain alone" checksum:"bad EIP-55 checksum" extra:"member cc is not a field" \
	cyclic:"refers to itself" range:"value out of range for uint8" unsafe-int:"at most 2^53-1"; do
	body "$W/bad-${bad%%:*}.json" "$W/req-bad-${bad%%:*}.json"
	typed 400 auth-a wallet-evm "$W/req-bad-${bad%%:*}.json"
	assert_eq "$(vd_error_code)" bad_request "error code for ${bad%%:*}"
	assert_contains "$VD_BODY" "${bad#*:}" "the 400 for ${bad%%:*} does not say '${bad#*:}': $(cat "$VD_BODY")"
	assert_not_contains "$VD_BODY" signature "refused typed data ${bad%%:*} came back signed"
done
for bad in member string missing; do
	typed 400 auth-a wallet-evm "$W/req-bad-$bad.json"
	assert_eq "$(vd_error_code)" bad_request "error code for a body with $bad typed_data"
done
vd_expect 403 POST /v1/wallet/wallet-sol/evm/sign-typed-data -H @"$W/auth-a.hdr" --data-binary @"$W/req-mail.json"
assert_eq "$(vd_error_code)" wrong_purpose "error code for a solana key"
vd_expect 403 POST /v1/wallet/wallet-k1sign/evm/sign-typed-data -H @"$W/auth-a.hdr" --data-binary @"$W/req-mail.json"
assert_eq "$(vd_error_code)" wrong_purpose "error code for a secp256k1 key of purpose sign"
vd_expect 404 POST /v1/wallet/wallet-evm/solana/sign-typed-data -H @"$W/auth-a.hdr" --data-binary @"$W/req-mail.json"
vd_expect 200 GET /v1/health
typed 200 auth-a wallet-evm "$W/req-mail.json"
cp "$VD_BODY" "$W/http-mail-again.json"
js wallet_typed_data.mjs verify --typed "$W/mail.json" --response "$W/http-mail-again.json" --address "$EVM"

say "vaultd stops cleanly; no bearer token in any output"
assert_eq "$(vd_stop)" 0 "vaultd exit status"
vd_assert_no_token "$TOKEN_A" "$TOKEN_B"
echo "wallet_typed_data: ok"
