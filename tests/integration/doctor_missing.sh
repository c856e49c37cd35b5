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
assert_contains "$RUN_OUT" "9 of 10 features available"

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
say "no CKM_RSA_PKCS_OAEP (0x09): rsa-oaep-sha256 recipients through the raw RSA fallback, said so"
run_expect 0 hidden 0x9 "$VAULTCTL" doctor
assert_contains "$RUN_OUT" "fallback bundle rsa-oaep-sha256 recipient"
assert_contains "$RUN_OUT" "no CKM_RSA_PKCS_OAEP: falls back to C_Decrypt with raw RSA"
assert_contains "$RUN_OUT" "10 of 10 features available (1 through a fallback)"
run_expect 0 hidden 0x9 "$VAULTCTL" --json doctor
python3 - "$RUN_OUT" <<'PY'
import json, sys
f = [f for f in json.load(open(sys.argv[1]))["features"] if "rsa-oaep-sha256" in f["feature"]]
assert len(f) == 1, f
f = f[0]
assert f["available"] and f["using_fallback"], f
assert f["missing"] == ["CKM_RSA_PKCS_OAEP"] and f["fallback"] == ["CKM_RSA_X_509"], f
PY

say "no CKM_RSA_PKCS_OAEP and no CKM_RSA_X_509 (0x03): no rsa-oaep-sha256 recipients"
run_expect 0 hidden 0x9,0x3 "$VAULTCTL" doctor
assert_contains "$RUN_OUT" "MISSING  bundle rsa-oaep-sha256 recipient"
assert_contains "$RUN_OUT" "no CKM_RSA_PKCS_OAEP, CKM_RSA_X_509: rsa-oaep-sha256 bundle recipients unavailable on this token"

say "no CKM_AES_GCM (0x1087): bundle entries cannot be decrypted on the token"
run_expect 0 hidden 0x1087 "$VAULTCTL" doctor
assert_contains "$RUN_OUT" "MISSING  bundle entries (token-side decryption)"
assert_contains "$RUN_OUT" "9 of 10 features available"
echo "doctor_missing: ok"
