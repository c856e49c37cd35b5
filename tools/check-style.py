#!/usr/bin/env python3
"""Banned constructs in C sources, for `make check-style` (with clang-format).

    tools/check-style.py FILE...

Prints FILE:LINE: what and why for each hit and exits 1 if there is one.
Comments and string literals are not code and are never matched. The rules:

1. No strcpy, strcat, sprintf, vsprintf or gets: they write without a bound.
   Use memcpy with a checked length, snprintf/vsnprintf, or the bounded
   buffer (src/base/buf.h).

2. No memcmp on secret or authentication data: memcmp returns as soon as a
   byte differs, so its time tells how much of a guess was right. A memcmp
   call is flagged when an identifier in its arguments (between its
   parentheses, across lines) has one of the words pin, token, secret,
   password, seed, tag, mac, hmac, hash, key (plural too). Identifiers are
   split into words at "_" and at a lower-to-upper case change, so
   token_sha256, l->mac, expectedTag and account_keys are hits, cert_sha256,
   etag and keyid are not. Use sodium_memcmp (libsodium) or CRYPTO_memcmp
   (OpenSSL). Where the data is public after all (a public key, a test's
   known answer), say so with a comment containing "public:" and the reason,
   on a line of the call or the line before it; that marks the comparison
   as reviewed.

3. No sizeof(x) / sizeof(x[0]) (nor sizeof x / sizeof x[0],
   sizeof(x) / sizeof((x)[0]) or sizeof(x) / sizeof(*x)): that is
   PV_NELEM(x) (src/base/defs.h, the one place that spells it out).
"""
import re
import sys

BANNED = {
    "strcpy": "unbounded copy: memcpy with a checked length",
    "strcat": "unbounded append: memcpy at a known offset, or the bounded buffer (base/buf.h)",
    "sprintf": "unbounded format: snprintf",
    "vsprintf": "unbounded format: vsnprintf",
    "gets": "unbounded read: fgets",
}
SECRET_WORDS = {"pin", "token", "secret", "password", "seed", "tag", "mac", "hmac", "hash", "key"}
REVIEWED = "public:"


def code_only(text):
    """text with comments and string/char literals blanked (newlines kept)."""
    out = list(text)
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
        else:
            i += 1
            continue
        for k in range(i, j):
            if out[k] != "\n":
                out[k] = " "
        i = j
    return "".join(out)


def line_of(text, pos):
    return text.count("\n", 0, pos) + 1


def closing_paren(code, open_pos):
    """Index of the parenthesis closing the one at open_pos (or len)."""
    depth = 0
    for k in range(open_pos, len(code)):
        if code[k] == "(":
            depth += 1
        elif code[k] == ")":
            depth -= 1
            if depth == 0:
                return k
    return len(code)


def words(identifier):
    for part in identifier.split("_"):
        for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+", part):
            yield w.lower()


def secret_word(args):
    for ident in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", args):
        for w in words(ident):
            for cand in (w, w[:-1] if w.endswith("s") else None, w[:-2] if w.endswith("es") else None):
                if cand in SECRET_WORDS:
                    return ident
    return None


def sizeof_operand(code, pos):
    """The operand of the sizeof ending at pos, without spaces and outer
    parentheses, and where it ends."""
    n = len(code)
    while pos < n and code[pos].isspace():
        pos += 1
    if pos < n and code[pos] == "(":
        end = closing_paren(code, pos)
        expr, pos = code[pos + 1 : end], end + 1
    else:
        m = re.compile(r"\*?\s*[A-Za-z_][\w.]*(?:->[\w.]+)*(?:\s*\[[^\]]*\])*").match(code, pos)
        if not m:
            return None, pos
        expr, pos = m.group(0), m.end()
    expr = re.sub(r"\s+", "", expr)
    while expr.startswith("(") and closing_paren(expr, 0) == len(expr) - 1:
        expr = expr[1:-1]
    return expr, pos


def element_of(whole, elem):
    """Whether elem names one element of whole: whole[0] or *whole."""
    for form in (whole + "[0]", "(" + whole + ")[0]", "*" + whole, "*(" + whole + ")"):
        if elem == form:
            return True
    return False


def check(path):
    try:
        text = open(path, encoding="utf-8", errors="replace").read()
    except OSError as e:
        return ["%s: cannot read: %s" % (path, e.strerror)]
    code = code_only(text)
    lines = text.split("\n")
    hits = []

    for m in re.finditer(r"\b(strcpy|strcat|sprintf|vsprintf|gets)\s*\(", code):
        hits.append((line_of(code, m.start()), "%s: %s" % (m.group(1), BANNED[m.group(1)])))

    for m in re.finditer(r"\bmemcmp\s*\(", code):
        close = closing_paren(code, m.end() - 1)
        ident = secret_word(code[m.end() : close])
        if ident is None:
            continue
        first, last = line_of(code, m.start()), line_of(code, close)
        if any(REVIEWED in lines[k - 1] for k in range(max(first - 1, 1), last + 1)):
            continue
        hits.append(
            (
                first,
                "memcmp over %s: sodium_memcmp or CRYPTO_memcmp for secret or authentication "
                'data (or a "%s" comment saying why it is not)' % (ident, REVIEWED),
            )
        )

    for m in re.finditer(r"\bsizeof\b", code):
        whole, after = sizeof_operand(code, m.end())
        if whole is None:
            continue
        d = re.compile(r"\s*/\s*sizeof\b").match(code, after)
        if not d:
            continue
        elem, _ = sizeof_operand(code, d.end())
        if elem is None or not element_of(whole, elem):
            continue
        if "#define PV_NELEM" in lines[line_of(code, m.start()) - 1]:
            continue
        hits.append((line_of(code, m.start()), "element count spelled out: PV_NELEM(%s)" % whole))

    return ["%s:%d: %s" % (path, line, what) for line, what in sorted(hits)]


def main(argv):
    bad = []
    for path in argv[1:]:
        bad.extend(check(path))
    for b in bad:
        print(b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
