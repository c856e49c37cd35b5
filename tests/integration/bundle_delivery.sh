#!/bin/bash
# Secrets bundles, delivery: `vaultctl exec` precedence (environment wins by
# default and is reported by name, --override, --pristine), --only/--strict,
# --files-dir and CREDENTIALS_DIRECTORY, execve (same PID, signals reach
# CMD, CMD's exit status), the bundle from stdin, and the tmpfs warning of
# unwrap --out-dir / exec --files-dir.
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/bundle.sh"
need_cmd python3
W=$PV_WORK

run_expect 0 vc key create kek --alg aes256 --purpose wrap
cat >"$W/in.env" <<'EOF'
APP_MODE=bundle-mode-value
APP_SECRET=bundle-secret-value
APP_EMPTY=
EOF
run_expect 0 vc bundle seal --recipient kek --in "$W/in.env" --out "$W/b"
B=$W/b
# no_values FILE: none of the bundle's values (nor the environment's) in FILE.
no_values() {
	local v
	for v in bundle-mode-value bundle-secret-value from-env-value; do
		assert_not_contains "$1" "$v" "$1 shows a value ($v)"
	done
}
show='printf "%s|%s|%s" "${APP_MODE-unset}" "${APP_SECRET-unset}" "${APP_EMPTY-unset}"'

say "default: a variable already in the environment wins, and is named on stderr"
run_expect 0 env APP_MODE=from-env-value "$VAULTCTL" exec "$B" -- sh -c "$show"
assert_eq "$(cat "$RUN_OUT")" "from-env-value|bundle-secret-value|" "exec default precedence"
assert_contains "$RUN_ERR" APP_MODE "the kept variable is not named on stderr"
assert_not_contains "$RUN_ERR" APP_SECRET "a variable that was not kept is named on stderr"
no_values "$RUN_ERR"
run_expect 0 env APP_MODE=from-env-value "$VAULTCTL" -v exec "$B" -- sh -c "$show"
assert_contains "$RUN_ERR" APP_MODE "-v: the kept variable is not named"
no_values "$RUN_ERR"
run_expect 0 env -u APP_MODE "$VAULTCTL" exec "$B" -- sh -c "$show"
assert_eq "$(cat "$RUN_OUT")" "bundle-mode-value|bundle-secret-value|" "exec with nothing in the environment"
assert_not_contains "$RUN_ERR" APP_MODE "nothing was kept, yet APP_MODE is reported"

say "--override: the bundle wins"
run_expect 0 env APP_MODE=from-env-value "$VAULTCTL" exec "$B" --override -- sh -c "$show"
assert_eq "$(cat "$RUN_OUT")" "bundle-mode-value|bundle-secret-value|" "exec --override"
no_values "$RUN_ERR"

say "--pristine: only the bundle's values"
run_expect 0 env APP_MODE=from-env-value OTHER_VAR=x "$VAULTCTL" exec "$B" --pristine -- /usr/bin/env
LC_ALL=C sort "$RUN_OUT" >"$W/pristine.got"
printf 'APP_EMPTY=\nAPP_MODE=bundle-mode-value\nAPP_SECRET=bundle-secret-value\n' >"$W/pristine.want"
assert_same_file "$W/pristine.got" "$W/pristine.want" "exec --pristine: the environment is not exactly the bundle's"

say "--only and --strict"
run_expect 0 env -u APP_MODE "$VAULTCTL" exec "$B" --only APP_SECRET -- sh -c "$show"
assert_eq "$(cat "$RUN_OUT")" "unset|bundle-secret-value|unset" "exec --only APP_SECRET"
run_expect 0 env -u APP_MODE "$VAULTCTL" exec "$B" --only APP_SECRET,NO_SUCH_NAME -- sh -c "$show"
assert_eq "$(cat "$RUN_OUT")" "unset|bundle-secret-value|unset" "exec --only with a missing name"
assert_contains "$RUN_ERR" NO_SUCH_NAME "the missing name is not reported"
run_expect 5 vc exec "$B" --strict --only NO_SUCH_NAME -- sh -c 'touch "$1"' sh "$W/ran"
[ ! -e "$W/ran" ] || fail "exec --strict with a missing name ran the command"
assert_contains "$RUN_ERR" NO_SUCH_NAME "--strict: the missing name is not named"
run_expect 5 vc exec "$B" --strict --only APP_SECRET,NO_SUCH_NAME -- sh -c 'touch "$1"' sh "$W/ran"
[ ! -e "$W/ran" ] || fail "exec --strict with one missing name ran the command"

say "CMD's exit status, the bundle from stdin"
run_expect 42 vc exec "$B" -- sh -c 'exit 42'
run_expect 0 vc exec - -- sh -c 'printf %s "$APP_SECRET"' <"$B"
assert_eq "$(cat "$RUN_OUT")" bundle-secret-value "exec - (bundle on stdin)"
run_expect 0 vc unwrap - --format json <"$B"
assert_contains "$RUN_OUT" '"APP_SECRET"' "unwrap - (bundle on stdin)"

say "execve: CMD has vaultctl's PID, and a signal to that PID reaches it"
rm -f "$W/pidfile"
"$VAULTCTL" exec "$B" -- sh -c 'echo $$ >"$1.tmp" && mv "$1.tmp" "$1" && exec sleep 60' sh "$W/pidfile" \
	>"$PV_OUT/pid.out" 2>"$PV_OUT/pid.err" &
pid=$!
for _ in $(seq 300); do
	[ -s "$W/pidfile" ] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
