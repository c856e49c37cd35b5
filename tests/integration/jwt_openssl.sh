#!/bin/bash
# JWTs issued by `vaultctl jwt issue` for p256 (ES256), p384 (ES384),
# ed25519 (EdDSA), rsa2048 (RS256 and PS256) and secp256k1 (ES256K), each
# signature checked by an independent verifier: the token is split with
# shell tools, decoded with basenc, and verified by OpenSSL (libsecp256k1 for
# ES256K, which must also be low-S). The kid is recomputed here (RFC 7638)
# from the published JWK Set; `vaultctl jwt verify` accepts the tokens and
# refuses tampered ones (exit 6).
#
# Then what an attacker would try, each token made here (tests/lib/jws.py):
# a JWT signed through `vaultctl sign --format jose` with a key of purpose
# sign (its kid is in no JWK Set; naming a JWT key's kid does not verify),
# the high-S twin of every ECDSA token (OpenSSL accepts it, vaultctl does
# not), and tokens signed with the JWT key itself outside p11vault
# (pkcs11-tool on the token object) whose claims p11vault never issues:
# exp 1e300, fractional or negative NumericDates, no iat, a lifetime over
# the one-year service maximum.
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/jwt.sh"
need_cmd openssl
need_cmd basenc
need_cmd python3
[ -x "$top_builddir/tests/verify-secp256k1" ] || fail "tests/verify-secp256k1 is not built (make check builds it)"

W=$PV_WORK
printf '{"sub":"alice","scope":["read","write"]}\n' >"$W/claims.json"

# b64url_part TEXT OUT: one token part, decoded by basenc (padding added back).
b64url_part() {
	local t=$1
	case $((${#t} % 4)) in
	0) ;;
	2) t="$t==" ;;
	3) t="$t=" ;;
	*) fail "impossible base64url length ${#t}" ;;
	esac
	printf '%s' "$t" | basenc --base64url -d >"$2" || fail "not base64url: $t"
}

# split_token FILE: H P S (the parts), $W/hdr.json, $W/payload.json,
# $W/sig.bin and $W/input (the JWS signing input).
split_token() {
	local dots
	dots=$(tr -cd . <"$1" | wc -c)
	[ "$dots" = 2 ] || fail "token has $dots dots, want 2"
	IFS=. read -r H P S <"$1"
	[ -n "$H" ] && [ -n "$P" ] && [ -n "$S" ] || fail "empty token part"
	case "$H$P$S" in *[!A-Za-z0-9_-]*) fail "token part outside the base64url alphabet" ;; esac
	b64url_part "$H" "$W/hdr.json"
	b64url_part "$P" "$W/payload.json"
	b64url_part "$S" "$W/sig.bin"
	printf '%s.%s' "$H" "$P" >"$W/input"
}

# ossl_check ALG PEM PUBDER INPUT SIG: 0 if the independent verifier accepts.
ossl_check() {
	case $1 in
	ES256) ecdsa_raw_to_der "$5" "$W/sig.der" && ossl_verify_ecdsa sha256 "$2" "$4" "$W/sig.der" ;;
	ES384) ecdsa_raw_to_der "$5" "$W/sig.der" && ossl_verify_ecdsa sha384 "$2" "$4" "$W/sig.der" ;;
	EdDSA) ossl_verify_ed25519 "$2" "$4" "$5" ;;
	RS256) ossl_verify_rsa sha256 pkcs1 "$2" "$4" "$5" ;;
	PS256) ossl_verify_rsa sha256 pss "$2" "$4" "$5" ;;
	ES256K) sha sha256 "$4" >"$W/digest" && verify_secp256k1 "$3" "$W/digest" "$5" ;;
	*) fail "no verifier for $1" ;;
	esac
}

