#!/bin/bash
# Key purposes mirrored in the token's usage attributes (docs/cli.md "Key
# purposes"): `--purpose decrypt` makes an RSA key pair that decrypts and
# unwraps but never signs (an rsa-oaep-sha256 bundle recipient), wrap keys
# (aes256) only wrap and unwrap (aes-kwp key-encryption keys), an ECDH key
# (p256, derive) only derives, signing purposes sign and verify. What the
# token holds is read with pkcs11-tool (OpenSC), not through p11vault; an
# RSA-OAEP-SHA256 ciphertext made by OpenSSL from the exported public key is
# decrypted by the token (raw RSA) and OAEP-decoded here, independently of
# p11vault.
set -eu
. "$top_srcdir/tests/lib/common.sh"
need_cmd pkcs11-tool
need_cmd openssl
need_cmd python3
W=$PV_WORK

# usage_of LABEL CLASS: the "Usage:" words pkcs11-tool lists for the object
# (class: private, public or secret), sorted, comma-separated. Only labels,
# classes and usage words are kept from the tool's output.
usage_of() {
	p11tool_login -O >"$W/objs.raw" 2>"$W/objs.err" || fail "pkcs11-tool -O --login failed"
	python3 - "$W/objs.raw" "$1" "$2" <<'EOF'
import sys
raw, label, cls = sys.argv[1:]
objs, cur = [], None
for line in open(raw, errors="replace"):
    low = line.lower()
    if line and not line[0].isspace() and " object" in low:
        cur = {"class": low.split()[0], "label": None, "usage": None}
        objs.append(cur)
    elif cur is not None and ":" in line:
        k, _, v = line.strip().partition(":")
        k = k.strip().lower()
        if k == "label":
            cur["label"] = v.strip().strip("'")
        elif k == "usage":
            cur["usage"] = ",".join(sorted(w.strip() for w in v.split(",") if w.strip()))
hits = [o for o in objs if o["label"] == label and o["class"] == cls]
if len(hits) != 1:
    sys.exit("expected one %s object labelled %s, found %d" % (cls, label, len(hits)))
print(hits[0]["usage"] if hits[0]["usage"] is not None else "none")
EOF
}

assert_usage() { # LABEL CLASS WANT
	local got
	got=$(usage_of "$1" "$2") || fail "pkcs11-tool does not list the $2 key $1"
	assert_eq "$got" "$3" "usage of the $2 key $1 (pkcs11-tool)"
}

# json_member NAME MEMBER: a member of NAME in the last `key list --json`.
json_member() {
	python3 - "$RUN_OUT" "$1" "$2" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
print(*[k.get(sys.argv[3]) for k in doc["keys"] if k["name"] == sys.argv[2]])
EOF
}
json_usage() { json_member "$1" usage; }

say "create an RSA decryption key, RSA and P-256 signing keys, a JWT key, an ECDH key, a KEK, an audit key"
run_expect 0 vc key create rec --alg rsa2048 --purpose decrypt
REC_URI=$(printed_uri "$RUN_OUT")
assert_contains "$RUN_ERR" "purpose decrypt"
mkkey signer rsa2048 sign
mkkey signer-p256 p256 sign
mkkey issuer p256 jwt
mkkey ecdh p256 derive
mkkey kek aes256 wrap
mkkey audit-mac hmac-sha256 audit

say "the token holds what was asked for (pkcs11-tool)"
assert_usage rec.v1 private "decrypt,unwrap"
assert_usage rec.v1 public "encrypt,wrap"
assert_usage signer.v1 private "sign"
assert_usage signer.v1 public "verify"
# signing EC keys no longer derive, and an ECDH key never signs
assert_usage signer-p256.v1 private "sign"
assert_usage issuer.v1 private "sign"
assert_usage ecdh.v1 private "derive"
assert_usage kek.v1 secret "unwrap,wrap"

say "key list and key show report the purpose and the usage"
run_expect 0 vc key list --json
json_valid "$RUN_OUT"
assert_eq "$(json_usage rec)" decrypt "key list --json usage of rec"
assert_eq "$(json_usage signer)" sign "key list --json usage of signer"
assert_eq "$(json_usage kek)" wrap "key list --json usage of kek"
for kp in rec:decrypt signer:sign signer-p256:sign issuer:jwt ecdh:derive kek:wrap audit-mac:audit; do
	assert_eq "$(json_member "${kp%%:*}" purpose)" "${kp#*:}" "key list --json purpose of ${kp%%:*}"
done
run_expect 0 vc key list
grep -Eq '[[:space:]]PURPOSE[[:space:]]+USAGE[[:space:]]' "$RUN_OUT" || fail "key list table has no PURPOSE and USAGE columns"
grep -Eq '^rec[[:space:]]+rsa2048[[:space:]]+1[[:space:]]+active[[:space:]]+decrypt[[:space:]]+decrypt[[:space:]]' "$RUN_OUT" ||
	fail "key list table has no 'rec rsa2048 1 active decrypt decrypt' row"
