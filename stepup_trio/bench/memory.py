"""Peak memory of a build tool's processes, sampled from /proc while it runs.

``ru_maxrss`` of ``wait4`` cannot be used: a child forked from this benchmark counts the
benchmark's own RSS before its ``exec``, and StepUp 1.3.1 runs its director in a child of the
``stepup`` process. So a thread samples every process in the tool's session (the tool runs with
``start_new_session``): ``VmHWM`` gives each process's own high-water mark, whatever the
sampling missed in between, and the sum of ``VmRSS`` gives the footprint of the whole tree.
"""

import os
import threading
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MemoryPeak", "TreeSampler", "process_label"]

# Seconds between samples of the known processes, and between scans for new ones.
SAMPLE_INTERVAL = 0.02
SCAN_INTERVAL = 0.2
PYTHON_NAMES = ("python", "python3")


@dataclass(frozen=True)
class MemoryPeak:
    """The largest process (bytes, and what it was) and the largest sum over the tree."""

    rss: int | None = None
    process: str | None = None
    tree_rss: int | None = None


def process_label(cmdline: list[str]) -> str:
    """A short name for a command line: the module of ``python -m``, else the script's name."""
    args = list(cmdline)
    if args and os.path.basename(args[0]).startswith(PYTHON_NAMES):
        args = args[1:]
        if len(args) >= 2 and args[0] == "-m":
            return args[1]
        args = [arg for arg in args if not arg.startswith("-")]
    return os.path.basename(args[0]) if args else "?"


def read_session(pid: int) -> int | None:
    """The session id from /proc/PID/stat (after the command name, which may hold spaces)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[3])


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
        return "?"
    return process_label([arg.decode(errors="replace") for arg in raw.split(b"\0") if arg])


class TreeSampler:
    """Sample the memory of every process in the session led by ``pid`` until stopped."""

    def __init__(self, pid: int):
        self.pid = pid
        self.known: set[int] = {pid}
        self.hwm: dict[int, int] = {}
        self.labels: dict[int, str] = {}
        self.tree_rss = 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.loop, name=f"sampler-{pid}", daemon=True)

    def scan(self) -> None:
        """Find the session's new processes: workers, the plan, steps."""
        pids = {int(entry) for entry in os.listdir("/proc") if entry.isdigit()}
        self.known |= {pid for pid in pids - self.known if read_session(pid) == self.pid}

    def sample(self) -> None:
        """Raise each process's high-water mark, and the tree's sum, to what they are now."""
        total = 0
        for pid in list(self.known):
            memory = read_memory(pid)
            if memory is None:
                if pid != self.pid:
                    self.known.discard(pid)
                continue
            hwm, rss = memory
            total += rss
            if hwm > self.hwm.get(pid, -1):
                self.hwm[pid] = hwm
                if pid not in self.labels:
                    self.labels[pid] = read_label(pid)
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
        self.stopped.set()
        self.thread.join()

    def peak(self) -> MemoryPeak:
        """The results, once stopped: nothing if no sample saw the tool alive."""
        if not self.hwm:
            return MemoryPeak()
        pid = max(self.hwm, key=lambda p: self.hwm[p])
        return MemoryPeak(self.hwm[pid], self.labels.get(pid, "?"), self.tree_rss)
