#!/bin/bash
# sign and verify for every signing algorithm, all output formats, --digest
# none, keccak256, RSA PKCS#1 v1.5 and PSS, HMAC; each signature checked by an
# independent verifier (OpenSSL; libsecp256k1 for secp256k1, including low-S)
# and by `vaultctl verify`; tampered messages and signatures must fail (6).
set -eu
. "$top_srcdir/tests/lib/common.sh"
need_cmd openssl
need_cmd python3
SECP=$top_builddir/tests/verify-secp256k1
[ -x "$SECP" ] || fail "$SECP is not built (make check builds it)"

W=$PV_WORK
printf 'The quick brown fox jumps over the lazy dog\n' >"$W/msg"
flip_byte "$W/msg" "$W/msg.tampered" 4

# vverify NAME SIG EXIT [ARGS...]: vaultctl verify of $W/msg (or --in in ARGS).
vverify() {
	local k=$1 sig=$2 want=$3
	shift 3
	run_expect "$want" vc verify "$k" --sig "$sig" "$@"
	case $want in
	0) assert_contains "$RUN_OUT" "signature: ok" ;;
	6) assert_contains "$RUN_OUT" "signature: BAD" ;;
	esac
}

# Tampered message and tampered signature must both fail, in OpenSSL's eyes
# (checked by the caller) and vaultctl's.
vverify_tamper() { # NAME SIG [ARGS...]
	local k=$1 sig=$2
	shift 2
	vverify "$k" "$sig" 6 --in "$W/msg.tampered" "$@"
	flip_byte "$sig" "$sig.tampered" "$(($(stat -c %s "$sig") - 3))"
	vverify "$k" "$sig.tampered" 6 --in "$W/msg" "$@"
}

for alg in ed25519 p256 p384 secp256k1 rsa2048 hmac-sha256; do
	mkkey "s-$alg" "$alg"
	case $alg in hmac-*) ;; *) pub_pem "s-$alg" "$W/s-$alg.pem" && pub_der "s-$alg" "$W/s-$alg.der" ;; esac
done

say "ed25519: raw (default) and jose, OpenSSL pkeyutl -rawin"
k=s-ed25519
run_expect 0 vc sign $k --in "$W/msg" --out "$W/ed.raw"
assert_size "$W/ed.raw" 64
ossl_verify_ed25519 "$W/$k.pem" "$W/msg" "$W/ed.raw" || fail "OpenSSL rejects the Ed25519 signature"
! ossl_verify_ed25519 "$W/$k.pem" "$W/msg.tampered" "$W/ed.raw" || fail "OpenSSL accepts a tampered message"
vverify $k "$W/ed.raw" 0 --in "$W/msg"
vverify_tamper $k "$W/ed.raw"
run_expect 0 vc sign $k --in "$W/msg" --format jose
cp "$RUN_OUT" "$W/ed.jose"
b64url_decode "$W/ed.jose" "$W/ed.jose.bin" || fail "jose output is not base64url"
assert_same_file "$W/ed.raw" "$W/ed.jose.bin" "Ed25519 is deterministic: jose must decode to the raw signature"
vverify $k "$W/ed.jose" 0 --in "$W/msg" --format jose
run_expect 0 vc sign $k --in "$W/msg" --format raw --digest none --out "$W/ed.raw2"
assert_same_file "$W/ed.raw" "$W/ed.raw2"
say "ed25519: stdin input (--in - and no --in), stdout output"
run_expect 0 vc sign $k --in - <"$W/msg"
assert_same_file "$W/ed.raw" "$RUN_OUT" "sign --in - differs from --in FILE"
run_expect 0 vc sign $k <"$W/msg"
assert_same_file "$W/ed.raw" "$RUN_OUT" "sign from stdin differs from --in FILE"
vverify $k "$W/ed.raw" 0 --in - <"$W/msg"

