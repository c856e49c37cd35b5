#!/bin/bash
# Audit log rotation (docs/audit.md §5, vaultd.8 SIGUSR1, operations.md
# "Log rotation"): the file is moved away while a client signs, SIGUSR1
# makes vaultd continue the same chain in a new file, twice; `vaultctl
# audit verify` accepts the files in order and refuses a file missing, out
# of order or given twice. Every 200 sign is in one of the files.
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/vaultd.sh"
vd_need
W=$PV_WORK
LOG=$PV_OUT/audit.log

run_expect 0 vc key create ec --alg p256 --purpose sign
CFG=$W/vaultd.json
vd_base_config "[{\"name\": \"me\", \"auth\": {\"uid\": $(id -u)},
  \"rules\": [{\"ops\": [\"sign\"], \"keys\": [\"ec\"]}]}]" >"$CFG"
vd_json_set "$CFG" 'audit.checkpoint_every=5'
vd_start "$CFG"

signs=0
sign_some() {
	local i
	for ((i = 0; i < $1; i++)); do
		vd_expect 200 POST /v1/keys/ec/sign -H 'Content-Type: application/json' \
			-d "{\"input_b64\":\"$(printf 'm%s' "$signs" | base64 -w0)\"}"
		signs=$((signs + 1))
	done
}
# wait_for LINE: vaultd's log has LINE (SIGUSR1 is handled asynchronously)
wait_for() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(grep -cF "$1" "$VD_LOG")" -ge "${2:-1}" ] && return 0
		sleep 0.05
	done
	cat "$VD_LOG" >&2
	fail "vaultd did not say '$1'"
}

say "SIGUSR1 with nothing moved writes nothing"
sign_some 7
size=$(wc -c <"$LOG")
kill -USR1 "$VD_PID"
wait_for "SIGUSR1: audit log reopened"
sign_some 1
[ "$(wc -c <"$LOG")" -gt "$size" ] || fail "the log did not grow"

say "two rotations while signing"
mv "$LOG" "$LOG.1"
sign_some 2 # still into the moved file
kill -USR1 "$VD_PID"
wait_for "SIGUSR1: audit log reopened" 2
sign_some 6
mv "$LOG" "$LOG.2"
kill -USR1 "$VD_PID"
wait_for "SIGUSR1: audit log reopened" 3
sign_some 3
[ "$(vd_stop)" = 0 ] || fail "vaultd did not exit 0"
head -c 15 "$LOG.2" | grep -qF '{"type":"open",' || fail "a rotated file does not start with an open line"

run_expect 0 vc audit verify "$LOG.1" "$LOG.2" "$LOG"
assert_contains "$RUN_OUT" "audit: ok ("
n=$(cat "$LOG.1" "$LOG.2" "$LOG" | grep -c '"key":"ec","version":1,.*"status":200') || true
assert_eq "$n" "$signs" "every signature is audited"

say "a file missing, out of order or twice is refused"
run_expect 6 vc audit verify "$LOG.1" "$LOG"
assert_contains "$RUN_ERR" "$LOG: line 1: prev does not match the hash of the last line of the previous file"
run_expect 6 vc audit verify "$LOG.2" "$LOG.1" "$LOG"
assert_contains "$RUN_ERR" "$LOG.1: line 1: prev does not match"
run_expect 6 vc audit verify "$LOG.1" "$LOG.2" "$LOG.2" "$LOG"
assert_contains "$RUN_ERR" "$LOG.2: line 1: prev does not match"
# each file alone is a valid chain (a rotated file starts with an open line)
run_expect 0 vc audit verify "$LOG.2"

say "a non-empty file at the path is refused; the old one stays in use"
vd_start "$CFG"
mv "$LOG" "$LOG.3"
echo junk >"$LOG"
kill -USR1 "$VD_PID"
wait_for "SIGUSR1: reopening the audit log"
assert_contains "$VD_LOG" "must be empty"
sign_some 1
[ "$(vd_stop)" = 0 ] || fail "vaultd did not exit 0"
assert_eq "$(cat "$LOG")" junk
run_expect 0 vc audit verify "$LOG.1" "$LOG.2" "$LOG.3"
