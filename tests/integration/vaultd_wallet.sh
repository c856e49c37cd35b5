#!/bin/bash
# vaultd's wallet endpoints (docs/api.md §4 "Wallet") over the Unix socket:
# addresses equal `vaultctl wallet address` and what Python computes from
# the served public keys (base58; Keccak-256 checked on its published empty
# input hash); Solana message and transaction signatures verified by
# OpenSSL (pkeyutl -rawin, Ed25519), EVM digest, personal_sign and EIP-155
# transaction signatures by libsecp256k1 (tests/verify-secp256k1: valid and
# low-S) over hashes computed here or published (EIP-155's example). Then
# the bad-input corpus: malformed, truncated, trailing, oversized, wrong
# signer, absurd shortvec lengths, bad base64/hex, signed and pre-EIP-155
# EVM transactions, the policy caps (chain id, value, sign-digest), keys of
# another purpose on every wallet endpoint (403 wrong_purpose), Solana
# sign-message given a transaction or transaction message (also followed
# by other bytes), unknown chain — each its documented 4xx, nothing signed (no ok
# wallet.sign audit line), the caps audited `denied` with tx and chain_id,
# vaultd still healthy, the audit log verifies, bearer tokens in no log.
# The off-chain message format of sign-message: the bytes signed are the
# proposal's layout (checked here in Python) and OpenSSL verifies over them.
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/vaultd.sh"
vd_need
need_cmd basenc
SECP=$top_builddir/tests/verify-secp256k1
[ -x "$SECP" ] || fail "$SECP is not built (make check builds it)"

W=$PV_WORK
CFG=$W/vaultd.json
AUDIT=$PV_OUT/audit.log

# Python helpers (standard library only): base58, Keccak-256, RLP, and the
# Solana transfer builder.
cat >"$W/wl.py" <<'EOF'
import base64, hashlib, json, sys

A = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

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

