#!/bin/bash
# Key usages: `key create --usage decrypt` makes an RSA key pair that decrypts
# and unwraps but never signs (an rsa-oaep-sha256 bundle recipient), aes256
# keys only wrap and unwrap (aes-kwp key-encryption keys), signing keys stay
# as they were. What the token holds is read with pkcs11-tool (OpenSC), not
# through p11vault; an RSA-OAEP-SHA256 ciphertext made by OpenSSL from the
# exported public key is decrypted by the token (raw RSA) and OAEP-decoded
# here, independently of p11vault.
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

# json_usage NAME: the "usage" member of NAME in the last `key list --json`.
json_usage() {
	python3 - "$RUN_OUT" "$1" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
print(*[k.get("usage") for k in doc["keys"] if k["name"] == sys.argv[2]])
EOF
}

say "create an RSA decryption key, a default RSA key and an aes256 key"
run_expect 0 vc key create rec --alg rsa2048 --usage decrypt
REC_URI=$(printed_uri "$RUN_OUT")
assert_contains "$RUN_ERR" "usage decrypt"
run_expect 0 vc key create signer --alg rsa2048
run_expect 0 vc key create signer-explicit --alg p256 --usage sign
run_expect 0 vc key create kek --alg aes256

say "the token holds what was asked for (pkcs11-tool)"
assert_usage rec.v1 private "decrypt,unwrap"
assert_usage rec.v1 public "encrypt,wrap"
assert_usage signer.v1 private "sign"
assert_usage signer.v1 public "verify"
assert_usage signer-explicit.v1 private "derive,sign"
assert_usage kek.v1 secret "unwrap,wrap"

say "key list and key show report the usage"
run_expect 0 vc key list --json
json_valid "$RUN_OUT"
assert_eq "$(json_usage rec)" decrypt "key list --json usage of rec"
assert_eq "$(json_usage signer)" sign "key list --json usage of signer"
assert_eq "$(json_usage kek)" wrap "key list --json usage of kek"
run_expect 0 vc key list
grep -Eq '^USAGE|[[:space:]]USAGE[[:space:]]' "$RUN_OUT" || fail "key list table has no USAGE column"
grep -Eq '^rec[[:space:]]+rsa2048[[:space:]]+1[[:space:]]+active[[:space:]]+decrypt[[:space:]]' "$RUN_OUT" ||
	fail "key list table has no 'rec rsa2048 1 active decrypt' row"
grep -Eq '^kek[[:space:]]+aes256[[:space:]]+1[[:space:]]+active[[:space:]]+wrap[[:space:]]' "$RUN_OUT" ||
	fail "key list table has no 'kek aes256 1 active wrap' row"
run_expect 0 vc key show rec
assert_contains "$RUN_OUT" "decrypt"
run_expect 0 vc --json key show rec
assert_eq "$(json_get "$RUN_OUT" usage)" decrypt "key show --json usage"

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

say "a decryption key does not sign: vaultctl refuses (2), and so does the token"
printf 'not for signing\n' >"$W/msg"
run_expect 2 vc sign rec --in "$W/msg" --out "$W/sig"
assert_one_line_error "$RUN_ERR"
assert_contains "$RUN_ERR" "key 'rec' is a decryption key (usage decrypt); it cannot sign"
[ ! -e "$W/sig" ] || fail "a refused sign wrote a signature file"
run_expect 2 vc sign rec --padding pss --in "$W/msg"
run_expect 0 vc sign signer --in "$W/msg" --out "$W/sig.ok"
run_expect 2 vc verify rec --in "$W/msg" --sig "$W/sig.ok"
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

say "rotation keeps the usage"
run_expect 0 vc key rotate rec
assert_versions rec "1:verify-only 2:active"
assert_usage rec.v2 private "decrypt,unwrap"
assert_usage rec.v2 public "encrypt,wrap"
run_expect 0 vc key list --json
assert_eq "$(json_usage rec)" decrypt "usage of rec after rotate"
run_expect 0 vc key rotate kek --next
assert_usage kek.v2 secret "unwrap,wrap"

say "usage errors: 2, nothing created"
run_expect 2 vc key create bad1 --alg p256 --usage decrypt
assert_one_line_error "$RUN_ERR"
assert_contains "$RUN_ERR" "RSA keys only"
run_expect 2 vc key create bad2 --alg ed25519 --usage decrypt
run_expect 2 vc key create bad3 --alg aes256 --usage decrypt
run_expect 2 vc key create bad4 --alg aes256 --usage sign
assert_contains "$RUN_ERR" "only wrap and unwrap"
run_expect 2 vc key create bad5 --alg rsa2048 --usage encrypt
run_expect 2 vc key create bad6 --alg rsa2048 --usage
for n in bad1 bad2 bad3 bad4 bad5 bad6; do
	assert_versions $n ""
done
run_expect 0 vc key create --help
assert_contains "$RUN_OUT" "--usage sign|decrypt"
assert_contains "$RUN_OUT" "rsa-oaep-sha256"
echo "key_usage: ok"
