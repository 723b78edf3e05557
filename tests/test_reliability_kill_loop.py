"""A seeded kill loop: SIGKILL the director or a worker at a random moment, then rerun.

A build of 200 steps in four layers (each step of a layer reads two outputs of the layer
before) runs again and again, with its source file switched between two contents so that
every run has all the work to do. In each iteration a ``random.Random(seed)`` chooses the
target (the director or one of the two workers) and the moment (after a random number of steps
succeeded, or a random time after the start), kills it with SIGKILL, and reruns the build.

After each kill: nothing of the killed run survives, and a killed worker never hangs the build
(its step, if it ran one, is reported as FAIL and the worker is replaced). After each rerun: the
outputs equal those of a clean build, and the rerun started none of the steps that the killed
run had reported as done (SUCCESS or SKIP), i.e. it redoes at most the steps that were running
at the kill and those that had not started yet.

``STEPUP_KILL_LOOPS`` (default 20) sets the number of kills, ``STEPUP_KILL_SEED`` the seed.
"""

import os
import random
import re
import shutil
import signal
import time
from pathlib import Path

import pytest
from helpers import (
    OutputReader,
    processes_in,
    run_stepup,
    start_stepup,
    wait_for,
    write_plan,
)

NUM_LAYERS = 4
LAYER_SIZE = 50
NUM_STEPS = NUM_LAYERS * LAYER_SIZE
NUM_WORKERS = 2
NUM_KILLS = int(os.environ.get("STEPUP_KILL_LOOPS", "20"))
SEED = int(os.environ.get("STEPUP_KILL_SEED", "20240611"))
SOURCES = ("source A\n", "source B, a little longer\n")

PLAN = f"""
from stepup.core.api import static, step
static("src.txt")
for i in range({LAYER_SIZE}):
    # Some steps take a while, so that kills also land in the middle of a step.
    pause = "sleep 0.02; " if i % 10 == 0 else ""
    step(f"{{pause}}cat src.txt > l0_{{i}}.txt; echo 0 {{i}} >> l0_{{i}}.txt",
         inp="src.txt", out=f"l0_{{i}}.txt")
for k in range(1, {NUM_LAYERS}):
    for i in range({LAYER_SIZE}):
        pause = "sleep 0.02; " if i % 10 == k else ""
        a, b = f"l{{k - 1}}_{{i}}.txt", f"l{{k - 1}}_{{(i + 1) % {LAYER_SIZE}}}.txt"
        step(f"{{pause}}cat {{a}} {{b}} > l{{k}}_{{i}}.txt", inp=[a, b], out=f"l{{k}}_{{i}}.txt")
"""

STEP_LINE = re.compile(r"^ *(START|SUCCESS|SKIP|FAIL) │ (?:sleep 0\.02; )?cat .*> (l\d+_\d+)\.txt")


def step_names(lines: list[str], *actions: str) -> set[str]:
    return {m[2] for line in lines if (m := STEP_LINE.match(line)) and m[1] in actions}


def outputs(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in folder.glob("l*_*.txt")}


