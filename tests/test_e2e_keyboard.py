"""Keys in a terminal: a real ``stepup -w1`` in a pseudo-terminal, driven by key presses.

The pty is the controlling terminal of stepup's session, as in a terminal emulator, so Ctrl-C
reaches stepup as SIGINT. The output is coloured and has a progress bar: escape codes are
stripped and the text is split at carriage returns and newlines before lines are compared.
"""

import contextlib
import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import termios
import time
from pathlib import Path

import pytest
from helpers import STEPUP, clean_env, processes_in, wait_for, write_plan

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[=>]")
WIDTH = 80

PLAN = """
from stepup.core.api import static, step
static("inp.txt")
step("cp inp.txt out.txt", inp="inp.txt", out="out.txt")
"""
WATCH = "     PHASE │ watch"
FIRST_RUN = [
    "  DIRECTOR │ Launched worker 0",
    "     PHASE │ run",
    "     START │ ./plan.py",
    "   SUCCESS │ ./plan.py",
    "     START │ cp inp.txt out.txt",
    "   SUCCESS │ cp inp.txt out.txt",
    "  WORKFLOW │ Dumped to .stepup/workflow.mpk.xz",
    WATCH,
]
END = ["  DIRECTOR │ Stopping workers.", "  DIRECTOR │ See you!"]


def _controlling_terminal() -> None:
    # Runs in the child after setsid(): stdin (the pty) becomes its controlling terminal.
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """stepup in a pseudo-terminal of 80 columns."""

    def __init__(self, folder: Path, *args: str):
        self.folder = folder
        self.master, self.slave = pty.openpty()
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, WIDTH, 0, 0))
        self.mode_before = termios.tcgetattr(self.slave)
        self.raw = b""
        self.process = subprocess.Popen(
            [STEPUP, "-w1", *args],
            cwd=folder,
            env=clean_env(TERM="xterm-256color"),
            stdin=self.slave,
            stdout=self.slave,
            stderr=self.slave,
            start_new_session=True,
            preexec_fn=_controlling_terminal,
        )

    def _pump(self, timeout: float) -> None:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if ready:
            with contextlib.suppress(OSError):
                self.raw += os.read(self.master, 65536)

    @property
    def lines(self) -> list[str]:
        text = ANSI.sub("", self.raw.decode(errors="replace"))
        return [line.rstrip() for line in re.split(r"\r\n|\r|\n", text)]

    @property
    def status_lines(self) -> list[str]:
        """The ``ACTION │ description`` lines, without the socket line."""
        return [
            line
            for line in self.lines
            if re.match(r"^ *[A-Z]+ │ ", line) and "Listening on" not in line
        ]

    def expect(self, line: str, count: int = 1, timeout: float = 30) -> None:
        """Read output until the line has appeared ``count`` times."""
        deadline = time.monotonic() + timeout
        while self.lines.count(line) < count:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"{line!r} x{count} not seen in:\n" + "\n".join(self.lines)
            self._pump(min(remaining, 0.1))

    def press(self, key: str) -> None:
        os.write(self.master, key.encode())

    def wait(self, timeout: float = 30) -> int:
        """Wait for stepup to exit while reading its output; return the exit code."""
        deadline = time.monotonic() + timeout
        while self.process.poll() is None:
            assert time.monotonic() < deadline, "stepup did not exit:\n" + "\n".join(self.lines)
            self._pump(0.05)
        self._pump(0.1)
        return self.process.returncode

    @property
    def mode_after(self):
        return termios.tcgetattr(self.slave)

    def close(self) -> None:
        """Kill whatever still runs (only when a test failed) and close the pty."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        for pid in processes_in(self.folder):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def terminal(tmp_path):
    write_plan(tmp_path, PLAN)
    (tmp_path / "inp.txt").write_text("hello\n")
    term = Terminal(tmp_path)
    try:
        yield term
    finally:
        term.close()


def check_exit(term: Terminal, code: int) -> None:
    assert term.wait() == code
    assert term.mode_after == term.mode_before, "the terminal mode was not restored"
    assert wait_for(lambda: not processes_in(term.folder), timeout=10)
    assert "Traceback" not in "\n".join(term.lines)


def test_keys(terminal, tmp_path):
    """x shows the keys, g writes the graph, r runs, t replays, f reruns all, q quits."""
    terminal.expect(WATCH)
    # In cbreak mode the key is not echoed and needs no Enter.
    assert terminal.mode_after != terminal.mode_before

    terminal.press("x")
    terminal.expect("  KEYBOARD │ Unsupported key x")
    terminal.expect("─" * WIDTH)  # The end of the box.
    lines = terminal.lines
    box = lines.index("  KEYBOARD │ Unsupported key x") + 1
    assert lines[box : box + 6] == [
        "─" * 37 + " Keys " + "─" * 37,
        "",
        "   q = shutdown       d = drain        j = join   g = graph",
        "   f = from scratch   t = try replay   r = run",
        "",
        "─" * WIDTH,
    ]

    terminal.press("g")
    terminal.expect("  KEYBOARD │ Workflow graph written to graph.txt.")
    for name in "graph.txt", "graph_creator.dot", "graph_supplier.dot":
        assert (tmp_path / name).is_file(), name

    terminal.press("r")
    terminal.expect(WATCH, 2)
    terminal.press("t")
    terminal.expect(WATCH, 3)
    terminal.press("f")
    terminal.expect(WATCH, 4)

    terminal.press("q")
    terminal.expect("  KEYBOARD │ Waiting for workers to complete before shutdown.")
    check_exit(terminal, 0)
    # StepUp 1.3.1 prints the same lines.
    assert terminal.status_lines == [
        *FIRST_RUN,
        "  KEYBOARD │ Unsupported key x",
        "  KEYBOARD │ Workflow graph written to graph.txt.",
        "  KEYBOARD │ Restarting the runner.",
        "     PHASE │ run",
        "  WORKFLOW │ Dumped to .stepup/workflow.mpk.xz",
        WATCH,
        "  KEYBOARD │ All steps marked pending and trying to replay.",
        "     PHASE │ run",
        "      SKIP │ ./plan.py",
        "      SKIP │ cp inp.txt out.txt",
        "  WORKFLOW │ Dumped to .stepup/workflow.mpk.xz",
        WATCH,
        "  KEYBOARD │ Discarding hashes and running from scratch.",
        "     PHASE │ run",
        "     START │ ./plan.py",
        "   SUCCESS │ ./plan.py",
        "     START │ cp inp.txt out.txt",
        "   SUCCESS │ cp inp.txt out.txt",
        "  WORKFLOW │ Dumped to .stepup/workflow.mpk.xz",
        WATCH,
        "  KEYBOARD │ Waiting for workers to complete before shutdown.",
        *END,
    ]


@pytest.mark.parametrize(
    ("key", "message", "code"),
    [
        ("j", "  KEYBOARD │ Waiting for the runner to complete to shutdown.", 0),
        ("\x03", None, 130),
    ],
    ids=["j", "ctrl-c"],
)
def test_leaving_restores_the_terminal(terminal, key, message, code):
    """j (join) and Ctrl-C in the watch phase: stepup exits and the terminal is as before."""
    terminal.expect(WATCH)
    terminal.press(key)
    if message is not None:
        terminal.expect(message)
    check_exit(terminal, code)
    assert terminal.status_lines[-2:] == END
