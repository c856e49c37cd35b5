#!/bin/bash
# JWTs issued by a running vaultd (POST /v1/jwt/{name}/issue over the Unix
# socket) verified by the npm package `jose` (tests/interop/, pinned in its
# package-lock.json) against the JWK Set jose fetches from the service
# itself (GET /.well-known/jwks.json, createRemoteJWKSet over the socket):
# ES256 (p256), ES384 (p384), ES256K (secp256k1), EdDSA (ed25519), RS256 and
# PS256 (rsa2048). Then a rotation made by vaultctl while vaultd runs: new
# tokens carry the new kid, old tokens still verify (verify-only version
# still published); after `key retire` the old tokens fail in jose with
# ERR_JWKS_NO_MATCHING_KEY. A token with a flipped signature byte fails
# with ERR_JWS_SIGNATURE_VERIFICATION_FAILED.
#
# jose fetches the JWK Set both ways a relying party could: over the Unix
# socket (an http.Agent connecting to it) and from vaultd's TLS listener on
# 127.0.0.1 (https URL, the test CA made here in NODE_EXTRA_CA_CERTS).
#
# Then the attacks on /v1/jwt/verify and on relying parties, each token
# forged by this test (tests/lib/jws.py): a JWT signed through
# POST /v1/keys/{name}/sign (format jose) by a client granted only `sign`
# on a P-256 key of purpose sign is refused by jose against the served JWK
# Set and by /v1/jwt/verify (its kid is in no JWK Set; under a JWT key's
# kid its signature does not verify); the high-S twin of a valid ES256
# token (jose accepts it: WebCrypto does not insist on low-S) is
# bad_signature; tokens signed with the JWT key itself outside vaultd
# (pkcs11-tool) with "exp": 1e300 are malformed, and with a lifetime over
# the rule's max_ttl (or no iat) are `lifetime`, as is a token vaultd issued
# once its rule's max_ttl was lowered by a reload. A jwt.issue request
# without "aud" under a rule with audiences is 403 naming the claim.
#
# Node.js and npm: tests/lib/interop.sh runs `npm ci` in
# $top_builddir/tests/interop-node (a copy of tests/interop, so the source
# tree stays clean), again only when the lockfile changed. Without node/npm
# or the registry the test skips (77), except under CI=true, where it fails.
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/jwt.sh"
. "$top_srcdir/tests/lib/vaultd.sh"
. "$top_srcdir/tests/lib/interop.sh"
vd_need
need_cmd basenc

W=$PV_WORK
ISS=https://issuer.interop.test
AUD=interop

# ---- jose ----

say "jose from tests/interop (npm ci into the build tree)"
interop_node_setup tests/interop/jwt_jose.mjs
echo "node $(node --version), jose $(json_get "$NODE_DIR/node_modules/jose/package.json" version)"

# jose_check socket|tls CASE...: run the verifier with the JWK Set fetched
# over the Unix socket or over TLS; its output is kept as evidence.
jose_check() {
	local how=$1
	shift
	if [ "$how" = socket ]; then
		run_expect 0 node "$NODE_DIR/jwt_jose.mjs" --socket "$VD_SOCK" --issuer "$ISS" --audience "$AUD" "$@"
	else
		run_expect 0 env NODE_EXTRA_CA_CERTS="$W/tls/ca.crt" node "$NODE_DIR/jwt_jose.mjs" \
			--jwks-url "https://127.0.0.1:$PORT/.well-known/jwks.json" --issuer "$ISS" --audience "$AUD" "$@"
	fi
	cat "$RUN_OUT"
}

# A test CA and a server certificate for 127.0.0.1 (private keys 0600).
make_tls() {
	local d=$W/tls
	mkdir -p "$d"
	(
		umask 077
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/ca.key" \
			-out "$d/ca.crt" -subj /CN=interop-test-ca -days 2 &&
			openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/srv.key" \
				-out "$d/srv.csr" -subj /CN=127.0.0.1 &&
			printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$d/ext" &&
			openssl x509 -req -in "$d/srv.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
				-out "$d/srv.crt" -days 2 -extfile "$d/ext"
	) >"$W/openssl-tls.log" 2>&1 || {
		cat "$W/openssl-tls.log" >&2
		fail "could not make the test certificates"
	}
}