def children(pid: int) -> list[int]:
    """Child processes of ``pid``, zombies included (a step not yet collected by its worker)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                text = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(text[text.rindex(")") + 2 :].split()[1]) == pid:
                found.append(int(entry))
    return found


def workers_by_index(folder: Path) -> dict[int, int]:
    """The pid of each worker, by index, from the first line of its log."""
    found = {}
    for path in (folder / ".stepup").glob("worker*.log"):
        words = path.read_text().split()
        if len(words) >= 2 and words[0] == "PID":
            found[int(path.stem.removeprefix("worker"))] = int(words[1])
    return found


def remove_private_dir(folder: Path) -> None:
    """Remove the socket folder that a killed director left in the temporary folder."""
    log = folder / ".stepup/director.log"
    if log.exists():
        first = log.read_text().split("\n", 1)[0]
        if first.startswith("SOCKET "):
            private = os.path.dirname(first.removeprefix("SOCKET "))
            if os.path.basename(private).startswith("stepup-"):
                shutil.rmtree(private, ignore_errors=True)


def new_project(folder: Path, source: str) -> None:
    folder.mkdir()
    write_plan(folder, PLAN)
    (folder / "src.txt").write_text(source)


@pytest.fixture(scope="module")
def references(tmp_path_factory) -> dict[str, dict[str, bytes]]:
    """The outputs of an uninterrupted clean build, for each content of the source."""
    result = {}
    for index, source in enumerate(SOURCES):
        folder = tmp_path_factory.mktemp("reference") / str(index)
        new_project(folder, source)
        build = run_stepup(folder, "-n", f"-w{NUM_WORKERS}", timeout=120)
        assert build.returncode == 0, build.stdout + build.stderr
        result[source] = outputs(folder)
        assert len(result[source]) == NUM_STEPS
    assert result[SOURCES[0]] != result[SOURCES[1]]
    return result


class Kill:
    """One kill: what was killed and what the killed run reported."""

    def __init__(
        self, target: str, returncode: int, stdout: str, busy: bool | None, index: int | None
    ) -> None:
        self.target = target
        self.returncode = returncode
        self.stdout = stdout
        self.lines = stdout.splitlines()
        self.busy = busy  # for a worker: was it running a step when it was killed?
        self.index = index  # for a worker: its index


def kill_at_random(folder: Path, rng: random.Random) -> Kill | None:
    """Start a build, kill the director or a worker at a random moment; None if it was done."""
    target = rng.choice(["director", "worker"])
    process = start_stepup(folder, "-n", f"-w{NUM_WORKERS}")
    reader = OutputReader(process)
    try:
        if rng.random() < 0.2:
            # Any moment, also while stepup starts or the plan runs.
            time.sleep(rng.uniform(0, 0.8))
        else:
            # After a random number of steps succeeded.
            done = rng.randrange(NUM_STEPS)
            assert reader.wait(lambda lines: len(step_names(lines, "SUCCESS")) >= done, 60)
            time.sleep(rng.uniform(0, 0.02))
        busy = index = None
        if target == "director":
            if process.poll() is not None:
                return None
            process.send_signal(signal.SIGKILL)
        else:
            # The logs of this run's workers (those of the last run are removed at the start).
            last = f"  DIRECTOR │ Launched worker {NUM_WORKERS - 1}"
            assert reader.wait(lambda lines: last in lines, timeout=30), reader.lines
            assert wait_for(lambda: len(workers_by_index(folder)) == NUM_WORKERS, timeout=30)
            index = rng.randrange(NUM_WORKERS)
            pid = workers_by_index(folder)[index]
            try:
                os.kill(pid, signal.SIGSTOP)
            except ProcessLookupError:
                # The build was over: the workers had stopped.
                reader.finish(timeout=60)
                return None
            # Frozen, the worker cannot report a result: a child (even one that just exited
            # and was not collected yet) means that its step did not finish.
            busy = bool(children(pid))
            os.kill(pid, signal.SIGKILL)
        # A killed worker must not hang the build: the director finishes it by itself.
        stdout, stderr = reader.finish(timeout=60)
        # The end of its output can come just before its exit.
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            reader.finish(timeout=10)
    assert "Traceback" not in stdout + stderr, stdout + stderr
    return Kill(target, process.returncode, stdout, busy, index)


@pytest.mark.slow
def test_kill_loop(tmp_path, references):
    assert NUM_KILLS >= 1
    rng = random.Random(SEED)
    folder = tmp_path / "project"
    new_project(folder, SOURCES[0])
    kills = iterations = 0
    while kills < NUM_KILLS:
        iterations += 1
        assert iterations <= 3 * NUM_KILLS, "too many kills missed the build"
        source = SOURCES[iterations % 2]
        (folder / "src.txt").write_text(source)
        context = f"seed {SEED}, iteration {iterations}"
        kill = kill_at_random(folder, rng)
        if kill is None:
            # The build was over before the kill: it must have been complete.
            assert outputs(folder) == references[source], context
            continue
        kills += 1
        if kill.target == "director":
            remove_private_dir(folder)
        context += f", {kill.target} killed"
        # Nothing of the killed run survives: no worker, no step, no director.
        assert wait_for(lambda: not processes_in(folder), timeout=15), (
            context,
            processes_in(folder),
        )
        failed = step_names(kill.lines, "FAIL") | {
            line for line in kill.lines if line.startswith("      FAIL │ ./plan.py")
        }
        if kill.target == "worker":
            message = f"Worker {kill.index} exited unexpectedly."
            launched = kill.stdout.count(f"  DIRECTOR │ Launched worker {kill.index}\n")
            assert len(failed) <= 1, (context, kill.stdout)
            if kill.busy:
                # Its step is reported as FAIL and a new worker takes its place.
                assert len(failed) == 1, (context, kill.stdout)
                assert launched == 2, (context, kill.stdout)
            if failed:
                assert message in kill.stdout, (context, kill.stdout)
            assert kill.returncode == (2 if failed else 0), (context, kill.stdout)
            assert kill.stdout.endswith("  DIRECTOR │ See you!\n\n"), (context, kill.stdout)
        done = step_names(kill.lines, "SUCCESS", "SKIP")

        rerun = run_stepup(folder, "-n", f"-w{NUM_WORKERS}", timeout=120)
        lines = rerun.stdout.splitlines()
        assert rerun.returncode == 0, (context, kill.stdout, rerun.stdout + rerun.stderr)
        assert "Traceback" not in rerun.stdout + rerun.stderr, (context, rerun.stdout)
        # Steps that were done before the kill are not redone.
        redone = step_names(lines, "START") & done
        assert not redone, (context, sorted(redone), kill.stdout, rerun.stdout)
        dumped = "  WORKFLOW │ Dumped to .stepup/workflow.mpk.xz" in kill.lines
        if kill.target == "director" and done and not dumped:
            # (A kill that came after the dump was written finds nothing to recover.)
            match = re.search(r"Recovered (\d+) completed step\(s\)", rerun.stdout)
            assert match, (context, rerun.stdout)
            assert int(match[1]) >= len(done), (context, kill.stdout, rerun.stdout)
        assert outputs(folder) == references[source], (context, kill.stdout, rerun.stdout)
