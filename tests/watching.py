"""Driving a real interactive ``stepup``, as a user would: shared by the watch-mode tests.

A :class:`Stepup` runs ``stepup -w1`` (without ``-n``) in the background; :func:`drive` runs a
small script that uses ``stepup_trio.interact`` in the root (it finds the director's socket in
``.stepup/director.log``), and :func:`control` runs ``stepup <subcommand>`` as typed in a
second shell.
"""

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers import STEPUP, clean_env, lines, processes_in, start_stepup, wait_for

PLAN_SUCCESS = "   SUCCESS │ ./plan.py"
LISTENING = "  DIRECTOR │ Listening on /tmp/stepup-XXXXXXXX/director"
START = [LISTENING, "  DIRECTOR │ Launched worker 0", "     PHASE │ run"]
DUMPED = "  WORKFLOW │ Dumped to .stepup/workflow.mpk.xz"
END = ["  DIRECTOR │ Stopping workers.", "  DIRECTOR │ See you!", ""]

# Running and stopping stepup


def inotify_watches(pid: int) -> int | None:
    """The number of inotify watches of a process; None when it has no inotify descriptor."""
    count = None
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") != "anon_inode:inotify":
                continue
            info = Path(f"/proc/{pid}/fdinfo/{fd}").read_text()
        except OSError:
            continue
        count = (count or 0) + sum(line.startswith("inotify wd:") for line in info.splitlines())
    return count


class Stepup:
    """One interactive ``stepup -w1`` in the background."""

    def __init__(self, folder: Path, *args: str):
        self.folder = folder
        self.process = start_stepup(folder, "-w1", *args)
        self.stdout = self.stderr = ""

    @property
    def pid(self) -> int:
        return self.process.pid

    def finish(self, timeout: float = 30) -> int:
        """Wait until stepup exits (after a join or shutdown) and check that nothing remains."""
        self.stdout, self.stderr = self.process.communicate(timeout=timeout)
        assert wait_for(lambda: not processes_in(self.folder), timeout=10), processes_in(
            self.folder
        )
        assert "Traceback" not in self.stdout + self.stderr, self.stdout + self.stderr
        return self.process.returncode

    @property
    def lines(self) -> list[str]:
        return lines(self.stdout)

    def kill(self) -> None:
        """Last resort when a test fails: nothing we started may outlive it."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.communicate()
        for pid in processes_in(self.folder):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def stepup(tmp_path):
    """Start interactive stepups in tmp_path; whatever still runs at the end is killed."""
    started = []

    def start(*args: str) -> Stepup:
        session = Stepup(tmp_path, *args)
        started.append(session)
        return session

    yield start
    for session in started:
        session.kill()


# Talking to it


def drive(folder: Path, code: str, timeout: float = 30) -> str:
    """Run a driver script that uses the interact API in the root; return its stdout."""
    script = "from stepup_trio.interact import *\n" + textwrap.dedent(code)
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=folder,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def control(folder: Path, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    """``stepup <subcommand> ...`` in the root, as typed in a second shell."""
    return subprocess.run(
        [STEPUP, *args],
        cwd=folder,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def ok(folder: Path, *args: str) -> str:
    result = control(folder, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def without(output: list[str], line: str, count: int) -> list[str]:
    """Drop a line whose place races with others (the plan's SUCCESS), checking its count."""
    assert output.count(line) == count, output
    return [other for other in output if other != line]
