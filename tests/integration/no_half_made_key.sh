#!/bin/bash
# No failure leaves a half-made key on the token, and a token that does not
# honour key protection is refused (docs/cli.md: exit 6, the key is destroyed
# again). Faults come from the PKCS#11 shim (tests/faultmod, libpvfault.so):
# PV_FAULT_SPEC fails calls, PV_FAULT_ATTR makes C_GetAttributeValue report
# other CK_BBOOL values than the token holds (a token that silently ignored
# the protection template).
#
# Every failure case checks: the exit code, one error line, and that the
# token holds exactly the objects it held before (pkcs11-tool on the real
# module, logged in) and `key list --json` is unchanged.
set -eu
. "$top_srcdir/tests/lib/common.sh"
need_cmd pkcs11-tool
need_cmd openssl
SHIM=$top_builddir/tests/faultmod/.libs/libpvfault.so
[ -f "$SHIM" ] || skip "fault-injection module $SHIM is not built"
REAL=$P11VAULT_MODULE
W=$PV_WORK
printf 'no half-made key\n' >"$W/msg"

# through_shim SPEC ATTRS CMD...: run CMD with P11VAULT_MODULE on the shim,
# tracing every PKCS#11 call to stderr (split off by split_trace).
through_shim() {
	local spec=$1 attrs=$2
	shift 2
	env P11VAULT_MODULE="$SHIM" PV_FAULT_MODULE="$REAL" PV_FAULT_SPEC="$spec" PV_FAULT_ATTR="$attrs" \
		PV_FAULT_TRACE=1 "$@"
}

# split_trace: $RUN_ERR keeps vaultctl's own lines, $TRACE the shim's.
split_trace() {
	TRACE=$RUN_ERR.trace
	grep '^pvfault: ' "$RUN_ERR" >"$TRACE" || true
	grep -v '^pvfault: ' "$RUN_ERR" >"$RUN_ERR.own" || true
	mv "$RUN_ERR.own" "$RUN_ERR"
}

# traced FN RV: how many calls of FN the shim saw answer RV ("0x0" = CKR_OK).
traced() {
	grep -c "^pvfault: $1(session [0-9]*) = $2\( (injected)\)\?\$" "$TRACE" || true
}

# snapshot TAG: the token's objects (class|label|id|access, real module,
# logged in) and key list --json (canonical JSON).
snapshot() {
	p11_objects "$W/$1.objs" --login
	run_expect 0 vc key list --json
	python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])), sort_keys=True))' \
		"$RUN_OUT" >"$W/$1.keys" || fail "key list --json is not JSON"
}

# same_as TAG: 0 when the token looks exactly as at snapshot TAG.
same_as() {
	snapshot now
	cmp -s "$W/$1.objs" "$W/now.objs" && cmp -s "$W/$1.keys" "$W/now.keys"
}

assert_unchanged() { # TAG WHAT
	same_as "$1" || {
		diff "$W/$1.objs" "$W/now.objs" >&2 || true
		diff "$W/$1.keys" "$W/now.keys" >&2 || true
		fail "$2 changed the token"
	}
}

# key objects (private, public, secret) labelled LABEL in the last snapshot
key_objects() { awk -F'|' -v l="$1" '$1 ~ /key$/ && $2 == l' "$W/now.objs"; }

say "self-check: the before/after comparison sees a leftover"
snapshot empty
[ -s "$W/empty.keys" ] || fail "empty snapshot of key list"
p11tool_login --keypairgen --key-type EC:prime256v1 --label stray --id 5a5a >"$W/stray.out" 2>&1 ||
	fail "pkcs11-tool --keypairgen failed"
! same_as empty || fail "a stray key pair made by pkcs11-tool was not noticed"
[ "$(key_objects stray | wc -l)" = 2 ] || fail "key_objects does not see the stray pair"
p11tool_login --delete-object --type privkey --id 5a5a >>"$W/stray.out" 2>&1 || fail "cannot delete stray privkey"
! same_as empty || fail "a stray public key alone was not noticed"
p11tool_login --delete-object --type pubkey --id 5a5a >>"$W/stray.out" 2>&1 || fail "cannot delete stray pubkey"
same_as empty || fail "the token differs after removing the stray pair"
run_expect 0 vc key create probe --alg p256 --purpose sign
! same_as empty || fail "a new key was not noticed"
! cmp -s "$W/empty.keys" "$W/now.keys" || fail "key list --json did not change with a new key"

