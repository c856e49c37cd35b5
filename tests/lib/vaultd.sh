# shellcheck shell=bash
# Helpers for the vaultd integration tests (tests/integration/vaultd_*.sh),
# on top of tests/lib/common.sh (source that first).
#
#   vd_base_config [CLIENTS [EXTRA]]  print a vaultd.json for the test token
#   vd_json_set FILE PATH=JSON...     edit a config file in place (python3)
#   vd_start CONFIG [ARGS...]         start vaultd, wait for /v1/health
#   vd_start_dev DIR [ARGS...]        vaultd --dev; token in $VD_DEV_TOKEN
#   vd_launch ARGS...                 start vaultd ARGS, do not wait
#   vd_stop                           SIGTERM, wait, echo the exit status
#   vd_wait_exit [TENTHS]             wait for exit, echo the status
#   vd_curl ARGS... PATH              curl over the Unix socket
#   vd_call METHOD PATH [CURL ARGS]   the same, status in $VD_STATUS,
#                                     body in the file $VD_BODY
#   vd_expect STATUS METHOD PATH [..] vd_call, fail unless STATUS
#   vd_error_code                     error.code of $VD_BODY
#   vd_header NAME                    a header of the last vd_call
#   vd_audit_key [NAME]               create the audit HMAC key if missing
#   vd_make_legacy NAME ALG PURPOSE   a key as an earlier version made it (no purpose)
#   vd_token_hash TOKEN               token_sha256 for the config
#   vd_new_token                      a fresh pvt_ bearer token
#   vd_auth_header FILE TOKEN         write "Authorization: Bearer TOKEN" (0600)
#   vd_assert_no_token TOKEN...       fail if a token is in any file of $PV_OUT
#   vd_free_port                      a free TCP port on 127.0.0.1
#
# vd_start remembers VD_PID, VD_SOCK (from the config) and VD_LOG (the
# daemon's stdout and stderr: $PV_OUT/vaultd.log, then vaultd.2.log, ...
# for later starts, so every log stays for the leak checks). A trap on EXIT
# stops a daemon the test left running; a test that sets its own EXIT trap
# should call vd_cleanup from it.

: "${PV_OUT:?source tests/lib/common.sh before tests/lib/vaultd.sh}"

VAULTD=${VAULTD:-$top_builddir/vaultd}
VD_PID=
VD_SOCK=
VD_LOG=
VD_STATUS=
VD_RCFILE=
VD_BODY=$PV_WORK/vd.body
VD_HEADERS=$PV_WORK/vd.headers
vd_starts=0

if [ -x /usr/bin/python3 ]; then
	python3() { /usr/bin/python3 "$@"; }
fi

vd_need() {
	[ -x "$VAULTD" ] || skip "vaultd is not built ($VAULTD)"
	need_cmd curl
	need_cmd python3
	need_cmd openssl
}

# vd_base_config [CLIENTS [EXTRA]]: a complete vaultd.json for the test
# token on stdout. CLIENTS is the JSON text of the clients array (default: a
# placeholder client, uid 4294967294, that nobody is); EXTRA is more
# top-level members, e.g. '"jwt": {"issuer": "https://t"}' (no trailing
# comma). Listens on $PV_TEST_DIR/vd.sock (0600), audits to
# $PV_OUT/audit.log with checkpoints MAC'd by the token key audit-hmac
# (pv_audit needs one; vd_start creates it when the token lacks it, so a
# listing of all keys also shows audit-hmac).
vd_base_config() {
	local clients=${1:-'[{"name": "placeholder", "auth": {"uid": 4294967294}}]'}
	local extra=${2:-}
	cat <<EOF
{
  "token": {
    "uri": "$P11VAULT_TOKEN",
    "module": "$P11VAULT_MODULE",
    "pin_source": "$P11VAULT_PIN_SOURCE"
  },
  "listen": {
    "unix": { "path": "$PV_TEST_DIR/vd.sock", "mode": "0600" }
  },
  "workers": 4,
  "audit": { "file": "$PV_OUT/audit.log", "hmac_key": "audit-hmac" },${extra:+
  $extra,}
  "clients": $clients
}
EOF
}

