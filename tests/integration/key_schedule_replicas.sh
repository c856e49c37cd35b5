#!/bin/bash
# Scheduled rotation run by vaultd (docs/jwt.md "Scheduled rotation in
# vaultd"): three simulated days and a bit (80 hours) of a daily schedule
# on a `jwt` key (p256, ES256; publish-ahead 4 h, retire-after 6 h, the
# rule's max_ttl 2 h) with two vaultd replicas, A and B, sharing one
# SoftHSM token behind `p11-kit server` (both on p11-kit-client.so, as in
# token_outage_p11kit.sh). The clock is moved in steps of one hour through
# P11VAULT_TEST_CLOCK_FILE (re-read at every clock read, so the running
# replicas follow); after each move the test waits (polling, bounded) for the
# step the schedule makes due, if any. Timeline (hours after the key's
# creation):
#   20 publish v2 (both up); 22 B stopped; 24 activate v2 (A alone);
#   26 B started again; 30 retire v1; 43 both stopped; 44 publish v3 due
#   while every replica is down; 46 both started: publish v3 at the first
#   sweep; 49 token away (the p11-kit server killed); 50 activate v3 due
#   (publish-ahead after the late publish); 52 token back: activate v3, late,
#   with activated = the due time; 57 A stopped; 58 retire v2 (B alone);
#   59 A started again; 70 publish v4 (one day after
#   v3's due time, not its late activation: no drift); 74 activate v4;
#   80 retire v3, first with the key's change lock held by another writer
#   (a lock object written by pkcs11-tool): each replica gives up after
#   its 60 s wait and logs the failed step once, and once the lock is gone
#   the step is done at a later sweep.
# Throughout, at every hour, each replica that is up serves the JWK Set
# (fetched right after the move, before the step, and again after it) and
# issues an ES256 token; every token verifies with the npm `jose` library
# against every JWK Set fetched at an earlier moment within its max-age
# (Cache-Control, in simulated time) and against every one fetched later
# while the token is still valid (tests/interop/jwt_schedule.mjs). Each
# step is in the two replicas' audit logs together exactly once
# (key.schedule.publish/activate/retire, client vaultd, with the version),
# in the expected order; no version number is duplicated (key list, the
# token's objects, key repair finds nothing); the schedule survives the
# restarts; `vaultctl audit verify` passes on both logs.
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/vaultd.sh"
. "$top_srcdir/tests/lib/interop.sh"
vd_need
need_cmd p11-kit
need_cmd setsid
need_cmd basenc
W=$PV_WORK
KEY=ks-jwt
ISS=https://issuer.schedule.test
AUD=schedule
TTL=7200
HOURS=76

say "jose from tests/interop (npm ci into the build tree)"
interop_node_setup tests/interop/jwt_schedule.mjs
echo "node $(node --version), jose $(json_get "$NODE_DIR/node_modules/jose/package.json" version)"

