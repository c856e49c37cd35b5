#!/bin/bash
# vaultd.json refused for what cannot be meant (docs/config.md, "What the
# checks refuse"), through `vaultd --check-config` with the test token, a
# reload (POST /v1/admin/reload and SIGHUP: the running configuration
# stays) and --dev:
#
# - a rule on keys whose pattern matches audit.hmac_key ("*", "audit-*",
#   the name itself), refused also without the token;
# - an operation that can never apply to the purpose of an exactly named
#   key (jwt.issue on a sign key, sign on an evm key, derive on a jwt key,
#   wallet.sign on a sign key), refused once the token can be opened;
# - an operation that applies to none of the keys a pattern matches today:
#   a warning, not a refusal;
# - audit.hmac_key naming a key of another purpose;
# - without the token (an unreadable PIN source) --check-config says that
#   only the part without the token was checked;
# - vaultd --dev still starts: its generated rules grant everything but the
#   dev audit key.
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/vaultd.sh"
vd_need

W=$PV_WORK
vd_audit_key audit-hmac
run_expect 0 vc key create app-jwt --alg p256 --purpose jwt
run_expect 0 vc key create app-sign --alg p256 --purpose sign
run_expect 0 vc key create app-evm --alg secp256k1 --purpose evm
run_expect 0 vc key create app-sol --alg ed25519 --purpose solana
run_expect 0 vc key create app-derive --alg hmac-sha256 --purpose derive

BEARER=$(vd_new_token)
vd_auth_header "$W/auth.hdr" "$BEARER"

# config RULES [OUT]: a vaultd.json whose one (admin) client has RULES.
config() {
	vd_base_config "[{\"name\": \"app\", \"role\": \"admin\",
    \"auth\": {\"token_sha256\": \"$(vd_token_hash "$BEARER")\"}, \"rules\": [$1]}]" \
		'"jwt": {"issuer": "https://issuer.test"}' >"${2:-$W/vaultd.json}"
	json_valid "${2:-$W/vaultd.json}"
}

# check WANT RULES: vaultd --check-config on a config with RULES exits WANT.
check() {
	config "$2" "$W/check.json"
	run_expect "$1" "$VAULTD" --check-config --config "$W/check.json"
	cat "$RUN_ERR"
}

GOOD='{"ops": ["jwt.issue", "jwks", "keys.read"], "keys": ["app-jwt"], "max_ttl": 600},
      {"ops": ["sign", "verify", "keys.read"], "keys": ["app-sign"]},
      {"ops": ["wallet.sign", "wallet.read"], "keys": ["app-evm", "app-sol"]},
      {"ops": ["derive"], "keys": ["app-derive"]},
      {"ops": ["secrets.read"], "keys": ["*"]}'

say "a config whose rules fit the keys on the token is valid"
check 0 "$GOOD"
assert_contains "$RUN_ERR" "valid (also checked against the keys on token"
assert_not_contains "$RUN_ERR" "warning"

say "a rule on keys that can match the audit key is refused, with the pattern's path"
check 2 '{"ops": ["sign"], "keys": ["*"]}'
assert_contains "$RUN_ERR" 'clients[0].rules[0].keys[0]: pattern "*" matches the audit key "audit-hmac"'
check 2 "$GOOD, {\"ops\": [\"keys.read\"], \"keys\": [\"app-*\", \"audit-*\"]}"
assert_contains "$RUN_ERR" 'clients[0].rules[5].keys[1]: pattern "audit-*" matches the audit key "audit-hmac"'
check 2 '{"ops": ["derive"], "keys": ["audit-hmac"]}'
assert_contains "$RUN_ERR" 'clients[0].rules[0].keys[0]: key name "audit-hmac" matches the audit key'
# patterns that leave it out are fine (and secret names are not key names)
check 0 '{"ops": ["keys.read"], "keys": ["app-*", "[!a]*"]}, {"ops": ["secrets.read"], "keys": ["audit-hmac"]}'

say "an operation that can never apply to the purpose of a key named exactly is refused"
check 2 '{"ops": ["jwt.issue"], "keys": ["app-sign"]}'
assert_contains "$RUN_ERR" 'clients[0].rules[0].keys[0]: key "app-sign" has purpose sign; "jwt.issue" can never apply to it (it needs a jwt key)'
check 2 "$GOOD, {\"ops\": [\"sign\"], \"keys\": [\"app-evm\"]}"
assert_contains "$RUN_ERR" 'clients[0].rules[5].keys[0]: key "app-evm" has purpose evm; "sign" can never apply to it (it needs a sign key)'
check 2 '{"ops": ["derive"], "keys": ["app-jwt"]}'
assert_contains "$RUN_ERR" '"derive" can never apply to it (it needs a derive key)'
check 2 '{"ops": ["wallet.sign"], "keys": ["app-sol", "app-sign"]}'
assert_contains "$RUN_ERR" 'keys[1]: key "app-sign" has purpose sign; "wallet.sign" can never apply to it (it needs a solana or evm key)'
# a name not on the token (yet) is not judged
check 0 '{"ops": ["jwt.issue"], "keys": ["later-jwt"]}'

