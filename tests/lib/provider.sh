# shellcheck shell=bash
# Helpers for the OpenSSL provider tests (tests/integration/provider_*.sh),
# on top of tests/lib/common.sh (source that first).
#
#   prov_need                       skip (77) unless the build tree has p11vault.so
#   prov_conf FILE BACKEND [K=V..]  write an openssl.cnf loading default, then
#                                   p11vault from the build tree (direct|vaultd);
#                                   K=V are more keys of the p11vault section
#   prov_use FILE                   make FILE the openssl.cnf of prov_ossl
#   prov_ossl ARGS...               openssl ARGS with that openssl.cnf
#   prov_cli ARGS...                openssl ARGS with the provider given on the
#                                   command line (-provider-path/-provider),
#                                   configured only by P11VAULT_* variables;
#                                   ARGS must start with the subcommand
#   ossl ARGS...                    plain openssl: the default provider only
#   prov_free_port                  a free TCP port on 127.0.0.1
#   prov_selfsigned KEYREF CN OUT   openssl req -new -x509 through the provider
#                                   (signature checked with the default provider)
#   prov_ca_init DIR                a software test CA (plain openssl)
#   prov_ca_issue PUB CN OUT        a certificate from that CA for the public
#                                   key PUB (a PEM from vaultctl), made without
#                                   the provider
#   prov_same_pub CERT PUB          the certificate holds exactly public key PUB
#   srv_start NAME ARGS...          openssl s_server ARGS in the background
#                                   (loopback, -rev, bounded), waits for ACCEPT
#   srv_stop NAME                   stop it (also done by prov_cleanup)
#
# The openssl.cnf that tests/run-with-token.sh exports (OPENSSL_CONF) loads
# only the default provider and stays the environment of everything else
# (vaultctl, pkcs11-tool, SoftHSM): only the commands run through prov_ossl
# and prov_cli see p11vault.

: "${PV_OUT:?source tests/lib/common.sh before tests/lib/provider.sh}"

PROV_DIR=$top_builddir/.libs
PROV_SO=$PROV_DIR/p11vault.so
PROV_CNF=
PROV_BASE_CONF=$OPENSSL_CONF
declare -A prov_srv_pid=()

prov_need() {
	need_cmd openssl
	[ -f "$PROV_SO" ] || skip "the provider is not built ($PROV_SO)"
	case $(openssl version) in
	"OpenSSL 3."*) ;;
	*) skip "OpenSSL 3 is needed for providers: $(openssl version)" ;;
	esac
}

# prov_conf FILE BACKEND [KEY=VALUE...]: for direct, the test token's module,
# URI and PIN source are written in the section (not taken from the
# environment); for vaultd, only backend and what is given.
prov_conf() {
	local f=$1 backend=$2 kv
	shift 2
	{
		cat <<EOF
# p11vault test configuration ($backend backend), written by tests/lib/provider.sh
openssl_conf = openssl_init

[openssl_init]
providers = provider_sect

[provider_sect]
default = default_sect
p11vault = p11vault_sect

[default_sect]
activate = 1

[p11vault_sect]
module = $PROV_SO
activate = 1
backend = $backend
EOF
		if [ "$backend" = direct ]; then
			printf 'pkcs11-module = %s\ntoken = %s\npin-source = %s\n' \
				"$P11VAULT_MODULE" "$P11VAULT_TOKEN" "$P11VAULT_PIN_SOURCE"
		fi
		for kv in "$@"; do
			printf '%s = %s\n' "${kv%%=*}" "${kv#*=}"
		done
	} >"$f"
	PROV_CNF=$f
}

prov_use() { PROV_CNF=$1; }

prov_ossl() {
	: "${PROV_CNF:?prov_conf first}"
	OPENSSL_CONF=$PROV_CNF openssl "$@"
}

prov_cli() {
	local cmd=$1
	shift
	OPENSSL_CONF=$PROV_BASE_CONF openssl "$cmd" -provider-path "$PROV_DIR" -provider p11vault \
		-provider default "$@"
}

ossl() { OPENSSL_CONF=$PROV_BASE_CONF openssl "$@"; }

prov_free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# prov_selfsigned KEYREF CN OUT: a self-signed certificate made by
# `openssl req -new -x509` with the token key; its signature must verify
# with the default provider alone. Returns 1 (no fail) when req fails, with
# the error in $PV_OUT.
prov_selfsigned() {
	local ref=$1 cn=$2 out=$3 log=$PV_OUT/req.$2
	prov_ossl req -new -x509 -key "$ref" -subj "/CN=$cn" -days 2 -out "$out" \
		-addext "subjectAltName=DNS:$cn,IP:127.0.0.1" >"$log.out" 2>"$log.err" || return 1
	ossl verify -CAfile "$out" "$out" >"$log.verify" 2>&1 ||
		fail "the self-signed certificate for $cn does not verify with the default provider"
}

prov_ca_init() {
	PROV_CA_DIR=$1
	mkdir -p "$PROV_CA_DIR"
	ossl req -new -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-keyout "$PROV_CA_DIR/ca.key" -out "$PROV_CA_DIR/ca.pem" -subj "/CN=p11vault test CA" \
		>"$PV_WORK/ca.out" 2>&1 || fail "cannot make the test CA"
}

