"""step() options: vol=, optional=, block=, pool= (with pool()), env=, workdir=, and StepInfo.

The expected lines and graph.txt blocks are those of StepUp 1.3.1 for the same plans (digests
masked), except the exit codes (decision 3). The errors of these options are in
test_api_errors.py.
"""

import itertools

import pytest
from helpers import lines, run_stepup, write_plan
from test_api_support import (
    GRAPH,
    RULE,
    W1_FOOTER,
    W1_HEADER,
    W1_HEADER_LOADED,
    graph_blocks,
    graph_keys,
    make_files,
    rule,
    run_w1,
    step_lines,
)

# Volatile outputs and optional steps

VOL_OPT_PLAN = r"""
    from stepup.core.api import step
    step("echo v > ${vol}; echo o > ${out}", out="o.txt", vol="v.log")
    step("echo a > a.txt", out="a.txt", optional=True)
    step("cat a.txt > b.txt", inp="a.txt", out="b.txt", optional=True)
    step("echo c > c.txt", out="c.txt", optional=True)
    step("cat b.txt o.txt > final.txt", inp=["b.txt", "o.txt"], out="final.txt")
    step("python -c 'from stepup.core.interact import graph; graph(\"graph\")'", inp="final.txt")
"""

# The same optional steps, but nothing mandatory needs them; the rest is gone.
OPT_ONLY_PLAN = r"""
    from stepup.core.api import step
    step("echo a > a.txt", out="a.txt", optional=True)
    step("cat a.txt > b.txt", inp="a.txt", out="b.txt", optional=True)
    step("echo c > c.txt", out="c.txt", optional=True)
"""

VOL = "echo v > v.log; echo o > o.txt"

# StepUp 1.3.1's graph.txt from the volatile step on.
EXPECTED_VOL_OPT_GRAPH = f"""
step:{VOL}
             workdir = ./
             command = {VOL}
               state = SUCCEEDED
              digest = <digest>
                     = <digest>
          inp_digest = <digest>
                     = <digest>
          created by   step:./plan.py
            consumes   file:./
             creates   file:o.txt
             creates   file:v.log
            supplies   file:o.txt
            supplies   file:v.log

file:o.txt
                path = o.txt
               state = BUILT
              digest = <digest>
                     = <digest>
          created by   step:{VOL}
            consumes   file:./
            consumes   step:{VOL}
            supplies   step:cat b.txt o.txt > final.txt

file:v.log
                path = v.log
               state = VOLATILE
          created by   step:{VOL}
            consumes   file:./
            consumes   step:{VOL}

step:echo a > a.txt
             workdir = ./
             command = echo a > a.txt
               state = SUCCEEDED
           mandatory = IMPLIED
              digest = <digest>
                     = <digest>
          inp_digest = <digest>
                     = <digest>
          created by   step:./plan.py
            consumes   file:./
             creates   file:a.txt
            supplies   file:a.txt

file:a.txt
                path = a.txt
               state = BUILT
              digest = <digest>
                     = <digest>
          created by   step:echo a > a.txt
            consumes   file:./
            consumes   step:echo a > a.txt
            supplies   step:cat a.txt > b.txt

step:cat a.txt > b.txt
             workdir = ./
             command = cat a.txt > b.txt
               state = SUCCEEDED
           mandatory = IMPLIED
              digest = <digest>
                     = <digest>
          inp_digest = <digest>
                     = <digest>
          created by   step:./plan.py
            consumes   file:./
            consumes   file:a.txt
             creates   file:b.txt
            supplies   file:b.txt

file:b.txt
                path = b.txt
               state = BUILT
              digest = <digest>
                     = <digest>
          created by   step:cat a.txt > b.txt
            consumes   file:./
            consumes   step:cat a.txt > b.txt
            supplies   step:cat b.txt o.txt > final.txt

step:echo c > c.txt
             workdir = ./
             command = echo c > c.txt
               state = PENDING
           mandatory = NO
          created by   step:./plan.py
            consumes   file:./
             creates   file:c.txt
            supplies   file:c.txt

file:c.txt
                path = c.txt
               state = PENDING
          created by   step:echo c > c.txt
            consumes   file:./
            consumes   step:echo c > c.txt

step:cat b.txt o.txt > final.txt
             workdir = ./
             command = cat b.txt o.txt > final.txt
               state = SUCCEEDED
              digest = <digest>
                     = <digest>
          inp_digest = <digest>
                     = <digest>
          created by   step:./plan.py
            consumes   file:./
            consumes   file:b.txt
            consumes   file:o.txt
             creates   file:final.txt
            supplies   file:final.txt

file:final.txt
                path = final.txt
               state = BUILT
              digest = <digest>
                     = <digest>
          created by   step:cat b.txt o.txt > final.txt
            consumes   file:./
            consumes   step:cat b.txt o.txt > final.txt
            supplies   step:{GRAPH}

step:{GRAPH}
             workdir = ./
             command = {GRAPH}
               state = RUNNING
          created by   step:./plan.py
            consumes   file:./
            consumes   file:final.txt
"""


