#!/bin/bash
# token_outage.sh with SoftHSM behind `p11-kit server` and vaultd on
# p11-kit-client.so: the server killed and restarted after 1 s and 10 s
# under load (the case where vaultd used to keep the old slot id forever).
set -eu
PV_OUTAGE_MODE=p11kit
. "$top_srcdir/tests/integration/token_outage.sh"