# vd_reload: SIGHUP to the running daemon, and wait (up to 10 s) for one
# more "reloaded" line in its log than before, so an earlier reload never
# passes for this one.
vd_reload() {
	local before
	before=$(grep -c "vaultd: reloaded" "$VD_LOG" 2>/dev/null || true)
	kill -HUP "$VD_PID"
	for _ in $(seq 100); do
		[ "$(grep -c "vaultd: reloaded" "$VD_LOG" 2>/dev/null || true)" -gt "${before:-0}" ] && return 0
		sleep 0.1
	done
	fail "vaultd did not log a reload within 10 s of SIGHUP"
}

# vd_json_set FILE PATH=JSON... : set members of a JSON file, e.g.
#   vd_json_set cfg.json 'limits.max_body_bytes=2048' 'listen.tcp={"address": ...}'
# PATH is dotted; numeric parts index arrays; the value is JSON text.
vd_json_set() {
	python3 - "$@" <<'EOF'
import json, sys
f = sys.argv[1]
d = json.load(open(f))
for a in sys.argv[2:]:
    p, _, v = a.partition("=")
    parts = p.split(".")
    o = d
    for k in parts[:-1]:
        o = o[int(k)] if isinstance(o, list) else o.setdefault(k, {})
    k = parts[-1]
    if isinstance(o, list):
        o[int(k)] = json.loads(v)
    else:
        o[k] = json.loads(v)
json.dump(d, open(f + ".tmp", "w"), indent=2)
import os
os.replace(f + ".tmp", f)
EOF
}

# vd_audit_key [NAME]: make sure the token has the hmac-sha256 key that
# audit.hmac_key names (default audit-hmac).
vd_audit_key() {
	local name=${1:-audit-hmac} rc=0
	# exit 7: the key exists already
	"$VAULTCTL" key create "$name" --alg hmac-sha256 --purpose audit >"$PV_WORK/vd-audit-key.out" 2>&1 || rc=$?
	case $rc in
	0 | 7) return 0 ;;
	esac
	cat "$PV_WORK/vd-audit-key.out" >&2
	fail "cannot create the audit HMAC key $name"
}

# vd_make_legacy NAME ALG PURPOSE: a key as a version before purposes made
# it: created with PURPOSE (for its token attributes), then its metadata
# object rewritten without "purpose" by pkcs11-tool (not by our code).
vd_make_legacy() {
	local name=$1 meta=$PV_WORK/legacy-$1.json
	need_cmd pkcs11-tool
	run_expect 0 vc key create "$name" --alg "$2" --purpose "$3"
	p11tool_login --read-object --type data --label "$name" --application-label p11vault -o "$meta" \
		>"$PV_WORK/p11tool.out" 2>&1 || fail "pkcs11-tool cannot read the metadata of $name"
	python3 - "$meta" <<'PY' || fail "metadata of $name"
import json, sys
d = json.load(open(sys.argv[1]))
assert d.pop("purpose", None) is not None, "no purpose to remove"
open(sys.argv[1], "w").write(json.dumps(d, separators=(",", ":")))
PY
	p11tool_login --delete-object --type data --label "$name" --application-label p11vault \
		>"$PV_WORK/p11tool.out" 2>&1 || fail "pkcs11-tool cannot delete the metadata of $name"
	p11tool_login --write-object "$meta" --type data --label "$name" --application-label p11vault \
		--private >"$PV_WORK/p11tool.out" 2>&1 || fail "pkcs11-tool cannot write the metadata of $name"
	[ "$(key_purpose "$name")" = None ] || fail "$name still has a purpose"
}

vd_socket_of() {
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listen"]["unix"]["path"])' "$1"
}

