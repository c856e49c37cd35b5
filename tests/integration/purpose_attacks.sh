#!/bin/bash
# The attacks of issue 12 on a running vaultd, tried as an attacker would,
# each with what makes it fail (docs/api.md §2 "Key purposes"):
#
# (a) A JWT forged with a key that is not a JWT key. A client granted only
#     `sign` on a P-256 key of purpose sign and `wallet.sign` on a Solana
#     key builds JWT headers itself (kid of a JWT key in the JWK Set, or of
#     its own key) and gets the signing input signed through
#     POST /v1/keys/{name}/sign (format jose) and Solana sign-message. The
#     JWT keys themselves are out of reach (403 forbidden; with a sign
#     grant covering them, 403 wrong_purpose). What its own keys sign is
#     refused by /v1/jwt/verify and by npm jose against the served JWK Set
#     (tokens vaultd issued pass both, so the checks can pass).
# (b) The audit checkpoint MAC through a sign rule: a rule whose pattern
#     reaches the audit key is refused by --check-config, at start and on
#     reload; a rule on the exact name of an audit key made after start
#     (the config cannot see it) gets 403 wrong_purpose for the MAC of a
#     real checkpoint message, through sign, verify, derive and keys.read.
# (c) A capped EVM key (chain_ids [1], max_value_wei 1000) plus a plain
#     sign grant on it: the unsigned transaction on chain 5 above the cap,
#     or its keccak256, is refused through every endpoint that can sign
#     with the key (sign with input or digest, sign-digest,
#     sign-transaction, sign-typed-data on chain 5); what sign-message and
#     typed data on chain 1 sign is checked by libsecp256k1 not to be a
#     signature over the transaction's signing hash; every refusal is
#     audited denied.
# (d) An Authorization header that is empty, or Bearer without a token,
#     from a uid that is a client without a header: 401, never the uid.
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/vaultd.sh"
. "$top_srcdir/tests/lib/interop.sh"
vd_need
need_cmd basenc
[ -x "$top_builddir/tests/verify-secp256k1" ] || skip "tests/verify-secp256k1 is not built"

W=$PV_WORK
CFG=$W/vaultd.json
AUDIT=$PV_OUT/audit.log
ISS=https://attack.test
AUD=attack
JWS="python3 $top_srcdir/tests/lib/jws.py"

interop_node_setup tests/interop/jwt_jose.mjs

say "keys: two JWT keys, the attacker's sign and Solana keys, a capped EVM key"
for spec in issuer:p256:jwt ed-issuer:ed25519:jwt mine:p256:sign sol:ed25519:solana hot:secp256k1:evm; do
	IFS=: read -r name alg purpose <<<"$spec"
	run_expect 0 vc key create "$name" --alg "$alg" --purpose "$purpose"
done
vd_audit_key audit-hmac
T_MALLORY=$(vd_new_token)
T_GREEDY=$(vd_new_token)
T_HONEST=$(vd_new_token)
T_CAPPED=$(vd_new_token)
T_AUDITOR=$(vd_new_token)
ME=$(id -u)
client() { # NAME TOKEN RULES-JSON
	printf '{"name": "%s", "auth": {"token_sha256": "%s"}, "rules": %s, "rate": {"per_second": 1000, "burst": 1000}}' \
		"$1" "$(vd_token_hash "$2")" "$3"
}
clients() { # [EXTRA-RULE for auditor]
	cat <<EOF
[
  $(client mallory "$T_MALLORY" '[{"ops": ["sign"], "keys": ["mine"]}, {"ops": ["wallet.sign"], "keys": ["sol"]}]'),
  $(client greedy "$T_GREEDY" '[{"ops": ["sign", "verify", "wallet.sign"], "keys": ["*issuer*"]}]'),
  $(client honest "$T_HONEST" '[{"ops": ["jwt.issue"], "keys": ["issuer", "ed-issuer"], "audiences": ["attack"]}]'),
  $(client capped "$T_CAPPED" '[{"ops": ["wallet.sign", "wallet.read", "keys.read"], "keys": ["hot"],
                                 "chain_ids": [1], "max_value_wei": "1000"},
                                {"ops": ["sign", "verify"], "keys": ["ho?"]}]'),
  $(client auditor "$T_AUDITOR" "[{\"ops\": [\"sign\", \"verify\", \"derive\", \"keys.read\"], \"keys\": [\"audit-2\"${1:-}]}]"),
  {"name": "byuid", "auth": {"uid": $ME}, "rules": [{"ops": ["keys.read"], "keys": ["mine", "sol"]}]}
]
EOF
}
vd_base_config "$(clients)" "\"jwt\": {\"issuer\": \"$ISS\"}" >"$CFG"
vd_start "$CFG"

