"""End to end: time the real ``stepup`` command, and the ``--compare`` tools, on workloads.

Each workload is generated once and copied for every tool, so no tool sees another's state.
The tools then run alternately: each round of cold builds (stepup, other, ...), then each
no-op round (stepup, other, stepup, other, ...), then (optionally) a rebuild after one input
changed. A slow spell of the machine thus hits all tools alike. Every cold build starts from
the generated files alone. A failing run becomes an error in that tool's result, not a crash,
so one broken tool or workload does not hide the other numbers.
"""

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from stepup_trio.bench.memory import CpuTimes, MemoryPeak, TreeSampler
from stepup_trio.bench.ninja import write_build_ninja
from stepup_trio.bench.tools import Tool, ToolKind, child_env, stepup_tool
from stepup_trio.bench.workloads import (
    Workload,
    copy_workload,
    disk_estimate,
    generate,
    list_files,
    remove_others,
)

__all__ = ["E2EResult", "Run", "bench_workload", "measured_run"]

# Generous: a cold build of 20,000 steps on two cores takes minutes, not an hour.
TIMEOUT = 1800.0
START_LINE = re.compile(r"^\s*START │", re.MULTILINE)
SKIP_LINE = re.compile(r"^\s*SKIP │", re.MULTILINE)
# ninja prints "[k/m] command" for every command it runs (when stdout is not a terminal).
NINJA_EDGE = re.compile(r"^\[\d+/\d+\] ", re.MULTILINE)
NINJA_NOOP = "ninja: no work to do."
# Room left on the disk besides the workloads.
DISK_MARGIN = 1 << 30

Log = Callable[[str], None]


class RunError(Exception):
    """A run of a build tool failed or gave a wrong result."""


@dataclass
class E2EResult:
    """Wall times (seconds), memory peaks and cold CPU times of one tool on one workload.

    ``error`` says why the tool's runs stopped; the numbers measured before stay.
    """

    tool: str
    kind: str
    shape: str
    # N as asked for, and the steps that the workload really has.
    steps: int
    step_count: int = 0
    cold: list[float] = field(default_factory=list)
    cold_memory: list[MemoryPeak] = field(default_factory=list)
    cold_cpu: list[CpuTimes] = field(default_factory=list)
    noop: list[float] = field(default_factory=list)
    noop_memory: list[MemoryPeak] = field(default_factory=list)
    # START lines (stepup-like) or commands run (ninja) in each no-op rebuild.
    noop_started: list[int] = field(default_factory=list)
    change: float | None = None
    change_memory: MemoryPeak | None = None
    # START lines / commands in the one-change rebuild: how much work one changed input caused.
    change_started: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class Run:
    """One finished command: its wall time, stdout, and the memory and CPU of its processes."""

    wall: float
    stdout: str
    memory: MemoryPeak
    cpu: CpuTimes | None


@dataclass
class Entry:
    """One tool's copy of the workload, and the result that its runs fill in.

    ``generated`` lists the files and folders of the copy before any run: all that a cold
    build may find.
    """

    tool: Tool
    workload: Workload
    result: E2EResult
    generated: frozenset[str]


class Killer:
    """Kill a run's whole process group after ``timeout`` seconds (workers and steps too)."""

    def __init__(self, pid: int, timeout: float):
        self.pid = pid
        self.fired = False
        self.timer = threading.Timer(timeout, self.kill)
        self.timer.daemon = True

    def kill(self) -> None:
        self.fired = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)

    def __enter__(self) -> "Killer":
        self.timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.timer.cancel()


def wait_sampled(process: subprocess.Popen, timeout: float) -> tuple[int, TreeSampler]:
    """Wait for the exit while sampling memory and CPU; return (exit code, stopped sampler).

    ``waitid(WNOWAIT)`` leaves the process unreaped until the sampler has stopped, so the
    sampler never reads a recycled pid, and reads the final CPU times of the zombie.
    """
    with Killer(process.pid, timeout) as killer:
        try:
            with TreeSampler(process.pid) as sampler:
                os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)
            returncode = process.wait()
        except BaseException:  # Ctrl-C: do not leave a build running in its own session.
            killer.kill()
            process.wait()
            raise
    if killer.fired:
        raise RunError(f"timed out after {timeout:.0f} s")
    return returncode, sampler


