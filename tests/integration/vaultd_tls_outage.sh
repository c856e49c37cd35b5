#!/bin/bash
# vaultd's own TLS key on its token through a token outage (docs/config.md
# listen.tcp.tls_key): SoftHSM behind `p11-kit server`, vaultd (and so
# GnuTLS) on p11-kit-client.so, as in token_outage_p11kit.sh. The server is
# killed: handshakes fail (curl and openssl s_client get no certificate
# verified, nothing hangs, each attempt ends within a few seconds), vaultd
# does not exit, /v1/health answers 200 and /v1/ready 503
# token_unavailable. A new server on the same socket: handshakes succeed
# again, verified against the certificate, without restarting vaultd,
# within a bounded time (polled; the time is printed). Two outages (1 s and
# 5 s), three more clients making handshakes all along (200 or a failed
# handshake, nothing else); only handshakes reach vaultd until /v1/ready is
# asked, so the failed signature alone must make vaultd notice the outage
# (one log line at each start and end). The token's PIN counter is untouched (no CKF_USER_PIN_COUNT_LOW,
# FINAL_TRY or LOCKED: no wrong PIN was ever offered) and the PIN appears in
# no log or output.
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/vaultd.sh"
vd_need
need_cmd curl
need_cmd p11-kit
need_cmd setsid
need_cmd pkcs11-tool

