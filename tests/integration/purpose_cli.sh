#!/bin/bash
# The purpose table of docs/cli.md ("Key purposes"): every vaultctl command
# that uses a key, run with a key of every purpose (and one made before
# purposes, and a token key p11vault does not manage), is allowed (exit 0)
# exactly for the purposes the table names and otherwise refused with the
# one documented refusal: exit 8, one line naming the key, its purpose and
# the purpose needed (or, for a key without one, the fix). What an allowed
# command produced is checked where it can be: signatures by OpenSSL, JWTs
# against the key's public key, unwrapped values byte for byte.
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/bundle.sh"
need_cmd openssl
need_cmd python3
need_cmd pkcs11-tool
W=$PV_WORK
printf 'purpose table\n' >"$W/msg"
printf '{"sub":"table"}' >"$W/claims.json"
printf 'TABLE_VALUE=v-%s\n' "$(openssl rand -hex 6)" >"$W/in.env"
: >"$W/empty.log"

# NAME:ALG:PURPOSE; "none" keys are made with a purpose, then rewritten as
# an earlier version wrote them (legacy_meta).
KEYS="jwt-p256:p256:jwt sign-p256:p256:sign derive-p256:p256:derive legacy-p256:p256:none
jwt-ed:ed25519:jwt sign-ed:ed25519:sign sol-ed:ed25519:solana
jwt-k1:secp256k1:jwt sign-k1:secp256k1:sign evm-k1:secp256k1:evm
sign-hmac:hmac-sha256:sign audit-hmac:hmac-sha256:audit derive-hmac:hmac-sha256:derive
wrap-aes:aes256:wrap legacy-aes:aes256:none
jwt-rsa:rsa2048:jwt sign-rsa:rsa2048:sign dec-rsa:rsa2048:decrypt"
names() { for k in $KEYS; do echo "${k%%:*}"; done; }
purpose_of() {
	local k
	for k in $KEYS; do
		[ "${k%%:*}" != "$1" ] || {
			echo "${k##*:}"
			return
		}
	done
	fail "no key $1 in the table"
}

# cell NAME ALLOWED CMD...: run CMD (with NAME in it) and want exit 0 when
# NAME's purpose is in the space-separated list ALLOWED, else exit 8 with
# the refusal naming NAME and what it needs.
cell() {
	local name=$1 allowed=" $2 " p
	shift 2
	p=$(purpose_of "$name")
	case $allowed in
	*" $p "*)
		run_expect 0 "$@"
		return 0
		;;
	esac
	run_expect 8 "$@"
	assert_one_line_error "$RUN_ERR"
	assert_contains "$RUN_ERR" "key '$name'"
	if [ "$p" = none ]; then
		assert_contains "$RUN_ERR" "vaultctl key set-purpose $name PURPOSE"
	else
		assert_contains "$RUN_ERR" "has purpose $p; this needs a key of purpose"
	fi
	return 1
}

say "one key per (algorithm, purpose) that fits, and two made before purposes"
for k in $KEYS; do
	IFS=: read -r n alg p <<<"$k"
	[ "$p" != none ] || p=$(purpose_for "$alg")
	mkkey "$n" "$alg" "$p"
done
for n in jwt-rsa sign-rsa dec-rsa; do
	pub_pem "$n" "$W/$n.pem"
done

say "bundles whose one recipient is each KEK or RSA key, with a key entry (made through wrap-aes, then rewrapped)"
# A recipient of another purpose cannot be sealed for by name, so RSA keys
# are given as their public PEM (a PEM recipient has no purpose to check);
# the check happens where the token key would open the bundle.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$W/entry.pem" 2>/dev/null
# a token key that is no p11vault key: an RSA pair made by pkcs11-tool
p11tool_login --keypairgen --key-type rsa:2048 --label raw-rsa --id 7261 >"$W/raw.out" 2>&1 ||
	fail "pkcs11-tool cannot make an RSA key pair"
