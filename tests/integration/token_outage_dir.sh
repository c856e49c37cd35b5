#!/bin/bash
# SoftHSM's token directory moved away for 1 s and 10 s under load and moved
# back: an outage like any other (503 token_unavailable, never 404 or 500),
# signing back without a restart.
set -eu
PV_OUTAGE_MODE=tokendir
. "$top_srcdir/tests/integration/token_outage.sh"
