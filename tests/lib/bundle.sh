# shellcheck shell=bash
# Helpers for the secrets bundle tests (tests/integration/bundle_*.sh), on
# top of tests/lib/common.sh. JSON is read and edited with python3 (a
# PV_DEBIAN_PACKAGES dependency, as for common.sh); the bundle cryptography
# of docs/bundle-format.md §4-§6 is redone with Node.js's crypto (OpenSSL),
# code p11vault did not write, so a test can open, re-check or forge a
# bundle independently of src/bundle/.

# ---- JSON: read and edit bundles (python3) ----

# Debian's python3 when there is one: a version-manager shim in PATH (pyenv)
# can cost seconds per start, and these tests start python often.
if [ -x /usr/bin/python3 ]; then
	python3() { /usr/bin/python3 "$@"; }
fi

# The prelude every edit runs with: d is the document; flip(s, i) changes
# the character at i (default: the middle, which for base64url is never the
# last one and so keeps a strict decoding valid) to another character of
# the same alphabet (digits stay digits, hex stays hex).
PV_BJ_PRELUDE='
import json, sys
def flip(s, i=None):
    i = len(s) // 2 if i is None else i
    c = s[i]
    n = "0" if c != "0" else "1"
    return s[:i] + n + s[i + 1:]
def entry(name):
    hits = [e for e in d["entries"] if e["name"] == name]
    assert len(hits) == 1, "no entry %s" % name
    return hits[0]
def sort_entries():
    d["entries"].sort(key=lambda e: e["name"].encode())
'

# bj FILE EXPR: print a value of the bundle (strings as they are, the rest
# as JSON); EXPR is python over d, e.g. 'd["entries"][0]["ct"]'.
bj() {
	python3 -c "$PV_BJ_PRELUDE
d = json.load(open(sys.argv[1], encoding='utf-8'))
v = eval(sys.argv[2])
print(v if isinstance(v, str) else json.dumps(v, sort_keys=True, ensure_ascii=False))" "$1" "$2"
}

# bedit IN OUT CODE [FILE2]: OUT = IN after python statements CODE on d
# (e = the second bundle when FILE2 is given), written back as valid JSON.
bedit() {
	python3 -c "$PV_BJ_PRELUDE
d = json.load(open(sys.argv[1], encoding='utf-8'))
e2 = json.load(open(sys.argv[4], encoding='utf-8')) if len(sys.argv) > 4 else None
exec(sys.argv[3])
open(sys.argv[2], 'w', encoding='utf-8').write(json.dumps(d, indent=1, ensure_ascii=False) + '\n')" "$@" ||
		fail "bedit: the edit failed: $3"
}

# b64u_dec STRING OUT: strict-enough base64url decoding with basenc (padding
# added here, as the format has none).
b64u_dec() {
	local s=$1 pad=""
	case $((${#s} % 4)) in
	2) pad="==" ;;
	3) pad="=" ;;
	1) fail "b64u_dec: impossible base64url length ${#s}" ;;
	esac
	printf '%s%s' "$s" "$pad" | basenc --base64url -d >"$2" || fail "b64u_dec: not base64url"
}

b64u_enc() { basenc --base64url -w0 "$1" | tr -d '='; }