# RFC 7638 thumbprint of the JWK with that kid in a JWK Set, recomputed here.
jwk_thumbprint() { # JWKS KID
	python3 -c 'import json, sys
keys = [k for k in json.load(open(sys.argv[1]))["keys"] if k["kid"] == sys.argv[2]]
if not keys:
    sys.exit("kid not in the JWK Set")
json.dump(keys[0], open(sys.argv[3], "w"))' "$1" "$2" "$W/thumb.jwk" && jws kid "$W/thumb.jwk"
}

# kid_in JWKS KID: 0 if the JWK Set lists KID.
kid_in() {
	python3 -c 'import json,sys; sys.exit(0 if any(k["kid"] == sys.argv[2] for k in json.load(open(sys.argv[1]))["keys"]) else 1)' "$1" "$2"
}

for alg in p256 p384 ed25519 rsa2048 secp256k1; do
	run_expect 0 vc key create "jwt-$alg" --alg "$alg" --purpose jwt
	pub_pem "jwt-$alg" "$W/jwt-$alg.pem"
	pub_der "jwt-$alg" "$W/jwt-$alg.der"
done
run_expect 0 vc jwks
cp "$RUN_OUT" "$W/jwks.json"
json_valid "$W/jwks.json"

now=$(date +%s)
for c in p256:ES256 p384:ES384 ed25519:EdDSA rsa2048:RS256 rsa2048:PS256 secp256k1:ES256K; do
	alg=${c%%:*} jws=${c#*:} k=jwt-${c%%:*}
	say "$jws with $alg: issue, split, verify independently"
	extra=()
	[ "$jws" != PS256 ] || extra=(--pss)
	run_expect 0 vc jwt issue "$k" --claims "$W/claims.json" --ttl 3600 --iss https://issuer.test --aud api "${extra[@]}"
	cp "$RUN_OUT" "$W/$jws.jwt"
	[ "$(wc -l <"$W/$jws.jwt")" = 1 ] || fail "jwt issue printed more than one line"
	split_token "$W/$jws.jwt"
	json_valid "$W/hdr.json"
	json_valid "$W/payload.json"
	assert_eq "$(json_get "$W/hdr.json" alg)" "$jws" "header alg"
	assert_eq "$(json_get "$W/hdr.json" typ)" "JWT" "header typ"
	kid=$(json_get "$W/hdr.json" kid)
	assert_eq "$(jwk_thumbprint "$W/jwks.json" "$kid")" "$kid" "kid is not the RFC 7638 thumbprint of the published JWK"
	assert_eq "$(json_get "$W/payload.json" sub)" "alice" "claim sub"
	assert_eq "$(json_get "$W/payload.json" iss)" "https://issuer.test" "claim iss"
	assert_eq "$(json_get "$W/payload.json" aud)" "api" "claim aud"
	iat=$(json_get "$W/payload.json" iat)
	assert_eq "$(json_get "$W/payload.json" nbf)" "$iat" "nbf = iat"
	assert_eq "$(json_get "$W/payload.json" exp)" "$((iat + 3600))" "exp = iat + ttl"
	[ "$iat" -ge "$((now - 5))" ] && [ "$iat" -le "$(($(date +%s) + 5))" ] || fail "iat $iat is not now"
	case $jws in
	ES256 | ES256K) assert_size "$W/sig.bin" 64 ;;
	ES384) assert_size "$W/sig.bin" 96 ;;
	EdDSA) assert_size "$W/sig.bin" 64 ;;
	*) assert_size "$W/sig.bin" 256 ;;
	esac
	ossl_check "$jws" "$W/$k.pem" "$W/$k.der" "$W/input" "$W/sig.bin" ||
		fail "the independent verifier rejects the $jws token"

	# the same verifier must reject a changed payload (it can fail)
	printf '%s' "$H" >"$W/input.tampered"
	printf '.%s' "$(printf '{"sub":"mallory"}' | basenc --base64url | tr -d '=\n')" >>"$W/input.tampered"
	! ossl_check "$jws" "$W/$k.pem" "$W/$k.der" "$W/input.tampered" "$W/sig.bin" ||
		fail "the independent verifier accepts a tampered $jws payload"

	# vaultctl's own verifier: against the JWK Set and against the key
	run_expect 0 vc jwt verify --jwks "$W/jwks.json" "$W/$jws.jwt"
	assert_contains "$RUN_OUT" "token: ok"
	run_expect 0 vc jwt verify --key "$k" - <"$W/$jws.jwt"
	cat "$W/input.tampered" >"$W/tampered.jwt"
	printf '.%s\n' "$S" >>"$W/tampered.jwt"
	run_expect 6 vc jwt verify --jwks "$W/jwks.json" "$W/tampered.jwt"

	# ECDSA: issued low-S; the high-S twin is a valid signature of the same
	# input (OpenSSL says so), and refused
	case $jws in
	ES256 | ES384 | ES256K)
		jws is-low "$jws" "$W/$jws.jwt" || fail "$jws token issued with a high s"
		jws twin "$jws" "$W/$jws.jwt" >"$W/$jws.twin.jwt"
		split_token "$W/$jws.twin.jwt"
		if [ "$jws" = ES256K ]; then
			# libsecp256k1 itself refuses high-S: check with OpenSSL
			ecdsa_raw_to_der "$W/sig.bin" "$W/sig.der" &&
				ossl_verify_ecdsa sha256 "$W/$k.pem" "$W/input" "$W/sig.der" ||
				fail "OpenSSL rejects the high-S twin of the $jws token"
		else
			ossl_check "$jws" "$W/$k.pem" "$W/$k.der" "$W/input" "$W/sig.bin" ||
				fail "OpenSSL rejects the high-S twin of the $jws token"
		fi
		run_expect 6 vc jwt verify --jwks "$W/jwks.json" "$W/$jws.twin.jwt"
		assert_contains "$RUN_ERR" "low-S"
		;;
	esac
