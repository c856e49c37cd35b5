#!/bin/bash
# The audit log (docs/audit.md): a log written through the library
# (tests/audit-writer) verifies with `vaultctl audit verify`, with and
# without the token; every edit gives exit 6 and names the line and the
# reason; an edit whose hash chain was recomputed (by independent code,
# without the HMAC key) passes the chain check alone and fails on the
# token at the next checkpoint. Only a key of purpose audit makes or checks
# checkpoint MACs: a key of another purpose is refused as the audit key
# (wrong_purpose, exit 8; the writer writes nothing), and the audit key
# signs nothing for `vaultctl sign`, so a re-chained log cannot be re-MACed.
set -eu
. "$top_srcdir/tests/lib/common.sh"
need_cmd python3
W=$PV_WORK
WRITER=$top_builddir/tests/audit-writer
[ -x "$WRITER" ] || fail "$WRITER is not built"
LOG=$W/audit.log

run_expect 0 vc key create audit-hmac --alg hmac-sha256 --purpose audit
run_expect 0 vc key create other-hmac --alg hmac-sha256 --purpose audit
run_expect 0 vc key create sign-hmac --alg hmac-sha256 --purpose sign

say "a log of 30 records with a checkpoint every 5: 38 lines, 7 checkpoints"
run_expect 0 "$WRITER" "$LOG" audit-hmac 30 5
assert_file_mode "$LOG" 600
assert_eq "$(wc -l <"$LOG")" 38 "line count"
assert_not_contains "$LOG" "payload" "the input itself is never logged"
run_expect 0 vc audit verify "$LOG"
assert_eq "$(cat "$RUN_OUT")" "audit: ok (38 lines, 7 checkpoints verified)"
run_expect 0 vc audit verify "$LOG" --no-token
assert_contains "$RUN_OUT" "audit: ok (38 lines, 7 checkpoints not verified"
run_expect 0 vc --json audit verify "$LOG"
json_valid "$RUN_OUT"
assert_eq "$(json_get "$RUN_OUT" checkpoints_verified)" 7

say "resuming the log continues the chain"
run_expect 0 "$WRITER" "$LOG" audit-hmac 3 5
run_expect 0 vc audit verify "$LOG"
assert_eq "$(cat "$RUN_OUT")" "audit: ok (44 lines, 9 checkpoints verified)"
run_expect 0 "$WRITER" "$W/base.log" audit-hmac 30 5
LOG=$W/base.log

# expect_bad FILE "MESSAGE" [vaultctl options]
expect_bad() {
	local f=$1 msg=$2
	shift 2
	run_expect 6 vc audit verify "$f" "$@"
	assert_contains "$RUN_ERR" "$msg"
	assert_eq "$(wc -c <"$RUN_OUT")" 0 "nothing on stdout"
}

say "one byte edited"
sed '5s/"client":"api"/"client":"apx"/' "$LOG" >"$W/edit.log"
expect_bad "$W/edit.log" "line 6: prev does not match the hash of line 5 (edited, deleted, inserted or reordered)"
expect_bad "$W/edit.log" "line 6: prev does not match the hash of line 5" --no-token
sed '7s/^{/[/' "$LOG" >"$W/notjson.log"
expect_bad "$W/notjson.log" "line 7: not JSON"
sed '9s/"op":/"oq":/' "$LOG" >"$W/member.log"
expect_bad "$W/member.log" 'line 9: unknown member "oq"'

say "a line deleted, inserted, two swapped"
sed '10d' "$LOG" >"$W/del.log"
expect_bad "$W/del.log" "line 10: prev does not match the hash of line 9"
sed '20p' "$LOG" >"$W/ins.log"
expect_bad "$W/ins.log" "line 21: prev does not match the hash of line 20"
awk 'NR==15{h=$0; next} NR==16{print; print h; next} {print}' "$LOG" >"$W/swap.log"
expect_bad "$W/swap.log" "line 15: prev does not match the hash of line 14"

say "the last line truncated"
head -c -1 "$LOG" >"$W/trunc.log"
expect_bad "$W/trunc.log" "line 38: truncated (no newline at the end of the file)"
head -c -40 "$LOG" >"$W/trunc2.log"
expect_bad "$W/trunc2.log" "line 38: truncated" --no-token

say "an edit with every later prev recomputed (no HMAC key): only the token sees it"
python3 - "$LOG" "$W/rechain.log" <<'PY'
import base64, hashlib, json, sys
lines = open(sys.argv[1], "rb").read().split(b"\n")[:-1]
def h(b):
    return base64.urlsafe_b64encode(hashlib.sha256(b).digest()).rstrip(b"=").decode()
obj = json.loads(lines[3])
assert obj["client"] == "api"
obj["client"] = "evil"
lines[3] = json.dumps(obj, separators=(",", ":")).encode()
for i in range(4, len(lines)):
    obj = json.loads(lines[i])
    obj["prev"] = h(lines[i - 1])
    lines[i] = json.dumps(obj, separators=(",", ":")).encode()
open(sys.argv[2], "wb").write(b"\n".join(lines) + b"\n")
PY
run_expect 0 vc audit verify "$W/rechain.log" --no-token
expect_bad "$W/rechain.log" "line 8: checkpoint MAC does not verify"

say "the audit key MACs nothing for a client: the re-chained log's checkpoint cannot be forged"
python3 - "$W/rechain.log" "$W/cp-msg" <<'PY'
import base64, json, sys
# the MAC message of the first checkpoint after the edit: prev || seq (u64 BE)
lines = open(sys.argv[1], "rb").read().split(b"\n")[:-1]
cp = json.loads(lines[7])
assert cp["type"] == "checkpoint"
prev = base64.urlsafe_b64decode(cp["prev"] + "=" * (-len(cp["prev"]) % 4))
open(sys.argv[2], "wb").write(prev + cp["seq"].to_bytes(8, "big"))
PY
run_expect 8 vc sign audit-hmac --in "$W/cp-msg" --digest none
assert_contains "$RUN_ERR" "purpose audit"
assert_eq "$(wc -c <"$RUN_OUT")" 0 "no MAC on stdout"

say "a key of another purpose is not an audit key: the writer refuses it before writing, the verifier too"
run_expect 1 "$WRITER" "$W/wrong.log" sign-hmac 3 5
assert_contains "$RUN_ERR" "this needs a key of purpose audit"
[ ! -s "$W/wrong.log" ] || fail "the writer wrote a log with a key of purpose sign"
run_expect 8 vc audit verify "$LOG" --hmac-key sign-hmac
assert_contains "$RUN_ERR" "purpose"

say "another HMAC key does not verify the checkpoints; a missing one is not found"
expect_bad "$LOG" "line 2: checkpoint MAC does not verify" --hmac-key other-hmac
run_expect 5 vc audit verify "$LOG" --hmac-key no-such-key
run_expect 2 vc audit verify "$W/does-not-exist.log"
run_expect 2 vc audit verify
echo "audit_verify: ok"
