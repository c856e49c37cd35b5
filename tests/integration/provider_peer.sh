#!/bin/bash
# The peer suite (issue 16): the portable scenarios of pkcs11-provider's own
# tests (tests/t{basic,pubkey,ecc,rsa,rsapss,edwards,democa,tls,certs,uri,
# forking} in latchset/pkcs11-provider), ported as our own test: the same
# openssl command lines and pass criteria where they apply to p11vault.so,
# with our set-up (a fresh SoftHSM token, keys made by vaultctl, the direct
# backend through tests/lib/provider.sh). Their URIs map to ours:
#   BASEURI  pkcs11:object=rsa          PRIURI  ...;type=private
#   PUBURI   pkcs11:object=rsa;type=public   (EC: object=ec, Ed25519: object=ed)
# Each scenario prints "peer <scenario>: ok" (or "skipped: reason"); a step
# we do not offer prints "peer <scenario>/<step>: skipped: reason". The
# expected differences are listed in docs/provider.md ("Peer suite").
# Beyond their criteria, every signature made here is also verified with
# the default provider alone.
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/provider.sh"
prov_need
trap prov_cleanup EXIT

W=$PV_WORK
T=$W/tmp # their TMPPDIR
mkdir -p "$T"
CNF=$W/peer.cnf
prov_conf "$CNF" direct

# po ARGS...: their `ossl '...'` (openssl with the provider configured), exit 0
po() { run_expect 0 prov_ossl "$@"; }
# po_fail ARGS...: the command must fail
po_fail() { run_expect '1|2|3|4|5|6|7|8|9' prov_ossl "$@"; }
# po_none ARGS...: storeutl finds nothing (it may still exit 0)
po_none() {
	run_expect '0|1' prov_ossl "$@"
	assert_contains "$RUN_OUT" "Total found: 0"
}
peer_ok() { printf 'peer %s: ok\n' "$1"; }
peer_skip() { printf 'peer %s: skipped: %s\n' "$1" "$2"; }
# pubin STEP: their step with the base (private-key) URI and -pubin: the
# public key read that way is the token key's (the store hands over the
# public half when OSSL_STORE_expect asks for a public key).
pubin() {
	local ref pem
	case $1 in
	*EDBASEURI*) ref=$EDBASEURI pem=$W/ed.pem ;;
	*ECBASEURI*) ref=$ECBASEURI pem=$W/ec.pem ;;
	*) ref=$BASEURI pem=$W/rsa.pem ;;
	esac
	po pkey -in "$ref" -pubin -pubout -out "$T/pubin.pub"
	same_pub "$T/pubin.pub" "$pem"
	printf 'peer %s: ok\n' "$1"
}

say "set-up: keys made by vaultctl (their setup-softhsm.sh makes them with pkcs11-tool)"
mkkey rsa rsa2048 sign
mkkey ec p256 sign
mkkey ed ed25519 sign
mkkey rsadec rsa2048 decrypt
for k in rsa ec ed rsadec; do
	pub_pem "$k" "$W/$k.pem"
done
BASEURI="pkcs11:object=rsa"
PRIURI="pkcs11:object=rsa;type=private"
PUBURI="pkcs11:object=rsa.v1;type=public"
ECBASEURI="pkcs11:object=ec"
ECPRIURI="pkcs11:object=ec;type=private"
ECPUBURI="pkcs11:object=ec.v1;type=public"
EDBASEURI="pkcs11:object=ed"
EDPRIURI="pkcs11:object=ed;type=private"
EDPUBURI="pkcs11:object=ed.v1;type=public"
SEEDFILE=$T/seed
RAND64FILE=$T/64krandom.bin
head -c 4096 /dev/urandom >"$SEEDFILE"
head -c 64 /dev/urandom >"$RAND64FILE"
ossl dgst -sha256 -binary -out "$T/sha256.bin" "$SEEDFILE"

# same_pub FILE REFPEM: FILE (a PEM public key) is exactly REFPEM's key
same_pub() {
	assert_same_file <(ossl pkey -pubin -in "$1" -outform DER) <(ossl pkey -pubin -in "$2" -outform DER) \
		"$1 is not the token key's public key"
}

# ---------------------------------------------------------------- basic
SCEN=basic
say "peer basic (tests/tbasic)"
pubin "$SCEN/BASEURI -pubin"
po pkey -in "$PUBURI" -pubin -pubout -out "$T/testout.pub"
same_pub "$T/testout.pub" "$W/rsa.pem"
peer_skip "basic/with-pin" "no PIN in a URI (pin-value is refused by design): the PIN comes only from pin-source"
po pkey -in "$PRIURI" -pubout -text
# their criterion greps their encoder's "PKCS11 RSA Public Key (2048 bits)";
# we have no text encoder: the default provider prints the exported key
assert_contains "$RUN_OUT" "Public-Key: (2048 bit)"
po_fail pkey -in "pkcs11:id=%de%ad" -pubin -pubout -out "$T/testout-invlid.pub"
po pkey -in "$ECPUBURI" -pubin -pubout -out "$T/ecout.pub"
same_pub "$T/ecout.pub" "$W/ec.pem"
po pkey -in "$ECPRIURI" -pubout -text
assert_contains "$RUN_OUT" "Public-Key: (256 bit)"
head -c 64 /dev/urandom >"$T/64Brandom.bin"
po_fail pkeyutl -sign -inkey "$BASEURI" -pkeyopt pad-mode:none -in "$T/64Brandom.bin" -out "$T/raw-sig.bin"
po_fail pkeyutl -sign -inkey "$PRIURI" -in "$T/sha256.bin" -out "$T/sha256-sig.bin"
peer_skip "$SCEN/hash-without-digestinfo" "RSA over a bare hash with no digest set (no DigestInfo) is refused by design; checked refused"
po pkeyutl -sign -inkey "$PRIURI" -pkeyopt digest:sha256 -in "$T/sha256.bin" -out "$T/sha256-sig.bin"
po pkeyutl -verify -inkey "$PUBURI" -pkeyopt digest:sha256 -pubin -in "$T/sha256.bin" -sigfile "$T/sha256-sig.bin"
run_expect 0 ossl pkeyutl -verify -inkey "$W/rsa.pem" -pkeyopt digest:sha256 -pubin -in "$T/sha256.bin" \
	-sigfile "$T/sha256-sig.bin"
