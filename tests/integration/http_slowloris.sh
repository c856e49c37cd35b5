#!/bin/bash
# vaultd's connection budget (docs/api.md §1 "Connections"): per-peer caps
# on the Unix socket (per uid) and on TCP with TLS (per address) — past the
# cap the oldest head-less connection of that peer makes room, and when the
# peer's connections are all busy the new one is closed; a bounded
# slow-loris run (300 trickling, reconnecting connections for 6 s against a
# budget of 128) during which a legitimate client keeps being served (on
# fresh and on kept-alive connections); and work spreads over the workers
# (on a token whose C_Sign takes 250 ms - the fault shim - two clients on
# 2 workers sign side by side). Raw sockets (python3); signatures checked
# with openssl.
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/vaultd.sh"
vd_need

W=$PV_WORK
CFG=$W/vaultd.json
ADMIN=$(vd_new_token)
SIGNER=$(vd_new_token)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=localhost" \
	-addext "subjectAltName=IP:127.0.0.1" -keyout "$W/server.key" -out "$W/server.crt" \
	>"$W/openssl.log" 2>&1 || fail "openssl: server certificate"
run_expect 0 vc key create slow --alg p256 --purpose sign
PORT=$(vd_free_port)
vd_base_config "[{\"name\": \"admin\", \"auth\": {\"token_sha256\": \"$(vd_token_hash "$ADMIN")\"}, \"role\": \"admin\"},
 {\"name\": \"signer\", \"auth\": {\"token_sha256\": \"$(vd_token_hash "$SIGNER")\"},
  \"rules\": [{\"ops\": [\"sign\", \"keys.read\"], \"keys\": [\"slow\"]}],
  \"rate\": {\"per_second\": 100000, \"burst\": 100000}}]" >"$CFG"
vd_json_set "$CFG" \
	"listen.tcp={\"address\": \"127.0.0.1:$PORT\", \"tls_cert\": \"$W/server.crt\", \"tls_key\": \"$W/server.key\"}" \
	'limits={"header_timeout_ms": 20000, "body_timeout_ms": 20000, "request_timeout_ms": 20000, "max_connections_per_peer": 8}'
vd_start "$CFG"
metric() { # REASON: a connection counter from $VD_BODY
	sed -n "s/^p11vault_http_connections_[a-z]*_total{reason=\"$1\"} //p" "$VD_BODY"
}

say "per-peer cap 8: a 9th connection evicts the oldest head-less one; with 8 busy ones it is closed"
python3 - "$VD_SOCK" "$PORT" "$W/server.crt" >"$W/caps.out" 2>&1 <<'EOF' || { cat "$W/caps.out" >&2; fail "per-peer caps (above)"; }
import socket, ssl, sys, time, select

SOCK, PORT, CA = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(cafile=CA)

def unix():
    s = socket.socket(socket.AF_UNIX)
    s.connect(SOCK)
    return s

def tls():
    s = socket.create_connection(("127.0.0.1", PORT), timeout=10)
    return ctx.wrap_socket(s, server_hostname="127.0.0.1")

def closed_within(s, secs):
    """True when the server ends the connection within secs."""
    t = time.monotonic() + secs
    while time.monotonic() < t:
        r, _, _ = select.select([s], [], [], 0.1)
        if r:
            try:
                if not s.recv(4096):
                    return True
            except (OSError, ssl.SSLError):
                return True
    return False

def served(s):
    s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: v\r\n\r\n")
    s.settimeout(10)
    d = b""
    while b"\r\n\r\n" not in d:
        b = s.recv(4096)
        if not b:
            return False
        d += b
    return d.startswith(b"HTTP/1.1 200")

BUSY = b"POST /v1/health HTTP/1.1\r\nHost: v\r\nContent-Length: 100\r\n\r\n"  # head done, body pending
bad = 0
for name, mk in (("Unix socket, per uid", unix), ("TCP with TLS, per address", tls)):
    # 8 head-less connections, then a 9th: the oldest goes, the 9th is served
    idle = [mk() for _ in range(8)]
    time.sleep(0.2)
    ninth = mk()
    ok1 = closed_within(idle[0], 5) and served(ninth) and not closed_within(idle[1], 0.3)
    for s in idle + [ninth]:
        s.close()
    time.sleep(0.5)
    # 8 busy connections (head complete, body pending), then a 9th: refused
    busy = [mk() for _ in range(8)]
    for s in busy:
        s.sendall(BUSY)
    time.sleep(0.5)
    try:
        ninth = mk()
        ok2 = closed_within(ninth, 5)
    except (OSError, ssl.SSLError):
        ok2 = True  # closed during the TLS handshake
    ok2 = ok2 and not closed_within(busy[0], 0.3)
    for s in busy:
        s.close()
    time.sleep(0.5)
    print("%s %s: oldest head-less evicted for the 9th=%s; 9th refused with 8 busy=%s"
          % ("ok  " if ok1 and ok2 else "FAIL", name, ok1, ok2))
    bad += not (ok1 and ok2)
sys.exit(1 if bad else 0)
EOF
cat "$W/caps.out"
vd_expect 200 GET /metrics -H "Authorization: Bearer $ADMIN"
[ "$(metric per_peer)" -ge 2 ] || fail "per_peer refusals: $(metric per_peer), want >= 2"
[ "$(metric evicted)" -ge 2 ] || fail "evictions: $(metric evicted), want >= 2"
vd_stop

say "work spreads: on a token whose C_Sign takes 250 ms, two clients on 2 workers sign side by side"
SHIM=$top_builddir/tests/faultmod/.libs/libpvfault.so
[ -f "$SHIM" ] || fail "the fault-injection module $SHIM is not built"
vd_json_set "$CFG" 'workers=2' "token.module=\"$SHIM\"" \
	'limits={"max_connections": 128, "max_connections_per_peer": 1024, "header_timeout_ms": 2000}'
PV_FAULT_MODULE=$P11VAULT_MODULE PV_FAULT_SIGN_DELAY_MS=250 vd_start "$CFG"
printf 'spread the work' >"$W/msg"
MSG_B64=$(base64 -w0 "$W/msg")
python3 - "$VD_SOCK" "$SIGNER" "$MSG_B64" "$W/sig" >"$W/spread.out" 2>&1 <<'EOF' || { cat "$W/spread.out" >&2; fail "work spread (above)"; }
import json, socket, sys, threading, time, base64

SOCK, TOKEN, MSG, SIGOUT = sys.argv[1:5]
BODY = json.dumps({"input_b64": MSG, "format": "der"}).encode()
REQ = (b"POST /v1/keys/slow/sign HTTP/1.1\r\nHost: v\r\nAuthorization: Bearer " + TOKEN.encode() +
       b"\r\nContent-Type: application/json\r\nContent-Length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)

def client(n, out):
    s = socket.socket(socket.AF_UNIX)
    s.connect(SOCK)
    s.settimeout(60)
    for _ in range(n):
        s.sendall(REQ)
        d = b""
        while True:
            b = s.recv(65536)
            if not b:
                raise RuntimeError("closed")
            d += b
            head, sep, body = d.partition(b"\r\n\r\n")
            if sep:
                cl = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0])
                if len(body) >= cl:
                    break
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(head[:100])
        out.append(json.loads(body[:cl]))
    s.close()

