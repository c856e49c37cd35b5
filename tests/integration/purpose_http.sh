#!/bin/bash
# Every (key purpose x HTTP endpoint) pair, as docs/api.md §2 "Key purposes"
# documents it: the test reads that table from the document and checks each
# cell over the Unix socket — `ok` answers 200 (and the listing shows the
# key), `403` is 403 wrong_purpose, `400` is 400 wrong_algorithm — for one
# client whose rules grant every key operation on every test key. A refused
# request is audited denied or error with nothing signed; a signature made
# is checked by OpenSSL. The audit key is made after vaultd started (no
# rule may name it in the config, so this is how a rule reaches one), the
# legacy key by rewriting its metadata with pkcs11-tool.
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/vaultd.sh"
vd_need
need_cmd pkcs11-tool

W=$PV_WORK
CFG=$W/vaultd.json
AUDIT=$PV_OUT/audit.log

say "the table of docs/api.md"
python3 - "$top_srcdir/docs/api.md" >"$W/table" <<'EOF' || fail "cannot read the purpose table of docs/api.md"
import re, sys
doc = open(sys.argv[1], encoding="utf-8").read()
sec = doc.split("### Key purposes", 1)[1].split("\n## ", 1)[0]
rows = [l for l in sec.splitlines() if l.startswith("|")]
head = [c.strip() for c in rows[0].strip("|").split("|")]
assert head[0] == "endpoint", head
assert set(rows[1].replace("|", "").strip()) <= set("-"), rows[1]
for r in rows[2:]:
    cells = [c.strip() for c in r.strip("|").split("|")]
    assert len(cells) == len(head), r
    ep = cells[0].replace("`", "")
    for col, cell in zip(head[1:], cells[1:]):
        assert cell in ("ok", "403", "400"), (r, cell)
        print("%s\t%s\t%s" % (ep, col.replace("`", ""), cell))
EOF
assert_eq "$(cut -f2 "$W/table" | sort -u | wc -l)" 10 "purpose columns"
assert_eq "$(cut -f1 "$W/table" | sort -u | wc -l)" 15 "endpoint rows"

# the key of each column: purpose, algorithm
key_of() {
	case $1 in
	"jwt p256") echo pt-jwt ;;
	"sign p256") echo pt-sign ;;
	"solana ed25519") echo pt-sol ;;
	"evm secp256k1") echo pt-evm ;;
	"audit hmac-sha256") echo pt-audit ;;
	"wrap aes256") echo pt-wrap ;;
	"decrypt rsa2048") echo pt-dec ;;
	"derive hmac-sha256") echo pt-dmac ;;
	"derive p256") echo pt-dh ;;
	"legacy p256") echo pt-legacy ;;
	*) fail "a column of the table this test does not know: '$1'" ;;
	esac
}

say "one key per column"
for spec in pt-jwt:p256:jwt pt-sign:p256:sign pt-sol:ed25519:solana pt-evm:secp256k1:evm \
	pt-wrap:aes256:wrap pt-dec:rsa2048:decrypt pt-dmac:hmac-sha256:derive pt-dh:p256:derive; do
	IFS=: read -r name alg purpose <<<"$spec"
	run_expect 0 vc key create "$name" --alg "$alg" --purpose "$purpose"
done
vd_make_legacy pt-legacy p256 sign

TOK=$(vd_new_token)
vd_base_config "[
  {\"name\": \"all\", \"auth\": {\"token_sha256\": \"$(vd_token_hash "$TOK")\"},
   \"rules\": [{\"ops\": [\"keys.read\", \"sign\", \"verify\", \"jwt.issue\", \"derive\", \"ecdh\",
                         \"wallet.read\", \"wallet.sign\"], \"keys\": [\"pt-*\"]}],
   \"rate\": {\"per_second\": 1000, \"burst\": 1000}}
]" '"jwt": {"issuer": "https://purpose.test"}' >"$CFG"
vd_start "$CFG"
# an audit key the rule's pattern covers: the config could not refuse it
run_expect 0 vc key create pt-audit --alg hmac-sha256 --purpose audit
AUTH=$W/auth.hdr
vd_auth_header "$AUTH" "$TOK"

