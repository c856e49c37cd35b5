#!/bin/bash
# vaultd replicas in development mode on one token (issue 13 item 3;
# docs/vaultd.8 "DEVELOPMENT MODE"): REPLICAS (default 3) `vaultd --dev`,
# each with its own --dev-dir, started at the same moment on a fresh token.
# Every one comes up; the key dev mode makes at start (the audit checkpoint
# key audit-hmac) exists once, with exactly one version numbered 1;
# `vaultctl key repair` (dry run) finds nothing; no key object on the token
# (pkcs11-tool's listing, not ours) is an orphan or a tie, and each key has
# one metadata object. Every replica signs (Ed25519, verified by OpenSSL).
# Then two replicas serve signatures while two vaultctl processes rotate
# the signing key (ROTATIONS in all, default 10): every version number is
# used once, the token objects are exactly the metadata's versions, and
# every signature verifies with the version its reply names.
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/vaultd.sh"
vd_need
need_cmd pkcs11-tool
W=$PV_WORK
REPLICAS=${PV_DEV_REPLICAS:-3}
ROTATIONS=${PV_ROTATIONS:-10}
pids=()

stop_all() {
	local p
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	pids=()
}
trap 'stop_all; vd_cleanup' EXIT

# health DIR: GET /v1/health on that replica's socket answers 200
health() {
	[ "$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$1/vaultd.sock" http://vaultd/v1/health 2>/dev/null)" = 200 ]
}

say "$REPLICAS vaultd --dev started at the same moment on a fresh token"
list_keys
[ ! -s "$KEYS_ROWS" ] || fail "the token is not fresh: $(cat "$KEYS_ROWS")"
rm -f "$W/go"
for ((i = 1; i <= REPLICAS; i++)); do
	mkdir -p "$W/d$i"
	(
		while [ ! -e "$W/go" ]; do :; done
		exec "$VAULTD" --dev --dev-dir "$W/d$i" >"$PV_OUT/replica$i.log" 2>&1 </dev/null
	) &
	pids+=($!)
done
sleep 0.2
touch "$W/go"
for ((i = 1; i <= REPLICAS; i++)); do
	for ((t = 0; t < 300; t++)); do
		health "$W/d$i" && break
		kill -0 "${pids[$((i - 1))]}" 2>/dev/null || {
			cat "$PV_OUT/replica$i.log" >&2
			fail "replica $i exited at start-up (log above)"
		}
		sleep 0.1
	done
	health "$W/d$i" || {
		cat "$PV_OUT/replica$i.log" >&2
		fail "replica $i did not come up in 30 s"
	}
	tok=$(sed -n 's/^vaultd: dev admin token: //p' "$PV_OUT/replica$i.log")
	[ -n "$tok" ] || fail "replica $i printed no admin token"
	vd_auth_header "$W/auth$i" "$tok"
done
created=$(grep -l "created the audit checkpoint key" "$PV_OUT"/replica*.log | wc -l)
echo "replicas that created audit-hmac: $created (the others found it)"
[ "$created" -le 1 ] || fail "$created replicas say they created the audit key"

# check_token WHAT: for every key, version numbers unique; every private,
# public and secret key object labelled NAME.vN is one of the metadata's
# versions, once; one metadata object per key (no stale copy, no lock left);
# key repair (dry run) finds nothing.
check_token() {
	local what=$1 name
	list_keys
	p11_objects "$W/objs" --login
	awk '{ print $1 }' "$KEYS_ROWS" | sort -u >"$W/names"
	while read -r name; do
		awk -v n="$name" '$1 == n { print $3 }' "$KEYS_ROWS" | sort -n >"$W/versions"
		[ -z "$(uniq -d "$W/versions")" ] || fail "$what: $name has version numbers twice: $(uniq -d "$W/versions" | tr '\n' ' ')"
		[ "$(awk -v n="$name" '$1 == n && $4 == "active"' "$KEYS_ROWS" | wc -l)" = 1 ] ||
			fail "$what: $name does not have exactly one active version"
		for cls in private-key public-key secret-key; do
			p11_object_versions "$W/objs" "$name" "$cls" >"$W/$cls"
			[ ! -s "$W/$cls" ] || cmp -s "$W/$cls" "$W/versions" || {
				diff "$W/versions" "$W/$cls" >&2 || true
				fail "$what: the ${cls}s of $name are not exactly its versions (orphans or ties)"
			}
		done
		[ "$(grep -c "^data|$name|" "$W/objs")" = 1 ] ||
			fail "$what: $name has $(grep -c "^data|$name|" "$W/objs") data objects (stale copies or a lock left)"
	done <"$W/names"
	# no key object outside the keys' versions (an orphan of a key whose
	# metadata was never written)
	awk -F'|' '($1 == "private-key" || $1 == "secret-key") && $2 ~ /\.v[0-9]+$/ { sub(/\.v[0-9]+$/, "", $2); print $2 }' \
		"$W/objs" | sort -u >"$W/objnames"
	awk '{ print $1 }' "$KEYS_ROWS" | sort -u >"$W/keynames"
	comm -23 "$W/objnames" "$W/keynames" >"$W/strays"
	[ ! -s "$W/strays" ] || fail "$what: key objects of no key: $(tr '\n' ' ' <"$W/strays")"
	run_expect 0 vc key repair
}

say "after the start: audit-hmac once, version 1, nothing to repair"
assert_versions audit-hmac "1:active"
check_token "after $REPLICAS concurrent starts"
p11_objects "$W/objs" --login
[ "$(grep -c '^secret-key|audit-hmac\.v' "$W/objs")" = 1 ] ||
	fail "$(grep -c '^secret-key|audit-hmac\.v' "$W/objs") audit-hmac key objects on the token (want 1)"

say "every replica signs"
run_expect 0 vc key create dv-sign --alg ed25519 --purpose sign
pub_der dv-sign "$W/dv-sign.v1.der" 1
printf 'replicas on one token\n' >"$W/msg"
MSG_B64=$(base64 -w0 "$W/msg")
for ((i = 1; i <= REPLICAS; i++)); do
	curl -s -o "$W/r$i.json" -w '%{http_code}' --unix-socket "$W/d$i/vaultd.sock" -H @"$W/auth$i" \
		-H 'Content-Type: application/json' --data-binary "{\"input_b64\":\"$MSG_B64\"}" \
		http://vaultd/v1/keys/dv-sign/sign >"$W/r$i.status" || fail "replica $i: curl failed"
	[ "$(cat "$W/r$i.status")" = 200 ] || fail "replica $i: sign status $(cat "$W/r$i.status"): $(cat "$W/r$i.json")"
	assert_eq "$(json_get "$W/r$i.json" version)" 1 "replica $i: version"
	json_get "$W/r$i.json" signature_b64 | base64 -d >"$W/r$i.sig"
	openssl pkeyutl -verify -pubin -inkey "$W/dv-sign.v1.der" -keyform DER -rawin -in "$W/msg" \
		-sigfile "$W/r$i.sig" >/dev/null || fail "replica $i: OpenSSL rejects the signature"
done

say "two replicas sign while two vaultctl processes rotate dv-sign ($ROTATIONS rotations)"
cat >"$W/client.sh" <<'EOF'
#!/bin/bash
# client.sh SOCK AUTH MSG_B64 OUT STOP: sign until STOP exists, "status body" lines
set -u
while [ ! -e "$5" ]; do
	b=$(curl -s -w ' %{http_code}' --unix-socket "$1" -H @"$2" -H 'Content-Type: application/json' \
		--data-binary "{\"input_b64\":\"$3\"}" http://vaultd/v1/keys/dv-sign/sign) || b='curl-failed 000'
	printf '%s %s\n' "${b##* }" "${b% *}" >>"$4"
	sleep 0.03 # under the dev client's rate limit (50/s) on a fast machine
done
EOF
rm -f "$W/stop"
cl=()
for i in 1 2; do
	bash "$W/client.sh" "$W/d$i/vaultd.sock" "$W/auth$i" "$MSG_B64" "$W/sigs.$i" "$W/stop" &
	cl+=($!)
done
rot=()
for j in 1 2; do
	(
		for ((r = 0; r < ROTATIONS / 2; r++)); do
			vc key rotate dv-sign >>"$W/rotate.$j.out" 2>&1 || {
				echo "rotate failed" >>"$W/rotate.$j.out"
				exit 1
			}
		done
	) &
	rot+=($!)
done
rfail=0
for p in "${rot[@]}"; do
	wait "$p" || rfail=1
done
[ "$rfail" = 0 ] || {
	cat "$W"/rotate.*.out >&2
	fail "a vaultctl key rotate failed"
}
sleep 6 # the replicas' metadata caches (5 s) see the last version
touch "$W/stop"
for p in "${cl[@]}"; do
	wait "$p" || true
done
check_token "after $ROTATIONS rotations with two replicas serving"
assert_versions dv-sign "$(
	for ((v = 1; v <= ROTATIONS; v++)); do printf '%s:verify-only ' $v; done
	printf '%s:active' $((ROTATIONS + 1))
)"
for ((v = 1; v <= ROTATIONS + 1; v++)); do
	pub_der dv-sign "$W/dv-sign.v$v.der" $v
done
cat "$W"/sigs.* >"$PV_OUT/signatures"
python3 - "$PV_OUT/signatures" "$W" <<'EOF' >"$W/summary" || {
import base64, json, os, subprocess, sys
w = sys.argv[2]
status, versions, bad = {}, set(), 0
for line in open(sys.argv[1]):
    st, _, body = line.rstrip("\n").partition(" ")
    status[st] = status.get(st, 0) + 1
    if st == "429":  # the dev client's rate limit: not a failure of the replicas
        continue
    if st != "200":
        print("status %s: %s" % (st, body[:200]), file=sys.stderr)
        bad += 1
        continue
    b = json.loads(body)
    v = b["version"]
    open(w + "/s", "wb").write(base64.b64decode(b["signature_b64"]))
    d = "%s/dv-sign.v%d.der" % (w, v)
    if not os.path.exists(d) or subprocess.run(
            ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", d, "-keyform", "DER", "-rawin",
             "-in", w + "/msg", "-sigfile", w + "/s"], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL).returncode != 0:
        print("version %d: signature does not verify" % v, file=sys.stderr)
        bad += 1
        continue
    versions.add(v)
print("statuses %s; versions that signed: %s; bad: %d" % (
    " ".join("%s:%d" % kv for kv in sorted(status.items())), ",".join(map(str, sorted(versions))), bad))
sys.exit(1 if bad else 0)
EOF
	cat "$W/summary"
	fail "replica signatures during the rotations (above)"
}
cat "$W/summary"
cp "$W/summary" "$PV_OUT/summary"
stop_all
