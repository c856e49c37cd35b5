#!/bin/bash
# A key's name in a pkcs11: URI (issue 17 item 1; src/core/keys_uri.c):
# object=NAME is the p11vault key NAME, its active version at each use
# (bundle recipients: seal and unwrap; the provider's direct backend: each
# openssl run loads anew; vaultd's listen.tcp.tls_key: the version active
# at start). object=NAME.vN and x-p11vault-version=N pin a version, and
# conflicting pins are refused. A raw token key (pkcs11-tool) still works
# as a recipient. A URI that matches the key's metadata (type=data), a key
# of the wrong kind or nothing gets one line saying what it matched and
# what would work. No error text of the run (each .err file, vaultd's log)
# contains "0x": attributes and CKR codes are named in words.
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/bundle.sh"
. "$top_srcdir/tests/lib/provider.sh"
need_cmd python3
need_cmd openssl
need_cmd pkcs11-tool
W=$PV_WORK
T="token=$PV_TOKEN_LABEL"

# rlabel BUNDLE: the label of the bundle's (last) recipient
rlabel() { bj "$1" 'd["recipients"][-1]["label"]'; }
# refused EXIT ARG WORDS...: bundle seal --recipient ARG fails with EXIT and
# one line holding each of WORDS
refused() {
	local want=$1 arg=$2
	shift 2
	run_expect "$want" vc bundle seal --recipient "$arg" --in "$W/in.env" --out "$W/never.b"
	assert_one_line_error "$RUN_ERR"
	for w in "$@"; do assert_contains "$RUN_ERR" "$w" "error for --recipient $arg"; done
	[ ! -e "$W/never.b" ] || fail "a refused seal wrote a bundle"
}

run_expect 0 vc key create kek --alg aes256 --purpose wrap
run_expect 0 vc key create sk --alg p256 --purpose sign
printf 'APP_TOKEN=value-1\n' >"$W/in.env"

say "bundle seal --recipient pkcs11:...;object=kek: the key's active version"
run_expect 0 vc bundle seal --recipient "pkcs11:$T;object=kek" --in "$W/in.env" --out "$W/b1"
assert_eq "$(rlabel "$W/b1")" kek.v1 "recipient of object=kek before rotation"
run_expect 0 vc unwrap "$W/b1" --format env --key "pkcs11:$T;object=kek"
assert_contains "$RUN_OUT" "APP_TOKEN='value-1'"

say "after key rotate the same URI is version 2; pins keep version 1"
run_expect 0 vc key rotate kek
run_expect 0 vc bundle seal --recipient "pkcs11:object=kek;$T" --in "$W/in.env" --out "$W/b2"
assert_eq "$(rlabel "$W/b2")" kek.v2 "recipient of object=kek after rotation"
run_expect 0 vc unwrap "$W/b2" --format env
assert_contains "$RUN_OUT" "APP_TOKEN='value-1'"
run_expect 0 vc bundle seal --recipient "pkcs11:$T;object=kek;x-p11vault-version=1" --in "$W/in.env" --out "$W/b3"
assert_eq "$(rlabel "$W/b3")" kek.v1 "x-p11vault-version=1"
run_expect 0 vc bundle seal --recipient "pkcs11:x-p11vault-version=1;object=kek" --in "$W/in.env" --out "$W/b3b"
assert_eq "$(rlabel "$W/b3b")" kek.v1 "x-p11vault-version=1 first"
run_expect 0 vc bundle seal --recipient "pkcs11:$T;object=kek.v1" --in "$W/in.env" --out "$W/b4"
assert_eq "$(rlabel "$W/b4")" kek.v1 "object=kek.v1"
run_expect 0 vc unwrap "$W/b4" --format env
assert_contains "$RUN_OUT" "APP_TOKEN='value-1'"

say "conflicting or bad pins, and a pin on a URI that names no p11vault key"
refused 2 "pkcs11:object=kek.v2;x-p11vault-version=1" "name different versions"
refused 2 "pkcs11:object=kek;x-p11vault-version=0" "version number from 1 to 1000"
refused 2 "pkcs11:object=kek;x-p11vault-version=1;x-p11vault-version=2" "given twice"
refused 5 "pkcs11:object=nosuch;x-p11vault-version=1" "needs object= naming a p11vault key"
refused 5 "pkcs11:object=kek;x-p11vault-version=9" "version 9"

say "what the URI matched, and what would work"
refused 8 "pkcs11:$T;object=sk" "matches p11vault key 'sk' (purpose sign, p256)" \
	"a recipient needs an aes256 key of purpose wrap or an RSA key of purpose decrypt"