say "a pattern whose keys today all have another purpose: a warning"
check 0 '{"ops": ["jwt.issue"], "keys": ["app-s*"]}'
assert_contains "$RUN_ERR" 'warning: clients[0].rules[0]: "jwt.issue" applies to none of the 2 keys its patterns match now (it needs a jwt key)'
assert_contains "$RUN_ERR" "valid (also checked against the keys on token"

say "audit.hmac_key must be a key of purpose audit"
config '{"ops": ["sign"], "keys": ["app-sign"]}' "$W/check.json"
vd_json_set "$W/check.json" 'audit.hmac_key="app-derive"'
run_expect 2 "$VAULTD" --check-config --config "$W/check.json"
assert_contains "$RUN_ERR" 'audit.hmac_key: key "app-derive" has purpose derive, not audit'

say "without the token only the token-free part is checked, and --check-config says so"
config '{"ops": ["jwt.issue"], "keys": ["app-sign"]}' "$W/check.json"
vd_json_set "$W/check.json" "token.pin_source=\"file:$W/no-such-pin\""
run_expect 0 "$VAULTD" --check-config --config "$W/check.json"
assert_contains "$RUN_ERR" "cannot open the token"
assert_contains "$RUN_ERR" "the rules were NOT checked against the keys on the token"
config '{"ops": ["sign"], "keys": ["*"]}' "$W/check.json"
vd_json_set "$W/check.json" "token.pin_source=\"file:$W/no-such-pin\""
run_expect 2 "$VAULTD" --check-config --config "$W/check.json"
assert_contains "$RUN_ERR" 'pattern "*" matches the audit key'

# ---- reload ----

sign_ok() {
	vd_expect 200 POST /v1/keys/app-sign/sign -H @"$W/auth.hdr" -H 'Content-Type: application/json' \
		--data-binary '{"input_b64": "aGVsbG8="}'
}

# hup_logs TEXT: SIGHUP, then TEXT in the daemon's log within 5 s.
hup_logs() {
	local i
	kill -HUP "$VD_PID"
	for ((i = 0; i < 50; i++)); do
		grep -qF -- "$1" "$VD_LOG" && break
		sleep 0.1
	done
	assert_contains "$VD_LOG" "$1"
}

say "reload: a refused config keeps the running one (POST /v1/admin/reload and SIGHUP)"
config "$GOOD"
vd_start "$W/vaultd.json"
vd_expect 200 GET /v1/ready
sign_ok
config "$GOOD, {\"ops\": [\"jwt.issue\"], \"keys\": [\"app-sign\"]}"
vd_expect 400 POST /v1/admin/reload -H @"$W/auth.hdr"
assert_contains "$VD_BODY" 'clients[0].rules[5].keys[0]: key \"app-sign\" has purpose sign; \"jwt.issue\" can never apply'
sign_ok
config '{"ops": ["sign", "verify"], "keys": ["*"]}'
vd_expect 400 POST /v1/admin/reload -H @"$W/auth.hdr"
assert_contains "$VD_BODY" 'matches the audit key'
hup_logs "reload failed, the running configuration stays: clients[0].rules[0].keys[0]: pattern \"*\" matches the audit key"
sign_ok
config "$GOOD, {\"ops\": [\"ecdh\"], \"keys\": [\"app-[jse]*\"]}"
hup_logs 'reload: warning: clients[0].rules[5]: "ecdh" applies to none of the 4 keys its patterns match now (it needs a derive key)'
sign_ok
assert_eq "$(vd_stop)" 0 "vaultd exit status"

say "vaultd --dev starts: its rules grant every key but the audit key"
mkdir -p "$W/dev"
vd_start_dev "$W/dev"
vd_auth_header "$W/dev.hdr" "$VD_DEV_TOKEN"
vd_expect 200 GET /v1/keys -H @"$W/dev.hdr"
assert_contains "$VD_BODY" '"app-sign"'
assert_not_contains "$VD_BODY" '"audit-hmac"'
vd_expect 403 POST /v1/keys/audit-hmac/sign -H @"$W/dev.hdr" -H 'Content-Type: application/json' \
	--data-binary '{"input_b64": "aGVsbG8="}'
assert_eq "$(vd_error_code)" forbidden "error code for the audit key in dev mode"
vd_expect 200 POST /v1/keys/app-sign/sign -H @"$W/dev.hdr" -H 'Content-Type: application/json' \
	--data-binary '{"input_b64": "aGVsbG8="}'
assert_not_contains "$VD_LOG" "warning: clients"
assert_eq "$(vd_stop)" 0 "vaultd --dev exit status"
vd_assert_no_token "$BEARER" # (--dev prints its own token once, by design)
echo "config_check: ok"
