#!/bin/bash
# A clock-skewed replica (docs/jwt.md "Scheduled rotation in vaultd",
# "Clocks"; docs/operations.md "Rotation on a schedule"): two vaultd
# replicas, A and B, on one SoftHSM token, each with its own test clock file
# (P11VAULT_TEST_CLOCK_FILE); A's clock is SKEW (30 min) ahead of B's, and
# vaultctl uses B's. A `jwt` key (p256) rotates daily (publish-ahead 4 h,
# retire-after 6 h). Timeline in B's hours after the key's creation (A's
# clock +0.5 h), each move written atomically (file + rename), each step
# awaited by polling:
#   19.5  only A is past the publish of v2 (due at 20): A publishes it;
#   20    B past it too: B does not publish again;
#   23.5  only A is past the activation of v2 (due at 24): A activates it;
#   24    B does not activate again; A stopped;
#   29.5  the retirement of v1 is due on A's clock (6 h after A demoted v1,
#         stamped with A's clock) but not on B's: B does nothing;
#   30    B retires v1 (late by the skew); A started again: it does not
#         retire v1 again;
#   44    both past the publish of v3: exactly one of them publishes it.
# That a replica swept after a move is shown, not slept for: the test
# disables (or enables) a second key and waits until the replica's audit
# log has the key.disable (key.enable) record, which it writes at a sweep
# begun after the change. At the end, both replicas stopped, each step is
# in the two audit logs together exactly once (the first three by the
# replica named above), the vaultd log lines agree, `vaultctl audit verify`
# passes on both logs, the versions are 1 retired, 2 active, 3 next with
# one key pair each on the token, and `vaultctl key repair` (dry run) finds
# nothing.
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/vaultd.sh"
vd_need
need_cmd pkcs11-tool
W=$PV_WORK
KEY=ks-jwt
MARK=marker
SKEW=1800
H=3600

# ---- one clock file per replica; vaultctl uses B's ----
export P11VAULT_TEST_CLOCK_FILE=$W/clock.B
write_clock() { # FILE OFFSET (atomic)
	echo "$2" >"$1.tmp"
	mv "$1.tmp" "$1"
}
set_clock() { # TB: B's offset TB seconds, A's TB + SKEW (A's first)
	write_clock "$W/clock.A" $(($1 + SKEW))
	write_clock "$W/clock.B" "$1"
	echo "clocks: B at $(($1 / 60)) min, A at $((($1 + SKEW) / 60)) min"
}
set_clock 0

# ---- the two replicas ----
declare -A R_PID R_RC R_SOCK R_LOG UP
UP[A]=0
UP[B]=0
use() { # X: point the vd_* helpers at replica X
	VD_PID=${R_PID[$1]:-}
	VD_RCFILE=${R_RC[$1]:-}
	VD_SOCK=${R_SOCK[$1]:-}
	VD_LOG=${R_LOG[$1]:-}
}
start_replica() { # X: start X on its own clock file, wait until it answers
	VD_SOCK=$W/$1.sock
	P11VAULT_TEST_CLOCK_FILE=$W/clock.$1 vd_launch --config "$W/$1.json"
	R_PID[$1]=$VD_PID R_RC[$1]=$VD_RCFILE R_SOCK[$1]=$VD_SOCK R_LOG[$1]=$VD_LOG
	vd_wait_health || {
		cat "$VD_LOG" >&2
		fail "replica $1 did not come up (log above)"
	}
	UP[$1]=1
}
stop_replica() { # X
	use "$1"
	assert_eq "$(vd_stop)" 0 "exit status of replica $1 at SIGTERM"
	R_PID[$1]=
	UP[$1]=0
}
trap 'for x in A B; do use $x; vd_cleanup; done' EXIT

vd_audit_key
for x in A B; do
	vd_base_config "[{\"name\": \"issuer\", \"auth\": {\"uid\": 4294967294},
    \"rules\": [{\"ops\": [\"jwt.issue\"], \"keys\": [\"$KEY\"], \"max_ttl\": 7200, \"audiences\": [\"a\"]}]}]" \
		'"jwt": {"issuer": "https://issuer.skew.test"}' >"$W/$x.json"
	vd_json_set "$W/$x.json" "listen.unix.path=\"$W/$x.sock\"" "audit.file=\"$PV_OUT/audit-$x.log\""
	json_valid "$W/$x.json"
done

say "a jwt key with a daily schedule; replica A's clock $((SKEW / 60)) min ahead of B's"
run_expect 0 vc key create "$KEY" --alg p256 --purpose jwt
run_expect 0 vc key schedule "$KEY" --every 1d --publish-ahead 4h --retire-after 6h --vaultd-config "$W/A.json"
cat "$RUN_OUT"
mkkey "$MARK" ed25519
start_replica A
start_replica B

