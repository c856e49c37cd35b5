#!/bin/bash
# bundle install-key: keys held in PEM files today are imported into a
# bundle, then installed from the bundle into the token as ordinary p11vault
# keys. Each signs as the ORIGINAL key (verified by OpenSSL with the public
# key derived from the PEM, not read from the token), shows the original
# public key, and pkcs11-tool sees it as sensitive and not extractable.
# The installed key has the entry's purpose (--purpose may only repeat it).
# Refusals (missing entry, wrong kind, taken name, another purpose, Ed25519
# on SoftHSM 2.6) leave nothing on the token.
set -eu
. "$top_srcdir/tests/lib/common.sh"
need_cmd openssl
need_cmd pkcs11-tool
W=$PV_WORK
B=$W/bundle.json
printf 'release 2026.11 approved\n' >"$W/msg"

# objects FILE: every object on the token (logged in), as parsed lines.
objects() { p11_objects "$1" --login; }

say "a KEK, a bundle sealed for it, and keys that live in PEM files"
run_expect 0 vc key create kek --alg aes256 --purpose wrap
printf 'DB_URL=postgres://db\n' >"$W/app.env"
run_expect 0 vc bundle seal --recipient kek --in "$W/app.env" --out "$B"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$W/jwt.pem" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:secp256k1 -out "$W/wallet.pem" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$W/legacy.pem" 2>/dev/null
openssl genpkey -algorithm ED25519 -out "$W/edkey.pem" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$W/issuer.pem" 2>/dev/null
for k in jwt wallet legacy edkey issuer; do
	openssl pkey -in "$W/$k.pem" -pubout -out "$W/$k.pub.pem" 2>/dev/null || fail "openssl pkey -pubout $k"
	case $k in
	edkey) ;;
	issuer) run_expect 0 vc bundle import-key "$B" "$k" --pem "$W/$k.pem" --purpose jwt ;;
	*) run_expect 0 vc bundle import-key "$B" "$k" --pem "$W/$k.pem" --purpose sign ;;
	esac
done
run_expect 0 vc bundle verify "$B"
# after verify: SoftHSM 2.6 cannot unwrap Ed25519, so verify would refuse it
# (a wallet format says the purpose: solana)
openssl pkey -in "$W/edkey.pem" -outform DER 2>/dev/null | tail -c 32 >"$W/edkey.seed"
python3 - "$W/edkey.seed" "$W/edkey.pub.pem" "$W/edkey.json" <<'EOF' || fail "cannot write the Solana keypair file"
import base64, json, sys
seed = open(sys.argv[1], "rb").read()
pem = "".join(l for l in open(sys.argv[2]) if not l.startswith("-----"))
pub = base64.b64decode(pem)[-32:]
assert len(seed) == 32 and len(pub) == 32
json.dump(list(seed + pub), open(sys.argv[3], "w"))
EOF
run_expect 0 vc bundle import-key "$B" edkey --solana-keypair "$W/edkey.json"
assert_contains "$RUN_ERR" "purpose solana"

say "refusals before anything reaches the token"
objects "$W/objs.before"
run_expect 5 vc bundle install-key "$B" nosuchkey
assert_one_line_error "$RUN_ERR"
run_expect 2 vc bundle install-key "$B" DB_URL
assert_contains "$RUN_ERR" "not a private key"
run_expect 7 vc bundle install-key "$B" jwt --as kek
assert_contains "$RUN_ERR" "already exists"
run_expect 2 vc bundle install-key "$B" jwt --as -bad-name
run_expect 2 vc bundle install-key "$B"
# the entry's purpose is the key's: another one is refused (8)
run_expect 8 vc bundle install-key "$B" issuer --purpose sign
assert_one_line_error "$RUN_ERR"
assert_contains "$RUN_ERR" "entry issuer has purpose jwt, not sign"
run_expect 2 vc bundle install-key "$B" issuer --purpose nonsense
objects "$W/objs.after"
assert_same_file "$W/objs.before" "$W/objs.after" "a refused install-key changed the token"

