"""Incremental builds with the real ``stepup``: skip what did not change, rerun what did."""

import os
import re
import shutil
from pathlib import Path

import pytest
from helpers import DATA, FOOTER, header, lines, run_stepup, without_plan_success, write_plan

from stepup_trio.services.reporter import rule

SEED = DATA / "seed"

HEADER_LOADED = header(loaded=True)


def actions(result) -> list[str]:
    """The step lines only: what ran and what was skipped, in order."""
    return [
        line.strip()
        for line in lines(result.stdout)
        if re.match(r" *(START|SKIP|SUCCESS|FAIL|NOSKIP|CLEAN) │", line)
    ]


def build(folder: Path, *args: str, **env: str):
    result = run_stepup(folder, *args, **env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


# The three runs of the seed's "Try the following"


@pytest.fixture(scope="module")
def seed_runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("seed")
    shutil.copy(SEED / "plan.py", folder / "plan.py")
    plan = folder / "plan.py"
    plan.chmod(0o755)
    results = [build(folder)]
    results.append(build(folder))
    plan.write_text(plan.read_text().replace("grep First", "grep Second"))
    results.append(build(folder))
    text = plan.read_text().splitlines(keepends=True)
    first, second = (i for i, line in enumerate(text) if line.startswith("step("))
    text[first], text[second] = text[second], text[first]
    plan.write_text("".join(text))
    results.append(build(folder))
    return folder, results


def test_seed_run_again_skips_everything(seed_runs):
    _, results = seed_runs
    assert lines(results[1].stdout) == lines((SEED / "stdout_run2.txt").read_text())


def test_seed_changed_grep(seed_runs):
    _, results = seed_runs
    expected = lines((SEED / "stdout_run3.txt").read_text())
    assert without_plan_success(lines(results[2].stdout)) == without_plan_success(expected)


def test_seed_swapped_steps(seed_runs):
    _, results = seed_runs
    expected = lines((SEED / "stdout_run4.txt").read_text())
    assert without_plan_success(lines(results[3].stdout)) == without_plan_success(expected)


def test_seed_outputs_after_reruns(seed_runs):
    folder, _ = seed_runs
    assert (folder / "story.txt").read_text() == "First line.\nSecond line.\n"
    assert not (folder / ".stepup/journal.mpk").exists()


# Changes that make steps rerun, and changes that do not

COPY_PLAN = """
    from stepup.core.api import static, step
    static("inp.txt")
    step("cp inp.txt out.txt", inp="inp.txt", out="out.txt")
    step("cat out.txt > final.txt; echo $MYVAR >> final.txt", inp="out.txt", out="final.txt",
         env="MYVAR")
"""


@pytest.fixture
def copy_project(tmp_path):
    (tmp_path / "inp.txt").write_text("version 1\n")
    write_plan(tmp_path, COPY_PLAN)
    result = build(tmp_path, MYVAR="a")
    # The plan may end before or after its steps; each step runs once.
    assert sorted(actions(result)) == sorted(
        f"{action} │ {command}"
        for action in ("START", "SUCCESS")
        for command in (
            "./plan.py",
            "cp inp.txt out.txt",
            "cat out.txt > final.txt; echo $MYVAR >> final.txt",
        )
    )
    return tmp_path


SKIP_ALL = [
    "SKIP │ ./plan.py",
    "SKIP │ cp inp.txt out.txt",
    "SKIP │ cat out.txt > final.txt; echo $MYVAR >> final.txt",
]


def test_nothing_changed(copy_project):
    assert actions(build(copy_project, MYVAR="a")) == SKIP_ALL


def test_touch_without_change_skips(copy_project):
    os.utime(copy_project / "inp.txt", (1e9, 1e9))
    assert actions(build(copy_project, MYVAR="a")) == SKIP_ALL


def test_modified_input(copy_project):
    (copy_project / "inp.txt").write_text("version 2\n")
    assert actions(build(copy_project, MYVAR="a")) == [
        "SKIP │ ./plan.py",
        "START │ cp inp.txt out.txt",
        "SUCCESS │ cp inp.txt out.txt",
        "START │ cat out.txt > final.txt; echo $MYVAR >> final.txt",
        "SUCCESS │ cat out.txt > final.txt; echo $MYVAR >> final.txt",
    ]
    assert (copy_project / "final.txt").read_text() == "version 2\na\n"


def test_same_output_again_does_not_rerun_consumers(copy_project):
    # The input changes, but the output of the first step comes out the same.
    write_plan(copy_project, COPY_PLAN.replace("cp inp.txt out.txt", "head -c 7 inp.txt > out.txt"))
    build(copy_project, MYVAR="a")
    (copy_project / "inp.txt").write_text("version 2\n")
    assert actions(build(copy_project, MYVAR="a")) == [
        "SKIP │ ./plan.py",
        "START │ head -c 7 inp.txt > out.txt",
        "SUCCESS │ head -c 7 inp.txt > out.txt",
        "SKIP │ cat out.txt > final.txt; echo $MYVAR >> final.txt",
    ]


def test_modified_output(copy_project):
    (copy_project / "out.txt").write_text("edited by hand\n")
    assert actions(build(copy_project, MYVAR="a")) == [
        "SKIP │ ./plan.py",
        "START │ cp inp.txt out.txt",
        "SUCCESS │ cp inp.txt out.txt",
        "SKIP │ cat out.txt > final.txt; echo $MYVAR >> final.txt",
    ]
    assert (copy_project / "out.txt").read_text() == "version 1\n"


def test_deleted_output(copy_project):
    (copy_project / "final.txt").unlink()
    assert actions(build(copy_project, MYVAR="a")) == [
        "SKIP │ ./plan.py",
        "SKIP │ cp inp.txt out.txt",
        "START │ cat out.txt > final.txt; echo $MYVAR >> final.txt",
        "SUCCESS │ cat out.txt > final.txt; echo $MYVAR >> final.txt",
    ]
    assert (copy_project / "final.txt").read_text() == "version 1\na\n"


def test_chmod_of_input(copy_project):
    (copy_project / "inp.txt").chmod(0o600)
    assert actions(build(copy_project, MYVAR="a"))[:3] == [
        "SKIP │ ./plan.py",
        "START │ cp inp.txt out.txt",
        "SUCCESS │ cp inp.txt out.txt",
    ]


@pytest.mark.parametrize("value", ["b", ""])
def test_changed_env_var(copy_project, value):
    assert actions(build(copy_project, MYVAR=value)) == [
        "SKIP │ ./plan.py",
        "SKIP │ cp inp.txt out.txt",
        "START │ cat out.txt > final.txt; echo $MYVAR >> final.txt",
        "SUCCESS │ cat out.txt > final.txt; echo $MYVAR >> final.txt",
    ]
    assert (copy_project / "final.txt").read_text() == f"version 1\n{value}\n"


def test_unset_env_var_differs_from_empty(copy_project):
    build(copy_project, MYVAR="")
    result = build(copy_project)
    assert "START │ cat out.txt > final.txt; echo $MYVAR >> final.txt" in actions(result)


def test_failed_step_reruns(tmp_path):
    write_plan(tmp_path, 'from stepup.core.api import step\nstep("test -f ok || exit 1")\n')
    assert run_stepup(tmp_path).returncode == 2
    (tmp_path / "ok").write_text("")
    result = build(tmp_path)
    assert "START │ test -f ok || exit 1" in actions(result)


# Cleaning outputs that are no longer planned

TWO_STEPS = """
    from stepup.core.api import mkdir, step
    mkdir("sub/")
    step("echo a > a.txt", out="a.txt")
    step("echo b > sub/b.txt", out="sub/b.txt")
"""


def test_removed_step_output_is_cleaned(tmp_path):
    write_plan(tmp_path, TWO_STEPS)
    build(tmp_path)
    write_plan(tmp_path, 'from stepup.core.api import step\nstep("echo a > a.txt", out="a.txt")\n')
    result = build(tmp_path)
    assert without_plan_success(lines(result.stdout)) == [
        *HEADER_LOADED,
        "     START │ ./plan.py",
        "      SKIP │ echo a > a.txt",
        "     CLEAN │ sub/b.txt",
        "     CLEAN │ sub/",
        *FOOTER,
    ]
    assert not (tmp_path / "sub").exists()
    assert (tmp_path / "a.txt").read_text() == "a\n"
    graph_keys = run_graph_keys(tmp_path)
    assert "step:echo b > sub/b.txt" not in graph_keys


def run_graph_keys(folder: Path) -> set[str]:
    from stepup_trio.plugins import load_plugins
    from stepup_trio.store import load_workflow

    workflow = load_workflow(str(folder / ".stepup/workflow.mpk.xz"), load_plugins().kinds)
    return {node.key for node in workflow.graph}


def test_output_edited_by_user_survives_cleanup(tmp_path):
    write_plan(tmp_path, TWO_STEPS)
    build(tmp_path)
    (tmp_path / "sub/b.txt").write_text("precious edits\n")
    write_plan(tmp_path, 'from stepup.core.api import step\nstep("echo a > a.txt", out="a.txt")\n')
    result = build(tmp_path)
    assert "CLEAN │ sub/b.txt" not in actions(result)
    assert (tmp_path / "sub/b.txt").read_text() == "precious edits\n"
    # The directory is not empty: it stays too.
    assert "CLEAN" not in result.stdout


def test_no_cleanup_after_failure(tmp_path):
    write_plan(tmp_path, TWO_STEPS)
    build(tmp_path)
    write_plan(tmp_path, 'from stepup.core.api import step\nstep("false")\n')
    result = run_stepup(tmp_path)
    assert result.returncode == 2
    assert "   WARNING │ Skipping cleanup due to incomplete build." in result.stdout
    assert (tmp_path / "sub/b.txt").exists()


def test_static_files_are_never_cleaned(tmp_path):
    (tmp_path / "data.txt").write_text("data\n")
    write_plan(tmp_path, 'from stepup.core.api import static\nstatic("data.txt")\n')
    build(tmp_path)
    write_plan(tmp_path, "")
    result = build(tmp_path)
    assert "CLEAN" not in result.stdout
    assert (tmp_path / "data.txt").read_text() == "data\n"


# The dump


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: b"", id="empty"),
        pytest.param(lambda data: data[: len(data) // 2], id="truncated"),
        pytest.param(lambda data: os.urandom(len(data)), id="random"),
        pytest.param(lambda data: b"\xfd7zXZ\x00 not really", id="fake-xz"),
    ],
)
def test_corrupt_dump(copy_project, damage):
    dump = copy_project / ".stepup/workflow.mpk.xz"
    data = damage(dump.read_bytes())
    dump.write_bytes(data)
    result = build(copy_project, MYVAR="a")
    out = lines(result.stdout)
    assert out[1] == "  WORKFLOW │ Exception while loading workflow .stepup/workflow.mpk.xz."
    assert rule("Starting from scratch", 80) in out
    assert "It was moved to .stepup/workflow-bug.mpk.xz, so you can inspect it." in out
    assert (copy_project / ".stepup/workflow-bug.mpk.xz").read_bytes() == data
    assert "Traceback" not in result.stdout + result.stderr
    # A fresh start: everything runs, and the outputs are still there afterwards.
    assert "START │ cp inp.txt out.txt" in actions(result)
    assert (copy_project / "final.txt").read_text() == "version 1\na\n"
    # The next run is incremental again.
    assert actions(build(copy_project, MYVAR="a")) == SKIP_ALL


