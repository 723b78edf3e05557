"""The reporter: the only writer to the terminal.

Every event is a status line ``    ACTION │ description``, optionally followed by boxes
("pages") with a title rule. On a terminal the action words are coloured and a transient
progress bar shows the running and finished steps; piped output is plain, line by line.
"""

import contextlib
import os
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

__all__ = ["Reporter", "rule"]

ACTION_STYLES = {
    "START": "blue",
    "FAIL": "red",
    "ERROR": "red",
    "SUCCESS": "green",
    "DELETED": "yellow",
    "UPDATED": "yellow",
    "RESCHEDULE": "yellow",
    "DROPAMEND": "yellow",
    "WARNING": "yellow",
    "SKIP": "cyan",
    "NOSKIP": "cyan",
    "PHASE": "white",
}
DEFAULT_STYLE = "magenta"


def rule(title: str, width: int) -> str:
    """A horizontal line with a centred title; the odd character goes to the right."""
    if not title:
        return "─" * width
    title = f" {title} "
    fill = max(width - len(title), 0)
    left = fill // 2
    return "─" * left + title + "─" * (fill - left)


def _may_be_terminal() -> bool:
    """False when rich would surely see no terminal: then it need not even be imported."""
    overrides = ("TTY_COMPATIBLE", "TTY_INTERACTIVE", "FORCE_COLOR")
    return sys.stdout.isatty() or any(name in os.environ for name in overrides)


class Reporter:
    """Formats and prints status lines and boxes, and keeps the progress bar up to date."""

    def __init__(self, console: "Console | None" = None, show_perf: int = 0) -> None:
        self._console = console
        if console is None and _may_be_terminal():
            self._console = self._new_console()
        # Piped output is plain: rich is only loaded when a box needs the console's width.
        self.interactive = self._console is not None and self._console.is_terminal
        self._file = sys.stdout if console is None else console.file
        self.show_perf = show_perf
        self._phase_start = time.perf_counter()
        self._digits = 3
        self.running = 0
        self._progress: Progress | None = None
        self._closed_pipe = False
        self._tasks: dict[str, int] = {}

    @staticmethod
    def _new_console() -> "Console":
        from rich.console import Console

        return Console(file=sys.stdout, highlight=False)

    @property
    def console(self) -> "Console":
        if self._console is None:
            self._console = self._new_console()
        return self._console

    # Progress bar (terminal only)

    def start_progress(self, num_workers: int) -> None:
        if not self.interactive or self._progress is not None:
            return
        # Only a terminal shows progress: piped runs need not import it.
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=self.console,
            transient=True,
        )
        self._tasks["running"] = self._progress.add_task("🛠 ", total=num_workers)
        self._tasks["done"] = self._progress.add_task("✔ ", total=1)
        self._progress.start()

    def update_progress(self, running: int, succeeded: int, remaining: int) -> None:
        self.running = running
        if self._progress is None:
            return
        self._progress.update(self._tasks["running"], completed=running)
        self._progress.update(
            self._tasks["done"], completed=succeeded, total=max(succeeded + remaining, 1)
        )

    def stop_progress(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    # Lines and boxes

    def _prefix(self, action: str) -> str:
        if action == "PHASE":
            self._phase_start = time.perf_counter()
        if not self.show_perf:
            return ""
        elapsed = time.perf_counter() - self._phase_start
        self._digits = max(self._digits, len(str(self.running)))
        return f"{elapsed:7.2f} {self.running:{self._digits}d} "

    def report(self, action: str, description: str, pages: Sequence[tuple[str, str]] = ()) -> None:
        """Print ``    ACTION │ description`` and then each (title, body) page in a box."""
        prefix = self._prefix(action)
        if not self.interactive:
            # Piped output is plain text, line by line: no need for rich's rendering.
            lines = [f"{prefix}{action:>10s} │ {description}"]
            if pages:
                width = self.console.width
                for title, body in pages:
                    lines.extend((rule(title, width), body))
                lines.append(rule("", width))
            self._write("".join(line + "\n" for line in lines))
            return
        from rich.text import Text

        line = Text(prefix)
        line.append(f"{action:>10s}", style=ACTION_STYLES.get(action, DEFAULT_STYLE))
        line.append(f" │ {description}")
        self.console.print(line, no_wrap=True, overflow="ellipsis", crop=True)
        if pages:
            width = self.console.width
            for title, body in pages:
                self.console.print(Text(rule(title, width)), no_wrap=True, crop=True)
                self.console.print(Text(body), soft_wrap=True)
            self.console.print(Text(rule("", width)), no_wrap=True, crop=True)

    def report_many(self, action: str, descriptions: Sequence[str]) -> None:
        """The same action for many descriptions, without boxes: ``SKIP`` for a whole
        workflow. Piped, the lines go out in one write."""
        if self.interactive:
            for description in descriptions:
                self.report(action, description)
            return
        prefix = self._prefix(action)
        self._write("".join(f"{prefix}{action:>10s} │ {text}\n" for text in descriptions))

    def _write(self, text: str) -> None:
        if self._closed_pipe:
            return
        try:
            self._file.write(text)
            self._file.flush()
        except BrokenPipeError:
            # Whoever read our output is gone (e.g. `stepup | head`): the build goes on
            # quietly, so that its results and the dump are still written.
            self._closed_pipe = True
            with contextlib.suppress(OSError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), self._file.fileno())

    def close(self) -> None:
        """Stop the progress bar and end the output with an empty line."""
        self.stop_progress()
        if self.interactive:
            self.console.print()
        else:
            self._write("\n")