say "install each key; it signs as the original key"
run_expect 0 vc bundle install-key "$B" jwt
assert_contains "$RUN_OUT" "installed p256 key 'jwt' (purpose sign) version 1 (active)"
assert_purpose jwt sign
run_expect 0 vc bundle install-key "$B" wallet --as hot-wallet
assert_contains "$RUN_OUT" "installed secp256k1 key 'hot-wallet'"
run_expect 0 vc bundle install-key "$B" legacy --as legacy-rsa
assert_key_alg jwt p256
assert_key_alg hot-wallet secp256k1
assert_key_alg legacy-rsa rsa2048
assert_versions jwt "1:active"

for pair in jwt:jwt hot-wallet:wallet legacy-rsa:legacy; do
	name=${pair%%:*}
	orig=$W/${pair#*:}.pub.pem
	case $name in
	legacy-rsa) fmt=raw ;;
	*) fmt=der ;;
	esac
	run_expect 0 vc sign "$name" --in "$W/msg" --format $fmt
	cp "$RUN_OUT" "$W/$name.sig"
	openssl dgst -sha256 -verify "$orig" -signature "$W/$name.sig" "$W/msg" >/dev/null 2>&1 ||
		fail "OpenSSL rejects the signature of $name under the original public key"
	flip_byte "$W/msg" "$W/msg.bad" 3
	! openssl dgst -sha256 -verify "$orig" -signature "$W/$name.sig" "$W/msg.bad" >/dev/null 2>&1 ||
		fail "the signature of $name also verifies over another message"
	run_expect 0 vc verify "$name" --in "$W/msg" --sig "$W/$name.sig" --format $fmt
	assert_contains "$RUN_OUT" "signature: ok"
	# key show gives back exactly the original public key
	run_expect 0 vc key show "$name" --format pem
	assert_same_file "$RUN_OUT" "$orig" "key show --format pem of $name is not the original public key"
done
# secp256k1 with an independent verifier too (low-S, libsecp256k1)
openssl pkey -pubin -in "$W/wallet.pub.pem" -outform DER -out "$W/wallet.pub.der" 2>/dev/null
sha sha256 "$W/msg" >"$W/msg.sha256"
run_expect 0 vc sign hot-wallet --in "$W/msg" --format raw
cp "$RUN_OUT" "$W/wallet.raw"
verify_secp256k1 "$W/wallet.pub.der" "$W/msg.sha256" "$W/wallet.raw" || fail "libsecp256k1 rejects hot-wallet's signature"

say "pkcs11-tool: persistent, private, sensitive, not extractable"
objects "$W/objs.installed"
for name in jwt hot-wallet legacy-rsa; do
	awk -F'|' -v l="$name.v1" '$1 == "private-key" && $2 == l' "$W/objs.installed" >"$W/line"
	[ "$(wc -l <"$W/line")" = 1 ] || {
		cat "$W/objs.installed" >&2
		fail "want exactly one private key labelled $name.v1 on the token"
	}
	access=$(cut -d'|' -f4 "$W/line")
	id=$(cut -d'|' -f3 "$W/line")
	[ ${#id} = 32 ] || fail "$name: CKA_ID is '$id', want 16 bytes"
	# "sensitive" must be there; "extractable" only as part of "never extractable"
	case ", $access," in *", sensitive,"*) ;; *) fail "$name is not sensitive: access '$access'" ;; esac
	rest=${access//never extractable/}
	case "$rest" in *extractable*) fail "$name is extractable: access '$access'" ;; esac
	awk -F'|' -v l="$name.v1" -v i="$id" '$1 == "public-key" && $2 == l && $3 == i' "$W/objs.installed" |
		grep -q . || fail "no public key object for $name with the same label and id"
done
# without a login the private keys are invisible (CKA_PRIVATE)
p11_objects "$W/objs.public"
! grep -q '^private-key|' "$W/objs.public" || fail "a private key is visible without login"