@pytest.fixture(scope="module")
def vol_opt_runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("volopt")
    write_plan(folder, VOL_OPT_PLAN)
    first = run_w1(folder)
    graph = graph_blocks(folder)
    keys = graph_keys(folder)
    files = sorted(path.name for path in folder.iterdir())
    write_plan(folder, OPT_ONLY_PLAN)
    second = run_w1(folder)
    return folder, first, second, keys, graph, files


def test_volatile_and_optional_run(vol_opt_runs):
    """Optional steps run only because the mandatory final step needs their outputs;
    ``${vol}`` is the volatile path."""
    _, first, _, _, _, files = vol_opt_runs
    assert first.returncode == 0, first.stdout
    assert lines(first.stdout) == [
        *W1_HEADER,
        "     START │ ./plan.py",
        "   SUCCESS │ ./plan.py",
        f"     START │ {VOL}",
        f"   SUCCESS │ {VOL}",
        "     START │ echo a > a.txt",
        "   SUCCESS │ echo a > a.txt",
        "     START │ cat a.txt > b.txt",
        "   SUCCESS │ cat a.txt > b.txt",
        "     START │ cat b.txt o.txt > final.txt",
        "   SUCCESS │ cat b.txt o.txt > final.txt",
        f"     START │ {GRAPH}",
        f"   SUCCESS │ {GRAPH}",
        *W1_FOOTER,
    ]
    assert {"a.txt", "b.txt", "final.txt", "o.txt", "v.log"} <= set(files)
    assert "c.txt" not in files


def test_volatile_and_optional_graph(vol_opt_runs):
    _, _, _, keys, graph, _ = vol_opt_runs
    expected = [block for block in EXPECTED_VOL_OPT_GRAPH.strip("\n").split("\n\n")]
    assert keys == ["root:", "file:plan.py", "file:./", "step:./plan.py"] + [
        block.split("\n", 1)[0] for block in expected
    ]
    for block in expected:
        assert graph[block.split("\n", 1)[0]] == block + "\n"


def test_unneeded_outputs_are_cleaned(vol_opt_runs):
    """The volatile file goes with its step; outputs of optional steps that nothing needs any
    more are removed too (reverse path order)."""
    folder, _, second, _, _, _ = vol_opt_runs
    assert second.returncode == 0, second.stdout
    assert lines(second.stdout) == [
        *W1_HEADER_LOADED,
        "     START │ ./plan.py",
        "   SUCCESS │ ./plan.py",
        "     CLEAN │ v.log",
        "     CLEAN │ o.txt",
        "     CLEAN │ final.txt",
        "     CLEAN │ b.txt",
        "     CLEAN │ a.txt",
        *W1_FOOTER,
    ]
    for name in "v.log", "o.txt", "final.txt", "b.txt", "a.txt", "c.txt":
        assert not (folder / name).exists()


# Blocked steps


