#!/bin/bash
# Bad input gets the exit code docs/cli.md assigns, a one-line error, never a
# PIN in the output, and leaves no half-made key behind.
set -eu
. "$top_srcdir/tests/lib/common.sh"
need_cmd python3
W=$PV_WORK
printf 'bad input message\n' >"$W/msg"

mkkey ok-p256 p256
mkkey ok-ed ed25519
mkkey ok-aes aes256
mkkey ok-rsa rsa2048

# Snapshot of the token: vaultctl's view and pkcs11-tool's (public objects,
# and all objects after a login). Every failure below must leave all equal.
snapshot() {
	list_keys
	cp "$KEYS_ROWS" "$W/$1.keys"
	if command -v pkcs11-tool >/dev/null; then
		p11_objects "$W/$1.pub"
		p11_objects "$W/$1.all" --login
	else
		: >"$W/$1.pub" && : >"$W/$1.all"
	fi
}
snapshot before
unchanged() {
	snapshot now
	for f in keys pub all; do
		cmp -s "$W/before.$f" "$W/now.$f" || {
			diff "$W/before.$f" "$W/now.$f" >&2 || true
			fail "token changed after: $1"
		}
	done
}

say "wrong PIN: 4, one line, no key made"
printf 'PVPIN-wrong-%s' "$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')" >"$W/wrong.pin"
run_expect 4 vc --pin-source "file:$W/wrong.pin" key create half-wrongpin --alg p256 --purpose sign
assert_one_line_error "$RUN_ERR"
assert_not_contains "$RUN_ERR" "$(cat "$W/wrong.pin")" "the wrong PIN is echoed on stderr"
assert_not_contains "$RUN_OUT" "$(cat "$W/wrong.pin")" "the wrong PIN is echoed on stdout"
unchanged "wrong PIN"
run_expect 4 vc --pin-source "file:$W/wrong.pin" sign ok-p256 --in "$W/msg"
assert_one_line_error "$RUN_ERR"
assert_not_contains "$RUN_ERR" "$(cat "$W/wrong.pin")"

say "PIN source unreadable: 4"
run_expect 4 vc --pin-source "file:$W/no-such-pin-file" key create half-nopinfile --alg p256 --purpose sign
assert_one_line_error "$RUN_ERR"
run_expect 4 env -u PV_UNSET_PIN "$VAULTCTL" --pin-source env:PV_UNSET_PIN key create half-noenv --alg p256 --purpose sign
assert_one_line_error "$RUN_ERR"
unchanged "unreadable PIN source"

say "a PIN given where a PIN source belongs is refused and not echoed"
run_expect "2|4" vc --pin-source "literal-pin-not-a-source-4711" key create half-literal --alg p256 --purpose sign
assert_one_line_error "$RUN_ERR"
assert_not_contains "$RUN_ERR" "literal-pin-not-a-source-4711" "a PIN-like --pin-source value is echoed"
run_expect "2|4" vc --token "pkcs11:token=$PV_TOKEN_LABEL?pin-value=pin-in-uri-4711" key create half-pinvalue --alg p256 --purpose sign
assert_not_contains "$RUN_ERR" "pin-in-uri-4711" "pin-value from the URI is echoed"
unchanged "literal PIN"

say "missing module: 3"
run_expect 3 vc --module /nonexistent/libnope.so token info
assert_one_line_error "$RUN_ERR"
run_expect 3 env P11VAULT_MODULE=/nonexistent/libnope.so "$VAULTCTL" key create half-nomod --alg p256 --purpose sign
assert_one_line_error "$RUN_ERR"
run_expect 3 vc --module /etc/passwd token info

say "unknown token label: 3"
run_expect 3 vc --token pkcs11:token=no-such-token token info
assert_one_line_error "$RUN_ERR"
run_expect 3 vc --token pkcs11:token=no-such-token key create half-notoken --alg p256 --purpose sign
unchanged "unknown token"

say "unknown key: 5 (and the JSON error object)"
run_expect 5 vc sign nope --in "$W/msg"
assert_one_line_error "$RUN_ERR"
run_expect 5 vc key show nope
run_expect 5 vc --json key show nope
json_valid "$RUN_OUT"
assert_eq "$(json_get "$RUN_OUT" error code)" not_found "JSON error code"
[ -n "$(json_get "$RUN_OUT" error message)" ] || fail "JSON error has no message"
run_expect 5 vc key show ok-p256 --version 7 --format pem
run_expect 5 vc key adopt 'pkcs11:object=no-such-object;type=private' --name half-adopt --purpose sign
unchanged "unknown key"

say "bad names and algorithms: 2, no key"
for name in -leading-dash _leading-underscore "has space" "dot.name" "slash/name" "" \
	"$(printf 'a%.0s' $(seq 1 65))"; do
	# "--" so that a leading dash is a name, not an option.
	run_expect 2 vc key create --alg p256 --purpose sign -- "$name"
	assert_one_line_error "$RUN_ERR"
done
run_expect 0 vc key create "$(printf 'b%.0s' $(seq 1 64))" --alg p256 --purpose sign # 64 is allowed
run_expect 0 vc key create 9-digit_Start --alg p256 --purpose sign                 # so is a leading digit
run_expect 2 vc key create half-alg --alg p521 --purpose sign
run_expect 2 vc key create half-alg --alg RSA2048 --purpose sign
run_expect 2 vc key create half-alg --purpose sign
assert_one_line_error "$RUN_ERR"
run_expect 2 vc key create half-alg --alg p256
assert_one_line_error "$RUN_ERR"
assert_contains "$RUN_ERR" "--purpose is required"
run_expect 2 vc key create half-alg --alg p256 --purpose solana
assert_contains "$RUN_ERR" "jwt, sign, derive"
run_expect 5 vc key destroy "$(printf 'b%.0s' $(seq 1 64))" --version 2 --yes
run_expect 0 vc key rotate "$(printf 'b%.0s' $(seq 1 64))"
run_expect 0 vc key retire "$(printf 'b%.0s' $(seq 1 64))" --version 1
run_expect 0 vc key destroy "$(printf 'b%.0s' $(seq 1 64))" --version 1 --yes
snapshot before # the two valid keys above are now part of the baseline

