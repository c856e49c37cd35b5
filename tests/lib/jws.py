#!/usr/bin/env python3
"""JWS pieces for the JWT tests, written here independently of src/jose:
what an attacker (or a relying party) would compute by hand.

  jws.py input HEADER PAYLOAD     b64url(HEADER).b64url(PAYLOAD), the texts as given
  jws.py join INPUT SIG           INPUT.SIG (SIG: base64url, whitespace dropped)
  jws.py der2jose ALG DERFILE     an ECDSA DER signature as JOSE r||s (low-S), base64url
  jws.py twin ALG TOKEN           the token with its ECDSA s replaced by n - s
  jws.py is-low ALG TOKEN         exit 0 if the token's ECDSA s <= n/2, else 1
  jws.py kid JWKFILE              RFC 7638 thumbprint of a JWK (one key object)

ALG is ES256, ES384 or ES256K; TOKEN is a file holding one compact JWS.
"""
import base64
import hashlib
import json
import sys

# Group orders (SEC 2 v2, FIPS 186-4 D.1.2.3 and D.1.2.4).
ORDERS = {
    "ES256": (32, 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551),
    "ES384": (48, int("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF"
                      "581A0DB248B0A77AECEC196ACCC52973", 16)),
    "ES256K": (32, 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141),
}


def b64(b):
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def unb64(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def token(path):
    h, p, s = open(path).read().strip().split(".")
    return h, p, s


def der_ints(der):
    """r and s of an ECDSA-Sig-Value (short and long DER lengths)."""
    def length(i):
        n = der[i]
        if n < 0x80:
            return n, i + 1
        k = n & 0x7F
        return int.from_bytes(der[i + 1:i + 1 + k], "big"), i + 1 + k

    assert der[0] == 0x30
    _, i = length(1)
    out = []
    for _ in range(2):
        assert der[i] == 0x02
        n, i = length(i + 1)
        out.append(int.from_bytes(der[i:i + n], "big"))
        i += n
    return out


def main(argv):
    cmd = argv[1]
    if cmd == "input":
        print(b64(argv[2].encode()) + "." + b64(argv[3].encode()))
    elif cmd == "join":
        print(argv[2].strip() + "." + "".join(argv[3].split()))
    elif cmd == "der2jose":
        size, n = ORDERS[argv[2]]
        r, s = der_ints(open(argv[3], "rb").read())
        s = min(s, n - s)
        print(b64(r.to_bytes(size, "big") + s.to_bytes(size, "big")))
    elif cmd == "twin":
        size, n = ORDERS[argv[2]]
        h, p, sig = token(argv[3])
        raw = unb64(sig)
        assert len(raw) == 2 * size, "not an %s signature" % argv[2]
        s = int.from_bytes(raw[size:], "big")
        print("%s.%s.%s" % (h, p, b64(raw[:size] + (n - s).to_bytes(size, "big"))))
    elif cmd == "is-low":
        size, n = ORDERS[argv[2]]
        raw = unb64(token(argv[3])[2])
        return 0 if int.from_bytes(raw[size:], "big") <= n // 2 else 1
    elif cmd == "kid":
        k = json.load(open(argv[2]))
        req = {"EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x"), "RSA": ("e", "kty", "n")}[k["kty"]]
        text = json.dumps({m: k[m] for m in req}, separators=(",", ":"), sort_keys=True)
        print(b64(hashlib.sha256(text.encode()).digest()))
    else:
        sys.exit("jws.py: unknown command %s" % cmd)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
