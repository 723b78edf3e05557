"""``python -m stepup_trio.bench --quick --json`` works: it proves the benchmark runs, not speed."""

import json
import subprocess
import sys

import pytest


@pytest.fixture(scope="module")
def report() -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "stepup_trio.bench", "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def test_meta(report):
    meta = report["meta"]
    assert meta["quick"] is True
    assert meta["steps"] == [100, 300]
    assert meta["shapes"] == ["wide", "chain"]
    assert meta["repeat"] == 1
    assert meta["workers"] == 2
    assert meta["nproc"] >= 1


def test_e2e_rows(report):
    rows = report["e2e"]
    assert [(row["shape"], row["steps"]) for row in rows] == [
        ("wide", 100),
        ("wide", 300),
        ("chain", 100),
        ("chain", 300),
    ]
    for row in rows:
        assert row["error"] is None, row
        assert row["tool"] == "stepup"
        assert row["cold_s"] > 0
        assert len(row["noop_s"]) == 1
        assert all(time > 0 for time in row["noop_s"])
        assert row["noop_min_s"] <= row["noop_median_s"] <= row["noop_max_s"]
        assert row["noop_per_step_us"] > 0
        # --quick skips the rebuild after one change.
        assert row["change_s"] is None


def test_growth(report):
    growth = report["e2e_growth"]
    assert [(row["shape"], row["from_steps"], row["to_steps"]) for row in growth] == [
        ("wide", 100, 300),
        ("chain", 100, 300),
    ]
    for row in growth:
        assert row["steps_ratio"] == 3.0
        assert row["noop_ratio"] > 0
