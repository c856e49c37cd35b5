#!/bin/bash
# The OpenSSL provider, direct backend, from the openssl CLI: pkeyutl -sign
# and dgst -sign with P-256, Ed25519 and RSA-2048 token keys named by
# p11vault:NAME and by pkcs11: URI (a p11vault key's object and a raw token
# object made by pkcs11-tool), RSA-PSS; every signature verified by plain
# openssl (default provider only) with the public key from `vaultctl key
# show --format pem`. Refused: keys of another purpose, a salt length
# libp11vault does not sign with, a retired pinned version (fail closed);
# a rotated-away version (verify-only) still signs when named.
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/provider.sh"
prov_need

W=$PV_WORK
printf 'The quick brown fox jumps over the lazy dog\n' >"$W/msg"
flip_byte "$W/msg" "$W/msg.tampered" 4
ossl dgst -sha256 -binary "$W/msg" >"$W/msg.sha256"
ossl dgst -sha256 -binary "$W/msg.tampered" >"$W/msg.tampered.sha256"

# psign NAME REF ARGS...: pkeyutl -sign through the provider (exit 0).
psign() {
	local out=$1 ref=$2
	shift 2
	run_expect 0 prov_cli pkeyutl -sign -inkey "$ref" -out "$out" "$@"
	[ -s "$out" ] || fail "pkeyutl -sign with $ref wrote no signature"
}

# pverify PEM IN SIG ARGS...: plain openssl pkeyutl -verify, and the same
# signature must fail over the tampered input (IN.tampered... given as $5).
pverify() {
	local pem=$1 in=$2 sig=$3 bad=$4
	shift 4
	run_expect 0 ossl pkeyutl -verify -pubin -inkey "$pem" -in "$in" -sigfile "$sig" "$@"
	assert_contains "$RUN_OUT" "Signature Verified Successfully"
	run_expect 1 ossl pkeyutl -verify -pubin -inkey "$pem" -in "$bad" -sigfile "$sig" "$@"
}

# dverify PEM SIG: plain openssl dgst -sha256 -verify over msg (and not over
# the tampered message).
dverify() {
	run_expect 0 ossl dgst -sha256 -verify "$1" -signature "$2" "$W/msg"
	assert_contains "$RUN_OUT" "Verified OK"
	run_expect 1 ossl dgst -sha256 -verify "$1" -signature "$2" "$W/msg.tampered"
}

say "keys: p256, ed25519, rsa2048 (purpose sign)"
mkkey pec p256 sign
mkkey ped ed25519 sign
mkkey prsa rsa2048 sign
for k in pec ped prsa; do
	pub_pem "$k" "$W/$k.pem"
	run_expect 0 vc key show "$k" --format uri
	printed_uri "$RUN_OUT" >"$W/$k.uri"
done

say "algorithms are there before any key is loaded"
run_expect 0 prov_cli list -signature-algorithms
assert_contains "$RUN_OUT" "p11vault"
run_expect 0 prov_cli list -key-managers
assert_contains "$RUN_OUT" "p11vault"

say "pkeyutl -sign over a SHA-256 digest: ECDSA P-256 and RSA PKCS#1 v1.5"
for k in pec prsa; do
	for ref in "p11vault:$k" "$(cat "$W/$k.uri")"; do
		psign "$W/$k.pk.sig" "$ref" -in "$W/msg.sha256" -pkeyopt digest:sha256
		pverify "$W/$k.pem" "$W/msg.sha256" "$W/$k.pk.sig" "$W/msg.tampered.sha256" -pkeyopt digest:sha256
	done
done

say "ECDSA P-384 over a SHA-384 digest, and dgst -sha384"
mkkey pec384 p384 sign
pub_pem pec384 "$W/pec384.pem"
ossl dgst -sha384 -binary "$W/msg" >"$W/msg.sha384"
ossl dgst -sha384 -binary "$W/msg.tampered" >"$W/msg.tampered.sha384"
psign "$W/pec384.sig" p11vault:pec384 -in "$W/msg.sha384" -pkeyopt digest:sha384
pverify "$W/pec384.pem" "$W/msg.sha384" "$W/pec384.sig" "$W/msg.tampered.sha384" -pkeyopt digest:sha384
run_expect 0 prov_cli dgst -sha384 -sign p11vault:pec384 -out "$W/pec384.dg.sig" "$W/msg"
run_expect 0 ossl dgst -sha384 -verify "$W/pec384.pem" -signature "$W/pec384.dg.sig" "$W/msg"
# SHA-1 is not signed with (libp11vault signs SHA-256/384/512 digests)
run_expect 1 prov_cli dgst -sha1 -sign p11vault:pec -out "$W/none.sig" "$W/msg"

