#!/bin/bash
# Migrating an existing wallet key: keys made by tools we did not write
# (openssl genpkey), kept in the formats wallet software uses (a Solana CLI
# id.json, a Phantom-style base58 export, an EVM hex private key), are
# imported into a bundle as private-key entries (`bundle import-key
# --solana-keypair | --solana-base58 | --evm-hex`). vaultd boots with the
# bundle and its wallet endpoints give back the ORIGINAL addresses, as
# ethers and @solana/web3.js compute them from the legacy files, and sign
# transactions that those packages verify against the original addresses.
# The wallet formats give the entries their purpose (solana, evm), which
# vaultd and the installed keys keep: the other chain's endpoints and
# commands refuse them (403 / exit 8 wrong_purpose).
#
# Ed25519 on SoftHSM 2.6: C_UnwrapKey cannot take an Ed25519 PKCS#8, so
# without bundle.key_import_fallback vaultd refuses to start with an error
# naming the option; with it, the explicit fallback imports the keys and
# says so in the log, once per key. The same through vaultctl: bundle
# install-key without / with --allow-key-import-fallback, then `vaultctl
# wallet` (when it is built) signs as the original key.
#
# The legacy private keys are planted: no output, log, audit line or file
# the test made (outside the directory holding the legacy files) contains
# them, in hex, base58, base64, the id.json text or raw bytes.
#
# Node.js and npm as in vaultd_jose_interop.sh: without them (or the
# registry) the test skips (77), except under CI=true, where it fails.
set -eu
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/vaultd.sh"
. "$top_srcdir/tests/lib/interop.sh"
vd_need
need_cmd openssl

W=$PV_WORK
L=$W/legacy # the legacy key files: the only place the keys may be
B=$W/prod.bundle.json
mkdir -m 700 "$L"

say "ethers and @solana/web3.js from tests/interop"
interop_node_setup tests/interop/wallet_common.mjs tests/interop/wallet_legacy.mjs \
	tests/interop/wallet_solana_build.mjs tests/interop/wallet_solana_verify.mjs \
	tests/interop/wallet_evm_build.mjs tests/interop/wallet_evm_verify.mjs
echo "node $(node --version), ethers $(json_get "$NODE_DIR/node_modules/ethers/package.json" version)," \
	"@solana/web3.js $(json_get "$NODE_DIR/node_modules/@solana/web3.js/package.json" version)"
legacy() { node "$NODE_DIR/wallet_legacy.mjs" "$@"; }

say "legacy wallet keys: openssl genpkey, converted to the wallet formats"
(
	umask 077
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:secp256k1 -out "$L/evm.pem" &&
		openssl ec -in "$L/evm.pem" -outform DER -out "$L/evm.sec1.der" &&
		for k in sol1 sol2; do
			openssl genpkey -algorithm ED25519 -outform DER -out "$L/$k.p8.der" &&
				openssl pkey -inform DER -in "$L/$k.p8.der" -pubout -outform DER -out "$L/$k.spki.der" || exit 1
		done
) >"$W/openssl.log" 2>&1 || {
	cat "$W/openssl.log" >&2
	fail "openssl could not make the legacy keys"
}
# Raw bytes out of the DER at fixed, checked offsets: SEC1 ECPrivateKey
# (30 74 02 01 01 04 20 d...), Ed25519 PKCS#8 (RFC 8410, seed at 16) and
# SPKI (public key at 12). The EVM key as 0x-hex, the Solana keys as the
# CLI's id.json (seed || public key, 64 numbers).
python3 - "$L" <<'EOF' || fail "cannot convert the keys to the legacy formats"
import json, os, sys
d = sys.argv[1]
def rd(n):
    return open(os.path.join(d, n), "rb").read()
def wr(n, text):
    fd = os.open(os.path.join(d, n), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, text.encode())
    os.close(fd)
sec1 = rd("evm.sec1.der")
assert sec1[2:7] == b"\x02\x01\x01\x04\x20", "not a SEC1 secp256k1 key"
wr("evm.hex", "0x" + sec1[7:39].hex() + "\n")
for k in ("sol1", "sol2"):
    p8, spki = rd(k + ".p8.der"), rd(k + ".spki.der")
    assert len(p8) == 48 and p8[:16] == bytes.fromhex("302e020100300506032b657004220420"), "PKCS#8"
    assert len(spki) == 44 and spki[:12] == bytes.fromhex("302a300506032b6570032100"), "SPKI"
    wr(k + ".json", json.dumps(list(p8[16:] + spki[12:]), separators=(",", ":")) + "\n")
