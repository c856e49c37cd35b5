#!/bin/bash
# A short chaos run in the suite (tools/vault-bench/chaos.sh; the full one
# is `make bench-chaos`, docs/operations.md "Chaos run"): 30 s at half the
# measured capacity against vaultd on p11-kit-client.so, one p11-kit server
# outage and one full audit disk; every invariant of the full run holds (0
# wrong signatures, every 200 has its audit line, only 200 or 503, signing
# back after the outage, audit verify, SIGTERM exit 0). It is the load the
# curl loops of token_outage_p11kit.sh never reach: a recovery that tears
# the module down under calls in flight aborted vaultd here.
set -eu
. "$top_srcdir/tests/lib/common.sh"
[ "$(id -u)" = 0 ] || skip "the chaos run mounts a tmpfs for the audit log: needs root"
need_cmd p11-kit
need_cmd setsid
need_cmd curl
[ -x "$top_builddir/vault-chaos" ] || skip "vault-chaos is not built"
rc=0
CHAOS_SECONDS=30 CHAOS_CAPACITY_SECONDS=3 CHAOS_FULL_SECONDS=3 CHAOS_LOAD=0.5 TMPDIR=$PV_WORK \
	bash "$top_srcdir/tools/vault-bench/chaos.sh" >"$PV_OUT/chaos.out" 2>&1 || rc=$?
cat "$PV_OUT/chaos.out"
[ "$rc" = 0 ] || fail "the short chaos run failed (exit $rc; summary above)"