say "pkeyutl -sign -rawin: Ed25519 over the message"
for ref in "p11vault:ped" "$(cat "$W/ped.uri")"; do
	psign "$W/ped.sig" "$ref" -rawin -in "$W/msg"
	assert_size "$W/ped.sig" 64
	pverify "$W/ped.pem" "$W/msg" "$W/ped.sig" "$W/msg.tampered" -rawin
done

say "dgst -sha256 -sign: ECDSA P-256 and RSA"
for k in pec prsa; do
	for ref in "p11vault:$k" "$(cat "$W/$k.uri")"; do
		run_expect 0 prov_cli dgst -sha256 -sign "$ref" -out "$W/$k.dg.sig" "$W/msg"
		dverify "$W/$k.pem" "$W/$k.dg.sig"
	done
done

say "RSA-PSS (salt = digest length, MGF1 SHA-256)"
psign "$W/prsa.pss" p11vault:prsa -in "$W/msg.sha256" -pkeyopt digest:sha256 \
	-pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:digest
pverify "$W/prsa.pem" "$W/msg.sha256" "$W/prsa.pss" "$W/msg.tampered.sha256" -pkeyopt digest:sha256 \
	-pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:digest
# the PKCS#1 v1.5 verifier must not take it
run_expect 1 ossl pkeyutl -verify -pubin -inkey "$W/prsa.pem" -in "$W/msg.sha256" -sigfile "$W/prsa.pss" \
	-pkeyopt digest:sha256
run_expect 0 prov_cli dgst -sha256 -sign p11vault:prsa -sigopt rsa_padding_mode:pss \
	-sigopt rsa_pss_saltlen:digest -out "$W/prsa.dpss" "$W/msg"
run_expect 0 ossl dgst -sha256 -verify "$W/prsa.pem" -sigopt rsa_padding_mode:pss \
	-sigopt rsa_pss_saltlen:digest -signature "$W/prsa.dpss" "$W/msg"
# a salt of another length: refused, nothing signed
rm -f "$W/prsa.pss20"
run_expect 1 prov_cli pkeyutl -sign -inkey p11vault:prsa -in "$W/msg.sha256" -out "$W/prsa.pss20" \
	-pkeyopt digest:sha256 -pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:20
[ ! -s "$W/prsa.pss20" ] || fail "a PSS signature with a 20-byte salt was written"

say "a raw token object (pkcs11-tool key pair, not a p11vault key)"
if command -v pkcs11-tool >/dev/null 2>&1; then
	p11tool_login --keypairgen --key-type EC:prime256v1 --label rawec --id 7a01 >"$W/p11.out" 2>&1 ||
		fail "pkcs11-tool cannot make a key pair"
	p11tool_login --read-object --type pubkey --id 7a01 -o "$W/rawec.der" >"$W/p11.out" 2>&1 ||
		fail "pkcs11-tool cannot read the public key"
	ossl pkey -pubin -inform DER -in "$W/rawec.der" -out "$W/rawec.pem" ||
		fail "OpenSSL cannot read pkcs11-tool's public key"
	for ref in "pkcs11:object=rawec;type=private" "pkcs11:id=%7a%01" \
		"pkcs11:token=$PV_TOKEN_LABEL;object=rawec"; do
		psign "$W/rawec.sig" "$ref" -in "$W/msg.sha256" -pkeyopt digest:sha256
		pverify "$W/rawec.pem" "$W/msg.sha256" "$W/rawec.sig" "$W/msg.tampered.sha256" -pkeyopt digest:sha256
	done
	# another token's label: not the configured token
	run_expect 1 prov_cli pkeyutl -sign -inkey "pkcs11:token=elsewhere;object=rawec" -in "$W/msg.sha256" \
		-out "$W/none.sig"
else
	echo "pkcs11-tool is not installed: raw-object case skipped"
fi

say "store searches: by alias (a key's name, an object's label) and by subject (certificates)"
run_expect 0 prov_cli storeutl -alias pec p11vault:
assert_contains "$RUN_OUT" "Total found: 1"
run_expect 0 prov_cli storeutl -alias pec.v1 -out "$W/alias-pec-pub.pem" "pkcs11:token=$PV_TOKEN_LABEL;type=public"
cmp -s <(ossl pkey -pubin -in "$W/alias-pec-pub.pem" -outform DER) <(ossl pkey -pubin -in "$W/pec.pem" -outform DER) ||
	fail "the alias search found another public key"
