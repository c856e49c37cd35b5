#!/bin/bash
# vaultd's batch endpoints (docs/api.md §4 "Keys" sign-batch, "Wallet"
# solana/sign-transactions; issue 14 item 5), on a fresh token:
#
# - POST /v1/keys/{name}/sign-batch with N inputs for p256 (DER), ed25519
#   and rsa2048 (PKCS#1 and PSS), and N sha256 digests for p256: every
#   signature verified with OpenSSL against its own input, in order (each
#   one also refused for its neighbour's input, so a reordered reply fails);
#   one audit line per batch (its input_sha256 the body's, per-item hashes
#   checked when the line carries them) and vaultctl audit verify passing.
# - All or nothing: one bad base64 item, one digest of the wrong length,
#   65 items (413), an empty list: 4xx and no signature in the reply; a key
#   of another purpose (403 wrong_purpose) and a client without the sign
#   grant (403 forbidden).
# - POST /v1/wallet/{name}/solana/sign-transactions: @solana/web3.js builds
#   N transfers, vaultd signs them all, web3.js and Ed25519 (node:crypto)
#   verify every one (tests/interop/wallet_solana_batch.mjs); a batch with
#   one transaction for another signer, one malformed transaction, or 17
#   transactions signs nothing. The web3.js part skips without node/npm
#   (exit 77), except under CI=true (tests/lib/interop.sh).
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/vaultd.sh"
vd_need
need_cmd basenc

W=$PV_WORK
N=7

say "keys: p256, ed25519, rsa2048 (purpose sign), p256 (purpose jwt), ed25519 (purpose solana)"
run_expect 0 vc key create bt-p256 --alg p256 --purpose sign
run_expect 0 vc key create bt-ed --alg ed25519 --purpose sign
run_expect 0 vc key create bt-rsa --alg rsa2048 --purpose sign
run_expect 0 vc key create bt-jwt --alg p256 --purpose jwt
run_expect 0 vc key create bt-sol --alg ed25519 --purpose solana
for k in bt-p256 bt-ed bt-rsa; do pub_pem "$k" "$W/$k.pem"; done

