#!/bin/sh
# Run vault-bench on a throwaway SoftHSM token (`make bench` calls this).
#
#   top_builddir=BUILD [top_srcdir=SRC] tools/vault-bench/bench.sh [vault-bench args]
#
# Makes the token with softhsm/make-token.sh (PINs in files, 0600), runs
# vault-bench against it with a minimal OPENSSL_CONF and removes everything.
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

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pvbench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
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

"$top_builddir/vault-bench" "$@"
echo
"$top_builddir/bundle-bench" ${BUNDLE_BENCH_ENTRIES:-1000}
