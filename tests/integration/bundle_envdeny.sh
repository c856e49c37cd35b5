#!/bin/bash
# Names that change how programs run (docs/bundle-format.md §10): a bundle
# env entry named BASH_ENV, LD_PRELOAD, NODE_OPTIONS or PATH is refused with
# exit 9 (one line naming it and the --allow-env that would allow it) by
# bundle seal and bundle set (no bundle written or changed), by exec (the
# command does not run: a marker file it would make is not made) and by
# unwrap --format env|dotenv (no output); --format json, --out-dir, file
# entries and exec --only of other names are unaffected; --allow-env NAME
# (exact names) allows it, and a value like $(touch FILE) is then still only
# a value that the program gets (printenv shows it, no file appears). vaultd
# refuses such a bundle entry or secrets.environment name at start and at
# reload unless secrets.allow_env lists it.
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/bundle.sh"
. "$top_srcdir/tests/lib/vaultd.sh"
vd_need
W=$PV_WORK

run_expect 0 vc key create kek --alg aes256 --purpose wrap
printf 'APP_OK=ok-value\n' >"$W/ok.env"
run_expect 0 vc bundle seal --recipient kek --in "$W/ok.env" --out "$W/set.b"

# refused NAME [VERB]: the last command's stderr is the one-line refusal of NAME.
refused() {
	assert_one_line_error "$RUN_ERR"
	assert_contains "$RUN_ERR" "$1 changes how programs run"
	assert_contains "$RUN_ERR" "--allow-env $1 to ${2:-deliver} it anyway"
}

value_for() {
	case $1 in
	BASH_ENV) printf '%s' "\$(touch $W/pwned-bash-env)" ;;
	LD_PRELOAD) printf '%s' "$W/no-such-preload.so" ;;
	NODE_OPTIONS) printf '%s' "--require=$W/no-such-module.js" ;;
	PATH) printf '%s' "$W/evil-bin:/usr/bin:/bin" ;;
	esac
}

for NAME in BASH_ENV LD_PRELOAD NODE_OPTIONS PATH; do
	V=$(value_for "$NAME")
	say "$NAME: refused by bundle seal (exit 9, nothing written)"
	printf 'APP_OK=ok-value\n%s=%s\n' "$NAME" "$V" >"$W/in.env"
	run_expect 9 vc bundle seal --recipient kek --in "$W/in.env" --out "$W/$NAME.b"
	refused "$NAME" seal
	[ ! -e "$W/$NAME.b" ] || fail "bundle seal wrote a bundle holding $NAME"
	# allowing another name does not allow this one; patterns are refused
	run_expect 9 vc bundle seal --recipient kek --in "$W/in.env" --out "$W/$NAME.b" --allow-env OTHER_NAME
	[ ! -e "$W/$NAME.b" ] || fail "bundle seal wrote a bundle holding $NAME"
	run_expect 2 vc bundle seal --recipient kek --in "$W/in.env" --out "$W/$NAME.b" --allow-env "${NAME:0:2}*"

	say "$NAME: sealed with --allow-env $NAME (a warning names it)"
	run_expect 0 vc bundle seal --recipient kek --in "$W/in.env" --out "$W/$NAME.b" --allow-env "$NAME"
	assert_contains "$RUN_ERR" "$NAME changes how programs run; allowed by --allow-env $NAME"
	B=$W/$NAME.b

	say "$NAME: exec refuses before anything runs"
	rm -f "$W/ran"
	run_expect 9 vc exec "$B" --override -- /bin/sh -c ': >"$1"' sh "$W/ran"
	refused "$NAME"
	[ ! -e "$W/ran" ] || fail "exec ran the command although the bundle holds $NAME"
	run_expect 9 vc exec "$B" --pristine --files-dir "$W" -- /bin/sh -c ': >"$1"' sh "$W/ran"
	[ ! -e "$W/ran" ] || fail "exec --pristine ran the command although the bundle holds $NAME"
	# already set in the environment (the bundle's value would be kept out): still refused
	run_expect 9 env "$NAME=$V" "$VAULTCTL" exec "$B" -- /bin/sh -c ': >"$1"' sh "$W/ran"
	[ ! -e "$W/ran" ] || fail "exec ran the command (the environment already had $NAME)"

	say "$NAME: unwrap --format env|dotenv refuses, with no output"
	run_expect 9 vc unwrap "$B" --format env
	refused "$NAME"
	assert_size "$RUN_OUT" 0 "unwrap --format env output"
	run_expect 9 vc unwrap "$B" --format dotenv --out "$W/out.dotenv"
	[ ! -e "$W/out.dotenv" ] || fail "unwrap --format dotenv wrote $W/out.dotenv"
	run_expect 9 vc unwrap "$B"
	assert_size "$RUN_OUT" 0 "unwrap (default env) output"

	say "$NAME: --out-dir, --format json and exec --only of other names are unaffected"
	rm -rf "$W/od" && mkdir -m 700 "$W/od"
	run_expect 0 vc unwrap "$B" --out-dir "$W/od"
	assert_eq "$(cat "$W/od/$NAME")" "$V" "$NAME delivered as a file"
	run_expect 0 vc unwrap "$B" --format json
	assert_eq "$(json_get "$RUN_OUT" "$NAME")" "$V" "$NAME in --format json"
	run_expect 0 vc exec "$B" --only APP_OK -- /usr/bin/printenv APP_OK
	assert_eq "$(cat "$RUN_OUT")" ok-value "exec --only APP_OK"

	say "$NAME: delivered with --allow-env $NAME (the program gets the value as it is)"
	run_expect 0 vc exec "$B" --override --allow-env "$NAME" -- /usr/bin/printenv "$NAME"
	assert_eq "$(cat "$RUN_OUT")" "$V" "printenv $NAME"
	run_expect 0 vc unwrap "$B" --format dotenv --allow-env "$NAME"
	assert_contains "$RUN_OUT" "$NAME="
	run_expect 0 vc unwrap "$B" --format env --allow-env "$NAME"

	say "$NAME: bundle set refuses it as a variable, not as a file"
	cp "$W/set.b" "$W/set.w"
	printf '%s' "$V" >"$W/value"
	run_expect 9 vc bundle set "$W/set.w" "$NAME" --in "$W/value"
	refused "$NAME" seal
	assert_same_file "$W/set.w" "$W/set.b" "bundle set changed the bundle although it refused $NAME"
	run_expect 0 vc bundle set "$W/set.w" "$NAME" --in "$W/value" --allow-env "$NAME"
	run_expect 0 vc unwrap "$W/set.w" --format dotenv --only "$NAME" --allow-env "$NAME"
	run_expect 0 vc bundle set "$W/set.b" "$NAME" --kind file --in "$W/value" --out "$W/set.f"
	run_expect 0 vc unwrap "$W/set.f" --format env