grep -Eq '^kek[[:space:]]+aes256[[:space:]]+1[[:space:]]+active[[:space:]]+wrap[[:space:]]+wrap[[:space:]]' "$RUN_OUT" ||
	fail "key list table has no 'kek aes256 1 active wrap wrap' row"
grep -Eq '^issuer[[:space:]]+p256[[:space:]]+1[[:space:]]+active[[:space:]]+jwt[[:space:]]+sign[[:space:]]' "$RUN_OUT" ||
	fail "key list table has no 'issuer p256 1 active jwt sign' row"
run_expect 0 vc key show rec
assert_contains "$RUN_OUT" "decrypt"
run_expect 0 vc --json key show rec
assert_eq "$(json_get "$RUN_OUT" usage)" decrypt "key show --json usage"
assert_eq "$(json_get "$RUN_OUT" purpose)" decrypt "key show --json purpose"

say "JWK of a decryption key: use=enc, alg=RSA-OAEP-256, kid = RFC 7638 thumbprint"
pub_pem rec "$W/rec.pem"
pub_der rec "$W/rec.der"
run_expect 0 vc key show rec --format jwk
json_valid "$RUN_OUT"
python3 - "$W/rec.der" "$RUN_OUT" <<'EOF' || fail "JWK of rec"
import base64, hashlib, json, sys
der, jwk = open(sys.argv[1], "rb").read(), json.load(open(sys.argv[2]))
def tlv(b, i):
    t, l = b[i], b[i + 1]; i += 2
    if l & 0x80:
        k = l & 0x7f; l = int.from_bytes(b[i:i + k], "big"); i += k
    return t, b[i:i + l], i + l
