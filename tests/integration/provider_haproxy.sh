#!/bin/bash
# The HAProxy recipe of docs/provider.md, as written: Debian's HAProxy 2.6
# with `crt` a PEM file holding the certificate and the URI-in-PEM key file
# beside it (`.pem.key`, `ssl-load-extra-files key`), OPENSSL_CONF in its
# environment naming an openssl.cnf that loads default and p11vault. Started
# by the test as the test's user, master-worker in the foreground (as
# Debian's systemd unit runs it: the master loads the keys, the worker it
# forks signs, two threads), two frontends on loopback ports: a P-256 and an
# RSA-2048 token key, each with a certificate from a test CA, fetched with
# curl over TLS 1.3 and verified against the CA; in both backends:
#  - direct: several fetches per key; a reload (SIGUSR2: the master parses
#    the configuration again, loads the keys again, forks a new worker)
#    still serves; HAProxy's own `ssl-provider` lines instead of the
#    openssl.cnf, p11vault configured by P11VAULT_*;
#  - vaultd (keyless: HAProxy's environment names no module, token or PIN):
#    vaultd knows HAProxy by its uid, a client with `sign` and `keys.read`
#    on the keys; exactly one audited sign per handshake; no HAProxy process
#    maps the PKCS#11 module; after the grant is removed and vaultd
#    reloaded, the next handshake fails (and is audited as denied);
#  - as root, Debian's `user haproxy`/`group haproxy` (the worker signs as
#    haproxy; the PIN file stays root's) in both backends, and its
#    `chroot`, with which no handshake succeeds in either backend.
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/provider.sh"
. "$top_srcdir/tests/lib/vaultd.sh"
prov_need
need_cmd curl
need_cmd python3
HAPROXY=${HAPROXY:-$(command -v haproxy || echo /usr/sbin/haproxy)}
[ -x "$HAPROXY" ] || skip "haproxy is not installed (Debian package haproxy)"

W=$PV_WORK
HA_PID=
HA_PREFIX=

ha_stop() {
	stop_pid "$HA_PID" TERM
	HA_PID=
}
trap 'ha_stop; vd_cleanup' EXIT

# ha_conf PREFIX PORT_EC PORT_RSA [GLOBAL LINES...]: haproxy.cfg with the
# recipe's lines; the two crt files are PREFIX/web-tls.pem and
# PREFIX/web-rsa.pem, each with its .pem.key beside it.
ha_conf() {
	local p=$1 g
	g=$(printf '    %s\n' "${@:4}")
	cat >"$p/haproxy.cfg" <<EOF
global
$g
    ssl-load-extra-files key
    nbthread 2
    pidfile $p/haproxy.pid
defaults
    mode http
    timeout connect 10s
    timeout client 20s
    timeout server 20s
frontend https
    bind 127.0.0.1:$2 ssl crt $p/web-tls.pem
    http-request return status 200 content-type text/plain string "p11vault-haproxy-ok ec"
frontend https-rsa
    bind 127.0.0.1:$3 ssl crt $p/web-rsa.pem
    http-request return status 200 content-type text/plain string "p11vault-haproxy-ok rsa"
EOF
}

# ha_files PREFIX: the recipe's two commands for each key
ha_files() {
	local p=$1 k
	mkdir -p "$p"
	for k in web-tls web-rsa; do
		cat "$W/$k.crt" >"$p/$k.pem"
		vc key show "$k" --format provider-pem >"$p/$k.pem.key" ||
			fail "vaultctl key show $k --format provider-pem"
	done
}

# ha_start PREFIX [ENV ARGS...]: haproxy -W -db (master-worker, foreground,
# our child); returns once the master has forked its worker and both ports
# answer TCP, or fails with HAProxy's output.
ha_start() {
	local p=$1
	shift
	env "$@" "$HAPROXY" -W -db -f "$p/haproxy.cfg" >"$p/haproxy.log" 2>&1 </dev/null &
	HA_PID=$!
	for _ in $(seq 100); do
		kill -0 "$HA_PID" 2>/dev/null || {
			cat "$p/haproxy.log" >&2
			HA_PID=
			fail "haproxy exited at start"
		}
		[ "$(ha_workers | wc -l)" -lt 1 ] || return 0
		sleep 0.1
	done
	cat "$p/haproxy.log" >&2
	fail "haproxy has no worker after 10 s"
}