po pkeyutl -sign -inkey "$ECBASEURI" -in "$T/sha256.bin" -out "$T/sha256-ecsig.bin"
pubin "$SCEN/ECBASEURI -pubin"
po pkeyutl -verify -inkey "$T/ecout.pub" -pubin -in "$T/sha256.bin" -sigfile "$T/sha256-ecsig.bin"
run_expect 0 ossl pkeyutl -verify -inkey "$W/ec.pem" -pubin -in "$T/sha256.bin" -sigfile "$T/sha256-ecsig.bin"
po pkeyutl -sign -inkey "$BASEURI" -digest sha256 -in "$RAND64FILE" -rawin -out "$T/sha256-dgstsig.bin"
pubin "$SCEN/BASEURI -pubin"
po pkeyutl -verify -inkey "$PUBURI" -pubin -digest sha256 -in "$RAND64FILE" -rawin -sigfile "$T/sha256-dgstsig.bin"
run_expect 0 ossl pkeyutl -verify -inkey "$W/rsa.pem" -pubin -digest sha256 -in "$RAND64FILE" -rawin \
	-sigfile "$T/sha256-dgstsig.bin"
# RSA encrypt/decrypt: theirs is PKCS#1 v1.5 with one key; ours decrypts
# only RSA-OAEP and only with a key of purpose decrypt
echo "Super Secret" >"$T/rsasecret.txt"
po pkeyutl -encrypt -inkey "pkcs11:object=rsadec.v1;type=public" -pubin -in "$T/rsasecret.txt" \
	-out "$T/rsasecret.txt.enc"
po_fail pkeyutl -decrypt -inkey "pkcs11:object=rsadec;type=private" -in "$T/rsasecret.txt.enc" \
	-out "$T/rsasecret.txt.dec"
peer_skip "basic/encrypt-decrypt-pkcs1" "PKCS#1 v1.5 decryption is refused by design (OAEP only, key of purpose decrypt); OAEP below"
po pkeyutl -encrypt -inkey "pkcs11:object=rsadec.v1;type=public" -pubin -pkeyopt rsa_padding_mode:oaep \
	-in "$T/rsasecret.txt" -out "$T/rsasecret.txt.enc"
po pkeyutl -decrypt -inkey "pkcs11:object=rsadec;type=private" -pkeyopt rsa_padding_mode:oaep \
	-in "$T/rsasecret.txt.enc" -out "$T/rsasecret.txt.dec"
assert_same_file "$T/rsasecret.txt" "$T/rsasecret.txt.dec" "OAEP round trip"
peer_skip "basic/disallow-public-export" "pkcs11-provider's pkcs11-module-allow-export option: no such option here"
po req -new -batch -key "$PRIURI" -subj "/CN=peer basic" -out "$T/rsa_csr.pem"
po req -in "$T/rsa_csr.pem" -verify -noout
run_expect 0 ossl req -in "$T/rsa_csr.pem" -verify -noout
# public keys without a PIN: a configuration with no pin-source
prov_conf "$W/nopin.cnf" direct
sed -i '/^pin-source/d' "$W/nopin.cnf"
po pkey -in "$PUBURI" -pubin -pubout -out "$T/rsa.pub.nopin.pem"
same_pub "$T/rsa.pub.nopin.pem" "$W/rsa.pem"
po pkey -in "$ECPUBURI" -pubin -pubout -out "$T/ec.pub.nopin.pem"
same_pub "$T/ec.pub.nopin.pem" "$W/ec.pem"
prov_use "$CNF"
peer_ok basic

# ---------------------------------------------------------------- pubkey
SCEN=pubkey
say "peer pubkey (tests/tpubkey)"
pubin "$SCEN/BASEURI -pubin"
po pkey -in "$PUBURI" -pubin -pubout -out "$T/pubout.pub"
same_pub "$T/pubout.pub" "$W/rsa.pem"
po pkey -in "$PRIURI" -pubout -text
assert_contains "$RUN_OUT" "Public-Key: (2048 bit)"
po_fail pkey -in "pkcs11:id=%de%ad" -pubin -pubout -out "$T/pubout-invlid.pub"
pubin "$SCEN/ECBASEURI -pubin"
po pkey -in "$ECPUBURI" -pubin -pubout -out "$T/pubecout.pub"
same_pub "$T/pubecout.pub" "$W/ec.pem"
po pkey -in "$ECPRIURI" -pubout -text
assert_contains "$RUN_OUT" "Public-Key: (256 bit)"
peer_skip "pubkey/from-certificate" "a key pair whose public key object was removed, found through a certificate object: vaultctl keys always keep their public key object"
peer_ok pubkey

