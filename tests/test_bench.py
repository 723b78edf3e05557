"""``python -m stepup_trio.bench --quick --json`` works: it proves the benchmark runs, not speed."""

import filecmp
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stepup_trio.bench.e2e import measured_run
from stepup_trio.bench.memory import TreeSampler, process_label
from stepup_trio.bench.ninja import build_ninja_text, write_build_ninja
from stepup_trio.bench.report import format_report
from stepup_trio.bench.tools import child_env, compare_tool, stepup_command, stepup_tool
from stepup_trio.bench.workloads import (
    SHAPES,
    copy_workload,
    generate,
    list_files,
    remove_others,
    tree_leaves,
    tree_size,
)

SHAPE_NAMES = ["wide", "chain", "tree", "bigfiles"]


def bench(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "stepup_trio.bench", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def bench_json(*args: str) -> dict:
    result = bench(*args, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def report() -> dict:
    return bench_json("--quick")


def test_meta(report):
    meta = report["meta"]
    assert meta["quick"] is True
    assert meta["steps"] == [100, 300]
    assert meta["shapes"] == SHAPE_NAMES
    assert meta["repeat"] == 1
    assert meta["cold_repeat"] == 1
    assert meta["workers"] == 2
    assert meta["nproc"] >= 1
    [tool] = meta["tools"]
    assert tool["name"] == "stepup"
    assert tool["kind"] == "stepup"


def test_e2e_rows(report):
    rows = report["e2e"]
    assert [(row["shape"], row["steps"]) for row in rows] == [
        (shape, steps) for shape in SHAPE_NAMES for steps in (100, 300)
    ]
    # tree: the most leaves that fit in N steps; bigfiles: one step per 100 of N.
    tree = [tree_size(tree_leaves(n)) for n in (100, 300)]
    assert [row["step_count"] for row in rows] == [100, 300, 100, 300, *tree, 1, 3]
    assert tree == [100, 299]
    for row in rows:
        assert row["error"] is None, row
        assert row["tool"] == "stepup"
        [cold] = row["cold_s"]
        assert cold > 0
        assert row["cold_median_s"] == row["cold_min_s"] == row["cold_max_s"] == cold
        assert len(row["noop_s"]) == 1
        assert all(time > 0 for time in row["noop_s"])
        assert row["noop_min_s"] <= row["noop_median_s"] <= row["noop_max_s"]
        assert row["noop_per_step_us"] > 0
        assert row["noop_started"] == [0]
        # --quick skips the rebuild after one change.
        assert row["change_s"] is None
        assert row["change_memory"] is None


def test_e2e_memory(report):
    """Memory comes from /proc samples of the tool's processes; the director is the largest."""
    for row in report["e2e"]:
        [cold] = row["cold_memory"]
        assert cold["rss_bytes"] > 1e6, row
        assert cold["tree_rss_bytes"] >= cold["rss_bytes"]
        [noop] = row["noop_memory"]
        assert noop["rss_bytes"] > 1e6
        assert row["peak_rss_bytes"] >= noop["rss_bytes"]
        assert row["peak_rss_process"] == "stepup"
        assert row["rss_per_step_bytes"] == row["peak_rss_bytes"] / row["step_count"]


def test_e2e_cpu(report):
    """The cold build's CPU by role: stepup's director, its workers, and what they ran."""
    for row in report["e2e"]:
        [cpu] = row["cold_cpu"]
        # The plan alone (run by a worker) costs more than a clock tick, and so do the director
        # and each worker, which are Python processes.
        for role in ["tool_s", "workers_s", "steps_s"]:
            assert cpu[role] > 0, (role, row)
        assert cpu["total_s"] == pytest.approx(cpu["tool_s"] + cpu["workers_s"] + cpu["steps_s"])
        # Sampled, so at most what the director had reaped when it exited (a tick of rounding
        # per process aside).
        assert cpu["total_s"] <= cpu["tree_s"] + 0.05
        median = row["cold_cpu_median"]
        assert median["steps_s"] == cpu["steps_s"]
        own = cpu["tool_s"] + cpu["workers_s"]
        assert median["own_per_step_us"] == pytest.approx(own / row["step_count"] * 1e6)
        assert median["steps_per_step_us"] == pytest.approx(
            cpu["steps_s"] / row["step_count"] * 1e6
        )


def test_quick_table(report):
    """One cold build: no cold range, but the CPU table."""
    text = format_report(report["meta"], report["e2e"])
    assert "1 cold build(s)" in text
    assert "cold min-max" not in text
    assert "CPU of the cold build (sampled from /proc, median over cold runs)" in text
    assert "director/tool [s]" in text


def test_growth(report):
    growth = report["e2e_growth"]
    assert [(row["shape"], row["from_steps"], row["to_steps"]) for row in growth] == [
        (shape, 100, 300) for shape in SHAPE_NAMES
    ]
    for row in growth:
        assert row["steps_ratio"] == pytest.approx(3.0, rel=0.01)
        assert row["cold_ratio"] > 0
        assert row["noop_ratio"] > 0
        assert row["memory_ratio"] > 0
        assert row["change_ratio"] is None
    assert report["e2e_compare"] == []


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


@pytest.fixture(scope="module")
def compared_run() -> subprocess.CompletedProcess:
    """Our stepup against itself as a stepup-compatible command, and ninja if installed."""
    other = shlex.join([*stepup_command(), "-n", "-w", "2"])
    ninja = ["--compare", "ninja"] if shutil.which("ninja") else []
    result = bench(
        "--groups", "e2e", "--steps", "5", "--shapes", "tree,bigfiles", "--repeat", "2",
        "--cold-repeat", "2", "--compare", other, *ninja, "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def compared(compared_run) -> dict:
    return json.loads(compared_run.stdout)


def test_compare_alternates(compared, compared_run):
    """Each cold round, then each no-op round, then the one-change rebuilds, tool after tool."""
    names = [tool["name"] for tool in compared["meta"]["tools"]]
    progress = [line for line in compared_run.stderr.splitlines() if line.startswith("tree 5: ")]
    runs = ["cold build 1/2", "cold build 2/2", "no-op rebuild 1/2", "no-op rebuild 2/2"]
    runs.append("one-change rebuild")
    assert progress == [f"tree 5: {name}: {run}" for run in runs for name in names]


def test_compare_rows(compared):
    """Each tool gets a row per workload; the one-change rebuild runs without --quick."""
    names = [tool["name"] for tool in compared["meta"]["tools"]]
    assert names[0] == "stepup"
    assert compared["meta"]["tools"][1]["kind"] == "stepup-like"
    rows = compared["e2e"]
    assert [(row["shape"], row["tool"]) for row in rows] == [
        (shape, name) for shape in ("tree", "bigfiles") for name in names
    ]
    assert compared["meta"]["cold_repeat"] == 2
    for row in rows:
        assert row["error"] is None, row
        assert len(row["cold_s"]) == 2
        assert all(time > 0 for time in row["cold_s"])
        assert row["cold_median_s"] == pytest.approx(sum(row["cold_s"]) / 2)
        assert row["cold_min_s"] == min(row["cold_s"])
        assert row["cold_max_s"] == max(row["cold_s"])
        assert len(row["cold_memory"]) == 2
        assert len(row["cold_cpu"]) == 2
        assert len(row["noop_s"]) == 2
        assert row["change_s"] > 0
        assert row["peak_rss_bytes"] > 0
    # One changed input reruns its leaf and the root above it (a tree of 5 steps has 4 leaves).
    assert {(row["shape"], row["change_started"]) for row in rows} == {("tree", 2), ("bigfiles", 1)}


def test_compare_ratios(compared):
    compare = compared["e2e_compare"]
    others = len(compared["meta"]["tools"]) - 1
    assert len(compare) == 2 * others
    rows = {(row["tool"], row["shape"]): row for row in compared["e2e"]}
    for row in compare:
        assert row["tool"] != "stepup"
        for key in ["cold_ratio", "noop_ratio", "change_ratio", "memory_ratio"]:
            assert row[key] > 0, key
        other, ours = rows[row["tool"], row["shape"]], rows["stepup", row["shape"]]
        assert row["cold_ratio"] == pytest.approx(other["cold_median_s"] / ours["cold_median_s"])
    # One size only: nothing to grow from.
    assert compared["e2e_growth"] == []


def test_compare_cpu(compared):
    """Workers are a role of this stepup only; other tools have their own process and steps."""
    for row in compared["e2e"]:
        for cpu in [*row["cold_cpu"], row["cold_cpu_median"]]:
            assert cpu["tool_s"] >= 0, row
            assert cpu["steps_s"] >= 0, row
            assert cpu["total_s"] <= cpu["tree_s"] + 0.05
            if row["kind"] != "ninja":
                # The plan is a Python process (ninja's five steps may take less than a tick).
                assert cpu["steps_s"] > 0, row
            if row["kind"] == "stepup":
                assert cpu["workers_s"] > 0, row
                assert cpu["tool_s"] > 0, row
            else:
                # Read once after the tool exited: its own and reaped time are exact.
                assert cpu["workers_s"] is None, row
                assert cpu["total_s"] == pytest.approx(cpu["tree_s"])
        if row["kind"] == "stepup-like":
            # The same stepup, seen from outside: its workers' time counts as steps.
            ours = next(r for r in compared["e2e"] if r["shape"] == row["shape"])
            assert row["cold_cpu_median"]["steps_s"] > ours["cold_cpu_median"]["steps_s"]


@pytest.mark.skipif(shutil.which("ninja") is None, reason="ninja is not installed")
def test_compare_ninja(compared):
    rows = [row for row in compared["e2e"] if row["tool"] == "ninja"]
    assert len(rows) == 2
    for row in rows:
        assert row["kind"] == "ninja"
        assert row["noop_started"] == [0, 0]
        assert row["peak_rss_process"] == "ninja"


def test_compare_table(compared):
    """The plain report names the tools and has the memory and ratio tables."""
    text = format_report(compared["meta"], compared["e2e"])
    other = compared["meta"]["tools"][1]["name"]
    assert f"  {other}: {other}" in text
    assert "Memory (sampled from /proc)" in text
    assert "Compared tools: other / stepup" in text
    assert "2 cold build(s)" in text
    assert "cold min-max [s]" in text
    assert "CPU of the cold build (sampled from /proc, median over cold runs)" in text
    assert "ERROR" not in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shapes", "wide,nope"], "unknown shape(s) nope"),
        (["--steps", "0"], "must be at least 1"),
        (["--cold-repeat", "0"], "argument --cold-repeat: must be at least 1: 0"),
        (["--cold-repeat", "two"], "argument --cold-repeat: not an integer: 'two'"),
        (["--compare", "no-such-tool-xyz"], "'no-such-tool-xyz': not found on PATH"),
        (["--compare", "/nonexistent/stepup -n"], "not an executable file"),
        (["--compare", ""], "empty compare command"),
        (["--compare", "A=1 B=2"], "only variables, no program to run"),
        (["--compare", sys.executable], "needs -n"),
        (["--compare", "ninja", "--groups", "hashing"], "--compare needs the e2e group"),
    ],
)
def test_bad_arguments(args, message):
    """Bad values stop before any run, with a message and exit code 2, not a traceback."""
    result = bench(*args, timeout=60)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("n", [1, 2, 5, 21, 100, 1000, 20000])
def test_tree_size(n):
    """The tree has the most leaves that fit in N steps: exactly N for most N."""
    leaves = tree_leaves(n)
    assert tree_size(leaves) <= n
    assert leaves == 1 or tree_size(leaves + 1) > n


@pytest.mark.parametrize("shape", SHAPE_NAMES)
def test_workload_files(tmp_path, shape):
    """plan.py uses stepup.core.api only, and build.ninja has one edge per step."""
    workload = generate(shape, tmp_path, 10)
    plan = (tmp_path / "plan.py").read_text()
    assert plan.startswith("#!/usr/bin/env python\n")
    assert "from stepup.core.api import mkdir, static, step" in plan
    assert "import stepup_trio" not in plan and "from stepup_trio" not in plan
    assert all(workload.path(path).is_file() for path in workload.static)
    assert workload.change in workload.static
    ninja = build_ninja_text(workload)
    assert ninja.count("\nbuild ") == workload.step_count
    assert set(SHAPES) == set(SHAPE_NAMES)


def test_process_label():
    assert process_label(["/v/bin/python3", "/v/bin/stepup", "-n"]) == "stepup"
    assert process_label(["python", "-m", "stepup.core.director", "x"]) == "stepup.core.director"
    assert process_label(["/usr/bin/ninja", "-j2"]) == "ninja"


# Forks; the child sleeps past a scan for new processes, then execs the same Python (same
# process name) as "timeit", which burns some CPU. The parent reaps it.
FORK_EXEC = """
import os, sys, time
pid = os.fork()
if pid == 0:
    time.sleep(0.5)
    os.execv(sys.executable, [sys.executable, "-m", "timeit", "-n1", "-r1", "sum(range(10**7))"])
os.waitpid(pid, 0)
"""


def test_sampler_cpu_roles():
    """A child seen before its exec is named after it; its CPU is a worker's or a step's."""
    process = subprocess.Popen(
        [sys.executable, "-c", FORK_EXEC], start_new_session=True, stdout=subprocess.DEVNULL
    )
    with TreeSampler(process.pid) as sampler:
        os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)
    assert process.wait() == 0
    children = [seen for (pid, _), seen in sampler.seen.items() if pid != process.pid]
    assert [seen.label for seen in children] == ["timeit"]
    as_worker = sampler.cpu("timeit")
    as_tool = sampler.cpu()
    assert as_worker.workers > 0
    assert as_worker.steps == 0
    assert as_tool.workers is None
    # Read after the parent exited: what it reaped, at least the last sample of the child.
    assert as_tool.steps >= as_worker.workers
    assert as_tool.tree == as_worker.tree
    # Sums of seconds in floating point: 0.01 + 0.17 is not 0.18.
    assert as_tool.tree == pytest.approx(as_tool.tool + as_tool.steps)