say "request bodies that every endpoint accepts from a key of its purpose"
printf 'purpose table message' >"$W/msg"
MSG_B64=$(base64 -w0 "$W/msg")
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$W/peer.key" 2>/dev/null
openssl pkey -in "$W/peer.key" -pubout -out "$W/peer.pem" 2>/dev/null
PEER_JSON=$(python3 -c 'import json,sys; print(json.dumps({"peer_public_key_pem": open(sys.argv[1]).read()}))' "$W/peer.pem")
vd_expect 200 GET /v1/keys/pt-sol -H @"$AUTH"
json_get "$VD_BODY" versions 0 public_key_pem >"$W/sol.pem"
# a Solana transfer whose fee payer is pt-sol (one signature slot, empty)
SOL_TX=$(python3 - "$W/sol.pem" <<'EOF'
import base64, os, subprocess, sys
der = subprocess.run(["openssl", "pkey", "-pubin", "-in", sys.argv[1], "-outform", "DER"],
                     capture_output=True, check=True).stdout
payer = der[-32:]
msg = bytes([1, 0, 1, 3]) + payer + os.urandom(32) + bytes(32) + os.urandom(32)
msg += bytes([1, 2, 2, 0, 1, 12]) + (2).to_bytes(4, "little") + (1000).to_bytes(8, "little")
print(base64.b64encode(bytes([1]) + bytes(64) + msg).decode())
EOF
)
# legacy EIP-155 on chain 1, 1000 wei to 0x3535...35
EVM_TX=0xe180018252089435353535353535353535353535353535353535358203e880018080
TYPED='{"types":{"EIP712Domain":[{"name":"name","type":"string"},{"name":"chainId","type":"uint256"}],
 "Note":[{"name":"text","type":"string"}]},"primaryType":"Note","domain":{"name":"purpose","chainId":1},
 "message":{"text":"hi"}}'
body_of() { # ENDPOINT -> method and JSON body ("-": none), tab-separated
	case $1 in
	"GET /v1/keys/{name}" | "GET /v1/wallet/{name}/solana/address" | "GET /v1/wallet/{name}/evm/address")
		printf 'GET\t-' ;;
	"POST /v1/keys/{name}/sign") printf 'POST\t{"input_b64":"%s"}' "$MSG_B64" ;;
	"POST /v1/keys/{name}/verify")
		printf 'POST\t{"input_b64":"%s","signature_b64":"%s"}' "$MSG_B64" "$(head -c 64 /dev/zero | base64 -w0)" ;;
	"POST /v1/jwt/{name}/issue") printf 'POST\t{"claims":{"sub":"table"}}' ;;
	"POST /v1/derive/{name}") printf 'POST\t{"context":"table"}' ;;
	"POST /v1/ecdh/{name}") printf 'POST\t%s' "$PEER_JSON" ;;
	"POST /v1/wallet/{name}/solana/sign-message" | "POST /v1/wallet/{name}/evm/sign-message")
		printf 'POST\t{"message_b64":"%s"}' "$MSG_B64" ;;
	"POST /v1/wallet/{name}/solana/sign-transaction") printf 'POST\t{"transaction_b64":"%s"}' "$SOL_TX" ;;
	"POST /v1/wallet/{name}/evm/sign-digest") printf 'POST\t{"digest_hex":"0x%s"}' "$(printf '11%.0s' $(seq 32))" ;;
	"POST /v1/wallet/{name}/evm/sign-transaction") printf 'POST\t{"transaction_hex":"%s"}' "$EVM_TX" ;;
	"POST /v1/wallet/{name}/evm/sign-typed-data") printf 'POST\t{"typed_data":%s}' "$TYPED" ;;
	*) return 1 ;;
	esac
}