# Explaining reruns

EXPLAIN_PLAN = """
    from stepup.core.api import step, static
    static("a.txt")
    step("cat a.txt > b.txt; echo $MYVAR >> b.txt", inp="a.txt", out="b.txt", env="MYVAR")
"""


def mask_digests(text: str) -> str:
    return re.sub(r"\b[0-9a-f]{8}\b", "XXXXXXXX", text)


def test_explain_rerun(tmp_path):
    (tmp_path / "a.txt").write_text("hello\n")
    (tmp_path / "a.txt").chmod(0o644)
    write_plan(tmp_path, EXPLAIN_PLAN)
    build(tmp_path, "-n", "-w1", "-e", MYVAR="1")
    (tmp_path / "a.txt").write_text("hello world\n")
    (tmp_path / "a.txt").chmod(0o600)
    result = build(tmp_path, "-n", "-w1", "-e", MYVAR="2")
    assert mask_digests(mask_socket_lines(result.stdout)) == mask_digests(
        "\n".join(
            [
                "  DIRECTOR │ Listening on /tmp/stepup-XXXXXXXX/director",
                "  WORKFLOW │ Loaded from .stepup/workflow.mpk.xz",
                "  DIRECTOR │ Launched worker 0",
                "     PHASE │ run",
                "      SKIP │ ./plan.py",
                "───────────────────────────── No changes observed ──────────────────────────────",
                "Same step hash       extended, digest 3f20c469, inp_digset 3f20c469",
                "Same inp hash        ./",
                "Same inp hash        plan.py",
                "────────────────────────────────────────────────────────────────────────────────",
                "    NOSKIP │ cat a.txt > b.txt; echo $MYVAR >> b.txt",
                "──────────────────────────── Changes causing rerun ─────────────────────────────",
                "Modified step hash   extended, digest d3203d66 ➜ 606971ac, "
                "inp_digset 62b74148 ➜ 35e17277",
                "Modified inp hash    a.txt (digest f60ce482 ➜ fec91c70, size 6 ➜ 12, "
                "mode -rw-r--r-- ➜ -rw-------)",
                "Modified env var     MYVAR ='1' ➜ ='2'",
                "────────────────────────────── Remained the same ───────────────────────────────",
                "Same inp hash        ./",
                "Same out hash        b.txt",
                "────────────────────────────────────────────────────────────────────────────────",
                "     START │ cat a.txt > b.txt; echo $MYVAR >> b.txt",
                "   SUCCESS │ cat a.txt > b.txt; echo $MYVAR >> b.txt",
                "  WORKFLOW │ Dumped to .stepup/workflow.mpk.xz",
                "  DIRECTOR │ Stopping workers.",
                "  DIRECTOR │ See you!",
                "",
            ]
        )
    )


def test_explain_missing_output(tmp_path):
    (tmp_path / "a.txt").write_text("hello\n")
    write_plan(tmp_path, EXPLAIN_PLAN)
    build(tmp_path, "-n", "-w1", "-e", MYVAR="1")
    (tmp_path / "b.txt").unlink()
    out = lines(build(tmp_path, "-n", "-w1", "-e", MYVAR="1").stdout)
    start = out.index("    NOSKIP │ cat a.txt > b.txt; echo $MYVAR >> b.txt")
    assert out[start + 1 : start + 3] == [
        "───────────────────────────── Missing output files ─────────────────────────────",
        "b.txt",
    ]


def test_without_explain_no_boxes(copy_project):
    (copy_project / "inp.txt").write_text("version 2\n")
    result = build(copy_project, MYVAR="a")
    assert "NOSKIP" not in result.stdout
    assert "No changes observed" not in result.stdout


def mask_socket_lines(text: str) -> str:
    return "\n".join(lines(text))
