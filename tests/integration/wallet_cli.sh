#!/bin/bash
# vaultctl wallet: addresses, Solana transaction and message signatures,
# EVM personal_sign, digest and transaction signatures, on token keys. Each
# signature is checked by something p11vault did not write: OpenSSL
# (Ed25519, pkeyutl -rawin), libsecp256k1 (tests/verify-secp256k1: valid and
# low-S) over published hashes (web3.js docs' "Some data" personal_sign hash,
# EIP-155's example signing hash), and Python for base58/base64/RLP framing.
# Refusals exit non-zero with one clear line and write no output file.
# Solana sign-message refuses whatever begins with a transaction or a
# transaction message (trailing bytes or not) and signs the off-chain message
# format (--offchain) over exactly the bytes it reports. Every wallet command
# refuses a key whose purpose is not the chain's (exit 8).
set -eu
. "$top_srcdir/tests/lib/common.sh"
need_cmd openssl
need_cmd python3
SECP=$top_builddir/tests/verify-secp256k1
[ -x "$SECP" ] || fail "$SECP is not built (make check builds it)"

W=$PV_WORK

# py SCRIPT ARGS...: a small Python helper (base58, transaction framing).
py() {
	python3 - "$@"
}

# hexfile HEX OUT: bytes from hex (without 0x).
hexfile() { py "$1" "$2" <<<'import sys; open(sys.argv[2], "wb").write(bytes.fromhex(sys.argv[1]))'; }

# b58 FILE: base58 (Bitcoin alphabet) of a file's bytes.
b58() {
	py "$1" <<'EOF'
import sys
A = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
b = open(sys.argv[1], "rb").read()
n = int.from_bytes(b, "big")
s = ""
while n:
    n, r = divmod(n, 58)
    s = A[r] + s
print("1" * (len(b) - len(b.lstrip(b"\0"))) + s)
EOF
}

# b58dec TEXT OUT
b58dec() {
	py "$1" "$2" <<'EOF'
import sys
A = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
t = sys.argv[1]
n = 0
for c in t:
    n = n * 58 + A.index(c)
body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
open(sys.argv[2], "wb").write(b"\0" * (len(t) - len(t.lstrip("1"))) + body)
EOF
}

# solana_tx OUT SIGNER_PUB... : a legacy SOL transfer (base64 text) whose
# required signers are the given 32-byte key files, then recipient 0x02..
# and the System Program; zeroed signature slots. The raw bytes go to OUT.bin.
solana_tx() {
	py "$@" <<'EOF'
import base64, sys
out, signers = sys.argv[1], [open(p, "rb").read() for p in sys.argv[2:]]
n = len(signers)
msg = bytes([n, 0, 1, n + 2]) + b"".join(signers) + b"\x02" * 32 + b"\x00" * 32 + b"\x11" * 32
msg += bytes([1, n + 1, 2, 0, n, 12]) + bytes([2, 0, 0, 0, 0x40, 0x42, 0x0F, 0, 0, 0, 0, 0])
tx = bytes([n]) + b"\0" * 64 * n + msg
open(out + ".bin", "wb").write(tx)
open(out, "w").write(base64.b64encode(tx).decode() + "\n")
EOF
}

# solana_split B64FILE PREFIX: PREFIX.sig<i> (each signature), PREFIX.msg.
solana_split() {
	py "$1" "$2" <<'EOF'
import base64, sys
tx = base64.b64decode(open(sys.argv[1]).read().strip(), validate=True)
n = tx[0]
assert n < 0x80
for i in range(n):
    open("%s.sig%d" % (sys.argv[2], i), "wb").write(tx[1 + 64 * i:65 + 64 * i])
open(sys.argv[2] + ".msg", "wb").write(tx[1 + 64 * n:])
EOF
}

# no_output FILE: a refused command must not leave its --out file behind.
no_output() { [ ! -e "$1" ] || fail "$1 was written by a refused command"; }

# refused EXIT WHY ARGS...: exit code EXIT, one error line containing WHY.
refused() {
	local want=$1 why=$2
	shift 2
	run_expect "$want" vc "$@"
	assert_one_line_error "$RUN_ERR"
	assert_contains "$RUN_ERR" "$why"
	[ ! -s "$RUN_OUT" ] || fail "a refused command printed: $(head -c 200 "$RUN_OUT")"
}