ha_workers() { pgrep -P "$HA_PID" 2>/dev/null || true; }

# fetch KIND PORT N: N fresh curl processes over TLS 1.3 (a full handshake
# each), the server certificate verified against the test CA.
NFETCH=0
fetch() {
	local kind=$1 port=$2 i
	for ((i = 0; i < $3; i++)); do
		NFETCH=$((NFETCH + 1))
		curl -sS -v --max-time 20 --tlsv1.3 --cacert "$W/ca/ca.pem" "https://127.0.0.1:$port/" \
			-o "$W/body.$NFETCH" 2>"$PV_OUT/curl.$NFETCH.err" || {
			cat "$PV_OUT/curl.$NFETCH.err" "$HA_PREFIX/haproxy.log" >&2
			fail "fetch $NFETCH ($kind) failed"
		}
		assert_contains "$PV_OUT/curl.$NFETCH.err" "SSL connection using TLSv1.3"
		assert_eq "$(cat "$W/body.$NFETCH")" "p11vault-haproxy-ok $kind" "body of fetch $NFETCH"
	done
}

# ---- keys, certificates from a test CA ----
prov_conf "$W/direct.cnf" direct
prov_ca_init "$W/ca"
mkkey web-tls p256 sign
mkkey web-rsa rsa2048 sign
for k in web-tls web-rsa; do
	pub_pem "$k" "$W/$k.pub"
	prov_ca_issue "$W/$k.pub" "$k" "$W/$k.crt"
	prov_same_pub "$W/$k.crt" "$W/$k.pub"
done

# ---- direct backend ----
say "HAProxy, direct backend"
HA_PREFIX=$PV_OUT/haproxy-direct
ha_files "$HA_PREFIX"
assert_contains "$HA_PREFIX/web-tls.pem.key" "-----BEGIN P11VAULT KEY URI-----"
PORT=$(prov_free_port)
PORT_RSA=$(prov_free_port)
ha_conf "$HA_PREFIX" "$PORT" "$PORT_RSA"
run_expect 0 env OPENSSL_CONF="$W/direct.cnf" "$HAPROXY" -c -f "$HA_PREFIX/haproxy.cfg"
ha_start "$HA_PREFIX" OPENSSL_CONF="$W/direct.cnf"
fetch ec "$PORT" 4
fetch rsa "$PORT_RSA" 4
echo "ok: 8 fetches (P-256, RSA-2048), worker $(ha_workers | tr '\n' ' ')"

say "reload (SIGUSR2): the master loads the keys again, a new worker"
old=$(ha_workers | sort | tr '\n' ' ')
kill -USR2 "$HA_PID"
for _ in $(seq 100); do
	new=$(ha_workers | sort | tr '\n' ' ')
	[ "$new" = "$old" ] || [ -z "$new" ] || break
	sleep 0.1
done
[ "$new" != "$old" ] || fail "no new worker 10 s after SIGUSR2"
sleep 0.5
fetch ec "$PORT" 3
fetch rsa "$PORT_RSA" 3
echo "ok: 6 fetches after the reload, worker $(ha_workers | tr '\n' ' ')"
ha_stop
assert_no_pin_in "$HA_PREFIX/haproxy.log"

say "HAProxy's own ssl-provider lines instead of an openssl.cnf, P11VAULT_* in its environment"
# OPENSSL_CONF stays run-with-token.sh's (the default provider only)
HA_PREFIX=$PV_OUT/haproxy-ssl-provider
ha_files "$HA_PREFIX"
ha_conf "$HA_PREFIX" "$PORT" "$PORT_RSA" "ssl-provider-path $PROV_DIR" "ssl-provider default" "ssl-provider p11vault"
ha_start "$HA_PREFIX" OPENSSL_CONF="$PROV_BASE_CONF" P11VAULT_BACKEND=direct
fetch ec "$PORT" 2
fetch rsa "$PORT_RSA" 2
echo "ok: 4 fetches"
ha_stop

