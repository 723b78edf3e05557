"""10,000 steps defined by one plan: all run once, and a run without changes skips them all."""

import re

import pytest
from helpers import run_stepup, write_plan

NUM_STEPS = 10_000


@pytest.mark.slow
def test_ten_thousand_steps_from_one_plan(tmp_path):
    # Each step appends its number to one log (a short append is atomic), so that the log
    # shows which steps ran, and how often.
    write_plan(
        tmp_path,
        f"""
        from stepup.core.api import step
        for i in range({NUM_STEPS}):
            step(f"echo {{i}} >> ran.log")
        """,
    )
    result = run_stepup(tmp_path, "-n", "-w2", timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stdout + result.stderr
    assert len(re.findall(r"SUCCESS │ echo \d+ >> ran.log", result.stdout)) == NUM_STEPS
    assert "FAIL" not in result.stdout
    numbers = (tmp_path / "ran.log").read_text().split()
    assert sorted(map(int, numbers)) == list(range(NUM_STEPS))

    rerun = run_stepup(tmp_path, "-n", "-w2", timeout=300)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    assert "START" not in rerun.stdout
    assert rerun.stdout.count("      SKIP │ ") == NUM_STEPS + 1  # and the plan
    assert (tmp_path / "ran.log").read_text().split() == numbers
