#!/bin/sh
# Run the example twice, with another value of GREETING the second time.
set -e
unset NAME
export OUTDIR=public
echo '$ GREETING=Hello stepup -n -w1'
GREETING=Hello stepup -n -w1
echo '$ GREETING=Goodbye stepup -n -w1'
GREETING=Goodbye stepup -n -w1
