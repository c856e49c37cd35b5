#!/bin/bash
# Migrating keys made before purposes (docs/operations.md, "Migrating keys
# made before purposes"). The token is put in the previous metadata format
# with pkcs11-tool, not with p11vault: each key's CKO_DATA metadata object
# (CKA_APPLICATION "p11vault", CKA_LABEL = name) is read, written back
# without "purpose", and the old copy deleted. Such keys are refused by
# vaultctl (exit 8) and vaultd (403 wrong_purpose) with the fix named,
# `vaultctl doctor` lists them, `vaultctl key set-purpose` fixes each once
# (another purpose later is refused), and then they work: signatures are
# checked by OpenSSL. A bundle sealed by an earlier version (format 1, its
# private-key entry without a purpose; made here with Node's crypto from
# the spec) opens once its KEK has a purpose, its key is refused by vaultd
# until `vaultctl bundle set-purpose`, and then signs.
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/bundle.sh"
. "$top_srcdir/tests/lib/vaultd.sh"
need_cmd pkcs11-tool
need_cmd openssl
need_cmd python3
need_cmd basenc
vd_need
W=$PV_WORK
printf 'signed after the migration\n' >"$W/msg"

say "keys made by this version, and a bundle sealed for its KEK with a key entry"
mkkey old-sign p256 sign
mkkey old-jwt ed25519 jwt
mkkey old-kek aes256 wrap
mkkey old-audit hmac-sha256 audit
run_expect 0 vc key create old-dec --alg rsa2048 --purpose decrypt
mkkey new-sign p256 sign
pub_pem old-sign "$W/old-sign.pem"
pub_pem old-jwt "$W/old-jwt.pem"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$W/bg.key" 2>/dev/null
openssl pkey -in "$W/bg.key" -pubout -out "$W/bg.pem" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$W/bkey.pem" 2>/dev/null
openssl pkey -in "$W/bkey.pem" -pubout -out "$W/bkey.pub.pem" 2>/dev/null
printf 'APP_SECRET=migrated\n' >"$W/in.env"
run_expect 0 vc bundle seal --recipient old-kek --recipient "$W/bg.pem" --in "$W/in.env" --out "$W/b.json"
run_expect 0 vc bundle import-key "$W/b.json" bkey --pem "$W/bkey.pem" --purpose sign

say "the bundle as an earlier version wrote it: format 1, no purpose, its check recomputed (Node)"
have_node || skip "node is needed to write the format-1 bundle"
soft_rsa_dek "$W/b.json" "$W/bg.key" "$W/dek"
bedit "$W/b.json" "$W/b1.tmp" 'del entry("bkey")["purpose"]; d["format"] = 1'
bref recheck "$W/b1.tmp" "$W/dek" "$W/old.bundle" || fail "cannot re-check the format-1 bundle"
bundle_shape "$W/old.bundle"
assert_eq "$(bj "$W/old.bundle" 'd["format"]')" 1 "format of the old bundle"
run_expect 0 vc bundle verify "$W/old.bundle"

say "the token in the previous metadata format (pkcs11-tool rewrites the metadata)"
for k in old-sign old-jwt old-kek old-audit old-dec; do
	legacy_meta $k
done
assert_purpose new-sign sign

say "vaultctl refuses them (8), naming the fix"
run_expect 8 vc sign old-sign --in "$W/msg" --out "$W/refused.sig"
assert_one_line_error "$RUN_ERR"
assert_contains "$RUN_ERR" "key 'old-sign' has no purpose"
assert_contains "$RUN_ERR" "vaultctl key set-purpose old-sign PURPOSE"
[ ! -e "$W/refused.sig" ] || fail "a refused sign wrote a signature"
run_expect 8 vc --json sign old-sign --in "$W/msg"
assert_eq "$(json_get "$RUN_OUT" error code)" wrong_purpose "JSON error code for a legacy key"
printf '{"sub":"legacy"}' >"$W/claims.json"
run_expect 8 vc jwt issue old-jwt --claims "$W/claims.json"
assert_contains "$RUN_ERR" "vaultctl key set-purpose old-jwt PURPOSE"
run_expect 8 vc unwrap "$W/old.bundle" --format json
assert_contains "$RUN_ERR" "vaultctl key set-purpose old-kek PURPOSE"
[ ! -s "$RUN_OUT" ] || fail "unwrap through a legacy KEK printed something"
run_expect 8 vc key rotate old-sign
assert_versions old-sign "1:active"
run_expect 0 vc sign new-sign --in "$W/msg" --out "$W/new.sig"

