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
#
# Issue 14's goals: every vault-bench figure is a median of 3 interleaved
# rounds (raw, vaultd, raw, vaultd, ...); the ES256 row is compared with npm
# jose (tools/vault-bench/jose-bench.mjs, from tests/interop's packages:
# $top_builddir/tests/interop-node or tests/interop/node_modules, installed
# there with `npm ci --offline` when missing); vaultd's CPU per P-256
# signature comes from /proc/PID/stat. Then bundle-bench, then the slow-loris
# run (tools/vault-bench/slowloris.py, python3) against a second vaultd with
# a TCP+TLS listener on 127.0.0.1 (a throwaway CA and certificate).
# BENCH_SLOWLORIS="--loris 1000 --flood 1000 --seconds 10" (the defaults) sets its options
# (BENCH_SLOWLORIS=none skips it). Last, one table: goal | figure | baseline
# | ratio | target | met?, with the load average before and after.
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
# start_vaultd CONFIG: vaultd in the background (vd_pid), ready on its
# Unix socket within 30 s. Enough descriptors for the slow-loris run.
start_vaultd() {
	# shellcheck disable=SC3045 # dash and bash both have ulimit -n
	(ulimit -n 16384 2>/dev/null || ulimit -n 4096 2>/dev/null || true
		exec "$vaultd" --config "$1" >>"$tmp/vaultd.log" 2>&1 </dev/null) &
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
}
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

# One line per goal ("goal|figure|baseline|ratio|target|met?"), printed last.
goals=$tmp/goals
: >"$goals"
load_before=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)

# npm jose for the ES256 baseline: NODE_PATH to an installed copy of
# tests/interop's packages, or the reason there is none.
find_jose() {
	command -v node >/dev/null 2>&1 || {
		jose_why="node is not installed"
		return 1
	}
	for d in "$top_builddir/tests/interop-node/node_modules" "$top_srcdir/tests/interop/node_modules"; do
		[ -f "$d/jose/package.json" ] && {
			jose_nm=$d
			return 0
		}
	done
	command -v npm >/dev/null 2>&1 || {
		jose_why="jose is not installed and npm is missing"
		return 1
	}
	d=$top_builddir/tests/interop-node
	if mkdir -p "$d" && cp "$top_srcdir/tests/interop/package.json" "$top_srcdir/tests/interop/package-lock.json" "$d/" &&
		(cd "$d" && { timeout 300 npm ci --offline --no-audit --no-fund --loglevel=error ||
			timeout 300 npm ci --no-audit --no-fund --loglevel=error; }) >"$tmp/npm.log" 2>&1 &&
		[ -f "$d/node_modules/jose/package.json" ]; then
		# the stamp tests/lib/interop.sh looks for (no second npm ci there)
		sha256sum <"$d/package-lock.json" >"$d/.installed" || true
		jose_nm=$d/node_modules
		return 0
	fi
	jose_why="npm ci for jose failed (see npm's log)"
	cat "$tmp/npm.log" >&2
	return 1
}
jose_why=
jose_nm=
if [ -z "$vaultd" ]; then
	: # no JWT row to compare with
elif find_jose; then
	jose_cmd="env NODE_PATH=$jose_nm node $top_srcdir/tools/vault-bench/jose-bench.mjs"
else
	echo "bench.sh: no jose baseline: $jose_why" >&2
fi

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
	start_vaultd "$tmp/vaultd.json"
	echo "vaultd ready on $tmp/vaultd.sock (workers: ${VAULTD_WORKERS:-4})"
	vd_args="--vaultd $tmp/vaultd.sock --bearer-file $tmp/bearer --vaultd-pid $vd_pid --goals $goals"
else
	echo "bench.sh: $top_builddir/vaultd is not built: no vaultd (HTTP) measurements" >&2
fi

# The figures are only as quiet as the machine: say how busy it was.
loadavg() { [ -r /proc/loadavg ] && cut -d' ' -f1-3 /proc/loadavg || echo unknown; }
echo "machine: $(getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?') CPUs, load average $(loadavg) before the run"
set -- "$@" --goals "$goals"
if [ -n "$vaultd" ]; then
	if [ -n "$jose_nm" ]; then
		set -- "$@" --jose "$jose_cmd"
	else
		set -- "$@" --jose-missing "$jose_why"
	fi
