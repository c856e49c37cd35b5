#!/bin/bash
# Secrets bundles, no leaks: planted random values go through seal, list,
# verify, set (stdin), unwrap (--out, --out-dir, stdout), exec and every
# failing case with -v. They may appear only in the intended outputs: not
# in any other stdout/stderr, the test's temporary directory, the SoftHSM
# token directory, nor /proc/PID/cmdline of vaultctl or of the exec'd
# command; in any of their usual encodings neither (hex, base64). No temp
# file is left beside an --out target or an edited bundle, on success or
# failure.
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/bundle.sh"
need_cmd python3
W=$PV_WORK
I=$PV_TEST_DIR/intended # inputs and intended outputs: the only place allowed
mkdir -m 700 "$I"
rnd() { od -An -tx1 -N12 /dev/urandom | tr -d ' \n'; }
S1="PLANTED-$(rnd)" # dotenv value, sealed from a file
S2="PLANTED-$(rnd)" # set from stdin
S3="PLANTED-$(rnd)" # a file entry
S4="PLANTED-$(rnd)" # only in inputs that are refused
printf 'OTHER=plain\nSECRET_ONE=%s\n' "$S1" >"$I/in.env"
printf '%s\n' "$S3" >"$I/s3.bin"

# The encodings to look for: the value, its hex, and its base64/base64url at
# the three alignments (so it is found inside a longer encoded string).
patterns() {
	python3 - "$@" <<'EOF'
import base64, sys
for s in sys.argv[1:]:
    b = s.encode()
    print(s)
    print(b.hex())
    print(b.hex().upper())
    for off in range(3):
        chunk = b[off:off + 18]
        print(base64.b64encode(chunk).decode())
        print(base64.urlsafe_b64encode(chunk).decode())
EOF
}
patterns "$S1" "$S2" "$S3" "$S4" >"$PV_TEST_DIR/intended/patterns"

# leaks DIR...: files under DIR (recursively, not under $I) holding any
# pattern; names only, never the matching text.
leaks() {
	find "$@" -path "$I" -prune -o -type f -print0 |
		xargs -0 -r grep -alF -f "$I/patterns" -- 2>/dev/null || true
}

say "the scan can fail: planted copies are found, in clear and encoded"
mkdir -p "$W/probe"
printf 'x %s y\n' "$S1" >"$W/probe/clear"
printf '%s' "$S2" | od -An -tx1 | tr -d ' \n' >"$W/probe/hex"
printf 'zz%s' "$S3" | base64 -w0 >"$W/probe/b64"
printf 'nothing here\n' >"$W/probe/clean"
assert_eq "$(leaks "$W/probe" | sed "s|$W/probe/||" | sort | tr '\n' ' ')" "b64 clear hex " "planted copies found by the scan"
rm -rf "$W/probe"
# And $I is excluded (it holds the inputs).
[ -z "$(leaks "$I")" ] || fail "the scan does not exclude the intended directory"

run_expect 0 vc key create kek --alg aes256 --purpose wrap
BD=$W/bdir # the bundle's directory: must hold only the bundle
mkdir -m 700 "$BD"
B=$BD/b

say "seal, list, verify"
run_expect 0 vc -v bundle seal --recipient kek --context env=dev --in "$I/in.env" --out "$B"
run_expect 0 vc bundle seal --recipient kek --in "$I/in.env"
run_expect 0 vc bundle seal --recipient kek --in - <"$I/in.env"
run_expect 0 vc bundle list "$B"
run_expect 0 vc bundle list "$B" --json
run_expect 0 vc -v bundle verify "$B"
run_expect 0 vc bundle verify "$B" --json
assert_eq "$(ls -A "$BD")" b "files beside the sealed bundle"

