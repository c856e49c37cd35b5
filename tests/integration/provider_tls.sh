#!/bin/bash
# The OpenSSL provider in TLS (issue 16): `openssl s_server` with its key on
# the token (-key p11vault:NAME, and a URI-in-PEM file from `vaultctl key
# show --format provider-pem`) and `openssl s_client` on 127.0.0.1, TLS 1.3
# and 1.2, for ECDSA P-256 and P-384, RSA-2048 with PKCS#1 v1.5 (TLS 1.2) and
# PSS (TLS 1.3 and 1.2) and Ed25519 server keys, and a client certificate
# whose key is on the token. Every handshake must complete with the peer
# verified, use the expected signature scheme, and carry a line back. The
# certificates are made with `openssl req -new -x509` through the provider
# and verified with the default provider alone; each holds exactly the token
# key's public key (so only the token key can have signed the handshake).
# A key of another purpose, and a pinned version once retired, give no
# handshake (the provider fails closed; nothing off the token takes over).
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/provider.sh"
prov_need
need_cmd python3
trap prov_cleanup EXIT

W=$PV_WORK
CNF=$W/openssl.cnf
prov_conf "$CNF" direct

# ---- keys and certificates ----
say "server keys on the token, certificates made through the provider"
certs_by=req
for alg in p256 p384 rsa2048 ed25519; do
	mkkey "srv-$alg" "$alg" sign
	pub_pem "srv-$alg" "$W/srv-$alg.pub"
	if ! prov_selfsigned "p11vault:srv-$alg" "srv-$alg" "$W/srv-$alg.crt"; then
		# The provider's req did not work: the certificate comes from a
		# software CA (the handshakes below still sign with the token key).
		echo "NOTE: openssl req -x509 through the provider failed for $alg: $(head -c 300 "$PV_OUT/req.srv-$alg.err")" >&2
		certs_by=ca
		[ -n "${PROV_CA_DIR:-}" ] || prov_ca_init "$W/ca"
		prov_ca_issue "$W/srv-$alg.pub" "srv-$alg" "$W/srv-$alg.crt"
	fi
	prov_same_pub "$W/srv-$alg.crt" "$W/srv-$alg.pub"
done
echo "certificates made by: $certs_by"
[ "$certs_by" = req ] || fail "openssl req -new -x509 through the provider does not work (certificates came from a software CA)"

# handshake NAME KEYALG VERSION WANT_SIGTYPE [S_CLIENT ARGS...]: one
# connection to the running server, verified against the key's certificate.
handshake() {
	local name=$1 alg=$2 ver=$3 want=$4 line
	shift 4
	line="p11vault-$name-$RANDOM"
	cli_talk "$name" "$line" OPENSSL_CONF="$PROV_BASE_CONF" -- -"$ver" -CAfile "$W/srv-$alg.crt" \
		-verify_return_error -verify_hostname "srv-$alg" "$@" ||
		{
			cat "$CLI_ERR" >&2
			echo "--- server:" >&2
			cat "$SRV_ERR" >&2
			fail "$name: s_client failed"
		}
	cli_ok "$name" "$line"
	local p
	case $ver in tls1_3) p=TLSv1.3 ;; tls1_2) p=TLSv1.2 ;; esac
	grep -aq "Protocol  *: $p\$" "$CLI_OUT" || fail "$name: not $p"
	grep -aqx "Peer signature type: $want" "$CLI_OUT" ||
		fail "$name: peer signature type $(grep -a 'Peer signature type' "$CLI_OUT"), want $want"
	echo "ok: $name ($p, $want)"
}

# ---- -key p11vault:NAME ----
for alg in p256 p384 rsa2048 ed25519; do
	say "s_server -key p11vault:srv-$alg"
	srv_start "$alg" OPENSSL_CONF="$CNF" -- -key "p11vault:srv-$alg" -cert "$W/srv-$alg.crt" ||
		{
			cat "$SRV_ERR" >&2
			fail "s_server with p11vault:srv-$alg did not start"
		}
	case $alg in
	p256 | p384)
		handshake "$alg-13" "$alg" tls1_3 ECDSA
		# TLS 1.3 ties the digest to the curve (TLS 1.2 lets the server pick)
		want=SHA256
		[ "$alg" = p256 ] || want=SHA384
		grep -aqx "Peer signing digest: $want" "$CLI_OUT" || fail "$alg in TLS 1.3: not $want"
		handshake "$alg-12" "$alg" tls1_2 ECDSA
		;;
	rsa2048)
		handshake rsa-pss-13 rsa2048 tls1_3 RSA-PSS
		handshake rsa-pss-12 rsa2048 tls1_2 RSA-PSS -sigalgs rsa_pss_rsae_sha256
		handshake rsa-pkcs1-12 rsa2048 tls1_2 RSA -sigalgs RSA+SHA256:RSA+SHA384
		;;
	ed25519)
		handshake ed25519-13 ed25519 tls1_3 ed25519
		handshake ed25519-12 ed25519 tls1_2 ed25519
		;;
	esac
	srv_stop "$alg"
