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
		awk -F'|' -v c=$cls -v n="$K" 'index($2, n ".v") == 1 && $1 == c { sub(/^.*\.v/, "", $2); print $2 }' \
			"$W/objs" | sort -n >"$W/$cls"
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
		fail "round $i: rotate/retire exited $(rc_of rr$i.1), $(rc_of rr$i.2)"
	check_key "rotate/retire round $i"
	assert_eq "$(awk -v n=$K -v v="$act" '$1 == n && $3 == v { print $4 }' "$KEYS_ROWS")" retired \
		"round $i: the retire of $act was lost"
	assert_eq "$(awk -v n=$K -v v="$nxt" '$1 == n && $3 == v { print $4 }' "$KEYS_ROWS")" verify-only \
		"round $i: the rotation was lost ($nxt should be verify-only)"
done

say "two key create of one name at once: one key, one winner"
together cr key create twin --alg p256 --purpose sign -- key create twin --alg p256 --purpose sign
[ "$(cat "$W/cr.1.rc")$(cat "$W/cr.2.rc")" = 07 ] || [ "$(cat "$W/cr.1.rc")$(cat "$W/cr.2.rc")" = 70 ] ||
	fail "two creates of one name: exits $(cat "$W/cr.1.rc"), $(cat "$W/cr.2.rc") (want 0 and 7)"
p11_objects "$W/objs" --login
[ "$(grep -c '^private-key|twin\.v1|' "$W/objs")" = 1 ] || fail "two creates left $(grep -c '^private-key|twin\.v1|' "$W/objs") private keys"
assert_versions twin "1:active"
