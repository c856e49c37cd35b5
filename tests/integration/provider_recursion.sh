#!/bin/bash
# The provider loaded process-wide while the token itself uses OpenSSL
# (issue 16 item 5; pkcs11-provider #634: SoftHSM 2.6 on Debian 12 calls
# OpenSSL from inside C_Sign/C_GenerateKeyPair, and with the provider in the
# global openssl.cnf those calls reached the provider again and deadlocked).
# Here OPENSSL_CONF loads p11vault (direct backend, SoftHSM) for every
# process of a step, not only for openssl: SoftHSM's own OpenSSL work runs in
# the same library context as the provider. Each step runs under timeout
# (a hang is a failure, exit 124), and every signature is verified with the
# default provider alone.
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/provider.sh"
prov_need

W=$PV_WORK
CNF=$W/p11vault-global.cnf
prov_conf "$CNF" direct

# global CMD...: CMD with the provider in its global openssl.cnf, bounded
global() { OPENSSL_CONF=$CNF timeout 120 "$@"; }

say "keys made by vaultctl while p11vault is in the global openssl.cnf (SoftHSM generates with OpenSSL)"
for a in p256 ed25519 rsa2048; do
	run_expect 0 global "$VAULTCTL" key create "rec-$a" --alg "$a" --purpose sign
	vc key show "rec-$a" --format pem >"$W/rec-$a.pem"
done
printf 'recursion check\n' >"$W/msg"

say "openssl signs through the provider; SoftHSM's C_Sign uses OpenSSL in the same process"
for a in p256 rsa2048; do
	run_expect 0 global openssl dgst -sha256 -sign "p11vault:rec-$a" -out "$W/$a.sig" "$W/msg"
	run_expect 0 ossl dgst -sha256 -verify "$W/rec-$a.pem" -signature "$W/$a.sig" "$W/msg"
done
run_expect 0 global openssl pkeyutl -sign -rawin -inkey "p11vault:rec-ed25519" -in "$W/msg" -out "$W/ed.sig"
run_expect 0 ossl pkeyutl -verify -rawin -pubin -inkey "$W/rec-ed25519.pem" -in "$W/msg" -sigfile "$W/ed.sig"

say "vaultctl signs with the provider loaded globally (its libcrypto loads p11vault too)"
run_expect 0 global "$VAULTCTL" sign rec-p256 --in "$W/msg" --out "$W/vc.sig"
run_expect 0 ossl dgst -sha256 -verify "$W/rec-p256.pem" -signature "$W/vc.sig" "$W/msg"

say "a certificate signed through the provider, in a process that also runs SoftHSM's OpenSSL code"
run_expect 0 global openssl req -new -x509 -key "p11vault:rec-p256" -subj /CN=recursion -days 1 \
	-out "$W/rec.crt"
run_expect 0 ossl x509 -in "$W/rec.crt" -noout -pubkey
ossl x509 -in "$W/rec.crt" -noout -pubkey >"$W/crt.pub"
assert_eq "$(ossl pkey -pubin -in "$W/crt.pub" -outform DER | sha256sum)" \
	"$(ossl pkey -pubin -in "$W/rec-p256.pem" -outform DER | sha256sum)" "the certificate holds the token key"
run_expect 0 ossl verify -CAfile "$W/rec.crt" "$W/rec.crt"
echo "provider_recursion: ok"
