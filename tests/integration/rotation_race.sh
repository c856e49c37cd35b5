#!/bin/bash
# Rotation is invisible to clients (issue 13 item 4; docs/api.md "Wallet",
# "JWT"; docs/wallet.md "Rotation"): vaultd serves plain signatures, JWT
# issues and wallet sign-transaction (Solana and EVM) from several client
# loops while other processes run `vaultctl key rotate` on each of those
# keys (ROTATIONS times each, default 10). Asserted: no 409, no 5xx, every
# request answered 200 (a Solana transaction built for an address that a
# rotation replaced between the address request and the signing request is
# the one other answer allowed: 400 naming the key as no required signer,
# counted; the client then asks for the address again). Every returned
# signature is verified — Ed25519 by OpenSSL (the command, or its Python
# binding python3-cryptography when installed), EVM by libsecp256k1
# (tests/verify-secp256k1) — against the public key of the version the
# reply names (and, once per kind, refused with another version's key), and
# a wallet reply's address is that version's address (computed here). A
# SIGHUP every 20 ms while the keys rotate flushes vaultd's metadata cache,
# so that many requests are decided on one copy of the metadata and signed
# after a fresh read (without it the 5 s cache leaves the race a few
# moments a run). The counts are printed at the end.
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/vaultd.sh"
vd_need
need_cmd openssl
SECP=$top_builddir/tests/verify-secp256k1
[ -x "$SECP" ] || fail "$SECP is not built (make check builds it)"

W=$PV_WORK
CFG=$W/vaultd.json
ROTATIONS=${PV_ROTATIONS:-10}
CLIENTS=${PV_RACE_CLIENTS:-2} # loops per kind

say "keys and client"
run_expect 0 vc key create rr-sign --alg ed25519 --purpose sign
run_expect 0 vc key create rr-jwt --alg ed25519 --purpose jwt
run_expect 0 vc key create rr-sol --alg ed25519 --purpose solana
run_expect 0 vc key create rr-eth --alg secp256k1 --purpose evm
vc client add racer 2>"$W/racer.entry" >"$W/racer.token" || fail "client add racer"
TOK=$(cat "$W/racer.token")
HASH=$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    if l.startswith("{"): print(json.loads(l)["auth"]["token_sha256"])' "$W/racer.entry")
vd_base_config "[
  {\"name\": \"racer\", \"auth\": {\"token_sha256\": \"$HASH\"},
   \"rules\": [{\"ops\": [\"sign\", \"jwt.issue\", \"wallet.read\", \"wallet.sign\", \"keys.read\"],
                \"keys\": [\"rr-*\"]}],
   \"rate\": {\"per_second\": 100000, \"burst\": 100000}}
]" '"jwt": {"issuer": "https://rotation-race.test"}' >"$CFG"
json_valid "$CFG"
vd_start "$CFG"

# The client loops (standard library only): HTTP/1.1 over the Unix socket,
# one record per request (kind, status, body, what was signed) as a JSON
# line; they run until the stop file appears.
cat >"$W/client.py" <<'EOF'
import base64, hashlib, http.client, json, os, socket, sys

sock, tok, kind, out, stop = sys.argv[1:6]
A = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

def b58dec(t):
    n = 0
    for c in t:
        n = n * 58 + A.index(c)
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * (len(t) - len(t.lstrip("1"))) + body

def shortvec(n):
    out = b""
    while True:
        x, n = n & 0x7f, n >> 7
        if n:
            out += bytes([x | 0x80])
        else:
            return out + bytes([x])

def sol_tx(payer):
    to = os.urandom(32)
    keys = [payer, to, b"\0" * 32]
    msg = bytes([1, 0, 1]) + shortvec(3) + b"".join(keys) + os.urandom(32)
    data = (2).to_bytes(4, "little") + (1000).to_bytes(8, "little")
    msg += shortvec(1) + bytes([2]) + shortvec(2) + bytes([0, 1]) + shortvec(len(data)) + data
    return shortvec(1) + b"\0" * 64 + msg, msg

def enc(b):
    return b if len(b) == 1 and b[0] < 0x80 else bytes([0x80 + len(b)]) + b

def evm_tx():
    # EIP-1559: rlp([chain 1, nonce, tip, max fee, gas, to, value, "", []]), type 2
    nonce = int.from_bytes(os.urandom(3), "big").to_bytes(3, "big").lstrip(b"\0")
    items = [enc(b"\x01"), enc(nonce), enc(b"\x01"), enc(b"\x02"), enc((21000).to_bytes(2, "big")),
             enc(os.urandom(20)), enc(b""), enc(b""), b"\xc0"]
    p = b"".join(items)
    return b"\x02" + bytes([0xc0 + len(p)]) + p

