#!/bin/bash
# Two writers on one key (docs/architecture.md "Concurrent key changes"):
# 20 rounds of two `key rotate` started together, then rounds of activate,
# retire and rotate racing each other. After every round: both commands
# succeeded (or the loser got the documented conflict), no version number
# appears twice, every key object on the token (pkcs11-tool's listing, not
# ours) belongs to a version the metadata names, and the active version
# still signs (verified by OpenSSL).
set -eu
. "$top_srcdir/tests/lib/common.sh"
need_cmd pkcs11-tool
need_cmd openssl
need_cmd python3
W=$PV_WORK
K=race
ROUNDS=${PV_RACE_ROUNDS:-20}
printf 'two writers, one key\n' >"$W/msg"

# together TAG CMD1 -- CMD2: start both vaultctl commands at once (released
# by one shared signal file), wait, exit codes in $W/TAG.1.rc and .2.rc.
together() {
	local tag=$1 a=() b=()
	shift
	while [ "$1" != -- ]; do
		a+=("$1")
		shift
	done
	shift
	b=("$@")
	rm -f "$W/go"
	(while [ ! -e "$W/go" ]; do :; done; rc=0; vc "${a[@]}" >"$W/$tag.1.out" 2>"$W/$tag.1.err" || rc=$?; echo $rc >"$W/$tag.1.rc") &
	(while [ ! -e "$W/go" ]; do :; done; rc=0; vc "${b[@]}" >"$W/$tag.2.out" 2>"$W/$tag.2.err" || rc=$?; echo $rc >"$W/$tag.2.rc") &
	sleep 0.05
	touch "$W/go"
	wait
}

rc_of() { cat "$W/$1.rc"; }

# check_key: the invariants after a round.
check_key() {
	local what=$1
	list_keys
	awk -v n=$K '$1 == n { print $3 }' "$KEYS_ROWS" | sort -n >"$W/versions"
	[ -s "$W/versions" ] || fail "$what: key $K has no versions"
	[ -z "$(uniq -d "$W/versions")" ] || fail "$what: version numbers appear twice: $(uniq -d "$W/versions" | tr '\n' ' ')"
	[ "$(awk -v n=$K '$1 == n && $4 == "active"' "$KEYS_ROWS" | wc -l)" = 1 ] ||
		fail "$what: $K does not have exactly one active version"
	# every private and public key object labelled race.vN is one of the
	# metadata's versions, once each
	p11_objects "$W/objs" --login
	for cls in private-key public-key; do
		p11_object_versions "$W/objs" "$K" "$cls" >"$W/$cls"
		cmp -s "$W/$cls" "$W/versions" || {
			diff "$W/versions" "$W/$cls" >&2 || true
			fail "$what: ${cls}s on the token are not exactly the versions in the metadata (orphans or ties)"
		}
	done
	# no change lock left behind
	[ "$(grep -c "^data|$K|" "$W/objs")" = 1 ] ||
		fail "$what: $K has leftover metadata copies or a change lock ($(grep -c "^data|$K|" "$W/objs") data objects)"
	run_expect 0 vc sign $K --in "$W/msg" --out "$W/sig.der"
	pub_pem $K "$W/pub.pem"
	ossl_verify_ecdsa sha256 "$W/pub.pem" "$W/msg" "$W/sig.der" || fail "$what: OpenSSL rejects $K's signature"
}

mkkey $K p256
check_key "after create"

say "$ROUNDS rounds of two key rotate at once"
for i in $(seq 1 "$ROUNDS"); do
	together rot$i key rotate $K -- key rotate $K
	[ "$(rc_of rot$i.1)" = 0 ] && [ "$(rc_of rot$i.2)" = 0 ] || {
		cat "$W/rot$i.1.err" "$W/rot$i.2.err" >&2
		fail "round $i: a concurrent rotate failed (exits $(rc_of rot$i.1), $(rc_of rot$i.2))"
	}
	check_key "rotate round $i"
