#!/bin/bash
# The docs name what the code has (tests/docs_consistency.py, names read
# from the source): every vaultctl command and subcommand in docs/cli.md and
# vaultctl.1, every vaultd route in docs/api.md, every vaultd.json member
# and policy operation in docs/config.md. Then the check itself on a copy of
# those files with a fake subcommand, group, command, route, member and
# operation added and a documented command taken out of docs/cli.md: each
# must be reported, so the check cannot pass by finding nothing.
set -eu
. "$top_srcdir/tests/lib/common.sh"
need_cmd python3
CHECK=$top_srcdir/tests/docs_consistency.py
W=$PV_WORK

say "the source tree: nothing undocumented"
run_expect 0 python3 "$CHECK" "$top_srcdir"
cat "$RUN_OUT"
summary=$(tail -n 1 "$RUN_OUT")
read -r ncmd nroute nmember nop < <(sed -E 's/^docs_consistency: ([0-9]+) vaultctl commands, ([0-9]+) routes, ([0-9]+) config members, ([0-9]+) operations.*/\1 \2 \3 \4/' <<<"$summary")
[ "$ncmd" -ge 30 ] && [ "$nroute" -ge 20 ] && [ "$nmember" -ge 50 ] && [ "$nop" -ge 10 ] ||
	fail "the extractors found too few names: $summary"

say "a copy with undocumented names added: each one is reported"
T=$W/tree
mkdir -p "$T/tools/vaultctl" "$T/src/vaultd" "$T/src/config" "$T/docs"
cp "$top_srcdir"/tools/vaultctl/*.c "$T/tools/vaultctl/"
cp "$top_srcdir/src/vaultd/routes.h" "$T/src/vaultd/"
cp "$top_srcdir"/src/config/*.c "$T/src/config/"
cp "$top_srcdir"/docs/{cli.md,vaultctl.1,api.md,config.md} "$T/docs/"
# a subcommand in an existing group, a command at the top, a new group
sed -i 's/^static const struct subcommand key_commands\[\] = {$/&\n    {"frobnicate", key_create_main, "fake"},/' "$T/tools/vaultctl/key.c"
sed -i 's/^static const struct subcommand commands\[\] = {$/&\n    {"frobtop", doctor_main, "fake"},/' "$T/tools/vaultctl/main.c"
cat >"$T/tools/vaultctl/zz_fake.c" <<'C'
static const struct subcommand fakegroup_commands[] = {
    {"run", fake_run_main, "fake"},
};

int
fakegroup_main(struct vctl *c, int argc, char *argv[])
{
	return subcommand_dispatch(c, fakegroup_commands, PV_NELEM(fakegroup_commands), "fakegroup", argc - 1,
				   argv + 1);
}
C
# a route, a config member, an operation
sed -i 's|^#define VD_ROUTES(X) *\\$|&\n\tX(FAKE, "DELETE", "/v1/fake/{name}", KEY, "fake", PV_OP_SIGN, 0, vd_h_fake) \\|' \
	"$T/src/vaultd/routes.h"
sed -i 's/"issuer", "default_ttl", NULL/"issuer", "default_ttl", "fake_member", NULL/' "$T/src/config/config.c"
sed -i 's/"sign", *"verify",/"sign", "fake.op", "verify",/' "$T/src/config/config.c"
# a documented command taken out of docs/cli.md
grep -v 'client add' "$T/docs/cli.md" >"$T/docs/cli.md.new" && mv "$T/docs/cli.md.new" "$T/docs/cli.md"
run_expect 1 python3 "$CHECK" "$T"
cat "$RUN_OUT"
for want in "docs/cli.md: vaultctl key frobnicate" "docs/vaultctl.1: vaultctl key frobnicate" \
	"docs/cli.md: vaultctl frobtop" "docs/vaultctl.1: vaultctl frobtop" \
	"docs/cli.md: vaultctl fakegroup run" "docs/vaultctl.1: vaultctl fakegroup run" \
	"docs/api.md: DELETE /v1/fake/{name}" "docs/config.md: member \`fake_member\`" \
	"docs/config.md: operation \`fake.op\`" "docs/cli.md: vaultctl client add"; do
	assert_contains "$RUN_OUT" "missing: $want"
done
assert_not_contains "$RUN_OUT" "docs/vaultctl.1: vaultctl client add" "client add is still in vaultctl.1"

say "a table the check cannot tie to its group is an error, not a pass"
sed -i 's/subcommand_dispatch(c, fakegroup_commands/dispatch_elsewhere(c, fakegroup_commands/' \
	"$T/tools/vaultctl/zz_fake.c"
run_expect 1 python3 "$CHECK" "$T"
assert_contains "$RUN_OUT" "broken: tools/vaultctl/zz_fake.c: table fakegroup_commands"
echo "docs_consistency: ok"