class UConn(http.client.HTTPConnection):
    def __init__(self):
        super().__init__("localhost", timeout=120)
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(120)
        self.sock.connect(sock)

conn = UConn()
hdr = {"Authorization": "Bearer " + tok, "Content-Type": "application/json"}

def call(method, path, body=None):
    global conn
    for attempt in range(2):
        try:
            conn.request(method, path, body=None if body is None else json.dumps(body), headers=hdr)
            r = conn.getresponse()
            return r.status, r.read().decode()
        except (http.client.HTTPException, OSError):
            if attempt:
                raise
            conn.close()
            conn = UConn()

f = open(out, "w")
def rec(**kw):
    f.write(json.dumps(kw) + "\n")

addr = None
while not os.path.exists(stop):
    if kind == "sign":
        m = os.urandom(48)
        st, b = call("POST", "/v1/keys/rr-sign/sign", {"input_b64": base64.b64encode(m).decode()})
        rec(kind=kind, status=st, body=b, input=m.hex())
    elif kind == "jwt":
        st, b = call("POST", "/v1/jwt/rr-jwt/issue", {"claims": {"sub": os.urandom(6).hex()}, "ttl": 60})
        rec(kind=kind, status=st, body=b)
    elif kind == "sol":
        if addr is None:
            st, b = call("GET", "/v1/wallet/rr-sol/solana/address")
            rec(kind="sol-address", status=st, body=b)
            if st != 200:
                continue
            addr = json.loads(b)["address"]
        tx, msg = sol_tx(b58dec(addr))
        st, b = call("POST", "/v1/wallet/rr-sol/solana/sign-transaction",
                     {"transaction_b64": base64.b64encode(tx).decode()})
        rec(kind=kind, status=st, body=b, input=msg.hex(), built_for=addr)
        if st == 400 and "required signers" in b:
            addr = None  # rotated between the two requests: ask again
    elif kind == "eth":
        t = evm_tx()
        st, b = call("POST", "/v1/wallet/rr-eth/evm/sign-transaction", {"transaction_hex": "0x" + t.hex()})
        rec(kind=kind, status=st, body=b, input=t.hex())
    f.flush()
EOF

say "clients and $ROTATIONS rotations of each key"
rm -f "$W/stop" "$W/rotated"
pids=()
for kind in sign jwt sol eth; do
	for ((i = 0; i < CLIENTS; i++)); do
		python3 "$W/client.py" "$VD_SOCK" "$TOK" $kind "$W/rec.$kind.$i" "$W/stop" 2>"$W/client.$kind.$i.err" &
		pids+=($!)
	done
done
sleep 1
rot_pids=()
for key in rr-sign rr-jwt rr-sol rr-eth; do
	(
		for ((r = 0; r < ROTATIONS; r++)); do
			vc key rotate $key >>"$W/rotate.$key.out" 2>&1 || {
				echo "rotate $key failed" >>"$W/rotate.$key.out"
				exit 1
			}
			sleep 0.$((RANDOM % 10))
		done
	) &
	rot_pids+=($!)
done
# Reloads while the keys rotate: a reload flushes vaultd's metadata cache,
# which otherwise hides a rotation for up to 5 s (docs/api.md) and so would
# leave the race only a few moments a run. With it, many requests are
# decided on one copy of the metadata and signed after a fresh read.
(
	while [ ! -e "$W/rotated" ]; do
		kill -HUP "$VD_PID" 2>/dev/null || exit 0
		sleep 0.02
	done
) &
hup_pid=$!
rot_fail=0
for p in "${rot_pids[@]}"; do
	wait "$p" || rot_fail=1
done
touch "$W/rotated"
wait "$hup_pid" || true
# let the replicas' metadata caches (5 s) catch up with the last rotation
sleep 6
touch "$W/stop"
client_fail=0
for p in "${pids[@]}"; do
	wait "$p" || client_fail=1
done
[ "$rot_fail" = 0 ] || {
	cat "$W"/rotate.*.out >&2
	fail "a vaultctl key rotate failed"
}
[ "$client_fail" = 0 ] || {
	cat "$W"/client.*.err >&2
	fail "a client loop failed"
}
cat "$W"/rec.* >"$PV_OUT/records.jsonl"