# vd_launch ARGS...: run vaultd ARGS in the background under a small
# wrapper that records its exit status, so vd_stop works also from a
# command substitution (a subshell cannot wait for its parent's child).
vd_launch() {
	vd_need
	vd_starts=$((vd_starts + 1))
	if [ "$vd_starts" = 1 ]; then
		VD_LOG=$PV_OUT/vaultd.log
	else
		VD_LOG=$PV_OUT/vaultd.$vd_starts.log
	fi
	VD_RCFILE=$PV_WORK/vaultd.$vd_starts.rc
	local pidfile=$PV_WORK/vaultd.$vd_starts.pid i
	rm -f "$VD_RCFILE" "$pidfile"
	(
		"$VAULTD" "$@" >"$VD_LOG" 2>&1 </dev/null &
		echo $! >"$pidfile"
		rc=0
		wait $! || rc=$?
		echo "$rc" >"$VD_RCFILE"
	) >/dev/null 2>&1 &
	for ((i = 0; i < 100; i++)); do
		[ ! -s "$pidfile" ] || break
		sleep 0.05
	done
	VD_PID=$(cat "$pidfile") || fail "vaultd did not start"
}

# vd_start CONFIG [ARGS...]: vaultd --config CONFIG ARGS in the background;
# returns once GET /v1/health answers 200 (at most 30 s), fails with the log
# if the daemon exits or never answers.
vd_start() {
	local cfg=$1
	shift
	VD_SOCK=$(vd_socket_of "$cfg") || fail "no listen.unix.path in $cfg"
	local hk
	hk=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["audit"].get("hmac_key", ""))' "$cfg")
	[ -z "$hk" ] || vd_audit_key "$hk"
	vd_launch --config "$cfg" "$@"
	vd_wait_health || {
		cat "$VD_LOG" >&2
		fail "vaultd did not come up (log above)"
	}
}

# vd_start_dev DIR [ARGS...]: vaultd --dev --dev-dir DIR; the admin token
# in VD_DEV_TOKEN.
vd_start_dev() {
	local dir=$1
	shift
	VD_SOCK=$dir/vaultd.sock
	vd_launch --dev --dev-dir "$dir" "$@"
	vd_wait_health || {
		cat "$VD_LOG" >&2
		fail "vaultd --dev did not come up (log above)"
	}
	VD_DEV_TOKEN=$(sed -n 's/^vaultd: dev admin token: //p' "$VD_LOG")
	[ -n "$VD_DEV_TOKEN" ] || fail "vaultd --dev printed no admin token"
}

# vd_exited: the daemon's exit status once it has exited, else nothing
# (status 1).
vd_exited() {
	[ -s "$VD_RCFILE" ] && cat "$VD_RCFILE"
}

# Poll /v1/health (up to 30 s; PV_VD_WAIT tenths of a second).
vd_wait_health() {
	local i code
	for ((i = 0; i < ${PV_VD_WAIT:-300}; i++)); do
		if [ -s "$VD_RCFILE" ]; then
			printf 'vaultd exited with status %s\n' "$(cat "$VD_RCFILE")" >&2
			VD_PID=
			return 1
		fi
		if [ -S "$VD_SOCK" ]; then
			code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --unix-socket "$VD_SOCK" \
				http://vaultd/v1/health 2>/dev/null) || code=000
			[ "$code" != 200 ] || return 0
		fi
		sleep 0.1
	done
	printf 'vaultd: no health answer within %s tenths of a second\n' "${PV_VD_WAIT:-300}" >&2
	return 1
}

# vd_wait_exit [TENTHS]: wait for the daemon to exit (default 30 s); echo
# its exit status, or "timeout".
vd_wait_exit() {
	local i
	for ((i = 0; i < ${1:-300}; i++)); do
		if [ -s "$VD_RCFILE" ]; then
			cat "$VD_RCFILE"
			return 0
		fi
		sleep 0.1
	done
	echo timeout
}

# vd_stop: SIGTERM, wait (at most 30 s, then SIGKILL), echo the exit status.
# Usable as rc=$(vd_stop).
vd_stop() {
	local rc
	[ -n "$VD_PID" ] || {
		echo "vd_stop: no vaultd running" >&2
		return 1
	}
	kill -TERM "$VD_PID" 2>/dev/null || true
	rc=$(vd_wait_exit 300)
	if [ "$rc" = timeout ]; then
		echo "vd_stop: vaultd ignored SIGTERM for 30 s; killing it" >&2
		kill -KILL "$VD_PID" 2>/dev/null || true
		rc=$(vd_wait_exit 100)
	fi
	VD_PID=
	echo "$rc"
}