fi
# shellcheck disable=SC2086 # vd_args: options with mktemp paths
"$top_builddir/vault-bench" "$@" $vd_args
echo "load average $(loadavg) after the run"
stop_vaultd
echo
"$top_builddir/bundle-bench" "${BUNDLE_BENCH_ENTRIES:-1000}" >"$tmp/bundle.out"
cat "$tmp/bundle.out"
# the goal: the whole unwrap against the token's own calls
awk -v n="${BUNDLE_BENCH_ENTRIES:-1000}" '
	/full pipeline/ { for (i = 1; i <= NF; i++) if ($i == "ms") { full = $(i - 1); break } }
	/token calls alone/ { for (i = 1; i <= NF; i++) if ($i == "ms") { tok = $(i - 1); break } }
	END {
		if (full == "" || tok == "" || tok <= 0) exit
		r = full / tok
		printf "%d-entry bundle unwrap|%.1f ms|token calls alone %.1f ms|%.2f|<= 1.50x|%s\n", n, full, tok, r, (r <= 1.5 ? "yes" : "NO")
	}' "$tmp/bundle.out" >>"$goals"

# The OpenSSL provider (issue 16): provider-bench (EVP_DigestSign through
# p11vault.so vs raw C_Sign and Debian's libp11 engine, key load with
# PROVIDER_BENCH_FILL more key pairs on the token, default 500 = 1,000
# objects), one-shot `openssl dgst -sign` wall time, and TLS 1.3 handshakes
# per second (openssl s_time -new) against s_server with a software key, a
# token key through the provider's direct backend and the same through its
# vaultd backend (a vaultd client by uid, keys.read+sign on bench-p256).
# PROVIDER_BENCH=none skips it.
prov_so=$top_builddir/.libs/p11vault.so
if [ "${PROVIDER_BENCH-}" = none ]; then
	echo "provider run skipped (PROVIDER_BENCH=none)"
elif [ ! -x "$top_builddir/provider-bench" ] || [ ! -f "$prov_so" ]; then
	echo "provider|not run: provider-bench or .libs/p11vault.so is not built|-|-|-|n/a" >>"$goals"