say "versions"
for key in rr-sign rr-jwt rr-sol rr-eth; do
	assert_versions $key "$(
		for ((v = 1; v <= ROTATIONS; v++)); do printf '%s:verify-only ' $v; done
		printf '%s:active' $((ROTATIONS + 1))
	)"
	for ((v = 1; v <= ROTATIONS + 1; v++)); do
		pub_der $key "$W/$key.v$v.der" $v
	done
done

say "every reply checked, every signature verified"
vrc=0
python3 - "$PV_OUT/records.jsonl" "$W" "$SECP" "$ROTATIONS" <<'EOF' >"$W/summary" || vrc=$?
import base64, hashlib, json, os, subprocess, sys

recs, w, secp, rot = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
A = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
RC = [0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
      0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
      0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
      0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
      0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
      0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008]
ROT = [[0, 36, 3, 41, 18], [1, 44, 10, 45, 2], [62, 6, 43, 15, 61], [28, 55, 25, 21, 56],
       [27, 20, 39, 8, 14]]
M = (1 << 64) - 1
def rol(x, n):
    return ((x << n) | (x >> (64 - n))) & M if n else x
def keccak_f(s):
    for rc in RC:
        c = [s[x][0] ^ s[x][1] ^ s[x][2] ^ s[x][3] ^ s[x][4] for x in range(5)]
        d = [c[(x - 1) % 5] ^ rol(c[(x + 1) % 5], 1) for x in range(5)]
        s = [[s[x][y] ^ d[x] for y in range(5)] for x in range(5)]
        b = [[0] * 5 for _ in range(5)]
        for x in range(5):
            for y in range(5):
                b[y][(2 * x + 3 * y) % 5] = rol(s[x][y], ROT[x][y])
        s = [[b[x][y] ^ (~b[(x + 1) % 5][y] & b[(x + 2) % 5][y]) for y in range(5)] for x in range(5)]
        s[0][0] ^= rc
    return s
