#!/bin/bash
# A flood of bad credentials (docs/audit.md §5, api.md §2): 3000 pipelined
# requests with a wrong bearer token from one peer while a good client
# signs. The good client keeps working (every sign 200, verified by
# OpenSSL); the flood gets 401 and then 429 with Retry-After; the audit log
# holds a few lines for it (one per peer per interval and a summary with a
# count), whose counts add up to every failed request; audit verify passes.
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/vaultd.sh"
vd_need
W=$PV_WORK
LOG=$PV_OUT/audit.log
FLOOD=3000

run_expect 0 vc key create ec --alg p256 --purpose sign
vc key show ec --format pem >"$W/ec.pem" || fail "no public key"
TOK=$(vd_new_token)
vd_auth_header "$W/auth" "$TOK"
CFG=$W/vaultd.json
vd_base_config "[{\"name\": \"app\", \"auth\": {\"token_sha256\": \"$(vd_token_hash "$TOK")\"},
  \"rules\": [{\"ops\": [\"sign\"], \"keys\": [\"ec\"]}]}]" >"$CFG"
vd_start "$CFG"

say "$FLOOD pipelined requests with a wrong token, a good client signing meanwhile"
python3 - "$VD_SOCK" "$FLOOD" >"$W/flood.out" <<'PY' &
import socket, sys, collections
path, n = sys.argv[1], int(sys.argv[2])
req = (b"GET /v1/keys HTTP/1.1\r\nHost: vaultd\r\n"
       b"Authorization: Bearer pvt_wrongwrongwrongwrongwrongwrongwrongwrong\r\n\r\n")
counts = collections.Counter()
retry = 0
done = 0
while done < n:
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    batch = min(500, n - done)
    s.sendall(req * batch)
    buf = b""
    got = 0
    while got < batch:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
        while True:
            i = buf.find(b"\r\n\r\n")
            if i < 0:
                break
            head = buf[:i].decode("latin1").split("\r\n")
            length = 0
            for h in head[1:]:
                k, _, v = h.partition(":")
                if k.lower() == "content-length":
                    length = int(v)
                if k.lower() == "retry-after":
                    retry += 1
            if len(buf) < i + 4 + length:
                break
            counts[head[0].split()[1]] += 1
            buf = buf[i + 4 + length:]
            got += 1
    s.close()
    done += got if got else batch
    if got == 0:
        counts["lost"] += batch
print(" ".join("%s=%d" % kv for kv in sorted(counts.items())), "retry_after=%d" % retry)
PY
flood=$!
for ((i = 0; i < 20; i++)); do
	printf 'good %s' "$i" >"$W/m.$i"
	vd_expect 200 POST /v1/keys/ec/sign -H @"$W/auth" -H 'Content-Type: application/json' \
		-d "{\"input_b64\":\"$(base64 -w0 "$W/m.$i")\",\"format\":\"der\"}"
	json_get "$VD_BODY" signature_b64 | base64 -d >"$W/s.$i"
	openssl dgst -sha256 -verify "$W/ec.pem" -signature "$W/s.$i" "$W/m.$i" >/dev/null ||
		fail "good signature $i does not verify"
done
wait "$flood" || fail "the flood client failed"
say "flood: $(cat "$W/flood.out")"
python3 - "$W/flood.out" "$FLOOD" <<'PY' || fail "flood answers"
import sys
d = dict(kv.split("=") for kv in open(sys.argv[1]).read().split())
n = int(sys.argv[2])
assert int(d.get("401", 0)) + int(d.get("429", 0)) == n, d
assert int(d.get("429", 0)) > 0, "never rate limited: %s" % d
assert int(d.get("401", 0)) >= 20, d
assert int(d["retry_after"]) >= int(d["429"]), d
PY
[ "$(vd_stop)" = 0 ] || fail "vaultd did not exit 0"

say "the audit log: a few lines for the flood, counting every request"
python3 - "$LOG" "$FLOOD" <<'PY' || fail "audit lines of the flood"
import json, sys
n = int(sys.argv[2])
lines = total = good = 0
for l in open(sys.argv[1]):
    d = json.loads(l)
    if d.get("status") == 401:
        lines += 1
        total += d.get("count", 1)
        assert d["client"] == "uid:%d" % __import__("os").getuid(), d
    elif d.get("status") == 200 and d.get("key") == "ec":
        good += 1
assert total == n, (total, n)
assert lines <= 40, "%d audit lines for the flood" % lines
assert good == 20, good
print("flood lines:", lines)
PY
run_expect 0 vc audit verify "$LOG"
