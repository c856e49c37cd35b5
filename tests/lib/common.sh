# shellcheck shell=bash
# Helpers for tests/integration/*.sh. Those scripts run under
# tests/run-with-token.sh, which gives each one a fresh SoftHSM token and
# exports: PV_TEST_DIR, VAULTCTL, P11VAULT_MODULE, P11VAULT_TOKEN,
# P11VAULT_PIN_SOURCE, PV_TOKEN_LABEL, PV_USER_PIN_FILE, PV_SO_PIN_FILE,
# SOFTHSM2_CONF, OPENSSL_CONF, top_srcdir, top_builddir.
#
# Everything a test runs through run_expect is kept in $PV_TEST_DIR/out, which
# the wrapper copies to tests/artifacts/<test>/ for the PIN leak check. Never
# print a PIN: pkcs11-tool gets it through `--pin env:VAR`, not argv.

: "${PV_TEST_DIR:?run this test through tests/run-with-token.sh}"
: "${VAULTCTL:?VAULTCTL is not set}"
: "${top_builddir:?top_builddir is not set}"
: "${top_srcdir:?top_srcdir is not set}"
: "${SOFTHSM_MODULE:=${P11VAULT_MODULE:-/usr/lib/softhsm/libsofthsm2.so}}"

PV_OUT=$PV_TEST_DIR/out
PV_WORK=$PV_TEST_DIR/work # scratch files that are not evidence (messages, keys)
mkdir -p "$PV_OUT" "$PV_WORK"
pv_run_n=0

say() { printf '\n== %s\n' "$*"; }
fail() {
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}
skip() {
	printf 'SKIP: %s\n' "$*" >&2
	exit 77
}
need_cmd() { command -v "$1" >/dev/null 2>&1 || skip "$1 is not installed"; }

# stop_pid PID [SIGNAL]: send SIGNAL (default TERM), wait up to 10 s for the
# process to go, then KILL it; reaps it when it is this shell's child.
stop_pid() {
	local pid=$1 sig=${2:-TERM}
	[ -n "$pid" ] || return 0
	kill -"$sig" "$pid" 2>/dev/null || true
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

vc() { "$VAULTCTL" "$@"; }

# run_expect EXIT CMD...  Run CMD with stdout/stderr kept in files ($RUN_OUT,
# $RUN_ERR) and insist on exactly exit code EXIT. EXIT may be a list "2|6".
run_expect() {
	local want=$1 rc=0
	shift
	pv_run_n=$((pv_run_n + 1))
	RUN_OUT=$PV_OUT/$(printf '%03d' "$pv_run_n").out
	RUN_ERR=$PV_OUT/$(printf '%03d' "$pv_run_n").err
	printf '$ %s\n' "$*" >"$PV_OUT/$(printf '%03d' "$pv_run_n").cmd"
	"$@" >"$RUN_OUT" 2>"$RUN_ERR" || rc=$?
	printf '$ %s  -> exit %s\n' "$*" "$rc"
	case "|$want|" in
	*"|$rc|"*) return 0 ;;
	esac
	printf 'expected exit %s, got %s\n--- stderr:\n' "$want" "$rc" >&2
	head -c 4000 "$RUN_ERR" >&2
	printf -- '--- stdout:\n' >&2
	head -c 2000 "$RUN_OUT" | LC_ALL=C tr -c '[:print:]\n' '.' >&2
	fail "exit code of: $*"
}

assert_eq() { [ "$1" = "$2" ] || fail "${3:-values differ}: got '$1', want '$2'"; }
assert_contains() { grep -aqF -- "$2" "$1" || fail "${3:-$1 does not contain '$2'}"; }
assert_not_contains() { ! grep -aqF -- "$2" "$1" || fail "${3:-$1 contains '$2'}"; }
assert_file_mode() {
	local m
	m=$(stat -c %a "$1")
	[ "$m" = "$2" ] || fail "mode of $1 is $m, want $2"
}
assert_same_file() { cmp -s "$1" "$2" || fail "${3:-$1 and $2 differ}"; }
assert_size() {
	local n
	n=$(stat -c %s "$1")
	[ "$n" = "$2" ] || fail "${3:-size of $1} is $n bytes, want $2"
}