MODULE=
for m in /usr/lib/*/pkcs11/p11-kit-client.so /usr/lib/pkcs11/p11-kit-client.so; do
	[ -f "$m" ] && MODULE=$m && break
done
[ -n "$MODULE" ] || skip "p11-kit-client.so is not installed (Debian: p11-kit-modules)"

# The test clock: the offset in $W/clock, read by every process at every
# clock read (vaultctl too: versions' created/activated/demoted times).
CLOCK=$W/clock
echo 0 >"$CLOCK"
export P11VAULT_TEST_CLOCK_FILE=$CLOCK
OFF=0
set_hour() { # H: the clock H hours after the key's creation
	OFF=$(($1 * 3600))
	echo "$OFF" >"$CLOCK.tmp"
	mv "$CLOCK.tmp" "$CLOCK"
	HOUR=$1
}
sim_now() { echo $(($(date +%s) + OFF)); }

# ---- the token behind p11-kit server ----
SOCK=$W/p11kit.sock
export P11_KIT_SERVER_ADDRESS="unix:path=$SOCK"
SRV_PID=
token_back() {
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
token_away() { # SIGKILL the server and its per-connection children
	[ -z "$SRV_PID" ] || kill -KILL -- "-$SRV_PID" 2>/dev/null || true
	[ -z "$SRV_PID" ] || wait "$SRV_PID" 2>/dev/null || true
	SRV_PID=
	rm -f "$SOCK"
}

# ---- the two replicas ----
declare -A R_PID R_RC R_SOCK R_LOG UP KIDS
UP[A]=0
UP[B]=0
use() { # X: point the vd_* helpers at replica X
	VD_PID=${R_PID[$1]:-}
	VD_RCFILE=${R_RC[$1]:-}
	VD_SOCK=${R_SOCK[$1]:-}
	VD_LOG=${R_LOG[$1]:-}
}
launch() { # X: start replica X (no wait)
	VD_SOCK=$W/$1.sock
	vd_launch --config "$W/$1.json"
	R_PID[$1]=$VD_PID
	R_RC[$1]=$VD_RCFILE
	R_SOCK[$1]=$VD_SOCK
	R_LOG[$1]=$VD_LOG
}
ready() { # X: wait until replica X answers
	use "$1"
	vd_wait_health || {
		cat "$VD_LOG" >&2
		fail "replica $1 did not come up (log above)"
	}
	UP[$1]=1
}
stop_replica() { # X
	local rc
	use "$1"
	rc=$(vd_stop)
	assert_eq "$rc" 0 "exit status of replica $1 at SIGTERM"
	R_PID[$1]=
	UP[$1]=0
}
cleanup() {
	local x
	for x in A B; do
		use "$x"
		vd_cleanup
	done
	token_away
}
trap cleanup EXIT

token_back
vd_audit_key
BEARER=$(vd_new_token)
vd_auth_header "$W/auth.hdr" "$BEARER"
for x in A B; do
	vd_base_config "[{\"name\": \"issuer\",
    \"auth\": {\"token_sha256\": \"$(vd_token_hash "$BEARER")\"},
    \"rules\": [{\"ops\": [\"jwt.issue\"], \"keys\": [\"$KEY\"], \"max_ttl\": $TTL, \"audiences\": [\"$AUD\"]}],
    \"rate\": {\"per_second\": 1000, \"burst\": 1000}}]" \
		"\"jwt\": {\"issuer\": \"$ISS\", \"default_ttl\": 300}" >"$W/$x.json"
	vd_json_set "$W/$x.json" "token.module=\"$MODULE\"" "listen.unix.path=\"$W/$x.sock\"" \
		"audit.file=\"$PV_OUT/audit-$x.log\""
	json_valid "$W/$x.json"
done

say "a jwt key with a daily schedule (publish-ahead 4 h, retire-after 6 h; the rule's max_ttl 2 h)"
run_expect 0 vc key create "$KEY" --alg p256 --purpose jwt
# raw_meta OUT: the key's metadata object as the token holds it (read by
# pkcs11-tool, not by our code)
raw_meta() {
	p11tool_login --read-object --type data --label "$KEY" --application-label p11vault -o "$1" \
		>"$W/p11tool.out" 2>&1 || fail "pkcs11-tool cannot read the metadata of $KEY"
}
run_expect 0 vc key schedule "$KEY" --every 1d --publish-ahead 4h --retire-after 6h --vaultd-config "$W/A.json"
cat "$RUN_OUT"
raw_meta "$W/meta.0.json"
python3 - "$W/meta.0.json" <<'EOF' || fail "the schedule in the key's metadata"
import json, sys
s = json.load(open(sys.argv[1]))["schedule"]
assert (s["every"], s["publish_ahead"], s["retire_after"]) == (86400, 14400, 21600), s
EOF
set_hour 0
launch A
launch B
ready A
ready B

# ---- observations ----
OBS=$W/observations.jsonl
: >"$OBS"
# fetch_jwks X: GET the JWK Set from X, recorded with the simulated time
# after the fetch and its Cache-Control max-age.
fetch_jwks() {
	local t ma
	use "$1"
	vd_expect 200 GET /.well-known/jwks.json
	t=$(sim_now)
	ma=$(vd_header Cache-Control | sed -n 's/.*max-age=\([0-9][0-9]*\).*/\1/p')
	[ -n "$ma" ] || fail "replica $1: JWK Set without a Cache-Control max-age"
	python3 - "$VD_BODY" "$t" "$1" "$ma" >>"$OBS" <<'EOF'
