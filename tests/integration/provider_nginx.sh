#!/bin/bash
# Debian's nginx with its TLS key on the token (issue 16): started by the
# test as the test's user on a loopback port with a temporary prefix and
# configuration, ssl_certificate_key a URI-in-PEM file (`vaultctl key show
# --format provider-pem`), worker_processes 2 (workers forked after the key
# was loaded), fetched with curl --cacert, in both backends:
#  - direct: several fetches; a worker killed and respawned by the master
#    and a reload (SIGHUP: new workers, the key loaded again) still serve;
#  - vaultd (keyless: nginx's environment names no module, token or PIN):
#    vaultd authenticates nginx by its uid, a client with `sign` (and
#    `keys.read`, for the public key at load) on the key; exactly one audited
#    sign per handshake; after the grant is removed and vaultd reloaded, the
#    next handshake fails (and is audited as denied).
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/provider.sh"
. "$top_srcdir/tests/lib/vaultd.sh"
prov_need
need_cmd curl
need_cmd python3
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
[ -x "$NGINX" ] || skip "nginx is not installed (Debian package nginx)"

W=$PV_WORK
NG_PID=

ng_stop() {
	stop_pid "$NG_PID" QUIT
	NG_PID=
}
trap 'ng_stop; vd_cleanup' EXIT

# ng_conf PREFIX PORT CERT KEYFILE: nginx.conf for a foreground master with
# two workers; every path under PREFIX.
ng_conf() {
	local p=$1 user=""
	mkdir -p "$p/logs" "$p/tmp"
	# as root the workers would otherwise switch to nobody
	[ "$(id -u)" != 0 ] || user="user $(id -un) $(id -gn);"
	cat >"$p/nginx.conf" <<EOF
$user
daemon off;
master_process on;
worker_processes 2;
pid $p/nginx.pid;
error_log $p/logs/error.log info;
# nginx clears the environment of its workers: keep what the provider (and,
# in the direct backend, SoftHSM) reads there
env OPENSSL_CONF;
env SOFTHSM2_CONF;
events { worker_connections 64; }
http {
    log_format pv '\$pid \$ssl_protocol \$status';
    access_log $p/logs/access.log pv;
    client_body_temp_path $p/tmp/body;
    proxy_temp_path $p/tmp/proxy;
    fastcgi_temp_path $p/tmp/fastcgi;
    uwsgi_temp_path $p/tmp/uwsgi;
    scgi_temp_path $p/tmp/scgi;
    server {
        listen 127.0.0.1:$2 ssl;
        server_name localhost;
        ssl_certificate $3;
        ssl_certificate_key $4;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_tickets off;
        ssl_session_cache off;
        location / { return 200 "p11vault-nginx-ok\n"; }
    }
}
EOF
}

# ng_start PREFIX [ENV ARGS...]: nginx -p PREFIX in the foreground (our
# child), returns once the port answers TLS or fails with the error log.
ng_start() {
	local p=$1
	shift
	env "$@" "$NGINX" -p "$p" -c "$p/nginx.conf" -e "$p/logs/error.log" >"$p/logs/stdout" 2>&1 </dev/null &
	NG_PID=$!
	for _ in $(seq 100); do
		kill -0 "$NG_PID" 2>/dev/null || {
			cat "$p/logs/error.log" "$p/logs/stdout" >&2
			NG_PID=
			fail "nginx exited at start"
		}
		[ "$(ng_workers | wc -l)" -lt 2 ] || return 0
		sleep 0.1
	done
	cat "$p/logs/error.log" >&2
	fail "nginx has no two workers after 10 s"
}

ng_workers() { pgrep -P "$NG_PID" 2>/dev/null || true; }

# fetch N: N fresh curl processes (a full handshake each); all must answer.
NFETCH=0
fetch() {
	local i
	for ((i = 0; i < $1; i++)); do
		NFETCH=$((NFETCH + 1))
		curl -sS --max-time 20 --cacert "$CERT" "https://127.0.0.1:$PORT/" -o "$W/body.$NFETCH" \
			2>"$PV_OUT/curl.$NFETCH.err" || {
			cat "$PV_OUT/curl.$NFETCH.err" "$PREFIX/logs/error.log" >&2
			fail "fetch $NFETCH failed"
		}
		assert_eq "$(cat "$W/body.$NFETCH")" p11vault-nginx-ok "body of fetch $NFETCH"
	done
}

# ---- keys, certificate, URI-in-PEM ----
prov_conf "$W/direct.cnf" direct
mkkey web p256 sign
pub_pem web "$W/web.pub"
CERT=$W/web.crt
prov_selfsigned p11vault:web 127.0.0.1 "$CERT" ||
	fail "openssl req -new -x509 through the provider: $(head -c 300 "$PV_OUT/req.127.0.0.1.err")"