# as TOKEN (or "-": the uid): vd_call with the header from a 0600 file
ncall=0
as() { # TOKEN METHOD PATH [JSON]
	local tok=$1 method=$2 path=$3 hdr=()
	if [ "$tok" != - ]; then
		vd_auth_header "$W/auth.hdr" "$tok"
		hdr=(-H @"$W/auth.hdr")
	fi
	if [ $# -ge 4 ]; then
		vd_call "$method" "$path" "${hdr[@]}" -H 'Content-Type: application/json' --data-binary "$4"
	else
		vd_call "$method" "$path" "${hdr[@]}"
	fi
	ncall=$((ncall + 1))
	cp "$VD_BODY" "$PV_OUT/body.$(printf '%03d' "$ncall").json"
}
want() { # STATUS [CODE]: the last answer
	local got=$VD_STATUS
	[ "$VD_STATUS" = 200 ] || got="$VD_STATUS $(vd_error_code 2>/dev/null || echo '?')"
	[ "$got" = "$*" ] || fail "got $got, want $* ($(head -c 300 "$VD_BODY"))"
}
body() { json_get "$VD_BODY" "$@"; }
b64() { base64 -w0 "$@"; }

# ---- (a) ----
say "(a) the JWK Set holds the JWT keys only"
vd_expect 200 GET /.well-known/jwks.json
cp "$VD_BODY" "$W/jwks.json"
# the kids: RFC 7638 thumbprints, computed here (tests/lib/jws.py)
jwk_kid() { # JSON-FILE PYTHON-EXPR-FOR-THE-JWK -> kid
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); json.dump(eval(sys.argv[2]), open(sys.argv[3], "w"))' \
		"$1" "$2" "$W/one.jwk"
	$JWS kid "$W/one.jwk"
}
assert_eq "$(python3 -c 'import json,sys; print(sorted(k["crv"] for k in json.load(open(sys.argv[1]))["keys"]))' \
	"$W/jwks.json")" "['Ed25519', 'P-256']" "the keys of the JWK Set"
KID_ISSUER=$(jwk_kid "$W/jwks.json" '[k for k in d["keys"] if k["crv"] == "P-256"][0]')
KID_ED=$(jwk_kid "$W/jwks.json" '[k for k in d["keys"] if k["crv"] == "Ed25519"][0]')
as - GET /v1/keys/mine
want 200
body versions 0 public_key_pem >"$W/mine.pem"
KID_MINE=$(jwk_kid "$VD_BODY" 'd["versions"][0]["jwk"]')
as - GET /v1/keys/sol
want 200
KID_SOL=$(jwk_kid "$VD_BODY" 'd["versions"][0]["jwk"]')
for k in "$KID_MINE" "$KID_SOL"; do
	assert_not_contains "$W/jwks.json" "$k" "a key of another purpose in the JWK Set"
done

say "(a) control: tokens vaultd issued verify in /v1/jwt/verify and in jose"
as "$T_HONEST" POST /v1/jwt/issuer/issue '{"claims":{"sub":"alice","aud":"attack"},"ttl":300}'
want 200
body token >"$W/real-es256.jwt"
as "$T_HONEST" POST /v1/jwt/ed-issuer/issue '{"claims":{"sub":"alice","aud":"attack"},"ttl":300}'
want 200
body token >"$W/real-eddsa.jwt"
for t in real-es256 real-eddsa; do
	as "$T_MALLORY" POST /v1/jwt/verify "{\"token\":\"$(cat "$W/$t.jwt")\"}"
	assert_eq "$(body valid)" True "/v1/jwt/verify of a token vaultd issued"