# Keccak-256 (the original padding 0x01, not SHA3's 0x06), FIPS 202 Keccak-f[1600]
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
            x, y = i % 5, i // 5
            s[x][y] ^= int.from_bytes(p[off + 8 * i:off + 8 * i + 8], "little")
        s = keccak_f(s)
    return b"".join(s[i % 5][i // 5].to_bytes(8, "little") for i in range(4))

assert keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"

def rlp_item(b, i):
    t = b[i]
    if t < 0x80:
        return b[i:i + 1], i + 1
    if t < 0xb8:
        return b[i + 1:i + 1 + t - 0x80], i + 1 + t - 0x80
    if t < 0xc0:
        n = int.from_bytes(b[i + 1:i + 1 + t - 0xb7], "big")
        j = i + 1 + t - 0xb7
        return b[j:j + n], j + n
    if t < 0xf8:
        n, j = t - 0xc0, i + 1
    else:
        n = int.from_bytes(b[i + 1:i + 1 + t - 0xf7], "big")
        j = i + 1 + t - 0xf7
    out, k = [], j
    while k < j + n:
        v, k = rlp_item(b, k)
        out.append(v)
    assert k == j + n
    return out, k

def rlp(b):
    v, k = rlp_item(b, 0)
    assert k == len(b), "trailing bytes"
    return v

def shortvec(n):
    out = b""
    while True:
        x = n & 0x7f
        n >>= 7
        if n:
            out += bytes([x | 0x80])
        else:
            return out + bytes([x])

def transfer(fee_payer, to, nsig=1):
    """A legacy SOL transfer message: fee payer signs, System Program."""
    keys = [fee_payer, to, b"\0" * 32]
    msg = bytes([1, 0, 1]) + shortvec(3) + b"".join(keys) + hashlib.sha256(b"blockhash").digest()
    data = (2).to_bytes(4, "little") + (1000).to_bytes(8, "little")
    msg += shortvec(1) + bytes([2]) + shortvec(2) + bytes([0, 1]) + shortvec(len(data)) + data
    return shortvec(nsig) + b"\0" * 64 * nsig, msg

cmd = sys.argv[1]
if cmd == "b58":
    print(b58(open(sys.argv[2], "rb").read()))
elif cmd == "b58dec":
    open(sys.argv[3], "wb").write(b58dec(sys.argv[2]))
elif cmd == "keccak":  # FILE -> hex
    print(keccak256(open(sys.argv[2], "rb").read()).hex())
elif cmd == "eip55":  # SPKI DER of a secp256k1 key -> checksummed address
    der = open(sys.argv[2], "rb").read()
    point = der[-64:]
    assert der[-65] == 4
    a = keccak256(point)[-20:].hex()
    h = keccak256(a.encode()).hex()
    print("0x" + "".join(c.upper() if int(h[i], 16) >= 8 else c for i, c in enumerate(a)))
elif cmd == "ed25519raw":  # SPKI DER -> raw 32 bytes
    open(sys.argv[3], "wb").write(open(sys.argv[2], "rb").read()[-32:])
elif cmd == "soltx":  # FEE_PAYER_FILE OUT_TX OUT_MSG
    sigs, msg = transfer(open(sys.argv[2], "rb").read(), hashlib.sha256(b"to").digest())
    open(sys.argv[3], "wb").write(sigs + msg)
    open(sys.argv[4], "wb").write(msg)
elif cmd == "personal":  # FILE OUT: EIP-191 hash
    m = open(sys.argv[2], "rb").read()
    open(sys.argv[3], "wb").write(keccak256(b"\x19Ethereum Signed Message:\n" + str(len(m)).encode() + m))
elif cmd == "rlp":  # HEX -> JSON list of hex strings (one level)
    v = rlp(bytes.fromhex(sys.argv[2].removeprefix("0x")))
    print(json.dumps([x.hex() if isinstance(x, bytes) else "list" for x in v]))
EOF
py() { python3 "$W/wl.py" "$@"; }
hexfile() { python3 -c 'import sys; open(sys.argv[2], "wb").write(bytes.fromhex(sys.argv[1].removeprefix("0x")))' "$1" "$2"; }
b64() { base64 -w0 "$@"; }

# call METHOD PATH TOKEN [CURL ARGS...]; every body kept under $PV_OUT
ncall=0
call() {
	local method=$1 path=$2 tok=$3
	shift 3
	rm -f "$VD_BODY"
	vd_call "$method" "$path" -H "Authorization: Bearer $tok" "$@"
	touch "$VD_BODY"
	ncall=$((ncall + 1))
	cp "$VD_BODY" "$PV_OUT/body.$(printf '%03d' "$ncall").json"
}
expect() { # STATUS METHOD PATH TOKEN [CURL ARGS...]
	local want=$1
	shift
	call "$@"
	[ "$VD_STATUS" = "$want" ] || {
		head -c 2000 "$VD_BODY" >&2
		echo >&2
		fail "$1 $2: status $VD_STATUS, want $want"
	}
}
post() { # STATUS PATH TOKEN JSON
	expect "$1" POST "$2" "$3" -H 'Content-Type: application/json' --data-binary "$4"
}
post_error() { # STATUS CODE PATH TOKEN JSON
	post "$1" "$3" "$4" "$5"
	assert_eq "$(vd_error_code)" "$2" "error code of POST $3"
}
body() { json_get "$VD_BODY" "$@"; }
audit_count() { # python condition over record r -> count
	python3 - "$AUDIT" "$1" <<'EOF'
import json, sys
n = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if "type" not in r and eval(sys.argv[2]):
        n += 1
print(n)
EOF
}
secp_ok() { # SPKI DIGEST SIG what
	local rc=0
	"$SECP" "$1" "$2" "$3" || rc=$?
	[ "$rc" = 0 ] || fail "libsecp256k1: $4 (exit $rc: 1 bad, 2 high-S)"
}

say "keys and clients"
run_expect 0 vc key create sol --alg ed25519 --purpose solana
run_expect 0 vc key create eth --alg secp256k1 --purpose evm
run_expect 0 vc key create p256 --alg p256 --purpose sign
# the wallet algorithms under other purposes
run_expect 0 vc key create ed-sign --alg ed25519 --purpose sign
run_expect 0 vc key create k1-jwt --alg secp256k1 --purpose jwt
new_client() { vc client add "$1" 2>"$W/$1.entry" || fail "client add $1"; }
entry_hash() { python3 -c 'import json,sys
for l in open(sys.argv[1]):
    if l.startswith("{"): print(json.loads(l)["auth"]["token_sha256"])' "$W/$1.entry"; }
TOK=$(new_client wallet)
TOK_CHAIN=$(new_client chain5)
TOK_VALUE=$(new_client lowcap)
TOK_EXACT=$(new_client exactcap)
TOK_READ=$(new_client reader)
ALL_TOKENS="$TOK $TOK_CHAIN $TOK_VALUE $TOK_EXACT $TOK_READ"
vd_base_config "[
  {\"name\": \"wallet\", \"auth\": {\"token_sha256\": \"$(entry_hash wallet)\"},
   \"rules\": [{\"ops\": [\"wallet.read\", \"wallet.sign\", \"keys.read\"],
                \"keys\": [\"sol\", \"eth\", \"p25*\", \"ed-*\", \"k1-*\", \"nok*\"]}],
   \"rate\": {\"per_second\": 1000, \"burst\": 1000}},
  {\"name\": \"chain5\", \"auth\": {\"token_sha256\": \"$(entry_hash chain5)\"},
   \"rules\": [{\"ops\": [\"wallet.sign\"], \"keys\": [\"eth\"], \"chain_ids\": [5, 10]}]},
  {\"name\": \"lowcap\", \"auth\": {\"token_sha256\": \"$(entry_hash lowcap)\"},
   \"rules\": [{\"ops\": [\"wallet.sign\"], \"keys\": [\"eth\"], \"chain_ids\": [1],
               \"max_value_wei\": \"999999999999999999\"}]},
  {\"name\": \"exactcap\", \"auth\": {\"token_sha256\": \"$(entry_hash exactcap)\"},
   \"rules\": [{\"ops\": [\"wallet.sign\"], \"keys\": [\"eth\"], \"max_value_wei\": \"1000000000000000000\"}]},
  {\"name\": \"reader\", \"auth\": {\"token_sha256\": \"$(entry_hash reader)\"},
   \"rules\": [{\"ops\": [\"wallet.read\"], \"keys\": [\"sol\", \"eth\"]}]}
]" '"limits": {"max_body_bytes": 8192}' >"$CFG"
json_valid "$CFG"
vd_start "$CFG"

say "addresses"
pub_der sol "$W/sol.der"
pub_der eth "$W/eth.der"
py ed25519raw "$W/sol.der" "$W/sol.raw"
SOL_ADDR=$(py b58 "$W/sol.raw")
ETH_ADDR=$(py eip55 "$W/eth.der")
expect 200 GET /v1/wallet/sol/solana/address "$TOK_READ"
assert_eq "$(body name)" sol
assert_eq "$(body chain)" solana
assert_eq "$(body version)" 1
assert_eq "$(body address)" "$SOL_ADDR" "Solana address (base58 of the public key)"
expect 200 GET /v1/wallet/eth/evm/address "$TOK_READ"
assert_eq "$(body chain)" evm
assert_eq "$(body address)" "$ETH_ADDR" "EVM address (EIP-55 of Keccak-256 of the point)"
if vc wallet address sol --chain solana >"$W/cli.sol" 2>"$W/cli.err"; then
	assert_eq "$(cat "$W/cli.sol")" "$SOL_ADDR" "vaultctl wallet address (solana)"
	run_expect 0 vc wallet address eth --chain evm
	assert_eq "$(cat "$RUN_OUT")" "$ETH_ADDR" "vaultctl wallet address (evm)"
else
	echo "note: vaultctl wallet address is not available; addresses checked against Python only"
fi
# wallet.read does not grant signing
post_error 403 forbidden /v1/wallet/sol/solana/sign-message "$TOK_READ" "{\"message_b64\":\"$(printf hi | b64)\"}"

say "Solana sign-message (OpenSSL Ed25519)"
printf 'p11vault wallet test message %s' "$(openssl rand -hex 8)" >"$W/msg"
post 200 /v1/wallet/sol/solana/sign-message "$TOK" "{\"message_b64\":\"$(b64 "$W/msg")\"}"
assert_eq "$(body address)" "$SOL_ADDR"
assert_eq "$(body version)" 1
SIG=$(body signature_b58)
py b58dec "$SIG" "$W/msg.sig"
assert_size "$W/msg.sig" 64
openssl pkeyutl -verify -pubin -inkey "$W/sol.der" -keyform DER -rawin -in "$W/msg" -sigfile "$W/msg.sig" \
	>/dev/null || fail "OpenSSL rejects the Solana message signature"
assert_eq "$(audit_count "r['op'] == 'wallet.sign' and r['outcome'] == 'ok' and r.get('tx') == '$SIG'")" 1 \
	"audit tx of the Solana message is its signature"
SIGNED_OK=1

say "Solana sign-message, format offchain (the proposal's layout, OpenSSL over the bytes signed)"
head -c 32 /dev/zero | tr '\0' '\42' >"$W/appdom"
APPDOM=$(py b58 "$W/appdom")
printf 'Sign in to example.test, nonce %s' "$(openssl rand -hex 4)" >"$W/off.txt"
post 200 /v1/wallet/sol/solana/sign-message "$TOK" \
	"{\"format\":\"offchain\",\"application_domain\":\"$APPDOM\",\"message_b64\":\"$(b64 "$W/off.txt")\"}"
assert_eq "$(body format)" offchain
assert_eq "$(body message_format)" ascii
assert_eq "$(body address)" "$SOL_ADDR"
body signed_message_b64 | base64 -d >"$W/off.signed"
python3 - "$W/off.txt" "$W/sol.raw" "$W/off.want" <<'EOF'
import sys
text, pub = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
m = b"\xffsolana offchain" + b"\x00" + b"\x22" * 32 + b"\x00" + b"\x01" + pub + len(text).to_bytes(2, "little") + text
open(sys.argv[3], "wb").write(m)
EOF
assert_same_file "$W/off.signed" "$W/off.want" "the off-chain message vaultd signed"
OFFSIG=$(body signature_b58)
py b58dec "$OFFSIG" "$W/off.sig"
openssl pkeyutl -verify -pubin -inkey "$W/sol.der" -keyform DER -rawin -in "$W/off.signed" -sigfile "$W/off.sig" \
	>/dev/null || fail "OpenSSL rejects the off-chain message signature"
! openssl pkeyutl -verify -pubin -inkey "$W/sol.der" -keyform DER -rawin -in "$W/off.txt" -sigfile "$W/off.sig" \
	>/dev/null 2>&1 || fail "the off-chain signature verifies over the bare text"
assert_eq "$(audit_count "r['op'] == 'wallet.sign' and r['outcome'] == 'ok' and r.get('tx') == '$OFFSIG'")" 1 \
	"audit tx of the off-chain message is its signature"
SIGNED_OK=$((SIGNED_OK + 1))
# a newline is not printable ASCII: format utf8
printf 'line one\nline two' >"$W/off2.txt"
post 200 /v1/wallet/sol/solana/sign-message "$TOK" \
	"{\"format\":\"offchain\",\"application_domain\":\"$APPDOM\",\"message_b64\":\"$(b64 "$W/off2.txt")\"}"
assert_eq "$(body message_format)" utf8
SIGNED_OK=$((SIGNED_OK + 1))
# "format": "raw" is the default spelled out
post 200 /v1/wallet/sol/solana/sign-message "$TOK" "{\"format\":\"raw\",\"message_b64\":\"$(b64 "$W/msg")\"}"
assert_eq "$(body signature_b58)" "$SIG" "format raw: the same signature (Ed25519 is deterministic)"
SIGNED_OK=$((SIGNED_OK + 1))

say "Solana sign-transaction (slot filled, nothing else changed)"
py soltx "$W/sol.raw" "$W/sol.tx" "$W/sol.msg"
post 200 /v1/wallet/sol/solana/sign-transaction "$TOK" "{\"transaction_b64\":\"$(b64 "$W/sol.tx")\"}"
assert_eq "$(body signer_index)" 0
assert_eq "$(body address)" "$SOL_ADDR"
body transaction_b64 | base64 -d >"$W/sol.signed"
assert_size "$W/sol.signed" "$(stat -c %s "$W/sol.tx")"
# byte 0 is the signature count; 1..64 our slot; the message after it
cmp -s <(tail -c +66 "$W/sol.signed") <(tail -c +66 "$W/sol.tx") || fail "the message bytes changed"
cmp -s <(head -c 1 "$W/sol.signed") <(head -c 1 "$W/sol.tx") || fail "the signature count changed"
head -c 65 "$W/sol.signed" | tail -c 64 >"$W/sol.slot"
py b58dec "$(body signature_b58)" "$W/sol.tx.sig"
assert_same_file "$W/sol.slot" "$W/sol.tx.sig" "signature_b58 is the slot's signature"
openssl pkeyutl -verify -pubin -inkey "$W/sol.der" -keyform DER -rawin -in "$W/sol.msg" -sigfile "$W/sol.slot" \
	>/dev/null || fail "OpenSSL rejects the transaction signature over the message bytes"
SIGNED_OK=$((SIGNED_OK + 1))

say "EVM sign-digest and sign-message (libsecp256k1, low-S)"
openssl rand 32 >"$W/digest"
DIGEST_HEX=$(od -An -tx1 -v "$W/digest" | tr -d ' \n')
post 200 /v1/wallet/eth/evm/sign-digest "$TOK" "{\"digest_hex\":\"0x$DIGEST_HEX\"}"
assert_eq "$(body address)" "$ETH_ADDR"
RSV=$(body signature)
[ ${#RSV} = 132 ] || fail "signature is not 0x + 65 bytes: $RSV"
hexfile "${RSV:2:128}" "$W/digest.sig"
secp_ok "$W/eth.der" "$W/digest" "$W/digest.sig" "sign-digest"
V=$((16#${RSV:130:2}))
assert_eq "$V" "$((27 + $(body y_parity)))" "v = 27 + y_parity"
SIGNED_OK=$((SIGNED_OK + 1))
printf 'Some data' >"$W/pmsg"
post 200 /v1/wallet/eth/evm/sign-message "$TOK" "{\"message_b64\":\"$(b64 "$W/pmsg")\"}"
py personal "$W/pmsg" "$W/pmsg.hash"
# the web3.js documentation's hash of "Some data"
assert_eq "$(od -An -tx1 -v "$W/pmsg.hash" | tr -d ' \n')" \
	1da44b586eb0729ff70a73c326926f6ed5a25f5b056e7f47fbc6e58d86871655 "EIP-191 hash of Some data"
RSV=$(body signature)
hexfile "${RSV:2:128}" "$W/pmsg.sig"
secp_ok "$W/eth.der" "$W/pmsg.hash" "$W/pmsg.sig" "personal_sign"
case ${RSV:130:2} in 1b | 1c) ;; *) fail "personal_sign v is not 27/28: ${RSV:130:2}" ;; esac
SIGNED_OK=$((SIGNED_OK + 1))

say "EVM sign-transaction (EIP-155 example)"
UNSIGNED=0xec098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a764000080018080
SIGNING_HASH=daf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53
post 200 /v1/wallet/eth/evm/sign-transaction "$TOK" "{\"transaction_hex\":\"$UNSIGNED\"}"
assert_eq "$(body type)" 0
assert_eq "$(body chain_id)" 1
assert_eq "$(body address)" "$ETH_ADDR"
R=$(body signature r)
S=$(body signature s)
YP=$(body signature y_parity)
assert_eq "$(body signature v)" "$((37 + YP))" "legacy v = chain_id*2 + 35 + y_parity"
hexfile "$SIGNING_HASH" "$W/tx.hash"
hexfile "${R:2}${S:2}" "$W/tx.sig"
secp_ok "$W/eth.der" "$W/tx.hash" "$W/tx.sig" "EIP-155 transaction signature"
RAW=$(body raw_transaction)
FIELDS=$(py rlp "$RAW")
python3 - "$FIELDS" "$R" "$S" "$YP" <<'EOF' || fail "the signed transaction's fields are not the unsigned ones plus v, r, s"
import json, sys
f = json.loads(sys.argv[1])
r, s, yp = sys.argv[2][2:].lstrip("0"), sys.argv[3][2:].lstrip("0"), int(sys.argv[4])
want = ["09", "04a817c800", "5208", "35" * 20, "0de0b6b3a7640000", ""]
assert f[:6] == want, f
assert int(f[6], 16) == 37 + yp
assert f[7].lstrip("0") == r and f[8].lstrip("0") == s
assert len(f) == 9
EOF
hexfile "${RAW:2}" "$W/tx.raw"
assert_eq "$(body tx_hash)" "0x$(py keccak "$W/tx.raw")" "tx_hash is Keccak-256 of the raw transaction"
TX_HASH=$(body tx_hash)
assert_eq "$(audit_count "r['op'] == 'wallet.sign' and r['outcome'] == 'ok' and r.get('tx') == '$TX_HASH' and r.get('chain_id') == 1")" 1 \
	"audit line of the signed transaction (tx hash, chain id)"
SIGNED_OK=$((SIGNED_OK + 1))
# a value exactly at the cap is allowed
post 200 /v1/wallet/eth/evm/sign-transaction "$TOK_EXACT" "{\"transaction_hex\":\"$UNSIGNED\"}"
SIGNED_OK=$((SIGNED_OK + 1))
# chain 10 under chain5's list; typed transaction (EIP-1559) signs too
# rlp([10, 0, 1, 2, 21000, to, 0, "", []]) with type 2
TYPED=0x02$(python3 -c '
def enc(b):
    return b if len(b) == 1 and b[0] < 0x80 else bytes([0x80 + len(b)]) + b
items = [enc(bytes([10])), enc(b""), enc(bytes([1])), enc(bytes([2])), enc((21000).to_bytes(2, "big")),
         enc(b"\x35" * 20), enc(b""), enc(b""), b"\xc0"]
p = b"".join(items)
print((bytes([0xc0 + len(p)]) + p).hex())')
post 200 /v1/wallet/eth/evm/sign-transaction "$TOK_CHAIN" "{\"transaction_hex\":\"$TYPED\"}"
assert_eq "$(body type)" 2
assert_eq "$(body chain_id)" 10
assert_eq "$(body signature v)" "$(body signature y_parity)" "typed v = y_parity"
hexfile "${TYPED:2}" "$W/typed.unsigned"
hexfile "$(py keccak "$W/typed.unsigned")" "$W/typed.hash"
hexfile "$(body signature r | cut -c3-)$(body signature s | cut -c3-)" "$W/typed.sig"
secp_ok "$W/eth.der" "$W/typed.hash" "$W/typed.sig" "EIP-1559 transaction signature"
SIGNED_OK=$((SIGNED_OK + 1))

say "bad input: each refused, nothing signed"
before_ok=$(audit_count "r['op'] == 'wallet.sign' and r['outcome'] == 'ok'")
assert_eq "$before_ok" "$SIGNED_OK" "ok wallet.sign lines so far"
py soltx "$W/sol.raw" "$W/t.tx" "$W/t.msg"
python3 - "$W" <<'EOF'
import hashlib, sys
w = sys.argv[1]
tx = open(w + "/t.tx", "rb").read()
open(w + "/bad.truncated", "wb").write(tx[:-5])
open(w + "/bad.trailing", "wb").write(tx + b"\0")
# another fee payer: our key is not a required signer
other = hashlib.sha256(b"someone else").digest()
# (1 count byte + 64 signature bytes, 3 header bytes, 1 key count byte,
# then the fee payer at 69..100)
open(w + "/bad.notsigner", "wb").write(tx[:69] + other + tx[101:])
# signature count as a shortvec of 2^21-1; account key count 0x7f7f
open(w + "/bad.shortvec1", "wb").write(b"\xff\xff\x7f" + tx[1:])
open(w + "/bad.shortvec2", "wb").write(tx[:68] + b"\xff\x7f" + tx[69:])
open(w + "/bad.toolong", "wb").write(tx + b"\0" * (1233 - len(tx)))
EOF
# the not-a-signer transaction really has another fee payer
cmp -s <(head -c 101 "$W/t.tx" | tail -c 32) "$W/sol.raw" ||
	fail "t.tx does not have our key as its fee payer"
cmp -s <(head -c 101 "$W/bad.notsigner" | tail -c 32) <(head -c 101 "$W/t.tx" | tail -c 32) &&
	fail "bad.notsigner still names our key"
# each refused for its own reason (the message says what is wrong)
for t in "truncated:exceeds the remaining bytes" "trailing:trailing bytes" \
	"notsigner:not one of the transaction's required signers" "shortvec1:over 0xffff" \
	"shortvec2:account keys count 16383" "toolong:more than 1232 bytes"; do
	post_error 400 bad_request /v1/wallet/sol/solana/sign-transaction "$TOK" \
		"{\"transaction_b64\":\"$(b64 "$W/bad.${t%%:*}")\"}"
	assert_contains "$VD_BODY" "${t#*:}" "reason for ${t%%:*}"
done
post_error 400 bad_request /v1/wallet/sol/solana/sign-transaction "$TOK" '{"transaction_b64":"AQ=!"}'
post_error 400 bad_request /v1/wallet/sol/solana/sign-transaction "$TOK" '{"transaction_b64":""}'
post_error 400 bad_request /v1/wallet/sol/solana/sign-transaction "$TOK" '{"transaction":"AA=="}'
post_error 400 bad_request /v1/wallet/sol/solana/sign-transaction "$TOK" "{\"transaction_b64\":\"$(b64 "$W/t.tx")\",\"x\":1}"
# sign-message: a transaction message (alone, with bytes after it, made v0
# by 0x80), a whole transaction (alone, with a byte after it), the off-chain
# header in raw format; empty, bad base64
python3 - "$W" <<'EOF'
import sys
w = sys.argv[1]
tx, msg = open(w + "/t.tx", "rb").read(), open(w + "/t.msg", "rb").read()
open(w + "/m.trail1", "wb").write(msg + b"\0")
open(w + "/m.trailtext", "wb").write(msg + b"Sign in to example.test")
open(w + "/m.v0", "wb").write(b"\x80" + msg + b"\x00\x00")
open(w + "/m.tx", "wb").write(tx)
open(w + "/m.txtrail", "wb").write(tx + b"\x01")
open(w + "/m.offhdr", "wb").write(b"\xffsolana offchain\x00" + b"\x22" * 32)
open(w + "/m.short", "wb").write(msg[:-1])
EOF
for m in t.msg m.trail1 m.trailtext m.v0; do
	post_error 400 bad_request /v1/wallet/sol/solana/sign-message "$TOK" "{\"message_b64\":\"$(b64 "$W/$m")\"}"
	assert_contains "$VD_BODY" "transaction message" "reason for $m"
done
for m in m.tx m.txtrail; do
	post_error 400 bad_request /v1/wallet/sol/solana/sign-message "$TOK" "{\"message_b64\":\"$(b64 "$W/$m")\"}"
	assert_contains "$VD_BODY" "Solana transaction" "reason for $m"
done
post_error 400 bad_request /v1/wallet/sol/solana/sign-message "$TOK" "{\"message_b64\":\"$(b64 "$W/m.offhdr")\"}"
assert_contains "$VD_BODY" "off-chain"
# the start of a transaction message is no transaction: signed
post 200 /v1/wallet/sol/solana/sign-message "$TOK" "{\"message_b64\":\"$(b64 "$W/m.short")\"}"
py b58dec "$(body signature_b58)" "$W/m.short.sig"
openssl pkeyutl -verify -pubin -inkey "$W/sol.der" -keyform DER -rawin -in "$W/m.short" -sigfile "$W/m.short.sig" \
	>/dev/null || fail "OpenSSL rejects the signature of a truncated transaction message"
SIGNED_OK=$((SIGNED_OK + 1))
# in the off-chain format: no domain, a bad one, a domain on a raw
# message, an unknown format, text that is not UTF-8, empty text
post_error 400 bad_request /v1/wallet/sol/solana/sign-message "$TOK" \
	"{\"format\":\"offchain\",\"message_b64\":\"$(b64 "$W/off.txt")\"}"
assert_contains "$VD_BODY" "application_domain"
post_error 400 bad_request /v1/wallet/sol/solana/sign-message "$TOK" \
	"{\"format\":\"offchain\",\"application_domain\":\"1111\",\"message_b64\":\"$(b64 "$W/off.txt")\"}"
assert_contains "$VD_BODY" "base58 of 32 bytes"
post_error 400 bad_request /v1/wallet/sol/solana/sign-message "$TOK" \
	"{\"application_domain\":\"$APPDOM\",\"message_b64\":\"$(b64 "$W/off.txt")\"}"
post_error 400 bad_request /v1/wallet/sol/solana/sign-message "$TOK" \
	"{\"format\":\"eip191\",\"message_b64\":\"$(b64 "$W/off.txt")\"}"
post_error 400 bad_request /v1/wallet/sol/solana/sign-message "$TOK" \
	"{\"format\":\"offchain\",\"application_domain\":\"$APPDOM\",\"message_b64\":\"$(b64 "$W/t.msg")\"}"
assert_contains "$VD_BODY" "UTF-8"
post_error 400 bad_request /v1/wallet/sol/solana/sign-message "$TOK" \
	"{\"format\":\"offchain\",\"application_domain\":\"$APPDOM\",\"message_b64\":\"\"}"
post_error 400 bad_request /v1/wallet/sol/solana/sign-message "$TOK" '{"message_b64":""}'
post_error 400 bad_request /v1/wallet/sol/solana/sign-message "$TOK" '{"message_b64":"@@@@"}'
# oversized body: the HTTP layer's 413
head -c 9000 /dev/zero | b64 >"$W/big.b64"
post 413 /v1/wallet/sol/solana/sign-message "$TOK" "{\"message_b64\":\"$(cat "$W/big.b64")\"}"
# EVM transactions
SIGNED_155=0xf86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83
PRE_155=0xe9098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a764000080
for t in "$SIGNED_155=already signed" "$PRE_155=pre-EIP-155" "${UNSIGNED:0:40}=exceeds input" \
	"${UNSIGNED}00=trailing bytes" "0x03c0=unsupported transaction type" "0x=empty" "0xzz00=not hex" \
	"${UNSIGNED:2}=start with 0x" "0x$(printf 'ec%.0s' {1..3})=RLP"; do
	post_error 400 bad_request /v1/wallet/eth/evm/sign-transaction "$TOK" "{\"transaction_hex\":\"${t%%=*}\"}"
	assert_contains "$VD_BODY" "${t#*=}" "reason for ${t%%=*}"
done
post_error 400 bad_request /v1/wallet/eth/evm/sign-transaction "$TOK" '{"transaction_hex":42}'
post_error 400 bad_request /v1/wallet/eth/evm/sign-digest "$TOK" "{\"digest_hex\":\"0x${DIGEST_HEX:0:62}\"}"
post_error 400 bad_request /v1/wallet/eth/evm/sign-digest "$TOK" "{\"digest_hex\":\"0x${DIGEST_HEX}00\"}"
post_error 400 bad_request /v1/wallet/eth/evm/sign-digest "$TOK" "{\"digest_hex\":\"$DIGEST_HEX\"}"
post_error 400 bad_request /v1/wallet/eth/evm/sign-message "$TOK" '{"message_b64":"not base64"}'
# a key of another purpose, on every wallet endpoint of both chains: the
# other chain's key, the same algorithm under sign or jwt, a P-256 key
for k in eth ed-sign p256; do
	expect 403 GET "/v1/wallet/$k/solana/address" "$TOK"
	assert_eq "$(vd_error_code)" wrong_purpose "solana/address of $k"
	post_error 403 wrong_purpose "/v1/wallet/$k/solana/sign-message" "$TOK" '{"message_b64":"aGk="}'
	post_error 403 wrong_purpose "/v1/wallet/$k/solana/sign-transaction" "$TOK" \
		"{\"transaction_b64\":\"$(b64 "$W/t.tx")\"}"
done
assert_contains "$VD_BODY" "purpose"
printf '{"typed_data":{"types":{"EIP712Domain":[{"name":"name","type":"string"}],"M":[{"name":"a","type":"uint256"}]},"primaryType":"M","domain":{"name":"x"},"message":{"a":1}}}' >"$W/typed.json"
for k in sol k1-jwt p256; do
	expect 403 GET "/v1/wallet/$k/evm/address" "$TOK"
	assert_eq "$(vd_error_code)" wrong_purpose "evm/address of $k"
	post_error 403 wrong_purpose "/v1/wallet/$k/evm/sign-message" "$TOK" '{"message_b64":"aGk="}'
	post_error 403 wrong_purpose "/v1/wallet/$k/evm/sign-digest" "$TOK" "{\"digest_hex\":\"0x$DIGEST_HEX\"}"
	post_error 403 wrong_purpose "/v1/wallet/$k/evm/sign-transaction" "$TOK" "{\"transaction_hex\":\"$UNSIGNED\"}"
	post_error 403 wrong_purpose "/v1/wallet/$k/evm/sign-typed-data" "$TOK" "$(cat "$W/typed.json")"
done
# unknown key, unknown chain
expect 404 GET /v1/wallet/nokey/evm/address "$TOK"
assert_eq "$(vd_error_code)" key_not_found
expect 404 GET /v1/wallet/eth/bitcoin/address "$TOK"
assert_eq "$(vd_error_code)" not_found
post_error 404 not_found /v1/wallet/eth/bitcoin/sign-transaction "$TOK" "{\"transaction_hex\":\"$UNSIGNED\"}"
post_error 404 not_found /v1/wallet/sol/solana/sign-digest "$TOK" "{\"digest_hex\":\"0x$DIGEST_HEX\"}"
assert_eq "$(audit_count "r['op'] == 'wallet.sign' and r['outcome'] == 'ok'")" "$SIGNED_OK" \
	"an ok wallet.sign audit line for a refused request"

say "policy caps: 403, audited denied, nothing signed"
post_error 403 forbidden /v1/wallet/eth/evm/sign-transaction "$TOK_CHAIN" "{\"transaction_hex\":\"$UNSIGNED\"}"
assert_contains "$VD_BODY" "chain id 1 " "the refusal names the chain id"
post_error 403 forbidden /v1/wallet/eth/evm/sign-transaction "$TOK_VALUE" "{\"transaction_hex\":\"$UNSIGNED\"}"
assert_contains "$VD_BODY" "1000000000000000000" "the refusal names the value"
post_error 403 forbidden /v1/wallet/eth/evm/sign-digest "$TOK_VALUE" "{\"digest_hex\":\"0x$DIGEST_HEX\"}"
post_error 403 forbidden /v1/wallet/eth/evm/sign-digest "$TOK_CHAIN" "{\"digest_hex\":\"0x$DIGEST_HEX\"}"
post_error 403 forbidden /v1/wallet/eth/evm/sign-digest "$TOK_EXACT" "{\"digest_hex\":\"0x$DIGEST_HEX\"}"
# a capped rule's client with a Solana key it has no rule for: plain 403
post_error 403 forbidden /v1/wallet/sol/solana/sign-message "$TOK_CHAIN" '{"message_b64":"aGk="}'
assert_eq "$(audit_count "r['op'] == 'wallet.sign' and r['outcome'] == 'denied' and r.get('tx') == '0x$SIGNING_HASH' and r.get('chain_id') == 1 and r['status'] == 403")" 2 \
	"denied cap lines with the signing hash and chain id"
assert_eq "$(audit_count "r['op'] == 'wallet.sign' and r['outcome'] == 'denied' and r.get('tx') == '0x$DIGEST_HEX'")" 3 \
	"denied sign-digest lines with the digest"
assert_eq "$(audit_count "r['op'] == 'wallet.sign' and r['outcome'] == 'ok'")" "$SIGNED_OK" \
	"an ok wallet.sign audit line for a denied request"
assert_eq "$(audit_count "'chain_id' in r and r['op'] != 'wallet.sign'")" 0 "chain_id outside wallet.sign"
assert_eq "$(audit_count "r['op'] == 'wallet.read' and ('tx' in r or 'chain_id' in r)")" 0 "tx on an address line"

say "rotation: the new active version signs under its own address"
run_expect 0 vc key rotate eth
for ((i = 0; i < 100; i++)); do # the metadata cache trusts a copy for a few seconds
	expect 200 GET /v1/wallet/eth/evm/address "$TOK"
	[ "$(body version)" != 2 ] || break
	sleep 0.1
done
assert_eq "$(body version)" 2 "version after rotation"
pub_der eth "$W/eth2.der" 2
ETH2_ADDR=$(py eip55 "$W/eth2.der")
assert_eq "$(body address)" "$ETH2_ADDR" "address of version 2"
[ "$ETH2_ADDR" != "$ETH_ADDR" ] || fail "rotation kept the address"
post 200 /v1/wallet/eth/evm/sign-digest "$TOK" "{\"digest_hex\":\"0x$DIGEST_HEX\"}"
assert_eq "$(body version)" 2
assert_eq "$(body address)" "$ETH2_ADDR"
RSV=$(body signature)
hexfile "${RSV:2:128}" "$W/digest2.sig"
secp_ok "$W/eth2.der" "$W/digest" "$W/digest2.sig" "sign-digest by version 2"
rc=0 && "$SECP" "$W/eth.der" "$W/digest" "$W/digest2.sig" || rc=$?
assert_eq "$rc" 1 "version 1's key verifies version 2's signature"
assert_eq "$(audit_count "r['op'] == 'wallet.sign' and r['outcome'] == 'ok' and r['version'] == 2")" 1 \
	"audit version of the rotated key's signature"

say "still serving; audit log verifies; no bearer token in any log"
expect 200 GET /v1/health "$TOK"
post 200 /v1/wallet/sol/solana/sign-message "$TOK" "{\"message_b64\":\"$(b64 "$W/msg")\"}"
rc=$(vd_stop)
assert_eq "$rc" 0 "vaultd exit status"
run_expect 0 vc audit verify "$AUDIT"
for t in $ALL_TOKENS; do
	for f in "$PV_OUT"/vaultd*.log "$AUDIT"; do
		assert_not_contains "$f" "$t" "a bearer token in $f"
	done
done
assert_not_contains "$PV_OUT/vaultd.log" "p11vault wallet test message" "the signed message in the vaultd log"
echo "vaultd_wallet: ok"