def test_blocked_steps(tmp_path):
    (tmp_path / "in.txt").write_text("in\n")
    write_plan(
        tmp_path,
        r"""
        from stepup.core.api import static, step
        static("in.txt")
        step("echo x > x.txt", out="x.txt", block=True)
        step("cat in.txt > y.txt", inp="in.txt", out="y.txt", block=True)
        step("echo z > z.txt", out="z.txt")
        step("cat y.txt > w.txt", inp="y.txt", out="w.txt")
        step("python -c 'from stepup.core.interact import graph; graph(\"graph\")'", inp="z.txt")
        """,
    )
    result = run_w1(tmp_path)
    assert result.returncode == 3
    # The count covers the step that waits for a blocked one; only blocked steps are listed.
    assert lines(result.stdout) == [
        *W1_HEADER,
        "     START │ ./plan.py",
        "   SUCCESS │ ./plan.py",
        "     START │ echo z > z.txt",
        "   SUCCESS │ echo z > z.txt",
        f"     START │ {GRAPH}",
        f"   SUCCESS │ {GRAPH}",
        "   WARNING │ 3 steps remain pending due to blocked steps",
        rule("Blocked steps"),
        "step:cat in.txt > y.txt",
        "step:echo x > x.txt",
        RULE,
        "   WARNING │ Skipping cleanup due to incomplete build.",
        *W1_FOOTER,
    ]
    assert (tmp_path / "z.txt").exists()
    for name in "x.txt", "y.txt", "w.txt":
        assert not (tmp_path / name).exists()
    assert graph_blocks(tmp_path)["step:echo x > x.txt"] == (
        "step:echo x > x.txt\n"
        "             workdir = ./\n"
        "             command = echo x > x.txt\n"
        "               state = PENDING\n"
        "               block = True\n"
        "          created by   step:./plan.py\n"
        "            consumes   file:./\n"
        "             creates   file:x.txt\n"
        "            supplies   file:x.txt\n"
    )


# Pools, env, workdir and StepInfo, in one plan run with two workers

TS = "python -c 'import time; print(time.time())' >> {0}.ts"
SLOW = [f"{TS.format(name)}; sleep 0.2; {TS.format(name)}" for name in "abc"]
COPY = "cat s.txt t.txt > copy.txt; echo $MYVAR >> copy.txt; echo copy.log > copy.log  # wd=sub/"

POOL_PLAN = r"""
    from stepup.core.api import pool, static, step
    pool("slow", 1)
    TS = "python -c 'import time; print(time.time())' >> ${out}"
    for name in "abc":
        step(f"{TS}; sleep 0.2; {TS}", out=f"{name}.ts", pool="slow")
    static("sub/", "sub/s.txt", "sub/t.txt")
    info = step(
        "cat ${inp} > ${out}; echo $MYVAR >> ${out}; echo ${vol} > ${vol}",
        inp=["s.txt", "t.txt"],
        out=["copy.txt"],
        vol=["copy.log"],
        env="MYVAR",
        workdir="sub",
    )
    def strs(paths):
        return [str(path) for path in paths]
    with open("info.txt", "w") as f:
        print(info.key, file=f)
        print(strs(info.inp), info.env, strs(info.out), strs(info.vol), file=f)
        print(strs(info.filter_inp("s.*").files()), file=f)
        print([(match.name, str(match[0])) for match in info.filter_inp("${*name}.txt")], file=f)
        out, vol = info.filter_out("*.txt"), info.filter_vol("*.log")
        print(strs(out.files()), strs(vol.files()), file=f)
    step(
        "python -c 'from stepup.core.interact import graph; graph(\"graph\")'",
        inp=["a.ts", "b.ts", "c.ts", "sub/copy.txt"],
    )
"""


@pytest.fixture(scope="module")
def pool_runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pool")
    make_files(folder, {"sub/s.txt": "s\n", "sub/t.txt": "t\n"})
    write_plan(folder, POOL_PLAN)
    first = run_stepup(folder, "-n", "-w2", MYVAR="1")
    graph = graph_blocks(folder)
    copy_first = (folder / "sub/copy.txt").read_text()
    second = run_stepup(folder, "-n", "-w2", MYVAR="2")
    return folder, first, second, graph, copy_first


def test_pool_steps_do_not_overlap(pool_runs):
    """With pool("slow", 1) the three slow steps run one after the other, although two
    workers are free (the copy step runs next to them)."""
    folder, first, _, _, _ = pool_runs
    assert first.returncode == 0, first.stdout
    assert sorted(step_lines(first.stdout)) == sorted(
        f"{action} │ {command}"
        for action in ("START", "SUCCESS")
        for command in ["./plan.py", COPY, GRAPH, *SLOW]
    )
    intervals = sorted(
        tuple(float(t) for t in (folder / f"{name}.ts").read_text().split()) for name in "abc"
    )
    assert [len(interval) for interval in intervals] == [2, 2, 2]
    for (_, end), (start, _) in itertools.pairwise(intervals):
        assert end <= start