# bundle_shape FILE: the document rules of bundle-format.md §2-§3 that can be
# seen without keys (member order, sizes, sorting, encodings). Prints the
# problems and fails the test if there are any.
bundle_shape() {
	python3 - "$1" <<'EOF' || fail "$1 breaks docs/bundle-format.md (above)"
import base64, json, re, sys
errs = []
def pairs(p):
    ks = [k for k, _ in p]
    if len(ks) != len(set(ks)):
        errs.append("duplicate member in %s" % ks)
    return dict(p)
raw = open(sys.argv[1], "rb").read()
d = json.loads(raw.decode("utf-8"), object_pairs_hook=pairs)
def b64u(s, what, n=None):
    if not isinstance(s, str) or not re.fullmatch(r"[A-Za-z0-9_-]*", s):
        errs.append("%s is not unpadded base64url" % what); return b""
    b = base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
    if base64.urlsafe_b64encode(b).decode().rstrip("=") != s:
        errs.append("%s: non-canonical base64url" % what)
    if n is not None and len(b) != n:
        errs.append("%s is %d bytes, want %d" % (what, len(b), n))
    return b
order = ["format", "id", "created", "not_after", "version", "context", "recipients", "entries", "check", "sealer"]
keys = list(d)
if keys != [k for k in order if k in d] or any(k not in order for k in keys):
    errs.append("members %s not in the order of §3" % keys)
purposes = [e for e in d.get("entries", []) if e.get("kind") == "private-key" and "purpose" in e]
if d.get("format") not in (1, 2): errs.append("format is not 1 or 2")
elif (d["format"] == 2) != bool(purposes): errs.append("format %d, but %d entries have a purpose (format 2 exactly when one does)" % (d["format"], len(purposes)))
b64u(d.get("id"), "id", 16)
tre = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
if not re.fullmatch(tre, d.get("created", "")): errs.append("created is not a format-1 time")
if "not_after" in d and not re.fullmatch(tre, d["not_after"]): errs.append("not_after is not a format-1 time")
if not isinstance(d.get("version"), int) or d["version"] < 1: errs.append("version")
if not isinstance(d.get("context"), dict): errs.append("context is not an object")
rs = d.get("recipients", [])
if not 1 <= len(rs) <= 16: errs.append("%d recipients" % len(rs))
for i, r in enumerate(rs):
    if set(r) - {"type", "kid", "label", "wrapped_dek"}: errs.append("recipients[%d]: unknown members" % i)
    w = b64u(r.get("wrapped_dek"), "recipients[%d].wrapped_dek" % i)
    if r.get("type") == "aes-kwp":
        if len(w) != 40: errs.append("recipients[%d]: aes-kwp wrapped_dek is %d bytes, want 40" % (i, len(w)))
        if not re.fullmatch(r"([0-9a-f]{2}){1,64}", r.get("kid", "")): errs.append("recipients[%d].kid is not hex(CKA_ID)" % i)
    elif r.get("type") == "rsa-oaep-sha256":
        if len(w) not in (256, 384, 512): errs.append("recipients[%d]: rsa wrapped_dek is %d bytes" % (i, len(w)))
        b64u(r.get("kid"), "recipients[%d].kid" % i, 32)
    else:
        errs.append("recipients[%d].type %r" % (i, r.get("type")))
names = [e.get("name", "") for e in d.get("entries", [])]
if [n.encode() for n in names] != sorted(set(n.encode() for n in names)):
    errs.append("entries not strictly sorted by name")
for i, e in enumerate(d.get("entries", [])):
    k = e.get("kind")
    if k in ("env", "file"):
        if set(e) != {"name", "kind", "nonce", "ct"}: errs.append("entries[%d]: members %s" % (i, sorted(e)))
        b64u(e.get("nonce"), "entries[%d].nonce" % i, 12)
        if len(b64u(e.get("ct"), "entries[%d].ct" % i)) < 16: errs.append("entries[%d].ct shorter than a tag" % i)
        pat = r"[A-Za-z_][A-Za-z0-9_]{0,127}" if k == "env" else r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}"
        if not re.fullmatch(pat, e.get("name", "")): errs.append("entries[%d].name" % i)
    elif k == "private-key":
        if set(e) - {"purpose"} != {"name", "kind", "alg", "public_key", "wrapped"}: errs.append("entries[%d]: members %s" % (i, sorted(e)))
        if "purpose" in e and e["purpose"] not in ("jwt", "sign", "solana", "evm"): errs.append("entries[%d].purpose %r" % (i, e["purpose"]))
        if list(e) != [m for m in ("name", "kind", "alg", "purpose", "public_key", "wrapped") if m in e]: errs.append("entries[%d]: members not in the order of §3.3" % i)
        b64u(e.get("public_key"), "entries[%d].public_key" % i)
        b64u(e.get("wrapped"), "entries[%d].wrapped" % i)
    else:
        errs.append("entries[%d].kind %r" % (i, k))
b64u(d.get("check"), "check", 28)
if "sealer" in d:  # §3.4
    sl = d["sealer"]
    if not isinstance(sl, dict) or list(sl) != ["alg", "kid", "sig"]: errs.append("sealer: members %r, want alg, kid, sig" % (sl,))
    else:
        lens = {"ecdsa-p256-sha256": (64,), "ed25519": (64,), "rsa-pss-sha256": tuple(range(256, 513))}
        if sl["alg"] not in lens: errs.append("sealer.alg %r" % sl["alg"])
        if len(sl["kid"]) != 43: errs.append("sealer.kid is not 43 characters")
        b64u(sl["kid"], "sealer.kid", 32)
        if len(b64u(sl["sig"], "sealer.sig")) not in lens.get(sl["alg"], ()): errs.append("sealer.sig length does not fit %s" % sl["alg"])