# ecdsa NAME HASH SIZE: the ECDSA checks shared by p256/p384/secp256k1.
ecdsa() {
	local k=$1 h=$2 n=$3 pem=$W/$1.pem
	say "$k: der (default), raw, jose with $h; OpenSSL verifies"
	run_expect 0 vc sign "$k" --in "$W/msg" --out "$W/$k.der.sig"
	ossl_verify_ecdsa "$h" "$pem" "$W/msg" "$W/$k.der.sig" || fail "OpenSSL rejects the $k DER signature"
	! ossl_verify_ecdsa "$h" "$pem" "$W/msg.tampered" "$W/$k.der.sig" || fail "OpenSSL accepts a tampered message"
	vverify "$k" "$W/$k.der.sig" 0 --in "$W/msg"
	vverify "$k" "$W/$k.der.sig" 0 --in "$W/msg" --format der --digest "$h"
	vverify_tamper "$k" "$W/$k.der.sig"

	run_expect 0 vc sign "$k" --in "$W/msg" --format raw --out "$W/$k.raw"
	assert_size "$W/$k.raw" $((2 * n))
	ecdsa_raw_to_der "$W/$k.raw" "$W/$k.raw.der"
	ossl_verify_ecdsa "$h" "$pem" "$W/msg" "$W/$k.raw.der" || fail "OpenSSL rejects the $k raw signature"
	vverify "$k" "$W/$k.raw" 0 --in "$W/msg" --format raw
	vverify "$k" "$W/$k.raw" 6 --in "$W/msg.tampered" --format raw
	# A raw signature is not DER: format mismatch must not verify.
	run_expect "2|6" vc verify "$k" --in "$W/msg" --sig "$W/$k.raw" --format der

	run_expect 0 vc sign "$k" --in "$W/msg" --format jose
	cp "$RUN_OUT" "$W/$k.jose"
	b64url_decode "$W/$k.jose" "$W/$k.jose.raw" || fail "$k jose output is not base64url"
	assert_size "$W/$k.jose.raw" $((2 * n))
	ecdsa_raw_to_der "$W/$k.jose.raw" "$W/$k.jose.der"
	ossl_verify_ecdsa "$h" "$pem" "$W/msg" "$W/$k.jose.der" || fail "OpenSSL rejects the $k jose signature"
	vverify "$k" "$W/$k.jose" 0 --in "$W/msg" --format jose

	say "$k: --digest none over a digest computed by OpenSSL"
	sha "$h" "$W/msg" >"$W/$k.digest"
	run_expect 0 vc sign "$k" --digest none --in "$W/$k.digest" --out "$W/$k.pre.der"
	ossl_verify_ecdsa "$h" "$pem" "$W/msg" "$W/$k.pre.der" || fail "OpenSSL rejects the prehashed $k signature"
	ossl_verify_ecdsa_digest "$pem" "$W/$k.digest" "$W/$k.pre.der" || fail "pkeyutl rejects the prehashed $k signature"
	vverify "$k" "$W/$k.pre.der" 0 --digest none --in "$W/$k.digest"
	vverify "$k" "$W/$k.der.sig" 0 --digest none --in "$W/$k.digest"

	say "$k: the other SHA-2 digests"
	for d in sha256 sha384 sha512; do
		run_expect 0 vc sign "$k" --in "$W/msg" --digest $d --out "$W/$k.$d.der"
		ossl_verify_ecdsa $d "$pem" "$W/msg" "$W/$k.$d.der" || fail "OpenSSL rejects $k with $d"
		vverify "$k" "$W/$k.$d.der" 0 --in "$W/msg" --digest $d
		[ $d = "$h" ] || vverify "$k" "$W/$k.$d.der" 6 --in "$W/msg"
	done
}
ecdsa s-p256 sha256 32
ecdsa s-p384 sha384 48
ecdsa s-secp256k1 sha256 32