# The error contract of docs/cli.md: one line on stderr, "vaultctl: ...".
assert_one_line_error() {
	local n
	n=$(wc -l <"$1")
	[ "$n" = 1 ] || {
		cat "$1" >&2
		fail "error output has $n lines, want exactly one"
	}
	grep -q '^vaultctl: ' "$1" || fail "error line does not start with 'vaultctl: ': $(cat "$1")"
}

# The secret in a PIN file, never printed, only compared.
assert_no_pin_in() {
	local f pin
	for f in "$PV_USER_PIN_FILE" "$PV_SO_PIN_FILE"; do
		pin=$(cat "$f")
		[ -n "$pin" ] || fail "empty PIN file $f"
		! grep -aqF -- "$pin" "$1" || fail "$1 contains a PIN (from $(basename "$f"))"
	done
}

json_valid() { python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$1" || fail "$1 is not JSON"; }

# json_get FILE PATH... : print one value (dicts by key, lists by index).
json_get() {
	python3 - "$@" <<'EOF'
import json, sys
v = json.load(open(sys.argv[1]))
for p in sys.argv[2:]:
    v = v[int(p)] if isinstance(v, list) else v[p]
print(v if not isinstance(v, (dict, list)) else json.dumps(v, sort_keys=True))
EOF
}

# key list --json as "name alg version state" lines. docs/cli.md fixes the
# fields (NAME ALG VERSION STATE), not the nesting, so accept both a flat
# list of versions and keys carrying a list of versions.
keys_rows() {
	python3 - "$1" <<'EOF'
import json, sys
rows = set()
def walk(o, ctx):
    if isinstance(o, dict):
        c = dict(ctx)
        if isinstance(o.get("name"), str):
            c["name"] = o["name"]
        for a in ("alg", "algorithm"):
            if isinstance(o.get(a), str):
                c["alg"] = o[a]
        if "version" in o and "state" in o and "name" in c:
            rows.add((c["name"], c.get("alg", "?"), int(o["version"]), o["state"]))
        for v in o.values():
            walk(v, c)
    elif isinstance(o, list):
        for v in o:
            walk(v, ctx)
walk(json.load(open(sys.argv[1])), {})
for r in sorted(rows):
    print(*r)
EOF
}

# Current rows of `key list --json` into $KEYS_ROWS (a file).
list_keys() {
	run_expect 0 vc key list --json
	json_valid "$RUN_OUT"
	KEYS_ROWS=$PV_OUT/keys.$pv_run_n.rows
	keys_rows "$RUN_OUT" >"$KEYS_ROWS"
}

# assert_versions NAME "1:verify-only 2:active" : the exact version states
# of NAME ("" = the key does not exist).
assert_versions() {
	local got
	list_keys
	got=$(awk -v n="$1" '$1 == n { printf "%s%s:%s", sep, $3, $4; sep = " " }' "$KEYS_ROWS")
	[ "$got" = "$2" ] || {
		cat "$KEYS_ROWS" >&2
		fail "versions of $1: got '$got', want '$2'"
	}
}

# purpose_for ALG: a purpose a key of ALG can have, for tests that only need
# a usable key of that algorithm (docs/cli.md "Key purposes"): wrap for
# aes256, sign for every other algorithm.
purpose_for() {
	case $1 in
	aes256) echo wrap ;;
	*) echo sign ;;
	esac
}

# mkkey NAME ALG [PURPOSE]: key create, exit 0 (PURPOSE: purpose_for ALG).
mkkey() {
	run_expect 0 vc key create "$1" --alg "$2" --purpose "${3:-$(purpose_for "$2")}"
}

# key_purpose NAME: the "purpose" member of `key show NAME --json` ("None"
# for a key without one: JSON null).
key_purpose() {
	"$VAULTCTL" --json key show "$1" >"$PV_WORK/purpose.json" 2>"$PV_WORK/purpose.err" ||
		fail "key show $1 --json failed: $(cat "$PV_WORK/purpose.err")"
	json_get "$PV_WORK/purpose.json" purpose
}

