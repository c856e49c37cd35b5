#!/bin/bash
# The Apache httpd recipe of docs/provider.md, as written: Debian's httpd 2.4
# (event MPM, mod_ssl) with SSLCertificateKeyFile a URI-in-PEM file and
# `export OPENSSL_CONF=...` in its envvars file, started as Debian's systemd
# unit starts it (`apache2ctl start`: the parent loads the keys, detaches,
# loads them again and forks its children, which sign). The configuration
# directory is the test's own (APACHE_CONFDIR), the ports random loopback
# ports, two virtual hosts: a P-256 and an RSA-2048 token key, each with a
# certificate from a test CA, fetched with curl over TLS 1.3 and verified
# against the CA. The children run as the test's user, or, when the test
# runs as root, as www-data as on Debian (then the token's files and the PIN
# file are given to group www-data, and vaultd's socket too). Both backends:
#  - direct: several fetches per key; all children killed (the parent forks
#    new ones, which sign); a graceful restart (the keys loaded again, new
#    children) still serves;
#  - vaultd (keyless: httpd's environment names no module, token or PIN):
#    the children's client has `sign` and `keys.read`, the parent's (root's,
#    when the test runs as root) `keys.read`; exactly one audited sign per
#    handshake; no httpd process maps the PKCS#11 module; after the grant is
#    removed and vaultd reloaded, the next handshake fails (audited denied).
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/provider.sh"
. "$top_srcdir/tests/lib/vaultd.sh"
prov_need
need_cmd curl
need_cmd python3
APACHE2=${APACHE2:-/usr/sbin/apache2}
APACHE2CTL=${APACHE2CTL:-/usr/sbin/apache2ctl}
MODDIR=${APACHE_MODDIR:-/usr/lib/apache2/modules}
if [ ! -x "$APACHE2" ] || [ ! -x "$APACHE2CTL" ]; then
	skip "Apache httpd is not installed (Debian package apache2)"
fi
if [ ! -f "$MODDIR/mod_ssl.so" ] || [ ! -f "$MODDIR/mod_mpm_event.so" ]; then
	skip "no mod_ssl or event MPM in $MODDIR"
fi

W=$PV_WORK
AP_PREFIX=
if [ "$(id -u)" = 0 ]; then
	id www-data >/dev/null 2>&1 || skip "running as root but there is no user www-data"
	RUN_USER=www-data
	RUN_GROUP=www-data
else
	RUN_USER=$(id -un)
	RUN_GROUP=$(id -gn)
fi
RUN_UID=$(id -u "$RUN_USER")

ap_pid() { cat "$AP_PREFIX/run/apache2.pid" 2>/dev/null || true; }
ap_children() {
	local p
	p=$(ap_pid)
	[ -z "$p" ] || pgrep -P "$p" 2>/dev/null || true
}

ap_stop() {
	local p
	[ -n "$AP_PREFIX" ] || return 0
	p=$(ap_pid)
	AP_PREFIX=
	stop_pid "$p" TERM
}
trap 'ap_stop; vd_cleanup' EXIT

# ap_conf PREFIX PORT_EC PORT_RSA CNF [LINES...]: PREFIX/envvars (Debian's,
# with the recipe's line, every path under PREFIX, and LINES) and
# PREFIX/apache2.conf (two virtual hosts with the recipe's lines each).
ap_conf() {
	local p=$1
	mkdir -p "$p/run" "$p/lock" "$p/logs" "$p/htdocs"
	echo "p11vault-httpd-ok" >"$p/htdocs/ok.txt"
	cat >"$p/envvars" <<EOF
unset HOME
export APACHE_RUN_USER=$RUN_USER
export APACHE_RUN_GROUP=$RUN_GROUP
export APACHE_PID_FILE=$p/run/apache2.pid
export APACHE_RUN_DIR=$p/run
export APACHE_LOCK_DIR=$p/lock
export APACHE_LOG_DIR=$p/logs
export LANG=C
export OPENSSL_CONF=$4
$(printf '%s\n' "${@:5}")
EOF
	cat >"$p/apache2.conf" <<EOF
ServerName localhost
Mutex file:\${APACHE_LOCK_DIR} default
PidFile \${APACHE_PID_FILE}
User \${APACHE_RUN_USER}
Group \${APACHE_RUN_GROUP}
ErrorLog \${APACHE_LOG_DIR}/error.log
LogLevel info
LoadModule mpm_event_module $MODDIR/mod_mpm_event.so
LoadModule ssl_module $MODDIR/mod_ssl.so
LoadModule authz_core_module $MODDIR/mod_authz_core.so
StartServers 2
MinSpareThreads 2
MaxSpareThreads 8
ThreadsPerChild 4
ServerLimit 4
MaxRequestWorkers 16
LogFormat "%P %{SSL_PROTOCOL}x %>s" pv
CustomLog \${APACHE_LOG_DIR}/access.log pv
DocumentRoot $p/htdocs
<Directory $p/htdocs>
    Require all granted
</Directory>
Listen 127.0.0.1:$2 https
Listen 127.0.0.1:$3 https
<VirtualHost 127.0.0.1:$2>
    SSLEngine on
    SSLCertificateFile    $p/web-tls.crt
    SSLCertificateKeyFile $p/web-tls.key
</VirtualHost>
<VirtualHost 127.0.0.1:$3>
    SSLEngine on
    SSLCertificateFile    $p/web-rsa.crt
    SSLCertificateKeyFile $p/web-rsa.key
</VirtualHost>
EOF
}

