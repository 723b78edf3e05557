"""Run the real ``stepup`` command in a temporary folder, as a user would."""

import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
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
    # A zombie is dead too: it only waits for its parent to collect it. The process may
    # also vanish between opening and reading its stat file.
    fields = _proc_stat(str(pid))
    return fields is not None and fields[0] != "Z"


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


# Reliability tests: reading output while stepup runs, and finding every process it left


class OutputReader:
    """Reads a process's stdout and stderr in threads, so that a test can act on what it sees.

    ``wait`` blocks until a predicate of the stdout lines read so far holds (or a timeout), and
    ``finish`` waits for the process and returns (stdout, stderr): both never hang longer than
    their timeout.
    """

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process
        self.lines: list[str] = []
        self._stderr: list[str] = []
        self._changed = threading.Condition()
        self._threads = [
            threading.Thread(target=self._read, args=(process.stdout, self.lines), daemon=True),
            threading.Thread(target=self._read, args=(process.stderr, self._stderr), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _read(self, stream, into: list[str]) -> None:
        for line in stream:
            with self._changed:
                into.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def errors(self) -> list[str]:
        """The lines of standard error read so far."""
        with self._changed:
            return list(self._stderr)

    def wait(self, predicate, timeout: float = 60.0) -> bool:
        """Wait until ``predicate(lines)`` holds; False when the timeout passes or output ends."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self.lines):
                left = deadline - time.monotonic()
                if left <= 0 or not self._threads[0].is_alive():
                    return predicate(self.lines)
                self._changed.wait(min(left, 0.5))
        return True

    def finish(self, timeout: float = 60.0) -> tuple[str, str]:
        """Wait for the process to exit (kill it after ``timeout``) and for its output."""
        try:
            self.process.wait(timeout=timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(timeout=10)
        for thread in self._threads:
            thread.join(timeout=10)
        with self._changed:
            return "\n".join(self.lines) + "\n", "\n".join(self._stderr)


def worker_pids(folder: Path) -> list[int]:
    """The pids of the workers, from the first line of ``.stepup/worker*.log``."""
    pids = []
    for path in (folder / ".stepup").glob("worker*.log"):
        words = path.read_text().split()
        if len(words) >= 2 and words[0] == "PID":
            pids.append(int(words[1]))
    return pids


def _proc_stat(pid: str) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name, or None for a gone process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def group_members(pgid: int) -> list[int]:
    """The live (not zombie) processes in process group ``pgid``."""
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _proc_stat(entry)
            if fields is not None and fields[0] != "Z" and int(fields[2]) == pgid:
                members.append(int(entry))
    return members


def processes_in(folder: Path) -> list[int]:
    """The live processes whose working directory is ``folder`` or inside it.

    Workers and steps run in the root of the workflow: this finds them without knowing their
    pids, including processes that a step left behind.
    """
    folder = str(Path(folder).resolve())
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        if cwd == folder or cwd.startswith(folder + os.sep):
            fields = _proc_stat(entry)
            if fields is not None and fields[0] != "Z":
                found.append(int(entry))
    return found