def run(clients, n):
    outs = [[] for _ in range(clients)]
    ts = [threading.Thread(target=client, args=(n, outs[i])) for i in range(clients)]
    t0 = time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return time.monotonic() - t0, outs

N = 4
client(1, [])  # warm up
one, _ = run(1, N)
two, outs = run(2, N)
ratio = two / one  # 1.0: side by side; 2.0: one after the other (one worker for both)
print("1 client: %d signatures in %.2f s; 2 clients: %d each in %.2f s; ratio %.2f" % (N, one, N, two, ratio))
assert all(len(o) == N for o in outs), "a client got fewer answers"
open(SIGOUT, "wb").write(base64.b64decode(outs[1][-1]["signature_b64"]))
sys.exit(0 if ratio < 1.6 else 1)
EOF
cat "$W/spread.out"
# the signatures are real: openssl checks one
vd_expect 200 GET /v1/keys/slow -H "Authorization: Bearer $SIGNER"
python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["versions"][0]["public_key_pem"], end="")' "$VD_BODY" >"$W/slow.pem"
openssl dgst -sha256 -verify "$W/slow.pem" -signature "$W/sig" "$W/msg" >/dev/null ||
	fail "openssl does not verify the signature"
vd_stop
vd_json_set "$CFG" "token.module=\"$P11VAULT_MODULE\""
vd_start "$CFG"