say "secp256k1: libsecp256k1 verifies raw signatures; every one is low-S"
k=s-secp256k1
sha sha256 "$W/msg" >"$W/secp.digest"
# The verifier itself must be able to fail: tampered digest, high-S twin.
verify_secp256k1 "$W/$k.der" "$W/secp.digest" "$W/$k.raw" || fail "libsecp256k1 rejects $k.raw ($(cat "$W/secp.err"))"
flip_byte "$W/secp.digest" "$W/secp.digest.bad" 0
rc=0 && verify_secp256k1 "$W/$k.der" "$W/secp.digest.bad" "$W/$k.raw" || rc=$?
assert_eq "$rc" 1 "libsecp256k1 verdict on a tampered digest"
ecdsa_flip_s_secp256k1 "$W/$k.raw" "$W/$k.highs"
rc=0 && verify_secp256k1 "$W/$k.der" "$W/secp.digest" "$W/$k.highs" || rc=$?
assert_eq "$rc" 2 "libsecp256k1 verdict on the high-S twin"
for i in $(seq 1 50); do
	printf 'message %s\n' "$i" >"$W/m.$i"
	sha sha256 "$W/m.$i" >"$W/d.$i"
	"$VAULTCTL" sign $k --in "$W/m.$i" --format raw --out "$W/s.$i" 2>"$PV_OUT/secp-loop.err" ||
		fail "sign #$i failed: $(cat "$PV_OUT/secp-loop.err")"
	rc=0 && verify_secp256k1 "$W/$k.der" "$W/d.$i" "$W/s.$i" || rc=$?
	case $rc in
	0) ;;
	2) fail "signature #$i is high-S" ;;
	*) fail "signature #$i does not verify with libsecp256k1" ;;
	esac
	# DER signatures too.
	"$VAULTCTL" sign $k --in "$W/m.$i" --out "$W/sd.$i" 2>"$PV_OUT/secp-loop.err" || fail "DER sign #$i"
	ecdsa_der_to_raw "$W/sd.$i" "$W/sdr.$i" 32
	verify_secp256k1 "$W/$k.der" "$W/d.$i" "$W/sdr.$i" || fail "DER signature #$i: $(cat "$W/secp.err")"
done
echo "100 secp256k1 signatures verified by libsecp256k1, all low-S"

say "secp256k1: keccak256, against a Keccak-256 computed by the test itself"
keccak256_file "$W/msg" "$W/msg.keccak" || fail "the test's own Keccak-256 failed its self-check"
run_expect 0 vc sign $k --in "$W/msg" --digest keccak256 --format raw --out "$W/keccak.raw"
verify_secp256k1 "$W/$k.der" "$W/msg.keccak" "$W/keccak.raw" || fail "keccak256 signature: $(cat "$W/secp.err")"
run_expect 0 vc sign $k --in "$W/msg.keccak" --digest none --format raw --out "$W/keccak.none.raw"
verify_secp256k1 "$W/$k.der" "$W/msg.keccak" "$W/keccak.none.raw" || fail "prehashed keccak: $(cat "$W/secp.err")"
vverify $k "$W/keccak.raw" 0 --in "$W/msg" --digest keccak256 --format raw
vverify $k "$W/keccak.raw" 6 --in "$W/msg" --format raw
vverify $k "$W/keccak.raw" 0 --in "$W/msg.keccak" --digest none --format raw

