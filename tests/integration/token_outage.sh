#!/bin/bash
# Token outages against a running vaultd (docs/operations.md "Token outage",
# docs/api.md): the token is pulled away through the fault-injection shim
# (tests/faultmod: while $PV_FAULT_AWAY_FILE exists C_GetSlotList lists no
# token, slot calls fail with CKR_SLOT_ID_INVALID and session calls with
# CKR_DEVICE_REMOVED, as a p11-kit client whose server died). Under load
# from several clients: outages of 1 s and 10 s; meanwhile 503
# token_unavailable with Retry-After, /v1/ready 503, /v1/health and
# /metrics answering; one log line at each start and end; signing back
# within a few seconds of the token's return without a restart (the time is
# printed); every signature returned verified by OpenSSL; SIGTERM exits 0.
# Then start-up without the token: exit 3 with a clear message, or
# --wait-for-token. With PV_OUTAGE_MODE=p11kit (token_outage_p11kit.sh) the
# same test runs with SoftHSM behind `p11-kit server` and vaultd on
# p11-kit-client.so: the outage is the server killed, the return a new
# server on the same socket. With PV_OUTAGE_MODE=tokendir
# (token_outage_dir.sh) vaultd runs on SoftHSM directly and the outage is
# the token's directory moved away, the return moved back.
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/vaultd.sh"
vd_need
W=$PV_WORK
CFG=$W/vaultd.json
CLIENTS=4
MODE=${PV_OUTAGE_MODE:-shim}
case $MODE in
shim)
	MODULE=$top_builddir/tests/faultmod/.libs/libpvfault.so
	[ -f "$MODULE" ] || skip "fault-injection module $MODULE is not built"
	AWAY=$W/token-away
	export PV_FAULT_MODULE=$P11VAULT_MODULE PV_FAULT_AWAY_FILE=$AWAY
	token_away() { touch "$AWAY"; }
	token_back() { rm -f "$AWAY"; }
	;;
p11kit)
	need_cmd p11-kit
	MODULE=
	for m in /usr/lib/*/pkcs11/p11-kit-client.so /usr/lib/pkcs11/p11-kit-client.so; do
		[ -f "$m" ] && MODULE=$m && break
	done
	[ -n "$MODULE" ] || skip "p11-kit-client.so is not installed (Debian: p11-kit-modules)"
	SOCK=$W/p11kit.sock
	export P11_KIT_SERVER_ADDRESS="unix:path=$SOCK"
	SRV_PID=
	# The server runs a p11-kit-remote child per connection: it gets a
	# process group of its own, and the whole group is killed.
	need_cmd setsid
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
	token_away() { # kill the server (SIGKILL: no goodbye to the clients)
		[ -z "$SRV_PID" ] || kill -KILL -- "-$SRV_PID" 2>/dev/null || true
		[ -z "$SRV_PID" ] || wait "$SRV_PID" 2>/dev/null || true
		SRV_PID=
		rm -f "$SOCK"
	}
	trap 'vd_cleanup; token_away' EXIT
	token_back
	;;
tokendir)
	# SoftHSM's own token directory moved away and back (a storage volume
	# that vanishes for a while): vaultd on SoftHSM itself, no shim.
	MODULE=$P11VAULT_MODULE
	TOKDIR=$(sed -n 's/^directories\.tokendir *= *//p' "$SOFTHSM2_CONF")
	[ -d "$TOKDIR" ] || fail "no tokendir in $SOFTHSM2_CONF"
	TOKSUB=$(find "$TOKDIR" -mindepth 1 -maxdepth 1 -type d | head -n 1)
	[ -n "$TOKSUB" ] || fail "no token directory under $TOKDIR"
	token_away() { mv "$TOKSUB" "$W/token-moved-away"; }
	token_back() { [ ! -d "$W/token-moved-away" ] || mv "$W/token-moved-away" "$TOKSUB"; }
	trap 'vd_cleanup; token_back' EXIT
	;;
*) fail "PV_OUTAGE_MODE=$MODE: shim, p11kit or tokendir" ;;
esac

