"""In-process scheduling: the pure workflow core driven by a fake step runner.

No trio, no subprocesses, no files: only :class:`~stepup_trio.core.workflow.Workflow` and the
dump format. This isolates the cost of the graph algorithms from process start-up and I/O, so
that anything growing faster than the graph shows up here first (issue 5 wants at most 12x
from 1,000 to 10,000 steps).
"""

import gc
import random
import time
import tracemalloc
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from stepup_trio import store
from stepup_trio.collector import GraphFreezer
from stepup_trio.core.states import StepState
from stepup_trio.core.stephash import compute_step_hash
from stepup_trio.core.workflow import Workflow
from stepup_trio.hashing import FileHash
from stepup_trio.plugins import load_plugins

__all__ = ["SCHED_SHAPES", "SchedResult", "bench_scheduling", "step_inputs"]

# The inputs of step i in a graph of n steps: paths of static files or earlier outputs.
InputsOf = Callable[[int, int, random.Random], list[str]]

TREE_FAN_IN = 4
RANDOM_MAX_INPUTS = 3
#: Builds per shape and size; the fastest define and the fastest run loop are reported, as
#: timeit does: 1,000 steps take a few tens of milliseconds, which one slow spell of the
#: machine (or of its host) can double.
BUILDS = 3
RANDOM_SEED = 20261124


def out_path(i: int) -> str:
    return f"out/{i}"


def in_path(i: int) -> str:
    return f"in/{i}"


def wide_inputs(i: int, n: int, rng: random.Random) -> list[str]:
    """Independent steps: every step can be queued as soon as it is defined."""
    return [in_path(i)]


def chain_inputs(i: int, n: int, rng: random.Random) -> list[str]:
    """One line: a dependency path as long as the graph, which breaks recursive algorithms."""
    return [in_path(0)] if i == 0 else [out_path(i - 1)]


def tree_inputs(i: int, n: int, rng: random.Random) -> list[str]:
    """A 4-ary fan-in tree, numbered as a heap from the last step (the root) backwards.

    Step i is heap node j = n-1-i; its children 4j+1 ... 4j+4 have lower step numbers, so
    steps are defined leaves first and the layers of the tree follow the heap depth.
    """
    j = n - 1 - i
    children = [c for c in range(TREE_FAN_IN * j + 1, TREE_FAN_IN * j + TREE_FAN_IN + 1) if c < n]
    return [out_path(n - 1 - c) for c in children] if children else [in_path(i)]


def random_inputs(i: int, n: int, rng: random.Random) -> list[str]:
    """A seeded random DAG: up to three earlier outputs, or a static input if none."""
    count = rng.randint(0, min(RANDOM_MAX_INPUTS, i))
    return [out_path(k) for k in rng.sample(range(i), count)] or [in_path(i)]


SCHED_SHAPES: dict[str, InputsOf] = {
    "wide": wide_inputs,
    "chain": chain_inputs,
    "tree": tree_inputs,
    "random": random_inputs,
}


def step_inputs(shape: str, n: int) -> list[list[str]]:
    """The inputs of every step, generated before timing so the generator is not measured."""
    rng = random.Random(RANDOM_SEED)
    inputs_of = SCHED_SHAPES[shape]
    return [inputs_of(i, n, rng) for i in range(n)]


@dataclass
class SchedResult:
    """Times in seconds, memory in bytes; ``error`` when the run did not end as it should."""

    shape: str
    steps: int
    nodes: int = 0
    define_s: float | None = None
    run_s: float | None = None
    dump_s: float | None = None
    dump_bytes: int | None = None
    peak_bytes: int | None = None
    error: str | None = None


def fake_hash(path: str) -> FileHash:
    """A distinct, plausible file hash without touching the disk."""
    return FileHash(path.encode().ljust(64, b"\0")[:64], 0o100644, 1.0, 10, hash(path) & 0xFFFF)


def boot(kinds: Mapping[str, Any]) -> tuple[Workflow, Any]:
    """A workflow whose plan step is running, as when the director starts the plan."""
    workflow = Workflow.boot(kinds)
    plan = workflow.pop_queued()
    workflow.start(plan)
    return workflow, plan


def define_all(workflow: Workflow, plan: Any, inputs: list[list[str]]) -> None:
    """What a plan does: declare the static inputs, then define one step per output. As in
    the director, the growing graph is kept out of the garbage collector's scans."""
    statics = sorted({path for paths in inputs for path in paths if path.startswith("in/")})
    workflow.declare_static(plan, ["in/", "out/", *statics])
    freezer = GraphFreezer(workflow.graph)
    for i, inp in enumerate(inputs):
        command = f"cp {' '.join(inp)} {out_path(i)}"
        workflow.define_step(plan, command, inp=inp, out=[out_path(i)])
        freezer.grown()