if not raw.endswith(b"\n"): errs.append("no final newline")
for m in errs:
    print("bundle_shape: " + m, file=sys.stderr)
sys.exit(1 if errs else 0)
EOF
}

# entry_sizes FILE: "NAME KIND PLAINTEXT-SIZE" per env/file entry (ct - tag).
entry_sizes() {
	python3 - "$1" <<'EOF'
import base64, json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
for e in d["entries"]:
    if e["kind"] in ("env", "file"):
        ct = base64.urlsafe_b64decode(e["ct"] + "=" * (-len(e["ct"]) % 4))
        print(e["name"], e["kind"], len(ct) - 16)
EOF
}

# ---- expected values ----

# tricky_dotenv DIR: DIR/in.env in the dotenv grammar of docs/dotenv.md, and
# DIR/exp/NAME holding the exact bytes each NAME must decode to.
tricky_dotenv() {
	local d=$1
	mkdir -p "$d/exp"
	cat >"$d/in.env" <<'EOF'
# a comment line, then a blank line

PLAIN=hello world
export EXPORTED=yes-exported
SPACED  =   trimmed value   
SQUOTE='single: "dq" $HOME \n ${X} `id` # not a comment'
DQUOTE="say \"hi\" \$HOME back\\slash tab\there \q"
QUOTE_MIX="it's \"both\" 'kinds'"
DOLLAR=$NOT_EXPANDED ${ALSO_NOT}
HASH=a#b # the comment goes
HASHQ="x # stays"
MULTI="line 1
line 2
  line 3 $ and \\ end"
SQ_MULTI='first
second'
UNICODE=héllo wörld ✓ 日本語 🚀
EMPTY=
EMPTY_Q=""
INJECT='$(touch pwned-marker) `touch pwned-marker` ;touch pwned-marker'
BACKSLASHES=C:\path\to\dir\
TRAIL_CRLF=crlf-line
EOF
	# One CR LF line ending (the CR is not part of the value).
	sed -i 's/^TRAIL_CRLF=crlf-line$/TRAIL_CRLF=crlf-line\r/' "$d/in.env"
	printf '%s' 'hello world' >"$d/exp/PLAIN"
	printf '%s' 'yes-exported' >"$d/exp/EXPORTED"
	printf '%s' 'trimmed value' >"$d/exp/SPACED"
	printf '%s' 'single: "dq" $HOME \n ${X} `id` # not a comment' >"$d/exp/SQUOTE"
	printf 'say "hi" $HOME back\\slash tab\there \\q' >"$d/exp/DQUOTE"
	printf '%s' "it's \"both\" 'kinds'" >"$d/exp/QUOTE_MIX"
	printf '%s' '$NOT_EXPANDED ${ALSO_NOT}' >"$d/exp/DOLLAR"
	printf '%s' 'a#b' >"$d/exp/HASH"
	printf '%s' 'x # stays' >"$d/exp/HASHQ"
	printf 'line 1\nline 2\n  line 3 $ and \\ end' >"$d/exp/MULTI"
	printf 'first\nsecond' >"$d/exp/SQ_MULTI"
	printf '%s' 'héllo wörld ✓ 日本語 🚀' >"$d/exp/UNICODE"
	: >"$d/exp/EMPTY"
	: >"$d/exp/EMPTY_Q"
	printf '%s' '$(touch pwned-marker) `touch pwned-marker` ;touch pwned-marker' >"$d/exp/INJECT"
	printf '%s' 'C:\path\to\dir\' >"$d/exp/BACKSLASHES"
	printf '%s' 'crlf-line' >"$d/exp/TRAIL_CRLF"
}

# exp_names DIR: the names in DIR/exp, in byte order.
exp_names() { (cd "$1/exp" && LC_ALL=C ls -1); }