say "key list and key show: purpose none/null and the hint"
run_expect 0 vc key list
grep -Eq '^old-sign[[:space:]]+p256[[:space:]]+1[[:space:]]+active[[:space:]]+none[[:space:]]' "$RUN_OUT" ||
	fail "key list does not show old-sign with purpose none"
assert_contains "$RUN_OUT" "vaultctl key set-purpose old-sign PURPOSE"
run_expect 0 vc --json key show old-dec
assert_eq "$(json_get "$RUN_OUT" purpose)" None "purpose of a legacy key in key show --json"
assert_contains "$RUN_OUT" "vaultctl key set-purpose old-dec PURPOSE"
assert_eq "$(json_get "$RUN_OUT" usage)" decrypt "usage of the legacy decrypt key"

say "doctor lists the keys without a purpose, with what each can have and the fix"
run_expect 0 vc doctor
assert_contains "$RUN_OUT" "keys without a purpose"
for k in old-sign old-jwt old-kek old-audit old-dec; do
	assert_contains "$RUN_OUT" "fix: vaultctl key set-purpose $k PURPOSE"
done
assert_not_contains "$RUN_OUT" "set-purpose new-sign"
run_expect 0 vc --json doctor
python3 - "$RUN_OUT" <<'EOF' || fail "doctor --json keys_without_purpose"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["keys_checked"] is True, d
got = {k["name"]: (k["alg"], k["can_have"], k["fix"]) for k in d["keys_without_purpose"]}
want = {
    "old-sign": ("p256", "jwt, sign, derive"),
    "old-jwt": ("ed25519", "jwt, sign, solana"),
    "old-kek": ("aes256", "wrap"),
    "old-audit": ("hmac-sha256", "sign, audit, derive"),
    "old-dec": ("rsa2048", "jwt, sign, decrypt"),
}
assert set(got) == set(want), got
for n, (alg, can) in want.items():
    assert got[n] == (alg, can, "vaultctl key set-purpose %s PURPOSE" % n), got[n]
EOF

