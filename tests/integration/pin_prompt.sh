#!/bin/bash
# The no-echo PIN prompt: only on a terminal, the PIN typed there is not
# echoed back, a wrong one is refused (exit 4) and never shown, and without
# a terminal `--pin-source prompt` fails cleanly instead of hanging.
set -eu
. "$top_srcdir/tests/lib/common.sh"
need_cmd python3
W=$PV_WORK
run_expect 0 vc key create prompted --alg p256 --purpose sign

# on_tty PINFILE CMD...: run CMD on a fresh pseudo-terminal, type the PIN
# from PINFILE when the prompt appears, keep everything the terminal showed.
on_tty() {
	python3 - "$@" <<'PY'
import os, pty, sys, time
pinfile, argv = sys.argv[1], sys.argv[2:]
pin = open(pinfile, "rb").read().strip()
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
seen, typed, deadline = b"", False, time.time() + 60
while time.time() < deadline:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    seen += chunk
    if not typed and b"PIN for" in seen:
        os.write(fd, pin + b"\n")
        typed = True
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(seen)
sys.exit(os.waitstatus_to_exitcode(status))
PY
}

PINFILE=${P11VAULT_PIN_SOURCE#file:}
say "a PIN typed at the prompt logs in, and is not echoed"
rc=0
on_tty "$PINFILE" env -u P11VAULT_PIN_SOURCE "$VAULTCTL" --pin-source prompt key list >"$W/tty.out" 2>&1 || rc=$?
[ "$rc" = 0 ] || fail "prompt login failed (exit $rc): $(tr -c '[:print:]\n' . <"$W/tty.out")"
assert_contains "$W/tty.out" "PIN for"
assert_contains "$W/tty.out" "prompted"
grep -aqF -- "$(cat "$PINFILE")" "$W/tty.out" && fail "the PIN was echoed on the terminal"

say "a wrong PIN at the prompt: exit 4, not echoed, not retried"
printf 'PVPIN-wrong-typed\n' >"$W/wrong.pin"
rc=0
on_tty "$W/wrong.pin" env -u P11VAULT_PIN_SOURCE "$VAULTCTL" --pin-source prompt key list >"$W/tty2.out" 2>&1 || rc=$?
[ "$rc" = 4 ] || fail "wrong prompted PIN gave exit $rc, want 4"
grep -aqF "PVPIN-wrong-typed" "$W/tty2.out" && fail "the wrong PIN was echoed"
[ "$(grep -ac 'PIN for' "$W/tty2.out")" = 1 ] || fail "the PIN was asked for more than once"

say "no terminal: prompt refused at once"
run_expect 4 env -u P11VAULT_PIN_SOURCE "$VAULTCTL" --pin-source prompt key list </dev/null
assert_contains "$RUN_ERR" "terminal"
rm -f "$W/wrong.pin"
echo "pin_prompt: ok"
