#!/bin/bash
# The OpenSSL provider's vaultd backend (issue 16, keyless): openssl signs
# with token keys through vaultd's Unix socket, holding no PIN and loading
# no PKCS#11 module (its environment has neither: P11VAULT_MODULE,
# P11VAULT_TOKEN, P11VAULT_PIN_SOURCE and SOFTHSM2_CONF are unset for it).
# vaultd is started here with a client by uid allowed keys.read and sign on
# a P-256 and an Ed25519 key of purpose sign.
#  - `openssl pkeyutl -sign` (ECDSA over a digest, Ed25519 over the
#    message), `openssl req -new -x509` with both keys, RSA PKCS#1 v1.5 and
#    PSS (a PSS salt vaultd does not sign is refused), and with a bearer
#    token (vaultd-bearer-file) instead of the uid: every signature verified
#    with plain openssl, and one audit line per signature (counted);
#  - a client without the sign grant: the openssl command fails, nothing is
#    signed (the audit log has the denial and no new signature);
#  - a pinned version that is no longer active fails closed: verify-only
#    after a rotation (vaultd's 409: only the active version signs; the
#    provider never signs with the new version instead), retired already
#    at load;
#  - a URI-in-PEM file from `vaultctl key show --format provider-pem` works
#    as a key file: `openssl pkey -in key.pem -pubout` gives the token key's
#    public key and `openssl dgst -sign key.pem` signs through vaultd;
#  - pkcs11:object=NAME.vN names version N of key NAME in this backend; a
#    pkcs11: URI without object= is refused with a clear message.
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/provider.sh"
. "$top_srcdir/tests/lib/vaultd.sh"
prov_need
vd_need
trap 'prov_cleanup; vd_cleanup' EXIT

W=$PV_WORK
AUDIT=$PV_OUT/audit.log

say "keys of purpose sign on the token: vs-p256, vs-ed, vs-rsa; vaultd with a client by uid"
mkkey vs-p256 p256 sign
mkkey vs-ed ed25519 sign
mkkey vs-rsa rsa2048 sign
pub_pem vs-p256 "$W/p256.v1.pub"
pub_pem vs-ed "$W/ed.pub"
pub_pem vs-rsa "$W/rsa.pub"
BEARER=$(vd_new_token)
NOSIGN=$(vd_new_token)
(
	umask 077
	printf '%s\n' "$BEARER" >"$W/bearer"
	printf '%s\n' "$NOSIGN" >"$W/nosign"
)
clients='[{"name": "app", "auth": {"uid": '$(id -u)'},
  "rules": [{"ops": ["keys.read", "sign"], "keys": ["vs-p256", "vs-ed", "vs-rsa"]}]},
 {"name": "app-bearer", "auth": {"token_sha256": "'$(vd_token_hash "$BEARER")'"},
  "rules": [{"ops": ["keys.read", "sign"], "keys": ["vs-p256"]}]},
 {"name": "nosign", "auth": {"token_sha256": "'$(vd_token_hash "$NOSIGN")'"},
  "rules": [{"ops": ["keys.read"], "keys": ["vs-*"]}]}]'
vd_base_config "$clients" >"$W/vaultd.json"
vd_start "$W/vaultd.json"

# vdo [ENV=VALUE...] -- SUBCOMMAND ARGS: openssl through the provider in
# the vaultd backend; no PIN, module or token in its environment.
vdo() {
	local envs=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		envs+=("$1")
		shift
	done
	[ "${1:-}" = -- ] && shift
	local cmd=$1
	shift
	env -u P11VAULT_MODULE -u P11VAULT_TOKEN -u P11VAULT_PIN_SOURCE -u SOFTHSM2_CONF \
		-u P11VAULT_VAULTD_BEARER_FILE P11VAULT_BACKEND=vaultd P11VAULT_VAULTD_SOCKET="$VD_SOCK" \
		OPENSSL_CONF="$PROV_BASE_CONF" "${envs[@]}" \
		openssl "$cmd" -provider-path "$PROV_DIR" -provider p11vault -provider default "$@"
}

# signs CLIENT KEY OUTCOME: audited sign requests (lines, with their counts)
signs() {
	python3 - "$AUDIT" "$1" "$2" "$3" <<'EOF'
import json, sys
n = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("op") == "sign" and r.get("client") == sys.argv[2] and r.get("key") == sys.argv[3] \
            and r.get("outcome") == sys.argv[4]:
        n += r.get("count", 1)
print(n)
EOF
}

# expect_signs CLIENT KEY N: N successful signatures audited so far
expect_signs() {
	sleep 0.2 # the line is written before the answer; this is for the file system only
	assert_eq "$(signs "$1" "$2" ok)" "$3" "audited signatures of $1 with $2"
}

