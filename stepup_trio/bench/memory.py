"""Peak memory and CPU time of a build tool's processes, sampled from /proc while it runs.

``ru_maxrss`` of ``wait4`` cannot be used: a child forked from this benchmark counts the
benchmark's own RSS before its ``exec``, and StepUp 1.3.1 runs its director in a child of the
``stepup`` process. So a thread samples every process in the tool's session (the tool runs with
``start_new_session``): ``VmHWM`` gives each process's own high-water mark, whatever the
sampling missed in between, and the sum of ``VmRSS`` gives the footprint of the whole tree.

The same samples give the CPU time of each process (``utime + stime`` of its own, ``cutime +
cstime`` of the children it reaped), so that a run's CPU can be split by role: stepup's
director, its workers, and the steps that the workers ran. A process's last sample counts: the
time it spent after that sample is missed, so these numbers are slightly low. Only the tool's
own process is read once more after it exited (a zombie still has its final counters).
"""

import os
import threading
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CpuTimes", "MemoryPeak", "TreeSampler", "process_label"]

# Seconds between samples of the known processes, and between scans for new ones.
SAMPLE_INTERVAL = 0.02
SCAN_INTERVAL = 0.2
PYTHON_NAMES = ("python", "python3")
# The label of a process without a command line (a zombie, or one that is exiting).
UNKNOWN = "?"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class MemoryPeak:
    """The largest process (bytes, and what it was) and the largest sum over the tree."""

    rss: int | None = None
    process: str | None = None
    tree_rss: int | None = None


@dataclass(frozen=True)
class CpuTimes:
    """CPU seconds of one run, by role.

    ``tool`` is the tool's own process (stepup: the director). ``workers`` is the own time of
    stepup's worker processes (None for a tool without them). ``steps`` is what the workers
    reaped (stepup: the plan and every step), or else what the tool's process reaped. ``tree``
    is the tool's own and reaped time, read after it exited: exact, and for stepup the bound
    that ``total`` approaches when the director has reaped its workers.
    """

    tool: float
    workers: float | None
    steps: float
    tree: float

    @property
    def total(self) -> float:
        return self.tool + (self.workers or 0.0) + self.steps

    @property
    def own(self) -> float:
        """The build tool's own overhead: everything but the steps."""
        return self.tool + (self.workers or 0.0)


@dataclass(frozen=True)
class ProcStat:
    """The fields of /proc/PID/stat that the sampler uses (CPU times in clock ticks)."""

    session: int
    start: int
    # Changes when the process calls exec: its name, and where its (new, randomized) stack is.
    exec_key: tuple[str, int]
    self_ticks: int
    children_ticks: int


@dataclass
class Seen:
    """What the samples saw of one process; the last sample holds its most complete times."""

    label: str
    exec_key: tuple[str, int]
    self_ticks: int = 0
    children_ticks: int = 0
    hwm: int = -1


def process_label(cmdline: list[str]) -> str:
    """A short name for a command line: the module of ``python -m``, else the script's name."""
    args = list(cmdline)
    if args and os.path.basename(args[0]).startswith(PYTHON_NAMES):
        args = args[1:]
        if len(args) >= 2 and args[0] == "-m":
            return args[1]
        args = [arg for arg in args if not arg.startswith("-")]
    return os.path.basename(args[0]) if args else UNKNOWN


def read_stat(pid: int) -> ProcStat | None:
    """/proc/PID/stat, also of a zombie; None for a process that is gone.

    Fields are counted after the command name, which may hold spaces and parentheses: field
    ``k`` of proc(5) is ``fields[k - 3]``.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    close = stat.rindex(")")
    comm = stat[stat.index("(") + 1 : close]
    fields = stat[close + 2 :].split()
    return ProcStat(
        session=int(fields[3]),
        start=int(fields[19]),
        exec_key=(comm, int(fields[25])),
        self_ticks=int(fields[11]) + int(fields[12]),
        children_ticks=int(fields[13]) + int(fields[14]),
    )


def read_memory(pid: int) -> tuple[int, int] | None:
    """(VmHWM, VmRSS) in bytes, or None for a process that is gone or a zombie."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    values = {}
    for line in status.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            values[key] = int(value.split()[0]) * 1024
    if len(values) < 2:
        return None
    return values["VmHWM"], values["VmRSS"]