# The CSR is signed by a throwaway key: -force_pubkey puts the token's
# public key into the certificate.
prov_ca_issue() {
	local pub=$1 cn=$2 out=$3 d=$PROV_CA_DIR
	ossl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/throwaway.key" \
		-subj "/CN=$cn" -out "$d/$cn.csr" >"$PV_WORK/ca.out" 2>&1 || fail "CSR for $cn"
	printf 'subjectAltName=DNS:%s,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' "$cn" >"$d/$cn.ext"
	ossl x509 -req -in "$d/$cn.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
		-force_pubkey "$pub" -extfile "$d/$cn.ext" -out "$out" >"$PV_WORK/ca.out" 2>&1 ||
		fail "cannot issue a certificate for $cn: $(cat "$PV_WORK/ca.out")"
}

prov_same_pub() {
	ossl x509 -in "$1" -noout -pubkey >"$PV_WORK/cert.pub" || fail "no public key in $1"
	cmp -s <(ossl pkey -pubin -in "$PV_WORK/cert.pub" -outform DER) <(ossl pkey -pubin -in "$2" -outform DER) ||
		fail "the certificate $1 does not hold the public key $2"
}

# srv_start NAME [ENV=VALUE...] -- ARGS...: openssl s_server on
# 127.0.0.1:$SRV_PORT (a fresh free port) with -rev (each line comes back
# reversed; SRV_MODE=-www for an HTTP answer instead) and ARGS, under timeout, logs $PV_OUT/srv.NAME.{out,err}; the
# environment assignments before "--" are given to the server only (e.g.
# OPENSSL_CONF=...). Returns once it printed ACCEPT; 1 if it exited first.
srv_start() {
	local name=$1 envs=() i
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		envs+=("$1")
		shift
	done
	[ "${1:-}" = -- ] && shift
	SRV_PORT=$(prov_free_port)
	SRV_OUT=$PV_OUT/srv.$name.out
	SRV_ERR=$PV_OUT/srv.$name.err
	env "${envs[@]}" timeout -k 5 "${PV_SRV_TIMEOUT:-120}" openssl s_server -accept "127.0.0.1:$SRV_PORT" "${SRV_MODE:--rev}" \
		"$@" >"$SRV_OUT" 2>"$SRV_ERR" </dev/null &
	prov_srv_pid[$name]=$!
	for ((i = 0; i < 200; i++)); do
		grep -q '^ACCEPT' "$SRV_OUT" 2>/dev/null && return 0
		kill -0 "${prov_srv_pid[$name]}" 2>/dev/null || {
			wait "${prov_srv_pid[$name]}" 2>/dev/null
			unset "prov_srv_pid[$name]"
			return 1
		}
		sleep 0.05
	done
	return 1
}

srv_stop() {
	local pid=${prov_srv_pid[$1]:-}
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	unset "prov_srv_pid[$1]"
}

# cli_talk NAME LINE [ENV=VALUE...] -- S_CLIENT ARGS...: connect to
# 127.0.0.1:$SRV_PORT, send LINE, then CLOSE (SRV_MODE=-www: GET /LINE); output in $PV_OUT/cli.NAME.*.
# Status: s_client's.
cli_talk() {
	local name=$1 line=$2 envs=() rc=0
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		envs+=("$1")
		shift
	done
	[ "${1:-}" = -- ] && shift
	CLI_OUT=$PV_OUT/cli.$name.out
	CLI_ERR=$PV_OUT/cli.$name.err
	# -www: an HTTP request instead (s_server -rev does not answer a client
	# it asked for a certificate)
	if [ "${SRV_MODE:--rev}" = -www ]; then
		printf 'GET /%s HTTP/1.0\r\n\r\n' "$line"
	else
		printf '%s\nCLOSE\n' "$line"
	fi | env "${envs[@]}" timeout -k 5 30 openssl s_client \
		-connect "127.0.0.1:$SRV_PORT" -ign_eof "$@" >"$CLI_OUT" 2>"$CLI_ERR" || rc=$?
	return $rc
}

# cli_ok NAME WHAT: the last cli_talk completed a verified handshake and got
# the line back reversed (SRV_MODE=-www: an HTTP 200 answer).
cli_ok() {
	local want="" i
	for ((i = ${#2} - 1; i >= 0; i--)); do
		want+=${2:i:1}
	done
	if ! grep -aqx 'Verification: OK' "$CLI_OUT" || ! grep -aq 'Verify return code: 0 (ok)' "$CLI_OUT"; then
		cat "$CLI_ERR" >&2
		fail "$1: the peer was not verified"
	fi
	# (s_client's session dump and the answer can share a line)
	if [ "${SRV_MODE:--rev}" = -www ]; then
		grep -aqF -- "HTTP/1.0 200 ok" "$CLI_OUT"
	else
		grep -aqxF -- "$want" "$CLI_OUT"
	fi || {
		cat "$CLI_ERR" "$SRV_ERR" >&2
		fail "$1: the line did not come back"
	}
}

prov_cleanup() {
	local n
	for n in "${!prov_srv_pid[@]}"; do
		srv_stop "$n"
	done
}