say "set from stdin: vaultctl's cmdline and environment while it holds the value"
mkfifo "$W/fifo"
"$VAULTCTL" -v bundle set "$B" SECRET_TWO <"$W/fifo" >"$PV_OUT/set.out" 2>"$PV_OUT/set.err" &
setpid=$!
exec 7>"$W/fifo"
printf '%s\n' "$S2" >&7
# The value is in the pipe or read; vaultctl waits for the end of input.
sleep 1
kill -0 "$setpid" 2>/dev/null || fail "bundle set did not wait for the end of stdin"
tr '\0' ' ' <"/proc/$setpid/cmdline" >"$W/set.cmdline"
assert_contains "$W/set.cmdline" "SECRET_TWO" "the cmdline read is not vaultctl's (control)"
tr '\0' '\n' <"/proc/$setpid/environ" >"$W/set.environ" 2>/dev/null || true
exec 7>&-
rc=0
wait "$setpid" || rc=$?
assert_eq "$rc" 0 "bundle set from a fifo"
run_expect 0 vc bundle set "$B" s3.bin --kind file --in "$I/s3.bin"
assert_eq "$(ls -A "$BD")" b "files beside the bundle after set"

# run_intended EXIT NAME CMD...: stdout is an intended output (in $I),
# stderr is evidence (in $PV_OUT, scanned).
run_intended() {
	local want=$1 name=$2 rc=0
	shift 2
	"$@" >"$I/$name.out" 2>"$PV_OUT/$name.err" || rc=$?
	printf '$ %s  -> exit %s\n' "$*" "$rc"
	[ "$rc" = "$want" ] || {
		head -c 2000 "$PV_OUT/$name.err" >&2
		fail "exit code of: $*: $rc, want $want"
	}
}

say "unwrap to stdout, --out, --out-dir (the intended outputs)"
run_intended 0 unwrap-env vc -v unwrap "$B" --only OTHER,SECRET_ONE,SECRET_TWO
assert_contains "$I/unwrap-env.out" "$S1" "unwrap did not deliver SECRET_ONE (control)"
assert_contains "$I/unwrap-env.out" "$S2" "unwrap did not deliver SECRET_TWO (control)"
run_intended 0 unwrap-json vc unwrap "$B" --format json --only SECRET_ONE,SECRET_TWO
mkdir -m 700 "$I/outd"
run_intended 0 unwrap-out vc -v unwrap "$B" --format dotenv --only SECRET_ONE,SECRET_TWO --out "$I/outd/o.env"
assert_eq "$(ls -A "$I/outd")" o.env "files beside the --out target after success"
mkdir -m 700 "$I/od"
run_intended 0 unwrap-od vc -v unwrap "$B" --out-dir "$I/od"
cmp -s "$I/od/s3.bin" "$I/s3.bin" || fail "--out-dir: s3.bin differs (control)"

say "exec: the child's cmdline (same PID) holds no value; its environment does"
mkdir -m 700 "$I/creds0"
"$VAULTCTL" -v exec "$B" --files-dir "$I/creds0" -- sh -c 'exec sleep 60' >"$I/exec.out" 2>"$PV_OUT/exec.err" &
xpid=$!
for _ in $(seq 300); do
	[ "$(cat "/proc/$xpid/comm" 2>/dev/null)" = sleep ] && break
	kill -0 "$xpid" 2>/dev/null || break
	sleep 0.1
done
# Recorded by vaultctl before exec, then the exec'd program.
tr '\0' ' ' <"/proc/$xpid/cmdline" >"$W/exec.cmdline" || fail "the exec'd command is gone"
tr '\0' '\n' <"/proc/$xpid/environ" >"$I/exec.environ"
kill -TERM "$xpid"
wait "$xpid" || true
assert_contains "$W/exec.cmdline" "sleep" "the cmdline read is not the exec'd command's (control)"
grep -qxF "SECRET_ONE=$S1" "$I/exec.environ" || fail "exec did not put SECRET_ONE in the child's environment (control)"
grep -qxF "SECRET_TWO=$S2" "$I/exec.environ" || fail "exec did not put SECRET_TWO in the child's environment (control)"
mkdir -m 700 "$I/creds"
run_intended 0 exec-files vc -v exec "$B" --files-dir "$I/creds" -- sh -c 'cat "$CREDENTIALS_DIRECTORY/s3.bin"'
assert_contains "$I/exec-files.out" "$S3" "exec --files-dir did not deliver s3.bin (control)"