# ---------------------------------------------------------------- ecc
SCEN=ecc
say "peer ecc (tests/tecc)"
po pkey -in "$ECPUBURI" -pubin -pubout -out "$T/ecout.pub"
po pkey -in "$ECPRIURI" -pubout -text
assert_contains "$RUN_OUT" "Public-Key: (256 bit)"
po pkeyutl -sign -inkey "$ECBASEURI" -in "$T/sha256.bin" -out "$T/sha256-ecsig.bin"
pubin "$SCEN/ECBASEURI -pubin"
po pkeyutl -verify -inkey "$T/ecout.pub" -pubin -in "$T/sha256.bin" -sigfile "$T/sha256-ecsig.bin"
for md in sha256 sha384 sha512; do
	po pkeyutl -sign -inkey "$ECBASEURI" -digest "$md" -in "$RAND64FILE" -rawin -out "$T/$md-ecdgstsig.bin"
	pubin "$SCEN/ECBASEURI -pubin -digest $md"
	po pkeyutl -verify -inkey "$ECBASEURI" -pubin -digest "$md" -in "$RAND64FILE" -rawin \
		-sigfile "$T/$md-ecdgstsig.bin"
	run_expect 0 ossl pkeyutl -verify -inkey "$W/ec.pem" -pubin -digest "$md" -in "$RAND64FILE" -rawin \
		-sigfile "$T/$md-ecdgstsig.bin"
done
for md in sha3-256 sha3-384 sha3-512; do
	po_fail pkeyutl -sign -inkey "$ECBASEURI" -digest "$md" -in "$RAND64FILE" -rawin -out "$T/$md-ecdgstsig.bin"
done
peer_skip "ecc/sha3" "SHA3-256/384/512 signatures are refused by design (SHA-256/384/512 only); checked refused"
po req -new -batch -key "$ECPRIURI" -subj "/CN=peer ecc" -out "$T/ecdsa_csr.pem"
po req -in "$T/ecdsa_csr.pem" -verify -noout
run_expect 0 ossl req -in "$T/ecdsa_csr.pem" -verify -noout
peer_ok ecc

# ---------------------------------------------------------------- rsa
SCEN=rsa
say "peer rsa (tests/trsa)"
{
	printf '\0'
	head -c 255 /dev/urandom
} >"$T/255Brandom.bin"
po_fail rsautl -sign -inkey "$PRIURI" -raw -in "$T/255Brandom.bin" -out "$T/raw-sig.bin"
peer_skip "rsa/raw-sign" "raw RSA (no padding, CKM_RSA_X_509) is refused by design; checked refused"
po_fail pkeyutl -sign -inkey "$BASEURI" -pkeyopt pad-mode:none -in "$T/64Brandom.bin" -out "$T/no-raw-sig.bin"
po_fail pkeyutl -sign -inkey "$PRIURI" -in "$T/sha256.bin" -out "$T/sha256-sig.bin"
peer_skip "$SCEN/hash-without-digestinfo" "RSA over a bare hash with no digest set (no DigestInfo) is refused by design; checked refused"
po pkeyutl -sign -inkey "$PRIURI" -pkeyopt digest:sha256 -in "$T/sha256.bin" -out "$T/sha256-sig.bin"
po pkeyutl -verify -inkey "$PUBURI" -pkeyopt digest:sha256 -pubin -in "$T/sha256.bin" -sigfile "$T/sha256-sig.bin"
run_expect 0 ossl pkeyutl -verify -inkey "$W/rsa.pem" -pkeyopt digest:sha256 -pubin -in "$T/sha256.bin" \
	-sigfile "$T/sha256-sig.bin"
po pkeyutl -sign -inkey "$BASEURI" -digest sha256 -in "$RAND64FILE" -rawin -out "$T/sha256-dgstsig.bin"
pubin "$SCEN/BASEURI -pubin"
po pkeyutl -verify -inkey "$PUBURI" -pubin -digest sha256 -in "$RAND64FILE" -rawin -sigfile "$T/sha256-dgstsig.bin"
peer_skip "rsa/encrypt-decrypt" "theirs runs only with SUPPORT_RSA_PKCS1_ENCRYPTION; PKCS#1 v1.5 decryption is refused here (see basic)"
peer_ok rsa

# ---------------------------------------------------------------- rsapss
SCEN=rsapss
say "peer rsapss (tests/trsapss)"
po pkeyutl -sign -inkey "$BASEURI" -digest sha256 -pkeyopt pad-mode:pss -pkeyopt mgf1-digest:sha256 \
	-pkeyopt saltlen:digest -in "$RAND64FILE" -rawin -out "$T/sha256-dgstsig.bin"
pubin "$SCEN/BASEURI -pubin"
po pkeyutl -verify -inkey "$PUBURI" -pubin -digest sha256 -pkeyopt pad-mode:pss -pkeyopt mgf1-digest:sha256 \
	-pkeyopt saltlen:digest -in "$RAND64FILE" -rawin -sigfile "$T/sha256-dgstsig.bin"
run_expect 0 ossl pkeyutl -verify -inkey "$W/rsa.pem" -pubin -digest sha256 -pkeyopt pad-mode:pss \
	-pkeyopt mgf1-digest:sha256 -pkeyopt saltlen:digest -in "$RAND64FILE" -rawin -sigfile "$T/sha256-dgstsig.bin"
