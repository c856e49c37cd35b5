#!/bin/bash
# Taking keys out of service (docs/cli.md "key disable", "key delete"):
# a disabled key stops signing at once in vaultctl and, within its metadata
# refresh, in a running vaultd (409 state), leaves the JWKS, and comes back
# with `key enable`; `key delete --after` keeps it disabled until the time
# (moved with P11VAULT_TEST_CLOCK_OFFSET, never with sleep) has passed,
# then `vaultctl key purge` or vaultd's key watch destroys every version's
# objects and the metadata (pkcs11-tool lists none); cancel-delete leaves
# it disabled; `--now` needs --confirm NAME; the audit key is refused; the
# OpenSSL provider refuses a disabled key; vaultd's audit log has each step
# and `vaultctl audit verify` passes.
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/vaultd.sh"
vd_need
need_cmd pkcs11-tool

W=$PV_WORK
CFG=$W/vaultd.json
AUDIT=$PV_OUT/audit.log
DAY=86400

# objects on the token whose label is NAME or starts with NAME.
objects_of() {
	p11_objects "$W/objs" --login
	grep -E "^[a-z-]+\|$1(\.v[0-9]+)?\|" "$W/objs" || true
}
# poll CMD... until it succeeds, at most 30 s (the refresh is 5 s)
poll() {
	local i
	for i in $(seq 300); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# has OP:KEY:OUTCOME...: vaultd's audit log has these key service records
has() { python3 - "$AUDIT" "$@" <<'EOF'
import json, sys
want = set(tuple(a.split(":")) for a in sys.argv[2:])
seen = set()
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("client") == "vaultd" and r.get("op", "").startswith("key."):
        seen.add((r["op"], r["key"], r["outcome"]))
sys.exit(0 if want <= seen else 1)
EOF
}

say "keys"
run_expect 0 vc key create dd-sign --alg p256 --purpose sign
run_expect 0 vc key create dd-jwt --alg p256 --purpose jwt
run_expect 0 vc key rotate dd-jwt
for k in dd-del dd-watch dd-can dd-now; do
	run_expect 0 vc key create $k --alg ed25519 --purpose sign
done
printf 'take me out of service' >"$W/msg"
run_expect 0 vc sign dd-sign --in "$W/msg" --out "$W/sig1"

say "disable: vaultctl refuses at once, with one line saying how to undo it"
run_expect 0 vc key disable dd-sign
assert_contains "$RUN_OUT" "key 'dd-sign' is disabled"
run_expect 0 vc key disable dd-sign
assert_contains "$RUN_OUT" "already disabled"
run_expect 7 vc sign dd-sign --in "$W/msg" --out "$W/sig2"
assert_one_line_error "$RUN_ERR"
assert_contains "$RUN_ERR" "key 'dd-sign' is disabled (vaultctl key enable dd-sign)"
[ ! -s "$W/sig2" ] || fail "a disabled key signed"
run_expect 7 vc verify dd-sign --in "$W/msg" --sig "$W/sig1"
assert_contains "$RUN_ERR" "is disabled"
# its public half stays readable
run_expect 0 vc key show dd-sign --format pem
assert_contains "$RUN_OUT" "BEGIN PUBLIC KEY"
run_expect 0 vc key list
assert_contains "$RUN_OUT" "key 'dd-sign' is disabled since "
run_expect 0 vc --json key list
python3 - "$RUN_OUT" <<'EOF' || fail "key list --json: disabled / delete_at"
import json, sys
ks = {k["name"]: k for k in json.load(open(sys.argv[1]))["keys"]}
assert ks["dd-sign"]["disabled"].endswith("Z") and ks["dd-sign"]["delete_at"] is None, ks["dd-sign"]
assert ks["dd-jwt"]["disabled"] is None and ks["dd-jwt"]["delete_at"] is None, ks["dd-jwt"]
EOF
run_expect 0 vc key enable dd-sign
assert_contains "$RUN_OUT" "key 'dd-sign' is enabled"
run_expect 0 vc sign dd-sign --in "$W/msg" --out "$W/sig2"
run_expect 0 vc verify dd-sign --in "$W/msg" --sig "$W/sig1"

say "a disabled KEK opens no bundle; another recipient still does"
run_expect 0 vc key create dd-kek --alg aes256 --purpose wrap
run_expect 0 vc key create dd-bg --alg rsa2048 --purpose decrypt
printf 'API_KEY=s3cret-value\n' >"$W/in.env"
run_expect 0 vc bundle seal --recipient dd-kek --in "$W/in.env" --out "$W/one.b"
run_expect 0 vc bundle seal --recipient dd-kek --recipient dd-bg --in "$W/in.env" --out "$W/two.b"
run_expect 0 vc key disable dd-kek
run_expect 7 vc unwrap "$W/one.b"
assert_one_line_error "$RUN_ERR"
assert_contains "$RUN_ERR" "key 'dd-kek' is disabled (vaultctl key enable dd-kek)"
assert_not_contains "$RUN_OUT" "s3cret"
run_expect 7 vc bundle seal --recipient dd-kek --in "$W/in.env" --out "$W/three.b"
assert_contains "$RUN_ERR" "is disabled"
run_expect 0 vc unwrap "$W/two.b"
assert_contains "$RUN_OUT" "s3cret-value"
run_expect 0 vc key enable dd-kek
run_expect 0 vc unwrap "$W/one.b"
assert_contains "$RUN_OUT" "s3cret-value"

say "the OpenSSL provider refuses a disabled key"
if [ -f "$top_builddir/.libs/p11vault.so" ]; then
	. "$top_srcdir/tests/lib/provider.sh"
	openssl dgst -sha256 -binary "$W/msg" >"$W/msg.sha256"
	run_expect 0 vc key disable dd-sign
	run_expect 1 prov_cli pkeyutl -sign -inkey p11vault:dd-sign -in "$W/msg.sha256" -pkeyopt digest:sha256 \
		-out "$W/psig"
	assert_contains "$RUN_ERR" "disabled"
	run_expect 0 vc key enable dd-sign
	run_expect 0 prov_cli pkeyutl -sign -inkey p11vault:dd-sign -in "$W/msg.sha256" -pkeyopt digest:sha256 \
		-out "$W/psig"
else
	say "(the provider is not built: skipped)"
fi

say "vaultd: refuses within its refresh, the JWKS loses and regains the key"
vd_audit_key
TOK=$(vd_new_token)
vd_base_config "[
  {\"name\": \"svc\", \"auth\": {\"token_sha256\": \"$(vd_token_hash "$TOK")\"},
   \"rules\": [{\"ops\": [\"keys.read\", \"sign\", \"jwt.issue\"], \"keys\": [\"dd-*\"]}]},
  {\"name\": \"local\", \"auth\": {\"uid\": $(id -u)},
   \"rules\": [{\"ops\": [\"keys.read\", \"sign\"], \"keys\": [\"dd-sign\"]}]}
]" '"jwt": {"issuer": "https://dd.test"}' >"$CFG"
# vaultd's clock for deletions two days ahead: dd-watch (--after 1) is due
# for it, dd-del (--after 7) is not
P11VAULT_TEST_CLOCK_OFFSET=$((2 * DAY)) vd_start "$CFG"
AUTH=$W/auth.hdr
vd_auth_header "$AUTH" "$TOK"
SIGN_BODY="{\"input_b64\":\"$(base64 -w0 "$W/msg")\"}"
sign_status() { vd_call POST /v1/keys/dd-sign/sign -H @"$AUTH" -H 'Content-Type: application/json' -d "$SIGN_BODY"; }
sign_is() { sign_status && [ "$VD_STATUS" = "$1" ]; }
jwks_count() { vd_call GET /.well-known/jwks.json && python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["keys"]))' "$VD_BODY"; }
jwks_is() { [ "$(jwks_count)" = "$1" ]; }
sign_is 200 || fail "vaultd does not sign with dd-sign: $VD_STATUS"
# dd-jwt: two versions (active, verify-only), P-256: two JWKs
jwks_is 2 || fail "JWKS before: $(jwks_count) keys"
vd_expect 200 POST /v1/jwt/dd-jwt/issue -H @"$AUTH" -H 'Content-Type: application/json' -d '{"claims":{"sub":"a"}}'
JWT=$(json_get "$VD_BODY" token)
jwt_valid() {
	vd_call POST /v1/jwt/verify -H @"$AUTH" -H 'Content-Type: application/json' -d "{\"token\":\"$JWT\"}" &&
		[ "$VD_STATUS" = 200 ] && [ "$(json_get "$VD_BODY" valid)" = "$1" ]
}
jwt_valid True || fail "the JWT does not verify: $(cat "$VD_BODY")"
run_expect 0 vc key disable dd-sign
run_expect 0 vc key disable dd-jwt
poll sign_is 409 || fail "vaultd still signs with a disabled key: $VD_STATUS"
# the key watch records what it sees at its sweep: wait before changing again
poll has key.disable:dd-sign:ok key.disable:dd-jwt:ok || fail "no key.disable records"
assert_eq "$(vd_error_code)" state "error code"
assert_contains "$VD_BODY" "key 'dd-sign' is disabled (vaultctl key enable dd-sign)"
poll jwks_is 0 || fail "the JWKS still has the disabled key: $(jwks_count)"
poll jwt_valid False || fail "vaultd still accepts a JWT of the disabled key: $(cat "$VD_BODY")"
say "jwt verify of a disabled key's token: $(cat "$VD_BODY")"
# the provider's vaultd backend gets the refusal too
vdsign() {
	env -u P11VAULT_MODULE -u P11VAULT_TOKEN -u P11VAULT_PIN_SOURCE -u SOFTHSM2_CONF \
		P11VAULT_BACKEND=vaultd P11VAULT_VAULTD_SOCKET="$VD_SOCK" OPENSSL_CONF="$PROV_BASE_CONF" \
		openssl pkeyutl -provider-path "$PROV_DIR" -provider p11vault -provider default -sign \
		-inkey p11vault:dd-sign -in "$W/msg.sha256" -pkeyopt digest:sha256 -out "$W/vsig"
}
if [ -n "${PROV_DIR:-}" ]; then
	run_expect 1 vdsign
	assert_contains "$RUN_ERR" "disabled"
fi
vd_expect 409 POST /v1/jwt/dd-jwt/issue -H @"$AUTH" -H 'Content-Type: application/json' -d '{"claims":{"sub":"a"}}'
# public reads still work, and say it is disabled
vd_expect 200 GET /v1/keys/dd-sign -H @"$AUTH"
python3 - "$VD_BODY" <<'EOF' || fail "GET /v1/keys/dd-sign: disabled / delete_at / public key"
import json, sys
k = json.load(open(sys.argv[1]))
assert k["disabled"].endswith("Z") and k["delete_at"] is None, k
assert k["versions"][0]["public_key_pem"].startswith("-----BEGIN PUBLIC KEY-----"), k
EOF
run_expect 0 vc key enable dd-sign
run_expect 0 vc key enable dd-jwt
poll sign_is 200 || fail "vaultd does not sign again after enable: $VD_STATUS"
vd_expect 200 GET /v1/keys/dd-sign -H @"$AUTH"
assert_eq "$(json_get "$VD_BODY" disabled)" None "disabled after enable"
poll jwks_is 2 || fail "the JWKS did not regain the key: $(jwks_count)"
poll jwt_valid True || fail "the JWT does not verify after enable: $(cat "$VD_BODY")"
if [ -n "${PROV_DIR:-}" ]; then
	run_expect 0 vdsign
fi

say "delete --after: disabled meanwhile; destroyed once the time has passed"
run_expect 2 vc key delete dd-del
assert_contains "$RUN_ERR" "--yes"
run_expect 0 vc key delete dd-del --yes --after 7
assert_contains "$RUN_OUT" "scheduled for deletion at"
run_expect 7 vc sign dd-del --in "$W/msg"
assert_contains "$RUN_ERR" "key 'dd-del' is disabled and scheduled for deletion at"
run_expect 7 vc key enable dd-del
assert_contains "$RUN_ERR" "cancel-delete"
run_expect 0 vc key list
assert_contains "$RUN_OUT" "key 'dd-del' is disabled since "
assert_contains "$RUN_OUT" "and scheduled for deletion at"
run_expect 0 vc --json key list
python3 - "$RUN_OUT" <<'EOF' || fail "key list --json: delete_at"
import json, sys, datetime
k = {k["name"]: k for k in json.load(open(sys.argv[1]))["keys"]}["dd-del"]
due = datetime.datetime.strptime(k["delete_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
left = (due - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
assert 7 * 86400 - 120 < left <= 7 * 86400, left
EOF
[ "$(objects_of dd-del | wc -l)" = 3 ] || fail "dd-del objects before: $(objects_of dd-del)"
run_expect 0 vc key purge
assert_contains "$RUN_OUT" "no key is due for deletion"
P11VAULT_TEST_CLOCK_OFFSET=$((6 * DAY)) run_expect 0 vc key purge dd-del
assert_contains "$RUN_OUT" "no key is due for deletion"
[ "$(objects_of dd-del | wc -l)" = 3 ] || fail "dd-del destroyed before its time"
P11VAULT_TEST_CLOCK_OFFSET=$((7 * DAY + 60)) run_expect 0 vc key purge
assert_contains "$RUN_OUT" "key 'dd-del' destroyed"
[ -z "$(objects_of dd-del)" ] || fail "objects of dd-del left: $(objects_of dd-del)"
run_expect 5 vc key show dd-del
vd_expect 404 GET /v1/keys/dd-del -H @"$AUTH"
assert_eq "$(vd_error_code)" key_not_found "error code of a deleted key"

say "vaultd's key watch destroys a key that is due for it"
run_expect 0 vc key delete dd-watch --yes --after 1
[ "$(objects_of dd-watch | wc -l)" = 3 ] || fail "dd-watch objects: $(objects_of dd-watch)"
gone() { [ -z "$(objects_of dd-watch)" ]; }
poll gone || fail "vaultd did not destroy dd-watch"

say "three vaultctl purges racing: the key is destroyed once; vaultd sees it go"
run_expect 0 vc key create dd-race --alg p256 --purpose sign
# due in 3 days: not yet for vaultd (2 days ahead), due for the purges (4)
run_expect 0 vc key delete dd-race --yes --after 3
poll has key.delete-scheduled:dd-race:ok || fail "no key.delete-scheduled record for dd-race"
pids=()
for i in 1 2 3; do
	P11VAULT_TEST_CLOCK_OFFSET=$((4 * DAY)) "$VAULTCTL" key purge dd-race >"$W/race.$i.out" 2>"$W/race.$i.err" &
	pids+=($!)
done
for i in 1 2 3; do
	wait "${pids[$((i - 1))]}" || fail "purge $i failed: $(cat "$W/race.$i.err")"
done
assert_eq "$(cat "$W"/race.*.out | grep -c "key 'dd-race' destroyed")" 1 "purges that destroyed dd-race"
assert_eq "$(cat "$W"/race.*.out | grep -c "no key is due for deletion")" 2 "purges that found it gone"
[ -z "$(objects_of dd-race)" ] || fail "objects of dd-race left: $(objects_of dd-race)"
poll has key.gone:dd-race:ok || fail "no key.gone record for dd-race"

say "cancel-delete: the key stays disabled until enabled"
run_expect 0 vc key delete dd-can --yes
poll has key.delete-scheduled:dd-can:ok || fail "no key.delete-scheduled record"
run_expect 0 vc key cancel-delete dd-can
assert_contains "$RUN_OUT" "stays disabled"
run_expect 7 vc key cancel-delete dd-can
run_expect 7 vc sign dd-can --in "$W/msg"
assert_contains "$RUN_ERR" "key 'dd-can' is disabled (vaultctl key enable dd-can)"
P11VAULT_TEST_CLOCK_OFFSET=$((30 * DAY)) run_expect 0 vc key purge
[ "$(objects_of dd-can | wc -l)" = 3 ] || fail "a cancelled deletion destroyed dd-can"
poll has key.delete-cancelled:dd-can:ok || fail "no key.delete-cancelled record"
run_expect 0 vc key enable dd-can
run_expect 0 vc sign dd-can --in "$W/msg" --out "$W/sig3"

say "--now needs a second confirmation"
run_expect 2 vc key delete dd-now --yes --now
assert_contains "$RUN_ERR" "--confirm dd-now"
run_expect 2 vc key delete dd-now --yes --now --confirm dd-other
run_expect 0 vc key delete dd-now --yes --now --confirm dd-now
assert_contains "$RUN_OUT" "key 'dd-now' destroyed"
[ -z "$(objects_of dd-now)" ] || fail "objects of dd-now left: $(objects_of dd-now)"

say "the audit key is refused while vaultd's config names it"
run_expect 7 vc key delete audit-hmac --yes
assert_contains "$RUN_ERR" "--vaultd-config"
run_expect 7 vc key delete audit-hmac --yes --vaultd-config "$CFG"
assert_contains "$RUN_ERR" "is vaultd's audit.hmac_key"
run_expect 7 vc key disable audit-hmac --vaultd-config "$CFG"
run_expect 0 vc key show audit-hmac

say "the audit log has each step"
poll has key.disable:dd-sign:ok key.enable:dd-sign:ok key.disable:dd-jwt:ok key.enable:dd-jwt:ok \
	key.delete-scheduled:dd-watch:ok key.destroy:dd-watch:ok key.delete-scheduled:dd-can:ok \
	key.delete-cancelled:dd-can:ok key.enable:dd-can:ok ||
	fail "audit records missing: $(grep -o '"op":"key[^"]*","key":"[^"]*"' "$AUDIT" | sort | uniq | tr '\n' ' ')"
# dd-del and dd-now were destroyed by vaultctl: vaultd saw them go
poll has key.gone:dd-del:ok key.gone:dd-now:ok || fail "no key.gone records"
assert_eq "$(vd_stop)" 0 "vaultd exit"
run_expect 0 vc audit verify "$AUDIT"
say "ok"
