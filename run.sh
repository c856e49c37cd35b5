#!/bin/bash
# The README's run command: build (./build), make the development token
# under softhsm/dev/ on first use, load its environment and run the main job.
# Idempotent: the token and the demo key are made once and reused.
set -euo pipefail
cd "$(dirname "$0")"
. tests/lib/build.sh

pv_build
top=$PWD
VAULTCTL=$top/build/vaultctl
DEV=$top/softhsm/dev
SOFTHSM_MODULE=$(pv_build_var SOFTHSM_MODULE)

ensure_dev_token() {
	# env is written last, only on success: a dev dir without it is a
	# failed first attempt and is made again.
	if [ ! -s "$DEV/env" ]; then
		[ ! -d "$DEV" ] || rm -rf "$DEV"
		pv_step "making the development token in softhsm/dev (label p11vault-dev)"
		mkdir -m 700 -p "$DEV"
		bash softhsm/make-token.sh --dir "$DEV" --label p11vault-dev --vaultctl "$VAULTCTL" \
			--module "$SOFTHSM_MODULE" >"$DEV/env.new"
		mv "$DEV/env.new" "$DEV/env"
	fi
	# Same reason as the tests: no provider from the system OpenSSL config
	# inside SoftHSM's own OpenSSL calls.
	if [ ! -f "$DEV/openssl.cnf" ]; then
		printf '%s\n' 'openssl_conf = openssl_init' '[openssl_init]' 'providers = provider_sect' \
			'[provider_sect]' 'default = default_sect' '[default_sect]' 'activate = 1' >"$DEV/openssl.cnf"
	fi
	export OPENSSL_CONF=$DEV/openssl.cnf
	# shellcheck disable=SC1091
	. "$DEV/env"
	pv_step "token: $P11VAULT_TOKEN (module $P11VAULT_MODULE, PIN from ${P11VAULT_PIN_SOURCE%%:*})"
}

# NAME ALG PURPOSE: create the demo key, or keep the one a former run made
# (one made before key purposes gets its purpose: `key set-purpose`).
demo_key() {
	local rc=0
	"$VAULTCTL" key show "$1" --format uri >/dev/null 2>"$DEV/demo/show.err" || rc=$?
	case $rc in
	0)
		"$VAULTCTL" key set-purpose "$1" "$3"
		echo "$1 exists: $("$VAULTCTL" key show "$1" --format uri)"
		;;
	5) "$VAULTCTL" key create "$1" --alg "$2" --purpose "$3" ;;
	*)
		cat "$DEV/demo/show.err" >&2
		return "$rc"
		;;
	esac
}

# Warm-up: check the token, make sure a demo key exists, sign a message and
# verify it with OpenSSL, seal and exec a secrets bundle.
vaultctl_tour() {
	local d=$DEV/demo
	mkdir -p "$d"
	pv_step "vaultctl doctor"
	"$VAULTCTL" doctor

	# One purpose per key: demo signs raw input (sign), demo-jwt issues JWTs
	# (jwt), demo-sol/demo-evm sign wallet transactions, demo-kek wraps bundle
	# data keys, audit-hmac MACs vaultd's audit log (vaultd --dev makes it).
	pv_step "demo keys"
	demo_key demo p256 sign || return
	demo_key demo-jwt p256 jwt || return
	demo_key demo-sol ed25519 solana || return
	demo_key demo-evm secp256k1 evm || return
	demo_key demo-kek aes256 wrap || return
	# a dev token from before key purposes: give the audit key its purpose
	if "$VAULTCTL" key show audit-hmac --format uri >/dev/null 2>&1; then
		"$VAULTCTL" key set-purpose audit-hmac audit
	fi
	"$VAULTCTL" key list

	pv_step "sign a message with demo"
	printf 'hello from p11vault at %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$d/message.txt"
	"$VAULTCTL" sign demo --in "$d/message.txt" --out "$d/message.sig"
	echo "signature: $(wc -c <"$d/message.sig") bytes (DER) in softhsm/dev/demo/message.sig"

	pv_step "verify with OpenSSL against the public key from the token"
	"$VAULTCTL" key show demo --format pem >"$d/demo.pem"
	openssl dgst -sha256 -verify "$d/demo.pem" -signature "$d/message.sig" "$d/message.txt"
	pv_step "verify with vaultctl"
	"$VAULTCTL" verify demo --in "$d/message.txt" --sig "$d/message.sig"

	pv_step "wallet keys: demo-sol (ed25519, Solana) and demo-evm (secp256k1, EVM)"
	echo "Solana address: $("$VAULTCTL" wallet address demo-sol --chain solana)"
	echo "EVM address:    $("$VAULTCTL" wallet address demo-evm --chain evm)"

	pv_step "secrets bundle: seal for a KEK on the token, unwrap, exec"
	umask 077
	printf 'DATABASE_URL="postgres://app:demo-only@db/app"\nAPI_KEY=demo-%s\n' "$(date +%s)" >"$d/secrets.env"
	"$VAULTCTL" bundle seal --recipient demo-kek --context env=dev --in "$d/secrets.env" --out "$d/bundle.json"
	rm -f "$d/secrets.env"
	"$VAULTCTL" bundle list "$d/bundle.json"
	"$VAULTCTL" bundle verify "$d/bundle.json" --expect-context env=dev
	"$VAULTCTL" exec "$d/bundle.json" --expect-context env=dev -- \
		sh -c 'echo "a child process got DATABASE_URL (${#DATABASE_URL} characters) and API_KEY (${#API_KEY})"'
}

