"""Generated end-to-end workloads: a plan.py and its input files in a fresh folder.

The steps of each shape come from one small "graph function" that returns the static inputs
and the steps as ``(command, inputs, output)`` triples. Its source is copied into plan.py, and
the same function gives the graph to :mod:`stepup_trio.bench.ninja`, so that stepup, StepUp
1.3.1 and ninja build exactly the same graph. The graph functions use only builtins and the
plan imports only ``stepup.core.api``, so the plan runs unchanged with StepUp 1.3.1.
"""

import dataclasses
import inspect
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "BIG_FILE_MIB",
    "BIG_STEPS_PER",
    "SHAPES",
    "Graph",
    "StepSpec",
    "Workload",
    "copy_workload",
    "disk_estimate",
    "generate",
    "list_files",
    "remove_others",
    "tree_leaves",
]

SHEBANG = "#!/usr/bin/env python"
MIB = 1 << 20
# bigfiles: one step per BIG_STEPS_PER steps of N, each copying a BIG_FILE_MIB file. N=1000
# gives 10 steps: 160 MiB of inputs and 160 MiB of outputs, about 1 GB with two compared tools.
BIG_FILE_MIB = 16
BIG_STEPS_PER = 100
TREE_FAN_IN = 4

# (command with ${inp} and ${out}, input paths, output path), as passed to step().
StepSpec = tuple[str, list[str], str]
Graph = tuple[list[str], list[StepSpec]]


@dataclass(frozen=True)
class Workload:
    """What a generator wrote, and what the runner needs to know about it.

    Paths are relative to ``folder``, so that a copy for another tool only changes the folder.
    """

    shape: str
    # The size asked for (N of --steps); the graph has ``len(steps)`` steps.
    size: int
    folder: Path
    static: list[str] = dataclasses.field(repr=False)
    steps: list[StepSpec] = dataclasses.field(repr=False)
    # The input file that the one-change rebuild modifies.
    change: str
    # An output that must equal the concatenation of probe_sources after every build: a cheap
    # check that a fast run also gave the right result.
    probe: str
    probe_sources: tuple[str, ...]

    @property
    def step_count(self) -> int:
        return len(self.steps)

    def path(self, relative: str) -> Path:
        return self.folder / relative


# The graph functions below are copied into plan.py: builtins only, no module globals.


def copies(n: int, ext: str) -> Graph:
    """N independent copies in/i -> out/i."""
    inputs = [f"in/{i}{ext}" for i in range(n)]
    steps = [("cp ${inp} ${out}", [path], f"out/{i}{ext}") for i, path in enumerate(inputs)]
    return inputs, steps


def chain_graph(n: int) -> Graph:
    """Step 0 copies in/0.txt, step i copies the output of step i-1."""
    steps = [("cp ${inp} ${out}", ["in/0.txt"], "out/0.txt")]
    for i in range(1, n):
        steps.append(("cp ${inp} ${out}", [f"out/{i - 1}.txt"], f"out/{i}.txt"))
    return ["in/0.txt"], steps


def tree_graph(leaves: int) -> Graph:
    """Layer 0 copies each input; each next layer cats 4 outputs of the one below into one."""
    inputs = [f"in/{i}.txt" for i in range(leaves)]
    steps = []
    layer = []
    for i, path in enumerate(inputs):
        layer.append(f"out/0_{i}.txt")
        steps.append(("cp ${inp} ${out}", [path], layer[-1]))
    depth = 0
    while len(layer) > 1:
        depth += 1
        below, layer = layer, []
        for j in range(0, len(below), 4):
            layer.append(f"out/{depth}_{j // 4}.txt")
            steps.append(("cat ${inp} > ${out}", below[j : j + 4], layer[-1]))
    return inputs, steps


