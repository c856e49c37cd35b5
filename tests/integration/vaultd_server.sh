#!/bin/bash
# vaultd's server side (docs/vaultd.8, docs/api.md §1): the Unix socket
# (mode, peer uid), TLS on 127.0.0.1 with client certificates checked
# against the configured CA, every endpoint over TLS, the body limit, the idle timeout against
# slow-loris connections, SIGHUP (a bad config keeps the running one, a good
# one takes effect), SIGTERM draining a request in flight, --check-config
# and --dev. Certificates are made here with openssl.
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/vaultd.sh"
vd_need

W=$PV_WORK
CFG=$W/vaultd.json

# ---- keys, tokens, certificates ----
run_expect 0 vc key create app-sign --alg p256 --purpose sign
run_expect 0 vc key create app-jwt --alg p256 --purpose jwt
run_expect 0 vc key create app-mac --alg hmac-sha256 --purpose derive
run_expect 0 vc key create app-dh --alg p256 --purpose derive
READER=$(vd_new_token)
EVERY=$(vd_new_token)
ADMIN=$(vd_new_token)
NEWBIE=$(vd_new_token)

mkcert() { # NAME CA-NAME(or -) EXT...
	local n=$1 ca=$2
	shift 2
	if [ "$ca" = - ]; then
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$n" \
			-keyout "$W/$n.key" -out "$W/$n.crt" >"$W/openssl.log" 2>&1 || fail "openssl: CA $n"
		return
	fi
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$n" \
		-keyout "$W/$n.key" -out "$W/$n.csr" >"$W/openssl.log" 2>&1 || fail "openssl: request $n"
	printf '%s\n' "$@" >"$W/$n.ext"
	openssl x509 -req -in "$W/$n.csr" -CA "$W/$ca.crt" -CAkey "$W/$ca.key" -CAcreateserial -days 2 \
		-extfile "$W/$n.ext" -out "$W/$n.crt" >"$W/openssl.log" 2>&1 || fail "openssl: sign $n"
}
mkcert ca -
mkcert other-ca -
mkcert server ca "subjectAltName=IP:127.0.0.1,DNS:localhost" "extendedKeyUsage=serverAuth"
mkcert client ca "extendedKeyUsage=clientAuth"
mkcert stranger other-ca "extendedKeyUsage=clientAuth"
CLIENT_FP=$(openssl x509 -in "$W/client.crt" -noout -fingerprint -sha256 | sed 's/^.*=//')
PORT=$(vd_free_port)

clients() { # the clients array; $1 = extra client entries (JSON, with a leading comma)
	cat <<EOF
[
  {"name": "reader", "auth": {"token_sha256": "$(vd_token_hash "$READER")"},
   "rules": [{"ops": ["keys.read"], "keys": ["app-*"]}]},
  {"name": "admin", "auth": {"token_sha256": "$(vd_token_hash "$ADMIN")"}, "role": "admin"},
  {"name": "me", "auth": {"uid": $(id -u)}, "rules": [{"ops": ["keys.read"], "keys": ["app-*"]}]},
  {"name": "certified", "auth": {"cert_sha256": "$CLIENT_FP"},
   "rules": [{"ops": ["keys.read"], "keys": ["app-*"]}]},
  {"name": "every", "auth": {"token_sha256": "$(vd_token_hash "$EVERY")"}, "role": "admin",
   "rules": [{"ops": ["keys.read", "sign", "verify", "jwt.issue", "derive", "ecdh", "secrets.list",
              "secrets.read"], "keys": ["app-*"]}]}${1:-}
]
EOF
}
write_config() { # OUT [EXTRA-CLIENTS]
	vd_base_config "$(clients "${2:-}")" '"jwt": {"issuer": "https://tls.test"}' >"$1"
	vd_json_set "$1" \
		"listen.tcp={\"address\": \"127.0.0.1:$PORT\", \"tls_cert\": \"$W/server.crt\", \"tls_key\": \"$W/server.key\", \"client_ca\": \"$W/ca.crt\"}" \
		'limits={"max_body_bytes": 2048, "request_timeout_ms": 3000}'
}
write_config "$CFG"

tls() { # tls ARGS... PATH: curl over TLS, status in the output
	local n=$# path=${!#}
	curl -sS --max-time 20 --cacert "$W/ca.crt" -o "$VD_BODY" -w '%{http_code}' "${@:1:n-1}" \
		"https://127.0.0.1:$PORT$path"
}

