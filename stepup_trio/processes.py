"""Small helpers for process groups, shared by the director and the workers."""

import contextlib
import ctypes
import os
import signal
from collections.abc import Callable

__all__ = ["become_subreaper", "children", "kill_adopted", "kill_group", "kill_orphans"]

# prctl(2) option: orphaned descendants are reparented to this process, not to init.
PR_SET_CHILD_SUBREAPER = 36


def kill_group(pgid: int, sig: int) -> None:
    """Send a signal to a process group that may be gone already."""
    if pgid <= 0:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def become_subreaper() -> bool:
    """Adopt the orphans of the processes this process starts (Linux): a worker adopts the
    daemons of its steps, which kill_orphans then stops, and the director adopts the step of
    a worker that died, which kill_adopted then stops."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def children(pid: int | None = None) -> list[int]:
    """The children of a process (this one by default), from /proc; empty without it.

    Called after every step: a listing of the threads and one small read each, no glob.
    """
    tasks = f"/proc/{os.getpid() if pid is None else pid}/task"
    try:
        threads = os.listdir(tasks)
    except OSError:
        return []
    pids = []
    for thread in threads:
        with contextlib.suppress(OSError), open(f"{tasks}/{thread}/children", "rb") as fh:
            pids.extend(int(word) for word in fh.read().split())
    return pids


def _kill_children(chosen: Callable[[int], bool], rounds: int = 100) -> None:
    """Kill and reap the children of this process that are ``chosen``. A killed child's own
    children are adopted in turn (see become_subreaper), hence the rounds. Only these pids are
    waited for, never any child."""
    for _ in range(rounds):
        targets = [pid for pid in children() if chosen(pid)]
        if not targets:
            return
        for pid in targets:
            kill_group(pid, signal.SIGKILL)  # A step leads a group: all of it goes.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


def kill_orphans() -> None:
    """In a worker, after a step: kill and reap all children. Besides the step (reaped
    already), they can only be orphans it adopted, daemons of the step."""
    _kill_children(lambda pid: True)


def _session(pid: int) -> int:
    try:
        return os.getsid(pid)
    except OSError:
        return -1


def kill_adopted() -> None:
    """In the director, after a worker died: kill and reap the worker's step and daemons.

    The director is a subreaper, so they became its children. They run in sessions of their
    own, unlike the workers, which share the director's session: that tells them apart.
    """
    own = _session(0)
    _kill_children(lambda pid: _session(pid) != own)
