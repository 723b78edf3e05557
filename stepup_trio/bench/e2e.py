"""End to end: time the real ``stepup`` command on generated workloads.

Each workload gets a fresh folder, a cold build, repeated no-op rebuilds and (optionally) a
rebuild after one input changed. A failing run becomes an error in the result, not a crash,
so one broken workload does not hide the numbers of the others.
"""

import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from stepup_trio.bench.workloads import Workload, generate

__all__ = ["E2EResult", "Tool", "bench_workload", "child_env", "stepup_command", "stepup_tool"]

# Generous: a cold build of 10,000 steps on two cores takes minutes, not an hour.
TIMEOUT = 1800.0
START_LINE = re.compile(r"^\s*START │", re.MULTILINE)
SKIP_LINE = re.compile(r"^\s*SKIP │", re.MULTILINE)


class RunError(Exception):
    """A run of the build tool failed or gave a wrong result."""


@dataclass(frozen=True)
class Tool:
    """A build tool to time: its full command line, run in the workload's folder.

    ``stepup_output`` says that it prints stepup's status lines, which the no-op check reads;
    another tool (``--compare``) is only checked by its exit code and its outputs.
    """

    name: str
    argv: list[str]
    stepup_output: bool = True


@dataclass
class E2EResult:
    """The wall times (seconds) of one tool on one workload; ``error`` if a run failed."""

    tool: str
    shape: str
    steps: int
    cold: float | None = None
    noop: list[float] = field(default_factory=list)
    change: float | None = None
    # START lines in the one-change rebuild: how much work one changed input caused.
    change_started: int | None = None
    error: str | None = None


def stepup_command() -> list[str]:
    """The ``stepup`` next to this Python (same venv), else the module of this Python."""
    exe = Path(sys.executable).parent / "stepup"
    if exe.is_file() and os.access(exe, os.X_OK):
        return [str(exe)]
    return [sys.executable, "-m", "stepup_trio"]


def stepup_tool(workers: int) -> Tool:
    """The stepup of this installation, run once (``-n``) with ``workers`` workers."""
    return Tool("stepup", [*stepup_command(), "-n", "-w", str(workers)])


def child_env() -> dict[str, str]:
    """This environment with this Python's directory first on PATH and no stepup variables.

    Plan scripts start with ``#!/usr/bin/env python``, which must find the Python in which
    stepup_trio is installed; variables of an enclosing stepup run would confuse the child.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEPUP_")}
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    return env


def timed_run(
    what: str, command: list[str], folder: Path, timeout: float = TIMEOUT
) -> tuple[float, str]:
    """Run ``command`` in ``folder``; return the wall time and stdout, or raise RunError."""
    start = time.perf_counter()
    try:
        result = subprocess.run(
            command,
            cwd=folder,
            env=child_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise RunError(f"{what}: timed out after {timeout:.0f} s") from None
    except OSError as exc:
        raise RunError(f"{what}: cannot run {command[0]}: {exc.strerror}") from None
    wall = time.perf_counter() - start
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).strip().splitlines()[-5:]
        output = " / ".join(line.strip() for line in tail) or "(no output)"
        raise RunError(f"{what}: exit code {result.returncode}: {output}")
    return wall, result.stdout


def check_probe(workload: Workload, what: str) -> None:
    """A fast build is worth nothing if it is wrong: the probe output must match its input."""
    try:
        ok = workload.probe_path.read_bytes() == workload.change_path.read_bytes()
    except OSError as exc:
        missing = Path(exc.filename).relative_to(workload.folder)
        raise RunError(f"{what}: cannot read {missing}") from None
    if not ok:
        raise RunError(f"{what}: {workload.probe_path.name} differs from its input")


def check_noop(workload: Workload, tool: Tool, stdout: str) -> None:
    """A no-op rebuild starts nothing and skips at least every generated step."""
    if not tool.stepup_output:
        return
    started = START_LINE.findall(stdout)
    if started:
        first = stdout[stdout.index(started[0]) :].splitlines()[0].strip()
        raise RunError(f"no-op rebuild started {len(started)} step(s), first: {first}")
    skipped = len(SKIP_LINE.findall(stdout))
    if skipped < workload.steps:
        raise RunError(f"no-op rebuild skipped {skipped} of {workload.steps} steps")


def change_input(workload: Workload) -> None:
    """Change the content and the size of one input, so no fast path can miss it."""
    path = workload.change_path
    path.write_text(path.read_text() + "changed\n")


def run_workload(
    result: E2EResult,
    workload: Workload,
    tool: Tool,
    repeat: int,
    with_change: bool,
    log: Callable[[str], None],
) -> None:
    """Fill ``result`` run by run, so a failure keeps the numbers measured before it."""
    label = f"{workload.shape} {workload.steps}"
    log(f"{label}: cold build")
    result.cold, _ = timed_run("cold build", tool.argv, workload.folder)
    check_probe(workload, "cold build")
    for i in range(repeat):
        log(f"{label}: no-op rebuild {i + 1}/{repeat}")
        wall, stdout = timed_run("no-op rebuild", tool.argv, workload.folder)
        check_noop(workload, tool, stdout)
        result.noop.append(wall)
    if with_change:
        log(f"{label}: rebuild after one change")
        change_input(workload)
        result.change, stdout = timed_run("one-change rebuild", tool.argv, workload.folder)
        if tool.stepup_output:
            result.change_started = len(START_LINE.findall(stdout))
        check_probe(workload, "one-change rebuild")


def bench_workload(
    shape: str,
    steps: int,
    *,
    workers: int = 2,
    repeat: int = 3,
    with_change: bool = True,
    tool: Tool | None = None,
    log: Callable[[str], None] = lambda message: None,
) -> E2EResult:
    """Generate ``shape`` with ``steps`` steps in a fresh folder and time the build tool.

    The default tool is this installation's stepup with ``workers`` workers.
    """
    if tool is None:
        tool = stepup_tool(workers)
    result = E2EResult(tool.name, shape, steps)
    with tempfile.TemporaryDirectory(prefix=f"stepup-bench-{shape}-{steps}-") as tmp:
        workload = generate(shape, Path(tmp), steps)
        try:
            run_workload(result, workload, tool, repeat, with_change, log)
        except RunError as exc:
            result.error = str(exc)
            log(f"{shape} {steps}: error: {exc}")
    return result