def read_label(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return UNKNOWN
    return process_label([arg.decode(errors="replace") for arg in raw.split(b"\0") if arg])


def to_seconds(ticks: int) -> float:
    """Clock ticks of /proc/PID/stat in seconds."""
    return ticks / CLOCK_TICKS


class TreeSampler:
    """Sample the memory and CPU of every process in the session led by ``pid`` until stopped."""

    def __init__(self, pid: int):
        self.pid = pid
        self.known: set[int] = {pid}
        # By (pid, start time): a recycled pid is another process.
        self.seen: dict[tuple[int, int], Seen] = {}
        self.tree_rss = 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.loop, name=f"sampler-{pid}", daemon=True)

    def scan(self) -> None:
        """Find the session's new processes: workers, the plan, steps."""
        pids = {int(entry) for entry in os.listdir("/proc") if entry.isdigit()}
        for pid in pids - self.known:
            stat = read_stat(pid)
            if stat is not None and stat.session == self.pid:
                self.known.add(pid)

    def record(self, pid: int, stat: ProcStat) -> Seen:
        """Keep the latest CPU times of ``pid``; name it again after an ``exec``.

        A child caught between fork and exec still shows its parent's command line, so the
        label is read again whenever the name or the stack of the process changed. An exiting
        process or a zombie has neither stack nor command line: it keeps its label.
        """
        key = (pid, stat.start)
        seen = self.seen.get(key)
        if seen is None:
            seen = self.seen[key] = Seen(read_label(pid), stat.exec_key)
        elif seen.exec_key != stat.exec_key:
            label = read_label(pid)
            seen.label = seen.label if label == UNKNOWN else label
            seen.exec_key = stat.exec_key
        seen.self_ticks, seen.children_ticks = stat.self_ticks, stat.children_ticks
        return seen

    def sample(self) -> None:
        """Update every process's CPU times, and raise its high-water mark and the tree's sum."""
        total = 0
        for pid in list(self.known):
            stat = read_stat(pid)
            seen = None if stat is None else self.record(pid, stat)
            memory = None if seen is None else read_memory(pid)
            if seen is None or memory is None:  # gone, or a zombie whose CPU times were read
                if pid != self.pid:
                    self.known.discard(pid)
                continue
            hwm, rss = memory
            total += rss
            seen.hwm = max(seen.hwm, hwm)
        self.tree_rss = max(self.tree_rss, total)

    def loop(self) -> None:
        scans_every = max(1, round(SCAN_INTERVAL / SAMPLE_INTERVAL))
        count = 0
        while True:
            if count % scans_every == 0:
                self.scan()
            self.sample()
            count += 1
            if self.stopped.wait(SAMPLE_INTERVAL):
                return

    def __enter__(self) -> "TreeSampler":
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Stop sampling; read the tool's process once more, for its final CPU times.

        Until the caller reaps it, an exited tool is a zombie that still has its own and its
        reaped children's times, complete.
        """
        self.stopped.set()
        self.thread.join()
        stat = read_stat(self.pid)
        if stat is not None:
            self.record(self.pid, stat)

    def peak(self) -> MemoryPeak:
        """The results, once stopped: nothing if no sample saw the tool alive."""
        sampled = [seen for seen in self.seen.values() if seen.hwm >= 0]
        if not sampled:
            return MemoryPeak()
        top = max(sampled, key=lambda seen: seen.hwm)
        return MemoryPeak(top.hwm, top.label, self.tree_rss)

    def cpu(self, worker_label: str | None = None) -> CpuTimes | None:
        """The CPU times by role, once stopped; None if no sample saw the tool.

        With ``worker_label`` (stepup), the processes of that label are workers, and the
        steps are what they reaped. Without it, the steps are what the tool's process reaped.
        Other processes of the session count only through the process that reaped them.
        """
        leader = next((seen for (pid, _), seen in self.seen.items() if pid == self.pid), None)
        if leader is None:
            return None
        tool = to_seconds(leader.self_ticks)
        tree = to_seconds(leader.self_ticks + leader.children_ticks)
        if worker_label is None:
            return CpuTimes(tool, None, to_seconds(leader.children_ticks), tree)
        workers = [
            seen
            for (pid, _), seen in self.seen.items()
            if pid != self.pid and seen.label == worker_label
        ]
        return CpuTimes(
            tool=tool,
            workers=to_seconds(sum(seen.self_ticks for seen in workers)),
            steps=to_seconds(sum(seen.children_ticks for seen in workers)),
            tree=tree,
        )
