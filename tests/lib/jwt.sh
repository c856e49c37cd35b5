# shellcheck shell=bash
# JWT helpers for the integration tests, on top of tests/lib/common.sh:
#
#   jws ARGS...                        tests/lib/jws.py (JWS pieces by hand)
#   jwt_forge_p11 ID KID PAYLOAD OUT   an ES256 token with header kid KID and
#                                      the JSON text PAYLOAD, signed (low-S)
#                                      outside p11vault by pkcs11-tool with the
#                                      P-256 token key whose CKA_ID is ID
#
# The forgery is what someone holding the key on the token could sign: it
# lets a test put claims in a validly signed token that p11vault itself
# never issues.

jws() { python3 "$top_srcdir/tests/lib/jws.py" "$@"; }

jwt_forge_p11() {
	local id=$1 kid=$2 w=$PV_WORK/forge
	mkdir -p "$w"
	jws input "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"$kid\"}" "$3" >"$w/input"
	tr -d '\n' <"$w/input" >"$w/tbs"
	sha sha256 "$w/tbs" >"$w/digest"
	p11tool_login --sign -m ECDSA --id "$id" -i "$w/digest" -o "$w/sig.der" -f openssl >"$w/p11.out" 2>&1 || {
		cat "$w/p11.out" >&2
		fail "pkcs11-tool cannot sign with the key of id $id"
	}
	jws join "$(cat "$w/input")" "$(jws der2jose ES256 "$w/sig.der")" >"$4"
}
