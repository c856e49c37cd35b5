#!/bin/bash
# vaultd's HTTP API (docs/api.md) over the Unix socket with curl: every
# endpoint; signatures, JWTs and ECDH secrets checked by OpenSSL against the
# public keys the API serves; the authentication/authorization/rate matrix;
# bad input (malformed JSON, wrong types, unknown members, oversized body,
# unknown key, wrong algorithm) refused without signing anything and without
# taking the server down; one audit line per request, and the audit log
# verifies with `vaultctl audit verify` (an edited copy fails at the edited
# line). Bearer tokens, a secret value and a planted input never reach the
# vaultd log or the audit log.
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/vaultd.sh"
vd_need
need_cmd basenc

W=$PV_WORK
CFG=$W/vaultd.json
AUDIT=$PV_OUT/audit.log
PLANTED_INPUT="planted-input-$(openssl rand -hex 12)"
SECRET_VALUE="planted-secret-$(openssl rand -hex 12)"

# call METHOD PATH TOKEN [CURL ARGS...]: vd_call with a bearer token ("-":
# none); every response body is kept under $PV_OUT.
ncall=0 nprobe=0
call() {
	local method=$1 path=$2 tok=$3 auth=()
	shift 3
	[ "$tok" = - ] || auth=(-H "Authorization: Bearer $tok")
	# curl leaves the output file alone for an empty body (304)
	rm -f "$VD_BODY"
	vd_call "$method" "$path" "${auth[@]}" "$@"
	touch "$VD_BODY"
	ncall=$((ncall + 1))
	case $path in /v1/health | /v1/ready) nprobe=$((nprobe + 1)) ;; esac # not audited
	cp "$VD_BODY" "$PV_OUT/body.$(printf '%03d' "$ncall").json"
}
# expect STATUS METHOD PATH TOKEN [CURL ARGS...]
expect() {
	local want=$1
	shift
	call "$@"
	[ "$VD_STATUS" = "$want" ] || {
		head -c 2000 "$VD_BODY" >&2
		echo >&2
		fail "$1 $2: status $VD_STATUS, want $want"
	}
}
# post STATUS PATH TOKEN JSON
post() {
	expect "$1" POST "$2" "$3" -H 'Content-Type: application/json' --data-binary "$4"
}
# expect_error STATUS CODE METHOD PATH TOKEN [CURL ARGS...]
expect_error() {
	local code=$2
	expect "$1" "${@:3}"
	assert_eq "$(vd_error_code)" "$code" "error code of $3 $4"
}
post_error() { # STATUS CODE PATH TOKEN JSON
	expect_error "$1" "$2" POST "$3" "$4" -H 'Content-Type: application/json' --data-binary "$5"
}
body() { json_get "$VD_BODY" "$@"; }
b64() { base64 -w0 "$@"; }
# save the value at PATH of the last body, base64-decoded, to FILE
body_b64_to() { # FILE PATH...
	local f=$1
	shift
	body "$@" | base64 -d >"$f" || fail "not base64: $*"
}
audit_records() { # python filter over the records of the audit log -> requests they stand for
	python3 - "$AUDIT" "$1" <<'EOF'
import json, sys
n = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if "type" in r:
        continue
    if eval(sys.argv[2]):
        n += r.get("count", 1)  # failed authentications are aggregated per peer
print(n)
EOF
}

say "keys and clients"
# one key per purpose: sign keys of every algorithm, JWT keys, an HMAC
# derivation key and a P-256 ECDH key
for spec in ec:p256:sign k1:secp256k1:sign ed:ed25519:sign rsa:rsa2048:sign mac:hmac-sha256:sign \
	jwt-ec:p256:jwt jwt-rsa:rsa2048:jwt dmac:hmac-sha256:derive dh:p256:derive; do
	IFS=: read -r name alg purpose <<<"$spec"
	run_expect 0 vc key create "$name" --alg "$alg" --purpose "$purpose"