p11tool --read-object --type pubkey --id 7261 -o "$W/raw-rsa.der" >/dev/null 2>&1 || fail "pkcs11-tool --read-object"
openssl pkey -pubin -inform DER -in "$W/raw-rsa.der" -out "$W/raw-rsa.pem" 2>/dev/null
for r in wrap-aes legacy-aes jwt-rsa sign-rsa dec-rsa raw-rsa; do
	case $r in *-aes) rcpt=$r ;; *) rcpt=$W/$r.pem ;; esac
	[ $r = wrap-aes ] || extra=(--recipient wrap-aes)
	[ $r != wrap-aes ] || extra=()
	run_expect 0 vc bundle seal --recipient "$rcpt" "${extra[@]}" --in "$W/in.env" --out "$W/b.$r"
	run_expect 0 vc bundle import-key "$W/b.$r" entry --pem "$W/entry.pem" --purpose sign
	[ $r = wrap-aes ] || run_expect 0 vc bundle rewrap "$W/b.$r" --remove-recipient wrap-aes
	assert_eq "$(bj "$W/b.$r" 'len(d["recipients"])')" 1 "recipients of b.$r"
done
# the bundle rewrap and rotate start from (its KEK is none of the table's)
mkkey base-kek aes256 wrap
run_expect 0 vc bundle seal --recipient base-kek --in "$W/in.env" --out "$W/b.base"

say "the two legacy keys: their metadata as an earlier version wrote it"
legacy_meta legacy-p256
legacy_meta legacy-aes

say "sign and verify: purpose sign"
for n in $(names); do
	if cell "$n" "sign" vc sign "$n" --in "$W/msg" --out "$W/$n.sig"; then
		run_expect 0 vc verify "$n" --in "$W/msg" --sig "$W/$n.sig"
	else
		[ ! -e "$W/$n.sig" ] || fail "a refused sign with $n wrote a signature"
		cell "$n" "sign" vc verify "$n" --in "$W/msg" --sig "$W/msg" || true
	fi
done
# the allowed signatures, independently
for n in sign-p256 sign-k1 sign-rsa sign-ed; do
	pub_pem "$n" "$W/$n.pub"
done
ossl_verify_ecdsa sha256 "$W/sign-p256.pub" "$W/msg" "$W/sign-p256.sig" || fail "OpenSSL rejects sign-p256"
ossl_verify_ecdsa sha256 "$W/sign-k1.pub" "$W/msg" "$W/sign-k1.sig" || fail "OpenSSL rejects sign-k1"
ossl_verify_rsa sha256 pkcs1 "$W/sign-rsa.pub" "$W/msg" "$W/sign-rsa.sig" || fail "OpenSSL rejects sign-rsa"
ossl_verify_ed25519 "$W/sign-ed.pub" "$W/msg" "$W/sign-ed.sig" || fail "OpenSSL rejects sign-ed"

say "jwt issue and jwt verify --key: purpose jwt"
run_expect 0 vc jwt issue jwt-p256 --claims "$W/claims.json"
cp "$RUN_OUT" "$W/any.jwt"
for n in $(names); do
	if cell "$n" "jwt" vc jwt issue "$n" --claims "$W/claims.json"; then
		cp "$RUN_OUT" "$W/$n.jwt"
		run_expect 0 vc jwt verify --key "$n" "$W/$n.jwt"
		assert_contains "$RUN_OUT" "token: ok"
	else
		cell "$n" "jwt" vc jwt verify --key "$n" "$W/any.jwt" || true
	fi
done
# the JWKS holds exactly the jwt keys
run_expect 0 vc jwks
python3 - "$RUN_OUT" <<'EOF' || fail "the JWKS is not exactly the jwt keys (one JWK each, RSA two)"
import json, sys
keys = json.load(open(sys.argv[1]))["keys"]
crv = sorted(k.get("crv", k["kty"]) for k in keys)
assert crv == ["Ed25519", "P-256", "RSA", "RSA", "secp256k1"], crv
EOF
# an ES256 JWT checks under the key's public half (OpenSSL)
python3 - "$W/jwt-p256.jwt" "$W/jwt.input" "$W/jwt.rs" <<'EOF' || fail "cannot split the JWT"
import base64, sys
t = open(sys.argv[1]).read().strip().split(".")
open(sys.argv[2], "w").write(t[0] + "." + t[1])
open(sys.argv[3], "wb").write(base64.urlsafe_b64decode(t[2] + "=" * (-len(t[2]) % 4)))
EOF
pub_pem jwt-p256 "$W/jwt-p256.pub"
ecdsa_raw_to_der "$W/jwt.rs" "$W/jwt.der"
ossl_verify_ecdsa sha256 "$W/jwt-p256.pub" "$W/jwt.input" "$W/jwt.der" || fail "OpenSSL rejects the ES256 JWT"