def keccak256(data):
    rate = 136
    p = bytearray(data) + b"\x01" + b"\0" * ((-len(data) - 1) % rate)
    p[-1] |= 0x80
    s = [[0] * 5 for _ in range(5)]
    for off in range(0, len(p), rate):
        for i in range(rate // 8):
            s[i % 5][i // 5] ^= int.from_bytes(p[off + 8 * i:off + 8 * i + 8], "little")
        s = keccak_f(s)
    return b"".join(s[i % 5][i // 5].to_bytes(8, "little") for i in range(4))
assert keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"

def b58(b):
    n = int.from_bytes(b, "big")
    s = ""
    while n:
        n, r = divmod(n, 58)
        s = A[r] + s
    return "1" * (len(b) - len(b.lstrip(b"\0"))) + s
def b58dec(t):
    n = 0
    for c in t:
        n = n * 58 + A.index(c)
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * (len(t) - len(t.lstrip("1"))) + body
def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
def b64urldec(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
def der(key, v):
    return os.path.join(w, "%s.v%d.der" % (key, v))
def eip55(d):
    a = keccak256(open(d, "rb").read()[-64:])[-20:].hex()
    h = keccak256(a.encode()).hex()
    return "0x" + "".join(c.upper() if int(h[i], 16) >= 8 else c for i, c in enumerate(a))

tmp = os.path.join(w, "v")
os.makedirs(tmp, exist_ok=True)
# Ed25519: OpenSSL, through python3-cryptography when it is there (one
# process instead of one per signature), else the openssl command
try:
    from cryptography.hazmat.primitives.serialization import load_der_public_key
    from cryptography.exceptions import InvalidSignature
    pubs = {}
except ImportError:
    pubs = None
def ed_ok(key, v, msg, sig):
    if pubs is not None:
        if (key, v) not in pubs:
            pubs[(key, v)] = load_der_public_key(open(der(key, v), "rb").read())
        try:
            pubs[(key, v)].verify(sig, msg)
            return True
        except InvalidSignature:
            return False
    open(tmp + "/m", "wb").write(msg)
    open(tmp + "/s", "wb").write(sig)
    return subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", der(key, v), "-keyform", "DER",
                           "-rawin", "-in", tmp + "/m", "-sigfile", tmp + "/s"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
def secp_ok(key, v, digest, rs):
    open(tmp + "/d", "wb").write(digest)
    open(tmp + "/s", "wb").write(rs)
    return subprocess.run([secp, der(key, v), tmp + "/d", tmp + "/s"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0

kids = {}
for v in range(1, rot + 2):
    raw = open(der("rr-jwt", v), "rb").read()[-32:]
    jwk = '{"crv":"Ed25519","kty":"OKP","x":"%s"}' % b64url(raw)
    kids[b64url(hashlib.sha256(jwk.encode()).digest())] = v

count, versions, stale, bad = {}, {}, 0, []
def fail(r, why):
    bad.append("%s: %s: %s" % (r["kind"], why, r["body"][:300]))

for line in open(recs):
    r = json.loads(line)
    k, st = r["kind"], r["status"]
    count.setdefault(k, {}).setdefault(st, 0)
    count[k][st] += 1
    if st == 400 and k == "sol" and "required signers" in r["body"]:
        stale += 1
        continue
    if st != 200:
        fail(r, "status %d" % st)
        continue
    b = json.loads(r["body"])
    if k == "sol-address":
        continue
    if k == "jwt":
        h, p, s = b["token"].split(".")
        hd = json.loads(b64urldec(h))
        v = kids.get(hd.get("kid"))
        if v is None or b.get("kid") != hd["kid"]:
            fail(r, "kid names no version of rr-jwt")
            continue
        ok = hd.get("alg") == "EdDSA" and ed_ok("rr-jwt", v, (h + "." + p).encode(), b64urldec(s))
        key = "rr-jwt"
    else:
        v = b["version"]
        if not 1 <= v <= rot + 1:
            fail(r, "version %r" % v)
            continue
        if k == "sign":
            key = "rr-sign"
            ok = ed_ok(key, v, bytes.fromhex(r["input"]), base64.b64decode(b["signature_b64"]))
        elif k == "sol":
            key = "rr-sol"
            raw = open(der(key, v), "rb").read()[-32:]
            signed = base64.b64decode(b["transaction_b64"])
            ok = (b["address"] == b58(raw) == r["built_for"] and signed[1:65] == b58dec(b["signature_b58"])
                  and signed[65:] == bytes.fromhex(r["input"])
                  and ed_ok(key, v, bytes.fromhex(r["input"]), signed[1:65]))
        else:
            key = "rr-eth"
            sig = b["signature"]
            rs = bytes.fromhex(sig["r"][2:].rjust(64, "0") + sig["s"][2:].rjust(64, "0"))
            ok = (b["address"] == eip55(der(key, v)) and
                  secp_ok(key, v, keccak256(bytes.fromhex(r["input"])), rs))
    if not ok:
        fail(r, "signature or address does not verify with version %d of %s" % (v, key))
        continue
    if k not in versions and k in ("sign", "sol"):
        # the verifier can say no: another version's key refuses it
        msg = bytes.fromhex(r["input"])
        sig = base64.b64decode(b["signature_b64"]) if k == "sign" else b58dec(b["signature_b58"])
        if ed_ok(key, v % (rot + 1) + 1, msg, sig):
            fail(r, "version %d's signature verifies with another version's key" % v)
    elif k not in versions and k == "eth":
        sig = b["signature"]
        rs = bytes.fromhex(sig["r"][2:].rjust(64, "0") + sig["s"][2:].rjust(64, "0"))
        if secp_ok(key, v % (rot + 1) + 1, keccak256(bytes.fromhex(r["input"])), rs):
            fail(r, "version %d's signature verifies with another version's key" % v)
    versions.setdefault(k, set()).add(v)

for x in bad[:20]:
    print(x, file=sys.stderr)
for k in sorted(count):
    print("%-12s %s versions signed: %s" % (k, " ".join("%d:%d" % kv for kv in sorted(count[k].items())),
                                           ",".join(map(str, sorted(versions.get(k, []))))))
print("stale-address 400 (rotated between address and sign requests): %d" % stale)
n409 = sum(c.get(409, 0) for c in count.values())
n5xx = sum(n for c in count.values() for s, n in c.items() if s >= 500)
print("409: %d  5xx: %d  unverified or wrong: %d" % (n409, n5xx, len(bad)))
sys.exit(1 if bad else 0)
EOF
cat "$W/summary"
cp "$W/summary" "$PV_OUT/summary"
[ "$vrc" = 0 ] || fail "verification failed (above)"
grep -q '^409: 0  5xx: 0  unverified or wrong: 0$' "$W/summary" || fail "409s, 5xx or bad signatures (above)"
# each kind signed, and with more than one version (the rotations were seen)
for k in sign jwt sol eth; do
	line=$(grep "^$k " "$W/summary") || fail "no $k requests"
	case ${line##*versions signed: } in
	*,*) ;;
	*) fail "$k: signatures by one version only; the rotations were not seen: $line" ;;
	esac
done
[ "$(vd_stop)" = 0 ] || fail "vaultd did not exit 0"
run_expect 0 vc audit verify "$PV_OUT/audit.log"
