#!/bin/bash
# vaultctl key schedule (docs/cli.md "key schedule"): defaults and the jwt
# rules (publish-ahead >= 5m; retire-after >= the longest token lifetime a
# rule of vaultd's configuration allows, plus 5m), refusals of wallet keys
# and of vaultd's audit key, key list / key show (text and --json) and
# vaultd's GET /v1/keys showing the schedule and the next step, the next
# step becoming due when the test clock file moves, and --off.
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/vaultd.sh"
vd_need

W=$PV_WORK
CFG=$W/vaultd.json
export P11VAULT_TEST_CLOCK_FILE=$W/clock
echo 0 >"$P11VAULT_TEST_CLOCK_FILE"

# jcheck FILE EXPR MESSAGE: the Python expression over k (the JSON) holds
jcheck() {
	python3 -c 'import json, sys
k = json.load(open(sys.argv[1]))
assert eval(sys.argv[2]), k' "$1" "$2" || fail "$3"
}

say "keys"
run_expect 0 vc key create sc-jwt --alg p256 --purpose jwt
run_expect 0 vc key create sc-jwt2 --alg p256 --purpose jwt
run_expect 0 vc key create sc-sign --alg ed25519 --purpose sign
run_expect 0 vc key create sc-kek --alg aes256 --purpose wrap
run_expect 0 vc key create sc-rsa --alg rsa2048 --purpose decrypt
run_expect 0 vc key create sc-derive --alg hmac-sha256 --purpose derive
run_expect 0 vc key create sc-sol --alg ed25519 --purpose solana
run_expect 0 vc key create sc-evm --alg secp256k1 --purpose evm
vd_audit_key
vd_audit_key sc-audit2
TOK=$(vd_new_token)
vd_base_config "[
  {\"name\": \"svc\", \"auth\": {\"token_sha256\": \"$(vd_token_hash "$TOK")\"},
   \"rules\": [{\"ops\": [\"jwt.issue\"], \"keys\": [\"sc-jwt\"], \"max_ttl\": 3600},
               {\"ops\": [\"jwt.issue\"], \"keys\": [\"sc-jwt2\"]},
               {\"ops\": [\"keys.read\"], \"keys\": [\"sc-*\"]}]}
]" '"jwt": {"issuer": "https://sc.test"}' >"$CFG"

say "jwt key: defaults without vaultd's configuration, said on stderr"
run_expect 0 vc key schedule sc-jwt --every 1d
assert_contains "$RUN_OUT" "key 'sc-jwt' rotates every 1d (publish-ahead 1h, retire-after 10m): next publish of version 2 at"
assert_contains "$RUN_ERR" "no --vaultd-config"

say "jwt key: the rules' max_ttl decides retire-after"
# rule max_ttl 3600: at least 1h + 5m
run_expect 2 vc key schedule sc-jwt --every 1d --retire-after 1h --vaultd-config "$CFG"
assert_contains "$RUN_ERR" "retire-after 1h is too short for jwt key 'sc-jwt': tokens it signed may live 3600 s"
assert_contains "$RUN_ERR" "max_ttl"
assert_contains "$RUN_ERR" "65m"
run_expect 0 vc --json key schedule sc-jwt --every 1d --vaultd-config "$CFG"
jcheck "$RUN_OUT" 'k["schedule"] == {"every": 86400, "publish_ahead": 3600, "retire_after": 3900} and k["next_step"]["step"] == "publish" and k["next_step"]["version"] == 2 and k["next_step"]["due"] is False' "default retire-after from max_ttl"
assert_not_contains "$RUN_ERR" "no --vaultd-config"
# a rule without max_ttl: tokens may live 366 days
run_expect 2 vc key schedule sc-jwt2 --every 7d --retire-after 30d --vaultd-config "$CFG"
assert_contains "$RUN_ERR" "without max_ttl: tokens may live 366 days"
run_expect 0 vc --json key schedule sc-jwt2 --every 7d --vaultd-config "$CFG"
jcheck "$RUN_OUT" 'k["schedule"]["retire_after"] == 366 * 86400 + 300' "retire-after 366 days + 5m"
run_expect 0 vc key schedule sc-jwt2 --off
assert_contains "$RUN_OUT" "key 'sc-jwt2' now has no rotation schedule"

say "jwt key: publish-ahead and every"
run_expect 2 vc key schedule sc-jwt --every 1d --publish-ahead 2m
assert_contains "$RUN_ERR" "publish-ahead 2m is too short for jwt key 'sc-jwt': relying parties cache the JWK Set for 60 s"
run_expect 2 vc key schedule sc-jwt --every 1h --publish-ahead 1h
assert_contains "$RUN_ERR" "--every must be longer than the publish-ahead (1h)"
for bad in 0d 1w 12 -1d 1.5h d 99999999999d; do
	run_expect 2 vc key schedule sc-sign --every "$bad"
	assert_contains "$RUN_ERR" "is not a duration"
done
run_expect 2 vc key schedule sc-sign --off --every 1d
run_expect 2 vc key schedule sc-sign

say "purposes: wallet keys refused, audit only when vaultd uses another"
run_expect 8 vc key schedule sc-sol --every 30d
assert_contains "$RUN_ERR" "an address change is not a rotation"
run_expect 8 vc key schedule sc-evm --every 30d
assert_contains "$RUN_ERR" "an address change is not a rotation"
run_expect 7 vc key schedule audit-hmac --every 30d
assert_contains "$RUN_ERR" "--vaultd-config"
run_expect 7 vc key schedule audit-hmac --every 30d --vaultd-config "$CFG"
assert_contains "$RUN_ERR" "vaultd's audit.hmac_key"
run_expect 0 vc key schedule sc-audit2 --every 30d --vaultd-config "$CFG"
run_expect 0 vc key schedule sc-sign --every 7d
assert_contains "$RUN_OUT" "key 'sc-sign' rotates every 7d (publish-ahead 1h, retire-after 7d)"
for k in sc-kek sc-rsa; do
	run_expect 0 vc key schedule $k --every 30d --publish-ahead 1d --retire-after 60d
	assert_contains "$RUN_ERR" "vaultctl bundle rewrap"
done
run_expect 0 vc key schedule sc-derive --every 12h --publish-ahead 30m --retire-after 90m
assert_contains "$RUN_OUT" "key 'sc-derive' rotates every 12h (publish-ahead 30m, retire-after 90m)"

say "key list and key show"
run_expect 0 vc key list
assert_contains "$RUN_OUT" "key 'sc-jwt' rotates every 1d (publish-ahead 1h, retire-after 65m): next publish of version 2 at"
assert_not_contains "$RUN_OUT" "key 'sc-jwt2' rotates"
run_expect 0 vc --json key list
jcheck "$RUN_OUT" '[x["schedule"] for x in k["keys"] if x["name"] == "sc-jwt2"] == [None] and [x["next_step"]["step"] for x in k["keys"] if x["name"] == "sc-kek"] == ["publish"]' "key list --json"
run_expect 0 vc key show sc-derive
assert_contains "$RUN_OUT" "next publish of version 2 at"
assert_not_contains "$RUN_OUT" "(due)"

say "the test clock file: 12 h later the derive key's publish is due"
echo $((12 * 3600)) >"$P11VAULT_TEST_CLOCK_FILE"
run_expect 0 vc key show sc-derive
assert_contains "$RUN_OUT" "(due)"
run_expect 0 vc --json key show sc-derive
jcheck "$RUN_OUT" 'k["next_step"]["due"] is True and k["next_step"]["version"] == 2' "due by the clock file"
echo 0 >"$P11VAULT_TEST_CLOCK_FILE"

say "vaultd GET /v1/keys shows them (real clock: nothing due)"
unset P11VAULT_TEST_CLOCK_FILE
vd_start "$CFG"
AUTH=$W/auth
vd_auth_header "$AUTH" "$TOK"
vd_expect 200 GET /v1/keys -H @"$AUTH"
jcheck "$VD_BODY" '[(x["schedule"], x["next_step"]["step"], x["next_step"]["version"], x["next_step"]["due"]) for x in k["keys"] if x["name"] == "sc-jwt"] == [({"every": 86400, "publish_ahead": 3600, "retire_after": 3900}, "publish", 2, False)] and [x["schedule"] for x in k["keys"] if x["name"] == "sc-jwt2"] == [None]' "GET /v1/keys"
vd_expect 200 GET /v1/keys/sc-jwt -H @"$AUTH"
jcheck "$VD_BODY" 'k["next_step"]["at"].endswith("Z") and k["schedule"]["every"] == 86400' "GET /v1/keys/sc-jwt"
vd_stop

say "--off"
run_expect 0 vc key schedule sc-jwt --off
run_expect 0 vc key schedule sc-jwt --off
assert_contains "$RUN_OUT" "already had no rotation schedule"
run_expect 0 vc key list
assert_not_contains "$RUN_OUT" "key 'sc-jwt' rotates"
echo "key_schedule_cli: ok"
