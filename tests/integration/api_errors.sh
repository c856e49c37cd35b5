#!/bin/bash
# docs/api.md §3 against the code: every (status, code) vaultd can answer
# with — the literals in src/vaultd/*.c (vd_reply_error, vd_reply_errorf,
# vd_dispatch_reject) and every row of reply.c's pv_err table — is in the
# documented error table with that status, and every documented code is
# one the code can answer with. Reads the sources and the document, needs
# no daemon; it fails on a code added on one side only.
set -eu
. "$top_srcdir/tests/lib/common.sh"
need_cmd python3

# check_docs TOP: the check over the tree at TOP; its report on stdout.
check_docs() {
	python3 - "$1" <<'EOF'
import glob, os, re, sys

top = sys.argv[1]
doc = open(os.path.join(top, "docs/api.md"), encoding="utf-8").read()

# the table of "## 3. Errors": | status | `code`, `code` | when |
sec = doc.split("## 3. Errors", 1)[1].split("\n## ", 1)[0]
documented = {}
for line in sec.splitlines():
    m = re.match(r"\|\s*(\d{3})\s*\|([^|]*)\|", line)
    if not m:
        continue
    for code in re.findall(r"`([a-z_]+)`", m.group(2)):
        if code in documented and documented[code] != int(m.group(1)):
            sys.exit("docs/api.md §3: %s is documented with two statuses" % code)
        documented[code] = int(m.group(1))
if len(documented) < 10:
    sys.exit("docs/api.md §3: the error table was not found (%d codes)" % len(documented))

mhd = {"UNAUTHORIZED": 401, "CONTENT_TOO_LARGE": 413, "PAYLOAD_TOO_LARGE": 413,
       "FORBIDDEN": 403, "BAD_REQUEST": 400, "SERVICE_UNAVAILABLE": 503}
emitted = {}  # (status, code) -> where
for path in sorted(glob.glob(os.path.join(top, "src/vaultd/*.c"))):
    if path.endswith("_test.c"):
        continue
    text = open(path, encoding="utf-8").read()
    name = os.path.relpath(path, top)
    for m in re.finditer(r"vd_reply_errorf?\s*\(\s*[^,;]+,\s*(\d{3})\s*,\s*\"([a-z_]+)\"", text):
        emitted.setdefault((int(m.group(1)), m.group(2)), name)
    for m in re.finditer(r"vd_dispatch_reject\s*\([^;]*?MHD_HTTP_([A-Z_]+)\s*,\s*\"([a-z_]+)\"", text):
        if m.group(1) not in mhd:
            sys.exit("%s: vd_dispatch_reject with MHD_HTTP_%s: add its number here" % (name, m.group(1)))
        emitted.setdefault((mhd[m.group(1)], m.group(2)), name)
    # reply.c: ROW(PV_ERR_X, status, "code", token)
    for m in re.finditer(r"ROW\(\s*PV_\w+\s*,\s*(\d{3})\s*,\s*\"([a-z_]+)\"", text):
        emitted.setdefault((int(m.group(1)), m.group(2)), name + " (error table)")
    # a literal code without a literal status next to it would escape this
    # check: refuse the shapes it cannot read
    for m in re.finditer(r"vd_reply_errorf?\s*\(\s*[^,;]+,\s*([A-Za-z_][\w.>-]*)\s*,\s*\"", text):
        sys.exit("%s: vd_reply_error with status %s: use a number so that the docs check reads it"
                 % (name, m.group(1)))
if not any(w.endswith("(error table)") for w in emitted.values()):
    sys.exit("reply.c's error table was not found")

bad = 0
for (status, code), where in sorted(emitted.items()):
    if code not in documented:
        print("%s answers %d %s, which docs/api.md §3 does not list" % (where, status, code))
        bad = 1
    elif documented[code] != status:
        print("%s answers %s with %d; docs/api.md §3 says %d" % (where, code, status, documented[code]))
        bad = 1
codes = {c for (_, c) in emitted}
for code in sorted(documented):
    if code not in codes:
        print("docs/api.md §3 lists %s, which no code answers with" % code)
        bad = 1
print("%d codes documented, %d (status, code) pairs in the code" % (len(documented), len(emitted)))
sys.exit(bad)
EOF
}

check_docs "$top_srcdir" >"$PV_WORK/api_errors.out" 2>&1 || {
	cat "$PV_WORK/api_errors.out" >&2
	fail "the error codes of the code and of docs/api.md §3 differ"
}
cat "$PV_WORK/api_errors.out"

# the check can fail: a copy of the tree with a code the document does not
# list, then with a documented code no code answers with
F=$PV_WORK/fake
mkdir -p "$F/src/vaultd" "$F/docs"
cp "$top_srcdir/docs/api.md" "$F/docs/"
cp "$top_srcdir/src/vaultd/"*.c "$F/src/vaultd/"
check_docs "$F" >"$PV_WORK/fake.out" 2>&1 || fail "the copy of the tree does not pass: $(cat "$PV_WORK/fake.out")"
printf 'void f(struct vd_ctx *c) { vd_reply_error(c->resp, 418, "teapot", "x"); }\n' >"$F/src/vaultd/zz.c"
if check_docs "$F" >"$PV_WORK/fake.out" 2>&1; then
	fail "an undocumented code passed the check"
fi
assert_contains "$PV_WORK/fake.out" "418 teapot"
rm "$F/src/vaultd/zz.c"
sed -i 's/| 429 | `rate_limited` |/| 429 | `rate_limited`, `slow_down` |/' "$F/docs/api.md"
if check_docs "$F" >"$PV_WORK/fake.out" 2>&1; then
	fail "a documented code no code answers with passed the check"
fi
assert_contains "$PV_WORK/fake.out" "slow_down"
echo "ok"
