#!/usr/bin/env python
from stepup.core.api import pool, static, step

static("simulate.sh")

# At most one step of the pool "memory" runs at a time, however many workers there are.
pool("memory", 1)
for name in "alpha", "beta", "gamma":
    step("./simulate.sh ${out}", inp="simulate.sh", out=f"{name}.txt", pool="memory")

# This step is not in a pool. It waits only for the three results.
step("cat ${inp}", inp=["alpha.txt", "beta.txt", "gamma.txt"])