say "every failing case, with -v"
bedit "$B" "$BD/tampered" 'entry("SECRET_ONE")["ct"] = flip(entry("SECRET_ONE")["ct"])'
mkdir -m 700 "$W/fail-out"
printf 'keep\n' >"$W/fail-out/existing"
for args in "unwrap $BD/tampered" "unwrap $BD/tampered --out $W/fail-out/existing" \
	"unwrap $BD/tampered --out $W/fail-out/new" "unwrap $BD/tampered --format json" \
	"bundle verify $BD/tampered" "unwrap $B --expect-context env=prod" "unwrap $B --min-version 9" \
	"unwrap $B --key no-such-key"; do
	# shellcheck disable=SC2086
	run_expect "5|6" vc -v $args
	# shellcheck disable=SC2086
	run_expect "5|6" vc -v $args --json
done
run_expect 6 vc -v exec "$BD/tampered" -- sh -c 'echo ran'
run_expect 5 vc -v exec "$B" --files-dir "$I/creds" --strict --only SECRET_ONE,NOPE -- sh -c 'echo ran'
run_expect 5 vc -v unwrap "$B" --strict --only SECRET_ONE,NOPE --out "$W/fail-out/new"
assert_eq "$(ls -A "$W/fail-out")" existing "files beside the --out target after the failures"
assert_eq "$(cat "$W/fail-out/existing")" keep "the existing --out target after the failures"
rm "$BD/tampered"
printf '%s\n' "$S4" | run_expect 2 vc -v bundle set "$B" '1bad-name'
printf 'a\0%s' "$S4" | run_expect 2 vc -v bundle set "$B" NUL_VALUE
cp "$B" "$W/b.before"
run_expect 5 vc -v bundle rm "$B" SECRET_ONE NOPE
assert_same_file "$B" "$W/b.before" "bundle rm with a missing name changed the bundle"
assert_eq "$(ls -A "$BD")" b "files beside the bundle after failed edits"
# Refused inputs must not echo the value in their error (line numbers only).
printf 'OK=1\n%s\n' "$S4" >"$I/bad1.env"
printf 'OK=1\nDUP=%s\nDUP=%s\n' "$S4" "$S4" >"$I/bad2.env"
printf 'X="%s\n' "$S4" >"$I/bad3.env"
printf 'X="%s" trailing-%s\n' "$S4" "$S4" >"$I/bad4.env"
printf '9BAD=%s\n' "$S4" >"$I/bad5.env"
printf '{"A": "%s", "B": 1}\n' "$S4" >"$I/bad.json"
for f in bad1.env bad2.env bad3.env bad4.env bad5.env bad.json; do
	run_expect 2 vc -v bundle seal --recipient kek --in "$I/$f" --out "$BD/never"
	[ ! -e "$BD/never" ] || fail "seal of a refused input ($f) wrote a bundle"
done
assert_eq "$(ls -A "$BD")" b "files beside the bundle after refused seals"

say "scan: outputs, the test directory (token included), cmdlines"
[ -n "$(ls -A "$PV_TEST_DIR/token")" ] || fail "no token directory to scan"
n=$(find "$PV_TEST_DIR" -path "$I" -prune -o -type f -print | wc -l)
echo "files scanned: $n"
bad=$(leaks "$PV_TEST_DIR")
if [ -n "$bad" ]; then
	printf 'planted value found in:\n%s\n' "$bad" | sed "s|$PV_TEST_DIR/||" >&2
	fail "a bundle value leaked outside the intended outputs"
fi
echo "bundle_leak: ok, no value in $n files"
