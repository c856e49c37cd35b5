#!/bin/bash
# JWTs issued by `vaultctl jwt issue` for p256 (ES256), p384 (ES384),
# ed25519 (EdDSA), rsa2048 (RS256 and PS256) and secp256k1 (ES256K), each
# signature checked by an independent verifier: the token is split with
# shell tools, decoded with basenc, and verified by OpenSSL (libsecp256k1 for
# ES256K, which must also be low-S). The kid is recomputed here (RFC 7638)
# from the published JWK Set; `vaultctl jwt verify` accepts the tokens and
# refuses tampered ones (exit 6).
set -eu
. "$top_srcdir/tests/lib/common.sh"
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
	python3 - "$1" "$2" <<'PY'
import base64, hashlib, json, sys
keys = [k for k in json.load(open(sys.argv[1]))["keys"] if k["kid"] == sys.argv[2]]
if not keys:
    sys.exit("kid not in the JWK Set")
k = keys[0]
req = {"EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x"), "RSA": ("e", "kty", "n")}[k["kty"]]
s = json.dumps({m: k[m] for m in req}, separators=(",", ":"), sort_keys=True)
print(base64.urlsafe_b64encode(hashlib.sha256(s.encode()).digest()).decode().rstrip("="))
PY
}

for alg in p256 p384 ed25519 rsa2048 secp256k1; do
	run_expect 0 vc key create "jwt-$alg" --alg "$alg"
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
done

say "claims the service sets are refused, as is a key that cannot sign JWTs"
printf '{"exp":1}' >"$W/exp.json"
run_expect 4 vc jwt issue jwt-p256 --claims "$W/exp.json"
assert_contains "$RUN_ERR" "'exp'"
run_expect 0 vc key create jwt-hmac --alg hmac-sha256
printf '{}' >"$W/empty.json"
run_expect 2 vc jwt issue jwt-hmac --claims "$W/empty.json"
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
