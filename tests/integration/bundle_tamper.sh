#!/bin/bash
# Secrets bundles, integrity: from one good bundle, every tampering of
# docs/bundle-format.md §7 must give exit 6 from unwrap, exec and bundle
# verify, a reason on stderr naming what failed, nothing on stdout, no
# --out file, an existing --out target byte-identical, no temp file left,
# and exec must not run the command. Then, with the data key known (an
# OpenSSL-made RSA recipient) the check is recomputed by independent code
# (Node's crypto) so that the entry AAD alone (§5) must catch a swapped,
# renamed, re-kinded or re-bundled ciphertext.
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/bundle.sh"
need_cmd python3
need_cmd openssl
need_cmd basenc
W=$PV_WORK
TGT=$W/tgt

run_expect 0 vc key create kek --alg aes256 --purpose wrap
run_expect 0 vc key create kek2 --alg aes256 --purpose wrap
run_expect 0 vc key create bg --alg rsa2048 --purpose decrypt
run_expect 0 vc key show bg --format pem
cp "$RUN_OUT" "$W/bg.pem"

cat >"$W/in.env" <<'EOF'
ALPHA=alpha-value
BRAVO=bravo-value
CHARLIE=charlie-value
DELTA=delta-value
EOF
cat >"$W/other.env" <<'EOF'
BRAVO=other-bravo
ECHO=other-echo
EOF
say "the good bundles, and the controls: they open, and so does a re-serialized copy"
run_expect 0 vc bundle seal --recipient kek --recipient bg --context env=dev --context service=api \
	--in "$W/in.env" --out "$W/good.b"
G=$W/good.b
run_expect 0 vc bundle seal --recipient kek --context env=dev --context service=api \
	--in "$W/other.env" --out "$W/other.b"
run_expect 0 vc bundle seal --recipient kek2 --context env=dev --context service=api \
	--in "$W/other.env" --out "$W/other-kek2.b"
bundle_shape "$G"
run_expect 0 vc unwrap "$G" --format json
run_expect 0 vc unwrap "$G" --format json --key bg
# The edits below go through bedit (python's json); an edit that changes
# nothing must leave a bundle that opens, so each refusal is the edit's.
bedit "$G" "$W/same.b" 'pass'
run_expect 0 vc unwrap "$W/same.b" --format json
run_expect 0 vc bundle verify "$W/same.b"
run_expect 0 vc bundle verify "$W/same.b" --key bg
run_expect 0 vc unwrap "$G" --format json --min-version 1 --expect-context env=dev --expect-context service=api

LABEL="" PAT=""
check_refusal() {
	[ ! -s "$RUN_OUT" ] || fail "$LABEL: something was printed on stdout"
	tail -n 1 "$RUN_ERR" | grep -q '^vaultctl: ' || fail "$LABEL: the last stderr line is not 'vaultctl: ...'"
	# Without the generic suffix of exit 6 (pv_strerror: "integrity check
	# failed"), which would match any pattern about the check.
	sed 's/ *(integrity check failed)$//' "$RUN_ERR" | grep -Eiq -- "$PAT" ||
		fail "$LABEL: the error does not say what failed (want /$PAT/): $(tail -n 1 "$RUN_ERR")"
}

# tampered LABEL FILE PATTERN [READING OPTIONS...]: the whole refusal contract.
tampered() {
	LABEL=$1 PAT=$3
	local f=$2
	shift 3
	say "tampered: $LABEL"
	rm -rf "$TGT"
	mkdir -m 700 "$TGT"
	printf 'previous content, must survive\n' >"$TGT/existing"
	cp "$TGT/existing" "$W/existing.orig"
	run_expect 6 vc unwrap "$f" --out "$TGT/existing" "$@"
	check_refusal
	assert_same_file "$TGT/existing" "$W/existing.orig" "$LABEL: the existing --out target changed"
	run_expect 6 vc unwrap "$f" --format json --out "$TGT/new" "$@"
	check_refusal
	[ ! -e "$TGT/new" ] || fail "$LABEL: an --out file was created"
	mkdir -m 700 "$TGT/od"
	run_expect 6 vc unwrap "$f" --out-dir "$TGT/od" "$@"
	check_refusal
	[ -z "$(ls -A "$TGT/od")" ] || fail "$LABEL: --out-dir got files"
	rmdir "$TGT/od"
	assert_eq "$(ls -A "$TGT")" existing "$LABEL: files left beside the --out target"
	run_expect 6 vc bundle verify "$f" "$@"
	check_refusal
	run_expect 6 vc exec "$f" "$@" -- sh -c 'touch "$1"' sh "$TGT/ran"
	check_refusal
	[ ! -e "$TGT/ran" ] || fail "$LABEL: exec ran the command"
}

