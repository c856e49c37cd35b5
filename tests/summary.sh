#!/bin/bash
# tests/summary.sh [BUILDDIR] — the final line of a test run:
#   "N passed, N failed" (", N skipped" when any)
# from the automake harness's test-suite.log (the last `make check`), or the
# .trs files when there is none. Exits 1 when anything failed or errored, or
# when no results exist at all.
set -eu
dir=${1:-.}
pass=0 fail=0 skip=0

if [ -f "$dir/test-suite.log" ]; then
	count() { sed -n "s/^# $1: *\([0-9][0-9]*\)\$/\1/p" "$dir/test-suite.log" | head -n 1; }
	total=$(count TOTAL)
	[ -n "$total" ] || {
		echo "summary: $dir/test-suite.log has no totals" >&2
		exit 1
	}
	pass=$(($(count PASS) + $(count XFAIL)))
	fail=$(($(count FAIL) + $(count XPASS) + $(count ERROR)))
	skip=$(count SKIP)
else
	total=0
	while IFS= read -r -d '' trs; do
		while read -r key res _; do
			[ "$key" = ":test-result:" ] || continue
			total=$((total + 1))
			case $res in
			PASS | XFAIL) pass=$((pass + 1)) ;;
			SKIP) skip=$((skip + 1)) ;;
			*) fail=$((fail + 1)) ;;
			esac
		done <"$trs"
	done < <(find "$dir" -name '*.trs' -print0)
fi

line="$pass passed, $fail failed"
[ "$skip" = 0 ] || line="$line, $skip skipped"
echo "$line"
if [ "$total" = 0 ]; then
	echo "summary: no test results under $dir" >&2
	exit 1
fi
[ "$fail" = 0 ]