run_expect 0 vc key create sol --alg ed25519 --purpose solana
run_expect 0 vc key create eth --alg secp256k1 --purpose evm
run_expect 0 vc key create p2 --alg p256 --purpose sign
# the wallet algorithms with other purposes
run_expect 0 vc key create ed-sign --alg ed25519 --purpose sign
run_expect 0 vc key create ed-jwt --alg ed25519 --purpose jwt
run_expect 0 vc key create k1-sign --alg secp256k1 --purpose sign
run_expect 0 vc key create k1-jwt --alg secp256k1 --purpose jwt
pub_pem sol "$W/sol.pem"
pub_der sol "$W/sol.der"
pub_der eth "$W/eth.der"
assert_size "$W/sol.der" 44
tail -c 32 "$W/sol.der" >"$W/sol.pub"

say "address: Solana base58 of the Ed25519 key, EVM EIP-55 (42 characters)"
run_expect 0 vc wallet address sol --chain solana
assert_eq "$(cat "$RUN_OUT")" "$(b58 "$W/sol.pub")" "Solana address"
SOL_ADDR=$(cat "$RUN_OUT")
run_expect 0 vc wallet address eth --chain evm
EVM_ADDR=$(cat "$RUN_OUT")
[[ $EVM_ADDR =~ ^0x[0-9a-fA-F]{40}$ ]] || fail "not an EVM address: $EVM_ADDR"
[[ $EVM_ADDR =~ [a-f] && $EVM_ADDR =~ [A-F] ]] || fail "no EIP-55 mixed case: $EVM_ADDR"
run_expect 0 vc wallet address eth --chain evm --json
json_valid "$RUN_OUT"
assert_eq "$(json_get "$RUN_OUT" address)" "$EVM_ADDR"
assert_eq "$(json_get "$RUN_OUT" chain)" evm
assert_eq "$(json_get "$RUN_OUT" version)" 1
assert_eq "$(json_get "$RUN_OUT" name)" eth

say "Solana sign-message: raw bytes, OpenSSL verifies the base58 signature"
printf 'Sign in to example.com\nNonce: 7' >"$W/msg"
run_expect 0 vc wallet sign-message sol --chain solana --in "$W/msg"
b58dec "$(cat "$RUN_OUT")" "$W/msg.sig"
assert_size "$W/msg.sig" 64
ossl_verify_ed25519 "$W/sol.pem" "$W/msg" "$W/msg.sig" || fail "OpenSSL rejects the message signature"
flip_byte "$W/msg" "$W/msg.tampered" 3
! ossl_verify_ed25519 "$W/sol.pem" "$W/msg.tampered" "$W/msg.sig" || fail "OpenSSL accepts a tampered message"
run_expect 0 vc wallet sign-message sol --chain solana --json <"$W/msg"
json_valid "$RUN_OUT"
b58dec "$(json_get "$RUN_OUT" signature_b58)" "$W/msg.sig2"
assert_same_file "$W/msg.sig" "$W/msg.sig2" "Ed25519 is deterministic"
assert_eq "$(json_get "$RUN_OUT" address)" "$SOL_ADDR"

say "Solana sign-tx: fee payer, and second of two signers"
solana_tx "$W/tx1" "$W/sol.pub"
run_expect 0 vc wallet sign-tx sol --chain solana --in "$W/tx1" --out "$W/tx1.signed"
assert_file_mode "$W/tx1.signed" 600
solana_split "$W/tx1.signed" "$W/tx1s"
solana_split "$W/tx1" "$W/tx1u"
assert_same_file "$W/tx1s.msg" "$W/tx1u.msg" "the message changed"
ossl_verify_ed25519 "$W/sol.pem" "$W/tx1s.msg" "$W/tx1s.sig0" || fail "OpenSSL rejects the transaction signature"
run_expect 0 vc wallet sign-tx sol --chain solana --in "$W/tx1" --json
json_valid "$RUN_OUT"
assert_eq "$(json_get "$RUN_OUT" signer_index)" 0
assert_eq "$(json_get "$RUN_OUT" transaction_b64)" "$(tr -d '\n' <"$W/tx1.signed")"
b58dec "$(json_get "$RUN_OUT" signature_b58)" "$W/tx1.sigj"
assert_same_file "$W/tx1.sigj" "$W/tx1s.sig0"

