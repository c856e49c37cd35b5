#!/bin/bash
# vaultd's connection deadlines (docs/api.md §1 "Connections"): a client
# that trickles its request head (one byte every 250 ms, so an idle timeout
# never fires) is cut at limits.header_timeout_ms from accept, on the Unix
# socket, during a TLS handshake and after it; one that trickles its body at
# limits.body_timeout_ms from the complete head; on a kept-alive connection
# the next head must begin within limits.request_timeout_ms of the last
# answer and, once begun, be complete within limits.header_timeout_ms.
# None of them gets an answer. The cuts are counted in /metrics and leave no
# audit line. Raw sockets (python3); certificates made here with openssl.
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/vaultd.sh"
vd_need

W=$PV_WORK
CFG=$W/vaultd.json
ADMIN=$(vd_new_token)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=localhost" \
	-addext "subjectAltName=IP:127.0.0.1" -keyout "$W/server.key" -out "$W/server.crt" \
	>"$W/openssl.log" 2>&1 || fail "openssl: server certificate"
PORT=$(vd_free_port)
vd_base_config "[{\"name\": \"admin\", \"auth\": {\"token_sha256\": \"$(vd_token_hash "$ADMIN")\"}, \"role\": \"admin\"}]" >"$CFG"
vd_json_set "$CFG" \
	"listen.tcp={\"address\": \"127.0.0.1:$PORT\", \"tls_cert\": \"$W/server.crt\", \"tls_key\": \"$W/server.key\"}" \
	'limits={"header_timeout_ms": 2000, "body_timeout_ms": 2000, "request_timeout_ms": 4000}'
vd_start "$CFG"

say "trickling clients are cut at their deadline, without an answer"
audit_before=$(wc -l <"$PV_OUT/audit.log")
python3 - "$VD_SOCK" "$PORT" "$W/server.crt" >"$W/trickle.out" 2>&1 <<'EOF' || { cat "$W/trickle.out" >&2; fail "deadlines (above)"; }
import socket, ssl, sys, threading, time, select

SOCK, PORT, CA = sys.argv[1], int(sys.argv[2]), sys.argv[3]
HEAD = b"GET /v1/health HTTP/1.1\r\nHost: v\r\nX-Slow: " + b"a" * 400 + b"\r\n\r\n"
results = {}

def trickle(sock, data, step=0.25, limit=30.0):
    """Send data one byte per step until the server closes. Returns
    (seconds until closed or None, bytes the server sent)."""
    t0 = time.monotonic()
    got = b""
    for i in range(len(data)):
        if time.monotonic() - t0 > limit:
            return None, got
        try:
            sock.sendall(data[i:i + 1])
        except OSError:
            return time.monotonic() - t0, got
        r, _, _ = select.select([sock], [], [], step)
        if r:
            try:
                b = sock.recv(4096)
            except (OSError, ssl.SSLError):
                return time.monotonic() - t0, got
            if not b:
                return time.monotonic() - t0, got
            got += b
    return None, got

def unix():
    s = socket.socket(socket.AF_UNIX)
    s.connect(SOCK)
    return s

def case(name, fn):
    def run():
        try:
            results[name] = fn()
        except Exception as e:  # reported as a failure
            results[name] = ("error", repr(e))
    t = threading.Thread(target=run)
    t.start()
    return t

def head_unix():
    return trickle(unix(), HEAD)

def tls_handshake_trickle():
    # the ClientHello, one byte at a time: the handshake is under the head deadline
    ctx = ssl.create_default_context(cafile=CA)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="127.0.0.1")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = out.read()
    s = socket.create_connection(("127.0.0.1", PORT))
    return trickle(s, hello * 20)

def head_tls():
    ctx = ssl.create_default_context(cafile=CA)
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", PORT)), server_hostname="127.0.0.1")
    return trickle(s, HEAD)

def body_unix():
    s = unix()
    s.sendall(b"POST /v1/health HTTP/1.1\r\nHost: v\r\nContent-Length: 1000\r\n\r\n")
    return trickle(s, b"x" * 1000)

def first_answer(s):
    s.sendall(b"GET /v1/no-such-path HTTP/1.1\r\nHost: v\r\n\r\n")
    d = b""
    while b"}}" not in d:
        b = s.recv(4096)
        if not b:
            raise RuntimeError("closed before the first answer")
        d += b

def keepalive_idle():
    s = unix()
    first_answer(s)  # a 404: audited like any request
    t0 = time.monotonic()
    s.settimeout(30.0)
    try:
        got = s.recv(4096)
    except OSError:
        got = b""
    return time.monotonic() - t0, got

def keepalive_unix():
    s = unix()
    # one complete request first (a 404: audited like any request)
    s.sendall(b"GET /v1/no-such-path HTTP/1.1\r\nHost: v\r\n\r\n")
    d = b""
    while b"}}" not in d:
        b = s.recv(4096)
        if not b:
            raise RuntimeError("closed before the first answer")
        d += b
    return trickle(s, HEAD)

threads = [case("head, Unix socket", head_unix), case("TLS handshake", tls_handshake_trickle),
           case("head, after TLS handshake", head_tls), case("body, Unix socket", body_unix),
           case("next head on a kept-alive connection", keepalive_unix),
           case("kept-alive connection, nothing sent", keepalive_idle)]
for t in threads:
    t.join()
bounds = {"kept-alive connection, nothing sent": (3.0, 12.0)}
bad = 0
for name in ["head, Unix socket", "TLS handshake", "head, after TLS handshake", "body, Unix socket",
             "next head on a kept-alive connection", "kept-alive connection, nothing sent"]:
    r = results.get(name)
    lo, hi = bounds.get(name, (1.5, 10.0))
    ok = r is not None and r[0] != "error" and r[0] is not None and lo <= r[0] <= hi and b"HTTP/1.1" not in r[1]
    if ok:
        print("ok   %-40s cut after %.2f s (bounds %.1f-%.1f s)" % (name, r[0], lo, hi))
    else:
        print("FAIL %-40s %r (bounds %.1f-%.1f s, no answer expected)" % (name, r, lo, hi))
        bad += 1
sys.exit(1 if bad else 0)
EOF
cat "$W/trickle.out"

say "the cuts are counted in /metrics, and not audited"
audit_after=$(wc -l <"$PV_OUT/audit.log")
# two lines: the kept-alive connections' 404s
assert_eq "$audit_after" "$((audit_before + 2))" "audit lines after the cuts (two requests were complete)"
vd_expect 200 GET /metrics -H "Authorization: Bearer $ADMIN"
metric() { sed -n "s/^p11vault_http_connections_cut_total{reason=\"$1\"} //p" "$VD_BODY"; }
[ "$(metric header_deadline)" -ge 4 ] || fail "header_deadline cuts: $(metric header_deadline), want >= 4"
[ "$(metric body_deadline)" -ge 1 ] || fail "body_deadline cuts: $(metric body_deadline), want >= 1"
[ "$(metric idle_deadline)" -ge 1 ] || fail "idle_deadline cuts: $(metric idle_deadline), want >= 1"
grep '^p11vault_http_connections' "$VD_BODY"

say "a prompt client is served, also over TLS"
vd_expect 200 GET /v1/health
code=$(curl -sS --max-time 20 --cacert "$W/server.crt" -o /dev/null -w '%{http_code}' "https://127.0.0.1:$PORT/v1/health")
assert_eq "$code" 200 "health over TLS"
vd_stop
echo "http_deadlines: ok"