# ---- vaultd backend ----
say "HAProxy, vaultd backend (keyless)"
CFG=$W/vaultd.json
client='{"name": "haproxy", "auth": {"uid": '$(id -u)'}, "rules": [{"ops": ["sign", "keys.read"], "keys": ["web-tls", "web-rsa"]}]}'
vd_base_config "[$client]" >"$CFG"
vd_start "$CFG"
AUDIT=$PV_OUT/audit.log
prov_conf "$W/vaultd.cnf" vaultd "vaultd-socket=$VD_SOCK"

signs() { # KEY OUTCOME [CLIENT]: audited signatures by CLIENT (haproxy) with KEY
	python3 - "$AUDIT" "$1" "$2" "${3:-haproxy}" <<'EOF'
import json, sys
n = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("op") == "sign" and r.get("key") == sys.argv[2] and r.get("client") == sys.argv[4] and r.get("outcome") == sys.argv[3]:
        n += r.get("count", 1)
print(n)
EOF
}

HA_PREFIX=$PV_OUT/haproxy-vaultd
ha_files "$HA_PREFIX"
PORT=$(prov_free_port)
PORT_RSA=$(prov_free_port)
ha_conf "$HA_PREFIX" "$PORT" "$PORT_RSA"
ha_start "$HA_PREFIX" -u P11VAULT_MODULE -u P11VAULT_TOKEN -u P11VAULT_PIN_SOURCE -u SOFTHSM2_CONF \
	OPENSSL_CONF="$W/vaultd.cnf"
assert_eq "$(signs web-tls ok)" 0 "signatures before the first handshake"
fetch ec "$PORT" 5
fetch rsa "$PORT_RSA" 3
sleep 0.3 # the audit line is written before the answer; this is only for the file system
assert_eq "$(signs web-tls ok)" 5 "audited P-256 signatures for 5 handshakes"
assert_eq "$(signs web-rsa ok)" 3 "audited RSA signatures for 3 handshakes"
echo "ok: 8 handshakes, 8 audited signatures"
for pid in "$HA_PID" $(ha_workers); do
	! grep -q softhsm "/proc/$pid/maps" || fail "haproxy process $pid loaded SoftHSM in the vaultd backend"
done
echo "ok: no HAProxy process loaded the PKCS#11 module"

say "the grant removed, vaultd reloaded: the next handshake fails"
client='{"name": "haproxy", "auth": {"uid": '$(id -u)'}, "rules": [{"ops": ["keys.read"], "keys": ["web-tls", "web-rsa"]}]}'
vd_base_config "[$client]" >"$CFG"
vd_reload
NFETCH=$((NFETCH + 1))
if curl -sS --max-time 20 --tlsv1.3 --cacert "$W/ca/ca.pem" "https://127.0.0.1:$PORT/" -o "$W/body.$NFETCH" \
	2>"$PV_OUT/curl.$NFETCH.err"; then
	fail "HAProxy answered after its grant was removed"
fi
assert_eq "$(signs web-tls ok)" 5 "no signature after the grant was removed"
[ "$(signs web-tls denied)" -ge 1 ] || fail "the refused signature is not in the audit log"
echo "ok: handshake refused, $(signs web-tls denied) denied sign in the audit log"
ha_stop

# ---- Debian's global section: user haproxy, chroot (root only) ----
# Debian's /etc/haproxy/haproxy.cfg has `user haproxy`, `group haproxy` and
# `chroot /var/lib/haproxy`: the master (root) loads the keys, the worker
# drops to haproxy and chroots before its first handshake, so the signing
# happens there.
if [ "$(id -u)" != 0 ]; then
	echo "not root: Debian's user/group/chroot lines not tried"
	echo "provider_haproxy: all fetches as expected"
	exit 0
fi
id haproxy >/dev/null 2>&1 || fail "running as root but there is no user haproxy (Debian package haproxy makes it)"
HA_UID=$(id -u haproxy)
ha_fails() { # PORT WHAT: one handshake that must fail
	NFETCH=$((NFETCH + 1))
	if curl -sS --max-time 20 --tlsv1.3 --cacert "$W/ca/ca.pem" "https://127.0.0.1:$1/" -o "$W/body.$NFETCH" \
		2>"$PV_OUT/curl.$NFETCH.err"; then
		fail "$2: HAProxy answered"
	fi
	assert_contains "$PV_OUT/curl.$NFETCH.err" "alert internal error"
}
ha_worker_uid() {
	local w
	w=$(ha_workers | head -1)
	stat -c %u "/proc/$w"
}