done

# the attacker's token: header and claims of its choosing, like a real one
NOW=$(date +%s)
claims() { printf '{"sub":"admin","aud":"%s","iss":"%s","iat":%s,"nbf":%s,"exp":%s,"jti":"AAAAAAAAAAAAAAAAAAAAAA"}' \
	"$AUD" "$ISS" "$NOW" "$NOW" $((NOW + 300)); }
input_for() { $JWS input "{\"alg\":\"$1\",\"kid\":\"$2\",\"typ\":\"JWT\"}" "$(claims)"; }

say "(a) the JWT keys are out of reach: no grant, or a grant of another purpose"
INPUT=$(input_for ES256 "$KID_ISSUER")
as "$T_MALLORY" POST /v1/keys/issuer/sign "{\"input_b64\":\"$(printf '%s' "$INPUT" | b64)\",\"format\":\"jose\"}"
want 403 forbidden
as "$T_GREEDY" POST /v1/keys/issuer/sign "{\"input_b64\":\"$(printf '%s' "$INPUT" | b64)\",\"format\":\"jose\"}"
want 403 wrong_purpose
INPUT_ED=$(input_for EdDSA "$KID_ED")
as "$T_MALLORY" POST /v1/wallet/ed-issuer/solana/sign-message "{\"message_b64\":\"$(printf '%s' "$INPUT_ED" | b64)\"}"
want 403 forbidden
as "$T_GREEDY" POST /v1/wallet/ed-issuer/solana/sign-message "{\"message_b64\":\"$(printf '%s' "$INPUT_ED" | b64)\"}"
want 403 wrong_purpose

say "(a) forged with its own sign key (format jose), under the JWT key's kid and its own"
forge_sign() { # KID OUT
	local input
	input=$(input_for ES256 "$1")
	as "$T_MALLORY" POST /v1/keys/mine/sign "{\"input_b64\":\"$(printf '%s' "$input" | b64)\",\"format\":\"jose\"}"
	want 200
	$JWS join "$input" "$(body signature_b64)" >"$2"
}
forge_sign "$KID_ISSUER" "$W/forged-es256-issuer.jwt"
forge_sign "$KID_MINE" "$W/forged-es256-mine.jwt"

say "(a) forged with its Solana key (sign-message of the signing input)"
forge_sol() { # KID OUT
	local input
	input=$(input_for EdDSA "$1")
	as "$T_MALLORY" POST /v1/wallet/sol/solana/sign-message "{\"message_b64\":\"$(printf '%s' "$input" | b64)\"}"
	want 200
	sig=$(python3 - "$(body signature_b58)" <<'EOF'
import base64, sys
A = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
s = sys.argv[1]
n = 0
for c in s:
    n = n * 58 + A.index(c)
raw = n.to_bytes(64, "big")
print(base64.urlsafe_b64encode(raw).decode().rstrip("="))
EOF
)
	$JWS join "$input" "$sig" >"$2"
}
forge_sol "$KID_ED" "$W/forged-eddsa-issuer.jwt"
forge_sol "$KID_SOL" "$W/forged-eddsa-sol.jwt"

say "(a) /v1/jwt/verify refuses every forged token"
for c in forged-es256-issuer:bad_signature forged-es256-mine:unknown_kid \
	forged-eddsa-issuer:bad_signature forged-eddsa-sol:unknown_kid; do
	as "$T_MALLORY" POST /v1/jwt/verify "{\"token\":\"$(cat "$W/${c%%:*}.jwt")\"}"
	want 200
	assert_eq "$(body valid)/$(body reason)" "False/${c#*:}" "/v1/jwt/verify of ${c%%:*}"
done