done
vd_audit_key audit-hmac
# tokens from `vaultctl client add`: the token on stdout (kept out of
# $PV_OUT), the config entry with only its hash on stderr
new_client() { # NAME [--role admin] -> token on stdout; entry in $W/NAME.entry
	local name=$1
	shift
	vc client add "$@" "$name" 2>"$W/$name.entry" || fail "client add $name"
}
entry_hash() { python3 -c 'import json,sys
for l in open(sys.argv[1]):
    if l.startswith("{"): print(json.loads(l)["auth"]["token_sha256"])' "$W/$1.entry"; }
TOK_APP=$(new_client app)
TOK_READER=$(new_client reader)
TOK_SLOW=$(new_client slow)
TOK_OPS=$(new_client ops --role admin)
TOK_WRONG=$(vd_new_token)
ALL_TOKENS="$TOK_APP $TOK_READER $TOK_SLOW $TOK_OPS $TOK_WRONG"

vd_base_config "[
  {\"name\": \"app\", \"auth\": {\"token_sha256\": \"$(entry_hash app)\"},
   \"rules\": [
     {\"ops\": [\"jwt.issue\"], \"keys\": [\"jwt-*\", \"e?\"], \"max_ttl\": 600, \"audiences\": [\"api\"]},
     {\"ops\": [\"keys.read\", \"sign\", \"verify\"], \"keys\": [\"ec\", \"k1\", \"ed\", \"rsa\", \"mac\"]},
     {\"ops\": [\"keys.read\", \"derive\", \"ecdh\"], \"keys\": [\"dmac\", \"dh\"]},
     {\"ops\": [\"keys.read\", \"sign\"], \"keys\": [\"jwt-*\"]}],
   \"rate\": {\"per_second\": 1000, \"burst\": 1000}},
  {\"name\": \"reader\", \"auth\": {\"token_sha256\": \"$(entry_hash reader)\"},
   \"rules\": [{\"ops\": [\"keys.read\"], \"keys\": [\"ec\"]}]},
  {\"name\": \"slow\", \"auth\": {\"token_sha256\": \"$(entry_hash slow)\"},
   \"rules\": [{\"ops\": [\"sign\"], \"keys\": [\"ec\"]}],
   \"rate\": {\"per_second\": 0.01, \"burst\": 3}},
  {\"name\": \"ops\", \"role\": \"admin\", \"auth\": {\"token_sha256\": \"$(entry_hash ops)\"},
   \"rules\": [{\"ops\": [\"secrets.read\"], \"keys\": [\"APP_DB_PASSWORD\"]}]}
]" '"jwt": {"issuer": "https://vaultd.test", "default_ttl": 120},
  "limits": {"max_body_bytes": 8192},
  "secrets": {"environment": ["APP_DB_PASSWORD", "APP_OTHER"]}' >"$CFG"
json_valid "$CFG"
export APP_DB_PASSWORD=$SECRET_VALUE APP_OTHER=other-value
vd_start "$CFG"
unset APP_DB_PASSWORD APP_OTHER

say "service endpoints"
expect 200 GET /v1/health -
assert_eq "$(body status)" ok
[ -n "$(vd_header X-Request-Id)" ] || fail "no X-Request-Id"
expect 200 GET /v1/ready -
assert_eq "$(body status)" ready
assert_eq "$(body token)" "$PV_TOKEN_LABEL"
assert_eq "$(body bundle_version)" None "bundle_version without a bundle"
expect 200 GET /metrics "$TOK_APP"
assert_contains "$VD_BODY" "p11vault_requests_total"
case $(vd_header Content-Type) in text/plain*) ;; *) fail "metrics content type $(vd_header Content-Type)" ;; esac
expect 200 GET /metrics "$TOK_OPS"
expect_error 403 forbidden GET /metrics "$TOK_SLOW"

say "key listing and details"
expect 200 GET /v1/keys "$TOK_APP"
names=$(python3 -c 'import json,sys; print(" ".join(k["name"] for k in json.load(open(sys.argv[1]))["keys"]))' "$VD_BODY")
assert_eq "$names" "dh dmac ec ed jwt-ec jwt-rsa k1 mac rsa" "keys listed to app"
# every key shows its purpose (and its usage); the audit key is never listed
python3 - "$VD_BODY" <<'EOF' || fail "purposes in the key listing"
import json, sys
want = {"dh": "derive", "dmac": "derive", "ec": "sign", "ed": "sign", "jwt-ec": "jwt", "jwt-rsa": "jwt",
        "k1": "sign", "mac": "sign", "rsa": "sign"}
got = {k["name"]: k["purpose"] for k in json.load(open(sys.argv[1]))["keys"]}
assert got == want, got
assert all("usage" in k for k in json.load(open(sys.argv[1]))["keys"])
EOF
expect 200 GET /v1/keys "$TOK_READER"
names=$(python3 -c 'import json,sys; print(" ".join(k["name"] for k in json.load(open(sys.argv[1]))["keys"]))' "$VD_BODY")
assert_eq "$names" "ec" "keys listed to reader"
for k in ec k1 ed rsa jwt-ec jwt-rsa; do
	expect 200 GET "/v1/keys/$k" "$TOK_APP"
	assert_eq "$(body name)" "$k"
	assert_eq "$(body versions 0 state)" active
	body versions 0 public_key_pem >"$W/$k.pem"
	openssl pkey -pubin -in "$W/$k.pem" -noout 2>/dev/null || fail "PEM of $k does not parse"
	# the kid is the RFC 7638 thumbprint of the served JWK
	python3 - "$VD_BODY" <<'EOF' || fail "kid of $k is not the RFC 7638 thumbprint of its JWK"
import base64, hashlib, json, sys
v = json.load(open(sys.argv[1]))["versions"][0]
k = v["jwk"]
req = {"EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x"), "RSA": ("e", "kty", "n")}[k["kty"]]
s = json.dumps({m: k[m] for m in req}, separators=(",", ":"), sort_keys=True)
t = base64.urlsafe_b64encode(hashlib.sha256(s.encode()).digest()).decode().rstrip("=")
assert v["kid"] == t == k["kid"], (v["kid"], t)
EOF
done
cmp -s <(openssl pkey -pubin -in "$W/ec.pem" -outform DER) \
	<(vc key show ec --format pem | openssl pkey -pubin -outform DER) || fail "the served PEM of ec is not vaultctl's"
expect 200 GET /v1/keys/mac "$TOK_APP"
assert_eq "$(body alg)" hmac-sha256
assert_eq "$(body purpose)" sign
assert_eq "$(body versions 0 kid)" None "kid of an HMAC key"
expect_error 404 key_not_found GET /v1/keys/jwt-nope "$TOK_APP"
# outside the client's rules it is 403 whether the key exists or not
expect_error 403 forbidden GET /v1/keys/nope "$TOK_APP"
expect_error 403 forbidden GET /v1/keys/audit-hmac "$TOK_APP"
expect_error 403 forbidden GET /v1/keys/k1 "$TOK_READER"

say "sign: every key type, checked by OpenSSL"
printf '%s' "$PLANTED_INPUT" >"$W/msg"
MSG_B64=$(b64 "$W/msg")
n_signed=0
sign() { # KEY JSON-MEMBERS -> signature bytes in $W/sig (base64-decoded unless jose)
	post 200 "/v1/keys/$1/sign" "$TOK_APP" "{\"input_b64\":\"$MSG_B64\"$2}"
	n_signed=$((n_signed + 1))
	assert_eq "$(body name)" "$1"
	assert_eq "$(body version)" 1
	body_b64_to "$W/sig" signature_b64
}
sign ec ',"format":"der"'
assert_eq "$(body alg)" p256
assert_eq "$(body format)" der
ossl_verify_ecdsa sha256 "$W/ec.pem" "$W/msg" "$W/sig" || fail "OpenSSL rejects the p256 DER signature"
sign ec ''
assert_eq "$(body format)" raw
assert_size "$W/sig" 64
ecdsa_raw_to_der "$W/sig" "$W/sig.der"
ossl_verify_ecdsa sha256 "$W/ec.pem" "$W/msg" "$W/sig.der" || fail "OpenSSL rejects the p256 raw signature"
post 200 /v1/keys/ec/sign "$TOK_APP" "{\"input_b64\":\"$MSG_B64\",\"format\":\"jose\"}"
n_signed=$((n_signed + 1))
[[ $(body signature_b64) =~ ^[A-Za-z0-9_-]{86}$ ]] || fail "jose signature is not 64 bytes of base64url"
sign k1 ',"format":"der"'
ossl_verify_ecdsa sha256 "$W/k1.pem" "$W/msg" "$W/sig" || fail "OpenSSL rejects the secp256k1 signature"
sign ed ''
assert_size "$W/sig" 64
ossl_verify_ed25519 "$W/ed.pem" "$W/msg" "$W/sig" || fail "OpenSSL rejects the ed25519 signature"
sign rsa ''
ossl_verify_rsa sha256 pkcs1 "$W/rsa.pem" "$W/msg" "$W/sig" || fail "OpenSSL rejects the RSA PKCS#1 signature"
sign rsa ',"padding":"pss","digest":"sha384"'
ossl_verify_rsa sha384 pss "$W/rsa.pem" "$W/msg" "$W/sig" || fail "OpenSSL rejects the RSA PSS signature"
# a digest computed by the caller
sha sha256 "$W/msg" >"$W/digest"
post 200 /v1/keys/ec/sign "$TOK_APP" "{\"digest_b64\":\"$(b64 "$W/digest")\",\"digest\":\"sha256\",\"format\":\"der\"}"
n_signed=$((n_signed + 1))
body_b64_to "$W/sig" signature_b64
ossl_verify_ecdsa_digest "$W/ec.pem" "$W/digest" "$W/sig" || fail "OpenSSL rejects the signature over a digest"
# a tampered message fails OpenSSL (the checks above can fail)
printf 'x' >>"$W/msg"
! ossl_verify_ecdsa_digest "$W/ec.pem" <(sha sha256 "$W/msg") "$W/sig" || fail "OpenSSL accepts a wrong digest"
printf '%s' "$PLANTED_INPUT" >"$W/msg"

say "verify: 200 with valid true or false"
post 200 /v1/keys/ec/sign "$TOK_APP" "{\"input_b64\":\"$MSG_B64\",\"format\":\"der\"}"
n_signed=$((n_signed + 1))
SIG=$(body signature_b64)
post 200 /v1/keys/ec/verify "$TOK_APP" "{\"input_b64\":\"$MSG_B64\",\"format\":\"der\",\"signature_b64\":\"$SIG\"}"
assert_eq "$(body valid)" True
assert_eq "$(body version)" 1
post 200 /v1/keys/ec/verify "$TOK_APP" "{\"input_b64\":\"$(printf 'other' | b64)\",\"format\":\"der\",\"signature_b64\":\"$SIG\"}"
assert_eq "$(body valid)" False
post 200 /v1/keys/ec/verify "$TOK_APP" "{\"input_b64\":\"$MSG_B64\",\"signature_b64\":\"$(printf 'short' | b64)\"}"
assert_eq "$(body valid)" False "a malformed signature"
post 200 /v1/keys/mac/sign "$TOK_APP" "{\"input_b64\":\"$MSG_B64\"}"
n_signed=$((n_signed + 1))
MAC_SIG=$(body signature_b64)
post 200 /v1/keys/mac/verify "$TOK_APP" "{\"input_b64\":\"$MSG_B64\",\"signature_b64\":\"$MAC_SIG\"}"
assert_eq "$(body valid)" True "HMAC verify"

say "JWT: issue, verify (API and OpenSSL), caps, JWKS"
post 200 /v1/jwt/jwt-ec/issue "$TOK_APP" '{"claims":{"sub":"alice","aud":"api"},"ttl":60}'
body token >"$W/jwt"
KID=$(body kid)
EXP=$(body exp)
IFS=. read -r H P S <"$W/jwt"
printf '%s.%s' "$H" "$P" >"$W/jwt.input"
b64url_dec() { local t=$1; while [ $((${#t} % 4)) != 0 ]; do t="$t="; done; printf '%s' "$t" | basenc --base64url -d; }
b64url_dec "$S" >"$W/jwt.sig"
b64url_dec "$P" >"$W/jwt.payload"
ecdsa_raw_to_der "$W/jwt.sig" "$W/jwt.sig.der"
ossl_verify_ecdsa sha256 "$W/jwt-ec.pem" "$W/jwt.input" "$W/jwt.sig.der" || fail "OpenSSL rejects the ES256 JWT"
assert_eq "$(json_get "$W/jwt.payload" exp)" "$EXP"
assert_eq "$(json_get "$W/jwt.payload" iss)" "https://vaultd.test"
assert_eq "$(($(json_get "$W/jwt.payload" exp) - $(json_get "$W/jwt.payload" iat)))" 60 "ttl"
expect 200 GET /v1/keys/jwt-ec "$TOK_APP"
assert_eq "$(body versions 0 kid)" "$KID" "JWT kid"
post 200 /v1/jwt/verify "$TOK_APP" "{\"token\":\"$(cat "$W/jwt")\"}"
assert_eq "$(body valid)" True
assert_eq "$(body claims sub)" alice
assert_eq "$(body kid)" "$KID"
c=${S:10:1}
[ "$c" = A ] && c=B || c=A
post 200 /v1/jwt/verify "$TOK_APP" "{\"token\":\"$H.$P.${S:0:10}$c${S:11}\"}"
assert_eq "$(body valid)" False
assert_eq "$(body reason)" bad_signature
post 200 /v1/jwt/verify "$TOK_APP" '{"token":"not.a.jwt!"}'
assert_eq "$(body reason)" malformed
# RS256 by default, PS256 on request; both verify with OpenSSL
for alg in RS256 PS256; do
	post 200 /v1/jwt/jwt-rsa/issue "$TOK_APP" "{\"claims\":{\"sub\":\"bob\",\"aud\":\"api\"},\"alg\":\"$alg\"}"
	IFS=. read -r H P S <<<"$(body token)"
	printf '%s.%s' "$H" "$P" >"$W/jwt.input"
	b64url_dec "$S" >"$W/jwt.sig"
	pad=pkcs1
	[ $alg = RS256 ] || pad=pss
	ossl_verify_rsa sha256 $pad "$W/jwt-rsa.pem" "$W/jwt.input" "$W/jwt.sig" || fail "OpenSSL rejects the $alg JWT"
done
# default TTL from the config, capped by the rule's max_ttl
post 200 /v1/jwt/jwt-ec/issue "$TOK_APP" '{"claims":{"aud":"api"}}'
body token | cut -d. -f2 | { read -r p; b64url_dec "$p"; } >"$W/jwt.payload"
assert_eq "$(($(json_get "$W/jwt.payload" exp) - $(json_get "$W/jwt.payload" iat)))" 120 "default ttl"
post 200 /v1/jwt/jwt-ec/issue "$TOK_APP" '{"ttl":86400,"claims":{"aud":"api"}}'
body token | cut -d. -f2 | { read -r p; b64url_dec "$p"; } >"$W/jwt.payload"
assert_eq "$(($(json_get "$W/jwt.payload" exp) - $(json_get "$W/jwt.payload" iat)))" 600 "capped ttl"
post_error 403 forbidden /v1/jwt/jwt-ec/issue "$TOK_APP" '{"claims":{"aud":"web"}}'
# under a rule with audiences, aud is required
post_error 403 forbidden /v1/jwt/jwt-ec/issue "$TOK_APP" '{"claims":{"sub":"x"}}'
assert_contains "$VD_BODY" "'aud'"
post_error 403 forbidden /v1/jwt/jwt-ec/issue "$TOK_APP" '{"claims":{"iat":1}}'
# a JWT grant on a sign key, a sign grant on a JWT key: the purpose refuses
post_error 403 wrong_purpose /v1/jwt/ec/issue "$TOK_APP" '{}'
assert_contains "$VD_BODY" "purpose sign"
post_error 403 wrong_purpose /v1/keys/jwt-ec/sign "$TOK_APP" "{\"input_b64\":\"$MSG_B64\"}"
post_error 403 forbidden /v1/jwt/k1/issue "$TOK_APP" '{}'
# alg: only the key's own (or PS256 for RSA); none, HS256, another's: 400
for alg in PS256 none HS256 ES384 EdDSA RS256 nonsense; do
	post_error 400 wrong_algorithm /v1/jwt/jwt-ec/issue "$TOK_APP" "{\"alg\":\"$alg\"}"
done
post_error 400 wrong_algorithm /v1/jwt/jwt-rsa/issue "$TOK_APP" '{"alg":"none"}'
post_error 400 bad_request /v1/jwt/jwt-ec/issue "$TOK_APP" '{"alg":5}'
post 200 /v1/jwt/jwt-ec/issue "$TOK_APP" '{"alg":"ES256","claims":{"aud":"api"}}'
expect 200 GET /.well-known/jwks.json -
assert_eq "$(vd_header Cache-Control)" "public, max-age=60"
ETAG=$(vd_header ETag)
[ -n "$ETAG" ] || fail "no ETag on the JWK Set"
python3 - "$VD_BODY" "$KID" <<'EOF' || fail "the JWK Set lacks the jwt-ec kid"
import json, sys
assert any(k["kid"] == sys.argv[2] for k in json.load(open(sys.argv[1]))["keys"])
EOF
expect 304 GET /.well-known/jwks.json - -H "If-None-Match: $ETAG"
assert_size "$VD_BODY" 0
expect 200 GET /.well-known/jwks.json - -H 'If-None-Match: "other"'

say "derive and ECDH"
post 200 /v1/derive/dmac "$TOK_APP" '{"context":"tenant-42"}'
MAC1=$(body mac_b64)
[ "$(printf '%s' "$MAC1" | base64 -d | wc -c)" = 32 ] || fail "mac_b64 is not 32 bytes"
post 200 /v1/derive/dmac "$TOK_APP" '{"context":"tenant-42"}'
assert_eq "$(body mac_b64)" "$MAC1" "same context, same value"
post 200 /v1/derive/dmac "$TOK_APP" '{"context":"tenant-43"}'
[ "$(body mac_b64)" != "$MAC1" ] || fail "another context gave the same value"
post_error 400 bad_request /v1/derive/dmac "$TOK_APP" "{\"context\":\"$(head -c 1025 /dev/zero | tr '\0' a)\"}"
# a derive key of the other algorithm: the purpose fits, the algorithm not
post_error 400 wrong_algorithm /v1/derive/dh "$TOK_APP" '{"context":"x"}'
post_error 403 forbidden /v1/derive/ec "$TOK_APP" '{"context":"x"}'
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$W/peer.key" 2>/dev/null
openssl pkey -in "$W/peer.key" -pubout -out "$W/peer.pem"
PEER_JSON=$(python3 -c 'import json,sys; print(json.dumps({"peer_public_key_pem": open(sys.argv[1]).read()}))' "$W/peer.pem")
post 200 /v1/ecdh/dh "$TOK_APP" "$PEER_JSON"
body_b64_to "$W/shared" shared_secret_b64
expect 200 GET /v1/keys/dh "$TOK_APP"
body versions 0 public_key_pem >"$W/dh.pem"
openssl pkeyutl -derive -inkey "$W/peer.key" -peerkey "$W/dh.pem" -out "$W/shared.ossl" 2>/dev/null
assert_same_file "$W/shared" "$W/shared.ossl" "ECDH secret differs from OpenSSL's"
post_error 400 wrong_algorithm /v1/ecdh/dmac "$TOK_APP" "$PEER_JSON"
post_error 403 forbidden /v1/ecdh/ec "$TOK_APP" "$PEER_JSON"
post_error 400 bad_request /v1/ecdh/dh "$TOK_APP" '{"peer_public_key_pem":"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}'
openssl pkey -in "$W/peer.key" -pubout 2>/dev/null >/dev/null
PEER384=$(openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 2>/dev/null | openssl pkey -pubout 2>/dev/null |
	python3 -c 'import json,sys; print(json.dumps({"peer_public_key_pem": sys.stdin.read()}))')
post_error 400 bad_request /v1/ecdh/dh "$TOK_APP" "$PEER384"

say "secrets"
expect 200 GET /v1/secrets "$TOK_OPS"
python3 - "$VD_BODY" <<'EOF' || fail "secret listing"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["bundle_version"] is None, d
s = {e["name"]: e for e in d["secrets"]}
assert set(s) == {"APP_DB_PASSWORD", "APP_OTHER"}, d
assert s["APP_OTHER"] == {"name": "APP_OTHER", "kind": "env", "origin": "environment", "size": 11}, s
EOF
assert_not_contains "$VD_BODY" "$SECRET_VALUE"
expect 200 GET /v1/secrets/APP_DB_PASSWORD "$TOK_OPS"
assert_eq "$(body value_b64 | base64 -d)" "$SECRET_VALUE"
# the admin role lists, but reading a value needs an explicit rule
expect_error 403 forbidden GET /v1/secrets/APP_OTHER "$TOK_OPS"
expect_error 403 forbidden GET /v1/secrets "$TOK_APP"
expect_error 403 forbidden GET /v1/secrets/APP_DB_PASSWORD "$TOK_APP"

say "authentication, authorization and rate limit"
expect_error 401 unauthenticated GET /v1/keys -
expect_error 401 unauthenticated GET /v1/keys "$TOK_WRONG"
expect_error 401 unauthenticated GET /v1/keys - -H "Authorization: Basic YTpi"
# present but empty, or Bearer without a token (curl sends "X;" as an empty header)
expect_error 401 unauthenticated GET /v1/keys - -H "Authorization;"
expect_error 401 unauthenticated GET /v1/keys - -H "Authorization: Bearer"
expect_error 401 unauthenticated GET /v1/keys - -H "Authorization: Bearer   "
post_error 403 forbidden /v1/keys/ec/sign "$TOK_READER" "{\"input_b64\":\"$MSG_B64\"}"
post_error 403 forbidden /v1/keys/k1/sign "$TOK_SLOW" "{\"input_b64\":\"$MSG_B64\"}"
# slow's bucket held 3 (the rate is taken before the policy): /metrics
# and k1 above, one now, then empty
post 200 /v1/keys/ec/sign "$TOK_SLOW" "{\"input_b64\":\"$MSG_B64\"}"
n_signed=$((n_signed + 1))
post_error 429 rate_limited /v1/keys/ec/sign "$TOK_SLOW" "{\"input_b64\":\"$MSG_B64\"}"
RA=$(vd_header Retry-After)
if ! [[ $RA =~ ^[0-9]+$ ]] || [ "$RA" -lt 1 ]; then
	fail "Retry-After is '$RA'"
fi
expect_error 403 forbidden POST /v1/admin/reload "$TOK_APP"

say "bad input: refused, nothing signed, the server stays up"
SIGN=/v1/keys/ec/sign
post_error 400 bad_request $SIGN "$TOK_APP" '{"input_b64":'
post_error 400 bad_request $SIGN "$TOK_APP" '[1,2]'
post_error 400 bad_request $SIGN "$TOK_APP" ''
post_error 400 bad_request $SIGN "$TOK_APP" '{"input_b64":5}'
assert_contains "$VD_BODY" 'input_b64'
post_error 400 bad_request $SIGN "$TOK_APP" "{\"input_b64\":\"$MSG_B64\",\"version\":\"1\"}"
post_error 400 bad_request $SIGN "$TOK_APP" "{\"input_b64\":\"$MSG_B64\",\"colour\":\"red\"}"
assert_contains "$VD_BODY" 'unknown member \"colour\"'
post_error 400 bad_request $SIGN "$TOK_APP" "{\"input_b64\":\"$MSG_B64\",\"format\":\"der\",\"format\":\"raw\"}"
post_error 400 bad_request $SIGN "$TOK_APP" '{"input_b64":"not base64!"}'
post_error 400 bad_request $SIGN "$TOK_APP" "{\"input_b64\":\"$MSG_B64\",\"digest_b64\":\"$MSG_B64\"}"
post_error 400 bad_request $SIGN "$TOK_APP" "{\"digest_b64\":\"$MSG_B64\",\"digest\":\"sha256\"}"
post_error 400 bad_request $SIGN "$TOK_APP" "{\"input_b64\":\"$MSG_B64\",\"format\":\"pem\"}"
post_error 400 wrong_algorithm /v1/keys/ed/sign "$TOK_APP" "{\"input_b64\":\"$MSG_B64\",\"format\":\"der\"}"
post_error 400 wrong_algorithm /v1/keys/ed/sign "$TOK_APP" "{\"input_b64\":\"$MSG_B64\",\"digest\":\"sha256\"}"
post_error 400 wrong_algorithm /v1/keys/ec/sign "$TOK_APP" "{\"input_b64\":\"$MSG_B64\",\"padding\":\"pss\"}"
post_error 404 key_not_found /v1/keys/jwt-nope/sign "$TOK_APP" "{\"input_b64\":\"$MSG_B64\"}"
post_error 404 version_not_found $SIGN "$TOK_APP" "{\"input_b64\":\"$MSG_B64\",\"version\":9}"
head -c 9000 /dev/zero | tr '\0' a >"$W/big"
expect_error 413 too_large POST $SIGN "$TOK_APP" -H 'Content-Type: application/json' --data-binary @"$W/big"
expect_error 404 not_found GET /v1/nothing "$TOK_APP"
expect_error 405 method_not_allowed GET $SIGN "$TOK_APP"
expect_error 400 bad_request POST /v1/keys/e%63/sign "$TOK_APP" --data-binary "{\"input_b64\":\"$MSG_B64\"}"
expect 200 GET /v1/health -
# the server did not sign any of those: the audit log has exactly one ok
# sign record per signature this test asked for
assert_eq "$(audit_records "r['op'] == 'sign' and r['outcome'] == 'ok'")" "$n_signed" "signatures in the audit log"
assert_eq "$(audit_records "r['op'] == 'sign' and r['outcome'] == 'ok' and r['status'] != 200")" 0
assert_eq "$(audit_records "r['op'] == 'sign' and r['status'] == 429 and r['outcome'] == 'denied' and r['client'] == 'slow'")" 1
assert_eq "$(audit_records "r['status'] == 413 and r['outcome'] == 'error'")" 1
assert_eq "$(audit_records "r['op'] == 'none' and r['status'] == 404")" 1
assert_eq "$(audit_records "r['op'] == 'sign' and r['status'] == 400 and r['key'] == 'ed'")" 2

say "reload"
expect 200 POST /v1/admin/reload "$TOK_OPS"
assert_eq "$(body status)" reloaded
cp "$CFG" "$W/vaultd.json.good"
vd_json_set "$CFG" 'clients.0.rules.1.ops=["keys.read", "sgin"]'
expect_error 400 bad_request POST /v1/admin/reload "$TOK_OPS"
assert_contains "$VD_BODY" 'clients[0].rules[1].ops[1]'
# the running configuration stayed
post 200 $SIGN "$TOK_APP" "{\"input_b64\":\"$MSG_B64\"}"
n_signed=$((n_signed + 1))
cp "$W/vaultd.json.good" "$CFG"

say "one audit line per request"
rc=$(vd_stop)
assert_eq "$rc" 0 "vaultd exit status"
# Failed authentications after an interval's first are told at the
# interval's end (with the next write) or at close: counted once vaultd has
# stopped, when every one must be there.
assert_eq "$(audit_records "r['status'] == 401 and r['outcome'] == 'denied' and r['client'] == 'uid:$(id -u)'")" 6 \
	"failed authentications in the audit log"
# every call above but the health and ready probes (not audited)
n_rec=$(audit_records "True")
[ "$n_rec" -ge "$((ncall - nprobe))" ] || fail "$n_rec audit records for $((ncall - nprobe)) requests"
assert_eq "$(audit_records "r['op'] in ('health', 'ready')")" 0 "audited probes"
assert_eq "$(audit_records "r['outcome'] not in ('ok', 'denied', 'error')")" 0

say "the audit log verifies; an edited copy does not"
run_expect 0 vc audit verify "$AUDIT" --hmac-key audit-hmac
assert_contains "$RUN_OUT" "audit: ok"
line=$(grep -n '"status":429' "$AUDIT" | head -1 | cut -d: -f1)
[ -n "$line" ] || fail "no 429 record in the audit log"
sed "${line}s/\"status\":429/\"status\":200/" "$AUDIT" >"$W/edited.log"
run_expect 6 vc audit verify "$W/edited.log" --hmac-key audit-hmac
assert_contains "$RUN_ERR" "line $((line + 1)):"

say "no bearer token, secret value or input in the logs"
for f in "$PV_OUT/vaultd.log" "$AUDIT"; do
	for t in $ALL_TOKENS; do
		assert_not_contains "$f" "$t" "a bearer token in $f"
		assert_not_contains "$f" "${t#pvt_}" "a bearer token in $f"
	done
	assert_not_contains "$f" "$SECRET_VALUE" "the secret value in $f"
	assert_not_contains "$f" "$PLANTED_INPUT" "request input in $f"
	assert_not_contains "$f" "$MSG_B64" "request input in $f"
done
for t in $ALL_TOKENS; do
	! grep -rqF -- "$t" "$PV_OUT" || fail "a bearer token under \$PV_OUT"
done
echo "vaultd_api: ok"