def tree_size(leaves: int) -> int:
    """Steps of tree_graph(leaves), without building it."""
    total = layer = leaves
    while layer > 1:
        layer = -(-layer // TREE_FAN_IN)
        total += layer
    return total


def tree_leaves(n: int) -> int:
    """The most leaves whose tree has at most ``n`` steps (at least one): about 3n/4."""
    leaves = max(1, n * (TREE_FAN_IN - 1) // TREE_FAN_IN + 1)
    while leaves > 1 and tree_size(leaves) > n:
        leaves -= 1
    return leaves


def big_steps(n: int) -> int:
    return max(1, n // BIG_STEPS_PER)


def plan_text(function: Callable[..., Graph], args: str) -> str:
    """plan.py: the graph function's source, then one static(), mkdir() and step() per step."""
    return "\n".join(
        [
            SHEBANG,
            '"""A benchmark workload, written by python -m stepup_trio.bench."""',
            "",
            "from __future__ import annotations",
            "",
            "from stepup.core.api import mkdir, static, step",
            "",
            "",
            inspect.getsource(function).rstrip(),
            "",
            "",
            f"STATIC, STEPS = {function.__name__}({args})",
            'static("in/", STATIC)',
            'mkdir("out/")',
            "for command, inp, out in STEPS:",
            "    step(command, inp=inp, out=out)",
            "",
        ]
    )


def write_plan(folder: Path, function: Callable[..., Graph], args: str) -> Path:
    """Write an executable plan.py: stepup refuses a plan without shebang or exec bit."""
    path = folder / "plan.py"
    path.write_text(plan_text(function, args))
    path.chmod(0o755)
    return path


def write_text_inputs(folder: Path, paths: list[str]) -> None:
    """Each small input gets distinct content, so the tree's root proves the order of cat."""
    (folder / "in").mkdir(parents=True, exist_ok=True)
    for i, path in enumerate(paths):
        (folder / path).write_text(f"input {i}\n")


def write_big_inputs(folder: Path, paths: list[str], size: int) -> None:
    """Random bytes (nothing to compress or deduplicate), made distinct by a per-file header."""
    (folder / "in").mkdir(parents=True, exist_ok=True)
    block = os.urandom(size)
    for i, path in enumerate(paths):
        header = f"big input {i}\n".encode()
        with open(folder / path, "wb") as stream:
            stream.write(header)
            stream.write(memoryview(block)[len(header) :])


def make(folder: Path, function: Callable[..., Graph], *args: int | str) -> Graph:
    """Write plan.py for ``function(*args)`` and return its graph."""
    folder.mkdir(parents=True, exist_ok=True)
    write_plan(folder, function, ", ".join(map(repr, args)))
    return function(*args)


def wide(folder: Path, n: int) -> Workload:
    """N independent copies: the best case for parallel scheduling and for skipping."""
    static, steps = make(folder, copies, n, ".txt")
    write_text_inputs(folder, static)
    return Workload("wide", n, folder, static, steps, static[0], steps[0][2], (static[0],))


def chain(folder: Path, n: int) -> Workload:
    """N steps in one line: no parallelism, and a dependency path as deep as the graph."""
    static, steps = make(folder, chain_graph, n)
    write_text_inputs(folder, static)
    return Workload("chain", n, folder, static, steps, static[0], steps[-1][2], (static[0],))


def tree(folder: Path, n: int) -> Workload:
    """About N steps that fan in 4 to 1, layer by layer: some parallelism, many multi-input steps.

    The root is the concatenation of all inputs in order, so it checks the whole tree.
    """
    static, steps = make(folder, tree_graph, tree_leaves(n))
    write_text_inputs(folder, static)
    return Workload("tree", n, folder, static, steps, static[0], steps[-1][2], tuple(static))


def bigfiles(folder: Path, n: int) -> Workload:
    """N/100 copies of 16 MiB files: file hashing, not step overhead, dominates a build."""
    static, steps = make(folder, copies, big_steps(n), ".bin")
    write_big_inputs(folder, static, BIG_FILE_MIB * MIB)
    return Workload("bigfiles", n, folder, static, steps, static[0], steps[0][2], (static[0],))


SHAPES: dict[str, Callable[[Path, int], Workload]] = {
    "wide": wide,
    "chain": chain,
    "tree": tree,
    "bigfiles": bigfiles,
}


def generate(shape: str, folder: Path, n: int) -> Workload:
    """Write the workload of ``shape`` with size ``n`` into ``folder``."""
    try:
        generator = SHAPES[shape]
    except KeyError:
        raise ValueError(f"unknown shape {shape!r}; known: {', '.join(SHAPES)}") from None
    return generator(folder, n)


def disk_estimate(shape: str, n: int) -> int:
    """Bytes of inputs plus outputs of one copy of the workload (small files count 4 KiB)."""
    if shape == "bigfiles":
        return 2 * big_steps(n) * BIG_FILE_MIB * MIB
    return 2 * 4096 * n


def copy_workload(workload: Workload, folder: Path) -> Workload:
    """The same files in another folder, for another tool: no tool sees another's state."""
    shutil.copytree(workload.folder, folder)
    return dataclasses.replace(workload, folder=folder)


def _join(relative: str, name: str) -> str:
    """``relative/name`` without the ``./`` of the top folder (``.`` from os.walk)."""
    return os.path.normpath(os.path.join(relative, name))


def list_files(folder: Path) -> frozenset[str]:
    """The relative paths of every file and folder below ``folder``: a snapshot of a workload
    before any run, for :func:`remove_others`."""
    paths = set()
    for dirpath, dirnames, filenames in os.walk(folder):
        relative = os.path.relpath(dirpath, folder)
        paths.update(_join(relative, name) for name in dirnames + filenames)
    return frozenset(paths)


def remove_others(folder: Path, keep: frozenset[str]) -> None:
    """Remove everything below ``folder`` that is not in ``keep``: what earlier builds made.

    Builds only add files (outputs, ``.stepup/``, ``.ninja_log``, ...) and never write the
    generated ones, so this puts the workload back as it was generated, without copying it
    again (bigfiles has GBs of inputs at large N). Symlinks are removed, not followed.
    """
    for dirpath, dirnames, filenames in os.walk(folder):
        relative = os.path.relpath(dirpath, folder)
        for name in list(dirnames):
            if _join(relative, name) not in keep:
                path = folder / relative / name
                dirnames.remove(name)  # removed, so not walked into
                if path.is_symlink():
                    path.unlink()
                else:
                    shutil.rmtree(path)
        for name in filenames:
            if _join(relative, name) not in keep:
                (folder / relative / name).unlink()
