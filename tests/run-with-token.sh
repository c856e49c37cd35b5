#!/bin/bash
# LOG_COMPILER for every test (automake runs: run-with-token.sh TEST).
#
# Gives each test a fresh temporary directory and a fresh throwaway SoftHSM
# token (label p11vault-test, random PINs in files), exports the environment
# the tests expect, runs the test (a .sh through bash, anything else directly)
# and passes its exit code through (77 = skipped, 99 = hard error). Files the
# test wrote under $PV_TEST_DIR/out/ are copied to
# $top_builddir/tests/artifacts/<test>/ so the PIN leak check can read them.
# The temporary directory is removed unless PV_KEEP_TMP=1.
#
# Environment in: top_srcdir, top_builddir, SOFTHSM_MODULE (from
# AM_TESTS_ENVIRONMENT; derived here when run by hand from the build dir),
# PV_TEST_TIMEOUT (seconds, default 900), PV_KEEP_TMP.
set -u

if [ $# -lt 1 ]; then
	echo "usage: run-with-token.sh TEST [ARGS...]" >&2
	exit 99
fi
test_prog=$1
shift

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=$(cd "${top_srcdir:-$here/..}" && pwd)
top_builddir=$(cd "${top_builddir:-.}" && pwd)
SOFTHSM_MODULE=${SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
export top_srcdir top_builddir SOFTHSM_MODULE

test_name=$(basename "$test_prog")
test_name=${test_name%.sh}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pvtest.$test_name.XXXXXX") || exit 99
chmod 700 "$tmp"
mkdir -p "$tmp/out"

finish() {
	local art=$top_builddir/tests/artifacts/$test_name
	rm -rf "$art"
	if [ -n "$(ls -A "$tmp/out" 2>/dev/null)" ]; then
		mkdir -p "$art" && cp -R "$tmp/out/." "$art/"
	fi
	if [ "${PV_KEEP_TMP:-0}" = 1 ]; then
		echo "run-with-token: kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap finish EXIT
trap 'exit 99' HUP INT TERM

# A minimal OpenSSL config, deliberately: if the p11vault provider were in
# the system default config, SoftHSM's own OpenSSL calls could recurse into it.
cat >"$tmp/openssl.cnf" <<'EOF'
openssl_conf = openssl_init

[openssl_init]
providers = provider_sect

[provider_sect]
default = default_sect

[default_sect]
activate = 1
EOF
export OPENSSL_CONF=$tmp/openssl.cnf
# ASan builds: SoftHSM's own leaks are not ours (tests/lsan.supp); full
# stacks so the suppression can see the libsofthsm2 frame.
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$top_srcdir/tests/lsan.supp:fast_unwind_on_malloc=0:print_suppressions=0}
export PV_TEST_DIR=$tmp
export VAULTCTL=$top_builddir/vaultctl
# No ambient PIN source or credentials from the caller's environment.
unset P11VAULT_TOKEN P11VAULT_MODULE P11VAULT_PIN_SOURCE CREDENTIALS_DIRECTORY

make_token() {
	local mk=$top_srcdir/softhsm/make-token.sh
	[ -f "$mk" ] || {
		echo "run-with-token: $mk is missing" >&2
		return 1
	}
	[ -x "$VAULTCTL" ] || {
		echo "run-with-token: $VAULTCTL is not built" >&2
		return 1
	}
	mkdir -m 700 "$tmp/token" || return 1
	# make-token prints only `export NAME=value` lines (paths, never a PIN).
	bash "$mk" --dir "$tmp/token" --label p11vault-test --vaultctl "$VAULTCTL" \
		--module "$SOFTHSM_MODULE" >"$tmp/token.env" 2>"$tmp/token.err" || {
		echo "run-with-token: make-token.sh failed:" >&2
		cat "$tmp/token.err" >&2
		return 1
	}
	# shellcheck disable=SC1091
	. "$tmp/token.env" || return 1
	: "${SOFTHSM2_CONF:?}" "${P11VAULT_MODULE:?}" "${P11VAULT_TOKEN:?}" "${P11VAULT_PIN_SOURCE:?}"
	export SOFTHSM2_CONF P11VAULT_MODULE P11VAULT_TOKEN P11VAULT_PIN_SOURCE
	export PV_TOKEN_LABEL=p11vault-test
	export PV_USER_PIN_FILE=$tmp/token/user.pin
	export PV_SO_PIN_FILE=$tmp/token/so.pin
	[ -s "$PV_USER_PIN_FILE" ] && [ -s "$PV_SO_PIN_FILE" ] || {
		echo "run-with-token: make-token.sh left no PIN files" >&2
		return 1
	}
}

case "$test_prog" in
*.sh) runner=(bash "$test_prog") ;;
*) runner=("$test_prog") ;;
esac

if ! make_token; then
	case "$test_prog" in
	*.sh)
		# Integration tests are about the token: without one they cannot run.
		echo "run-with-token: no token for $test_name" >&2
		exit 99
		;;
	*)
		# Unit tests mostly need no token; those that do must check
		# P11VAULT_TOKEN themselves.
		echo "run-with-token: running $test_name without a token" >&2
		unset SOFTHSM2_CONF P11VAULT_MODULE P11VAULT_TOKEN P11VAULT_PIN_SOURCE
		;;
	esac
fi

# timeout runs the test in its own process group (so it can kill all of it),
# which keeps make's Ctrl-C from reaching it: pass signals on by hand. In the
# background, so that bash handles the trap at once instead of after the test.
timeout -k 10 "${PV_TEST_TIMEOUT:-900}" "${runner[@]}" "$@" </dev/null &
child=$!
interrupted=0
trap 'interrupted=1; kill -TERM "$child" 2>/dev/null' HUP INT TERM
while :; do
	rc=0
	wait "$child" || rc=$?
	kill -0 "$child" 2>/dev/null || break # else wait was cut short by a signal
done
if [ "$interrupted" = 1 ]; then
	echo "run-with-token: $test_name interrupted" >&2
	rc=99
elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
	echo "run-with-token: $test_name timed out after ${PV_TEST_TIMEOUT:-900}s" >&2
	rc=99
fi
exit "$rc"