run_expect 0 vc key create out-sign --alg p256 --purpose sign
pub_pem out-sign "$W/out.pem"
printf 'outage message\n' >"$W/msg"
MSG_B64=$(base64 -w0 "$W/msg")
TOK=$(vd_new_token)
vd_auth_header "$W/auth" "$TOK"
vd_base_config "[{\"name\": \"app\", \"auth\": {\"token_sha256\": \"$(vd_token_hash "$TOK")\"},
  \"rate\": {\"per_second\": 10000, \"burst\": 10000},
  \"rules\": [{\"ops\": [\"keys.read\", \"sign\"], \"keys\": [\"out-*\"]}]}]" >"$CFG"
# A checkpoint (a MAC on the token) every 50 lines: several fall due
# during the outages; they are deferred, never skipped (docs/audit.md).
vd_json_set "$CFG" "token.module=\"$MODULE\"" 'audit.checkpoint_every=50'
# SoftHSM signs with a session copy from memory while its directory is away
# (docs/config.md, token.session_key_copies): this mode tests the outage path.
[ "$MODE" != tokendir ] || vd_json_set "$CFG" 'token.session_key_copies=false'

sign_once() { # OUT-FILE: POST sign, status on stdout
	vd_curl -H @"$W/auth" -X POST -o "$1" -w '%{http_code}' --max-time 10 \
		-d "{\"input_b64\":\"$MSG_B64\",\"format\":\"der\"}" /v1/keys/out-sign/sign 2>/dev/null || echo 000
}

# client N: sign in a loop until $W/stop exists; every answer kept.
client() {
	local n=$1 i=0 st
	mkdir -p "$W/c$n"
	while [ ! -e "$W/stop" ]; do
		i=$((i + 1))
		st=$(sign_once "$W/c$n/$i.json")
		printf '%s %s\n' "$i" "$st" >>"$W/c$n/status"
		sleep 0.05
	done
}

now_ms() { date +%s%3N; }

# outage SECONDS: pull the token, check what vaultd says meanwhile, put it
# back, measure how long until a sign succeeds again.
outage() {
	local secs=$1 t0 t1 st
	say "a ${secs} s token outage under load ($MODE)"
	token_away
	sleep 0.5
	vd_call POST /v1/keys/out-sign/sign -H @"$W/auth" -d "{\"input_b64\":\"$MSG_B64\"}"
	assert_eq "$VD_STATUS" 503 "sign during the outage"
	assert_eq "$(vd_error_code)" token_unavailable
	[ -n "$(vd_header Retry-After)" ] || fail "503 token_unavailable without Retry-After"
	vd_call GET /v1/ready
	assert_eq "$VD_STATUS" 503 "/v1/ready during the outage"
	assert_eq "$(vd_error_code)" token_unavailable
	assert_contains "$VD_BODY" "outage"
	vd_call GET /v1/health
	assert_eq "$VD_STATUS" 200 "/v1/health during the outage"
	vd_call GET /metrics -H @"$W/auth"
	assert_eq "$VD_STATUS" 200 "/metrics during the outage"
	assert_contains "$VD_BODY" "p11vault_token_available 0"
	# a request during the outage fails fast (no retrying for seconds inside it)
	t0=$(now_ms)
	st=$(sign_once "$W/fast.json")
	t1=$(now_ms)
	assert_eq "$st" 503 "sign during the outage"
	[ $((t1 - t0)) -lt 1000 ] || fail "a request during the outage took $((t1 - t0)) ms"
	sleep "$(python3 -c "print(max(0, $secs - 0.5))")"
	token_back
	t0=$(now_ms)
	while :; do
		st=$(sign_once "$W/back.json")
		[ "$st" != 200 ] || break
		[ $(($(now_ms) - t0)) -lt 5000 ] || fail "signing not back 5 s after the token returned (status $st)"
		sleep 0.02
	done
	t1=$(now_ms)
	echo "recovery after a ${secs} s outage: signing back $((t1 - t0)) ms after the token returned"
	echo "$secs $((t1 - t0))" >>"$W/recovery-times"
	vd_call GET /v1/ready
	assert_eq "$VD_STATUS" 200 "/v1/ready after the outage"
}

vd_start "$CFG"
vd_expect 200 GET /v1/ready
rm -f "$W/stop"
client_pids=
for ((n = 1; n <= CLIENTS; n++)); do
	client "$n" &
	client_pids="$client_pids $!"