say "self-check: the shim rewrites attributes (seen through pkcs11-tool) and rejects a bad override"
run_expect 0 vc key create seen --alg p256 --purpose sign
SOFTHSM_MODULE=$SHIM PV_FAULT_MODULE=$REAL PV_FAULT_ATTR=CKA_SENSITIVE=FALSE,CKA_NEVER_EXTRACTABLE=FALSE \
	p11_objects "$W/shim.objs" --login
grep -q '^private-key|seen\.v1|' "$W/shim.objs" || fail "no seen.v1 private key through the shim"
grep '^private-key|seen\.v1|' "$W/shim.objs" | grep -q '|always sensitive, local$' ||
	fail "the shim did not rewrite CKA_SENSITIVE/NEVER_EXTRACTABLE: $(grep '^private-key|seen' "$W/shim.objs")"
p11_objects "$W/real.objs" --login
grep '^private-key|seen\.v1|' "$W/real.objs" | grep -q '|sensitive, always sensitive, never extractable' ||
	fail "the real key is not protected: $(grep '^private-key|seen' "$W/real.objs")"
run_expect 3 through_shim "" CKA_SENSITIVE=maybe "$VAULTCTL" key list
run_expect 3 through_shim "" CKA_MODULUS=TRUE "$VAULTCTL" key list
# an override to the value the token holds anyway is harmless
run_expect 0 through_shim "" CKA_SENSITIVE=TRUE,CKA_EXTRACTABLE=FALSE "$VAULTCTL" key create ok --alg p256 --purpose sign
run_expect 0 vc sign ok --in "$W/msg" --out "$W/ok.sig"

say "key create on a token that drops the protection: exit 6, nothing left"
for alg in p256 aes256; do
	for attr in CKA_SENSITIVE=FALSE CKA_EXTRACTABLE=TRUE CKA_NEVER_EXTRACTABLE=FALSE; do
		snapshot before
		run_expect 6 through_shim "" "$attr" "$VAULTCTL" key create bad --alg $alg --purpose "$(purpose_for $alg)"
		split_trace
		assert_one_line_error "$RUN_ERR"
		assert_contains "$RUN_ERR" "${attr%=*}" "the error does not name ${attr%=*}"
		# the key was made and then removed: not refused before generation
		gen=C_GenerateKeyPair nobj=2
		[ $alg != aes256 ] || gen=C_GenerateKey nobj=1
		assert_eq "$(traced $gen 0x0)" 1 "$alg/$attr: successful $gen calls"
		# +1: the key's change lock (docs/architecture.md), taken and dropped
		assert_eq "$(traced C_DestroyObject 0x0)" $((nobj + 1)) "$alg/$attr: objects destroyed"
		assert_eq "$(traced C_CreateObject '0x[0-9a-f]*')" 1 "$alg/$attr: writes (the change lock only, no metadata)"
		assert_unchanged before "key create --alg $alg with $attr"
		[ -z "$(key_objects bad.v1)" ] || fail "bad.v1 left on the token"
	done
done

say "key create whose metadata write fails: nothing left"
for alg in p256 aes256; do
	snapshot before
	# CKR_DEVICE_MEMORY is PV_ERR_NOMEM: exit 1 (internal)
	# the second C_CreateObject (the first is the key's change lock)
	run_expect 1 through_shim C_CreateObject:CKR_DEVICE_MEMORY:1:1 "" "$VAULTCTL" key create half --alg $alg --purpose "$(purpose_for $alg)"
	split_trace
	assert_one_line_error "$RUN_ERR"
	nobj=2
	[ $alg != aes256 ] || nobj=1
	assert_eq "$(traced C_CreateObject '0x31 (injected)')" 1 "$alg: injected metadata write failures"
	assert_eq "$(traced C_DestroyObject 0x0)" $((nobj + 1)) "$alg: objects (and the lock) destroyed after the failed write"
	assert_unchanged before "key create --alg $alg with a failed metadata write"
	[ -z "$(key_objects half.v1)" ] || fail "half.v1 left on the token"
done