# ---- --check-config ----
say "--check-config: 0 for a valid file, 2 with the field path for a bad one"
# checked against the keys on the token too: the audit key must be there
vd_audit_key audit-hmac
run_expect 0 "$VAULTD" --check-config --config "$CFG"
cp "$CFG" "$W/bad.json"
vd_json_set "$W/bad.json" 'listen.unix.mode="0666"'
run_expect 2 "$VAULTD" --check-config --config "$W/bad.json"
assert_contains "$RUN_ERR" "listen.unix.mode"
cp "$CFG" "$W/bad2.json"
vd_json_set "$W/bad2.json" 'clients.0.rules.0.ops=["sgin"]'
run_expect 2 "$VAULTD" --check-config --config "$W/bad2.json"
assert_contains "$RUN_ERR" "clients[0].rules[0].ops[0]"
run_expect 2 "$VAULTD" --config "$W/bad2.json"
assert_contains "$RUN_ERR" "clients[0].rules[0].ops[0]"
run_expect 2 "$VAULTD" --no-such-option
run_expect 2 "$VAULTD"
run_expect 0 "$VAULTD" --version
assert_contains "$RUN_OUT" "vaultd "
run_expect 0 "$VAULTD" --help
assert_contains "$RUN_OUT" "--check-config"
run_expect 2 env -u P11VAULT_TOKEN "$VAULTD" --dev --dev-dir "$PV_TEST_DIR/nodev"
assert_contains "$RUN_ERR" "P11VAULT_TOKEN"

# ---- start; the Unix socket ----
say "start: health, ready, request ids; the socket has the configured mode"
vd_start "$CFG"
vd_expect 200 GET /v1/health
assert_eq "$(json_get "$VD_BODY" status)" ok
rid=$(vd_header X-Request-Id)
[[ $rid =~ ^[A-Za-z0-9_-]{22}$ ]] || fail "X-Request-Id '$rid' is not 22 base64url characters"
vd_expect 200 GET /v1/health
[ "$(vd_header X-Request-Id)" != "$rid" ] || fail "two requests got the same id"
vd_expect 200 GET /v1/ready
assert_contains "$VD_HEADERS" "application/json"
assert_file_mode "$VD_SOCK" 600
assert_contains "$VD_LOG" "vaultd: ready"

say "a second vaultd on the same socket path refuses to start (exit 7); the first keeps serving"
cp "$CFG" "$W/second.json"
vd_json_set "$W/second.json" "audit.file=\"$PV_OUT/audit-second.log\"" \
	"listen.tcp.address=\"127.0.0.1:$(vd_free_port)\""
run_expect 7 "$VAULTD" --config "$W/second.json"
assert_contains "$RUN_ERR" "another process is listening"
vd_expect 200 GET /v1/health

say "the Unix socket peer uid authenticates; a bearer token is tried alone"
vd_expect 200 GET /v1/keys
assert_contains "$VD_BODY" app-sign
vd_expect 401 GET /v1/keys -H "Authorization: Bearer pvt_wrong"
vd_expect 200 GET /v1/keys -H "Authorization: Bearer $READER"

# ---- TLS and client certificates ----
say "TLS on 127.0.0.1: the server certificate verifies with the CA"
assert_eq "$(tls /v1/health)" 200
curl -sS --max-time 20 -o /dev/null "https://127.0.0.1:$PORT/v1/health" 2>"$W/curl.err" &&
	fail "curl accepted the server certificate without the CA"

say "mTLS: the configured client certificate authenticates; none and no token: 401"
assert_eq "$(tls --cert "$W/client.crt" --key "$W/client.key" /v1/keys)" 200
assert_contains "$VD_BODY" app-sign
assert_eq "$(tls /v1/keys)" 401
assert_eq "$(vd_error_code)" unauthenticated
assert_eq "$(tls -H "Authorization: Bearer $READER" /v1/keys)" 200

say "a certificate from another CA is refused (handshake or 401)"
st=$(tls --cert "$W/stranger.crt" --key "$W/stranger.key" /v1/keys 2>"$W/curl.err") || st=handshake
case $st in
401 | handshake) ;;
*) fail "a certificate of another CA got $st" ;;
esac
# vaultd answers 401 for a certificate that does not verify, even with a
# valid bearer token beside it
st=$(tls --cert "$W/stranger.crt" --key "$W/stranger.key" -H "Authorization: Bearer $READER" /v1/keys \
	2>"$W/curl.err") || st=handshake
case $st in
401 | handshake) ;;
*) fail "a certificate of another CA with a good token got $st" ;;
esac