say "a jwt entry becomes a jwt key: it signs JWTs, never raw input"
run_expect 0 vc bundle install-key "$B" issuer --purpose jwt
assert_purpose issuer jwt
run_expect 8 vc sign issuer --in "$W/msg"
assert_contains "$RUN_ERR" "key 'issuer' has purpose jwt; this needs a key of purpose sign"
printf '{"sub":"install-key"}' >"$W/claims.json"
run_expect 0 vc jwt issue issuer --claims "$W/claims.json"
cp "$RUN_OUT" "$W/issuer.jwt"
# the JWT's ES256 signature checks under the ORIGINAL public key (OpenSSL)
python3 - "$W/issuer.jwt" "$W/issuer.input" "$W/issuer.rs" <<'EOF' || fail "cannot split the JWT"
import base64, sys
t = open(sys.argv[1]).read().strip().split(".")
assert len(t) == 3, "not a JWS compact serialisation"
open(sys.argv[2], "w").write(t[0] + "." + t[1])
open(sys.argv[3], "wb").write(base64.urlsafe_b64decode(t[2] + "=" * (-len(t[2]) % 4)))
EOF
ecdsa_raw_to_der "$W/issuer.rs" "$W/issuer.der"
ossl_verify_ecdsa sha256 "$W/issuer.pub.pem" "$W/issuer.input" "$W/issuer.der" ||
	fail "OpenSSL rejects the JWT signed by the installed issuer key"

say "a name that is now taken, and the same entry under another name"
run_expect 7 vc bundle install-key "$B" jwt
assert_contains "$RUN_ERR" "already exists"
run_expect 0 vc bundle install-key "$B" jwt --as jwt-copy
run_expect 0 vc sign jwt-copy --in "$W/msg" --format der
cp "$RUN_OUT" "$W/copy.sig"
openssl dgst -sha256 -verify "$W/jwt.pub.pem" -signature "$W/copy.sig" "$W/msg" >/dev/null 2>&1 ||
	fail "OpenSSL rejects jwt-copy's signature"
run_expect 0 vc key rotate jwt-copy
assert_versions jwt-copy "1:verify-only 2:active"
run_expect 0 vc bundle install-key "$B" wallet --as wallet-json --json
json_valid "$RUN_OUT"
assert_eq "$(json_get "$RUN_OUT" name)" wallet-json "name in --json output"
assert_eq "$(json_get "$RUN_OUT" alg)" secp256k1 "alg in --json output"
assert_eq "$(json_get "$RUN_OUT" purpose)" sign "purpose in --json output"

say "Ed25519: SoftHSM 2.6 cannot unwrap it (exit 3, nothing left); another token may"
objects "$W/objs.before-ed"
rc=0
"$VAULTCTL" bundle install-key "$B" edkey >"$PV_OUT/ed.out" 2>"$PV_OUT/ed.err" || rc=$?
case $rc in
0)
	run_expect 0 vc sign edkey --in "$W/msg" --out "$W/ed.sig"
	ossl_verify_ed25519 "$W/edkey.pub.pem" "$W/msg" "$W/ed.sig" || fail "OpenSSL rejects edkey's signature"
	run_expect 0 vc key show edkey --format pem
	assert_same_file "$RUN_OUT" "$W/edkey.pub.pem" "key show --format pem of edkey"
	;;
3)
	assert_one_line_error "$PV_OUT/ed.err"
	assert_contains "$PV_OUT/ed.err" "cannot unwrap Ed25519"
	objects "$W/objs.after-ed"
	assert_same_file "$W/objs.before-ed" "$W/objs.after-ed" "a failed Ed25519 install left objects behind"
	run_expect 5 vc key show edkey
	;;
*)
	cat "$PV_OUT/ed.err" >&2
	fail "bundle install-key edkey: exit $rc, want 0 or 3"
	;;
esac

say "a tampered bundle installs nothing (exit 6)"
python3 - "$B" "$W/tampered.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
for e in d["entries"]:
    if e["name"] == "legacy":
        w = e["wrapped"]
        e["wrapped"] = w[:20] + ("A" if w[20] != "A" else "B") + w[21:]
json.dump(d, open(sys.argv[2], "w"))
EOF
objects "$W/objs.before-t"
run_expect 6 vc bundle install-key "$W/tampered.json" legacy --as tampered
objects "$W/objs.after-t"
assert_same_file "$W/objs.before-t" "$W/objs.after-t" "a tampered bundle left objects behind"
echo "bundle install-key: ok"