def finish_ok(workflow: Workflow, step: Any) -> None:
    """The fake runner's success: output hashes and a step hash, as the director makes them."""
    inputs, outputs = workflow.hashed_paths(step)
    hashes = {node.path: fake_hash(node.path) for node in outputs}
    step_hash = compute_step_hash(
        step.key,
        [(node.path, node.hash or fake_hash(node.path)) for node in inputs],
        {},
        [(node.path, hashes[node.path]) for node in outputs],
    )
    workflow.finish(step, True, hashes, step_hash)


def run_all(workflow: Workflow) -> int:
    """Pop, start and finish until nothing is queued; return how many steps ran."""
    count = 0
    while (step := workflow.pop_queued()) is not None:
        workflow.start(step)
        finish_ok(workflow, step)
        count += 1
    return count


def build(
    kinds: Mapping[str, Any], inputs: list[list[str]], plan_done: bool = True
) -> tuple[Workflow, float, float]:
    """Boot, define and run the whole graph; return it with the define and run times."""
    # Garbage of an earlier graph would otherwise be collected inside this one's timing; it
    # was frozen with the graph (see define_all).
    gc.unfreeze()
    gc.collect()
    workflow, plan = boot(kinds)
    start = time.perf_counter()
    define_all(workflow, plan, inputs)
    defined = time.perf_counter()
    if plan_done:
        finish_ok(workflow, plan)
    run_all(workflow)
    return workflow, defined - start, time.perf_counter() - defined


def check_done(workflow: Workflow, steps: int) -> str | None:
    """Every step, the plan included, must have succeeded: a fast wrong schedule is no result."""
    states = [step.state for step in workflow.steps()]
    done = sum(state == StepState.SUCCEEDED for state in states)
    if len(states) != steps + 1 or done != len(states):
        return f"{done} of {len(states)} steps succeeded, expected {steps + 1}"
    return None


def measure_dump(workflow: Workflow, kinds: Mapping[str, Any]) -> tuple[float, int, str | None]:
    """Time serialize + deserialize; the loaded graph must have as many nodes."""
    gc.collect()
    start = time.perf_counter()
    data = store.serialize(workflow)
    loaded = store.deserialize(data, kinds)
    elapsed = time.perf_counter() - start
    if len(loaded.graph) != len(workflow.graph):
        return (
            elapsed,
            len(data),
            f"dump round trip: {len(loaded.graph)} nodes, not {len(workflow.graph)}",
        )
    return elapsed, len(data), None


def measure_peak(kinds: Mapping[str, Any], inputs: list[list[str]]) -> int:
    """Peak traced memory of a second, separate build: tracemalloc would distort the times."""
    gc.collect()
    tracemalloc.start()
    try:
        workflow, _, _ = build(kinds, inputs)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del workflow
    return peak


def bench_scheduling(
    shape: str, sizes: list[int], log: Callable[[str], None] = lambda message: None
) -> list[SchedResult]:
    """Time one shape at every size, one row per size; an exception of the core becomes the
    row's error.

    The sizes take turns, :data:`BUILDS` rounds of one build each, and the fastest define and
    run loop of each size count: a slow spell of the machine then hits all sizes, and does not
    show up as growth from one size to the next. The last round also checks the result and
    measures the dump round trip and, in one more build, the peak memory.
    """
    kinds = load_plugins().kinds
    results = {steps: SchedResult(shape, steps) for steps in sizes}
    inputs = {steps: step_inputs(shape, steps) for steps in sizes}
    for round_ in range(BUILDS):
        last = round_ == BUILDS - 1
        for steps, result in results.items():
            if result.error is not None:
                continue
            log(f"scheduling {shape} {steps}: build {round_ + 1}/{BUILDS}")
            try:
                workflow, define_s, run_s = build(kinds, inputs[steps])
                result.define_s = min(define_s, result.define_s or define_s)
                result.run_s = min(run_s, result.run_s or run_s)
                if last:
                    _check(result, workflow, kinds)
                del workflow
                if last:
                    result.peak_bytes = measure_peak(kinds, inputs[steps])
            except Exception as exc:  # A broken core is a result row, not a crash.
                result.error = f"{type(exc).__name__}: {exc}"
                log(f"scheduling {shape} {steps}: error: {result.error}")
    return list(results.values())


def _check(result: SchedResult, workflow: Workflow, kinds: Mapping[str, Any]) -> None:
    """The result must be right; then the dump round trip."""
    result.nodes = len(workflow.graph)
    result.error = check_done(workflow, result.steps)
    result.dump_s, result.dump_bytes, dump_error = measure_dump(workflow, kinds)
    result.error = result.error or dump_error