head -c 32 /dev/zero | tr '\0' '\7' >"$W/other.pub"
solana_tx "$W/tx2" "$W/other.pub" "$W/sol.pub"
# whitespace around the base64 is ignored
{ printf '  \n'; cat "$W/tx2"; printf '\n\t\n'; } >"$W/tx2.ws"
run_expect 0 vc wallet sign-tx sol --chain solana --in "$W/tx2.ws"
cp "$RUN_OUT" "$W/tx2.signed"
solana_split "$W/tx2.signed" "$W/tx2s"
head -c 64 /dev/zero >"$W/zero64"
assert_same_file "$W/tx2s.sig0" "$W/zero64" "the other signer's slot changed"
ossl_verify_ed25519 "$W/sol.pem" "$W/tx2s.msg" "$W/tx2s.sig1" || fail "OpenSSL rejects the second signer's signature"

say "Solana refusals: truncated, trailing byte, not a signer, a transaction message as a message"
py "$W/tx1.bin" "$W/trunc" "$W/trail" <<'EOF'
import base64, sys
tx = open(sys.argv[1], "rb").read()
open(sys.argv[2], "w").write(base64.b64encode(tx[:180]).decode())  # inside the blockhash
open(sys.argv[3], "w").write(base64.b64encode(tx + b"\0").decode())
EOF
refused 2 "truncated" wallet sign-tx sol --chain solana --in "$W/trunc" --out "$W/o1"
no_output "$W/o1"
refused 2 "trailing" wallet sign-tx sol --chain solana --in "$W/trail" --out "$W/o2"
no_output "$W/o2"
solana_tx "$W/tx3" "$W/other.pub"
refused 2 "not a required signer" wallet sign-tx sol --chain solana --in "$W/tx3" --out "$W/o3"
no_output "$W/o3"
printf 'not base64!' >"$W/notb64"
refused 2 "base64" wallet sign-tx sol --chain solana --in "$W/notb64" --out "$W/o4"
no_output "$W/o4"
: >"$W/empty"
refused 2 "empty" wallet sign-message sol --chain solana --in "$W/empty"
head -c 65537 /dev/zero >"$W/big"
refused 2 "larger than" wallet sign-message sol --chain solana --in "$W/big"

say "Solana sign-message refuses transactions and transaction messages, also followed by other bytes"
# tx1u.msg: the message of tx1; tx1.bin: the whole transaction
py "$W/tx1.bin" "$W/dom" <<'EOF'
import sys
tx = open(sys.argv[1], "rb").read()
msg = tx[65:]
out = sys.argv[2]
open(out + ".msg1", "wb").write(msg + b"\0")                  # one trailing byte
open(out + ".msgtext", "wb").write(msg + b"Sign in to example.com")
open(out + ".msgmsg", "wb").write(msg + msg)
open(out + ".tx1", "wb").write(tx + b"\x01")
open(out + ".v0", "wb").write(b"\x80" + msg + b"\x00" + b"zz")  # a v0 message, lookups 0
open(out + ".short", "wb").write(msg[:-1])                       # no transaction
open(out + ".head", "wb").write(msg[:4 + 32])                    # header, 1 key of 3
open(out + ".offchain", "wb").write(b"\xffsolana offchain\x00" + b"\x22" * 32 + b"\x00\x01")
EOF
refused 2 "transaction message" wallet sign-message sol --chain solana --in "$W/tx1u.msg"
for f in msg1 msgtext msgmsg v0; do
	refused 2 "transaction message" wallet sign-message sol --chain solana --in "$W/dom.$f"
	assert_contains "$RUN_ERR" "sign-transaction"
