#!/bin/bash
# The provider's KEYMGMT and SIGNATURE with the certificate tools (direct
# backend): P-256, P-384, Ed25519 and RSA-2048 token keys (purpose sign) sign
# with `openssl dgst`/`pkeyutl` (P-384, RSA-PSS variants), make self-signed
# certificates (`req -new -x509`, RSA also with -sigopt pss), issue
# certificates (`x509 -req -CAkey`, `ca`) and sign CMS (`cms -sign`, RSA also
# with PSS); every result verified by plain openssl (default provider only)
# and the certificates hold exactly the token's public key (vaultctl's PEM).
# The AlgorithmIdentifiers are checked (ecdsa-with-SHA256/384,
# sha256WithRSAEncryption, RSASSA-PSS with SHA-256/MGF1-SHA-256/salt 32,
# ED25519). RSA-OAEP decryption with a key of purpose decrypt (SHA-1 and
# SHA-256, with and without a label) and ECDH with a P-256 key of purpose
# derive, against plain openssl. Also: the public key exported by the
# provider is vaultctl's; a certificate of another key is refused as the CA certificate (EVP_PKEY_eq);
# verification through the provider; refusals (an unknown digest, MD5, a pad
# mode that is not pkcs1/pss, a salt that does not fit, Ed25519 with a
# digest, a key of purpose derive; a wrong OAEP label, PKCS#1 v1.5
# decryption, decryption and ECDH with keys of purpose sign, a peer on
# another curve).
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/provider.sh"
prov_need
trap prov_cleanup EXIT

W=$PV_WORK
printf 'p11vault provider_sign: a message to sign\n' >"$W/msg"
flip_byte "$W/msg" "$W/msg.tampered" 3
ossl dgst -sha384 -binary "$W/msg" >"$W/msg.sha384"

KEYS="kp256 kp384 ked kpss"
say "keys: p256, p384, ed25519, rsa2048 (purpose sign); a p256 of purpose derive"
mkkey kp256 p256 sign
mkkey kp384 p384 sign
mkkey ked ed25519 sign
mkkey kpss rsa2048 sign
mkkey kdrv p256 derive
for k in $KEYS; do
	pub_pem "$k" "$W/$k.pem"
done

# The signature algorithm a certificate names (the text form of openssl x509).
sigalg() { ossl x509 -in "$1" -noout -text | grep -m 1 'Signature Algorithm:' | sed 's/.*: *//; s/ *$//'; }

say "the provider exports exactly the token's public key"
for k in $KEYS; do
	run_expect 0 prov_cli pkey -in "p11vault:$k" -pubout -out "$W/$k.exported.pem"
	assert_same_file <(ossl pkey -pubin -in "$W/$k.exported.pem" -outform DER) \
		<(ossl pkey -pubin -in "$W/$k.pem" -outform DER) "the public key of $k exported by the provider"
done

say "dgst -sign: P-384 (SHA-384) and RSA-PSS (salt digest, 32 as a number, and -1: OpenSSL's number for digest)"
run_expect 0 prov_cli dgst -sha384 -sign p11vault:kp384 -out "$W/p384.sig" "$W/msg"
run_expect 0 ossl dgst -sha384 -verify "$W/kp384.pem" -signature "$W/p384.sig" "$W/msg"
run_expect 1 ossl dgst -sha384 -verify "$W/kp384.pem" -signature "$W/p384.sig" "$W/msg.tampered"
for salt in digest 32 -1; do
	run_expect 0 prov_cli dgst -sha256 -sign p11vault:kpss -sigopt rsa_padding_mode:pss \
		-sigopt "rsa_pss_saltlen:$salt" -out "$W/pss.$salt.sig" "$W/msg"
	run_expect 0 ossl dgst -sha256 -verify "$W/kpss.pem" -sigopt rsa_padding_mode:pss \
		-sigopt rsa_pss_saltlen:32 -signature "$W/pss.$salt.sig" "$W/msg"
	run_expect 1 ossl dgst -sha256 -verify "$W/kpss.pem" -sigopt rsa_padding_mode:pss \
		-sigopt rsa_pss_saltlen:auto -signature "$W/pss.$salt.sig" "$W/msg.tampered"
done
# PSS by default salts with the digest's length: plain openssl finds 32.
run_expect 0 prov_cli dgst -sha384 -sign p11vault:kpss -sigopt rsa_padding_mode:pss -out "$W/pss384.sig" "$W/msg"
run_expect 0 ossl dgst -sha384 -verify "$W/kpss.pem" -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:48 \
	-signature "$W/pss384.sig" "$W/msg"