# check_env_output OUT EXPDIR: source OUT (unwrap --format env) in a POSIX
# sh, in an empty directory, and compare every exported variable byte for
# byte; nothing in a value may run (pwned-marker).
check_env_output() {
	local out=$1 exp=$2 n sand
	sand=$PV_WORK/sand.$$.$RANDOM
	mkdir -p "$sand"
	for n in $(cd "$exp" && LC_ALL=C ls -1); do
		(cd "$sand" && env -i PATH=/usr/bin:/bin sh -c '. "$1" && printenv "$2"' sh "$out" "$n") >"$PV_WORK/env.got" ||
			fail "$n is not exported by the env output"
		{ cat "$exp/$n" && printf '\n'; } >"$PV_WORK/env.want"
		cmp -s "$PV_WORK/env.got" "$PV_WORK/env.want" || fail "env output: $n differs from the sealed value"
	done
	[ -z "$(ls -A "$sand")" ] || fail "sourcing the env output ran something from a value"
	rm -rf "$sand"
}

# check_json_output OUT EXPDIR: one JSON object, exactly the values of EXPDIR.
check_json_output() {
	python3 - "$1" "$2" <<'EOF' || fail "json output differs from the sealed values"
import json, os, sys
def pairs(p):
    ks = [k for k, _ in p]
    assert len(ks) == len(set(ks)), "duplicate member"
    return dict(p)
got = json.loads(open(sys.argv[1], "rb").read().decode("utf-8"), object_pairs_hook=pairs)
want = {n: open(os.path.join(sys.argv[2], n), "rb").read().decode("utf-8") for n in os.listdir(sys.argv[2])}
if got != want:
    for k in sorted(set(got) | set(want)):
        if got.get(k) != want.get(k):
            print("json output: %s differs" % k, file=sys.stderr)
    sys.exit(1)
EOF
}

# dotenv_expected EXPDIR OUT: the exact text docs/dotenv.md "Writing" gives.
dotenv_expected() {
	python3 - "$1" "$2" <<'EOF'
import os, sys
esc = {ord("\\"): b"\\\\", ord('"'): b'\\"', ord("$"): b"\\$", 10: b"\\n", 13: b"\\r", 9: b"\\t"}
out = b""
for n in sorted(os.listdir(sys.argv[1]), key=lambda s: s.encode()):
    v = open(os.path.join(sys.argv[1], n), "rb").read()
    out += n.encode() + b'="' + b"".join(esc.get(c, bytes([c])) for c in v) + b'"\n'
open(sys.argv[2], "wb").write(out)
EOF
}

# check_out_dir DIR EXPDIR: one file per value, byte for byte, mode 0400,
# nothing else in DIR.
check_out_dir() {
	local d=$1 exp=$2 n
	for n in $(cd "$exp" && LC_ALL=C ls -1); do
		[ -f "$d/$n" ] || fail "--out-dir wrote no file $n"
		cmp -s "$d/$n" "$exp/$n" || fail "--out-dir: $n differs from the sealed value"
		assert_file_mode "$d/$n" 400
	done
	assert_eq "$(cd "$d" && LC_ALL=C ls -A | tr '\n' ' ')" "$(cd "$exp" && LC_ALL=C ls -A | tr '\n' ' ')" \
		"files in the --out-dir"
}

# ---- the format's cryptography, independently (Node.js crypto) ----

have_node() { command -v node >/dev/null 2>&1; }

# bref CMD ARGS...: the reference implementation below.
#   bref open BUNDLE DEKFILE OUTDIR   verify the check, then decrypt every
#                                     env/file entry to OUTDIR/NAME and
#                                     AES-KWP-unwrap every private key to
#                                     OUTDIR/NAME.p8 (DER PKCS#8)
#   bref recheck BUNDLE DEKFILE OUT   OUT = BUNDLE with a fresh valid check
#   bref seal SPEC OUT DEKOUT         a bundle from SPEC (JSON: id?, context,
#                                     not_after?, version?, recipients: [RSA
#                                     public PEM paths], entries: [{name,
#                                     kind, file}]) and its DEK
#   bref kwp DEKFILE IN OUT           AES-KWP unwrap (RFC 5649) of IN
bref() {
	have_node || fail "bref needs node"
	[ -f "$PV_WORK/bundle-ref.js" ] || bref_write "$PV_WORK/bundle-ref.js"
	node "$PV_WORK/bundle-ref.js" "$@"
}