refused 5 "pkcs11:$T;object=kek;type=data" "matches a data object (not a key)" "a recipient needs"
refused 8 "pkcs11:$T;object=sk.v1;type=public" "matches version 1 of p11vault key 'sk' (purpose sign, p256)"
refused 5 "pkcs11:$T;object=no-such-thing" "matches nothing on the token" "a recipient needs"

say "a raw AES key made by pkcs11-tool: refused for sealing as before (no purpose); adopted, by its new name"
PIN=$(cat "$PV_USER_PIN_FILE")
export PIN
pkcs11-tool --module "$P11VAULT_MODULE" --token-label "$PV_TOKEN_LABEL" --login --pin env:PIN \
	--keygen --key-type aes:32 --sensitive --label rawaes --id 0badcafe >"$W/p11tool.out" 2>&1 || {
	cat "$W/p11tool.out" >&2
	fail "pkcs11-tool --keygen aes"
}
unset PIN
refused 8 "pkcs11:$T;object=rawaes" "is no p11vault key" "key adopt"
run_expect 0 vc key adopt "pkcs11:$T;object=rawaes;type=secret-key" --name adopted --purpose wrap
run_expect 0 vc bundle seal --recipient "pkcs11:$T;object=adopted" --in "$W/in.env" --out "$W/b5"
assert_eq "$(rlabel "$W/b5")" adopted.v1 "adopted recipient label"
run_expect 0 vc unwrap "$W/b5" --format env --key "pkcs11:$T;object=adopted"
assert_contains "$RUN_OUT" "APP_TOKEN='value-1'"
run_expect 0 vc bundle seal --recipient "pkcs11:$T;id=%0b%ad%ca%fe" --in "$W/in.env" --out "$W/b6"
assert_eq "$(rlabel "$W/b6")" adopted.v1 "id= of an adopted key's version"
refused 5 "pkcs11:$T;object=rawaes;x-p11vault-version=1" "needs object= naming a p11vault key"

say "provider (direct backend): pkcs11:object=NAME signs with the version active at load"
prov_need
run_expect 0 vc key create psk --alg p256 --purpose sign
pub_pem psk "$W/psk.v1.pem" 1
printf 'message one\n' >"$W/msg"
openssl dgst -sha256 -binary "$W/msg" >"$W/msg.sha256"
# psign REF OUT: pkeyutl -sign of the digest through the provider
psign() { run_expect 0 prov_cli pkeyutl -sign -inkey "$1" -in "$W/msg.sha256" -out "$2"; }
# pverify PEM SIG: checked with the default provider only
pverify() { ossl pkeyutl -verify -pubin -inkey "$1" -in "$W/msg.sha256" -sigfile "$2" >/dev/null 2>&1; }
psign "pkcs11:object=psk" "$W/s1"
pverify "$W/psk.v1.pem" "$W/s1" || fail "object=psk before rotation: not version 1's signature"
run_expect 1 prov_cli pkeyutl -sign -inkey "pkcs11:object=psk;x-p11vault-version=2" -in "$W/msg.sha256" -out "$W/never.sig"
assert_contains "$RUN_ERR" "no version 2"
run_expect 0 vc key rotate psk
pub_pem psk "$W/psk.v2.pem" 2
psign "pkcs11:$T;object=psk" "$W/s2"
pverify "$W/psk.v2.pem" "$W/s2" || fail "object=psk after rotation: not version 2's signature"
! pverify "$W/psk.v1.pem" "$W/s2" || fail "object=psk after rotation signed with version 1"
psign "pkcs11:object=psk;x-p11vault-version=2" "$W/s3"
pverify "$W/psk.v2.pem" "$W/s3" || fail "x-p11vault-version=2"
psign "pkcs11:object=psk.v2" "$W/s4"
pverify "$W/psk.v2.pem" "$W/s4" || fail "object=psk.v2"
run_expect 1 prov_cli pkeyutl -sign -inkey "pkcs11:object=psk.v2;x-p11vault-version=1" -in "$W/msg.sha256" -out "$W/never.sig"
assert_contains "$RUN_ERR" "name different versions"
# a pin to version 1 (verify-only now) stays on version 1
psign "pkcs11:object=psk.v1" "$W/s5"
pverify "$W/psk.v1.pem" "$W/s5" || fail "object=psk.v1 after rotation"
# a key of another purpose by pkcs11: URI: its purpose applies
run_expect 1 prov_cli pkeyutl -sign -inkey "pkcs11:object=kek" -in "$W/msg.sha256" -out "$W/never.sig"