import json, sys
print(json.dumps({"kind": "jwks", "t": int(sys.argv[2]), "from": sys.argv[3], "max_age": int(sys.argv[4]),
                  "jwks": json.load(open(sys.argv[1]))}, separators=(",", ":")))
EOF
}
# issue X: a token from X, recorded with the simulated time before the request.
issue() {
	local t
	use "$1"
	t=$(sim_now)
	vd_expect 200 POST "/v1/jwt/$KEY/issue" -H @"$W/auth.hdr" -H 'Content-Type: application/json' \
		--data-binary "{\"claims\": {\"sub\": \"h$HOUR\", \"aud\": \"$AUD\"}, \"ttl\": $TTL}"
	python3 - "$VD_BODY" "$t" "$1" "$TTL" >>"$OBS" <<'EOF'
import json, sys
print(json.dumps({"kind": "token", "t": int(sys.argv[2]), "from": sys.argv[3], "ttl": int(sys.argv[4]),
                  "token": json.load(open(sys.argv[1]))["token"]}, separators=(",", ":")))
EOF
}

# schedule records in both audit logs, "op version" per line, in log order
sched_records() {
	vd_sched_records A B | sort
}

# The steps the schedule makes due, by hour: "hour op version".
cat >"$W/expected" <<'EOF'
20 key.schedule.publish 2
24 key.schedule.activate 2
30 key.schedule.retire 1
46 key.schedule.publish 3
52 key.schedule.activate 3
58 key.schedule.retire 2
70 key.schedule.publish 4
74 key.schedule.activate 4
80 key.schedule.retire 3
EOF
expected_by() { awk -v h="$1" '$1 <= h' "$W/expected" | wc -l; }

# published: how many versions the metadata publishes (next, active,
# verify-only), for the JWK Sets to converge on
published() {
	list_keys >/dev/null
	awk -v n="$KEY" '$1 == n && ($4 == "next" || $4 == "active" || $4 == "verify-only")' "$KEYS_ROWS" | wc -l
}

# settle: wait (at most 40 s) until the audit logs hold the steps due by
# now, then until every replica that is up serves a JWK Set of exactly the
# published versions.
settle() {
	local want got i n x k ok
	want=$(expected_by "$HOUR")
	for ((i = 0; i < 400; i++)); do
		got=$(sched_records | wc -l)
		[ "$got" -lt "$want" ] || break
		sleep 0.1
	done
	[ "$got" = "$want" ] || {
		sched_records >&2
		fail "hour $HOUR: $got schedule records in the audit logs, want $want"
	}
	[ "$(awk -v h="$HOUR" '$1 == h' "$W/expected" | wc -l)" != 0 ] || return 0
	n=$(published)
	for ((i = 0; i < 400; i++)); do
		ok=1
		for x in A B; do
			[ "${UP[$x]}" = 1 ] || continue
			use "$x"
			vd_expect 200 GET /.well-known/jwks.json
			k=$(python3 -c 'import json,sys; print(",".join(sorted(k["kid"] for k in json.load(open(sys.argv[1]))["keys"])))' "$VD_BODY")
			[ "$(echo "$k" | tr ',' '\n' | grep -c .)" = "$n" ] || ok=0
			KIDS[$x]=$k
		done
		[ "${UP[A]}${UP[B]}" != 11 ] || [ "${KIDS[A]}" = "${KIDS[B]}" ] || ok=0
		[ "$ok" = 0 ] || break
		sleep 0.1
	done
	[ "$ok" = 1 ] || fail "hour $HOUR: the replicas' JWK Sets do not both show the $n published versions within 40 s"
	echo "hour $HOUR: $(sched_records | tail -n 1 | awk '{ print $2, "v" $3, "by", $7 }'); JWK Sets: $n keys"
}

