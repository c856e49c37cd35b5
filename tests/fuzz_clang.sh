#!/bin/bash
# The libFuzzer build, so that it cannot break unseen: with PV_FUZZ_CLANG=1
# (.ci/run sets it) configure a build of its own with `--enable-fuzzing
# CC=clang` (in $top_builddir/fuzz-clang), build every harness of
# PV_FUZZ_NAMES (tests/fuzz/Makefile.inc) and run each for PV_FUZZ_SECONDS
# (default 2) over its seed corpus; any build error, crash, leak or
# sanitizer report fails. New inputs go to the test's scratch directory,
# never into the source tree's corpus. Without PV_FUZZ_CLANG=1: skipped
# (the seeds themselves replay in every `make check` as tests/fuzz/replay-*).
# tests/Makefile.inc runs it before every other test, alone: it uses both
# CPUs, and timing-sensitive tests should not share them with a compiler.
set -eu
. "$top_srcdir/tests/lib/common.sh"
[ "${PV_FUZZ_CLANG:-0}" = 1 ] || skip "set PV_FUZZ_CLANG=1 to build and run the libFuzzer harnesses with clang"
need_cmd clang
B=$top_builddir/fuzz-clang
W=$PV_WORK
secs=${PV_FUZZ_SECONDS:-2}

names=$(sed -n 's/^PV_FUZZ_NAMES = //p' "$top_srcdir/tests/fuzz/Makefile.inc")
[ -n "$names" ] || fail "no PV_FUZZ_NAMES in tests/fuzz/Makefile.inc"
bins=()
for n in $names; do
	bins+=("tests/fuzz/fuzz-$n")
done

say "configure --enable-fuzzing CC=clang (in $B)"
mkdir -p "$B"
if [ ! -f "$B/Makefile" ]; then
	(cd "$B" && "$top_srcdir/configure" --enable-fuzzing CC=clang) >"$W/configure.log" 2>&1 || {
		tail -n 30 "$W/configure.log" >&2
		fail "configure --enable-fuzzing CC=clang failed"
	}
fi

say "make ${#bins[@]} fuzzers"
start=$SECONDS
make -C "$B" -j2 "${bins[@]}" >"$W/make.log" 2>&1 || {
	grep -E 'error|undefined reference' "$W/make.log" | head -n 30 >&2
	tail -n 20 "$W/make.log" >&2
	fail "the clang fuzzing build failed"
}
echo "built in $((SECONDS - start)) s"

say "each fuzzer ${secs} s over its corpus"
for n in $names; do
	corpus=$top_srcdir/tests/fuzz/corpus/$n
	[ -d "$corpus" ] || fail "fuzz-$n has no corpus directory tests/fuzz/corpus/$n"
	mkdir -p "$W/new/$n" "$W/crash"
	rc=0
	"$B/tests/fuzz/fuzz-$n" -max_total_time="$secs" -timeout=10 -print_final_stats=1 \
		-artifact_prefix="$W/crash/$n-" "$W/new/$n" "$corpus" >"$W/$n.log" 2>&1 || rc=$?
	if [ "$rc" != 0 ]; then
		tail -n 40 "$W/$n.log" >&2
		fail "fuzz-$n exited $rc (its input is under $W/crash with PV_KEEP_TMP=1)"
	fi
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$W/$n.log")
	[ -n "$runs" ] && [ "$runs" -gt 0 ] || fail "fuzz-$n ran no input"
	printf 'fuzz-%s: %s inputs, ok\n' "$n" "$runs"
done
echo "fuzz_clang: ok"