peer_ok rsapss

# ---------------------------------------------------------------- edwards
SCEN=edwards
say "peer edwards (tests/tedwards)"
po pkey -in "$EDPUBURI" -pubin -pubout -out "$T/edout.pub"
same_pub "$T/edout.pub" "$W/ed.pem"
po pkey -in "$EDPRIURI" -pubout -text
# theirs: "ED25519 Public Key" (their encoder); the default provider's text
assert_contains "$RUN_OUT" "ED25519 Public-Key:"
po pkeyutl -sign -inkey "$EDBASEURI" -in "$RAND64FILE" -rawin -out "$T/sha256-eddgstsig.bin"
pubin "$SCEN/EDBASEURI -pubin"
run_expect 0 ossl pkeyutl -verify -inkey "$W/ed.pem" -pubin -in "$RAND64FILE" -rawin -sigfile "$T/sha256-eddgstsig.bin"
po req -new -batch -key "$EDPRIURI" -subj "/CN=peer edwards" -out "$T/ed25519_csr.pem"
po req -in "$T/ed25519_csr.pem" -verify -noout
run_expect 0 ossl req -in "$T/ed25519_csr.pem" -verify -noout
peer_skip "edwards/ed448" "Ed448 keys are not offered (vaultctl: ed25519 only)"
peer_ok edwards

# ---------------------------------------------------------------- demoCA
SCEN=demoCA
say "peer demoCA (tests/tdemoca)"
# their openssl.cnf has the [ca] and [req] sections of the system one
CACNF=$W/ca.cnf
cp "$CNF" "$CACNF"
cat >>"$CACNF" <<'EOF'

[ca]
default_ca = CA_default

[CA_default]
dir = ./demoCA
database = $dir/index.txt
new_certs_dir = $dir/newcerts
certificate = $dir/cacert.pem
serial = $dir/serial
private_key = $dir/private/cakey.pem
default_md = default
default_days = 2
policy = policy_anything

[policy_anything]
countryName = optional
organizationName = optional
commonName = supplied

[req]
distinguished_name = req_dn
prompt = no

[req_dn]
O = PKCS11 Provider
CN = p11vault peer CA
EOF
prov_use "$CACNF"
(
	cd "$T"
	DEMOCA=demoCA
	mkdir -p "$DEMOCA/newcerts" "$DEMOCA/private"
	echo 01 >"$DEMOCA/serial"
	touch "$DEMOCA/index.txt"
	po req -batch -noenc -x509 -new -key "$PRIURI" -out "$DEMOCA/cacert.pem"
	run_expect 0 ossl verify -CAfile "$DEMOCA/cacert.pem" "$DEMOCA/cacert.pem"
	po req -batch -noenc -newkey rsa:2048 -subj "/CN=testing-csr-signing/O=PKCS11 Provider/C=US" \
		-keyout "$DEMOCA/cert.key" -out "$DEMOCA/cert.csr"
	po ca -batch -in "$DEMOCA/cert.csr" -keyfile "$PRIURI" -out "$DEMOCA/cert.pem"
	run_expect 0 ossl verify -CAfile "$DEMOCA/cacert.pem" "$DEMOCA/cert.pem"
	for k in rsa:"$PRIURI" ec:"$ECPRIURI" ed:"$EDPRIURI"; do
		n=${k%%:*}
		po req -batch -noenc -new -key "${k#*:}" -subj "/CN=testing-$n-signing/O=PKCS11 Provider/C=US" \
			-out "$DEMOCA/cert-$n.csr"
		po ca -batch -in "$DEMOCA/cert-$n.csr" -keyfile "$PRIURI" -out "$DEMOCA/cert.pem"
		run_expect 0 ossl verify -CAfile "$DEMOCA/cacert.pem" "$DEMOCA/cert.pem"
		ossl x509 -in "$DEMOCA/cert.pem" -noout -pubkey >"$T/cert-$n.pub"
		same_pub "$T/cert-$n.pub" "$W/$n.pem"
	done
	po req -batch -noenc -new -subj "/CN=OCSP/O=PKCS11 Provider/C=US" -key "$PRIURI" -out "$DEMOCA/ocspSigning.csr"
	po ca -batch -keyfile "$PRIURI" -cert "$DEMOCA/cacert.pem" -in "$DEMOCA/ocspSigning.csr" \
		-out "$DEMOCA/ocspSigning.pem"
	run_expect 0 ossl verify -CAfile "$DEMOCA/cacert.pem" "$DEMOCA/ocspSigning.pem"
	# theirs skips the OCSP run on Debian; we run it, with -rmd sha256
	# (SHA-1 signatures are refused here) and -nrequest 1
	PORT=$(prov_free_port)
	OPENSSL_CONF=$CACNF timeout -k 5 60 openssl ocsp -index "$DEMOCA/index.txt" -rsigner "$DEMOCA/ocspSigning.pem" \
		-rkey "$PRIURI" -CA "$DEMOCA/cacert.pem" -rmd sha256 -port "$PORT" -nrequest 1 -text \
		>"$PV_OUT/ocsp.srv.out" 2>"$PV_OUT/ocsp.srv.err" &
	ocsp_pid=$!
	for ((i = 0; i < 100; i++)); do
		grep -qi 'waiting for OCSP client\|^ACCEPT' "$PV_OUT/ocsp.srv.out" "$PV_OUT/ocsp.srv.err" 2>/dev/null && break
		sleep 0.1
	done
	po ocsp -CAfile "$DEMOCA/cacert.pem" -issuer "$DEMOCA/cacert.pem" -cert "$DEMOCA/cert.pem" -resp_text \
		-noverify -url "http://127.0.0.1:$PORT" -respout "$T/ocsp.resp"
	assert_contains "$RUN_OUT" ": good"
	wait "$ocsp_pid" || true
	# and the response's signature (the token key) verifies with the default
	# provider, the responder's certificate trusted directly
	run_expect 0 ossl ocsp -no_nonce -respin "$T/ocsp.resp" -VAfile "$DEMOCA/ocspSigning.pem" \
		-issuer "$DEMOCA/cacert.pem" -cert "$DEMOCA/cert.pem"
	assert_contains "$RUN_ERR" "Response verify OK"
)
prov_use "$CNF"
peer_ok demoCA