CHECK='check'
MALFORMED='json|parse|syntax|truncat|malformed|empty|unexpected|invalid|end of'

# ---- one byte (one character) of every field ----
bedit "$G" "$W/t.b" 'd["id"] = flip(d["id"])'
tampered "id" "$W/t.b" "$CHECK"
bedit "$G" "$W/t.b" 'd["created"] = flip(d["created"], 18)'
tampered "created (still a valid time)" "$W/t.b" "$CHECK"
bedit "$G" "$W/t.b" 'd["created"] = flip(d["created"], 10)'
tampered "created (no longer a time)" "$W/t.b" "created"
bedit "$G" "$W/t.b" 'd["version"] = 3'
tampered "version" "$W/t.b" "$CHECK"
bedit "$G" "$W/t.b" 'd["context"]["env"] = flip(d["context"]["env"])'
tampered "context value" "$W/t.b" "$CHECK"
bedit "$G" "$W/t.b" 'd["context"] = {("enw" if k == "env" else k): v for k, v in d["context"].items()}'
tampered "context name" "$W/t.b" "$CHECK"
bedit "$G" "$W/t.b" 'd["not_after"] = "2099-01-01T00:00:00Z"; d = {k: d[k] for k in ["format", "id", "created", "not_after", "version", "context", "recipients", "entries", "check"]}'
tampered "not_after added" "$W/t.b" "$CHECK"
bedit "$G" "$W/t.b" 'd["recipients"][0]["kid"] = flip(d["recipients"][0]["kid"])'
# Another recipient (bg) is on the token: it opens the DEK, the check fails.
tampered "aes-kwp recipient kid" "$W/t.b" "$CHECK"
tampered "aes-kwp recipient kid, --key kek" "$W/t.b" 'recipient|kid|not sealed|no key' --key kek
bedit "$G" "$W/t.b" 'd["recipients"][1]["kid"] = flip(d["recipients"][1]["kid"])'
tampered "rsa recipient kid" "$W/t.b" "$CHECK"
tampered "rsa recipient kid, --key bg" "$W/t.b" 'recipient|kid|not sealed|no key' --key bg
if [ "$(bj "$G" '"label" in d["recipients"][0]')" = True ]; then
	bedit "$G" "$W/t.b" 'd["recipients"][0]["label"] = flip(d["recipients"][0]["label"])'
	tampered "recipient label" "$W/t.b" "$CHECK"