bref_write() {
	cat >"$1" <<'EOF'
'use strict';
// docs/bundle-format.md §4-§6, written from the spec, on Node's crypto.
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const b64u = (b) => Buffer.from(b).toString('base64url');
function unb64u(s, what) {
  if (typeof s !== 'string' || !/^[A-Za-z0-9_-]*$/.test(s)) throw new Error(what + ': not base64url');
  const b = Buffer.from(s, 'base64url');
  if (b64u(b) !== s) throw new Error(what + ': not canonical base64url');
  return b;
}
const u8 = (n) => Buffer.from([n]);
const u32 = (n) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
const u64 = (n) => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(n)); return b; };
const bytes = (x) => (Buffer.isBuffer(x) ? x : Buffer.from(x, 'utf8'));
const lp = (x) => Buffer.concat([u32(bytes(x).length), bytes(x)]);
const opt = (x) => (x === undefined ? u8(0) : Buffer.concat([u8(1), lp(x)]));
const byteOrder = (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b));
const sha256 = (b) => crypto.createHash('sha256').update(b).digest();

function ctx(d) {
  const names = Object.keys(d.context).sort(byteOrder);
  return Buffer.concat([u32(names.length), ...names.flatMap((k) => [lp(k), lp(d.context[k])])]);
}
function entryAad(d, e) {
  return Buffer.concat([Buffer.from('p11vault-bundle-v1 entry'), u8(0), unb64u(d.id, 'id'),
    ctx(d), lp(e.kind), lp(e.name)]);
}
function checkDigest(d) {
  const p = [Buffer.from('p11vault-bundle-v1 check'), u8(0), u32(d.format), unb64u(d.id, 'id'),
    lp(d.created), opt(d.not_after), u64(d.version), ctx(d), u32(d.recipients.length)];
  d.recipients.forEach((r, i) => p.push(lp(r.type), lp(r.kid), opt(r.label),
    lp(unb64u(r.wrapped_dek, `recipients[${i}].wrapped_dek`))));
  p.push(u32(d.entries.length));
  // format 2 adds opt(purpose) after opt(alg) in every entry line
  d.entries.forEach((e, i) => p.push(lp(e.name), lp(e.kind), opt(e.alg),
    ...(d.format === 2 ? [opt(e.purpose)] : []),
    opt(e.public_key === undefined ? undefined : unb64u(e.public_key, `entries[${i}].public_key`)),
    opt(e.nonce === undefined ? undefined : unb64u(e.nonce, `entries[${i}].nonce`)),
    sha256(unb64u(e.ct !== undefined ? e.ct : e.wrapped, `entries[${i}].ct/wrapped`))));
  return sha256(Buffer.concat(p));
}
function gcmSeal(key, iv, aad, pt) {
  const c = crypto.createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(aad);
  return Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
}
function gcmOpen(key, iv, aad, ctTag, what) {
  if (ctTag.length < 16) throw new Error(what + ': shorter than a tag');
  const dc = crypto.createDecipheriv('aes-256-gcm', key, iv);
  dc.setAAD(aad);
  dc.setAuthTag(ctTag.subarray(ctTag.length - 16));
  try {
    return Buffer.concat([dc.update(ctTag.subarray(0, ctTag.length - 16)), dc.final()]);
  } catch (err) {
    throw new Error(what + ': AES-GCM authentication failed');
  }
}
const KWP_IV = Buffer.from('a65959a6', 'hex');
function kwpUnwrap(key, data) {
  const dc = crypto.createDecipheriv('id-aes256-wrap-pad', key, KWP_IV);
  return Buffer.concat([dc.update(data), dc.final()]);
}
function makeCheck(d, dek) {
  const nonce = crypto.randomBytes(12);
  return b64u(Buffer.concat([nonce, gcmSeal(dek, nonce, checkDigest(d), Buffer.alloc(0))]));
}
function verifyCheck(d, dek) {
  const c = unb64u(d.check, 'check');
  if (c.length !== 28) throw new Error('check: not 28 bytes');
  const pt = gcmOpen(dek, c.subarray(0, 12), checkDigest(d), c.subarray(12), 'check');
  if (pt.length !== 0) throw new Error('check: not empty');
}
const readDek = (f) => {
  const k = fs.readFileSync(f);
  if (k.length !== 32) throw new Error(`DEK is ${k.length} bytes, want 32`);
  return k;
};
const load = (f) => JSON.parse(fs.readFileSync(f, 'utf8'));
const save = (f, d) => fs.writeFileSync(f, JSON.stringify(d, null, 1) + '\n');