done
sleep 1
outage 1
sleep 1
outage 10
sleep 1
touch "$W/stop"
for p in $client_pids; do wait "$p" || true; done

say "metrics count the outages and their length"
vd_call GET /metrics -H @"$W/auth"
assert_eq "$VD_STATUS" 200
assert_contains "$VD_BODY" "p11vault_token_available 1"
assert_contains "$VD_BODY" "p11vault_token_outages_total 2"
secs=$(sed -n 's/^p11vault_token_outage_seconds_total //p' "$VD_BODY")
python3 -c "import sys; s=float(sys.argv[1]); sys.exit(0 if 10.5 <= s <= 30 else 1)" "$secs" ||
	fail "p11vault_token_outage_seconds_total is $secs, want about 11"

say "one log line at the start and one at the end of each outage"
assert_eq "$(grep -c 'token outage: the token is unavailable' "$VD_LOG")" 2 "outage start lines"
assert_eq "$(grep -c 'token outage ended after' "$VD_LOG")" 2 "outage end lines"

say "every answer under load is 200 or 503 token_unavailable; every signature verifies"
mkdir -p "$W/sigs"
python3 - "$W" "$CLIENTS" >"$W/tally" <<'PY' || fail "an answer under load was neither 200 nor 503 token_unavailable"
import base64, json, sys
w, clients = sys.argv[1], int(sys.argv[2])
n200 = n503 = 0
for c in range(1, clients + 1):
    for line in open(f"{w}/c{c}/status"):
        i, st = line.split()
        body = f"{w}/c{c}/{i}.json"
        if st == "200":
            sig = base64.b64decode(json.load(open(body))["signature_b64"])
            open(f"{w}/sigs/{c}-{i}.der", "wb").write(sig)
            n200 += 1
        elif st == "503":
            code = json.load(open(body))["error"]["code"]
            if code != "token_unavailable":
                sys.exit(f"client {c} answer {i}: 503 {code}")
            n503 += 1
        else:
            sys.exit(f"client {c} answer {i}: status {st}")
print(n200, n503)
PY
read -r n200 n503 <"$W/tally"
for f in "$W"/sigs/*.der; do
	ossl_verify_ecdsa sha256 "$W/out.pem" "$W/msg" "$f" || fail "OpenSSL rejects signature $(basename "$f")"
done
echo "under load: $n200 signatures verified, $n503 answers 503 token_unavailable"
if [ "$n200" -eq 0 ] || [ "$n503" -eq 0 ]; then
	fail "the load saw no outage or no signature"
fi

say "SIGTERM after outages exits 0"
assert_eq "$(vd_stop)" 0 "exit status after SIGTERM"

say "the audit log verifies, checkpoints deferred during the outages included"
assert_contains "$PV_OUT/audit.log" '"deferred"' "no checkpoint was deferred during the outages"
run_expect 0 vc audit verify "$PV_OUT/audit.log"

say "start-up without the token: exit 3 and a clear message"
token_away
vd_launch --config "$CFG"
assert_eq "$(vd_wait_exit 200)" 3 "vaultd without its token"
assert_contains "$VD_LOG" "the token is not available"
assert_contains "$VD_LOG" "--wait-for-token"

say "--wait-for-token: starts once the token appears"
vd_launch --config "$CFG" --wait-for-token 30
sleep 1.5
[ -z "$(vd_exited || true)" ] || fail "vaultd --wait-for-token exited while waiting: $(cat "$VD_LOG")"
token_back
vd_wait_health || fail "vaultd --wait-for-token did not come up: $(cat "$VD_LOG")"
vd_expect 200 GET /v1/ready
st=$(sign_once "$W/late.json")
assert_eq "$st" 200 "sign after a late token"
assert_eq "$(vd_stop)" 0 "exit status after SIGTERM"

say "--wait-for-token that runs out: exit 3; SIGTERM while waiting: exit 0"
token_away
vd_launch --config "$CFG" --wait-for-token 1
assert_eq "$(vd_wait_exit 200)" 3 "vaultd --wait-for-token 1 without its token"
vd_launch --config "$CFG" --wait-for-token 60
sleep 1
assert_eq "$(vd_stop)" 0 "SIGTERM while waiting for the token"

vd_assert_no_token "$TOK"
echo "recovery times (outage seconds, ms to first signature):"
cat "$W/recovery-times"