done
refused 2 "begins with a Solana transaction" wallet sign-message sol --chain solana --in "$W/tx1.bin"
refused 2 "begins with a Solana transaction" wallet sign-message sol --chain solana --in "$W/dom.tx1"
refused 2 "off-chain" wallet sign-message sol --chain solana --in "$W/dom.offchain"
# the start of a transaction message is no transaction: signed as it is
for f in short head; do
	run_expect 0 vc wallet sign-message sol --chain solana --in "$W/dom.$f"
	b58dec "$(cat "$RUN_OUT")" "$W/dom.$f.sig"
	ossl_verify_ed25519 "$W/sol.pem" "$W/dom.$f" "$W/dom.$f.sig" || fail "OpenSSL rejects the $f signature"
done

# offchain_expect BODY FORMAT OUT: the version 0 off-chain message for
# application domain 32 x 0x22 and the signer sol.pub, built here from the
# proposal's layout.
offchain_expect() {
	py "$1" "$2" "$W/sol.pub" "$3" <<'EOF'
import sys
body = open(sys.argv[1], "rb").read()
pub = open(sys.argv[3], "rb").read()
m = b"\xffsolana offchain" + b"\x00" + b"\x22" * 32 + bytes([int(sys.argv[2]), 1]) + pub
m += len(body).to_bytes(2, "little") + body
open(sys.argv[4], "wb").write(m)
EOF
}

say "Solana sign-message --offchain: the off-chain message format, OpenSSL verifies over its bytes"
head -c 32 /dev/zero | tr '\0' '\42' >"$W/appdom"
APPDOM=$(b58 "$W/appdom")
printf 'Sign in to example.com' >"$W/ascii"
run_expect 0 vc wallet sign-message sol --chain solana --offchain --application-domain "$APPDOM" --in "$W/ascii" --json
json_valid "$RUN_OUT"
assert_eq "$(json_get "$RUN_OUT" format)" offchain
assert_eq "$(json_get "$RUN_OUT" message_format)" ascii
assert_eq "$(json_get "$RUN_OUT" address)" "$SOL_ADDR"
json_get "$RUN_OUT" signed_message_b64 | base64 -d >"$W/ascii.signed"
offchain_expect "$W/ascii" 0 "$W/ascii.expect"
assert_same_file "$W/ascii.signed" "$W/ascii.expect" "the off-chain message"
b58dec "$(json_get "$RUN_OUT" signature_b58)" "$W/ascii.sig"
ossl_verify_ed25519 "$W/sol.pem" "$W/ascii.signed" "$W/ascii.sig" || fail "OpenSSL rejects the off-chain signature"
! ossl_verify_ed25519 "$W/sol.pem" "$W/ascii" "$W/ascii.sig" || fail "the off-chain signature verifies over the bare text"
# text output: the signature; a newline makes it UTF-8 (format 1)
run_expect 0 vc wallet sign-message sol --chain solana --offchain --application-domain "$APPDOM" --in "$W/msg"
b58dec "$(cat "$RUN_OUT")" "$W/msg.offsig"
offchain_expect "$W/msg" 1 "$W/msg.expect"
ossl_verify_ed25519 "$W/sol.pem" "$W/msg.expect" "$W/msg.offsig" || fail "OpenSSL rejects the UTF-8 off-chain signature"
# a transaction message is no UTF-8 text: refused in this format too
refused 2 "UTF-8" wallet sign-message sol --chain solana --offchain --application-domain "$APPDOM" --in "$W/tx1u.msg"
refused 2 "empty" wallet sign-message sol --chain solana --offchain --application-domain "$APPDOM" --in "$W/empty"
refused 2 "application-domain" wallet sign-message sol --chain solana --offchain --in "$W/ascii"
refused 2 "--offchain" wallet sign-message sol --chain solana --application-domain "$APPDOM" --in "$W/ascii"
refused 2 "base58 of 32 bytes" wallet sign-message sol --chain solana --offchain --application-domain 1111 --in "$W/ascii"
refused 2 "--chain solana" wallet sign-message eth --chain evm --offchain --application-domain "$APPDOM" --in "$W/ascii"
refused 2 "not an option" wallet sign-tx sol --chain solana --offchain --in "$W/tx1"

say "a key of another purpose: every wallet command refuses it (exit 8)"
for cmd in "address" "sign-tx --in $W/tx1" "sign-message --in $W/msg"; do
	for k in ed-sign ed-jwt eth p2; do
		# shellcheck disable=SC2086 # cmd holds the command and its options
		refused 8 "purpose" wallet $cmd $k --chain solana
	done