done

# ---- the provider on the command line, configured by the environment ----
say "-provider-path/-provider p11vault -provider default, P11VAULT_* from the environment"
srv_start cmdline OPENSSL_CONF="$PROV_BASE_CONF" -- -provider-path "$PROV_DIR" -provider p11vault \
	-provider default -key p11vault:srv-p256 -cert "$W/srv-p256.crt" ||
	{
		cat "$SRV_ERR" >&2
		fail "s_server with the provider on the command line did not start"
	}
handshake cmdline-13 p256 tls1_3 ECDSA
srv_stop cmdline

# ---- a client certificate whose key is on the token ----
say "client certificate, key on the token (s_client -key p11vault:cli-p256)"
mkkey cli-p256 p256 sign
pub_pem cli-p256 "$W/cli-p256.pub"
prov_selfsigned p11vault:cli-p256 tls-client "$W/cli-p256.crt" || fail "req -x509 for the client key"
prov_same_pub "$W/cli-p256.crt" "$W/cli-p256.pub"
SRV_MODE=-www
srv_start mtls OPENSSL_CONF="$CNF" -- -key p11vault:srv-p256 -cert "$W/srv-p256.crt" \
	-Verify 1 -verify_return_error -CAfile "$W/cli-p256.crt" ||
	{
		cat "$SRV_ERR" >&2
		fail "s_server -Verify did not start"
	}
for ver in tls1_3 tls1_2; do
	line="client-$ver-$RANDOM"
	cli_talk "mtls-$ver" "$line" OPENSSL_CONF="$CNF" -- -"$ver" -CAfile "$W/srv-p256.crt" -verify_return_error \
		-cert "$W/cli-p256.crt" -key p11vault:cli-p256 ||
		{
			cat "$CLI_ERR" "$SRV_ERR" >&2
			fail "mTLS $ver: s_client failed"
		}
	cli_ok "mtls-$ver" "$line"
	echo "ok: client key on the token, $ver"
done
srv_stop mtls
# the control: without a client certificate the server refuses
srv_start mtls-none OPENSSL_CONF="$CNF" -- -key p11vault:srv-p256 -cert "$W/srv-p256.crt" \
	-Verify 1 -verify_return_error -CAfile "$W/cli-p256.crt" || fail "s_server -Verify did not start"
if cli_talk mtls-none "no-cert" OPENSSL_CONF="$PROV_BASE_CONF" -- -tls1_3 -CAfile "$W/srv-p256.crt" &&
	grep -aqF "HTTP/1.0 200 ok" "$CLI_OUT"; then
	fail "the server answered a client without a certificate"
fi
srv_stop mtls-none
SRV_MODE=-rev

# ---- curl with its client key in a URI-in-PEM file (docs/provider.md) ----
say "curl --cert --key URI-in-PEM, the server requires the client certificate"
run_expect 0 vc key show cli-p256 --format provider-pem
cp "$RUN_OUT" "$W/cli-p256.key.pem"
SRV_MODE=-www srv_start curl OPENSSL_CONF="$CNF" -- -key p11vault:srv-p256 -cert "$W/srv-p256.crt" \
	-Verify 1 -verify_return_error -CAfile "$W/cli-p256.crt" || fail "s_server -www did not start"
run_expect 0 env OPENSSL_CONF="$CNF" curl -sS --max-time 20 --cacert "$W/srv-p256.crt" \
	--resolve "srv-p256:$SRV_PORT:127.0.0.1" --cert "$W/cli-p256.crt" --key "$W/cli-p256.key.pem" \
	"https://srv-p256:$SRV_PORT/"
assert_contains "$RUN_OUT" "s_server -accept 127.0.0.1:$SRV_PORT -www"
assert_contains "$RUN_OUT" "Subject: CN=tls-client" "the server did not see curl's client certificate"
# the control: the same fetch without the client certificate is refused
if env OPENSSL_CONF="$CNF" curl -sS --max-time 20 --cacert "$W/srv-p256.crt" --resolve "srv-p256:$SRV_PORT:127.0.0.1" \
	"https://srv-p256:$SRV_PORT/" >"$PV_OUT/curl-nocert.out" 2>&1; then
	fail "the server answered curl without a client certificate"
