#!/usr/bin/env python
from stepup.core.api import getenv, mkdir, step

# getenv() reads a variable in the plan, and the plan depends on it from then on.
name = getenv("NAME", "world")

# ${OUTDIR} in a path is filled in by stepup-trio. The plan depends on OUTDIR as well.
mkdir("${OUTDIR}/")

# $GREETING in the command is left to the shell. env= makes the step depend on it.
# (In an f-string, ${out} is written with double braces.)
step(f"echo $GREETING, {name}! > ${{out}}", env="GREETING", out="${OUTDIR}/greeting.txt")
step("cat ${inp}", inp="${OUTDIR}/greeting.txt")
