#!/bin/bash
# vaultd's own TLS key on its token (issue 16 item 6; docs/config.md
# listen.tcp.tls_key): "p11vault:NAME" or a pkcs11: URI naming a p11vault
# key version (object=NAME.vN), of purpose sign. The handshake is signed on
# the token through GnuTLS's PKCS#11 support: curl and openssl s_client
# (not ours) complete it against a certificate for that public key, and the
# certificate's key is the token key's (compared with vaultctl key show).
# Refused: a key of another purpose, an object that is not a p11vault key
# version, an unknown key. The PIN appears in no log.
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/vaultd.sh"
vd_need
need_cmd curl

W=$PV_WORK
CFG=$W/vaultd.json

say "a P-256 key of purpose sign for vaultd's TLS, and a certificate for it from a test CA"
run_expect 0 vc key create vd-tls --alg p256 --purpose sign
run_expect 0 vc key create vd-jwt --alg p256 --purpose jwt
vc key show vd-tls --format pem >"$W/tls.pub.pem"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=test CA" \
	-keyout "$W/ca.key" -out "$W/ca.crt" >"$W/openssl.log" 2>&1 || fail "openssl: CA"
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >"$W/ext.cnf"
openssl x509 -new -subj "/CN=127.0.0.1" -force_pubkey "$W/tls.pub.pem" -CA "$W/ca.crt" -CAkey "$W/ca.key" \
	-days 2 -extfile "$W/ext.cnf" -out "$W/tls.crt" >>"$W/openssl.log" 2>&1 || {
	cat "$W/openssl.log" >&2
	fail "openssl: server certificate"
}

PORT=$(vd_free_port)
ADMIN=$(vd_new_token)
vd_base_config "[{\"name\": \"admin\", \"auth\": {\"token_sha256\": \"$(vd_token_hash "$ADMIN")\"}, \"role\": \"admin\"}]" >"$CFG"

# tls_on KEYREF: the TCP listener with its key on the token
tls_on() {
	vd_json_set "$CFG" \
		"listen.tcp={\"address\": \"127.0.0.1:$PORT\", \"tls_cert\": \"$W/tls.crt\", \"tls_key\": \"$1\"}"
}

say "p11vault:NAME: curl and openssl s_client complete the handshake"
tls_on "p11vault:vd-tls"
vd_start "$CFG"
code=$(curl -sS --max-time 20 --cacert "$W/ca.crt" -o "$W/health.json" -w '%{http_code}' \
	"https://127.0.0.1:$PORT/v1/health")
assert_eq "$code" 200 "health over TLS with the key on the token"
for v in -tls1_3 -tls1_2; do
	timeout 20 openssl s_client -connect "127.0.0.1:$PORT" "$v" -CAfile "$W/ca.crt" -verify_return_error \
		-showcerts </dev/null >"$W/s_client$v.out" 2>&1 || {
		cat "$W/s_client$v.out" >&2
		fail "openssl s_client $v"
	}
	assert_contains "$W/s_client$v.out" "Verify return code: 0 (ok)"
done
# the certificate served is ours, and its key is the token key's public half
openssl x509 -in "$W/s_client-tls1_3.out" -noout -pubkey >"$W/served.pub.pem"
assert_eq "$(openssl pkey -pubin -in "$W/served.pub.pem" -outform DER | sha256sum)" \
	"$(openssl pkey -pubin -in "$W/tls.pub.pem" -outform DER | sha256sum)" "served key = token key"
vd_stop >/dev/null

say "a pkcs11: URI naming the key's version works the same"
tls_on "pkcs11:object=vd-tls.v1;type=private"
vd_start "$CFG"
code=$(curl -sS --max-time 20 --cacert "$W/ca.crt" -o /dev/null -w '%{http_code}' "https://127.0.0.1:$PORT/v1/health")
assert_eq "$code" 200 "health over TLS, key by pkcs11: URI"
vd_stop >/dev/null

# refused KEYREF WORDS: vaultd does not start, and says why
refused() {
	tls_on "$1"
	VD_SOCK=$(vd_socket_of "$CFG")
	vd_launch --config "$CFG"
	rc=$(vd_wait_exit 300)
	VD_PID=
	[ "$rc" != timeout ] && [ "$rc" != 0 ] || fail "vaultd started with listen.tcp.tls_key $1 (status $rc)"
	assert_contains "$VD_LOG" "$2" "the refusal of $1"
}
say "refused: another purpose, not a p11vault key version, an unknown key"
refused "p11vault:vd-jwt" "purpose jwt"
refused "pkcs11:object=some-cert;type=private" "not a p11vault key version"
refused "p11vault:no-such-key" "no-such-key"
refused "p11vault:bad name" "expected p11vault:NAME"

say "the PIN appears in no log"
pin=$(cat "$PV_USER_PIN_FILE")
[ -n "$pin" ] || fail "no PIN file"
for f in "$PV_OUT"/vaultd*.log; do
	assert_not_contains "$f" "$pin" "the PIN in $f"
done
echo "vaultd_tls_token: ok"