def measured_run(what: str, tool: Tool, folder: Path, timeout: float = TIMEOUT) -> Run:
    """Run ``tool`` in ``folder``; return its wall time, stdout, memory and CPU, or raise RunError.

    Output goes to temporary files, not pipes, so no reader thread competes with the tool. The
    tool runs in its own session, so that a timeout kills its workers too, and so that the
    memory sampler finds all of its processes.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        try:
            process = subprocess.Popen(
                tool.argv,
                cwd=folder,
                env=child_env(tool),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        except OSError as exc:
            raise RunError(f"{what}: cannot run {tool.argv[0]}: {exc.strerror}") from None
        try:
            returncode, sampler = wait_sampled(process, timeout)
        except RunError as exc:
            raise RunError(f"{what}: {exc}") from None
        wall = time.perf_counter() - start
        stdout, stderr = (read_text(stream) for stream in (out, err))
    if returncode != 0:
        tail = (stdout + stderr).strip().splitlines()[-5:]
        output = " / ".join(line.strip() for line in tail) or "(no output)"
        raise RunError(f"{what}: exit code {returncode}: {output}")
    return Run(wall, stdout, sampler.peak(), sampler.cpu(tool.worker_label))


def read_text(stream: IO[bytes]) -> str:
    """What a run wrote into one of its temporary output files."""
    stream.seek(0)
    return stream.read().decode(errors="replace")


def check_probe(workload: Workload, what: str) -> None:
    """A fast build is worth nothing if it is wrong: the probe must match its sources."""
    try:
        expected = b"".join(workload.path(path).read_bytes() for path in workload.probe_sources)
        ok = workload.path(workload.probe).read_bytes() == expected
    except OSError as exc:
        missing = Path(exc.filename).relative_to(workload.folder)
        raise RunError(f"{what}: cannot read {missing}") from None
    if not ok:
        raise RunError(f"{what}: {workload.probe} is not what its inputs make")


def count_started(tool: Tool, stdout: str) -> int:
    """Steps (stepup) or commands (ninja) that a run started, from its output."""
    pattern = NINJA_EDGE if tool.kind == ToolKind.NINJA else START_LINE
    return len(pattern.findall(stdout))


def check_noop(entry: Entry, stdout: str) -> None:
    """This stepup must start nothing and skip every step; ninja must have no work to do.

    A compared stepup-like tool is not held to this stepup's output: its START lines are only
    counted (``noop_started``).
    """
    tool, steps = entry.tool, entry.workload.step_count
    if tool.kind == ToolKind.NINJA and NINJA_NOOP not in stdout:
        raise RunError(f"no-op rebuild did work: {count_started(tool, stdout)} command(s)")
    if tool.kind != ToolKind.STEPUP:
        return
    started = START_LINE.findall(stdout)
    if started:
        first = stdout[stdout.index(started[0]) :].splitlines()[0].strip()
        raise RunError(f"no-op rebuild started {len(started)} step(s), first: {first}")
    skipped = len(SKIP_LINE.findall(stdout))
    if skipped < steps:
        raise RunError(f"no-op rebuild skipped {skipped} of {steps} steps")


def check_cold(entry: Entry, stdout: str) -> None:
    """A cold build must run every step (this stepup, ninja): else it was not cold.

    A compared stepup-like tool is judged by its exit code and the probe only.
    """
    if entry.tool.kind == ToolKind.STEPUP_LIKE:
        return
    started, steps = count_started(entry.tool, stdout), entry.workload.step_count
    if started < steps:
        raise RunError(f"cold build started {started} of {steps} steps")


def change_input(workload: Workload) -> None:
    """Change the content and the size of one input, so no fast path can miss it."""
    with open(workload.path(workload.change), "ab") as stream:
        stream.write(b"changed\n")


def cold_build(entry: Entry) -> None:
    """Build from the generated files alone: what an earlier cold build made is removed first."""
    remove_others(entry.workload.folder, entry.generated)
    run = measured_run("cold build", entry.tool, entry.workload.folder)
    check_cold(entry, run.stdout)
    entry.result.cold.append(run.wall)
    entry.result.cold_memory.append(run.memory)
    if run.cpu is not None:
        entry.result.cold_cpu.append(run.cpu)
    check_probe(entry.workload, "cold build")


def noop_rebuild(entry: Entry) -> None:
    run = measured_run("no-op rebuild", entry.tool, entry.workload.folder)
    check_noop(entry, run.stdout)
    entry.result.noop.append(run.wall)
    entry.result.noop_memory.append(run.memory)
    entry.result.noop_started.append(count_started(entry.tool, run.stdout))


def change_rebuild(entry: Entry) -> None:
    change_input(entry.workload)
    run = measured_run("one-change rebuild", entry.tool, entry.workload.folder)
    entry.result.change, entry.result.change_memory = run.wall, run.memory
    entry.result.change_started = count_started(entry.tool, run.stdout)
    check_probe(entry.workload, "one-change rebuild")


def run_round(entries: list[Entry], what: str, action: Callable[[Entry], None], log: Log) -> None:
    """One run of every tool that has not failed yet, in order."""
    for entry in entries:
        result = entry.result
        if result.error is not None:
            continue
        log(f"{result.shape} {result.steps}: {entry.tool.name}: {what}")
        try:
            action(entry)
        except RunError as exc:
            result.error = str(exc)
            log(f"{result.shape} {result.steps}: {entry.tool.name}: error: {exc}")


def check_disk(folder: Path, shape: str, steps: int, copies: int) -> None:
    """Refuse a workload that would fill the disk (bigfiles at large N)."""
    needed = disk_estimate(shape, steps) * copies
    free = shutil.disk_usage(folder).free
    if needed + DISK_MARGIN > free:
        raise OSError(
            f"needs about {needed / 1e9:.1f} GB in {folder} ({copies} copies), "
            f"only {free / 1e9:.1f} GB free"
        )


def prepare(tools: list[Tool], shape: str, steps: int, tmp: Path) -> list[Workload]:
    """Generate the workload once and copy it for every further tool; ninja gets build.ninja."""
    check_disk(tmp, shape, steps, len(tools))
    first = generate(shape, tmp / "0", steps)
    workloads = [first] + [copy_workload(first, tmp / str(i)) for i in range(1, len(tools))]
    for tool, workload in zip(tools, workloads, strict=True):
        if tool.kind == ToolKind.NINJA:
            write_build_ninja(workload)
    return workloads


def bench_workload(
    shape: str,
    steps: int,
    *,
    tools: list[Tool] | None = None,
    workers: int = 2,
    repeat: int = 3,
    cold_repeat: int = 1,
    with_change: bool = True,
    log: Log = lambda message: None,
) -> list[E2EResult]:
    """Generate ``shape`` of size ``steps`` and time every tool on its own copy, alternately.

    The default tools are only this installation's stepup with ``workers`` workers. Each tool
    gets ``cold_repeat`` cold builds, then ``repeat`` no-op rebuilds, then the one change.
    """
    tools = tools or [stepup_tool(workers)]
    results = [E2EResult(tool.name, str(tool.kind), shape, steps) for tool in tools]
    with tempfile.TemporaryDirectory(prefix=f"stepup-bench-{shape}-{steps}-") as tmp:
        try:
            workloads = prepare(tools, shape, steps, Path(tmp))
        except OSError as exc:
            for result in results:
                result.error = f"cannot write the workload: {exc}"
            log(f"{shape} {steps}: error: {results[0].error}")
            return results
        entries = [
            Entry(tool, workload, result, list_files(workload.folder))
            for tool, workload, result in zip(tools, workloads, results, strict=True)
        ]
        for entry in entries:
            entry.result.step_count = entry.workload.step_count
        for i in range(cold_repeat):
            what = "cold build" if cold_repeat == 1 else f"cold build {i + 1}/{cold_repeat}"
            run_round(entries, what, cold_build, log)
        for i in range(repeat):
            run_round(entries, f"no-op rebuild {i + 1}/{repeat}", noop_rebuild, log)
        if with_change:
            run_round(entries, "one-change rebuild", change_rebuild, log)
    return results
