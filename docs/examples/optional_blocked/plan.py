#!/usr/bin/env python
from stepup.core.api import step

# Two optional steps. Only the first one is needed by a mandatory step, so only it runs.
step("echo 3 1 2 > ${out}", out="numbers.txt", optional=True)
step("echo 'Nobody reads this.' > ${out}", out="unused.txt", optional=True)
step("tr ' ' '\\n' < ${inp} | sort > ${out}", inp="numbers.txt", out="sorted.txt")

# A blocked step never starts, and neither does the step that needs its output.
step("echo 'This took all night.' > ${out}", out="slow.txt", block=True)
step("cat ${inp}", inp="slow.txt")