const [cmd, ...a] = process.argv.slice(2);
try {
  if (cmd === 'open') {
    const d = load(a[0]); const dek = readDek(a[1]);
    verifyCheck(d, dek);
    d.entries.forEach((e, i) => {
      if (e.kind === 'private-key') {
        fs.writeFileSync(path.join(a[2], e.name + '.p8'), kwpUnwrap(dek, unb64u(e.wrapped, 'wrapped')));
      } else {
        const nonce = unb64u(e.nonce, `entries[${i}].nonce`);
        fs.writeFileSync(path.join(a[2], e.name),
          gcmOpen(dek, nonce, entryAad(d, e), unb64u(e.ct, `entries[${i}].ct`), `entries[${i}] (${e.name})`));
      }
    });
  } else if (cmd === 'recheck') {
    const d = load(a[0]); const dek = readDek(a[1]);
    d.check = makeCheck(d, dek);
    save(a[2], d);
  } else if (cmd === 'seal') {
    const s = load(a[0]);
    const dek = crypto.randomBytes(32);
    const d = { format: 1, id: s.id || b64u(crypto.randomBytes(16)), created: s.created || new Date().toISOString().replace(/\.\d+Z$/, 'Z') };
    if (s.not_after) d.not_after = s.not_after;
    d.version = s.version || 1;
    d.context = s.context || {};
    d.recipients = s.recipients.map((pem) => {
      const pub = crypto.createPublicKey(fs.readFileSync(pem));
      const wrapped = crypto.publicEncrypt({ key: pub, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, dek);
      return { type: 'rsa-oaep-sha256', kid: b64u(sha256(pub.export({ type: 'spki', format: 'der' }))), label: path.basename(pem), wrapped_dek: b64u(wrapped) };
    });
    d.entries = s.entries.slice().sort((x, y) => byteOrder(x.name, y.name)).map((e) => {
      const nonce = crypto.randomBytes(12);
      const o = { name: e.name, kind: e.kind, nonce: b64u(nonce) };
      o.ct = b64u(gcmSeal(dek, nonce, entryAad(d, o), fs.readFileSync(e.file)));
      return o;
    });
    d.check = makeCheck(d, dek);
    save(a[1], d);
    fs.writeFileSync(a[2], dek, { mode: 0o600 });
  } else if (cmd === 'kwp') {
    fs.writeFileSync(a[2], kwpUnwrap(readDek(a[0]), fs.readFileSync(a[1])));
  } else {
    throw new Error('unknown command ' + cmd);
  }
} catch (err) {
  process.stderr.write('bundle-ref: ' + err.message + '\n');
  process.exit(1);
}
EOF
}

# soft_rsa_dek BUNDLE PRIVPEM OUT: the DEK of BUNDLE's rsa-oaep-sha256
# recipient for PRIVPEM, recovered with plain OpenSSL (the break-glass path
# of bundle-format.md §3.2). The recipient is found by kid =
# b64u(SHA-256(DER SPKI)), computed here with OpenSSL.
soft_rsa_dek() {
	local kid wrapped
	openssl pkey -in "$2" -pubout -outform DER -out "$PV_WORK/soft.spki" 2>/dev/null || fail "openssl: no public key in $2"
	kid=$(openssl dgst -sha256 -binary "$PV_WORK/soft.spki" | b64u_enc /dev/stdin)
	wrapped=$(bj "$1" "[r['wrapped_dek'] for r in d['recipients'] if r['type'] == 'rsa-oaep-sha256' and r['kid'] == '$kid'][0]") ||
		fail "$1 has no rsa-oaep-sha256 recipient with kid $kid (b64u SHA-256 of the SPKI)"
	b64u_dec "$wrapped" "$PV_WORK/soft.wrapped"
	openssl pkeyutl -decrypt -inkey "$2" -in "$PV_WORK/soft.wrapped" -out "$3" \
		-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 \
		2>"$PV_WORK/soft.err" || fail "OpenSSL cannot RSA-OAEP-SHA256-decrypt the wrapped_dek"
	assert_size "$3" 32 "the DEK recovered with OpenSSL"
}

# assert_verify_ok OUT N V: `bundle verify` said, as docs/cli.md has it,
# "bundle: ok (N entries, K private key(s) proved, version V, recipient LABEL)".
assert_verify_ok() {
	grep -qE "^bundle: ok \($2 entries, [0-9]+ private keys? proved, version $3, recipient [^)]+\)\$" "$1" && return 0
	fail "bundle verify printed '$(head -c 300 "$1")', want 'bundle: ok ($2 entries, K private keys proved, version $3, recipient LABEL)'"
}
