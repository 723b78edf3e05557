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


def test_meta_groups(report):
    meta = report["meta"]
    assert meta["groups"] == ["e2e", "scheduling", "hashing"]
    assert meta["sched_steps"] == [1000]
    assert meta["sched_shapes"] == ["wide", "chain", "tree", "random"]
    assert meta["hash_mib"] == 16
    assert meta["small_files"] == 1000


def test_scheduling_rows(report):
    rows = report["scheduling"]
    assert [(row["shape"], row["steps"]) for row in rows] == [
        ("wide", 1000),
        ("chain", 1000),
        ("tree", 1000),
        ("random", 1000),
    ]
    for row in rows:
        assert row["error"] is None, row
        # The steps, their outputs, the plan, its inputs and the static files.
        assert row["nodes"] > row["steps"]
        for key in ["define_s", "run_s", "steps_per_s", "define_per_step_us", "run_per_step_us"]:
            assert row[key] > 0, key
        for key in ["dump_s", "dump_bytes", "peak_bytes", "bytes_per_node"]:
            assert row[key] > 0, key
    # One size only: nothing to grow from.
    assert report["scheduling_growth"] == []


def test_hashing_row(report):
    [row] = report["hashing"]
    assert row["error"] is None, row
    assert row["large_mib"] == 16
    assert row["small_files"] == 1000
    assert row["small_size"] == 1024
    for key in ["large_file_mbs", "raw_mbs", "ratio", "small_files_per_s", "fast_path_files_per_s"]:
        assert row[key] > 0, key
    # The stat-only fast path reads no file, so it must beat hashing them.
    assert row["fast_path_files_per_s"] > row["small_files_per_s"]


def test_groups_option():
    """--groups runs only the chosen groups: the JSON has no keys of the others."""
    result = subprocess.run(
        [sys.executable, "-m", "stepup_trio.bench", "--quick", "--json", "--groups", "hashing"],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads(result.stdout)
    assert set(document) == {"meta", "hashing"}


def test_unknown_group():
    result = subprocess.run(
        [sys.executable, "-m", "stepup_trio.bench", "--groups", "e2e,nope"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert "unknown group(s) nope" in result.stderr
