#!/bin/sh
# Run vault-bench on a throwaway SoftHSM token (`make bench` calls this).
#
#   top_builddir=BUILD [top_srcdir=SRC] tools/vault-bench/bench.sh [vault-bench args]
#
# Makes the token with softhsm/make-token.sh (PINs in files, 0600), starts
# vaultd on it (Unix socket; one bearer-token client allowed sign on the
# bench-ALG keys (purpose sign), jwt.issue on bench-ALG-jwt (purpose jwt),
# wallet.read and wallet.sign on the two wallet keys
# bench-wallet-solana (ed25519) and bench-wallet-evm (secp256k1), with a rate
# limit too high to matter), runs vault-bench against the token and the
# daemon in one run (raw C_Sign, pv_sign, vaultd's sign and JWT issuance and
# the wallet sign-transaction workloads over HTTP, with the ratios),
# stops vaultd and removes everything. Without a built vaultd the HTTP rows
# are left out (and it says so). VAULTD_WORKERS sets vaultd's worker threads
# (default 4).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=$(cd "${top_srcdir:-$here/../..}" && pwd)
top_builddir=$(cd "${top_builddir:-.}" && pwd)
module=${SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}

for p in vault-bench bundle-bench vaultctl; do
	[ -x "$top_builddir/$p" ] || {
		echo "bench.sh: $top_builddir/$p is not built" >&2
		exit 2
	}
done
vaultd=$top_builddir/vaultd
[ -x "$vaultd" ] || vaultd=
if [ -n "$vaultd" ] && ! command -v curl >/dev/null 2>&1; then
	echo "bench.sh: curl is needed to wait for vaultd" >&2
	exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pvbench.XXXXXX")
vd_pid=
stop_vaultd() {
	[ -n "$vd_pid" ] || return 0
	kill -TERM "$vd_pid" 2>/dev/null || true
	wait "$vd_pid" 2>/dev/null || true
	vd_pid=
}
trap 'stop_vaultd; rm -rf "$tmp"' EXIT
trap 'exit 130' HUP INT TERM
chmod 700 "$tmp"

# Minimal on purpose (as tests/run-with-token.sh): no provider from the
# system config may load inside SoftHSM's own OpenSSL calls.
cat >"$tmp/openssl.cnf" <<'CNF'
openssl_conf = openssl_init

[openssl_init]
providers = provider_sect

[provider_sect]
default = default_sect

[default_sect]
activate = 1
CNF
OPENSSL_CONF=$tmp/openssl.cnf
export OPENSSL_CONF
# ASan builds: SoftHSM's own leaks are not ours (as the tests do).
LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$top_srcdir/tests/lsan.supp:fast_unwind_on_malloc=0:print_suppressions=0}
export LSAN_OPTIONS
unset P11VAULT_TOKEN P11VAULT_MODULE P11VAULT_PIN_SOURCE CREDENTIALS_DIRECTORY

mkdir -m 700 "$tmp/token"
sh "$top_srcdir/softhsm/make-token.sh" --dir "$tmp/token" --label p11vault-bench \
	--vaultctl "$top_builddir/vaultctl" --module "$module" >"$tmp/token.env" 2>"$tmp/token.err" || {
	echo "bench.sh: make-token.sh failed:" >&2
	cat "$tmp/token.err" >&2
	exit 1
}
# only `export NAME='path'` lines, never a PIN
. "$tmp/token.env"
export SOFTHSM2_CONF P11VAULT_MODULE P11VAULT_TOKEN P11VAULT_PIN_SOURCE