say "vaultd refuses them: 403 wrong_purpose naming the fix, nothing signed"
TOK=$(vd_new_token)
clients="[{\"name\": \"app\", \"auth\": {\"token_sha256\": \"$(vd_token_hash "$TOK")\"},
   \"rules\": [{\"ops\": [\"sign\", \"verify\", \"keys.read\"], \"keys\": [\"old-sign\", \"new-sign\", \"bkey\"]},
               {\"ops\": [\"jwt.issue\"], \"keys\": [\"old-jwt\"]}]}]"
vd_base_config "$clients" '"jwt": {"issuer": "https://migrate.test"}' >"$W/vaultd.json"
vd_start "$W/vaultd.json"
sign_req="{\"input_b64\": \"$(base64 -w0 "$W/msg")\", \"format\": \"der\"}"
nvderr=0
vd_expect_code() { # STATUS CODE METHOD PATH [CURL ARGS]
	local status=$1 code=$2
	shift 2
	vd_call "$@" -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json'
	printf '$ vaultd %s %s  -> %s %s\n' "$1" "$2" "$VD_STATUS" "$code"
	[ "$VD_STATUS" = 200 ] || cp "$VD_BODY" "$PV_OUT/vd-error.$((++nvderr)).json"
	[ "$VD_STATUS" = "$status" ] || {
		head -c 2000 "$VD_BODY" >&2
		fail "$1 $2: status $VD_STATUS, want $status"
	}
	[ -z "$code" ] || assert_eq "$(vd_error_code)" "$code" "error code of $1 $2"
}
vd_expect_code 403 wrong_purpose POST /v1/keys/old-sign/sign --data-binary "$sign_req"
assert_contains "$VD_BODY" "vaultctl key set-purpose old-sign"
vd_expect_code 403 wrong_purpose POST /v1/jwt/old-jwt/issue --data-binary '{"claims":{"sub":"legacy"}}'
vd_expect_code 200 "" GET /v1/keys/old-sign
assert_eq "$(json_get "$VD_BODY" purpose)" None "purpose of a legacy key in GET /v1/keys/old-sign"
vd_expect_code 200 "" POST /v1/keys/new-sign/sign --data-binary "$sign_req"
[ "$(vd_stop)" = 0 ] || fail "vaultd did not stop cleanly"

say "vaultd does not start with an audit key that has no purpose, and says so"
cp "$W/vaultd.json" "$W/vaultd-oldaudit.json"
vd_json_set "$W/vaultd-oldaudit.json" 'audit.hmac_key="old-audit"'
vd_launch --config "$W/vaultd-oldaudit.json"
rc=$(vd_wait_exit 300)
[ "$rc" != timeout ] && [ "$rc" != 0 ] || fail "vaultd with a legacy audit key: exit $rc, want a refusal"
assert_contains "$VD_LOG" "vaultctl key set-purpose old-audit PURPOSE"
VD_PID=

say "set-purpose: one that does not fit (2), a decrypt key cannot become a signing key (2)"
run_expect 2 vc key set-purpose old-sign solana
assert_one_line_error "$RUN_ERR"
assert_contains "$RUN_ERR" "jwt, sign, derive"
run_expect 2 vc key set-purpose old-dec sign
assert_contains "$RUN_ERR" "decrypt"
run_expect 2 vc key set-purpose old-sign nonsense
run_expect 5 vc key set-purpose no-such-key sign
assert_purpose old-sign None
assert_purpose old-dec None

say "set-purpose gives each key the purpose of its job, once"
run_expect 0 vc key set-purpose old-sign sign
assert_contains "$RUN_OUT" "key 'old-sign' (p256) has purpose sign"
run_expect 0 vc key set-purpose old-jwt jwt
run_expect 0 vc key set-purpose old-kek wrap
run_expect 0 vc key set-purpose old-audit audit
run_expect 0 vc --json key set-purpose old-dec decrypt
assert_eq "$(json_get "$RUN_OUT" purpose)" decrypt "set-purpose --json"
for kp in old-sign:sign old-jwt:jwt old-kek:wrap old-audit:audit old-dec:decrypt; do
	assert_purpose "${kp%%:*}" "${kp#*:}"
done
# what pkcs11-tool reads back is this version's format again
p11tool_login --read-object --type data --label old-sign --application-label p11vault \
	-o "$W/old-sign.after" >"$W/p11.out" 2>&1 || fail "pkcs11-tool cannot read the new metadata"
assert_eq "$(json_get "$W/old-sign.after" purpose)" sign "purpose in the metadata object"

say "a second set-purpose with another purpose is refused (7); the same one changes nothing"
run_expect 7 vc key set-purpose old-sign jwt
assert_one_line_error "$RUN_ERR"
assert_contains "$RUN_ERR" "already has purpose sign"
run_expect 7 vc key set-purpose new-sign derive
run_expect 0 vc key set-purpose old-sign sign
assert_purpose old-sign sign

say "doctor is content"
run_expect 0 vc doctor
assert_not_contains "$RUN_OUT" "keys without a purpose"
assert_contains "$RUN_OUT" "every one has a purpose"

say "the migrated keys work: OpenSSL verifies the signature, the JWT, the bundle opens"
run_expect 0 vc sign old-sign --in "$W/msg" --out "$W/old-sign.sig"
ossl_verify_ecdsa sha256 "$W/old-sign.pem" "$W/msg" "$W/old-sign.sig" ||
	fail "OpenSSL rejects the signature of the migrated key"
run_expect 0 vc jwt issue old-jwt --claims "$W/claims.json"
python3 - "$RUN_OUT" "$W/jwt.input" "$W/jwt.sig" <<'EOF' || fail "cannot split the JWT"
import base64, sys
t = open(sys.argv[1]).read().strip().split(".")
assert len(t) == 3
open(sys.argv[2], "w").write(t[0] + "." + t[1])
open(sys.argv[3], "wb").write(base64.urlsafe_b64decode(t[2] + "=" * (-len(t[2]) % 4)))
EOF
ossl_verify_ed25519 "$W/old-jwt.pem" "$W/jwt.input" "$W/jwt.sig" ||
	fail "OpenSSL rejects the EdDSA JWT of the migrated key"
run_expect 0 vc key rotate old-sign
assert_purpose old-sign sign
run_expect 0 vc unwrap "$W/old.bundle" --format json
assert_eq "$(json_get "$RUN_OUT" APP_SECRET)" migrated "value from the old bundle"

say "the old bundle: its key entry has no purpose (bundle list), vaultd refuses to sign with it"
run_expect 0 vc bundle list "$W/old.bundle"
grep -Eq '^[[:space:]]+bkey[[:space:]]+private-key[[:space:]]+p256[[:space:]]+purpose none' "$RUN_OUT" ||
	fail "bundle list does not show bkey without a purpose"
assert_contains "$RUN_OUT" "vaultctl bundle set-purpose"
run_expect 0 vc bundle list "$W/old.bundle" --json
assert_eq "$(json_get "$RUN_OUT" entries 1 purpose)" None "bundle list --json purpose of a format-1 entry"
run_expect 8 vc bundle install-key "$W/old.bundle" bkey --as bkey-installed
assert_contains "$RUN_ERR" "--purpose"
cp "$W/old.bundle" "$W/live.bundle"
vd_base_config "$clients" "\"jwt\": {\"issuer\": \"https://migrate.test\"}, \"bundle\": {\"path\": \"$W/live.bundle\", \"allow_unsigned\": true}" \
	>"$W/vaultd.json"
vd_start "$W/vaultd.json"
vd_expect_code 403 wrong_purpose POST /v1/keys/bkey/sign --data-binary "$sign_req"
assert_contains "$VD_BODY" "vaultctl bundle set-purpose BUNDLE bkey PURPOSE"
vd_expect_code 200 "" POST /v1/keys/old-sign/sign --data-binary "$sign_req"
json_get "$VD_BODY" signature_b64 | base64 -d >"$W/vd.sig"
pub_pem old-sign "$W/old-sign.v2.pem"
ossl_verify_ecdsa sha256 "$W/old-sign.v2.pem" "$W/msg" "$W/vd.sig" ||
	fail "OpenSSL rejects vaultd's signature with the migrated key"

say "bundle set-purpose: refused for a wrong fit (2), then format 2 and the key signs after a reload"
cp "$W/live.bundle" "$W/before.bundle"
run_expect 2 vc bundle set-purpose "$W/live.bundle" bkey solana
run_expect 2 vc bundle set-purpose "$W/live.bundle" APP_SECRET sign
run_expect 5 vc bundle set-purpose "$W/live.bundle" nope sign
assert_same_file "$W/live.bundle" "$W/before.bundle" "a refused set-purpose changed the bundle"
run_expect 0 vc bundle set-purpose "$W/live.bundle" bkey sign
bundle_shape "$W/live.bundle"
assert_eq "$(bj "$W/live.bundle" 'd["format"]')" 2 "format after set-purpose"
assert_eq "$(bj "$W/live.bundle" 'd["version"]')" "$(($(bj "$W/old.bundle" 'd["version"]') + 1))" "version after set-purpose"
assert_eq "$(bj "$W/live.bundle" 'entry("bkey")["purpose"]')" sign "purpose of bkey"
# the new check covers the purpose: the reference implementation accepts it
mkdir -p "$W/ref"
bref open "$W/live.bundle" "$W/dek" "$W/ref" || fail "Node does not accept the check of the format-2 bundle"
run_expect 7 vc bundle set-purpose "$W/live.bundle" bkey jwt
run_expect 0 vc bundle set-purpose "$W/live.bundle" bkey sign
assert_contains "$RUN_ERR" "nothing written"
kill -HUP "$VD_PID"
for _ in $(seq 1 100); do
	vd_call POST /v1/keys/bkey/sign -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' \
		--data-binary "$sign_req"
	[ "$VD_STATUS" != 200 ] || break
	sleep 0.1
done
[ "$VD_STATUS" = 200 ] || fail "the bundle key does not sign after set-purpose and a reload (status $VD_STATUS)"
json_get "$VD_BODY" signature_b64 | base64 -d >"$W/bkey.sig"
ossl_verify_ecdsa sha256 "$W/bkey.pub.pem" "$W/msg" "$W/bkey.sig" ||
	fail "OpenSSL rejects the bundle key's signature"
[ "$(vd_stop)" = 0 ] || fail "vaultd did not stop cleanly"
run_expect 0 vc bundle install-key "$W/live.bundle" bkey --as bkey-installed
assert_purpose bkey-installed sign

for f in "$PV_OUT"/*; do
	assert_no_pin_in "$f"
done
echo "purpose_migrate: ok"
