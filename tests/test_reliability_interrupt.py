"""Interrupting a build of many slow steps: Ctrl-C, SIGTERM, and a second Ctrl-C.

Each step records its pid, writes a first part of its output, sleeps, and completes the output.
The first steps are quick; the others sleep 30 s, so that the interrupt finds the workers busy.
The test checks what the issue asks: exit code 130, no process group of the director, its
workers or any step survives, the steps that were running are not recorded as built (their
output holds only the first part), the dump holds every step that had succeeded, and the next
run starts exactly the steps that had not succeeded.
"""

import re
import signal
import time
from pathlib import Path

import pytest
from helpers import (
    OutputReader,
    group_members,
    processes_in,
    run_stepup,
    start_stepup,
    wait_for,
    worker_pids,
    write_plan,
)

from stepup_trio.plugins import load_plugins
from stepup_trio.services.workers import GRACE_PERIOD
from stepup_trio.store import load_workflow

NUM_STEPS = 200
NUM_WORKERS = 4
#: The first steps sleep briefly and succeed before the interrupt; the others sleep long.
NUM_QUICK = 20


def slow_plan(folder: Path, stubborn: bool) -> None:
    """200 steps; their sleep is read from a file that is not an input, to shorten the rerun.

    A stubborn step ignores SIGINT, as its sleep does: only SIGKILL stops it.
    """
    trap = "trap '' INT; " if stubborn else ""
    write_plan(
        folder,
        f"""
        from stepup.core.api import step
        for i in range({NUM_STEPS}):
            delay = "quick" if i < {NUM_QUICK} else "slow"
            step(
                f"{trap}echo $$$$ > pid_{{i}}; echo part > out_{{i}}.txt; "
                f"sleep $$(cat {{delay}}); echo done >> out_{{i}}.txt",
                out=f"out_{{i}}.txt",
            )
        """,
    )
    (folder / "quick").write_text("0.05\n")
    (folder / "slow").write_text("30\n")


def step_numbers(lines: list[str], action: str) -> set[int]:
    pattern = re.compile(rf"^ *{action} │ .*echo \$\$ > pid_(\d+);")
    return {int(match[1]) for line in lines if (match := pattern.match(line))}


@pytest.mark.parametrize(
    "signals",
    [
        pytest.param((signal.SIGINT,), id="sigint"),
        pytest.param((signal.SIGTERM,), id="sigterm"),
        pytest.param((signal.SIGINT, signal.SIGINT), id="second_sigint"),
    ],
)
def test_interrupt_many_slow_steps(tmp_path, signals):
    # With a second Ctrl-C, the steps ignore the first one: only the second can stop them
    # before the grace period is over.
    stubborn = len(signals) > 1
    slow_plan(tmp_path, stubborn)
    process = start_stepup(tmp_path, "-n", f"-w{NUM_WORKERS}")
    reader = OutputReader(process)
    try:
        # The plan and the quick steps are done, and every worker runs a slow step.
        assert reader.wait(
            lambda lines: (
                "   SUCCESS │ ./plan.py" in lines
                and len(step_numbers(lines, "SUCCESS")) >= NUM_QUICK
                and len(step_numbers(lines, "START")) >= NUM_QUICK + NUM_WORKERS
            ),
            timeout=60,
        ), reader.lines
        workers = worker_pids(tmp_path)
        assert len(workers) == NUM_WORKERS
        running_before = step_numbers(reader.lines, "START") - step_numbers(reader.lines, "SUCCESS")
        pid_files = [tmp_path / f"pid_{i}" for i in running_before]
        assert wait_for(lambda: all(path.exists() and path.read_text() for path in pid_files))
        running_pids = [int(path.read_text()) for path in pid_files]
        interrupted_at = time.monotonic()
        for index, sig in enumerate(signals):
            if index:
                time.sleep(0.3)
            process.send_signal(sig)
        if stubborn:
            # The stubborn steps are killed by the second Ctrl-C, not at the end of the grace
            # period that the first one started.
            deadline = interrupted_at + GRACE_PERIOD - 0.5
            assert wait_for(
                lambda: not any(group_members(pgid) for pgid in running_pids),
                timeout=deadline - time.monotonic(),
            ), "the second Ctrl-C did not kill the running steps at once"
        stdout, stderr = reader.finish(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stdout + stderr
    assert "Traceback" not in stdout + stderr
    assert "   WARNING │ Interrupted: running steps were stopped." in stdout

    # No process group survives: the director's, the workers' and every step's.
    lines = stdout.splitlines()
    started = step_numbers(lines, "START")
    succeeded = step_numbers(lines, "SUCCESS")
    running = started - succeeded
    step_pids = [int((tmp_path / f"pid_{i}").read_text()) for i in sorted(started)]
    groups = [process.pid, *workers, *step_pids]
    assert wait_for(lambda: not any(group_members(pgid) for pgid in groups), timeout=10), [
        (pgid, group_members(pgid)) for pgid in groups if group_members(pgid)
    ]
    # Nor does any other process in the project folder.
    assert not processes_in(tmp_path)

    # The quick steps had succeeded; the slow ones that ran were stopped halfway.
    assert succeeded == set(range(NUM_QUICK)), stdout
    assert len(running) == NUM_WORKERS, stdout
    assert not step_numbers(lines, "FAIL"), stdout
    for i in running:
        assert (tmp_path / f"out_{i}.txt").read_text() == "part\n", i

    # The dump holds every step that succeeded, and no other, as built.
    workflow = load_workflow(str(tmp_path / ".stepup/workflow.mpk.xz"), load_plugins().kinds)
    states = {
        int(match[1]): step.state.name
        for step in workflow.steps()
        if (match := re.search(r"pid_(\d+);", step.command))
    }
    assert len(states) == NUM_STEPS
    assert {i for i, state in states.items() if state == "SUCCEEDED"} == succeeded
    built = {i for i in range(NUM_STEPS) if workflow.file(f"out_{i}.txt").state.name == "BUILT"}
    assert built == succeeded
    assert not (tmp_path / ".stepup/journal.mpk").exists()

    # The next run starts exactly the steps that had not succeeded, and skips the others.
    (tmp_path / "slow").write_text("0\n")
    result = run_stepup(tmp_path, "-n", f"-w{NUM_WORKERS}", timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    rerun = result.stdout.splitlines()
    assert "      SKIP │ ./plan.py" in rerun
    assert step_numbers(rerun, "START") == set(range(NUM_STEPS)) - succeeded
    assert step_numbers(rerun, "SKIP") == succeeded
    for i in range(NUM_STEPS):
        assert (tmp_path / f"out_{i}.txt").read_text() == "part\ndone\n", i


STEP_WITH_HANDLER = """\
import time
open("ready", "w").close()
try:
    time.sleep(60)
except KeyboardInterrupt:
    open("got_sigint", "w").close()
    raise
"""


def test_running_step_gets_sigint(tmp_path):
    (tmp_path / "step.py").write_text(STEP_WITH_HANDLER)
    write_plan(
        tmp_path,
        """
        from stepup.core.api import static, step
        static("step.py")
        step("python3 step.py", inp="step.py")
        """,
    )
    process = start_stepup(tmp_path, "-n", "-w1")
    try:
        assert wait_for(lambda: (tmp_path / "ready").exists(), timeout=60)
        interrupted_at = time.monotonic()
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
        elapsed = time.monotonic() - interrupted_at
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, stdout + stderr
    # The step saw the interrupt and ended by itself, well before the grace period was over.
    assert (tmp_path / "got_sigint").exists()
    assert elapsed < GRACE_PERIOD, elapsed