say "wrong purpose for the operation: 8 (an aes256 key wraps; it never signs)"
run_expect 8 vc sign ok-aes --in "$W/msg"
assert_one_line_error "$RUN_ERR"
assert_contains "$RUN_ERR" "key 'ok-aes' has purpose wrap; this needs a key of purpose sign"
run_expect 8 vc verify ok-aes --in "$W/msg" --sig "$W/msg"
run_expect 8 vc --json sign ok-aes --in "$W/msg"
assert_eq "$(json_get "$RUN_OUT" error code)" wrong_purpose "JSON error code of a wrong purpose"
unchanged "wrong purpose"

say "wrong algorithm for the operation: 2"
run_expect 2 vc sign ok-ed --in "$W/msg" --format der
assert_one_line_error "$RUN_ERR"
run_expect 2 vc sign ok-ed --in "$W/msg" --digest sha256
run_expect 2 vc sign ok-ed --in "$W/msg" --padding pss
run_expect 2 vc sign ok-p256 --in "$W/msg" --padding pss
run_expect 2 vc sign ok-rsa --in "$W/msg" --format der
run_expect 2 vc sign ok-p256 --in "$W/msg" --digest md5
run_expect 2 vc sign ok-p256 --in "$W/msg" --format pem
run_expect 2 vc key show ok-p256 --format xml
unchanged "wrong algorithm"

say "--digest none: the input must be 32, 48 or 64 bytes"
for n in 0 20 31 33 47 65; do
	head -c "$n" /dev/urandom >"$W/dig.$n"
	run_expect 2 vc sign ok-p256 --digest none --in "$W/dig.$n"
	assert_one_line_error "$RUN_ERR"
done
for n in 32 48 64; do
	head -c "$n" /dev/urandom >"$W/dig.$n"
	run_expect 0 vc sign ok-p256 --digest none --in "$W/dig.$n" --out "$W/dig.$n.sig"
done

say "oversized input: more than 1 MiB is refused (2), 1 MiB is fine"
head -c 1048577 /dev/zero >"$W/big"
run_expect 2 vc sign ok-ed --in "$W/big" --out "$W/big.sig"
assert_one_line_error "$RUN_ERR"
[ ! -s "$W/big.sig" ] || fail "a refused sign wrote a signature"
run_expect 2 vc sign ok-p256 --in - --out "$W/big.sig" <"$W/big"
run_expect 2 vc verify ok-p256 --in "$W/big" --sig "$W/dig.32.sig"
head -c 1048576 /dev/zero >"$W/mib"
run_expect 0 vc sign ok-ed --in "$W/mib" --out "$W/mib.sig"
run_expect 0 vc verify ok-ed --in "$W/mib" --sig "$W/mib.sig"
head -c 2000000 /dev/urandom >"$W/bigsig"
run_expect "2|6" vc verify ok-ed --in "$W/msg" --sig "$W/bigsig"

say "truncated and garbage signatures: 6 or 2, never ok"
run_expect 0 vc sign ok-p256 --in "$W/msg" --out "$W/p.der"
run_expect 0 vc sign ok-p256 --in "$W/msg" --format raw --out "$W/p.raw"
run_expect 0 vc sign ok-ed --in "$W/msg" --out "$W/e.raw"
for pair in "ok-p256 p.der der" "ok-p256 p.raw raw" "ok-ed e.raw raw"; do
	set -- $pair
	for n in 0 1 10 63; do
		head -c "$n" "$W/$2" >"$W/trunc"
		run_expect "2|6" vc verify "$1" --in "$W/msg" --sig "$W/trunc" --format "$3"
	done
	head -c "$(stat -c %s "$W/$2")" /dev/urandom >"$W/garbage"
	run_expect "2|6" vc verify "$1" --in "$W/msg" --sig "$W/garbage" --format "$3"
	cat "$W/$2" "$W/$2" >"$W/doubled"
	run_expect "2|6" vc verify "$1" --in "$W/msg" --sig "$W/doubled" --format "$3"
done
printf 'not base64url!\n' >"$W/bad.jose"
run_expect "2|6" vc verify ok-p256 --in "$W/msg" --sig "$W/bad.jose" --format jose
run_expect 2 vc verify ok-p256 --in "$W/msg" --sig "$W/no-such-sig-file"
run_expect 2 vc sign ok-p256 --in "$W/no-such-input"
run_expect 2 vc verify ok-p256 --in "$W/msg"

say "unknown options: 2, one line"
run_expect 2 vc key create x-opt --alg p256 --purpose sign --no-such-option
assert_one_line_error "$RUN_ERR"
run_expect 2 vc key create x-opt --alg p256 --purpose sign -Z
assert_one_line_error "$RUN_ERR"
run_expect 2 vc sign ok-p256 --in "$W/msg" --format
assert_one_line_error "$RUN_ERR"
unchanged "unknown options"

say "destroy without --yes, bad versions"
run_expect 2 vc key destroy ok-p256 --version 1
run_expect 2 vc key retire ok-p256 --version zero
run_expect 2 vc key retire ok-p256
unchanged "bad destroy/retire"

say "no PIN in any output of this test"
for f in "$PV_OUT"/*; do
	assert_no_pin_in "$f"
done
echo "bad_input: ok"