say "every endpoint over TLS (bearer token of an admin client with every operation on app-*)"
tls_call() { # STATUS METHOD PATH [BODY]
	local want=$1 method=$2 path=$3 st
	if [ $# -ge 4 ]; then
		st=$(tls -X "$method" -H "Authorization: Bearer $EVERY" -H "Content-Type: application/json" \
			--data-binary "$4" "$path")
	else
		st=$(tls -X "$method" -H "Authorization: Bearer $EVERY" "$path")
	fi
	[ "$st" = "$want" ] || fail "TLS $method $path: got $st, want $want ($(cat "$VD_BODY"))"
}
tls_call 200 GET /v1/health
tls_call 200 GET /v1/ready
tls_call 200 GET /metrics
assert_contains "$VD_BODY" "p11vault_requests_total"
tls_call 200 GET /.well-known/jwks.json
assert_contains "$VD_BODY" '"ES256"'
tls_call 200 GET /v1/keys
tls_call 200 GET /v1/keys/app-sign
assert_contains "$VD_BODY" "BEGIN PUBLIC KEY"
json_get "$VD_BODY" versions 0 public_key_pem >"$W/app-sign.pem"
printf 'over TLS' >"$W/tls.msg"
tls_call 200 POST /v1/keys/app-sign/sign "{\"input_b64\":\"$(base64 -w0 <"$W/tls.msg")\",\"format\":\"der\"}"
SIG=$(json_get "$VD_BODY" signature_b64)
printf '%s' "$SIG" | base64 -d >"$W/tls.sig"
openssl dgst -sha256 -verify "$W/app-sign.pem" -signature "$W/tls.sig" "$W/tls.msg" >/dev/null ||
	fail "OpenSSL does not verify the signature made over TLS"
tls_call 200 POST /v1/keys/app-sign/verify \
	"{\"input_b64\":\"$(base64 -w0 <"$W/tls.msg")\",\"format\":\"der\",\"signature_b64\":\"$SIG\"}"
assert_eq "$(json_get "$VD_BODY" valid)" True
tls_call 200 POST /v1/jwt/app-jwt/issue '{"claims":{"sub":"tls"},"ttl":60}'
JWT=$(json_get "$VD_BODY" token)
tls_call 200 POST /v1/jwt/verify "{\"token\":\"$JWT\"}"
assert_eq "$(json_get "$VD_BODY" valid)" True
tls_call 200 POST /v1/derive/app-mac '{"context":"tls"}'
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$W/peer.key" 2>/dev/null
openssl pkey -in "$W/peer.key" -pubout -out "$W/peer.pem" 2>/dev/null
tls_call 200 GET /v1/keys/app-dh
json_get "$VD_BODY" versions 0 public_key_pem >"$W/app-dh.pem"
tls_call 200 POST /v1/ecdh/app-dh \
	"$(python3 -c 'import json,sys; print(json.dumps({"peer_public_key_pem": open(sys.argv[1]).read()}))' "$W/peer.pem")"
json_get "$VD_BODY" shared_secret_b64 | base64 -d >"$W/tls.shared"
openssl pkeyutl -derive -inkey "$W/peer.key" -peerkey "$W/app-dh.pem" -out "$W/tls.shared.ossl" 2>/dev/null
cmp -s "$W/tls.shared" "$W/tls.shared.ossl" || fail "ECDH over TLS differs from OpenSSL's"
tls_call 200 GET /v1/secrets
tls_call 404 GET /v1/secrets/app-none
tls_call 200 POST /v1/admin/reload ''

# ---- body limit ----
say "a body over limits.max_body_bytes is 413 too_large, by length and chunked; the server stays up"
head -c 3000 /dev/zero | tr '\0' 'a' >"$W/big.body"
vd_expect 413 POST /v1/keys/app-sign/sign -H "Content-Type: application/json" --data-binary "@$W/big.body"
assert_eq "$(vd_error_code)" too_large
vd_expect 413 POST /v1/keys/app-sign/sign -H "Content-Type: application/json" \
	-H "Transfer-Encoding: chunked" --data-binary "@$W/big.body"
assert_eq "$(vd_error_code)" too_large
assert_eq "$(tls -H "Authorization: Bearer $READER" --data-binary "@$W/big.body" /v1/keys/app-sign/sign)" 413
vd_expect 200 GET /v1/health

# ---- slow-loris ----
say "a connection that never finishes its request is closed after the timeout; others are served"
python3 - "$VD_SOCK" >"$W/slow.out" 2>&1 <<'EOF' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: v\r\nX-Slow: ")
t0 = time.monotonic()
s.settimeout(30)
try:
    while s.recv(4096):
        pass
except socket.timeout:
    print("still open after 30 s")
    sys.exit(1)
except OSError:
    pass
print("closed after %.1f s" % (time.monotonic() - t0))
EOF
slow=$!
sleep 0.5
vd_expect 200 GET /v1/health
[ ! -s "$W/slow.out" ] || fail "the slow connection was closed before another client was served"
wait "$slow" || {
	cat "$W/slow.out" >&2
	fail "the slow connection was not closed"
}
secs=$(sed -n 's/^closed after \([0-9]*\)\..*/\1/p' "$W/slow.out")
[ -n "$secs" ] && [ "$secs" -ge 1 ] && [ "$secs" -le 10 ] || fail "slow connection: $(cat "$W/slow.out")"

# ---- SIGHUP ----
say "SIGHUP with a broken config: the running one stays, the log names the field"
cp "$CFG" "$W/good.json"
cp "$W/bad2.json" "$CFG"
kill -HUP "$VD_PID"
for _ in $(seq 100); do
	grep -q "reload failed" "$VD_LOG" && break
	sleep 0.1
done
assert_contains "$VD_LOG" "reload failed"
grep "reload failed" "$VD_LOG" | grep -qF "clients[0].rules[0].ops[0]" || fail "the reload error does not name the field"
vd_expect 200 GET /v1/keys -H "Authorization: Bearer $READER"

say "SIGHUP with a valid changed config: a new client works"
vd_expect 401 GET /v1/keys -H "Authorization: Bearer $NEWBIE"
write_config "$CFG" ",
  {\"name\": \"newbie\", \"auth\": {\"token_sha256\": \"$(vd_token_hash "$NEWBIE")\"},
   \"rules\": [{\"ops\": [\"keys.read\"], \"keys\": [\"app-*\"]}]}"
kill -HUP "$VD_PID"
for _ in $(seq 100); do
	grep -q "vaultd: reloaded" "$VD_LOG" && break
	sleep 0.1
done
assert_contains "$VD_LOG" "vaultd: reloaded"
vd_expect 200 GET /v1/keys -H "Authorization: Bearer $NEWBIE"
vd_expect 200 GET /v1/keys -H "Authorization: Bearer $READER"

# ---- SIGTERM drains ----
say "SIGTERM while a request is in flight: it completes, then exit 0"
python3 - "$VD_SOCK" "$W/sent" >"$W/drain.out" 2>&1 <<'EOF' &
import socket, sys, time
body = b'{"input_b64":"aGk="}'
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"POST /v1/keys/app-sign/sign HTTP/1.1\r\nHost: v\r\nContent-Type: application/json\r\n"
          b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body[:8])
open(sys.argv[2], "w").write("sent")
time.sleep(1.0)
s.sendall(body[8:])
s.settimeout(20)
data = b""
while True:
    d = s.recv(4096)
    if not d:
        break
    data += d
print(data.split(b"\r\n", 1)[0].decode())
EOF
drainer=$!
for _ in $(seq 100); do
	[ -e "$W/sent" ] && break
	sleep 0.05
done
sleep 0.2
kill -TERM "$VD_PID"
wait "$drainer" || fail "the in-flight client failed: $(cat "$W/drain.out")"
# uid client "me" may read app-* but not sign: a real answer, not 503
grep -q '^HTTP/1.1 403' "$W/drain.out" || fail "the in-flight request got: $(cat "$W/drain.out")"
assert_eq "$(vd_wait_exit)" 0 "exit status after SIGTERM"
VD_PID=
assert_contains "$VD_LOG" "1 request(s) in flight"
[ ! -e "$VD_SOCK" ] || fail "the socket file is left behind"

say "the audit log has the 413s and the drained request"
grep -q '"status":413' "$PV_OUT/audit.log" || fail "no 413 in the audit log"

# ---- --dev ----
say "--dev: the admin token is printed once and works; nobody else gets in"
vd_start_dev "$PV_TEST_DIR/dev"
assert_eq "$(grep -c "dev admin token" "$VD_LOG")" 1
assert_eq "$(grep -cF -- "$VD_DEV_TOKEN" "$VD_LOG")" 1 "times the dev token appears in the log"
assert_contains "$VD_LOG" "development mode"
[[ $VD_DEV_TOKEN =~ ^pvt_[A-Za-z0-9_-]{43}$ ]] || fail "dev token has the wrong shape"
vd_expect 200 GET /v1/keys -H "Authorization: Bearer $VD_DEV_TOKEN"
assert_contains "$VD_BODY" app-sign
vd_expect 401 GET /v1/keys
assert_file_mode "$PV_TEST_DIR/dev/vaultd.sock" 600
[ -s "$PV_TEST_DIR/dev/audit.log" ] || fail "--dev wrote no audit log"
assert_eq "$(vd_stop)" 0 "exit status of vaultd --dev"
cp "$PV_TEST_DIR/dev/audit.log" "$PV_OUT/dev-audit.log"

echo "vaultd_server: ok"