# ---- keys and the daemon ----

say "JWT keys of every algorithm, vaultd with a jwt.issue client"
for alg in p256 p384 secp256k1 ed25519 rsa2048; do
	run_expect 0 vc key create "jose-$alg" --alg "$alg" --purpose jwt
done
# the attacker's key: same algorithm as jose-p256, purpose sign
run_expect 0 vc key create forge-p256 --alg p256 --purpose sign
BEARER=$(vd_new_token)
printf 'Authorization: Bearer %s\n' "$BEARER" >"$W/auth.hdr"
chmod 600 "$W/auth.hdr"
vd_base_config "[{\"name\": \"issuer\", \"role\": \"admin\",
    \"auth\": {\"token_sha256\": \"$(vd_token_hash "$BEARER")\"},
    \"rules\": [{\"ops\": [\"jwt.issue\"], \"keys\": [\"jose-*\"], \"max_ttl\": 900, \"audiences\": [\"$AUD\"]},
                {\"ops\": [\"sign\", \"verify\", \"keys.read\"], \"keys\": [\"forge-p256\"]}],
    \"rate\": {\"per_second\": 1000, \"burst\": 1000}}]" \
	"\"jwt\": {\"issuer\": \"$ISS\", \"default_ttl\": 300}" >"$W/vaultd.json"
make_tls
PORT=$(vd_free_port)
vd_json_set "$W/vaultd.json" "listen.tcp={\"address\": \"127.0.0.1:$PORT\", \"tls_cert\": \"$W/tls/srv.crt\", \"tls_key\": \"$W/tls/srv.key\"}"
json_valid "$W/vaultd.json"
vd_start "$W/vaultd.json"
vd_expect 200 GET /v1/ready

# issue KEY ALG OUT: a token from vaultd in OUT, its kid (from the response)
# in OUT.kid; the header must name the same kid.
issue() {
	local key=$1 alg=$2 out=$3 extra=""
	[ "$alg" != PS256 ] || extra=', "alg": "PS256"'
	printf '{"claims": {"sub": "alice", "aud": "%s", "scope": "read"}, "ttl": 600%s}\n' "$AUD" "$extra" >"$W/issue.json"
	vd_expect 200 POST "/v1/jwt/$key/issue" -H @"$W/auth.hdr" -H 'Content-Type: application/json' \
		--data-binary @"$W/issue.json"
	json_get "$VD_BODY" token >"$out"
	json_get "$VD_BODY" kid >"$out.kid"
	[ -s "$out.kid" ] || fail "no kid in the issue response for $key"
	python3 - "$out" "$(cat "$out.kid")" "$alg" <<'EOF' || fail "header of the $alg token from $key"
import base64, json, sys
h = open(sys.argv[1]).read().strip().split(".")[0]
h = json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4)))
assert h.get("kid") == sys.argv[2], "header kid %r, response kid %r" % (h.get("kid"), sys.argv[2])
assert h.get("alg") == sys.argv[3], "header alg %r" % h.get("alg")
EOF
}

# kid_in_jwks KID: 0 if GET /.well-known/jwks.json lists KID now.
kid_in_jwks() {
	vd_expect 200 GET /.well-known/jwks.json
	python3 -c 'import json,sys; sys.exit(0 if any(k.get("kid") == sys.argv[2] for k in json.load(open(sys.argv[1]))["keys"]) else 1)' \
		"$VD_BODY" "$1"
}

# wait_jwks present|absent KID: poll the JWK Set for up to 20 s (vaultd
# refreshes key metadata every 5 s).
wait_jwks() {
	local i
	for ((i = 0; i < 40; i++)); do
		if kid_in_jwks "$2"; then
			[ "$1" = absent ] || return 0
		else
			[ "$1" = present ] || return 0
		fi
		sleep 0.5
	done
	fail "kid $2 still not $1 in the JWK Set after 20 s"
}

