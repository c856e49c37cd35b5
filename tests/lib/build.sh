# shellcheck shell=bash
# Sourced by test.sh and run.sh (from the top of the source tree): one way to
# build, out of tree in ./build. Idempotent: configure runs once, make
# rebuilds what changed (and re-runs configure itself when configure.ac did).
# PV_CONFIGURE_FLAGS overrides the configure options (default --enable-debug).

pv_step() { printf '\n==> %s\n' "$*"; }

# shellcheck source=tests/lib/deps.sh
. "$(dirname "${BASH_SOURCE[0]}")/deps.sh"

pv_build() {
	pv_install_deps
	if [ ! -x configure ]; then
		pv_step "autoreconf -fi"
		autoreconf -fi
	fi
	mkdir -p build
	if [ ! -f build/Makefile ]; then
		pv_step "configure (in ./build) ${PV_CONFIGURE_FLAGS:---enable-debug}"
		# shellcheck disable=SC2086
		(cd build && ../configure ${PV_CONFIGURE_FLAGS:---enable-debug})
	fi
	pv_step "make -j2"
	make -C build -j2
}

# A value configure found, e.g. pv_build_var SOFTHSM_MODULE.
pv_build_var() { sed -n "s|^$1 = ||p" build/Makefile | head -n 1; }
