#!/bin/bash
# `vaultctl doctor` on a token that lacks mechanisms: the fault shim hides
# them from C_GetMechanismList (PV_FAULT_HIDE_MECHS), and doctor must say in
# plain words which feature is lost, in text and in --json, and still exit 0.
set -eu
. "$top_srcdir/tests/lib/common.sh"
need_cmd python3
SHIM=$top_builddir/tests/faultmod/.libs/libpvfault.so
[ -f "$SHIM" ] || skip "fault-injection module $SHIM is not built"
REAL=$P11VAULT_MODULE

hidden() { env P11VAULT_MODULE="$SHIM" PV_FAULT_MODULE="$REAL" PV_FAULT_HIDE_MECHS="$1" "${@:2}"; }

say "a complete token: every feature available"
run_expect 0 vc doctor
assert_not_contains "$RUN_OUT" "MISSING"

say "no CKM_EDDSA (0x1057): Solana and EdDSA JWT signing reported unavailable"
run_expect 0 hidden 0x1057 "$VAULTCTL" doctor
assert_contains "$RUN_OUT" "MISSING  Ed25519 keys"
assert_contains "$RUN_OUT" "no CKM_EDDSA: Solana and EdDSA JWT signing unavailable on this token"
assert_contains "$RUN_OUT" "8 of 9 features available"

say "no CKM_AES_KEY_WRAP_PAD (0x210a) and no CKM_RSA_PKCS_PSS (0x0d): --json names both"
run_expect 0 hidden 0x210a,0x0d "$VAULTCTL" --json doctor
python3 - "$RUN_OUT" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
missing = {f["feature"]: f["missing"] for f in doc["features"] if not f["available"]}
assert len(missing) == 2, missing
kwp = [m for k, m in missing.items() if "aes-kwp" in k]
pss = [m for k, m in missing.items() if "PS256" in k]
assert kwp == [["CKM_AES_KEY_WRAP_PAD"]], missing
assert pss == [["CKM_RSA_PKCS_PSS"]], missing
for f in doc["features"]:
    assert f["mechanisms"], f  # every feature names what it needs
    if not f["available"]:
        assert "unavailable" in f["consequence"], f
PY

say "a missing key-pair mechanism whose value is 0 (CKM_RSA_PKCS_KEY_PAIR_GEN) is still seen"
run_expect 0 hidden 0x0 "$VAULTCTL" doctor
assert_contains "$RUN_OUT" "no CKM_RSA_PKCS_KEY_PAIR_GEN: RSA keys and RS256 JWTs unavailable on this token"
echo "doctor_missing: ok"