say "key create whose key generation fails: nothing left"
for alg in p256 aes256; do
	gen=C_GenerateKeyPair
	[ $alg != aes256 ] || gen=C_GenerateKey
	snapshot before
	run_expect 1 through_shim $gen:CKR_DEVICE_MEMORY:1 "" "$VAULTCTL" key create nogen --alg $alg --purpose "$(purpose_for $alg)"
	split_trace
	assert_one_line_error "$RUN_ERR"
	assert_eq "$(traced $gen '0x31 (injected)')" 1 "$alg: injected $gen failures"
	assert_unchanged before "key create --alg $alg with a failed $gen"
done

say "key rotate whose metadata write fails: old version stays active and signs"
run_expect 0 vc key create rot --alg p256 --purpose sign
pub_pem rot "$W/rot.pem"
snapshot before
run_expect 1 through_shim C_CreateObject:CKR_DEVICE_MEMORY:1:1 "" "$VAULTCTL" key rotate rot
split_trace
assert_one_line_error "$RUN_ERR"
assert_eq "$(traced C_GenerateKeyPair 0x0)" 1 "rotate: new pair generated"
assert_eq "$(traced C_CreateObject '0x31 (injected)')" 1 "rotate: injected metadata write failures"
assert_eq "$(traced C_DestroyObject 0x0)" 3 "rotate: new pair (and the lock) destroyed after the failed write"
assert_unchanged before "key rotate with a failed metadata write"
[ -z "$(key_objects rot.v2)" ] || fail "rot.v2 left on the token"
assert_versions rot "1:active"
run_expect 0 vc sign rot --in "$W/msg" --out "$W/rot1.sig"
ossl_verify_ecdsa sha256 "$W/rot.pem" "$W/msg" "$W/rot1.sig" || fail "the old version does not sign after the failed rotation"
pub_pem rot "$W/rot.after.pem"
assert_same_file "$W/rot.pem" "$W/rot.after.pem" "the active public key changed"

say "key rotate on a token that drops the protection: exit 6, old version stays"
snapshot before
run_expect 6 through_shim "" CKA_SENSITIVE=FALSE "$VAULTCTL" key rotate rot
split_trace
assert_one_line_error "$RUN_ERR"
assert_eq "$(traced C_GenerateKeyPair 0x0)" 1 "rotate: new pair generated"
assert_eq "$(traced C_DestroyObject 0x0)" 3 "rotate: new pair (and the lock) destroyed"
assert_unchanged before "key rotate with CKA_SENSITIVE=FALSE"
assert_versions rot "1:active"
run_expect 0 vc sign rot --in "$W/msg" --out "$W/rot2.sig"
ossl_verify_ecdsa sha256 "$W/rot.pem" "$W/msg" "$W/rot2.sig" || fail "the old version does not sign after the refused rotation"
# and the same key rotates fine once the token behaves
run_expect 0 vc key rotate rot
assert_versions rot "1:verify-only 2:active"

say "key adopt of an extractable key: exit 6, no metadata"
p11tool_login --keypairgen --key-type EC:prime256v1 --label ext --id 0a0b --extractable >"$W/ext.out" 2>&1 ||
	fail "pkcs11-tool cannot make an extractable key"
snapshot before
grep -q '^private-key|ext|0a0b|.*extractable' "$W/before.objs" || fail "pkcs11-tool's key is not extractable"
run_expect 6 vc key adopt 'pkcs11:object=ext;type=private' --name ext --purpose sign
assert_one_line_error "$RUN_ERR"
assert_unchanged before "key adopt of an extractable key"
run_expect 5 vc key show ext

say "key adopt on a token that reports the key extractable: exit 6; adopts when it does not"
p11tool_login --keypairgen --key-type EC:prime256v1 --label prot --id 0c0d >"$W/prot.out" 2>&1 ||
	fail "pkcs11-tool cannot make a key"
for attr in CKA_EXTRACTABLE=TRUE CKA_SENSITIVE=FALSE; do
	snapshot before
	run_expect 6 through_shim "" $attr "$VAULTCTL" key adopt 'pkcs11:object=prot;type=private' --name prot --purpose sign
	split_trace
	assert_one_line_error "$RUN_ERR"
	assert_eq "$(traced C_CreateObject '0x[0-9a-f]*')" 1 "adopt with $attr: writes (the change lock only, no metadata)"
	assert_unchanged before "key adopt with $attr"
done
run_expect 0 vc key adopt 'pkcs11:object=prot;type=private' --name prot --purpose sign
assert_versions prot "1:active"

for f in "$PV_OUT"/*; do
	assert_no_pin_in "$f"
done
echo "no_half_made_key: ok"