say "(a) npm jose against the served JWK Set: the real tokens pass, the forged ones do not"
run_expect 0 node "$NODE_DIR/jwt_jose.mjs" --socket "$VD_SOCK" --issuer "$ISS" --audience "$AUD" \
	"$W/real-es256.jwt:ES256:$KID_ISSUER:ok" \
	"$W/real-eddsa.jwt:EdDSA:$KID_ED:ok" \
	"$W/forged-es256-issuer.jwt:ES256:$KID_ISSUER:ERR_JWS_SIGNATURE_VERIFICATION_FAILED" \
	"$W/forged-es256-mine.jwt:ES256:$KID_MINE:ERR_JWKS_NO_MATCHING_KEY" \
	"$W/forged-eddsa-issuer.jwt:EdDSA:$KID_ED:ERR_JWS_SIGNATURE_VERIFICATION_FAILED" \
	"$W/forged-eddsa-sol.jwt:EdDSA:$KID_SOL:ERR_JWKS_NO_MATCHING_KEY"
cat "$RUN_OUT"
# and the forged token is what its header says: a signature by the
# attacker's key over the signing input (so the refusals are not noise)
IFS=. read -r H P S <"$W/forged-es256-issuer.jwt"
printf '%s.%s' "$H" "$P" >"$W/forged.input"
python3 -c 'import base64,sys; s=sys.argv[1]; sys.stdout.buffer.write(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))' \
	"$S" >"$W/forged.sig"
ecdsa_raw_to_der "$W/forged.sig" "$W/forged.der"
ossl_verify_ecdsa sha256 "$W/mine.pem" "$W/forged.input" "$W/forged.der" ||
	fail "the forged ES256 token is not a signature by the attacker's key"

# ---- (b) ----
say "(b) a sign rule that reaches the audit key: refused by --check-config, at start, on reload"
for pat in '"audit*"' '"*"' '"audit-hmac"' '"a?dit-hmac"'; do
	vd_base_config "[$(client thief "$T_AUDITOR" "[{\"ops\": [\"sign\"], \"keys\": [$pat]}]")]" >"$W/thief.json"
	run_expect 2 "$VAULTD" --check-config --config "$W/thief.json"
	assert_contains "$RUN_ERR" "audit-hmac"
done
run_expect 2 "$VAULTD" --config "$W/thief.json"
cp "$CFG" "$W/good.json"
vd_base_config "$(clients ', "audit-*"')" "\"jwt\": {\"issuer\": \"$ISS\"}" >"$CFG"
kill -HUP "$VD_PID"
for _ in $(seq 100); do
	grep -q "reload failed" "$VD_LOG" && break
	sleep 0.1
done
assert_contains "$VD_LOG" "reload failed"
cp "$W/good.json" "$CFG"

say "(b) an audit key made after start, named exactly by a rule: every use refused"
run_expect 0 vc key create audit-2 --alg hmac-sha256 --purpose audit
# the MAC message of the log's last checkpoint so far: prev || u64be(seq)
python3 - "$AUDIT" "$W/cp.msg" <<'EOF'
import base64, json, sys
cp = [json.loads(l) for l in open(sys.argv[1]) if '"checkpoint"' in l][-1]
prev = base64.urlsafe_b64decode(cp["prev"] + "=" * (-len(cp["prev"]) % 4))
open(sys.argv[2], "wb").write(prev + cp["seq"].to_bytes(8, "big"))
EOF
assert_size "$W/cp.msg" 40
CP_B64=$(b64 "$W/cp.msg")
as "$T_AUDITOR" POST /v1/keys/audit-2/sign "{\"input_b64\":\"$CP_B64\"}"
want 403 wrong_purpose
as "$T_AUDITOR" POST /v1/keys/audit-2/verify "{\"input_b64\":\"$CP_B64\",\"signature_b64\":\"$(head -c 32 /dev/zero | b64)\"}"
want 403 wrong_purpose
as "$T_AUDITOR" POST /v1/derive/audit-2 '{"context":"checkpoint"}'
want 403 wrong_purpose
as "$T_AUDITOR" GET /v1/keys/audit-2
want 403 wrong_purpose
as "$T_AUDITOR" GET /v1/keys
want 200
assert_not_contains "$VD_BODY" "audit-" "an audit key in the listing"

