#!/usr/bin/env python3
"""tests/docs_consistency.py [SRCDIR]: the docs name what the code has.

Names are read from the source, never listed here:
- every vaultctl command and subcommand: the `struct subcommand` tables in
  tools/vaultctl/*.c, each tied to its group by its subcommand_dispatch()
  call ("key" + "create" is `key create`), must be in docs/cli.md and in
  docs/vaultctl.1;
- every route of vaultd's route table (VD_ROUTES in src/vaultd/routes.h),
  as `METHOD PATH`, must be in docs/api.md;
- every vaultd.json member the config parser accepts (the NULL-terminated
  name lists passed to pv_json_object / pv_json_as_object in
  src/config/*.c), and every policy operation name (op_names), must be in
  docs/config.md as a code span.

Where a command counts as documented: in docs/cli.md, inside a code span or
a code block; in vaultctl.1, inside bold text or a font macro line (.B,
.BI, ...); and there at the start of the text, after "vaultctl ", or after
a comma, semicolon, "|" or "(" (so "sign" in prose does not count).

Prints each missing name and the counts; exit 1 when a name is missing or
when an extractor found nothing (a table it no longer understands).
"""
import os
import re
import sys

SRC = sys.argv[1] if len(sys.argv) > 1 else "."
missing = []
broken = []


def read(rel):
    with open(os.path.join(SRC, rel), encoding="utf-8") as f:
        return f.read()


def c_files(rel_dir):
    d = os.path.join(SRC, rel_dir)
    return sorted(os.path.join(rel_dir, n) for n in os.listdir(d) if n.endswith(".c") and not n.endswith("_test.c"))


# ---- vaultctl: the subcommand tables ----
def vaultctl_commands():
    cmds = []
    for rel in c_files("tools/vaultctl"):
        text = read(rel)
        tables = re.findall(r"static\s+const\s+struct\s+subcommand\s+(\w+)\s*\[\]\s*=\s*\{(.*?)\n\};", text, re.S)
        for table, body in tables:
            m = re.search(r"subcommand_dispatch\s*\(\s*&?\w+\s*,\s*" + table + r"\s*,[^,]*,\s*(NULL|\"([^\"]+)\")",
                          text)
            if m is None:
                broken.append("%s: table %s has no subcommand_dispatch() call naming its group" % (rel, table))
                continue
            group = m.group(2)
            names = re.findall(r"\{\s*\"([^\"]+)\"\s*,", body)
            if not names:
                broken.append("%s: table %s: no entries found" % (rel, table))
            for n in names:
                cmds.append(n if group is None else group + " " + n)
    # a top-level command that is a group is documented by its subcommands
    groups = {c.split(" ")[0] for c in cmds if " " in c}
    return [c for c in cmds if c not in groups]


def md_code_texts(md):
    """The lines of fenced code blocks and the inline code spans (which may
    run across lines) of the rest, whitespace collapsed."""
    out, prose, fenced = [], [], False
    for line in md.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            prose.append("")
        elif fenced:
            out.append(line.strip())
            prose.append("")
        else:
            prose.append(line)
    out.extend(re.findall(r"`([^`]+)`", "\n".join(prose)))
    return [re.sub(r"\s+", " ", t).strip() for t in out]


def roff_plain(s):
    s = s.replace("\\-", "-").replace("\\ ", " ").replace("\\(em", "-").replace("\\&", "")
    s = re.sub(r"\\f[BIRP]|\\f\(\w\w|\\f\[\w*\]", "", s)
    return s


FONT_MACROS = {"B", "BI", "BR", "IB", "RB", "I", "IR", "RI", "SB"}


def man_bold_texts(man):
    """The text of font macro lines (arguments joined) and of \\fB...\\fR runs."""
    out = []
    for line in man.splitlines():
        m = re.match(r"\.(\w+)\s*(.*)$", line)
        if m and m.group(1) in FONT_MACROS:
            args = re.findall(r'"((?:[^"]|"")*)"|(\S+)', m.group(2))
            out.append(roff_plain("".join(a if a or not b else b + " " for a, b in args).replace('""', '"')))
        for run in re.findall(r"\\fB(.*?)(?=\\f[RIP]|$)", line):
            out.append(roff_plain(run))
    return [re.sub(r"\s+", " ", t).strip() for t in out]


def documented(cmd, texts):
    pat = re.compile(r"(?:^|vaultctl\s+|[,;|(]\s*)" + re.escape(cmd).replace("\\ ", r"\s+") + r"(?![\w-])")
    return any(pat.search(t) for t in texts)


cmds = vaultctl_commands()
cli_texts = md_code_texts(read("docs/cli.md"))
man_texts = man_bold_texts(read("docs/vaultctl.1"))
for c in cmds:
    if not documented(c, cli_texts):
        missing.append("docs/cli.md: vaultctl %s" % c)
    if not documented(c, man_texts):
        missing.append("docs/vaultctl.1: vaultctl %s" % c)

# ---- vaultd: the route table ----
routes = re.findall(r"X\(\s*\w+\s*,\s*\"([A-Z]+)\"\s*,\s*\"([^\"]+)\"", read("src/vaultd/routes.h"))
api = read("docs/api.md")
for method, path in routes:
    if not re.search(re.escape(method) + r"\s+" + re.escape(path) + r"(?![\w/{}.-])", api):
        missing.append("docs/api.md: %s %s" % (method, path))

# ---- vaultd.json: the member lists of the config parser, the operations ----
members, ops = set(), set()
for rel in c_files("src/config"):
    text = read(rel)
    arrays = re.findall(r"static\s+const\s+char\s*\*\s*const\s+(\w+)\s*\[\w*\]\s*=\s*\{(.*?)\};", text, re.S)
    passed = set(re.findall(r"pv_json_(?:as_)?object\s*\([^;]*?\b(\w+)\s*(?:,\s*&\w+\s*)?\)", text))
    for name, body in arrays:
        if name in passed:
            members.update(re.findall(r"\"([^\"]+)\"", body))
        if name == "op_names":
            ops.update(re.findall(r"\"([^\"]+)\"", body))
cfg_spans = set(md_code_texts(read("docs/config.md")))
for m in sorted(members):
    if m not in cfg_spans:
        missing.append("docs/config.md: member `%s`" % m)
for o in sorted(ops):
    if o not in cfg_spans:
        missing.append("docs/config.md: operation `%s`" % o)

for what, n in (("vaultctl commands", len(cmds)), ("routes", len(routes)), ("config members", len(members)),
                ("operations", len(ops))):
    if n == 0:
        broken.append("no %s found in the source: the extractor no longer understands it" % what)

for m in missing:
    print("missing: " + m)
for b in broken:
    print("broken: " + b)
print("docs_consistency: %d vaultctl commands, %d routes, %d config members, %d operations; %d missing"
      % (len(cmds), len(routes), len(members), len(ops), len(missing)))
sys.exit(1 if missing or broken else 0)