# tick: after a move, each replica up serves the JWK Set (before the
# step), the step is awaited, then each issues a token and serves the JWK
# Set again.
tick() {
	local x
	for x in A B; do [ "${UP[$x]}" = 0 ] || fetch_jwks "$x"; done
	settle
	for x in A B; do
		[ "${UP[$x]}" = 0 ] && continue
		issue "$x"
		fetch_jwks "$x"
	done
}

say "$HOURS simulated hours, one move per hour"
AWAY=0
for ((h = 1; h <= HOURS; h++)); do
	case $h in
	22)
		say "hour 22: replica B stopped"
		stop_replica B
		;;
	26)
		say "hour 26: replica B started again"
		;;
	43)
		say "hour 43: both replicas stopped (publish v3 falls due at 44 while none runs)"
		stop_replica A
		stop_replica B
		;;
	46)
		say "hour 46: both replicas started: the missed publish runs at the first sweep"
		;;
	49)
		say "hour 49: token away (p11-kit server killed)"
		token_away
		AWAY=1
		;;
	52)
		say "hour 52: token back"
		;;
	57)
		say "hour 57: replica A stopped (B alone retires v2 at 58)"
		stop_replica A
		;;
	59)
		say "hour 59: replica A started again"
		;;
	esac
	set_hour "$h"
	case $h in
	26)
		launch B
		ready B
		;;
	46)
		launch A
		launch B
		ready A
		ready B
		;;
	52)
		token_back
		AWAY=0
		;;
	59)
		launch A
		ready A
		;;
	esac
	if [ "$AWAY" = 1 ]; then
		# the token is away: requests get 503, no step is made
		use B
		vd_call POST "/v1/jwt/$KEY/issue" -H @"$W/auth.hdr" -H 'Content-Type: application/json' \
			--data-binary "{\"claims\": {\"aud\": \"$AUD\"}, \"ttl\": 60}"
		assert_eq "$VD_STATUS" 503 "hour $h: issue while the token is away"
		settle
		continue
	fi
	tick
done

say "hour 80: the key's change lock held by another writer: the retirement of v3 fails, is logged, and is done once the lock is gone"
# a lock object as vaultctl writes one (docs/architecture.md "Concurrent key
# changes"), written by pkcs11-tool and fresh (wall clock): each replica
# waits for it (60 s) and gives up
printf '00112233445566778899aabbccddeeff %s' "$(date +%s)" >"$W/lock.val"
p11tool_login --write-object "$W/lock.val" --type data --label "$KEY" --application-label p11vault-lock \
	--private >"$W/p11tool.out" 2>&1 || fail "pkcs11-tool cannot write a lock object: $(cat "$W/p11tool.out")"
set_hour 80
FAILED="key schedule: key '$KEY': the retire step failed, tried again at the next sweep: "
for ((i = 0; i < 1000; i++)); do
	[ "$(cat "${R_LOG[A]}" "${R_LOG[B]}" | grep -cF "$FAILED")" -lt 2 ] || break
	sleep 0.1
done
grep -hF "$FAILED" "${R_LOG[A]}" "${R_LOG[B]}" || true
assert_eq "$(grep -cF "$FAILED" "${R_LOG[A]}")" 1 "lines saying the step failed in A's log"
assert_eq "$(grep -cF "$FAILED" "${R_LOG[B]}")" 1 "lines saying the step failed in B's log"
assert_eq "$(sched_records | wc -l)" 8 "schedule records while the step fails"
p11tool_login --delete-object --type data --label "$KEY" --application-label p11vault-lock \
	>"$W/p11tool.out" 2>&1 || fail "pkcs11-tool cannot delete the lock object: $(cat "$W/p11tool.out")"
settle
for x in A B; do
	[ "$(grep -cF "$FAILED" "${R_LOG[$x]}")" = 1 ] || fail "replica $x logged the failed step more than once"
done