# ---- (c) ----
say "(c) a capped EVM key with a sign grant beside the caps"
# legacy EIP-155 transactions (nonce 0, gas price 1, gas 21000, to 0x35..35):
# chain 5 with 1 ETH (both caps broken), chain 1 with 1000 wei (allowed)
TX_BAD=e78001825208943535353535353535353535353535353535353535880de0b6b3a764000080058080
TX_OK=e180018252089435353535353535353535353535353535353535358203e880018080
printf '%s' "$TX_BAD" | xxd -r -p >"$W/tx.bad"
keccak256_file "$W/tx.bad" "$W/tx.bad.hash"
HASH_HEX=$(xxd -p -c 64 "$W/tx.bad.hash")
as "$T_CAPPED" GET /v1/keys/hot
want 200
body versions 0 public_key_pem >"$W/hot.pem"
openssl pkey -pubin -in "$W/hot.pem" -outform DER -out "$W/hot.der" 2>/dev/null
n_denied=0
deny() { # CODE METHOD PATH JSON
	as "$T_CAPPED" "$2" "$3" "$4"
	want 403 "$1"
	n_denied=$((n_denied + 1))
}
deny wrong_purpose POST /v1/keys/hot/sign "{\"input_b64\":\"$(b64 "$W/tx.bad")\",\"digest\":\"keccak256\"}"
deny wrong_purpose POST /v1/keys/hot/sign "{\"digest_b64\":\"$(b64 "$W/tx.bad.hash")\",\"digest\":\"keccak256\"}"
deny wrong_purpose POST /v1/keys/hot/sign "{\"input_b64\":\"$(b64 "$W/tx.bad.hash")\",\"digest\":\"none\"}"
deny forbidden POST /v1/wallet/hot/evm/sign-digest "{\"digest_hex\":\"0x$HASH_HEX\"}"
deny forbidden POST /v1/wallet/hot/evm/sign-transaction "{\"transaction_hex\":\"0x$TX_BAD\"}"
assert_contains "$VD_BODY" "chain id 5"
typed() { # CHAIN-ID ("-": none) -> typed data carrying the hash, on that chain
	python3 - "$1" "$HASH_HEX" <<'EOF'
import json, sys
dom = [{"name": "name", "type": "string"}]
d = {"name": "x"}
if sys.argv[1] != "-":
    dom.append({"name": "chainId", "type": "uint256"})
    d["chainId"] = int(sys.argv[1])
print(json.dumps({"types": {"EIP712Domain": dom, "Tx": [{"name": "hash", "type": "bytes32"}]},
                  "primaryType": "Tx", "domain": d, "message": {"hash": "0x" + sys.argv[2]}}))
EOF
}
deny forbidden POST /v1/wallet/hot/evm/sign-typed-data "{\"typed_data\":$(typed 5)}"
deny forbidden POST /v1/wallet/hot/evm/sign-typed-data "{\"typed_data\":$(typed -)}"
# what the key does sign for this client is never a signature over that hash
sig_of_rsv() { python3 -c 'import sys; print(sys.argv[1][2:130])' "$1" | xxd -r -p >"$2"; }
as "$T_CAPPED" POST /v1/wallet/hot/evm/sign-message "{\"message_b64\":\"$(b64 "$W/tx.bad.hash")\"}"
want 200
sig_of_rsv "$(body signature)" "$W/msg.sig"
{
	printf '\031Ethereum Signed Message:\n32'
	cat "$W/tx.bad.hash"
} >"$W/msg.eip191"
keccak256_file "$W/msg.eip191" "$W/msg.eip191.hash"
verify_secp256k1 "$W/hot.der" "$W/msg.eip191.hash" "$W/msg.sig" || fail "libsecp256k1: the EIP-191 signature"
! verify_secp256k1 "$W/hot.der" "$W/tx.bad.hash" "$W/msg.sig" || fail "sign-message signed the transaction hash"
as "$T_CAPPED" POST /v1/wallet/hot/evm/sign-typed-data "{\"typed_data\":$(typed 1)}"
want 200
sig_of_rsv "$(body signature)" "$W/td.sig"
body digest | python3 -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(sys.stdin.read().strip()[2:]))' >"$W/td.digest"
verify_secp256k1 "$W/hot.der" "$W/td.digest" "$W/td.sig" || fail "libsecp256k1: the typed-data signature"
! verify_secp256k1 "$W/hot.der" "$W/tx.bad.hash" "$W/td.sig" || fail "typed data signed the transaction hash"
# the caps let through what they allow (so the refusals are the caps')
as "$T_CAPPED" POST /v1/wallet/hot/evm/sign-transaction "{\"transaction_hex\":\"0x$TX_OK\"}"
want 200
printf '%s' "$TX_OK" | xxd -r -p >"$W/tx.ok"
keccak256_file "$W/tx.ok" "$W/tx.ok.hash"
python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["signature"]
sys.stdout.buffer.write(bytes.fromhex(s["r"][2:] + s["s"][2:]))' "$VD_BODY" >"$W/tx.ok.sig"
verify_secp256k1 "$W/hot.der" "$W/tx.ok.hash" "$W/tx.ok.sig" || fail "libsecp256k1: the allowed transaction"