if [ -x "$top_builddir/vaultd" ] && command -v curl >/dev/null 2>&1; then
	. "$top_srcdir/tests/lib/vaultd.sh"
	say "vaultd listen.tcp.tls_key pkcs11:object=NAME: the version active at start"
	CFG=$W/vaultd.json
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=test CA" \
		-keyout "$W/ca.key" -out "$W/ca.crt" >"$W/openssl.log" 2>&1 || fail "openssl: CA"
	printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >"$W/ext.cnf"
	# cert_for PEM OUT: a server certificate for the public key PEM
	cert_for() {
		openssl x509 -new -subj "/CN=127.0.0.1" -force_pubkey "$1" -CA "$W/ca.crt" -CAkey "$W/ca.key" \
			-days 2 -extfile "$W/ext.cnf" -out "$2" >>"$W/openssl.log" 2>&1 || fail "openssl: server certificate"
	}
	PORT=$(vd_free_port)
	ADMIN=$(vd_new_token)
	vd_base_config "[{\"name\": \"admin\", \"auth\": {\"token_sha256\": \"$(vd_token_hash "$ADMIN")\"}, \"role\": \"admin\"}]" >"$CFG"
	tls_on() {
		vd_json_set "$CFG" \
			"listen.tcp={\"address\": \"127.0.0.1:$PORT\", \"tls_cert\": \"$2\", \"tls_key\": \"$1\"}"
	}
	# served_is PEM: the handshake's certificate key is PEM's, and signed by it
	served_is() {
		timeout 20 openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$W/ca.crt" -verify_return_error \
			</dev/null >"$W/s_client.out" 2>&1 || {
			cat "$W/s_client.out" >&2
			fail "openssl s_client"
		}
		openssl x509 -in "$W/s_client.out" -noout -pubkey >"$W/served.pem"
		assert_eq "$(openssl pkey -pubin -in "$W/served.pem" -outform DER | sha256sum)" \
			"$(openssl pkey -pubin -in "$1" -outform DER | sha256sum)" "served key"
	}
	cert_for "$W/psk.v2.pem" "$W/v2.crt"
	tls_on "pkcs11:object=psk;type=private" "$W/v2.crt"
	vd_start "$CFG"
	served_is "$W/psk.v2.pem"
	vd_stop >/dev/null
	run_expect 0 vc key rotate psk
	pub_pem psk "$W/psk.v3.pem" 3
	cert_for "$W/psk.v3.pem" "$W/v3.crt"
	tls_on "pkcs11:object=psk" "$W/v3.crt"
	vd_start "$CFG"
	served_is "$W/psk.v3.pem"
	vd_stop >/dev/null
	tls_on "pkcs11:object=psk;x-p11vault-version=2" "$W/v2.crt"
	vd_start "$CFG"
	served_is "$W/psk.v2.pem"
	vd_stop >/dev/null
	# refused KEYREF WORDS: vaultd does not start, and says why
	vrefused() {
		tls_on "$1" "$W/v3.crt"
		VD_SOCK=$(vd_socket_of "$CFG")
		vd_launch --config "$CFG"
		rc=$(vd_wait_exit 300)
		VD_PID=
		[ "$rc" != timeout ] && [ "$rc" != 0 ] || fail "vaultd started with listen.tcp.tls_key $1 (status $rc)"
		assert_contains "$VD_LOG" "$2" "the refusal of $1"
	}
	vrefused "pkcs11:object=kek;type=data" "matches a data object (not a key)"
	vrefused "pkcs11:object=nothing-here" "matches nothing on the token"
	vrefused "pkcs11:object=kek" "purpose wrap"
else
	say "vaultd or curl missing: listen.tcp.tls_key not checked"
fi

say "other failures whose texts are checked below"
run_expect 5 vc key show no-such-key
run_expect 5 vc bundle seal --recipient "pkcs11:id=%de%ad" --in "$W/in.env" --out "$W/never.b"
run_expect 2 vc bundle seal --recipient "pkcs11:object=kek;pin-value=1234" --in "$W/in.env" --out "$W/never.b"
run_expect 2 vc bundle seal --recipient "pkcs11:object=%zz" --in "$W/in.env" --out "$W/never.b"
run_expect 8 vc sign kek --in "$W/msg"

say "no error text of this run shows a raw number (0x...)"
n=0
for f in "$PV_OUT"/*.err "$PV_OUT"/vaultd*.log; do
	[ -e "$f" ] || continue
	n=$((n + 1))
	if grep -aq '0x' "$f"; then
		cat "$f" >&2
		fail "$f contains 0x"
	fi
done
[ "$n" -ge 40 ] || fail "only $n error files were checked"
echo "key_uri_names: ok"
