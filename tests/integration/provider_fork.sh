#!/bin/bash
# The OpenSSL provider across fork() and threads (issue 16 item 5), with
# tests/provider-fork: a key loaded once, then forked children (two at once,
# a grandchild, one after the threads) and the parent sign, and 8 threads
# sign 25 times each with the one key; every signature verified with the
# public key from vaultctl in a library context that has only the default
# provider. P-256, Ed25519 and RSA-2048 by name, one key through a URI-in-PEM
# file, in the direct backend; then P-256 in the vaultd backend (keyless: no
# module, token or PIN in the program's environment), where the audit log
# must show exactly one sign line per signature.
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/provider.sh"
. "$top_srcdir/tests/lib/vaultd.sh"
prov_need
need_cmd python3
trap 'prov_cleanup; vd_cleanup' EXIT

PF=$top_builddir/tests/provider-fork
[ -x "$PF" ] || skip "tests/provider-fork is not built (make check builds it)"
W=$PV_WORK
THREADS=8
ROUNDS=25
# signatures one run makes (tests/provider-fork.c): parent 1, children A and
# B and the parent beside them ROUNDS each, child C 3 + 1 and its grandchild
# 3, the parent after them 3, the threads THREADS*ROUNDS, the last child 3
SIGS=$((1 + 3 * ROUNDS + 3 + 1 + 3 + 3 + THREADS * ROUNDS + 3))

# fork_run NAME KEYREF PUB [ENV ARGS...]: env's options (-u NAME) before NAME=VALUE
fork_run() {
	local name=$1 ref=$2 pub=$3
	shift 3
	run_expect 0 env "$@" "$PF" "$ref" "$pub" "$THREADS" "$ROUNDS"
	cp "$RUN_OUT" "$PV_OUT/fork.$name.out"
	assert_contains "$RUN_OUT" "ok: $THREADS threads signed $ROUNDS times each with one key"
	assert_contains "$RUN_OUT" "ok: a child forked after the threads signed"
	[ "$(grep -c '^ok: ' "$RUN_OUT")" = 6 ] || fail "$name: not every step reported ok"
	echo "ok: $name"
}

say "direct backend"
CNF=$W/direct.cnf
prov_conf "$CNF" direct
for alg in p256 ed25519 rsa2048; do
	mkkey "k-$alg" "$alg" sign
	pub_pem "k-$alg" "$W/k-$alg.pub"
	fork_run "direct-$alg" "p11vault:k-$alg" "$W/k-$alg.pub" OPENSSL_CONF="$CNF"
done

say "direct backend, a pkcs11: URI"
fork_run direct-pkcs11 "pkcs11:object=k-p256;type=private" "$W/k-p256.pub" OPENSSL_CONF="$CNF"

say "direct backend, a URI-in-PEM file"
run_expect 0 vc key show k-p256 --format provider-pem
cp "$RUN_OUT" "$W/k-p256.key.pem"
fork_run direct-pem "$W/k-p256.key.pem" "$W/k-p256.pub" OPENSSL_CONF="$CNF"

say "vaultd backend (keyless)"
# (a client's default rate, 50/s with a burst of 100, is below what 8 threads ask)
CFG=$W/vaultd.json
vd_base_config "[{\"name\": \"tls\", \"auth\": {\"uid\": $(id -u)},
  \"rules\": [{\"ops\": [\"sign\", \"keys.read\"], \"keys\": [\"k-p256\"]}],
  \"rate\": {\"per_second\": 100000, \"burst\": 100000}}]" >"$CFG"
vd_start "$CFG"
VCNF=$W/vaultd.cnf
prov_conf "$VCNF" vaultd "vaultd-socket=$VD_SOCK"
before=$(grep -c '"op":"sign"' "$PV_OUT/audit.log" || true)
# the program's environment names no module, token, PIN source or SoftHSM
fork_run vaultd-p256 p11vault:k-p256 "$W/k-p256.pub" -u P11VAULT_MODULE -u P11VAULT_TOKEN \
	-u P11VAULT_PIN_SOURCE -u SOFTHSM2_CONF OPENSSL_CONF="$VCNF"
got=$(python3 - "$PV_OUT/audit.log" <<'EOF'
import json, sys
n = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("op") == "sign" and r.get("key") == "k-p256" and r.get("client") == "tls" and r.get("outcome") == "ok":
        n += r.get("count", 1)
print(n)
EOF
)
assert_eq "$got" "$SIGS" "audited signatures of the vaultd run (before: $before)"
echo "ok: $SIGS signatures, $got audit lines"
echo "provider_fork: all signatures verified"