fi
srv_stop curl
echo "ok: curl's client key on the token"

# ---- URI-in-PEM key files ----
say "URI-in-PEM: vaultctl key show --format provider-pem, s_server -key FILE"
for alg in p256 rsa2048 ed25519; do
	run_expect 0 vc key show "srv-$alg" --format provider-pem
	cp "$RUN_OUT" "$W/srv-$alg.key.pem"
	assert_contains "$W/srv-$alg.key.pem" "-----BEGIN P11VAULT KEY URI-----"
	uri=$(sed -n '2p' "$W/srv-$alg.key.pem" | base64 -d)
	case $uri in
	"p11vault:srv-$alg;version=1") ;;
	*) fail "provider-pem of srv-$alg holds '$uri'" ;;
	esac
	srv_start "pem-$alg" OPENSSL_CONF="$CNF" -- -key "$W/srv-$alg.key.pem" -cert "$W/srv-$alg.crt" ||
		{
			cat "$SRV_ERR" >&2
			fail "s_server -key $W/srv-$alg.key.pem did not start"
		}
	case $alg in
	p256) handshake "pem-$alg" "$alg" tls1_3 ECDSA ;;
	rsa2048) handshake "pem-$alg" "$alg" tls1_3 RSA-PSS ;;
	ed25519) handshake "pem-$alg" "$alg" tls1_3 ed25519 ;;
	esac
	srv_stop "pem-$alg"
done
# without the provider the same file is no key at all
if ossl pkey -in "$W/srv-p256.key.pem" -noout >"$PV_WORK/pem.out" 2>&1; then
	fail "the default provider alone read a URI-in-PEM file as a key"
fi

# ---- nothing off the token: other purposes, retired versions ----
say "a key of purpose derive is not used for a handshake"
mkkey srv-derive p256 derive
pub_pem srv-derive "$W/srv-derive.pub"
[ -n "${PROV_CA_DIR:-}" ] || prov_ca_init "$W/ca"
prov_ca_issue "$W/srv-derive.pub" srv-derive "$W/srv-derive.crt"
if srv_start derive OPENSSL_CONF="$CNF" -- -key p11vault:srv-derive -cert "$W/srv-derive.crt"; then
	if cli_talk derive "derive" OPENSSL_CONF="$PROV_BASE_CONF" -- -tls1_3 -CAfile "$PROV_CA_DIR/ca.pem" &&
		grep -aqx "evired" "$CLI_OUT"; then
		fail "a handshake was signed with a key of purpose derive"
	fi
	srv_stop derive
fi
assert_contains "$PV_OUT/srv.derive.err" "has purpose derive" "the derive key was not refused for its purpose"
echo "ok: no handshake with the derive key"

say "a pinned version that is retired: the running server fails closed"
mkkey srv-rot p256 sign
pub_pem srv-rot "$W/srv-rot.pub"
prov_selfsigned p11vault:srv-rot srv-rot "$W/srv-rot.crt" || fail "req -x509 for srv-rot"
srv_start rot OPENSSL_CONF="$CNF" -- -key p11vault:srv-rot -cert "$W/srv-rot.crt" || fail "s_server srv-rot"
CA_ROT=$W/srv-rot.crt
line="before-$RANDOM"
cli_talk rot-before "$line" OPENSSL_CONF="$PROV_BASE_CONF" -- -tls1_3 -CAfile "$CA_ROT" -verify_return_error ||
	fail "srv-rot: first handshake"
cli_ok rot-before "$line"
run_expect 0 vc key rotate srv-rot
run_expect 0 vc key retire srv-rot --version 1
# the direct backend trusts its cached key metadata for at most 2 s
sleep 3
if cli_talk rot-after "after" OPENSSL_CONF="$PROV_BASE_CONF" -- -tls1_3 -CAfile "$CA_ROT" -verify_return_error &&
	grep -aqx "retfa" "$CLI_OUT"; then
	fail "the server still signed with version 1 after it was retired"
fi
srv_stop rot
assert_contains "$PV_OUT/srv.rot.err" "failing closed" "the retired version was not refused as such"
echo "ok: retired version 1 is not used"

assert_no_pin_in "$PV_OUT/srv.p256.err"
for f in "$PV_OUT"/srv.*.err "$PV_OUT"/cli.*.err; do
	assert_no_pin_in "$f"
done
echo "provider_tls: all handshakes as expected"