fi
bedit "$G" "$W/t.b" 'd["recipients"][0]["wrapped_dek"] = flip(d["recipients"][0]["wrapped_dek"])'
tampered "aes-kwp wrapped_dek" "$W/t.b" 'wrapped_dek|unwrap|recipient|check'
tampered "aes-kwp wrapped_dek, --key kek" "$W/t.b" 'wrapped_dek|unwrap|recipient' --key kek
bedit "$G" "$W/t.b" 'd["recipients"][1]["wrapped_dek"] = flip(d["recipients"][1]["wrapped_dek"])'
tampered "rsa wrapped_dek, --key bg" "$W/t.b" 'wrapped_dek|unwrap|recipient|decrypt|oaep' --key bg
bedit "$G" "$W/t.b" 'entry("ALPHA")["nonce"] = flip(entry("ALPHA")["nonce"])'
tampered "entry nonce" "$W/t.b" "$CHECK"
bedit "$G" "$W/t.b" 'entry("BRAVO")["ct"] = flip(entry("BRAVO")["ct"])'
tampered "entry ct" "$W/t.b" "$CHECK"
tampered "entry ct, --key bg" "$W/t.b" "$CHECK" --key bg
bedit "$G" "$W/t.b" 'entry("BRAVO")["kind"] = "file"'
tampered "entry kind" "$W/t.b" "$CHECK"
bedit "$G" "$W/t.b" 'd["check"] = flip(d["check"])'
tampered "check" "$W/t.b" "$CHECK"
LABEL="check, bundle from stdin" PAT=$CHECK
run_expect 6 vc unwrap - --format json <"$W/t.b"
check_refusal
run_expect 6 vc exec - -- sh -c 'touch "$1"' sh "$W/ran-stdin" <"$W/t.b"
check_refusal
[ ! -e "$W/ran-stdin" ] || fail "$LABEL: exec ran the command"
bedit "$G" "$W/t.b" 'd["format"] = 2'
tampered "format 2" "$W/t.b" 'format'
bedit "$G" "$W/t.b" 'd["format"] = "1"'
tampered "format as a string" "$W/t.b" 'format'

# ---- entries and recipients moved, dropped, added ----
bedit "$G" "$W/t.b" 'a, b = entry("ALPHA"), entry("BRAVO"); a["ct"], b["ct"] = b["ct"], a["ct"]'
tampered "two ciphertexts swapped" "$W/t.b" "$CHECK"
bedit "$G" "$W/t.b" 'a, b = entry("ALPHA"), entry("BRAVO"); a["ct"], b["ct"], a["nonce"], b["nonce"] = b["ct"], a["ct"], b["nonce"], a["nonce"]'
tampered "two ciphertexts and nonces swapped" "$W/t.b" "$CHECK"
bedit "$G" "$W/t.b" 'entry("BRAVO")["name"] = "BRAVOX"'
tampered "entry renamed (order kept)" "$W/t.b" "$CHECK"
bedit "$W/other.b" "$W/t.b" 'd["entries"] = [x for x in d["entries"] if x["name"] != "BRAVO"] + [x for x in e2["entries"] if x["name"] == "BRAVO"]; sort_entries()' "$G"
tampered "entry moved into another bundle (same KEK)" "$W/t.b" "$CHECK"
bedit "$G" "$W/t.b" 'd["entries"] = [x for x in d["entries"] if x["name"] != "CHARLIE"]'
tampered "entry dropped" "$W/t.b" "$CHECK"
bedit "$G" "$W/t.b" 'd["entries"] = d["entries"][:-1]'
tampered "last entry dropped" "$W/t.b" "$CHECK"
bedit "$G" "$W/t.b" 'd["entries"] += [x for x in e2["entries"] if x["name"] == "ECHO"]; sort_entries()' "$W/other.b"
tampered "entry added from another bundle" "$W/t.b" "$CHECK"
bedit "$G" "$W/t.b" 'd["entries"] = []'
tampered "every entry dropped" "$W/t.b" "$CHECK"
bedit "$G" "$W/t.b" 'd["recipients"] = d["recipients"][:1]'
tampered "recipient dropped" "$W/t.b" "$CHECK"
bedit "$G" "$W/t.b" 'd["recipients"] = d["recipients"][1:]'
tampered "recipient dropped (rsa left)" "$W/t.b" "$CHECK"
bedit "$G" "$W/t.b" 'd["recipients"] += e2["recipients"]' "$W/other-kek2.b"
tampered "recipient added from another bundle" "$W/t.b" "$CHECK"
tampered "recipient added from another bundle, --key kek2" "$W/t.b" "$CHECK" --key kek2
bedit "$G" "$W/t.b" 'd["recipients"].reverse()'
tampered "recipients reordered" "$W/t.b" "$CHECK"

# ---- not a bundle, or not format 1 ----
n=$(stat -c %s "$G")
for len in 0 1 10 $((n / 2)) $((n - 40)) $((n - 2)); do
	head -c "$len" "$G" >"$W/t.b"
	tampered "truncated to $len of $n bytes" "$W/t.b" "$MALFORMED"
