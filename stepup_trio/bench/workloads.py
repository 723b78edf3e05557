"""Generated end-to-end workloads: a plan.py and its input files in a fresh folder.

Each shape is a function ``(folder, n) -> Workload`` registered in :data:`SHAPES`, so a new
shape (tree, big files, ...) is one more function and one more entry.
"""

import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SHAPES", "Workload", "generate"]

SHEBANG = "#!/usr/bin/env python"


@dataclass(frozen=True)
class Workload:
    """What a generator wrote, and what the runner needs to know about it."""

    shape: str
    steps: int
    folder: Path
    # The input file that the one-change rebuild modifies.
    change_path: Path
    # An output that must have the content of change_path after every build: a cheap check
    # that a fast run also gave the right result.
    probe_path: Path


def write_plan(folder: Path, body: str) -> Path:
    """Write an executable plan.py: stepup refuses a plan without shebang or exec bit."""
    path = folder / "plan.py"
    path.write_text(SHEBANG + "\n" + textwrap.dedent(body).lstrip("\n"))
    path.chmod(0o755)
    return path


def write_inputs(folder: Path, count: int) -> list[Path]:
    """Write in/0.txt ... in/{count-1}.txt, each with distinct content."""
    indir = folder / "in"
    indir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = indir / f"{i}.txt"
        path.write_text(f"input {i}\n")
        paths.append(path)
    return paths


def wide(folder: Path, n: int) -> Workload:
    """N independent copies: the best case for parallel scheduling and for skipping."""
    inputs = write_inputs(folder, n)
    write_plan(
        folder,
        f"""
        from stepup.core.api import mkdir, static, step

        N = {n}
        static("in/", [f"in/{{i}}.txt" for i in range(N)])
        mkdir("out/")
        for i in range(N):
            step("cp ${{inp}} ${{out}}", inp=f"in/{{i}}.txt", out=f"out/{{i}}.txt")
        """,
    )
    return Workload("wide", n, folder, inputs[0], folder / "out" / "0.txt")


def chain(folder: Path, n: int) -> Workload:
    """N steps in one line: no parallelism, and a dependency path as deep as the graph."""
    inputs = write_inputs(folder, 1)
    write_plan(
        folder,
        f"""
        from stepup.core.api import mkdir, static, step

        N = {n}
        static("in/", "in/0.txt")
        mkdir("out/")
        step("cp ${{inp}} ${{out}}", inp="in/0.txt", out="out/0.txt")
        for i in range(1, N):
            step("cp ${{inp}} ${{out}}", inp=f"out/{{i - 1}}.txt", out=f"out/{{i}}.txt")
        """,
    )
    return Workload("chain", n, folder, inputs[0], folder / "out" / f"{n - 1}.txt")


SHAPES: dict[str, Callable[[Path, int], Workload]] = {"wide": wide, "chain": chain}


def generate(shape: str, folder: Path, n: int) -> Workload:
    """Write the workload of ``shape`` with ``n`` steps into ``folder``."""
    try:
        generator = SHAPES[shape]
    except KeyError:
        raise ValueError(f"unknown shape {shape!r}; known: {', '.join(SHAPES)}") from None
    return generator(folder, n)
