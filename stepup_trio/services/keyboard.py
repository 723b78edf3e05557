"""Single-key control of an interactive stepup on a terminal.

The terminal is put in cbreak mode (keys arrive one by one, Ctrl-C still works) and restored on
every way out. Keys are read with ``wait_readable`` on the stdin descriptor, without a thread
and without changing the descriptor to non-blocking mode (rich writes to the same terminal).
"""

import contextlib
import os
import sys
import termios
import tty

import trio

from stepup_trio import wire

__all__ = ["KEYS_HELP", "serve_keyboard"]

KEYS_HELP = (
    "\n"
    "   q = shutdown       d = drain        j = join   g = graph\n"
    "   f = from scratch   t = try replay   r = run\n"
)

MESSAGES = {
    "q": ("Waiting for workers to complete before shutdown.", "shutdown"),
    "j": ("Waiting for the runner to complete to shutdown.", "join"),
    "d": ("Draining the scheduler and waiting for workers.", "drain"),
    "r": ("Restarting the runner.", "run"),
    "f": ("Discarding hashes and running from scratch.", "from_scratch"),
    "t": ("All steps marked pending and trying to replay.", "try_replay"),
}


@contextlib.contextmanager
def cbreak(fd: int):
    """Keys one at a time while the block runs; the old terminal mode afterwards."""
    old = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, old)


async def _press(director, key: str) -> bool:
    """Act on one key; False when the keyboard is no longer needed."""
    reporter = director.reporter
    if key == "g":
        await director.write_graph("graph")
        reporter.report("KEYBOARD", "Workflow graph written to graph.txt.")
        return True
    if key in MESSAGES:
        message, command = MESSAGES[key]
        reporter.report("KEYBOARD", message)
        try:
            await director.handle_control(wire.Control(command))
        except Exception as exc:
            reporter.report("KEYBOARD", str(exc))
        return command not in ("shutdown", "join")
    reporter.report("KEYBOARD", f"Unsupported key {key}", [("Keys", KEYS_HELP)])
    return True


async def serve_keyboard(director, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
    """Read keys from a terminal on stdin until shutdown; do nothing without a terminal."""
    fd = sys.stdin.fileno()
    if not os.isatty(fd):
        task_status.started()
        return
    with cbreak(fd):
        task_status.started()
        while True:
            await trio.lowlevel.wait_readable(fd)
            data = os.read(fd, 32).decode(errors="replace")
            for key in data:
                if not await _press(director, key):
                    return