say "rsa2048: PKCS#1 v1.5 (default) and PSS, sha256/384/512"
k=s-rsa2048
pem=$W/$k.pem
run_expect 0 vc sign $k --in "$W/msg" --out "$W/rsa.sig"
assert_size "$W/rsa.sig" 256
ossl_verify_rsa sha256 pkcs1 "$pem" "$W/msg" "$W/rsa.sig" || fail "OpenSSL rejects RSA PKCS#1"
! ossl_verify_rsa sha256 pss "$pem" "$W/msg" "$W/rsa.sig" || fail "PKCS#1 signature passes as PSS"
vverify $k "$W/rsa.sig" 0 --in "$W/msg"
vverify_tamper $k "$W/rsa.sig"
for d in sha256 sha384 sha512; do
	for pad in pkcs1 pss; do
		run_expect 0 vc sign $k --in "$W/msg" --digest $d --padding $pad --out "$W/rsa.$d.$pad"
		ossl_verify_rsa $d $pad "$pem" "$W/msg" "$W/rsa.$d.$pad" || fail "OpenSSL rejects RSA $pad $d"
		vverify $k "$W/rsa.$d.$pad" 0 --in "$W/msg" --digest $d --padding $pad
	done
done
vverify $k "$W/rsa.sha256.pss" 6 --in "$W/msg" --padding pkcs1
vverify_tamper $k "$W/rsa.sha256.pss" --padding pss
run_expect 0 vc sign $k --in "$W/msg" --format jose --padding pss
cp "$RUN_OUT" "$W/rsa.jose"
b64url_decode "$W/rsa.jose" "$W/rsa.jose.bin"
ossl_verify_rsa sha256 pss "$pem" "$W/msg" "$W/rsa.jose.bin" || fail "OpenSSL rejects the RSA jose signature"
vverify $k "$W/rsa.jose" 0 --in "$W/msg" --format jose --padding pss
sha sha256 "$W/msg" >"$W/rsa.digest"
run_expect 0 vc sign $k --digest none --in "$W/rsa.digest" --out "$W/rsa.pre"
ossl_verify_rsa sha256 pkcs1 "$pem" "$W/msg" "$W/rsa.pre" || fail "OpenSSL rejects prehashed RSA PKCS#1"
run_expect 0 vc sign $k --digest none --padding pss --in "$W/rsa.digest" --out "$W/rsa.pre.pss"
ossl_verify_rsa sha256 pss "$pem" "$W/msg" "$W/rsa.pre.pss" || fail "OpenSSL rejects prehashed RSA PSS"
run_expect 2 vc sign $k --in "$W/msg" --format der

say "hmac-sha256: raw and jose, verified on the token"
k=s-hmac-sha256
run_expect 0 vc sign $k --in "$W/msg" --out "$W/hmac.raw"
assert_size "$W/hmac.raw" 32
run_expect 0 vc sign $k --in "$W/msg" --out "$W/hmac.raw2"
assert_same_file "$W/hmac.raw" "$W/hmac.raw2" "HMAC is deterministic"
run_expect 0 vc sign $k --in "$W/msg.tampered" --out "$W/hmac.other"
! cmp -s "$W/hmac.raw" "$W/hmac.other" || fail "HMAC of different messages is equal"
vverify $k "$W/hmac.raw" 0 --in "$W/msg"
vverify_tamper $k "$W/hmac.raw"
run_expect 0 vc sign $k --in "$W/msg" --format jose
cp "$RUN_OUT" "$W/hmac.jose"
b64url_decode "$W/hmac.jose" "$W/hmac.jose.bin"
assert_same_file "$W/hmac.raw" "$W/hmac.jose.bin" "HMAC jose must decode to raw"
vverify $k "$W/hmac.jose" 0 --in "$W/msg" --format jose
run_expect 2 vc sign $k --in "$W/msg" --digest sha256
run_expect 2 vc sign $k --in "$W/msg" --format der
# Another HMAC key must not verify this MAC.
mkkey s-hmac-2 hmac-sha256
vverify s-hmac-2 "$W/hmac.raw" 6 --in "$W/msg"

say "verify --out / --sig from a file with the default version after rotate"
run_expect 0 vc key rotate s-p256
vverify s-p256 "$W/s-p256.der.sig" 6 --in "$W/msg"
vverify s-p256 "$W/s-p256.der.sig" 0 --in "$W/msg" --version 1

echo "sign_verify: ok"
