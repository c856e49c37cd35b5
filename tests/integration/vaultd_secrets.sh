#!/bin/bash
# vaultd's boot bundle and secrets: a bundle sealed with vaultctl (env and
# file values, a private key imported with `bundle import-key`) and an
# environment secret from `secrets.environment` are listed without values,
# released only under a secrets.read rule (values compared byte for byte);
# the bundle key signs through POST /v1/keys/NAME/sign and OpenSSL verifies
# the signature with the key's own public half. SIGHUP after re-sealing
# serves the new value; a tampered bundle on reload keeps the running one;
# at start it stops production (non-zero exit, a line naming the bundle)
# while `"required": false` and --dev warn and go on. Planted secret values
# never appear in the vaultd logs, the audit log or an error body. The bundle
# is signed by a token key that bundle.trusted_sealers names.
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/bundle.sh"
. "$top_srcdir/tests/lib/vaultd.sh"
vd_need
need_cmd basenc

W=$PV_WORK
CFG=$W/vaultd.json
B=$W/app.bundle
rnd() { openssl rand -hex 12; }
S_ENV="planted-env-$(rnd)"
S_FILE="planted-file-$(rnd)"
S_NEW="planted-new-$(rnd)"
S_ENVIRON="planted-environ-$(rnd)"
printf 'vaultd_secrets message\n' >"$W/msg"

# call METHOD PATH TOKEN [CURL ARGS...]; a body that is an error is kept
# under $PV_OUT (the leak scan covers it), a value-bearing one is not.
nerr=0
call() {
	local method=$1 path=$2 tok=$3
	shift 3
	vd_call "$method" "$path" -H "Authorization: Bearer $tok" "$@"
	if [ "${VD_STATUS#2}" = "$VD_STATUS" ]; then
		nerr=$((nerr + 1))
		cp "$VD_BODY" "$PV_OUT/error.$(printf '%03d' "$nerr").json"
	fi
}
expect() { # STATUS METHOD PATH TOKEN [CURL ARGS...]
	local want=$1
	shift
	call "$@"
	[ "$VD_STATUS" = "$want" ] || {
		head -c 2000 "$VD_BODY" >&2
		echo >&2
		fail "$1 $2: status $VD_STATUS, want $want"
	}
}
body() { json_get "$VD_BODY" "$@"; }
value_of() { # NAME -> the released value, into $W/value
	expect 200 GET "/v1/secrets/$1" "$TOK_READ"
	assert_eq "$(body name)" "$1" "name of the released secret"
	body value_b64 | base64 -d >"$W/value" || fail "value_b64 of $1 is not base64"
}

say "a bundle: env and file values, an imported P-256 key"
run_expect 0 vc key create kek --alg aes256 --purpose wrap
# the bundle's sealer: vaultd believes only bundles it signed (trusted_sealers)
run_expect 0 vc key create sealer --alg p256 --purpose sign
run_expect 0 vc key show sealer --format pem
cp "$RUN_OUT" "$W/sealer.pem"
printf 'DB_PASSWORD=%s\nAPI_URL=https://api.test\n' "$S_ENV" >"$W/in.env"
run_expect 0 vc bundle seal --recipient kek --in "$W/in.env" --out "$B" --sign-with sealer
printf '%s\n\001binary' "$S_FILE" >"$W/tls.key"
run_expect 0 vc bundle set "$B" tls.key --kind file --in "$W/tls.key" --sign-with sealer
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$W/signer.pem" 2>/dev/null ||
	fail "openssl genpkey"
openssl pkey -in "$W/signer.pem" -pubout -out "$W/signer.pub.pem" 2>/dev/null
run_expect 0 vc bundle import-key "$B" signer --pem "$W/signer.pem" --purpose sign --sign-with sealer
rm -f "$W/signer.pem"
# a bundle key of another purpose: listed with it, never a signer
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$W/bjwt.pem" 2>/dev/null ||
	fail "openssl genpkey"
run_expect 0 vc bundle import-key "$B" bjwt --pem "$W/bjwt.pem" --purpose jwt --sign-with sealer
rm -f "$W/bjwt.pem"
cp "$B" "$W/good.bundle"