else
	echo
	if [ -z "$vaultd" ]; then
		for spec in p256 rsa2048; do
			"$top_builddir/vaultctl" key create "bench-$spec" --alg "$spec" --purpose sign >/dev/null 2>&1 || true
		done
	fi
	echo "provider run: load average $(loadavg) before"
	# shellcheck disable=SC2086 # PROVIDER_BENCH_ARGS: options
	# (libp11 0.4.12 cannot load any key from a token holding an Ed25519
	# private key: the ones made above are destroyed first; the slow-loris
	# run signs only with bench-p256)
	"$top_builddir/provider-bench" --provider-dir "$top_builddir/.libs" --fill "${PROVIDER_BENCH_FILL:-500}" \
		--engine-drop-ed25519 --goals "$goals" ${PROVIDER_BENCH_ARGS-} || echo "provider-bench|the run failed|-|-|-|NO" >>"$goals"
	# openssl.cnf files: default, then p11vault (direct or vaultd backend)
	prov_cnf() {
		sed '/^\[default_sect\]/,$d' "$tmp/openssl.cnf" | sed 's/^default = default_sect$/default = default_sect\np11vault = p11vault_sect/'
		printf '[default_sect]\nactivate = 1\n\n[p11vault_sect]\nmodule = %s\nactivate = 1\nbackend = %s\n' "$prov_so" "$1"
		if [ "$1" = direct ]; then
			printf 'pkcs11-module = %s\ntoken = %s\npin-source = %s\n' "$P11VAULT_MODULE" "$P11VAULT_TOKEN" "$P11VAULT_PIN_SOURCE"
		else
			printf 'vaultd-socket = %s\n' "$tmp/vaultd.sock"
		fi
	}
	prov_cnf direct >"$tmp/prov-direct.cnf"
	prov_cnf vaultd >"$tmp/prov-vaultd.cnf"
	# one-shot dgst -sign: process start to exit, median of 11 (ms),
	# interleaved with the same command on a software P-256 key
	printf 'provider-bench one-shot input\n' >"$tmp/dgst.in"
	ms_now() { date +%s%N | cut -c1-16; }
	ok=1
	: >"$tmp/dgst.ms"
	: >"$tmp/dgst-soft.ms"
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/soft.key" 2>"$tmp/dgst.err" || ok=0
	for i in 1 2 3 4 5 6 7 8 9 10 11; do
		t0=$(ms_now)
		OPENSSL_CONF=$tmp/prov-direct.cnf openssl dgst -sha256 -sign p11vault:bench-p256 -out "$tmp/dgst.sig" "$tmp/dgst.in" 2>"$tmp/dgst.err" || ok=0
		t1=$(ms_now)
		echo "$(((t1 - t0) / 1000)).$(((t1 - t0) % 1000 / 100))" >>"$tmp/dgst.ms"
		t0=$(ms_now)
		openssl dgst -sha256 -sign "$tmp/soft.key" -out "$tmp/dgst-soft.sig" "$tmp/dgst.in" 2>>"$tmp/dgst.err" || ok=0
		t1=$(ms_now)
		echo "$(((t1 - t0) / 1000)).$(((t1 - t0) % 1000 / 100))" >>"$tmp/dgst-soft.ms"
		# the module's own floor: a process that only loads it and runs
		# C_Initialize (SoftHSM reads every object of its tokens there)
		if command -v pkcs11-tool >/dev/null 2>&1; then
			t0=$(ms_now)
			pkcs11-tool --module "$P11VAULT_MODULE" -I >/dev/null 2>>"$tmp/dgst.err" || ok=0
			t1=$(ms_now)
			echo "$(((t1 - t0) / 1000)).$(((t1 - t0) % 1000 / 100))" >>"$tmp/init.ms"
		fi
	done
	soft_ms=$(sort -n "$tmp/dgst-soft.ms" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
	init_ms=$( [ -s "$tmp/init.ms" ] && sort -n "$tmp/init.ms" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }' || echo -)
	# checked with the default provider alone
	OPENSSL_CONF=$tmp/prov-direct.cnf openssl pkey -in p11vault:bench-p256 -pubout -out "$tmp/p256.pub" 2>>"$tmp/dgst.err" &&
		openssl dgst -sha256 -verify "$tmp/p256.pub" -signature "$tmp/dgst.sig" "$tmp/dgst.in" >/dev/null 2>>"$tmp/dgst.err" || ok=0
	if [ "$ok" = 1 ]; then
		sort -n "$tmp/dgst.ms" | awk -v soft="$soft_ms" -v init="$init_ms" '{ v[NR] = $1 } END { m = v[int((NR + 1) / 2)]
			printf "one-shot: openssl dgst -sha256 -sign p11vault:bench-p256, process start to exit, median of %d: %.1f ms (software key file: %.1f ms; pkcs11-tool -I, the module loaded and initialised alone: %s ms)\n", NR, m, soft, init
			printf "one-shot openssl dgst -sign (direct)|%.1f ms|software key file %.1f ms; pkcs11-tool -I %s ms|-|<= 10 ms|%s\n", m, soft, init, (m <= 10 ? "yes" : "NO") > "/dev/stderr" }' 2>>"$goals"
	else
		cat "$tmp/dgst.err" >&2
		echo "one-shot openssl dgst -sign|failed (see above)|-|-|<= 10 ms|NO" >>"$goals"
	fi
	# TLS 1.3 handshakes per second
	if [ -z "$vaultd" ] || ! command -v python3 >/dev/null 2>&1; then
		echo "provider TLS handshakes|not run: needs vaultd and python3|-|-|-|n/a" >>"$goals"
	else
		uid=$(id -u)
		sed "s|\"clients\": \\[|\"clients\": [\n    { \"name\": \"provider\", \"auth\": { \"uid\": $uid }, \"rules\": [{ \"ops\": [\"keys.read\", \"sign\"], \"keys\": [\"bench-p256\"] }], \"rate\": { \"per_second\": 1000000, \"burst\": 1000000 } },|" \
			"$tmp/vaultd.json" >"$tmp/vaultd-prov.json"
		start_vaultd "$tmp/vaultd-prov.json"
		openssl req -new -x509 -key "$tmp/soft.key" -sha256 -days 2 -subj /CN=127.0.0.1 \
			-out "$tmp/soft.crt" >"$tmp/tls.log" 2>&1
		OPENSSL_CONF=$tmp/prov-direct.cnf openssl req -new -x509 -key p11vault:bench-p256 -sha256 -days 2 \
			-subj /CN=127.0.0.1 -out "$tmp/tok.crt" >>"$tmp/tls.log" 2>&1
		srv_pids=
		for m in soft direct vaultd; do
			port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
			eval "port_$m=$port"
			case $m in
			soft) cnf=$tmp/openssl.cnf key=$tmp/soft.key crt=$tmp/soft.crt ;;
			*) cnf=$tmp/prov-$m.cnf key=p11vault:bench-p256 crt=$tmp/tok.crt ;;
			esac
			OPENSSL_CONF=$cnf openssl s_server -accept "127.0.0.1:$port" -tls1_3 -key "$key" -cert "$crt" \
				-quiet </dev/null >"$tmp/srv-$m.log" 2>&1 &
			srv_pids="$srv_pids $!"
		done
		for m in soft direct vaultd; do
			eval "port=\$port_$m"
			i=0
			until python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1).close()" 2>/dev/null; do
				i=$((i + 1))
				[ "$i" -le 100 ] || break
				sleep 0.1
			done
		done
		# interleaved rounds: software key, direct, vaultd; handshakes over wall time
		secs=${PROVIDER_TLS_SECONDS:-5}
		audit0=$(grep -c '"op":"sign"' "$tmp/audit.log" 2>/dev/null || true)
		for rd in 1 2 3; do
			for m in soft direct vaultd; do
				eval "port=\$port_$m"
				cnf=$tmp/openssl.cnf
				[ "$m" = soft ] || cnf=$tmp/prov-$m.cnf
				t0=$(ms_now)
				n=$(OPENSSL_CONF=$cnf openssl s_time -connect "127.0.0.1:$port" -new -tls1_3 -time "$secs" 2>>"$tmp/tls.log" |
					sed -n 's/^\([0-9]*\) connections in .* real seconds.*/\1/p')
				t1=$(ms_now)
				echo "$m $rd ${n:-0} $((t1 - t0))" >>"$tmp/tls.rounds"
			done
		done
		# shellcheck disable=SC2086 # the pids
		{
			kill $srv_pids 2>/dev/null || true
			wait $srv_pids 2>/dev/null || true
		}
		audited=$(($(grep -c '"op":"sign"' "$tmp/audit.log" 2>/dev/null || true) - ${audit0:-0}))
		stop_vaultd
		awk -v secs="$secs" -v audited="$audited" '
			{ hs[$1, $2] = ($4 > 0 ? $3 * 1000000 / $4 : 0); if ($3 == 0) bad[$1] = 1 }
			function med(m,   a, b, c, t) { a = hs[m, 1]; b = hs[m, 2]; c = hs[m, 3]
				if (a > b) { t = a; a = b; b = t } if (b > c) { t = b; b = c; c = t } if (a > b) { t = a; a = b; b = t }
				return b }
			END {
				s = med("soft"); d = med("direct"); v = med("vaultd")
				printf "TLS 1.3 handshakes/s (openssl s_time -new, %d s per run, median of 3 interleaved): software key %.0f, provider direct %.0f, provider vaultd %.0f\n", secs, s, d, v
				printf "  vaultd audit lines with op sign during the runs: %d\n", audited
				g = "/dev/stderr"
				printf "TLS 1.3 handshakes/s, provider direct|%s|software key %.0f/s|%.2f|reported|%s\n", (bad["direct"] ? "failed" : sprintf("%.0f/s", d)), s, (s > 0 ? d / s : 0), (bad["direct"] ? "NO" : "n/a") > g
				printf "TLS 1.3 handshakes/s, provider vaultd|%s|direct %.0f/s|%.2f|reported|%s\n", (bad["vaultd"] ? "failed" : sprintf("%.0f/s", v)), d, (d > 0 ? v / d : 0), (bad["vaultd"] ? "NO" : "n/a") > g
				if (d > 0 && v > 0)
					printf "vaultd backend extra cost per handshake|%.2f ms|direct %.2f ms/handshake|-|reported|n/a\n", 1000 / v - 1000 / d, 1000 / d > g
			}' "$tmp/tls.rounds" 2>>"$goals"
		sed 's/^/  round: /' "$tmp/tls.rounds"
	fi
	echo "provider run: load average $(loadavg) after"