def b64u(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
_, spki, _ = tlv(der, 0)
_, _, i = tlv(spki, 0)
_, bits, _ = tlv(spki, i)
_, rsa, _ = tlv(bits[1:], 0)
_, n, k = tlv(rsa, 0); _, e, _ = tlv(rsa, k)
want = {"kty": "RSA", "n": b64u(n.lstrip(b"\0")), "e": b64u(e.lstrip(b"\0"))}
canon = json.dumps(want, separators=(",", ":"), sort_keys=True)
errs = [m for m, ok in [
    ("use=%r" % jwk.get("use"), jwk.get("use") == "enc"),
    ("alg=%r" % jwk.get("alg"), jwk.get("alg") == "RSA-OAEP-256"),
    ("n/e differ from the SPKI", all(jwk.get(k) == v for k, v in want.items())),
    ("kid is not the thumbprint", jwk.get("kid") == b64u(hashlib.sha256(canon.encode()).digest())),
] if not ok]
if errs:
    sys.exit("; ".join(errs))
EOF
run_expect 0 vc key show signer --format jwk
assert_eq "$(json_get "$RUN_OUT" use)" sig "JWK use of a signing key"

say "an OAEP-SHA256 ciphertext made with the exported public key opens on the token"
python3 -c 'import os, sys; sys.stdout.buffer.write(os.urandom(32))' >"$W/dek"
openssl pkeyutl -encrypt -pubin -inkey "$W/rec.pem" -in "$W/dek" -out "$W/dek.enc" \
	-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 ||
	fail "OpenSSL cannot encrypt to the exported public key"
assert_size "$W/dek.enc" 256
REC_ID=$(uri_attr "$REC_URI" id)
[ -n "$REC_ID" ] || fail "no id in the URI of rec"
# SoftHSM does OAEP with SHA-1 only, so the token does raw RSA and the
# OAEP decoding (RFC 8017, 7.1.2) is done below.
p11tool_login --decrypt -m RSA-X-509 --id "$REC_ID" --input-file "$W/dek.enc" \
	--output-file "$W/em" >"$W/decrypt.out" 2>&1 || fail "the token cannot decrypt with rec"
assert_size "$W/em" 256
python3 - "$W/em" "$W/dek" <<'EOF' || fail "OAEP decoding of the token's output does not give the data key back"
import hashlib, sys
em, want = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
h = hashlib.sha256
hl = h().digest_size
def mgf1(seed, n):
    out = b""
    for c in range((n + hl - 1) // hl):
        out += h(seed + c.to_bytes(4, "big")).digest()
    return out[:n]
assert em[0] == 0, "first byte of EM is not 0"
mseed, mdb = em[1:1 + hl], em[1 + hl:]
seed = bytes(a ^ b for a, b in zip(mseed, mgf1(mdb, hl)))
db = bytes(a ^ b for a, b in zip(mdb, mgf1(seed, len(mdb))))
assert db[:hl] == h(b"").digest(), "lHash mismatch"
rest = db[hl:].lstrip(b"\0")
assert rest[:1] == b"\x01", "no 0x01 separator"
assert rest[1:] == want, "recovered message differs"
EOF

say "a decryption key does not sign: vaultctl refuses (8, wrong purpose), and so does the token"
printf 'not for signing\n' >"$W/msg"
run_expect 8 vc sign rec --in "$W/msg" --out "$W/sig"
assert_one_line_error "$RUN_ERR"
assert_contains "$RUN_ERR" "key 'rec' has purpose decrypt; this needs a key of purpose sign"
[ ! -e "$W/sig" ] || fail "a refused sign wrote a signature file"
run_expect 8 vc sign rec --padding pss --in "$W/msg"
run_expect 0 vc sign signer --in "$W/msg" --out "$W/sig.ok"
run_expect 8 vc verify rec --in "$W/msg" --sig "$W/sig.ok"
if p11tool_login --sign -m SHA256-RSA-PKCS --id "$REC_ID" --input-file "$W/msg" \
	--output-file "$W/sig.p11" >"$W/sign.out" 2>&1; then
	fail "the token signed with a decryption key"
fi
# refused for the key's usage, not for anything else
assert_contains "$W/sign.out" CKR_KEY_FUNCTION_NOT_PERMITTED

say "aes256 keys never encrypt data (no CKA_ENCRYPT / CKA_DECRYPT)"
KEK_ID=$(uri_attr "$(vc key show kek --format uri)" id)
printf '0123456789abcdef' >"$W/block"
if p11tool_login --encrypt -m AES-ECB --id "$KEK_ID" --input-file "$W/block" \
	--output-file "$W/block.enc" >"$W/enc.out" 2>&1; then
	fail "the token encrypted data with a key-encryption key"
fi
assert_contains "$W/enc.out" CKR_KEY_FUNCTION_NOT_PERMITTED

say "an ECDH key never signs, even through the token"
ECDH_ID=$(uri_attr "$(vc key show ecdh --format uri)" id)
run_expect 8 vc sign ecdh --in "$W/msg"
assert_contains "$RUN_ERR" "key 'ecdh' has purpose derive"
if p11tool_login --sign -m ECDSA --id "$ECDH_ID" --input-file "$W/msg" \
	--output-file "$W/ecdh.sig" >"$W/ecdh-sign.out" 2>&1; then
	fail "the token signed with an ECDH (derive) key"
fi
assert_contains "$W/ecdh-sign.out" CKR_KEY_FUNCTION_NOT_PERMITTED

say "rotation keeps the purpose and the usage"
run_expect 0 vc key rotate rec
assert_versions rec "1:verify-only 2:active"
assert_usage rec.v2 private "decrypt,unwrap"
assert_usage rec.v2 public "encrypt,wrap"
run_expect 0 vc key list --json
assert_eq "$(json_usage rec)" decrypt "usage of rec after rotate"
assert_purpose rec decrypt
run_expect 0 vc key rotate kek --next
assert_usage kek.v2 secret "unwrap,wrap"
assert_purpose kek wrap
run_expect 0 vc key rotate ecdh
assert_usage ecdh.v2 private "derive"
assert_purpose ecdh derive

say "a purpose that does not fit the algorithm: 2, the error lists those that do, nothing created"
run_expect 2 vc key create bad1 --alg p256 --purpose decrypt
assert_one_line_error "$RUN_ERR"
assert_contains "$RUN_ERR" "it can have: jwt, sign, derive"
run_expect 2 vc key create bad2 --alg ed25519 --purpose decrypt
assert_contains "$RUN_ERR" "it can have: jwt, sign, solana"
run_expect 2 vc key create bad3 --alg aes256 --purpose decrypt
assert_contains "$RUN_ERR" "it can have: wrap"
run_expect 2 vc key create bad4 --alg aes256 --purpose sign
run_expect 2 vc key create bad5 --alg rsa2048 --purpose encrypt
run_expect 2 vc key create bad6 --alg rsa2048 --purpose
run_expect 2 vc key create bad7 --alg secp256k1 --purpose solana
assert_contains "$RUN_ERR" "it can have: jwt, sign, evm"
run_expect 2 vc key create bad8 --alg hmac-sha256 --purpose wrap
assert_contains "$RUN_ERR" "it can have: sign, audit, derive"
# --usage is gone: --purpose decrypt replaced it
run_expect 2 vc key create bad9 --alg rsa2048 --usage decrypt
for n in bad1 bad2 bad3 bad4 bad5 bad6 bad7 bad8 bad9; do
	assert_versions $n ""
done
run_expect 0 vc key create --help
assert_contains "$RUN_OUT" "--purpose jwt|sign|solana|evm|audit|wrap|decrypt|derive"
assert_contains "$RUN_OUT" "rsa-oaep-sha256"
echo "key_usage: ok"