TOK_ADMIN=$(vd_new_token)
TOK_READ=$(vd_new_token)
clients="[
  {\"name\": \"admin\", \"role\": \"admin\", \"auth\": {\"token_sha256\": \"$(vd_token_hash "$TOK_ADMIN")\"}},
  {\"name\": \"reader\", \"auth\": {\"token_sha256\": \"$(vd_token_hash "$TOK_READ")\"},
   \"rules\": [{\"ops\": [\"secrets.list\", \"secrets.read\"], \"keys\": [\"DB_PASSWORD\", \"tls.key\", \"APP_ENV_SECRET\", \"signer\", \"NO_SUCH\"]},
               {\"ops\": [\"sign\", \"verify\", \"keys.read\"], \"keys\": [\"signer\", \"bjwt\"]}]}]"
vd_base_config "$clients" "\"bundle\": {\"path\": \"$B\", \"trusted_sealers\": [\"$W/sealer.pem\"]},
  \"secrets\": {\"environment\": [\"APP_ENV_SECRET\"]}" >"$CFG"
export APP_ENV_SECRET=$S_ENVIRON
vd_start "$CFG"
expect 200 GET /v1/ready "$TOK_ADMIN"

say "GET /v1/secrets: names, kinds, origins, sizes, the bundle version; no values"
expect 200 GET /v1/secrets "$TOK_ADMIN"
python3 - "$VD_BODY" "${#S_ENV}" "$(stat -c %s "$W/tls.key")" "${#S_ENVIRON}" <<'EOF' || fail "secrets listing"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["bundle_version"] == 4, d["bundle_version"]
got = [(e["name"], e["kind"], e["origin"], e["size"]) for e in d["secrets"]]
want = [("API_URL", "env", "bundle", len("https://api.test")),
        ("APP_ENV_SECRET", "env", "environment", int(sys.argv[4])),
        ("DB_PASSWORD", "env", "bundle", int(sys.argv[2])),
        ("bjwt", "private-key", "bundle", 0),
        ("signer", "private-key", "bundle", 0),
        ("tls.key", "file", "bundle", int(sys.argv[3]))]
assert got == want, got
for e in d["secrets"]:
    assert set(e) == {"name", "kind", "origin", "size"}, e
EOF
for s in "$S_ENV" "$S_FILE" "$S_ENVIRON"; do
	assert_not_contains "$VD_BODY" "$s" "a value in the listing"
done

say "GET /v1/secrets/NAME: 403 without secrets.read, the value with it"
expect 403 GET /v1/secrets/DB_PASSWORD "$TOK_ADMIN"
assert_eq "$(vd_error_code)" forbidden "error code without secrets.read"
value_of DB_PASSWORD
assert_eq "$(cat "$W/value")" "$S_ENV" "DB_PASSWORD"
assert_eq "$(body kind)" env "kind of DB_PASSWORD"
value_of tls.key
assert_same_file "$W/value" "$W/tls.key" "tls.key, byte for byte"
assert_eq "$(body kind)" file "kind of tls.key"
value_of APP_ENV_SECRET
assert_eq "$(cat "$W/value")" "$S_ENVIRON" "the environment secret"
expect 404 GET /v1/secrets/NO_SUCH "$TOK_READ"
call GET /v1/secrets/signer "$TOK_READ"
[ "${VD_STATUS#4}" != "$VD_STATUS" ] || fail "a private key's value was served (status $VD_STATUS)"

say "the bundle key signs; OpenSSL verifies with its public key"
sign_check() {
	expect 200 POST /v1/keys/signer/sign "$TOK_READ" -H 'Content-Type: application/json' \
		--data-binary "{\"input_b64\": \"$(base64 -w0 "$W/msg")\", \"format\": \"der\"}"
	assert_eq "$(body version)" 1 "version of a bundle key"
	assert_eq "$(body alg)" p256 "alg of the bundle key"
	body signature_b64 | base64 -d >"$W/sig.der"
	ossl_verify_ecdsa sha256 "$W/signer.pub.pem" "$W/msg" "$W/sig.der" ||
		fail "the bundle key's signature does not verify with its public key"
}
sign_check
expect 403 POST /v1/keys/bjwt/sign "$TOK_READ" -H 'Content-Type: application/json' \
	--data-binary "{\"input_b64\": \"$(base64 -w0 "$W/msg")\"}"
assert_eq "$(json_get "$VD_BODY" error code)" wrong_purpose "a jwt bundle key through sign"
expect 200 GET /v1/keys/bjwt "$TOK_READ"
assert_eq "$(body purpose)/$(body origin)" jwt/bundle "purpose and origin of a bundle key"
expect 200 GET /v1/keys/signer "$TOK_READ"
assert_eq "$(body purpose)" sign "purpose of the signing bundle key"
body versions 0 public_key_pem >"$W/served.pem"
assert_eq "$(openssl pkey -pubin -in "$W/served.pem" -outform DER | sha256sum)" \
	"$(openssl pkey -pubin -in "$W/signer.pub.pem" -outform DER | sha256sum)" "served public key"

say "SIGHUP after re-sealing: the new value, the key still signs"
printf '%s' "$S_NEW" | run_expect 0 vc bundle set "$B" DB_PASSWORD --in - --sign-with sealer
cp "$B" "$W/good.bundle"
kill -HUP "$VD_PID"
for ((i = 0; i < 100; i++)); do
	value_of DB_PASSWORD
	[ "$(cat "$W/value")" != "$S_NEW" ] || break
	sleep 0.1
done
assert_eq "$(cat "$W/value")" "$S_NEW" "DB_PASSWORD after SIGHUP"
expect 200 GET /v1/secrets "$TOK_ADMIN"
assert_eq "$(body bundle_version)" 5 "bundle version after SIGHUP"
sign_check

say "a tampered bundle on reload: refused, the running one stays"
bedit "$W/good.bundle" "$B" 'e = entry("DB_PASSWORD"); e["ct"] = ("A" if e["ct"][0] != "A" else "B") + e["ct"][1:]'
kill -HUP "$VD_PID"
for ((i = 0; i < 100; i++)); do
	! grep -q "reload failed" "$VD_LOG" || break
	sleep 0.1
done
assert_contains "$VD_LOG" "reload failed" "the log says the reload failed"
assert_contains "$VD_LOG" "$B" "the log names the bundle"
value_of DB_PASSWORD
assert_eq "$(cat "$W/value")" "$S_NEW" "DB_PASSWORD after a refused reload"
sign_check
assert_eq "$(vd_stop)" 0 "exit status after SIGTERM"

say "production start with the tampered bundle: a clear error, non-zero exit"
vd_launch --config "$CFG"
rc=$(vd_wait_exit 300)
[ "$rc" != timeout ] && [ "$rc" != 0 ] || fail "vaultd with a tampered bundle: exit $rc"
assert_eq "$rc" 6 "exit status (integrity)"
assert_contains "$VD_LOG" "$B" "the error names the bundle"
VD_PID=

say "--dev with the same config: a warning, and no bundle secrets"
vd_start "$CFG" --dev
assert_contains "$VD_LOG" "bundle not loaded" "dev mode warns about the bundle"
expect 200 GET /v1/secrets "$TOK_ADMIN"
assert_eq "$(body bundle_version)" None "no bundle loaded (bundle_version null)"
assert_eq "$(python3 -c 'import json,sys; print([e["name"] for e in json.load(open(sys.argv[1]))["secrets"]])' "$VD_BODY")" \
	"['APP_ENV_SECRET']" "only the environment secret"
expect 404 POST /v1/keys/signer/sign "$TOK_READ" -H 'Content-Type: application/json' \
	--data-binary "{\"input_b64\": \"$(base64 -w0 "$W/msg")\"}"
assert_eq "$(vd_stop)" 0 "exit status of --dev"

say "\"required\": false: the same, in production"
vd_json_set "$CFG" "bundle.required=false"
vd_start "$CFG"
assert_contains "$VD_LOG" "bundle not loaded" "an optional bundle that fails warns"
value_of APP_ENV_SECRET
assert_eq "$(cat "$W/value")" "$S_ENVIRON" "the environment secret without the bundle"
expect 404 GET /v1/secrets/DB_PASSWORD "$TOK_READ"
assert_eq "$(vd_stop)" 0 "exit status"

say "a configured environment variable that is missing stops the start"
vd_json_set "$CFG" "bundle.required=true"
cp "$W/good.bundle" "$B"
unset APP_ENV_SECRET
vd_launch --config "$CFG"
rc=$(vd_wait_exit 300)
[ "$rc" != timeout ] && [ "$rc" != 0 ] || fail "vaultd without APP_ENV_SECRET: exit $rc"
assert_contains "$VD_LOG" "APP_ENV_SECRET" "the error names the variable"
VD_PID=

say "no planted value in the vaultd logs, the audit log or any error body"
# the values and their base64, as value_b64 carries them
for s in "$S_ENV" "$S_FILE" "$S_NEW" "$S_ENVIRON"; do
	printf '%s\n%s\n' "$s" "$(printf '%s' "$s" | base64 -w0)"
done >"$W/patterns"
# the scan can fail: a planted copy is found
printf 'x%sx\n' "$S_NEW" >"$PV_OUT/canary"
grep -rlaF -f "$W/patterns" -- "$PV_OUT" | grep -q canary || fail "the leak scan misses a planted value"
rm -f "$PV_OUT/canary"
if grep -rlaF -f "$W/patterns" -- "$PV_OUT" >"$W/leaks"; then
	fail "a secret value leaked into: $(tr '\n' ' ' <"$W/leaks")"
fi
ls "$PV_OUT"/vaultd*.log "$PV_OUT"/audit.log >/dev/null || fail "logs missing"
[ "$nerr" -gt 0 ] || fail "no error body was checked"
for f in "$PV_OUT"/*; do
	assert_no_pin_in "$f"
done
say "ok"