done

say "a key of purpose sign cannot issue, is not in the JWK Set, and its forged JWTs do not verify"
run_expect 0 vc key create sign-p256 --alg p256 --purpose sign
run_expect 8 vc jwt issue sign-p256 --claims "$W/claims.json"
assert_contains "$RUN_ERR" "purpose"
run_expect 0 vc key show sign-p256 --format jwk
cp "$RUN_OUT" "$W/sign-p256.jwk"
sign_kid=$(json_get "$W/sign-p256.jwk" kid)
assert_eq "$(jws kid "$W/sign-p256.jwk")" "$sign_kid" "kid of sign-p256"
run_expect 0 vc jwks
cp "$RUN_OUT" "$W/jwks-sign.json"
! kid_in "$W/jwks-sign.json" "$sign_kid" || fail "the JWK Set lists a key of purpose sign"
pub_pem sign-p256 "$W/sign-p256.pem"
run_expect 0 vc key show jwt-p256 --format jwk
jwt_kid=$(json_get "$RUN_OUT" kid)
now=$(date +%s)
for kid in "$sign_kid" "$jwt_kid"; do
	jws input "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"$kid\"}" \
		"{\"sub\":\"mallory\",\"iss\":\"https://issuer.test\",\"iat\":$now,\"exp\":$((now + 300))}" >"$W/forged.input"
	tr -d '\n' <"$W/forged.input" >"$W/forged.tbs"
	# a plain signing grant signs these bytes: the signature is good...
	run_expect 0 vc sign sign-p256 --in "$W/forged.tbs" --format jose
	jws join "$(cat "$W/forged.input")" "$(cat "$RUN_OUT")" >"$W/forged.jwt"
	split_token "$W/forged.jwt"
	ossl_check ES256 "$W/sign-p256.pem" "" "$W/input" "$W/sig.bin" ||
		fail "OpenSSL rejects the signature vaultctl sign made"
	# ...and still no JWT: unknown kid (exit 5), or not that key's (exit 6)
	want=5
	[ "$kid" = "$sign_kid" ] || want=6
	run_expect $want vc jwt verify --jwks "$W/jwks-sign.json" "$W/forged.jwt"