say "pkeyutl -sign over a SHA-384 digest: P-384, RSA PKCS#1 and PSS"
run_expect 0 prov_cli pkeyutl -sign -inkey p11vault:kp384 -in "$W/msg.sha384" -out "$W/p384.pk.sig"
run_expect 0 ossl pkeyutl -verify -pubin -inkey "$W/kp384.pem" -in "$W/msg.sha384" -sigfile "$W/p384.pk.sig"
for pad in pkcs1 pss; do
	run_expect 0 prov_cli pkeyutl -sign -inkey p11vault:kpss -pkeyopt digest:sha384 -pkeyopt "rsa_padding_mode:$pad" \
		-in "$W/msg.sha384" -out "$W/rsa.$pad.sig"
	run_expect 0 ossl pkeyutl -verify -pubin -inkey "$W/kpss.pem" -pkeyopt digest:sha384 \
		-pkeyopt "rsa_padding_mode:$pad" -in "$W/msg.sha384" -sigfile "$W/rsa.$pad.sig"
	assert_contains "$RUN_OUT" "Signature Verified Successfully"
done

say "verification through the provider (in software with the token key's public half)"
run_expect 0 prov_cli dgst -sha384 -prverify p11vault:kp384 -signature "$W/p384.sig" "$W/msg"
assert_contains "$RUN_OUT" "Verified OK"
run_expect 1 prov_cli dgst -sha384 -prverify p11vault:kp384 -signature "$W/p384.sig" "$W/msg.tampered"
run_expect 0 prov_cli pkeyutl -verify -inkey p11vault:kpss -pkeyopt digest:sha384 -pkeyopt rsa_padding_mode:pss \
	-in "$W/msg.sha384" -sigfile "$W/rsa.pss.sig"
assert_contains "$RUN_OUT" "Signature Verified Successfully"

say "req -new -x509: self-signed certificates with the token keys"
for k in $KEYS; do
	run_expect 0 prov_cli req -new -x509 -key "p11vault:$k" -subj "/CN=$k" -days 2 -out "$W/$k.crt"
	run_expect 0 ossl verify -CAfile "$W/$k.crt" "$W/$k.crt"
	prov_same_pub "$W/$k.crt" "$W/$k.pem"
done
run_expect 0 prov_cli req -new -x509 -key p11vault:kp384 -sha384 -subj /CN=kp384-384 -days 2 -out "$W/kp384.384.crt"
run_expect 0 ossl verify -CAfile "$W/kp384.384.crt" "$W/kp384.384.crt"
assert_eq "$(sigalg "$W/kp256.crt")" ecdsa-with-SHA256
assert_eq "$(sigalg "$W/kp384.384.crt")" ecdsa-with-SHA384
assert_eq "$(sigalg "$W/ked.crt")" ED25519
assert_eq "$(sigalg "$W/kpss.crt")" sha256WithRSAEncryption

say "req -new -x509 -sigopt rsa_padding_mode:pss: RSASSA-PSS with its parameters"
run_expect 0 prov_cli req -new -x509 -key p11vault:kpss -sigopt rsa_padding_mode:pss -subj /CN=pss -days 2 \
	-out "$W/pss.crt"
run_expect 0 ossl verify -CAfile "$W/pss.crt" "$W/pss.crt"
ossl x509 -in "$W/pss.crt" -noout -text >"$W/pss.txt"
assert_eq "$(sigalg "$W/pss.crt")" rsassaPss
assert_contains "$W/pss.txt" "Hash Algorithm: sha256"
assert_contains "$W/pss.txt" "Mask Algorithm: mgf1 with sha256"
assert_contains "$W/pss.txt" "Salt Length: 0x20"

say "x509 -req -CAkey: the token keys issue a certificate for a software key"
ossl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/leaf.key" -subj /CN=leaf \
	-out "$W/leaf.csr" >"$W/leaf.out" 2>&1 || fail "cannot make the leaf CSR"
for k in $KEYS; do
	run_expect 0 prov_cli x509 -req -in "$W/leaf.csr" -CA "$W/$k.crt" -CAkey "p11vault:$k" \
		-CAserial "$W/$k.srl" -CAcreateserial -days 2 -out "$W/leaf.$k.crt"
	run_expect 0 ossl verify -CAfile "$W/$k.crt" "$W/leaf.$k.crt"
