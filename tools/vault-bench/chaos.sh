#!/bin/bash
# The chaos run (`make bench-chaos`; docs/operations.md "Chaos run"):
# vaultd under steady load while its token keeps going away and its audit
# disk fills up once, and afterwards proof that nothing wrong came out.
#
#   top_builddir=BUILD [top_srcdir=SRC] tools/vault-bench/chaos.sh
#
# On a throwaway SoftHSM token served by `p11-kit server` (vaultd loads
# p11-kit-client.so, as with a network HSM), the audit log on a tmpfs of
# its own:
#  1. capacity: CHAOS_CAPACITY_SECONDS (10) of POST /v1/keys/chaos-p256/sign
#     as fast as CHAOS_THREADS (4) clients can, over the Unix socket;
#  2. load: CHAOS_LOAD (0.70) of that rate from the same clients for
#     CHAOS_SECONDS (600), every request a message of its own, every reply
#     kept (vault-chaos load);
#  3. meanwhile: every CHAOS_OUTAGE_EVERY (120) s the p11-kit server is
#     killed (SIGKILL, its whole process group) and started again after
#     1..10 s (1, 10, 4, 7, 2, 9, 5, 3, 8, 6, ...); once, between two
#     outages, the audit tmpfs is filled to the last byte for
#     CHAOS_FULL_SECONDS (10) and freed; vaultd's RSS and open fds are
#     sampled every CHAOS_SAMPLE_EVERY (5) s; during each outage /v1/ready,
#     /v1/health and /metrics are asked;
#  4. afterwards: every 200's signature verified with OpenSSL against the
#     key's public key (from GET /v1/keys), every 200 matched to its audit
#     record by request id (vault-chaos check), `vaultctl audit verify`,
#     SIGTERM exit status, recovery time of each outage (token back → first
#     200) next to vaultd's own (its log line, /metrics);
#  5. a summary; exit 1 when an invariant broke (a wrong signature, a 200
#     without its audit line, a reply that is not 200 or 503
#     token_unavailable/audit_unavailable, signing not back after an
#     outage, RSS or fds growing, audit verify failing, a non-zero exit).
#
# Needs root (the tmpfs), p11-kit with p11-kit-client.so (Debian: p11-kit,
# p11-kit-modules), setsid, curl, python3. Without root the full-disk
# episode is left out and the run says so (and exits 1: not a full run).
# CHAOS_KEEP=1 keeps the work directory (replies, logs) for a look.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=$(cd "${top_srcdir:-$here/../..}" && pwd)
top_builddir=$(cd "${top_builddir:-.}" && pwd)
module=${SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
SECONDS_RUN=${CHAOS_SECONDS:-600}
OUTAGE_EVERY=${CHAOS_OUTAGE_EVERY:-120}
THREADS=${CHAOS_THREADS:-4}
LOAD=${CHAOS_LOAD:-0.70}
CAP_SECONDS=${CHAOS_CAPACITY_SECONDS:-10}
FULL_SECONDS=${CHAOS_FULL_SECONDS:-10}
# every 5 s, more often on a short run so that it still gets 20 or more
SAMPLE_EVERY=${CHAOS_SAMPLE_EVERY:-$(((SECONDS_RUN / 20) < 5 ? ((SECONDS_RUN / 20) > 0 ? SECONDS_RUN / 20 : 1) : 5))}
DOWNS=(1 10 4 7 2 9 5 3 8 6)

die() {
	echo "chaos.sh: $*" >&2
	exit 2
}
for p in vault-chaos vaultctl vaultd; do
	[ -x "$top_builddir/$p" ] || die "$top_builddir/$p is not built"
done
for c in p11-kit setsid curl python3; do
	command -v "$c" >/dev/null 2>&1 || die "$c is needed"
done
client_mod=
for m in /usr/lib/*/pkcs11/p11-kit-client.so /usr/lib/pkcs11/p11-kit-client.so /usr/lib64/pkcs11/p11-kit-client.so; do
	[ -f "$m" ] && client_mod=$m && break
done
[ -n "$client_mod" ] || die "p11-kit-client.so is not installed (Debian: p11-kit-modules)"
[ "$SECONDS_RUN" -ge 30 ] 2>/dev/null || die "CHAOS_SECONDS=$SECONDS_RUN: at least 30"
[ "$OUTAGE_EVERY" -ge 20 ] 2>/dev/null || die "CHAOS_OUTAGE_EVERY=$OUTAGE_EVERY: at least 20"

W=$(mktemp -d "${TMPDIR:-/tmp}/pvchaos.XXXXXX")
chmod 700 "$W"
MNT=$W/auditfs
SOCK=$W/vaultd.sock
P11SOCK=$W/p11kit.sock
vd_pid='' srv_pid='' load_pid='' sampler_pid='' mounted='' keep=0
stop_all() {
	[ -z "$load_pid" ] || kill "$load_pid" 2>/dev/null || true
	[ -z "$sampler_pid" ] || kill "$sampler_pid" 2>/dev/null || true
	if [ -n "$vd_pid" ]; then
		kill -TERM "$vd_pid" 2>/dev/null || true
		wait "$vd_pid" 2>/dev/null || true
	fi
	token_away
	if [ -n "$mounted" ]; then
		if [ "${CHAOS_KEEP:-0}" = 1 ] || [ "$keep" = 1 ]; then
			cp -p "$MNT/audit.log" "$W/audit.log" 2>/dev/null || true
		fi
		umount "$MNT" 2>/dev/null || true
	fi
	if [ "${CHAOS_KEEP:-0}" = 1 ] || [ "$keep" = 1 ]; then
		echo "chaos.sh: work directory kept: $W"
	else
		rm -rf "$W"
	fi
}
trap stop_all EXIT
trap 'exit 130' HUP INT TERM

now_ms() { date +%s%3N; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown; }
event() { echo "$(now_ms) $*" >>"$W/events"; }

# Minimal on purpose (as bench.sh): no provider from the system config may
# load inside SoftHSM's own OpenSSL calls.
printf '%s\n' 'openssl_conf = openssl_init' '[openssl_init]' 'providers = provider_sect' \
	'[provider_sect]' 'default = default_sect' '[default_sect]' 'activate = 1' >"$W/openssl.cnf"
export OPENSSL_CONF=$W/openssl.cnf
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$top_srcdir/tests/lsan.supp:fast_unwind_on_malloc=0:print_suppressions=0}
unset P11VAULT_TOKEN P11VAULT_MODULE P11VAULT_PIN_SOURCE CREDENTIALS_DIRECTORY

mkdir -m 700 "$W/token"
sh "$top_srcdir/softhsm/make-token.sh" --dir "$W/token" --label p11vault-chaos \
	--vaultctl "$top_builddir/vaultctl" --module "$module" >"$W/token.env" 2>"$W/token.err" ||
	die "make-token.sh failed: $(cat "$W/token.err")"
# only `export NAME='path'` lines, never a PIN
# shellcheck disable=SC1091 # made just above
. "$W/token.env"
export SOFTHSM2_CONF P11VAULT_MODULE P11VAULT_TOKEN P11VAULT_PIN_SOURCE
vc() { "$top_builddir/vaultctl" "$@"; }
vc key create chaos-p256 --alg p256 --purpose sign >/dev/null
vc key create audit-hmac --alg hmac-sha256 --purpose audit >/dev/null
(umask 077 && vc client add chaos >"$W/bearer" 2>"$W/client.err") || die "vaultctl client add: $(cat "$W/client.err")"
hash=$(sed -n 's/.*"token_sha256" *: *"\([A-Za-z0-9_-]*\)".*/\1/p' "$W/client.err")
[ -n "$hash" ] || die "no token_sha256 in the output of vaultctl client add"

# The token behind a p11-kit server; its process group is killed for an outage.
export P11_KIT_SERVER_ADDRESS="unix:path=$P11SOCK"
token_back() {
	local i
	setsid p11-kit server -f -n "$P11SOCK" --provider "$P11VAULT_MODULE" "$P11VAULT_TOKEN" \
		>>"$W/p11kit-server.log" 2>&1 &
	srv_pid=$!
	for ((i = 0; i < 200; i++)); do
		[ ! -S "$P11SOCK" ] || return 0
		sleep 0.05
	done
	die "p11-kit server did not create $P11SOCK: $(cat "$W/p11kit-server.log")"
}
token_away() {
	[ -z "$srv_pid" ] || kill -KILL -- "-$srv_pid" 2>/dev/null || true
	[ -z "$srv_pid" ] || wait "$srv_pid" 2>/dev/null || true
	srv_pid=
	rm -f "$P11SOCK"
}
token_back

# The audit log on a tmpfs of its own (root); grown once the rate is known.
mkdir -p "$MNT"
full_disk=1
if [ "$(id -u)" != 0 ]; then
	echo "chaos.sh: not root: no tmpfs for the audit log, the full-disk episode is left out" >&2
	full_disk=0
	AUDIT=$W/audit.log
elif ! mount -t tmpfs -o size=64m,mode=0700 tmpfs "$MNT" 2>"$W/mount.err"; then
	echo "chaos.sh: cannot mount a tmpfs ($(cat "$W/mount.err")): the full-disk episode is left out" >&2
	full_disk=0
	AUDIT=$W/audit.log
else
	mounted=1
	AUDIT=$MNT/audit.log
fi

cat >"$W/vaultd.json" <<EOF
{
  "token": { "uri": "$P11VAULT_TOKEN", "module": "$client_mod", "pin_source": "$P11VAULT_PIN_SOURCE" },
  "listen": { "unix": { "path": "$SOCK", "mode": "0600" } },
  "workers": ${VAULTD_WORKERS:-4},
  "audit": { "file": "$AUDIT", "hmac_key": "audit-hmac" },
  "clients": [
    { "name": "chaos", "auth": { "token_sha256": "$hash" },
      "rules": [ { "ops": ["keys.read", "sign"], "keys": ["chaos-p256"] } ],
      "rate": { "per_second": 1000000, "burst": 1000000 } }
  ]
}
EOF
"$top_builddir/vaultd" --config "$W/vaultd.json" >"$W/vaultd.log" 2>&1 </dev/null &
vd_pid=$!
# the bearer token goes to curl in a 0600 header file, never on argv
(umask 077 && printf 'Authorization: Bearer %s\n' "$(cat "$W/bearer")" >"$W/auth")
curl_vd() { curl -s --max-time 5 --unix-socket "$SOCK" -H @"$W/auth" "$@"; }
for ((i = 0; ; i++)); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --unix-socket "$SOCK" http://vaultd/v1/ready)" = 200 ] && break
	if [ "$i" -gt 300 ] || ! kill -0 "$vd_pid" 2>/dev/null; then
		die "vaultd did not become ready within 30 s; its log: $(cat "$W/vaultd.log")"
	fi
	sleep 0.1
done
gdb_pid=''
if [ "${CHAOS_GDB:-0}" = 1 ]; then
	# a backtrace of every thread if vaultd crashes (vaultd disables core dumps)
	command -v gdb >/dev/null 2>&1 || die "CHAOS_GDB=1: gdb is not installed"
	gdb -p "$vd_pid" -batch -ex 'set pagination off' -ex 'handle SIGPIPE SIGUSR1 SIGHUP nostop noprint pass' \
		-ex 'handle SIGTERM nostop noprint pass' -ex continue -ex 'info threads' -ex 'thread apply all bt' \
		>"$W/gdb.out" 2>&1 </dev/null &
	gdb_pid=$!
	sleep 2
fi
# the public key, from vaultd itself
curl_vd -o "$W/key.json" http://vaultd/v1/keys/chaos-p256 || die "GET /v1/keys/chaos-p256 failed"
python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["versions"][0]["public_key_pem"], end="")' \
	"$W/key.json" >"$W/pub.pem" || die "no public key in $(cat "$W/key.json")"