# ---- (d) ----
say "(d) an empty Authorization header from a uid that is a client: 401, not the uid"
as - GET /v1/keys/mine
want 200
vd_call GET /v1/keys/mine -H "Authorization;"
want 401 unauthenticated
vd_call GET /v1/keys/mine -H "Authorization: Bearer"
want 401 unauthenticated
for raw in 'Authorization:' 'Authorization: ' 'Authorization:   ' 'Authorization: Bearer ' 'authorization:'; do
	python3 - "$VD_SOCK" "$raw" >"$W/raw.out" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"GET /v1/keys/mine HTTP/1.1\r\nHost: v\r\n" + sys.argv[2].encode() + b"\r\nConnection: close\r\n\r\n")
data = b""
while True:
    d = s.recv(4096)
    if not d:
        break
    data += d
print(data.split(b"\r\n", 1)[0].decode())
print(data.split(b"\r\n\r\n", 1)[1].decode())
EOF
	head -1 "$W/raw.out" | grep -q '^HTTP/1.1 401' || fail "'$raw' from a client uid: $(head -1 "$W/raw.out")"
	assert_contains "$W/raw.out" unauthenticated
done

say "every refusal is audited denied; the log verifies"
assert_eq "$(vd_stop)" 0 "exit status"
python3 - "$AUDIT" "$n_denied" "$HASH_HEX" <<'EOF' || fail "audit records"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
recs = [r for r in recs if "type" not in r]
capped = [r for r in recs if r["client"] == "capped"]
denied = [r for r in capped if r["status"] == 403]
assert len(denied) == int(sys.argv[2]), (len(denied), sys.argv[2])
assert all(r["outcome"] == "denied" for r in denied), denied
# the forbidden transaction hash never went out signed
assert not any(r["outcome"] == "ok" and r.get("tx") == "0x" + sys.argv[3] for r in capped), capped
assert sum(1 for r in recs if r["client"] == "auditor" and r["status"] == 403 and r["outcome"] == "denied") == 4
# failed authentications are audited per peer ("uid:N"), aggregated with a count
assert sum(r.get("count", 1) for r in recs if r["status"] == 401) >= 7
assert not any(r["client"] == "byuid" and r["status"] == 401 for r in recs)
EOF
run_expect 0 vc audit verify "$AUDIT" --hmac-key audit-hmac
vd_assert_no_token "$T_MALLORY" "$T_GREEDY" "$T_HONEST" "$T_CAPPED" "$T_AUDITOR"
echo "purpose_attacks: ok"