done
printf '%s\n' 0x1da44b586eb0729ff70a73c326926f6ed5a25f5b056e7f47fbc6e58d86871655 >"$W/digest"
printf '{}' >"$W/typed"
printf '%s\n' 0xec098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a764000080018080 >"$W/evm.tx"
for cmd in "address" "sign-tx --in $W/evm.tx" "sign-message --in $W/msg" "sign-digest --in $W/digest" \
	"sign-typed-data --in $W/typed"; do
	for k in k1-sign k1-jwt sol p2; do
		# shellcheck disable=SC2086
		refused 8 "purpose" wallet $cmd $k --chain evm
	done
done
refused 8 "purpose evm" wallet address k1-jwt --chain evm
refused 8 "purpose solana" wallet sign-message ed-sign --chain solana --offchain --application-domain "$APPDOM" --in "$W/ascii"

say "wrong chain, no key"
refused 2 "unknown chain" wallet address sol --chain bitcoin
refused 2 "--chain" wallet address sol
refused 2 "only --chain evm" wallet sign-digest sol --chain solana --in "$W/msg"
refused 5 "nokey" wallet address nokey --chain solana

say "EVM personal_sign: web3.js docs' 'Some data' hash, verified by libsecp256k1 (low-S)"
printf 'Some data' >"$W/some"
hexfile 1da44b586eb0729ff70a73c326926f6ed5a25f5b056e7f47fbc6e58d86871655 "$W/some.hash"
run_expect 0 vc wallet sign-message eth --chain evm --in "$W/some"
SIG=$(cat "$RUN_OUT")
[[ $SIG =~ ^0x[0-9a-f]{128}(1b|1c)$ ]] || fail "not r||s||v with v 27/28: $SIG"
hexfile "${SIG:2:128}" "$W/some.rs"
verify_secp256k1 "$W/eth.der" "$W/some.hash" "$W/some.rs" || fail "libsecp256k1 rejects the personal_sign signature"
flip_byte "$W/some.hash" "$W/some.hash.tampered" 5
! verify_secp256k1 "$W/eth.der" "$W/some.hash.tampered" "$W/some.rs" || fail "libsecp256k1 accepts another hash"
run_expect 0 vc wallet sign-message eth --chain evm --in "$W/some" --json
json_valid "$RUN_OUT"
assert_eq "$(json_get "$RUN_OUT" address)" "$EVM_ADDR"
[[ $(json_get "$RUN_OUT" signature) =~ ^0x[0-9a-f]{130}$ ]] || fail "--json signature"
# the empty message is a message for EIP-191
run_expect 0 vc wallet sign-message eth --chain evm --in "$W/empty"

say "EVM sign-digest"
run_expect 0 vc wallet sign-digest eth --chain evm --json <<<"0x1da44b586eb0729ff70a73c326926f6ed5a25f5b056e7f47fbc6e58d86871655"
json_valid "$RUN_OUT"
D=$(json_get "$RUN_OUT" signature)
hexfile "${D:2:128}" "$W/dig.rs"
verify_secp256k1 "$W/eth.der" "$W/some.hash" "$W/dig.rs" || fail "libsecp256k1 rejects the digest signature"
case "$(json_get "$RUN_OUT" y_parity)${D:130:2}" in 01b | 11c) ;; *) fail "y_parity and v disagree: $D" ;; esac
refused 2 "32 bytes" wallet sign-digest eth --chain evm <<<"0x1da44b586eb0729ff70a73c326926f6ed5a25f5b056e7f47fbc6e58d868716"
refused 2 "0x" wallet sign-digest eth --chain evm <<<"1da44b586eb0729ff70a73c326926f6ed5a25f5b056e7f47fbc6e58d86871655"