done
printf 'hello, not json\n' >"$W/t.b"
tampered "not JSON" "$W/t.b" "$MALFORMED"
head -c 300 /dev/urandom >"$W/t.b"
tampered "random bytes" "$W/t.b" "$MALFORMED|utf-8"
printf '[1, 2]\n' >"$W/t.b"
tampered "an array" "$W/t.b" 'object'
printf 'null\n' >"$W/t.b"
tampered "null" "$W/t.b" 'object'
{ cat "$G"; cat "$G"; } >"$W/t.b"
tampered "two documents" "$W/t.b" "$MALFORMED|trailing|after"
cp "$G" "$W/t.b"
head -c $((17 * 1024 * 1024)) /dev/zero | tr '\0' ' ' >>"$W/t.b"
tampered "over 16 MiB (valid JSON, padded with blanks)" "$W/t.b" '16 MiB|too large|size|oversized|limit|big'
bedit "$G" "$W/t.b" 'd["entries"].insert(0, dict(d["entries"][0]))'
tampered "duplicate entry name" "$W/t.b" 'entries|duplicate|sort|order'
bedit "$G" "$W/t.b" 'd["entries"].reverse()'
tampered "entries out of order" "$W/t.b" 'entries|sort|order'
bedit "$G" "$W/t.b" 'd["extra"] = 1'
tampered "unknown top-level member" "$W/t.b" 'extra|unknown'
bedit "$G" "$W/t.b" 'd["entries"][0]["comment"] = "x"'
tampered "unknown entry member" "$W/t.b" 'comment|unknown|entries'
bedit "$G" "$W/t.b" 'del d["check"]'
tampered "check missing" "$W/t.b" 'check|missing'
bedit "$G" "$W/t.b" 'entry("ALPHA")["name"] = "1ALPHA"; sort_entries()'
tampered "invalid env name" "$W/t.b" 'entries|name'
bedit "$G" "$W/t.b" 'd["id"] = d["id"] + "AA"'
tampered "id of 17 bytes" "$W/t.b" 'id'
bedit "$G" "$W/t.b" 'd["check"] = d["check"] + "="'
tampered "padded base64url" "$W/t.b" 'check|base64'
# Duplicate JSON members: text edits of a re-serialized copy (json.dumps
# cannot write them). The first value is the genuine one, so a reader that
# keeps either copy of "version" would still open the bundle.
python3 - "$W/same.b" "$W/t.b" <<'EOF'
import sys
t = open(sys.argv[1]).read()
assert t.count('"version": 1,') == 1
open(sys.argv[2], "w").write(t.replace('"version": 1,', '"version": 1,\n "version": 1,', 1))
EOF
tampered "duplicate JSON member (version, same value)" "$W/t.b" 'duplicate|version'
python3 - "$W/same.b" "$W/t.b" <<'EOF'
import sys
t = open(sys.argv[1]).read()
i = t.index('"name": "ALPHA",')
open(sys.argv[2], "w").write(t[:i] + '"name": "ALPHA",\n   ' + t[i:])
EOF
tampered "duplicate JSON member in an entry" "$W/t.b" 'duplicate|name|entries'

# ---- reading options ----
tampered "--min-version higher than the version" "$G" 'version' --min-version 2
tampered "--expect-context env=prod on env=dev" "$G" 'context|env' --expect-context env=prod
tampered "--expect-context for a missing name" "$G" 'context|region' --expect-context region=eu
tampered "--key naming a key that is not a recipient" "$G" 'recipient|kek2|not sealed|no key' --key kek2

say "wrong KEK: sealed for an aes256 key this token no longer has"
run_expect 0 vc key create gone --alg aes256 --purpose wrap
run_expect 0 vc bundle seal --recipient gone --in "$W/in.env" --out "$W/gone.b"
run_expect 0 vc unwrap "$W/gone.b" --format json
run_expect 0 vc key rotate gone
run_expect 0 vc key retire gone --version 1
run_expect 0 vc key destroy gone --version 1 --yes
tampered "sealed for a KEK not on this token" "$W/gone.b" 'recipient|not sealed|no key|token'
tampered "sealed for another KEK" "$W/other-kek2.b" 'recipient|kek|not sealed' --key kek