[ -s "$W/pidfile" ] || {
	kill "$pid" 2>/dev/null || true
	fail "the exec'd command never ran (stderr: $(head -c 300 "$PV_OUT/pid.err"))"
}
assert_eq "$(cat "$W/pidfile")" "$pid" "PID of the exec'd command vs the vaultctl process started"
for _ in $(seq 100); do
	[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = sleep ] && break
	sleep 0.1
done
assert_eq "$(cat "/proc/$pid/comm")" sleep "the process is now the command (sleep)"
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
assert_eq "$rc" 143 "exit status after SIGTERM to the PID"

say "file entries: --files-dir (mode 0400, CREDENTIALS_DIRECTORY), refused without it"
mkdir -p "$W/files"
printf 'k\0e\0y\377\n' >"$W/files/key.bin"
printf -- '-----BEGIN CERTIFICATE-----\nMII...\n' >"$W/files/cert.pem"
run_expect 0 vc bundle seal --recipient kek --in "$W/files" --out "$W/f.b"
printf 'bundle-secret-value\n' | run_expect 0 vc bundle set "$W/f.b" APP_SECRET
mkdir -m 700 "$W/creds"
run_expect 0 env CREDENTIALS_DIRECTORY=/nonexistent "$VAULTCTL" exec "$W/f.b" --files-dir "$W/creds" -- \
	sh -c 'printf "%s\n%s\n" "$CREDENTIALS_DIRECTORY" "$APP_SECRET"; cat "$CREDENTIALS_DIRECTORY/key.bin" >"$1"' sh "$W/seen.bin"
assert_eq "$(sed -n 1p "$RUN_OUT")" "$W/creds" "CREDENTIALS_DIRECTORY for CMD"
assert_eq "$(sed -n 2p "$RUN_OUT")" bundle-secret-value "env value beside file values"
cmp -s "$W/seen.bin" "$W/files/key.bin" || fail "CMD read other bytes from \$CREDENTIALS_DIRECTORY/key.bin"
for n in key.bin cert.pem; do
	cmp -s "$W/creds/$n" "$W/files/$n" || fail "--files-dir: $n differs"
	assert_file_mode "$W/creds/$n" 400
done
assert_eq "$(cd "$W/creds" && LC_ALL=C ls -A | tr '\n' ' ')" "cert.pem key.bin " "files in --files-dir"
run_expect 2 vc exec "$W/f.b" -- sh -c 'touch "$1"' sh "$W/ran"
[ ! -e "$W/ran" ] || fail "exec of a bundle with file entries and no --files-dir ran the command"
mkdir -m 700 "$W/creds2"
run_expect 0 vc exec "$W/f.b" --pristine --files-dir "$W/creds2" -- /usr/bin/env
LC_ALL=C sort "$RUN_OUT" >"$W/pristine2.got"
printf 'APP_SECRET=bundle-secret-value\nCREDENTIALS_DIRECTORY=%s\n' "$W/creds2" >"$W/pristine2.want"
assert_same_file "$W/pristine2.got" "$W/pristine2.want" "exec --pristine --files-dir: environment"

say "tmpfs warning: --out-dir / --files-dir on a disk warns, on /dev/shm does not"
disk=""
for d in "$PV_TEST_DIR" "$top_builddir" /var/tmp; do
	case $(stat -f -c %T "$d" 2>/dev/null) in
	tmpfs | ramfs | "") ;;
	*) disk=$d && break ;;
	esac
done
TMPFS_WARN='tmpfs|ramfs'
dd="" shm=""
trap 'rm -rf "$dd" "$shm"' EXIT
if [ -n "$disk" ]; then
	dd=$(mktemp -d "$disk/pvtest-disk.XXXXXX")
	chmod 700 "$dd"
	mkdir -m 700 "$dd/a" "$dd/b"
	fs=$(stat -f -c %T "$dd")
	run_expect 0 vc unwrap "$B" --out-dir "$dd/a"
	grep -Eiq "$TMPFS_WARN" "$RUN_ERR" || fail "unwrap --out-dir on $fs ($disk) did not warn about tmpfs"
	no_values "$RUN_ERR"
	cmp -s "$dd/a/APP_SECRET" <(printf bundle-secret-value) || fail "unwrap --out-dir on disk wrote other bytes"
	run_expect 0 vc exec "$W/f.b" --files-dir "$dd/b" -- true
	grep -Eiq "$TMPFS_WARN" "$RUN_ERR" || fail "exec --files-dir on $fs ($disk) did not warn about tmpfs"
	no_values "$RUN_ERR"
else
	echo "(no directory off tmpfs found: the warning case is not checked)"
fi
if [ -d /dev/shm ] && [ -w /dev/shm ] && [ "$(stat -f -c %T /dev/shm)" = tmpfs ]; then
	shm=$(mktemp -d /dev/shm/pvtest-shm.XXXXXX)
	chmod 700 "$shm"
	mkdir -m 700 "$shm/a" "$shm/b"
	run_expect 0 vc unwrap "$B" --out-dir "$shm/a"
	! grep -Eiq "$TMPFS_WARN|warning" "$RUN_ERR" || fail "unwrap --out-dir on /dev/shm (tmpfs) warned: $(head -c 300 "$RUN_ERR")"
	cmp -s "$shm/a/APP_SECRET" <(printf bundle-secret-value) || fail "unwrap --out-dir on /dev/shm wrote other bytes"
	run_expect 0 vc exec "$W/f.b" --files-dir "$shm/b" -- true
	! grep -Eiq "$TMPFS_WARN|warning" "$RUN_ERR" || fail "exec --files-dir on /dev/shm (tmpfs) warned: $(head -c 300 "$RUN_ERR")"
else
	echo "SKIP (part): no writable tmpfs /dev/shm; the no-warning case is not checked"
fi

echo "bundle_delivery: ok"