# a URI that names an object already: the alias must be that one
run_expect 0 prov_cli storeutl -alias pec p11vault:pec
assert_contains "$RUN_OUT" "Total found: 1"
run_expect 0 prov_cli storeutl -alias ped p11vault:pec
assert_contains "$RUN_OUT" "Total found: 0"
run_expect 0 prov_cli storeutl -alias nosuchkey_ p11vault:
assert_not_contains "$RUN_OUT" "0: Pkey"
# a URI naming nothing is for searches only (storeutl 3.0 prints the
# error and exits 0)
run_expect 0 prov_cli storeutl p11vault:
assert_contains "$RUN_ERR" "names no object"
assert_contains "$RUN_OUT" "Total found: 0"
run_expect 1 prov_cli pkeyutl -sign -inkey p11vault: -in "$W/msg.sha256" -out "$W/none.sig"
if command -v pkcs11-tool >/dev/null 2>&1; then
	ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/store.key" -days 2 \
		-subj "/O=p11vault test/CN=store search" -out "$W/store.crt" >"$W/req.out" 2>&1 ||
		fail "openssl cannot make the certificate"
	ossl x509 -in "$W/store.crt" -outform DER -out "$W/store.der"
	p11tool_login --write-object "$W/store.der" --type cert --label storecert --id 7a02 >"$W/p11.out" 2>&1 ||
		fail "pkcs11-tool cannot write the certificate"
	for uri in "pkcs11:type=cert" "pkcs11:token=$PV_TOKEN_LABEL" "pkcs11:object=storecert;type=cert"; do
		rm -f "$W/found.crt"
		run_expect 0 prov_cli storeutl -certs -subject "/O=p11vault test/CN=store search" -out "$W/found.crt" "$uri"
		assert_contains "$W/found.crt" "Total found: 1"
		assert_eq "$(grep -c 'BEGIN CERTIFICATE' "$W/found.crt")" 1 "certificates found"
		run_expect 0 ossl x509 -in "$W/found.crt" -noout -fingerprint -sha256
		cp "$RUN_OUT" "$W/found.fp"
		run_expect 0 ossl x509 -in "$W/store.crt" -noout -fingerprint -sha256
		assert_eq "$(cat "$RUN_OUT")" "$(cat "$W/found.fp")" "the certificate the subject search found"
	done
	run_expect 0 prov_cli storeutl -certs -subject "/O=p11vault test/CN=nobody" pkcs11:type=cert
	assert_contains "$RUN_OUT" "Total found: 0"
	run_expect 0 prov_cli storeutl -certs -alias storecert pkcs11:type=cert
	assert_contains "$RUN_OUT" "Total found: 1"
else
	echo "pkcs11-tool is not installed: subject search skipped"
fi

say "references refused: unknown key, PIN in the URI, bad names"
run_expect 1 prov_cli pkeyutl -sign -inkey p11vault:nosuchkey -in "$W/msg.sha256" -out "$W/none.sig"
run_expect 1 prov_cli pkeyutl -sign -inkey "pkcs11:object=rawec?pin-value=1234" -in "$W/msg.sha256" \
	-out "$W/none.sig"
assert_no_pin_in "$RUN_ERR"
run_expect 1 prov_cli pkeyutl -sign -inkey "p11vault:pec;version=0" -in "$W/msg.sha256" -out "$W/none.sig"

say "keys of another purpose are refused"
mkkey pjwt p256 jwt
mkkey pdrv p256 derive
for k in pjwt pdrv; do
	rm -f "$W/$k.sig"
	run_expect 1 prov_cli pkeyutl -sign -inkey "p11vault:$k" -in "$W/msg.sha256" -out "$W/$k.sig" \
		-pkeyopt digest:sha256
	assert_contains "$RUN_ERR" "purpose"
	[ ! -s "$W/$k.sig" ] || fail "a key of purpose $k signed through the provider"
	run_expect 0 vc key show "$k" --format uri
	run_expect 1 prov_cli dgst -sha256 -sign "$(printed_uri "$RUN_OUT")" -out "$W/$k.sig" "$W/msg"
	assert_contains "$RUN_ERR" "purpose"
done