echo "chaos run: vaultd $(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"/\1/p' "$top_builddir/config.h" 2>/dev/null) on p11-kit-client.so, $(nproc) CPUs, load average $(loadavg)"
echo "capacity: ${CAP_SECONDS} s of POST /v1/keys/chaos-p256/sign from $THREADS clients as fast as they go"
mkdir "$W/cap" "$W/run"
"$top_builddir/vault-chaos" load --vaultd "$SOCK" --bearer-file "$W/bearer" --key chaos-p256 \
	--threads "$THREADS" --seconds "$CAP_SECONDS" --rate 0 --out "$W/cap" --tag cap | tee "$W/cap.out"
capacity=$(sed -n 's/.* ok_per_sec=\([0-9.]*\).*/\1/p' "$W/cap.out")
rate=$(python3 -c "print(round($capacity * $LOAD, 1))")
python3 -c "import sys; sys.exit(0 if $rate >= 10 else 1)" || die "capacity $capacity/s is too low to run"
echo "capacity $capacity signatures/s; the chaos load: $rate requests/s (${LOAD} of it) for $SECONDS_RUN s"

if [ "$full_disk" = 1 ]; then
	# every audit line of the run (about 300 bytes each) and room to spare
	mb=$(python3 -c "print(int($rate * $SECONDS_RUN * 450 / 1048576) + 64)")
	mount -o remount,size="${mb}m" "$MNT" || die "cannot grow the audit tmpfs to $mb MiB"
