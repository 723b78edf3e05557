"""Benchmarks of stepup-trio: ``python -m stepup_trio.bench``.

Speed goals are measured here, never in timed tests. Each concern is one module, so that a new
end-to-end shape or compared tool is one more function next to the existing ones:

- :mod:`stepup_trio.bench.workloads` writes a plan.py and its input files for a shape and size;
- :mod:`stepup_trio.bench.ninja` writes the same graph as a build.ninja for ``--compare ninja``;
- :mod:`stepup_trio.bench.tools` says how each tool (this stepup, ``--compare``) is run;
- :mod:`stepup_trio.bench.e2e` runs the tools alternately on copies of a workload and times them;
- :mod:`stepup_trio.bench.memory` samples the memory of a tool's processes from /proc;
- :mod:`stepup_trio.bench.scheduling` drives the workflow core in process with a fake runner;
- :mod:`stepup_trio.bench.hashing` compares the file hasher with the raw hash function;
- :mod:`stepup_trio.bench.report`, :mod:`~stepup_trio.bench.e2e_report` and
  :mod:`~stepup_trio.bench.tables` print the plain tables or the JSON document.
"""

__all__: list[str] = []