say "slow-loris: 300 trickling, reconnecting connections for 6 s; a legitimate client keeps being served"
python3 - "$VD_SOCK" "$VD_PID" >"$W/loris.out" 2>&1 <<'EOF' || { cat "$W/loris.out" >&2; fail "slow-loris (above)"; }
import socket, sys, time, threading, select

SOCK, PID = sys.argv[1], sys.argv[2]
ATTACKERS, SECONDS = 300, 6.0
REQ = b"GET /v1/health HTTP/1.1\r\nHost: v\r\n\r\n"
stop = threading.Event()
stats = {"connects": 0, "cut": 0}

def attacker():
    conns = []
    while not stop.is_set():
        while len(conns) < ATTACKERS:
            s = socket.socket(socket.AF_UNIX)
            s.setblocking(False)
            try:
                s.connect(SOCK)
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                s.close()
                break
            conns.append(s)
            stats["connects"] += 1
        keep = []
        for s in conns:
            try:
                s.send(b"X")  # one header byte
                keep.append(s)
            except OSError:
                s.close()
                stats["cut"] += 1
        conns = keep
        time.sleep(0.3)
    for s in conns:
        s.close()

def rss_kib():
    for l in open("/proc/%s/status" % PID):
        if l.startswith("VmRSS:"):
            return int(l.split()[1])
    return 0

def one(s):
    """One request on s (or a fresh connection); returns (ok, seconds, socket to reuse)."""
    t0 = time.monotonic()
    try:
        if s is None:
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(5)
            s.connect(SOCK)
        s.sendall(REQ)
        d = b""
        while b"}" not in d:
            b = s.recv(4096)
            if not b:
                raise OSError("closed")
            d += b
        return d.startswith(b"HTTP/1.1 200"), time.monotonic() - t0, s
    except OSError:
        if s is not None:
            s.close()
        return False, time.monotonic() - t0, None

a = threading.Thread(target=attacker)
a.start()
time.sleep(1.0)  # let the attack fill the budget
served = total = 0
lat = []
rss = rss_kib()
keep = None
end = time.monotonic() + SECONDS
i = 0
while time.monotonic() < end:
    fresh = i % 2 == 0
    ok, dt, s = one(None if fresh else keep)
    if fresh:
        if s is not None:
            s.close()
    else:
        keep = s
    total += 1
    served += ok
    if ok:
        lat.append(dt)
    rss = max(rss, rss_kib())
    i += 1
    time.sleep(0.02)
stop.set()
a.join()
lat.sort()
p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else float("nan")
print("legitimate: %d/%d served (%.1f%%), p50 %.1f ms, p99 %.1f ms; attacker connects %d, cut %d; vaultd max RSS %d KiB"
      % (served, total, 100.0 * served / max(total, 1), p(0.5), p(0.99), stats["connects"], stats["cut"], rss))
sys.exit(0 if total >= 20 and served >= 0.95 * total and stats["cut"] > 0 else 1)
EOF
cat "$W/loris.out"
vd_expect 200 GET /metrics -H "Authorization: Bearer $ADMIN"
grep '^p11vault_http_connections' "$VD_BODY"
[ "$(metric evicted)" -ge 1 ] || fail "no eviction under the slow-loris run"
vd_expect 200 GET /v1/health
vd_stop
echo "http_slowloris: ok"