done

say "claims p11vault never issues, signed with the JWT key itself outside p11vault: refused"
need_cmd pkcs11-tool
id=$(uri_attr "$(vc key show jwt-p256 --format uri)" id)
[ -n "$id" ] || fail "no id in the URI of jwt-p256"
pub_pem jwt-p256 "$W/jwt-p256.active.pem"
# forge PAYLOAD OUT: an ES256 token with the active jwt-p256 version's kid,
# signed by that version on the token (pkcs11-tool), low-S
forge() { jwt_forge_p11 "$id" "$jwt_kid" "$1" "$2"; }
now=$(date +%s)
forge "{\"sub\":\"ok\",\"iat\":$now,\"exp\":$((now + 600))}" "$W/good.jwt"
run_expect 0 vc jwt verify --jwks "$W/jwks-sign.json" "$W/good.jwt"
split_token "$W/good.jwt"
ossl_check ES256 "$W/jwt-p256.active.pem" "" "$W/input" "$W/sig.bin" || fail "OpenSSL rejects the forged token"
# exit 2: not an integer NumericDate in 0..2^53-1; exit 4: no iat (the
# lifetime cannot be bounded) or a lifetime over 366 days
cases=(
	"2|\"iat\":$now,\"exp\":1e300"
	"2|\"iat\":$now,\"exp\":$((now + 60)).5"
	"2|\"iat\":$now,\"exp\":\"$((now + 60))\""
	"2|\"iat\":$now,\"exp\":9007199254740992"
	"2|\"iat\":$now,\"nbf\":-1,\"exp\":$((now + 60))"
	"4|\"exp\":$((now + 60))"
	"4|\"iat\":$now,\"exp\":$((now + 366 * 86400 + 1))"
)
for c in "${cases[@]}"; do
	want=${c%%|*} claims=${c#*|}
	forge "{\"sub\":\"x\",$claims}" "$W/bad.jwt"
	run_expect "$want" vc jwt verify --jwks "$W/jwks-sign.json" "$W/bad.jwt"
	echo "refused ($want): {$claims}: $(head -c 200 "$RUN_ERR")"
done
forge "{\"sub\":\"x\",\"iat\":$now,\"exp\":$((now + 366 * 86400))}" "$W/year.jwt"
run_expect 0 vc jwt verify --jwks "$W/jwks-sign.json" "$W/year.jwt"

say "claims the service sets are refused, as is a key of another purpose"
printf '{"exp":1}' >"$W/exp.json"
run_expect 4 vc jwt issue jwt-p256 --claims "$W/exp.json"
assert_contains "$RUN_ERR" "'exp'"
run_expect 0 vc key create jwt-hmac --alg hmac-sha256 --purpose derive
printf '{}' >"$W/empty.json"
run_expect 8 vc jwt issue jwt-hmac --claims "$W/empty.json"
printf '[1]' >"$W/array.json"
run_expect 2 vc jwt issue jwt-p256 --claims "$W/array.json"

say "rotation: the previous version's token keeps verifying until retired"
run_expect 0 vc key rotate jwt-p256
run_expect 0 vc jwks
cp "$RUN_OUT" "$W/jwks2.json"
run_expect 0 vc jwt verify --jwks "$W/jwks2.json" "$W/ES256.jwt"
run_expect 0 vc key retire jwt-p256 --version 1
run_expect 0 vc jwks
cp "$RUN_OUT" "$W/jwks3.json"
run_expect 5 vc jwt verify --jwks "$W/jwks3.json" "$W/ES256.jwt"
run_expect 5 vc jwt verify --key jwt-p256 "$W/ES256.jwt"
say "ok"
