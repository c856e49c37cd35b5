#!/bin/bash
# Key lifecycle: create all nine algorithms, list, show in every format
# (checked against an independent parse of the public key), rotate, activate,
# retire, destroy, and the conflicts docs/cli.md assigns exit codes to.
set -eu
. "$top_srcdir/tests/lib/common.sh"
need_cmd openssl
need_cmd python3

ASYM="ed25519 secp256k1 p256 p384 rsa2048 rsa3072 rsa4096"
SYM="aes256 hmac-sha256"

say "create one key per algorithm"
for alg in $ASYM $SYM; do
	mkkey "k-$alg" "$alg"
	printed_uri "$RUN_OUT" >/dev/null
done

say "key list (table and --json)"
run_expect 0 vc key list
cp "$RUN_OUT" "$PV_WORK/list.txt"
for alg in $ASYM $SYM; do
	# NAME ALG VERSION STATE PURPOSE on one line.
	p=$(purpose_for "$alg")
	grep -Eq "(^|[[:space:]])k-$alg[[:space:]].*(^|[[:space:]])$alg[[:space:]]+1[[:space:]]+active[[:space:]]+$p([[:space:]]|$)" \
		"$PV_WORK/list.txt" || fail "key list table has no 'k-$alg $alg 1 active $p' row"
	assert_purpose "k-$alg" "$p"
	assert_key_alg "k-$alg" "$alg"
	assert_versions "k-$alg" "1:active"
done

say "key show: pem, der, jwk, uri, text for asymmetric keys"
for alg in $ASYM; do
	k=k-$alg
	pub_pem "$k" "$PV_WORK/$k.pem"
	pub_der "$k" "$PV_WORK/$k.der"
	openssl pkey -pubin -in "$PV_WORK/$k.pem" -outform DER -out "$PV_WORK/$k.ossl.der"
	assert_same_file "$PV_WORK/$k.der" "$PV_WORK/$k.ossl.der" "key show --format der of $k is not the PEM's DER"
	# OpenSSL's own reading of the key type and size.
	openssl pkey -pubin -in "$PV_WORK/$k.pem" -noout -text >"$PV_WORK/$k.txt"
	case $alg in
	ed25519) want="ED25519 Public-Key" ;;
	secp256k1) want="ASN1 OID: secp256k1" ;;
	p256) want="NIST CURVE: P-256" ;;
	p384) want="NIST CURVE: P-384" ;;
	rsa*) want="Public-Key: (${alg#rsa} bit)" ;;
	esac
	assert_contains "$PV_WORK/$k.txt" "$want" "OpenSSL does not see $k as $alg"
	run_expect 0 vc key show "$k" --format jwk
	json_valid "$RUN_OUT"
	jwk_check "$PV_WORK/$k.der" "$RUN_OUT" "$alg" || fail "JWK of $k does not match its public key"
	run_expect 0 vc key show "$k" --format uri
	uri_attr "$(cat "$RUN_OUT")" token >"$PV_WORK/tok"
	assert_eq "$(cat "$PV_WORK/tok")" "$PV_TOKEN_LABEL" "token in the URI of $k"
	run_expect 0 vc key show "$k" --format text
	assert_contains "$RUN_OUT" "$alg"
	run_expect 0 vc key show "$k"
	assert_contains "$RUN_OUT" "$alg" "default key show (text) of $k lacks the algorithm"
done

say "symmetric keys: uri and text only"
for alg in $SYM; do
	run_expect 0 vc key show "k-$alg" --format uri
	case "$(cat "$RUN_OUT")" in pkcs11:*) ;; *) fail "uri of k-$alg is not a pkcs11: URI" ;; esac
	run_expect 0 vc key show "k-$alg" --format text
	for f in pem der jwk; do
		run_expect 2 vc key show "k-$alg" --format "$f"
		assert_one_line_error "$RUN_ERR"
	done
done

say "create an existing name: exit 7, nothing changes"
run_expect 7 vc key create k-p256 --alg p256 --purpose sign
assert_one_line_error "$RUN_ERR"
run_expect 7 vc key create k-p256 --alg ed25519 --purpose jwt
assert_versions k-p256 "1:active"
pub_der k-p256 "$PV_WORK/k-p256.again.der"
assert_same_file "$PV_WORK/k-p256.der" "$PV_WORK/k-p256.again.der" "failed create changed the key"

say "rotate (default): v2 active, v1 verify-only"
k=rot
mkkey $k p256
pub_der $k "$PV_WORK/rot.v1.der"
printf 'lifecycle message\n' >"$PV_WORK/msg"
run_expect 0 vc sign $k --in "$PV_WORK/msg" --out "$PV_WORK/sig.v1"
run_expect 0 vc key rotate $k
assert_versions $k "1:verify-only 2:active"
pub_der $k "$PV_WORK/rot.v2.der"
! cmp -s "$PV_WORK/rot.v1.der" "$PV_WORK/rot.v2.der" || fail "rotate did not make a new key pair"
pub_der $k "$PV_WORK/rot.v1b.der" 1
assert_same_file "$PV_WORK/rot.v1.der" "$PV_WORK/rot.v1b.der" "show --version 1 after rotate"