done
# EVP_PKEY_eq between the certificate's key (imported) and the token key.
run_expect 1 prov_cli x509 -req -in "$W/leaf.csr" -CA "$W/kp384.crt" -CAkey p11vault:kp256 \
	-CAserial "$W/x.srl" -CAcreateserial -days 2 -out "$W/leaf.mismatch.crt"

say "openssl ca with a token key as the CA key"
for k in kp256 ked kpss; do
	d=$W/ca.$k
	mkdir -p "$d/newcerts"
	: >"$d/index.txt"
	echo 01 >"$d/serial"
	cat >"$d/ca.cnf" <<EOF
[ca]
default_ca = CA_default
[CA_default]
dir = $d
database = \$dir/index.txt
new_certs_dir = \$dir/newcerts
serial = \$dir/serial
certificate = $W/$k.crt
private_key = p11vault:$k
default_md = sha256
default_days = 2
policy = policy_any
[policy_any]
commonName = supplied
EOF
	run_expect 0 prov_cli ca -batch -config "$d/ca.cnf" -in "$W/leaf.csr" -out "$d/leaf.crt"
	run_expect 0 ossl verify -CAfile "$W/$k.crt" "$d/leaf.crt"
done

say "cms -sign with the token keys (ECDSA, RSA PKCS#1 and PSS)"
for k in kp256 kp384 kpss; do
	run_expect 0 prov_cli cms -sign -binary -nodetach -in "$W/msg" -signer "$W/$k.crt" -inkey "p11vault:$k" \
		-outform PEM -out "$W/$k.cms"
	run_expect 0 ossl cms -verify -inform PEM -in "$W/$k.cms" -CAfile "$W/$k.crt" -out "$W/$k.cms.out"
	assert_same_file "$W/$k.cms.out" "$W/msg"
done
run_expect 0 prov_cli cms -sign -binary -nodetach -in "$W/msg" -signer "$W/kpss.crt" -inkey p11vault:kpss \
	-keyopt rsa_padding_mode:pss -outform PEM -out "$W/kpss.pss.cms"
run_expect 0 ossl cms -verify -inform PEM -in "$W/kpss.pss.cms" -CAfile "$W/kpss.crt" -out "$W/kpss.pss.out"
ossl cms -cmsout -print -inform PEM -in "$W/kpss.pss.cms" >"$W/kpss.pss.txt"
assert_contains "$W/kpss.pss.txt" "rsassaPss"
# Detached, the default: verified against the message.
run_expect 0 prov_cli cms -sign -binary -in "$W/msg" -signer "$W/kp256.crt" -inkey p11vault:kp256 -outform DER \
	-out "$W/detached.cms"
run_expect 0 ossl cms -verify -binary -inform DER -in "$W/detached.cms" -content "$W/msg" -CAfile "$W/kp256.crt" \
	-out /dev/null
run_expect 4 ossl cms -verify -binary -inform DER -in "$W/detached.cms" -content "$W/msg.tampered" \
	-CAfile "$W/kp256.crt" -out /dev/null

say "refused: unknown or unsupported digests and parameters, Ed25519 with a digest, purpose derive"
run_expect 1 prov_cli dgst -md5 -sign p11vault:kp256 -out "$W/x.sig" "$W/msg"
assert_contains "$RUN_ERR" "digest md5 is not supported"
run_expect 1 prov_cli dgst -sha256 -sign p11vault:kpss -sigopt rsa_padding_mode:x931 -out "$W/x.sig" "$W/msg"
assert_contains "$RUN_ERR" "pad mode pkcs1 or pss only"
run_expect 1 prov_cli dgst -sha256 -sign p11vault:kpss -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:300 \
	-out "$W/x.sig" "$W/msg"
assert_contains "$RUN_ERR" "does not fit the key"
run_expect 1 prov_cli dgst -sha256 -sign p11vault:kpss -sigopt rsa_pss_saltlen:digest -out "$W/x.sig" "$W/msg"
assert_contains "$RUN_ERR" "needs pad mode pss"
run_expect 1 prov_cli pkeyutl -sign -inkey p11vault:kpss -in "$W/msg.sha384" -out "$W/x.sig"
assert_contains "$RUN_ERR" "needs its digest set"
run_expect 1 prov_cli pkeyutl -sign -inkey p11vault:kp384 -pkeyopt digest:sha256 -in "$W/msg.sha384" \
	-out "$W/x.sig"