EOF
run_expect 0 legacy to-base58 --solana-keypair "$L/sol2.json" --out "$L/sol2.b58"
chmod 600 "$L/sol2.b58"
rm -f "$L/sol2.json" # Phantom users have only the base58 text

# The addresses these keys had, as the wallet packages compute them.
run_expect 0 legacy address --evm-hex "$L/evm.hex"
EVM_ADDR=$(cat "$RUN_OUT")
run_expect 0 legacy address --solana-keypair "$L/sol1.json"
SOL1_ADDR=$(cat "$RUN_OUT")
run_expect 0 legacy address --solana-base58 "$L/sol2.b58"
SOL2_ADDR=$(cat "$RUN_OUT")
echo "original addresses: evm $EVM_ADDR, solana $SOL1_ADDR (id.json), $SOL2_ADDR (base58)"
case "$EVM_ADDR" in 0x????????????????????????????????????????) ;; *) fail "ethers address $EVM_ADDR" ;; esac
[ ${#SOL1_ADDR} -ge 32 ] && [ ${#SOL2_ADDR} -ge 32 ] && [ "$SOL1_ADDR" != "$SOL2_ADDR" ] ||
	fail "web3.js addresses $SOL1_ADDR $SOL2_ADDR"

# Every form in which a planted key could leak (one pattern per line, for
# the scan at the end; the file lives beside the keys).
python3 - "$L" <<'EOF' || fail "cannot write the leak patterns"
import base64, json, os, sys
d = sys.argv[1]
A = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
def b58(b):
    n, s = int.from_bytes(b, "big"), ""
    while n:
        n, r = divmod(n, 58)
        s = A[r] + s
    return "1" * (len(b) - len(b.lstrip(b"\0"))) + s
secrets = [bytes.fromhex(open(os.path.join(d, "evm.hex")).read().strip()[2:]),
           bytes(json.load(open(os.path.join(d, "sol1.json")))),
           open(os.path.join(d, "sol2.p8.der"), "rb").read()[16:]]
pats = []
for s in secrets:
    seed = s[:32]
    pats += [seed.hex(), seed.hex().upper(), base64.b64encode(seed).decode(),
             base64.urlsafe_b64encode(seed).decode().rstrip("="), b58(seed)]
    if len(s) == 64:
        pats += [base64.b64encode(s).decode(), b58(s), ",".join(str(x) for x in s[:24])]
pats.append(open(os.path.join(d, "sol2.b58")).read().strip())
open(os.path.join(d, "patterns"), "w").write("\n".join(pats) + "\n")
# raw bytes too: the seeds as they are
open(os.path.join(d, "raw-seeds"), "wb").write(b"".join(s[:32] for s in secrets))
EOF

say "a bundle for the service, the legacy keys imported into it"
run_expect 0 vc key create kek --alg aes256 --purpose wrap
printf 'APP_ENV=prod\n' >"$W/app.env"
run_expect 0 vc bundle seal --recipient kek --in "$W/app.env" --out "$B"
run_expect 0 vc bundle import-key "$B" evm-hot --evm-hex "$L/evm.hex"
assert_contains "$RUN_ERR" "private key evm-hot (secp256k1, purpose evm) imported"
assert_contains "$RUN_ERR" "evm-hot evm address: $EVM_ADDR" "import-key shows the original EVM address"
run_expect 0 vc bundle import-key "$B" sol-cli --solana-keypair "$L/sol1.json" --json
assert_eq "$(json_get "$RUN_OUT" address)" "$SOL1_ADDR" "import-key --json address (id.json)"
assert_eq "$(json_get "$RUN_OUT" chain)" solana "import-key --json chain"
assert_eq "$(json_get "$RUN_OUT" alg)" ed25519 "import-key --json alg"
assert_eq "$(json_get "$RUN_OUT" purpose)" solana "import-key: a Solana keypair is a solana key"
run_expect 0 vc bundle import-key "$B" sol-phantom --solana-base58 "$L/sol2.b58"
assert_contains "$RUN_ERR" "sol-phantom solana address: $SOL2_ADDR" "import-key shows the original Solana address"
assert_contains "$RUN_ERR" "purpose solana"
run_expect 0 vc bundle list "$B"
assert_contains "$RUN_OUT" "ed25519"
assert_contains "$RUN_OUT" "secp256k1"

say "refused legacy files change nothing"
sha256sum <"$B" >"$W/bundle.sum"
python3 - "$L/sol1.json" "$W/bad-pair.json" <<'EOF'
import json, sys
a = json.load(open(sys.argv[1]))
a[40] ^= 1  # a public half that is not the seed's
open(sys.argv[2], "w").write(json.dumps(a))
EOF
run_expect 2 vc bundle import-key "$B" bad --solana-keypair "$W/bad-pair.json"
assert_contains "$RUN_ERR" "public half"
assert_one_line_error "$RUN_ERR"
printf '0x%064d\n' 0 >"$W/zero.hex"
run_expect 2 vc bundle import-key "$B" bad --evm-hex "$W/zero.hex"
printf '0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141\n' >"$W/n.hex"
run_expect 2 vc bundle import-key "$B" bad --evm-hex "$W/n.hex"
run_expect 2 vc bundle import-key "$B" bad --solana-keypair "$L/sol2.b58"
run_expect 2 vc bundle import-key "$B" bad --solana-base58 "$L/sol1.json"
run_expect 2 vc bundle import-key "$B" bad --evm-hex "$L/evm.hex" --solana-keypair "$L/sol1.json"
assert_eq "$(sha256sum <"$B")" "$(cat "$W/bundle.sum")" "a refused import changed the bundle"
rm -f "$W/bad-pair.json"

# ---- vaultd ----

BEARER=$(vd_new_token)
printf 'Authorization: Bearer %s\n' "$BEARER" >"$W/auth.hdr"
chmod 600 "$W/auth.hdr"
vd_base_config "[{\"name\": \"wallet-svc\",
    \"auth\": {\"token_sha256\": \"$(vd_token_hash "$BEARER")\"},
    \"rules\": [{\"ops\": [\"wallet.read\", \"wallet.sign\"], \"keys\": [\"evm-hot\", \"sol-*\"]}],
    \"rate\": {\"per_second\": 1000, \"burst\": 1000}}]" >"$W/vaultd.json"
# a bundle sealed without a sealer signature (docs/config.md bundle.allow_unsigned)
vd_json_set "$W/vaultd.json" "bundle={\"path\": \"$B\", \"allow_unsigned\": true}"
json_valid "$W/vaultd.json"

say "vaultd without bundle.key_import_fallback: a clear refusal"
vd_audit_key
VD_SOCK=$(vd_socket_of "$W/vaultd.json")
vd_launch --config "$W/vaultd.json"
rc=$(vd_wait_exit 300)
VD_PID=
[ "$rc" != timeout ] && [ "$rc" != 0 ] || fail "vaultd started with Ed25519 bundle keys it cannot unwrap (status $rc)"
cat "$VD_LOG"
assert_contains "$VD_LOG" "cannot unwrap Ed25519"
assert_contains "$VD_LOG" "bundle.key_import_fallback" "the refusal names the option"

say "vaultd with bundle.key_import_fallback: true"
vd_json_set "$W/vaultd.json" "bundle.key_import_fallback=true"
vd_start "$W/vaultd.json"
vd_expect 200 GET /v1/ready
cat "$VD_LOG"
for k in sol-cli sol-phantom; do
	[ "$(grep -c "warning: bundle entry $k: .*key-import fallback" "$VD_LOG")" = 1 ] ||
		fail "no single fallback warning for $k in the log"
done
assert_not_contains "$VD_LOG" "bundle entry evm-hot: the token cannot" "secp256k1 needs no fallback"

# The wallet endpoints came in a separate change: this vaultd may predate them.
if ! grep -aqF "/v1/wallet/{name}/evm/address" "$VAULTD"; then
	[ "${CI:-}" != true ] || fail "this vaultd has no wallet endpoints"
	echo "NOTE: this vaultd has no wallet endpoints yet; the address and signing checks did not run"
	WALLET_API=0
else
	WALLET_API=1
fi

# address NAME CHAIN WANT
address_is() {
	vd_expect 200 GET "/v1/wallet/$1/$2/address" -H @"$W/auth.hdr"
	assert_eq "$(json_get "$VD_BODY" address)" "$3" "vaultd's $2 address of $1 is not the original"
}
if [ "$WALLET_API" = 1 ]; then
	address_is evm-hot evm "$EVM_ADDR"
	address_is sol-cli solana "$SOL1_ADDR"
	address_is sol-phantom solana "$SOL2_ADDR"

	say "EVM transactions signed by vaultd, verified by ethers against the original address"
	for type in 2 0; do
		run_expect 0 node "$NODE_DIR/wallet_evm_build.mjs" --type $type --chain-id 8453 --nonce 4 \
			--to 0x00000000000000000000000000000000000b0b00 --value 1250000000000000 --out "$W/evm$type.unsigned"
		printf '{"transaction_hex": "%s"}\n' "$(cat "$W/evm$type.unsigned")" >"$W/evm$type.req"
		vd_expect 200 POST /v1/wallet/evm-hot/evm/sign-transaction -H @"$W/auth.hdr" \
			-H 'Content-Type: application/json' --data-binary @"$W/evm$type.req"
		cp "$VD_BODY" "$PV_OUT/evm$type.signed.json"
		run_expect 0 node "$NODE_DIR/wallet_evm_verify.mjs" tx --unsigned "$W/evm$type.unsigned" \
			--response "$PV_OUT/evm$type.signed.json" --address "$EVM_ADDR"
	done
	# the check can fail: another address does not match
	run_expect 1 node "$NODE_DIR/wallet_evm_verify.mjs" tx --unsigned "$W/evm2.unsigned" \
		--response "$PV_OUT/evm2.signed.json" --address 0x00000000000000000000000000000000000b0b00

	say "Solana transactions signed by vaultd, verified by web3.js against the original addresses"
	sol_sign() { # NAME ADDRESS KIND
		run_expect 0 node "$NODE_DIR/wallet_solana_build.mjs" --kind "$3" --signer "$2" --out "$W/$1.$3.unsigned"
		printf '{"transaction_b64": "%s"}\n' "$(cat "$W/$1.$3.unsigned")" >"$W/$1.$3.req"
		vd_expect 200 POST "/v1/wallet/$1/solana/sign-transaction" -H @"$W/auth.hdr" \
			-H 'Content-Type: application/json' --data-binary @"$W/$1.$3.req"
		cp "$VD_BODY" "$PV_OUT/$1.$3.signed.json"
		run_expect 0 node "$NODE_DIR/wallet_solana_verify.mjs" tx --unsigned "$W/$1.$3.unsigned" \
			--response "$PV_OUT/$1.$3.signed.json" --address "$2"
	}
	sol_sign sol-cli "$SOL1_ADDR" transfer
	sol_sign sol-phantom "$SOL2_ADDR" v0
	run_expect 1 node "$NODE_DIR/wallet_solana_verify.mjs" tx --unsigned "$W/sol-cli.transfer.unsigned" \
		--response "$PV_OUT/sol-cli.transfer.signed.json" --address "$SOL2_ADDR"
	# a transaction for the other key is refused: it is not a signer there
	vd_expect 400 POST /v1/wallet/sol-cli/solana/sign-transaction -H @"$W/auth.hdr" \
		-H 'Content-Type: application/json' --data-binary @"$W/sol-phantom.v0.req"

	say "the imported keys keep their purpose: the other chain refuses them"
	vd_expect 403 GET /v1/wallet/sol-cli/evm/address -H @"$W/auth.hdr"
	assert_eq "$(json_get "$VD_BODY" error code)" wrong_purpose
	vd_expect 403 POST /v1/wallet/evm-hot/solana/sign-message -H @"$W/auth.hdr" \
		-H 'Content-Type: application/json' --data-binary '{"message_b64": "aGVsbG8="}'
	assert_eq "$(json_get "$VD_BODY" error code)" wrong_purpose
fi # WALLET_API
rc=$(vd_stop)
assert_eq "$rc" 0 "vaultd exit status after SIGTERM"

# ---- vaultctl ----

say "vaultctl bundle install-key: refused without the option, installed with it"
run_expect 3 vc bundle install-key "$B" sol-cli --as migrated-sol
assert_contains "$RUN_ERR" "--allow-key-import-fallback"
assert_one_line_error "$RUN_ERR"
run_expect 0 vc bundle verify "$B" --allow-key-import-fallback
assert_contains "$RUN_OUT" "3 private keys proved"
[ "$(grep -c "key-import fallback" "$RUN_ERR")" = 2 ] || fail "bundle verify: want one warning per Ed25519 key"
run_expect 0 vc bundle install-key "$B" sol-cli --as migrated-sol --allow-key-import-fallback
assert_contains "$RUN_ERR" "entry sol-cli"
assert_contains "$RUN_ERR" "key-import fallback"
assert_contains "$RUN_OUT" "installed ed25519 key 'migrated-sol'"
run_expect 0 vc bundle install-key "$B" evm-hot --as migrated-evm --allow-key-import-fallback
assert_not_contains "$RUN_ERR" "fallback" "secp256k1 needs no fallback"

say "bundle rotate moves the Ed25519 entries inside the token, no option needed"
run_expect 0 vc bundle rotate "$B"
assert_not_contains "$RUN_ERR" "fallback"
run_expect 0 vc bundle verify "$B" --allow-key-import-fallback
assert_contains "$RUN_OUT" "3 private keys proved"

if vc wallet address migrated-sol --chain solana >/dev/null 2>&1; then
	say "vaultctl wallet on the installed keys: the original addresses, transactions that verify"
	[ -s "$W/sol-cli.transfer.unsigned" ] || run_expect 0 node "$NODE_DIR/wallet_solana_build.mjs" \
		--kind transfer --signer "$SOL1_ADDR" --out "$W/sol-cli.transfer.unsigned"
	[ -s "$W/evm2.unsigned" ] || run_expect 0 node "$NODE_DIR/wallet_evm_build.mjs" --type 2 --chain-id 8453 \
		--nonce 4 --to 0x00000000000000000000000000000000000b0b00 --value 1250000000000000 --out "$W/evm2.unsigned"
	run_expect 0 vc wallet address migrated-sol --chain solana
	assert_eq "$(cat "$RUN_OUT")" "$SOL1_ADDR" "vaultctl wallet address (Solana)"
	run_expect 0 vc wallet address migrated-evm --chain evm
	assert_eq "$(cat "$RUN_OUT")" "$EVM_ADDR" "vaultctl wallet address (EVM)"
	run_expect 0 vc key show migrated-sol --json
	assert_eq "$(json_get "$RUN_OUT" purpose)" solana "install-key keeps the entry's purpose"
	run_expect 8 vc wallet address migrated-sol --chain evm
	assert_contains "$RUN_ERR" "purpose"
	run_expect 8 vc wallet address migrated-evm --chain solana
	run_expect 0 vc wallet sign-tx migrated-sol --chain solana --in "$W/sol-cli.transfer.unsigned" --json
	cp "$RUN_OUT" "$PV_OUT/vctl-sol.json"
	run_expect 0 node "$NODE_DIR/wallet_solana_verify.mjs" tx --unsigned "$W/sol-cli.transfer.unsigned" \
		--response "$PV_OUT/vctl-sol.json" --address "$SOL1_ADDR"
	run_expect 0 vc wallet sign-tx migrated-evm --chain evm --in "$W/evm2.unsigned" --json
	cp "$RUN_OUT" "$PV_OUT/vctl-evm.json"
	run_expect 0 node "$NODE_DIR/wallet_evm_verify.mjs" tx --unsigned "$W/evm2.unsigned" \
		--response "$PV_OUT/vctl-evm.json" --address "$EVM_ADDR"
else
	echo "NOTE: vaultctl wallet is not built yet; its part of this test did not run"
fi

say "the planted legacy keys appear nowhere but in their own files"
python3 - "$L" "$PV_OUT" "$W" "$B" <<'EOF' || fail "a legacy private key leaked (files above)"
import os, sys
legacy = os.path.realpath(sys.argv[1])
pats = [p.encode() for p in open(os.path.join(legacy, "patterns")).read().split("\n") if p]
raw = open(os.path.join(legacy, "raw-seeds"), "rb").read()
pats += [raw[i:i + 32] for i in range(0, len(raw), 32)]
paths = []
for top in sys.argv[2:]:
    if os.path.isfile(top):
        paths.append(top)
    for root, dirs, files in os.walk(top):
        paths += [os.path.join(root, f) for f in files]
bad, n = [], 0
for p in sorted(set(paths)):
    if os.path.realpath(p).startswith(legacy + os.sep) or not os.path.isfile(p):
        continue
    data = open(p, "rb").read()
    n += 1
    if any(x in data for x in pats):
        bad.append(p)
print("scanned %d files for %d patterns" % (n, len(pats)))
for p in bad:
    print("LEAK:", p, file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
# and the scan itself finds a planted copy
cp "$L/sol2.b58" "$W/probe.txt"
! python3 -c 'import sys; d=open(sys.argv[2],"rb").read(); sys.exit(0 if any(p.encode() in d for p in open(sys.argv[1]).read().split("\n") if p) else 1)' \
	"$L/patterns" "$W/probe.txt" && fail "the leak scan does not see a planted copy"
rm -f "$W/probe.txt"
echo "wallet_migrate: ok"