done
list_keys
[ "$(awk -v n=$K '$1 == n' "$KEYS_ROWS" | wc -l)" = $((2 * ROUNDS + 1)) ] ||
	fail "$((2 * ROUNDS)) successful rotations did not make $((2 * ROUNDS)) versions (an update was lost)"

say "rounds of activate / retire / rotate racing each other"
for i in $(seq 1 10); do
	run_expect 0 vc key rotate $K --next
	list_keys
	nxt=$(awk -v n=$K '$1 == n && $4 == "next" { print $3 }' "$KEYS_ROWS")
	act=$(awk -v n=$K '$1 == n && $4 == "active" { print $3 }' "$KEYS_ROWS")
	# activate the next version while the other process retires the active
	# one: the retire wins only after the activation (else 7, "active")
	together ar$i key activate $K --version "$nxt" -- key retire $K --version "$act"
	[ "$(rc_of ar$i.1)" = 0 ] || fail "round $i: activate exited $(rc_of ar$i.1): $(cat "$W/ar$i.1.err")"
	case $(rc_of ar$i.2) in
	0) want_prev=retired ;;
	7) want_prev=verify-only ;;
	*) fail "round $i: retire exited $(rc_of ar$i.2): $(cat "$W/ar$i.2.err")" ;;
	esac
	check_key "activate/retire round $i"
	assert_eq "$(awk -v n=$K -v v="$nxt" '$1 == n && $3 == v { print $4 }' "$KEYS_ROWS")" active \
		"round $i: state of the activated version $nxt"
	assert_eq "$(awk -v n=$K -v v="$act" '$1 == n && $3 == v { print $4 }' "$KEYS_ROWS")" "$want_prev" \
		"round $i: state of the previous version $act (retire exited $(rc_of ar$i.2))"
	# a rotation and a retire of an old version at once: neither is lost
	together rr$i key rotate $K -- key retire $K --version "$act"
	[ "$(rc_of rr$i.1)" = 0 ] && [ "$(rc_of rr$i.2)" = 0 ] ||
		fail "round $i: rotate/retire exited $(rc_of rr$i.1), $(rc_of rr$i.2): $(cat "$W/rr$i.1.err" "$W/rr$i.2.err")"
	check_key "rotate/retire round $i"
	assert_eq "$(awk -v n=$K -v v="$act" '$1 == n && $3 == v { print $4 }' "$KEYS_ROWS")" retired \
		"round $i: the retire of $act was lost"
	assert_eq "$(awk -v n=$K -v v="$nxt" '$1 == n && $3 == v { print $4 }' "$KEYS_ROWS")" verify-only \
		"round $i: the rotation was lost ($nxt should be verify-only)"
done

say "a lock left by a crashed writer (older than 120 s) is broken by the next change"
printf 'feedfacefeedfacefeedfacefeedface %s' "$(($(date +%s) - 300))" >"$W/stale.lock"
p11tool_login --write-object "$W/stale.lock" --type data --label $K --application-label p11vault-lock --private \
	>"$W/p11.out" 2>&1 || fail "pkcs11-tool cannot write a lock object"
p11_objects "$W/objs" --login
[ "$(grep -c "^data|$K|" "$W/objs")" = 2 ] || fail "the stale lock object is not on the token"
start=$(date +%s)
run_expect 0 vc key rotate $K
[ $(($(date +%s) - start)) -lt 30 ] || fail "key rotate waited for a stale lock"
check_key "after breaking a stale lock"

say "two key create of one name at once: one key, one winner"
together cr key create twin --alg p256 --purpose sign -- key create twin --alg p256 --purpose sign
[ "$(cat "$W/cr.1.rc")$(cat "$W/cr.2.rc")" = 07 ] || [ "$(cat "$W/cr.1.rc")$(cat "$W/cr.2.rc")" = 70 ] ||
	fail "two creates of one name: exits $(cat "$W/cr.1.rc"), $(cat "$W/cr.2.rc") (want 0 and 7)"