# vd_sees NAME VERSION STATE: wait until vaultd reports it (vaultd re-reads
# key metadata another process changed within its 5 s cache time)
vd_sees() {
	local i
	for ((i = 0; i < 100; i++)); do
		vd_curl "/v1/keys/$1" 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
sys.exit(0 if any(v["version"] == int(sys.argv[1]) and v["state"] == sys.argv[2] for v in d["versions"]) else 1)
' "$2" "$3" && return 0
		sleep 0.1
	done
	fail "vaultd does not report $1 version $2 as $3"
}

printf 'the message signed through vaultd\n' >"$W/msg"
ossl dgst -sha256 -binary "$W/msg" >"$W/msg.sha256"

say "openssl pkeyutl -sign, ECDSA P-256 over a SHA-256 digest"
run_expect 0 vdo -- pkeyutl -sign -inkey p11vault:vs-p256 -pkeyopt digest:sha256 -in "$W/msg.sha256" \
	-out "$W/p256.sig"
run_expect 0 ossl pkeyutl -verify -pubin -inkey "$W/p256.v1.pub" -pkeyopt digest:sha256 \
	-in "$W/msg.sha256" -sigfile "$W/p256.sig"
expect_signs app vs-p256 1

say "openssl pkeyutl -sign -rawin, Ed25519 over the message"
run_expect 0 vdo -- pkeyutl -sign -rawin -inkey p11vault:vs-ed -in "$W/msg" -out "$W/ed.sig"
assert_size "$W/ed.sig" 64
run_expect 0 ossl pkeyutl -verify -rawin -pubin -inkey "$W/ed.pub" -in "$W/msg" -sigfile "$W/ed.sig"
expect_signs app vs-ed 1

say "openssl req -new -x509 with both keys (one signature each)"
for k in p256 ed; do
	run_expect 0 vdo -- req -new -x509 -key "p11vault:vs-$k" -subj "/CN=vs-$k" -days 2 -out "$W/$k.crt"
	run_expect 0 ossl verify -CAfile "$W/$k.crt" "$W/$k.crt"
done
prov_same_pub "$W/p256.crt" "$W/p256.v1.pub"
prov_same_pub "$W/ed.crt" "$W/ed.pub"
expect_signs app vs-p256 2
expect_signs app vs-ed 2
echo "ok: 4 signatures, 4 audit lines"

say "RSA-2048: PKCS#1 v1.5 and PSS (salt = digest length, what vaultd signs); another salt is refused"
run_expect 0 vdo -- dgst -sha256 -sign p11vault:vs-rsa -out "$W/rsa.sig" "$W/msg"
run_expect 0 ossl dgst -sha256 -verify "$W/rsa.pub" -signature "$W/rsa.sig" "$W/msg"
run_expect 0 vdo -- dgst -sha384 -sign p11vault:vs-rsa -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest \
	-out "$W/pss.sig" "$W/msg"
run_expect 0 ossl dgst -sha384 -verify "$W/rsa.pub" -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest \
	-signature "$W/pss.sig" "$W/msg"
run_expect 1 vdo -- dgst -sha256 -sign p11vault:vs-rsa -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:20 \
	-out "$W/pss20.sig" "$W/msg"
assert_contains "$RUN_ERR" "salt"
expect_signs app vs-rsa 2

say "a bearer token from vaultd-bearer-file authenticates instead of the uid"
run_expect 0 vdo P11VAULT_VAULTD_BEARER_FILE="$W/bearer" -- dgst -sha256 -sign p11vault:vs-p256 \
	-out "$W/bearer.sig" "$W/msg"
run_expect 0 ossl dgst -sha256 -verify "$W/p256.v1.pub" -signature "$W/bearer.sig" "$W/msg"
expect_signs app-bearer vs-p256 1
expect_signs app vs-p256 2
assert_not_contains "$VD_LOG" "$BEARER"
assert_not_contains "$AUDIT" "$BEARER"

say "a client without the sign grant: openssl fails, nothing is signed"
rm -f "$W/nosign.sig"
run_expect 1 vdo P11VAULT_VAULTD_BEARER_FILE="$W/nosign" -- pkeyutl -sign -inkey p11vault:vs-p256 \
	-pkeyopt digest:sha256 -in "$W/msg.sha256" -out "$W/nosign.sig"
assert_contains "$RUN_ERR" "403"
[ ! -s "$W/nosign.sig" ] || fail "a signature was written for a client without the grant"
sleep 0.2
assert_eq "$(signs nosign vs-p256 ok)" 0 "signatures of the client without the grant"
[ "$(signs nosign vs-p256 denied)" -ge 1 ] || fail "the refused signature is not in the audit log"
expect_signs app vs-p256 2
assert_not_contains "$RUN_ERR" "$NOSIGN"

say "an unknown key: not found"
run_expect 1 vdo -- pkeyutl -sign -inkey p11vault:vs-none -pkeyopt digest:sha256 -in "$W/msg.sha256" \
	-out "$W/none.sig"