def test_pool_graph(pool_runs):
    _, _, _, graph, _ = pool_runs
    plan_block = graph["step:./plan.py"]
    assert "               state = SUCCEEDED\n        defined pool = slow=1\n" in plan_block
    for command in SLOW:
        assert graph[f"step:{command}"] == (
            f"step:{command}\n"
            "             workdir = ./\n"
            f"             command = {command}\n"
            "               state = SUCCEEDED\n"
            "                pool = slow\n"
            "              digest = <digest>\n"
            "                     = <digest>\n"
            "          inp_digest = <digest>\n"
            "                     = <digest>\n"
            "          created by   step:./plan.py\n"
            "            consumes   file:./\n"
            f"             creates   file:{command[-4:]}\n"
            f"            supplies   file:{command[-4:]}\n"
        )


def test_workdir_env_and_volatile_graph(pool_runs):
    _, _, _, graph, _ = pool_runs
    command = COPY.split("  # wd=")[0]
    assert graph[f"step:{COPY}"] == (
        f"step:{COPY}\n"
        "             workdir = sub/\n"
        f"             command = {command}\n"
        "               state = SUCCEEDED\n"
        "             env_var = MYVAR\n"
        "              digest = <digest>\n"
        "                     = <digest>\n"
        "          inp_digest = <digest>\n"
        "                     = <digest>\n"
        "          created by   step:./plan.py\n"
        "            consumes   file:sub/\n"
        "            consumes   file:sub/s.txt\n"
        "            consumes   file:sub/t.txt\n"
        "             creates   file:sub/copy.log\n"
        "             creates   file:sub/copy.txt\n"
        "            supplies   file:sub/copy.log\n"
        "            supplies   file:sub/copy.txt\n"
    )
    assert graph["file:sub/copy.log"] == (
        "file:sub/copy.log\n"
        "                path = sub/copy.log\n"
        "               state = VOLATILE\n"
        f"          created by   step:{COPY}\n"
        "            consumes   file:sub/\n"
        f"            consumes   step:{COPY}\n"
    )


def test_step_info(pool_runs):
    """StepInfo has the paths as given, relative to the workdir; the filters match them."""
    folder, _, _, _, _ = pool_runs
    assert (folder / "info.txt").read_text() == (
        f"step:{COPY}\n"
        "['s.txt', 't.txt'] ['MYVAR'] ['copy.txt'] ['copy.log']\n"
        "['s.txt']\n"
        "[('s', 's.txt'), ('t', 't.txt')]\n"
        "['copy.txt'] ['copy.log']\n"
    )
    assert (folder / "sub/copy.log").read_text() == "copy.log\n"


def test_changed_env_var_reruns_step(pool_runs):
    folder, _, second, _, copy_first = pool_runs
    assert second.returncode == 0, second.stdout
    assert copy_first == "s\nt\n1\n"
    assert (folder / "sub/copy.txt").read_text() == "s\nt\n2\n"
    assert sorted(step_lines(second.stdout)) == sorted(
        [
            "SKIP │ ./plan.py",
            *(f"SKIP │ {command}" for command in SLOW),
            f"START │ {COPY}",
            f"SUCCESS │ {COPY}",
            f"START │ {GRAPH}",
            f"SUCCESS │ {GRAPH}",
        ]
    )


def test_pool_defined_after_waiting_step(tmp_path):
    write_plan(
        tmp_path,
        """
        from stepup.core.api import pool, step
        step("cat a.txt > b.txt", inp="a.txt", out="b.txt", pool="p")
        pool("p", 1)
        step("sleep 0.2; echo a > a.txt", out="a.txt")
        """,
    )
    result = run_w1(tmp_path)
    assert result.returncode == 0, result.stdout
    assert (tmp_path / "b.txt").read_text() == "a\n"


def test_unknown_pool_is_reported_as_pending(tmp_path):
    """StepUp 1.3.1's director crashes on an unknown pool (decision 8): we report it."""
    write_plan(tmp_path, 'from stepup.core.api import step\nstep("true", pool="nopool")\n')
    result = run_w1(tmp_path)
    assert result.returncode == 3
    out = lines(result.stdout)
    assert "   WARNING │ 1 step remains pending due to incomplete requirements" in out
    assert "Pool                  nopool (never defined: call pool('nopool', size))" in out