# ---------------------------------------------------------------- tls
SCEN=tls
say "peer tls (tests/ttls)"
peer_skip "tls/tlsctx-tlssetkey" "their C programs (SSL_CTX creation, cert/key by URI on an SSL_CTX): the s_server runs below load the same way"
peer_skip "tls/certificate-object-without-public-key" "needs a key pair without its public key object (see pubkey)"
# their certificates come from the token, signed by their CA (CACRT); ours
# from a software CA for the token's public keys (certificates on the
# token: see certs)
prov_ca_init "$W/ca"
CACRT=$W/ca/ca.pem
prov_ca_issue "$W/rsa.pem" peer-rsa "$W/rsa.crt"
prov_ca_issue "$W/ec.pem" peer-ec "$W/ec.crt"
prov_ca_issue "$W/ed.pem" peer-ed "$W/ed.crt"
prov_ossl req -new -x509 -key "$PRIURI" -subj "/CN=peer-pss" -days 2 -out "$T/rsapss-default.pem" \
	-sigopt rsa_padding_mode:pss >"$PV_OUT/pss1.out" 2>&1 || fail "self-signed PSS certificate: $(cat "$PV_OUT/pss1.out")"
prov_ossl req -new -x509 -key "$PRIURI" -subj "/CN=peer-pss2" -days 2 -out "$T/rsapss-sha256.pem" \
	-sigopt rsa_padding_mode:pss -sigopt digest:sha256 -sigopt rsa_pss_saltlen:-1 >"$PV_OUT/pss2.out" 2>&1 ||
	fail "self-signed PSS/SHA-256 certificate: $(cat "$PV_OUT/pss2.out")"
for c in rsapss-default rsapss-sha256; do
	run_expect 0 ossl verify -CAfile "$T/$c.pem" "$T/$c.pem"