p11_objects "$W/objs" --login
[ "$(grep -c '^private-key|twin\.v1|' "$W/objs")" = 1 ] || fail "two creates left $(grep -c '^private-key|twin\.v1|' "$W/objs") private keys"
assert_versions twin "1:active"

say "key repair on a token broken the old way (before the change lock)"
# What two racing rotations of earlier versions left: two metadata copies
# with one serial, each naming its own key pair as version 3 (both pairs
# labelled old.v3), the copy they both replaced, an orphaned pair no
# metadata names, and a change lock of a process that died. Made with
# pkcs11-tool alone, not through p11vault.
K=old
mkkey $K p256
run_expect 0 vc key rotate $K
for id in 0a03 0b03; do
	p11tool_login --keypairgen --key-type EC:prime256v1 --label $K.v3 --id $id >"$W/kp.out" 2>&1 ||
		fail "pkcs11-tool --keypairgen failed"
done
p11tool_login --keypairgen --key-type EC:prime256v1 --label $K.v9 --id 0c09 >"$W/kp.out" 2>&1 ||
	fail "pkcs11-tool --keypairgen failed"
p11tool_login --read-object --type data --label $K --application-label p11vault -o "$W/meta.json" \
	>"$W/p11.out" 2>&1 || fail "pkcs11-tool cannot read the metadata of $K"
python3 - "$W/meta.json" "$W" <<'PY' || fail "the metadata of old is not what this version writes"
import copy, json, sys
d = json.load(open(sys.argv[1]))
assert [v["version"] for v in d["versions"]] == [1, 2], d
for tag, vid in (("a", "0a03"), ("b", "0b03")):
    e = copy.deepcopy(d)
    e["serial"] = d["serial"] + 1
    v3 = copy.deepcopy(e["versions"][1])
    e["versions"][1]["state"] = "verify-only"
    v3.update(version=3, state="active", id=vid)
    e["versions"].append(v3)
    open("%s/meta.%s" % (sys.argv[2], tag), "w").write(json.dumps(e, separators=(",", ":")))
PY
for tag in a b; do
	p11tool_login --write-object "$W/meta.$tag" --type data --label $K --application-label p11vault --private \
		>"$W/p11.out" 2>&1 || fail "pkcs11-tool cannot write metadata copy $tag"
done
printf 'deadbeefdeadbeefdeadbeefdeadbeef 1000' >"$W/lock"
p11tool_login --write-object "$W/lock" --type data --label $K --application-label p11vault-lock --private \
	>"$W/p11.out" 2>&1 || fail "pkcs11-tool cannot write a lock object"
run_expect 6 vc sign $K --in "$W/msg" --out "$W/sig.der"
assert_contains "$RUN_ERR" "same serial" "a tie is not reported as one"

say "key repair without --yes reports and changes nothing (exit 6)"
p11_objects "$W/broken.objs" --login
run_expect 6 vc key repair
for kind in tie stale-copy orphan stale-lock; do
	assert_contains "$RUN_OUT" "$K: $kind:" "key repair does not report the $kind"
done
assert_contains "$RUN_OUT" "old.v9" "the orphan is not named"
grep -q "^race: \|^twin: " "$RUN_OUT" && fail "key repair reports healthy keys: $(cat "$RUN_OUT")"
p11_objects "$W/after-report.objs" --login
assert_same_file "$W/broken.objs" "$W/after-report.objs" "key repair without --yes changed the token"
run_expect 0 vc doctor
for kind in tie stale-copy orphan stale-lock; do
	assert_contains "$RUN_OUT" "$K: $kind:" "doctor does not report the $kind"
done
run_expect 6 vc --json key repair $K
json_valid "$RUN_OUT"
# stale lock, stale copy, tie, orphaned private and public key
assert_eq "$(json_get "$RUN_OUT" found)" 5 "problems found (--json)"