assert_contains "$RUN_ERR" "not a digest of the chosen size"
run_expect 1 prov_cli dgst -sha512 -sign p11vault:ked -out "$W/x.sig" "$W/msg"
run_expect 1 prov_cli dgst -sha256 -sign p11vault:kdrv -out "$W/x.sig" "$W/msg"
[ ! -s "$W/x.sig" ] || fail "a refused signing wrote a signature"

say "RSA-OAEP decryption (purpose decrypt) and ECDH (purpose derive)"
mkkey kdec rsa2048 decrypt
pub_pem kdec "$W/kdec.pem"
pub_pem kdrv "$W/kdrv.pem"
printf 'a secret for the token key\n' >"$W/pt"
for md in sha1 sha256; do
	ossl pkeyutl -encrypt -pubin -inkey "$W/kdec.pem" -pkeyopt rsa_padding_mode:oaep -pkeyopt "rsa_oaep_md:$md" \
		-pkeyopt rsa_oaep_label:0a0b -in "$W/pt" -out "$W/ct.$md" || fail "OAEP encryption ($md)"
	run_expect 0 prov_cli pkeyutl -decrypt -inkey p11vault:kdec -pkeyopt rsa_padding_mode:oaep \
		-pkeyopt "rsa_oaep_md:$md" -pkeyopt rsa_oaep_label:0a0b -in "$W/ct.$md" -out "$W/pt.$md"
	assert_same_file "$W/pt.$md" "$W/pt"
	# another label: the decoding fails, nothing comes out
	run_expect 1 prov_cli pkeyutl -decrypt -inkey p11vault:kdec -pkeyopt rsa_padding_mode:oaep \
		-pkeyopt "rsa_oaep_md:$md" -pkeyopt rsa_oaep_label:0a0c -in "$W/ct.$md" -out "$W/pt.bad"
	[ ! -s "$W/pt.bad" ] || fail "a failed OAEP decryption wrote plaintext"
done
# no label, SHA-1: the token's own CKM_RSA_PKCS_OAEP
ossl pkeyutl -encrypt -pubin -inkey "$W/kdec.pem" -pkeyopt rsa_padding_mode:oaep -in "$W/pt" -out "$W/ct.nolabel" ||
	fail "OAEP encryption (no label)"
run_expect 0 prov_cli pkeyutl -decrypt -inkey p11vault:kdec -pkeyopt rsa_padding_mode:oaep -in "$W/ct.nolabel" \
	-out "$W/pt.nolabel"
assert_same_file "$W/pt.nolabel" "$W/pt"
ossl pkeyutl -encrypt -pubin -inkey "$W/kdec.pem" -in "$W/pt" -out "$W/ct.pkcs1" || fail "PKCS#1 encryption"
run_expect 1 prov_cli pkeyutl -decrypt -inkey p11vault:kdec -in "$W/ct.pkcs1" -out "$W/pt.bad"
assert_contains "$RUN_ERR" "PKCS#1 v1.5 is refused"
run_expect 1 prov_cli pkeyutl -decrypt -inkey p11vault:kpss -pkeyopt rsa_padding_mode:oaep -in "$W/ct.sha1" \
	-out "$W/pt.bad"
assert_contains "$RUN_ERR" "purpose"
ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$W/peer.key" >/dev/null 2>&1 || fail "peer key"
ossl pkey -in "$W/peer.key" -pubout -out "$W/peer.pem" || fail "peer public key"
run_expect 0 prov_cli pkeyutl -derive -inkey p11vault:kdrv -peerkey "$W/peer.pem" -out "$W/ecdh.token"
ossl pkeyutl -derive -inkey "$W/peer.key" -peerkey "$W/kdrv.pem" -out "$W/ecdh.soft" || fail "software ECDH"
assert_size "$W/ecdh.token" 32
assert_same_file "$W/ecdh.token" "$W/ecdh.soft" "the token's ECDH secret"
run_expect 1 prov_cli pkeyutl -derive -inkey p11vault:kp256 -peerkey "$W/peer.pem" -out "$W/ecdh.bad"
assert_contains "$RUN_ERR" "purpose"
ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$W/peer384.key" >/dev/null 2>&1 || fail "peer key"
ossl pkey -in "$W/peer384.key" -pubout -out "$W/peer384.pem" || fail "peer public key"
run_expect 1 prov_cli pkeyutl -derive -inkey p11vault:kdrv -peerkey "$W/peer384.pem" -out "$W/ecdh.bad"
assert_contains "$RUN_ERR" "another curve"

echo "provider_sign: ok"
