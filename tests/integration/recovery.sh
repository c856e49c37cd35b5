#!/bin/bash
# Token-layer recovery, through the fault-injection PKCS#11 shim
# (tests/faultmod, libpvfault.so): it forwards to the real module named by
# PV_FAULT_MODULE and fails calls as PV_FAULT_SPEC says
# ("C_Sign:CKR_DEVICE_REMOVED:N" = the next N C_Sign calls fail, "*" = all).
# A fault within the retry bound is invisible; one beyond it is exit 3 and
# leaves the key usable.
set -eu
. "$top_srcdir/tests/lib/common.sh"
need_cmd openssl
SHIM=$top_builddir/tests/faultmod/.libs/libpvfault.so
[ -f "$SHIM" ] || skip "fault-injection module $SHIM is not built"
REAL=$P11VAULT_MODULE
W=$PV_WORK
printf 'recovery message\n' >"$W/msg"

run_expect 0 vc key create rec --alg p256 --purpose sign
pub_pem rec "$W/rec.pem"
run_expect 0 vc key create rec-ed --alg ed25519 --purpose sign
pub_pem rec-ed "$W/rec-ed.pem"

# with_fault SPEC CMD...: run vaultctl through the shim.
with_fault() {
	local spec=$1
	shift
	env P11VAULT_MODULE="$SHIM" PV_FAULT_MODULE="$REAL" PV_FAULT_SPEC="$spec" "$@"
}

say "the shim with no faults is transparent"
run_expect 0 with_fault "" "$VAULTCTL" sign rec --in "$W/msg" --out "$W/s0"
ossl_verify_ecdsa sha256 "$W/rec.pem" "$W/msg" "$W/s0" || fail "signature through the idle shim"

for spec in C_Sign:CKR_DEVICE_REMOVED:1 C_Sign:CKR_SESSION_HANDLE_INVALID:1 \
	C_Sign:CKR_SESSION_CLOSED:2 C_Sign:CKR_USER_NOT_LOGGED_IN:1 C_SignInit:CKR_OBJECT_HANDLE_INVALID:1 \
	C_Sign:CKR_TOKEN_NOT_PRESENT:1; do
	say "recovers from $spec"
	rm -f "$W/s1"
	run_expect 0 with_fault "$spec" "$VAULTCTL" sign rec --in "$W/msg" --out "$W/s1"
	ossl_verify_ecdsa sha256 "$W/rec.pem" "$W/msg" "$W/s1" || fail "signature after recovering from $spec"
done
say "recovery with Ed25519 too"
run_expect 0 with_fault C_Sign:CKR_DEVICE_REMOVED:1 "$VAULTCTL" sign rec-ed --in "$W/msg" --out "$W/s2"
ossl_verify_ed25519 "$W/rec-ed.pem" "$W/msg" "$W/s2" || fail "Ed25519 signature after recovery"

say "a fault beyond the retry bound: exit 3, one-line error, no signature"
rm -f "$W/s3"
run_expect 3 with_fault "C_Sign:CKR_DEVICE_REMOVED:*" "$VAULTCTL" sign rec --in "$W/msg" --out "$W/s3"
assert_one_line_error "$RUN_ERR"
[ ! -s "$W/s3" ] || fail "a failed sign left a signature file"

say "a failed rotation leaves the previous key usable"
run_expect 3 with_fault "C_GenerateKeyPair:CKR_DEVICE_REMOVED:*" "$VAULTCTL" key rotate rec
assert_versions rec "1:active"
run_expect 0 vc sign rec --in "$W/msg" --out "$W/s4"
ossl_verify_ecdsa sha256 "$W/rec.pem" "$W/msg" "$W/s4" || fail "sign after the failed rotation"
run_expect 3 with_fault "C_GenerateKeyPair:CKR_DEVICE_REMOVED:*" "$VAULTCTL" key create rec-new --alg p256 --purpose sign
assert_versions rec-new ""

for f in "$PV_OUT"/*; do
	assert_no_pin_in "$f"
done
echo "recovery: ok"
