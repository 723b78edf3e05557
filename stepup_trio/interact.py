"""Talk to a running director: from plan scripts, from tests, or from your own scripts.

Inside a step, the director's socket comes from ``STEPUP_DIRECTOR_SOCKET``. Elsewhere it is
found with :func:`get_socket`, which reads ``.stepup/director.log`` under ``STEPUP_ROOT`` (or
the current directory). Most of these functions need stepup in interactive mode (without
``-n``).
"""

import os
import sys
import time
from collections.abc import Iterable

from stepup_trio import wire
from stepup_trio.client import SocketClient, get_client
from stepup_trio.core.paths import normalize
from stepup_trio.errors import StepUpError, UsageError

__all__ = [
    "cleanup",
    "drain",
    "from_scratch",
    "get_socket",
    "graph",
    "join",
    "run",
    "shutdown",
    "try_replay",
    "wait",
    "watch_delete",
    "watch_update",
]

_client = None


def get_socket(root: str | None = None, timeout: float | None = None) -> str:
    """The socket of the director running in ``root`` (default: ``$STEPUP_ROOT`` or ``.``).

    Waits until ``.stepup/director.log`` names a socket that exists, printing once to stderr
    that it is waiting. Raises :class:`StepUpError` after ``timeout`` seconds (None: forever).
    """
    root = root or os.environ.get("STEPUP_ROOT", ".")
    log_path = os.path.join(root, ".stepup", "director.log")
    deadline = None if timeout is None else time.monotonic() + timeout
    delay, announced = 0.1, False
    while True:
        problem = None
        try:
            with open(log_path) as fh:
                first = fh.readline().strip()
        except OSError:
            problem = f"File {log_path} not found."
        else:
            if not first.startswith("SOCKET "):
                problem = f"File {log_path} does not start with SOCKET line."
            elif os.path.exists(path := first[len("SOCKET ") :]):
                return path
            else:
                problem = f"Socket {path} read from {log_path} does not exist. Stepup not running?"
        if deadline is not None and time.monotonic() + delay > deadline:
            raise StepUpError(
                f"No running stepup found in {os.path.abspath(root)}: {problem} "
                "Start one there with `stepup` (without -n)."
            )
        if not announced:
            print("Trying to contact StepUp director process.", file=sys.stderr)
            announced = True
        time.sleep(delay)
        delay = min(delay + 0.1, 1.0)


def _call(message):
    global _client
    if "STEPUP_DIRECTOR_SOCKET" in os.environ:
        return get_client().call(message)
    if _client is None:
        _client = SocketClient(get_socket(timeout=30))
    return _client.call(message)


def graph(prefix: str, formats: str | Iterable[str] = wire.DEFAULT_GRAPH_FORMATS) -> None:
    """Write the workflow graph in each of ``formats``, to files named after ``prefix``.

    The default formats write ``<prefix>.txt``, ``<prefix>_supplier.dot`` and
    ``<prefix>_creator.dot``, as StepUp 1.x does, so ``graph(prefix)`` works unchanged. Each
    format is an exporter plugin, for example ``formats=("mermaid",)`` after
    ``pip install stepup-trio-mermaid``; ``stepup --list-plugins`` shows the installed ones. A
    string is read as comma-separated names (``"text,dot"``). The prefix is relative to the
    root of the workflow, where the director runs. An unknown format raises
    :class:`~stepup_trio.errors.StepUpError` naming the installed ones, and nothing is written.
    """
    _call(wire.WriteGraph(str(prefix), _parse_formats(formats)))


def _parse_formats(formats: str | Iterable[str]) -> list[str]:
    """Format names as a list without blanks or repeats; raise UsageError when none are left.

    A string is split on commas, so that ``"text,dot"`` (as on the command line) works, and a
    single name such as ``"mermaid"`` is not split into its letters.
    """
    if isinstance(formats, str):
        formats = formats.split(",")
    elif not isinstance(formats, Iterable):
        raise UsageError(
            f"formats must be names of graph formats, not {type(formats).__name__} "
            f"{formats!r}. Give names such as formats=('text', 'dot')."
        )
    names: dict[str, None] = {}
    for name in formats:
        if not isinstance(name, str):
            raise UsageError(
                f"A graph format must be a string, not {type(name).__name__} {name!r}. "
                "Give names such as formats=('text', 'dot')."
            )
        if name.strip():
            names[name.strip()] = None
    if not names:
        raise UsageError(
            "No graph format given: name at least one, for example formats=('text', 'dot') "
            "or --format text,dot."
        )
    return list(names)


def run() -> None:
    """Leave the watch phase and process the changes seen so far (no effect while running)."""
    _call(wire.Control("run"))


def wait() -> None:
    """Wait until the director is idle, in its watch phase."""
    _call(wire.Control("wait"))


def join() -> None:
    """Wait until the director is idle, then shut it down."""
    _call(wire.Control("join"))


def shutdown() -> None:
    """Stop the director after its current run phase."""
    _call(wire.Control("shutdown"))


def drain() -> None:
    """Start no new steps; let the running ones finish, then go to the watch phase."""
    _call(wire.Control("drain"))


def from_scratch() -> None:
    """Forget all hashes and run every step again (watch phase only)."""
    _call(wire.Control("from_scratch"))


def try_replay() -> None:
    """Replay the whole workflow from the plan, skipping what did not change (watch phase)."""
    _call(wire.Control("try_replay"))


def watch_update(path: str) -> None:
    """Wait until the watcher has seen ``path`` (root-relative) change."""
    _call(wire.WatchChange(normalize(path), False))


def watch_delete(path: str) -> None:
    """Wait until the watcher has seen ``path`` (root-relative, dirs with a slash) deleted."""
    _call(wire.WatchChange(normalize(path), True))


def cleanup(*paths: str) -> tuple[int, int]:
    """Remove outputs and all that depends on them; return (files, directories) removed."""
    from stepup_trio.api import translate

    numf, numd = _call(wire.Cleanup([translate(path) for path in paths]))
    return numf, numd
