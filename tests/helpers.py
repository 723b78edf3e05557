"""Run the real ``stepup`` command in a temporary folder, as a user would."""

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

BIN = Path(sys.executable).parent
STEPUP = str(BIN / "stepup")
DATA = Path(__file__).parent / "data"
LISTENING = re.compile(r"Listening on /tmp/stepup-\w+/director")


def clean_env(**extra: str) -> dict[str, str]:
    """The test's environment without stepup variables, with this venv first on PATH.

    Plan scripts start with ``#!/usr/bin/env python``: that must be the python running the
    tests, in which stepup_trio is installed.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEPUP_")}
    for name in ("COLUMNS", "LINES", "HERE", "ROOT", "FORCE_COLOR", "NO_COLOR"):
        env.pop(name, None)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def write_plan(folder: Path, body: str, shebang: str = "#!/usr/bin/env python") -> Path:
    """Write an executable plan.py with the given body (dedented)."""
    path = folder / "plan.py"
    path.write_text(shebang + "\n" + textwrap.dedent(body).lstrip("\n"))
    path.chmod(0o755)
    return path


def run_stepup(
    folder: Path, *args: str, timeout: float = 120, **env: str
) -> subprocess.CompletedProcess:
    """Run ``stepup -n -w2 <args>`` in ``folder`` (``-n -w2`` unless args are given)."""
    return subprocess.run(
        [STEPUP, *(args or ("-n", "-w2"))],
        cwd=folder,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def mask_socket(text: str) -> str:
    return LISTENING.sub("Listening on /tmp/stepup-XXXXXXXX/director", text)


def lines(text: str) -> list[str]:
    return mask_socket(text).splitlines()


PLAN_SUCCESS = "   SUCCESS │ ./plan.py"
RULE = "─" * 80
FOOTER = [
    "  WORKFLOW │ Dumped to .stepup/workflow.mpk.xz",
    "  DIRECTOR │ Stopping workers.",
    "  DIRECTOR │ See you!",
    "",
]


def header(workers: int = 2, loaded: bool = False) -> list[str]:
    """The first lines of a non-interactive run, up to and including ``PHASE │ run``."""
    lines = ["  DIRECTOR │ Listening on /tmp/stepup-XXXXXXXX/director"]
    if loaded:
        lines.append("  WORKFLOW │ Loaded from .stepup/workflow.mpk.xz")
    lines.extend(f"  DIRECTOR │ Launched worker {index}" for index in range(workers))
    lines.append("     PHASE │ run")
    return lines


def without_plan_success(output: list[str]) -> list[str]:
    """The lines without the plan's SUCCESS line, whose place races with its steps.

    The plan ends while the steps it defined may still run: the order of its SUCCESS line
    and theirs depends on timing, with StepUp as with us. It must appear exactly once.
    """
    assert output.count(PLAN_SUCCESS) == 1, output
    return [line for line in output if line != PLAN_SUCCESS]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too: it only waits for its parent to collect it.
    try:
        status = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except (FileNotFoundError, IndexError):
        return False
    return status != "Z"


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def start_stepup(folder: Path, *args: str, **env: str) -> subprocess.Popen:
    """Start stepup in the background, in its own session like a job in a terminal."""
    return subprocess.Popen(
        [STEPUP, *args],
        cwd=folder,
        env=clean_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )


def interrupt(process: subprocess.Popen, sig: int = signal.SIGINT) -> None:
    os.kill(process.pid, sig)
