#!/bin/bash
# The rules of tools/check-style.py (run by `make check-style` on every
# tracked C file) on a fixture whose hits are known: each banned call, a
# memcmp over a secret-looking name (also across lines, in camelCase and in
# the plural), each spelling of a hand-made element count; and nothing in
# comments, strings, bounded calls, constant-time compares, public names or
# a comparison marked "public:". Without the marker that comparison is a hit.
set -eu
. "$top_srcdir/tests/lib/common.sh"
need_cmd python3
CHECK=$top_srcdir/tools/check-style.py
FIX=$top_srcdir/tests/style/banned.c.txt
W=$PV_WORK

say "the fixture: exactly the lines marked hit, for the right rule"
run_expect 1 python3 "$CHECK" "$FIX"
sed -E 's/^[^:]*:([0-9]+): ([a-z]+).*/\1 \2/' "$RUN_OUT" >"$W/got"
cat >"$W/want" <<'WANT'
7 strcpy
8 strcat
9 sprintf
11 vsprintf
13 gets
14 memcmp
16 memcmp
19 memcmp
21 memcmp
30 element
31 element
32 element
33 element
WANT
diff -u "$W/want" "$W/got" || fail "check-style.py hits differ from the fixture's"
assert_contains "$RUN_OUT" "memcmp over expectedTag"
assert_contains "$RUN_OUT" "PV_NELEM(s.items)"

say "the review marker is what spares the public comparison"
grep -v 'public: a public key' "$FIX" >"$W/unmarked.c"
run_expect 1 python3 "$CHECK" "$W/unmarked.c"
assert_contains "$RUN_OUT" "unmarked.c:27: memcmp over key"

say "a file without hits passes"
printf '%s\n' '/* strcpy(a, b) */' 'static int n = PV_NELEM(x);' 'int f(void) { return sodium_memcmp(key, k, 32); }' >"$W/clean.c"
run_expect 0 python3 "$CHECK" "$W/clean.c"
assert_eq "$(wc -c <"$RUN_OUT")" 0 "no output for a clean file"
echo "style_rules: ok"