done

say "BASH_ENV=\$(touch FILE) delivered with --allow-env: only a value, nothing ran"
rm -f "$W/pwned-bash-env"
run_expect 0 vc exec "$W/BASH_ENV.b" --allow-env BASH_ENV -- /usr/bin/printenv BASH_ENV
assert_eq "$(cat "$RUN_OUT")" "\$(touch $W/pwned-bash-env)" "the value exec delivered"
run_expect 0 vc exec "$W/BASH_ENV.b" --allow-env BASH_ENV -- /usr/bin/env
assert_contains "$RUN_OUT" "BASH_ENV=\$(touch $W/pwned-bash-env)"
run_expect 0 vc unwrap "$W/BASH_ENV.b" --allow-env BASH_ENV --format dotenv --out "$W/allowed.dotenv"
[ ! -e "$W/pwned-bash-env" ] || fail "delivering BASH_ENV ran its value"

say "--json: the refusal is the error object refused_name with exit_code 9"
run_expect 9 vc --json unwrap "$W/PATH.b" --format env
assert_eq "$(json_get "$RUN_OUT" error code)" refused_name "--json code"
assert_eq "$(json_get "$RUN_OUT" error exit_code)" 9 "--json exit_code"

say "a prefix rule names itself; exact names only"
printf 'LD_AUDIT=x\n' >"$W/ld.env"
run_expect 9 vc bundle seal --recipient kek --in "$W/ld.env" --allow-env LD_PRELOAD
assert_contains "$RUN_ERR" "LD_AUDIT changes how programs run (LD_*)"
printf '{"PYTHONPATH": "/x"}' >"$W/py.json"
run_expect 9 vc bundle seal --recipient kek --in "$W/py.json"
assert_contains "$RUN_ERR" "PYTHONPATH changes how programs run (PYTHON*)"
printf 'ld_preload=x\nMY_PATH=y\n' >"$W/near.env"
run_expect 0 vc bundle seal --recipient kek --in "$W/near.env" --out "$W/near.b"