fi

# The schedule, in seconds from the start of the load: outages at every
# multiple of OUTAGE_EVERY that leaves 15 s before the end; the full disk
# halfway between the two outages around the middle.
if [ $((SECONDS_RUN / OUTAGE_EVERY)) -lt 3 ]; then
	# a short run still gets two outages and the full disk between them
	OUTAGE_EVERY=$((SECONDS_RUN / 3))
	echo "(a short run: an outage every $OUTAGE_EVERY s)"
fi
outages=()
for ((t = OUTAGE_EVERY; t + 15 <= SECONDS_RUN; t += OUTAGE_EVERY)); do outages+=("$t"); done
full_at=$(((SECONDS_RUN / 2 / OUTAGE_EVERY) * OUTAGE_EVERY + OUTAGE_EVERY / 2))
[ $((full_at + FULL_SECONDS + 5)) -le "$SECONDS_RUN" ] || full_at=$((SECONDS_RUN / 2))

sampler() {
	while kill -0 "$vd_pid" 2>/dev/null; do
		printf '%s %s %s\n' "$(now_ms)" "$(awk '/^VmRSS:/ { print $2 }' "/proc/$vd_pid/status" 2>/dev/null)" \
			"$(find "/proc/$vd_pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)" >>"$W/samples"
		sleep "$SAMPLE_EVERY"
	done
}

