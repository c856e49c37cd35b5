#!/bin/sh
# Make a throwaway SoftHSM2 token for development and tests.
#
#   softhsm/make-token.sh --dir DIR [--label LABEL] [--vaultctl PATH] [--module PATH]
#
# Creates DIR/softhsm2.conf and DIR/tokens, random PINs in DIR/user.pin and
# DIR/so.pin (mode 0600), initialises the token through `vaultctl token init`
# (PINs from files, never on argv) and prints the environment to use as
# `export` lines. Running it again on the same DIR only prints the env.
set -eu

dir=""
label="p11vault-dev"
vaultctl="${VAULTCTL:-}"
module="${P11VAULT_MODULE:-}"

usage() {
	echo "usage: $0 --dir DIR [--label LABEL] [--vaultctl PATH] [--module PATH]" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case "$1" in
	--dir) [ $# -ge 2 ] || usage; dir=$2; shift 2 ;;
	--label) [ $# -ge 2 ] || usage; label=$2; shift 2 ;;
	--vaultctl) [ $# -ge 2 ] || usage; vaultctl=$2; shift 2 ;;
	--module) [ $# -ge 2 ] || usage; module=$2; shift 2 ;;
	-h | --help) usage ;;
	*) echo "$0: unknown argument: $1" >&2; usage ;;
	esac
done
[ -n "$dir" ] || usage

if [ -z "$module" ]; then
	for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so \
		/usr/lib64/pkcs11/libsofthsm2.so /usr/local/lib/softhsm/libsofthsm2.so; do
		if [ -f "$m" ]; then module=$m; break; fi
	done
fi
if [ -z "$module" ] || [ ! -f "$module" ]; then
	echo "$0: SoftHSM2 module not found (use --module)" >&2
	exit 3
fi
if [ -z "$vaultctl" ]; then
	vaultctl=$(command -v vaultctl || true)
fi

umask 077
mkdir -p "$dir/tokens"
dir=$(cd "$dir" && pwd)
here=$(cd "$(dirname "$0")" && pwd)

print_env() {
	# Single quotes: paths may hold spaces; labels never hold quotes (checked).
	echo "export SOFTHSM2_CONF='$dir/softhsm2.conf'"
	echo "export P11VAULT_MODULE='$module'"
	echo "export P11VAULT_TOKEN='pkcs11:token=$label'"
	echo "export P11VAULT_PIN_SOURCE='file:$dir/user.pin'"
}

case "$label" in
*"'"* | *";"* | *"/"* | *"?"* | *"%"*)
	echo "$0: label must not contain ' ; / ? %" >&2
	exit 2
	;;
esac

if [ -f "$dir/.initialised" ] && [ -s "$dir/user.pin" ] && [ -f "$dir/softhsm2.conf" ]; then
	print_env
	exit 0
fi

if [ -z "$vaultctl" ] || [ ! -x "$vaultctl" ]; then
	echo "$0: vaultctl not found (use --vaultctl PATH)" >&2
	exit 3
fi

if [ -f "$here/softhsm2.conf.in" ]; then
	sed -e "s|@TOKENDIR@|$dir/tokens|" "$here/softhsm2.conf.in" >"$dir/softhsm2.conf"
else
	printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
		"$dir/tokens" >"$dir/softhsm2.conf"
fi
chmod 600 "$dir/softhsm2.conf"

hex16() {
	od -An -tx1 -N8 /dev/urandom | tr -d ' \n'
}
printf 'PVPIN-%s\n' "$(hex16)" >"$dir/user.pin"
printf 'PVSO-%s\n' "$(hex16)" >"$dir/so.pin"
chmod 600 "$dir/user.pin" "$dir/so.pin"

SOFTHSM2_CONF="$dir/softhsm2.conf" "$vaultctl" --module "$module" token init --label "$label" \
	--so-pin-source "file:$dir/so.pin" --pin-source "file:$dir/user.pin" >&2
: >"$dir/.initialised"
print_env