say "key repair --yes fixes it; the key is usable, nothing is orphaned"
run_expect 0 vc key repair $K --yes
run_expect 0 vc key repair
assert_contains "$RUN_OUT" "no problems found"
run_expect 0 vc doctor
assert_contains "$RUN_OUT" "key store: no ties"
check_key "after key repair"
assert_versions $K "1:verify-only 2:verify-only 3:active 4:verify-only"
! grep -q "|$K\.v9|" "$W/objs" || fail "the orphaned pair old.v9 is still on the token"
# both racing pairs are kept (the second is version 4 now, relabelled):
# activated, it signs too
pub_pem $K "$W/pub3.pem" 3
pub_pem $K "$W/pub4.pem" 4
! cmp -s "$W/pub3.pem" "$W/pub4.pem" || fail "versions 3 and 4 are one key pair"
grep -q "^private-key|$K\.v4|" "$W/objs" || fail "version 4's key pair is not labelled $K.v4"
run_expect 0 vc key activate $K --version 4
check_key "version 4 activated after key repair"
run_expect 0 vc key rotate $K
assert_versions $K "1:verify-only 2:verify-only 3:verify-only 4:verify-only 5:active"

say "a lock held by a live writer: the next change waits 60 s, then exit 7 (in the background)"
# A fresh lock (a writer that is still working) is never broken: the
# waiting change gives up with exit 7 and says why, and changes nothing.
mkkey held p256
printf 'cafebabecafebabecafebabecafebabe %s' "$(date +%s)" >"$W/held.lock"
p11tool_login --write-object "$W/held.lock" --type data --label held --application-label p11vault-lock --private \
	>"$W/p11.out" 2>&1 || fail "pkcs11-tool cannot write a lock object"
held_start=$(date +%s)
(
	rc=0
	vc key rotate held >"$W/held.out" 2>"$W/held.err" || rc=$?
	echo "$rc $(($(date +%s) - held_start))" >"$W/held.rc"
) &
held_pid=$!

say "key repair: versions whose key object is gone (missing)"
# Made with pkcs11-tool: the private key of a verify-only version deleted
# behind p11vault's back, later the active one's.
K=gone
mkkey $K p256
run_expect 0 vc key rotate $K
p11tool_login --delete-object --type privkey --label $K.v1 >"$W/p11.out" 2>&1 ||
	fail "pkcs11-tool cannot delete $K.v1's private key"
run_expect 6 vc key repair $K
assert_contains "$RUN_OUT" "$K: missing: version 1 (verify-only) has no private key object"
run_expect 0 vc doctor
assert_contains "$RUN_OUT" "$K: missing:" "doctor does not report the missing version"
run_expect 0 vc key repair $K --yes
assert_contains "$RUN_OUT" "dropped from the metadata"
assert_versions $K "2:active"
run_expect 0 vc key repair $K
check_key "after dropping the missing version"
p11tool_login --delete-object --type privkey --label $K.v2 >"$W/p11.out" 2>&1 ||
	fail "pkcs11-tool cannot delete $K.v2's private key"
run_expect 6 vc key repair $K --yes
assert_contains "$RUN_OUT" "$K: missing: version 2 (active)"
assert_contains "$RUN_ERR" "rotate it, then repair again"
assert_versions $K "2:active"
run_expect 0 vc key rotate $K
run_expect 0 vc key repair $K --yes
assert_versions $K "3:active"
run_expect 0 vc key repair $K
check_key "after a rotation and a repair of the missing active version"

wait "$held_pid"
read -r held_rc held_secs <"$W/held.rc"
assert_eq "$held_rc" 7 "key rotate against a live writer's lock (stderr: $(cat "$W/held.err"))"
assert_contains "$W/held.err" "being changed by another process"
[ "$held_secs" -ge 59 ] || fail "key rotate gave up after ${held_secs} s, before the documented 60 s"
assert_versions held "1:active"
echo "a change waiting on a live lock gave up after ${held_secs} s"