# flip_sig IN OUT: the same token with one signature byte changed.
flip_sig() {
	python3 - "$1" "$2" <<'EOF'
import base64, sys
h, p, s = open(sys.argv[1]).read().strip().split(".")
b = bytearray(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
b[len(b) // 2] ^= 0x01
s = base64.urlsafe_b64encode(bytes(b)).decode().rstrip("=")
open(sys.argv[2], "w").write("%s.%s.%s\n" % (h, p, s))
EOF
}

KEYS="p256:ES256 p384:ES384 secp256k1:ES256K ed25519:EdDSA rsa2048:RS256 rsa2048:PS256"

# ---- every algorithm ----

say "tokens of every algorithm verify in jose against the served JWK Set"
cases=()
for ka in $KEYS; do
	k=${ka%%:*} a=${ka#*:}
	issue "jose-$k" "$a" "$W/v1-$a.jwt"
	cases+=("$W/v1-$a.jwt:$a:$(cat "$W/v1-$a.jwt.kid"):ok")
done
for a in ES256 EdDSA RS256 ES256K; do
	flip_sig "$W/v1-$a.jwt" "$W/bad-$a.jwt"
	cases+=("$W/bad-$a.jwt:$a:$(cat "$W/v1-$a.jwt.kid"):ERR_JWS_SIGNATURE_VERIFICATION_FAILED")
done
jose_check socket "${cases[@]}"
assert_contains "$RUN_OUT" "jwt_jose: 10 as expected, 0 not"
jose_check tls "${cases[@]}"
assert_contains "$RUN_OUT" "jwt_jose: 10 as expected, 0 not"
say "jose refuses the TLS listener without the test CA"
run_expect 2 env -u NODE_EXTRA_CA_CERTS node "$NODE_DIR/jwt_jose.mjs" --jwks-url "https://127.0.0.1:$PORT/.well-known/jwks.json" \
	--issuer "$ISS" --audience "$AUD" "${cases[0]}"
assert_contains "$RUN_ERR" "cannot fetch the JWK Set"

# ---- rotation ----

say "rotation by vaultctl while vaultd runs: the new kid is served and signs"
# p256 the careful way (docs/jwt.md runbook): publish next, then activate.
run_expect 0 vc key rotate jose-p256 --next
run_expect 0 vc key show jose-p256 --format jwk --version 2
json_get "$RUN_OUT" kid >"$W/p256-v2.kid"
wait_jwks present "$(cat "$W/p256-v2.kid")"
issue jose-p256 ES256 "$W/next-ES256.jwt"
assert_eq "$(cat "$W/next-ES256.jwt.kid")" "$(cat "$W/v1-ES256.jwt.kid")" "kid while version 2 is only next"
run_expect 0 vc key activate jose-p256 --version 2
for k in p384 secp256k1 ed25519 rsa2048; do
	run_expect 0 vc key rotate "jose-$k"
done
# the new versions sign once vaultd has seen the rotation (metadata TTL)
cases=()
for ka in $KEYS; do
	k=${ka%%:*} a=${ka#*:}
	for ((i = 0; i < 40; i++)); do
		issue "jose-$k" "$a" "$W/v2-$a.jwt"
		[ "$(cat "$W/v2-$a.jwt.kid")" = "$(cat "$W/v1-$a.jwt.kid")" ] || break
		sleep 0.5
	done
	[ "$(cat "$W/v2-$a.jwt.kid")" != "$(cat "$W/v1-$a.jwt.kid")" ] ||
		fail "jose-$k ($a) still signs with its old kid 20 s after the rotation"
	cases+=("$W/v2-$a.jwt:$a:$(cat "$W/v2-$a.jwt.kid"):ok")
	cases+=("$W/v1-$a.jwt:$a:$(cat "$W/v1-$a.jwt.kid"):ok")
done
assert_eq "$(cat "$W/v2-ES256.jwt.kid")" "$(cat "$W/p256-v2.kid")" "kid of jose-p256 after activate"
assert_eq "$(cat "$W/v2-RS256.jwt.kid")" "$(cat "$W/v2-PS256.jwt.kid")" "RS256 and PS256 kid of one RSA key"

say "after the rotation: new tokens and the old ones (verify-only) verify in jose"
jose_check tls "${cases[@]}" "$W/next-ES256.jwt:ES256:$(cat "$W/v1-ES256.jwt.kid"):ok"
assert_contains "$RUN_OUT" "jwt_jose: 13 as expected, 0 not"

# ---- retirement ----

say "after key retire (and POST /v1/admin/reload) the old tokens no longer verify"
for k in p256 p384 secp256k1 ed25519 rsa2048; do
	run_expect 0 vc key retire "jose-$k" --version 1
done
vd_expect 200 POST /v1/admin/reload -H @"$W/auth.hdr"
for ka in $KEYS; do
	wait_jwks absent "$(cat "$W/v1-${ka#*:}.jwt.kid")"
done
cases=()
for ka in $KEYS; do
	a=${ka#*:}
	cases+=("$W/v1-$a.jwt:$a:$(cat "$W/v1-$a.jwt.kid"):ERR_JWKS_NO_MATCHING_KEY")
	cases+=("$W/v2-$a.jwt:$a:$(cat "$W/v2-$a.jwt.kid"):ok")
done
cases+=("$W/next-ES256.jwt:ES256:$(cat "$W/v1-ES256.jwt.kid"):ERR_JWKS_NO_MATCHING_KEY")
jose_check socket "${cases[@]}"
assert_contains "$RUN_OUT" "jwt_jose: 13 as expected, 0 not"

# ---- attacks ----


# verify_reason FILE: POST /v1/jwt/verify with the token in FILE; prints
# "valid" or the reason vaultd gives.
verify_reason() {
	python3 -c 'import json,sys; json.dump({"token": open(sys.argv[1]).read().strip()}, open(sys.argv[2], "w"))' \
		"$1" "$W/verify.json"
	vd_expect 200 POST /v1/jwt/verify -H @"$W/auth.hdr" -H 'Content-Type: application/json' \
		--data-binary @"$W/verify.json"
	python3 -c 'import json,sys; d = json.load(open(sys.argv[1])); print("valid" if d["valid"] else d["reason"])' "$VD_BODY"
}

# expect_reason WANT FILE
expect_reason() {
	local got
	got=$(verify_reason "$2")
	assert_eq "$got" "$1" "/v1/jwt/verify of $(basename "$2")"
	echo "/v1/jwt/verify $(basename "$2"): $got"
}

say "jwt.issue under a rule with audiences: a request without aud is 403 naming the claim"
printf '{"claims": {"sub": "alice"}}\n' >"$W/noaud.json"
vd_expect 403 POST /v1/jwt/jose-p256/issue -H @"$W/auth.hdr" -H 'Content-Type: application/json' \
	--data-binary @"$W/noaud.json"
assert_eq "$(vd_error_code)" forbidden "error code"
assert_contains "$VD_BODY" "'aud'"

say "a JWT forged through POST /v1/keys/forge-p256/sign (format jose): refused by jose and by vaultd"
run_expect 0 vc key show forge-p256 --format jwk
forge_kid=$(json_get "$RUN_OUT" kid)
kid_in_jwks "$forge_kid" && fail "the JWK Set lists a key of purpose sign"
p256_kid=$(cat "$W/v2-ES256.jwt.kid")
now=$(date +%s)
for kid in "$forge_kid" "$p256_kid"; do
	jws input "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"$kid\"}" \
		"{\"sub\":\"mallory\",\"aud\":\"$AUD\",\"iss\":\"$ISS\",\"iat\":$now,\"nbf\":$now,\"exp\":$((now + 300)),\"jti\":\"AAAAAAAAAAAAAAAAAAAAAA\"}" \
		>"$W/forged.input"
	python3 -c 'import base64,json,sys; json.dump({"input_b64": base64.b64encode(open(sys.argv[1]).read().strip().encode()).decode(), "format": "jose"}, open(sys.argv[2], "w"))' \
		"$W/forged.input" "$W/sign.json"
	vd_expect 200 POST /v1/keys/forge-p256/sign -H @"$W/auth.hdr" -H 'Content-Type: application/json' \
		--data-binary @"$W/sign.json"
	jws join "$(cat "$W/forged.input")" "$(json_get "$VD_BODY" signature_b64)" >"$W/forged-$kid.jwt"
done
# the forged signature is a good ES256 signature by forge-p256 (vaultd says so)
python3 -c 'import json,sys; t = open(sys.argv[1]).read().strip(); json.dump({"input_b64": __import__("base64").b64encode(t.rsplit(".", 1)[0].encode()).decode(), "format": "jose", "signature_b64": t.rsplit(".", 1)[1]}, open(sys.argv[2], "w"))' \
	"$W/forged-$forge_kid.jwt" "$W/vf.json"
vd_expect 200 POST /v1/keys/forge-p256/verify -H @"$W/auth.hdr" -H 'Content-Type: application/json' \
	--data-binary @"$W/vf.json"
assert_contains "$VD_BODY" '"valid":true'
jose_check socket "$W/forged-$forge_kid.jwt:ES256:$forge_kid:ERR_JWKS_NO_MATCHING_KEY" \
	"$W/forged-$p256_kid.jwt:ES256:$p256_kid:ERR_JWS_SIGNATURE_VERIFICATION_FAILED"
assert_contains "$RUN_OUT" "jwt_jose: 2 as expected, 0 not"
expect_reason unknown_kid "$W/forged-$forge_kid.jwt"
expect_reason bad_signature "$W/forged-$p256_kid.jwt"

say "the high-S twin of a valid ES256 token: jose accepts it, vaultd refuses it"
issue jose-p256 ES256 "$W/lows.jwt"
expect_reason valid "$W/lows.jwt"
jws is-low ES256 "$W/lows.jwt" || fail "vaultd issued a high-S ES256 token"
jws twin ES256 "$W/lows.jwt" >"$W/highs.jwt"
jose_check socket "$W/highs.jwt:ES256:$(cat "$W/lows.jwt.kid"):ok"
expect_reason bad_signature "$W/highs.jwt"

say "claims vaultd never issues, signed with jose-p256 itself outside vaultd (pkcs11-tool)"
need_cmd pkcs11-tool
p11id=$(uri_attr "$(vc key show jose-p256 --format uri)" id)
[ -n "$p11id" ] || fail "no id in the URI of jose-p256"
# forge PAYLOAD OUT: ES256 with the active jose-p256 version's kid, low-S
forge() { jwt_forge_p11 "$p11id" "$p256_kid" "$1" "$2"; }
now=$(date +%s)
claims="\"sub\":\"x\",\"aud\":\"$AUD\",\"iss\":\"$ISS\",\"jti\":\"AAAAAAAAAAAAAAAAAAAAAA\""
forge "{$claims,\"iat\":$now,\"nbf\":$now,\"exp\":$((now + 900))}" "$W/at-cap.jwt"
expect_reason valid "$W/at-cap.jwt" # the rule's max_ttl exactly: forging works
forge "{$claims,\"iat\":$now,\"nbf\":$now,\"exp\":1e300}" "$W/exp-1e300.jwt"
expect_reason malformed "$W/exp-1e300.jwt"
forge "{$claims,\"iat\":$now,\"nbf\":$now,\"exp\":$((now + 901))}" "$W/over-cap.jwt"
expect_reason lifetime "$W/over-cap.jwt"
forge "{$claims,\"nbf\":$now,\"exp\":$((now + 60))}" "$W/no-iat.jwt"
expect_reason lifetime "$W/no-iat.jwt"
# jose has no policy to know better: it takes both
jose_check socket "$W/over-cap.jwt:ES256:$p256_kid:ok"

say "a reload that lowers max_ttl: tokens issued for longer are refused as lifetime"
expect_reason valid "$W/lows.jwt" # ttl 600
vd_json_set "$W/vaultd.json" 'clients.0.rules.0.max_ttl=60'
vd_expect 200 POST /v1/admin/reload -H @"$W/auth.hdr"
expect_reason lifetime "$W/lows.jwt"
issue jose-p256 ES256 "$W/short.jwt" # ttl 600 asked, 60 granted
expect_reason valid "$W/short.jwt"

say "vaultd stops cleanly; the bearer token is in no log"
assert_eq "$(vd_stop)" 0 "vaultd exit status"
for f in "$PV_OUT"/vaultd*.log "$PV_OUT/audit.log"; do
	[ ! -e "$f" ] || assert_not_contains "$f" "${BEARER#pvt_}" "the bearer token appears in $(basename "$f")"
done
echo "vaultd_jose_interop: ok"