def build_tools() -> list:
    tools = [stepup_tool(2)]
    if shutil.which("ninja"):
        tools.append(compare_tool("ninja", 2))
    return tools


@pytest.mark.parametrize("tool", build_tools(), ids=lambda tool: tool.name)
def test_clean_cold_state(tmp_path, tool):
    """What a build made is removed, the generated files stay as they were."""
    pristine = generate("tree", tmp_path / "pristine", 5)
    write_build_ninja(pristine)
    workload = copy_workload(pristine, tmp_path / "run")
    generated = list_files(workload.folder)
    measured_run("cold build", tool, workload.folder)
    made = list_files(workload.folder) - generated
    assert workload.probe in made
    assert {".stepup", ".ninja_log"} & made
    (workload.folder / "in" / "extra.txt").write_text("made by a build")
    (workload.folder / "link").symlink_to("in")
    remove_others(workload.folder, generated)
    assert list_files(workload.folder) == generated
    files = [path for path in generated if (workload.folder / path).is_file()]
    match, mismatch, errors = filecmp.cmpfiles(
        pristine.folder, workload.folder, files, shallow=False
    )
    assert (sorted(match), mismatch, errors) == (sorted(files), [], [])
    # Built again from there, it runs every step.
    run = measured_run("cold build", tool, workload.folder)
    assert Path(workload.path(workload.probe)).is_file()
    assert run.cpu is not None


def test_compare_variables(monkeypatch):
    """NAME=value words before the program are set for that tool only, as in a shell; they
    may set stepup variables, which the child otherwise does not inherit."""
    monkeypatch.setenv("STEPUP_DEBUG", "1")
    command = shlex.join(stepup_command())
    tool = compare_tool(f"STEPUP_DIRECT_START=0 'A=two words' {command} -n", 2)
    assert tool.argv[0] == stepup_command()[0]
    assert tool.name.startswith("STEPUP_DIRECT_START=0 'A=two words' ")
    assert tool.bindir == os.path.dirname(stepup_command()[0])
    env = child_env(tool)
    assert env["STEPUP_DIRECT_START"] == "0"
    assert env["A"] == "two words"
    assert "STEPUP_DEBUG" not in env
    assert "STEPUP_DIRECT_START" not in child_env(stepup_tool(2))
