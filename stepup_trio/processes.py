"""Small helpers for process groups, shared by the director and the workers."""

import contextlib
import os

__all__ = ["kill_group"]


def kill_group(pgid: int, sig: int) -> None:
    """Send a signal to a process group that may be gone already."""
    if pgid <= 0:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