TOKEN_A=$(vd_new_token)
TOKEN_B=$(vd_new_token)
vd_auth_header "$W/a.hdr" "$TOKEN_A"
vd_auth_header "$W/b.hdr" "$TOKEN_B"
vd_base_config "[{\"name\": \"batcher\", \"auth\": {\"token_sha256\": \"$(vd_token_hash "$TOKEN_A")\"},
    \"rules\": [{\"ops\": [\"sign\", \"verify\"], \"keys\": [\"bt-*\"]},
                {\"ops\": [\"wallet.sign\", \"wallet.read\"], \"keys\": [\"bt-sol\"]}],
    \"rate\": {\"per_second\": 1000, \"burst\": 1000}},
  {\"name\": \"verifier\", \"auth\": {\"token_sha256\": \"$(vd_token_hash "$TOKEN_B")\"},
    \"rules\": [{\"ops\": [\"verify\", \"wallet.read\"], \"keys\": [\"bt-*\"]}]}]" >"$W/vaultd.json"
vd_start "$W/vaultd.json"
vd_expect 200 GET /v1/ready
AUDIT=$PV_OUT/audit.log

# records KEY: how many audit records name KEY.
records() {
	python3 - "$AUDIT" "$1" <<'EOF'
import json, sys
n = 0
for line in open(sys.argv[1]):
    d = json.loads(line)
    if d.get("type") is None and d["key"] == sys.argv[2]:
        n += 1
print(n)
EOF
}

# batch STATUS AUTH PATH BODYFILE: POST the body; the reply in $VD_BODY.
batch() {
	vd_expect "$1" POST "$3" -H @"$W/$2.hdr" -H 'Content-Type: application/json' --data-binary @"$4"
	echo "POST $3 ($2, $(wc -c <"$4") bytes) -> $VD_STATUS"
}

# no_signatures: the reply is an error and carries no signature.
no_signatures() {
	python3 - "$VD_BODY" <<'EOF' || fail "a refused batch released something: $(head -c 300 "$VD_BODY")"
import json, sys
d = json.load(open(sys.argv[1]))
assert set(d) == {"error"}, d.keys()
EOF
}

# Inputs of different sizes (1 byte .. 3 KiB), and the request bodies.
python3 - "$W" "$N" <<'EOF'
import base64, hashlib, json, os, sys
w, n = sys.argv[1], int(sys.argv[2])
ins = [os.urandom(1 + 517 * i) for i in range(n)]
for i, b in enumerate(ins):
    open(f"{w}/in.{i}", "wb").write(b)
    open(f"{w}/dg.{i}", "wb").write(hashlib.sha256(b).digest())
b64 = [base64.b64encode(b).decode() for b in ins]
json.dump({"inputs_b64": b64}, open(f"{w}/raw.json", "w"))
json.dump({"inputs_b64": b64, "format": "der"}, open(f"{w}/der.json", "w"))
json.dump({"inputs_b64": b64, "padding": "pss"}, open(f"{w}/pss.json", "w"))
json.dump({"digests_b64": [base64.b64encode(hashlib.sha256(b).digest()).decode() for b in ins],
           "digest": "sha256", "format": "der"}, open(f"{w}/digests.json", "w"))
# one bad item in the middle: not base64
bad = list(b64); bad[n // 2] = "not base64!"
json.dump({"inputs_b64": bad}, open(f"{w}/bad-b64.json", "w"))
# one digest of the wrong length
d = [base64.b64encode(hashlib.sha256(b).digest()).decode() for b in ins]
d[n - 1] = base64.b64encode(b"\x01" * 31).decode()
json.dump({"digests_b64": d, "digest": "sha256"}, open(f"{w}/bad-digest.json", "w"))
json.dump({"inputs_b64": [base64.b64encode(b"x").decode()] * 65}, open(f"{w}/65.json", "w"))
json.dump({"inputs_b64": [base64.b64encode(b"x").decode()] * 64}, open(f"{w}/64.json", "w"))
json.dump({"inputs_b64": []}, open(f"{w}/empty.json", "w"))
json.dump({"inputs_b64": b64[:1], "input_b64": b64[0]}, open(f"{w}/mixed.json", "w"))
# the per-item hashes the audit line should carry
json.dump([base64.urlsafe_b64encode(hashlib.sha256(b).digest()).rstrip(b"=").decode() for b in ins],
          open(f"{w}/hashes.json", "w"))
EOF

# sigs FILE: the reply's signatures, one file each ($W/sig.I), checking the
# reply's members on the way.
sigs() {
	python3 - "$VD_BODY" "$W" "$N" "$1" <<'EOF'
import base64, json, sys
d = json.load(open(sys.argv[1]))
w, n, name = sys.argv[2], int(sys.argv[3]), sys.argv[4]
assert d["name"] == name and d["version"] == 1, d
assert set(d) == {"name", "version", "alg", "format", "signatures_b64"}, d.keys()
s = d["signatures_b64"]
assert len(s) == n, f"{len(s)} signatures for {n} inputs"
for i, t in enumerate(s):
    open(f"{w}/sig.{i}", "wb").write(base64.b64decode(t, validate=True))
print(d["alg"], d["format"])
EOF
}

# verify_all NAME CMD...: CMD PEM MSG SIG must accept every (input i,
# signature i) and refuse (input i+1, signature i).
verify_all() {
	local name=$1 i j
	shift
	for ((i = 0; i < N; i++)); do
		"$@" "$W/$name.pem" "$W/${MSGS:-in}.$i" "$W/sig.$i" || fail "OpenSSL rejects $name signature $i"
		j=$(((i + 1) % N))
		! "$@" "$W/$name.pem" "$W/${MSGS:-in}.$j" "$W/sig.$i" || fail "$name signature $i verifies input $j"
	done
	echo "OpenSSL verified $N $name signatures, each only over its own input"
}
ecdsa_sha256() { ossl_verify_ecdsa sha256 "$@"; }
rsa_pkcs1() { ossl_verify_rsa sha256 pkcs1 "$@"; }
rsa_pss() { ossl_verify_rsa sha256 pss "$@"; }

say "sign-batch: $N inputs, p256 (der), ed25519, rsa2048 (pkcs1, pss); verified by OpenSSL in order"
before=$(records bt-p256)
batch 200 a /v1/keys/bt-p256/sign-batch "$W/der.json"
sigs bt-p256
verify_all bt-p256 ecdsa_sha256
assert_eq "$(records bt-p256)" $((before + 1)) "audit records for one p256 batch"
batch 200 a /v1/keys/bt-ed/sign-batch "$W/raw.json"
sigs bt-ed
verify_all bt-ed ossl_verify_ed25519
batch 200 a /v1/keys/bt-rsa/sign-batch "$W/raw.json"
sigs bt-rsa
verify_all bt-rsa rsa_pkcs1
batch 200 a /v1/keys/bt-rsa/sign-batch "$W/pss.json"
sigs bt-rsa
verify_all bt-rsa rsa_pss

say "sign-batch with digests_b64 (sha256): verified over the digests"
batch 200 a /v1/keys/bt-p256/sign-batch "$W/digests.json"
sigs bt-p256
MSGS=dg verify_all bt-p256 ossl_verify_ecdsa_digest

say "64 items is the limit; 65 is 413 too_large"
batch 200 a /v1/keys/bt-ed/sign-batch "$W/64.json"
assert_eq "$(json_get "$VD_BODY" signatures_b64 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" 64 \
	"signatures for 64 items"
batch 413 a /v1/keys/bt-ed/sign-batch "$W/65.json"
assert_eq "$(vd_error_code)" too_large "error code for 65 items"
no_signatures

say "all or nothing: one bad item signs nothing"
before=$(records bt-p256)
batch 400 a /v1/keys/bt-p256/sign-batch "$W/bad-b64.json"
assert_eq "$(vd_error_code)" bad_request "error code for a bad base64 item"
assert_contains "$VD_BODY" "inputs_b64[$((N / 2))]" "the error names the bad item"
no_signatures
batch 400 a /v1/keys/bt-p256/sign-batch "$W/bad-digest.json"
assert_contains "$VD_BODY" "digests_b64[$((N - 1))]" "the error names the short digest"
no_signatures
batch 400 a /v1/keys/bt-p256/sign-batch "$W/empty.json"
no_signatures
batch 400 a /v1/keys/bt-p256/sign-batch "$W/mixed.json"
no_signatures
assert_eq "$(records bt-p256)" $((before + 4)) "one audit record per refused batch"

say "one policy decision, in the keeper: wrong purpose and no grant are 403, nothing signed"
batch 403 a /v1/keys/bt-jwt/sign-batch "$W/raw.json"
assert_eq "$(vd_error_code)" wrong_purpose "a jwt key in sign-batch"
no_signatures
batch 403 a /v1/keys/bt-sol/sign-batch "$W/raw.json"
assert_eq "$(vd_error_code)" wrong_purpose "a solana key in sign-batch"
batch 403 b /v1/keys/bt-p256/sign-batch "$W/der.json"
assert_eq "$(vd_error_code)" forbidden "a client without the sign grant"
no_signatures
batch 404 a /v1/keys/bt-none/sign-batch "$W/der.json"
assert_eq "$(vd_error_code)" key_not_found "an unknown key"

say "the audit line of a batch: input_sha256 of the body; the per-item hashes when the line has them"
python3 - "$AUDIT" "$W/der.json" "$W/hashes.json" <<'EOF'
import base64, hashlib, json, sys
body = open(sys.argv[2], "rb").read()
want = base64.urlsafe_b64encode(hashlib.sha256(body).digest()).rstrip(b"=").decode()
hashes = json.load(open(sys.argv[3]))
recs = [d for d in map(json.loads, open(sys.argv[1])) if d.get("input_sha256") == want and d["status"] == 200]
assert len(recs) == 1, f"{len(recs)} audit records for the p256 batch body"
r = recs[0]
assert (r["op"], r["key"], r["version"], r["outcome"], r["status"]) == ("sign", "bt-p256", 1, "ok", 200), r
assert r.get("inputs_sha256") == hashes, "per-item hashes missing or differ: %r" % r.get("inputs_sha256")
print(f"audit: one line, {len(hashes)} per-item hashes in order")
EOF

# ---- Solana: web3.js ----

say "solana/sign-transactions: web3.js builds, vaultd signs, web3.js verifies"
. "$top_srcdir/tests/lib/interop.sh"
command -v node >/dev/null 2>&1 || interop_missing "node is not installed"
node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 18) ? 0 : 1)' ||
	interop_missing "node $(node --version) is older than 20.18 (@solana/web3.js 1.99 needs it)"
interop_node_setup tests/interop/wallet_common.mjs tests/interop/wallet_solana_batch.mjs
vd_expect 200 GET /v1/wallet/bt-sol/solana/address -H @"$W/a.hdr"
SOL=$(json_get "$VD_BODY" address)
js wallet_solana_batch.mjs build --signer "$SOL" --count 5 --out "$W/sol5.json"
js wallet_solana_batch.mjs build --signer "$SOL" --count 16 --out "$W/sol16.json"
js wallet_solana_batch.mjs build --signer "$SOL" --count 17 --out "$W/sol17.json"
js wallet_solana_batch.mjs build --signer "$SOL" --count 5 --foreign-at 3 --out "$W/sol-foreign.json"
python3 - "$W/sol5.json" "$W/sol-malformed.json" <<'EOF'
import base64, json, sys
t = json.load(open(sys.argv[1]))["transactions_b64"]
t[1] = base64.b64encode(base64.b64decode(t[1]) + b"\x00").decode()  # a trailing byte
json.dump({"transactions_b64": t}, open(sys.argv[2], "w"))
EOF

batch 200 a /v1/wallet/bt-sol/solana/sign-transactions "$W/sol5.json"
cp "$VD_BODY" "$W/sol5.reply"
js wallet_solana_batch.mjs verify --request "$W/sol5.json" --response "$W/sol5.reply" --address "$SOL" --version 1
batch 200 a /v1/wallet/bt-sol/solana/sign-transactions "$W/sol16.json"
cp "$VD_BODY" "$W/sol16.reply"
js wallet_solana_batch.mjs verify --request "$W/sol16.json" --response "$W/sol16.reply" --address "$SOL"

say "must fail: a reply checked against another request, a flipped signature"
js_refuses "5 results for 16 transactions" wallet_solana_batch.mjs verify --request "$W/sol16.json" --response "$W/sol5.reply" --address "$SOL"
python3 - "$W/sol5.reply" "$W/sol5-swapped.reply" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["results"][0], d["results"][1] = d["results"][1], d["results"][0]
json.dump(d, open(sys.argv[2], "w"))
EOF
js_refuses "is not the request's" wallet_solana_batch.mjs verify --request "$W/sol5.json" --response "$W/sol5-swapped.reply" --address "$SOL"
python3 - "$W/sol5.reply" "$W/sol5-flipped.reply" <<'EOF'
import base64, json, sys
d = json.load(open(sys.argv[1]))
r = d["results"][2]
b = bytearray(base64.b64decode(r["transaction_b64"]))
b[1 + 64 * r["signer_index"] + 5] ^= 1
r["transaction_b64"] = base64.b64encode(bytes(b)).decode()
json.dump(d, open(sys.argv[2], "w"))
EOF
js_refuses "signature_b58 is not the slot's signature" wallet_solana_batch.mjs verify --request "$W/sol5.json" \
	--response "$W/sol5-flipped.reply" --address "$SOL"

say "all or nothing: another signer's transaction, a malformed one, 17 transactions, no grant"
batch 400 a /v1/wallet/bt-sol/solana/sign-transactions "$W/sol-foreign.json"
assert_contains "$VD_BODY" "transactions_b64[3]" "the error names the foreign transaction"
no_signatures
batch 400 a /v1/wallet/bt-sol/solana/sign-transactions "$W/sol-malformed.json"
assert_contains "$VD_BODY" "transactions_b64[1]" "the error names the malformed transaction"
no_signatures
batch 413 a /v1/wallet/bt-sol/solana/sign-transactions "$W/sol17.json"
no_signatures
batch 403 b /v1/wallet/bt-sol/solana/sign-transactions "$W/sol5.json"
assert_eq "$(vd_error_code)" forbidden "a client with wallet.read only"
no_signatures
batch 403 a /v1/wallet/bt-ed/solana/sign-transactions "$W/sol5.json"
assert_eq "$(vd_error_code)" forbidden "a key the client has no wallet.sign grant for"
no_signatures

say "the audit log verifies"
vd_stop >/dev/null
run_expect 0 vc audit verify "$AUDIT"
cat "$RUN_OUT"
vd_assert_no_token "$TOKEN_A" "$TOKEN_B"
echo "sign_batch: ok"
