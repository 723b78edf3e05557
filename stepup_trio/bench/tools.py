"""The build tools that the e2e benchmark times: this stepup, and those of ``--compare``.

A tool is a command line run in a workload's folder, plus what the runner needs to check its
output and to give it the right ``PATH`` and environment.
"""

import os
import re
import shlex
import shutil
import sys
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

__all__ = [
    "STEPUP_NAME",
    "WORKER_LABEL",
    "Tool",
    "ToolKind",
    "child_env",
    "compare_tool",
    "stepup_command",
    "stepup_tool",
    "unique_names",
]

STEPUP_NAME = "stepup"
# How this stepup's worker processes are named (``python -m stepup_trio.worker``).
WORKER_LABEL = "stepup_trio.worker"
# -n, --non-interactive, or -n inside a cluster of short options such as -nw2.
NON_INTERACTIVE = re.compile(r"--non-interactive|-[a-zA-Z]*n[a-zA-Z0-9.]*")
# A shell-style variable assignment before the program: NAME=value.
ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=.*", re.DOTALL)


class ToolKind(StrEnum):
    """How a tool's output is checked (all tools: exit code and the probe file)."""

    # This installation's stepup: a no-op rebuild must print no START and a SKIP per step.
    STEPUP = "stepup"
    # Another stepup-compatible command (e.g. StepUp 1.3.1): START lines are only counted.
    STEPUP_LIKE = "stepup-like"
    # ninja with a generated build.ninja: a no-op rebuild must say "no work to do".
    NINJA = "ninja"


@dataclass(frozen=True)
class Tool:
    """A build tool to time: its full command line, run in its own copy of the workload.

    ``bindir`` goes first on ``PATH``, so that the plan's ``#!/usr/bin/env python`` finds the
    Python in which that tool's stepup is installed. ``env`` holds the variables set for this
    tool only (``NAME=value`` words before the program in ``--compare``).
    """

    name: str
    argv: list[str]
    kind: ToolKind
    bindir: str
    env: tuple[tuple[str, str], ...] = ()

    @property
    def stepup_output(self) -> bool:
        return self.kind in (ToolKind.STEPUP, ToolKind.STEPUP_LIKE)

    @property
    def worker_label(self) -> str | None:
        """The label of the worker processes whose CPU is a role of its own (this stepup only).

        Other tools' CPU is only split into their own process and what it reaped.
        """
        return WORKER_LABEL if self.kind == ToolKind.STEPUP else None


def stepup_command() -> list[str]:
    """The ``stepup`` next to this Python (same venv), else the module of this Python."""
    exe = Path(sys.executable).parent / "stepup"
    if exe.is_file() and os.access(exe, os.X_OK):
        return [str(exe)]
    return [sys.executable, "-m", "stepup_trio"]


def stepup_tool(workers: int) -> Tool:
    """The stepup of this installation, run once (``-n``) with ``workers`` workers."""
    argv = [*stepup_command(), "-n", "-w", str(workers)]
    return Tool(STEPUP_NAME, argv, ToolKind.STEPUP, str(Path(sys.executable).parent))


def resolve(program: str) -> str:
    """The absolute path of ``program`` (a path, or a name looked up on PATH)."""
    found = shutil.which(program)
    if found is None:
        where = "not an executable file" if os.sep in program else "not found on PATH"
        raise ValueError(f"compare tool {program!r}: {where}")
    return os.path.abspath(found)


def compare_tool(spec: str, workers: int) -> Tool:
    """A ``--compare`` value as a tool: ``ninja ...`` or a stepup-compatible command line.

    Raise ValueError with a message for the user when the command cannot be used.
    """
    try:
        argv = shlex.split(spec)
    except ValueError as exc:
        raise ValueError(f"compare command {spec!r}: {exc}") from None
    if not argv:
        raise ValueError("empty compare command")
    assignments = []
    while argv and ASSIGNMENT.fullmatch(argv[0]):
        name, _, value = argv.pop(0).partition("=")
        assignments.append((name, value))
    if not argv:
        raise ValueError(f"compare command {spec!r}: only variables, no program to run")
    program = resolve(argv[0])
    bindir = os.path.dirname(program)
    if os.path.basename(program) == "ninja":
        jobs = [] if any(arg.startswith("-j") for arg in argv[1:]) else [f"-j{workers}"]
        argv = [program, *argv[1:], *jobs]
        return Tool("ninja", argv, ToolKind.NINJA, bindir, tuple(assignments))
    if not any(NON_INTERACTIVE.fullmatch(arg) for arg in argv[1:]):
        raise ValueError(
            f"compare command {spec!r} needs -n (--non-interactive): without it, stepup "
            "keeps watching and never exits"
        )
    name = shlex.join([f"{key}={value}" for key, value in assignments] + argv)
    argv = [program, *argv[1:]]
    return Tool(name, argv, ToolKind.STEPUP_LIKE, bindir, tuple(assignments))


def unique_names(tools: list[Tool]) -> list[Tool]:
    """Rename repeated names (``ninja``, ``ninja#2``): rows and ratios are keyed by name."""
    seen: dict[str, int] = {}
    result = []
    for tool in tools:
        count = seen[tool.name] = seen.get(tool.name, 0) + 1
        name = tool.name if count == 1 else f"{tool.name}#{count}"
        result.append(replace(tool, name=name))
    return result


def child_env(tool: Tool) -> dict[str, str]:
    """This environment with the tool's directory first on PATH, no stepup variables but the
    tool's own.

    Variables of an enclosing stepup run (STEPUP_*) would confuse the child. Python may write
    its bytecode caches (PYTHONDONTWRITEBYTECODE is dropped): users have them, and without
    them every run would compile the tool's modules again.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("STEPUP_") and k != "PYTHONDONTWRITEBYTECODE"
    }
    env["PATH"] = f"{tool.bindir}{os.pathsep}{env.get('PATH', '')}"
    env.update(tool.env)
    return env