say "each step once in the two audit logs together, in order"
sleep 6 # one more sweep of each replica: nothing more is done
sched_records | tee "$PV_OUT/schedule-records" | awk '{ print $2, $3 }' >"$W/got"
awk '{ print $2, $3 }' "$W/expected" >"$W/want"
diff -u "$W/want" "$W/got" >&2 || fail "the schedule records differ from the expected steps (above)"
awk '$4 != "'"$KEY"'" || $5 != "vaultd" || $6 != "ok"' "$PV_OUT/schedule-records" | grep -q . &&
	fail "a schedule record with another key, client or outcome: $(cat "$PV_OUT/schedule-records")"
by_a=$(awk '$7 == "A"' "$PV_OUT/schedule-records" | wc -l)
by_b=$(awk '$7 == "B"' "$PV_OUT/schedule-records" | wc -l)
echo "steps by replica: A $by_a, B $by_b"
if [ "$by_a" = 0 ] || [ "$by_b" = 0 ]; then
	fail "one replica made every step (A $by_a, B $by_b)"
fi
n=$(cat "$PV_OUT"/vaultd*.log | grep -c '^vaultd: key schedule: key .* version [0-9]* (due ') || true
assert_eq "$n" 9 "log lines 'key schedule: ...' of both replicas"

say "the versions: 1 to 3 retired, 4 active; no number twice; nothing to repair"
assert_versions "$KEY" "1:retired 2:retired 3:retired 4:active"
p11_objects "$W/objs" --login
for cls in private-key public-key; do
	p11_object_versions "$W/objs" "$KEY" "$cls" | tr '\n' ' ' >"$W/$cls"
	assert_eq "$(cat "$W/$cls")" "1 2 3 4 " "${cls}s of $KEY on the token"
done
[ "$(grep -c "^data|$KEY|" "$W/objs")" = 1 ] || fail "$KEY has $(grep -c "^data|$KEY|" "$W/objs") metadata objects"
run_expect 0 vc key repair "$KEY"

say "the schedule survived the restarts; v3 activated at its due time (no drift)"
raw_meta "$W/meta.end.json"
python3 - "$W/meta.end.json" <<'EOF' || fail "the key's metadata after the run"
import json, sys, datetime
k = json.load(open(sys.argv[1]))
s = k["schedule"]
assert (s["every"], s["publish_ahead"], s["retire_after"]) == (86400, 14400, 21600), s
vs = {v["version"]: v for v in k["versions"]}
t = lambda x: datetime.datetime.strptime(x, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()
# v3 was published late (at 46 h) and activated late (at 52 h, the token
# away at its due time 50 h): activated = its due time, publish-ahead less
# the 60 s grace (PV_SCHEDULE_GRACE) after its creation, not the late 52 h
d = t(vs[3]["activated"]) - t(vs[3]["created"])
assert d == 14400 - 60, "v3 activated %d s after it was created, want 14340" % d
# v4 activates one period after v3's due time
d = t(vs[4]["activated"]) - t(vs[3]["activated"])
assert 86400 <= d < 86400 + 3600, "v4 activated %d s after v3" % d
EOF

say "jose: every token against every JWK Set fetched before it within max-age, and after it while valid"
run_expect 0 node "$NODE_DIR/jwt_schedule.mjs" --log "$OBS" --issuer "$ISS" --audience "$AUD"
cat "$RUN_OUT"
cp "$RUN_OUT" "$PV_OUT/jose-summary"
python3 - "$RUN_OUT" <<'EOF' || fail "the jose check checked too little (above)"
import re, sys
t = open(sys.argv[1]).read()
n = lambda k: int(re.search(k + r" (\d+)", t).group(1))
assert n("signing kids") == 4, "tokens were signed by %d versions, want 4" % n("signing kids")
assert n("JWK Set earlier within max-age") >= 100 and n("later within the token's lifetime") >= 100
assert n("key gone long after expiry") > 0, "no retired key ever left the JWK Set"
EOF

say "vaultctl audit verify on both logs"
for x in A B; do
	stop_replica "$x"
	run_expect 0 vc audit verify "$PV_OUT/audit-$x.log"
done