fi

# The slow-loris run: a second vaultd, also on a TCP+TLS listener on
# 127.0.0.1 (loopback only), fresh so that its idle RSS is its own.
slow=${BENCH_SLOWLORIS-}
if [ "$slow" = none ]; then
	echo "slow-loris run skipped (BENCH_SLOWLORIS=none)"
elif [ -z "$vaultd" ] || ! command -v python3 >/dev/null 2>&1 || ! command -v openssl >/dev/null 2>&1; then
	echo "slow-loris|not run: needs vaultd, python3 and openssl|-|-|-|n/a" >>"$goals"
else
	echo
	printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$tmp/server.ext"
	if ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=bench-ca" \
		-keyout "$tmp/ca.key" -out "$tmp/ca.crt" >"$tmp/openssl.log" 2>&1 ||
		! openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
			-keyout "$tmp/server.key" -out "$tmp/server.csr" >>"$tmp/openssl.log" 2>&1 ||
		! openssl x509 -req -in "$tmp/server.csr" -CA "$tmp/ca.crt" -CAkey "$tmp/ca.key" -CAcreateserial \
			-days 2 -extfile "$tmp/server.ext" -out "$tmp/server.crt" >>"$tmp/openssl.log" 2>&1; then
		cat "$tmp/openssl.log" >&2
		exit 1
	fi
	# a free port on 127.0.0.1
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	sed "s|\"listen\": { \"unix\": { \"path\": \"$tmp/vaultd.sock\", \"mode\": \"0600\" } },|\"listen\": { \"unix\": { \"path\": \"$tmp/vaultd.sock\", \"mode\": \"0600\" }, \"tcp\": { \"address\": \"127.0.0.1:$port\", \"tls_cert\": \"$tmp/server.crt\", \"tls_key\": \"$tmp/server.key\" } },|" \
		"$tmp/vaultd.json" >"$tmp/vaultd-tcp.json"
	grep -q '"tcp"' "$tmp/vaultd-tcp.json" || {
		echo "bench.sh: could not add the TCP listener to the config" >&2
		exit 1
	}
	start_vaultd "$tmp/vaultd-tcp.json"
	echo "vaultd (pid $vd_pid) ready on 127.0.0.1:$port (TLS) for the slow-loris run"
	# shellcheck disable=SC2086 # BENCH_SLOWLORIS: options
	python3 "$top_srcdir/tools/vault-bench/slowloris.py" --port "$port" --ca "$tmp/ca.crt" \
		--bearer-file "$tmp/bearer" --pid "$vd_pid" --goals "$goals" $slow >"$tmp/slowloris.out" || {
		cat "$tmp/slowloris.out"
		echo "slow-loris|the run failed|-|-|-|NO" >>"$goals"
	}
	sed -n '/^slow-loris:/,$p' "$tmp/slowloris.out"
	stop_vaultd
fi

echo
echo "Goals (issues 14 and 16), release build expected; medians of the rounds above:"
awk -F'|' '
	{ for (i = 1; i <= 6; i++) { c[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } }
	END {
		split("goal|figure|baseline|ratio|target|met?", h, "|")
		for (i = 1; i <= 6; i++) if (length(h[i]) > w[i]) w[i] = length(h[i])
		for (i = 1; i <= 6; i++) printf "%s%-*s", (i > 1 ? " | " : ""), w[i], h[i]
		printf "\n"
		for (i = 1; i <= 6; i++) { s = ""; for (k = 0; k < w[i]; k++) s = s "-"; printf "%s%s", (i > 1 ? "-|-" : ""), s }
		printf "\n"
		for (r = 1; r <= NR; r++) {
			for (i = 1; i <= 6; i++) printf "%s%-*s", (i > 1 ? " | " : ""), w[i], c[r, i]
			printf "\n"
		}
	}' "$goals"
echo "load average $load_before before make bench, $(loadavg) after"