done
tls_n=0
# run_test KEY CERT SRV_ARGS CLNT_ARGS [CAFILE]: theirs waits for the
# server's "END SSL SESSION PARAMETERS" and the client for the server's
# " TLS SUCCESSFUL "; ours: a verified handshake and a line echoed (cli_ok)
run_test() {
	local key=$1 cert=$2 sargs=$3 cargs=$4 ca=${5:-$CACRT}
	tls_n=$((tls_n + 1))
	# shellcheck disable=SC2086 # the argument lists split as theirs do
	srv_start "t$tls_n" OPENSSL_CONF="$CNF" -- $PROPQ -key "$key" -cert "$cert" $sargs ||
		fail "tls run $tls_n: s_server did not start: $(cat "$SRV_ERR")"
	# shellcheck disable=SC2086
	cli_talk "t$tls_n" " TLS SUCCESSFUL " -- -CAfile "$ca" $cargs || true
	cli_ok "tls run $tls_n ($key $sargs $cargs)" " TLS SUCCESSFUL "
	srv_stop "t$tls_n"
	echo "ok: tls run $tls_n: $key $sargs $cargs"
}
# tmp_key WANT: the last run's ephemeral key, as s_client tells it
tmp_key() { assert_contains "$CLI_OUT" "Server Temp Key: $1"; }
run_tests() {
	run_test "$PRIURI" "$W/rsa.crt" "" ""
	run_test "$PRIURI" "$T/rsapss-default.pem" "" "" "$T/rsapss-default.pem"
	run_test "$PRIURI" "$T/rsapss-sha256.pem" "" "" "$T/rsapss-sha256.pem"
	run_test "$ECPRIURI" "$W/ec.crt" "" ""
	run_test "$EDPRIURI" "$W/ed.crt" "" ""
	run_test "$PRIURI" "$W/rsa.crt" "" "-tls1_2"
	run_test "$PRIURI" "$W/rsa.crt" "" "-tls1_3"
	# ECDSA on TLS 1.2 (X25519) and P-256 ECDHE: under -propquery
	# ?provider=p11vault the server's P-256 ephemeral key is made by
	# p11vault's EC KEYMGMT (gen, in software) and derived with by its ECDH
	# (once known failures: that KEYMGMT made no keys, and these three runs
	# got "no shared cipher" and "no suitable key share")
	run_test "$ECPRIURI" "$W/ec.crt" "-tls1_2" "-tls1_2"
	tmp_key "X25519, 253 bits"
	run_test "$ECPRIURI" "$W/ec.crt" "" "-tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256 -groups secp256r1"
	tmp_key "ECDH, prime256v1, 256 bits"
	run_test "$ECPRIURI" "$W/ec.crt" "" "-tls1_3 -ciphersuites TLS_AES_256_GCM_SHA384 -groups secp256r1"
	tmp_key "ECDH, prime256v1, 256 bits"
	# beyond theirs: P-384, RSA and Ed25519 certificates with NIST ECDHE,
	# and a HelloRetryRequest (the client's first share is X25519, the
	# server takes P-384 only)
	run_test "$PRIURI" "$W/rsa.crt" "" "-tls1_3 -groups secp384r1"
	tmp_key "ECDH, secp384r1, 384 bits"
	run_test "$PRIURI" "$W/rsa.crt" "" "-tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256 -groups secp384r1"
	tmp_key "ECDH, secp384r1, 384 bits"
	run_test "$EDPRIURI" "$W/ed.crt" "" "-tls1_2 -groups secp256r1"
	tmp_key "ECDH, prime256v1, 256 bits"
	run_test "$ECPRIURI" "$W/ec.crt" "-groups secp384r1" "-tls1_3 -groups x25519:secp384r1"
	tmp_key "ECDH, secp384r1, 384 bits"
	# the default groups (X25519 first; p11vault has no X25519 KEYMGMT)
	run_test "$ECPRIURI" "$W/ec.crt" "" "-tls1_3"
	tmp_key "X25519, 253 bits"
}
PROPQ=""
run_tests
peer_skip "tls/ed448" "Ed448 keys are not offered"
# their second pass: -propquery "?provider=pkcs11" with digests blocked on
# the token; we offer no digests, so only the preference is given
PROPQ="-propquery ?provider=p11vault"
run_tests
# Ephemeral EC keys (the KEYMGMT's gen, what the runs above use): made in
# software, for key exchange only, never written out. genpkey through
# p11vault generates the key but cannot write it (only the public half is
# exported): exit 1, "Error writing key", the -out file (mode 0600) empty.
po_fail genpkey -propquery "?provider=p11vault" -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/gen.pem"
assert_contains "$RUN_ERR" "Error writing key"
assert_size "$T/gen.pem" 0
po_fail genpkey -propquery "?provider=p11vault" -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -text
assert_contains "$RUN_ERR" "Error writing key"
assert_not_contains "$RUN_OUT" "priv:"
assert_not_contains "$RUN_OUT" "PRIVATE KEY"
# only P-256 and P-384 (P-521 refused by name); parameters alone are written
po_fail genpkey -propquery "?provider=p11vault" -algorithm EC -pkeyopt ec_paramgen_curve:P-521 -out "$T/gen521.pem"
assert_contains "$RUN_ERR" "EC key generation: P-521 is not P-256 or P-384"
po genpkey -propquery "?provider=p11vault" -genparam -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/genparam.pem"
assert_same_file "$T/genparam.pem" <(ossl ecparam -name prime256v1) "EC parameters through p11vault"
# through libcrypto: the key is p11vault's; it derives the secret a
# software peer derives; it cannot sign; its private half is not exported
cat >"$W/ephemeral.py" <<'PYEOF'
import ctypes
c = ctypes.CDLL("libcrypto.so.3")
vp, ci, cs = ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p
for n, r, a in [("OPENSSL_init_crypto", ci, [ctypes.c_uint64, vp]),
                ("EVP_PKEY_CTX_new_from_name", vp, [vp, cs, cs]),
                ("EVP_PKEY_CTX_new_from_pkey", vp, [vp, vp, cs]),
                ("EVP_PKEY_keygen_init", ci, [vp]), ("EVP_PKEY_CTX_set_group_name", ci, [vp, cs]),
                ("EVP_PKEY_generate", ci, [vp, ctypes.POINTER(vp)]),
                ("EVP_PKEY_get0_provider", vp, [vp]), ("OSSL_PROVIDER_get0_name", cs, [vp]),
                ("EVP_PKEY_derive_init", ci, [vp]), ("EVP_PKEY_derive_set_peer", ci, [vp, vp]),
                ("EVP_PKEY_derive", ci, [vp, cs, ctypes.POINTER(ctypes.c_size_t)]),
                ("EVP_MD_CTX_new", vp, []),
                ("EVP_DigestSignInit_ex", ci, [vp, vp, cs, vp, cs, vp, vp]),
                ("EVP_PKEY_todata", ci, [vp, ci, ctypes.POINTER(vp)]),
                ("i2d_PUBKEY", ci, [vp, ctypes.POINTER(ctypes.c_char_p)]),
                ("d2i_PUBKEY", vp, [vp, ctypes.POINTER(ctypes.c_char_p), ctypes.c_long]),
                ("ERR_clear_error", None, [])]:
    f = getattr(c, n); f.restype = r; f.argtypes = a
assert c.OPENSSL_init_crypto(0x40, None) == 1
def gen(props, group):
    g = c.EVP_PKEY_CTX_new_from_name(None, b"EC", props)
    k = vp()
    assert g and c.EVP_PKEY_keygen_init(g) == 1 and c.EVP_PKEY_CTX_set_group_name(g, group) == 1
    assert c.EVP_PKEY_generate(g, ctypes.byref(k)) == 1, "generate"
    return k
def public(k):  # a public-only copy (as a TLS peer's share is)
    buf = ctypes.create_string_buffer(256); p = ctypes.c_char_p(ctypes.addressof(buf))
    n = c.i2d_PUBKEY(k, ctypes.byref(p))
    p = ctypes.c_char_p(ctypes.addressof(buf))
    pub = c.d2i_PUBKEY(None, ctypes.byref(p), n)
    assert n > 0 and pub, "public copy"
    return pub
