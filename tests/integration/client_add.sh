#!/bin/bash
# `vaultctl client add`: a new vaultd bearer token printed once on stdout,
# and on stderr the vaultd.json client entry holding only its SHA-256. The
# hash must be the token's (as openssl computes it), the token must never
# appear on stderr, and every run makes a different token.
set -eu
. "$top_srcdir/tests/lib/common.sh"
need_cmd openssl
need_cmd python3

b64url_sha256() { printf '%s' "$1" | openssl dgst -sha256 -binary | basenc --base64url | tr -d '=\n'; }
entry_field() { # entry_field STDERR-FILE KEY: a field of the JSON entry on stderr
	python3 - "$1" "$2" <<'PY'
import json, sys
lines = [l for l in open(sys.argv[1]) if l.startswith("{")]
assert len(lines) == 1, lines
e = json.loads(lines[0])
assert set(e) <= {"name", "auth", "role"}, e
assert set(e["auth"]) == {"token_sha256"}, e
print(e["auth"]["token_sha256"] if sys.argv[2] == "token_sha256" else e.get(sys.argv[2], ""))
PY
}

say "client add prints a pvt_ token whose SHA-256 is the entry's token_sha256"
run_expect 0 vc client add wallet-svc
out1=$RUN_OUT err1=$RUN_ERR
assert_eq "$(wc -l <"$out1")" 1 "stdout lines"
tok1=$(cat "$out1")
[[ $tok1 =~ ^pvt_[A-Za-z0-9_-]{43}$ ]] || fail "token has the wrong shape: ${#tok1} characters"
assert_eq "$(entry_field "$err1" token_sha256)" "$(b64url_sha256 "$tok1")" "token_sha256"
assert_eq "$(entry_field "$err1" name)" "wallet-svc" "name"
assert_eq "$(entry_field "$err1" role)" "" "role of a plain client"
assert_not_contains "$err1" "$tok1" "the token appears on stderr"
assert_not_contains "$err1" "${tok1#pvt_}" "the token's random part appears on stderr"

say "--role admin; a second run gives another token"
run_expect 0 vc client add --role admin ops
tok2=$(cat "$RUN_OUT")
assert_eq "$(entry_field "$RUN_ERR" role)" "admin" "role"
assert_eq "$(entry_field "$RUN_ERR" token_sha256)" "$(b64url_sha256 "$tok2")" "token_sha256"
assert_not_contains "$RUN_ERR" "$tok2" "the token appears on stderr"
[ "$tok1" != "$tok2" ] || fail "two runs gave the same token"

say "bad names and roles are usage errors, with nothing on stdout"
for args in "client add" "client add 'bad name'" "client add a b" "client add --role root a" \
	"client add $(printf 'x%.0s' $(seq 65))"; do
	eval "run_expect 2 vc $args"
	assert_size "$RUN_OUT" 0
	assert_one_line_error "$RUN_ERR"
done
echo "client_add: ok"
