"""A director killed with SIGKILL: the next run redoes only the steps that were running."""

import os
import re
import signal
import time

from helpers import pid_alive, run_stepup, start_stepup, wait_for, write_plan

NUM_QUICK = 12


def test_sigkill_keeps_completed_steps(tmp_path):
    write_plan(
        tmp_path,
        f"""
        from stepup.core.api import step
        for i in range({NUM_QUICK}):
            step(f"echo {{i}} > quick{{i}}.txt", out=f"quick{{i}}.txt")
        step("echo $$$$ > slow.pid; until [ -f go ]; do sleep 0.1; done; echo done > slow.txt",
             out="slow.txt")
        """,
    )
    process = start_stepup(tmp_path, "-n", "-w2")
    try:
        assert wait_for(
            lambda: (
                (tmp_path / "slow.pid").exists()
                and all((tmp_path / f"quick{i}.txt").exists() for i in range(NUM_QUICK))
            ),
            timeout=60,
        )
        # Give the director the moment to hear that the last quick step succeeded.
        assert wait_for(lambda: (tmp_path / ".stepup/journal.mpk").stat().st_size > 0, timeout=10)
        slow_pid = int((tmp_path / "slow.pid").read_text())
        worker_pids = [
            int(path.read_text().split()[1]) for path in (tmp_path / ".stepup").glob("worker*.log")
        ]
        time.sleep(0.5)
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    # The workers notice that the director is gone and stop the running step.
    assert wait_for(lambda: not pid_alive(slow_pid), timeout=15)
    assert wait_for(lambda: not any(pid_alive(pid) for pid in worker_pids), timeout=15)
    assert not (tmp_path / "slow.txt").exists()

    # Let the slow step finish this time. Its command did not change.
    (tmp_path / "go").write_text("")
    result = run_stepup(tmp_path, "-n", "-w2", timeout=120)
    out = result.stdout
    match = re.search(r"Recovered (\d+) completed step\(s\) of an interrupted run", out)
    assert match, out
    recovered = int(match[1])
    started = re.findall(r"START │ (.*)", out)
    skipped = re.findall(r"SKIP │ (.*)", out)
    # Every quick step that the director had heard of is skipped, the slow one reruns.
    assert started[-1].startswith("echo $$ > slow.pid")
    assert len(skipped) == recovered
    assert len(started) + len(skipped) == NUM_QUICK + 2
    assert len(skipped) >= NUM_QUICK
    assert result.returncode == 0
    assert (tmp_path / "slow.txt").read_text() == "done\n"


def test_killed_worker_is_replaced(tmp_path):
    write_plan(
        tmp_path,
        """
        from stepup.core.api import step
        step("echo $$$$ > slow.pid; sleep 60", out="never.txt")
        step("echo done > after.txt", out="after.txt")
        """,
    )
    process = start_stepup(tmp_path, "-n", "-w1")
    try:
        assert wait_for(lambda: (tmp_path / "slow.pid").exists(), timeout=60)
        slow_pid = int((tmp_path / "slow.pid").read_text())
        worker_pid = int((tmp_path / ".stepup/worker0.log").read_text().split()[1])
        os.kill(worker_pid, signal.SIGKILL)
        stdout, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 2, stdout
    assert "      FAIL │ echo $$ > slow.pid; sleep 60" in stdout
    assert "Worker 0 exited unexpectedly." in stdout
    assert stdout.count("  DIRECTOR │ Launched worker 0") == 2
    assert "   SUCCESS │ echo done > after.txt" in stdout
    assert (tmp_path / "after.txt").read_text() == "done\n"
    # The step of the dead worker does not outlive it.
    assert wait_for(lambda: not pid_alive(slow_pid), timeout=10)