# The main job: vaultd in development mode on the dev token, in the
# foreground until Ctrl-C (SIGINT drains and stops it). A few requests show
# it working; the admin token it prints once is kept (mode 0600) in
# softhsm/dev/vaultd/admin-token for your own curl calls.
run_vaultd() {
	local vd=$DEV/vaultd sock pid tok i
	mkdir -m 700 -p "$vd"
	sock=$vd/vaultd.sock
	rm -f "$vd/admin-token"
	pv_step "vaultd --dev (socket softhsm/dev/vaultd/vaultd.sock, audit log softhsm/dev/vaultd/audit.log)"
	(umask 077 && exec "$top/build/vaultd" --dev --dev-dir "$vd" >"$vd/stdout") &
	pid=$!
	trap 'kill -TERM $pid 2>/dev/null; wait $pid; exit 0' INT TERM
	for i in $(seq 1 100); do
		curl -sf --unix-socket "$sock" http://vaultd/v1/ready >/dev/null 2>&1 && break
		kill -0 "$pid" 2>/dev/null || { wait "$pid"; return $?; }
		sleep 0.2
	done
	tok=$(sed -n 's/^vaultd: dev admin token: //p' "$vd/stdout")
	(umask 077 && printf '%s\n' "$tok" >"$vd/admin-token")
	call() { curl -sS --unix-socket "$sock" -H "Authorization: Bearer $tok" "$@"; echo; }
	pv_step "GET /v1/ready"
	call http://vaultd/v1/ready
	pv_step "POST /v1/keys/demo/sign (DER), verified with OpenSSL"
	printf 'signed by vaultd\n' >"$DEV/demo/vaultd-message.txt"
	call -d "{\"input_b64\":\"$(base64 -w0 <"$DEV/demo/vaultd-message.txt")\",\"format\":\"der\"}" \
		http://vaultd/v1/keys/demo/sign | tee "$DEV/demo/vaultd-sign.json"
	sed -n 's/.*"signature_b64":"\([^"]*\)".*/\1/p' "$DEV/demo/vaultd-sign.json" | base64 -d >"$DEV/demo/vaultd.sig"
	openssl dgst -sha256 -verify "$DEV/demo/demo.pem" -signature "$DEV/demo/vaultd.sig" "$DEV/demo/vaultd-message.txt"
	pv_step "POST /v1/jwt/demo-jwt/issue and GET /.well-known/jwks.json"
	call -d '{"claims":{"sub":"demo-user","aud":"demo"},"ttl":300}' http://vaultd/v1/jwt/demo-jwt/issue
	call http://vaultd/.well-known/jwks.json
	pv_step "wallet: GET /v1/wallet/demo-evm/evm/address, POST .../evm/sign-message (EIP-191)"
	call http://vaultd/v1/wallet/demo-evm/evm/address
	call -d "{\"message_b64\":\"$(printf 'log in to example.org' | base64 -w0)\"}" \
		http://vaultd/v1/wallet/demo-evm/evm/sign-message
	cat <<EOT

vaultd is running (pid $pid). Try:
  curl --unix-socket $sock -H "Authorization: Bearer \$(cat $vd/admin-token)" http://vaultd/v1/keys
  build/vaultctl audit verify $vd/audit.log --hmac-key audit-hmac
Ctrl-C stops it.
EOT
	wait "$pid"
}

ensure_dev_token
vaultctl_tour
run_vaultd
