#!/bin/bash
# The README's test command. From a clean checkout: generate configure if
# needed, build out of tree in ./build with --enable-debug, run `make check`
# (unit, fuzz-corpus and integration tests, each on a throwaway SoftHSM
# token), print the logs of failed tests, and end with one line:
# "N passed, N failed[, N skipped]". Exit status non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")"
. tests/lib/build.sh

pv_build
pv_step "make -j2 check"
rm -f build/test-suite.log
check_rc=0
make -C build -j2 check || check_rc=$?

# Logs of what failed, before the summary so that the summary stays last.
while IFS= read -r -d '' trs; do
	if grep -Eq '^:test-result: (FAIL|ERROR|XPASS)' "$trs"; then
		printf '\n==> FAILED: %s\n' "${trs%.trs}"
		cat "${trs%.trs}.log" || true
	fi
done < <(find build -name '*.trs' -print0 | sort -z)

sum_rc=0
bash tests/summary.sh build || sum_rc=$?
if [ "$check_rc" != 0 ] && [ "$sum_rc" = 0 ]; then
	echo "make check failed outside the tests (see above)" >&2
fi
[ "$check_rc" = 0 ] && [ "$sum_rc" = 0 ]