assert_purpose() { assert_eq "$(key_purpose "$1")" "$2" "purpose of $1"; }

# legacy_meta NAME: rewrite NAME's metadata as versions before purposes
# wrote it: the CKO_DATA object (CKA_APPLICATION "p11vault", CKA_LABEL NAME)
# is read, written back without "purpose" and the old copy deleted, with
# pkcs11-tool alone (not through p11vault). The key then has no purpose.
legacy_meta() {
	local n=$1
	p11tool_login --read-object --type data --label "$n" --application-label p11vault \
		-o "$PV_WORK/$n.meta" >"$PV_WORK/p11.out" 2>&1 || fail "pkcs11-tool cannot read the metadata of $n"
	python3 - "$PV_WORK/$n.meta" "$PV_WORK/$n.old" <<'EOF' || fail "the metadata of $n is not what this version writes"
import json, sys
d = json.load(open(sys.argv[1]))
assert "purpose" in d, "no purpose in %r" % d
del d["purpose"]
open(sys.argv[2], "w").write(json.dumps(d, separators=(",", ":")))
EOF
	p11tool_login --delete-object --type data --label "$n" --application-label p11vault \
		>"$PV_WORK/p11.out" 2>&1 || fail "pkcs11-tool cannot delete the metadata of $n"
	p11tool_login --write-object "$PV_WORK/$n.old" --type data --label "$n" --application-label p11vault \
		--private >"$PV_WORK/p11.out" 2>&1 || fail "pkcs11-tool cannot write the old metadata of $n"
	assert_purpose "$n" None
}

assert_key_alg() {
	list_keys
	awk -v n="$1" -v a="$2" '$1 == n && $2 == a { ok = 1 } END { exit !ok }' "$KEYS_ROWS" ||
		fail "key list --json does not show $1 with alg $2"
}

# ---- public keys and independent verification (OpenSSL, libsecp256k1) ----