vd_cleanup() {
	if [ -n "${VD_PID:-}" ] && [ ! -s "${VD_RCFILE:-/nonexistent}" ]; then
		kill -KILL "$VD_PID" 2>/dev/null || true
		vd_wait_exit 50 >/dev/null
	fi
	VD_PID=
}
trap vd_cleanup EXIT

# vd_curl ARGS... PATH: curl over the daemon's Unix socket.
vd_curl() {
	local n=$# path=${!#}
	curl -sS --max-time "${PV_VD_CURL_TIMEOUT:-30}" --unix-socket "$VD_SOCK" "${@:1:n-1}" "http://vaultd$path"
}

# vd_call METHOD PATH [CURL ARGS...]: the status code in VD_STATUS, the body
# in the file $VD_BODY, the headers in the file $VD_HEADERS. Fails only
# when curl itself fails (no connection).
vd_call() {
	local method=$1 path=$2
	shift 2
	VD_STATUS=$(vd_curl -X "$method" -o "$VD_BODY" -D "$VD_HEADERS" -w '%{http_code}' "$@" "$path") ||
		fail "curl $method $path failed"
}

# vd_expect STATUS METHOD PATH [CURL ARGS...]: vd_call and insist on STATUS.
vd_expect() {
	local want=$1
	shift
	vd_call "$@"
	[ "$VD_STATUS" = "$want" ] || {
		head -c 2000 "$VD_BODY" >&2
		echo >&2
		fail "$1 $2: status $VD_STATUS, want $want"
	}
}

# The error code of an error body ({"error":{"code":...}}) in $VD_BODY.
vd_error_code() {
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["error"]["code"])' "$VD_BODY"
}

# A response header's value (case-insensitive name) from $VD_HEADERS.
vd_header() {
	awk -v h="$1" 'BEGIN { h = tolower(h) } { sub(/\r$/, "") }
		index(tolower($0), h ":") == 1 { sub(/^[^:]*:[ \t]*/, ""); print; exit }' "$VD_HEADERS"
}

# vd_token_hash TOKEN: base64url (no padding) SHA-256, as token_sha256.
vd_token_hash() {
	printf '%s' "$1" | openssl dgst -sha256 -binary | basenc --base64url | tr -d '=\n'
}

# vd_new_token: a fresh bearer token shaped like vaultctl client add's.
vd_new_token() {
	printf 'pvt_%s' "$(openssl rand 32 | basenc --base64url | tr -d '=\n')"
}

# vd_auth_header FILE TOKEN: the header line for curl -H @FILE, mode 0600.
vd_auth_header() {
	(
		umask 077
		printf 'Authorization: Bearer %s\n' "$2" >"$1"
	)
}

# vd_assert_no_token TOKEN...: no output, log or audit file holds a token.
vd_assert_no_token() {
	local tok
	for tok in "$@"; do
		if grep -rqaF -- "${tok#pvt_}" "$PV_OUT"; then
			fail "a bearer token appears in $(grep -rlaF -- "${tok#pvt_}" "$PV_OUT" | head -1)"
		fi
	done
}

# vd_free_port: a TCP port on 127.0.0.1 that nobody listens on right now.
vd_free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# vd_sched_records X...: the scheduled-rotation records (op key.schedule.*)
# of the audit logs $PV_OUT/audit-X.log that exist, one line each: "time
# op version key client outcome X", in each log's order (the logs one
# after the other: callers sort).
vd_sched_records() {
	local x
	for x in "$@"; do
		[ ! -f "$PV_OUT/audit-$x.log" ] ||
			python3 - "$PV_OUT/audit-$x.log" "$x" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    try:
        r = json.loads(line)
    except ValueError:
        continue
    if str(r.get("op", "")).startswith("key.schedule."):
        print(r["time"], r["op"], r.get("version"), r.get("key"), r.get("client"), r.get("outcome"), sys.argv[2])
EOF
	done
}
