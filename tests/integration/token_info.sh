#!/bin/bash
# token info, doctor, global option handling and every PIN source form.
set -eu
. "$top_srcdir/tests/lib/common.sh"

say "token info"
run_expect 0 vc token info
assert_contains "$RUN_OUT" "$PV_TOKEN_LABEL" "token info does not show the token label"
assert_contains "$RUN_OUT" "SoftHSM" "token info does not show the manufacturer/model"
assert_contains "$RUN_OUT" "$P11VAULT_MODULE" "token info does not show the module"

say "token info --json (before and after the command)"
run_expect 0 vc token info --json
json_valid "$RUN_OUT"
assert_contains "$RUN_OUT" "\"$PV_TOKEN_LABEL\"" "token info --json lacks the label"
cp "$RUN_OUT" "$PV_WORK/info1.json"
run_expect 0 vc --json token info
json_valid "$RUN_OUT"
assert_contains "$RUN_OUT" "\"$PV_TOKEN_LABEL\"" "--json before the command lacks the label"

say "--token and --module on the command line instead of the environment"
run_expect 0 env -u P11VAULT_TOKEN -u P11VAULT_MODULE "$VAULTCTL" \
	--token "pkcs11:token=$PV_TOKEN_LABEL" --module "$P11VAULT_MODULE" token info
assert_contains "$RUN_OUT" "$PV_TOKEN_LABEL"
say "module-path carried in the token URI"
run_expect 0 env -u P11VAULT_MODULE "$VAULTCTL" \
	--token "pkcs11:token=$PV_TOKEN_LABEL?module-path=$P11VAULT_MODULE" token info
assert_contains "$RUN_OUT" "$PV_TOKEN_LABEL"

say "doctor"
run_expect 0 vc doctor
# It names mechanisms; SoftHSM 2.6 has ECDSA, EdDSA, RSA-PSS and HMAC.
for m in CKM_ECDSA CKM_EDDSA CKM_RSA_PKCS_PSS CKM_SHA256_HMAC; do
	assert_contains "$RUN_OUT" "$m" "doctor does not mention $m"
done
# "each p11vault feature, the mechanisms it needs": no feature without them.
! grep -Eq '^[[:space:]]*needs[[:space:]]*$' "$RUN_OUT" || {
	grep -B1 -E '^[[:space:]]*needs[[:space:]]*$' "$RUN_OUT" >&2
	fail "doctor lists a feature that needs no mechanisms"
}
# with a PIN source it also looks at the keys' purposes (none here yet)
assert_contains "$RUN_OUT" "keys: 0, every one has a purpose"
# without one it says it did not look, and is still a success
run_expect 0 env -u P11VAULT_PIN_SOURCE -u CREDENTIALS_DIRECTORY "$VAULTCTL" doctor </dev/null
assert_contains "$RUN_OUT" "keys: not checked"
run_expect 0 env -u P11VAULT_PIN_SOURCE -u CREDENTIALS_DIRECTORY "$VAULTCTL" --json doctor </dev/null
assert_eq "$(json_get "$RUN_OUT" keys_checked)" False "doctor --json keys_checked without a PIN source"
run_expect 3 env P11VAULT_TOKEN=pkcs11:token=no-such-token "$VAULTCTL" doctor
assert_one_line_error "$RUN_ERR"

say "help and usage errors"
run_expect 0 vc --help
[ -s "$RUN_OUT" ] || fail "vaultctl --help printed nothing on stdout"
run_expect 0 vc key create --help
run_expect 2 vc no-such-command
assert_one_line_error "$RUN_ERR"
run_expect 2 vc token info --no-such-option
assert_one_line_error "$RUN_ERR"

say "PIN sources: file (environment), env:, fd:, cred:, URI pin-source"
# key create needs a login, so each success proves the PIN source was read.
run_expect 0 vc key create ps-file --alg p256 --purpose sign
# Exported, not `env NAME=PIN cmd`: that would put the PIN on env's argv
# (and into this log).
PV_TEST_PIN=$(cat "$PV_USER_PIN_FILE")
export PV_TEST_PIN
run_expect 0 env -u P11VAULT_PIN_SOURCE "$VAULTCTL" --pin-source env:PV_TEST_PIN key create ps-env --alg p256 --purpose sign
unset PV_TEST_PIN
run_expect 0 env -u P11VAULT_PIN_SOURCE "$VAULTCTL" --pin-source fd:7 key create ps-fd --alg p256 --purpose sign \
	7<"$PV_USER_PIN_FILE"
mkdir -m 700 "$PV_WORK/creds"
cp "$PV_USER_PIN_FILE" "$PV_WORK/creds/p11vault-pin"
cp "$PV_USER_PIN_FILE" "$PV_WORK/creds/other-pin"
run_expect 0 env -u P11VAULT_PIN_SOURCE CREDENTIALS_DIRECTORY="$PV_WORK/creds" "$VAULTCTL" \
	--pin-source cred:other-pin key create ps-cred --alg p256 --purpose sign
# Without any PIN source: $CREDENTIALS_DIRECTORY/p11vault-pin is the default.
run_expect 0 env -u P11VAULT_PIN_SOURCE CREDENTIALS_DIRECTORY="$PV_WORK/creds" "$VAULTCTL" \
	key create ps-cred-default --alg p256 --purpose sign </dev/null
run_expect 0 env -u P11VAULT_PIN_SOURCE "$VAULTCTL" \
	--token "$P11VAULT_TOKEN?pin-source=file:$PV_USER_PIN_FILE" key create ps-uri --alg p256 --purpose sign
for k in ps-file ps-env ps-fd ps-cred ps-cred-default ps-uri; do
	assert_versions "$k" "1:active"
done

say "no PIN source, stdin not a terminal: exit 4"
run_expect 4 env -u P11VAULT_PIN_SOURCE -u CREDENTIALS_DIRECTORY "$VAULTCTL" \
	key create ps-none --alg p256 --purpose sign </dev/null
assert_one_line_error "$RUN_ERR"
assert_versions ps-none ""

for f in "$PV_OUT"/*.err "$PV_OUT"/*.out; do
	assert_no_pin_in "$f"
done
echo "token_info: ok"
