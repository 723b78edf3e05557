"""Benchmarks of stepup-trio: ``python -m stepup_trio.bench``.

Speed goals are measured here, never in timed tests. Each group is one module, so that new
end-to-end shapes or a ``--compare`` tool can be added next to the existing ones:

- :mod:`stepup_trio.bench.workloads` writes a plan.py and its input files for a shape and size;
- :mod:`stepup_trio.bench.e2e` runs the real ``stepup`` command on them and times it;
- :mod:`stepup_trio.bench.scheduling` drives the workflow core in process with a fake runner;
- :mod:`stepup_trio.bench.hashing` compares the file hasher with the raw hash function;
- :mod:`stepup_trio.bench.report` prints the plain table or the JSON document.
"""

__all__: list[str] = []
