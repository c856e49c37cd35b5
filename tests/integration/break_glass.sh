#!/bin/bash
# Break-glass recovery as docs/operations.md section 8 "the practical route"
# says: a bundle sealed in CI for an offline RSA key (bg.pem) is opened on a
# fresh SoftHSM token into which bg.key was loaded with pkcs11-tool and
# adopted with `key adopt --purpose decrypt`. SoftHSM gives that imported key
# CKA_SIGN too; it is adopted anyway and p11vault never signs with it. Before
# the adoption the raw token key opens nothing (a recipient key must be a
# p11vault key of purpose decrypt).
set -eu
. "$top_srcdir/tests/lib/common.sh"
need_cmd pkcs11-tool
need_cmd openssl
W=$PV_WORK

say "seal for the offline break-glass key with only its public half"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$W/bg.key" 2>/dev/null
openssl pkey -in "$W/bg.key" -pubout -out "$W/bg.pem" 2>/dev/null
printf 'DATABASE_URL=postgres://recovered\nAPI_KEY=bg-only\n' >"$W/in.env"
run_expect 0 vc bundle seal --recipient "$W/bg.pem" --context env=prod --in "$W/in.env" --out "$W/prod.bundle.json"

say "a fresh token with bg.key loaded by pkcs11-tool (both halves, one id)"
# the documented commands, on their own token (not the test's)
"$top_srcdir/softhsm/make-token.sh" --dir "$W/bg-token" --label bg --vaultctl "$VAULTCTL" \
	--module "$SOFTHSM_MODULE" >"$W/bg-token.env"
(
	# shellcheck disable=SC1091
	. "$W/bg-token.env"
	export SOFTHSM2_CONF P11VAULT_MODULE P11VAULT_TOKEN P11VAULT_PIN_SOURCE
	# the PIN through the environment, never argv
	PV_BG_PIN=$(cat "$W/bg-token/user.pin")
	export PV_BG_PIN
	pkcs11-tool --module "$P11VAULT_MODULE" --token-label bg --login --pin env:PV_BG_PIN \
		--write-object "$W/bg.key" --type privkey --id 42 --label bg --usage-decrypt >"$W/p11.out" 2>&1 ||
		fail "pkcs11-tool could not load bg.key"
	pkcs11-tool --module "$P11VAULT_MODULE" --token-label bg --login --pin env:PV_BG_PIN \
		--write-object "$W/bg.pem" --type pubkey --id 42 --label bg >"$W/p11.out" 2>&1 ||
		fail "pkcs11-tool could not load bg.pem"
	unset PV_BG_PIN

	say "before the adoption the raw token key opens nothing"
	run_expect 8 vc unwrap "$W/prod.bundle.json" --expect-context env=prod --format dotenv
	[ ! -s "$RUN_OUT" ] || fail "values printed before the adoption"

	say "adopted with purpose decrypt, it opens the bundle"
	run_expect 0 vc key adopt 'pkcs11:id=%42;type=private' --name bg --purpose decrypt
	run_expect 0 vc key show bg --json
	assert_eq "$(json_get "$RUN_OUT" purpose)" decrypt "purpose of the adopted key"
	run_expect 0 vc unwrap "$W/prod.bundle.json" --expect-context env=prod --format dotenv --out "$W/recovered.env"
	assert_contains "$W/recovered.env" 'postgres://recovered'
	assert_contains "$W/recovered.env" 'bg-only'
	assert_file_mode "$W/recovered.env" 600

	say "the token would let it sign; p11vault does not"
	printf 'x' >"$W/m"
	run_expect 8 vc sign bg --in "$W/m"
)
echo "break_glass: ok"