def derive(k, props, peer):
    d = c.EVP_PKEY_CTX_new_from_pkey(None, k, props)
    buf = ctypes.create_string_buffer(64); n = ctypes.c_size_t(64)
    assert d and c.EVP_PKEY_derive_init(d) == 1 and c.EVP_PKEY_derive_set_peer(d, peer) == 1
    assert c.EVP_PKEY_derive(d, buf, ctypes.byref(n)) == 1, "derive"
    return buf.raw[:n.value]
for group, size in [(b"P-256", 32), (b"P-384", 48)]:
    ours, theirs = gen(b"?provider=p11vault", group), gen(b"provider=default", group)
    assert c.OSSL_PROVIDER_get0_name(c.EVP_PKEY_get0_provider(ours)) == b"p11vault"
    assert c.OSSL_PROVIDER_get0_name(c.EVP_PKEY_get0_provider(theirs)) == b"default"
    s1 = derive(ours, b"?provider=p11vault", public(theirs))
    s2 = derive(theirs, b"provider=default", public(ours))
    assert len(s1) == size and s1 == s2, "the two sides derive the same secret"
    print("ok: %s ephemeral key (p11vault) and a software peer derive the same %d bytes" % (group.decode(), size))
    m = c.EVP_MD_CTX_new()
    assert c.EVP_DigestSignInit_ex(m, None, b"SHA256", None, b"?provider=p11vault", ours, None) != 1
    print("ok: %s ephemeral key cannot sign" % group.decode())
    p = vp()
    assert c.EVP_PKEY_todata(ours, 0x87, ctypes.byref(p)) != 1  # EVP_PKEY_KEYPAIR
    assert c.EVP_PKEY_todata(ours, 0x86, ctypes.byref(p)) == 1  # EVP_PKEY_PUBLIC_KEY
    print("ok: %s ephemeral key exports its public half only" % group.decode())
    c.ERR_clear_error()
PYEOF
run_expect 0 env OPENSSL_CONF="$CNF" python3 "$W/ephemeral.py"
assert_contains "$RUN_OUT" "ok: P-384 ephemeral key exports its public half only"
peer_ok tls

# ---------------------------------------------------------------- certs
SCEN=certs
say "peer certs (tests/tcerts)"
# their setup writes certificates to the token with pkcs11-tool; so do we
mkcert() { # PUB SUBJECT OUT
	ossl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/throwaway.key" \
		-subj "$2" -out "$T/cert.csr" >"$PV_OUT/mkcert.out" 2>&1 || fail "CSR for $2"
	ossl x509 -req -in "$T/cert.csr" -CA "$CACRT" -CAkey "$W/ca/ca.key" -CAcreateserial -days 2 \
		-force_pubkey "$1" -outform DER -out "$3" >"$PV_OUT/mkcert.out" 2>&1 || fail "certificate $2"
}
mkcert "$W/rsa.pem" "/O=PKCS11 Provider/CN=My Test Cert" "$T/rsa-cert.der"
mkcert "$W/ec.pem" "/O=PKCS11 Provider/CN=My EC Cert" "$T/ec-cert.der"
run_expect 0 p11tool_login --write-object "$T/rsa-cert.der" --type cert --label rsa-cert --id c1
run_expect 0 p11tool_login --write-object "$T/ec-cert.der" --type cert --label ec-cert --id c2
CRTURI="pkcs11:object=rsa-cert;type=cert"
ECCRTURI="pkcs11:object=ec-cert;type=cert"
po x509 -in "$CRTURI" -subject -out "$T/crt-subj.txt"
assert_contains "$T/crt-subj.txt" "subject=O = PKCS11 Provider, CN = My Test Cert"
po x509 -in "$ECCRTURI" -subject -out "$T/eccrt-subj.txt"
assert_contains "$T/eccrt-subj.txt" "subject=O = PKCS11 Provider, CN = My EC Cert"
# (and they are the certificates written)
assert_same_file <(ossl x509 -in "$T/crt-subj.txt" -outform DER) "$T/rsa-cert.der" "the certificate read back"
po storeutl -certs -subject "/O=PKCS11 Provider/CN=My Test Cert" -out "$T/storeutl-crt-subj.txt" pkcs11:type=cert
assert_contains "$T/storeutl-crt-subj.txt" "Total found: 1"
assert_same_file <(ossl x509 -in "$T/storeutl-crt-subj.txt" -outform DER) "$T/rsa-cert.der" "the certificate the subject search found"
peer_ok certs

# ---------------------------------------------------------------- uri
SCEN=uri
say "peer uri (tests/turi)"
po_none storeutl -text pkcs11:
peer_skip "uri/list-and-reuse" "listing a token (storeutl pkcs11:, URIs printed per object) is not offered: a reference names one object; checked refused"
# their last step, each component of an object's URI alone finds an object,
# for the components that name an object here (token= alone names none)
p11_objects "$T/objects" --login
rsa_id=$(awk -F'|' '$2 == "rsa.v1" { print $3; exit }' "$T/objects")
[ -n "$rsa_id" ] || fail "no CKA_ID for rsa.v1"
rsa_id_pct=$(printf '%s' "$rsa_id" | sed 's/../%&/g')
for cmp in "object=rsa.v1" "id=$rsa_id_pct" "type=private"; do
	case $cmp in
	type=*)
		po_none storeutl -text "pkcs11:$cmp"
		peer_skip "uri/component-$cmp" "type= alone names no object; checked refused"
		;;
	*)
		po storeutl -text "pkcs11:$cmp"
		assert_contains "$RUN_OUT" "Total found: 1"
		;;
	esac