say "file entries are not variables: a directory of files named LD_PRELOAD and PATH seals"
mkdir -m 700 "$W/files"
printf 'file-value' >"$W/files/LD_PRELOAD"
printf 'file-value' >"$W/files/PATH"
run_expect 0 vc bundle seal --recipient kek --in "$W/files" --out "$W/files.b"
run_expect 0 vc unwrap "$W/files.b" --format env

say "vaultd: a bundle env entry that changes how programs run stops the start"
CFG=$W/vaultd.json
TOK=$(vd_new_token)
clients="[{\"name\": \"reader\", \"auth\": {\"token_sha256\": \"$(vd_token_hash "$TOK")\"},
   \"rules\": [{\"ops\": [\"secrets.list\", \"secrets.read\"], \"keys\": [\"*\"]}]}]"
cp "$W/BASH_ENV.b" "$W/vd.b"
# These bundles are unsigned on purpose (sealer signatures: bundle_sealer.sh):
# say bundle.allow_unsigned where this vaultd knows it (issue 15 item 2).
vd_base_config "" '"bundle": {"path": "/nonexistent", "allow_unsigned": true}' >"$W/probe.json"
"$VAULTD" --check-config --config "$W/probe.json" >/dev/null 2>"$W/probe.err" || true
UNSIGNED=', "allow_unsigned": true'
! grep -q 'unknown member "allow_unsigned"' "$W/probe.err" || UNSIGNED=
vd_base_config "$clients" "\"bundle\": {\"path\": \"$W/vd.b\"$UNSIGNED}" >"$CFG"
vd_audit_key
vd_launch --config "$CFG"
rc=$(vd_wait_exit 300)
assert_eq "$rc" 2 "vaultd exit status with BASH_ENV in the bundle (configuration error)"
assert_contains "$VD_LOG" "BASH_ENV changes how programs run"
assert_contains "$VD_LOG" "secrets.allow_env"
[ ! -e "$W/pwned-bash-env" ] || fail "vaultd ran the value"
VD_PID=

say "vaultd: with secrets.allow_env it starts and serves the value"
vd_json_set "$CFG" 'secrets={"allow_env": ["BASH_ENV"]}'
vd_start "$CFG"
vd_expect 200 GET /v1/secrets/BASH_ENV -H "Authorization: Bearer $TOK"
assert_eq "$(json_get "$VD_BODY" value_b64 | base64 -d)" "\$(touch $W/pwned-bash-env)" "the served value"

say "vaultd: reload without the allow is refused, the running configuration stays"
vd_json_set "$CFG" 'secrets={"allow_env": ["PATH"]}'
kill -HUP "$VD_PID"
for ((i = 0; i < 100; i++)); do
	! grep -q "reload failed" "$VD_LOG" || break
	sleep 0.1
done
assert_contains "$VD_LOG" "reload failed" "the log says the reload failed"
grep "reload failed" "$VD_LOG" | grep -qF "BASH_ENV changes how programs run" ||
	fail "the reload failure does not name BASH_ENV: $(grep 'reload failed' "$VD_LOG")"
vd_expect 200 GET /v1/secrets/BASH_ENV -H "Authorization: Bearer $TOK"
assert_eq "$(vd_stop)" 0 "exit status after SIGTERM"

say "vaultd: secrets.environment NODE_OPTIONS refused unless allowed"
cp "$W/set.b" "$W/vd.b"
vd_json_set "$CFG" 'secrets={"environment": ["NODE_OPTIONS"]}'
export NODE_OPTIONS="--require=$W/no-such-module.js"
run_expect 2 "$VAULTD" --check-config --config "$CFG"
assert_contains "$RUN_ERR" "NODE_OPTIONS changes how programs run"
vd_launch --config "$CFG"
rc=$(vd_wait_exit 300)
assert_eq "$rc" 2 "vaultd exit status with secrets.environment NODE_OPTIONS"
assert_contains "$VD_LOG" "secrets.environment[0]: NODE_OPTIONS changes how programs run"
VD_PID=
vd_json_set "$CFG" 'secrets={"environment": ["NODE_OPTIONS"], "allow_env": ["NODE_OPTIONS"]}'
vd_start "$CFG"
vd_expect 200 GET /v1/secrets/NODE_OPTIONS -H "Authorization: Bearer $TOK"
assert_eq "$(json_get "$VD_BODY" value_b64 | base64 -d)" "$NODE_OPTIONS" "the served environment value"
assert_eq "$(vd_stop)" 0 "exit status after SIGTERM"
unset NODE_OPTIONS

echo "bundle_envdeny: ok"