say "every cell"
vd_expect 200 GET /v1/keys -H @"$AUTH"
cp "$VD_BODY" "$W/listing.json"
listed() { python3 -c 'import json,sys
print("ok" if any(k["name"] == sys.argv[2] for k in json.load(open(sys.argv[1]))["keys"]) else "403")' "$W/listing.json" "$1"; }
n=0
n_refused=0
while IFS=$'\t' read -r ep col want; do
	key=$(key_of "$col")
	n=$((n + 1))
	if [ "$ep" = "listed by GET /v1/keys" ]; then
		assert_eq "$(listed "$key")" "$want" "$key in GET /v1/keys"
		continue
	fi
	spec=$(body_of "$ep") || fail "an endpoint of the table this test does not know: '$ep'"
	method=${spec%%$'\t'*}
	data=${spec#*$'\t'}
	path=${ep#* }
	path=${path/\{name\}/$key}
	if [ "$data" = - ]; then
		vd_call "$method" "$path" -H @"$AUTH"
	else
		vd_call "$method" "$path" -H @"$AUTH" -H 'Content-Type: application/json' --data-binary "$data"
	fi
	cp "$VD_BODY" "$PV_OUT/cell.$(printf '%03d' "$n").json"
	case $want in
	ok) got_ok=200 ;;
	403) got_ok="403 wrong_purpose" ;;
	400) got_ok="400 wrong_algorithm" ;;
	esac
	got=$VD_STATUS
	[ "$VD_STATUS" = 200 ] || got="$VD_STATUS $(vd_error_code 2>/dev/null || echo '?')"
	[ "$got" = "$got_ok" ] || fail "$ep with $key ($col): got $got, the table says $want ($(head -c 300 "$VD_BODY"))"
	[ "$want" = ok ] || n_refused=$((n_refused + 1))
	case "$want/$ep" in
	"ok/POST /v1/keys/{name}/sign")
		# a signature made is a signature: OpenSSL checks it
		vd_expect 200 GET "/v1/keys/$key" -H @"$AUTH"
		json_get "$VD_BODY" versions 0 public_key_pem >"$W/$key.pem"
		vd_call POST "/v1/keys/$key/sign" -H @"$AUTH" -H 'Content-Type: application/json' \
			--data-binary "{\"input_b64\":\"$MSG_B64\",\"format\":\"der\"}"
		json_get "$VD_BODY" signature_b64 | base64 -d >"$W/sig.der"
		ossl_verify_ecdsa sha256 "$W/$key.pem" "$W/msg" "$W/sig.der" || fail "OpenSSL rejects $key's signature"
		;;
	"403/"*) assert_contains "$VD_BODY" "purpose" "the refusal names the purpose" ;;
	esac
done <"$W/table"
assert_eq "$n" 150 "cells checked"
[ "$n_refused" -gt 90 ] || fail "only $n_refused refusals: the table or the test is wrong"

say "the legacy key is refused with the fix named; the audit key not even read"
vd_call POST /v1/keys/pt-legacy/sign -H @"$AUTH" -H 'Content-Type: application/json' \
	--data-binary "{\"input_b64\":\"$MSG_B64\"}"
assert_eq "$VD_STATUS $(vd_error_code)" "403 wrong_purpose"
assert_contains "$VD_BODY" "vaultctl key set-purpose pt-legacy"
vd_expect 200 GET /v1/keys/pt-legacy -H @"$AUTH"
assert_eq "$(json_get "$VD_BODY" purpose)" None "purpose of a legacy key"
vd_call GET /v1/keys/pt-audit -H @"$AUTH"
assert_eq "$VD_STATUS $(vd_error_code)" "403 wrong_purpose"
assert_not_contains "$VD_BODY" "BEGIN" "metadata of the audit key"

say "refused requests signed nothing: audited denied (403) or error (400)"
assert_eq "$(vd_stop)" 0 "exit status"
python3 - "$AUDIT" <<'EOF' || fail "audit records of refused requests"
import json, sys
n_refused = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if "type" in r or not r["key"].startswith("pt-"):
        continue
    if r["status"] == 403:
        assert r["outcome"] == "denied", r
        n_refused += 1
    elif r["status"] == 400:
        assert r["outcome"] == "error", r
        n_refused += 1
    # no signature is released without status 200
    assert (r["outcome"] == "ok") == (r["status"] == 200), r
assert n_refused > 90, n_refused
EOF
run_expect 0 vc audit verify "$AUDIT" --hmac-key audit-hmac
echo "purpose_http: ok"