say "expiry: sealed with not_after a few seconds ahead, read before and after"
# This exercises the real clock path (§7 step 2): the bundle is genuine, only
# time passes. (Editing not_after into the past would fail on the check too.)
na=$(($(date -u +%s) + 20))
run_expect 0 vc bundle seal --recipient kek --not-after "$(date -u -d "@$na" +%Y-%m-%dT%H:%M:%SZ)" \
	--in "$W/in.env" --out "$W/exp.b"
if [ "$(date -u +%s)" -lt $((na - 2)) ]; then
	run_expect 0 vc unwrap "$W/exp.b" --format json
else
	echo "(the machine was too slow to read before not_after; only the refusal is checked)"
fi
while [ "$(date -u +%s)" -le "$na" ]; do sleep 1; done
tampered "expired (not_after passed)" "$W/exp.b" 'not_after|expire'
bedit "$G" "$W/t.b" 'd["not_after"] = "2001-01-01T00:00:00Z"; d = {k: d[k] for k in ["format", "id", "created", "not_after", "version", "context", "recipients", "entries", "check"]}'
tampered "not_after edited into the past" "$W/t.b" 'not_after|expire|check'

if have_node; then
	say "the entry AAD alone (check recomputed by Node with the known DEK)"
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$W/soft.key" 2>/dev/null || fail "openssl genpkey RSA"
	openssl pkey -in "$W/soft.key" -pubout -out "$W/soft.pem" 2>/dev/null
	run_expect 0 vc bundle seal --recipient bg --recipient "$W/soft.pem" --context env=dev \
		--in "$W/in.env" --out "$W/f.b"
	soft_rsa_dek "$W/f.b" "$W/soft.key" "$W/f.dek"
	forge() { # OUT CODE: edit then recompute the check with the DEK
		bedit "$W/f.b" "$W/forge.tmp" "$2"
		bref recheck "$W/forge.tmp" "$W/f.dek" "$1" || fail "bref recheck failed"
	}
	forge "$W/t.b" 'pass'
	run_expect 0 vc unwrap "$W/t.b" --format json --key bg
	run_expect 0 vc bundle verify "$W/t.b" --key bg
	forge "$W/t.b" 'a, b = entry("ALPHA"), entry("BRAVO"); a["ct"], b["ct"], a["nonce"], b["nonce"] = b["ct"], a["ct"], b["nonce"], a["nonce"]'
	tampered "AAD: two entries swapped, check valid" "$W/t.b" 'ALPHA|BRAVO|entries|decrypt|authentic|integrity' --key bg
	forge "$W/t.b" 'entry("BRAVO")["name"] = "BRAVOX"'
	tampered "AAD: entry renamed, check valid" "$W/t.b" 'BRAVO|entries|decrypt|authentic|integrity' --key bg
	forge "$W/t.b" 'entry("ALPHA")["kind"] = "file"'
	tampered "AAD: entry re-kinded, check valid" "$W/t.b" 'ALPHA|entries|decrypt|authentic|integrity' --key bg
	forge "$W/t.b" 'd["id"] = flip(d["id"])'
	tampered "AAD: another bundle id, check valid" "$W/t.b" 'entries|decrypt|authentic|integrity' --key bg
	forge "$W/t.b" 'd["context"]["env"] = "prod"'
	tampered "AAD: context changed to env=prod, check valid" "$W/t.b" 'entries|decrypt|authentic|integrity' --key bg --expect-context env=prod
	# A check that covers the wrong thing: only a value-preserving edit.
	forge "$W/t.b" 'd["version"] = 7'
	run_expect 0 vc unwrap "$W/t.b" --format json --key bg --min-version 7
else
	echo "SKIP (part): node is not installed; the AAD was not tested on its own"
fi

echo "bundle_tamper: ok"