say "pkcs11: URIs in the vaultd backend: object=NAME.vN is version N of NAME; no object= is refused"
run_expect 0 vdo -- dgst -sha256 -sign "pkcs11:object=vs-p256.v1;type=private" -out "$W/uri.sig" "$W/msg"
run_expect 0 ossl dgst -sha256 -verify "$W/p256.v1.pub" -signature "$W/uri.sig" "$W/msg"
expect_signs app vs-p256 3
run_expect 1 vdo -- dgst -sha256 -sign "pkcs11:id=%01%02;type=private" -out "$W/id.sig" "$W/msg"
assert_contains "$RUN_ERR" "object="

say "store searches in the vaultd backend: an alias names the key; a subject search is refused"
run_expect 0 vdo -- storeutl -alias vs-p256 p11vault:
assert_contains "$RUN_OUT" "Total found: 1"
run_expect 0 vdo -- storeutl -alias vs-ed p11vault:vs-p256
assert_contains "$RUN_OUT" "Total found: 0"
run_expect 0 vdo -- storeutl -certs -subject "/CN=anything" p11vault:
assert_contains "$RUN_ERR" "direct backend only"
assert_contains "$RUN_OUT" "Total found: 0"

say "URI-in-PEM: vaultctl key show --format provider-pem, used as a key file"
run_expect 0 vc key show vs-p256 --format provider-pem
cp "$RUN_OUT" "$W/p256.key.pem"
assert_contains "$W/p256.key.pem" "-----BEGIN P11VAULT KEY URI-----"
assert_eq "$(sed -n 2p "$W/p256.key.pem" | base64 -d)" "p11vault:vs-p256;version=1" "the URI in the PEM"
run_expect 0 vdo -- pkey -in "$W/p256.key.pem" -pubout -out "$W/pem.pub"
cmp -s <(ossl pkey -pubin -in "$W/pem.pub" -outform DER) <(ossl pkey -pubin -in "$W/p256.v1.pub" -outform DER) ||
	fail "openssl pkey -pubout of the URI-in-PEM file is not the token key's public key"
run_expect 0 vdo -- dgst -sha256 -sign "$W/p256.key.pem" -out "$W/pem.sig" "$W/msg"
run_expect 0 ossl dgst -sha256 -verify "$W/p256.v1.pub" -signature "$W/pem.sig" "$W/msg"
expect_signs app vs-p256 4
run_expect 0 vc key show vs-ed --format provider-pem
cp "$RUN_OUT" "$W/ed.key.pem"
run_expect 0 vdo -- req -new -x509 -key "$W/ed.key.pem" -subj "/CN=ed-pem" -days 2 -out "$W/ed-pem.crt"
run_expect 0 ossl verify -CAfile "$W/ed-pem.crt" "$W/ed-pem.crt"
expect_signs app vs-ed 3

say "a pinned version that is no longer active fails closed"
run_expect 0 vc key rotate vs-p256
pub_pem vs-p256 "$W/p256.v2.pub"
vd_sees vs-p256 2 active
# the old PEM pins version 1, now verify-only: vaultd answers 409 (only the
# active version signs), the provider never falls back to version 2
rm -f "$W/old.sig"
run_expect 1 vdo -- dgst -sha256 -sign "$W/p256.key.pem" -out "$W/old.sig" "$W/msg"
assert_contains "$RUN_ERR" "409"
[ ! -s "$W/old.sig" ] || fail "a signature was written with the version pinned before the rotation"
expect_signs app vs-p256 4
# a new PEM pins version 2
run_expect 0 vc key show vs-p256 --format provider-pem
assert_eq "$(sed -n 2p "$RUN_OUT" | base64 -d)" "p11vault:vs-p256;version=2" "the URI after rotation"
cp "$RUN_OUT" "$W/p256.v2.key.pem"
run_expect 0 vdo -- dgst -sha256 -sign "$W/p256.v2.key.pem" -out "$W/v2.sig" "$W/msg"
run_expect 0 ossl dgst -sha256 -verify "$W/p256.v2.pub" -signature "$W/v2.sig" "$W/msg"
expect_signs app vs-p256 5
# version 1 retired: refused at load, before anything is asked to sign
run_expect 0 vc key retire vs-p256 --version 1
vd_sees vs-p256 1 retired
rm -f "$W/old.sig"
# (through OpenSSL's file store the provider's reason is not printed: it
# drops a decoder's errors and says "unsupported")
run_expect 1 vdo -- dgst -sha256 -sign "$W/p256.key.pem" -out "$W/old.sig" "$W/msg"
[ ! -s "$W/old.sig" ] || fail "a signature was written with a retired version"
run_expect 1 vdo -- pkeyutl -sign -inkey "p11vault:vs-p256;version=1" -pkeyopt digest:sha256 \
	-in "$W/msg.sha256" -out "$W/old.sig"
assert_contains "$RUN_ERR" "retired"
expect_signs app vs-p256 5

say "no PIN and no module: nothing secret in what the program printed"
for f in "$PV_OUT"/*.err; do
	assert_no_pin_in "$f"
	assert_not_contains "$f" "$BEARER"
done
echo "provider_vaultd: all as expected"