say "rotate --next: v3 next, v2 stays active"
run_expect 0 vc key rotate $k --next
assert_versions $k "1:verify-only 2:active 3:next"
pub_der $k "$PV_WORK/rot.active.der"
assert_same_file "$PV_WORK/rot.v2.der" "$PV_WORK/rot.active.der" "default show is not the active version"

say "signing follows the active version; verify-only still verifies"
run_expect 0 vc verify $k --version 1 --in "$PV_WORK/msg" --sig "$PV_WORK/sig.v1"
assert_contains "$RUN_OUT" "signature: ok"
run_expect 0 vc sign $k --in "$PV_WORK/msg" --out "$PV_WORK/sig.v2"
pub_pem $k "$PV_WORK/rot.v2.pem" 2
ossl_verify_ecdsa sha256 "$PV_WORK/rot.v2.pem" "$PV_WORK/msg" "$PV_WORK/sig.v2" ||
	fail "signature after rotate is not by v2"
run_expect 7 vc sign $k --version 3 --in "$PV_WORK/msg" --out "$PV_WORK/sig.bad"
run_expect 7 vc sign $k --version 1 --in "$PV_WORK/msg" --out "$PV_WORK/sig.bad"

say "activate v3: v3 active, v2 verify-only"
run_expect 0 vc key activate $k --version 3
assert_versions $k "1:verify-only 2:verify-only 3:active"
run_expect 0 vc verify $k --version 2 --in "$PV_WORK/msg" --sig "$PV_WORK/sig.v2"
assert_contains "$RUN_OUT" "signature: ok"
run_expect 6 vc verify $k --in "$PV_WORK/msg" --sig "$PV_WORK/sig.v2"
assert_contains "$RUN_OUT" "signature: BAD"
run_expect 0 vc sign $k --version 3 --in "$PV_WORK/msg" --out "$PV_WORK/sig.v3"
pub_pem $k "$PV_WORK/rot.v3.pem" 3
ossl_verify_ecdsa sha256 "$PV_WORK/rot.v3.pem" "$PV_WORK/msg" "$PV_WORK/sig.v3" || fail "v3 signature"

say "activate a verify-only version back"
run_expect 0 vc key activate $k --version 2
assert_versions $k "1:verify-only 2:active 3:verify-only"
run_expect 0 vc key activate $k --version 3
assert_versions $k "1:verify-only 2:verify-only 3:active"

say "retire: the active version cannot be retired (7)"
run_expect 7 vc key retire $k --version 3
assert_one_line_error "$RUN_ERR"
assert_versions $k "1:verify-only 2:verify-only 3:active"
run_expect 0 vc key retire $k --version 1
assert_versions $k "1:retired 2:verify-only 3:active"
# Only active, next and verify-only versions verify: the state forbids it.
run_expect 7 vc verify $k --version 1 --in "$PV_WORK/msg" --sig "$PV_WORK/sig.v1"
run_expect 7 vc key activate $k --version 1
assert_versions $k "1:retired 2:verify-only 3:active"
run_expect 5 vc key retire $k --version 9

say "destroy: needs --yes (2), only retired versions (7)"
run_expect 2 vc key destroy $k --version 1
assert_versions $k "1:retired 2:verify-only 3:active"
run_expect 7 vc key destroy $k --version 2 --yes
run_expect 7 vc key destroy $k --version 3 --yes
assert_versions $k "1:retired 2:verify-only 3:active"
run_expect 0 vc key destroy $k --version 1 --yes
assert_versions $k "2:verify-only 3:active"
run_expect 5 vc key show $k --version 1 --format pem
run_expect 5 vc key destroy $k --version 1 --yes
# The surviving versions still work.
run_expect 0 vc verify $k --version 2 --in "$PV_WORK/msg" --sig "$PV_WORK/sig.v2"
run_expect 0 vc sign $k --in "$PV_WORK/msg" --out "$PV_WORK/sig.v3b"
ossl_verify_ecdsa sha256 "$PV_WORK/rot.v3.pem" "$PV_WORK/msg" "$PV_WORK/sig.v3b" || fail "sign after destroy"

say "rotate keeps the algorithm and the purpose, for every asymmetric algorithm, HMAC and AES"
for alg in ed25519 secp256k1 p384 rsa2048 hmac-sha256 aes256; do
	run_expect 0 vc key rotate "k-$alg"
	assert_versions "k-$alg" "1:verify-only 2:active"
	assert_key_alg "k-$alg" "$alg"
	assert_purpose "k-$alg" "$(purpose_for "$alg")"
done

say "unknown key: 5"
for cmd in "show nope" "rotate nope" "activate nope --version 1" "retire nope --version 1" \
	"destroy nope --version 1 --yes"; do
	# shellcheck disable=SC2086
	run_expect 5 vc key $cmd
	assert_one_line_error "$RUN_ERR"
done

say "the other keys were not disturbed"
for alg in p256 rsa3072 rsa4096; do
	assert_versions "k-$alg" "1:active"
	pub_der "k-$alg" "$PV_WORK/k-$alg.end.der"
	assert_same_file "$PV_WORK/k-$alg.der" "$PV_WORK/k-$alg.end.der" "k-$alg changed"
done
echo "key_lifecycle: ok"
