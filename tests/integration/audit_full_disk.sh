#!/bin/bash
# A full audit disk is survived (docs/audit.md §5, operations.md "Full audit
# disk"): vaultd's audit log on a small tmpfs, filled and freed while
# several clients sign. While the disk is full, signing answers 503
# audit_unavailable with Retry-After and releases nothing; vaultd says so
# once; when space comes back signing resumes without a restart. Every 200
# has its audit line, and every returned signature verifies with OpenSSL.
# The writer reserves space ahead of the end of the file (fallocate), so
# the disk is seen full before a line is torn.
# A torn last line (a crash mid-write) is cut at the next start and
# recorded by a recovered line; `vaultctl audit verify` passes throughout.
# Mounting needs root (CI runs as root): otherwise the test is skipped.
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/vaultd.sh"
vd_need
W=$PV_WORK
[ "$(id -u)" = 0 ] || skip "mounting a tmpfs for the audit log needs root"
MNT=$W/auditfs
mkdir -p "$MNT"
mount -t tmpfs -o size=512k,mode=0700 tmpfs "$MNT" 2>"$W/mount.err" ||
	skip "cannot mount a tmpfs: $(head -c 200 "$W/mount.err")"
cleanup() {
	vd_cleanup
	umount "$MNT" 2>/dev/null || true
}
trap cleanup EXIT
LOG=$MNT/audit.log

run_expect 0 vc key create ec --alg p256 --purpose sign
vc key show ec --format pem >"$W/ec.pem" || fail "no public key"
CFG=$W/vaultd.json
vd_base_config "[{\"name\": \"me\", \"auth\": {\"uid\": $(id -u)},
  \"rules\": [{\"ops\": [\"sign\"], \"keys\": [\"ec\"]}],
  \"rate\": {\"per_second\": 100000, \"burst\": 100000}}]" >"$CFG"
vd_json_set "$CFG" "audit.file=\"$LOG\"" 'audit.checkpoint_every=20'
vd_start "$CFG"

# signer ID COUNT: COUNT signs of distinct messages; per request a line
# "STATUS CODE RETRY-AFTER" in $W/res.ID, signatures in $W/sig.ID.N
signer() {
	local id=$1 n=$2 i st
	: >"$W/res.$id"
	for ((i = 0; i < n; i++)); do
		printf 'msg %s %s' "$id" "$i" >"$W/msg.$id.$i"
		st=$(vd_curl -X POST -o "$W/body.$id.$i" -D "$W/hdr.$id.$i" -w '%{http_code}' \
			-H 'Content-Type: application/json' \
			-d "{\"input_b64\":\"$(base64 -w0 "$W/msg.$id.$i")\",\"format\":\"der\"}" \
			/v1/keys/ec/sign) || st=curl-failed
		echo "$st $i" >>"$W/res.$id"
	done
}

# check_results: every 200 verifies, every other is 503 audit_unavailable
# with Retry-After; echoes the number of 200s
check_results() {
	python3 - "$W" "$@" <<'PY'
import base64, json, os, subprocess, sys
w = sys.argv[1]
ok = 0
for id in sys.argv[2:]:
    for line in open(os.path.join(w, "res." + id)):
        st, i = line.split()
        body = os.path.join(w, "body.%s.%s" % (id, i))
        if st == "200":
            sig = base64.b64decode(json.load(open(body))["signature_b64"])
            open(body + ".sig", "wb").write(sig)
            r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", os.path.join(w, "ec.pem"),
                                "-signature", body + ".sig", os.path.join(w, "msg.%s.%s" % (id, i))],
                               capture_output=True)
            if r.returncode != 0:
                sys.exit("signer %s request %s: the signature does not verify" % (id, i))
            ok += 1
        elif st == "503":
            code = json.load(open(body))["error"]["code"]
            if code != "audit_unavailable":
                sys.exit("signer %s request %s: 503 %s" % (id, i, code))
            hdr = open(os.path.join(w, "hdr.%s.%s" % (id, i))).read().lower()
            if "retry-after: 1" not in hdr:
                sys.exit("signer %s request %s: 503 without Retry-After" % (id, i))
        else:
            sys.exit("signer %s request %s: status %s" % (id, i, st))