# ap_files PREFIX: the certificates and the URI-in-PEM key files
ap_files() {
	local p=$1 k
	mkdir -p "$p"
	for k in web-tls web-rsa; do
		cp "$W/$k.crt" "$p/$k.crt"
		vc key show "$k" --format provider-pem >"$p/$k.key" ||
			fail "vaultctl key show $k --format provider-pem"
	done
}

# ap_ctl PREFIX ARG [ENV ARGS...]: apache2ctl ARG with PREFIX as the
# configuration directory, as Debian's systemd unit runs it.
ap_ctl() {
	local p=$1 arg=$2
	shift 2
	env "$@" APACHE_CONFDIR="$p" APACHE_STARTED_BY_SYSTEMD=true "$APACHE2CTL" "$arg" \
		>>"$p/logs/apache2ctl.log" 2>&1 </dev/null
}

# ap_start PREFIX [ENV ARGS...]: apache2ctl start; returns once the parent
# has its two children, or fails with the error log.
ap_start() {
	local p=$1
	shift
	AP_PREFIX=$p
	ap_ctl "$p" start "$@" || {
		cat "$p/logs/apache2ctl.log" "$p/logs/error.log" >&2
		fail "apache2ctl start failed"
	}
	for _ in $(seq 100); do
		[ "$(ap_children | wc -l)" -lt 2 ] || return 0
		sleep 0.1
	done
	cat "$p/logs/apache2ctl.log" "$p/logs/error.log" >&2
	fail "httpd has no two children after 10 s"
}