say "pinned versions: verify-only still signs, retired fails closed"
mkkey prot p256 sign
pub_pem prot "$W/prot.v1.pem" 1
psign "$W/prot.v1.sig" p11vault:prot -in "$W/msg.sha256" -pkeyopt digest:sha256
pverify "$W/prot.v1.pem" "$W/msg.sha256" "$W/prot.v1.sig" "$W/msg.tampered.sha256"
run_expect 0 vc key rotate prot
pub_pem prot "$W/prot.v2.pem" 2
# by name: the active version (2) now
psign "$W/prot.a.sig" p11vault:prot -in "$W/msg.sha256" -pkeyopt digest:sha256
pverify "$W/prot.v2.pem" "$W/msg.sha256" "$W/prot.a.sig" "$W/msg.tampered.sha256"
# pinned to 1 (verify-only after the rotation): still the key of the certificate
psign "$W/prot.p.sig" "p11vault:prot;version=1" -in "$W/msg.sha256" -pkeyopt digest:sha256
pverify "$W/prot.v1.pem" "$W/msg.sha256" "$W/prot.p.sig" "$W/msg.tampered.sha256"
run_expect 0 vc key retire prot --version 1
rm -f "$W/prot.r.sig"
run_expect 1 prov_cli pkeyutl -sign -inkey "p11vault:prot;version=1" -in "$W/msg.sha256" \
	-out "$W/prot.r.sig" -pkeyopt digest:sha256
assert_contains "$RUN_ERR" "retired"
[ ! -s "$W/prot.r.sig" ] || fail "a retired version signed"
run_expect 1 prov_cli dgst -sha256 -sign "p11vault:prot;version=1" -out "$W/prot.r.sig" "$W/msg"
# the pkcs11: URI of the retired version's object: the same answer
run_expect 0 vc key show prot --version 1 --format uri
run_expect 1 prov_cli dgst -sha256 -sign "$(printed_uri "$RUN_OUT")" -out "$W/prot.r.sig" "$W/msg"
assert_contains "$RUN_ERR" "retired"
[ ! -s "$W/prot.r.sig" ] || fail "a retired version signed through its pkcs11: URI"

say "certificates on the token, found by the store"
# a certificate for pec made through the provider, stored with pkcs11-tool
# under pec.v1's CKA_ID
run_expect 0 prov_cli req -new -x509 -key p11vault:pec -subj /CN=pec -days 2 -out "$W/pec.crt"
run_expect 0 ossl verify -CAfile "$W/pec.crt" "$W/pec.crt"
ossl x509 -in "$W/pec.crt" -outform DER -out "$W/pec.crt.der"
if command -v pkcs11-tool >/dev/null 2>&1; then
	p11tool_login --write-object "$W/pec.crt.der" --type cert --id "$(uri_attr "$(cat "$W/pec.uri")" id)" \
		--label pec-cert >"$W/p11.out" 2>&1 || fail "pkcs11-tool cannot store the certificate"
	for ref in p11vault:pec "pkcs11:object=pec-cert;type=cert"; do
		run_expect 0 prov_cli storeutl -certs "$ref"
		sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' "$RUN_OUT" >"$W/found.crt"
		ossl x509 -in "$W/found.crt" -outform DER -out "$W/found.crt.der" ||
			fail "storeutl -certs $ref printed no certificate"
		assert_same_file "$W/found.crt.der" "$W/pec.crt.der" "the certificate found by $ref"
	done
	run_expect 0 prov_cli x509 -in "pkcs11:object=pec-cert;type=cert" -noout -subject
	assert_contains "$RUN_OUT" "CN = pec"
	# the key of the same reference is still the key
	run_expect 0 prov_cli storeutl -keys p11vault:pec
	assert_contains "$RUN_OUT" "Total found: 1"
fi

say "a wrong PIN: refused, not retried, and the right one still works"
printf '999999\n' >"$W/wrong.pin"
chmod 600 "$W/wrong.pin"
rm -f "$W/wrongpin.sig"
run_expect 1 env P11VAULT_PIN_SOURCE="file:$W/wrong.pin" OPENSSL_CONF="$PROV_BASE_CONF" openssl pkeyutl \
	-provider-path "$PROV_DIR" -provider p11vault -provider default \
	-sign -inkey p11vault:pec -in "$W/msg.sha256" -out "$W/wrongpin.sig"
assert_contains "$RUN_ERR" "PIN incorrect"
# one login, one refusal: the PIN is not tried again
assert_eq "$(grep -c 'cannot log in' "$RUN_ERR")" 1 "login failures reported"
[ ! -s "$W/wrongpin.sig" ] || fail "signed with a wrong PIN"
psign "$W/pec.after.sig" p11vault:pec -in "$W/msg.sha256" -pkeyopt digest:sha256
pverify "$W/pec.pem" "$W/msg.sha256" "$W/pec.after.sig" "$W/msg.tampered.sha256" -pkeyopt digest:sha256

say "nothing secret in what the provider printed"
for f in "$PV_OUT"/*.err; do
	assert_no_pin_in "$f"
done

echo "provider_basic: ok"
