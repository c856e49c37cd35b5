#!/bin/bash
# Runs last (tests/Makefile.inc orders it after every other test log): no
# test log and no kept test output may contain a PIN. Throwaway PINs start
# with a fixed prefix (softhsm/make-token.sh), so any leaked PIN, wrong PINs
# the tests planted included, shows up as that prefix.
set -eu
. "$top_srcdir/tests/lib/common.sh"

# Built from pieces so that neither this file nor its log contains them.
P1="PV""PIN-"
P2="PV""SO-"

# leaks DIR...: files under DIR (test logs, .trs, kept outputs) containing a
# prefix; only file names are printed, never the matching text.
leaks() {
	find "$@" \( -name .git -o -name node_modules \) -prune -o -type f \
		\( -name '*.log' -o -name '*.trs' -o -path '*/tests/artifacts/*' \) \
		! -name test-suite.log ! -path '*/integration/pin_leak.log' ! -path '*/integration/pin_leak.trs' \
		! -path '*/tests/artifacts/pin_leak/*' -print0 |
		xargs -0 -r grep -alF -e "$P1" -e "$P2" -- || true
}

say "the check can fail: planted markers are found"
S=$PV_WORK/scratch
mkdir -p "$S/tests/artifacts/t" "$S/tests/unit"
printf 'clean line\n' >"$S/tests/unit/clean.log"
printf 'x\n' >"$S/tests/artifacts/t/clean.out"
[ -z "$(leaks "$S")" ] || fail "clean scratch files reported as leaks"
printf 'stderr: pin %splanted-1234\n' "$P1" >"$S/tests/unit/planted.log"
printf '\0\1binary%splanted\0' "$P2" >"$S/tests/artifacts/t/planted.err"
printf 'so %splanted\n' "$P2" >"$S/tests/unit/planted.trs"
found=$(leaks "$S" | sed "s|^$S/||" | sort | tr '\n' ' ')
assert_eq "$found" "tests/artifacts/t/planted.err tests/unit/planted.log tests/unit/planted.trs " \
	"planted markers found"
# A real PIN file from this test's token has the prefix, so the prefix is right.
grep -qF "$P1" "$PV_USER_PIN_FILE" || fail "the user PIN does not carry the prefix the leak check looks for"
grep -qF "$P2" "$PV_SO_PIN_FILE" || fail "the SO PIN does not carry the prefix the leak check looks for"

say "scan the suite's logs and kept outputs in $top_builddir"
n=$(find "$top_builddir" \( -name .git -o -name node_modules \) -prune -o -type f \
	\( -name '*.log' -o -path '*/tests/artifacts/*' \) ! -name test-suite.log \
	! -path '*/integration/pin_leak.log' -print | wc -l)
echo "files scanned: $n"
[ "$n" -gt 0 ] || skip "no test logs to scan (run the whole suite)"
bad=$(leaks "$top_builddir")
if [ -n "$bad" ]; then
	printf 'PIN prefix found in:\n%s\n' "$bad" >&2
	fail "a PIN leaked into test output"
fi
echo "pin_leak: ok, no PIN in $n files"
