"""Small helpers for process groups, shared by the director and the workers."""

import contextlib
import ctypes
import os
import signal

__all__ = ["become_subreaper", "kill_group", "kill_orphans"]

# prctl(2) option: orphaned descendants are reparented to this process, not to init.
PR_SET_CHILD_SUBREAPER = 36


def kill_group(pgid: int, sig: int) -> None:
    """Send a signal to a process group that may be gone already."""
    if pgid <= 0:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def become_subreaper() -> bool:
    """Adopt the orphans of the steps this process starts (Linux), so that a daemon that left
    the step's process group and session can still be found, and stopped, by kill_orphans."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _children() -> list[int]:
    """The children of this process, from /proc (empty without it). Called after every step:
    a listing of the threads and one small read each, no glob."""
    tasks = f"/proc/{os.getpid()}/task"
    try:
        threads = os.listdir(tasks)
    except OSError:
        return []
    pids = []
    for thread in threads:
        with contextlib.suppress(OSError), open(f"{tasks}/{thread}/children", "rb") as fh:
            pids.extend(int(word) for word in fh.read().split())
    return pids


def kill_orphans(spare: int = 0, rounds: int = 100) -> None:
    """Kill and reap the children of this process except ``spare``: besides the step (reaped
    by its own waiter), they can only be orphans it adopted, daemons of finished steps. A killed
    orphan's own children are adopted in turn, hence the rounds. Only these pids are waited
    for, never any child."""
    for _ in range(rounds):
        children = [pid for pid in _children() if pid != spare]
        if not children:
            return
        for pid in children:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