W=$PV_WORK
CFG=$W/vaultd.json
MODULE=
for m in /usr/lib/*/pkcs11/p11-kit-client.so /usr/lib/pkcs11/p11-kit-client.so; do
	[ -f "$m" ] && MODULE=$m && break
done
[ -n "$MODULE" ] || skip "p11-kit-client.so is not installed (Debian: p11-kit-modules)"

# The p11-kit server in front of SoftHSM, killed and started again (as
# tests/integration/token_outage.sh does with PV_OUTAGE_MODE=p11kit).
SOCK=$W/p11kit.sock
export P11_KIT_SERVER_ADDRESS="unix:path=$SOCK"
SRV_PID=
token_back() { # a p11-kit server for the test token on $SOCK
	local i
	setsid p11-kit server -f -n "$SOCK" --provider "$P11VAULT_MODULE" "$P11VAULT_TOKEN" \
		>>"$PV_OUT/p11kit-server.log" 2>&1 &
	SRV_PID=$!
	for ((i = 0; i < 100; i++)); do
		[ ! -S "$SOCK" ] || return 0
		sleep 0.05
	done
	fail "p11-kit server did not create $SOCK (log: $(cat "$PV_OUT/p11kit-server.log"))"
}
token_away() { # kill the server and its children (SIGKILL: no goodbye)
	[ -z "$SRV_PID" ] || kill -KILL -- "-$SRV_PID" 2>/dev/null || true
	[ -z "$SRV_PID" ] || wait "$SRV_PID" 2>/dev/null || true
	SRV_PID=
	rm -f "$SOCK"
}
trap 'touch "$W/stop"; vd_cleanup; token_away' EXIT

# token_flags_ok: SoftHSM's token (asked directly, not through the server)
# reports no failed login: no "PIN count low", "final try" or "locked".
token_flags() {
	pkcs11-tool --module "$SOFTHSM_MODULE" -L >"$W/token-info.out" 2>&1 || fail "pkcs11-tool -L failed"
	grep -i 'flags' "$W/token-info.out" || true
}
token_flags_ok() {
	local f
	f=$(token_flags)
	case $(printf '%s' "$f" | tr 'A-Z' 'a-z') in
	*"count low"* | *"final try"* | *locked*) fail "token flags after $1: $f" ;;
	esac
}

say "the token flags show a refused PIN (so the check below can fail)"
token_flags_ok "make-token"
PV_P11TOOL_PIN=not-the-pin pkcs11-tool --module "$SOFTHSM_MODULE" --token-label "$PV_TOKEN_LABEL" --login \
	--pin env:PV_P11TOOL_PIN -O >"$W/wrong-pin.out" 2>&1 && fail "pkcs11-tool logged in with a wrong PIN"
case $(token_flags | tr 'A-Z' 'a-z') in
*"count low"*) ;;
*) fail "a refused PIN left no 'PIN count low' in the token flags: $(token_flags)" ;;
esac
p11tool_login -O >"$W/right-pin.out" 2>&1 || fail "pkcs11-tool cannot log in with the PIN"
token_flags_ok "a good login"

say "a P-256 key of purpose sign for vaultd's TLS, and a certificate for it from a test CA"
run_expect 0 vc key create vd-tls --alg p256 --purpose sign
run_expect 0 vc key create out-sign --alg p256 --purpose sign
vc key show vd-tls --format pem >"$W/tls.pub.pem"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=test CA" \
	-keyout "$W/ca.key" -out "$W/ca.crt" >"$W/openssl.log" 2>&1 || fail "openssl: CA"
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >"$W/ext.cnf"
openssl x509 -new -subj "/CN=127.0.0.1" -force_pubkey "$W/tls.pub.pem" -CA "$W/ca.crt" -CAkey "$W/ca.key" \
	-days 2 -extfile "$W/ext.cnf" -out "$W/tls.crt" >>"$W/openssl.log" 2>&1 || {
	cat "$W/openssl.log" >&2
	fail "openssl: server certificate"
}
printf 'tls outage message\n' >"$W/msg"
MSG_B64=$(base64 -w0 "$W/msg")

token_back
PORT=$(vd_free_port)
TOK=$(vd_new_token)
vd_auth_header "$W/auth" "$TOK"
vd_base_config "[{\"name\": \"app\", \"auth\": {\"token_sha256\": \"$(vd_token_hash "$TOK")\"},
  \"rules\": [{\"ops\": [\"keys.read\", \"sign\"], \"keys\": [\"out-*\"]}]}]" >"$CFG"
vd_json_set "$CFG" "token.module=\"$MODULE\"" \
	"listen.tcp={\"address\": \"127.0.0.1:$PORT\", \"tls_cert\": \"$W/tls.crt\", \"tls_key\": \"p11vault:vd-tls\"}"

now_ms() { date +%s%3N; }
# handshake: one HTTPS request to /v1/health with the CA; its status on
# stdout (000: no TLS session, e.g. a failed handshake).
handshake() {
	curl -sS --max-time 15 --cacert "$W/ca.crt" -o /dev/null -w '%{http_code}' \
		"https://127.0.0.1:$PORT/v1/health" 2>>"$PV_OUT/curl${CURL_TAG:-}.err" || true
}
# s_client_ok TAG: TLS 1.3 and 1.2 handshakes verified by openssl s_client,
# the certificate served being ours.
s_client_ok() {
	local v
	for v in -tls1_3 -tls1_2; do
		timeout 20 openssl s_client -connect "127.0.0.1:$PORT" "$v" -CAfile "$W/ca.crt" \
			-verify_return_error </dev/null >"$PV_OUT/s_client-$1$v.out" 2>&1 || {
			cat "$PV_OUT/s_client-$1$v.out" >&2
			fail "openssl s_client $v ($1)"
		}
		assert_contains "$PV_OUT/s_client-$1$v.out" "Verify return code: 0 (ok)" "s_client $v ($1)"
	done
}
sign_once() { # status of one POST sign over the Unix socket
	vd_curl -H @"$W/auth" -X POST -o "$W/sign.json" -w '%{http_code}' --max-time 10 \
		-d "{\"input_b64\":\"$MSG_B64\",\"format\":\"der\"}" /v1/keys/out-sign/sign 2>/dev/null || echo 000
}
alive() { [ -z "$(vd_exited || true)" ] || fail "vaultd exited ($1): $(cat "$VD_LOG")"; }

say "vaultd on p11-kit-client.so with its TLS key on the token: handshakes verify"
vd_start "$CFG"
assert_eq "$(handshake)" 200 "health over TLS before any outage"
s_client_ok before

# outage SECONDS
outage() {
	local secs=$1 t0 t1 st i ok dt max=0
	say "a ${secs} s outage: the p11-kit server killed"
	token_away
	t0=$(now_ms)
	# Handshakes fail and end quickly, for as long as the token is away.
	# Only handshakes reach vaultd until the token is back: the failed
	# signature itself makes vaultd notice the outage.
	i=0
	while [ $(($(now_ms) - t0)) -lt $((secs * 1000)) ]; do
		t1=$(now_ms)
		st=$(handshake)
		dt=$(($(now_ms) - t1))
		assert_eq "$st" 000 "an HTTPS request while the token is away"
		[ "$dt" -lt 5000 ] || fail "a handshake during the outage took $dt ms"
		[ "$dt" -le "$max" ] || max=$dt
		alive "handshake during the outage"
		i=$((i + 1))
		sleep 0.1
	done
	[ "$i" -ge 2 ] || fail "only $i handshakes tried during the outage"
	if timeout 20 openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$W/ca.crt" -verify_return_error \
		</dev/null >"$PV_OUT/s_client-outage$secs.out" 2>&1; then
		fail "openssl s_client completed a handshake while the token was away"
	fi
	assert_contains "$PV_OUT/s_client-outage$secs.out" "no peer certificate available"
	echo "$i handshakes during the outage, each failed (the slowest in $max ms)"
	# vaultd itself: alive, healthy, not ready (the handshakes alone told it)
	vd_call GET /v1/ready
	assert_eq "$VD_STATUS" 503 "/v1/ready during the outage"
	assert_eq "$(vd_error_code)" token_unavailable
	vd_call GET /v1/health
	assert_eq "$VD_STATUS" 200 "/v1/health during the outage"
	st=$(sign_once)
	assert_eq "$st" 503 "sign during the outage"
	token_back
	t0=$(now_ms)
	ok=0
	while [ $(($(now_ms) - t0)) -lt 10000 ]; do
		st=$(handshake)
		if [ "$st" = 200 ]; then
			ok=1
			break
		fi
		alive "handshake after the token's return"
		sleep 0.05
	done
	t1=$(now_ms)
	[ "$ok" = 1 ] || fail "no handshake succeeded within 10 s of the token's return (last status $st)"
	echo "handshakes back $((t1 - t0)) ms after the token returned (${secs} s outage)"
	echo "$secs $((t1 - t0))" >>"$W/recovery-times"
	s_client_ok "after$secs"
	for ((i = 0; i < 5; i++)); do
		assert_eq "$(handshake)" 200 "health over TLS after the ${secs} s outage"
	done
	t0=$(now_ms)
	while [ "$(sign_once)" != 200 ]; do
		[ $(($(now_ms) - t0)) -lt 10000 ] || fail "signing not back 10 s after the token returned"
		sleep 0.05
	done
	vd_call GET /v1/ready
	assert_eq "$VD_STATUS" 200 "/v1/ready after the outage"
}

# Meanwhile 3 clients make handshakes in a loop (concurrent handshakes
# while the key is imported again): each answer is 200 or a failed
# handshake, and vaultd stays up.
rm -f "$W/stop"
load_pids=
for n in 1 2 3; do
	(CURL_TAG=-load$n; while [ ! -e "$W/stop" ]; do
		handshake >>"$W/load$n.status"
		echo >>"$W/load$n.status"
	done) &
	load_pids="$load_pids $!"
done
outage 1
outage 5
touch "$W/stop"
for p in $load_pids; do wait "$p" || true; done
cat "$W"/load*.status | sort | uniq -c >"$W/load.tally"
echo "concurrent handshakes (count status): $(tr '\n' ' ' <"$W/load.tally")"
if grep -vE '^ *[0-9]+ (200|000)$' "$W/load.tally" >/dev/null; then
	fail "a concurrent request got neither 200 nor a failed handshake: $(cat "$W/load.tally")"
fi
grep -qE '^ *[0-9]+ 200$' "$W/load.tally" || fail "no concurrent handshake succeeded"
grep -qE '^ *[0-9]+ 000$' "$W/load.tally" || fail "no concurrent handshake failed during the outages"

say "every failed request failed in the handshake; one log line per outage start and end"
for f in "$PV_OUT"/curl*.err; do
	[ -s "$f" ] || fail "no curl error recorded in $f"
done
if grep -hv '^curl: (35) ' "$PV_OUT"/curl*.err >"$W/curl-other.out"; then
	fail "a request failed other than in the TLS handshake: $(head -3 "$W/curl-other.out")"
fi
assert_eq "$(grep -c 'token outage: the token is unavailable' "$VD_LOG")" 2 "outage start lines"
assert_eq "$(grep -c 'token outage ended after' "$VD_LOG")" 2 "outage end lines"

say "vaultd was never restarted: one process, SIGTERM exits 0"
assert_eq "$vd_starts" 1 "vaultd starts"
assert_eq "$(vd_stop)" 0 "exit status after SIGTERM"

say "no PIN was offered wrongly: the token flags show no failed login"
token_flags_ok "the outages"

say "the PIN appears in no log or output"
pin=$(cat "$PV_USER_PIN_FILE")
[ -n "$pin" ] || fail "no PIN file"
n=0
for f in "$PV_OUT"/* "$W"/*.out "$W"/*.log; do
	[ -f "$f" ] || continue
	assert_no_pin_in "$f"
	n=$((n + 1))
done
echo "$n files checked for the PIN"
vd_assert_no_token "$TOK"
echo "recovery times (outage seconds, ms to the first good handshake):"
cat "$W/recovery-times"
echo "vaultd_tls_outage: ok"