done
po_none storeutl -text "pkcs11:$(printf '%s' "$P11VAULT_TOKEN" | sed 's/^pkcs11://')"
peer_skip "uri/component-token" "token= alone names no object; checked refused"
peer_ok uri

# ---------------------------------------------------------------- forking
SCEN=forking
say "peer forking (tests/tforking)"
PF=$top_builddir/tests/provider-fork
if [ -x "$PF" ]; then
	# theirs (tfork.c): a key made through the provider signs, then a child
	# and the parent sign after fork; ours: tests/provider-fork with a
	# vaultctl key (load, sign, children, grandchild, parent, threads)
	run_expect 0 env OPENSSL_CONF="$CNF" "$PF" "$PRIURI" "$W/rsa.pem" 2 2
	assert_contains "$RUN_OUT" "ok: a child forked after the threads signed"
	peer_skip "forking/keygen" "keys that sign are not generated through the provider (vaultctl key create; it generates only ephemeral EC key-exchange keys)"
	# their tfork.c steps with a vaultctl key, through libcrypto from
	# python3: sign; fork, child and parent sign; an EVP_DigestSign begun
	# (init, update) before fork() and finished on both sides. Theirs
	# requires the child's final to fail; ours lets the child finish (the
	# provider sets up again in the child) and its signature must verify.
	cat >"$W/forkmid.py" <<'PYEOF'
import ctypes, os, sys
uri, outdir = sys.argv[1].encode(), sys.argv[2]
c = ctypes.CDLL("libcrypto.so.3")
vp = ctypes.c_void_p
for n, r, a in [("OPENSSL_init_crypto", ctypes.c_int, [ctypes.c_uint64, vp]),
                ("OSSL_STORE_open", vp, [ctypes.c_char_p, vp, vp, vp, vp]),
                ("OSSL_STORE_load", vp, [vp]), ("OSSL_STORE_INFO_get_type", ctypes.c_int, [vp]),
                ("OSSL_STORE_INFO_get1_PKEY", vp, [vp]), ("EVP_MD_CTX_new", vp, []),
                ("EVP_DigestSignInit_ex", ctypes.c_int, [vp, vp, ctypes.c_char_p, vp, vp, vp, vp]),
                ("EVP_DigestSignUpdate", ctypes.c_int, [vp, ctypes.c_char_p, ctypes.c_size_t]),
                ("EVP_DigestSignFinal", ctypes.c_int, [vp, ctypes.c_char_p, ctypes.POINTER(ctypes.c_size_t)]),
                ("ERR_print_errors_fp", None, [vp])]:
    f = getattr(c, n); f.restype = r; f.argtypes = a
assert c.OPENSSL_init_crypto(0x40, None) == 1
st = c.OSSL_STORE_open(uri, None, None, None, None)
assert st, "store open"
info = c.OSSL_STORE_load(st)
assert info and c.OSSL_STORE_INFO_get_type(info) == 4, "no private key"
key = c.OSSL_STORE_INFO_get1_PKEY(info)
DATA = b"Sign Me!"
def begin():
    m = c.EVP_MD_CTX_new()
    assert c.EVP_DigestSignInit_ex(m, None, b"SHA256", None, None, key, None) == 1
    assert c.EVP_DigestSignUpdate(m, DATA, len(DATA)) == 1
    return m
def final(m, name):
    buf = ctypes.create_string_buffer(1024); n = ctypes.c_size_t(1024)
    ok = c.EVP_DigestSignFinal(m, buf, ctypes.byref(n))
    if ok == 1:
        open(os.path.join(outdir, name), "wb").write(buf.raw[:n.value])
    return ok
open(os.path.join(outdir, "data"), "wb").write(DATA)
assert final(begin(), "sig.parent0") == 1, "first signature"
pid = os.fork()
if pid == 0:
    os._exit(0 if final(begin(), "sig.child1") == 1 else 1)
assert final(begin(), "sig.parent1") == 1
_, st1 = os.waitpid(pid, 0)
assert os.WIFEXITED(st1) and os.WEXITSTATUS(st1) == 0, "child failed to sign"
m = begin()
pid = os.fork()
ok = final(m, "sig.child2" if pid == 0 else "sig.parent2")
if pid == 0:
    os._exit(10 + ok)
assert ok == 1, "parent final after fork"
_, st2 = os.waitpid(pid, 0)
print("child final after fork mid-operation: %s" % ("signed" if os.WEXITSTATUS(st2) == 11 else "failed"))
PYEOF
	mkdir -p "$T/fork"
	run_expect 0 env OPENSSL_CONF="$CNF" python3 "$W/forkmid.py" "$PRIURI" "$T/fork"
	assert_contains "$RUN_OUT" "child final after fork mid-operation: signed"
	for sig in parent0 child1 parent1 parent2 child2; do
		run_expect 0 ossl dgst -sha256 -verify "$W/rsa.pem" -signature "$T/fork/sig.$sig" "$T/fork/data"
	done
	peer_skip "forking/fork-deadlock" "a PIN prompt callback in a forked child: no prompt here, the PIN comes only from pin-source"
	peer_ok forking
else
	peer_skip forking "tests/provider-fork is not built (make check builds it)"
fi