say "wallet address and sign-message: purpose solana (--chain solana) and evm (--chain evm)"
for n in $(names); do
	cell "$n" "solana" vc wallet address "$n" --chain solana || true
	cell "$n" "solana" vc wallet sign-message "$n" --chain solana --in "$W/msg" || true
	cell "$n" "evm" vc wallet address "$n" --chain evm || true
	cell "$n" "evm" vc wallet sign-message "$n" --chain evm --in "$W/msg" || true
done

say "audit verify --hmac-key: purpose audit"
for n in $(names); do
	cell "$n" "audit" vc audit verify "$W/empty.log" --hmac-key "$n" || true
done

say "bundle seal, rewrap --add-recipient, rotate --recipient: purpose wrap (aes256) or decrypt (RSA)"
for n in $(names); do
	rm -f "$W/sealed"
	if cell "$n" "wrap decrypt" vc bundle seal --recipient "$n" --in "$W/in.env" --out "$W/sealed"; then
		bundle_shape "$W/sealed"
	else
		[ ! -e "$W/sealed" ] || fail "a refused seal for $n wrote a bundle"
	fi
	cp "$W/b.base" "$W/rw"
	if ! cell "$n" "wrap decrypt" vc bundle rewrap "$W/rw" --add-recipient "$n"; then
		assert_same_file "$W/rw" "$W/b.base" "a refused rewrap with $n changed the bundle"
	fi
	cp "$W/b.base" "$W/ro"
	if ! cell "$n" "wrap decrypt" vc bundle rotate "$W/ro" --recipient "$n"; then
		assert_same_file "$W/ro" "$W/b.base" "a refused rotate with $n changed the bundle"
	fi
done

say "unwrap, exec, bundle verify, bundle install-key: the recipient key on the token must be wrap or decrypt"
# (the purpose of the key that would open the bundle; raw-rsa: no p11vault key)
for r in wrap-aes legacy-aes jwt-rsa sign-rsa dec-rsa raw-rsa; do
	B=$W/b.$r
	case $r in
	wrap-aes | dec-rsa) want=0 ;;
	*) want=8 ;;
	esac
	run_expect $want vc unwrap "$B" --format json
	if [ $want = 0 ]; then
		assert_eq "$(json_get "$RUN_OUT" TABLE_VALUE)" "$(sed -n 's/^TABLE_VALUE=//p' "$W/in.env")" "value unwrapped through $r"
	else
		assert_one_line_error "$RUN_ERR"
		[ ! -s "$RUN_OUT" ] || fail "a refused unwrap through $r printed something"
		case $r in
		legacy-aes) assert_contains "$RUN_ERR" "vaultctl key set-purpose legacy-aes PURPOSE" ;;
		raw-rsa) assert_contains "$RUN_ERR" "vaultctl key adopt URI --name NAME --purpose decrypt" ;;
		*) assert_contains "$RUN_ERR" "key '$r' has purpose ${r%%-*}; this needs a key of purpose decrypt" ;;
		esac
	fi
	run_expect $want vc exec "$B" -- /usr/bin/env
	[ $want != 0 ] || grep -q '^TABLE_VALUE=' "$RUN_OUT" || fail "exec through $r did not set the value"
	run_expect $want vc bundle verify "$B"
	run_expect $want vc bundle install-key "$B" entry --as "inst-$r"
	if [ $want = 0 ]; then
		assert_purpose "inst-$r" sign
	else
		run_expect 5 vc key show "inst-$r"
	fi
done

say "key rotate: any purpose, never a key without one; key show: every key"
for n in $(names); do
	run_expect 0 vc key show "$n" --format uri
	if [ "$(purpose_of "$n")" = none ]; then
		cell "$n" "" vc key rotate "$n" || true
	else
		run_expect 0 vc key rotate "$n"
		assert_purpose "$n" "$(purpose_of "$n")"
	fi
done

say "--json: the refusal is the error object wrong_purpose with exit_code 8"
run_expect 8 vc --json sign jwt-p256 --in "$W/msg"
assert_eq "$(json_get "$RUN_OUT" error code)" wrong_purpose "--json error code"
assert_eq "$(json_get "$RUN_OUT" error exit_code)" 8 "--json exit_code"
echo "purpose_cli: ok"
