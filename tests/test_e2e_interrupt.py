"""Ctrl-C and SIGTERM: every step and worker stops, the dump is written, exit code 130."""

import signal
from pathlib import Path

import pytest
from helpers import pid_alive, start_stepup, wait_for, worker_pids, write_plan

NUM_SLOW = 3


def slow_plan(folder: Path) -> None:
    # Each slow step records the pid of its shell and of a background grandchild.
    # ($$$$ becomes $$ for the shell: step() substitutes $$ with $, as StepUp does.)
    write_plan(
        folder,
        f"""
        from stepup.core.api import step
        step("echo done > quick.txt", out="quick.txt")
        for i in range({NUM_SLOW}):
            step(f"echo $$$$ > pid{{i}}; sleep 60 & echo $! > child{{i}}; wait")
        """,
    )


def read_pids(folder: Path, pattern: str) -> list[int]:
    return [int(path.read_text().split()[-1]) for path in folder.glob(pattern) if path.read_text()]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_leaves_no_process(tmp_path, sig):
    slow_plan(tmp_path)
    process = start_stepup(tmp_path, "-n", "-w4")
    try:
        ready = wait_for(
            lambda: (
                len(read_pids(tmp_path, "child*")) == NUM_SLOW and (tmp_path / "quick.txt").exists()
            ),
            timeout=60,
        )
        assert ready, "the slow steps did not start"
        pids = read_pids(tmp_path, "pid*") + read_pids(tmp_path, "child*")
        workers = worker_pids(tmp_path)
        assert len(workers) == 4
        assert all(pid_alive(pid) for pid in pids + workers)
        process.send_signal(sig)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stdout + stderr
    assert wait_for(lambda: not any(pid_alive(pid) for pid in pids + workers), timeout=10)
    assert "   WARNING │ Interrupted: running steps were stopped." in stdout
    assert "  WORKFLOW │ Dumped to .stepup/workflow.mpk.xz" in stdout
    assert stdout.endswith("  DIRECTOR │ See you!\n\n")
    assert "Traceback" not in stdout + stderr


def test_interrupted_steps_are_not_recorded_as_built(tmp_path):
    from stepup_trio.plugins import load_plugins
    from stepup_trio.store import load_workflow

    write_plan(
        tmp_path,
        """
        from stepup.core.api import step
        step("echo done > quick.txt", out="quick.txt")
        step("touch partial.txt; sleep 60; echo done > slow.txt", out="slow.txt")
        """,
    )
    process = start_stepup(tmp_path, "-n", "-w2")
    try:
        assert wait_for(lambda: (tmp_path / "partial.txt").exists(), timeout=60)
        assert wait_for(lambda: (tmp_path / "quick.txt").exists(), timeout=60)
        # The quick step must be reported before the interrupt, so that it is recorded.
        assert wait_for(lambda: (tmp_path / ".stepup/worker1.log").exists(), timeout=10)
        process.send_signal(signal.SIGINT)
        stdout, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130
    workflow = load_workflow(str(tmp_path / ".stepup/workflow.mpk.xz"), load_plugins().kinds)
    states = {step.command: step.state.name for step in workflow.steps()}
    assert states["touch partial.txt; sleep 60; echo done > slow.txt"] == "PENDING"
    assert workflow.file("slow.txt").state.name == "PENDING"
    if "   SUCCESS │ echo done > quick.txt" in stdout:
        assert states["echo done > quick.txt"] == "SUCCEEDED"
        assert workflow.file("quick.txt").state.name == "BUILT"
