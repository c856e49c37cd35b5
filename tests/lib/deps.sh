# shellcheck shell=bash
# The Debian 12 packages p11vault needs to build and test, in one place:
# .ci/run installs them; run.sh and test.sh install whatever is missing when
# they run as root on a Debian-like system (otherwise they say what to install).
PV_DEBIAN_PACKAGES="build-essential autoconf automake autoconf-archive libtool pkg-config
	libp11-kit-dev libssl-dev libsodium-dev libcjson-dev libsecp256k1-dev
	libcmocka-dev libgnutls28-dev softhsm2 curl opensc openssl
	clang libclang-rt-14-dev clang-format python3 nodejs ca-certificates git p11-kit p11-kit-modules nginx haproxy apache2 procps libengine-pkcs11-openssl"

pv_missing_packages() {
	local p missing=""
	command -v dpkg-query >/dev/null 2>&1 || return 0
	for p in $PV_DEBIAN_PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
	done
	echo "$missing"
}

pv_install_deps() {
	local missing sudo=""
	missing=$(pv_missing_packages)
	[ -n "$missing" ] || return 0
	if [ "$(id -u)" != 0 ]; then
		if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
			sudo=sudo
		else
			echo "missing Debian packages:$missing" >&2
			echo "install them with: sudo apt-get install -y$missing" >&2
			return 1
		fi
	fi
	printf '\n==> installing Debian packages:%s\n' "$missing"
	$sudo apt-get update
	# shellcheck disable=SC2086
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
}

# npm for tests/interop: Node.js from Debian ships it as a separate package,
# Node.js from other sources bundles it (installing Debian's npm beside that
# would conflict), so it is installed only when missing.
pv_install_npm() {
	local sudo=""
	command -v npm >/dev/null 2>&1 && return 0
	[ "$(id -u)" = 0 ] || sudo=sudo
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends npm
}