# sched_records: the schedule records of both audit logs in time order,
# "op version key client outcome replica" each
sched_records() {
	vd_sched_records A B | sort -s -k1,1 | cut -d' ' -f2-
}
# expect_step N OP VERSION BY: wait (at most 20 s) for N schedule records;
# there must be exactly N, the last OP of VERSION by replica BY (any: either)
expect_step() {
	local i got last
	for ((i = 0; i < 200; i++)); do
		got=$(sched_records | wc -l)
		[ "$got" -lt "$1" ] || break
		sleep 0.1
	done
	sched_records >"$W/records"
	got=$(wc -l <"$W/records")
	last=$(tail -n 1 "$W/records")
	echo "records: $got; last: $last"
	[ "$got" = "$1" ] || {
		cat "$W/records" >&2
		fail "$got schedule records in the two audit logs, want $1"
	}
	case $last in
	"key.schedule.$2 $3 $KEY vaultd ok $4" | "key.schedule.$2 $3 $KEY vaultd ok "[AB]) ;;
	*) fail "record $1 is '$last', want $2 of version $3 by replica $4" ;;
	esac
	[ "$4" = any ] || [ "${last##* }" = "$4" ] || fail "record $1 is by replica ${last##* }, want $4"
}
# swept: each replica that is up sweeps after this moment: the marker key
# is disabled or enabled, and each writes the record at its next sweep (at
# most 8 s; asked once more for a replica that just started and took the
# change as its first view)
toggles() { grep -c '"op":"key\.\(disable\|enable\)"' "$PV_OUT/audit-$1.log" 2>/dev/null || true; }
MARK_OFF=0
swept() {
	local x i ok
	declare -A before
	for x in A B; do before[$x]=$(toggles "$x"); done
	for _ in 1 2; do
		if [ "$MARK_OFF" = 0 ]; then
			run_expect 0 vc key disable "$MARK"
			MARK_OFF=1
		else
			run_expect 0 vc key enable "$MARK"
			MARK_OFF=0
		fi
		for ((i = 0; i < 80; i++)); do
			ok=1
			for x in A B; do
				[ "${UP[$x]}" = 0 ] || [ "$(toggles "$x")" -gt "${before[$x]}" ] || ok=0
			done
			[ "$ok" = 0 ] || return 0
			sleep 0.1
		done
	done
	fail "a replica wrote no record of the marker key's change within two sweeps"
}
# nothing_more N: after a sweep of each replica that is up, still N records
nothing_more() {
	swept
	expect_step "$@"
}

say "19.5 h: only A is past the publish of v2 (due at 20 h): A publishes it, early by its skew"
set_clock $((39 * H / 2))
expect_step 1 publish 2 A
say "20 h: B past it too: B does not publish again"
set_clock $((20 * H))
nothing_more 1 publish 2 A
assert_versions "$KEY" "1:active 2:next"

say "23.5 h: only A is past the activation of v2 (due at 24 h): A activates it"
set_clock $((47 * H / 2))
expect_step 2 activate 2 A
say "24 h: B does not activate again"
set_clock $((24 * H))
nothing_more 2 activate 2 A
assert_versions "$KEY" "1:verify-only 2:active"

say "A stopped; 29.5 h: v1's retirement is due on A's clock, not on B's: B does nothing"
stop_replica A
set_clock $((59 * H / 2))
nothing_more 2 activate 2 A
say "30 h: B retires v1, late by the skew"
set_clock $((30 * H))
expect_step 3 retire 1 B
say "A started again (at 30.5 h): it does not retire v1 again"
start_replica A
nothing_more 3 retire 1 B
assert_versions "$KEY" "1:retired 2:active"

say "44 h: both past the publish of v3: exactly one publishes it"
set_clock $((44 * H))
expect_step 4 publish 3 any
nothing_more 4 publish 3 any

say "both stopped (every sweep finished): each step once in the two audit logs together"
stop_replica A
stop_replica B
sched_records | tee "$PV_OUT/schedule-records" | awk '{ print $1, $2, $6 }' >"$W/got"
last_by=$(tail -n 1 "$W/got" | cut -d' ' -f3)
printf '%s\n' "key.schedule.publish 2 A" "key.schedule.activate 2 A" "key.schedule.retire 1 B" \
	"key.schedule.publish 3 $last_by" >"$W/want"
diff -u "$W/want" "$W/got" >&2 || fail "the schedule records differ from the expected steps (above)"
n=$(cat "$PV_OUT"/vaultd*.log | grep -c "^vaultd: key schedule: key '$KEY': [a-z]* version [0-9]* (due ") || true
assert_eq "$n" 4 "log lines 'key schedule: ...' of both replicas"
for x in A B; do
	run_expect 0 vc audit verify "$PV_OUT/audit-$x.log"
done

say "the versions: 1 retired, 2 active, 3 next; no number twice; nothing to repair"
assert_versions "$KEY" "1:retired 2:active 3:next"
p11_objects "$W/objs" --login
for cls in private-key public-key; do
	p11_object_versions "$W/objs" "$KEY" "$cls" | tr '\n' ' ' >"$W/$cls"
	assert_eq "$(cat "$W/$cls")" "1 2 3 " "${cls}s of $KEY on the token"
done
[ "$(grep -c "^data|$KEY|" "$W/objs")" = 1 ] || fail "$KEY has $(grep -c "^data|$KEY|" "$W/objs") metadata objects"
run_expect 0 vc key repair