prov_same_pub "$CERT" "$W/web.pub"
run_expect 0 vc key show web --format provider-pem
KEYPEM=$W/web.key.pem
cp "$RUN_OUT" "$KEYPEM"
assert_contains "$KEYPEM" "-----BEGIN P11VAULT KEY URI-----"

# ---- direct backend ----
say "nginx, direct backend"
PREFIX=$PV_OUT/nginx-direct
PORT=$(prov_free_port)
ng_conf "$PREFIX" "$PORT" "$CERT" "$KEYPEM"
run_expect 0 env OPENSSL_CONF="$W/direct.cnf" "$NGINX" -t -p "$PREFIX" -c "$PREFIX/nginx.conf" -e "$PREFIX/logs/error.log"
ng_start "$PREFIX" OPENSSL_CONF="$W/direct.cnf"
fetch 6
echo "ok: 6 fetches, workers $(awk '{print $1}' "$PREFIX/logs/access.log" | sort -u | tr '\n' ' ')"

say "a worker killed: the master forks a new one, which signs"
for w in $(ng_workers); do
	kill -KILL "$w"
done
for _ in $(seq 100); do
	[ "$(ng_workers | wc -l)" -lt 2 ] || break
	sleep 0.1
done
fetch 4
echo "ok: new workers $(ng_workers | tr '\n' ' ')"

say "reload (SIGHUP): the master loads the key again, new workers"
old=$(ng_workers | sort | tr '\n' ' ')
kill -HUP "$NG_PID"
for _ in $(seq 100); do
	new=$(ng_workers | sort | tr '\n' ' ')
	[ "$new" = "$old" ] || [ -z "$new" ] || break
	sleep 0.1
done
sleep 0.5
fetch 4
ng_stop
assert_no_pin_in "$PREFIX/logs/error.log"

# ---- vaultd backend ----
say "nginx, vaultd backend (keyless)"
CFG=$W/vaultd.json
client='{"name": "nginx", "auth": {"uid": '$(id -u)'}, "rules": [{"ops": ["sign", "keys.read"], "keys": ["web"]}]}'
vd_base_config "[$client]" >"$CFG"
vd_start "$CFG"
AUDIT=$PV_OUT/audit.log
prov_conf "$W/vaultd.cnf" vaultd "vaultd-socket=$VD_SOCK"

signs() { # OUTCOME: audited signatures by nginx with key web
	python3 - "$AUDIT" "$1" <<'EOF'
import json, sys
n = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("op") == "sign" and r.get("key") == "web" and r.get("client") == "nginx" and r.get("outcome") == sys.argv[2]:
        n += r.get("count", 1)
print(n)
EOF
}

PREFIX=$PV_OUT/nginx-vaultd
PORT=$(prov_free_port)
ng_conf "$PREFIX" "$PORT" "$CERT" "$KEYPEM"
ng_start "$PREFIX" -u P11VAULT_MODULE -u P11VAULT_TOKEN -u P11VAULT_PIN_SOURCE -u SOFTHSM2_CONF \
	OPENSSL_CONF="$W/vaultd.cnf"
before=$(signs ok)
assert_eq "$before" 0 "signatures before the first handshake"
fetch 5
sleep 0.3 # the audit line is written before the answer; this is only for the file system
assert_eq "$(signs ok)" 5 "audited signatures for 5 handshakes"
echo "ok: 5 handshakes, 5 audited signatures"
# keyless: neither the master nor a worker has the PKCS#11 module mapped
for pid in "$NG_PID" $(ng_workers); do
	! grep -q softhsm "/proc/$pid/maps" || fail "nginx process $pid loaded SoftHSM in the vaultd backend"
done
echo "ok: no nginx process loaded the PKCS#11 module"

say "the grant removed, vaultd reloaded: the next handshake fails"
client='{"name": "nginx", "auth": {"uid": '$(id -u)'}, "rules": [{"ops": ["keys.read"], "keys": ["web"]}]}'
vd_base_config "[$client]" >"$CFG"
vd_reload
NFETCH=$((NFETCH + 1))
if curl -sS --max-time 20 --cacert "$CERT" "https://127.0.0.1:$PORT/" -o "$W/body.$NFETCH" \
	2>"$PV_OUT/curl.$NFETCH.err"; then
	fail "nginx answered after its grant was removed"
fi
assert_eq "$(signs ok)" 5 "no signature after the grant was removed"
[ "$(signs denied)" -ge 1 ] || fail "the refused signature is not in the audit log"
echo "ok: handshake refused, $(signs denied) denied sign in the audit log"
ng_stop
echo "provider_nginx: all fetches as expected"
