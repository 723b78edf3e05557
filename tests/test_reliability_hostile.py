"""Hostile steps at full size: 100 MB of output, and a daemon in a session of its own."""

import os
import signal

from helpers import pid_alive, run_stepup, wait_for, write_plan

from stepup_trio.worker import CAPTURE_LIMIT

FLOOD_SIZE = 100_000_000


def test_step_prints_100_mb(tmp_path):
    write_plan(
        tmp_path,
        f"""
        from stepup.core.api import step
        step("yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c {FLOOD_SIZE}; "
             "yes error | head -c {FLOOD_SIZE} >&2; echo ok > flood.txt", out="flood.txt")
        step("cp flood.txt after.txt", inp="flood.txt", out="after.txt")
        """,
    )
    result = run_stepup(tmp_path, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stdout + result.stderr
    assert (tmp_path / "after.txt").read_text() == "ok\n"
    # Both streams are reported with their first and last 128 KiB, and what was left out.
    marker = f"[... {FLOOD_SIZE - CAPTURE_LIMIT} bytes of output left out ...]"
    assert result.stdout.count(marker) == 2
    assert len(result.stdout) < 4 * CAPTURE_LIMIT


def test_daemon_in_its_own_session_is_killed(tmp_path):
    write_plan(
        tmp_path,
        """
        from stepup.core.api import step
        # The daemon writes its pid once it is in its own session; the step waits for that.
        step("setsid sh -c 'echo $$$$ > daemon.pid; exec sleep 300' > /dev/null 2>&1 < /dev/null & "
             "until [ -s daemon.pid ]; do sleep 0.01; done", out="daemon.pid")
        """,
    )
    pid_file = tmp_path / "daemon.pid"
    try:
        result = run_stepup(tmp_path, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        pid = int(pid_file.read_text())
        assert wait_for(lambda: not pid_alive(pid), timeout=3), f"daemon {pid} survived"
    finally:
        if pid_file.exists() and pid_alive(pid := int(pid_file.read_text())):
            os.kill(pid, signal.SIGKILL)