# during an outage: what vaultd says on /v1/ready, /v1/health, /metrics
probe() {
	local r h m
	r=$(curl -s -o "$W/ready.body" -w '%{http_code}' --max-time 5 --unix-socket "$SOCK" http://vaultd/v1/ready || true)
	h=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --unix-socket "$SOCK" http://vaultd/v1/health || true)
	m=$(curl_vd -o "$W/metrics.out" -w '%{http_code}' http://vaultd/metrics || true)
	grep -q '^p11vault_token_available 0' "$W/metrics.out" 2>/dev/null || m="$m-available-not-0"
	event "probe $1 ready=$r health=$h metrics=$m"
}

start_s=$(date +%s)
event "load-start"
"$top_builddir/vault-chaos" load --vaultd "$SOCK" --bearer-file "$W/bearer" --key chaos-p256 \
	--threads "$THREADS" --seconds "$SECONDS_RUN" --rate "$rate" --out "$W/run" --tag run >"$W/load.out" 2>"$W/load.err" &
load_pid=$!
sampler &
sampler_pid=$!

sleep_until() { # seconds from the start of the load
	local d=$(($1 - ($(date +%s) - start_s)))
	[ "$d" -le 0 ] || sleep "$d"
}
k=0
full_done=0
for t in "${outages[@]}" end; do
	if [ "$full_done" = 0 ] && [ "$full_disk" = 1 ] && { [ "$t" = end ] || [ "$t" -gt "$full_at" ]; }; then
		sleep_until "$full_at"
		echo "  $(($(date +%s) - start_s)) s: audit disk full for $FULL_SECONDS s"
		event "disk-full"
		dd if=/dev/zero of="$MNT/filler" bs=1M >/dev/null 2>&1 || true
		dd if=/dev/zero of="$MNT/filler2" bs=4k >/dev/null 2>&1 || true
		dd if=/dev/zero of="$MNT/filler3" bs=1 >/dev/null 2>&1 || true
		event "disk-filled"
		sleep "$FULL_SECONDS"
		rm -f "$MNT/filler" "$MNT/filler2" "$MNT/filler3"
		event "disk-freed"
		full_done=1
	fi
	[ "$t" != end ] || break
	sleep_until "$t"
	down=${DOWNS[$((k % ${#DOWNS[@]}))]}
	k=$((k + 1))
	echo "  $(($(date +%s) - start_s)) s: outage $k: p11-kit server killed for $down s"
	event "outage-start $k $down"
	token_away
	sleep 0.5
	probe "$k"
	sleep "$(python3 -c "print($down - 0.5 if $down > 0.5 else 0)")"
	token_back
	event "token-back $k"
done
wait "$load_pid" || {
	load_pid=
	echo "chaos.sh: vault-chaos load failed: $(cat "$W/load.err")" >&2
	exit 1
}
load_pid=
event "load-end"
cat "$W/load.out"
sleep 1
curl_vd -o "$W/metrics.end" http://vaultd/metrics || true
kill "$sampler_pid" 2>/dev/null || true
wait "$sampler_pid" 2>/dev/null || true
sampler_pid=
vd_alive=1 vd_hung=0
kill -0 "$vd_pid" 2>/dev/null || vd_alive=0
kill -TERM "$vd_pid" 2>/dev/null || true
# SIGTERM must end vaultd; one that hangs is reported (with every thread's
# stack when gdb is there: a thread stuck in a token call), then killed
for ((i = 0; i < 300; i++)); do
	kill -0 "$vd_pid" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$vd_pid" 2>/dev/null; then
	vd_hung=1
	if [ -n "$gdb_pid" ]; then
		kill -KILL "$gdb_pid" 2>/dev/null || true
		wait "$gdb_pid" 2>/dev/null || true
		gdb_pid=''
	fi
	if command -v gdb >/dev/null 2>&1; then
		gdb -p "$vd_pid" -batch -ex 'set pagination off' -ex 'thread apply all bt' >"$W/hang-bt.txt" 2>&1 </dev/null || true
	fi
	kill -KILL "$vd_pid" 2>/dev/null || true
fi
vd_rc=0
wait "$vd_pid" || vd_rc=$?
vd_pid=
if [ -n "$gdb_pid" ]; then
	wait "$gdb_pid" 2>/dev/null || true
	gdb_pid=''
fi
echo "load average $(loadavg) after the run"

echo "checking every reply (signatures with OpenSSL, audit records by request id) ..."
verify_rc=0
vc audit verify "$AUDIT" >"$W/verify.out" 2>&1 || verify_rc=$?
check_rc=0
"$top_builddir/vault-chaos" check --pub "$W/pub.pem" --key chaos-p256 --tag run --threads "$THREADS" \
	--replies "$W/run" "$AUDIT" >"$W/check.json" 2>"$W/check.err" || check_rc=$?
cap_rc=0
"$top_builddir/vault-chaos" check --pub "$W/pub.pem" --key chaos-p256 --tag cap --threads "$THREADS" \
	--replies "$W/cap" "$AUDIT" >"$W/check-cap.json" 2>"$W/check-cap.err" || cap_rc=$?
head -c 2000 "$W/check.err" "$W/check-cap.err" >&2 || true

summary_rc=0
python3 - "$W" "$THREADS" "$vd_rc" "$verify_rc" "$check_rc" "$cap_rc" "$full_disk" "$SECONDS_RUN" "$rate" "$capacity" "$vd_alive" "$vd_hung" <<'PY' || summary_rc=$?
import collections, json, os, re, statistics, sys
w, threads = sys.argv[1], int(sys.argv[2])
vd_rc, verify_rc, check_rc, cap_rc, full_disk = map(int, sys.argv[3:8])
run_s, rate, capacity, vd_alive = int(sys.argv[8]), float(sys.argv[9]), float(sys.argv[10]), int(sys.argv[11])
vd_hung = int(sys.argv[12])
bad = []
if vd_hung:
    bt = os.path.join(w, "hang-bt.txt")
    bad.append("VAULTD DID NOT EXIT within 30 s of SIGTERM (killed)%s" % (
        "; every thread's stack: %s" % bt if os.path.exists(bt) else ""))
if not vd_alive:
    ev_dead = [l for l in open(os.path.join(w, "samples"))][-1:] if os.path.exists(os.path.join(w, "samples")) else []
    bad.append("VAULTD DIED during the run (exit status %d; last RSS sample at %s); the end of its log:\n      %s" % (
        vd_rc, ev_dead[0].split()[0] if ev_dead else "?",
        "\n      ".join(open(os.path.join(w, "vaultd.log"), errors="replace").read().splitlines()[-5:])))

ev = [l.split() for l in open(os.path.join(w, "events"))]
outages = []  # [k, down, t_kill, t_back]
probes = {}
disk = {}
for e in ev:
    t = int(e[0])
    if e[1] == "outage-start":
        outages.append([int(e[2]), int(e[3]), t, None])
    elif e[1] == "token-back":
        outages[int(e[2]) - 1][3] = t
    elif e[1] == "probe":
        probes[int(e[2])] = " ".join(e[3:])
    elif e[1] in ("disk-full", "disk-filled", "disk-freed", "load-start", "load-end"):
        disk[e[1]] = t

# every reply: (done_ms, status, code)
st = collections.Counter()
ok_times = []
n503_during = collections.Counter()
req = 0
retry_missing = 0
for i in range(threads):
    for l in open(os.path.join(w, "run", "replies.%d" % i)):
        f = l.split()
        req += 1
        done = int(f[2]) / 1e6
        s, code = f[3], f[4]
        st[(s, code)] += 1
        if s == "200":
            ok_times.append(done)
        elif s == "503" and f[7] == "-":
            retry_missing += 1
ok_times.sort()
import base64, bisect, random, subprocess

# a second opinion on a sample, from the openssl command (vault-chaos
# check verifies every one through libcrypto)
sample = []
for i in range(threads):
    for l in open(os.path.join(w, "run", "replies.%d" % i)):
        f = l.split()
        if f[3] == "200" and random.random() < 0.001 or len(sample) < 2 * (i + 1) and f[3] == "200":
            sample.append((i, f[0], f[8]))
cli_bad = 0
for i, n, sig in random.sample(sample, min(40, len(sample))):
    open(os.path.join(w, "cli.msg"), "w").write("vault-chaos run t%d n%s" % (i, n))
    open(os.path.join(w, "cli.sig"), "wb").write(base64.b64decode(sig))
    r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", os.path.join(w, "pub.pem"), "-signature",
                        os.path.join(w, "cli.sig"), os.path.join(w, "cli.msg")], capture_output=True)
    cli_bad += r.returncode != 0
if cli_bad:
    bad.append("%d of %d sampled signatures rejected by the openssl command" % (cli_bad, min(40, len(sample))))

n200 = st[("200", "-")]
print()
print("=== chaos run summary ===")
print("load: %.1f requests/s (%.0f%% of a capacity of %.1f/s is the target), %d s" % (
    req / run_s, 100.0 * rate / capacity if capacity else 0, capacity, run_s))
print("requests: %d   200: %d" % (req, n200))
for (s, code), n in sorted(st.items()):
    if s != "200":
        print("  %s %s: %d" % (s, code, n))
allowed = {("503", "token_unavailable"), ("503", "audit_unavailable")}
for (s, code), n in st.items():
    if s != "200" and (s, code) not in allowed:
        bad.append("%d replies %s %s (only 200 and 503 token_unavailable/audit_unavailable are expected)" % (n, s, code))
if retry_missing:
    bad.append("%d 503 replies without Retry-After" % retry_missing)
if full_disk and st[("503", "audit_unavailable")] == 0:
    bad.append("the full audit disk was never seen (no 503 audit_unavailable)")

chk = json.load(open(os.path.join(w, "check.json"))) if os.path.getsize(os.path.join(w, "check.json")) else {}
chk_cap = json.load(open(os.path.join(w, "check-cap.json"))) if os.path.getsize(os.path.join(w, "check-cap.json")) else {}
wrong = chk.get("wrong_signatures", -1) + chk_cap.get("wrong_signatures", 0)
unaud = chk.get("without_audit", -1) + chk_cap.get("without_audit", 0)
print("signatures verified with OpenSSL: %s of %s 200s (capacity phase: %s of %s)" % (
    chk.get("signatures_verified"), chk.get("ok"), chk_cap.get("signatures_verified"), chk_cap.get("ok")))
print("wrong signatures: %d (and %d of %d sampled ones rejected by the openssl command)" % (wrong, cli_bad, min(40, len(sample))))
print("results without audit lines: %d" % unaud)
print("audit log: %s lines, %s sign records with 200 (200s received: %d)" % (
    chk.get("audit_lines"), chk.get("audit_ok_records"), n200 + chk_cap.get("ok", 0)))
if check_rc != 0 or cap_rc != 0 or wrong != 0 or unaud != 0:
    bad.append("vault-chaos check failed (exit %d/%d): wrong signatures %d, results without audit lines %d" % (check_rc, cap_rc, wrong, unaud))
vout = open(os.path.join(w, "verify.out")).read().strip()
print("vaultctl audit verify: exit %d: %s" % (verify_rc, vout.splitlines()[-1] if vout else ""))
if verify_rc != 0:
    bad.append("vaultctl audit verify exited %d: %s" % (verify_rc, vout[:300]))

# RSS and fds
smp = [l.split() for l in open(os.path.join(w, "samples"))]
smp = [(int(f[0]) / 1000.0, int(f[1]), int(f[2])) for f in smp if len(f) == 3 and f[1].isdigit()]
rss = [s[1] for s in smp]
fds = [s[2] for s in smp]
n = len(smp)
if n >= 10:
    base = statistics.median(rss[n // 10: n // 5 + 1])
    tail = statistics.median(rss[-max(1, n // 10):])
    growth = tail - base
    print("RSS (kB): first %d, max %d, last %d; median after warm-up %d, over the last 10%% %d (%d samples every few s)" % (
        rss[0], max(rss), rss[-1], base, tail, n))
    if growth > max(8192, base * 0.2):
        bad.append("RSS grew from %d kB to %d kB" % (base, tail))
    print("open fds: first %d, max %d, last %d" % (fds[0], max(fds), fds[-1]))
    if fds[-1] > fds[0] + 4:
        bad.append("open fds grew from %d to %d" % (fds[0], fds[-1]))
else:
    bad.append("only %d RSS samples" % n)

# recovery per outage: token back -> first 200 completed after it
log = open(os.path.join(w, "vaultd.log"), errors="replace").read()
ends = [float(x) for x in re.findall(r"token outage ended after ([0-9.]+) s", log)]
starts = len(re.findall(r"token outage: the token is unavailable", log))
print("outages (p11-kit server killed, restarted after DOWN s):")
for k, down, tk, tb in outages:
    i = bisect.bisect_right(ok_times, tb / 1000.0)
    rec = (ok_times[i] - tb / 1000.0) if i < len(ok_times) else None
    i0 = bisect.bisect_right(ok_times, tk / 1000.0)
    gap = (ok_times[i] - ok_times[i0 - 1]) if i < len(ok_times) and i0 > 0 else None
    vd = ("%.3f s" % ends[k - 1]) if k - 1 < len(ends) else "none"
    print("  outage %d: down %2d s; signing back %s after the token returned (no 200 for %s); vaultd's outage line: %s; during it: %s" % (
        k, down, "%.0f ms" % (rec * 1000) if rec is not None else "NEVER",
        "%.1f s" % gap if gap is not None else "?", vd, probes.get(k, "not probed")))
    if rec is None:
        bad.append("outage %d: signing never came back" % k)
    elif rec > 5:
        bad.append("outage %d: signing back only %.1f s after the token returned" % (k, rec))
    p = probes.get(k, "")
    if "ready=503" not in p or "health=200" not in p or "metrics=200 " not in p + " ":
        bad.append("outage %d: during it %s (want ready=503 health=200 metrics=200 with p11vault_token_available 0)" % (k, p))
print("vaultd's outage lines: %d start, %d end (for %d outages)" % (starts, len(ends), len(outages)))
if starts != len(outages) or len(ends) != len(outages):
    bad.append("vaultd logged %d outage starts and %d ends for %d outages" % (starts, len(ends), len(outages)))
met = open(os.path.join(w, "metrics.end"), errors="replace").read() if os.path.exists(os.path.join(w, "metrics.end")) else ""
for name in ("p11vault_token_available", "p11vault_token_outages_total", "p11vault_token_outage_seconds_total"):
    m = re.search(r"^%s (\S+)$" % name, met, re.M)
    print("  /metrics %s %s" % (name, m.group(1) if m else "missing"))
m = re.search(r"^p11vault_token_outages_total (\S+)$", met, re.M)
if not m or int(float(m.group(1))) != len(outages):
    bad.append("/metrics p11vault_token_outages_total is %s, want %d" % (m.group(1) if m else "missing", len(outages)))

if full_disk:
    tf, tfree = disk["disk-full"] / 1000.0, disk["disk-freed"] / 1000.0
    i = bisect.bisect_right(ok_times, tfree)
    rec = ok_times[i] - tfree if i < len(ok_times) else None
    print("audit disk full for %.1f s: %d answers 503 audit_unavailable; signing back %s after space was freed; vaultd said: %s" % (
        tfree - tf, st[("503", "audit_unavailable")], "%.0f ms" % (rec * 1000) if rec is not None else "NEVER",
        "; ".join(sorted(set(re.findall(r"audit log: (cannot write|writing again)", log)))) or "nothing"))
    if rec is None or rec > 5:
        bad.append("signing not back after the audit disk was freed")
    # Said when writing stops and when it resumes, not per request: the
    # lines alternate, start with "cannot write" and end with "writing
    # again". The disk is filled in three steps (1 MiB, 4 KiB, 1-byte
    # blocks), and between them a smaller batch of lines can still fit
    # after a larger one did not: at most one pair per step.
    said = re.findall(r"audit log: (cannot write|writing again)", log)
    pairs = len(said) // 2
    if (len(said) < 2 or len(said) % 2 != 0 or pairs > 3 or
            any(w != ("cannot write" if i % 2 == 0 else "writing again") for i, w in enumerate(said))):
        bad.append("vaultd's audit-state lines: %s (want 'cannot write' then 'writing again', 1-3 times)" % (
            ", ".join(said) or "none"))
else:
    bad.append("the audit-disk-full episode was left out (not root or no tmpfs)")
print("vaultd exit status after SIGTERM: %d" % vd_rc if vd_alive else "vaultd was dead before the end (exit status %d)" % vd_rc)
if vd_rc != 0 and vd_alive and not vd_hung:
    bad.append("vaultd exited %d after SIGTERM" % vd_rc)
other = [l for l in log.splitlines() if l.strip() and not re.search(
    r"token outage|audit log: (cannot write|writing again)|listening|ready|SIGTERM|stopp|exit", l)]
if other:
    print("other vaultd log lines (%d), first ones:" % len(other))
    for l in other[:8]:
        print("  " + l[:200])
print()
if bad:
    print("CHAOS RUN FAILED:")
    for b in bad:
        print("  - " + b)
    sys.exit(1)
print("chaos run: all invariants held")
PY
if [ "$summary_rc" != 0 ]; then
	keep=1 # the replies, logs and samples, for a look
	exit 1
fi