vd_args=
if [ -n "$vaultd" ]; then
	# vault-bench's default keys, made before vaultd starts so that it
	# knows them at once (others are made by vault-bench and appear in
	# vaultd within its metadata refresh interval; vault-bench waits).
	# audit-hmac: the token key MACing the audit log's checkpoints.
	# One purpose per key: bench-ALG signs raw input (sign), bench-ALG-jwt
	# issues JWTs (jwt), the wallet keys sign transactions (solana, evm).
	for spec in p256:sign ed25519:sign secp256k1:sign rsa2048:sign \
		p256-jwt:jwt ed25519-jwt:jwt secp256k1-jwt:jwt rsa2048-jwt:jwt \
		audit-hmac:audit wallet-solana:solana wallet-evm:evm; do
		alg=${spec%%:*} purpose=${spec#*:}
		name=bench-$alg
		case $alg in
		audit-hmac) name=audit-hmac alg=hmac-sha256 ;;
		wallet-solana) alg=ed25519 ;;
		wallet-evm) alg=secp256k1 ;;
		*-jwt) alg=${alg%-jwt} ;;
		esac
		"$top_builddir/vaultctl" key create "$name" --alg "$alg" --purpose "$purpose" >/dev/null 2>"$tmp/vaultctl.err" || {
			cat "$tmp/vaultctl.err" >&2
			exit 1
		}
	done
	# The bearer token goes to a 0600 file, never to argv; the config
	# holds only its hash (the entry `client add` prints).
	(umask 077 && "$top_builddir/vaultctl" client add bench >"$tmp/bearer" 2>"$tmp/client.err") || {
		cat "$tmp/client.err" >&2
		exit 1
	}
	hash=$(sed -n 's/.*"token_sha256" *: *"\([A-Za-z0-9_-]*\)".*/\1/p' "$tmp/client.err")
	[ -n "$hash" ] || {
		echo "bench.sh: no token_sha256 in the output of vaultctl client add" >&2
		exit 1
	}
	cat >"$tmp/vaultd.json" <<EOF
{
  "token": { "uri": "$P11VAULT_TOKEN", "module": "$P11VAULT_MODULE", "pin_source": "$P11VAULT_PIN_SOURCE" },
  "listen": { "unix": { "path": "$tmp/vaultd.sock", "mode": "0600" } },
  "workers": ${VAULTD_WORKERS:-4},
  "audit": { "file": "$tmp/audit.log", "hmac_key": "audit-hmac" },
  "jwt": { "issuer": "https://vault-bench.invalid", "default_ttl": 60 },
  "clients": [
    { "name": "bench", "auth": { "token_sha256": "$hash" },
      "rules": [
        { "ops": ["wallet.read", "wallet.sign"], "keys": ["bench-wallet-*"],
          "chain_ids": [1], "max_value_wei": "1000000000000000000" },
        { "ops": ["jwt.issue"], "keys": ["bench-*-jwt"] },
        { "ops": ["sign"], "keys": ["bench-p*", "bench-ed*", "bench-secp*", "bench-rsa*"] }
      ],
      "rate": { "per_second": 1000000, "burst": 1000000 } }
  ]
}
EOF
	"$vaultd" --config "$tmp/vaultd.json" >"$tmp/vaultd.log" 2>&1 </dev/null &
	vd_pid=$!
	i=0
	until [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --unix-socket "$tmp/vaultd.sock" \
		http://vaultd/v1/ready 2>/dev/null)" = 200 ]; do
		i=$((i + 1))
		if [ "$i" -gt 300 ] || ! kill -0 "$vd_pid" 2>/dev/null; then
			echo "bench.sh: vaultd did not become ready within 30 s; its log:" >&2
			cat "$tmp/vaultd.log" >&2
			exit 1
		fi
		sleep 0.1
	done
	echo "vaultd ready on $tmp/vaultd.sock (workers: ${VAULTD_WORKERS:-4})"
	vd_args="--vaultd $tmp/vaultd.sock --bearer-file $tmp/bearer"
else
	echo "bench.sh: $top_builddir/vaultd is not built: no vaultd (HTTP) measurements" >&2
fi

# The figures are only as quiet as the machine: say how busy it was.
loadavg() { [ -r /proc/loadavg ] && cut -d' ' -f1-3 /proc/loadavg || echo unknown; }
echo "machine: $(getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?') CPUs, load average $(loadavg) before the run"
# shellcheck disable=SC2086 # vd_args: two options with mktemp paths
"$top_builddir/vault-bench" "$@" $vd_args
echo "load average $(loadavg) after the run"
stop_vaultd
echo
"$top_builddir/bundle-bench" ${BUNDLE_BENCH_ENTRIES:-1000}
