#!/bin/bash
# vaultctl doctor --bundle / --vaultd-config (issue 18: a scheduled rotation
# retires KEK versions by itself): a recipient whose key version is retired
# (still opens until destroyed), destroyed or of a disabled key (opens
# nothing) is reported with the fix (bundle rewrap), in text and --json, and
# nothing is changed; after the rewrap none is.
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/vaultd.sh"

W=$PV_WORK
printf 'API_TOKEN=doctor-test-value\n' >"$W/in.env"
run_expect 0 vc key create dkek --alg aes256 --purpose wrap
run_expect 0 vc key create dkek2 --alg aes256 --purpose wrap
run_expect 0 vc bundle seal --recipient dkek --in "$W/in.env" --out "$W/one.b"
run_expect 0 vc bundle seal --recipient dkek --recipient dkek2 --in "$W/in.env" --out "$W/two.b"

say "every recipient alive: nothing reported"
run_expect 0 vc doctor --bundle "$W/one.b" --bundle "$W/two.b"
assert_contains "$RUN_OUT" "every recipient of 2 bundles"
assert_not_contains "$RUN_OUT" "bundle recipients on retired"

say "dkek rotated and v1 retired: reported, nothing changed"
run_expect 0 vc key rotate dkek
run_expect 0 vc key retire dkek --version 1
cp "$W/one.b" "$W/one.before"
run_expect 0 vc doctor --bundle "$W/one.b" --bundle "$W/two.b"
assert_contains "$RUN_OUT" "$W/one.b: recipient dkek.v1: retired: still opens it until the version is destroyed; rewrap before that"
assert_contains "$RUN_OUT" "$W/two.b: recipient dkek.v1: retired"
assert_not_contains "$RUN_OUT" "no recipient of the bundle opens it"
assert_contains "$RUN_OUT" "vaultctl bundle rewrap"
cmp -s "$W/one.b" "$W/one.before" || fail "doctor changed the bundle"
run_expect 0 vc doctor --json --bundle "$W/two.b"
python3 - "$RUN_OUT" <<'PY' || fail "doctor --json: bundle_recipients"
import json, sys
d = json.load(open(sys.argv[1]))
r = d["bundle_recipients"]
assert len(r) == 1, r
assert r[0]["recipient"] == "dkek.v1" and r[0]["state"] == "retired" and r[0]["bundle_opens"] is True, r
assert "rewrap" in r[0]["what"], r
PY

say "a disabled key's recipient, and vaultd's bundle named by its configuration"
run_expect 0 vc key disable dkek2
vd_base_config '' "\"bundle\": { \"path\": \"$W/two.b\" }" >"$W/vaultd.json"
run_expect 0 vc doctor --vaultd-config "$W/vaultd.json"
assert_contains "$RUN_OUT" "$W/two.b: recipient dkek2.v1: the key is disabled: opens nothing while it is"
assert_contains "$RUN_OUT" "$W/two.b: recipient dkek.v1: retired"
assert_not_contains "$RUN_OUT" "no recipient of the bundle opens it"
run_expect 0 vc key enable dkek2

say "the retired version still opens; destroyed, it opens nothing: the bundle no longer opens"
run_expect 0 vc unwrap "$W/one.b" --format dotenv
assert_contains "$RUN_OUT" "doctor-test-value"
run_expect 0 vc bundle rewrap "$W/two.b" --to dkek
run_expect 0 vc key destroy dkek --version 1 --yes
run_expect 0 vc doctor --bundle "$W/one.b" --bundle "$W/two.b"
assert_contains "$RUN_OUT" "$W/one.b: recipient dkek.v1: destroyed: opens nothing (no recipient of the bundle opens it on this token now)"
assert_not_contains "$RUN_OUT" "$W/two.b"
run_expect 6 vc unwrap "$W/one.b" --format dotenv
run_expect 0 vc unwrap "$W/two.b" --format dotenv
assert_contains "$RUN_OUT" "doctor-test-value"
run_expect 0 python3 -c 'import json, sys; print(" ".join(r.get("label", "") for r in json.load(open(sys.argv[1]))["recipients"]))' "$W/two.b"
assert_eq "$(cat "$RUN_OUT")" "dkek.v2" "recipients after the rewrap"

say "a file that is not a bundle: said, and the rest still runs"
printf 'not a bundle\n' >"$W/junk.b"
run_expect 0 vc doctor --bundle "$W/junk.b"
assert_contains "$RUN_OUT" "bundle $W/junk.b: not checked"
echo "doctor_bundles: ok"