say "direct backend, user haproxy (the token's files readable by group haproxy)"
tokdir=$(dirname "$SOFTHSM2_CONF")
chgrp haproxy "$PV_TEST_DIR" "$tokdir"
chmod 0710 "$PV_TEST_DIR"
chmod 0750 "$tokdir"
chgrp -R haproxy "$tokdir/tokens" "$SOFTHSM2_CONF"
chmod -R g+rX "$tokdir/tokens"
chmod g+r "$SOFTHSM2_CONF"
HA_PREFIX=$PV_OUT/haproxy-user-direct
ha_files "$HA_PREFIX"
mkdir -p "$HA_PREFIX/chroot"
PORT=$(prov_free_port)
PORT_RSA=$(prov_free_port)
ha_conf "$HA_PREFIX" "$PORT" "$PORT_RSA" "user haproxy" "group haproxy"
ha_start "$HA_PREFIX" OPENSSL_CONF="$W/direct.cnf"
sleep 0.3
assert_eq "$(ha_worker_uid)" "$HA_UID" "uid of the worker"
fetch ec "$PORT" 3
fetch rsa "$PORT_RSA" 3
echo "ok: 6 fetches, the worker as haproxy (uid $HA_UID), the PIN file root's (0600)"
ha_stop

say "direct backend, chroot: no handshake"
ha_conf "$HA_PREFIX" "$PORT" "$PORT_RSA" "user haproxy" "group haproxy" "chroot $HA_PREFIX/chroot"
ha_start "$HA_PREFIX" OPENSSL_CONF="$W/direct.cnf"
ha_fails "$PORT" "direct backend in a chroot"
echo "ok: the handshake fails (TLS internal error alert)"
ha_stop

say "vaultd backend, user haproxy: the worker's client is uid $HA_UID"
vd_stop >/dev/null
client='{"name": "haproxy-worker", "auth": {"uid": '$HA_UID'}, "rules": [{"ops": ["sign", "keys.read"], "keys": ["web-tls", "web-rsa"]}]}'
master='{"name": "haproxy-master", "auth": {"uid": 0}, "rules": [{"ops": ["keys.read"], "keys": ["web-tls", "web-rsa"]}]}'
vd_base_config "[$client, $master]" >"$CFG"
vd_json_set "$CFG" 'listen.unix.mode="0660"' 'listen.unix.group="haproxy"'
vd_start "$CFG"
HA_PREFIX=$PV_OUT/haproxy-user-vaultd
ha_files "$HA_PREFIX"
mkdir -p "$HA_PREFIX/chroot"
ha_conf "$HA_PREFIX" "$PORT" "$PORT_RSA" "user haproxy" "group haproxy"
ha_start "$HA_PREFIX" -u P11VAULT_MODULE -u P11VAULT_TOKEN -u P11VAULT_PIN_SOURCE -u SOFTHSM2_CONF \
	OPENSSL_CONF="$W/vaultd.cnf"
sleep 0.3
assert_eq "$(ha_worker_uid)" "$HA_UID" "uid of the worker"
fetch ec "$PORT" 3
fetch rsa "$PORT_RSA" 2
sleep 0.3
assert_eq "$(signs web-tls ok haproxy-worker)" 3 "audited P-256 signatures by haproxy-worker"
assert_eq "$(signs web-rsa ok haproxy-worker)" 2 "audited RSA signatures by haproxy-worker"
echo "ok: 5 handshakes, 5 audited signatures by the worker's client"
ha_stop

say "vaultd backend, chroot: no handshake"
ha_conf "$HA_PREFIX" "$PORT" "$PORT_RSA" "user haproxy" "group haproxy" "chroot $HA_PREFIX/chroot"
ha_start "$HA_PREFIX" -u P11VAULT_MODULE -u P11VAULT_TOKEN -u P11VAULT_PIN_SOURCE -u SOFTHSM2_CONF \
	OPENSSL_CONF="$W/vaultd.cnf"
ha_fails "$PORT" "vaultd backend in a chroot"
assert_eq "$(signs web-tls ok haproxy-worker)" 3 "no signature from the chrooted worker"
echo "ok: the handshake fails (TLS internal error alert), nothing signed"
ha_stop
echo "provider_haproxy: all fetches as expected"
