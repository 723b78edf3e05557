#!/usr/bin/env python
from stepup.core.api import glob, mkdir, static, step

# The parent directory of the matches must be static before glob() declares them.
static("data/")
mkdir("out/")

# One step per text file. ${*name} captures the part of the path that matched.
for match in glob("data/${*name}.txt"):
    step("wc -w < ${inp} > ${out}", inp=match.single, out=f"out/{match.name}.count")

# Deferred glob: files in notes/ become static only when a step uses one of them.
static("notes/")
glob("notes/*.txt", _defer=True)
step("cat ${inp}", inp="notes/monday.txt")