# fetch KIND PORT N: N fresh curl processes over TLS 1.3 (a full handshake
# each), the server certificate verified against the test CA.
NFETCH=0
fetch() {
	local kind=$1 port=$2 i
	for ((i = 0; i < $3; i++)); do
		NFETCH=$((NFETCH + 1))
		curl -sS -v --max-time 20 --tlsv1.3 --cacert "$W/ca/ca.pem" "https://127.0.0.1:$port/ok.txt" \
			-o "$W/body.$NFETCH" 2>"$PV_OUT/curl.$NFETCH.err" || {
			cat "$PV_OUT/curl.$NFETCH.err" "$AP_PREFIX/logs/error.log" >&2
			fail "fetch $NFETCH ($kind) failed"
		}
		assert_contains "$PV_OUT/curl.$NFETCH.err" "SSL connection using TLSv1.3"
		assert_contains "$PV_OUT/curl.$NFETCH.err" "subject: CN=$kind"
		assert_eq "$(cat "$W/body.$NFETCH")" p11vault-httpd-ok "body of fetch $NFETCH"
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

if [ "$RUN_USER" = www-data ]; then
	# The children sign as www-data: in the direct backend they open the
	# token themselves (SoftHSM's configuration and token directory, the PIN
	# file), as an operator would arrange with a group.
	tokdir=$(dirname "$SOFTHSM2_CONF")
	chgrp www-data "$PV_TEST_DIR" "$tokdir"
	chmod 0710 "$PV_TEST_DIR"
	chmod 0750 "$tokdir"
	chgrp -R www-data "$tokdir/tokens" "$SOFTHSM2_CONF"
	chmod -R g+rX "$tokdir/tokens"
	chmod g+r "$SOFTHSM2_CONF"
fi

# ---- direct backend ----
say "httpd, direct backend (children as $RUN_USER)"
P=$PV_OUT/httpd-direct
PORT=$(prov_free_port)
PORT_RSA=$(prov_free_port)
ap_files "$P"
assert_contains "$P/web-tls.key" "-----BEGIN P11VAULT KEY URI-----"
# SoftHSM's variable in envvars too (httpd started by systemd gets nothing
# else)
ap_conf "$P" "$PORT" "$PORT_RSA" "$W/direct.cnf" "export SOFTHSM2_CONF=$SOFTHSM2_CONF"
run_expect 0 env -u SOFTHSM2_CONF APACHE_CONFDIR="$P" "$APACHE2CTL" configtest
ap_start "$P" -u SOFTHSM2_CONF
fetch web-tls "$PORT" 4
fetch web-rsa "$PORT_RSA" 4
echo "ok: 8 fetches (P-256, RSA-2048), children $(ap_children | tr '\n' ' ')"
for c in $(ap_children); do
	assert_eq "$(stat -c %u "/proc/$c")" "$RUN_UID" "uid of httpd child $c"
done
served=$(awk '{print $1}' "$P/logs/access.log" | sort -u | tr '\n' ' ')
for c in $served; do
	ap_children | grep -qx "$c" || fail "request served by $c, not a child of the parent"
done
assert_eq "$(grep -c ' TLSv1.3 200$' "$P/logs/access.log")" 8 "TLS 1.3 requests answered 200"

say "all children killed: the parent forks new ones, which sign"
old=$(ap_children | sort | tr '\n' ' ')
for c in $(ap_children); do
	kill -KILL "$c"
done
for _ in $(seq 100); do
	new=$(ap_children | sort | tr '\n' ' ')
	[ "$new" = "$old" ] || [ "$(ap_children | wc -l)" -lt 2 ] || break
	sleep 0.1
done
sleep 0.5
fetch web-tls "$PORT" 3
fetch web-rsa "$PORT_RSA" 3
echo "ok: 6 fetches, new children $(ap_children | tr '\n' ' ')"

say "graceful restart: the parent loads the keys again, new children"
old=$(ap_children | sort | tr '\n' ' ')
ap_ctl "$P" graceful -u SOFTHSM2_CONF || fail "apache2ctl graceful: $(cat "$P/logs/apache2ctl.log")"
for _ in $(seq 100); do
	new=$(ap_children | sort | tr '\n' ' ')
	[ "$new" = "$old" ] || [ -z "$new" ] || break
	sleep 0.1
done
[ "$new" != "$old" ] || fail "no new children 10 s after the graceful restart"
sleep 0.5
fetch web-tls "$PORT" 3
fetch web-rsa "$PORT_RSA" 3
echo "ok: 6 fetches after the graceful restart"
ap_stop
assert_no_pin_in "$P/logs/error.log"

# ---- vaultd backend ----
say "httpd, vaultd backend (keyless)"
CFG=$W/vaultd.json
keys='"keys": ["web-tls", "web-rsa"]'
clients() { # OPS: the children's client with OPS (+ the parent's when root)
	local c='{"name": "httpd", "auth": {"uid": '$RUN_UID'}, "rules": [{"ops": '$1', '$keys'}]}'
	[ "$RUN_UID" = "$(id -u)" ] ||
		c+=', {"name": "httpd-parent", "auth": {"uid": '$(id -u)'}, "rules": [{"ops": ["keys.read"], '$keys'}]}'
	echo "[$c]"
}
vd_base_config "$(clients '["sign", "keys.read"]')" >"$CFG"
[ "$RUN_USER" != www-data ] || vd_json_set "$CFG" 'listen.unix.mode="0660"' 'listen.unix.group="www-data"'
vd_start "$CFG"
AUDIT=$PV_OUT/audit.log
prov_conf "$W/vaultd.cnf" vaultd "vaultd-socket=$VD_SOCK"

signs() { # KEY OUTCOME: audited signatures by httpd's children with KEY
	python3 - "$AUDIT" "$1" "$2" <<'EOF'
import json, sys
n = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("op") == "sign" and r.get("key") == sys.argv[2] and r.get("client") == "httpd" and r.get("outcome") == sys.argv[3]:
        n += r.get("count", 1)
print(n)
EOF
}

P=$PV_OUT/httpd-vaultd
PORT=$(prov_free_port)
PORT_RSA=$(prov_free_port)
ap_files "$P"
ap_conf "$P" "$PORT" "$PORT_RSA" "$W/vaultd.cnf"
ap_start "$P" -u P11VAULT_MODULE -u P11VAULT_TOKEN -u P11VAULT_PIN_SOURCE -u SOFTHSM2_CONF
assert_eq "$(signs web-tls ok)" 0 "signatures before the first handshake"
fetch web-tls "$PORT" 5
fetch web-rsa "$PORT_RSA" 3
sleep 0.3 # the audit line is written before the answer; this is only for the file system
assert_eq "$(signs web-tls ok)" 5 "audited P-256 signatures for 5 handshakes"
assert_eq "$(signs web-rsa ok)" 3 "audited RSA signatures for 3 handshakes"
echo "ok: 8 handshakes, 8 audited signatures by client httpd (uid $RUN_UID)"
for pid in $(ap_pid) $(ap_children); do
	! grep -q softhsm "/proc/$pid/maps" || fail "httpd process $pid loaded SoftHSM in the vaultd backend"
done
echo "ok: no httpd process loaded the PKCS#11 module"

say "the grant removed, vaultd reloaded: the next handshake fails"
vd_base_config "$(clients '["keys.read"]')" >"$CFG"
[ "$RUN_USER" != www-data ] || vd_json_set "$CFG" 'listen.unix.mode="0660"' 'listen.unix.group="www-data"'
vd_reload
NFETCH=$((NFETCH + 1))
if curl -sS --max-time 20 --tlsv1.3 --cacert "$W/ca/ca.pem" "https://127.0.0.1:$PORT/ok.txt" -o "$W/body.$NFETCH" \
	2>"$PV_OUT/curl.$NFETCH.err"; then
	fail "httpd answered after its grant was removed"
fi
assert_eq "$(signs web-tls ok)" 5 "no signature after the grant was removed"
[ "$(signs web-tls denied)" -ge 1 ] || fail "the refused signature is not in the audit log"
echo "ok: handshake refused, $(signs web-tls denied) denied sign in the audit log"
ap_stop
echo "provider_httpd: all fetches as expected"