# eip155_rs SIGNED_HEX OUT: check the framing of a signed EIP-155 example
# transaction (the EIP's fields, v 37/38, canonical r and s) and write r||s.
eip155_rs() {
	py "$1" "$2" <<'EOF'
import sys
t = sys.argv[1].strip()
assert t.startswith("0x"), "no 0x"
b = bytes.fromhex(t[2:])
# a long RLP list, then the nine items; the first six are the EIP's
assert b[0] == 0xF8 and b[1] == len(b) - 2, "not one RLP list"
fields = bytes.fromhex("098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a764000080")
p = b[2:]
assert p.startswith(fields), "nonce..data changed"
p = p[len(fields):]
v, p = p[0], p[1:]
assert v in (37, 38), "v %d is not 1 * 2 + 35 + {0,1}" % v
out = b""
for _ in range(2):
    n = p[0] - 0x80
    assert 1 <= n <= 32 and p[1] != 0, "r/s not a canonical RLP integer"
    out += p[1:1 + n].rjust(32, b"\0")
    p = p[1 + n:]
assert not p, "trailing bytes"
open(sys.argv[2], "wb").write(out)
EOF
}

say "EVM sign-tx: EIP-155's example transaction; libsecp256k1 over the EIP's signing hash"
UNSIGNED=0xec098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a764000080018080
hexfile daf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53 "$W/eip155.hash"
printf '%s\n' "$UNSIGNED" >"$W/eip155.tx"
run_expect 0 vc wallet sign-tx eth --chain evm --in "$W/eip155.tx" --out "$W/eip155.signed"
eip155_rs "$(cat "$W/eip155.signed")" "$W/eip155.rs"
verify_secp256k1 "$W/eth.der" "$W/eip155.hash" "$W/eip155.rs" || fail "libsecp256k1 rejects the transaction signature"
run_expect 0 vc wallet sign-tx eth --chain evm --in "$W/eip155.tx" --json
json_valid "$RUN_OUT"
# ECDSA on the token is randomised: another valid signature
eip155_rs "$(json_get "$RUN_OUT" raw_transaction)" "$W/eip155j.rs"
verify_secp256k1 "$W/eth.der" "$W/eip155.hash" "$W/eip155j.rs" || fail "libsecp256k1 rejects the --json transaction"
R=$(json_get "$RUN_OUT" signature r)
assert_eq "$R" "0x$(od -An -v -tx1 -N32 "$W/eip155j.rs" | tr -d ' \n')" "signature.r"
assert_eq "$(json_get "$RUN_OUT" type)" 0
assert_eq "$(json_get "$RUN_OUT" chain_id)" 1
assert_eq "$(json_get "$RUN_OUT" address)" "$EVM_ADDR"
V=$(json_get "$RUN_OUT" signature v)
YP=$(json_get "$RUN_OUT" signature y_parity)
assert_eq "$V" $((37 + YP)) "v of an EIP-155 legacy transaction"
[[ $(json_get "$RUN_OUT" tx_hash) =~ ^0x[0-9a-f]{64}$ ]] || fail "tx_hash"

say "EVM refusals: signed transaction, pre-EIP-155, trailing byte, truncated, not hex"
# EIP-155's signed example (v 37 with the EIP's key)
printf '%s\n' 0xf86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83 >"$W/signed.tx"
refused 2 "already signed" wallet sign-tx eth --chain evm --in "$W/signed.tx" --out "$W/e1"
no_output "$W/e1"
printf '%s\n' 0xe9098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a764000080 >"$W/pre155.tx"
refused 2 "pre-EIP-155" wallet sign-tx eth --chain evm --in "$W/pre155.tx" --out "$W/e2"
no_output "$W/e2"
printf '%s00\n' "$UNSIGNED" >"$W/trail.tx"
refused 2 "trailing" wallet sign-tx eth --chain evm --in "$W/trail.tx" --out "$W/e3"
no_output "$W/e3"
printf '%s\n' "${UNSIGNED:0:-2}" >"$W/trunc.tx"
refused 2 "evm tx" wallet sign-tx eth --chain evm --in "$W/trunc.tx" --out "$W/e4"
no_output "$W/e4"
printf '%s\n' "${UNSIGNED:2}" >"$W/nox.tx"
refused 2 "0x" wallet sign-tx eth --chain evm --in "$W/nox.tx" --out "$W/e5"
no_output "$W/e5"
refused 8 "purpose" wallet sign-tx sol --chain evm --in "$W/eip155.tx" --out "$W/e6"
no_output "$W/e6"

say "nothing secret in any output"
for f in "$PV_OUT"/*; do assert_no_pin_in "$f"; done
say "PASS"