# pub_pem NAME OUT [VERSION]: the SPKI PEM from vaultctl, checked by OpenSSL.
pub_pem() {
	local v=()
	[ $# -lt 3 ] || v=(--version "$3")
	run_expect 0 vc key show "$1" --format pem "${v[@]}"
	cp "$RUN_OUT" "$2"
	openssl pkey -pubin -in "$2" -noout 2>"$PV_OUT/openssl.err" || fail "OpenSSL cannot parse the PEM of $1"
}

pub_der() {
	local v=()
	[ $# -lt 3 ] || v=(--version "$3")
	run_expect 0 vc key show "$1" --format der "${v[@]}"
	cp "$RUN_OUT" "$2"
}

sha() { openssl dgst "-$1" -binary "$2"; }

# These return the verifier's status (no fail), so tests can also check that
# a tampered input is rejected.
ossl_verify_ecdsa() { # HASH PEM MSG DERSIG
	openssl dgst "-$1" -verify "$2" -signature "$4" "$3" >/dev/null 2>&1
}
ossl_verify_ecdsa_digest() { # PEM DIGEST DERSIG
	openssl pkeyutl -verify -pubin -inkey "$1" -in "$2" -sigfile "$3" >/dev/null 2>&1
}
ossl_verify_ed25519() { # PEM MSG SIG
	openssl pkeyutl -verify -pubin -inkey "$1" -rawin -in "$2" -sigfile "$3" >/dev/null 2>&1
}
ossl_verify_rsa() { # HASH pkcs1|pss PEM MSG SIG
	local o=()
	[ "$2" != pss ] || o=(-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest -sigopt "rsa_mgf1_md:$1")
	openssl dgst "-$1" "${o[@]}" -verify "$3" -signature "$5" "$4" >/dev/null 2>&1
}
verify_secp256k1() { # PUB(SPKI DER) DIGEST RAWSIG
	"$top_builddir/tests/verify-secp256k1" "$@" >/dev/null 2>"$PV_WORK/secp.err"
}

# ECDSA r||s -> X9.62 DER, written here rather than taken from p11vault.
ecdsa_raw_to_der() {
	python3 - "$1" "$2" <<'EOF'
import sys
raw = open(sys.argv[1], "rb").read()
if len(raw) % 2:
    sys.exit("odd raw signature length")
h = len(raw) // 2
def der_int(b):
    b = b.lstrip(b"\0") or b"\0"
    if b[0] & 0x80:
        b = b"\0" + b
    return b"\x02" + bytes([len(b)]) + b
body = der_int(raw[:h]) + der_int(raw[h:])
ln = bytes([len(body)]) if len(body) < 128 else b"\x81" + bytes([len(body)])
open(sys.argv[2], "wb").write(b"\x30" + ln + body)
EOF
}

# X9.62 DER -> r||s of SIZE bytes each.
ecdsa_der_to_raw() {
	python3 - "$1" "$2" "$3" <<'EOF'
import sys
d = open(sys.argv[1], "rb").read(); n = int(sys.argv[3])
def tlv(b, i):
    t, l = b[i], b[i + 1]; i += 2
    if l & 0x80:
        k = l & 0x7f; l = int.from_bytes(b[i:i + k], "big"); i += k
    return t, b[i:i + l], i + l
t, seq, end = tlv(d, 0)
assert t == 0x30 and end == len(d), "not one DER SEQUENCE"
t1, r, i = tlv(seq, 0); t2, s, j = tlv(seq, i)
assert t1 == t2 == 2 and j == len(seq), "not SEQUENCE { INTEGER, INTEGER }"
out = int.from_bytes(r, "big").to_bytes(n, "big") + int.from_bytes(s, "big").to_bytes(n, "big")
open(sys.argv[2], "wb").write(out)
EOF
}

# secp256k1 r||s -> r||(n-s): the same signature with the other S.
ecdsa_flip_s_secp256k1() {
	python3 - "$1" "$2" <<'EOF'
import sys
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
raw = open(sys.argv[1], "rb").read()
s = int.from_bytes(raw[32:], "big")
open(sys.argv[2], "wb").write(raw[:32] + (N - s).to_bytes(32, "big"))
EOF
}

b64url_decode() {
	python3 - "$1" "$2" <<'EOF'
import base64, sys
t = open(sys.argv[1]).read().strip()
if any(c in t for c in "+/="):
    sys.exit("not unpadded base64url")
open(sys.argv[2], "wb").write(base64.urlsafe_b64decode(t + "=" * (-len(t) % 4)))
EOF
}

# Flip one bit of a copy: a tampered message or signature.
flip_byte() { # IN OUT [OFFSET]
	python3 - "$1" "$2" "${3:-0}" <<'EOF'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[int(sys.argv[3])] ^= 0x01
open(sys.argv[2], "wb").write(b)
EOF
}

# Keccak-256 (the pre-FIPS padding Ethereum uses), written from FIPS 202 so
# the test does not trust p11vault's implementation. Self-checked first
# against hashlib's SHA3-256 (same permutation, other padding) and the
# published Keccak-256("") / ("abc") values.
keccak256_file() {
	python3 - "$1" "$2" <<'EOF'
import hashlib, sys
M = (1 << 64) - 1
def rol(v, n): return ((v << n) | (v >> (64 - n))) & M
RC = []
r = 1
for rnd in range(24):
    c = 0
    for j in range(7):
        if r & 1: c |= 1 << ((1 << j) - 1)
        r <<= 1
        if r & 0x100: r ^= 0x171
    RC.append(c)
ROT = [0] * 25
x, y = 1, 0
for t in range(24):
    ROT[x + 5 * y] = ((t + 1) * (t + 2) // 2) % 64
    x, y = y, (2 * x + 3 * y) % 5
def f(A):
    for rc in RC:
        C = [A[x] ^ A[x + 5] ^ A[x + 10] ^ A[x + 15] ^ A[x + 20] for x in range(5)]
        D = [C[(x - 1) % 5] ^ rol(C[(x + 1) % 5], 1) for x in range(5)]
        A = [A[i] ^ D[i % 5] for i in range(25)]
        B = [0] * 25
        for x in range(5):
            for y in range(5):
                B[y + 5 * ((2 * x + 3 * y) % 5)] = rol(A[x + 5 * y], ROT[x + 5 * y]) if ROT[x + 5 * y] else A[x + 5 * y]
        A = [B[i] ^ (~B[(i % 5 + 1) % 5 + 5 * (i // 5)] & B[(i % 5 + 2) % 5 + 5 * (i // 5)]) for i in range(25)]
        A[0] ^= rc
    return A
def sponge(data, pad, rate=136, outlen=32):
    m = bytearray(data) + bytes([pad])
    m += bytes(-len(m) % rate)
    m[-1] |= 0x80
    A = [0] * 25
    for o in range(0, len(m), rate):
        for i in range(rate // 8):
            A[i] ^= int.from_bytes(m[o + 8 * i:o + 8 * i + 8], "little")
        A = f(A)
    return b"".join(a.to_bytes(8, "little") for a in A)[:outlen]
for probe in (b"", b"abc", bytes(range(256)) * 3):
    assert sponge(probe, 0x06) == hashlib.sha3_256(probe).digest(), "keccak-f self-check"
assert sponge(b"", 0x01).hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
assert sponge(b"abc", 0x01).hex() == "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"
open(sys.argv[2], "wb").write(sponge(open(sys.argv[1], "rb").read(), 0x01))
EOF
}

# jwk_check DER JWK ALG: the JWK that vaultctl printed matches the SPKI DER
# (parsed here, not by p11vault), has use=sig, the alg for ALG, and kid = the
# RFC 7638 thumbprint.
jwk_check() {
	python3 - "$@" <<'EOF'
import base64, hashlib, json, sys
der, jwk, alg = open(sys.argv[1], "rb").read(), json.load(open(sys.argv[2])), sys.argv[3]
def tlv(b, i):
    t, l = b[i], b[i + 1]; i += 2
    if l & 0x80:
        k = l & 0x7f; l = int.from_bytes(b[i:i + k], "big"); i += k
    return t, b[i:i + l], i + l
def b64u(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
t, spki, end = tlv(der, 0)
assert t == 0x30 and end == len(der)
t, algid, i = tlv(spki, 0)
t2, bits, _ = tlv(spki, i)
assert t == 0x30 and t2 == 0x03 and bits[0] == 0
key = bits[1:]
_, oid, j = tlv(algid, 0)
params = algid[j:]
curves = {bytes.fromhex("06082a8648ce3d030107"): ("P-256", 32, "ES256", "p256"),
          bytes.fromhex("06052b81040022"): ("P-384", 48, "ES384", "p384"),
          bytes.fromhex("06052b8104000a"): ("secp256k1", 32, "ES256K", "secp256k1")}
if oid == bytes.fromhex("2a8648ce3d0201"):
    crv, n, jalg, a = curves[params]
    assert key[0] == 4 and len(key) == 1 + 2 * n
    want = {"kty": "EC", "crv": crv, "x": b64u(key[1:1 + n]), "y": b64u(key[1 + n:])}
    req = ("crv", "kty", "x", "y"); algs = {jalg}
elif oid == bytes.fromhex("2b6570"):
    a = "ed25519"; want = {"kty": "OKP", "crv": "Ed25519", "x": b64u(key)}
    req = ("crv", "kty", "x"); algs = {"EdDSA"}
elif oid == bytes.fromhex("2a864886f70d010101"):
    _, rsa, _ = tlv(key, 0)
    _, nb, k = tlv(rsa, 0); _, eb, _ = tlv(rsa, k)
    a = "rsa%d" % (len(nb.lstrip(b"\0")) * 8)
    want = {"kty": "RSA", "n": b64u(nb.lstrip(b"\0")), "e": b64u(eb.lstrip(b"\0"))}
    req = ("e", "kty", "n"); algs = {"RS256", "PS256", "RS384", "PS384", "RS512", "PS512"}
else:
    sys.exit("unexpected SPKI algorithm")
errs = []
if a != alg: errs.append("SPKI is %s, key was created as %s" % (a, alg))
for k, v in want.items():
    if jwk.get(k) != v: errs.append("JWK %s=%r, SPKI says %r" % (k, jwk.get(k), v))
if jwk.get("use") != "sig": errs.append("JWK use=%r, want 'sig'" % jwk.get("use"))
if jwk.get("alg") not in algs: errs.append("JWK alg=%r, want one of %s" % (jwk.get("alg"), sorted(algs)))
canon = json.dumps({k: want[k] for k in req}, separators=(",", ":"), sort_keys=True)
kid = b64u(hashlib.sha256(canon.encode()).digest())
if jwk.get("kid") != kid: errs.append("JWK kid=%r, RFC 7638 thumbprint is %r" % (jwk.get("kid"), kid))
if any(k in jwk for k in ("d", "p", "q", "dp", "dq", "qi", "k")): errs.append("JWK carries private members")
if errs:
    sys.exit("\n".join(errs))
EOF
}

# The pkcs11: URI a command printed (key create prints it among other lines).
printed_uri() {
	grep -m 1 '^pkcs11:' "$1" || fail "no pkcs11: URI in the output of the last command"
}

# ---- pkcs11-tool (OpenSC): an independent view of the token ----

# URI attribute (object, id, type, token...) percent-decoded; id as hex.
uri_attr() {
	python3 - "$1" "$2" <<'EOF'
import sys, urllib.parse
uri, want = sys.argv[1].strip(), sys.argv[2]
assert uri.startswith("pkcs11:"), "not a pkcs11: URI"
path = uri[len("pkcs11:"):].split("?", 1)[0]
for part in path.split(";"):
    k, _, v = part.partition("=")
    if k == want:
        b = urllib.parse.unquote_to_bytes(v)
        print(b.hex() if k == "id" else b.decode())
        break
EOF
}

p11tool() {
	need_cmd pkcs11-tool
	pkcs11-tool --module "$SOFTHSM_MODULE" --token-label "$PV_TOKEN_LABEL" "$@"
}

# p11tool_login ARGS...: logged in, PIN through the environment (not argv).
p11tool_login() {
	need_cmd pkcs11-tool
	PV_P11TOOL_PIN=$(cat "$PV_USER_PIN_FILE") pkcs11-tool --module "$SOFTHSM_MODULE" \
		--token-label "$PV_TOKEN_LABEL" --login --pin env:PV_P11TOOL_PIN "$@"
}

# p11_object_versions OBJS NAME CLASS: the version numbers of key NAME's
# objects of CLASS (labels NAME.vN) in a p11_objects file, one per line,
# ascending; one number twice is an orphan or a tie.
p11_object_versions() {
	awk -F'|' -v c="$3" -v n="$2" 'index($2, n ".v") == 1 && $1 == c { sub(/^.*\.v/, "", $2); print $2 }' "$1" |
		sort -n
}

# p11_objects OUT [--login]: objects as "class|label|idhex|access" lines.
# Only these parsed fields are kept, so nothing else from the tool's output
# reaches a log.
p11_objects() {
	local out=$1 raw=$PV_WORK/p11tool.raw
	shift
	if [ "${1:-}" = --login ]; then
		p11tool_login -O >"$raw" 2>"$PV_WORK/p11tool.err" || fail "pkcs11-tool -O --login failed"
	else
		p11tool -O >"$raw" 2>"$PV_WORK/p11tool.err" || fail "pkcs11-tool -O failed"
	fi
	python3 - "$raw" >"$out" <<'EOF'
import sys
objs, cur = [], None
for line in open(sys.argv[1], errors="replace"):
    if line and not line[0].isspace() and " object" in line.lower():
        cls = line[:line.lower().index(" object")].strip().lower().replace(" ", "-")
        cur = {"class": cls, "label": "", "id": "", "access": ""}
        objs.append(cur)
    elif cur is not None and ":" in line:
        k, _, v = line.strip().partition(":")
        k = k.strip().lower()
        if k in ("label", "id", "access"):
            cur[k] = v.strip().lower() if k != "label" else v.strip().strip("'")
# Sorted: the token's enumeration order is not stable across processes.
for line in sorted("%s|%s|%s|%s" % (o["class"], o["label"], o["id"], o["access"]) for o in objs):
    print(line)
EOF
}