print(ok)
PY
}

# audited_ok: records of a 200 sign on ec in the audit log
audited_ok() {
	python3 - "$LOG" <<'PY'
import json, sys
n = 0
for l in open(sys.argv[1], "rb"):
    d = json.loads(l)
    if d.get("key") == "ec" and d.get("status") == 200:
        n += 1
print(n)
PY
}

last_byte_is_newline() {
	[ "$(tail -c1 "$LOG" | od -An -c | tr -d ' ')" = '\n' ] || fail "the audit log ends in a torn line"
}

say "signing while the audit disk is filled and freed"
signer warm 5
assert_eq "$(check_results warm)" 5 "signatures before the disk fills"
# space is reserved ahead of the end of the file (tmpfs can fallocate)
[ $(($(stat -c '%b * %B' "$LOG"))) -ge $(($(stat -c %s "$LOG") + 8192)) ] ||
	fail "no space reserved ahead of the audit log: $(stat -c '%s bytes, %b blocks' "$LOG")"
pids=
for c in 1 2 3; do
	signer "a$c" 150 &
	pids="$pids $!"
done
sleep 0.3
# fill the file system to the last byte: 4 KiB blocks, then single bytes
dd if=/dev/zero of="$MNT/filler" bs=4k >/dev/null 2>&1 || true
dd if=/dev/zero of="$MNT/filler2" bs=1 >/dev/null 2>&1 || true
# the writer reserves space ahead (fallocate): that is used up first, and
# the disk is seen full before a line is torn
: >"$W/res.drain"
for ((d = 0; d < 300; d++)); do
	signer "drain$d" 1
	cat "$W/res.drain$d" >>"$W/res.drain"
	grep -q '^503 ' "$W/res.drain$d" && break
done
grep -q '^503 ' "$W/res.drain" || fail "the disk never got full for the audit log"
signer full 10
sleep 1
rm -f "$MNT/filler" "$MNT/filler2"
# shellcheck disable=SC2086
wait $pids
ok_full=$(check_results full)
assert_eq "$ok_full" 0 "no signature released while the disk is full"
total_ok=$(check_results warm full a1 a2 a3 $(seq -f 'drain%g' 0 "$d"))
say "signatures released: $total_ok of $((465 + d + 1)) requests"
last_byte_is_newline

say "after space comes back, signing works again without a restart"
signer after 5
assert_eq "$(check_results after)" 5 "signatures after the disk is freed"
total_ok=$((total_ok + 5))
assert_eq "$(audited_ok)" "$total_ok" "every released signature has its audit line"
assert_eq "$(grep -c 'audit log: cannot write' "$VD_LOG")" 1 "the failure is said once"
assert_contains "$VD_LOG" "No space left on device"
assert_eq "$(grep -c 'audit log: writing again' "$VD_LOG")" 1 "the recovery is said once"
run_expect 0 vc audit verify "$LOG"
assert_contains "$RUN_OUT" "audit: ok"

say "a torn last line is cut at the next start and recorded"
vd_stop >/dev/null
printf '{"seq":12345,"time":"2026-12-' >>"$LOG"
run_expect 6 vc audit verify "$LOG"
assert_contains "$RUN_ERR" "truncated (no newline at the end of the file)"
vd_start "$CFG"
signer restarted 3
assert_eq "$(check_results restarted)" 3 "signatures after the restart"
vd_stop >/dev/null
last_byte_is_newline
assert_contains "$LOG" '"type":"recovered"'
run_expect 0 vc audit verify "$LOG"
assert_contains "$RUN_OUT" "1 torn last lines cut at start-up (29 bytes dropped)"
run_expect 0 vc --json audit verify "$LOG"
assert_eq "$(json_get "$RUN_OUT" dropped_bytes)" 29
