"""Shared helpers of the plan-API end-to-end tests (``test_api_*.py``); it holds no tests.

The tests run the real ``stepup`` on small plans in a temporary folder. Most run with
``-n -w1``: with a single worker the plan ends before the steps it defined start, so the order
of the lines is fixed, with StepUp 1.3.1 as with us. The graph is written by a last step that
calls ``graph("graph")`` from ``stepup.core.interact`` (a plan written for StepUp can do the
same), so graph.txt shows the workflow near the end of a run, with that step RUNNING.
"""

import contextlib
import os
import re
import signal
import subprocess
import textwrap
import threading
from pathlib import Path

from helpers import FOOTER, header, interrupt, lines, run_stepup, start_stepup

__all__ = [
    "GRAPH",
    "RULE",
    "W1_FOOTER",
    "W1_HEADER",
    "W1_HEADER_LOADED",
    "assert_clean_error",
    "box",
    "graph_blocks",
    "graph_keys",
    "make_files",
    "mask_graph",
    "parse_graph",
    "rule",
    "run_guarded",
    "run_w1",
    "step_lines",
    "write_script",
]

# The command of the step that writes graph.txt, as the plans below spell it (raw strings).
GRAPH = "python -c 'from stepup.core.interact import graph; graph(\"graph\")'"

RULE = "─" * 80

W1_HEADER = header(workers=1)
W1_HEADER_LOADED = header(workers=1, loaded=True)
W1_FOOTER = FOOTER


def rule(title: str = "") -> str:
    """A box title line as the reporter prints it (80 columns, odd fill on the right)."""
    if not title:
        return RULE
    title = f" {title} "
    left = (80 - len(title)) // 2
    return "─" * left + title + "─" * (80 - len(title) - left)


def run_w1(folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """``stepup -n -w1 [args]``: one worker, so the plan ends before its steps start."""
    return run_stepup(folder, "-n", "-w1", *args, **env)


def make_files(folder: Path, files: dict[str, str]) -> None:
    """Create files (with their parent directories); a name ending in / is a directory."""
    for name, text in files.items():
        path = folder / name
        if name.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)


def write_script(path: Path, body: str) -> Path:
    """An executable Python script, such as a sub plan or a step that calls amend()."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/usr/bin/env python\n" + textwrap.dedent(body).lstrip("\n"))
    path.chmod(0o755)
    return path


def step_lines(output: str) -> list[str]:
    """The reporter lines about steps and files, stripped, without boxes."""
    return [
        line.strip()
        for line in lines(output)
        if re.match(r" *(START|SKIP|SUCCESS|FAIL|NOSKIP|CLEAN|RESCHEDULE|DROPAMEND) │", line)
    ]


def box(output: str, status_line: str, title: str) -> list[str]:
    """The text of the box with ``title`` among those printed after the first ``status_line``."""
    out = lines(output)
    index = out.index(status_line) + 1
    while index < len(out) and out[index].startswith("─") and out[index] != RULE:
        end = index + 1
        while not out[end].startswith("─"):
            end += 1
        if out[index] == rule(title):
            return out[index + 1 : end]
        index = end
    raise AssertionError(f"No box {title!r} after {status_line!r}:\n{output}")


def assert_clean_error(output: str) -> None:
    """No traceback line comes from stepup_trio (or its compatibility layer) itself."""
    assert "stepup_trio/" not in output
    assert "stepup/core/" not in output
    assert "site-packages" not in output


# graph.txt

_DIGEST = re.compile(r"= [0-9a-f]{8}( [0-9a-f]{8}){7}$", re.MULTILINE)


def mask_graph(text: str, folder: Path | None = None) -> str:
    """Digests differ by design (another hash function): replace them, and the temp folder."""
    text = _DIGEST.sub("= <digest>", text)
    if folder is not None:
        text = text.replace(str(folder), "<tmp>")
    return text


def parse_graph(text: str, folder: Path | None = None) -> dict[str, str]:
    """The blocks of a graph.txt text by node key (orphans keep their parentheses), in order,
    with digests and the temporary folder masked."""
    blocks = {}
    for block in mask_graph(text, folder).split("\n\n"):
        if block.strip():
            blocks[block.strip("\n").split("\n", 1)[0]] = block.strip("\n") + "\n"
    return blocks


def graph_blocks(folder: Path, name: str = "graph.txt") -> dict[str, str]:
    """The blocks of ``folder/name`` (see parse_graph)."""
    return parse_graph((folder / name).read_text(), folder)


def graph_keys(folder: Path, name: str = "graph.txt") -> list[str]:
    """The node keys in the order of graph.txt."""
    return list(graph_blocks(folder, name))


# A run that may never end


def run_guarded(
    folder: Path, *args: str, max_reschedules: int = 5, timeout: float = 30, **env: str
) -> tuple[int | None, str]:
    """Run stepup and interrupt it when it loops (too many RESCHEDULE lines) or hangs.

    Returns (exit code, stdout); the exit code is None when stepup had to be stopped.
    """
    process = start_stepup(folder, *args, **env)
    stopped = threading.Event()

    def stop() -> None:
        stopped.set()
        with contextlib.suppress(ProcessLookupError):
            interrupt(process)

    timer = threading.Timer(timeout, stop)
    timer.start()
    seen = []
    try:
        for line in process.stdout:
            seen.append(line)
            if sum("RESCHEDULE │" in item for item in seen) > max_reschedules:
                stop()
                break
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    finally:
        timer.cancel()
    return (None if stopped.is_set() else process.returncode), "".join(seen)
